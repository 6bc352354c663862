# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, discard, configfs), loop on sparse
# tmpfs files (a discard punches a hole), util-linux blkdiscard.
# Checks: random discards of every size class from 4 KiB to 4 GiB, at random
# 4 KiB-aligned offsets, on a 5.7 GiB device of five legs of different sizes
# and kinds (two memory-backed null_blk, two loop devices over sparse files,
# one null_blk twice) split every 2999 sectors: each succeeds, reads back
# zero at its first, middle and last 4 KiB, and leaves the 4 KiB on either
# side intact; then a device with a leg that cannot discard refuses the
# discard and keeps its data, as dm-linear over the same legs does.  In
# every split_mode.  A sparse leg costs nothing until written, so a 4 GiB
# discard is cheap.  The seed is printed; SPLITDF_APPEND=splitdf_seed=<seed>
# (the kernel command line) repeats a run.
DESCRIPTION="random discards, 4 KiB to 4 GiB, legs of different sizes and kinds"
TIMEOUT=600

# put DEV SECTOR: the 4 KiB pattern at SECTOR, O_DIRECT.
put() {
	dd if=pat of="$1" bs=4k seek=$(($2 * 512)) count=1 oflag=direct,seek_bytes conv=notrunc 2>/dev/null ||
		fail "write of the pattern at sector $2 of $1"
}

# md5_4k DEV SECTOR: md5 of the 4 KiB at SECTOR, O_DIRECT.
md5_4k() {
	dd if="$1" bs=4k skip=$(($2 * 512)) count=1 iflag=direct,skip_bytes 2>/dev/null | md5sum | cut -d' ' -f1
}

# check_discard DEV START SECTORS: pattern around and inside, discard, check.
check_discard() {
	dev=$1 start=$2 n=$3
	end=$((start + n)) mid=$((start + (n / 16) * 8))
	for s in $((start - 8)) "$start" "$mid" $((end - 8)) "$end"; do put "$dev" "$s"; done
	/usr/sbin/blkdiscard -o $((start * 512)) -l $((n * 512)) "$dev" >discard.log 2>&1 ||
		{ cat discard.log; fail "blkdiscard of $n sectors at $start"; }
	for s in "$start" "$mid" $((end - 8)); do
		expect_eq "$(md5_4k "$dev" "$s")" "$ZERO" "discard of $n at $start: 4 KiB at $s reads zero"
	done
	expect_eq "$(md5_4k "$dev" $((start - 8)))" "$PAT" "discard of $n at $start: the 4 KiB before it"
	expect_eq "$(md5_4k "$dev" "$end")" "$PAT" "discard of $n at $start: the 4 KiB after it"
}

# discards SEED SIZE: "sectors start" lines, one per power of two from 4 KiB
# to 4 GiB: a random multiple of 4 KiB above the power below it (4 KiB and
# exactly 4 GiB at the ends), at a random 4 KiB-aligned start that leaves
# 4 KiB free on either side.
discards() {
	awk -v seed="$1" -v size="$2" 'BEGIN {
		srand(seed)
		# This awk has no ^: p is 2^(k-10), the sectors of 2^(k-1) bytes.
		p = 4
		for (k = 12; k <= 32; k++) {
			if (k == 12 || k == 32)
				n = 2 * p
			else
				n = p + 8 * (1 + int(rand() * p / 8))
			s = 8 * (1 + int(rand() * ((size - n - 16) / 8)))
			printf "%d %d\n", n, s
			p *= 2
		}
	}'
}

# nodisc: a memory-backed null_blk without discard, /dev/nodisc, from configfs.
nodisc() {
	d=/sys/kernel/config/nullb/nodisc
	mkdir $d
	for p in size=64 memory_backed=1 discard=0 irqmode=0 queue_mode=2 power=1; do
		echo "${p#*=}" >"$d/${p%%=*}" || fail "null_blk configfs: $p"
	done
	[ -b /dev/nodisc ] || fail "/dev/nodisc missing"
}

