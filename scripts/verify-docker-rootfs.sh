#!/usr/bin/env bash
# Verify the docker image's runtime stage without Docker: build the same root
# filesystem from Debian packages (mmdebstrap, debian:bookworm-slim's
# suites), install the plugin and start.sh as docker/Dockerfile does, run
# start.sh in it (chroot in a private mount namespace, inside a
# scripts/netns.sh namespace), and pass end-to-end tests against that Janus.
#
# Usage: scripts/verify-docker-rootfs.sh [--rootfs DIR] [--keep] [--tests REGEX]
#
#   --rootfs DIR   where to build the root filesystem (default
#                  /var/tmp/janus-sfu-rootfs); reused when it already holds
#                  the janus package (delete it to rebuild from scratch)
#   --keep         keep DIR afterwards (default: keep; --clean removes it)
#   --clean        remove DIR at the end
#   --tests REGEX  e2e tests to run (default ^(TestSignalling|TestMedia)$)
#
# Environment: NETNS (default sfudocker), MIRROR (default
# http://deb.debian.org/debian), SECURITY_MIRROR (default
# http://deb.debian.org/debian-security).
#
# Needs root, mmdebstrap (apt-get install mmdebstrap), Go, and network
# access to the Debian mirror. About 2 minutes for the root filesystem
# (~300 MB, ~110 MB downloaded), then ~1 minute of tests.
#
# How the tests reach the chroot: test/janus starts "Janus" through
# SFU_JANUS_BIN, here docker/verify-janus.sh, which ignores the harness's
# config folder except for the ports and room limits it chose, and execs
# start.sh in the root filesystem with the matching environment variables
# (WS_PORT, MAX_ROOM_SIZE, MAX_CCU, NETWORK_INTERFACE=d0). The one
# difference from the image: the harness waits for Janus on the REST
# transport's /janus/info, so the templates used here enable libjanus_http
# on 127.0.0.1 next to the WebSocket transport the image serves.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOTFS=/var/tmp/janus-sfu-rootfs
clean=0
tests='^(TestSignalling|TestMedia)$'
NETNS=${NETNS:-sfudocker}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

while [ "$#" -gt 0 ]; do
	case "$1" in
	--rootfs) ROOTFS=$2; shift 2 ;;
	--keep) clean=0; shift ;;
	--clean) clean=1; shift ;;
	--tests) tests=$2; shift 2 ;;
	-h | --help) sed -n '2,33p' "$0"; exit 0 ;;
	*) echo "verify-docker-rootfs.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
