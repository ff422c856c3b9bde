"""Candidate sites: buffer analysis with scores and ranks, and greedy suggestions.

Both algorithms read any point source (transformed to EPSG:27700 with the
context's transform settings), adapt it to a sites table and call the
Workspace facade; the figures are those of :mod:`...core.analysis.siting`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from qgis.core import (
    NULL,
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from ...core.analysis import demand, site_files
from ...core.analysis.siting.analyser import DEFAULT_WEIGHTS
from ...core.analysis.siting.sites import as_sites
from ...core.errors import EvChargepointsError
from ...core.workspace import Workspace
from ...qgis.street_network import network_attribution, street_network
from ...qgis.tables import cell_value, fields_for
from .base import EvAlgorithm
from .data_algorithms import StoreAlgorithm, add_store_parameters

BNG = "EPSG:27700"
BUFFER_SEGMENTS = 36
PRESET_NAMES = list(demand.PRESETS)


def read_source(alg: EvAlgorithm, parameters, context, feedback):
    """(sites table, source fields, {site_id: source attributes}) from INPUT."""
    source = alg.parameterAsSource(parameters, "INPUT", context)
    if source is None:
        raise EvChargepointsError(QCoreApplication.translate(
            "EvAlgorithm", "The candidate sites layer could not be read."))
    id_field = alg.parameterAsString(parameters, "ID_FIELD", context)
    transform = QgsCoordinateTransform(source.sourceCrs(), QgsCoordinateReferenceSystem(BNG),
                                       context.transformContext())
    xs, ys, ids, attributes = [], [], [], []
    for feature in source.getFeatures():
        if feedback.isCanceled():
            break
        x = y = math.nan
        geometry = QgsGeometry(feature.geometry())
        if not geometry.isNull() and not geometry.isEmpty():
            geometry.transform(transform)
            point = geometry.asMultiPoint()[0] if geometry.isMultipart() else geometry.asPoint()
            x, y = point.x(), point.y()
        xs.append(x)
        ys.append(y)
        value = feature[id_field] if id_field else feature.id()
        ids.append(None if value is None or value == NULL else str(value))
        attributes.append(feature.attributes())
    if not xs:
        raise EvChargepointsError(QCoreApplication.translate(
            "EvAlgorithm", "The candidate sites layer has no features."))
    try:
        sites = as_sites(pd.DataFrame({"site_id": pd.Series(ids, dtype=object),
                                              "x": xs, "y": ys}))
    except EvChargepointsError as exc:
        raise EvChargepointsError(QCoreApplication.translate(
            "EvAlgorithm", "Candidate sites: {error}").format(error=exc.message)) from None
    return sites, source.fields(), dict(zip(sites["site_id"], attributes))


def read_network(alg: EvAlgorithm, parameters, context, feedback):
    """A :class:`StreetNetwork` from the optional NETWORK line source (None: not given),
    transformed to EPSG:27700 with the context's transform settings."""
    source = alg.parameterAsSource(parameters, "NETWORK", context)
    if source is None:
        return None
    name = source.sourceName()
    network = street_network(source, source.sourceCrs(), context.transformContext(),
                             name, alg.progress(feedback).scaled(0, 5),
                             source.featureCount(),
                             network_attribution(name, source.fields().names()))
    if not network.n_edges:
        raise EvChargepointsError(QCoreApplication.translate(
            "EvAlgorithm", "The street network layer has no lines."))
    if network.attribution:
        feedback.pushInfo(network.attribution)
    return network


def distances_from(alg: EvAlgorithm, parameters, context) -> list[float]:
    distances = [alg.parameterAsDouble(parameters, "DISTANCE", context)]
    text = alg.parameterAsString(parameters, "RINGS", context) or ""
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        try:
            value = float(part)
        except ValueError:
            raise EvChargepointsError(QCoreApplication.translate(
                "EvAlgorithm", "Extra rings: {value} is not a number of metres.").format(
                value=repr(part))) from None
        if not (value > 0 and math.isfinite(value)):
            raise EvChargepointsError(QCoreApplication.translate(
                "EvAlgorithm", "Extra rings: {value} must be positive.").format(
                value=repr(part)))
        if value not in distances:
            distances.append(value)
    return distances


def output_fields(source_fields: QgsFields, frame: pd.DataFrame):
    """Source fields, then the result columns (renamed ``ev_NAME`` where they clash)."""
    fields = QgsFields(source_fields)
    taken = {name.lower() for name in source_fields.names()}
    names = []
    for field in fields_for(frame):
        name = field.name()
        if name.lower() in taken:
            name = f"ev_{name}"
        fields.append(QgsField(name, field.type()))
        taken.add(name.lower())
        names.append(name)
    return fields, names


