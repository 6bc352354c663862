# shellcheck shell=sh disable=SC2034
# Requires: brd, kprobes, the test-only module tests/modules/dm-model2017.ko
# (scripts/harness/build-test-modules; see the comments at its top and docs/design.md,
# "The 2017 deadlock class").
#
# The seed's deadlock, on demand.  A splitdf device of two legs: first a
# track2017 device (reads tracked from the moment they are submitted for it,
# as 4.14's snapshot_map() tracked C inside the splitting call), then a
# lock2017 device (its map takes the model's snapshot lock, as the origin
# did), with the worker (4.14's pending_complete(): lock held for writing
# until no tracked read is in flight) armed before each read.
#
# Why this order.  Today's __submit_bio_noacct() (5.10 to 7.2) runs the bios
# one ->submit_bio queued, those for other devices first, in the order they
# were queued, ahead of everything that was pending.  inline queues its
# pieces from .map and dm core queues the head only after .map returns, so
# the list is [pieces..., head]: the piece for the lock leg is taken first
# and its map waits for the lock, while the worker holds the lock waiting for
# the head, tracked and still on the same task's list behind it.  That is the
# seed's B and C: so the tracked leg must hold the head, i.e. come first.
# (The seed's own layout, snapshot second, was 4.14's order, head first;
# inline would take the tracked piece first there and complete.)
# clone and core queue only the head below and the rest back to the splitdf
# device, which is mapped, and so tracked, only after the head is done; in
# ordered, .map queues the head first, which is done before the lock leg's
# piece is taken.  So the tracked read is never behind the lock in those.
#
# Per split_mode: a read of 16 sectors (8 on each leg) and one of 24 (two
# pieces on the track leg, one on the lock leg).  A mode prints
# "<mode>: completed" if both reads completed and the worker waited for the
# tracked reads with the lock held and saw them complete, or
# "<mode>: deadlock (detected, recovered)" if both reads hung with the
# worker holding the lock, a map waiting for it and the tracked read not yet
# mapped for a whole second, and "abort" then let them complete.  The golden
# output wants inline to deadlock and the other modes to complete.  The time
# from the read's submission to the deadlock's detection, and the window it
# had, go to the kernel log (the case's .console), not to the output: the
# window stretches on a slow kernel.
DESCRIPTION="the 2017 snapshot deadlock class in a 4.14 model: inline deadlocks, depth-first modes do not"
TIMEOUT=300

MODEL=${SPLITDF_TESTS:-/tests}/modules/dm-model2017.ko
T=1024		# sectors of the track leg, which comes first
L=1024		# sectors of the lock leg
# A deadlock is detected within DETECT seconds of the read's submission, and
# the worker gives up after HOLD: 10 and 15 s, longer on a slow kernel, but
# always well inside the hung-task limit (20 s; 120 s when the harness
# scales its timeouts), which would report the blocked read.
TS=${SPLITDF_TIMEOUT_SCALE:-1}
if [ "$TS" -gt 1 ]; then
	DETECT=60 HOLD=80
else
	DETECT=10 HOLD=15
fi

