# SPDX-License-Identifier: GPL-2.0-only
#
# Out-of-tree build of dm-splitdf.  Kbuild holds the object list; this
# Makefile only finds the kernel tree and adds the project's own targets.
#
#   make                      build for the running kernel's headers
#   make KERNELRELEASE=6.1.0-28-cloud-amd64   build for another kernel
#   make KDIR=/path/to/linux-headers          build against a tree
#   make check                checkpatch --strict, sparse, W=1 (this KDIR; a
#                             headers package has no checkpatch.pl: CHECKPATCH=...)
#   make check-kernels        the same on every supported Debian kernel (QEMU-free)
#   make test | make demo     the QEMU suite and the main job (scripts/)
#   make bench                splitdf's split modes against dm-linear and dm-stripe on
#                             bookworm and sid (QEMU icount: exact ratios; README: time)
#   make bench-gate           the short icount bench on bookworm against bench/baseline
#                             (what CI runs before the suite)
#   make deb                  build/dm-splitdf-dkms_<version>_all.deb (dh-dkms)
#   make dkms-install         register this checkout with DKMS and build it for
#                             KERNELRELEASE (default: the running kernel)
#   make dkms-remove          remove it from DKMS (every kernel) and /usr/src
#   make matrix               the DKMS matrix: every Debian series, in QEMU
#   make check-version        header, dkms.conf and debian/changelog agree
#   make hazard-dmstats-clone show clone mode's dm-stats hang, in a VM of its own
#   make check-debug          the suite on lockdep/KASAN/kmemleak kernels built from
#                             Debian's sources (the first build takes long)
#   make lvm2-tests [MODES="clone ordered"] [TESTS="pvmove-basic lvcreate-thin"|all]
#                             lvm2's own test scripts on splitdf devices, diffed
#                             against dm-linear, in a bookworm VM (scripts/lvm2-tests)
#   make soak DURATION=30m [KERNELS="bookworm sid"]
#                             the soak (tests/lib/soak.sh) for DURATION (seconds, or
#                             Ns, Nm, Nh) in one VM per kernel (default bookworm)

KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
PWD := $(shell pwd)
VERSION := $(shell sed -n 's/^\#define SPLITDF_VERSION[[:space:]]*"\(.*\)"/\1/p' dm-splitdf.h)
CHECKPATCH ?= $(KDIR)/scripts/checkpatch.pl

SOURCES := dm-splitdf.c dm-splitdf.h
# Test-only modules (scripts/harness/build-test-modules) and the guests' helper
# programs (tests/tools): checked, never installed
TEST_SOURCES := $(wildcard tests/modules/*.c tests/tools/*.c)

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

# No kernel tree needed: DKMS and dpkg-buildpackage may clean without one.
clean:
	rm -rf *.o *.ko *.mod *.mod.c .*.cmd .*.d modules.order Module.symvers .tmp_versions

# W=1 and sparse (C=2 checks every file, not only rebuilt ones)
check-build:
	@command -v sparse >/dev/null || \
		{ echo "make check-build: sparse is not installed (apt install sparse)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(PWD) W=1 C=2 modules

# The compat layer must read LINUX_VERSION_CODE, once, in dm-splitdf.h;
# that one warning is meant for in-tree code and is ignored here.
checkpatch:
	@test -f $(CHECKPATCH) || { echo "make checkpatch: no $(CHECKPATCH)" \
		"(Debian's linux-headers packages have none): give CHECKPATCH=<kernel source>/scripts/checkpatch.pl" \
		"(apt install linux-source-<version>), or run make check-kernels, which fetches one" >&2; exit 1; }
	$(CHECKPATCH) --strict --no-tree --ignore LINUX_VERSION_CODE --file $(SOURCES) $(TEST_SOURCES)

check: checkpatch check-build

check-kernels:
	scripts/harness/check-static

version:
	@echo $(VERSION)

check-version:
	@scripts/pkg/check-version

deb:
	scripts/pkg/make-deb

DKMS_SRC := /usr/src/dm-splitdf-$(VERSION)

dkms-install: check-version
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp dkms.conf Makefile Kbuild $(SOURCES) $(DKMS_SRC)/
	dkms add dm-splitdf/$(VERSION)
	dkms install dm-splitdf/$(VERSION) -k $(KERNELRELEASE)

dkms-remove:
	dkms remove dm-splitdf/$(VERSION) --all
	rm -rf $(DKMS_SRC)

matrix:
	scripts/pkg/matrix

test:
	scripts/run-tests

demo:
	scripts/demo

bench:
	scripts/bench/bench

bench-gate:
	scripts/bench/bench-gate

hazard-dmstats-clone:
	scripts/harness/hazard-dmstats-clone

check-debug:
	scripts/harness/check-debug

lvm2-tests:
	scripts/lvm2-tests $(if $(MODES),--modes "$(MODES)") $(if $(TESTS),--tests "$(TESTS)")

DURATION ?= 30m
soak:
	scripts/harness/soak $(if $(KERNELS),--kernels "$(KERNELS)") $(DURATION)

.PHONY: all modules clean check check-build check-kernels checkpatch version check-version test demo \
	deb dkms-install dkms-remove matrix bench bench-gate hazard-dmstats-clone check-debug soak lvm2-tests