test_case() {
	set -e
	seed=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^splitdf_seed=//p')
	[ -n "$seed" ] || seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo "seed $seed"
	dd if=/dev/urandom of=pat bs=4k count=1 2>/dev/null
	PAT=$(md5sum <pat | cut -d' ' -f1)
	ZERO=$(dd if=/dev/zero bs=4k count=1 2>/dev/null | md5sum | cut -d' ' -f1)
	setup_nullb 2 0
	modprobe loop
	# Sparse legs: tmpfs allocates only what is written.  util-linux's losetup
	# by path: busybox sh runs its own applet first.
	truncate -s $((3 << 30)) sparse0
	truncate -s $((2 << 30)) sparse1
	l0=$(/usr/sbin/losetup -f --show sparse0)
	l1=$(/usr/sbin/losetup -f --show sparse1)
	legs="5 /dev/nullb0 7 1500000 $l0 13 5000000 /dev/nullb1 0 2097152 $l1 4096 3000000 /dev/nullb0 1600000 400000"
	size=11997152
	echo "discard_granularity: $(cat "/sys/block/$(kname "$l0")/queue/discard_granularity") (loop), $(cat /sys/block/nullb0/queue/discard_granularity) (null_blk)"
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 $size splitdf $legs $(features boundary_sectors 2999 split_mode "$mode")"
		q=/sys/block/$(kname /dev/mapper/sdf)/queue
		expect_ge "$(cat "$q/discard_max_bytes")" 1 "$mode: discard_max_bytes"
		discards $((seed + 1)) $size >list
		t0=$(now_cs)
		while read -r n start; do
			check_discard /dev/mapper/sdf "$start" "$n"
		done <list
		# The 11 discards of 2 MiB and more are longer than a chunk (2999
		# sectors): each crosses, whatever the seed.  The smaller ones may not.
		expect_ge "$(counter sdf crossed)" 11 "$mode: discards that crossed"
		expect_splits sdf "$mode" 20
		expect_eq "$(counter sdf pinned)" 0 "$mode: pinned at rest"
		klog_note "$mode: 21 discards, 4 KiB to 4 GiB, in $(($(now_cs) - t0))0 ms; crossed $(counter sdf crossed)"
		echo "$mode: 21 discards from 4 KiB to 4 GiB: succeeded, zero inside, neighbours intact"
		dmsetup remove sdf
	done
	# A leg that cannot discard: the device does not offer discard at all, and
	# blkdiscard fails without touching the data, as on dm-linear.
	nodisc
	for mode in linear $SPLIT_MODES; do
		dm_create nd "$(two_legs "$mode" /dev/nullb0 /dev/nodisc 4096)"
		expect_eq "$(cat "/sys/block/$(kname /dev/mapper/nd)/queue/discard_max_bytes")" 0 "$mode: discard_max_bytes with a leg without discard"
		for s in 4000 4096 4184; do put /dev/mapper/nd $s; done
		if /usr/sbin/blkdiscard -o $((4000 * 512)) -l $((192 * 512)) /dev/mapper/nd >nd.log 2>&1; then
			fail "$mode: blkdiscard succeeded on a device without discard"
		fi
		grep -q 'not supported' nd.log || { cat nd.log; fail "$mode: blkdiscard failed otherwise than 'not supported'"; }
		for s in 4000 4096 4184; do
			expect_eq "$(md5_4k /dev/mapper/nd $s)" "$PAT" "$mode: 4 KiB at $s after the refused discard"
		done
		echo "$mode: a leg without discard: refused (not supported), data intact"
		dmsetup remove nd
	done
	/usr/sbin/losetup -d "$l0"
	/usr/sbin/losetup -d "$l1"
	rmdir /sys/kernel/config/nullb/nodisc
	teardown_nullb
}
