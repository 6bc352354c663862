// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-model2017: a TEST-ONLY model of the dm-snapshot locking of Linux 4.14,
 * for tests/cases/100-deadlock-class.sh.  Never load it anywhere else.
 *
 * The seed thread (tests' docs/design.md, "The 2017 deadlock class") has
 * Mikulas Patocka's deadlock: a bio A crosses a dm device's boundary
 * between a linear and a snapshot target; dm core maps both halves inside
 * the one dm_make_request() call, B for the linear target and C for the
 * snapshot target, where snapshot_map() calls track_chunk() for C; both are
 * queued on current->bio_list.  B is taken first and reaches something that
 * takes the snapshot lock, while kcopyd's pending_complete() holds that lock
 * with down_write() and, in __check_for_conflicting_io(), waits for C to
 * complete.  C sits on the same task's bio list behind B: nothing moves.
 *
 * Since 5.2 (Nikos Tsironis' locking rework) pending_complete() waits for
 * tracked I/O with no lock held, so no current dm-snapshot can show it.
 * This module keeps the three ingredients of 4.14 and nothing else:
 *
 * "track2017 <dev> <offset>": linear, and a read submitted for it is
 *   tracked from the moment it is submitted (a kprobe on submit_bio_noacct)
 *   until its clone completes (.end_io).  That moment is the point: in 4.14,
 *   dm core called snapshot_map(), and so track_chunk(), inside the
 *   splitting call, before C was queued on current->bio_list.  A dm target
 *   whose .map tracks would track only when the bio is taken off the list,
 *   which is exactly the deadlock-free order.  Only reads are tracked, as
 *   track_chunk() was only called for reads (writes waited for the copy).
 *
 * "lock2017 <dev> <offset>": linear, whose .map takes the model's snapshot
 *   lock, as the origin (__origin_write()) and snapshot_map() of 4.14 took
 *   s->lock.  4.14 took it for writing; it is taken for reading here, as
 *   today's dm-snapshot maps do: either way the map blocks while the worker
 *   holds it for writing, and reading keeps unrelated bios from serialising.
 *
 * The worker: 4.14's pending_complete() run by kcopyd.  Armed by the
 *   message "arm" to a lock2017 target, it waits for a read to be tracked
 *   (kcopyd completes a copy of a chunk that a read was just tracked on),
 *   takes the lock for writing and waits until no tracked read is in flight
 *   (__check_for_conflicting_io(), which looped on msleep(1) with the lock
 *   held), then releases the lock.  The message "abort" ends that wait with
 *   the lock released, which 4.14 could not do: the case uses it to recover
 *   a deadlocked guest.  max_hold_secs ends it too, so that a case that dies
 *   cannot leave the guest wedged for the cases after it.
 *
 * One thing is forced rather than left to chance: a lock2017 map that comes
 * while the worker has been woken by a tracked read but has not yet taken
 * the lock waits until it has.  In 4.14 that interleaving was one of the
 * possible ones (kcopyd's completion runs whenever the copy finishes); here
 * the race is always won by the worker, so the case is deterministic.  It
 * decides nothing about order: which bio is queued behind which is the
 * splitter's doing alone.
 *
 * One model per module: one track2017 target at a time, any number of
 * lock2017 targets sharing the lock and the worker.
 */

#include <linux/atomic.h>
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/swait.h>
#include <linux/version.h>
#include <linux/wait.h>

#define DM_MSG_PREFIX "model2017"

static unsigned int max_hold_secs = 15;
module_param(max_hold_secs, uint, 0644);
MODULE_PARM_DESC(max_hold_secs,
		 "Seconds the worker holds the lock before giving up (0: forever)");

/* What the worker is doing: the steps of 4.14's pending_complete() */
enum model_state {
	MODEL_IDLE,	/* not armed */
	MODEL_ARMED,	/* waiting for a tracked read (the copy to finish) */
	MODEL_HOLDING,	/* lock held for writing, waiting for tracked reads */
	MODEL_DONE,	/* lock released; see model_outcome */
};

enum model_outcome {
	MODEL_NONE,
	MODEL_CLEAN,	/* the tracked reads completed: 4.14's happy path */
	MODEL_ABORTED,	/* "abort" ended the wait with reads still tracked */
	MODEL_TIMEOUT,	/* max_hold_secs ended it */
	MODEL_CANCELLED,	/* "abort" before any read was tracked */
};

static const char * const model_state_names[] = {
	[MODEL_IDLE] = "idle", [MODEL_ARMED] = "armed",
	[MODEL_HOLDING] = "holding", [MODEL_DONE] = "done",
};

static const char * const model_outcome_names[] = {
	[MODEL_NONE] = "none", [MODEL_CLEAN] = "clean",
	[MODEL_ABORTED] = "aborted", [MODEL_TIMEOUT] = "timeout",
	[MODEL_CANCELLED] = "cancelled",
};

struct model_leg {
	struct dm_dev *dev;
	sector_t offset;
};

static struct {
	struct rw_semaphore lock;	/* 4.14's s->lock */
	atomic_t tracked;		/* tracked reads in flight */
	atomic_t submitted;		/* reads tracked since load */
	atomic_t mapped;		/* of those, reached track2017's .map */
	atomic_t waiting;		/* lock2017 maps waiting for or holding the lock */
	bool seen;			/* a read was tracked since "arm" */
	bool abort;
	enum model_state state;
	enum model_outcome outcome;
	spinlock_t state_lock;		/* state, outcome, seen, abort changes */
	struct gendisk *track_disk;	/* the track2017 device, if any */
	struct swait_queue_head worker_wait;	/* woken from any context */
	wait_queue_head_t state_wait;	/* maps waiting for the worker */
	struct task_struct *worker;
} model;

/* Tracking: the moment 4.14's snapshot_map() ran */

static struct gendisk *model_bio_disk(struct bio *bio)
{
#if KERNEL_VERSION(5, 12, 0) <= LINUX_VERSION_CODE
	return bio->bi_bdev ? bio->bi_bdev->bd_disk : NULL;
#else
	return bio->bi_disk;
#endif
}

/*
 * Runs at the entry of every submit_bio_noacct(), before the bio is queued
 * on current->bio_list: a read for the track2017 device is tracked there,
 * as C was tracked inside dm_make_request() before it was queued.  Atomic
 * context (and PREEMPT_RT): only atomics and swake_up_one(), which takes a
 * raw spinlock.
 */
static int model_submit_probe(struct kprobe *kp, struct pt_regs *regs)
{
	struct bio *bio = (struct bio *)regs_get_kernel_argument(regs, 0);
	struct gendisk *disk = READ_ONCE(model.track_disk);

	if (!disk || !bio || model_bio_disk(bio) != disk)
		return 0;
	if (bio_data_dir(bio) != READ || !bio_has_data(bio))
		return 0;
	atomic_inc(&model.tracked);
	atomic_inc(&model.submitted);
	WRITE_ONCE(model.seen, true);
	swake_up_one(&model.worker_wait);
	return 0;
}

static struct kprobe model_kprobe = {
	.symbol_name	= "submit_bio_noacct",
	.pre_handler	= model_submit_probe,
};

/* The worker: 4.14's pending_complete() */

static void model_set_state(enum model_state state, enum model_outcome outcome)
{
	spin_lock(&model.state_lock);
	model.state = state;
	model.outcome = outcome;
	spin_unlock(&model.state_lock);
	wake_up_all(&model.state_wait);
}

static bool model_stop_waiting(void)
{
	return READ_ONCE(model.abort) || kthread_should_stop();
}

/*
 * __check_for_conflicting_io() with s->lock held for writing: wait until no
 * tracked read is in flight.  TASK_IDLE, so a deadlock that the case is
 * about to detect and abort is not reported as a hung task of ours.
 */
static enum model_outcome model_wait_for_tracked(void)
{
	long left = max_hold_secs ? max_hold_secs * HZ : MAX_SCHEDULE_TIMEOUT;

	left = swait_event_idle_timeout_exclusive(model.worker_wait,
						  !atomic_read(&model.tracked) ||
						  model_stop_waiting(), left);
	if (!atomic_read(&model.tracked))
		return MODEL_CLEAN;
	return left ? MODEL_ABORTED : MODEL_TIMEOUT;
}

static void model_pending_complete(void)
{
	enum model_outcome outcome;

	/* kcopyd's copy ends, and pending_complete() runs, after a read was tracked */
	swait_event_idle_exclusive(model.worker_wait,
				   READ_ONCE(model.seen) || model_stop_waiting());
	if (!READ_ONCE(model.seen)) {
		model_set_state(MODEL_DONE, MODEL_CANCELLED);
		return;
	}
	down_write(&model.lock);
	model_set_state(MODEL_HOLDING, MODEL_NONE);
	outcome = model_wait_for_tracked();
	up_write(&model.lock);
	model_set_state(MODEL_DONE, outcome);
}

static bool model_armed_or_stopping(void)
{
	return READ_ONCE(model.state) == MODEL_ARMED || kthread_should_stop();
}

static int model_worker_fn(void *unused)
{
	while (!kthread_should_stop()) {
		swait_event_idle_exclusive(model.worker_wait,
					   model_armed_or_stopping());
		if (READ_ONCE(model.state) == MODEL_ARMED)
			model_pending_complete();
	}
	return 0;
}

static int model_arm(void)
{
	int r = -EBUSY;

	spin_lock(&model.state_lock);
	if (model.state == MODEL_IDLE || model.state == MODEL_DONE) {
		model.seen = false;
		model.abort = false;
		model.state = MODEL_ARMED;
		model.outcome = MODEL_NONE;
		r = 0;
	}
	spin_unlock(&model.state_lock);
	swake_up_one(&model.worker_wait);
	return r;
}

static void model_abort(void)
{
	WRITE_ONCE(model.abort, true);
	swake_up_one(&model.worker_wait);
}

/* Shared by both targets: a linear mapping onto <dev> <offset> */

static int model_leg_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct model_leg *leg;
	unsigned long long offset;
	char dummy;
	int r;

	if (argc != 2) {
		ti->error = "Expected <dev> <offset>";
		return -EINVAL;
	}
	if (sscanf(argv[1], "%llu%c", &offset, &dummy) != 1) {
		ti->error = "Invalid offset";
		return -EINVAL;
	}
	leg = kzalloc(sizeof(*leg), GFP_KERNEL);
	if (!leg)
		return -ENOMEM;
	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &leg->dev);
	if (r) {
		ti->error = "Device lookup failed";
		kfree(leg);
		return r;
	}
	leg->offset = offset;
	ti->private = leg;
	ti->num_flush_bios = 1;
	return 0;
}

static void model_leg_dtr(struct dm_target *ti)
{
	struct model_leg *leg = ti->private;

	dm_put_device(ti, leg->dev);
	kfree(leg);
}

static void model_remap(struct dm_target *ti, struct bio *bio)
{
	struct model_leg *leg = ti->private;

	bio_set_dev(bio, leg->dev->bdev);
	if (bio_sectors(bio))
		bio->bi_iter.bi_sector = leg->offset +
					 dm_target_offset(ti, bio->bi_iter.bi_sector);
}

static int model_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct model_leg *leg = ti->private;

	return fn(ti, leg->dev, leg->offset, ti->len, data);
}

