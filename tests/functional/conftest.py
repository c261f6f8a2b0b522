"""Shared fixtures for the functional suites: the local Azure simulator.

``simulator`` (session) starts ``tests/simulator/run`` once; ``fresh_simulator`` (function) is the same process
reset to an empty state (faults, delays and the Orchestrator principal restored) before the test."""
from __future__ import annotations

import pytest

from simctl import start_simulator, stop_simulator


def pytest_configure(config):
    config.addinivalue_line("markers", "sdk_range: SDK fidelity test, also run in the low-end SDK venv")
    config.addinivalue_line("markers", "azure_cli: needs the Azure CLI venv (slow to build the first time)")


@pytest.fixture(scope="session")
def simulator(tmp_path_factory):
    sim = start_simulator(str(tmp_path_factory.mktemp("azsim")))
    yield sim
    stop_simulator(sim)


@pytest.fixture
def fresh_simulator(simulator):
    simulator.reset()
    yield simulator
    simulator.clear_faults()
