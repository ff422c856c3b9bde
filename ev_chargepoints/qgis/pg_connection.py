"""The shared store through a saved QGIS PostgreSQL connection.

The plugin keeps only the connection's NAME. Its address comes from the saved
connection; its credentials from the connection's authentication configuration
(``authcfg``, a Basic username/password), read into memory when a store is
opened, or from libpq's own ``~/.pgpass`` / ``pg_service.conf``. A password is
never put in a conninfo, a layer source, the settings, a project or a log.
"""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsDataSourceUri,
    QgsProviderRegistry,
)

from ..core.errors import EvChargepointsError
from ..core.store.address import StoreTarget
from ..core.store.postgis.schema import SCHEMA

PROVIDER = "postgres"
POINT = Qgis.WkbType.Point  # geometry types of the map tables
MULTIPOLYGON = Qgis.WkbType.MultiPolygon
CONNECTION_HELP = ("Choose a connection saved in QGIS (Data Source Manager ▸ PostgreSQL) in "
                   "the plugin settings.")


class ConnectionError(EvChargepointsError):
    """A saved PostgreSQL connection is missing or its credentials cannot be read."""


def connection_names() -> list[str]:
    """The names of the PostgreSQL connections saved in this QGIS profile."""
    return sorted(_metadata().connections().keys())


def saved_uri(name: str) -> QgsDataSourceUri:
    """The saved connection ``name`` (raises :class:`ConnectionError` when missing)."""
    if not name:
        raise ConnectionError("No PostgreSQL connection is chosen for the shared store. "
                              + CONNECTION_HELP)
    connection = _metadata().findConnection(name)
    if connection is None:
        raise ConnectionError(f"There is no saved PostgreSQL connection named '{name}' in "
                              "this QGIS profile. " + CONNECTION_HELP)
    uri = QgsDataSourceUri(connection.uri())
    if uri.password() and not uri.authConfigId():
        raise ConnectionError(
            f"The PostgreSQL connection '{name}' keeps its password in the QGIS settings. "
            "The plugin only uses passwords from an authentication configuration (or "
            "~/.pgpass / a pg_service.conf service): edit the connection, choose "
            "'Configurations' under Authentication and do not store the password.")
    return uri


def store_target(name: str) -> StoreTarget:
    """The shared store behind the saved connection ``name``: libpq conninfo without a
    password, and the password of its authentication configuration in memory."""
    uri = saved_uri(name)
    fields = {"service": uri.service(), "host": uri.host(), "port": uri.port(),
              "dbname": uri.database(), "user": uri.username()}
    password = None
    if uri.authConfigId():
        user, password = basic_credentials(uri.authConfigId(), name)
        fields["user"] = user or fields["user"]
    if uri.sslMode() != QgsDataSourceUri.SslMode.SslPrefer:
        fields["sslmode"] = QgsDataSourceUri.encodeSslMode(uri.sslMode())
    if not fields["service"] and not fields["dbname"]:
        raise ConnectionError(f"The PostgreSQL connection '{name}' names no database and no "
                              "service.")
    conninfo = " ".join(f"{key}={_conninfo_value(value)}"
                        for key, value in fields.items() if value)
    return StoreTarget("postgis", conninfo=conninfo, password=password)


def basic_credentials(authcfg: str, connection: str) -> tuple[str, str]:
    """(username, password) of a Basic authentication configuration, in memory only."""
    manager = QgsApplication.authManager()
    config = QgsAuthMethodConfig()
    if not manager.loadAuthenticationConfig(authcfg, config, True) or not config.isValid(True):
        raise ConnectionError(
            f"The authentication configuration '{authcfg}' of the PostgreSQL connection "
            f"'{connection}' could not be read (is the master password entered, and does the "
            "configuration still exist?).")
    if config.method() != "Basic":
        raise ConnectionError(
            f"The PostgreSQL connection '{connection}' uses a '{config.method()}' "
            "authentication configuration; the shared store needs a Basic one (user name "
            "and password).")
    return config.config("username") or "", config.config("password") or ""


def layer_uri(name: str, table: str, geometry_type: int, schema: str = SCHEMA,
              subset: str = "") -> str:
    """A ``postgres`` layer source for ``schema.table`` through the saved connection:
    its service/host/port/database and ``authcfg``, never a password."""
    saved = saved_uri(name)
    uri = QgsDataSourceUri()
    if saved.service():
        uri.setConnection(saved.service(), saved.database(), _layer_user(saved), "",
                          saved.sslMode(), saved.authConfigId())
    else:
        uri.setConnection(saved.host(), saved.port(), saved.database(), _layer_user(saved),
                          "", saved.sslMode(), saved.authConfigId())
    uri.setDataSource(schema, table, "geom", subset, "fid")
    uri.setSrid("27700")
    uri.setWkbType(geometry_type)
    return uri.uri(False)


def _layer_user(saved: QgsDataSourceUri) -> str:
    # With an authcfg QGIS supplies the user; without one libpq's pgpass lookup needs it.
    return "" if saved.authConfigId() else saved.username()


def _conninfo_value(value: str) -> str:
    if value and all(c not in value for c in " '\\\t\n"):
        return value
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _metadata():
    metadata = QgsProviderRegistry.instance().providerMetadata(PROVIDER)
    if metadata is None:
        raise ConnectionError("The QGIS PostgreSQL provider is not available in this QGIS.")
    return metadata
