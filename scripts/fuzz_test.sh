#!/usr/bin/env bash
# Test of scripts/fuzz.sh: it must fail on a target that does not compile
# and on a failing seed, pass a good target, fail on a failure it does not
# know, and let only Go's fuzztime deadline flake through (a stub `go`
# replays that output, which real Go prints only by chance).
# Usage: scripts/fuzz_test.sh (make test runs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
errors=0

# module NAME BODY: a Go module with one package holding fuzz_test.go.
module() {
	mkdir -p "$work/$1/p"
	printf 'module fuzzcheck\n\ngo %s\n' "$(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')" >"$work/$1/go.mod"
	printf '%s\n' "$2" >"$work/$1/p/fuzz_test.go"
}

# expect WANT NAME [PATH]: run fuzz.sh on module NAME, want "pass" or "fail".
expect() {
	local want=$1 name=$2 got=pass out=$work/$2.out
	PATH=${3:-$PATH} "$here/fuzz.sh" 1s "$work/$name" >"$out" 2>&1 || got=fail
	if [ "$got" = "$want" ]; then
		echo "ok   $name: $want"
	else
		echo "FAIL $name: want $want, got $got"
		sed 's/^/     | /' "$out"
		errors=$((errors + 1))
	fi
}

module good 'package p

import "testing"

func FuzzGood(f *testing.F) {
	f.Add("seed")
	f.Fuzz(func(t *testing.T, s string) { _ = len(s) })
}'
module broken 'package p

import "testing"

func FuzzBroken(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) { undefined(s) })
}'
module badseed 'package p

import "testing"

func FuzzBadSeed(f *testing.F) {
	f.Add("boom")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "boom" {
			t.Fatal("seed fails")
		}
	})
}'
module empty 'package p'

# Stub go binaries replaying `go test -fuzz` output.
stub() {
	mkdir -p "$work/bin-$1"
	printf '#!/bin/sh\ncat <<"OUT"\n%s\nOUT\nexit 1\n' "$2" >"$work/bin-$1/go"
	chmod +x "$work/bin-$1/go"
}
stub deadline 'fuzz: elapsed: 1s, execs: 40304 (0/sec), new interesting: 4 (total: 8)
--- FAIL: FuzzGood (1.20s)
    context deadline exceeded
FAIL
exit status 1
FAIL	fuzzcheck/p	1.202s'
stub other 'fuzz: elapsed: 1s, execs: 40304 (0/sec), new interesting: 4 (total: 8)
--- FAIL: FuzzGood (1.20s)
    fuzzing process hung or terminated unexpectedly: exit status 2
FAIL
exit status 1
FAIL	fuzzcheck/p	1.202s'
stub deadline-and-more '--- FAIL: FuzzGood (1.20s)
    context deadline exceeded
    fuzz_test.go:9: something else
FAIL'

expect pass good
expect fail broken
expect fail badseed
expect fail empty
expect pass good "$work/bin-deadline:$PATH"
expect fail good "$work/bin-other:$PATH"
expect fail good "$work/bin-deadline-and-more:$PATH"
if [ "$errors" != 0 ]; then
	echo "fuzz_test.sh: $errors case(s) wrong"
	exit 1
fi
echo "fuzz_test.sh: all cases right"
