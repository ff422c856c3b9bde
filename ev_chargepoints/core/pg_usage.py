"""Utilisation computed by PostgreSQL, for the shared (PostGIS) store.

:func:`utilisation` returns the frame ``Workspace.utilisation`` gives for a
GeoPackage store (the pandas engine in :mod:`.utilisation` on the store's
frames, rows kept for devices with sessions): the same columns, dtypes, row
order and figures, under the rules of :func:`.utilisation.definitions`. The
sessions never leave the database: PostgreSQL splits plugged time at UK local
midnights (a ``generate_series`` of local days, ``AT TIME ZONE
'Europe/London'``, so clock-change days have 23 or 25 hours), finds each
session's period with ``width_bucket``, flags overlaps with a window function
and sums per device (or connector) and period. Only those sums come back.

What stays in Python is small and shared with the pandas engine: the periods
(:func:`.utilisation.period_bounds`), labels and ratios
(:func:`.utilisation.add_ratios`), and uptime from status snapshots
(:func:`.utilisation.status_occupancy` on the snapshots read from the store).

Everything is read in one ``REPEATABLE READ`` transaction, so an import
committed meanwhile is either wholly in the figures or not at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pg_schema import SCHEMA
from .progress import SILENT, Progress
from .quality import ENERGY_ALLOWANCE_KWH, ENERGY_TOLERANCE, FLAGS, LONG_SESSION_HOURS
from .utilisation import (
    LOCAL_TZ,
    PERIOD_KINDS,
    _bounds,
    _empty_result,
    add_ratios,
    status_occupancy,
)

MAX_STATUS_GAP_HOURS = 1.0  # as Workspace: the pandas engine's default
_HOUR_NS = 3_600_000_000_000
_STATUS_COLUMNS = ("status_observed_hours", "status_period_hours", "working_hours",
                   "down_hours")
_INTEGER_COLUMNS = ("sessions", "in_use_days", *[f"flag_{f}" for f in FLAGS])

# Groups: a device (by="device") or a device's connector (by="connector"), numbered in
# the database so the big sorts and hashes work on integers. A missing connector id is
# a connector of its own, as in the pandas engine: (coalesce, is-null) keeps it apart
# from an empty id and lets joins hash.
_GROUP_KEY = {"device": "did", "connector": "gid"}


def _us(expression: str) -> str:
    """Microseconds since the epoch, exact (a float8 epoch is within 0.3 µs)."""
    return f"round(date_part('epoch', {expression}) * 1000000)::bigint"


_WINDOW_SQL = f"""
SELECT min(start_utc), max(start_utc), max(end_utc) FILTER (WHERE end_utc >= start_utc)
FROM {SCHEMA}.sessions WHERE device_id IS NOT NULL AND start_utc IS NOT NULL
"""

# Rules mirrored from utilisation.py (comments name the pandas function):
# - _device_table: connectors = highest devices.connector_count of any version; active
#   from the earliest created_utc (else valid_from_utc) of its versions, to the latest
#   valid_to_utc unless a version is current; max kW from the latest version with one.
# - _connector_ratings: current connectors, the latest row per (device, connector).
# - _connector_kw: a connector's rating from its latest current rated row, else the
#   device's max kW (ids compared as text, a missing id equal to a missing id).
# - "latest" is the highest fid: the order the store's frames are read in.
_MAIN_SQL = """
WITH
span AS (
    SELECT b, b[1] AS lo, b[array_length(b, 1)] AS hi, array_length(b, 1) - 1 AS n_periods,
           (SELECT array_agg({us_x} ORDER BY i) FROM unnest(b) WITH ORDINALITY AS u(x, i))
               AS b_us
    FROM (SELECT %(bounds)s::timestamptz[] AS b) AS given),
periods AS (SELECT i - 1 AS p, b[i] AS lo, b[i + 1] AS hi
            FROM span, generate_series(1, n_periods) AS i),
-- every UK local midnight of the window (23- and 25-hour days included), and each
-- local day's period
mid AS (
    SELECT array_agg({us_day} ORDER BY day) AS m
    FROM span, generate_series(lo AT TIME ZONE %(tz)s, hi AT TIME ZONE %(tz)s,
                               interval '1 day') AS day),
