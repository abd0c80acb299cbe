/* policy.h - decisions the FUSE glue applies, kept here where they can be
 * tested without a mount: whether an interrupted request gives up, and how
 * a file is opened and read. */
#ifndef MPFS_POLICY_H
#define MPFS_POLICY_H

#include <sys/types.h>

#include "mpfs/render.h"

/* The kernel interrupts a request for any signal its caller gets, even one
 * that changes nothing: a SIGCHLD queued while a thread of the caller held
 * it blocked (as Python does around fork), the preemption signals of Go.
 * Giving up then would hand the caller an EINTR it has no handler for, so
 * an interrupt counts only when the caller is going away (Ctrl-C on ls,
 * kill): a signal pending for it that is not blocked, caught or ignored
 * and whose default action ends the process.
 *
 * From the text of /proc/<tid>/status: 1 when such a signal is pending,
 * 0 when none is, -1 when the text does not say. */
int mpfs_policy_dying(const char *proc_status);

/* The same for a live thread; when its status cannot be read (another pid
 * namespace, /proc mounted with hidepid), the kernel's word is taken: 1. */
int mpfs_policy_caller_dying(pid_t tid);

enum mpfs_open_mode {
	/* No open round trip at all (the first open answers ENOSYS): the
	 * kernel opens files itself and keeps their pages until mixpeekfs
	 * says they changed, or a stat after ttl shows they did. */
	MPFS_OPEN_NONE,
	/* Each open fetches the object anew (ttl 0); the kernel drops what
	 * it held of the file, and reads go to the handle's object. */
	MPFS_OPEN_FRESH,
	/* As FRESH, and reads bypass the page cache: a file made at each
	 * open, whose size is not known before (stats.json, at ttl 0). */
	MPFS_OPEN_DIRECT,
};

/* How a file is opened: obj is the object an open would show, or NULL
 * when it is not known yet. */
enum mpfs_open_mode mpfs_policy_open(double ttl, const struct mpfs_obj *obj);

/* The bytes a read of size at off gets from obj: *len of them at the
 * returned pointer (borrowed from obj). */
const char *mpfs_policy_read(const struct mpfs_obj *obj, size_t size, off_t off,
			     size_t *len);

#endif
