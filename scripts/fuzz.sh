#!/usr/bin/env bash
# Run every Go fuzz target for a while (default 10s each).
# Usage: scripts/fuzz.sh [DURATION [DIR]]
#   DIR is the Go module whose *_test.go files are searched for targets
#   (default: this repository). scripts/fuzz_test.sh uses it.
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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail=0 passed=0 failed=0 flaked=0 targets=0
while IFS=: read -r file name; do
	targets=$((targets + 1))
	pkg=./$(dirname "$file")
	corpus="$(dirname "$file")/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	echo "== $pkg $name ($dur)"
	st=0
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$dur" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$log" || st=$?
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
