"""What a committee page says, as plain data: masked tables, notes, provenance.

Built from the borough summary, devices and utilisation that
:meth:`~..workspace.Workspace.committee_data` gathers, then passed through
disclosure control before anything leaves this module: the QGIS layout only
places the strings computed here on the page, and the CSV tables written beside
the PDFs are the same masked frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Optional

import numpy as np
import pandas as pd

from ..analysis.area_table import definitions
from ..analysis.ratios import ratio
from ..paths import plugin_version
from ..store.usage_kind import NOTE
from . import disclosure
from .fingerprint import store_fingerprint

LONDON_CODE = "E12000007"
LONDON_NAME = "London"
SUM_COLUMNS = ("population", "devices", "connectors", "slow_devices", "fast_devices",
               "rapid_devices", "ultra_devices", "unknown_power_devices", "devices_with_usage",
               "sessions", "kwh", "plugged_hours", "available_hours", "capacity_kwh",
               "prev_sessions", "prev_kwh")
SOURCES = ("National Chargepoint Registry (OZEV/DfT)",
           "London borough and ward boundaries (GLA, London Datastore)",
           "GLA Ward Profiles and Atlas 2015 (population)")
SYNTHETIC_SOURCE = ("SYNTHETIC usage generated from Dundee City Council sessions "
                    "(ChargePlace Scotland), 2017-18")
SYNTHETIC_BANNER = NOTE
ATTRIBUTION = ("Contains National Statistics data © Crown copyright and database right; "
               "Contains Ordnance Survey data © Crown copyright and database right; "
               "Contains public sector information licensed under the Open Government "
               "Licence v3.0")
NOTE_COLUMNS = ("devices", "devices_per_10k", "rapid_share_pct", "sessions", "occupancy_pct",
                "capacity_factor_pct")

# (label, column, digits, suffix, is usage)
BOROUGH_ROWS = (
    ("Charge devices", "devices", 0, "", False),
    ("Connectors", "connectors", 0, "", False),
    ("Devices per 10,000 residents", "devices_per_10k", 1, "", False),
    ("Rapid and ultra share", "rapid_share_pct", 1, " %", False),
    ("Devices with usage records", "devices_with_usage", 0, "", False),
    ("Sessions", "sessions", 0, "", True),
    ("Energy delivered (MWh)", "mwh", 1, "", True),
    ("Occupancy", "occupancy_pct", 1, " %", True),
    ("Capacity factor", "capacity_factor_pct", 1, " %", True),
    ("Occupancy change (% points)", "occupancy_pct_change", 1, "", True),
    ("Sessions change on previous", "sessions_change_pct", 1, " %", True),
)
OVERVIEW_COLUMNS = (
    ("Borough", "area_name", None, "", False),
    ("Devices", "devices", 0, "", False),
    ("Per 10k", "devices_per_10k", 1, "", False),
    ("Rapid %", "rapid_share_pct", 1, "", False),
    ("Sessions", "sessions", 0, "", True),
    ("Occup. %", "occupancy_pct", 1, "", True),
    ("Change (pts)", "occupancy_pct_change", 1, "", True),
)


@dataclass
class CommitteeData:
    period: str
    previous_period: Optional[str]
    boroughs: pd.DataFrame          # masked, one row per borough
    london: pd.DataFrame            # masked, one row
    note: str
    threshold: int
    fingerprint: str
    fingerprint_inputs: dict
    vintage: str
    synthetic_usage: bool
    boundary_version: str
    printed: str
    sources: list = field(default_factory=list)
    demand: dict = field(default_factory=dict)  # borough code -> its demand line

    def borough(self, name_or_code: str) -> pd.Series:
        key = str(name_or_code).strip().lower()
        hit = self.boroughs[(self.boroughs["area_code"].str.lower() == key)
                            | (self.boroughs["area_name"].str.lower() == key)]
        if not len(hit):
            raise KeyError(name_or_code)
        return hit.iloc[0]

    def resolve(self, names) -> list[str]:
        """Borough names as printed, from names or codes in any case (unknown -> KeyError)."""
        return [str(self.borough(n)["area_name"]) for n in names]


def london_total(table: pd.DataFrame) -> pd.DataFrame:
    """One London row recomputed from the boroughs' sums (never averaged averages)."""
    sums = {c: float(np.nansum(table[c].to_numpy("float64"))) if c in table else np.nan
            for c in SUM_COLUMNS}
    for c in ("sessions", "kwh", "plugged_hours", "available_hours", "capacity_kwh",
              "prev_sessions", "prev_kwh"):
        if c in table and table[c].isna().all():
            sums[c] = np.nan
    row = {"area_code": LONDON_CODE, "area_name": LONDON_NAME, **sums}
    row["rapid_share_pct"] = _pct(sums["rapid_devices"] + sums["ultra_devices"],
                                  sums["devices"])
    row["devices_per_10k"] = _pct(sums["devices"], sums["population"], 10_000)
    row["occupancy_pct"] = _pct(sums["plugged_hours"], sums["available_hours"])
    row["capacity_factor_pct"] = _pct(sums["kwh"], sums["capacity_kwh"])
    row["share_no_usage_pct"] = _pct(sums["devices"] - sums["devices_with_usage"],
                                     sums["devices"])
    row["sessions_change_pct"] = _pct(sums["sessions"] - sums["prev_sessions"],
                                      abs(sums["prev_sessions"]))
    if "prev_occupancy_pct" in table:
        # previous occupancy from the previous period's hours is not in the table:
        # weight each borough's previous occupancy by its available hours instead.
        prev = table["prev_occupancy_pct"].to_numpy("float64")
        hours = table["available_hours"].to_numpy("float64")
        ok = np.isfinite(prev) & np.isfinite(hours)
        prev_london = _pct(np.sum(prev[ok] * hours[ok]) / 100, np.sum(hours[ok]))
        row["prev_occupancy_pct"] = prev_london
        row["occupancy_pct_change"] = row["occupancy_pct"] - prev_london
    return pd.DataFrame([row])


