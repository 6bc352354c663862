# shellcheck shell=sh disable=SC2034
# The guest half of `make bench` (scripts/bench runs it as a case with
# SPLITDF_CASES_DIR=tests/bench).  Not part of the test suite.
#
# On one null_blk device (memory_backed=0, irqmode=0, blk-mq: the block
# layer's own cost) and one brd device, the same region is mapped by:
#   raw      the device itself
#   linear   dm-linear, one target
#   linear2  the same dm-linear again (A/A: the noise floor)
#   linear4  dm-linear, one target per leg (4 legs)
#   stripe   dm-stripe, one stripe, chunk = boundary_sectors (8)
#   clone, core, inline
#            splitdf, the same 4 legs, boundary_sectors 8, in each split_mode
#            (clone is the default table line; core and inline are skipped
#            when the module refuses split_mode)
# Timed pass: per round, per device, per workload, one fio invocation runs
# one stonewalled job per configuration, the order rotated every round
# (A B C ..., B C .. A, ...), so each pair of configurations is measured
# seconds apart.  Untimed pass: per workload and configuration, a fixed
# number of I/Os with kmem tracepoint histograms counting every slab and
# kmalloc allocation in the guest, plus splitdf's own counters.
# Then: slab objects of bio/dm caches back to the baseline, rmmod dm_splitdf.
#
# Output lines for scripts/bench-report start with "@@B "; progress lines
# start with "bench: ".  Knobs from the kernel command line:
#   splitdf_bench=rounds:5,runtime_ms:500,ramp_ms:100,devs:nullb+brd,alloc_devs:nullb,
#                 alloc_ios:1024,engine:libaio,workloads:all,uring:rr16k2k,profile_ms:2000
# uring: these patterns also run with io_uring on null_blk (timed pass only).
DESCRIPTION="benchmark: splitdf split modes against dm-linear and dm-stripe"
TIMEOUT=5400
VM_MEM=1536

TR=/sys/kernel/tracing
NULLB_MIB=1024
BRD_MIB=256
NLEGS=4
BOUNDARY=8

# knob NAME DEFAULT: a value from splitdf_bench=k:v,k:v on the command line.
knob() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^splitdf_bench=//p' | tr ',' '\n' |
		sed -n "s/^$1://p" | tail -n1)
	echo "${v:-$2}"
}

B() { echo "@@B $*"; }
progress() { echo "bench: $(date +%H:%M:%S) $*"; }

# fio options of a workload name (<pattern>-qd<N>[-uring]); -uring: io_uring
# instead of ENGINE.
wl_opts() {
	set -- "${1%-uring}" "$1"
	case ${1%-qd*} in
	rr4k) echo "--rw=randread --bs=4k" ;;
	rw4k) echo "--rw=randwrite --bs=4k" ;;
	rr16k2k) echo "--rw=randread --bs=16k --blockalign=2k" ;;
	rw16k2k) echo "--rw=randwrite --bs=16k --blockalign=2k" ;;
	sr1m) echo "--rw=read --bs=1m" ;;
	sw1m) echo "--rw=write --bs=1m" ;;
	*) fail "unknown workload $1" ;;
	esac
	echo "--iodepth=${1##*-qd}"
	case $2 in *-uring) echo "--ioengine=io_uring" ;; *) echo "--ioengine=$ENGINE" ;; esac
}

# Block size in bytes of a workload.
wl_bs() {
	set -- "${1%-uring}"
	case ${1%-qd*} in
	*4k) echo 4096 ;; *16k2k) echo 16384 ;; *1m) echo 1048576 ;;
	esac
}

# dev_of DEV CFG: the node fio uses.
dev_of() {
	if [ "$2" = raw ]; then base_of "$1"; else echo "/dev/mapper/$1_$2"; fi
}

base_of() {
	case $1 in nullb) echo /dev/nullb0 ;; brd) echo /dev/ram0 ;; esac
}

size_of() {
	case $1 in nullb) echo $((NULLB_MIB * 2048)) ;; brd) echo $((BRD_MIB * 2048)) ;; esac
}

