# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, write-back cache), brd, dm-log-writes,
# dm-snapshot, ext4, e2fsprogs' mke2fs and e2fsck, tests/tools/log-replay,
# kprobes (the planted fault, tests/modules/dm-splitdf-dropfua.ko).
# Checks: REQ_PREFLUSH and REQ_FUA keep their meaning across splits, the way
# file systems are crash-tested (xfstests' dm-log-writes tests): ext4 on a
# splitdf device whose legs all lie on one dm-log-writes device, so that one
# log orders every piece, with a leg boundary inside the primary superblock
# (which ext4 writes with REQ_FUA) and a boundary every 8 sectors, runs a
# metadata churn with fsync and fdatasync.  The log is then replayed onto a
# fresh device to every consistency point after mkfs (each flush; the end of
# each run of FUA pieces: see tests/tools/log-replay.c), and at each the same
# splitdf table over that device, through a throwaway snapshot, must mount
# (journal recovery) and pass e2fsck -fn.  In every split_mode: 0
# inconsistent points of at least 20 checked.  Then the checker must find
# the planted fault (dm-splitdf-dropfua: REQ_FUA cleared on what a split
# cuts off a FUA write, dm-splitdf.c unchanged) in clone mode.
#
# The kernel command line option splitdf_plant=dropfua (SPLITDF_APPEND on the
# host) plants the fault in every mode: the case then fails, listing the
# inconsistent points.
DESCRIPTION="crash consistency of ext4 across splits: dm-log-writes replay at every flush and FUA"
TIMEOUT=900

# The device: 32 MiB, three legs on one dm-log-writes device, in reverse
# order; the first leg is 3 sectors, so that the superblock (sectors 2-3)
# is split between leg 0 and leg 1.
SIZE=65536
HALF=32768

# table DEV MODE: the splitdf table over DEV (the log-writes device, or the
# replay device, which has the same layout).
table() {
	echo "0 $SIZE splitdf 3 $1 $((SIZE - 3)) 3 $1 $HALF $((HALF - 3)) $1 0 $HALF $(features boundary_sectors 8 split_mode "$2")"
}

e2prog() {
	for p in /usr/sbin/$1 /sbin/$1; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	fail "no $1"
}

# check_point: run by log-replay at each consistency point, with the replay
# device (/dev/nullb1) under rsdf as the log had it.  A snapshot takes the
# writes of journal recovery, so the replay goes on from the log's state.
check_point() {
	echo "0 $SIZE snapshot /dev/mapper/rsdf /dev/nullb2 N 8" | dmsetup create rsnap || return 1
	dmsetup mknodes rsnap
	cp_rc=0
	klog_mark
	if ! mount -t ext4 /dev/mapper/rsnap /mnt/rsnap 2>mount.err; then
		echo "point $LOG_REPLAY_POINT (entry $LOG_REPLAY_ENTRY, $LOG_REPLAY_KIND): mount failed: $(cat mount.err)"
		klog_since | grep -E 'EXT4-fs|JBD2' | sed 's/^\[[ 0-9.]*\] /  /'
		cp_rc=1
	else
		umount /mnt/rsnap
		if ! "$(e2prog e2fsck)" -fn /dev/mapper/rsnap >e2fsck.log 2>&1; then
			echo "point $LOG_REPLAY_POINT (entry $LOG_REPLAY_ENTRY, $LOG_REPLAY_KIND): e2fsck -fn:"
			head -n 20 e2fsck.log
			cp_rc=1
		fi
	fi
	dmsetup remove rsnap
	return $cp_rc
}

# churn DIR: small files written and fsynced, renamed across directories,
# the directories fsynced, older files unlinked; then fio with fsync into
# new files and fdatasync over their blocks.
churn() {
	i=0
	while [ $i -lt 8 ]; do
		a=$1/d$((i % 3)) b=$1/d$(((i + 1) % 3))
		mkdir -p "$a" "$b"
		dd if=/dev/urandom of="$a/f$i" bs=1k count=$((1 + i * 37 % 48)) conv=fsync 2>/dev/null
		mv "$a/f$i" "$b/g$i"
		sync "$a" "$b"
		[ $i -lt 3 ] || rm -f "$1"/d*/g$((i - 3))
		i=$((i + 1))
	done
	fio --name=grow --directory="$1" --nrfiles=3 --filesize=256k --bsrange=4k-64k \
		--rw=randwrite --ioengine=psync --fsync=4 --file_service_type=random \
		--randrepeat=0 --output=grow.fio || { cat grow.fio; fail "fio grow"; }
	fio --name=grow --directory="$1" --nrfiles=3 --filesize=256k --bsrange=4k-16k \
		--rw=randwrite --ioengine=psync --fdatasync=4 --overwrite=1 --io_size=256k \
		--file_service_type=random --randrepeat=0 --output=over.fio || { cat over.fio; fail "fio over"; }
}