/* track2017 */

static int track_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct gendisk *disk = dm_disk(dm_table_get_md(ti->table));
	int r;

	if (cmpxchg(&model.track_disk, NULL, disk)) {
		ti->error = "Only one track2017 target at a time";
		return -EBUSY;
	}
	r = model_leg_ctr(ti, argc, argv);
	if (r)
		WRITE_ONCE(model.track_disk, NULL);
	ti->per_io_data_size = sizeof(bool);
	return r;
}

static void track_dtr(struct dm_target *ti)
{
	WRITE_ONCE(model.track_disk, NULL);
	model_leg_dtr(ti);
}

/*
 * Whether the clone is a tracked read is decided here, in per-bio data:
 * at completion the clone may have no data left to tell, as a driver may
 * advance the bio it completes (on 7.2 over brd, bio_has_data() in .end_io
 * was false and the count never came down).
 */
static int track_map(struct dm_target *ti, struct bio *bio)
{
	bool *tracked = dm_per_bio_data(bio, sizeof(bool));

	*tracked = bio_data_dir(bio) == READ && bio_has_data(bio);
	if (*tracked)
		atomic_inc(&model.mapped);
	model_remap(ti, bio);
	return DM_MAPIO_REMAPPED;
}

/* stop_tracking_chunk() in 4.14's snapshot_end_io(); may run in IRQ context */
static int track_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	bool *tracked = dm_per_bio_data(bio, sizeof(bool));

	if (*tracked && atomic_dec_if_positive(&model.tracked) == 0)
		swake_up_one(&model.worker_wait);
	return DM_ENDIO_DONE;
}

