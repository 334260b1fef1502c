/* systemd, where it is PID 1 and the caller may use its bus: a domain runs
 * in a transient scope (machine.slice/qvirt-NAME.scope, Delegate=yes),
 * and qvirt works in its own sub-cgroup below it (systemd resets the
 * files of groups it owns; libvirt learnt this in 7.1), and the domain is
 * registered with systemd-machined so that machinectl lists it.
 *
 * These talk to the system bus with GIO and are linked into the
 * qvirt-systemd helper only (qvirt-systemd.c); the library runs it
 * (tune.c). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "qv-error.h"

/* Starts transient scope `unit` in `slice` with Delegate=yes holding pid,
 * waits for systemd to have made it, and returns its cgroup path below the
 * hierarchy's root ("/machine.slice/qvirt-vm1.scope"). user: the caller's
 * own service manager (systemd --user, on the session bus), whose subtree
 * systemd delegates to the user, instead of the system's. */
int qv_systemd_start_scope(bool user, const char *unit, const char *slice,
                           const char *description, pid_t pid, char **cgroup, qv_error **err);

/* Registers the machine (RegisterMachine: the leader's own unit, the scope,
 * becomes the machine's). Best effort: machined may be absent. */
int qv_systemd_register_machine(const char *machine, const unsigned char uuid[16], pid_t leader,
                                qv_error **err);
