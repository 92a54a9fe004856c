#!/bin/sh
# install-test.sh DIST: tests install.sh against a loopback HTTP server that
# serves DIST (the binaries of `make cross` and the files of `make packaging`,
# with checksums.txt), installing into temporary roots with stand-ins for
# uname, getconf, the service managers and the runtimes. The installer runs
# under busybox ash, with busybox's applets as the userland (wget, no curl, no
# getconf, as on OpenWrt and Alpine) or with the host's and curl. Then the
# other packaging: shellcheck, systemd-analyze verify, the procd script's
# instance, the OpenWrt package's install step, the Kubernetes YAML.
set -eu

DIST=$(cd "$1" && pwd)
BUILD=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
# Outside the PATHs the installer gets.
BUSYBOX=$(command -v busybox)
HTTP_PID=
trap 'if [ -n "$HTTP_PID" ]; then kill "$HTTP_PID"; fi; rm -rf "$W"' EXIT

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
pass() { printf 'ok   %s\n' "$*"; }

# serve: the release as a mirror has it, VERSION/FILE, latest a link; v1.0.1
# with another binary; bad with a checksums.txt that lies about the amd64 one,
# partial with one that leaves out the unit.
serve() {
	mkdir -p "$W/www/v1.0.0"
	cp "$DIST"/* "$W/www/v1.0.0/"
	ln -s v1.0.0 "$W/www/latest"
	cp -r "$W/www/v1.0.0" "$W/www/v1.0.1"
	printf 'v1.0.1' >>"$W/www/v1.0.1/nriwasm-linux-amd64"
	(cd "$W/www/v1.0.1" && sha256sum nriwasm-linux-amd64 >sum &&
		grep -v ' nriwasm-linux-amd64$' checksums.txt >>sum && mv sum checksums.txt)
	cp -r "$W/www/v1.0.0" "$W/www/bad"
	awk '$2 == "nriwasm-linux-amd64" { printf "%064d  %s\n", 0, $2; next } 1' \
		"$W/www/v1.0.0/checksums.txt" >"$W/www/bad/checksums.txt"
	cp -r "$W/www/v1.0.0" "$W/www/partial"
	grep -v ' nriwasm.service$' "$W/www/v1.0.0/checksums.txt" >"$W/www/partial/checksums.txt"
	python3 -u -m http.server --bind 127.0.0.1 0 --directory "$W/www" >"$W/http.log" 2>&1 &
	HTTP_PID=$!
	PORT=
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$W/http.log")
		[ -z "$PORT" ] || break
		sleep 0.5
	done
	[ -n "$PORT" ] || fail "HTTP server: $(cat "$W/http.log")"
	BASE=http://127.0.0.1:$PORT
}

# stubs: stand-ins for uname and getconf (FAKE_MACHINE, FAKE_BITS) and the
# service managers, which log each call to STUB_LOG and keep the service's
# state (enabled, active) in files under STUB_STATE.
stubs() {
	mkdir -p "$W/bb" "$W/stubs" "$W/getconf" "$W/host"
	busybox --install -s "$W/bb"
	ln -s "$(command -v curl)" "$W/host/curl"
	cat >"$W/stub" <<'EOF'
#!/bin/sh
name=${0##*/}
case $name in
uname)
	if [ "$1" = -m ]; then echo "$FAKE_MACHINE"; else echo Linux; fi
	exit 0
	;;
getconf)
	echo "$FAKE_BITS"
	exit 0
	;;
# Logged as the user would type them: rc.common by its verb.
rc.common)
	echo "rc.common $2" >>"$STUB_LOG"
	set -- "$2"
	;;
rc-service)
	echo "$name $*" >>"$STUB_LOG"
	set -- "$2"
	;;
*) echo "$name $*" >>"$STUB_LOG" ;;
esac
case $1 in
is-enabled | enabled) [ -e "$STUB_STATE/enabled" ] ;;
show) [ ! -e "$STUB_STATE/enabled" ] || echo ' nriwasm | default' ;;
is-active | status | running) [ -e "$STUB_STATE/active" ] ;;
enable | add) touch "$STUB_STATE/enabled" ;;
disable | del) rm -f "$STUB_STATE/enabled" ;;
start | restart) touch "$STUB_STATE/active" ;;
stop) rm -f "$STUB_STATE/active" ;;
esac
EOF
	chmod +x "$W/stub"
	for s in uname systemctl rc-update rc-service; do
		ln -s "$W/stub" "$W/stubs/$s"
	done
	ln -s "$W/stub" "$W/getconf/getconf"
}

