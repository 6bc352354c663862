// SPDX-License-Identifier: GPL-2.0-only
/*
 * log-replay: replay a dm-log-writes log onto a device and check it at every
 * consistency point (tests/cases/092-crash-consistency.sh).
 *
 *   log-replay --log LOGDEV [--replay DEV] [--start-mark NAME] [--check CMD]
 *              [--check-marks PREFIX] [--list]
 *
 * The log's format is dm-log-writes' (the kernel's drivers/md/dm-log-writes.c
 * and Documentation/admin-guide/device-mapper/log-writes.rst): a super block
 * at byte 0,
 *
 *   struct log_write_super { __le64 magic, version, nr_entries; __le32 sectorsize; }
 *
 * then, from byte sectorsize on, nr_entries entries, each a block of
 * sectorsize bytes holding
 *
 *   struct log_write_entry { __le64 sector, nr_sectors, flags, data_len; }
 *
 * (a mark's name follows it in the same block, data_len bytes), then, for a
 * write, the nr_sectors * sectorsize bytes written; a discard, a flush and a
 * mark have no data.  sector and nr_sectors count sectorsize units.  Entries
 * are in the order dm-log-writes logged them: a write that completed without
 * REQ_FUA is logged only when a flush that was issued after it completes
 * (before that flush's own entry), a REQ_FUA write as it completes, so that
 * the log up to an entry is what the device below held durably then.
 *
 * Each entry is applied to DEV in log order with O_DIRECT: a write writes
 * its data, a discard writes zeros (so a replay never depends on what a
 * device returns for discarded blocks).  Consistency points:
 *   - after each flush entry: everything that completed before the flush
 *     was issued is durable, on every leg;
 *   - after the last of consecutive FUA entries: a FUA bio that a stacked
 *     device split reaches the log as one FUA entry per piece, logged as
 *     each completes, and only once all have completed can the file system
 *     above have seen it complete.  A non-FUA write or a flush never comes
 *     between them (non-FUA writes wait for the next flush), so the end of
 *     a run of FUA entries is the point where each of them is durable whole.
 * With --start-mark, the entries up to and including the mark entry of that
 * name are applied without checking (e.g. mkfs: its flushes are not points
 * of a file system yet).  At each point after that where something was
 * applied since the last check, DEV is left as it is and CMD is run with
 * /bin/sh -c, with LOG_REPLAY_POINT (1, 2, ...), LOG_REPLAY_ENTRY (the
 * entry's index from 0) and LOG_REPLAY_KIND (flush or fua) in its
 * environment; a non-zero exit marks the point inconsistent.  Points with
 * nothing new to check are counted, not checked.
 *
 * With --check-marks, each mark entry whose name starts with PREFIX is a
 * point too, always checked, with LOG_REPLAY_KIND=mark and LOG_REPLAY_MARK
 * its name: a mark made (dmsetup message DEV 0 mark NAME) right after an
 * fsync or an O_DSYNC write returned follows everything the device logged
 * durable for it, so CMD can check that what the writer was told is
 * durable is there.
 *
 * Output: with --list a line per entry (index, flags, sector, sectors,
 * mark name); one line per inconsistent point; and last
 *   log-replay: E entries (W writes, D discards, F flushes, U fua, M marks),
 *   P points, C checked, I inconsistent
 * (on one line).
 * Exit status: 0 if no point was inconsistent, 1 if one was, 2 on a usage,
 * format or I/O error (or if --start-mark names no mark of the log).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_FLUSH_FLAG		0x01
#define LOG_FUA_FLAG		0x02
#define LOG_DISCARD_FLAG	0x04
#define LOG_MARK_FLAG		0x08
#define LOG_METADATA_FLAG	0x10

#define WRITE_LOG_VERSION	1ULL
#define WRITE_LOG_MAGIC		0x6a736677736872ULL

/* Byte offsets in struct log_write_super and struct log_write_entry */
#define SUPER_MAGIC		0
#define SUPER_VERSION		8
#define SUPER_NR_ENTRIES	16
#define SUPER_SECTORSIZE	24
#define ENTRY_SECTOR		0
#define ENTRY_NR_SECTORS	8
#define ENTRY_FLAGS		16
#define ENTRY_DATA_LEN		24
#define ENTRY_SIZE		32

typedef unsigned long long u64;

static int log_fd = -1, replay_fd = -1;
static uint32_t sectorsize;
static void *buf;
static size_t buf_size;

