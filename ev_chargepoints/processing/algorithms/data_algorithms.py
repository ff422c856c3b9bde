"""Data in and out of the workspace store: import, fetch, utilisation."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import (
    Qgis,
    QgsFeatureSink,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterAuthConfig,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterProviderConnection,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from ...core.errors import EvChargepointsError, StoreNotFound
from ...core.sources.intake import describe_import
from ...core.store.address import StoreTarget
from ...core.store.usage_kind import NOTE, SUFFIX
from ...core.workspace import Workspace
from ...qgis import pg_connection
from ...qgis import settings as plugin_settings
from ...qgis.network import QgsTransport
from ...qgis.tables import features_for, fields_for
from .base import EvAlgorithm

FORMATS = ["auto", "ncr", "sessions", "ocpi-locations", "ocpi-cdrs", "ocpi-sessions",
           "usage-return", "device-reference", "cps-locations"]
PERIODS = ["month", "quarter", "year"]
STORE_CONNECTION = "STORE_CONNECTION"


def store_parameter(description: str = ""):
    param = QgsProcessingParameterFile(
        "STORE", description or QCoreApplication.translate("EvAlgorithm",
                                                           "Workspace store (GeoPackage)"),
        behavior=Qgis.ProcessingFileParameterBehavior.File, extension="gpkg", optional=True)
    param.setHelp(QCoreApplication.translate(
        "EvAlgorithm", "Leave empty to use the store set in the plugin settings."))
    return param


def add_store_parameters(alg: EvAlgorithm) -> None:
    """The store of an algorithm: a GeoPackage file or a saved PostgreSQL connection
    (which wins when both are given); both empty means the plugin settings' store."""
    alg.addParameter(store_parameter())
    connection = QgsProcessingParameterProviderConnection(
        STORE_CONNECTION, QCoreApplication.translate(
            "EvAlgorithm", "Shared store (saved PostgreSQL connection)"),
        pg_connection.PROVIDER, optional=True)
    connection.setHelp(QCoreApplication.translate(
        "EvAlgorithm", "A PostgreSQL connection saved in QGIS whose database holds the "
        "shared store; used instead of the GeoPackage when chosen. The password comes "
        "from the connection's authentication configuration."))
    alg.addParameter(connection)


def store_target(alg: EvAlgorithm, parameters, context) -> StoreTarget:
    """The store the parameters choose: the saved connection, else the GeoPackage,
    else the store of the plugin settings. Reads the authentication database, so
    call it on the main thread (``StoreAlgorithm`` does, in prepareAlgorithm)."""
    name = alg.parameterAsConnectionName(parameters, STORE_CONNECTION, context)
    if name:
        return pg_connection.store_target(name)
    path = alg.parameterAsFile(parameters, "STORE", context)
    if path:
        return StoreTarget("geopackage", path=Path(path))
    return plugin_settings.store_target()


class StoreAlgorithm(EvAlgorithm):
    """An algorithm working on the workspace store (see :func:`add_store_parameters`).

    The store is resolved in ``prepareAlgorithm``, which QGIS runs on the main
    thread (``processAlgorithm`` may run in a worker): a saved connection's
    password is read from the authentication database there, into memory only.
    """

    store: Optional[StoreTarget] = None

    def prepare(self, parameters, context, feedback) -> None:
        self.store = store_target(self, parameters, context)
        feedback.pushInfo(self.tr("Store: {store}").format(store=self.store.describe()))

    def processAlgorithm(self, parameters, context, feedback):
        results = super().processAlgorithm(parameters, context, feedback)
        self._label_synthetic(results, context, feedback)
        return results

    def _label_synthetic(self, results, context, feedback) -> None:
        """Every output of a store holding SYNTHETIC usage says so: a line in the log and
        the names of the layers made (temporary ones, and as loaded on completion)."""
        if self.store is None:
            return
        try:
            with Workspace(self.store, create=False) as ws:
                if not ws.has_synthetic_usage():
                    return
        except StoreNotFound:
            return
        feedback.pushWarning(NOTE)
        self._label_outputs(results, context, SUFFIX)

    def _label_outputs(self, results, context, suffix: str) -> None:
        """Add ``suffix`` to the names of the layers made (temporary ones, and as loaded
        on completion)."""
        def label(name: str) -> str:
            return name if suffix in name else name + suffix

        for key, value in results.items():
            if not isinstance(value, str) or not value:
                continue
            output = self.outputDefinition(key)
            if context.willLoadLayerOnCompletion(value):
                details = context.layerToLoadOnCompletionDetails(value)
                details.name = label(details.name or (output.description() if output
                                                      else key))
            layer = context.temporaryLayerStore().mapLayer(value)
            if layer is not None:
                layer.setName(label(layer.name()))


