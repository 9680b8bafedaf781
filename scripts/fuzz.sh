#!/usr/bin/env bash
# Run every Go fuzz target for a while (default 10s each).
# Usage: scripts/fuzz.sh [DURATION [DIR]]
#   DURATION is anything -fuzztime takes: 10s, or 10000000x executions.
#   DIR is the Go module whose *_test.go files are searched for targets
#   (default: this repository). scripts/fuzz_test.sh uses it.
# Environment:
#   FUZZ_ONLY=regexp     only the targets whose name matches
#   FUZZ_MINIMIZE=2s     -fuzzminimizetime. Long runs use a count (50x): a
#                        time limit lets each new interesting input stall
#                        the run while it is minimised, which early in a
#                        run is most of its time (docs/testing.md).
#   FUZZ_PARALLEL=N      -parallel (default: GOMAXPROCS)
#   FUZZ_LOG=file        append each target's last progress line and result
#
# A target passes when `go test -fuzz` exits 0, and fails on anything else
# (a build error, a failing seed, a new failing input), with one exception:
# Go up to 1.26 can end a run that found nothing with exit status 1 and the
# single reason "context deadline exceeded" under the target's "--- FAIL"
# line, when -fuzztime runs out while a worker is in the middle of an input
# (golang/go#75804: the coordinator's stop() compares the error with the
# child context's, which may not be cancelled yet; fixed in Go 1.27). That
# exact output, with no new file in testdata/fuzz/<target>/, is reported as
# a flake and does not fail the script. No targets at all is a failure.
set -euo pipefail
dur=${1:-10s}
cd "${2:-$(dirname "$0")/..}"

# deadline_flake LOG NAME: the run's only failure is NAME's, and its only
# reason is Go's fuzztime deadline message.
deadline_flake() {
	[ "$(grep -c '^--- FAIL: ' "$1")" = 1 ] || return 1
	local reasons
	reasons=$(awk -v hdr="--- FAIL: $2 (" '
		index($0, hdr) == 1 { inblock = 1; next }
		inblock && /^    / { print; next }
		inblock { exit }' "$1")
	[ "$reasons" = "    context deadline exceeded" ]
}

minimize=${FUZZ_MINIMIZE:-2s}
parallel=()
[ -z "${FUZZ_PARALLEL:-}" ] || parallel=(-parallel "$FUZZ_PARALLEL")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail=0 passed=0 failed=0 flaked=0 targets=0
while IFS=: read -r file name; do
	if [ -n "${FUZZ_ONLY:-}" ] && ! [[ $name =~ $FUZZ_ONLY ]]; then
		continue
	fi
	targets=$((targets + 1))
	pkg=./$(dirname "$file")
	corpus="$(dirname "$file")/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	echo "== $pkg $name ($dur)"
	st=0
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$dur" -fuzzminimizetime "$minimize" "${parallel[@]}" "$pkg" 2>&1 | tee "$log" || st=$?
	if [ -n "${FUZZ_LOG:-}" ]; then
		echo "$(date -u +%FT%TZ) $name exit=$st $(($(date +%s) - start))s $(grep '^fuzz: elapsed' "$log" | tail -1)" >>"$FUZZ_LOG"
	fi
	if [ "$st" = 0 ]; then
		passed=$((passed + 1))
		continue
	fi
	after=$(ls "$corpus" 2>/dev/null | sort || true)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
	if [ -z "$new" ] && deadline_flake "$log" "$name"; then
		echo "fuzz.sh: $name: Go's fuzztime deadline race (golang/go#75804), nothing found; not counted"
		flaked=$((flaked + 1))
		continue
	fi
	if [ -n "$new" ]; then
		echo "fuzz.sh: $name wrote a failing input: $corpus/$new"
	else
		echo "fuzz.sh: $name failed (exit $st)"
	fi
	failed=$((failed + 1))
	fail=1
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //' | sed 's|^\./||')
echo "fuzz: $targets targets: $passed passed, $failed failed, $flaked flaked"
if [ "$targets" = 0 ]; then
	echo "fuzz.sh: no fuzz targets found in $(pwd)"
	exit 1
fi
exit $fail
