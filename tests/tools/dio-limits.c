// SPDX-License-Identifier: GPL-2.0-only
/*
 * dio-limits: O_DIRECT reads and writes at the edges of what a block
 * device's queue limits promise (tests/cases/124-*).
 *
 *   dio-limits DEV SECTOR...
 *
 * Reads DEV's queue limits from /sys/dev/block/<major>:<minor>/queue
 * (logical_block_size, max_sectors_kb, max_hw_sectors_kb, max_segments,
 * max_segment_size, dma_alignment; a kernel without the dma_alignment file
 * is taken to have 511) and prints them on the first line.  Then, for each
 * probe, one pwritev() and, if it wrote, a read back of the range with one
 * aligned buffer and a preadv() with the probe's own iovecs, both compared
 * with what was written; the 512 bytes on either side are read before and
 * after and must not change (nor the range itself when the write is
 * refused).  The probes, each crossing or starting at one of the SECTORs
 * (boundaries of the device's layout):
 *
 *   off    offsets at -2..+1 logical blocks around each SECTOR, and offsets
 *          off a logical block by 512 bytes and by 256 bytes;
 *   align  one buffer, then two iovecs of which the second is misaligned,
 *          each at an address aligned to exactly A bytes, for A from
 *          dma_alignment + 1 down to 1 (halving);
 *   sublen iovecs shorter than a logical block (whose total is whole
 *          blocks), dma_alignment + 1 bytes each and split unevenly;
 *   segs   N iovecs of one logical block each, in separate pages, for N
 *          around max_segments, twice it and IOV_MAX;
 *   size   one buffer of max_sectors_kb (and one block less or more, twice
 *          it, max_hw_sectors_kb plus a block) and of four times
 *          max_segment_size; iovecs of max_segment_size plus a block;
 *   eod    a write of two blocks at the last block of the device.
 *
 * What the limits decide is checked: a probe whose offset, total length or
 * any buffer address (dma_alignment) is misaligned must fail with EINVAL,
 * and one where all are aligned must transfer all its bytes whatever its
 * number of segments or size.  An iovec shorter than a logical block but
 * aligned to dma_alignment + 1 is the kernel's choice (6.1 refuses it,
 * later kernels may take it); so is the write past the end: those are
 * printed, not judged.  One line per probe on stdout:
 *
 *   NAME: write OUTCOME, read OUTCOME
 *
 * with OUTCOME "ok", "short N" or an errno name; lines depend only on the
 * limits and the SECTORs, so two devices with the same limits and layout
 * (splitdf and dm-linear over the same legs) print the same.  A wrong
 * outcome or wrong data adds a line starting "MISMATCH:" or "DATA:".
 *
 * Exit status: 0 if every probe went as the limits say, with the right
 * data; 1 otherwise; 2 on a usage or setup error.  Messages go to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_IOV IOV_MAX
#define ARENA_CAP (32u << 20)	/* the largest probe */
#define PAGE 4096u

struct limits {
	unsigned int lbs, max_sectors_kb, max_hw_sectors_kb, max_segments;
	unsigned int max_segment_size, dma_alignment;
};

static struct limits lim;
static int fd = -1;
static unsigned long long dev_bytes;
static unsigned char *arena;	/* probe buffers */
static size_t arena_size;
static unsigned char *check_buf;	/* aligned reads for checking */
static size_t check_size;
static unsigned int generation;
static int bad;
static struct iovec iov[MAX_IOV];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "dio-limits: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "unknown";
}

/* A queue limit of @dev; @dflt if the kernel has no such file. */
static unsigned int queue_limit(dev_t dev, const char *name, int have_dflt,
				unsigned int dflt)
{
	char path[128];
	unsigned int v;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s",
		 major(dev), minor(dev), name);
	f = fopen(path, "r");
	if (!f) {
		if (have_dflt)
			return dflt;
		die("cannot open %s: %s", path, strerror(errno));
	}
	if (fscanf(f, "%u", &v) != 1)
		die("cannot read %s", path);
	fclose(f);
	return v;
}

/* The byte every write of generation @gen puts at device offset @pos. */
static unsigned char pattern(unsigned int gen, unsigned long long pos)
{
	unsigned long long x = (pos + 1) * 0x9e3779b97f4a7c15ull ^ gen * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 17));
}

