"""The area summary's exports: the rows shown, to CSV or to an Excel workbook.

Usage figures are masked for publication (:func:`~...core.workspace.publishable`)
unless "Not for publication" is ticked; the files say so when the usage is
SYNTHETIC or the figures are internal.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import QFileDialog

from ...core.analysis.area_table import definitions
from ...core.outputs import disclosure
from ...core.outputs.tables import write_csv, write_xlsx
from ...core.workspace import publishable
from ...qgis import settings as plugin_settings
from . import summary_slot
from .table_model import TABLE_COLUMNS
from .worker import FILTER_KEYS

EXPORT_FILTER_COLUMNS = ("level", "filter_operator", "filter_power_class",
                         "filter_location_type")


# The texts are the dock's (translation context "AreaSummaryDock"); pylupdate reads
# _translate("Context", "text") as pyuic writes it.
_translate = QCoreApplication.translate


class ExportMixin:
    """The part of :class:`.dock.AreaSummaryDock` that writes what its table shows."""

    def export_frame(self) -> pd.DataFrame:
        """What the exports write: every summary column of the rows shown, plus the filters;
        usage figures masked for publication (:func:`~...core.workspace.publishable`)
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
            "level": _translate("AreaSummaryDock", "borough or ward"),
            "filter_operator": _translate(
                "AreaSummaryDock", "Operators the figures are limited to (empty: all)."),
            "filter_power_class": _translate(
                "AreaSummaryDock", "Power classes the figures are limited to (empty: all)."),
            "filter_location_type": _translate(
                "AreaSummaryDock", "Location types the figures are limited to (empty: all)."),
        })
        glossary = pd.DataFrame({
            "column": list(frame.columns),
            "definition": [_translate("AreaSummaryDock", described[c]) if c in described
                           else "" for c in frame.columns]})
        table = self.view.table if self.view is not None else frame
        about = [(_translate("AreaSummaryDock", "level"), self.level),
                 (_translate("AreaSummaryDock", "borough"), self._borough_name() or ""),
                 (_translate("AreaSummaryDock", "period"), table.attrs.get("period") or ""),
                 (_translate("AreaSummaryDock", "previous period"),
                  table.attrs.get("previous_period") or ""),
                 (_translate("AreaSummaryDock", "boundaries"),
                  table.attrs.get("boundary_version") or ""),
                 (_translate("AreaSummaryDock", "population"),
                  table.attrs.get("population_note") or "")]
        for key in FILTER_KEYS:
            about.append((_translate("AreaSummaryDock", "filter {key}").format(key=key),
                          "; ".join(str(v) for v in self.filters.get(key) or [])))
        if self.prepared is not None:
            about.append((_translate("AreaSummaryDock", "store"), self.prepared.store_path))
            if self.prepared.synthetic_usage:
                about.append((_translate("AreaSummaryDock", "usage"),
                              _translate("AreaSummaryDock", "SYNTHETIC usage figures")))
        about.append((_translate("AreaSummaryDock", "disclosure"),
                      disclosure.INTERNAL_NOTE if self._internal()
                      else disclosure.note(plugin_settings.load().disclosure_threshold)))
        if self.prepared is not None:
            about.extend((_translate("AreaSummaryDock", "assignment"), line)
                         for line in self.prepared.assignment_lines)
        return write_xlsx(
            frame, path, sheet_name=_translate("AreaSummaryDock", "Summary"), extra_sheets={
                _translate("AreaSummaryDock", "Definitions"): glossary,
                _translate("AreaSummaryDock", "About"): pd.DataFrame(
                    about, columns=["item", "value"])},
            synthetic=self._synthetic(), internal=self._internal())

    @summary_slot
    def _on_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, _translate("AreaSummaryDock", "Export the summary to CSV"),
            self._default_name("csv"), _translate("AreaSummaryDock", "CSV files (*.csv)"))
        if path:
            written = self.export_csv(path)
            self._show_message(
                _translate("AreaSummaryDock", "Written to {path}").format(path=written))

    @summary_slot
    def _on_export_xlsx(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, _translate("AreaSummaryDock", "Export the summary to Excel"),
            self._default_name("xlsx"),
            _translate("AreaSummaryDock", "Excel workbooks (*.xlsx)"))
        if path:
            if not path.lower().endswith(".xlsx"):
                path += ".xlsx"
            written = self.export_xlsx(path)
            self._show_message(
                _translate("AreaSummaryDock", "Written to {path}").format(path=written))

    def _default_name(self, extension: str) -> str:
        where = self.level if self.level == "borough" else \
            f"wards_{(self._borough_name() or 'borough').replace(' ', '_')}"
        period = self.period or "all"
        synthetic = "_SYNTHETIC" if self._synthetic() else ""
        internal = "_INTERNAL" if self._internal() else ""
        return f"summary_{where}_{period}{synthetic}{internal}.{extension}"
