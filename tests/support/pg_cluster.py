"""A throw-away PostgreSQL + PostGIS 3 server for the tests (whichever server version
Debian installed: 15 on Debian 12, 17 on Debian 13).

``TemporaryCluster`` runs ``initdb`` into a temporary folder and ``pg_ctl``
starts it on a free loopback port (and a private Unix socket folder), so the
tests need no server running and touch no other cluster. As root (CI), the
server runs as the ``postgres`` system user that Debian's package creates,
because PostgreSQL refuses to run as root. Authentication is ``trust`` on
loopback only: the cluster lives as long as the test session.

Every database made by :meth:`create_database` is cloned from a template that
already has the PostGIS extension, which takes milliseconds instead of the
second or so that ``CREATE EXTENSION postgis`` costs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def _installed_server_bin() -> Path:
    """The newest installed server's bin folder (Debian installs each major version under
    /usr/lib/postgresql/N/bin); EVCP_PG_BIN overrides it."""
    if os.environ.get("EVCP_PG_BIN"):
        return Path(os.environ["EVCP_PG_BIN"])
    versions = sorted((int(path.parent.name), path)
                      for path in Path("/usr/lib/postgresql").glob("*/bin")
                      if path.parent.name.isdigit() and (path / "initdb").exists())
    return versions[-1][1] if versions else Path("/usr/lib/postgresql/bin-not-installed")


PG_BIN = _installed_server_bin()
SERVER_USER = "postgres"
TEMPLATE = "evcp_template_postgis"
PASSWORD_GROUP = "evcp_password_login"


class ClusterUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is not installed (``make setup`` installs both)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TemporaryCluster:
    def __init__(self, durable: bool = False) -> None:
        """``durable``: keep PostgreSQL's crash-safety settings (for benchmarks);
        by default the tests' server skips fsync, which is safe for throw-away data."""
        if not (PG_BIN / "initdb").exists():
            raise ClusterUnavailable(f"No PostgreSQL server is installed ({PG_BIN}/initdb is "
                                     "missing): run 'make setup'.")
        self.root = Path(tempfile.mkdtemp(prefix="evcp-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.superuser = SERVER_USER
        self._as_root = os.geteuid() == 0
        self._started = False
        self.durable = durable

    # --- lifecycle -------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return subprocess.run(command, capture_output=True, text=True, env=env, check=check,
                              timeout=120)

    def start(self) -> TemporaryCluster:
        self.socket_dir.mkdir(parents=True)
        if self._as_root:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError as exc:
                raise ClusterUnavailable("the 'postgres' system user is missing: install "
                                         "Debian's postgresql package") from exc
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        else:
            self.superuser = pwd.getpwuid(os.geteuid()).pw_name
        result = self._run("initdb", "-D", str(self.data), "-U", self.superuser,
                           "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        hba = self.data / "pg_hba.conf"
        rules = hba.read_text()
        # Members of PASSWORD_GROUP must log in with their password (tests of
        # credentials from a vault); everyone else is trusted on loopback.
        hba.write_text(f"host all +{PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256\n"
                       f"local all +{PASSWORD_GROUP} scram-sha-256\n" + rules)
        options = (f"-c listen_addresses={self.host} -c port={self.port} "
                   f"-c unix_socket_directories={self.socket_dir} "
                   "-c shared_buffers=256MB -c max_connections=60 -c max_wal_size=4GB")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                           "-o", options, "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            log = (self.root / "server.log")
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr or result.stdout}\n"
                               f"{log.read_text() if log.exists() else ''}")
        self._started = True
        self._make_template()
        self.execute(f"CREATE ROLE {PASSWORD_GROUP} NOLOGIN")
        return self

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- connections -------------------------------------------------------------

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        """A libpq URI (no password: trust authentication on loopback)."""
        return f"postgresql://{user or self.superuser}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", user: str | None = None):
        import psycopg2

        conn = psycopg2.connect(self.dsn(dbname, user))
        conn.autocommit = True
        return conn

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def _make_template(self) -> None:
        try:
            self.execute(f"CREATE DATABASE {TEMPLATE}")
            self.execute("CREATE EXTENSION postgis", TEMPLATE)
        except Exception as exc:  # noqa: BLE001 - the message says what to install
            raise ClusterUnavailable(f"PostGIS 3 is not available ({exc}); run 'make setup' "
                                     "(Debian package postgresql-postgis).") from exc
        self.execute(f"ALTER DATABASE {TEMPLATE} WITH is_template true")

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database with PostGIS; returns its name."""
        name = name or f"evcp_{uuid.uuid4().hex[:12]}"
        for attempt in range(20):
            try:
                self.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
                return name
            except Exception as exc:  # noqa: BLE001
                # Another session still holds the template for a moment.
                if "is being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.1)
        return name

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def ensure_login(self, name: str, group: str | None = None) -> None:
        """A login role (kept if a module before made it), granted ``group`` if given."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
                if not cur.fetchone():
                    cur.execute(f"CREATE ROLE {name} LOGIN")
                if group:
                    cur.execute(f"GRANT {group} TO {name}")
        finally:
            conn.close()

    def create_role(self, name: str, login: bool = True, password: str | None = None) -> None:
        """A role; with ``password`` it can only log in with that password."""
        if password is None:
            self.execute(f"CREATE ROLE {name} {'LOGIN' if login else 'NOLOGIN'}")
            return
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s IN ROLE {PASSWORD_GROUP}",
                            (password,))
        finally:
            conn.close()
