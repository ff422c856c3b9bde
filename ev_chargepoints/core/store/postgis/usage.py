"""Utilisation computed by PostgreSQL, for the shared (PostGIS) store.

:func:`utilisation` returns the frame ``Workspace.utilisation`` gives for a
GeoPackage store (the pandas engine in :mod:`.utilisation` on the store's
frames, rows kept for devices with sessions): the same columns, dtypes, row
order and figures, under the rules of :func:`.utilisation.definitions`. The
sessions never leave the database; only sums per device (or connector) and
period come back.

Two parallel scans of the sessions do the work. One sums them per connector
and *block* of local days (a block is at most 60 days of one period, so a
session's in-use days are bits of one ``bigint``; a session's local days come
from a binary search in the UK local midnights of the window, so clock-change
days have 23 or 25 hours). Most sessions are plain: closed, with energy, at most
72 hours, within one block; their sums need no per-day work. The few others
(open, ending before they start, without energy, over 72 hours, or crossing a
block's end) are kept one by one and split into local days afterwards. The other
scan sorts narrow rows by connector and start for the overlap check (a running
maximum of earlier sessions' ends) and counts only the sessions that overlap.
Energy above the rating is checked only for sessions above the lowest rating in
the store, joined to their connector's rating.

What stays in Python is small and shared with the pandas engine: the periods
(:func:`.calendar.period_bounds`), the analysis window
(:func:`.utilisation.data_window`), the period columns, labels and ratios, and
uptime from status snapshots (:func:`.uptime.device_status_sums`).

Everything is read in one ``REPEATABLE READ`` transaction, so an import
committed meanwhile is either wholly in the figures or not at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis.quality import (
    ENERGY_ALLOWANCE_KWH,
    ENERGY_TOLERANCE,
    FLAGS,
    LONG_SESSION_HOURS,
)
from ...analysis.uptime import DEFAULT_MAX_GAP_HOURS, device_status_sums
from ...analysis.usage_coverage import keep_covered, usage_coverage
from ...analysis.usage_sums import add_ratios
from ...analysis.utilisation import data_window, empty_result
from ...calendar import (
    NAT,
    PERIOD_KINDS,
    local_midnights,
    ns_utc,
    period_columns,
    period_grid,
)
from ...progress import SILENT, Progress
from .schema import SCHEMA

MAX_STATUS_GAP_HOURS = DEFAULT_MAX_GAP_HOURS  # as the pandas engine
_HOUR_NS = 3_600_000_000_000
_BLOCK_DAYS = 60  # in-use days of a block are bits of one bigint
_INTEGER_COLUMNS = ("sessions", "in_use_days", *[f"flag_{f}" for f in FLAGS])

# Sessions are partitioned for the overlap check by a 64-bit hash of (device,
# connector): sorting integers is several times faster than sorting text. Two
# connectors sharing a hash would be checked as one, so the query reports whether
# any do, and is then run again partitioned by the ids themselves.
_PAIR_HASH = ("hashtextextended(device_id, 0)"
              " # coalesce(hashtextextended(connector_id, 1), 0)")
_PARTITION = {False: "h", True: "h, device_id, connector_id"}
_EXACT_JOIN = {False: "", True: " AND pr.device_id = o.device_id"
                                " AND pr.cid = coalesce(o.connector_id, '')"
                                " AND pr.cnull = (o.connector_id IS NULL)"}
_GROUP_KEY = {"device": "did", "connector": "gid"}


def _us(expression: str) -> str:
    """Microseconds since the epoch, exact (a float8 epoch is within 0.3 µs)."""
    return f"round(date_part('epoch', {expression}) * 1000000)::bigint"


_WINDOW_SQL = f"""
SELECT min(start_utc), max(start_utc), max(end_utc) FILTER (WHERE end_utc >= start_utc),
       min(start_utc) FILTER (WHERE end_utc >= start_utc)
