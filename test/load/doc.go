// Package load is a load test of janus.plugin.sfu inside a real Janus
// (Debian's 1.1.2) in a network namespace: R rooms × U pion users that
// publish Opus and H.264 and subscribe to every other user of their room,
// as naf-janus-adapter does, plus a signalling-only phase with many users.
// The test (TestLoad) skips unless SFU_LOAD=1; `make load` runs it. See
// load_test.go for the environment variables and BENCHMARKS.md for results.
package load
