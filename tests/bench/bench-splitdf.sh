# shellcheck shell=sh disable=SC2034
# The timed half of `make bench` (scripts/bench/bench runs it as a case with
# SPLITDF_CASES_DIR=tests/bench).  Not part of the test suite.  Devices and
# configurations: tests/bench/bench-lib.sh.
#
# Per round, per device, per workload, one fio invocation per configuration,
# the order rotated every round.
#   timing:count (default, for QEMU -icount, where guest time counts guest
#       instructions): every job does a fixed number of I/Os (--number_ios and
#       --io_size), so IOPS are an instruction-cost measure and repeat exactly.
#       ios: PATTERN=SPLIT/FAST joined by '+' (see IOS_DEFAULT), I/Os per job
#       of the configurations that split the pattern's bios and of those that
#       do not; ios_pct scales them all (--quick).
#   timing:time: time-based jobs of runtime_ms after ramp_ms (plain TCG: noisy).
# No tracepoint, kprobe or perf event is touched while anything is timed;
# allocations are counted in another boot (tests/bench/bench-alloc.sh).
# Knobs (kernel command line):
#   splitdf_bench=rounds:1,timing:count,ios:rr4k=130000+sr1m=1000/4000,ios_pct:100,
#                 runtime_ms:500,ramp_ms:100,devs:nullb(+brd),
#                 workloads:rr4k+rr16k2k+rw16k2k+sr1m+sw1m,qd:32,engine:libaio,
#                 uring:none,profile_ms:0
# uring: these patterns also run with io_uring on null_blk.  profile_ms: after
# the timed pass, a flat perf profile of each configuration (cpu-clock).
DESCRIPTION="benchmark: splitdf split modes against dm-linear and dm-stripe (timed)"
TIMEOUT=5400
VM_MEM=1536

# shellcheck source=tests/bench/bench-lib.sh
. "${SPLITDF_TESTS:-/tests}/bench/bench-lib.sh"

# I/Os per job under timing:count, per pattern: SPLIT/FAST, SPLIT for the
# configurations that split the pattern's bios (dm-stripe, splitdf), FAST for
# those that do not (raw, dm-linear); 4k bios split nowhere.  Sized on 6.1
# and 7.2 cloud so that the fastest configuration, allowing for a split mode
# 1.3x dm-stripe, runs 1.1 s of guest time or more (fio's runtime is whole
# milliseconds, rounded up: below 0.1 % from 1 s on).
IOS_DEFAULT="rr4k=145000+rw4k=145000+rr16k2k=60000/125000+rw16k2k=62000/120000+sr1m=1500/25000+sw1m=1600/20000"