FROM {SCHEMA}.sessions WHERE device_id IS NOT NULL AND start_utc IS NOT NULL
"""

# The lowest positive rating any session can be checked against: a connector's
# current rating or a device's (any version).
_LOWEST_RATING_SQL = f"""
SELECT least((SELECT min(power_kw) FROM {SCHEMA}.connectors
              WHERE valid_to_utc IS NULL AND power_kw > 0 AND power_kw <> 'NaN'),
             (SELECT min(max_power_kw) FROM {SCHEMA}.devices
              WHERE max_power_kw > 0 AND max_power_kw <> 'NaN'))
"""

# Rules mirrored from utilisation.py (comments name the pandas function):
# - _device_table: connectors = highest devices.connector_count of any version; active
#   from the earliest created_utc (else valid_from_utc) of its versions, to the latest
#   valid_to_utc unless a version is current; max kW from the latest version with one.
# - _connector_ratings: current connectors, the latest row per (device, connector).
# - _connector_kw: a connector's rating from its latest current rated row, else the
#   device's max kW (ids compared as text, a missing id equal to a missing id).
# - quality.flag_arrays / overlap_flags: whole seconds from the first valid start,
#   ties in stored order (fid); a session overlaps when it starts before an earlier
#   one on its connector has ended.
# - "latest" is the highest fid: the order the store's frames are read in.
_MAIN_SQL = """
WITH
overlapped AS (
    -- quality.overlap_flags: sessions in (connector, whole second, fid) order; only
    -- the few that overlap are counted, per block of their start day
    SELECT {partition}, width_bucket(s, %(edges)s::timestamptz[]) AS blk, count(*) AS n
    FROM (SELECT {partition}, s, s_sec,
                 max(e_sec) OVER (PARTITION BY {partition} ORDER BY s_sec, fid
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ended
          FROM (SELECT {pair_hash} AS h, device_id, connector_id, fid, start_utc AS s,
                       floor(date_part('epoch', start_utc - %(t0)s::timestamptz))::bigint
                           AS s_sec,
                       floor(date_part('epoch', end_utc - %(t0)s::timestamptz))::bigint
                           AS e_sec
                FROM {schema}.sessions
                WHERE device_id IS NOT NULL AND end_utc >= start_utc) AS valid) AS ordered
    WHERE s_sec < ended GROUP BY {partition}, blk),
raw AS NOT MATERIALIZED (
    SELECT device_id, connector_id, fid, start_utc AS s, end_utc AS e,
           charging_end_utc AS ce, NULLIF(kwh, 'NaN') AS kwh, {pair_hash} AS h,
           width_bucket(start_utc, %(edges)s::timestamptz[]) AS blk,
           CASE WHEN end_utc >= start_utc THEN
               NULLIF(kwh, 'NaN') IS NULL OR end_utc > start_utc + %(long)s::interval
               OR width_bucket(start_utc, %(edges)s::timestamptz[])
                  <> width_bucket(end_utc - interval '1 microsecond', %(edges)s::timestamptz[])
               ELSE true END AS special
    FROM {schema}.sessions WHERE device_id IS NOT NULL),
grouped AS MATERIALIZED (
    -- plain sessions (closed, with energy, at most 72 hours, within one block of days)
    -- summed per connector and block; the others kept one by one (x)
    SELECT h, device_id, connector_id, blk, NULL::bigint AS x,
           count(*) AS n, sum(kwh) AS kwh, sum(date_part('epoch', e - s)) AS plugged_s,
           -- local days of start to end as bits from the block's first day
           bit_or(CASE WHEN e > s THEN
               (1::bigint << (width_bucket(e - interval '1 microsecond',
                                           %(mid)s::timestamptz[])
                              - (%(block_first)s::int[])[blk] + 1))
               - (1::bigint << (width_bucket(s, %(mid)s::timestamptz[])
                                - (%(block_first)s::int[])[blk])) END) AS days,
           min(s) AS s, max(e) AS e,
           sum(date_part('epoch', e - least(greatest(ce, s), e)))
               FILTER (WHERE ce IS NOT NULL) AS idle_s,
           sum(date_part('epoch', e - s)) FILTER (WHERE ce IS NOT NULL) AS idle_base_s
    FROM raw WHERE NOT special GROUP BY h, device_id, connector_id, blk
    UNION ALL
    SELECT h, device_id, connector_id, blk, fid, 1, kwh, NULL, NULL, s, e,
           CASE WHEN ce IS NOT NULL AND e >= s THEN
               date_part('epoch', e - least(greatest(ce, s), e)) END,
           CASE WHEN ce IS NOT NULL AND e >= s THEN date_part('epoch', e - s) END
    FROM raw WHERE special),
pairs AS MATERIALIZED (
    SELECT device_id, coalesce(connector_id, '') AS cid, connector_id IS NULL AS cnull,
           h, row_number() OVER () AS gid,
           min(s) FILTER (WHERE e >= s) AS first_closed,
           max(e) FILTER (WHERE e >= s) AS last_closed
    FROM grouped GROUP BY device_id, connector_id, h),
collided AS (SELECT count(DISTINCT h) < count(*) AS collided FROM pairs),
dmeta AS (
    SELECT device_id,
           greatest(max(coalesce(connector_count, 0)), 0) AS dev_count,
           min(coalesce(created_utc, valid_from_utc)) AS active_from,
           CASE WHEN bool_and(valid_to_utc IS NOT NULL) THEN max(valid_to_utc) END
               AS active_to,
           (array_agg(NULLIF(max_power_kw, 'NaN') ORDER BY fid DESC)
               FILTER (WHERE NULLIF(max_power_kw, 'NaN') IS NOT NULL))[1] AS max_kw
    FROM {schema}.devices
    WHERE device_id IN (SELECT device_id FROM pairs) GROUP BY device_id),
current_conn AS (
    SELECT device_id, coalesce(connector_id, '') AS cid, connector_id IS NULL AS cnull,
           NULLIF(power_kw, 'NaN') AS kw, fid
    FROM {schema}.connectors
    WHERE valid_to_utc IS NULL AND device_id IN (SELECT device_id FROM pairs)),
cmeta AS (
    SELECT device_id, count(*) AS c_count, sum(coalesce(kw, 0)) AS c_kw,
           count(*) FILTER (WHERE kw IS NULL) AS c_unrated
    FROM (SELECT DISTINCT ON (device_id, cid, cnull) device_id, kw FROM current_conn
          ORDER BY device_id, cid, cnull, fid DESC) AS latest
    GROUP BY device_id),
conn_kw AS (
    SELECT DISTINCT ON (device_id, cid) device_id, cid, kw FROM (
        SELECT device_id, CASE WHEN cnull THEN 'None' ELSE cid END AS cid, kw, fid
        FROM current_conn WHERE kw IS NOT NULL) AS rated
    ORDER BY device_id, cid, fid DESC),
dev AS MATERIALIZED (
    SELECT q.device_id, q.did, q.n_conn, q.conn_source, q.max_kw,
           CASE WHEN q.c_count > 0 AND q.c_unrated = 0 AND q.c_count >= q.n_conn
                THEN q.c_kw ELSE q.max_kw * q.n_conn END AS rated,
           -- widened to the device's own closed sessions; NULL = unbounded
           CASE WHEN q.active_from IS NOT NULL THEN
               least(q.active_from, q.first_closed) END AS active_from,
           CASE WHEN q.active_to IS NOT NULL THEN
               greatest(q.active_to, q.last_closed) END AS active_to
    FROM (
        SELECT pd.device_id, pd.did, pd.first_closed, pd.last_closed, dm.active_from,
               dm.active_to, dm.max_kw, cm.c_kw,
               coalesce(cm.c_count, 0) AS c_count, coalesce(cm.c_unrated, 0) AS c_unrated,
               CASE WHEN coalesce(dm.dev_count, 0) > 0 THEN dm.dev_count
                    WHEN coalesce(cm.c_count, 0) > 0 THEN cm.c_count
                    ELSE greatest(pd.seen, 1) END AS n_conn,
               CASE WHEN coalesce(dm.dev_count, 0) > 0 THEN 'devices'
                    WHEN coalesce(cm.c_count, 0) > 0 THEN 'connectors'
                    ELSE 'sessions' END AS conn_source
        FROM (SELECT device_id, row_number() OVER () AS did, count(*) AS seen,
                     min(first_closed) AS first_closed, max(last_closed) AS last_closed
              FROM pairs GROUP BY device_id) AS pd
        LEFT JOIN dmeta dm USING (device_id)
        LEFT JOIN cmeta cm USING (device_id)) AS q),
pair_rated AS MATERIALIZED (
    SELECT pr.device_id, pr.cid, pr.cnull, pr.h, pr.gid, dev.did,
           coalesce(ck.kw, dev.max_kw) AS rated
    FROM pairs pr JOIN dev USING (device_id)
    LEFT JOIN conn_kw ck ON ck.device_id = pr.device_id
        AND ck.cid = CASE WHEN pr.cnull THEN 'None' ELSE pr.cid END),
tagged AS (
    SELECT pr.gid, pr.did, g.* FROM grouped g JOIN pair_rated pr
        ON pr.h = g.h AND pr.device_id = g.device_id
        AND pr.cid = coalesce(g.connector_id, '') AND pr.cnull = (g.connector_id IS NULL)),
pieces AS (
    -- per group and block; a kept-apart session's sums and flags in its start block,
    -- and its plugged time split at local midnights
    SELECT {key} AS k, blk, n AS sessions, kwh, plugged_s, days, 0 AS overlapping,
           idle_s, idle_base_s, 0 AS f_open, 0 AS f_back, 0 AS f_kwh, 0 AS f_long
    FROM tagged WHERE x IS NULL AND blk IS NOT NULL
    UNION ALL
    SELECT {key}, blk, (e >= s)::int, CASE WHEN e >= s THEN coalesce(kwh, 0) END, NULL,
           NULL, 0, idle_s, idle_base_s, (e IS NULL)::int, (e < s)::int,
           (e >= s AND kwh IS NULL)::int, (e > s + %(long)s::interval)::int
    FROM tagged WHERE x IS NOT NULL AND blk IS NOT NULL
    UNION ALL
    SELECT {key}, (%(day_block)s::int[])[d],
           0, 0, date_part('epoch', least(e, (%(mid)s::timestamptz[])[d + 1])
                                    - greatest(s, (%(mid)s::timestamptz[])[d])),
           1::bigint << (d - (%(block_first)s::int[])[(%(day_block)s::int[])[d]]),
           0, 0, 0, 0, 0, 0, 0
    FROM tagged, generate_series(width_bucket(s, %(mid)s::timestamptz[]),
                                 width_bucket(least(e, %(mid_last)s::timestamptz)
                                              - interval '1 microsecond',
                                              %(mid)s::timestamptz[])) AS d
    WHERE x IS NOT NULL AND e > s
    UNION ALL
    SELECT pr.{key}, o.blk, 0, 0, 0, 0, o.n, 0, 0, 0, 0, 0, 0
    FROM overlapped o JOIN pair_rated pr ON pr.h = o.h{exact_join}),
by_block AS (
    SELECT k, blk, sum(sessions) AS sessions, sum(kwh) AS kwh, sum(plugged_s) AS plugged_s,
           bit_count(bit_or(days)::bit(64)) AS in_use_days,
           sum(overlapping) AS overlapping, sum(idle_s) AS idle_s,
           sum(idle_base_s) AS idle_base_s, sum(f_open) AS f_open, sum(f_back) AS f_back,
           sum(f_kwh) AS f_kwh, sum(f_long) AS f_long
    FROM pieces GROUP BY k, blk),
by_period AS (
    SELECT k, (%(block_period)s::int[])[blk] AS p, sum(sessions) AS sessions,
           sum(kwh) AS kwh, sum(plugged_s) AS plugged_s, sum(in_use_days) AS in_use_days,
           sum(overlapping) AS overlapping, sum(idle_s) AS idle_s,
           sum(idle_base_s) AS idle_base_s, sum(f_open) AS f_open, sum(f_back) AS f_back,
           sum(f_kwh) AS f_kwh, sum(f_long) AS f_long
    FROM by_block GROUP BY 1, 2),
{impossible}periods AS (SELECT i - 1 AS p, b[i] AS lo, b[i + 1] AS hi
            FROM (SELECT %(bounds)s::timestamptz[] AS b) AS given,
                 generate_series(1, array_length(%(bounds)s::timestamptz[], 1) - 1) AS i),
grid AS (
    SELECT g.{key} AS k, {out_keys}, periods.p,
           {connectors} AS connectors, dev.conn_source_out AS connectors_source,
           {rated} AS rated_kw,
           greatest(extract(epoch FROM least(periods.hi, dev.active_to)
                                  - greatest(periods.lo, dev.active_from)), 0)::float8
               / 3600.0 AS device_hours
    FROM {groups} AS g JOIN (SELECT *, {conn_source} AS conn_source_out FROM dev) AS dev
         USING (device_id)
    CROSS JOIN periods)
SELECT {out_names}, g.p, g.connectors, g.connectors_source, g.rated_kw,
       coalesce(a.sessions, 0) AS sessions, coalesce(a.kwh, 0) AS kwh,
       coalesce(a.plugged_s, 0) / 3600.0 AS plugged_hours,
       g.device_hours * g.connectors AS available_hours,
       g.device_hours / 24.0 AS available_days,
       g.rated_kw * g.device_hours AS capacity_kwh,
       coalesce(a.in_use_days, 0) AS in_use_days,
       coalesce(a.idle_s, 0) / 3600.0 AS idle_hours,
       coalesce(a.idle_base_s, 0) / 3600.0 AS idle_base_hours,
       coalesce(a.f_open, 0) AS flag_open, coalesce(a.f_back, 0) AS flag_end_before_start,
       coalesce(a.f_kwh, 0) AS flag_missing_kwh,
       coalesce(i.n, 0) AS flag_impossible_energy, coalesce(a.f_long, 0) AS flag_over_72h,
       coalesce(a.overlapping, 0) AS flag_overlapping,
       (SELECT collided FROM collided) AS collided
FROM grid g
LEFT JOIN by_period a ON a.k = g.k AND a.p = g.p
LEFT JOIN impossible i ON i.k = g.k AND i.p = g.p
WHERE g.device_hours > 0 OR a.sessions > 0 OR a.plugged_s > 0
"""

_IMPOSSIBLE_SQL = """impossible AS (
    -- quality.flag_arrays in the same float64 steps: hours = ns / 3.6e12
    SELECT pr.{key} AS k, width_bucket(ses.start_utc, %(bounds)s::timestamptz[]) - 1 AS p,
           count(*) AS n
    FROM {schema}.sessions AS ses JOIN pair_rated pr ON pr.device_id = ses.device_id
         AND pr.cid = coalesce(ses.connector_id, '')
         AND pr.cnull = (ses.connector_id IS NULL)
    WHERE ses.device_id IS NOT NULL AND ses.end_utc >= ses.start_utc
      -- only sessions above the lowest rating can be above their own
      AND NULLIF(ses.kwh, 'NaN') > %(lowest_kw)s::float8
          * date_part('epoch', ses.end_utc - ses.start_utc) / 3600.0
          * %(tolerance)s::float8 * 0.999999 + %(allowance)s::float8 * 0.999999
      AND pr.rated > 0 AND NULLIF(ses.kwh, 'NaN') > pr.rated
          * ((({us_e} - {us_s}) * 1000)::float8 / %(hour_ns)s::float8)
          * %(tolerance)s::float8 + %(allowance)s::float8
    GROUP BY 1, 2),
"""
# no positive rating in the store: no session can be above its rating
_NO_IMPOSSIBLE_SQL = """impossible AS (SELECT 0::bigint AS k, 0 AS p, 0::bigint AS n WHERE false),
"""


def _main_sql(by: str, exact_partition: bool = False, check_energy: bool = True) -> str:
    if by == "device":
        parts = {"groups": "dev", "out_keys": "g.device_id",
                 "connectors": "dev.n_conn", "conn_source": "conn_source",
                 "rated": "dev.rated", "out_names": "g.device_id"}
    else:
        parts = {"groups": "pair_rated",
                 "out_keys": "g.device_id, CASE WHEN NOT g.cnull THEN g.cid END AS connector_id",
                 "connectors": "1", "conn_source": "'connectors'",
                 "rated": "g.rated", "out_names": "g.device_id, g.connector_id"}
    return _MAIN_SQL.format(
        schema=SCHEMA, key=_GROUP_KEY[by], pair_hash=_PAIR_HASH,
        partition=_PARTITION[exact_partition], exact_join=_EXACT_JOIN[exact_partition],
        impossible=_IMPOSSIBLE_SQL.format(
            key=_GROUP_KEY[by], schema=SCHEMA, us_s=_us("ses.start_utc"),
            us_e=_us("ses.end_utc")) if check_energy else _NO_IMPOSSIBLE_SQL,
        **parts)


def _day_blocks(bounds: np.ndarray) -> dict:
    """Local midnights of the window and its blocks of days: each block lies in one
    period and spans at most :data:`_BLOCK_DAYS` days (SQL arrays count from 1)."""
    midnights = local_midnights(bounds)
    day_period = np.searchsorted(bounds, midnights[:-1], side="right") - 1
    day_block, block_first, block_period = [], [], []
    for day, period in enumerate(day_period, start=1):
        if not block_period or block_period[-1] != period or \
                day - block_first[-1] >= _BLOCK_DAYS:
            block_first.append(day)
            block_period.append(int(period))
        day_block.append(len(block_first))
    edges = [midnights[d - 1] for d in block_first] + [midnights[-1]]
    return {"mid": _timestamps(midnights), "mid_last": _timestamps(midnights[-1:])[0],
            "day_block": day_block, "block_first": block_first,
            "block_period": block_period, "edges": _timestamps(np.asarray(edges))}


def _timestamps(ns: np.ndarray) -> list:
    return list(pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]"), tz="UTC")
                .to_pydatetime())


def utilisation(store, period: str = "quarter", by: str = "device",
                progress: Progress = SILENT) -> pd.DataFrame:
    """Utilisation per device (or connector) and period, aggregated by PostgreSQL.

    ``store`` is a :class:`~.pgstore.PostgisStore`. The result equals
    ``Workspace.utilisation(period, by)`` on the same data (rows only where a device's
    usage source reports the period, :func:`.usage_coverage.usage_coverage`); see
    :func:`.utilisation.utilisation` for the rules.
    """
    if by not in _GROUP_KEY:
        raise ValueError("by must be 'device' or 'connector'")
    if period not in PERIOD_KINDS:
        raise ValueError(f"period must be one of {PERIOD_KINDS}, not {period!r}")
    progress.report(5, "Reading the sessions' time span")
    with store.transaction("REPEATABLE READ READ ONLY") as cur:
        # One big analytic query: sorts and hashes in memory; compiling it (JIT) would
        # cost seconds and save nothing.
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("SET LOCAL jit = off")
        # the planner cannot see the size of the CTEs; sorting a million rows by text to
        # merge-join them costs far more than hashing the small side
        cur.execute("SET LOCAL enable_mergejoin = off")
        # the sessions are scanned, summed and sorted by parallel workers; passing their
        # rows on costs less than the planner's default assumes
        cur.execute("SET LOCAL parallel_tuple_cost = 0.01")
        cur.execute(_WINDOW_SQL)
        first_start, last_start, last_end, first_closed = cur.fetchone()
        cur.execute(_LOWEST_RATING_SQL)
        lowest_kw = cur.fetchone()[0]
        status = store.status_snapshots()
        progress.check_cancelled()
        window = data_window(
            _ns(first_start), _ns(last_start), _ns(last_end),
            ns_utc(status["observed_utc"]) if len(status) else None, MAX_STATUS_GAP_HOURS)
        if window is None:
            return empty_result(by)
        labels, bounds, local_starts, p_index = period_grid(*window, period)
        progress.report(20, f"Computing utilisation per {by} and {period} in the database")
        parameters = {
            "bounds": _timestamps(bounds), "t0": first_closed or first_start,
            "long": f"{LONG_SESSION_HOURS} hours", "hour_ns": _HOUR_NS,
            "tolerance": ENERGY_TOLERANCE, "allowance": ENERGY_ALLOWANCE_KWH,
            # no rating anywhere: nothing can be above its rating
            "lowest_kw": lowest_kw,
            **_day_blocks(bounds)}
        check_energy = lowest_kw is not None
        rows, names = _run(cur, by, parameters, False, check_energy)
        if rows and rows[0][-1]:
            rows, names = _run(cur, by, parameters, True, check_energy)
        counts = session_counts(cur, period)
        operators = device_operators(cur)
    progress.report(85, "Adding uptime and ratios")
    frame = _frame(rows, names[:-1], by, labels, local_starts, p_index)
    if len(status):
        frame = frame.assign(**device_status_sums(
            status, period, bounds, MAX_STATUS_GAP_HOURS, frame["device_id"].to_numpy(object),
            frame["_p"].to_numpy()))
    frame = add_ratios(frame.drop(columns="_p"))
    frame = frame.sort_values(["device_id", "period_index"] + (
        ["connector_id"] if by == "connector" else []), kind="stable").reset_index(drop=True)
    progress.report(100, "Utilisation ready")
    return keep_covered(frame, usage_coverage(counts, operators))


# The local calendar period of a start as calendar.period_label writes it.
_PERIOD_FORMAT = {"month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}


def session_counts(cur, period: str = "quarter") -> pd.DataFrame:
    """:func:`.usage_coverage.session_counts` of the store's sessions, counted in SQL."""
    cur.execute(f"""
        SELECT device_id, coalesce(source, ''),
               to_char(start_utc AT TIME ZONE 'Europe/London', %s), count(*)
        FROM {SCHEMA}.sessions WHERE device_id IS NOT NULL AND start_utc IS NOT NULL
        GROUP BY 1, 2, 3""", (_PERIOD_FORMAT[period],))
    rows = cur.fetchall()
    columns = list(zip(*rows)) if rows else [(), (), (), ()]
    return pd.DataFrame({"device_id": np.array(columns[0], dtype=object),
                         "source": np.array(columns[1], dtype=object),
                         "period": np.array(columns[2], dtype=object),
                         "sessions": np.array(columns[3], dtype="int64")})


def device_operators(cur) -> pd.Series:
    """:func:`.usage_coverage.device_operators` of the store's current devices (an id held
    by several sources: the registry's row, as the area summaries take it)."""
    cur.execute(f"""
        SELECT DISTINCT ON (device_id) device_id, operator FROM {SCHEMA}.devices
        WHERE valid_to_utc IS NULL ORDER BY device_id, source LIKE 'ocpi%', source""")
    rows = cur.fetchall()
    return pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype=object)


