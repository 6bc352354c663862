# shellcheck shell=sh disable=SC2034
# Requires: brd, dm-snapshot, dm-delay.  The seed's layout: one volume appears
# twice in the splitdf device, once through its snapshot-origin and once
# through a snapshot of it, so a bio crossing the boundary touches both sides
# of the snapshot lock.  Checks: fio verify across the boundary while the
# snapshot and the origin are written; then, with a snapshot being merged
# back into the volume, fio verify across a boundary between a plain leg and
# the merging origin while the merge runs; the merge completes.  Both parts
# run in every split_mode, the second with one device per mode at once.
#
# The merge is held open, not raced: its first batch is the chunks written
# last (dm-snap merges the newest exceptions first), and those land in a part
# of the volume whose writes dm-delay holds until fio has ended.  So the
# merge is still running when fio ends on any kernel, however slow.
DESCRIPTION="snapshot + origin of one volume in one splitdf device, and during a merge"
TIMEOUT=900

V=65536		# the volume: 32 MiB
H=32768
GATE=2048	# the merge's first batch: 1 MiB, 256 exceptions, one metadata area

# merge_left: sectors still to merge (allocated minus metadata), or "" if
# the status is not a snapshot-merge status.
merge_left() {
	dmsetup status origin | awk '{ split($4, a, "/"); print a[1] - $5 }'
}

# vol_table [GATE_MS]: the volume, its first GATE sectors behind dm-delay
# holding writes for GATE_MS when given.
vol_table() {
	if [ -n "${1:-}" ]; then
		echo "0 $GATE delay /dev/ram0 0 0 /dev/ram0 0 $1"
		echo "$GATE $((V - GATE)) linear /dev/ram0 $GATE"
	else
		echo "0 $V linear /dev/ram0 0"
	fi
}

# vol_reload TABLE...: the volume's table replaced under its users.
vol_reload() {
	dmsetup suspend vol
	"$@" | dmsetup reload vol
	dmsetup resume vol
}

# origin_and_snapshot: fio across the boundary between the origin and the
# snapshot of one volume, every split_mode: over the whole volume, or on a
# slow kernel over a part of it around that boundary.
origin_and_snapshot() {
	dm_create snap "0 $V snapshot /dev/mapper/vol /dev/ram1 P 8"
	for mode in $SPLIT_MODES; do
		dm_create sdf "0 $V splitdf 2 /dev/mapper/origin 0 $H /dev/mapper/snap $H $H $(features boundary_sectors 8 split_mode "$mode")"
		# shellcheck disable=SC2046 # two fio options
		fio_verify /dev/mapper/sdf "snapwrite-$mode" --iodepth=32 $(scaled_middle)
		expect_splits sdf "$mode" "$(scaled 100)"
		echo "$mode: origin + snapshot: verify clean"
		dmsetup remove sdf
	done
	echo "snapshot status: $(dmsetup status snap | cut -d' ' -f4-)"
	dmsetup remove snap
}

# start_gated_merge: a fresh snapshot merging into the volume, held at its
# first batch.  The chunks under the merging legs are written first, then
# the gated chunks, which the merge takes first.
start_gated_merge() {
	dd if=/dev/zero of=/dev/ram1 bs=4096 count=1 conv=fsync 2>/dev/null
	dm_create snap "0 $V snapshot /dev/mapper/vol /dev/ram1 P 8"
	dd if=/dev/urandom of=/dev/mapper/snap bs=1M seek=16 count=8 oflag=direct 2>/dev/null
	dd if=/dev/urandom of=/dev/mapper/snap bs=1M count=1 oflag=direct 2>/dev/null
	dmsetup remove snap
	vol_reload vol_table 3600000
	dmsetup suspend origin
	echo "0 $V snapshot-merge /dev/mapper/vol /dev/ram1 P 8" | dmsetup reload origin
	dmsetup resume origin
}

# fio_during_merge: one device per split mode, all at once, each over its
# own 2 MiB of the merging origin; no sector may merge meanwhile.
fio_during_merge() {
	left=$(merge_left)
	expect_ge "$left" 1 "sectors left to merge when fio starts"
	o=0
	for mode in $SPLIT_MODES; do
		dm_create "m$mode" "0 8192 splitdf 2 /dev/ram2 $o 4096 /dev/mapper/origin $((H + o)) 4096 $(features boundary_sectors 8 split_mode "$mode")"
		o=$((o + 4096))
	done
	pids=
	for mode in $SPLIT_MODES; do
		fio_verify "/dev/mapper/m$mode" "mergewrite-$mode" --iodepth=32 &
		pids="$pids $!"
	done
	for pid in $pids; do
		wait "$pid" || fail "fio verify during the merge"
	done
	expect_eq "$(merge_left)" "$left" "sectors left to merge when fio ended"
	for mode in $SPLIT_MODES; do
		# Bios of up to 1 MiB on a 4 MiB device: as few as 16 bios in all.
		expect_ge "$(counter "m$mode" crossed)" 5 "$mode: crossing bios during the merge"
		expect_splits "m$mode" "$mode" 5
		echo "$mode: during merge: verify clean"
		dmsetup remove "m$mode"
	done
}

test_case() {
	set -e
	setup_ramdisks 3 64
	dm_create vol "0 $V linear /dev/ram0 0"
	dm_create origin "0 $V snapshot-origin /dev/mapper/vol"
	origin_and_snapshot
	start_gated_merge
	fio_during_merge
	# Suspending the gate submits what it holds; the merge goes on.
	vol_reload vol_table
	i=0
	while [ "$(merge_left)" -gt 0 ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "merge did not complete: $(dmsetup status origin)"
		sleep 1
	done
	echo "merge completed"
}