def write_features(alg, parameters, name, context, feedback, frame, source_fields, attributes,
                   geometry_type, geometry_for):
    fields, _ = output_fields(source_fields, frame)
    sink, dest = alg.parameterAsSink(parameters, name, context, fields, geometry_type,
                                     QgsCoordinateReferenceSystem(BNG))
    if sink is None:
        return None
    blank = [None] * source_fields.count()
    for row in frame.itertuples(index=False, name=None):
        if feedback.isCanceled():
            break
        record = dict(zip(frame.columns, row))
        feature = QgsFeature(fields)
        feature.setAttributes(list(attributes.get(record["site_id"], blank))
                              + [cell_value(v) for v in row])
        geometry = geometry_for(record)
        if geometry is not None:
            feature.setGeometry(geometry)
        sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
    return dest


def _point(record):
    x, y = record["x"], record["y"]
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    return QgsGeometry.fromPointXY(QgsPointXY(float(x), float(y)))


class _SitesAlgorithm(StoreAlgorithm):
    GROUP = QT_TRANSLATE_NOOP("_SitesAlgorithm", "Candidate sites")
    GROUP_ID = "sites"

    def _source_parameters(self):
        self.addParameter(QgsProcessingParameterFeatureSource(
            "INPUT", self.tr("Candidate sites (points)"),
            [Qgis.ProcessingSourceType.VectorPoint]))
        self.addParameter(QgsProcessingParameterField(
            "ID_FIELD", self.tr("Site identifier field (default: feature id)"),
            parentLayerParameterName="INPUT", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "DISTANCE", self.tr("Catchment distance (m)"),
            Qgis.ProcessingNumberParameterType.Double, defaultValue=400.0, minValue=1.0))


class AnalyseSitesAlgorithm(_SitesAlgorithm):
    NAME = "analysesites"
    DISPLAY = QT_TRANSLATE_NOOP("AnalyseSitesAlgorithm", "Analyse candidate sites")
    HELP = QT_TRANSLATE_NOOP(
        "AnalyseSitesAlgorithm",
        "For each candidate site: existing devices and connectors within the catchment "
        "distance (straight line), by power class and operator; their usage in the "
        "latest period; the nearest existing device; residents within reach (ward "
        "populations spread over a 100 m grid), those an existing device already reaches "
        "and those the site would newly cover; a weighted score (0-100) and rank. Extra "
        "ring distances add the same figures with a suffix such as _800m. Weights are "
        "CRITERION=WEIGHT pairs among new_coverage, unique_coverage, residents, demand, "
        "kwh and gap (default new_coverage=0.6,demand=0.2,gap=0.2). Output fields clashing "
        "with an input field are named ev_FIELD. With a street network line layer, "
        "devices_within_walk and residents_within_walk count what lies within the walk "
        "distance on foot along the streets (the straight legs to and from the network "
        "included), and the walking catchments can be written as polygons. A demand-gap "
        "weight above 0 (or demand_gap among the weights) adds demand_gap_within: the "
        "public connectors still needed (needed − now, wards with more than they need "
        "counting 0) in the wards the catchment reaches, spread over each ward like its "
        "residents, under the demand scenario chosen among the advanced parameters.")

    def initAlgorithm(self, config=None):
        self._source_parameters()
        self.addParameter(QgsProcessingParameterString(
            "RINGS", self.tr("Extra ring distances (m, comma-separated)"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            "WEIGHTS", self.tr("Score weights"), optional=True,
            defaultValue="new_coverage=0.6,demand=0.2,gap=0.2"))
        self.addParameter(QgsProcessingParameterNumber(
            "DEMAND_WEIGHT", self.tr("Weight of the demand gap (demand_gap; 0: not scored)"),
            Qgis.ProcessingNumberParameterType.Double, defaultValue=0.0, minValue=0.0,
            optional=True))
        scenario = QgsProcessingParameterEnum(
            "SCENARIO", self.tr("Demand scenario of the demand gap"), PRESET_NAMES,
            defaultValue=PRESET_NAMES.index(demand.DEFAULT_PRESET))
        scenario.setFlags(scenario.flags() | Qgis.ProcessingParameterFlag.Advanced)
        self.addParameter(scenario)
        self.addParameter(QgsProcessingParameterFeatureSource(
            "NETWORK", self.tr("Street network for walking catchments (lines)"),
            [Qgis.ProcessingSourceType.VectorLine], optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "WALK", self.tr("Walk distance (m; 400 m is 5 minutes at 4.8 km/h)"),
            Qgis.ProcessingNumberParameterType.Double, defaultValue=400.0, minValue=1.0))
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Analysed sites"), Qgis.ProcessingSourceType.VectorPoint))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "BUFFERS", self.tr("Catchment buffers"), Qgis.ProcessingSourceType.VectorPolygon,
            optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "CATCHMENTS", self.tr("Walking catchments"),
            Qgis.ProcessingSourceType.VectorPolygon, optional=True, createByDefault=False))

    def execute(self, parameters, context, feedback):
        distances = distances_from(self, parameters, context)
        walk = self.parameterAsDouble(parameters, "WALK", context)
        network = read_network(self, parameters, context, feedback)
        text = self.parameterAsString(parameters, "WEIGHTS", context)
        weights = site_files.parse_weights(text) if text and text.strip() else None
        demand_weight = self.parameterAsDouble(parameters, "DEMAND_WEIGHT", context)
        if demand_weight > 0:
            weights = {**(weights or DEFAULT_WEIGHTS), "demand_gap": demand_weight}
        scenario = PRESET_NAMES[self.parameterAsEnum(parameters, "SCENARIO", context)] \
            if (weights or {}).get("demand_gap") else None
        target = self.store
        sites, source_fields, attributes = read_source(self, parameters, context, feedback)
        with Workspace(target, create=False) as ws:
            long = ws.analyse_sites(sites, distances, weights,
                                    progress=self.progress(feedback), network=network,
                                    walk_m=walk, scenario=scenario)
        table = site_files.wide(long, distances)
        unwalked = site_files.unwalked_message(table)
        if unwalked:
            feedback.pushWarning(unwalked)
        results = {"OUTPUT": write_features(self, parameters, "OUTPUT", context, feedback,
                                            table, source_fields, attributes,
                                            Qgis.WkbType.Point, _point)}
        if parameters.get("BUFFERS") is not None:
            def buffer(record):
                point = _point(record)
                return None if point is None else point.buffer(float(record["distance_m"]),
                                                               BUFFER_SEGMENTS)
            dest = write_features(self, parameters, "BUFFERS", context, feedback, long,
                                  source_fields, attributes, Qgis.WkbType.Polygon, buffer)
            if dest is not None:
                results["BUFFERS"] = dest
        if network is not None and parameters.get("CATCHMENTS") is not None:
            frame, shapes = site_files.catchment_table(table, network, walk)
            by_site = dict(zip(frame["site_id"], shapes))

            def polygon(record):
                wkb = by_site.get(record["site_id"])
                if wkb is None:
                    return None
                geometry = QgsGeometry()
                geometry.fromWkb(wkb)
                return geometry
            dest = write_features(self, parameters, "CATCHMENTS", context, feedback, frame,
                                  source_fields, attributes, Qgis.WkbType.MultiPolygon,
                                  polygon)
            if dest is not None:
                results["CATCHMENTS"] = dest
        return results