day_period AS (
    SELECT array_agg(width_bucket(m[d], b_us) - 1 ORDER BY d) AS dp
    FROM mid, span, generate_series(1, array_length(m, 1) - 1) AS d),
pairs AS MATERIALIZED (
    SELECT device_id, coalesce(connector_id, '') AS cid, connector_id IS NULL AS cnull,
           row_number() OVER () AS gid,
           min(start_utc) FILTER (WHERE end_utc >= start_utc) AS first_closed,
           max(end_utc) FILTER (WHERE end_utc >= start_utc) AS last_closed
    FROM {schema}.sessions WHERE device_id IS NOT NULL
    GROUP BY device_id, coalesce(connector_id, ''), connector_id IS NULL),
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
dev AS (
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
    SELECT pr.device_id, pr.cid, pr.cnull, pr.gid, dev.did,
           coalesce(ck.kw, dev.max_kw) AS rated
    FROM pairs pr JOIN dev USING (device_id)
    LEFT JOIN conn_kw ck ON ck.device_id = pr.device_id
        AND ck.cid = CASE WHEN pr.cnull THEN 'None' ELSE pr.cid END),
tagged AS MATERIALIZED (
    -- sessions in microseconds, with their group, start period and first and last
    -- local day (clipped to the window)
    SELECT fid, gid, did, rated, s, e, ce, kwh, width_bucket(s, b_us) - 1 AS p,
           CASE WHEN e > s AND e > m[1] AND s < m[array_length(m, 1)] THEN
               width_bucket(greatest(s, m[1]), m) END AS d0,
           CASE WHEN e > s AND e > m[1] AND s < m[array_length(m, 1)] THEN
               width_bucket(least(e, m[array_length(m, 1)]) - 1, m) END AS d1
    FROM (SELECT ses.fid, pr.gid, pr.did, pr.rated, {us_s} AS s, {us_e} AS e,
                 {us_ce} AS ce, NULLIF(ses.kwh, 'NaN') AS kwh
          FROM {schema}.sessions AS ses JOIN pair_rated pr ON pr.device_id = ses.device_id
               AND pr.cid = coalesce(ses.connector_id, '')
               AND pr.cnull = (ses.connector_id IS NULL)) AS joined
    CROSS JOIN span CROSS JOIN mid),
by_start AS (
    SELECT {key} AS k, p,
           count(*) FILTER (WHERE e >= s) AS sessions,
           sum(coalesce(kwh, 0)) FILTER (WHERE e >= s) AS kwh,
           sum(e - least(greatest(ce, s), e)) FILTER (WHERE e >= s AND ce IS NOT NULL)
               AS idle_us,
           sum(e - s) FILTER (WHERE e >= s AND ce IS NOT NULL) AS idle_base_us,
           count(*) FILTER (WHERE e IS NULL) AS flag_open,
           count(*) FILTER (WHERE e < s) AS flag_end_before_start,
           count(*) FILTER (WHERE e >= s AND kwh IS NULL) AS flag_missing_kwh,
           -- quality.flag_arrays in the same float64 steps: hours = ns / 3.6e12
           count(*) FILTER (WHERE e >= s AND rated > 0 AND kwh IS NOT NULL AND kwh >
               rated * (((e - s) * 1000)::float8 / %(hour_ns)s::float8)
               * %(tolerance)s::float8 + %(allowance)s::float8) AS flag_impossible_energy,
           count(*) FILTER (WHERE e >= s AND e - s > %(long_us)s) AS flag_over_72h
    FROM tagged CROSS JOIN span WHERE s IS NOT NULL AND p >= 0 AND p < n_periods
    GROUP BY {key}, p),
