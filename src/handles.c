/* handles.c - the handles given to the kernel, until released (see
 * handles.h). */
#include "mpfs/handles.h"

#include <stdlib.h>

#include "mpfs/core.h"
#include "mpfs/render.h"

struct mpfs_handle *mpfs_handle_new(struct mpfs_handles *hs,
				    struct mpfs_dir *dir, struct mpfs_obj *obj)
{
	struct mpfs_handle *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	h->dir = dir;
	h->obj = obj;
	pthread_mutex_lock(&hs->lock);
	LIST_INSERT_HEAD(&hs->list, h, link);
	pthread_mutex_unlock(&hs->lock);
	return h;
}

void mpfs_handle_free(struct mpfs_handles *hs, struct mpfs_core *core,
		      struct mpfs_handle *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&hs->lock);
	LIST_REMOVE(h, link);
	pthread_mutex_unlock(&hs->lock);
	mpfs_core_releasedir(core, h->dir);
	mpfs_obj_unref(h->obj);
	free(h);
}

size_t mpfs_handles_release(struct mpfs_handles *hs, struct mpfs_core *core)
{
	size_t n = 0;

	for (; !LIST_EMPTY(&hs->list); n++)
		mpfs_handle_free(hs, core, LIST_FIRST(&hs->list));
	return n;
}
