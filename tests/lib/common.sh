# shellcheck shell=sh
# Helpers for test cases, sourced by the guest runner before each case.
# Every helper that checks something prints why it failed and returns 1;
# cases run their body under `set -e`, so a failed check ends the case.

fail() {
	echo "FAIL: $*"
	return 1
}

# skip WHY: the case cannot test anything on this kernel.  The harness reports
# SKIP (never PASS); use it only for a kernel that lacks what the case tests.
skip() {
	echo "SKIP: $*"
	exit 77
}

# kernel_before MAJOR MINOR: true if the running kernel is older than MAJOR.MINOR.
kernel_before() {
	set -- "$1" "$2" "${KREL%%.*}" "$(echo "$KREL" | cut -d. -f2)"
	[ "$3" -lt "$1" ] || { [ "$3" = "$1" ] && [ "$4" -lt "$2" ]; }
}

# setup_ramdisks COUNT MIB: fresh, zeroed /dev/ram0../dev/ram<COUNT-1>.
setup_ramdisks() {
	rmmod brd 2>/dev/null || true
	modprobe brd rd_nr="$1" rd_size=$(($2 * 1024)) max_part=0
	i=0
	while [ "$i" -lt "$1" ]; do
		[ -b /dev/ram$i ] || fail "/dev/ram$i missing"
		i=$((i + 1))
	done
}

# setup_nullb COUNT MIB [PARAMS]: memory-backed null_blk devices with a write-back
# cache, so flushes are not dropped by the block layer on the way down.  PARAMS
# are null_blk module parameters.  Kernels whose null_blk has no memory_backed
# parameter (5.10) get the same devices through configfs; undo with teardown_nullb.
setup_nullb() {
	teardown_nullb
	if /sbin/modinfo -F parm null_blk | grep -q '^memory_backed:'; then
		# shellcheck disable=SC2086 # PARAMS are several words
		modprobe null_blk nr_devices="$1" gb=1 memory_backed=1 cache_size="$2" \
			irqmode=0 queue_mode=2 discard=1 ${3:-}
	else
		modprobe null_blk nr_devices=0
		i=0
		while [ "$i" -lt "$1" ]; do
			d=/sys/kernel/config/nullb/nullb$i
			mkdir "$d"
			echo 1024 >"$d/size"
			for p in memory_backed=1 cache_size="$2" irqmode=0 queue_mode=2 discard=1 ${3:-}; do
				a=${p%%=*}
				case $a in bs) a=blocksize ;; gb) a=size p=size=$((${p#*=} * 1024)) ;; esac
				echo "${p#*=}" >"$d/$a" || fail "null_blk configfs: $a=${p#*=}"
			done
			echo 1 >"$d/power"
			i=$((i + 1))
		done
	fi
	[ -b /dev/nullb0 ] || fail "/dev/nullb0 missing"
}

# teardown_nullb: remove null_blk and the configfs devices that pin it.
teardown_nullb() {
	for d in /sys/kernel/config/nullb/nullb*; do
		[ -d "$d" ] && rmdir "$d"
	done
	if grep -q '^null_blk ' /proc/modules; then rmmod null_blk; fi
}

# mm DEV: major:minor of a block device node, as dm prints it.
mm() {
	# shellcheck disable=SC2046 # two hex numbers, split on purpose
	set -- $(stat -L -c '0x%t 0x%T' "$1")
	echo "$(($1)):$(($2))"
}

# kname DEV: the kernel's name of a block device node (dm-0, ram1, ...).
kname() {
	basename "$(readlink -f "/sys/dev/block/$(mm "$1")")"
}

sectors() { blockdev --getsz "$1"; }

# dm_create NAME TABLE: create a device and its /dev/mapper node.
dm_create() {
	echo "$2" | dmsetup create "$1" || fail "dmsetup create $1: $2"
	dmsetup mknodes "$1"
	[ -b "/dev/mapper/$1" ] || fail "/dev/mapper/$1 missing"
}

dm_reload() {
	echo "$2" | dmsetup reload "$1" || fail "dmsetup reload $1: $2"
	dmsetup resume "$1" || fail "dmsetup resume $1"
}

# features WORD...: a splitdf table's feature arguments, their count first:
# "features boundary_sectors 8" prints "2 boundary_sectors 8".  A hand-counted
# list can be wrong, and a valid table with a wrong count tests the parser
# instead.  No words print nothing (the table then ends after its legs), so
# an optional list can be passed as "$(features $opts)".  Tables that test
# the parser give their counts literally.
features() {
	[ $# -eq 0 ] || echo "$# $*"
}

# two_legs MODE DEV0 DEV1 SECTORS: a table of two legs of SECTORS each, DEV0
# then DEV1, both from sector 0: dm-linear (a target per leg) when MODE is
# linear, else splitdf in split_mode MODE with boundary_sectors 64.  For the
# cases that hold each mode to what dm-linear does over the same legs.
two_legs() {
	if [ "$1" = linear ]; then
		printf '0 %s linear %s 0\n%s %s linear %s 0\n' "$4" "$2" "$4" "$4" "$3"
	else
		echo "0 $(($4 * 2)) splitdf 2 $2 0 $4 $3 0 $4 $(features boundary_sectors 64 split_mode "$1")"
	fi
}

# scaled N: N divided by the harness's I/O scale (SPLITDF_IO_SCALE; 4 on a debug
# kernel, where I/O runs ten times slower), at least 1.  For fio sizes and
# passes and the counts that follow from them; what a case proves about a
# single bio (a chain's depth, a cap) must not be scaled.
scaled() {
	set -- $(($1 / ${SPLITDF_IO_SCALE:-1}))
	[ "$1" -gt 0 ] || set -- 1
	echo "$1"
}

# scaled_middle: fio options for the middle part of a device that scaled
# leaves of it (the whole device at scale 1), so that a boundary in the
# middle is still crossed.
scaled_middle() {
	set -- "$(scaled 100)"
	echo "--size=$1% --offset=$(((100 - $1) / 2))%"
}

# running PID: true while process PID runs.  A background job that has
# ended stays a zombie until the shell waits for it, so kill -0 and
# /proc/PID still find it.
running() {
	r_state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$r_state" ] && [ "$r_state" != Z ]
}

# now_cs: hundredths of a second since boot.
now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }

# counter NAME FIELD: one of the INFO counters (docs/splitdf.rst, "Status").
counter() {
	set -- "$1" "$2" "$(dmsetup status "$1")"
	case $2 in
	mapped) n=4 ;; crossed) n=5 ;; remainders) n=6 ;; core_splits) n=7 ;;
	pinned) n=8 ;; peak_pinned) n=9 ;;
	*) fail "no counter $2"; return 1 ;;
	esac
	echo "$3" | cut -d' ' -f$n
}

# expect_ge VALUE MIN WHAT
# Every split_mode; data cases run on each.
# shellcheck disable=SC2034 # used by the cases
SPLIT_MODES="clone core inline ordered"

# At least $3 crossing bios of device $1 were split the way split_mode $2
# splits: by clones of the target, or by dm core alone.
expect_splits() {
	case $2 in
	core)
		expect_ge "$(counter "$1" core_splits)" "$3" "$1 core splits"
		expect_eq "$(counter "$1" remainders)" 0 "$1 clones in core mode"
		;;
	*) expect_ge "$(counter "$1" remainders)" "$3" "$1 clones" ;;
	esac
}

expect_ge() {
	[ "$1" -ge "$2" ] || fail "$3: $1 < $2"
}

expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

# klog_mark / klog_since: the kernel log lines printed after the mark.
klog_mark() { KLOG_MARK=$(dmesg | wc -l); }
klog_since() { dmesg | tail -n +$((KLOG_MARK + 1)); }

# expect_refused NAME TABLE ERROR: the table is refused with ti->error ERROR
# and leaves no device behind.
expect_refused() {
	klog_mark
	if echo "$2" | dmsetup create "$1" >/dev/null 2>&1; then
		fail "accepted: $2"
		return 1
	fi
	if ! klog_since | grep -qF "splitdf: $3"; then
		fail "no '$3' for: $2"
		klog_since
		return 1
	fi
	if dmsetup info "$1" >/dev/null 2>&1; then
		fail "device $1 left behind after: $2"
		return 1
	fi
	echo "refused: $3"
}

# fio_verify DEV NAME [fio options...]: write and verify with crc32c;
# most bios cross boundaries with the default block sizes.
fio_verify() {
	dev=$1 job=$2
	shift 2
	fio --name="$job" --filename="$dev" --direct=1 --ioengine=libaio \
		--iodepth=16 --rw=randwrite --bsrange=512-1m --blockalign=512 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--output="$job.fio" "$@" || { cat "$job.fio"; fail "fio $job"; }
}

