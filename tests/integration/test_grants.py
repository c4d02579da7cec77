"""The grants the README lists are enough: a target role with USAGE and CREATE on its schema and TEMPORARY on the
database, but no CREATE on the database, loads into a new table of that schema (the mapper tables there too)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import config, make_customers, pg_exec, rows, run_all
from tests.pgserver import PgDatabases

pytestmark = pytest.mark.pg


def _as_role(dsn: str, role: str) -> str:
    """``dsn`` with ``role`` as its user (the test cluster trusts loopback logins)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.mark.parametrize("strategy", ["scd1", "scd2", "append"])
def test_a_role_without_create_on_the_database_loads_into_its_schema(pg_dbs: PgDatabases, strategy: str) -> None:
    role = f"mapper_lp_{secrets.token_hex(4)}"
    db = pg_dbs.target_db
    for sql in (
        f"CREATE ROLE {role} LOGIN",
        "CREATE SCHEMA dw",
        f"GRANT USAGE, CREATE ON SCHEMA dw TO {role}",
        f'REVOKE CREATE ON DATABASE "{db}" FROM PUBLIC',
        f'GRANT CONNECT, TEMPORARY ON DATABASE "{db}" TO {role}',
    ):
        pg_exec(pg_dbs.target_dsn, sql)
    try:
        assert pg_exec(pg_dbs.target_dsn, f"SELECT has_database_privilege('{role}', '{db}', 'CREATE')") == [(False,)]
        make_customers(pg_dbs.source_dsn, 3_000)
        cfg = config(strategy, "dw.cust", metadata_schema="dw")
        target = _as_role(pg_dbs.target_dsn, role)
        _, _, summary = run_all(cfg, pg_dbs.source_uri, target, "r1", "SELECT * FROM customers")
        assert summary.status == "success" and summary.rows_inserted == 3_000
        assert rows(pg_dbs.target_dsn, "SELECT tableowner FROM pg_tables WHERE tablename = 'cust'") == [(role,)]
    finally:
        pg_exec(pg_dbs.target_dsn, "DROP SCHEMA dw CASCADE")
        pg_exec(pg_dbs.target_dsn, f'REVOKE ALL ON DATABASE "{db}" FROM {role}')
        pg_exec(pg_dbs.target_dsn, f"DROP ROLE {role}")
