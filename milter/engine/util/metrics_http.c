/*
 * metrics_http.c - GET /metrics over libmicrohttpd (see metrics_http.h).
 * Owns the listening socket, the gate in front of it (http_gate.h) and the
 * server, which gets each connection from the gate; each answer's text is
 * rendered per request and handed to libmicrohttpd, which frees it.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_gate.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "netaddr.h"
#include "xalloc.h"

struct metrics_http {
	int listen_fd;
	struct MHD_Daemon *daemon;
	struct http_gate *gate;
};

/* parse_spec - SPEC into EP; NULL, or why not (static text). */
static const char *parse_spec(const char *spec, bool allow_public, struct endpoint *ep)
{
	const char *why = NULL;

	if (!netaddr_parse_endpoint(spec, NETADDR_NUMERIC_HOST | NETADDR_BARE_PORT, ep, &why))
		return why;
	if (!allow_public && !netaddr_is_loopback(ep->host)) {
		free(ep->host);
		return "not a loopback address: anyone who reaches it could read what mail passes; "
		       "add --metrics-public to listen there anyway";
	}
	return NULL;
}

/* metrics_http_check - SPEC parses and is allowed. */
bool metrics_http_check(const char *spec, bool allow_public, struct load_errors *errs)
{
	struct endpoint ep;
	const char *why = parse_spec(spec, allow_public, &ep);

	if (why) {
		load_errors_add(errs, "metrics address (-M) %s: %s", spec, why);
		return false;
	}
	free(ep.host);
	return true;
}

/* mhd_log - libmicrohttpd's messages into our log. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];
	size_t n;

	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	log_msg(LOG_WARNING, "metrics listener: %s", text);
}

/* reply_text - queue STATUS with the static BODY (and an Allow header for 405). */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* reply_metrics - 200 with the rendered metrics (503 if memory ran out). */
static enum MHD_Result reply_metrics(struct MHD_Connection *c)
{
	size_t len;
	char *text = metrics_render(&len);
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!text)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (!(r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE))) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* answer - one request: the method, then the path. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	(void)cls, (void)version, (void)upload, (void)upload_size, (void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	return reply_metrics(c);
}

/* listen_on - a listening socket on the numeric address EP; -1 with the reason in ERR. */
static int listen_on(const struct endpoint *ep, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[8];
	int fd = -1, on = 1, e;

	snprintf(port, sizeof(port), "%u", ep->port);
	if ((e = getaddrinfo(ep->host, port, &hints, &ai)) != 0 || !ai) {
		snprintf(err, errlen, "%s", e ? gai_strerror(e) : "no address");
		return -1;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* start_daemon - libmicrohttpd without a listener of its own (the gate adds connections). */
static struct MHD_Daemon *start_daemon(void)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
				0, NULL, NULL, answer, NULL,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,    /* first, as MHD wants */
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNECTIONS,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEMORY,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S,
				MHD_OPTION_STRICT_FOR_CLIENT, 1,     /* e.g. HTTP/1.1 needs Host */
				MHD_OPTION_END);
}

/* hand_over - http_gate_pass_fn: the connection to libmicrohttpd, which closes it even on failure. */
static void hand_over(void *arg, int fd, const struct sockaddr *addr, socklen_t len)
{
	struct metrics_http *h = arg;

	(void)MHD_add_connection(h->daemon, fd, addr, len);
}

/* metrics_http_start - listen on SPEC. */
struct metrics_http *metrics_http_start(const char *spec, bool allow_public)
{
	struct endpoint ep;
	const char *why = parse_spec(spec, allow_public, &ep);
	struct metrics_http *h;
	char err[256];

	if (why) {
		log_msg(LOG_ERR, "metrics address (-M) %s: %s", spec, why);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	if ((h->listen_fd = listen_on(&ep, err, sizeof(err))) < 0)
		log_msg(LOG_ERR, "cannot listen for metrics on %s (-M): %s", spec, err);
	else if (!(h->daemon = start_daemon()))
		log_msg(LOG_ERR, "cannot start the metrics server (-M %s): the line before says why",
			spec);
	else if (!(h->gate = http_gate_start(h->listen_fd, METRICS_HTTP_CONNECTIONS,
					     METRICS_HTTP_TIMEOUT_S, hand_over, h)))
		log_msg(LOG_ERR, "cannot start the metrics listener's thread (-M %s)", spec);
	if (!h->gate) {
		metrics_http_stop(h);
		free(ep.host);
		return NULL;
	}
	log_msg(LOG_INFO, "metrics on http://%s%s%s:%u/metrics", strchr(ep.host, ':') ? "[" : "",
		ep.host, strchr(ep.host, ':') ? "]" : "", ep.port);
	free(ep.host);
	return h;
}

/* metrics_http_stop - the gate first (no more connections), then the server. */
void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	http_gate_stop(h->gate);
	if (h->daemon)
		MHD_stop_daemon(h->daemon);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	free(h);
}
