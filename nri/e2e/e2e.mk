# End-to-end suite against real containerd (nri/e2e), included by the
# top-level Makefile, which defines GO, OUT, BIN and PLUGIN_OUT.
#
#   make e2e        install what the suite needs (cached), then run e2e.sh
#                   against every containerd in E2E_CONTAINERD (root only)
#
# Everything fetched is pinned and cached under E2E_CACHE by version, so only
# the first run builds containerd (minutes); the suite itself takes seconds.

E2E_CACHE ?= $(HOME)/.cache/nriwasm-e2e
E2E_OUT   := $(OUT)/e2e
# The releases under test. The first also loads the Wasm plugin itself, for
# the comparison; the second comes with an NRI older than v0.12, which sends
# most events as StateChange: v2.1.x ships NRI v0.8 (no UpdatePodSandbox, no
# validation). One ctr and one crictl serve them all.
E2E_CONTAINERD ?= v2.4.2 v2.1.9
E2E_CTR        ?= v2.4.2
E2E_CRICTL     ?= v1.34.0
E2E_TOOLS      := $(foreach v,$(E2E_CONTAINERD),$(E2E_CACHE)/containerd-$(v)/containerd) \
	$(E2E_CACHE)/ctr-$(E2E_CTR)/ctr $(E2E_CACHE)/crictl-$(E2E_CRICTL)/crictl \
	$(E2E_CACHE)/busybox-static/bin/busybox
E2E_GOBUILD    := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false

.PHONY: e2e deps-e2e
e2e: build plugins deps-e2e $(E2E_OUT)/nriwasm-launched $(E2E_OUT)/trap.wasm \
		$(E2E_OUT)/pause.tar $(E2E_OUT)/busybox.tar
	E2E_CONTAINERD='$(E2E_CONTAINERD)' E2E_CACHE='$(E2E_CACHE)' E2E_OUT='$(E2E_OUT)' \
	NRIWASM='$(BIN)' PLUGIN_OUT='$(PLUGIN_OUT)' \
	CTR='$(E2E_CACHE)/ctr-$(E2E_CTR)/ctr' CRICTL='$(E2E_CACHE)/crictl-$(E2E_CRICTL)/crictl' \
		bash nri/e2e/e2e.sh

deps-e2e: deps-plugins $(E2E_TOOLS)
	@command -v runc >/dev/null || { apt-get update && \
		apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends runc; }

# cd to containerd's module at version $*, downloaded. containerd is built from
# its module's own go.mod: `go install pkg@version` refuses v2.1.x, whose
# go.mod has exclude directives.
E2E_CONTAINERD_MOD = cd "$$(cd / && $(GO) mod download -json github.com/containerd/containerd/v2@$* | \
	sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')"
E2E_CONTAINERD_LDFLAGS = -ldflags='-s -w -X github.com/containerd/containerd/v2/version.Version=$*'

# containerd and its shim: a shim newer than the daemon refuses to start.
$(E2E_CACHE)/containerd-%/containerd:
	rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	$(E2E_CONTAINERD_MOD) && $(E2E_GOBUILD) -tags no_btrfs $(E2E_CONTAINERD_LDFLAGS) -o $(@D).tmp/ \
		./cmd/containerd ./cmd/containerd-shim-runc-v2
	rm -rf $(@D) && mv $(@D).tmp $(@D)

$(E2E_CACHE)/ctr-%/ctr:
	$(E2E_CONTAINERD_MOD) && $(E2E_GOBUILD) $(E2E_CONTAINERD_LDFLAGS) -o $@ ./cmd/ctr

$(E2E_CACHE)/crictl-%/crictl:
	GOBIN=$(@D) CGO_ENABLED=0 $(GO) install -trimpath -ldflags='-s -w' sigs.k8s.io/cri-tools/cmd/crictl@$*

# Debian's busybox-static, unpacked rather than installed: it would replace the
# system's busybox package.
$(E2E_CACHE)/busybox-static/bin/busybox:
	rm -rf $(E2E_CACHE)/busybox-static && mkdir -p $(E2E_CACHE)/busybox-static
	cd $(E2E_CACHE)/busybox-static && { apt-get download busybox-static || { apt-get update && apt-get download busybox-static; }; } && \
		dpkg-deb -x busybox-static_*.deb . && rm busybox-static_*.deb

# nriwasm as the runtime launches it: with its default config moved off /etc.
$(E2E_OUT)/nriwasm-launched: FORCE
	$(E2E_GOBUILD) -ldflags='$(LDFLAGS) -X github.com/nriwasm/nriwasm/internal/config.DefaultPath=$(E2E_OUT)/launched.toml' -o $@ .

$(E2E_OUT)/trap.wasm: nri/e2e/testdata/trap.wat | deps-plugins
	@mkdir -p $(@D)
	wat2wasm $< -o $@

# Both use the standard library only.
$(E2E_OUT)/%: nri/e2e/cmd/%/main.go
	$(E2E_GOBUILD) -ldflags='-s -w' -o $@ ./$(<D)

# Images are built locally, so the suite needs no registry: the pod's sandbox
# is our pause, the containers run Debian's static busybox.
$(E2E_OUT)/pause.tar: $(E2E_OUT)/pause $(E2E_OUT)/mkimage
	rm -rf $@.root && mkdir -p $@.root
	cp $< $@.root/pause
	$(E2E_OUT)/mkimage -rootfs $@.root -name localhost/e2e/pause:1 -entrypoint /pause -out $@
	rm -rf $@.root

$(E2E_OUT)/busybox.tar: $(E2E_CACHE)/busybox-static/bin/busybox $(E2E_OUT)/mkimage
	rm -rf $@.root && mkdir -p $@.root/bin $@.root/etc $@.root/tmp $@.root/proc $@.root/sys $@.root/dev
	cp $< $@.root/bin/busybox
	for a in $$($< --list); do [ $$a = busybox ] || ln -s busybox $@.root/bin/$$a; done
	printf 'root:x:0:0:root:/:/bin/sh\n' >$@.root/etc/passwd
	printf 'root:x:0:\n' >$@.root/etc/group
	chmod 1777 $@.root/tmp
	$(E2E_OUT)/mkimage -rootfs $@.root -name localhost/e2e/busybox:1 -cmd sh -out $@
	rm -rf $@.root
