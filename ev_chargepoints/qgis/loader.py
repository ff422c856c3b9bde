"""Load London's charge points onto the map without blocking QGIS.

A ``CoreTask`` opens the workspace store (importing the bundled London
registry devices into an empty one, never usage), computes utilisation and
area summaries and writes the map GeoPackages, or for a shared store the map
tables in its database (reused when they already show the store as it is);
``finished`` then builds the styled layers on the main thread. The demo
(``demo=True``) does the same in a store of its own holding the bundled
devices and a year of SYNTHETIC usage (see :mod:`..core.store.usage_kind`).
When the store holds watched status, the task also writes a live status
GeoPackage (:func:`write_live_status`), shown as the "Live status" layer; each
watch poll writes a new one, which :func:`show_live_status` puts in that layer.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from qgis.core import Qgis, QgsDateTimeRange, QgsFeatureRequest, QgsInterval, QgsProject
from qgis.PyQt.QtCore import QDate, QDateTime, Qt, QTime

from ..core.calendar import period_kind_of
from ..core.errors import StoreError
from ..core.outputs import mapdata, styling
from ..core.progress import Progress
from ..core.store.usage_kind import stamp
from ..core.workspace import SYNTHETIC_END, SYNTHETIC_START, Workspace
from . import layers as map_layers
from . import settings as plugin_settings
from .tasks import CoreTask, start

log = logging.getLogger(__name__)

BUNDLED_SOURCES = (
    "National Chargepoint Registry (OZEV/DfT), London devices, May 2022",
    "London borough and ward boundaries (GLA, London Datastore)",
    "GLA Ward Profiles and Atlas 2015 (population)",
)
OGL = "Open Government Licence v3.0"
ROLE_PROPERTY = "ev_chargepoints/role"        # devices | wards | boroughs | status
PERIOD_PROPERTY = "ev_chargepoints/period"
STORE_PROPERTY = "ev_chargepoints/store"
ATTRIBUTION = ("Contains National Statistics data © Crown copyright and database right; "
               "Contains Ordnance Survey data © Crown copyright and database right; "
               "Contains public sector information licensed under the Open Government "
               "Licence v3.0")


@dataclass
class LoadedMap:
    info: mapdata.MapInfo
    devices: object
    wards: object
    boroughs: object
    status: object = None   # the "Live status" layer, when the store holds status
    time: object = None     # the temporal controller the map follows, if any


def prepare_map(store, period_kind: str, progress: Progress,
                feedback=None, import_bundled_if_empty: bool = True,
                demo: bool = False,
                demo_usage: tuple = (SYNTHETIC_START, SYNTHETIC_END),
                status_max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                status_now=None) -> mapdata.MapInfo:
    """Worker side: runs in the task thread, touches no layer or project.

    ``store``: a GeoPackage path or a resolved ``StoreTarget`` (see
    ``settings.target_for``; the authentication database is read on the main thread).
    ``demo``: the store is the demo's; it gets SYNTHETIC usage for ``demo_usage``
    (start, end exclusive; a year by default) if it has none yet (a store holding real
    usage refuses it). When the store holds status snapshots the live status layer is
    written too (``info.status``), stale after ``status_max_age_minutes`` before
    ``status_now`` (default: now).
    """
    from .network import QgsTransport

    with Workspace(store, QgsTransport(feedback=feedback)) as ws:
        if demo and not ws.has_synthetic_usage():
            ws.import_bundled_snapshot(progress.scaled(0, 50), usage_start=demo_usage[0],
                                       usage_end=demo_usage[1])
        elif import_bundled_if_empty and not ws.store.counts().get("devices"):
            ws.import_bundled_snapshot(progress.scaled(0, 50), synthetic_usage=False)
        info = ws.write_map(period_kind, progress.scaled(50, 95))
        progress.report(95, "Writing the live status layer")
        info.status = write_live_status(ws, status_max_age_minutes, status_now)
        return info


def status_folder_for(ws: Workspace) -> Path:
    """Where the live status GeoPackages of the workspace's store are written: beside a
    GeoPackage store, in the plugin's folder for a shared store (whose map tables are
    in its database, but whose live status each officer's QGIS draws for itself)."""
    if ws.is_shared_store:
        key = hashlib.sha256(ws.target.describe().encode()).hexdigest()[:16]
        return Path(plugin_settings.default_store_path()).parent / "live_status" / key
    return ws.store_path.with_name(f"{ws.store_path.stem}_live_status")


