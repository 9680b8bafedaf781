#!/usr/bin/env bash
# SFU_JANUS_BIN for scripts/verify-docker-rootfs.sh: test/janus calls it as
# `janus -F CFG -P PLUGINS`. Instead of running the host's Janus with that
# config, it runs the docker image's entry point, start.sh, in the root
# filesystem $SFU_ROOTFS, with the environment variables that reproduce
# what the test asked for:
#
#   CFG/janus.transport.websockets.jcfg  ws_port           -> WS_PORT
#   CFG/janus.jcfg                       ice_enforce_list  -> NETWORK_INTERFACE
#                                        debug_level       -> DEBUG_LEVEL
#   CFG/janus.plugin.sfu.cfg             every key         -> MAX_ROOM_SIZE, ...
#
# The plugin is the one installed in the root filesystem (where the
# Dockerfile puts it), not the harness's copy in PLUGINS. The harness's
# janus.transport.http.jcfg (REST + admin API on 127.0.0.1, which the
# harness polls) is copied next to start.sh's rendered config; that
# transport is enabled only by the verification templates.
# The process keeps this script's PID down to Janus (unshare, sh, chroot,
# start.sh and janus all exec), so the harness's SIGINT reaches Janus.
set -euo pipefail

: "${SFU_ROOTFS:?set SFU_ROOTFS to the root filesystem built by scripts/verify-docker-rootfs.sh}"
cfg=""
extra=()
while [ "$#" -gt 0 ]; do
	case "$1" in
	-F) cfg=$2; shift 2 ;;
	-P) shift 2 ;;
	*) extra+=("$1"); shift ;;
	esac
done
[ -n "$cfg" ] || { echo "verify-janus.sh: no -F CONFIG_DIR" >&2; exit 2; }

# item FILE KEY: the value of `KEY = value` (quotes removed).
item() { sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$1" | head -1; }

envs=(PATH=/usr/sbin:/usr/bin:/sbin:/bin TEMPLATES=/usr/share/janus-sfu-verify)
envs+=("WS_PORT=$(item "$cfg/janus.transport.websockets.jcfg" ws_port)")
envs+=("DEBUG_LEVEL=$(item "$cfg/janus.jcfg" debug_level)")
iface=$(item "$cfg/janus.jcfg" ice_enforce_list)
[ -z "$iface" ] || envs+=("NETWORK_INTERFACE=$iface")
if [ -f "$cfg/janus.plugin.sfu.cfg" ]; then
	while IFS= read -r line; do
		line=${line%%#*}
		[[ $line =~ ^[[:space:]]*([a-z0-9_]+)[[:space:]]*=[[:space:]]*\"?([^\"]*)\"?[[:space:]]*$ ]] || continue
		key=${BASH_REMATCH[1]}
		case "$key" in
		max_room_size | max_ccu | message_threads | video_codecs | h264_profile | keyframe_throttle_ms | auth_key)
			envs+=("${key^^}=${BASH_REMATCH[2]}") ;;
		*) echo "verify-janus.sh: start.sh has no variable for $key" >&2; exit 2 ;;
		esac
	done <"$cfg/janus.plugin.sfu.cfg"
fi
install -m 0644 "$cfg/janus.transport.http.jcfg" "$SFU_ROOTFS/etc/janus/janus.transport.http.jcfg"

exec unshare -m --propagation private sh -c '
	root=$1; shift
	mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" || exit 1
	exec chroot "$root" /usr/bin/env -i "$@"' sh "$SFU_ROOTFS" "${envs[@]}" /usr/local/bin/start.sh "${extra[@]}"
