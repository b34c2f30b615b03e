/*
 * reload_storm.c - reload a daemon's policy over and over, for tests: every
 * INTERVAL_MS put the next of FILE... in place as TARGET (written to
 * TARGET.new, then renamed over TARGET, so a reader never sees half a file)
 * and send SIGHUP to PID. The files are read once, at start, and taken in
 * turn: the first round installs the first FILE.
 *
 * usage: reload_storm PID INTERVAL_MS SECONDS TARGET FILE...
 *
 * Stops at SIGTERM or SIGINT, after SECONDS, or when PID is gone; then
 * prints the number of SIGHUPs sent and exits 0 (1 on a usage or file
 * error). A shell loop cannot keep this pace where fork costs tens of
 * milliseconds (one mv per round): this does it without a child process.
 * Test tool, not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 8

struct content {
	char *text;
	size_t len;
};

static volatile sig_atomic_t stopping;

/* on_stop - SIGTERM/SIGINT: end the loop after this round. */
static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* read_whole - PATH into C (malloc'ed, the caller keeps it); false on error. */
static bool read_whole(const char *path, struct content *c)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		if (f)
			fclose(f);
		return false;
	}
	c->len = (size_t)size;
	if (!(c->text = malloc(c->len + 1)) || fread(c->text, 1, c->len, f) != c->len) {
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

/* install - write C to TMP and rename it over TARGET; false on error. */
static bool install(const struct content *c, const char *tmp, const char *target)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool written;

	if (fd < 0)
		return false;
	written = write(fd, c->text, c->len) == (ssize_t)c->len;
	if (close(fd) != 0 || !written)
		return false;
	return rename(tmp, target) == 0;
}

/* pause_ms - sleep MS milliseconds (a signal cuts it short). */
static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	struct content files[MAX_FILES];
	struct sigaction sa = { .sa_handler = on_stop };
	char tmp[4096];
	unsigned long sent = 0;
	pid_t pid;
	long interval_ms;
	time_t end;
	int n;

	if (argc < 6 || argc - 5 > MAX_FILES) {
		fprintf(stderr, "usage: %s PID INTERVAL_MS SECONDS TARGET FILE... (at most %d)\n",
			argv[0], MAX_FILES);
		return 1;
	}
	pid = (pid_t)atol(argv[1]);
	interval_ms = atol(argv[2]);
	end = time(NULL) + atol(argv[3]);
	snprintf(tmp, sizeof(tmp), "%s.new", argv[4]);
	n = argc - 5;
	for (int i = 0; i < n; i++)
		if (!read_whole(argv[5 + i], &files[i])) {
			fprintf(stderr, "reload_storm: cannot read %s: %s\n", argv[5 + i], strerror(errno));
			return 1;
		}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stopping && time(NULL) < end) {
		if (!install(&files[sent % (unsigned long)n], tmp, argv[4])) {
			fprintf(stderr, "reload_storm: cannot install %s: %s\n", argv[4], strerror(errno));
			break;
		}
		if (kill(pid, SIGHUP) != 0)
			break;
		sent++;
		pause_ms(interval_ms);
	}
	printf("%lu\n", sent);
	for (int i = 0; i < n; i++)
		free(files[i].text);
	return 0;
}
