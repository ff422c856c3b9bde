# ev_chargepoints — every target works from a fresh clone, in any folder.
#   make demo   set everything up, run the main job on the bundled London snapshot (offline)
#   make test   set everything up, run the core suite (no QGIS) and the QGIS suite headless
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
SYSTEM_PYTHON := /usr/bin/python3
VERSION := $(shell sed -n 's/^version=//p' $(ROOT)/metadata.txt)
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
LOCALES := cy

export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup system-packages test test-core test-qgis lint demo demo-gui guide bench \
        bench-quick deploy package transup transcompile clean

help:
	@echo "make demo    run the main job on the bundled London snapshot (writes demo-output/)"
	@echo "make test    install everything needed and run all tests"
	@echo "make lint | bench | bench-quick | deploy | package | transup | transcompile | clean"
	@echo "make guide   regenerate the user guide's screenshots in real QGIS under Xvfb"

# Debian packages by release: QGIS LTR from backports (3.40 on Debian 12, 3.44 on Debian 13),
# numpy/pandas/psycopg2 from Debian, PostgreSQL + PostGIS of the release.
system-packages:
	@bash $(ROOT)/tools/setup_system.sh

$(VENV)/.installed: requirements/runtime.txt requirements/dev.txt pyproject.toml setup.py | system-packages
	test -x $(PY) || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e $(ROOT)
	touch $@

setup: system-packages $(VENV)/.installed

test: setup transcompile
	bash tools/run_tests.sh

test-core: setup
	$(PY) -m pytest -p no:pytest_qgis tests/core

test-qgis: setup transcompile
	$(PY) -m pytest tests/qgis

lint: setup
	$(VENV)/bin/ruff check .

demo: setup
	$(PY) -m ev_chargepoints demo --out $(ROOT)/demo-output

guide: setup
	rm -rf $(ROOT)/.guide-run && mkdir -p $(ROOT)/docs/images/guide
	$(SYSTEM_PYTHON) tools/desktop_run.py --out $(ROOT)/.guide-run
	cp $(ROOT)/.guide-run/*.png $(ROOT)/docs/images/guide/
	rm -rf $(ROOT)/.guide-run

demo-gui: setup
	@test -n "$$DISPLAY" || { echo "make demo-gui needs a display (try: xvfb-run -a make demo-gui)"; exit 2; }
	QT_QPA_PLATFORM=xcb $(PY) tools/desktop_run.py --show

$(VENV)/.bench-installed: requirements/bench.txt $(VENV)/.installed
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/bench.txt
	touch $@

bench: setup $(VENV)/.bench-installed
	$(PY) -m bench

bench-quick: setup $(VENV)/.bench-installed
	$(PY) -m bench --quick

deploy:
	mkdir -p $(QGIS_PROFILE)/python/plugins
	ln -sfn $(ROOT) $(QGIS_PROFILE)/python/plugins/ev_chargepoints
	@echo "Linked $(ROOT) as $(QGIS_PROFILE)/python/plugins/ev_chargepoints"

package: transcompile
	$(SYSTEM_PYTHON) tools/package.py --out $(ROOT)/dist

transup:
	pylupdate5 -noobsolete $$(find ev_chargepoints -name '*.py' -o -name '*.ui' | sort | tr '\n' ' ') \
	  -ts $(foreach l,$(LOCALES),i18n/ev_chargepoints_$(l).ts)

transcompile: system-packages
	@for ts in i18n/*.ts; do [ -e "$$ts" ] || continue; \
	  lrelease -silent "$$ts" -qm "$${ts%.ts}.qm"; done

clean:
	rm -rf $(VENV) dist demo-output .qgis-settings .pytest_cache .ruff_cache .hypothesis i18n/*.qm
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Reliability suites (faults, hostile input, store durability) → docs/reliability.md
RELIABILITY_RESULTS ?= $(or $(TMPDIR),/tmp)/ev_chargepoints-reliability-results.json
.PHONY: reliability-doc
reliability-doc: setup
	rm -f $(RELIABILITY_RESULTS)
	EVCP_RELIABILITY_RESULTS=$(RELIABILITY_RESULTS) $(PY) -m pytest -p no:pytest_qgis -q \
	  tests/core/test_reliability_faults.py tests/core/test_reliability_hostile.py \
	  tests/core/test_reliability_store.py tests/core/test_reliability_expressions.py; \
	status=$$?; \
	$(PY) tools/reliability_report.py $(RELIABILITY_RESULTS) --out $(ROOT)/docs/reliability.md \
	  && exit $$status

# The style files of the plugin's layers (resources/styles/*.qml), written by its own
# renderer code in QGIS; a test checks the committed files are what this writes.
.PHONY: styles
styles: setup
	$(PY) tools/make_styles.py
