# shellcheck shell=sh disable=SC2034
# Requires: brd, fio with libaio.  I/O accounting of crossing bios: fio
# issues 1000 reads of 16 KiB at 2 KiB alignment over 8-sector boundaries,
# so most of them cross one to three boundaries.  Checks: in split_mode
# ordered (and inline), /sys/block/dm-N/stat counts each bio fio issued
# exactly once; in clone and core mode every piece re-enters the device and
# is counted again (as dm core's own split counts it), so the count is
# higher.
DESCRIPTION="/sys/block/dm-N/stat counts a crossing bio once in ordered mode"
TIMEOUT=300

# reads_completed DEV: field 1 of the device's stat file.
reads_completed() {
	awk '{ print $1 }' "/sys/block/$(kname "$1")/stat"
}

# issued_reads JOB: fio's "issued rwts: total=R,..." count.
issued_reads() {
	sed -n 's/.*issued rwts: total=\([0-9]*\),.*/\1/p' "$1.fio"
}

test_case() {
	set -e
	setup_ramdisks 2 16
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 32768 splitdf 2 /dev/ram0 0 16384 /dev/ram1 0 16384 $(features boundary_sectors 8 split_mode "$mode")"
		before=$(reads_completed /dev/mapper/sdf)
		fio --name="acct-$mode" --filename=/dev/mapper/sdf --rw=randread --bs=16k \
			--blockalign=2k --direct=1 --ioengine=libaio --iodepth=8 \
			--number_ios=1000 --output="acct-$mode.fio" 2>"acct-$mode.err" ||
			{ cat "acct-$mode.fio" "acct-$mode.err"; fail "fio"; }
		counted=$(($(reads_completed /dev/mapper/sdf) - before))
		issued=$(issued_reads "acct-$mode")
		expect_eq "$issued" 1000 "$mode: reads fio issued"
		expect_ge "$(counter sdf crossed)" 500 "$mode: crossing bios"
		case $mode in
		ordered | inline)
			expect_eq "$counted" "$issued" "$mode: reads counted by the device"
			echo "$mode: each bio counted once"
			;;
		*)
			expect_ge "$counted" $((issued + 500)) "$mode: reads counted by the device"
			echo "$mode: pieces counted again as they re-enter the device"
			;;
		esac
		dmsetup remove sdf
	done
}
