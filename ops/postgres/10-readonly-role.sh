#!/bin/sh
# Runs once, when the PostgreSQL volume is created: the read-only role the dashboards use
# (docs/operations.md, "Dashboards"). Its password comes from DASHBOARD_DB_PASSWORD in .env.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v ro_password="$DASHBOARD_DB_PASSWORD" <<'SQL'
CREATE ROLE coinbt_ro LOGIN PASSWORD :'ro_password';
GRANT CONNECT ON DATABASE coinbt TO coinbt_ro;
GRANT USAGE ON SCHEMA public TO coinbt_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE coinbt IN SCHEMA public GRANT SELECT ON TABLES TO coinbt_ro;
ALTER ROLE coinbt_ro SET default_transaction_read_only = on;
SQL
