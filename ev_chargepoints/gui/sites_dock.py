"""The "Candidate sites" dock: buffer analysis that follows the map tool.

A ``CoreTask`` prepares an :class:`~.analyser.IncrementalSiteAnalyser`
through the Workspace facade (devices, utilisation, population grid; a few
seconds). Once it is ready every site added or moved with the map tool is
analysed on the main thread in milliseconds and the table, the catchment layer
and the scores follow. The dock keeps its settings (distances, weights,
candidates layer, street network, walk) in the project under
``ev_chargepoints/sites_dock``.

With a street network (a line layer of the project or a GeoPackage) the network is
built once in a task (:func:`..qgis.street_network.street_network`, or the core's
``read_network`` for a file) and kept while the dock is open; it is built again when
another network is chosen or the layer's features change (a commit, a new filter).
The analyser then adds the walking figures, and the "Walking catchments" layer holds
one polygon per site: a site added or moved with the map tool gets its polygon
computed again, the others keep theirs (many at once: in a task).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Optional

import pandas as pd
from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsProject,
    QgsVectorLayer,
)
from qgis.gui import QgsDockWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtWidgets import (
    QFileDialog,
    QTableWidgetItem,
)

from ..core.analysis import site_files
from ..core.analysis.siting.analyser import DEFAULT_WEIGHTS, IncrementalSiteAnalyser
from ..core.analysis.siting.network import walk_metres
from ..core.analysis.siting.sites import sites_from_points
from ..core.errors import EvChargepointsError
from ..core.workspace import Workspace
from ..qgis import settings as plugin_settings
from ..qgis.loader import ROLE_PROPERTY, STORE_PROPERTY
from ..qgis.tasks import CoreTask, start
from .site_tool import SiteMapTool, scratch_layer
from .sites_form import WALK_M, SitesDockForm
from .sites_results import (
    NumberItem,
    catchment_layer,
    fill_catchments,
    fill_table,
    table_frame,
)
from .sites_walking import SitesWalkingMixin, slot
from .slots import disconnect_quietly
from .summary.demand_map import project_scenario

log = logging.getLogger(__name__)

SCOPE, KEY = "ev_chargepoints", "sites_dock"
BNG = "EPSG:27700"


class CandidateSitesDock(SitesDockForm, SitesWalkingMixin, QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__(parent)
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.setObjectName("EvChargepointsCandidateSitesDock")
        self.setWindowTitle(self.tr("Candidate sites"))
        self.store_path: Optional[str] = None  # default: the map's store, then the settings
        self.synthetic_usage = False  # the prepared store holds SYNTHETIC usage
        self.analyser: Optional[IncrementalSiteAnalyser] = None
        self._template: Optional[IncrementalSiteAnalyser] = None
        self._layer: Optional[QgsVectorLayer] = None
        self._buffer_layer: Optional[QgsVectorLayer] = None
        self._walking_layer: Optional[QgsVectorLayer] = None
        # the street network: what is chosen, what is built (kept while the dock is open)
        self._network_choice = None        # None | ("layer", layer id) | ("file", path)
        self._network_layer: Optional[QgsVectorLayer] = None  # watched for changes
        self._network = None               # the built StreetNetwork
        self._network_for = None           # the choice it was built from
        self._network_attribution = ""
        self.network_seconds: Optional[float] = None
        self.networks_built = 0            # how many times a network was built
        self._prepared_key = None
        # walking polygons by site: {site_id: record with x, y, wkb ...} for _walk_key
        self._walk_shapes: dict = {}
        self._walk_key = None
        self._walk_pending: set = set()
        self.last_walk_computed: list = []  # the sites whose polygon the last update drew
        self.tasks: list = []
        self.last_update_ms: Optional[float] = None  # analysis + table + catchments
        self.last_analysis_ms: Optional[float] = None  # the analyser's part
        self.prepare_seconds: Optional[float] = None
        self.suggestions: Optional[pd.DataFrame] = None
        self.result: Optional[pd.DataFrame] = None
        self.tool = SiteMapTool(self.canvas)
        self.tool.siteAdded.connect(self._site_added)
        self.tool.siteMoved.connect(self._site_moved)
        self.tool.failed.connect(lambda message: self.report(message,
                                                             Qgis.MessageLevel.Critical))
        self.tool.deactivated.connect(lambda: self.tool_button.setChecked(False))
        # before the network combo connects to it: a removed network layer means no
        # network, not whichever line layer the combo shows next
        QgsProject.instance().layersWillBeRemoved.connect(self._layers_removing)
        self._build()
        self._restore_state()
        QgsProject.instance().readProject.connect(self._project_read)
        self.visibilityChanged.connect(self._shown)

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("CandidateSitesDock", text)

    # --- messages ----------------------------------------------------------------------

    def report(self, text: str, level=Qgis.MessageLevel.Info) -> None:
        self.status.setText(text)
        if level != Qgis.MessageLevel.Info:
            self.iface.messageBar().pushMessage(self.tr("EV Charge Points"), text, level)

    def slot_failed(self, text: str) -> None:
        """How a slot's unexpected failure is shown (see :func:`.slots.guarded_slot`)."""
        self.report(text, Qgis.MessageLevel.Critical)

    # --- settings --------------------------------------------------------------------

    def distances(self) -> list[float]:
        primary = float(self.distance_spin.value())
        return [primary] + [d for d, box in self.ring_boxes.items()
                            if box.isChecked() and d != primary]

    def weights(self) -> dict[str, float]:
        return {name: float(spin.value()) for name, spin in self.weight_spins.items()}

    def walk_m(self) -> float:
        """The walk distance in metres (minutes at 4.8 km/h: :func:`walk_metres`)."""
        value = float(self.walk_spin.value())
        return walk_metres(value) if self.walk_unit.currentData() == "min" else value

    def set_walk(self, value: float, unit: str = "m") -> None:
        """Set the walk distance in metres (``unit`` "m") or minutes ("min")."""
        self.walk_unit.setCurrentIndex(max(0, self.walk_unit.findData(unit)))
        self.walk_spin.setValue(float(value))
        self._walk_changed()

    def _set_walk_range(self, unit: str) -> None:
        if unit == "min":
            self.walk_spin.setRange(0.5, 120)
            self.walk_spin.setDecimals(1)
            self.walk_spin.setSingleStep(1)
            self.walk_spin.setSuffix(self.tr(" min"))
        else:
            self.walk_spin.setRange(10, 10_000)
            self.walk_spin.setDecimals(0)
            self.walk_spin.setSingleStep(50)
            self.walk_spin.setSuffix(" m")

    def network_choice(self):
        """None (straight line only), ("layer", layer id) or ("file", path)."""
        layer = self.network_combo.currentLayer()
        if layer is not None:
            return ("layer", layer.id())
        text = self.network_combo.currentText()
        if text and text in self.network_combo.additionalItems():
            return ("file", text)
        return None

    def state(self) -> dict:
        choice = self.network_choice()
        network = None if choice is None else \
            {"layer_id": choice[1]} if choice[0] == "layer" else {"file": choice[1]}
        return {"distances": self.distances(), "weights": self.weights(),
                "layer_id": self._layer.id() if self._layer is not None else None,
                "network": network, "walk": float(self.walk_spin.value()),
                "walk_unit": self.walk_unit.currentData()}

    def _save_state(self) -> None:
        QgsProject.instance().writeEntry(SCOPE, KEY, json.dumps(self.state()))

    def _restore_state(self) -> None:
        text, ok = QgsProject.instance().readEntry(SCOPE, KEY, "")
        if not ok or not text:
            return
        try:
            state = json.loads(text)
        except ValueError:
            log.warning("Candidate sites: the project's saved dock state is not JSON; ignored")
            return
        distances = [float(d) for d in state.get("distances") or [400.0]]
        widgets = [self.distance_spin, *self.ring_boxes.values(), *self.weight_spins.values(),
                   self.network_combo, self.walk_spin, self.walk_unit]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.distance_spin.setValue(distances[0])
            for ring, box in self.ring_boxes.items():
                box.setChecked(ring in distances[1:])
            for name, value in (state.get("weights") or {}).items():
                if name in self.weight_spins:
                    self.weight_spins[name].setValue(float(value))
            unit = "min" if state.get("walk_unit") == "min" else "m"
            self.walk_unit.setCurrentIndex(self.walk_unit.findData(unit))
            self._set_walk_range(unit)
            self.walk_spin.setValue(float(state.get("walk") or WALK_M))
            self._restore_network(state.get("network") or {})
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._network_chosen(save=False)
        layer = QgsProject.instance().mapLayer(state.get("layer_id") or "")
        if isinstance(layer, QgsVectorLayer):
            self.set_sites_layer(layer)

    def _restore_network(self, saved: dict) -> None:
        layer = QgsProject.instance().mapLayer(saved.get("layer_id") or "")
        path = saved.get("file")
        if isinstance(layer, QgsVectorLayer):
            self.network_combo.setLayer(layer)
        elif path:
            self.network_combo.setAdditionalItems([str(path)])
            self.network_combo.setCurrentIndex(self.network_combo.findText(str(path)))
        else:
            self.network_combo.setLayer(None)

    @slot
    def _project_read(self, *_args) -> None:
        self._restore_state()

    # --- layer -----------------------------------------------------------------------

    def sites_layer(self) -> Optional[QgsVectorLayer]:
        return self._layer

    def set_sites_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        self.layer_combo.setLayer(layer)
        if layer is not self._layer:  # the combo did not emit (same layer, or not listed)
            self._layer_chosen(layer)

    @slot
    def _use_scratch(self, *_args) -> None:
        self.set_sites_layer(scratch_layer())

    @slot
    def _layer_chosen(self, layer) -> None:
        if layer is self._layer:
            return
        self._disconnect_layer()
        self._layer = layer
        self.tool.setLayer(layer)
        if layer is not None:
            layer.featuresDeleted.connect(self._features_deleted)
            layer.afterCommitChanges.connect(self._reload)
            layer.afterRollBack.connect(self._reload)
        self._save_state()
        if self.analyser is not None:
            self.reload_sites()
        elif layer is not None:
            self.prepare()

    def _disconnect_layer(self) -> None:
        layer = self._layer
        if layer is None:
            return
        disconnect_quietly((layer.featuresDeleted, self._features_deleted),
                           (layer.afterCommitChanges, self._reload),
                           (layer.afterRollBack, self._reload))

    @slot
    def _tool_toggled(self, checked: bool) -> None:
        if checked:
            if self._layer is None:
                self.set_sites_layer(scratch_layer())
            self.canvas.setMapTool(self.tool)
            if self.analyser is None and not self._preparing():
                self.prepare()
        elif self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)

    def _analysis_key(self):
        """What a prepared analyser depends on: distances, network (built), walk and the
        project's demand scenario (the summary dock's Demand tab)."""
        scenario = project_scenario().to_json()
        choice = self.network_choice()
        if choice is None:
            return (tuple(self.distances()), None, None, None, scenario)
        return (tuple(self.distances()), choice, self.walk_m(), id(self.network()), scenario)

    def _settings_changed(self) -> None:
        """Distances, network or walk changed: prepare again if the analyser is stale."""
        if self._prepared_key == self._analysis_key() and self._template is not None:
            return
        self.analyser = None
        self._template = None
        choice = self.network_choice()
        if choice is not None and self.network() is None:
            self.build_network()  # then prepares
        elif self._layer is not None and not self._preparing():
            self.prepare()

    # --- preparation (task) --------------------------------------------------------------

    def _store(self) -> str:
        """The store reference: set explicitly, else the map's, else the settings'."""
        if self.store_path:
            return str(self.store_path)
        for layer in QgsProject.instance().mapLayers().values():
            if layer.customProperty(ROLE_PROPERTY) == "devices" and \
                    layer.customProperty(STORE_PROPERTY):
                return str(layer.customProperty(STORE_PROPERTY))
        return plugin_settings.store_reference()

    def _store_target(self, store: str):
        """The store to open (credentials read here, on the main thread), or None after
        saying why not."""
        try:
            return plugin_settings.target_for(store)
        except EvChargepointsError as exc:
            self.report(exc.message, Qgis.MessageLevel.Warning)
            return None

    def _preparing(self) -> bool:
        return any(getattr(t, "_sites_running", False) for t in self.tasks)

    def prepare(self) -> Optional[CoreTask]:
        """Prepare the analyser in a task, then analyse the layer's sites."""
        store = self._store()
        if not store:
            self.report(self.tr("There is no store at {path}; load London charge points "
                                "first.").format(path=store), Qgis.MessageLevel.Warning)
            return None
        choice = self.network_choice()
        if choice is not None and self.network() is None:
            return self.build_network()  # prepares when built
        target = self._store_target(store)
        if target is None:
            return None
        distances = self.distances()
        network, walk = self.network(), self.walk_m()
        key = self._analysis_key()

        scenario = project_scenario()

        def work(progress, _feedback):
            with Workspace(target, create=False) as ws:
                # demand always prepared, so the demand-gap weight works live
                return ws.site_analyser(distances, progress=progress, network=network,
                                        walk_m=walk, scenario=scenario), \
                    ws.has_synthetic_usage()

        self.report(self.tr("Preparing the candidate-site analysis (devices, usage, "
                            "population)…"))
        started = time.perf_counter()
        task = CoreTask(self.tr("Preparing candidate-site analysis"), work,
                        lambda result: self._prepared(task, *result, key, started),
                        lambda message: self._task_failed(task, message))
        task._sites_running = True
        self.tasks.append(task)
        return start(task)

    @slot
    def _prepared(self, task, analyser, synthetic, key, started) -> None:
        self._forget(task)
        self.synthetic_usage = synthetic
        self.prepare_seconds = time.perf_counter() - started
        analyser.weights = self._valid_weights(self.weights())  # as they are now
        self._template = analyser
        self._prepared_key = key
        self.analyser = None
        if key != self._analysis_key():  # distances, network or walk changed meanwhile
            self._template = None
            self.prepare()
            return
        self.reload_sites()
        self.report(self.tr("Ready ({s:.1f} s). {n} sites analysed.").format(
            s=self.prepare_seconds, n=len(self.analyser.sites)) + self._unwalked_text())

    @slot
    def _task_failed(self, task, message: str) -> None:
        self._forget(task)
        self.report(message, Qgis.MessageLevel.Warning)

    def _forget(self, task) -> None:
        task._sites_running = False
        if task in self.tasks:
            self.tasks.remove(task)

    def is_ready(self) -> bool:
        return self.analyser is not None

    # --- sites -> analyser ---------------------------------------------------------------

    def _layer_sites(self, layer):
        """Every feature of ``layer`` as a site (its feature id), in EPSG:27700."""
        transform = self._transform(layer)
        ids, xs, ys = [], [], []
        for feature in layer.getFeatures():
            x, y = self._xy(layer, feature, transform)
            ids.append(str(feature.id()))
            xs.append(x)
            ys.append(y)
        return sites_from_points(xs, ys, ids)

    def _transform(self, layer) -> QgsCoordinateTransform:
        return QgsCoordinateTransform(layer.crs(), QgsCoordinateReferenceSystem(BNG),
                                      QgsProject.instance())

    def _xy(self, layer, feature, transform=None):
        geometry = QgsGeometry(feature.geometry())
        if geometry.isNull() or geometry.isEmpty():
            return math.nan, math.nan
        geometry.transform(transform or self._transform(layer))
        point = geometry.asMultiPoint()[0] if geometry.isMultipart() else geometry.asPoint()
        return point.x(), point.y()

    def reload_sites(self) -> None:
        """Analyse every site of the layer afresh (after a commit, a new layer ...)."""
        if self._template is None:
            return
        template = self._template
        shared = [template.population]  # read-only: shared, not copied
        if template.walking is not None:
            shared.append(template.walking.network)
        analyser = copy.deepcopy(template, {id(o): o for o in shared})
        layer = self._layer
        if layer is not None and layer.isValid():
            sites = self._layer_sites(layer)
            if len(sites):
                analyser.add_sites(sites)
        self.analyser = analyser
        self.refresh()

    @slot
    def _reload(self, *_args) -> None:
        self.reload_sites()

    def _timed(self, change) -> None:
        started = time.perf_counter()
        change()
        analysed = time.perf_counter()
        self.refresh()
        self.last_analysis_ms = 1000 * (analysed - started)
        self.last_update_ms = 1000 * (time.perf_counter() - started)
        self.status.setText(self.tr("{n} sites; updated in {ms:.0f} ms.").format(
            n=len(self.analyser.sites), ms=self.last_update_ms) + self._unwalked_text())

    def _unwalked_text(self) -> str:
        """What the status adds when sites have no street of the network within the walk
        (their walking figures are blank, their note says why), else ""."""
        unwalked = site_files.unwalked_sites(self.result) if self.result is not None else []
        if not unwalked:
            return ""
        return " " + self.tr("{n} with no street of the network within {walk:g} m: their "
                             "walking figures are blank (see note).").format(
            n=len(unwalked), walk=self.analyser.walking.distance_m)

    @slot
    def _site_added(self, fid: int) -> None:
        if self.analyser is None:
            return  # analysed with the whole layer once the analysis is ready
        x, y = self._xy(self._layer, self._layer.getFeature(fid))
        self._timed(lambda: self.analyser.add_site(x, y, site_id=str(fid)))

    @slot
    def _site_moved(self, fid: int) -> None:
        if self.analyser is None:
            return
        x, y = self._xy(self._layer, self._layer.getFeature(fid))
        if str(fid) in set(self.analyser.sites["site_id"]):
            self._timed(lambda: self.analyser.move_site(str(fid), x, y))
        else:
            self._timed(lambda: self.analyser.add_site(x, y, site_id=str(fid)))

    @slot
    def _features_deleted(self, fids) -> None:
        if self.analyser is None:
            return
        present = set(self.analyser.sites["site_id"])
        gone = [str(f) for f in fids if str(f) in present]
        if gone:
            self._timed(lambda: [self.analyser.remove_site(s) for s in gone])

    @staticmethod
    def _valid_weights(weights: dict) -> dict:
        return weights if any(v > 0 for v in weights.values()) else dict(DEFAULT_WEIGHTS)

    @slot
    def _weights_changed(self) -> None:
        self._save_state()
        weights = self.weights()
        if not any(v > 0 for v in weights.values()):
            self.report(self.tr("Give at least one weight above 0."), Qgis.MessageLevel.Warning)
            return
        for analyser in (self.analyser, self._template):
            if analyser is not None:
                analyser.weights = dict(weights)
        if self._template is not None and self._prepared_key != self._analysis_key():
            self._settings_changed()  # the Demand tab's scenario changed: prepare again
        elif self.analyser is not None:
            self.refresh()

    @slot
    def _shown(self, visible: bool) -> None:
        """Back on screen: prepare again if the Demand tab's scenario changed meanwhile."""
        if visible and self._template is not None and \
                self._prepared_key != self._analysis_key() and not self._preparing():
            self._settings_changed()

    @slot
    def _distances_changed(self) -> None:
        self._save_state()
        self._settings_changed()

    # --- results -----------------------------------------------------------------

    def refresh(self) -> None:
        """Table and catchment layer from the analyser's current figures."""
        if self.analyser is None:
            return
        distances = self.analyser.distances
        long = self.analyser.table()
        self.result = site_files.wide(long, distances)
        self._columns = fill_table(self.table, self.result, distances, self._columns)
        fill_catchments(self.buffer_layer(), long)
        self._refresh_walking()

    def table_frame(self) -> pd.DataFrame:
        """What the results table shows, as text, in its current row order."""
        return table_frame(self.table)

    def buffer_layer(self) -> QgsVectorLayer:
        """The catchment layer (made again if it left the project)."""
        self._buffer_layer = catchment_layer(self._buffer_layer)
        return self._buffer_layer

    # --- suggestions and export ---------------------------------------------------------

    def suggest(self) -> Optional[CoreTask]:
        """Greedy picks among the layer's sites (in a task); listed with their gains."""
        layer = self._layer
        store = self._store()
        if layer is None or not layer.featureCount():
            self.report(self.tr("The sites layer has no sites to choose from."),
                        Qgis.MessageLevel.Warning)
            return None
        candidates = self._layer_sites(layer)
        k, distance = self.k_spin.value(), self.distances()[0]
        target = self._store_target(store)
        if target is None:
            return None

        def work(progress, _feedback):
            with Workspace(target, create=False) as ws:
                return ws.suggest_sites(candidates, k, distance, progress=progress)

        task = CoreTask(self.tr("Suggesting candidate sites"), work,
                        lambda picks: self._suggested(task, picks, k),
                        lambda message: self._task_failed(task, message))
        self.tasks.append(task)
        self.report(self.tr("Choosing {k} sites…").format(k=k))
        return start(task)

    @slot
    def _suggested(self, task, picks: pd.DataFrame, k: int) -> None:
        self._forget(task)
        self.suggestions = picks
        self.suggest_table.setRowCount(len(picks))
        for i, row in enumerate(picks.itertuples(index=False)):
            for j, value in enumerate((row.step, row.site_id, row.gain_residents,
                                       row.covered_pct)):
                item = NumberItem(value) if j != 1 else QTableWidgetItem(str(value))
                self.suggest_table.setItem(i, j, item)
        if self._layer is not None:
            self._layer.selectByIds([int(s) for s in picks["site_id"]])
        text = self.tr("{n} of {k} sites picked; gains are listed below and the picks "
                       "selected on the layer.").format(n=len(picks), k=k)
        if len(picks) < k:
            text += " " + self.tr("No other site covers anyone new.")
        self.report(text)

    def export(self, path) -> Path:
        """Write the current results (one row per site) to a GeoPackage or CSV."""
        if self.result is None:
            raise RuntimeError(self.tr("There are no results to export yet."))
        return site_files.write_sites(self.result, path, synthetic=self.synthetic_usage)

    @slot
    def _export_dialog(self, suffix: str) -> None:
        if self.result is None:
            self.report(self.tr("There are no results to export yet."),
                        Qgis.MessageLevel.Warning)
            return
        filters = self.tr("GeoPackage (*.gpkg)") if suffix == ".gpkg" else \
            self.tr("CSV (*.csv)")
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export candidate sites"), "",
                                              filters)
        if not path:
            return
        if not path.lower().endswith(suffix):
            path += suffix
        written = self.export(path)
        self.report(self.tr("Exported {n} sites to {path}.").format(n=len(self.result),
                                                                   path=written),
                    Qgis.MessageLevel.Success)

    # --- teardown -------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)
        super().closeEvent(event)

    def cleanup(self) -> None:
        """Before the plugin unloads: cancel tasks, release the tool and the layer."""
        for task in list(self.tasks):
            try:
                task.cancel()
            except RuntimeError:
                pass  # already deleted by the task manager
        self.tasks = []
        if self.canvas.mapTool() is self.tool:
            self.canvas.unsetMapTool(self.tool)
        # The tool is a child of the map canvas, which outlives the plugin: delete it with
        # the dock, not leave one behind per load still wired to this dock's slots.
        if not sip.isdeleted(self.tool):
            self.tool.deleteLater()
        self._disconnect_layer()
        self._unwatch_network_layer()
        self._network = self._network_for = None
        try:
            QgsProject.instance().layersWillBeRemoved.disconnect(self._layers_removing)
        except TypeError:
            pass
        try:
            QgsProject.instance().readProject.disconnect(self._project_read)
        except TypeError:
            pass

