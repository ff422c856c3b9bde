"""Summarise charge points by area: boroughs, wards or any polygon layer.

The algorithm only adapts arguments: it hands the store, level, period and
filters to ``Workspace.summary`` (the same call the CLI and the dock make) and
writes the table it returns, once with the area polygons and once without.
Areas from a layer are copied to a temporary GeoPackage (code, name and
geometry only) that the core reads like any boundary file.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsFeatureRequest,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsVectorFileWriter,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QMetaType

from ...core.analysis import areas as core_areas
from ...core.errors import EvChargepointsError
from ...core.outputs import disclosure
from ...core.workspace import Workspace
from ...qgis.areas import bundled_geometries
from ...qgis.tables import features_for, fields_for
from .data_algorithms import PERIODS, StoreAlgorithm, add_store_parameters, write_table

LEVELS = ["borough", "ward"]
CORE_CRS = ("EPSG:27700", "EPSG:4326")   # what the core reads; anything else is reprojected
TEMP_LAYER = "areas"


@dataclass
class AreasInput:
    """Where the core reads the areas (None: the bundled ones) and their polygons."""

    path: str | None
    code_field: str | None
    name_field: str | None
    geometries: dict
    crs: QgsCoordinateReferenceSystem


def split_values(text: str) -> list[str]:
    """Several filter values in one string: separated by ';' if there is one, else ','."""
    text = (text or "").strip()
    if not text:
        return []
    separator = ";" if ";" in text else ","
    return [part.strip() for part in text.split(separator) if part.strip()]


def _code_text(value) -> str | None:
    """An area code as the core reads it back from the GeoPackage."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    text = str(value).strip()
    return text or None


