/* libFuzzer: a list answer as the API might send it, taken apart as the
 * listing does: the page, then each item rendered into a file. */
#include <stddef.h>
#include <stdint.h>

#include "mpfs/api.h"
#include "mpfs/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpfs_page page = {0};
	struct mpfs_err err;
	json_t *item;
	size_t i;

	mpfs_err_clear(&err);
	if (mpfs_page_parse((const char *)data, size, &page, &err))
		return 0;
	json_array_foreach (page.items, i, item) {
		struct mpfs_obj *obj =
		    mpfs_obj_new(item, "sync_config_id", ".json", 0, 0, &err);

		mpfs_obj_unref(obj);
	}
	mpfs_page_release(&page);
	return 0;
}
