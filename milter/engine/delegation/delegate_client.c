/*
 * delegate_client.c - send a spooled message to a delegator with libcurl.
 *
 * Three parts: the message reader (a libcurl read callback that streams the
 * file, puts the X-Delegate-Id line in front and leaves out planted ones;
 * without an id it streams the file unchanged),
 * the transfer (options, the debug callback that keeps the server's last
 * reply line, the progress callback that also enforces the deadline and the
 * cancel flag, the classification of the outcome) and the pool of idle easy
 * handles with the connections they keep.
 *
 * Ownership: a send owns its struct transfer (heap, freed before returning)
 * and the easy handle it took; the handle goes back to the pool only after
 * an accepted transfer. The pool is the only shared state; dc->lock guards
 * it and is never held across network I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "delegate_client.h"
#include "log.h"
#include "msg_text.h"
#include "xalloc.h"

#define DEFAULT_TIMEOUT_MS      60000u
#define MAX_CONNECT_MS          10000u  /* connecting never takes longer than this */
#define DEFAULT_PROGRESS_MS     2000u
#define QUIT_TIMEOUT_S          2L      /* waiting for 221 when a pooled handle is closed */
#define MAX_ID_LEN              128
#define READ_BUF_SIZE           16384
#define HEADER_PEEK             1000    /* look-ahead to classify a header line */
#define MAX_SOCKETS             4       /* open at once by one handle (happy eyeballs) */
#define STOP_SLACK_MS           5       /* see on_xferinfo */
#define DEFAULT_IDLE_LIMIT_S    30L     /* see delegate_client_set_idle_limit */

/* libcurl spelled the option CURLOPT_MAIL_RCPT_ALLLOWFAILS before 8.2.0 (Debian 12: 7.88). */
#if LIBCURL_VERSION_NUM < 0x080200
#define CURLOPT_MAIL_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

struct delegate_client {
	char *url;                      /* smtp://host:port/ */
	unsigned max_idle;
	long idle_limit_s;              /* CURLOPT_MAXAGE_CONN: idle longer, never reused */
	pthread_mutex_t lock;           /* guards idle[] and idle_count */
	size_t idle_count;
	struct handle **idle;           /* LIFO: the most recently used first */
};

/*
 * An easy handle and the sockets libcurl has open for it. libcurl copies the
 * close-socket callback and its pointer into each connection it makes, so
 * this struct lives as long as the handle (not as long as one transfer).
 */
struct handle {
	CURL *curl;
	curl_socket_t fds[MAX_SOCKETS]; /* CURL_SOCKET_BAD in unused slots */
	uint64_t idle_since_ms;         /* when it went back to the pool (monotonic) */
};

/* Where the reader is in the message. */
enum reader_state {
	READ_PREFIX,                    /* our X-Delegate-Id line */
	READ_LINE_START,                /* at the start of a header line: classify it */
	READ_LINE_COPY,                 /* rest of a header line that is kept */
	READ_LINE_SKIP,                 /* rest of a header line that is left out */
	READ_BODY,                      /* the empty line and everything after it */
	READ_END,
};

struct msg_reader {
	FILE *in;                       /* the caller's stream, or ours (owns_in, unbuffered) */
	bool owns_in;
	off_t start;                    /* where the message starts in IN (a retry goes back) */
	enum reader_state state;
	enum reader_state after_prefix; /* READ_LINE_START, or READ_BODY after a caller's head */
	bool skipping_field;            /* the current field is a planted X-Delegate-Id */
	bool filter_ids;                /* leave planted X-Delegate-Id fields out (an id is sent) */
	bool eof;
	bool pending_cr;                /* a CR was read; what follows decides (crlf_clean) */
	int err;                        /* errno of a failed read(), or 0 */
	const char *prefix;             /* id_line, or the caller's head */
	char id_line[sizeof(MSG_ID_FIELD ": \r\n") + MAX_ID_LEN];
	size_t prefix_len, prefix_pos;
	size_t pos, len;                /* unconsumed file bytes are buf[pos..len) */
	/*
	 * READ_BUF_SIZE bytes each, allocated apart from the rest and never
	 * zeroed: clearing 32 KB per send was a tenth of the milter's work.
	 */
	char *buf;
	char *raw;                      /* what the states produced, before crlf_clean */
};

/* The last command sent; with the reader's state it says where a send ended. */
enum send_step { STEP_CONNECT, STEP_EHLO, STEP_MAIL, STEP_RCPT, STEP_DATA };

