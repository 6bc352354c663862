# shellcheck shell=sh disable=SC2034 # DESCRIPTION/TIMEOUT/VM_MEM are read by the harness
# Harness self-test: the VM's tools and modules work and dm-splitdf registers its target.
DESCRIPTION="harness self-test: dm-linear over brd round-trips data, fio verifies, splitdf target registered"
TIMEOUT=90
VM_MEM=1024

test_case() {
	set -e
	# dm-splitdf was loaded by the harness before the case.
	dmsetup targets | grep -q '^splitdf ' || { echo "splitdf target not registered"; dmsetup targets; return 1; }
	modprobe brd rd_nr=1 rd_size=16384
	dmsetup create selftest --table "0 32768 linear /dev/ram0 0"
	dmsetup mknodes
	[ -b /dev/mapper/selftest ] || { echo "no /dev/mapper/selftest"; return 1; }
	dd if=/dev/urandom of=pattern bs=1M count=8 2>/dev/null
	dd if=pattern of=/dev/mapper/selftest bs=1M conv=fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	dd if=/dev/mapper/selftest bs=1M count=8 2>/dev/null | cmp - pattern
	fio --name=verify --filename=/dev/mapper/selftest --rw=randwrite --bs=4k --size=8M \
		--direct=1 --ioengine=psync --verify=crc32c --output=fio.log || { cat fio.log; return 1; }
	dmsetup remove selftest
	rmmod brd
	echo "selftest ok on $KREL"
}