def _report_imports(reports, feedback) -> tuple[int, str]:
    lines = [describe_import(r) for r in reports]
    for report, line in zip(reports, lines):
        (feedback.reportError if report.outcome == "failed" else feedback.pushInfo)(line)
    return sum(r.rows_added for r in reports), "\n".join(lines)


class ImportFilesAlgorithm(StoreAlgorithm):
    NAME = "importfiles"
    DISPLAY = QT_TRANSLATE_NOOP("ImportFilesAlgorithm", "Import charge-point and usage files")
    HELP = QT_TRANSLATE_NOOP(
        "ImportFilesAlgorithm",
        "Imports National Chargepoint Registry CSV, session CSV and charge point location "
        "lists (ChargePlace Scotland layout), OCPI 2.2.1 JSON, usage-return and device "
        "reference files into the workspace store. "
        "Formats are detected from the file header. Each file is imported in its own "
        "transaction: a file that cannot be read is reported and leaves the store as it "
        "was; the same file imported twice adds nothing.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FILES", self.tr("Files to import"), Qgis.ProcessingSourceType.File))
        self.addParameter(QgsProcessingParameterEnum("FORMAT", self.tr("Format"), FORMATS,
                                                     defaultValue=0))
        add_store_parameters(self)
        self.addOutput(QgsProcessingOutputNumber("ROWS_ADDED", self.tr("Rows added")))
        self.addOutput(QgsProcessingOutputString("REPORT", self.tr("Import report")))

    def execute(self, parameters, context, feedback):
        files = self.parameterAsFileList(parameters, "FILES", context)
        fmt = FORMATS[self.parameterAsEnum(parameters, "FORMAT", context)]
        with Workspace(self.store) as ws:
            reports = ws.import_files(files, format=None if fmt == "auto" else fmt,
                                      progress=self.progress(feedback))
        added, text = _report_imports(reports, feedback)
        return {"ROWS_ADDED": added, "REPORT": text}


class _FetchAlgorithm(StoreAlgorithm):
    """What the fetch algorithms share: the store, their outputs and their report."""

    def add_store_and_outputs(self) -> None:
        add_store_parameters(self)
        self.addOutput(QgsProcessingOutputNumber("ROWS_ADDED", self.tr("Rows added")))
        self.addOutput(QgsProcessingOutputString("REPORT", self.tr("Fetch report")))

    def report_outcome(self, outcome, feedback) -> tuple[int, str]:
        """Log a fetch's warnings, skipped files and imports; (rows added, report)."""
        for warning in outcome.warnings:
            feedback.pushWarning(warning)
        for skipped in outcome.skipped:
            feedback.reportError(self.tr("Skipped {resource}").format(resource=skipped))
        return _report_imports(outcome.imports, feedback)


