# Release builds for the targets of cross/targets.txt, included by the top-level
# Makefile (GO, GOBUILD, VERSION, OUT) after wasm/plugins/plugins.mk (plugins,
# plugins-small, SUDO). See cross/README.md.
#
#   make cross           dist/nriwasm-linux-NAME for every target, checked static and
#                        stripped, and dist/checksums.txt
#   make cross-check     the size budget, the dependency lists, reproducibility
#   make cross-test      every target under qemu-user: version, check, demo, the
#                        wasm/ and nri/ package tests
#   make cross-deps      regenerate cross/deps/ after a dependency change
#   make cross-skeleton  measure the skeleton, the size baseline in targets.txt

DIST          ?= $(CURDIR)/dist
CROSS_TARGETS := $(shell awk '!/^\#/ && NF {print $$1}' cross/targets.txt)
CROSS_BINS    := $(CROSS_TARGETS:%=$(DIST)/nriwasm-linux-%)
CROSS_SH      := GO='$(GO)' GOBUILD="$(GOBUILD)" VERSION='$(VERSION)' cross/cross.sh

# Tests whose deadlines are set for native speed, skipped under qemu: emulation
# makes the compiler ~3x slower, the interpreter ~1000x slower than the native
# compiler.
#   TestFailureReplacesInstance/grow        grows memory to the limit within 500 ms
#   TestHostileEvents/megabytes_on_stdout   writes megabytes within the 2 s timeout
CROSS_SKIP_EMULATED := TestFailureReplacesInstance/grow|TestHostileEvents/megabytes_on_stdout
# and on the interpreter targets also:
#   TestGrowthStopsAtLimit                  101 fresh instances, ~5 minutes
#   TestSplitSynchronize                    a 6 MB Synchronize within the 2 s timeout
#   TestHostileEvents/a_Go_guest_out_of_memory  grows the Go heap within the timeout
#   TestConcurrentContainers                1000 creates from 10 callers queue past the timeout
CROSS_SKIP_INTERP := TestGrowthStopsAtLimit|TestSplitSynchronize|TestHostileEvents/a_Go_guest_out_of_memory|TestConcurrentContainers
# armv6 runs version, check and demo only: its package tests would be the
# armv7 ones again (same GOARCH, other instructions, which the armv6 binary
# already exercises on an ARM1176), for ~10 more minutes.
CROSS_NO_PKG_TESTS := armv6

.PHONY: cross cross-check cross-size cross-deps cross-deps-check cross-repro cross-test \
	cross-skeleton deps-cross deps-qemu

cross: $(DIST)/checksums.txt

$(DIST)/checksums.txt: $(CROSS_BINS)
	cd $(@D) && sha256sum $(notdir $^) >$(@F)

# The Go environment of target $1.
cross-env = GOOS=linux $(shell awk '$$1 == "$1" {print "GOARCH=" $$2, $$3}' cross/targets.txt)

# CGO_ENABLED=0 makes the binary static. The build ID is a hash of the inputs,
# so it needs no -buildid= to be reproducible: cross-repro checks it.
$(CROSS_BINS): $(DIST)/nriwasm-linux-%: FORCE | deps-cross
	$(call cross-env,$*) $(GOBUILD) -o $@ .
	@! readelf -lSW $@ | grep -E '^ +(INTERP|DYNAMIC) |\.symtab|\.debug_' || { echo '$@: want a static, stripped executable'; exit 1; }

cross-check: cross-size cross-deps-check cross-repro

cross-size: cross
	$(CROSS_SH) size $(DIST)

cross-deps:
	$(CROSS_SH) deps cross/deps

cross-deps-check:
	$(CROSS_SH) deps-check cross/deps

# Every target again from a copy of the tree at another path, with an empty
# build cache: the binaries in dist/ must have the same sha256.
cross-repro: cross
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/src" && \
	tar -cf - --exclude=./.git --exclude=./out --exclude=./dist . | tar -xf - -C "$$tmp/src" && \
	GOCACHE="$$tmp/gocache" $(MAKE) -s -C "$$tmp/src" cross DIST="$$tmp/dist" OUT="$$tmp/out" VERSION='$(VERSION)' && \
	cd $(DIST) && sha256sum --quiet -c "$$tmp/dist/checksums.txt" && echo "cross-repro: a second build is byte-identical"

cross-test: deps-plugins cross plugins plugins-small | deps-qemu
	DIST=$(DIST) WORK=$(OUT)/cross PLUGIN_DIRS='$(PLUGIN_OUT) $(PLUGIN_SMALL_OUT)' \
	SKIP_EMULATED='$(CROSS_SKIP_EMULATED)' SKIP_INTERP='$(CROSS_SKIP_INTERP)' \
	NO_PKG_TESTS='$(CROSS_NO_PKG_TESTS)' $(CROSS_SH) test $(CROSS_TARGETS)

cross-skeleton:
	$(CROSS_SH) skeleton

# qemu is called by name: no binfmt_misc registration is needed.
cross-apt = @command -v $1 >/dev/null || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y $2; }
deps-cross:
	$(call cross-apt,readelf,binutils)
deps-qemu:
	$(call cross-apt,qemu-riscv64-static,qemu-user-static)
