/*
 * slow_filter.c - a content filter for tests that takes its time: an SMTP
 * server (our smtp_server module) that spools each message, waits DELAY_MS,
 * passes the copy on unchanged (with its X-Delegate-Id) to 127.0.0.1:OUT_PORT
 * over SMTP, and only then answers the end of data, as clamsmtpd does with
 * "Action: pass". It stands in for a slow scanner or a slow network.
 *
 * usage: slow_filter LISTEN_PORT OUT_PORT DELAY_MS
 *
 * Runs until SIGTERM or SIGINT. Logs to stderr. Test tool, not installed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "delegate_client.h"
#include "log.h"
#include "smtp_server.h"

struct filter {
	struct delegate_client *out;
	unsigned delay_ms;
};

struct session {
	struct filter *filter;
	char *sender;
	char **rcpts;
	size_t rcpt_count;
	FILE *spool;
	char path[64];
	char id[128];
	bool line_start;
};

static void *open_session(void *arg, const struct smtp_peer *peer, struct smtp_reply *banner)
{
	struct session *s = calloc(1, sizeof(*s));

	(void)peer;
	(void)banner;
	if (!s)
		abort();
	s->filter = arg;
	return s;
}

/* forget - drop the envelope and the spool file. */
static void forget(void *session)
{
	struct session *s = session;

	for (size_t i = 0; i < s->rcpt_count; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	free(s->sender);
	if (s->spool)
		fclose(s->spool);
	if (s->path[0])
		unlink(s->path);
	s->rcpts = NULL;
	s->rcpt_count = 0;
	s->sender = NULL;
	s->spool = NULL;
	s->path[0] = '\0';
	s->id[0] = '\0';
}

static void close_session(void *session)
{
	forget(session);
	free(session);
}

static void on_mail(void *session, const char *sender, const struct smtp_mail_params *p,
		    struct smtp_reply *r)
{
	struct session *s = session;

	(void)p;
	(void)r;
	forget(s);
	if (!(s->sender = strdup(sender)))
		abort();
}

static void on_rcpt(void *session, const char *rcpt, struct smtp_reply *r)
{
	struct session *s = session;

	(void)r;
	if (!(s->rcpts = realloc(s->rcpts, (s->rcpt_count + 1) * sizeof(*s->rcpts))) ||
	    !(s->rcpts[s->rcpt_count++] = strdup(rcpt)))
		abort();
}

static void on_data_start(void *session, struct smtp_reply *r)
{
	struct session *s = session;
	int fd;

	snprintf(s->path, sizeof(s->path), "/tmp/slow-filter.XXXXXX");
	if ((fd = mkstemp(s->path)) < 0 || !(s->spool = fdopen(fd, "w"))) {
		s->path[0] = '\0';
		smtp_reply_set(r, 451, "4.3.0 cannot spool: %s", strerror(errno));
	}
	s->line_start = true;
}

static bool on_data_line(void *session, const char *text, size_t len, bool more)
{
	struct session *s = session;
	size_t k = strlen("X-Delegate-Id:");

	if (s->line_start && !s->id[0] && len > k && strncasecmp(text, "X-Delegate-Id:", k) == 0)
		snprintf(s->id, sizeof(s->id), "%.*s", (int)(len - k - 1), text + k + 1);
	s->line_start = !more;
	return fwrite(text, 1, len, s->spool) == len && (more || fputs("\r\n", s->spool) != EOF);
}

static void on_data_end(void *session, bool oversize, struct smtp_reply *r)
{
	struct session *s = session;
	struct delegate_send_result res;
	struct delegate_send_request req = {
		.sender = s->sender, .rcpts = (const char *const *)s->rcpts,
		.rcpt_count = s->rcpt_count, .path = s->path, .id = s->id[0] ? s->id : "none",
		.timeout_ms = 60000,
	};

	(void)oversize;
	if (fclose(s->spool) != 0) {
		s->spool = NULL;
		smtp_reply_set(r, 451, "4.3.0 cannot spool");
		return;
	}
	s->spool = NULL;
	usleep(s->filter->delay_ms * 1000);
	delegate_client_send(s->filter->out, &req, &res);
	log_msg(LOG_INFO, "slow_filter: after %u ms passed on: %s %s", s->filter->delay_ms,
		delegate_send_status_name(res.status), res.reply);
	if (res.status == SEND_ACCEPTED)
		smtp_reply_set(r, 250, "2.0.0 Ok: passed on after %u ms", s->filter->delay_ms);
	else
		smtp_reply_set(r, 451, "4.3.0 Local Error");
	forget(s);
}

static const struct smtp_handlers handlers = {
	.session_open = open_session, .session_close = close_session, .mail = on_mail,
	.rcpt = on_rcpt, .data_start = on_data_start, .data_line = on_data_line,
	.data_end = on_data_end, .reset = forget,
};

int main(int argc, char **argv)
{
	struct endpoint out = { .host = "127.0.0.1" };
	struct smtp_server_config cfg = { .host = "127.0.0.1", .hostname = "slow.filter" };
	struct filter filter;
	struct smtp_server *server;
	sigset_t stop;
	char err[256];
	int sig;

	if (argc != 4) {
		fprintf(stderr, "usage: %s LISTEN_PORT OUT_PORT DELAY_MS\n", argv[0]);
		return 2;
	}
	cfg.port = (unsigned)atoi(argv[1]);
	out.port = (unsigned)atoi(argv[2]);
	filter.delay_ms = (unsigned)atoi(argv[3]);
	log_open("slow_filter", LOG_TO_STDERR, LOG_INFO);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(filter.out = delegate_client_new(&out, 4)))
		return 1;
	if (!(server = smtp_server_start(&cfg, &handlers, &filter, err, sizeof(err)))) {
		fprintf(stderr, "slow_filter: %s\n", err);
		return 1;
	}
	sigwait(&stop, &sig);
	smtp_server_stop(server);
	delegate_client_free(filter.out);
	curl_global_cleanup();
	return 0;
}
