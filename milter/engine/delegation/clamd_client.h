/*
 * clamd_client.h - scan one message file with clamd, ClamAV's daemon.
 *
 * SYNOPSIS
 *	struct clamd_target to = { .socket_path = "/run/clamav/clamd.ctl" };
 *	struct clamd_scan_request req = { .fd = message_fd, .timeout_ms = 30000 };
 *	struct clamd_result res;
 *	clamd_scan(&to, &req, &res);
 *
 * DESCRIPTION
 *	One connection per scan, the null-terminated ("z") commands of
 *	clamd's protocol:
 *	INSTREAM  "zINSTREAM\0", then the file in chunks, each a 4-byte
 *	          length in network byte order and that many bytes, then a
 *	          zero length. clamd answers "stream: OK", "stream: NAME
 *	          FOUND", or "INSTREAM size limit exceeded. ERROR" (and
 *	          closes) once the stream passes its StreamMaxLength; the
 *	          client stops sending when clamd has answered early.
 *	FILDES    unix socket only: "zFILDES\0", then one byte carrying the
 *	          open file as SCM_RIGHTS; clamd reads the file itself (no
 *	          copy through the socket, no temporary file on clamd's side),
 *	          as clamav-milter does. Answers "fd[N]: OK", "fd[N]: NAME
 *	          FOUND". CLAMD_STREAM_AUTO picks it on a unix socket.
 *	Every reply ends with a NUL byte (clamd may close instead).
 *
 *	Time: timeout_ms bounds the whole scan, connecting included; every
 *	wait is a poll() against that deadline (a clamd that accepts and never
 *	answers is CLAMD_TIMEOUT, never a hang). TCP_NODELAY is set: the
 *	small terminator must not wait for a delayed ACK.
 *
 * OWNERSHIP
 *	Everything in the target and the request is borrowed for the call;
 *	the result is filled in by value. The message descriptor stays the
 *	caller's: it is rewound before each scan and never closed.
 *
 * THREAD SAFETY
 *	Thread-safe; no state is kept between calls. SIGPIPE is never raised
 *	(MSG_NOSIGNAL).
 *
 * DIAGNOSTICS
 *	Nothing is logged. CLAMD_FAILED and CLAMD_TIMEOUT carry the reason in
 *	error: "connect /run/clamav/clamd.ctl: No such file or directory",
 *	"clamd: INSTREAM size limit exceeded. ERROR", "no reply (connection
 *	closed)", "unexpected reply \"...\"", "timed out waiting for the
 *	reply". reply holds clamd's answer (printable, cut at CLAMD_REPLY_MAX).
 */
#ifndef MD_CLAMD_CLIENT_H
#define MD_CLAMD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"     /* enum clamd_stream, struct endpoint */

/* Where clamd listens: a unix socket path, or else a TCP endpoint. */
struct clamd_target {
	const char *socket_path;        /* NULL: use tcp */
	const struct endpoint *tcp;
	enum clamd_stream stream;
};

struct clamd_scan_request {
	int fd;                         /* the message, seekable (rewound for each scan); set it: 0 is stdin */
	unsigned timeout_ms;            /* the whole scan; 0: 60 s */
	/* Called about every progress_interval_ms (0: 2000) while waiting; NULL: not. */
	void (*progress)(void *arg);
	void *progress_arg;
	unsigned progress_interval_ms;
};

enum clamd_verdict {
	CLAMD_CLEAN,            /* "...: OK" */
	CLAMD_INFECTED,         /* "...: NAME FOUND": signature holds NAME */
	CLAMD_FAILED,           /* no connection, an ERROR reply, a bad or missing reply */
	CLAMD_TIMEOUT,          /* the deadline passed */
};

#define CLAMD_REPLY_MAX 256
#define CLAMD_NAME_MAX 128

struct clamd_result {
	enum clamd_verdict verdict;
	char signature[CLAMD_NAME_MAX]; /* CLAMD_INFECTED: printable ASCII, no spaces at the ends */
	char reply[CLAMD_REPLY_MAX];    /* clamd's reply without its NUL, or "" */
	char error[256];                /* FAILED/TIMEOUT: why; else "" */
	const char *mode;               /* "INSTREAM" or "FILDES" (static) */
	unsigned long elapsed_ms;
};

/* clamd_scan - scan REQ's message with the clamd at TO; OUT says what came of it. */
void clamd_scan(const struct clamd_target *to, const struct clamd_scan_request *req,
		struct clamd_result *out);

/*
 * clamd_parse_reply - classify clamd's reply TEXT (LEN bytes, NUL and line
 * end not needed) into OUT's verdict, signature, reply and error.
 */
void clamd_parse_reply(const char *text, size_t len, struct clamd_result *out);

/* clamd_verdict_name - "clean", "infected", "failed", "timeout". */
const char *clamd_verdict_name(enum clamd_verdict v);

#endif
