/*
 * metrics_http.h - the metrics listener: an HTTP server (libmicrohttpd, its
 * own thread) that answers GET /metrics with metrics_render()'s text.
 *
 * The address is "HOST:PORT", "[V6]:PORT" or "PORT" (127.0.0.1:PORT), the
 * host numeric (netaddr.h). A host that is not loopback is refused unless
 * ALLOW_PUBLIC (the daemons' --metrics-public), as the receiver is unless
 * "receiver_public": the counters tell an outsider what mail passes.
 *
 * Answers: 200 for GET or HEAD /metrics (Content-Type text/plain;
 * version=0.0.4), 404 for any other path, 405 (Allow: GET, HEAD) for any
 * other method; libmicrohttpd answers a malformed request 400 and one whose
 * header does not fit the connection's memory (METRICS_HTTP_MEMORY) 431;
 * the one malformed request it would close without a word, a request line
 * without a space, gets its 400 from the gate in front (http_gate.h), which
 * accepts every connection and hands it to libmicrohttpd.
 * At most METRICS_HTTP_CONNECTIONS connections at once, each idle at most
 * METRICS_HTTP_TIMEOUT_S.
 *
 * Start-up order (daemon.h): after the fork and daemon_block_signals()
 * (the listener's thread must inherit the blocked signals), before
 * privileges are dropped (so any port can be bound). A failure (the port
 * taken) is logged at LOG_ERR while the start-up echo still shows it.
 * metrics_http_start/stop are called from the main thread; the server's
 * thread only reads the metrics.
 */
#ifndef MD_METRICS_HTTP_H
#define MD_METRICS_HTTP_H

#include <stdbool.h>

#include "policy_load.h"       /* struct load_errors */

#define METRICS_HTTP_CONNECTIONS 8
#define METRICS_HTTP_MEMORY (16 * 1024)
#define METRICS_HTTP_TIMEOUT_S 10

struct metrics_http;

/*
 * metrics_http_check - is SPEC an address the listener may use (see
 * above)? False, with the error added to ERRS ("metrics address (-M) ...").
 */
bool metrics_http_check(const char *spec, bool allow_public, struct load_errors *errs);

/* metrics_http_start - listen on SPEC and serve; NULL (logged) on failure. */
struct metrics_http *metrics_http_start(const char *spec, bool allow_public);

/* metrics_http_stop - stop serving and free H; NULL ok. */
void metrics_http_stop(struct metrics_http *h);

#endif
