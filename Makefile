# nriwasm — run containerd/nri Wasm plugins beside the runtime, for low-memory nodes.
#
# The two set-up commands: `make demo` and `make test`. Everything a target needs it
# installs itself (`make deps`). Slow suites (cross/qemu, real containerd) have their
# own targets; .ci/run runs them all.

GO        ?= go
OUT       ?= $(CURDIR)/out
BIN       := $(OUT)/nriwasm
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags='$(LDFLAGS)'

.PHONY: all build demo demo-small test test-faults bench footprint vet fmt deps clean
all: build plugins

build: $(BIN)
$(BIN): FORCE
	$(GOBUILD) -o $@ .

# demo: the embedded default config and built-in scenario, with the example plugins.
demo: build plugins
	$(BIN) demo -plugin-dir $(PLUGIN_OUT)

# demo-small: the same with the injector written in C alone.
demo-small: build plugins-small
	$(BIN) demo -plugin-dir $(PLUGIN_SMALL_OUT)

# test: every package against the real pkg/adaptation over sockets, with real
# plugins built from source (cached); the host side again under the race
# detector, which needs cgo (tests only: the shipped binary never has it).
test: deps vet test-plugins
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 15m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -timeout 15m -race ./nri/... ./wasm/...

# test-faults: the long runs of the hostile-plugin and runtime-fault suites
# (1000 recoveries, 100k events, 20 restarts), every fuzz target for
# FUZZTIME, and the module-loading cases on GOARCH=arm under qemu, where
# wazero itself can panic on malformed modules. See TESTED.md.
FUZZTIME ?= 20s
FUZZ     := CGO_ENABLED=0 $(GO) test -run '^$$' -fuzztime $(FUZZTIME)
test-faults: deps | deps-qemu
	NRIWASM_LONG=1 CGO_ENABLED=0 $(GO) test -count=1 -timeout 60m -run 'Hostile|Runtime|Socket|Rejected|Concurrent|Soak|Sandbox' ./wasm/ ./nri/
	$(FUZZ) -fuzz '^FuzzParse$$' ./internal/config
	$(FUZZ) -fuzz '^FuzzParseScenario$$' ./nri/sim
	$(FUZZ) -fuzz '^FuzzDecode$$' ./wasm
	$(FUZZ) -fuzz '^FuzzCompile$$' ./wasm
	GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) test -c -o $(OUT)/wasm-arm.test ./wasm
	cd wasm && qemu-arm-static $(OUT)/wasm-arm.test -test.run '^(FuzzCompile|FuzzDecode|TestHostileCalls|TestHostileModules)$$'

# bench: CreateContainer latency against a native NRI plugin and the same
# .wasm in-runtime, throughput, Synchronize, start-up and memory, all in one
# run; the table goes to $(OUT)/bench.md. Then the guest call alone.
bench: deps
	@mkdir -p $(OUT)
	NRIWASM_BENCH_OUT=$(OUT)/bench.md $(GO) test -tags bench -count=1 -timeout 30m -run TestBench ./internal/bench
	@cat $(OUT)/bench.md
	$(GO) test -run '^$$' -bench . -benchtime 5000x ./wasm

# footprint: RSS of `nriwasm run` with small and large guests, per engine,
# natively and, for the release binaries `make cross` built, under qemu.
# Tables go to $(OUT)/footprint-*.md; README.md quotes them.
FOOTPRINT := $(GO) test -tags footprint -count=1 -timeout 30m -run Footprint ./internal/footprint
footprint: deps
	@mkdir -p $(OUT)
	NRIWASM_FOOTPRINT_OUT=$(OUT)/footprint-amd64.md $(FOOTPRINT)
	@for arch in armv7:arm riscv64:riscv64; do \
		bin=dist/nriwasm-linux-$${arch%%:*}; qemu=qemu-$${arch#*:}-static; \
		if [ -x $$bin ] && command -v $$qemu >/dev/null; then \
			echo "== $$bin under $$qemu"; \
			NRIWASM_BIN=$(CURDIR)/$$bin NRIWASM_EMULATOR=$$qemu NRIWASM_FOOTPRINT_OUT=$(OUT)/footprint-$${arch%%:*}.md $(FOOTPRINT) || exit 1; \
		else echo "skipping $$bin (run make cross; needs $$qemu)"; fi; \
	done
	@cat $(OUT)/footprint-*.md

vet:
	CGO_ENABLED=0 $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(OUT) dist

FORCE:

include wasm/plugins/plugins.mk
-include cross/cross.mk
-include build/build.mk
-include nri/e2e/e2e.mk
