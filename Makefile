# janus.plugin.sfu in Go. `make` builds the plugin, `make test` runs every
# test (unit, ABI harness, end-to-end through real Janus).
SHELL := /bin/bash
GO ?= go
LIB := libjanus_plugin_sfu.so
BUILD := build

# Debian/Ubuntu's janus package, then a source build under /usr or /opt/janus.
PLUGINDIR ?= $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/janus/plugins /usr/lib/aarch64-linux-gnu/janus/plugins /usr/lib/janus/plugins /opt/janus/lib/janus/plugins) /usr/lib/janus/plugins)
CONFDIR ?= $(firstword $(wildcard /etc/janus /opt/janus/etc/janus) /etc/janus)

# The plugin's version_string (Janus's /info, the admin API, the start log):
# git describe, or "dev" outside a git checkout.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# -z nodelete: Janus dlcloses a plugin whose init fails, and a Go runtime
# cannot be unloaded.
GOBUILD_LDFLAGS := -ldflags='-extldflags=-Wl,-z,nodelete -X github.com/janus-sfu-go/janus-plugin-sfu/cjanus.Version=$(VERSION)'

.PHONY: all build install test unit abi e2e asan media browser adapter adapter-browser fuzz fuzzcheck bench load soak vet clean exporter cluster run demo demo-test

all: build

build: $(LIB)

$(LIB): $(shell find cjanus plugin sfu config auth sdp placement -name '*.go' -o -name '*.c' -o -name '*.h' 2>/dev/null) go.mod go.sum
	$(GO) build -buildmode=c-shared $(GOBUILD_LDFLAGS) -o $(LIB) ./plugin
	rm -f libjanus_plugin_sfu.h

# The Prometheus exporter for the admin API's stats (docs/admin.md).
exporter:
	$(GO) build -ldflags='-X main.version=$(VERSION)' -o $(BUILD)/sfu-exporter ./cmd/sfu-exporter

install: $(LIB)
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 0755 $(LIB) $(DESTDIR)$(PLUGINDIR)/$(LIB)
	@if [ -e $(DESTDIR)$(CONFDIR)/janus.plugin.sfu.cfg ]; then \
		echo "keeping existing $(CONFDIR)/janus.plugin.sfu.cfg"; \
	else \
		install -d $(DESTDIR)$(CONFDIR) && install -m 0644 janus.plugin.sfu.cfg.example $(DESTDIR)$(CONFDIR)/janus.plugin.sfu.cfg; \
	fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

unit:
	$(GO) test -race -count=1 ./sfu/... ./config/... ./auth/... ./sdp/... ./cjanus/... ./test/janus/... ./test/peer/... ./cmd/... ./placement/...

abi: $(LIB)
	$(MAKE) -C test/abi run LIB=$(CURDIR)/$(LIB)

# Janus skips loopback for ICE, so Janus and the WebRTC peers share a
# network namespace (root needed).
NETNS ?= sfutest
e2e: $(LIB)
	./scripts/netns.sh up $(NETNS)
	SFU_E2E=1 SFU_E2E_NETNS=$(NETNS) $(GO) test -count=1 -timeout 20m ./test/e2e/...

# The e2e suite with the plugin built under AddressSanitizer inside real
# Janus with the ASan runtime preloaded (scripts/asan-e2e.sh; not part of
# `make test`). Fails on a failed test or any ASan report.
asan:
	./scripts/asan-e2e.sh $(NETNS)

# Two headless Chromium pages with naf-janus-adapter (npm) through Janus.
browser: $(LIB)
	./scripts/netns.sh up $(NETNS)
	cd test/browser && npm ci --no-audit --no-fund --loglevel=error
	ip netns exec $(NETNS) node test/browser/run.mjs

# Our networked-aframe adapter (adapter/): install, build dist/, node tests.
adapter:
	cd adapter && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && node --test --test-timeout=30000 test/

