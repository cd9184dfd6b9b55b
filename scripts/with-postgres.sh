#!/usr/bin/env bash
# Runs a command with a PostgreSQL server at hand: `scripts/with-postgres.sh CMD [ARGS...]`.
#
# With DATABASE_URL set, it just runs CMD. Otherwise it starts a throwaway PostgreSQL 15 server
# in a fresh temporary directory, on 127.0.0.1 and a free port, with trust authentication on
# loopback only, creates the database `orderflow`, exports
# DATABASE_URL=postgres://postgres@127.0.0.1:PORT/orderflow, runs CMD, and always stops the
# server and removes the directory, whatever CMD did. CMD's exit status is the script's.
#
# PostgreSQL refuses to run as root: the server runs as the `postgres` system user, or as a
# system user `orderflow-pg` created for it when there is none. The server binaries are looked
# for in PG_BIN, then /usr/lib/postgresql/15/bin (Debian's postgresql-15 package, installed
# with apt-get when missing and running as root).
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

if [[ -n "${DATABASE_URL:-}" ]]; then
    exec "$@"
fi

log() { echo "with-postgres: $*" >&2; }

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
if [[ ! -x "$PG_BIN/initdb" ]]; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing postgresql-15"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2
    fi
    if [[ ! -x "$PG_BIN/initdb" ]]; then
        log "no PostgreSQL server binaries in $PG_BIN (set PG_BIN, or DATABASE_URL to use a running server)"
        exit 1
    fi
fi

# Who runs the server.
if [[ "$(id -u)" -eq 0 ]]; then
    if id postgres >/dev/null 2>&1; then
        PG_USER=postgres
    else
        PG_USER=orderflow-pg
        id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
    as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
    PG_USER="$(id -un)"
    as_pg() { "$@"; }
fi

DIR="$(mktemp -d "${TMPDIR:-/tmp}/orderflow-pg.XXXXXX")"
chmod 700 "$DIR"
[[ "$(id -u)" -eq 0 ]] && chown "$PG_USER" "$DIR"
DATA="$DIR/data"
STARTED=0

cleanup() {
    local status=$?
    if [[ $STARTED -eq 1 ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
cat >"$DATA/pg_hba.conf" <<'EOF'
# Throwaway test server: trust on loopback only.
local all all trust
host  all all 127.0.0.1/32 trust
EOF
[[ "$(id -u)" -eq 0 ]] && chown "$PG_USER" "$DATA/pg_hba.conf"

# A port taken between picking and binding makes pg_ctl fail: try a few.
for attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    if as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
        STARTED=1
        break
    fi
    log "start on port $PORT failed (attempt $attempt)"
    tail -n 5 "$DIR/server.log" >&2 || true
done
if [[ $STARTED -ne 1 ]]; then
    log "could not start PostgreSQL"
    exit 1
fi

as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres orderflow
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/orderflow"
log "PostgreSQL on 127.0.0.1:$PORT (DATABASE_URL exported)"

set +e
"$@"
status=$?
set -e
exit "$status"
