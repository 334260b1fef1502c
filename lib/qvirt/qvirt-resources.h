/* qvirt: memory and vCPUs of domains (Sys::Virt::Domain set_memory,
 * set_memory_stats_period, set_vcpus, get_vcpus, pin_vcpu, pin_emulator and
 * friends; virDomainSetMemoryFlags, virDomainSetVcpusFlags,
 * virDomainGetVcpusFlags, virDomainGetVcpus, virDomainPinVcpuFlags,
 * virDomainGetVcpuPinInfo, virDomainPinEmulator, virDomainGetEmulatorPinInfo
 * in C). Included by <qvirt/qvirt.h>; conventions as there.
 *
 * CPU maps are libvirt's: one bit per host CPU, CPU n in byte n / 8, bit
 * n % 8; maplen is the length of one map in bytes. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CPU maps ------------------------------------------------------------ */
#define QV_CPU_MAPLEN(ncpus) (((ncpus) + 7) / 8)
#define QV_CPU_USABLE(cpumaps, maplen, vcpu, cpu) \
    ((((const unsigned char *)(cpumaps))[(size_t)(vcpu) * (size_t)(maplen) + (size_t)(cpu) / 8] >> \
      ((cpu) % 8)) & 1)
#define QV_GET_CPUMAP(cpumaps, maplen, vcpu) (&(cpumaps)[(size_t)(vcpu) * (size_t)(maplen)])

/* Parses a CPU list as in libvirt's XML and virsh ("0-3,^2,5"; "r" is not
 * accepted) into cpumap (maplen bytes, cleared first). Returns the number of
 * CPUs set; -EINVAL for a malformed list, an empty one, or a CPU that does
 * not fit in the map. */
QV_PUBLIC int qv_cpumap_parse(const char *list, unsigned char *cpumap, int maplen, qv_error **err);
/* The CPU list of a map ("0-1,3"; "" for an empty map); free with free(). */
QV_PUBLIC char *qv_cpumap_format(const unsigned char *cpumap, int maplen);

/* The host's CPUs (virNodeGetCPUMap): returns their number; *cpumap (when
 * not NULL) receives a map of the online ones (free with free()) and
 * *online (when not NULL) their count. flags must be 0. */
QV_PUBLIC int qv_conn_get_node_cpu_map(qv_conn *conn, unsigned char **cpumap,
                                       unsigned int *online, unsigned int flags, qv_error **err);

/* ---- memory --------------------------------------------------------------- */
/* Sets the memory in KiB (flags: QV_DOMAIN_MEM_*). LIVE moves the balloon
 * (the guest gives the memory back at its own pace; watch
 * QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON) and records currentMemory in the
 * live XML; CONFIG changes currentMemory in the config. With MAXIMUM the
 * maximum (<memory>) changes instead: config only, as in libvirt's QEMU
 * driver a running domain's maximum is fixed. */
QV_PUBLIC int qv_domain_set_memory(qv_domain *dom, unsigned long long kib, unsigned int flags,
                                   qv_error **err);
/* Sets how often (seconds; 0 stops) the balloon driver collects the guest's
 * memory statistics (flags: QV_DOMAIN_AFFECT_*). */
QV_PUBLIC int qv_domain_set_memory_stats_period(qv_domain *dom, int period, unsigned int flags,
                                                qv_error **err);

typedef struct qv_memory_stat { int tag; unsigned long long val; } qv_memory_stat;
/* Returns the number of stats filled (tag: QV_DOMAIN_MEMORY_STAT_*). */
QV_PUBLIC int qv_domain_memory_stats(qv_domain *dom, qv_memory_stat *stats, unsigned int nr_stats,
                                     unsigned int flags, qv_error **err);
/* Returns the maximum memory in KiB (as a non-negative long long). */
QV_PUBLIC long long qv_domain_get_max_memory(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_set_max_memory(qv_domain *dom, unsigned long long kib, qv_error **err);

/* ---- vCPU counts ------------------------------------------------------------ */
/* Sets the number of vCPUs (flags: QV_DOMAIN_VCPU_*). LIVE plugs or unplugs
 * vCPUs in QEMU (only vCPUs plugged after start can be unplugged: the guest
 * must release them, which is waited for); CONFIG changes <vcpu current>;
 * with MAXIMUM (config only) the maximum changes. GUEST brings vCPUs online
 * or offline inside the guest through the guest agent. */
QV_PUBLIC int qv_domain_set_vcpus(qv_domain *dom, unsigned int nvcpus, unsigned int flags,
                                  qv_error **err);
/* Returns the number of vCPUs (flags: QV_DOMAIN_VCPU_*): the current count,
 * or with MAXIMUM the maximum, of the live or config definition; with GUEST
 * the vCPUs online in the guest (with MAXIMUM: all the guest knows of). */
QV_PUBLIC int qv_domain_get_vcpus_flags(qv_domain *dom, unsigned int flags, qv_error **err);
/* The maximum number of vCPUs (<vcpu>) of the current definition. */
QV_PUBLIC int qv_domain_get_max_vcpus(qv_domain *dom, qv_error **err);

/* ---- vCPU threads and pinning --------------------------------------------- */
enum { QV_VCPU_OFFLINE = 0, QV_VCPU_RUNNING = 1, QV_VCPU_BLOCKED = 2 };
typedef struct qv_vcpu_info {
    unsigned int number;          /* vCPU index */
    int state;                    /* QV_VCPU_* */
    unsigned long long cpu_time;  /* ns */
    int cpu;                      /* host CPU it last ran on */
} qv_vcpu_info;
/* Fills info[0..maxinfo) for the running domain's online vCPUs (by index)
 * and, when cpumaps is not NULL, their threads' affinity (maxinfo maps of
 * maplen bytes). Returns the number filled. flags must be 0. */
QV_PUBLIC int qv_domain_get_vcpu_info(qv_domain *dom, qv_vcpu_info *info, int maxinfo,
                                      unsigned char *cpumaps, int maplen, unsigned int flags,
                                      qv_error **err);
/* Fills ncpumaps maps (maplen bytes each) with the affinity of each vCPU up
 * to the maximum (flags: QV_DOMAIN_AFFECT_*; live: the threads' affinity
 * for online vCPUs, the pin to apply when plugged for the others). Returns
 * the number of maps filled. */
QV_PUBLIC int qv_domain_get_vcpu_pin_info(qv_domain *dom, int ncpumaps, unsigned char *cpumaps,
                                          int maplen, unsigned int flags, qv_error **err);
/* Pins a vCPU to the host CPUs in cpumap (flags: QV_DOMAIN_AFFECT_*): LIVE
 * sets its thread's affinity, CONFIG stores <cputune><vcpupin>, applied at
 * start. */
QV_PUBLIC int qv_domain_pin_vcpu(qv_domain *dom, unsigned int vcpu, const unsigned char *cpumap,
                                 int maplen, unsigned int flags, qv_error **err);
/* The emulator's affinity (QEMU's threads other than vCPUs) in one map.
 * Returns 1. flags: QV_DOMAIN_AFFECT_*. */
QV_PUBLIC int qv_domain_get_emulator_pin_info(qv_domain *dom, unsigned char *cpumap, int maplen,
                                              unsigned int flags, qv_error **err);
/* Pins the emulator threads (flags: QV_DOMAIN_AFFECT_*; CONFIG stores
 * <cputune><emulatorpin>). */
QV_PUBLIC int qv_domain_pin_emulator(qv_domain *dom, const unsigned char *cpumap, int maplen,
                                     unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
