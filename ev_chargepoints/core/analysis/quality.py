"""Session quality flags: sessions are kept and flagged, never silently dropped.

Flags (one boolean per session):

open               no end time yet; the session counts nowhere until it ends
end_before_start   end earlier than start; excluded from every figure
missing_kwh        ended, but no energy reported (counts as a session, 0 kWh)
impossible_energy  kWh > rated kW × plugged hours (+5 % and 0.1 kWh for rounded
                   times and meter precision), when the rating is known
over_72h           plugged in for more than 72 hours
overlapping        starts before an earlier session on the same device and
                   connector has ended (flagged on the later session)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import HOUR_NS, NAT, ns_utc

FLAGS = ("open", "end_before_start", "missing_kwh", "impossible_energy", "over_72h",
         "overlapping")
FLAG_DEFINITIONS = {
    "open": "session has no end time yet; not counted until it ends",
    "end_before_start": "end time earlier than start time; excluded",
    "missing_kwh": "ended without an energy reading; counted with 0 kWh",
    "impossible_energy": "more energy than the rated power allows in the plugged-in "
                         "time (5 % and 0.1 kWh tolerance)",
    "over_72h": "plugged in for more than 72 hours",
    "overlapping": "starts before the previous session on the same connector ended",
}

ENERGY_TOLERANCE = 1.05
ENERGY_ALLOWANCE_KWH = 0.1
LONG_SESSION_HOURS = 72


def flag_arrays(start: np.ndarray, end: np.ndarray, kwh: np.ndarray,
                rated_kw: np.ndarray | None = None,
                group: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Vectorised flags from int64-ns times, kWh, per-session rated kW and a
    per-session integer code of (device, connector) for the overlap check."""
    is_open = (end == NAT) & (start != NAT)
    closed = (end != NAT) & (start != NAT)
    duration = np.where(closed, end - start, 0)
    backwards = closed & (duration < 0)
    valid = closed & ~backwards
    hours = duration / HOUR_NS
    flags = {
        "open": is_open,
        "end_before_start": backwards,
        "missing_kwh": valid & np.isnan(kwh),
        "over_72h": valid & (hours > LONG_SESSION_HOURS),
    }
    if rated_kw is not None:
        limit = rated_kw * hours * ENERGY_TOLERANCE + ENERGY_ALLOWANCE_KWH
        with np.errstate(invalid="ignore"):
            flags["impossible_energy"] = valid & (rated_kw > 0) & (kwh > limit)
    else:
        flags["impossible_energy"] = np.zeros(len(start), dtype=bool)
    flags["overlapping"] = (overlap_flags(start, end, group, valid) if group is not None
                            else np.zeros(len(start), dtype=bool))
    return {name: flags[name] for name in FLAGS}


def overlap_flags(start, end, group, valid, time_bits: int | None = None) -> np.ndarray:
    """True for a session that starts before an earlier one in its group ended.

    Sessions are put in (group, start) order with one ``np.sort`` of packed
    int64 keys (group | start | position), about twice as fast as ``argsort``;
    when the start has to be coarsened to fit, the rare runs that tie on the
    coarse key are re-ordered by their exact start. The running maximum of
    group × span + end then tells whether an earlier session of the group is
    still plugged in (adding group × span keeps groups apart).
    ``time_bits`` forces a coarser packing (tests).
    """
    out = np.zeros(len(start), dtype=bool)
    idx = np.flatnonzero(valid & (group >= 0))
    n = len(idx)
    if n < 2:
        return out
    t0 = int(start[idx].min())
    s = (start[idx] - t0) // 1_000_000_000  # whole seconds
    e = (end[idx] - t0) // 1_000_000_000
    g = group[idx].astype(np.int64)
    span = int(e.max()) + 2
    group_bits = int(g.max()).bit_length()
    index_bits = (n - 1).bit_length()
    free = 62 - group_bits - index_bits if time_bits is None else time_bits
    sorted_group = None
    if free < 8 or group_bits > 62 // 2:
        order = np.lexsort((s, g))  # astronomically large input: plain and exact
    else:
        shift = max(0, span.bit_length() - free)
        packed = (g << (free + index_bits)) | ((s >> shift) << index_bits) | np.arange(n)
        packed.sort()
        order = packed & ((1 << index_bits) - 1)
        head = packed >> index_bits
        del packed
        if shift:
            tie = head[1:] == head[:-1]
            if tie.any():
                marked = np.zeros(n, dtype=bool)
                marked[1:] |= tie
                marked[:-1] |= tie
                where = np.flatnonzero(marked)
                run = np.cumsum(np.r_[True, head[where][1:] != head[where][:-1]])
                order[where] = order[where][np.lexsort((s[order[where]], run))]
        sorted_group = head >> free  # no gather needed for the group
        del head
    g = (g[order] if sorted_group is None else sorted_group) * span
    key = g + s[order]
    running = np.maximum.accumulate(g + e[order])
    del g
    later = np.zeros(n, dtype=bool)
    later[1:] = key[1:] < running[:-1]
    out[idx[order[later]]] = True
    return out


