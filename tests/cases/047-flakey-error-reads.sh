# shellcheck shell=sh disable=SC2034
# Requires: brd, dm-flakey with the error_reads feature (Linux 6.5 and later;
# SKIP where dm-flakey refuses it, e.g. 5.10 and 6.1).  The layout of 045
# with a dm-flakey middle leg always down with error_reads: reads that touch
# it fail with EIO (inside, crossing in, crossing out, across all three legs),
# writes there succeed and read back intact through the good path once the
# leg is up again; the good legs work; in every split_mode; nothing pinned.
DESCRIPTION="dm-flakey error_reads leg"
TIMEOUT=300

test_case() {
	set -e
	setup_ramdisks 2 8
	klog_mark
	if ! echo "0 1024 flakey /dev/ram1 0 0 1 1 error_reads" | dmsetup create bad 2>/dev/null; then
		klog_since | grep -q 'Unrecognised flakey feature' ||
			{ klog_since; fail "flakey error_reads refused for another reason"; }
		skip "dm-flakey of $KREL has no error_reads ($(dmsetup targets | grep flakey))"
	fi
	dmsetup mknodes bad
	for mode in $SPLIT_MODES; do
		echo "-- split_mode $mode"
		badleg_create sdf /dev/mapper/bad "$mode"
		check_bad_leg /dev/mapper/sdf EIO OK
		badleg_finish sdf "$mode"
	done
	# A write through the down leg succeeds and lands: seen with the leg up, it
	# reads back.
	badleg_create sdf /dev/mapper/bad ordered
	expect_io OK "good -> bad -> good, 1 MiB of 0x5a" /dev/mapper/sdf write 3968 2048 --buffer_pattern=0x5a
	dm_reload bad "0 1024 flakey /dev/ram1 0 1 0"
	echo 3 >/proc/sys/vm/drop_caches
	want=$(dd if=/dev/zero bs=1024 count=1024 2>/dev/null | tr '\000' '\132' | md5sum | cut -d' ' -f1)
	expect_eq "$(region_md5 /dev/mapper/sdf 3968 2048)" "$want" "data written while error_reads"
	dmsetup remove sdf
	dmsetup remove bad
	echo "writes through the error_reads leg landed"
}
