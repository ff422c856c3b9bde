"""The shared store's month sums: utilisation's session figures per (device, month) and
(device, connector, month), kept in PostgreSQL and brought up to date by every import,
in the import's own transaction.

The sums are those of the local store's month cache (:mod:`...analysis.usage_sql`,
the same SQL text rendered for PostgreSQL), so utilisation reads only these small
tables (:mod:`.usage`) and never the sessions. An import that adds sessions (or
completes open ones) recomputes only the (device, month) its sessions touch, from the
sessions that reach into those months, found through the sessions' start and end
indexes (:func:`_compute_touched`): its cost follows the size of the file and of the
months it touches, not of the store. What the sums depend on besides the sessions (the
connectors' ratings, the sub-second part of the overlap check's first instant t0) is
stamped in ``store_meta``; a changed rating of a pair with stored sessions, or a moved
t0, recomputes every month. The distinct (device, connector) with their time spans are
kept in their own small table (``usage_month_pairs``). Imports are serialised on the
sums (an advisory lock held to COMMIT), so each one recomputes over every session
committed before it.

Devices are the sessions' own ids on the shared store (no reconciliation applies to
its figures), sessions in the overlap check in stored order (``fid``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import usage_sql as q
from ...analysis.usage_sql_engine import Prepared, stamp_of
from .access import protect_device_table
from .copy_io import copy_frame, copy_in
from .schema import SCHEMA

MONTHS_TABLE = "usage_month_sums"
COUNTS_TABLE = "usage_month_counts"
PAIRS_TABLE = "usage_month_pairs"
LEVELS = ("device", "connector")
STAMP_KEY = "usage_months_stamp"
T0_KEY = "usage_months_t0"
_LOCK = (0x45564350, 3)  # backend._LOCK_CLASS, one object per purpose
_US = "round(date_part('epoch', {}) * 1000000)::bigint"
# (name, SQL type) of the month sums table after its level column
_TYPES = {"dev": 'text COLLATE "C"', "con": 'text COLLATE "C"', "m": "bigint",
          "kwh": "double precision"}
MONTH_COLUMNS = [(n, _TYPES.get(n, "bigint")) for n in q.MONTH_COLUMNS]


def create_tables(cur) -> None:
    """The tables (empty; schema step 5 then builds them) with the sessions' row-level
    security: a role reads the sums of the devices it may see."""
    s = SCHEMA
    columns = ", ".join(f"{n} {t}" for n, t in MONTH_COLUMNS)
    cur.execute(f"""
        CREATE TABLE {s}.{MONTHS_TABLE} (level text NOT NULL, {columns});
        CREATE INDEX {MONTHS_TABLE}_m ON {s}.{MONTHS_TABLE} (m);
        CREATE TABLE {s}.{COUNTS_TABLE} (dev text COLLATE "C", source text COLLATE "C",
                                         m bigint, n bigint);
        CREATE INDEX {COUNTS_TABLE}_m ON {s}.{COUNTS_TABLE} (m);""")
    protect_device_table(cur, MONTHS_TABLE, "dev")
    protect_device_table(cur, COUNTS_TABLE, "dev")


def create_pairs(cur) -> None:
    """Schema step 6: what lets an import update only the (device, month) sums it
    touches. The distinct (device, connector) of the sessions with their time spans
    (what :class:`.Prepared` needs, kept by every import instead of grouped from the
    sums); the sums indexed by (device, month) instead of month; the sessions by
    start, end and import (the sessions an import wrote, and those reaching into the
    months it touched, without reading the others)."""
    s = SCHEMA
    cur.execute(f"""
        CREATE TABLE {s}.{PAIRS_TABLE} (
            dev text COLLATE "C" NOT NULL, con text COLLATE "C",
            first_start bigint, last_start bigint, last_closed bigint, first_valid bigint,
            CONSTRAINT {PAIRS_TABLE}_key UNIQUE NULLS NOT DISTINCT (dev, con));
        DROP INDEX {s}.{MONTHS_TABLE}_m;
        DROP INDEX {s}.{COUNTS_TABLE}_m;
        CREATE INDEX {MONTHS_TABLE}_dev_m ON {s}.{MONTHS_TABLE} (dev, m);
        CREATE INDEX {COUNTS_TABLE}_dev_m ON {s}.{COUNTS_TABLE} (dev, m);
        CREATE INDEX sessions_start ON {s}.sessions (start_utc);
        CREATE INDEX sessions_end ON {s}.sessions (end_utc);
        CREATE INDEX sessions_import ON {s}.sessions (import_id);""")
    protect_device_table(cur, PAIRS_TABLE, "dev")


def relation(where: str = "true", sessions: str = f"{SCHEMA}.sessions") -> str:
    """The sessions as MONTHS_SQL reads them with the postgres dialect: times as µs
    since the epoch (computed once per row: OFFSET 0 keeps PostgreSQL from pulling the
    expressions up into every use), ``fid`` as the stored order."""
    return f"(SELECT {_session_columns('r')} FROM {sessions} AS r WHERE {where} OFFSET 0)"


def _session_columns(alias: str) -> str:
    times = ", ".join(f"{_US.format(f'{alias}.{c}')} AS {c}"
                      for c in ("start_utc", "end_utc", "charging_end_utc"))
    return (f"{alias}.source, {alias}.device_id, {alias}.connector_id, {times},"
            f" {alias}.kwh, {alias}.fid AS import_id, NULL::text AS session_key")


def identity(keys: pd.DataFrame) -> np.ndarray:
    """Each session's device: its own id (the shared store's figures are not
    reconciled)."""
    return keys["device_id"].to_numpy(object)


_SPANS = ("first_start", "last_start", "last_closed", "first_valid")


def stored_triples(cur) -> pd.DataFrame:
    """The distinct (device, connector) of the sessions with their time spans, as
    :class:`.Prepared` takes them (one source for all: nothing is reconciled)."""
    return _triples(cur, f"SELECT dev, con, {', '.join(_SPANS)}"
                         f" FROM {SCHEMA}.{PAIRS_TABLE} ORDER BY dev, con")


def _triples(cur, query: str, params=None, extra=None) -> pd.DataFrame:
    if params is not None:
        query = cur.mogrify(query, params).decode()
    frame = copy_frame(cur, query, {"device_id": object, "connector_id": object,
                                    **{n: "float64" for n in _SPANS}, **(extra or {})})
    frame.insert(0, "source", pd.Series([None] * len(frame), dtype=object))
    return frame


def _spans_sql(where: str) -> str:
    """Per (device, connector) of the sessions satisfying ``where``: the time spans."""
    return f"""
        SELECT device_id, connector_id, min(start_utc), max(start_utc),
               max(CASE WHEN end_utc >= start_utc THEN end_utc END),
               min(CASE WHEN end_utc >= start_utc THEN start_utc END)
        FROM {relation('device_id IS NOT NULL AND start_utc IS NOT NULL AND ' + where)} AS r
        GROUP BY device_id, connector_id"""


def _all_triples(cur) -> pd.DataFrame:
    return _triples(cur, _spans_sql("true") + " ORDER BY device_id, connector_id")


def _new_triples(cur, import_id: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The stored spans merged with those of the sessions import ``import_id`` wrote,
    and which of them were stored before."""
    frame = _triples(cur, f"""
        SELECT dev, con, min(fs), max(ls), max(lc), min(fv), bool_or(stored)::int FROM (
            SELECT dev, con, first_start AS fs, last_start AS ls, last_closed AS lc,
                   first_valid AS fv, true AS stored
            FROM {SCHEMA}.{PAIRS_TABLE}
            UNION ALL
            SELECT *, false FROM ({_spans_sql('import_id = %s')}) AS n) AS both_
        GROUP BY dev, con ORDER BY dev, con""", (int(import_id),), {"stored": "int64"})
    return frame.drop(columns="stored"), frame["stored"].to_numpy() == 1


