package cjanus

import (
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
)

// The sfu offers multistream subscriptions only on the 1.x ABI.
func TestMultistreamFollowsABI(t *testing.T) {
	for _, abi := range []int{0, 1} {
		ctest.Install(abi)
		if got := newGateway().Multistream(); got != (abi == 1) {
			t.Errorf("abi %d: Multistream() = %v", abi, got)
		}
	}
}
