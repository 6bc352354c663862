# shellcheck shell=sh disable=SC2034
# Requires: cgroup v2 with the io and memory controllers (Debian's kernels),
# brd, ext4, mke2fs.  Every piece of a split bio is charged to the cgroup of
# the bio it came from, once.  In every split_mode, boundary_sectors 8:
# (a) throttling: a cgroup with io.max wbps=2 MiB/s on the splitdf device
# writes 8 MiB in 64 KiB O_DIRECT writes (each crosses 16 boundaries); the
# time fio's job takes in each mode is within 10 % of core mode's (dm core's own
# split, which charges the bytes once).  A remainder throttled again on its
# way back into the device would take about (K+1)/2 times as long.
# (b) cgroup writeback: a cgroup with io and memory controllers writes
# 16 MiB through ext4 on the device, buffered, then sync; the legs'
# io.stat of that cgroup accounts at least 90 % of those bytes.  A piece
# charged to the task that submits it (the flusher, in the root cgroup)
# would escape io.max, io.weight and io.cost on the legs.
# The times and bytes go to the kernel log.
DESCRIPTION="cgroup charging of remainders and pieces: io.max and writeback"
TIMEOUT=600

CG=/sys/fs/cgroup
MIB=1048576

# in_cgroup NAME COMMAND...: run COMMAND in cgroup NAME.
in_cgroup() {
	ic_name=$1
	shift
	# shellcheck disable=SC2016 # $$ is the inner shell's
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/$ic_name" "$@"
}

make_sdf() {
	dm_create sdf "0 98304 splitdf 2 /dev/ram0 0 49152 /dev/ram1 0 49152 $(features boundary_sectors 8 split_mode "$1")"
}

# throttled MODE: milliseconds the throttled writes took (fio's runtime).
throttled() {
	make_sdf "$1"
	mkdir "$CG/max-$1"
	echo "$(mm /dev/mapper/sdf) wbps=$((2 * MIB))" >"$CG/max-$1/io.max"
	in_cgroup "max-$1" fio --name=max --filename=/dev/mapper/sdf --direct=1 --ioengine=psync \
		--rw=write --bs=64k --size=8m --offset=4k --output-format=json --output="max-$1.json" ||
		{ cat "max-$1.json"; fail "$1: throttled fio"; }
	sed -n 's/.*"runtime" : \([0-9]*\).*/\1/p' "max-$1.json" | sort -n | tail -n1
	expect_splits sdf "$1" 128 >&2
	dmsetup remove sdf
	rmdir "$CG/max-$1"
}

# leg_wbytes CGROUP: bytes written to the legs (ram0, ram1) charged to CGROUP.
leg_wbytes() {
	awk -v a="$(mm /dev/ram0)" -v b="$(mm /dev/ram1)" '$1 == a || $1 == b {
		for (i = 2; i <= NF; i++) if ($i ~ /^wbytes=/) { sub(/wbytes=/, "", $i); s += $i } }
		END { printf "%d", s }' "$CG/$1/io.stat"
}

writeback() {
	make_sdf "$1"
	# e2fsprogs' mke2fs, not busybox's applet, which knows no ext4
	for m in /usr/sbin/mke2fs /sbin/mke2fs; do
		[ -x $m ] && break
	done
	$m -q -t ext4 /dev/mapper/sdf || fail "$m -t ext4"
	mkdir -p /mnt/sdf
	# Modules on the -rt and generic flavours, built in on -cloud; ext4
	# asks the crypto API for crc32c, not modprobe for a dependency
	modprobe crc32c_generic 2>/dev/null || true
	modprobe ext4 2>/dev/null || true
	mount -t ext4 /dev/mapper/sdf /mnt/sdf || fail "mount ext4"
	mkdir "$CG/wb-$1"
	in_cgroup "wb-$1" dd if=/dev/zero of=/mnt/sdf/f bs=1M count=16 2>/dev/null
	sync
	wb=$(leg_wbytes "wb-$1")
	klog_note "$1: 16 MiB written back from cgroup wb-$1: $wb bytes charged to it on the legs"
	expect_ge "$wb" $((16 * MIB * 9 / 10)) "$1: bytes on the legs charged to the writer's cgroup"
	echo "$1: writeback charged to the writer's cgroup on the legs"
	umount /mnt/sdf
	dmsetup remove sdf
	rmdir "$CG/wb-$1"
}

test_case() {
	set -e
	mountpoint -q $CG || mount -t cgroup2 none $CG
	echo "+io +memory" >$CG/cgroup.subtree_control
	setup_ramdisks 2 48
	core=$(throttled core)
	for mode in $SPLIT_MODES; do
		[ "$mode" = core ] && t=$core || t=$(throttled "$mode")
		klog_note "$mode: 8 MiB at wbps 2 MiB/s in $t ms (core $core ms)"
		if [ $((t * 10)) -gt $((core * 11)) ] || [ $((t * 10)) -lt $((core * 9)) ]; then
			fail "$mode: throttled writes took $t ms, core mode $core ms: not within 10 %"
		fi
		echo "$mode: throttled as core mode is, within 10 %"
	done
	for mode in $SPLIT_MODES; do
		writeback "$mode"
	done
}
