"""The one slot guard (gui/slots.py): a slot that raises tells the user and never lets
the exception reach Qt, in a plain QObject and in the plugin's own docks and dialogs."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from qgis.core import Qgis, QgsProject, QgsSettings
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, QSettings, pyqtSignal
from qgis.PyQt.QtWidgets import QDialog
from qgis.PyQt.QtXml import QDomDocument

from ev_chargepoints.gui.conformance_dialog import ConformanceDialog
from ev_chargepoints.gui.settings_dialog import SettingsDialog
from ev_chargepoints.gui.sites_dock import KEY, SCOPE, CandidateSitesDock
from ev_chargepoints.gui.slots import describe, guarded_slot
from ev_chargepoints.gui.summary.dock import AreaSummaryDock


class FixableError(Exception):
    """What the user can put right."""


class Owner(QObject):
    """A QObject whose slots fail the ways the plugin's slots can."""

    fired = pyqtSignal(int, str)

    def __init__(self):
        super().__init__()
        self.shown: list = []
        self.calls: list = []

    def slot_failed(self, text: str) -> None:
        self.shown.append(text)

    @guarded_slot("Test owner: {slot} failed", expected=(FixableError,))
    def divide(self, number: int) -> float:  # takes one of the signal's two arguments
        self.calls.append(number)
        return 1 / number

    @guarded_slot("Test owner: {slot} failed", expected=(FixableError,))
    def refuse(self, *_args) -> None:
        raise FixableError("Choose a layer first.")


@pytest.fixture()
def excepthook(monkeypatch):
    """What reaches sys.excepthook (where PyQt sends an exception escaping a slot)."""
    escaped = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc_info: escaped.append(exc_info))
    return escaped


def test_a_raising_slot_is_logged_and_shown_not_raised(qgis_app, excepthook, caplog):
    owner = Owner()
    owner.fired.connect(owner.divide)
    with caplog.at_level(logging.ERROR):
        owner.fired.emit(0, "extra")
    assert excepthook == []
    assert owner.calls == [0]  # the extra signal argument was dropped
    assert owner.shown == [describe(ZeroDivisionError("division by zero"))] \
        == ["ZeroDivisionError: division by zero"]
    [record] = [r for r in caplog.records if r.name == __name__]
    assert record.getMessage() == "Test owner: divide failed"
    assert record.exc_info[0] is ZeroDivisionError
    assert owner.divide(4) == 0.25  # a slot that works returns its value


def test_an_expected_error_is_shown_as_its_message_without_a_log(qgis_app, excepthook,
                                                                 caplog):
    owner = Owner()
    owner.fired.connect(owner.refuse)
    with caplog.at_level(logging.DEBUG):
        owner.fired.emit(1, "x")
    assert excepthook == []
    assert owner.shown == ["Choose a layer first."]
    assert [r for r in caplog.records if r.name == __name__] == []


def test_the_slot_of_a_deleted_object_does_nothing(qgis_app, excepthook):
    owner = Owner()
    sip.delete(owner)
    assert owner.divide(0) is None
    assert owner.calls == []


def test_area_summary_dock_shows_a_failing_slot_in_red(qgis_iface, excepthook, caplog):
    dock = AreaSummaryDock(qgis_iface)
    try:
        with caplog.at_level(logging.ERROR):
            dock._on_double_clicked(None)  # no index: AttributeError inside the slot
        text = dock.status_label.text()
        assert text == "AttributeError: 'NoneType' object has no attribute 'isValid'"
        assert "#b30000" in dock.status_label.styleSheet()
        assert "Area summary: _on_double_clicked failed" in caplog.messages
    finally:
        dock.unload()
        dock.deleteLater()
    assert excepthook == []


def test_candidate_sites_dock_reports_a_failing_slot_in_the_message_bar(
        qgis_iface, excepthook, caplog):
    project = QgsProject.instance()
    project.removeEntry(SCOPE, KEY)
    dock = CandidateSitesDock(qgis_iface)
    try:
        qgis_iface.messageBar().clear_messages()
        project.writeEntry(SCOPE, KEY, json.dumps({"distances": ["far"]}))
        with caplog.at_level(logging.ERROR):
            project.readProject.emit(QDomDocument())  # the saved distances: not numbers
        message = "ValueError: could not convert string to float: 'far'"
        assert dock.status.text() == message
        assert any(message in m for m in
                   qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical))
        assert "Candidate sites: _project_read failed" in caplog.messages
    finally:
        project.removeEntry(SCOPE, KEY)
        dock.cleanup()
        dock.deleteLater()
    assert excepthook == []


def test_conformance_dialog_says_unexpected_error(qgis_app, tmp_path, excepthook, caplog):
    dialog = ConformanceDialog(out_dir=tmp_path)
    try:
        with caplog.at_level(logging.ERROR):
            dialog._guard(dialog.show_report, None, None)  # no report: AttributeError
        assert dialog.last_error == ("Unexpected error; details are in the EV "
                                     "Chargepoints message log.")
        assert dialog.status.text() == dialog.last_error
        assert "EV Charge Points: conformance dialog action failed" in caplog.messages
    finally:
        dialog.done(QDialog.DialogCode.Rejected)
        dialog.deleteLater()
    assert excepthook == []


def test_settings_dialog_says_unexpected_error(qgis_app, tmp_path, excepthook, caplog):
    qsettings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = SettingsDialog(qsettings=qsettings)
    try:
        with caplog.at_level(logging.ERROR):
            dialog._guard(dialog.add_feed, None)  # no feed: AttributeError
        [item] = dialog.bar.items()
        assert (item.title(), item.text(), item.level()) == (
            "Unexpected error", "Details are in the EV Chargepoints message log.",
            Qgis.MessageLevel.Critical)
        assert "EV Charge Points: settings dialog action failed" in caplog.messages
    finally:
        dialog.done(QDialog.DialogCode.Rejected)
        dialog.deleteLater()
    assert excepthook == []
