/*
 * milter_socket.c - the milter socket: where it lives and who may connect,
 * a prompt wake-up of libmilter's listener at SIGTERM, and no Nagle and no
 * delayed ACK on the MTA's TCP connections, which libmilter does not set up
 * itself.
 *
 * A unix socket. Its folder must exist (start-up creates it, 0750, owned
 * by the run-as user and the socket's group, when the parent exists) and
 * be writable by the run-as user, who removes the socket at stop. The
 * socket is created with the mode of -m (default 0660: no umask can widen
 * it) and gets the group of -g (default "postfix" when that group exists,
 * because Postfix connects as user postfix; else the run-as user's), owned
 * by the run-as user. A socket a running program still answers on is not
 * taken over (libmilter would unlink it).
 *
 * Stopping. libmilter's listener polls its socket with a 5 s timeout and
 * looks at its stop flag in between, so an idle milter used to linger up
 * to 5 s after SIGTERM with its receiver ports bound (its stop even waits
 * for the lock the listener holds while polling). poll() is wrapped (ld
 * --wrap): a poll on the listening socket also watches a pipe, which
 * milter_socket_wake() writes to at SIGTERM. The pipe stays readable, so
 * the listener keeps returning from poll until libmilter's stop, which
 * takes its locks in between, has set the stop flag and closed the socket.
 *
 * TCP. Over an inet milter socket each command of the MTA and each reply of
 * ours is a small write. Postfix's milter client writes a command as two
 * pieces with Nagle's algorithm on, so the second piece waits until we ACK
 * the first; Linux delays that ACK up to 40 ms. libmilter then answers with
 * small writes of its own, each of which Nagle may hold back too. Measured
 * here: 107 messages/s over inet against 286 over a unix socket, ~92 ms per
 * message of which ~80 ms were these stalls.
 *
 * libmilter is linked statically (see GNUmakefile) and its accept() and
 * read() calls are wrapped (ld --wrap): an accepted TCP connection gets
 * TCP_NODELAY, and after every read from it TCP_QUICKACK is set again (the
 * kernel drops quick-ACK mode by itself), so the MTA's next piece is
 * acknowledged at once. close() is wrapped to forget the descriptor. Unix
 * sockets and files are left alone.
 *
 * State: one flag per descriptor number, atomic, set by accept and cleared
 * by close; descriptors beyond MAX_TRACKED_FD are simply not tuned. The
 * socket's path and inode, the wake-up pipe and the listener's descriptor
 * (learnt at its first poll), set during start-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "milter_socket.h"

#define MAX_TRACKED_FD 65536

static atomic_bool tcp_milter_fd[MAX_TRACKED_FD];

int __real_accept(int fd, struct sockaddr *addr, socklen_t *len);
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len);
ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __wrap_read(int fd, void *buf, size_t count);
int __real_close(int fd);
int __wrap_close(int fd);
int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout);

static const char *socket_path;         /* a unix socket's file, NULL for inet */
static ino_t socket_inode;              /* ... as created, to remove only ours */
static int wake_pipe[2] = { -1, -1 };   /* written at SIGTERM */
static atomic_int listen_fd = -1;       /* libmilter's listening socket, once seen */

/* milter_socket_path - the file of a "unix:" or "local:" SPEC; NULL for inet. */
const char *milter_socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		return strchr(spec, ':') + 1;
	if (strchr(spec, ':') == NULL)
		return spec;    /* libmilter takes a bare path as a unix socket */
	return NULL;
}

/* socket_group - the gid for the socket: GROUP, "postfix" if it exists, or U's. */
static bool socket_group(const char *group, const struct run_as *u, gid_t *gid,
			 struct load_errors *errs)
{
	struct group *gr = getgrnam(group ? group : "postfix");

	if (gr)
		*gid = gr->gr_gid;
	else if (!group)
		*gid = u->gid;
	else
		load_errors_add(errs, "unknown group %s (-g, the milter socket's group)", group);
	return gr || !group;
}

/* socket_in_use - does a program answer on the unix socket PATH? */
static bool socket_in_use(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool answered;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	answered = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	__real_close(fd);
	return answered;
}

/* milter_socket_check - the socket's group and folder; see milter_socket.h. */
bool milter_socket_check(const struct milter_socket_spec *s, const struct run_as *u,
			 enum daemon_check_mode mode, struct load_errors *errs)
{
	struct folder_spec folder = { "milter socket folder", 0750, 0, false };
	const char *path = milter_socket_path(s->spec);
	size_t before = errs->count;
	struct stat st;

