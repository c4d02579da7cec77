"""chunk_by: forced key ranges or hash buckets, ROWID chunks of one table, and the parse-time refusals."""

from __future__ import annotations

import pytest

from airflow_mapper_provider.config import MapperConfig
from airflow_mapper_provider.exceptions import ConfigError
from airflow_mapper_provider.identifiers import TableName
from airflow_mapper_provider.models import ChunkSpec
from airflow_mapper_provider.planning import PlanInputs, choose_layout
from airflow_mapper_provider.planning.rowid import rowid_chunks, single_table


def _cfg(**kw: object) -> MapperConfig:
    base: dict[str, object] = {"source_conn_id": "s", "target_conn_id": "t", "target_table": "dw.x", "mapref": "m",
                               "key_columns": ("id",)}  # fmt: skip
    return MapperConfig(**{**base, **kw})  # type: ignore[arg-type]


def _inputs(chunk_by: str, keys: tuple[str, ...] = ("id",), orderable: bool = True) -> PlanInputs:
    return PlanInputs(1_000_000, 100_000, 1000, 1000, keys, orderable, 1, chunk_by)


def test_auto_ranges_an_orderable_key_and_hash_forces_buckets() -> None:
    assert choose_layout(_inputs("auto")).kind == "range"
    assert choose_layout(_inputs("key")).kind == "range"
    assert choose_layout(_inputs("hash")).kind == "hash"
    assert choose_layout(_inputs("auto", orderable=False)).kind == "hash"


def test_key_ranges_refused_where_the_key_cannot_be_ranged() -> None:
    with pytest.raises(ConfigError, match="chunk_by='hash'"):
        choose_layout(_inputs("key", orderable=False))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"chunk_by": "rows"}, "unknown chunk_by 'rows'"),
        ({"chunk_by": "rowid", "load_strategy": "scd1"}, "scd loads need chunks disjoint on the key"),
        ({"chunk_by": "hash", "load_strategy": "append", "key_columns": ()}, "give key_columns"),
        ({"chunk_by": "key", "key_columns": ("a", "b")}, "composite key"),
        ({"consistent_snapshot": "yes"}, "consistent_snapshot must be True or False"),
    ],
)
def test_bad_chunking_fails_at_parse_time(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _cfg(**kw)


def test_rowid_is_for_append() -> None:
    assert _cfg(chunk_by="rowid", load_strategy="append", key_columns=()).chunk_by == "rowid"


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("SELECT * FROM crm.orders", TableName("orders", "crm")),
        ("select id, amount from ORDERS o where amount > 0", TableName("orders")),
        ('SELECT a FROM "Crm"."Order Lines" WHERE a IS NOT NULL', TableName("Order Lines", "Crm")),
        ("SELECT * FROM sales\n", TableName("sales")),
        ("SELECT EXTRACT(YEAR FROM d) AS y, UPPER(n) FROM a", TableName("a")),
    ],
)
def test_the_one_table_of_a_simple_query(sql: str, table: TableName) -> None:
    assert single_table(sql) == table


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM a JOIN b ON a.id = b.id",
        "SELECT * FROM a, b",
        "SELECT DISTINCT x FROM a",
        "SELECT x, COUNT(*) FROM a GROUP BY x",
        "SELECT * FROM a UNION ALL SELECT * FROM b",
        "SELECT * FROM (SELECT * FROM a) s",
        "SELECT * FROM a WHERE id IN (SELECT id FROM b)",
        "WITH s AS (SELECT 1 FROM dual) SELECT * FROM s",
    ],
)
def test_rowid_chunks_refuse_queries_that_are_not_one_table(sql: str) -> None:
    with pytest.raises(ConfigError, match="reads one table"):
        single_table(sql)


def test_rowid_chunks_cover_the_ranges_in_order_and_survive_xcom() -> None:
    specs = rowid_chunks([("AAA", "AAB"), ("AAC", "AAZ")], TableName("orders", "crm"), snapshot="123")
    assert [(s.index, s.count, s.kind) for s in specs] == [(0, 2, "rowid"), (1, 2, "rowid")]
    assert [s.lower for s in specs] == [{"t": "rowid", "v": "AAA"}, {"t": "rowid", "v": "AAC"}]
    again = ChunkSpec.from_dict(specs[1].to_dict())
    assert (again.rowid_table, again.snapshot, again.upper) == ("crm.orders", "123", {"t": "rowid", "v": "AAZ"})
    assert "rowid AAC..AAZ" in again.label
