# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, write-back cache, discard), tracefs.
# Checks: an empty flush reaches each distinct leg device exactly once even
# when a device backs several legs; a discard and a write-zeroes crossing
# leg and boundary_sectors boundaries clear exactly their range and nothing
# around it; in every split_mode.
DESCRIPTION="flush fan-out and crossing discard / write-zeroes"
TIMEOUT=600

TR=/sys/kernel/tracing

# devt NAME: the kernel's dev_t of /dev/NAME, as tracepoint filters take it.
devt() { mm "/dev/$1" | awk -F: '{ print $1 * 1048576 + $2 }'; }

# flushes DEV: empty flush bios queued to DEV since the trace started.
flushes() {
	grep 'block_bio_queue:' $TR/trace | awk -v d="$(mm /dev/"$1" | tr : ,)" \
		'$0 ~ " " d " F" { n++ } END { print n + 0 }'
}

check_flush() {
	echo 0 >$TR/tracing_on
	echo >$TR/trace
	dm=mapper/sdf
	echo "dev == $(devt nullb0) || dev == $(devt nullb1) || dev == $(devt $dm)" \
		>$TR/events/block/block_bio_queue/filter
	echo 1 >$TR/events/block/block_bio_queue/enable
	echo 1 >$TR/tracing_on
	fio --name=flush --filename=/dev/mapper/sdf --rw=write --bs=4k --size=16k \
		--direct=1 --ioengine=psync --fsync=1 --output=flush.fio || { cat flush.fio; fail "fio fsync"; }
	echo 0 >$TR/tracing_on
	echo 0 >$TR/events/block/block_bio_queue/enable
	echo 0 >$TR/events/block/block_bio_queue/filter
	fdm=$(flushes "$dm") f0=$(flushes nullb0) f1=$(flushes nullb1)
	echo "flushes: $dm $fdm, nullb0 $f0, nullb1 $f1"
	# Each flush of the splitdf device is one flush per distinct leg device.
	expect_ge "$fdm" 1 "flushes to the splitdf device"
	expect_eq "$f0" "$fdm" "flushes to nullb0 (backs two legs)"
	expect_eq "$f1" "$fdm" "flushes to nullb1"
}

zero_md5() {
	dd if=/dev/zero iflag=count_bytes bs=512k count=$(($1 * 512)) 2>/dev/null | md5sum | cut -d' ' -f1
}

# check_cleared OP START COUNT: the range reads zero, its neighbours not.
check_cleared() {
	op=$1 start=$2 count=$3
	fio --name=pat --filename=/dev/mapper/sdf --rw=write --bs=64k --direct=1 \
		--ioengine=libaio --iodepth=8 --buffer_pattern=0xa5 --output=pat.fio || { cat pat.fio; fail "pattern"; }
	before=$(counter sdf crossed)
	# busybox sh runs its own applets first: name util-linux's blkdiscard by path.
	if [ "$op" = discard ]; then
		/usr/sbin/blkdiscard -o $((start * 512)) -l $((count * 512)) /dev/mapper/sdf
	else
		/usr/sbin/blkdiscard -z -o $((start * 512)) -l $((count * 512)) /dev/mapper/sdf
	fi
	echo 3 >/proc/sys/vm/drop_caches
	expect_eq "$(region_md5 /dev/mapper/sdf "$start" "$count")" "$(zero_md5 "$count")" "$op range reads zero"
	pat=$(region_md5 /dev/mapper/sdf 0 8)
	expect_eq "$(region_md5 /dev/mapper/sdf $((start - 8)) 8)" "$pat" "$op: sectors before the range"
	expect_eq "$(region_md5 /dev/mapper/sdf $((start + count)) 8)" "$pat" "$op: sectors after the range"
	expect_ge $(($(counter sdf crossed) - before)) 1 "$op bios crossed"
	echo "$op of $count sectors at $start: cleared exactly, crossing"
}

test_case() {
	set -e
	setup_nullb 2 64
	for mode in $SPLIT_MODES; do
		echo "split_mode $mode"
		# nullb0 backs legs 1 and 3.
		dm_create sdf "0 24576 splitdf 3 /dev/nullb0 0 8192 /dev/nullb1 4096 8192 /dev/nullb0 16384 8192 $(features boundary_sectors 1024 split_mode "$mode")"
		check_flush
		# Aligned to 4 KiB (null_blk's discard granularity), crossing legs and boundaries.
		check_cleared discard 4096 12288
		check_cleared write-zeroes 7168 10240
		echo "write_zeroes_max_bytes: $(cat "/sys/block/$(kname /dev/mapper/sdf)/queue/write_zeroes_max_bytes")"
		dmsetup remove sdf
	done
}
