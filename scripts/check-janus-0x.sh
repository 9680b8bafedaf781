#!/usr/bin/env bash
# Build Janus 0.x from a source tree and run the end-to-end suite against it.
#
# Usage: scripts/check-janus-0x.sh SRC_DIR [PREFIX]
#   SRC_DIR  a Janus 0.x source tree, e.g. `git archive v0.14.4` of
#            meetecho/janus-gateway unpacked in /tmp (never in this repo)
#   PREFIX   install prefix (default /opt/janus-<version in configure.ac>)
#
# Environment:
#   NETNS=sfutest   network namespace of the e2e run (scripts/netns.sh)
#   SKIP_DEPS=1     do not apt-get Debian's build dependencies
#   SKIP_BUILD=1    Janus is already installed in PREFIX: only run the tests
#   E2E_RUN=regexp  go test -run filter (default: the whole suite)
#
# Debian 12 packages every dependency Janus 0.x needs (libnice 0.1.21,
# libsrtp2 2.5, libwebsockets 4.1, usrsctp 0.9.5): nothing is built from
# source but Janus. Only the HTTP and WebSocket transports are built, with
# data channels and no stock plugin, handler or logger. Requires root (the
# install under /opt and the namespace).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d' >&2
	exit 2
fi
src=$(cd "$1" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^AC_INIT(\[Janus WebRTC Server\],\[\([0-9.]*\)\].*/\1/p' "$src/configure.ac")
case "$version" in
0.*) ;;
*) echo "check-janus-0x.sh: $src is not a Janus 0.x tree (configure.ac says '${version:-nothing}')" >&2; exit 2 ;;
esac
prefix=${2:-/opt/janus-$version}
netns=${NETNS:-sfutest}

if [ -z "${SKIP_DEPS:-}" ] && [ -z "${SKIP_BUILD:-}" ]; then
	deps=(build-essential pkg-config libtool automake autoconf gengetopt
		libmicrohttpd-dev libjansson-dev libssl-dev libsrtp2-dev libglib2.0-dev
		libopus-dev libogg-dev libcurl4-openssl-dev libconfig-dev libnice-dev
		libwebsockets-dev libusrsctp-dev zlib1g-dev)
	missing=()
	for p in "${deps[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "check-janus-0x.sh: installing ${missing[*]}"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

if [ -z "${SKIP_BUILD:-}" ]; then
	echo "== building Janus $version from $src into $prefix"
	cd "$src"
	sh autogen.sh
	# Not --disable-all-js-modules: in 0.x its "action if given" turns every
	# JavaScript module on, and the build then runs npm.
	./configure --prefix="$prefix" --enable-data-channels --enable-rest --enable-websockets \
		--disable-rabbitmq --disable-mqtt --disable-nanomsg --disable-unix-sockets \
		--disable-all-plugins --disable-all-handlers --disable-all-loggers \
		--disable-post-processing --disable-turn-rest-api --disable-docs | tee config.summary
	for want in "DataChannels support: *yes" "REST (HTTP/HTTPS): *yes" "WebSockets: *yes"; do
		grep -q "$want" config.summary || { echo "check-janus-0x.sh: configure summary lacks '$want'" >&2; exit 1; }
	done
	make -j"$(nproc)"
	make install
fi

janus=$prefix/bin/janus
transports=$prefix/lib/janus/transports
# The plugin's ABI detection looks these up with dlsym.
syms=$(nm -D "$janus")
for sym in janus_version janus_vprintf janus_log_level janus_log_timestamps; do
	grep -qw "$sym" <<<"$syms" || { echo "check-janus-0x.sh: $janus does not export $sym" >&2; exit 1; }
done
"$janus" --version 2>&1 | head -n 3 || true

cd "$repo"
make build
./scripts/netns.sh up "$netns"
echo "== e2e suite against Janus $version ($janus)"
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
status=0
SFU_E2E=1 SFU_E2E_NETNS=$netns SFU_E2E_LOGDIR=$logdir SFU_JANUS_BIN=$janus SFU_JANUS_TRANSPORTS=$transports \
	go test -count=1 -v -timeout 20m -run "${E2E_RUN:-.}" ./test/e2e/ >"$logdir/go-test.out" 2>&1 || status=$?
grep -E '^(--- |PASS|FAIL|ok)' "$logdir/go-test.out" || true
grep -ho 'Janus [0-9]* detected: using the [^ ]* plugin ABI (API [0-9]*)' "$logdir"/*.janus.log 2>/dev/null | sort -u || true
if [ "$status" = 0 ]; then
	echo "check-janus-0x.sh: Janus $version passes the e2e suite"
else
	grep -v '^=== ' "$logdir/go-test.out" | tail -n 60
	echo "check-janus-0x.sh: Janus $version FAILS the e2e suite (exit $status)"
fi
exit "$status"
