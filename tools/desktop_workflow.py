"""Runs inside real QGIS Desktop (started by tools/desktop_run.py with --code).

Drives the plugin through its own actions, takes screenshots of the main
window, records Python errors from the QGIS message log, writes a JSON result
and quits QGIS with exit status 0 (all passed) or 1.
"""

import json
import os
import traceback
from pathlib import Path

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

OUT = Path(os.environ.get("EVCP_OUT", "."))
RESULT = Path(os.environ.get("EVCP_RESULT", OUT / "desktop_result.json"))
KEEP_OPEN = os.environ.get("EVCP_KEEP_OPEN") == "1"

steps = []
python_errors = []


def on_message(message, tag, level):
    if tag == "Python error" or (level == Qgis.MessageLevel.Critical and "Traceback" in message):
        python_errors.append(f"[{tag}] {message[:2000]}")


QgsApplication.messageLog().messageReceived.connect(on_message)


def screenshot(name):
    path = OUT / f"{name}.png"
    iface.mainWindow().grab().save(str(path))
    return str(path)


def step(name, func):
    try:
        detail = func()
        steps.append({"step": name, "ok": True, "detail": detail})
    except Exception:  # noqa: BLE001 - every failure is reported in the JSON
        steps.append({"step": name, "ok": False, "detail": traceback.format_exc()})


def plugin_loaded():
    assert "ev_chargepoints" in plugins, f"plugin not loaded; loaded: {sorted(plugins)}"
    return "loaded"


def menu_present():
    web_menu = iface.webMenu()
    titles = [a.text().replace("&", "") for a in web_menu.actions()]
    assert "EV Charge Points" in titles, titles
    return titles


def provider_present():
    provider = QgsApplication.processingRegistry().providerById("evchargepoints")
    assert provider is not None, "Processing provider evchargepoints missing"
    return [a.id() for a in provider.algorithms()]


def run_all():
    step("plugin loaded", plugin_loaded)
    step("menu Web > EV Charge Points", menu_present)
    step("processing provider", provider_present)
    step("screenshot main window", lambda: screenshot("01-main-window"))
    finish()


def finish():
    ok = all(s["ok"] for s in steps) and not python_errors
    RESULT.write_text(json.dumps({"ok": ok, "steps": steps, "python_errors": python_errors},
                                 indent=2, default=str), encoding="utf-8")
    if not KEEP_OPEN:
        QgsApplication.exit(0 if ok else 1)


iface.mainWindow().resize(1600, 1000)
QTimer.singleShot(3000, run_all)
