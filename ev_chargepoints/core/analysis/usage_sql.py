"""Utilisation's session figures defined once in SQL, run by DuckDB over the Parquet usage
history (the same rules as the numpy engine, :mod:`.utilisation`, which stays the
reference for in-memory frames).

Per group (a reconciled device, or a device and connector) and UK local calendar month
the SQL sums: sessions, kWh, plugged-in time split at local midnights, in-use days, idle
time, and the quality flags of :mod:`.quality`; plus the sessions per (device, usage
source, month) that :mod:`.usage_coverage` needs. A quarter or year is the sum of its
months (months are unions of local days). Availability, ratings, capacity, the row rule,
uptime and ratios come from the numpy engine's own assembly
(:func:`.utilisation.assemble`), so both engines give the same frame.

Local days need no time-zone functions: two small tables are joined instead, ``hours``
(each UTC hour since the epoch -> its local day and month; UK midnights fall on whole
UTC hours) and ``days`` (local day -> its UTC bounds and month), built from
:func:`.calendar.local_midnights`. Times are integer microseconds since the epoch.
The text is plain SQL except for the few spots in :data:`DIALECTS` (microseconds of a
timestamp, integer division, NaN, counting the bits of a bigint, a series of days);
PostgreSQL could run it with the other entry (untested there; its planner will not
hash-join the NULL-safe ``IS NOT DISTINCT FROM`` connector matches, which DuckDB does).

Reconciliation enters as a small mapping table: the distinct (source, device_id,
connector_id) of the sessions -> reconciled device, computed in Python by
:class:`.reconciliation.Reconciliation` on those few rows only. The pairs' ratings
(``impossible_energy``) are another small table.

The local engine runs the same rules on integer codes (:data:`BASE_CODED_SQL`,
:data:`MONTHS_CODED_SQL`, :data:`COUNTS_CODED_SQL`: strings joined once, no day split,
the overlap window on integers), about twice as fast on 10 M sessions; MONTHS_SQL stays
the text PostgreSQL runs (tests hold both to the same month sums).

Incremental use (:class:`.usage_sql_engine.MonthCache`) recomputes only the months from
a given one:
every per-session figure belongs to the month the session starts in, plugged time and
in-use days to the month of the day; sessions that start earlier but end in those
months are read as well (their plugged time spills over; an earlier session still
plugged in can make a later one ``overlapping``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..calendar import LOCAL_TZ, STEP_MONTHS, local_midnights, period_label
from .quality import (
    ENERGY_ALLOWANCE_KWH,
    ENERGY_TOLERANCE,
    FLAGS,
    LONG_SESSION_HOURS,
)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
SECOND_US = 1_000_000
DIALECTS = {
    "duckdb": {"us": "epoch_us({})", "div": "(({}) // ({}))", "nan": "CAST('NaN' AS DOUBLE)",
               "bit_count": "bit_count(bit_or(days))", "bits": "bit_count({})",
               "series": "unnest(range({}, ({}) + 1))"},
    # PostgreSQL: the relation gives the times as µs since the epoch already
    # (core/store/postgis/usage_months.py: computed once per row behind OFFSET 0, as
    # PostgreSQL would recompute an expression at every use); since=None there
    "postgres": {"us": "{}",
                 # floor division of bigints (div() is numeric's: slow, and no hash
                 # joins on it); every divisor here is a positive constant
                 "div": "((({0}) / ({1})) - (({0}) % ({1}) < 0)::int)",
                 "nan": "CAST('NaN' AS float8)",
                 "bit_count": "bit_count(bit_or(days)::bit(64))",
                 "bits": "bit_count(({})::bit(64))",
                 "series": "generate_series({}, {})"},
}
SUM_COLUMNS = ("sessions", "kwh", "plugged_us", "in_use_days", "idle_us", "idle_base_us",
               *[f"flag_{f}" for f in FLAGS])
MONTH_COLUMNS = ("dev", "con", "m", *SUM_COLUMNS, "first_closed", "last_closed",
                 "first_start", "last_start")
INTEGER_SUMS = ("sessions", "in_use_days", *[f"flag_{f}" for f in FLAGS])

# Per distinct (source, device, connector): the time span, for the month range, the
# analysis window and t0 (the overlap check counts whole seconds from the first start
# of a closed session, as quality.overlap_flags).
TRIPLES_SQL = """
SELECT source, device_id, connector_id,
       min({us_s}) AS first_start, max({us_s}) AS last_start,
       max(CASE WHEN end_utc >= start_utc THEN {us_e} END) AS last_closed,
       min(CASE WHEN end_utc >= start_utc THEN {us_s} END) AS first_valid
