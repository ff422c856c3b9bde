"""The area summary's table model: the rows of a summary, formatted, sorting by number."""

from __future__ import annotations

import logging
import math
from typing import Optional

import numpy as np
import pandas as pd
from qgis.PyQt.QtCore import QAbstractTableModel, QCoreApplication, QLocale, QModelIndex, Qt

from ...core.analysis.area_table import definitions

log = logging.getLogger(__name__)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CODE_ROLE = Qt.ItemDataRole.UserRole + 2
TABLE_COLUMNS = ("area_name", "area_code", "devices", "connectors", "rapid_share_pct",
                 "devices_per_10k", "population", "sessions", "kwh", "occupancy_pct",
                 "capacity_factor_pct", "share_no_usage_pct", "sessions_change_pct",
                 "occupancy_pct_change", "uptime_pct", "status_observed_hours")
_DECIMALS = {"rapid_share_pct": 1, "devices_per_10k": 2, "connectors_per_10k": 2,
             "devices_per_km2": 2, "area_km2": 2, "occupancy_pct": 1,
             "capacity_factor_pct": 1, "share_no_usage_pct": 1, "sessions_change_pct": 1,
             "kwh_change_pct": 1, "occupancy_pct_change": 1, "prev_occupancy_pct": 1,
             "sessions_per_device": 1, "uptime_pct": 2, "status_observed_hours": 1}


def is_missing(value) -> bool:
    """None, NaT or NaN: a figure nobody reported (which is not 0)."""
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


class SummaryTableModel(QAbstractTableModel):
    """Rows of a summary DataFrame; display text formatted, sort role numeric."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._frame = pd.DataFrame()
        self._columns: list = []
        self._values: list = []
        self._rows = 0
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
        self._rows = len(self._frame)
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
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._columns)

    def _display(self, column: str, value) -> str:
        if is_missing(value):
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
                if self._numeric[col] and is_missing(value):
                    return self.tr("no data")   # unknown, which is not 0
                return self._display(column, value)
            if role == SORT_ROLE:
                if is_missing(value):
                    return None        # an invalid variant sorts after every number
                if self._numeric[col]:
                    return float(value)
                return str(value)
            if role == CODE_ROLE:
                return self.code_at(row)
            if role == Qt.ItemDataRole.TextAlignmentRole and self._numeric[col]:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if role == Qt.ItemDataRole.ToolTipRole and is_missing(value) \
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
