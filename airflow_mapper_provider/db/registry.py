"""Which session class serves which Airflow connection type.

Each database module registers a factory for its connection types at import (``register(("oracle",), connect)``);
:func:`connect` picks it by the connection's type, and every other type goes to the SQLAlchemy path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mapper_provider.db.base import Session

#: Opens a session on an Airflow ``Connection`` for a role: ``source``, ``target`` or ``progress`` (the
#: autocommit side connection of progress writes, never waiting on locks).
SessionFactory = Callable[[Any, str], "Session"]

_FACTORIES: dict[str, SessionFactory] = {}
_FALLBACK: list[SessionFactory] = []


def register(conn_types: Sequence[str], factory: SessionFactory) -> None:
    """Serve the Airflow connection types ``conn_types`` (lower case) with ``factory``."""
    for conn_type in conn_types:
        _FACTORIES[conn_type.lower()] = factory


def register_fallback(factory: SessionFactory) -> None:
    """Serve every connection type nobody registered (the SQLAlchemy path)."""
    _FALLBACK[:] = [factory]


def factory_for(conn_type: str) -> SessionFactory:
    found = _FACTORIES.get((conn_type or "").lower())
    if found is not None:
        return found
    return _FALLBACK[0]


def registered() -> list[str]:
    """The connection types with a session class of their own."""
    return sorted(_FACTORIES)


def connect(conn: Any, role: str) -> Session:
    """Open a session on the Airflow ``Connection`` ``conn``; ``role`` names it in messages."""
    return factory_for(conn.conn_type or "")(conn, role)