def _stored_stamp(prep: Prepared, stored: np.ndarray) -> str:
    """The stamp the month sums had if only the pairs ``stored`` changed nothing but
    adding sessions: a pair new to the sums has none of its sessions in an untouched
    month, so its rating needs no earlier month recomputed."""
    old = prep.triples.loc[stored, ["device_id", "connector_id"]].rename(
        columns={"device_id": "dev", "connector_id": "con"})
    rated = prep.rated.merge(old, on=["dev", "con"], how="inner")
    return stamp_of(prep.mapping, rated)


def _meta(cur) -> dict:
    cur.execute(f"SELECT key, value FROM {SCHEMA}.store_meta WHERE key IN (%s, %s)",
                (STAMP_KEY, T0_KEY))
    return dict(cur.fetchall())


def _set_meta(cur, key: str, value: str) -> None:
    cur.execute(f"INSERT INTO {SCHEMA}.store_meta(key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def refresh(store, cur, import_id: int | None = None, since_us: int | None = None) -> str:
    """Bring the month sums up to the sessions (inside the caller's transaction, as a
    login that reads every row). ``import_id``/``since_us``: the import that just wrote
    sessions and the earliest start among them (None: none written). Returns "kept",
    "incremental" or "full"; "absent" in a store of schema 4 or older (the opening
    that upgrades it builds the sums)."""
    cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{PAIRS_TABLE}",))
    if cur.fetchone()[0] is None:
        return "absent"
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK)
    meta = _meta(cur)
    devices, connectors = store.facts_tables()
    if STAMP_KEY in meta and import_id is not None:
        if since_us is None:
            prep = Prepared(stored_triples(cur), identity, devices, connectors)
            stamp = prep.stamp
        else:
            triples, stored = _new_triples(cur, import_id)
            prep = Prepared(triples, identity, devices, connectors)
            stamp = _stored_stamp(prep, stored)
        t0, old_t0 = prep.span()[3], meta.get(T0_KEY) or None
        same_t0 = t0 is None or old_t0 is None or (int(old_t0) - t0) % q.SECOND_US == 0
        if stamp == meta[STAMP_KEY] and same_t0:
            if since_us is None:
                return "kept"
            _compute_touched(cur, prep, import_id, int(since_us))
            _set_meta(cur, STAMP_KEY, prep.stamp)
            _set_meta(cur, T0_KEY, "" if t0 is None else str(t0))
            return "incremental"
    prep = Prepared(_all_triples(cur), identity, devices, connectors)
    _compute_all(cur, prep)
    _set_meta(cur, STAMP_KEY, prep.stamp)
    _set_meta(cur, T0_KEY, "" if prep.span()[3] is None else str(prep.span()[3]))
    return "full"


