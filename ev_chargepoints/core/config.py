"""The plugin's settings as plain data (shared by the CLI and the QGIS settings).

Secrets are never held here: an API key or OCPI token is referred to by the id
of a QGIS authentication configuration (``authcfg``), or on the command line by
the name of an environment variable that holds it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import EvChargepointsError
from .outputs import styling

DEFAULT_DATASTORE_URL = "https://data.london.gov.uk"
DEFAULT_CHARGEPOINT_DATASET = "2lzpg"
MAX_STATUS_AGE_MINUTES = 7 * 24 * 60


class ConfigError(EvChargepointsError):
    """A setting has a value the plugin cannot use."""


@dataclass
class OcpiFeed:
    name: str
    url: str
    authcfg: str = ""
    token_base64: bool = True      # OCPI 2.2.1 sends Base64 tokens; older servers raw
    poll_seconds: int = 300

    def validate(self) -> None:
        if not self.name.strip():
            raise ConfigError("Every OCPI feed needs a name.")
        check_url(self.url, f"OCPI feed '{self.name}'")
        if self.poll_seconds < 30:
            raise ConfigError(f"OCPI feed '{self.name}': poll at most every 30 seconds.")


@dataclass
class Settings:
    datastore_url: str = DEFAULT_DATASTORE_URL
    datastore_authcfg: str = ""
    dataset_chargepoints: str = DEFAULT_CHARGEPOINT_DATASET
    dataset_usage: str = ""
    dataset_boundaries: str = ""
    ocpi_feeds: list[OcpiFeed] = field(default_factory=list)
    store_path: str = ""
    # The NAME of a saved QGIS PostgreSQL connection holding the shared store; empty:
    # the GeoPackage at store_path. Credentials stay with the connection (authcfg).
    store_connection: str = ""
    occupancy_breaks: tuple[float, float, float] = styling.DEFAULT_OCCUPANCY_BREAKS
    disclosure_threshold: int = 3
    cache_mb: int = 500
    # The map's live status of a device older than this shows as "Stale".
    status_max_age_minutes: int = styling.DEFAULT_STATUS_MAX_AGE_MINUTES

    def validate(self) -> None:
        check_url(self.datastore_url, "The Datastore address")
        try:
            styling.occupancy_bands(self.occupancy_breaks)
        except ValueError as exc:
            raise ConfigError(f"Utilisation bands: {exc}.") from None
        if self.disclosure_threshold < 1:
            raise ConfigError("The disclosure threshold must be at least 1 device.")
        if self.cache_mb < 0:
            raise ConfigError("The cache size cannot be negative.")
        if not 1 <= self.status_max_age_minutes <= MAX_STATUS_AGE_MINUTES:
            raise ConfigError("Live status can be called stale after 1 to "
                              f"{MAX_STATUS_AGE_MINUTES} minutes (7 days).")
        check_connection_name(self.store_connection)
        names = [f.name for f in self.ocpi_feeds]
        if len(names) != len(set(names)):
            raise ConfigError("Two OCPI feeds have the same name.")
        for feed in self.ocpi_feeds:
            feed.validate()

    def datastore_datasets(self) -> list[str]:
        """The Datastore datasets a fetch takes when none is named: charge points, usage
        returns and boundaries, those set, each once."""
        ids = [self.dataset_chargepoints, self.dataset_usage, self.dataset_boundaries]
        return list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))

    def datastore_authcfg_for(self, url: str) -> str:
        """The API key's authentication configuration for a fetch from ``url``: the
        key belongs to the Datastore of these settings and goes to no other address."""
        same = (url or "").strip().rstrip("/") == self.datastore_url.strip().rstrip("/")
        return self.datastore_authcfg if same else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["occupancy_breaks"] = list(self.occupancy_breaks)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        feeds = [OcpiFeed(**{k: v for k, v in f.items() if k in OcpiFeed.__dataclass_fields__})
                 for f in known.pop("ocpi_feeds", []) or []]
        if "occupancy_breaks" in known:
            known["occupancy_breaks"] = tuple(float(x) for x in known["occupancy_breaks"])
        for key in ("disclosure_threshold", "cache_mb", "status_max_age_minutes"):
            if key in known:
                known[key] = int(known[key])
        return cls(ocpi_feeds=feeds, **known)


def check_url(url: str, what: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{what} must be an http(s) address, not '{url}'.")
    if parts.username or parts.password:
        raise ConfigError(f"{what} must not contain a user name or password; "
                          "use a QGIS authentication configuration instead.")


def check_connection_name(name: str) -> None:
    """A saved connection's name, not an address: credentials must not travel here."""
    if not name:
        return
    if name != name.strip() or any(ord(c) < 32 for c in name):
        raise ConfigError("The PostgreSQL connection name has leading or trailing spaces or "
                          "control characters.")
    if "://" in name or "=" in name:
        raise ConfigError("The shared store is chosen by the name of a saved QGIS PostgreSQL "
                          "connection, not an address or connection string (which could carry "
                          "a password).")
