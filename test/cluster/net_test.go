package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// hosts is how many Janus host namespaces exist (the test starts 3, adds
// a 4th).
const hosts = 4

func netnsPrefix() string {
	if p := os.Getenv("SFU_CLUSTER_NETNS"); p != "" {
		return p
	}
	return "sfupl"
}

func subnet() string {
	if s := os.Getenv("SFU_CLUSTER_SUBNET"); s != "" {
		return s
	}
	return "198.18.10"
}

// clientNetns runs HAProxy, Redis and the clients; hostNetns(i) runs host i.
func clientNetns() string    { return netnsPrefix() + "0" }
func hostNetns(i int) string { return fmt.Sprintf("%s%d", netnsPrefix(), i) }

// bridgeIP is the client namespace's address; hostIP(i) host i's.
func bridgeIP() string    { return subnet() + ".1" }
func hostIP(i int) string { return fmt.Sprintf("%s.%d", subnet(), 10+i) }

// netUp creates the namespaces afresh: a bridge br0 in the client
// namespace and, per host, a veth pair d0 (in the host, the interface
// Janus's ICE is restricted to) ↔ hN (on the bridge).
func netUp() error {
	netDown()
	var cmds [][]string
	for i := 0; i <= hosts; i++ {
		ns := fmt.Sprintf("%s%d", netnsPrefix(), i)
		cmds = append(cmds, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	c := clientNetns()
	cmds = append(cmds,
		[]string{"-n", c, "link", "add", "br0", "type", "bridge"},
		[]string{"-n", c, "addr", "add", bridgeIP() + "/24", "dev", "br0"},
		[]string{"-n", c, "link", "set", "br0", "up"})
	for i := 1; i <= hosts; i++ {
		h, peer := hostNetns(i), fmt.Sprintf("h%d", i)
		cmds = append(cmds,
			[]string{"-n", h, "link", "add", "d0", "type", "veth", "peer", "name", peer, "netns", c},
			[]string{"-n", h, "addr", "add", hostIP(i) + "/24", "dev", "d0"},
			[]string{"-n", h, "link", "set", "d0", "up"},
			[]string{"-n", c, "link", "set", peer, "master", "br0"},
			[]string{"-n", c, "link", "set", peer, "up"})
	}
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// netDown removes the namespaces (their interfaces go with them).
func netDown() {
	for i := 0; i <= hosts; i++ {
		_ = exec.Command("ip", "netns", "del", fmt.Sprintf("%s%d", netnsPrefix(), i)).Run()
	}
}
