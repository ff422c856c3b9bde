"""Areas in the shared store: polygons, device placement and area summaries in SQL.

The PostGIS counterpart of :mod:`areas` and :mod:`summary`, with the same rules
and the same figures (``tests/core/test_pg_areas.py`` checks both on the bundled
London snapshot):

- :func:`load_areas` writes ward and borough :class:`~.areas.AreaSet` polygons
  into ``areas`` with their exact vertices, replacing a level's rows only when
  its boundary version changed. Rows keep the layer order (``fid``), which
  decides where polygons overlap.
- :func:`assign_devices` places the current devices in the database. The
  devices' GiST index finds the points in each polygon's box; a point whose
  surrounding square of half-side ``tolerance`` lies inside a polygon is in it;
  a point whose square meets the boundary is decided by the half-open crossing
  number of :func:`geometry.locate_points`, evaluated on the polygon's segments
  with the same floating-point operations, so a point exactly on a shared
  boundary goes to the same polygon (the one to its east, or north). The rules
  of :func:`areas.assign_devices` follow (Thames gap, nearest ward of the
  borough, outside, no location); the result replaces ``device_areas`` and is
  returned as an :class:`~.areas.Assignment`.
- :func:`area_summary` computes every additive sum of :func:`summary.summarise`
  per area in SQL (devices ⨝ device_areas ⨝ connectors ⨝ usage_periods); only
  one row per area leaves the database, and the ratios are derived from those
  sums by :func:`area_table.summary_table`, the pandas summariser's own table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import area_table, summary
from ...analysis.areas import DEFAULT_TOLERANCE_M, NOTES, AreaSet, Assignment, AssignmentReport
from ...analysis.geometry import multipolygon_wkb
from ...errors import StoreError
from ...schema import POWER_CLASSES
from .schema import SCHEMA, SRID

LEVELS = ("ward", "borough")
_S = SCHEMA
_POPULATION_NOTE_KEY = "areas.{level}.population_note"
# str.strip()'s ASCII whitespace, for normalising filter values as summary._Codes does
_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"


def load_areas(store, wards: AreaSet | None, boroughs: AreaSet | None) -> dict[str, str]:
    """Write the boundary sets into ``areas``; returns level -> "kept" or "replaced".

    A level whose stored rows already carry the set's ``boundary_version`` (codes
    and vertices unchanged) is left alone; otherwise its rows are replaced in one
    transaction, so readers see the old set or the new one, never a mix.
    """
    from psycopg2.extras import execute_values

    outcome = {}
    with store.transaction() as cur:
        cur.execute(f"LOCK TABLE {_S}.areas IN SHARE ROW EXCLUSIVE MODE")
        for level, area_set in (("ward", wards), ("borough", boroughs)):
            if area_set is None:
                continue
            version = area_set.boundary_version
            cur.execute(f"SELECT count(*), min(boundary_version), max(boundary_version)"
                        f" FROM {_S}.areas WHERE level = %s", (level,))
            count, low, high = cur.fetchone()
            if count == len(area_set) and low == high == version:
                outcome[level] = "kept"
                continue
            cur.execute(f"DELETE FROM {_S}.areas WHERE level = %s", (level,))
            table = area_set.table
            rows = []
            for i, row in enumerate(table.itertuples(index=False)):
                wkb = multipolygon_wkb(area_set.polygons, i)
                population = float(row.population)
                rows.append((level, row.area_code, row.area_name, row.parent_code,
                             row.parent_name, population if population == population else None,
                             float(row.area_m2), version,
                             None if wkb is None else memoryview(wkb)))
            execute_values(
                cur, f"INSERT INTO {_S}.areas (level, code, name, parent_code, parent_name,"
                     " population, area_m2, boundary_version, geom) VALUES %s", rows,
                template=f"(%s, %s, %s, %s, %s, %s, %s, %s,"
                         f" ST_Multi(ST_GeomFromWKB(%s, {SRID})))",
                page_size=100)
            cur.execute(f"INSERT INTO {_S}.store_meta(key, value) VALUES (%s, %s)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (_POPULATION_NOTE_KEY.format(level=level), area_set.population_note))
            outcome[level] = "replaced"
    return outcome


# --- assignment ------------------------------------------------------------------

# Half-open crossing number of geometry.locate_points for one point and polygon:
# edges in canonical direction (low end first), counted when y0 <= py < y1 and
# the crossing lies strictly east of the point; x0 + (py - y0) * dxdy exactly as
# numpy computes it.
_CROSSING_SQL = """(
    SELECT count(*) %% 2 = 1
    FROM (SELECT ST_X(ST_StartPoint(seg.geom)) AS xa, ST_Y(ST_StartPoint(seg.geom)) AS ya,
                 ST_X(ST_EndPoint(seg.geom)) AS xb, ST_Y(ST_EndPoint(seg.geom)) AS yb
          FROM ST_DumpSegments(a.geom) AS seg) AS e
    CROSS JOIN LATERAL (
        SELECT CASE WHEN swap THEN e.xb ELSE e.xa END AS x0,
               CASE WHEN swap THEN e.yb ELSE e.ya END AS y0,
               CASE WHEN swap THEN e.xa ELSE e.xb END AS x1,
               CASE WHEN swap THEN e.ya ELSE e.yb END AS y1
        FROM (SELECT e.ya > e.yb OR (e.ya = e.yb AND e.xa > e.xb) AS swap) AS o) AS c
    WHERE ST_Y(d.geom) >= c.y0 AND ST_Y(d.geom) < c.y1
      AND ST_X(d.geom) < c.x0 + (ST_Y(d.geom) - c.y0) * ((c.x1 - c.x0) / (c.y1 - c.y0)))"""

HITS_SQL = f"""
    WITH a AS MATERIALIZED (
        -- ST_Force2D (a no-op on these 2D polygons) holds an uncompressed copy, so
        -- the tests below do not decompress the stored polygon once per device
        SELECT fid, level, ST_Force2D(geom) AS geom FROM {_S}.areas
        WHERE (level = 'ward' AND boundary_version = %(ward_version)s)
           OR (level = 'borough' AND boundary_version = %(borough_version)s)),
    pairs AS MATERIALIZED (
        SELECT a.level, d.fid AS device_fid, a.fid AS area_fid,
               NOT clear.inside AS touching,
               CASE WHEN clear.inside THEN true ELSE {_CROSSING_SQL} END AS inside
        FROM a
        JOIN {_S}.devices AS d ON d.valid_to_utc IS NULL
             AND d.geom && ST_Expand(a.geom, %(tolerance)s)
        CROSS JOIN LATERAL (SELECT ST_Expand(d.geom, %(tolerance)s) AS box) AS near
        CROSS JOIN LATERAL (SELECT ST_Contains(a.geom, near.box) AS inside) AS clear
        WHERE clear.inside OR ST_Intersects(a.geom, near.box))
    SELECT level, device_fid, min(area_fid) FILTER (WHERE inside) AS area_fid,
           count(*) FILTER (WHERE inside) AS hits, bool_or(touching) AS touching
    FROM pairs GROUP BY level, device_fid"""
"""Per device and level: the first polygon containing it (layer order), how many
contain it, and whether it lies within the tolerance of a boundary (the square
of half-side ``tolerance`` around it meets the boundary). Polygons drive the
join and the devices' GiST index finds the points in each polygon's box, so
consecutive tests share one polygon and PostGIS reuses its prepared form."""


def _final_sql(mode: str) -> str:
    """One row per current device (``fid`` order): its final ward and borough
    rows of ``areas``, note and boundary flags, by the rules of areas.assign_devices."""
    if mode == "both":
        note = """CASE
            WHEN NOT d.located THEN 'no_location'
            WHEN wh.area_fid IS NOT NULL AND bh.area_fid IS NOT NULL
                 AND wp.fid = bh.area_fid THEN 'inside'
            WHEN wh.area_fid IS NOT NULL AND bh.area_fid IS NULL THEN 'thames_gap'
            WHEN bh.area_fid IS NOT NULL THEN 'ward_snapped'
            ELSE 'outside' END"""
        ward_fid = "CASE WHEN n.note = 'ward_snapped' THEN snap.fid ELSE wh.area_fid END"
        borough_fid = "CASE WHEN n.note = 'thames_gap' THEN wp.fid ELSE bh.area_fid END"
        # the ward of the borough whose boundary is nearest; ties to the first ward
        extra = f"""
        LEFT JOIN {_S}.areas AS wf ON wf.fid = wh.area_fid
        LEFT JOIN {_S}.areas AS wp ON wp.level = 'borough'
             AND wp.boundary_version = %(borough_version)s AND wp.code = wf.parent_code
        CROSS JOIN LATERAL (SELECT {note} AS note) AS n
        LEFT JOIN LATERAL (
            SELECT w.fid FROM {_S}.areas AS w JOIN {_S}.areas AS b ON b.fid = bh.area_fid
            WHERE n.note = 'ward_snapped' AND w.level = 'ward'
              AND w.boundary_version = %(ward_version)s AND w.parent_code = b.code
            ORDER BY ST_Distance(ST_Boundary(w.geom), d.geom), w.fid LIMIT 1) AS snap ON true"""
    else:
        hit = "wh" if mode == "ward" else "bh"
        note = f"""CASE WHEN NOT d.located THEN 'no_location'
            WHEN {hit}.area_fid IS NOT NULL THEN 'inside' ELSE 'outside' END"""
        ward_fid, borough_fid = "wh.area_fid", "bh.area_fid"
        extra = f"\n        CROSS JOIN LATERAL (SELECT {note} AS note) AS n"
    return f"""
    SELECT d.fid, d.source, d.device_id, d.operator,
           CASE WHEN d.located THEN ST_X(d.geom) END AS x,
           CASE WHEN d.located THEN ST_Y(d.geom) END AS y,
           ({ward_fid}) AS ward_fid, ({borough_fid}) AS borough_fid, n.note,
           coalesce(wh.touching, false) AS on_ward_boundary,
           coalesce(bh.touching, false) AS on_borough_boundary,
           coalesce(wh.hits, 0) AS ward_hits, coalesce(bh.hits, 0) AS borough_hits
    FROM (SELECT fid, source, device_id, operator, geom,
                 geom IS NOT NULL AND NOT ST_IsEmpty(geom)
                 AND ST_X(geom) NOT IN ('NaN', 'Infinity', '-Infinity')
                 AND ST_Y(geom) NOT IN ('NaN', 'Infinity', '-Infinity') AS located
          FROM {_S}.devices WHERE valid_to_utc IS NULL) AS d
        LEFT JOIN evcp_hits AS wh ON wh.level = 'ward' AND wh.device_fid = d.fid
        LEFT JOIN evcp_hits AS bh ON bh.level = 'borough' AND bh.device_fid = d.fid{extra}"""


_ASSIGN_COLUMNS = ["fid", "source", "device_id", "operator", "x", "y", "ward_fid",
                   "borough_fid", "note", "on_ward_boundary", "on_borough_boundary",
                   "ward_hits", "borough_hits"]


def assign_devices(store, wards: AreaSet | None, boroughs: AreaSet | None,
                   tolerance: float = DEFAULT_TOLERANCE_M) -> Assignment:
    """Place every current device of the store in a ward and a borough, in SQL.

    Loads the boundary sets first when the stored ones differ
    (:func:`load_areas`), replaces ``device_areas`` and returns the same
    :class:`~.areas.Assignment` as :func:`areas.assign_devices` on
    ``store.devices()``: rows in the store's device order.
    """
    if wards is None and boroughs is None:
        raise ValueError("give ward or borough boundaries (or both)")
    load_areas(store, wards, boroughs)
    mode = "both" if wards is not None and boroughs is not None else \
        "ward" if wards is not None else "borough"
    params = {"ward_version": wards.boundary_version if wards else None,
              "borough_version": boroughs.boundary_version if boroughs else None,
              "tolerance": float(tolerance)}
    stamp = f"{params['ward_version'] or ''}|{params['borough_version'] or ''}"
    with store.transaction() as cur:
        cur.execute("SET LOCAL jit = off")  # compiling costs seconds, saves nothing here
        cur.execute(f"CREATE TEMPORARY TABLE evcp_hits ON COMMIT DROP AS {HITS_SQL}", params)
        cur.execute("CREATE INDEX ON evcp_hits (device_fid, level)")
        cur.execute("ANALYZE evcp_hits")
        cur.execute(f"CREATE TEMPORARY TABLE evcp_assignment ON COMMIT DROP AS"
                    f" {_final_sql(mode)}", params)
        cur.execute(f"LOCK TABLE {_S}.device_areas IN SHARE ROW EXCLUSIVE MODE")
        cur.execute(f"DELETE FROM {_S}.device_areas")
        cur.execute(f"""
            INSERT INTO {_S}.device_areas
                (source, device_id, ward_code, borough_code, operator, boundary_version)
            SELECT t.source, t.device_id, w.code,
                   {'w.parent_code' if mode == 'ward' else 'b.code'}, t.operator, %s
            FROM evcp_assignment AS t
            LEFT JOIN {_S}.areas AS w ON w.fid = t.ward_fid
            LEFT JOIN {_S}.areas AS b ON b.fid = t.borough_fid""", (stamp,))
        cur.execute(f"SELECT {', '.join('t.' + c for c in _ASSIGN_COLUMNS)},"
                    f" w.code, b.code FROM evcp_assignment AS t"
                    f" LEFT JOIN {_S}.areas AS w ON w.fid = t.ward_fid"
                    f" LEFT JOIN {_S}.areas AS b ON b.fid = t.borough_fid ORDER BY t.fid")
        rows = cur.fetchall()
    return _assignment_from_rows(rows, wards, boroughs)


def _assignment_from_rows(rows, wards: AreaSet | None, boroughs: AreaSet | None
                          ) -> Assignment:
    names = _ASSIGN_COLUMNS + ["ward_code", "borough_code"]
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    raw = {name: np.array(values, dtype=object) for name, values in zip(names, columns)}
    n = len(rows)

    def position(area_set, codes):
        if area_set is None:
            return np.full(n, -1, dtype=np.int64)
        return pd.Index(area_set.codes).get_indexer(codes).astype(np.int64)

    ward_idx = position(wards, raw["ward_code"])
    borough_idx = position(boroughs, raw["borough_code"])

    def lookup(area_set, column, index):
        out = np.full(n, None, dtype=object)
        if area_set is not None:
            ok = index >= 0
            out[ok] = area_set.table[column].to_numpy(object)[index[ok]]
        return out

    notes = raw["note"].astype(str)
    on_ward = raw["on_ward_boundary"].astype(bool)
    on_borough = raw["on_borough_boundary"].astype(bool)
    report = AssignmentReport(
        total=n, wards_version=wards.boundary_version if wards else "",
        boroughs_version=boroughs.boundary_version if boroughs else "",
        on_ward_boundary=int(on_ward.sum()), on_borough_boundary=int(on_borough.sum()),
        in_several_wards=int((raw["ward_hits"].astype(np.int64) > 1).sum()),
        in_several_boroughs=int((raw["borough_hits"].astype(np.int64) > 1).sum()))
    for name in NOTES:
        setattr(report, name, int((notes == name).sum()))
    table = pd.DataFrame({
        "device_id": raw["device_id"],
        "ward_code": lookup(wards, "area_code", ward_idx),
        "ward_name": lookup(wards, "area_name", ward_idx),
        "borough_code": lookup(boroughs, "area_code", borough_idx),
        "borough_name": lookup(boroughs, "area_name", borough_idx),
        "x": pd.to_numeric(pd.Series(raw["x"], dtype=object)).to_numpy("float64"),
        "y": pd.to_numeric(pd.Series(raw["y"], dtype=object)).to_numpy("float64"),
        "assignment_note": notes.astype(object),
        "on_boundary": on_ward | on_borough,
    })
    if boroughs is None and wards is not None:
        table["borough_code"] = lookup(wards, "parent_code", ward_idx)
        table["borough_name"] = lookup(wards, "parent_name", ward_idx)
    return Assignment(table, report, wards, boroughs, ward_idx, borough_idx)


# --- summaries -------------------------------------------------------------------

def _normalised(column: str) -> str:
    """A text column as summary._Codes labels it: stripped, lower case, missing ->
    ``unknown``."""
    return f"coalesce(lower(btrim({column}, %(whitespace)s)), '{summary.UNKNOWN}')"


def _filter_clauses(filters: dict | None, params: dict) -> list[str]:
    clauses = []
    for key, wanted in (filters or {}).items():
        if key not in summary.FILTER_KEYS:
            raise ValueError(f"unknown filter '{key}'; use {', '.join(summary.FILTER_KEYS)}")
        if wanted is None or (not isinstance(wanted, str) and len(wanted) == 0):
            continue
        if isinstance(wanted, str):
            wanted = [wanted]
        params[f"filter_{key}"] = [summary.UNKNOWN if w is None else str(w).strip().lower()
                                   for w in wanted]
        clauses.append(f"{key}_key = ANY(%(filter_{key})s)")
    return clauses


def _finite_or_zero(expression: str) -> str:
    """np.nan_to_num for the sums: missing and NaN add nothing."""
    return (f"CASE WHEN {expression} IS NULL OR {expression} = 'NaN' THEN 0"
            f" ELSE {expression} END")


def area_summary(store, level: str = "borough", period: str | None = None,
                 period_kind: str = "quarter", filters: dict | None = None,
                 with_usage: bool = True, absorbed: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The table of :func:`summary.summarise` for ``level``, computed in SQL.

    Devices are the store's current devices placed by :func:`assign_devices`
    (``device_areas``), less ``absorbed`` (source, device_id): feed records that
    reconciliation joined to registry devices (``Reconciliation.absorbed``). Usage is
    the ``usage_periods`` rows of level ``device`` and ``period_kind`` (none: no usage
    columns, as with ``utilisation=None``); an id held by several sources takes its
    usage once, on the registry's device.
    """
    if level not in summary.LEVELS:
        raise ValueError(f"level must be one of {', '.join(summary.LEVELS)}")
    params: dict = {"level": level, "whitespace": _WHITESPACE, "kind": period_kind,
                    "absorbed_sources": [] if absorbed is None
                    else [str(v) for v in absorbed["source"]],
                    "absorbed_ids": [] if absorbed is None
                    else [str(v) for v in absorbed["device_id"]]}
    where = _filter_clauses(filters, params)
    selected_sql = " AND ".join(where) if where else "true"
    with store.transaction("REPEATABLE READ") as cur:
        areas, version = _read_areas(cur, level)
        _check_assignment(cur, level, version)
        cur.execute(f"SELECT value FROM {_S}.store_meta WHERE key = %s",
                    (_POPULATION_NOTE_KEY.format(level=level),))
        note_row = cur.fetchone()
        code_column = f"{level}_code"
        cur.execute(f"""
            CREATE TEMPORARY TABLE evcp_selected ON COMMIT DROP AS
            WITH dev AS (
                SELECT d.source, d.device_id, ar.code AS area_code,
                       coalesce(d.connector_count, 0) AS connector_count,
                       {_normalised('d.operator')} AS operator_key,
                       {_normalised('d.power_class')} AS power_class_key,
                       {_normalised('d.location_type')} AS location_type_key
                FROM {_S}.devices AS d
                LEFT JOIN {_S}.device_areas AS da
                     ON da.source IS NOT DISTINCT FROM d.source AND da.device_id = d.device_id
                LEFT JOIN {_S}.areas AS ar
                     ON ar.level = %(level)s AND ar.code = da.{code_column}
                WHERE d.valid_to_utc IS NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM unnest(%(absorbed_sources)s::text[],
                                           %(absorbed_ids)s::text[]) AS a(s, i)
                      WHERE a.s = d.source AND a.i = d.device_id)),
            rule AS (SELECT coalesce(bool_or(connector_count > 0), false) AS use_counts
                     FROM dev),
            connector_rows AS (
                SELECT source, device_id, count(*) AS n FROM {_S}.connectors
                WHERE valid_to_utc IS NULL GROUP BY source, device_id)
            SELECT dev.*, ({selected_sql}) AS selected,
                   CASE WHEN rule.use_counts THEN dev.connector_count
                        ELSE coalesce(cr.n, 0) END AS connectors
            FROM dev CROSS JOIN rule
            LEFT JOIN connector_rows AS cr ON cr.source IS NOT DISTINCT FROM dev.source
                 AND cr.device_id = dev.device_id""", params)
        class_counts = ", ".join(
            f"count(*) FILTER (WHERE power_class_key = '{name}')" for name in POWER_CLASSES)
        cur.execute(f"""
            SELECT area_code, count(*), sum(connectors), {class_counts}
            FROM evcp_selected WHERE selected AND area_code IS NOT NULL
            GROUP BY area_code""")
        counts = cur.fetchall()
        cur.execute("SELECT count(*) FILTER (WHERE selected),"
                    " count(*) FILTER (WHERE selected AND area_code IS NULL)"
                    " FROM evcp_selected")
        n_selected, n_unassigned = cur.fetchone()
        usage = _usage_sums(cur, params, period) if with_usage else None

    n_areas = len(areas)
    position = {code: i for i, code in enumerate(areas["area_code"])}
    by_class = np.zeros((n_areas, len(POWER_CLASSES) + 1), dtype=np.int64)
    devices = np.zeros(n_areas, dtype=np.int64)
    connectors = np.zeros(n_areas, dtype="float64")
    for code, n_devices, n_connectors, *classes in counts:
        i = position[code]
        devices[i] = n_devices
        connectors[i] = float(n_connectors)
        by_class[i, :len(POWER_CLASSES)] = classes
    by_class[:, len(POWER_CLASSES)] = devices - by_class[:, :len(POWER_CLASSES)].sum(axis=1)
    if usage is not None:
        period, previous, sums = usage
        now = _aligned(sums.get(period, {}), position, n_areas)
        before = _aligned(sums.get(previous, {}), position, n_areas) \
            if previous is not None else None
    else:
        now = before = previous = None
    frame = area_table.summary_table(areas, level, devices, connectors, by_class, period,
                                     now, previous, before)
    frame.attrs.update({
        "level": level,
        "period": period,
        "previous_period": previous,
        "filters": {k: v for k, v in (filters or {}).items() if v},
        "devices_selected": int(n_selected),
        "devices_unassigned": int(n_unassigned),
        "boundary_version": version,
        "population_note": note_row[0] if note_row else "",
    })
    return frame


