"""Sessions and status snapshots of a GeoPackage store as append-only Parquet parts.

Store ``X.gpkg`` keeps them in the folder ``X.history/`` beside it:
``sessions/part-<import id>.parquet`` and ``status/part-<import id>.parquet``, one part
per import (zstd, rows sorted by key), written and read with DuckDB. The GeoPackage
keeps the manifest (``history_parts``: which files hold which rows) and
``session_completions`` (keys whose earlier OPEN row a later part completed; readers
drop those open rows).

Durability. An import holds the GeoPackage's write lock (``BEGIN IMMEDIATE``), writes
its parts under their final names, then records them in the manifest in the same
transaction as the rest of the import. Readers read only the files the manifest lists
(manifest and completions in one SQLite read transaction; the parts are immutable),
so they see all of an import or none of it while it runs. Parts of an import that
failed or was killed are orphans: no reader looks at them, and the next writer deletes
them while it holds the lock.

DuckDB is imported lazily: without it the store opens and devices, connectors and areas
work; reading or writing usage history raises a one-line :class:`StoreError`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import StoreError
from ..schema import TABLES
from .gpkg_bulk_read import read_columns
from .values import COLUMN_KIND, ID_COLUMNS, iso_one, parse_iso, utc_series

MISSING_DUCKDB = "Usage history needs the Python package duckdb (pip install duckdb)"
KINDS = ("sessions", "status_snapshots")
FOLDER = {"sessions": "sessions", "status_snapshots": "status"}
TIME_COLUMN = {"sessions": "start_utc", "status_snapshots": "observed_utc"}
KEYS = {"sessions": ["session_key"], "status_snapshots": ["observed_utc", "device_id",
                                                          "evse_uid"]}
MANIFEST_COLUMNS = ["kind", "import_id", "file", "rows", "min_time_utc", "max_time_utc",
                    "max_end_utc", "bytes"]
# zstd level chosen by measurement (bench/bench_store.py): see docs/performance.md. Row
# groups of DuckDB's default size (122,880 rows): writing 4 M sorted sessions took 1.3 s
# instead of 1.9 s with 1,000,000-row groups, the same bytes, and utilisation reads them as
# fast (13.3-13.9 s either way at 10 M sessions).
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, PARQUET_VERSION V2"
_DUCK_TYPE = {"object": "VARCHAR", "float64": "DOUBLE", "int64": "BIGINT",
              "datetime64[ns, UTC]": "TIMESTAMPTZ", "bool": "BOOLEAN"}
_names = itertools.count()


def _duckdb():
    try:
        import duckdb
    except ImportError as exc:
        raise StoreError(MISSING_DUCKDB) from exc
    return duckdb


def duckdb_connection():
    """A private in-memory DuckDB connection (two threads, times in UTC, no progress bar:
    DuckDB draws its own on stderr, in the CLI's output and in QGIS's log)."""
    con = _duckdb().connect(":memory:", config={"threads": 2})
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def history_dir(gpkg: Path) -> Path:
    """The folder of the parts of store ``X.gpkg``: ``X.history`` beside it."""
    gpkg = Path(gpkg)
    return gpkg.with_name(gpkg.stem + ".history")


def copy_store(source: Path, target: Path) -> Path:
    """Copy a GeoPackage store with its usage history (the ``.history`` folder)."""
    source, target = Path(source), Path(target)
    shutil.copyfile(source, target)
    if history_dir(source).is_dir():
        shutil.rmtree(history_dir(target), ignore_errors=True)
        shutil.copytree(history_dir(source), history_dir(target))
    return target


def part_path(kind: str, import_id: int) -> str:
    """A part's file relative to the history folder."""
    return f"{FOLDER[kind]}/part-{int(import_id):08d}.parquet"


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def columns_of(kind: str) -> list[str]:
    return list(TABLES[kind]) + ["import_id"]


# --- the manifest -----------------------------------------------------------------------

CREATE_SQL = [
    "CREATE TABLE IF NOT EXISTS history_parts (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
    " kind TEXT NOT NULL, import_id INTEGER NOT NULL, file TEXT NOT NULL UNIQUE,"
    " rows INTEGER NOT NULL, min_time_utc DATETIME, max_time_utc DATETIME,"
    " max_end_utc DATETIME, bytes INTEGER)",
    "CREATE TABLE IF NOT EXISTS session_completions (session_key TEXT PRIMARY KEY NOT NULL,"
    " import_id INTEGER)",
]