# dev_md5 DEV: md5 of a whole device read with O_DIRECT, 512 KiB at a time.
dev_md5() {
	dd if="$1" iflag=direct bs=512k 2>/dev/null | md5sum | cut -d' ' -f1
}

# region_md5 DEV START COUNT: md5 of COUNT sectors from sector START, read in
# large blocks: a read per sector costs minutes of system calls on a debug
# kernel.
region_md5() {
	dd if="$1" iflag=skip_bytes,count_bytes,fullblock bs=512k skip=$(($2 * 512)) \
		count=$(($3 * 512)) 2>/dev/null | md5sum | cut -d' ' -f1
}

# io_at DEV OP START SECTORS [fio options...]: one O_DIRECT read or write (OP)
# of SECTORS sectors at sector START, in a single system call.  Returns 0 on
# success, 5 if it failed with EIO, 1 on anything else; fio's output is in
# io_at.log.
io_at() {
	io_dev=$1 io_op=$2 io_start=$3 io_n=$4
	shift 4
	fio --name=io --filename="$io_dev" --direct=1 --ioengine=psync --rw="$io_op" \
		--bs=$((io_n * 512)) --size=$((io_n * 512)) --offset=$((io_start * 512)) \
		"$@" >io_at.log 2>&1 && return 0
	grep -q 'Input/output error' io_at.log && return 5
	return 1
}

# expect_io OK|EIO WHAT DEV OP START SECTORS [fio options...]: io_at's outcome
# is OK (success) or EIO; anything else (another error, or success where EIO
# was due) fails.  Prints "WHAT: OP: OUTCOME".
expect_io() {
	io_want=$1 io_what=$2
	shift 2
	if io_at "$@"; then io_got=OK; else case $? in 5) io_got=EIO ;; *) io_got=other ;; esac; fi
	if [ "$io_got" != "$io_want" ]; then
		cat io_at.log
		fail "$io_what: $2 of $4 sectors at $3: $io_got, want $io_want"
		return 1
	fi
	echo "$io_what: $2: $io_got"
}

# The failing-leg layout (cases 045-047): good leg A (sectors 0-4095, ram0),
# the bad leg (4096-5119, all of BADDEV), good leg C (5120-9215, ram0), and a
# boundary every 64 sectors, so I/O inside a good leg is split too.
BADLEG_LEN=9216

# badleg_finish DEV MODE: after the bad leg's checks, fio verify inside good
# leg A is clean, bios crossed, no head is left pinned; DEV is removed.
badleg_finish() {
	fio_verify "/dev/mapper/$1" "goodA-$2" --size=2m
	echo "fio verify inside good leg A: clean"
	expect_ge "$(counter "$1" crossed)" 10 "$2 crossing bios"
	expect_eq "$(counter "$1" pinned)" 0 "$2 pinned at rest"
	dmsetup remove "$1"
}

# badleg_create NAME BADDEV MODE: that device, in split_mode MODE.
badleg_create() {
	dm_create "$1" "0 $BADLEG_LEN splitdf 3 /dev/ram0 0 4096 $2 0 1024 /dev/ram0 4096 4096 $(features boundary_sectors 64 split_mode "$3")"
}

