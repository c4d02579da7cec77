"""The MapperError tree.

Every error the mapper raises on purpose is a :class:`MapperError`. ``retryable`` tells the operator boundary
whether Airflow should spend a retry on it; only that boundary turns a non-retryable error into
``AirflowFailException``. Messages name the fix and never carry row values or credentials.
"""

from __future__ import annotations

from typing import Any


class MapperError(Exception):
    """Base class of all mapper errors."""

    retryable: bool = False


class ConfigError(MapperError, ValueError):
    """Invalid user configuration: raised at DAG parse time (or after templates render)."""


class UnsupportedError(MapperError, NotImplementedError):
    """A feature or database this version does not implement."""


class SchemaError(MapperError):
    """The target table does not fit the load (missing column, key, incompatible layout)."""


class PlanMismatchError(MapperError):
    """A chunk's view of the run differs from the frozen plan (e.g. source_sql rendered differently)."""


class DataError(MapperError):
    """The chunk's data cannot be loaded as is (NULL or duplicate keys, effective times out of order)."""


class KeyRuleError(DataError):
    """The extract breaks a key rule: NULL or duplicate business keys (rejectable with ``max_error_rows``)."""


class ConversionError(DataError):
    """Staged values do not convert into the existing target's column types without a change of value
    (rejectable with ``max_error_rows``)."""


class ChunkFailedError(MapperError):
    """finalize: at least one planned chunk did not succeed."""


class TransientDatabaseError(MapperError):
    """A database error worth retrying (connection lost, deadlock, serialization failure...)."""

    retryable = True


class RejectBudgetError(DataError):
    """More rows were refused than ``max_error_rows`` allows: the chunk fails and commits nothing."""


class EffectiveTimeError(MapperError):
    """An scd2 run would write history older than what the target already holds."""


class CheckpointNullError(DataError):
    """Source rows have NULL in checkpoint_column where the checkpoint strategy cannot place them."""


class DeleteGuardError(MapperError):
    """detect_deletes: the run would delete more of the target than allowed (or the extract was empty)."""


class RunLockedError(MapperError):
    """Another run of the same mapref owns it: runs of one mapref never overlap.

    :param owner: the live owner that blocks a plan (None: this run lost the mapref to another run).
    :param reason: why the owner counts as live (or, with no owner, the whole message).
    """

    def __init__(self, owner: Any, reason: str, mapref: str) -> None:
        self.owner = owner
        self.reason = reason
        self.mapref = mapref
        if owner is None:
            super().__init__(reason)
        else:
            super().__init__(
                f"run {owner.run_id!r} of {mapref} owns this mapref since {owner.since} and its job log says "
                f"{owner.status!r}: {reason}. Runs of one mapref never overlap"
            )


class LockTimeoutError(MapperError):
    """A run waited ``lock_timeout`` for the run owning its mapref."""


class ChunkStoppedError(MapperError):
    """The chunk was stopped (on_kill: the user marked the run or task failed/success, or the worker shut down):
    its transaction rolled back, nothing of it committed. Retryable: after a worker shutdown Airflow retries it;
    after a user's stop the server has already set the task's state and ignores the outcome."""

    retryable = True
