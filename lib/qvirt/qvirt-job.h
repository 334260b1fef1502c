/* qvirt: a domain's background job (Sys::Virt::Domain get_job_info,
 * get_job_stats, abort_job): a save, a managed save or a core dump, and
 * later migrations. Any process that opens the connection sees the job
 * another process runs, and may abort it. Its calls live in lib/job.c.
 * Included by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virDomainJobType */
enum {
    QV_DOMAIN_JOB_NONE = 0, QV_DOMAIN_JOB_BOUNDED = 1, QV_DOMAIN_JOB_UNBOUNDED = 2,
    QV_DOMAIN_JOB_COMPLETED = 3, QV_DOMAIN_JOB_FAILED = 4, QV_DOMAIN_JOB_CANCELLED = 5,
};
/* virDomainJobOperation */
enum {
    QV_DOMAIN_JOB_OPERATION_UNKNOWN = 0, QV_DOMAIN_JOB_OPERATION_START = 1,
    QV_DOMAIN_JOB_OPERATION_SAVE = 2, QV_DOMAIN_JOB_OPERATION_RESTORE = 3,
    QV_DOMAIN_JOB_OPERATION_MIGRATION_IN = 4, QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT = 5,
    QV_DOMAIN_JOB_OPERATION_SNAPSHOT = 6, QV_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT = 7,
    QV_DOMAIN_JOB_OPERATION_DUMP = 8, QV_DOMAIN_JOB_OPERATION_BACKUP = 9,
    QV_DOMAIN_JOB_OPERATION_SNAPSHOT_DELETE = 10,
};
/* virDomainGetJobStatsFlags */
enum { QV_DOMAIN_JOB_STATS_COMPLETED = 1 << 0, QV_DOMAIN_JOB_STATS_KEEP_COMPLETED = 1 << 1 };

/* virDomainJobInfo: times in ms, sizes in bytes. */
typedef struct qv_domain_job_info {
    int type;                               /* QV_DOMAIN_JOB_* */
    unsigned long long time_elapsed, time_remaining;
    unsigned long long data_total, data_processed, data_remaining;
    unsigned long long mem_total, mem_processed, mem_remaining;
    unsigned long long file_total, file_processed, file_remaining;
} qv_domain_job_info;
/* The running job (type NONE when there is none). */
QV_PUBLIC int qv_domain_get_job_info(qv_domain *dom, qv_domain_job_info *info, qv_error **err);

/* The typed parameters of virDomainGetJobStats (VIR_DOMAIN_JOB_*), as
 * members; a bit of `fields` says which ones the job has. */
