# shellcheck shell=sh
# The order in which bios reach the devices at the bottom of a dm tree: what
# the block tracepoint recorded, and what a depth-first walk of the tables
# says it must be.  Sourced by cases after common.sh (050, the demo).
#
#   trace_leaf_start DEV...   record block_bio_queue on these block devices only
#   trace_leaf_stop           stop; print "MAJ:MIN SECTOR+COUNT" per bio, in the
#                             order they were submitted
#   depth_first NAME SECTOR COUNT
#                             the same lines, plus the path of devices, for a
#                             read of dm device NAME, in depth-first order

TR=/sys/kernel/tracing

trace_leaf_start() {
	[ -d $TR/events/block/block_bio_queue ] || fail "no block_bio_queue tracepoint"
	bt_filter=
	for bt_dev in "$@"; do
		# The event's dev is the kernel's dev_t: major << 20 | minor.
		bt_dev=$(mm "$bt_dev")
		bt_filter="${bt_filter:+$bt_filter || }dev == $(((${bt_dev%:*} << 20) | ${bt_dev#*:}))"
	done
	echo 0 >$TR/tracing_on
	echo >$TR/trace
	echo "$bt_filter" >$TR/events/block/block_bio_queue/filter
	echo 1 >$TR/events/block/block_bio_queue/enable
	echo 1 >$TR/tracing_on
}

trace_leaf_stop() {
	echo 0 >$TR/tracing_on
	echo 0 >$TR/events/block/block_bio_queue/enable
	echo 0 >$TR/events/block/block_bio_queue/filter
	# "block_bio_queue: 1,0 R 48 + 4 [fio]"
	grep 'block_bio_queue:' $TR/trace |
		awk '{ for (i = 4; i < NF; i++) if ($i == "+") { d = $(i - 3); sub(",", ":", d); print d, $(i - 1) "+" $(i + 1) } }'
}

# depth_first NAME SECTOR COUNT: the bios a read of COUNT sectors at SECTOR of
# dm device NAME sends to the devices below the tree, in depth-first order:
# each piece is followed all the way down before the next piece is cut.  One
# "MAJ:MIN SECTOR+COUNT PATH" a line, PATH the names from NAME down to the leaf.
# Tables walked: splitdf (legs, boundary_sectors), linear, snapshot-origin
# (reads pass through) and snapshot before its first exception (reads go to
# the origin, cut at chunk boundaries by dm core); any other target fails.
depth_first() {
	{
		dmsetup info -c --noheadings --separator ' ' -o name,major,minor |
			awk '{ print "dm", $2 ":" $3, $1 }'
		for bt_dev in /sys/dev/block/*; do
			echo "blk ${bt_dev##*/} $(basename "$(readlink "$bt_dev")")"
		done
		dmsetup table | sed -n 's/^\([^:]*\): /table \1 /p'
	} | awk -v top="$1" -v sector="$2" -v count="$3" '
	function min(a, b) { return a < b ? a : b }
	function max(a, b) { return a > b ? a : b }
	# Everything a recursive call needs lives in global arrays indexed by
	# target number: the locals are scalars only.
	function walk(d, s, n, path,    i, k, a, b) {
		path = path (path == "" ? "" : " ") nm[d]
		if (!(d in nt)) { printf "%s %d+%d %s\n", d, s, n, path; return }
		for (i = 1; i <= nt[d]; i++) {
			k = tg[d, i]
			a = max(s, st[k]); b = min(s + n, st[k] + ln[k])
			if (a < b) target(k, a, b - a, path)
		}
	}
	function target(k, s, n, path,    end, rel, j, lim) {
		end = s + n - st[k]
		for (rel = s - st[k]; rel < end; rel = lim) {
			# The leg (one for all but splitdf) that rel falls in.
			for (j = 1; j < nl[k] && rel >= lo[k, j] + ll[k, j]; j++)
				;
			lim = min(end, lo[k, j] + ll[k, j])
			if (cut[k] > 0)
				lim = min(lim, (int(rel / cut[k]) + 1) * cut[k])
			walk(ld[k, j], lb[k, j] + rel - lo[k, j], lim - rel, path)
		}
	}
	function leg(k, dev, off, len) {
		nl[k]++
		ld[k, nl[k]] = dev; lb[k, nl[k]] = off; ll[k, nl[k]] = len
		lo[k, nl[k]] = nl[k] > 1 ? lo[k, nl[k] - 1] + ll[k, nl[k] - 1] : 0
	}
	$1 == "dm" { id[$3] = $2; nm[$2] = $3; next }
	$1 == "blk" { if (!($2 in nm)) nm[$2] = $3; next }
	$1 == "table" {
		d = id[$2]; k = ++ntg; tg[d, ++nt[d]] = k
		st[k] = $3; ln[k] = $4; cut[k] = 0
		if ($5 == "linear") leg(k, $6, $7, $4)
		else if ($5 == "snapshot-origin") leg(k, $6, $3, $4)
		else if ($5 == "snapshot") { leg(k, $6, $3, $4); cut[k] = $9 }
		else if ($5 == "splitdf") {
			for (j = 0; j < $6; j++) leg(k, $(7 + 3 * j), $(8 + 3 * j), $(9 + 3 * j))
			for (i = 8 + 3 * $6; i < NF; i += 2)
				if ($i == "boundary_sectors") cut[k] = $(i + 1)
		} else { print "depth_first: cannot walk target " $5 " of " $2 | "cat >&2"; bad = 1 }
	}
	END {
		if (bad) exit 1
		if (!(top in id)) { print "depth_first: no dm device " top | "cat >&2"; exit 1 }
		walk(id[top], sector, count, "")
	}'
}
