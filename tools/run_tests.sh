#!/usr/bin/env bash
# The whole test run: core suite without QGIS, then the QGIS suite headless, then the
# whole journeys (CLI and Processing on one store of combined real data, with QGIS).
# pytest's exit 5 ("no tests collected") is a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export QT_QPA_PLATFORM=offscreen
status=0
run() {
  "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "FAILED: no tests collected by: $*"; rc=1; fi
  [ $rc -ne 0 ] && status=1
  return 0
}
echo "== core suite (no QGIS) =="
run $PY -m pytest -p no:pytest_qgis tests/core
echo "== QGIS suite (headless) =="
rm -rf .qgis-settings  # a fresh QGIS profile (settings, auth database) every run
run $PY -m pytest tests/qgis
echo "== whole journeys (CLI, Processing, qgis_process) =="
run $PY -m pytest tests/workflows
exit $status
