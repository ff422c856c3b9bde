"""What every ev_chargepoints algorithm shares: names, icon, feedback bridge, errors."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingFeedback
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ...core.errors import EvChargepointsError
from ...core.paths import resource
from ...core.progress import Progress


class EvAlgorithm(QgsProcessingAlgorithm):
    """Subclasses set NAME, DISPLAY, GROUP, GROUP_ID and HELP, and implement ``execute``.

    Translations: ``self.tr("...")`` in a class's methods, and
    ``QT_TRANSLATE_NOOP("ThatClass", "...")`` for its DISPLAY, GROUP and HELP, are
    in that class's context (what pylupdate5 extracts); ``tr`` looks a text up in the
    context of the instance's class, then of each base class up to this one, so
    texts of a base class (``_SitesAlgorithm``, this one) are found from a subclass.
    """

    NAME = ""
    DISPLAY = ""
    GROUP = QT_TRANSLATE_NOOP("EvAlgorithm", "Data")
    GROUP_ID = "data"
    HELP = ""

    def tr(self, text: str) -> str:
        if not text:
            return text
        for cls in type(self).__mro__:
            translated = QCoreApplication.translate(cls.__name__, text)
            if translated != text or cls is EvAlgorithm:
                return translated
        return text

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

    def prepareAlgorithm(self, parameters, context, feedback) -> bool:
        # QGIS calls this on the main thread; processAlgorithm may run in a worker.
        self._preparation_error = None
        try:
            self.prepare(parameters, context, feedback)
        except EvChargepointsError as exc:
            # raised by processAlgorithm, which reports it as one readable line (an
            # exception here would only give "There were errors executing the algorithm")
            self._preparation_error = exc
        return True

    def prepare(self, parameters, context, feedback) -> None:
        """Work that must happen on the main thread before ``execute``."""

    def processAlgorithm(self, parameters, context, feedback) -> dict[str, Any]:
        try:
            if getattr(self, "_preparation_error", None) is not None:
                raise self._preparation_error
            return self.execute(parameters, context, feedback)
        except EvChargepointsError as exc:
            # one readable line in the Processing log, no traceback
            raise QgsProcessingException(exc.message) from None

    def execute(self, parameters, context, feedback) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError
