/* A domain's job record: what save.c (and later migration) runs in the
 * background in QEMU, so every process sees it and may abort it.
 *
 * <run>/domains/NAME/job (JSON) names the operation, which QEMU job
 * carries it (a migration stream or a memory dump), the process that runs
 * it (pid and start time) and the run. It lives in the run's folder, so
 * it goes with the run; a record whose owner died, or of another run, is
 * no job (a caller killed mid-save leaves nothing stuck). The last ended
 * job's statistics go to <run>/jobs/NAME.json for
 * get_job_stats(COMPLETED), and end with a JOB_COMPLETED event.
 * migrate.c runs outgoing migrations as jobs of this kind too. */
#pragma once

#include "internal.h"
#include "qvirt/qvirt-job.h"

#define QV_JOB_FILE "job"
/* The job names of a migration's disk copies (migrate.c), whose progress
 * the job's statistics add. */
#define QV_JOB_MIGRATE_MIRROR_PREFIX "qvirt-migrate-job-"
/* Asks the owner of a migration to abort it (abort_job). */
#define QV_JOB_ABORT_FILE "job.abort"
/* Asks the owner of an outgoing migration, who holds qmp.lock for the
 * whole job, to pause the CPUs (suspend during a migration: virsh migrate
 * --timeout). */
#define QV_JOB_SUSPEND_FILE "job.suspend"

typedef enum qv_job_kind {
    QV_JOB_MIGRATION = 1,   /* QEMU's migration: query-migrate, migrate_cancel */
    QV_JOB_DUMP = 2,        /* dump-guest-memory: query-dump, no cancel in 7.2 */
} qv_job_kind;

typedef struct qv_job {
    int operation;          /* QV_DOMAIN_JOB_OPERATION_* */
    qv_job_kind kind;
    pid_t owner_pid;
    unsigned long long owner_start;
    long long started_us;   /* wall clock */
    char run_id[40];
    /* What recovering from a dead owner undoes: the CPUs the job stopped,
     * and the temporary file it wrote (qv_job_recover). */
    bool stopped_cpus;
    char tmp_file[4096];
    /* An outgoing migration that reached its end: the destination may run
     * the guest from here, so recovery ends the source (shut off,
     * migrated) instead of resuming it. */
    bool handed_over;
} qv_job;

/* Records a job on the running domain (the caller holds the lifecycle
 * lock, so no other job of this library begins meanwhile). */
int qv_job_begin(qv_domain *dom, const qv_active *act, int operation, qv_job_kind kind,
                 qv_job *job, qv_error **err);
/* Writes the record again (after stopped_cpus or tmp_file changed). */
int qv_job_update(qv_domain *dom, const qv_job *job, qv_error **err);
/* A job whose owner died mid-way (a caller killed during a save): QEMU's
 * migration is cancelled, CPUs the job stopped run again (running, save
 * or migration canceled), its temporary file goes and the job ends
 * failed; a migration handed over ends the source's run instead. A dump
 * QEMU is still writing is left until it ends (QEMU cannot cancel it).
 * Called by qv_domain_begin, under the lifecycle lock. */
void qv_job_recover(qv_domain *dom);
/* 1 and *job when a live job runs on the domain's current run, else 0. */
int qv_job_current(qv_domain *dom, qv_job *job);
/* Asks QEMU where the job stands: *stats filled (type UNBOUNDED while it
 * runs, else COMPLETED, FAILED or CANCELLED) and *status QEMU's word.
 * qmp: a connection the caller holds, or NULL for the usual path. */
int qv_job_query(qv_domain *dom, qv_qmp *qmp, const qv_job *job, qv_domain_job_stats *stats,
                 const char **status, qv_error **err);
/* Ends the job: final (type COMPLETED, FAILED or CANCELLED) is kept as the
 * last completed job, JOB_COMPLETED is emitted and the record removed. */
void qv_job_end(qv_domain *dom, const qv_job *job, const qv_domain_job_stats *final);
