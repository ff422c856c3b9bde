"""Utilisation of the shared (PostGIS) store, from its month sums.

:func:`utilisation` returns the frame ``Workspace.utilisation`` gives for a local store
on the same sessions: the same columns, dtypes, row order and figures, under the rules
of :func:`.utilisation.definitions`. The sessions never leave the database, and are not
even read: every import keeps the session figures per (device or connector, month) in
the tables of :mod:`.usage_months` (the local store's SQL, :mod:`.usage_sql`, rendered
for PostgreSQL), and those sums are assembled into periods exactly as the local store's
are (:func:`.usage_sql_engine.assemble_months`, on a private in-memory DuckDB
connection). What a role may not see (row-level security) is not in its sums.

Everything is read in one ``REPEATABLE READ`` transaction, so an import committed
meanwhile is either wholly in the figures or not at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import usage_sql as q
from ...analysis.uptime import DEFAULT_MAX_GAP_HOURS
from ...analysis.usage_coverage import coverage_pairs
from ...analysis.usage_sql_engine import Prepared, assemble_months
from ...calendar import PERIOD_KINDS, STEP_MONTHS
from ...progress import SILENT, Progress
from .copy_io import copy_frame
from .schema import SCHEMA
from .usage_months import (
    COUNTS_TABLE,
    MONTH_COLUMNS,
    MONTHS_TABLE,
    identity,
    query_settings,
    stored_triples,
)

MAX_STATUS_GAP_HOURS = DEFAULT_MAX_GAP_HOURS  # as the local store


def utilisation(store, period: str = "quarter", by: str = "device",
                progress: Progress = SILENT) -> pd.DataFrame:
    """Utilisation per device (or connector) and period from the store's month sums.

    ``store`` is a :class:`~.backend.PostgisStore`. The result equals
    ``Workspace.utilisation(period, by)`` of a local store holding the same data (rows
    only where a device's usage source reports the period,
    :func:`.usage_coverage.usage_coverage`); see :func:`.utilisation.utilisation` for
    the rules.
    """
    if by not in ("device", "connector"):
        raise ValueError("by must be 'device' or 'connector'")
    if period not in PERIOD_KINDS:
        raise ValueError(f"period must be one of {PERIOD_KINDS}, not {period!r}")
    progress.report(5, "Reading the month sums")
    step = STEP_MONTHS[period]
    with store.transaction("REPEATABLE READ READ ONLY") as cur:
        query_settings(cur)  # (summing months per period: no JIT, in memory)
        triples = stored_triples(cur)
        months = _month_sums(cur, by, step)
        counts = copy_frame(cur, f"""
            SELECT dev, source, (m / {step}) * {step} AS m, sum(n) AS n
            FROM {SCHEMA}.{COUNTS_TABLE} GROUP BY 1, 2, 3""",
                             {"dev": object, "source": object, "m": "int64", "n": "int64"})
        status = store.status_snapshots()
        devices, connectors = store.facts_tables()
        operators = device_operators(cur)
    progress.check_cancelled()
    progress.report(50, f"Computing utilisation per {by} and {period}")
    prep = Prepared(triples, identity, devices, connectors)
    from ..history_parts import duckdb_connection  # without duckdb: the one-line error

    con = duckdb_connection()
    try:
        con.register("pg_month_sums", months)
        frame = assemble_months(con, prep, "pg_month_sums", by, period, devices, connectors,
                                status, MAX_STATUS_GAP_HOURS,
                                coverage_pairs(session_counts(counts, period), operators))
    finally:
        con.close()
    progress.report(100, "Utilisation ready")
    return frame


def _month_sums(cur, by: str, step: int) -> pd.DataFrame:
    """The month sums of level ``by``, summed to the first month of each period of
    ``step`` months (as the assembly sums months into periods; fewer rows to move)."""
    spans = ["first_closed", "last_closed", "first_start", "last_start"]
    sums = [n for n, _ in MONTH_COLUMNS if n not in ("dev", "con", "m", *spans)]
    query = (f"SELECT dev, con, (m / {step}) * {step} AS m, "
             + ", ".join([f"sum({n}) AS {n}" for n in sums]
                         + [f"{'min' if n.startswith('first') else 'max'}({n}) AS {n}"
                            for n in spans])
             + f" FROM {SCHEMA}.{MONTHS_TABLE} WHERE level = '{by}' GROUP BY 1, 2, 3")
    dtypes = {"dev": object, "con": object, "m": "int64",
              **{n: "float64" if n == "kwh" else "int64" for n in sums},
              **{n: "Int64" for n in spans}}  # in the query's order
    return copy_frame(cur, query, dtypes)


def session_counts(counts: pd.DataFrame, period: str = "quarter") -> pd.DataFrame:
    """:func:`.usage_coverage.session_counts` from the stored counts summed per period
    (``m``: each period's first month)."""
    return pd.DataFrame({"device_id": counts["dev"].to_numpy(object),
                         "source": counts["source"].to_numpy(object),
                         "period": q.period_labels(counts["m"].to_numpy(np.int64), period),
                         "sessions": counts["n"].to_numpy(np.int64)})


def device_operators(cur) -> pd.Series:
    """:func:`.usage_coverage.device_operators` of the store's current devices (an id held
    by several sources: the registry's row, as the area summaries take it)."""
    cur.execute(f"""
        SELECT DISTINCT ON (device_id) device_id, operator FROM {SCHEMA}.devices
        WHERE valid_to_utc IS NULL ORDER BY device_id, source LIKE 'ocpi%', source""")
    rows = cur.fetchall()
    return pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype=object)
