# shellcheck shell=sh disable=SC2034
# Requires: null_blk (blk-mq, NOWAIT-capable on every supported kernel,
# unlike brd before 6.0), fio pvsync2.  The target declares
# DM_TARGET_NOWAIT.  Checks, in every split_mode: an RWF_NOWAIT read inside
# one chunk succeeds; an RWF_NOWAIT write and its verifying read across a
# boundary are split as dm core splits NOWAIT bios and succeed (one I/O at
# a time never runs out of tags, so no EAGAIN is expected), and the
# crossing bios were split in that mode.
DESCRIPTION="REQ_NOWAIT: remapped inside a chunk, split when crossing"
TIMEOUT=300

# nowait_io DEV RW OFFSET_SECTORS SECTORS [fio options]
nowait_io() {
	dev=$1 rw=$2 offset=$(($3 * 512)) bytes=$(($4 * 512))
	shift 4
	fio --name=nw --filename="$dev" --rw="$rw" --direct=1 --ioengine=pvsync2 \
		--nowait=1 --offset=$offset --bs=$bytes --size=$bytes --output=nw.fio "$@" ||
		{ cat nw.fio; fail "NOWAIT $rw of $bytes bytes at $offset"; }
}

test_case() {
	set -e
	setup_nullb 2 0
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 4096 splitdf 2 /dev/nullb0 0 2048 /dev/nullb1 0 2048 $(features boundary_sectors 64 split_mode "$mode")"
		nowait_io /dev/mapper/sdf read 8 8
		expect_eq "$(counter sdf crossed)" 0 "$mode: crossing bios inside a chunk"
		# Across a boundary_sectors boundary, then across the leg boundary.
		nowait_io /dev/mapper/sdf write 32 64 --verify=crc32c --do_verify=1 --verify_fatal=1
		nowait_io /dev/mapper/sdf write 2000 96 --verify=crc32c --do_verify=1 --verify_fatal=1
		expect_splits sdf "$mode" 2
		echo "$mode: NOWAIT inside a chunk and across boundaries: done, verified"
		dmsetup remove sdf
	done
	teardown_nullb
}
