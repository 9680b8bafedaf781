#!/usr/bin/env bash
# Run every Go fuzz target for a while (default 10s each).
# Usage: scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
fail=0
while IFS=: read -r file name; do
	pkg=./$(dirname "$file")
	echo "== $pkg $name ($dur)"
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$dur" -fuzzminimizetime 2s "$pkg"; then
		fail=1
	fi
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/func //' | sed 's|^\./||')
exit $fail
