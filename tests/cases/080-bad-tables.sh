# shellcheck shell=sh disable=SC2034
# Requires: brd, null_blk (zoned).  Checks: each malformed table line is
# refused with its own ti->error text in the kernel log, leaves no device
# behind, and (checked by the harness after the case) leaks no reference
# that would keep the module from unloading.
DESCRIPTION="malformed table lines refused, each with its own error"
TIMEOUT=300

R0=/dev/ram0
R1=/dev/ram1

# try_malformed_lines: every line below must be refused; n counts them, so that a
# line lost from the list shows in the count test_case checks.
try_malformed_lines() {
	n=0
	while IFS='|' read -r len params err; do
		expect_refused bad "0 $len splitdf $params" "$err"
		n=$((n + 1))
	done <<-CASES
	1000||Invalid number of legs
	1000|0 $R0 0 1000|Invalid number of legs
	1000|+1 $R0 0 1000|Invalid number of legs
	1000|-1 $R0 0 1000|Invalid number of legs
	1000|1.0 $R0 0 1000|Invalid number of legs
	1000|1x $R0 0 1000|Invalid number of legs
	1000|65536 $R0 0 1000|Invalid number of legs
	1000|99999999999999999999 $R0 0 1000|Invalid number of legs
	1000|2 $R0 0 1000|Not enough arguments for the legs
	1000|1 $R0 -1 1000|Invalid leg offset
	1000|1 $R0 +0 1000|Invalid leg offset
	1000|1 $R0 0x10 1000|Invalid leg offset
	1000|1 $R0 18446744073709551616 1000|Invalid leg offset
	1000|1 $R0 0 1000.0|Invalid leg length
	1000|1 $R0 0 1e3|Invalid leg length
	1000|1 $R0 0 1000sectors|Invalid leg length
	1000|2 $R0 0 0 $R1 0 1000|Zero-length leg
	1000|1 $R0 18446744073709551615 1000|Leg offset plus length overflows
	1000|1 $R0 0 2000|Legs are longer than the target
	1000|2 $R0 0 600 $R1 0 600|Legs are longer than the target
	1000|1 $R0 0 500|Legs do not add up to the target length
	1000|1 /dev/nonexistent 0 1000|Device lookup failed
	1000|1 $R0 $((size - 500)) 1000|Leg extends beyond the end of its device
	1000|1 $R0 0 1000 2 boundary_sectors 0|Invalid boundary_sectors
	1000|1 $R0 0 1000 2 boundary_sectors 4294967296|Invalid boundary_sectors
	1000|1 $R0 0 1000 2 boundary_sectors -8|Invalid boundary_sectors
	1000|1 $R0 0 1000 2 max_pinned 0|Invalid max_pinned
	1000|1 $R0 0 1000 4 boundary_sectors 8 boundary_sectors 16|Feature given twice
	1000|1 $R0 0 1000 2 frobnicate 8|Unknown feature
	1000|1 $R0 0 1000 1 boundary_sectors|Feature needs a value
	1000|1 $R0 0 1000 3 boundary_sectors 8|Not enough feature arguments
	1000|1 $R0 0 1000 2 boundary_sectors 8 extra|Too many arguments
	1000|1 $R0 0 1000 x boundary_sectors 8|Invalid number of feature arguments
	1000|1 $R0 0 1000 2 split_mode depth|Invalid split_mode
	1000|1 $R0 0 1000 2 split_mode 1|Invalid split_mode
	1000|1 $R0 0 1000 1 split_mode|Feature needs a value
	1000|1 $R0 0 1000 4 split_mode clone split_mode clone|Feature given twice
	1000|1 $R0 0 1000 4 split_mode core split_mode inline|Feature given twice
	1000|1 $R0 0 1000 4 max_pinned 4 split_mode core|max_pinned needs split_mode clone
	1000|1 $R0 0 1000 4 split_mode inline max_pinned 4|max_pinned needs split_mode clone
	1000|1 $R0 0 1000 4 split_mode ordered max_pinned 4|max_pinned needs split_mode clone
	1000|1 $R0 0 1000 2 max_pieces 4|max_pieces needs split_mode ordered
	1000|1 $R0 0 1000 4 split_mode core max_pieces 4|max_pieces needs split_mode ordered
	1000|1 $R0 0 1000 4 split_mode ordered max_pieces 0|Invalid max_pieces
	1000|1 $R0 0 1000 4 split_mode ordered max_pieces 4294967296|Invalid max_pieces
	1000|1 $R0 0 1000 6 split_mode ordered max_pieces 2 max_pieces 2|Feature given twice
	CASES
}

# A zoned leg is refused at load: splitdf would split zone appends.
refuse_zoned_leg() {
	setup_nullb 1 0 "zoned=1 zone_size=4 cache_size=0"
	expect_refused bad "0 8192 splitdf 1 /dev/nullb0 0 8192" "Zoned devices are not supported"
	teardown_nullb
}

# A split inside a 4 KiB-block leg must fall on a 4 KiB boundary.
check_4k_boundary() {
	setup_nullb 1 0 "bs=4096"
	expect_refused bad "0 8192 splitdf 1 /dev/nullb0 0 8192 2 boundary_sectors 12" \
		"boundary_sectors not aligned to a leg's logical block size"
	dm_create good4k "0 8192 splitdf 1 /dev/nullb0 0 8192 $(features boundary_sectors 16)"
	dmsetup remove good4k
	teardown_nullb
}

test_case() {
	set -e
	setup_ramdisks 2 1
	size=$(sectors $R0)
	try_malformed_lines
	expect_ge $n 46 "malformed lines tried"
	refuse_zoned_leg
	check_4k_boundary
	echo "$((n + 2)) malformed tables refused"
}
