# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, write-back cache, so flushes reach the
# driver), fio.
# Checks: a flush storm: 64 fio jobs at once, each writing 4 KiB O_DIRECT
# blocks that all cross a boundary_sectors boundary and calling fsync after
# every write, on a device whose legs are two null_blk devices (one backs
# two legs); every write, fsync and verifying read succeeds, the crossing
# writes were split in that mode, flushes reached both leg devices, nothing
# stays pinned.  In every split_mode.
DESCRIPTION="flush storm: 64 jobs of crossing 4k writes with fsync"
TIMEOUT=600

# flushes DEV: flush requests DEV completed (field 16 of its stat).
flushes() { awk '{ print $16 }' "/sys/block/$1/stat"; }

test_case() {
	set -e
	setup_nullb 2 16
	jobs=64 per=$(scaled 64)
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 49152 splitdf 3 /dev/nullb0 0 16384 /dev/nullb1 0 16384 /dev/nullb0 16384 16384 $(features boundary_sectors 8 split_mode "$mode")"
		f0=$(flushes nullb0) f1=$(flushes nullb1)
		# Job i writes [2k + 360k * i, + per * 4k): every 4 KiB block
		# crosses a 4 KiB boundary, and the 64 regions cover all three legs.
		fio --name=storm --filename=/dev/mapper/sdf --thread --numjobs=$jobs --group_reporting \
			--direct=1 --ioengine=psync --rw=randwrite --bs=4k --offset=2k --offset_increment=360k \
			--size=$((per * 4))k --fsync=1 --verify=crc32c --do_verify=1 --verify_fatal=1 \
			--output=storm.fio || { cat storm.fio; fail "$mode: fio flush storm"; }
		grep -q 'err= 0' storm.fio || { cat storm.fio; fail "$mode: fio reported errors"; }
		d0=$(($(flushes nullb0) - f0)) d1=$(($(flushes nullb1) - f1))
		klog_note "$mode: $((jobs * per)) writes with fsync; flushes completed by nullb0 $d0, nullb1 $d1; $(dmsetup message sdf 0 counters)"
		# blk-mq may let one flush stand for several waiting ones: at least
		# one per job reached each leg device.
		expect_ge "$d0" $jobs "$mode: flushes completed by nullb0"
		expect_ge "$d1" $jobs "$mode: flushes completed by nullb1"
		# The writes and the verifying reads all crossed.
		expect_ge "$(counter sdf crossed)" $((2 * jobs * per)) "$mode: crossing bios"
		expect_splits sdf "$mode" $((jobs * per))
		expect_eq "$(counter sdf pinned)" 0 "$mode: pinned at rest"
		echo "$mode: $jobs jobs of crossing 4k writes with fsync: done, verified, flushes on both legs"
		dmsetup remove sdf
	done
	teardown_nullb
}
