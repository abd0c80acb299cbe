/* The handles given to the kernel: each lets go of its object when freed,
 * and those never released are let go all at once. */
#include <jansson.h>
#include <pthread.h>

#include "check.h"
#include "mpfs/handles.h"
#include "mpfs/render.h"

static struct mpfs_obj *obj_of(const char *id)
{
	json_t *j = json_pack("{s:s}", "id", id);
	struct mpfs_err err;
	struct mpfs_obj *o = mpfs_obj_new(j, "id", ".json", 0, 1, &err);

	json_decref(j);
	return o;
}

int main(void)
{
	struct mpfs_handles hs = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct mpfs_obj *a = obj_of("a"), *b = obj_of("b"), *c = obj_of("c");
	struct mpfs_handle *ha, *hb, *hc;
	size_t before = mpfs_obj_bytes();

	ha = mpfs_handle_new(&hs, NULL, mpfs_obj_ref(a));
	hb = mpfs_handle_new(&hs, NULL, mpfs_obj_ref(b));
	hc = mpfs_handle_new(&hs, NULL, mpfs_obj_ref(c));
	CHECK(ha && hb && hc);
	CHECK(hb->obj == b);
	/* Released by the kernel: off the list, its reference dropped. */
	mpfs_handle_free(&hs, NULL, hb);
	mpfs_handle_free(&hs, NULL, NULL);
	mpfs_obj_unref(a);
	mpfs_obj_unref(b); /* b's last reference: gone */
	mpfs_obj_unref(c);
	CHECK(mpfs_obj_bytes() < before);
	/* The two the kernel never released: let go at once. */
	CHECK(mpfs_handles_release(&hs, NULL) == 2);
	CHECK(LIST_EMPTY(&hs.list));
	CHECK(mpfs_obj_bytes() == 0);
	CHECK(mpfs_handles_release(&hs, NULL) == 0);
	return check_done();
}
