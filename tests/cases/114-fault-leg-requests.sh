# shellcheck shell=sh disable=SC2034
# Requires: fail_make_request (CONFIG_FAIL_MAKE_REQUEST,
# FAULT_INJECTION_DEBUG_FS: the debug kernels of scripts/harness/build-debug-kernel;
# SKIP where /sys/kernel/debug/fail_make_request or make-it-fail is
# missing), brd, fio.
#
# One leg device fails a random quarter of its bios.  A splitdf device of 16
# legs of 1024 sectors, alternately on ram0 (healthy) and ram1, with
# boundary_sectors 64; ram1 has make-it-fail=1 and fail_make_request fails
# 25 % of the bios submitted to it (probability 25, verbose 0, "times" set to
# 10^8 counts the failures down).  In split_mode clone, core and ordered,
# while fio randrw (512 B to 128 KiB, iodepth 16, continue_on_error=io) runs
# over the first 8 legs, from its first I/O until the checks are done:
# - O_DIRECT writes and reads of 256 KiB inside a healthy leg (dd) always
#   succeed and read back what was written;
# - 128 KiB writes across a healthy/failing leg boundary (two 64-sector
#   pieces on each leg) each end OK or EIO, both seen, nothing else;
# - reads of those that were written OK end OK with that data, or EIO, both
#   seen: no read reports success with other data;
# - fio's job, stopped with SIGTERM, had errors, all EIO.
# Then, make-it-fail off: every crossing write that reported OK reads back
# intact (nothing reported success for data it did not write), and so does
# the healthy region; no head stays pinned; the device is removed, the knobs
# restored (the harness then unloads the module and checks the log).  The
# counts go to the kernel log (the case's .console).
DESCRIPTION="fail_make_request on one leg: failures reach the submitter, healthy legs unaffected"
TIMEOUT=1200

FMR=/sys/kernel/debug/fail_make_request
TIMES=100000000
HEALTHY=8256	# 512 sectors inside leg 8 (ram0), clear of the crossing ranges
CROSS="9216 10240 11264 12288 13312 14336 15360"	# leg boundaries, good/bad

# pattern V: file pat-V, 256 KiB of byte V; prints its name.
pattern() {
	[ -e "pat-$1" ] ||
		dd if=/dev/zero bs=1024 count=256 2>/dev/null | tr '\000' "\\$(printf %03o "$1")" >"pat-$1"
	echo "pat-$1"
}

# pat_md5 V SECTORS: md5 of the first SECTORS sectors of pattern V.
pat_md5() {
	dd if="$(pattern "$1")" bs=512 count="$2" 2>/dev/null | md5sum | cut -d' ' -f1
}

# dd_io OP START SECTORS [V]: one O_DIRECT write of pattern V, or read into
# rd.bin, of SECTORS sectors at sector START of the splitdf device, one
# system call.  Prints OK, EIO or "error: ..." (a short read is an error).
dd_io() {
	rm -f rd.bin
	if [ "$1" = write ]; then
		dd if="$(pattern "$4")" of=/dev/mapper/sdf bs=$(($3 * 512)) count=1 \
			seek=$(($2 * 512)) oflag=direct,seek_bytes 2>dd.err
	else
		dd if=/dev/mapper/sdf of=rd.bin bs=$(($3 * 512)) count=1 \
			skip=$(($2 * 512)) iflag=direct,skip_bytes 2>dd.err
	fi || {
		if grep -q 'Input/output error' dd.err; then echo EIO; else echo "error: $(cat dd.err)"; fi
		return 0
	}
	if [ "$1" = read ] && [ "$(stat -c %s rd.bin)" != $(($3 * 512)) ]; then
		echo "error: short read of $(stat -c %s rd.bin) bytes"
	else
		echo OK
	fi
}

# json_num FILE KEY: the first number of "KEY" in fio's json output.
json_num() {
	sed -n "s/.*\"$2\" : \\([0-9-]*\\).*/\\1/p" "$1" | head -n1
}

# The functions below share, as globals: mode (the split_mode under test),
# fpid (fio's pid), healthy (the pattern last written to the healthy region)
# and last_1 ... last_7 (the pattern last written OK across each boundary of
# CROSS, 0 if its last write failed).

