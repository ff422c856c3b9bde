"""Shared-store setup for the QGIS tests: a saved QGIS PostgreSQL connection whose
credentials are a QGIS authentication configuration, and the Camden slice of the
bundled London snapshot (real NCR devices, SYNTHETIC sessions drawn from the real
Dundee distributions for March and April 2022)."""

from __future__ import annotations

import csv
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

CAMDEN = "E09000007"
NCR_FILE = "ncr_chargepoints_london_2022-05.csv.gz"
USAGE_RETURN_FIELDS = ["device_id", "connector_id", "session_id", "start_utc", "end_utc",
                       "kwh", "charging_end_utc"]


@contextmanager
def saved_connection(cluster, dbname: str, auth_manager, password: str,
                     prefix: str = "officer"):
    """A role that logs in with ``password`` only and owns ``dbname``, a Basic
    authentication configuration holding it, and a QGIS PostgreSQL connection using
    that configuration. Yields {"connection", "authcfg", "role", ...}; removes the
    connection and the configuration afterwards."""
    from qgis.core import QgsAuthMethodConfig, QgsProviderRegistry

    role = f"{prefix}_{uuid.uuid4().hex[:8]}"
    cluster.create_role(role, password=password)
    cluster.execute(f"ALTER DATABASE {dbname} OWNER TO {role}")
    config = QgsAuthMethodConfig("Basic")
    config.setName(f"shared store {role}")
    config.setConfig("username", role)
    config.setConfig("password", password)
    assert auth_manager.storeAuthenticationConfig(config)[0]
    metadata = QgsProviderRegistry.instance().providerMetadata("postgres")
    name = f"London shared store {role}"
    metadata.saveConnection(metadata.createConnection(
        f"host={cluster.host} port={cluster.port} dbname={dbname} authcfg={config.id()}", {}),
        name)
    try:
        yield {"connection": name, "authcfg": config.id(), "role": role, "dbname": dbname,
               "cluster": cluster, "metadata": metadata}
    finally:
        metadata.deleteConnection(name)
        auth_manager.removeAuthenticationConfig(config.id())


def camden_slice(seed: int = 14):
    """(NCR ParseResult of Camden's devices, ParseResult of their synthetic sessions)."""
    from ev_chargepoints.core.analysis import areas
    from ev_chargepoints.core.paths import LONDON_SNAPSHOT
    from ev_chargepoints.core.schema import ParseResult
    from ev_chargepoints.core.sources import synthetic
    from ev_chargepoints.core.sources.parsers import parse_file
    from ev_chargepoints.core.store.usage_kind import SYNTHETIC_FORMAT

    parsed = parse_file(LONDON_SNAPSHOT / NCR_FILE)
    devices, connectors = parsed.tables["devices"], parsed.tables["connectors"]
    placed = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs()).table
    ids = set(placed.loc[placed["borough_code"] == CAMDEN, "device_id"])
    devices = devices[devices["device_id"].isin(ids)].reset_index(drop=True)
    connectors = connectors[connectors["device_id"].isin(ids)].reset_index(drop=True)
    ncr = ParseResult(parsed.format, "ncr camden", len(devices),
                      tables={"devices": devices, "connectors": connectors})
    sessions = synthetic.synthetic_sessions(
        devices, connectors, synthetic.dundee_sessions(), pd.Timestamp("2022-03-01", tz="UTC"),
        pd.Timestamp("2022-05-01", tz="UTC"), seed=seed, occupancy_range=(0.01, 0.1))
    usage = ParseResult(SYNTHETIC_FORMAT, "synthetic camden", len(sessions),
                        tables={"sessions": sessions})
    return ncr, usage


def write_usage_return(sessions: pd.DataFrame, path) -> Path:
    """``sessions`` as the plugin's usage return (CSV, times in UTC with a Z)."""
    def utc(value):
        return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")

    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(USAGE_RETURN_FIELDS)
        for row in sessions.itertuples(index=False):
            writer.writerow([row.device_id, row.connector_id, row.session_key,
                             utc(row.start_utc), utc(row.end_utc), f"{row.kwh:.3f}",
                             utc(row.charging_end_utc)])
    return path
