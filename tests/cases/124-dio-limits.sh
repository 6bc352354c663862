# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed; max_sectors and bs parameters), brd,
# /tests/bin/dio-limits (tests/tools/dio-limits.c).
# Checks: O_DIRECT preadv/pwritev at the edges of the queue limits the
# device reports (logical_block_size, max_sectors_kb, max_hw_sectors_kb,
# max_segments, max_segment_size, dma_alignment): offsets around leg and
# boundary_sectors boundaries, buffers aligned to exactly dma_alignment + 1
# bytes and less, iovecs shorter than a block, up to IOV_MAX segments,
# sizes around max_sectors_kb; aligned I/O transfers everything and reads
# back right, misaligned I/O fails with EINVAL and changes nothing, the
# bytes around each write stay.  Three layouts: two null_blk legs (on 7.2
# their dma_alignment is 1), null_blk and brd, and a 4096-byte null_blk with
# brd (logical blocks of 4 KiB).  dm-linear over the same legs first: every
# split_mode must report the same limits and give every probe the same
# outcome.
DESCRIPTION="O_DIRECT at odd offsets, alignments and iovecs vs the queue limits"
TIMEOUT=600

DIO=$SPLITDF_TESTS/bin/dio-limits

# layout LEGS: table.linear and table.splitdf (split_mode MODE, to be
# replaced) over LEGS, "dev offset sectors" triples.
layout() {
	linear='' start=0 splitlegs='' nlegs=0
	# shellcheck disable=SC2086 # the legs, word by word
	set -- $1
	while [ $# -ge 3 ]; do
		linear="$linear$start $3 linear $1 $2
"
		splitlegs="$splitlegs $1 $2 $3"
		start=$((start + $3)) nlegs=$((nlegs + 1))
		shift 3
	done
	printf %s "$linear" >table.linear
	echo "0 $start splitdf $nlegs$splitlegs $(features boundary_sectors 24 split_mode MODE)" >table.splitdf
}

# run_layout NAME LEGS BOUNDARIES: linear, then every split_mode.
run_layout() {
	name=$1 legs=$2 bounds=$3
	layout "$legs"
	dmsetup create dio <table.linear
	dmsetup mknodes dio
	# shellcheck disable=SC2086 # the boundaries, word by word
	$DIO /dev/mapper/dio $bounds >"$name.linear" 2>&1 || { cat "$name.linear"; fail "$name: dm-linear"; }
	dmsetup remove dio
	cat "$name.linear"
	echo "$name: dm-linear: $(($(wc -l <"$name.linear") - 2)) probes as its limits say"
	for mode in $SPLIT_MODES; do
		dm_create dio "$(sed "s/MODE/$mode/" table.splitdf)"
		# shellcheck disable=SC2086 # the boundaries, word by word
		$DIO /dev/mapper/dio $bounds >"$name.$mode" 2>&1 || { cat "$name.$mode"; fail "$name $mode: probes"; }
		diff -u "$name.linear" "$name.$mode" || fail "$name $mode: not as on dm-linear"
		expect_ge "$(counter dio crossed)" 10 "$name $mode: crossing bios"
		expect_eq "$(counter dio pinned)" 0 "$name $mode: pinned at rest"
		echo "$name $mode: same limits and outcomes as dm-linear, data right"
		dmsetup remove dio
	done
}

test_case() {
	set -e
	[ -x "$DIO" ] || fail "no $DIO"
	setup_ramdisks 1 64
	# max_sectors 64: 32 KiB requests, so sizes past it are cheap.
	setup_nullb 2 0 "max_sectors=64"
	run_layout nullb "/dev/nullb0 0 40000 /dev/nullb1 104 40000" "1200 40000 40008"
	run_layout mixed "/dev/ram0 8 40000 /dev/nullb0 50000 40000" "1200 40000 40008"
	setup_nullb 1 0 "bs=4096"
	run_layout lbs4k "/dev/ram0 0 40000 /dev/nullb0 0 40000" "1200 40000 40008"
	teardown_nullb
}