static void die(const char *what)
{
	fprintf(stderr, "log-replay: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void bad_usage(void)
{
	fputs("usage: log-replay --log LOGDEV [--replay DEV] [--start-mark NAME]\n"
	      "                  [--check CMD] [--check-marks PREFIX] [--list]\n", stderr);
	exit(2);
}

static u64 le64_at(const void *p, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)p + off, sizeof(v));
	return le64toh(v);
}

static uint32_t le32_at(const void *p, size_t off)
{
	uint32_t v;

	memcpy(&v, (const char *)p + off, sizeof(v));
	return le32toh(v);
}

/* An aligned buffer of at least @size bytes, for O_DIRECT */
static void *get_buf(size_t size)
{
	if (size <= buf_size)
		return buf;
	free(buf);
	buf_size = (size + 65535) & ~(size_t)65535;
	if (posix_memalign(&buf, 4096, buf_size)) {
		errno = ENOMEM;
		die("buffer");
	}
	return buf;
}

static void read_at(void *dst, size_t len, uint64_t off)
{
	ssize_t r;

	while (len) {
		r = pread(log_fd, dst, len, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (!r)
				errno = EIO;
			die("read of the log");
		}
		dst = (char *)dst + r;
		len -= r;
		off += r;
	}
}

static void write_at(const void *src, size_t len, uint64_t off)
{
	ssize_t r;

	while (len) {
		r = pwrite(replay_fd, src, len, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (!r)
				errno = EIO;
			die("write to the replay device");
		}
		src = (const char *)src + r;
		len -= r;
		off += r;
	}
}

/* Zeros over @len bytes from @off, a buffer at a time */
static void zero_at(uint64_t len, uint64_t off)
{
	size_t chunk = 1 << 20;
	void *zeros = get_buf(chunk);

	memset(zeros, 0, chunk);
	while (len) {
		size_t n = len < chunk ? len : chunk;

		write_at(zeros, n, off);
		len -= n;
		off += n;
	}
}

