#!/usr/bin/env bash
# Runs a command with a PostgreSQL server at hand: `scripts/with-postgres.sh CMD [ARGS...]`.
#
# With DATABASE_URL set, it just runs CMD. Otherwise it starts a throwaway PostgreSQL server
# in a fresh temporary directory, on 127.0.0.1 and a free port, with trust authentication on
# loopback only, creates the database `orderflow`, exports
# DATABASE_URL=postgres://postgres@127.0.0.1:PORT/orderflow, runs CMD, and always stops the
# server and removes the directory, whatever CMD did. CMD's exit status is the script's. It
# also exports ORDERFLOW_PG_THROWAWAY=1, telling tests they may reconfigure that server.
#
# The server runs with fsync, synchronous_commit and full_page_writes off (fast, for tests),
# unless ORDERFLOW_PG_DURABLE=1: then it keeps the server's defaults (every commit flushed to
# disk, as in production) and loads pg_stat_statements, for benchmarks
# (`ORDERFLOW_PG_DURABLE=1 bash scripts/with-postgres.sh cargo bench --bench postgres_vs_raw`);
# it exports ORDERFLOW_PG_DURABLE=1 and PG_BIN for the command.
#
# PostgreSQL refuses to run as root: the server runs as the `postgres` system user, or as a
# system user `orderflow-pg` created for it when there is none.
#
# The server binaries (initdb, pg_ctl, createdb) of any PostgreSQL 13 or newer are looked for,
# first found wins: in PG_BIN; on PATH; in `pg_config --bindir`; in /usr/lib/postgresql/*/bin
# (Debian, Ubuntu), /usr/pgsql-*/bin (RHEL, Fedora), /opt/homebrew/opt/postgresql@*/bin and
# /usr/local/opt/postgresql@*/bin (Homebrew), newest version first. Nothing is installed
# unless asked: with ORDERFLOW_INSTALL_POSTGRES=1 (CI sets it) and none found, it installs
# Debian's `postgresql` package with apt-get when running as root. Otherwise it says what is
# missing and how to get it, and exits 1.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

if [[ -n "${DATABASE_URL:-}" ]]; then
    exec "$@"
fi

log() { echo "with-postgres: $*" >&2; }

MIN_MAJOR=13

# The major version of the server binaries in directory $1 (empty when there are none).
major_in() {
    local dir="$1" version
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/createdb" ]] || return 0
    version="$("$dir/initdb" --version 2>/dev/null | sed -n 's/^initdb (PostgreSQL) \([0-9][0-9]*\).*/\1/p')"
    echo "$version"
}

# Every directory worth trying, in order of preference.
candidates() {
    [[ -n "${PG_BIN:-}" ]] && echo "$PG_BIN"
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
    command -v pg_config >/dev/null 2>&1 && pg_config --bindir 2>/dev/null
    local glob
    for glob in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin \
        /usr/local/opt/postgresql@*/bin; do
        # Newest first: sort by the version number in the path.
        compgen -G "$glob" >/dev/null && printf '%s\n' $glob | sort -t/ -k4 -V -r
    done
    return 0
}

find_pg_bin() {
    local dir major
    while read -r dir; do
        [[ -n "$dir" ]] || continue
        major="$(major_in "$dir")"
        if [[ -n "$major" && "$major" -ge $MIN_MAJOR ]]; then
            echo "$dir"
            return 0
        elif [[ -n "$major" ]]; then
            log "skipping PostgreSQL $major in $dir (needs $MIN_MAJOR or newer)"
        fi
    done < <(candidates)
    return 1
}

if ! PG_BIN="$(find_pg_bin)"; then
    if [[ "${ORDERFLOW_INSTALL_POSTGRES:-0}" == "1" && "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
        log "no PostgreSQL $MIN_MAJOR+ found; installing Debian's postgresql (ORDERFLOW_INSTALL_POSTGRES=1)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
        PG_BIN="$(find_pg_bin)" || true
    fi
    if [[ -z "${PG_BIN:-}" ]]; then
        log "no PostgreSQL server binaries (initdb, pg_ctl, createdb) of version $MIN_MAJOR or newer found"
        log "looked in: PG_BIN, PATH, pg_config --bindir, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew"
        log "to fix, one of:"
        log "  - install the server: apt-get install postgresql | dnf install postgresql-server |"
        log "    brew install postgresql@16 (or run with ORDERFLOW_INSTALL_POSTGRES=1 as root on Debian)"
        log "  - point PG_BIN at a directory holding initdb, pg_ctl and createdb"
        log "  - set DATABASE_URL to a database of a running server (it is used as is)"
        exit 1
    fi
fi
log "using PostgreSQL $(major_in "$PG_BIN") from $PG_BIN"

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

if [[ "${ORDERFLOW_PG_DURABLE:-0}" == "1" ]]; then
    # The server's defaults (fsync=on, synchronous_commit=on, full_page_writes=on).
    SERVER_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on -c track_wal_io_timing=on"
    log "durable server: fsync, synchronous_commit and full_page_writes at their defaults (on)"
else
    SERVER_OPTIONS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi

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
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR $SERVER_OPTIONS \
            -c max_connections=200" start >/dev/null; then
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
# Tests may reconfigure this server (the PostgreSQL TLS test turns TLS on): it is ours alone.
export ORDERFLOW_PG_THROWAWAY=1
export PG_BIN
[[ "${ORDERFLOW_PG_DURABLE:-0}" == "1" ]] && export ORDERFLOW_PG_DURABLE=1
log "PostgreSQL on 127.0.0.1:$PORT (DATABASE_URL exported)"

set +e
"$@"
status=$?
set -e
exit "$status"
