"""``pip install`` of the plugin folder gives the ``ev-chargepoints`` command.

A fresh venv over the system's Python (``--system-site-packages``, as the README says)
installs a copy of this checkout, with decoys where a clone keeps its own venv and demo
outputs, offline (``--no-build-isolation`` builds with the system's setuptools;
``--no-deps``: numpy and pandas are the system's, the rest are not needed for what runs
here). The command and ``python -m ev_chargepoints`` then answer from a folder outside the
checkout, and the installed files are the package and its resources only.
"""

from __future__ import annotations

import configparser
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what a clone holds that is not the plugin: never copied, or copied to prove it stays out
NOT_COPIED = (".git", ".venv", "demo-output", "build", "dist", "*.egg-info", "__pycache__",
              ".hypothesis", ".pytest_cache", ".ruff_cache", ".qgis-settings", ".benchmarks",
              ".guide-run", ".cache")
DECOYS = (".venv/lib/python3/site-packages/decoy.py", "demo-output/london.gpkg",
          "build/lib/decoy.py")
MAX_INSTALLED_BYTES = 30 * 1024 * 1024


def _version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser["general"]["version"]


def _run(*command, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, its python, a folder outside the checkout, installed files)."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "clone"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    for decoy in DECOYS:
        (source / decoy).parent.mkdir(parents=True, exist_ok=True)
        (source / decoy).write_text("not part of the plugin\n")
    venv = base / "v"
    made = _run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    backend = _run(python, "-c", "import setuptools", cwd=base)
    assert backend.returncode == 0, ("the system's setuptools builds the package offline "
                                     "(Debian: python3-setuptools)\n" + backend.stderr)
    pip = _run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
               "--no-index", "--disable-pip-version-check", source, cwd=base)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                cwd=elsewhere).stdout.strip()
    record, = Path(site).glob("ev_chargepoints-*.dist-info/RECORD")
    with record.open(newline="") as f:
        files = [row[0] for row in csv.reader(f)]
    return venv, python, elsewhere, Path(site), files


def test_the_command_answers_from_any_folder(installed):
    venv, _python, elsewhere, _site, _files = installed
    helped = _run(venv / "bin" / "ev-chargepoints", "--help", cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: ev-chargepoints ")
    for command in ("import", "fetch", "utilisation", "summary", "export", "demo"):
        assert f"    {command} " in helped.stdout
    version = _run(venv / "bin" / "ev-chargepoints", "--version", cwd=elsewhere)
    assert version.stdout.strip() == f"ev-chargepoints {_version()}", version.stderr


def test_the_module_answers_from_any_folder(installed):
    _venv, python, elsewhere, site, _files = installed
    helped = _run(python, "-m", "ev_chargepoints", "--help", cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: python -m ev_chargepoints ")
    where = _run(python, "-c", "import ev_chargepoints, sys; "
                 "from ev_chargepoints.core import paths; print(ev_chargepoints.__file__); "
                 "print(paths.RESOURCES); print(paths.plugin_version())", cwd=elsewhere)
    package, resources, version = where.stdout.split("\n")[:3]
    assert Path(package).parent == site / "ev_chargepoints"  # the installed copy, not ROOT
    assert Path(resources) == site / "ev_chargepoints" / "resources"
    assert version == _version()
    assert (Path(resources) / "data" / "london" / "london_boroughs.gpkg").is_file()


def test_only_the_package_and_its_resources_are_installed(installed):
    _venv, _python, _elsewhere, site, files = installed
    tops = {name.split("/")[0] for name in files if not name.startswith("../")}
    assert tops == {"ev_chargepoints", f"ev_chargepoints-{_version()}.dist-info"}, tops
    scripts = [name for name in files if name.startswith("../")]  # into the venv's bin/
    assert [Path(name).name for name in scripts] == ["ev-chargepoints"], scripts
    for decoy in ("decoy.py", "london.gpkg"):
        assert not [name for name in files if name.endswith(decoy)]
    assert not [name for name in files if name.startswith(("ev_chargepoints/tests",
                                                           "tests/", ".venv", "demo-output"))]
    shipped = {name for name in files if name.startswith("ev_chargepoints/")}
    package = {f"ev_chargepoints/{p.relative_to(ROOT / 'ev_chargepoints').as_posix()}"
               for p in (ROOT / "ev_chargepoints").rglob("*.py")
               if "__pycache__" not in p.parts}
    resources = {f"ev_chargepoints/resources/{p.relative_to(ROOT / 'resources').as_posix()}"
                 for p in (ROOT / "resources").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert package - shipped == set() and resources - shipped == set()
    size = sum((site / name).stat().st_size for name in shipped if (site / name).is_file())
    assert size < MAX_INSTALLED_BYTES
