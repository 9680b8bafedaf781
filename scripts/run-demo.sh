#!/usr/bin/env bash
# `make run`: Janus with the plugin and the networked-aframe demo, in the
# foreground; Ctrl-C stops both.
#
# Usage: scripts/run-demo.sh [--no-deps] [--no-build] [--web HOST:PORT]
#                            [--ws-port N] [--http-port N] [--public-ip IP]
#
#   --no-deps        do not run scripts/install-deps.sh --demo
#   --no-build       use the built plugin, demo/dist and run/sfu-demo as they are
#   --web HOST:PORT  where the demo is served (default 127.0.0.1:8080)
#   --ws-port N      Janus WebSocket port (default 8188, on 127.0.0.1 only)
#   --http-port N    Janus REST port (default 8088, on 127.0.0.1 only; used
#                    here to check that Janus loaded the plugin)
#   --public-ip IP   nat_1_1_mapping: the address Janus announces in its ICE
#                    candidates (a server behind 1:1 NAT; see docs/deploy.md)
#
# Everything lives in ./run (gitignored; SFU_RUN_DIR overrides): cfg/ (Janus
# config written by scripts/janus-config.sh, janus.plugin.sfu.cfg), plugins/,
# janus.log, sfu-demo.log and the demo server binary sfu-demo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${SFU_RUN_DIR:-$ROOT/run}
deps=1
build=1
web=127.0.0.1:8080
ws_port=8188
http_port=8088
public_ip=""

while [ "$#" -gt 0 ]; do
	case "$1" in
	--no-deps) deps=0; shift ;;
	--no-build) build=0; shift ;;
	--web) web=$2; shift 2 ;;
	--ws-port) ws_port=$2; shift 2 ;;
	--http-port) http_port=$2; shift 2 ;;
	--public-ip) public_ip=$2; shift 2 ;;
	-h | --help) sed -n '2,20p' "$0"; exit 0 ;;
	*) echo "run-demo.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'run-demo.sh: %s\n' "$*" >&2; exit 1; }

if [ "$deps" = 1 ]; then
	say "checking system packages (Janus, build tools, node)"
	"$ROOT/scripts/install-deps.sh" --demo
fi
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "Go 1.26+ is needed to build the plugin: https://go.dev/dl/ (docs/deploy.md section 1)"
command -v janus >/dev/null || die "janus not found: run scripts/install-deps.sh"
command -v node >/dev/null || die "node not found: run scripts/install-deps.sh --demo"

mkdir -p "$RUN"
if [ "$build" = 1 ]; then
	say "building the plugin"
	make -C "$ROOT" --no-print-directory build
	say "building the demo (npm ci + esbuild)"
	make -C "$ROOT" --no-print-directory demo
	go build -C "$ROOT" -o "$RUN/sfu-demo" ./cmd/sfu-demo
fi
[ -f "$ROOT/demo/dist/index.html" ] || die "demo/dist is missing: make demo"
[ -x "$RUN/sfu-demo" ] || die "$RUN/sfu-demo is missing: run without --no-build"

# Loopback is never an ICE candidate for Janus, so a browser on this
# machine reaches it through another local address. Without any, say how to
# add one.
if ! ip -4 -o addr show scope global 2>/dev/null | grep -q inet; then
	echo "run-demo.sh: WARNING: no IPv4 address besides 127.0.0.1; Janus has no ICE candidate, so media and data will not flow." >&2
	echo "  Add one (root), then restart: ip link add sfu0 type dummy && ip addr add 198.18.0.1/32 dev sfu0 && ip link set sfu0 up" >&2
fi

cfg_args=(--bind 127.0.0.1 --ws-port "$ws_port" --http-port "$http_port" --event-loops "$(nproc)")
janus_args=()
if [ -n "$public_ip" ]; then
	janus_args=(--nat-1-1="$public_ip")
fi

pids=()
stop_all() {
	trap - INT TERM EXIT
	local p
	for p in "${pids[@]}"; do
		kill -INT "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	echo
	say "stopped (logs: $RUN/janus.log, $RUN/sfu-demo.log)"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

say "starting Janus (ws 127.0.0.1:$ws_port, event_loops $(nproc))"
SFU_RUN_DIR="$RUN" "$ROOT/scripts/run-janus.sh" --no-deps --no-build "${cfg_args[@]}" -- "${janus_args[@]}" >"$RUN/janus.log" 2>&1 &
pids+=($!)
janus_pid=$!

for _ in $(seq 100); do
	if ! kill -0 "$janus_pid" 2>/dev/null; then
		tail -20 "$RUN/janus.log" >&2
		die "Janus exited during startup (run/janus.log)"
	fi
	if curl -fsS "http://127.0.0.1:$http_port/janus/info" 2>/dev/null | grep -q '"janus.plugin.sfu"'; then
		break
	fi
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$http_port/janus/info" 2>/dev/null | grep -q '"janus.plugin.sfu"' ||
	{ tail -20 "$RUN/janus.log" >&2; die "Janus did not load janus.plugin.sfu (run/janus.log)"; }

"$RUN/sfu-demo" -listen "$web" -root "$ROOT/demo/dist" -janus "http://127.0.0.1:$ws_port" >"$RUN/sfu-demo.log" 2>&1 &
pids+=($!)
sleep 0.3
kill -0 "${pids[-1]}" 2>/dev/null || { cat "$RUN/sfu-demo.log" >&2; die "the demo server did not start (is $web in use?)"; }

url="http://$web/?room=demo"
cat <<EOF

  Janus + janus.plugin.sfu are running, and the demo is served.

    Open  $url
    Then open the same link in a second tab or another browser window:
    two avatars meet, see and hear each other, and can chat.
    (?room=NAME picks another room; without a camera or microphone a
    test pattern and a chime stand in.)

  Logs: $RUN/janus.log, $RUN/sfu-demo.log.   Stop everything: Ctrl-C

EOF
# Exit (and stop the other) when either process ends.
wait -n "${pids[@]}" || true
echo "run-demo.sh: a process exited; stopping" >&2
exit 1
