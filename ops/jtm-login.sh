#!/usr/bin/env bash
# Creates (or updates) a login for a person or service of the warehouse (docs/access.md).
#   ops/jtm-login.sh [-d CONNINFO] [--login NAME] municipality GM0505 [PASSWORD_FILE]
#   ops/jtm-login.sh [-d CONNINFO] researcher NAME [PASSWORD_FILE]
#   ops/jtm-login.sh [-d CONNINFO] analyst|extractor|linker|alert NAME [PASSWORD_FILE]
# A municipality login (default name: the code in lower case, gm0505) joins jtm_gm0505 (created
# when missing, a member of jtm_municipality), which decides the rows it sees. Other logins join
# jtm_<kind>. Idempotent: an existing login gets the membership and the new password.
# A municipality is also set up in the database (ops.municipality_setup: its schema gm0505 with its
# own partitions and views, docs/access.md), and the login's search_path is that schema.
# Municipality, analyst, researcher and extractor logins get pgaudit.log = 'all' (access audit).
# PASSWORD_FILE: the first line is the password; refused when group or others can read it. Without
# one the login has no password (peer/cert authentication, or set one later). The password is
# turned into a SCRAM-SHA-256 verifier here (jtm-passwd, libpq's PQencryptPasswordConn): the server
# never receives it in clear.
# Every value reaches SQL as a psql variable (:'literal', :"identifier"), never as SQL text.
# Connection: -d CONNINFO, else $JTM_PG_CONNINFO, else the development server of ops/pg.sh.
# Roles are cluster-wide: one run serves every database of the server.
# Exit: 0 done, 2 usage, 78 password file refused, 1 database error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

conninfo=${JTM_PG_CONNINFO:-}
login=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d) [ $# -ge 2 ] || usage; conninfo=$2; shift 2 ;;
    --login) [ $# -ge 2 ] || usage; login=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "jtm-login: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] && [ $# -le 3 ] || usage
kind=$1 arg=$2 pwfile=${3:-}
schema=""

case "$kind" in
  municipality)
    [[ "$arg" =~ ^GM[0-9]{4}$ ]] || { echo "jtm-login: municipality code must be GM and 4 digits" >&2; exit 2; }
    group="jtm_$(printf %s "$arg" | tr 'A-Z' 'a-z')"
    schema=$(printf %s "$arg" | tr 'A-Z' 'a-z')
    login=${login:-$(printf %s "$arg" | tr 'A-Z' 'a-z')}
    ;;
  researcher|analyst|extractor|linker|alert)
    [ -z "$login" ] || [ "$login" = "$arg" ] || { echo "jtm-login: --login is for municipality logins" >&2; exit 2; }
    group="jtm_$kind"
    login=$arg
    ;;
  *) echo "jtm-login: unknown kind $kind" >&2; usage ;;
esac
# Lower-case SQL identifiers only, and never one of jtm's own group roles.
[[ "$login" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || { echo "jtm-login: login name must match [a-z][a-z0-9_]{0,62}" >&2; exit 2; }
case "$login" in jtm_*|pg_*|postgres) echo "jtm-login: login name $login is reserved" >&2; exit 2 ;; esac

password=""
if [ -n "$pwfile" ]; then
  [ -f "$pwfile" ] || { echo "jtm-login: password file $pwfile not found" >&2; exit 78; }
  mode=$(stat -c %a "$pwfile")
  if [ $(( 8#$mode & 8#077 )) -ne 0 ]; then
    echo "jtm-login: password file $pwfile is readable by group or others (chmod 600)" >&2
    exit 78
  fi
  IFS= read -r password <"$pwfile" || true
  [ ${#password} -ge 12 ] || { echo "jtm-login: password in $pwfile is shorter than 12 characters" >&2; exit 78; }
fi

if [ -z "$conninfo" ]; then
  eval "$("$JTM_ROOT/ops/pg.sh" env)"
  conninfo=$JTM_PG_CONNINFO
fi
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)

# The server gets a SCRAM verifier, never the password: no plaintext in its log, in
# pg_stat_statements or in the audit log. jtm-passwd reads the password on its standard input.
verifier=""
if [ -n "$password" ]; then
  passwd_bin=""
  for b in "${JTM_BUILD:-$JTM_ROOT/build}/bin/jtm-passwd" "$JTM_ROOT/build/bin/jtm-passwd" "$(command -v jtm-passwd || true)"; do
    [ -n "$b" ] && [ -x "$b" ] && { passwd_bin=$b; break; }
  done
  [ -n "$passwd_bin" ] || { echo "jtm-login: jtm-passwd not found (build it, or put it on PATH); refusing to send the password in clear" >&2; exit 78; }
  verifier=$(printf '%s\n' "$password" | "$passwd_bin" -X pg.conninfo="$conninfo" --user "$login") ||
    { echo "jtm-login: jtm-passwd could not compute the SCRAM verifier" >&2; exit 1; }
  password=""
  case "$verifier" in 'SCRAM-SHA-256$'*) ;; *) echo "jtm-login: jtm-passwd gave no SCRAM verifier" >&2; exit 1 ;; esac
fi
case "$kind" in municipality|analyst|researcher|extractor) audit=on ;; *) audit=off ;; esac
has_password=$([ -n "$verifier" ] && echo on || echo off) # not from the verifier in SQL: an audited statement

# The verifier travels in the environment of psql (read with \getenv), not on its command line.
JTM_LOGIN_PASSWORD=$verifier "$PSQL" "$conninfo" -X -q -v ON_ERROR_STOP=1 \
  -v login="$login" -v grp="$group" -v kind="$kind" -v code="$arg" -v schema="$schema" -v audit="$audit" \
  -v has_password="$has_password" -f - <<'SQL'
\getenv password JTM_LOGIN_PASSWORD
SET client_min_messages = warning;
-- keep the password out of the server log
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'grp') AS need_group,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'login') AS need_login,
       :'kind' = 'municipality' AS is_municipality,
       :'kind' = 'linker' AS is_linker
\gset
\if :need_group
  \if :is_municipality
    CREATE ROLE :"grp" NOLOGIN IN ROLE jtm_municipality;
  \else
    \warn 'jtm-login: group role missing: run the migrations first'
    SELECT 1/0 AS group_role_missing;
  \endif
\endif
\if :need_login
  CREATE ROLE :"login" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
\endif
GRANT :"grp" TO :"login";
-- BYPASSRLS is an attribute, not inherited from jtm_linker: a linker login gets it itself.
\if :is_linker
  ALTER ROLE :"login" BYPASSRLS;
\endif
\if :is_municipality
  SELECT ops.municipality_setup(:'code');
  ALTER ROLE :"login" SET search_path = :"schema";
\endif
-- NEN 7513 access audit: every statement of a reader login (pgaudit, docs/runbook.md)
\if :audit
  ALTER ROLE :"login" SET pgaudit.log = 'all';
  ALTER ROLE :"login" SET pgaudit.log_relation = on;
\endif
\if :has_password
  -- a SCRAM-SHA-256 verifier computed by jtm-passwd, stored as it is
  ALTER ROLE :"login" PASSWORD :'password';
\endif
SQL
jtm_log "login $login is a member of $group"
