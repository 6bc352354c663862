# shellcheck shell=sh disable=SC2034
# Requires: brd.  A remainder stuck below must not make `dmsetup suspend`
# of the splitdf device unkillable.  Leg B is a dm-linear device, suspended;
# a crossing O_DIRECT read starts whose head lands on leg A and whose rest
# lands on B, where it waits (in clone mode the head stays pinned).  Then, in
# every split_mode: `dmsetup suspend` of the splitdf device, killed with
# SIGKILL after 5 s, is gone within 10 s more (not left in D state); a
# `dmsetup resume` of the device returns; after leg B resumes the read
# completes with its data, no head stays pinned, and the device suspends,
# resumes and reads again.
DESCRIPTION="a remainder stuck on a suspended leg: dmsetup suspend stays killable"
TIMEOUT=300

# gone PID SECONDS: true once PID has ended, false if it still runs then.
gone() {
	g=0
	while running "$1"; do
		[ $g -lt $(($2 * 10)) ] || return 1
		usleep 100000
		g=$((g + 1))
	done
}

# crossing_read OUT: the 8 KiB at sector 4088 (4 KiB on each leg), O_DIRECT.
crossing_read() {
	dd if=/dev/mapper/sdf of="$1" iflag=direct,skip_bytes bs=8k skip=$((4088 * 512)) count=1 2>/dev/null
}

one_mode() {
	mode=$1
	dm_create legb "0 4096 linear /dev/ram1 0"
	dm_create sdf "0 8192 splitdf 2 /dev/ram0 0 4096 /dev/mapper/legb 0 4096 $(features split_mode "$mode")"
	want=$(region_md5 /dev/mapper/sdf 4088 16)
	dmsetup suspend legb
	crossing_read read.out &
	rd=$!
	sleep 1
	running $rd || fail "$mode: the crossing read ended while leg B was suspended"
	timeout -s KILL 5 dmsetup suspend sdf &
	sp=$!
	if ! gone $sp 15; then
		klog_note "$mode: dmsetup suspend still there 15 s after it started: $(grep State "/proc/$sp/status")"
		dmsetup resume legb
		wait $rd || true
		wait $sp || true
		fail "$mode: dmsetup suspend was not gone 10 s after SIGKILL"
	fi
	wait $sp || true
	echo "$mode: dmsetup suspend killed while a rest was stuck below"
	timeout 10 dmsetup resume sdf || fail "$mode: dmsetup resume of the device"
	dmsetup resume legb
	wait $rd || fail "$mode: the crossing read after leg B resumed"
	expect_eq "$(md5sum <read.out | cut -d' ' -f1)" "$want" "$mode: data of the crossing read"
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	dmsetup suspend sdf
	dmsetup resume sdf
	crossing_read again.out || fail "$mode: crossing read after suspend and resume"
	expect_eq "$(md5sum <again.out | cut -d' ' -f1)" "$want" "$mode: data after suspend and resume"
	echo "$mode: the read completed after the leg resumed; the device suspends and resumes"
	dmsetup remove sdf legb
}

test_case() {
	set -e
	setup_ramdisks 2 2
	dd if=/dev/urandom of=/dev/ram0 bs=1M count=2 2>/dev/null
	dd if=/dev/urandom of=/dev/ram1 bs=1M count=2 2>/dev/null
	for mode in $SPLIT_MODES; do
		one_mode "$mode"
	done
}
