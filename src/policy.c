/* policy.c - the FUSE glue's decisions, without FUSE. */
#include "mpfs/policy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Signals whose default action is not to end the process. */
#define SIGS_NOT_FATAL                                                         \
	(1ULL << (SIGCHLD - 1) | 1ULL << (SIGURG - 1) |                        \
	 1ULL << (SIGWINCH - 1) | 1ULL << (SIGCONT - 1) |                      \
	 1ULL << (SIGSTOP - 1) | 1ULL << (SIGTSTP - 1) |                       \
	 1ULL << (SIGTTIN - 1) | 1ULL << (SIGTTOU - 1))

int mpfs_policy_dying(const char *status)
{
	static const char *const keys[] = {
	    "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"};
	unsigned long long v[5];

	for (size_t i = 0; i < 5; i++) {
		const char *line = strstr(status, keys[i]);

		if (!line ||
		    sscanf(line + strlen(keys[i]), " %llx", &v[i]) != 1)
			return -1;
	}
	return ((v[0] | v[1]) & ~(v[2] | v[3] | v[4] | SIGS_NOT_FATAL)) != 0;
}

int mpfs_policy_caller_dying(pid_t tid)
{
	char path[64], text[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = tid > 0 ? fopen(path, "re") : NULL;
	if (!f)
		return 1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return mpfs_policy_dying(text) != 0;
}

enum mpfs_open_mode mpfs_policy_open(double ttl, const struct mpfs_obj *obj)
{
	if (ttl > 0)
		return MPFS_OPEN_NONE;
	return obj && obj->live ? MPFS_OPEN_DIRECT : MPFS_OPEN_FRESH;
}

const char *mpfs_policy_read(const struct mpfs_obj *obj, size_t size, off_t off,
			     size_t *len)
{
	if (off < 0 || (size_t)off >= obj->size)
		size = 0;
	else if (size > obj->size - (size_t)off)
		size = obj->size - (size_t)off;
	*len = size;
	return obj->data + (size ? off : 0);
}
