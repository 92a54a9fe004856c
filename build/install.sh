#!/bin/sh
# nriwasm installer: downloads a release binary, checks it against the
# release's checksums.txt and installs it as a systemd, OpenRC or procd
# (OpenWrt) service. `sh install.sh --help` lists the settings; build/README.md
# says what it changes. A second run with the same release changes nothing and
# restarts nothing.
#
# Every step is a function and only the block at the end runs them, so a
# download through `curl | sh` that breaks off midway runs nothing.
set -eu

GITHUB=https://github.com/nriwasm/nriwasm/releases
ARCHES='amd64 arm64 armv7 armv6 riscv64'

usage() {
	cat <<'EOF'
usage: install.sh [flags]    (or: curl -sfL .../install.sh | sh -s - [flags])

  --version TAG     NRIWASM_VERSION     release to install (default: latest)
  --base-url URL    NRIWASM_BASE_URL    files are fetched from URL/TAG/NAME; a mirror
                                        serves the release files there (and may link
                                        latest to a TAG). Default:
                                        https://github.com/nriwasm/nriwasm/releases/download
  --bin-dir DIR     NRIWASM_BIN_DIR     default /usr/local/bin (OpenWrt: /usr/bin)
  --skip-enable     NRIWASM_SKIP_ENABLE=true   don't enable the service at boot
  --skip-start      NRIWASM_SKIP_START=true    don't start or restart it
  --dry-run         NRIWASM_DRY_RUN=true       download and verify, then only say
                                               what would change
  --arch ARCH       NRIWASM_ARCH        amd64, arm64, armv7, armv6 or riscv64
                                        instead of the detected one
  --init INIT       NRIWASM_INIT        systemd, openrc, procd or none instead of
                                        the detected init system
  --root DIR        NRIWASM_ROOT        install under DIR instead of / (tests, images);
                                        the service commands still go to the running
                                        system unless both skips are given
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
fatal() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}
dry() { [ "$DRY_RUN" = true ]; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--version | --base-url | --bin-dir | --arch | --init | --root)
			[ $# -ge 2 ] || fatal "$1 needs a value"
			case $1 in
			--version) NRIWASM_VERSION=$2 ;;
			--base-url) NRIWASM_BASE_URL=$2 ;;
			--bin-dir) NRIWASM_BIN_DIR=$2 ;;
			--arch) NRIWASM_ARCH=$2 ;;
			--init) NRIWASM_INIT=$2 ;;
			--root) NRIWASM_ROOT=$2 ;;
			esac
			shift
			;;
		--skip-enable) NRIWASM_SKIP_ENABLE=true ;;
		--skip-start) NRIWASM_SKIP_START=true ;;
		--dry-run) NRIWASM_DRY_RUN=true ;;
		-h | --help)
			usage
			exit 0
			;;
		*) fatal "unknown argument $1 (see --help)" ;;
		esac
		shift
	done
}

setup() {
	# Directories made here must not be group-writable whatever the caller's
	# umask: nriwasm refuses configuration and plugins that others can change.
	umask 022
	VERSION=${NRIWASM_VERSION:-latest}
	BASE_URL=${NRIWASM_BASE_URL:-$GITHUB/download}
	ROOT=${NRIWASM_ROOT:-}
	ROOT=${ROOT%/}
	SKIP_ENABLE=${NRIWASM_SKIP_ENABLE:-false}
	SKIP_START=${NRIWASM_SKIP_START:-false}
	DRY_RUN=${NRIWASM_DRY_RUN:-false}
	command -v sha256sum >/dev/null 2>&1 || fatal "sha256sum is missing"
	if command -v curl >/dev/null 2>&1; then
		DOWNLOADER=curl
	elif command -v wget >/dev/null 2>&1; then
		DOWNLOADER=wget
	else
		fatal "neither curl nor wget is installed"
	fi
	TMP=$(mktemp -d)
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 1' INT TERM
	CHANGED=
	INSTALLED=
}

# userland_bits: 32 or 64. A 64-bit kernel may run a 32-bit userland (Raspberry
# Pi OS), which needs the 32-bit release. Busybox systems have no getconf: then
# the ELF class of /bin/sh says it (its fifth byte: 1 = 32-bit, 2 = 64-bit).
userland_bits() {
	if command -v getconf >/dev/null 2>&1; then
		getconf LONG_BIT
	elif [ "$(head -c 5 /bin/sh | tail -c 1)" = "$(printf '\001')" ]; then
		echo 32
	else
		echo 64
	fi
}

