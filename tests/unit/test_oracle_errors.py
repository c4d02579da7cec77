"""Oracle error classification on real python-oracledb exception objects, built the way the driver builds them:
an ``_Error`` payload (message, Oracle code) whose adjustments pick the exception class and, for the connection
family, turn the ORA- code into DPY-4011."""

from __future__ import annotations

import oracledb
import pytest
from oracledb import errors as ora_errors
from oracledb.errors import _Error

from airflow_mapper_provider.errors import DATA, PERMANENT, TRANSIENT, classify, describe_error


def server_error(message: str, code: int) -> Exception:
    """What the driver raises for an error the database returned."""
    err = _Error(message, code=code)
    return err.exc_type(err)


def driver_error(number: int, cause: BaseException | None = None, **args: str) -> Exception:
    """What the driver raises for an error of its own (DPY-)."""
    return ora_errors._create_exception(number, cause=cause, **args)


CONNECTION_FAMILY = [
    ("ORA-03113: end-of-file on communication channel", 3113),
    ("ORA-03114: not connected to ORACLE", 3114),
    ("ORA-03135: connection lost contact", 3135),
    ("ORA-12537: TNS:connection closed", 12537),
    ("ORA-00028: your session has been killed", 28),
    ("ORA-01012: not logged on", 1012),
    ("ORA-01089: immediate shutdown or close in progress - no operations are permitted", 1089),
]


@pytest.mark.parametrize(("message", "code"), CONNECTION_FAMILY)
def test_connection_family_is_dpy_4011_and_transient(message: str, code: int) -> None:
    exc = server_error(message, code)
    found = classify(exc)
    assert found is not None and (found.code, found.kind) == ("DPY-4011", TRANSIENT)
    assert message.split(":")[0] in found.full  # the ORA- line is kept under DPY-4011


def test_dpy_4011_raised_by_the_driver() -> None:
    found = classify(driver_error(ora_errors.ERR_CONNECTION_CLOSED))
    assert found is not None and (found.code, found.kind) == ("DPY-4011", TRANSIENT)


def test_dpy_6005_cannot_connect() -> None:
    exc = driver_error(ora_errors.ERR_CONNECTION_FAILED, ConnectionRefusedError(111, "refused"), connection_id="c1")
    assert isinstance(exc, oracledb.OperationalError)
    found = classify(exc)
    assert found is not None and (found.code, found.kind) == ("DPY-6005", TRANSIENT)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("ORA-00060: deadlock detected while waiting for resource", 60),
        ('ORA-01555: snapshot too old: rollback segment number 10 with name "_SYSSMU10$" too small', 1555),
        ("ORA-00054: resource busy and acquire with NOWAIT specified or timeout expired", 54),
        ("ORA-12170: TNS:Connect timeout occurred", 12170),
        ("ORA-12541: TNS:no listener", 12541),
        ("ORA-12514: TNS:listener does not currently know of service requested in connect descriptor", 12514),
        ("ORA-01013: user requested cancel of current operation", 1013),
    ],
)
def test_transient(message: str, code: int) -> None:
    found = classify(server_error(message, code))
    assert found is not None and (found.code, found.kind) == (message.split(":")[0], TRANSIENT)
    assert found.retryable


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("ORA-00942: table or view does not exist", 942),
        ('ORA-00904: "NAMEX": invalid identifier', 904),
        ("ORA-01031: insufficient privileges", 1031),
        ("ORA-00933: SQL command not properly ended", 933),
    ],
)
def test_permanent(message: str, code: int) -> None:
    found = classify(server_error(message, code))
    assert found is not None and (found.code, found.kind) == (message.split(":")[0], PERMANENT)
    assert not found.retryable and message.split(": ", 1)[1] in found.text


DATA_ERRORS = [
    ("ORA-00001: unique constraint (DW.PK_CUST) violated on table DW.CUST columns (ID)\n"
     "ORA-03301: (ORA-00001 details) row with column values (ID:'secret-42') already exists", 1,
     oracledb.IntegrityError, None),
    ('ORA-01400: cannot insert NULL into ("DW"."CUST"."EMAIL")', 1400, oracledb.IntegrityError, "EMAIL"),
    ("ORA-01722: unable to convert string value containing 'secret-42' to a number: NAME", 1722,
     oracledb.DatabaseError, None),
    ('ORA-12899: value too large for column "DW"."CUST"."NAME" (actual: 12, maximum: 10)', 12899,
     oracledb.DatabaseError, "NAME"),
    ("ORA-01438: value 123456 greater than specified precision (5, 0) for this column", 1438,
     oracledb.IntegrityError, None),
]  # fmt: skip


@pytest.mark.parametrize(("message", "code", "cls", "column"), DATA_ERRORS)
def test_data_errors_are_rejectable_and_safe(message: str, code: int, cls: type, column: str | None) -> None:
    exc = server_error(message, code)
    assert type(exc) is cls
    found = classify(exc)
    assert found is not None and (found.code, found.kind) == (message.split(":")[0], DATA)
    assert found.column == column
    assert "secret-42" not in found.text and "123456" not in found.text  # no value in the safe text
    assert found.full.startswith(message.splitlines()[0])  # the full message is for mapper_rejects only
    assert describe_error(exc) == found.text


def test_data_error_names_its_column_and_the_fix() -> None:
    found = classify(server_error('ORA-01400: cannot insert NULL into ("DW"."CUST"."EMAIL")', 1400))
    assert found is not None and found.table == "DW.CUST"
    assert "column EMAIL" in found.text and "empty string" in found.text


def test_a_wrapped_oracle_error_is_classified() -> None:
    """SQLAlchemy wraps DBAPI errors: the Oracle error underneath decides."""
    from sqlalchemy.exc import DBAPIError

    orig = server_error("ORA-00060: deadlock detected while waiting for resource", 60)
    wrapped = DBAPIError.instance("INSERT ...", {}, orig, oracledb.Error)
    found = classify(wrapped)
    assert found is not None and (found.code, found.kind) == ("ORA-00060", TRANSIENT)
