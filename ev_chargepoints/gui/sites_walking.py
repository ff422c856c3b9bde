"""The street network and walking catchments of the "Candidate sites" dock
(:class:`SitesWalkingMixin`): the network chosen (a project line layer or a GeoPackage),
built once in a task and kept, the walk distance, and the "Walking catchments" layer
whose polygons are drawn again only for the sites added or moved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from qgis.core import (
    Qgis,
    QgsProject,
    QgsVectorLayer,
    QgsVectorLayerFeatureSource,
)
from qgis.PyQt.QtWidgets import (
    QFileDialog,
)

from ..core.analysis import site_files
from ..core.analysis.siting.network import read_network, walk_metres
from ..qgis.street_network import (
    OSM_ATTRIBUTION,
    OSM_COPYRIGHT_URL,
    OSM_LICENCE,
    street_network,
)
from ..qgis.street_network import network_attribution as credit_line
from ..qgis.tasks import CoreTask, start
from .sites_results import (
    describe_walking,
    fill_walking,
)
from .sites_results import walking_layer as walking_catchment_layer
from .slots import disconnect_quietly, guarded_slot

WALK_INLINE_SITES = 20     # more walking polygons to draw at once: in a task
slot = guarded_slot("Candidate sites: {slot} failed")


class SitesWalkingMixin:
    """Mixed into :class:`.sites_dock.CandidateSitesDock` (uses its widgets, analyser,
    tasks and report())."""

    # --- street network ---------------------------------------------------------------

    def set_network_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        """Walk along the streets of a line layer of the project (None: straight line)."""
        self.network_combo.setLayer(layer)
        self._network_chosen()

    def set_network_file(self, path) -> None:
        """Walk along the streets of a GeoPackage's first line layer."""
        path = str(path)
        self.network_combo.setAdditionalItems([path])
        self.network_combo.setCurrentIndex(self.network_combo.findText(path))
        self._network_chosen()

    def network(self):
        """The built :class:`StreetNetwork` of the current choice, or None."""
        choice = self.network_choice()
        return self._network if choice is not None and self._network_for == choice else None

    def network_attribution(self) -> str:
        """The chosen network's credit line ("© OpenStreetMap contributors" ...)."""
        choice = self.network_choice()
        if choice is None:
            return ""
        if choice[0] == "file":
            built = self.network()
            return built.attribution if built is not None else credit_line(Path(choice[1]).name)
        layer = QgsProject.instance().mapLayer(choice[1])
        if layer is None:
            return ""
        return credit_line(f"{layer.name()} {layer.source()}", layer.fields().names(),
                           layer.metadata().rights())

    @slot
    def _network_file_dialog(self, *_args) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Street network"), "",
                                              self.tr("GeoPackage (*.gpkg)"))
        if path:
            self.set_network_file(path)

    @slot
    def _network_chosen(self, save: bool = True) -> None:
        choice = self.network_choice()
        layer = QgsProject.instance().mapLayer(choice[1]) if choice and \
            choice[0] == "layer" else None
        if layer is not self._network_layer:
            self._unwatch_network_layer()
            self._network_layer = layer
            if layer is not None:
                for signal in (layer.afterCommitChanges, layer.subsetStringChanged,
                               layer.dataSourceChanged):
                    signal.connect(self._network_features_changed)
        self._update_network_widgets()
        if choice == self._network_choice:
            return
        self._network_choice = choice
        if save:
            self._save_state()
        for task in list(self.tasks):  # a network being built for an older choice
            if getattr(task, "_network_for", choice) != choice:
                task.cancel()
        self._settings_changed()

    @slot
    def _layers_removing(self, layer_ids) -> None:
        choice = self.network_choice()
        if choice is not None and choice[0] == "layer" and choice[1] in layer_ids:
            self.set_network_layer(None)

    def _unwatch_network_layer(self) -> None:
        layer, self._network_layer = self._network_layer, None
        if layer is None:
            return
        disconnect_quietly(*((signal, self._network_features_changed) for signal in (
            layer.afterCommitChanges, layer.subsetStringChanged, layer.dataSourceChanged)))

    @slot
    def _network_features_changed(self, *_args) -> None:
        """The network layer's features changed: build its network again."""
        self._network = None
        self._network_for = None
        self._settings_changed()

    def _update_network_widgets(self) -> None:
        walking = self.network_choice() is not None
        for widget in (self.walk_spin, self.walk_unit):
            widget.setEnabled(walking)
        minutes = self.walk_m() / walk_metres(1)
        self.walk_note.setText(self.tr("≈ {m:g} min").format(m=round(minutes, 1))
                               if self.walk_unit.currentData() == "m" else
                               self.tr("= {d:,.0f} m").format(d=self.walk_m()))
        credit = self.network_attribution()
        network = self.network()
        text = ""
        if walking:
            text = self.tr("Walking catchments along this network's streets.") \
                if network is None else \
                self.tr("{name}: {edges:,} street segments, {km:,.1f} km.").format(
                    name=network.name, edges=network.n_edges,
                    km=network.total_length_m / 1000)
            if credit:
                text += " " + credit
        self.network_note.setText(text)
        self.network_note.setVisible(bool(text))

    def _building(self, choice):
        return next((t for t in self.tasks if getattr(t, "_network_for", None) == choice),
                    None)

    def build_network(self) -> Optional[CoreTask]:
        """Build the chosen street network in a task (once: the running one if any)."""
        choice = self.network_choice()
        if choice is None:
            return None
        running = self._building(choice)
        if running is not None:
            return running
        if choice[0] == "layer":
            layer = QgsProject.instance().mapLayer(choice[1])
            if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
                self.report(self.tr("The street network layer is not usable."),
                            Qgis.MessageLevel.Warning)
                return None
            # a snapshot of the layer's features for the worker thread (made here)
            source = QgsVectorLayerFeatureSource(layer)
            crs, context = layer.crs(), QgsProject.instance().transformContext()
            name, count = layer.name(), layer.featureCount()
            credit = self.network_attribution()

            def work(progress, _feedback):
                return street_network(source, crs, context, name, progress, count, credit)
        else:
            path = choice[1]

            def work(progress, _feedback):
                progress.report(0, "Reading the street network")
                return read_network(path)

        self.report(self.tr("Building the street network…"))
        started = time.perf_counter()
        task = CoreTask(self.tr("Building the street network"), work,
                        lambda network: self._network_built(task, choice, network, started),
                        lambda message: self._network_failed(task, choice, message))
        task._network_for = choice
        self.tasks.append(task)
        return start(task)

    @slot
    def _network_built(self, task, choice, network, started) -> None:
        self._forget(task)
        if choice != self.network_choice():
            return  # another network was chosen meanwhile (and is being built)
        if not network.n_edges:
            self.report(self.tr("The street network layer has no lines."),
                        Qgis.MessageLevel.Warning)
            return
        self._network, self._network_for = network, choice
        self._network_attribution = self.network_attribution()
        self.network_seconds = time.perf_counter() - started
        self.networks_built += 1
        self._update_network_widgets()
        self.report(self.tr("Street network ready ({s:.1f} s).").format(
            s=self.network_seconds))
        if (self._layer is not None or self.tool_button.isChecked()) \
                and not self._preparing():
            self.prepare()

    @slot
    def _network_failed(self, task, choice, message: str) -> None:
        self._forget(task)
        if choice != self.network_choice():
            return  # cancelled because another network was chosen
        if task.was_cancelled:
            self.report(self.tr("Building the street network was cancelled; press "
                                "Analyse layer to build it again."))
        else:
            self.report(message, Qgis.MessageLevel.Warning)

    @slot
    def _walk_changed(self, *_args) -> None:
        self._update_network_widgets()
        self._save_state()
        self._settings_changed()

    @slot
    def _walk_unit_changed(self) -> None:
        """Metres <-> minutes: the same walk in the other unit."""
        unit = self.walk_unit.currentData()
        value = float(self.walk_spin.value())  # in the former unit
        metres = walk_metres(value) if unit == "m" else value
        self.walk_spin.blockSignals(True)
        try:
            self._set_walk_range(unit)
            self.walk_spin.setValue(metres if unit == "m" else metres / walk_metres(1))
        finally:
            self.walk_spin.blockSignals(False)
        self._walk_changed()

    def walking_layer(self) -> Optional[QgsVectorLayer]:
        """The "Walking catchments" layer while the analysis walks (else None)."""
        if self.analyser is None or self.analyser.walking is None:
            return self._walking_layer if self._in_project(self._walking_layer) else None
        self._walking_layer = walking_catchment_layer(self._walking_layer)
        return self._walking_layer

    @staticmethod
    def _in_project(layer) -> bool:
        try:
            return layer is not None and QgsProject.instance().mapLayer(layer.id()) is not None
        except RuntimeError:
            return False

    def _refresh_walking(self) -> None:
        """The walking layer after a change: polygons drawn again only for the sites that
        are new or moved (a few here, many in a task); attributes for every site."""
        walking = self.analyser.walking
        if walking is None:
            if self._in_project(self._walking_layer):  # straight line only now
                QgsProject.instance().removeMapLayer(self._walking_layer.id())
            self._walking_layer = None
            self._walk_shapes, self._walk_key = {}, None
            return
        key = (id(walking.network), walking.distance_m)
        if key != self._walk_key:
            self._walk_shapes, self._walk_key, self._walk_pending = {}, key, set()
        table = self.result
        present = set(table["site_id"].astype(str))
        for gone in set(self._walk_shapes) - present:
            del self._walk_shapes[gone]
        stale = [i for i, (site, x, y) in enumerate(zip(
            table["site_id"].astype(str), table["x"], table["y"]))
            if not self._drawn(site, x, y) and (site, x, y) not in self._walk_pending]
        self.last_walk_computed = [str(table["site_id"].iloc[i]) for i in stale]
        rows = table.iloc[stale][["site_id", "x", "y"]].assign(
            site_id=lambda f: f["site_id"].astype(str))
        if len(rows) > WALK_INLINE_SITES:
            self._draw_walking_task(rows, walking)
        elif len(rows):
            self._store_shapes(rows, *site_files.catchment_table(rows, walking.network,
                                                                 walking.distance_m))
        self._fill_walking()

    def _drawn(self, site: str, x, y) -> bool:
        shape = self._walk_shapes.get(site)
        return shape is not None and all(a == b or (a != a and b != b)  # NaN: no place
                                         for a, b in ((shape["x"], x), (shape["y"], y)))

    def _store_shapes(self, rows, frame, shapes) -> None:
        for (site, x, y), record, wkb in zip(rows.itertuples(index=False, name=None),
                                             frame.to_dict("records"), shapes):
            self._walk_shapes[str(site)] = {**record, "x": x, "y": y, "wkb": wkb}

    def _draw_walking_task(self, rows, walking) -> CoreTask:
        network, walk, key = walking.network, walking.distance_m, self._walk_key
        pending = set(rows.itertuples(index=False, name=None))
        self._walk_pending |= pending

        def work(_progress, _feedback):
            return site_files.catchment_table(rows, network, walk)

        task = CoreTask(self.tr("Drawing walking catchments"), work,
                        lambda result: self._walking_drawn(task, rows, key, pending, result),
                        lambda message: self._walking_failed(task, pending, message))
        self.tasks.append(task)
        return start(task)

    @slot
    def _walking_drawn(self, task, rows, key, pending, result) -> None:
        self._forget(task)
        self._walk_pending -= pending
        if key == self._walk_key:
            self._store_shapes(rows, *result)
            if self.analyser is not None and self.analyser.walking is not None:
                self._refresh_walking()

    @slot
    def _walking_failed(self, task, pending, message: str) -> None:
        self._forget(task)
        self._walk_pending -= pending
        if not task.was_cancelled:
            self.report(message, Qgis.MessageLevel.Warning)

    def _fill_walking(self) -> None:
        layer = self.walking_layer()
        network = self.analyser.walking.network
        credit = self._network_attribution
        osm = credit == OSM_ATTRIBUTION
        describe_walking(layer, network.name, self.analyser.walking.distance_m, credit,
                         OSM_LICENCE if osm else "", OSM_COPYRIGHT_URL if osm else "")
        fill_walking(layer, self.result, self._walk_shapes)
