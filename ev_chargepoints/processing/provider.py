"""The ``evchargepoints`` Processing provider."""

from __future__ import annotations

import logging

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from ..core.paths import plugin_version, resource
from .algorithms import available_algorithms

PROVIDER_ID = "evchargepoints"
log = logging.getLogger(__name__)


class EvChargepointsProvider(QgsProcessingProvider):
    def id(self) -> str:
        return PROVIDER_ID

    def name(self) -> str:
        return QCoreApplication.translate("EvChargepointsProvider", "EV charge points")

    def longName(self) -> str:
        return f"{self.name()} {plugin_version()}"

    def icon(self) -> QIcon:
        return QIcon(str(resource("icons", "icon.svg")))

    def svgIconPath(self) -> str:
        return str(resource("icons", "icon.svg"))

    def loadAlgorithms(self) -> None:
        # An exception escaping this C++ virtual would abort QGIS: log it instead.
        try:
            algorithm_classes = available_algorithms()
        except Exception:  # noqa: BLE001
            log.exception("EV charge points: could not load the Processing algorithms")
            return
        for algorithm_class in algorithm_classes:
            self.addAlgorithm(algorithm_class())
