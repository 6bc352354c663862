# shellcheck shell=sh disable=SC2034
# Requires: null_blk (memory backed, discard), util-linux blkdiscard.
# Checks, on dm-linear first and then on splitdf in every split_mode, with a
# 100 KiB O_DIRECT write that crosses the leg boundary and two boundaries:
# - `blockdev --setro` on the device: `blockdev --getro` says 1, the write
#   fails with EPERM and changes nothing, the read works; `--setrw`, and the
#   write succeeds;
# - the table reloaded read-only (`dmsetup reload --readonly`): the same;
#   reloaded read-write, writes work again;
# - a device created read-only: the same;
# - a discard on a read-only device: what dm-linear does (refused, or let
#   through by this kernel's ioctl), and data to match;
# - `blockdev --setro` on a leg: the write through the device and a reload of
#   the table with that leg go as on dm-linear; the data read back is what
#   the outcome says.
DESCRIPTION="read-only toggling: the device, its table and its legs"
TIMEOUT=300

START=1990 N=200

# outcome CMD...: OK, or the errno the command failed with, from its message.
outcome() {
	if "$@" >oc.log 2>&1; then
		echo OK
	elif grep -q 'Operation not permitted' oc.log; then
		echo EPERM
	elif grep -q 'Permission denied' oc.log; then
		echo EACCES
	elif grep -q 'Read-only file system' oc.log; then
		echo EROFS
	elif grep -q 'Bad file descriptor' oc.log; then
		echo EBADF
	else
		echo "other: $(head -n1 oc.log)"
	fi
}

# wr DEV DATA: the crossing write of file DATA, O_DIRECT.
wr() {
	dd if="$2" of="$1" bs=$((N * 512)) seek=$((START * 512)) count=1 oflag=direct,seek_bytes conv=notrunc
}

# rd DEV: md5 of the crossing range, read with O_DIRECT.
rd() {
	dd if="$1" bs=$((N * 512)) skip=$((START * 512)) count=1 iflag=direct,skip_bytes 2>/dev/null |
		md5sum | cut -d' ' -f1
}

md5() { md5sum <"$1" | cut -d' ' -f1; }

discard() { /usr/sbin/blkdiscard -o $((START * 512)) -l $((N * 512)) "$1"; }

# expect_write DEV WANT DATA WHAT: the write of DATA ends WANT; afterwards the
# range holds DATA if it succeeded, and what it held before if not.
expect_write() {
	ew_before=$(rd "$1")
	expect_eq "$(outcome wr "$1" "$3")" "$2" "$4: write"
	if [ "$2" = OK ]; then
		expect_eq "$(rd "$1")" "$(md5 "$3")" "$4: data after the write"
	else
		expect_eq "$(rd "$1")" "$ew_before" "$4: data after the refused write"
	fi
}

getro() { blockdev --getro "$1"; }

# check TARGET: every step on a device "ro" of TARGET (linear or a split_mode).
check() {
	t=$1 dev=/dev/mapper/ro
	table=$(two_legs "$t" /dev/nullb0 /dev/nullb1 2048)
	dm_create ro "$table"
	expect_write $dev OK a "$t: read-write"

	blockdev --setro $dev
	expect_eq "$(getro $dev)" 1 "$t: getro after --setro"
	expect_write $dev EPERM b "$t: after --setro"
	# What a discard on a read-only device does is the kernel's choice (6.1's
	# BLKDISCARD does not look): the same as on dm-linear, data to match.
	d=$(outcome discard $dev)
	[ "$t" = linear ] && lin_discard=$d
	expect_eq "$d" "$lin_discard" "$t: discard on a read-only device, as on linear"
	if [ "$d" = OK ]; then
		expect_eq "$(rd $dev)" "$ZERO" "$t: data after the discard"
	else
		expect_eq "$(rd $dev)" "$(md5 a)" "$t: data after the refused discard"
	fi
	blockdev --setrw $dev
	expect_eq "$(getro $dev)" 0 "$t: getro after --setrw"
	expect_write $dev OK b "$t: after --setrw"

	echo "$table" | dmsetup reload --readonly ro
	dmsetup resume ro
	expect_eq "$(getro $dev)" 1 "$t: getro with a read-only table"
	dmsetup info ro | grep -q 'READ-ONLY' || fail "$t: dmsetup info does not say READ-ONLY"
	expect_write $dev EPERM c "$t: read-only table"
	dm_reload ro "$table"
	expect_eq "$(getro $dev)" 0 "$t: getro with the table reloaded read-write"
	expect_write $dev OK c "$t: table reloaded read-write"

	# A leg set read-only under the device: the block layer only warns
	# about writes to it (bio_check_ro) on 6.1 and 7.2; whatever this
	# kernel does, dm-linear does the same.
	blockdev --setro /dev/nullb1
	o=$(outcome wr $dev d)
	r=$(outcome dm_reload ro "$table")
	blockdev --setrw /dev/nullb1
	if [ "$t" = linear ]; then lin_leg=$o lin_reload=$r; fi
	expect_eq "$o" "$lin_leg" "$t: write with a read-only leg, as on linear"
	expect_eq "$r" "$lin_reload" "$t: reload with a read-only leg, as on linear"
	if [ "$o" = OK ]; then want=d; else want=c; fi
	expect_eq "$(rd $dev)" "$(md5 $want)" "$t: data after the write with a read-only leg"
	expect_write $dev OK e "$t: leg read-write again"
	dmsetup remove ro

	echo "$table" | dmsetup create --readonly ro
	dmsetup mknodes ro
	expect_eq "$(getro $dev)" 1 "$t: getro of a device created read-only"
	expect_write $dev EPERM f "$t: created read-only"
	expect_eq "$(rd $dev)" "$(md5 e)" "$t: data of the device created read-only"
	dmsetup remove ro
	echo "$t: read-only by blockdev, by table and from creation: writes refused (EPERM), reads intact; read-write again: writes work"
}

test_case() {
	set -e
	setup_nullb 2 0
	for f in a b c d e f; do dd if=/dev/urandom of=$f bs=$((N * 512)) count=1 2>/dev/null; done
	ZERO=$(dd if=/dev/zero bs=$((N * 512)) count=1 2>/dev/null | md5sum | cut -d' ' -f1)
	lin_discard='' lin_leg='' lin_reload=''
	for t in linear $SPLIT_MODES; do
		check "$t"
	done
	klog_note "on a read-only device a discard ends $lin_discard; with a read-only leg a write ends $lin_leg, a reload $lin_reload"
	teardown_nullb
}