@dataclass
class Snapshot:
    """What one read sees: the parts of a kind (manifest order) and completed keys."""

    kind: str
    manifest: pd.DataFrame
    completed: list

    @property
    def files(self) -> list[str]:
        return list(self.manifest["file"])


def snapshot(conn: sqlite3.Connection, kind: str) -> Snapshot:
    """The manifest rows of ``kind`` and the completed session keys, read in one
    read transaction (or in the caller's)."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        rows = conn.execute(f"SELECT {', '.join(MANIFEST_COLUMNS)} FROM history_parts"
                            " WHERE kind=? ORDER BY import_id, fid", (kind,)).fetchall()
        completed = [r[0] for r in conn.execute("SELECT session_key FROM session_completions")
                     ] if kind == "sessions" else []
    finally:
        if own and conn.in_transaction:
            conn.execute("COMMIT")
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for name in ("import_id", "rows", "bytes"):
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
    for name in ("min_time_utc", "max_time_utc", "max_end_utc"):
        frame[name] = parse_iso(frame[name].to_numpy()) if len(frame) else \
            pd.Series([], dtype="datetime64[ns, UTC]")
    return Snapshot(kind, frame, completed)


def missing_parts(folder: Path, files) -> list[str]:
    """The listed part files that are not in ``folder`` (a GeoPackage copied without its
    history folder)."""
    return [f for f in files if not (folder / f).is_file()]


def relation(con, folder: Path, snap: Snapshot, files: list[str] | None = None,
             name: str | None = None, row_numbers: bool = False) -> str:
    """SQL text of a parenthesised relation on DuckDB connection ``con``: the rows of the
    parts (all of ``snap``'s, or ``files``) with the canonical columns and import_id,
    open sessions completed by a later part left out. The completed keys are registered
    on ``con`` as ``name`` (default: a new name; a given name is replaced).
    ``row_numbers`` adds ``_rn``, the row's number in its part (for the stored order:
    import_id, _rn)."""
    kind = snap.kind
    files = snap.files if files is None else files
    names = columns_of(kind) + (["_rn"] if row_numbers else [])
    if not files:
        typed = ", ".join(f'CAST(NULL AS {_DUCK_TYPE.get(TABLES[kind].get(n), "BIGINT")})'
                          f' AS "{n}"' for n in names)
        return f"(SELECT {typed} WHERE false)"
    missing = missing_parts(folder, files)
    if missing:
        raise StoreError(f"The usage history of this store is incomplete: {folder / missing[0]}"
                         f" is missing ({len(missing)} file(s)); copy the folder "
                         f"{folder.name} together with the store's GeoPackage.")
    listed = ", ".join(_quote((folder / f).as_posix()) for f in files)
    select = ", ".join(f'"{n}"' for n in names if n != "_rn")
    if row_numbers:
        select += ", file_row_number AS _rn"
    source = (f"(SELECT {select} FROM read_parquet([{listed}]"
              f"{', file_row_number=true' if row_numbers else ''})")
    if kind == "sessions" and snap.completed:
        name = name or f"_completed_{next(_names)}"
        con.register(name, pd.DataFrame({"session_key": pd.Series(snap.completed,
                                                                  dtype=object)}))
        source += (f" WHERE NOT (end_utc IS NULL AND session_key IN"
                   f" (SELECT session_key FROM {name}))")
    return source + ")"


def read_frame(con, rel: str, kind: str, names: list[str], window: tuple,
               categorical: bool = False, ordered: bool = False) -> pd.DataFrame:
    """The columns ``names`` of relation ``rel`` in stored order, times as UTC, optionally
    the id columns as pandas categoricals; ``window``: (start, end) on the kind's time.
    ``ordered``: sort by (import_id, _rn), as ``categorical`` always does (a relation
    with ``row_numbers``); else the relation's own order (DuckDB keeps a plain scan's
    order, not a join's)."""
    clauses, params = [], []
    column = TIME_COLUMN[kind]
    for value, op in zip(window, (">=", "<")):
        if value is not None:
            clauses.append(f'h."{column}" {op} CAST(? AS TIMESTAMPTZ)')
            params.append(iso_one(value))
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    exprs, categories, joins = [], {}, []
    for name in names:
        kind_of = COLUMN_KIND[TABLES[kind][name]] if name in TABLES[kind] else "int"
        if categorical and name in ID_COLUMNS:
            # Codes from a join with the sorted distinct values: no Python string per
            # row (an ENUM cast is slower with many values; a join needs the ORDER BY).
            values = con.execute(f'SELECT DISTINCT "{name}" AS v FROM {rel} AS h{where}'
                                 ' ORDER BY 1', params).fetchnumpy()["v"]
            cats = np.asarray(np.ma.getdata(values)[~np.ma.getmaskarray(values)], dtype=object)
            table = f"_cats_{next(_names)}"
            con.register(table, pd.DataFrame({"v": cats,
                                              "c": np.arange(len(cats), dtype=np.int32)}))
            categories[name] = (cats, table)
            alias = f"j{len(joins)}"
            joins.append(f' LEFT JOIN {table} {alias} ON h."{name}" = {alias}.v')
            exprs.append(f'coalesce({alias}.c, -1) AS "{name}"')
        elif kind_of == "time":  # ns since 1970, NaT's integer for NULL: no masked arrays
            exprs.append(f'coalesce(epoch_ns(h."{name}"), {np.iinfo(np.int64).min})'
                         f' AS "{name}"')
        elif kind_of == "real":
            exprs.append(f'coalesce(h."{name}", CAST(\'NaN\' AS DOUBLE)) AS "{name}"')
        else:
            exprs.append(f'h."{name}"')
    try:
        order = " ORDER BY h.import_id, h._rn" if ordered or joins else ""
        data = con.execute(f"SELECT {', '.join(exprs) or '1 AS one'} FROM {rel} AS h"
                           f"{''.join(joins)}{where}{order}", params).fetchnumpy()
    finally:
        for _, table in categories.values():
            con.unregister(table)
    out = {}
    for name in names:
        kind_of = COLUMN_KIND[TABLES[kind][name]] if name in TABLES[kind] else "int"
        values = data[name]
        mask = np.ma.getmaskarray(values)
        raw = np.ma.getdata(values)
        if name in categories:
            codes = raw.astype(np.int32, copy=False) if len(raw) else np.zeros(0, np.int32)
            out[name] = pd.Series(pd.Categorical.from_codes(codes, categories[name][0]))
        elif kind_of == "time":
            out[name] = utc_series(raw.astype(np.int64, copy=False))
        elif kind_of == "text":
            arr = np.asarray(raw, dtype=object)
            if mask.any():
                arr = arr.copy()
                arr[mask] = None
            out[name] = pd.Series(arr, dtype=object)
        elif kind_of == "real":
            out[name] = pd.Series(raw.astype("float64", copy=False))
        else:
            out[name] = pd.Series(np.where(mask, 0, raw).astype("int64"))
    # (not DataFrame(out, columns=...): pandas 1.5 would make every time an object first)
    return pd.DataFrame({name: out[name] for name in names})


