"""Identifier validation: the single gate every table and column name passes before it reaches SQL.

Only plain identifiers are accepted (letters, digits, ``_`` and ``$``, not starting with a digit, at most 63
characters). Anything else - quotes, spaces, semicolons, comments - is rejected with a message naming the fix.
Quoting itself is the dialect's job (:mod:`airflow_mapper_provider.dialects`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from airflow_mapper_provider.exceptions import ConfigError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def validate_identifier(name: object, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise :class:`ConfigError`.

    :param name: the identifier to check.
    :param what: what the identifier names, for the error message (e.g. ``"key column"``).
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(
            f"invalid {what} {name!r}: use a plain SQL identifier (letters, digits, _ or $, "
            "not starting with a digit, at most 63 characters, no quotes, spaces or semicolons)"
        )
    return name


@dataclass(frozen=True)
class TableName:
    """A validated ``[schema.]table`` name."""

    table: str
    schema: str | None = None

    @classmethod
    def parse(cls, text: object, what: str = "table name") -> TableName:
        """Parse and validate ``"table"`` or ``"schema.table"``."""
        if not isinstance(text, str) or not text:
            raise ConfigError(f"invalid {what} {text!r}: give a table name as 'schema.table' or 'table'")
        parts = text.split(".")
        if len(parts) > 2:
            raise ConfigError(f"invalid {what} {text!r}: give at most 'schema.table' (one dot)")
        for part in parts:
            validate_identifier(part, what)
        if len(parts) == 2:
            return cls(table=parts[1], schema=parts[0])
        return cls(table=parts[0])

    def with_table(self, table: str) -> TableName:
        """The table ``table`` in the same schema."""
        return TableName(table=validate_identifier(table, "table name"), schema=self.schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table
