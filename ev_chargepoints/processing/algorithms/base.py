"""What every ev_chargepoints algorithm shares: names, icon, feedback bridge, errors."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingFeedback
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.errors import EvChargepointsError
from ...core.paths import resource
from ...core.progress import Progress


class EvAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set NAME, DISPLAY, GROUP, GROUP_ID and HELP, and implement ``execute``."""

    NAME = ""
    DISPLAY = ""
    GROUP = "Data"
    GROUP_ID = "data"
    HELP = ""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("EvAlgorithm", text)

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:
        return self.tr(self.DISPLAY)

    def group(self) -> str:
        return self.tr(self.GROUP)

    def groupId(self) -> str:
        return self.GROUP_ID

    def shortHelpString(self) -> str:
        return self.tr(self.HELP)

    def icon(self) -> QIcon:
        return QIcon(str(resource("icons", "icon.svg")))

    def createInstance(self):
        return type(self)()

    @staticmethod
    def progress(feedback: QgsProcessingFeedback) -> Progress:
        def report(percent: float, message: str) -> None:
            feedback.setProgress(percent)
            if message:
                feedback.pushInfo(message)
        return Progress(report, feedback.isCanceled)

    def processAlgorithm(self, parameters, context, feedback) -> dict[str, Any]:
        try:
            return self.execute(parameters, context, feedback)
        except EvChargepointsError as exc:
            # one readable line in the Processing log, no traceback
            raise QgsProcessingException(exc.message) from None

    def execute(self, parameters, context, feedback) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError
