/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-splitdf: version and the one compatibility layer for the kernels
 * it builds on (5.10 and later).  Everything that differs between kernel
 * releases is wrapped here, so dm-splitdf.c reads like an in-tree target
 * of the newest kernel.
 */
#ifndef DM_SPLITDF_H
#define DM_SPLITDF_H

#include <linux/bio.h>
#include <linux/blk-crypto.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/version.h>

/* The single source of the version: Makefile and dkms.conf read it here. */
#define SPLITDF_VERSION_MAJOR	1
#define SPLITDF_VERSION_MINOR	3
#define SPLITDF_VERSION_PATCH	0
#define SPLITDF_VERSION		"1.3.0"

/*
 * The only place that reads the kernel version: an out-of-tree module has
 * no other way to tell 5.10 from 7.x where the headers give no macro.
 */
#define SPLITDF_KERNEL_AT_LEAST(a, b, c) \
	(KERNEL_VERSION(a, b, c) <= LINUX_VERSION_CODE)

#if !SPLITDF_KERNEL_AT_LEAST(5, 10, 0)
#error "dm-splitdf needs Linux 5.10 or later"
#endif

/* bio_integrity() moved out of bio.h in 6.11 */
#if SPLITDF_KERNEL_AT_LEAST(6, 11, 0)
#include <linux/bio-integrity.h>
#endif

/*
 * Clone @bio for the caller to point at a leg (splitdf_set_clone_dev()).
 * From 5.18 it has no device yet, as dm core's own clones, and
 * dm_submit_bio_remap() gives it the cgroup of the bio submitted to this
 * device; before, a fast clone inherits its source's, which is that one's.
 */
static inline struct bio *splitdf_clone_bio(struct bio *bio, gfp_t gfp,
					    struct bio_set *bs)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 18, 0)
	return bio_alloc_clone(NULL, bio, gfp, bs);
#else
	return bio_clone_fast(bio, gfp, bs);
#endif
}

/*
 * Point @clone, a clone the target made, at @bdev.  From 5.18 as dm core
 * points its own clones, with no cgroup lookup for the current task:
 * dm_submit_bio_remap() gives it the original bio's cgroup when it is
 * submitted.  Before, bio_set_dev() moves the cgroup it inherited from its
 * source to @bdev's queue.
 */
static inline void splitdf_set_clone_dev(struct bio *clone,
					 struct block_device *bdev)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 18, 0)
	clone->bi_bdev = bdev;
#else
	bio_set_dev(clone, bdev);
#endif
}

/*
 * Make @rest, memory of the caller's, a clone of @bio for the whole dm
 * device @disk, sharing @bio's pages.  Without waiting for memory: fails
 * only if an encryption context or integrity payload cannot be copied at
 * once, and before 5.18 (no bio_init_clone()) whenever there is one.
 */
static inline bool splitdf_init_clone(struct bio *rest, struct bio *bio,
				      struct gendisk *disk)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 18, 0)
	if (bio_init_clone(NULL, rest, bio, GFP_NOWAIT))
		return false;
	splitdf_set_clone_dev(rest, disk->part0);
	return true;
#else
	if (bio_has_crypt_ctx(bio) || bio_integrity(bio))
		return false;
	bio_init(rest, NULL, 0);
	__bio_clone_fast(rest, bio);
#if SPLITDF_KERNEL_AT_LEAST(5, 12, 0)
	bio_set_dev(rest, disk->part0);
#else
	rest->bi_disk = disk;
	rest->bi_partno = 0;
#endif
	return true;
#endif
}

/* The typed allocator of the newest kernels, by hand where it is missing. */
#ifndef kzalloc_obj
#define kzalloc_obj(P, GFP)	kzalloc(sizeof(P), GFP)
#endif

/*
 * dm core's reserve of dm_ios per bio-based device (dm_mod's
 * reserved_bio_based_ios): exported by dm-mod since 3.x, but declared only
 * in drivers/md/dm.h, which no header package ships.
 */
unsigned int dm_get_reserved_bio_based_ios(void);

/* @bio passed this device's throttling already, in the bio it came from. */
static inline void splitdf_set_throttled(struct bio *bio)
{
#if SPLITDF_KERNEL_AT_LEAST(6, 0, 0)
	bio_set_flag(bio, BIO_BPS_THROTTLED);
#else
	bio_set_flag(bio, BIO_THROTTLED);
#endif
}

static inline sector_t splitdf_bdev_sectors(struct block_device *bdev)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 15, 0)
	return bdev_nr_sectors(bdev);
#else
	return i_size_read(bdev->bd_inode) >> SECTOR_SHIFT;
#endif
}

/* An atomic write must reach the medium whole or not at all. */
static inline bool splitdf_bio_is_atomic(const struct bio *bio)
{
#ifdef REQ_ATOMIC
	return bio->bi_opf & REQ_ATOMIC;
#else
	return false;
#endif
}

/*
 * A remainder completes by interrupt: its submitter polls the original
 * bio, never the remainder, so polling it would spin on nothing.  On 6.1
 * bio_clear_polled() also drops REQ_ALLOC_CACHE, which a bio completed by
 * interrupt must not carry (bio_put() would cache it from IRQ context).
 */
static inline void splitdf_clear_polled(struct bio *bio)
{
#ifdef REQ_POLLED
	bio_clear_polled(bio);
#else
	bio->bi_opf &= ~REQ_HIPRI;
#endif
}

static inline bool splitdf_status_is_ima(status_type_t type)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 15, 0)
	return type == STATUSTYPE_IMA;
#else
	return false;
#endif
}

/*
 * Submit @tgt_clone (or @clone itself when NULL), a bio made from the dm
 * clone @clone.  From 5.18 dm core gives it the cgroup of the bio
 * submitted to the dm device and lets the target account the I/O when it
 * submits it (accounts_remapped_io); before, a clone inherited the cgroup
 * of its source, and dm core accounted the I/O when .map returned.
 */
static inline void splitdf_submit_remap(struct bio *clone,
					struct bio *tgt_clone)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 18, 0)
	dm_submit_bio_remap(clone, tgt_clone);
#else
	submit_bio_noacct(tgt_clone ?: clone);
#endif
}

static inline void splitdf_set_accounts_remapped(struct dm_target *ti)
{
#if SPLITDF_KERNEL_AT_LEAST(5, 18, 0)
	ti->accounts_remapped_io = true;
#endif
}

#ifndef DM_TARGET_NOWAIT
#define DM_TARGET_NOWAIT	0
#endif

#endif /* DM_SPLITDF_H */
