-- Roles of the EV charge points shared store (see docs/shared-store.md).
--
-- Run by a database administrator (a superuser, or a role with CREATEROLE that
-- is a member of the store owner), in the store's database, AFTER the store
-- owner has created the store (the first import or fetch with --store):
--
--   psql "service=evcp_dba" -v ON_ERROR_STOP=1 -f shared_store_roles.sql
--
-- Safe to run again: existing roles, memberships and grants rows are kept.
-- Optional psql variable: -v examples=false skips the example roles at the end
-- (Camden and Hackney officers, a ubitricity analyst, a London analyst).
--
-- Passwords are never in this file: set them afterwards, interactively, with
--   \password camden_officer
-- and give each person a ~/.pgpass line or a QGIS authentication configuration.

\set ON_ERROR_STOP on
\if :{?examples}
\else
  \set examples true
\endif

DO $$
BEGIN
  IF to_regclass('ev_chargepoints.access_grants') IS NULL THEN
    RAISE EXCEPTION 'database % has no shared store (schema ev_chargepoints) yet',
      current_database()
      USING HINT = 'Create it first as the store owner, e.g. python -m ev_chargepoints '
                   'import FILE --store service=NAME; then run this script again.';
  END IF;
END $$;

-- The store owner (who created the schema) runs migrations and imports; its
-- tables are what the default privileges below apply to.
SELECT nspowner::regrole AS owner, current_database() AS dbname
FROM pg_namespace WHERE nspname = 'ev_chargepoints' \gset

BEGIN;

-- 1. Group roles (NOLOGIN): people log in as their own roles, members of these.
--    evcp_reader    reads the store: public tables, aggregates, and per-device
--                   usage only as access_grants allows
--    evcp_importer  also writes imports; sees every row (an import recomputes
--                   London-wide usage), so give it to import services only
--    evcp_admin     sees every row and manages access_grants
SELECT format('CREATE ROLE %I NOLOGIN', name)
FROM (VALUES ('evcp_reader'), ('evcp_importer'), ('evcp_admin')) AS wanted(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec

GRANT evcp_reader TO evcp_importer, evcp_admin;
GRANT CONNECT ON DATABASE :"dbname" TO evcp_reader;
GRANT USAGE ON SCHEMA ev_chargepoints TO evcp_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA ev_chargepoints TO evcp_reader;
GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ev_chargepoints TO evcp_importer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ev_chargepoints TO evcp_importer;
REVOKE INSERT, UPDATE, DELETE ON ev_chargepoints.access_grants FROM evcp_importer;
GRANT INSERT, UPDATE, DELETE ON ev_chargepoints.access_grants TO evcp_admin;
-- The map's device rows are read through the view map_devices (every device, usage
-- only where granted); the table beneath it stays closed to the group roles.
SELECT format('REVOKE ALL ON %s FROM evcp_reader, evcp_importer, evcp_admin', t)
FROM to_regclass('ev_chargepoints.map_device_rows') AS t WHERE t IS NOT NULL \gexec

-- Tables and views a later plugin version adds (e.g. the map's) get the same; the
-- store closes map_device_rows again each time it writes the map.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA ev_chargepoints
  GRANT SELECT ON TABLES TO evcp_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA ev_chargepoints
  GRANT INSERT, UPDATE, DELETE ON TABLES TO evcp_importer;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA ev_chargepoints
  GRANT USAGE ON SEQUENCES TO evcp_importer;

COMMIT;

\if :examples
BEGIN;

-- 2. Who may see per-device usage of what: one NOLOGIN role per borough or
--    operator, with an access_grants row (a borough by its ONS code, an
--    operator by name as in the NCR deviceControllerName, case-insensitive).
SELECT format('CREATE ROLE %I NOLOGIN', name)
FROM (VALUES ('evcp_borough_camden'), ('evcp_borough_hackney'),
             ('evcp_operator_ubitricity')) AS wanted(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec

GRANT evcp_reader TO evcp_borough_camden, evcp_borough_hackney, evcp_operator_ubitricity;

INSERT INTO ev_chargepoints.access_grants (role_name, borough_code, operator)
SELECT wanted.role_name, wanted.borough_code, wanted.operator
FROM (VALUES ('evcp_borough_camden', 'E09000007', NULL),
             ('evcp_borough_hackney', 'E09000012', NULL),
             ('evcp_operator_ubitricity', NULL, 'ubitricity'))
     AS wanted(role_name, borough_code, operator)
WHERE NOT EXISTS (
  SELECT 1 FROM ev_chargepoints.access_grants g
  WHERE g.role_name = wanted.role_name
    AND g.borough_code IS NOT DISTINCT FROM wanted.borough_code
    AND g.operator IS NOT DISTINCT FROM wanted.operator);

-- 3. Login roles, one per person, members of the role of their borough or
--    operator; london_analyst has no grants and sees aggregates only.
SELECT format('CREATE ROLE %I LOGIN', name)
FROM (VALUES ('camden_officer'), ('hackney_officer'), ('ubitricity_analyst'),
             ('london_analyst')) AS wanted(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec

GRANT evcp_borough_camden TO camden_officer;
GRANT evcp_borough_hackney TO hackney_officer;
GRANT evcp_operator_ubitricity TO ubitricity_analyst;
GRANT evcp_reader TO london_analyst;

COMMIT;
\endif
