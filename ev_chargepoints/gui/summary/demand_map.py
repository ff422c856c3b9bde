"""The Demand tab's ward layer (styled by gap, redrawn in place when a value changes)
and the scenarios the project keeps: :class:`DemandMapMixin`, mixed into
:class:`.demand_tab.DemandTab` (its table, scenario controls and loading)."""

from __future__ import annotations

import logging
from typing import Optional

import pandas as pd
from qgis.core import Qgis, QgsFeatureRequest, QgsProject, QgsVectorLayer

from ...core.analysis import demand
from ...core.errors import EvChargepointsError
from ...qgis.layers import GROUP_NAME
from ...qgis.styling import gap_renderer
from ...qgis.tables import cell_value, features_for, fields_for
from ..slots import disconnect_quietly
from . import summary_slot
from .state import PROJECT_SCOPE

log = logging.getLogger(__name__)

SCENARIOS_KEY = "demand_scenarios"     # list of Scenario.to_json()
SELECTED_KEY = "demand_scenario"       # name of the scenario chosen in the list
CURRENT_KEY = "demand_current"         # the values shown (that scenario, maybe adjusted)
LAYER_PROPERTY = "ev_chargepoints/demand_scenario"   # on the gap layer: its scenario JSON


def project_scenario(project: Optional[QgsProject] = None) -> demand.Scenario:
    """The demand scenario of the project's Demand tab, as it was left (its values, maybe
    adjusted), else the scenario chosen there, else the default preset: what the other
    docks weigh demand with."""
    project = project or QgsProject.instance()
    shown = _shown_scenario(project, warn=False)
    if shown is not None:
        return shown
    selected, _ = project.readEntry(PROJECT_SCOPE, SELECTED_KEY, "")
    return {**demand.PRESETS, **_saved_scenarios(project, warn=False)}.get(selected) \
        or demand.PRESETS[demand.DEFAULT_PRESET]


def _saved_scenarios(project: QgsProject, warn: bool = True) -> dict:
    """The user's scenarios saved in the project, by name (presets' names left out)."""
    texts, _ = project.readListEntry(PROJECT_SCOPE, SCENARIOS_KEY, [])
    saved = {}
    for text in texts or []:
        try:
            scenario = demand.Scenario.from_json(text)
        except (ValueError, TypeError) as exc:
            if warn:
                log.warning("Demand: ignoring a saved scenario that cannot be read (%s)", exc)
            continue
        if scenario.name not in demand.PRESETS:
            saved[scenario.name] = scenario
    return saved


def _shown_scenario(project: QgsProject, warn: bool = True) -> Optional[demand.Scenario]:
    """The values the Demand tab showed, as saved in the project; None if none (or
    unreadable)."""
    current, has_current = project.readEntry(PROJECT_SCOPE, CURRENT_KEY, "")
    if has_current and current:
        try:
            return demand.Scenario.from_json(current)
        except (ValueError, TypeError):
            if warn:
                log.warning("Demand: ignoring unreadable saved values")
    return None


