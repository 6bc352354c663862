# shellcheck shell=sh disable=SC2034
# Requires: brd.  A splitdf device whose middle leg is a dm-linear device,
# under crossing fio load, in every split_mode:
# - `dmsetup remove --force` of the leg while fio runs: dm swaps the leg's
#   table for one that fails all I/O (the device stays, splitdf holds it
#   open); fio must end with EIO, not hang and not pass; afterwards I/O inside
#   the good legs succeeds and I/O touching the dead leg fails (045's checks);
#   no head stays pinned; the splitdf device and then the leg are removed.
# - `dmsetup remove --deferred` of the leg while fio verify runs: nothing
#   fails, verify stays clean, and the leg disappears by itself once the
#   splitdf device is removed.
DESCRIPTION="a leg's dm device removed (--force, --deferred) under crossing load"
TIMEOUT=600

# Crossing writes and reads over the whole device for up to 60 s.
load() {
	fio --name="$1" --filename=/dev/mapper/sdf --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randrw --bsrange=512-256k --blockalign=512 --time_based --runtime=60 \
		--randrepeat=0 >"$1.fio" 2>&1
}

test_case() {
	set -e
	setup_ramdisks 2 8
	for mode in $SPLIT_MODES; do
		echo "-- split_mode $mode"
		dm_create leg "0 1024 linear /dev/ram1 0"
		badleg_create sdf /dev/mapper/leg "$mode"
		load "force-$mode" &
		fpid=$!
		sleep 2
		# Refused (the leg is open), after replacing its table with error.
		if dmsetup remove --force leg >force.log 2>&1; then
			fail "$mode: leg removed although splitdf holds it"
		fi
		expect_eq "$(dmsetup table leg | cut -d' ' -f3)" error "$mode: leg's table after remove --force"
		if wait $fpid; then
			cat "force-$mode.fio"
			fail "$mode: fio passed over a leg that fails all I/O"
		fi
		grep -q 'Input/output error' "force-$mode.fio" || { cat "force-$mode.fio"; fail "$mode: fio failed without EIO"; }
		echo "remove --force under load: fio failed with EIO"
		check_bad_leg /dev/mapper/sdf EIO EIO
		expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
		dmsetup remove sdf
		dmsetup remove leg

		dm_create leg "0 1024 linear /dev/ram1 0"
		badleg_create sdf /dev/mapper/leg "$mode"
		fio_verify /dev/mapper/sdf "deferred-$mode" --size=4m --loops=2 &
		fpid=$!
		sleep 2
		dmsetup remove --deferred leg
		wait $fpid || fail "$mode: fio verify with the leg's removal deferred"
		echo "remove --deferred under load: fio verify clean"
		expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
		dmsetup remove sdf
		if dmsetup info leg >/dev/null 2>&1; then
			fail "$mode: deferred removal of the leg did not happen"
		fi
		echo "deferred removal done with the splitdf device"
	done
}
