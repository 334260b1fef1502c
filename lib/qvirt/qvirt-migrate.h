/* qvirt: live migration (Sys::Virt::Domain migrate, migrate2,
 * migrate_to_uri, migrate_to_uri2, migrate_start_post_copy and the
 * migrate_{set,get}_{max_downtime,max_speed,compression_cache} tunables).
 * Its calls live in lib/migrate.c. Included by <qvirt/qvirt.h>;
 * conventions as there.
 *
 * qvirt has no daemon, so every migration is what libvirt calls
 * peer-to-peer: the calling process drives both sides. The destination is
 * another connection, on this host (another root: live upgrades of QEMU,
 * tests) or through qvirt+ssh://[user@]host[:port]/PATH, where `qvirt`
 * runs on the remote host for as long as the migration lasts. QEMU's
 * stream goes straight from QEMU to QEMU over TCP. A migration is a job
 * (qvirt-job.h): any process sees it (get_job_stats) and may abort it. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virDomainMigrateFlags */
enum {
    QV_MIGRATE_LIVE = 1 << 0,
    QV_MIGRATE_PEER2PEER = 1 << 1,          /* accepted: qvirt's only model */
    QV_MIGRATE_TUNNELLED = 1 << 2,          /* refused: QEMU's stream goes direct */
    QV_MIGRATE_PERSIST_DEST = 1 << 3,
    QV_MIGRATE_UNDEFINE_SOURCE = 1 << 4,
    QV_MIGRATE_PAUSED = 1 << 5,
    QV_MIGRATE_NON_SHARED_DISK = 1 << 6,
    QV_MIGRATE_NON_SHARED_INC = 1 << 7,
    QV_MIGRATE_CHANGE_PROTECTION = 1 << 8,  /* accepted: the lifecycle lock is held throughout */
    QV_MIGRATE_UNSAFE = 1 << 9,
    QV_MIGRATE_OFFLINE = 1 << 10,
    QV_MIGRATE_COMPRESSED = 1 << 11,
    QV_MIGRATE_ABORT_ON_ERROR = 1 << 12,
    QV_MIGRATE_AUTO_CONVERGE = 1 << 13,
    QV_MIGRATE_RDMA_PIN_ALL = 1 << 14,
    QV_MIGRATE_POSTCOPY = 1 << 15,
    QV_MIGRATE_TLS = 1 << 16,
    QV_MIGRATE_PARALLEL = 1 << 17,
    QV_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES = 1 << 18,
    QV_MIGRATE_POSTCOPY_RESUME = 1 << 19,
    QV_MIGRATE_ZEROCOPY = 1 << 20,
};
/* virDomainMigrateMaxSpeedFlags */
enum { QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY = 1 << 0 };

/* Bits of qv_migrate_params.fields: which members are given. libvirt's
 * VIR_MIGRATE_PARAM_* name the same parameters as strings. */
enum {
    QV_MIGRATE_FIELD_URI = 1ull << 0,                  /* "migrate_uri" */
    QV_MIGRATE_FIELD_DEST_NAME = 1ull << 1,
    QV_MIGRATE_FIELD_DEST_XML = 1ull << 2,
    QV_MIGRATE_FIELD_PERSIST_XML = 1ull << 3,
    QV_MIGRATE_FIELD_BANDWIDTH = 1ull << 4,
    QV_MIGRATE_FIELD_GRAPHICS_URI = 1ull << 5,
    QV_MIGRATE_FIELD_LISTEN_ADDRESS = 1ull << 6,
    QV_MIGRATE_FIELD_MIGRATE_DISKS = 1ull << 7,
    QV_MIGRATE_FIELD_DISKS_PORT = 1ull << 8,
    QV_MIGRATE_FIELD_COMPRESSION = 1ull << 9,
    QV_MIGRATE_FIELD_COMPRESSION_MT_LEVEL = 1ull << 10,
    QV_MIGRATE_FIELD_COMPRESSION_MT_THREADS = 1ull << 11,
    QV_MIGRATE_FIELD_COMPRESSION_MT_DTHREADS = 1ull << 12,
    QV_MIGRATE_FIELD_COMPRESSION_XBZRLE_CACHE = 1ull << 13,
    QV_MIGRATE_FIELD_AUTO_CONVERGE_INITIAL = 1ull << 14,
    QV_MIGRATE_FIELD_AUTO_CONVERGE_INCREMENT = 1ull << 15,
    QV_MIGRATE_FIELD_BANDWIDTH_POSTCOPY = 1ull << 16,
    QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS = 1ull << 17,
    QV_MIGRATE_FIELD_DISKS_URI = 1ull << 18,
};

/* The typed parameters of virDomainMigrate3 as members; a bit of fields
 * says which are given. Strings are borrowed for the call. */
