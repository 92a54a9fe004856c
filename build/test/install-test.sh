#!/bin/sh
# install-test.sh DIST: tests install.sh against a loopback HTTP server that
# serves DIST (the binaries of `make cross` and the files of `make packaging`,
# with checksums.txt), installing into temporary roots with stand-ins for
# uname, getconf, the service managers and the runtimes. The installer runs
# under busybox ash, with busybox's applets as the userland (wget, no curl, no
# getconf, as on OpenWrt and Alpine) or with the host's and curl. Then the
# service files: shellcheck, systemd-analyze verify, the procd script's
# parameters, the OpenWrt Makefile's install step, the Kubernetes YAML.
set -eu

DIST=$(cd "$1" && pwd)
BUILD=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'kill "$HTTP_PID" 2>/dev/null || true; rm -rf "$W"' EXIT
HTTP_PID=

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}
pass() { printf 'ok   %s\n' "$*"; }

# --- The release, served: VERSION/FILE as on a mirror, latest a link.

serve() {
	mkdir -p "$W/www/v1.0.0"
	cp "$DIST"/* "$W/www/v1.0.0/"
	ln -s v1.0.0 "$W/www/latest"
	# v1.0.1: another binary; bad: checksums.txt lies about the amd64 binary.
	cp -r "$W/www/v1.0.0" "$W/www/v1.0.1"
	printf 'v1.0.1' >>"$W/www/v1.0.1/nriwasm-linux-amd64"
	(cd "$W/www/v1.0.1" && sha256sum nriwasm-linux-* >checksums.new &&
		grep -v ' nriwasm-linux-' checksums.txt >>checksums.new && mv checksums.new checksums.txt)
	cp -r "$W/www/v1.0.0" "$W/www/bad"
	sed -i 's/^[0-9a-f]\(.* nriwasm-linux-amd64\)$/0\1/; s/^0\(0.* nriwasm-linux-amd64\)$/1\1/' "$W/www/bad/checksums.txt"
	cmp -s "$W/www/bad/checksums.txt" "$W/www/v1.0.0/checksums.txt" && fail "tampering checksums.txt"
	python3 -u -m http.server --bind 127.0.0.1 0 --directory "$W/www" >"$W/http.log" 2>&1 &
	HTTP_PID=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\).*/\1/p' "$W/http.log")
		[ -z "$PORT" ] || break
		sleep 0.5
	done
	[ -n "$PORT" ] || fail "HTTP server: $(cat "$W/http.log")"
	BASE=http://127.0.0.1:$PORT
}

# --- Stand-ins, each logging its calls to $STUB_LOG and keeping the service's
# state (enabled, active) in files under $STUB_STATE.

stubs() {
	mkdir -p "$W/bb" "$W/stubs" "$W/getconf" "$W/host"
	busybox --install -s "$W/bb"
	ln -s /usr/bin/curl "$W/host/curl"
	cat >"$W/stub" <<'EOF'
#!/bin/sh
name=${0##*/}
case $name in
uname)
	if [ "$1" = -m ]; then echo "$FAKE_MACHINE"; else echo Linux; fi
	exit 0
	;;
getconf) echo "$FAKE_BITS"; exit 0 ;;
rc.common) set -- "$2" ;;    # INITSCRIPT VERB
rc-service) set -- "$2" ;;   # nriwasm VERB
esac
echo "$name $*" >>"$STUB_LOG"
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

# runtime NAME VERSION-LINE: a runtime on PATH that prints VERSION-LINE.
runtime() {
	mkdir -p "$W/rt"
	printf '#!/bin/sh\necho "%s"\n' "$2" >"$W/rt/$1"
	chmod +x "$W/rt/$1"
}

# newroot NAME INIT: an empty system for INIT; sets ROOT and the stub state.
newroot() {
	ROOT=$W/$1
	STUB_STATE=$W/$1.state
	rm -rf "$W/rt"
	mkdir -p "$STUB_STATE" "$ROOT/var/cache" "$ROOT/var/run/nri" "$ROOT/etc/init.d"
	case $2 in
	systemd) mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system" "$ROOT/run/systemd/system" ;;
	openrc)
		mkdir -p "$ROOT/usr/local/bin" "$ROOT/sbin"
		touch "$ROOT/sbin/openrc-run" && chmod +x "$ROOT/sbin/openrc-run"
		;;
	procd)
		mkdir -p "$ROOT/usr/bin" "$ROOT/usr/libexec"
		touch "$ROOT/etc/openwrt_release"
		cp "$W/stub" "$ROOT/etc/rc.common"
		;;
	esac
	export STUB_STATE
}