/* One send: the reader, the libcurl lists and what the callbacks learn. */
struct transfer {
	const struct delegate_send_request *req;
	struct msg_reader reader;
	struct curl_slist *rcpts;       /* CURLOPT_MAIL_RCPT: must outlive the transfer */
	char *mail_from;
	struct handle *handle;          /* of the running attempt */
	uint64_t deadline_ms;           /* monotonic */
	uint64_t last_progress_ms;
	bool cancelled;                 /* stopped by on_xferinfo: the cancel flag */
	bool timed_out;                 /* stopped by on_xferinfo: the deadline */
	bool quit_sent;                 /* replies after our QUIT are not about the message */
	enum send_step step;
	unsigned replies;               /* complete reply lines received */
	unsigned rcpt_ok, rcpt_temp, rcpt_perm; /* RCPT TO replies: 2xx, 4xx, 5xx */
	bool rcpt_mixed;                /* stopped before DATA: some recipients refused */
	char rcpt_refusal[DELEGATE_REPLY_MAX];  /* last refused RCPT TO reply line */
	size_t line_len;                /* reply line being assembled in line[] */
	char line[DELEGATE_REPLY_MAX];
	char last[DELEGATE_REPLY_MAX];  /* last complete reply line */
	char errbuf[CURL_ERROR_SIZE];
};

/* now_ms - a monotonic clock in milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		abort();                /* cannot happen with CLOCK_MONOTONIC */
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* pool_lock - take or release dc->lock; failure is a bug. */
static void pool_lock(struct delegate_client *dc, bool take)
{
	int rc = take ? pthread_mutex_lock(&dc->lock) : pthread_mutex_unlock(&dc->lock);

	if (rc != 0) {
		log_msg(LOG_ERR, "delegate_client: mutex: %s", strerror(rc));
		abort();
	}
}

/* reader_input - up to CAP bytes of the message text; 0 at its end or on error (r->err). */
static size_t reader_input(struct msg_reader *r, char *dst, size_t cap)
{
	size_t n = fread(dst, 1, cap, r->in);

	if (n == 0 && ferror(r->in))
		r->err = errno ? errno : EIO;
	return n;
}

/*
 * reader_fill - make at least WANT bytes available in buf[pos..len), fewer
 * only at end of file. False on a read error (r->err set).
 */
static bool reader_fill(struct msg_reader *r, size_t want)
{
	if (r->len - r->pos >= want || r->eof)
		return true;
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < want && !r->eof) {
		size_t n = reader_input(r, r->buf + r->len, READ_BUF_SIZE - r->len);

		if (r->err != 0)
			return false;
		r->eof = n == 0;
		r->len += n;
	}
	return true;
}

/*
 * is_id_field - does the header line at P (N bytes available, N < HEADER_PEEK
 * only at end of file) start an X-Delegate-Id field?
 */
static bool is_id_field(const char *p, size_t n)
{
	return msg_is_field(p, n, MSG_ID_FIELD, n >= HEADER_PEEK, NULL);
}

/* reader_classify - at the start of a header line: decide what happens to it. */
static void reader_classify(struct msg_reader *r)
{
	const char *p;
	size_t n;

	if (!reader_fill(r, HEADER_PEEK))
		return;
	p = r->buf + r->pos;            /* after the fill: it may move the bytes */
	n = r->len - r->pos;
	if (n == 0)
		r->state = READ_END;
	else if (p[0] == '\n' || (n >= 2 && p[0] == '\r' && p[1] == '\n'))
		r->state = READ_BODY;
	else if (p[0] == ' ' || p[0] == '\t')
		r->state = r->skipping_field ? READ_LINE_SKIP : READ_LINE_COPY;
	else {
		r->skipping_field = r->filter_ids && is_id_field(p, n);
		r->state = r->skipping_field ? READ_LINE_SKIP : READ_LINE_COPY;
	}
}

/* reader_line - copy (or skip, DST NULL) the rest of a header line; bytes copied. */
static size_t reader_line(struct msg_reader *r, char *dst, size_t cap)
{
	size_t n;
	const char *nl;

	if (!reader_fill(r, 1))
		return 0;
	if (r->len == r->pos) {
		r->state = READ_END;
		return 0;
	}
	n = r->len - r->pos;
	if (dst != NULL && n > cap)
		n = cap;
	nl = memchr(r->buf + r->pos, '\n', n);
	if (nl != NULL) {
		n = (size_t) (nl - (r->buf + r->pos)) + 1;
		r->state = READ_LINE_START;
	}
	if (dst != NULL)
		memcpy(dst, r->buf + r->pos, n);
	r->pos += n;
	return dst != NULL ? n : 0;
}

/* reader_body - copy body bytes; straight from the file when nothing is buffered. */
static size_t reader_body(struct msg_reader *r, char *dst, size_t cap)
{
	size_t n = r->len - r->pos;

	if (n > 0) {
		n = n < cap ? n : cap;
		memcpy(dst, r->buf + r->pos, n);
		r->pos += n;
		return n;
	}
	n = reader_input(r, dst, cap);
	if (n == 0 && r->err == 0)
		r->state = READ_END;
	return n;
}

