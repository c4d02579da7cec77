"""What a database can do, declared once per dialect; callers ask these, never the database's name.

A new dialect sets :class:`Capabilities` on its class (``caps = Capabilities(...)``); the loader, transfer, planner
and state modules branch on the fields below only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a database stores temporary tables: ``local`` (``CREATE TEMPORARY TABLE`` per session, PostgreSQL, SQLite,
#: MySQL), ``global`` (Oracle global temporary tables: created once, rows private to the transaction), ``private``
#: (Oracle 18c+ private temporary tables, ``ORA$PTT_`` names, dropped at commit).
TempTables = Literal["local", "global", "private"]
#: What the database does to unquoted names: ``lower`` (PostgreSQL), ``upper`` (Oracle, the SQL standard),
#: ``none`` (kept as written and compared case-insensitively: SQLite, MySQL columns).
Folding = Literal["lower", "upper", "none"]


@dataclass(frozen=True)
class Capabilities:
    """The features of one database family that change what the mapper runs.

    :param binary_copy: ``COPY ... (FORMAT binary)`` in and out: a chunk between two such databases relays the
        source's blocks into the target's COPY without decoding a row.
    :param copy_rows: rows are written by a ``COPY ... FROM STDIN`` of typed rows (else batched ``executemany``).
    :param array_dml_errors: ``executemany`` reports each refused row with its error, the batch continuing (Oracle
        ``batcherrors``): rejects need no bisection.
    :param partial_index: ``CREATE INDEX ... WHERE`` (else one current row per key needs another mechanism).
    :param update_from: ``UPDATE ... FROM`` joins (else correlated subqueries or ``MERGE``).
    :param merge: ``MERGE INTO`` (SQL:2003).
    :param release_savepoint: ``RELEASE SAVEPOINT`` exists (Oracle has none: savepoints end with the transaction).
    :param tuple_compare: row-value comparisons ``(a, b) > (:a, :b)``.
    :param temp_tables: see :data:`TempTables`.
    :param transactional_ddl: DDL rolls back with the transaction (Oracle and MySQL commit before and after DDL).
    :param session_locks: session-level locks (PostgreSQL advisory locks) tell whether a run's owner still holds
        its connection; without them a ``running`` owner counts as live.
    :param hash_in_sql: hash buckets of a key are computed in SQL (else chunks filter rows in Python).
    :param converts_in_sql: staged rows are converted into an existing target's column types in SQL.
    :param enforces_types: each column holds only its declared type (SQLite stores anything anywhere).
    :param max_identifier: the longest identifier, in characters (PostgreSQL 63, MySQL 64, Oracle 128).
    :param folds_unquoted: see :data:`Folding`.
    :param empty_string_is_null: the database stores ``''`` as NULL (Oracle).
    """

    binary_copy: bool = False
    copy_rows: bool = False
    array_dml_errors: bool = False
    partial_index: bool = False
    update_from: bool = False
    merge: bool = False
    release_savepoint: bool = True
    tuple_compare: bool = False
    temp_tables: TempTables = "local"
    transactional_ddl: bool = True
    session_locks: bool = False
    hash_in_sql: bool = False
    converts_in_sql: bool = False
    enforces_types: bool = False
    max_identifier: int = 63
    folds_unquoted: Folding = "none"
    empty_string_is_null: bool = False