FROM {relation} AS r WHERE device_id IS NOT NULL
GROUP BY source, device_id, connector_id
"""

# The session figures per group and month. {dev}: the reconciled device; {gcon}: the
# connector at connector level, NULL at device level. {since}: the first instant (µs)
# recomputed, {since_day}: its local day (no limit: the lowest values). In-use days are
# bits of a bigint per group and month (bit = day of the month), OR-ed and counted last.
MONTHS_SQL = """
WITH base AS NOT MATERIALIZED (
    SELECT {dev} AS dev, r.connector_id AS con, {us_s} AS s, {us_e} AS e, {us_c} AS ce,
           NULLIF(r.kwh, {nan}) AS kwh, r.import_id AS imp, r.session_key AS sk
    FROM {relation} AS r {map_join}
    WHERE r.device_id IS NOT NULL AND r.start_utc IS NOT NULL
      {since_filter}),
started AS (
    -- quality.flag_arrays and utilisation's start-period sums (hours as float64
    -- ns / 3.6e12); the plugged time of a session within one local day
    SELECT b.dev, {gcon} AS con, hs.m AS m,
        count(CASE WHEN e >= s THEN 1 END) AS sessions,
        sum(CASE WHEN e >= s THEN coalesce(kwh, 0) ELSE 0 END) AS kwh,
        sum(CASE WHEN e > s AND NOT ({crosses}) THEN e - s ELSE 0 END) AS plugged_us,
        bit_or(CASE WHEN e > s AND NOT ({crosses}) THEN {one} << hs.dm END) AS days,
        sum(CASE WHEN e >= s AND ce IS NOT NULL
                 THEN e - least(greatest(ce, s), e) ELSE 0 END) AS idle_us,
        sum(CASE WHEN e >= s AND ce IS NOT NULL THEN e - s ELSE 0 END) AS idle_base_us,
        count(CASE WHEN e IS NULL THEN 1 END) AS flag_open,
        count(CASE WHEN e < s THEN 1 END) AS flag_end_before_start,
        count(CASE WHEN e >= s AND kwh IS NULL THEN 1 END) AS flag_missing_kwh,
        count(CASE WHEN e >= s AND CAST((e - s) * 1000 AS DOUBLE PRECISION) / 3600000000000.0
                   > {long_hours} THEN 1 END) AS flag_over_72h,
        min(CASE WHEN e >= s THEN s END) AS first_closed,
        max(CASE WHEN e >= s THEN e END) AS last_closed,
        min(s) AS first_start, max(s) AS last_start
    FROM base AS b JOIN {hours} AS hs ON hs.h = {div_s_hour}
    WHERE s >= {since}
    GROUP BY b.dev, {gcon}, hs.m),
several AS (
    -- sessions that may span local days (they cross the time of day of a
    -- local midnight; the others lie within one local day and are summed above), one
    -- row per local day they touch (an equi-join on the day: a range join to the days
    -- table is several times slower)
    SELECT b.dev, b.con, b.s, b.e, {day_series} AS d
    FROM base AS b JOIN {hours} AS hs ON hs.h = {div_s_hour}
    JOIN {hours} AS he ON he.h = {div_e1_hour}
    WHERE b.e > b.s AND b.e > {since} AND ({crosses})),
spread AS (
    -- one piece per day, split at local midnights
    SELECT b.dev, {gcon} AS con, dd.m, sum(least(b.e, dd.hi) - greatest(b.s, dd.lo)) AS us,
           bit_or({one} << dd.dm) AS days
    FROM several AS b JOIN {days} AS dd ON dd.d = b.d
    WHERE dd.d >= {since_day}
    GROUP BY b.dev, {gcon}, dd.m),
impossible AS (
    -- more energy than the rating allows; only sessions above the lowest rating of
    -- all can be above their own (the float steps are monotonic in the rating)
    SELECT b.dev, {gcon} AS con, hs.m, count(*) AS n
    FROM base AS b JOIN {hours} AS hs ON hs.h = {div_s_hour}
    JOIN {rated} AS pr ON pr.dev = b.dev AND pr.con IS NOT DISTINCT FROM b.con
    WHERE b.e >= b.s AND b.s >= {since}
      AND b.kwh > {lowest} * (CAST((b.e - b.s) * 1000 AS DOUBLE PRECISION) / 3600000000000.0)
                  * {tolerance} + {allowance}
      AND b.kwh > pr.rated * (CAST((b.e - b.s) * 1000 AS DOUBLE PRECISION) / 3600000000000.0)
                  * {tolerance} + {allowance}
    GROUP BY b.dev, {gcon}, hs.m),
