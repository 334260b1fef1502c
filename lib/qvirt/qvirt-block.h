/* qvirt: disks and network interfaces of domains: statistics, sizes, raw
 * reads, I/O limits, errors and bandwidth (Sys::Virt::Domain block_stats,
 * get_block_info, block_peek, memory_peek, block_resize, get/set_block_iotune,
 * get_disk_errors, interface_stats, get/set_interface_parameters). Included
 * by <qvirt/qvirt.h>; conventions as there.
 *
 * A disk is named by its target (vda) or its source path, as in libvirt. An
 * interface is named by its host device (<target dev>), its MAC address or
 * its alias (net0). */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- flags (libvirt's values) -------------------------------------------- */
enum { QV_DOMAIN_BLOCK_RESIZE_BYTES = 1 << 0 };
enum { QV_MEMORY_VIRTUAL = 1 << 0, QV_MEMORY_PHYSICAL = 1 << 1 };
/* virTypedParameterFlags: accepted (and ignored) by the stats calls. */
enum { QV_TYPED_PARAM_STRING_OKAY = 1 << 2 };
enum {
    QV_DOMAIN_DISK_ERROR_NONE = 0, QV_DOMAIN_DISK_ERROR_UNSPEC = 1,
    QV_DOMAIN_DISK_ERROR_NO_SPACE = 2,
};

/* block_peek and memory_peek read at most this many bytes per call. */
enum { QV_DOMAIN_PEEK_MAX = 1024 * 1024 };

/* ---- block statistics ---------------------------------------------------- */
/* virDomainBlockStatsStruct plus the fields of virDomainBlockStatsFlags.
 * -1 marks a value QEMU does not report. Times are in nanoseconds; errs
 * counts failed read, write and flush requests. */
typedef struct qv_block_stats {
    long long rd_req, rd_bytes, wr_req, wr_bytes, errs;
    long long flush_operations, rd_total_times, wr_total_times, flush_total_times;
} qv_block_stats;

/* Statistics of one disk since the domain started; disk NULL or "" sums
 * every disk (as libvirt does). Running domains only. flags: 0 or
 * QV_TYPED_PARAM_STRING_OKAY. */
QV_PUBLIC int qv_domain_block_stats(qv_domain *dom, const char *disk,
                                    qv_block_stats *stats, unsigned int flags,
                                    qv_error **err);

/* virDomainBlockInfo, in bytes: capacity is the size the guest sees,
 * allocation the host storage in use, physical the host file's size. */
typedef struct qv_block_info {
    unsigned long long capacity, allocation, physical;
} qv_block_info;
/* Works for shut off domains too (raw and qcow2 files, block devices).
 * flags must be 0. */
QV_PUBLIC int qv_domain_get_block_info(qv_domain *dom, const char *disk,
                                       qv_block_info *info, unsigned int flags,
                                       qv_error **err);

/* Reads size bytes at offset of a raw disk's source (file or block device)
 * into buffer. offset + size must lie within the source; size is at most
 * QV_DOMAIN_PEEK_MAX. flags must be 0. */
QV_PUBLIC int qv_domain_block_peek(qv_domain *dom, const char *disk, unsigned long long offset,
                                   size_t size, void *buffer, unsigned int flags,
                                   qv_error **err);

/* Reads size bytes of guest memory at start: flags is exactly one of
 * QV_MEMORY_VIRTUAL (through the first vCPU's page tables) and
 * QV_MEMORY_PHYSICAL. size is at most QV_DOMAIN_PEEK_MAX. Running domains. */
QV_PUBLIC int qv_domain_memory_peek(qv_domain *dom, unsigned long long start, size_t size,
                                    void *buffer, unsigned int flags, qv_error **err);

/* Grows (or shrinks) a running domain's disk image to size KiB, or bytes
 * with QV_DOMAIN_BLOCK_RESIZE_BYTES; the guest sees the new capacity. */
QV_PUBLIC int qv_domain_block_resize(qv_domain *dom, const char *disk, unsigned long long size,
                                     unsigned int flags, qv_error **err);

/* ---- I/O limits (<iotune>) ------------------------------------------------ */
/* Bits of qv_block_iotune.fields: which members are meaningful. */
enum {
    QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC = 1u << 0,
    QV_BLOCK_IOTUNE_READ_BYTES_SEC = 1u << 1,
    QV_BLOCK_IOTUNE_WRITE_BYTES_SEC = 1u << 2,
    QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC = 1u << 3,
    QV_BLOCK_IOTUNE_READ_IOPS_SEC = 1u << 4,
    QV_BLOCK_IOTUNE_WRITE_IOPS_SEC = 1u << 5,
    QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX = 1u << 6,
    QV_BLOCK_IOTUNE_READ_BYTES_SEC_MAX = 1u << 7,
    QV_BLOCK_IOTUNE_WRITE_BYTES_SEC_MAX = 1u << 8,
    QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC_MAX = 1u << 9,
    QV_BLOCK_IOTUNE_READ_IOPS_SEC_MAX = 1u << 10,
    QV_BLOCK_IOTUNE_WRITE_IOPS_SEC_MAX = 1u << 11,
    QV_BLOCK_IOTUNE_TOTAL_BYTES_SEC_MAX_LENGTH = 1u << 12,
    QV_BLOCK_IOTUNE_READ_BYTES_SEC_MAX_LENGTH = 1u << 13,
    QV_BLOCK_IOTUNE_WRITE_BYTES_SEC_MAX_LENGTH = 1u << 14,
    QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC_MAX_LENGTH = 1u << 15,
    QV_BLOCK_IOTUNE_READ_IOPS_SEC_MAX_LENGTH = 1u << 16,
    QV_BLOCK_IOTUNE_WRITE_IOPS_SEC_MAX_LENGTH = 1u << 17,
    QV_BLOCK_IOTUNE_SIZE_IOPS_SEC = 1u << 18,
    QV_BLOCK_IOTUNE_GROUP_NAME = 1u << 19,
    QV_BLOCK_IOTUNE_ALL = (1u << 20) - 1,
};
/* The parameters of libvirt's virDomainSetBlockIoTune (names without the
 * prefix). Limits are bytes or operations per second (0: none); *_max are
 * burst rates, *_max_length the burst durations in seconds. */
typedef struct qv_block_iotune {
    unsigned int fields;     /* QV_BLOCK_IOTUNE_* bits */
    unsigned long long total_bytes_sec, read_bytes_sec, write_bytes_sec;
    unsigned long long total_iops_sec, read_iops_sec, write_iops_sec;
    unsigned long long total_bytes_sec_max, read_bytes_sec_max, write_bytes_sec_max;
    unsigned long long total_iops_sec_max, read_iops_sec_max, write_iops_sec_max;
    unsigned long long total_bytes_sec_max_length, read_bytes_sec_max_length,
                       write_bytes_sec_max_length;
    unsigned long long total_iops_sec_max_length, read_iops_sec_max_length,
                       write_iops_sec_max_length;
    unsigned long long size_iops_sec;
    char *group_name;        /* get: malloc'd (qv_block_iotune_clear frees it) or NULL */
} qv_block_iotune;
/* Frees group_name and zeroes the struct. */
QV_PUBLIC void qv_block_iotune_clear(qv_block_iotune *tune);

/* The disk's limits: from QEMU with AFFECT_LIVE (or CURRENT on a running
 * domain), from the persistent config with AFFECT_CONFIG. Every field is
 * filled (fields = QV_BLOCK_IOTUNE_ALL, group_name only when there is one). */
QV_PUBLIC int qv_domain_get_block_iotune(qv_domain *dom, const char *disk, qv_block_iotune *ret,
                                         unsigned int flags, qv_error **err);
/* Changes the members named in params->fields and keeps the others, as
 * libvirt does: a total limit given alone clears the read/write ones and the
 * other way round; giving both is an error. AFFECT_LIVE applies it in QEMU
 * and the live XML, AFFECT_CONFIG writes <iotune> into the config (which has
 * no place for the *_max_length members). */
QV_PUBLIC int qv_domain_set_block_iotune(qv_domain *dom, const char *disk,
                                         const qv_block_iotune *params, unsigned int flags,
                                         qv_error **err);

/* ---- disk errors --------------------------------------------------------- */
typedef struct qv_disk_error {
    char *disk;              /* target, malloc'd */
    int error;               /* QV_DOMAIN_DISK_ERROR_* */
} qv_disk_error;
/* The disks that hit an I/O error since the domain started (QEMU's I/O
 * status, and the domain's IO_ERROR events for disks that report errors to
 * the guest). errors NULL with maxerrors 0 returns the number of disks (the
 * most there can be); otherwise fills up to maxerrors entries (free each
 * disk with free()) and returns their number. flags must be 0. */
QV_PUBLIC int qv_domain_get_disk_errors(qv_domain *dom, qv_disk_error *errors,
                                        unsigned int maxerrors, unsigned int flags,
                                        qv_error **err);

/* ---- network interfaces -------------------------------------------------- */
/* virDomainInterfaceStatsStruct, from the guest's point of view (rx: what the
 * guest received). -1 marks a value that is not available. */
typedef struct qv_interface_stats {
    long long rx_bytes, rx_packets, rx_errs, rx_drop;
    long long tx_bytes, tx_packets, tx_errs, tx_drop;
} qv_interface_stats;
/* Counters of an interface with a host device (tap); running domains. */
QV_PUBLIC int qv_domain_interface_stats(qv_domain *dom, const char *device,
                                        qv_interface_stats *stats, qv_error **err);

enum {
    QV_INTERFACE_BANDWIDTH_IN_AVERAGE = 1u << 0,
    QV_INTERFACE_BANDWIDTH_IN_PEAK = 1u << 1,
    QV_INTERFACE_BANDWIDTH_IN_BURST = 1u << 2,
    QV_INTERFACE_BANDWIDTH_IN_FLOOR = 1u << 3,
    QV_INTERFACE_BANDWIDTH_OUT_AVERAGE = 1u << 4,
    QV_INTERFACE_BANDWIDTH_OUT_PEAK = 1u << 5,
    QV_INTERFACE_BANDWIDTH_OUT_BURST = 1u << 6,
    QV_INTERFACE_BANDWIDTH_ALL = (1u << 7) - 1,
};
/* libvirt's inbound.* and outbound.* interface parameters (<bandwidth>):
 * rates in KiB/s, bursts in KiB. inbound is traffic to the guest. */
typedef struct qv_interface_bandwidth {
    unsigned int fields;     /* QV_INTERFACE_BANDWIDTH_* bits */
    unsigned long long inbound_average, inbound_peak, inbound_burst, inbound_floor;
    unsigned long long outbound_average, outbound_peak, outbound_burst;
} qv_interface_bandwidth;
/* Every field filled (fields = QV_INTERFACE_BANDWIDTH_ALL); 0 means no
 * limit. flags: QV_DOMAIN_AFFECT_*. */
QV_PUBLIC int qv_domain_get_interface_parameters(qv_domain *dom, const char *device,
                                                 qv_interface_bandwidth *ret,
                                                 unsigned int flags, qv_error **err);
/* Changes the members named in params->fields and keeps the others; an
 * average of 0 removes the limit of that direction. AFFECT_LIVE applies it
 * to the tap with tc (HTB for inbound, ingress policing for outbound, as
 * libvirt does), AFFECT_CONFIG writes <bandwidth> into the config. floor
 * needs a libvirt network and is refused. */
QV_PUBLIC int qv_domain_set_interface_parameters(qv_domain *dom, const char *device,
                                                 const qv_interface_bandwidth *params,
                                                 unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