def _read_areas(cur, level: str):
    names = ("code", "name", "parent_code", "parent_name", "population", "area_m2",
             "boundary_version")
    cur.execute(f"SELECT {', '.join(names)} FROM {_S}.areas WHERE level = %s ORDER BY fid",
                (level,))
    rows = cur.fetchall()
    if not rows:
        raise ValueError(f"no {level} boundaries to summarise by")
    columns = list(zip(*rows))
    table = pd.DataFrame({
        "area_code": np.array(columns[0], dtype=object),
        "area_name": np.array(columns[1], dtype=object),
        "parent_code": np.array(columns[2], dtype=object),
        "parent_name": np.array(columns[3], dtype=object),
        "population": np.array([np.nan if v is None else v for v in columns[4]],
                               dtype="float64"),
        "area_m2": np.array(columns[5], dtype="float64"),
    })
    return table, str(columns[6][0])


def _check_assignment(cur, level: str, version: str) -> None:
    """``device_areas`` must have been made with the stored boundaries."""
    cur.execute(f"SELECT DISTINCT boundary_version FROM {_S}.device_areas")
    stamps = [row[0] or "" for row in cur.fetchall()]
    part = 0 if level == "ward" else 1
    stale = [s for s in stamps if (s.split("|") + ["", ""])[part] != version]
    if stale:
        raise StoreError(
            f"The devices were placed in other {level} boundaries than the stored ones "
            f"({stale[0].split('|')[part] or 'none'} instead of {version}); place them "
            "again (assign devices) before summarising.")


