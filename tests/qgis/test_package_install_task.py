""""Install missing packages…" in QGIS: pip runs in a QgsTask (its lines streamed to the
main thread, cancel kills pip) from the confirmation dialog, into the profile's package
folder, with a real venv that lacks the package and a wheel built here (no internet)."""

from __future__ import annotations

import sys
import time

import pytest
from event_wait import wait_for
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
from qgis.core import QgsApplication

from ev_chargepoints.core.optional import BY_NAME, PACKAGES_FOLDER, OptionalPackage
from ev_chargepoints.gui.package_dialog import PackageInstallDialog
from ev_chargepoints.qgis import package_install

FAKE = OptionalPackage(FAKE_NAME, FAKE_REQUIREMENT, "the tests")


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    return make_venv(tmp_path_factory.mktemp("venv") / "venv")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder)
    return folder


@pytest.fixture()
def clean_path():
    before = list(sys.path)
    yield
    sys.path[:] = before
    sys.modules.pop(FAKE_NAME, None)


def _plan(python, target, *index_options, timeout=5):
    plan = package_install.install_plan([FAKE], python=python)
    plan.target, plan.index_options, plan.retries, plan.timeout = \
        target, list(index_options), 1, timeout
    return plan


def test_the_folder_is_in_the_qgis_profile(qgis_app):
    folder = package_install.packages_folder()
    assert folder.name == PACKAGES_FOLDER and folder.parent.name == "python"
    assert str(folder.parent.parent) == QgsApplication.qgisSettingsDirPath().rstrip("/")
    plan = package_install.install_plan([BY_NAME["duckdb"]])
    assert plan.target == folder and plan.requirements == ["duckdb==2.0.1"]


def test_the_task_installs_streams_pips_lines_and_puts_the_folder_on_sys_path(
        qgis_app, venv_python, wheels, tmp_path, clean_path):
    target = tmp_path / "profile" / "python" / PACKAGES_FOLDER
    plan = _plan(venv_python, target, "--no-index", "--find-links", str(wheels))
    lines, outcome, progress = [], {}, []
    task = package_install.start_install(
        plan, on_line=lines.append, on_done=lambda o: outcome.setdefault("done", o),
        on_error=lambda m: outcome.setdefault("error", m), env=pip_env())
    task.progressChanged.connect(progress.append)
    wait_for(lambda: outcome, "the pip task's end", 300)
    assert "done" in outcome, outcome
    assert outcome["done"].installed == [FAKE_REQUIREMENT]
    assert any(line.startswith("Successfully installed evcp-fake-pkg-1.0") for line in lines)
    assert lines == outcome["done"].output  # every line reached the main thread
    assert progress and max(progress) == 100
    assert str(target) == sys.path[-1]
    assert __import__(FAKE_NAME).VALUE == FAKE_VALUE  # importable now, no restart
    assert imports_in(venv_python, target).stdout.strip() == FAKE_VALUE


def test_an_unreachable_index_fails_with_the_command_to_run(qgis_app, venv_python,
                                                            tmp_path):
    plan = _plan(venv_python, tmp_path / "packages", "--index-url",
                 f"http://127.0.0.1:{closed_port()}/simple")
    outcome = {}
    package_install.start_install(plan, on_done=lambda o: outcome.setdefault("done", o),
                                  on_error=lambda m: outcome.setdefault("error", m),
                                  env=pip_env())
    wait_for(lambda: outcome, "the pip task's end", 300)
    message = outcome["error"]
    assert message.startswith("pip could not reach the package index"), message
    assert message.endswith("then restart QGIS: " + plan.command_text())


def test_cancel_kills_pip(qgis_app, venv_python, tmp_path):
    outcome = {}
    with silent_server() as (index, held):
        plan = _plan(venv_python, tmp_path / "packages", "--index-url", index, timeout=120)
        task = package_install.start_install(
            plan, on_done=lambda o: outcome.setdefault("done", o),
            on_error=lambda m: outcome.setdefault("error", m), env=pip_env())
        wait_for(lambda: held, "pip connecting to the index", 120)
        pid = task.pid
        assert pid and process_alive(pid)
        cancelled_at = time.monotonic()
        task.cancel()
        wait_for(lambda: outcome, "the cancelled task's end", 30)
        ended = time.monotonic() - cancelled_at
    assert outcome == {"error": "Cancelled by the user: pip was stopped."}
    assert ended < 5, f"cancel took {ended:.1f} s"
    assert not process_alive(pid)
    assert task.was_cancelled


