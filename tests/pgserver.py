"""A PostgreSQL server for tests: an existing one named by a DSN, or a throwaway local cluster.

Plain module (no pytest import) so benchmarks and scripts can use it too::

    server = start_server()  # honours MAPPER_TEST_PG_DSN, else starts a cluster
    try:
        db = server.create_database("demo")
        ...
    finally:
        server.close()  # drops created databases, stops the cluster, removes its directory

A database may get its own collation and session defaults (the field tests use both)::

    db = server.create_database("src", collation="icu", settings={"timezone": "Asia/Kolkata"})

``collation`` is one of :data:`COLLATIONS`; a collation the server cannot provide (libc locale not generated in
the OS, no ICU in the build, PostgreSQL before 15) raises :class:`DatabaseLocaleError`, whose message names the fix.

A throwaway cluster runs ``initdb``/``pg_ctl`` directly, or as the ``postgres`` OS user through ``runuser``
when the current user is root (``initdb`` refuses root). It listens on a free loopback port, keeps its unix
socket in its own temp directory and runs with durability off (fsync, synchronous_commit, full_page_writes).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

DSN_ENV = "MAPPER_TEST_PG_DSN"
OS_USER = "postgres"
DB_USER = "postgres"
START_TIMEOUT_S = 60
_PREFIX_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",  # the real-scheduler tests' Airflow keeps its metadata here too
    "shared_buffers": "256MB",
}


#: The libc locale behind the ``libc`` collation; scripts/test generates it when missing (``localedef``, as root).
LIBC_LOCALE = "en_US.UTF-8"

#: Collations a test database can be created with: name -> CREATE DATABASE options (PostgreSQL 15 syntax).
#: ``c``: byte order; ``icu``: ICU root rules for en-US (case and accents at later levels, punctuation counted);
#: ``libc``: glibc's en_US (spaces and punctuation ignored at the first level).
COLLATIONS = {
    "c": "LOCALE_PROVIDER libc LOCALE 'C'",
    "icu": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'",
    "libc": f"LOCALE_PROVIDER libc LOCALE '{LIBC_LOCALE}'",
}
_LOCALE_FIXES = {
    "c": "use PostgreSQL 15 or later (LOCALE_PROVIDER)",
    "icu": "use a PostgreSQL 15+ server built with ICU (Debian/Ubuntu packages are)",
    "libc": f"generate the OS locale on the server machine: `localedef -i en_US -f UTF-8 {LIBC_LOCALE}` as root "
    "(scripts/test does this when it runs as root), or `locale-gen` on Debian/Ubuntu",
}


#: What CREATE DATABASE raises for a collation the server cannot provide: unknown libc locale (42809, "invalid
#: locale name"), bad ICU locale (22023), no ICU in the build (0A000), LOCALE_PROVIDER before PostgreSQL 15 (42601).
_LOCALE_ERRORS = (
    psycopg.errors.WrongObjectType,
    psycopg.errors.InvalidParameterValue,
    psycopg.errors.FeatureNotSupported,
    psycopg.errors.SyntaxError,
)


class PgUnavailableError(RuntimeError):
    """No PostgreSQL server can be had: the message says why and how to provide one."""


class DatabaseLocaleError(RuntimeError):
    """The server cannot create a database with the requested collation: the message says why and the fix."""


@dataclass
class PgServer:
    """A reachable PostgreSQL server on which the user may create databases.

    :param host: host name or IP address the server listens on.
    :param port: TCP port.
    :param user: role used for every connection.
    :param password: password of ``user``, or None (trust authentication).
    :param admin_db: database used for administrative connections.
    :param options: extra libpq parameters (``sslmode`` and the like) kept in every URI.
    """

    host: str
    port: int
    user: str
    password: str | None = None
    admin_db: str = "postgres"
    options: dict[str, str] = field(default_factory=dict)
    startup_seconds: float = 0.0
    _cluster: LocalCluster | None = field(default=None, repr=False)
    _created: set[str] = field(default_factory=set, repr=False)

    @property
    def is_throwaway(self) -> bool:
        """True for a cluster started here (and removed by close()), False for ``MAPPER_TEST_PG_DSN``."""
        return self._cluster is not None

    def dsn(self, dbname: str) -> str:
        """Return a libpq URI such as ``postgresql://user@host:port/dbname``."""
        auth = quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        options = dict(self.options)
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.host.startswith("/"):  # unix socket directory: only valid as a query parameter
            host, options = "", {"host": self.host, **options}
        uri = f"postgresql://{auth}@{host}:{self.port}/{quote(dbname, safe='')}"
        return f"{uri}?{urlencode(options)}" if options else uri

    def admin_connect(self) -> psycopg.Connection:
        """Open an autocommit connection to the administrative database (``postgres`` by default)."""
        return psycopg.connect(self.dsn(self.admin_db), autocommit=True, connect_timeout=10)

    def create_database(
        self, prefix: str, collation: str | None = None, settings: Mapping[str, str] | None = None
    ) -> str:
        """Create an empty database with a unique name starting with ``prefix``; it is dropped by close().

        :param prefix: lower-case identifier characters, e.g. ``mapper_src``.
        :param collation: a key of :data:`COLLATIONS` (None: the server's default, ``C`` on a throwaway cluster).
        :param settings: session defaults of the database (``ALTER DATABASE ... SET``), e.g.
            ``{"timezone": "Asia/Kolkata", "datestyle": "SQL, DMY"}``; every new session in it starts with them.
        :return: the database name.
        :raises DatabaseLocaleError: the server cannot provide ``collation``.
        """
        if not _PREFIX_RE.match(prefix):
            raise ValueError(f"database prefix must match {_PREFIX_RE.pattern}, got {prefix!r}")
        if collation is not None and collation not in COLLATIONS:
            raise ValueError(f"unknown collation {collation!r}: use one of {', '.join(COLLATIONS)}")
        name = f"{prefix[:40]}_{uuid.uuid4().hex[:12]}"
        create = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        if collation is not None:
            create = sql.SQL(" ").join([create, sql.SQL("ENCODING 'UTF8' " + COLLATIONS[collation])])
        with self.admin_connect() as conn:
            try:
                conn.execute(create)
            except _LOCALE_ERRORS as exc:
                if collation is None:
                    raise
                raise DatabaseLocaleError(
                    f"cannot create a database with collation {collation!r} ({COLLATIONS[collation]}): "
                    f"{str(exc).strip()}; {_LOCALE_FIXES[collation]}"
                ) from None
            self._created.add(name)
            for key, value in (settings or {}).items():
                alter = sql.SQL("ALTER DATABASE {} SET {} = {}")
                conn.execute(alter.format(sql.Identifier(name), sql.Identifier(key), sql.Literal(value)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its sessions (``WITH (FORCE)``, PostgreSQL 13+)."""
        with self.admin_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._created.discard(name)

    def close(self) -> None:
        """Drop the databases created here, then stop a throwaway cluster. Safe to call twice."""
        try:
            for name in sorted(self._created):
                self.drop_database(name)
        finally:
            self._created.clear()
            if self._cluster is not None:
                self._cluster.stop()


def start_server() -> PgServer:
    """Use the server named by ``MAPPER_TEST_PG_DSN``, else start a throwaway local cluster.

    :raises PgUnavailableError: when neither works.
    """
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        return server_from_dsn(dsn)
    cluster = LocalCluster.create(find_bindir())
    started = time.monotonic()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    server = PgServer(host=cluster.host, port=cluster.port, user=DB_USER, _cluster=cluster)
    _wait_ready(server, cluster)
    server.startup_seconds = cluster.init_seconds + time.monotonic() - started
    return server


def server_from_dsn(dsn: str) -> PgServer:
    """Describe the server named by a libpq URI or key=value string and check it answers."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise PgUnavailableError(f"{DSN_ENV} is not a valid libpq connection string: {exc}") from None
    host = str(params.pop("host", "") or "127.0.0.1")
    port = int(params.pop("port", "") or 5432)
    user = str(params.pop("user", "") or pwd.getpwuid(os.geteuid()).pw_name)
    password = params.pop("password", None)
    admin_db = str(params.pop("dbname", "") or "postgres")
    options = {key: str(value) for key, value in params.items() if value is not None}
    server = PgServer(host, port, user, None if password is None else str(password), admin_db, options)
    try:
        with server.admin_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise PgUnavailableError(f"cannot connect to the server in {DSN_ENV}: {exc}".strip()) from None
    return server


def find_bindir() -> Path:
    """Locate server binaries: ``pg_config --bindir``, else the newest ``/usr/lib/postgresql/*/bin``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=_major_version, reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PgUnavailableError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found via pg_config or /usr/lib/postgresql/*/bin; "
        f"install the PostgreSQL server or set {DSN_ENV} to a server where you may CREATE DATABASE"
    )


def _major_version(bindir: Path) -> int:
    name = bindir.parent.name
    return int(name) if name.isdigit() else -1


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalCluster:
    """A throwaway cluster in a temp directory (data in ``<dir>/data``, socket and log in ``<dir>``)."""

    bindir: Path
    root: Path
    as_postgres: bool
    host: str = "127.0.0.1"
    port: int = 0
    init_seconds: float = 0.0
    running: bool = False

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @classmethod
    def create(cls, bindir: Path) -> LocalCluster:
        """Make the directory and run ``initdb`` (as the postgres OS user when we are root)."""
        as_postgres = os.geteuid() == 0
        if as_postgres:
            _check_can_switch_user()
        root = Path(tempfile.mkdtemp(prefix="mapper-pg-"))
        cluster = cls(bindir=bindir, root=root, as_postgres=as_postgres)
        atexit.register(cluster.stop)
        try:
            if as_postgres:
                entry = pwd.getpwnam(OS_USER)
                os.chown(root, entry.pw_uid, entry.pw_gid)
            cluster.initdb()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def initdb(self) -> None:
        started = time.monotonic()
        argv = ["initdb", "-D", str(self.datadir), "-A", "trust", "-U", DB_USER, "--no-sync", "-E", "UTF8"]
        self._run([*argv, "--locale=C"], "initdb")
        settings = {**_SERVER_SETTINGS, "unix_socket_directories": f"'{self.root}'"}
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# throwaway test cluster (tests/pgserver.py)\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.init_seconds = time.monotonic() - started

    def start(self, attempts: int = 3) -> None:
        """Start on a free port; retry on another port if one is taken between probe and bind."""
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            try:
                argv = ["pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile), "-w"]
                self._run([*argv, "-t", str(START_TIMEOUT_S), "-o", f"-p {self.port}"], "pg_ctl start")
            except PgUnavailableError:
                if attempt == attempts or "could not bind" not in self.log_tail():
                    raise
                continue
            self.running = True
            return

    def stop(self) -> None:
        """Stop the server (``-m immediate``) and remove the directory. Idempotent."""
        if self.running:
            self.running = False
            with contextlib.suppress(PgUnavailableError):  # already gone: the directory still goes
                self._run(["pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w"], "pg_ctl stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.logfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _run(self, argv: Sequence[str], what: str) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgUnavailableError(f"{what} could not run: {exc}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            log = self.log_tail()
            raise PgUnavailableError(
                f"{what} failed (exit {proc.returncode}): {detail}" + (f"\nserver log:\n{log}" if log else "")
            )


def _check_can_switch_user() -> None:
    if shutil.which("runuser") is None:
        raise PgUnavailableError("running as root but `runuser` is missing: initdb refuses to run as root")
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise PgUnavailableError(
            f"running as root and there is no {OS_USER!r} OS user to run initdb as; create one or set {DSN_ENV}"
        ) from None


def _wait_ready(server: PgServer, cluster: LocalCluster) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with server.admin_connect() as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                cluster.stop()
                raise PgUnavailableError(f"server did not accept connections: {exc}\n{cluster.log_tail()}") from None
            time.sleep(0.1)


@dataclass(frozen=True)
class PgDatabases:
    """A source and a target database: two databases on the same server.

    :param source_db: name of the source database.
    :param target_db: name of the target database.
    :param source_dsn: libpq URI of the source database.
    :param target_dsn: libpq URI of the target database.
    """

    source_db: str
    target_db: str
    source_dsn: str
    target_dsn: str

    @property
    def source_uri(self) -> str:
        """Same as ``source_dsn``: usable as ``AIRFLOW_CONN_<ID>``."""
        return self.source_dsn

    @property
    def target_uri(self) -> str:
        """Same as ``target_dsn``: usable as ``AIRFLOW_CONN_<ID>``."""
        return self.target_dsn
