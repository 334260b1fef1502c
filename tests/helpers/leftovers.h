/* Test helper: a failed test must not leave QEMU running. */
#pragma once

/* SIGKILLs the QEMU of every domain still running under the connection
 * root `root` (qvirt:///embed?root=ROOT), and waits for their monitors to
 * record the ends and exit (they remove the runs' cgroups). */
void qvt_kill_leftovers(const char *root);

/* The cgroups of the connection root's domains that are still there, one
 * absolute path a line (g_free), or NULL when there are none or the host
 * has no cgroup2 mount. A run's cgroup goes with the run however it ends,
 * so once a root's domains are shut off this must be NULL. Groups are
 * found by name, anywhere in the top levels of the hierarchy (lib/tune.c):
 * <name>.qvirt-<hash> under [cgroup] root=, or the systemd scope
 * qvirt-<name>-<hash>.scope, where <hash> is the first 8 hex digits of the
 * SHA-256 of the root's config folder. */
char *qvt_cgroup_leftovers(const char *root);