class SummariseByAreaAlgorithm(StoreAlgorithm):
    NAME = "summarisebyarea"
    DISPLAY = QT_TRANSLATE_NOOP("SummariseByAreaAlgorithm", "Summarise charge points by area")
    GROUP = QT_TRANSLATE_NOOP("SummariseByAreaAlgorithm", "Analysis")
    GROUP_ID = "analysis"
    HELP = QT_TRANSLATE_NOOP(
        "SummariseByAreaAlgorithm",
        "Charge devices, connectors, power classes, devices per 10,000 residents and, "
        "when the store holds usage, sessions, kWh, occupancy % and capacity factor % "
        "for each area, with the change against the previous period. Ratios are "
        "recomputed from sums, never averaged.\n\n"
        "Areas: leave the areas layer empty to use London's boroughs or wards (2018, "
        "with 2015 population), or give any polygon layer with a code field (and a "
        "name field); those fields are detected when not chosen. Each device is placed "
        "once in one area (points exactly on a boundary go to the area to their east).\n\n"
        "Filters take one value or several separated by semicolons (or commas); "
        "case does not matter and 'unknown' matches devices without the value.\n\n"
        "Disclosure: usage figures of areas with fewer devices than the threshold, or "
        "from a single operator, are suppressed, and so is a partner area where a "
        "published total would give one away; device counts are always shown. 'Not for "
        "publication' keeps every figure and names the outputs INTERNAL.\n\n"
        "Outputs: the areas with their polygons, the same figures as a table, or both "
        "(leave one out to skip it).")

    def initAlgorithm(self, config=None):
        self.add_area_parameters(self.tr("Areas (empty: London boroughs or wards)"),
                                 self.tr("Area code field (detected if empty)"),
                                 self.tr("Area name field (detected if empty)"))
        self.addParameter(QgsProcessingParameterEnum(
            "LEVEL", self.tr("Level"), [self.tr("Borough"), self.tr("Ward")], defaultValue=0))
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterString(
            "PERIOD", self.tr("Period, e.g. 2022-Q2 (empty: the latest with substantial usage)"),
            optional=True))
        self.addParameter(QgsProcessingParameterEnum(
            "PERIOD_KIND", self.tr("Period length"),
            [self.tr("Month"), self.tr("Quarter"), self.tr("Year")], defaultValue=1))
        self.addParameter(QgsProcessingParameterString(
            "OPERATOR", self.tr("Only these operators"), optional=True))
        self.addParameter(QgsProcessingParameterString(
            "POWER_CLASS", self.tr("Only these power classes (slow, fast, rapid, ultra)"),
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            "LOCATION_TYPE", self.tr("Only these location types"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "THRESHOLD", self.tr("Suppress usage of areas with fewer devices than"),
            Qgis.ProcessingNumberParameterType.Integer,
            defaultValue=disclosure.DEFAULT_THRESHOLD, minValue=1))
        self.addParameter(QgsProcessingParameterBoolean(
            "INTERNAL", self.tr("Not for publication: keep every usage figure (outputs "
                                "say INTERNAL)"), defaultValue=False))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Areas with summary"),
            Qgis.ProcessingSourceType.VectorPolygon, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "TABLE", self.tr("Summary table"), Qgis.ProcessingSourceType.Vector,
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("DEVICES", self.tr("Devices in the areas")))
        self.addOutput(QgsProcessingOutputString("PERIOD_SHOWN", self.tr("Period shown")))
        self.addOutput(QgsProcessingOutputString("REPORT", self.tr("Assignment report")))

    # --- run ---------------------------------------------------------------------

    def execute(self, parameters, context, feedback):
        target = self.store
        level = LEVELS[self.parameterAsEnum(parameters, "LEVEL", context)]
        period_kind = PERIODS[self.parameterAsEnum(parameters, "PERIOD_KIND", context)]
        period = self.parameterAsString(parameters, "PERIOD", context).strip() or None
        filters = {key: split_values(self.parameterAsString(parameters, name, context))
                   for key, name in (("operator", "OPERATOR"), ("power_class", "POWER_CLASS"),
                                     ("location_type", "LOCATION_TYPE"))}
        filters = {key: values for key, values in filters.items() if values}
        internal = self.parameterAsBool(parameters, "INTERNAL", context)
        threshold = self.parameterAsInt(parameters, "THRESHOLD", context)
        wanted = [name for name in ("OUTPUT", "TABLE") if self._wanted(parameters, name)]
        if not wanted:
            raise EvChargepointsError(self.tr(
                "Choose where to write the areas with summary, the summary table, or both."))

        with self.areas_input(parameters, context, feedback, level) as areas:
            if feedback.isCanceled():
                return {}
            areas_path, code_field, name_field = areas.path, areas.code_field, areas.name_field
            geometries, crs = areas.geometries, areas.crs
            with Workspace(target, create=False) as ws:
                table, assignment = ws.publishable_summary(
                    level=level, period=period, period_kind=period_kind,
                    filters=filters or None, areas_path=areas_path, code_field=code_field,
                    name_field=name_field, threshold=threshold, internal=internal,
                    progress=self.progress(feedback))

        report = assignment.report.lines()
        for line in report:
            feedback.pushInfo(line)
        if table.attrs.get("role_note"):  # the shared store: what this login may see
            feedback.pushInfo(table.attrs["role_note"])
        devices = int(table["devices"].sum())
        shown = table.attrs.get("period") or ""
        feedback.pushInfo(self.tr("{n} devices in {areas} areas").format(
            n=f"{devices:,}", areas=f"{len(table):,}") + (f" ({shown})" if shown else ""))
        if internal:
            feedback.pushWarning(disclosure.INTERNAL_NOTE)
        else:
            feedback.pushInfo(self.tr("{note}: {n} of {areas} areas").format(
                note=disclosure.note(threshold), n=len(table.attrs.get("suppressed", [])),
                areas=f"{len(table):,}"))

        results = {"DEVICES": devices, "PERIOD_SHOWN": shown, "REPORT": "\n".join(report)}
        if "OUTPUT" in wanted:
            results["OUTPUT"] = self._write_areas_output(table, geometries, crs, parameters,
                                                         context, feedback)
        if "TABLE" in wanted:
            results["TABLE"] = write_table(self, table, parameters, context, feedback,
                                           name="TABLE")
        self._internal = internal
        return results

    def processAlgorithm(self, parameters, context, feedback):
        self._internal = False
        results = super().processAlgorithm(parameters, context, feedback)
        if self._internal:
            self._label_outputs(results, context, disclosure.INTERNAL_SUFFIX)
        return results

    @staticmethod
    def _wanted(parameters, name: str) -> bool:
        """Whether the output ``name`` was asked for (each of the two is optional)."""
        value = parameters.get(name)
        if isinstance(value, QgsProcessingOutputLayerDefinition):
            value = value.sink.staticValue()
        return value is not None and str(value).strip() != ""

    def _write_areas_output(self, table, geometries, crs, parameters, context, feedback):
        fields = fields_for(table)
        sink, dest = self.parameterAsSink(parameters, "OUTPUT", context, fields,
                                          Qgis.WkbType.MultiPolygon, crs)
        if sink is None:
            raise EvChargepointsError(self.tr("The areas output cannot be created."))
        missing = 0
        shapes = [geometries.get(code) for code in table["area_code"]]
        for feature in features_for(table, fields, shapes):
            if feedback.isCanceled():
                break
            if not feature.hasGeometry():
                missing += 1
            sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        if missing:
            feedback.pushWarning(self.tr("{n} areas have no geometry").format(n=missing))
        return dest

    # --- the areas: bundled or the user's layer (the ward demand algorithm too) ------

    def add_area_parameters(self, areas_label: str, code_label: str, name_label: str):
        """The optional polygon layer AREAS with its CODE_FIELD and NAME_FIELD."""
        self.addParameter(QgsProcessingParameterFeatureSource(
            "AREAS", areas_label, [Qgis.ProcessingSourceType.VectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterField(
            "CODE_FIELD", code_label, parentLayerParameterName="AREAS", optional=True))
        self.addParameter(QgsProcessingParameterField(
            "NAME_FIELD", name_label, parentLayerParameterName="AREAS", optional=True))

    @contextlib.contextmanager
    def areas_input(self, parameters, context, feedback, level: str):
        """The areas to summarise: the bundled ones of ``level`` when AREAS is empty, else
        the layer's code, name and polygons copied to a temporary GeoPackage (removed on
        leaving) that the core reads like any boundary file."""
        source = self.parameterAsSource(parameters, "AREAS", context)
        if source is None:
            geometries, crs = bundled_geometries(level)
            yield AreasInput(None, None, None, geometries, crs)
            return
        tmp_dir = tempfile.mkdtemp(prefix="evcp-areas-")
        try:
            path = str(Path(tmp_dir) / "areas.gpkg")
            geometries, crs = self._write_areas(source, parameters, context, feedback, path)
            yield AreasInput(path, "area_code", "area_name", geometries, crs)
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    def _fields_of(self, source, parameters, context) -> tuple[str, str]:
        names = source.fields().names()
        code = self.parameterAsString(parameters, "CODE_FIELD", context)
        name = self.parameterAsString(parameters, "NAME_FIELD", context)
        detected = core_areas.detect_fields(names)
        code = code or detected["code"]
        name = name or detected["name"] or code
        if not code:
            raise EvChargepointsError(self.tr(
                "No area code field found in the areas layer (looked for GSS_CODE, CODE, "
                "AREA_CODE or a field ending in CD); choose the code field."))
        return code, name

    def _write_areas(self, source, parameters, context, feedback, areas_path):
        """Copy code, name and polygons to ``areas_path``; geometries by code for the output."""
        code_field, name_field = self._fields_of(source, parameters, context)
        source_crs = source.sourceCrs()
        if not source_crs.isValid():
            raise EvChargepointsError(self.tr(
                "The areas layer has no coordinate reference system."))
        transform = None
        target_crs = source_crs
        if source_crs.authid() not in CORE_CRS:
            target_crs = QgsCoordinateReferenceSystem("EPSG:27700")
            transform = QgsCoordinateTransform(source_crs, target_crs,
                                               context.transformContext())
            feedback.pushInfo(self.tr("Reprojecting the areas from {crs} to EPSG:27700")
                              .format(crs=source_crs.authid() or source_crs.description()))
        fields = QgsFields()
        fields.append(QgsField("area_code", QMetaType.Type.QString))
        fields.append(QgsField("area_name", QMetaType.Type.QString))
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = TEMP_LAYER
        options.fileEncoding = "UTF-8"
        writer = QgsVectorFileWriter.create(areas_path, fields, Qgis.WkbType.MultiPolygon,
                                            target_crs, context.transformContext(), options)
        if writer.hasError() != QgsVectorFileWriter.WriterError.NoError:
            raise EvChargepointsError(self.tr("The areas cannot be copied: {error}").format(
                error=writer.errorMessage()))
        geometries = {}
        request = QgsFeatureRequest().setSubsetOfAttributes(
            [code_field, name_field], source.fields())
        try:
            for feature in source.getFeatures(request):
                if feedback.isCanceled():
                    break
                code = _code_text(feature[code_field])
                name = _code_text(feature[name_field]) or code
                geometry = _flat_polygons(feature.geometry())
                if code is not None and geometry is not None:
                    geometries[code] = QgsGeometry(geometry)
                if geometry is not None and transform is not None:
                    geometry.transform(transform)
                out = QgsFeature(fields)
                out.setAttributes([code, name])
                if geometry is not None:
                    out.setGeometry(geometry)
                if not writer.addFeature(out, QgsFeatureSink.Flag.FastInsert):
                    raise EvChargepointsError(self.tr(
                        "The areas cannot be copied: {error}").format(
                        error=writer.errorMessage()))
        finally:
            del writer  # flushes and closes the GeoPackage before the core reads it
        return geometries, source_crs


def _flat_polygons(geometry: QgsGeometry) -> QgsGeometry | None:
    """2D multipolygon (curves segmentised), or None for an empty geometry."""
    if geometry is None or geometry.isNull() or geometry.isEmpty():
        return None
    out = QgsGeometry(geometry)
    if QgsWkbTypes.isCurvedType(out.wkbType()):
        out = QgsGeometry(out.constGet().segmentize())
    abstract = out.get()
    abstract.dropZValue()
    abstract.dropMValue()
    out.convertToMultiType()
    return out

