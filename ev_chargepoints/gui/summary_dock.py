"""The "Area summary" dock: boroughs and their wards, filters, map selection, trend, export.

The dock presents what ``Workspace.summariser`` computes; it never re-implements
the pipeline. Preparing a summariser (placing devices in areas, utilisation of
every period) runs in a ``CoreTask``; the prepared summariser is kept per store
stamp and period length, and re-summaries after a filter or period change run
on the main thread only while they are measured to take under 50 ms, else in
a task too.

Selection goes both ways: choosing rows selects (and zooms to) the areas and
their devices on the map's layers (found through their
``ev_chargepoints/role`` custom property); selecting areas on the map selects
the rows. The dock's level, borough, period, filters and selection are kept in
the project (scope ``ev_chargepoints``, key ``summary_dock``).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from qgis.core import (
    Qgis,
    QgsExpression,
    QgsFeatureRequest,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.gui import QgsCheckableComboBox, QgsDockWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QItemSelection,
    QItemSelectionModel,
    QLocale,
    QModelIndex,
    QPointF,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    pyqtSignal,
)
from qgis.PyQt.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.analysis.summary import definitions
from ..core.errors import EvChargepointsError
from ..core.outputs import disclosure
from ..core.outputs.tables import write_csv, write_xlsx
from ..core.progress import Progress
from ..core.schema import POWER_CLASSES
from ..core.workspace import USAGE_SUMMARY_COLUMNS, Workspace, publishable
from ..qgis import settings as plugin_settings
from ..qgis.loader import ROLE_PROPERTY, STORE_PROPERTY
from ..qgis.tasks import CoreTask, start

log = logging.getLogger(__name__)

PROJECT_SCOPE = "ev_chargepoints"
PROJECT_KEY = "summary_dock"
SYNC_LIMIT_MS = 50.0          # re-summaries on the main thread only below this
PERIOD_KINDS = ("month", "quarter", "year")
FILTER_KEYS = ("operator", "power_class", "location_type")
LEVEL_ROLE = {"borough": "boroughs", "ward": "wards"}
UNKNOWN = "unknown"
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CODE_ROLE = Qt.ItemDataRole.UserRole + 2
TABLE_COLUMNS = ("area_name", "area_code", "devices", "connectors", "rapid_share_pct",
                 "devices_per_10k", "population", "sessions", "kwh", "occupancy_pct",
                 "capacity_factor_pct", "share_no_usage_pct", "sessions_change_pct",
                 "occupancy_pct_change", "uptime_pct", "status_observed_hours")
EXPORT_FILTER_COLUMNS = ("level", "filter_operator", "filter_power_class",
                         "filter_location_type")
_DECIMALS = {"rapid_share_pct": 1, "devices_per_10k": 2, "connectors_per_10k": 2,
             "devices_per_km2": 2, "area_km2": 2, "occupancy_pct": 1,
             "capacity_factor_pct": 1, "share_no_usage_pct": 1, "sessions_change_pct": 1,
             "kwh_change_pct": 1, "occupancy_pct_change": 1, "prev_occupancy_pct": 1,
             "sessions_per_device": 1, "uptime_pct": 2, "status_observed_hours": 1}


def _slot(method):
    """Qt slot guard: an exception escaping a slot would abort QGIS; log it instead.

    Extra signal arguments the method does not take are dropped.
    """
    params = list(inspect.signature(method).parameters.values())[1:]
    takes_all = any(p.kind == p.VAR_POSITIONAL for p in params)
    count = len(params)

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            if sip.isdeleted(self):
                return None
            return method(self, *(args if takes_all else args[:count]))
        except Exception as exc:  # noqa: BLE001 - never let it reach Qt
            log.exception("Area summary: %s failed", method.__name__)
            try:
                self._show_message(f"{type(exc).__name__}: {exc}", error=True)
            except Exception:  # noqa: BLE001
                pass
            return None
    return wrapper


def _is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


# --- worker side (runs in tasks: no widgets, no layers) -----------------------------

@dataclass
class Prepared:
    """A prepared summariser and what the widgets need to offer its choices."""

    store_path: str
    stamp: int
    period_kind: str
    summariser: object
    periods: list
    choices: dict
    assignment_lines: list
    devices_total: int
    synthetic_usage: bool
    resummary_ms: float = 0.0
    latest: Optional[str] = None        # the period shown first (the store's default)


@dataclass
class ViewResult:
    """One level's summary (every area) and the trend of every area across periods."""

    key: tuple
    table: pd.DataFrame
    trend: dict = field(default_factory=dict)


def _choices(values: pd.Series) -> list:
    """(value, device count) pairs, commonest first; missing values become "unknown"."""
    if values is None:
        return []
    text = values.astype(object).where(values.notna(), None)
    text = text.map(lambda v: UNKNOWN if v is None or not str(v).strip() else str(v).strip())
    counts = text.value_counts()
    return [(str(k), int(v)) for k, v in counts.items()]


def prepare(store_path: str, period_kind: str, known: Optional[Prepared],
            progress: Progress, target=None) -> Prepared:
    """Worker: open the store and prepare (or reuse) the summariser for its current stamp.

    ``store_path`` names the store (a path or a store reference); ``target``, when given,
    is that store resolved on the main thread (a ``StoreTarget`` with its credentials).
    """
    with Workspace(target if target is not None else store_path) as ws:
        stamp = ws.store_stamp()
        if known is not None and known.stamp == stamp:
            return known
        summariser = ws.summariser(period_kind, progress=progress.scaled(0, 90))
        devices = ws.devices()
        choices = {
            "operator": _choices(devices.get("operator")),
            "power_class": sorted(_choices(devices.get("power_class")),
                                  key=lambda kv: POWER_CLASSES.index(kv[0])
                                  if kv[0] in POWER_CLASSES else len(POWER_CLASSES)),
            "location_type": _choices(devices.get("location_type")),
        }
        lines = ws.assignment().report.lines()
        if summariser.access is not None:  # the shared store: what this login may see
            lines.append(summariser.access.note)
        synthetic = ws.has_synthetic_usage()
    periods = list(summariser.periods_with_data or summariser.periods)
    latest = summariser.default_period() if periods else None
    latest = latest if latest in periods else (periods[-1] if periods else None)
    summariser.summarise("ward", latest)            # warm up, then measure
    began = time.perf_counter()
    summariser.summarise("ward", latest)
    elapsed = (time.perf_counter() - began) * 1000.0
    progress.report(100, "Summaries ready")
    return Prepared(store_path, stamp, period_kind, summariser, periods, choices, lines,
                    len(devices), synthetic, elapsed, latest=latest)


