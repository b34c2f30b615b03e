/*
 * shim_deliver.c - the next hop: relay over SMTP (delegate_client, no
 * correlation id) or write into a Maildir (tmp/, fsync, rename to new/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "delegate_client.h"
#include "shim_deliver.h"
#include "shim_edit.h"

#define SMTP_IDLE_CONNECTIONS 8

struct shim_nexthop {
	enum nexthop_kind kind;
	struct delegate_client *client;         /* NEXTHOP_SMTP */
	unsigned timeout_ms;
	char *maildir;                          /* NEXTHOP_MAILDIR */
	char *hostname;                         /* in Maildir file names */
	char description[1200];
	atomic_uint counter;                    /* unique Maildir names */
};

/* make_dir - mkdir PATH 0700 unless it exists. */
static bool make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return true;
	snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return false;
}

/* maildir_prepare - DIR and its tmp/, new/, cur/. */
static bool maildir_prepare(const char *dir, char *err, size_t errlen)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	char path[1100];

	if (!make_dir(dir, err, errlen))
		return false;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (!make_dir(path, err, errlen))
			return false;
	}
	return true;
}

/* shim_nexthop_new - the SMTP client or the Maildir of CFG. */
struct shim_nexthop *shim_nexthop_new(const struct shim_config *cfg, char *err, size_t errlen)
{
	struct shim_nexthop *nh = calloc(1, sizeof(*nh));

	if (!nh || !(nh->hostname = strdup(cfg->hostname)))
		abort();
	nh->kind = cfg->nexthop;
	if (nh->kind == NEXTHOP_SMTP) {
		nh->timeout_ms = cfg->smtp_timeout_ms > 0xffffffffu ? 0xffffffffu
								    : (unsigned)cfg->smtp_timeout_ms;
		nh->client = delegate_client_new(&cfg->smtp, SMTP_IDLE_CONNECTIONS);
		if (!nh->client)
			abort();
		snprintf(nh->description, sizeof(nh->description), "smtp %s:%u", cfg->smtp.host,
			 cfg->smtp.port);
		return nh;
	}
	if (!(nh->maildir = strdup(cfg->maildir)))
		abort();
	snprintf(nh->description, sizeof(nh->description), "maildir %s", cfg->maildir);
	if (!maildir_prepare(nh->maildir, err, errlen)) {
		shim_nexthop_free(nh);
		return NULL;
	}
	return nh;
}

/* shim_nexthop_free - release everything. */
void shim_nexthop_free(struct shim_nexthop *nh)
{
	if (!nh)
		return;
	delegate_client_free(nh->client);
	free(nh->maildir);
	free(nh->hostname);
	free(nh);
}

/* shim_nexthop_describe - for log lines. */
const char *shim_nexthop_describe(const struct shim_nexthop *nh)
{
	return nh->description;
}

/* write_edited - D's message, edited, into OUT_FD; false with DETAIL set. */
static bool write_edited(const struct shim_delivery *d, const char *prefix, int out_fd,
			 bool lf_only, char *detail, size_t len)
{
	struct shim_edit_request req = {
		.prefix = prefix, .edits = d->edits, .count = d->edit_count, .lf_only = lf_only,
	};
	FILE *in = fopen(d->path, "re");
	bool ok;

	if (!in) {
		snprintf(detail, len, "cannot open %s: %s", d->path, strerror(errno));
		return false;
	}
	ok = shim_edit_copy(in, out_fd, &req, detail, len);
	fclose(in);
	return ok;
}

/* sync_close - fsync (when SYNC) and close FD; false on any error. */
static bool sync_close(int fd, bool sync)
{
	bool ok = !sync || fsync(fd) == 0;

	return close(fd) == 0 && ok;
}

/* deliver_smtp - relay D to the next MTA through a temporary edited copy. */
static bool deliver_smtp(struct shim_nexthop *nh, const struct shim_delivery *d,
			 char *detail, size_t len)
{
	struct delegate_send_request req = {
		.sender = d->sender, .rcpts = d->rcpts, .rcpt_count = d->rcpt_count,
		.id = NULL, .timeout_ms = nh->timeout_ms,
	};
	struct delegate_send_result res;
	char *path;
	int fd;
	bool ok;

	if (asprintf(&path, "%s/shim-out.XXXXXX", d->spool_dir) < 0)
		abort();
	if ((fd = mkstemp(path)) < 0) {
		snprintf(detail, len, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return false;
	}
	ok = write_edited(d, d->prefix, fd, false, detail, len);
	if (!sync_close(fd, false) && ok)
		snprintf(detail, len, "cannot write %s: %s", path, strerror(errno)), ok = false;
	if (ok) {
		req.path = path;
		delegate_client_send(nh->client, &req, &res);
		ok = res.status == SEND_ACCEPTED;
		if (ok)
			snprintf(detail, len, "%s", res.reply);
		else
			snprintf(detail, len, "%s%s%s", res.error, res.reply[0] ? ": " : "", res.reply);
	}
	unlink(path);
	free(path);
	return ok;
}

/* maildir_name - a unique file name: TIME.MusecPpidQn_QUEUEID.HOST. */
static void maildir_name(struct shim_nexthop *nh, const char *qid, char *buf, size_t len)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(buf, len, "%lld.M%06ldP%ldQ%u_%s.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
		 (long)getpid(), atomic_fetch_add(&nh->counter, 1) + 1, qid ? qid : "NOQUEUE",
		 nh->hostname);
	for (char *p = buf; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
}

/* sync_dir - fsync a directory so a rename in it is durable. */
static bool sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd >= 0 && sync_close(fd, true);
}

/* deliver_maildir - D into NH's Maildir: tmp/, fsync, rename into new/. */
static bool deliver_maildir(struct shim_nexthop *nh, const struct shim_delivery *d,
			    char *detail, size_t len)
{
	char name[512], tmp[1700], final[1700], newdir[1100];
	char *prefix;
	int fd;
	bool ok;

	maildir_name(nh, d->queue_id, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", nh->maildir, name);
	snprintf(final, sizeof(final), "%s/new/%s", nh->maildir, name);
	snprintf(newdir, sizeof(newdir), "%s/new", nh->maildir);
	if (asprintf(&prefix, "Return-Path: <%s>\r\n%s", d->sender, d->prefix ? d->prefix : "") < 0)
		abort();
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(detail, len, "cannot create %s: %s", tmp, strerror(errno));
		free(prefix);
		return false;
	}
	ok = write_edited(d, prefix, fd, true, detail, len);
	free(prefix);
	if (!sync_close(fd, true) && ok)
		snprintf(detail, len, "cannot write %s: %s", tmp, strerror(errno)), ok = false;
	if (ok && rename(tmp, final) != 0)
		snprintf(detail, len, "cannot rename into %s: %s", final, strerror(errno)), ok = false;
	if (!ok) {
		unlink(tmp);
		return false;
	}
	if (!sync_dir(newdir)) {
		snprintf(detail, len, "cannot sync %s: %s", newdir, strerror(errno));
		unlink(final);          /* not durable: the client keeps its copy */
		return false;
	}
	snprintf(detail, len, "new/%s", name);
	return true;
}

/* shim_nexthop_deliver - D to the next hop. */
bool shim_nexthop_deliver(struct shim_nexthop *nh, const struct shim_delivery *d,
			  char *detail, size_t len)
{
	if (d->rcpt_count == 0) {
		snprintf(detail, len, "no recipients");
		return false;
	}
	return nh->kind == NEXTHOP_SMTP ? deliver_smtp(nh, d, detail, len)
					: deliver_maildir(nh, d, detail, len);
}
