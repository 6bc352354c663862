// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-failnth: create a device-mapper device while one allocation of the
 * creation fails, for every allocation in turn (tests/cases/110-*).
 *
 *   dm-failnth [-a create|load|reload] [-c CPU] [-m MAX] NAME "START LENGTH TARGET ARGS..."
 *
 * For N = 1, 2, ... MAX this thread writes N to /proc/thread-self/fail-nth,
 * so that the N-th fault-injection check it makes from then on fails (see
 * "Systematic faults using fail-nth" in the kernel's
 * Documentation/fault-injection/fault-injection.rst), and issues
 * DM_DEV_CREATE, DM_TABLE_LOAD with the one-target table and DM_DEV_SUSPEND
 * without DM_SUSPEND_FLAG (resume) itself.  Where fail-nth is armed:
 *   -a create  (default) before DM_DEV_CREATE: the whole creation;
 *   -a load    before DM_TABLE_LOAD: the first table load, which also sets
 *              up the device's queue and gendisk, and the resume;
 *   -a reload  after create, load and resume have made the device with the
 *              table, before a second DM_TABLE_LOAD of the same table: that
 *              load and the resume that replaces the live table with it.
 * Then it reads fail-nth back (0: the fault was injected), disarms it,
 * removes the device if it exists and checks that the device-mapper devices
 * are those there were before the walk.  It stops at the first N where
 * every armed step succeeds without the fault being injected, and leaves
 * that device for the caller.  -c CPU pins the thread to CPU, so that the
 * per-CPU caches the allocations come from are the same at every N.
 *
 * One line per N on stdout:
 *   N STEP ERRNO fired|not-fired DEVICE
 * STEP is the first armed step that failed (create, load, resume) or "-"
 * if none, ERRNO its errno name or "-", DEVICE what became of the device:
 * "none" (it was never made), "removed", or "kept" (the last line).  Then
 *   done N REFUSED ABSORBED
 * with REFUSED the Ns where a step failed and ABSORBED those where the fault
 * was injected and still every step succeeded (a failure the kernel
 * tolerates, e.g. kmemleak's own metadata falling back to its pool).
 *
 * Exit status: 0 once the device was made without an injected fault; 1 if
 * a step failed without an injected fault, a device could not be removed,
 * the device-mapper devices changed, or MAX was reached; 2 on a usage or
 * setup error.  Messages go to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CONTROL "/dev/mapper/control"
#define FAIL_NTH "/proc/thread-self/fail-nth"
#define BUF_SIZE 16384

/* 8-byte aligned, as the kernel wants dm_target_spec and dm_name_list */
static uint64_t buf[BUF_SIZE / sizeof(uint64_t)];
static int control = -1, fail_nth = -1;
static const char *dev_name;
static unsigned long long tgt_start, tgt_len;
static char tgt_type[DM_MAX_TYPE_NAME];
static const char *tgt_args;

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "unknown";
}

/* The dm_ioctl header, for NAME unless @name is NULL; @size: whole buffer */
static struct dm_ioctl *dm_header(const char *name, size_t size)
{
	struct dm_ioctl *dmi = (struct dm_ioctl *)buf;

	memset(buf, 0, sizeof(buf));
	dmi->version[0] = DM_VERSION_MAJOR;
	dmi->data_size = size;
	dmi->data_start = sizeof(*dmi);
	if (name)
		snprintf(dmi->name, sizeof(dmi->name), "%s", name);
	return dmi;
}

/* 0 or an errno */
static int dm_cmd(unsigned long cmd, struct dm_ioctl *dmi)
{
	return ioctl(control, cmd, dmi) ? errno : 0;
}

static int dm_create(void)
{
	return dm_cmd(DM_DEV_CREATE, dm_header(dev_name, sizeof(struct dm_ioctl)));
}

static int dm_load(void)
{
	struct dm_ioctl *dmi = dm_header(dev_name, sizeof(buf));
	struct dm_target_spec *spec = (struct dm_target_spec *)(dmi + 1);
	size_t len = strlen(tgt_args) + 1;

	spec->sector_start = tgt_start;
	spec->length = tgt_len;
	memcpy(spec->target_type, tgt_type, sizeof(spec->target_type));
	memcpy(spec + 1, tgt_args, len);
	spec->next = (sizeof(*spec) + len + 7) & ~(size_t)7;
	dmi->data_size = sizeof(*dmi) + spec->next;
	dmi->target_count = 1;
	return dm_cmd(DM_TABLE_LOAD, dmi);
}

static int dm_resume(void)
{
	return dm_cmd(DM_DEV_SUSPEND, dm_header(dev_name, sizeof(struct dm_ioctl)));
}

