# nriwasm: runs containerd/nri WebAssembly plugins beside the container runtime.
# Put this recipe in a layer (e.g. recipes-containers/nriwasm/). It needs a Go
# 1.26 toolchain: openembedded-core master, or a layer that provides one to
# older releases.
SUMMARY = "containerd/nri WebAssembly plugins beside the container runtime"
HOMEPAGE = "https://github.com/nriwasm/nriwasm"
# The repository has no license file yet; set LICENSE and LIC_FILES_CHKSUM
# once it has one.
LICENSE = "CLOSED"

SRC_URI = "git://github.com/nriwasm/nriwasm.git;protocol=https;branch=main;destsuffix=${GO_SRCURI_DESTSUFFIX}"
SRCREV = "${AUTOREV}"
PV = "0.1.0+git"

GO_IMPORT = "github.com/nriwasm/nriwasm"
# The command only: ./... would also build the repository's test and size tools.
GO_INSTALL = "${GO_IMPORT}"
GO_EXTRA_LDFLAGS = "-X main.version=${PV}"

inherit go-mod systemd

# Static and cgo-free like the releases. Without cgo, Go links PIE internally
# only on amd64 and arm64, so go.bbclass's -buildmode=pie goes too.
export CGO_ENABLED = "0"
GOBUILDFLAGS:remove = "-buildmode=pie"
# go-mod fetches the modules go.sum pins while compiling.
do_compile[network] = "1"

SYSTEMD_SERVICE:${PN} = "nriwasm.service"

# The unit names /usr/bin/nriwasm, which is ${bindir}/nriwasm here. The
# configuration is config.toml's defaults, documented; plugins go in
# /var/lib/nriwasm/plugins.
do_install:append() {
	src=${S}/src/${GO_IMPORT}
	install -D -m 0644 $src/build/systemd/nriwasm.service ${D}${systemd_system_unitdir}/nriwasm.service
	install -D -m 0644 $src/config.toml ${D}${sysconfdir}/nriwasm/config.toml
	install -d -m 0755 ${D}${localstatedir}/lib/nriwasm/plugins
}

FILES:${PN} += "${systemd_system_unitdir}/nriwasm.service ${localstatedir}/lib/nriwasm"
CONFFILES:${PN} = "${sysconfdir}/nriwasm/config.toml"
