/*
 * log.c - write log lines to syslog (mail facility) or stderr.
 *
 * The target and level are set once by log_open() before threads start; the
 * level is an atomic so log_set_level() may run at any time. stderr lines
 * are formatted into one buffer and written with a single write() so lines
 * from different threads never interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "milter-delegate";
static enum log_target log_target = LOG_TO_STDERR;
static atomic_int log_max_level = LOG_INFO;
static atomic_bool log_echo = false;

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

/* log_open - choose the target and the most verbose level kept. */
void log_open(const char *ident, enum log_target target, int max_level)
{
	log_ident = ident;
	log_target = target;
	atomic_store(&log_max_level, max_level);
	if (target == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_set_level - change the most verbose level kept. */
void log_set_level(int max_level)
{
	atomic_store(&log_max_level, max_level);
}

/* log_echo_stderr - also write syslog lines to stderr, or stop doing so. */
void log_echo_stderr(bool on)
{
	atomic_store(&log_echo, on);
}

/* log_enabled - would a message at LEVEL be written? */
bool log_enabled(int level)
{
	return level <= atomic_load(&log_max_level);
}

/* write_stderr - one whole line "TIME IDENT[PID]: LEVEL: TEXT" to stderr. */
__attribute__((format(printf, 2, 0)))
static void write_stderr(int level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec now;
	struct tm tm;
	size_t n;
	int len;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	len = snprintf(line + n, sizeof(line) - n, ".%03ld %s[%d]: %s: ",
		       now.tv_nsec / 1000000, log_ident, (int)getpid(), log_level_name(level));
	n += len > 0 ? (size_t)len : 0;
	if (n < sizeof(line) - 1) {
		len = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
		if (len > 0)
			n += (size_t)len < sizeof(line) - 1 - n ? (size_t)len : sizeof(line) - 2 - n;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}

/* log_msg - write one line at LEVEL. */
void log_msg(int level, const char *fmt, ...)
{
	va_list ap, echo;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	if (log_target == LOG_TO_SYSLOG) {
		if (atomic_load(&log_echo)) {
			va_copy(echo, ap);
			write_stderr(level, fmt, echo);
			va_end(echo);
		}
		vsyslog(level, fmt, ap);
	} else {
		write_stderr(level, fmt, ap);
	}
	va_end(ap);
}

/* log_level_parse - a level name to its syslog priority; -1 if unknown. */
int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].level;
	return -1;
}

/* log_level_name - a syslog priority to its name. */
const char *log_level_name(int level)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return level < LOG_ERR ? "error" : "debug";
}