def _usage_sums(cur, params: dict, period: str | None):
    """(period, previous period, {period: {area_code: sums}}), or None without usage.

    Periods are ordered and chosen as summary.Summariser does: by ``period_index``
    when every row has one, else by label; the default is the latest period in
    which a current device's sessions started.
    """
    capacity = "u.capacity_kwh"  # stored since schema 3
    index_sql = "(array_agg(u.period_index ORDER BY u.fid))[1]"
    cur.execute(f"""
        SELECT u.period, {index_sql},
               coalesce(sum({_finite_or_zero('u.sessions')})
                        FILTER (WHERE u.device_id IN (SELECT device_id FROM evcp_selected)),
                        0) > 0
        FROM {_S}.usage_periods AS u
        WHERE u.level = 'device' AND u.period_kind = %(kind)s AND u.period IS NOT NULL
        GROUP BY u.period""", params)
    found = cur.fetchall()
    if not found:
        return None
    has_index = all(row[1] is not None for row in found)
    order = sorted(found, key=lambda row: (row[1] if has_index else 0, row[0]))
    periods = [row[0] for row in order]
    with_sessions = [row[0] for row in order if row[2]]
    if period is None:
        period = (with_sessions or periods)[-1]
    if period not in periods:
        raise ValueError(f"no utilisation for period '{period}'; "
                         f"available: {', '.join(periods)}")
    if has_index:
        index_of = {row[0]: row[1] for row in order}
        previous = next((p for p in periods if index_of[p] == index_of[period] - 1), None)
    else:
        at = periods.index(period)
        previous = periods[at - 1] if at > 0 else None
    wanted = [p for p in (period, previous) if p is not None]
    sums_sql = ", ".join(f"sum({_finite_or_zero('u.' + name)})"
                         for name in area_table.USAGE_SUMS if name != "capacity_kwh")
    cur.execute(f"""
        SELECT u.period, s.area_code, count(DISTINCT (s.source, s.device_id)), {sums_sql},
               sum({_finite_or_zero(capacity)}),
               count(*) FILTER (WHERE ({capacity}) NOT IN ('NaN', 'Infinity', '-Infinity'))
        FROM (SELECT DISTINCT ON (device_id) * FROM evcp_selected
              ORDER BY device_id, source LIKE 'ocpi%%', source) AS s
        JOIN {_S}.usage_periods AS u ON u.device_id = s.device_id
        WHERE s.selected AND s.area_code IS NOT NULL AND u.level = 'device'
          AND u.period_kind = %(kind)s AND u.period = ANY(%(wanted)s)
        GROUP BY u.period, s.area_code""", {**params, "wanted": wanted})
    names = ["devices_with_usage"] + [n for n in area_table.USAGE_SUMS if n != "capacity_kwh"] \
        + ["capacity_kwh", "capacity_known"]
    sums: dict = {}
    for label, code, *values in cur.fetchall():
        sums.setdefault(label, {})[code] = dict(zip(names, values))
    return period, previous, sums


def _aligned(by_code: dict, position: dict, n_areas: int) -> dict:
    """Per-area usage sums as arrays in area order, unknown (NaN) where no device
    of the area has a usage record (as summary.Summariser._usage_sums)."""
    out = {name: np.zeros(n_areas) for name in area_table.USAGE_SUMS}
    out["devices_with_usage"] = np.zeros(n_areas, dtype=np.int64)
    capacity_known = np.zeros(n_areas)
    for code, values in by_code.items():
        i = position[code]
        out["devices_with_usage"][i] = values["devices_with_usage"]
        for name in area_table.USAGE_SUMS:
            out[name][i] = float(values[name])
        capacity_known[i] = values["capacity_known"]
    out["capacity_kwh"] = np.where(capacity_known > 0, out["capacity_kwh"], np.nan)
    unknown = out["devices_with_usage"] == 0
    for name in area_table.USAGE_SUMS:
        out[name] = np.where(unknown, np.nan, out[name])
    return out
