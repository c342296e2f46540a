#!/usr/bin/env bash
# pg-backup.sh - nightly logical backup of the Directus PostgreSQL database.
# Cron: 02:00 Asia/Ho_Chi_Minh. Output: $BACKUP_DIR/directus_<date>_<HHMM>.sql.gz
# Shell hardening from S174-FIX-01 / S174-FIX-01B. This is the version in place
# during incident P9-G6 (2026-04-27), before DOT-BACKUP-SCRIPT-HARDEN. Every
# setting can be overridden from the environment (e.g. PG_DUMP_CMD: no Docker).

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

log() { echo "[$(date '+%F %T')] $*"; }

log "START pg-backup db=$DB_NAME user=$DB_USER file=$BACKUP_FILE"
mkdir -p "$BACKUP_DIR"

# The database runs in a container; refuse to dump when it is not running.
if [[ -z "$PG_DUMP_CMD" ]]; then
  if [[ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || true)" != "true" ]]; then
    echo "[ERROR] container $CONTAINER is not running" >&2
    exit 1
  fi
  PG_DUMP_CMD="docker exec $CONTAINER pg_dump"
fi
read -r -a PG_DUMP <<< "$PG_DUMP_CMD"

# Dump and compress. No "|| true" and no stderr suppression (AP-SILENT-SWALLOW).
"${PG_DUMP[@]}" -U "$DB_USER" -d "$DB_NAME" \
  --no-owner --no-acl \
  | gzip -9 > "$BACKUP_FILE"

# Validate: a real dump is never smaller than 1 KiB.
FILE_SIZE=$(stat -c%s "$BACKUP_FILE")
if [[ $FILE_SIZE -lt 1024 ]]; then
  echo "[ERROR] backup too small (${FILE_SIZE} bytes), removing $BACKUP_FILE" >&2
  rm -f "$BACKUP_FILE"
  exit 1
fi
if ! gunzip -t "$BACKUP_FILE"; then
  echo "[ERROR] gzip integrity check failed: $BACKUP_FILE" >&2
  exit 1
fi
log "OK size=${FILE_SIZE} bytes, gzip integrity verified"

# Retention: keep RETENTION_DAYS days of dumps.
find "$BACKUP_DIR" -maxdepth 1 -name 'directus_*.sql.gz' -mtime "+$RETENTION_DAYS" -delete

# Heartbeat to Uptime Kuma, only after full success.
curl -fsS --max-time 10 "${KUMA_PUSH_URL}?status=up&msg=OK&ping=" > /dev/null \
  || log "WARN heartbeat push failed (backup itself is OK)"
log "DONE"
