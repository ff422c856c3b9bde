"""Demand for public charge points by ward: the scenario's parameters go to
``Workspace.demand`` (the same call the ``demand`` command makes), and the table it
returns is written with the ward polygons, as a table, or both. Areas, outputs and the
store work as in :mod:`.summary_algorithm` (this algorithm extends it)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    Qgis,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ...core.analysis import demand
from ...core.errors import EvChargepointsError
from ...core.workspace import Workspace
from .data_algorithms import add_store_parameters, write_table
from .summary_algorithm import SummariseByAreaAlgorithm

PRESET_NAMES = list(demand.PRESETS)
# parameter name -> Scenario field; empty keeps the preset's (or the scenario file's) value
VALUES = {"EV_SHARE": "ev_share", "NO_OFFSTREET_SHARE": "no_offstreet_share",
          "NO_OFFSTREET_FACTOR": "no_offstreet_factor", "KWH_PER_EV_DAY": "kwh_per_ev_day",
          "CONNECTOR_KW": "connector_kw", "TARGET_OCCUPANCY": "target_occupancy",
          "CONNECTOR_KWH_PER_DAY": "connector_kwh_per_day"}


class WardDemandAlgorithm(SummariseByAreaAlgorithm):
    NAME = "warddemand"
    DISPLAY = QT_TRANSLATE_NOOP("WardDemandAlgorithm",
                                "Demand for public charge points by ward")
    GROUP = QT_TRANSLATE_NOOP("WardDemandAlgorithm", "Analysis")
    GROUP_ID = "analysis"
    HELP = QT_TRANSLATE_NOOP(
        "WardDemandAlgorithm",
        "How many public connectors each ward needs under a scenario, how many it has "
        "(connectors of the reconciled devices in the ward) and the gap.\n\n"
        "Per ward: cars = household spaces × cars per household (GLA ward profiles, 2011 "
        "Census); EVs = cars × share of cars electric; EVs relying on public charging = "
        "EVs × share without off-street parking (by default each ward's share of flats "
        "and terraced houses, times a factor, or one share for every ward); connectors "
        "needed = EVs relying on public charging × kWh per EV a day ÷ what one connector "
        "delivers a day (rated kW × 24 h × target occupancy, or a value given), rounded "
        "up; gap = needed − now.\n\n"
        "Start from a named preset (the 2030 preset is set against the GLA's 2021 London "
        "EV infrastructure strategy: 40,000–60,000 public charge points by 2030) or a "
        "scenario saved as JSON, and change any value; empty values keep the preset's. "
        "Every row names the scenario values and the data vintage behind it; wards "
        "without ward-profile figures are left blank and say so.\n\n"
        "Areas: leave empty for London's 2018 wards, or give a ward layer whose codes "
        "are 2011 ward codes.")

    def initAlgorithm(self, config=None):
        self.add_area_parameters(self.tr("Wards (empty: London wards 2018)"),
                                 self.tr("Ward code field (detected if empty)"),
                                 self.tr("Ward name field (detected if empty)"))
        add_store_parameters(self)
        self.addParameter(QgsProcessingParameterEnum(
            "PRESET", self.tr("Scenario preset"), PRESET_NAMES,
            defaultValue=PRESET_NAMES.index(demand.DEFAULT_PRESET)))
        self.addParameter(QgsProcessingParameterFile(
            "SCENARIO_FILE", self.tr("Scenario saved as JSON (instead of the preset)"),
            behavior=Qgis.ProcessingFileParameterBehavior.File, extension="json",
            optional=True))
        labels = {
            "EV_SHARE": self.tr("Share of cars that are electric (0–1)"),
            "NO_OFFSTREET_SHARE": self.tr("Share of EVs without off-street parking, every "
                                          "ward (empty: each ward's housing mix)"),
            "NO_OFFSTREET_FACTOR": self.tr("Factor on each ward's housing-mix share"),
            "KWH_PER_EV_DAY": self.tr("Energy per EV a day (kWh)"),
            "CONNECTOR_KW": self.tr("Rated power of a public connector (kW)"),
            "TARGET_OCCUPANCY": self.tr("Target occupancy of a public connector (0–1)"),
            "CONNECTOR_KWH_PER_DAY": self.tr("What one connector delivers a day (kWh; "
                                             "empty: kW × 24 h × occupancy)"),
        }
        for name, label in labels.items():
            self.addParameter(QgsProcessingParameterNumber(
                name, label, Qgis.ProcessingNumberParameterType.Double, optional=True,
                minValue=0.0))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "OUTPUT", self.tr("Wards with demand"), Qgis.ProcessingSourceType.VectorPolygon,
            optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(
            "TABLE", self.tr("Demand table"), Qgis.ProcessingSourceType.Vector,
            optional=True, createByDefault=False))
        for name, label in (("CONNECTORS_NEEDED", self.tr("Connectors needed")),
                            ("CONNECTORS_NOW", self.tr("Connectors now")),
                            ("GAP", self.tr("Gap (needed − now)"))):
            self.addOutput(QgsProcessingOutputNumber(name, label))
        self.addOutput(QgsProcessingOutputString("INPUTS", self.tr("Inputs behind the figures")))

    def scenario(self, parameters, context) -> demand.Scenario:
        base = None
        path = self.parameterAsFile(parameters, "SCENARIO_FILE", context)
        if path:
            try:
                base = demand.Scenario.from_json(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
                raise EvChargepointsError(f"{Path(path).name}: {exc}") from None
        preset = PRESET_NAMES[self.parameterAsEnum(parameters, "PRESET", context)]
        changes = {field: self.parameterAsDouble(parameters, name, context)
                   for name, field in VALUES.items()
                   if parameters.get(name) not in (None, "")}
        try:
            return demand.scenario_for(preset, base, **changes)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def execute(self, parameters, context, feedback):
        scenario = self.scenario(parameters, context)
        wanted = [name for name in ("OUTPUT", "TABLE") if self._wanted(parameters, name)]
        if not wanted:
            raise EvChargepointsError(self.tr(
                "Choose where to write the wards with demand, the demand table, or both."))
        with self.areas_input(parameters, context, feedback, "ward") as areas:
            if feedback.isCanceled():
                return {}
            geometries, crs = areas.geometries, areas.crs
            with Workspace(self.store, create=False) as ws:
                table = ws.demand(scenario, areas_path=areas.path,
                                  code_field=areas.code_field, name_field=areas.name_field,
                                  progress=self.progress(feedback))
        notes = table.attrs["notes"]
        for line in notes:
            feedback.pushInfo(line)
        totals = table.attrs["totals"]
        feedback.pushInfo(self.tr("{needed} connectors needed, {now} now, gap {gap}").format(
            needed=f"{totals['connectors_needed']:,}", now=f"{totals['connectors_now']:,}",
            gap=f"{totals['gap']:,}"))
        if table.attrs["missing"]:
            feedback.pushWarning(notes[-1])
        results = {"CONNECTORS_NEEDED": totals["connectors_needed"],
                   "CONNECTORS_NOW": totals["connectors_now"], "GAP": totals["gap"],
                   "INPUTS": "\n".join(notes)}
        if "OUTPUT" in wanted:
            results["OUTPUT"] = self._write_areas_output(table, geometries, crs, parameters,
                                                         context, feedback)
        if "TABLE" in wanted:
            results["TABLE"] = write_table(self, table, parameters, context, feedback,
                                           name="TABLE")
        return results