detect_arch() {
	if [ -n "${NRIWASM_ARCH:-}" ]; then
		case " $ARCHES " in
		*" $NRIWASM_ARCH "*) ARCH=$NRIWASM_ARCH ;;
		*) fatal "NRIWASM_ARCH=$NRIWASM_ARCH: releases exist for $ARCHES" ;;
		esac
		return
	fi
	os=$(uname -s)
	[ "$os" = Linux ] || fatal "nriwasm runs on Linux, not $os"
	machine=$(uname -m)
	bits=$(userland_bits)
	# An ARMv8 CPU in 32-bit mode (aarch64 kernel, armhf userland; or armv8l)
	# runs ARMv7 code.
	case $machine/$bits in
	x86_64/64 | amd64/64) ARCH=amd64 ;;
	aarch64/64 | arm64/64) ARCH=arm64 ;;
	aarch64/32 | arm64/32 | armv8*/32 | armv7*/32) ARCH=armv7 ;;
	armv6*/32) ARCH=armv6 ;;
	riscv64/64) ARCH=riscv64 ;;
	*) fatal "unsupported architecture: $machine with a $bits-bit userland (releases exist for $ARCHES; elsewhere build from source: CGO_ENABLED=0 go build)" ;;
	esac
}

detect_init() {
	if [ -n "${NRIWASM_INIT:-}" ]; then
		case $NRIWASM_INIT in
		systemd | openrc | procd | none) INIT=$NRIWASM_INIT ;;
		*) fatal "NRIWASM_INIT=$NRIWASM_INIT: want systemd, openrc, procd or none" ;;
		esac
	elif [ -f "$ROOT/etc/openwrt_release" ]; then
		INIT=procd
	elif [ -d "$ROOT/run/systemd/system" ]; then
		INIT=systemd
	elif [ -x "$ROOT/sbin/openrc-run" ]; then
		INIT=openrc
	else
		INIT=none
	fi
	# What goes where. OWN_DIRS are removed on uninstall if empty, DERIVED
	# (cache, rendered configuration) in any case.
	case $INIT in
	procd)
		BIN_DIR=${NRIWASM_BIN_DIR:-/usr/bin}
		CONFIG=/etc/config/nriwasm CONFIG_ASSET=nriwasm.uci
		SERVICE=/etc/init.d/nriwasm SERVICE_ASSET=nriwasm.procd SERVICE_MODE=0755
		# rendered from CONFIG by the init script, in RAM
		TOML=/var/etc/nriwasm/config.toml
		OWN_DIRS='/etc/nriwasm/plugins /etc/nriwasm'
		DERIVED='/var/etc/nriwasm /var/cache/nriwasm'
		;;
	*)
		BIN_DIR=${NRIWASM_BIN_DIR:-/usr/local/bin}
		CONFIG=/etc/nriwasm/config.toml CONFIG_ASSET=config.toml
		TOML=$CONFIG
		OWN_DIRS='/var/lib/nriwasm/plugins /var/lib/nriwasm /etc/nriwasm'
		DERIVED=/var/cache/nriwasm
		case $INIT in
		systemd) SERVICE=/etc/systemd/system/nriwasm.service SERVICE_ASSET=nriwasm.service SERVICE_MODE=0644 ;;
		openrc) SERVICE=/etc/init.d/nriwasm SERVICE_ASSET=nriwasm.openrc SERVICE_MODE=0755 ;;
		none) SERVICE='' SERVICE_ASSET='' ;;
		esac
		;;
	esac
}

url() {
	if [ "$VERSION" = latest ] && [ "$BASE_URL" = "$GITHUB/download" ]; then
		echo "$GITHUB/latest/download/$1"
	else
		echo "$BASE_URL/$VERSION/$1"
	fi
}

sha256() { sha256sum "$1" | cut -d ' ' -f 1; }

# want NAME: NAME's digest in checksums.txt (sha256sum's format, text or binary mode).
want() {
	awk -v f="$1" '$2 == f || $2 == "*" f { print $1; found = 1; exit } END { exit !found }' "$TMP/checksums.txt" ||
		fatal "checksums.txt of $VERSION has no entry for $1: refusing to install it"
}

get() {
	if [ "$DOWNLOADER" = curl ]; then
		curl -fsSL --retry 3 -o "$TMP/$1" "$(url "$1")"
	else
		wget -q -O "$TMP/$1" "$(url "$1")"
	fi || fatal "cannot download $(url "$1")"
}