/* reader_step - produce up to CAP bytes from the current state (0 is fine: state moved). */
static size_t reader_step(struct msg_reader *r, char *dst, size_t cap)
{
	size_t n;

	switch (r->state) {
	case READ_PREFIX:
		n = r->prefix_len - r->prefix_pos;
		n = n < cap ? n : cap;
		memcpy(dst, r->prefix + r->prefix_pos, n);
		r->prefix_pos += n;
		if (r->prefix_pos == r->prefix_len)
			r->state = r->after_prefix;
		return n;
	case READ_LINE_START:
		reader_classify(r);
		return 0;
	case READ_LINE_COPY:
		return reader_line(r, dst, cap);
	case READ_LINE_SKIP:
		return reader_line(r, NULL, 0);
	case READ_BODY:
		return reader_body(r, dst, cap);
	case READ_END:
		return 0;
	}
	abort();
}

/* put_crlf - a line end into DST at *OUT. */
static void put_crlf(char *dst, size_t *out)
{
	dst[(*out)++] = '\r';
	dst[(*out)++] = '\n';
}

/*
 * crlf_clean - copy the N raw bytes of SRC to DST (room for 2 N + 2) with
 * every bare CR and bare LF made CRLF, so that what a filter gets, and
 * returns to our receiver (which takes CRLF-clean copies only), is clean
 * whatever the MTA let through. A CR at the end of SRC waits for the next
 * byte; at the END of the message it is completed. Returns the bytes in DST.
 * Runs between line ends are found with memchr and copied whole: this is
 * on the path of every delegated byte.
 */
static size_t crlf_clean(struct msg_reader *r, const char *src, size_t n, char *dst, bool end)
{
	size_t out = 0, i = 0;

	while (i < n) {
		const char *lf, *cr;
		size_t stop;

		if (r->pending_cr) {            /* the CR before SRC, or before src[i] */
			put_crlf(dst, &out);
			r->pending_cr = false;
			i += src[i] == '\n';
			continue;
		}
		lf = memchr(src + i, '\n', n - i);
		stop = lf ? (size_t)(lf - src) : n;
		cr = memchr(src + i, '\r', stop - i);
		if (cr != NULL)
			stop = (size_t)(cr - src);
		memcpy(dst + out, src + i, stop - i);
		out += stop - i;
		i = stop;
		if (cr != NULL) {               /* decided by the byte after it */
			r->pending_cr = true;
			i++;
		} else if (lf != NULL) {        /* a bare LF */
			put_crlf(dst, &out);
			i++;
		}
	}
	if (end && r->pending_cr) {
		put_crlf(dst, &out);
		r->pending_cr = false;
	}
	return out;
}

/* reader_read - CURLOPT_READFUNCTION: fill DST; 0 at the end of the message. */
static size_t reader_read(char *dst, size_t size, size_t nitems, void *arg)
{
	struct msg_reader *r = arg;
	size_t cap = size * nitems, want = cap >= 4 ? cap / 2 - 1 : 0, out = 0;

	if (want == 0)
		return CURL_READFUNC_ABORT;     /* libcurl's buffers are far larger */
	if (want > READ_BUF_SIZE)
		want = READ_BUF_SIZE;
	while (out == 0 && (r->state != READ_END || r->pending_cr)) {
		size_t n = 0;

		while (n < want && r->state != READ_END) {
			n += reader_step(r, r->raw + n, want - n);
			if (r->err != 0)
				return CURL_READFUNC_ABORT;
		}
		out = crlf_clean(r, r->raw, n, dst, r->state == READ_END);
	}
	return out;
}

/* reader_rewind - start the message again from the top (a retry). False: errno. */
static bool reader_rewind(struct msg_reader *r)
{
	r->state = READ_PREFIX;
	r->skipping_field = false;
	r->pending_cr = false;
	r->eof = false;
	r->err = 0;
	r->prefix_pos = 0;
	r->pos = r->len = 0;
	clearerr(r->in);
	return fseeko(r->in, r->start, SEEK_SET) == 0;
}

