"""DuckDB reading of large session CSVs: the columns of ``sessions_csv.read_columns``.

DuckDB reads the text and does the per-row string work (stripping, blank tokens,
joining date and time, the common ``dd/mm/yyyy HH:MM[:SS]`` times, plain kWh numbers,
duplicate rows and ids); ``sessions_csv.validate`` then applies the same checks as for
the pandas reading. Exactness is by construction, not by hope:

- the text is refused (``None``: the caller reads it with pandas) whenever DuckDB might
  split it differently from pandas: lone carriage returns, NUL characters, a leading
  BOM, blank or quoted first line, a space or tab beside a quote, a row with more or
  fewer fields than the header (DuckDB strict mode errors), any DuckDB error, a row
  longer in bytes than the field size limit (DuckDB's ``max_line_size``: within it, no
  field can be over the limit; pandas then names an oversized field exactly);
- a time that is not canonical (``31/02/2017``, ``1/2/2018 9:05``, ISO, ...) is parsed
  by the pandas code itself, on those rows only, and kWh text that is not a plain
  decimal sends the whole kWh column to ``pd.to_numeric``, as before;
- row numbers are DuckDB's insertion order: the reading query has projections only (no
  join, no IN list, which DuckDB plans as a join), so table ``cols`` keeps file order.
"""

from __future__ import annotations

import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .common import MISSING_TOKENS, Limits, SameFile
from .sessions_held import (
    REASON_CODES,
    DuckSessions,
    judged_sql,
    update_column,
    utc_offsets,
)

# Python's str.strip() characters (every c with c.isspace()), for DuckDB's trim(x, chars)
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
              "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_YEARS = (1678, 2261)  # inside pandas' nanosecond range: DuckDB and pandas agree there
_INLINE_TIMES = 2000  # at most this many times in clock-change hours are named in SQL
# a field's opening quote after spaces/tabs, or its closing quote before them
_SPACED_QUOTE = re.compile(rb'(?:^|[,\r\n])[ \t]+"|"[ \t]+(?:[,\r\n]|$)')


def _duckdb():
    try:
        import duckdb
    except ImportError:
        return None
    return duckdb


