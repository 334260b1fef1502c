/* qvirt: manage QEMU virtual machines directly, without a daemon.
 *
 * The API follows libvirt's domain API as Perl's Sys::Virt::Domain documents
 * it: a method m of a domain is qv_domain_m, of the connection qv_conn_m.
 * Constants keep libvirt's names and values with a QV_ prefix. Every fallible
 * call returns an int (>= 0 success, negative errno failure) and takes
 * `qv_error **err` last (NULL allowed). Handles are opaque; _free accepts NULL.
 *
 * Threads: a qv_conn and the handles made from it belong to one thread at a
 * time, with one exception: calls on different domain handles of one
 * connection may run in different threads at once (starts with
 * QV_DOMAIN_START_AUTODESTROY excepted). Any number of processes may open
 * the same connection URI at once. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

#include <qvirt/qvirt-error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qv_conn qv_conn;
typedef struct qv_domain qv_domain;

/* ---- states and reasons (virDomainState and friends) ------------------ */
enum {
    QV_DOMAIN_NOSTATE = 0, QV_DOMAIN_RUNNING = 1, QV_DOMAIN_BLOCKED = 2, QV_DOMAIN_PAUSED = 3,
    QV_DOMAIN_SHUTDOWN = 4, QV_DOMAIN_SHUTOFF = 5, QV_DOMAIN_CRASHED = 6, QV_DOMAIN_PMSUSPENDED = 7,
};
/* Sys::Virt spells them STATE_*; both spellings have the same values. */
enum {
    QV_DOMAIN_STATE_NOSTATE = 0, QV_DOMAIN_STATE_RUNNING = 1, QV_DOMAIN_STATE_BLOCKED = 2,
    QV_DOMAIN_STATE_PAUSED = 3, QV_DOMAIN_STATE_SHUTDOWN = 4, QV_DOMAIN_STATE_SHUTOFF = 5,
    QV_DOMAIN_STATE_CRASHED = 6, QV_DOMAIN_STATE_PMSUSPENDED = 7,
};
enum { QV_DOMAIN_NOSTATE_UNKNOWN = 0 };
enum {
    QV_DOMAIN_RUNNING_UNKNOWN = 0, QV_DOMAIN_RUNNING_BOOTED = 1, QV_DOMAIN_RUNNING_MIGRATED = 2,
    QV_DOMAIN_RUNNING_RESTORED = 3, QV_DOMAIN_RUNNING_FROM_SNAPSHOT = 4,
    QV_DOMAIN_RUNNING_UNPAUSED = 5, QV_DOMAIN_RUNNING_MIGRATION_CANCELED = 6,
    QV_DOMAIN_RUNNING_SAVE_CANCELED = 7, QV_DOMAIN_RUNNING_WAKEUP = 8,
    QV_DOMAIN_RUNNING_CRASHED = 9, QV_DOMAIN_RUNNING_POSTCOPY = 10,
    QV_DOMAIN_RUNNING_POSTCOPY_FAILED = 11,
};
enum { QV_DOMAIN_BLOCKED_UNKNOWN = 0 };
enum {
    QV_DOMAIN_PAUSED_UNKNOWN = 0, QV_DOMAIN_PAUSED_USER = 1, QV_DOMAIN_PAUSED_MIGRATION = 2,
    QV_DOMAIN_PAUSED_SAVE = 3, QV_DOMAIN_PAUSED_DUMP = 4, QV_DOMAIN_PAUSED_IOERROR = 5,
    QV_DOMAIN_PAUSED_WATCHDOG = 6, QV_DOMAIN_PAUSED_FROM_SNAPSHOT = 7,
    QV_DOMAIN_PAUSED_SHUTTING_DOWN = 8, QV_DOMAIN_PAUSED_SNAPSHOT = 9,
    QV_DOMAIN_PAUSED_CRASHED = 10, QV_DOMAIN_PAUSED_STARTING_UP = 11,
    QV_DOMAIN_PAUSED_POSTCOPY = 12, QV_DOMAIN_PAUSED_POSTCOPY_FAILED = 13,
    QV_DOMAIN_PAUSED_API_ERROR = 14,
};
enum { QV_DOMAIN_SHUTDOWN_UNKNOWN = 0, QV_DOMAIN_SHUTDOWN_USER = 1 };
enum {
    QV_DOMAIN_SHUTOFF_UNKNOWN = 0, QV_DOMAIN_SHUTOFF_SHUTDOWN = 1, QV_DOMAIN_SHUTOFF_DESTROYED = 2,
    QV_DOMAIN_SHUTOFF_CRASHED = 3, QV_DOMAIN_SHUTOFF_MIGRATED = 4, QV_DOMAIN_SHUTOFF_SAVED = 5,
    QV_DOMAIN_SHUTOFF_FAILED = 6, QV_DOMAIN_SHUTOFF_FROM_SNAPSHOT = 7,
    QV_DOMAIN_SHUTOFF_DAEMON = 8,
};
enum { QV_DOMAIN_CRASHED_UNKNOWN = 0, QV_DOMAIN_CRASHED_PANICKED = 1 };
enum { QV_DOMAIN_PMSUSPENDED_UNKNOWN = 0 };

