#!/usr/bin/env bash
# Builds one bench target (cargo bench's release profile, debug info for function names) and
# prints the path of its binary, for the profiling scripts beside this one.
#
#   bash scripts/bench-bin.sh engine_lifecycle
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_PROFILE_BENCH_DEBUG=true
cargo bench --all-features --bench "$1" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
