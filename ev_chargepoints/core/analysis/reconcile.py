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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..crs import wgs84_to_bng
from ..schema import TABLES, UTC, power_classes
from ..sources.parsers.ocpi import _device_status
from .geometry import points_within_radius
from .quality import NAT, ns_utc

PROXIMITY_M = 25.0          # same operator this close: the same charge point
REFERENCE_CHECK_M = 200.0   # a reference match across operator names must be this close
MIN_REFERENCE_DIGITS = 4    # shorter numbers ("Unit 7") are no cross-reference
MIN_UID_DIGITS = 6          # a numeric EVSE uid this long may be the registry's number
FEED_PREFIX = "ocpi"
METHODS = ("reference", "proximity", "decision", "identity")

# Normalised operator name (lower case, letters and digits only, company suffixes
# dropped) -> the name it stands for. OCPI feeds without an operator name give
# their party id (e.g. SRC), hence the three-letter entries.
OPERATOR_ALIASES = {
    "src": "sourcelondon",
    "bpchargemaster": "bppulse",
    "chargemaster": "bppulse",
    "polar": "bppulse",
    "ubi": "ubitricity",
    "shellrechargesolutions": "shellrecharge",
}
_COMPANY_SUFFIXES = {"ltd", "limited", "plc", "llp", "inc", "uk", "gb", "group", "co",
                     "company", "bv", "gmbh"}
_NO_OPERATOR = {"", "nocontroller", "unknown", "unknownoperator", "none", "null", "na"}

_EMI3 = re.compile(r"^[A-Z]{2}[*\-_]?[A-Z0-9]{3}[*\-_]?E([A-Z0-9][A-Z0-9*\-_]*)$")
_DIGITS = re.compile(r"\d+")

LINK_COLUMNS = ["source", "source_device_id", "evse_uid", "evse_id", "device_id", "method",
                "distance_m"]
REVIEW_COLUMNS = ["feed_key", "feed_source", "feed_device_id", "evse_uid", "evse_id",
                  "feed_operator", "registry_key", "registry_source", "registry_device_id",
                  "registry_reference", "registry_operator", "distance_m", "reason"]
PROVENANCE_COLUMNS = ["sources", "source_ids", "match_method", "evse_status",
                      "first_seen_utc", "last_seen_utc"]


# --- normalising ------------------------------------------------------------------------

def normalise_operator(name) -> str | None:
    """A comparable operator name: case, punctuation and company suffixes (Ltd,
    Limited, ...) ignored, known aliases resolved; None when unknown."""
    if name is None or not isinstance(name, str):
        return None
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    key = "".join(words)
    if key in _NO_OPERATOR:
        return None
    return OPERATOR_ALIASES.get(key, key)


def reference_number(text) -> str | None:
    """The number a registry reference or an EVSE id carries, without leading zeros.

    The longest run of digits: of the id part of an eMI3 EVSE id (country, party,
    'E', id, optional suffix; separators '*', '-' or none), so GB*UBI*E1100001777*1
    -> 1100001777 and GB-SRC-ESL300050 -> 300050, else of the whole text
    (suby1100001777 -> 1100001777, CM43172 -> 43172). Runs shorter than
    :data:`MIN_REFERENCE_DIGITS` give None.
    """
    if text is None or not isinstance(text, str):
        return None
    compact = text.strip().upper().replace(" ", "")
    match = _EMI3.match(compact)
    if match:
        compact = match.group(1)
    runs = _DIGITS.findall(compact)
    if not runs:
        return None
    longest = max(runs, key=len)
    if len(longest) < MIN_REFERENCE_DIGITS:
        return None
    return longest.lstrip("0") or "0"


