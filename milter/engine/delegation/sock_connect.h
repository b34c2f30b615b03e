/*
 * sock_connect.h - open a stream connection to a unix socket path or a TCP
 * host:port within a deadline, for the clients that talk to their peer
 * directly (clamd_client, the pool's health probes; the SMTP delegate
 * client uses libcurl). The socket is returned non-blocking, close-on-exec,
 * with TCP_NODELAY on TCP. Thread-safe. The caller closes it.
 */
#ifndef MD_SOCK_CONNECT_H
#define MD_SOCK_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/*
 * sock_connect - connect to PATH (when not NULL) or TCP, giving up at
 * DEADLINE_MS (corr_now_ms clock). The socket, or -1 with the reason in ERR
 * ("connect 127.0.0.1:3310: Connection refused", "connect ...: timed out");
 * *TIMED_OUT says whether the deadline was the reason.
 */
int sock_connect(const char *path, const struct endpoint *tcp, uint64_t deadline_ms,
		 char *err, size_t errlen, bool *timed_out);

/*
 * sock_wait - poll FD for EVENTS until DEADLINE_MS; the revents, 0 at the
 * deadline, -1 on a poll error.
 */
int sock_wait(int fd, short events, uint64_t deadline_ms);

#endif