typedef struct qv_migrate_params {
    size_t size;                   /* sizeof(qv_migrate_params): set by the caller */
    unsigned long long fields;     /* QV_MIGRATE_FIELD_* */
    /* Where QEMU's stream goes: tcp://HOST[:PORT] or tcp:HOST:PORT
     * (default: the destination's address, a port QEMU picks). */
    const char *uri;
    const char *dest_name;         /* the domain's name on the destination */
    /* The domain's XML on the destination: the same domain (name, UUID)
     * with the same guest ABI (machine, CPUs, memory, devices and their
     * addresses); only host-side details such as disk paths may differ. */
    const char *dest_xml;
    const char *persist_xml;       /* the config PERSIST_DEST stores (default: dest_xml) */
    unsigned long long bandwidth;  /* MiB/s; 0: unlimited */
    unsigned long long bandwidth_postcopy; /* MiB/s, for the post-copy phase */
    const char *graphics_uri;      /* accepted and ignored: no client is relocated */
    const char *listen_address;    /* where the destination's QEMU listens */
    const char *const *migrate_disks; /* the disks NON_SHARED_* copies (targets); default all writable */
    size_t n_migrate_disks;
    int disks_port;                /* the destination's NBD port (default: a free one) */
    const char *disks_uri;         /* tcp://HOST[:PORT] of the NBD server */
    const char *const *compression; /* "xbzrle", "mt" */
    size_t n_compression;
    int compression_mt_level, compression_mt_threads, compression_mt_dthreads;
    unsigned long long compression_xbzrle_cache; /* bytes */
    int auto_converge_initial, auto_converge_increment; /* percent */
    int parallel_connections;
} qv_migrate_params;

/* Migrates the running domain to dconn: the destination runs it (running,
 * migrated; paused with PAUSED) and the source ends shut off (migrated).
 * Without LIVE the guest's CPUs stop for the whole transfer. A failure or
 * an abort (qv_domain_abort_job, from any process) leaves the source as it
 * was and nothing on the destination. With OFFLINE the domain's config
 * only is copied (PERSIST_DEST required; the domain may be shut off).
 * *ret (may be NULL): the domain on the destination. */
QV_PUBLIC int qv_domain_migrate(qv_domain *dom, qv_conn *dconn, const qv_migrate_params *params,
                                unsigned int flags, qv_domain **ret, qv_error **err);
/* The same to the connection URI dconnuri (qvirt:///..., or
 * qvirt+ssh://[user@]host[:port]/system|session|embed?root=DIR). */
QV_PUBLIC int qv_domain_migrate_to_uri(qv_domain *dom, const char *dconnuri,
                                       const qv_migrate_params *params, unsigned int flags,
                                       qv_error **err);
/* The deprecated positional forms: dxml, dname and uri may be NULL;
 * bandwidth in MiB/s (0: unlimited). */
QV_PUBLIC int qv_domain_migrate2(qv_domain *dom, qv_conn *dconn, const char *dxml,
                                 unsigned int flags, const char *dname, const char *uri,
                                 unsigned long bandwidth, qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_domain_migrate_to_uri2(qv_domain *dom, const char *dconnuri, const char *miguri,
                                        const char *dxml, unsigned int flags, const char *dname,
                                        unsigned long bandwidth, qv_error **err);
/* The destination's half of a migration from another host: what `qvirt
 * migrate-incoming` runs on the remote host of a qvirt+ssh:// URI, with
 * the source's ssh on in_fd and out_fd. A line protocol between two qvirt
 * of the same version (lib/migrate.c), not an interface of its own.
 * Returns once the domain runs here, or the migration failed and was
 * undone here. */
QV_PUBLIC int qv_conn_migrate_incoming(qv_conn *conn, int in_fd, int out_fd, unsigned int flags,
                                       qv_error **err);
/* Switches a running POSTCOPY migration to post-copy (from any process). */
QV_PUBLIC int qv_domain_migrate_start_post_copy(qv_domain *dom, unsigned int flags,
                                                qv_error **err);

/* The running domain's migration tunables, kept by its QEMU
 * (migrate-set-parameters) and applied to a migration that runs. Downtime
 * in ms; speed in MiB/s (libvirt's unlimited, 8796093022207, when unset);
 * the compression (XBZRLE) cache in bytes. */
QV_PUBLIC int qv_domain_migrate_set_max_downtime(qv_domain *dom, unsigned long long downtime,
                                                 unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_migrate_get_max_downtime(qv_domain *dom, unsigned long long *downtime,
                                                 unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_migrate_set_max_speed(qv_domain *dom, unsigned long bandwidth,
                                              unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_migrate_get_max_speed(qv_domain *dom, unsigned long *bandwidth,
                                              unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_migrate_set_compression_cache(qv_domain *dom,
                                                      unsigned long long cachesize,
                                                      unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_migrate_get_compression_cache(qv_domain *dom,
                                                      unsigned long long *cachesize,
                                                      unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
