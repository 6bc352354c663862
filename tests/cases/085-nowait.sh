# shellcheck shell=sh disable=SC2034
# Requires: brd (nowait-capable), fio pvsync2.  The target declares
# DM_TARGET_NOWAIT.  Checks: an RWF_NOWAIT read inside one chunk succeeds;
# one that crosses a boundary fails with EAGAIN, as the block layer answers
# NOWAIT bios it would have to split, and is never partly done; the same
# read without NOWAIT succeeds.
DESCRIPTION="REQ_NOWAIT: remapped inside a chunk, EAGAIN when crossing"
TIMEOUT=120

# nowait_read DEV OFFSET_SECTORS SECTORS NOWAIT
nowait_read() {
	fio --name=nw --filename="$1" --rw=read --direct=1 --ioengine=pvsync2 \
		--nowait="$4" --offset=$(($2 * 512)) --bs=$(($3 * 512)) --size=$(($3 * 512)) \
		--output=nw.fio
}

test_case() {
	set -e
	setup_ramdisks 2 16
	dm_create sdf "0 4096 splitdf 2 /dev/ram0 0 2048 /dev/ram1 0 2048 2 boundary_sectors 64"
	if ! nowait_read /dev/mapper/sdf 8 8 1; then
		# Before 6.0 brd cannot do NOWAIT, so dm offers none for a table over it and
		# the block layer refuses every NOWAIT bio (EOPNOTSUPP) before the target sees it.
		if kernel_before 6 0 && grep -q 'error=Operation not supported' nw.fio; then
			skip "brd legs are not NOWAIT-capable before 6.0: NOWAIT refused with EOPNOTSUPP"
		fi
		cat nw.fio
		fail "NOWAIT read inside a chunk"
	fi
	echo "NOWAIT read inside one chunk: done"
	if nowait_read /dev/mapper/sdf 32 64 1 2>nw.err; then
		cat nw.fio
		fail "NOWAIT read across a boundary succeeded"
	fi
	grep -q 'Resource temporarily unavailable' nw.err nw.fio || { cat nw.err nw.fio; fail "not EAGAIN"; }
	echo "NOWAIT read across a boundary: EAGAIN"
	nowait_read /dev/mapper/sdf 32 64 0 || { cat nw.fio; fail "read across a boundary"; }
	echo "the same read without NOWAIT: done"
	expect_eq "$(counter sdf remainders)" 1 "remainders (only the read without NOWAIT split)"
}
