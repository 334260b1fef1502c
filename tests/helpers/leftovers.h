/* Test helper: a failed test must not leave QEMU running. */
#pragma once

/* SIGKILLs the QEMU of every domain still running under the connection
 * root `root` (qvirt:///embed?root=ROOT), and waits for their monitors to
 * record the ends and exit (they remove the runs' cgroups). */
void qvt_kill_leftovers(const char *root);
