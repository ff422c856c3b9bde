"""Map layers from the workspace's map GeoPackages or PostGIS tables, styled, with
metadata and time.

Layers are created here, on the main thread, from tables the core wrote in a
task: GeoPackages in the map folder (ordinary file-backed layers), or, for a
shared store, the map tables in its database, opened with the ``postgres``
provider through the saved connection (its ``authcfg``, never a password).
Either way a saved project reopens them, with the same styles. The devices layer
holds one feature per device and period; the period selector only changes the
subset string and legend text, nothing is reloaded. While the temporal controller
runs, the devices layer shows every period and each frame draws its own
(:func:`show_every_period`, driven by ``loader.follow_temporal_controller``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from qgis.core import (
    Qgis,
    QgsDateTimeRange,
    QgsExpression,
    QgsLayerMetadata,
    QgsProject,
    QgsVariantUtils,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QDate, QDateTime, Qt, QTime

from ..core.errors import StoreError
from ..core.outputs import styling
from ..core.store.usage_kind import stamp
from . import styling as qgis_styling

GROUP_NAME = "EV charge points"
STATUS_AGE_PROPERTY = "ev_chargepoints/status_max_age"
DEVICE_LAYER = "map_devices"
WARD_LAYER = "map_wards"
BOROUGH_LAYER = "map_boroughs"


@dataclass(frozen=True)
class PostgresTables:
    """Where a shared store's map tables are: a saved QGIS connection and a schema."""

    connection: str
    schema: str


@dataclass
class Provenance:
    """What the map says about where its data came from."""

    title: str
    sources: Sequence[str]
    licences: Sequence[str]
    attribution: str
    vintage: str                      # e.g. "NCR snapshot 2022-05-04; usage 2021Q3–2022Q2"
    synthetic_usage: bool = False
    keywords: Sequence[str] = field(default_factory=lambda: ("EV", "charge points", "London"))


def open_layer(source, table: str, name: str) -> QgsVectorLayer:
    """Open a map table from its own GeoPackage in the map folder ``source``, or from
    the database when ``source`` is :class:`PostgresTables`."""
    from ..core.outputs.mapdata import layer_file

    if isinstance(source, PostgresTables):
        return _postgres_layer(source, table, name)
    path = layer_file(source, table)
    layer = QgsVectorLayer(f"{path}|layername={table}", name, "ogr", _own_style())
    if not layer.isValid():
        raise StoreError(f"Could not open the layer '{table}' in {path}.")
    return layer


def _own_style() -> QgsVectorLayer.LayerOptions:
    """The plugin styles its layers itself (interactive map, committee pages): the default
    style a map GeoPackage carries in ``layer_styles`` is for opening the file by hand,
    and would bring its labels onto maps that draw none (the committee inset map)."""
    options = QgsVectorLayer.LayerOptions()
    options.loadDefaultStyle = False
    return options


def _postgres_layer(source: PostgresTables, table: str, name: str) -> QgsVectorLayer:
    from . import pg_connection

    kind = pg_connection.POINT if table == DEVICE_LAYER else pg_connection.MULTIPOLYGON
    uri = pg_connection.layer_uri(source.connection, table, kind, schema=source.schema)
    layer = QgsVectorLayer(uri, name, "postgres")
    if not layer.isValid():
        raise StoreError(f"Could not open the table {source.schema}.{table} through the "
                         f"PostgreSQL connection '{source.connection}'.")
    return layer


def period_subset(period: str) -> str:
    return f"{QgsExpression.quotedColumnRef('period')} = {QgsExpression.quotedValue(period)}"


def device_layer_name(period: str, synthetic: bool) -> str:
    return stamp(f"Charge points — occupancy % {period}", synthetic)


def set_device_period(layer: QgsVectorLayer, period: str, synthetic: bool,
                      every_period: bool = False) -> None:
    """Show one period: change the filter and the legend text, keep the layer.
    ``every_period``: the temporal controller runs; the layer keeps every period."""
    layer.setName(device_layer_name(period, synthetic))
    layer.setCustomProperty("ev_chargepoints/period", period)
    show_every_period(layer, None if every_period else period)


