"""The area summary's trend: sessions and occupancy of the areas shown, period by period."""

from __future__ import annotations

import logging
import math

import numpy as np
from qgis.PyQt.QtCore import QCoreApplication, QLocale, QPointF, QRectF, Qt
from qgis.PyQt.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

log = logging.getLogger(__name__)


def trend_series(trend: dict, periods, codes) -> tuple:
    """(periods, sessions, occupancy %) of the areas ``codes`` added up, per period.

    ``trend`` maps a period to its frame of sessions, plugged and available hours by
    area code (:attr:`.worker.ViewResult.trend`); a figure nobody reported is None.
    """
    shown, sessions, occupancy = [], [], []
    for period in periods:
        frame = trend.get(period)
        if frame is None:
            continue
        rows = frame.reindex(codes)
        s = rows["sessions"].to_numpy("float64") if "sessions" in rows else np.array([])
        plugged = rows["plugged_hours"].to_numpy("float64") \
            if "plugged_hours" in rows else np.array([])
        available = rows["available_hours"].to_numpy("float64") \
            if "available_hours" in rows else np.array([])
        known = np.isfinite(s)
        shown.append(period)
        sessions.append(float(np.nansum(s)) if known.any() else None)
        ok = np.isfinite(plugged) & np.isfinite(available)
        total = float(available[ok].sum()) if ok.any() else 0.0
        occupancy.append(100.0 * float(plugged[ok].sum()) / total if total > 0 else None)
    return shown, sessions, occupancy


class TrendChart(QWidget):
    """Sessions (bars, left scale) and occupancy % (line, right scale) per period."""

    BAR = QColor("#9ecae1")
    LINE = QColor("#e6550d")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = ""
        self.periods: list = []
        self.sessions: list = []
        self.occupancy: list = []
        self.message = ""
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("TrendChart", text)

    def set_series(self, title: str, periods, sessions, occupancy) -> None:
        self.title = title
        self.periods = list(periods)
        self.sessions = list(sessions)
        self.occupancy = list(occupancy)
        self.message = "" if self.periods else self.tr("No usage data to chart")
        locale = QLocale()
        lines = [title]
        for p, s, o in zip(self.periods, self.sessions, self.occupancy):
            lines.append(self.tr("{period}: {sessions} sessions, occupancy {occupancy}").format(
                period=p, sessions="–" if s is None else locale.toString(float(s), "f", 0),
                occupancy="–" if o is None else locale.toString(float(o), "f", 1) + " %"))
        self.setToolTip("\n".join(lines))
        self.update()

    def clear(self, message: str = "") -> None:
        self.title, self.periods, self.sessions, self.occupancy = "", [], [], []
        self.message = message
        self.setToolTip("")
        self.update()

    def paintEvent(self, event):
        try:
            painter = QPainter(self)
            try:
                self._paint(painter)
            finally:
                painter.end()
        except Exception:  # noqa: BLE001 - a C++ virtual must not raise
            log.exception("Area summary: drawing the trend failed")

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_colour = self.palette().color(self.foregroundRole())
        painter.setPen(text_colour)
        metrics = painter.fontMetrics()
        line_h = metrics.height()
        if not self.periods:
            painter.drawText(QRectF(self.rect()), int(Qt.AlignmentFlag.AlignCenter),
                             self.message)
            return
        locale = QLocale()
        title_font = QFont(painter.font())
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.drawText(QRectF(4, 2, self.width() - 8, line_h),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         metrics.elidedText(self.title, Qt.TextElideMode.ElideRight,
                                            self.width() // 2))
        painter.setFont(QFont(self.font()))
        # legend, top right
        legend = [(self.BAR, self.tr("sessions")), (self.LINE, self.tr("occupancy %"))]
        x = self.width() - 6
        for colour, label in reversed(legend):
            width = metrics.horizontalAdvance(label)
            x -= width
            painter.setPen(text_colour)
            painter.drawText(QRectF(x, 2, width, line_h), int(Qt.AlignmentFlag.AlignVCenter),
                             label)
            x -= 14
            painter.fillRect(QRectF(x, 2 + line_h / 2 - 4, 10, 8), colour)
            x -= 10
        sessions = [s if s is not None else 0.0 for s in self.sessions]
        max_s = max(sessions + [1.0])
        known_occ = [o for o in self.occupancy if o is not None]
        max_o = max(known_occ + [5.0]) * 1.15
        left_label = locale.toString(max_s, "f", 0)
        right_label = locale.toString(max_o, "f", 0) + " %"
        plot = QRectF(metrics.horizontalAdvance(left_label) + 8, line_h + 8,
                      0, 0)
        plot.setRight(self.width() - metrics.horizontalAdvance(right_label) - 8)
        plot.setBottom(self.height() - line_h - 6)
        if plot.width() < 20 or plot.height() < 20:
            return
        axis = QPen(text_colour)
        axis.setWidthF(0.8)
        painter.setPen(axis)
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawText(QRectF(0, plot.top() - line_h / 2, plot.left() - 4, line_h),
                         int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         left_label)
        painter.drawText(QRectF(plot.right() + 4, plot.top() - line_h / 2,
                                self.width() - plot.right() - 4, line_h),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         right_label)
        n = len(self.periods)
        slot = plot.width() / n
        step = max(1, math.ceil(n / max(1.0, plot.width() / 64.0)))
        points = []
        for i, period in enumerate(self.periods):
            centre = plot.left() + slot * (i + 0.5)
            height = plot.height() * sessions[i] / max_s
            painter.fillRect(QRectF(centre - slot * 0.3, plot.bottom() - height, slot * 0.6,
                                    height), self.BAR)
            if self.occupancy[i] is not None:
                points.append(QPointF(centre, plot.bottom()
                                      - plot.height() * self.occupancy[i] / max_o))
            if i % step == 0:
                painter.setPen(text_colour)
                painter.drawText(QRectF(centre - slot * step / 2, plot.bottom() + 2,
                                        slot * step, line_h),
                                 int(Qt.AlignmentFlag.AlignHCenter
                                     | Qt.AlignmentFlag.AlignTop), period)
        pen = QPen(self.LINE)
        pen.setWidthF(2.0)
        painter.setPen(pen)
        if len(points) > 1:
            painter.drawPolyline(QPolygonF(points))
        painter.setBrush(self.LINE)
        for point in points:
            painter.drawEllipse(point, 3.0, 3.0)