by_overlap AS (
    -- quality.overlap_flags: whole seconds from the first valid start, ties in stored
    -- order; a session overlaps when it starts before an earlier one on its connector
    -- has ended
    SELECT k, p, count(*) FILTER (WHERE start_s < ended_s) AS flag_overlapping
    FROM (SELECT {key} AS k, p, (s - t0) / 1000000 AS start_s,
                 max((e - t0) / 1000000) OVER (
                     PARTITION BY gid ORDER BY (s - t0) / 1000000, fid
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ended_s
          FROM tagged CROSS JOIN (SELECT min(s) AS t0 FROM tagged WHERE e >= s) AS first
          WHERE e >= s) AS ordered
    CROSS JOIN span WHERE p >= 0 AND p < n_periods
    GROUP BY k, p),
pieces AS (
    -- plugged time split at local midnights: one piece per session and local day
    SELECT {key} AS k, d0 AS d, least(e, m[d0 + 1]) - greatest(s, m[d0]) AS us
    FROM tagged CROSS JOIN mid WHERE d0 = d1
    UNION ALL
    SELECT {key} AS k, d, least(e, m[d + 1]) - greatest(s, m[d]) AS us
    FROM tagged CROSS JOIN mid, generate_series(d0, d1) AS d WHERE d1 > d0),
by_day AS (
    -- in-use days: distinct days as bits of 60-day words (no group per day)
    SELECT k, p, sum(us) AS plugged_us, sum(bit_count(days::bit(64))) AS in_use_days
    FROM (SELECT k, dp[d] AS p, sum(us) AS us, bit_or(1::bigint << (d %% 60)) AS days
          FROM pieces CROSS JOIN day_period GROUP BY k, dp[d], d / 60) AS words
    GROUP BY k, p),
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
       coalesce(b.plugged_us, 0)::float8 / 3600e6 AS plugged_hours,
       g.device_hours * g.connectors AS available_hours,
       g.device_hours / 24.0 AS available_days,
       g.rated_kw * g.device_hours AS capacity_kwh,
       coalesce(b.in_use_days, 0) AS in_use_days,
       coalesce(a.idle_us, 0)::float8 / 3600e6 AS idle_hours,
       coalesce(a.idle_base_us, 0)::float8 / 3600e6 AS idle_base_hours,
       {flags}, coalesce(o.flag_overlapping, 0) AS flag_overlapping
FROM grid g
LEFT JOIN by_start a ON a.k = g.k AND a.p = g.p
LEFT JOIN by_overlap o ON o.k = g.k AND o.p = g.p
LEFT JOIN by_day b ON b.k = g.k AND b.p = g.p
WHERE g.device_hours > 0 OR a.sessions > 0 OR b.plugged_us > 0
"""


def _main_sql(by: str) -> str:
    if by == "device":
        parts = {"groups": "dev", "out_keys": "g.device_id",
                 "connectors": "dev.n_conn", "conn_source": "conn_source",
                 "rated": "dev.rated", "out_names": "g.device_id"}
    else:
        parts = {"groups": "pair_rated",
                 "out_keys": "g.device_id, CASE WHEN NOT g.cnull THEN g.cid END AS connector_id",
                 "connectors": "1", "conn_source": "'connectors'",
                 "rated": "g.rated", "out_names": "g.device_id, g.connector_id"}
    flags = ", ".join(f"coalesce(a.flag_{f}, 0) AS flag_{f}" for f in FLAGS
                      if f != "overlapping")
    return _MAIN_SQL.format(
        schema=SCHEMA, key=_GROUP_KEY[by], flags=flags, us_x=_us("x"),
        us_day=_us("day AT TIME ZONE %(tz)s"), us_s=_us("ses.start_utc"), us_e=_us("ses.end_utc"),
        us_ce=_us("ses.charging_end_utc"), **parts)


def utilisation(store, period: str = "quarter", by: str = "device",
                progress: Progress = SILENT) -> pd.DataFrame:
    """Utilisation per device (or connector) and period, aggregated by PostgreSQL.

    ``store`` is a :class:`~.pgstore.PostgisStore`. The result equals
    ``Workspace.utilisation(period, by)`` on the same data (rows only for devices
    with sessions); see :func:`.utilisation.utilisation` for the rules.
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
        cur.execute(_WINDOW_SQL)
        first_start, last_start, last_end = cur.fetchone()
        status = store.status_snapshots()
        progress.check_cancelled()
        window = _analysis_window(first_start, last_start, last_end, status)
        if window is None:
            return _empty_result(by)
        labels, bounds, local_starts, p_index = _bounds(*window, period)
        progress.report(20, f"Computing utilisation per {by} and {period} in the database")
        cur.execute(_main_sql(by), {
            "bounds": list(pd.DatetimeIndex(bounds, tz="UTC").to_pydatetime()),
            "tz": LOCAL_TZ, "hour_ns": _HOUR_NS, "tolerance": ENERGY_TOLERANCE,
            "allowance": ENERGY_ALLOWANCE_KWH,
            "long_us": LONG_SESSION_HOURS * 3_600_000_000})
        names = [c.name for c in cur.description]
        rows = cur.fetchall()
    progress.report(85, "Adding uptime and ratios")
    frame = _frame(rows, names, by, labels, local_starts, p_index)
    if len(status):
        frame = _add_status(frame, status, period, bounds)
    frame = add_ratios(frame.drop(columns="_p"))
    frame = frame.sort_values(["device_id", "period_index"] + (
        ["connector_id"] if by == "connector" else []), kind="stable").reset_index(drop=True)
    progress.report(100, "Utilisation ready")
    return frame


def _analysis_window(first_start, last_start, last_end, status: pd.DataFrame):
    """(first, last) instant in ns of the data, as the pandas engine finds it: session
    starts, closed sessions' ends, and status observations held for the polling gap."""
    candidates_first, candidates_last = [], []
    if first_start is not None:
        candidates_first.append(pd.Timestamp(first_start).value)
        candidates_last.append(pd.Timestamp(last_start).value)
    if last_end is not None:
        candidates_last.append(pd.Timestamp(last_end).value - 1)
    if len(status):
        seen = pd.to_datetime(status["observed_utc"], utc=True).dropna()
        if len(seen):
            candidates_first.append(seen.min().value)
            candidates_last.append(seen.max().value + int(MAX_STATUS_GAP_HOURS * _HOUR_NS) - 1)
    if not candidates_first:
        return None
    return min(candidates_first), max(candidates_last)


def _frame(rows, names, by, labels, local_starts, p_index) -> pd.DataFrame:
    data = pd.DataFrame.from_records(rows, columns=names) if rows else \
        pd.DataFrame({n: pd.Series([], dtype=object) for n in names})
    p = data["p"].to_numpy(np.int64)
    key_columns = ["device_id"] + (["connector_id"] if by == "connector" else [])
    out = {"device_id": data["device_id"].to_numpy(object)}
    if by == "connector":
        out["connector_id"] = data["connector_id"].to_numpy(object)
    period_end = (local_starts[1:] - pd.Timedelta(days=1)).date
    out.update({
        "period": np.asarray(labels, dtype=object)[p],
        "period_index": p_index[p],
        "period_start": np.asarray(local_starts[:-1].date, dtype=object)[p],
        "period_end": np.asarray(period_end, dtype=object)[p],
        "connectors": data["connectors"].to_numpy(np.int64),
        "connectors_source": data["connectors_source"].to_numpy(object),
        "rated_kw": pd.to_numeric(data["rated_kw"]).to_numpy(np.float64),
        "_p": p,
    })
    for name in names[len(key_columns) + 4:]:
        dtype = np.int64 if name in _INTEGER_COLUMNS else np.float64
        out[name] = pd.to_numeric(data[name]).to_numpy(dtype)
    return pd.DataFrame(out)


def _add_status(frame: pd.DataFrame, status: pd.DataFrame, period: str,
                bounds: np.ndarray) -> pd.DataFrame:
    per_device = status_occupancy(status, period=period, by="device",
                                  max_gap_hours=MAX_STATUS_GAP_HOURS, bounds=bounds)
    merged = frame[["device_id", "_p"]].merge(
        per_device[["device_id", "_p", *_STATUS_COLUMNS]], on=["device_id", "_p"],
        how="left")
    out = frame.copy()
    for name in _STATUS_COLUMNS:
        out[name] = merged[name].fillna(0.0).to_numpy(np.float64)
    return out
