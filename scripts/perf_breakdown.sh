#!/usr/bin/env bash
# Where an engine lifecycle's time goes, natively: samples the engine bench's profiling mode
# (ORDERFLOW_PROFILE=N lifecycles in one shop, each sending an older order cold, as in the
# timed bench) with perf and DWARF call graphs, and splits the samples into parts with
# scripts/perf_parts.py. Give the bench's median (µs per lifecycle) to see the parts in µs.
#
#   bash scripts/perf_breakdown.sh [N] [µs per lifecycle]
#
# Needs `perf` (linux-perf) and python3; the profile stays in target/perf/engine.data.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-40000}"
out=target/perf
mkdir -p "$out"
engine=$(bash scripts/bench-bin.sh engine_lifecycle)
ORDERFLOW_PROFILE="$n" perf record -q -F 4000 --call-graph dwarf,16384 -o "$out/engine.data" "$engine"
perf script -i "$out/engine.data" 2>/dev/null | python3 scripts/perf_parts.py ${2:+"$2"}
