package load

import (
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// suite: TestLoad runs with SFU_LOAD set, in the namespace SFU_LOAD_NETNS
// (default sfutest), which TestMain re-enters.
var suite = janus.Suite{Name: "load", Gate: "SFU_LOAD", NetnsVar: "SFU_LOAD_NETNS", DefaultNetns: "sfutest"}

func TestMain(m *testing.M) { suite.Main(m) }
