# shellcheck shell=sh disable=SC2034
# Requires: brd; a small guest.  Hazard 2: every remainder pins its parent,
# so a 1 MiB bio split every 8 sectors holds a chain of 255 clones (with
# dm_mod's reserve of dm_ios raised to match, or the pin limit stops it).  Checks:
# in a 384 MiB guest with most free memory taken by a tmpfs hog, deep
# crossing writes at iodepth 32 finish and verify clean; with max_pinned 4
# the clone path is capped and dm core takes the splits (core_splits grows,
# peak_pinned stays at the cap), and that also verifies clean.  The same in
# ordered mode: 255 pieces per bio at once, then max_pieces 4 (dm core
# takes the rest of every bio), both verify clean.
DESCRIPTION="forward progress and verify under memory pressure with deep crossing"
RESERVE=/sys/module/dm_mod/parameters/reserved_bio_based_ios
TIMEOUT=900
VM_MEM=384

# hog MIB: fill a tmpfs so that about MIB of memory stays free.
hog() {
	mkdir -p /hog
	mount -t tmpfs -o size=90% hog /hog
	avail=$(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo)
	take=$((avail - $1))
	[ "$take" -gt 0 ] || return 0
	dd if=/dev/zero of=/hog/fill bs=1M count="$take" 2>/dev/null || true
	echo "hog: took ${take} MiB, $(awk '/MemAvailable/ { print int($2 / 1024) }' /proc/meminfo) MiB left available"
}

unhog() {
	rm -f /hog/fill
	umount /hog
}

test_case() {
	set -e
	setup_ramdisks 2 24
	# Chains as deep as a 1 MiB bio makes need a reserve of dm_ios as deep:
	# the pin limit is dm_mod's reserve less one (splitdf_pin_limit()).
	reserve=$(cat $RESERVE)
	echo 256 >$RESERVE
	dm_create deep "0 90000 splitdf 2 /dev/ram0 0 45000 /dev/ram1 0 45000 $(features boundary_sectors 8)"
	echo "$reserve" >$RESERVE
	dm_create capped "0 90000 splitdf 2 /dev/ram1 0 45000 /dev/ram0 0 45000 $(features boundary_sectors 8 max_pinned 4)"
	dm_create ordered "0 90000 splitdf 2 /dev/ram0 0 45000 /dev/ram1 0 45000 $(features boundary_sectors 8 split_mode ordered)"
	dm_create pieces "0 90000 splitdf 2 /dev/ram1 0 45000 /dev/ram0 0 45000 $(features boundary_sectors 8 max_pieces 4 split_mode ordered)"
	# Fill the ram disks first so that their pages are not allocated under
	# the hog.  O_DIRECT: dirty page cache of /dev/ramN written back later
	# (the hog makes reclaim do it) would land zeros on fio's data.
	dd if=/dev/zero of=/dev/ram0 bs=1M oflag=direct 2>/dev/null || true
	dd if=/dev/zero of=/dev/ram1 bs=1M oflag=direct 2>/dev/null || true
	hog 96

	fio_verify /dev/mapper/deep deep --bsrange=1m-1m --iodepth=32 --size="$(scaled 40)m"
	expect_ge "$(counter deep peak_pinned)" 64 "deepest chain"
	echo "deep: verify clean, core_splits $(counter deep core_splits)"

	fio_verify /dev/mapper/capped capped --bsrange=1m-1m --iodepth=32 --size="$(scaled 40)m"
	expect_ge "$(counter capped core_splits)" "$(scaled 1000)" "splits handed to dm core"
	peak=$(counter capped peak_pinned)
	[ "$peak" -le 4 ] || fail "peak_pinned $peak above max_pinned 4"
	echo "capped: verify clean, peak_pinned within max_pinned"

	fio_verify /dev/mapper/ordered ordered --bsrange=1m-1m --iodepth=32 --size="$(scaled 40)m"
	expect_ge "$(counter ordered remainders)" "$(scaled 10000)" "ordered pieces"
	echo "ordered: verify clean, core_splits $(counter ordered core_splits)"

	fio_verify /dev/mapper/pieces pieces --bsrange=1m-1m --iodepth=32 --size="$(scaled 40)m"
	expect_ge "$(counter pieces core_splits)" "$(scaled 1000)" "max_pieces: rests handed to dm core"
	echo "pieces: verify clean, dm core split off what max_pieces left"
	unhog
	expect_eq "$(counter deep pinned)$(counter capped pinned)" "00" "pinned at rest"
}
