"""Device reconciliation: one physical charge point is one device.

A borough's picture joins sources that describe the same chargers: the registry
(NCR, source ``ncr``), operators' live OCPI feeds (``ocpi:<feed>``) and usage
returns. :func:`reconcile` joins the current devices and connectors of every
source into one device per charge point; docs/reconciliation.md states the rules.

Registry devices (every source not starting with ``ocpi``) are the reference:
each stays one device under its own id. Feed records are matched per OCPI EVSE
(a Location may hold EVSEs that are several registry devices), in this order:

1. the officers' decisions (``same`` / ``different`` pairs kept in the store);
2. explicit cross-references: the number in the registry's ``reference``
   equals the number of the EVSE's eMI3 ``evse_id`` (without one: the EVSE's
   ``uid`` is the reference or its number), for the same operator or within
   :data:`REFERENCE_CHECK_M`;
3. proximity: the same operator (names normalised, :data:`OPERATOR_ALIASES`)
   within :data:`PROXIMITY_M`, unless both carry numbers that differ where the
   feed's numbering is known to follow the registry's.

An EVSE with more than one plausible partner is not merged: it goes to the
review table. A Location's unmatched EVSEs keep the Location as a device of its
own, under its id, or ``<source>:<id>`` where that id is taken by another device.
Pure pandas/numpy; every step is vectorised (no Python double loops).

Names and numbers are compared as :mod:`.source_records` normalises them; the tables
are assembled in :mod:`.reconciled_devices`; the result is a :class:`.Reconciliation`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..crs import wgs84_to_bng
from ..schema import TABLES
from .geometry import points_within_radius
from .reconciled_devices import PROVENANCE_COLUMNS, assemble
from .reconciliation import Reconciliation
from .source_records import (
    as_object,
    compact_text,
    evse_id_part,
    is_feed_source,
    normalise_operator,
    pair_keys,
    per_unique,
    record_keys,
    reference_number,
)

PROXIMITY_M = 25.0          # same operator this close: the same charge point
REFERENCE_CHECK_M = 200.0   # a reference match across operator names must be this close
MIN_UID_DIGITS = 6          # a numeric EVSE uid this long may be the registry's number
METHODS = ("reference", "proximity", "decision", "identity")

REVIEW_COLUMNS = ["feed_key", "feed_source", "feed_device_id", "evse_uid", "evse_id",
                  "feed_operator", "registry_key", "registry_source", "registry_device_id",
                  "registry_reference", "registry_operator", "distance_m", "reason"]


# --- matching -------------------------------------------------------------------------------

def reconcile(devices: pd.DataFrame, connectors: pd.DataFrame | None = None,
              decisions: pd.DataFrame | None = None,
              proximity_m: float = PROXIMITY_M) -> Reconciliation:
    """Reconcile the current ``devices`` and ``connectors`` of every source (canonical
    tables, as the store gives them) with the officers' ``decisions`` (the store's
    ``decisions()`` frame)."""
    devices = devices.reset_index(drop=True)
    connectors = (connectors if connectors is not None else
                  pd.DataFrame(columns=list(TABLES["connectors"]) + ["source"])
                  ).reset_index(drop=True)
    d_source = as_object(devices["source"]) if len(devices) else np.empty(0, object)
    feed_row = np.array([is_feed_source(s) for s in d_source], dtype=bool)
    reg = devices[~feed_row].reset_index(drop=True)
    loc = devices[feed_row].reset_index(drop=True)
    units = _feed_units(loc, connectors)
    n_r, n_f = len(reg), len(units)

    references = reg["reference"] if "reference" in reg else pd.Series([None] * n_r)
    r_num = per_unique(references, reference_number) if n_r else np.empty(0, object)
    f_num = per_unique(units["evse_id"], reference_number) if n_f else np.empty(0, object)
    r_op = per_unique(reg["operator"], normalise_operator) if n_r else np.empty(0, object)
    f_op = per_unique(units["operator"], normalise_operator) if n_f else np.empty(0, object)
    rx, ry = wgs84_to_bng(pd.to_numeric(reg["longitude"], errors="coerce").to_numpy(float),
                          pd.to_numeric(reg["latitude"], errors="coerce").to_numpy(float))
    fx, fy = wgs84_to_bng(units["longitude"].to_numpy(float), units["latitude"].to_numpy(float))
    rx, ry, fx, fy = (np.atleast_1d(np.asarray(a, float)) for a in (rx, ry, fx, fy))

    target = np.full(n_f, -1, dtype=np.int64)
    method = np.full(n_f, None, dtype=object)
    distance = np.full(n_f, np.nan)
    ambiguous = np.zeros(n_f, dtype=bool)
    review_parts: list[pd.DataFrame] = []

    # 1. decisions
    same_f, same_r, different, used, unused = _decisions(decisions, reg, units)
    target[same_f] = same_r
    method[same_f] = "decision"
    decided = np.zeros(n_f, dtype=bool)
    decided[same_f] = True
    distance[same_f] = np.hypot(fx[same_f] - rx[same_r], fy[same_f] - ry[same_r])

    def not_different(f, r):
        return ~np.isin(f * max(n_r, 1) + r, different) if len(different) else \
            np.ones(len(f), dtype=bool)

    # 2. cross-references: the evse_id's number, else the uid itself
    pf, pr = _cross_references(f_num, r_num, units["evse_uid"], references, decided,
                               units["evse_id"])
    pd_m = np.hypot(fx[pf] - rx[pr], fy[pf] - ry[pr])
    same_op = _same(f_op[pf], r_op[pr])
    keep = (same_op | (pd_m <= REFERENCE_CHECK_M)) & not_different(pf, pr)
    pf, pr, pd_m, same_op = pf[keep], pr[keep], pd_m[keep], same_op[keep]
    # where some candidates share the operator, the others are not plausible
    any_same = np.zeros(n_f, dtype=bool)
    any_same[pf[same_op]] = True
    keep = same_op | ~any_same[pf]
    pf, pr, pd_m = pf[keep], pr[keep], pd_m[keep]
    n_cand = np.bincount(pf, minlength=n_f)
    one = n_cand[pf] == 1
    target[pf[one]] = pr[one]
    method[pf[one]] = "reference"
    distance[pf[one]] = pd_m[one]
    many = ~one
    ambiguous[pf[many]] = True
    review_parts.append(_review_rows(units, reg, pf[many], pr[many], pd_m[many],
                                     "its reference number matches several registry devices"))

    # the feeds (per operator) whose numbering follows the registry's
    by_ref = np.flatnonzero(method == "reference")
    shared = set(zip(units["source"].to_numpy(object)[by_ref], f_op[by_ref]))

    # 3. proximity
    open_f = np.flatnonzero((target < 0) & ~ambiguous & ~decided & pd.notna(f_op))
    open_r = np.flatnonzero(pd.notna(r_op))
    circle, point = points_within_radius(rx[open_r], ry[open_r], fx[open_f], fy[open_f],
                                         float(proximity_m))
    pf, pr = open_f[circle], open_r[point]
    keep = _same(f_op[pf], r_op[pr]) & not_different(pf, pr)
    f_src = units["source"].to_numpy(object)
    numbered = np.array([(s, o) in shared for s, o in zip(f_src[pf], f_op[pf])], dtype=bool)
    contradicts = numbered & pd.notna(f_num[pf]) & pd.notna(r_num[pr]) & \
        (f_num[pf].astype(str) != r_num[pr].astype(str))
    keep &= ~contradicts
    pf, pr = pf[keep], pr[keep]
    pd_m = np.hypot(fx[pf] - rx[pr], fy[pf] - ry[pr])
    n_cand = np.bincount(pf, minlength=n_f)
    one = n_cand[pf] == 1
    target[pf[one]] = pr[one]
    method[pf[one]] = "proximity"
    distance[pf[one]] = pd_m[one]
    ambiguous[pf[~one]] = True
    review_parts.append(_review_rows(
        units, reg, pf[~one], pr[~one], pd_m[~one],
        f"several registry devices of the same operator within {proximity_m:g} m"))

    result = assemble(reg, loc, units, connectors, target, method, distance)
    # empty parts left out: pandas >= 2.1 warns that concat will stop ignoring their dtypes
    review_parts = [part for part in review_parts if len(part)]
    review = pd.concat(review_parts, ignore_index=True) if review_parts else \
        pd.DataFrame(columns=REVIEW_COLUMNS)
    review = review.sort_values(["feed_key", "distance_m", "registry_key"],
                                kind="stable").reset_index(drop=True)
    counts = {
        "records": int(n_r + len(loc)),
        "registry_devices": int(n_r),
        "feed_locations": int(len(loc)),
        "feed_evses": int(n_f),
        "reference": int((method == "reference").sum()),
        "proximity": int((method == "proximity").sum()),
        "decision": int((method == "decision").sum()),
        "ambiguous": int(ambiguous.sum()),
        "feed_only": int(result["feed_only"]),
        "renamed": int(result["renamed"]),
        "decisions_applied": int(used),
        "decisions_unused": int(unused),
    }
    return Reconciliation(result["devices"], result["connectors"], result["links"], review,
                          result["device_map"], counts)


def _cross_references(f_num, r_num, uids, references, decided, evse_ids=None):
    """Candidate (EVSE, registry device) pairs: equal numbers of evse_id and reference,
    or an evse_id whose id part is the reference itself, letters and digits compared
    (GB*POD*ET54IT13520071 and t54_it1_3520_071: an evse_id cannot hold '_');
    for an EVSE whose evse_id has no number, a uid that is the reference itself or its
    number (uids of at least :data:`MIN_UID_DIGITS` digits only: shorter ones are an
    operator's internal numbering)."""
    def frame(name, index, values):
        return pd.DataFrame({name: index, "key": values[index]})

    f_idx = np.flatnonzero(pd.notna(f_num) & ~decided)
    r_idx = np.flatnonzero(pd.notna(r_num))
    parts = [frame("f", f_idx, f_num).merge(frame("r", r_idx, r_num), on="key")]
    ref = per_unique(references, compact_text) if len(references) else np.empty(0, object)
    by_ref = frame("r", np.flatnonzero(pd.notna(ref)), ref)
    if evse_ids is not None and len(evse_ids):
        body = per_unique(evse_ids, evse_id_part)
        parts.append(frame("f", np.flatnonzero(pd.notna(body) & ~decided), body)
                     .merge(by_ref, on="key"))
    uid = per_unique(uids, compact_text) if len(uids) else np.empty(0, object)
    u_idx = np.flatnonzero(pd.isna(f_num) & pd.notna(uid) & ~decided)
    if len(u_idx):
        parts.append(frame("f", u_idx, uid).merge(by_ref, on="key"))
        digits = np.array([u is not None and u.isdigit() and len(u) >= MIN_UID_DIGITS
                           for u in uid[u_idx]], dtype=bool)
        as_number = np.array([u.lstrip("0") or "0" for u in uid[u_idx[digits]]],
                             dtype=object)
        parts.append(pd.DataFrame({"f": u_idx[digits], "key": as_number}).merge(
            frame("r", r_idx, r_num), on="key"))
    pairs = pd.concat(parts, ignore_index=True).drop_duplicates(["f", "r"])
    return pairs["f"].to_numpy(np.int64), pairs["r"].to_numpy(np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    known = pd.notna(a) & pd.notna(b)
    out = np.zeros(len(a), dtype=bool)
    out[known] = a[known].astype(str) == b[known].astype(str)
    return out


def _feed_units(loc: pd.DataFrame, connectors: pd.DataFrame) -> pd.DataFrame:
    """One row per OCPI EVSE of the current feed Locations (a Location without EVSEs
    is one unit itself, evse_uid None), with the Location's place and operator."""
    columns = ["source", "device_id", "evse_uid", "evse_id", "status", "operator",
               "latitude", "longitude", "loc_row"]
    if not len(loc):
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("latitude", "longitude")
                                          else object) for c in columns})
    loc_key = pair_keys(loc["source"], loc["device_id"])
    if len(connectors):
        c_key = pair_keys(connectors["source"], connectors["device_id"])
        row = loc_key.get_indexer(c_key)
        c = connectors[row >= 0]
        row = row[row >= 0]
        evse = as_object(c["evse_uid"])
        frame = pd.DataFrame({"loc_row": row, "evse_uid": evse,
                              "evse_id": as_object(c["evse_id"]) if "evse_id" in c
                              else np.full(len(c), None, object),
                              "status": as_object(c["status"])})
        # the connectors of one EVSE repeat its evse_id and status: keep the first row
        first = ~pair_keys(frame["loc_row"].to_numpy(np.int64), evse).duplicated()
        frame = frame[first].reset_index(drop=True)
    else:
        frame = pd.DataFrame({"loc_row": np.empty(0, np.int64), "evse_uid": [],
                              "evse_id": [], "status": []})
    bare = np.setdiff1d(np.arange(len(loc)), frame["loc_row"].to_numpy(np.int64))
    if len(bare):
        frame = pd.concat([frame, pd.DataFrame({
            "loc_row": bare, "evse_uid": None, "evse_id": None,
            "status": None})], ignore_index=True)
    frame = frame.sort_values(["loc_row"], kind="stable").reset_index(drop=True)
    r = frame["loc_row"].to_numpy(np.int64)
    for name in ("source", "device_id", "operator"):
        frame[name] = as_object(loc[name])[r]
    for name in ("latitude", "longitude"):
        frame[name] = pd.to_numeric(loc[name], errors="coerce").to_numpy(float)[r]
    frame["status"] = frame["status"].astype(object)
    return frame[columns]


