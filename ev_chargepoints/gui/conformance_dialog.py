"""Check operators' files against the data standard and list a verdict per operator.

The user picks the files to check (usage returns, device reference data, NCR
exports, OCPI Locations JSON), optional reference data and period, and a report
folder. "Check" runs ``Workspace.validate`` (with the store's status history) or
``Workspace.validate_files``, then ``Workspace.write_report``, in a ``CoreTask``
(never on the main thread); the table then shows one row per operator with a
PASS / WARN / FAIL badge (told apart by text and by lightness, so it reads in
greyscale too) and the main reasons, and "Open report" opens report.html in the
browser.

Operator names and reasons come from operators' files: they are shown as plain
text only (table items and plain-text labels), never as rich text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, List, Optional

from qgis.core import QgsApplication
from qgis.gui import QgsFileWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, Qt, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QBrush, QColor, QDesktopServices
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import EvChargepointsError
from ..core.standard import model
from ..core.standard.reliability import describe_record
from ..core.workspace import Workspace
from ..qgis import settings as plugin_settings
from ..qgis.tasks import CoreTask, start
from .slots import guarded_slot

log = logging.getLogger(__name__)

COL_OPERATOR, COL_VERDICT, COL_REASONS = range(3)

#: verdict: (background, text colour). Light / mid / dark, so the badges differ in
#: greyscale as well as in hue; each text colour keeps a contrast of at least 4.5:1.
BADGE_COLOURS = {
    model.PASS: ("#d4efd9", "#000000"),
    model.WARN: ("#e3a33b", "#000000"),
    model.FAIL: ("#7a1212", "#ffffff"),
}


def default_out_dir() -> Path:
    """The report folder offered by default: in the QGIS profile."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "ev_chargepoints" / "conformance"


