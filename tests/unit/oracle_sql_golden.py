"""Golden Oracle SQL: the exact text of every statement in ``oracle_sql_cases.ALL`` (see test_oracle_sql.py).

A change in SQL text must be deliberate: update the string here in the same commit and say why.
"""

GOLDEN: dict[str, str] = {
    "plan-describe": "SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src WHERE 1 = 0",
    "plan-sample": (
        "SELECT * FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src FETCH FIRST :n ROWS ONLY"
    ),
    "plan-count": (
        "SELECT COUNT(*) FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src WHERE"
        ' mapper_src."CUSTOMER_ID" > :cp_lo'
    ),
    "plan-bounded-count": (
        "SELECT COUNT(*) FROM (SELECT 1 AS mapper_one FROM (SELECT customer_id, name, balance FROM"
        " crm.customers\n) mapper_src FETCH FIRST :n ROWS ONLY) mapper_c"
    ),
    "plan-max": (
        'SELECT MAX(mapper_src."CUSTOMER_ID") FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src'
    ),
    "plan-nulls": (
        "SELECT 1 FROM (SELECT customer_id, name, balance FROM crm.customers\n) mapper_src WHERE"
        ' mapper_src."CUSTOMER_ID" IS NULL FETCH FIRST 1 ROWS ONLY'
    ),
    "plan-quantile": (
        'SELECT mapper_k FROM (SELECT mapper_src."CUSTOMER_ID" AS mapper_k, ROW_NUMBER() OVER (ORDER BY'
        ' mapper_src."CUSTOMER_ID") AS mapper_rn FROM (SELECT customer_id, name, balance FROM crm.customers\n)'
        ' mapper_src WHERE mapper_src."CUSTOMER_ID" IS NOT NULL) mapper_q WHERE MOD(mapper_rn - 1, :step) = 0'
        " AND mapper_rn > 1 ORDER BY mapper_rn"
    ),
    "plan-quantile-sampled-text": (
        'SELECT mapper_k FROM (SELECT mapper_src."NAME" AS mapper_k, ROW_NUMBER() OVER (ORDER BY'
        ' mapper_src."NAME") AS mapper_rn FROM (SELECT customer_id, name, balance FROM crm.customers\n)'
        ' mapper_src WHERE mapper_src."NAME" IS NOT NULL AND DBMS_RANDOM.VALUE < :fraction) mapper_q WHERE'
        " MOD(mapper_rn - 1, :step) = 0 AND mapper_rn > 1 ORDER BY mapper_rn"
    ),
    "plan-explain": (
        "EXPLAIN PLAN SET STATEMENT_ID = 'mapper_estimate' FOR SELECT customer_id, name, balance FROM crm.customers\n"
    ),
    "plan-explain-window": (
        "EXPLAIN PLAN SET STATEMENT_ID = 'mapper_estimate' FOR SELECT * FROM (SELECT customer_id, name,"
        ' balance FROM crm.customers\n) mapper_src WHERE mapper_src."CUSTOMER_ID" > :cp_lo'
    ),
    "plan-explain-rows": "SELECT cardinality FROM plan_table WHERE statement_id = :mapper_stmt AND id = 0",
    "plan-explain-cleanup": "DELETE FROM plan_table WHERE statement_id = :mapper_stmt",
    "plan-table-rows": (
        "SELECT num_rows FROM all_tables WHERE '\"' || owner || '\".\"' || table_name || '\"' = :t OR (owner ="
        " SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND '\"' || table_name || '\"' = :t)"
    ),
    "plan-chunk-range": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        ' crm.customers\n) mapper_src WHERE mapper_src."CUSTOMER_ID" >= :lo AND mapper_src."CUSTOMER_ID" < :hi'
    ),
    "plan-chunk-hash": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        " crm.customers\n) mapper_src WHERE ORA_HASH(NVL(TO_CHAR(ORA_HASH(mapper_src.\"REGION\")), '-') || '|'"
        " || NVL(TO_CHAR(ORA_HASH(mapper_src.\"CUSTOMER_ID\")), '-'), 7) = :bucket"
    ),
    "plan-chunk-rowid": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        " crm.customers\n) mapper_src WHERE mapper_src.ROWID BETWEEN CHARTOROWID(:lo) AND CHARTOROWID(:hi)"
    ),
    "plan-chunk-all": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        " crm.customers\n) mapper_src"
    ),
    "plan-chunk-rowid-excluding": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        " crm.customers\n) mapper_src WHERE mapper_src.ROWID BETWEEN CHARTOROWID(:lo) AND CHARTOROWID(:hi) AND"
        " (CASE WHEN mapper_src.ROWID BETWEEN CHARTOROWID(:x0_lo) AND CHARTOROWID(:x0_hi) THEN 1 ELSE 0 END)"
        " = 0"
    ),
    "plan-chunk-window": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        ' crm.customers\n) mapper_src WHERE mapper_src."CUSTOMER_ID" > :cp_lo AND mapper_src."CUSTOMER_ID" <='
        " :cp_hi"
    ),
    "plan-chunk-keyset-after": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        ' crm.customers\n) mapper_src WHERE (mapper_src."REGION" > :ks0 OR (mapper_src."REGION" = :ks0 AND'
        ' mapper_src."CUSTOMER_ID" > :ks1)) ORDER BY mapper_src."REGION", mapper_src."CUSTOMER_ID"'
    ),
    "plan-chunk-keyset-offset": (
        'SELECT mapper_src."CUSTOMER_ID", mapper_src."NAME" FROM (SELECT customer_id, name, balance FROM'
        " crm.customers\n) mapper_src OFFSET :offset ROWS"
    ),
    "apply-append-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE") SELECT "CUSTOMER_ID", "NAME",'
        ' "BALANCE" FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd1-empty-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd1-empty-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd1-empty-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE") SELECT "CUSTOMER_ID", "NAME",'
        ' "BALANCE" FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd1-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd1-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd1-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BALANCE", CASE WHEN t."CUSTOMER_ID" IS NULL THEN 1 ELSE 0 END AS'
        ' mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON t."CUSTOMER_ID" ='
        ' s."CUSTOMER_ID" WHERE t."CUSTOMER_ID" IS NULL OR (CASE WHEN t."NAME" IS NULL AND s."NAME" IS NULL'
        ' THEN 0 WHEN t."NAME" IS NULL OR s."NAME" IS NULL THEN 1 ELSE DBMS_LOB.COMPARE(t."NAME", s."NAME")'
        ' END) <> 0 OR DECODE(t."BALANCE", s."BALANCE", 0, 1) = 1'
    ),
    "apply-scd1-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0)'
        ' WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" = d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET t."NAME"'
        ' = d."NAME", t."BALANCE" = d."BALANCE"'
    ),
    "apply-scd1-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE") SELECT d."CUSTOMER_ID", d."NAME",'
        ' d."BALANCE" FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 1'
    ),
    "apply-scd1-salvage-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BALANCE", s."MAPPER_RN", CASE WHEN t."CUSTOMER_ID" IS NULL THEN 1'
        ' ELSE 0 END AS mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON'
        ' t."CUSTOMER_ID" = s."CUSTOMER_ID" WHERE (t."CUSTOMER_ID" IS NULL OR (CASE WHEN t."NAME" IS NULL AND'
        ' s."NAME" IS NULL THEN 0 WHEN t."NAME" IS NULL OR s."NAME" IS NULL THEN 1 ELSE'
        ' DBMS_LOB.COMPARE(t."NAME", s."NAME") END) <> 0 OR DECODE(t."BALANCE", s."BALANCE", 0, 1) = 1) AND'
        ' s."MAPPER_OK" = 1'
    ),
    "apply-scd1-salvage-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0'
        ' AND d."MAPPER_RN" BETWEEN :mapper_lo AND :mapper_hi) WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" ='
        ' d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET t."NAME" = d."NAME", t."BALANCE" = d."BALANCE"'
    ),
    "apply-scd1-salvage-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE") SELECT d."CUSTOMER_ID", d."NAME",'
        ' d."BALANCE" FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 1 AND d."MAPPER_RN" BETWEEN'
        " :mapper_lo AND :mapper_hi"
    ),
    "apply-scd1-sliced-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd1-sliced-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd1-sliced-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BALANCE", CASE WHEN t."CUSTOMER_ID" IS NULL THEN 1 ELSE 0 END AS'
        ' mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON t."CUSTOMER_ID" ='
        ' s."CUSTOMER_ID" AND t."CUSTOMER_ID" BETWEEN (SELECT MIN(m."CUSTOMER_ID") FROM'
        ' "ORA$PTT_MAPPER_STAGE" m) AND (SELECT MAX(m."CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE" m) WHERE'
        ' t."CUSTOMER_ID" IS NULL OR (CASE WHEN t."NAME" IS NULL AND s."NAME" IS NULL THEN 0 WHEN t."NAME" IS'
        ' NULL OR s."NAME" IS NULL THEN 1 ELSE DBMS_LOB.COMPARE(t."NAME", s."NAME") END) <> 0 OR'
        ' DECODE(t."BALANCE", s."BALANCE", 0, 1) = 1'
    ),
    "apply-scd1-sliced-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0)'
        ' WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" = d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET t."NAME"'
        ' = d."NAME", t."BALANCE" = d."BALANCE"'
    ),
    "apply-scd1-sliced-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE") SELECT d."CUSTOMER_ID", d."NAME",'
        ' d."BALANCE" FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 1'
    ),
    "apply-scd2-empty-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd2-empty-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd2-empty-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE", "VALID_FROM", "VALID_TO",'
        ' "IS_CURRENT", "ROW_HASH") SELECT s."CUSTOMER_ID", s."NAME", s."BALANCE", :eff, NULL, 1,'
        ' s."MAPPER_ROW_HASH" FROM "ORA$PTT_MAPPER_STAGE" s'
    ),
    "apply-scd2-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd2-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd2-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BALANCE", s."MAPPER_ROW_HASH", CASE WHEN t."CUSTOMER_ID" IS NULL THEN'
        ' 1 ELSE 0 END AS mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON'
        ' t."CUSTOMER_ID" = s."CUSTOMER_ID" AND t."IS_CURRENT" = 1 WHERE t."CUSTOMER_ID" IS NULL OR (CASE'
        ' WHEN t."NAME" IS NULL AND s."NAME" IS NULL THEN 0 WHEN t."NAME" IS NULL OR s."NAME" IS NULL THEN 1'
        ' ELSE DBMS_LOB.COMPARE(t."NAME", s."NAME") END) <> 0 OR DECODE(t."BALANCE", s."BALANCE", 0, 1) = 1'
    ),
    "apply-scd2-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0)'
        ' WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" = d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET'
        ' t."VALID_TO" = :eff, t."IS_CURRENT" = 0 WHERE t."IS_CURRENT" = 1'
    ),
    "apply-scd2-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BALANCE", "VALID_FROM", "VALID_TO",'
        ' "IS_CURRENT", "ROW_HASH") SELECT d."CUSTOMER_ID", d."NAME", d."BALANCE", :eff, NULL, 1,'
        ' d."MAPPER_ROW_HASH" FROM "ORA$PTT_MAPPER_DELTA" d'
    ),
    "apply-scd2-native-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd2-native-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd2-native-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BORN", s."SEEN", CASE WHEN t."CUSTOMER_ID" IS NULL THEN 1 ELSE 0 END'
        ' AS mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON t."CUSTOMER_ID" ='
        ' s."CUSTOMER_ID" AND t."IS_CURRENT" = 1 WHERE t."CUSTOMER_ID" IS NULL OR DECODE(t."NAME", s."NAME",'
        ' 0, 1) = 1 OR DECODE(t."BORN", s."BORN", 0, 1) = 1 OR DECODE(t."SEEN", s."SEEN", 0, 1) = 1'
    ),
    "apply-scd2-native-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0)'
        ' WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" = d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET'
        ' t."VALID_TO" = :eff, t."IS_CURRENT" = 0 WHERE t."IS_CURRENT" = 1'
    ),
    "apply-scd2-native-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BORN", "SEEN", "VALID_FROM", "VALID_TO",'
        ' "IS_CURRENT", "ROW_HASH") SELECT d."CUSTOMER_ID", d."NAME", d."BORN", d."SEEN", :eff, NULL, 1,'
        ' RAWTOHEX(STANDARD_HASH(CASE WHEN d."NAME" IS NULL THEN \'-\' ELSE RAWTOHEX(STANDARD_HASH(d."NAME",'
        " 'MD5')) END || '|' || CASE WHEN d.\"BORN\" IS NULL THEN '-' ELSE"
        " RAWTOHEX(STANDARD_HASH(TO_CHAR(d.\"BORN\", 'SYYYY-MM-DD HH24:MI:SS'), 'MD5')) END || '|' || CASE WHEN"
        ' d."SEEN" IS NULL THEN \'-\' ELSE RAWTOHEX(STANDARD_HASH(TO_CHAR(SYS_EXTRACT_UTC(d."SEEN"),'
        " 'SYYYY-MM-DD HH24:MI:SS.FF9'), 'MD5')) END, 'MD5')) FROM \"ORA$PTT_MAPPER_DELTA\" d"
    ),
    "apply-scd2-effective-null_keys": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "CUSTOMER_ID" IS NULL',
    "apply-scd2-effective-duplicate_keys": (
        'SELECT COUNT("CUSTOMER_ID") - COUNT(DISTINCT "CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"'
    ),
    "apply-scd2-effective-null_effective": 'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_STAGE" WHERE "BORN" IS NULL',
    "apply-scd2-effective-delta": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT'
        ' s."CUSTOMER_ID", s."NAME", s."BORN", s."SEEN", (SELECT MAX(h."VALID_TO") FROM "DW"."DIM_CUSTOMER" h'
        ' WHERE h."CUSTOMER_ID" = s."CUSTOMER_ID") AS "MAPPER_PREV_TO", CASE WHEN t."CUSTOMER_ID" IS NULL'
        ' THEN 1 ELSE 0 END AS mapper_new FROM "ORA$PTT_MAPPER_STAGE" s LEFT JOIN "DW"."DIM_CUSTOMER" t ON'
        ' t."CUSTOMER_ID" = s."CUSTOMER_ID" AND t."IS_CURRENT" = 1 WHERE t."CUSTOMER_ID" IS NULL OR'
        ' DECODE(t."NAME", s."NAME", 0, 1) = 1 OR DECODE(t."BORN", s."BORN", 0, 1) = 1 OR DECODE(t."SEEN",'
        ' s."SEEN", 0, 1) = 1'
    ),
    "apply-scd2-effective-version_order": (
        'SELECT COUNT(*) FROM "ORA$PTT_MAPPER_DELTA" d JOIN "DW"."DIM_CUSTOMER" t ON t."CUSTOMER_ID" ='
        ' d."CUSTOMER_ID" AND t."IS_CURRENT" = 1 WHERE d.mapper_new = 0 AND d."BORN" <= t."VALID_FROM"'
    ),
    "apply-scd2-effective-update": (
        'MERGE INTO "DW"."DIM_CUSTOMER" t USING (SELECT * FROM (SELECT d.*, ROW_NUMBER() OVER (PARTITION BY'
        ' d."CUSTOMER_ID" ORDER BY NULL) AS mapper_dn FROM "ORA$PTT_MAPPER_DELTA" d WHERE d.mapper_new = 0)'
        ' WHERE mapper_dn = 1) d ON (t."CUSTOMER_ID" = d."CUSTOMER_ID") WHEN MATCHED THEN UPDATE SET'
        ' t."VALID_TO" = d."BORN", t."IS_CURRENT" = 0 WHERE t."IS_CURRENT" = 1'
    ),
    "apply-scd2-effective-insert": (
        'INSERT INTO "DW"."DIM_CUSTOMER" ("CUSTOMER_ID", "NAME", "BORN", "SEEN", "VALID_FROM", "VALID_TO",'
        ' "IS_CURRENT", "ROW_HASH") SELECT d."CUSTOMER_ID", d."NAME", d."BORN", d."SEEN", CASE WHEN'
        ' d."MAPPER_PREV_TO" > d."BORN" THEN d."MAPPER_PREV_TO" ELSE d."BORN" END, NULL, 1,'
        ' RAWTOHEX(STANDARD_HASH(CASE WHEN d."NAME" IS NULL THEN \'-\' ELSE RAWTOHEX(STANDARD_HASH(d."NAME",'
        " 'MD5')) END || '|' || CASE WHEN d.\"BORN\" IS NULL THEN '-' ELSE"
        " RAWTOHEX(STANDARD_HASH(TO_CHAR(d.\"BORN\", 'SYYYY-MM-DD HH24:MI:SS'), 'MD5')) END || '|' || CASE WHEN"
        ' d."SEEN" IS NULL THEN \'-\' ELSE RAWTOHEX(STANDARD_HASH(TO_CHAR(SYS_EXTRACT_UTC(d."SEEN"),'
        " 'SYYYY-MM-DD HH24:MI:SS.FF9'), 'MD5')) END, 'MD5')) FROM \"ORA$PTT_MAPPER_DELTA\" d"
    ),
    "state-ddl-mapper-joblog": (
        'CREATE TABLE "META"."MAPPER_JOBLOG" (\n  "MAPREF" VARCHAR2(500 CHAR) NOT NULL,\n  "RUN_ID"'
        ' VARCHAR2(500 CHAR) NOT NULL,\n  "STATUS" VARCHAR2(1000 CHAR),\n  "ROWS_READ" NUMBER(19),\n '
        ' "ROWS_INSERTED" NUMBER(19),\n  "ROWS_UPDATED" NUMBER(19),\n  "ROWS_EXPIRED" NUMBER(19),\n '
        ' "ROWS_UNCHANGED" NUMBER(19),\n  "ROWS_REJECTED" NUMBER(19),\n  "ROWS_DELETED" NUMBER(19),\n '
        ' "CHUNKS_PLANNED" NUMBER(10),\n  "CHUNKS_SUCCEEDED" NUMBER(10),\n  "CHECKPOINT_BEFORE" CLOB,\n '
        ' "CHECKPOINT_AFTER" CLOB,\n  "STARTED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  "FINISHED_AT" TIMESTAMP(6)'
        ' WITH TIME ZONE,\n  "LOAD_STRATEGY" VARCHAR2(1000 CHAR),\n  "TARGET_TABLE" VARCHAR2(1000 CHAR),\n '
        ' "MESSAGE" CLOB,\n  "PLAN_JSON" CLOB,\n  "ROWS_ESTIMATED" NUMBER(19),\n  "CHUNKS_DONE" NUMBER(10),\n '
        ' "CHUNKS_RUNNING" NUMBER(10),\n  "ROWS_SO_FAR" NUMBER(19),\n  "ROWS_PER_S" BINARY_DOUBLE,\n '
        ' "ETA_SECONDS" BINARY_DOUBLE,\n  "PROGRESS_AT" TIMESTAMP(6) WITH TIME ZONE,\n  PRIMARY KEY ("MAPREF",'
        ' "RUN_ID")\n)'
    ),
    "state-ddl-mapper-chunklog": (
        'CREATE TABLE "META"."MAPPER_CHUNKLOG" (\n  "MAPREF" VARCHAR2(500 CHAR) NOT NULL,\n  "RUN_ID"'
        ' VARCHAR2(500 CHAR) NOT NULL,\n  "CHUNK_INDEX" NUMBER(10) NOT NULL,\n  "LOWER_BOUND" VARCHAR2(1000'
        ' CHAR),\n  "UPPER_BOUND" VARCHAR2(1000 CHAR),\n  "STATUS" VARCHAR2(1000 CHAR),\n  "ATTEMPT"'
        ' NUMBER(10),\n  "ROWS_READ" NUMBER(19),\n  "ROWS_INSERTED" NUMBER(19),\n  "ROWS_UPDATED" NUMBER(19),\n '
        ' "ROWS_EXPIRED" NUMBER(19),\n  "ROWS_UNCHANGED" NUMBER(19),\n  "ROWS_REJECTED" NUMBER(19),\n '
        ' "ROWS_DELETED" NUMBER(19),\n  "STARTED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  "FINISHED_AT" TIMESTAMP(6)'
        ' WITH TIME ZONE,\n  "SECONDS_READ" BINARY_DOUBLE,\n  "SECONDS_APPLY" BINARY_DOUBLE,\n  "PATH"'
        ' VARCHAR2(1000 CHAR),\n  "MESSAGE" CLOB,\n  "CHECKPOINT_MAX" CLOB,\n  PRIMARY KEY ("MAPREF", "RUN_ID",'
        ' "CHUNK_INDEX")\n)'
    ),
    "state-ddl-mapper-checkpoint": (
        'CREATE TABLE "META"."MAPPER_CHECKPOINT" (\n  "MAPREF" VARCHAR2(500 CHAR) NOT NULL,\n '
        ' "CHECKPOINT_COLUMN" VARCHAR2(1000 CHAR),\n  "VALUE" CLOB,\n  "VALUE_TYPE" VARCHAR2(1000 CHAR),\n '
        ' "RUN_ID" VARCHAR2(1000 CHAR),\n  "UPDATED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  PRIMARY KEY'
        ' ("MAPREF")\n)'
    ),
    "state-ddl-mapper-lock": (
        'CREATE TABLE "META"."MAPPER_LOCK" (\n  "MAPREF" VARCHAR2(500 CHAR) NOT NULL,\n  "RUN_ID" VARCHAR2(1000'
        ' CHAR),\n  "ACQUIRED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  "DAG_ID" VARCHAR2(1000 CHAR),\n  "TASK_GROUP"'
        ' VARCHAR2(1000 CHAR),\n  PRIMARY KEY ("MAPREF")\n)'
    ),
    "state-ddl-mapper-rejects": (
        'CREATE TABLE "META"."MAPPER_REJECTS" (\n  "MAPREF" VARCHAR2(1000 CHAR),\n  "RUN_ID" VARCHAR2(1000'
        ' CHAR),\n  "CHUNK_INDEX" NUMBER(10),\n  "KEY_VALUES" CLOB,\n  "ROW_JSON" CLOB,\n  "ERROR_CODE"'
        ' VARCHAR2(1000 CHAR),\n  "ERROR_MESSAGE" CLOB,\n  "REJECTED_AT" TIMESTAMP(6) WITH TIME ZONE\n)'
    ),
    "state-ddl-mapper-chunk_progress": (
        'CREATE TABLE "META"."MAPPER_CHUNK_PROGRESS" (\n  "MAPREF" VARCHAR2(500 CHAR) NOT NULL,\n  "RUN_ID"'
        ' VARCHAR2(500 CHAR) NOT NULL,\n  "CHUNK_INDEX" NUMBER(10) NOT NULL,\n  "ATTEMPT" NUMBER(10),\n '
        ' "STATUS" VARCHAR2(1000 CHAR),\n  "PHASE" VARCHAR2(1000 CHAR),\n  "ROWS_READ" NUMBER(19),\n '
        ' "ROWS_ESTIMATED" NUMBER(19),\n  "ROWS_PER_S" BINARY_DOUBLE,\n  "ETA_SECONDS" BINARY_DOUBLE,\n '
        ' "STARTED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  "UPDATED_AT" TIMESTAMP(6) WITH TIME ZONE,\n  "HOSTNAME"'
        ' VARCHAR2(1000 CHAR),\n  PRIMARY KEY ("MAPREF", "RUN_ID", "CHUNK_INDEX")\n)'
    ),
    "state-ddl-mapper-progress_view": (
        'CREATE VIEW "META"."MAPPER_PROGRESS" AS SELECT j.mapref, j.run_id, j.status, j.load_strategy,'
        " j.target_table, j.chunks_planned, COALESCE(s.chunks_done, 0) AS chunks_done, CASE WHEN j.status ="
        " 'running' THEN COALESCE(s.chunks_running, 0) ELSE 0 END AS chunks_running,"
        " COALESCE(s.chunks_failed, 0) AS chunks_failed, COALESCE(s.rows_done, 0) + CASE WHEN j.status ="
        " 'running' THEN COALESCE(s.rows_running, 0) ELSE 0 END AS rows_so_far, j.rows_estimated, CASE WHEN"
        " j.status = 'running' THEN s.rows_per_s END AS rows_per_s, CASE WHEN j.status = 'running' AND"
        " s.rows_per_s > 0 AND j.rows_estimated > COALESCE(s.rows_done, 0) + CASE WHEN j.status = 'running'"
        " THEN COALESCE(s.rows_running, 0) ELSE 0 END THEN (j.rows_estimated - (COALESCE(s.rows_done, 0) +"
        " CASE WHEN j.status = 'running' THEN COALESCE(s.rows_running, 0) ELSE 0 END)) / s.rows_per_s END AS"
        ' eta_seconds, j.started_at, s.progress_at, j.finished_at FROM "META"."MAPPER_JOBLOG" j LEFT JOIN'
        " (SELECT k.mapref, k.run_id, SUM(CASE WHEN k.state = 'success' THEN 1 ELSE 0 END) AS chunks_done,"
        " SUM(CASE WHEN k.state = 'running' THEN 1 ELSE 0 END) AS chunks_running, SUM(CASE WHEN k.state IN"
        " ('failed', 'stopped') THEN 1 ELSE 0 END) AS chunks_failed, SUM(CASE WHEN k.state = 'success' THEN"
        " k.rows_read ELSE 0 END) AS rows_done, SUM(CASE WHEN k.state = 'running' THEN k.rows_read ELSE 0"
        " END) AS rows_running, SUM(CASE WHEN k.state = 'running' THEN k.rows_per_s END) AS rows_per_s,"
        " MAX(k.updated_at) AS progress_at FROM (SELECT u.mapref, u.run_id, u.chunk_index, CASE WHEN c.status"
        " = 'success' THEN 'success' WHEN p.status = 'running' AND (c.status IS NULL OR p.attempt >"
        " c.attempt) THEN 'running' ELSE COALESCE(c.status, p.status) END AS state, CASE WHEN c.status ="
        " 'success' THEN c.rows_read ELSE p.rows_read END AS rows_read, p.rows_per_s, p.updated_at FROM"
        ' (SELECT mapref, run_id, chunk_index FROM "META"."MAPPER_CHUNKLOG" UNION SELECT mapref, run_id,'
        ' chunk_index FROM "META"."MAPPER_CHUNK_PROGRESS") u LEFT JOIN "META"."MAPPER_CHUNKLOG" c ON c.mapref'
        " = u.mapref AND c.run_id = u.run_id AND c.chunk_index = u.chunk_index LEFT JOIN"
        ' "META"."MAPPER_CHUNK_PROGRESS" p ON p.mapref = u.mapref AND p.run_id = u.run_id AND p.chunk_index ='
        " u.chunk_index) k GROUP BY k.mapref, k.run_id) s ON s.mapref = j.mapref AND s.run_id = j.run_id"
    ),
    "state-checkpoint-read": (
        'SELECT "CHECKPOINT_COLUMN", "VALUE", "VALUE_TYPE" FROM "META"."MAPPER_CHECKPOINT" WHERE ("MAPREF" ='
        ' :mapref OR ("MAPREF" IS NULL AND :mapref IS NULL))'
    ),
    "state-upgrade-add-long-text": 'ALTER TABLE "META"."MAPPER_JOBLOG" ADD ("PLAN_JSON" CLOB)',
    "state-upgrade-add-text": 'ALTER TABLE "META"."MAPPER_CHUNKLOG" ADD ("PATH" VARCHAR2(1000 CHAR))',
    "state-checkpoint-delete": (
        'DELETE FROM "META"."MAPPER_CHECKPOINT" WHERE ("MAPREF" = :mapref OR ("MAPREF" IS NULL AND :mapref IS NULL))'
    ),
    "state-checkpoint-insert": (
        'INSERT INTO "META"."MAPPER_CHECKPOINT" ("MAPREF", "CHECKPOINT_COLUMN", "VALUE") VALUES (:mapref,'
        " :checkpoint_column, :value)"
    ),
    "state-lock-serialize": (
        'SELECT "MAPREF" FROM "META"."MAPPER_LOCK" WHERE ("MAPREF" = :mapref OR ("MAPREF" IS NULL AND :mapref'
        " IS NULL)) FOR UPDATE"
    ),
    "state-lock-owner-nowait": (
        'SELECT "RUN_ID", "ACQUIRED_AT" FROM "META"."MAPPER_LOCK" WHERE ("MAPREF" = :mapref OR ("MAPREF" IS'
        " NULL AND :mapref IS NULL)) FOR UPDATE NOWAIT"
    ),
    "state-lock-holds": (
        'SELECT "RUN_ID" FROM "META"."MAPPER_LOCK" WHERE ("MAPREF" = :mapref OR ("MAPREF" IS NULL AND :mapref IS NULL))'
    ),
    "state-ledger-lookup": (
        'SELECT "CHUNK_INDEX", "STATUS" FROM "META"."MAPPER_CHUNKLOG" WHERE ("MAPREF" = :mapref OR ("MAPREF"'
        ' IS NULL AND :mapref IS NULL)) AND ("RUN_ID" = :run_id OR ("RUN_ID" IS NULL AND :run_id IS NULL))'
        ' AND ("LOWER_BOUND" = :lower_bound OR ("LOWER_BOUND" IS NULL AND :lower_bound IS NULL)) ORDER BY'
        ' "CHUNK_INDEX"'
    ),
    "state-joblog-update": (
        'UPDATE "META"."MAPPER_JOBLOG" SET "STATUS" = :status, "MESSAGE" = :message WHERE ("MAPREF" ='
        ' :w_mapref OR ("MAPREF" IS NULL AND :w_mapref IS NULL)) AND ("RUN_ID" = :w_run_id OR ("RUN_ID" IS'
        " NULL AND :w_run_id IS NULL))"
    ),
    "state-rejects-insert": 'INSERT INTO "META"."MAPPER_REJECTS" ("MAPREF", "ROW_JSON") VALUES (:p0, :p1)',
    "state-progress-upsert": (
        'MERGE INTO "META"."MAPPER_CHUNK_PROGRESS" t USING (SELECT :mapref AS "MAPREF", :run_id AS "RUN_ID",'
        ' :chunk_index AS "CHUNK_INDEX", :attempt AS "ATTEMPT", :status AS "STATUS", :phase AS "PHASE" FROM'
        ' dual) s ON (t."MAPREF" = s."MAPREF" AND t."RUN_ID" = s."RUN_ID" AND t."CHUNK_INDEX" ='
        ' s."CHUNK_INDEX") WHEN MATCHED THEN UPDATE SET t."ATTEMPT" = s."ATTEMPT", t."STATUS" = s."STATUS",'
        ' t."PHASE" = s."PHASE" WHEN NOT MATCHED THEN INSERT ("MAPREF", "RUN_ID", "CHUNK_INDEX", "ATTEMPT",'
        ' "STATUS", "PHASE") VALUES (s."MAPREF", s."RUN_ID", s."CHUNK_INDEX", s."ATTEMPT", s."STATUS",'
        ' s."PHASE")'
    ),
    "state-deletes-create": (
        'CREATE TABLE "META"."MAPPER_KEYS_991D040DB12F" AS SELECT CAST(NULL AS VARCHAR2(250 CHAR)) AS "MAPPER_RUN",'
        ' CAST(NULL AS NUMBER(10)) AS "MAPPER_CHUNK", t."CUSTOMER_ID" FROM "DW"."DIM_CUSTOMER" t WHERE 1 = 0'
    ),
    "state-deletes-index": (
        'CREATE INDEX "META"."MAPPER_KEYS_991D040DB12F_IX" ON "META"."MAPPER_KEYS_991D040DB12F"'
        ' ("CUSTOMER_ID", "MAPPER_RUN")'
    ),
    "state-deletes-record": (
        'INSERT INTO "META"."MAPPER_KEYS_991D040DB12F" ("MAPPER_RUN", "MAPPER_CHUNK", "CUSTOMER_ID") SELECT'
        ' :run, :chunk, s."CUSTOMER_ID" FROM "ORA$PTT_MAPPER_STAGE" s WHERE s."CUSTOMER_ID" IS NOT NULL'
    ),
    "state-deletes-count-absent": (
        'SELECT COUNT(*) FROM "DW"."DIM_CUSTOMER" t WHERE t."IS_CURRENT" = 1 AND t."CUSTOMER_ID" IS NOT NULL'
        ' AND NOT EXISTS (SELECT 1 FROM "META"."MAPPER_KEYS_991D040DB12F" k WHERE k."MAPPER_RUN" IN (:r0,'
        ' :r1) AND k."CUSTOMER_ID" = t."CUSTOMER_ID")'
    ),
    "state-deletes-forget": 'DELETE FROM "META"."MAPPER_KEYS_991D040DB12F" WHERE "MAPPER_RUN" IN (:r0)',
    "state-deletes-delete": (
        'DELETE FROM "DW"."DIM_CUSTOMER" t WHERE t."CUSTOMER_ID" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM'
        ' "META"."MAPPER_KEYS_991D040DB12F" k WHERE k."MAPPER_RUN" IN (:r0) AND k."CUSTOMER_ID" ='
        ' t."CUSTOMER_ID")'
    ),
    "state-deletes-close": (
        'UPDATE "DW"."DIM_CUSTOMER" t SET "VALID_TO" = CASE WHEN t."VALID_FROM" > :eff THEN t."VALID_FROM" EL'
        'SE :eff END, "IS_CURRENT" = 0 WHERE t."IS_CURRENT" = 1 AND t."CUSTOMER_ID" IS NOT NULL AND NOT EXIST'
        'S (SELECT 1 FROM "META"."MAPPER_KEYS_991D040DB12F" k WHERE k."MAPPER_RUN" IN (:r0) AND k."CUSTOMER_I'
        'D" = t."CUSTOMER_ID")'
    ),
    "target-create-scd1": (
        'CREATE TABLE "DW"."DIM_CUSTOMER" (\n  "CUSTOMER_ID" NUMBER(19) NOT NULL,\n  "NAME" CLOB,\n  "BALANCE"'
        ' NUMBER(12,2),\n  PRIMARY KEY ("CUSTOMER_ID")\n)'
    ),
    "target-create-scd2": (
        'CREATE TABLE "DW"."DIM_CUSTOMER" (\n  "CUSTOMER_ID" NUMBER(19),\n  "NAME" VARCHAR2(1000 CHAR),\n '
        ' "BALANCE" NUMBER(12,2),\n  "VALID_FROM" TIMESTAMP(6) WITH TIME ZONE,\n  "VALID_TO" TIMESTAMP(6) WITH'
        ' TIME ZONE,\n  "IS_CURRENT" NUMBER(1) CHECK ("IS_CURRENT" IN (0, 1)),\n  "ROW_HASH" CLOB\n)'
    ),
    "target-create-oracle-native": (
        'CREATE TABLE "DW"."DIM_CUSTOMER" (\n  "CUSTOMER_ID" NUMBER(9),\n  "NAME" VARCHAR2(100 CHAR),\n  "BORN"'
        ' DATE,\n  "SEEN" TIMESTAMP(6) WITH TIME ZONE,\n  "CODE" VARCHAR2(1000 CHAR)\n)'
    ),
    "target-index-history": (
        'CREATE UNIQUE INDEX "DW"."DIM_CUSTOMER_KEY_FROM_UX" ON "DW"."DIM_CUSTOMER" ("CUSTOMER_ID",'
        ' "VALID_FROM", "VALID_TO")'
    ),
    "target-index-current": (
        'CREATE UNIQUE INDEX "DW"."DIM_CUSTOMER_CURRENT_UX" ON "DW"."DIM_CUSTOMER" (CASE WHEN "IS_CURRENT" ='
        ' 1 THEN "CUSTOMER_ID" END, CASE WHEN "IS_CURRENT" = 1 THEN "NAME" END)'
    ),
    "target-add-column": 'ALTER TABLE "DW"."DIM_CUSTOMER" ADD ("SEGMENT" VARCHAR2(20 CHAR))',
    "target-alter-type": 'ALTER TABLE "DW"."DIM_CUSTOMER" MODIFY ("BALANCE" NUMBER(14,2))',
    "target-staging": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_STAGE" ("CUSTOMER_ID" NUMBER(19), "NAME" CLOB,'
        ' "BALANCE" NUMBER(12,2)) ON COMMIT DROP DEFINITION'
    ),
    "target-staging-text-key": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_STAGE" ("CUSTOMER_ID" NUMBER(19), "NAME"'
        ' VARCHAR2(1000 CHAR), "BALANCE" NUMBER(12,2)) ON COMMIT DROP DEFINITION'
    ),
    "target-number-rows-0": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_STAGE_N" ON COMMIT DROP DEFINITION AS SELECT s.*,'
        ' ROWNUM AS "MAPPER_RN", 1 AS "MAPPER_OK" FROM "ORA$PTT_MAPPER_STAGE" s'
    ),
    "target-number-rows-1": 'DROP TABLE "ORA$PTT_MAPPER_STAGE"',
    "target-number-rows-2": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_STAGE" ON COMMIT DROP DEFINITION AS SELECT * FROM'
        ' "ORA$PTT_MAPPER_STAGE_N"'
    ),
    "target-number-rows-3": 'DROP TABLE "ORA$PTT_MAPPER_STAGE_N"',
    "target-savepoint-set": 'SAVEPOINT "MAPPER_SALVAGE"',
    "target-savepoint-rollback": 'ROLLBACK TO SAVEPOINT "MAPPER_SALVAGE"',
    "target-staged-max": 'SELECT MAX("CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"',
    "target-staged-range": 'SELECT MIN("CUSTOMER_ID"), MAX("CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE"',
    "target-staged-last": (
        'SELECT "REGION", "CUSTOMER_ID" FROM "ORA$PTT_MAPPER_STAGE" ORDER BY "REGION" DESC, "CUSTOMER_ID"'
        " DESC FETCH FIRST 1 ROWS ONLY"
    ),
    "target-staged-slice": (
        'SELECT 1 FROM "DW"."DIM_CUSTOMER" t WHERE t."CUSTOMER_ID" BETWEEN (SELECT MIN(m."CUSTOMER_ID") FROM'
        ' "ORA$PTT_MAPPER_STAGE" m) AND (SELECT MAX(m."CUSTOMER_ID") FROM "ORA$PTT_MAPPER_STAGE" m)'
    ),
    "target-newer-versions": 'SELECT 1 FROM "DW"."DIM_CUSTOMER" t WHERE t."VALID_FROM" > :eff FETCH FIRST 1 ROWS ONLY',
    "target-probe": (
        'SELECT 1 FROM "DW"."DIM_CUSTOMER" t WHERE t."CUSTOMER_ID" >= :lo AND t."CUSTOMER_ID" < :hi FETCH'
        " FIRST 1 ROWS ONLY"
    ),
    "target-delta-table": (
        'CREATE PRIVATE TEMPORARY TABLE "ORA$PTT_MAPPER_DELTA" ON COMMIT DROP DEFINITION AS SELECT * FROM'
        ' "ORA$PTT_MAPPER_STAGE"'
    ),
}
