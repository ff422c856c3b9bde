"""The "Area summary" dock: boroughs and their wards, filters, map selection, trend, export.

The dock presents what ``Workspace.summariser`` computes; it never re-implements
the pipeline. Preparing a summariser (:func:`.worker.prepare`) runs in a
``CoreTask``; the prepared summariser is kept per store stamp and period length,
and re-summaries after a filter or period change run on the main thread only
while they are measured to take under 50 ms, else in a task too.

Its parts: the table (:mod:`.table_model`), the trend (:mod:`.trend_chart`), the
link to the map's layers (:mod:`.map_link`), what it shows and keeps in the
project (:mod:`.state`) and the exports (:mod:`.export`). A second tab, "Demand"
(:mod:`.demand_tab`), shows the public connectors a scenario needs per ward against
those there now, for the same store.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Optional

import pandas as pd
from qgis.core import QgsProject
from qgis.gui import QgsCheckableComboBox, QgsDockWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import (
    QCoreApplication,
    QLocale,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    pyqtSignal,
)
from qgis.PyQt.QtGui import QFont
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import EvChargepointsError
from ...qgis import settings as plugin_settings
from ...qgis.loader import STORE_PROPERTY
from ...qgis.tasks import CoreTask, start
from ..slots import disconnect_quietly
from . import summary_slot
from .demand_tab import DemandTab
from .export import ExportMixin
from .map_link import LEVEL_ROLE, MapLinkMixin
from .state import PERIOD_KINDS, DockStateMixin, clean_state
from .table_model import SORT_ROLE, SummaryTableModel, is_missing
from .trend_chart import TrendChart, trend_series
from .worker import FILTER_KEYS, UNKNOWN, Prepared, ViewResult, compute_view, filters_key, prepare

log = logging.getLogger(__name__)

SYNC_LIMIT_MS = 50.0          # re-summaries on the main thread only below this


class AreaSummaryDock(MapLinkMixin, DockStateMixin, ExportMixin, QgsDockWidget):
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
        self.tabs = QTabWidget(self)
        self.tabs.addTab(body, self.tr("Areas"))
        self.demand_tab = DemandTab(self, self.tabs)
        self.tabs.addTab(self.demand_tab, self.tr("Demand"))
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setWidget(self.tabs)

    @summary_slot
    def _on_tab_changed(self, _index) -> None:
        if self.tabs.currentWidget() is self.demand_tab:
            self.demand_tab.shown()

    def _set_export_enabled(self, enabled: bool) -> None:
        self.csv_button.setEnabled(enabled)
        self.xlsx_button.setEnabled(enabled)

    def _show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b30000;" if error else "")

    def _show_no_store(self) -> None:
        self._show_message(self.tr("Load London charge points (or choose a store) to see "
                                   "area summaries."))

    def slot_failed(self, text: str) -> None:
        """How a slot's unexpected failure is shown (see :func:`..slots.guarded_slot`)."""
        self._show_message(text, error=True)

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
        return self.task is not None or self.view_task is not None or \
            self.demand_tab.is_busy()

    def refresh(self) -> None:
        """Prepare the summariser for the current store in a task (reused if unchanged).

        While the dock is hidden nothing is computed: the refresh happens when it
        is shown. The demand tab reloads too (when it is shown).
        """
        self.demand_tab.refresh()
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        store = self.store_path()
        if not store or not plugin_settings.store_exists(store):
            self._store_path = store
            self._show_no_store()
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

    @summary_slot
    def _on_refresh(self) -> None:
        self.refresh()

    @summary_slot
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

    @summary_slot
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
        trend_key = (level, filters_key(filters))
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

    @summary_slot
    def _on_view_done(self, seq: int, trend_key: tuple, result: ViewResult) -> None:
        if seq != self._view_seq:
            return
        self.view_task = None
        self._show_view(seq, trend_key, result)
        if not self.is_busy():
            self.busyChanged.emit(False)

    @summary_slot
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
            if len(names) and not is_missing(names.iloc[0]):
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
        self.chart.set_series(title, *trend_series(view.trend, prepared.periods, codes))

    # --- the project ---------------------------------------------------------------------------

    def _connect_project(self, project: QgsProject) -> None:
        self._project = project
        project.writeProject.connect(self._on_write_project)
        project.readProject.connect(self._on_read_project)
        project.layersAdded.connect(self._on_layers_added)
        project.layersWillBeRemoved.connect(self._on_layers_removed)
        project.cleared.connect(self._on_project_cleared)
        self.demand_tab.connect_project(project)

    def cleanup(self) -> None:
        """What the plugin calls on unload (same as :meth:`unload`)."""
        self.unload()

    def unload(self) -> None:
        """Disconnect from the project and layers and cancel running tasks."""
        project = getattr(self, "_project", None)
        if project is not None:
            disconnect_quietly((project.writeProject, self._on_write_project),
                               (project.readProject, self._on_read_project),
                               (project.layersAdded, self._on_layers_added),
                               (project.layersWillBeRemoved, self._on_layers_removed),
                               (project.cleared, self._on_project_cleared))
            self._project = None
        self.demand_tab.unload()
        for layer_id in list(self._watched):
            self._unwatch(layer_id)
        for task in (self.task, self.view_task):
            if task is not None and not sip.isdeleted(task):
                task.cancel()
        self._seq += 1
        self._view_seq += 1
        self.task = self.view_task = None

    @summary_slot
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
        self._take_state(clean_state({}))
        self._sync_widgets()
        self._shown_level = None
        self._zoom_after_view = None
        with self._syncing():
            self.model.set_frame(pd.DataFrame())
        self.chart.clear()
        self._set_export_enabled(False)
        self._update_header()
        self._show_no_store()
        if was_busy:
            self.busyChanged.emit(False)
