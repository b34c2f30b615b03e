/*
 * daemon_check.c - start-up checks of user, folders and receiver addresses
 * (see daemon_check.h). Holds no state; errors go into the caller's list.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_check.h"
#include "log.h"

/* run_as_lookup - the ids of USER, or of the current user. */
bool run_as_lookup(const char *user, struct run_as *u, struct load_errors *errs)
{
	struct passwd *pw;

	*u = (struct run_as){ .name = NULL, .uid = geteuid(), .gid = getegid() };
	if (!user)
		return true;
	if (!(pw = getpwnam(user))) {
		load_errors_add(errs, "unknown user %s (-u): create it first, e.g. "
				"adduser --system --group %s", user, user);
		return false;
	}
	*u = (struct run_as){ .name = user, .uid = pw->pw_uid, .gid = pw->pw_gid };
	return true;
}

/* run_as_describe - "user NAME" or "the current user". */
const char *run_as_describe(const struct run_as *u, char *buf, size_t len)
{
	if (!u->name)
		return "the current user";
	snprintf(buf, len, "user %s", u->name);
	return buf;
}

/* access_as - 0 if U may access PATH with MODE (access(2) bits), else the errno. */
static int access_as(const struct run_as *u, const char *path, int mode)
{
	pid_t pid;
	int status;

	if (!u->name || geteuid() != 0)
		return euidaccess(path, mode) == 0 ? 0 : errno;
	/* The ids exactly as daemon_drop_privileges() sets them, in a child. */
	if ((pid = fork()) < 0)
		return errno;
	if (pid == 0) {
		if (setgroups(1, &u->gid) != 0 || setresgid(u->gid, u->gid, u->gid) != 0 ||
		    setresuid(u->uid, u->uid, u->uid) != 0)
			_exit(EPERM);
		_exit(access(path, mode) == 0 ? 0 : errno);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
}

/* describe_owner - "owner NAME, mode 0755" of ST into BUF. */
static const char *describe_owner(const struct stat *st, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);

	snprintf(buf, len, "owner %s:%s, mode %04o", pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
		 (unsigned)(st->st_mode & 07777));
	return buf;
}

/* parent_of - cut PATH (a copy) to its parent folder; false when it has none left. */
static bool parent_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (!slash)
		return false;
	if (slash == path)
		slash[1] = '\0';        /* "/x" -> "/" */
	else
		*slash = '\0';
	return true;
}

/* creatable - could we (the starting user) create the missing folder PATH? */
static bool creatable(const char *path, const struct folder_spec *spec, struct load_errors *errs)
{
	char dir[PATH_MAX];
	struct stat st = { 0 };

	snprintf(dir, sizeof(dir), "%s", path);
	do {
		if (!parent_of(dir))
			snprintf(dir, sizeof(dir), ".");        /* a relative name */
		if (stat(dir, &st) == 0)
			break;
		if (errno != ENOENT || !spec->parents) {
			load_errors_add(errs, "%s %s does not exist and cannot be created: %s: %s",
					spec->what, path, dir, strerror(errno));
			return false;
		}
	} while (strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0);
	if (!S_ISDIR(st.st_mode)) {
		load_errors_add(errs, "%s %s does not exist and cannot be created: %s is not a folder",
				spec->what, path, dir);
		return false;
	}
	if (euidaccess(dir, W_OK | X_OK) != 0) {
		load_errors_add(errs, "%s %s does not exist and cannot be created in %s: %s",
				spec->what, path, dir, strerror(errno));
		return false;
	}
	return true;
}

/* make_parents - mkdir every missing parent of PATH, 0755. */
static bool make_parents(const char *path, struct load_errors *errs, const char *what)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			load_errors_add(errs, "%s %s: cannot create %s: %s", what, path, dir,
					strerror(errno));
			return false;
		}
		*p = '/';
	}
	return true;
}

/* create_folder - mkdir PATH as SPEC says, owned by U. */
static bool create_folder(const char *path, const struct folder_spec *spec,
			  const struct run_as *u, struct load_errors *errs)
{
	gid_t group = spec->group == (gid_t)-1 ? u->gid : spec->group;
	char who[96];

	if (spec->parents && !make_parents(path, errs, spec->what))
		return false;
	if ((mkdir(path, spec->mode) != 0 && errno != EEXIST) || chmod(path, spec->mode) != 0 ||
	    (geteuid() == 0 && chown(path, u->uid, group) != 0)) {
		load_errors_add(errs, "%s %s: cannot create it: %s", spec->what, path, strerror(errno));
		return false;
	}
	log_msg(LOG_NOTICE, "created %s %s for %s (mode %04o)", spec->what, path,
		run_as_describe(u, who, sizeof(who)), (unsigned)spec->mode);
	return true;
}

