"""Statistical disclosure control for usage figures, before anything is printed.

Operators' usage returns are commercially sensitive: a usage figure for a cell
(an area, a table row, a point) may only be shown when it pools at least
``threshold`` devices (default 3) *and* more than one operator. Otherwise the
cell's usage figures are suppressed (set to missing and marked), or, for single
points, shown only as a band (:func:`band_points`); a point standing in a
suppressed cell shows no usage at all (:func:`hide_points`). Device and connector
COUNTS are public and never suppressed.

Pure pandas: the same masking serves the PDF pages, the CSV tables and any
other front end. Everything that leaves the plugin as a table, file or page is
masked by default; only an explicit internal mode lifts it, and its outputs say
:data:`INTERNAL` (docs/user-guide.md §10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import errors

DEFAULT_THRESHOLD = 3
SUPPRESSED = "suppressed"
STATUS_COLUMN = "usage_disclosure"
SHOWN = "shown"
NO_USAGE = "no usage data"
NO_DATA = "no data"      # a usage figure no source reports for the period (not zero)
FEW_DEVICES = "suppressed: fewer than {n} devices"
ONE_OPERATOR = "suppressed: single operator"
COMPLEMENT = "suppressed: protects another area (totals are published)"
USAGE_NOT_SHOWN = "usage not shown"     # a point inside a suppressed area
INTERNAL = "INTERNAL – not for publication"
INTERNAL_NOTE = (f"{INTERNAL}: usage figures of areas with few devices or a single "
                 "operator are not suppressed")
INTERNAL_SUFFIX = f" — {INTERNAL}"

# Every figure derived from sessions (or status reports) of the devices in a cell.
USAGE_FIGURES = (
    "sessions", "kwh", "plugged_hours", "available_hours", "capacity_kwh",
    "occupancy_pct", "capacity_factor_pct", "sessions_per_device", "sessions_per_day",
    "kwh_per_day", "in_use_days", "idle_share_pct", "uptime_pct", "observed_coverage_pct",
    "prev_sessions", "prev_kwh", "prev_occupancy_pct", "sessions_change",
    "sessions_change_pct", "kwh_change", "kwh_change_pct", "occupancy_pct_change",
    "occupancy_change",
)


def note(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The sentence every page and table carrying usage figures prints."""
    return (f"Usage figures for areas with fewer than {int(threshold)} devices or a single "
            "operator are suppressed")


@dataclass
class Disclosure:
    """A masked table and what the page must say about it."""

    table: pd.DataFrame
    note: str
    threshold: int
    suppressed: list = field(default_factory=list)   # keys of the suppressed cells

    @property
    def any_suppressed(self) -> bool:
        return bool(self.suppressed)


def usage_columns(columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in USAGE_FIGURES]


