# shellcheck shell=sh disable=SC2034
# The allocation count of `make bench`, in a boot of its own that times
# nothing (scripts/bench/bench runs it as a case with SPLITDF_CASES_DIR=tests/bench).
# Not part of the test suite.  Devices and configurations: tests/bench/bench-lib.sh.
#
# Per workload and configuration, fio runs N and then 2N I/Os while kmem
# tracepoint histograms (hist triggers keyed by call site) count every slab,
# kmalloc and page allocation in the guest; the difference over N is what one
# more I/O allocates, fio's start-up excluded.  splitdf's counters of the 2N
# run give boundaries crossed and remainders.
# The events must already be enabled when the case starts (scripts/bench/bench boots
# with trace_event=kmem:...): a hist trigger on an enabled event patches no
# kernel text, and enabling a tracepoint at run time (text_poke_bp) once left a
# TCG guest in a soft lockup.  Events not enabled at boot are left out, unless
# the knob alloc_enable:1 lets the case enable them itself.
# Knobs (kernel command line):
#   splitdf_bench=alloc_ios:1024,alloc_devs:nullb,workloads:...,qd:32,engine:libaio,
#                 alloc_enable:0
DESCRIPTION="benchmark: allocations per I/O of each configuration (untimed)"
TIMEOUT=3600
VM_MEM=1536

# shellcheck source=tests/bench/bench-lib.sh
. "${SPLITDF_TESTS:-/tests}/bench/bench-lib.sh"

# Histogram triggers: every kmem allocation event, keyed by call site.
HIST_SPEC="hist:keys=call_site.sym:vals=hitcount:sort=hitcount.descending:size=4096"
PAGE_SPEC="hist:keys=order:vals=hitcount:size=128"

# The allocation events to count: enabled at boot (or alloc_enable:1).
alloc_events() {
	for e in kmem_cache_alloc kmem_cache_alloc_node kmalloc kmalloc_node mm_page_alloc; do
		f=$TR/events/kmem/$e
		[ -e "$f/trigger" ] || continue
		if grep -q '^1' "$f/enable" || [ "$(knob alloc_enable 0)" = 1 ]; then echo "$e"; fi
	done
}

spec_of() { if [ "$1" = mm_page_alloc ]; then echo "$PAGE_SPEC"; else echo "$HIST_SPEC"; fi; }

hist_on() {
	for e in $ALLOC_EVENTS; do spec_of "$e" >"$TR/events/kmem/$e/trigger"; done
}

hist_off() {
	for e in $ALLOC_EVENTS; do echo "!$(spec_of "$e")" >"$TR/events/kmem/$e/trigger"; done
}

# hist_total EVENT: hits since hist_on.
hist_total() {
	awk '/^ *Hits:/ { print $2 }' "$TR/events/kmem/$1/hist"
}

# hist_sites EVENT: the 6 busiest call sites, "symbol count".
hist_sites() {
	awk '/call_site:/ && /hitcount:/ {
		s = "?"
		for (i = 1; i < NF; i++) if ($i ~ /^\[[0-9a-f]+\]$/) s = $(i + 1)
		print s, $NF }' "$TR/events/kmem/$1/hist" | head -n 6
}

# alloc_fio DEV WL CFG N: N I/Os with the histograms on; prints the counts.
alloc_fio() {
	d=$1 wl=$2 c=$3 n=$4
	s=$(size_of "$d")
	hist_on
	# shellcheck disable=SC2046 # option lists
	fio --output-format=terse --terse-version=3 --direct=1 \
		--norandommap --randrepeat=1 --size=$((s * 512)) --number_ios="$n" \
		$(wl_opts "$wl") --name="$c" --filename="$(dev_of "$d" "$c")" >fio.terse 2>fio.err ||
		{ hist_off; cat fio.err fio.terse; fail "fio alloc $d $wl $c"; }
	line="alloc $d $wl $c $n $(terse_jobs "$wl" fio.terse | awk '{ print $2 }') $(wl_bs "$wl")"
	for e in $ALLOC_EVENTS; do line="$line $e=$(hist_total "$e")"; done
	B "$line"
}

# alloc_run DEV WL CFG: N and 2N I/Os; the difference is what N I/Os allocate,
# without fio's start-up and teardown.  Call sites and splitdf's counters are
# those of the 2N run.
alloc_run() {
	d=$1 wl=$2 c=$3
	n=$ALLOC_IOS
	case $wl in *1m-*) n=$((ALLOC_IOS / 8)) ;; esac
	alloc_fio "$d" "$wl" "$c" "$n"
	hist_off
	is_sdf "$c" && dmsetup message "${d}_$c" 0 reset_counters
	alloc_fio "$d" "$wl" "$c" $((2 * n))
	for e in $ALLOC_EVENTS; do
		[ "$e" = mm_page_alloc ] && continue
		hist_sites "$e" | while read -r sym cnt; do B "site $d $wl $c $e $sym $cnt"; done
	done
	hist_off
	is_sdf "$c" && B "astat $d $wl $c $(sdf_counters "$d" "$c")"
	return 0
}

test_case() {
	set -e
	DEVS=$(knob alloc_devs nullb | tr '+' ' ')
	ALLOC_IOS=$(knob alloc_ios 1024)
	ENGINE=$(knob engine libaio)
	WORKLOADS=$(workloads_of "$(knob workloads rr4k+rr16k2k+rw16k2k+sr1m+sw1m)" "$(knob qd 32)")
	bench_setup alloc
	B "meta alloc_ios $ALLOC_IOS"
	ALLOC_EVENTS=$(alloc_events | tr '\n' ' ')
	if [ -z "$ALLOC_EVENTS" ] || [ ! -e "$TR/events/kmem/kmem_cache_alloc/hist" ]; then
		B "meta alloc_events none (kmem events not enabled at boot, or no hist triggers)"
		bench_teardown
		return 1
	fi
	B "meta alloc_events $ALLOC_EVENTS"
	# Warm-up, not counted: first-use allocations (fio, the devices' first I/O)
	# would otherwise land in the first N run.
	for d in $DEVS; do
		for c in $CFGS; do
			fio --direct=1 --ioengine="$ENGINE" --rw=read --bs=64k --number_ios=64 \
				--name=warm --filename="$(dev_of "$d" "$c")" --output=/dev/null
		done
	done
	for d in $DEVS; do
		for wl in $WORKLOADS; do
			progress "allocations $d $wl"
			for c in $CFGS; do [ "$c" = linear2 ] || alloc_run "$d" "$wl" "$c"; done
		done
	done
	bench_teardown
}
