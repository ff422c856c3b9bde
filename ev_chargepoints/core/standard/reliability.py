"""The 2023 regulations' reliability, measured over observed time only.

Working time / (working + not working) time per device or EVSE from status
snapshots (:func:`.uptime.status_occupancy`, the computation behind uptime
too), summed per operator and per rapid network (devices of 50 kW and more),
which must reach :data:`.model.RELIABILITY_TARGET`; with fewer counted hours
than the minimum a figure is :data:`.model.NOT_ENOUGH`, not judged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
import pandas as pd

from .. import errors
from ..analysis.ratios import ratio
from ..analysis.uptime import DEFAULT_MAX_GAP_HOURS, status_occupancy
from ..calendar import NAT, ns_utc
from .model import (
    FAIL,
    MIN_OBSERVED_HOURS,
    NOT_ENOUGH,
    PASS,
    RAPID_CLASSES,
    RELIABILITY_TARGET,
    UNKNOWN_OPERATOR,
    OperatorReport,
    Reliability,
    to_utc,
)

RELIABILITY_FIGURES = ["observed_h", "working_h", "down_h", "excluded_h", "not_live_h",
                       "evses", "observations", "reliability", "result"]


def reliability(snapshots: pd.DataFrame, devices: Optional[pd.DataFrame] = None,
                start=None, end=None, *, by: str = "device",
                max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                min_observed_hours: float = MIN_OBSERVED_HOURS) -> pd.DataFrame:
    """Observed hours per regulation group and reliability per device (or EVSE).

    Only observed time counts (:func:`.uptime.status_occupancy`, the same
    computation as uptime in utilisation): each observation of an EVSE
    (``device_id`` + ``evse_uid``) holds until its next observation, for at most
    ``max_gap_hours``; longer gaps and the time after a last observation beyond
    the cap are unobserved. Time is clipped to [start, end) when given.

    Returns one row per device (``by="evse"``: per EVSE, with ``evse_uid``):
    device_id, operator, power_class, observed_h, working_h, down_h, excluded_h,
    not_live_h, evses (with observed time), observations (in the window),
    reliability (NaN without working or down time) and result: pass or fail
    against :data:`RELIABILITY_TARGET`, or :data:`NOT_ENOUGH` under
    ``min_observed_hours`` counted (working + down) hours.
    """
    if by not in ("device", "evse"):
        raise ValueError("by must be 'device' or 'evse'")
    keys = ["device_id"] + (["evse_uid"] if by == "evse" else [])
    columns = keys + ["operator", "power_class"] + RELIABILITY_FIGURES
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if snapshots is None or not len(snapshots):
        return empty
    seen = ns_utc(snapshots["observed_utc"])
    seen = seen[seen != NAT]
    if not len(seen):
        return empty
    lo = ns_utc(pd.Series([to_utc(start)]))[0] if start is not None else int(seen.min())
    hi = ns_utc(pd.Series([to_utc(end)]))[0] if end is not None else \
        int(seen.max()) + int(max_gap_hours * 3.6e12)
    if hi <= lo:
        return empty
    table = status_occupancy(snapshots, by=by, max_gap_hours=max_gap_hours,
                             bounds=np.array([lo, hi], dtype=np.int64))
    if not len(table):
        return empty
    out = pd.DataFrame({k: table[k].to_numpy(object) for k in keys})
    for name, column in (("observed_h", "status_observed_hours"),
                         ("working_h", "working_hours"), ("down_h", "down_hours"),
                         ("excluded_h", "excluded_hours"), ("not_live_h", "not_live_hours")):
        out[name] = table[column].to_numpy(float)
    out["evses"] = table["evses"].to_numpy("int64")
    out["observations"] = table["status_observations"].to_numpy("int64")
    if devices is not None and len(devices):
        meta = devices.drop_duplicates("device_id").set_index("device_id")
        out["operator"] = out["device_id"].map(meta["operator"])
        out["power_class"] = out["device_id"].map(meta["power_class"])
    else:
        out["operator"] = None
        out["power_class"] = None
    out["operator"] = out["operator"].where(out["operator"].notna(), UNKNOWN_OPERATOR)
    out["reliability"] = ratio(out["working_h"], out["working_h"] + out["down_h"])
    out["result"] = _results(out["working_h"] + out["down_h"], out["reliability"],
                             min_observed_hours)
    return out[columns]


def _results(counted, share, min_observed_hours: float) -> np.ndarray:
    counted = np.asarray(counted, dtype=float)
    share = np.asarray(share, dtype=float)
    enough = (counted > 0) & (counted + 1e-9 >= min_observed_hours)
    return np.where(~enough, NOT_ENOUGH,
                    np.where(share >= RELIABILITY_TARGET, PASS, FAIL)).astype(object)


def reliability_record(scope, ident, operator, rows: pd.DataFrame, power_class=None,
                       min_observed_hours: float = MIN_OBSERVED_HOURS) -> Reliability:
    working, down = float(rows["working_h"].sum()), float(rows["down_h"].sum())
    share = ratio([working], [working + down])[0]
    return Reliability(scope=scope, id=str(ident), operator=str(operator),
                       power_class=power_class, working_h=round(working, 6),
                       down_h=round(down, 6), excluded_h=round(float(rows["excluded_h"].sum()), 6),
                       not_live_h=round(float(rows["not_live_h"].sum()), 6),
                       evses=int(rows["evses"].sum()),
                       observations=int(rows["observations"].sum()),
                       reliability=None if np.isnan(share) else float(share),
                       observed_h=round(float(rows["observed_h"].sum()), 6),
                       result=str(_results([working + down], [share], min_observed_hours)[0]))


def operator_reliability(table: pd.DataFrame,
                         min_observed_hours: float = MIN_OBSERVED_HOURS) -> pd.DataFrame:
    """Per operator, from a :func:`reliability` table (by device or EVSE): one row for
    all its devices (scope ``operator``) and one for its rapid network (devices of
    50 kW and more, scope ``rapid network``: the regulations' 99 % test), with the
    observed hours, observations and result of each."""
    records = []
    for name in sorted(set(table["operator"])):
        mine = table[table["operator"] == name]
        records.append(reliability_record("operator", name, name, mine,
                                          min_observed_hours=min_observed_hours))
        rapid = mine[mine["power_class"].isin(RAPID_CLASSES)]
        if len(rapid):
            records.append(reliability_record("rapid network", name, name, rapid, "rapid",
                                              min_observed_hours))
    columns = ["operator", "scope", "counted_h"] + RELIABILITY_FIGURES
    rows = [{**asdict(r), "counted_h": round(r.counted_h, 6)} for r in records]
    return pd.DataFrame(rows, columns=columns) if rows else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def check_reliability_options(max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                              min_observed_hours: float = MIN_OBSERVED_HOURS) -> None:
    """Raise :class:`errors.EvChargepointsError` for a cap or minimum that makes no sense."""
    try:
        gap, minimum = float(max_gap_hours), float(min_observed_hours)
    except (TypeError, ValueError):
        raise errors.EvChargepointsError("The gap an observation may cover and the minimum "
                                         "observed time must be numbers of hours.") from None
    if not 0 < gap < float("inf"):
        raise errors.EvChargepointsError("The gap an observation may cover must be more "
                                         f"than 0 hours (got {max_gap_hours!r}).")
    if not 0 <= minimum < float("inf"):
        raise errors.EvChargepointsError("The minimum observed time must be 0 hours or more "
                                         f"(got {min_observed_hours!r}).")



def reliability_options(max_gap_hours: Optional[float] = None,
                        min_observed_hours: Optional[float] = None) -> tuple[float, float]:
    """The cap and minimum to use (None: the defaults), checked."""
    gap = DEFAULT_MAX_GAP_HOURS if max_gap_hours is None else max_gap_hours
    minimum = MIN_OBSERVED_HOURS if min_observed_hours is None else min_observed_hours
    check_reliability_options(gap, minimum)
    return float(gap), float(minimum)


@dataclass
class ReliabilityTables:
    """:meth:`~ev_chargepoints.core.workspace.Workspace.reliability`: ``table`` per EVSE
    (or device) and ``operators`` (:func:`operator_reliability`), with the cap and
    minimum used."""

    table: pd.DataFrame
    operators: pd.DataFrame
    max_gap_hours: float
    min_observed_hours: float

def status_and_owners(snapshot_frames, device_frames):
    """One status table from ``snapshot_frames`` and, per device, the first of
    ``device_frames`` naming it (operator, power class); the last frame may hold devices
    no longer current (the latest version of each wins)."""
    from .. import schema

    *devices, stored = device_frames
    if "valid_from_utc" in stored and len(stored):
        stored = stored.sort_values("valid_from_utc", ascending=False, kind="stable")
    devices.append(stored[[c for c in schema.TABLES["devices"] if c in stored]])
    snaps = [s for s in snapshot_frames if len(s)]
    status = pd.concat(snaps, ignore_index=True) if snaps else schema.empty("status_snapshots")
    owners = pd.concat([d for d in devices if len(d)] or [schema.empty("devices")],
                       ignore_index=True).drop_duplicates("device_id", keep="first")
    return status, owners


def reliability_tables(status, owners, start, end, by: str, max_gap_hours: float,
                       min_observed_hours: float) -> ReliabilityTables:
    """Per EVSE or device and per operator (:func:`reliability`), with the options used."""
    if by not in ("evse", "device"):
        raise ValueError(f"Reliability is per 'evse' or 'device', not {by!r}.")
    table = reliability(status, owners, start=start, end=end, by=by,
                        max_gap_hours=max_gap_hours, min_observed_hours=min_observed_hours)
    return ReliabilityTables(table, operator_reliability(table, min_observed_hours),
                             max_gap_hours, min_observed_hours)


def describe_hours(rec: Reliability) -> str:
    """The observed time behind a reliability figure, in words."""
    return (f"{rec.counted_h:,.1f} counted hours ({rec.observed_h:,.1f} observed hours, "
            f"{rec.observations:,} observations of {rec.evses:,} EVSE(s))")


def describe_record(rec: Reliability) -> str:
    """'rapid network 96.70% over 45.5 counted hours (...): fail'."""
    figure = f"{rec.reliability:.2%}" if rec.reliability is not None else "n/a"
    return f"{rec.scope} {figure} over {describe_hours(rec)}: {rec.result}"


def describe_rapid(op: OperatorReport) -> str:
    """' — rapid network 96.70% over ... hours: fail' for one-line summaries ('' when
    the operator has no rapid device with status history)."""
    rec = op.rapid_reliability
    return "" if rec is None else f" \u2014 {describe_record(rec)}"
