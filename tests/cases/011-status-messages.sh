# shellcheck shell=sh disable=SC2034
# Requires: brd.  Checks: INFO counters move exactly as the map function
# decides (one bio inside a chunk; one bio crossing two boundaries; the same
# with max_pinned 1 so dm core takes the second split), the `counters` and
# `reset_counters` messages, and that unknown messages are refused.
DESCRIPTION="INFO counters and dmsetup message verbs"
TIMEOUT=120

# read_once DEV OFFSET_SECTORS SECTORS: exactly one O_DIRECT read bio.
read_once() {
	io_at "$1" read "$2" "$3" || { cat io_at.log; fail "read_once $*"; }
}

show() { echo "$1: $(dmsetup status sdf | cut -d' ' -f4-)"; }

test_case() {
	set -e
	setup_ramdisks 2 16
	dm_create sdf "0 4096 splitdf 2 /dev/ram0 0 2048 /dev/ram1 0 2048 $(features boundary_sectors 64)"
	show "fresh"
	read_once /dev/mapper/sdf 8 8
	show "inside one chunk"
	read_once /dev/mapper/sdf 32 128
	show "crossing two boundaries"
	dmsetup message sdf 0 counters
	dmsetup message sdf 0 reset_counters
	show "after reset_counters"
	read_once /dev/mapper/sdf 2040 16
	show "crossing the leg boundary"
	if dmsetup message sdf 0 frobnicate 2>/dev/null; then fail "unknown verb accepted"; fi
	if dmsetup message sdf 0 reset_counters now 2>/dev/null; then fail "extra argument accepted"; fi
	echo "unknown messages refused"

	dm_reload sdf "0 4096 splitdf 2 /dev/ram0 0 2048 /dev/ram1 0 2048 $(features boundary_sectors 64 max_pinned 1)"
	show "new table"
	read_once /dev/mapper/sdf 32 128
	show "max_pinned 1, crossing two boundaries"
}
