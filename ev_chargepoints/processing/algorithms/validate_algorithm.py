"""Check operators' files against the data standard (conformance report)."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsProcessingOutputFile,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ...core.errors import EvChargepointsError
from ...core.standard.model import MIN_OBSERVED_HOURS
from ...core.standard.reliability import describe_rapid, describe_record
from ...core.workspace import Workspace
from .data_algorithms import StoreAlgorithm, add_store_parameters, max_gap_parameter


class ValidateAlgorithm(StoreAlgorithm):
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
        "in the report, not errors.\n\n"
        "Reliability (2023 regulations: a rapid network must reach 99 %) counts observed "
        "time only: a status observation holds until the EVSE's next one, for at most "
        "the hours set (default 1); longer gaps count neither way. Tick 'Include the "
        "store's watched status history' to use what 'Watch live status' collected. "
        "Every reliability figure comes with its observed hours and observations; with "
        "fewer counted hours than the minimum (default 24) it says 'not enough observed "
        "time' instead of pass or fail. The RELIABILITY output lists them per operator.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FILES", self.tr("Files to check (optional with the store's status history)"),
            Qgis.ProcessingSourceType.File, optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "STATUS_HISTORY", self.tr("Include the store's watched status history"),
            defaultValue=False))
        add_store_parameters(self)
        self.addParameter(max_gap_parameter(self))
        self.addParameter(QgsProcessingParameterNumber(
            "MIN_OBSERVED_HOURS", self.tr("Counted hours needed for a pass or fail"),
            Qgis.ProcessingNumberParameterType.Double, defaultValue=MIN_OBSERVED_HOURS,
            minValue=0))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "REFERENCE", self.tr("Device reference data (optional)"),
            Qgis.ProcessingSourceType.File, optional=True))
        self.addParameter(QgsProcessingParameterString(
            "PERIOD", self.tr("Return period, e.g. 2024-Q1 (empty = inferred)"), optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "STALE_DAYS", self.tr("Data older than this many days is stale"),
            Qgis.ProcessingNumberParameterType.Double, defaultValue=90, minValue=1))
        self.addParameter(QgsProcessingParameterFolderDestination(
            "OUTPUT_FOLDER", self.tr("Report folder")))
        self.addOutput(QgsProcessingOutputFile("REPORT_HTML", self.tr("Report (HTML)")))
        self.addOutput(QgsProcessingOutputString("VERDICTS", self.tr("Verdict per operator")))
        self.addOutput(QgsProcessingOutputString(
            "RELIABILITY", self.tr("Reliability per operator, with its observed hours")))

    def prepare(self, parameters, context, feedback) -> None:
        self.store = None
        if self.parameterAsBoolean(parameters, "STATUS_HISTORY", context):
            super().prepare(parameters, context, feedback)

    def execute(self, parameters, context, feedback):
        files = [f for f in self.parameterAsFileList(parameters, "FILES", context) if f]
        reference = [f for f in self.parameterAsFileList(parameters, "REFERENCE", context)
                     if f] or None
        out = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        options = dict(
            reference=reference,
            period=self.parameterAsString(parameters, "PERIOD", context) or None,
            stale_days=self.parameterAsDouble(parameters, "STALE_DAYS", context),
            max_gap_hours=self.parameterAsDouble(parameters, "MAX_GAP_HOURS", context),
            min_observed_hours=self.parameterAsDouble(parameters, "MIN_OBSERVED_HOURS",
                                                      context),
            progress=self.progress(feedback))
        if self.store is not None:
            with Workspace(self.store, create=False) as ws:
                report = ws.validate(files, **options)
        elif files:
            report = Workspace.validate_files(files, **options)
        else:
            raise EvChargepointsError(self.tr(
                "Choose files to check, or include the store's watched status history."))
        html_path, _json_path = Workspace.write_report(report, out)
        lines = [f"{op.verdict.upper()}: {op.operator}{describe_rapid(op)}"
                 for op in report.operators]
        for line in lines:
            feedback.pushInfo(line)
        reliability = [f"{op.operator}: {describe_record(rec)}"
                       for op in report.operators
                       for rec in (op.reliability, op.rapid_reliability) if rec is not None]
        return {"REPORT_HTML": str(html_path), "VERDICTS": "\n".join(lines),
                "RELIABILITY": "\n".join(reliability), "OUTPUT_FOLDER": out}
