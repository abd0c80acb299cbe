/* log.c - log lines to stderr in the foreground, to syslog otherwise. The
 * level can change while other threads log (SIGUSR2), so it is atomic. */
#include "mpfs/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static int log_syslog;
static atomic_int log_level = MPFS_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

void mpfs_log_init(int to_syslog, enum mpfs_log_level level)
{
	log_syslog = to_syslog;
	atomic_store(&log_level, (int)level);
	if (to_syslog)
		openlog("mixpeekfs", LOG_PID, LOG_DAEMON);
}

int mpfs_log_enabled(enum mpfs_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

enum mpfs_log_level mpfs_log_step(void)
{
	int old = atomic_load(&log_level), next;

	do
		next = (old + 1) % (MPFS_LOG_DEBUG + 1);
	while (!atomic_compare_exchange_weak(&log_level, &old, next));
	return (enum mpfs_log_level)next;
}

const char *mpfs_log_level_name(enum mpfs_log_level level)
{
	if ((unsigned)level <= MPFS_LOG_DEBUG)
		return names[level];
	return "unknown";
}

int mpfs_log_level_parse(const char *name, enum mpfs_log_level *out)
{
	for (int i = 0; i <= MPFS_LOG_DEBUG; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (enum mpfs_log_level)i;
			return 0;
		}
	return -1;
}

static void write_line(enum mpfs_log_level level, const char *fmt, va_list ap)
{
	static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					 LOG_DEBUG};
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog)
		syslog(priorities[level], "%s", line);
	else
		fprintf(stderr, "mixpeekfs: %s: %s\n", names[level], line);
}

void mpfs_log(enum mpfs_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!mpfs_log_enabled(level))
		return;
	va_start(ap, fmt);
	write_line(level, fmt, ap);
	va_end(ap);
}

void mpfs_log_always(enum mpfs_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_line(level, fmt, ap);
	va_end(ap);
}