def _decisions(decisions: pd.DataFrame | None, reg: pd.DataFrame, units: pd.DataFrame):
    """(feed units decided same, their registry rows, encoded "different" pairs,
    decisions applied, decisions naming records that are gone). The latest decision
    about a pair wins."""
    empty = np.empty(0, dtype=np.int64)
    if decisions is None or not len(decisions):
        return empty, empty, empty, 0, 0
    reg_index = {(s, d): i for i, (s, d) in enumerate(zip(as_object(reg["source"]),
                                                         as_object(reg["device_id"])))}
    unit_index: dict = {}
    loc_units: dict = {}
    for i, (s, d, e) in enumerate(zip(units["source"], units["device_id"], units["evse_uid"])):
        unit_index[(s, d, e)] = i
        loc_units.setdefault((s, d), []).append(i)
    latest: dict = {}
    unused = 0
    ordered = decisions.sort_values("id", kind="stable") if "id" in decisions else decisions
    for row in ordered.itertuples(index=False):
        a = (row.a_source, row.a_device_id, _text(row.a_evse_uid))
        b = (row.b_source, row.b_device_id, _text(row.b_evse_uid))
        if is_feed_source(a[0]) and not is_feed_source(b[0]):
            a, b = b, a
        r = reg_index.get(a[:2]) if not is_feed_source(a[0]) else None
        if b[2] is not None:
            fs = [unit_index[b]] if b in unit_index else []
        else:
            fs = loc_units.get(b[:2], [])
        if r is None or not fs or not is_feed_source(b[0]):
            unused += 1
            continue
        for f in fs:
            latest[(f, r)] = row.verdict
    same = {}
    for (f, r), verdict in latest.items():
        if verdict == "same":
            same[f] = r  # dicts keep insertion order: the latest "same" for a unit wins
    n_r = max(len(reg), 1)
    different = np.array([f * n_r + r for (f, r), v in latest.items() if v == "different"],
                         dtype=np.int64)
    same_f = np.fromiter(same.keys(), dtype=np.int64, count=len(same))
    same_r = np.fromiter(same.values(), dtype=np.int64, count=len(same))
    return same_f, same_r, different, len(ordered) - unused, unused


