"""Session CSV rows checked in DuckDB and kept there (issue #22): the table the store's
import writes its Parquet part from (:class:`DuckSessions`), and the SQL pieces of the
checks that :class:`.sessions_duckdb.Reader` runs: the UTC offsets of the local times
(per hour, clock changes by Python's rule), the reasons' order, whole milliseconds."""

from __future__ import annotations

import numpy as np
import pandas as pd

REASON_CODES = ("no_device", "start", "end", "placeholder", "order", "kwh_text",
                "kwh_negative", "exact_dup", "id_dup")
_HOUR_US = 3_600_000_000
_YEAR_1971_US = 31_536_000_000_000  # 1971-01-01 00:00: an end before it is a placeholder


class DuckSessions:
    """Checked sessions held in a DuckDB table (canonical columns plus ``_n``, the row's
    0-based position in the file; stored in file order), for the store to write its
    Parquet part from without a pandas copy. ``len()`` is the number of sessions;
    :meth:`frame` gives the canonical pandas frame (and closes the connection)."""

    duckdb_table = True  # what the store's import looks for
    # every key distinct by construction (each its own session id's, repeated ids being
    # rejected): the store then skips looking for repeated keys in the table
    unique_keys = False

    def __init__(self, con, name: str):
        self.con, self.name = con, name
        self._rows = None

    def __len__(self) -> int:
        if self._rows is None:
            self._rows = int(self.con.execute(f"SELECT count(*) FROM {self.name}"
                                              ).fetchall()[0][0])
        return self._rows

    def drop_unusable(self) -> int:
        """Delete the rows without key, device or start time (the store's rule for every
        parse result); how many there were."""
        where = "session_key IS NULL OR start_utc IS NULL OR device_id IS NULL"
        bad = int(self.con.execute(f"SELECT count(*) FROM {self.name} WHERE {where}"
                                   ).fetchall()[0][0])
        if bad:
            self.con.execute(f"DELETE FROM {self.name} WHERE {where}")
            self._rows = None
        return bad

    def add_content_keys(self) -> int:
        """``common.content_keys`` for the sessions without an id, computed in Python
        (sha1 per row) on those rows only; how many they were."""
        from .common import content_keys

        found = self.con.execute(
            f"SELECT _n, device_id, connector_id, epoch_us(start_utc) AS s,"
            f" epoch_us(end_utc) AS e, kwh FROM {self.name} WHERE session_key IS NULL"
            " ORDER BY _n").fetchnumpy()
        if not len(found["_n"]):
            return 0
        keys = content_keys(_texts_of(found["device_id"]), _texts_of(found["connector_id"]),
                            _utc_of(found["s"]), _utc_of(found["e"]),
                            pd.Series(np.ma.filled(np.ma.asarray(found["kwh"], dtype=float),
                                                   np.nan)))
        update_column(self.con, "session_key", np.asarray(found["_n"], dtype="int64"),
                keys.to_numpy(dtype=object), np.zeros(len(keys), bool),
                table=self.name, key="_n")
        return len(keys)

    def frame(self) -> pd.DataFrame:
        """The canonical sessions frame (as ``schema.conform`` gives it), file order."""
        from ... import schema

        names = list(schema.TABLES["sessions"])
        exprs = [f"epoch_ns({n}) AS {n}" if schema.TABLES["sessions"][n].startswith(
            "datetime64") else n for n in names]
        data = self.con.execute(f"SELECT {', '.join(exprs)} FROM {self.name} ORDER BY _n"
                                ).fetchnumpy()
        out = {}
        for name in names:
            kind = schema.TABLES["sessions"][name]
            if kind.startswith("datetime64"):
                out[name] = _utc_of(data[name], ns=True).array
            elif kind == "float64":
                out[name] = np.ma.filled(np.ma.asarray(data[name], dtype=float), np.nan)
            else:
                out[name] = _texts_of(data[name]).to_numpy(dtype=object)
        frame = pd.DataFrame(out)
        frame.attrs["conformed"] = "sessions"
        self.close()
        return frame

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def _texts_of(values) -> pd.Series:
    """Fetched VARCHAR values as an object Series, None for NULL."""
    arr = np.asarray(np.ma.getdata(values), dtype=object)
    mask = np.ma.getmaskarray(values)
    if mask.any():
        arr = arr.copy()
        arr[mask] = None
    return pd.Series(arr, dtype=object)


def _utc_of(values, ns: bool = False) -> pd.Series:
    """Fetched epoch µs (``ns``: ns) as a UTC Series, NaT for NULL."""
    nat = np.iinfo(np.int64).min
    raw = np.ma.filled(np.ma.asarray(values, dtype="int64"), nat)
    out = raw if ns else np.where(raw == nat, nat, raw * 1000)
    return pd.Series(pd.DatetimeIndex(out.view("datetime64[ns]")).tz_localize("UTC"))


def update_column(con, column: str, rows: np.ndarray, values, null: np.ndarray,
            table: str = "cols", key: str = "rowid") -> None:
    """Set ``column`` of ``table`` at the rows whose ``key`` is in ``rows`` (NULL where
    ``null``)."""
    if not len(rows):
        return
    con.register("_fix", pd.DataFrame({"n": rows, "v": values, "null": null}))
    try:
        con.execute(f"UPDATE {table} SET {column} = CASE WHEN _fix.null THEN NULL"
                    f" ELSE _fix.v END FROM _fix WHERE {table}.{key} = _fix.n")
    finally:
        con.unregister("_fix")


