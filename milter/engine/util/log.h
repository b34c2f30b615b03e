/*
 * log.h - the one logging module: syslog (mail facility) or stderr.
 *
 * Levels are syslog priorities (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
 * LOG_DEBUG); messages above the configured level are dropped cheaply.
 * Per-message lines start with the queue id and use key=value fields, e.g.
 *   log_msg(LOG_INFO, "%s: client=%s from=<%s> verdict=%s", qid, ...);
 * log_open() is called once at start-up, before threads exist; after that
 * every function is thread-safe (stderr lines are written whole).
 */
#ifndef MD_LOG_H
#define MD_LOG_H

#include <stdbool.h>
#include <syslog.h>

enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

/* log_open - choose the target and the most verbose level kept. */
void log_open(const char *ident, enum log_target target, int max_level);

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
