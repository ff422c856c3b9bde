"""Uptime and status-based occupancy from watched status snapshots, per EVSE (or
device) and calendar period.

Each observation of an EVSE holds until its next observation, for at most the polling
gap allowed (:data:`DEFAULT_MAX_GAP_HOURS`); the rest of a longer gap, and the time after
an EVSE's last observation beyond the cap, is unobserved (neither up nor down). Uptime =
working ÷ (working + down) time over observed time only (2023 regulations; the groups
are :data:`~ev_chargepoints.core.schema.RELIABILITY_GROUP`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import HOUR_NS, NAT, ns_utc, period_grid
from ..schema import RELIABILITY_GROUP
from .ratios import ratio
from .usage_sums import add_ratios

# An observed status holds until the EVSE's next observation for at most this long;
# the rest of a longer gap (and the time after a last observation) is unobserved.
DEFAULT_MAX_GAP_HOURS = 1.0

STATUS_SUMS = ("status_observed_hours", "status_period_hours", "working_hours",
               "down_hours")


def device_status_sums(status: pd.DataFrame, period: str, bounds: np.ndarray,
                       max_gap_hours: float, device_ids: np.ndarray,
                       p: np.ndarray) -> dict[str, np.ndarray]:
    """The status sums (:data:`STATUS_SUMS`) of each output row's device and period
    (0 where the device has no observation in the period); uptime at connector level
    is the device's."""
    per_device = status_occupancy(status, period=period, by="device",
                                  max_gap_hours=max_gap_hours, bounds=bounds)
    n_periods = len(bounds) - 1
    observed = per_device["device_id"].to_numpy(object)
    devices = pd.Index(pd.unique(observed))
    cells = devices.get_indexer(observed) * n_periods + per_device["_p"].to_numpy()
    row = devices.get_indexer(np.asarray(device_ids, dtype=object))
    known = row >= 0
    wanted = row[known] * n_periods + np.asarray(p)[known]
    out = {}
    for name in STATUS_SUMS:
        grid = np.zeros(len(devices) * n_periods)
        grid[cells] = per_device[name].to_numpy()
        values = np.zeros(len(row))
        values[known] = grid[wanted]
        out[name] = values
    return out


def split_sums(code: np.ndarray, start: np.ndarray, end: np.ndarray, bounds: np.ndarray,
               n_codes: int) -> np.ndarray:
    """Σ overlap of [start, end) with each [bounds[p], bounds[p+1]) per code.

    Returns a float64 array of shape (n_codes, P) in nanoseconds. Intervals must
    have end >= start; parts outside the bounds are ignored.
    """
    n_periods = len(bounds) - 1
    out = np.zeros(n_codes * n_periods, dtype=np.float64)
    if len(code) == 0:
        return out.reshape(n_codes, n_periods)
    lo, hi = bounds[0], bounds[-1]
    keep = (end > lo) & (start < hi) & (end > start)
    if not keep.all():
        code, start, end = code[keep], start[keep], end[keep]
    s = np.maximum(start, lo)
    e = np.minimum(end, hi)
    p0 = np.searchsorted(bounds, s, side="right") - 1
    p1 = np.searchsorted(bounds, e - 1, side="right") - 1
    same = p0 == p1
    out += np.bincount(code[same] * n_periods + p0[same],
                       weights=(e[same] - s[same]).astype(np.float64),
                       minlength=n_codes * n_periods)
    cross = np.flatnonzero(~same)
    if len(cross):
        k = p1[cross] - p0[cross] + 1
        rep = np.repeat(cross, k)
        step = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
        p = p0[rep] + step
        seg = np.minimum(e[rep], bounds[p + 1]) - np.maximum(s[rep], bounds[p])
        out += np.bincount(code[rep] * n_periods + p, weights=seg.astype(np.float64),
                           minlength=n_codes * n_periods)
    return out.reshape(n_codes, n_periods)


_STATUS_CATEGORY = ("CHARGING", "AVAILABLE", "RESERVED", "BLOCKED", "UNKNOWN",
                    "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED")


