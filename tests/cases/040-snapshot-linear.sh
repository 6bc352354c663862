# shellcheck shell=sh disable=SC2034
# Requires: brd, dm-snapshot.  The seed's layout: one volume appears twice in
# the splitdf device, once through its snapshot-origin and once through a
# snapshot of it, so a bio crossing the boundary touches both sides of the
# snapshot lock.  Checks: fio verify across the boundary while the snapshot
# and the origin are written; then, with the snapshot being merged back into
# the volume, fio verify across a boundary between a plain leg and the
# merging origin while the merge runs; the merge completes.
DESCRIPTION="snapshot + origin of one volume in one splitdf device, and during a merge"
TIMEOUT=900

V=65536		# the volume: 32 MiB
THROTTLE=/sys/module/dm_snapshot/parameters/snapshot_copy_throttle
H=32768

# merge_left: sectors still to merge (allocated minus metadata), or "" if
# the status is not a snapshot-merge status.
merge_left() {
	dmsetup status origin | awk '{ split($4, a, "/"); print a[1] - $5 }'
}

test_case() {
	set -e
	setup_ramdisks 3 64
	dm_create vol "0 $V linear /dev/ram0 0"
	dm_create origin "0 $V snapshot-origin /dev/mapper/vol"
	dm_create snap "0 $V snapshot /dev/mapper/vol /dev/ram1 P 8"
	dm_create sdf "0 $V splitdf 2 /dev/mapper/origin 0 $H /dev/mapper/snap $H $H 2 boundary_sectors 8"

	fio_verify /dev/mapper/sdf snapwrite --iodepth=32
	expect_ge "$(counter sdf remainders)" 100 "remainders over origin+snapshot"
	echo "origin + snapshot: verify clean, snapshot status: $(dmsetup status snap | cut -d' ' -f4-)"

	dmsetup remove sdf
	dmsetup remove snap
	# Merge at a crawl so that it is still running while fio writes.
	echo 1 >$THROTTLE
	dmsetup suspend origin
	echo "0 $V snapshot-merge /dev/mapper/vol /dev/ram1 P 8" | dmsetup reload origin
	dmsetup resume origin
	left=$(merge_left)
	expect_ge "$left" 1 "sectors left to merge when fio starts"

	dm_create sdf "0 $V splitdf 2 /dev/ram2 0 $H /dev/mapper/origin $H $H 2 boundary_sectors 8"
	fio_verify /dev/mapper/sdf mergewrite --iodepth=32 --size=16m --offset=8m
	expect_ge "$(counter sdf crossed)" 50 "crossing bios during the merge"
	left=$(merge_left)
	expect_ge "$left" 1 "sectors left to merge when fio ended"
	echo "during merge: verify clean"
	echo 100 >$THROTTLE

	i=0
	while [ "$(merge_left)" -gt 0 ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "merge did not complete: $(dmsetup status origin)"
		sleep 1
	done
	echo "merge completed"
}
