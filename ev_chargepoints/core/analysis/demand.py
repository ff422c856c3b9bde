"""Demand for public charge points per ward: how many connectors a scenario needs, how
many there are, and the gap (issue #24).

Per ward, from the GLA ward profiles (2011 Census figures, 2015 edition) and the
store's reconciled devices::

    cars              = household spaces x cars per household
    evs               = cars x ev_share
    public_evs        = evs x no-off-street share      (EVs relying on public charging)
    connectors_needed = ceil(public_evs x kwh_per_ev_day / connector_kwh_per_day)
    connectors_now    = connectors of the reconciled devices placed in the ward
    gap               = connectors_needed - connectors_now   (negative: more than needed)

The no-off-street share defaults, per ward, to its share of flats, maisonettes and
terraced houses (households there seldom have a drive), times a factor; a scenario can
set one share for every ward instead. ``connector_kwh_per_day`` is what one public
connector delivers a day: rated kW x 24 h x target occupancy, or a value given directly.

2018 wards take their 2011 wards' household spaces, cars and housing mix the way they
take their population (:func:`~.ward_population.apportion_population`): unchanged wards
by code, re-drawn ones in proportion to the area they take of each old ward. Every table
says which inputs made it (scenario values and data vintage, in columns and
``attrs["notes"]``); a ward without ward-profile figures is left blank and says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

import numpy as np
import pandas as pd

from .ward_population import POPULATION_YEAR, read_ward_profiles

PROFILES_NOTE = (f"GLA ward profiles ({POPULATION_YEAR} edition): household spaces, housing "
                 "mix and cars per household from the 2011 Census")
DEMAND_COLUMNS = ["area_code", "area_name", "cars", "evs", "public_evs", "connectors_needed",
                  "connectors_now", "gap"]
INPUT_COLUMNS = ["parent_code", "parent_name", "household_spaces", "cars_per_household",
                 "no_offstreet_share", "scenario", "ev_share", "kwh_per_ev_day",
                 "connector_kwh_per_day", "inputs", "demand_note"]
NO_PROFILE = "no ward-profile figures for this ward: left blank"


@dataclass(frozen=True)
class Scenario:
    """What a demand estimate assumes. ``no_offstreet_share`` None: each ward's share
    of flats and terraced houses x ``no_offstreet_factor`` (capped at 1); a number: that
    share in every ward. ``connector_kwh_per_day`` None: ``connector_kw`` x 24 h x
    ``target_occupancy``."""

    name: str = "custom"
    ev_share: float = 0.25
    no_offstreet_share: Optional[float] = None
    no_offstreet_factor: float = 1.0
    kwh_per_ev_day: float = 4.0
    connector_kw: float = 7.0
    target_occupancy: float = 0.25
    connector_kwh_per_day: Optional[float] = None

    def __post_init__(self):
        checks = [("ev_share", self.ev_share, 0, 1),
                  ("no_offstreet_factor", self.no_offstreet_factor, 0, math.inf),
                  ("kwh_per_ev_day", self.kwh_per_ev_day, 1e-9, math.inf),
                  ("connector_kw", self.connector_kw, 1e-9, math.inf),
                  ("target_occupancy", self.target_occupancy, 1e-9, 1)]
        if self.no_offstreet_share is not None:
            checks.append(("no_offstreet_share", self.no_offstreet_share, 0, 1))
        if self.connector_kwh_per_day is not None:
            checks.append(("connector_kwh_per_day", self.connector_kwh_per_day, 1e-9,
                           math.inf))
        for key, value, low, high in checks:
            try:
                ok = low <= float(value) <= high
            except (TypeError, ValueError):
                ok = False
            if not ok:
                bound = f"between {low:g} and {high:g}" if high != math.inf else \
                    ("above 0" if low > 0 else "0 or more")
                raise ValueError(f"scenario {key} must be {bound} (got {value!r})")

    @property
    def delivered_kwh_per_day(self) -> float:
        """What one public connector delivers a day."""
        if self.connector_kwh_per_day is not None:
            return float(self.connector_kwh_per_day)
        return float(self.connector_kw) * 24.0 * float(self.target_occupancy)

    def offstreet_basis(self) -> str:
        if self.no_offstreet_share is not None:
            return f"{self.no_offstreet_share:g} in every ward"
        factor = "" if self.no_offstreet_factor == 1 else f" x {self.no_offstreet_factor:g}"
        return f"each ward's share of flats and terraced houses{factor}"

    def describe(self) -> str:
        """One line: every value this scenario assumes."""
        delivered = (f"{self.connector_kwh_per_day:g} kWh a day (given)"
                     if self.connector_kwh_per_day is not None else
                     f"{self.delivered_kwh_per_day:g} kWh a day ({self.connector_kw:g} kW x "
                     f"24 h x {self.target_occupancy:.0%} occupancy)")
        return (f"Scenario '{self.name}': {self.ev_share:.0%} of cars electric; EVs without "
                f"off-street parking: {self.offstreet_basis()}; {self.kwh_per_ev_day:g} kWh "
                f"per EV a day; one public connector delivers {delivered}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Scenario:
        """A scenario saved with :meth:`to_dict` (or typed by hand); unknown keys are an
        error, missing ones keep their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown scenario values {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"the scenario is not JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ValueError("a scenario is a JSON object of values")
        return cls.from_dict(values)

    def adjusted(self, **changes) -> Scenario:
        """This scenario with some values changed (None: unchanged), named after both."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        said = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                         for k, v in changes.items() if k != "name")
        name = changes.pop("name", None) or f"{self.name}, adjusted: {said}"
        return replace(self, name=name, **changes)


GLA_2030 = "2030 (GLA 2021 strategy)"
# docs/demand.md compares each preset's London total with what it is documented against
PRESETS = {
    GLA_2030: Scenario(name=GLA_2030, ev_share=0.25, kwh_per_ev_day=4.0, connector_kw=7.0,
                       target_occupancy=0.25),
    "2030 (busier connectors)": Scenario(name="2030 (busier connectors)", ev_share=0.25,
                                         kwh_per_ev_day=4.0, connector_kw=7.0,
                                         target_occupancy=0.35),
    "2035 (half of cars electric)": Scenario(name="2035 (half of cars electric)",
                                             ev_share=0.5, kwh_per_ev_day=4.0,
                                             connector_kw=7.0, target_occupancy=0.3),
}
DEFAULT_PRESET = GLA_2030


def scenario_for(preset: Optional[str] = None, scenario: Optional[Scenario] = None,
                 **changes) -> Scenario:
    """``scenario`` (or the named ``preset``, default :data:`DEFAULT_PRESET`) with
    ``changes`` (None values ignored)."""
    if scenario is None:
        name = preset or DEFAULT_PRESET
        if name not in PRESETS:
            raise ValueError(f"no preset '{name}'; presets: {', '.join(PRESETS)}")
        scenario = PRESETS[name]
    return scenario.adjusted(**changes)


# --- per-ward inputs -----------------------------------------------------------------------

@dataclass
class WardInputs:
    """What the demand of every ward starts from (one entry per area, in the order of
    the area set), ready for :meth:`table_for` any scenario (vectorised: 633 wards in
    about 25 ms, ``make bench`` group ``demand``)."""

    table: pd.DataFrame              # area_code, area_name, parent_code, parent_name
    household_spaces: np.ndarray
    cars: np.ndarray
    offstreet_default: np.ndarray    # share of flats and terraced houses, 0..1
    connectors_now: np.ndarray
    notes: list                      # data vintage, method, missing figures
    devices_vintage: str = ""        # "N devices as of DATE" of connectors_now

    def table_for(self, scenario: Scenario) -> pd.DataFrame:
        return demand_table(self, scenario)


def ward_inputs(areas, connectors_now, profiles: Optional[pd.DataFrame] = None,
                devices_vintage: str = "") -> WardInputs:
    """Household spaces, cars and housing mix of every area of ``areas`` (an
    :class:`~.areas.AreaSet` of wards) from the ward ``profiles``
    (:func:`~.ward_population.read_ward_profiles`, default the bundled file), with
    ``connectors_now`` (one number per area, in the same order)."""
    profiles = read_ward_profiles() if profiles is None else profiles
    wards = profiles[profiles["level"] == "ward"]
    spaces = wards["household_spaces"].to_numpy("float64")
    cars = spaces * wards["cars_per_household"].to_numpy("float64")
    without = spaces * (wards["terraced_pct"].to_numpy("float64")
                        + wards["flats_pct"].to_numpy("float64")) / 100.0
    source = pd.Index(wards["code"].to_numpy(object))
    codes = areas.codes
    weights = getattr(areas, "ward_weights", None)
    if weights is not None and len(weights):
        # re-drawn wards: the old wards' counts in proportion to the area taken of each
        src = source.get_indexer(weights["source_code"].to_numpy(object))
        dst = pd.Index(codes).get_indexer(weights["target_code"].to_numpy(object))
        ok = (src >= 0) & (dst >= 0)
        share = weights["share"].to_numpy("float64")[ok]
        src, dst = src[ok], dst[ok]

        def carry(values):
            out = np.bincount(dst, weights=share * values[src], minlength=len(codes))
            reached = np.bincount(dst, minlength=len(codes)) > 0
            return np.where(reached, out, np.nan)
        method = ("2018 wards: unchanged wards keep their 2011 figures, re-drawn ones take "
                  "their old wards' figures in proportion to the area they take of each "
                  "(as the population)")
    else:
        pos = source.get_indexer(codes)

        def carry(values):
            return np.where(pos >= 0, values[np.maximum(pos, 0)], np.nan)
        method = "joined by ward code"
    w_spaces, w_cars, w_without = carry(spaces), carry(cars), carry(without)
    with np.errstate(divide="ignore", invalid="ignore"):
        offstreet = np.where(w_spaces > 0, np.clip(w_without / w_spaces, 0.0, 1.0), np.nan)
    notes = [f"Wards: {PROFILES_NOTE}; {method}."]
    if devices_vintage:
        notes.append(f"Connectors now: reconciled devices in the store, {devices_vintage}.")
    table = areas.table[["area_code", "area_name", "parent_code", "parent_name"]] \
        .reset_index(drop=True)
    return WardInputs(table, w_spaces, w_cars, offstreet,
                      np.asarray(connectors_now, dtype="float64"), notes, devices_vintage)


def demand_table(inputs: WardInputs, scenario: Scenario) -> pd.DataFrame:
    """One row per ward: :data:`DEMAND_COLUMNS`, then the inputs behind them
    (:data:`INPUT_COLUMNS`). Blank where a ward lacks ward-profile figures."""
    n = len(inputs.table)
    if scenario.no_offstreet_share is not None:
        share = np.full(n, float(scenario.no_offstreet_share))
    else:
        share = np.minimum(inputs.offstreet_default * scenario.no_offstreet_factor, 1.0)
    evs = inputs.cars * scenario.ev_share
    public = evs * share
    needed = np.ceil(public * scenario.kwh_per_ev_day / scenario.delivered_kwh_per_day
                     - 1e-9)
    needed = np.maximum(needed, 0.0)
    now = inputs.connectors_now
    known = np.isfinite(needed)
    with np.errstate(invalid="ignore"):
        per_household = inputs.cars / np.where(inputs.household_spaces > 0,
                                               inputs.household_spaces, np.nan)
    frame = pd.DataFrame({
        "area_code": inputs.table["area_code"].to_numpy(object),
        "area_name": inputs.table["area_name"].to_numpy(object),
        "cars": np.round(inputs.cars, 1),
        "evs": np.round(evs, 1),
        "public_evs": np.round(public, 1),
        "connectors_needed": pd.array(np.where(known, needed, 0).astype(np.int64),
                                      dtype="Int64"),
        "connectors_now": now.astype(np.int64),
        "gap": pd.array(np.where(known, needed - now, 0).astype(np.int64), dtype="Int64"),
        "parent_code": inputs.table["parent_code"].to_numpy(object),
        "parent_name": inputs.table["parent_name"].to_numpy(object),
        "household_spaces": np.round(inputs.household_spaces, 1),
        "cars_per_household": np.round(per_household, 3),
        "no_offstreet_share": np.round(share, 4),
    })
    frame.loc[~known, ["connectors_needed", "gap"]] = pd.NA
    frame["scenario"] = scenario.name
    frame["ev_share"] = float(scenario.ev_share)
    frame["kwh_per_ev_day"] = float(scenario.kwh_per_ev_day)
    frame["connector_kwh_per_day"] = scenario.delivered_kwh_per_day
    frame["inputs"] = " ".join(inputs.notes)
    frame["demand_note"] = np.where(known, "", NO_PROFILE)
    missing = frame.loc[~known, "area_code"].tolist()
    notes = [scenario.describe()] + list(inputs.notes)
    if missing:
        notes.append(f"{len(missing)} of {n} wards have no ward-profile figures (no 2011 "
                     f"ward of that code, or blank values): their demand is left blank "
                     f"({', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''}).")
    frame.attrs.update({"scenario": scenario.to_dict(), "notes": notes, "missing": missing,
                        "totals": totals(frame), "devices_vintage": inputs.devices_vintage})
    return frame


def totals(frame: pd.DataFrame) -> dict:
    """London (or the table's) totals of a demand table; blank wards count as 0."""
    return {"cars": float(frame["cars"].sum()), "evs": float(frame["evs"].sum()),
            "public_evs": float(frame["public_evs"].sum()),
            "connectors_needed": int(frame["connectors_needed"].fillna(0).sum()),
            "connectors_now": int(frame["connectors_now"].sum()),
            "gap": int(frame["gap"].fillna(0).sum()),
            "wards_short": int((frame["gap"].fillna(0) > 0).sum())}


def positive_gaps(frame: pd.DataFrame, codes) -> np.ndarray:
    """The gap of each of ``codes`` in a demand table, a ward with more connectors than
    it needs (or blank, or not in the table) counting 0: what is still to build."""
    gap = pd.to_numeric(frame["gap"], errors="coerce").to_numpy("float64")
    pos = pd.Index(frame["area_code"].to_numpy(object)).get_indexer(np.asarray(codes, object))
    out = np.where(pos >= 0, gap[np.maximum(pos, 0)], 0.0) if len(gap) else \
        np.zeros(len(pos))
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)


def scenario_name(frame: pd.DataFrame) -> str:
    """The name of the scenario that made a demand table."""
    named = frame.attrs.get("scenario", {}).get("name")
    if named is None and "scenario" in frame and len(frame):
        named = frame["scenario"].iloc[0]
    return str(named or "")


def as_scenario(scenario) -> Scenario:
    """A :class:`Scenario`, or a preset's name (None: :data:`DEFAULT_PRESET`)."""
    if isinstance(scenario, Scenario):
        return scenario
    return scenario_for(scenario)


def devices_vintage(devices: pd.DataFrame) -> str:
    """"N devices as of DATE" (the newest device update) for the inputs note."""
    latest = pd.to_datetime(devices["updated_utc"], utc=True, errors="coerce").max() \
        if "updated_utc" in devices and len(devices) else None
    when = f" as of {latest:%d %b %Y}" if latest is not None and not pd.isna(latest) else ""
    return f"{len(devices):,} devices{when}"


class WardDemand:
    """The :class:`~ev_chargepoints.core.workspace.Workspace` methods for demand (the
    one facade the CLI, Processing and the dock call)."""

    def demand_inputs(self, areas_path=None, code_field=None, name_field=None,
                      progress=None) -> WardInputs:
        """Every ward's inputs, connectors now included (cached until the store
        changes): then :meth:`WardInputs.table_for` any scenario in milliseconds."""
        from ..errors import EvChargepointsError
        from ..progress import SILENT

        key = ("demand", str(areas_path), code_field, name_field, self.store_stamp())
        if key not in self._cache:
            table, assignment = self.summary(level="ward", areas_path=areas_path,
                                             code_field=code_field, name_field=name_field,
                                             with_usage=False, progress=progress or SILENT)
            wards = assignment.areas("ward")
            now = table.set_index("area_code")["connectors"].reindex(wards.codes)
            try:
                self._cache[key] = ward_inputs(wards, now.fillna(0).to_numpy("float64"),
                                               devices_vintage=devices_vintage(
                                                   self.devices()))
            except (KeyError, ValueError) as exc:
                raise EvChargepointsError(f"ward demand: {exc}") from None
        return self._cache[key]

    def demand(self, scenario: Optional[Scenario] = None, areas_path=None, code_field=None,
               name_field=None, progress=None) -> pd.DataFrame:
        """Connectors needed, now and the gap per ward under ``scenario`` (default the
        :data:`DEFAULT_PRESET`); see the module doc."""
        inputs = self.demand_inputs(areas_path, code_field, name_field, progress)
        return inputs.table_for(scenario or PRESETS[DEFAULT_PRESET])

    def site_demand(self, scenario=None, weights=None, progress=None):
        """The ward demand a site analysis weighs: under ``scenario`` (a :class:`Scenario`
        or a preset's name), else under the default preset when ``weights`` give
        ``demand_gap`` a positive weight; None when neither asks for demand."""
        from ..errors import EvChargepointsError

        if scenario is None and not (weights or {}).get("demand_gap"):
            return None
        try:
            scenario = as_scenario(scenario)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None
        return self.demand(scenario, progress=progress)
