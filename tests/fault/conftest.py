"""Fault-injection tests: a report of what was injected and what was found, printed at the end of the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dag.conftest import pg_conns  # noqa: F401  # the dag tests' fixture: connections mapper_src/mapper_tgt

#: Lines appended by the fault tests (trials, kills per phase, lost/duplicated rows, leftover queries, retries).
REPORT: list[str] = []


def report(line: str) -> None:
    """Record a line for the terminal summary (and ``$MAPPER_FAULT_REPORT`` when set)."""
    REPORT.append(line)
    path = os.environ.get("MAPPER_FAULT_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("fault injection")
        for line in REPORT:
            terminalreporter.write_line(line)