def query_settings(cur) -> None:
    """For the month sums' queries (inside a transaction): no JIT, sorts and hashes in
    memory."""
    cur.execute("SET LOCAL jit = off")  # compiling these queries costs seconds, saves none
    cur.execute("SET LOCAL work_mem = '256MB'")


def _insert_sums(cur, prep: Prepared, sessions: str, offsets: list, touched: str) -> None:
    """INSERT MONTHS_SQL's sums (both levels) and the session counts over ``sessions``,
    joined to ``touched`` (a FROM item with dev and m; "" for every month)."""
    s = SCHEMA
    lowest = float(prep.rated["rated"].min()) if len(prep.rated) else None
    t0 = prep.span()[3] or 0
    names = ", ".join(n for n, _ in MONTH_COLUMNS)
    only = "" if not touched else f" JOIN {touched} AS t ON t.dev = x.dev AND t.m = x.m"
    picked = ", ".join(f"x.{n}" for n, _ in MONTH_COLUMNS)
    for level in LEVELS:
        sql = q.months_sql(sessions, level, t0, None, None, False, lowest,
                           dialect="postgres", midnight_offsets=offsets)
        # no parameters: the SQL's modulo signs would be taken for placeholders
        cur.execute(f"INSERT INTO {s}.{MONTHS_TABLE} (level, {names})"
                    f" SELECT '{level}', {picked} FROM ({sql}) AS x{only}")
    cur.execute(f"INSERT INTO {s}.{COUNTS_TABLE} (dev, source, m, n)"
                f" SELECT x.dev, x.source, x.m, x.n"
                f" FROM ({q.counts_sql(sessions, None, False, 'postgres')}) AS x{only}")


def _compute_all(cur, prep: Prepared) -> None:
    """Replace every month's sums (and session counts) and the pairs' spans by those of
    all the sessions."""
    s = SCHEMA
    for table in (MONTHS_TABLE, COUNTS_TABLE, PAIRS_TABLE):
        cur.execute(f"DELETE FROM {s}.{table}")
    triples = prep.triples
    copy_in(cur, f"{s}.{PAIRS_TABLE}", ["dev", "con", *_SPANS],
            [("text", triples["device_id"].tolist()),
             ("text", triples["connector_id"].tolist())]
            + [("int", triples[n].tolist()) for n in _SPANS])
    month_range = prep.month_range()
    if month_range is None:
        return
    offsets = _calendar(cur, prep.rated, *month_range)
    query_settings(cur)
    _insert_sums(cur, prep, relation("device_id IS NOT NULL AND start_utc IS NOT NULL"),
                 offsets, "")


