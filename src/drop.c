/* drop.c - SIGHUP: every cache dropped, and what the kernel holds with
 * them: the attributes and pages of every inode it holds, and every entry
 * of the root with all below it, so that the next access asks anew.
 *
 * What the kernel is not told: a name looked up at the root that did not
 * exist then (a negative entry) lives on for ttl, since no list of such
 * names is kept. */
#include <string.h>

#include "core_priv.h"

struct drop {
	struct mpfs_core *core;
	const struct mpfs_notify_ops *ops;
	void *ctx;
	size_t inodes, entries;
};

static void drop_inode(void *p, uint64_t ino, const char *path)
{
	struct drop *d = p;
	const char *name = path + 1;

	kernel_inval(d->core, ino);
	d->inodes++;
	if (*name && !strchr(name, '/')) {
		if (mpfs_notify_deferred())
			mpfs_notifier_inval_entry(d->core->notifier,
						  MPFS_ROOT_INO, name);
		else if (d->ops->inval_entry(d->ctx, MPFS_ROOT_INO, name) == 0)
			d->entries++;
	}
}

size_t mpfs_core_drop(struct mpfs_core *core, size_t *entries)
{
	struct drop d = {.core = core};

	mpfs_cache_clear(core->listings);
	mpfs_cache_clear(core->objects);
	mpfs_cache_clear(core->conns);
	mpfs_cache_clear(core->bucket_objs);
	mpfs_stats_drop();
	give_back(); /* the memory goes back to the system */
	*entries = 0;
	d.ops = mpfs_notifier_ops(core->notifier, &d.ctx);
	if (!d.ops)
		return 0;
	kernel_inval(core, MPFS_ROOT_INO);
	mpfs_inodes_each(core->inodes, drop_inode, &d);
	*entries = d.entries;
	return d.inodes;
}

static void inval_one(void *p, uint64_t ino, const char *path)
{
	(void)path;
	kernel_inval(p, ino);
}

void kernel_flood(void *p)
{
	struct mpfs_core *core = p;

	kernel_inval(core, MPFS_ROOT_INO);
	mpfs_inodes_each(core->inodes, inval_one, core);
}
