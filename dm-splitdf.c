// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-splitdf: concatenate regions ("legs") of block devices and split
 * boundary-crossing bios depth-first.
 *
 * A bio that crosses a leg boundary (or a boundary_sectors boundary) is
 * cut in two: the head is remapped to its leg, and the remainder is a
 * clone, advanced past the head, chained to the head and resubmitted to
 * this very device.  Because the block layer handles bios for lower
 * devices before bios for the same device, everything the head produces
 * is submitted before the remainder is mapped again: bio submission
 * follows a depth-first walk of the device tree, as dm core has done
 * since NeilBrown's "dm: ensure bio submission follows a depth-first tree
 * walk" (Linux 4.15).  The other split modes (see splitdf_split()) give the
 * same order without re-entering the device, or show what breaks without
 * it.  See docs/ for the table line, status and design.
 */

#include <linux/crc32.h>
#include <linux/ctype.h>
#include <linux/error-injection.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "dm-splitdf.h"

#define DM_MSG_PREFIX "splitdf"

/*
 * Clones kept in reserve for the pieces of inline and ordered mode.  They
 * are allocated without waiting, so the reserve only decides how long a
 * burst under memory pressure keeps cutting pieces before dm core splits.
 */
#define SPLITDF_MIN_CLONES	64

#define SPLITDF_MAX_LEGS	65535

/* One leg as the TABLE line gives it; IMA's legs_crc32 hashes the same */
#define SPLITDF_LEG_FMT		" %s %llu %llu"

/*
 * The longest IMA text of one leg, and the closing ';': 3 indices of 5
 * digits, a device name of 15 characters, two numbers of 20 digits.
 */
#define SPLITDF_IMA_LEG_MAX	(sizeof(",leg__device_name=,leg__offset=,leg__sectors=;") \
				 + 3 * 5 + 15 + 2 * 20)

/* Remainder completions nested directly; see splitdf_complete_parent() */
#define SPLITDF_NEST_MAX	4

/*
 * Pieces one bio may hold at once in ordered mode unless max_pieces says
 * otherwise: a 1 MiB bio (BIO_MAX_VECS pages) cut at every 4 KiB page is
 * mapped in one go, and one bio never holds more than 256 clones (about
 * 34 KiB); dm core splits off whatever lies beyond.
 */
#define SPLITDF_MAX_PIECES	256

struct splitdf_leg {
	struct dm_dev *dev;
	sector_t start;		/* first sector of the leg in the target */
	sector_t offset;	/* first sector of the leg on dev */
	sector_t len;
};

/* How a bio that crosses a boundary is split; see splitdf_split(). */
enum splitdf_mode {
	SPLITDF_CLONE,		/* clone the rest, resubmit it to this device */
	SPLITDF_CORE,		/* dm_accept_partial_bio(): dm core resubmits */
	SPLITDF_INLINE,		/* pre-4.15: every piece to its leg from .map */
	SPLITDF_ORDERED,	/* head, then every piece, to the legs from .map */
	SPLITDF_NR_MODES,
};

static const char * const splitdf_mode_names[SPLITDF_NR_MODES] = {
	[SPLITDF_CLONE]		= "clone",
	[SPLITDF_CORE]		= "core",
	[SPLITDF_INLINE]	= "inline",
	[SPLITDF_ORDERED]	= "ordered",
};

struct splitdf_stats {
	u64 mapped;		/* bios seen by .map */
	u64 crossed;		/* of those, bios that crossed a boundary */
	u64 remainders;		/* clones made: remainders or pieces */
	u64 core_splits;	/* crossing bios handed to dm core instead */
};

/*
 * Heads that still wait for their remainder, on one mapped device: each
 * holds one of the device's dm_ios, whichever of its splitdf targets (in
 * the live table or one loaded beside it) pinned it, so all of them share
 * this.  See splitdf_try_pin().
 */
struct splitdf_pins {
	struct list_head list;		/* on splitdf_all_pins */
	struct mapped_device *md;
	unsigned int users;		/* targets sharing it */
	atomic_t pinned;
	wait_queue_head_t unpinned;
	bool draining;
};

static LIST_HEAD(splitdf_all_pins);
static DEFINE_MUTEX(splitdf_pins_lock);

struct splitdf_c {
	struct gendisk *disk;	/* this dm device: where remainders go */
	struct bio_set bs;
	struct splitdf_stats __percpu *stats;
	struct splitdf_pins *pins;
	unsigned int pin_limit;	/* from max_pinned and dm's reserve */
	atomic_t peak_pinned;	/* the most pins this target saw */

	u32 boundary;		/* split every so many sectors; 0: legs only */
	u32 max_pinned;		/* 0: dm's reserve alone limits */
	u32 max_pieces;		/* 0: SPLITDF_MAX_PIECES */
	enum splitdf_mode mode;
	bool mode_given;	/* to refuse split_mode twice, even "clone" */

	unsigned int nr_flush_legs;
	unsigned int *flush_legs;	/* one leg per distinct device */

	unsigned int nr_legs;
	struct splitdf_leg legs[];
};

struct splitdf_per_bio {
	/*
	 * On splitdf_pending until the bio is completed.  Not bi_next: the
	 * head may still sit in a lower driver's request, which links its
	 * bios through bi_next.
	 */
	struct llist_node pending;
	/*
	 * While a remainder or pieces are chained to the bio: dm core's
	 * completion of it, and an error of what is chained; see
	 * splitdf_chained_endio().
	 */
	bio_end_io_t *end_io;
	blk_status_t status;
	/*
	 * Clone mode's remainder of this bio, if it crosses a boundary.  It
	 * lives here, in memory dm core allocated with the bio, because the
	 * bio cannot complete before its chained remainder has: no allocation
	 * per boundary, and nothing to wait for.  Last: struct bio ends in a
	 * flexible array.
	 */
	struct bio rest;
};

/* Parents to complete on this CPU, and how many contexts are completing */
static DEFINE_PER_CPU(struct llist_head, splitdf_pending);
static DEFINE_PER_CPU(unsigned int, splitdf_completing);