class ConformanceDialog(QDialog):
    """Pick files, check them, and list each operator's verdict."""

    #: (ok, message) when a check ends (ok = a report was written)
    checkFinished = pyqtSignal(bool, str)

    def __init__(self, parent: Optional[QWidget] = None, out_dir=None):
        super().__init__(parent)
        self.task: Optional[CoreTask] = None  # Python reference to the running check
        # the store whose watched status history is included (None: the Settings' store)
        self.store_reference: Optional[str] = None
        self.report: Optional[model.ConformanceReport] = None
        self.html_path: Optional[Path] = None
        self.last_error: Optional[str] = None
        self.setObjectName("EvChargepointsConformanceDialog")
        self.setWindowTitle(self.tr("Check operators' data"))
        self.setMinimumWidth(760)
        self._build()
        self.out_dir.setFilePath(str(out_dir) if out_dir else str(default_out_dir()))

    def tr(self, text: str) -> str:  # one translation context for this class
        return QCoreApplication.translate("ConformanceDialog", text)

    # --- building ------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)
        filters = self.tr("Data files (*.csv *.json *.gz);;All files (*)")
        self.files = QgsFileWidget(self)
        self.files.setObjectName("files")
        self.files.setStorageMode(QgsFileWidget.StorageMode.GetMultipleFiles)
        self.files.setFilter(filters)
        self.files.setDialogTitle(self.tr("Files to check"))
        self.files.setToolTip(self.tr(
            "Usage returns, device reference data, NCR exports or OCPI Locations JSON "
            "(optionally gzip-compressed); each is checked and reported."))
        form.addRow(self.tr("Files to check"), self.files)
        self.reference = QgsFileWidget(self)
        self.reference.setObjectName("reference")
        self.reference.setStorageMode(QgsFileWidget.StorageMode.GetMultipleFiles)
        self.reference.setFilter(filters)
        self.reference.setDialogTitle(self.tr("Device reference data"))
        self.reference.setToolTip(self.tr(
            "Optional: device reference data, NCR exports or OCPI Locations used only to "
            "look up the devices of the usage returns; not reported on."))
        form.addRow(self.tr("Device reference data (optional)"), self.reference)
        self.period = QLineEdit(self)
        self.period.setObjectName("period")
        self.period.setPlaceholderText(self.tr("e.g. 2024-Q1; empty = inferred"))
        form.addRow(self.tr("Return period (optional)"), self.period)
        self.stale_days = QDoubleSpinBox(self)
        self.stale_days.setObjectName("stale_days")
        self.stale_days.setRange(1, 36_500)
        self.stale_days.setDecimals(0)
        self.stale_days.setValue(model.DEFAULT_STALE_DAYS)
        self.stale_days.setSuffix(self.tr(" days"))
        form.addRow(self.tr("Data older than this is stale"), self.stale_days)
        self.use_history = QCheckBox(self.tr("Include the store's watched status history"),
                                     self)
        self.use_history.setObjectName("use_history")
        self.use_history.setToolTip(self.tr(
            "Reliability from the status 'Watch live status' collected in the store of the "
            "Settings, over observed time only (each observation holds at most an hour); "
            "no files are needed then."))
        form.addRow(self.tr("Reliability"), self.use_history)
        self.out_dir = QgsFileWidget(self)
        self.out_dir.setObjectName("out_dir")
        self.out_dir.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.out_dir.setDialogTitle(self.tr("Report folder"))
        form.addRow(self.tr("Report folder"), self.out_dir)

        row = QHBoxLayout()
        self.check_button = QPushButton(self.tr("Check"), self)
        self.check_button.setObjectName("check")
        self.check_button.clicked.connect(lambda _checked=False: self._guard(self.check))
        row.addWidget(self.check_button)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("progress")
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)

        self.status = QLabel(self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote file names
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        self.table = QTableWidget(0, 3, self)
        self.table.setObjectName("operators")
        self.table.setHorizontalHeaderLabels(
            [self.tr("Operator"), self.tr("Verdict"), self.tr("Main reasons")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_OPERATOR, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_VERDICT, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_REASONS, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.open_report_button = QPushButton(self.tr("Open report"), self)
        self.open_report_button.setObjectName("open_report")
        self.open_report_button.setToolTip(self.tr(
            "Open report.html (every check, with rows and examples) in the browser."))
        self.open_report_button.setEnabled(False)
        self.open_report_button.clicked.connect(
            lambda _checked=False: self._guard(self.open_report))
        self.buttons.addButton(self.open_report_button,
                               QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    # --- inputs ---------------------------------------------------------------------

    @staticmethod
    def _paths(widget: QgsFileWidget) -> List[str]:
        return [p for p in QgsFileWidget.splitFilePaths(widget.filePath()) if p.strip()]

    @staticmethod
    def _join(paths) -> str:
        return " ".join(f'"{p}"' for p in paths)

    def set_files(self, paths) -> None:
        self.files.setFilePath(self._join(paths))

    def set_reference(self, paths) -> None:
        self.reference.setFilePath(self._join(paths))

    # --- checking -------------------------------------------------------------------

    def check(self) -> None:
        """Validate the chosen files in a background task; the table fills when done."""
        if self.task is not None:
            return
        files = self._paths(self.files)
        target = None
        if self.use_history.isChecked():
            try:  # on the main thread: a saved connection's password is read here
                target = plugin_settings.target_for(self.store_reference) \
                    if self.store_reference else plugin_settings.store_target()
            except EvChargepointsError as exc:
                self._show_error(exc.message)
                return
            if not plugin_settings.store_exists(target):
                self._show_error(self.tr("There is no store at {path}: watch a feed "
                                         "first.").format(path=target.describe()))
                return
        elif not files:
            self._show_error(self.tr("Choose at least one file to check."))
            return
        references = self._paths(self.reference) or None
        period_text = self.period.text().strip() or None
        if period_text:
            try:
                model.parse_period(period_text)
            except ValueError:
                self._show_error(self.tr(
                    "'{period}' is not a period: use 2024-Q1 or "
                    "2024-01-01/2024-04-01.").format(period=period_text))
                return
        out_text = self.out_dir.filePath().strip()
        if not out_text:
            self._show_error(self.tr("Choose a report folder."))
            return
        out_dir = Path(out_text)
        stale_days = self.stale_days.value()

        def work(progress, _feedback):
            options = dict(reference=references, period=period_text, stale_days=stale_days,
                           progress=progress)
            if target is not None:
                with Workspace(target) as ws:
                    report = ws.validate(files, **options)
            else:
                report = Workspace.validate_files(files, **options)
            html_path, _json_path = Workspace.write_report(report, out_dir)
            return report, html_path

        self.last_error = None
        self.report = None
        self.html_path = None
        self.table.setRowCount(0)
        self.open_report_button.setEnabled(False)
        self.check_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._set_status(self.tr("Checking {n} file(s)…").format(n=len(files)))
        task = CoreTask(self.tr("Checking operators' data against the standard"), work,
                        lambda result: self._finished(task, result, None),
                        lambda message: self._finished(task, None, message))
        task.progressChanged.connect(lambda value: self._guard(self._progress, value))
        self.task = task
        start(task)

    def _progress(self, value: float) -> None:
        if not sip.isdeleted(self):
            self.progress.setValue(int(value))

    def _finished(self, task: CoreTask, result, error: Optional[str]) -> None:
        """Called on the main thread from ``QgsTask.finished`` (a Qt virtual): never raises."""
        try:
            if self.task is task:
                self.task = None
            if sip.isdeleted(self):
                return
            self.check_button.setEnabled(True)
            self.progress.setVisible(False)
            if error is not None:
                self._show_error(error)
                self.checkFinished.emit(False, error)
                return
            report, html_path = result
            self.show_report(report, html_path)
            self.checkFinished.emit(True, "")
        except Exception:  # noqa: BLE001
            log.exception("EV Charge Points: could not show the conformance check result")

    # --- results --------------------------------------------------------------------

    def show_report(self, report: model.ConformanceReport,
                    html_path: Optional[Path]) -> None:
        self.report = report
        self.html_path = Path(html_path) if html_path else None
        self.table.setRowCount(0)
        for op in report.operators:
            self._add_row(op)
        self.open_report_button.setEnabled(self.html_path is not None)
        counts = {v: sum(op.verdict == v for op in report.operators)
                  for v in (model.PASS, model.WARN, model.FAIL)}
        if not report.operators:
            text = self.tr("No operators found in the files.")
        else:
            text = self.tr("{n} operator(s): {p} pass, {w} warn, {f} fail.").format(
                n=len(report.operators), p=counts[model.PASS],
                w=counts[model.WARN], f=counts[model.FAIL])
        if self.html_path is not None:
            text += " " + self.tr("Report: {path}").format(path=str(self.html_path))
        self._set_status(text)

    def badge_text(self, verdict: str) -> str:
        return {model.PASS: self.tr("PASS"), model.WARN: self.tr("WARN"),
                model.FAIL: self.tr("FAIL")}.get(verdict, str(verdict).upper())

    def _add_row(self, op: model.OperatorReport) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, COL_OPERATOR, QTableWidgetItem(str(op.operator)))
        badge = QTableWidgetItem(self.badge_text(op.verdict))
        badge.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        font = badge.font()
        font.setBold(True)
        badge.setFont(font)
        colours = BADGE_COLOURS.get(op.verdict)
        if colours:
            badge.setBackground(QBrush(QColor(colours[0])))
            badge.setForeground(QBrush(QColor(colours[1])))
        badge.setData(Qt.ItemDataRole.UserRole, op.verdict)
        self.table.setItem(row, COL_VERDICT, badge)
        reasons = "\n".join(str(r) for r in op.reasons) if op.reasons \
            else self.tr("No problems found.")
        for rec in (op.reliability, op.rapid_reliability):
            if rec is not None:  # every reliability figure with its observed time
                reasons += "\n" + self.tr("Reliability: {figure}").format(
                    figure=describe_record(rec))
        self.table.setItem(row, COL_REASONS, QTableWidgetItem(reasons))

    def report_url(self) -> Optional[QUrl]:
        return QUrl.fromLocalFile(str(self.html_path)) if self.html_path else None

    def open_report(self) -> None:
        url = self.report_url()
        if url is None or not self.html_path.is_file():
            self._show_error(self.tr("There is no report to open yet: run a check first."))
            return
        if not QDesktopServices.openUrl(url):
            self._show_error(self.tr("Could not open a browser; the report is at {path}")
                             .format(path=str(self.html_path)))

    # --- messages and safety --------------------------------------------------------

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b42318;" if error else "")

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self._set_status(message, error=True)

    def done(self, result: int) -> None:
        try:
            task = self.task
            if task is not None and not sip.isdeleted(task):
                task.cancel()  # a running check stops with the dialog
        except Exception:  # noqa: BLE001 - never let an exception escape a Qt virtual
            log.exception("EV Charge Points: could not cancel the conformance check")
        super().done(result)

    @guarded_slot("EV Charge Points: conformance dialog action failed")
    def _guard(self, fn: Callable, *args) -> None:
        """Run a slot; an unexpected exception is logged and shown, never raised into Qt."""
        fn(*args)

    def slot_failed(self, _text: str) -> None:
        self._show_error(self.tr("Unexpected error; details are in the EV "
                                 "Chargepoints message log."))
