# Packaging (build/), included by the top-level Makefile, which defines BIN.
#
#   make packaging      dist/: the release binaries (make cross), the files
#                       install.sh fetches next to them, checksums.txt of all
#   make test-install   install.sh against a loopback server serving dist/,
#                       and the other packaging (build/test/install-test.sh)
#   make deps-install   busybox, shellcheck, systemd-analyze, python3-yaml
#
# The UCI rendering, the k3s template and the memory limits are checked by
# build/packaging_test.go, within `make test`.

# Release assets besides the binaries, by their name in dist/.
PACKAGING := install.sh config.toml nriwasm.service nriwasm.openrc \
	nriwasm.procd nriwasm.uci nriwasm-uci2toml
dist/install.sh: build/install.sh
dist/config.toml: config.toml
dist/nriwasm.service: build/systemd/nriwasm.service
dist/nriwasm.openrc: build/openrc/nriwasm
dist/nriwasm.procd: build/openwrt/files/nriwasm.init
dist/nriwasm.uci: build/openwrt/files/nriwasm.config
dist/nriwasm-uci2toml: build/openwrt/files/nriwasm-uci2toml
$(PACKAGING:%=dist/%):
	@mkdir -p $(@D)
	cp $< $@

# Until cross/cross.mk provides `make cross`: the host's binary under every
# release name.
RELEASE_BINARIES := $(if $(wildcard cross/cross.mk),cross,dist-standin)
.PHONY: packaging test-install deps-install dist-standin
dist-standin: build
	@mkdir -p dist
	for arch in amd64 arm64 armv7 armv6 riscv64; do cp $(BIN) dist/nriwasm-linux-$$arch; done

# checksums.txt covers every file install.sh fetches.
packaging: $(RELEASE_BINARIES) $(PACKAGING:%=dist/%)
	cd dist && sha256sum nriwasm-linux-* $(PACKAGING) >checksums.txt

test-install: deps-install packaging
	sh build/test/install-test.sh dist

deps-install:
	@missing=; \
	command -v busybox >/dev/null || missing="$$missing busybox"; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	python3 -c 'import yaml' 2>/dev/null || /usr/bin/python3 -c 'import yaml' 2>/dev/null || missing="$$missing python3-yaml"; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update && $(SUDO) apt-get install -y $$missing; }