/* Construction */

/* kstrtoull() alone would take "+5"; a table line takes digits only. */
static int splitdf_parse_u64(const char *arg, u64 *val)
{
	if (!arg || !isdigit(*arg))
		return -EINVAL;
	return kstrtoull(arg, 10, val);
}

static int splitdf_parse_uint(const char *arg, unsigned int min,
			      unsigned int max, unsigned int *val)
{
	u64 v;

	if (splitdf_parse_u64(arg, &v) || v < min || v > max)
		return -EINVAL;
	*val = v;
	return 0;
}

static struct splitdf_pins *splitdf_get_pins(struct mapped_device *md)
{
	struct splitdf_pins *pins;

	mutex_lock(&splitdf_pins_lock);
	list_for_each_entry(pins, &splitdf_all_pins, list)
		if (pins->md == md)
			goto found;
	pins = kzalloc_obj(*pins, GFP_KERNEL);
	if (!pins)
		goto out;
	pins->md = md;
	init_waitqueue_head(&pins->unpinned);
	list_add(&pins->list, &splitdf_all_pins);
found:
	pins->users++;
out:
	mutex_unlock(&splitdf_pins_lock);
	return pins;
}

static void splitdf_put_pins(struct splitdf_pins *pins)
{
	mutex_lock(&splitdf_pins_lock);
	if (!--pins->users) {
		list_del(&pins->list);
		kfree(pins);
	}
	mutex_unlock(&splitdf_pins_lock);
}

static void splitdf_free(struct dm_target *ti, struct splitdf_c *sc)
{
	unsigned int i;

	for (i = 0; i < sc->nr_legs; i++)
		if (sc->legs[i].dev)
			dm_put_device(ti, sc->legs[i].dev);
	if (bioset_initialized(&sc->bs))
		bioset_exit(&sc->bs);
	if (sc->pins)
		splitdf_put_pins(sc->pins);
	free_percpu(sc->stats);
	kvfree(sc->flush_legs);
	kvfree(sc);
}

static int splitdf_check_leg(struct dm_target *ti, struct splitdf_leg *leg)
{
	struct block_device *bdev = leg->dev->bdev;

	if (leg->offset + leg->len > splitdf_bdev_sectors(bdev)) {
		ti->error = "Leg extends beyond the end of its device";
		return -EINVAL;
	}
	if (bdev_is_zoned(bdev)) {
		ti->error = "Zoned devices are not supported";
		return -EINVAL;
	}
	return 0;
}

static int splitdf_parse_leg(struct dm_target *ti, struct dm_arg_set *as,
			     struct splitdf_leg *leg, sector_t start)
{
	const char *path = dm_shift_arg(as);
	u64 offset, len;
	int r;

	if (splitdf_parse_u64(dm_shift_arg(as), &offset)) {
		ti->error = "Invalid leg offset";
		return -EINVAL;
	}
	if (splitdf_parse_u64(dm_shift_arg(as), &len)) {
		ti->error = "Invalid leg length";
		return -EINVAL;
	}
	if (!len) {
		ti->error = "Zero-length leg";
		return -EINVAL;
	}
	if (offset + len < offset) {
		ti->error = "Leg offset plus length overflows";
		return -EINVAL;
	}
	if (len > ti->len - start) {
		ti->error = "Legs are longer than the target";
		return -EINVAL;
	}

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &leg->dev);
	if (r) {
		ti->error = "Device lookup failed";
		return r;
	}
	leg->start = start;
	leg->offset = offset;
	leg->len = len;
	return splitdf_check_leg(ti, leg);
}

/*
 * dm core checks that legs are aligned to their logical blocks; a split
 * inside a leg must be too, or head and remainder both fail.
 */
static int splitdf_check_boundary(struct dm_target *ti, struct splitdf_c *sc)
{
	unsigned int i, lbs;

	for (i = 0; i < sc->nr_legs; i++) {
		lbs = bdev_logical_block_size(sc->legs[i].dev->bdev) >> SECTOR_SHIFT;
		if (sc->boundary % lbs) {
			ti->error = "boundary_sectors not aligned to a leg's logical block size";
			return -EINVAL;
		}
	}
	return 0;
}

static int splitdf_parse_legs(struct dm_target *ti, struct dm_arg_set *as,
			      struct splitdf_c *sc)
{
	sector_t start = 0;
	unsigned int i;
	int r;

	for (i = 0; i < sc->nr_legs; i++) {
		r = splitdf_parse_leg(ti, as, &sc->legs[i], start);
		if (r)
			return r;
		start += sc->legs[i].len;
	}
	if (start != ti->len) {
		ti->error = "Legs do not add up to the target length";
		return -EINVAL;
	}
	return 0;
}

static int splitdf_parse_mode(struct dm_target *ti, const char *value,
			      struct splitdf_c *sc)
{
	enum splitdf_mode mode;

	if (sc->mode_given) {
		ti->error = "Feature given twice";
		return -EINVAL;
	}
	if (!value) {
		ti->error = "Feature needs a value";
		return -EINVAL;
	}
	for (mode = 0; mode < SPLITDF_NR_MODES; mode++) {
		if (!strcasecmp(value, splitdf_mode_names[mode])) {
			sc->mode = mode;
			sc->mode_given = true;
			return 0;
		}
	}
	ti->error = "Invalid split_mode";
	return -EINVAL;
}

static int splitdf_parse_feature(struct dm_target *ti, struct dm_arg_set *fs,
				 struct splitdf_c *sc)
{
	const char *name = dm_shift_arg(fs);
	const char *value;
	u32 *field;

	if (!strcasecmp(name, "split_mode"))
		return splitdf_parse_mode(ti, dm_shift_arg(fs), sc);
	if (!strcasecmp(name, "boundary_sectors")) {
		field = &sc->boundary;
	} else if (!strcasecmp(name, "max_pinned")) {
		field = &sc->max_pinned;
	} else if (!strcasecmp(name, "max_pieces")) {
		field = &sc->max_pieces;
	} else {
		ti->error = "Unknown feature";
		return -EINVAL;
	}