# make_device: the 16 legs alternate so that every boundary of CROSS has a
# healthy leg on one side and the failing one on the other; then ram1 fails.
make_device() {
	table="0 16384 splitdf 16"
	i=0
	while [ $i -lt 16 ]; do
		table="$table /dev/ram$((i % 2)) $(((i - i % 2) * 512)) 1024"
		i=$((i + 1))
	done
	dm_create sdf "$table $(features boundary_sectors 64 split_mode "$mode")"
	fi_set "$FMR/times" $TIMES
	fi_set /sys/block/ram1/make-it-fail 1
}

# start_load: fio in the background, over the first 8 legs, so that the
# checks run with failing bios in flight; waits until it has mapped 200 bios,
# so that no check runs before the load does.
start_load() {
	# The load runs until the checks are done (SIGTERM: fio stops and reports).
	fio --name=load --filename=/dev/mapper/sdf --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randrw --bsrange=512-128k --blockalign=512 --size=4m --time_based --runtime=600 \
		--randrepeat=0 --continue_on_error=io --output-format=json --output="load-$mode.json" \
		>"load-$mode.log" 2>&1 &
	fpid=$!
	i=0
	while [ "$(counter sdf mapped)" -lt 200 ]; do
		[ $i -lt 600 ] || { cat "load-$mode.log"; fail "$mode: fio did not start within 60 s"; }
		i=$((i + 1))
		sleep 0.1
	done
}

# check_healthy_leg: a failing neighbour must not touch I/O that stays on a
# healthy leg.
check_healthy_leg() {
	v=1
	while [ $v -le 6 ]; do
		r=$(dd_io write $HEALTHY 512 $v)
		[ "$r" = OK ] || fail "$mode: write inside the healthy leg: $r"
		r=$(dd_io read $HEALTHY 512)
		[ "$r" = OK ] || fail "$mode: read inside the healthy leg: $r"
		expect_eq "$(md5sum <rd.bin | cut -d' ' -f1)" "$(pat_md5 $v 512)" "$mode: healthy leg data, pattern $v"
		v=$((v + 1))
	done
	healthy=$((v - 1))
	echo "healthy leg under injection: writes and reads OK, data intact"
}

# crossing_writes: each write across a boundary has pieces on the failing
# leg, so it may fail, but only with EIO; rounds until both OK and EIO were
# seen, as the failures are random.  last_<k> keeps what the reads must find.
crossing_writes() {
	round=0 ok=0 eio=0
	while [ $ok = 0 ] || [ $eio = 0 ]; do
		round=$((round + 1))
		[ $round -le 10 ] || fail "$mode: crossing writes in 10 rounds: $ok OK, $eio EIO"
		k=0
		for b in $CROSS; do
			k=$((k + 1))
			v=$(((round * 7 + k) % 240 + 10))
			r=$(dd_io write $((b - 128)) 256 $v)
			case $r in
			OK) ok=$((ok + 1)) && eval "last_$k=$v" ;;
			EIO) eio=$((eio + 1)) && eval "last_$k=0" ;;
			*) fail "$mode: crossing write at $((b - 128)): $r" ;;
			esac
		done
	done
	klog_note "$mode: crossing writes: $ok OK, $eio EIO in $round rounds"
	echo "crossing writes: OK or EIO, both seen"
}

# crossing_reads: a read that reports success must carry the data written,
# though pieces on the failing leg fail at random; ranges whose last write
# failed hold no known data and are left out.
crossing_reads() {
	round=0 rok=0 reio=0
	while [ $rok = 0 ] || [ $reio = 0 ]; do
		round=$((round + 1))
		[ $round -le 10 ] || fail "$mode: crossing reads in 10 rounds: $rok OK, $reio EIO"
		k=0
		for b in $CROSS; do
			k=$((k + 1))
			eval "v=\$last_$k"
			[ "$v" != 0 ] || continue
			r=$(dd_io read $((b - 128)) 256)
			case $r in
			OK)
				rok=$((rok + 1))
				expect_eq "$(md5sum <rd.bin | cut -d' ' -f1)" "$(pat_md5 "$v" 256)" \
					"$mode: crossing read at $((b - 128)) reported OK: data of pattern $v"
				;;
			EIO) reio=$((reio + 1)) ;;
			*) fail "$mode: crossing read at $((b - 128)): $r" ;;
			esac
		done
	done
	klog_note "$mode: crossing reads: $rok OK, $reio EIO in $round rounds"
	echo "crossing reads: OK with the data written, or EIO, both seen"
}

