"""Disclosure by role on the shared store: PostgreSQL row-level security.

Per-device usage is commercially sensitive; devices, connectors and areas are
public within the platform. :func:`create_policies` (run by the schema
migration, as the store owner) makes the database enforce that:

* Tables of per-device usage (``sessions``, ``status_snapshots``, the device and
  connector rows of ``usage_periods``, and any table passed to
  :func:`protect_device_table`) get row-level security. A role sees a row when
  :sql:`ev_chargepoints.may_see_device(device_id)` is true: it is a member of
  ``evcp_admin`` or ``evcp_importer``, or ``access_grants`` names a role it is a
  member of for the device's borough (``device_areas.borough_code``) or operator.
* Tables whose rows are public but whose usage columns are not (the map's devices,
  one feature per device and period) are kept in a table only the owner reads
  (:func:`hide_table`) and shown through a view (:func:`create_masked_view`) that
  returns every row, with the usage columns NULL for devices the querying role may
  not see.
* Aggregates are for everyone: the view ``area_usage`` (owned by the store
  owner, so it reads all rows) sums the device rows of ``usage_periods`` by
  ward, borough and in total, recomputes the ratios from the sums as
  :func:`~.usage_sums.add_ratios` does, and suppresses the usage figures of
  cells with fewer than ``disclosure_threshold`` devices or a single operator,
  as :mod:`~.disclosure` does for exports.

The owner's own connections (migrations, imports) are not subject to the
policies: row security is ENABLEd, not FORCEd. ``docs/shared-store.md`` and
``resources/sql/shared_store_roles.sql`` describe the roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pandas as pd

from ...analysis.usage_sums import ADDITIVE
from ...calendar import period_index
from ...outputs.disclosure import COMPLEMENT, DEFAULT_THRESHOLD, FEW_DEVICES, ONE_OPERATOR, SHOWN
from ..interface import USAGE_NUMBERS
from .schema import SCHEMA

READER_ROLE = "evcp_reader"
IMPORTER_ROLE = "evcp_importer"
ADMIN_ROLE = "evcp_admin"
# Members of these roles see every row (an import recomputes London-wide usage).
SEE_ALL_ROLES = (ADMIN_ROLE, IMPORTER_ROLE)

DEVICE_LEVELS = ("device", "connector")       # usage_periods rows about one device
THRESHOLD_KEY = "disclosure_threshold"        # store_meta key read by the views
AREA_LEVELS = ("ward", "borough", "all")

# Sums carried from device rows to areas (as usage_sums.summarise adds them); since
# schema 3 the cache stores capacity_kwh and available_days too.
SUMMED = ["connectors", "rated_kw"] + [c for c in ADDITIVE if c in USAGE_NUMBERS]
RATIOS = {  # name: (numerator, denominator, scale) exactly as usage_sums.add_ratios
    "occupancy_pct": ("plugged_hours", "available_hours", 100),
    "capacity_factor_pct": ("kwh", "capacity_kwh", 100),
    "sessions_per_day": ("sessions", "available_days", 1),
    "kwh_per_day": ("kwh", "available_days", 1),
}
PUBLIC_FIGURES = ("connectors", "rated_kw")   # counts and ratings are never suppressed

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _name(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier or ""):
        raise ValueError(f"not a plain SQL identifier: {identifier!r}")
    return identifier


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _role_list(roles) -> str:
    return "ARRAY[" + ", ".join(_quoted(r) for r in roles) + "]::name[]"


def create_policies(cur) -> None:
    """Functions, views and row-level security of the shared store (idempotent).

    Runs inside the migration's transaction, as the store owner. It needs no
    role to exist: the group roles are looked up by name when a query runs.
    """
    s = SCHEMA
    cur.execute(f"""
        INSERT INTO {s}.store_meta(key, value) VALUES ({_quoted(THRESHOLD_KEY)},
            {_quoted(str(DEFAULT_THRESHOLD))}) ON CONFLICT (key) DO NOTHING;

        -- One row per device: where it is and who runs it (device_areas first,
        -- else the current devices row). Public, like both tables.
        CREATE OR REPLACE VIEW {s}.device_places AS
        WITH placed AS (
            SELECT DISTINCT ON (device_id) device_id, ward_code, borough_code, operator
            FROM {s}.device_areas ORDER BY device_id, source),
        current_devices AS (
            SELECT DISTINCT ON (device_id) device_id, operator FROM {s}.devices
            WHERE valid_to_utc IS NULL ORDER BY device_id, fid DESC)
        SELECT device_id, p.ward_code, p.borough_code,
               COALESCE(NULLIF(btrim(p.operator), ''), c.operator) AS operator
        FROM placed p FULL JOIN current_devices c USING (device_id);

        -- A SECURITY DEFINER function runs as its owner, so current_user inside
        -- it is the owner: the viewer comes in as an argument whose default is
        -- evaluated where the function is called (the querying role).
        CREATE OR REPLACE FUNCTION {s}.may_see_all(viewer name DEFAULT current_user)
        RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $$
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                           WHERE r.rolname = ANY ({_role_list(SEE_ALL_ROLES)})
                             AND pg_catalog.pg_has_role(viewer, r.oid, 'MEMBER'))
        $$;

        CREATE OR REPLACE FUNCTION {s}.granted_device_ids(viewer name DEFAULT current_user)
        RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $$
            SELECT p.device_id FROM {s}.device_places p
            WHERE EXISTS (
                SELECT 1 FROM {s}.access_grants g
                JOIN pg_catalog.pg_roles r ON r.rolname = g.role_name
                WHERE pg_catalog.pg_has_role(viewer, r.oid, 'MEMBER')
                  AND (g.borough_code = p.borough_code
                       OR lower(btrim(g.operator)) = lower(btrim(p.operator))))
        $$;

        CREATE OR REPLACE FUNCTION {s}.may_see_device(device_id text,
                                                      viewer name DEFAULT current_user)
        RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $$
            SELECT {s}.may_see_all(viewer)
                OR device_id IN (SELECT {s}.granted_device_ids(viewer))
        $$;
    """)
    protect_device_table(cur, "sessions")
    protect_device_table(cur, "status_snapshots")
    levels = ", ".join(_quoted(level) for level in DEVICE_LEVELS)
    protect_device_table(cur, "usage_periods",
                         public_rows=f"COALESCE(level NOT IN ({levels}), false)")
    cur.execute(f"""
        ALTER TABLE {s}.access_grants ENABLE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS evcp_see_all ON {s}.access_grants;
        CREATE POLICY evcp_see_all ON {s}.access_grants
            USING ((SELECT {s}.may_see_all())) WITH CHECK ((SELECT {s}.may_see_all()));
        DROP POLICY IF EXISTS evcp_own_grants ON {s}.access_grants;
        CREATE POLICY evcp_own_grants ON {s}.access_grants FOR SELECT
            USING (EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = role_name
                           AND pg_catalog.pg_has_role(r.oid, 'MEMBER')));
    """)
    cur.execute(f"DROP VIEW IF EXISTS {s}.area_usage")
    cur.execute(f"CREATE VIEW {s}.area_usage WITH (security_barrier) AS {area_usage_sql()}")
    cur.execute(f"COMMENT ON VIEW {s}.area_usage IS "
                + _quoted("Usage of all devices by ward, borough and in total; usage figures "
                          "of cells with fewer than store_meta.disclosure_threshold devices "
                          "or a single operator are suppressed."))


def protect_device_table(cur, table: str, device_column: str = "device_id",
                         public_rows: str | None = None) -> None:
    """Row-level security on a table with one device's figures per row (idempotent).

    A role reads a row when it may see the row's device (see the module doc), or
    when the row satisfies ``public_rows`` (an SQL condition, for aggregate rows
    kept in the same table). Members of ``evcp_admin``/``evcp_importer`` may
    also write every row (table privileges still decide who may write at all).
    """
    column = _name(device_column)
    granted = f"{column} IN (SELECT {SCHEMA}.granted_device_ids())"
    if public_rows:
        granted = f"({public_rows}) OR {granted}"
    _row_security(cur, _name(table), granted)


def _row_security(cur, table: str, granted: str | None) -> None:
    """``evcp_see_all`` for members of the see-all roles; ``evcp_granted`` (SELECT
    where ``granted`` holds) only when ``granted`` is given."""
    s = SCHEMA
    see_all = f"(SELECT {s}.may_see_all())"
    cur.execute(f"""
        ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS evcp_see_all ON {s}.{table};
        CREATE POLICY evcp_see_all ON {s}.{table} USING ({see_all}) WITH CHECK ({see_all});
        DROP POLICY IF EXISTS evcp_granted ON {s}.{table};
    """)
    if granted:
        cur.execute(f"CREATE POLICY evcp_granted ON {s}.{table} FOR SELECT USING ({granted})")


def hide_table(cur, table: str) -> None:
    """Only the owner reads ``table`` (idempotent): every privilege another role holds
    on it (e.g. readers' ``SELECT`` from the default privileges) is revoked, and row
    security without a policy for readers stays as the defence should ``SELECT`` be
    granted again (the roles script grants it on all tables): readers then read no
    rows. Members of ``evcp_admin``/``evcp_importer`` would read all of them."""
    name = f"{SCHEMA}.{_name(table)}"
    _row_security(cur, _name(table), None)
    cur.execute(f"""
        DO $$
        DECLARE grantee_name text;
        BEGIN
            FOR grantee_name IN
                SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                     ELSE quote_ident(r.rolname) END
                FROM pg_catalog.pg_class c
                CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                WHERE c.oid = {_quoted(name)}::regclass AND a.grantee <> c.relowner
            LOOP
                EXECUTE format('REVOKE ALL ON {name} FROM %s', grantee_name);
            END LOOP;
        END $$;
    """)


def create_masked_view(cur, view: str, table: str, masked_columns, device_column: str =
                       "device_id") -> None:
    """``view`` (replaced): every row of ``table``, with ``masked_columns`` NULL where
    the querying role may not see the row's device (:sql:`may_see_device`).

    The view is owned by the store owner, so it reads every row of ``table`` (which
    should be hidden with :func:`hide_table`); ``current_user`` inside a view is the
    querying role (also after ``SET ROLE``), so the masks follow the caller. The
    owner (and roles with its privileges, superusers) see every value, as row
    security lets them. The granted devices are computed once per query and joined.
    """
    s, view, table, device = SCHEMA, _name(view), _name(table), _name(device_column)
    masked = {_name(c) for c in masked_columns}
    cur.execute("SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (f"{s}.{table}",))
    columns = [row[0] for row in cur.fetchall()]
    if device not in columns or not masked <= set(columns):
        raise ValueError(f"{s}.{table} lacks {sorted(({device} | masked) - set(columns))}")
    select = [f't."{c}"' if c not in masked else
              f'CASE WHEN v.sees_all OR g.{device} IS NOT NULL THEN t."{c}" END AS "{c}"'
              for c in columns]
    cur.execute(f"DROP VIEW IF EXISTS {s}.{view}")
    cur.execute(f"""
        CREATE VIEW {s}.{view} AS
        WITH viewer AS MATERIALIZED (
            SELECT {s}.may_see_all() OR pg_catalog.pg_has_role(c.relowner, 'USAGE')
                   AS sees_all
            FROM pg_catalog.pg_class c WHERE c.oid = {_quoted(f"{s}.{table}")}::regclass),
        granted AS MATERIALIZED (
            SELECT DISTINCT {device} FROM {s}.granted_device_ids() AS {device}
            WHERE NOT (SELECT sees_all FROM viewer))
        SELECT {', '.join(select)}
        FROM {s}.{table} t CROSS JOIN viewer v
        LEFT JOIN granted g ON g.{device} = t.{device}""")
    cur.execute(f"COMMENT ON VIEW {s}.{view} IS " + _quoted(
        f"Every row of {table}; {', '.join(sorted(masked))} are NULL for devices the "
        "querying role may not see (may_see_device)."))


def area_usage_sql(threshold_default: int = DEFAULT_THRESHOLD) -> str:
    """The SELECT behind ``area_usage``: device rows of ``usage_periods`` summed by
    ward (within its borough), borough and in total, per period kind and period.

    ``devices``/``operators`` count the devices with a usage row in the cell and
    their distinct operators (a missing operator counts as one unknown operator).
    Devices without a ward or borough form a cell with a NULL code, so the cells of
    a level always add up to the level above. Suppression follows
    :func:`~.disclosure.mask_usage` with ``complementary=True`` inside each
    parent (wards of a borough, boroughs of the total).
    """
    s = SCHEMA
    # a stored NaN counts as missing
    inputs = [f"NULLIF(u.{c}, 'NaN') AS {c}" for c in SUMMED]
    sums = [f"sum({c}) AS {c}" for c in SUMMED]
    ratios = [f"CASE WHEN {den} > 0 THEN {num} / {den} * {scale} END AS {name}"
              for name, (num, den, scale) in RATIOS.items()]
    masked = [c if c in PUBLIC_FIGURES else f"CASE WHEN hidden THEN NULL ELSE {c} END AS {c}"
              for c in SUMMED + list(RATIOS)]
    few = _quoted(FEW_DEVICES.replace("{n}", "%s"))
    return f"""
        WITH settings AS MATERIALIZED (
            SELECT GREATEST(COALESCE((SELECT value::int FROM {s}.store_meta
                                      WHERE key = {_quoted(THRESHOLD_KEY)}
                                        AND value ~ '^[0-9]+$'), {int(threshold_default)}),
                            1) AS threshold),
        device_rows AS (
            SELECT u.period_kind, u.period, u.period_start, u.period_end, u.device_id,
                   p.ward_code, p.borough_code,
                   lower(btrim(COALESCE(p.operator, ''))) AS operator, {', '.join(inputs)}
            FROM {s}.usage_periods u LEFT JOIN {s}.device_places p USING (device_id)
            WHERE u.level = 'device'),
        cells AS (
            SELECT CASE WHEN GROUPING(borough_code) = 1 THEN 'all'
                        WHEN GROUPING(ward_code) = 1 THEN 'borough' ELSE 'ward' END AS level,
                   CASE WHEN GROUPING(borough_code) = 1 THEN 'all'
                        WHEN GROUPING(ward_code) = 1 THEN borough_code
                        ELSE ward_code END AS area_code,
                   CASE WHEN GROUPING(borough_code) = 1 THEN NULL
                        WHEN GROUPING(ward_code) = 1 THEN 'all'
                        ELSE borough_code END AS parent_code,
                   period_kind, period, min(period_start) AS period_start,
                   max(period_end) AS period_end,
                   count(DISTINCT device_id) AS usage_devices,
                   count(DISTINCT operator) AS usage_operators, {', '.join(sums)}
            FROM device_rows
            GROUP BY period_kind, period,
                     GROUPING SETS ((borough_code, ward_code), (borough_code), ())),
        rules AS (
            SELECT c.*, {', '.join(ratios)},
                   c.usage_devices < t.threshold AS few,
                   c.usage_devices >= t.threshold AND c.usage_operators <= 1 AS single,
                   t.threshold
            FROM cells c CROSS JOIN settings t),
        ranked AS (
            SELECT r.*,
                   count(*) FILTER (WHERE few OR single) OVER parent AS hidden_in_parent,
                   row_number() OVER (parent ORDER BY few OR single, usage_devices,
                                      area_code) AS fewest_first
            FROM rules r
            WINDOW parent AS (PARTITION BY level, period_kind, period, parent_code)),
        decided AS (
            SELECT x.*,
                   NOT (few OR single) AND hidden_in_parent = 1 AND fewest_first = 1
                       AND level <> 'all' AS complement
            FROM ranked x),
        flagged AS (
            SELECT d.*, few OR single OR complement AS hidden,
                   CASE WHEN few THEN format({few}, threshold)
                        WHEN single THEN {_quoted(ONE_OPERATOR)}
                        WHEN complement THEN {_quoted(COMPLEMENT)}
                        ELSE {_quoted(SHOWN)} END AS usage_disclosure
            FROM decided d)
        SELECT level, area_code, parent_code, period_kind, period, period_start, period_end,
               usage_devices, usage_operators, {', '.join(masked)}, usage_disclosure
        FROM flagged"""


# --- what a login may see (summaries by role) ----------------------------------------

ACCESS_COLUMN = "usage_access"     # summary column: what a row's usage figures rest on
EVERY_DEVICE = "every device"      # the role reads the usage of every device of the area
PUBLISHED = "published aggregate"  # area_usage: the same for every reader, rule applied
NOT_SHOWN = "not shown for your role"
PUBLISHED_SUMS = ("sessions", "kwh", "plugged_hours", "available_hours", "capacity_kwh")


@dataclass
class RoleView:
    """What a login of the shared store may see of per-device usage (:func:`role_view`).

    ``visible_ids``: the devices whose usage rows it reads (None: every device);
    ``published``: the ``area_usage`` rows of one period kind (ward, borough and
    all, with ``period_index`` as the utilisation tables number periods), or None
    where they do not apply (custom areas); ``note``: the one line every summary of
    this login says."""

    login: str
    kind: str                          # "owner", "see all", "granted", "aggregates"
    note: str
    visible_ids: Optional[frozenset] = None
    published: Optional[pd.DataFrame] = None

    @property
    def sees_all(self) -> bool:
        return self.visible_ids is None


def role_view(store, period_kind: str = "quarter", published: bool = True,
              stale: bool = False) -> RoleView:
    """What the login of ``store`` (a :class:`~.pgstore.PostgisStore`) may see: its
    grants, the devices row security lets it read, and, with ``published``, the
    ``area_usage`` aggregates of ``period_kind`` for the areas where it does not read
    every device. ``stale``: those aggregates were prepared before the store's latest
    change (the note says so)."""
    s = SCHEMA
    with store.transaction("REPEATABLE READ READ ONLY") as cur:
        cur.execute(f"SELECT current_user, pg_catalog.pg_has_role(current_user, n.nspowner,"
                    f" 'USAGE'), {s}.may_see_all() FROM pg_catalog.pg_namespace n"
                    " WHERE n.nspname = %s", (s,))
        login, owner, see_all = cur.fetchone()
        cur.execute(f"SELECT value FROM {s}.store_meta WHERE key = %s", (THRESHOLD_KEY,))
        row = cur.fetchone()
        threshold = int(row[0]) if row and str(row[0]).isdigit() else DEFAULT_THRESHOLD
        if owner or see_all:
            kind = "owner" if owner else "see all"
            return RoleView(login, kind, _role_note(login, kind, [], [], threshold, None))
        cur.execute(f"""
            SELECT DISTINCT g.borough_code, a.name, btrim(g.operator)
            FROM {s}.access_grants g JOIN pg_catalog.pg_roles r ON r.rolname = g.role_name
            LEFT JOIN {s}.areas a ON a.level = 'borough' AND a.code = g.borough_code
            WHERE pg_catalog.pg_has_role(r.oid, 'MEMBER')
            ORDER BY 1, 3""")
        grants = cur.fetchall()
        boroughs = [name or code for code, name, _ in grants if code]
        operators = [operator for code, _, operator in grants if not code]
        cur.execute(f"SELECT DISTINCT {s}.granted_device_ids()")
        visible = frozenset(r[0] for r in cur.fetchall())
        table = None
        if published:
            cur.execute(f"""
                SELECT level, area_code, period, period_start, period_end, usage_devices,
                       usage_operators, {', '.join(PUBLISHED_SUMS)}, usage_disclosure
                FROM {s}.area_usage WHERE period_kind = %s ORDER BY period_start, level,
                area_code""", (period_kind,))
            names = ["level", "area_code", "period", "period_start", "period_end",
                     "usage_devices", "usage_operators", *PUBLISHED_SUMS, "usage_disclosure"]
            table = pd.DataFrame.from_records(cur.fetchall(), columns=names)
            for name in PUBLISHED_SUMS:
                table[name] = pd.to_numeric(table[name]).astype("float64")
            table["period_index"] = [period_index(d.year, d.month, period_kind)
                                     for d in table["period_start"]]
    kind = "granted" if grants else "aggregates"
    note = _role_note(login, kind, boroughs, operators, threshold,
                      None if table is None else (period_kind, len(table) > 0, stale))
    return RoleView(login, kind, note, visible, table)


def _role_note(login, kind, boroughs, operators, threshold, published) -> str:
    if kind == "owner":
        return f"Store owner ({login}): usage of every device shown."
    if kind == "see all":
        return (f"Import or administration role ({login}, sees every row): usage of every "
                "device shown.")
    if published is None:
        aggregates = f"usage {NOT_SHOWN} (no aggregates are published for these areas)"
    else:
        period_kind, prepared, stale = published
        aggregates = (
            f"the published area aggregates, usage of fewer than {threshold} devices or "
            f"one operator suppressed{'; prepared before the latest import' if stale else ''}"
            if prepared else
            f"usage {NOT_SHOWN} (no {period_kind} aggregates are published yet: the next "
            "import, or a summary by the store owner, prepares them)")
    if kind == "aggregates":
        return f"Analyst ({login}, no per-device access): aggregated usage only — {aggregates}."
    who = " and ".join(part for part in (
        f"borough officer ({', '.join(boroughs)})" if boroughs else "",
        f"operator ({', '.join(operators)})" if operators else "") if part)
    return (f"{who[0].upper()}{who[1:]} — {login}: full usage where you see every device "
            f"(those of {' and '.join(boroughs + operators)}); elsewhere {aggregates}. "
            f"Column {ACCESS_COLUMN} says which, per area.")
