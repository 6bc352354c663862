# shellcheck shell=sh disable=SC2034
# Requires: brd, dm-snapshot, tracefs with the function tracer.  040's first
# part again with dm-snapshot's snapshot_cow_threshold=0, so that the copy
# throttle that replaced the 2017 snapshot lock (wait_for_in_progress(),
# since 5.2) makes writers wait whenever any chunk is being copied; at the
# default (2048) it never engages in 040.  Checks, in every split_mode: fio
# crc32c verify across the boundary between the origin and the snapshot of
# one volume completes clean; the throttle really made a writer wait
# (io_schedule() called from wait_for_in_progress, function tracer); no head
# stays pinned; the snapshot is valid.  Each mode gets a new snapshot, so
# that every chunk its fio writes is copied first.
DESCRIPTION="040's snapshot + origin layout with the COW throttle engaged"
TIMEOUT=600

V=65536		# the volume: 32 MiB
H=32768
COW=/sys/module/dm_snapshot/parameters/snapshot_cow_threshold
TR=/sys/kernel/tracing

# throttle_waits: io_schedule() calls from wait_for_in_progress since the
# trace was cleared.
throttle_waits() {
	grep -c 'io_schedule <-wait_for_in_progress' $TR/trace || true
}

test_case() {
	set -e
	setup_ramdisks 2 64
	modprobe dm-snapshot
	[ -w $COW ] || fail "no $COW"
	grep -qx io_schedule $TR/available_filter_functions || fail "io_schedule cannot be traced"
	old=$(cat $COW)
	echo 0 >$COW
	dm_create vol "0 $V linear /dev/ram0 0"
	dm_create origin "0 $V snapshot-origin /dev/mapper/vol"
	echo 0 >$TR/tracing_on
	echo 8192 >$TR/buffer_size_kb
	echo io_schedule >$TR/set_ftrace_filter
	echo function >$TR/current_tracer
	for mode in $SPLIT_MODES; do
		# A new snapshot for each mode, or only the first would copy chunks.
		dd if=/dev/zero of=/dev/ram1 bs=64k count=1 oflag=direct 2>/dev/null
		dm_create snap "0 $V snapshot /dev/mapper/vol /dev/ram1 P 8"
		dm_create sdf "0 $V splitdf 2 /dev/mapper/origin 0 $H /dev/mapper/snap $H $H $(features boundary_sectors 8 split_mode "$mode")"
		echo >$TR/trace
		echo 1 >$TR/tracing_on
		# The whole volume, or on a slow kernel a part of it around the
		# boundary between origin and snapshot; every chunk written is copied
		# first.
		# shellcheck disable=SC2046 # two fio options
		fio_verify /dev/mapper/sdf "cowthrottle-$mode" --iodepth=32 $(scaled_middle)
		echo 0 >$TR/tracing_on
		waits=$(throttle_waits)
		expect_ge "$waits" 1 "$mode: writers the COW throttle made wait"
		expect_splits sdf "$mode" "$(scaled 100)"
		expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
		status=$(dmsetup status snap | cut -d' ' -f4-)
		case $status in Invalid* | Overflow* | "") fail "$mode: snapshot status: $status" ;; esac
		echo "$mode: origin + snapshot, snapshot_cow_threshold 0: verify clean, throttle engaged, snapshot valid"
		dmsetup remove sdf
		dmsetup remove snap
	done
	echo nop >$TR/current_tracer
	echo >$TR/set_ftrace_filter
	echo "$old" >$COW
	dmsetup remove origin
	dmsetup remove vol
}