	if (*field) {
		ti->error = "Feature given twice";
		return -EINVAL;
	}
	value = dm_shift_arg(fs);
	if (!value) {
		ti->error = "Feature needs a value";
		return -EINVAL;
	}
	if (splitdf_parse_uint(value, 1, UINT_MAX, field)) {
		ti->error = field == &sc->boundary ? "Invalid boundary_sectors" :
			    field == &sc->max_pinned ? "Invalid max_pinned" :
						       "Invalid max_pieces";
		return -EINVAL;
	}
	return 0;
}

static int splitdf_parse_features(struct dm_target *ti, struct dm_arg_set *as,
				  struct splitdf_c *sc)
{
	struct dm_arg_set fs;
	unsigned int nr;
	int r;

	if (!as->argc)
		return 0;
	if (splitdf_parse_uint(dm_shift_arg(as), 0, UINT_MAX, &nr)) {
		ti->error = "Invalid number of feature arguments";
		return -EINVAL;
	}
	if (nr > as->argc) {
		ti->error = "Not enough feature arguments";
		return -EINVAL;
	}
	if (nr < as->argc) {
		ti->error = "Too many arguments";
		return -EINVAL;
	}

	fs.argc = nr;
	fs.argv = as->argv;
	dm_consume_args(as, nr);
	while (fs.argc) {
		r = splitdf_parse_feature(ti, &fs, sc);
		if (r)
			return r;
	}
	/* Only clone mode keeps heads waiting for their remainders */
	if (sc->max_pinned && sc->mode != SPLITDF_CLONE) {
		ti->error = "max_pinned needs split_mode clone";
		return -EINVAL;
	}
	if (sc->max_pieces && sc->mode != SPLITDF_ORDERED) {
		ti->error = "max_pieces needs split_mode ordered";
		return -EINVAL;
	}
	return 0;
}

/*
 * An empty flush goes to every leg; a device that backs several legs
 * needs it only once.
 */
static int splitdf_init_flush_legs(struct splitdf_c *sc)
{
	unsigned int i, j;

	sc->flush_legs = kvcalloc(sc->nr_legs, sizeof(*sc->flush_legs),
				  GFP_KERNEL);
	if (!sc->flush_legs)
		return -ENOMEM;

	for (i = 0; i < sc->nr_legs; i++) {
		for (j = 0; j < sc->nr_flush_legs; j++)
			if (sc->legs[sc->flush_legs[j]].dev->bdev ==
			    sc->legs[i].dev->bdev)
				break;
		if (j == sc->nr_flush_legs)
			sc->flush_legs[sc->nr_flush_legs++] = i;
	}
	return 0;
}

static int splitdf_alloc_runtime(struct dm_target *ti, struct splitdf_c *sc)
{
	int r;

	r = splitdf_init_flush_legs(sc);
	if (r) {
		ti->error = "Cannot allocate flush map";
		return r;
	}
	sc->stats = alloc_percpu(struct splitdf_stats);
	if (!sc->stats) {
		ti->error = "Cannot allocate counters";
		return -ENOMEM;
	}
	r = bioset_init(&sc->bs, SPLITDF_MIN_CLONES, 0, 0);
	if (r) {
		ti->error = "Cannot allocate bioset";
		return r;
	}
	sc->pins = splitdf_get_pins(dm_table_get_md(ti->table));
	if (!sc->pins) {
		ti->error = "Cannot allocate pin count";
		return -ENOMEM;
	}
	return 0;
}

/*
 * Every pinned head holds a dm_io of this device until its remainder
 * completes, and each remainder needs a dm_io of its own, from the same
 * reserve of dm_mod.reserved_bio_based_ios (read here, at table load, as
 * dm core reads it to size the reserve).  While fewer heads are pinned
 * than the reserve holds, at least one of its dm_ios belongs to I/O that
 * waits for nothing of ours, so a remainder waiting for one gets it: the
 * chains make progress even when no other memory is to be had.
 */
static unsigned int splitdf_pin_limit(struct splitdf_c *sc)
{
	unsigned int limit = dm_get_reserved_bio_based_ios() - 1;

	return sc->max_pinned ? min(sc->max_pinned, limit) : limit;
}

/*
 * Construct a splitdf mapping:
 * <nr_legs> <dev> <offset> <sectors> [<dev> <offset> <sectors>]...
 * [<nr_features> [boundary_sectors <n>] [max_pinned <n>] [max_pieces <n>]
 *		   [split_mode <clone|core|inline|ordered>]]
 */
static int splitdf_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct splitdf_c *sc;
	unsigned int nr_legs;
	int r;

	if (splitdf_parse_uint(dm_shift_arg(&as), 1, SPLITDF_MAX_LEGS,
			       &nr_legs)) {
		ti->error = "Invalid number of legs";
		return -EINVAL;
	}
	if (as.argc < 3 * nr_legs) {
		ti->error = "Not enough arguments for the legs";
		return -EINVAL;
	}

	sc = kvzalloc(struct_size(sc, legs, nr_legs), GFP_KERNEL);
	if (!sc) {
		ti->error = "Cannot allocate splitdf context";
		return -ENOMEM;
	}
	sc->nr_legs = nr_legs;
	sc->disk = dm_disk(dm_table_get_md(ti->table));

	r = splitdf_parse_legs(ti, &as, sc);
	if (!r)
		r = splitdf_parse_features(ti, &as, sc);
	if (!r)
		r = splitdf_check_boundary(ti, sc);
	if (!r)
		r = splitdf_alloc_runtime(ti, sc);
	if (r) {
		splitdf_free(ti, sc);
		return r;
	}

	sc->pin_limit = splitdf_pin_limit(sc);
	ti->num_flush_bios = sc->nr_flush_legs;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct splitdf_per_bio);
	/* Ordered mode submits what it maps itself; see splitdf_submit_remap() */
	splitdf_set_accounts_remapped(ti);
	ti->private = sc;
	return 0;
}