# runtime NAME TEXT: a runtime on PATH whose --version prints TEXT.
runtime() {
	mkdir -p "$W/rt"
	printf '#!/bin/sh\ncat <<"END"\n%s\nEND\n' "$2" >"$W/rt/$1"
	chmod +x "$W/rt/$1"
}

# newroot NAME INIT: a system run by INIT, with nothing of nriwasm's yet.
newroot() {
	ROOT=$W/$1
	STUB_STATE=$W/$1.state
	rm -rf "$W/rt"
	mkdir -p "$STUB_STATE" "$ROOT/var/lib" "$ROOT/var/cache" "$ROOT/var/run/nri" "$ROOT/etc/init.d"
	case $2 in
	systemd) mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system" "$ROOT/run/systemd/system" ;;
	openrc)
		mkdir -p "$ROOT/usr/local/bin" "$ROOT/sbin"
		touch "$ROOT/sbin/openrc-run"
		chmod +x "$ROOT/sbin/openrc-run"
		;;
	procd)
		mkdir -p "$ROOT/usr/bin" "$ROOT/usr/libexec" "$ROOT/var/etc" "$ROOT/etc/config"
		touch "$ROOT/etc/openwrt_release"
		cp "$W/stub" "$ROOT/etc/rc.common"
		;;
	esac
}

# socket: the runtime's NRI socket.
socket() {
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$ROOT/var/run/nri/nri.sock"
}

paths() { (cd "$ROOT" && find . | sort); }

# snapshot: every path under ROOT with its mode, mtime and digest.
snapshot() {
	(cd "$ROOT" && find . -printf '%p %m %T@ ' -exec sh -c 'if [ -f "$1" ]; then sha256sum <"$1"; else echo; fi' _ {} \; | sort)
}

# kept BEFORE: the paths under ROOT that are not in BEFORE, on one line.
kept() {
	printf '%s\n' "$1" "$(paths)" | sort | uniq -u | tr '\n' ' '
}

# run_install NAME USERLAND [VAR=VALUE...] [-- FLAGS...]: runs install.sh under
# busybox ash; its output goes to $W/NAME.out, the stand-ins' calls to $W/NAME.log.
run_install() {
	name=$1 userland=$2
	shift 2
	case $userland in
	busybox) path=$W/stubs:$W/bb ;;
	host) path=$W/stubs:$W/host:/usr/bin:/bin ;;
	esac
	if [ -d "$W/rt" ]; then path=$W/rt:$path; fi
	if [ -n "$FAKE_BITS" ]; then path=$W/getconf:$path; fi
	settings="NRIWASM_ROOT=$ROOT NRIWASM_BASE_URL=$BASE"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		settings="$settings $1"
		shift
	done
	if [ $# -gt 0 ]; then shift; fi
	: >"$W/$name.log"
	# shellcheck disable=SC2086 # settings: one word each
	if env -i PATH="$path" STUB_LOG="$W/$name.log" STUB_STATE="$STUB_STATE" \
		FAKE_MACHINE="$FAKE_MACHINE" FAKE_BITS="$FAKE_BITS" $settings \
		"$BUSYBOX" ash "$BUILD/install.sh" "$@" >"$W/$name.out" 2>&1; then
		RC=0
	else
		RC=$?
	fi
}

# uninstall: runs the uninstall script install.sh wrote into BIN_DIR.
uninstall() {
	: >"$W/uninstall.log"
	env -i PATH="$W/stubs:$W/bb" STUB_LOG="$W/uninstall.log" STUB_STATE="$STUB_STATE" NRIWASM_ROOT="$ROOT" \
		"$BUSYBOX" ash "$ROOT$1/nriwasm-uninstall.sh" >"$W/uninstall.out" 2>&1 || fail "uninstall: $(cat "$W/uninstall.out")"
	expect_out uninstall "nriwasm removed"
}

