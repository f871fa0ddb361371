#!/usr/bin/env bash
# A private PostgreSQL server for development, tests and the demo.
#   ops/pg.sh start     initdb if needed, start, create database jtm, apply migrations
#   ops/pg.sh stop      stop (fast shutdown)
#   ops/pg.sh restart   stop and start (used by fault tests)
#   ops/pg.sh status    exit 0 when running
#   ops/pg.sh migrate   apply migrations to database jtm
#   ops/pg.sh env       print JTM_PG_CONNINFO=... for eval
#   ops/pg.sh psql ...  psql into database jtm
#   ops/pg.sh reset     start, drop database jtm, create it afresh and apply migrations
#   ops/pg.sh destroy   stop and delete the data folder
# Settings (environment): JTM_PGDATA (data folder, default .jtm/pg in the project), JTM_PGPORT
# (loopback port, default 54329), JTM_BUILD (build folder holding bin/jtm-migrate, default build).
# Run as root, the server runs as the unprivileged user "postgres" (initdb refuses root); run as
# a user, it runs as that user. Authentication is trust on the socket and loopback only: a dev server.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || jtm_die "PostgreSQL server binaries not found: run ops/test.sh or ops/demo.sh, which install them"
PORT=${JTM_PGPORT:-${JTM_PG_PORT:-54329}}
BUILD=${JTM_BUILD:-$JTM_ROOT/build}

RUNAS=()
if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi

DATA=${JTM_PGDATA:-${JTM_PG_DIR:-$(jtm_server_dir pg)}}
SOCK=$(dirname "$DATA")/pgsock
CONNINFO="host=$SOCK port=$PORT user=postgres dbname=jtm"

# From /, since the server user may not be allowed into the current folder.
as_server() { (cd / && "${RUNAS[@]}" "$@"); }

running() { as_server "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

do_init() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  mkdir -p "$DATA" "$SOCK"
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$(dirname "$DATA")"
    chown postgres: "$DATA" "$SOCK"
  fi
  chmod 700 "$DATA"
  as_server "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
    jtm_die "initdb failed"
  cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
fsync = on
max_connections = 200
shared_buffers = 256MB
max_wal_size = 2GB
logging_collector = off
CONF
  audit_conf
}

# The access audit (docs/runbook.md, Access audit): pgaudit loaded, every connection and
# disconnection logged, and every log line carrying the login, database and time. pgaudit logs
# statements only for roles with pgaudit.log set (ops/jtm-login.sh sets it for reader logins).
# Also added to a data folder made before it.
audit_conf() {
  grep -q '^shared_preload_libraries' "$DATA/postgresql.conf" 2>/dev/null && return 0
  local have_pgaudit=""
  [ -f "$(dirname "$PGBIN")/lib/pgaudit.so" ] && have_pgaudit=pgaudit
  cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = '$have_pgaudit'
${have_pgaudit:+pgaudit.log = 'none'}
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] user=%u db=%d app=%a '
CONF
  [ -n "$have_pgaudit" ] || jtm_log "warning: pgaudit not installed (postgresql-15-pgaudit): no access audit log"
}

do_start() {
  do_init
  audit_conf
  mkdir -p "$SOCK"
  [ "$(id -u)" = 0 ] && chown postgres: "$SOCK"
  if ! running; then
    as_server "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >/dev/null ||
      { tail -n 20 "$DATA/server.log" >&2; jtm_die "PostgreSQL did not start"; }
  fi
  "$PGBIN/psql" "host=$SOCK port=$PORT user=postgres dbname=postgres" -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='jtm'" | grep -q 1 ||
    "$PGBIN/psql" "host=$SOCK port=$PORT user=postgres dbname=postgres" -qc "CREATE DATABASE jtm" >/dev/null
  [ "${JTM_PGNOMIGRATE:-${JTM_PG_NO_MIGRATE:-}}" = 1 ] || do_migrate
  jtm_log "PostgreSQL running: $CONNINFO"
}

do_migrate() {
  [ -x "$BUILD/bin/jtm-migrate" ] || jtm_die "$BUILD/bin/jtm-migrate not built"
  "$BUILD/bin/jtm-migrate" -X "pg.conninfo=$CONNINFO" -X log.level=warn
}

do_stop() {
  if [ -f "$DATA/PG_VERSION" ] && running; then
    as_server "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  fi
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status) running ;;
  migrate) do_migrate ;;
  env) printf 'JTM_PG_CONNINFO=%q\n' "$CONNINFO" ;;
  psql) shift; exec "$PGBIN/psql" "$CONNINFO" "$@" ;;
  reset)
    JTM_PGNOMIGRATE=1 do_start
    "$PGBIN/psql" "host=$SOCK port=$PORT user=postgres dbname=postgres" -qc "DROP DATABASE IF EXISTS jtm WITH (FORCE)" >/dev/null
    do_start ;;
  destroy) do_stop; rm -rf "$DATA" ;;
  *) echo "usage: ops/pg.sh start|stop|restart|status|migrate|env|psql|reset|destroy" >&2; exit 2 ;;
esac
