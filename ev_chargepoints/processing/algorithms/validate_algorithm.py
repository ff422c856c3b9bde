"""Check operators' files against the data standard (conformance report)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputFile,
    QgsProcessingOutputString,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from .base import EvAlgorithm


class ValidateAlgorithm(EvAlgorithm):
    NAME = "validate"
    DISPLAY = QT_TRANSLATE_NOOP("ValidateAlgorithm", "Check files against the data standard")
    GROUP = QT_TRANSLATE_NOOP("ValidateAlgorithm", "Data")
    GROUP_ID = "data"
    HELP = QT_TRANSLATE_NOOP(
        "ValidateAlgorithm",
        "Checks usage returns, device reference data, NCR exports and OCPI Locations "
        "JSON against the plugin's data standard (docs/data-standard.md) and writes a "
        "per-operator conformance report (report.html and report.json) with a "
        "pass / warn / fail verdict and the reasons. Problems in the files are findings "
        "in the report, not errors.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FILES", self.tr("Files to check"), QgsProcessing.SourceType.TypeFile))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "REFERENCE", self.tr("Device reference data (optional)"),
            QgsProcessing.SourceType.TypeFile, optional=True))
        self.addParameter(QgsProcessingParameterString(
            "PERIOD", self.tr("Return period, e.g. 2024-Q1 (empty = inferred)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "STALE_DAYS", self.tr("Data older than this many days is stale"),
            QgsProcessingParameterNumber.Type.Double, defaultValue=90, minValue=1))
        self.addParameter(QgsProcessingParameterFolderDestination(
            "OUTPUT_FOLDER", self.tr("Report folder")))
        self.addOutput(QgsProcessingOutputFile("REPORT_HTML", self.tr("Report (HTML)")))
        self.addOutput(QgsProcessingOutputString("VERDICTS", self.tr("Verdict per operator")))

    def execute(self, parameters, context, feedback):
        from ...core import conformance
        from ...core.report_html import write_report

        files = self.parameterAsFileList(parameters, "FILES", context)
        reference = self.parameterAsFileList(parameters, "REFERENCE", context) or None
        out = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        report = conformance.validate_files(
            files, reference=reference,
            period=self.parameterAsString(parameters, "PERIOD", context) or None,
            stale_days=self.parameterAsDouble(parameters, "STALE_DAYS", context),
            progress=self.progress(feedback))
        html_path, _json_path = write_report(report, out)
        lines = [f"{op.verdict.upper()}: {op.operator}" for op in report.operators]
        for line in lines:
            feedback.pushInfo(line)
        return {"REPORT_HTML": str(html_path), "VERDICTS": "\n".join(lines),
                "OUTPUT_FOLDER": out}
