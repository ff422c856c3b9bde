"""The shared store's migrations: each step takes the schema :data:`.schema.SCHEMA` from
one version to the next, as the GeoPackage store's steps do (:mod:`..gpkg_schema`),
inside the opening's transaction; step 3 adds row-level security (:mod:`.access`)."""

from __future__ import annotations

from typing import Callable

from ...schema import TABLES
from ..interface import (
    ADDED_COLUMNS,
    DEVICE_FORMATS,
    REREAD_SUFFIX,
    USAGE_NUMBERS_2,
    USAGE_NUMBERS_3,
)
from .access import create_policies
from .schema import SCHEMA, SRID, USAGE_DATES, USAGE_TEXT, canonical_columns, column_sql
from .usage_months import create_pairs as create_month_pairs
from .usage_months import create_tables as create_month_sums


def _migrate_0_to_1(cur) -> None:
    s = SCHEMA
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    cur.execute(f"""
        CREATE TABLE {s}.store_meta (key text PRIMARY KEY, value text);
        CREATE TABLE {s}.devices (
            fid bigserial PRIMARY KEY,
            geom geometry(Point, {SRID}),
            {canonical_columns('devices', 1)},
            valid_from_utc timestamptz NOT NULL,
            valid_to_utc timestamptz,
            import_id bigint);
        CREATE INDEX devices_key ON {s}.devices (source, device_id, valid_to_utc);
        CREATE INDEX devices_geom ON {s}.devices USING gist (geom);
        CREATE TABLE {s}.connectors (
            fid bigserial PRIMARY KEY,
            {canonical_columns('connectors', 1)},
            source text COLLATE "C",
            valid_from_utc timestamptz NOT NULL,
            valid_to_utc timestamptz,
            import_id bigint);
        CREATE INDEX connectors_key ON {s}.connectors
            (source, device_id, connector_id, valid_to_utc);
        CREATE TABLE {s}.sessions (
            fid bigserial PRIMARY KEY,
            {canonical_columns('sessions', 1)},
            import_id bigint,
            CONSTRAINT sessions_session_key UNIQUE (session_key));
        ALTER TABLE {s}.sessions ALTER COLUMN session_key SET NOT NULL;
        CREATE TABLE {s}.status_snapshots (
            fid bigserial PRIMARY KEY,
            {canonical_columns('status_snapshots', 1)},
            import_id bigint,
            CONSTRAINT status_snapshots_key UNIQUE (observed_utc, device_id, evse_uid));
        ALTER TABLE {s}.status_snapshots ALTER COLUMN observed_utc SET NOT NULL,
            ALTER COLUMN device_id SET NOT NULL;
        CREATE TABLE {s}.import_log (
            id bigserial PRIMARY KEY, file_name text, sha256 text, imported_utc timestamptz,
            format text, rows_read bigint, rows_added bigint, rows_duplicate bigint,
            rows_rejected bigint, outcome text, message text);
        CREATE INDEX import_log_sha ON {s}.import_log (sha256);
        CREATE UNIQUE INDEX import_log_imported_once ON {s}.import_log (sha256)
            WHERE outcome = 'imported' AND sha256 <> '';
    """)
    cur.execute(f"INSERT INTO {s}.store_meta(key, value) VALUES ('created_utc', "
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))")


def _migrate_1_to_2(cur) -> None:
    s = SCHEMA
    usage = ", ".join([f"{n} text" for n in USAGE_TEXT] + [f"{n} date" for n in USAGE_DATES]
                      + [f"{n} double precision" for n in USAGE_NUMBERS_2])
    cur.execute(f"""
        ALTER TABLE {s}.import_log ADD COLUMN rows_updated bigint DEFAULT 0;
        CREATE TABLE {s}.import_rejects (
            fid bigserial PRIMARY KEY, import_id bigint NOT NULL, row bigint, reason text);
        CREATE INDEX import_rejects_import ON {s}.import_rejects (import_id);
        CREATE TABLE {s}.usage_periods (fid bigserial PRIMARY KEY, {usage},
            area_code text);
        CREATE INDEX usage_periods_kind ON {s}.usage_periods (period_kind, level, period);
        CREATE TABLE {s}.areas (
            fid bigserial PRIMARY KEY, level text NOT NULL, code text NOT NULL, name text,
            parent_code text, population double precision, boundary_version text,
            geom geometry(MultiPolygon, {SRID}),
            CONSTRAINT areas_level_code UNIQUE (level, code));
        CREATE INDEX areas_geom ON {s}.areas USING gist (geom);
        CREATE TABLE {s}.device_areas (
            source text, device_id text NOT NULL, ward_code text, borough_code text,
            operator text, boundary_version text,
            CONSTRAINT device_areas_key UNIQUE (source, device_id));
        CREATE INDEX device_areas_device ON {s}.device_areas (device_id);
        CREATE TABLE {s}.access_grants (
            role_name text NOT NULL, borough_code text, operator text,
            CHECK ((borough_code IS NULL) <> (operator IS NULL)));
    """)


def _migrate_2_to_3(cur) -> None:
    """The usage cache keeps the sums behind capacity factor and per-day figures (as in
    the GeoPackage store); areas keep their parent's name and exact area."""
    s = SCHEMA
    added = ", ".join(f"ADD COLUMN {n} double precision" for n in USAGE_NUMBERS_3)
    cur.execute(f"ALTER TABLE {s}.usage_periods {added}")
    cur.execute(f"ALTER TABLE {s}.areas ADD COLUMN parent_name text,"
                " ADD COLUMN area_m2 double precision")
    # Row-level security and the aggregate views over the finished tables.
    create_policies(cur)


def _migrate_3_to_4(cur) -> None:
    """As the GeoPackage store's: cross-reference columns, the reconciliation decisions,
    and device files imported before read again once when imported again."""
    s = SCHEMA
    for table, columns in ADDED_COLUMNS[4].items():
        added = ", ".join(f"ADD COLUMN {column_sql(n, TABLES[table][n])}" for n in columns)
        cur.execute(f"ALTER TABLE {s}.{table} {added}")
    cur.execute(f"""
        CREATE TABLE {s}.reconciliation_decisions (
            id bigserial PRIMARY KEY,
            a_source text NOT NULL, a_device_id text NOT NULL, a_evse_uid text,
            b_source text NOT NULL, b_device_id text NOT NULL, b_evse_uid text,
            verdict text NOT NULL CHECK (verdict IN ('same', 'different')),
            decided_utc timestamptz, decided_by text DEFAULT current_user, note text)""")
    cur.execute(f"UPDATE {s}.import_log SET sha256 = sha256 || %s WHERE outcome = 'imported'"
                " AND format = ANY(%s) AND sha256 IS NOT NULL AND sha256 <> ''",
                (REREAD_SUFFIX, list(DEVICE_FORMATS)))


def _migrate_4_to_5(cur) -> None:
    """Utilisation's month sums, kept by every import (:mod:`.usage_months`); the
    opening builds them once from the sessions after this step."""
    create_month_sums(cur)


def _migrate_5_to_6(cur) -> None:
    """An import updates only the month sums of the (device, month) it touches
    (:func:`.usage_months.create_pairs`); the opening rebuilds the sums after this
    step."""
    create_month_pairs(cur)


MIGRATIONS: list[tuple[int, Callable]] = [
    (1, _migrate_0_to_1),
    (2, _migrate_1_to_2),
    (3, _migrate_2_to_3),
    (4, _migrate_3_to_4),
    (5, _migrate_4_to_5),
    (6, _migrate_5_to_6),
]