def _text(value) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) \
        or value == "" else str(value)


def _review_rows(units, reg, f, r, dist, reason) -> pd.DataFrame:
    if not len(f):
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    u_src = units["source"].to_numpy(object)[f]
    u_dev = units["device_id"].to_numpy(object)[f]
    u_evse = units["evse_uid"].to_numpy(object)[f]
    r_src = as_object(reg["source"])[r]
    r_dev = as_object(reg["device_id"])[r]
    return pd.DataFrame({
        "feed_key": record_keys(u_src, u_dev, u_evse),
        "feed_source": u_src, "feed_device_id": u_dev, "evse_uid": u_evse,
        "evse_id": units["evse_id"].to_numpy(object)[f],
        "feed_operator": units["operator"].to_numpy(object)[f],
        "registry_key": record_keys(r_src, r_dev),
        "registry_source": r_src, "registry_device_id": r_dev,
        "registry_reference": (as_object(reg["reference"])[r] if "reference" in reg
                               else np.full(len(r), None, object)),
        "registry_operator": as_object(reg["operator"])[r],
        "distance_m": np.round(dist, 1),
        "reason": reason,
    })


# --- history for the utilisation engine ------------------------------------------------------

def history(rec: Reconciliation, devices_all: pd.DataFrame,
            connectors_all: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Device and connector history keyed by reconciled ids, for the utilisation
    engine: the reconciled current rows, plus closed rows of the past under the
    device their record now belongs to (rows of Locations absorbed into registry
    devices are left out: the registry device speaks for them)."""
    absorbed = rec.absorbed()
    gone = pair_keys(absorbed["source"], absorbed["device_id"]) if len(absorbed) else None
    parts_d = [rec.devices.drop(columns=PROVENANCE_COLUMNS)]
    parts_c = [rec.connectors]
    for frame, parts in ((devices_all, parts_d), (connectors_all, parts_c)):
        if frame is None or not len(frame) or "valid_to_utc" not in frame:
            continue
        closed = frame[frame["valid_to_utc"].notna()]
        if gone is not None and len(closed):
            closed = closed[~pair_keys(closed["source"], closed["device_id"]).isin(gone)]
        if len(closed):
            closed = closed.copy()
            closed["device_id"] = rec.attach(closed["source"], closed["device_id"])
            parts.append(closed)
    devices = pd.concat(parts_d, ignore_index=True) if len(parts_d) > 1 else parts_d[0]
    connectors = pd.concat(parts_c, ignore_index=True) if len(parts_c) > 1 else parts_c[0]
    return devices, connectors
