# shellcheck shell=sh disable=SC2034
# Requires: brd.  Checks: splitdf maps every sector exactly where a dm-linear
# table of the same legs does (dm core's own split is the reference).  Data
# written through one is read back identically through the other, in both
# directions, and each leg's region on its device holds exactly its part.
DESCRIPTION="same data through splitdf and dm-linear of the same legs"
TIMEOUT=600

LEGS="/dev/ram0 7 50003 /dev/ram1 13 49991 /dev/ram0 70000 25001"
TOTAL=124995

linear_table() {
	start=0
	# shellcheck disable=SC2086 # the legs, word by word
	set -- $LEGS
	while [ $# -ge 3 ]; do
		echo "$start $3 linear $1 $2"
		start=$((start + $3))
		shift 3
	done
}

# fill DEV SEED: random data over the whole device, bios of every size.
fill() {
	fio --name=fill --filename="$1" --rw=write --bsrange=512-1m --blockalign=512 \
		--direct=1 --ioengine=libaio --iodepth=16 --refill_buffers \
		--size="$(scaled 100)%" --randseed="$2" --output=fill.fio || { cat fill.fio; fail "fill $1"; }
}

# Each leg's region on its own device equals its slice of the splitdf device.
check_legs() {
	start=0
	# shellcheck disable=SC2086 # the legs, word by word
	set -- $LEGS
	while [ $# -ge 3 ]; do
		expect_eq "$(region_md5 "$1" "$2" "$3")" "$(region_md5 /dev/mapper/sdf "$start" "$3")" \
			"leg $1 at $2 (+$3)"
		start=$((start + $3))
		shift 3
	done
}

compare() {
	echo 3 >/proc/sys/vm/drop_caches
	expect_eq "$(dev_md5 /dev/mapper/sdf)" "$(dev_md5 /dev/mapper/lin)" "$1"
	check_legs
	echo "$1: identical"
}

test_case() {
	set -e
	setup_ramdisks 2 64
	dm_create lin "$(linear_table)"
	seed=1
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 $TOTAL splitdf 3 $LEGS $(features boundary_sectors 24 split_mode "$mode")"
		expect_eq "$(sectors /dev/mapper/sdf)" "$(sectors /dev/mapper/lin)" "sizes"

		fill /dev/mapper/sdf $seed
		compare "$mode: written through splitdf, read through dm-linear"
		expect_splits sdf "$mode" "$(scaled 1000)"

		fill /dev/mapper/lin $((seed + 1))
		compare "$mode: written through dm-linear, read through splitdf"
		expect_eq "$(counter sdf pinned)" 0 "pinned heads at rest"
		dmsetup remove sdf
		seed=$((seed + 2))
	done
}
