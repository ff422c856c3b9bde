"""Secrets from the QGIS authentication database, by ``authcfg`` id.

An API key or OCPI token is kept as the password of a "Basic" configuration
(QGIS 3.22 has no API-header method). The secret is read into memory only for
the request that needs it; it is never logged or stored elsewhere.
"""

from __future__ import annotations

from qgis.core import QgsApplication, QgsAuthMethodConfig

from ..core.errors import EvChargepointsError


class AuthError(EvChargepointsError):
    """An authentication configuration is missing or cannot be read."""


def secret(authcfg: str) -> str:
    if not authcfg:
        raise AuthError("No authentication configuration is selected.")
    manager = QgsApplication.authManager()
    config = QgsAuthMethodConfig()
    if not manager.loadAuthenticationConfig(authcfg, config, True) or not config.isValid(True):
        raise AuthError(f"The authentication configuration '{authcfg}' could not be read "
                        "(is the master password entered, and does it still exist?).")
    value = config.config("password") or config.config("token") or config.config("key")
    if not value:
        raise AuthError(f"The authentication configuration '{authcfg}' holds no key or token "
                        "(put it in the password field).")
    return value


def store_secret(name: str, value: str, authcfg: str = "") -> str:
    """Create or update a Basic configuration holding ``value``; returns its id."""
    manager = QgsApplication.authManager()
    config = QgsAuthMethodConfig("Basic")
    if authcfg:
        manager.loadAuthenticationConfig(authcfg, config, True)
    config.setMethod("Basic")
    config.setName(name)
    config.setConfig("username", name)
    config.setConfig("password", value)
    if authcfg and config.id():
        ok = manager.updateAuthenticationConfig(config)
    else:
        ok = manager.storeAuthenticationConfig(config)[0]
    if not ok:
        raise AuthError("The secret could not be saved in the QGIS authentication database "
                        "(is the master password set?).")
    return config.id()
