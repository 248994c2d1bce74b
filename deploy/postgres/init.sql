-- Local development only: runs once, when the postgres container starts on an empty
-- data volume (/docker-entrypoint-initdb.d). One database per service; no service
-- ever reads another's. In production each service gets its own role as well.
CREATE ROLE portal WITH LOGIN PASSWORD 'portal' CREATEDB;  -- CREATEDB: integration tests make a database per run

CREATE DATABASE portal_identity   OWNER portal;
CREATE DATABASE portal_scheduling OWNER portal;
CREATE DATABASE portal_messaging  OWNER portal;
CREATE DATABASE portal_documents  OWNER portal;
CREATE DATABASE portal_billing    OWNER portal;
CREATE DATABASE portal_payments   OWNER portal;
