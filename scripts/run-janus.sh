#!/usr/bin/env bash
# Build the plugin and run it under Janus in the foreground.
#
# Usage: scripts/run-janus.sh [--no-build] [--no-deps] [--http-port N]
#                             [--ws-port N] [--admin] [-- JANUS_ARGS...]
#
#   --no-build      do not run `make` (use the existing ./libjanus_plugin_sfu.so)
#   --no-deps       do not run scripts/install-deps.sh
#   --http-port N   Janus HTTP API port (default 8088, path /janus)
#   --ws-port N     Janus WebSocket API port (default 8188)
#   --admin         enable the HTTP admin API on port 7088 (/admin)
#   --bind IP       HTTP and WebSocket transports listen on IP only
#   --event-loops N Janus event_loops
#   -- ARGS...      extra arguments passed verbatim to `janus`
#
# Environment:
#   SFU_RUN_DIR     working directory (default /tmp/janus-sfu-run); holds
#                   cfg/ (Janus config, incl. janus.plugin.sfu.cfg) and
#                   plugins/ (a copy of the built .so).
#   SFU_CONFIG      plugin config to use; default: existing
#                   $SFU_RUN_DIR/cfg/janus.plugin.sfu.cfg, else a copy of
#                   janus.plugin.sfu.cfg.example from the repository.
#
# Janus listens on all interfaces (no network namespace); stop it with Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${SFU_RUN_DIR:-/tmp/janus-sfu-run}
build=1
deps=1
cfg_args=()
janus_args=()

while [ "$#" -gt 0 ]; do
	case "$1" in
	--no-build) build=0; shift ;;
	--no-deps) deps=0; shift ;;
	--http-port | --ws-port | --bind | --event-loops) cfg_args+=("$1" "$2"); shift 2 ;;
	--admin) cfg_args+=(--admin); shift ;;
	--) shift; janus_args=("$@"); break ;;
	-h | --help) sed -n '2,26p' "$0"; exit 0 ;;
	*) echo "run-janus.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done

if [ "$deps" = 1 ]; then
	"$ROOT/scripts/install-deps.sh"
fi
if [ "$build" = 1 ]; then
	make -C "$ROOT"
fi

SO="$ROOT/libjanus_plugin_sfu.so"
if [ ! -f "$SO" ]; then
	echo "run-janus.sh: $SO not found (did make fail?)" >&2
	exit 1
fi

CFG="$RUN_DIR/cfg"
PLUG="$RUN_DIR/plugins"
mkdir -p "$CFG" "$PLUG"
"$ROOT/scripts/janus-config.sh" "$CFG" "$PLUG" "${cfg_args[@]}"

if [ -n "${SFU_CONFIG:-}" ]; then
	cp "$SFU_CONFIG" "$CFG/janus.plugin.sfu.cfg"
elif [ ! -f "$CFG/janus.plugin.sfu.cfg" ]; then
	example=""
	for c in "$ROOT/janus.plugin.sfu.cfg.example" "$ROOT/config/janus.plugin.sfu.cfg.example"; do
		if [ -f "$c" ]; then example=$c; break; fi
	done
	if [ -n "$example" ]; then
		cp "$example" "$CFG/janus.plugin.sfu.cfg"
	else
		echo "run-janus.sh: no janus.plugin.sfu.cfg.example found; plugin runs with defaults" >&2
	fi
fi

rm -f "$PLUG"/*.so
cp "$SO" "$PLUG/libjanus_plugin_sfu.so"

echo "run-janus.sh: starting janus (config $CFG, plugins $PLUG)"
exec janus -F "$CFG" -P "$PLUG" "${janus_args[@]}"
