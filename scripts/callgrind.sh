#!/usr/bin/env bash
# Instructions per lifecycle, counted by callgrind: repeatable on a loaded machine, unlike
# wall or CPU time. Runs the bench binaries in their profiling mode (ORDERFLOW_PROFILE) twice,
# with N = 0 and N = $1 (default 200) lifecycles, and divides the difference by N, so setup
# and process start-up cancel out. Keeps the N run's profile in target/callgrind/ for
# `callgrind_annotate --inclusive=yes target/callgrind/<name>.out`.
#
#   bash scripts/callgrind.sh [N]
#
# Note: valgrind hides SHA-NI, so the fakes' HMAC-SHA256 runs in software here and costs
# more instructions than it does natively.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
out=target/callgrind
mkdir -p "$out"
bin() { bash scripts/bench-bin.sh "$1"; }
count() { # bin spec file
    ORDERFLOW_PROFILE="$2" valgrind --tool=callgrind --callgrind-out-file="$3" "$1" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per() { # bin name what
    local zero full
    zero=$(count "$1" "$3${3:+:}0" /dev/null)
    full=$(count "$1" "$3${3:+:}$n" "$out/$2.out")
    echo "$2: $(((full - zero) / n)) instructions per lifecycle (N = $n)"
}
core=$(bin core_lifecycle)
engine=$(bin engine_lifecycle)
per "$core" core core
per "$core" baseline baseline
per "$core" place place
per "$engine" engine ""
