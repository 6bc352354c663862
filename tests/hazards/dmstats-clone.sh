# shellcheck shell=sh disable=SC2034
# Not part of the suite: the known limitation of split_mode clone, shown on
# demand by scripts/harness/hazard-dmstats-clone in a VM of its own.  The load of
# 075-dmstats-under-load in clone mode.  Expected: within seconds an
# @stats_create or @stats_delete blocks in D state for good.  It called
# dm_internal_suspend_fast(), which stops new I/O on the device and waits
# for in-flight dm_ios; a remainder that clone mode resubmitted to the
# device is held back there while the head it is chained to keeps its
# dm_io in flight.  Nothing can release the device: the guest's hung-task
# report ends the VM.  The case passes only if the hazard did NOT show.
. "$SPLITDF_TESTS/cases/075-dmstats-under-load.sh"
DESCRIPTION="dm-stats churn under crossing load in clone mode (expected to hang)"
TIMEOUT=300

test_case() {
	set -e
	setup_ramdisks 2 32
	dm_create sdf "0 80000 splitdf 2 $LEGS $(features boundary_sectors 8)"
	fio_verify /dev/mapper/sdf stats-clone --size=30m --iodepth=32 --loops=4 &
	sleep 1
	echo "clone: creating and deleting dm-stats regions under crossing load"
	churn_regions sdf 40
	echo "clone: 40 regions created and deleted: the hazard did not show"
}