	if (!socket_group(s->group, u, &folder.group, errs) || !path)
		return errs->count == before;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		load_errors_add(errs, "milter socket %s: the path is too long", path);
	daemon_check_file_folder(path, &folder, u, mode, errs);
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		load_errors_add(errs, "milter socket %s: a file that is not a socket is in the way",
				path);
	else if (mode == DAEMON_PREPARE && lstat(path, &st) == 0 && socket_in_use(path))
		load_errors_add(errs, "milter socket %s: a running program answers on it "
				"(another milter-delegate?)", path);
	return errs->count == before;
}

/* give_socket - mode and owners of the new unix socket PATH. */
static bool give_socket(const char *path, const struct milter_socket_spec *s,
			const struct run_as *u)
{
	struct load_errors errs = { 0 };
	struct stat st;
	gid_t gid = u->gid;

	(void)socket_group(s->group, u, &gid, &errs);
	load_errors_free(&errs);
	if (chmod(path, (mode_t)s->mode) != 0 ||
	    (geteuid() == 0 && chown(path, u->uid, gid) != 0) || lstat(path, &st) != 0) {
		log_msg(LOG_ERR, "milter socket %s: cannot set its mode and owner: %s", path,
			strerror(errno));
		return false;
	}
	socket_inode = st.st_ino;
	return true;
}

/* milter_socket_open - libmilter opens the socket, with our mode, owners and wake-up pipe. */
bool milter_socket_open(const struct milter_socket_spec *s, const struct run_as *u)
{
	const char *path = milter_socket_path(s->spec);
	mode_t old = 0;
	int rc, err;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_msg(LOG_ERR, "pipe: %s", strerror(errno));
		return false;
	}
	if (path)
		old = umask(0777 & ~(mode_t)s->mode);
	errno = 0;
	rc = smfi_opensocket(true);
	err = errno;
	if (path)
		umask(old);
	if (rc != MI_SUCCESS) {
		log_msg(LOG_ERR, "cannot open milter socket %s: %s", s->spec,
			err ? strerror(err) : "libmilter gave no reason (see its log line)");
		return false;
	}
	socket_path = path;
	return !path || give_socket(path, s, u);
}

/* milter_socket_wake - wake libmilter's listener so that it sees the stop flag now. */
void milter_socket_wake(void)
{
	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0) {
		/* Full or closed: the listener is awake already, or gone. */
	}
}

/* milter_socket_remove - at stop, remove the unix socket if it is still the one we made. */
void milter_socket_remove(void)
{
	struct stat st;

	if (!socket_path || lstat(socket_path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_ino != socket_inode)
		return;
	if (unlink(socket_path) != 0)
		log_msg(LOG_WARNING, "cannot remove milter socket %s: %s", socket_path,
			strerror(errno));
}

/* is_listener - is FD libmilter's listening socket? Learnt at its first poll. */
static bool is_listener(int fd)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (atomic_load(&listen_fd) >= 0)
		return fd == atomic_load(&listen_fd);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
		return false;
	atomic_store(&listen_fd, fd);
	return true;
}

/* __wrap_poll - libmilter's poll(); on its listening socket, also wake at SIGTERM. */
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct pollfd both[2];
	int n;

	if (nfds != 1 || wake_pipe[0] < 0 || !is_listener(fds[0].fd))
		return __real_poll(fds, nfds, timeout);
	both[0] = fds[0];
	both[1] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
	n = __real_poll(both, 2, timeout);
	if (n <= 0)
		return n;
	fds[0].revents = both[0].revents;
	return both[0].revents ? 1 : 0;     /* woken: a "timeout", and libmilter looks at its flag */
}

/* is_tcp - is FD an IPv4 or IPv6 stream socket? */
static bool is_tcp(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	       (domain == AF_INET || domain == AF_INET6);
}

/* __wrap_accept - libmilter's accept(): tune a TCP connection from the MTA. */
int __wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int conn = __real_accept(fd, addr, len);
	int one = 1;

	if (conn >= 0 && conn < MAX_TRACKED_FD && is_tcp(conn)) {
		(void)setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		atomic_store_explicit(&tcp_milter_fd[conn], true, memory_order_relaxed);
	}
	return conn;
}

/* __wrap_read - read(), then acknowledge the MTA's data without delay. */
ssize_t __wrap_read(int fd, void *buf, size_t count)
{
	ssize_t n = __real_read(fd, buf, count);
	int one = 1;

	if (n > 0 && fd >= 0 && fd < MAX_TRACKED_FD &&
	    atomic_load_explicit(&tcp_milter_fd[fd], memory_order_relaxed))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	return n;
}

/* __wrap_close - forget a descriptor before it can be reused. */
int __wrap_close(int fd)
{
	if (fd >= 0 && fd < MAX_TRACKED_FD)
		atomic_store_explicit(&tcp_milter_fd[fd], false, memory_order_relaxed);
	return __real_close(fd);
}
