# scanboard: `make run` starts the portal and its REST API on the embedded default; `make test` runs the whole suite.
# Both set up everything they need on a fresh machine (a virtualenv; for tests also Debian packages when root).

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | md5sum | cut -c1-12)
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt 2>/dev/null | md5sum | cut -c1-12)
# Debian packages the tests use: nmap (port scans), chromium (browser test), poppler-utils (PDF checks),
# postgresql (the production database path).
TEST_DEBS ?= nmap chromium poppler-utils postgresql
PORT ?= 8501
API_PORT ?= 8502
ADDRESS ?= 127.0.0.1
PYTEST_ARGS ?=

.PHONY: run serve test test-fast system-deps bench screenshots clean

$(STAMP): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements-checkov.txt
	rm -f $(CHECKOV_VENV)/.installed-*
	touch $@

system-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "Install these Debian packages first: sudo apt-get install$$missing"; exit 1; fi

run: $(STAMP)
	@$(MAKE) --no-print-directory serve

# The portal on $(PORT) and the API on $(API_PORT) (http://$(ADDRESS):$(API_PORT)/api/v1); Ctrl-C stops both.
# The API runs in the background: the trap stops it when the portal ends, however it ends.
serve:
	@$(VENV)/bin/uvicorn api.app:create_app --factory --host $(ADDRESS) --port $(API_PORT) --no-server-header & \
	api=$$!; trap 'kill $$api 2>/dev/null; wait $$api 2>/dev/null' EXIT INT TERM; \
	echo "API: http://$(ADDRESS):$(API_PORT)/api/v1 (docs: /api/v1/docs)"; \
	$(VENV)/bin/streamlit run app.py --server.headless=true --server.address=$(ADDRESS) --server.port=$(PORT) \
	  --browser.gatherUsageStats=false

test: $(STAMP) $(CHECKOV_STAMP) system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: TEST_DEBS += wrk  # bench/api.py's 200 concurrent readers
bench: $(STAMP) system-deps
	for b in lifecycle portscan dag history cluster argo_sync report api; do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

# A PNG of each page of a freshly seeded portal (one real scan of a local target) in docs/screenshots/.
screenshots: $(STAMP) system-deps
	$(PY) -m tests.screenshots docs/screenshots

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache test-artifacts
