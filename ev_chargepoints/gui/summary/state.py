"""What the area summary shows, set from its controls and kept in the project.

The level (boroughs, or the wards of one borough), the period and its length,
the filters and the selected areas: the dock's controls change them, its
widgets show them, and the project keeps them (scope ``ev_chargepoints``, key
``summary_dock``) so that reopening a project shows the same summary.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from qgis.core import QgsProject
from qgis.PyQt.QtCore import Qt

from . import summary_slot
from .worker import FILTER_KEYS

log = logging.getLogger(__name__)

PROJECT_SCOPE = "ev_chargepoints"
PROJECT_KEY = "summary_dock"
PERIOD_KINDS = ("month", "quarter", "year")


def clean_state(state) -> dict:
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


class DockStateMixin:
    """The part of :class:`.dock.AreaSummaryDock` that keeps its level, borough, period,
    filters and selection: navigation, the period and filter controls, the project."""

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

    # --- the controls -----------------------------------------------------------------

    @summary_slot
    def _on_double_clicked(self, index) -> None:
        if self.level != "borough" or not index.isValid():
            return
        code = self.model.code_at(self.proxy.mapToSource(index).row())
        if code:
            self.drill_down(code)

    @summary_slot
    def _on_drill(self) -> None:
        self.drill_down()

    @summary_slot
    def _on_back(self) -> None:
        self.back_to_boroughs()

    @summary_slot
    def _on_period(self) -> None:
        period = self.period_box.currentData()
        if period and period != self.period:
            self.period = period
            self.update_view()

    @summary_slot
    def _on_period_kind(self) -> None:
        kind = self.period_kind_box.currentData()
        if kind and kind != self.period_kind:
            self.period_kind = kind
            self.period = None
            self.refresh()

    @summary_slot
    def _on_filters(self) -> None:
        self.filters = {key: [str(v) for v in box.checkedItemsData()]
                        for key, box in self.filter_boxes.items()}
        self.update_view()

    # --- the project ------------------------------------------------------------------

    def state(self) -> dict:
        return {"level": self.level, "borough": self.borough, "period": self.period,
                "period_kind": self.period_kind,
                "filters": {k: list(self.filters.get(k) or []) for k in FILTER_KEYS},
                "selected": list(self.selected)}

    def restore_state(self, state: dict) -> None:
        """Apply a saved state now if the data is ready, else once it is."""
        state = clean_state(state)
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

    @summary_slot
    def _on_write_project(self, _document) -> None:
        self.write_state(self._project)

    @summary_slot
    def _on_read_project(self, _document) -> None:
        self._watch_layers()
        if not self.read_state(self._project):
            self.restore_state({})
        store = self.store_path()
        if store and store != self._store_path and self.task is None:
            self.refresh()