class DemandMapMixin:
    """The layer and project side of the Demand tab (uses the tab's table, loaded
    inputs, scenario controls and tr())."""


    # --- the gap layer ----------------------------------------------------------------

    def layer_name(self, scenario: demand.Scenario) -> str:
        return self.tr("Demand gap per ward ({scenario})").format(scenario=scenario.name)

    def layer(self) -> Optional[QgsVectorLayer]:
        project = self._project or QgsProject.instance()
        layer = project.mapLayer(self.layer_id) if self.layer_id else None
        return layer if isinstance(layer, QgsVectorLayer) and layer.isValid() else None

    def show_on_map(self) -> QgsVectorLayer:
        """The ward layer styled by gap for the scenario shown (added to the project if
        not there yet; afterwards every change redraws it in place)."""
        layer = self.layer()
        if layer is not None:
            return layer
        table, loaded = self.table, self.loaded
        if table is None or loaded is None:
            raise EvChargepointsError(self.tr("No demand figures yet."))
        layer = QgsVectorLayer(f"MultiPolygon?crs={loaded.crs.authid()}", "demand", "memory")
        layer.dataProvider().addAttributes(fields_for(table).toList())
        layer.updateFields()
        self._fill(layer, table)
        project = self._project or QgsProject.instance()
        project.addMapLayer(layer, False)
        group = project.layerTreeRoot().findGroup(GROUP_NAME)
        (group or project.layerTreeRoot()).insertLayer(0, layer)
        self.layer_id = layer.id()
        self._style(layer, table)
        return layer

    def _fill(self, layer: QgsVectorLayer, table: pd.DataFrame) -> None:
        """One feature per ward: the polygon and the table's row."""
        shapes = [self.loaded.geometries.get(code) for code in table["area_code"]]
        layer.dataProvider().addFeatures(list(features_for(table, layer.fields(), shapes)))
        layer.updateExtents()
        self._fids = {}
        self._layer_table = table

    def _adopt_layer(self) -> None:
        """After a project is read: its gap layer (a memory layer comes back empty and is
        filled again) follows the scenario again."""
        project = self._project or QgsProject.instance()
        for layer in project.mapLayers().values():
            if isinstance(layer, QgsVectorLayer) and layer.customProperty(LAYER_PROPERTY):
                self.layer_id, self._fids, self._layer_table = layer.id(), {}, None
                return

    def update_layer(self) -> None:
        """Write the table's values into the gap layer's features (same features, same
        layer id), re-derive the gap classes and repaint."""
        layer, table = self.layer(), self.table
        if layer is None or table is None:
            return
        if layer.featureCount() == 0 and layer.fields().names() == list(table.columns):
            self._fill(layer, table)
        fid_of = self._fids.get(layer.id())
        if fid_of is None:
            request = QgsFeatureRequest().setFlags(Qgis.FeatureRequestFlag.NoGeometry)
            fid_of = {f["area_code"]: f.id() for f in layer.getFeatures(request)}
            self._fids = {layer.id(): fid_of}
        fields = layer.fields()
        # only the columns a scenario changes (and any a new store changed)
        index = {name: fields.indexOf(name) for name in table.columns
                 if fields.indexOf(name) >= 0}
        columns = {name: [cell_value(v) for v in table[name].to_numpy(object)]
                   for name in index if not self._same_column(name, table)}
        changes = {}
        for row, code in enumerate(table["area_code"]):
            fid = fid_of.get(code)
            if fid is not None and columns:
                changes[fid] = {index[name]: values[row] for name, values in columns.items()}
        if changes and not layer.dataProvider().changeAttributeValues(changes):
            raise EvChargepointsError(self.tr("The gap layer could not be updated."))
        self._layer_table = table
        self._style(layer, table)

    def _same_column(self, name: str, table: pd.DataFrame) -> bool:
        """Whether the gap layer already holds ``table[name]`` (same wards, same values)."""
        old = self._layer_table
        return old is not None and len(old) == len(table) and \
            old["area_code"].equals(table["area_code"]) and old[name].equals(table[name])

    def _style(self, layer: QgsVectorLayer, table: pd.DataFrame) -> None:
        scenario = demand.Scenario.from_dict(table.attrs["scenario"])
        layer.setName(self.layer_name(scenario))
        layer.setCustomProperty(LAYER_PROPERTY, scenario.to_json())
        metadata = layer.metadata()
        metadata.setAbstract("\n".join(table.attrs["notes"]))
        layer.setMetadata(metadata)
        layer.setRenderer(gap_renderer([cell_value(v) for v in table["gap"]]))
        layer.triggerRepaint()
        iface = getattr(self.dock, "iface", None)
        view = getattr(iface, "layerTreeView", None) if iface is not None else None
        tree = view() if callable(view) else None
        if tree is not None and hasattr(tree, "refreshLayerSymbology"):
            tree.refreshLayerSymbology(layer.id())
        layer.emitStyleChanged()

    @summary_slot
    def _on_show_on_map(self) -> None:
        self.show_on_map()

    # --- the project ------------------------------------------------------------------

    def connect_project(self, project: QgsProject) -> None:
        self._project = project
        project.writeProject.connect(self._on_write_project)
        project.readProject.connect(self._on_read_project)
        project.cleared.connect(self._on_project_cleared)

    def unload(self) -> None:
        project = self._project
        if project is not None:
            disconnect_quietly((project.writeProject, self._on_write_project),
                               (project.readProject, self._on_read_project),
                               (project.cleared, self._on_project_cleared))
            self._project = None
        self.cancel()

    def write_scenarios(self, project: Optional[QgsProject] = None) -> None:
        """The saved scenarios, the one chosen and the values shown, into the project."""
        project = project or self._project or QgsProject.instance()
        project.writeEntry(PROJECT_SCOPE, SCENARIOS_KEY,
                           [s.to_json() for _, s in sorted(self.user_scenarios.items())])
        self.write_current(project)

    def write_current(self, project: Optional[QgsProject] = None) -> None:
        """The scenario chosen and the values shown (the chosen one's where a scenario
        refuses them), into the project; also as soon as they change: the candidate
        sites dock weighs the demand gap with them."""
        project = project or self._project or QgsProject.instance()
        try:
            current = self.scenario().to_json()
        except ValueError:
            current = self._base.to_json()
        project.writeEntry(PROJECT_SCOPE, SELECTED_KEY, self._base.name)
        project.writeEntry(PROJECT_SCOPE, CURRENT_KEY, current)

    def read_scenarios(self, project: Optional[QgsProject] = None) -> bool:
        """Take the project's saved scenarios, chosen one and values; False if none."""
        project = project or self._project or QgsProject.instance()
        _, found = project.readListEntry(PROJECT_SCOPE, SCENARIOS_KEY, [])
        selected, has_selected = project.readEntry(PROJECT_SCOPE, SELECTED_KEY, "")
        if not (found or has_selected):
            return False
        self.user_scenarios = _saved_scenarios(project)
        base = self.scenarios().get(selected) or demand.PRESETS[demand.DEFAULT_PRESET]
        self._base = base
        self._fill_scenarios(base.name)
        self._set_controls(_shown_scenario(project) or base)
        return True

    def reset(self) -> None:
        """Presets only, the default one chosen; no gap layer."""
        self.user_scenarios = {}
        self._base = demand.PRESETS[demand.DEFAULT_PRESET]
        self._fill_scenarios(self._base.name)
        self._set_controls(self._base)
        self.layer_id = None

    @summary_slot
    def _on_write_project(self, _document) -> None:
        self.write_scenarios(self._project)

    @summary_slot
    def _on_read_project(self, _document) -> None:
        if not self.read_scenarios(self._project):
            self.reset()
        self._adopt_layer()
        self.recompute()

    @summary_slot
    def _on_project_cleared(self) -> None:
        self.reset()
        if getattr(self.dock, "_explicit_store", None):
            self.recompute()
            return
        self.cancel()
        self._stale = True
        self._clear(self.tr("Load London charge points (or choose a store) to see the "
                            "demand per ward."))
