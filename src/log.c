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

/* How many bytes the UTF-8 sequence at s takes, or 0 when it is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = *s >= 0xF0 && *s <= 0xF4   ? 4
		   : *s >= 0xE0 && *s <= 0xEF ? 3
		   : *s >= 0xC2 && *s <= 0xDF ? 2
					      : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* One line, whatever the names in it hold: control bytes and bytes that
 * are not UTF-8 as \xHH, so that a name cannot break a line or a log
 * reader. */
static void clean(const char *in, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t n = 0, k;

	while (*p && n + 5 < size) {
		if (*p >= 0x20 && *p < 0x7F) {
			out[n++] = (char)*p++;
		} else if (*p >= 0x80 && (k = utf8_len(p)) > 0) {
			if (n + k + 1 > size)
				break;
			memcpy(out + n, p, k);
			n += k;
			p += k;
		} else {
			n += (size_t)snprintf(out + n, size - n, "\\x%02X",
					      *p++);
		}
	}
	out[n] = '\0';
}

static void write_line(enum mpfs_log_level level, const char *fmt, va_list ap)
{
	static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					 LOG_DEBUG};
	char raw[1024], line[4 * sizeof(raw)];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	clean(raw, line, sizeof(line));
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
