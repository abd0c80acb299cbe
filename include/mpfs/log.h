/* log.h - one log line per event, to stderr (foreground) or syslog.
 * Callers never pass the API key: nothing here could tell it apart. */
#ifndef MPFS_LOG_H
#define MPFS_LOG_H

enum mpfs_log_level {
	MPFS_LOG_ERROR,
	MPFS_LOG_WARN,
	MPFS_LOG_INFO,
	MPFS_LOG_DEBUG,
};

void mpfs_log_init(int to_syslog, enum mpfs_log_level level);
void mpfs_log(enum mpfs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