/* tracked=<in flight> queued=<submitted, not yet mapped> */
static void track_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct model_leg *leg = ti->private;
	unsigned int sz = 0;

	if (type == STATUSTYPE_INFO)
		DMEMIT("tracked=%d queued=%d", atomic_read(&model.tracked),
		       atomic_read(&model.submitted) -
		       atomic_read(&model.mapped));
	else if (type == STATUSTYPE_TABLE)
		DMEMIT("%s %llu", leg->dev->name,
		       (unsigned long long)leg->offset);
}

static struct target_type track_target = {
	.name		 = "track2017",
	.version	 = { 1, 0, 0 },
	.module		 = THIS_MODULE,
	.ctr		 = track_ctr,
	.dtr		 = track_dtr,
	.map		 = track_map,
	.end_io		 = track_end_io,
	.status		 = track_status,
	.iterate_devices = model_iterate_devices,
};

/* lock2017 */

/*
 * The forced interleaving (see the top of the file): a tracked read has
 * woken the worker, which has not taken the lock yet; let it.
 */
static void lock_let_worker_in(void)
{
	if (READ_ONCE(model.state) == MODEL_ARMED && READ_ONCE(model.seen))
		wait_event(model.state_wait,
			   READ_ONCE(model.state) != MODEL_ARMED);
}

