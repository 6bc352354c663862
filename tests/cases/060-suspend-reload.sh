# shellcheck shell=sh disable=SC2034
# Requires: brd.  Hazard 1: a remainder in transit when suspend starts.
# Checks: dozens of suspend/resume cycles (with and without --noflush) in
# clone mode and again in ordered mode, and table reloads that switch
# between the modes, while fio writes and verifies bios that cross
# boundaries every 8 sectors; every suspend returns, no head is pinned
# while the device is suspended, fio's verify is clean.
DESCRIPTION="suspend/resume and table reload under crossing load"
TIMEOUT=900

LEGS="/dev/ram0 8 40000 /dev/ram1 16 40000"

suspended_check() {
	expect_eq "$(counter sdf pinned)" 0 "pinned heads while suspended"
}

cycle_suspend() {
	i=0
	while [ $i -lt 30 ]; do
		if [ $((i % 3)) = 2 ]; then flag=--noflush; else flag=; fi
		dmsetup suspend $flag sdf
		suspended_check
		dmsetup resume sdf
		usleep $((i % 4 * 100000))
		i=$((i + 1))
	done
}

# Same legs, so the same data: only where and how bios are split changes.
cycle_reload() {
	i=0
	for f in "boundary_sectors 8" "boundary_sectors 24 split_mode ordered" \
		"boundary_sectors 7 max_pinned 2" "boundary_sectors 7 max_pieces 2 split_mode ordered" ""; do
		for _ in 1 2 3; do
			# shellcheck disable=SC2086 # the features, word by word
			echo "0 80000 splitdf 2 $LEGS $(features $f)" | dmsetup reload sdf
			dmsetup suspend sdf
			suspended_check
			dmsetup resume sdf
			i=$((i + 1))
		done
	done
	echo "$i table reloads"
}

# cycle_mode FEATURES NAME: the suspend cycles under a fio run of their own;
# FEATURES: feature words, without their count.
cycle_mode() {
	# shellcheck disable=SC2086 # the features, word by word
	dm_reload sdf "0 80000 splitdf 2 $LEGS $(features $1)"
	fio_verify /dev/mapper/sdf "bg-$2" --size=30m --iodepth=32 --loops="$(scaled 3)" &
	fio_pid=$!
	sleep 2
	cycle_suspend
	expect_ge "$(counter sdf remainders)" 100 "$2: clones made during the suspend cycles"
	wait $fio_pid || fail "$2: fio under suspend/resume"
	echo "$2: 30 suspend/resume cycles, fio verify clean"
}

test_case() {
	set -e
	setup_ramdisks 2 32
	dm_create sdf "0 80000 splitdf 2 $LEGS"
	cycle_mode "boundary_sectors 8" clone
	cycle_mode "boundary_sectors 8 split_mode ordered" ordered

	fio_verify /dev/mapper/sdf bg --size=30m --iodepth=32 --loops="$(scaled 3)" &
	fio_pid=$!
	sleep 2
	cycle_reload
	wait $fio_pid || fail "fio under table reloads"
	echo "fio verify clean"
	expect_eq "$(counter sdf pinned)" 0 "pinned heads at rest"
}
