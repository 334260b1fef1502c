/* qvirt: block jobs of running domains (Sys::Virt::Domain block_pull,
 * block_rebase, block_copy, block_commit, abort_block_job,
 * get_block_job_info, set_block_job_speed). Its calls live in
 * lib/blockjob.c. Included by <qvirt/qvirt.h>; conventions as there.
 *
 * A disk is named by its target (vda) or its source path, as in libvirt,
 * and has at most one job at a time. A job belongs to the domain, not to
 * the process that started it: any process that opens the same URI sees
 * it, changes its speed, aborts or pivots it, and whoever is around when
 * QEMU ends it (a waiting caller, another process's call, or the domain's
 * supervisor) brings the live XML and the persistent config up to date and
 * sends the BLOCK_JOB and BLOCK_JOB_2 events (status COMPLETED, FAILED,
 * CANCELED; READY when a copy or an active commit is ready for a pivot).
 * Those events carry "disk" (the disk's source path for BLOCK_JOB, its
 * target for BLOCK_JOB_2), "type" (QEMU's job type), "job_type"
 * (QV_DOMAIN_BLOCK_JOB_TYPE_*), "status" and, for FAILED, "error" (QEMU's
 * text). */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virDomainBlockJobType */
enum {
    QV_DOMAIN_BLOCK_JOB_TYPE_UNKNOWN = 0, QV_DOMAIN_BLOCK_JOB_TYPE_PULL = 1,
    QV_DOMAIN_BLOCK_JOB_TYPE_COPY = 2, QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT = 3,
    QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT = 4, QV_DOMAIN_BLOCK_JOB_TYPE_BACKUP = 5,
};
/* virDomainBlockJobAbortFlags */
enum { QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC = 1 << 0, QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT = 1 << 1 };
/* virDomainBlockJobInfoFlags, virDomainBlockJobSetSpeedFlags */
enum { QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES = 1 << 0 };
enum { QV_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES = 1 << 0 };
/* virDomainBlockPullFlags */
enum { QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES = 1 << 6 };
/* virDomainBlockRebaseFlags */
enum {
    QV_DOMAIN_BLOCK_REBASE_SHALLOW = 1 << 0, QV_DOMAIN_BLOCK_REBASE_REUSE_EXT = 1 << 1,
    QV_DOMAIN_BLOCK_REBASE_COPY_RAW = 1 << 2, QV_DOMAIN_BLOCK_REBASE_COPY = 1 << 3,
    QV_DOMAIN_BLOCK_REBASE_RELATIVE = 1 << 4, QV_DOMAIN_BLOCK_REBASE_COPY_DEV = 1 << 5,
    QV_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES = 1 << 6,
};
/* virDomainBlockCommitFlags */
enum {
    QV_DOMAIN_BLOCK_COMMIT_SHALLOW = 1 << 0, QV_DOMAIN_BLOCK_COMMIT_DELETE = 1 << 1,
    QV_DOMAIN_BLOCK_COMMIT_ACTIVE = 1 << 2, QV_DOMAIN_BLOCK_COMMIT_RELATIVE = 1 << 3,
    QV_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES = 1 << 4,
};
/* virDomainBlockCopyFlags */
enum {
    QV_DOMAIN_BLOCK_COPY_SHALLOW = 1 << 0, QV_DOMAIN_BLOCK_COPY_REUSE_EXT = 1 << 1,
    QV_DOMAIN_BLOCK_COPY_TRANSIENT_JOB = 1 << 2, QV_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES = 1 << 3,
};

/* Bandwidths are MiB/s unless a BANDWIDTH_BYTES flag says bytes/s; 0 is
 * unlimited. */

/* Streams the backing chain into the active image (block-stream): the disk
 * then has no backing image. flags: QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES. */
QV_PUBLIC int qv_domain_block_pull(qv_domain *dom, const char *disk, unsigned long bandwidth,
                                   unsigned int flags, qv_error **err);

