"""Test support for progress: the progress logger's lines, whatever logging the test session configured before."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class Lines(logging.Handler):
    """Keeps the messages of the progress logger (the task log's progress lines)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def progress_lines() -> Iterator[Lines]:
    logger, handler = logging.getLogger("airflow_mapper_provider.progress"), Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
