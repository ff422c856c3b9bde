"""The operator conformance dialog, headless: check files in a task, list verdicts,
open the report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from qgis.PyQt.QtCore import QCoreApplication, QUrl
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QDialog

from ev_chargepoints.core.standard.conformance import validate_files
from ev_chargepoints.core.standard.model import FAIL, PASS, WARN
from ev_chargepoints.gui import conformance_dialog
from ev_chargepoints.gui.conformance_dialog import (
    COL_OPERATOR,
    COL_REASONS,
    COL_VERDICT,
    ConformanceDialog,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "standard" / "examples"
IMPOSSIBLE = EXAMPLES / "usage_return_check_impossible_energy.csv"
VALID = EXAMPLES / "usage_return_valid.csv"
REFERENCE = EXAMPLES / "device_reference_valid.csv"
WAIT_S = 60  # bound on the wait for a check


@pytest.fixture()
def dialog(qgis_app, qgis_iface, tmp_path):
    dlg = ConformanceDialog(out_dir=tmp_path / "report")
    yield dlg
    dlg.done(QDialog.DialogCode.Rejected)
    dlg.deleteLater()


def run_check(dlg) -> list:
    """Press Check and process events (bounded) until the task has reported back."""
    results = []
    dlg.checkFinished.connect(lambda ok, message: results.append((ok, message)))
    dlg.check_button.click()
    assert dlg.task is not None, dlg.last_error
    deadline = time.monotonic() + WAIT_S
    while not results and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert results, "the conformance check did not report back within 60 s"
    assert dlg.task is None, "the dialog still holds the finished task"
    return results


def rows(dlg) -> list:
    return [(dlg.table.item(r, COL_OPERATOR).text(), dlg.table.item(r, COL_VERDICT).text(),
             dlg.table.item(r, COL_REASONS).text()) for r in range(dlg.table.rowCount())]


def lightness(item) -> int:
    return item.background().color().lightness()


def test_check_lists_operators_with_badges_and_opens_report(dialog, tmp_path, monkeypatch):
    expected = validate_files([IMPOSSIBLE, VALID], reference=[REFERENCE])
    assert expected.operators

    dialog.set_files([IMPOSSIBLE, VALID])
    dialog.set_reference([REFERENCE])
    assert run_check(dialog) == [(True, "")]

    shown = rows(dialog)
    assert [(name, badge) for name, badge, _ in shown] == \
        [(op.operator, op.verdict.upper()) for op in expected.operators]
    assert dialog.badge_text(FAIL) == "FAIL"
    by_name = {op.operator: op for op in expected.operators}
    for row, (name, badge, reasons) in enumerate(shown):
        op = by_name[name]
        assert badge in ("PASS", "WARN", "FAIL")
        for reason in op.reasons:
            assert reason in reasons
        if op.verdict == FAIL:  # dark badge, white text
            item = dialog.table.item(row, COL_VERDICT)
            assert lightness(item) < 100
            assert item.foreground().color() == QColor("#ffffff")
    # the impossible-energy return makes its operator fail
    assert any(badge == "FAIL" and "Energy possible" in reasons
               for _, badge, reasons in shown)

    html = tmp_path / "report" / "report.html"
    assert html.is_file()
    assert dialog.html_path == html
    assert (tmp_path / "report" / "report.json").is_file()

    opened = []
    monkeypatch.setattr(conformance_dialog.QDesktopServices, "openUrl",
                        lambda url: opened.append(QUrl(url)) or True)
    assert dialog.open_report_button.isEnabled()
    dialog.open_report_button.click()
    assert len(opened) == 1
    assert opened[0].isLocalFile()
    assert Path(opened[0].toLocalFile()) == html


def test_badges_read_in_greyscale(dialog):
    light = {v: QColor(bg).lightness()
             for v, (bg, _fg) in conformance_dialog.BADGE_COLOURS.items()}
    assert light[PASS] > light[WARN] > light[FAIL]
    assert light[PASS] - light[WARN] >= 40 and light[WARN] - light[FAIL] >= 40


def test_operator_name_is_shown_literally(dialog, tmp_path):
    name = "<b>x</b>"
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    reference = tmp_path / "device_reference_markup.csv"
    reference.write_text("\n".join([lines[0]] + [
        line.replace("Example Charging Ltd", name) for line in lines[1:]]) + "\n",
        encoding="utf-8")
    expected = validate_files([VALID], reference=[reference])
    assert [op.operator for op in expected.operators] == [name]

    dialog.set_files([VALID])
    dialog.set_reference([reference])
    run_check(dialog)
    item = dialog.table.item(0, COL_OPERATOR)
    assert dialog.table.rowCount() == 1
    assert item.text() == name
    assert dialog.table.item(0, COL_VERDICT).text() == expected.operators[0].verdict.upper()


def test_no_files_is_refused_without_a_task(dialog):
    dialog.check_button.click()
    assert dialog.task is None
    assert dialog.last_error
    assert not dialog.open_report_button.isEnabled()


def test_bad_period_is_refused(dialog):
    dialog.set_files([VALID])
    dialog.period.setText("spring")
    dialog.check_button.click()
    assert dialog.task is None
    assert "spring" in dialog.last_error
