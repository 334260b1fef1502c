/* Test helper: a failed test must not leave QEMU running. */
#pragma once

/* SIGKILLs the QEMU of every domain still running under the connection
 * root `root` (qvirt:///embed?root=ROOT); their monitors then exit. */
void qvt_kill_leftovers(const char *root);