def _run(cur, by: str, parameters: dict, exact_partition: bool, check_energy: bool):
    cur.execute(_main_sql(by, exact_partition, check_energy), parameters)
    return cur.fetchall(), [c.name for c in cur.description]


def _ns(value) -> int:
    return NAT if value is None else pd.Timestamp(value).value


def _frame(rows, names, by, labels, local_starts, p_index) -> pd.DataFrame:
    data = pd.DataFrame.from_records([r[:len(names)] for r in rows], columns=names) if rows \
        else pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    p = data["p"].to_numpy(np.int64)
    key_columns = ["device_id"] + (["connector_id"] if by == "connector" else [])
    out = {"device_id": data["device_id"].to_numpy(object)}
    if by == "connector":
        out["connector_id"] = data["connector_id"].to_numpy(object)
    out.update(period_columns(labels, local_starts, p_index, p))
    out.update({
        "connectors": data["connectors"].to_numpy(np.int64),
        "connectors_source": data["connectors_source"].to_numpy(object),
        "rated_kw": pd.to_numeric(data["rated_kw"]).to_numpy(np.float64),
        "_p": p,
    })
    for name in names[len(key_columns) + 4:]:
        dtype = np.int64 if name in _INTEGER_COLUMNS else np.float64
        out[name] = pd.to_numeric(data[name]).to_numpy(dtype)
    return pd.DataFrame(out)