def test_the_dialog_lists_what_and_where_installs_and_says_restart(
        qgis_app, venv_python, wheels, tmp_path, clean_path):
    target = tmp_path / "profile" / "python" / PACKAGES_FOLDER
    plan = _plan(venv_python, target, "--no-index", "--find-links", str(wheels))
    installed = []
    dialog = PackageInstallDialog(plan, env=pip_env(), on_installed=installed.append)
    try:
        assert dialog.packages.text() == f"• {FAKE_REQUIREMENT}: the tests"
        assert f"Folder: {target}" in dialog.where.text()
        assert f"Python: {venv_python}" in dialog.where.text()
        assert plan.command_text() in dialog.where.text()
        assert not target.exists(), "nothing runs before the user confirms"
        dialog.install_button.click()
        assert not dialog.install_button.isEnabled() and dialog.cancel_button.isEnabled()
        wait_for(lambda: dialog.outcome or dialog.last_error, "the install's end", 300)
        assert dialog.last_error is None, dialog.last_error
        assert "Successfully installed evcp-fake-pkg-1.0" in dialog.output.toPlainText()
        assert dialog.status.text().startswith(f"Installed {FAKE_REQUIREMENT} into {target}.")
        assert "Restart QGIS" in dialog.status.text()
        assert [o.installed for o in installed] == [[FAKE_REQUIREMENT]]
        assert not dialog.cancel_button.isEnabled() and dialog.progress.value() == 100
        assert (target / FAKE_NAME / "__init__.py").is_file()
    finally:
        dialog.close()
        dialog.deleteLater()


def test_the_dialog_shows_the_failure_and_offers_to_try_again(qgis_app, venv_python,
                                                              tmp_path):
    plan = _plan(venv_python, tmp_path / "packages", "--index-url",
                 f"http://127.0.0.1:{closed_port()}/simple")
    dialog = PackageInstallDialog(plan, env=pip_env())
    try:
        dialog.install_button.click()
        wait_for(lambda: dialog.outcome or dialog.last_error, "the install's end", 300)
        assert dialog.outcome is None
        assert dialog.status.text() == dialog.last_error
        assert dialog.last_error.startswith("pip could not reach the package index")
        assert plan.command_text() in dialog.status.text()
        assert dialog.install_button.isEnabled()
        assert dialog.install_button.text() == "Try again"
    finally:
        dialog.close()
        dialog.deleteLater()


def test_closing_the_dialog_stops_pip(qgis_app, venv_python, tmp_path):
    with silent_server() as (index, held):
        plan = _plan(venv_python, tmp_path / "packages", "--index-url", index, timeout=120)
        dialog = PackageInstallDialog(plan, env=pip_env())
        dialog.install_button.click()
        task = dialog.task
        wait_for(lambda: held and task.pid, "pip connecting to the index", 120)
        pid = task.pid
        dialog.reject()
        wait_for(lambda: dialog.last_error, "the cancelled install's end", 30)
        dialog.deleteLater()
    assert dialog.last_error == "Cancelled by the user: pip was stopped."
    assert not process_alive(pid)


def test_the_notice_lives_on_qgis_message_bar_until_unload(qgis_iface, plugin_package):
    """On QGIS's own message bar the notice keeps its button (the bar owns both) and the
    plugin's unload takes it away."""
    import gc

    from qgis.core import Qgis
    from qgis.PyQt import sip
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    bar = qgis_iface.messageBar()
    plugin = plugin_package.classFactory(qgis_iface)
    plugin.initGui()
    try:
        plugin._push_notice("Missing Python package(s): test.", Qgis.MessageLevel.Warning)
        item = plugin.notice_item
        gc.collect()
        QCoreApplication.processEvents()
        assert bar.currentItem() is item and item.text() == "Missing Python package(s): test."
        assert item.widget().text() == "Install missing packages…"
        assert item.widget().objectName() == "EvChargepointsInstallPackages"
    finally:
        plugin.unload()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    assert sip.isdeleted(item) and plugin.notice_item is None