def rated_kw_per_session(sessions: pd.DataFrame, devices: pd.DataFrame | None = None,
                         connectors: pd.DataFrame | None = None) -> np.ndarray:
    """Connector rating where known, else the device's highest rating, else NaN."""
    n = len(sessions)
    rated = np.full(n, np.nan)
    if connectors is not None and len(connectors):
        table = connectors.dropna(subset=["power_kw"]).drop_duplicates(
            ["device_id", "connector_id"], keep="last")
        key = pd.MultiIndex.from_arrays([table["device_id"].astype(str),
                                         table["connector_id"].astype(str)])
        wanted = pd.MultiIndex.from_arrays([sessions["device_id"].astype(str),
                                            sessions["connector_id"].astype(str)])
        pos = key.get_indexer(wanted)
        hit = pos >= 0
        rated[hit] = table["power_kw"].to_numpy("float64")[pos[hit]]
    if devices is not None and len(devices):
        table = devices.dropna(subset=["max_power_kw"]).drop_duplicates("device_id", keep="last")
        pos = pd.Index(table["device_id"].astype(str)).get_indexer(
            sessions["device_id"].astype(str))
        fill = np.isnan(rated) & (pos >= 0)
        rated[fill] = table["max_power_kw"].to_numpy("float64")[pos[fill]]
    return rated


def flag_sessions(sessions: pd.DataFrame, devices: pd.DataFrame | None = None,
                  connectors: pd.DataFrame | None = None) -> pd.DataFrame:
    """One boolean column per flag, aligned with ``sessions`` (plus ``session_key``)."""
    start = ns_utc(sessions["start_utc"])
    end = ns_utc(sessions["end_utc"])
    kwh = pd.to_numeric(sessions["kwh"], errors="coerce").to_numpy("float64")
    group = pd.factorize(pd.MultiIndex.from_arrays(
        [sessions["device_id"].astype(str), sessions["connector_id"].astype(str)]))[0] \
        if len(sessions) else np.zeros(0, dtype=np.int64)
    rated = rated_kw_per_session(sessions, devices, connectors)
    flags = flag_arrays(start, end, kwh, rated, group)
    out = pd.DataFrame(flags, index=sessions.index)
    out.insert(0, "session_key", sessions["session_key"].to_numpy(object))
    return out


def flag_counts(sessions: pd.DataFrame, flags: pd.DataFrame,
                by: str | list[str] = "device_id") -> pd.DataFrame:
    """Sessions and flag counts per value of ``by`` (e.g. device_id, source)."""
    frame = flags[list(FLAGS)].astype("int64")
    keys = [by] if isinstance(by, str) else list(by)
    for key in keys:
        frame[key] = sessions[key].to_numpy(object)
    frame["sessions"] = 1
    out = frame.groupby(keys, sort=True, dropna=False)[["sessions", *FLAGS]].sum()
    return out.reset_index()
