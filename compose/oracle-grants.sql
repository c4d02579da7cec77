-- The Oracle test layer's user (APP_USER `mapper`, created by the image in FREEPDB1 before this script runs):
-- chunks of one run read as of the plan's SCN (DBMS_FLASHBACK), ROWID chunks of tables it does not own come from
-- DBMS_PARALLEL_EXECUTE (CREATE JOB) or DBA_EXTENTS (SELECT_CATALOG_ROLE). Run once, when the volume is created.
ALTER SESSION SET CONTAINER = FREEPDB1;
GRANT EXECUTE ON SYS.DBMS_FLASHBACK TO mapper;
GRANT CREATE JOB TO mapper;
GRANT SELECT_CATALOG_ROLE TO mapper;