class SuggestSitesAlgorithm(_SitesAlgorithm):
    NAME = "suggestsites"
    DISPLAY = QT_TRANSLATE_NOOP("SuggestSitesAlgorithm", "Suggest sites")
    HELP = QT_TRANSLATE_NOOP(
        "SuggestSitesAlgorithm",
        "Picks up to K of the candidate sites by greedy maximal coverage with the "
        "existing devices fixed: each step takes the candidate that newly covers the "
        "most residents within the distance, given the existing devices and the "
        "candidates already picked (its gain). Stops early when no candidate covers "
        "anyone new. Greedy picks are within a factor 1 - 1/e of the best set of K.")

    def initAlgorithm(self, config=None):
        self._source_parameters()
        self.addParameter(QgsProcessingParameterNumber(
            "K", self.tr("Number of sites to pick"),
            Qgis.ProcessingNumberParameterType.Integer, defaultValue=5, minValue=1))
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Suggested sites"), Qgis.ProcessingSourceType.VectorPoint))

    def execute(self, parameters, context, feedback):
        k = self.parameterAsInt(parameters, "K", context)
        distance = self.parameterAsDouble(parameters, "DISTANCE", context)
        target = self.store
        sites, source_fields, attributes = read_source(self, parameters, context, feedback)
        with Workspace(target, create=False) as ws:
            picks = ws.suggest_sites(sites, k, distance, progress=self.progress(feedback))
        for row in picks.itertuples(index=False):
            feedback.pushInfo(self.tr("{step}. {site}: +{gain} residents (covered {pct}%)")
                              .format(step=row.step, site=row.site_id,
                                      gain=f"{row.gain_residents:,.0f}",
                                      pct=f"{row.covered_pct:.2f}"))
        if len(picks) < k:
            feedback.pushInfo(self.tr("No other candidate covers anyone new within {d} m.")
                              .format(d=f"{distance:g}"))
        return {"OUTPUT": write_features(self, parameters, "OUTPUT", context, feedback, picks,
                                         source_fields, attributes, Qgis.WkbType.Point,
                                         _point)}