# Headless Chromium pages with our adapter (+ one naf-janus-adapter page)
# through Janus; the multistream scenario skips on servers without it.
adapter-browser: $(LIB)
	./scripts/netns.sh up $(NETNS)
	cd test/adapter && npm ci --no-audit --no-fund --loglevel=error
	ip netns exec $(NETNS) env SFU_NETNS=$(NETNS) node test/adapter/run.mjs

# `make run`: installs what is missing, builds, starts Janus with the plugin
# and serves the networked-aframe demo on http://127.0.0.1:8080 (Ctrl-C stops).
run:
	./scripts/run-demo.sh

# The demo bundle (demo/dist): npm ci when the lock file changed, then esbuild.
demo: demo/node_modules/.ci-stamp
	cd demo && node build.mjs
demo/node_modules/.ci-stamp: demo/package.json demo/package-lock.json
	cd demo && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo in two headless Chromium pages through `make run`'s script.
demo-test: $(LIB) demo
	./scripts/netns.sh up $(NETNS)
	cd test/demo && npm ci --no-audit --no-fund --loglevel=error
	ip netns exec $(NETNS) node test/demo/run.mjs

# Load test: R rooms × U pion users (Opus + H.264, everyone subscribes to
# everyone) through real Janus, a ladder of sizes (~10 min), then 500
# signalling-only users; see test/load/load_test.go for SFU_LOAD_* knobs
# (e.g. SFU_LOAD_BASELINE=videoroom). Reports go to test/load/out/.
load: $(LIB)
	./scripts/netns.sh up $(NETNS)
	SFU_LOAD=1 SFU_LOAD_NETNS=$(NETNS) $(GO) test -count=1 -run TestLoad -v -timeout 30m ./test/load/

# Churn soak through real Janus, short mode (300 cycles over 10 clients),
# and SIGINT with 50 live media users. Full mode (docs/testing.md):
# make soak SFU_SOAK_CYCLES=10000 SFU_SOAK_CLIENTS=20 SFU_SOAK_BUDGET=60m
soak: $(LIB)
	./scripts/netns.sh up $(NETNS)
	SFU_SOAK=1 SFU_SOAK_NETNS=$(NETNS) $(GO) test -count=1 -v -timeout 60m ./test/soak/


# Rooms over several Janus hosts (test/cluster): 3 then 4 Janus, each in
# its own namespace ($(CLUSTER_NETNS)1..4), HAProxy with deploy/haproxy.cfg
# and redis-server in $(CLUSTER_NETNS)0; bridge $(CLUSTER_SUBNET).0/24.
# Root needed. CLUSTER_MODE= (empty) runs the full size (24 rooms).
CLUSTER_NETNS ?= sfupl
CLUSTER_SUBNET ?= 198.18.10
CLUSTER_MODE ?= -short
CLUSTER_TIMEOUT ?= 8m
cluster: $(LIB)
	./scripts/install-deps.sh --cluster
	SFU_CLUSTER=1 SFU_CLUSTER_NETNS=$(CLUSTER_NETNS) SFU_CLUSTER_SUBNET=$(CLUSTER_SUBNET) \
		$(GO) test -count=1 $(CLUSTER_MODE) -timeout $(CLUSTER_TIMEOUT) -v -run TestCluster ./test/cluster/

test: vet unit abi e2e browser adapter adapter-browser demo-test fuzzcheck soak cluster

fuzz:
	./scripts/fuzz.sh 10s

# fuzz.sh must fail on a broken target and a failing seed (a test of the script).
fuzzcheck:
	./scripts/fuzz_test.sh

# Benchmarks (BENCHMARKS.md): the Go signalling benchmarks, then the relay
# hot path through the plugin ABI (bench/), whose summary line comes last.
bench: $(LIB)
	./scripts/install-deps.sh --bench
	$(GO) test -run XXX -bench . -benchtime 2000x ./sfu/
	$(MAKE) --no-print-directory -C bench run LIB=$(CURDIR)/$(LIB) BENCH_ARGS=--quick

clean:
	rm -f $(LIB) libjanus_plugin_sfu.h
	rm -rf $(BUILD) demo/dist
	-$(MAKE) -C test/abi clean
