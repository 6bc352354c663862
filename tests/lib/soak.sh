# shellcheck shell=sh
# The soak: fio crc32c verify through two device trees, in every split_mode,
# while one loop suspends, reloads, merges snapshots and churns dm-stats.
# Sourced by cases after common.sh (105-soak-short, and the case that
# scripts/harness/soak generates for `make soak DURATION=...`); soak_main SECONDS
# runs it and fails on the first error.
#
# Trees, each built in each split_mode in turn (8 phases, SECONDS/8 each,
# mode by mode, the snapshot tree first; SOAK_TREES and SPLIT_MODES may be
# narrowed after sourcing, for a run of one tree or mode):
#   snap   the seed's layout: sdf = [ram2 (plain leg)][origin, 1st half of
#          vol][snapshot s of vol, 2nd half], boundary_sectors 8; 24 MiB
#   tree3  three levels of splitdf over ram3 and ram4, every level swapping
#          its halves: top (boundary 24) -> b (16) -> a2, a1 (7); 32 MiB
# fio runs passes over the tree's top device, back to back until the phase
# ends: two jobs on its two halves, libaio iodepth 16, random writes of 512 B
# to 1 MiB at 512 B alignment (nearly every bio crosses boundaries at every
# level), crc32c with verify_backlog and verify_fatal; each pass writes the
# whole device and verifies all of it (fio's read KiB must equal its write
# KiB), and those read KiB are the "GiB verified".
# Meanwhile one loop, in turn:
#   - suspends and resumes a device of the tree (some splitdf suspends are
#     --noflush); a suspended splitdf device must have no pinned head
#   - reloads a splitdf device's table, alternating between the phase's
#     split_mode and another (clone, core, inline, ordered, clone with
#     max_pinned 4, ordered with max_pieces 4), then suspends (pinned 0) and
#     resumes it
#   - creates, prints and deletes a dm-stats region on a splitdf device whose
#     split_mode is not clone (clone + dm-stats hangs by design, README)
#   - snap tree: every SOAK_SNAP_HOLD seconds the snapshot s, which fio has
#     been writing, is merged into vol while fio goes on: sdf suspended, the
#     first half of vol copied into s so that s holds what sdf shows, origin
#     suspended, sdf's snapshot leg moved to the origin, s removed, origin
#     reloaded as snapshot-merge; once merged, origin back to
#     snapshot-origin, a new snapshot s made and sdf moved back to it.  The
#     data sdf shows never changes; fio's verify checks it.
# Any fio failure or short verify, any dmsetup or dd failure, a dmsetup
# command that does not return within SOAK_DM_LIMIT s, a fio pass longer
# than SOAK_FIO_LIMIT s or a merge longer than SOAK_MERGE_LIMIT s is an
# error.  SOAK_TRACE=1 prints each command soak_run runs, with its duration.
# A "soak: ..." progress line comes at least every SOAK_PROGRESS s,
# and at the end (also after an error):
#   soak: <secs>s, <X.Y> GiB verified, <n> suspend cycles, <n> reloads,
#   <n> snapshot merges, <n> stats cycles, <n> errors

# The limits stretch as the harness stretches TIMEOUTs (tenfold on a debug
# kernel, where a fio pass on the three-level tree took 311 s).
SOAK_DM_LIMIT=${SOAK_DM_LIMIT:-$((60 * ${SPLITDF_TIMEOUT_SCALE:-1}))}
SOAK_FIO_LIMIT=${SOAK_FIO_LIMIT:-$((300 * ${SPLITDF_TIMEOUT_SCALE:-1}))}
SOAK_MERGE_LIMIT=${SOAK_MERGE_LIMIT:-$((300 * ${SPLITDF_TIMEOUT_SCALE:-1}))}
SOAK_PROGRESS=${SOAK_PROGRESS:-30}
SOAK_SNAP_HOLD=${SOAK_SNAP_HOLD:-4}
SOAK_VARIANTS="clone core inline ordered clone:max_pinned:4 ordered:max_pieces:4"
SOAK_TREES=${SOAK_TREES:-snap tree3}