def _trend_frame(table: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in ("sessions", "plugged_hours", "available_hours") if c in table]
    return table.set_index("area_code")[columns]


def compute_view(summariser, level: str, period: Optional[str], filters: dict,
                 periods: list, trend: Optional[dict]) -> ViewResult:
    """Summary of every area of ``level`` and, unless given, the trend frames per period."""
    table = summariser.summarise(level=level, period=period, filters=filters or None)
    for column in USAGE_SUMMARY_COLUMNS:
        if column not in table.columns:
            table[column] = float("nan")
    if trend is None:
        trend = {}
        for p in periods:
            frame = table if p == table.attrs.get("period") else summariser.summarise(
                level=level, period=p, filters=filters or None)
            trend[p] = _trend_frame(frame)
    return ViewResult((level, table.attrs.get("period"), _filters_key(filters)), table, trend)


def _filters_key(filters: dict) -> tuple:
    return tuple((k, tuple(sorted(str(v) for v in filters.get(k) or ()))) for k in FILTER_KEYS)


# --- map expressions ------------------------------------------------------------------

def area_expression(codes) -> str:
    values = ", ".join(QgsExpression.quotedValue(str(c)) for c in codes)
    return f"{QgsExpression.quotedColumnRef('area_code')} IN ({values})"


def device_expression(places, filters: dict, level: str) -> str:
    """Devices in ``places`` passing ``filters``; values are always quoted, never pasted.

    ``places``: borough names (level "borough") or (ward name, borough name) pairs.
    Filters compare like the summariser: trimmed, case-insensitive, null = "unknown".
    """
    ref, quote = QgsExpression.quotedColumnRef, QgsExpression.quotedValue
    if level == "borough":
        where = f"{ref('borough_name')} IN ({', '.join(quote(str(n)) for n in places)})"
    else:
        where = " OR ".join(f"({ref('ward_name')} = {quote(str(w))} AND "
                            f"{ref('borough_name')} = {quote(str(b))})" for w, b in places)
    clauses = [f"({where})"]
    for key in FILTER_KEYS:
        wanted = [str(v).strip().lower() for v in (filters.get(key) or ())]
        if wanted:
            clauses.append(f"lower(trim(coalesce({ref(key)}, {quote(UNKNOWN)}))) IN "
                           f"({', '.join(quote(v) for v in wanted)})")
    return " AND ".join(clauses)


# --- table model -------------------------------------------------------------------------

