/* Block jobs, for the library's other files and the supervisor's helper
 * (lib/blockjob.c; the public calls are in qvirt/qvirt-blockjob.h). */
#pragma once

#include "internal.h"

/* The block nodes of a running disk's images, top first: each image's
 * format node, then its storage node (g_strdup'd into out). The start
 * names nodes by position (cmdline-disk.c); after a block job changed the
 * chain, by what the job recorded (blocknodes-<alias>.json). */
void qv_disk_node_names(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *out);
/* Records the node names of a running disk whose chain (as d, from the
 * live definition, has it) a change other than the start gave it, e.g. an
 * external snapshot's new overlay: names holds each image's format, then
 * storage node name, top first, as qv_disk_node_names returns them. Call
 * it after saving the live XML, under the lifecycle lock. */
int qv_disk_set_node_names(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *names,
                           qv_error **err);

/* Concludes every block job of the domain that QEMU has ended: job-dismiss,
 * the unused nodes dropped, the live XML and config following the new
 * chain, the BLOCK_JOB events sent. Takes the lifecycle lock (the caller
 * must not hold it). Returns how many it concluded. */
int qv_blockjob_conclude_all(qv_domain *dom, qv_error **err);

/* Commits top..base of disk (paths of its chain; top NULL: the active
 * image, base NULL: the deepest image) and waits until it is done: an
 * active commit is pivoted as soon as it is ready, so the disk ends on
 * base. For other library code (deleting external snapshots). The caller
 * must not hold the lifecycle lock. */
int qv_blockjob_commit_sync(qv_domain *dom, const char *disk, const char *top, const char *base,
                            qv_error **err);

/* main() of qvirt-blockjob, which the supervisor runs when a job QEMU
 * ended may have nobody to conclude it: --config-dir --run-dir --name. */
int qv_blockjob_helper_main(int argc, char **argv);