socket() {
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$ROOT/var/run/nri/nri.sock"
}

# snapshot: every path under ROOT with its mode, mtime and digest.
snapshot() {
	(cd "$ROOT" && find . -printf '%p %m %T@ ' -exec sh -c '[ -f "$1" ] && sha256sum <"$1" || echo' _ {} \; | sort)
}

# install NAME USERLAND [ENV=VALUE...] [-- FLAGS]: runs install.sh under
# busybox ash; output in $W/NAME.out, its stand-ins' calls in $W/NAME.log.
install() {
	name=$1 userland=$2
	shift 2
	case $userland in
	busybox) path=$W/stubs:$W/bb ;;
	host) path=$W/stubs:$W/host:/usr/bin:/bin ;;
	esac
	[ ! -d "$W/rt" ] || path=$W/rt:$path
	[ -z "${FAKE_BITS:-}" ] || path=$W/getconf:$path
	env_args="NRIWASM_ROOT=$ROOT NRIWASM_BASE_URL=$BASE"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		env_args="$env_args $1"
		shift
	done
	[ $# -eq 0 ] || shift
	: >"$W/$name.log"
	# shellcheck disable=SC2086 # env_args: one word per setting, no spaces
	if env -i PATH="$path" STUB_LOG="$W/$name.log" STUB_STATE="$STUB_STATE" \
		FAKE_MACHINE="$FAKE_MACHINE" FAKE_BITS="${FAKE_BITS:-}" $env_args \
		busybox ash "$BUILD/install.sh" "$@" >"$W/$name.out" 2>&1; then
		RC=0
	else
		RC=$?
	fi
}

