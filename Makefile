# The README's two commands are `make run` and `make test`; both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# checkov pins packaging<24, which pytest and pip-tools refuse: it gets a virtualenv of its own.
CHECKOV_VENV := $(VENV)/checkov

.PHONY: run test lint bench install infra-up infra-down infra-status lock audit clean

$(INSTALLED): requirements.lock requirements-checkov.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "qunping needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV) || { echo "On Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  -r requirements-checkov.lock
	@touch $(INSTALLED)

install: $(INSTALLED)

# The browser tests drive Debian's Chromium (playwright never downloads a browser), with a
# CJK font so that the pages' Chinese renders as glyphs, not boxes (a test checks).
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
BROWSER_PACKAGES := chromium fonts-noto-cjk
$(CHROMIUM) $(CJK_FONT):
	@if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then \
	  apt-get update && apt-get install -y $(BROWSER_PACKAGES); \
	else \
	  echo "The browser tests need $@: run 'sudo apt-get install -y $(BROWSER_PACKAGES)' (Debian)"; \
	  exit 1; \
	fi

# The browser tests check every page with axe-core (WCAG 2.1 A and AA rules), pinned in
# tests/browser/package-lock.json and installed from the npm registry here, never at run time.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then apt-get update && apt-get install -y npm; \
	  else echo "The browser tests need npm: run 'sudo apt-get install -y npm' (Debian)"; exit 1; fi; }
	cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

## run: install, bring up RabbitMQ and MongoDB, run every service (Ctrl-C stops them)
run: $(INSTALLED)
	$(BIN)/qunping infra up
	$(BIN)/qunping run

## test: install, bring up RabbitMQ, then ruff, mypy, the import contract and every test
test: $(INSTALLED) $(CHROMIUM) $(CJK_FONT) $(AXE)
	$(BIN)/qunping infra up --only rabbitmq
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: every benchmark, each figure a ratio against a baseline of the same run
bench: $(INSTALLED)
	$(BIN)/qunping infra up --only rabbitmq
	$(BIN)/python -m bench.eventlog
	$(BIN)/python -m bench.services
	$(BIN)/python -m bench.audit
	$(BIN)/python -m bench.gateway

infra-up: $(INSTALLED)
	$(BIN)/qunping infra up
infra-down: $(INSTALLED)
	$(BIN)/qunping infra down
infra-status: $(INSTALLED)
	$(BIN)/qunping infra status

## lock: re-pin every dependency (after editing pyproject.toml or requirements-checkov.in);
## the image's runtime lock carries every file's hash, and the image installs with --require-hashes
PIP_COMPILE := $(BIN)/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras
lock: $(INSTALLED)
	$(PIP_COMPILE) --extra local --extra dev -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --generate-hashes --allow-unsafe -o requirements-runtime.lock pyproject.toml
	$(PIP_COMPILE) -o requirements-checkov.lock requirements-checkov.in
	$(PIP_COMPILE) --generate-hashes --allow-unsafe -o requirements-audit.lock requirements-audit.in

## audit: the image's runtime lock against known vulnerabilities (pip-audit, which asks
## PyPI's advisory data and fails if it cannot audit every package) and its SBOM
## (CycloneDX JSON, artifacts/sbom.cdx.json). Not part of `make test`: it needs the network.
AUDIT_VENV := $(VENV)/audit
SBOM := artifacts/sbom.cdx.json
$(AUDIT_VENV)/.installed: requirements-audit.lock
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
	  --require-hashes -r requirements-audit.lock
	@touch $@

audit: $(AUDIT_VENV)/.installed
	@mkdir -p artifacts
	$(AUDIT_VENV)/bin/cyclonedx-py requirements --pyproject pyproject.toml --of JSON \
	  --output-reproducible --validate -o $(SBOM) requirements-runtime.lock
	@echo "SBOM of the image's Python packages: $(SBOM)"
	@$(AUDIT_VENV)/bin/pip-audit --requirement requirements-runtime.lock --require-hashes \
	  --disable-pip --strict --progress-spinner off || { \
	  echo "make audit: FAILED. Either a package above has a known vulnerability, or a package" \
	       "could not be audited (\"could not be audited\", a connection error): pip-audit" \
	       "needs PyPI's JSON API; run it on a machine that reaches it."; \
	  exit 1; }

clean:
	rm -rf $(VENV) artifacts .mypy_cache .ruff_cache tests/browser/node_modules
