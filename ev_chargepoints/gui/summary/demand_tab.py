"""The summary dock's "Demand" tab: public connectors a scenario needs per ward, against
those there now, and the gap (issue #24), in a table and on a ward layer styled by gap.

The figures come from the core (:mod:`ev_chargepoints.core.analysis.demand`): the
inputs of every ward (``Workspace.demand_inputs``: store and areas read once, in a
``CoreTask``) and then :meth:`~.demand.WardInputs.table_for` any scenario, on the main
thread (a few ms for London's 633 wards). A changed value redraws the ward layer in
place: new attribute values through its provider, classes re-derived from the new gaps
(:func:`ev_chargepoints.qgis.styling.gap_renderer`), same layer id.

Scenarios: the core's presets plus the user's own ("Save scenario as…"), which the
project keeps (scope ``ev_chargepoints``; each scenario as :meth:`~.demand.Scenario.to_json`,
numbers and a name only) with the one selected and the values shown.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Optional

import pandas as pd
from qgis.core import QgsProject
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication, QLocale, Qt
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.analysis import demand
from ...core.errors import EvChargepointsError
from ...core.progress import Progress
from ...core.workspace import Workspace
from ...qgis import settings as plugin_settings
from ...qgis.areas import bundled_geometries
from ...qgis.tasks import CoreTask, start
from . import summary_slot
from .demand_map import DemandMapMixin
from .table_model import SummaryTableModel

log = logging.getLogger(__name__)

# the core's DEMAND_COLUMNS: the ward, what a narrow dock must show (needed, now, gap),
# then how the need is made up
TABLE_COLUMNS = ("area_name", "connectors_needed", "connectors_now", "gap", "public_evs",
                 "evs", "cars", "area_code")
HOUSING_MIX = -5.0                     # the share box's minimum: "each ward's housing mix"


@dataclass
class DemandLoaded:
    """What the task reads: every ward's inputs and the ward polygons."""

    store_path: str
    stamp: int
    inputs: demand.WardInputs
    geometries: dict
    crs: object
    load_ms: float = 0.0


def ward_geometries():
    """The bundled 2018 wards' polygons by code (the ones ``demand_inputs`` reads by
    default), as the Processing algorithm writes them."""
    return bundled_geometries("ward")


def load(store_path: str, known: Optional[DemandLoaded], progress: Progress,
         target=None) -> DemandLoaded:
    """Worker: the ward inputs of the store's current stamp (``known`` if unchanged)."""
    began = time.perf_counter()
    with Workspace(target if target is not None else store_path, create=False) as ws:
        stamp = ws.store_stamp()
        if known is not None and known.store_path == store_path and known.stamp == stamp:
            return known
        inputs = ws.demand_inputs(progress=progress.scaled(0, 90))
    if known is not None:
        geometries, crs = known.geometries, known.crs
    else:
        geometries, crs = ward_geometries()
    return DemandLoaded(store_path, stamp, inputs, geometries, crs,
                        (time.perf_counter() - began) * 1000.0)


class DemandTableModel(SummaryTableModel):
    """The demand table: the summary table's formatting and numeric sort, its own
    headings."""

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("DemandTableModel", text)

    def labels(self) -> dict:
        return {"area_name": self.tr("Ward"), "area_code": self.tr("Code"),
                "cars": self.tr("Cars"), "evs": self.tr("EVs"),
                "public_evs": self.tr("EVs on public charging"),
                "connectors_needed": self.tr("Needed"), "connectors_now": self.tr("Now"),
                "gap": self.tr("Gap")}

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        try:
            if role == Qt.ItemDataRole.ToolTipRole and \
                    orientation == Qt.Orientation.Horizontal and \
                    0 <= section < len(self._columns):
                column = self._columns[section]
                return f"{column}: {self.definitions().get(column, '')}".rstrip(": ")
        except Exception:  # noqa: BLE001 - a C++ virtual must not raise
            log.exception("Demand table: headerData() failed")
            return None
        return super().headerData(section, orientation, role)

    def definitions(self) -> dict:
        return {
            "cars": self.tr("household spaces (2011) × cars per household (2011)"),
            "evs": self.tr("cars × share of cars that are electric"),
            "public_evs": self.tr("EVs × share without off-street parking (EVs relying "
                                  "on public charging)"),
            "connectors_needed": self.tr("EVs on public charging × kWh per EV a day ÷ what "
                                         "one connector delivers a day, rounded up"),
            "connectors_now": self.tr("connectors of the store's reconciled devices in "
                                      "the ward"),
            "gap": self.tr("needed − now (negative: more than the scenario needs)"),
        }

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            try:
                note = self._frame.at[index.row(), "demand_note"]
                if note:
                    return str(note)
            except (KeyError, ValueError):
                pass
        return super().data(index, role)


