/* ssh to a qvirt+ssh:// URI's host, running `qvirt` there (lib/ssh.c): the
 * one way qvirt reaches another host, for migration's destination
 * (lib/migrate.c) and remote connections (lib/remote.c). */
#pragma once

#include "qv-error.h"
#include "qv-process.h"
#include "uri.h"

/* Runs `COMMAND --connect REMOTE_URI SUBCOMMAND` on u's host. stdio_fd >= 0:
 * ssh's stdin and stdout are that fd (a socket) and *to, *from are left
 * alone; else they are pipes, *to writing to the remote side and *from
 * reading from it. *errs: a memfd collecting ssh's stderr, for
 * qv_ssh_add_stderr. ssh runs in a session of its own, never asks for a
 * password (BatchMode) and gets only the environment finding keys needs. */
int qv_ssh_spawn(const qv_ssh_uri *u, const char *subcommand, int stdio_fd, qv_process **proc,
                 int *to, int *from, int *errs, qv_error **err);
/* Appends ssh's last line of stderr (read from the memfd errs) to *err's
 * message: "... (ssh: Permission denied (publickey).)". */
void qv_ssh_add_stderr(int errs, qv_error **err);