class SummaryTableModel(QAbstractTableModel):
    """Rows of a summary DataFrame; display text formatted, sort role numeric."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._frame = pd.DataFrame()
        self._columns: list = []
        self._values: list = []
        self._numeric: list = []
        self._definitions = definitions()
        self._locale = QLocale()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("SummaryTableModel", text)

    def labels(self) -> dict:
        return {
            "area_name": self.tr("Area"), "area_code": self.tr("Code"),
            "devices": self.tr("Devices"), "connectors": self.tr("Connectors"),
            "rapid_share_pct": self.tr("Rapid %"), "devices_per_10k": self.tr("Per 10k"),
            "population": self.tr("Population"), "sessions": self.tr("Sessions"),
            "kwh": self.tr("kWh"), "occupancy_pct": self.tr("Occupancy %"),
            "capacity_factor_pct": self.tr("Capacity factor %"),
            "share_no_usage_pct": self.tr("No usage data %"),
            "sessions_change_pct": self.tr("Sessions change %"),
            "occupancy_pct_change": self.tr("Occupancy change (pp)"),
            "uptime_pct": self.tr("Uptime %"),
            "status_observed_hours": self.tr("Uptime observed h"),
        }

    def set_frame(self, frame: pd.DataFrame, columns=TABLE_COLUMNS) -> None:
        self.beginResetModel()
        self._frame = frame.reset_index(drop=True)
        self._columns = [c for c in columns if c in frame.columns]
        self._values = [self._frame[c].to_numpy(object) for c in self._columns]
        self._numeric = [self._frame[c].dtype.kind in "iuf" for c in self._columns]
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        return self._frame

    def columns(self) -> list:
        return list(self._columns)

    def code_at(self, row: int) -> Optional[str]:
        if 0 <= row < len(self._frame):
            return str(self._frame.at[row, "area_code"])
        return None

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._columns)

    def _display(self, column: str, value) -> str:
        if _is_missing(value):
            return ""
        if isinstance(value, (int, np.integer)):
            return self._locale.toString(int(value))
        if isinstance(value, (float, np.floating)):
            return self._locale.toString(float(value), "f", _DECIMALS.get(column, 0))
        return str(value)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        try:
            if not index.isValid():
                return None
            row, col = index.row(), index.column()
            value = self._values[col][row]
            column = self._columns[col]
            if role == Qt.ItemDataRole.DisplayRole:
                if self._numeric[col] and _is_missing(value):
                    return self.tr("no data")   # unknown, which is not 0
                return self._display(column, value)
            if role == SORT_ROLE:
                if _is_missing(value):
                    return None        # an invalid variant sorts after every number
                if self._numeric[col]:
                    return float(value)
                return str(value)
            if role == CODE_ROLE:
                return self.code_at(row)
            if role == Qt.ItemDataRole.TextAlignmentRole and self._numeric[col]:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole and _is_missing(value) \
                    and self._numeric[col]:
                if column in ("uptime_pct", "status_observed_hours"):
                    return self.tr("Unknown: no observed working or not-working time for "
                                   "this area and period")
                return self.tr("Unknown: no usage record for this area and period")
        except Exception:  # noqa: BLE001 - a C++ virtual must not raise
            log.exception("Area summary table: data() failed")
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        try:
            if orientation != Qt.Orientation.Horizontal or not \
                    0 <= section < len(self._columns):
                return None
            column = self._columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return self.labels().get(column, column)
            if role == Qt.ItemDataRole.ToolTipRole:
                text = self._definitions.get(column)
                return f"{column}: {self.tr(text)}" if text else column
        except Exception:  # noqa: BLE001
            log.exception("Area summary table: headerData() failed")
        return None


# --- trend chart ---------------------------------------------------------------------------

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


# --- the dock --------------------------------------------------------------------------------

class AreaSummaryDock(QgsDockWidget):
    """Borough and ward summaries of the workspace store, linked to the map."""

    summaryChanged = pyqtSignal()            # the table shows a new summary
    areasSelected = pyqtSignal(str, list)    # level, area codes
    busyChanged = pyqtSignal(bool)           # a task started (True) or all ended (False)
    failed = pyqtSignal(str)                 # a task failed: the message shown

    def __init__(self, iface, parent=None, store_path=None):
        super().__init__(parent)
        self.iface = iface
        self._stale = False           # a refresh waits until the dock is shown
        self.setObjectName("EvChargepointsAreaSummaryDock")
        self.setWindowTitle(self.tr("Area summary"))
        self.level = "borough"
        self.borough: Optional[str] = None
        self.period: Optional[str] = None
        self.period_kind = "quarter"
        self.filters: dict = {k: [] for k in FILTER_KEYS}
        self.selected: list = []
        self.prepared: Optional[Prepared] = None
        self.view: Optional[ViewResult] = None
        self.task: Optional[CoreTask] = None
        self.view_task: Optional[CoreTask] = None
        self.last_resummary_ms: Optional[float] = None
        self.last_resummary_sync: Optional[bool] = None
        self._explicit_store: Optional[str] = str(store_path) if store_path else None
        self._store_path: Optional[str] = None
        self._prepared_cache: dict = {}
        self._trend_cache: dict = {}
        self._seq = 0
        self._view_seq = 0
        self._sync_depth = 0
        self._watched: dict = {}
        self._pending_state: Optional[dict] = None
        self._zoom_after_view: Optional[str] = None    # "borough" | "selection"
        self._shown_level: Optional[str] = None
        self._build()
        self._connect_project(QgsProject.instance())
        self._watch_layers()
        self.read_state()
        self.refresh()

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("AreaSummaryDock", text)

    def showEvent(self, event):
        try:
            super().showEvent(event)
            if self._stale:
                QTimer.singleShot(0, self._on_refresh)
        except Exception:  # noqa: BLE001 - a C++ virtual must not raise
            log.exception("Area summary: showing the dock failed")

    # --- widgets ----------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)

        header = QHBoxLayout()
        self.back_button = QToolButton(body)
        self.back_button.setText(self.tr("◂ Boroughs"))
        self.back_button.setToolTip(self.tr("Back to the boroughs"))
        self.back_button.setVisible(False)
        self.back_button.clicked.connect(self._on_back)
        self.title_label = QLabel(self.tr("Boroughs"), body)
        bold = QFont(self.title_label.font())
        bold.setBold(True)
        self.title_label.setFont(bold)
        self.drill_button = QToolButton(body)
        self.drill_button.setText(self.tr("Wards ▸"))
        self.drill_button.setToolTip(self.tr("Show the wards of the selected borough "
                                             "(or double-click a borough)"))
        self.drill_button.setEnabled(False)
        self.drill_button.clicked.connect(self._on_drill)
        self.refresh_button = QToolButton(body)
        self.refresh_button.setText(self.tr("Refresh"))
        self.refresh_button.setToolTip(self.tr("Read the workspace store again"))
        self.refresh_button.clicked.connect(self._on_refresh)
        header.addWidget(self.back_button)
        header.addWidget(self.title_label, 1)
        header.addWidget(self.drill_button)
        header.addWidget(self.refresh_button)
        layout.addLayout(header)

        grid = QGridLayout()
        self.period_kind_box = QComboBox(body)
        for kind, label in zip(PERIOD_KINDS, (self.tr("Months"), self.tr("Quarters"),
                                              self.tr("Years"))):
            self.period_kind_box.addItem(label, kind)
        self.period_kind_box.setCurrentIndex(PERIOD_KINDS.index(self.period_kind))
        self.period_kind_box.setToolTip(self.tr("Length of the usage periods"))
        self.period_kind_box.currentIndexChanged.connect(self._on_period_kind)
        self.period_box = QComboBox(body)
        self.period_box.setToolTip(self.tr("Usage period shown (UK time)"))
        self.period_box.setEnabled(False)
        self.period_box.currentIndexChanged.connect(self._on_period)
        self.operator_box = QgsCheckableComboBox(body)
        self.operator_box.setDefaultText(self.tr("All operators"))
        self.power_box = QgsCheckableComboBox(body)
        self.power_box.setDefaultText(self.tr("All power classes"))
        self.location_box = QgsCheckableComboBox(body)
        self.location_box.setDefaultText(self.tr("All location types"))
        self.filter_boxes = {"operator": self.operator_box, "power_class": self.power_box,
                             "location_type": self.location_box}
        for box in self.filter_boxes.values():
            box.checkedItemsChanged.connect(self._on_filters)
        grid.addWidget(QLabel(self.tr("Period"), body), 0, 0)
        grid.addWidget(self.period_kind_box, 0, 1)
        grid.addWidget(self.period_box, 0, 2)
        grid.addWidget(QLabel(self.tr("Operator"), body), 1, 0)
        grid.addWidget(self.operator_box, 1, 1, 1, 2)
        grid.addWidget(QLabel(self.tr("Power class"), body), 2, 0)
        grid.addWidget(self.power_box, 2, 1, 1, 2)
        grid.addWidget(QLabel(self.tr("Location type"), body), 3, 0)
        grid.addWidget(self.location_box, 3, 1, 1, 2)
        grid.setColumnStretch(2, 1)
        layout.addLayout(grid)

        self.model = SummaryTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setSortLocaleAware(True)
        self.table_view = QTableView(body)
        self.table_view.setModel(self.proxy)
        self.table_view.setSortingEnabled(True)
        self.table_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table_view.setAlternatingRowColors(True)
        self.table_view.verticalHeader().setVisible(False)
        self.table_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Interactive)
        self.table_view.horizontalHeader().setStretchLastSection(False)
        self.table_view.selectionModel().selectionChanged.connect(self._on_rows_selected)
        self.table_view.doubleClicked.connect(self._on_double_clicked)
        layout.addWidget(self.table_view, 3)

        self.chart = TrendChart(body)
        layout.addWidget(self.chart, 1)

        footer = QHBoxLayout()
        self.status_label = QLabel(body)
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.csv_button = QToolButton(body)
        self.csv_button.setText(self.tr("CSV…"))
        self.csv_button.setToolTip(self.tr("Export the table to CSV"))
        self.csv_button.clicked.connect(self._on_export_csv)
        self.xlsx_button = QToolButton(body)
        self.xlsx_button.setText(self.tr("XLSX…"))
        self.xlsx_button.setToolTip(self.tr("Export the table to an Excel workbook, with "
                                            "the definitions of every column"))
        self.xlsx_button.clicked.connect(self._on_export_xlsx)
        self.internal_box = QCheckBox(self.tr("Not for publication"), body)
        self.internal_box.setToolTip(self.tr(
            "Exports suppress the usage figures of areas with fewer devices than the "
            "disclosure threshold or a single operator (and a partner area where a "
            "published total would reveal one). Tick to keep every figure for internal "
            "use: the files then say \"INTERNAL – not for publication\". The table here "
            "always shows your data in full."))
        footer.addWidget(self.status_label, 1)
        footer.addWidget(self.internal_box)
        footer.addWidget(self.csv_button)
        footer.addWidget(self.xlsx_button)
        layout.addLayout(footer)
        self._set_export_enabled(False)
        self.setWidget(body)

    def _set_export_enabled(self, enabled: bool) -> None:
        self.csv_button.setEnabled(enabled)
        self.xlsx_button.setEnabled(enabled)

    def _show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b30000;" if error else "")

    @contextmanager
    def _syncing(self):
        self._sync_depth += 1
        try:
            yield
        finally:
            self._sync_depth -= 1

    # --- store and preparation --------------------------------------------------------

    def store_path(self) -> Optional[str]:
        """The store summarised: set explicitly, else the one the map layers came from."""
        if self._explicit_store:
            return self._explicit_store
        layer = self._layer("devices")
        stored = layer.customProperty(STORE_PROPERTY) if layer is not None else None
        return str(stored) if stored else None

    def set_store(self, path) -> None:
        """Summarise this store (instead of the loaded map's) and refresh."""
        self._explicit_store = str(path) if path else None
        self.refresh()

    def is_busy(self) -> bool:
        return self.task is not None or self.view_task is not None

    def refresh(self) -> None:
        """Prepare the summariser for the current store in a task (reused if unchanged).

        While the dock is hidden nothing is computed: the refresh happens when it
        is shown.
        """
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        store = self.store_path()
        if not store or not plugin_settings.store_exists(store):
            self._store_path = store
            self._show_message(self.tr("Load London charge points (or choose a store) to see "
                                       "area summaries."))
            return
        try:
            target = plugin_settings.target_for(store)
        except EvChargepointsError as exc:
            self._store_path = store
            self._show_message(exc.message, error=True)
            return
        self._seq += 1
        seq = self._seq
        self._store_path = store
        kind = self.period_kind
        known = self._prepared_cache.get((store, kind))
        if self.task is not None and not sip.isdeleted(self.task):
            self.task.cancel()           # its result is ignored: seq moved on
        self._show_message(self.tr("Preparing the summaries…"))
        self.task = start(CoreTask(
            self.tr("Preparing area summaries"),
            lambda progress, _feedback: prepare(store, kind, known, progress, target),
            lambda result: self._on_prepared(seq, result),
            lambda message: self._on_task_error(seq, message)))
        self.busyChanged.emit(True)

    @_slot
    def _on_prepared(self, seq: int, prepared: Prepared) -> None:
        if seq != self._seq:
            return
        self.task = None
        # one prepared summariser per period length, all of the store's current stamp
        self._prepared_cache = {key: value for key, value in self._prepared_cache.items()
                                if value.store_path == prepared.store_path
                                and value.stamp == prepared.stamp}
        self._prepared_cache[(prepared.store_path, prepared.period_kind)] = prepared
        if self.prepared is not prepared:
            self._trend_cache = {}
        self.prepared = prepared
        self._fill_choices(prepared)
        state, self._pending_state = self._pending_state, None
        if state is not None:
            self._take_state(state)
        self._sync_widgets()
        self.update_view()
        if not self.is_busy():
            self.busyChanged.emit(False)

    @_slot
    def _on_task_error(self, seq: int, message: str) -> None:
        if seq != self._seq:
            return
        self.task = None
        self._show_message(message, error=True)
        self.failed.emit(message)
        if not self.is_busy():
            self.busyChanged.emit(False)

    def _fill_choices(self, prepared: Prepared) -> None:
        labels = {"slow": self.tr("slow (3–7 kW)"), "fast": self.tr("fast (8–49 kW)"),
                  "rapid": self.tr("rapid (50–149 kW)"), "ultra": self.tr("ultra (150 kW+)"),
                  UNKNOWN: self.tr("unknown")}
        for key, box in self.filter_boxes.items():
            box.blockSignals(True)
            try:
                box.clear()
                for value, count in prepared.choices.get(key, []):
                    label = labels.get(value, value) if key == "power_class" else \
                        (self.tr("unknown") if value == UNKNOWN else value)
                    box.addItem(label, value)
                    box.setItemData(box.count() - 1, self.tr("{n} devices").format(
                        n=QLocale().toString(count)), Qt.ItemDataRole.ToolTipRole)
            finally:
                box.blockSignals(False)
        self.period_box.blockSignals(True)
        try:
            self.period_box.clear()
            for period in prepared.periods:
                self.period_box.addItem(period, period)
            if not prepared.periods:
                self.period_box.addItem(self.tr("no usage data"), None)
        finally:
            self.period_box.blockSignals(False)
        self.period_box.setEnabled(len(prepared.periods) > 1)

    def _sync_widgets(self) -> None:
        """Widgets show self.level/period/filters (values unknown to the data are dropped)."""
        prepared = self.prepared
        if prepared is not None:
            if self.period not in prepared.periods:
                self.period = prepared.latest if prepared.latest in prepared.periods else \
                    (prepared.periods[-1] if prepared.periods else None)
            for key in self.filter_boxes:
                known = {value.lower() for value, _ in prepared.choices.get(key, [])}
                self.filters[key] = [v for v in self.filters.get(key, [])
                                     if str(v).strip().lower() in known]
        for box in [self.period_box, self.period_kind_box, *self.filter_boxes.values()]:
            box.blockSignals(True)
        try:
            index = self.period_box.findData(self.period)
            if index >= 0:
                self.period_box.setCurrentIndex(index)
            self.period_kind_box.setCurrentIndex(PERIOD_KINDS.index(self.period_kind))
            for key, box in self.filter_boxes.items():
                wanted = {str(v).strip().lower() for v in self.filters.get(key, [])}
                for i in range(box.count()):
                    value = str(box.itemData(i)).strip().lower()
                    box.setItemCheckState(i, Qt.CheckState.Checked if value in wanted
                                          else Qt.CheckState.Unchecked)
        finally:
            for box in [self.period_box, self.period_kind_box, *self.filter_boxes.values()]:
                box.blockSignals(False)

    # --- summaries -----------------------------------------------------------------------

    def update_view(self) -> None:
        """Re-summarise for the current level, period and filters.

        On the main thread when the last measure says it takes under 50 ms,
        otherwise in a task.
        """
        prepared = self.prepared
        if prepared is None:
            return
        self._view_seq += 1
        seq = self._view_seq
        level, period = self.level, self.period
        filters = {k: list(v) for k, v in self.filters.items() if v}
        trend_key = (level, _filters_key(filters))
        trend = self._trend_cache.get(trend_key)
        calls = 1 + (len(prepared.periods) if trend is None else 0)
        estimate = calls * (self.last_resummary_ms if self.last_resummary_ms is not None
                            else prepared.resummary_ms)
        summariser, periods = prepared.summariser, list(prepared.periods)

        def work():
            began = time.perf_counter()
            result = compute_view(summariser, level, period, filters, periods, trend)
            return result, (time.perf_counter() - began) * 1000.0 / calls

        if estimate < SYNC_LIMIT_MS:
            self.last_resummary_sync = True
            result, per_call = work()
            self.last_resummary_ms = per_call
            self._show_view(seq, trend_key, result)
            return
        self.last_resummary_sync = False
        if self.view_task is not None and not sip.isdeleted(self.view_task):
            self.view_task.cancel()
        self._show_message(self.tr("Summarising…"))

        def done(outcome):
            result, per_call = outcome
            self.last_resummary_ms = per_call
            self._on_view_done(seq, trend_key, result)

        self.view_task = start(CoreTask(self.tr("Summarising areas"),
                                        lambda _progress, _feedback: work(), done,
                                        lambda message: self._on_view_error(seq, message)))
        self.busyChanged.emit(True)

    @_slot
    def _on_view_done(self, seq: int, trend_key: tuple, result: ViewResult) -> None:
        if seq != self._view_seq:
            return
        self.view_task = None
        self._show_view(seq, trend_key, result)
        if not self.is_busy():
            self.busyChanged.emit(False)

    @_slot
    def _on_view_error(self, seq: int, message: str) -> None:
        if seq != self._view_seq:
            return
        self.view_task = None
        self._show_message(message, error=True)
        self.failed.emit(message)
        if not self.is_busy():
            self.busyChanged.emit(False)

    def _show_view(self, seq: int, trend_key: tuple, result: ViewResult) -> None:
        self._trend_cache[trend_key] = result.trend
        self.view = result
        table = result.table
        if self.level == "ward":
            table = table[table["parent_code"] == self.borough]
        with self._syncing():
            self.model.set_frame(table)
            self.table_view.resizeColumnsToContents()
            self.table_view.scrollToTop()
            self._select_rows(self.selected)
        self.selected = [c for c in self.selected if c in set(table["area_code"])]
        self._update_header()
        self._update_status(result.table, table)
        self._set_export_enabled(True)
        if self._shown_level is not None and self._shown_level != self.level:
            self._clear_map_selection(LEVEL_ROLE[self._shown_level])
        self._shown_level = self.level
        self._select_on_map(self.selected, zoom=False)
        zoom, self._zoom_after_view = self._zoom_after_view, None
        if zoom == "borough":
            self._zoom_to_borough()
        elif zoom == "selection":
            self._zoom_to_selection()
        self._update_chart()
        self.summaryChanged.emit()

    def _update_header(self) -> None:
        ward_level = self.level == "ward"
        self.back_button.setVisible(ward_level)
        if ward_level:
            self.title_label.setText(self.tr("Wards of {borough}").format(
                borough=self._borough_name() or self.borough))
        else:
            self.title_label.setText(self.tr("Boroughs"))
        self.drill_button.setEnabled(not ward_level and len(self.selected) == 1)

    def _update_status(self, table: pd.DataFrame, shown: pd.DataFrame) -> None:
        prepared = self.prepared
        if prepared is None:
            return
        locale = QLocale()
        placed = locale.toString(int(shown["devices"].sum()))
        if self.level == "ward":
            text = self.tr("{placed} devices in the {n} wards of {borough}").format(
                placed=placed, n=len(shown), borough=self._borough_name() or self.borough)
        else:
            text = self.tr("{placed} of {total} devices in London's boroughs").format(
                placed=placed, total=locale.toString(prepared.devices_total))
        if any(self.filters.get(k) for k in FILTER_KEYS):
            text += " " + self.tr("(filtered)")
        if table.attrs.get("period"):
            text += " · " + table.attrs["period"]
        if prepared.synthetic_usage:
            text += " · " + self.tr("usage figures are SYNTHETIC")
        self._show_message(text)
        note = table.attrs.get("population_note") or ""
        self.status_label.setToolTip("\n".join(list(prepared.assignment_lines) + [note]))

    def _borough_name(self) -> Optional[str]:
        """Name of the drilled borough as the devices layer spells it (borough polygons)."""
        if self.borough is None:
            return None
        name = self._borough_names.get(self.borough)
        if name:
            return str(name)
        view = self.view
        if view is not None and self.level == "ward":
            names = view.table.loc[view.table["parent_code"] == self.borough, "parent_name"]
            if len(names) and not _is_missing(names.iloc[0]):
                return str(names.iloc[0])
        return None

    @property
    def _borough_names(self) -> dict:
        prepared = self.prepared
        if prepared is None:
            return {}
        areas = prepared.summariser.areas.get("borough")
        if areas is None:
            return {}
        return dict(zip(areas.table["area_code"], areas.table["area_name"]))

    def frame(self) -> pd.DataFrame:
        """The rows shown (the borough's wards at ward level), in the table's order."""
        order = [self.proxy.mapToSource(self.proxy.index(r, 0)).row()
                 for r in range(self.proxy.rowCount())]
        return self.model.frame().iloc[order].reset_index(drop=True)

    # --- navigation ----------------------------------------------------------------------

    def drill_down(self, borough_code: Optional[str] = None) -> None:
        """Show the wards of ``borough_code`` (default: the selected borough)."""
        if borough_code is None:
            if self.level != "borough" or len(self.selected) != 1:
                return
            borough_code = self.selected[0]
        self.borough = str(borough_code)
        self.level = "ward"
        self.selected = []
        self._zoom_after_view = "borough"
        self.update_view()

    def back_to_boroughs(self) -> None:
        if self.level == "borough":
            return
        borough = self.borough
        self.level = "borough"
        self.selected = [borough] if borough else []
        self._zoom_after_view = "selection" if borough else None
        self.update_view()

    def set_period(self, period: str) -> None:
        index = self.period_box.findData(period)
        if index < 0:
            raise ValueError(f"no period '{period}'")
        self.period_box.setCurrentIndex(index)   # -> _on_period

    def set_filters(self, filters: dict) -> None:
        """Check these values in the filter lists (unknown keys raise) and re-summarise."""
        for key in filters:
            if key not in FILTER_KEYS:
                raise ValueError(f"unknown filter '{key}'")
        self.filters = {k: list(filters.get(k) or []) for k in FILTER_KEYS}
        self._sync_widgets()
        self.update_view()

    # --- selection: table <-> map -----------------------------------------------------------

    def select_areas(self, codes, zoom: bool = True) -> None:
        """Select these areas of the current level in the table and on the map."""
        shown = set(self.model.frame().get("area_code", pd.Series(dtype=object)))
        self.selected = [str(c) for c in codes if str(c) in shown]
        with self._syncing():
            self._select_rows(self.selected)
        self._after_selection(zoom)

    def _after_selection(self, zoom: bool) -> None:
        self._update_header()
        self._select_on_map(self.selected, zoom=zoom)
        self._update_chart()
        self.areasSelected.emit(self.level, list(self.selected))

    def _select_rows(self, codes) -> None:
        wanted = set(codes)
        selection = QItemSelection()
        first = None
        last_column = max(0, self.model.columnCount() - 1)
        for row in range(self.model.rowCount()):
            if self.model.code_at(row) in wanted:
                left = self.proxy.mapFromSource(self.model.index(row, 0))
                right = self.proxy.mapFromSource(self.model.index(row, last_column))
                selection.select(left, right)
                if first is None or left.row() < first.row():
                    first = left
        model = self.table_view.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
                     | QItemSelectionModel.SelectionFlag.Rows)
        if first is not None:
            self.table_view.scrollTo(first)

    def _codes_of_selected_rows(self) -> list:
        rows = {self.proxy.mapToSource(i).row()
                for i in self.table_view.selectionModel().selectedRows()}
        return [self.model.code_at(r) for r in sorted(rows)]

    def _places(self, codes) -> list:
        table = self.model.frame()
        rows = table[table["area_code"].isin(list(codes))]
        if self.level == "borough":
            return [str(n) for n in rows["area_name"]]
        borough_name = self._borough_name()
        return [(str(w), str(borough_name)) for w in rows["area_name"]]

    def _select_on_map(self, codes, zoom: bool) -> None:
        area_layer = self._layer(LEVEL_ROLE[self.level])
        devices = self._layer("devices")
        with self._syncing():
            if area_layer is not None:
                if codes:
                    area_layer.selectByExpression(area_expression(codes))
                else:
                    area_layer.removeSelection()
            if devices is not None:
                places = self._places(codes) if codes else []
                if places:
                    devices.selectByExpression(device_expression(places, self.filters,
                                                                 self.level))
                else:
                    devices.removeSelection()
        if zoom and codes:
            self._zoom_to_selection()

    def _clear_map_selection(self, role: str) -> None:
        layer = self._layer(role)
        if layer is not None:
            with self._syncing():
                layer.removeSelection()

    def _zoom_to(self, layer: QgsVectorLayer, extent: QgsRectangle) -> None:
        canvas = self.iface.mapCanvas() if self.iface is not None else None
        if canvas is None or extent.isNull():
            return
        out = canvas.mapSettings().layerExtentToOutputExtent(layer, extent)
        out.scale(1.1)
        canvas.setExtent(out)
        canvas.refresh()

    def _zoom_to_selection(self) -> None:
        layer = self._layer(LEVEL_ROLE[self.level])
        if layer is not None and layer.selectedFeatureCount():
            self._zoom_to(layer, layer.boundingBoxOfSelected())

    def _zoom_to_borough(self) -> None:
        layer = self._layer("wards")
        codes = list(self.model.frame().get("area_code", []))
        if layer is None or not codes:
            return
        extent = QgsRectangle()
        extent.setNull()
        request = QgsFeatureRequest().setFilterExpression(area_expression(codes)) \
            .setNoAttributes()
        for feature in layer.getFeatures(request):
            if feature.hasGeometry():
                extent.combineExtentWith(feature.geometry().boundingBox())
        if not extent.isNull():
            self._zoom_to(layer, extent)

    # --- the chart -----------------------------------------------------------------------

    def _update_chart(self) -> None:
        view, prepared = self.view, self.prepared
        if view is None or prepared is None or not prepared.periods:
            self.chart.clear(self.tr("No usage data to chart"))
            return
        shown = list(self.model.frame().get("area_code", []))
        codes = self.selected or shown
        if self.selected:
            names = self.model.frame().set_index("area_code")["area_name"]
            title = str(names.get(codes[0], codes[0])) if len(codes) == 1 else \
                self.tr("{n} selected areas").format(n=len(codes))
        elif self.level == "ward":
            title = self.tr("All wards of {borough}").format(borough=self._borough_name())
        else:
            title = self.tr("All boroughs")
        periods, sessions, occupancy = [], [], []
        for period in prepared.periods:
            frame = view.trend.get(period)
            if frame is None:
                continue
            rows = frame.reindex(codes)
            s = rows["sessions"].to_numpy("float64") if "sessions" in rows else np.array([])
            plugged = rows["plugged_hours"].to_numpy("float64") \
                if "plugged_hours" in rows else np.array([])
            available = rows["available_hours"].to_numpy("float64") \
                if "available_hours" in rows else np.array([])
            known = np.isfinite(s)
            periods.append(period)
            sessions.append(float(np.nansum(s)) if known.any() else None)
            ok = np.isfinite(plugged) & np.isfinite(available)
            total = float(available[ok].sum()) if ok.any() else 0.0
            occupancy.append(100.0 * float(plugged[ok].sum()) / total if total > 0 else None)
        self.chart.set_series(title, periods, sessions, occupancy)

    # --- export --------------------------------------------------------------------------

    def export_frame(self) -> pd.DataFrame:
        """What the exports write: every summary column of the rows shown, plus the filters;
        usage figures masked for publication (:func:`~..core.workspace.publishable`)
        unless "Not for publication" is ticked."""
        frame = self.frame()
        if self.view is not None and self.prepared is not None:
            masked = publishable(self.view.table, self.prepared.summariser, self.level,
                                 self.filters, plugin_settings.load().disclosure_threshold,
                                 self._internal()).set_index("area_code", drop=False)
            frame = masked.loc[frame["area_code"]].reset_index(drop=True)
            frame.attrs = dict(masked.attrs)
        first = [c for c in TABLE_COLUMNS if c in frame.columns]
        frame = frame[first + [c for c in frame.columns if c not in first]].copy()
        frame["level"] = self.level
        for key in FILTER_KEYS:
            frame[f"filter_{key}"] = "; ".join(str(v) for v in self.filters.get(key) or [])
        return frame

    def _synthetic(self) -> bool:
        return self.prepared is not None and bool(self.prepared.synthetic_usage)

    def _internal(self) -> bool:
        return self.internal_box.isChecked()

    def export_csv(self, path) -> Path:
        return write_csv(self.export_frame(), path, synthetic=self._synthetic(),
                         internal=self._internal())

    def export_xlsx(self, path) -> Path:
        frame = self.export_frame()
        described = definitions()
        described.update({
            "level": self.tr("borough or ward"),
            "filter_operator": self.tr("Operators the figures are limited to (empty: all)."),
            "filter_power_class": self.tr("Power classes the figures are limited to "
                                          "(empty: all)."),
            "filter_location_type": self.tr("Location types the figures are limited to "
                                            "(empty: all)."),
        })
        glossary = pd.DataFrame({
            "column": list(frame.columns),
            "definition": [self.tr(described[c]) if c in described else "" for c in
                           frame.columns]})
        table = self.view.table if self.view is not None else frame
        about = [(self.tr("level"), self.level),
                 (self.tr("borough"), self._borough_name() or ""),
                 (self.tr("period"), table.attrs.get("period") or ""),
                 (self.tr("previous period"), table.attrs.get("previous_period") or ""),
                 (self.tr("boundaries"), table.attrs.get("boundary_version") or ""),
                 (self.tr("population"), table.attrs.get("population_note") or "")]
        for key in FILTER_KEYS:
            about.append((self.tr("filter {key}").format(key=key),
                          "; ".join(str(v) for v in self.filters.get(key) or [])))
        if self.prepared is not None:
            about.append((self.tr("store"), self.prepared.store_path))
            if self.prepared.synthetic_usage:
                about.append((self.tr("usage"), self.tr("SYNTHETIC usage figures")))
        about.append((self.tr("disclosure"), disclosure.INTERNAL_NOTE if self._internal()
                      else disclosure.note(plugin_settings.load().disclosure_threshold)))
        if self.prepared is not None:
            about.extend((self.tr("assignment"), line)
                         for line in self.prepared.assignment_lines)
        return write_xlsx(frame, path, sheet_name=self.tr("Summary"), extra_sheets={
            self.tr("Definitions"): glossary,
            self.tr("About"): pd.DataFrame(about, columns=["item", "value"])},
            synthetic=self._synthetic(), internal=self._internal())

    # --- project state -----------------------------------------------------------------------

    def state(self) -> dict:
        return {"level": self.level, "borough": self.borough, "period": self.period,
                "period_kind": self.period_kind,
                "filters": {k: list(self.filters.get(k) or []) for k in FILTER_KEYS},
                "selected": list(self.selected)}

    def restore_state(self, state: dict) -> None:
        """Apply a saved state now if the data is ready, else once it is."""
        state = _clean_state(state)
        if state["period_kind"] != self.period_kind:
            self.period_kind = state["period_kind"]
            self._pending_state = state
            self._sync_widgets()
            self.refresh()
            return
        if self.prepared is None or self.task is not None:
            self._pending_state = state
            return
        self._take_state(state)
        self._sync_widgets()
        self.update_view()

    def _take_state(self, state: dict) -> None:
        self.level = state["level"] if state["borough"] else "borough"
        self.borough = state["borough"]
        self.period = state["period"]
        self.period_kind = state["period_kind"]
        self.filters = state["filters"]
        self.selected = state["selected"]

    def write_state(self, project: Optional[QgsProject] = None) -> None:
        (project or QgsProject.instance()).writeEntry(PROJECT_SCOPE, PROJECT_KEY,
                                                      json.dumps(self.state()))

    def read_state(self, project: Optional[QgsProject] = None) -> bool:
        value, found = (project or QgsProject.instance()).readEntry(PROJECT_SCOPE,
                                                                    PROJECT_KEY, "")
        if not found or not value:
            return False
        try:
            state = json.loads(value)
        except ValueError:
            log.warning("Area summary: ignoring an unreadable saved state")
            return False
        self.restore_state(state)
        return True

    # --- project and layer signals -------------------------------------------------------------

    def _connect_project(self, project: QgsProject) -> None:
        self._project = project
        project.writeProject.connect(self._on_write_project)
        project.readProject.connect(self._on_read_project)
        project.layersAdded.connect(self._on_layers_added)
        project.layersWillBeRemoved.connect(self._on_layers_removed)
        project.cleared.connect(self._on_project_cleared)

    def cleanup(self) -> None:
        """What the plugin calls on unload (same as :meth:`unload`)."""
        self.unload()

    def unload(self) -> None:
        """Disconnect from the project and layers and cancel running tasks."""
        project = getattr(self, "_project", None)
        if project is not None:
            for signal, slot in ((project.writeProject, self._on_write_project),
                                 (project.readProject, self._on_read_project),
                                 (project.layersAdded, self._on_layers_added),
                                 (project.layersWillBeRemoved, self._on_layers_removed),
                                 (project.cleared, self._on_project_cleared)):
                try:
                    signal.disconnect(slot)
                except (TypeError, RuntimeError):
                    pass
            self._project = None
        for layer_id in list(self._watched):
            self._unwatch(layer_id)
        for task in (self.task, self.view_task):
            if task is not None and not sip.isdeleted(task):
                task.cancel()
        self._seq += 1
        self._view_seq += 1
        self.task = self.view_task = None

    def _layer(self, role: str) -> Optional[QgsVectorLayer]:
        project = getattr(self, "_project", None) or QgsProject.instance()
        preferred = self._explicit_store
        found = None
        for layer in project.mapLayers().values():
            if layer.customProperty(ROLE_PROPERTY) != role:
                continue
            if preferred is None or str(layer.customProperty(STORE_PROPERTY)) == preferred:
                return layer
            found = found or layer
        return found if preferred is None else None

    def _watch_layers(self) -> None:
        for role in LEVEL_ROLE.values():
            layer = self._layer(role)
            if layer is None or layer.id() in self._watched:
                continue
            slot = functools.partial(self._on_map_selection, role)
            layer.selectionChanged.connect(slot)
            self._watched[layer.id()] = (layer, slot)

    def _unwatch(self, layer_id: str) -> None:
        layer, slot = self._watched.pop(layer_id, (None, None))
        if layer is not None and not sip.isdeleted(layer):
            try:
                layer.selectionChanged.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    @_slot
    def _on_layers_added(self, layers) -> None:
        if not any(layer.customProperty(ROLE_PROPERTY) for layer in layers):
            return
        self._watch_layers()
        store = self.store_path()
        if store and (store != self._store_path or self.prepared is None) \
                and self.task is None:
            self.refresh()

    @_slot
    def _on_layers_removed(self, layer_ids) -> None:
        for layer_id in layer_ids:
            self._unwatch(layer_id)

    @_slot
    def _on_project_cleared(self) -> None:
        """A new (or another) project: forget this one's state and figures.

        Prepared summarisers stay cached, so reopening a project on the same
        store only checks the store's stamp.
        """
        if self._explicit_store:
            return
        self._seq += 1                  # results of running tasks are for the old project
        self._view_seq += 1
        was_busy = self.is_busy()
        self.task = self.view_task = None
        self.prepared = self.view = None
        self._store_path = None
        self._pending_state = None
        self._take_state(_clean_state({}))
        self._sync_widgets()
        self._shown_level = None
        self._zoom_after_view = None
        with self._syncing():
            self.model.set_frame(pd.DataFrame())
        self.chart.clear()
        self._set_export_enabled(False)
        self._update_header()
        self._show_message(self.tr("Load London charge points (or choose a store) to see "
                                   "area summaries."))
        if was_busy:
            self.busyChanged.emit(False)

    @_slot
    def _on_write_project(self, _document) -> None:
        self.write_state(self._project)

    @_slot
    def _on_read_project(self, _document) -> None:
        self._watch_layers()
        if not self.read_state(self._project):
            self.restore_state({})
        store = self.store_path()
        if store and store != self._store_path and self.task is None:
            self.refresh()

    @_slot
    def _on_map_selection(self, role: str, *_args) -> None:
        if self._sync_depth or role != LEVEL_ROLE[self.level]:
            return
        layer = self._layer(role)
        if layer is None:
            return
        request = QgsFeatureRequest().setNoAttributes()
        request.setSubsetOfAttributes(["area_code"], layer.fields())
        request.setFlags(Qgis.FeatureRequestFlag.NoGeometry)
        codes = sorted({str(f["area_code"]) for f in layer.getSelectedFeatures(request)})
        shown = set(self.model.frame().get("area_code", pd.Series(dtype=object)))
        self.selected = [c for c in codes if c in shown]
        with self._syncing():
            self._select_rows(self.selected)
            devices = self._layer("devices")
            if devices is not None:
                places = self._places(self.selected)
                if places:
                    devices.selectByExpression(device_expression(places, self.filters,
                                                                 self.level))
                else:
                    devices.removeSelection()
        self._update_header()
        self._update_chart()
        self.areasSelected.emit(self.level, list(self.selected))

    # --- widget slots ---------------------------------------------------------------------------

    @_slot
    def _on_rows_selected(self) -> None:
        if self._sync_depth:
            return
        self.selected = self._codes_of_selected_rows()
        self._after_selection(zoom=True)

    @_slot
    def _on_double_clicked(self, index) -> None:
        if self.level != "borough" or not index.isValid():
            return
        code = self.model.code_at(self.proxy.mapToSource(index).row())
        if code:
            self.drill_down(code)

    @_slot
    def _on_drill(self) -> None:
        self.drill_down()

    @_slot
    def _on_back(self) -> None:
        self.back_to_boroughs()

    @_slot
    def _on_refresh(self) -> None:
        self.refresh()

    @_slot
    def _on_period(self) -> None:
        period = self.period_box.currentData()
        if period and period != self.period:
            self.period = period
            self.update_view()

    @_slot
    def _on_period_kind(self) -> None:
        kind = self.period_kind_box.currentData()
        if kind and kind != self.period_kind:
            self.period_kind = kind
            self.period = None
            self.refresh()

    @_slot
    def _on_filters(self) -> None:
        self.filters = {key: [str(v) for v in box.checkedItemsData()]
                        for key, box in self.filter_boxes.items()}
        self.update_view()

    @_slot
    def _on_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the summary to CSV"),
                                              self._default_name("csv"),
                                              self.tr("CSV files (*.csv)"))
        if path:
            written = self.export_csv(path)
            self._show_message(self.tr("Written to {path}").format(path=written))

    @_slot
    def _on_export_xlsx(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the summary to Excel"),
                                              self._default_name("xlsx"),
                                              self.tr("Excel workbooks (*.xlsx)"))
        if path:
            if not path.lower().endswith(".xlsx"):
                path += ".xlsx"
            written = self.export_xlsx(path)
            self._show_message(self.tr("Written to {path}").format(path=written))

    def _default_name(self, extension: str) -> str:
        where = self.level if self.level == "borough" else \
            f"wards_{(self._borough_name() or 'borough').replace(' ', '_')}"
        period = self.period or "all"
        synthetic = "_SYNTHETIC" if self._synthetic() else ""
        internal = "_INTERNAL" if self._internal() else ""
        return f"summary_{where}_{period}{synthetic}{internal}.{extension}"


def _clean_state(state) -> dict:
    """A saved state with every key present and of the expected type."""
    state = state if isinstance(state, dict) else {}
    filters = state.get("filters") if isinstance(state.get("filters"), dict) else {}
    kind = state.get("period_kind")
    borough = state.get("borough")
    return {
        "level": "ward" if state.get("level") == "ward" else "borough",
        "borough": str(borough) if borough else None,
        "period": str(state["period"]) if state.get("period") else None,
        "period_kind": kind if kind in PERIOD_KINDS else "quarter",
        "filters": {k: [str(v) for v in filters.get(k) or [] if v is not None]
                    for k in FILTER_KEYS},
        "selected": [str(c) for c in state.get("selected") or [] if c is not None],
    }
