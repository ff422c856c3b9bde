"""pytest fixtures for the shared-store tests: one temporary PostgreSQL cluster
per test session, a fresh PostGIS database per test. Imported by the suites'
conftest files. A missing PostgreSQL/PostGIS fails the tests (``make setup``
installs both); it never skips them."""

from __future__ import annotations

import pytest
from pg_cluster import TemporaryCluster


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = TemporaryCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_database(pg_cluster):
    """(cluster, database name) of a new database with PostGIS, dropped afterwards."""
    name = pg_cluster.create_database()
    try:
        yield pg_cluster, name
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_dsn(pg_database):
    """A libpq URI of a fresh PostGIS database (no password: trust on loopback)."""
    cluster, name = pg_database
    return cluster.dsn(name)