# check_bad_leg DEV RD WR: reads and writes inside the good legs succeed;
# those that touch the bad leg, inside it, from a good leg into it, from it
# into a good leg, and one 1 MiB bio good -> bad -> good, end RD (reads) and
# WR (writes): OK or EIO.  Each is one O_DIRECT system call, a fio job of its
# own; the twelve jobs run at once in one fio (terse output: job, error).
check_bad_leg() {
	bl_jobs="A:1000:256 C:6000:256 bad:4200:64 gb:3968:256 bg:4992:256 gbg:3968:2048"
	set -- "$1" "$2" "$3" fio --direct=1 --ioengine=psync --output-format=terse --filename="$1"
	for bl_op in read write; do
		for bl_j in $bl_jobs; do
			bl_off=${bl_j#*:}
			set -- "$@" --name="$bl_op-${bl_j%%:*}" --rw="$bl_op" --offset=$((${bl_off%:*} * 512)) \
				--bs=$((${bl_j##*:} * 512)) --size=$((${bl_j##*:} * 512))
		done
	done
	bl_dev=$1 bl_rd=$2 bl_wr=$3
	shift 3
	"$@" >bad_leg.log 2>&1 || true
	for bl_op in read write; do
		bl_bad=$bl_rd
		[ "$bl_op" = read ] || bl_bad=$bl_wr
		for bl_j in $bl_jobs; do
			bl_name=$bl_op-${bl_j%%:*}
			case ${bl_j%%:*} in
			A) bl_want=OK bl_what="inside good leg A" ;;
			C) bl_want=OK bl_what="inside good leg C" ;;
			bad) bl_want=$bl_bad bl_what="inside the bad leg" ;;
			gb) bl_want=$bl_bad bl_what="good -> bad (remainder on the bad leg)" ;;
			bg) bl_want=$bl_bad bl_what="bad -> good (head on the bad leg)" ;;
			gbg) bl_want=$bl_bad bl_what="good -> bad -> good, 1 MiB" ;;
			esac
			bl_err=$(awk -F';' -v j="$bl_name" '$3 == j { print $5 }' bad_leg.log)
			case $bl_err in 0) bl_got=OK ;; 5) bl_got=EIO ;; *) bl_got="error '$bl_err'" ;; esac
			if [ "$bl_got" != "$bl_want" ]; then
				cat bad_leg.log
				fail "$bl_dev: $bl_what: $bl_op of ${bl_j##*:} sectors: $bl_got, want $bl_want"
				return 1
			fi
			echo "$bl_what: $bl_op: $bl_got"
		done
	done
}

# Fault injection (the kernel's Documentation/fault-injection/).  A case
# saves every debugfs or sysfs knob it will change with fi_save and puts them
# back with fi_restore from an EXIT trap, so that nothing stays armed after
# it, passed or failed.  Injecting changes a knob too: "times" counts down.
# shellcheck disable=SC2034 # used by the cases
FI=/sys/kernel/debug
FI_SAVED=

# fi_save FILE...: remember each knob's value for fi_restore.
fi_save() {
	for fi_f in "$@"; do
		[ -e "$fi_f" ] || { fail "no $fi_f"; return 1; }
		FI_SAVED="$FI_SAVED $fi_f=$(cat "$fi_f")"
	done
}

# fi_attr DIR: fi_save the generic knobs of fault_attr DIR (failslab, ...).
fi_attr() {
	fi_save "$1/probability" "$1/interval" "$1/times" "$1/space" "$1/verbose" "$1/task-filter"
}

# fi_arm DIR PROBABILITY: fi_attr DIR, then arm it for every task at
# PROBABILITY percent, every call eligible, no size budget, silent.
fi_arm() {
	fi_attr "$1"
	fi_set "$1/task-filter" N
	fi_set "$1/probability" "$2"
	fi_set "$1/interval" 1
	fi_set "$1/space" 0
	fi_set "$1/verbose" 0
}

# fi_restore: every saved knob back to its value, read back; fails (after
# trying them all) if one could not be restored.
fi_restore() {
	fi_rc=0
	for fi_e in $FI_SAVED; do
		echo "${fi_e#*=}" >"${fi_e%%=*}" 2>/dev/null || true
		if [ "$(cat "${fi_e%%=*}")" != "${fi_e#*=}" ]; then
			echo "fi_restore: ${fi_e%%=*} is '$(cat "${fi_e%%=*}")', not '${fi_e#*=}' as before"
			fi_rc=1
		fi
	done
	FI_SAVED=
	return $fi_rc
}

# fi_set FILE VALUE: write a knob and check that it took.
fi_set() {
	echo "$2" >"$1" || { fail "cannot write $2 to $1"; return 1; }
	[ "$(cat "$1")" = "$2" ] || fail "$1 is '$(cat "$1")' after writing '$2'"
}

# fi_fired FILE START: how often an attr whose "times" was set to START
# (not -1) has injected since.
fi_fired() {
	echo $(($2 - $(cat "$1")))
}

# klog_note TEXT: a line in the kernel log (the case's .console on the host), for
# numbers that vary from kernel to kernel and so stay out of golden output.
klog_note() {
	echo "splitdf-case $SPLITDF_CASE: $*" >/dev/kmsg
}
