# shellcheck shell=sh disable=SC2034
# Requires: a second vCPU that can go offline (vm-run boots 2 by default),
# null_blk (blk-mq, a hardware queue per CPU, completions from a timer), brd.
# Checks: fio crc32c verify with bios of 512 B to 1 MiB across a boundary
# every 7 sectors (chains deep enough for clone mode's per-CPU completion
# queue) while a loop takes CPU 1 offline and online again, over and over:
# verify clean, no hang, CPU 1 went away and came back several times during
# the I/O, nothing pinned at rest.  On null_blk legs and on brd legs, in
# every split_mode.
DESCRIPTION="fio verify with crossing bios while CPU 1 goes offline and online"
TIMEOUT=600

CPU=/sys/devices/system/cpu/cpu1/online

# hotplug: take CPU 1 offline and online until ./stop exists; the cycles
# done are in ./cycles, a failure to switch in ./hotplug.err.
hotplug() {
	hp_n=0
	while [ ! -e stop ]; do
		echo 0 >$CPU || { echo "offline failed after $hp_n cycles" >hotplug.err; break; }
		sleep 0.1
		echo 1 >$CPU || { echo "online failed after $hp_n cycles" >hotplug.err; break; }
		hp_n=$((hp_n + 1))
		echo $hp_n >cycles
		sleep 0.1
	done
}

# run LAYOUT TABLE: TABLE (without features) in every split_mode under hotplug.
run() {
	for mode in $SPLIT_MODES; do
		dm_create sdf "$2 $(features boundary_sectors 7 split_mode "$mode")"
		rm -f stop cycles hotplug.err
		hotplug &
		hp=$!
		fio_verify /dev/mapper/sdf "hotplug-$1-$mode" --size="$(scaled 32)m" --iodepth=32 || {
			touch stop
			wait $hp
			return 1
		}
		touch stop
		wait $hp
		[ ! -e hotplug.err ] || fail "$1 $mode: $(cat hotplug.err)"
		expect_eq "$(cat $CPU)" 1 "$1 $mode: CPU 1 online at the end"
		n=$(cat cycles 2>/dev/null || echo 0)
		expect_ge "$n" 3 "$1 $mode: offline/online cycles during the I/O"
		# inline and ordered count a bio once: about 200 cross at scale 1.
		expect_ge "$(counter sdf crossed)" "$(scaled 100)" "$1 $mode: crossing bios"
		expect_splits sdf "$mode" "$(scaled 100)"
		expect_eq "$(counter sdf pinned)" 0 "$1 $mode: pinned at rest"
		klog_note "$1 $mode: $n offline/online cycles of CPU 1 during fio; $(dmsetup message sdf 0 counters)"
		echo "$1 $mode: fio verify clean while CPU 1 went offline and online at least 3 times"
		dmsetup remove sdf
	done
}

test_case() {
	set -e
	[ -w $CPU ] || skip "no CPU 1 to take offline (one vCPU, or no CPU hotplug)"
	trap 'echo 1 >$CPU' EXIT
	# blk-mq legs: completions from a timer, a hardware queue per CPU that
	# is drained when its CPU goes.
	setup_nullb 2 0 "irqmode=2 completion_nsec=20000 submit_queues=2"
	run null_blk "0 65536 splitdf 2 /dev/nullb0 0 32768 /dev/nullb1 32768 32768"
	teardown_nullb
	# brd legs: bios complete in the submitting task, preemptible, where
	# only migrate_disable() keeps clone mode's completion loop on its CPU.
	setup_ramdisks 2 32
	run brd "0 65536 splitdf 2 /dev/ram0 0 32768 /dev/ram1 0 32768"
}