def write_live_status(ws: Workspace,
                      max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                      now=None) -> Optional[mapdata.StatusLayerInfo]:
    """Worker side: a new live status GeoPackage of the store (None without status)."""
    return ws.status_layer(status_folder_for(ws), now, max_age_minutes)


def provenance_for(info: mapdata.MapInfo) -> map_layers.Provenance:
    sources = list(BUNDLED_SOURCES)
    if info.synthetic_usage:
        sources.append("SYNTHETIC usage generated from Dundee City Council sessions "
                       "(ChargePlace Scotland), 2017-18")
    return map_layers.Provenance(title="EV charge points", sources=sources, licences=[OGL],
                                 attribution=ATTRIBUTION, vintage=info.vintage,
                                 synthetic_usage=info.synthetic_usage)


def build_layers(info: mapdata.MapInfo, period: Optional[str] = None,
                 breaks=styling.DEFAULT_OCCUPANCY_BREAKS,
                 project: Optional[QgsProject] = None, store_path=None) -> LoadedMap:
    """Main thread: the styled layers under the "EV charge points" group.

    ``store_path``: the store reference the layers remember (a GeoPackage path or
    ``postgres-connection:<name>``); required when the map tables are in PostGIS,
    whose layers open through that saved connection.
    """
    provenance = provenance_for(info)
    period = period or info.latest_period
    path = _layer_source(info, store_path)
    devices = map_layers.devices_layer(path, period, provenance, breaks)
    wards = map_layers.areas_layer(path, map_layers.WARD_LAYER,
                                   stamp("Wards — charge points per 10,000 residents",
                                         info.synthetic_usage),
                                   "devices_per_10k", "per 10,000 residents", provenance)
    wards.setSubsetString(map_layers.period_subset(period))
    boroughs = map_layers.outline_layer(path, map_layers.BOROUGH_LAYER,
                                        stamp("Boroughs", info.synthetic_usage), provenance,
                                        label_field="area_name")
    boroughs.setSubsetString(map_layers.period_subset(period))
    for layer, role in ((devices, "devices"), (wards, "wards"), (boroughs, "boroughs")):
        layer.setCustomProperty(ROLE_PROPERTY, role)
        layer.setCustomProperty(PERIOD_PROPERTY, period)
        if store_path:
            layer.setCustomProperty(STORE_PROPERTY, str(store_path))
    # before the layers go in: the temporal controller takes the project's range then
    set_project_time(info, project)
    status = None
    if info.status:
        try:
            status = _new_status_layer(info.status, store_path)
        except StoreError as exc:  # e.g. removed meanwhile by another QGIS: map without it
            log.warning("%s The map is shown without live status.", exc.message)
    map_layers.add_to_project([lyr for lyr in (status, devices, boroughs, wards) if lyr],
                              project)
    if status is not None:
        _remove_older_status_files(info.status, project)
    return LoadedMap(info, devices, wards, boroughs, status)


def status_provenance(status: mapdata.StatusLayerInfo) -> map_layers.Provenance:
    feeds = ", ".join(status.sources) or "none"
    return map_layers.Provenance(
        title="EV charge points",
        sources=[f"Operators' live OCPI 2.2.1 feeds ({feeds}), polled by Watch live status",
                 BUNDLED_SOURCES[0]],
        licences=[f"The feed operators' terms; {OGL} for the registry"],
        attribution=ATTRIBUTION,
        vintage=f"status observed up to {status.latest_text() or 'never'} UK time",
        keywords=("EV", "charge points", "London", "live status", "OCPI"))


def _new_status_layer(status: mapdata.StatusLayerInfo, store_path):
    layer = map_layers.status_layer(status, status_provenance(status))
    layer.setCustomProperty(ROLE_PROPERTY, "status")
    if store_path:
        layer.setCustomProperty(STORE_PROPERTY, str(store_path))
    return layer


