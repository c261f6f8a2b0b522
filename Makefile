# confidential.azure: developer and CI entry points.  Every target installs what
# it needs itself (tests/tools/run.sh does the work; see docs/dev/testing.md).
SHELL := /bin/bash
RUN := tests/tools/run.sh

.PHONY: help venv demo test sanity units lint build-check functional compat summary clean bench

help:
	@echo "make test        all stages below; closing line 'N passed, N failed'"
	@echo "make sanity      ansible-test sanity on ansible-core 2.19 (py3.11) and the newest core (py3.13)"
	@echo "make units       ansible-test units (tests/unit)"
	@echo "make lint        ansible-lint (production), antsibull-docs, antsibull-changelog"
	@echo "make build-check galaxy build + install, ansible-doc of every plugin and role"
	@echo "make functional  pytest tests/functional (simulator, SDK fidelity, modules, guest)"
	@echo "make compat      lowest supported Azure SDKs: pytest -m sdk_range + tests/unit"
	@echo "make venv        create/refresh .venv, .venv-core-latest (idempotent)"
	@echo "make demo        end-to-end rollout on the local simulator"
	@echo "make bench       benchmarks (tests/bench/run.py): tests/output/bench/report.json + report.md"

venv:
	@$(RUN) venv

test:
	@$(RUN) test

sanity units lint build-check functional compat summary demo bench:
	@$(RUN) $@

clean:
	rm -rf .build tests/output
