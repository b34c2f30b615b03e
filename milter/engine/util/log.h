/*
 * log.h - the one logging module: syslog (mail facility) or stderr.
 *
 * Levels are syslog priorities (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG); messages above the configured level are dropped cheaply.
 * Per-message lines start with the queue id and use key=value fields, e.g.
 *   log_msg(LOG_INFO, "%s: client=%s from=<%s> verdict=%s", qid, ...);
 * log_open() is called once at start-up, before threads exist; after that
 * every function is thread-safe (stderr lines are written whole).
 *
 * Formats. Text (the default) as above. JSON (log_set_format, the daemons'
 * -F json): each line is one compact JSON object, on stderr
 *   {"time":"2026-12-02T01:02:03.456","program":"milter-delegate","pid":7,
 *    "level":"info","message":"TEXT"}
 * and through syslog the same without time, program and pid (syslog adds
 * them). log_record adds the caller's own fields to that object (the
 * per-message line, txn_log.h). Strings that are not UTF-8 are written
 * with each byte outside printable ASCII as '?' (log_json_string).
 */
#ifndef MD_LOG_H
#define MD_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <syslog.h>

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* log_open - choose the target and the most verbose level kept. */
void log_open(const char *ident, enum log_target target, int max_level);

/* log_set_format - text (default) or JSON lines; call with log_open, before threads. */
void log_set_format(enum log_format format);

/* log_format_json - are lines written as JSON? */
bool log_format_json(void);

/* log_format_parse - "text" or "json" to a format; -1 if unknown. */
int log_format_parse(const char *name);

/*
 * log_record - in JSON, write FIELDS (borrowed, not changed) plus "level",
 * "message": TEXT and, on stderr, time, program and pid, as one line; in
 * text, write TEXT. At LEVEL, dropped like log_msg above the level kept.
 */
void log_record(int level, const char *text, json_t *fields);

/* log_json_string - a new JSON string of S, made printable ASCII if S is not UTF-8. */
json_t *log_json_string(const char *s);

/* log_set_level - change the most verbose level kept (SIGHUP, tests). */
void log_set_level(int max_level);

/*
 * log_echo_stderr - with the syslog target, also write each line to stderr
 * (ON), or stop (OFF). A daemon echoes while it starts, so that a failed start
 * in the background still prints its reason on the terminal.
 */
void log_echo_stderr(bool on);

/* log_enabled - would a message at LEVEL be written? */
bool log_enabled(int level);

/* log_msg - write one line at LEVEL (printf format, no trailing newline). */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_level_parse - "error", "warning", "notice", "info", "debug" to a level; -1 if unknown. */
int log_level_parse(const char *name);

/* log_level_name - inverse of log_level_parse. */
const char *log_level_name(int level);

#endif
