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

.PHONY: all build demo demo-small test vet fmt deps clean
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