class Reader:
    """``with Reader(text, header, roles, limits, parse_local) as r: r.columns()``.

    ``header``: :func:`header` of the text; ``roles``: role → header name;
    ``parse_local``: the pandas parsing of local times (for rows that are not
    canonical); ``origin``: the file whose bytes are exactly the text's UTF-8, which
    DuckDB then reads in place (checked unchanged after reading), else the text goes to
    a temporary UTF-8 file. DuckDB reads it once, into one table of the per-row
    results; the strings of the kept rows are fetched last."""

    def __init__(self, text: str, header: list[str], roles: dict[str, str],
                 limits: Limits, parse_local, origin: SameFile | None = None):
        self.text, self.header, self.roles = text, header, roles
        self.limits, self.parse_local = limits, parse_local
        self.origin = origin  # the file whose bytes are exactly the text's UTF-8
        self.con = self.path = self.temporary = None

    def __enter__(self) -> Reader:
        duckdb = _duckdb()
        if duckdb is None:
            return self
        if self.origin is not None:  # read in place: no encoding, no temporary copy
            data, self.path = self.origin.data, self.origin.path
        else:
            try:
                data = self.text.encode("utf-8")
            except UnicodeError:
                return self
        if not _splits_as_pandas(data):
            return self
        if self.origin is None:
            handle, self.path = tempfile.mkstemp(suffix=".csv", prefix="ev-sessions-")
            self.temporary = self.path
            with os.fdopen(handle, "wb") as out:
                out.write(data)
        del data
        from ...store.history_parts import duckdb_connection  # (no progress bar on stderr)

        self.con = duckdb_connection()
        return self

    def __exit__(self, *exc) -> None:
        if self.con is not None:
            self.con.close()
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass

    def columns(self) -> dict | None:
        """The columns for ``sessions_csv.validate``, or None when pandas must read it."""
        if self.con is None:
            return None
        try:
            columns = self._columns()
        except _duckdb().Error:
            return None
        if self.origin is not None and not self.origin.unchanged():
            return None  # the file changed since its bytes were read: pandas reads those
        return columns

    def _read_csv(self, select: str) -> str:
        names = [f"c{i}" for i in range(len(self.header))]
        types = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in names) + "}"
        return f"""SELECT {select} FROM read_csv({_sql_text(self.path)},
            header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
            columns = {types}, strict_mode = true, null_padding = false,
            max_line_size = {self._max_row_bytes()}, nullstr = chr(0))"""

    def _max_row_bytes(self) -> int:
        """DuckDB's limit on a row's bytes (quoted line breaks included): the field
        size limit, so that a row within it has every field within it (characters ≤
        bytes) and a longer row is an error (pandas then reads it and names an
        oversized field exactly) without measuring every field here."""
        return max(int(self.limits.max_field_chars), 1)

    def _read(self) -> tuple[int, bool] | None:
        """Table ``cols`` (one row per CSV row, in file order): (rows, whether every kWh
        text is a plain decimal or blank), or None when pandas must read the text. Only
        the columns of a role are read (a row over :meth:`_max_row_bytes` is an
        error: no field is over the size limit)."""
        con = self.con
        con.execute("CREATE TEMP TABLE cols AS " + _columns_sql(
            self.header, self.roles, self._read_csv("*")))
        n_rows, kwh_plain = con.execute("SELECT count(*), bool_and(k_ok) FROM cols"
                                        ).fetchall()[0]
        if n_rows == 0:
            return None
        return n_rows, bool(kwh_plain)

    def _columns(self) -> dict | None:
        con = self.con
        read = self._read()
        if read is None:
            return None
        n_rows, kwh_plain = read
        t = con.execute("SELECT s, e, s_blank, e_blank, k_blank, s_odd, e_odd, kwh, "
                        "device IS NULL AS no_device FROM cols").fetchnumpy()
        start_local, end_local = _naive(t["s"], n_rows), _naive(t["e"], n_rows)
        for local, odd, which in ((start_local, t["s_odd"], "st"),
                                  (end_local, t["e_odd"], "et")):
            odd = _bools(odd)
            if odd.any():  # not canonical: the pandas parsing itself, on those rows only
                rows = np.flatnonzero(odd)
                parsed = self.parse_local(pd.Series(self._texts(which, rows), index=rows,
                                                    dtype=object))
                if str(parsed.dtype) != "datetime64[ns]":
                    return None
                local.iloc[rows] = parsed.to_numpy()
        if kwh_plain:
            kwh = pd.Series(np.ma.filled(np.ma.asarray(t["kwh"], dtype=float), np.nan))
        else:  # some kWh text is not a plain decimal: pd.to_numeric, as before, on all
            kwh = pd.to_numeric(pd.Series(self._texts("k", None), dtype=object),
                                errors="coerce")
        exact_dup, first_of_row, id_dup, first_of_id = self._repeats(n_rows)
        return {
            "header": self.header, "n_rows": n_rows,
            "device_missing": _bools(t["no_device"]), "strings": self._strings,
            "fast_conform": True,
            "start_blank": _bools(t["s_blank"]), "end_blank": _bools(t["e_blank"]),
            "kwh_blank": _bools(t["k_blank"]),
            "start_local": start_local, "end_local": end_local, "kwh": kwh,
            "exact_dup": exact_dup, "first_of_row": first_of_row,
            "id_dup": id_dup & ~exact_dup, "first_of_id": first_of_id,
        }

    def sessions(self, source: str, namespace: str | None, localize) -> tuple | None:
        """The checked sessions kept in DuckDB, for ``sessions_csv.parse_text``:
        (:class:`DuckSessions`, rejects as (1-based row, reason code, earlier row), the
        warnings' counts (no end, no kWh), rows read), or None when pandas must read the
        text. The checks of ``sessions_csv.validate`` as SQL over table ``cols`` (code i
        for ``sessions_csv.REJECT_REASONS[i - 1]``, the first that fails). What comes
        back to Python: the rejected rows, the rows whose time text needs the pandas
        parsing, the clock-change hours, the rows without an id (their content keys).
        ``localize``: (local ns, summer flags[, gap="NaT"]) → UTC ns, ``sessions_csv``'s
        rule. The connection goes with the result (the Reader no longer closes it)."""
        if self.con is None:
            return None
        try:
            out = self._sessions(source, namespace, localize)
        except _duckdb().Error:
            return None
        if out is None or (self.origin is not None and not self.origin.unchanged()):
            return None  # (a changed file: pandas reads the bytes that were read)
        self.con = None
        return out

    def _sessions(self, source, namespace, localize) -> tuple | None:
        con = self.con
        read = self._read()
        if read is None:
            return None
        n_rows, kwh_plain = read
        for odd, column, which in (("s_odd", "s", "st"), ("e_odd", "e", "et")):
            rows = con.execute(f"SELECT rowid AS n FROM cols WHERE {odd} ORDER BY n"
                               ).fetchnumpy()["n"]
            if len(rows):  # not canonical: the pandas parsing itself, on those rows only
                rows = np.asarray(rows, dtype="int64")
                parsed = self.parse_local(pd.Series(self._texts(which, rows), index=rows,
                                                    dtype=object))
                if str(parsed.dtype) != "datetime64[ns]":
                    return None
                ok = parsed.notna().to_numpy()
                ns = parsed.to_numpy().view("int64")[ok]
                update_column(con, column, rows[ok], ns // 1000, np.zeros(int(ok.sum()), bool))
        if not kwh_plain:  # some kWh text is not a plain decimal: pd.to_numeric on all
            kwh = pd.to_numeric(pd.Series(self._texts("k", None), dtype=object),
                                errors="coerce").to_numpy(dtype="float64")
            missing = np.isnan(kwh)
            update_column(con, "kwh", np.arange(n_rows, dtype="int64"),
                    np.where(missing, 0.0, kwh), missing)
        exact_dup, first_of_row, id_dup, first_of_id = self._repeats(n_rows)
        id_dup &= ~exact_dup
        dup_rows = np.flatnonzero(exact_dup | id_dup)
        offsets, odd_times = utc_offsets(con, localize)
        # Few rows to set apart (times in a clock-change hour, repeats): a view whose SQL
        # names them, so the sessions are written in one pass; else a table, updated.
        inline = not len(dup_rows) and len(odd_times) <= _INLINE_TIMES
        odd_sql = odd_times if inline else None
        prefix = "NULL" if namespace is None else f"{_sql_text(namespace + ':')} || sid"
        # projections and filters only (no join, no ORDER BY): every table keeps file order
        con.execute(f"""CREATE TEMP {'VIEW' if inline else 'TABLE'} checked AS SELECT
            rowid AS n, device, connector, sid, s, e, s_blank, e_blank, k_blank, kwh,
            CASE WHEN sid IS NOT NULL THEN {prefix} END AS session_key,
            s - {offsets('s', 's', odd_sql)} AS su, e - {offsets('e', 's', odd_sql)} AS e1,
            e - {offsets('e', 'w', odd_sql)} AS e2,
            CAST(NULL AS BIGINT) AS dup, CAST(NULL AS BIGINT) AS first FROM cols""")
        if not inline and len(odd_times):  # times in a clock-change hour: their UTC times
            con.register("_odd", odd_times)
            for column, value, local in (("su", "su", "s"), ("e1", "su", "e"), ("e2", "wi", "e")):
                con.execute(f"UPDATE checked SET {column} = _odd.{value} FROM _odd"
                            f" WHERE checked.{local} = _odd.v")
            con.unregister("_odd")
        if len(dup_rows):
            con.register("_dups", pd.DataFrame({
                "n": dup_rows.astype("int64"),
                "code": np.where(exact_dup[dup_rows], len(REASON_CODES) - 1,
                                 len(REASON_CODES)).astype("int64"),
                "first": np.where(exact_dup[dup_rows], first_of_row[dup_rows],
                                  first_of_id[dup_rows]).astype("int64")}))
            con.execute("UPDATE checked SET dup = _dups.code, first = _dups.first FROM _dups"
                        " WHERE checked.n = _dups.n")
            con.unregister("_dups")
        con.execute(judged_sql())
        rejected = con.execute("SELECT n + 1 AS row, code, first FROM judged WHERE code > 0"
                               " ORDER BY n").fetchnumpy()
        con.execute(f"""CREATE TEMP TABLE sessions AS SELECT
            CAST(session_key AS VARCHAR) AS session_key,
            CAST(sid AS VARCHAR) AS source_session_id, CAST(device AS VARCHAR) AS device_id,
            CAST(connector AS VARCHAR) AS connector_id,
            make_timestamptz(su) AS start_utc, make_timestamptz(eu) AS end_utc,
            CAST(NULL AS TIMESTAMPTZ) AS charging_end_utc, CAST(kwh AS DOUBLE) AS kwh,
            {_sql_text(source)} AS source, n AS _n
            FROM judged WHERE code = 0""")
        con.execute("DROP VIEW judged")
        con.execute(f"DROP {'VIEW' if inline else 'TABLE'} checked")
        for name in ("cols", "raw", "candidates", "candidates_n"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        table = DuckSessions(con, "sessions")
        # keys all from session ids (none made from content): distinct, as the rows
        # repeating an earlier row's id were rejected above
        table.unique_keys = table.add_content_keys() == 0
        open_count, missing_kwh = con.execute(
            "SELECT count(*) FILTER (WHERE end_utc IS NULL),"
            " count(*) FILTER (WHERE kwh IS NULL) FROM sessions").fetchall()[0]
        rejects = [(int(r), int(c), int(f)) for r, c, f in
                   zip(rejected["row"], rejected["code"], np.ma.filled(rejected["first"], 0))]
        return table, rejects, (int(open_count), int(missing_kwh)), int(n_rows)

    def _strings(self, keep: np.ndarray):
        """(device, connector, session id) of the kept rows, indexed by row position."""
        frame = self.con.execute("SELECT device, connector, sid FROM cols").df()
        index = np.flatnonzero(keep)
        if len(index) < len(frame):
            frame = frame.iloc[index]
        return (pd.Series(frame["device"].to_numpy(), index=index, dtype=object),
                pd.Series(frame["connector"].to_numpy(), index=index, dtype=object),
                pd.Series(frame["sid"].to_numpy(), index=index, dtype=object))

    def _raw(self) -> str:
        """Table ``raw``: the CSV's fields, row i at rowid i (made once, when needed)."""
        if not self.con.execute("SELECT count(*) FROM duckdb_tables() "
                                "WHERE table_name = 'raw'").fetchall()[0][0]:
            self.con.execute("CREATE TEMP TABLE raw AS " + self._read_csv("*"))
        return "raw"

    def _texts(self, which: str, rows) -> list:
        """Start ("st"), end ("et") or comma-free kWh ("k") text of ``rows`` (0-based;
        None: all), fully stripped, by the same SQL as table ``cols``."""
        source = f"SELECT rowid AS n, * FROM {self._raw()}"
        query = _columns_sql(self.header, self.roles, source, exact=True, output=which)
        if rows is None:
            return list(self.con.execute(f"{query} ORDER BY n").fetchnumpy()[which])
        self.con.register("wanted", pd.DataFrame({"n": np.asarray(rows, dtype="int64")}))
        try:
            out = self.con.execute(f"SELECT {which} FROM ({query}) SEMI JOIN wanted "
                                   "USING (n) ORDER BY n").fetchnumpy()
        finally:
            self.con.unregister("wanted")
        return list(out[which])

    def _repeats(self, n_rows: int) -> tuple[np.ndarray, ...]:
        """(identical to an earlier row (all fields), 1-based first such row, session id
        used by an earlier row, 1-based first row with that id).

        Such rows share table ``cols``' dup_key with their earlier row, so only the rows
        of a dup_key seen more than once are looked at (in most files none: one grouping
        of 64-bit hashes); they are compared field by field and by id, so neither a hash
        collision nor rows alike only in some fields can make rows repeats."""
        con = self.con
        exact, first_row = np.zeros(n_rows, dtype=bool), np.zeros(n_rows, dtype="int64")
        by_id, first_id = np.zeros(n_rows, dtype=bool), np.zeros(n_rows, dtype="int64")
        keys = con.execute("SELECT dup_key FROM cols GROUP BY dup_key HAVING count(*) > 1"
                           ).fetchnumpy()["dup_key"]
        if not len(keys):
            return exact, first_row, by_id, first_id
        con.register("_keys", pd.DataFrame({"k": np.asarray(keys, dtype="uint64")}))
        try:
            con.execute("CREATE TEMP TABLE candidates_n AS SELECT rowid AS n, sid FROM cols"
                        " WHERE dup_key IN (SELECT k FROM _keys)")
        finally:
            con.unregister("_keys")
        names = [f"c{i}" for i in range(len(self.header))]
        con.execute(f"""CREATE TEMP TABLE candidates AS SELECT * FROM
            (SELECT rowid AS n, * FROM {self._raw()}) SEMI JOIN candidates_n USING (n)""")
        same = " AND ".join(f"a.{c} IS NOT DISTINCT FROM b.{c}" for c in names)
        for query, flags, firsts in (
                (f"""SELECT a.n AS n, min(b.n) AS first FROM candidates a
                     JOIN candidates b ON {same} GROUP BY a.n""", exact, first_row),
                ("""SELECT a.n AS n, min(b.n) AS first FROM candidates_n a
                    JOIN candidates_n b USING (sid) GROUP BY a.n""", by_id, first_id)):
            found = con.execute(query).fetchnumpy()
            n = np.asarray(found["n"], dtype="int64")
            first = np.asarray(found["first"], dtype="int64")
            firsts[n] = first + 1
            flags[n] = first != n
        con.execute("DROP TABLE candidates_n")
        return exact, first_row, by_id, first_id


# reason codes of the checks (``sessions_csv.REJECT_REASONS``, in order; 0: kept)
def _splits_as_pandas(data: bytes) -> bool:
    """False for UTF-8 ``data`` DuckDB might split otherwise than pandas: a NUL, a lone
    CR (pandas ends a line there), spaces or tabs beside a field's quote (pandas keeps
    ` "a"` as it is, DuckDB unquotes it). Byte searches (memchr speed), no copies; the
    pattern is searched only when some quote has a space or tab beside it (its bytes
    are ASCII, never part of another character's UTF-8)."""
    if b"\x00" in data:
        return False
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return False
    if _blank_beside_quote(data):
        return _SPACED_QUOTE.search(data) is None
    return True


def _blank_beside_quote(data: bytes, block: int = 1 << 25) -> bool:
    """Whether a space or tab comes just before or after some '"' in ``data``: numpy over
    the quotes' neighbours, a block at a time on two threads (numpy lets go of the GIL;
    ``b' "' in data`` stops at every space)."""
    whole = np.frombuffer(data, dtype=np.uint8)

    def blank_in(lo: int) -> bool:
        quotes = np.flatnonzero(whole[lo:lo + block] == 34) + lo
        for near in (quotes[quotes > 0] - 1, quotes[quotes < len(whole) - 1] + 1):
            around = whole[near]
            if ((around == 32) | (around == 9)).any():
                return True
        return False

    starts = range(0, len(whole), block)
    if len(starts) < 2:
        return any(map(blank_in, starts))
    with ThreadPoolExecutor(2) as pool:
        return any(pool.map(blank_in, starts))


def header(text: str) -> list[str] | None:
    """pandas' column names, when the text is one DuckDB splits as pandas does."""
    if not text or text[0] in "\r\n\ufeff \t":
        return None
    end = text.find("\n")
    first = text if end < 0 else text[:end + 1]
    if first.count('"') % 2:
        return None  # a header field spanning lines
    import io

    try:
        return list(pd.read_csv(io.StringIO(first), dtype=str, nrows=0,
                                keep_default_na=False, na_filter=False).columns)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _columns_sql(header: list[str], roles: dict[str, str], source: str,
                 exact: bool = False, output: str | None = None) -> str:
    """SELECT over ``source`` (the CSV's rows, c0, c1, ...) giving per row: device,
    connector, sid (stripped, NULL for blank tokens), s, e (canonical start/end local
    times in µs, else NULL), s_blank, e_blank, k_blank, s_odd, e_odd (text not blank
    but not canonical), kwh, k_ok (kWh text a plain decimal, or blank), dup_key (the
    hash of the session id, or of every stripped field of a role for a row without one:
    rows repeating an id, and identical rows, share it). ``output``: only n (of
    ``source``) and that intermediate column (st, et, k), with every text fully
    stripped (``exact``)."""
    position = {h: i for i, h in enumerate(header)}
    ws = _sql_text(WHITESPACE)
    tokens = [_sql_text(t) for t in MISSING_TOKENS]

    def stripped(role: str, ends: int = 2) -> str:
        """The value as Python's strip() gives it. trim(x, characters) is slow, so it
        runs only where the first (``ends`` 2: or last) character is below 33 or above
        132 (all whitespace is). A date, time or kWh text keeping trailing whitespace
        (``ends`` 1) is still blank exactly when the stripped one is, and is never
        canonical, so those rows are read again, fully stripped (``exact``)."""
        if role not in roles:
            return "''"
        value = f"c{position[roles[role]]}"
        if exact:
            return f"trim({value}, {ws})"
        edge = " OR ".join(f"ord({end}) BETWEEN 0 AND 32 OR ord({end}) > 132"
                           for end in (value, f"{value}[-1]")[:ends])
        return f"CASE WHEN {edge} THEN trim({value}, {ws}) ELSE {value} END"

    def none(column: str) -> str:  # no IN list: DuckDB makes that a join (order lost)
        blank = " OR ".join(f"{column} = {t}" for t in tokens)
        return f"CASE WHEN {blank} THEN NULL ELSE {column} END"

    def joined(date: str, time: str) -> str:
        return (f"CASE WHEN {date} = '' THEN '' WHEN {time} = '' THEN {date} "
                f"ELSE {date} || ' ' || {time} END")

    by_date = not ("start" in roles and "start_date" not in roles)
    if not by_date:
        times = f"{stripped('start', 1)} AS st, {stripped('end', 1)} AS et"
        joins = "st, et"
    else:
        times = (f"{stripped('start_date', 1)} AS sd, {stripped('start_time', 1)} AS stt, "
                 f"{stripped('end_date', 1)} AS ed, {stripped('end_time', 1)} AS ett")
        joins = (f"{joined('sd', 'stt')} AS st, {joined('ed', 'ett')} AS et" if exact
                 else "sd, stt, ed, ett")
    keep = ", n" if output is not None else ""
    select = f"""
        WITH s AS (SELECT {stripped('device')} AS dev, {stripped('connector')} AS conn,
                          {stripped('session_id')} AS id, {times},
                          {stripped('kwh', 1)} AS kt {keep} FROM ({source})),
             j AS (SELECT {none('dev')} AS device, {none('conn')} AS connector,
                          {none('id')} AS sid, {joins}, kt, replace(kt, ',', '') AS k {keep}
                   FROM s)"""
    if output is not None:
        return f"{select} SELECT n, {output} FROM j"
    if by_date:  # the joined text is blank exactly when the date is
        # most sessions end on the day they start: that date is read once
        days = f", {_day('sd')} AS s_day FROM j"
        start = _at("s_day", "stt")
        end = _at(f"(CASE WHEN ed = sd THEN s_day ELSE {_day('ed')} END)", "ett")
        st, et, fields = "sd", "ed", "sd, stt, ed, ett"
    else:
        days = " FROM j"
        start, end, st, et = _local("st"), _local("et"), "st", "et"
        fields = "st, et"
    return f"""{select},
             d AS (SELECT *{days}),
             p AS (SELECT *, {start} AS s_local, {end} AS e_local,
                          TRY_CAST(k AS DOUBLE) AS kwh FROM d)
        SELECT device, connector, sid, epoch_us(s_local) AS s, epoch_us(e_local) AS e,
               {st} = '' AS s_blank, {et} = '' AS e_blank, kt = '' AS k_blank,
               s_local IS NULL AND {st} <> '' AS s_odd, e_local IS NULL AND {et} <> '' AS e_odd,
               kwh, k = '' OR (regexp_full_match(k, '-?[0-9]{{1,10}}(\\.[0-9]{{1,5}})?')
                               AND NOT (starts_with(k, '-') AND kwh = 0)) AS k_ok,
               CASE WHEN sid IS NULL THEN hash(device, connector, {fields}, kt)
                    ELSE hash(sid) END AS dup_key
        FROM p"""


def _day(date: str) -> str:
    """A canonical dd/mm/yyyy date (two digits each, ASCII) DuckDB accepts, in years
    pandas can hold, as a DATE; else NULL."""
    return (f"CASE WHEN regexp_full_match({date}, '[0-9]{{2}}/[0-9]{{2}}/[0-9]{{4}}') "
            f"AND substr({date}, 7, 4) BETWEEN '{_YEARS[0]}' AND '{_YEARS[1]}' "
            f"THEN CAST(try_strptime({date}, '%d/%m/%Y') AS DATE) END")


def _at(day: str, time: str) -> str:
    """:func:`_local` of the texts of ``day`` (a :func:`_day`) and ``time`` joined by a
    space, without building that text: the same canonical times (HH:MM or HH:MM:SS,
    hours < 24, minutes and seconds < 60), the same timestamps."""
    time_ok = f"regexp_full_match({time}, '([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?')"
    return f"CASE WHEN {time_ok} THEN {day} + CAST({time} AS TIME) END"


def _local(column: str) -> str:
    """A canonical dd/mm/yyyy HH:MM[:SS] time as a timestamp, else NULL (pandas then reads
    it). Two digits each (ASCII) and a date DuckDB accepts, in years pandas can hold."""
    parsed = f"try_strptime({column}, ['%d/%m/%Y %H:%M', '%d/%m/%Y %H:%M:%S'])"
    pattern = r"'[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}(:[0-9]{2})?'"
    return (f"CASE WHEN regexp_full_match({column}, {pattern}) "
            f"AND substr({column}, 7, 4) BETWEEN '{_YEARS[0]}' AND '{_YEARS[1]}' "
            f"THEN {parsed} END")


def _naive(micros, n_rows: int) -> pd.Series:
    values = np.ma.filled(np.ma.asarray(micros, dtype="int64"), np.iinfo("int64").min)
    out = np.where(values == np.iinfo("int64").min, np.iinfo("int64").min, values * 1000)
    return pd.Series(out.view("datetime64[ns]"), index=pd.RangeIndex(n_rows))


def _bools(values) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(values, dtype=bool), False)
