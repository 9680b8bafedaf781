#!/usr/bin/env bash
# Create or remove a network namespace for end-to-end tests.
#
# Usage: scripts/netns.sh up|down NAME
#
# Janus (libnice) skips loopback interfaces when gathering ICE candidates, so
# the end-to-end tests run Janus and the WebRTC test peers inside a namespace
# that has a dummy veth pair: d0 carries 198.18.0.1/32 and the default route,
# so host candidates on 198.18.0.1 can reach each other. Loopback (127.0.0.1)
# is up inside the namespace too, for the HTTP/WebSocket transports.
#
# Idempotent: "up" on an existing namespace and "down" on a missing one both
# succeed. Requires root (CAP_NET_ADMIN/CAP_SYS_ADMIN).
set -euo pipefail

if [ "$#" -ne 2 ]; then
	echo "usage: $0 up|down NAME" >&2
	exit 2
fi
action=$1
N=$2

exists() { ip netns list | awk '{print $1}' | grep -qx -- "$N"; }

case "$action" in
up)
	if exists; then
		echo "netns.sh: namespace $N already exists"
		exit 0
	fi
	ip netns add "$N"
	ip -n "$N" link set lo up
	ip -n "$N" link add d0 type veth peer name d0p
	ip -n "$N" addr add 198.18.0.1/32 dev d0
	ip -n "$N" link set d0 up
	ip -n "$N" link set d0p up
	ip -n "$N" route add default dev d0
	echo "netns.sh: namespace $N up (198.18.0.1 on d0)"
	;;
down)
	if ! exists; then
		echo "netns.sh: namespace $N does not exist"
		exit 0
	fi
	ip netns del "$N"
	echo "netns.sh: namespace $N removed"
	;;
*)
	echo "usage: $0 up|down NAME" >&2
	exit 2
	;;
esac
