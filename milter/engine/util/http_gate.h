/*
 * http_gate.h - the front door of the metrics listener (metrics_http.c):
 * accepts connections and looks at each one's first line before
 * libmicrohttpd does.
 *
 * Why: libmicrohttpd 0.9.75 (Debian 12) closes a connection whose request
 * line has no target ("GARBAGE", "GET") without an answer; every other
 * malformed request gets its 4xx from libmicrohttpd. The gate answers those
 * with "400 Bad Request" itself, at once for a first line whose method holds
 * a byte no method may (a TLS hello, binary), and hands every other
 * connection over, unread (the line is only peeked at), with
 * MHD_add_connection.
 *
 * The gate is one thread polling the listening socket and the connections
 * whose first line has not come yet: at most MAX_PENDING of them (the rest
 * wait in the listen backlog), each for at most TIMEOUT_S seconds, then
 * closed. A line longer than the peek buffer is handed over (libmicrohttpd
 * answers 414). Ownership: the gate owns the connections it has not handed
 * over; the listening socket stays the caller's.
 */
#ifndef MD_HTTP_GATE_H
#define MD_HTTP_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct http_gate;

/* Hand the connection FD (from ADDR) over: the callee owns it from then on. */
typedef void (*http_gate_pass_fn)(void *arg, int fd, const struct sockaddr *addr, socklen_t len);

/* http_gate_start - serve LISTEN_FD in a new thread; NULL if the thread cannot be made. */
struct http_gate *http_gate_start(int listen_fd, unsigned max_pending, unsigned timeout_s,
				  http_gate_pass_fn pass, void *arg);

/* http_gate_stop - stop the thread, close the connections not handed over, free G; NULL ok. */
void http_gate_stop(struct http_gate *g);

/* http_gate_line_ok - may the request line LINE (LEN bytes, no line end) go to libmicrohttpd? */
bool http_gate_line_ok(const char *line, size_t len);

#endif
