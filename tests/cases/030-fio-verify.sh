# shellcheck shell=sh disable=SC2034
# Requires: brd, null_blk, fio with libaio.  Checks: fio crc32c verify (fatal) over
# /dev/mapper nodes with bios of 512 B to 1 MiB at 512 B alignment, so most
# bios cross leg and boundary_sectors boundaries; several layouts, the same
# device in two legs, one to two jobs at iodepth 16 to 32, each layout in
# every split_mode.  Counters must
# show the crossing happened and no head may stay pinned afterwards.
DESCRIPTION="fio crc32c verify with crossing bios on several layouts"
TIMEOUT=600

# Each layout in each split_mode: $1 name, $2 table without features,
# $3 feature words other than split_mode (no count), $4 least crossing
# bios expected, then fio options.
run_layout() {
	name=$1 table=$2 feat=$3 min=$4
	shift 4
	for mode in $SPLIT_MODES; do
		# shellcheck disable=SC2086 # the features, word by word
		dm_create "$name" "$table $(features $feat split_mode "$mode")"
		fio_verify "/dev/mapper/$name" "$name-$mode" "$@"
		crossed=$(counter "$name" crossed)
		expect_ge "$crossed" "$min" "$name crossed"
		expect_splits "$name" "$mode" "$min"
		expect_eq "$(counter "$name" pinned)" 0 "$name pinned at rest"
		echo "$name $mode: verify clean, $crossed bios crossed, peak pinned $(counter "$name" peak_pinned)"
		dmsetup remove "$name"
	done
}

test_case() {
	set -e
	setup_ramdisks 2 64
	# The issue's example shape, scaled: odd offsets, one device twice.
	run_layout odd24 "0 124995 splitdf 3 /dev/ram0 7 50003 /dev/ram1 13 49991 /dev/ram0 70000 25001" "boundary_sectors 24" "$(scaled 50)" \
		--size="$(scaled 48)m"
	# Tiny odd boundary: a 1 MiB bio leaves a chain of ~290 remainders.
	run_layout tiny7 "0 65536 splitdf 2 /dev/ram1 0 32768 /dev/ram0 65536 32768" "boundary_sectors 7" "$(scaled 50)" \
		--size="$(scaled 24)m" --iodepth=32
	# Legs only, many of them, two jobs on disjoint halves.
	table="0 65536 splitdf 16"
	i=0
	while [ $i -lt 16 ]; do
		table="$table /dev/ram$((i % 2)) $((i * 4096 + 3)) 4096"
		i=$((i + 1))
	done
	run_layout legs16 "$table" "" "$(scaled 5)" --size="$(scaled 16)m" --numjobs=2 --offset_increment=16m
	# blk-mq legs that complete from a timer: heads are still in flight in
	# a request when their remainders complete.
	setup_nullb 2 0 "irqmode=2 completion_nsec=20000"
	run_layout mq7 "0 65536 splitdf 2 /dev/nullb0 0 32768 /dev/nullb1 32768 32768" "boundary_sectors 7" "$(scaled 50)" \
		--size="$(scaled 24)m" --iodepth=32
	teardown_nullb
}