def _floor_hour(column: str) -> str:
    return f"({column} - (({column} % {_HOUR_US}) + {_HOUR_US}) % {_HOUR_US})"


def utc_offsets(con, localize):
    """(offsets, odd times) of the local start and end times of table ``cols`` (µs), by
    ``localize``, so that every time converts as it would in Python.

    ``offsets(column, flag)``: SQL of the offset (local - UTC, µs) of ``column``'s hour,
    ambiguous times in summer (flag "s") or winter ("w") time; NULL in an hour without
    one offset for all its times (a clock change). A CASE over the runs of hours with
    the same offset: the data's hours are few, their runs fewer. ``odd times``: a frame
    of each local time in those other hours (v) with its UTC time in summer (su) and
    winter (wi) time."""
    hours = con.execute(f"""SELECT DISTINCT h FROM (
        SELECT {_floor_hour('s')} AS h FROM cols UNION ALL SELECT {_floor_hour('e')} FROM cols)
        WHERE h IS NOT NULL ORDER BY h""").fetchnumpy()["h"]
    hours = np.asarray(np.ma.getdata(hours), dtype="int64")
    cases, uniform = {}, np.ones(len(hours), dtype=bool)
    for flag, summer in (("s", True), ("w", False)):
        same, offset = hour_offsets(hours * 1000, summer, localize)
        uniform &= same
        values = [str(int(o) // 1000) if ok else "NULL" for ok, o in zip(same, offset)]
        runs = [(int(hours[i]), v) for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
        cases[flag] = runs
    odd = np.zeros(0, dtype="int64")
    if not uniform.all():
        con.register("_other", pd.DataFrame({"h": hours[~uniform]}))
        try:
            found = con.execute(f"""SELECT DISTINCT v FROM (
                SELECT s AS v FROM cols UNION ALL SELECT e FROM cols)
                WHERE {_floor_hour('v')} IN (SELECT h FROM _other) ORDER BY v""").fetchnumpy()
        finally:
            con.unregister("_other")
        odd = np.asarray(np.ma.getdata(found["v"]), dtype="int64")
    ns = odd * 1000
    odd_times = pd.DataFrame({"v": odd, "su": localize(ns, np.ones(len(ns), bool)) // 1000,
                              "wi": localize(ns, np.zeros(len(ns), bool)) // 1000})

    def offsets(column: str, flag: str, odd: pd.DataFrame | None = None) -> str:
        """``odd``: the odd times, named in the SQL (their offset) instead of NULL."""
        runs = cases[flag]
        if odd is not None and len(odd):
            utc = odd["su" if flag == "s" else "wi"]
            named = " ".join(f"WHEN {v} THEN {v - u}" for v, u in zip(odd["v"], utc))
            runs = [(start, f"(CASE {column} {named} END)" if value == "NULL" else value)
                    for start, value in runs]
        if len(runs) <= 1:
            return f"CAST({runs[0][1] if runs else 'NULL'} AS BIGINT)"
        whens = " ".join(f"WHEN {column} < {start} THEN {value}"
                         for (_, value), (start, _) in zip(runs, runs[1:]))
        return f"(CASE {whens} ELSE {runs[-1][1]} END)"
    return offsets, odd_times


def hour_offsets(hours_ns: np.ndarray, summer: bool, localize):
    """(same, offset): whether every time of each local hour [H, H + 1 h) has one UTC
    offset (its first and last nanosecond localise, to the same offset), and that
    offset (local - UTC, ns)."""
    flags = np.full(len(hours_ns), summer)
    last = hours_ns + (3_600_000_000_000 - 1)
    firsts = localize(hours_ns, flags, gap="NaT")
    lasts = localize(last, flags, gap="NaT")
    nat = np.iinfo(np.int64).min
    same = (firsts != nat) & (lasts != nat) & (hours_ns - firsts == last - lasts)
    return same, hours_ns - firsts


def judged_sql() -> str:
    """View ``judged`` of table ``checked``: the end in UTC (eu: the summer-time reading,
    or the winter one where only that one is not before the start, as ``local_to_utc``),
    start and end cut to whole milliseconds, and the code of the first check the row
    fails (0: none; ``REASON_CODES``)."""
    trunc = "({0} - (({0} % 1000) + 1000) % 1000)"  # whole milliseconds, as stored
    return f"""CREATE TEMP VIEW judged AS
        WITH u AS (
            SELECT *, CASE WHEN e1 IS NOT NULL AND e2 IS NOT NULL AND su IS NOT NULL
                           AND e1 <> e2 AND e1 < su AND e2 >= su THEN e2 ELSE e1 END AS eu
            FROM checked)
        SELECT n, session_key, device, connector, sid, {trunc.format('su')} AS su,
               {trunc.format('eu')} AS eu, kwh, first,
               CASE WHEN device IS NULL THEN 1
                    WHEN s_blank OR s IS NULL THEN 2
                    WHEN NOT e_blank AND e IS NULL THEN 3
                    WHEN e < {_YEAR_1971_US} THEN 4
                    WHEN eu < su THEN 5
                    WHEN NOT k_blank AND kwh IS NULL THEN 6
                    WHEN kwh < 0 THEN 7
                    WHEN dup IS NOT NULL THEN dup
                    ELSE 0 END AS code
        FROM u"""
