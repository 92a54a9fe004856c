# Example NRI Wasm plugins (wasm/plugins), included by the top-level Makefile,
# which defines GO and OUT.
#
#   make plugins        build $(PLUGIN_OUT): 10-logger.wasm, 20-injector.wasm
#                       with 20-injector.conf, 30-ulimit.wasm
#   make test-plugins   the plugins module's unit tests (native) and vet
#   make plugins-small  build $(PLUGIN_SMALL_OUT): the injector in C (20-injector.wasm,
#                       a drop-in for the Go one) with 20-injector.conf
#   make deps-plugins   install wat2wasm (wabt) for the test guests, and clang
#                       with wasi-libc for the C guest
#
# PLUGIN_OPT=1 shrinks the Go plugins with binaryen's wasm-opt.

PLUGIN_OUT ?= $(OUT)/plugins
PLUGIN_SMALL_OUT ?= $(OUT)/plugins-small
PLUGIN_DIR := wasm/plugins
PLUGINS    := 10-logger 20-injector 30-ulimit
# The shipped plugins depend on the module's sources but not on its tests or
# test guests.
PLUGIN_SRC := $(shell find $(PLUGIN_DIR) -path $(PLUGIN_DIR)/test -prune -o \
	-type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print)
# Reactor modules, as upstream builds them; -s -w drops names only.
PLUGIN_GOBUILD := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= GOWORK=off \
	$(GO) build -C $(PLUGIN_DIR) -trimpath -buildvcs=false -ldflags='-s -w' -buildmode=c-shared
# The features Go's wasip1 output uses; wazero supports them all.
WASM_OPT := wasm-opt -Oz --strip-debug --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

# The C guest: a reactor (_initialize runs wasi-libc's constructors).
CLANG_WASM := clang --target=wasm32-wasi -O2 -Wall -Werror -mexec-model=reactor -Wl,--strip-all

.PHONY: plugins plugins-small test-plugins deps-plugins deps
plugins: $(PLUGINS:%=$(PLUGIN_OUT)/%.wasm) $(PLUGIN_OUT)/20-injector.conf

# NN-name.wasm is built from cmd/name.
$(PLUGIN_OUT)/%.wasm: $(PLUGIN_SRC) $(PLUGIN_OUT).opt
	@mkdir -p $(@D)
	$(PLUGIN_GOBUILD) -o $(abspath $@).tmp ./cmd/$(word 2,$(subst -, ,$*))
	$(if $(PLUGIN_OPT),$(WASM_OPT) $@.tmp -o $@.tmp)
	mv $@.tmp $@

# A stamp that changes, rebuilding the plugins, only when PLUGIN_OPT does. It
# is kept out of the plugin directory, which must hold plugins only.
$(PLUGIN_OUT).opt: FORCE
	@mkdir -p $(@D)
	@echo '$(PLUGIN_OPT)' | cmp -s - $@ || echo '$(PLUGIN_OPT)' >$@

$(PLUGIN_OUT)/20-injector.conf $(PLUGIN_SMALL_OUT)/20-injector.conf: $(PLUGIN_DIR)/cmd/injector/demo.conf
	@mkdir -p $(@D)
	install -m 0644 $< $@

plugins-small: $(PLUGIN_SMALL_OUT)/20-injector.wasm $(PLUGIN_SMALL_OUT)/20-injector.conf

$(PLUGIN_SMALL_OUT)/20-injector.wasm: $(PLUGIN_DIR)/c/injector.c | deps-plugins
	@mkdir -p $(@D)
	$(CLANG_WASM) -o $@.tmp $<
	mv $@.tmp $@

test-plugins:
	cd $(PLUGIN_DIR) && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -count=1 ./...
	cd $(PLUGIN_DIR)/test/v010 && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...

# Debian packages; the C guest needs wasi-libc's sysroot and compiler-rt's
# wasm32 builtins besides clang and lld.
PLUGIN_DEBS := wabt clang lld wasi-libc libclang-rt-14-dev-wasm32
deps-plugins:
	@missing=$$(for p in $(PLUGIN_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; fi

deps: deps-plugins