say() { printf '\n==> %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "verify-docker-rootfs.sh: needs root (chroot, mount, netns)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "verify-docker-rootfs.sh: apt-get install mmdebstrap" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin

# 1. FROM debian:bookworm-slim + the runtime stage's RUN line.
if [ -x "$ROOTFS/usr/bin/janus" ]; then
	say "reusing $ROOTFS ($(chroot "$ROOTFS" janus --version 2>/dev/null | head -1))"
else
	say "building $ROOTFS with mmdebstrap (bookworm, minbase)"
	rm -rf "$ROOTFS"
	mmdebstrap --variant=minbase --mode=root \
		--customize-hook='chroot "$1" sh -c "apt-get update && apt-get install -y --no-install-recommends janus ca-certificates && rm -rf /var/lib/apt/lists/*"' \
		bookworm "$ROOTFS" \
		"deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main"
fi

# 2. The build stage's output and the COPY/RUN lines of the runtime stage.
say "building the plugin and installing it as docker/Dockerfile does"
make -C "$ROOT" --no-print-directory build
install -D -m 0644 "$ROOT/libjanus_plugin_sfu.so" "$ROOTFS/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_plugin_sfu.so"
install -d "$ROOTFS/usr/share/janus-sfu"
install -m 0644 "$ROOT/docker/janus.jcfg" "$ROOT/docker/janus.transport.websockets.jcfg" "$ROOTFS/usr/share/janus-sfu/"
install -m 0755 "$ROOT/docker/start.sh" "$ROOTFS/usr/local/bin/start.sh"
chroot "$ROOTFS" ldd /usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_plugin_sfu.so | grep -q 'not found' &&
	{ echo "verify-docker-rootfs.sh: the plugin misses libraries in the image:" >&2; chroot "$ROOTFS" ldd /usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_plugin_sfu.so >&2; exit 1; }

# Test-only templates: the image's, with the REST transport allowed (see above).
install -d "$ROOTFS/usr/share/janus-sfu-verify"
sed 's/disable = "libjanus_http.so,/disable = "/' "$ROOT/docker/janus.jcfg" >"$ROOTFS/usr/share/janus-sfu-verify/janus.jcfg"
cp "$ROOT/docker/janus.transport.websockets.jcfg" "$ROOTFS/usr/share/janus-sfu-verify/"
grep -q 'disable = "libjanus_pfunix' "$ROOTFS/usr/share/janus-sfu-verify/janus.jcfg"

"$ROOT/scripts/netns.sh" up "$NETNS" >/dev/null

# 3. The image exactly as built: start.sh with its defaults and the image's
#    templates must bring Janus up with the plugin and the WebSocket on 8188.
say "start.sh with the image's own templates"
log=$(mktemp)
ip netns exec "$NETNS" unshare -m --propagation private sh -c '
	mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
	exec chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NETWORK_INTERFACE=d0 /usr/local/bin/start.sh' sh "$ROOTFS" >"$log" 2>&1 &
pid=$!
up=0
for _ in $(seq 100); do
	if grep -qi 'websockets server started (port 8188)' "$log" && ip netns exec "$NETNS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8188' 2>/dev/null; then
		up=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
kill -INT "$pid" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
ok=1
grep -q '\[janus.plugin.sfu\] ready' "$log" || ok=0
grep -qE 'SIGSEGV|panic:|fatal error:' "$log" && ok=0
if [ "$up" = 1 ] && [ "$ok" = 1 ]; then
	grep -E 'start.sh:|janus.plugin.sfu\] (Janus|config|ready)|Websockets server started' "$log" | sed 's/^/    /'
	echo "    ok: Janus $(chroot "$ROOTFS" janus --version 2>/dev/null | head -1 | awk '{print $NF}') from the root filesystem loaded the plugin; ws :8188 accepts connections"
else
	echo "verify-docker-rootfs.sh: FAILED: start.sh did not bring up Janus with the plugin" >&2
	tail -40 "$log" >&2
	exit 1
fi
rm -f "$log"

# 4. The e2e tests against Janus started by start.sh in the chroot.
say "e2e tests ($tests) against start.sh in the chroot"
logs=$(mktemp -d)
set +e
SFU_E2E=1 SFU_E2E_NETNS="$NETNS" SFU_E2E_LOGDIR="$logs" SFU_JANUS_BIN="$ROOT/docker/verify-janus.sh" SFU_ROOTFS="$ROOTFS" \
	go -C "$ROOT" test -count=1 -v -timeout 10m -run "$tests" ./test/e2e/ 2>&1 |
	grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|start.sh:|janus: pid|_test.go:'
status=${PIPESTATUS[0]}
set -e
# Evidence that each test's Janus was start.sh's, from the root filesystem.
for f in "$logs"/*.janus.log; do
	[ -e "$f" ] || continue
	if grep -q '^start.sh: ' "$f" && grep -q 'Plugins folder: /usr/lib/x86_64-linux-gnu/janus/plugins$' "$f"; then
		echo "    $(basename "$f" .janus.log): $(grep -m1 '^start.sh: ' "$f")"
	else
		echo "verify-docker-rootfs.sh: $(basename "$f"): Janus was not started by start.sh in the root filesystem" >&2
		status=1
	fi
done
rm -rf "$logs"

if [ "$clean" = 1 ]; then rm -rf "$ROOTFS"; fi
if [ "$status" = 0 ]; then
	say "PASS: the docker runtime stage (rootfs $ROOTFS) passes $tests"
else
	say "FAIL (go test exit $status)"
fi
exit "$status"
