"""Shared operator plumbing: config from dict, error translation at the Airflow boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow_mapper_provider._compat import AirflowFailException
from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import MapperError


@contextlib.contextmanager
def airflow_errors() -> Iterator[None]:
    """Turn a non-retryable MapperError into AirflowFailException (no retries spent on it)."""
    try:
        yield
    except MapperError as exc:
        if exc.retryable:
            raise
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def load_config(data: dict[str, Any]) -> MapperConfig:
    return MapperConfig.from_dict(data)
