# shellcheck shell=sh disable=SC2034
# Requires: fault injection with debugfs (CONFIG_FAULT_INJECTION, FAILSLAB,
# FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS: the debug kernels of
# scripts/harness/build-debug-kernel; SKIP where /proc/thread-self/fail-nth is
# missing), brd, /tests/bin/dm-failnth (tests/tools/dm-failnth.c).
#
# Every allocation of loading a splitdf table fails once.  dm-failnth
# (-a reload) makes the device with the table (DM_DEV_CREATE, DM_TABLE_LOAD,
# resume), then walks N = 1, 2, ...: it arms /proc/thread-self/fail-nth with
# N (the N-th fault-injection check of its thread fails), loads the same
# table again and resumes, which replaces the live table (the constructor,
# dm core's table and mempools, the swap and the old table's destructor),
# reads fail-nth back and disarms it, removes the device and checks that no
# dm device was added or lost; it stops at the first N where load and
# resume succeed and the fault was not injected (at most 2000).  It runs
# on CPU 0 only, so that the per-CPU slabs it allocates from are the same at
# every N.  failslab and fail_page_alloc count sleeping allocations
# (ignore-gfp-wait N); their probability stays 0, so nothing else in the
# guest fails: fail-nth overrides it.  Twice: four legs on three ram disks
# (ram0 twice), boundary_sectors 24, max_pieces 16, split_mode ordered; then
# the same legs with max_pinned 8 in split_mode clone.  Checks: no step
# failed without an injected fault; after each injected failure the device
# could be removed and no dm device was left (dm-failnth), and dmsetup ls
# agrees at the end; the constructor refused with each of its own
# allocation failures (context, flush map, bioset); the device made at the
# end has the canonical table and verifies clean with fio; the knobs are
# restored.  The harness then checks the kernel log and kmemleak.  The
# walk's numbers (how many N, which steps and errnos) depend on the kernel
# and go to the kernel log (the case's .console), not to the output.
#
# Why not from DM_DEV_CREATE on (dm-failnth -a create): on 6.1 that walk
# reaches two leaks outside dm-splitdf, which kmemleak reports: SLUB's
# sysfs_slab_add() does not put the kobject when kobject_init_and_add()
# fails (bioset_init() creates a bio slab for a new device's first table;
# CVE-2024-25740, fixed upstream by 2420baa8e046), and dm_sysfs_init() does
# not either (the first table load, dm_setup_md_queue()).  A reload keeps the
# device's queue and bio slabs, so the walk stays on the table's own path.
DESCRIPTION="fail-nth: each allocation of loading a splitdf table fails once, refused cleanly"
TIMEOUT=1800

FAILNTH=${SPLITDF_TESTS:-/tests}/bin/dm-failnth
LEGS="4 /dev/ram0 8 4000 /dev/ram1 0 3000 /dev/ram2 104 2000 /dev/ram0 5000 3000"

# walk MODE FEATURES: the fail-nth walk for one table, then the device it made;
# FEATURES: feature words, without their count.
walk() {
	# shellcheck disable=SC2086 # the features, word by word
	mode=$1 table="0 12000 splitdf $LEGS $(features $2)"
	klog_mark
	if ! "$FAILNTH" -a reload -c 0 -m 2000 sdf "$table" >"walk-$mode.log" 2>"walk-$mode.err"; then
		tail -n 5 "walk-$mode.log"
		cat "walk-$mode.err"
		fail "$mode: the fail-nth walk failed"
	fi
	# done N REFUSED ABSORBED
	# shellcheck disable=SC2046 # four words
	set -- $(tail -n 1 "walk-$mode.log")
	if [ "$1" != "done" ] || [ "$3" -lt 1 ]; then
		fail "$mode: walk log ends with '$*'"
	fi
	klog_note "$mode: created at N=$2 after $3 refusals and $4 absorbed failures;" \
		"refusals by step and errno: $(awk '$2 != "-" && NF == 5 { print $2 "/" $3 }' "walk-$mode.log" |
			sort | uniq -c | awk '{ printf "%s%s %s", s, $2, $1; s = ", " }')"
	for what in "splitdf context" "flush map" "bioset"; do
		klog_since | grep -qF "splitdf: Cannot allocate $what (-ENOMEM)" ||
			fail "$mode: the constructor never refused with 'Cannot allocate $what'"
	done
	echo "$mode: every injected failure refused cleanly or absorbed before success, nothing left behind"
	echo "$mode: the constructor refused with each of its allocations (context, flush map, bioset)"
	expect_eq "$(dmsetup ls | cut -f1 | tr -d ' ')" sdf "$mode: dm devices after the walk"
	dmsetup mknodes sdf
	echo "$mode: created: $(dmsetup table sdf)"
	fio_verify /dev/mapper/sdf "created-$mode" --size=2m --bsrange=512-64k
	expect_ge "$(counter sdf crossed)" 10 "$mode crossing bios"
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	echo "$mode: fio verify clean"
	dmsetup remove sdf
}

test_case() {
	set -e
	if [ ! -e /proc/thread-self/fail-nth ] || [ ! -d "$FI"/failslab ] || [ ! -d "$FI"/fail_page_alloc ]; then
		skip "no fail-nth, or no failslab or fail_page_alloc in debugfs, in $KREL (CONFIG_FAULT_INJECTION_DEBUG_FS)"
	fi
	[ -x "$FAILNTH" ] || fail "no $FAILNTH (scripts/harness/mkinitramfs builds tests/tools)"
	! dmsetup ls | grep -qv '^No devices found' || fail "dm devices before the case"
	trap fi_restore EXIT
	fi_attr "$FI"/failslab
	fi_attr "$FI"/fail_page_alloc
	fi_save "$FI"/failslab/ignore-gfp-wait "$FI"/fail_page_alloc/ignore-gfp-wait
	for a in failslab fail_page_alloc; do
		fi_set "$FI/$a"/probability 0
		fi_set "$FI/$a"/verbose 0
		fi_set "$FI/$a"/ignore-gfp-wait N
	done
	setup_ramdisks 3 4

	walk ordered "boundary_sectors 24 max_pieces 16 split_mode ordered"
	walk clone "boundary_sectors 24 max_pinned 8 split_mode clone"

	fi_restore
	echo "fault injection knobs restored"
}