expect_ok() {
	[ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$W/$1.out")"
}
expect_out() {
	grep -qF -- "$2" "$W/$1.out" || fail "$1: output lacks \"$2\": $(cat "$W/$1.out")"
}
# expect_calls NAME ERE: the stand-ins' calls in NAME, the changes only
# (queries left out), match ERE as a whole, one per line in order.
expect_calls() {
	got=$(grep -Ev ' (is-enabled|is-active|enabled|running|show|status)( |$)' "$W/$1.log" | tr '\n' ';' || true)
	printf '%s\n' "$got" | grep -Eqx -- "$2" || fail "$1: calls \"$got\", want \"$2\""
}
same_file() {
	cmp -s "$1" "$2" || fail "$2 differs from $1"
}

# --- install.sh

test_systemd() {
	newroot systemd systemd
	FAKE_MACHINE=x86_64 FAKE_BITS=
	socket
	before=$(cd "$ROOT" && find . | sort)

	# The one-liner's way: the script on stdin; the defaults: the latest release.
	name=first
	: >"$W/first.log"
	env -i PATH="$W/stubs:$W/bb" STUB_LOG="$W/first.log" STUB_STATE="$STUB_STATE" FAKE_MACHINE=x86_64 \
		NRIWASM_ROOT="$ROOT" NRIWASM_BASE_URL="$BASE" busybox ash -s - <"$BUILD/install.sh" >"$W/first.out" 2>&1 || fail "first: $(cat "$W/first.out")"
	expect_out $name "nriwasm latest for linux-amd64 and systemd"
	expect_out $name "NRI socket /var/run/nri/nri.sock: present"
	expect_out $name "not started: no plugins yet. Put NN-name.wasm files in /var/lib/nriwasm/plugins, then: systemctl start nriwasm.service"
	expect_calls $name 'systemctl daemon-reload;systemctl enable nriwasm.service;'
	same_file "$DIST/nriwasm-linux-amd64" "$ROOT/usr/local/bin/nriwasm"
	sed 's|/usr/bin/nriwasm|/usr/local/bin/nriwasm|' "$DIST/nriwasm.service" >"$W/unit"
	same_file "$W/unit" "$ROOT/etc/systemd/system/nriwasm.service"
	same_file "$DIST/config.toml" "$ROOT/etc/nriwasm/config.toml"
	[ -d "$ROOT/var/lib/nriwasm/plugins" ] || fail "no plugin directory"
	[ "$(stat -c %a "$ROOT/usr/local/bin/nriwasm" "$ROOT/etc/nriwasm/config.toml" "$ROOT/var/lib/nriwasm/plugins" "$ROOT/etc/nriwasm")" = "$(printf '755\n644\n755\n755')" ] ||
		fail "modes: $(stat -c '%n %a' "$ROOT/usr/local/bin/nriwasm" "$ROOT/etc/nriwasm/config.toml" "$ROOT/var/lib/nriwasm/plugins" "$ROOT/etc/nriwasm")"
	if [ "$(uname -m)" = x86_64 ]; then
		"$ROOT/usr/local/bin/nriwasm" version | grep -q '^nriwasm ' || fail "the installed binary does not run"
	fi
	pass "systemd: installs binary, unit, config and plugin directory, enables, does not start without plugins"

	# The installed unit, with the binary where it says.
	mkdir -p "$W/verify"
	sed "s|^ExecStart=|ExecStart=$ROOT|" "$ROOT/etc/systemd/system/nriwasm.service" >"$W/verify/nriwasm.service"
	out=$(systemd-analyze verify "$W/verify/nriwasm.service" 2>&1) || fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify: $out"
	pass "systemd: systemd-analyze verify accepts the installed unit"

	touch "$ROOT/var/lib/nriwasm/plugins/10-noop.wasm"
	install plugins busybox NRIWASM_VERSION=v1.0.0
	expect_ok plugins
	expect_calls plugins 'systemctl start nriwasm.service;'
	pass "systemd: starts once there are plugins"

	echo '# edited' >>"$ROOT/etc/nriwasm/config.toml"
	snap=$(snapshot)
	install rerun host NRIWASM_VERSION=v1.0.0
	expect_ok rerun
	expect_calls rerun ''
	expect_out rerun "running, unchanged: not restarted"
	expect_out rerun "nothing to change"
	[ "$(snapshot)" = "$snap" ] || fail "rerun changed files"
	pass "systemd: a second run (curl, host userland) changes no file, keeps the edited config, restarts nothing"

	install upgrade busybox NRIWASM_VERSION=v1.0.1
	expect_ok upgrade
	expect_calls upgrade 'systemctl restart nriwasm.service;'
	same_file "$W/www/v1.0.1/nriwasm-linux-amd64" "$ROOT/usr/local/bin/nriwasm"
	pass "systemd: another release replaces the binary and restarts the service"

	mkdir -p "$ROOT/var/cache/nriwasm/wazero" && touch "$ROOT/var/cache/nriwasm/wazero/x"
	uninstall systemd
	expect_calls uninstall 'systemctl stop nriwasm.service;systemctl disable nriwasm.service;systemctl daemon-reload;'
	after=$(cd "$ROOT" && find . | sort)
	kept=$(printf '%s\n' "$before" "$after" | sort | uniq -u | tr '\n' ' ')
	[ "$kept" = "./etc/nriwasm ./etc/nriwasm/config.toml ./var/lib/nriwasm ./var/lib/nriwasm/plugins ./var/lib/nriwasm/plugins/10-noop.wasm " ] ||
		fail "after uninstalling, beyond what was there before: $kept"
	pass "systemd: the uninstall script removes all it installed, keeps config and plugins"
}

# uninstall INIT: runs the uninstall script the way it was installed.
uninstall() {
	: >"$W/uninstall.log"
	case $1 in
	procd) script=$ROOT/usr/bin/nriwasm-uninstall.sh ;;
	*) script=$ROOT/usr/local/bin/nriwasm-uninstall.sh ;;
	esac
	env -i PATH="$W/stubs:$W/bb" STUB_LOG="$W/uninstall.log" STUB_STATE="$STUB_STATE" NRIWASM_ROOT="$ROOT" \
		busybox ash "$script" >"$W/uninstall.out" 2>&1 || fail "uninstall: $(cat "$W/uninstall.out")"
	expect_out uninstall "nriwasm removed"
}

