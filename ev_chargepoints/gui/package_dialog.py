"""Confirm and run "Install missing packages…": what pip installs, where, and with which
Python; pip's output as it runs, a Cancel that stops pip, and the outcome in words
(on failure with the command to run by hand in the OSGeo4W Shell or a terminal)."""

from __future__ import annotations

import logging
from typing import Callable, Optional

from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from ..core.optional import InstallOutcome, InstallPlan
from ..qgis import package_install
from .slots import guarded_slot

log = logging.getLogger(__name__)


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class PackageInstallDialog(QDialog):
    """``plan`` lists exactly what pip installs; nothing runs before "Install"."""

    def __init__(self, plan: InstallPlan, parent=None, env: Optional[dict] = None,
                 on_installed: Optional[Callable[[InstallOutcome], None]] = None):
        super().__init__(parent)
        self.plan = plan
        self.env = env  # the environment pip runs in (tests cut off the pip configuration)
        self.on_installed = on_installed
        self.task: Optional[package_install.PackageInstallTask] = None
        self.outcome: Optional[InstallOutcome] = None
        self.last_error: Optional[str] = None
        self.setObjectName("EvChargepointsPackageDialog")
        self.setWindowTitle(self.tr("Install missing packages"))
        self.setMinimumWidth(640)
        self._build()

    def tr(self, text: str) -> str:  # one translation context for this class
        return QCoreApplication.translate("PackageInstallDialog", text)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(_label(self.tr(
            "pip will download these Python packages from the Python Package Index "
            "(pypi.org) and install them into a folder of the plugin's own in your QGIS "
            "profile; QGIS's own Python installation is not changed:"), "intro"))
        listed = "\n".join(
            "• " + self.tr("{requirement}: {use}").format(
                requirement=p.requirement,
                use=QCoreApplication.translate("OptionalPackages", p.use))
            for p in self.plan.packages)
        self.packages = _label(listed, "packages")
        layout.addWidget(self.packages)
        self.where = _label(self.tr("Folder: {folder}\nPython: {python}\nCommand: {command}")
                            .format(folder=str(self.plan.target), python=self.plan.python,
                                    command=self.plan.command_text()), "where")
        layout.addWidget(self.where)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.output = QPlainTextEdit()
        self.output.setObjectName("pipOutput")
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(2000)
        self.output.setPlaceholderText(self.tr("pip's output appears here."))
        layout.addWidget(self.output)
        self.status = _label("", "status")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox()
        self.install_button = QPushButton(self.tr("Install"))
        self.install_button.setObjectName("install")
        self.install_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Cancel install"))
        self.cancel_button.setObjectName("cancelInstall")
        self.cancel_button.setEnabled(False)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.install_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.install_button.clicked.connect(self.install)
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(buttons)

    # --- running --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and not sip.isdeleted(self.task)

    @guarded_slot("EV Charge Points: the package install could not start")
    def install(self, *_args) -> None:
        if self.running:
            return
        self.last_error = None
        self.output.clear()
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.install_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Installing with pip…"))
        self.task = package_install.start_install(
            self.plan, on_line=self._line, on_done=self._done, on_error=self._failed,
            env=self.env)
        self.task.progressChanged.connect(lambda value: self.progress.setValue(int(value)))

    def cancel(self, *_args) -> None:
        if self.running:
            self.task.cancel()

    def slot_failed(self, text: str) -> None:  # what guarded_slot shows
        self._failed(text)

    def _line(self, line: str) -> None:
        self.output.appendPlainText(line)

    def _finish(self) -> None:
        self.task = None
        self.cancel_button.setEnabled(False)

    @guarded_slot("EV Charge Points: the package install ended badly")
    def _done(self, outcome: InstallOutcome) -> None:
        self._finish()
        self.outcome = outcome
        self.progress.setValue(100)
        self.install_button.setEnabled(False)
        self.status.setText(self.tr(
            "Installed {packages} into {folder}. Restart QGIS so that every feature of the "
            "plugin uses them.").format(packages=", ".join(outcome.installed),
                                        folder=str(outcome.target)))
        if self.on_installed is not None:
            self.on_installed(outcome)

    def _failed(self, message: str) -> None:
        self._finish()
        self.last_error = message
        self.install_button.setEnabled(True)
        self.install_button.setText(self.tr("Try again"))
        self.status.setStyleSheet("color: #b42318;")
        self.status.setText(message)

    def done(self, result: int) -> None:
        try:
            if self.running:
                self.task.cancel()  # closing the dialog stops pip
        except Exception:  # noqa: BLE001 - never let an exception escape a Qt virtual
            log.exception("EV Charge Points: could not cancel the package install")
        super().done(result)
