#!/bin/bash
# Entry point of the janus-sfu docker image.
#
# Renders the Janus configuration from environment variables, writes
# janus.plugin.sfu.cfg, then replaces itself with Janus. Every start renders
# from the templates again, so a restarted container picks up changed
# variables. Extra arguments are passed on to janus.
set -euo pipefail

TEMPLATES=${TEMPLATES:-/usr/share/janus-sfu}
CONF_DIR=${CONF_DIR:-/etc/janus}

die() {
	echo "start.sh: $*" >&2
	exit 1
}

# require NAME REGEX: the variable NAME must match the extended regex.
require() {
	local name=$1 regex=$2
	local value=${!name}
	[[ $value =~ $regex ]] || die "invalid $name='$value' (expected $regex)"
}

# ---- Janus core ----------------------------------------------------------
DEBUG_LEVEL=${DEBUG_LEVEL:-4}
SESSION_TIMEOUT=${SESSION_TIMEOUT:-38}
MIN_NACK_QUEUE=${MIN_NACK_QUEUE:-200}
RTP_PORT_RANGE=${RTP_PORT_RANGE:-51610-65535}
PUBLIC_IP=${PUBLIC_IP:-}
NETWORK_INTERFACE=${NETWORK_INTERFACE:-}
EVENT_LOOPS=${EVENT_LOOPS:-}
ALLOW_LOOP_INDICATION=${ALLOW_LOOP_INDICATION:-true}
WS_PORT=${WS_PORT:-8188}
WS_IP=${WS_IP-127.0.0.1}

# ---- plugin --------------------------------------------------------------
AUTH_KEY=${AUTH_KEY:-}
MAX_ROOM_SIZE=${MAX_ROOM_SIZE:-30}
MAX_CCU=${MAX_CCU:-1000}
MESSAGE_THREADS=${MESSAGE_THREADS:-0}
VIDEO_CODECS=${VIDEO_CODECS:-h264}
H264_PROFILE=${H264_PROFILE:-42e01f}
KEYFRAME_THROTTLE_MS=${KEYFRAME_THROTTLE_MS:-500}

if [[ $EVENT_LOOPS == auto ]]; then
	EVENT_LOOPS=$(nproc)
fi

# The Go runtime inside the plugin: be explicit about how many threads may
# run Go code at once. nproc honours the container's CPU set.
GOMAXPROCS=${GOMAXPROCS:-$(nproc)}
export GOMAXPROCS

uint='^[0-9]+$'
require DEBUG_LEVEL '^[0-7]$'
require SESSION_TIMEOUT "$uint"
require MIN_NACK_QUEUE "$uint"
require RTP_PORT_RANGE '^[0-9]+-[0-9]+$'
require PUBLIC_IP '^[0-9A-Fa-f.:,]*$'
require NETWORK_INTERFACE '^[A-Za-z0-9_.,:-]*$'
require EVENT_LOOPS '^[0-9]*$'
require ALLOW_LOOP_INDICATION '^(true|false)$'
require WS_PORT "$uint"
require WS_IP '^[0-9A-Fa-f.:]*$'
require MAX_ROOM_SIZE "$uint"
require MAX_CCU "$uint"
require MESSAGE_THREADS "$uint"
require VIDEO_CODECS '^(h264|vp8|vp9|av1)(,(h264|vp8|vp9|av1))*$'
require H264_PROFILE '^[0-9A-Fa-f]{6}$'
require KEYFRAME_THROTTLE_MS "$uint"
require GOMAXPROCS '^[1-9][0-9]*$'

if [[ -n $AUTH_KEY ]]; then
	[[ $AUTH_KEY != *[\"$'\n']* ]] || die "AUTH_KEY must not contain quotes or newlines"
	[[ -r $AUTH_KEY ]] || die "AUTH_KEY=$AUTH_KEY is not a readable file (mount the DER public key there)"
fi

# render TEMPLATE OUTPUT: replace @NAME@ by $NAME and activate #@IF_NAME@
# lines whose variable is non-empty. All values were validated above, so
# none contains a sed metacharacter used here (| & \ newline).
render() {
	local src=$1 dst=$2 name value
	local expr=()
	for name in DEBUG_LEVEL SESSION_TIMEOUT MIN_NACK_QUEUE RTP_PORT_RANGE \
		PUBLIC_IP NETWORK_INTERFACE EVENT_LOOPS ALLOW_LOOP_INDICATION \
		WS_PORT WS_IP; do
		value=${!name}
		if [[ -n $value ]]; then
			expr+=(-e "s|#@IF_${name}@||g")
		fi
		expr+=(-e "s|@${name}@|${value}|g")
	done
	sed "${expr[@]}" "$src" >"$dst.tmp"
	mv "$dst.tmp" "$dst"
}

mkdir -p "$CONF_DIR"
render "$TEMPLATES/janus.jcfg" "$CONF_DIR/janus.jcfg"
render "$TEMPLATES/janus.transport.websockets.jcfg" "$CONF_DIR/janus.transport.websockets.jcfg"

{
	echo "# Written by start.sh from environment variables; edits are lost on restart."
	echo "[general]"
	if [[ -n $AUTH_KEY ]]; then
		echo "auth_key = \"$AUTH_KEY\""
	fi
	echo "max_room_size = $MAX_ROOM_SIZE"
	echo "max_ccu = $MAX_CCU"
	echo "message_threads = $MESSAGE_THREADS"
	echo "video_codecs = $VIDEO_CODECS"
	echo "h264_profile = $H264_PROFILE"
	echo "keyframe_throttle_ms = $KEYFRAME_THROTTLE_MS"
} >"$CONF_DIR/janus.plugin.sfu.cfg.tmp"
mv "$CONF_DIR/janus.plugin.sfu.cfg.tmp" "$CONF_DIR/janus.plugin.sfu.cfg"

echo "start.sh: public_ip=${PUBLIC_IP:-<none>} event_loops=${EVENT_LOOPS:-<off>}" \
	"GOMAXPROCS=$GOMAXPROCS ws=${WS_IP:-*}:$WS_PORT rtp=$RTP_PORT_RANGE" \
	"auth=$([[ -n $AUTH_KEY ]] && echo on || echo off)"

exec /usr/bin/janus -F "$CONF_DIR" -o "$@"