# snap: half of vol, and vol (ram0); the COW store is ram1, the plain leg ram2.
SOAK_H=16384
SOAK_V=32768

# soak_now: seconds since boot in SOAK_T (no fork).
soak_now() {
	read -r SOAK_T _ </proc/uptime
	SOAK_T=${SOAK_T%.*}
}

soak_error() {
	SOAK_ERRORS=$((SOAK_ERRORS + 1))
	echo "soak: error: $*"
}

# soak_run LIMIT CMD...: CMD must succeed within LIMIT seconds; its output
# is left in soak.run.out.  Polled: a task blocked in D state ignores signals.
soak_run() {
	sr_limit=$1 sr_n=0
	shift
	soak_now
	sr_t0=$SOAK_T
	[ -z "${SOAK_TRACE:-}" ] || read -r sr_tr0 _ </proc/uptime
	"$@" >soak.run.out 2>&1 &
	sr_pid=$!
	# Clock time, not a count of polls: on a debug kernel one poll (a fork for
	# usleep) can take a second.  A slow command must not hold up the progress
	# line either.
	while kill -0 "$sr_pid" 2>/dev/null; do
		soak_progress
		if [ $((SOAK_T - sr_t0)) -gt "$sr_limit" ]; then
			soak_error "hang: '$*' did not return within $sr_limit s"
			return 1
		fi
		usleep 50000
		sr_n=$((sr_n + 1))
	done
	if ! wait "$sr_pid"; then
		soak_error "'$*' failed: $(cat soak.run.out)"
		return 1
	fi
	if [ -n "${SOAK_TRACE:-}" ]; then
		read -r sr_t1 _ </proc/uptime
		echo "soak: trace: $sr_tr0 +$(echo "$sr_t1 $sr_tr0" | awk '{ printf "%.2f", $1 - $2 }') s ($sr_n polls): $*"
	fi
}

soak_dm() { soak_run "$SOAK_DM_LIMIT" dmsetup "$@"; }

# Per-device settings: soak_set FIELD DEV VALUE, soak_get FIELD DEV.
# Fields: len (sectors), legs ("<nr_legs> <dev> <offset> <sectors>..."),
# bnd (boundary_sectors), mode (a variant: clone, ordered:max_pieces:4, ...).
soak_set() { eval "SOAK_$1_$2=\$3"; }
soak_get() { eval "echo \"\${SOAK_$1_$2}\""; }

# soak_table DEV [VARIANT]: DEV's table in its current mode, or in VARIANT.
soak_table() {
	st_v=${2:-$(soak_get mode "$1")}
	st_m=${st_v%%:*} st_x=
	[ "$st_m" = "$st_v" ] || st_x=$(echo "${st_v#*:}" | tr ':' ' ')
	# shellcheck disable=SC2086 # st_x is zero or more feature words
	echo "0 $(soak_get len "$1") splitdf $(soak_get legs "$1")" \
		"$(features boundary_sectors "$(soak_get bnd "$1")" $st_x split_mode "$st_m")"
}

soak_create() {
	soak_dm create "$1" --table "$2" || return 1
	dmsetup mknodes "$1"
	[ -b "/dev/mapper/$1" ] || { soak_error "/dev/mapper/$1 missing"; return 1; }
}

# soak_splitdf NAME LEN LEGS BOUNDARY MODE: create a splitdf device.
soak_splitdf() {
	soak_set len "$1" "$2"
	soak_set legs "$1" "$3"
	soak_set bnd "$1" "$4"
	soak_set mode "$1" "$5"
	soak_create "$1" "$(soak_table "$1")"
}

soak_pinned_zero() {
	sp=$(counter "$1" pinned) || true
	[ "$sp" = 0 ] || { soak_error "$1: $sp heads pinned while suspended"; return 1; }
}

soak_add_crossed() {
	sc=$(counter "$1" crossed) || true
	case $sc in '' | *[!0-9]*) soak_error "$1: no crossed counter"; return 1 ;; esac
	SOAK_PHASE_CROSSED=$((SOAK_PHASE_CROSSED + sc))
}

# --- the snapshot tree -------------------------------------------------------