def _pct(num: float, den: float, scale: float = 100.0) -> float:
    return float(ratio(num, den, scale)[0])


def committee_data(table: pd.DataFrame, placements: pd.DataFrame, devices: pd.DataFrame,
                   usage: Optional[pd.DataFrame], store, synthetic_usage: bool,
                   threshold: int = 3, vintage: str = "",
                   today: Optional[date] = None) -> CommitteeData:
    """Masked borough and London figures of the borough summary ``table`` with the
    page's provenance. ``placements`` (each device's borough: the assignment's table),
    ``devices`` and ``usage`` (utilisation rows, None without sessions) say whose
    figures each cell pools; ``store``: the store they came from, for the fingerprint."""
    period = table.attrs.get("period") or "no usage data"
    previous = table.attrs.get("previous_period")
    boundary_version = table.attrs.get("boundary_version", "")
    table = table.copy()
    table["mwh"] = table["kwh"] / 1000.0
    london = london_total(table)
    london["mwh"] = london["kwh"] / 1000.0
    periods = [period, previous]
    by_borough = disclosure.area_contributors(placements, devices, usage,
                                              "borough_code", periods)
    masked = disclosure.mask_usage(table, by_borough.rename(
        columns={"borough_code": "area_code"}), threshold=threshold, complementary=True)
    placed = placements[placements["borough_code"].notna()]
    everyone = disclosure.area_contributors(placed, devices, usage, None, periods)
    everyone["cell"] = LONDON_CODE
    london_masked = disclosure.mask_usage(london, everyone.rename(columns={"cell": "area_code"}),
                                          threshold=threshold)
    masked_boroughs = masked.table
    masked_boroughs["mwh"] = masked_boroughs["kwh"] / 1000.0
    london_frame = london_masked.table
    london_frame["mwh"] = london_frame["kwh"] / 1000.0
    fp, inputs = store_fingerprint(store, boundary_version, period, threshold,
                                   plugin_version())
    sources = list(SOURCES) + ([SYNTHETIC_SOURCE] if synthetic_usage else [])
    return CommitteeData(period, previous, masked_boroughs, london_frame, masked.note,
                         int(threshold), fp, inputs, vintage, bool(synthetic_usage),
                         boundary_version,
                         (today or date.today()).strftime("%d %B %Y"), sources)


def _cell(row: pd.Series, column: str, digits, suffix: str) -> str:
    status = str(row.get(disclosure.STATUS_COLUMN, disclosure.SHOWN))
    is_usage = column in disclosure.USAGE_FIGURES or column == "mwh"
    if is_usage and status.startswith(disclosure.SUPPRESSED):
        return disclosure.SUPPRESSED
    if digits is None:
        return str(row.get(column, ""))
    value = row.get(column)
    if is_usage and (value is None or pd.isna(value)):
        return disclosure.NO_DATA
    return disclosure.format_figure(value, digits, suffix)