class FetchDatastoreAlgorithm(_FetchAlgorithm):
    NAME = "fetchdatastore"
    DISPLAY = QT_TRANSLATE_NOOP("FetchDatastoreAlgorithm", "Fetch from the London Datastore")
    HELP = QT_TRANSLATE_NOOP(
        "FetchDatastoreAlgorithm",
        "Downloads London Datastore (DataPress) datasets through QGIS's network settings "
        "(proxy, SSL, authentication) and imports what it can read: registry files and "
        "extracts, usage files, and boundaries (GeoPackage, zipped Shapefile, GeoJSON), "
        "which become area layers of the store that summaries can use. Left empty, the "
        "address, the datasets (charge points, usage returns, boundaries) and the API key "
        "are those of the plugin settings; the key is only sent to the address of the "
        "settings. Everything of a dataset is downloaded before anything is imported, so "
        "a failed download leaves the store as it was. A fetch that imports nothing fails "
        "and says, file by file, why.")

    def initAlgorithm(self, config=None):
        base_url = QgsProcessingParameterString(
            "BASE_URL", self.tr("Datastore address"), optional=True)
        base_url.setHelp(self.tr("Empty: the address in the plugin settings."))
        self.addParameter(base_url)
        dataset = QgsProcessingParameterString(
            "DATASET", self.tr("Dataset ids (comma-separated)"), optional=True)
        dataset.setHelp(self.tr("Empty: the charge point, usage returns and boundaries "
                                "datasets of the plugin settings."))
        self.addParameter(dataset)
        self.addParameter(QgsProcessingParameterString(
            "RESOURCES", self.tr("Resource ids (comma-separated; empty = all)"), optional=True))
        authcfg = QgsProcessingParameterAuthConfig(
            "AUTHCFG", self.tr("API key (authentication configuration)"), optional=True)
        authcfg.setHelp(self.tr("Empty: the API key of the plugin settings, when the address "
                                "is the settings' one."))
        self.addParameter(authcfg)
        self.add_store_and_outputs()

    def prepare(self, parameters, context, feedback) -> None:
        super().prepare(parameters, context, feedback)
        from ...qgis.auth import secret

        settings = plugin_settings.load()
        self.base_url = self.parameterAsString(parameters, "BASE_URL", context).strip() \
            or settings.datastore_url
        self.datasets = [d.strip() for d in
                         self.parameterAsString(parameters, "DATASET", context).split(",")
                         if d.strip()] or settings.datastore_datasets()
        authcfg = self.parameterAsString(parameters, "AUTHCFG", context) or \
            settings.datastore_authcfg_for(self.base_url)
        self.api_key = secret(authcfg) if authcfg else None  # the main thread, as QGIS asks
        feedback.pushInfo(self.tr("Datasets {ids} from {url}").format(
            ids=", ".join(self.datasets) or "-", url=self.base_url))

    def execute(self, parameters, context, feedback):
        resources = [r.strip() for r in
                     self.parameterAsString(parameters, "RESOURCES", context).split(",")
                     if r.strip()]
        if resources and len(self.datasets) != 1:
            raise EvChargepointsError(self.tr("Resource ids go with one dataset id."))
        with Workspace(self.store, QgsTransport(feedback=feedback)) as ws:
            if resources:
                outcomes = [ws.fetch_datastore(self.base_url, self.datasets[0], resources,
                                               api_key=self.api_key,
                                               progress=self.progress(feedback))]
            else:
                outcomes = ws.fetch_datastore_datasets(self.base_url, self.datasets,
                                                       api_key=self.api_key,
                                                       progress=self.progress(feedback))
        added, texts = 0, []
        for outcome in outcomes:
            rows, text = self.report_outcome(outcome, feedback)
            added += rows
            texts.append(text)
            if outcome.imported_nothing and len(outcomes) > 1:
                feedback.reportError(outcome.nothing_imported_message())
        if all(outcome.imported_nothing for outcome in outcomes):
            raise EvChargepointsError(" ".join(o.nothing_imported_message() for o in outcomes))
        return {"ROWS_ADDED": added, "REPORT": "\n".join(t for t in texts if t)}


class FetchOcpiAlgorithm(_FetchAlgorithm):
    NAME = "fetchocpi"
    DISPLAY = QT_TRANSLATE_NOOP("FetchOcpiAlgorithm", "Fetch an OCPI 2.2.1 feed")
    HELP = QT_TRANSLATE_NOOP(
        "FetchOcpiAlgorithm",
        "Pulls an operator's OCPI 2.2.1 Locations endpoint (all pages) and stores its "
        "devices, connectors and a status snapshot. The token comes from an "
        "authentication configuration (password field); it is never stored elsewhere.")

    def initAlgorithm(self, config=None):
        self.addParameter(QgsProcessingParameterString("URL", self.tr("Locations URL")))
        self.addParameter(QgsProcessingParameterAuthConfig(
            "AUTHCFG", self.tr("Token (authentication configuration)"), optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            "BASE64", self.tr("Base64-encode the token (OCPI 2.2.1)"), defaultValue=True))
        self.addParameter(QgsProcessingParameterString(
            "FEED_NAME", self.tr("Feed name"), optional=True))
        self.add_store_and_outputs()

    def execute(self, parameters, context, feedback):
        from ...qgis.auth import secret

        authcfg = self.parameterAsString(parameters, "AUTHCFG", context)
        with Workspace(self.store, QgsTransport(feedback=feedback)) as ws:
            outcome = ws.fetch_ocpi(
                self.parameterAsString(parameters, "URL", context),
                token=secret(authcfg) if authcfg else None,
                token_base64=self.parameterAsBool(parameters, "BASE64", context),
                feed_name=self.parameterAsString(parameters, "FEED_NAME", context),
                progress=self.progress(feedback))
        added, text = self.report_outcome(outcome, feedback)
        return {"ROWS_ADDED": added, "REPORT": text}


