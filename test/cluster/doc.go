// Package cluster tests rooms spread over several Janus hosts behind HAProxy
// with their room leases in Redis (docs/deploy.md, "Many hosts"), on one
// machine: every Janus host in its own network namespace, bridged to a
// namespace where HAProxy (deploy/haproxy.cfg), redis-server,
// cmd/sfu-exporter and the clients run. The clients are signalling users
// and, in each room of the first phase, two pion peers (test/peer) that
// publish Opus and H.264 and receive each other. It needs root, janus,
// haproxy and redis-server (scripts/install-deps.sh --cluster) and runs
// only with SFU_CLUSTER=1 (make cluster, part of make test; CLUSTER_MODE=
// for the full size, CLUSTER_SUBNET for the bridge's /24).
//
// Environment:
//
//	SFU_CLUSTER=1          run (otherwise every test skips)
//	SFU_CLUSTER_NETNS=pfx  namespace names pfx0 (clients, HAProxy, Redis)
//	                       and pfx1..pfx4 (Janus hosts); default sfupl
//	SFU_CLUSTER_SUBNET=a.b.c   the /24 of the bridge (default 198.18.10)
package cluster