/* Without COPY: streams the images above base (a path of the disk's chain;
 * NULL: all of them) into the active image, which then has base as its
 * backing (or none). The backing name written into the image's header is
 * base's path in the XML (never QEMU's /dev/fdset/N); with RELATIVE, its
 * file name alone when both images sit in one folder.
 * With COPY: mirrors the disk to base, a new image (qcow2, or raw with
 * COPY_RAW; a block device with COPY_DEV), made here unless REUSE_EXT
 * (then it must exist, with the disk's size); SHALLOW copies only the top
 * image and the copy gets the disk's backing chain as its backing. The job
 * stays READY, the guest's writes going to both, until
 * qv_domain_abort_block_job pivots to the copy (PIVOT) or drops it. */
QV_PUBLIC int qv_domain_block_rebase(qv_domain *dom, const char *disk, const char *base,
                                     unsigned long bandwidth, unsigned int flags,
                                     qv_error **err);

/* virDomainBlockCopy's typed parameters. size: sizeof(qv_block_copy_params). */
typedef struct qv_block_copy_params {
    size_t size;
    unsigned long long bandwidth;   /* bytes/s; 0 unlimited */
    unsigned int granularity;       /* bytes, power of two 512..64 MiB; 0 QEMU's */
    unsigned long long buf_size;    /* bytes; 0 QEMU's */
} qv_block_copy_params;
/* A copy to the disk described by destxml (a <disk type='file'|'block'>
 * with <source> and <driver type>), as block_rebase with COPY. params may
 * be NULL. flags: SHALLOW, REUSE_EXT, SYNCHRONOUS_WRITES (QEMU 7.2's
 * write-blocking copy mode). */
QV_PUBLIC int qv_domain_block_copy(qv_domain *dom, const char *disk, const char *destxml,
                                   const qv_block_copy_params *params, unsigned int flags,
                                   qv_error **err);

/* Commits the images from top (NULL: the active image with ACTIVE, else its
 * backing) down to base (NULL: the deepest image; SHALLOW: top's backing)
 * into base. With top the active image (ACTIVE is required) the job stays
 * READY until a pivot makes base the disk's image, or an abort leaves the
 * chain as it was. DELETE removes the committed images' files once the job
 * completed; RELATIVE names base in top's overlay as block_rebase does. */
QV_PUBLIC int qv_domain_block_commit(qv_domain *dom, const char *disk, const char *base,
                                     const char *top, unsigned long bandwidth,
                                     unsigned int flags, qv_error **err);

/* Ends the disk's job: cancels it (its changes are dropped; a READY copy
 * is kept as it is), or with PIVOT completes a READY copy or active commit
 * by switching the disk to the new image: "not ready for pivot" before it
 * is READY. Waits until the job has ended and the XML follows, unless
 * ASYNC (then the events say when). */
QV_PUBLIC int qv_domain_abort_block_job(qv_domain *dom, const char *disk, unsigned int flags,
                                        qv_error **err);

typedef struct qv_block_job_info {
    int type;                       /* QV_DOMAIN_BLOCK_JOB_TYPE_* */
    unsigned long long bandwidth;   /* MiB/s, or bytes/s with BANDWIDTH_BYTES */
    unsigned long long cur, end;    /* progress, in QEMU's units */
    bool ready;                     /* READY: a pivot may follow */
} qv_block_job_info;
/* 1 and *info while the disk has a job, 0 when it has none. flags:
 * QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES. */
QV_PUBLIC int qv_domain_get_block_job_info(qv_domain *dom, const char *disk,
                                           qv_block_job_info *info, unsigned int flags,
                                           qv_error **err);

/* flags: QV_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES. */
QV_PUBLIC int qv_domain_set_block_job_speed(qv_domain *dom, const char *disk,
                                            unsigned long bandwidth, unsigned int flags,
                                            qv_error **err);

#ifdef __cplusplus
}
#endif