expect_ok() {
	[ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$W/$1.out")"
}
expect_out() {
	grep -qF -- "$2" "$W/$1.out" || fail "$1: output lacks \"$2\": $(cat "$W/$1.out")"
}
# expect_calls NAME CALLS: the calls that change the service (queries left
# out) in NAME were CALLS, each followed by ;.
expect_calls() {
	got=$(grep -Ev ' (is-enabled|is-active|enabled|running|show|status)( |$)' "$W/$1.log" | tr '\n' ';' || true)
	[ "$got" = "$2" ] || fail "$1: calls \"$got\", want \"$2\""
}
same_file() {
	cmp -s "$1" "$2" || fail "$2 differs from $1"
}

test_systemd() {
	newroot systemd systemd
	FAKE_MACHINE=x86_64 FAKE_BITS=
	socket
	before=$(paths)

	# As the one-liner runs it: the script on stdin, every default (the
	# latest release), busybox's wget.
	: >"$W/first.log"
	env -i PATH="$W/stubs:$W/bb" STUB_LOG="$W/first.log" STUB_STATE="$STUB_STATE" FAKE_MACHINE=x86_64 \
		NRIWASM_ROOT="$ROOT" NRIWASM_BASE_URL="$BASE" "$BUSYBOX" ash -s - <"$BUILD/install.sh" >"$W/first.out" 2>&1 ||
		fail "first: $(cat "$W/first.out")"
	expect_out first "nriwasm latest for linux-amd64 and systemd"
	expect_out first "NRI socket /var/run/nri/nri.sock: present"
	expect_out first "not started: no plugins yet. Put NN-name.wasm files in /var/lib/nriwasm/plugins, then: systemctl start nriwasm.service"
	expect_calls first 'systemctl daemon-reload;systemctl enable nriwasm.service;'
	same_file "$DIST/nriwasm-linux-amd64" "$ROOT/usr/local/bin/nriwasm"
	sed 's|/usr/bin/nriwasm|/usr/local/bin/nriwasm|' "$DIST/nriwasm.service" >"$W/unit.want"
	same_file "$W/unit.want" "$ROOT/etc/systemd/system/nriwasm.service"
	same_file "$DIST/config.toml" "$ROOT/etc/nriwasm/config.toml"
	modes=$(cd "$ROOT" && stat -c '%n %a' usr/local/bin/nriwasm etc/systemd/system/nriwasm.service etc/nriwasm/config.toml etc/nriwasm var/lib/nriwasm/plugins | tr '\n' ' ')
	[ "$modes" = "usr/local/bin/nriwasm 755 etc/systemd/system/nriwasm.service 644 etc/nriwasm/config.toml 644 etc/nriwasm 755 var/lib/nriwasm/plugins 755 " ] || fail "modes: $modes"
	if [ "$(uname -m)" = x86_64 ]; then
		"$ROOT/usr/local/bin/nriwasm" version | grep -q '^nriwasm ' || fail "the installed binary does not run"
	fi
	pass "systemd: installs binary, unit, config and plugin directory; enables; no start without plugins"

	# The installed unit, with the binary where it names it.
	mkdir -p "$W/verify"
	sed "s|^ExecStart=|ExecStart=$ROOT|" "$ROOT/etc/systemd/system/nriwasm.service" >"$W/verify/nriwasm.service"
	out=$(systemd-analyze verify "$W/verify/nriwasm.service" 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
	pass "systemd: systemd-analyze verify accepts the installed unit"

	touch "$ROOT/var/lib/nriwasm/plugins/10-noop.wasm"
	run_install plugins busybox NRIWASM_VERSION=v1.0.0
	expect_ok plugins
	expect_calls plugins 'systemctl start nriwasm.service;'
	pass "systemd: starts once there are plugins"

	echo '# edited' >>"$ROOT/etc/nriwasm/config.toml"
	snap=$(snapshot)
	run_install rerun host NRIWASM_VERSION=v1.0.0
	expect_ok rerun
	expect_calls rerun ''
	expect_out rerun "running, unchanged: not restarted"
	expect_out rerun "nothing to change"
	[ "$(snapshot)" = "$snap" ] || fail "rerun changed files"
	pass "systemd: a second run (host userland, curl) changes no file, keeps the edited config, restarts nothing"

	run_install upgrade busybox NRIWASM_VERSION=v1.0.1
	expect_ok upgrade
	expect_calls upgrade 'systemctl restart nriwasm.service;'
	same_file "$W/www/v1.0.1/nriwasm-linux-amd64" "$ROOT/usr/local/bin/nriwasm"
	pass "systemd: another release replaces the binary and restarts the service"

	mkdir -p "$ROOT/var/cache/nriwasm/wazero"
	touch "$ROOT/var/cache/nriwasm/wazero/code"
	uninstall /usr/local/bin
	expect_calls uninstall 'systemctl stop nriwasm.service;systemctl disable nriwasm.service;systemctl daemon-reload;'
	left=$(kept "$before")
	[ "$left" = "./etc/nriwasm ./etc/nriwasm/config.toml ./var/lib/nriwasm ./var/lib/nriwasm/plugins ./var/lib/nriwasm/plugins/10-noop.wasm " ] ||
		fail "after uninstalling, besides what was there before: $left"
	pass "systemd: the uninstall script stops, disables, removes all it installed and the cache; keeps config and plugins"
}

test_openrc() {
	# Raspberry Pi OS: a 64-bit kernel, a 32-bit userland.
	newroot openrc openrc
	FAKE_MACHINE=aarch64 FAKE_BITS=32
	before=$(paths)
	run_install openrc host NRIWASM_VERSION=v1.0.0
	expect_ok openrc
	expect_out openrc "linux-armv7 and openrc"
	expect_out openrc "NRI socket /var/run/nri/nri.sock: not found"
	expect_calls openrc 'rc-update add nriwasm default;'
	same_file "$DIST/nriwasm-linux-armv7" "$ROOT/usr/local/bin/nriwasm"
	sed 's|/usr/bin/nriwasm|/usr/local/bin/nriwasm|' "$DIST/nriwasm.openrc" >"$W/openrc.want"
	same_file "$W/openrc.want" "$ROOT/etc/init.d/nriwasm"
	[ -x "$ROOT/etc/init.d/nriwasm" ] || fail "openrc: init script not executable"
	pass "openrc: an aarch64 kernel with a 32-bit userland gets armv7; init script installed, added to the default runlevel"

	touch "$ROOT/var/lib/nriwasm/plugins/10-noop.wasm"
	run_install nosocket host NRIWASM_VERSION=v1.0.0
	expect_ok nosocket
	expect_calls nosocket ''
	expect_out nosocket "not started: no NRI socket (see the preflight above). Once there is one: rc-service nriwasm start"
	socket
	run_install socket host NRIWASM_VERSION=v1.0.0
	expect_calls socket 'rc-service nriwasm start;'
	snap=$(snapshot)
	run_install rerun host NRIWASM_VERSION=v1.0.0
	expect_calls rerun ''
	[ "$(snapshot)" = "$snap" ] || fail "openrc: rerun changed files"
	pass "openrc: starts only with plugins and a socket; a second run changes nothing"

	uninstall /usr/local/bin
	expect_calls uninstall 'rc-service nriwasm stop;rc-update del nriwasm default;'
	left=$(kept "$before")
	[ "$left" = "./etc/nriwasm ./etc/nriwasm/config.toml ./var/lib/nriwasm ./var/lib/nriwasm/plugins ./var/lib/nriwasm/plugins/10-noop.wasm ./var/run/nri/nri.sock " ] ||
		fail "openrc: after uninstalling, besides what was there before: $left"
	pass "openrc: the uninstall script stops, deletes from the runlevel, removes its files"
}

test_procd() {
	newroot procd procd
	FAKE_MACHINE=aarch64 FAKE_BITS=
	before=$(paths)
	run_install procd busybox NRIWASM_VERSION=v1.0.0
	expect_ok procd
	expect_out procd "linux-arm64 and procd"
	expect_out procd "Put NN-name.wasm files in /etc/nriwasm/plugins, then: $ROOT/etc/rc.common $ROOT/etc/init.d/nriwasm start"
	expect_calls procd 'rc.common enable;'
	same_file "$DIST/nriwasm-linux-arm64" "$ROOT/usr/bin/nriwasm"
	same_file "$DIST/nriwasm.procd" "$ROOT/etc/init.d/nriwasm"
	[ -x "$ROOT/etc/init.d/nriwasm" ] || fail "procd: init script not executable"
	same_file "$DIST/nriwasm-uci2toml" "$ROOT/usr/libexec/nriwasm-uci2toml"
	same_file "$DIST/nriwasm.uci" "$ROOT/etc/config/nriwasm"
	[ -d "$ROOT/etc/nriwasm/plugins" ] || fail "procd: no plugin directory /etc/nriwasm/plugins"
	pass "procd: installs into /usr/bin, with the init script, the renderer and /etc/config/nriwasm; enables"

	touch "$ROOT/etc/nriwasm/plugins/10-noop.wasm"
	socket
	run_install start busybox NRIWASM_VERSION=v1.0.0
	expect_calls start 'rc.common start;'
	snap=$(snapshot)
	run_install rerun busybox NRIWASM_VERSION=v1.0.0
	expect_calls rerun ''
	[ "$(snapshot)" = "$snap" ] || fail "procd: rerun changed files"
	pass "procd: starts with plugins and a socket; a second run changes nothing"

	procd_instance
	mkdir -p "$ROOT/var/etc/nriwasm"
	touch "$ROOT/var/etc/nriwasm/config.toml"
	uninstall /usr/bin
	expect_calls uninstall 'rc.common stop;rc.common disable;'
	left=$(kept "$before")
	[ "$left" = "./etc/config/nriwasm ./etc/nriwasm ./etc/nriwasm/plugins ./etc/nriwasm/plugins/10-noop.wasm ./var/run/nri/nri.sock " ] ||
		fail "procd: after uninstalling, besides what was there before: $left"
	pass "procd: the uninstall script stops, disables, removes its files and the rendered config; keeps /etc/config/nriwasm"
}

# procd_instance: the installed init script's start_service, with rc.common's
# functions standing in, renders the UCI configuration and asks procd for the
# documented instance; with enabled 0 for none.
procd_instance() {
	# shellcheck disable=SC2016 # for the inner shell
	out=$(ROOT=$ROOT W=$W busybox ash -c '
		config_load() { :; }
		config_get_bool() { eval "$1=\${ENABLED:-$4}"; }
		procd_open_instance() { echo open; }
		procd_set_param() { echo "$*"; }
		procd_close_instance() { echo close; }
		render() { sh "$ROOT/usr/libexec/nriwasm-uci2toml" "$ROOT/etc/config/nriwasm"; }
		. "$ROOT/etc/init.d/nriwasm"
		RENDER=render CONF=$W/procd.toml
		start_service
		ENABLED=0 start_service')
	want="open
command /usr/bin/nriwasm run -config $W/procd.toml
respawn 3600 10 5
term_timeout 15
stdout 1
stderr 1
file $W/procd.toml
reload_signal HUP
close"
	[ "$out" = "$want" ] || fail "procd instance: $out"
	sh "$ROOT/usr/libexec/nriwasm-uci2toml" "$ROOT/etc/config/nriwasm" | cmp -s - "$W/procd.toml" || fail "procd: rendered configuration"
	pass "procd: start_service renders /etc/config/nriwasm; command, respawn, term_timeout, file, reload_signal; enabled 0 starts nothing"
}

test_refusals() {
	newroot refuse systemd
	snap=$(snapshot)
	FAKE_MACHINE=x86_64 FAKE_BITS=
	run_install tampered busybox NRIWASM_VERSION=bad
	[ "$RC" != 0 ] || fail "a tampered checksum was accepted"
	expect_out tampered "error: nriwasm-linux-amd64: sha256 "
	expect_out tampered "but checksums.txt says 0000000000000000000000000000000000000000000000000000000000000000: refusing to install it"
	[ "$(snapshot)" = "$snap" ] || fail "a refused install changed files"
	run_install partial busybox NRIWASM_VERSION=partial
	[ "$RC" != 0 ] || fail "a file missing from checksums.txt was accepted"
	expect_out partial "error: checksums.txt of partial has no entry for nriwasm.service: refusing to install it"
	[ "$(snapshot)" = "$snap" ] || fail "a refused install changed files"
	pass "refuses a binary whose sha256 is not the one in checksums.txt, or a file it has none for; changes nothing"

	for m in i686 mips armv5tel; do
		FAKE_MACHINE=$m
		run_install unsupported busybox NRIWASM_VERSION=v1.0.0
		[ "$RC" != 0 ] || fail "unsupported architecture $m accepted"
		expect_out unsupported "error: unsupported architecture: $m with a 64-bit userland (releases exist for amd64 arm64 armv7 armv6 riscv64"
	done
	FAKE_MACHINE=x86_64 FAKE_BITS=32
	run_install unsupported host NRIWASM_VERSION=v1.0.0
	expect_out unsupported "error: unsupported architecture: x86_64 with a 32-bit userland"
	FAKE_BITS=
	run_install unsupported busybox NRIWASM_ARCH=s390x
	expect_out unsupported "error: NRIWASM_ARCH=s390x: releases exist for amd64 arm64 armv7 armv6 riscv64"
	[ "$(snapshot)" = "$snap" ] || fail "an unsupported architecture changed files"
	pass "unsupported architectures (i686, mips, armv5, x86_64 with a 32-bit userland, NRIWASM_ARCH) get a clear error"

	run_install dry busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_ok dry
	expect_out dry "would install /usr/local/bin/nriwasm"
	expect_out dry "would run: systemctl enable nriwasm.service"
	expect_calls dry ''
	[ "$(snapshot)" = "$snap" ] || fail "--dry-run changed files"
	pass "--dry-run downloads and verifies, says what it would do, changes nothing"

	run_install flags busybox -- --version v1.0.0 --skip-enable --skip-start --bin-dir /opt/bin
	expect_ok flags
	expect_calls flags ''
	expect_out flags "service manager left alone (skip-enable, skip-start)"
	grep -qx 'ExecStart=/opt/bin/nriwasm run' "$ROOT/etc/systemd/system/nriwasm.service" || fail "--bin-dir: unit not pointed at /opt/bin"
	[ -x "$ROOT/opt/bin/nriwasm-uninstall.sh" ] || fail "--bin-dir: no uninstall script in /opt/bin"
	run_install skip busybox NRIWASM_VERSION=v1.0.1 -- --skip-start
	expect_calls skip 'systemctl daemon-reload;systemctl enable nriwasm.service;'
	expect_out skip "not started (skip-start)"
	pass "--version, --skip-enable, --skip-start and --bin-dir"
}

test_arches() {
	newroot arches none
	for case in x86_64/:amd64 aarch64/:arm64 riscv64/:riscv64 aarch64/32:armv7 armv8l/32:armv7 armv7l/32:armv7 armv6l/32:armv6; do
		FAKE_MACHINE=${case%%/*}
		bits=${case#*/}
		FAKE_BITS=${bits%%:*}
		run_install arch busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
		expect_ok arch
		expect_out arch "linux-${case#*:} and none"
	done
	FAKE_BITS=
	pass "architectures: x86_64, aarch64, riscv64; aarch64, armv8l, armv7l, armv6l with 32-bit userlands"
}

# snippet NAME: the text between the first pair of cut marks in NAME's output.
snippet() {
	awk '/^----8<----$/ { if (n++) exit; next } n' "$W/$1.out"
}

test_preflight() {
	newroot preflight none
	FAKE_MACHINE=x86_64 FAKE_BITS=
	runtime k3s "k3s version v1.32.2+k3s1 (45ba2a3e)
go version go1.23.6"
	run_install k3s busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out k3s "NRI socket /var/run/nri/nri.sock: not found"
	expect_out k3s "k3s 1.32.2+k3s1 (embedded containerd 2.x)"
	expect_out k3s "to enable NRI, write /var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl, then restart k3s:"
	snippet k3s | cmp -s - "$BUILD/k3s/config-v3.toml.tmpl" || fail "k3s snippet is not k3s/config-v3.toml.tmpl: $(snippet k3s)"
	runtime k3s "k3s version v1.31.5+k3s1 (d2e3f4a5)"
	run_install k3s busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out k3s "k3s 1.31.5+k3s1 (embedded containerd 1.7)"
	expect_out k3s "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl, then restart k3s"
	runtime k3s "k3s version v1.31.6+k3s1 (d2e3f4a5)"
	run_install k3s busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out k3s "k3s 1.31.6+k3s1 (embedded containerd 2.x)"
	pass "preflight: k3s's version, its template file, the snippet of k3s/config-v3.toml.tmpl"

	rm -rf "$W/rt"
	runtime containerd "containerd github.com/containerd/containerd v1.7.25 bcc810d6b9066471b0b6fa75f557a15a1cbf31bb"
	runtime crio "Version:        1.32.0
GitCommit:      b9c0d5b"
	run_install others busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out others "containerd 1.7.25"
	expect_out others "to enable NRI, set this in /etc/containerd/config.toml (edit the table if it is there), then restart containerd:"
	[ "$(snippet others)" = '[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = "/var/run/nri/nri.sock"' ] || fail "containerd snippet: $(snippet others)"
	expect_out others "CRI-O 1.32.0"
	expect_out others "to enable NRI, write /etc/crio/crio.conf.d/10-nri.conf, then restart crio:"
	expect_out others '[crio.nri]'
	expect_out others 'nri_listen = "/var/run/nri/nri.sock"'

	rm -rf "$W/rt"
	runtime containerd "containerd containerd.io 1.6.33 d2d58213f83a351ca8f528a95fbd145f5654e957"
	run_install old busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out old "containerd 1.6.33: too old, NRI needs containerd 1.7 or later"
	rm -rf "$W/rt"
	run_install none busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out none "no container runtime found (k3s, containerd or crio on PATH)"

	socket
	runtime containerd "containerd github.com/containerd/containerd/v2 v2.0.4 1a43cb6a1035441f9aca8f5666a9b3ef9e70ab20"
	run_install on busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_out on "NRI socket /var/run/nri/nri.sock: present"
	expect_out on "containerd 2.0.4"
	if grep -q "to enable NRI" "$W/on.out"; then fail "preflight: a snippet although NRI is on"; fi
	pass "preflight: containerd and CRI-O versions and snippets; too old; none; no snippet when the socket is there"
}

test_lint() {
	shellcheck "$BUILD/install.sh" "$BUILD/openrc/nriwasm" "$BUILD/openwrt/files/nriwasm.init" \
		"$BUILD/openwrt/files/nriwasm-uci2toml" "$BUILD/test/install-test.sh" || fail "shellcheck"
	for f in "$BUILD/install.sh" "$BUILD/openrc/nriwasm" "$BUILD/openwrt/files/nriwasm.init" "$BUILD/openwrt/files/nriwasm-uci2toml"; do
		busybox ash -n "$f" || fail "busybox ash cannot parse $f"
	done
	pass "shellcheck and busybox ash -n: install.sh, the OpenRC and procd scripts, the renderer (and shellcheck: this test)"
}

# test_uci_busybox: OpenWrt's awk renders the samples as packaging_test.go
# checks them with the host's.
test_uci_busybox() {
	for uci in files/nriwasm.config $(cd "$BUILD/openwrt" && echo testdata/*.uci); do
		case $uci in
		files/*) want=testdata/default.toml ;;
		*) want=${uci%.uci}.toml ;;
		esac
		(cd "$BUILD/openwrt" && PATH=$W/bb sh files/nriwasm-uci2toml "$uci" | cmp -s - "$want") ||
			fail "busybox renders $uci otherwise than $want"
	done
	pass "openwrt: busybox sh and awk render the UCI samples as expected"
}

# test_k8s: the kustomization and the DaemonSet parse, with volumes at
# nriwasm's configured paths. (Its memory against the budget: packaging_test.go.)
test_k8s() {
	py=
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import yaml, tomllib' 2>/dev/null; then
			py=$p
			break
		fi
	done
	[ -n "$py" ] || fail "no python3 with yaml and tomllib (apt-get install python3-yaml)"
	"$py" - "$BUILD/k8s" "$BUILD/../config.toml" <<'EOF' || fail "k8s manifests"
import os, sys, tomllib, yaml

d, defaults = sys.argv[1], tomllib.load(open(sys.argv[2], "rb"))
k = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
assert k["kind"] == "Kustomization", k
gen, = k["configMapGenerator"]
for f in k["resources"] + gen["files"]:
    assert os.path.isfile(os.path.join(d, f)), f
conf = dict(defaults, **tomllib.load(open(os.path.join(d, "config.toml"), "rb")))

ds, = yaml.safe_load_all(open(os.path.join(d, "daemonset.yaml")))
assert (ds["apiVersion"], ds["kind"]) == ("apps/v1", "DaemonSet"), ds
assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
pod = ds["spec"]["template"]["spec"]
c, = pod["containers"]
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
assert mounts.keys() == vols.keys(), (mounts, vols)
for name, path in ("nri", os.path.dirname(conf["socket"])), ("plugins", conf["plugin_dir"]), ("cache", conf["cache_dir"]):
    assert vols[name]["hostPath"]["path"] == mounts[name]["mountPath"] == path, (name, path)
assert mounts["plugins"]["readOnly"]
assert vols["config"]["configMap"]["name"] == gen["name"]
assert (mounts["config"]["mountPath"], mounts["config"]["subPath"]) == ("/etc/nriwasm/config.toml", "config.toml")
assert c["args"] == ["run", "-config", "/etc/nriwasm/config.toml"], c["args"]
sc = c["securityContext"]
assert sc["capabilities"]["drop"] == ["ALL"] and not sc["allowPrivilegeEscalation"] and sc["readOnlyRootFilesystem"]
EOF
	pass "k8s: kustomization and DaemonSet parse; hostPaths at the configured socket, plugin and cache directories"
}

# test_openwrt_package: the package's install step, with an SDK's
# definitions standing in; built without cgo.
test_openwrt_package() {
	sdk=$W/sdk
	mkdir -p "$sdk/include" "$sdk/feeds/packages/lang/golang"
	cat >"$sdk/rules.mk" <<'EOF'
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_CONF:=install -m0600
EOF
	cat >"$sdk/include/package.mk" <<'EOF'
define BuildPackage
install:
	$$(call Package/$(1)/install,$$(DEST))
endef
EOF
	cat >"$sdk/feeds/packages/lang/golang/golang-package.mk" <<'EOF'
GO_PKG_TARGET_VARS=GOOS=linux CGO_ENABLED=1
GO_PKG_DEFAULT_LDFLAGS=-linkmode external
GoBinPackage=
define GoPackage/Package/Install/Bin
	$(INSTALL_DIR) $(1)/usr/bin && touch $(1)/usr/bin/nriwasm
endef
EOF
	mk="make -s --no-print-directory -C $BUILD/openwrt TOPDIR=$sdk INCLUDE_DIR=$sdk/include DEST=$W/ipk"
	$mk install || fail "OpenWrt package install"
	[ -f "$W/ipk/usr/bin/nriwasm" ] || fail "OpenWrt package: no binary"
	[ -d "$W/ipk/etc/nriwasm/plugins" ] || fail "OpenWrt package: no plugin directory"
	same_file "$BUILD/openwrt/files/nriwasm.init" "$W/ipk/etc/init.d/nriwasm"
	same_file "$BUILD/openwrt/files/nriwasm.config" "$W/ipk/etc/config/nriwasm"
	same_file "$BUILD/openwrt/files/nriwasm-uci2toml" "$W/ipk/usr/libexec/nriwasm-uci2toml"
	[ -x "$W/ipk/etc/init.d/nriwasm" ] || fail "OpenWrt package: init script not executable"
	[ -x "$W/ipk/usr/libexec/nriwasm-uci2toml" ] || fail "OpenWrt package: renderer not executable"
	[ "$(cat "$W/ipk/lib/upgrade/keep.d/nriwasm")" = /etc/nriwasm/ ] || fail "OpenWrt package: keep.d"
	# shellcheck disable=SC2016 # for make to expand
	vars=$($mk --eval 'vars: ; @echo $(GO_PKG_TARGET_VARS) / $(GO_PKG_DEFAULT_LDFLAGS)' vars)
	[ "$vars" = "GOOS=linux CGO_ENABLED=0 / -buildid  -linkmode internal" ] || fail "OpenWrt package: Go settings $vars"
	pass "openwrt: the package installs binary, init script, renderer, UCI config, keep.d; builds without cgo"
}

# test_yocto: bitbake does not run here; the files the recipe installs exist.
test_yocto() {
	recipe=$BUILD/yocto/nriwasm_git.bb
	# shellcheck disable=SC2016 # the recipe's text
	files=$(sed -n 's|.*\$src/\([^ ]*\) .*|\1|p' "$recipe")
	[ "$(echo "$files" | wc -l)" = 2 ] || fail "yocto: installed files: $files"
	for f in $files; do
		[ -f "$BUILD/../$f" ] || fail "yocto: $f does not exist"
	done
	# shellcheck disable=SC2016 # the recipe's text
	grep -qx 'SYSTEMD_SERVICE:${PN} = "nriwasm.service"' "$recipe" || fail "yocto: SYSTEMD_SERVICE"
	pass "yocto: the recipe installs files that exist (not built: no bitbake)"
}

{
	serve
	stubs
	test_lint
	test_systemd
	test_openrc
	test_procd
	test_refusals
	test_arches
	test_preflight
	test_uci_busybox
	test_k8s
	test_openwrt_package
	test_yocto
	echo "install-test: all passed"
}
