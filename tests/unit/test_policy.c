/* The FUSE glue's decisions: interrupts, opens and reads. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "mpfs/policy.h"

/* A /proc/<tid>/status text with these masks. */
static const char *status(char *buf, size_t size, unsigned long long pnd,
			  unsigned long long blk, unsigned long long ign,
			  unsigned long long cgt)
{
	snprintf(buf, size,
		 "Name:\tls\nState:\tS (sleeping)\nSigQ:\t0/95000\n"
		 "SigPnd:\t%016llx\nShdPnd:\t0000000000000000\n"
		 "SigBlk:\t%016llx\nSigIgn:\t%016llx\nSigCgt:\t%016llx\n"
		 "CapInh:\t0000000000000000\n",
		 pnd, blk, ign, cgt);
	return buf;
}

#define BIT(sig) (1ULL << ((sig)-1))

static void test_dying(void)
{
	char b[512];

	CHECK(mpfs_policy_dying(status(b, sizeof(b), 0, 0, 0, 0)) == 0);
	/* Ctrl-C on a process that does not catch it: going away. */
	CHECK(mpfs_policy_dying(status(b, sizeof(b), BIT(SIGINT), 0, 0, 0)) ==
	      1);
	CHECK(mpfs_policy_dying(
		  status(b, sizeof(b), BIT(SIGKILL), BIT(SIGCHLD), 0, 0)) == 1);
	/* A SIGCHLD, caught, blocked or ignored signals: nothing ends. */
	CHECK(mpfs_policy_dying(status(b, sizeof(b), BIT(SIGCHLD), 0, 0, 0)) ==
	      0);
	CHECK(mpfs_policy_dying(status(b, sizeof(b), BIT(SIGWINCH), 0, 0, 0)) ==
	      0);
	CHECK(mpfs_policy_dying(
		  status(b, sizeof(b), BIT(SIGINT), 0, 0, BIT(SIGINT))) == 0);
	CHECK(mpfs_policy_dying(
		  status(b, sizeof(b), BIT(SIGTERM), BIT(SIGTERM), 0, 0)) == 0);
	CHECK(mpfs_policy_dying(
		  status(b, sizeof(b), BIT(SIGHUP), 0, BIT(SIGHUP), 0)) == 0);
	/* A text that does not say: not known. */
	CHECK(mpfs_policy_dying("Name:\tls\n") == -1);
	CHECK(mpfs_policy_dying("") == -1);
	/* This thread: alive, nothing pending. */
	CHECK(mpfs_policy_caller_dying(gettid()) == 0);
	/* One that cannot be read: the kernel's word is taken. */
	CHECK(mpfs_policy_caller_dying(0) == 1);
}

static void test_open_and_read(void)
{
	char data[] = "0123456789";
	struct mpfs_obj obj = {.data = data, .size = 10};
	size_t len;
	const char *p;

	CHECK(mpfs_policy_open(30, NULL) == MPFS_OPEN_NONE);
	CHECK(mpfs_policy_open(30, &obj) == MPFS_OPEN_NONE);
	CHECK(mpfs_policy_open(0, &obj) == MPFS_OPEN_FRESH);
	obj.live = 1;
	CHECK(mpfs_policy_open(0, &obj) == MPFS_OPEN_DIRECT);

	p = mpfs_policy_read(&obj, 4096, 0, &len);
	CHECK(p == obj.data && len == 10);
	p = mpfs_policy_read(&obj, 3, 8, &len);
	CHECK(p == obj.data + 8 && len == 2);
	mpfs_policy_read(&obj, 5, 10, &len);
	CHECK(len == 0);
	mpfs_policy_read(&obj, 5, 100, &len);
	CHECK(len == 0);
	mpfs_policy_read(&obj, 5, -1, &len);
	CHECK(len == 0);
}

int main(void)
{
	test_dying();
	test_open_and_read();
	return check_done();
}
