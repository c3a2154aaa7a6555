#!/usr/bin/env bash
# Runs the JavaScript group mapper and the Rust one on every principal of
# examples/principals/ with every configuration of this directory
# (config*.json), and compares their `assign` answers: the decision (the
# assignment list) or the failure, and how the host judged it; the call's
# stats (time, fuel, memory, log) are ignored. Exits 1 on any difference.
#
#   plugins/js/group-mapper/test/compare.sh [provisio-binary]
#
# Defaults: the binary is $PROVISIO or target/debug/provisio; the components
# are $JS_WASM or target/plugins/group-mapper-js.wasm (scripts/build-js-plugins)
# and $RUST_WASM or target/plugins/group-mapper.wasm (scripts/build-plugins).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
provisio="${1:-${PROVISIO:-$root/target/debug/provisio}}"
js_wasm="${JS_WASM:-$root/target/plugins/group-mapper-js.wasm}"
rust_wasm="${RUST_WASM:-$root/target/plugins/group-mapper.wasm}"

die() {
    echo "compare: $*" >&2
    exit 2
}
[ -x "$provisio" ] || die "no provisio binary at $provisio (build the host, or pass its path)"
[ -f "$js_wasm" ] || die "no $js_wasm (run scripts/build-js-plugins)"
[ -f "$rust_wasm" ] || die "no $rust_wasm (run scripts/build-plugins)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The `assign` part of a `plugin test --json` report without its stats.
assign_of() {
    python3 -c '
import json, sys
report = json.load(sys.stdin)
assign = report.get("assign")
if assign is None:
    sys.exit("no assign hook in the report")
assign.pop("stats", None)
print(json.dumps(assign, sort_keys=True))
'
}

# Runs one component; prints its `assign` answer (exit status included).
run() {
    local wasm="$1" principal="$2" config="$3" status=0
    "$provisio" plugin test "$wasm" --principal "$principal" --config "$config" \
        --hook assign --json >"$tmp/out.json" 2>"$tmp/err.txt" || status=$?
    if ! assign_of <"$tmp/out.json" 2>>"$tmp/err.txt"; then
        echo "cannot read the report of $wasm (exit status $status): $(cat "$tmp/err.txt")" >&2
        return 1
    fi
    echo "exit $status"
}

differences=0
runs=0
for config in "$here"/config*.json; do
    for principal in "$root"/examples/principals/*.json; do
        label="$(basename "$principal") + $(basename "$config")"
        js="$(run "$js_wasm" "$principal" "$config")" || die "$label: the JS run failed"
        rust="$(run "$rust_wasm" "$principal" "$config")" || die "$label: the Rust run failed"
        runs=$((runs + 1))
        if [ "$js" == "$rust" ]; then
            printf 'same       %-55s %s\n' "$label" "$(head -c 150 <<<"$js" | head -1)"
        else
            differences=$((differences + 1))
            printf 'DIFFERENT  %s\n  js:   %s\n  rust: %s\n' "$label" "$js" "$rust"
        fi
    done
done

echo "compare: $runs runs, $differences different"
[ "$differences" -eq 0 ]