# --- writing parts ------------------------------------------------------------------------

def remove_orphans(conn: sqlite3.Connection, folder: Path) -> list[Path]:
    """Delete part files the manifest does not list (left by a failed or killed import).
    Only while holding the write lock: a running import's parts are not listed yet."""
    listed = {r[0] for r in conn.execute("SELECT file FROM history_parts")}
    removed = []
    for kind in KINDS:
        sub = folder / FOLDER[kind]
        if not sub.is_dir():
            continue
        for path in sub.iterdir():
            if f"{FOLDER[kind]}/{path.name}" not in listed and path.name.startswith("part-"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _copy(con, select: str, target: Path, params=()) -> int:
    """Write ``select`` to the Parquet file ``target`` and flush it to disk; its size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO {_quote(target.as_posix())} ({PARQUET_OPTIONS})",
                list(params))
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target.stat().st_size


def _register_incoming(con, frame: pd.DataFrame, kind: str, extra=()) -> str:
    """The frame as a DuckDB view with the canonical column types (and its row order)."""
    name = f"_incoming_{next(_names)}"
    index = frame.index
    plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    con.register(name + "_raw", frame if plain else frame.reset_index(drop=True))
    cols = ", ".join([f'CAST("{n}" AS {_DUCK_TYPE[t]}) AS "{n}"'
                      for n, t in TABLES[kind].items()] + [f'"{e}"' for e in extra])
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} FROM {name}_raw")
    return name


def write_part(conn, con, folder: Path, kind: str, frame: pd.DataFrame, import_id: int,
               written: list) -> dict[str, int]:
    """Add an import's rows of ``kind`` as a new part (inside the caller's write
    transaction): the rows not held yet, and for sessions the stored open rows this
    import completes. Returns the counts added/updated/duplicate; appends the file to
    ``written`` before writing it."""
    snap = snapshot(conn, kind)
    keys = KEYS[kind]
    on = ", ".join(f'"{k}"' for k in keys)
    n = len(frame)
    table = f"_part_{next(_names)}"
    if getattr(frame, "duckdb_table", False):
        # Sessions a parser checked in DuckDB (``sessions_held.DuckSessions``): their
        # table, canonical and in file order, is the incoming table, on its connection.
        con, incoming = frame.con, frame.name
    else:
        # The incoming rows copied into DuckDB once (a scan of Python strings is the slow
        # part); a table keeps the frame's order, so its rowid is the row's position.
        incoming = f"_in_{next(_names)}"
        raw = _register_incoming(con, frame, kind)
        try:
            con.execute(f"CREATE TEMP TABLE {incoming} AS SELECT * FROM {raw}")
        finally:
            con.execute(f"DROP VIEW IF EXISTS {raw}")
            con.unregister(raw + "_raw")
    try:
        if not getattr(frame, "unique_keys", False) and con.execute(
                f"SELECT count(*) FROM (SELECT DISTINCT {on} FROM {incoming})"
        ).fetchall()[0][0] != n:
            # Repeated keys within one file: the first row of each counts.
            con.execute(f"CREATE OR REPLACE TEMP TABLE {incoming} AS SELECT * FROM {incoming}"
                        f" QUALIFY row_number() OVER (PARTITION BY {on} ORDER BY rowid) = 1")
        files = _overlapping(snap, frame, kind)
        held = relation(con, folder, snap, files, name="_completed_write") if files else None
        names = list(TABLES[kind])
        select = ", ".join(f'i."{c}"' for c in names)
        new_rows = f"SELECT {select} FROM {incoming} i"
        if held:
            new_rows += f" ANTI JOIN (SELECT {on} FROM {held}) e USING ({on})"
        parts = [new_rows]
        if kind == "sessions" and held:
            parts.append(
                f"SELECT e.session_key, e.source_session_id, e.device_id, e.connector_id,"
                f" e.start_utc, i.end_utc, i.charging_end_utc, i.kwh, e.source"
                f" FROM {incoming} i JOIN (SELECT * FROM {held} WHERE end_utc IS NULL) e"
                f" USING (session_key) WHERE i.end_utc IS NOT NULL")
        # Nothing held yet: the rows are all new, read through a view (no second copy).
        view = not held
        con.execute(f"CREATE TEMP {'VIEW' if view else 'TABLE'} {table} AS"
                    f" SELECT *, 0 AS _done FROM ({parts[0]}) a"
                    + (f" UNION ALL SELECT *, 1 FROM ({parts[1]}) b" if len(parts) > 1
                       else ""))
    except BaseException:
        con.execute(f"DROP TABLE IF EXISTS {incoming}")
        raise
    try:
        added, updated, lo, hi, max_end = con.execute(
            f"SELECT count(*) FILTER (WHERE _done = 0), count(*) FILTER (WHERE _done = 1),"
            f' min("{TIME_COLUMN[kind]}"), max("{TIME_COLUMN[kind]}"),'
            f" {'max(end_utc)' if kind == 'sessions' else 'NULL'} FROM {table}").fetchall()[0]
        if added + updated:
            rel = part_path(kind, import_id)
            written.append(folder / rel)
            order = ", ".join(f'"{k}"' for k in keys)
            size = _copy(con, f"SELECT {', '.join(names)}, CAST(? AS BIGINT) AS import_id"
                              f" FROM {table} ORDER BY {order}", folder / rel, [import_id])
            conn.execute(f"INSERT INTO history_parts({', '.join(MANIFEST_COLUMNS)})"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (kind, int(import_id), rel, int(added + updated), iso_one(lo),
                          iso_one(hi), iso_one(max_end), int(size)))
        if updated:
            keys_done = [r[0] for r in con.execute(
                f"SELECT session_key FROM {table} WHERE _done = 1").fetchall()]
            conn.executemany("INSERT OR REPLACE INTO session_completions(session_key,"
                             " import_id) VALUES (?, ?)", [(k, import_id) for k in keys_done])
    finally:
        con.execute(f"DROP {'VIEW' if view else 'TABLE'} IF EXISTS {table}")
        con.execute(f"DROP TABLE IF EXISTS {incoming}")
        if getattr(frame, "duckdb_table", False):
            frame.close()  # its connection held only this table
    counts = {"added": int(added)}
    if kind == "sessions":
        counts["updated"] = int(updated)
    counts["duplicate"] = int(n - added - updated)
    return counts


def _overlapping(snap: Snapshot, frame: pd.DataFrame, kind: str) -> list[str]:
    """The parts that may hold rows with the incoming keys. Status keys include the
    observation time, so only parts whose time range overlaps can (exact); a session key
    may come back with another start time, so every session part is read."""
    manifest = snap.manifest
    if kind == "sessions" or not len(manifest) or not len(frame):
        return snap.files
    times = frame[TIME_COLUMN[kind]]
    lo, hi = times.min(), times.max()
    keep = ~((manifest["max_time_utc"] < lo) | (manifest["min_time_utc"] > hi))
    return list(manifest.loc[keep, "file"])


# --- migration from schema 4 --------------------------------------------------------------

def move_tables(conn: sqlite3.Connection, gpkg: Path) -> None:
    """Schema 4 -> 5, inside the migration's transaction: every row of the old
    ``sessions`` and ``status_snapshots`` tables goes to one part per import (keeping
    its import id; completed sessions are already merged rows), then the old tables are
    dropped. Parts left by an interrupted migration are overwritten."""
    folder = history_dir(gpkg)
    for kind in KINDS:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                              (kind,)).fetchone()
        if not exists:
            continue
        if conn.execute(f"SELECT count(*) FROM {kind}").fetchone()[0]:
            _move_table(conn, folder, kind)
        conn.execute(f"DROP TABLE {kind}")
        conn.execute("DELETE FROM gpkg_contents WHERE table_name=?", (kind,))
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='gpkg_ogr_contents'"
                        ).fetchone():
            conn.execute("DELETE FROM gpkg_ogr_contents WHERE table_name=?", (kind,))


def _move_table(conn, folder: Path, kind: str) -> None:
    con = duckdb_connection()
    try:
        spec = {name: COLUMN_KIND[dtype] for name, dtype in TABLES[kind].items()}
        spec["import_id"] = "int"
        data = pd.DataFrame(read_columns(conn, kind, spec, [], [], categorical=True))
        names = list(TABLES[kind])
        con.register("_old", data)
        cols = ", ".join(f'CAST("{n}" AS {_DUCK_TYPE[t]}) AS "{n}"'
                         for n, t in TABLES[kind].items())
        con.execute(f"CREATE TEMP TABLE _moved AS SELECT {cols}, import_id FROM _old")
        con.unregister("_old")
        del data
        order = ", ".join(f'"{k}"' for k in KEYS[kind])
        for (import_id,) in con.execute("SELECT DISTINCT import_id FROM _moved ORDER BY 1"
                                        ).fetchall():
            rel = part_path(kind, import_id)
            size = _copy(con, f"SELECT {', '.join(names)}, import_id FROM _moved"
                              f" WHERE import_id = ? ORDER BY {order}", folder / rel,
                         [import_id])
            rows, lo, hi, max_end = con.execute(
                f'SELECT count(*), min("{TIME_COLUMN[kind]}"), max("{TIME_COLUMN[kind]}"),'
                f" {'max(end_utc)' if kind == 'sessions' else 'NULL'} FROM _moved"
                " WHERE import_id = ?", [import_id]).fetchall()[0]
            conn.execute(f"INSERT INTO history_parts({', '.join(MANIFEST_COLUMNS)})"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (kind, int(import_id), rel, int(rows), iso_one(lo), iso_one(hi),
                          iso_one(max_end), int(size)))
    finally:
        con.close()
