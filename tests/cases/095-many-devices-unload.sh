# shellcheck shell=sh disable=SC2034
# Requires: brd.  Checks: 64 splitdf devices at once, each crossing I/O; the
# module refuses to unload while a device uses it, unloads once all are
# removed, and loads again.
DESCRIPTION="many devices, then module unload after removal"
TIMEOUT=600

test_case() {
	set -e
	setup_ramdisks 2 16
	i=0
	while [ $i -lt 64 ]; do
		dm_create "m$i" "0 512 splitdf 2 /dev/ram$((i % 2)) $((i * 512)) 256 /dev/ram$(((i + 1) % 2)) $((i * 512 + 256)) 256 $(features boundary_sectors 8)"
		i=$((i + 1))
	done
	i=0
	while [ $i -lt 64 ]; do
		dd if=/dev/urandom of=/dev/mapper/m$i bs=256k count=1 oflag=direct 2>/dev/null
		i=$((i + 1))
	done
	# 63 boundaries: past the pin limit (dm's reserve less one) dm core
	# takes the splits, so count both kinds
	expect_ge "$(counter m63 crossed)" 63 "crossings on the last device"
	expect_eq "$(($(counter m63 remainders) + $(counter m63 core_splits)))" \
		"$(counter m63 crossed)" "remainders + core splits on the last device"
	echo "64 devices written"
	if rmmod dm_splitdf 2>/dev/null; then fail "module unloaded with devices present"; fi
	echo "unload refused while devices exist"
	i=0
	while [ $i -lt 64 ]; do
		dmsetup remove "m$i"
		i=$((i + 1))
	done
	rmmod dm_splitdf
	echo "unloaded after removal"
	modprobe dm-splitdf
	dmsetup targets | grep -q '^splitdf ' || fail "target not registered after reload"
	echo "loaded again"
}