class DemandTab(DemandMapMixin, QWidget):
    """Scenario controls, the demand table with London's totals, the inputs behind the
    figures, and the ward layer styled by gap."""

    def __init__(self, dock, parent=None):
        super().__init__(parent)
        self.dock = dock
        self.loaded: Optional[DemandLoaded] = None
        self.table: Optional[pd.DataFrame] = None
        self.task: Optional[CoreTask] = None
        self.user_scenarios: dict = {}
        self.last_recompute_ms: Optional[float] = None
        self.layer_id: Optional[str] = None
        self._base: demand.Scenario = demand.PRESETS[demand.DEFAULT_PRESET]
        self._stale = True
        self._seq = 0
        self.sort_column, self.sort_descending = "gap", True
        self._fids: dict = {}           # gap layer id -> feature id of each ward code
        self._layer_table: Optional[pd.DataFrame] = None    # the values the layer holds
        self._project: Optional[QgsProject] = None
        self._build()
        self._set_controls(self._base)

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("DemandTab", text)

    # --- widgets ----------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.scenario_box = QComboBox(self)
        self.scenario_box.setToolTip(self.tr("A preset or a scenario you saved; change "
                                             "any value below"))
        self.scenario_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.save_button = QToolButton(self)
        self.save_button.setText(self.tr("Save scenario as…"))
        self.save_button.setToolTip(self.tr("Name the values shown; the project keeps "
                                            "the scenario"))
        self.save_button.clicked.connect(self._on_save)
        self.delete_button = QToolButton(self)
        self.delete_button.setText(self.tr("Delete"))
        self.delete_button.setToolTip(self.tr("Delete the saved scenario chosen (presets "
                                              "stay)"))
        self.delete_button.clicked.connect(self._on_delete)
        top.addWidget(QLabel(self.tr("Scenario"), self))
        top.addWidget(self.scenario_box, 1)
        top.addWidget(self.save_button)
        top.addWidget(self.delete_button)
        layout.addLayout(top)

        def spin(low, high, step, decimals, suffix, tip):
            box = QDoubleSpinBox(self)
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setDecimals(decimals)
            box.setSuffix(suffix)
            box.setToolTip(tip)
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._on_value)
            return box

        self.ev_share_box = spin(0.0, 100.0, 5.0, 1, " %",
                                 self.tr("Share of cars that are electric"))
        self.offstreet_box = spin(HOUSING_MIX, 100.0, 5.0, 1, " %", self.tr(
            "Share of EVs without off-street parking, the same in every ward; at the "
            "bottom of the range: each ward's share of flats and terraced houses"))
        self.offstreet_box.setSpecialValueText(self.tr("each ward's housing mix"))
        self.factor_box = spin(0.0, 5.0, 0.1, 2, "", self.tr(
            "Factor on each ward's share of flats and terraced houses (capped at 100 %)"))
        self.kwh_box = spin(0.1, 100.0, 0.5, 1, self.tr(" kWh"),
                            self.tr("Energy per EV a day"))
        self.kw_box = spin(0.1, 400.0, 1.0, 1, self.tr(" kW"),
                           self.tr("Rated power of a public connector"))
        self.occupancy_box = spin(1.0, 100.0, 5.0, 1, " %", self.tr(
            "Target occupancy of a public connector: share of the day it charges"))
        # scenario field, box, scale (box value = field value x scale)
        self.controls = [("ev_share", self.ev_share_box, 100.0),
                         ("no_offstreet_share", self.offstreet_box, 100.0),
                         ("no_offstreet_factor", self.factor_box, 1.0),
                         ("kwh_per_ev_day", self.kwh_box, 1.0),
                         ("connector_kw", self.kw_box, 1.0),
                         ("target_occupancy", self.occupancy_box, 100.0)]
        grid = QGridLayout()
        rows = [(self.tr("Cars electric"), self.ev_share_box),
                (self.tr("No off-street parking"), self.offstreet_box),
                (self.tr("× factor"), self.factor_box),
                (self.tr("Per EV a day"), self.kwh_box),
                (self.tr("Connector"), self.kw_box),
                (self.tr("Target occupancy"), self.occupancy_box)]
        for i, (label, box) in enumerate(rows):
            grid.addWidget(QLabel(label, self), i // 2, (i % 2) * 2)
            grid.addWidget(box, i // 2, (i % 2) * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        layout.addLayout(grid)

        self.model = DemandTableModel(self)
        self.table_view = QTableView(self)
        self.table_view.setModel(self.model)
        # sorted by pandas (a proxy's sort asks Python for every comparison: 0.5 s)
        header = self.table_view.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(TABLE_COLUMNS.index(self.sort_column),
                                Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._on_sort)
        self.table_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table_view.setAlternatingRowColors(True)
        self.table_view.verticalHeader().setVisible(False)
        self.table_view.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Interactive)
        self.table_view.horizontalHeader().setResizeContentsPrecision(100)
        layout.addWidget(self.table_view, 3)

        self.totals_label = QLabel(self)
        self.totals_label.setWordWrap(True)
        self.inputs_label = QLabel(self)
        self.inputs_label.setWordWrap(True)
        self.inputs_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.inputs_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.inputs_label.setStyleSheet("color: #404040;")
        layout.addWidget(self.totals_label)
        layout.addWidget(self.inputs_label)

        footer = QHBoxLayout()
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.map_button = QToolButton(self)
        self.map_button.setText(self.tr("Show on map"))
        self.map_button.setToolTip(self.tr("Add a ward layer styled by gap; it follows "
                                           "the scenario"))
        self.map_button.setEnabled(False)
        self.map_button.clicked.connect(self._on_show_on_map)
        footer.addWidget(self.status_label, 1)
        footer.addWidget(self.map_button)
        layout.addLayout(footer)
        self._fill_scenarios()
        self.scenario_box.currentIndexChanged.connect(self._on_scenario)

    def _fill_scenarios(self, select: Optional[str] = None) -> None:
        select = select or self._base.name
        self.scenario_box.blockSignals(True)
        try:
            self.scenario_box.clear()
            for name in demand.PRESETS:
                self.scenario_box.addItem(name, name)
            if self.user_scenarios:
                self.scenario_box.insertSeparator(self.scenario_box.count())
                for name in sorted(self.user_scenarios, key=str.casefold):
                    self.scenario_box.addItem(name, name)
            index = self.scenario_box.findData(select)
            self.scenario_box.setCurrentIndex(max(index, 0))
        finally:
            self.scenario_box.blockSignals(False)
        self._update_delete()

    def _update_delete(self) -> None:
        self.delete_button.setEnabled(self.scenario_box.currentData() in self.user_scenarios)

    def _show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b30000;" if error else "")

    def slot_failed(self, text: str) -> None:
        self._show_message(text, error=True)

    # --- scenarios --------------------------------------------------------------------

    def scenarios(self) -> dict:
        """Every scenario offered: presets, then the user's."""
        return {**demand.PRESETS, **self.user_scenarios}

    def _set_controls(self, scenario: demand.Scenario) -> None:
        for name, box, scale in self.controls:
            value = getattr(scenario, name)
            box.blockSignals(True)
            try:
                box.setValue(HOUSING_MIX if value is None else float(value) * scale)
            finally:
                box.blockSignals(False)
        self.factor_box.setEnabled(scenario.no_offstreet_share is None)

    def scenario(self) -> demand.Scenario:
        """The scenario the controls show: the chosen one with the values changed, named
        as the command line and Processing name it ("<name>, adjusted: ev_share=0.3")."""
        base = self._base
        changes, cleared = {}, False
        for name, box, scale in self.controls:
            shown = box.value()
            if name == "no_offstreet_share" and shown < 0:      # the "housing mix" end
                cleared = base.no_offstreet_share is not None
                continue
            was = getattr(base, name)
            if was is not None and round(float(was) * scale, box.decimals()) == shown:
                continue
            changes[name] = round(shown / scale, box.decimals() + 3)
        scenario = demand.scenario_for(None, base, **changes)
        if cleared:
            said = "no_offstreet_share=each ward's housing mix"
            name = f"{scenario.name}, {said}" if changes else f"{base.name}, adjusted: {said}"
            scenario = replace(scenario, no_offstreet_share=None, name=name)
        return scenario

    def select_scenario(self, name: str) -> None:
        """Choose a preset or saved scenario by name: its values are shown and used."""
        index = self.scenario_box.findData(name)
        if index < 0:
            raise ValueError(f"no scenario '{name}'")
        if index == self.scenario_box.currentIndex():
            self._take_scenario(name)
        else:
            self.scenario_box.setCurrentIndex(index)    # -> _on_scenario

    def set_values(self, **values) -> None:
        """Set control values as scenario fields (ev_share=0.3, no_offstreet_share=None,
        ...) and recompute once, as a user changing them would."""
        known = {name: (box, scale) for name, box, scale in self.controls}
        for name in values:
            if name not in known:
                raise ValueError(f"unknown scenario value '{name}'; known: {sorted(known)}")
        for name, value in values.items():
            box, scale = known[name]
            box.blockSignals(True)
            try:
                box.setValue(HOUSING_MIX if value is None else float(value) * scale)
            finally:
                box.blockSignals(False)
        self._on_value()

    def save_scenario(self, name: str) -> demand.Scenario:
        """Keep the values shown as a scenario called ``name`` (replacing a saved one of
        that name; a preset's name is refused), choose it and write it to the project."""
        name = (name or "").strip()
        if not name:
            raise EvChargepointsError(self.tr("A scenario needs a name."))
        if name in demand.PRESETS:
            raise EvChargepointsError(self.tr(
                "'{name}' is a preset; choose another name.").format(name=name))
        scenario = replace(self.scenario(), name=name)
        self.user_scenarios[name] = scenario
        self._base = scenario
        self._fill_scenarios(name)
        self.write_scenarios()
        self.recompute()
        return scenario

    def delete_scenario(self, name: str) -> None:
        """Forget the saved scenario ``name`` (a preset's name is refused); the default
        preset is chosen when it was the one shown, and the project is updated."""
        if name in demand.PRESETS:
            raise EvChargepointsError(self.tr(
                "'{name}' is a preset; only saved scenarios can be deleted.").format(name=name))
        if name not in self.user_scenarios:
            raise EvChargepointsError(self.tr("There is no saved scenario '{name}'.").format(
                name=name))
        del self.user_scenarios[name]
        if self._base.name == name:
            self._base = demand.PRESETS[demand.DEFAULT_PRESET]
            self._set_controls(self._base)
        self._fill_scenarios(self._base.name)
        self.write_scenarios()
        self.recompute()

    def _take_scenario(self, name: str) -> None:
        self._base = self.scenarios()[name]
        self._update_delete()
        self._set_controls(self._base)
        self.recompute()
        self.write_current()

    @summary_slot
    def _on_scenario(self) -> None:
        name = self.scenario_box.currentData()
        if name in self.scenarios():
            self._take_scenario(name)

    @summary_slot
    def _on_value(self) -> None:
        self.factor_box.setEnabled(self.offstreet_box.value() < 0)
        self.recompute()
        self.write_current()

    @summary_slot
    def _on_save(self) -> None:
        name, ok = QInputDialog.getText(self, self.tr("Save scenario as"),
                                        self.tr("Name of the scenario"),
                                        text=self.scenario().name)
        if ok:
            try:
                self.save_scenario(name)
            except EvChargepointsError as exc:
                self._show_message(exc.message, error=True)

    @summary_slot
    def _on_delete(self) -> None:
        name = self.scenario_box.currentData()
        if name not in self.user_scenarios:
            self._show_message(self.tr("Only saved scenarios can be deleted; presets stay."))
            return
        answer = QMessageBox.question(
            self, self.tr("Delete scenario"),
            self.tr("Delete the saved scenario '{name}' from this project?").format(name=name))
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_scenario(name)

    # --- loading ----------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self.task is not None

    def is_current(self) -> bool:
        tabs = getattr(self.dock, "tabs", None)
        return tabs is not None and tabs.currentWidget() is self and self.dock.isVisible()

    def refresh(self, force: bool = False) -> None:
        """Read the ward inputs of the dock's store in a task (kept while the store's
        stamp is unchanged). Only while the tab is shown (or ``force``): otherwise when
        it is next shown."""
        if not force and not self.is_current():
            self._stale = True
            return
        self._stale = False
        store = self.dock.store_path()
        if not store or not plugin_settings.store_exists(store):
            self._clear(self.tr("Load London charge points (or choose a store) to see "
                                "the demand per ward."))
            return
        try:
            target = plugin_settings.target_for(store)
        except EvChargepointsError as exc:
            self._clear(exc.message, error=True)
            return
        self._seq += 1
        seq = self._seq
        known = self.loaded
        if self.task is not None and not sip.isdeleted(self.task):
            self.task.cancel()            # its result is ignored: seq moved on
        self._show_message(self.tr("Reading the wards' figures…"))
        self.task = start(CoreTask(
            self.tr("Preparing the demand per ward"),
            lambda progress, _feedback: load(store, known, progress, target),
            lambda result: self._on_loaded(seq, result),
            lambda message: self._on_load_error(seq, message)))
        self.dock.busyChanged.emit(True)

    def shown(self) -> None:
        """The tab became visible: load what a refresh left for then."""
        if self._stale:
            self.refresh()

    @summary_slot
    def _on_loaded(self, seq: int, loaded: DemandLoaded) -> None:
        if seq != self._seq:
            return
        self.task = None
        self.loaded = loaded
        self.map_button.setEnabled(True)
        self.recompute()
        self._task_ended()

    @summary_slot
    def _on_load_error(self, seq: int, message: str) -> None:
        if seq != self._seq:
            return
        self.task = None
        self._show_message(message, error=True)
        self.dock.failed.emit(message)
        self._task_ended()

    def _task_ended(self) -> None:
        if not self.dock.is_busy():
            self.dock.busyChanged.emit(False)

    def cancel(self) -> None:
        """Stop reading the wards' figures (what was shown stays)."""
        self._seq += 1                    # first: a queued task ends within cancel()
        task, self.task = self.task, None
        if task is not None and not sip.isdeleted(task):
            task.cancel()
        was = task is not None
        if was:
            self._show_message(self.tr("Cancelled."))
            self._task_ended()

    def _clear(self, message: str, error: bool = False) -> None:
        self.table = None
        self.model.set_frame(pd.DataFrame(), TABLE_COLUMNS)
        self.totals_label.clear()
        self.inputs_label.clear()
        self.map_button.setEnabled(False)
        self._show_message(message, error)

    # --- figures ----------------------------------------------------------------------

    def recompute(self) -> Optional[pd.DataFrame]:
        """The table (and the gap layer, if there is one) for the scenario shown:
        :meth:`~.demand.WardInputs.table_for` on the main thread."""
        if self.loaded is None or self.loaded.store_path != self.dock.store_path():
            return None
        began = time.perf_counter()
        try:
            scenario = self.scenario()
        except ValueError as exc:
            self._show_message(str(exc), error=True)
            return None
        table = self.loaded.inputs.table_for(scenario)
        self.table = table
        first = self.model.rowCount() == 0
        self._present()
        if first:
            self.table_view.resizeColumnsToContents()
        self._show_totals(table)
        self.inputs_label.setText("\n".join(table.attrs["notes"]))
        self.update_layer()
        self.last_recompute_ms = (time.perf_counter() - began) * 1000.0
        missing = table.attrs["missing"]
        self._show_message(self.tr("{n} wards without ward-profile figures: left blank")
                           .format(n=len(missing)) if missing else "")
        return table

    def _show_totals(self, table: pd.DataFrame) -> None:
        totals, locale = table.attrs["totals"], QLocale()
        self.totals_label.setText(self.tr(
            "London: {needed} connectors needed, {now} now, gap {gap} ({short} of {n} "
            "wards short)").format(
            needed=locale.toString(totals["connectors_needed"]),
            now=locale.toString(totals["connectors_now"]), gap=locale.toString(totals["gap"]),
            short=locale.toString(totals["wards_short"]), n=locale.toString(len(table))))

    def _present(self) -> None:
        """The table into the view, in the order the header asks for (blanks last)."""
        table = self.table
        if table is None:
            return
        column = self.sort_column
        key = (lambda s: s.astype(str).str.casefold()) if table[column].dtype == object \
            else None
        self.model.set_frame(table.sort_values(column, ascending=not self.sort_descending,
                                               na_position="last", kind="stable", key=key),
                             TABLE_COLUMNS)

    @summary_slot
    def _on_sort(self, section: int, order) -> None:
        if 0 <= section < len(TABLE_COLUMNS):
            self.sort_column = TABLE_COLUMNS[section]
            self.sort_descending = order == Qt.SortOrder.DescendingOrder
            self._present()

    def frame(self) -> pd.DataFrame:
        """The demand table shown (every ward, in the table's order)."""
        return self.model.frame().reset_index(drop=True)