def status_occupancy(status: pd.DataFrame, period: str = "quarter", by: str = "evse",
                     max_gap_hours: float = DEFAULT_MAX_GAP_HOURS, start=None, end=None,
                     bounds: np.ndarray | None = None) -> pd.DataFrame:
    """Share of observed time per status, uptime and coverage per EVSE (or device)
    and period: the one computation behind every uptime and reliability figure.

    Each observation holds until the next observation of the same EVSE, for at
    most ``max_gap_hours``; the rest of a longer gap, and the time after an
    EVSE's last observation beyond the cap, count as unobserved (neither up nor
    down). Of two observations at the same instant the later row wins. Hours
    per regulation group (working, down, excluded, not live) and the
    observations made in each period come with every row.
    """
    if by not in ("evse", "device"):
        raise ValueError("by must be 'evse' or 'device'")
    if not max_gap_hours > 0:
        raise ValueError("max_gap_hours must be more than 0")
    frame = status
    observed = ns_utc(frame["observed_utc"])
    device = frame["device_id"].to_numpy(object)
    ok = (observed != NAT) & pd.notna(device)
    if bounds is None and not ok.any():  # nothing observed: no periods to report
        return pd.DataFrame()
    evse = frame["evse_uid"].to_numpy(object)
    evse = np.where(pd.isna(evse), "", evse).astype(object)
    pair, pair_ids = pd.factorize(pd.MultiIndex.from_arrays([device[ok], evse[ok]]))
    observed = observed[ok]
    cat = pd.Categorical(pd.Series(frame["status"].to_numpy(object)[ok]).fillna("UNKNOWN"),
                         categories=_STATUS_CATEGORY)
    cat_code = np.where(cat.codes < 0, _STATUS_CATEGORY.index("UNKNOWN"), cat.codes)
    order = np.lexsort((observed, pair))  # stable: rows at one instant keep their order
    pair, observed, cat_code = pair[order], observed[order], cat_code[order]
    latest = np.ones(len(pair), dtype=bool)
    latest[:-1] = (pair[1:] != pair[:-1]) | (observed[1:] != observed[:-1])
    pair, observed, cat_code = pair[latest], observed[latest], cat_code[latest]
    gap = int(max_gap_hours * HOUR_NS)
    nxt = np.empty_like(observed)
    nxt[:-1] = observed[1:]
    last_of_pair = np.ones(len(pair), dtype=bool)
    last_of_pair[:-1] = pair[1:] != pair[:-1]
    nxt[last_of_pair] = observed[last_of_pair] + gap
    until = np.minimum(nxt, observed + gap)
    if bounds is None:
        if not len(observed):
            return pd.DataFrame()
        first = int(observed.min()) if start is None else int(ns_utc([start])[0])
        last = int(until.max()) - 1 if end is None else int(ns_utc([end])[0]) - 1
        labels, bounds, local_starts, p_index = period_grid(first, last, period)
    else:
        labels = None
    n_periods = len(bounds) - 1
    n_pairs = len(pair_ids)
    k = len(_STATUS_CATEGORY)
    sums = split_sums(pair.astype(np.int64) * k + cat_code, observed, until, bounds,
                      n_pairs * k).reshape(n_pairs, k, n_periods) / HOUR_NS
    period_hours = np.diff(bounds) / HOUR_NS
    group_of = [RELIABILITY_GROUP[name] for name in _STATUS_CATEGORY]
    grids = {f"{group}_hours": sums[:, [i for i, g in enumerate(group_of) if g == group],
                                    :].sum(axis=1)
             for group in ("working", "down", "excluded", "not_live")}
    grids["status_observed_hours"] = sums.sum(axis=1)
    grids["charging_hours"] = sums[:, 0, :]
    grids["status_available_hours"] = sums[:, 1, :]
    p_obs = np.searchsorted(bounds, observed, side="right") - 1
    inside = (p_obs >= 0) & (p_obs < n_periods)
    grids["status_observations"] = np.bincount(
        pair[inside].astype(np.int64) * n_periods + p_obs[inside],
        minlength=n_pairs * n_periods).reshape(n_pairs, n_periods).astype(np.int64)
    grids["evses"] = (grids["status_observed_hours"] > 0).astype(np.int64)
    pair_device = np.asarray([p[0] for p in pair_ids], dtype=object)
    pair_evse = np.asarray([p[1] for p in pair_ids], dtype=object)
    if by == "device":
        dcode, d_ids = pd.factorize(pair_device)

        def agg(grid):
            out = np.zeros((len(d_ids), n_periods), dtype=grid.dtype)
            np.add.at(out, dcode, grid)  # one row per EVSE: small
            return out

        grids = {name: agg(grid) for name, grid in grids.items()}
        n_evse = np.bincount(dcode, minlength=len(d_ids)).astype(float)
        keys = {"device_id": np.asarray(d_ids, dtype=object)}
    else:
        n_evse = np.ones(n_pairs)
        keys = {"device_id": pair_device, "evse_uid": pair_evse}
    grids["status_period_hours"] = n_evse[:, None] * period_hours[None, :]
    g_idx, p_idx = np.nonzero(grids["status_observed_hours"] > 0)
    out = {name: values[g_idx] for name, values in keys.items()}
    if labels is not None:
        out["period"] = np.asarray(labels, dtype=object)[p_idx]
        out["period_index"] = p_index[p_idx]
        out["period_start"] = np.asarray(local_starts[:-1].date, dtype=object)[p_idx]
    out["_p"] = p_idx
    out.update({name: grids[name][g_idx, p_idx] for name in (
        "status_observed_hours", "status_period_hours", "status_observations", "evses",
        "working_hours", "down_hours", "excluded_hours", "not_live_hours",
        "charging_hours", "status_available_hours")})
    result = pd.DataFrame(out)
    result["charging_pct"] = ratio(result["charging_hours"], result["status_observed_hours"],
                                   100)
    result["available_pct"] = ratio(result["status_available_hours"],
                                    result["status_observed_hours"], 100)
    result["down_pct"] = ratio(result["down_hours"], result["status_observed_hours"], 100)
    result = add_ratios(result)
    if labels is not None:
        result = result.drop(columns="_p")
    first = [c for c in ("device_id", "evse_uid", "period", "period_index", "period_start",
                         "_p", "uptime_pct", "status_observed_hours", "status_observations")
             if c in result]
    return result[first + [c for c in result.columns if c not in first]]