static void splitdf_dtr(struct dm_target *ti)
{
	splitdf_free(ti, ti->private);
}

/* Mapping */

static struct splitdf_leg *splitdf_find_leg(struct splitdf_c *sc,
					    sector_t offset)
{
	unsigned int lo = 0, hi = sc->nr_legs - 1;

	while (lo < hi) {
		unsigned int mid = hi - (hi - lo) / 2;

		if (sc->legs[mid].start <= offset)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &sc->legs[lo];
}

/* Sectors from @offset up to the next boundary_sectors boundary. */
static sector_t splitdf_chunk_left(struct splitdf_c *sc, sector_t offset)
{
	/* Every bio asks: spare it the 64-bit division where we can */
	if (is_power_of_2(sc->boundary))
		return sc->boundary - (offset & (sc->boundary - 1));
	return sc->boundary - sector_div(offset, sc->boundary);
}

/* Sectors from @offset up to the next leg or boundary_sectors boundary. */
static sector_t splitdf_head_sectors(struct splitdf_c *sc,
				     struct splitdf_leg *leg, sector_t offset)
{
	sector_t head = leg->start + leg->len - offset;

	if (sc->boundary)
		head = min_t(sector_t, head, splitdf_chunk_left(sc, offset));
	return head;
}

static void splitdf_note_peak(struct splitdf_c *sc, int pinned)
{
	int peak = atomic_read(&sc->peak_pinned);

	while (pinned > peak &&
	       !atomic_try_cmpxchg(&sc->peak_pinned, &peak, pinned))
		;
}

static void splitdf_unpin(struct splitdf_pins *pins)
{
	/*
	 * atomic_dec_and_test() is fully ordered: it stands for the barrier
	 * wq_has_sleeper() would add before looking at the wait queue.
	 */
	if (atomic_dec_and_test(&pins->pinned) && waitqueue_active(&pins->unpinned))
		wake_up(&pins->unpinned);
}

/*
 * Account for one more head that will wait for its remainder, unless the
 * device is draining for suspend or the pin limit is reached.  The
 * increment is fully ordered, so either splitdf_presuspend() sees it and
 * waits, or this sees ->draining and lets dm core split instead.
 */
static bool splitdf_try_pin(struct splitdf_c *sc)
{
	struct splitdf_pins *pins = sc->pins;
	int pinned = atomic_inc_return(&pins->pinned);

	if (likely(!READ_ONCE(pins->draining)) && pinned <= sc->pin_limit) {
		splitdf_note_peak(sc, pinned);
		return true;
	}
	splitdf_unpin(pins);
	return false;
}

static void splitdf_complete_pending(void)
{
	struct splitdf_per_bio *pb, *next;
	struct llist_node *list;

	while ((list = llist_del_all(this_cpu_ptr(&splitdf_pending))))
		llist_for_each_entry_safe(pb, next, llist_reverse_order(list),
					  pending)
			bio_endio(dm_bio_from_per_bio_data(pb, sizeof(*pb)));
}

/*
 * A chain of K remainders completes from the inside out: the last
 * remainder completes its parent, whose dm_io completes the remainder
 * before it, and so on, each step nested in dm core's clone_endio().  A
 * 1 MiB bio split every 7 sectors overflowed the 16 KiB stack that way.
 * So completions on one CPU count how deep they nest: the first
 * SPLITDF_NEST_MAX levels complete their parent directly, deeper ones
 * queue it per CPU, and the outermost completion on that CPU completes the
 * queue in a loop.  The stack never holds more than SPLITDF_NEST_MAX + 1
 * levels whatever the chain's length, and short chains (most bios cross
 * one or two boundaries) never touch the queue.
 *
 * The last context out rechecks the queue, so nothing is left behind.  A
 * context that preempts the loop (migrate_disable() keeps the loop on its
 * CPU but lets others run there) leaves its parent for the loop to complete
 * when it runs again: later, never lost.  @parent is always a bio our .map
 * was given, so it has our per-bio data.
 */
static void splitdf_complete_parent(struct bio *parent)
{
	struct splitdf_per_bio *pb = dm_per_bio_data(parent, sizeof(*pb));
	unsigned int depth;

	migrate_disable();
	depth = this_cpu_inc_return(splitdf_completing);
	if (depth <= SPLITDF_NEST_MAX)
		bio_endio(parent);
	else
		llist_add(&pb->pending, this_cpu_ptr(&splitdf_pending));
	if (depth == 1)
		splitdf_complete_pending();
	while (!this_cpu_dec_return(splitdf_completing) &&
	       !llist_empty(this_cpu_ptr(&splitdf_pending)))
		if (this_cpu_inc_return(splitdf_completing) == 1)
			splitdf_complete_pending();
	migrate_enable();
}

/*
 * The completion of a bio with a remainder or pieces chained to it, once
 * they and the head have all completed.  Their errors wait in the per-bio
 * data, not in the head's bi_status, as dm core keeps its clones' errors
 * in their dm_io: the head may still be at its leg, and a bio-based driver
 * may set bi_status as it completes a bio, success included (null_blk's
 * bio mode on 6.1, bcache), erasing an error written there before.
 */
static void splitdf_chained_endio(struct bio *bio)
{
	struct splitdf_per_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	if (unlikely(pb->status) &&
	    (pb->status != BLK_STS_AGAIN || !bio->bi_status))
		bio->bi_status = pb->status;
	bio->bi_end_io = pb->end_io;
	bio->bi_end_io(bio);
}

/* Before anything is chained to @bio; see splitdf_chained_endio(). */
static void splitdf_hook_endio(struct bio *bio)
{
	struct splitdf_per_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	pb->status = BLK_STS_OK;
	pb->end_io = bio->bi_end_io;
	bio->bi_end_io = splitdf_chained_endio;
}

/*
 * Any error of what is chained fails the bio, but BLK_STS_AGAIN (a
 * REQ_NOWAIT piece that would block) never replaces a hard error: the
 * submitter would retry instead of failing.
 */
static void splitdf_keep_error(struct bio *parent, blk_status_t status)
{
	struct splitdf_per_bio *pb = dm_per_bio_data(parent, sizeof(*pb));

	if (unlikely(status) &&
	    (status != BLK_STS_AGAIN || !READ_ONCE(pb->status)))
		WRITE_ONCE(pb->status, status);
}

/*
 * What bio_chain_endio() does, in constant stack however long the chain.
 * The remainder is done with this device, so its head stops pinning the
 * device for suspend here, not when the head itself completes.
 */
static void splitdf_rest_endio(struct bio *rest)
{
	struct splitdf_per_bio *pb = container_of(rest, struct splitdf_per_bio,
						  rest);
	struct bio *parent = dm_bio_from_per_bio_data(pb, sizeof(*pb));
	struct splitdf_c *sc = rest->bi_private;

	splitdf_keep_error(parent, rest->bi_status);
	bio_uninit(rest);
	splitdf_unpin(sc->pins);
	splitdf_complete_parent(parent);
}

/* What bio_chain_endio() does, but for the error; see above. */
static void splitdf_piece_endio(struct bio *piece)
{
	struct bio *parent = piece->bi_private;

	splitdf_keep_error(parent, piece->bi_status);
	bio_put(piece);
	bio_endio(parent);
}

static void splitdf_chain_piece(struct bio *piece, struct bio *bio)
{
	piece->bi_private = bio;
	piece->bi_end_io = splitdf_piece_endio;
	bio_inc_remaining(bio);
}

/*
 * A clone of @bio for a piece.  Never waits for the pool: pieces already
 * cut hold clones until the bio completes, so waiting could wait on
 * ourselves.  Submitted unpolled, as nothing polls for it.
 *
 * Not inlined, and open to fail_function, so that tests can take the
 * no-clone path on demand: the mempool's reserve hides failslab from it.
 */
static noinline struct bio *splitdf_clone_piece(struct splitdf_c *sc,
						struct bio *bio)
{
	struct bio *clone = splitdf_clone_bio(bio, GFP_NOWAIT, &sc->bs);

	if (clone)
		splitdf_clear_polled(clone);
	return clone;
}
ALLOW_ERROR_INJECTION(splitdf_clone_piece, NULL);

static sector_t splitdf_leg_sector(struct splitdf_leg *leg, sector_t offset)
{
	return leg->offset + (offset - leg->start);
}

static void splitdf_remap(struct bio *bio, struct splitdf_leg *leg,
			  sector_t offset)
{
	bio_set_dev(bio, leg->dev->bdev);
	bio->bi_iter.bi_sector = splitdf_leg_sector(leg, offset);
}

/*
 * The clone of @bio that will carry its remainder, in @bio's per-bio data.
 * Only copying an encryption context or integrity payload can fail (it
 * does not wait).  Open to fail_function like splitdf_clone_piece(), to
 * force dm core's split on demand.
 */
static noinline struct bio *splitdf_make_rest(struct splitdf_c *sc,
					      struct bio *bio)
{
	struct splitdf_per_bio *pb = dm_per_bio_data(bio, sizeof(*pb));

	if (!splitdf_init_clone(&pb->rest, bio, sc->disk))
		return NULL;
	return &pb->rest;
}
ALLOW_ERROR_INJECTION(splitdf_make_rest, NULL);

/*
 * Keep the first @head sectors of @bio and send the rest back to this
 * device as a chained clone.  The clone is queued on current->bio_list
 * behind the bios for lower devices, so it is mapped only after the head
 * and all it produces have been submitted.
 *
 * The clone is chained to @bio as bio_chain() would chain it (@bio
 * completes only when both have), but completes through
 * splitdf_rest_endio(), which bounds how deep chains nest on the stack.
 *
 * The clone is @bio's own per-bio data, so it needs no memory but what
 * dm core allocated with @bio (only an encryption context or integrity
 * payload is copied, without waiting), and nothing on this path waits on
 * a chain still in flight.  When the clone cannot be made, the caller lets
 * dm core split instead; core resubmits the original bio itself, so the
 * map path always makes progress without a rescuer thread.
 */
static bool splitdf_resubmit_remainder(struct splitdf_c *sc, struct bio *bio,
				       sector_t head)
{
	struct bio *rest;

	/*
	 * Outside submit_bio, resubmission would recurse.  dm core maps only
	 * from there (its deferred work resubmits with submit_bio_noacct()),
	 * so this only guards.
	 */
	if (!current->bio_list)
		return false;
	rest = splitdf_make_rest(sc, bio);
	if (!rest)
		return false;

	splitdf_clear_polled(rest);
	/*
	 * Its bytes were counted for the cgroup, and throttled on this device,
	 * with the original bio.
	 */
	bio_set_flag(rest, BIO_CGROUP_ACCT);
	splitdf_set_throttled(rest);
	bio_advance(rest, head << SECTOR_SHIFT);
	splitdf_hook_endio(bio);
	bio_inc_remaining(bio);
	rest->bi_private = sc;
	rest->bi_end_io = splitdf_rest_endio;
	bio_trim(bio, 0, head);
	/* Charged to the original bio's cgroup, not to the current task's */
	splitdf_submit_remap(bio, rest);
	return true;
}

static bool splitdf_split_clone(struct splitdf_c *sc, struct bio *bio,
				sector_t head)
{
	if (!splitdf_try_pin(sc))
		return false;
	if (!splitdf_resubmit_remainder(sc, bio, head)) {
		splitdf_unpin(sc->pins);
		return false;
	}
	this_cpu_inc(sc->stats->remainders);
	return true;
}

/*
 * A clone of the part of @bio at @iter that stays within one leg and one
 * chunk, remapped to that leg; @offset is where it starts in the target.
 * Advances @iter past it, so that cutting a bio into K pieces walks its
 * pages once, not K times as bio_trim() from the start would.
 */
static struct bio *splitdf_leg_piece(struct splitdf_c *sc, struct bio *bio,
				     struct bvec_iter *iter, sector_t offset)
{
	struct splitdf_leg *leg = splitdf_find_leg(sc, offset);
	struct bio *piece;
	unsigned int bytes;

	piece = splitdf_clone_piece(sc, bio);
	if (!piece)
		return NULL;
	bytes = min_t(sector_t, splitdf_head_sectors(sc, leg, offset),
		      bvec_iter_sectors(*iter)) << SECTOR_SHIFT;
	piece->bi_iter = *iter;
	piece->bi_iter.bi_size = bytes;
	bio_advance_iter(bio, iter, bytes);
	splitdf_set_clone_dev(piece, leg->dev->bdev);
	piece->bi_iter.bi_sector = splitdf_leg_sector(leg, offset);
	return piece;
}

/*
 * Cut @bio, which starts at @offset in the target, into at most @max
 * pieces from @head on, each within one leg and chunk and remapped there.
 * Stops early when no clone is to be had without waiting.  Returns how far
 * into @bio the head and the pieces on @pieces reach.
 *
 * splitdf passes no integrity profile up (no DM_TARGET_PASSES_INTEGRITY),
 * so bios carry no integrity payload here; one that did would need it
 * advanced with every piece, so no piece is cut from it: all after the head
 * is left to dm core.
 */
static sector_t splitdf_cut_pieces(struct splitdf_c *sc, struct bio *bio,
				   sector_t offset, sector_t head,
				   unsigned int max, struct bio_list *pieces)
{
	struct bvec_iter iter = bio->bi_iter;
	struct bio *piece;

	if (unlikely(bio_integrity(bio)))
		return head;
	bio_advance_iter(bio, &iter, head << SECTOR_SHIFT);
	while (iter.bi_size && max--) {
		piece = splitdf_leg_piece(sc, bio, &iter,
					  offset + bio_sectors(bio) -
					  bvec_iter_sectors(iter));
		if (!piece)
			break;
		bio_list_add(pieces, piece);
	}
	return bio_sectors(bio) - bvec_iter_sectors(iter);
}

static void splitdf_put_pieces(struct bio_list *pieces)
{
	struct bio *piece;

	while ((piece = bio_list_pop(pieces)))
		bio_put(piece);
}

/*
 * The pre-4.15 way, kept only to compare against: every piece after the
 * head goes straight to its leg from .map, before dm core has submitted
 * the head.  A bio crossing K boundaries holds K clones at once, and the
 * pieces reach the devices below ahead of anything the head produces:
 * breadth-first, the order behind the snapshot-origin deadlock in the
 * thread that led to depth-first splitting.  All pieces are allocated
 * before any is sent, so a failed allocation leaves dm core to split.
 */
static bool splitdf_split_inline(struct splitdf_c *sc, struct bio *bio,
				 sector_t offset, sector_t head)
{
	struct bio_list pieces;
	struct bio *piece;

	if (!current->bio_list)
		return false;

	bio_list_init(&pieces);
	if (splitdf_cut_pieces(sc, bio, offset, head, UINT_MAX, &pieces) <
	    bio_sectors(bio)) {
		splitdf_put_pieces(&pieces);
		return false;
	}

	splitdf_hook_endio(bio);
	bio_list_for_each(piece, &pieces)
		splitdf_chain_piece(piece, bio);
	/* Charged to the original bio's cgroup, as the head will be */
	while ((piece = bio_list_pop(&pieces))) {
		splitdf_submit_remap(bio, piece);
		this_cpu_inc(sc->stats->remainders);
	}
	bio_trim(bio, 0, head);
	return true;
}

/*
 * Depth-first without re-entering this device: the head and then every
 * piece, in address order, go to their legs from .map.  The block layer
 * runs all that the head produces below before it takes the next piece
 * (__submit_bio_noacct() puts bios for lower devices in front of what was
 * pending), so each piece is mapped only after the walk below the one
 * before it: the depth-first order of clone mode, with no remainder queued
 * on this device and no head pinned.
 *
 * Every piece is chained to @bio before anything is submitted, so @bio
 * cannot complete while pieces are still to go.  The pieces complete as
 * siblings, each straight into @bio: constant stack however many there
 * are.  What max_pieces or a failed
 * GFP_NOWAIT clone leaves over goes back to dm core, while @bio still has
 * its full size, as dm_accept_partial_bio() requires.
 */
static int splitdf_split_ordered(struct splitdf_c *sc, struct bio *bio,
				 struct splitdf_leg *leg, sector_t offset,
				 sector_t head)
{
	struct bio_list pieces;
	struct bio *piece;
	sector_t done;

	bio_list_init(&pieces);
	done = splitdf_cut_pieces(sc, bio, offset, head,
				  sc->max_pieces ?: SPLITDF_MAX_PIECES, &pieces);
	if (done < bio_sectors(bio)) {
		dm_accept_partial_bio(bio, done);
		this_cpu_inc(sc->stats->core_splits);
	}
	if (!bio_list_empty(&pieces))
		splitdf_hook_endio(bio);
	bio_list_for_each(piece, &pieces)
		splitdf_chain_piece(piece, bio);
	bio_trim(bio, 0, head);
	splitdf_remap(bio, leg, offset);

	splitdf_submit_remap(bio, NULL);
	while ((piece = bio_list_pop(&pieces))) {
		splitdf_submit_remap(bio, piece);
		this_cpu_inc(sc->stats->remainders);
	}
	return DM_MAPIO_SUBMITTED;
}

/*
 * @bio starts at @offset in the target and crosses a boundary after @head.
 *
 * A REQ_NOWAIT bio is split like any other, as dm core splits one across
 * targets: nothing here waits (clones are GFP_NOWAIT), the pieces keep
 * REQ_NOWAIT, and a piece that would block below fails with BLK_STS_AGAIN,
 * failing the whole bio, which the submitter retries.  Refusing to split
 * instead sent io_uring's every crossing bio through an io-wq retry.
 */
static int splitdf_split(struct splitdf_c *sc, struct bio *bio,
			 struct splitdf_leg *leg, sector_t offset,
			 sector_t head)
{
	bool split = false;

	this_cpu_inc(sc->stats->crossed);

	if (unlikely(splitdf_bio_is_atomic(bio)))
		return DM_MAPIO_KILL;

	if (sc->mode == SPLITDF_ORDERED)
		return splitdf_split_ordered(sc, bio, leg, offset, head);
	if (sc->mode == SPLITDF_CLONE)
		split = splitdf_split_clone(sc, bio, head);
	else if (sc->mode == SPLITDF_INLINE)
		split = splitdf_split_inline(sc, bio, offset, head);

	if (!split) {
		dm_accept_partial_bio(bio, head);
		this_cpu_inc(sc->stats->core_splits);
	}
	return DM_MAPIO_REMAPPED;
}

static int splitdf_map_flush(struct splitdf_c *sc, struct bio *bio)
{
	unsigned int nr = dm_bio_get_target_bio_nr(bio);

	bio_set_dev(bio, sc->legs[sc->flush_legs[nr]].dev->bdev);
	return DM_MAPIO_REMAPPED;
}

static int splitdf_map(struct dm_target *ti, struct bio *bio)
{
	struct splitdf_c *sc = ti->private;
	struct splitdf_leg *leg;
	sector_t offset, head;
	int r;

	this_cpu_inc(sc->stats->mapped);

	if (bio->bi_opf & REQ_PREFLUSH)
		return splitdf_map_flush(sc, bio);

	offset = dm_target_offset(ti, bio->bi_iter.bi_sector);
	leg = splitdf_find_leg(sc, offset);
	head = splitdf_head_sectors(sc, leg, offset);
	if (unlikely(head < bio_sectors(bio))) {
		r = splitdf_split(sc, bio, leg, offset, head);
		if (r != DM_MAPIO_REMAPPED)
			return r;
	}

	splitdf_remap(bio, leg, offset);
	return DM_MAPIO_REMAPPED;
}

/* Suspend */

/*
 * A remainder is a bio of its own to this device while the head it is
 * chained to sits in a dm_io that suspend waits for.  Once dm core blocks
 * I/O for suspend it would queue the remainder and wait for the head
 * forever.  So, before core blocks I/O, stop making remainders (dm core
 * splits meanwhile) and wait until every chain made so far has completed.
 *
 * Only clone mode pins heads; in every other mode this returns at once.
 * Ordered and inline pieces go to the legs and never come back to this
 * device, so the dm_io they hold completes without anything queued here,
 * and dm core's own wait for in-flight I/O is all a suspend needs.  That
 * is also why those modes survive dm_internal_suspend_fast() (dm-stats,
 * snapshot resume), which calls no target hook at all.
 *
 * A remainder can be stuck below (on a suspended leg), so the wait of a
 * user's suspend gives way to a signal, as dm core's own wait for
 * in-flight I/O in dm_suspend() does: dm core then finds the pinned head
 * still in flight, fails the suspend and undoes this with
 * splitdf_resume().  dm core's wait succeeds only when no I/O is in
 * flight, and so no head pinned, whether this wait ended or not.  A
 * noflush suspend waits to the end: dm's internal suspends (thin-pool's
 * of its thin devices) are noflush and wait uninterruptibly for in-flight
 * I/O, which a remainder queued behind the suspend would never let end.
 */
static void splitdf_presuspend(struct dm_target *ti)
{
	struct splitdf_pins *pins = ((struct splitdf_c *)ti->private)->pins;

	WRITE_ONCE(pins->draining, true);
	/* Pairs with the ordered increment in splitdf_try_pin() */
	smp_mb();
	if (dm_noflush_suspending(ti))
		wait_event(pins->unpinned, !atomic_read(&pins->pinned));
	else
		wait_event_interruptible(pins->unpinned,
					 !atomic_read(&pins->pinned));
}

static void splitdf_resume(struct dm_target *ti)
{
	struct splitdf_pins *pins = ((struct splitdf_c *)ti->private)->pins;

	WRITE_ONCE(pins->draining, false);
}

/* Status and messages */

static void splitdf_sum_stats(struct splitdf_c *sc, struct splitdf_stats *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct splitdf_stats *s = per_cpu_ptr(sc->stats, cpu);

		sum->mapped += READ_ONCE(s->mapped);
		sum->crossed += READ_ONCE(s->crossed);
		sum->remainders += READ_ONCE(s->remainders);
		sum->core_splits += READ_ONCE(s->core_splits);
	}
}