test_openrc() {
	# Raspberry Pi OS: a 64-bit kernel, a 32-bit userland.
	newroot openrc openrc
	FAKE_MACHINE=aarch64 FAKE_BITS=32
	before=$(cd "$ROOT" && find . | sort)
	install openrc host NRIWASM_VERSION=v1.0.0
	expect_ok openrc
	expect_out openrc "linux-armv7 and openrc"
	expect_out openrc "not found (NRI is off, or the runtime is not running)"
	expect_calls openrc 'rc-update add nriwasm default;'
	same_file "$DIST/nriwasm-linux-armv7" "$ROOT/usr/local/bin/nriwasm"
	sed 's|/usr/bin/nriwasm|/usr/local/bin/nriwasm|' "$DIST/nriwasm.openrc" >"$W/openrc"
	same_file "$W/openrc" "$ROOT/etc/init.d/nriwasm"
	pass "openrc: aarch64 kernel with a 32-bit userland gets armv7; init script installed and added to the default runlevel"

	touch "$ROOT/var/lib/nriwasm/plugins/10-noop.wasm"
	install nosocket host NRIWASM_VERSION=v1.0.0
	expect_ok nosocket
	expect_calls nosocket ''
	expect_out nosocket "not started: no NRI socket (see the preflight above). Once there is one: rc-service nriwasm start"
	socket
	install socket host NRIWASM_VERSION=v1.0.0
	expect_calls socket 'rc-service nriwasm start;'
	snap=$(snapshot)
	install rerun host NRIWASM_VERSION=v1.0.0
	expect_calls rerun ''
	[ "$(snapshot)" = "$snap" ] || fail "openrc rerun changed files"
	pass "openrc: starts only with plugins and a socket; a second run changes nothing"

	uninstall openrc
	expect_calls uninstall 'rc-service nriwasm stop;rc-update del nriwasm default;'
	kept=$(printf '%s\n' "$before" "$(cd "$ROOT" && find . | sort)" | sort | uniq -u | tr '\n' ' ')
	[ "$kept" = "./etc/nriwasm ./etc/nriwasm/config.toml ./var/lib/nriwasm ./var/lib/nriwasm/plugins ./var/lib/nriwasm/plugins/10-noop.wasm ./var/run/nri/nri.sock " ] ||
		fail "openrc: after uninstalling, beyond what was there before: $kept"
	pass "openrc: the uninstall script stops, deletes from the runlevel, removes its files"
}

test_procd() {
	newroot procd procd
	FAKE_MACHINE=aarch64 FAKE_BITS=
	before=$(cd "$ROOT" && find . | sort)
	install procd busybox NRIWASM_VERSION=v1.0.0
	expect_ok procd
	expect_out procd "linux-arm64 and procd"
	expect_calls procd 'rc.common enable;'
	same_file "$DIST/nriwasm-linux-arm64" "$ROOT/usr/bin/nriwasm"
	same_file "$DIST/nriwasm.procd" "$ROOT/etc/init.d/nriwasm"
	same_file "$DIST/nriwasm-uci2toml" "$ROOT/usr/libexec/nriwasm-uci2toml"
	same_file "$DIST/nriwasm.uci" "$ROOT/etc/config/nriwasm"
	[ -d "$ROOT/etc/nriwasm/plugins" ] || fail "no plugin directory /etc/nriwasm/plugins"
	expect_out procd "Put NN-name.wasm files in /etc/nriwasm/plugins, then: /etc/rc.common /etc/init.d/nriwasm start"
	pass "procd: installs into /usr/bin, the init script, the renderer and /etc/config/nriwasm; enables"

	touch "$ROOT/etc/nriwasm/plugins/10-noop.wasm"
	socket
	install start busybox NRIWASM_VERSION=v1.0.0
	expect_calls start 'rc.common start;'
	snap=$(snapshot)
	install rerun busybox NRIWASM_VERSION=v1.0.0
	expect_calls rerun ''
	[ "$(snapshot)" = "$snap" ] || fail "procd rerun changed files"
	pass "procd: starts with plugins and a socket; a second run changes nothing"

	procd_params
	mkdir -p "$ROOT/var/etc/nriwasm" && touch "$ROOT/var/etc/nriwasm/config.toml"
	uninstall procd
	expect_calls uninstall 'rc.common stop;rc.common disable;'
	kept=$(printf '%s\n' "$before" "$(cd "$ROOT" && find . | sort)" | sort | uniq -u | tr '\n' ' ')
	[ "$kept" = "./etc/config ./etc/config/nriwasm ./etc/nriwasm ./etc/nriwasm/plugins ./etc/nriwasm/plugins/10-noop.wasm ./var/run/nri/nri.sock " ] ||
		fail "procd: after uninstalling, beyond what was there before: $kept"
	pass "procd: the uninstall script stops, disables, removes its files, keeps /etc/config/nriwasm"
}