def devices_layer(source, period: str, provenance: Provenance,
                  breaks: Sequence[float] = styling.DEFAULT_OCCUPANCY_BREAKS) -> QgsVectorLayer:
    name = device_layer_name(period, provenance.synthetic_usage)
    layer = open_layer(source, DEVICE_LAYER, name)
    layer.setRenderer(qgis_styling.device_renderer(styling.occupancy_bands(breaks)))
    set_device_period(layer, period, provenance.synthetic_usage)
    _enable_temporal(layer)
    apply_provenance(layer, provenance, "Charge devices with utilisation by period. Colour: "
                     "occupancy (plugged-in time ÷ available time); size: power class.")
    return layer


def status_layer_name(info) -> str:
    """``info``: a ``core.mapdata.StatusLayerInfo``."""
    latest = info.latest_text()
    return f"Live status, {latest} UK time" if latest else "Live status"


def status_layer(info, provenance: Provenance) -> QgsVectorLayer:
    """The live status of the devices the watched feeds report, from the GeoPackage
    ``info.path`` (a ``core.mapdata.StatusLayerInfo``), styled by status class."""
    layer = QgsVectorLayer(_status_uri(info), status_layer_name(info), "ogr", _own_style())
    if not layer.isValid():
        raise StoreError(f"Could not open the live status layer in {info.path}.")
    layer.setRenderer(qgis_styling.status_layer_renderer(info.max_age_minutes))
    _status_metadata(layer, info, provenance)
    return layer


def refresh_status_layer(layer: QgsVectorLayer, info, provenance: Provenance) -> None:
    """Show a newly written live status file in ``layer``: same layer, renderer and place
    in the layer tree, new data; then repaint."""
    layer.setDataSource(_status_uri(info), status_layer_name(info), "ogr")
    if not layer.isValid():
        raise StoreError(f"Could not open the live status layer in {info.path}.")
    if layer.customProperty(STATUS_AGE_PROPERTY) != info.max_age_minutes:
        layer.setRenderer(qgis_styling.status_layer_renderer(info.max_age_minutes))
    _status_metadata(layer, info, provenance)
    layer.triggerRepaint()


def status_source_file(layer: QgsVectorLayer) -> str:
    """The GeoPackage a live status layer shows."""
    return layer.source().split("|", 1)[0]


def _status_uri(info) -> str:
    from ..core.outputs.mapdata import STATUS_TABLE

    return f"{info.path}|layername={STATUS_TABLE}"


def _status_metadata(layer: QgsVectorLayer, info, provenance: Provenance) -> None:
    layer.setCustomProperty(STATUS_AGE_PROPERTY, info.max_age_minutes)
    feeds = ", ".join(info.sources) or "none"
    apply_provenance(layer, provenance, (
        f"Live status of {info.features} charge devices from the watched OCPI feeds "
        f"({feeds}), each device's EVSEs at their latest observation (newest: "
        f"{info.latest_text() or 'none'} UK time). A device with a free EVSE is Available; "
        f"Stale: no observation within {info.max_age_minutes:g} minutes before "
        f"{info.now_utc}."))


def areas_layer(source, table: str, name: str, field_name: str, unit: str,
                provenance: Provenance, label_field: Optional[str] = None,
                label_min_scale: Optional[float] = None) -> QgsVectorLayer:
    layer = open_layer(source, table, name)
    index = layer.fields().indexOf(field_name)
    if index < 0:
        raise StoreError(f"The layer '{table}' has no field '{field_name}'.")
    values = [f[field_name] for f in layer.getFeatures()]
    numbers = [float(v) for v in values if v is not None and not _is_null(v)]
    layer.setRenderer(qgis_styling.area_renderer(field_name, styling.area_bands(numbers, unit)))
    if label_field:
        qgis_styling.label_areas(layer, label_field, min_scale=label_min_scale)
    layer.setOpacity(0.85)
    apply_provenance(layer, provenance, f"{name}: {unit}.")
    return layer