static void splitdf_reset_stats(struct splitdf_c *sc)
{
	int cpu;

	for_each_possible_cpu(cpu)
		memset(per_cpu_ptr(sc->stats, cpu), 0, sizeof(struct splitdf_stats));
	atomic_set(&sc->peak_pinned, atomic_read(&sc->pins->pinned));
}

/* The INFO counters: bare for status, labelled for the counters message. */
static void splitdf_emit_counters(struct splitdf_c *sc, bool labelled,
				  char *result, unsigned int maxlen)
{
	int pinned = atomic_read(&sc->pins->pinned);
	int peak = atomic_read(&sc->peak_pinned);
	struct splitdf_stats sum;
	unsigned int sz = 0;

	splitdf_sum_stats(sc, &sum);
	if (!labelled) {
		DMEMIT("%llu %llu %llu %llu %d %d", sum.mapped, sum.crossed,
		       sum.remainders, sum.core_splits, pinned, peak);
		return;
	}
	DMEMIT("mapped=%llu crossed=%llu remainders=%llu core_splits=%llu pinned=%d peak_pinned=%d",
	       sum.mapped, sum.crossed, sum.remainders, sum.core_splits,
	       pinned, peak);
}

static unsigned int splitdf_nr_feature_args(struct splitdf_c *sc)
{
	return (sc->boundary ? 2 : 0) + (sc->max_pinned ? 2 : 0) +
	       (sc->max_pieces ? 2 : 0) + (sc->mode != SPLITDF_CLONE ? 2 : 0);
}

