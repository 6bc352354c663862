# shellcheck shell=sh disable=SC2034
# The main job (scripts/demo): the seed's snapshot-plus-linear device under
# fio, with what happened printed for a person to read.
DESCRIPTION="demo: splitdf over a linear region, a snapshot-origin and its snapshot"
TIMEOUT=600

V=65536		# the volume: 32 MiB
H=32768

step() { echo; echo "== $*"; }

test_case() {
	set -e
	setup_ramdisks 3 64
	step "the volume, its snapshot-origin and a snapshot of it (COW on ram1)"
	dm_create vol "0 $V linear /dev/ram0 0"
	dm_create origin "0 $V snapshot-origin /dev/mapper/vol"
	dm_create snap "0 $V snapshot /dev/mapper/vol /dev/ram1 P 8"
	dmsetup table | sort

	step "splitdf: a linear leg, then the origin and the snapshot of the same volume"
	dm_create demo "0 $((3 * H)) splitdf 3 /dev/ram2 0 $H /dev/mapper/origin 0 $H /dev/mapper/snap $H $H 2 boundary_sectors 64"
	echo "dmsetup table demo: $(dmsetup table demo)"

	step "fio: random writes of 512 B to 1 MiB at 512 B alignment, libaio iodepth 32, crc32c verify"
	fio --name=demo --filename=/dev/mapper/demo --direct=1 --ioengine=libaio \
		--iodepth=32 --rw=randwrite --bsrange=512-1m --blockalign=512 \
		--verify=crc32c --verify_fatal=1 --randrepeat=0 --size=48m \
		--output=demo.fio || { cat demo.fio; fail "fio"; }
	grep -E 'WRITE:|READ:|err=' demo.fio || true

	step "what happened"
	echo "dmsetup status demo: $(dmsetup status demo)"
	echo "dmsetup message demo 0 counters: $(dmsetup message demo 0 counters)"
	echo "snapshot status (allocated/total metadata): $(dmsetup status snap | cut -d' ' -f4-)"
	crossed=$(counter demo crossed)
	rem=$(counter demo remainders)
	expect_ge "$crossed" 1 "bios that crossed a boundary"
	expect_eq "$(counter demo pinned)" 0 "heads still pinned"
	echo
	echo "VERDICT: PASS: fio verify clean over origin + snapshot of one volume;" \
		"$crossed bios crossed a boundary, $rem remainders resubmitted depth-first," \
		"no hang, kernel log clean"
}
