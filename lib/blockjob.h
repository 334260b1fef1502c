/* Block jobs, for the library's other files and the supervisor's helper
 * (lib/blockjob.c; the public calls are in qvirt/qvirt-blockjob.h). */
#pragma once

#include "internal.h"

/* The block nodes of a running disk's images, top first: each image's
 * format node, then its storage node (g_strdup'd into out). The start
 * names nodes by position (cmdline-disk.c); after a block job changed the
 * chain, by what the job recorded (blocknodes-<alias>.json). */
void qv_disk_node_names(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *out);
/* The root of a running disk's block graph, the node its device sits on,
 * as QEMU's query-block says (g_free *node): "<alias>-throttle" when the
 * disk was started or plugged with <iotune>, else its top image's format
 * node. Not the live XML's <iotune>: set_block_iotune on a disk without
 * the filter throttles its device and adds no node (lib/block.c). */
int qv_disk_root_node(qv_domain *dom, const qv_domdef_disk *d, char **node, qv_error **err);
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
 * base; the job is concluded here (live XML, config, events). For other
 * library code: deleting an external snapshot runs it for each disk. The
 * caller holds the lifecycle lock of the running domain (so no other
 * process concludes or aborts the job meanwhile) and must not hold
 * qmp.lock. flags: QV_DOMAIN_BLOCK_COMMIT_DELETE removes the committed
 * images' files. A failure (QEMU's error text in err) leaves the chain as
 * it was. */
int qv_blockjob_commit_locked(qv_domain *dom, const char *disk, const char *top,
                              const char *base, unsigned int flags, qv_error **err);
/* The same, taking the lifecycle lock itself (qvirt-blockjob --commit). */
int qv_blockjob_commit_sync(qv_domain *dom, const char *disk, const char *top, const char *base,
                            qv_error **err);
/* Whether a disk of the running domain has a block job: the jobs QEMU
 * ended are concluded first. 1 and *target (g_free) the disk's target, or
 * 0. The caller holds the lifecycle lock. */
int qv_blockjob_busy_locked(qv_domain *dom, char **target, qv_error **err);

/* main() of qvirt-blockjob, which the supervisor runs when a job QEMU
 * ended may have nobody to conclude it: --config-dir --run-dir --name. */
int qv_blockjob_helper_main(int argc, char **argv);
