#!/bin/bash
# backup-to-gdrive.sh - nightly off-site archive of the Incomex stack to Google Drive.
# Cron: 20:00 UTC (03:00 Asia/Ho_Chi_Minh). Five components are staged, bundled
# into one archive and uploaded with rclone: 1 PostgreSQL dump, 2 Directus
# uploads, 3 Qdrant snapshot, 4 stack configuration, 5 ops scripts and crontab.
# Shell hardening from S174-FIX-01 / S174-FIX-01B. This is the version in place
# during incident P9-G6 (2026-04-27). Every setting can be overridden from the
# environment (e.g. PG_DUMP_CMD: no Docker; UPLOAD_CMD=cp: a local directory).
set -euo pipefail
umask 077

# --- Settings -----------------------------------------------------------------
DB_USER="${DB_USER:-directus}"
DB_NAME="${DB_NAME:-directus}"
CONTAINER="${CONTAINER:-postgres}"
WORK_DIR="${WORK_DIR:-/opt/incomex/backups/gdrive}"
STAMP="${STAMP:-$(date -u +%F_%H%M)}"
STAGING="${STAGING:-$WORK_DIR/staging_$STAMP}"
ARCHIVE="${ARCHIVE:-$WORK_DIR/incomex_$STAMP.tar}"
UPLOADS_DIR="${UPLOADS_DIR:-/opt/incomex/directus/uploads}"
CONFIG_DIR="${CONFIG_DIR:-/opt/incomex/config}"
SCRIPTS_DIR="${SCRIPTS_DIR:-/opt/incomex/scripts}"
QDRANT_URL="${QDRANT_URL-http://localhost:6333}" # set but empty: no snapshot
QDRANT_KEY="${QDRANT_KEY:-}"
QDRANT_COLLECTION="${QDRANT_COLLECTION:-incomex}"
RETENTION_DAYS="${RETENTION_DAYS:-3}"
KUMA_PUSH_URL="${KUMA_PUSH_URL:-http://localhost:3001/api/push/gdrive-backup}"
# pg_dump invocation; empty means "docker exec $CONTAINER pg_dump". Set it
# (e.g. "pg_dump -h 127.0.0.1 -p 5432") to dump without Docker.
PG_DUMP_CMD="${PG_DUMP_CMD:-}"
# Upload: "$UPLOAD_CMD <archive> <UPLOAD_DEST>". rclone by default; any command
# with the same shape works, e.g. UPLOAD_CMD=cp UPLOAD_DEST=/mnt/offsite.
UPLOAD_CMD="${UPLOAD_CMD:-rclone copy}"
UPLOAD_DEST="${UPLOAD_DEST:-gdrive:incomex-backups}"

log() { echo "[$(date '+%F %T')] $*"; }

log "START backup-to-gdrive stamp=$STAMP staging=$STAGING dest=$UPLOAD_DEST"
mkdir -p "$STAGING"