overlapped AS (
    -- quality.overlap_flags: (connector, whole second from t0, stored order); a session
    -- overlaps when it starts before an earlier one on its connector has ended
    SELECT dev, con, s, {div_s_sec} < max({div_e_sec}) OVER (
               PARTITION BY dev, con ORDER BY {div_s_sec}, imp, sk
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS later
    FROM base WHERE e >= s),
overlap_counts AS (
    SELECT o.dev, {gcon_o} AS con, hs.m AS m, count(*) AS n
    FROM overlapped AS o JOIN {hours} AS hs ON hs.h = {div_os_hour}
    WHERE o.later AND o.s >= {since}
    GROUP BY o.dev, {gcon_o}, hs.m),
everything AS (
    SELECT dev, con, m, sessions, kwh, plugged_us, days, idle_us, idle_base_us,
           flag_open, flag_end_before_start, flag_missing_kwh,
           0 AS flag_impossible_energy, flag_over_72h, 0 AS flag_overlapping,
           first_closed, last_closed, first_start, last_start
    FROM started
    UNION ALL
    SELECT dev, con, m, 0, 0, us, days, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL
    FROM spread
    UNION ALL
    SELECT dev, con, m, 0, 0, 0, NULL, 0, 0, 0, 0, 0, n, 0, 0, NULL, NULL, NULL, NULL
    FROM impossible
    UNION ALL
    SELECT dev, con, m, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0, n, NULL, NULL, NULL, NULL
    FROM overlap_counts)
SELECT dev, con, m,
       CAST(sum(sessions) AS BIGINT) AS sessions, CAST(sum(kwh) AS DOUBLE PRECISION) AS kwh,
       CAST(sum(plugged_us) AS BIGINT) AS plugged_us,
       CAST(coalesce({bit_count}, 0) AS BIGINT) AS in_use_days,
       CAST(sum(idle_us) AS BIGINT) AS idle_us,
       CAST(sum(idle_base_us) AS BIGINT) AS idle_base_us,
       CAST(sum(flag_open) AS BIGINT) AS flag_open,
       CAST(sum(flag_end_before_start) AS BIGINT) AS flag_end_before_start,
       CAST(sum(flag_missing_kwh) AS BIGINT) AS flag_missing_kwh,
       CAST(sum(flag_impossible_energy) AS BIGINT) AS flag_impossible_energy,
       CAST(sum(flag_over_72h) AS BIGINT) AS flag_over_72h,
       CAST(sum(flag_overlapping) AS BIGINT) AS flag_overlapping,
       min(first_closed) AS first_closed, max(last_closed) AS last_closed,
       min(first_start) AS first_start, max(last_start) AS last_start
FROM everything GROUP BY dev, con, m
"""

# The same month sums on integer codes (DuckDB's local engine; MONTHS_SQL stays the
# reference and PostgreSQL's text). BASE_CODED_SQL reads the sessions once into a
# temporary table of integers: every (source, device, connector) joins ucs_codes once for
# its code t, its group g (the reconciled device, or the device and connector) and its
# pair p (device and connector: the overlap check's group); {order}: the stored order
# (import_id and row number in the part, or import_id and session_key). The month sums
# then read that table: the overlap window partitions and sorts integers only; plugged
# time and in-use days need no day split: a session adds its piece of the month it
# starts in (up to the month's end; its days as a range of bits) and, only when it runs
# past that month's end (rare), one piece per later month it reaches (ucs_months).
# ucs_hours also gives each hour's month end (mhi, µs) and its month's last day (ml).
# A group and month is one integer key k = g * {n_months} + m - {m0}; the few pieces of
# later months and overlaps join the per-start sums instead of a second group-by over
# all; strings come back once, from ucs_groups, for the result rows.
BASE_CODED_SQL = """
SELECT g, p, ds, s, e, kwh, {order_out},
       -- idle time (quality: charging end clamped into the session), NULL without one
       CASE WHEN ce IS NOT NULL THEN e - least(greatest(ce, s), e) END AS idle,
       -- more energy than the pair's rating allows (impossible_energy)
       e >= s AND kwh > rated * (CAST((e - s) * 1000 AS DOUBLE PRECISION) / 3600000000000.0)
                      * {tolerance} + {allowance} AS impossible
FROM (SELECT CAST(k.g AS INTEGER) AS g, CAST(k.p AS INTEGER) AS p,
             CAST(k.ds AS INTEGER) AS ds, k.rated, {us_s} AS s, {us_e} AS e,
             {us_c} AS ce, NULLIF(r.kwh, {nan}) AS kwh, {order_cols}
      FROM {sessions} AS r JOIN ucs_codes AS k ON k.device_id = r.device_id
           AND k.source IS NOT DISTINCT FROM r.source
           AND k.connector_id IS NOT DISTINCT FROM r.connector_id
      WHERE r.start_utc IS NOT NULL) AS r
"""

MONTHS_CODED_SQL = """
WITH started AS (
    SELECT b.g * {n_months} + hs.m - {m0} AS k,
        count(CASE WHEN e >= s THEN 1 END) AS sessions,
        sum(CASE WHEN e >= s THEN coalesce(kwh, 0) ELSE 0 END) AS kwh,
        sum(CASE WHEN e > s THEN least(e, hs.mhi) - s ELSE 0 END) AS plugged_us,
        bit_or(CASE WHEN e > s THEN ({one} << (CASE WHEN e > hs.mhi THEN hs.ml ELSE he.dm END
                                              + 1)) - ({one} << hs.dm) END) AS days,
        sum(CASE WHEN e >= s AND idle IS NOT NULL THEN idle ELSE 0 END) AS idle_us,
        sum(CASE WHEN e >= s AND idle IS NOT NULL THEN e - s ELSE 0 END) AS idle_base_us,
        count(CASE WHEN e IS NULL THEN 1 END) AS flag_open,
        count(CASE WHEN e < s THEN 1 END) AS flag_end_before_start,
        count(CASE WHEN e >= s AND kwh IS NULL THEN 1 END) AS flag_missing_kwh,
        count(CASE WHEN impossible THEN 1 END) AS flag_impossible_energy,
        count(CASE WHEN e >= s AND CAST((e - s) * 1000 AS DOUBLE PRECISION) / 3600000000000.0
                   > {long_hours} THEN 1 END) AS flag_over_72h,
        min(CASE WHEN e >= s THEN s END) AS first_closed,
        max(CASE WHEN e >= s THEN e END) AS last_closed,
        min(s) AS first_start, max(s) AS last_start
    FROM ucs_base AS b JOIN ucs_hours AS hs ON hs.h = {div_s_hour}
    LEFT JOIN ucs_hours AS he ON he.h = {div_e1_hour} AND b.e > b.s
    WHERE b.s >= {since}
    GROUP BY b.g * {n_months} + hs.m - {m0}),
later_months AS (
    -- sessions running past the end of the month they start in: one row per later month
    SELECT b.g, b.e, he.m AS em, he.dm AS edm, {month_series} AS mm
    FROM ucs_base AS b JOIN ucs_hours AS hs ON hs.h = {div_s_hour}
    JOIN ucs_hours AS he ON he.h = {div_e1_hour}
    WHERE b.e > hs.mhi AND b.e > {since}),
spread AS (
    SELECT b.g * {n_months} + mo.m - {m0} AS k, least(b.e, mo.hi) - mo.lo AS us,
           ({one} << ((CASE WHEN mo.m = b.em THEN b.edm ELSE mo.ml END) + 1)) - 1 AS days,
           0 AS n
    FROM later_months AS b JOIN ucs_months AS mo ON mo.m = b.mm
    WHERE mo.m >= {since_month}),
overlapped AS (
    -- quality.overlap_flags: (connector, whole second from t0, stored order); a session
    -- overlaps when it starts before an earlier one on its connector has ended
    -- (the window keeps only integers it needs: pair, seconds, order, group and month)
    SELECT k, ss < max(es) OVER (PARTITION BY p ORDER BY ss, {order}
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS later
    FROM (SELECT b.p, {div_s_sec} AS ss, {div_e_sec} AS es, {order_b},
                 b.g * {n_months} + hs.m - {m0} AS k
          FROM ucs_base AS b JOIN ucs_hours AS hs ON hs.h = {div_s_hour}
          WHERE b.e >= b.s) AS c),
extra AS (
    SELECT k, sum(us) AS us, bit_or(days) AS days, sum(n) AS n
    FROM (SELECT * FROM spread
          UNION ALL
          SELECT k, 0, CAST(NULL AS BIGINT), 1
          FROM overlapped WHERE later AND k % {n_months} >= {since_k}) AS x
    GROUP BY k),
summed AS (
    SELECT coalesce(st.k, x.k) AS k,
       CAST(coalesce(st.sessions, 0) AS BIGINT) AS sessions,
       CAST(coalesce(st.kwh, 0) AS DOUBLE PRECISION) AS kwh,
       CAST(coalesce(st.plugged_us, 0) + coalesce(x.us, 0) AS BIGINT) AS plugged_us,
       CAST({bits} AS BIGINT) AS in_use_days,
       CAST(coalesce(st.idle_us, 0) AS BIGINT) AS idle_us,
       CAST(coalesce(st.idle_base_us, 0) AS BIGINT) AS idle_base_us,
       CAST(coalesce(st.flag_open, 0) AS BIGINT) AS flag_open,
       CAST(coalesce(st.flag_end_before_start, 0) AS BIGINT) AS flag_end_before_start,
       CAST(coalesce(st.flag_missing_kwh, 0) AS BIGINT) AS flag_missing_kwh,
       CAST(coalesce(st.flag_impossible_energy, 0) AS BIGINT) AS flag_impossible_energy,
       CAST(coalesce(st.flag_over_72h, 0) AS BIGINT) AS flag_over_72h,
       CAST(coalesce(x.n, 0) AS BIGINT) AS flag_overlapping,
       st.first_closed, st.last_closed, st.first_start, st.last_start
    FROM started AS st FULL OUTER JOIN extra AS x ON x.k = st.k)
SELECT gr.dev, gr.con, CAST({div_k_month} + {m0} AS BIGINT) AS m, {sums}
FROM summed AS y JOIN ucs_groups AS gr ON gr.g = {div_k_group}
"""

# usage_coverage.session_counts per month from ucs_base: per (device, source) code ds.
COUNTS_CODED_SQL = """
SELECT d.dev, d.source, y.m, y.n
FROM (SELECT b.ds, hs.m, count(*) AS n
      FROM ucs_base AS b JOIN ucs_hours AS hs ON hs.h = {div_s_hour}
      WHERE b.s >= {since}
      GROUP BY b.ds, hs.m) AS y
JOIN ucs_sourced AS d ON d.ds = y.ds
"""

# usage_coverage.session_counts per month: every session with a start and a device.
COUNTS_SQL = """
SELECT {dev} AS dev, coalesce(r.source, '') AS source, hs.m AS m, count(*) AS n
FROM {relation} AS r {map_join}
JOIN {hours} AS hs ON hs.h = {div_s_hour}
WHERE r.device_id IS NOT NULL AND {where}
GROUP BY {dev}, coalesce(r.source, ''), hs.m
"""


def month_index(year: int, month: int) -> int:
    """Months since year 0 (calendar.period_index for "month")."""
    return year * 12 + month - 1


def month_start_us(m: int) -> int:
    """The UTC instant (µs) at which local month ``m`` begins."""
    stamp = pd.Timestamp(year=m // 12, month=m % 12 + 1, day=1).tz_localize(LOCAL_TZ)
    return stamp.value // 1000


def month_of_us(us: int) -> int:
    """The local month holding the instant ``us``."""
    local = pd.Timestamp(us * 1000, tz="UTC").tz_convert(LOCAL_TZ)
    return month_index(local.year, local.month)


def calendar_tables(first_month: int, last_month: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(hours, days) tables for the local months first_month..last_month: ``hours`` maps
    each UTC hour since the epoch (h) to its local day (d), month (m) and day of the month
    (dm, from 0); ``days`` gives each local day's UTC bounds in µs (lo, hi), m and dm."""
    bounds = np.array([month_start_us(first_month), month_start_us(last_month + 1)]) * 1000
    mid = local_midnights(bounds) // 1000
    if (mid % HOUR_US).any():
        raise ValueError("local midnights must fall on whole UTC hours")
    lo, hi = mid[:-1], mid[1:]
    local = pd.DatetimeIndex(lo * 1000, tz="UTC").tz_convert(LOCAL_TZ)
    m = (local.year * 12 + local.month - 1).to_numpy(np.int64)
    d = np.arange(len(lo), dtype=np.int64)
    dm = (local.day - 1).to_numpy(np.int64)
    days = pd.DataFrame({"d": d, "lo": lo, "hi": hi, "m": m, "dm": dm})
    n_hours = (hi - lo) // HOUR_US
    hour_day = np.repeat(d, n_hours)
    first = np.repeat(lo // HOUR_US - np.cumsum(n_hours) + n_hours, n_hours)
    hours = pd.DataFrame({"h": first + np.arange(len(hour_day)), "d": hour_day,
                          "m": m[hour_day], "dm": dm[hour_day]})
    return hours, days


def _dialect(name: str) -> dict:
    sql = DIALECTS[name]

    def us(x):
        return sql["us"].format(x)

    def div(a, b):
        return sql["div"].format(a, b)
    return {"us": us, "div": div, "nan": sql["nan"], "bit_count": sql["bit_count"],
            "series": sql["series"], "bits": sql["bits"]}


def triples_sql(relation: str, dialect: str = "duckdb") -> str:
    f = _dialect(dialect)
    return TRIPLES_SQL.format(relation=relation, us_s=f["us"]("start_utc"),
                              us_e=f["us"]("end_utc"))


def _map_join(mapped: bool) -> tuple[str, str]:
    if not mapped:
        return "r.device_id", ""
    return ("coalesce(mp.rdev, r.device_id)",
            "LEFT JOIN ucs_map AS mp ON mp.device_id = r.device_id"
            " AND mp.source IS NOT DISTINCT FROM r.source"
            " AND mp.connector_id IS NOT DISTINCT FROM r.connector_id")


def months_sql(relation: str, by: str, t0: int, since: int | None, since_day: int | None,
               mapped: bool, lowest_kw: float | None = None, dialect: str = "duckdb",
               midnight_offsets=None) -> str:
    """The month sums query (columns :data:`MONTH_COLUMNS`) over ``relation``, with the
    tables ucs_map (when ``mapped``), ucs_rated, ucs_hours and ucs_days in scope.
    ``midnight_offsets``: the times of day (µs after UTC midnight) at which the local
    midnights of ucs_days fall (:func:`midnight_offsets`); with them, only sessions that
    cross such a time of day are joined to the calendar to be split (a session that
    crosses a local midnight crosses its time of day; plain arithmetic filters the rest)."""
    f = _dialect(dialect)
    us, div = f["us"], f["div"]
    crosses = "true" if midnight_offsets is None else " OR ".join(
        f"{div(f'b.s - ({int(o)})', DAY_US)} <> {div(f'b.e - 1 - ({int(o)})', DAY_US)}"
        for o in sorted(set(int(o) for o in midnight_offsets))) or "false"
    dev, join = _map_join(mapped)
    low = -(2 ** 62)
    since_us = low if since is None else int(since)
    since_filter = "" if since is None else \
        f"AND (r.start_utc >= {_timestamp(since_us)} OR r.end_utc >= {_timestamp(since_us)})"
    return MONTHS_SQL.format(
        relation=relation, dev=dev, map_join=join, nan=f["nan"],
        us_s=us("r.start_utc"), us_e=us("r.end_utc"), us_c=us("r.charging_end_utc"),
        gcon="b.con" if by == "connector" else "CAST(NULL AS VARCHAR)",
        gcon_o="o.con" if by == "connector" else "CAST(NULL AS VARCHAR)",
        hours="ucs_hours", days="ucs_days", rated="ucs_rated",
        div_s_hour=div("b.s", HOUR_US), div_os_hour=div("o.s", HOUR_US),
        div_e1_hour=div("b.e - 1", HOUR_US),
        div_s_sec=div(f"s - ({int(t0)})", SECOND_US), div_e_sec=div(f"e - ({int(t0)})", SECOND_US),
        tolerance=repr(float(ENERGY_TOLERANCE)), allowance=repr(float(ENERGY_ALLOWANCE_KWH)),
        lowest="CAST(NULL AS DOUBLE PRECISION)" if lowest_kw is None else repr(float(lowest_kw)),
        one="CAST(1 AS BIGINT)", bit_count=f["bit_count"],
        long_hours=int(LONG_SESSION_HOURS), since=since_us, since_filter=since_filter,
        since_day=-1 if since_day is None else int(since_day), crosses=crosses,
        day_series=f["series"].format("hs.d", "he.d"))


def coded_sql(relation: str, t0: int, since: int | None, since_month: int | None,
              first_month: int, last_month: int,
              order: tuple[str, str] = ("import_id", "session_key"),
              dialect: str = "duckdb") -> dict[str, str]:
    """The queries on integer codes: "base" (:data:`BASE_CODED_SQL`, to be made the
    table ucs_base), then "months" (:data:`MONTHS_CODED_SQL`, columns
    :data:`MONTH_COLUMNS`) and "counts" (:data:`COUNTS_CODED_SQL`) over it, with the
    tables of :func:`key_tables` and :func:`month_tables` in scope. ``order``: the
    relation's two columns giving the stored order (import_id and session_key, or
    import_id and the row number in the part: the same order, the parts being sorted by
    session_key). ``since``: the first recomputed month's start (µs), ``since_month``
    its index; ``first_month`` and ``last_month``: the months of ucs_hours."""
    f = _dialect(dialect)
    us, div = f["us"], f["div"]
    since_us = -(2 ** 62) if since is None else int(since)
    sessions = relation
    if since is not None:  # two scans whose filters reach the Parquet reader (an OR does not)
        at = _timestamp(since_us)
        sessions = (f"(SELECT * FROM {relation} AS x WHERE x.start_utc >= {at} UNION ALL"
                    f" SELECT * FROM {relation} AS x WHERE x.start_utc < {at}"
                    f" AND x.end_utc >= {at})")
    n_months = int(last_month) - int(first_month) + 1
    sums = ", ".join(f"y.{n}" for n in MONTH_COLUMNS[3:])
    if order[1] == "_rn":  # one integer (row numbers in a part < 2**32)
        order_cols = f"r.{order[0]} * 4294967296 + r._rn AS o0"
        ordering = ["o0"]
    else:
        order_cols = ", ".join(f"r.{c} AS o{i}" for i, c in enumerate(order))
        ordering = ["o0", "o1"]
    common = {"div_s_hour": div("b.s", HOUR_US), "since": since_us}
    return {
        "base": BASE_CODED_SQL.format(
            sessions=sessions, nan=f["nan"],
            order_cols=order_cols, order_out=", ".join(ordering),
            tolerance=repr(float(ENERGY_TOLERANCE)), allowance=repr(float(ENERGY_ALLOWANCE_KWH)),
            us_s=us("r.start_utc"), us_e=us("r.end_utc"), us_c=us("r.charging_end_utc")),
        "months": MONTHS_CODED_SQL.format(
            div_e1_hour=div("b.e - 1", HOUR_US), div_s_sec=div(f"s - ({int(t0)})", SECOND_US),
            div_e_sec=div(f"e - ({int(t0)})", SECOND_US),
            order=", ".join(ordering), order_b=", ".join(f"b.{o}" for o in ordering),
            one="CAST(1 AS BIGINT)", long_hours=int(LONG_SESSION_HOURS),
            since_month=-1 if since_month is None else int(since_month),
            month_series=f["series"].format("hs.m + 1", "he.m"), sums=sums,
            n_months=n_months, m0=int(first_month),
            bits=f["bits"].format("coalesce(st.days, 0) | coalesce(x.days, 0)"),
            div_k_month=f"(y.k - {div('y.k', n_months)} * {n_months})",
            div_k_group=div("y.k", n_months),
            since_k=-(2 ** 62) if since_month is None else int(since_month) - int(first_month),
            **common),
        "counts": COUNTS_CODED_SQL.format(**common)}


def key_tables(triples: pd.DataFrame, mapping: pd.DataFrame, rated: pd.DataFrame,
               by: str) -> dict[str, pd.DataFrame]:
    """The tables of the keys :func:`coded_sql` joins (with :func:`month_tables`):
    ucs_codes (each distinct source, device_id, connector_id of ``triples`` -> its code
    t, group g, pair p, device and source ds, the pair's rating or NULL), ucs_groups (g ->
    dev, con; con NULL at device level) and ucs_sourced (ds -> dev, source; "" for none).
    ``mapping`` and ``rated`` as :func:`register_tables` takes them."""
    keys = triples[["source", "device_id", "connector_id"]].reset_index(drop=True)
    dev = keys["device_id"].to_numpy(object).copy()
    if len(mapping) and len(keys):
        hit = keys.merge(mapping.assign(_i=np.arange(len(mapping))), how="left",
                         on=["source", "device_id", "connector_id"])["_i"].to_numpy()
        found = ~np.isnan(hit)
        dev[found] = mapping["rdev"].to_numpy(object)[hit[found].astype(np.int64)]
    # numpy arrays in, numpy arrays out: a Series would make an Index of the uniques, which
    # warns (FutureWarning, on stderr) when they are all numbers or all missing
    dc, devs = pd.factorize(np.asarray(dev, dtype=object), use_na_sentinel=False)
    cc, cons = pd.factorize(keys["connector_id"].to_numpy(object), use_na_sentinel=False)
    n_cons = max(len(cons), 1)
    p, pair_key = pd.factorize(dc.astype(np.int64) * n_cons + cc)
    devs, cons = _nulls(devs), _nulls(cons)
    pair_dev, pair_con = devs[pair_key // n_cons], cons[pair_key % n_cons]
    kw = np.full(len(pair_key), np.nan)
    if len(rated) and len(pair_key):
        rd = pd.Index(devs, dtype=object).get_indexer(rated["dev"].to_numpy(object))
        rc = pd.Index(cons, dtype=object).get_indexer(rated["con"].to_numpy(object))
        known = (rd >= 0) & (rc >= 0)
        at = pd.Index(pair_key).get_indexer(rd[known] * n_cons + rc[known])
        kw[at[at >= 0]] = rated["rated"].to_numpy(np.float64)[known][at >= 0]
    if by == "connector":
        g = p
        groups = pd.DataFrame({"g": np.arange(len(pair_key), dtype=np.int64), "dev": pair_dev,
                               "con": pd.Series(pair_con, dtype=object)})
    else:
        g = dc
        groups = pd.DataFrame({"g": np.arange(len(devs), dtype=np.int64), "dev": devs,
                               "con": pd.Series([None] * len(devs), dtype=object)})
    src_code, sources = pd.factorize(keys["source"].astype(object).fillna(""))
    ds, ds_key = pd.factorize(dc.astype(np.int64) * max(len(sources), 1) + src_code)
    sourced = pd.DataFrame({"ds": np.arange(len(ds_key), dtype=np.int64),
                            "dev": devs[ds_key // max(len(sources), 1)],
                            "source": np.asarray(sources, dtype=object)[
                                ds_key % max(len(sources), 1)]})
    codes = keys.assign(t=np.arange(len(keys), dtype=np.int64), g=np.asarray(g, np.int64),
                        p=np.asarray(p, np.int64), ds=np.asarray(ds, np.int64),
                        rated=kw[p] if len(p) else np.zeros(0))
    return {"ucs_codes": codes, "ucs_groups": groups, "ucs_sourced": sourced}


def month_tables(first_month: int, last_month: int) -> dict[str, pd.DataFrame]:
    """The calendar tables :func:`coded_sql` joins for the months ``first_month`` to
    ``last_month``: ucs_hours (h -> m, dm, the month's end mhi and last day ml) and
    ucs_months (m -> lo, hi, ml)."""
    hours, days = calendar_tables(first_month, last_month)
    months = days.groupby("m", sort=True).agg(lo=("lo", "min"), hi=("hi", "max"),
                                             ml=("dm", "max")).reset_index()
    at = months.set_index("m").loc[hours["m"]]
    hours = hours.assign(mhi=at["hi"].to_numpy(np.int64), ml=at["ml"].to_numpy(np.int64))
    return {"ucs_hours": hours, "ucs_months": months}


def _nulls(values) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[pd.isna(out)] = None
    return out


def midnight_offsets(days: pd.DataFrame) -> list[int]:
    """The distinct times of day (µs after UTC midnight) of the local midnights
    bounding the days of ``days`` (:func:`calendar_tables`); for Europe/London 0 and
    23 h."""
    bounds = np.concatenate([days["lo"].to_numpy(np.int64), days["hi"].to_numpy(np.int64)])
    return sorted(int(o) for o in np.unique(bounds % DAY_US))


def counts_sql(relation: str, since: int | None, mapped: bool, dialect: str = "duckdb") -> str:
    f = _dialect(dialect)
    dev, join = _map_join(mapped)
    where = "r.start_utc IS NOT NULL" if since is None else \
        f"r.start_utc >= {_timestamp(int(since))}"
    return COUNTS_SQL.format(relation=relation, dev=dev, map_join=join, hours="ucs_hours",
                             div_s_hour=f["div"](f["us"]("r.start_utc"), HOUR_US),
                             where=where)


def _timestamp(us: int) -> str:
    return f"CAST('{pd.Timestamp(int(us) * 1000, tz='UTC').isoformat()}' AS TIMESTAMPTZ)"


def register_tables(con, mapping: pd.DataFrame, rated: pd.DataFrame, first_month: int,
                    last_month: int) -> None:
    """The small tables the queries join: ucs_map (source, device_id, connector_id ->
    rdev; only the rows reconciliation changes), ucs_rated (dev, con -> rated kW, only
    positive ratings), ucs_hours and ucs_days. Returns :func:`midnight_offsets` of the
    days."""
    hours, days = calendar_tables(first_month, last_month)
    for name, frame in (("ucs_map", mapping), ("ucs_rated", rated), ("ucs_hours", hours),
                        ("ucs_days", days)):
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.register(f"_{name}_frame", frame)
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM _{name}_frame")
        con.unregister(f"_{name}_frame")
    return midnight_offsets(days)


def period_labels(months: np.ndarray, period: str) -> np.ndarray:
    """The label of the ``period`` holding each month index."""
    out = np.empty(len(months), dtype=object)
    uniq, inverse = np.unique(np.asarray(months, dtype=np.int64), return_inverse=True)
    names = np.array([period_label(int(m) // 12, int(m) % 12 + 1, period) for m in uniq],
                     dtype=object)
    out[:] = names[inverse] if len(uniq) else []
    return out


def month_to_period(months: np.ndarray, period: str) -> np.ndarray:
    """calendar.period_index of each month index for ``period``."""
    step = STEP_MONTHS[period]
    return np.asarray(months, dtype=np.int64) // step
