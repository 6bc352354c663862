# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, write-back cache), brd, dm-log-writes,
# dm-snapshot, ext4, e2fsprogs' mke2fs and e2fsck, tests/tools/log-replay,
# kprobes (the planted fault, tests/modules/dm-splitdf-dropfua.ko); XFS and
# xfsprogs' mkfs.xfs and xfs_repair where the guest has them (the initramfs
# does; a DKMS root without xfsprogs checks ext4 alone).
# Checks: REQ_PREFLUSH and REQ_FUA keep their meaning across splits, the
# way file systems are crash-tested (xfstests' dm-log-writes tests).  A file
# system on a splitdf device whose legs all lie on one dm-log-writes device,
# so that one log orders every piece, split every 8 sectors, runs a churn:
# small files fsynced, renamed across directories, the directories fsynced,
# unlinked; fio with fsync and fdatasync; 64 KiB O_DSYNC O_DIRECT
# overwrites, which reach the device as REQ_FUA writes cut into 16 pieces.
# After each fsync or O_DSYNC write a mark goes into the log, with what the
# files it made durable must hold.  The log is then replayed onto a fresh
# device, under the same splitdf table, to every consistency point after
# mkfs (each flush; the end of each run of FUA pieces; each such mark: see
# tests/tools/log-replay.c), and at each a throwaway snapshot of it must
# mount (journal recovery) and pass e2fsck -fn or xfs_repair -n, and at a
# mark the files must hold what they held when made durable.  ext4 in every
# split_mode, XFS in clone and ordered (the modes to use; core and inline
# would add two minutes per kernel under TCG): 0 inconsistent points of at
# least 20 checked.  Then the checker must find the planted fault
# (dm-splitdf-dropfua: REQ_FUA cleared on what a split cuts off a FUA write,
# dm-splitdf.c unchanged), with ext4 in clone mode.
#
# The kernel command line option splitdf_plant=dropfua (SPLITDF_APPEND on the
# host) plants the fault in every run: the case then fails, listing the
# inconsistent points.  No golden output: the counts of entries and points
# depend on writeback's timing.
DESCRIPTION="crash consistency across splits: ext4 and XFS replayed from dm-log-writes at every flush, FUA and fsync"
TIMEOUT=900

# The device: 32 MiB, three legs on one dm-log-writes device, out of
# order.  Every leg and boundary is 4 KiB aligned, so that splits never
# cut a file system block: a write in flight at a flush may reach the log
# in part, as after a real crash, but never a block in part.  (With a leg
# boundary inside ext4's 1 KiB superblock, a superblock write in flight
# when umount's journal commit flushed left the replay unmountable at that
# flush: a real crash state of such a layout, not a fault of the target.)
SIZE=65536

# table DEV MODE: the splitdf table over DEV (the log-writes device, or the
# replay device, which has the same layout).
table() {
	echo "0 $SIZE splitdf 3 $1 40960 24576 $1 0 16384 $1 16384 24576 $(features boundary_sectors 8 split_mode "$2")"
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
	cp_rc=0 cp_at="point $LOG_REPLAY_POINT (entry $LOG_REPLAY_ENTRY, $LOG_REPLAY_KIND${LOG_REPLAY_MARK:+ $LOG_REPLAY_MARK})"
	klog_mark
	if ! mount -t "$CP_FS" /dev/mapper/rsnap /mnt/rsnap 2>mount.err; then
		echo "$cp_at: mount failed: $(cat mount.err)"
		klog_since | grep -E 'EXT4-fs|JBD2|XFS' | sed 's/^\[[ 0-9.]*\] /  /'
		cp_rc=1
	else
		if [ "$LOG_REPLAY_KIND" = mark ]; then
			while read -r cp_f cp_want; do
				cp_got=$(md5sum <"/mnt/rsnap/$cp_f" | cut -d' ' -f1) || true
				if [ "$cp_got" != "$cp_want" ]; then
					echo "$cp_at: $cp_f: md5 ${cp_got:-(none)}, durable was $cp_want"
					cp_rc=1
				fi
			done <"$CP_EXPECT/$LOG_REPLAY_MARK"
		fi
		umount /mnt/rsnap
		case $CP_FS in
		ext4) set -- "$(e2prog e2fsck)" -fn ;;
		xfs) set -- /usr/sbin/xfs_repair -n ;;
		esac
		if ! "$@" /dev/mapper/rsnap >fsck.log 2>&1; then
			echo "$cp_at: $* failed:"
			head -n 20 fsck.log
			cp_rc=1
		fi
	fi
	dmsetup remove rsnap
	return $cp_rc
}

