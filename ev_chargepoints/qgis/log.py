"""Python ``logging`` into the QGIS message log (tag "EV Chargepoints")."""

from __future__ import annotations

import logging

from qgis.core import Qgis, QgsMessageLog

TAG = "EV Chargepoints"
_LEVELS = ((logging.ERROR, Qgis.MessageLevel.Critical),
           (logging.WARNING, Qgis.MessageLevel.Warning))


class QgsLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = next((q for py, q in _LEVELS if record.levelno >= py), Qgis.MessageLevel.Info)
            QgsMessageLog.logMessage(self.format(record), TAG, level)
        except Exception:  # noqa: BLE001 - a log call must never raise into the caller
            self.handleError(record)


def install(logger_name: str = "ev_chargepoints") -> QgsLogHandler:
    handler = QgsLogHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def uninstall(handler: QgsLogHandler, logger_name: str = "ev_chargepoints") -> None:
    logging.getLogger(logger_name).removeHandler(handler)
