# shellcheck shell=bash
# Shared helpers for the dm-splitdf QEMU test harness.  Source it; do not run it.
#
# Environment knobs (all optional):
#   SPLITDF_CACHE  chroots per series+flavour    (default /var/cache/dm-splitdf)
#   SPLITDF_BUILD  modules, initramfs, results     (default <repo>/build)
#   SPLITDF_ACCEL  qemu accelerator: tcg (default) or kvm where it works
#   SPLITDF_CASES_DIR  extra directory of cases, packed next to tests/cases

SPLITDF_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPLITDF_CACHE=${SPLITDF_CACHE:-/var/cache/dm-splitdf}
SPLITDF_BUILD=${SPLITDF_BUILD:-$SPLITDF_REPO/build}
export SPLITDF_REPO SPLITDF_CACHE SPLITDF_BUILD

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mounts)"; }

# apt-get on the host, one at a time: run-tests --jobs prepares kernels side
# by side, and apt-get fails at once when another holds dpkg's lock.  The
# project's lock orders its own jobs; the timeout waits for anyone else's.
host_apt() {
	(
		flock 9
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
	) 9>/run/dm-splitdf-apt.lock
}

# Install only the packages that are missing; run 'apt-get update' at most once.
_apt_updated=
need_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	if ! host_apt install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
		[ -n "$_apt_updated" ] && die "apt-get install ${missing[*]} failed"
		host_apt update -q >/dev/null
		_apt_updated=1
		host_apt install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# Print "URI SUITE..." for every enabled Debian 'deb' source of this machine, one per
# line, from both one-line *.list files and deb822 *.sources files.
_apt_source_lines() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [opts] URI SUITE COMPONENTS...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822 stanzas separated by blank lines; keep Types: deb stanzas that are enabled.
		awk '
			function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no") for (i = 1; i <= nu; i++) print u[i], suites; types = ""; nu = 0; suites = ""; enabled = "" }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { $1 = ""; types = $0 " " }
			tolower($1) == "uris:" { for (i = 2; i <= NF; i++) u[++nu] = $i }
			tolower($1) == "suites:" { $1 = ""; suites = substr($0, 2) }
			tolower($1) == "enabled:" { enabled = tolower($2) }
			END { flush() }' "$f"
	done
}

# The URI of the source that serves suite $1 (first match); empty if none.
_uri_for_suite() {
	_apt_source_lines | awk -v s="$1" '{ for (i = 2; i <= NF; i++) if ($i == s) { sub(/\/+$/, "", $1); print $1; exit } }'
}

# Main Debian archive: the source that serves the host's release (e.g. bookworm),
# which excludes -security, -updates and third-party repositories.
debian_archive_uri() {
	local codename uri
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	uri=$(_uri_for_suite "${codename:-bookworm}")
	[ -n "$uri" ] || uri=$(_uri_for_suite bookworm)
	[ -n "$uri" ] || die "no Debian archive found in /etc/apt/sources*"
	echo "$uri"
}

# Security archive: the source serving <codename>-security.
debian_security_uri() {
	local codename uri
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	uri=$(_uri_for_suite "${codename:-bookworm}-security")
	[ -n "$uri" ] || uri=$(_uri_for_suite bookworm-security)
	[ -n "$uri" ] || die "no Debian security archive found in /etc/apt/sources*"
	echo "$uri"
}

# Series table: what a series means.  Add a line to support a new one.
#   series | debootstrap suite | extra apt suites (main archive) | security suite | apt target release
# '-' means none.  The target release makes apt prefer e.g. backports' kernel.
_series_table() {
	cat <<'EOF'
bullseye           bullseye  bullseye-updates                     bullseye-security  -
bookworm           bookworm  bookworm-updates                     bookworm-security  -
bookworm-backports bookworm  bookworm-updates,bookworm-backports  bookworm-security  bookworm-backports
trixie             trixie    trixie-updates                       trixie-security    -
sid                sid       -                                    -                  -
experimental       sid       experimental                         -                  experimental  linux-*
EOF
}

# series_field SERIES N: column N (2..5) of the series table; dies on an unknown series.
# Column 6, the packages a pinned target release covers, is optional (default *).
series_field() {
	local v
	v=$(_series_table | awk -v s="$1" -v n="$2" '$1 == s { print $n }')
	[ -n "$v" ] || die "unknown series '$1' (known: $(_series_table | awk '{print $1}' | tr '\n' ' '))"
	echo "$v"
}

