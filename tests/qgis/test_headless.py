"""The one start-up of QGIS for headless front doors (ev_chargepoints.qgis.headless): the
CLI's committee export, the demo, the benchmarks and test scripts all start QGIS the
same way (offscreen without a display, at QGIS_PREFIX_PATH when set), a command's QGIS
ends with the command, and a running QGIS is reused, never ended."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer

from ev_chargepoints.qgis.headless import headless_qgis

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(r'''
    import sys

    sys.path.insert(0, sys.argv[1])
    from qgis.core import QgsApplication, QgsProviderRegistry

    from ev_chargepoints.qgis import headless

    def started():
        providers = QgsProviderRegistry.instance().providerList()
        print(QgsApplication.prefixPath(), "ogr" in providers)

    if sys.argv[2] == "ensure":
        app = headless.ensure_qgis()                    # a GUI application
        assert headless.ensure_qgis() is app            # once per process
        started()
    else:
        with headless.headless_qgis() as app:
            started()
        print("ended", QgsApplication.instance() is app)
''')


def _run(mode: str, **env) -> list[str]:
    """The script in a process without a display (nor a Qt platform chosen)."""
    bare = {k: v for k, v in os.environ.items()
            if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), mode],
                          capture_output=True, text=True, timeout=120, env={**bare, **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


def test_both_start_ups_honour_the_qgis_prefix_path(tmp_path, qgis_app):
    prefix = tmp_path / "qgis-prefix"
    prefix.symlink_to(QgsApplication.prefixPath())       # the installed QGIS, elsewhere
    # no display: a GUI application starts only because the start-up goes offscreen
    assert _run("ensure", QGIS_PREFIX_PATH=str(prefix)) == [str(prefix), "True"]
    assert _run("command", QGIS_PREFIX_PATH=str(prefix)) == [str(prefix), "True", "ended",
                                                            "True"]


def test_a_running_qgis_is_reused_and_left_running(qgis_app):
    running = QgsApplication.instance()
    with headless_qgis() as app:
        assert app is running
    assert QgsApplication.instance() is running
    layer = QgsVectorLayer("Point?crs=EPSG:27700", "after the command", "memory")
    assert layer.isValid() and QgsProject.instance().addMapLayer(layer, False) is layer
    QgsProject.instance().removeMapLayer(layer)


def test_without_qgis_bindings_the_command_says_so_in_one_line():
    script = textwrap.dedent(r'''
        import sys

        sys.path.insert(0, sys.argv[1])
        sys.modules["qgis"] = None                      # as if python3-qgis were missing
        from ev_chargepoints.core.errors import EvChargepointsError
        from ev_chargepoints.qgis.headless import headless_qgis

        try:
            with headless_qgis("Exporting committee maps"):
                pass
        except EvChargepointsError as exc:
            print(exc.message)
    ''')
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Exporting committee maps needs QGIS's Python bindings (python3-qgis); they could "
        "not be imported:")