soak_snap_legs() { # soak_snap_legs snap|merging
	case $1 in
	snap) soak_set legs sdf "3 /dev/ram2 0 $SOAK_H /dev/mapper/origin 0 $SOAK_H /dev/mapper/s $SOAK_H $SOAK_H" ;;
	merging) soak_set legs sdf "3 /dev/ram2 0 $SOAK_H /dev/mapper/origin 0 $SOAK_H /dev/mapper/origin $SOAK_H $SOAK_H" ;;
	esac
}

# A fresh, empty persistent store on ram1 for the next snapshot s.
soak_new_snapshot() {
	soak_run "$SOAK_DM_LIMIT" dd if=/dev/zero of=/dev/ram1 bs=4096 count=1 oflag=direct || return 1
	soak_create s "0 $SOAK_V snapshot /dev/mapper/vol /dev/ram1 P 8"
}

soak_build_snap() {
	SOAK_DEVS="sdf" SOAK_SUSP="sdf origin sdf"
	soak_create vol "0 $SOAK_V linear /dev/ram0 0" || return 1
	soak_create origin "0 $SOAK_V snapshot-origin /dev/mapper/vol" || return 1
	soak_new_snapshot || return 1
	soak_set len sdf $((3 * SOAK_H))
	soak_snap_legs snap
	soak_set bnd sdf 8
	soak_set mode sdf "$1"
	soak_create sdf "$(soak_table sdf)" || return 1
	SOAK_TOP=sdf SOAK_SNAP=snap
	soak_now
	SOAK_SNAP_T0=$SOAK_T
}

soak_teardown_snap() {
	soak_dm remove sdf || return 1
	[ "$SOAK_SNAP" != snap ] || soak_dm remove s || return 1
	soak_dm remove origin vol
}

# Sectors of s still to merge into vol (allocated minus metadata).
soak_merge_left() {
	dmsetup status origin | awk '$3 == "snapshot-merge" { split($4, a, "/"); print a[1] - $5 }'
}

