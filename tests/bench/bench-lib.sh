# shellcheck shell=sh disable=SC2034
# Shared by the guest halves of `make bench` (tests/bench/bench-splitdf.sh, the
# timed pass, and tests/bench/bench-alloc.sh, the allocation count); sourced,
# never run as a case.  Not part of the test suite.
#
# On one null_blk device (memory_backed=0, irqmode=0, blk-mq: the block
# layer's own cost) and optionally one brd device, the same region is mapped by:
#   raw      the device itself
#   linear   dm-linear, one target
#   linear2  the same dm-linear again (A/A: the noise floor)
#   linear4  dm-linear, one target per leg (4 legs)
#   stripe   dm-stripe, one stripe, chunk = boundary_sectors (8)
#   clone, core, inline, ordered
#            splitdf, the same 4 legs, boundary_sectors 8, in each split_mode
#            (clone is the default table line; a mode the module refuses is
#            skipped and reported)
#
# Output lines for scripts/bench/bench-report start with "@@B "; progress lines
# start with "bench: ".  Knobs come from the kernel command line,
# splitdf_bench=k:v,k:v (see each case for its own).

TR=/sys/kernel/tracing
NULLB_MIB=1024
BRD_MIB=256
NLEGS=4
BOUNDARY=8
SDF_MODES="clone core inline ordered"

# knob NAME DEFAULT: a value from splitdf_bench=k:v,k:v on the command line.
knob() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^splitdf_bench=//p' | tr ',' '\n' |
		sed -n "s/^$1://p" | tail -n1)
	echo "${v:-$2}"
}

B() { echo "@@B $*"; }
progress() { echo "bench: $(date +%H:%M:%S) $*"; }

# The workloads of a knob value: "all", or patterns joined by '+'; each
# pattern either names its iodepth (rr4k-qd1) or runs at every depth in QDS.
workloads_of() {
	w=$1
	[ "$w" = all ] && w="rr4k+rw4k+rr16k2k+rw16k2k+sr1m+sw1m"
	for p in $(echo "$w" | tr '+' ' '); do
		case $p in
		*-qd*) echo "$p" ;;
		*) for q in $(echo "$2" | tr '+' ' '); do echo "$p-qd$q"; done ;;
		esac
	done | tr '\n' ' '
}

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

is_sdf() { case " $SDF_MODES " in *" $1 "*) return 0 ;; esac; return 1; }

# make_devices DEV: every configuration over the same region of DEV; sets CFGS.
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
	for m in $SDF_MODES; do
		[ "$m" = clone ] && continue
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

# Terse v3 fields: 3 job, 5 error, read 6 KiB 8 IOPS 9 ms, write 47 KiB 49 IOPS 50 ms.
# Prints "cfg kib runtime_ms iops" per job.
terse_jobs() {
	awk -F';' -v w="$1" 'NF > 50 && $1 == 3 {
		if ($5 != 0) { print "ERR", $3, $5; next }
		if (w ~ /^(rw|sw)/) print $3, $47, $50, $49; else print $3, $6, $9, $8 }' "$2"
}

# sdf_reset DEV / sdf_counters DEV CFG: splitdf's counters (README, "Status").
sdf_reset() {
	for c in $CFGS; do
		is_sdf "$c" && dmsetup message "$1_$c" 0 reset_counters
	done
	return 0
}

sdf_counters() { dmsetup status "$1_$2" | cut -d' ' -f4-9; }

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

# bench_setup PASS: meta lines, the devices of DEVS, the configurations, the
# slab baseline.
bench_setup() {
	B "meta pass $1"
	B "meta kernel $(uname -r)"
	B "meta cpus $(grep -c ^processor /proc/cpuinfo)"
	B "meta cpu_model $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	B "meta mem_mib $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
	B "meta cmdline $(cat /proc/cmdline)"
	B "meta fio $(fio --version)"
	B "meta engine $ENGINE"
	B "meta workloads $WORKLOADS"
	B "meta boundary_sectors $BOUNDARY"
	B "meta legs $NLEGS"
	modprobe null_blk nr_devices=1 gb=$((NULLB_MIB / 1024)) memory_backed=0 irqmode=0 \
		queue_mode=2 hw_queue_depth=64 submit_queues=1 bs=512
	B "meta nullb0 queue_mode=2(blk-mq) irqmode=0 memory_backed=0 hw_queue_depth=64 submit_queues=1 bs=512 size=${NULLB_MIB}MiB"
	if echo " $DEVS " | grep -q ' brd '; then
		setup_ramdisks 1 "$BRD_MIB"
		# Every page of the ram disk allocated before anything is measured.
		fio --name=fill --filename=/dev/ram0 --direct=1 --ioengine=libaio --rw=write \
			--bs=1m --iodepth=4 --size=${BRD_MIB}m --output=fill.out
		B "meta ram0 brd rd_size=${BRD_MIB}MiB, every page written before the run"
	fi
	slab_snapshot slab.before
	for d in $DEVS; do make_devices "$d"; done
	B "meta configs $CFGS"
}

# bench_teardown: remove the devices; rmmod, slab and kernel-log checks.
bench_teardown() {
	progress "teardown"
	for d in $DEVS; do
		for c in $CFGS; do [ "$c" = raw ] || dmsetup remove "${d}_$c"; done
	done
	rc=0
	if rmmod dm_splitdf; then B "check rmmod ok"; else B "check rmmod FAIL"; rc=1; fi
	slab_snapshot slab.after
	if slab_compare slab.before slab.after; then B "check slab ok"; else B "check slab FAIL"; rc=1; fi
	if dmesg | grep -Eq 'BUG:|WARNING:|Oops|hung task|blocked for more than|soft lockup'; then
		dmesg | grep -E 'BUG:|WARNING:|Oops|hung task|blocked for more than|soft lockup' | head -n 5
		B "check dmesg FAIL"
		rc=1
	else
		B "check dmesg ok"
	fi
	rmmod null_blk
	grep -q '^brd ' /proc/modules && rmmod brd
	B "done"
	return $rc
}
