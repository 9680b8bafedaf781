#!/usr/bin/env bash
# Install the system packages needed to build the plugin and run it under Janus.
#
# Usage: scripts/install-deps.sh [--browser] [--bench] [--cluster] [--demo]
#   --browser   also install chromium + chromium-driver (and nodejs/npm when
#               `node` is not on PATH) for browser-based tests.
#   --bench     also install valgrind, with which `make bench` counts the
#               allocations and instructions of the per-packet path.
#   --cluster   also install haproxy and redis-server for the many-hosts
#               test (make cluster) and the placement unit tests.
#   --demo      also install nodejs/npm (when `node` is not on PATH) and curl,
#               for `make run` (the networked-aframe demo).
#
# Idempotent: only missing packages are installed, and `apt-get update` runs
# only when something is missing. Must run as root (or via sudo) if anything
# needs installing.
set -euo pipefail

browser=0
bench=0
cluster=0
demo=0
for arg in "$@"; do
	case "$arg" in
	--browser) browser=1 ;;
	--bench) bench=1 ;;
	--cluster) cluster=1 ;;
	--demo) demo=1 ;;
	-h | --help)
		sed -n '2,16p' "$0"
		exit 0
		;;
	*)
		echo "install-deps.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

pkgs=(janus janus-dev libjansson-dev libglib2.0-dev pkg-config gcc make iproute2 ca-certificates)
if [ "$browser" = 1 ]; then
	pkgs+=(chromium chromium-driver)
	if ! command -v node >/dev/null 2>&1; then
		pkgs+=(nodejs npm)
	fi
fi
if [ "$demo" = 1 ]; then
	pkgs+=(curl)
	if ! command -v node >/dev/null 2>&1; then
		pkgs+=(nodejs npm)
	fi
fi
if [ "$bench" = 1 ]; then
	pkgs+=(valgrind)
fi
if [ "$cluster" = 1 ]; then
	pkgs+=(haproxy redis-server)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg -s "$p" >/dev/null 2>&1; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps.sh: all dependencies present"
	exit 0
fi

echo "install-deps.sh: installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
