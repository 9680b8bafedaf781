package load

import (
	"fmt"
	"os"
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// TestMain re-executes the test binary inside the network namespace (when
// SFU_LOAD is set) so that the pion peers and Janus share it: Janus skips
// loopback for ICE.
func TestMain(m *testing.M) {
	if os.Getenv(envLoad) != "" {
		if err := janus.ReexecInNetns(netnsName()); err != nil {
			fmt.Fprintf(os.Stderr, "load: cannot enter network namespace %s: %v (scripts/netns.sh up %s)\n", netnsName(), err, netnsName())
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

func netnsName() string {
	if ns := os.Getenv("SFU_LOAD_NETNS"); ns != "" {
		return ns
	}
	return "sfutest"
}
