"""azsim - a local Azure simulator for the confidential.azure collection's tests.

Start it with ``python tests/simulator/run``; see docs/user/simulator.md."""