def outline_layer(source, table: str, name: str, provenance: Provenance,
                  label_field: Optional[str] = None) -> QgsVectorLayer:
    layer = open_layer(source, table, name)
    layer.setRenderer(qgis_styling.outline_renderer())
    if label_field:
        qgis_styling.label_areas(layer, label_field, size_pt=7.5)
    apply_provenance(layer, provenance, name)
    return layer


def apply_provenance(layer: QgsVectorLayer, provenance: Provenance, abstract: str) -> None:
    metadata = QgsLayerMetadata()
    metadata.setTitle(f"{provenance.title}: {layer.name()}")
    usage_note = (" Usage figures are SYNTHETIC (generated from real Dundee session "
                  "distributions); they are not London's real usage." if provenance.synthetic_usage
                  else "")
    metadata.setAbstract(f"{abstract}{usage_note}\n\nData vintage: {provenance.vintage}.\n"
                         f"Sources: {'; '.join(provenance.sources)}.")
    metadata.setLicenses(list(provenance.licences))
    metadata.setRights([provenance.attribution])
    metadata.setKeywords({"keywords": list(provenance.keywords)})
    layer.setMetadata(metadata)
    server = layer.serverProperties()  # QgsMapLayer.setAttribution* moved here in QGIS 3.38
    server.setAttribution(provenance.attribution)
    server.setAttributionUrl("https://www.nationalarchives.gov.uk/doc/open-government-licence/"
                             "version/3/")


def add_to_project(layers: Sequence[QgsVectorLayer], project: Optional[QgsProject] = None,
                   group_name: str = GROUP_NAME):
    """Add layers under one group (replacing an older group of the same name)."""
    project = project or QgsProject.instance()
    root = project.layerTreeRoot()
    if layers and not project.mapLayers():
        # a new project: work in British National Grid, like the data (no reprojection,
        # and no "preferred transform" warning when the OSTN15 grid is not installed)
        project.setCrs(layers[0].crs())
    old = root.findGroup(group_name)
    if old is not None:
        project.removeMapLayers([lyr.layerId() for lyr in old.findLayers()])
        root.removeChildNode(old)
    group = root.insertGroup(0, group_name)
    for layer in layers:
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return group


def _enable_temporal(layer: QgsVectorLayer) -> None:
    """Each feature holds its period: from the first day's start to the end of the last
    day (``period_end`` is that day's date, so a frame within it still shows the period)."""
    props = layer.temporalProperties()
    fields = layer.fields()
    if fields.indexOf("period_start") < 0 or fields.indexOf("period_end") < 0:
        return
    ref = QgsExpression.quotedColumnRef
    props.setMode(Qgis.VectorTemporalMode.FeatureDateTimeStartAndEndFromExpressions)
    props.setStartExpression(f"to_datetime({ref('period_start')})")
    props.setEndExpression(f"to_datetime({ref('period_end')}) + to_interval('1 day')")
    props.setLimitMode(Qgis.VectorTemporalLimitMode.IncludeBeginExcludeEnd)
    props.setIsActive(True)


def show_every_period(layer: QgsVectorLayer, period: Optional[str]) -> None:
    """The devices layer for the temporal controller (``period`` None): every period, each
    frame drawing the features of its own; else the static map of ``period``."""
    wanted = "" if period is None else period_subset(period)
    if layer.subsetString() != wanted:
        layer.setSubsetString(wanted)
    layer.triggerRepaint()


def temporal_extent(periods: Sequence[tuple[str, str]]) -> Optional[QgsDateTimeRange]:
    """From the first period's first day to the last period's last day (both dates), as
    the temporal controller counts frames: one per period when it steps by the period."""
    if not periods:
        return None
    start = QDateTime(QDate.fromString(min(p[0] for p in periods), Qt.DateFormat.ISODate),
                      QTime(0, 0))
    end = QDateTime(QDate.fromString(max(p[1] for p in periods), Qt.DateFormat.ISODate),
                    QTime(0, 0))
    return QgsDateTimeRange(start, end)


def _is_null(value) -> bool:
    """A NULL attribute value: a null QVariant on Qt 5 builds of QGIS, None on Qt 6 builds.
    QgsVariantUtils.isNull (QGIS >= 3.28) answers for both."""
    return value is None or QgsVariantUtils.isNull(value)
