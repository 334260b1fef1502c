/* qvirt: the scheduler, memory, blkio and NUMA tunables of domains, and
 * their CPU accounting (Sys::Virt::Domain get/set_scheduler_parameters,
 * get/set_memory_parameters, get/set_blkio_parameters,
 * get/set_numa_parameters, get_cpu_stats; virDomainGetSchedulerParameters
 * and friends in C). Included by <qvirt/qvirt.h>; conventions as there.
 *
 * A running domain's tunables live in its cgroup (cgroup v2; README, "How
 * it works"); the XML keeps them in <cputune>, <memtune>, <blkiotune> and
 * <numatune>, applied when the domain starts. flags take
 * QV_DOMAIN_AFFECT_*: LIVE reads and writes the cgroup (and the live XML),
 * CONFIG the persistent definition, CURRENT whichever the domain's state
 * names. Without a usable cgroup v2 (none mounted, or the controller not
 * enabled) domains still start, and the LIVE calls fail with one sentence
 * saying what is missing and where to enable it.
 *
 * Parameters are passed as in qv_block_iotune: a struct whose `fields` bits
 * name the members that mean something. A get fills every member the
 * definition or the cgroup has; a set changes the members named and keeps
 * the others. Values out of range are refused with the parameter's name
 * and its range. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- scheduler (cpu.weight, cpu.max) -------------------------------------- */
/* Bits of qv_sched_params.fields. */
enum {
    QV_SCHED_CPU_SHARES = 1u << 0,
    QV_SCHED_VCPU_PERIOD = 1u << 1,
    QV_SCHED_VCPU_QUOTA = 1u << 2,
    QV_SCHED_EMULATOR_PERIOD = 1u << 3,
    QV_SCHED_EMULATOR_QUOTA = 1u << 4,
    QV_SCHED_GLOBAL_PERIOD = 1u << 5,
    QV_SCHED_GLOBAL_QUOTA = 1u << 6,
    QV_SCHED_IOTHREAD_PERIOD = 1u << 7,
    QV_SCHED_IOTHREAD_QUOTA = 1u << 8,
    QV_SCHED_ALL = (1u << 9) - 1,
};
/* Ranges (libvirt's, cgroup v2's). A quota of -1 (any negative value) or
 * QV_SCHED_QUOTA_MAX means no limit; a get reports no limit as
 * QV_SCHED_QUOTA_MAX for a running domain (as libvirt does on cgroup v2)
 * and as 0 (unset) from the config. */
#define QV_SCHED_SHARES_MIN 1ULL
#define QV_SCHED_SHARES_MAX 10000ULL
#define QV_SCHED_PERIOD_MIN 1000ULL
#define QV_SCHED_PERIOD_MAX 1000000ULL
#define QV_SCHED_QUOTA_MIN 1000LL
#define QV_SCHED_QUOTA_MAX 17592186044415LL

/* virDomainGetSchedulerParameters' "cpu_shares", "vcpu_period", ...
 * cpu_shares is cpu.weight of the VM group; vcpu_* is cpu.max of each
 * vCPU's group, emulator_* of the emulator's, iothread_* of each
 * iothread's, global_* of the whole VM group. Periods and quotas are in
 * microseconds. */
typedef struct qv_sched_params {
    unsigned int fields;          /* QV_SCHED_* bits */
    unsigned long long cpu_shares;
    unsigned long long vcpu_period;
    long long vcpu_quota;
    unsigned long long emulator_period;
    long long emulator_quota;
    unsigned long long global_period;
    long long global_quota;
    unsigned long long iothread_period;
    long long iothread_quota;
} qv_sched_params;

/* The parameter's name in libvirt ("cpu_shares") for one QV_SCHED_* bit,
 * and the bit for a name (0: unknown). */
QV_PUBLIC const char *qv_sched_param_name(unsigned int field);
QV_PUBLIC unsigned int qv_sched_param_field(const char *name);

