// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-splitdf-dropfua: a TEST-ONLY planted fault for
 * tests/cases/092-crash-consistency.sh, to show that its checker finds a
 * split that breaks REQ_FUA.  Never load it anywhere else.
 *
 * While it is loaded, a FUA write that dm-splitdf splits is durable only
 * in part: REQ_FUA is cleared on what is split off it, and nothing in
 * dm-splitdf.c changes.
 *   - clone: the remainder (a kretprobe on splitdf_make_rest());
 *   - inline and ordered: every piece after the head (splitdf_clone_piece());
 *   - core, and wherever dm core is left to split: the head that stays in
 *     the target, as dm core resubmits the rest of the original bio itself
 *     (a kprobe on dm_accept_partial_bio()).
 * Both splitdf functions are noinline and open to error injection, so they
 * are real functions with their own symbols.  The head (or, in core mode,
 * the rest) keeps REQ_FUA: the device below logs it as durable while the
 * part without FUA waits in its cache for the next flush.
 *
 * /sys/module/dm_splitdf_dropfua/parameters/dropped counts the bios it
 * cleared REQ_FUA on.  Load it after dm_splitdf, unload it before.
 */
#include <linux/bio.h>
#include <linux/kprobes.h>
#include <linux/module.h>

static atomic_t dropped = ATOMIC_INIT(0);

static void dropfua_clear(struct bio *bio)
{
	if (bio && (bio->bi_opf & REQ_FUA)) {
		bio->bi_opf &= ~REQ_FUA;
		atomic_inc(&dropped);
	}
}

/* splitdf_make_rest() and splitdf_clone_piece() return the new bio or NULL */
static int dropfua_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	dropfua_clear((struct bio *)regs_return_value(regs));
	return 0;
}

/* dm_accept_partial_bio(bio, n_sectors): @bio is the head */
static int dropfua_partial(struct kprobe *kp, struct pt_regs *regs)
{
	dropfua_clear((struct bio *)regs_get_kernel_argument(regs, 0));
	return 0;
}

static struct kretprobe dropfua_rest = {
	.kp.symbol_name	= "splitdf_make_rest",
	.handler	= dropfua_ret,
	.maxactive	= 64,
};

static struct kretprobe dropfua_piece = {
	.kp.symbol_name	= "splitdf_clone_piece",
	.handler	= dropfua_ret,
	.maxactive	= 64,
};

static struct kprobe dropfua_core = {
	.symbol_name	= "dm_accept_partial_bio",
	.pre_handler	= dropfua_partial,
};

static int dropped_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&dropped));
}

static const struct kernel_param_ops dropped_ops = {
	.get = dropped_get,
};

module_param_cb(dropped, &dropped_ops, NULL, 0444);
MODULE_PARM_DESC(dropped, "bios whose REQ_FUA was cleared");

static int __init dropfua_init(void)
{
	int r;

	r = register_kretprobe(&dropfua_rest);
	if (r) {
		pr_err("dm-splitdf-dropfua: kretprobe on splitdf_make_rest: %d\n", r);
		return r;
	}
	r = register_kretprobe(&dropfua_piece);
	if (r) {
		pr_err("dm-splitdf-dropfua: kretprobe on splitdf_clone_piece: %d\n", r);
		goto out_rest;
	}
	r = register_kprobe(&dropfua_core);
	if (r) {
		pr_err("dm-splitdf-dropfua: kprobe on dm_accept_partial_bio: %d\n", r);
		goto out_piece;
	}
	pr_info("dm-splitdf-dropfua: TEST-ONLY: REQ_FUA dropped on split-off parts of FUA writes\n");
	return 0;

out_piece:
	unregister_kretprobe(&dropfua_piece);
out_rest:
	unregister_kretprobe(&dropfua_rest);
	return r;
}

static void __exit dropfua_exit(void)
{
	unregister_kprobe(&dropfua_core);
	unregister_kretprobe(&dropfua_piece);
	unregister_kretprobe(&dropfua_rest);
	pr_info("dm-splitdf-dropfua: unloaded, %d bios had REQ_FUA dropped\n",
		atomic_read(&dropped));
}

module_init(dropfua_init);
module_exit(dropfua_exit);

MODULE_DESCRIPTION("test-only fault: dm-splitdf's split-off parts of FUA writes lose REQ_FUA");
MODULE_AUTHOR("dm-splitdf developers");
MODULE_LICENSE("GPL");