def contributors(device_rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Devices and operators behind each cell.

    ``device_rows`` holds one row per device that contributes usage to a cell:
    ``key`` (the cell), ``device_id`` and ``operator``. A missing operator counts
    as its own unknown operator (it cannot prove there is a second one).
    Returns ``key``, ``usage_devices``, ``usage_operators``.
    """
    if not len(device_rows):
        return pd.DataFrame({key: pd.Series(dtype=object),
                             "usage_devices": pd.Series(dtype="int64"),
                             "usage_operators": pd.Series(dtype="int64")})
    rows = device_rows[[key, "device_id", "operator"]].drop_duplicates([key, "device_id"])
    operator = rows["operator"].astype(object).where(rows["operator"].notna(), "")
    operator = operator.map(lambda v: str(v).strip().lower())
    rows = rows.assign(operator=operator)
    grouped = rows.groupby(key, sort=True)
    out = pd.DataFrame({"usage_devices": grouped["device_id"].nunique(),
                        "usage_operators": grouped["operator"].nunique()}).reset_index()
    return out.astype({"usage_devices": "int64", "usage_operators": "int64"})


def area_contributors(assignment_table: pd.DataFrame, devices: pd.DataFrame,
                      usage: Optional[pd.DataFrame], code_column: str,
                      periods: Sequence[str]) -> pd.DataFrame:
    """Contributors per area code for the given usage ``periods``.

    ``assignment_table`` maps device_id to ``code_column`` (e.g. borough_code);
    a device contributes when ``usage`` has a row for it in any of ``periods``
    (the period shown and the one it is compared with). ``code_column=None``
    pools every device into one cell keyed ``"all"`` (a total row).
    """
    key = code_column or "cell"
    if usage is None or not len(usage):
        return contributors(pd.DataFrame(columns=[key, "device_id", "operator"]), key)
    wanted = [p for p in periods if p]
    used = usage.loc[usage["period"].astype(object).isin(wanted), "device_id"]
    ids = pd.unique(used.astype(object))
    rows = pd.DataFrame({"device_id": ids})
    operators = devices[["device_id", "operator"]].drop_duplicates("device_id")
    rows = rows.merge(operators, on="device_id", how="left")
    if code_column:
        places = assignment_table[["device_id", code_column]].drop_duplicates("device_id")
        rows = rows.merge(places, on="device_id", how="inner")
        rows = rows[rows[code_column].notna()]
    else:
        rows[key] = "all"
    return contributors(rows, key)


def mask_usage(table: pd.DataFrame, counts: pd.DataFrame, key: str = "area_code",
               threshold: int = DEFAULT_THRESHOLD, complementary: bool = False,
               group: Optional[str] = None) -> Disclosure:
    """Suppress the usage figures of every row whose contributors fail the rule.

    ``counts`` comes from :func:`contributors` (matched on ``key``). A row is
    suppressed when it has usage from 1 to ``threshold - 1`` devices, or all its
    usage comes from one operator. Rows with no usage at all stay empty and are
    marked "no usage data". Counts and every non-usage column are untouched.
    Adds ``usage_devices``, ``usage_operators`` and ``usage_disclosure``.

    ``complementary``: the rows add up to a total that is published too (London's
    figure beside its boroughs). One suppressed row could then be recovered as the
    total minus the others, so the shown row with the fewest usage devices is
    suppressed as well. ``group``: a column whose rows add up to a published total
    each (``parent_code``: the wards of a borough add up to the borough's figure);
    the complement is then chosen within every group.
    """
    threshold = int(threshold)
    if threshold < 1:
        raise ValueError("the disclosure threshold must be at least 1 device")
    out = table.copy()
    out.attrs = dict(table.attrs)
    lookup = counts.set_index(key) if len(counts) else None
    keys = out[key].astype(object)
    if lookup is not None:
        n_dev = keys.map(lookup["usage_devices"]).fillna(0).astype("int64")
        n_op = keys.map(lookup["usage_operators"]).fillna(0).astype("int64")
    else:
        n_dev = pd.Series(0, index=out.index, dtype="int64")
        n_op = pd.Series(0, index=out.index, dtype="int64")
    few = (n_dev > 0) & (n_dev < threshold)
    single = (n_dev > 0) & (n_op <= 1) & ~few
    hide = few | single
    status = np.where(n_dev == 0, NO_USAGE, SHOWN).astype(object)
    status[few.to_numpy()] = FEW_DEVICES.format(n=threshold)
    status[single.to_numpy()] = ONE_OPERATOR
    shown = (n_dev > 0) & ~hide
    if complementary:
        hide = hide.copy()
        if group is None:
            cells = [out.index]
        else:
            parent = out[group].astype(object)
            parent = parent.where(parent.notna(), "")
            cells = out.groupby(parent, sort=False).groups.values()
        for rows in cells:
            if int(hide.loc[rows].sum()) == 1 and shown.loc[rows].any():
                partner = n_dev.loc[rows][shown.loc[rows]].idxmin()
                hide.loc[partner] = True
                status[out.index.get_loc(partner)] = COMPLEMENT
    columns = usage_columns(out.columns)
    for column in columns:
        if not pd.api.types.is_float_dtype(out[column]):
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        out.loc[hide.to_numpy(), column] = np.nan
    out["usage_devices"] = n_dev.to_numpy()
    out["usage_operators"] = n_op.to_numpy()
    out[STATUS_COLUMN] = status
    out.attrs["disclosure_threshold"] = threshold
    out.attrs["disclosure_note"] = note(threshold)
    return Disclosure(out, note(threshold), threshold, out.loc[hide, key].tolist())


def publishable(table: pd.DataFrame, summariser, level: str, filters: Optional[dict] = None,
                threshold: int = DEFAULT_THRESHOLD, internal: bool = False) -> pd.DataFrame:
    """The one path a summary ``table`` of ``level`` takes out of the plugin (the CLI,
    Processing and the Area summary dock's exports): usage figures of areas whose
    devices (those passing ``filters``, counted by ``summariser``, a
    :class:`~ev_chargepoints.core.analysis.summary.Summariser`) fail the
    disclosure rule are suppressed, with
    complementary suppression where the rows add up to a published total (boroughs to
    London, the wards of a borough to the borough). ``internal`` lifts the rule and
    marks the table ``attrs["internal"]``: its outputs must say
    :data:`INTERNAL`. ``attrs["suppressed"]`` lists the codes suppressed."""
    if internal:
        out = table.copy()
        out.attrs = {**table.attrs, "internal": True, "suppressed": []}
        return out
    if int(threshold) < 1:
        raise errors.EvChargepointsError("The disclosure threshold must be at least 1 device.")
    counts = summariser.contributors(level, table.attrs.get("period"), filters)
    masked = mask_usage(table, counts, threshold=threshold, complementary=True,
                        group="parent_code" if level == "ward" else None)
    masked.table.attrs.update({"internal": False, "suppressed": list(masked.suppressed)})
    return masked.table


def band_points(points: pd.DataFrame, bands, value_column: str = "occupancy_pct",
                band_column: str = "occupancy_band") -> pd.DataFrame:
    """Single-device cells: replace usage figures by a band label.

    A point is one device of one operator, so its figures are never printed;
    ``bands`` are :class:`~.styling.Band` objects (its colour on the map).
    """
    out = points.copy()
    labels = []
    for value in pd.to_numeric(out[value_column], errors="coerce"):
        band = next((b for b in bands if b.contains(None if pd.isna(value) else value)), None)
        labels.append(band.label if band is not None else NO_USAGE)
    out[band_column] = labels
    return out.drop(columns=usage_columns(out.columns))


def hide_points(points: pd.DataFrame, area_column: str, hidden_areas) -> pd.DataFrame:
    """Points (devices) standing in a suppressed area show no usage at all.

    A point's colour band would give away what the area's suppressed figure hides,
    so the usage figures of every point whose ``area_column`` is in
    ``hidden_areas`` are set to missing; ``usage_disclosure`` says
    :data:`USAGE_NOT_SHOWN` for them and :data:`SHOWN` for the others.
    """
    out = points.copy()
    hidden = out[area_column].astype(object).isin(list(hidden_areas)).to_numpy()
    for column in usage_columns(out.columns):
        values = pd.to_numeric(out[column], errors="coerce").astype("float64")
        out[column] = values.where(~hidden, np.nan)
    out[STATUS_COLUMN] = np.where(hidden, USAGE_NOT_SHOWN, SHOWN).astype(object)
    return out


def stamp(text: str, internal: bool) -> str:
    """``text`` labelled :data:`INTERNAL` when it comes from the internal mode."""
    return f"{text}{INTERNAL_SUFFIX}" if internal and INTERNAL_SUFFIX not in text else text


def format_figure(value, digits: int = 0, suffix: str = "",
                  suppressed: bool = False) -> str:
    """A table cell's text: "suppressed", "–" for missing, else the rounded number."""
    if suppressed:
        return SUPPRESSED
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return "–"
    text = f"{float(value):,.{digits}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0.0" for a change that rounds to nothing
    return text + suffix