/* reply_code - the code of reply line LINE, or 0. */
static int reply_code(const char *line)
{
	if (!isdigit((unsigned char) line[0]) || !isdigit((unsigned char) line[1]) ||
	    !isdigit((unsigned char) line[2]) || (line[3] != '\0' && line[3] != ' ' && line[3] != '-'))
		return 0;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/*
 * stop_transfer - make libcurl give up now. Its sockets are shut down (it
 * still owns and closes them; on_closesocket keeps the list exact, so no
 * descriptor of anyone else is touched): after the data libcurl would
 * otherwise send QUIT and wait for the reply of a server that may never
 * answer, for up to the response timeout. CURLINFO_ACTIVESOCKET does not
 * know the socket during a transfer in libcurl 7.88, hence the tracking.
 */
static int stop_transfer(struct transfer *t)
{
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		if (t->handle->fds[i] != CURL_SOCKET_BAD)
			(void) shutdown(t->handle->fds[i], SHUT_RDWR);  /* fails only if dead already */
	return 1;
}

/*
 * note_reply - a complete reply line is in T->last. Recipients' replies are
 * counted by class (the last line of a multi-line reply counts). With
 * ask_every_rcpt, once every recipient has answered and some but not all
 * were refused, the send stops here, before libcurl sends DATA: the next
 * hop never gets a copy with fewer recipients than the message has.
 */
static void note_reply(struct transfer *t)
{
	int code = reply_code(t->last);

	if (t->step != STEP_RCPT || code == 0 || t->last[3] == '-')
		return;
	if (code / 100 == 2) {
		t->rcpt_ok++;
	} else {
		code / 100 == 5 ? t->rcpt_perm++ : t->rcpt_temp++;
		snprintf(t->rcpt_refusal, sizeof(t->rcpt_refusal), "%s", t->last);
	}
	if (t->req->ask_every_rcpt && t->rcpt_ok > 0 && t->rcpt_ok < t->req->rcpt_count &&
	    t->rcpt_ok + t->rcpt_temp + t->rcpt_perm == t->req->rcpt_count) {
		t->rcpt_mixed = true;
		(void) stop_transfer(t);
	}
}

/* note_command - a command went out: remember the step (QUIT ends the story). */
static void note_command(struct transfer *t, const char *cmd, size_t len)
{
	static const struct {
		const char *verb;
		enum send_step step;
	} verbs[] = {
		{ "EHLO", STEP_EHLO }, { "HELO", STEP_EHLO }, { "MAIL", STEP_MAIL },
		{ "RCPT", STEP_RCPT }, { "DATA", STEP_DATA },
	};

	if (len < 4 || t->quit_sent)
		return;
	if (strncasecmp(cmd, "QUIT", 4) == 0)
		t->quit_sent = true;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strncasecmp(cmd, verbs[i].verb, 4) == 0)
			t->step = verbs[i].step;
}

/* on_debug - CURLOPT_DEBUGFUNCTION: follow the commands, keep the last reply line. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct transfer *t = arg;

	(void) h;
	if (type == CURLINFO_HEADER_OUT)
		note_command(t, data, size);
	if (type != CURLINFO_HEADER_IN || t->quit_sent)
		return 0;
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n') {
			if (t->line_len > 0 && t->line[t->line_len - 1] == '\r')
				t->line_len--;
			memcpy(t->last, t->line, t->line_len);
			t->last[t->line_len] = '\0';
			t->line_len = 0;
			t->replies++;
			note_reply(t);
		} else if (t->line_len < sizeof(t->line) - 1) {
			t->line[t->line_len++] = data[i];
		}
	}
	return 0;
}

/* on_sockopt - CURLOPT_SOCKOPTFUNCTION: remember a socket libcurl opened. */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct handle *hd = arg;

	(void) purpose;
	for (size_t i = 0; i < MAX_SOCKETS; i++) {
		if (hd->fds[i] == CURL_SOCKET_BAD) {
			hd->fds[i] = fd;
			break;
		}
	}
	return CURL_SOCKOPT_OK;
}

/* on_closesocket - CURLOPT_CLOSESOCKETFUNCTION: forget the socket, then close it. */
static int on_closesocket(void *arg, curl_socket_t fd)
{
	struct handle *hd = arg;

	for (size_t i = 0; i < MAX_SOCKETS; i++)
		if (hd->fds[i] == fd)
			hd->fds[i] = CURL_SOCKET_BAD;
	return close(fd);
}

/*
 * on_xferinfo - CURLOPT_XFERINFOFUNCTION, called about once a second and
 * whenever data moves: the cancel flag, the deadline, progress reports.
 * The deadline is checked here a little (STOP_SLACK_MS) before libcurl's own
 * CURLOPT_TIMEOUT_MS fires: libcurl calls this right after each wait, so
 * the send stops here, without the QUIT wait libcurl's own timeout incurs
 * after the data.
 */
static int on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *t = arg;
	const struct delegate_send_request *req = t->req;
	unsigned interval = req->progress_interval_ms ? req->progress_interval_ms : DEFAULT_PROGRESS_MS;
	uint64_t now = now_ms();

	(void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
	if (req->cancel != NULL && atomic_load(req->cancel)) {
		t->cancelled = true;
		return stop_transfer(t);
	}
	if (now + STOP_SLACK_MS >= t->deadline_ms) {
		t->timed_out = true;
		return stop_transfer(t);
	}
	if (req->progress != NULL && now - t->last_progress_ms >= interval) {
		t->last_progress_ms = now;
		req->progress(req->progress_arg);
	}
	return 0;
}

/* Used only in transfer_setopts(): a refused option fails the send. */
#define SETOPT_OR_RETURN(h, opt, val) do { \
		CURLcode rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (rc_ != CURLE_OK) \
			return rc_; \
	} while (0)

/* transfer_setopts - set every option of one attempt with REMAINING ms left. */
static CURLcode transfer_setopts(struct handle *hd, const struct delegate_client *dc,
				 struct transfer *t, uint64_t remaining)
{
	CURL *h = hd->curl;

