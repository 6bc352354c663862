# shellcheck shell=sh disable=SC2034
# Requires: brd, dm-snapshot, fio with libaio.  A short run of the soak
# (tests/lib/soak.sh; `make soak DURATION=...` runs a long one): fio crc32c
# verify through the snapshot tree (linear leg, origin and snapshot of one
# volume) and a three-level splitdf tree, 12 s in each split_mode, while one
# loop suspends/resumes devices, reloads tables switching split_mode, makes
# a snapshot and merges it, and churns dm-stats regions (not in clone mode).
# Checks: every fio pass verified all it wrote, every dmsetup command
# returned in time and succeeded, no head pinned while suspended or at rest,
# bios crossed in every phase, every merge completed.
DESCRIPTION="short soak: both trees, every split_mode, under suspend/reload/merge/dm-stats churn"
TIMEOUT=600

# shellcheck source=tests/lib/soak.sh
. "$SPLITDF_TESTS/lib/soak.sh"

test_case() {
	soak_main 96
}
