/* log.c - log lines to stderr in the foreground, to syslog otherwise. */
#include "mpfs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static int log_syslog;
static enum mpfs_log_level log_level = MPFS_LOG_INFO;

void mpfs_log_init(int to_syslog, enum mpfs_log_level level)
{
	log_syslog = to_syslog;
	log_level = level;
	if (to_syslog)
		openlog("mixpeekfs", LOG_PID, LOG_DAEMON);
}

void mpfs_log(enum mpfs_log_level level, const char *fmt, ...)
{
	static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					 LOG_DEBUG};
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_syslog)
		syslog(priorities[level], "%s", line);
	else
		fprintf(stderr, "mixpeekfs: %s: %s\n", names[level], line);
}