static int lock_map(struct dm_target *ti, struct bio *bio)
{
	atomic_inc(&model.waiting);
	lock_let_worker_in();
	down_read(&model.lock);
	model_remap(ti, bio);
	up_read(&model.lock);
	atomic_dec(&model.waiting);
	return DM_MAPIO_REMAPPED;
}

static int lock_message(struct dm_target *ti, unsigned int argc, char **argv,
			char *result, unsigned int maxlen)
{
	if (argc == 1 && !strcasecmp(argv[0], "arm"))
		return model_arm();
	if (argc == 1 && !strcasecmp(argv[0], "abort")) {
		model_abort();
		return 0;
	}
	DMWARN("Unrecognised message received");
	return -EINVAL;
}

/* state=<worker> outcome=<last wait> waiting=<maps at the lock> */
static void lock_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result,
			unsigned int maxlen)
{
	struct model_leg *leg = ti->private;
	unsigned int sz = 0;

	if (type == STATUSTYPE_INFO)
		DMEMIT("state=%s outcome=%s waiting=%d",
		       model_state_names[READ_ONCE(model.state)],
		       model_outcome_names[READ_ONCE(model.outcome)],
		       atomic_read(&model.waiting));
	else if (type == STATUSTYPE_TABLE)
		DMEMIT("%s %llu", leg->dev->name,
		       (unsigned long long)leg->offset);
}

static struct target_type lock_target = {
	.name		 = "lock2017",
	.version	 = { 1, 0, 0 },
	.module		 = THIS_MODULE,
	.ctr		 = model_leg_ctr,
	.dtr		 = model_leg_dtr,
	.map		 = lock_map,
	.message	 = lock_message,
	.status		 = lock_status,
	.iterate_devices = model_iterate_devices,
};

static void model_init_state(void)
{
	init_rwsem(&model.lock);
	spin_lock_init(&model.state_lock);
	init_swait_queue_head(&model.worker_wait);
	init_waitqueue_head(&model.state_wait);
}

static int __init dm_model2017_init(void)
{
	int r;

	model_init_state();
	model.worker = kthread_run(model_worker_fn, NULL, "model2017");
	if (IS_ERR(model.worker))
		return PTR_ERR(model.worker);
	r = register_kprobe(&model_kprobe);
	if (r) {
		DMERR("kprobe on %s: %d", model_kprobe.symbol_name, r);
		goto out_worker;
	}
	r = dm_register_target(&track_target);
	if (r)
		goto out_kprobe;
	r = dm_register_target(&lock_target);
	if (r)
		goto out_track;
	return 0;

out_track:
	dm_unregister_target(&track_target);
out_kprobe:
	unregister_kprobe(&model_kprobe);
out_worker:
	kthread_stop(model.worker);
	return r;
}

static void __exit dm_model2017_exit(void)
{
	dm_unregister_target(&lock_target);
	dm_unregister_target(&track_target);
	unregister_kprobe(&model_kprobe);
	kthread_stop(model.worker);
}

module_init(dm_model2017_init);
module_exit(dm_model2017_exit);

MODULE_DESCRIPTION(DM_NAME " test-only model of the dm-snapshot locking of Linux 4.14");
MODULE_AUTHOR("dm-splitdf developers");
MODULE_LICENSE("GPL");