static void splitdf_emit_table(struct splitdf_c *sc, char *result,
			       unsigned int maxlen)
{
	unsigned int i, sz = 0;

	DMEMIT("%u", sc->nr_legs);
	for (i = 0; i < sc->nr_legs; i++)
		DMEMIT(SPLITDF_LEG_FMT, sc->legs[i].dev->name,
		       (unsigned long long)sc->legs[i].offset,
		       (unsigned long long)sc->legs[i].len);

	if (!splitdf_nr_feature_args(sc))
		return;
	DMEMIT(" %u", splitdf_nr_feature_args(sc));
	if (sc->boundary)
		DMEMIT(" boundary_sectors %u", sc->boundary);
	if (sc->max_pinned)
		DMEMIT(" max_pinned %u", sc->max_pinned);
	if (sc->max_pieces)
		DMEMIT(" max_pieces %u", sc->max_pieces);
	if (sc->mode != SPLITDF_CLONE)
		DMEMIT(" split_mode %s", splitdf_mode_names[sc->mode]);
}

/*
 * zlib's CRC-32 of the legs as the TABLE line gives them (" <dev> <offset>
 * <sectors>" each), so that a verifier can compute it from the table.
 */
static u32 splitdf_legs_crc32(struct splitdf_c *sc)
{
	char leg[64];
	u32 crc = ~0;
	unsigned int i;
	int len;

	for (i = 0; i < sc->nr_legs; i++) {
		len = scnprintf(leg, sizeof(leg), SPLITDF_LEG_FMT,
				sc->legs[i].dev->name,
				(unsigned long long)sc->legs[i].offset,
				(unsigned long long)sc->legs[i].len);
		crc = crc32_le(crc, leg, len);
	}
	return ~crc;
}