# --- 1/5 PostgreSQL -------------------------------------------------------------
# The database runs in a container; refuse to dump when it is not running.
if [[ -z "$PG_DUMP_CMD" ]]; then
  if [[ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || true)" != "true" ]]; then
    echo "[ERROR] container $CONTAINER is not running" >&2
    exit 1
  fi
  PG_DUMP_CMD="docker exec $CONTAINER pg_dump"
fi
read -r -a PG_DUMP <<< "$PG_DUMP_CMD"

log "1/5 PostgreSQL dump db=$DB_NAME user=$DB_USER"
# Dump and compress. No "|| true" and no stderr suppression (AP-SILENT-SWALLOW).
"${PG_DUMP[@]}" -U "$DB_USER" -d "$DB_NAME" \
  --no-owner --no-acl \
  | gzip -9 > "$STAGING/postgresql-directus.sql.gz"

PG_SIZE=$(stat -c%s "$STAGING/postgresql-directus.sql.gz")
if [[ $PG_SIZE -lt 1024 ]]; then
  echo "[ERROR] PostgreSQL dump too small (${PG_SIZE} bytes)" >&2
  rm -rf "$STAGING"
  exit 1
fi
if ! gunzip -t "$STAGING/postgresql-directus.sql.gz"; then
  echo "[ERROR] gzip integrity check failed: postgresql-directus.sql.gz" >&2
  rm -rf "$STAGING"
  exit 1
fi
log "1/5 OK size=${PG_SIZE} bytes"

# --- 2/5 Directus uploads -------------------------------------------------------
log "2/5 Directus uploads dir=$UPLOADS_DIR"
if [[ -d "$UPLOADS_DIR" ]]; then
  tar -czf "$STAGING/directus-uploads.tar.gz" -C "$UPLOADS_DIR" .
  log "2/5 OK size=$(stat -c%s "$STAGING/directus-uploads.tar.gz") bytes"
else
  log "2/5 WARN $UPLOADS_DIR does not exist, skipped"
fi

# --- 3/5 Qdrant snapshot --------------------------------------------------------
# The API key is read from the environment only; it never appears in the log.
if [[ -n "$QDRANT_URL" ]]; then
  log "3/5 Qdrant snapshot collection=$QDRANT_COLLECTION"
  SNAPSHOT=$(curl -fsS --max-time 600 -X POST \
    -H "api-key: ${QDRANT_KEY}" \
    "$QDRANT_URL/collections/$QDRANT_COLLECTION/snapshots" \
    | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
  if [[ -z "$SNAPSHOT" ]]; then
    echo "[ERROR] Qdrant did not name a snapshot" >&2
    exit 1
  fi
  curl -fsS --max-time 1800 -H "api-key: ${QDRANT_KEY}" \
    -o "$STAGING/qdrant-$QDRANT_COLLECTION.snapshot" \
    "$QDRANT_URL/collections/$QDRANT_COLLECTION/snapshots/$SNAPSHOT"
  log "3/5 OK snapshot=$SNAPSHOT"
else
  log "3/5 SKIP QDRANT_URL is empty"
fi

# --- 4/5 Stack configuration ----------------------------------------------------
# docker-compose files and service configs; .env files hold secrets: not copied.
log "4/5 configuration dir=$CONFIG_DIR"
if [[ -d "$CONFIG_DIR" ]]; then
  tar -czf "$STAGING/config.tar.gz" --exclude='*.env' --exclude='.env' -C "$CONFIG_DIR" .
  log "4/5 OK size=$(stat -c%s "$STAGING/config.tar.gz") bytes"
else
  log "4/5 WARN $CONFIG_DIR does not exist, skipped"
fi

# --- 5/5 Ops scripts and crontab ------------------------------------------------
log "5/5 scripts dir=$SCRIPTS_DIR"
if [[ -d "$SCRIPTS_DIR" ]]; then
  tar -czf "$STAGING/scripts.tar.gz" -C "$SCRIPTS_DIR" .
fi
crontab -l > "$STAGING/crontab.txt" 2>/dev/null || echo "# no crontab" > "$STAGING/crontab.txt"
log "5/5 OK"

# --- Bundle ---------------------------------------------------------------------
tar -cf "$ARCHIVE" -C "$STAGING" .
ARCHIVE_SIZE=$(stat -c%s "$ARCHIVE")
# The bundle must list every staged component before it leaves the host.
if ! tar -tf "$ARCHIVE" > /dev/null; then
  echo "[ERROR] the bundle cannot be listed: $ARCHIVE" >&2
  exit 1
fi
log "bundle $ARCHIVE size=${ARCHIVE_SIZE} bytes"

# --- Upload ---------------------------------------------------------------------
read -r -a UPLOAD <<< "$UPLOAD_CMD"
log "upload to $UPLOAD_DEST"
"${UPLOAD[@]}" "$ARCHIVE" "$UPLOAD_DEST"
log "upload OK"

# --- Cleanup and retention ------------------------------------------------------
rm -rf "$STAGING"
find "$WORK_DIR" -maxdepth 1 -name 'incomex_*.tar' -mtime "+$RETENTION_DAYS" -delete

# Heartbeat to Uptime Kuma, only after full success.
curl -fsS --max-time 10 "${KUMA_PUSH_URL}?status=up&msg=OK&ping=" > /dev/null \
  || log "WARN heartbeat push failed (backup itself is OK)"
log "DONE archive=$(basename "$ARCHIVE") size=${ARCHIVE_SIZE} bytes"