/* ---- flags ---------------------------------------------------------- */
enum { QV_DOMAIN_NONE = 0 };
enum {
    QV_DOMAIN_START_PAUSED = 1 << 0, QV_DOMAIN_START_AUTODESTROY = 1 << 1,
    QV_DOMAIN_START_BYPASS_CACHE = 1 << 2, QV_DOMAIN_START_FORCE_BOOT = 1 << 3,
    QV_DOMAIN_START_VALIDATE = 1 << 4, QV_DOMAIN_START_RESET_NVRAM = 1 << 5,
};
enum {
    QV_DOMAIN_DESTROY_DEFAULT = 0, QV_DOMAIN_DESTROY_GRACEFUL = 1 << 0,
    QV_DOMAIN_DESTROY_REMOVE_LOGS = 1 << 1,
};
enum {
    QV_DOMAIN_SHUTDOWN_DEFAULT = 0, QV_DOMAIN_SHUTDOWN_ACPI_POWER_BTN = 1 << 0,
    QV_DOMAIN_SHUTDOWN_GUEST_AGENT = 1 << 1, QV_DOMAIN_SHUTDOWN_INITCTL = 1 << 2,
    QV_DOMAIN_SHUTDOWN_SIGNAL = 1 << 3, QV_DOMAIN_SHUTDOWN_PARAVIRT = 1 << 4,
};
enum {
    QV_DOMAIN_REBOOT_DEFAULT = 0, QV_DOMAIN_REBOOT_ACPI_POWER_BTN = 1 << 0,
    QV_DOMAIN_REBOOT_GUEST_AGENT = 1 << 1, QV_DOMAIN_REBOOT_INITCTL = 1 << 2,
    QV_DOMAIN_REBOOT_SIGNAL = 1 << 3, QV_DOMAIN_REBOOT_PARAVIRT = 1 << 4,
};
enum {
    QV_DOMAIN_UNDEFINE_MANAGED_SAVE = 1 << 0, QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 1 << 1,
    QV_DOMAIN_UNDEFINE_NVRAM = 1 << 2, QV_DOMAIN_UNDEFINE_KEEP_NVRAM = 1 << 3,
    QV_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA = 1 << 4, QV_DOMAIN_UNDEFINE_TPM = 1 << 5,
    QV_DOMAIN_UNDEFINE_KEEP_TPM = 1 << 6,
};
enum { QV_DOMAIN_DEFINE_VALIDATE = 1 << 0 };
enum {
    QV_DOMAIN_XML_SECURE = 1 << 0, QV_DOMAIN_XML_INACTIVE = 1 << 1,
    QV_DOMAIN_XML_UPDATE_CPU = 1 << 2, QV_DOMAIN_XML_MIGRATABLE = 1 << 3,
};
enum {
    QV_DOMAIN_AFFECT_CURRENT = 0, QV_DOMAIN_AFFECT_LIVE = 1 << 0, QV_DOMAIN_AFFECT_CONFIG = 1 << 1,
};
enum {
    QV_DOMAIN_METADATA_DESCRIPTION = 0, QV_DOMAIN_METADATA_TITLE = 1,
    QV_DOMAIN_METADATA_ELEMENT = 2,
};
enum {
    QV_DOMAIN_MEM_CURRENT = 0, QV_DOMAIN_MEM_LIVE = 1 << 0, QV_DOMAIN_MEM_CONFIG = 1 << 1,
    QV_DOMAIN_MEM_MAXIMUM = 1 << 2,
};
enum {
    QV_DOMAIN_VCPU_CURRENT = 0, QV_DOMAIN_VCPU_LIVE = 1 << 0, QV_DOMAIN_VCPU_CONFIG = 1 << 1,
    QV_DOMAIN_VCPU_MAXIMUM = 1 << 2, QV_DOMAIN_VCPU_GUEST = 1 << 3,
    QV_DOMAIN_VCPU_HOTPLUGGABLE = 1 << 4,
};
enum {
    QV_CONNECT_LIST_DOMAINS_ACTIVE = 1 << 0, QV_CONNECT_LIST_DOMAINS_INACTIVE = 1 << 1,
    QV_CONNECT_LIST_DOMAINS_PERSISTENT = 1 << 2, QV_CONNECT_LIST_DOMAINS_TRANSIENT = 1 << 3,
    QV_CONNECT_LIST_DOMAINS_RUNNING = 1 << 4, QV_CONNECT_LIST_DOMAINS_PAUSED = 1 << 5,
    QV_CONNECT_LIST_DOMAINS_SHUTOFF = 1 << 6, QV_CONNECT_LIST_DOMAINS_OTHER = 1 << 7,
    QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE = 1 << 8, QV_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE = 1 << 9,
    QV_CONNECT_LIST_DOMAINS_AUTOSTART = 1 << 10, QV_CONNECT_LIST_DOMAINS_NO_AUTOSTART = 1 << 11,
    QV_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT = 1 << 12, QV_CONNECT_LIST_DOMAINS_NO_SNAPSHOT = 1 << 13,
    QV_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT = 1 << 14, QV_CONNECT_LIST_DOMAINS_NO_CHECKPOINT = 1 << 15,
};
enum {
    QV_DOMAIN_CONTROL_OK = 0, QV_DOMAIN_CONTROL_JOB = 1, QV_DOMAIN_CONTROL_OCCUPIED = 2,
    QV_DOMAIN_CONTROL_ERROR = 3,
};
enum {
    QV_DOMAIN_CONTROL_ERROR_REASON_NONE = 0, QV_DOMAIN_CONTROL_ERROR_REASON_UNKNOWN = 1,
    QV_DOMAIN_CONTROL_ERROR_REASON_MONITOR = 2, QV_DOMAIN_CONTROL_ERROR_REASON_INTERNAL = 3,
};

