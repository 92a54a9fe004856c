#!/usr/bin/env bash
# e2e.sh: nriwasm against real containerd, driven through the CRI with crictl.
# Run it with `make e2e`, which builds and caches everything it needs and
# passes it in the environment:
#
#   E2E_CONTAINERD  releases to test (see e2e.mk)
#   E2E_CACHE       containerd-VERSION/ with the daemon and its shim; nriwasm/
#                   is the suite's compilation cache
#   E2E_OUT         pause.tar, busybox.tar, trap.wasm, nriwasm-launched; logs/
#   NRIWASM, PLUGIN_OUT, CTR, CRICTL
#
# Per release: nriwasm run with the example plugins adjusts a container and
# logs each event; nriwasm registers again after containerd restarts; a
# trapping plugin is ignored or fails the create by its on_error; containerd
# launches nriwasm from its plugin_path. For the first release also: the
# injector loaded by nriwasm against loaded by containerd, in boot time and RSS
# (containerd loads Wasm plugins itself since NRI v0.10, containerd 2.2).
#
# State lives in a fresh directory under /tmp (short paths: socket names are
# limited to 108 bytes), removed at the end; the logs stay in E2E_OUT/logs.
# The last line is "N passed, M failed"; the exit code is 0 only if M is 0.
set -euo pipefail

: "${E2E_CONTAINERD:?} ${E2E_CACHE:?} ${E2E_OUT:?} ${NRIWASM:?} ${PLUGIN_OUT:?} ${CTR:?} ${CRICTL:?}"
[ "$(id -u)" = 0 ] || { echo "e2e: must run as root (containerd, runc, mounts)" >&2; exit 1; }
read -r FIRST _ <<<"$E2E_CONTAINERD"
LOGS=$E2E_OUT/logs
LAUNCHED=$E2E_OUT/nriwasm-launched
WASM_CACHE=$E2E_CACHE/nriwasm

