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

/* A line written whatever the level (tagged with level's name): for what
 * an operator asked for, such as a new level. */
void mpfs_log_always(enum mpfs_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether a line at level would be written now. */
int mpfs_log_enabled(enum mpfs_log_level level);

/* The next level, error -> warn -> info -> debug -> error; returns it. Safe
 * to call from any thread while others log. */
enum mpfs_log_level mpfs_log_step(void);

/* "error", "warn", "info", "debug". */
const char *mpfs_log_level_name(enum mpfs_log_level level);

/* Parses a level name; 0, or -1 when name is none of the four. */
int mpfs_log_level_parse(const char *name, enum mpfs_log_level *out);

#endif