# Flavours: Debian's kernel flavour suffix.  cloud boots fastest; rt is PREEMPT_RT;
# debug is built here from Debian's sources (scripts/harness/build-debug-kernel).
check_flavour() {
	case $1 in cloud | rt | amd64 | debug) ;; *) die "unknown flavour '$1' (cloud, rt, amd64, debug)" ;; esac
}

# Debian package suffix of a flavour: linux-image-<suffix>, e.g. cloud-amd64.
flavour_suffix() {
	case $1 in amd64) echo amd64 ;; *) echo "$1-amd64" ;; esac
}

# write_apt_sources ROOT SERIES [pin]: ROOT's apt sources for SERIES, rewritten on
# every call so that a changed archive address is followed.  With 'pin', the
# series' target release (e.g. bookworm-backports) is preferred for every package
# (build chroots); without, apt uses its defaults and callers pass -t themselves.
# Experimental's pin covers the kernel's packages only: the toolchain stays sid's.
write_apt_sources() {
	local root=$1 series=$2 pin=${3:-} archive s list extra security target pkgs
	archive=$(debian_archive_uri)
	list=$(series_field "$series" 2)
	extra=$(series_field "$series" 3)
	security=$(series_field "$series" 4)
	target=$(series_field "$series" 5)
	pkgs=$(_series_table | awk -v s="$series" '$1 == s { print $6 }')
	[ "$extra" = - ] || list="$list ${extra//,/ }"
	{
		for s in $list; do echo "deb $archive $s main"; done
		[ "$security" = - ] || echo "deb $(debian_security_uri) $security main"
	} >"$root/etc/apt/sources.list"
	rm -f "$root/etc/apt/sources.list.d/"*
	if [ "$target" != - ] && [ "$pin" = pin ]; then
		printf 'Package: %s\nPin: release a=%s\nPin-Priority: 990\n' "${pkgs:-*}" "$target" >"$root/etc/apt/preferences.d/splitdf"
	else
		rm -f "$root/etc/apt/preferences.d/splitdf"
	fi
	# Root downloads into root-owned dirs; apt's sandbox user could not write there.
	# The configured archive may be a frozen mirror whose Release files have expired.
	printf '%s\n' 'APT::Sandbox::User "root";' 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/90splitdf"
}

# newest_kernel_abi ROOT FLAVOUR-SUFFIX TARGET: the ABI (e.g. 6.1.0-56, 7.2.13+deb14)
# that ROOT's apt would install for linux-image-SUFFIX, preferring release TARGET
# unless it is '-'.  The meta package is only read, never installed: some
# mirrors lack it in -security while they carry the versioned packages.
newest_kernel_abi() {
	local tr=()
	[ "$3" = - ] || tr=(-o "APT::Default-Release=$3")
	in_chroot "$1" apt-cache "${tr[@]}" depends "linux-image-$2" |
		sed -n "s/^ *Depends: linux-image-\(.*\)-$2\$/\1/p" | head -n1
}

chroot_dir() { echo "$SPLITDF_CACHE/chroot-$1-$2"; }

# The kernel release prepared for SERIES FLAVOUR (written by prepare-kernel).
kernel_release() {
	local f
	f="$(chroot_dir "$1" "$2")/kernel/KREL"
	[ -s "$f" ] || die "kernel for $1/$2 not prepared (run scripts/harness/prepare-kernel $1 $2)"
	cat "$f"
}

# Refuse to rm -rf a tree that still has something mounted inside it.
remove_tree() {
	umount_chroot "$1"
	if awk -v r="$1/" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
		die "$1 still has mounts inside; unmount them and retry"
	fi
	rm -rf "$1"
}

# debootstrap_tree DIR SUITE LOG: a minbase SUITE at DIR from the host's Debian
# archive, made in DIR.tmp and moved into place only when complete.
debootstrap_tree() {
	local dir=$1 suite=$2 log=$3
	need_pkgs debootstrap debian-archive-keyring
	[ -e "$dir.tmp" ] && remove_tree "$dir.tmp"
	debootstrap --variant=minbase "$suite" "$dir.tmp" "$(debian_archive_uri)" >"$log" 2>&1 ||
		{ remove_tree "$dir.tmp"; die "debootstrap $suite failed, see $log"; }
	mv "$dir.tmp" "$dir"
}

# Run a command inside a chroot with /proc (objtool needs it) and /dev mounted,
# unmounting again whatever happens.
in_chroot() {
	local root=$1
	shift
	mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
	mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
	local rc=0
	LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$root" "$@" || rc=$?
	umount_chroot "$root"
	return $rc
}