# make_devices DEV: every configuration over the same region of DEV.
make_devices() {
	d=$1
	base=$(base_of "$d")
	s=$(size_of "$d")
	leg=$((s / NLEGS))
	legs="$NLEGS"
	lin4=""
	i=0
	while [ $i -lt $NLEGS ]; do
		legs="$legs $base $((i * leg)) $leg"
		lin4="$lin4$((i * leg)) $leg linear $base $((i * leg))
"
		i=$((i + 1))
	done
	dm_create "${d}_linear" "0 $s linear $base 0"
	# The same dm-linear again: linear2/linear is an A/A ratio, the noise floor.
	dm_create "${d}_linear2" "0 $s linear $base 0"
	dm_create "${d}_linear4" "$lin4"
	dm_create "${d}_stripe" "0 $s striped 1 $BOUNDARY $base 0"
	dm_create "${d}_clone" "0 $s splitdf $legs 2 boundary_sectors $BOUNDARY"
	CFGS="raw linear linear2 linear4 stripe clone"
	for m in core inline; do
		if echo "0 $s splitdf $legs 4 boundary_sectors $BOUNDARY split_mode $m" |
			dmsetup create "${d}_$m" 2>/dev/null; then
			dmsetup mknodes "${d}_$m"
			CFGS="$CFGS $m"
		else
			B "skip $d $m module refuses split_mode $m"
		fi
	done
	for c in $CFGS; do
		[ "$c" = raw ] || B "table $d $c $(dmsetup table "${d}_$c" | tr '\n' '|')"
	done
}

is_sdf() { case $1 in clone | core | inline) return 0 ;; esac; return 1; }

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

# Terse v3 fields: 3 job, 5 error, read 6 KiB 8 IOPS 9 ms, write 47 KiB 49 IOPS 50 ms.
# Prints "cfg kib runtime_ms iops" per job.
terse_jobs() {
	awk -F';' -v w="$1" 'NF > 50 && $1 == 3 {
		if ($5 != 0) { print "ERR", $3, $5; next }
		if (w ~ /^(rw|sw)/) print $3, $47, $50, $49; else print $3, $6, $9, $8 }' "$2"
}

# sdf_reset DEV / sdf_status DEV ROUND WL: splitdf counters around one fio run.
sdf_reset() {
	for c in $CFGS; do
		is_sdf "$c" && dmsetup message "$1_$c" 0 reset_counters
	done
	return 0
}

sdf_status() {
	for c in $CFGS; do
		is_sdf "$c" && B "tstat $1 $2 $3 $c $(dmsetup status "$1_$c" | cut -d' ' -f4-9)"
	done
	return 0
}

# timed_run DEV ROUND WL: one fio, one stonewalled job per configuration.
timed_run() {
	d=$1 r=$2 wl=$3
	s=$(size_of "$d")
	# shellcheck disable=SC2046 # option lists
	set -- --output-format=terse --terse-version=3 --direct=1 \
		--time_based --runtime="${RUNTIME_MS}ms" --ramp_time="${RAMP_MS}ms" --cpus_allowed=1 \
		--gtod_reduce=1 \
		--norandommap --randrepeat=1 --size=$((s * 512)) $(wl_opts "$wl")
	# shellcheck disable=SC2086 # CFGS is a list
	for c in $(rotate "$r" $CFGS); do
		set -- "$@" --name="$c" --filename="$(dev_of "$d" "$c")" --stonewall
	done
	sdf_reset "$d"
	fio "$@" >fio.terse 2>fio.err || { cat fio.err fio.terse; fail "fio $d $wl round $r"; }
	sdf_status "$d" "$r" "$wl"
	pos=0
	terse_jobs "$wl" fio.terse | while read -r c kib ms iops; do
		[ "$c" = ERR ] && fail "fio job $kib error $ms ($d $wl round $r)"
		B "perf $d $r $wl $c $kib $ms $iops $pos $(wl_bs "$wl")"
		pos=$((pos + 1))
	done
}

# Histogram triggers: every kmem allocation event, keyed by call site.
HIST_SPEC="hist:keys=call_site.sym:vals=hitcount:sort=hitcount.descending:size=4096"
PAGE_SPEC="hist:keys=order:vals=hitcount:size=128"
alloc_events() {
	for e in kmem_cache_alloc kmem_cache_alloc_node kmalloc kmalloc_node mm_page_alloc; do
		[ -e "$TR/events/kmem/$e/trigger" ] && echo "$e"
	done
}

spec_of() { if [ "$1" = mm_page_alloc ]; then echo "$PAGE_SPEC"; else echo "$HIST_SPEC"; fi; }

hist_on() {
	for e in $ALLOC_EVENTS; do spec_of "$e" >"$TR/events/kmem/$e/trigger"; done
}

hist_off() {
	for e in $ALLOC_EVENTS; do echo "!$(spec_of "$e")" >"$TR/events/kmem/$e/trigger"; done
}

# hist_total EVENT: hits since hist_on.
hist_total() {
	awk '/^ *Hits:/ { print $2 }' "$TR/events/kmem/$1/hist"
}

# hist_sites EVENT: the 6 busiest call sites, "symbol count".
hist_sites() {
	awk '/call_site:/ && /hitcount:/ {
		s = "?"
		for (i = 1; i < NF; i++) if ($i ~ /^\[[0-9a-f]+\]$/) s = $(i + 1)
		print s, $NF }' "$TR/events/kmem/$1/hist" | head -n 6
}

# alloc_fio DEV WL CFG N: N I/Os with the histograms on; prints the counts.
alloc_fio() {
	d=$1 wl=$2 c=$3 n=$4
	s=$(size_of "$d")
	hist_on
	# shellcheck disable=SC2046 # option lists
	fio --output-format=terse --terse-version=3 --direct=1 \
		--norandommap --randrepeat=1 --size=$((s * 512)) --number_ios="$n" \
		$(wl_opts "$wl") --name="$c" --filename="$(dev_of "$d" "$c")" >fio.terse 2>fio.err ||
		{ hist_off; cat fio.err fio.terse; fail "fio alloc $d $wl $c"; }
	line="alloc $d $wl $c $n $(terse_jobs "$wl" fio.terse | awk '{ print $2 }') $(wl_bs "$wl")"
	for e in $ALLOC_EVENTS; do line="$line $e=$(hist_total "$e")"; done
	B "$line"
}

# alloc_run DEV WL CFG: N and 2N I/Os; the difference is what N I/Os allocate,
# without fio's start-up and teardown.  Call sites and splitdf's counters are
# those of the 2N run.
alloc_run() {
	d=$1 wl=$2 c=$3
	n=$ALLOC_IOS
	case $wl in *1m-*) n=$((ALLOC_IOS / 8)) ;; esac
	alloc_fio "$d" "$wl" "$c" "$n"
	hist_off
	is_sdf "$c" && dmsetup message "${d}_$c" 0 reset_counters
	alloc_fio "$d" "$wl" "$c" $((2 * n))
	for e in $ALLOC_EVENTS; do
		[ "$e" = mm_page_alloc ] && continue
		hist_sites "$e" | while read -r sym cnt; do B "site $d $wl $c $e $sym $cnt"; done
	done
	hist_off
	is_sdf "$c" && B "astat $d $wl $c $(dmsetup status "${d}_$c" | cut -d' ' -f4-9)"
	return 0
}

# profile_run DEV WL CFG: a flat kernel and user profile of fio's vCPU
# (cpu-clock sampling: TCG has no PMU) for PROFILE_MS while CFG runs WL,
# from 3 s after fio started, so fio's start-up is not in it.
profile_run() {
	d=$1 wl=$2 c=$3
	s=$(size_of "$d")
	# shellcheck disable=SC2046 # option lists
	fio --direct=1 --time_based --runtime="$((PROFILE_MS + 5000))ms" --cpus_allowed=1 \
		--gtod_reduce=1 --norandommap --randrepeat=1 --size=$((s * 512)) $(wl_opts "$wl") \
		--name="$c" --filename="$(dev_of "$d" "$c")" --output=/dev/null >fio.err 2>&1 &
	fpid=$!
	sleep 3
	if ! perf record -q -e cpu-clock -C 1 -o perf.data -- sleep "$((PROFILE_MS / 1000))" >perf.err 2>&1; then
		B "meta profile_failed $d $wl $c $(tail -n1 perf.err)"
		wait $fpid || true
		return 0
	fi
	wait $fpid || B "meta profile_fio_failed $d $wl $c $(tail -n1 fio.err)"
	perf report -i perf.data --stdio --no-children --sort sym 2>/dev/null |
		awk '/^ *[0-9.]+%/ { p = $1; sub(/%/, "", p); print p, $3 }' | head -n 20 |
		while read -r pct sym; do B "prof $d $wl $c $pct $sym"; done
	rm -f perf.data
}

# Slab caches the bench checks: bios, biovecs, dm's and the module's biosets.
SLAB_RE='^(bio|biovec|dm_|dm-|kcopyd|splitdf)'

slab_shrink() {
	for f in /sys/kernel/slab/*/shrink; do
		n=${f%/shrink}
		n=${n##*/}
		echo "$n" | grep -Eq "$SLAB_RE" && echo 1 >"$f" 2>/dev/null
	done
	return 0
}

# slab_snapshot FILE: "name active_objs objperslab" of the caches above.
slab_snapshot() {
	slab_shrink
	awk -v re="$SLAB_RE" 'NR > 2 && $1 ~ re { print $1, $2, $5 }' /proc/slabinfo | sort >"$1"
}

# slab_compare BEFORE AFTER: every cache within one slab's worth of objects of its
# baseline (after shrinking both); caches created since must be gone or empty.
slab_compare() {
	awk '
		NR == FNR { before[$1] = $2; per[$1] = $3; next }
		{ b = ($1 in before) ? before[$1] : 0; tol = ($1 in per) ? per[$1] : $3
		  d = $2 - b; if (d < 0) d = -d
		  ok = d <= tol ? "ok" : "FAIL"; if (ok == "FAIL") bad = 1
		  print "@@B slab", $1, b, $2, tol, ok; seen[$1] = 1 }
		END {
		  for (n in before) if (!(n in seen) && before[n] > per[n]) print "@@B slab", n, before[n], 0, per[n], "ok-gone"
		  exit bad }' "$1" "$2"
}

