/* check.h - a few TAP macros for the unit tests, run by meson test. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		check_n++;                                                     \
		if (cond) {                                                    \
			printf("ok %d - %s\n", check_n, #cond);                \
		} else {                                                       \
			check_failed++;                                        \
			printf("not ok %d - %s (%s:%d)\n", check_n, #cond,     \
			       __FILE__, __LINE__);                            \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *check_a = (a), *check_b = (b);                     \
		CHECK(check_a &&check_b &&strcmp(check_a, check_b) == 0);      \
		if (!check_a || !check_b || strcmp(check_a, check_b))          \
			printf("#   got '%s'\n#   want '%s'\n",                \
			       check_a ? check_a : "(null)",                   \
			       check_b ? check_b : "(null)");                  \
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n", check_n);
	return check_failed ? 1 : 0;
}

#endif