umount_chroot() {
	local m
	for m in proc dev; do
		if mountpoint -q "$1/$m"; then umount "$1/$m" || umount -l "$1/$m" || true; fi
	done
}

# The guest's real tools (the rest is busybox): from the host in the initramfs
# (mkinitramfs), from the Debian root in the DKMS matrix (dkms-image).
# shellcheck disable=SC2034 # used by the scripts that source this
GUEST_REAL_TOOLS="fio dmsetup kmod blkdiscard losetup blockdev mountpoint mke2fs e2fsck"
# xfsprogs' tools, in the initramfs only (the DKMS roots have no xfsprogs; the
# case that uses them checks ext4 alone where they are missing).
# shellcheck disable=SC2034
GUEST_XFS_TOOLS="mkfs.xfs xfs_repair"
# shellcheck disable=SC2034
GUEST_KMOD_LINKS="modprobe insmod rmmod lsmod modinfo depmod"

# build_test_tools DIR: the guests' helper programs, tests/tools/*.c, built with
# the host's gcc as static binaries in DIR (mkinitramfs: /tests/bin in the
# guest).  Any warning is an error (check-static builds them too).
TEST_TOOLS_CFLAGS="-static -O2 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Werror"
build_test_tools() {
	local c
	need_pkgs gcc libc6-dev
	mkdir -p "$1"
	for c in "$SPLITDF_REPO"/tests/tools/*.c; do
		[ -e "$c" ] || continue
		# shellcheck disable=SC2086 # a list of flags
		gcc $TEST_TOOLS_CFLAGS -o "$1/$(basename "$c" .c)" "$c" || return 1
	done
}

# copy_tests DIR: the repo's tests/ (and SPLITDF_CASES_DIR's cases) as the guest's /tests.
copy_tests() {
	mkdir -p "$1"
	cp -r "$SPLITDF_REPO/tests/." "$1/"
	if [ -n "${SPLITDF_CASES_DIR:-}" ]; then cp -r "$SPLITDF_CASES_DIR/." "$1/cases/"; fi
}

# The file of case NAME: SPLITDF_CASES_DIR (extra cases, e.g. harness experiments that
# are not in the repo) first, then tests/cases.
case_file() {
	if [ -n "${SPLITDF_CASES_DIR:-}" ] && [ -e "$SPLITDF_CASES_DIR/$1.sh" ]; then
		echo "$SPLITDF_CASES_DIR/$1.sh"
	else
		echo "$SPLITDF_REPO/tests/cases/$1.sh"
	fi
}

# case_var CASE NAME DEFAULT: the number in a case's "NAME=123" line (quotes and a
# trailing comment allowed), read with sed: the host never runs case files.
case_var() {
	local v
	v=$(sed -n "s/^$2=[\"']\{0,1\}\([0-9][0-9]*\).*/\1/p" "$(case_file "$1")" 2>/dev/null | head -n1)
	echo "${v:-$3}"
}

# One suite run per build dir at a time: runs share build/<KREL>/ and results/<KREL>/.
# A nested call (vm-run under run-tests) inherits the lock.
lock_build_dir() {
	[ -n "${SPLITDF_BUILD_LOCKED:-}" ] && return 0
	mkdir -p "$SPLITDF_BUILD"
	exec 8>"$SPLITDF_BUILD/.lock"
	if ! flock -n 8; then
		log "waiting for another test run using $SPLITDF_BUILD"
		flock 8
	fi
	export SPLITDF_BUILD_LOCKED=1
}

# Stage timer: 'stage_begin NAME' ... 'stage_end'.
stage_begin() { _stage_name=$1; _stage_t0=$(date +%s); log "== $1"; }
stage_end() { log "== $_stage_name done in $(($(date +%s) - _stage_t0))s"; }

# build_test_modules ROOT HEADERS [MAKE ARGS...]: a fresh copy of tests/modules
# in ROOT's /build/test-modules, built there against HEADERS (a path in ROOT)
# by make in the chroot.  The .ko files stay in ROOT/build/test-modules.
build_test_modules() {
	local root=$1 headers=$2
	shift 2
	rm -rf "$root/build/test-modules"
	mkdir -p "$root/build/test-modules"
	cp "$SPLITDF_REPO"/tests/modules/{Kbuild,*.c} "$root/build/test-modules/"
	in_chroot "$root" make -C "$headers" M=/build/test-modules "$@" modules
}
