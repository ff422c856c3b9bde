"""The shared store's schema on PostgreSQL/PostGIS: the same tables as the
GeoPackage store (see :mod:`..gpkg_schema`), in one schema, with the same migrations
(:mod:`.migrations`).

Everything lives in the schema :data:`SCHEMA` of the database the connection
names. Times are ``timestamptz``, device points ``geometry(Point, 27700)``.
Content keys are unique constraints, so two imports running at the same time
can never store a session (or a status observation) twice: the second waits on
the first's row lock and then finds the key taken. A file is imported once: a
partial unique index allows one ``imported`` row per SHA-256.

Beyond the GeoPackage tables, the shared store holds what server-side analysis
and disclosure by role need:

``areas``           ward and borough polygons (EPSG:27700, GiST-indexed)
``device_areas``    each device's ward and borough, assigned in the database
``access_grants``   which database role may see per-device usage of which
                    borough or operator (see ``docs/shared-store.md``)
"""

from __future__ import annotations

from ...schema import TABLES
from ..interface import USAGE_TEXT as STORE_USAGE_TEXT
from ..interface import columns_in_version

SCHEMA = "ev_chargepoints"
SCHEMA_VERSION = 6  # as the GeoPackage store up to 4; 5: utilisation's month sums;
# 6: the sums an import touches updated alone (usage_months.create_pairs)
SRID = 27700

PG_TYPE = {"object": "text", "float64": "double precision", "int64": "bigint",
           "datetime64[ns, UTC]": "timestamptz", "bool": "boolean"}

# The usage cache's columns, shared with the GeoPackage store (dates are typed here).
USAGE_DATES = ["period_start", "period_end"]
USAGE_TEXT = [n for n in STORE_USAGE_TEXT if n not in USAGE_DATES]


def canonical_columns(table: str, version: int = SCHEMA_VERSION) -> str:
    """Text compares byte by byte ("C"), as in the GeoPackage store (SQLite's BINARY):
    the same order in both, and sorting and indexing millions of keys is far faster.
    ``version``: the columns the table had in that schema version."""
    return ", ".join(column_sql(name, TABLES[table][name])
                     for name in columns_in_version(table, version))


def column_sql(name: str, dtype: str) -> str:
    return f"{name} {PG_TYPE[dtype]}" + (' COLLATE "C"' if dtype == "object" else "")