	SETOPT_OR_RETURN(h, CURLOPT_URL, dc->url);
	SETOPT_OR_RETURN(h, CURLOPT_PROTOCOLS_STR, "smtp");
	SETOPT_OR_RETURN(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT_OR_RETURN(h, CURLOPT_TCP_NODELAY, 1L);
	SETOPT_OR_RETURN(h, CURLOPT_MAXAGE_CONN, dc->idle_limit_s);
	SETOPT_OR_RETURN(h, CURLOPT_TIMEOUT_MS, (long) remaining);
	SETOPT_OR_RETURN(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long) (remaining < MAX_CONNECT_MS ? remaining : MAX_CONNECT_MS));
	/* Let the whole-send timeout be the only one (the default is 120 s per reply). */
	SETOPT_OR_RETURN(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long) (remaining + 999) / 1000);
	SETOPT_OR_RETURN(h, CURLOPT_ERRORBUFFER, t->errbuf);
	SETOPT_OR_RETURN(h, CURLOPT_VERBOSE, 1L);       /* feeds on_debug, prints nothing */
	SETOPT_OR_RETURN(h, CURLOPT_DEBUGFUNCTION, on_debug);
	SETOPT_OR_RETURN(h, CURLOPT_DEBUGDATA, t);
	SETOPT_OR_RETURN(h, CURLOPT_NOPROGRESS, 0L);
	SETOPT_OR_RETURN(h, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	SETOPT_OR_RETURN(h, CURLOPT_XFERINFODATA, t);
	SETOPT_OR_RETURN(h, CURLOPT_MAIL_FROM, t->mail_from);
	SETOPT_OR_RETURN(h, CURLOPT_MAIL_RCPT, t->rcpts);
	/* Go on after a refused recipient only to hear them all (see note_reply). */
	SETOPT_OR_RETURN(h, CURLOPT_MAIL_RCPT_ALLOWFAILS, t->req->ask_every_rcpt ? 1L : 0L);
	SETOPT_OR_RETURN(h, CURLOPT_UPLOAD, 1L);
	SETOPT_OR_RETURN(h, CURLOPT_READFUNCTION, reader_read);
	SETOPT_OR_RETURN(h, CURLOPT_READDATA, &t->reader);
	SETOPT_OR_RETURN(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	SETOPT_OR_RETURN(h, CURLOPT_SOCKOPTDATA, hd);
	SETOPT_OR_RETURN(h, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
	SETOPT_OR_RETURN(h, CURLOPT_CLOSESOCKETDATA, hd);
	return CURLE_OK;
}

/* address_ok - no control characters or angle brackets (they would inject SMTP). */
static bool address_ok(const char *a)
{
	for (const unsigned char *p = (const unsigned char *) a; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return false;
	return true;
}

/* request_check - is REQ usable? Otherwise why not, in ERR. */
static bool request_check(const struct delegate_send_request *req, char *err, size_t errlen)
{
	size_t idlen = req->id != NULL ? strlen(req->id) : 0;

	if (req->sender == NULL || !address_ok(req->sender)) {
		snprintf(err, errlen, "bad sender address");
		return false;
	}
	if ((req->path == NULL) == (req->stream == NULL) || (req->head != NULL && req->id != NULL)) {
		snprintf(err, errlen, "bad request: one of path and stream; a head only without an id");
		return false;
	}
	if (req->rcpt_count == 0) {
		snprintf(err, errlen, "no recipients");
		return false;
	}
	for (size_t i = 0; i < req->rcpt_count; i++) {
		if (req->rcpts[i] == NULL || req->rcpts[i][0] == '\0' || !address_ok(req->rcpts[i])) {
			snprintf(err, errlen, "bad recipient address #%zu", i + 1);
			return false;
		}
	}
	if (req->id == NULL)
		return true;            /* a plain relay: no correlation line */
	for (size_t i = 0; i < idlen; i++)
		if (!isgraph((unsigned char) req->id[i]))
			idlen = 0;
	if (idlen == 0 || idlen > MAX_ID_LEN) {
		snprintf(err, errlen, "bad correlation id");
		return false;
	}
	return true;
}

/*
 * reader_open - set R up for REQ: the id line or the caller's head first,
 * then the text of REQ's stream (from where it stands) or file. False with ERR.
 */
static bool reader_open(struct msg_reader *r, const struct delegate_send_request *req,
			char *err, size_t errlen)
{
	r->filter_ids = req->id != NULL;
	r->after_prefix = req->head != NULL ? READ_BODY : READ_LINE_START;
	r->prefix = req->head != NULL ? req->head : r->id_line;
	r->prefix_len = req->head != NULL ? req->head_len : 0;
	if (req->id != NULL)
		r->prefix_len = (size_t) snprintf(r->id_line, sizeof(r->id_line),
						  MSG_ID_FIELD ": %s\r\n", req->id);
	r->in = req->stream;
	if (r->in == NULL && (r->in = fopen(req->path, "re")) == NULL) {
		snprintf(err, errlen, "open %s: %s", req->path, strerror(errno));
		return false;
	}
	r->owns_in = req->stream == NULL;
	if (r->owns_in)
		setvbuf(r->in, NULL, _IONBF, 0);        /* reads go straight into our buffers */
	if ((r->start = ftello(r->in)) < 0) {
		snprintf(err, errlen, "cannot tell where the message starts: %s", strerror(errno));
		return false;
	}
	return true;
}

/* transfer_free - close the file and free the lists; T may be NULL. */
static void transfer_free(struct transfer *t)
{
	if (t == NULL)
		return;
	if (t->reader.owns_in && fclose(t->reader.in) != 0)
		log_msg(LOG_WARNING, "delegate_client: close %s: %s", t->req->path, strerror(errno));
	curl_slist_free_all(t->rcpts);
	free(t->mail_from);
	free(t->reader.buf);
	free(t->reader.raw);
	free(t);
}

/* transfer_new - open REQ's message and build the envelope; NULL with ERR set. */
static struct transfer *transfer_new(const struct delegate_send_request *req, char *err, size_t errlen)
{
	struct transfer *t = xcalloc(1, sizeof(*t));

	t->mail_from = xasprintf("<%s>", req->sender);
	t->reader.buf = xmalloc(READ_BUF_SIZE);
	t->reader.raw = xmalloc(READ_BUF_SIZE);
	t->req = req;
	for (size_t i = 0; i < req->rcpt_count; i++) {
		char *rcpt = xasprintf("<%s>", req->rcpts[i]);
		struct curl_slist *l = curl_slist_append(t->rcpts, rcpt);  /* copies the string */

		free(rcpt);
		if (l == NULL) {
			snprintf(err, errlen, "out of memory");
			transfer_free(t);
			return NULL;
		}
		t->rcpts = l;
	}
	if (!reader_open(&t->reader, req, err, errlen)) {
		transfer_free(t);
		return NULL;
	}
	return t;
}

/* step_name - where T ended, for the result: a static string. */
static const char *step_name(const struct transfer *t, int code)
{
	static const char *const names[] = {
		[STEP_CONNECT] = "connect", [STEP_EHLO] = "EHLO", [STEP_MAIL] = "MAIL FROM",
		[STEP_RCPT] = "RCPT TO", [STEP_DATA] = "DATA",
	};

	if (t->rcpt_mixed)
		return names[STEP_RCPT];        /* stopped before DATA, whatever libcurl tried */
	if (t->step == STEP_DATA && t->reader.state == READ_END)
		return "end of data";
	if (t->step == STEP_DATA && code == 354)
		return "message";
	return names[t->step];
}

/* transfer_status - classify libcurl's result RC for T whose last reply had CODE. */
static enum delegate_send_status transfer_status(CURLcode rc, const struct transfer *t, int code)
{
	if (rc == CURLE_OK)
		return SEND_ACCEPTED;
	if (rc == CURLE_OPERATION_TIMEDOUT || (rc == CURLE_ABORTED_BY_CALLBACK && t->timed_out))
		return SEND_TIMEOUT;
	if (rc == CURLE_ABORTED_BY_CALLBACK && t->cancelled)
		return SEND_CANCELLED;
	if (t->rcpt_mixed)
		return SEND_REFUSED;
	if (code >= 400 && code < 600 && t->reader.err == 0)
		return SEND_REFUSED;
	return SEND_FAILED;
}

/* transfer_result - fill OUT from libcurl's result RC and what T's callbacks saw. */
static void transfer_result(CURLcode rc, const struct transfer *t, struct delegate_send_result *out)
{
	const char *reply = t->rcpt_mixed ? t->rcpt_refusal : t->last;

	out->code = reply_code(reply);
	snprintf(out->reply, sizeof(out->reply), "%s", reply);
	out->status = transfer_status(rc, t, out->code);
	out->step = step_name(t, out->code);
	out->rcpt_accepted = t->rcpt_ok;
	out->rcpt_deferred = t->rcpt_temp;
	out->rcpt_rejected = t->rcpt_perm;
	out->error[0] = '\0';
	if (out->status == SEND_ACCEPTED)
		return;
	if (t->reader.err != 0)
		snprintf(out->error, sizeof(out->error), "read %s: %s",
			 t->req->path ? t->req->path : "the message", strerror(t->reader.err));
	else if (out->status == SEND_REFUSED && strcmp(out->step, "RCPT TO") == 0 &&
		 t->req->ask_every_rcpt)
		snprintf(out->error, sizeof(out->error), "refused %u of %zu recipients at RCPT TO",
			 t->rcpt_temp + t->rcpt_perm, t->req->rcpt_count);
	else if (out->status != SEND_FAILED)
		snprintf(out->error, sizeof(out->error), "%s at %s", out->status == SEND_TIMEOUT ?
			 "timed out" : delegate_send_status_name(out->status), out->step);
	else
		snprintf(out->error, sizeof(out->error), "failed at %s: %s%s%s", out->step,
			 curl_easy_strerror(rc), t->errbuf[0] ? ": " : "", t->errbuf);
}

/* handle_new - a new easy handle with no sockets; NULL if libcurl cannot make one. */
static struct handle *handle_new(void)
{
	struct handle *hd = xcalloc(1, sizeof(*hd));

	if ((hd->curl = curl_easy_init()) == NULL) {
		free(hd);
		return NULL;
	}
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		hd->fds[i] = CURL_SOCKET_BAD;
	return hd;
}

/* handle_free - close HD's connection (QUIT if it is healthy) and free it; NULL ok. */
static void handle_free(struct handle *hd)
{
	if (hd == NULL)
		return;
	curl_easy_cleanup(hd->curl);    /* calls on_closesocket(hd): free hd after it */
	free(hd);
}

/* pool_take - an idle handle (with its live connection), or a new one; NULL if out of memory. */
static struct handle *pool_take(struct delegate_client *dc)
{
	struct handle *hd = NULL;

	pool_lock(dc, true);
	if (dc->idle_count > 0)
		hd = dc->idle[--dc->idle_count];
	pool_lock(dc, false);
	return hd != NULL ? hd : handle_new();
}

/*
 * pool_give - keep HD (after an accepted transfer) for the next send, or
 * close it when the pool is full. The reset drops the options pointing into
 * the finished transfer; the connection survives it. A short response
 * timeout bounds the wait for 221 when the handle is closed one day.
 */
static void pool_give(struct delegate_client *dc, struct handle *hd)
{
	bool kept = false;

	curl_easy_reset(hd->curl);
	if (curl_easy_setopt(hd->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(hd->curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, QUIT_TIMEOUT_S) != CURLE_OK) {
		handle_free(hd);
		return;
	}
	hd->idle_since_ms = now_ms();
	pool_lock(dc, true);
	if (dc->idle_count < dc->max_idle) {
		dc->idle[dc->idle_count++] = hd;
		kept = true;
	}
	pool_lock(dc, false);
	if (!kept)
		handle_free(hd);        /* QUIT, outside the lock */
}

/*
 * worth_retry - may OUT, the failed first attempt of T over a reused
 * connection, go again on a new one? Yes when the delegator cannot have the
 * message: the final dot was not sent yet, and the connection dropped or
 * answered 4xx (a stale pair: clamsmtpd relays "421 4.4.2 timeout exceeded"
 * from a next hop that gave up on its idle half, at MAIL FROM). Never after
 * the data (a second copy), never for a 5xx (a refusal), a timeout, a
 * cancel, a local read error or an ask_every_rcpt mix (real answers).
 */
static bool worth_retry(const struct transfer *t, const struct delegate_send_result *out)
{
	bool before_dot = strcmp(out->step, "end of data") != 0;
	bool dropped_or_4xx = out->status == SEND_FAILED ||
			      (out->status == SEND_REFUSED && out->code / 100 == 4);

	return out->reused && before_dot && dropped_or_4xx && !t->rcpt_mixed && t->reader.err == 0;
}

/*
 * transfer_attempt - one try on handle HD with REMAINING ms left. True when
 * a reused connection failed in a way a new connection may cure and nothing
 * can have been delivered (worth_retry).
 */
static bool transfer_attempt(struct delegate_client *dc, struct handle *hd, struct transfer *t,
			     uint64_t remaining, struct delegate_send_result *out)
{
	CURLcode rc;
	long connects = 1;

	t->handle = hd;
	t->replies = 0;
	t->line_len = 0;
	t->last[0] = t->errbuf[0] = '\0';
	t->cancelled = t->timed_out = t->quit_sent = t->rcpt_mixed = false;
	t->rcpt_ok = t->rcpt_temp = t->rcpt_perm = 0;
	t->rcpt_refusal[0] = '\0';
	t->step = STEP_CONNECT;
	rc = transfer_setopts(hd, dc, t, remaining);
	if (rc != CURLE_OK) {
		transfer_result(rc, t, out);
		return false;
	}
	rc = curl_easy_perform(hd->curl);
	if (curl_easy_getinfo(hd->curl, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK)
		connects = 1;
	transfer_result(rc, t, out);
	out->reused = connects == 0;
	return worth_retry(t, out);
}

/* delegate_client_send - send REQ's message to the delegator; OUT says how it went. */
void delegate_client_send(struct delegate_client *dc, const struct delegate_send_request *req,
			  struct delegate_send_result *out)
{
	uint64_t start = now_ms();
	uint64_t deadline = start + (req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	struct transfer *t = NULL;
	bool retry = true;

	memset(out, 0, sizeof(*out));
	out->status = SEND_FAILED;
	out->step = "local";
	if (request_check(req, out->error, sizeof(out->error)))
		t = transfer_new(req, out->error, sizeof(out->error));
	if (t != NULL) {
		t->last_progress_ms = start;
		t->deadline_ms = deadline;
	}
	for (int attempt = 0; t != NULL && retry && attempt < 2; attempt++) {
		uint64_t now = now_ms();
		/* A retry takes a new handle: the other idle ones may be stale too. */
		struct handle *hd = attempt == 0 ? pool_take(dc) : handle_new();

		if (hd == NULL) {
			snprintf(out->error, sizeof(out->error), "out of memory");
			break;
		}
		if (now >= deadline || (attempt > 0 && !reader_rewind(&t->reader))) {
			out->status = now >= deadline ? SEND_TIMEOUT : SEND_FAILED;
			snprintf(out->error, sizeof(out->error), "retry: %s", now >= deadline ?
				 "no time left" : "cannot rewind the message");
			handle_free(hd);
			break;
		}
		retry = transfer_attempt(dc, hd, t, deadline - now, out);
		out->retried = attempt > 0;
		if (out->status == SEND_ACCEPTED)
			pool_give(dc, hd);
		else
			handle_free(hd);        /* libcurl has closed the connection already */
	}
	transfer_free(t);
	out->elapsed_ms = (unsigned long) (now_ms() - start);
}

/* build_url - "smtp://host:port/", IPv6 addresses in brackets (malloc'ed). */
static char *build_url(const struct endpoint *ep)
{
	bool bracket = strchr(ep->host, ':') != NULL && ep->host[0] != '[';

	return xasprintf("smtp://%s%s%s:%u/", bracket ? "[" : "", ep->host, bracket ? "]" : "",
			 ep->port);
}

/* delegate_client_new - a client for DELEGATOR keeping at most MAX_IDLE idle handles. */
struct delegate_client *delegate_client_new(const struct endpoint *delegator, unsigned max_idle)
{
	struct delegate_client *dc = xcalloc(1, sizeof(*dc));

	dc->max_idle = max_idle;
	dc->idle_limit_s = DEFAULT_IDLE_LIMIT_S;
	dc->url = build_url(delegator);
	dc->idle = xcalloc(max_idle ? max_idle : 1, sizeof(*dc->idle));
	if (pthread_mutex_init(&dc->lock, NULL) != 0) {
		free(dc->url);
		free(dc->idle);
		free(dc);
		return NULL;
	}
	return dc;
}

/* delegate_client_set_idle_limit - reuse no connection idle longer than SECONDS (at least 1). */
void delegate_client_set_idle_limit(struct delegate_client *dc, unsigned seconds)
{
	dc->idle_limit_s = seconds ? (long)seconds : 1L;
}

/*
 * take_expired - the oldest kept handle if it has been idle for the idle
 * limit or longer, out of the pool; NULL if none. The LIFO keeps the oldest
 * at the bottom, idle[0].
 */
static struct handle *take_expired(struct delegate_client *dc, uint64_t now)
{
	uint64_t limit = (uint64_t)dc->idle_limit_s * 1000u;
	struct handle *hd = NULL;

	pool_lock(dc, true);
	if (dc->idle_count > 0 && now - dc->idle[0]->idle_since_ms >= limit) {
		hd = dc->idle[0];
		memmove(dc->idle, dc->idle + 1, --dc->idle_count * sizeof(*dc->idle));
	}
	pool_lock(dc, false);
	return hd;
}

/* delegate_client_close_idle - close (QUIT) the connections idle past the limit; how many. */
size_t delegate_client_close_idle(struct delegate_client *dc)
{
	uint64_t now = now_ms();
	struct handle *hd;
	size_t closed = 0;

	while ((hd = take_expired(dc, now)) != NULL) {
		handle_free(hd);        /* QUIT, outside the lock */
		closed++;
	}
	return closed;
}

/* delegate_client_free - close the idle connections (QUIT) and free DC; NULL ok. */
void delegate_client_free(struct delegate_client *dc)
{
	if (dc == NULL)
		return;
	for (size_t i = 0; i < dc->idle_count; i++)
		handle_free(dc->idle[i]);
	if (pthread_mutex_destroy(&dc->lock) != 0)
		log_msg(LOG_WARNING, "delegate_client: mutex still in use at free");
	free(dc->idle);
	free(dc->url);
	free(dc);
}

/* delegate_send_status_name - the status as a word for log lines. */
const char *delegate_send_status_name(enum delegate_send_status status)
{
	static const char *const names[] = {
		[SEND_ACCEPTED] = "accepted", [SEND_REFUSED] = "refused",
		[SEND_FAILED] = "failed", [SEND_TIMEOUT] = "timeout",
		[SEND_CANCELLED] = "cancelled",
	};

	if ((unsigned) status >= sizeof(names) / sizeof(names[0]) || names[status] == NULL)
		return "unknown";
	return names[status];
}