/* ---- memory stats (virDomainMemoryStatTags) ---------------------------- */
enum {
    QV_DOMAIN_MEMORY_STAT_SWAP_IN = 0, QV_DOMAIN_MEMORY_STAT_SWAP_OUT = 1,
    QV_DOMAIN_MEMORY_STAT_MAJOR_FAULT = 2, QV_DOMAIN_MEMORY_STAT_MINOR_FAULT = 3,
    QV_DOMAIN_MEMORY_STAT_UNUSED = 4, QV_DOMAIN_MEMORY_STAT_AVAILABLE = 5,
    QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON = 6, QV_DOMAIN_MEMORY_STAT_RSS = 7,
    QV_DOMAIN_MEMORY_STAT_USABLE = 8, QV_DOMAIN_MEMORY_STAT_LAST_UPDATE = 9,
    QV_DOMAIN_MEMORY_STAT_DISK_CACHES = 10, QV_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC = 11,
    QV_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL = 12, QV_DOMAIN_MEMORY_STAT_NR = 13,
};

/* ---- events (virDomainEventID and lifecycle details) -------------------- */
enum {
    QV_DOMAIN_EVENT_ID_LIFECYCLE = 0, QV_DOMAIN_EVENT_ID_REBOOT = 1,
    QV_DOMAIN_EVENT_ID_RTC_CHANGE = 2, QV_DOMAIN_EVENT_ID_WATCHDOG = 3,
    QV_DOMAIN_EVENT_ID_IO_ERROR = 4, QV_DOMAIN_EVENT_ID_GRAPHICS = 5,
    QV_DOMAIN_EVENT_ID_IO_ERROR_REASON = 6, QV_DOMAIN_EVENT_ID_CONTROL_ERROR = 7,
    QV_DOMAIN_EVENT_ID_BLOCK_JOB = 8, QV_DOMAIN_EVENT_ID_DISK_CHANGE = 9,
    QV_DOMAIN_EVENT_ID_TRAY_CHANGE = 10, QV_DOMAIN_EVENT_ID_PMWAKEUP = 11,
    QV_DOMAIN_EVENT_ID_PMSUSPEND = 12, QV_DOMAIN_EVENT_ID_BALLOON_CHANGE = 13,
    QV_DOMAIN_EVENT_ID_PMSUSPEND_DISK = 14, QV_DOMAIN_EVENT_ID_DEVICE_REMOVED = 15,
    QV_DOMAIN_EVENT_ID_BLOCK_JOB_2 = 16, QV_DOMAIN_EVENT_ID_TUNABLE = 17,
    QV_DOMAIN_EVENT_ID_AGENT_LIFECYCLE = 18, QV_DOMAIN_EVENT_ID_DEVICE_ADDED = 19,
    QV_DOMAIN_EVENT_ID_MIGRATION_ITERATION = 20, QV_DOMAIN_EVENT_ID_JOB_COMPLETED = 21,
    QV_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED = 22, QV_DOMAIN_EVENT_ID_METADATA_CHANGE = 23,
    QV_DOMAIN_EVENT_ID_BLOCK_THRESHOLD = 24, QV_DOMAIN_EVENT_ID_MEMORY_FAILURE = 25,
    QV_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE = 26, QV_DOMAIN_EVENT_ID_LAST = 27,
};
enum {
    QV_DOMAIN_EVENT_DEFINED = 0, QV_DOMAIN_EVENT_UNDEFINED = 1, QV_DOMAIN_EVENT_STARTED = 2,
    QV_DOMAIN_EVENT_SUSPENDED = 3, QV_DOMAIN_EVENT_RESUMED = 4, QV_DOMAIN_EVENT_STOPPED = 5,
    QV_DOMAIN_EVENT_SHUTDOWN = 6, QV_DOMAIN_EVENT_PMSUSPENDED = 7, QV_DOMAIN_EVENT_CRASHED = 8,
};
enum {
    QV_DOMAIN_EVENT_DEFINED_ADDED = 0, QV_DOMAIN_EVENT_DEFINED_UPDATED = 1,
    QV_DOMAIN_EVENT_DEFINED_RENAMED = 2, QV_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT = 3,
};
enum { QV_DOMAIN_EVENT_UNDEFINED_REMOVED = 0, QV_DOMAIN_EVENT_UNDEFINED_RENAMED = 1 };
enum {
    QV_DOMAIN_EVENT_STARTED_BOOTED = 0, QV_DOMAIN_EVENT_STARTED_MIGRATED = 1,
    QV_DOMAIN_EVENT_STARTED_RESTORED = 2, QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT = 3,
    QV_DOMAIN_EVENT_STARTED_WAKEUP = 4,
};
enum {
    QV_DOMAIN_EVENT_SUSPENDED_PAUSED = 0, QV_DOMAIN_EVENT_SUSPENDED_MIGRATED = 1,
    QV_DOMAIN_EVENT_SUSPENDED_IOERROR = 2, QV_DOMAIN_EVENT_SUSPENDED_WATCHDOG = 3,
    QV_DOMAIN_EVENT_SUSPENDED_RESTORED = 4, QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT = 5,
    QV_DOMAIN_EVENT_SUSPENDED_API_ERROR = 6, QV_DOMAIN_EVENT_SUSPENDED_POSTCOPY = 7,
    QV_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED = 8,
};
enum {
    QV_DOMAIN_EVENT_RESUMED_UNPAUSED = 0, QV_DOMAIN_EVENT_RESUMED_MIGRATED = 1,
    QV_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT = 2, QV_DOMAIN_EVENT_RESUMED_POSTCOPY = 3,
    QV_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED = 4,
};
enum {
    QV_DOMAIN_EVENT_STOPPED_SHUTDOWN = 0, QV_DOMAIN_EVENT_STOPPED_DESTROYED = 1,
    QV_DOMAIN_EVENT_STOPPED_CRASHED = 2, QV_DOMAIN_EVENT_STOPPED_MIGRATED = 3,
    QV_DOMAIN_EVENT_STOPPED_SAVED = 4, QV_DOMAIN_EVENT_STOPPED_FAILED = 5,
    QV_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT = 6,
};
enum {
    QV_DOMAIN_EVENT_SHUTDOWN_FINISHED = 0, QV_DOMAIN_EVENT_SHUTDOWN_GUEST = 1,
    QV_DOMAIN_EVENT_SHUTDOWN_HOST = 2,
};
enum { QV_DOMAIN_EVENT_PMSUSPENDED_MEMORY = 0, QV_DOMAIN_EVENT_PMSUSPENDED_DISK = 1 };
enum { QV_DOMAIN_EVENT_CRASHED_PANICKED = 0, QV_DOMAIN_EVENT_CRASHED_CRASHLOADED = 1 };
enum {
    QV_DOMAIN_EVENT_WATCHDOG_NONE = 0, QV_DOMAIN_EVENT_WATCHDOG_PAUSE = 1,
    QV_DOMAIN_EVENT_WATCHDOG_RESET = 2, QV_DOMAIN_EVENT_WATCHDOG_POWEROFF = 3,
    QV_DOMAIN_EVENT_WATCHDOG_SHUTDOWN = 4, QV_DOMAIN_EVENT_WATCHDOG_DEBUG = 5,
    QV_DOMAIN_EVENT_WATCHDOG_INJECTNMI = 6,
};
enum {
    QV_DOMAIN_EVENT_IO_ERROR_NONE = 0, QV_DOMAIN_EVENT_IO_ERROR_PAUSE = 1,
    QV_DOMAIN_EVENT_IO_ERROR_REPORT = 2,
};
enum {
    QV_DOMAIN_EVENT_GRAPHICS_CONNECT = 0, QV_DOMAIN_EVENT_GRAPHICS_INITIALIZE = 1,
    QV_DOMAIN_EVENT_GRAPHICS_DISCONNECT = 2,
};
enum {
    QV_DOMAIN_BLOCK_JOB_COMPLETED = 0, QV_DOMAIN_BLOCK_JOB_FAILED = 1,
    QV_DOMAIN_BLOCK_JOB_CANCELED = 2, QV_DOMAIN_BLOCK_JOB_READY = 3,
};
enum {
    QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START = 0, QV_DOMAIN_EVENT_DISK_DROP_MISSING_ON_START = 1,
};
enum { QV_DOMAIN_EVENT_TRAY_CHANGE_OPEN = 0, QV_DOMAIN_EVENT_TRAY_CHANGE_CLOSE = 1 };

