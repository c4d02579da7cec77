"""Shared operator plumbing: config from dict, error translation at the Airflow boundary."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator
from typing import Any

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.errors import DATA, classify
from airflow_mapper_provider.exceptions import MapperError, TransientDatabaseError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def airflow_errors() -> Iterator[None]:
    """Translate errors at the Airflow boundary.

    - a non-retryable MapperError, or a database error that is permanent (syntax, undefined object, permission)
      or a data error: ``AirflowFailException`` (fails now, no retries spent). This includes every deterministic
      error a driver raises itself (a value it cannot convert or bind: psycopg ``DataError``/``ProgrammingError``,
      sqlite3 ``ProgrammingError``/``InterfaceError``, ``TypeError``/``OverflowError`` while binding): a retry
      would fail the same way;
    - a transient database error (connection lost, deadlock, serialization failure, lock timeout, cancel...):
      ``TransientDatabaseError`` (Airflow retries it with backoff);
    - anything else propagates unchanged (Airflow's retries apply).
    Database errors are re-raised with their safe text (code, condition, identifiers), never the server's
    message, which can quote row values; where it happened is logged as a bare stack.
    """
    try:
        yield
    except MapperError as exc:
        if exc.retryable:
            raise
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        found = classify(exc)
        if found is None:
            raise
        log.info("database error raised at:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
        if found.retryable:
            raise TransientDatabaseError(f"transient database error, will retry: {found.text}") from None
        what = "a value the database or driver refused" if found.kind == DATA else "database error"
        raise AirflowFailException(
            f"{what} ({found.kind}, not retried: it fails the same way again): {found.text}"
        ) from None


def load_config(data: dict[str, Any]) -> MapperConfig:
    return MapperConfig.from_dict(data)