# durable FILE...: FILEs (in /mnt/sdf) are durable now, as an fsync or an
# O_DSYNC write that returned says: a mark in the log, and what each FILE
# must hold at that mark.
durable() {
	n=$((n + 1))
	dmsetup message logw 0 mark "sync-$n"
	for f in "$@"; do
		echo "${f#/mnt/sdf/} $(md5sum <"$f" | cut -d' ' -f1)"
	done >"$CP_EXPECT/sync-$n"
}

# churn: in /mnt/sdf, small files written and fsynced, renamed across
# directories, the directories fsynced, older files unlinked; fio with fsync
# into new files and fdatasync over them; 64 KiB O_DSYNC O_DIRECT overwrites
# of a file whose blocks are all allocated and durable, which the file
# system sends as REQ_FUA writes (16 pieces each here).
churn() {
	i=0
	while [ $i -lt 4 ]; do
		a=/mnt/sdf/d$((i % 3)) b=/mnt/sdf/d$(((i + 1) % 3))
		mkdir -p "$a" "$b"
		dd if=/dev/urandom of="$a/f$i" bs=1k count=$((1 + i * 37 % 48)) conv=fsync 2>/dev/null
		mv "$a/f$i" "$b/g$i"
		sync "$a" "$b"
		durable "$b/g$i"
		[ $i -lt 2 ] || rm -f /mnt/sdf/d*/g$((i - 2))
		i=$((i + 1))
	done
	fio --name=grow --directory=/mnt/sdf --nrfiles=3 --filesize=128k --bsrange=4k-64k \
		--rw=randwrite --ioengine=psync --fsync=6 --file_service_type=random \
		--randrepeat=0 --output=grow.fio || { cat grow.fio; fail "fio grow"; }
	fio --name=grow --directory=/mnt/sdf --nrfiles=3 --filesize=128k --bsrange=4k-16k \
		--rw=randwrite --ioengine=psync --fdatasync=6 --overwrite=1 --io_size=128k \
		--file_service_type=random --randrepeat=0 --output=over.fio || { cat over.fio; fail "fio over"; }
	dsync_writes
}

# dsync_writes: the O_DSYNC part of churn, alone for the planted fault.
dsync_writes() {
	dd if=/dev/urandom of=/mnt/sdf/dsync bs=64k count=6 conv=fsync 2>/dev/null
	sync /mnt/sdf
	durable /mnt/sdf/dsync
	k=0
	while [ $k -lt 6 ]; do
		fio --name=dsync --filename=/mnt/sdf/dsync --rw=write --bs=64k --size=64k \
			--offset=$((k * 5 % 6 * 65536)) --direct=1 --sync=dsync --ioengine=psync \
			--randrepeat=0 --output=dsync.fio || { cat dsync.fio; fail "fio dsync"; }
		durable /mnt/sdf/dsync
		k=$((k + 1))
	done
}

# mkfs FS DEV
mkfs() {
	case $1 in
	ext4)
		"$(e2prog mke2fs)" -q -t ext4 -b 4096 \
			-E lazy_itable_init=0,lazy_journal_init=1,nodiscard "$2" || fail "mke2fs"
		;;
	xfs)
		# mkfs.xfs makes file systems under 300 MB only for fstests,
		# which it recognises by these three variables.
		TEST_DIR=/mnt TEST_DEV=/dev/null QA_CHECK_FS=1 \
			/usr/sbin/mkfs.xfs -q -f -K "$2" || fail "mkfs.xfs"
		;;
	esac
}

