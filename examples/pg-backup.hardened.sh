#!/usr/bin/env bash
# pg-backup.sh - nightly logical backup of the Directus PostgreSQL database.
# Cron: 02:00 Asia/Ho_Chi_Minh. Output: $BACKUP_DIR/directus_<date>_<HHMM>.sql.gz
# Shell hardening from S174-FIX-01 / S174-FIX-01B, plus DOT-BACKUP-SCRIPT-HARDEN
# after incident P9-G6 (2026-04-27): ERR trap, pg_dump exit isolation, USAGE
# pre-flight. Every setting can be overridden from the environment.

set -euo pipefail
umask 077

# --- Settings -----------------------------------------------------------------
DB_USER="${DB_USER:-directus}"
DB_NAME="${DB_NAME:-directus}"
CONTAINER="${CONTAINER:-postgres}"
BACKUP_DIR="${BACKUP_DIR:-/opt/incomex/backups/pg}"
BACKUP_FILE="${BACKUP_FILE:-$BACKUP_DIR/directus_$(date +%F_%H%M).sql.gz}"
RETENTION_DAYS="${RETENTION_DAYS:-7}"
KUMA_PUSH_URL="${KUMA_PUSH_URL:-http://localhost:3001/api/push/pg-backup-local}"
# pg_dump invocation; empty means "docker exec $CONTAINER pg_dump". Set it
# (e.g. "pg_dump -h 127.0.0.1 -p 5432") to dump without Docker.
PG_DUMP_CMD="${PG_DUMP_CMD:-}"
# psql for the USAGE pre-flight; empty means "docker exec $CONTAINER psql".
PSQL_CMD="${PSQL_CMD:-}"
# Pre-flight: refuse to dump when DB_USER lacks USAGE on a schema (1 = on).
CHECK_USAGE="${CHECK_USAGE:-1}"

log() { echo "[$(date '+%F %T')] $*"; }
# Fail through the ERR trap, so explicit failures also clean up and alert.
die() { local rc=$1; shift; echo "[ERROR] $*" >&2; return "$rc"; }

# On any error path: remove the unverified artefacts of this run and push DOWN,
# instead of leaving a 20-byte "valid" gzip and waiting for Kuma to notice.
# The dump only takes $BACKUP_FILE's name once verified, so a failed retry never
# removes an earlier good backup of the same minute.
cleanup_on_error() {
  local rc=$? f sz
  for f in "${BACKUP_FILE}.raw" "${BACKUP_FILE}.partial"; do
    if [[ -f "$f" ]]; then
      sz=$(stat -c%s "$f" 2>/dev/null || echo 0)
      rm -f "$f"
      echo "[ERROR] partial dump removed: $f (size=$sz)" >&2
    fi
  done
  echo "[ERROR] backup failed (rc=$rc)" >&2
  curl -fsS --max-time 10 "${KUMA_PUSH_URL}?status=down&msg=backup_failed_rc${rc}" >&2 || true
  exit "$rc"
}
trap cleanup_on_error ERR

log "START pg-backup db=$DB_NAME user=$DB_USER file=$BACKUP_FILE"
mkdir -p "$BACKUP_DIR"

# The database runs in a container; refuse to dump when it is not running.
if [[ -z "$PG_DUMP_CMD" ]]; then
  if [[ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || true)" != "true" ]]; then
    die 1 "container $CONTAINER is not running"
  fi
  PG_DUMP_CMD="docker exec $CONTAINER pg_dump"
fi
read -r -a PG_DUMP <<< "$PG_DUMP_CMD"

# Pre-flight: a schema the dump role cannot USE makes pg_dump fail (sandbox_tac).
if [[ $CHECK_USAGE == 1 ]]; then
  read -r -a PSQL <<< "${PSQL_CMD:-docker exec $CONTAINER psql}"
  MISSING=$("${PSQL[@]}" -X -U "$DB_USER" -d "$DB_NAME" -tAc "
    SELECT n.nspname FROM pg_namespace n
    WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
      AND NOT has_schema_privilege(n.oid, 'USAGE')
    ORDER BY 1")
  if [[ -n $MISSING ]]; then
    die 2 "$DB_USER lacks USAGE on schema(s): ${MISSING//$'\n'/ }"
  fi
fi

# Dump, then compress: pg_dump's exit status is no longer hidden behind gzip's.
# No "|| true" and no stderr suppression (AP-SILENT-SWALLOW).
"${PG_DUMP[@]}" -U "$DB_USER" -d "$DB_NAME" \
  --no-owner --no-acl \
  > "${BACKUP_FILE}.raw"
gzip -9 < "${BACKUP_FILE}.raw" > "${BACKUP_FILE}.partial"
rm -f "${BACKUP_FILE}.raw"

# Validate: a real dump is never smaller than 1 KiB.
FILE_SIZE=$(stat -c%s "${BACKUP_FILE}.partial")
if [[ $FILE_SIZE -lt 1024 ]]; then
  die 1 "backup too small (${FILE_SIZE} bytes): $BACKUP_FILE"
fi
if ! gunzip -t "${BACKUP_FILE}.partial"; then
  die 1 "gzip integrity check failed: $BACKUP_FILE"
fi
mv -f "${BACKUP_FILE}.partial" "$BACKUP_FILE"
log "OK size=${FILE_SIZE} bytes, gzip integrity verified"

# Retention: keep RETENTION_DAYS days of dumps.
find "$BACKUP_DIR" -maxdepth 1 -name 'directus_*.sql.gz' -mtime "+$RETENTION_DAYS" -delete

# Heartbeat to Uptime Kuma, only after full success.
curl -fsS --max-time 10 "${KUMA_PUSH_URL}?status=up&msg=OK&ping=" > /dev/null \
  || log "WARN heartbeat push failed (backup itself is OK)"
log "DONE"