def borough_table(data: CommitteeData, borough: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the borough page table: metric, borough, London."""
    row = data.borough(borough)
    london = data.london.iloc[0]
    header = ["Measure", str(row["area_name"]), LONDON_NAME]
    rows = [[label, _cell(row, column, digits, suffix), _cell(london, column, digits, suffix)]
            for label, column, digits, suffix, _usage in BOROUGH_ROWS]
    return header, rows


def overview_table(data: CommitteeData) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the London page table: one row per borough, then London."""
    header = [c[0] for c in OVERVIEW_COLUMNS]
    frames = data.boroughs.sort_values("area_name", kind="stable")
    rows = [[_cell(r, column, digits, suffix) for _l, column, digits, suffix, _u
             in OVERVIEW_COLUMNS] for _, r in frames.iterrows()]
    london = data.london.iloc[0]
    rows.append([_cell(london, column, digits, suffix) for _l, column, digits, suffix, _u
                 in OVERVIEW_COLUMNS])
    return header, rows


def page_table_frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """The printed table as a DataFrame (for the CSV written beside the PDF)."""
    return pd.DataFrame(rows, columns=header)


def definition_lines(data: CommitteeData) -> list[str]:
    defs = definitions()
    prev = f" Changes compare with {data.previous_period}." if data.previous_period else ""
    lines = [
        "Devices: " + defs["devices"],
        "Occupancy: plugged-in time ÷ available time (24 h × connectors), from sums over "
        "the area's devices with usage records." + prev,
        "Capacity factor: kWh delivered ÷ (rated kW × available hours).",
        "Rapid and ultra share: devices of 50 kW or more ÷ all devices. Per 10,000 "
        "residents: GLA 2015 population.",
        "Bands (defaults, configurable): < 5 % under-used, 5–15 % typical, 15–25 % busy, "
        "≥ 25 % consider more capacity.",
        data.note + ". Device counts are public and never suppressed.",
    ]
    return lines


def demand_lines(ward_demand: pd.DataFrame) -> dict[str, str]:
    """Per borough code: the page's demand line from a ward demand table
    (:func:`~..analysis.demand.demand_table`), each borough's figures the sums of its
    wards (a ward without ward-profile figures is left out, and the line says so)."""
    from ..analysis import demand

    scenario = demand.Scenario.from_dict(ward_demand.attrs["scenario"])
    head = (f"Demand, scenario '{scenario.name}' ({scenario.kwh_per_ev_day:g} kWh per EV a "
            f"day, one public connector {scenario.delivered_kwh_per_day:g} kWh a day)")
    vintage = ward_demand.attrs.get("devices_vintage", "")
    if " as of " in vintage:
        vintage = "devices as of " + vintage.split(" as of ", 1)[1]
    vintage = f"; {vintage}" if vintage else ""
    lines = {}
    for code, wards in ward_demand.groupby("parent_code", sort=False):
        known = wards["connectors_needed"].notna()
        t = demand.totals(wards[known])
        blank = int((~known).sum())
        blank = f" ({blank} of {len(wards)} wards without figures left out)" if blank else ""
        lines[str(code)] = (f"{head}: {t['connectors_needed']:,} connectors needed with "
                            f"{scenario.ev_share:.0%} of cars electric, "
                            f"{t['connectors_now']:,} now, gap {t['gap']:,}{blank}{vintage}.")
    return lines


def notes_lines(data: CommitteeData, borough: Optional[str] = None) -> list[str]:
    """The page's notes: definitions, the borough's demand line (if any), provenance."""
    line = data.demand.get(str(data.borough(borough)["area_code"])) if borough else None
    return definition_lines(data) + ([line] if line else []) + provenance_lines(data)


def provenance_lines(data: CommitteeData) -> list[str]:
    lines = []
    if data.vintage:
        lines.append(f"Data vintage: {data.vintage}.")
    lines.append("Sources: " + "; ".join(data.sources) + ".")
    return lines


def live_status_caption(status) -> list[str]:
    """The lines heading the page's live status legend (``status``: a
    :class:`~.mapdata.StatusLayerInfo`): when, from where, and that it is no period figure."""
    feeds = [source.split(":", 1)[-1] for source in status.sources]
    named = ", ".join(feeds) if len(feeds) <= 2 else f"{len(feeds)} operators' feeds"
    return [f"Live status, {status.latest_text() or 'no report'} UK time",
            f"{status.features} devices; OCPI: {named}",
            "Latest report, not a figure of the period"]


def footer_line(data: CommitteeData) -> str:
    return (f"Printed {data.printed} · Fingerprint {data.fingerprint} · "
            f"ev_chargepoints {plugin_version()} · Boundaries {data.boundary_version}")