# run_mode FS MODE [plant]: log mkfs of FS and the churn through MODE,
# replay, check.  Sets $checked and $bad.
run_mode() {
	fs=$1 mode=$2 plant=${3:-}
	# nullb0 under dm-log-writes, with the write-back cache that keeps
	# flushes and FUA; nullb1 the replay device, nullb2 the snapshots' store
	setup_nullb 3 64
	setup_ramdisks 1 64
	dm_create logw "0 $SIZE log-writes /dev/nullb0 /dev/ram0"
	dm_create sdf "$(table /dev/mapper/logw "$mode")"
	if [ -n "$plant" ]; then
		insmod /tests/modules/dm-splitdf-dropfua.ko || fail "insmod dm-splitdf-dropfua.ko"
	fi
	mkfs "$fs" /dev/mapper/sdf
	dmsetup message logw 0 mark mkfs
	mount -t "$fs" /dev/mapper/sdf /mnt/sdf || fail "mount $fs"
	CP_EXPECT=$PWD/expect-$fs-$mode n=0
	rm -rf "$CP_EXPECT"
	mkdir "$CP_EXPECT"
	if [ "$plant" = short ]; then
		dsync_writes
	else
		churn
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
	rp_rc=0 log=replay-$fs-$mode.log
	CP_FS=$fs CP_EXPECT=$CP_EXPECT /tests/bin/log-replay --log /dev/ram0 --replay /dev/nullb1 \
		--start-mark mkfs --check-marks sync- \
		--check ". /tests/lib/common.sh; . $SPLITDF_TESTS/cases/$SPLITDF_CASE.sh; check_point" \
		>"$log" 2>&1 || rp_rc=$?
	dmsetup remove rsdf
	teardown_nullb
	summary=$(tail -n 1 "$log")
	case $summary in "log-replay: "*" inconsistent") ;; *) cat "$log"; fail "log-replay: $summary" ;; esac
	checked=$(echo "$summary" | sed 's/.* \([0-9]*\) checked.*/\1/')
	bad=$(echo "$summary" | sed 's/.* \([0-9]*\) inconsistent$/\1/')
	echo "$fs $mode: ${summary#log-replay: }"
	[ "$rp_rc" -le 1 ] || { cat "$log"; fail "log-replay failed"; }
}

test_case() {
	set -e
	modprobe dm-log-writes
	modprobe dm-snapshot
	modprobe crc32c_generic 2>/dev/null || true
	runs="ext4:clone ext4:core ext4:inline ext4:ordered"
	if [ -x /usr/sbin/mkfs.xfs ] && [ -x /usr/sbin/xfs_repair ] && modprobe xfs; then
		runs="$runs xfs:clone xfs:ordered"
	else
		echo "no XFS in this guest (mkfs.xfs, xfs_repair, module): ext4 only"
	fi
	mkdir -p /mnt/sdf /mnt/rsnap
	plant=
	grep -q 'splitdf_plant=dropfua' /proc/cmdline && plant=dropfua
	failed=
	for run in $runs; do
		run_mode "${run%:*}" "${run#*:}" "$plant"
		if [ "$bad" != 0 ]; then
			grep -v '^log-replay: [0-9]* entries' "$log" | head -n 40
			failed="$failed $run"
		fi
		expect_ge "$checked" 20 "$run: consistency points checked"
	done
	[ -z "$failed" ] || fail "inconsistent points in:$failed"
	# The planted fault must be found, or the checks above prove nothing.
	run_mode ext4 clone short
	grep -v '^log-replay: [0-9]* entries' "$log" | head -n 12
	expect_ge "$bad" 1 "inconsistent points with the planted fault"
	echo "planted fault (REQ_FUA dropped on split-off parts): found, $bad of $checked points inconsistent"
}
