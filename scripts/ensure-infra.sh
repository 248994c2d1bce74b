#!/usr/bin/env bash
# Starts the local PostgreSQL and RabbitMQ when they are not answering, and waits for both.
# URLs given in the environment (PG_BASE_URL, AMQP_URL) mean "use those": nothing is started then.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {
  local host=$1 port=$2 name=$3
  for _ in $(seq 1 60); do
    port_open "$host" "$port" && return 0
    sleep 1
  done
  echo "$name did not come up on $host:$port" >&2
  return 1
}

if [ -z "${PG_BASE_URL:-}" ] && ! port_open 127.0.0.1 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_port 127.0.0.1 5432 PostgreSQL
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is missing: start it, set PG_BASE_URL, or run a Docker engine for testcontainers" >&2
  fi
fi

if [ -z "${AMQP_URL:-}" ] && ! port_open 127.0.0.1 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_port 127.0.0.1 5672 RabbitMQ
  else
    echo "RabbitMQ is not running on 127.0.0.1:5672: start it, set AMQP_URL, or run a Docker engine for testcontainers" >&2
  fi
fi

# The web's browser sessions (gateway/web/session.py) live in Redis.
if [ -z "${WEB_SESSION_REDIS_URL:-}" ] && ! port_open 127.0.0.1 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --save "" --appendonly no || true
    wait_port 127.0.0.1 6379 Redis
  else
    echo "Redis is not running on 127.0.0.1:6379: start it (apt-get install redis-server) or set WEB_SESSION_REDIS_URL" >&2
  fi
fi
