/*
 * fuzz_smtp_receiver.c - libFuzzer target for the SMTP server's command and
 * DATA parser and the receiver's handling of returned copies (the header
 * scan for X-Delegate-Id, spooling, hand-over to the correlation table).
 *
 * One receiver runs for the whole fuzzing session on a loopback port. Each
 * input is one SMTP session: sent as it is over a new connection, which is
 * then half-closed, and every reply is read until the server closes. Every
 * "@ID@" in the input is replaced by a freshly registered correlation id,
 * so the accepted path (a live id) is reached as well as the refusals.
 * Afterwards the spool directory must be empty: whatever became of the
 * copy, no file may be left behind; and a copy that was handed over holds
 * no line that starts an X-Delegate-Id field, wherever it was (the top of
 * the header, or an original a filter attached).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "correlation.h"
#include "fuzz_support.h"
#include "msg_text.h"
#include "receiver.h"

#define MAX_SESSION_BYTES 65536

static struct corr_table *table;
static struct receiver *receiver;
static char spool[] = "/tmp/md-fuzz-receiver.XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct endpoint addr = { .host = "127.0.0.1", .port = 0 };
	char err[256];

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	if (!mkdtemp(spool))
		abort();
	table = corr_new();
	receiver = receiver_start(&(struct receiver_config){ .address = &addr, .spool_dir = spool }, table, err, sizeof(err));
	if (!receiver) {
		fprintf(stderr, "fuzz_smtp_receiver: %s\n", err);
		abort();
	}
	return 0;
}

/* with_ids - the input with "@ID@" replaced by ID (caller frees); *LEN updated. */
static char *with_ids(const uint8_t *data, size_t *len, const char *id)
{
	char *out = malloc(*len * (CORR_ID_LEN / 4 + 1) + 1);
	size_t o = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < *len; i++) {
		if (i + 4 <= *len && memcmp(data + i, "@ID@", 4) == 0) {
			memcpy(out + o, id, CORR_ID_LEN);
			o += CORR_ID_LEN;
			i += 3;
		} else {
			out[o++] = (char)data[i];
		}
	}
	*len = o;
	return out;
}

/*
 * connect_receiver - a new connection to the receiver. Thousands of
 * sessions a second would leave every loopback port in TIME_WAIT: close()
 * resets the connection instead (SO_LINGER 0, set in run_session), and a
 * connect that still finds no free port, or that libFuzzer's timer signal
 * interrupted, is retried for a while.
 */
static int connect_receiver(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)receiver_port(receiver)) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int tries = 0; tries < 500; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			abort();
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (errno != EADDRNOTAVAIL && errno != EAGAIN && errno != EINTR)
			break;
		usleep(10 * 1000);
	}
	fprintf(stderr, "fuzz_smtp_receiver: cannot connect to the receiver: %s\n", strerror(errno));
	abort();
}

/* run_session - send TEXT over a new connection and read until the server closes. */
static void run_session(const char *text, size_t len)
{
	struct timeval tv = { .tv_sec = 10 };
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	char buf[4096];
	int fd = connect_receiver();

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Replies are read as they come, so a long session cannot fill both buffers. */
	for (size_t sent = 0; sent < len;) {
		ssize_t n = send(fd, text + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			sent += (size_t)n;
		else if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0)
			break;          /* the server closed (421, QUIT) */
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
}

/* spool_is_empty - no file left behind once every session has ended. */
static bool spool_is_empty(void)
{
	DIR *d = opendir(spool);
	struct dirent *e;
	bool empty = true;

	if (!d)
		abort();
	while ((e = readdir(d)))
		empty &= e->d_name[0] == '.';
	closedir(d);
	return empty;
}

/* check_copy - a handed-over copy holds no id field line at all. */
static void check_copy(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		abort();
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (msg_is_field(line, len, MSG_ID_FIELD, false, NULL)) {
			fprintf(stderr, "fuzz_smtp_receiver: an id field is left in the copy\n");
			abort();
		}
	}
	free(line);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[CORR_ID_LEN + 1], *text, *copy;
	struct corr_entry *e;
	size_t len = size;

	if (size > MAX_SESSION_BYTES)
		return 0;
	e = corr_register(table, id);
	text = with_ids(data, &len, id);
	run_session(text, len);
	free(text);
	copy = corr_take_copy(table, e);
	if (copy) {
		check_copy(copy);
		unlink(copy);
	}
	free(copy);
	corr_release(table, e);
	/* The session thread may still be ending; wait for it before looking. */
	for (int i = 0; i < 200 && receiver_sessions(receiver) > 0; i++)
		usleep(1000);
	if (receiver_sessions(receiver) == 0 && !spool_is_empty()) {
		fprintf(stderr, "fuzz_smtp_receiver: a file was left in %s\n", spool);
		abort();
	}
	return 0;
}
