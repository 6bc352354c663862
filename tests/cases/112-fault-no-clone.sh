# shellcheck shell=sh disable=SC2034
# Requires: fail_function (CONFIG_FAIL_FUNCTION, FUNCTION_ERROR_INJECTION,
# FAULT_INJECTION_DEBUG_FS: the debug kernels of scripts/harness/build-debug-kernel;
# SKIP where /sys/kernel/debug/fail_function is missing), brd, fio.
#
# The no-clone paths on demand.  fail_function makes splitdf_make_rest()
# (split_mode clone: the remainder's clone) or splitdf_clone_piece()
# (split_mode ordered: a piece's clone) return NULL every time it is called
# (probability 100, retval 0, verbose 0; "times" set to 10^8 counts the
# injections down).  Both must be in the kernel's error_injection/list
# once dm_splitdf is loaded.  Per mode: fio crc32c verify with 512 B to
# 256 KiB bios over three legs and boundary_sectors 64 (most bios cross)
# must stay clean while every crossing bio is split by dm core instead:
# remainders 0, core_splits = crossed > 0, and the function failed exactly
# core_splits times.  Then, injection off, a short verify is clean and shows
# remainders again (and no further injection).  No head stays pinned; the
# knobs and the injection list are restored.  The counts go to the kernel
# log (the case's .console).
DESCRIPTION="fail_function forces dm core's split in clone and ordered modes; data intact"
TIMEOUT=900

FF=/sys/kernel/debug/fail_function
TIMES=100000000

# ff_cleanup: no function injected any more, the knobs as before.
ff_cleanup() {
	ff_rc=0
	echo >"$FF/inject" 2>/dev/null || true
	if [ -n "$(cat "$FF/inject")" ]; then
		echo "ff_cleanup: $FF/inject still has $(cat "$FF/inject")"
		ff_rc=1
	fi
	fi_restore || ff_rc=1
	return $ff_rc
}

# one_mode MODE FUNCTION
one_mode() {
	mode=$1 fn=$2
	echo "-- split_mode $mode: fail_function on $fn"
	dm_create sdf "0 24576 splitdf 3 /dev/ram0 0 8192 /dev/ram1 0 8192 /dev/ram0 8192 8192 $(features boundary_sectors 64 split_mode "$mode")"
	echo "$fn" >"$FF/inject"
	grep -q "^$fn" "$FF/inject" || fail "$fn not in $FF/inject"
	fi_set "$FF/$fn/retval" 0
	fi_set "$FF/times" $TIMES
	fio_verify /dev/mapper/sdf "injected-$mode" --size=8m --bsrange=512-256k
	fired=$(fi_fired "$FF/times" $TIMES)
	crossed=$(counter sdf crossed) splits=$(counter sdf core_splits)
	klog_note "$mode: $fn failed $fired times; crossed $crossed, core_splits $splits," \
		"remainders $(counter sdf remainders), mapped $(counter sdf mapped)"
	expect_ge "$crossed" 50 "$mode crossing bios under injection"
	expect_eq "$(counter sdf remainders)" 0 "$mode remainders under injection"
	expect_eq "$splits" "$crossed" "$mode core_splits (crossed $crossed) under injection"
	expect_eq "$fired" "$splits" "$mode injected failures of $fn (core_splits $splits)"
	echo "injected: verify clean; every crossing bio split by dm core, once per failed $fn; no remainders"

	echo "!$fn" >"$FF/inject"
	[ -z "$(cat "$FF/inject")" ] || fail "$FF/inject still has $(cat "$FF/inject")"
	dmsetup message sdf 0 reset_counters
	fio_verify /dev/mapper/sdf "free-$mode" --size=2m --bsrange=512-256k
	expect_eq "$(fi_fired "$FF/times" $TIMES)" "$fired" "$mode injections after the injection was removed"
	expect_ge "$(counter sdf remainders)" 10 "$mode remainders without injection"
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	klog_note "$mode without injection: crossed $(counter sdf crossed), remainders $(counter sdf remainders)," \
		"core_splits $(counter sdf core_splits)"
	echo "injection off: verify clean, remainders again"
	dmsetup remove sdf
}

test_case() {
	set -e
	[ -d "$FF" ] || skip "no fail_function in debugfs in $KREL (CONFIG_FAIL_FUNCTION)"
	for fn in splitdf_make_rest splitdf_clone_piece; do
		grep -qE "^${fn}[[:space:]]" "$FI/error_injection/list" ||
			fail "$fn is not in $FI/error_injection/list (ALLOW_ERROR_INJECTION)"
	done
	[ -z "$(cat "$FF/inject")" ] || fail "fail_function already injects: $(cat "$FF/inject")"
	trap ff_cleanup EXIT
	fi_arm "$FF" 100
	setup_ramdisks 2 16

	one_mode clone splitdf_make_rest
	one_mode ordered splitdf_clone_piece

	ff_cleanup
	trap - EXIT
	echo "fail_function cleared, knobs restored"
}