enum {
    QV_DOMAIN_JOB_FIELD_OPERATION = 1ull << 0,
    QV_DOMAIN_JOB_FIELD_TIME_ELAPSED = 1ull << 1,
    QV_DOMAIN_JOB_FIELD_TIME_REMAINING = 1ull << 2,
    QV_DOMAIN_JOB_FIELD_DOWNTIME = 1ull << 3,
    QV_DOMAIN_JOB_FIELD_SETUP_TIME = 1ull << 4,
    QV_DOMAIN_JOB_FIELD_DATA_TOTAL = 1ull << 5,
    QV_DOMAIN_JOB_FIELD_DATA_PROCESSED = 1ull << 6,
    QV_DOMAIN_JOB_FIELD_DATA_REMAINING = 1ull << 7,
    QV_DOMAIN_JOB_FIELD_MEMORY_TOTAL = 1ull << 8,
    QV_DOMAIN_JOB_FIELD_MEMORY_PROCESSED = 1ull << 9,
    QV_DOMAIN_JOB_FIELD_MEMORY_REMAINING = 1ull << 10,
    QV_DOMAIN_JOB_FIELD_MEMORY_CONSTANT = 1ull << 11,
    QV_DOMAIN_JOB_FIELD_MEMORY_NORMAL = 1ull << 12,
    QV_DOMAIN_JOB_FIELD_MEMORY_NORMAL_BYTES = 1ull << 13,
    QV_DOMAIN_JOB_FIELD_MEMORY_BPS = 1ull << 14,
    QV_DOMAIN_JOB_FIELD_MEMORY_DIRTY_RATE = 1ull << 15,
    QV_DOMAIN_JOB_FIELD_MEMORY_PAGE_SIZE = 1ull << 16,
    QV_DOMAIN_JOB_FIELD_MEMORY_ITERATION = 1ull << 17,
    QV_DOMAIN_JOB_FIELD_ERRMSG = 1ull << 18,
    QV_DOMAIN_JOB_FIELD_SUCCESS = 1ull << 19,
    /* Members after errmsg (a caller's older, smaller struct gets none). */
    QV_DOMAIN_JOB_FIELD_DISK_TOTAL = 1ull << 20,
    QV_DOMAIN_JOB_FIELD_DISK_PROCESSED = 1ull << 21,
    QV_DOMAIN_JOB_FIELD_DISK_REMAINING = 1ull << 22,
    QV_DOMAIN_JOB_FIELD_DISK_BPS = 1ull << 23,
    QV_DOMAIN_JOB_FIELD_COMPRESSION_CACHE = 1ull << 24,
    QV_DOMAIN_JOB_FIELD_COMPRESSION_BYTES = 1ull << 25,
    QV_DOMAIN_JOB_FIELD_COMPRESSION_PAGES = 1ull << 26,
    QV_DOMAIN_JOB_FIELD_COMPRESSION_CACHE_MISSES = 1ull << 27,
    QV_DOMAIN_JOB_FIELD_COMPRESSION_OVERFLOW = 1ull << 28,
    QV_DOMAIN_JOB_FIELD_AUTO_CONVERGE_THROTTLE = 1ull << 29,
    QV_DOMAIN_JOB_FIELD_MEMORY_POSTCOPY_REQS = 1ull << 30,
};
typedef struct qv_domain_job_stats {
    size_t size;                  /* sizeof(qv_domain_job_stats): set by the caller */
    int type;                     /* QV_DOMAIN_JOB_* */
    unsigned long long fields;    /* QV_DOMAIN_JOB_FIELD_* */
    int operation;                /* QV_DOMAIN_JOB_OPERATION_* */
    bool success;                 /* a completed job: it worked */
    unsigned long long time_elapsed, time_remaining, downtime, setup_time;   /* ms */
    unsigned long long data_total, data_processed, data_remaining;           /* bytes */
    unsigned long long memory_total, memory_processed, memory_remaining;
    unsigned long long memory_constant, memory_normal, memory_normal_bytes;
    unsigned long long memory_bps, memory_dirty_rate, memory_page_size, memory_iteration;
    char errmsg[512];             /* a failed job: why */
    /* A migration's disk copy (NON_SHARED_*), bytes and bytes a second. */
    unsigned long long disk_total, disk_processed, disk_remaining, disk_bps;
    /* XBZRLE compression: cache size and bytes, pages, misses, overflows. */
    unsigned long long compression_cache, compression_bytes, compression_pages;
    unsigned long long compression_cache_misses, compression_overflow;
    unsigned long long auto_converge_throttle;   /* percent of CPU time taken */
    unsigned long long memory_postcopy_reqs;     /* pages the destination asked for */
} qv_domain_job_stats;
/* The size of the struct before the members after errmsg: the smallest a
 * caller may pass. */
#define QV_DOMAIN_JOB_STATS_SIZE_V1 (offsetof(qv_domain_job_stats, errmsg) + 512)
/* The running job's statistics (filled up to stats->size), or with
 * QV_DOMAIN_JOB_STATS_COMPLETED those of the last one that ended (kept
 * until the next one ends or, without KEEP_COMPLETED, until they are
 * read). */
QV_PUBLIC int qv_domain_get_job_stats(qv_domain *dom, qv_domain_job_stats *stats,
                                      unsigned int flags, qv_error **err);
/* Aborts the running job, from any process: a save ends, leaving the
 * domain as it was. QEMU 7.2 cannot cancel a memory dump, which is
 * refused (-ENOTSUP) as libvirt refuses it. */
QV_PUBLIC int qv_domain_abort_job(qv_domain *dom, unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