/* 1 if the device exists, 0 if not, -1 (message printed) if unknown */
static int dm_exists(void)
{
	int e = dm_cmd(DM_DEV_STATUS, dm_header(dev_name, sizeof(struct dm_ioctl)));

	if (!e)
		return 1;
	if (e == ENXIO)
		return 0;
	fprintf(stderr, "dm-failnth: DM_DEV_STATUS %s: %s\n", dev_name, errname(e));
	return -1;
}

static int dm_remove(void)
{
	int e, tries;

	/* Nothing should hold it open; retry briefly in case something does */
	for (tries = 0; tries < 50; tries++) {
		e = dm_cmd(DM_DEV_REMOVE, dm_header(dev_name, sizeof(struct dm_ioctl)));
		if (e != EBUSY)
			break;
		usleep(100000);
	}
	if (e)
		fprintf(stderr, "dm-failnth: DM_DEV_REMOVE %s: %s\n", dev_name, errname(e));
	return e;
}

/* How many device-mapper devices exist (names on stderr), or -1 */
static int dm_count(int show)
{
	struct dm_ioctl *dmi = dm_header(NULL, sizeof(buf));
	struct dm_name_list *nl;
	int e, n = 0;

	e = dm_cmd(DM_LIST_DEVICES, dmi);
	if (e || (dmi->flags & DM_BUFFER_FULL_FLAG)) {
		fprintf(stderr, "dm-failnth: DM_LIST_DEVICES: %s\n",
			e ? errname(e) : "buffer full");
		return -1;
	}
	nl = (struct dm_name_list *)((char *)dmi + dmi->data_start);
	if (!nl->dev)
		return 0;
	for (;;) {
		n++;
		if (show)
			fprintf(stderr, "dm-failnth: device %s exists\n", nl->name);
		if (!nl->next)
			break;
		nl = (struct dm_name_list *)((char *)nl + nl->next);
	}
	return n;
}

static int arm(unsigned int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%u", n);

	if (write(fail_nth, s, len) != len) {
		perror("dm-failnth: write " FAIL_NTH);
		return -1;
	}
	return 0;
}

/* What is left of the armed count (0: the fault was injected), then disarm */
static long disarm(void)
{
	char s[16];
	ssize_t len = pread(fail_nth, s, sizeof(s) - 1, 0);

	if (len <= 0) {
		perror("dm-failnth: read " FAIL_NTH);
		return -1;
	}
	s[len] = '\0';
	if (arm(0))
		return -1;
	return strtol(s, NULL, 10);
}

static int parse_table(const char *line)
{
	int off = 0;

	if (sscanf(line, "%llu %llu %15s %n", &tgt_start, &tgt_len, tgt_type, &off) != 3 ||
	    !off || !line[off])
		return -1;
	tgt_args = line + off;
	return 0;
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: dm-failnth [-a create|load|reload] [-c CPU] [-m MAX] NAME \"START LENGTH TARGET ARGS...\"\n");
	exit(2);
}

enum { ARM_CREATE, ARM_LOAD, ARM_RELOAD };

/* The steps before the armed ones; 0 or an errno (message printed) */
static int setup(int arm_at)
{
	int e = 0;

	if (arm_at != ARM_CREATE)
		e = dm_create();
	if (!e && arm_at == ARM_RELOAD)
		e = dm_load();
	if (!e && arm_at == ARM_RELOAD)
		e = dm_resume();
	if (e)
		fprintf(stderr, "dm-failnth: setting up %s before arming: %s\n",
			dev_name, errname(e));
	return e;
}

/* The command line's options; main() holds their defaults */
struct opts {
	int arm_at;
	int cpu;
	unsigned int max;
};

/* Refusals and absorbed failures so far, for the "done" line */
static unsigned int refused, absorbed;

static const char * const steps[] = { "create", "load", "resume" };

/* Exits with bad_usage() on any bad option, so that callers only see valid ones */
static void parse_opts(int argc, char **argv, struct opts *o)
{
	int opt;

	while ((opt = getopt(argc, argv, "a:c:m:")) != -1) {
		switch (opt) {
		case 'a':
			if (!strcmp(optarg, "create"))
				o->arm_at = ARM_CREATE;
			else if (!strcmp(optarg, "load"))
				o->arm_at = ARM_LOAD;
			else if (!strcmp(optarg, "reload"))
				o->arm_at = ARM_RELOAD;
			else
				bad_usage();
			break;
		case 'c':
			o->cpu = atoi(optarg);
			break;
		case 'm':
			o->max = strtoul(optarg, NULL, 10);
			break;
		default:
			bad_usage();
		}
	}
	if (argc - optind != 2 || !o->max || parse_table(argv[optind + 1]))
		bad_usage();
	dev_name = argv[optind];
}

/* Checked once here, so that dm_load() can build the table without a bound check */
static int table_fits(void)
{
	if (strlen(tgt_args) + 1 + sizeof(struct dm_ioctl) +
	    sizeof(struct dm_target_spec) + 8 > sizeof(buf)) {
		fprintf(stderr, "dm-failnth: table too long\n");
		return 0;
	}
	return 1;
}