# ------------------------------------------------------------------- helpers

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "PASS: $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
# check WHAT CMD...: one check, passed when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
die() {
	echo "FATAL: $*" >&2
	exit 1
}
say() { printf '\n=== %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# wait_for SECONDS CMD...: poll CMD every 20 ms until it succeeds.
wait_for() {
	local i n=$(($1 * 50))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	return 1
}
has() { grep -qxF -- "$1"; }
at_least() { [ "$(grep -c -- "$2" "$3")" -ge "$1" ]; } # at_least N PATTERN FILE
rss() { awk '/^VmRSS/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
gone() { ! alive "$1"; }
# stop PID: SIGTERM, then SIGKILL after 10 s.
stop() {
	alive "$1" || return 0
	kill -TERM "$1"
	wait_for 10 gone "$1" || kill -KILL "$1" 2>/dev/null || true
	wait_for 5 gone "$1" || true
}
# leftovers: the shims of our containerd, the nriwasm processes it launched,
# and what runs in our pods' cgroups.
leftovers() {
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $ADDR " ||
			[ "$(readlink "$p/exe" 2>/dev/null)" = "$LAUNCHED" ]; then
			echo "${p#/proc/}"
		fi
	done
	find /sys/fs/cgroup/*"$CGROUP_PARENT" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}
mounts() { awk -v e="$E2E/" 'index($2, e) == 1 { print $2 }' /proc/mounts; }
crictl() { "$CRICTL" --config "$E2E/etc/crictl.yaml" "$@"; }
ctr() { "$CTR" --address "$ADDR" -n k8s.io "$@"; }

# ---------------------------------------------------------------- containerd

STARTED=() # every process the suite starts, to prove none is left
V="" CONTAINERD_PID="" CONTAINERD_LOG="" BOOT="" STARTS=0
write_containerd_config() {
	cat >"$E2E/etc/containerd.toml" <<EOF
version = 3
root = '$E2E/$V/root'
state = '$E2E/$V/state'

[grpc]
  address = '$ADDR'

[ttrpc]
  address = '$ADDR.ttrpc'

[plugins]
  [plugins.'io.containerd.nri.v1.nri']
    disable = false
    socket_path = '$NRI_SOCK'
    plugin_path = '$NRI_PLUGINS'
    plugin_config_path = '$NRI_CONF'

  # containerd >= 2.2 passes this to its shim; older ones use /run/containerd/s.
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '$E2E/run/s'

  # "ctr images import" unpacks only for the platforms listed here.
  [plugins.'io.containerd.transfer.v1.local']
    [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
      platform = 'linux/$(go env GOARCH)'
      snapshotter = 'overlayfs'

  [plugins.'io.containerd.cri.v1.images']
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'localhost/e2e/pause:1'

  [plugins.'io.containerd.cri.v1.runtime']
    # Without CAP_SYS_RESOURCE (as in CI's sandbox) runc cannot lower
    # oom_score_adj below the runtime's own.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      Root = '$E2E/$V/runc'
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['$E2E/cni/bin']
      conf_dir = '$E2E/cni/net.d'

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
EOF
}

# start_containerd: starts containerd $V and waits until it has booted; BOOT
# is the boot time it reports.
start_containerd() {
	STARTS=$((STARTS + 1))
	CONTAINERD_LOG=$LOGS/containerd-$V.$STARTS.log
	# containerd finds its shim on PATH.
	PATH=$E2E_CACHE/containerd-$V:$PATH setsid "$E2E_CACHE/containerd-$V/containerd" \
		--config "$E2E/etc/containerd.toml" >"$CONTAINERD_LOG" 2>&1 </dev/null &
	CONTAINERD_PID=$!
	STARTED+=("$CONTAINERD_PID")
	wait_for 60 grep -q 'containerd successfully booted' "$CONTAINERD_LOG" ||
		die "containerd $V did not boot: $CONTAINERD_LOG"
	BOOT=$(grep -o 'booted in [0-9.]*' "$CONTAINERD_LOG" | awk '{ printf "%.2f", $3 }')
	echo "containerd $V booted in ${BOOT}s (log $CONTAINERD_LOG)"
}
stop_containerd() {
	stop "$CONTAINERD_PID"
	CONTAINERD_PID=""
}

# ------------------------------------------------------------------- nriwasm

NRIWASM_PID="" NRIWASM_LOG="" READY=""
# nriwasm_config NAME [LINE...]: writes $E2E/etc/NAME.toml for the runtime's
# socket and the suite's compilation cache, with the lines given.
nriwasm_config() {
	local name=$1
	shift
	printf 'socket = "%s"\ncache_dir = "%s"\n' "$NRI_SOCK" "$WASM_CACHE" >"$E2E/etc/$name.toml"
	printf '%s\n' "$@" >>"$E2E/etc/$name.toml"
}
# start_nriwasm NAME: `nriwasm run` with $E2E/etc/NAME.toml, until every plugin
# is registered; READY is the time that took (compiles included, on a cold
# cache).
start_nriwasm() {
	local t0
	NRIWASM_LOG=$LOGS/nriwasm-$V-$1.log
	t0=$(now)
	setsid "$NRIWASM" run -config "$E2E/etc/$1.toml" >"$NRIWASM_LOG" 2>&1 </dev/null &
	NRIWASM_PID=$!
	STARTED+=("$NRIWASM_PID")
	wait_for 120 grep -q 'msg="every plugin registered and synchronized"' "$NRIWASM_LOG" ||
		die "nriwasm did not register: $NRIWASM_LOG"
	READY=$(since "$t0")
	echo "nriwasm ($1) registered in ${READY}s (log $NRIWASM_LOG)"
}
stop_nriwasm() {
	stop "$NRIWASM_PID"
	NRIWASM_PID=""
}

# ---------------------------------------------------------------------- CRI

POD="" POD_NAME="" CID="" CREATED=""
# run_pod NAME: a host-network pod (no CNI) whose annotation asks the ulimit
# plugin for RLIMIT_NOFILE 1024/4096 in its container "app".
run_pod() {
	POD_NAME=$1
	cat >"$E2E/etc/pod-$1.json" <<EOF
{
  "metadata": {"name": "$1", "namespace": "default", "uid": "$1-uid"},
  "log_directory": "$E2E/podlogs/$1",
  "annotations": {
    "ulimits.noderesource.dev/container.app": "- type: RLIMIT_NOFILE\n  soft: 1024\n  hard: 4096\n"
  },
  "linux": {
    "cgroup_parent": "$CGROUP_PARENT",
    "security_context": {"namespace_options": {"network": 2}}
  }
}
EOF
	POD=$(crictl runp "$E2E/etc/pod-$1.json")
}
# create_app: creates container "app" in the pod; CREATED is crictl's output,
# the container's ID or the error.
create_app() {
	CREATED=$(crictl create "$POD" "$E2E/etc/app.json" "$E2E/etc/pod-$POD_NAME.json" 2>&1) && CID=$CREATED
}
write_app_config() {
	# PID 1 ignores SIGTERM unless it traps it: stop at once, not after a timeout.
	cat >"$E2E/etc/app.json" <<'EOF'
{
  "metadata": {"name": "app"},
  "image": {"image": "localhost/e2e/busybox:1"},
  "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
  "log_path": "app.log"
}
EOF
}
# run_app NAME: pod NAME with container "app" started.
run_app() {
	run_pod "$1"
	create_app || die "create in pod $1: $CREATED"
	crictl start "$CID" >/dev/null
}
remove_pod() {
	crictl stopp "$POD" >/dev/null
	crictl rmp "$POD" >/dev/null
}
# spec TEMPLATE: a Go template on the container's `crictl inspect`, whose
# .info.runtimeSpec is the OCI spec runc got.
spec() { crictl inspect -o go-template --template "$1" "$CID"; }
env_of() { spec '{{range .info.runtimeSpec.process.env}}{{println .}}{{end}}'; }
annotation_of() { spec "{{index .info.runtimeSpec.annotations \"$1\"}}"; }
rlimits_of() { spec '{{range .info.runtimeSpec.process.rlimits}}{{.type}} {{.soft}} {{.hard}}{{println}}{{end}}'; }

# check_injected WHAT: the injector's env and annotation (demo.conf) are in the spec.
check_injected() {
	check "$1: env NRIWASM_INJECTED=true in the OCI spec" has NRIWASM_INJECTED=true < <(env_of)
	check "$1: annotation nriwasm.dev/injected-by=injector in the OCI spec" \
		has injector < <(annotation_of nriwasm.dev/injected-by)
}
check_rlimit() {
	check "$1: RLIMIT_NOFILE 1024/4096 in the OCI spec" has 'RLIMIT_NOFILE 1024 4096' < <(rlimits_of)
}

# ---------------------------------------------------------------------- legs

# The example plugins adjust a container, and the logger logs every event.
leg_plugins() {
	say "$V: nriwasm run with the example plugins"
	nriwasm_config plugins "plugin_dir = \"$PLUGIN_OUT\""
	start_nriwasm plugins
	check "$V: nriwasm configured by containerd $V" \
		grep -q "msg=configured .*runtime=\"containerd $V\"" "$NRIWASM_LOG"
	run_app e2e-plugins
	local out
	# shellcheck disable=SC2016 # expanded in the container
	out=$(crictl exec "$CID" sh -c 'echo "NRIWASM_INJECTED=$NRIWASM_INJECTED nofile $(ulimit -Sn)/$(ulimit -Hn)"' 2>&1) || true
	echo "in the container: $out"
	check "$V: in the container: NRIWASM_INJECTED=true, nofile 1024/4096 (crictl exec)" \
		has 'NRIWASM_INJECTED=true nofile 1024/4096' <<<"$out"
	check_injected "$V"
	check_rlimit "$V"
	crictl update --cpu-share 256 "$CID" >/dev/null
	crictl stop "$CID" >/dev/null
	crictl rm "$CID" >/dev/null
	remove_pod
	# NRI before v0.12 sends every event but CreateContainer, UpdateContainer
	# and StopContainer as a StateChange, after the fact: allow it a moment.
	local ev
	for ev in RunPodSandbox CreateContainer PostCreateContainer StartContainer PostStartContainer \
		UpdateContainer PostUpdateContainer StopContainer RemoveContainer StopPodSandbox RemovePodSandbox; do
		check "$V: logger logged $ev" wait_for 2 grep -qE \
			"msg=\"$ev pod=default/e2e-plugins( container=app)?\" .*plugin=10-logger" "$NRIWASM_LOG"
	done
}

# containerd restarts under a running nriwasm, which registers again.
leg_restart() {
	say "$V: containerd restarts while nriwasm runs"
	local synced
	synced=$(grep -c msg=synchronized "$NRIWASM_LOG")
	stop_containerd
	start_containerd
	check "$V: nriwasm noticed the restart" grep -q 'msg="runtime connection lost; reconnecting"' "$NRIWASM_LOG"
	check "$V: every plugin synchronized again" wait_for 10 at_least $((2 * synced)) msg=synchronized "$NRIWASM_LOG"
	check "$V: nriwasm kept running" alive "$NRIWASM_PID"
	run_app e2e-restart
	check_injected "$V after the restart"
	check_rlimit "$V after the restart"
	remove_pod
	stop_nriwasm
}

# A plugin that traps in CreateContainer, beside the example plugins.
leg_trap() {
	local policy
	for policy in ignore fail; do
		say "$V: a trapping plugin with on_error = \"$policy\""
		nriwasm_config "trap-$policy" "plugin_dir = \"$PLUGIN_OUT\"" '[[plugin]]' 'name = "trap"' \
			'index = "40"' "path = \"$E2E_OUT/trap.wasm\"" "on_error = \"$policy\""
		start_nriwasm "trap-$policy"
		run_pod "e2e-trap-$policy"
		if [ "$policy" = ignore ]; then
			if create_app; then ok "$V: create succeeds despite the trap"; else bad "$V: create fails: $CREATED"; fi
			check "$V: the container starts" crictl start "$CID"
			check_injected "$V with an ignored trap"
			check "$V: nriwasm logged the ignored trap" \
				grep -q 'msg="plugin failed; replying empty (on_error = ignore)" plugin=40-trap' "$NRIWASM_LOG"
		else
			if create_app; then bad "$V: create succeeds despite the trap"; else ok "$V: create fails"; fi
			CREATED=$(grep -o 'nriwasm plugin [^\]*' <<<"$CREATED" | head -1) || true
			echo "create error: $CREATED"
			check "$V: the create error names the plugin" grep -q '^nriwasm plugin 40-trap: CreateContainer' <<<"$CREATED"
		fi
		remove_pod
		stop_nriwasm
	done
}

# containerd starts nriwasm from its plugin_path as plugin 40-injector, with
# the config it finds in plugin_config_path.
leg_launched() {
	say "$V: containerd launches nriwasm as plugin 40-injector"
	printf 'plugin_dir = "%s"\ncache_dir = "%s"\n' "$PLUGIN_OUT" "$WASM_CACHE" >"$E2E_OUT/launched.toml"
	# containerd waits 5 s for the registration: compile beforehand.
	check "$V: nriwasm check fills the compilation cache" \
		"$LAUNCHED" check -config "$E2E_OUT/launched.toml" "$PLUGIN_OUT/20-injector.wasm"
	ln -s "$LAUNCHED" "$NRI_PLUGINS/40-injector"
	echo 'env NRIWASM_LAUNCHED=by-containerd' >"$NRI_CONF/40-injector.conf"
	stop_containerd
	start_containerd
	check "$V: containerd synchronized the launched plugin" \
		grep -qF 'pre-installed NRI plugin \"40-injector\" synchronization success' "$CONTAINERD_LOG"
	run_app e2e-launched
	check "$V: env NRIWASM_LAUNCHED=by-containerd (from plugin_config_path) in the OCI spec" \
		has NRIWASM_LAUNCHED=by-containerd < <(env_of)
	remove_pod
	rm "$NRI_PLUGINS/40-injector" "$NRI_CONF/40-injector.conf"
	stop_containerd
}

# The injector loaded by nriwasm beside containerd, then by containerd itself.
COMPARE=()
leg_compare() {
	say "$V: the injector loaded by nriwasm, then by containerd itself"
	mkdir -p "$E2E/injector"
	cp "$PLUGIN_OUT/20-injector.wasm" "$PLUGIN_OUT/20-injector.conf" "$E2E/injector/"
	nriwasm_config injector "plugin_dir = \"$E2E/injector\""
	start_containerd
	local boot=$BOOT
	start_nriwasm injector
	run_app e2e-beside
	check_injected "$V beside"
	COMPARE+=("$(printf '%-28s %9ss %9s %9ss %9s' "nriwasm beside containerd" "$boot" \
		"$(rss "$CONTAINERD_PID")" "$READY" "$(rss "$NRIWASM_PID")")")
	remove_pod
	stop_nriwasm
	stop_containerd

	# containerd loads Wasm from plugin_path only with the exec bit.
	install -m 0755 "$PLUGIN_OUT/20-injector.wasm" "$NRI_PLUGINS/20-injector"
	cp "$PLUGIN_OUT/20-injector.conf" "$NRI_CONF/"
	start_containerd
	run_app e2e-inside
	check "$V: containerd loaded the Wasm plugin itself" grep -q 'Found WASM plugin' "$CONTAINERD_LOG"
	check_injected "$V inside"
	COMPARE+=("$(printf '%-28s %9ss %9s %10s %9s' "containerd itself" "$BOOT" "$(rss "$CONTAINERD_PID")" - -)")
	remove_pod
	rm "$NRI_PLUGINS/20-injector" "$NRI_CONF/20-injector.conf"
	stop_containerd
}

# ------------------------------------------------------------------ teardown

# teardown: removes every pod, stops what we started and what our containerd
# started, and unmounts what is left under $E2E.
teardown() {
	set +e
	if alive "$CONTAINERD_PID"; then crictl rmp -a -f >/dev/null 2>&1; fi
	stop_nriwasm
	stop_containerd
	local p m
	for p in $(leftovers); do stop "$p"; done
	for m in $(mounts | sort -r); do umount "$m" || umount -l "$m"; done
	find /sys/fs/cgroup/*"$CGROUP_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
	set -e
}
# check_clean WHAT: nothing of ours runs or is mounted any more.
check_clean() {
	local p running=()
	for p in "${STARTED[@]}" $(leftovers); do
		if alive "$p"; then running+=("$p"); fi
	done
	check "$1: no containerd, nriwasm or shim left running" test -z "${running[*]}"
	check "$1: nothing mounted under $E2E" test -z "$(mounts)"
}
FINISHED=0 RUN_CONTAINERD_EXISTED=0
on_exit() {
	local rc=$?
	trap - EXIT
	# A signal may have struck in a check, whose output goes to /dev/null.
	exec 1>&3 2>&4
	[ "$FINISHED" = 1 ] || { echo "ABORTED (exit code $rc): see $LOGS"; FAIL=$((FAIL + 1)); }
	teardown
	check_clean "the end"
	if [ -z "$(mounts)" ]; then rm -rf "$E2E"; fi
	# The shims of containerd < 2.2 put their sockets there, and remove them.
	if [ "$RUN_CONTAINERD_EXISTED" = 0 ]; then rmdir /run/containerd/s /run/containerd 2>/dev/null || true; fi
	echo
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

# ----------------------------------------------------------------------- run

if [ -e /run/containerd ]; then RUN_CONTAINERD_EXISTED=1; fi
E2E=$(mktemp -d /tmp/nriwasm-e2e.XXXXXX)
ADDR=$E2E/run/containerd.sock # absolute: ctr refuses a relative address
NRI_SOCK=$E2E/run/nri.sock
NRI_PLUGINS=$E2E/nri/plugins # containerd's plugin_path
NRI_CONF=$E2E/nri/conf.d     # and plugin_config_path
CGROUP_PARENT=/${E2E##*/}
exec 3>&1 4>&2
trap on_exit EXIT
trap 'exit 130' INT TERM
rm -rf "$LOGS"
mkdir -p "$LOGS" "$E2E/run" "$E2E/etc" "$NRI_PLUGINS" "$NRI_CONF" "$WASM_CACHE"
cat >"$E2E/etc/crictl.yaml" <<EOF
runtime-endpoint: unix://$ADDR
image-endpoint: unix://$ADDR
timeout: 30
EOF
write_app_config

T0=$(now)
for V in $E2E_CONTAINERD; do
	say "containerd $V"
	write_containerd_config
	start_containerd
	ctr images import "$E2E_OUT/pause.tar" >"$LOGS/import-$V.log" 2>&1
	ctr images import "$E2E_OUT/busybox.tar" >>"$LOGS/import-$V.log" 2>&1
	leg_plugins
	leg_restart
	leg_trap
	leg_launched
	if [ "$V" = "$FIRST" ]; then leg_compare; fi
	teardown
	check_clean "$V"
done

say "the injector ($(($(stat -c %s "$PLUGIN_OUT/20-injector.wasm") >> 20)) MiB of Wasm) with containerd $FIRST"
printf '%-28s %10s %9s %10s %9s\n' "loaded by" containerd "" nriwasm ""
printf '%-28s %10s %9s %10s %9s\n' "" boot RSS ready RSS
printf '%s\n' "${COMPARE[@]}"
echo
echo "suite: $(since "$T0")s"
FINISHED=1