# fetch NAME: download NAME of the release into TMP and check its digest.
fetch() {
	expect=$(want "$1")
	get "$1"
	got=$(sha256 "$TMP/$1")
	[ "$got" = "$expect" ] || fatal "$1: sha256 $got, but checksums.txt says $expect: refusing to install it"
}

download() {
	say "nriwasm $VERSION for linux-$ARCH and $INIT, into ${ROOT:-/}, from $(url '')"
	get checksums.txt
	# An unchanged binary is not downloaded again.
	BINARY=nriwasm-linux-$ARCH
	expect=$(want "$BINARY")
	if [ -f "$ROOT$BIN_DIR/nriwasm" ] && [ "$(sha256 "$ROOT$BIN_DIR/nriwasm")" = "$expect" ]; then
		cp "$ROOT$BIN_DIR/nriwasm" "$TMP/$BINARY"
	else
		fetch "$BINARY"
	fi
	# config.toml holds nriwasm's defaults, for the keys a configuration omits.
	for asset in config.toml $CONFIG_ASSET $SERVICE_ASSET; do
		[ -f "$TMP/$asset" ] || fetch "$asset"
	done
	if [ "$INIT" = procd ]; then
		fetch nriwasm-uci2toml
	fi
}

# toml_get KEY FILE: the string value (quoted "..." or '...') of top-level
# KEY; fails if FILE does not set it.
toml_get() {
	awk -v k="$1" '
		/^[ \t]*\[/ { exit }
		$0 ~ "^[ \t]*" k "[ \t]*=" { sub(/^[^=]*=[ \t]*["\047]/, ""); sub(/["\047].*/, ""); print; found = 1; exit }
		END { exit !found }' "$2"
}

# read_config: the socket and plugins of the configuration in force (the
# user's, else the one about to be installed).
read_config() {
	conf=$ROOT$CONFIG
	[ -f "$conf" ] || conf=$TMP/$CONFIG_ASSET
	if [ "$INIT" = procd ]; then
		sh "$TMP/nriwasm-uci2toml" "$conf" >"$TMP/effective.toml" || fatal "cannot render $conf"
		conf=$TMP/effective.toml
	fi
	SOCKET=$(toml_get socket "$conf") || SOCKET=$(toml_get socket "$TMP/config.toml")
	PLUGIN_DIR=$(toml_get plugin_dir "$conf") || PLUGIN_DIR=$(toml_get plugin_dir "$TMP/config.toml")
	case $PLUGIN_DIR in
	/* | '') ;;
	*) PLUGIN_DIR=${TOML%/*}/$PLUGIN_DIR ;;
	esac
	PLUGINS=
	if grep -q '^[[:space:]]*\[\[[[:space:]]*plugin[[:space:]]*\]\]' "$conf"; then
		PLUGINS=listed
	elif [ -n "$PLUGIN_DIR" ]; then
		for f in "$ROOT$PLUGIN_DIR"/*.wasm; do
			if [ -f "$f" ]; then
				PLUGINS=found
			fi
		done
	fi
}

# version_of TOOL: the version TOOL --version prints, without a leading v.
version_of() {
	command -v "$1" >/dev/null 2>&1 || return 1
	v=$("$1" --version 2>/dev/null | awk '/^Version:/ { print $2; exit } NR == 1 { print $3; exit }')
	[ -n "$v" ] || return 1
	echo "${v#v}"
}

# version_ge A B: whether version A is at least B (suffixes such as +k3s1 ignored).
version_ge() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, /[.+-]/); split(b, y, /[.+-]/)
		for (i = 1; i <= 3; i++) if (x[i] + 0 != y[i] + 0) exit x[i] + 0 < y[i] + 0
	}'
}

# The settings that enable NRI, with nriwasm's socket.
nri_table() {
	cat <<EOF
[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = "$SOCKET"
EOF
}
k3s_template() {
	printf '%s\n\n' '{{ template "base" . }}'
	nri_table
}
crio_nri() {
	cat <<EOF
[crio.nri]
enable_nri = true
nri_listen = "$SOCKET"
EOF
}
# snippet FUNC: FUNC's text between cut marks, to copy as is.
snippet() {
	say '----8<----'
	"$1"
	say '----8<----'
}

# enable_hint FUNC HOW: if NRI is off, how to enable it and FUNC's snippet.
enable_hint() {
	if [ -n "$NRI_OFF" ]; then
		say "    to enable NRI, $2:"
		snippet "$1"
	fi
}

# preflight reports what nriwasm needs from the runtime, and how to enable NRI
# where it is off. It changes nothing: runtime configurations are the admin's.
preflight() {
	say "Preflight (reports only; runtime configurations are left alone):"
	if [ -S "$ROOT$SOCKET" ]; then
		NRI_OFF=
		say "  NRI socket $SOCKET: present"
	else
		NRI_OFF=1
		say "  NRI socket $SOCKET: not found (NRI is off, or the runtime is not running)"
	fi
	runtimes=
	if v=$(version_of k3s); then
		runtimes=k3s
		# k3s embeds containerd 2.x, which enables NRI by default, from these releases on.
		if version_ge "$v" 1.32.2 || { version_ge "$v" 1.31.6 && ! version_ge "$v" 1.32.0; }; then
			say "  k3s $v (embedded containerd 2.x)"
			enable_hint k3s_template "write /var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl, then restart k3s"
		else
			say "  k3s $v (embedded containerd 1.7)"
			enable_hint k3s_template "write /var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl, then restart k3s"
		fi
	fi
	if v=$(version_of containerd); then
		runtimes="$runtimes containerd"
		if version_ge "$v" 1.7.0; then
			say "  containerd $v"
			enable_hint nri_table "set this in /etc/containerd/config.toml (edit the table if it is there), then restart containerd"
		else
			say "  containerd $v: too old, NRI needs containerd 1.7 or later"
		fi
	fi
	if v=$(version_of crio); then
		runtimes="$runtimes crio"
		say "  CRI-O $v"
		enable_hint crio_nri "write /etc/crio/crio.conf.d/10-nri.conf, then restart crio"
	fi
	[ -n "$runtimes" ] || say "  no container runtime found (k3s, containerd or crio on PATH)"
}

# install_file SRC DEST MODE: replace DEST by SRC in one rename, unless they
# are the same.
install_file() {
	INSTALLED="$INSTALLED $2"
	if [ -f "$ROOT$2" ] && cmp -s "$1" "$ROOT$2"; then
		return
	fi
	CHANGED="$CHANGED $2"
	if dry; then
		say "would install $2"
		return
	fi
	mkdir -p "$(dirname "$ROOT$2")"
	cp "$1" "$ROOT$2.tmp"
	chmod "$3" "$ROOT$2.tmp"
	mv -f "$ROOT$2.tmp" "$ROOT$2"
	say "installed $2"
}

install_all() {
	install_file "$TMP/$BINARY" "$BIN_DIR/nriwasm" 0755
	if [ -n "$SERVICE" ]; then
		sed "s|/usr/bin/nriwasm|$BIN_DIR/nriwasm|g" "$TMP/$SERVICE_ASSET" >"$TMP/service"
		install_file "$TMP/service" "$SERVICE" "$SERVICE_MODE"
	fi
	if [ "$INIT" = procd ]; then
		install_file "$TMP/nriwasm-uci2toml" /usr/libexec/nriwasm-uci2toml 0755
	fi
	# The configuration is the user's once written: never replaced.
	if [ -f "$ROOT$CONFIG" ]; then
		say "kept $CONFIG"
	elif dry; then
		say "would write $CONFIG"
	else
		mkdir -p "$(dirname "$ROOT$CONFIG")"
		cp "$TMP/$CONFIG_ASSET" "$ROOT$CONFIG"
		chmod 0644 "$ROOT$CONFIG"
		say "wrote $CONFIG"
	fi
	if [ -n "$PLUGIN_DIR" ] && [ ! -d "$ROOT$PLUGIN_DIR" ]; then
		if dry; then
			say "would create $PLUGIN_DIR"
		else
			mkdir -p "$ROOT$PLUGIN_DIR"
			say "created $PLUGIN_DIR"
		fi
	fi
}

# svc_cmd VERB: the command for VERB (enabled, enable, disable, active,
# start, restart, stop, reload) under INIT, to eval with ROOT set. The
# uninstall script embeds the same commands.
svc_cmd() {
	case $INIT/$1 in
	systemd/enabled) echo 'systemctl is-enabled --quiet nriwasm.service' ;;
	systemd/active) echo 'systemctl is-active --quiet nriwasm.service' ;;
	systemd/reload) echo 'systemctl daemon-reload' ;;
	systemd/*) echo "systemctl $1 nriwasm.service" ;;
	openrc/enabled) echo 'rc-update show default | grep -qw nriwasm' ;;
	openrc/enable) echo 'rc-update add nriwasm default' ;;
	openrc/disable) echo 'rc-update del nriwasm default' ;;
	openrc/active) echo 'rc-service nriwasm status >/dev/null 2>&1' ;;
	openrc/reload) ;;
	openrc/*) echo "rc-service nriwasm $1" ;;
	# What the init script's #!/bin/sh /etc/rc.common line runs.
	procd/reload) ;;
	procd/active) echo "\"\$ROOT/etc/rc.common\" \"\$ROOT/etc/init.d/nriwasm\" running" ;;
	procd/*) echo "\"\$ROOT/etc/rc.common\" \"\$ROOT/etc/init.d/nriwasm\" $1" ;;
	esac
}

# shown VERB: svc_cmd VERB as the user would type it.
shown() {
	eval "set -- $(svc_cmd "$1")"
	echo "$*"
}

# svc VERB: run VERB's command; queries quietly, changes out loud.
svc() {
	cmd=$(svc_cmd "$1")
	[ -n "$cmd" ] || return 0
	case $1 in
	enabled | active) eval "$cmd" ;;
	*)
		if dry; then
			say "would run: $(shown "$1")"
		else
			say "running: $(shown "$1")"
			eval "$cmd"
		fi
		;;
	esac
}

write_uninstall() {
	UNINSTALL=$BIN_DIR/nriwasm-uninstall.sh
	INSTALLED="$INSTALLED $UNINSTALL"
	{
		cat <<'EOF'
#!/bin/sh
# Written by the nriwasm installer: removes what it installed. Keeps the
# configuration and the plugins. NRIWASM_ROOT: the root it was installed into.
ROOT=${NRIWASM_ROOT:-}
EOF
		if [ "$INIT" != none ]; then
			echo "$(svc_cmd stop) || true"
			echo "$(svc_cmd disable) || true"
		fi
		for f in $INSTALLED; do
			echo "rm -f \"\$ROOT$f\""
		done
		if [ -n "$(svc_cmd reload)" ]; then
			echo "$(svc_cmd reload) || true"
		fi
		for d in $DERIVED; do
			echo "rm -rf \"\$ROOT$d\""
		done
		for d in $OWN_DIRS; do
			echo "rmdir \"\$ROOT$d\" 2>/dev/null"
		done
		echo "echo 'nriwasm removed; kept $CONFIG and the plugins'"
	} >"$TMP/uninstall"
	install_file "$TMP/uninstall" "$UNINSTALL" 0755
}

# service_up enables and starts the service, restarting it only if a file it
# runs changed, and starting it only once it has plugins and a runtime.
service_up() {
	if [ "$INIT" = none ]; then
		say "no systemd, OpenRC or procd here: run '$BIN_DIR/nriwasm run' under your supervisor"
		return
	fi
	if [ "$SKIP_ENABLE" = true ] && [ "$SKIP_START" = true ]; then
		say "service manager left alone (skip-enable, skip-start)"
		return
	fi
	case " $CHANGED " in
	*" $SERVICE "*) svc reload ;;
	esac
	if [ "$SKIP_ENABLE" = true ]; then
		say "not enabled at boot (skip-enable)"
	elif ! svc enabled; then
		svc enable
	fi
	restart=
	for f in "$BIN_DIR/nriwasm" "$SERVICE" /usr/libexec/nriwasm-uci2toml; do
		case " $CHANGED " in
		*" $f "*) restart=1 ;;
		esac
	done
	if [ "$SKIP_START" = true ]; then
		say "not started (skip-start)"
	elif svc active; then
		if [ -n "$restart" ]; then svc restart; else say "running, unchanged: not restarted"; fi
	elif [ -z "$PLUGINS" ]; then
		say "not started: no plugins yet. Put NN-name.wasm files in $PLUGIN_DIR, then: $(shown start)"
	elif [ ! -S "$ROOT$SOCKET" ]; then
		say "not started: no NRI socket (see the preflight above). Once there is one: $(shown start)"
	else
		svc start
	fi
}

summary() {
	if [ -z "$CHANGED" ]; then
		say "nothing to change: nriwasm is installed as asked"
	fi
	dry || say "to uninstall: $UNINSTALL"
}

{
	parse_args "$@"
	setup
	detect_arch
	detect_init
	download
	read_config
	preflight
	install_all
	write_uninstall
	service_up
	summary
}