def _per_unique(values, func) -> np.ndarray:
    """``func`` applied once per distinct value (object array out)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return mapped[codes]  # code -1 (missing) -> the trailing None


def is_feed_source(source) -> bool:
    return isinstance(source, str) and source.startswith(FEED_PREFIX)


def unit_key(source, device_id, evse_uid=None) -> str:
    """How people name one source record: ``source:device_id`` (``#evse_uid`` for an
    EVSE of a feed Location)."""
    key = f"{source}:{device_id}"
    return f"{key}#{evse_uid}" if evse_uid not in (None, "") else key


def _keys(sources, ids, evses=None) -> np.ndarray:
    """:func:`unit_key` of each row, vectorised."""
    out = pd.Series(sources, dtype=object).astype(str) + ":" + \
        pd.Series(ids, dtype=object).astype(str)
    if evses is not None:
        evse = pd.Series(evses, dtype=object)
        has = (evse.notna() & (evse != "")).to_numpy()
        out = out.where(~has, out + "#" + evse.where(has, "").astype(str))
    return out.to_numpy(object)


def _pair_keys(a, b) -> pd.Index:
    """One hashable text per (a, b) pair: far faster to build and look up than a
    MultiIndex."""
    return pd.Index((pd.Series(_as_object(a), dtype=object).astype(str) + "\x1f"
                     + pd.Series(_as_object(b), dtype=object).fillna("\x00").astype(str))
                    .to_numpy(object))


# --- the result ---------------------------------------------------------------------------

@dataclass
class Reconciliation:
    """What :func:`reconcile` found.

    ``devices``: one row per charge point: the canonical device columns (``source``
    is the leading source), ``valid_from_utc``/``valid_to_utc`` and provenance
    (:data:`PROVENANCE_COLUMNS`). ``connectors``: their connectors (the registry's
    where it lists any, else the feed's). ``links``: every source record (registry
    device, OCPI EVSE, or EVSE-less Location) and the device it went to, with the
    method. ``review``: ambiguous candidates, one row per (EVSE, registry device)
    pair, for an officer to decide. ``device_map``: (source, source_device_id) ->
    device_id for records named without an EVSE.
    """

    devices: pd.DataFrame
    connectors: pd.DataFrame
    links: pd.DataFrame
    review: pd.DataFrame
    device_map: pd.DataFrame
    counts: dict = field(default_factory=dict)
    _lookup: dict = field(default_factory=dict, repr=False)
    _aliases: dict = field(default_factory=dict, repr=False)

    @property
    def is_identity(self) -> bool:
        """True when every device is one source record under its own id."""
        return not any(self.counts.get(k, 0) for k in ("reference", "proximity", "decision",
                                                        "renamed"))

    def describe(self) -> str:
        """One line for people."""
        c = self.counts
        text = (f"Reconciliation: {c.get('records', 0):,} source records gave "
                f"{len(self.devices):,} devices; matched {c.get('reference', 0):,} by "
                f"reference, {c.get('proximity', 0):,} by proximity, "
                f"{c.get('decision', 0):,} by decision; {c.get('ambiguous', 0):,} ambiguous "
                f"(for review); {c.get('feed_only', 0):,} feed-only devices")
        if c.get("renamed"):
            text += f" ({c['renamed']:,} with a source-qualified id)"
        return text + "."

    def absorbed(self) -> pd.DataFrame:
        """(source, device_id) of source devices that are no device of their own (every
        one of their EVSEs went to another device)."""
        own = self.links[self.links["method"] == "identity"]
        records = self.device_map[["source", "source_device_id"]]
        kept = _pair_keys(own["source"], own["source_device_id"])
        gone = ~_pair_keys(records["source"], records["source_device_id"]).isin(kept)
        return records[gone].rename(columns={"source_device_id": "device_id"}) \
            .reset_index(drop=True)

    # attaching usage and status ----------------------------------------------------

    def attach(self, source, device_id, evse_uid=None) -> np.ndarray:
        """The reconciled device id of each row of usage or status data.

        In order: the exact (source, device, EVSE) record; the exact (source,
        device); for OCPI sources, an OCPI record with that device (and EVSE) id
        in any feed; an id that is a reconciled device's own (usage returns and
        sessions naming registry ids attach directly); a source device id found
        in one source only. Anything else keeps its id.
        """
        ids = _as_object(device_id)
        n = len(ids)
        sources = _as_object(source) if source is not None else np.full(n, None, object)
        evses = _as_object(evse_uid) if evse_uid is not None else np.full(n, None, object)
        if not self._lookup:
            self._build_lookup()
        touched = self._lookup["touched"]
        if n == 0 or not touched:
            return ids.copy()
        rows = np.flatnonzero(pd.Series(ids, dtype=object).isin(touched).to_numpy())
        out = ids.copy()
        if len(rows) == 0:
            return out
        combos = pd.DataFrame({"s": sources[rows], "d": ids[rows], "e": evses[rows]})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(combos.fillna("\x00")))
        resolved = np.array([self._resolve_one(s, d, e) for s, d, e in uniques], dtype=object)
        out[rows] = resolved[codes]
        return out

    def attach_frame(self, frame: pd.DataFrame, evse_column: str | None = None) -> pd.Series:
        """:meth:`attach` for a sessions or status frame. Sessions name their EVSE in
        OCPI connector ids (``<evse_uid>/<connector id>``); status rows in evse_uid."""
        if evse_column == "connector_id" and "connector_id" in frame:
            connector = pd.Series(_as_object(frame["connector_id"]), dtype=object)
            ocpi = pd.Series(_as_object(frame["source"]), dtype=object).str.startswith(
                FEED_PREFIX, na=False)
            evse = connector.where(ocpi & connector.notna(), None)
            evse = evse.str.rsplit("/", n=1).str[0].where(evse.notna(), None)
        elif evse_column:
            evse = frame[evse_column]
        else:
            evse = None
        return pd.Series(self.attach(frame["source"], frame["device_id"], evse),
                         index=frame.index, dtype=object)

    def attach_sessions(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """``sessions`` with each device_id replaced by its reconciled device (a
        categorical device_id stays categorical); rows no record concerns are untouched."""
        if not self._lookup:
            self._build_lookup()
        ids = sessions["device_id"]
        mask = ids.isin(self._lookup["touched"]).to_numpy()
        if not mask.any():
            return sessions
        new = self.attach_frame(sessions[mask], "connector_id")
        out = sessions.copy()
        if isinstance(ids.dtype, pd.CategoricalDtype):
            fresh = pd.Index(pd.unique(new.to_numpy(object))).difference(ids.cat.categories)
            column = ids.cat.add_categories(list(fresh)) if len(fresh) else ids.copy()
        else:
            column = ids.astype(object).copy()
        column[mask] = new.to_numpy(object)
        out["device_id"] = column
        return out

    def _build_lookup(self) -> None:
        links, dmap = self.links, self.device_map
        unit = {(s, d, e): t for s, d, e, t in zip(links["source"], links["source_device_id"],
                                                  links["evse_uid"], links["device_id"])
                if e is not None}
        device = dict(zip(zip(dmap["source"], dmap["source_device_id"]), dmap["device_id"]))
        feed_unit: dict = {}
        for (s, d, e), t in unit.items():
            if is_feed_source(s):
                feed_unit.setdefault((d, e), set()).add(t)
        feed_device: dict = {}
        any_device: dict = {}
        for (s, d), t in device.items():
            any_device.setdefault(d, set()).add(t)
            if is_feed_source(s):
                feed_device.setdefault(d, set()).add(t)
        own = set(self.devices["device_id"])
        changed = {d for (s, d), t in device.items() if t != d} | \
            {d for (s, d, e), t in unit.items() if t != d} | \
            {d for d, targets in any_device.items() if len(targets) > 1}
        self._lookup = {"unit": unit, "device": device, "feed_unit": feed_unit,
                        "feed_device": feed_device, "any_device": any_device, "own": own,
                        "touched": changed}

    def _resolve_one(self, source, device_id, evse):
        look = self._lookup
        source = None if source == "\x00" else source
        evse = None if evse == "\x00" else evse
        if evse is not None and (source, device_id, evse) in look["unit"]:
            return look["unit"][(source, device_id, evse)]
        if (source, device_id) in look["device"]:
            return look["device"][(source, device_id)]
        if is_feed_source(source):
            found = look["feed_unit"].get((device_id, evse)) if evse is not None else None
            if found is None or len(found) != 1:
                found = look["feed_device"].get(device_id)
            if found is not None and len(found) == 1:
                return next(iter(found))
        if device_id in look["own"]:
            return device_id
        found = look["any_device"].get(device_id)
        if found is not None and len(found) == 1:
            return next(iter(found))
        return device_id

    # naming records (for decisions) ---------------------------------------------------

    def resolve(self, text: str) -> tuple[str, tuple]:
        """("registry" | "feed", (source, device_id, evse_uid or None)) for what a person
        typed: a record key as in the review table (``ncr:ID``, ``ocpi:feed:LOC#EVSE``
        or a whole Location ``ocpi:feed:LOC``), or a registry device id or reference,
        or an OCPI evse_id or EVSE uid that names one record. ValueError otherwise."""
        if not self._aliases:
            self._build_aliases()
        text = (text or "").strip()
        exact, alias = self._aliases["exact"], self._aliases["alias"]
        if text in exact:
            return exact[text]
        found = alias.get(text)
        if found is not None and len(found) == 1:
            return next(iter(found))
        if found:
            raise ValueError(f"'{text}' names {len(found)} records; use a record key from "
                             "the review table (e.g. ncr:<device id>)")
        raise ValueError(f"no current record is called '{text}'; use a record key from the "
                         "review table (e.g. ncr:<device id> or ocpi:<feed>:<location>#<evse>)")

    def _build_aliases(self) -> None:
        exact: dict = {}
        alias: dict = {}
        links = self.links
        for s, d, e, eid in zip(links["source"], links["source_device_id"],
                                links["evse_uid"], links["evse_id"]):
            kind = "feed" if is_feed_source(s) else "registry"
            record = (kind, (s, d, e))
            exact[unit_key(s, d, e)] = record
            if kind == "feed":
                exact.setdefault(unit_key(s, d), ("feed", (s, d, None)))
                for name in (eid, e):
                    if name:
                        alias.setdefault(name, set()).add(record)
            else:
                alias.setdefault(d, set()).add(record)
        registry = self.devices
        if "reference" in registry:
            for s, d, ref in zip(registry["source"], registry["device_id"],
                                 registry["reference"]):
                if ref and not is_feed_source(s):
                    alias.setdefault(ref, set()).add(
                        exact.get(unit_key(s, d), ("registry", (s, d, None))))
        self._aliases = {"exact": exact, "alias": alias}


def _as_object(values) -> np.ndarray:
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        cats = np.asarray(values.cat.categories, dtype=object)
        codes = values.cat.codes.to_numpy()
        out = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else None, None)
        return out.astype(object)
    arr = np.asarray(values, dtype=object)
    out = arr.copy()
    out[pd.isna(arr)] = None
    return out


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
    d_source = _as_object(devices["source"]) if len(devices) else np.empty(0, object)
    feed_row = np.array([is_feed_source(s) for s in d_source], dtype=bool)
    reg = devices[~feed_row].reset_index(drop=True)
    loc = devices[feed_row].reset_index(drop=True)
    units = _feed_units(loc, connectors)
    n_r, n_f = len(reg), len(units)

    references = reg["reference"] if "reference" in reg else pd.Series([None] * n_r)
    r_num = _per_unique(references, reference_number) if n_r else np.empty(0, object)
    f_num = _per_unique(units["evse_id"], reference_number) if n_f else np.empty(0, object)
    r_op = _per_unique(reg["operator"], normalise_operator) if n_r else np.empty(0, object)
    f_op = _per_unique(units["operator"], normalise_operator) if n_f else np.empty(0, object)
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

    result = _assemble(reg, loc, units, connectors, target, method, distance)
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
    ref = _per_unique(references, _compact) if len(references) else np.empty(0, object)
    by_ref = frame("r", np.flatnonzero(pd.notna(ref)), ref)
    if evse_ids is not None and len(evse_ids):
        body = _per_unique(evse_ids, _evse_id_part)
        parts.append(frame("f", np.flatnonzero(pd.notna(body) & ~decided), body)
                     .merge(by_ref, on="key"))
    uid = _per_unique(uids, _compact) if len(uids) else np.empty(0, object)
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


def _evse_id_part(text) -> str | None:
    """The id part of an eMI3 EVSE id, letters and digits only (None if not eMI3)."""
    compact = _compact(text)
    match = _EMI3.match(compact) if compact else None
    return match.group(1) if match else None


def _compact(text) -> str | None:
    if not isinstance(text, str):
        return None
    out = re.sub(r"[^A-Z0-9]", "", text.upper())
    return out or None


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
    loc_key = _pair_keys(loc["source"], loc["device_id"])
    if len(connectors):
        c_key = _pair_keys(connectors["source"], connectors["device_id"])
        row = loc_key.get_indexer(c_key)
        c = connectors[row >= 0]
        row = row[row >= 0]
        evse = _as_object(c["evse_uid"])
        frame = pd.DataFrame({"loc_row": row, "evse_uid": evse,
                              "evse_id": _as_object(c["evse_id"]) if "evse_id" in c
                              else np.full(len(c), None, object),
                              "status": _as_object(c["status"])})
        # the connectors of one EVSE repeat its evse_id and status: keep the first row
        first = ~_pair_keys(frame["loc_row"].to_numpy(np.int64), evse).duplicated()
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
        frame[name] = _as_object(loc[name])[r]
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
    reg_index = {(s, d): i for i, (s, d) in enumerate(zip(_as_object(reg["source"]),
                                                         _as_object(reg["device_id"])))}
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
    r_src = _as_object(reg["source"])[r]
    r_dev = _as_object(reg["device_id"])[r]
    return pd.DataFrame({
        "feed_key": _keys(u_src, u_dev, u_evse),
        "feed_source": u_src, "feed_device_id": u_dev, "evse_uid": u_evse,
        "evse_id": units["evse_id"].to_numpy(object)[f],
        "feed_operator": units["operator"].to_numpy(object)[f],
        "registry_key": _keys(r_src, r_dev),
        "registry_source": r_src, "registry_device_id": r_dev,
        "registry_reference": (_as_object(reg["reference"])[r] if "reference" in reg
                               else np.full(len(r), None, object)),
        "registry_operator": _as_object(reg["operator"])[r],
        "distance_m": np.round(dist, 1),
        "reason": reason,
    })


# --- assembling the devices ----------------------------------------------------------------

def _assemble(reg, loc, units, connectors, target, method, distance) -> dict:
    n_r, n_l = len(reg), len(loc)
    r_src, r_dev = _as_object(reg["source"]), _as_object(reg["device_id"])
    l_src, l_dev = _as_object(loc["source"]), _as_object(loc["device_id"])
    u_loc = units["loc_row"].to_numpy(np.int64)
    u_evse = units["evse_uid"].to_numpy(object)

    # ids: registry ids first (the registry "ncr" before other registries), then
    # Locations keeping at least one EVSE; taken ids become source-qualified.
    r_order = np.lexsort((r_src.astype(str), r_src != "ncr"))
    r_id = r_dev.copy()
    dup = pd.Series(r_dev[r_order], dtype=object).duplicated().to_numpy()
    r_id[r_order[dup]] = _keys(r_src[r_order[dup]], r_dev[r_order[dup]])
    unmatched = target < 0
    keeps = np.zeros(n_l, dtype=bool)
    keeps[u_loc[unmatched]] = True
    l_id = l_dev.copy()
    taken = set(r_id.tolist())
    l_dup = pd.Series(l_dev, dtype=object).duplicated(keep=False).to_numpy()
    clash = keeps & (l_dup | pd.Series(l_dev, dtype=object).isin(taken).to_numpy())
    l_id[clash] = _keys(l_src[clash], l_dev[clash])
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
        r_src, _keys(r_src, r_dev), lt, units["source"].to_numpy(object)[linked],
        _keys(units["source"].to_numpy(object)[linked],
              units["device_id"].to_numpy(object)[linked], u_evse[linked]))
    best = {m: i for i, m in enumerate(("decision", "reference", "proximity"))}
    rank = np.array([best[m] for m in method[linked]], dtype=np.int64)
    top = np.full(n_r, len(best), dtype=np.int64)
    np.minimum.at(top, lt, rank)
    out_reg["match_method"] = np.array(list(best) + ["identity"], dtype=object)[top]
    statuses = _status_lists(n_r, lt, units["status"].to_numpy(object)[linked])
    has_feed = top < len(best)
    out_reg["evse_status"] = [";".join(sorted(set(s))) if s else None for s in statuses]
    feed_status = np.array([_device_status(s) if s else None for s in statuses], dtype=object)
    out_reg["status"] = np.where(has_feed, feed_status, _as_object(out_reg["status"]))
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
    own_status = np.array([_device_status(statuses[i]) for i in kept_rows], dtype=object)
    out_loc["status"] = np.where(partial, own_status, _as_object(out_loc["status"]))
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
        out_reg["power_class"] = np.where(np.isnan(kw), _as_object(out_reg["power_class"]),
                                          power_classes(pd.Series(kw)).to_numpy(object))
    if len(kept_rows):
        for column, values in loc_counts.items():
            out_loc[column] = np.where(partial, values[kept_rows], out_loc[column].to_numpy())
        out_loc["power_class"] = np.where(partial, power_classes(
            pd.Series(loc_counts["max_power_kw"][kept_rows])).to_numpy(object),
            _as_object(out_loc["power_class"]))
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
    c_src = _as_object(connectors["source"])
    c_dev = _as_object(connectors["device_id"])
    c_evse = pd.Series(_as_object(connectors["evse_uid"]), dtype=object).fillna("\x00")
    key = _pair_keys(c_src, c_dev)
    reg_row = _pair_keys(reg["source"], reg["device_id"]).get_indexer(key)
    loc_row = _pair_keys(loc["source"], loc["device_id"]).get_indexer(key)
    unit_of = _pair_keys(units["loc_row"].to_numpy(np.int64), units["evse_uid"])
    unit = np.full(len(connectors), -1, dtype=np.int64)
    in_loc = loc_row >= 0
    if in_loc.any():
        unit[in_loc] = unit_of.get_indexer(_pair_keys(loc_row[in_loc],
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


# --- history for the utilisation engine ------------------------------------------------------

def history(rec: Reconciliation, devices_all: pd.DataFrame,
            connectors_all: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Device and connector history keyed by reconciled ids, for the utilisation
    engine: the reconciled current rows, plus closed rows of the past under the
    device their record now belongs to (rows of Locations absorbed into registry
    devices are left out: the registry device speaks for them)."""
    absorbed = rec.absorbed()
    gone = _pair_keys(absorbed["source"], absorbed["device_id"]) if len(absorbed) else None
    parts_d = [rec.devices.drop(columns=PROVENANCE_COLUMNS)]
    parts_c = [rec.connectors]
    for frame, parts in ((devices_all, parts_d), (connectors_all, parts_c)):
        if frame is None or not len(frame) or "valid_to_utc" not in frame:
            continue
        closed = frame[frame["valid_to_utc"].notna()]
        if gone is not None and len(closed):
            closed = closed[~_pair_keys(closed["source"], closed["device_id"]).isin(gone)]
        if len(closed):
            closed = closed.copy()
            closed["device_id"] = rec.attach(closed["source"], closed["device_id"])
            parts.append(closed)
    devices = pd.concat(parts_d, ignore_index=True) if len(parts_d) > 1 else parts_d[0]
    connectors = pd.concat(parts_c, ignore_index=True) if len(parts_c) > 1 else parts_c[0]
    return devices, connectors
