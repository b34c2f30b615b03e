/*
 * milter_socket.h - the milter socket: its folder, mode and group, opening
 * it through libmilter, removing it at stop, and waking libmilter's
 * listener at SIGTERM (see milter_socket.c, which also tunes the MTA's TCP
 * connections).
 *
 * Start-up order: milter_socket_check() (before the fork, as root), then
 * smfi_register/smfi_setconn, milter_socket_open(); at stop
 * milter_socket_remove() after smfi_main() returned. milter_socket_wake()
 * may run in any thread (the signal thread). Strings are borrowed.
 */
#ifndef MD_MILTER_SOCKET_H
#define MD_MILTER_SOCKET_H

#include <stdbool.h>

#include "daemon_check.h"

struct milter_socket_spec {
	const char *spec;       /* -p, libmilter syntax: unix:/path, local:/path, inet:PORT@HOST */
	int mode;               /* -m, of a unix socket */
	const char *group;      /* -g; NULL: "postfix" if that group exists, else the user's */
};

/* milter_socket_path - the file of a unix SPEC, or NULL for inet (borrowed from SPEC). */
const char *milter_socket_path(const char *spec);

/*
 * milter_socket_check - the group exists; a unix socket's folder exists (or,
 * PREPARE, is created when its parent exists) and U can write it; nothing
 * but a socket is in the way, and (PREPARE) no running program answers on
 * it. True if no error was added.
 */
bool milter_socket_check(const struct milter_socket_spec *s, const struct run_as *u,
			 enum daemon_check_mode mode, struct load_errors *errs);

/* milter_socket_open - smfi_opensocket with S's mode, owned by U and S's group; false (logged). */
bool milter_socket_open(const struct milter_socket_spec *s, const struct run_as *u);

/* milter_socket_wake - at SIGTERM: wake libmilter's listener, until it stops. */
void milter_socket_wake(void);

/* milter_socket_remove - remove the unix socket if it is still the one opened. */
void milter_socket_remove(void);

#endif