def show_live_status(status: mapdata.StatusLayerInfo, store_path,
                     project: Optional[QgsProject] = None, prune: bool = True):
    """Main thread, after a watch poll wrote ``status``: the "Live status" layers of the
    store ``store_path`` (a store reference, as given to :func:`build_layers`) show the
    new file and repaint; where the store's map is loaded without one, the layer is
    added above its devices. Returns the layer shown, or None when no map of that
    store is loaded. ``prune``: remove the older files no layer shows (not while a map
    load runs: the file it wrote awaits its layer)."""
    from qgis.core import QgsLayerTreeLayer

    project = project or QgsProject.instance()
    store = str(store_path)
    mine = [layer for layer in project.mapLayers().values()
            if layer.customProperty(STORE_PROPERTY) == store]
    shown = [layer for layer in mine if layer.customProperty(ROLE_PROPERTY) == "status"]
    for layer in shown:
        map_layers.refresh_status_layer(layer, status, status_provenance(status))
    layer = shown[0] if shown else None
    devices = next((lyr for lyr in mine if lyr.customProperty(ROLE_PROPERTY) == "devices"),
                   None)
    if layer is None and devices is not None:
        node = project.layerTreeRoot().findLayer(devices.id())
        parent = node.parent()
        index = next(i for i, child in enumerate(parent.children())
                     if isinstance(child, QgsLayerTreeLayer) and child.layerId() == devices.id())
        layer = _new_status_layer(status, store_path)
        project.addMapLayer(layer, False)
        parent.insertLayer(index, layer)
    if prune:
        _remove_older_status_files(status, project)
    return layer


def _remove_older_status_files(status: mapdata.StatusLayerInfo, project) -> None:
    project = project or QgsProject.instance()
    shown = [map_layers.status_source_file(layer) for layer in project.mapLayers().values()
             if layer.customProperty(ROLE_PROPERTY) == "status"]
    mapdata.remove_older_status_files(status.path, keep=shown)


def _layer_source(info: mapdata.MapInfo, store_reference):
    if not info.database_schema:
        return str(info.path)
    connection = plugin_settings.connection_name(store_reference)
    if connection is None:
        raise StoreError("The map tables are in the shared store's database: open them "
                         "through a saved QGIS PostgreSQL connection (choose one in the plugin "
                         "settings).")
    return map_layers.PostgresTables(connection, info.database_schema)


def find_loaded(project: Optional[QgsProject] = None) -> Optional[LoadedMap]:
    """The plugin's layers in the project (after a load, or a project reopened)."""
    project = project or QgsProject.instance()
    found = {}
    for layer in project.mapLayers().values():
        role = layer.customProperty(ROLE_PROPERTY)
        if role in ("devices", "wards", "boroughs", "status"):
            found[role] = layer
    if not {"devices", "wards", "boroughs"} <= set(found):
        return None
    return LoadedMap(None, found["devices"], found["wards"], found["boroughs"],
                     found.get("status"))


def set_period(loaded: LoadedMap, period: str) -> None:
    """The period box: show ``period``; while the temporal controller the map follows
    runs, move it to that period (its frame, or its fixed range) instead of filtering."""
    synthetic = loaded.info.synthetic_usage if loaded.info else "SYNTHETIC" in \
        loaded.devices.name()
    running = _running(loaded.time)
    map_layers.set_device_period(loaded.devices, period, synthetic, every_period=running)
    for layer in (loaded.wards, loaded.boroughs):
        layer.setSubsetString(map_layers.period_subset(period))
        layer.setCustomProperty(PERIOD_PROPERTY, period)
    if running:
        _show_period(loaded.time, _period_range(loaded.devices, period))


# The temporal controller steps by the map's period.
_STEPS = {"month": (1, Qgis.TemporalUnit.Months), "quarter": (3, Qgis.TemporalUnit.Months),
          "year": (1, Qgis.TemporalUnit.Years)}


