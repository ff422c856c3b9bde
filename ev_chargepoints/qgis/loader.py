"""Load London's charge points onto the map without blocking QGIS.

A ``CoreTask`` opens the workspace store (importing the bundled London
snapshot into an empty one), computes utilisation and area summaries and
writes the map GeoPackages, or for a shared store the map tables in its
database (reused when they already show the store as it is); ``finished`` then
builds the styled layers on the main thread.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from qgis.core import QgsProject

from ..core import mapdata, styling
from ..core.errors import StoreError
from ..core.progress import Progress
from ..core.workspace import Workspace
from . import layers as map_layers
from . import settings as plugin_settings
from .tasks import CoreTask, start

BUNDLED_SOURCES = (
    "National Chargepoint Registry (OZEV/DfT), London devices, May 2022",
    "London borough and ward boundaries (GLA, London Datastore)",
    "GLA Ward Profiles and Atlas 2015 (population)",
)
OGL = "Open Government Licence v3.0"
ROLE_PROPERTY = "ev_chargepoints/role"        # devices | wards | boroughs
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


def map_path_for(ws: Workspace, period_kind: str) -> Path:
    stamp = ws._store_stamp()
    return ws.store_path.with_name(f"{ws.store_path.stem}_map_{period_kind}_{stamp}")


def prepare_map(store, period_kind: str, progress: Progress,
                feedback=None, import_bundled_if_empty: bool = True) -> mapdata.MapInfo:
    """Worker side: runs in the task thread, touches no layer or project.

    ``store``: a GeoPackage path or a resolved ``StoreTarget`` (see
    ``settings.target_for``; the authentication database is read on the main thread).
    """
    from .network import QgsTransport

    with Workspace(store, QgsTransport(feedback=feedback)) as ws:
        if import_bundled_if_empty and not ws.store.counts().get("devices"):
            ws.import_bundled_snapshot(progress.scaled(0, 50))
        if ws.is_shared_store:
            from ..core import pg_mapdata

            progress.report(50, "Looking for the map tables in the shared store")
            return pg_mapdata.map_for(ws, period_kind, progress.scaled(50, 100))
        target = map_path_for(ws, period_kind)
        for stale in target.parent.glob(f"{ws.store_path.stem}_map_{period_kind}_*"):
            if stale != target and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)  # files still open stay till next time
        return mapdata.write_map(ws, target, period_kind, progress.scaled(50, 100))


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
                                   "Wards — charge points per 10,000 residents",
                                   "devices_per_10k", "per 10,000 residents", provenance)
    wards.setSubsetString(map_layers.period_subset(period))
    boroughs = map_layers.outline_layer(path, map_layers.BOROUGH_LAYER, "Boroughs", provenance,
                                        label_field="area_name")
    boroughs.setSubsetString(map_layers.period_subset(period))
    for layer, role in ((devices, "devices"), (wards, "wards"), (boroughs, "boroughs")):
        layer.setCustomProperty(ROLE_PROPERTY, role)
        layer.setCustomProperty(PERIOD_PROPERTY, period)
        if store_path:
            layer.setCustomProperty(STORE_PROPERTY, str(store_path))
    map_layers.add_to_project([devices, boroughs, wards], project)
    return LoadedMap(info, devices, wards, boroughs)


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
        if role in ("devices", "wards", "boroughs"):
            found[role] = layer
    if len(found) < 3:
        return None
    return LoadedMap(None, found["devices"], found["wards"], found["boroughs"])


def set_period(loaded: LoadedMap, period: str) -> None:
    synthetic = loaded.info.synthetic_usage if loaded.info else "SYNTHETIC" in \
        loaded.devices.name()
    map_layers.set_device_period(loaded.devices, period, synthetic)
    for layer in (loaded.wards, loaded.boroughs):
        layer.setSubsetString(map_layers.period_subset(period))
        layer.setCustomProperty(PERIOD_PROPERTY, period)


def load_in_background(store, period_kind: str,
                       on_done: Callable[[mapdata.MapInfo], None],
                       on_error: Callable[[str], None]) -> CoreTask:
    """``store``: a GeoPackage path or a ``StoreTarget`` resolved on the main thread."""
    task = CoreTask("Loading London charge points",
                    lambda progress, feedback: prepare_map(store, period_kind, progress,
                                                           feedback),
                    on_done, on_error)
    return start(task)
