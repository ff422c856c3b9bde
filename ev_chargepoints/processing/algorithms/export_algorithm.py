"""Export committee maps: A4 PDF pages for London, chosen boroughs or all 33."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ...core.analysis import demand
from .data_algorithms import StoreAlgorithm, add_store_parameters

ORIENTATIONS = ["portrait", "landscape"]
PRESET_NAMES = list(demand.PRESETS)


class ExportCommitteeMapAlgorithm(StoreAlgorithm):
    NAME = "exportcommitteemap"
    DISPLAY = QT_TRANSLATE_NOOP("ExportCommitteeMapAlgorithm", "Export committee map")
    GROUP = QT_TRANSLATE_NOOP("ExportCommitteeMapAlgorithm", "Export")
    GROUP_ID = "export"
    HELP = QT_TRANSLATE_NOOP(
        "ExportCommitteeMapAlgorithm",
        "Exports A4 committee pages as PDF (and PNG): the London overview, chosen "
        "boroughs, or an atlas of all 33 boroughs, one PDF each or combined. Each page has "
        "the map, legend, scale bar, north arrow, an inset locating the borough, a summary "
        "table, metric definitions, data vintage, sources, attribution, date and a "
        "fingerprint of the inputs. Usage figures of areas with fewer devices than the "
        "threshold, or from a single operator, are suppressed before printing; device "
        "counts are always shown. Boroughs: leave empty for the London page, type 'all' "
        "for every borough, or list names separated by commas. Live status (off by "
        "default) adds the latest status the store's watched OCPI feeds reported, with "
        "stale devices marked as in the plugin settings. Each borough page's notes also "
        "give the borough's demand for public connectors under the chosen demand scenario "
        "(connectors needed, now and the gap, summed over its wards).")

    def flags(self):
        return super().flags() | Qgis.ProcessingAlgorithmFlag.NoThreading

    def initAlgorithm(self, config=None):
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterString(
            "BOROUGHS", self.tr("Boroughs (empty = London page, 'all' = every borough)"),
            optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "COMBINED", self.tr("All borough pages in one PDF"), defaultValue=False))
        self.addParameter(QgsProcessingParameterBoolean(
            "PNG", self.tr("Also write PNG images (300 dpi)"), defaultValue=False))
        self.addParameter(QgsProcessingParameterString(
            "PERIOD", self.tr("Quarter, e.g. 2022-Q2 (empty = latest with substantial usage)"),
            optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "THRESHOLD", self.tr("Suppress usage of areas with fewer devices than"),
            Qgis.ProcessingNumberParameterType.Integer, defaultValue=3, minValue=1))
        self.addParameter(QgsProcessingParameterEnum(
            "ORIENTATION", self.tr("Orientation"), [self.tr("portrait"), self.tr("landscape")],
            defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(
            "LIVE_STATUS", self.tr("Show the latest watched live status on the maps"),
            defaultValue=False))
        self.addParameter(QgsProcessingParameterEnum(
            "SCENARIO", self.tr("Demand scenario of the borough pages"), PRESET_NAMES,
            defaultValue=PRESET_NAMES.index(demand.DEFAULT_PRESET)))
        self.addParameter(QgsProcessingParameterFolderDestination(
            "OUTPUT_FOLDER", self.tr("Output folder")))
        self.addOutput(QgsProcessingOutputMultipleLayers("FILES", self.tr("Files written")))
        self.addOutput(QgsProcessingOutputString("FINGERPRINT", self.tr("Input fingerprint")))

    def execute(self, parameters, context, feedback):
        from ...qgis import settings as plugin_settings
        from ...qgis.layout_export.export import export_committee_maps

        target = self.store
        text = self.parameterAsString(parameters, "BOROUGHS", context).strip()
        if not text:
            boroughs = None
        elif text.lower() == "all":
            boroughs = "all"
        else:
            boroughs = [name.strip() for name in text.split(",") if name.strip()]
        out = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        result = export_committee_maps(
            target, out, boroughs=boroughs,
            combined=self.parameterAsBool(parameters, "COMBINED", context),
            png_dpi=300 if self.parameterAsBool(parameters, "PNG", context) else None,
            period=self.parameterAsString(parameters, "PERIOD", context).strip() or None,
            threshold=self.parameterAsInt(parameters, "THRESHOLD", context),
            orientation=ORIENTATIONS[self.parameterAsEnum(parameters, "ORIENTATION", context)],
            progress=self.progress(feedback),
            live_status=self.parameterAsBool(parameters, "LIVE_STATUS", context),
            status_max_age_minutes=plugin_settings.load().status_max_age_minutes,
            scenario=PRESET_NAMES[self.parameterAsEnum(parameters, "SCENARIO", context)])
        for file in result.files:
            feedback.pushInfo(str(file))
        if result.suppressed:
            feedback.pushInfo(self.tr("Usage figures suppressed for: {areas}").format(
                areas=", ".join(result.suppressed)))
        return {"OUTPUT_FOLDER": out, "FILES": [str(f) for f in result.files],
                "FINGERPRINT": result.fingerprint}
