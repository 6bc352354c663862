# shellcheck shell=sh disable=SC2034
# Requires: failslab with debugfs (CONFIG_FAILSLAB, FAULT_INJECTION_DEBUG_FS:
# the debug kernels of scripts/harness/build-debug-kernel; SKIP where
# /sys/kernel/debug/failslab is missing), brd, fio.
#
# Forward progress when dm's reserve of dm_ios is all there is.  In clone
# mode every pinned head holds a dm_io until its remainder completes, and
# each remainder needs a dm_io of its own from the same per-device reserve
# (dm_mod.reserved_bio_based_ios).  Here dm_mod's reserve is set small
# before the table is loaded, and failslab fails every allocation, sleeping
# ones too (ignore-gfp-wait N), from the bio slabs (cache-filter Y; the
# debug kernels boot with slub_debug=A,bio-*, which marks them, and only
# them): dm's dm_ios and clones, the target's pieces and fio's own bios all
# come from their mempools' reserves.  Then 1 MiB O_DIRECT writes, each
# crossing 255 boundaries (boundary_sectors 8), with crc32c verify, must
# finish within the time limit and verify clean: in clone mode with
# reserves of 1 and 4, and in core and ordered mode with a reserve of 1.
# If they do not, the case turns failslab off, which lets the waiting
# allocations succeed at their next retry (mempool_alloc() retries every
# 5 s), waits for fio, and fails.  In clone mode no more heads are pinned
# than the reserve less one.
DESCRIPTION="failslab on dm's bio slabs: crossing writes finish on dm's reserve alone"
TIMEOUT=1800

SLABS=/sys/kernel/slab
RESERVE=/sys/module/dm_mod/parameters/reserved_bio_based_ios

bio_slabs() {
	for s in "$SLABS"/bio-*; do
		[ -e "$s/failslab" ] && basename "$s"
	done | sort
}

# find_dev_slabs: set dev_slabs to the bio slabs the device's table created;
# each must be marked for failslab (slub_debug=A,bio-* on the command line).
find_dev_slabs() {
	bio_slabs >slabs.after
	dev_slabs=$(grep -vxF -f slabs.before slabs.after || true)
	[ -n "$dev_slabs" ] || fail "no bio slab came with the device's table"
	for s in $dev_slabs; do
		[ "$(cat "$SLABS/$s/failslab")" = 1 ] ||
			skip "$s is not marked for failslab: boot with slub_debug=A,bio-* (debug kernels do)"
	done
}

# one_run MODE RESERVE
one_run() {
	mode=$1 reserve=$2
	echo "-- split_mode $mode, reserve $reserve"
	echo "$reserve" >$RESERVE
	bio_slabs >slabs.before
	dm_create sdf "0 65536 splitdf 2 /dev/ram0 0 32768 /dev/ram1 0 32768 $(features boundary_sectors 8 split_mode "$mode")"
	find_dev_slabs
	fi_set "$FI/failslab/probability" 100
	fio --name="res-$mode-$reserve" --filename=/dev/mapper/sdf --direct=1 --ioengine=libaio \
		--iodepth=4 --rw=write --bs=1m --size="$(scaled 16)m" --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output="res-$mode-$reserve.fio" &
	fpid=$!
	w=0
	while running $fpid && [ $w -lt "$LIMIT" ]; do
		sleep 1
		w=$((w + 1))
	done
	hung=
	! running $fpid || hung=1
	fi_set "$FI/failslab/probability" 0
	fio_rc=0
	wait $fpid || fio_rc=$?
	klog_note "$mode, reserve $reserve: slabs $(echo "$dev_slabs" | tr "\n" " "); fio ${hung:+still running after $LIMIT s, }exit $fio_rc;" \
		"peak_pinned $(counter sdf peak_pinned), core_splits $(counter sdf core_splits), remainders $(counter sdf remainders)"
	[ -z "$hung" ] || fail "$mode, reserve $reserve: 1 MiB crossing writes not done after $LIMIT s (recovered once failslab was off)"
	[ $fio_rc = 0 ] || { cat "res-$mode-$reserve.fio"; fail "$mode, reserve $reserve: fio"; }
	[ "$(counter sdf peak_pinned)" -lt "$reserve" ] ||
		fail "$mode, reserve $reserve: $(counter sdf peak_pinned) heads pinned at once"
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	echo "finished on the reserve alone, verify clean"
	dmsetup remove sdf
}

test_case() {
	set -e
	[ -d "$FI/failslab" ] || skip "no failslab in debugfs in $KREL (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)"
	trap 'fi_restore' EXIT
	# Saved, and so restored, probability first: restored after the filter,
	# it would fail every slab allocation in the guest in between.
	fi_attr "$FI/failslab"
	fi_save $RESERVE "$FI/failslab/cache-filter" "$FI/failslab/ignore-gfp-wait"
	# The filter first: armed without it, every slab allocation in the
	# guest fails (init with it).
	fi_set "$FI/failslab/cache-filter" Y
	fi_set "$FI/failslab/ignore-gfp-wait" N
	fi_set "$FI/failslab/task-filter" N
	fi_set "$FI/failslab/interval" 1
	fi_set "$FI/failslab/space" 0
	fi_set "$FI/failslab/verbose" 0
	fi_set "$FI/failslab/times" -1
	# 16 MiB take about 10 s on a stock kernel; far longer is a hang.
	LIMIT=$((TIMEOUT / 8))
	setup_ramdisks 2 16
	one_run clone 1
	one_run clone 4
	one_run core 1
	one_run ordered 1
}