/* Runs @cmd for point @point; returns 0 if it exited 0 */
static int check_point(const char *cmd, u64 point, u64 entry, const char *kind,
		       const char *mark)
{
	char num[32];
	int status;

	snprintf(num, sizeof(num), "%llu", point);
	setenv("LOG_REPLAY_POINT", num, 1);
	snprintf(num, sizeof(num), "%llu", entry);
	setenv("LOG_REPLAY_ENTRY", num, 1);
	setenv("LOG_REPLAY_KIND", kind, 1);
	setenv("LOG_REPLAY_MARK", mark, 1);
	fflush(stdout);
	status = system(cmd);
	if (status == -1)
		die("system");
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "replay", required_argument, NULL, 'r' },
		{ "start-mark", required_argument, NULL, 's' },
		{ "check", required_argument, NULL, 'c' },
		{ "check-marks", required_argument, NULL, 'm' },
		{ "list", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_path = NULL, *replay_path = NULL, *start_mark = NULL;
	const char *cmd = NULL, *mark_prefix = NULL;
	u64 writes = 0, discards = 0, flushes = 0, fuas = 0, marks = 0;
	u64 points = 0, checked = 0, bad = 0, nr_entries, magic, version, i, off;
	int list = 0, started, dirty = 0, c;
	const char *kind;
	char name[4096];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			log_path = optarg;
			break;
		case 'r':
			replay_path = optarg;
			break;
		case 's':
			start_mark = optarg;
			break;
		case 'c':
			cmd = optarg;
			break;
		case 'm':
			mark_prefix = optarg;
			break;
		case 'L':
			list = 1;
			break;
		default:
			bad_usage();
		}
	}
	if (!log_path || optind != argc || (cmd && !replay_path))
		bad_usage();
	started = !start_mark;

	log_fd = open(log_path, O_RDONLY | O_DIRECT);
	if (log_fd < 0)
		die(log_path);
	if (replay_path) {
		replay_fd = open(replay_path, O_WRONLY | O_DIRECT);
		if (replay_fd < 0)
			die(replay_path);
	}

	/* The super block is in the first 512 bytes, whatever sectorsize is */
	read_at(get_buf(512), 512, 0);
	magic = le64_at(buf, SUPER_MAGIC);
	version = le64_at(buf, SUPER_VERSION);
	if (magic != WRITE_LOG_MAGIC || version != WRITE_LOG_VERSION) {
		fprintf(stderr,
			"log-replay: %s: not a dm-log-writes log (magic %#llx, version %llu)\n",
			log_path, magic, version);
		return 2;
	}
	nr_entries = le64_at(buf, SUPER_NR_ENTRIES);
	sectorsize = le32_at(buf, SUPER_SECTORSIZE);
	if (sectorsize < 512 || sectorsize > sizeof(name) ||
	    (sectorsize & (sectorsize - 1))) {
		fprintf(stderr, "log-replay: bad sectorsize %u\n", sectorsize);
		return 2;
	}
	printf("log-replay: %s: %llu entries, sectorsize %u\n", log_path,
	       nr_entries, sectorsize);

	off = sectorsize;
	for (i = 0; i < nr_entries; i++) {
		u64 sector, nr, flags, len;

		read_at(get_buf(sectorsize), sectorsize, off);
		sector = le64_at(buf, ENTRY_SECTOR);
		nr = le64_at(buf, ENTRY_NR_SECTORS);
		flags = le64_at(buf, ENTRY_FLAGS);
		len = le64_at(buf, ENTRY_DATA_LEN);
		name[0] = '\0';
		if (flags & LOG_MARK_FLAG) {
			if (len > sectorsize - ENTRY_SIZE - 1)
				len = sectorsize - ENTRY_SIZE - 1;
			memcpy(name, (char *)buf + ENTRY_SIZE, len);
			name[len] = '\0';
		}
		off += sectorsize;
		if (list)
			printf("%llu %s%s%s%s%s sector %llu sectors %llu%s%s\n",
			       i, flags & LOG_FLUSH_FLAG ? "F" : "-",
			       flags & LOG_FUA_FLAG ? "U" : "-",
			       flags & LOG_DISCARD_FLAG ? "D" : "-",
			       flags & LOG_MARK_FLAG ? "K" : "-",
			       flags & LOG_METADATA_FLAG ? "M" : "-",
			       sector, nr, name[0] ? " mark " : "", name);

		if (flags & LOG_MARK_FLAG) {
			marks++;
			if (start_mark && !started && !strcmp(name, start_mark))
				started = 1;
		} else if (flags & LOG_DISCARD_FLAG) {
			discards++;
			if (replay_fd >= 0)
				zero_at(nr * sectorsize, sector * sectorsize);
			dirty = 1;
		} else if (nr) {
			writes++;
			if (replay_fd >= 0) {
				read_at(get_buf(nr * sectorsize),
					nr * sectorsize, off);
				write_at(buf, nr * sectorsize,
					 sector * sectorsize);
			}
			off += nr * sectorsize;
			dirty = 1;
		}
		if (flags & LOG_FLUSH_FLAG)
			flushes++;
		if (flags & LOG_FUA_FLAG)
			fuas++;

		if (flags & LOG_MARK_FLAG) {
			if (!mark_prefix ||
			    strncmp(name, mark_prefix, strlen(mark_prefix)))
				continue;
			kind = "mark";
			dirty = 1;
		} else if (flags & LOG_FLUSH_FLAG) {
			kind = "flush";
		} else if (flags & LOG_FUA_FLAG) {
			kind = "fua";
			/* Not the last of a run of FUA pieces: look ahead */
			if (i + 1 < nr_entries) {
				read_at(get_buf(sectorsize), sectorsize, off);
				if ((le64_at(buf, ENTRY_FLAGS) &
				     (LOG_FUA_FLAG | LOG_FLUSH_FLAG)) == LOG_FUA_FLAG)
					continue;
			}
		} else {
			continue;
		}
		if (!started)
			continue;
		points++;
		if (!cmd || !dirty)
			continue;
		checked++;
		dirty = 0;
		if (check_point(cmd, points, i, kind, name)) {
			bad++;
			printf("log-replay: point %llu (entry %llu, %s%s%s): inconsistent\n",
			       points, i, kind, name[0] ? " " : "", name);
		}
	}
	if (start_mark && !started) {
		fprintf(stderr, "log-replay: no mark '%s' in the log\n", start_mark);
		return 2;
	}
	printf("log-replay: %llu entries (%llu writes, %llu discards, ",
	       nr_entries, writes, discards);
	printf("%llu flushes, %llu fua, %llu marks), ", flushes, fuas, marks);
	printf("%llu points, %llu checked, %llu inconsistent\n", points, checked, bad);
	return bad ? 1 : 0;
}
