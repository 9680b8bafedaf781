#!/usr/bin/env bash
# Run every Go fuzz target for a while (default 10s each).
# Usage: scripts/fuzz.sh [DURATION]
#
# A target fails only when it wrote a new failing input to
# testdata/fuzz/<target>/. `go test -fuzz` also exits non-zero, printing
# nothing but FAIL, when -fuzztime runs out while a worker is in the middle
# of an input (a known flake of Go's fuzzing engine); such runs are reported
# as flakes and do not fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
fail=0 passed=0 failed=0 flaked=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	corpus="$(dirname "$file")/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort || true)
	echo "== $pkg $name ($dur)"
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$dur" -fuzzminimizetime 2s "$pkg"; then
		passed=$((passed + 1))
		continue
	fi
	after=$(ls "$corpus" 2>/dev/null | sort || true)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
	if [ -n "$new" ]; then
		echo "fuzz.sh: $name wrote a failing input: $corpus/$new"
		failed=$((failed + 1))
		fail=1
	else
		echo "fuzz.sh: $name exited non-zero without a failing input (fuzztime flake); not counted"
		flaked=$((flaked + 1))
	fi
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //' | sed 's|^\./||')
echo "fuzz: $passed passed, $failed failed, $flaked flaked"
exit $fail