/* daemon_check_folder - PATH is a folder U can write, or (PREPARE) is made one. */
bool daemon_check_folder(const char *path, const struct folder_spec *spec,
			 const struct run_as *u, enum daemon_check_mode mode,
			 struct load_errors *errs)
{
	struct stat st;
	char who[96], owner[160];
	int err;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT) {
			load_errors_add(errs, "%s %s: %s", spec->what, path, strerror(errno));
			return false;
		}
		if (!creatable(path, spec, errs))
			return false;
		if (mode == DAEMON_CHECK)
			return true;    /* start-up creates it */
		if (!create_folder(path, spec, u, errs) || stat(path, &st) != 0)
			return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		load_errors_add(errs, "%s %s: not a folder", spec->what, path);
		return false;
	}
	if ((err = access_as(u, path, W_OK | X_OK)) != 0) {
		load_errors_add(errs, "%s %s: not writable by %s: %s (%s)", spec->what, path,
				run_as_describe(u, who, sizeof(who)), strerror(err),
				describe_owner(&st, owner, sizeof(owner)));
		return false;
	}
	return true;
}

/* daemon_check_readable - U can read PATH. */
bool daemon_check_readable(const char *path, const char *what, const struct run_as *u,
			   struct load_errors *errs)
{
	char who[96];
	int err = access_as(u, path, R_OK);

	if (err == 0)
		return true;
	load_errors_add(errs, "%s %s: not readable by %s: %s", what, path,
			run_as_describe(u, who, sizeof(who)), strerror(err));
	return false;
}

/* check_receiver - the receiver address of service S is one we can bind (any port). */
static bool check_receiver(const struct service *s, struct load_errors *errs)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int rc, fd, err = 0;

	if (s->type == SERVICE_CLAMD)
		return true;            /* no receiver: clamd answers on its own connection */
	if ((rc = getaddrinfo(s->receiver.host, "0", &hints, &ai)) != 0) {
		load_errors_add(errs, "receiver of service %s: address %s: %s", s->name,
				s->receiver.host, gai_strerror(rc));
		return false;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	if (err == 0)
		return true;
	load_errors_add(errs, "receiver of service %s: cannot listen on %s: %s", s->name,
			s->receiver.host, strerror(err));
	return false;
}

/* daemon_check_policy - spool, quarantine, receivers, and the policy file for U. */
bool daemon_check_policy(const struct policy *p, const struct run_as *u,
			 enum daemon_check_mode mode, struct load_errors *errs)
{
	static const struct folder_spec spool = { "spool folder (settings.spool_dir)", 0700,
						  (gid_t)-1, true };
	static const struct folder_spec quarantine = {
		"quarantine folder (settings.quarantine_dir)", 0700, (gid_t)-1, true };
	size_t before = errs->count;

	daemon_check_folder(p->settings.spool_dir, &spool, u, mode, errs);
	daemon_check_folder(p->settings.quarantine_dir, &quarantine, u, mode, errs);
	for (size_t i = 0; i < p->service_count; i++)
		check_receiver(&p->services[i], errs);
	if (u->name && p->path)
		daemon_check_readable(p->path, "policy file (read again at SIGHUP)", u, errs);
	return errs->count == before;
}

/* daemon_check_file_folder - the folder PATH lives in, for U. */
bool daemon_check_file_folder(const char *path, const struct folder_spec *spec,
			      const struct run_as *u, enum daemon_check_mode mode,
			      struct load_errors *errs)
{
	char dir[PATH_MAX];
	struct folder_spec leaf = *spec;

	snprintf(dir, sizeof(dir), "%s", path);
	if (!parent_of(dir))
		snprintf(dir, sizeof(dir), ".");
	leaf.parents = false;
	return daemon_check_folder(dir, &leaf, u, mode, errs);
}

/* daemon_check_print - print the errors of a -t check and what failed, on stderr. */
bool daemon_check_print(struct load_errors *errs, bool ok, const char *failed)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "%s\n", errs->items[i]);
	if (!ok)
		fprintf(stderr, "%zu error%s: %s\n", errs->count, errs->count == 1 ? "" : "s", failed);
	load_errors_free(errs);
	return ok;
}

/* daemon_check_policy_file - load and summarize the policy, then check what start-up needs. */
bool daemon_check_policy_file(const char *path, const char *program, daemon_check_fn check,
			      const void *opts)
{
	struct load_errors errs = { 0 };
	struct policy *p = policy_load_file(path, &errs);
	char summary[512], failed[128];
	bool ready;

	if (!p)
		return daemon_check_print(&errs, false, "policy not loaded");
	policy_summary(p, summary, sizeof(summary));
	printf("%s\n", summary);
	fflush(stdout);
	snprintf(failed, sizeof(failed), "%s would not start", program);
	ready = daemon_check_print(&errs, check(opts, p, DAEMON_CHECK, &errs), failed);
	policy_unref(p);
	return ready;
}

/* daemon_check_report - log the errors of a start-up check and its summary. */
bool daemon_check_report(struct load_errors *errs, bool ok)
{
	for (size_t i = 0; i < errs->count; i++)
		log_msg(LOG_ERR, "%s", errs->items[i]);
	if (!ok)
		log_msg(LOG_ERR, "start-up failed: %zu error%s", errs->count,
			errs->count == 1 ? "" : "s");
	load_errors_free(errs);
	return ok;
}
