-- The warehouse's schemas (design.md, Warehouse). Tables come in later migrations.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS wh;
CREATE SCHEMA IF NOT EXISTS monitor;
CREATE SCHEMA IF NOT EXISTS research;
CREATE SCHEMA IF NOT EXISTS ops;
COMMENT ON SCHEMA staging IS 'Pseudonymised events as received from the pseudo.* topics, one row per event_id.';
COMMENT ON SCHEMA wh IS 'Linked facts per child: care episodes, routes, population per month.';
COMMENT ON SCHEMA monitor IS 'Views for regional monitoring teams and municipalities.';
COMMENT ON SCHEMA research IS 'Disclosure-safe aggregate views for researchers.';
COMMENT ON SCHEMA ops IS 'Operational state: Kafka offsets, alert state, migrations. Owner only.';