static void splitdf_emit_ima(struct dm_target *ti, char *result,
			     unsigned int maxlen)
{
	struct splitdf_c *sc = ti->private;
	unsigned int i, sz = 0;

	DMEMIT("target_name=%s,target_version=%u.%u.%u,", ti->type->name,
	       ti->type->version[0], ti->type->version[1], ti->type->version[2]);
	DMEMIT("boundary_sectors=%u,max_pinned=%u,max_pieces=%u,split_mode=%s,",
	       sc->boundary, sc->max_pinned, sc->max_pieces,
	       splitdf_mode_names[sc->mode]);
	DMEMIT("nr_legs=%u,legs_crc32=%08x", sc->nr_legs, splitdf_legs_crc32(sc));
	/*
	 * dm's buffer holds about 28 legs: the record measures those that
	 * fit and stays well-formed; legs_crc32 stands for all of them.
	 */
	for (i = 0; i < sc->nr_legs && maxlen - sz > SPLITDF_IMA_LEG_MAX; i++)
		DMEMIT(",leg_%u_device_name=%s,leg_%u_offset=%llu,leg_%u_sectors=%llu",
		       i, sc->legs[i].dev->name,
		       i, (unsigned long long)sc->legs[i].offset,
		       i, (unsigned long long)sc->legs[i].len);
	DMEMIT(";");
}

