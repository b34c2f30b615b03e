/*
 * log.c - write log lines to syslog (mail facility) or stderr.
 *
 * The target and level are set once by log_open() before threads start; the
 * level is an atomic so log_set_level() may run at any time. stderr lines
 * are formatted into one buffer and written with a single write() so lines
 * from different threads never interleave. In JSON (log.h) each line is a
 * jansson object dumped compact (jansson escapes control characters, so a
 * line never breaks).
 */
#include <stdarg.h>
#include <stdlib.h>
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
static enum log_format log_format = LOG_FORMAT_TEXT;

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

/* log_set_format - text or JSON lines. */
void log_set_format(enum log_format format)
{
	log_format = format;
}

/* log_format_json - JSON lines? */
bool log_format_json(void)
{
	return log_format == LOG_FORMAT_JSON;
}

/* log_format_parse - "text" or "json"; -1 if neither. */
int log_format_parse(const char *name)
{
	return strcmp(name, "text") == 0 ? LOG_FORMAT_TEXT
	       : strcmp(name, "json") == 0 ? LOG_FORMAT_JSON : -1;
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

/* timestamp - local time "YYYY-MM-DDTHH:MM:SS.mmm" into BUF (at least 32 bytes); its length. */
static size_t timestamp(char *buf, size_t len)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	return n + (size_t)snprintf(buf + n, len - n, ".%03ld", now.tv_nsec / 1000000);
}

/* write_line - LINE (N bytes, ending in a newline) to stderr in one write. */
static void write_line(const char *line, size_t n)
{
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}

/* write_stderr - one whole line "TIME IDENT[PID]: LEVEL: TEXT" to stderr. */
__attribute__((format(printf, 2, 0)))
static void write_stderr(int level, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = timestamp(line, sizeof(line));
	int len;

	len = snprintf(line + n, sizeof(line) - n, " %s[%d]: %s: ",
		       log_ident, (int)getpid(), log_level_name(level));
	n += len > 0 ? (size_t)len : 0;
	if (n < sizeof(line) - 1) {
		len = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
		if (len > 0)
			n += (size_t)len < sizeof(line) - 1 - n ? (size_t)len : sizeof(line) - 2 - n;
	}
	line[n++] = '\n';
	write_line(line, n);
}

/* printable - a copy of S with each byte outside printable ASCII made '?' (malloc'ed). */
static char *printable(const char *s)
{
	char *copy = strdup(s);

	for (char *p = copy; p && *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	return copy;
}

/* log_json_string - S as a JSON string, made printable if jansson refuses it (not UTF-8). */
json_t *log_json_string(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j || !(copy = printable(s)))
		return j;
	j = json_string(copy);
	free(copy);
	return j;
}

/* json_line - FIELDS plus level and message TEXT (STAMPED: time, program, pid first), dumped; NULL if out of memory. */
static char *json_line(int level, const char *text, json_t *fields, bool stamped)
{
	json_t *o = json_object();
	char stamp[48], *line;

	if (!o)
		return NULL;
	if (stamped) {
		timestamp(stamp, sizeof(stamp));
		json_object_set_new(o, "time", json_string(stamp));
		json_object_set_new(o, "program", json_string(log_ident));
		json_object_set_new(o, "pid", json_integer(getpid()));
	}
	json_object_set_new(o, "level", json_string(log_level_name(level)));
	json_object_set_new(o, "message", log_json_string(text));
	if (fields)
		json_object_update(o, fields);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return line;
}

/* emit_json - one JSON line: stamped on stderr (target or echo), without the stamp to syslog. */
static void emit_json(int level, const char *text, json_t *fields)
{
	char *line;

	if ((log_target == LOG_TO_STDERR || atomic_load(&log_echo)) &&
	    (line = json_line(level, text, fields, true))) {
		size_t n = strlen(line);

		line[n] = '\n';        /* json_dumps leaves room: n + 1 bytes with the NUL */
		write_line(line, n + 1);
		free(line);
	}
	if (log_target == LOG_TO_SYSLOG && (line = json_line(level, text, fields, false))) {
		syslog(level, "%s", line);
		free(line);
	}
}

/* log_record - FIELDS and TEXT as one JSON line, or TEXT alone in text format. */
void log_record(int level, const char *text, json_t *fields)
{
	if (!log_enabled(level))
		return;
	if (log_format == LOG_FORMAT_JSON)
		emit_json(level, text, fields);
	else
		log_msg(level, "%s", text);
}

/* log_msg - write one line at LEVEL. */
void log_msg(int level, const char *fmt, ...)
{
	va_list ap, echo;
	char text[2048];

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	if (log_format == LOG_FORMAT_JSON) {
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		emit_json(level, text, NULL);
		return;
	}
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