# run_mode MODE [plant]: log mkfs and the churn through MODE, replay, check.
run_mode() {
	mode=$1 plant=${2:-}
	# nullb0 under dm-log-writes, with the write-back cache that keeps
	# flushes and FUA; nullb1 the replay device, nullb2 the snapshots' store
	setup_nullb 3 64
	setup_ramdisks 1 64
	dm_create logw "0 $SIZE log-writes /dev/nullb0 /dev/ram0"
	dm_create sdf "$(table /dev/mapper/logw "$mode")"
	if [ -n "$plant" ]; then
		insmod /tests/modules/dm-splitdf-dropfua.ko || fail "insmod dm-splitdf-dropfua.ko"
	fi
	"$(e2prog mke2fs)" -q -t ext4 -b 4096 -E lazy_itable_init=0,lazy_journal_init=1,nodiscard \
		/dev/mapper/sdf || fail "mke2fs"
	dmsetup message logw 0 mark mkfs
	mount -t ext4 /dev/mapper/sdf /mnt/sdf || fail "mount ext4"
	if [ -n "$plant" ]; then
		dd if=/dev/urandom of=/mnt/sdf/f bs=1k count=20 conv=fsync 2>/dev/null
	else
		churn /mnt/sdf
	fi
	umount /mnt/sdf
	if [ -n "$plant" ]; then
		dropped=$(cat /sys/module/dm_splitdf_dropfua/parameters/dropped)
		rmmod dm_splitdf_dropfua
		klog_note "$mode: planted fault dropped REQ_FUA on $dropped bios"
		expect_ge "$dropped" 1 "$mode: bios the planted fault dropped REQ_FUA on"
	fi
	expect_ge "$(counter sdf crossed)" 20 "$mode crossing bios"
	dmsetup remove sdf
	case $(dmsetup status logw) in *logging_disabled*) fail "dm-log-writes stopped logging" ;; esac
	# Its destructor logs what no flush covered, then a last mark.
	dmsetup remove logw
	dm_create rsdf "$(table /dev/nullb1 "$mode")"
	rp_rc=0
	/tests/bin/log-replay --log /dev/ram0 --replay /dev/nullb1 --start-mark mkfs \
		--check ". /tests/lib/common.sh; . $SPLITDF_TESTS/cases/$SPLITDF_CASE.sh; check_point" \
		>replay-"$mode".log 2>&1 || rp_rc=$?
	dmsetup remove rsdf
	teardown_nullb
	summary=$(tail -n 1 replay-"$mode".log)
	case $summary in "log-replay: "*" inconsistent") ;; *) cat replay-"$mode".log; fail "log-replay: $summary" ;; esac
	checked=$(echo "$summary" | sed 's/.* \([0-9]*\) checked.*/\1/')
	bad=$(echo "$summary" | sed 's/.* \([0-9]*\) inconsistent$/\1/')
	echo "$mode: ${summary#log-replay: }"
	[ "$rp_rc" -le 1 ] || { cat replay-"$mode".log; fail "log-replay failed"; }
}

test_case() {
	set -e
	modprobe dm-log-writes
	modprobe dm-snapshot
	modprobe crc32c_generic 2>/dev/null || true
	mkdir -p /mnt/sdf /mnt/rsnap
	plant=
	grep -q 'splitdf_plant=dropfua' /proc/cmdline && plant=dropfua
	for mode in $SPLIT_MODES; do
		run_mode "$mode" "$plant"
		if [ "$bad" != 0 ]; then
			grep -v '^log-replay: [0-9]* entries' replay-"$mode".log | head -n 40
			fail "$mode: $bad of $checked consistency points inconsistent"
		fi
		expect_ge "$checked" 20 "$mode: consistency points checked"
	done
	# The planted fault must be found, or the check above proves nothing.
	run_mode clone plant
	grep -v '^log-replay: [0-9]* entries' replay-clone.log | head -n 12
	expect_ge "$bad" 1 "inconsistent points with the planted fault"
	echo "planted fault (REQ_FUA dropped on split-off parts): found, $bad of $checked points inconsistent"
}
