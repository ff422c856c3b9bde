"""The reconciled tables: one device per charge point with its provenance, its
connectors, every source record's link and the device map, assembled from the matches
:func:`~.reconcile.reconcile` made."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import NAT, ns_utc
from ..schema import TABLES, UTC, power_classes
from ..sources.parsers.ocpi import device_status
from .source_records import as_object, pair_keys, record_keys, unit_key

LINK_COLUMNS = ["source", "source_device_id", "evse_uid", "evse_id", "device_id", "method",
                "distance_m"]
PROVENANCE_COLUMNS = ["sources", "source_ids", "match_method", "evse_status",
                      "first_seen_utc", "last_seen_utc"]


def assemble(reg, loc, units, connectors, target, method, distance) -> dict:
    n_r, n_l = len(reg), len(loc)
    r_src, r_dev = as_object(reg["source"]), as_object(reg["device_id"])
    l_src, l_dev = as_object(loc["source"]), as_object(loc["device_id"])
    u_loc = units["loc_row"].to_numpy(np.int64)
    u_evse = units["evse_uid"].to_numpy(object)

    # ids: registry ids first (the registry "ncr" before other registries), then
    # Locations keeping at least one EVSE; taken ids become source-qualified.
    r_order = np.lexsort((r_src.astype(str), r_src != "ncr"))
    r_id = r_dev.copy()
    dup = pd.Series(r_dev[r_order], dtype=object).duplicated().to_numpy()
    r_id[r_order[dup]] = record_keys(r_src[r_order[dup]], r_dev[r_order[dup]])
    unmatched = target < 0
    keeps = np.zeros(n_l, dtype=bool)
    keeps[u_loc[unmatched]] = True
    l_id = l_dev.copy()
    taken = set(r_id.tolist())
    l_dup = pd.Series(l_dev, dtype=object).duplicated(keep=False).to_numpy()
    clash = keeps & (l_dup | pd.Series(l_dev, dtype=object).isin(taken).to_numpy())
    l_id[clash] = record_keys(l_src[clash], l_dev[clash])
    renamed = int(dup.sum() + clash.sum())
    all_ids = np.concatenate([r_id, l_id[keeps]])
    if pd.Series(all_ids, dtype=object).duplicated().any():  # pathological: make unique
        seen: dict = {}
        for i, value in enumerate(all_ids):
            seen[value] = seen.get(value, 0) + 1
            if seen[value] > 1:
                all_ids[i] = f"{value}~{seen[value]}"
        r_id, l_id[keeps] = all_ids[:n_r], all_ids[n_r:]

    u_target = l_id[u_loc].astype(object)
    u_target[~unmatched] = r_id[target[~unmatched]]
    u_method = np.where(unmatched, "identity", method).astype(object)

    # links and the device map
    links = pd.concat([
        pd.DataFrame({"source": r_src, "source_device_id": r_dev, "evse_uid": None,
                      "evse_id": None, "device_id": r_id, "method": "identity",
                      "distance_m": np.nan}),
        pd.DataFrame({"source": units["source"].to_numpy(object),
                      "source_device_id": units["device_id"].to_numpy(object),
                      "evse_uid": u_evse, "evse_id": units["evse_id"].to_numpy(object),
                      "device_id": u_target, "method": u_method,
                      "distance_m": np.round(distance, 1)})], ignore_index=True)
    links = links[LINK_COLUMNS]
    # a Location without a device of its own goes (named without an EVSE) to the device
    # most of its EVSEs went to
    votes = pd.DataFrame({"loc": u_loc, "t": u_target}).groupby(["loc", "t"], sort=False) \
        .size().rename("n").reset_index()
    votes = votes.sort_values("n", ascending=False, kind="stable").drop_duplicates("loc")
    most = pd.Series(votes["t"].to_numpy(object), index=votes["loc"].to_numpy(np.int64))
    l_map = np.where(keeps, l_id, most.reindex(np.arange(n_l)).to_numpy(object))
    device_map = pd.DataFrame({"source": np.concatenate([r_src, l_src]),
                               "source_device_id": np.concatenate([r_dev, l_dev]),
                               "device_id": np.concatenate([r_id, l_map]).astype(object)})

    # registry devices with what their feeds add
    out_reg = reg.copy()
    out_reg["device_id"] = r_id
    linked = np.flatnonzero(~unmatched)
    lt = target[linked]
    members = _members(reg, loc, lt, u_loc[linked])
    out_reg["sources"], out_reg["source_ids"] = _joined(
        r_src, record_keys(r_src, r_dev), lt, units["source"].to_numpy(object)[linked],
        record_keys(units["source"].to_numpy(object)[linked],
              units["device_id"].to_numpy(object)[linked], u_evse[linked]))
    best = {m: i for i, m in enumerate(("decision", "reference", "proximity"))}
    rank = np.array([best[m] for m in method[linked]], dtype=np.int64)
    top = np.full(n_r, len(best), dtype=np.int64)
    np.minimum.at(top, lt, rank)
    out_reg["match_method"] = np.array(list(best) + ["identity"], dtype=object)[top]
    statuses = _status_lists(n_r, lt, units["status"].to_numpy(object)[linked])
    has_feed = top < len(best)
    out_reg["evse_status"] = [";".join(sorted(set(s))) if s else None for s in statuses]
    feed_status = np.array([device_status(s) if s else None for s in statuses], dtype=object)
    out_reg["status"] = np.where(has_feed, feed_status, as_object(out_reg["status"]))
    out_reg["first_seen_utc"], out_reg["last_seen_utc"] = members

    # Locations keeping EVSEs: their own device, with the unmatched EVSEs only
    kept_rows = np.flatnonzero(keeps)
    out_loc = loc.iloc[kept_rows].copy()
    out_loc["device_id"] = l_id[kept_rows]
    n_evses = np.bincount(u_loc, minlength=n_l)
    n_open = np.bincount(u_loc[unmatched], minlength=n_l)
    partial = (n_open < n_evses)[kept_rows]
    statuses = _status_lists(n_l, u_loc[unmatched], units["status"].to_numpy(object)[unmatched])
    out_loc["sources"] = l_src[kept_rows]
    out_loc["source_ids"] = [";".join(unit_key(s, d, x) for x in e) if e
                             else unit_key(s, d) for s, d, e in zip(
                                 l_src[kept_rows], l_dev[kept_rows],
                                 _evse_lists(u_loc[unmatched], u_evse[unmatched], kept_rows))]
    out_loc["match_method"] = "identity"
    out_loc["evse_status"] = [";".join(sorted({x for x in statuses[i] if x})) or None
                              for i in kept_rows]
    own_status = np.array([device_status(statuses[i]) for i in kept_rows], dtype=object)
    out_loc["status"] = np.where(partial, own_status, as_object(out_loc["status"]))
    first, last = _seen(out_loc)
    out_loc["first_seen_utc"] = _utc_ns(first).set_axis(out_loc.index)
    out_loc["last_seen_utc"] = _utc_ns(last).set_axis(out_loc.index)

    # connectors: the registry's where it lists any, else the feed's
    conns, loc_counts, reg_counts = _connectors(connectors, reg, loc, r_id, l_id, units,
                                                target, unmatched)
    borrows = reg_counts["connector_count"] > 0
    if borrows.any():
        out_reg["connector_count"] = np.where(borrows, reg_counts["connector_count"],
                                              out_reg["connector_count"].to_numpy())
        kw = pd.to_numeric(out_reg["max_power_kw"], errors="coerce").to_numpy(float)
        kw = np.where(borrows & np.isnan(kw), reg_counts["max_power_kw"], kw)
        out_reg["max_power_kw"] = kw
        out_reg["power_class"] = np.where(np.isnan(kw), as_object(out_reg["power_class"]),
                                          power_classes(pd.Series(kw)).to_numpy(object))
    if len(kept_rows):
        for column, values in loc_counts.items():
            out_loc[column] = np.where(partial, values[kept_rows], out_loc[column].to_numpy())
        out_loc["power_class"] = np.where(partial, power_classes(
            pd.Series(loc_counts["max_power_kw"][kept_rows])).to_numpy(object),
            as_object(out_loc["power_class"]))
    devices = pd.concat([out_reg, out_loc], ignore_index=True)
    columns = list(TABLES["devices"]) + ["valid_from_utc", "valid_to_utc"] + PROVENANCE_COLUMNS
    for column in columns:
        if column not in devices:
            devices[column] = pd.NaT if column.endswith("_utc") else None
    for column in ("created_utc", "updated_utc", "first_seen_utc", "last_seen_utc"):
        if str(devices[column].dtype) != UTC:
            devices[column] = pd.to_datetime(devices[column], utc=True, errors="coerce")
    devices["valid_from_utc"] = devices["first_seen_utc"]
    devices["valid_to_utc"] = pd.to_datetime(pd.Series(pd.NaT, index=devices.index), utc=True)
    devices = devices[columns]
    devices["connector_count"] = pd.to_numeric(devices["connector_count"], errors="coerce") \
        .fillna(0).astype("int64")
    return {"devices": devices, "connectors": conns, "links": links, "device_map": device_map,
            "feed_only": len(kept_rows), "renamed": renamed}


def _status_lists(n: int, group: np.ndarray, status: np.ndarray) -> list:
    """The statuses of each group's EVSEs (an empty list for none)."""
    found: dict = {}
    for g, s in zip(group.tolist(), status.tolist()):
        found.setdefault(g, []).append(s if s is not None else "UNKNOWN")
    return [found.get(i, []) for i in range(n)]


