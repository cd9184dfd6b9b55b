#!/usr/bin/env bash
# The whole test suite: unit, integration, example and bench targets (benches run once, as
# tests), then the documentation examples. This is the command the README gives.
#
# It runs inside scripts/with-postgres.sh: with DATABASE_URL set the PostgreSQL store tests use
# that server, otherwise a throwaway PostgreSQL server is started for the run and removed after.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-postgres.sh bash -c '
set -euo pipefail
# Every locked package, other platforms too: the docs test reads `cargo metadata --offline`.
cargo fetch --locked
cargo test --locked --all-features --all-targets
cargo test --locked --all-features --doc
'
