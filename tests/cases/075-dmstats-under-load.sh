# shellcheck shell=sh disable=SC2034
# Requires: brd, fio with libaio.  dm-stats on a splitdf device under
# crossing load: every @stats_create and @stats_delete briefly suspends the
# device with dm_internal_suspend_fast(), which waits for in-flight I/O and
# calls no target hook.  Checks, in split_mode ordered and core: 40 regions
# created and deleted while fio writes and verifies bios that cross
# boundaries every 8 sectors; every message returns within 30 s, the
# regions saw the I/O, fio's verify is clean.  Clone mode cannot pass this
# (a remainder queued on the suspended device pins its head's dm_io):
# tests/hazards/dmstats-clone.sh shows it, in a VM of its own.
DESCRIPTION="dm-stats regions created and deleted under crossing load"
TIMEOUT=600

LEGS="/dev/ram0 8 40000 /dev/ram1 16 40000"

# stats_msg DEV MESSAGE...: a dm-stats message that must return within 30 s.
# Polled, not timeout(1): a task blocked in D state ignores signals.
stats_msg() {
	dev=$1
	shift
	dmsetup message "$dev" 0 "$@" >msg.out 2>&1 &
	pid=$!
	t=0
	while kill -0 "$pid" 2>/dev/null; do
		[ "$t" -lt 300 ] || fail "dmsetup message $dev 0 $* blocked for 30 s"
		usleep 100000
		t=$((t + 1))
	done
	wait "$pid" || { cat msg.out; fail "dmsetup message $dev 0 $*"; }
	cat msg.out
}

# churn_regions DEV N: create a region over the whole device, read it, delete it.
churn_regions() {
	i=0
	while [ "$i" -lt "$2" ]; do
		id=$(stats_msg "$1" @stats_create - /1)
		case $id in '' | *[!0-9]*) fail "@stats_create printed '$id'" ;; esac
		stats_msg "$1" @stats_print "$id" >/dev/null
		stats_msg "$1" @stats_delete "$id" >/dev/null
		i=$((i + 1))
	done
}

test_case() {
	set -e
	setup_ramdisks 2 32
	for mode in ordered core; do
		dm_create sdf "0 80000 splitdf 2 $LEGS $(features boundary_sectors 8 split_mode "$mode")"
		# One region that stays, to show the I/O was counted.
		keep=$(stats_msg sdf @stats_create - /1)
		fio_verify /dev/mapper/sdf "stats-$mode" --size=30m --iodepth=32 --loops="$(scaled 2)" &
		fio_pid=$!
		sleep 1
		churn_regions sdf 40
		wait $fio_pid || fail "fio verify under dm-stats churn"
		expect_splits sdf "$mode" 100
		ios=$(stats_msg sdf @stats_print "$keep" | awk '{ r += $2; w += $6 } END { print r + w }')
		expect_ge "$ios" 100 "I/Os counted by the region that stayed"
		stats_msg sdf @stats_delete "$keep" >/dev/null
		echo "$mode: 40 regions created and deleted under load, verify clean"
		dmsetup remove sdf
	done
}
