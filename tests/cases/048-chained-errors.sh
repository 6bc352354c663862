# shellcheck shell=sh disable=SC2034
# Requires: null_blk, brd.  An error of a remainder or piece must reach the
# submitter even when the head's leg writes bi_status as it completes the
# head, success included.  null_blk's bio mode does that (queue_mode=0 on
# 5.10 and 6.1; 6.12 and later have no bio mode and make it blk-mq, which
# sets the status per request: the case then checks the same outcomes
# without that driver's habit).  Leg A is that null_blk, completing each bio
# after 200 ms so that the head is still at A when the rest fails at once on
# leg B, a dm-error device.  In every split_mode, with legs alone and with
# boundary_sectors: one 8 KiB O_DIRECT read and one write across A -> B, and
# across B -> A, fail with EIO; inside A they succeed; no head stays pinned.
DESCRIPTION="errors of remainders and pieces survive a leg that sets bi_status on success"
TIMEOUT=300

# one_layout MODE FEATURES...: the four crossings and a control, in MODE.
one_layout() {
	mode=$1
	shift
	dm_create sdf "0 6144 splitdf 3 /dev/nullb0 0 2048 /dev/mapper/bad 0 2048 /dev/nullb0 2048 2048 $(features "$@" split_mode "$mode")"
	expect_io OK "inside A" /dev/mapper/sdf read 1000 16
	for op in read write; do
		expect_io EIO "A -> B (head on the slow leg)" /dev/mapper/sdf "$op" 2040 16
		expect_io EIO "B -> A (rest on the slow leg)" /dev/mapper/sdf "$op" 4088 16
	done
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	expect_ge "$(counter sdf crossed)" 4 "$mode crossing bios"
	dmsetup remove sdf
}

test_case() {
	set -e
	teardown_nullb
	if ! modprobe null_blk nr_devices=1 gb=1 queue_mode=0 irqmode=2 completion_nsec=200000000; then
		fail "null_blk with a 200 ms completion"
	fi
	if [ -d /sys/block/nullb0/mq ]; then klog_note "null_blk: blk-mq"; else klog_note "null_blk: bio-based"; fi
	dm_create bad "0 2048 error"
	for mode in $SPLIT_MODES; do
		echo "-- split_mode $mode, legs only"
		one_layout "$mode"
		echo "-- split_mode $mode, boundary_sectors 8"
		one_layout "$mode" boundary_sectors 8
	done
	dmsetup remove bad
	teardown_nullb
}