def _evse_lists(group: np.ndarray, evse: np.ndarray, rows: np.ndarray) -> list:
    found: dict = {}
    for g, e in zip(group.tolist(), evse.tolist()):
        if e is not None:
            found.setdefault(g, []).append(e)
    return [found.get(i, []) for i in rows]


def _joined(own_source, own_key, group, source, key):
    """Per registry device: its source and record key, then those of the feed records
    joined to it (``group``: the device of each), ';'-joined."""
    sources = own_source.astype(object).copy()
    keys = own_key.astype(object).copy()
    extra_s: dict = {}
    extra_k: dict = {}
    for g, s, k in zip(group.tolist(), source.tolist(), key.tolist()):
        extra_k.setdefault(g, []).append(k)
        if s != own_source[g] and s not in extra_s.setdefault(g, []):
            extra_s[g].append(s)
    for g, more in extra_k.items():
        keys[g] = ";".join([keys[g]] + more)
        if extra_s.get(g):
            sources[g] = ";".join([sources[g]] + extra_s[g])
    return sources, keys


def _seen(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(first seen, last seen) of each row as int64 ns (NAT when unknown): when its
    source first listed it, and the latest of that and its own update time."""
    first = _ns(frame, "valid_from_utc")
    updated = _ns(frame, "updated_utc")
    first = np.where(first == NAT, updated, first)
    return first, np.maximum(first, updated)


def _ns(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame or not len(frame):
        return np.full(len(frame), NAT, dtype=np.int64)
    return np.array(ns_utc(frame[column]), dtype=np.int64)


def _utc_ns(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.DatetimeIndex(np.asarray(ns, np.int64).view("datetime64[ns]"))
                     .tz_localize("UTC"))


def _members(reg, loc, reg_rows, loc_rows):
    """First and last seen of each registry device over its own row and the feed
    Locations linked to it."""
    first, last = _seen(reg)
    l_first, l_last = _seen(loc)
    if len(reg_rows):
        big = np.iinfo(np.int64).max
        lf = l_first[loc_rows]
        np.minimum.at(first, reg_rows, np.where(lf == NAT, big, lf))
        first = np.where(first == big, NAT, first)
        np.maximum.at(last, reg_rows, l_last[loc_rows])
    return _utc_ns(first), _utc_ns(last)


def _connectors(connectors, reg, loc, r_id, l_id, units, target, unmatched):
    """Reconciled connectors, and the connector count and highest rating of each
    Location's unmatched EVSEs and of each registry device borrowing a feed's
    connectors (it lists none itself)."""
    n_l = len(loc)
    columns = list(TABLES["connectors"]) + ["source"]
    counts = {"connector_count": np.zeros(n_l, dtype=np.int64),
              "max_power_kw": np.full(n_l, np.nan)}
    reg_counts = {"connector_count": np.zeros(len(reg), dtype=np.int64),
                  "max_power_kw": np.full(len(reg), np.nan)}
    if not len(connectors):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns}), counts, reg_counts
    c_src = as_object(connectors["source"])
    c_dev = as_object(connectors["device_id"])
    c_evse = pd.Series(as_object(connectors["evse_uid"]), dtype=object).fillna("\x00")
    key = pair_keys(c_src, c_dev)
    reg_row = pair_keys(reg["source"], reg["device_id"]).get_indexer(key)
    loc_row = pair_keys(loc["source"], loc["device_id"]).get_indexer(key)
    unit_of = pair_keys(units["loc_row"].to_numpy(np.int64), units["evse_uid"])
    unit = np.full(len(connectors), -1, dtype=np.int64)
    in_loc = loc_row >= 0
    if in_loc.any():
        unit[in_loc] = unit_of.get_indexer(pair_keys(loc_row[in_loc],
                                                      c_evse.to_numpy(object)[in_loc]))
    reg_has = np.zeros(len(reg), dtype=bool)
    reg_has[reg_row[reg_row >= 0]] = True
    owner = np.full(len(connectors), None, dtype=object)
    owner[reg_row >= 0] = r_id[reg_row[reg_row >= 0]]
    feed = unit >= 0
    u_open = np.zeros(len(connectors), dtype=bool)
    u_open[feed] = unmatched[unit[feed]]
    stays = feed & u_open
    owner[stays] = l_id[loc_row[stays]]
    moves = feed & ~u_open
    t = np.full(len(connectors), -1, dtype=np.int64)
    t[moves] = target[unit[moves]]
    lends = moves.copy()
    lends[moves] = ~reg_has[t[moves]]
    owner[lends] = r_id[t[lends]]
    out = connectors[pd.notna(owner)].copy()
    out["device_id"] = owner[pd.notna(owner)]
    for column in columns:
        if column not in out:
            out[column] = None
    out = out[columns].reset_index(drop=True)
    kw = pd.to_numeric(connectors["power_kw"], errors="coerce").to_numpy(float)
    for mask, rows, n, into in ((stays, loc_row, n_l, counts), (lends, t, len(reg), reg_counts)):
        if mask.any():
            into["connector_count"] = np.bincount(rows[mask], minlength=n)
            best = np.full(n, -np.inf)
            np.maximum.at(best, rows[mask], np.nan_to_num(kw[mask], nan=-np.inf))
            into["max_power_kw"] = np.where(np.isfinite(best), best, np.nan)
    return out, counts, reg_counts
