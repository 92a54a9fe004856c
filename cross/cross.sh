#!/usr/bin/env bash
# The work behind cross/cross.mk, which passes GO, GOBUILD (the top-level
# Makefile's release build command) and VERSION in the environment.
#
#   cross.sh size DIST        each binary against its budget: baseline + 1 MiB
#   cross.sh deps DIR         write the dependency lists DIR/nriwasm-linux-NAME.txt
#   cross.sh deps-check DIR   fail if DIR differs from what deps would write
#   cross.sh skeleton         measure cross/skeleton for every target, next to the baseline
#   cross.sh test NAME...     run the targets under qemu-user; also needs DIST,
#                             WORK, PLUGIN_DIRS, SKIP_EMULATED, SKIP_INTERP and
#                             NO_PKG_TESTS (see cross.mk)
set -euo pipefail
cd "$(dirname "$0")/.."
SELF=$PWD/cross/cross.sh
ALLOWANCE=$((1 << 20))
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

targets() { awk '!/^#/ && NF {print $1}' cross/targets.txt; }

# use NAME selects a target of targets.txt: its fields, goenv (the Go
# environment of the build) and qemu (the command prefix that runs it).
use() {
	local name="" run rest
	read -r name goarch genv run engine baseline rest < <(awk -v t="$1" '$1 == t' cross/targets.txt) || true
	[[ $name == "$1" ]] || { echo "cross: no target $1 in cross/targets.txt" >&2; exit 2; }
	goenv=(GOOS=linux GOARCH="$goarch" CGO_ENABLED=0 "$genv")
	case $run in
	-) qemu=() ;;
	*:*) qemu=("qemu-${run%%:*}-static" -cpu "${run#*:}") ;;
	*) qemu=("qemu-$run-static") ;;
	esac
}

# build ARG...: the release build for the selected target; ARGs come after
# GOBUILD's own flags and override them.
build() { eval "env ${goenv[*]} $GOBUILD \"\$@\""; }

mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }

size() {
	local dir=$1 over=() t bytes budget
	printf '%-8s %10s %10s %10s %10s\n' target binary baseline budget headroom
	for t in $(targets); do
		use "$t"
		bytes=$(stat -c %s "$dir/nriwasm-linux-$t")
		budget=$((baseline + ALLOWANCE))
		printf '%-8s %10s %10s %10s %10s' "$t" "$(mib "$bytes")" "$(mib "$baseline")" "$(mib "$budget")" "$(mib $((budget - bytes)))"
		if ((bytes > budget)); then echo "  OVER"; over+=("$t"); else echo; fi
	done
	((${#over[@]})) || return 0
	for t in "${over[@]}"; do
		use "$t"
		growth "$t"
	done
	echo "cross-size: ${over[*]}: more than $(mib $ALLOWANCE) over the baseline" >&2
	exit 1
}

# growth NAME: what the binary has beyond the skeleton, by package, and how
# its dependencies differ from the checked-in list.
growth() {
	build -ldflags= -o "$TMP/nriwasm" .
	build -ldflags= -o "$TMP/skeleton" ./cross/skeleton
	echo
	echo "$1: symbol bytes by package, nriwasm minus skeleton, largest 20:"
	LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,2.2 <(bypackage "$TMP/nriwasm") <(bypackage "$TMP/skeleton") |
		awk '{print $2 - $3, $1}' | sort -rn | head -20 | awk '{printf "  %+8.1f KiB  %s\n", $1 / 1024, $2}'
	echo "$1: dependencies against cross/deps/nriwasm-linux-$1.txt (> new, < gone):"
	depslist "$1" | diff "cross/deps/nriwasm-linux-$1.txt" - | grep '^[<>]' || echo "  none"
}

# bypackage BIN: "package bytes" for the symbols of an unstripped BIN.
bypackage() {
	"$GO" tool nm -size "$1" | awk '
		NF >= 4 && $3 ~ /^[TtRrDdBb]$/ {
			n = $4; sub(/\[.*/, "", n); sub(/^type:\*?/, "", n)
			if (n ~ /^go:/) n = "(funcdata+itabs,all)"
			else if (n !~ /^[[:alnum:]]/ || !match(n, /\.[^\/]*$/)) n = "(other)"
			else n = substr(n, 1, RSTART - 1)
			bytes[n] += $2
		}
		END { for (n in bytes) print n, bytes[n] }' | LC_ALL=C sort
}

# depslist NAME: the modules and packages that the release build of the
# selected target links, leaving out the main module and the standard
# library's internals (they change with every Go release).
depslist() {
	echo "# nriwasm-linux-$1 (GOARCH=$goarch $genv): go list -deps of the release build."
	echo "# Regenerate with make cross-deps; CI fails while this file is stale."
	env "${goenv[@]}" "$GO" list -deps -f '{{.ImportPath}} {{.Standard}} {{with .Module}}{{.Main}} {{.Path}} {{.Version}}{{end}}' . |
		awk '$2 == "true" && $1 ~ /(^|\/)internal(\/|$)|^vendor\// || $3 == "true" {next}
			{print "package", $1} NF == 5 {print "module", $4, $5}' | LC_ALL=C sort -u
}

deps() {
	local t
	mkdir -p "$1"
	for t in $(targets); do
		use "$t"
		depslist "$t" >"$1/nriwasm-linux-$t.txt"
	done
}

deps_check() {
	deps "$TMP/deps"
	diff -ru "$1" "$TMP/deps" || {
		echo "cross-deps-check: $1 is stale: run make cross-deps, review the diff and commit it" >&2
		exit 1
	}
}

skeleton() {
	local t
	printf '%-8s %10s %10s\n' target skeleton baseline
	for t in $(targets); do
		use "$t"
		build -o "$TMP/$t" ./cross/skeleton
		printf '%-8s %10s %10s\n' "$t" "$(stat -c %s "$TMP/$t")" "$baseline"
	done
}

# test_all NAME...: test_target for each target, as many at once as there
# are CPUs, the long ones (package tests under qemu) first.
test_all() {
	local start=$SECONDS t
	TEST_PKGS=$("$GO" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./wasm/... ./nri/... |
		sed "s|^$PWD/||" | grep -v '^nri/e2e')
	export TEST_PKGS
	mkdir -p "$WORK"
	local long=() short=()
	for t in "$@"; do
		use "$t"
		if ((${#qemu[@]})) && pkg_tests "$t"; then long+=("$t"); else short+=("$t"); fi
	done
	if printf '%s\n' "${long[@]}" "${short[@]}" | xargs -P "$(nproc)" -I{} "$SELF" test-target {}; then
		echo "cross-test: $* passed in $((SECONDS - start))s"
	else
		echo "cross-test: failed after $((SECONDS - start))s; logs in $WORK" >&2
		exit 1
	fi
}

# pkg_tests NAME: whether NAME runs the package tests.
pkg_tests() { [[ " $NO_PKG_TESTS " != *" $1 "* ]]; }

# test_target NAME: prepares NAME's directory under WORK and runs each step
# in a process of its own (so that set -e holds in it), reporting each.
test_target() {
	use "$1"
	local w=$WORK/$1 d failed=0 s pkg
	rm -rf "$w"
	mkdir -p "$w/xdg" "$w/test"
	# A private compilation cache; deadlines for interpreters under emulation.
	printf 'cache_dir = "cache"\nplugin_dir = ""\n[defaults]\ntimeout = "10s"\n' >"$w/config.toml"
	chmod 0755 "$w" && chmod 0644 "$w/config.toml"
	# The injector alone from each plugin directory: its env shows in the demo.
	for d in $PLUGIN_DIRS; do
		install -d -m 0755 "$w/demo-${d##*/}"
		install -m 0644 "$d"/20-injector.* "$w/demo-${d##*/}"
	done
	# Package tests run with a compilation cache of their own, as the wasm
	# package prunes other architectures' entries from a shared one, but share
	# the guests that internal/testplugins builds: an emulated test binary
	# runs the host's go.
	d=${XDG_CACHE_HOME:-$HOME/.cache}/nriwasm-testplugins
	mkdir -p "$d" && ln -s "$d" "$w/xdg/nriwasm-testplugins"
	local steps=(version check demo)
	if pkg_tests "$1"; then
		steps+=(build-tests)
		for pkg in $TEST_PKGS; do steps+=("test:$pkg"); done
	fi
	for s in "${steps[@]}"; do
		SECONDS=0
		local log=$w/${s//[:\/]/-}.log
		if "$SELF" step "$1" "$s" >"$log" 2>&1; then
			echo "$1 $s: ok (${SECONDS}s)"
		else
			failed=1
			echo "$1 $s: FAILED (${SECONDS}s); from $log:"
			{ grep -v 'level=info' "$log" | grep -E -A12 '^ *--- FAIL|^panic:' ||
				grep -v 'level=info' "$log" | tail -40; } | sed 's/^/    /'
			[[ $s == build-tests ]] && break
		fi
	done
	return $failed
}

step() {
	use "$1"
	local w=$WORK/$1 bin=$DIST/nriwasm-linux-$1 d f pkg
	case $2 in
	version)
		"${qemu[@]}" "$bin" version | tee "$w/version.out"
		[[ $(head -1 "$w/version.out") == "nriwasm $VERSION" ]] || { echo "want: nriwasm $VERSION"; exit 1; }
		grep -q "^engine: *$engine " "$w/version.out" || { echo "want engine $engine"; exit 1; }
		;;
	check)
		# One file at a time: check admits the files it is given together
		# against memory_budget, and the interpreter's IR of two Go guests
		# exceeds the default budget.
		for d in $PLUGIN_DIRS; do
			for f in "$d"/*.wasm; do
				"${qemu[@]}" "$bin" check -config "$w/config.toml" -json "$f" | tee -a "$w/check.out"
			done
		done
		awk -v engine="\"engine\":\"$engine\"" '!/"ok":true/ || !index($0, engine) {print "want ok under the " engine; exit 1}' "$w/check.out"
		;;
	demo)
		for d in "$w"/demo-*; do
			"${qemu[@]}" "$bin" demo -config "$w/config.toml" -plugin-dir "$d" -json | tee "$w/${d##*/}.out"
			awk -v dir="${d##*/}" '/"error"/ {errors++}
				/"event":"CreateContainer"/ {creates++; injected += index($0, "{\"key\":\"NRIWASM_INJECTED\",\"value\":\"true\"}") > 0}
				END {if (errors || !creates || injected < creates) {print dir ": want no error and NRIWASM_INJECTED in every CreateContainer"; exit 1}}' "$w/${d##*/}.out"
		done
		;;
	build-tests)
		for pkg in $TEST_PKGS; do
			env "${goenv[@]}" "$GO" test -c -trimpath -o "$w/test/${pkg//\//-}.test" "./$pkg"
		done
		;;
	test:*)
		pkg=${2#test:}
		local skip=""
		((${#qemu[@]})) && skip=$SKIP_EMULATED
		[[ -n $skip && $engine == interpreter ]] && skip+="|$SKIP_INTERP"
		cd "$pkg"
		XDG_CACHE_HOME=$w/xdg PATH=$("$GO" env GOROOT)/bin:$PATH \
			"${qemu[@]}" "$w/test/${pkg//\//-}.test" -test.v -test.timeout=10m -test.skip "$skip"
		;;
	esac
}

cmd=${1:-}
shift || true
case $cmd in
size | deps | skeleton | step) "$cmd" "$@" ;;
deps-check) deps_check "$@" ;;
test) test_all "$@" ;;
test-target) test_target "$@" ;;
*)
	echo "usage: cross.sh size|deps|deps-check|skeleton|test|test-target|step ARG..." >&2
	exit 2
	;;
esac