static int pin_cpu(int cpu)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus)) {
		perror("dm-failnth: sched_setaffinity");
		return -1;
	}
	return 0;
}

static int open_files(void)
{
	control = open(CONTROL, O_RDWR);
	if (control < 0) {
		perror("dm-failnth: " CONTROL);
		return -1;
	}
	fail_nth = open(FAIL_NTH, O_RDWR);
	if (fail_nth < 0) {
		perror("dm-failnth: " FAIL_NTH);
		return -1;
	}
	return 0;
}

/*
 * No page faults while armed: they would take the injected failure in place
 * of the ioctls (and the count would depend on this program).
 */
static void lock_memory(void)
{
	memset(buf, 0, sizeof(buf));
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		perror("dm-failnth: mlockall (going on)");
}

/* What one N did */
struct attempt {
	int err;	/* errno of the first armed step that failed, or 0 */
	int step;	/* that step, or the last one run, as an index in steps[] */
	long left;	/* fail-nth read back: 0 if the fault was injected */
	int exists;	/* 1 if the device exists afterwards */
};

/*
 * Only ioctls between arm() and disarm(): any other call into the kernel
 * would make fault-injection checks of its own and shift the count.
 */
static void armed_steps(int arm_at, struct attempt *a)
{
	a->step = arm_at == ARM_CREATE ? 0 : 1;
	a->err = a->step ? 0 : dm_create();
	if (!a->err) {
		a->step = 1;
		a->err = dm_load();
	}
	if (!a->err) {
		a->step = 2;
		a->err = dm_resume();
	}
}

/*
 * A failure without an injected fault is a bug, not a refusal: it ends the
 * walk.  The first N that succeeds without one ends it too, keeping the
 * device.  0 or 1: the exit status.
 */
static int without_fault(unsigned int n, const struct attempt *a)
{
	if (!a->err) {
		printf("%u - - not-fired kept\n", n);
		printf("done %u %u %u\n", n, refused, absorbed);
		return 0;
	}
	printf("%u %s %s not-fired %s\n", n, steps[a->step], errname(a->err),
	       a->exists ? "left" : "none");
	fprintf(stderr,
		"dm-failnth: N=%u: %s failed with %s, but no fault was injected\n",
		n, steps[a->step], errname(a->err));
	return 1;
}

/*
 * After an injected fault the device must go and nothing else may change:
 * a leftover or lost device is what the walk looks for.  -1 to go on, else
 * the exit status.
 */
static int after_fault(unsigned int n, const struct attempt *a, int before)
{
	const char *step = a->err ? steps[a->step] : "-";
	const char *err = a->err ? errname(a->err) : "-";

	if (a->exists && dm_remove()) {
		printf("%u %s %s fired left\n", n, step, err);
		return 1;
	}
	printf("%u %s %s fired %s\n", n, step, err, a->exists ? "removed" : "none");
	/* A walk its caller kills for taking too long still leaves its log */
	fflush(stdout);
	if (a->err)
		refused++;
	else
		absorbed++;
	if (dm_count(0) != before) {
		dm_count(1);
		fprintf(stderr,
			"dm-failnth: N=%u: the device-mapper devices changed (%d before the walk)\n",
			n, before);
		return 1;
	}
	return -1;
}

/* One N of the walk: -1 to go on to N + 1, else the exit status */
static int try_nth(unsigned int n, int arm_at, int before)
{
	struct attempt a;

	if (setup(arm_at)) {
		if (dm_exists() == 1)
			dm_remove();
		return 1;
	}
	if (arm(n))
		return 2;
	armed_steps(arm_at, &a);
	a.left = disarm();
	if (a.left < 0)
		return 2;
	a.exists = dm_exists();
	if (a.exists < 0)
		return 1;
	if (a.left)
		return without_fault(n, &a);
	return after_fault(n, &a, before);
}

int main(int argc, char **argv)
{
	struct opts o = { .arm_at = ARM_CREATE, .cpu = -1, .max = 2000 };
	unsigned int n;
	int before, ret;

	parse_opts(argc, argv, &o);
	if (!table_fits())
		return 2;
	if (o.cpu >= 0 && pin_cpu(o.cpu))
		return 2;
	if (open_files())
		return 2;
	lock_memory();
	before = dm_count(0);
	if (before < 0)
		return 2;
	/* The walk removes the device at every N: it must not be someone's */
	if (dm_exists()) {
		fprintf(stderr, "dm-failnth: %s exists before the walk\n", dev_name);
		return 2;
	}
	for (n = 1; n <= o.max; n++) {
		ret = try_nth(n, o.arm_at, before);
		if (ret >= 0)
			return ret;
	}
	fprintf(stderr, "dm-failnth: no success within %u injected failures\n", o.max);
	printf("done - %u %u\n", refused, absorbed);
	return 1;
}
