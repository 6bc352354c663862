# shellcheck shell=sh disable=SC2034
# The main job (scripts/demo): the seed's snapshot-plus-linear device, its
# tree, the order one crossing read reaches the ram disks in, and fio over it,
# with what happened printed for a person to read.
DESCRIPTION="demo: splitdf over a linear region, a snapshot-origin and its snapshot"
TIMEOUT=600

V=65536		# the volume: 32 MiB
H=32768

# shellcheck source=tests/lib/blktrace.sh
. "$SPLITDF_TESTS/lib/blktrace.sh"

step() { echo; echo "== $*"; }

# traced_read SECTOR COUNT: read COUNT sectors of demo at SECTOR with block_bio_queue
# recording what reaches the ram disks; print that next to the depth-first walk
# of the tables, and fail if they differ.
traced_read() {
	depth_first demo "$1" "$2" >want
	trace_leaf_start /dev/ram0 /dev/ram1 /dev/ram2
	fio --name=one --filename=/dev/mapper/demo --rw=read --direct=1 --ioengine=psync \
		--offset=$(($1 * 512)) --bs=$(($2 * 512)) --size=$(($2 * 512)) --output=one.fio ||
		{ cat one.fio; fail "read"; }
	trace_leaf_stop >got
	# Leaf names for what was traced; the walk ends its path with them.
	while read -r dev bio; do
		echo "$(basename "$(readlink "/sys/dev/block/$dev")") $bio"
	done <got >got.named
	awk 'NR == FNR { got[FNR] = $0; ng = FNR; next }
		FNR == 1 { printf "%-20s %-20s %s\n", "submitted (traced)", "depth-first walk", "path" }
		{ p = $3; for (i = 4; i <= NF; i++) p = p " > " $i
		  printf "%-20s %-20s %s\n", got[FNR], $NF " " $2, p; nw = FNR }
		END { for (i = nw + 1; i <= ng; i++) printf "%-20s\n", got[i] }' got.named want
	n=$(wc -l <want)
	if [ "$(cat got)" = "$(cut -d' ' -f1,2 want)" ]; then
		echo "ORDER: PASS: the $n bios reached the ram disks in depth-first order"
	else
		echo "ORDER: FAIL: the bios did not reach the ram disks in depth-first order"
		fail "leaf order"
	fi
}

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

	step "the tree (dmsetup ls --tree -o ascii,blkdevname)"
	dmsetup ls --tree -o ascii,blkdevname

	step "one read, traced: 64 KiB at sector $((2 * H - 96)), across the origin/snapshot boundary at $((2 * H))"
	echo "What block_bio_queue saw reach the ram disks, next to the depth-first walk of the tables"
	echo "(split_mode clone; the snapshot has no exception yet, so it reads from vol)."
	traced_read $((2 * H - 96)) 128
	# The counters below are fio's.
	dmsetup message demo 0 reset_counters

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
	splits=$(counter demo core_splits)
	expect_ge "$crossed" 1 "bios that crossed a boundary"
	expect_eq "$(counter demo pinned)" 0 "heads still pinned"
	echo
	echo "VERDICT: PASS: a crossing read reached the ram disks depth-first;" \
		"fio verify clean over origin + snapshot of one volume;" \
		"$crossed bios crossed a boundary, $rem remainders resubmitted depth-first" \
		"($splits split by dm core past the pin limit), no hang, kernel log clean"
}