QV_PUBLIC int qv_domain_get_scheduler_parameters(qv_domain *dom, qv_sched_params *ret,
                                                 unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_set_scheduler_parameters(qv_domain *dom, const qv_sched_params *params,
                                                 unsigned int flags, qv_error **err);

/* ---- memory (memory.max, memory.high, memory.swap.max, memory.min) -------- */
/* libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, in KiB. */
#define QV_DOMAIN_MEMORY_PARAM_UNLIMITED 9007199254740991ULL
enum {
    QV_MEMORY_HARD_LIMIT = 1u << 0,
    QV_MEMORY_SOFT_LIMIT = 1u << 1,
    QV_MEMORY_MIN_GUARANTEE = 1u << 2,
    QV_MEMORY_SWAP_HARD_LIMIT = 1u << 3,
    QV_MEMORY_ALL = (1u << 4) - 1,
};
/* KiB; QV_DOMAIN_MEMORY_PARAM_UNLIMITED for none. hard_limit is
 * memory.max of the VM group, soft_limit memory.high, swap_hard_limit
 * memory.swap.max. min_guarantee (memory.min) is a qvirt extension: libvirt's
 * QEMU driver refuses it. The VM group holds QEMU and its supervisor (a
 * few MiB). */
typedef struct qv_memory_params {
    unsigned int fields;          /* QV_MEMORY_* bits */
    unsigned long long hard_limit, soft_limit, min_guarantee, swap_hard_limit;
} qv_memory_params;

QV_PUBLIC int qv_domain_get_memory_parameters(qv_domain *dom, qv_memory_params *ret,
                                              unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_set_memory_parameters(qv_domain *dom, const qv_memory_params *params,
                                              unsigned int flags, qv_error **err);

/* ---- blkio (io.weight, io.bfq.weight, io.max) ---------------------------- */
enum {
    QV_BLKIO_WEIGHT = 1u << 0,
    QV_BLKIO_DEVICE_WEIGHT = 1u << 1,
    QV_BLKIO_DEVICE_READ_IOPS = 1u << 2,
    QV_BLKIO_DEVICE_WRITE_IOPS = 1u << 3,
    QV_BLKIO_DEVICE_READ_BPS = 1u << 4,
    QV_BLKIO_DEVICE_WRITE_BPS = 1u << 5,
    QV_BLKIO_ALL = (1u << 6) - 1,
};
/* weight: 100..1000 (io.bfq.weight where the host has it, else io.weight's
 * default). The device lists are libvirt's strings: "PATH,VALUE" pairs
 * joined by commas ("/dev/sda,500,/dev/sdb,300"), paths of block devices;
 * a value of 0 removes the device's setting. */
typedef struct qv_blkio_params {
    unsigned int fields;          /* QV_BLKIO_* bits */
    unsigned int weight;
    char *device_weight;          /* get: malloc'd, freed by qv_blkio_params_clear */
    char *device_read_iops_sec;
    char *device_write_iops_sec;
    char *device_read_bytes_sec;
    char *device_write_bytes_sec;
} qv_blkio_params;
/* Frees the strings of a get and zeroes the struct. */
QV_PUBLIC void qv_blkio_params_clear(qv_blkio_params *p);

QV_PUBLIC int qv_domain_get_blkio_parameters(qv_domain *dom, qv_blkio_params *ret,
                                             unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_set_blkio_parameters(qv_domain *dom, const qv_blkio_params *params,
                                             unsigned int flags, qv_error **err);

/* ---- NUMA (cpuset.mems) ----------------------------------------------------- */
enum {
    QV_DOMAIN_NUMATUNE_MEM_STRICT = 0, QV_DOMAIN_NUMATUNE_MEM_PREFERRED = 1,
    QV_DOMAIN_NUMATUNE_MEM_INTERLEAVE = 2, QV_DOMAIN_NUMATUNE_MEM_RESTRICTIVE = 3,
};
enum { QV_NUMA_MODE = 1u << 0, QV_NUMA_NODESET = 1u << 1, QV_NUMA_ALL = (1u << 2) - 1 };
/* numa_mode (QV_DOMAIN_NUMATUNE_MEM_*) and numa_nodeset ("0-1"; "" none).
 * A running domain's nodeset is cpuset.mems of its VM group (cgroup v2
 * moves the memory there); its mode is fixed at start, as in libvirt,
 * except for restrictive, which only cpuset.mems enforces. */
typedef struct qv_numa_params {
    unsigned int fields;          /* QV_NUMA_* bits */
    int mode;
    char *nodeset;                /* get: malloc'd, freed by qv_numa_params_clear */
} qv_numa_params;
QV_PUBLIC void qv_numa_params_clear(qv_numa_params *p);

QV_PUBLIC int qv_domain_get_numa_parameters(qv_domain *dom, qv_numa_params *ret,
                                            unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_set_numa_parameters(qv_domain *dom, const qv_numa_params *params,
                                            unsigned int flags, qv_error **err);

/* ---- CPU accounting ------------------------------------------------------------ */
/* One row of virDomainGetCPUStats, in nanoseconds: the totals (start_cpu
 * -1) fill cpu_time, user_time, system_time (cpu.stat of the VM group, or
 * QEMU's /proc/PID/stat without a cgroup) and vcpu_time (the vCPU
 * threads); a host CPU's row fills cpu_time (QEMU's threads' time) and
 * vcpu_time (its vCPU threads' time). cgroup v2 keeps no per-CPU figures
 * (libvirt has none on v2); qvirt reads each QEMU thread's time and the
 * CPU it last ran on (/proc/PID/task/TID/stat) and counts the thread's
 * time on that CPU: an estimate by the threads' placement, whose rows sum
 * to the threads' total. */
typedef struct qv_cpu_stats {
    unsigned long long cpu_time, user_time, system_time, vcpu_time;
} qv_cpu_stats;

/* Returns the number of rows filled: with start_cpu -1, one row of totals
 * (ncpus must be 1); else the rows of host CPUs start_cpu ..
 * start_cpu + ncpus - 1 that exist. With stats NULL (and ncpus 0) returns
 * the number of host CPUs. flags must be 0. */
QV_PUBLIC int qv_domain_get_cpu_stats(qv_domain *dom, qv_cpu_stats *stats, int start_cpu,
                                      unsigned int ncpus, unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