def set_project_time(info: mapdata.MapInfo, project: Optional[QgsProject] = None) -> None:
    """The project's time range: the periods loaded, stepping one period at a time
    (what the temporal controller offers, and what a saved project keeps)."""
    extent = map_layers.temporal_extent(info.period_ranges)
    if extent is None:
        return
    time = (project or QgsProject.instance()).timeSettings()
    time.setTemporalRange(extent)
    step, unit = _STEPS.get(period_kind_of(info.periods[0]), _STEPS["quarter"])
    time.setTimeStep(step)
    time.setTimeStepUnit(unit)


def follow_temporal_controller(loaded: LoadedMap, controller,
                               project: Optional[QgsProject] = None) -> Callable[[], None]:
    """Let ``controller`` (the map canvas's temporal navigation) animate the map: it takes
    the project's range and step (:func:`set_project_time`), and while it runs the
    devices layer shows every period, each frame drawing its own; when it stops, the
    period box's period again. Returns the function that ends the link."""
    if not hasattr(controller, "navigationMode"):  # a canvas without QGIS's navigation
        return lambda: None
    time = (project or QgsProject.instance()).timeSettings()
    if time.temporalRange().begin().isValid():
        controller.setTemporalExtents(time.temporalRange())
        controller.setFrameDuration(QgsInterval(time.timeStep(), time.timeStepUnit()))

    def unlink() -> None:
        try:
            controller.updateTemporalRange.disconnect(mode_changed)
        except (TypeError, RuntimeError):  # already ended, or the controller is gone
            pass
        if loaded.time is controller:
            loaded.time = None

    def mode_changed(_range=None) -> None:
        try:
            shown = loaded.devices.customProperty(PERIOD_PROPERTY)
            map_layers.show_every_period(loaded.devices,
                                         None if _running(controller) else shown)
        except RuntimeError:  # the layers were removed with their project
            unlink()

    # emitted on every change of mode (and frame); PyQt cannot pass the enum argument
    # of navigationModeChanged ("EnumType.__call__() missing ... 'value'")
    controller.updateTemporalRange.connect(mode_changed)
    loaded.time = controller
    mode_changed()
    return unlink


def _running(controller) -> bool:
    try:
        return controller is not None and \
            controller.navigationMode() != Qgis.TemporalNavigationMode.NavigationOff
    except RuntimeError:
        return False


def _period_range(layer, period: str) -> Optional[QgsDateTimeRange]:
    """``period``'s time range, from its features' first and last day."""
    request = QgsFeatureRequest().setFilterExpression(map_layers.period_subset(period)) \
        .setLimit(1)
    for feature in layer.dataProvider().getFeatures(request):
        first, last = (value if isinstance(value, QDate)
                       else QDate.fromString(str(value)[:10], Qt.DateFormat.ISODate)
                       for value in (feature["period_start"], feature["period_end"]))
        if first.isValid() and last.isValid():
            return QgsDateTimeRange(QDateTime(first, QTime(0, 0)),
                                    QDateTime(last.addDays(1), QTime(0, 0)), True, False)
    return None


def _show_period(controller, period: Optional[QgsDateTimeRange]) -> None:
    if period is None:
        return
    if controller.navigationMode() == Qgis.TemporalNavigationMode.FixedRange:
        controller.setTemporalExtents(period)
        return
    for number in range(controller.totalFrameCount()):
        frame = controller.dateTimeRangeForFrameNumber(number)
        if frame.begin() <= period.begin() < frame.end():
            controller.setCurrentFrameNumber(number)
            return


def load_in_background(store, period_kind: str,
                       on_done: Callable[[mapdata.MapInfo], None],
                       on_error: Callable[[str], None], demo: bool = False) -> CoreTask:
    """``store``: a GeoPackage path or a ``StoreTarget`` resolved on the main thread;
    ``demo``: see :func:`prepare_map`."""
    max_age = plugin_settings.load().status_max_age_minutes  # QgsSettings: main thread
    task = CoreTask("Loading demo usage (SYNTHETIC)" if demo else "Loading London charge points",
                    lambda progress, feedback: prepare_map(store, period_kind, progress,
                                                           feedback, demo=demo,
                                                           status_max_age_minutes=max_age),
                    on_done, on_error)
    return start(task)