/* ---- connection ------------------------------------------------------ */
/* uri: "qvirt:///system", "qvirt:///session" or "qvirt:///embed?root=DIR".
 * NULL: $QVIRT_DEFAULT_URI, else system for root and session for others. */
QV_PUBLIC int qv_conn_open(const char *uri, qv_conn **ret, qv_error **err);
/* Closes the connection; domains started with START_AUTODESTROY from it are
 * destroyed. Handles made from it must be freed first. */
QV_PUBLIC void qv_conn_close(qv_conn *conn);
QV_PUBLIC void qv_conn_closep(qv_conn **conn);
QV_PUBLIC const char *qv_conn_get_uri(const qv_conn *conn);

QV_PUBLIC int qv_conn_define_domain(qv_conn *conn, const char *xml, unsigned int flags,
                                    qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_create_domain(qv_conn *conn, const char *xml, unsigned int flags,
                                    qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_name(qv_conn *conn, const char *name, qv_domain **ret,
                                         qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_uuid(qv_conn *conn, const unsigned char uuid[16],
                                         qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_uuid_string(qv_conn *conn, const char *uuid,
                                                qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_id(qv_conn *conn, int id, qv_domain **ret, qv_error **err);
/* *ret receives a NULL-terminated array of handles (free each, then the
 * array with qv_domain_list_free); returns the count. */
QV_PUBLIC int qv_conn_list_all_domains(qv_conn *conn, unsigned int flags, qv_domain ***ret,
                                       qv_error **err);
QV_PUBLIC void qv_domain_list_free(qv_domain **list);

/* virConnectDomainXMLToNative: the QEMU command line this connection would
 * run for a domain XML, without defining or starting anything. format:
 *   "qemu-argv"       one shell-quoted line, as libvirt gives (for reading
 *                     and logs, not for a shell to run);
 *   "qemu-argv-json"  the argv as a JSON array of strings, for programs.
 * The layout is the one a start gives the domain: the command monitor is a
 * listening socket passed as fd 3 and generated sockets go under the
 * connection's runtime folder; the event monitor and the lanes, which only
 * the supervisor and the library use, are left out. flags must be 0.
 * *ret receives a string the caller frees with free(). */
QV_PUBLIC int qv_conn_domain_xml_to_native(qv_conn *conn, const char *format, const char *xml,
                                           unsigned int flags, char **ret, qv_error **err);

/* ---- domain: handles and identity -------------------------------------- */
QV_PUBLIC void qv_domain_free(qv_domain *dom);
QV_PUBLIC void qv_domain_freep(qv_domain **dom);
QV_PUBLIC const char *qv_domain_get_name(const qv_domain *dom);
/* The id of a running domain, -1 when inactive. */
QV_PUBLIC int qv_domain_get_id(qv_domain *dom);
QV_PUBLIC int qv_domain_get_uuid(qv_domain *dom, unsigned char uuid[16], qv_error **err);
/* buf must hold 37 bytes. */
QV_PUBLIC int qv_domain_get_uuid_string(qv_domain *dom, char buf[37], qv_error **err);
/* *ret receives a string the caller frees with free(). */
QV_PUBLIC int qv_domain_get_os_type(qv_domain *dom, char **ret, qv_error **err);

/* ---- lifecycle --------------------------------------------------------- */
QV_PUBLIC int qv_domain_create(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_create_with_files(qv_domain *dom, const int *fds, unsigned int nfds,
                                          unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_suspend(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_resume(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_destroy(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_shutdown(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_reboot(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_reset(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_undefine(qv_domain *dom, unsigned int flags, qv_error **err);

/* ---- state and info ----------------------------------------------------- */
QV_PUBLIC int qv_domain_get_state(qv_domain *dom, int *state, int *reason, qv_error **err);
typedef struct qv_domain_info {
    int state;                    /* QV_DOMAIN_STATE_* */
    unsigned long long max_mem;   /* KiB */
    unsigned long long memory;    /* KiB */
    unsigned int nr_virt_cpu;
    unsigned long long cpu_time;  /* ns */
} qv_domain_info;
QV_PUBLIC int qv_domain_get_info(qv_domain *dom, qv_domain_info *info, qv_error **err);
/* 1 when true, 0 when false, negative errno on failure. */
QV_PUBLIC int qv_domain_is_active(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_is_persistent(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_is_updated(qv_domain *dom, qv_error **err);
typedef struct qv_domain_control_info {
    unsigned int state;      /* QV_DOMAIN_CONTROL_* */
    unsigned int details;    /* QV_DOMAIN_CONTROL_ERROR_REASON_* when state is ERROR */
    unsigned long long state_time; /* ms spent in the current state (0 for OK) */
} qv_domain_control_info;
QV_PUBLIC int qv_domain_get_control_info(qv_domain *dom, qv_domain_control_info *info,
                                         unsigned int flags, qv_error **err);

typedef struct qv_memory_stat { int tag; unsigned long long val; } qv_memory_stat;
/* Returns the number of stats filled (tag: QV_DOMAIN_MEMORY_STAT_*). */
QV_PUBLIC int qv_domain_memory_stats(qv_domain *dom, qv_memory_stat *stats, unsigned int nr_stats,
                                     unsigned int flags, qv_error **err);

/* ---- XML and metadata -------------------------------------------------- */
/* *ret receives the XML; the caller frees it with free(). */
QV_PUBLIC int qv_domain_get_xml_description(qv_domain *dom, unsigned int flags, char **ret,
                                            qv_error **err);
/* type: QV_DOMAIN_METADATA_*; for ELEMENT, uri names the namespace. *ret is
 * freed with free(). -ENOENT when there is no such metadata. */
QV_PUBLIC int qv_domain_get_metadata(qv_domain *dom, int type, const char *uri,
                                     unsigned int flags, char **ret, qv_error **err);
/* value NULL removes. For ELEMENT, key is the namespace prefix and uri the
 * namespace; value is one XML element. */
QV_PUBLIC int qv_domain_set_metadata(qv_domain *dom, int type, const char *value,
                                     const char *key, const char *uri, unsigned int flags,
                                     qv_error **err);

/* ---- autostart and limits --------------------------------------------- */
QV_PUBLIC int qv_domain_get_autostart(qv_domain *dom, int *autostart, qv_error **err);
QV_PUBLIC int qv_domain_set_autostart(qv_domain *dom, int autostart, qv_error **err);
/* Returns the maximum memory in KiB (as a non-negative long long). */
QV_PUBLIC long long qv_domain_get_max_memory(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_set_max_memory(qv_domain *dom, unsigned long long kib, qv_error **err);
QV_PUBLIC int qv_domain_get_max_vcpus(qv_domain *dom, qv_error **err);

/* ---- raw monitor access (virsh qemu-monitor-command) ------------------ */
/* cmd is a QMP command as JSON text; *ret receives the reply as JSON text. */
QV_PUBLIC int qv_domain_qemu_monitor_command(qv_domain *dom, const char *cmd, char **ret,
                                             unsigned int flags, qv_error **err);

/* ---- events ---------------------------------------------------------- */
/* Events are read from the connection's journal, which every process that
 * operates on the connection (and each domain's monitor process) appends to.
 * Poll qv_conn_event_get_fd() for POLLIN, then call qv_conn_event_dispatch(). */
typedef struct qv_event {
    int event_id;            /* QV_DOMAIN_EVENT_ID_* */
    const char *domain_name;
    const char *domain_uuid; /* string form */
    int event;               /* lifecycle: QV_DOMAIN_EVENT_*; watchdog/io-error: action */
    int detail;              /* lifecycle detail, or 0 */
    const char *json;        /* the full event as JSON text (fields per event id) */
    long long timestamp_us;  /* wall clock, microseconds */
} qv_event;
typedef void (*qv_event_cb)(qv_conn *conn, const qv_event *ev, void *opaque);
/* dom NULL: every domain. event_id -1: every event id. Returns a callback id. */
QV_PUBLIC int qv_conn_domain_event_register_any(qv_conn *conn, qv_domain *dom, int event_id,
                                                qv_event_cb cb, void *opaque, qv_error **err);
QV_PUBLIC int qv_conn_domain_event_deregister_any(qv_conn *conn, int callback_id, qv_error **err);
QV_PUBLIC int qv_conn_event_get_fd(qv_conn *conn, qv_error **err);
/* Delivers every new event to the callbacks; never blocks. Returns the count.
 * The journal keeps a bounded history (3 rotations of 8 MiB): a connection
 * that falls further behind gets -ENOBUFS once, after the events it could
 * still read were delivered, and goes on from there. */
QV_PUBLIC int qv_conn_event_dispatch(qv_conn *conn, qv_error **err);
/* Waits up to timeout_ms (-1 forever) for events and dispatches them. */
QV_PUBLIC int qv_conn_event_run(qv_conn *conn, int timeout_ms, qv_error **err);
QV_PUBLIC const char *qv_event_id_to_string(int event_id);

#ifdef __cplusplus
}
#endif

#include <qvirt/qvirt-input.h>
#include <qvirt/qvirt-console.h>
#include <qvirt/qvirt-block.h>
#include <qvirt/qvirt-resources.h>
#include <qvirt/qvirt-hotplug.h>