# procd_params: the installed init script's start_service, with rc.common's
# functions standing in, renders the UCI configuration and asks procd for
# the documented instance.
procd_params() {
	out=$(
		ROOT=$ROOT W=$W busybox ash -c '
			config_load() { :; }
			config_get_bool() { eval "$1=\${ENABLED:-$4}"; }
			procd_open_instance() { echo open; }
			procd_set_param() { echo "$*"; }
			procd_close_instance() { echo close; }
			render() { sh "$ROOT/usr/libexec/nriwasm-uci2toml" "$ROOT/etc/config/nriwasm"; }
			. "$ROOT/etc/init.d/nriwasm"
			RENDER=render CONF=$W/procd.toml
			start_service
			ENABLED=0 start_service'
	)
	want="open
command /usr/bin/nriwasm run -config $W/procd.toml
respawn 3600 10 5
term_timeout 15
stdout 1
stderr 1
file $W/procd.toml
close"
	[ "$out" = "$want" ] || fail "procd instance: $out"
	sh "$ROOT/usr/libexec/nriwasm-uci2toml" "$ROOT/etc/config/nriwasm" | cmp -s - "$W/procd.toml" || fail "procd: rendered configuration"
	pass "procd: start_service renders /etc/config/nriwasm and sets command, respawn, term_timeout, file; enabled=0 starts nothing"
}

test_refusals() {
	newroot refuse systemd
	snap=$(snapshot)
	FAKE_MACHINE=x86_64 FAKE_BITS=
	install tampered busybox NRIWASM_VERSION=bad
	[ "$RC" != 0 ] || fail "a tampered checksum was accepted"
	expect_out tampered "nriwasm-linux-amd64: sha256 "
	expect_out tampered "refusing to install it"
	[ "$(snapshot)" = "$snap" ] || fail "a refused install changed files"
	pass "refuses a binary whose sha256 does not match checksums.txt, and changes nothing"

	for m in i686 mips armv5tel; do
		FAKE_MACHINE=$m
		install unsupported busybox NRIWASM_VERSION=v1.0.0
		[ "$RC" != 0 ] || fail "unsupported architecture $m accepted"
		expect_out unsupported "error: unsupported architecture: $m with a 64-bit userland (releases exist for amd64 arm64 armv7 armv6 riscv64"
	done
	FAKE_MACHINE=x86_64 FAKE_BITS=32
	install unsupported host NRIWASM_VERSION=v1.0.0
	expect_out unsupported "error: unsupported architecture: x86_64 with a 32-bit userland"
	FAKE_BITS=
	[ "$(snapshot)" = "$snap" ] || fail "an unsupported architecture changed files"
	pass "unsupported architectures (i686, mips, armv5, x86_64 with a 32-bit userland) get a clear error"

	install dry busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
	expect_ok dry
	expect_out dry "would install /usr/local/bin/nriwasm"
	expect_out dry "would run: systemctl enable nriwasm.service"
	expect_calls dry ''
	[ "$(snapshot)" = "$snap" ] || fail "--dry-run changed files"
	pass "--dry-run downloads and verifies, says what it would do, changes nothing"

	install flags busybox -- --version v1.0.0 --skip-enable --skip-start --bin-dir /opt/bin
	expect_ok flags
	expect_calls flags 'systemctl daemon-reload;'
	expect_out flags "not enabled at boot (skip-enable)"
	grep -qx 'ExecStart=/opt/bin/nriwasm run' "$ROOT/etc/systemd/system/nriwasm.service" || fail "--bin-dir: unit not pointed at /opt/bin"
	pass "--skip-enable, --skip-start and --bin-dir"
}

test_arches() {
	newroot arches none
	for case in x86_64/:amd64 aarch64/:arm64 aarch64/32:armv7 armv8l/32:armv7 armv7l/32:armv7 armv6l/32:armv6 riscv64/:riscv64; do
		FAKE_MACHINE=${case%%/*} FAKE_BITS=${case#*/}
		FAKE_BITS=${FAKE_BITS%:*}
		[ -n "$FAKE_BITS" ] || [ "${case%:*}" = "$FAKE_MACHINE/" ] || fail "test case $case"
		[ -n "$FAKE_BITS" ] || case $FAKE_MACHINE in aarch64 | x86_64 | riscv64) ;; esac
		install arch busybox NRIWASM_VERSION=v1.0.0 -- --dry-run
		expect_ok arch
		expect_out arch "linux-${case#*:} and none"
	done
	pass "architectures: x86_64, aarch64, armv8l, armv7l, armv6l and riscv64, 32-bit userlands included"
}
