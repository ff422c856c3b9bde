"""The shared store's month sums: utilisation's session figures per (device, month) and
(device, connector, month), kept in PostgreSQL and brought up to date by every import,
in the import's own transaction.

The sums are those of the local store's month cache (:mod:`...analysis.usage_sql`,
the same SQL text rendered for PostgreSQL), so utilisation reads only these small
tables (:mod:`.usage`) and never the sessions. An import that adds sessions recomputes
the months from the earliest one its sessions start in (less a second: a session
starting in the same whole second may sort after it in the overlap check) and keeps
the earlier ones, as the local cache does; what the sums depend on besides the
sessions (the connectors' ratings, the sub-second part of the overlap check's first
instant t0) is stamped in ``store_meta``, and a changed stamp recomputes every month.
Imports are serialised on the sums (an advisory lock held to COMMIT), so each one
recomputes over every session committed before it.

Devices are the sessions' own ids on the shared store (no reconciliation applies to
its figures), sessions in the overlap check in stored order (``fid``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import usage_sql as q
from ...analysis.usage_sql_engine import Prepared
from .access import protect_device_table
from .copy_io import copy_frame, copy_in
from .schema import SCHEMA

MONTHS_TABLE = "usage_month_sums"
COUNTS_TABLE = "usage_month_counts"
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


def relation(where: str = "true") -> str:
    """The sessions as MONTHS_SQL reads them with the postgres dialect: times as µs
    since the epoch (computed once per row: OFFSET 0 keeps PostgreSQL from pulling the
    expressions up into every use), ``fid`` as the stored order."""
    times = ", ".join(f"{_US.format(c)} AS {c}"
                      for c in ("start_utc", "end_utc", "charging_end_utc"))
    return (f"(SELECT source, device_id, connector_id, {times}, kwh, fid AS import_id,"
            f" NULL::text AS session_key FROM {SCHEMA}.sessions WHERE {where} OFFSET 0)")


def identity(keys: pd.DataFrame) -> np.ndarray:
    """Each session's device: its own id (the shared store's figures are not
    reconciled)."""
    return keys["device_id"].to_numpy(object)


def stored_triples(cur) -> pd.DataFrame:
    """The distinct (device, connector) of the month sums with their time spans, as
    :class:`.Prepared` takes them (one source for all: nothing is reconciled)."""
    return _triples(cur, f"""
        SELECT dev, con, min(first_start), max(last_start), max(last_closed),
               min(first_closed)
        FROM {SCHEMA}.{MONTHS_TABLE} WHERE level = 'connector'
        GROUP BY dev, con ORDER BY dev, con""")


_SPANS = ("first_start", "last_start", "last_closed", "first_valid")


def _triples(cur, query: str, params=None) -> pd.DataFrame:
    if params is not None:
        query = cur.mogrify(query, params).decode()
    frame = copy_frame(cur, query, {"device_id": object, "connector_id": object,
                                    **{n: "float64" for n in _SPANS}})
    frame.insert(0, "source", pd.Series([None] * len(frame), dtype=object))
    return frame


def _all_triples(cur) -> pd.DataFrame:
    return _triples(cur, f"""
        SELECT device_id, connector_id, min(start_utc), max(start_utc),
               max(CASE WHEN end_utc >= start_utc THEN end_utc END),
               min(CASE WHEN end_utc >= start_utc THEN start_utc END)
        FROM {relation('device_id IS NOT NULL AND start_utc IS NOT NULL')} AS r
        GROUP BY device_id, connector_id ORDER BY device_id, connector_id""")


def _new_triples(cur, import_id: int) -> pd.DataFrame:
    """The stored spans merged with those of the sessions import ``import_id`` wrote."""
    return _triples(cur, f"""
        SELECT dev, con, min(fs), max(ls), max(lc), min(fv) FROM (
            SELECT dev, con, first_start AS fs, last_start AS ls, last_closed AS lc,
                   first_closed AS fv
            FROM {SCHEMA}.{MONTHS_TABLE} WHERE level = 'connector'
            UNION ALL
            SELECT device_id, connector_id, start_utc, start_utc,
                   CASE WHEN end_utc >= start_utc THEN end_utc END,
                   CASE WHEN end_utc >= start_utc THEN start_utc END
            FROM {relation('device_id IS NOT NULL AND start_utc IS NOT NULL'
                           ' AND import_id = %s')} AS r) AS both_
        GROUP BY dev, con ORDER BY dev, con""", (int(import_id),))


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
    cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{MONTHS_TABLE}",))
    if cur.fetchone()[0] is None:
        return "absent"
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK)
    meta = _meta(cur)
    devices = store.devices(current_only=False)
    connectors = store.connectors(current_only=False)
    since_month = None
    if STAMP_KEY in meta and import_id is not None:
        triples = _new_triples(cur, import_id) if since_us is not None \
            else stored_triples(cur)
        prep = Prepared(triples, identity, devices, connectors)
        t0, old_t0 = prep.span()[3], meta.get(T0_KEY) or None
        same_t0 = t0 is None or old_t0 is None or (int(old_t0) - t0) % q.SECOND_US == 0
        if prep.stamp == meta[STAMP_KEY] and same_t0:
            if since_us is None:
                return "kept"
            since_month = q.month_of_us(int(since_us) - q.SECOND_US)
    if since_month is None:
        prep = Prepared(_all_triples(cur), identity, devices, connectors)
    _compute(cur, prep, since_month)
    _set_meta(cur, STAMP_KEY, prep.stamp)
    _set_meta(cur, T0_KEY, "" if prep.span()[3] is None else str(prep.span()[3]))
    return "full" if since_month is None else "incremental"


def _compute(cur, prep: Prepared, since_month: int | None) -> None:
    """Replace the sums (and session counts) of every month, or of the months from
    ``since_month``, by MONTHS_SQL's over the sessions that reach into them."""
    s = SCHEMA
    keep = "" if since_month is None else f" WHERE m >= {int(since_month)}"
    for table in (MONTHS_TABLE, COUNTS_TABLE):
        cur.execute(f"DELETE FROM {s}.{table}{keep}")
    month_range = prep.month_range()
    if month_range is None:
        return
    first, last = month_range
    if since_month is not None:
        first, last = min(first, since_month), max(last, since_month)
    offsets = _calendar(cur, prep.rated, first, last)
    where = "device_id IS NOT NULL AND start_utc IS NOT NULL"
    if since_month is not None:
        since = f"to_timestamp({q.month_start_us(since_month)} / 1000000.0)"
        where += f" AND (start_utc >= {since} OR end_utc >= {since})"
    sessions = relation(where)
    lowest = float(prep.rated["rated"].min()) if len(prep.rated) else None
    t0 = prep.span()[3] or 0
    names = ", ".join(n for n, _ in MONTH_COLUMNS)
    cur.execute("SET LOCAL jit = off")  # compiling this query costs seconds, saves none
    cur.execute("SET LOCAL work_mem = '256MB'")
    for level in LEVELS:
        sql = q.months_sql(sessions, level, t0, None, None, False, lowest,
                           dialect="postgres", midnight_offsets=offsets)
        # no parameters: the SQL's modulo signs would be taken for placeholders
        cur.execute(f"INSERT INTO {s}.{MONTHS_TABLE} (level, {names})"
                    f" SELECT '{level}', {names} FROM ({sql}) AS sums{keep}")
    cur.execute(f"INSERT INTO {s}.{COUNTS_TABLE} (dev, source, m, n) SELECT dev, source, m, n"
                f" FROM ({q.counts_sql(sessions, None, False, 'postgres')}) AS c{keep}")


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
