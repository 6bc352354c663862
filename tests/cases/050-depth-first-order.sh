# shellcheck shell=sh disable=SC2034
# Requires: brd, tracefs with block events.  A three-level tree of splitdf
# devices over one ram disk, each level reordering its halves and splitting
# at its own boundary (16, 8 and 4 sectors from the top down), so one 32 KiB
# read crosses boundaries at every level.
# Checks, for each split_mode: the order in which bios reach the leaf
# (block_bio_queue on ram0) is the depth-first walk, i.e. the top device's
# address order, leg by leg, for clone, core and ordered, and is not for
# inline;
# then the same tree passes fio verify.
DESCRIPTION="depth-first submission order through a three-level splitdf tree"
TIMEOUT=300

# shellcheck source=tests/lib/blktrace.sh
. "$SPLITDF_TESTS/lib/blktrace.sh"

DEPTH_FIRST="48+4 52+4 56+4 60+4 32+4 36+4 40+4 44+4 16+4 20+4 24+4 28+4 0+4 4+4 8+4 12+4"

# The tree, every level split in split_mode $1.
build_tree() {
	f="split_mode $1 boundary_sectors"
	# Level 1: each half of a 32-sector region in swapped order.
	dm_create a1 "0 32 splitdf 2 /dev/ram0 48 16 /dev/ram0 32 16 4 $f 4"
	dm_create a2 "0 32 splitdf 2 /dev/ram0 16 16 /dev/ram0 0 16 4 $f 4"
	# Level 2 and 3: again swapped, the top uses b twice.
	dm_create b "0 64 splitdf 2 /dev/mapper/a2 0 32 /dev/mapper/a1 0 32 4 $f 8"
	dm_create top "0 64 splitdf 2 /dev/mapper/b 32 32 /dev/mapper/b 0 32 4 $f 16"
}

read_top_traced() {
	trace_leaf_start /dev/ram0
	fio --name=one --filename=/dev/mapper/top --rw=read --direct=1 \
		--ioengine=psync --bs=32k --size=32k --output=one.fio || { cat one.fio; fail "read"; }
	order=$(trace_leaf_stop | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')
	echo "leaf order: $order"
}

test_case() {
	set -e
	setup_ramdisks 1 8
	for mode in $SPLIT_MODES; do
		echo "split_mode $mode"
		build_tree "$mode"
		# The walk the demo compares against, checked against the hand-made one.
		expect_eq "$(depth_first top 0 64 | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')" \
			"$DEPTH_FIRST" "depth-first walk of the tables"
		read_top_traced
		# top[0,32) = b[32,64) = a1 = ram0 48.. then 32..; top[32,64) = a2 = 16.. then 0..
		if [ "$mode" = inline ]; then
			[ "$order" != "$DEPTH_FIRST" ] ||
				fail "inline mode submitted depth-first"
			echo "leaf order is not depth-first"
		else
			expect_eq "$order" "$DEPTH_FIRST" "leaf order"
			echo "leaf order is depth-first"
		fi
		# mapped crossed remainders core_splits pinned, at every level
		for d in top b a1 a2; do
			echo "$d: $(dmsetup status $d | cut -d' ' -f4-8)"
		done
		fio_verify /dev/mapper/top tree --bsrange=512-32k --size=32k --iodepth=16
		echo "tree: verify clean"
		dmsetup remove top b a1 a2
	done
}
