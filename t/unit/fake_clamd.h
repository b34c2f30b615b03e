/*
 * fake_clamd.h - a scripted clamd for the unit tests (test_clamd_client.c,
 * test_clamd_service.c): one thread serving one connection on a unix socket
 * or loopback TCP. It records the command and the bytes it received (the
 * reassembled INSTREAM, or the file handed over with FILDES) and answers
 * as the test says: a reply, a reply in the middle of the stream (size
 * limit), a close without a word, or silence. Header-only.
 */
#ifndef MD_FAKE_CLAMD_H
#define MD_FAKE_CLAMD_H

#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* What the scripted clamd does after the command. */
enum behaviour {
	ANSWER,                 /* read the whole stream (or the fd), then send reply */
	ANSWER_EARLY,           /* after limit bytes, send reply and close (size limit) */
	CLOSE,                  /* read the command, close without a word */
	STALL,                  /* read everything, never answer (until the test ends) */
};

struct fake {
	int listen_fd;
	char path[108];
	unsigned port;
	pthread_t thread;
	enum behaviour behaviour;
	const char *reply;      /* sent with its NUL */
	size_t limit;           /* ANSWER_EARLY: bytes of data before answering */
	/* What it received: */
	char command[32];
	char *data;             /* INSTREAM: the reassembled stream; FILDES: the file */
	size_t data_len;
	size_t chunks;
	bool terminated;        /* the zero-length chunk came */
	bool got_fd;
	char fd_target[128];    /* FILDES: what /proc/self/fd says the file is ("/memfd:..." for memory) */
	int stall_fd;           /* STALL: closed by stop_fake */
};

/* read_full - LEN bytes from FD, false at EOF or error. */
static inline bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* read_command - the "z...\0" command. */
static inline void read_command(struct fake *f, int fd)
{
	size_t n = 0;

	while (n < sizeof(f->command) - 1 && read(fd, f->command + n, 1) == 1 && f->command[n])
		n++;
	f->command[n] = '\0';
}

/* keep - append LEN bytes to what the fake received. */
static inline void keep(struct fake *f, const void *p, size_t len)
{
	f->data = realloc(f->data, f->data_len + len + 1);
	memcpy(f->data + f->data_len, p, len);
	f->data_len += len;
}

/* read_instream - chunks until the zero length (or the early answer). */
static inline bool read_instream(struct fake *f, int fd)
{
	uint32_t be;
	char buf[65536];

	while (read_full(fd, &be, 4)) {
		size_t len = ntohl(be);

		if (len == 0) {
			f->terminated = true;
			return true;
		}
		f->chunks++;
		while (len > 0) {
			size_t want = len < sizeof(buf) ? len : sizeof(buf);

			if (!read_full(fd, buf, want))
				return false;
			keep(f, buf, want);
			len -= want;
			if (f->behaviour == ANSWER_EARLY && f->data_len >= f->limit)
				return true;
		}
	}
	return false;
}

/* read_fildes - the one byte with the descriptor; keep the file it names. */
static inline void read_fildes(struct fake *f, int fd)
{
	char byte, buf[4096];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	int file;
	ssize_t n;

	if (recvmsg(fd, &msg, 0) != 1 || !(c = CMSG_FIRSTHDR(&msg)) || c->cmsg_type != SCM_RIGHTS)
		return;
	memcpy(&file, CMSG_DATA(c), sizeof(int));
	f->got_fd = true;
	{
		char link[64];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", file);
		len = readlink(link, f->fd_target, sizeof(f->fd_target) - 1);
		f->fd_target[len > 0 ? len : 0] = '\0';
	}
	while ((n = read(file, buf, sizeof(buf))) > 0)
		keep(f, buf, (size_t)n);
	close(file);
}

/* fake_serve - the one connection of a test. */
static inline void *fake_serve(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	read_command(f, fd);
	if (f->behaviour != CLOSE) {
		if (strcmp(f->command, "zFILDES") == 0)
			read_fildes(f, fd);
		else
			read_instream(f, fd);
	}
	if (f->behaviour == ANSWER || f->behaviour == ANSWER_EARLY)
		(void)!write(fd, f->reply, strlen(f->reply) + 1);
	if (f->behaviour == STALL) {
		f->stall_fd = fd;
		return NULL;
	}
	close(fd);
	return NULL;
}

/* start_fake - listen on DIR/clamd.sock (TCP false) or loopback TCP; serve one connection. */
static inline void start_fake(struct fake *f, bool tcp, const char *dir)
{
	f->stall_fd = -1;
	if (tcp) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sa);

		f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sa, &len), 0);
		f->port = ntohs(sa.sin_port);
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(f->path, sizeof(f->path), "%s/clamd.sock", dir);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	assert_int_equal(listen(f->listen_fd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

/* stop_fake - join the thread, close its sockets (F->data stays: the test frees it). */
static inline void stop_fake(struct fake *f)
{
	pthread_join(f->thread, NULL);
	if (f->stall_fd >= 0)
		close(f->stall_fd);
	close(f->listen_fd);
	if (f->path[0])
		unlink(f->path);
}

#endif