# field DEV NAME [STATUS]: the value of NAME=... in a model target's status
# (or in STATUS, a status line read before).
field() {
	echo "${3:-$(dmsetup status "$1")}" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# The deadlock as it stands: the worker holds the lock waiting for a tracked
# read, a lock2017 map waits for the lock, and that read has not even been
# mapped: it is queued on a task's bio list, which nothing else empties.
deadlocked() {
	l=$(dmsetup status lck) t=$(dmsetup status trk)
	[ "$(field lck state "$l")" = holding ] && [ "$(field lck waiting "$l")" -ge 1 ] &&
		[ "$(field trk tracked "$t")" -ge 1 ] && [ "$(field trk queued "$t")" -ge 1 ]
}

# wait_file FILE SECONDS: true once FILE exists.
wait_file() {
	i=0
	while [ ! -e "$1" ]; do
		[ $i -lt $(($2 * 10)) ] || return 1
		i=$((i + 1))
		sleep 0.1
	done
}

# start_read START SECTORS: one O_DIRECT read of the splitdf device in the
# background; r.rc gets fio's exit status.
start_read() {
	rm -f r.rc
	(
		fio --name=r --filename=/dev/mapper/sdf --rw=read --direct=1 \
			--ioengine=psync --bs=$(($2 * 512)) --size=$(($2 * 512)) \
			--offset=$(($1 * 512)) --output=r.fio
		echo $? >r.rc
	) &
}

# wait_submitted: until the read reached the splitdf device (fio takes a
# while to start under TCG), so that times count from there.
wait_submitted() {
	i=0
	while [ ! -e r.rc ] && [ "$(counter sdf mapped)" = 0 ]; do
		[ $i -lt $((300 * TS)) ] || fail "the read did not start within $((30 * TS)) s"
		i=$((i + 1))
		sleep 0.1
	done
}

# watch_read: sets watched to "done" when the read ended, "deadlock" once
# deadlocked() held for a second, "stuck" if neither within DETECT seconds
# of the read's submission; elapsed to the hundredths of a second that took.
watch_read() {
	wait_submitted
	t0=$(now_cs) since='' watched=stuck
	while [ ! -e r.rc ]; do
		now=$(now_cs)
		elapsed=$((now - t0))
		if ! deadlocked; then
			since=''
		elif [ -z "$since" ]; then
			since=$now
		elif [ $((now - since)) -ge 100 ]; then
			watched=deadlock
			return 0
		fi
		[ $elapsed -lt $((DETECT * 100)) ] || return 0
		sleep 0.1
	done
	watched="done"
}

# recover WHAT: abort the worker's wait; the read must then complete.
recover() {
	dmsetup message lck 0 abort
	wait_file r.rc $((10 * TS)) || fail "$1: not recovered $((10 * TS)) s after abort"
	expect_eq "$(cat r.rc)" 0 "$1: fio after recovery"
	wait_state "$1"
	expect_eq "$(field lck outcome)" aborted "$1: worker outcome"
}

# wait_state WHAT: the worker is done with this read.
wait_state() {
	i=0
	while [ "$(field lck state)" != "done" ]; do
		[ $i -lt $((50 * TS)) ] || fail "$1: worker still $(field lck state)"
		i=$((i + 1))
		sleep 0.1
	done
}

# one_read MODE START SECTORS: sets result to "completed" or "deadlock".
one_read() {
	what="$1 read $2+$3"
	dmsetup message sdf 0 reset_counters
	dmsetup message lck 0 arm
	start_read "$2" "$3"
	watch_read
	case $watched in
	done)
		expect_eq "$(cat r.rc)" 0 "$what: fio"
		wait_state "$what"
		# The worker took the lock and waited for the tracked reads.
		expect_eq "$(field lck outcome)" clean "$what: worker outcome"
		result=completed
		;;
	deadlock)
		echo "dm-model2017 case: $what: deadlock detected after" \
			"$(awk -v c="$elapsed" 'BEGIN { printf "%.1f", c / 100 }') s" \
			"(window $DETECT s)" >/dev/kmsg
		recover "$what"
		result=deadlock
		;;
	*)
		dmsetup message lck 0 abort
		wait_file r.rc $((10 * TS)) || true
		fail "$what: neither completed nor deadlocked within $DETECT s" \
			"(lck: $(dmsetup status lck | cut -d' ' -f4-), trk: $(dmsetup status trk | cut -d' ' -f4-))"
		;;
	esac
	expect_ge "$(counter sdf crossed)" 1 "$what: crossing reads"
	expect_eq "$(field trk tracked)" 0 "$what: tracked reads left"
}

# run_mode MODE: both reads; prints the mode's line.
run_mode() {
	dm_create sdf "0 $((T + L)) splitdf 2 /dev/mapper/trk 0 $T /dev/mapper/lck 0 $L $(features boundary_sectors 8 split_mode "$1")"
	# 8 sectors on each leg: head (track), one piece (lock).
	one_read "$1" $((T - 8)) 16
	a=$result
	# Head and a piece on the track leg, a piece on the lock leg.
	one_read "$1" $((T - 16)) 24
	b=$result
	dmsetup remove sdf
	[ "$a" = "$b" ] || fail "$1: the two reads differ: $a, $b"
	case $a in
	completed) echo "$1: completed" ;;
	deadlock) echo "$1: deadlock (detected, recovered)" ;;
	*) fail "$1: $a" ;;
	esac
	# A deadlock passes only in inline, and inline must deadlock.
	if [ "$1" = inline ]; then
		[ "$a" = deadlock ] || fail "inline did not deadlock"
	else
		[ "$a" = completed ] || fail "$1 deadlocked"
	fi
}

test_case() {
	set -e
	[ -e "$MODEL" ] || fail "no $MODEL (scripts/harness/build-test-modules)"
	setup_ramdisks 1 8
	rmmod dm_model2017 2>/dev/null || true
	insmod "$MODEL" max_hold_secs=$HOLD
	dm_create trk "0 $T track2017 /dev/ram0 0"
	dm_create lck "0 $L lock2017 /dev/ram0 $T"
	for mode in $SPLIT_MODES; do
		run_mode "$mode"
	done
	dmsetup remove lck trk
	rmmod dm_model2017
}