def _compute_touched(cur, prep: Prepared, import_id: int, since_us: int) -> None:
    """Replace the sums (and session counts) of the (device, month) an import touched,
    computed from the sessions that reach into those months, and merge the import's
    spans into the pairs'.

    Import ``import_id`` wrote sessions (new ones, or open ones it completed); each
    touches its device's months from the one holding its start less a second (the
    overlap check counts whole seconds: a stored session of the same second is checked
    after it) to the one holding its end (its plugged time; the later sessions it may make
    overlapping start before its end). Those months' sums read the device's sessions
    that start in them or end in or after them (sessions that end before a month
    begins neither reach into it nor make any of its sessions overlap): found through
    the sessions' start and end indexes, so an import reads about its own months'
    sessions however many the store holds."""
    s = SCHEMA
    cur.execute(f"""
        INSERT INTO {s}.{PAIRS_TABLE} AS p (dev, con, {', '.join(_SPANS)})
        {_spans_sql(f'import_id = {int(import_id)}')}
        ON CONFLICT (dev, con) DO UPDATE SET
            first_start = least(p.first_start, excluded.first_start),
            last_start = greatest(p.last_start, excluded.last_start),
            last_closed = greatest(p.last_closed, excluded.last_closed),
            first_valid = least(p.first_valid, excluded.first_valid)""")
    first, last = prep.month_range()
    first = min(first, q.month_of_us(since_us - q.SECOND_US))
    offsets = _calendar(cur, prep.rated, first, last)
    query_settings(cur)
    div = q.DIALECTS["postgres"]["div"].format
    for name in ("ucs_touched", "ucs_touched_dev", "ucs_reaching"):
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
    end = "greatest(coalesce(r.end_utc - 1, r.start_utc), r.start_utc)"
    cur.execute(f"""
        CREATE TEMP TABLE ucs_touched ON COMMIT DROP AS
        SELECT DISTINCT x.dev, generate_series(x.m0, x.m1) AS m FROM (
            SELECT DISTINCT r.device_id AS dev, hs.m AS m0, he.m AS m1
            FROM {relation(f'import_id = {int(import_id)} AND device_id IS NOT NULL'
                           ' AND start_utc IS NOT NULL')} AS r
            JOIN ucs_hours AS hs ON hs.h = {div(f'r.start_utc - {q.SECOND_US}', q.HOUR_US)}
            JOIN ucs_hours AS he ON he.h = {div(end, q.HOUR_US)}) AS x""")
    cur.execute("ANALYZE ucs_touched")
    # each touched device's first and last month (start of the month after) in µs
    cur.execute("""
        CREATE TEMP TABLE ucs_touched_dev ON COMMIT DROP AS
        SELECT t.dev, min(mo.lo) AS lo, max(mo.hi) AS hi
        FROM ucs_touched AS t JOIN (SELECT m, min(lo) AS lo, max(hi) AS hi FROM ucs_days
                                    GROUP BY m) AS mo ON mo.m = t.m
        GROUP BY t.dev""")
    cur.execute("ANALYZE ucs_touched_dev")
    cur.execute("SELECT min(lo), max(hi) FROM ucs_touched_dev")
    lo, hi = cur.fetchone()
    if lo is None:
        return
    at = "to_timestamp(0) + ({} * interval '1 microsecond')".format
    # the sessions reaching into the touched months: two index ranges (an OR would
    # read the table), each device's own months kept
    cols = _session_columns("x")
    cur.execute(f"""
        CREATE TEMP TABLE ucs_reaching ON COMMIT DROP AS
        SELECT {cols} FROM (
            SELECT r.* FROM {s}.sessions AS r
            WHERE r.start_utc >= {at(lo)} AND r.start_utc < {at(hi)}
            UNION ALL
            SELECT r.* FROM {s}.sessions AS r
            WHERE r.end_utc >= {at(lo)} AND r.start_utc < {at(lo)}) AS x
        JOIN ucs_touched_dev AS d ON d.dev = x.device_id
        WHERE x.start_utc < to_timestamp(0) + (d.hi * interval '1 microsecond')
          AND (x.start_utc >= to_timestamp(0) + (d.lo * interval '1 microsecond')
               OR x.end_utc >= to_timestamp(0) + (d.lo * interval '1 microsecond'))""")
    cur.execute("ANALYZE ucs_reaching")
    for table in (MONTHS_TABLE, COUNTS_TABLE):
        cur.execute(f"DELETE FROM {s}.{table} AS x USING ucs_touched AS t"
                    " WHERE x.dev = t.dev AND x.m = t.m")
    _insert_sums(cur, prep, "(SELECT * FROM ucs_reaching)", offsets, "ucs_touched")


def _calendar(cur, rated: pd.DataFrame, first_month: int, last_month: int) -> list:
    """The small tables MONTHS_SQL joins (temporary, to COMMIT), as
    :func:`.usage_sql.register_tables` makes them for DuckDB; returns the midnight
    offsets."""
    hours, days = q.calendar_tables(first_month, last_month)
    tables = {
        "ucs_hours": (hours, {"h": "bigint", "d": "integer", "m": "bigint",
                              "dm": "integer"}),
        "ucs_days": (days, {"d": "integer", "lo": "bigint", "hi": "bigint", "m": "bigint",
                            "dm": "integer"}),
        "ucs_rated": (rated, {"dev": 'text COLLATE "C"', "con": 'text COLLATE "C"',
                              "rated": "double precision"}),
    }
    for name, (frame, types) in tables.items():
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        cur.execute(f"CREATE TEMP TABLE {name} ("
                    + ", ".join(f"{c} {t}" for c, t in types.items()) + ") ON COMMIT DROP")
        kinds = {"bigint": "int", "integer": "int", "double precision": "real"}
        copy_in(cur, name, list(types), [
            (kinds.get(t, "text"), frame[c].astype(object).tolist()) for c, t in types.items()])
        cur.execute(f"ANALYZE {name}")
    return q.midnight_offsets(days)
