"""Utilisation from the SQL month sums (:mod:`.usage_sql`), optionally kept current
month by month in a cache folder (:class:`MonthCache`).

:func:`reported_utilisation` returns exactly the frame of
:func:`.utilisation.reported_utilisation` on the same sessions (reconciled the same
way): months are summed to the requested periods and handed to the numpy engine's own
assembly (:func:`.utilisation.assemble`).

The cache (per level, device or connector) holds Parquet files of the month sums, the
session counts per (device, source, month) and the distinct (source, device,
connector) of the sessions with their time spans, plus a state record (JSON, written
last, by atomic rename, naming the generation of files it goes with, so a reader or a
second writer never mixes generations): the session parts included, t0 of the overlap
check and a stamp of what the month sums depend on besides the sessions (the
reconciliation of the session ids and the connectors' ratings). When only new parts
arrived, the months from the earliest one they touch are recomputed (the sessions that
end in them are read too, from only the parts whose Parquet statistics reach those
months) and written as one more segment, the earlier months' files kept as they are
(:class:`MonthCache`); a changed stamp, a part gone, or
a t0 moved by a fraction of a second means a full recompute. Either way the figures
equal a full recompute. The months are summed to periods by :mod:`.usage_period_sums`,
which keeps the last such sums in memory so that the next utilisation in the process sums
again only the periods from the first recomputed month.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ..calendar import NAT, STEP_MONTHS, ns_utc, period_grid
from ..files import written_whole
from ..progress import SILENT, Progress
from . import usage_period_sums as held_in_memory
from . import usage_sql as q
from .uptime import DEFAULT_MAX_GAP_HOURS
from .usage_coverage import coverage_pairs, covered_grid, device_operators
from .usage_period_sums import closed_ends, period_counts, period_grids
from .utilisation import assemble, data_window, device_facts, empty_result, sort_rank

TRIPLE_KEYS = ["source", "device_id", "connector_id"]
# The code a kept Prepared comes from (relative to core/; a change prepares again).
PREPARED_CODE = ("analysis/usage_sql_engine.py", "analysis/utilisation.py")
STATE_VERSION = 3
_SPAN = {"first_start": "min", "last_start": "max", "last_closed": "max",
         "first_valid": "min"}


def _quote(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _parquet(paths) -> str:
    return "read_parquet([" + ", ".join(_quote(Path(p).as_posix()) for p in paths) + "])"


def stamp_of(mapping: pd.DataFrame, rated: pd.DataFrame) -> str:
    """The stamp of :class:`Prepared`: a digest of the mapping and the ratings (row
    hashes, in any order)."""
    digest = hashlib.sha256()
    for frame in (mapping, rated):
        rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update(rows.tobytes() + b"\x00")
    return digest.hexdigest()


class Prepared:
    """What the month sums need besides the sessions, from the distinct (source, device,
    connector) of the sessions: the reconciled device of each, the groups, the pairs'
    ratings, and a stamp of the two."""

    def __init__(self, triples: pd.DataFrame, attach, devices, connectors):
        self.triples = triples
        keys = triples[TRIPLE_KEYS].reset_index(drop=True)
        rdev = np.asarray(attach(keys), dtype=object) if len(keys) else np.empty(0, object)
        changed = rdev != keys["device_id"].to_numpy(object)
        self.mapping = keys[changed].assign(rdev=rdev[changed]).reset_index(drop=True)
        pairs = pd.DataFrame({"dev": rdev, "con": keys["connector_id"].to_numpy(object)}) \
            .drop_duplicates(ignore_index=True)
        used = pd.unique(pairs["dev"].to_numpy(object))
        dev_ids = np.asarray(used, dtype=object)
        if devices is not None and len(devices):
            extra = pd.Index(pd.unique(devices["device_id"].to_numpy(object)))
            extra = extra[pd.Index(dev_ids).get_indexer(extra) < 0]
            dev_ids = np.concatenate([dev_ids, np.asarray(extra, dtype=object)])
        # in output order: the assembly then takes each device's cells in memory order
        self.dev_ids = dev_ids[np.argsort(sort_rank(dev_ids), kind="stable")]
        self.pair_device = pd.Index(self.dev_ids).get_indexer(pairs["dev"].to_numpy(object)) \
            .astype(np.int64)
        self.pair_connector = pairs["con"].to_numpy(object)
        self.facts = device_facts(devices, connectors, self.dev_ids, self.pair_device,
                                  self.pair_connector)
        kw = self.facts["pair_rated"]
        positive = kw > 0
        self.rated = pd.DataFrame({"dev": pairs["dev"].to_numpy(object)[positive],
                                   "con": pd.Series(self.pair_connector[positive],
                                                    dtype=object),
                                   "rated": kw[positive].astype(np.float64)})
        self.stamp = stamp_of(self.mapping, self.rated)
        self._made = {}  # what is made once from the keys and devices (see key_tables)

    FACTS = ("connectors", "max_kw", "active_from", "active_to")  # of facts["info"]
    kept = False  # made from the frames a MonthCache kept (:meth:`reused`)
    _spans = None  # what :meth:`span` found
    # a temp table holding the triples when ``triples`` are only their keys (:meth:`spanned`)
    triples_table = None

    def saved(self) -> dict:
        """What :meth:`reused` needs, as frames (:func:`.device_cache.dump_frames`)."""
        facts = self.facts
        per_device = {f"info_{k}": facts["info"][k] for k in self.FACTS}
        per_device.update(c_count=facts["c_count"], c_kw=facts["c_kw"],
                          c_unrated=facts["c_unrated"])
        return {"mapping": self.mapping, "rated": self.rated,
                "devices": pd.DataFrame({"dev": pd.Series(self.dev_ids, dtype=object),
                                         **per_device}),
                "pairs": pd.DataFrame({"device": self.pair_device,
                                       "con": pd.Series(self.pair_connector, dtype=object),
                                       "rated": facts["pair_rated"]})}

    @classmethod
    def reused(cls, triples: pd.DataFrame, frames: dict, stamp: str) -> Prepared:
        """The Prepared of ``triples`` from the :meth:`saved` frames of one made from the
        same keys with the same devices, connectors and reconciliation (only the time
        spans of ``triples``, and the order of the keys, differ)."""
        self = cls.__new__(cls)
        self.kept, self.triples, self._made = True, triples, {}
        self.mapping, self.rated, self.stamp = frames["mapping"], frames["rated"], stamp
        per_device, pairs = frames["devices"], frames["pairs"]
        self.dev_ids = per_device["dev"].to_numpy(object)
        self.pair_device = pairs["device"].to_numpy(np.int64)
        self.pair_connector = pairs["con"].to_numpy(object)
        self.facts = {"info": {k: per_device[f"info_{k}"].to_numpy() for k in cls.FACTS},
                      "c_count": per_device["c_count"].to_numpy(),
                      "c_kw": per_device["c_kw"].to_numpy(),
                      "c_unrated": per_device["c_unrated"].to_numpy(),
                      "pair_rated": pairs["rated"].to_numpy()}
        return self

    def span(self):
        """(first start, last start, last closed end, first valid start) in µs; None
        where the sessions have none."""
        if self._spans is None:
            out = []
            for name, how in _SPAN.items():
                values = pd.to_numeric(self.triples[name]).dropna() \
                    if len(self.triples) else []
                out.append(None if not len(values) else int(getattr(values, how)()))
            self._spans = tuple(out)
        return self._spans

    def spanned(self, con, table: str) -> Prepared:
        """This Prepared for the triples of temp table ``table`` on ``con``, which have
        the same keys as :attr:`triples` (later sessions of the same devices): their spans
        are read from the table, which a :class:`MonthCache` then writes."""
        row = con.execute(f"SELECT {', '.join(f'{how}({n})' for n, how in _SPAN.items())}"
                          f" FROM {table}").fetchone()
        out = copy.copy(self)  # (what is made once is shared: it depends on the keys only)
        out._spans = tuple(None if v is None else int(v) for v in row)
        out.triples_table = table
        return out

    def key_tables(self, by: str) -> dict:
        """:func:`.usage_sql.key_tables` of the triples at level ``by``, made once."""
        if by not in self._made:
            self._made[by] = q.key_tables(self.triples, self.mapping, self.rated, by)
        return self._made[by]

    def device_dtype(self) -> pd.CategoricalDtype | None:
        """:attr:`dev_ids` as a categorical dtype (None when one is missing), made once."""
        if "dtype" not in self._made:
            names = pd.Index(self.dev_ids, dtype=object)
            self._made["dtype"] = pd.CategoricalDtype(names) if names.notna().all() else None
        return self._made["dtype"]

    def month_range(self):
        first, last_start, last_closed, _ = self.span()
        if first is None:
            return None
        last = max(last_start, last_closed - 1 if last_closed is not None else last_start)
        return q.month_of_us(first), q.month_of_us(last)


def scan_triples(con, relation: str) -> pd.DataFrame:
    frame = con.execute(q.triples_sql(relation)).df()
    return _typed_triples(frame)


def _typed_triples(frame: pd.DataFrame) -> pd.DataFrame:
    out = {k: frame[k].astype(object).where(frame[k].notna(), None) for k in TRIPLE_KEYS}
    for name in _SPAN:
        out[name] = pd.to_numeric(frame[name]).astype("float64")
    return pd.DataFrame(out)


def _merged_triples_sql(old: str, new: str) -> str:
    """The triples of two queries of triples merged: one row per key (NULL keys too),
    the earliest and latest of their spans."""
    spans = ", ".join(f"{how}({name}) AS {name}" for name, how in _SPAN.items())
    return (f"SELECT {', '.join(TRIPLE_KEYS)}, {spans} FROM ({old} UNION ALL BY NAME {new})"
            f" GROUP BY ALL")


def compute_months(con, relation: str, prep: Prepared, by: str, since_month=None):
    """Create temp tables ucs_new_months and ucs_new_counts: the month sums and counts of
    every month (``since_month`` None) or of the months from ``since_month``
    (:data:`.usage_sql.MONTHS_CODED_SQL` on integer codes)."""
    month_range = prep.month_range()
    con.execute("DROP TABLE IF EXISTS ucs_new_months")
    con.execute("DROP TABLE IF EXISTS ucs_new_counts")
    if month_range is None:
        columns = ", ".join(
            f"{n} {'DOUBLE' if n == 'kwh' else 'VARCHAR' if n in ('dev', 'con') else 'BIGINT'}"
            for n in q.MONTH_COLUMNS)
        con.execute(f"CREATE TEMP TABLE ucs_new_months ({columns})")
        con.execute("CREATE TEMP TABLE ucs_new_counts (dev VARCHAR, source VARCHAR,"
                    " m BIGINT, n BIGINT)")
        return
    first_month, last_month = month_range
    if since_month is not None:
        first_month, last_month = min(first_month, since_month), max(last_month, since_month)
    tables = {**prep.key_tables(by), **q.month_tables(first_month, last_month)}
    for name, frame in tables.items():
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.register(f"_{name}_frame", frame)
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM _{name}_frame")
        con.unregister(f"_{name}_frame")
    since = None if since_month is None else q.month_start_us(since_month)
    names = [d[0] for d in con.execute(f"SELECT * FROM {relation} AS r LIMIT 0").description]
    sql = q.coded_sql(relation, prep.span()[3] or 0, since, since_month, first_month,
                      last_month, ("import_id", "_rn" if "_rn" in names else "session_key"))
    con.execute("DROP TABLE IF EXISTS ucs_base")
    con.execute("CREATE TEMP TABLE ucs_base AS " + sql["base"])
    try:
        con.execute("CREATE TEMP TABLE ucs_new_months AS " + sql["months"])
        con.execute("CREATE TEMP TABLE ucs_new_counts AS " + sql["counts"])
    finally:
        con.execute("DROP TABLE ucs_base")


class MonthCache:
    """Month sums of one level kept in ``folder`` (see the module docstring).

    The month sums and counts are segments, each a pair of files written by one
    refresh and holding the months from its ``from`` month: a month is read from the
    last segment that starts at or before it. An incremental refresh writes only the
    months it recomputed, as one more segment (never rewriting the earlier months);
    past :data:`MAX_SEGMENTS` they are merged into one."""

    MAX_SEGMENTS = 12

    def __init__(self, folder: Path, by: str, device_stamp: str | None = None):
        self.folder = Path(folder) / by
        self.by = by
        # what Prepared depends on besides the sessions' keys (the devices, connectors and
        # reconciliation: :meth:`.HistoryStore.device_stamp`); None: Prepared not kept
        self.device_stamp = device_stamp
        self.last_refresh = None  # "cached", "incremental" or "full"
        self.segments = []  # [(file id, first month or None)], as the state names them
        self.gen = None  # the generation of the triples file the state names
        self._key_of = None  # (triples frame, its Prepared key), the last key computed
        # after a refresh: (the generation it started from, the first month it recomputed,
        # None: none), or None after a full recompute (:mod:`.usage_period_sums`)
        self.extends = None

    def _file(self, name: str, gen: str | None = None) -> Path:
        return self.folder / f"{name}-{gen or self.gen}.parquet"

    def _prepared_file(self, gen: str | None = None) -> Path:
        return self.folder / f"prepared-{gen or self.gen}.npz"

    def state(self) -> dict | None:
        try:
            state = json.loads((self.folder / "state.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if state.get("version") != STATE_VERSION or not state.get("segments") or not all(
                self._file(n, g).exists() for g, _ in state["segments"]
                for n in ("months", "counts")) or not self._file(
                "triples", state.get("gen")).exists():
            return None
        self.gen = state["gen"]
        self.segments = [tuple(s) for s in state["segments"]]
        return state

    def refresh(self, con, relation: str, parts: list, attach, devices, connectors):
        """Bring the cache up to the sessions of ``relation`` (whose part files are
        ``parts``); returns (Prepared, how) with how in "cached", "incremental", "full".
        Leaves the month sums in the files of :meth:`months_relation`."""
        parts = [Path(p).as_posix() for p in parts]
        self.extends = None
        state = self.state()
        named = {self._part_name(p): p for p in parts}
        new = [p for n, p in named.items() if state is None or n not in state["parts"]]
        if state is not None and set(state["parts"]) <= set(named):
            old = f"SELECT * FROM {_parquet([self._file('triples')])}"
            merged = _merged_triples_sql(old, q.triples_sql(_parquet(new))) if new else None
            prep = self._held(con, state, merged)
            if prep is None:
                triples = _typed_triples(con.execute(merged or old).df())
                prep = self._prepared(triples, attach, devices, connectors)
            if prep.stamp == state["stamp"]:
                if not new:
                    if not prep.kept:  # (a cache older than the file, or a damaged file)
                        self._keep_prepared(prep, self.gen)
                    self.extends = (self.gen, None)
                    return self._hold(prep), "cached"
                since = self._since(con, new, prep, state)
                if since is not None:
                    compute_months(con, reaching_relation(con, relation, parts, since), prep,
                                   self.by, since)
                    previous = self.gen
                    self._write(con, prep, list(named), since)
                    self.extends = (previous, int(since))
                    return self._hold(prep), "incremental"
        held_in_memory.release()  # (nothing of them is used after a full recompute)
        prep = Prepared(scan_triples(con, relation), attach, devices, connectors)
        compute_months(con, relation, prep, self.by)
        self._write(con, prep, list(named), None)
        return self._hold(prep), "full"

    def _held(self, con, state: dict, merged: str | None) -> Prepared | None:
        """The Prepared this process last used with the state's generation
        (:func:`.usage_period_sums.held_prepared`) when the sessions of the new parts
        (``merged``: the query of the state's triples and theirs) add no key to its
        triples; else None."""
        held = held_in_memory.held_prepared(str(self.folder), state["gen"], self.device_stamp)
        if held is None:
            return None
        prep, key = held
        if merged is not None:
            con.execute("DROP TABLE IF EXISTS ucs_triples")
            con.execute(f"CREATE TEMP TABLE ucs_triples AS {merged}")
            if con.execute("SELECT count(*) FROM ucs_triples").fetchone()[0] \
                    != len(prep.triples):
                return None
            prep = prep.spanned(con, "ucs_triples")
        else:
            prep = copy.copy(prep)  # (the held one is not changed)
        prep.kept = self._prepared_file().exists()
        self._key_of = (prep.triples, key)
        return prep

    def _hold(self, prep: Prepared) -> Prepared:
        """Hold ``prep`` in memory for the next refresh of this cache in the process."""
        key = self._prepared_key(prep.triples)
        if key is not None:
            kept = copy.copy(prep)
            kept.triples_table = None  # (a temp table of this connection)
            held_in_memory.hold_prepared(str(self.folder), self.gen, self.device_stamp, kept,
                                         key)
        return prep

    def _part_name(self, part: str) -> str:
        """A part as the state names it: relative to this folder, so that a store moved or
        copied elsewhere (its history folder with it) keeps its month sums."""
        try:
            return Path(os.path.relpath(part, self.folder)).as_posix()
        except ValueError:  # (another drive on Windows)
            return part

    def _prepared_key(self, triples: pd.DataFrame) -> str | None:
        """The key of a kept Prepared: the device stamp, this code and the set of the
        triples' keys (None: not kept). Their order only orders the Prepared's arrays,
        which no figure depends on (DuckDB returns the triples in any order)."""
        if self.device_stamp is None:
            return None
        if self._key_of is not None and self._key_of[0] is triples:
            return self._key_of[1]  # (read, then written: one frame hashed once)
        from .device_cache import code_digest

        digest = hashlib.sha256((self.device_stamp + code_digest(PREPARED_CODE)).encode())
        digest.update(np.sort(pd.util.hash_pandas_object(triples[TRIPLE_KEYS], index=False)
                              .to_numpy()).tobytes())
        self._key_of = (triples, digest.hexdigest())
        return self._key_of[1]

    def _prepared(self, triples: pd.DataFrame, attach, devices, connectors) -> Prepared:
        """The kept Prepared of the state when its key still holds, else a new one."""
        from .device_cache import load_frames

        key = self._prepared_key(triples)
        found = load_frames(self._prepared_file()) if key else None
        if found is not None and found[1].get("key") == key:
            return Prepared.reused(triples, found[0], found[1]["stamp"])
        return Prepared(triples, attach, devices, connectors)

    def _keep_prepared(self, prep: Prepared, gen: str) -> None:
        """Write ``prep`` beside the files of generation ``gen``."""
        from .device_cache import Unsupported, dump_frames

        key = self._prepared_key(prep.triples)
        if key is None:
            return
        if prep.kept and self.gen and gen != self.gen:
            try:  # read from the current generation's file under this key: the same bytes
                os.link(self._prepared_file(), self._prepared_file(gen))
                return
            except OSError:  # (no hard links on this file system) written again
                pass
        try:
            data = dump_frames(prep.saved(), {"key": key, "stamp": prep.stamp})
        except Unsupported:  # ids the file cannot hold exactly: computed each time
            return
        try:
            with written_whole(self._prepared_file(gen)) as out:  # a reader sees it whole
                out.write(data)
        except OSError:  # a cache that cannot be written is skipped
            pass

    def _since(self, con, new: list, prep: Prepared, state: dict):
        """The first month to recompute for the ``new`` parts, or None when a full
        recompute is needed (t0 of the overlap check moved by a fraction of a second)."""
        row = con.execute(f"SELECT min(epoch_us(start_utc)) FROM {_parquet(new)}"
                          " WHERE device_id IS NOT NULL").fetchone()
        t0 = prep.span()[3]
        old_t0 = state.get("t0")
        if t0 is not None and old_t0 is not None and (old_t0 - t0) % q.SECOND_US:
            return None
        if row[0] is None:
            return state.get("last_month", 0) + 1
        # a session starting in the same whole second as a new one may sort after it
        return q.month_of_us(int(row[0]) - q.SECOND_US)

    def _write(self, con, prep: Prepared, part_names: list, since_month) -> None:
        """Files of a new segment (and triples), then the state naming them (atomic
        rename): a reader, or a second writer, sees one whole state or the previous one.
        ``part_names``: the session parts as the state names them (:meth:`_part_name`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        old_files = {self._file(n, g) for g, _ in self.segments for n in ("months", "counts")}
        if self.gen:
            old_files.update({self._file("triples"), self._prepared_file()})
        gen = uuid.uuid4().hex[:16]
        keep = [] if since_month is None else \
            [(g, m) for g, m in self.segments if m is None or m < since_month]
        segment = (gen, None if since_month is None else int(since_month))
        selects = {"months": "SELECT * FROM ucs_new_months",
                   "counts": "SELECT * FROM ucs_new_counts"}
        if keep and len(keep) + 1 > self.MAX_SEGMENTS:  # merge every segment into one
            selects = {n: f"{self._read(n, keep + [(None, segment[1])])} UNION ALL {s}"
                       for n, s in selects.items()}
            keep, segment = [], (gen, None)
        con.register("_ucs_triples", prep.triples)
        triples = f"SELECT * FROM {prep.triples_table or '_ucs_triples'}"
        try:
            for name, select in [*selects.items(), ("triples", triples)]:
                path = self._file(name, gen).as_posix()
                con.execute(f"COPY ({select}) TO {_quote(path)} (FORMAT parquet)")
        finally:
            con.unregister("_ucs_triples")
        self._keep_prepared(prep, gen)
        segments = keep + [segment]
        month_range = prep.month_range()
        state = {"version": STATE_VERSION, "gen": gen, "segments": segments,
                 "parts": part_names,
                 "stamp": prep.stamp, "t0": prep.span()[3],
                 "last_month": month_range[1] if month_range else 0}
        with written_whole(self.folder / "state.json", "w", encoding="utf-8") as out:
            out.write(json.dumps(state))
        self.gen, self.segments = gen, [tuple(s) for s in segments]
        kept = {self._file(n, g) for g, _ in self.segments for n in ("months", "counts")}
        for path in old_files - kept:
            try:  # a reader may still hold the old files open (Windows)
                path.unlink()
            except OSError:
                pass

    def _read(self, name: str, segments) -> str:
        """A query of the rows of ``segments`` (the last one's file id may be None: it
        only bounds the one before)."""
        out = []
        for (gen, first), (_, until) in zip(segments, [*segments[1:], (None, None)]):
            if gen is None:
                continue
            bounds = [f"m >= {int(first)}" if first is not None else "",
                      f"m < {int(until)}" if until is not None else ""]
            where = " AND ".join(b for b in bounds if b)
            out.append(f"SELECT * FROM {_parquet([self._file(name, gen)])}"
                       + (f" WHERE {where}" if where else ""))
        return " UNION ALL ".join(out)

    def months_relation(self) -> tuple[str, str]:
        return tuple(f"({self._read(name, self.segments)})" for name in ("months", "counts"))


def reaching_relation(con, relation: str, parts: list, since_month: int) -> str:
    """``relation`` read from only the parts that can hold sessions of the months from
    ``since_month`` (started or still plugged in then: their largest start or end, from
    the Parquet statistics, reaches it), when ``relation`` lists ``parts`` as
    read_parquet does; else ``relation``."""
    listed = ", ".join(_quote(p) for p in parts)
    if len(parts) < 2 or relation.count(f"[{listed}]") != 1:
        return relation
    since = q.month_start_us(since_month)
    rows = con.execute(
        f"SELECT file_name, max(CASE WHEN stats_max_value IS NULL THEN NULL"
        f" ELSE epoch_us(CAST(stats_max_value AS TIMESTAMPTZ)) END), count(*)"
        f" FILTER (WHERE stats_max_value IS NULL AND num_values > 0)"
        f" FROM parquet_metadata([{listed}])"
        f" WHERE path_in_schema IN ('start_utc', 'end_utc') GROUP BY file_name").fetchall()
    late = {Path(f).as_posix() for f, top, unknown in rows
            if unknown or top is None or top >= since}
    reach = [p for p in parts if p in late or p not in {Path(r[0]).as_posix() for r in rows}]
    if not reach:
        reach = parts[-1:]
    return relation.replace(f"[{listed}]", "[" + ", ".join(_quote(p) for p in reach) + "]")


def reported_utilisation(con, relation: str, attach, devices, connectors, status,
                         current_devices, period: str = "quarter", by: str = "device",
                         cache: MonthCache | None = None, parts: list | None = None,
                         max_status_gap_hours: float = DEFAULT_MAX_GAP_HOURS) -> pd.DataFrame:
    """:func:`.utilisation.reported_utilisation` of the sessions of ``relation`` (SQL text
    of a relation on DuckDB connection ``con`` with the canonical session columns plus
    import_id) with each session's device reconciled by ``attach`` (a frame of distinct
    source, device_id, connector_id -> their reconciled device ids). With ``cache`` (and
    ``parts``, the relation's part files) the month sums are kept current incrementally."""
    return _utilisation(con, relation, attach, devices, connectors, status, period, by,
                        cache, parts, max_status_gap_hours,
                        operators=device_operators(current_devices))


def utilisation(con, relation: str, attach, devices, connectors, status=None,
                period: str = "quarter", by: str = "device", cache: MonthCache | None = None,
                parts: list | None = None,
                max_status_gap_hours: float = DEFAULT_MAX_GAP_HOURS) -> pd.DataFrame:
    """:func:`.utilisation.utilisation` (every row, before the coverage rule) of the
    sessions of ``relation``; arguments as :func:`reported_utilisation`."""
    return _utilisation(con, relation, attach, devices, connectors, status, period, by,
                        cache, parts, max_status_gap_hours)


def _utilisation(con, relation, attach, devices, connectors, status, period, by, cache,
                 parts, max_status_gap_hours, operators=None):
    """The utilisation frame; with ``operators`` (:func:`.usage_coverage.device_operators`)
    only its rows with usage data (the coverage rule), else every row."""
    if by not in ("device", "connector"):
        raise ValueError("by must be 'device' or 'connector'")
    if cache is not None:
        prep, cache.last_refresh = cache.refresh(con, relation, parts or [], attach, devices,
                                                 connectors)
        months, counts = cache.months_relation()
    else:
        prep = Prepared(scan_triples(con, relation), attach, devices, connectors)
        compute_months(con, relation, prep, by)
        months, counts = "ucs_new_months", "ucs_new_counts"
    status = status if status is not None and len(status) else None
    coverage = None if operators is None else coverage_pairs(
        _session_counts(con, counts, period, prep, cache), operators)
    return _assemble(con, prep, months, by, period, devices, connectors, status,
                     max_status_gap_hours, coverage, cache)


def _session_counts(con, counts: str, period: str, prep: Prepared,
                    cache: MonthCache | None = None) -> pd.DataFrame:
    """:func:`.usage_coverage.session_counts` from the month counts
    (:func:`.usage_period_sums.period_counts`), the id columns as categoricals (devices:
    ``prep.dev_ids``, which hold every device of the counts)."""
    step = STEP_MONTHS[period]
    rows, sources = period_counts(con, counts, step, prep, cache)
    period_code, periods = pd.factorize(rows["period"])
    labels = q.period_labels(np.asarray(periods, dtype=np.int64) * step, period)
    dtype = prep.device_dtype()
    return pd.DataFrame({
        "device_id": pd.Categorical.from_codes(rows["dev"], dtype=dtype) if dtype is not None
        else np.asarray(prep.dev_ids, dtype=object)[rows["dev"]],
        "source": pd.Categorical.from_codes(rows["source"], pd.Index(sources, dtype=object)),
        "period": pd.Categorical.from_codes(period_code, pd.Index(labels, dtype=object)),
        "sessions": rows["n"]})


def _assemble(con, prep: Prepared, months: str, by: str, period: str, devices, connectors,
              status, max_status_gap_hours, coverage=None, cache=None) -> pd.DataFrame:
    first, last_start, last_closed, _ = prep.span()
    us_ns = 1000
    window = data_window(NAT if first is None else first * us_ns,
                         NAT if last_start is None else last_start * us_ns,
                         NAT if last_closed is None else last_closed * us_ns,
                         ns_utc(status["observed_utc"]) if status is not None else None,
                         max_status_gap_hours)
    if window is None:
        return empty_result(by)
    labels, bounds, local_starts, p_index = period_grid(*window, period)
    n_periods = len(labels)
    dev_ids, pair_device, pair_connector = prep.dev_ids, prep.pair_device, prep.pair_connector
    if by == "device":
        groups = pd.DataFrame({"dev": dev_ids, "g": np.arange(len(dev_ids))})
        on = "g.dev = c.dev"
    else:
        groups = pd.DataFrame({"dev": dev_ids[pair_device],
                               "con": pd.Series(pair_connector, dtype=object),
                               "g": np.arange(len(pair_device))})
        on = "g.dev = c.dev AND g.con IS NOT DISTINCT FROM c.con"
    step = STEP_MONTHS[period]
    grids = period_grids(con, months, groups, on, step, int(p_index[0]), n_periods, prep,
                         cache)
    sums = {"sessions": grids["sessions"], "kwh": grids["kwh"],
            "plugged_ns": grids["plugged_us"] * us_ns, "in_use_days": grids["in_use_days"],
            "idle_ns": grids["idle_us"].astype(np.float64) * us_ns,
            "idle_base_ns": grids["idle_base_us"].astype(np.float64) * us_ns}
    sums.update({k: v for k, v in grids.items() if k.startswith("flag_")})
    code_device = np.arange(len(dev_ids)) if by == "device" else pair_device
    first_closed, last_closed_dev = closed_ends(grids, code_device, len(dev_ids))

    def widen(active_from, active_to):
        np.minimum(active_from, first_closed, out=active_from)
        np.maximum(active_to, last_closed_dev, out=active_to)

    grid = {"labels": labels, "bounds": bounds, "local_starts": local_starts,
            "p_index": p_index}
    covered = None if coverage is None else covered_grid(coverage, dev_ids, labels)
    return assemble(by, dev_ids, pair_device, pair_connector, prep.facts, sums, widen, grid,
                    status, period, max_status_gap_hours, covered)


def assemble_months(con, prep: Prepared, months: str, by: str, period: str, devices,
                    connectors, status=None,
                    max_status_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                    coverage=None) -> pd.DataFrame:
    """:func:`utilisation` from month sums computed elsewhere: ``months``, a relation on
    ``con`` with the columns :data:`.usage_sql.MONTH_COLUMNS` of one level (the shared
    store's, :mod:`..store.postgis.usage_months`); with ``coverage``
    (:func:`.usage_coverage.coverage_pairs`) only the rows it covers."""
    status = status if status is not None and len(status) else None
    return _assemble(con, prep, months, by, period, devices, connectors, status,
                     max_status_gap_hours, coverage)


MEMORY_LIMIT = "1GB"  # DuckDB spills what does not fit (peak RSS target: < 2 GB)


def limit_memory(con, spill: Path) -> None:
    """Keep DuckDB's memory on ``con`` under :data:`MEMORY_LIMIT`, spilling to ``spill``
    (made here: DuckDB makes only its last level), else, in a folder that cannot be
    written (a store on a read-only share), to the system's temporary folder."""
    spill = Path(spill)
    try:
        spill.mkdir(parents=True, exist_ok=True)
    except OSError:
        spill = Path(tempfile.gettempdir()) / "ev_chargepoints-spill"
        spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {_quote(spill.as_posix())}")
    con.execute(f"SET memory_limit = {_quote(MEMORY_LIMIT)}")
    con.execute("SET preserve_insertion_order = false")


def store_utilisation(store, rec, status, current_devices, period: str = "quarter",
                      by: str = "device", progress: Progress = SILENT,
                      history=None) -> pd.DataFrame:
    """What ``Workspace.utilisation`` shows for a local store, sessions reconciled by
    ``rec`` (``status``: a callable giving the reconciled status snapshots), from the
    store's columnar usage history (``history_relation``, ``history_parts``,
    ``history_dir``): :func:`reported_utilisation` with the month sums kept in
    ``<history_dir>/cache`` (a cache that cannot be written is skipped). ``history``:
    :func:`.reconcile.history` of ``rec`` when the caller has it."""
    from ..store.history_parts import duckdb_connection
    from .reconcile import history as device_history

    devices, connectors = history if history is not None else device_history(
        rec, store.devices(current_only=False), store.connectors(current_only=False))

    def attach(keys):
        return rec.attach_frame(keys, "connector_id").to_numpy(object)

    progress.report(5, "Reading sessions")
    con = duckdb_connection()  # without duckdb: the store's one-line StoreError
    import duckdb

    try:
        limit_memory(con, Path(store.history_dir) / "cache" / "spill")
        # with _rn: the overlap check's stored order on integers (import_id, _rn)
        relation = store.history_relation(con, "sessions", row_numbers=True)
        progress.report(10, f"Computing utilisation per {by} and {period}")
        folder = Path(store.history_dir)
        parts = [(folder / f).as_posix() for f in store.history_parts("sessions")["file"]]
        args = (con, relation, attach, devices, connectors, status(), current_devices,
                period, by)
        try:
            from .device_cache import code_digest

            cache = MonthCache(folder / "cache", by, store.device_stamp() + code_digest())
            frame = reported_utilisation(*args, cache=cache, parts=parts)
        except (OSError, duckdb.IOException):
            frame = reported_utilisation(*args)
    finally:
        con.close()
    progress.report(100, "Utilisation ready")
    return frame
