#!/usr/bin/env bash
# Local development only: runs once, when the postgres container starts on an empty
# data volume (/docker-entrypoint-initdb.d). One database per service; no service
# ever reads another's. In production each service gets its own role as well.
# The role's password comes from PORTAL_DB_PASSWORD (deploy/.env, made by
# `python -m shared.secrets --compose deploy/.env`): none is written here. psql's
# :'password' quotes it as a literal.
set -euo pipefail
: "${PORTAL_DB_PASSWORD:?PORTAL_DB_PASSWORD is not set (deploy/.env)}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v password="$PORTAL_DB_PASSWORD" <<'SQL'
-- CREATEDB: integration tests make a database per run
CREATE ROLE portal WITH LOGIN CREATEDB PASSWORD :'password';

CREATE DATABASE portal_identity   OWNER portal;
CREATE DATABASE portal_scheduling OWNER portal;
CREATE DATABASE portal_messaging  OWNER portal;
CREATE DATABASE portal_documents  OWNER portal;
CREATE DATABASE portal_billing    OWNER portal;
CREATE DATABASE portal_payments   OWNER portal;
SQL
