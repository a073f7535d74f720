# Liaison: `make station` runs the whole system on the embedded servers, `make test` runs every test.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
SECANTUSD := var/secantus/bin/secantusd-py
RUN := $(UV) run --frozen

.PHONY: station test bench lint docs token rotate-pii-key sync

station: sync $(SECANTUSD)
	$(RUN) liaison-station

test: sync $(SECANTUSD)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) pytest

bench: sync $(SECANTUSD)
	$(RUN) python -m bench

lint: sync
	$(RUN) ruff check .
	$(RUN) mypy

docs: sync
	$(RUN) liaison-asyncapi > docs/asyncapi.json

# make token ROLE=station_staff STATION=st-shengli [DISTRICT=d-yufeng]
token: sync
	@$(RUN) liaison-token --role $(or $(ROLE),admin) $(if $(STATION),--station $(STATION)) $(if $(DISTRICT),--district $(DISTRICT))

# A new key version for personal data at rest; restart the services and records re-encrypts.
rotate-pii-key: sync
	$(RUN) liaison-keys var/keys --rotate-pii

sync: $(UV)
	$(UV) sync --frozen --quiet

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# SecantusDB (GPL-2.0-only) lives in its own pinned environment and runs only as a process.
$(SECANTUSD): deploy/station/secantusdb.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python 3.11 var/secantus
	$(UV) pip install --quiet --python var/secantus/bin/python --require-hashes -r deploy/station/secantusdb.txt
	touch $(SECANTUSD)
