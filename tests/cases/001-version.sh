# shellcheck shell=sh disable=SC2034 # DESCRIPTION/TIMEOUT are read by the harness
# Requires: /tests/expect.env (written by mkinitramfs or dkms-image from the
# one source of the version, dm-splitdf.h).  Checks: the module modprobe found
# is the one the harness installed (extra/ in the initramfs, updates/dkms/ when
# DKMS installed it), for this kernel, with the expected MODULE_VERSION, and
# `dmsetup targets` reports the same version for splitdf.  With
# SPLITDF_EXPECT_AUTOLOAD=1 (the DKMS matrix) also that the harness's autoload
# check passed: at boot, before anything had loaded dm_splitdf, `dmsetup create`
# of a splitdf table loaded DKMS's module by itself (tests/guest/init).
DESCRIPTION="module version and origin: modinfo, vermagic, dmsetup targets"
TIMEOUT=60

test_case() {
	set -e
	# kmod's modinfo (busybox sh would run its own applet): what modprobe resolves.
	[ -r /tests/expect.env ] || fail "no /tests/expect.env"
	# shellcheck source=/dev/null
	. /tests/expect.env
	[ -n "$SPLITDF_EXPECT_VERSION" ] || fail "expect.env has no version"
	if [ "${SPLITDF_EXPECT_AUTOLOAD:-}" = 1 ]; then
		[ -r /run/splitdf-autoload.rc ] || fail "the harness ran no autoload check in this boot"
		cat /run/splitdf-autoload.out
		[ "$(cat /run/splitdf-autoload.rc)" = 0 ] || fail "the autoload check failed (its output above)"
	fi
	path=$(/sbin/modinfo -n dm-splitdf)
	case $path in
	*/"$KREL"/"$SPLITDF_EXPECT_MODULE_DIR"/dm-splitdf.ko*) ;;
	*) fail "modprobe would load $path, not the module in $SPLITDF_EXPECT_MODULE_DIR/" ;;
	esac
	expect_eq "$(/sbin/modinfo -F version dm-splitdf)" "$SPLITDF_EXPECT_VERSION" "modinfo version"
	expect_eq "$(/sbin/modinfo -F vermagic dm-splitdf | cut -d' ' -f1)" "$KREL" "vermagic"
	expect_eq "$(dmsetup targets | awk '$1 == "splitdf" { print $2 }')" "v$SPLITDF_EXPECT_VERSION" "dmsetup targets"
	expect_eq "$(cat /sys/module/dm_splitdf/version)" "$SPLITDF_EXPECT_VERSION" "/sys/module version"
	echo "dm-splitdf $SPLITDF_EXPECT_VERSION from $SPLITDF_EXPECT_MODULE_DIR/ on $KREL"
}
