"""Installing the missing optional packages with pip (core, no QGIS): the list, where
QGIS's Python is, the command shown to the user, and real pip runs into a folder of
the plugin's own from a fresh venv that lacks the package (no internet needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pip_fixtures import (
    FAKE_NAME,
    FAKE_REQUIREMENT,
    FAKE_VALUE,
    build_wheel,
    closed_port,
    imports_in,
    make_venv,
    pip_env,
    process_alive,
    silent_server,
)

from ev_chargepoints.core import optional
from ev_chargepoints.core.optional import (
    BY_NAME,
    PACKAGES,
    InstallPlan,
    OptionalPackage,
    PackageInstallError,
    install_plan,
    packages_folder,
    python_candidates,
    run_pip,
    use_packages_folder,
)
from ev_chargepoints.core.progress import Cancelled, Progress

ROOT = Path(__file__).resolve().parents[2]
FAKE = OptionalPackage(FAKE_NAME, FAKE_REQUIREMENT, "the tests", optional.GROUP_OTHER)


def test_every_package_is_pinned_as_in_requirements_runtime():
    runtime = {line.strip() for line in (ROOT / "requirements" / "runtime.txt")
               .read_text(encoding="utf-8").splitlines()}
    assert {p.requirement for p in PACKAGES} <= runtime
    assert [p.name for p in PACKAGES[:3]] == ["pandas", "duckdb", "pyogrio"]
    assert BY_NAME["duckdb"].requirement == "duckdb==2.0.1"


def test_the_package_folder_is_the_plugins_own_in_the_profile(tmp_path):
    profile = tmp_path / "profiles" / "default"
    assert packages_folder(profile) == profile / "python" / "ev_chargepoints-packages"
    assert not use_packages_folder(packages_folder(profile))  # not there yet
    assert str(packages_folder(profile)) not in sys.path


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def test_qgis_python_is_found_beside_qgis_on_windows_and_macos(tmp_path):
    # OSGeo4W: sys.executable is qgis-bin.exe, the interpreter is in apps/Python312
    osgeo = tmp_path / "OSGeo4W"
    candidates = python_candidates(str(osgeo / "bin" / "qgis-bin.exe"),
                                   str(osgeo / "apps" / "Python312"), True, (3, 12))
    assert candidates[0] == osgeo / "apps" / "Python312" / "python.exe"
    # macOS: QGIS.app/Contents/MacOS/QGIS, the interpreter in Contents/MacOS/bin
    app = tmp_path / "QGIS.app" / "Contents"
    real = _touch(app / "MacOS" / "bin" / "python3.12")
    candidates = python_candidates(str(app / "MacOS" / "QGIS"),
                                   str(app / "Frameworks"), False, (3, 12))
    assert real in candidates
    assert [c for c in candidates if c.is_file()] == [real]
    # Linux: sys.executable is the interpreter itself
    assert python_candidates("/usr/bin/python3", "/usr", False, (3, 11))[0] == \
        Path("/usr/bin/python3")
    assert optional.find_python() is not None


def test_the_command_is_quoted_for_each_platform(tmp_path):
    folder = "C:\\Users\\Ann Lee\\AppData\\Roaming\\QGIS\\QGIS3\\profiles\\default\\python" \
             "\\ev_chargepoints-packages"
    plan = InstallPlan("C:\\OSGeo4W\\apps\\Python312\\python.exe", Path(folder),
                       [BY_NAME["duckdb"]], python_version="3.12", windows=True)
    assert plan.command_text() == (
        'C:\\OSGeo4W\\apps\\Python312\\python.exe -m pip install --upgrade --target '
        f'"{folder}" --only-binary=:all: --python-version 3.12 duckdb==2.0.1')
    assert "OSGeo4W Shell" in plan.run_by_hand()
    assert "--no-input" in plan.arguments() and "--no-input" not in plan.command_text()
    mac = InstallPlan("/Applications/QGIS.app/Contents/MacOS/bin/python3",
                      Path("/Users/ann/Library/Application Support/QGIS/QGIS3/profiles/"
                           "default/python/ev_chargepoints-packages"),
                      [BY_NAME["pandas"], BY_NAME["pyogrio"]], python_version="3.12",
                      windows=False, macos=True)
    assert mac.command_text().endswith(
        "--target '/Users/ann/Library/Application Support/QGIS/QGIS3/profiles/default/python/"
        "ev_chargepoints-packages' --only-binary=:all: --python-version 3.12 "
        "'pandas>=1.5' pyogrio==0.13.0")
    assert "Terminal" in mac.run_by_hand()


def test_packages_built_against_numpy_are_pinned_to_the_numpy_qgis_runs(tmp_path):
    import numpy

    plan = optional.install_plan(tmp_path, [BY_NAME["scipy"], BY_NAME["openpyxl"]])
    assert plan.requirements == ["scipy>=1.10", "openpyxl==3.1.5",
                                 f"numpy=={numpy.__version__}"]
    assert plan.command_text().endswith(f"openpyxl==3.1.5 numpy=={numpy.__version__}")
    # DuckDB and openpyxl do not depend on numpy's ABI: nothing added
    alone = optional.install_plan(tmp_path, [BY_NAME["duckdb"], BY_NAME["openpyxl"]])
    assert alone.requirements == ["duckdb==2.0.1", "openpyxl==3.1.5"]


def test_the_startup_notice_is_unchanged_by_the_list():
    assert optional.install_hint(["duckdb"]).startswith(
        "Missing Python package(s): duckdb (needed for usage history: sessions, status and "
        "utilisation).")
    assert optional.OPTIONAL == {"pandas": BY_NAME["pandas"].use}
    assert optional.DEBIAN_PACKAGES["pandas"] == "python3-pandas"
    assert "duckdb" not in optional.DEBIAN_PACKAGES  # pip only


# --- real pip ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    """A fresh venv (no system site-packages) that lacks the fake package."""
    python = make_venv(tmp_path_factory.mktemp("venv") / "venv")
    missing = subprocess.run([python, "-c", f"import {FAKE_NAME}"], capture_output=True)
    assert missing.returncode != 0
    return python


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder)
    return folder


def _plan(python, target, *index_options, retries=1, timeout=5):
    return InstallPlan(python, target, [FAKE], index_options=list(index_options),
                       retries=retries, timeout=timeout)


def test_pip_installs_the_missing_package_into_the_folder(venv_python, wheels, tmp_path):
    target = packages_folder(tmp_path / "profile")
    seen, reports = [], []
    plan = _plan(venv_python, target, "--no-index", "--find-links", str(wheels))
    outcome = run_pip(plan, Progress(lambda p, m: reports.append((p, m))),
                      on_line=seen.append, env=pip_env())
    assert outcome.installed == [FAKE_REQUIREMENT] and outcome.target == target
    assert (target / FAKE_NAME / "__init__.py").is_file()
    assert any(line.startswith("Successfully installed evcp-fake-pkg-1.0") for line in seen)
    assert seen == outcome.output
    assert reports[-1][0] == 100 and [p for p, _ in reports] == sorted(p for p, _ in reports)
    # importable in the venv's python and in this one once the folder is on sys.path
    assert imports_in(venv_python, target).stdout.strip() == FAKE_VALUE
    assert optional._absent(FAKE_NAME)
    try:
        assert use_packages_folder(target)
        assert not optional._absent(FAKE_NAME)
        assert __import__(FAKE_NAME).VALUE == FAKE_VALUE
    finally:
        sys.path.remove(str(target))
        sys.modules.pop(FAKE_NAME, None)
    # a second run replaces it (--upgrade), no "target directory already exists" refusal
    again = run_pip(plan, Progress(), env=pip_env())
    assert again.installed == [FAKE_REQUIREMENT]


def test_an_unreachable_index_says_so_with_the_command(venv_python, tmp_path):
    target = tmp_path / "packages"
    plan = _plan(venv_python, target, "--index-url", f"http://127.0.0.1:{closed_port()}/simple")
    with pytest.raises(PackageInstallError) as raised:
        run_pip(plan, Progress(), env=pip_env())
    message = raised.value.message
    assert message.startswith("pip could not reach the package index (no internet connection")
    assert message.endswith("then restart QGIS: " + plan.command_text())
    assert f"{venv_python} -m pip install --upgrade --target {target}" in message
    assert "Connection refused" in raised.value.output
    assert not (target / FAKE_NAME).exists()


def test_a_python_without_pip_says_how_to_get_pip(tmp_path):
    python = make_venv(tmp_path / "nopip", with_pip=False)
    plan = _plan(python, tmp_path / "packages")
    with pytest.raises(PackageInstallError) as raised:
        run_pip(plan, Progress(), env=pip_env())
    assert raised.value.message.startswith(f"The Python of QGIS ({python}) has no pip.")
    assert "sudo apt install python3-pip" in raised.value.message
    assert plan.command_text() in raised.value.message


def test_a_package_pip_cannot_find_names_pips_reason(venv_python, wheels, tmp_path):
    other = OptionalPackage("nothere", "evcp-not-there==9", "nothing")
    plan = InstallPlan(venv_python, tmp_path / "packages", [other],
                       index_options=["--no-index", "--find-links", str(wheels)])
    with pytest.raises(PackageInstallError) as raised:
        run_pip(plan, Progress(), env=pip_env())
    assert re.match(r"pip could not install evcp-not-there==9: ERROR: No matching "
                    r"distribution found for evcp-not-there==9 To install them by hand",
                    raised.value.message), raised.value.message


def test_cancel_kills_pip(venv_python, tmp_path):
    with silent_server() as (index, held):
        plan = _plan(venv_python, tmp_path / "packages", "--index-url", index, timeout=120)
        cancel_at, pids = [], []

        def cancelled():
            if not held:  # pip has not connected yet
                return False
            cancel_at.append(cancel_at[0] if cancel_at else time.monotonic())
            return True

        started = time.monotonic()
        with pytest.raises(Cancelled) as raised:
            run_pip(plan, Progress(is_cancelled=cancelled), env=pip_env(),
                    started=pids.append)
        assert time.monotonic() - cancel_at[0] < 10
        assert time.monotonic() - started < 100  # long before pip's own 120 s timeout
    assert raised.value.message == "Cancelled by the user: pip was stopped."
    assert pids and not process_alive(pids[0])
    assert not (tmp_path / "packages" / FAKE_NAME).exists()


def test_nothing_missing_runs_nothing(tmp_path):
    plan = install_plan(tmp_path / "packages", packages=[], python=sys.executable)
    outcome = run_pip(plan, Progress())
    assert outcome.installed == [] and outcome.pid == 0
