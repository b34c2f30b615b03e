/*
 * spool.c - message text in memory, then in a file; and durable
 * publication of a file (see spool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>           /* memfd_create */
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "xalloc.h"

#define COPY_CHUNK 65536

struct spool {
	char *dir;
	char *prefix;
	size_t mem_max;
	char *mem;                      /* the text while in memory */
	size_t mem_len, mem_cap;
	char *path;                     /* the file, once there is one */
	FILE *file;                     /* open for writing until spool_finish */
	uint64_t size;
	bool finished;
	bool failed;
	char error[512];
};

/* fail - note the first failure of S with errno's reason. */
static void fail(struct spool *s, const char *what, const char *path)
{
	int e = errno ? errno : EIO;

	if (!s->failed)
		snprintf(s->error, sizeof(s->error), "cannot %s spool file %s%s: %s", what,
			 path == s->dir ? "in " : "", path, strerror(e));
	s->failed = true;
}

/* to_file - move the text kept in memory into a new file. */
static bool to_file(struct spool *s)
{
	char *path;
	int fd;

	path = xasprintf("%s/%s.XXXXXX", s->dir, s->prefix);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0 || !(s->file = fdopen(fd, "w"))) {
		fail(s, "create a", fd >= 0 ? path : s->dir);
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		return false;
	}
	s->path = path;
	if (s->mem_len && fwrite(s->mem, 1, s->mem_len, s->file) != s->mem_len)
		fail(s, "write", path);
	free(s->mem);
	s->mem = NULL;
	s->mem_len = s->mem_cap = 0;
	if (s->finished && fclose(s->file) != 0)
		fail(s, "write", path);
	if (s->finished)
		s->file = NULL;
	return !s->failed;
}

/* spool_new - an empty spool. */
struct spool *spool_new(const char *dir, const char *prefix, size_t mem_max)
{
	struct spool *s = xcalloc(1, sizeof(*s));

	s->dir = xstrdup(dir);
	s->prefix = xstrdup(prefix);
	s->mem_max = mem_max;
	if (mem_max == 0)
		to_file(s);
	return s;
}

/* mem_append - LEN bytes into the memory buffer. */
static void mem_append(struct spool *s, const void *data, size_t len)
{
	if (s->mem_len + len > s->mem_cap) {
		size_t cap = s->mem_cap ? s->mem_cap : 4096;

		while (cap < s->mem_len + len)
			cap *= 2;
		s->mem = xrealloc(s->mem, cap);
		s->mem_cap = cap;
	}
	memcpy(s->mem + s->mem_len, data, len);
	s->mem_len += len;
}

/* spool_write - append text; to a file once memory would grow past the limit. */
bool spool_write(struct spool *s, const void *data, size_t len)
{
	if (s->failed || len == 0)
		return !s->failed;
	if (s->finished) {
		errno = EBADF;
		fail(s, "write", s->path ? s->path : s->dir);   /* a bug of the caller */
		return false;
	}
	if (!s->path && s->size + len > s->mem_max && !to_file(s))
		return false;
	if (s->path) {
		if (fwrite(data, 1, len, s->file) != len)
			fail(s, "write", s->path);
	} else {
		mem_append(s, data, len);
	}
	s->size += len;
	return !s->failed;
}

/* spool_finish - flush and close the file. */
bool spool_finish(struct spool *s)
{
	s->finished = true;
	if (s->file) {
		if (fclose(s->file) != 0)
			fail(s, "write", s->path);
		s->file = NULL;
	}
	return !s->failed;
}

/* spool_path - the text as a file, written out now if it was in memory. */
const char *spool_path(struct spool *s)
{
	if (s->failed || (!s->path && !to_file(s)))
		return NULL;
	if (s->file && fflush(s->file) != 0)
		fail(s, "write", s->path);
	return s->failed ? NULL : s->path;
}

