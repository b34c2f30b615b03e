/*
 * sock_connect.c - a connection to a unix socket or a TCP endpoint within a
 * deadline. See sock_connect.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "correlation.h"        /* corr_now_ms */
#include "sock_connect.h"

/* sock_wait - poll FD for EVENTS until DEADLINE_MS. */
int sock_wait(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		uint64_t now = corr_now_ms();
		int rc;

		if (now >= deadline_ms)
			return 0;
		rc = poll(&p, 1, (int)(deadline_ms - now < 1000000 ? deadline_ms - now : 1000000));
		if (rc > 0)
			return p.revents;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* connect_unix - FD connected to PATH; a full listen queue waits up to the deadline. */
static bool connect_unix(int fd, const char *path, uint64_t deadline_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t now = corr_now_ms(), left = deadline_ms > now ? deadline_ms - now : 1;
	struct timeval tv = { .tv_sec = (time_t)(left / 1000), .tv_usec = (long)(left % 1000) * 1000 };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
	       connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	       fcntl(fd, F_SETFL, O_NONBLOCK) == 0;
}

/* connect_ai - FD (non-blocking) connected to AI within the deadline. */
static bool connect_ai(int fd, const struct addrinfo *ai, uint64_t deadline_ms, bool *timed_out)
{
	int one = 1, err = 0, rev;
	socklen_t len = sizeof(err);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return true;
	if (errno != EINPROGRESS)
		return false;
	if ((rev = sock_wait(fd, POLLOUT, deadline_ms)) <= 0) {
		*timed_out = rev == 0;
		errno = rev == 0 ? ETIMEDOUT : errno;
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return false;
	errno = err;
	return err == 0;
}

/* sock_connect - a connected socket to PATH or TCP, or -1 with ERR. */
int sock_connect(const char *path, const struct endpoint *tcp, uint64_t deadline_ms,
		 char *err, size_t errlen, bool *timed_out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char port[8], name[300];
	int fd = -1, rc;
	bool ok = false;

	*timed_out = false;
	if (path) {
		snprintf(name, sizeof(name), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ok = fd >= 0 && connect_unix(fd, path, deadline_ms);
		*timed_out = !ok && errno == EAGAIN;
	} else {
		snprintf(port, sizeof(port), "%u", tcp->port);
		snprintf(name, sizeof(name), "%s:%u", tcp->host, tcp->port);
		if ((rc = getaddrinfo(tcp->host, port, &hints, &ai)) != 0) {
			snprintf(err, errlen, "resolve %s: %s", name, gai_strerror(rc));
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		ok = fd >= 0 && connect_ai(fd, ai, deadline_ms, timed_out);
		freeaddrinfo(ai);
	}
	if (ok)
		return fd;
	snprintf(err, errlen, "connect %s: %s", name, *timed_out ? "timed out" : strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
