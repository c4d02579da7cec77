"""The MapperError tree.

Every error the mapper raises on purpose is a :class:`MapperError`. ``retryable`` tells the operator boundary
whether Airflow should spend a retry on it; only that boundary turns a non-retryable error into
``AirflowFailException``. Messages name the fix and never carry row values or credentials.
"""

from __future__ import annotations


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


class CheckpointNullError(DataError):
    """Source rows have NULL in checkpoint_column where the checkpoint strategy cannot place them."""


class DeleteGuardError(MapperError):
    """detect_deletes: the run would delete more of the target than allowed (or the extract was empty)."""