# ios_of WL CFG: I/Os per job; the knob ios_pct scales them all.
ios_of() {
	p=${1%%-*}
	v=$(echo "$IOS_DEFAULT+$(knob ios "")" | tr '+' '\n' | sed -n "s/^$p=//p" | tail -n1)
	[ -n "$v" ] || v=10000
	case $2 in
	raw | linear | linear2 | linear4) n=${v#*/} ;;
	*) n=${v%/*} ;;
	esac
	echo $(((n * IOS_PCT + 99) / 100))
}

# job_opts WL CFG: what one job's length is.
job_opts() {
	if [ "$TIMING" = count ]; then
		n=$(ios_of "$1" "$2")
		echo "--number_ios=$n --io_size=$((n * $(wl_bs "$1")))"
	else
		echo "--time_based --runtime=${RUNTIME_MS}ms --ramp_time=${RAMP_MS}ms"
	fi
}

# rotate N WORDS...: the words starting from index N mod count.
rotate() {
	n=$1
	shift
	k=$((n % $#))
	out=""
	i=0
	for w in "$@"; do
		[ $i -ge $k ] && out="$out $w"
		i=$((i + 1))
	done
	i=0
	for w in "$@"; do
		[ $i -lt $k ] && out="$out $w"
		i=$((i + 1))
	done
	echo "$out"
}

# timed_run DEV ROUND WL: one fio per configuration, in the round's order.
# Each is fio's job 1, and fio seeds its offsets with the job's number, so
# every configuration does the same I/Os: the same crossings, the same legs
# (as jobs of one fio, each would get offsets of its own).
timed_run() {
	d=$1 r=$2 wl=$3
	s=$(size_of "$d")
	sdf_reset "$d"
	: >fio.terse
	# shellcheck disable=SC2086 # CFGS: a list
	for c in $(rotate "$r" $CFGS); do
		# shellcheck disable=SC2046 # option lists
		fio --output-format=terse --terse-version=3 --direct=1 --cpus_allowed="$CPU" \
			--gtod_reduce=1 --norandommap --randrepeat=1 --size=$((s * 512)) \
			$(wl_opts "$wl") --name="$c" --filename="$(dev_of "$d" "$c")" \
			$(job_opts "$wl" "$c") >>fio.terse 2>fio.err ||
			{ cat fio.err fio.terse; fail "fio $d $wl $c round $r"; }
	done
	for c in $CFGS; do
		is_sdf "$c" && B "tstat $d $r $wl $c $(sdf_counters "$d" "$c")"
	done
	pos=0
	terse_jobs "$wl" fio.terse | while read -r c kib ms iops; do
		[ "$c" = ERR ] && fail "fio job $kib error $ms ($d $wl round $r)"
		B "perf $d $r $wl $c $kib $ms $iops $pos $(wl_bs "$wl")"
		pos=$((pos + 1))
	done
}

# profile_run DEV WL CFG: a flat kernel and user profile (cpu-clock sampling:
# TCG has no PMU) for PROFILE_MS while CFG runs WL, from 3 s after fio started.
profile_run() {
	d=$1 wl=$2 c=$3
	s=$(size_of "$d")
	# shellcheck disable=SC2046 # option lists
	fio --direct=1 --time_based --runtime="$((PROFILE_MS + 5000))ms" --cpus_allowed="$CPU" \
		--gtod_reduce=1 --norandommap --randrepeat=1 --size=$((s * 512)) $(wl_opts "$wl") \
		--name="$c" --filename="$(dev_of "$d" "$c")" --output=/dev/null >fio.err 2>&1 &
	fpid=$!
	sleep 3
	if ! perf record -q -e cpu-clock -C "$CPU" -o perf.data -- sleep "$((PROFILE_MS / 1000))" >perf.err 2>&1; then
		B "meta profile_failed $d $wl $c $(tail -n1 perf.err)"
		wait $fpid || true
		return 0
	fi
	wait $fpid || B "meta profile_fio_failed $d $wl $c $(tail -n1 fio.err)"
	perf report -i perf.data --stdio --no-children --sort sym 2>/dev/null |
		awk '/^ *[0-9.]+%/ { p = $1; sub(/%/, "", p); print p, $3 }' | head -n 60 |
		while read -r pct sym; do B "prof $d $wl $c $pct $sym"; done
	rm -f perf.data
}

profile_pass() {
	PROFILE_MS=$(knob profile_ms 0)
	[ "$PROFILE_MS" != 0 ] || return 0
	if ! command -v perf >/dev/null || ! echo " $DEVS " | grep -q ' nullb '; then
		B "meta profile none (no perf in the guest or no null_blk)"
		return 0
	fi
	echo 0 >/proc/sys/kernel/kptr_restrict
	echo -1 >/proc/sys/kernel/perf_event_paranoid
	B "meta profile perf record -e cpu-clock -C $CPU, ${PROFILE_MS} ms per configuration from 3 s after fio started, flat, kernel and user"
	for wl in $WORKLOADS; do
		progress "profile nullb $wl"
		for c in $CFGS; do
			case $c in linear2 | linear4 | raw) continue ;; esac
			profile_run nullb "$wl" "$c"
		done
	done
}

test_case() {
	set -e
	ROUNDS=$(knob rounds 1)
	TIMING=$(knob timing count)
	IOS_PCT=$(knob ios_pct 100)
	RUNTIME_MS=$(knob runtime_ms 500)
	RAMP_MS=$(knob ramp_ms 100)
	DEVS=$(knob devs nullb | tr '+' ' ')
	ENGINE=$(knob engine libaio)
	WORKLOADS=$(workloads_of "$(knob workloads rr4k+rr16k2k+rw16k2k+sr1m+sw1m)" "$(knob qd 32)")
	URING=""
	for w in $(knob uring none | tr '+' ' '); do
		[ "$w" = none ] || URING="$URING $(workloads_of "$w" "$(knob qd 32)" | sed 's/\([^ ]*\)/\1-uring/g')"
	done
	# fio on the last vCPU (vCPU 1 of 2 under plain TCG, the only one under icount).
	CPU=$(($(grep -c ^processor /proc/cpuinfo) - 1))

	bench_setup timed
	B "meta rounds $ROUNDS"
	B "meta timing $TIMING"
	if [ "$TIMING" = count ]; then
		B "meta ios $IOS_DEFAULT$(knob ios "" | sed 's/^./+&/') scaled to $IOS_PCT%"
	else
		B "meta runtime_ms $RUNTIME_MS"
		B "meta ramp_ms $RAMP_MS"
	fi
	B "meta uring_workloads_nullb$URING"
	B "meta fio_cpu $CPU"

	r=0
	while [ $r -lt "$ROUNDS" ]; do
		for d in $DEVS; do
			wls=$WORKLOADS
			[ "$d" = nullb ] && wls="$WORKLOADS $URING"
			for wl in $wls; do
				progress "round $((r + 1))/$ROUNDS $d $wl"
				timed_run "$d" "$r" "$wl"
			done
		done
		r=$((r + 1))
	done
	profile_pass
	bench_teardown
}