soak_merge_start() {
	ms=$(dmsetup status s | cut -d' ' -f4)
	case $ms in */*) ;; *) soak_error "snapshot s: $(dmsetup status s)"; return 1 ;; esac
	soak_dm suspend sdf || return 1
	# s shows vol as it was when s was made; bring its first half level with
	# the origin's, so that merging s changes nothing sdf shows.
	soak_run "$SOAK_DM_LIMIT" dd if=/dev/mapper/origin of=/dev/mapper/s bs=512k \
		count=$((SOAK_H / 1024)) iflag=direct oflag=direct || return 1
	soak_dm suspend origin || return 1
	soak_snap_legs merging
	soak_dm reload sdf --table "$(soak_table sdf)" || return 1
	soak_add_crossed sdf || return 1
	soak_dm resume sdf || return 1
	soak_dm remove s || return 1
	SOAK_SNAP=merging
	soak_dm reload origin --table "0 $SOAK_V snapshot-merge /dev/mapper/vol /dev/ram1 P 8" || return 1
	soak_dm resume origin || return 1
	soak_now
	SOAK_MERGE_T0=$SOAK_T
}

soak_merge_finish() {
	soak_dm suspend sdf || return 1
	soak_dm suspend origin || return 1
	soak_dm reload origin --table "0 $SOAK_V snapshot-origin /dev/mapper/vol" || return 1
	soak_dm resume origin || return 1
	soak_new_snapshot || return 1
	SOAK_SNAP=snap
	soak_snap_legs snap
	soak_dm reload sdf --table "$(soak_table sdf)" || return 1
	soak_add_crossed sdf || return 1
	soak_dm resume sdf || return 1
	SOAK_MERGES=$((SOAK_MERGES + 1))
	soak_now
	SOAK_SNAP_T0=$SOAK_T
}

# One step of the snapshot's life: start a merge when s has taken writes for
# SOAK_SNAP_HOLD s, finish it when vol has caught up.
soak_merge_step() {
	[ "$SOAK_TREE" = snap ] || return 0
	soak_now
	if [ "$SOAK_SNAP" = snap ]; then
		[ $((SOAK_T - SOAK_SNAP_T0)) -lt "$SOAK_SNAP_HOLD" ] || soak_merge_start
		return
	fi
	ml=$(soak_merge_left)
	case $ml in '' | *[!0-9]*) soak_error "origin is not merging: $(dmsetup status origin)"; return 1 ;; esac
	if [ "$ml" = 0 ]; then
		soak_merge_finish
	elif [ $((SOAK_T - SOAK_MERGE_T0)) -gt "$SOAK_MERGE_LIMIT" ]; then
		soak_error "hang: merge not done after $SOAK_MERGE_LIMIT s: $(dmsetup status origin)"
		return 1
	fi
}

# --- the three-level tree ----------------------------------------------------

soak_build_tree3() {
	SOAK_DEVS="top b a1 a2" SOAK_SUSP="top b a1 a2"
	soak_splitdf a1 32768 "2 /dev/ram3 16384 16384 /dev/ram3 0 16384" 7 "$1" || return 1
	soak_splitdf a2 32768 "2 /dev/ram4 16384 16384 /dev/ram4 0 16384" 7 "$1" || return 1
	soak_splitdf b 65536 "2 /dev/mapper/a2 0 32768 /dev/mapper/a1 0 32768" 16 "$1" || return 1
	soak_splitdf top 65536 "2 /dev/mapper/b 32768 32768 /dev/mapper/b 0 32768" 24 "$1" || return 1
	SOAK_TOP=top
}

soak_teardown_tree3() { soak_dm remove top b a1 a2; }

# --- the churn ---------------------------------------------------------------

# soak_pick N LIST...: the Nth word (mod the count) of LIST, in SOAK_PICK.
soak_pick() {
	sk=$1
	shift
	shift $((sk % $#))
	SOAK_PICK=$1
}

soak_suspend_cycle() {
	# shellcheck disable=SC2086 # a list of devices
	soak_pick "$SOAK_SUSPENDS" $SOAK_SUSP
	d=$SOAK_PICK flag=
	case " $SOAK_DEVS " in *" $d "*) [ $((SOAK_SUSPENDS % 3)) != 2 ] || flag=--noflush ;; esac
	# shellcheck disable=SC2086 # no flag, or one
	soak_dm suspend $flag "$d" || return 1
	case " $SOAK_DEVS " in *" $d "*) soak_pinned_zero "$d" || return 1 ;; esac
	usleep $((SOAK_SUSPENDS % 3 * 100000))
	soak_dm resume "$d" || return 1
	SOAK_SUSPENDS=$((SOAK_SUSPENDS + 1))
}

# Switch a device to another variant, or back to the phase's mode.
soak_reload_cycle() {
	# shellcheck disable=SC2086
	set -- $SOAK_DEVS
	soak_pick "$SOAK_RELOADS" "$@"
	d=$SOAK_PICK
	if [ "$(soak_get mode "$d")" = "$SOAK_MODE" ]; then
		v=$SOAK_MODE
		while [ "$v" = "$SOAK_MODE" ]; do
			# shellcheck disable=SC2086
			soak_pick "$SOAK_VARIANT_I" $SOAK_VARIANTS
			v=$SOAK_PICK SOAK_VARIANT_I=$((SOAK_VARIANT_I + 1))
		done
	else
		v=$SOAK_MODE
	fi
	soak_dm reload "$d" --table "$(soak_table "$d" "$v")" || return 1
	soak_dm suspend "$d" || return 1
	soak_pinned_zero "$d" || return 1
	# The old table's counters are final once suspended.
	soak_add_crossed "$d" || return 1
	soak_dm resume "$d" || return 1
	soak_set mode "$d" "$v"
	SOAK_RELOADS=$((SOAK_RELOADS + 1))
}

soak_stats_cycle() {
	sd=
	for d in $SOAK_DEVS; do
		case $(soak_get mode "$d") in clone*) ;; *) sd="$sd $d" ;; esac
	done
	[ -n "$sd" ] || return 0
	# shellcheck disable=SC2086
	soak_pick "$SOAK_STATS" $sd
	d=$SOAK_PICK
	soak_dm message "$d" 0 @stats_create - /1 || return 1
	id=$(cat soak.run.out)
	case $id in '' | *[!0-9]*) soak_error "$d: @stats_create printed '$id'"; return 1 ;; esac
	soak_dm message "$d" 0 @stats_print "$id" || return 1
	soak_dm message "$d" 0 @stats_delete "$id" || return 1
	SOAK_STATS=$((SOAK_STATS + 1))
}

soak_step() {
	case $((SOAK_I % 3)) in
	0) soak_suspend_cycle ;;
	1) soak_reload_cycle ;;
	2) soak_stats_cycle ;;
	esac || return 1
	soak_merge_step || return 1
	SOAK_I=$((SOAK_I + 1))
	usleep $((SOAK_I % 4 * 100000))
}

# --- fio ---------------------------------------------------------------------

# soak_fio_loop DEV SECTORS DEADLINE: passes over DEV until DEADLINE (at least
# one); runs in the background.  Verified KiB of each pass are appended to
# soak.kb, the start of the running pass is in soak.fio.start, and a failure
# is described in soak.fio.fail.  Each of its two jobs writes the start of its
# half of DEV: all of it, or a part divided by the I/O scale, so that a pass
# on a debug kernel ends in minutes (tests/lib/common.sh: scaled).
soak_fio_loop() {
	half=$(($2 * 256)) pass=0
	part=$(($(scaled $(($2 / 2))) * 512))
	while :; do
		soak_now
		[ "$pass" = 0 ] || [ "$SOAK_T" -lt "$3" ] || break
		echo "$SOAK_T" >soak.fio.start
		if fio --name=soak --filename="$1" --direct=1 --ioengine=libaio --iodepth=16 \
			--rw=randwrite --bsrange=512-1m --blockalign=512 --numjobs=2 \
			--size="$part" --offset_increment="$half" --randrepeat=0 \
			--verify=crc32c --verify_backlog=32 --verify_fatal=1 --do_verify=1 \
			--verify_state_save=0 --output-format=terse,normal \
			--output=soak.fio.out 2>soak.fio.err; then
			:
		else
			rc=$?
			{
				echo "fio pass $pass on $1 failed (exit $rc):"
				tail -n 20 soak.fio.err
				grep -E 'err=|verify' soak.fio.out
			} >soak.fio.fail
			exit 1
		fi
		rw=$(awk -F';' '$1 == "3" { r += $6; w += $47 } END { print r + 0, w + 0 }' soak.fio.out)
		if [ "${rw% *}" != "${rw#* }" ] || [ "${rw% *}" = 0 ]; then
			echo "fio pass $pass on $1 verified ${rw% *} KiB of ${rw#* } KiB written" >soak.fio.fail
			exit 1
		fi
		echo "${rw% *}" >>soak.kb
		pass=$((pass + 1))
	done
	rm -f soak.fio.start
	echo "$pass" >soak.fio.passes
}

soak_gib() { awk '{ s += $1 } END { printf "%.1f", s / 1048576 }' soak.kb; }

soak_counts() {
	echo "$(soak_gib) GiB verified, $SOAK_SUSPENDS suspend cycles, $SOAK_RELOADS reloads," \
		"$SOAK_MERGES snapshot merges, $SOAK_STATS stats cycles, $SOAK_ERRORS errors"
}

soak_progress() {
	soak_now
	[ $((SOAK_T - SOAK_LAST)) -ge "$SOAK_PROGRESS" ] || return 0
	SOAK_LAST=$SOAK_T
	echo "soak: $((SOAK_T - SOAK_T0))s of ${SOAK_SECS}s, phase $SOAK_K/$SOAK_NK ($SOAK_TREE $SOAK_MODE), $(soak_counts)"
}

# After an error: resume whatever is suspended, so that fio and the harness's
# cleanup are not stuck behind it (best effort, in the background).
soak_unblock() {
	dmsetup info -c --noheadings -o name,attr 2>/dev/null | while IFS=: read -r n a; do
		case $a in *s*) dmsetup resume "$n" >/dev/null 2>&1 & ;; esac
	done
	sleep 2
}

# --- phases ------------------------------------------------------------------

# soak_phase TREE MODE DEADLINE
soak_phase() {
	SOAK_TREE=$1 SOAK_MODE=$2 SOAK_PHASE_CROSSED=0
	rm -f soak.fio.start soak.fio.fail soak.fio.passes
	soak_now
	ph_t0=$SOAK_T ph_kb0=$(awk '{ s += $1 } END { print s + 0 }' soak.kb)
	"soak_build_$1" "$2" || return 1
	soak_fio_loop "/dev/mapper/$SOAK_TOP" "$(soak_get len "$SOAK_TOP")" "$3" &
	fpid=$!
	while kill -0 "$fpid" 2>/dev/null; do
		[ ! -s soak.fio.fail ] || break
		if [ -s soak.fio.start ]; then
			soak_now
			fs=$(cat soak.fio.start 2>/dev/null) || fs=
			if [ -n "$fs" ] && [ $((SOAK_T - fs)) -gt "$SOAK_FIO_LIMIT" ]; then
				soak_error "hang: a fio pass on /dev/mapper/$SOAK_TOP ran longer than $SOAK_FIO_LIMIT s"
				return 1
			fi
		fi
		soak_step || return 1
		soak_progress
	done
	if ! wait "$fpid"; then
		soak_error "$(cat soak.fio.fail 2>/dev/null || echo "fio loop failed")"
		return 1
	fi
	if [ "$SOAK_TREE" = snap ] && [ "$SOAK_SNAP" = merging ]; then
		while [ "$SOAK_SNAP" = merging ]; do
			usleep 200000
			soak_merge_step || return 1
		done
	fi
	for d in $SOAK_DEVS; do
		expect_eq "$(counter "$d" pinned)" 0 "$d pinned at rest" || { SOAK_ERRORS=$((SOAK_ERRORS + 1)); return 1; }
		soak_add_crossed "$d" || return 1
	done
	# Nearly every bio crosses: a phase without crossing tested nothing.
	[ "$SOAK_PHASE_CROSSED" -gt 0 ] || { soak_error "$1 $2: no bio crossed a boundary"; return 1; }
	"soak_teardown_$1" || return 1
	soak_now
	echo "soak: phase $SOAK_K/$SOAK_NK ($1 $2) done in $((SOAK_T - ph_t0))s: $(cat soak.fio.passes) fio passes," \
		"$(awk -v k="$ph_kb0" '{ s += $1 } END { printf "%.2f", (s - k) / 1048576 }' soak.kb) GiB verified," \
		"$SOAK_PHASE_CROSSED crossing bios"
}

# soak_main SECONDS
soak_main() {
	SOAK_SECS=$1
	SOAK_SUSPENDS=0 SOAK_RELOADS=0 SOAK_MERGES=0 SOAK_STATS=0 SOAK_ERRORS=0 SOAK_I=0 SOAK_K=0 SOAK_VARIANT_I=0
	rm -f soak.*
	: >soak.kb
	setup_ramdisks 5 32
	soak_now
	SOAK_T0=$SOAK_T SOAK_LAST=$SOAK_T
	# shellcheck disable=SC2086 # lists
	SOAK_NK=$(($(echo $SPLIT_MODES | wc -w) * $(echo $SOAK_TREES | wc -w)))
	echo "soak: ${SOAK_SECS}s: trees $SOAK_TREES, split modes $SPLIT_MODES"
	for mode in $SPLIT_MODES; do
		for tree in $SOAK_TREES; do
			SOAK_K=$((SOAK_K + 1))
			echo "soak: phase $SOAK_K/$SOAK_NK: $tree, split_mode $mode"
			if ! soak_phase "$tree" "$mode" $((SOAK_T0 + SOAK_SECS * SOAK_K / SOAK_NK)); then
				[ "$SOAK_ERRORS" -gt 0 ] || soak_error "phase $SOAK_K ($tree $mode) failed"
				soak_unblock
				break 2
			fi
		done
	done
	soak_now
	echo "soak: $((SOAK_T - SOAK_T0))s, $(soak_counts)"
	[ "$SOAK_ERRORS" = 0 ] || fail "soak: $SOAK_ERRORS errors"
}