static size_t iov_total(int n)
{
	size_t t = 0;
	int i;

	for (i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static void outcome(char *buf, size_t size, ssize_t r, int e, size_t want)
{
	if (r < 0)
		snprintf(buf, size, "%s", errname(e));
	else if ((size_t)r == want)
		snprintf(buf, size, "ok");
	else
		snprintf(buf, size, "short %zd", r);
}

/* One aligned pread of @len bytes at @off into check_buf; 0 or -1. */
static int check_read(unsigned long long off, size_t len)
{
	ssize_t r = pread(fd, check_buf, len, off);

	if (r != (ssize_t)len) {
		printf("DATA: aligned read of %zu at %llu: %s\n", len, off,
		       r < 0 ? errname(errno) : "short");
		bad = 1;
		return -1;
	}
	return 0;
}

/* The 512 bytes before and after [off, off + len) (those in the device). */
struct edges {
	unsigned char before[512], after[512];
	int has_before, has_after;
};

static void read_edges(unsigned long long off, size_t len, struct edges *e)
{
	e->has_before = off >= lim.lbs;
	e->has_after = off + len + lim.lbs <= dev_bytes;
	/* One logical block each side, of which the nearest 512 bytes count */
	if (e->has_before && !check_read(off - lim.lbs, lim.lbs))
		memcpy(e->before, check_buf + lim.lbs - 512, 512);
	if (e->has_after && !check_read(off + len, lim.lbs))
		memcpy(e->after, check_buf, 512);
}

static int edges_changed(unsigned long long off, size_t len, const struct edges *e)
{
	struct edges now;

	read_edges(off, len, &now);
	return (e->has_before && memcmp(e->before, now.before, 512)) ||
	       (e->has_after && memcmp(e->after, now.after, 512));
}

/* Does device data at [off, off + len) hold generation @gen? */
static int range_holds(unsigned int gen, unsigned long long off, size_t len)
{
	size_t i;

	if (check_read(off, len))
		return 0;
	for (i = 0; i < len; i++)
		if (check_buf[i] != pattern(gen, off + i))
			return 0;
	return 1;
}

/* Do the first @r bytes of iov[0..n) hold generation @gen from @off on? */
static int iov_holds(unsigned int gen, unsigned long long off, int n, ssize_t r)
{
	size_t done = 0, i;
	int j;

	for (j = 0; j < n; done += iov[j].iov_len, j++)
		for (i = 0; i < iov[j].iov_len && done + i < (size_t)r; i++)
			if (((unsigned char *)iov[j].iov_base)[i] != pattern(gen, off + done + i))
				return 0;
	return 1;
}

/* Aligned offsets and lengths only: what may the kernel refuse? */
enum expect { EXPECT_OK, EXPECT_EINVAL, EXPECT_ANY };

static enum expect predict(unsigned long long off, int n)
{
	int i, sublen = 0;

	if (off % lim.lbs || iov_total(n) % lim.lbs)
		return EXPECT_EINVAL;
	for (i = 0; i < n; i++) {
		if ((uintptr_t)iov[i].iov_base & lim.dma_alignment)
			return EXPECT_EINVAL;
		if (iov[i].iov_len % lim.lbs)
			sublen = 1;
	}
	return sublen ? EXPECT_ANY : EXPECT_OK;
}

/*
 * Probe @name: iov[0..n) written at @off, then read back.  @expect_any
 * forces "the kernel's choice" (not judged).
 */
static void probe(const char *name, unsigned long long off, int n, int expect_any)
{
	size_t len = iov_total(n), want_len = len;
	unsigned int gen = ++generation;
	enum expect ex = expect_any ? EXPECT_ANY : predict(off, n);
	char wout[32], rout[32];
	unsigned char *saved = NULL;
	struct edges edges;
	size_t done, i;
	ssize_t r;
	int j, e, aligned = !(off % lim.lbs) && !(len % lim.lbs);

	if (off + len > dev_bytes)
		want_len = off < dev_bytes ? dev_bytes - off : 0;
	/* What is there now, to see that a refused write changed nothing */
	if (aligned && want_len == len) {
		read_edges(off, len, &edges);
		saved = malloc(len);
		if (!saved || check_read(off, len))
			die("cannot save %zu bytes at %llu", len, off);
		memcpy(saved, check_buf, len);
	}
	for (j = 0, done = 0; j < n; done += iov[j].iov_len, j++)
		for (i = 0; i < iov[j].iov_len; i++)
			((unsigned char *)iov[j].iov_base)[i] = pattern(gen, off + done + i);
	r = pwritev(fd, iov, n, off);
	e = errno;
	outcome(wout, sizeof(wout), r, e, len);
	if (r >= 0) {
		/* Read back with the probe's own iovecs, zeroed first */
		for (j = 0; j < n; j++)
			memset(iov[j].iov_base, 0, iov[j].iov_len);
		r = preadv(fd, iov, n, off);
		outcome(rout, sizeof(rout), r, errno, len);
		if (r > 0 && !iov_holds(gen, off, n, r)) {
			printf("DATA: %s: preadv read what was not written\n", name);
			bad = 1;
		}
	} else {
		r = preadv(fd, iov, n, off);
		outcome(rout, sizeof(rout), r, errno, len);
	}
	printf("%s: write %s, read %s\n", name, wout, rout);

	if (ex == EXPECT_OK && strcmp(wout, "ok")) {
		printf("MISMATCH: %s: the limits allow this write: %s\n", name, wout);
		bad = 1;
	} else if (ex == EXPECT_EINVAL && (strcmp(wout, "EINVAL") || strcmp(rout, "EINVAL"))) {
		printf("MISMATCH: %s: the limits forbid this I/O: write %s, read %s\n",
		       name, wout, rout);
		bad = 1;
	} else if (ex == EXPECT_OK && strcmp(rout, "ok")) {
		printf("MISMATCH: %s: the limits allow this read: %s\n", name, rout);
		bad = 1;
	}
	if (!strcmp(wout, "ok") && want_len == len) {
		if (!range_holds(gen, off, len)) {
			printf("DATA: %s: the range does not hold what was written\n", name);
			bad = 1;
		}
	} else if (saved && check_read(off, len) == 0 && memcmp(saved, check_buf, len)) {
		printf("DATA: %s: a refused write changed the range\n", name);
		bad = 1;
	}
	if (saved && edges_changed(off, len, &edges)) {
		printf("DATA: %s: the 512 bytes next to the range changed\n", name);
		bad = 1;
	}
	free(saved);
}

/* iov[0..n): @n buffers of @len bytes each, @stride apart, at @misalign past a page. */
static int layout(int n, size_t len, size_t stride, size_t misalign)
{
	int i;

	if ((size_t)n * stride + misalign + len > arena_size)
		die("%d buffers of %zu bytes do not fit", n, len);
	for (i = 0; i < n; i++) {
		iov[i].iov_base = arena + (size_t)i * stride + misalign;
		iov[i].iov_len = len;
	}
	return n;
}

/* A start for @len bytes that crosses @sector near its middle, in the device */
static unsigned long long around(unsigned long long sector, size_t len)
{
	unsigned long long b = sector * 512, off;

	off = b > len / 2 ? b - len / 2 : 0;
	off -= off % lim.lbs;
	if (off + len > dev_bytes)
		off = (dev_bytes - len) / lim.lbs * lim.lbs;
	return off;
}

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

int main(int argc, char **argv)
{
	unsigned long long sectors[16];
	int nsec = argc - 2, s, k, n;
	unsigned int a, ns[5];
	size_t sizes[6];
	char name[96];
	struct stat st;

	if (argc < 3 || nsec > 16) {
		fprintf(stderr, "usage: dio-limits DEV SECTOR... (up to 16)\n");
		return 2;
	}
	for (s = 0; s < nsec; s++)
		sectors[s] = strtoull(argv[s + 2], NULL, 10);
	if (stat(argv[1], &st) || !S_ISBLK(st.st_mode))
		die("%s is not a block device", argv[1]);
	lim.lbs = queue_limit(st.st_rdev, "logical_block_size", 0, 0);
	lim.max_sectors_kb = queue_limit(st.st_rdev, "max_sectors_kb", 0, 0);
	lim.max_hw_sectors_kb = queue_limit(st.st_rdev, "max_hw_sectors_kb", 0, 0);
	lim.max_segments = queue_limit(st.st_rdev, "max_segments", 0, 0);
	lim.max_segment_size = queue_limit(st.st_rdev, "max_segment_size", 0, 0);
	lim.dma_alignment = queue_limit(st.st_rdev, "dma_alignment", 1, 511);
	if (lim.lbs < 512 || lim.lbs > PAGE || (lim.dma_alignment + 1) & lim.dma_alignment)
		die("unexpected limits");
	printf("limits: logical_block_size %u max_sectors_kb %u max_hw_sectors_kb %u",
	       lim.lbs, lim.max_sectors_kb, lim.max_hw_sectors_kb);
	printf(" max_segments %u max_segment_size %u dma_alignment %u\n",
	       lim.max_segments, lim.max_segment_size, lim.dma_alignment);

	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0)
		die("open %s: %s", argv[1], strerror(errno));
	if (ioctl(fd, BLKGETSIZE64, &dev_bytes))
		die("BLKGETSIZE64: %s", strerror(errno));
	arena_size = 2 * (size_t)MAX_IOV * PAGE + 2 * PAGE;
	if (arena_size < ARENA_CAP + 2 * PAGE)
		arena_size = ARENA_CAP + 2 * PAGE;
	arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check_size = ARENA_CAP + 2 * PAGE;
	if (arena == MAP_FAILED || posix_memalign((void **)&check_buf, PAGE, check_size))
		die("out of memory");

	/* off: offsets around each boundary, whole and partial blocks */
	for (s = 0; s < nsec; s++) {
		for (k = -2; k <= 1; k++) {
			unsigned long long off = sectors[s] * 512 + k * (long long)lim.lbs;

			snprintf(name, sizeof(name), "off %llu%+d blocks, 2 blocks", sectors[s], k);
			probe(name, off, layout(1, 2 * lim.lbs, 0, 0), 0);
		}
		snprintf(name, sizeof(name), "off %llu-512 bytes, 2 blocks", sectors[s]);
		probe(name, sectors[s] * 512 - 512, layout(1, 2 * lim.lbs, 0, 0), 0);
		snprintf(name, sizeof(name), "off %llu-256 bytes, 2 blocks", sectors[s]);
		probe(name, sectors[s] * 512 - 256, layout(1, 2 * lim.lbs, 0, 0), 0);
	}

	/* align: buffers aligned to exactly a bytes */
	for (a = lim.dma_alignment + 1; a; a /= 2) {
		snprintf(name, sizeof(name), "align %u, 1 iovec", a);
		probe(name, around(sectors[0], 2 * lim.lbs), layout(1, 2 * lim.lbs, 0, a), 0);
		/* Only the second of two iovecs misaligned */
		layout(2, lim.lbs, PAGE, 0);
		iov[1].iov_base = arena + PAGE + a;
		snprintf(name, sizeof(name), "align %u, 2nd of 2 iovecs", a);
		probe(name, around(sectors[0], 2 * lim.lbs), 2, 0);
	}

	/* sublen: iovecs shorter than a block, the kernel's choice */
	for (s = 0; lim.dma_alignment + 1 < lim.lbs && s < nsec; s++) {
		a = lim.dma_alignment + 1;
		snprintf(name, sizeof(name), "sublen %u x %u bytes around %llu",
			 2 * lim.lbs / a, a, sectors[s]);
		probe(name, around(sectors[s], 2 * lim.lbs),
		      layout(2 * lim.lbs / a, a, round_page(a), 0), 0);
		layout(3, lim.lbs, PAGE, 0);
		iov[0].iov_len = lim.lbs / 2;
		iov[2].iov_len = lim.lbs / 2;
		snprintf(name, sizeof(name), "sublen 1/2 + 1 + 1/2 blocks around %llu", sectors[s]);
		probe(name, around(sectors[s], 2 * lim.lbs), 3, 0);
	}

	/* segs: one block per iovec, each in its own page, two pages apart */
	ns[0] = lim.max_segments - 1;
	ns[1] = lim.max_segments;
	ns[2] = lim.max_segments + 1;
	ns[3] = 2 * lim.max_segments;
	ns[4] = MAX_IOV;
	for (k = 0; k < 5; k++) {
		n = ns[k] > MAX_IOV ? MAX_IOV : ns[k];
		if (!n || (size_t)n * lim.lbs > dev_bytes / 2)
			continue;
		for (s = 0; s < nsec; s++) {
			snprintf(name, sizeof(name), "segs %d x 1 block around %llu",
				 n, sectors[s]);
			probe(name, around(sectors[s], (size_t)n * lim.lbs),
			      layout(n, lim.lbs, 2 * PAGE, 0), 0);
		}
	}

	/* size: around max_sectors_kb and max_segment_size */
	sizes[0] = (size_t)lim.max_sectors_kb * 1024 - lim.lbs;
	sizes[1] = (size_t)lim.max_sectors_kb * 1024;
	sizes[2] = (size_t)lim.max_sectors_kb * 1024 + lim.lbs;
	sizes[3] = (size_t)lim.max_sectors_kb * 2048;
	sizes[4] = (size_t)lim.max_hw_sectors_kb * 1024 + lim.lbs;
	sizes[5] = 4 * (size_t)lim.max_segment_size;
	for (k = 0; k < 6; k++) {
		if (sizes[k] > ARENA_CAP || sizes[k] > dev_bytes / 2)
			continue;
		snprintf(name, sizeof(name), "size %zu bytes, 1 iovec", sizes[k]);
		probe(name, around(sectors[0], sizes[k]), layout(1, sizes[k], 0, 0), 0);
	}
	n = 4;
	if ((size_t)n * round_page(lim.max_segment_size + lim.lbs + PAGE) <= ARENA_CAP) {
		snprintf(name, sizeof(name), "size %d x (max_segment_size + 1 block)", n);
		probe(name, around(sectors[0], n * ((size_t)lim.max_segment_size + lim.lbs)),
		      layout(n, lim.max_segment_size + lim.lbs,
			     round_page(lim.max_segment_size + lim.lbs + PAGE), 0), 0);
	}

	/* eod: two blocks at the last block */
	probe("eod 2 blocks at the last block", dev_bytes - lim.lbs,
	      layout(1, 2 * lim.lbs, 0, 0), 1);

	printf("%s\n", bad ? "dio-limits: FAILED" : "dio-limits: every probe as the limits say");
	return bad;
}
