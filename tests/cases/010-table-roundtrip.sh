# shellcheck shell=sh disable=SC2034 # DESCRIPTION/TIMEOUT are read by the harness
# Requires: brd.  Checks: every accepted table line comes back from
# `dmsetup table` in canonical form (devices as major:minor, default
# features left out, split_mode clone too, features in a fixed order), the canonical line loads
# again to the same table, and INFO counters start at zero.
DESCRIPTION="table lines round-trip in canonical form"
TIMEOUT=120

test_case() {
	set -e
	setup_ramdisks 2 128
	while read -r table; do
		dm_create rt "$table"
		first=$(dmsetup table rt)
		echo "$first"
		dmsetup remove rt
		# The canonical line is itself a valid table that maps the same way.
		dm_create rt "$first"
		expect_eq "$(dmsetup table rt)" "$first" "reloaded canonical table"
		expect_eq "$(dmsetup status rt | cut -d' ' -f4-)" "0 0 0 0 0 0" "fresh counters"
		dmsetup remove rt
	done <<-LINES
	0 1000 splitdf 1 /dev/ram0 0 1000
	0 249995 splitdf 3 /dev/ram0 7 100003 /dev/ram1 13 99991 /dev/ram0 150000 50001 2 boundary_sectors 24
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 4 max_pinned 3 boundary_sectors 7
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 0
	0 1000 splitdf 1 /dev/ram0 0 1000 2 BOUNDARY_SECTORS 1
	0 1000 splitdf 01 /dev/ram1 000 1000 2 boundary_sectors 4294967295
	0 3000 splitdf 3 /dev/ram0 0 1000 /dev/ram0 0 1000 /dev/ram0 0 1000 2 max_pinned 1
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 2 split_mode clone
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 6 split_mode clone max_pinned 9 boundary_sectors 8
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 2 split_mode core
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 4 SPLIT_MODE Inline boundary_sectors 8
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 2 split_mode ordered
	0 2000 splitdf 2 1:0 0 1000 1:1 0 1000 6 max_pieces 4 split_mode ORDERED boundary_sectors 8
	LINES
}