# stop_load: fio must still have been running (else the checks ran without
# load for part of the time), and the errors it saw must all be EIO: any
# other errno means a failure was turned into something else on the way up.
stop_load() {
	kill -0 "$fpid" 2>/dev/null || { cat "load-$mode.log"; fail "$mode: fio ended before the checks did"; }
	kill -TERM "$fpid"
	wait "$fpid" || true
	j=load-$mode.json
	[ -s "$j" ] || { cat "load-$mode.log"; fail "$mode: no fio output"; }
	errs=$(json_num "$j" total_err) first=$(json_num "$j" first_error) jerr=$(json_num "$j" error)
	klog_note "$mode: fio randrw over the failing leg: $errs errors (first errno $first, job error $jerr)"
	expect_ge "$errs" 1 "$mode: fio errors over the failing leg"
	expect_eq "$first" 5 "$mode: fio's first error (errno)"
	# With continue_on_error, the job's error is its first error unless a
	# fatal one (anything but EIO) stopped it.
	expect_eq "$jerr" 5 "$mode: fio job's error"
	echo "fio randrw over the failing leg: errors, all EIO"
}

# check_without_injection: with ram1 healthy again, every write that had
# reported OK must read back intact: an OK for data that never reached the
# failing leg would show here.  No head may stay pinned after the failures.
check_without_injection() {
	fi_set /sys/block/ram1/make-it-fail 0
	fired=$(fi_fired "$FMR/times" $TIMES)
	klog_note "$mode: fail_make_request failed $fired bios of ram1"
	expect_ge "$fired" 1 "$mode: bios failed by fail_make_request"
	k=0
	for b in $CROSS; do
		k=$((k + 1))
		eval "v=\$last_$k"
		[ "$v" != 0 ] || continue
		expect_eq "$(dd_io read $((b - 128)) 256)" OK "$mode: crossing read at $((b - 128)) without injection"
		expect_eq "$(md5sum <rd.bin | cut -d' ' -f1)" "$(pat_md5 "$v" 256)" \
			"$mode: crossing write at $((b - 128)) reported OK: data of pattern $v"
	done
	expect_eq "$(dd_io read $HEALTHY 512)" OK "$mode: healthy read without injection"
	expect_eq "$(md5sum <rd.bin | cut -d' ' -f1)" "$(pat_md5 "$healthy" 512)" "$mode: healthy leg data"
	echo "injection off: every write reported OK reads back intact, healthy leg too"
	expect_eq "$(counter sdf pinned)" 0 "$mode pinned at rest"
	echo "no head pinned"
}

# one_mode MODE: the whole case in one split_mode.  fail only returns 1 and
# the case stops through set -e, so the steps run as plain commands: under
# if, || or && a failed check would not stop it.
one_mode() {
	mode=$1
	echo "-- split_mode $mode"
	make_device
	start_load
	check_healthy_leg
	crossing_writes
	crossing_reads
	stop_load
	check_without_injection
	dmsetup remove sdf
}

test_case() {
	set -e
	[ -d "$FMR" ] || skip "no fail_make_request in debugfs in $KREL (CONFIG_FAIL_MAKE_REQUEST)"
	setup_ramdisks 2 4
	[ -e /sys/block/ram1/make-it-fail ] || skip "no /sys/block/ram1/make-it-fail in $KREL"
	trap fi_restore EXIT
	fi_save /sys/block/ram1/make-it-fail
	fi_arm "$FMR" 25
	for mode in clone core ordered; do
		one_mode "$mode"
	done
	fi_restore
	echo "fault injection knobs restored"
}