def max_gap_parameter(alg: EvAlgorithm) -> QgsProcessingParameterNumber:
    """How long one status observation may hold (the algorithms using watched status)."""
    from ...core.analysis.uptime import DEFAULT_MAX_GAP_HOURS

    return QgsProcessingParameterNumber(
        "MAX_GAP_HOURS", QCoreApplication.translate(
            "EvAlgorithm", "Hours one status observation may hold at most"),
        Qgis.ProcessingNumberParameterType.Double, defaultValue=DEFAULT_MAX_GAP_HOURS,
        minValue=0.001)


class UtilisationAlgorithm(StoreAlgorithm):
    NAME = "utilisation"
    DISPLAY = QT_TRANSLATE_NOOP("UtilisationAlgorithm", "Utilisation per device and period")
    GROUP = QT_TRANSLATE_NOOP("UtilisationAlgorithm", "Analysis")
    GROUP_ID = "analysis"
    HELP = QT_TRANSLATE_NOOP(
        "UtilisationAlgorithm",
        "From sessions: one row per device (or connector) and calendar period (UK time) "
        "with sessions, kWh, plugged-in hours, occupancy % (plugged-in time ÷ "
        "available time), capacity factor % (kWh ÷ rated kW × available hours), sessions "
        "and kWh per day, in-use days and idle share; where the store also holds watched "
        "status for the device, uptime % with the observed hours behind it "
        "(status_observed_hours). Sessions belong to the period they start in; plugged-in "
        "time is split at period boundaries.\n\n"
        "From watched live status (what 'Watch live status' or the 'watch' command "
        "collected): one row per device or EVSE and period with uptime % (working ÷ "
        "working + not working time, 2023 regulations), the observed hours and "
        "observations behind it, and the shares of observed time charging, available and "
        "down. Only observed time counts: an observation holds until the EVSE's next one, "
        "for at most the hours set (default 1); longer gaps count neither way.")

    def initAlgorithm(self, config=None):
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterEnum(
            "SOURCE", self.tr("From"), [self.tr("sessions"), self.tr("watched live status")],
            defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(
            "PERIOD", self.tr("Period"), [self.tr("month"), self.tr("quarter"), self.tr("year")],
            defaultValue=1))
        self.addParameter(QgsProcessingParameterEnum(
            "BY", self.tr("Per"), [self.tr("device"), self.tr("connector"),
                                   self.tr("EVSE (watched live status only)")],
            defaultValue=0))
        self.addParameter(max_gap_parameter(self))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Utilisation table"), Qgis.ProcessingSourceType.Vector))

    def execute(self, parameters, context, feedback):
        target = self.store
        by = ["device", "connector", "evse"][self.parameterAsEnum(parameters, "BY", context)]
        period = PERIODS[self.parameterAsEnum(parameters, "PERIOD", context)]
        from_status = self.parameterAsEnum(parameters, "SOURCE", context) == 1
        with Workspace(target, create=False) as ws:
            if from_status:
                if by == "connector":
                    raise EvChargepointsError(self.tr(
                        "Watched live status is per device or EVSE, not per connector."))
                frame = ws.status_occupancy(period, by=by, max_gap_hours=self.parameterAsDouble(
                    parameters, "MAX_GAP_HOURS", context))
            elif by == "evse":
                raise EvChargepointsError(self.tr(
                    "Per EVSE needs 'From: watched live status'."))
            else:
                frame = ws.utilisation_with_trends(period, by=by,
                                                   progress=self.progress(feedback))
        return {"OUTPUT": write_table(self, frame, parameters, context, feedback)}


def write_table(alg: EvAlgorithm, frame, parameters, context, feedback, name="OUTPUT"):
    """Write a DataFrame to a Processing table sink; returns the sink id."""
    fields = fields_for(frame)
    sink, dest = alg.parameterAsSink(parameters, name, context, fields,
                                     Qgis.WkbType.NoGeometry)
    total = max(1, len(frame))
    for i, feature in enumerate(features_for(frame, fields)):
        if feedback.isCanceled():
            break
        sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        if i % 5000 == 0:
            feedback.setProgress(100.0 * i / total)
    return dest
