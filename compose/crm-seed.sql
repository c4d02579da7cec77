-- The compose trial's source data: the tables the example DAGs read (dags/example_*_postgres.py and, with the
-- compose file's MAPPER_DEMO_* settings, dags/mapper_demo.py), in the `crm` database of the source-db service.
--
-- docker-compose.yaml mounts this file into /docker-entrypoint-initdb.d/ of source-db: the postgres image runs it
-- once, as user crm, when the source-data volume is first initialized (`docker compose down -v` starts over).
-- Times are relative to that moment: orders cover the 30 days before it, so the daily append and backfill DAGs
-- find rows in their data intervals.
--
--   customers  500,000 rows  scd1 (example_scd1_postgres), scd2 (example_scd2_postgres, mapper_demo),
--                            incremental scd2 on updated_at (example_incremental_postgres)
--   orders     600,000 rows  append by order_date (example_append_postgres),
--                            stateless scd2 windows on updated_at (example_backfill_postgres)

CREATE TABLE customers (
    customer_id bigint PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    country     char(2) NOT NULL,
    balance     numeric(12, 2) NOT NULL,
    updated_at  timestamptz NOT NULL
);

INSERT INTO customers
SELECT g,
       'customer ' || g,
       CASE WHEN g % 50 = 0 THEN NULL ELSE 'c' || g || '@example.com' END,
       (ARRAY['DE', 'FR', 'NL', 'US', 'GB', 'IT', 'ES', 'SE'])[1 + g % 8],
       ((g * 7919) % 10000000) / 100.0,
       now() - make_interval(mins => (g % 43200)::int)
FROM generate_series(1::bigint, 500000) AS g;

CREATE INDEX customers_updated_at ON customers (updated_at);

CREATE TABLE orders (
    order_id    bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers,
    order_date  timestamptz NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL,
    updated_at  timestamptz NOT NULL
);

INSERT INTO orders
SELECT g,
       1 + (g * 7) % 500000,
       now() - make_interval(secs => (g * 4.32)::double precision),  -- 600,000 orders over 30 days
       (1 + (g * 31) % 50000) / 100.0,
       (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + g % 4],
       LEAST(now(), now() - make_interval(secs => (g * 4.32)::double precision) + make_interval(mins => (g % 720)::int))
FROM generate_series(1::bigint, 600000) AS g;

CREATE INDEX orders_order_date ON orders (order_date);
CREATE INDEX orders_updated_at ON orders (updated_at);

ANALYZE customers;
ANALYZE orders;