/* spool_open - read the text from its start; memory is read in place. */
FILE *spool_open(struct spool *s)
{
	if (s->failed)
		return NULL;
	if (s->path) {
		if (s->file && fflush(s->file) != 0) {
			fail(s, "write", s->path);
			return NULL;
		}
		return fopen(s->path, "re");
	}
	if (s->mem_len == 0)
		return fopen("/dev/null", "re");
	return fmemopen(s->mem, s->mem_len, "r");
}

/* spool_fd - the file opened again, or the memory in a memfd. */
int spool_fd(struct spool *s)
{
	int fd;

	if (s->failed) {
		errno = EIO;
		return -1;
	}
	if (s->path) {
		if (s->file && fflush(s->file) != 0) {
			fail(s, "write", s->path);
			return -1;
		}
		return open(s->path, O_RDONLY | O_CLOEXEC);
	}
	if ((fd = memfd_create("md-message", MFD_CLOEXEC)) < 0)
		return -1;
	if (!spool_write_fd(fd, s->mem, s->mem_len) || lseek(fd, 0, SEEK_SET) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* spool_size - bytes written so far. */
uint64_t spool_size(const struct spool *s)
{
	return s->size;
}

/* spool_ok - no failure so far. */
bool spool_ok(const struct spool *s)
{
	return !s->failed;
}

/* spool_error - the first failure, or "". */
const char *spool_error(const struct spool *s)
{
	return s->error;
}

/* spool_release - hand the finished file to the caller. */
char *spool_release(struct spool *s)
{
	char *path = NULL;

	if (spool_finish(s) && spool_path(s)) {
		path = s->path;
		s->path = NULL;
	}
	spool_free(s);
	return path;
}

/* spool_free - free the memory, unlink the file. */
void spool_free(struct spool *s)
{
	if (!s)
		return;
	if (s->file)
		fclose(s->file);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s->mem);
	free(s->dir);
	free(s->prefix);
	free(s);
}

/* spool_write_fd - the whole of DATA to FD. */
bool spool_write_fd(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* spool_copy_file - the file PATH to FD. */
bool spool_copy_file(const char *path, int fd)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = xmalloc(COPY_CHUNK);
	ssize_t n = 0;
	bool ok = in >= 0;

	while (ok && (n = read(in, buf, COPY_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && spool_write_fd(fd, buf, (size_t)n);
	}
	free(buf);
	if (in >= 0)
		close(in);
	return ok;
}

/* spool_make_dir - mkdir PATH 0700 unless it exists. */
bool spool_make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return true;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return false;
}

/* sync_close - fsync and close FD; false on any error. */
static bool sync_close(int fd)
{
	bool ok = fsync(fd) == 0;

	return close(fd) == 0 && ok;
}

/* sync_dir - fsync a folder so that a rename in it is durable. */
static bool sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd >= 0 && sync_close(fd);
}

/* publish_file - fill, fsync and rename TMP to FINAL; false with ERR. */
static bool publish_file(const char *tmp, const char *final, spool_fill_fn fill, void *arg,
			 char *err, size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool filled;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	err[0] = '\0';
	errno = 0;
	filled = fill(fd, arg, err, errlen);
	if (!filled && !err[0])
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
	if (!filled)
		close(fd);
	else if (!sync_close(fd))
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
	if (!filled || err[0]) {
		unlink(tmp);
		return false;
	}
	if (rename(tmp, final) != 0) {
		snprintf(err, errlen, "cannot rename into %s: %s", final, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

/* spool_publish - DIR/NAME written durably. */
bool spool_publish(const char *dir, const char *name, const char *tmp_dir, spool_fill_fn fill,
		   void *arg, char *err, size_t errlen)
{
	char *tmp = tmp_dir ? xasprintf("%s/%s", tmp_dir, name) : xasprintf("%s/.tmp-%s", dir, name);
	char *final = xasprintf("%s/%s", dir, name);
	bool ok = publish_file(tmp, final, fill, arg, err, errlen);

	if (ok && !sync_dir(dir)) {
		snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
		unlink(final);          /* not durable: whoever sent it keeps its copy */
		ok = false;
	}
	free(tmp);
	free(final);
	return ok;
}