test_case() {
	set -e
	ROUNDS=$(knob rounds 5)
	RUNTIME_MS=$(knob runtime_ms 500)
	RAMP_MS=$(knob ramp_ms 100)
	DEVS=$(knob devs nullb+brd | tr '+' ' ')
	ALLOC_DEVS=$(knob alloc_devs nullb | tr '+' ' ')
	ALLOC_IOS=$(knob alloc_ios 1024)
	ENGINE=$(knob engine libaio)
	WLS=$(knob workloads all | tr '+' ' ')
	[ "$WLS" = all ] && WLS="rr4k rw4k rr16k2k rw16k2k sr1m sw1m"
	WORKLOADS=""
	for w in $WLS; do WORKLOADS="$WORKLOADS $w-qd1 $w-qd32"; done
	URING=""
	for w in $(knob uring rr16k2k | tr '+' ' '); do
		[ "$w" = none ] || URING="$URING $w-qd1-uring $w-qd32-uring"
	done

	B "meta kernel $(uname -r)"
	B "meta cpus $(grep -c ^processor /proc/cpuinfo)"
	B "meta cpu_model $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	B "meta mem_mib $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
	B "meta cmdline $(cat /proc/cmdline)"
	B "meta fio $(fio --version)"
	B "meta rounds $ROUNDS"
	B "meta runtime_ms $RUNTIME_MS"
	B "meta ramp_ms $RAMP_MS"
	B "meta alloc_ios $ALLOC_IOS"
	B "meta workloads$WORKLOADS"
	B "meta uring_workloads_nullb$URING"
	B "meta boundary_sectors $BOUNDARY"
	B "meta legs $NLEGS"

	# The engine must work here; fall back to libaio rather than measure nothing.
	modprobe null_blk nr_devices=1 gb=$((NULLB_MIB / 1024)) memory_backed=0 irqmode=0 \
		queue_mode=2 hw_queue_depth=64 submit_queues=1 bs=512
	B "meta nullb0 queue_mode=2(blk-mq) irqmode=0 memory_backed=0 hw_queue_depth=64 submit_queues=1 bs=512 size=${NULLB_MIB}MiB"
	if [ -n "$URING" ] && ! fio --name=probe --filename=/dev/nullb0 --direct=1 \
		--ioengine=io_uring --rw=randread --bs=4k --number_ios=16 --size=1m >probe.out 2>&1; then
		cat probe.out
		B "meta uring_unavailable io_uring failed here, its workloads are left out"
		URING=""
	fi
	B "meta engine $ENGINE"
	setup_ramdisks 1 "$BRD_MIB"
	# Every page of the ram disk allocated before anything is timed.
	fio --name=fill --filename=/dev/ram0 --direct=1 --ioengine=libaio --rw=write \
		--bs=1m --iodepth=4 --size=${BRD_MIB}m --output=fill.out
	B "meta ram0 brd rd_size=${BRD_MIB}MiB, every page written before the run"

	slab_snapshot slab.before
	for d in $DEVS; do make_devices "$d"; done
	B "meta configs $CFGS"

	r=0
	while [ $r -lt "$ROUNDS" ]; do
		for d in $DEVS; do
			wls=$WORKLOADS
			[ "$d" = nullb ] && wls="$WORKLOADS$URING"
			for wl in $wls; do
				progress "round $((r + 1))/$ROUNDS $d $wl"
				timed_run "$d" "$r" "$wl"
			done
		done
		r=$((r + 1))
	done

	ALLOC_EVENTS=$(alloc_events | tr '\n' ' ')
	if [ -n "$ALLOC_EVENTS" ] && [ -e "$TR/events/kmem/kmem_cache_alloc/hist" ]; then
		B "meta alloc_events $ALLOC_EVENTS"
		for d in $ALLOC_DEVS; do
			for wl in $WORKLOADS; do
				progress "allocations $d $wl"
				for c in $CFGS; do [ "$c" = linear2 ] || alloc_run "$d" "$wl" "$c"; done
			done
		done
	else
		B "meta alloc_events none (no kmem tracepoints or hist triggers)"
	fi

	PROFILE_MS=$(knob profile_ms 2000)
	if command -v perf >/dev/null && [ "$PROFILE_MS" != 0 ] && echo "$DEVS" | grep -qw nullb; then
		echo 0 >/proc/sys/kernel/kptr_restrict
		echo -1 >/proc/sys/kernel/perf_event_paranoid
		B "meta profile perf record -e cpu-clock -C 1, ${PROFILE_MS} ms per configuration from 3 s after fio started, flat, kernel and user"
		for wl in rr4k-qd1 rr16k2k-qd32 sr1m-qd32; do
			progress "profile nullb $wl"
			for c in $CFGS; do
				case $wl:$c in rr4k*:linear | rr4k*:clone | rr1*:stripe | rr1*:clone | rr1*:core | rr1*:inline | sr*:stripe | sr*:clone | sr*:core | sr*:inline) profile_run nullb "$wl" "$c" ;; esac
			done
		done
	else
		B "meta profile none (no perf in the guest)"
	fi

	progress "teardown"
	for d in $DEVS; do
		for c in $CFGS; do [ "$c" = raw ] || dmsetup remove "${d}_$c"; done
	done
	rc=0
	if rmmod dm_splitdf; then B "check rmmod ok"; else B "check rmmod FAIL"; rc=1; fi
	slab_snapshot slab.after
	if slab_compare slab.before slab.after; then B "check slab ok"; else B "check slab FAIL"; rc=1; fi
	if dmesg | grep -Eq 'BUG:|WARNING:|Oops|hung task|blocked for more than'; then
		dmesg | grep -E 'BUG:|WARNING:|Oops|hung task|blocked for more than' | head -n 5
		B "check dmesg FAIL"
		rc=1
	else
		B "check dmesg ok"
	fi
	rmmod null_blk brd
	B "done"
	return $rc
}
