#!/usr/bin/env bash
# The whole test suite: unit, integration, example and bench targets (benches run once, as
# tests), then the documentation examples. This is the command the README gives.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-features --all-targets
cargo test --locked --all-features --doc
