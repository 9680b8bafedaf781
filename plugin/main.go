// Command plugin builds libjanus_plugin_sfu.so, the janus.plugin.sfu
// plugin: `go build -buildmode=c-shared`. It only wires the pieces together;
// the C ABI lives in cjanus and the SFU in sfu.
package main

import "C"

import (
	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus"
)

func init() {
	cjanus.SetStart(start)
}

func main() {}