static void splitdf_status(struct dm_target *ti, status_type_t type,
			   unsigned int status_flags, char *result,
			   unsigned int maxlen)
{
	struct splitdf_c *sc = ti->private;

	if (type == STATUSTYPE_INFO)
		splitdf_emit_counters(sc, false, result, maxlen);
	else if (type == STATUSTYPE_TABLE)
		splitdf_emit_table(sc, result, maxlen);
	else if (splitdf_status_is_ima(type))
		splitdf_emit_ima(ti, result, maxlen);
}

static int splitdf_message(struct dm_target *ti, unsigned int argc,
			   char **argv, char *result, unsigned int maxlen)
{
	struct splitdf_c *sc = ti->private;

	if (argc == 1 && !strcasecmp(argv[0], "reset_counters")) {
		splitdf_reset_stats(sc);
		return 0;
	}
	if (argc == 1 && !strcasecmp(argv[0], "counters")) {
		splitdf_emit_counters(sc, true, result, maxlen);
		return 1;
	}
	DMWARN("Unrecognised message received");
	return -EINVAL;
}

static int splitdf_iterate_devices(struct dm_target *ti,
				   iterate_devices_callout_fn fn, void *data)
{
	struct splitdf_c *sc = ti->private;
	unsigned int i;
	int r = 0;

	for (i = 0; i < sc->nr_legs && !r; i++)
		r = fn(ti, sc->legs[i].dev, sc->legs[i].offset,
		       sc->legs[i].len, data);
	return r;
}

static struct target_type splitdf_target = {
	.name		 = "splitdf",
	.version	 = { SPLITDF_VERSION_MAJOR, SPLITDF_VERSION_MINOR,
			     SPLITDF_VERSION_PATCH },
	.features	 = DM_TARGET_NOWAIT,
	.module		 = THIS_MODULE,
	.ctr		 = splitdf_ctr,
	.dtr		 = splitdf_dtr,
	.map		 = splitdf_map,
	.presuspend	 = splitdf_presuspend,
	.presuspend_undo = splitdf_resume,
	.resume		 = splitdf_resume,
	.status		 = splitdf_status,
	.message	 = splitdf_message,
	.iterate_devices = splitdf_iterate_devices,
};

static int __init dm_splitdf_init(void)
{
	return dm_register_target(&splitdf_target);
}

static void __exit dm_splitdf_exit(void)
{
	dm_unregister_target(&splitdf_target);
}

module_init(dm_splitdf_init);
module_exit(dm_splitdf_exit);

MODULE_DESCRIPTION(DM_NAME " target splitting boundary-crossing bios depth-first");
MODULE_AUTHOR("dm-splitdf developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(SPLITDF_VERSION);
