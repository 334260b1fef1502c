/* Live migration (qvirt-migrate.h).
 *
 * One process drives both sides (libvirt's peer-to-peer model, with no
 * daemon on either end):
 *   1. the source's lifecycle lock is taken and an outgoing migration job
 *      recorded (job.h), so any process sees it and may abort it;
 *   2. the destination starts the domain as a restore does (start.c), with
 *      QEMU waiting under -incoming defer; its load step (dest_load below)
 *      turns migration events on, exports the disks over NBD for a
 *      NON_SHARED_* migration, and runs migrate-incoming on a TCP port
 *      QEMU picks (query-migrate reports it);
 *   3. still inside that step, the source copies the disks (blockdev-mirror
 *      to the NBD exports, until READY), then runs `migrate` with the
 *      capabilities and parameters the flags ask for, and follows it on
 *      its MIGRATION events and query-migrate (MIGRATION_ITERATION events,
 *      the abort marker). At pre-switchover the mirrors are completed
 *      (block-job-cancel of a READY mirror) and the migration continues;
 *   4. once the source completed, its record says "handed over" and the
 *      destination's load waits for its own completion; the start then
 *      runs the guest (cont) and commits;
 *   5. the source's run ends shut off (migrated); PERSIST_DEST and
 *      UNDEFINE_SOURCE move the config.
 * A failure before the hand-over undoes the destination (its start is
 * undone, QEMU with it) and leaves the source running as before (cont, with
 * running (migration canceled), when the migration had stopped it). A
 * caller killed at any point: the destination's uncommitted start is undone
 * by its supervisor; the source's job recovery cancels the migration and
 * resumes it, or after the hand-over ends it, so the guest never runs
 * twice. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blockjob.h"
#include "internal.h"
#include "remote.h"
#include "job.h"
#include "qv-log.h"
#include "qv-process.h"
#include "qvirt/qvirt-migrate.h"
#include "ssh.h"
#include "uri.h"

/* How long a migration waits for QEMU's next event before it asks QEMU
 * where things stand (progress, iterations, the abort marker). */
#define QV_MIGRATE_POLL_MS 200
/* After the source completed, how long the destination may take to load
 * the last of the state. */
#define QV_MIGRATE_DEST_FINISH_MS 60000
/* How often, and how far apart, a completed migration's downtime is asked
 * again while QEMU still reports 0. */
#define QV_MIGRATE_DOWNTIME_TRIES 20
#define QV_MIGRATE_DOWNTIME_WAIT_MS 5
/* libvirt's "unlimited" migration speed, in MiB/s (INT64_MAX bytes/s). */
#define QV_MIGRATE_SPEED_UNLIMITED 8796093022207ULL
/* The run-folder file keeping migrate_set_max_speed's values. */
#define QV_MIGRATE_SPEED_FILE "migrate-speed"
/* The fd name of the NBD server's listening socket on the destination. */
#define QV_MIGRATE_NBD_FDNAME "qvirt-nbd"
/* Node (and export) names, and mirror job names, of the disks a
 * NON_SHARED_* migration copies. */
#define QV_MIGRATE_NBD_NODE_FMT "qvirt-migrate-%s"
#define QV_MIGRATE_JOB_PREFIX QV_JOB_MIGRATE_MIRROR_PREFIX
#define QV_MIGRATE_JOB_FMT QV_MIGRATE_JOB_PREFIX "%s"

typedef struct mig_disk {
    char *target;        /* vda */
    char *src_node;      /* the source's top format node */
    char *dst_node;      /* the destination's top format node */
    char *dst_path, *dst_format;
    char *backing, *backing_format;   /* NON_SHARED_INC: the new image's backing */
    unsigned long long size;
    bool mirroring;      /* a mirror job runs on the source */
    bool node_added;     /* the NBD client node exists on the source */
} mig_disk;

static void mig_disk_free(void *p)
{
    mig_disk *d = p;
    g_free(d->target);
    g_free(d->src_node);
    g_free(d->dst_node);
    g_free(d->dst_path);
    g_free(d->dst_format);
    g_free(d->backing);
    g_free(d->backing_format);
    g_free(d);
}

typedef struct mig {
    qv_domain *src;
    qv_conn *dconn;
    unsigned int flags;
    const qv_migrate_params *p;
    qv_job job;
    qv_qmp *sq;              /* the source's command monitor, for the whole job */
    int sq_lock;
    char *listen;            /* where the destination's QEMU listens */
    char *connect_host;      /* where the source connects */
    int port;                /* 0: QEMU picks */
    GPtrArray *disks;        /* mig_disk: what NON_SHARED_* copies */
    const qv_domdef *ddef;   /* the destination's definition */
    char *nbd_host;
    int nbd_port;
    /* What the destination's load step runs once its QEMU listens: the
     * source's migration itself (local), or on a remote host the wait for
     * the source's word (migrate_incoming's await_source). */
    int (*source)(struct mig *m, const char *uri, int port, qv_error **err);
    int in_fd, out_fd;       /* the remote destination's line protocol */
    qv_domain_job_stats final;
    bool completed;          /* the source's QEMU completed its migration */
    bool resume_source;      /* the source's CPUs were stopped for the migration */
    unsigned long long last_iteration;
} mig;

/* ---- small pieces ------------------------------------------------------- */

static bool param(const qv_migrate_params *p, unsigned long long bit)
{
    return p && (p->fields & bit);
}

static int set_caps(qv_qmp *qmp, const char *const *names, const bool *on, size_t n,
                    qv_error **err)
{
    json_object *caps = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_new_object();
        json_object_object_add(c, "capability", json_object_new_string(names[i]));
        json_object_object_add(c, "state", json_object_new_boolean(on[i]));
        json_object_array_add(caps, c);
    }
    json_object *args = json_object_new_object();
    json_object_object_add(args, "capabilities", caps);
    return qv_qmp_call(qmp, "migrate-set-capabilities", args, 0, NULL, err);
}

static bool aborted(const mig *m)
{
    g_autofree char *marker = qv_domain_file(m->src, QV_JOB_ABORT_FILE);
    return g_file_test(marker, G_FILE_TEST_EXISTS);
}

/* tcp://HOST[:PORT], tcp:HOST:PORT or tcp:HOST (IPv6 hosts in brackets). */
static int parse_uri(const char *uri, char **host, int *port, qv_error **err)
{
    const char *rest = g_str_has_prefix(uri, "tcp://") ? uri + 6
                     : g_str_has_prefix(uri, "tcp:") ? uri + 4 : NULL;
    if (!rest || !*rest)
        return qv_error_set(err, -EINVAL, "migration URI '%s' is not tcp://HOST[:PORT]", uri);
    g_autofree char *hp = g_strdup(rest);
    char *slash = strchr(hp, '/');
    if (slash)
        *slash = '\0';
    char *colon = NULL;
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close)
            return qv_error_set(err, -EINVAL, "migration URI '%s' has an unclosed '['", uri);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(hp, ':');
    }
    *port = 0;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end || v <= 0 || v > 65535)
            return qv_error_set(err, -EINVAL, "migration URI '%s' has a bad port", uri);
        *port = (int)v;
        *colon = '\0';
    }
    if (!*hp)
        return qv_error_set(err, -EINVAL, "migration URI '%s' names no host", uri);
    *host = g_strdup(hp);
    return 0;
}

/* The node of a disk's top image (the format node) on a run. */
static char *top_node(qv_domain *dom, const qv_domdef_disk *d)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    qv_disk_node_names(dom, d, names);
    return names->len ? g_strdup(names->pdata[0]) : NULL;
}

static const qv_domdef_disk *disk_by_target(const qv_domdef *def, const char *target)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = def->disks->pdata[i];
        if (d->target_dev && !strcmp(d->target_dev, target))
            return d;
    }
    return NULL;
}

static bool copies_disk(const qv_migrate_params *p, const qv_domdef_disk *d)
{
    if (!d->src.path || d->readonly || d->shareable || d->device == QV_DISK_DEVICE_CDROM ||
        d->device == QV_DISK_DEVICE_FLOPPY)
        return false;
    if (!param(p, QV_MIGRATE_FIELD_MIGRATE_DISKS))
        return true;
    for (size_t i = 0; i < p->n_migrate_disks; i++)
        if (!g_strcmp0(p->migrate_disks[i], d->target_dev))
            return true;
    return false;
}

static int virtual_size(qv_qmp *qmp, const char *node, unsigned long long *size, qv_error **err)
{
    g_autoptr(json_object) nodes = NULL;
    int r = qv_qmp_call(qmp, "query-named-block-nodes", NULL, 0, &nodes, err);
    if (r < 0)
        return r;
    for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
        json_object *n = json_object_array_get_idx(nodes, i);
        if (!g_strcmp0(qv_json_get_str(n, "node-name"), node)) {
            *size = (unsigned long long)qv_json_get_int(qv_json_get(n, "image"), "virtual-size",
                                                        0);
            return 0;
        }
    }
    return qv_error_set(err, -ENOENT, "QEMU has no block node '%s'", node);
}

/* ---- the destination's half --------------------------------------------- */

/* The NBD server of a NON_SHARED_* migration: a listening socket made here
 * and handed to QEMU (its port known before QEMU uses it), one writable
 * export per copied disk. */
static int dest_nbd(mig *m, qv_domain *ddom, qv_qmp *dq, qv_error **err)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    g_autofree char *port = g_strdup_printf("%d", param(m->p, QV_MIGRATE_FIELD_DISKS_PORT)
                                                       ? m->p->disks_port : 0);
    int gai = getaddrinfo(m->listen, port, &hints, &ai);
    if (gai)
        return qv_error_set(err, -EINVAL, "cannot listen on '%s' for the disks: %s", m->listen,
                            gai_strerror(gai));
    qv_autoclose int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int r = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0)
        r = qv_error_set_errno(err, -errno, "cannot listen on %s:%s for the disks' NBD server",
                               m->listen, port);
    freeaddrinfo(ai);
    if (r < 0)
        return r;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return qv_error_set_errno(err, -errno, "cannot read the NBD server's port");
    m->nbd_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    json_object *fa = json_object_new_object();
    json_object_object_add(fa, "fdname", json_object_new_string(QV_MIGRATE_NBD_FDNAME));
    if ((r = qv_qmp_call_with_fd(dq, "getfd", fa, fd, 0, NULL, err)) < 0)
        return r;
    json_object *data = json_object_new_object();
    json_object_object_add(data, "str", json_object_new_string(QV_MIGRATE_NBD_FDNAME));
    json_object *addr = json_object_new_object();
    json_object_object_add(addr, "type", json_object_new_string("fd"));
    json_object_object_add(addr, "data", data);
    json_object *sa = json_object_new_object();
    json_object_object_add(sa, "addr", addr);
    if ((r = qv_qmp_call(dq, "nbd-server-start", sa, 0, NULL, err)) < 0)
        return r;
    for (guint i = 0; i < m->disks->len; i++) {
        mig_disk *d = m->disks->pdata[i];
        const qv_domdef_disk *dd = disk_by_target(m->ddef, d->target);
        g_free(d->dst_node);
        d->dst_node = dd ? top_node(ddom, dd) : NULL;
        if (!d->dst_node)
            return qv_error_set(err, -ENOENT, "the destination has no disk %s", d->target);
        g_autofree char *name = g_strdup_printf(QV_MIGRATE_NBD_NODE_FMT, d->target);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "type", json_object_new_string("nbd"));
        json_object_object_add(a, "id", json_object_new_string(name));
        json_object_object_add(a, "node-name", json_object_new_string(d->dst_node));
        json_object_object_add(a, "name", json_object_new_string(name));
        json_object_object_add(a, "writable", json_object_new_boolean(true));
        if ((r = qv_qmp_call(dq, "block-export-add", a, 0, NULL, err)) < 0)
            return r;
    }
    return 0;
}

static int src_run(mig *m, const char *uri, qv_error **err);

/* The local destination's source step: the migration, in this process. */
static int local_source(mig *m, const char *uri, int port, qv_error **err)
{
    return src_run(m, uri, err);
}

/* Waits for the destination's incoming migration to end. */
static int dest_wait(qv_qmp *dq, qv_error **err)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)QV_MIGRATE_DEST_FINISH_MS * 1000;
    for (;;) {
        g_autoptr(json_object) q = NULL;
        int r = qv_qmp_call(dq, "query-migrate", NULL, 0, &q, err);
        if (r < 0)
            return r;
        const char *s = qv_json_get_str(q, "status");
        if (!g_strcmp0(s, "completed"))
            return 0;
        if (!g_strcmp0(s, "failed") || !g_strcmp0(s, "cancelled"))
            return qv_error_set(err, -EIO, "the destination could not load the guest's state: "
                                "%s", qv_json_get_str(q, "error-desc") ?: "see its QEMU log");
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return qv_error_set(err, -ETIMEDOUT, "the destination did not finish loading the "
                                "guest's state in %d s", QV_MIGRATE_DEST_FINISH_MS / 1000);
        qv_qmp_event *ev = NULL;
        if (qv_qmp_wait_event(dq, "MIGRATION", (int)MIN(left, QV_MIGRATE_POLL_MS), &ev, NULL) < 0 &&
            qv_qmp_is_broken(dq))
            return qv_error_set(err, -EIO, "the destination's QEMU went away while loading");
        qv_qmp_event_free(ev);
    }
}

/* The destination's load step (qv_start_restore.load): QEMU waits with
 * -incoming defer; the source's whole migration runs from here. */
/* QEMU 7.2 refuses post-copy when its user cannot open a userfaultfd
 * (an unprivileged QEMU needs vm.unprivileged_userfaultfd=1; QEMU 8.1
 * can use /dev/userfaultfd instead, which can go when 7.2 does). */
static int explain_postcopy(int r, qv_error **err)
{
    if (r < 0 && err && *err && strstr(qv_error_message(*err), "Postcopy is not supported")) {
        qv_error_free(*err);
        *err = NULL;
        return qv_error_set(err, -ENOTSUP, "post-copy migration needs userfaultfd, which this "
                            "host denies QEMU's unprivileged user: set the sysctl "
                            "vm.unprivileged_userfaultfd=1 on both hosts");
    }
    return r;
}

static int dest_load(qv_domain *ddom, qv_qmp *dq, void *opaque, qv_error **err)
{
    mig *m = opaque;
    const char *names[] = { "events", "postcopy-ram", "multifd" };
    const bool on[] = { true, (m->flags & QV_MIGRATE_POSTCOPY) != 0,
                        (m->flags & QV_MIGRATE_PARALLEL) != 0 };
    int r = explain_postcopy(set_caps(dq, names, on, G_N_ELEMENTS(names), err), err);
    if (r >= 0 && (m->flags & QV_MIGRATE_PARALLEL) &&
        param(m->p, QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS)) {
        json_object *a = json_object_new_object();
        json_object_object_add(a, "multifd-channels",
                               json_object_new_int(m->p->parallel_connections));
        r = qv_qmp_call(dq, "migrate-set-parameters", a, 0, NULL, err);
    }
    if (r >= 0 && m->disks->len)
        r = dest_nbd(m, ddom, dq, err);
    if (r < 0)
        return r;
    bool v6 = strchr(m->listen, ':') != NULL;
    g_autofree char *in_uri = g_strdup_printf(v6 ? "tcp:[%s]:%d" : "tcp:%s:%d", m->listen,
                                              m->port);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "uri", json_object_new_string(in_uri));
    if ((r = qv_qmp_call(dq, "migrate-incoming", a, 0, NULL, err)) < 0)
        return r;
    int port = m->port;
    if (!port) {
        g_autoptr(json_object) q = NULL;
        if ((r = qv_qmp_call(dq, "query-migrate", NULL, 0, &q, err)) < 0)
            return r;
        json_object *sa = qv_json_get(q, "socket-address");
        json_object *first = sa ? json_object_array_get_idx(sa, 0) : NULL;
        const char *ps = first ? qv_json_get_str(first, "port") : NULL;
        port = ps ? atoi(ps) : 0;
        if (port <= 0)
            return qv_error_set(err, -EIO, "the destination's QEMU did not say which port it "
                                "listens on");
    }
    g_autofree char *uri = NULL;
    if (m->connect_host) {
        bool cv6 = strchr(m->connect_host, ':') != NULL;
        uri = g_strdup_printf(cv6 ? "tcp:[%s]:%d" : "tcp:%s:%d", m->connect_host, port);
        if (!m->nbd_host)
            m->nbd_host = g_strdup(m->connect_host);
    }
    if ((r = m->source(m, uri, port, err)) < 0)
        return r;
    if ((r = dest_wait(dq, err)) < 0)
        return r;
    if (m->disks->len)
        qv_qmp_call(dq, "nbd-server-stop", NULL, 0, NULL, NULL);
    return 0;
}

/* ---- the source's half -------------------------------------------------- */

static unsigned long long speed_bytes(unsigned long long mib)
{
    return mib >= QV_MIGRATE_SPEED_UNLIMITED ? (unsigned long long)INT64_MAX : mib << 20;
}

/* migrate_set_max_speed's values for the run: normal and post-copy, MiB/s. */
static void read_speeds(qv_domain *dom, unsigned long long *normal, unsigned long long *postcopy)
{
    *normal = QV_MIGRATE_SPEED_UNLIMITED;
    *postcopy = 0;
    g_autofree char *path = qv_domain_file(dom, QV_MIGRATE_SPEED_FILE);
    g_autoptr(json_object) o = NULL;
    if (qv_rt_read_json(path, &o, NULL) < 0)
        return;
    long long v = qv_json_get_int(o, "bandwidth", -1);
    if (v >= 0)
        *normal = (unsigned long long)v;
    v = qv_json_get_int(o, "postcopy", -1);
    if (v >= 0)
        *postcopy = (unsigned long long)v;
}

static int src_setup(mig *m, qv_error **err)
{
    qv_qmp *sq = m->sq;
    bool compressed = m->flags & QV_MIGRATE_COMPRESSED;
    bool xbzrle = compressed, mt = false;
    if (param(m->p, QV_MIGRATE_FIELD_COMPRESSION)) {
        xbzrle = false;
        for (size_t i = 0; i < m->p->n_compression; i++) {
            const char *c = m->p->compression[i];
            if (!strcmp(c, "xbzrle"))
                xbzrle = true;
            else if (!strcmp(c, "mt"))
                mt = true;
            else
                return qv_error_set(err, -EINVAL, "unknown migration compression method '%s' "
                                    "(xbzrle or mt)", c);
        }
    }
    const char *names[] = { "events", "auto-converge", "xbzrle", "compress", "postcopy-ram",
                            "multifd", "pause-before-switchover" };
    const bool on[] = { true, (m->flags & QV_MIGRATE_AUTO_CONVERGE) != 0, xbzrle, mt,
                        (m->flags & QV_MIGRATE_POSTCOPY) != 0,
                        (m->flags & QV_MIGRATE_PARALLEL) != 0, m->disks->len > 0 };
    int r = explain_postcopy(set_caps(sq, names, on, G_N_ELEMENTS(names), err), err);
    if (r < 0)
        return r;
    unsigned long long bw, pbw;
    read_speeds(m->src, &bw, &pbw);
    if (param(m->p, QV_MIGRATE_FIELD_BANDWIDTH) && m->p->bandwidth)
        bw = m->p->bandwidth;
    if (param(m->p, QV_MIGRATE_FIELD_BANDWIDTH_POSTCOPY))
        pbw = m->p->bandwidth_postcopy;
    json_object *a = json_object_new_object();
    json_object_object_add(a, "max-bandwidth", json_object_new_int64((int64_t)speed_bytes(bw)));
    if (pbw)
        json_object_object_add(a, "max-postcopy-bandwidth",
                               json_object_new_int64((int64_t)speed_bytes(pbw)));
    const struct { unsigned long long bit; const char *name; int v; } ints[] = {
        { QV_MIGRATE_FIELD_AUTO_CONVERGE_INITIAL, "cpu-throttle-initial",
          m->p ? m->p->auto_converge_initial : 0 },
        { QV_MIGRATE_FIELD_AUTO_CONVERGE_INCREMENT, "cpu-throttle-increment",
          m->p ? m->p->auto_converge_increment : 0 },
        { QV_MIGRATE_FIELD_COMPRESSION_MT_LEVEL, "compress-level",
          m->p ? m->p->compression_mt_level : 0 },
        { QV_MIGRATE_FIELD_COMPRESSION_MT_THREADS, "compress-threads",
          m->p ? m->p->compression_mt_threads : 0 },
        { QV_MIGRATE_FIELD_COMPRESSION_MT_DTHREADS, "decompress-threads",
          m->p ? m->p->compression_mt_dthreads : 0 },
        { QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS, "multifd-channels",
          m->p ? m->p->parallel_connections : 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++)
        if (param(m->p, ints[i].bit))
            json_object_object_add(a, ints[i].name, json_object_new_int(ints[i].v));
    if (param(m->p, QV_MIGRATE_FIELD_COMPRESSION_XBZRLE_CACHE))
        json_object_object_add(a, "xbzrle-cache-size",
                               json_object_new_int64((int64_t)m->p->compression_xbzrle_cache));
    return qv_qmp_call(sq, "migrate-set-parameters", a, 0, NULL, err);
}

/* The disk copy of a NON_SHARED_* migration: an NBD client node for each
 * export, a mirror onto it, until every mirror is READY. */
static int src_mirror(mig *m, qv_error **err)
{
    for (guint i = 0; i < m->disks->len; i++) {
        mig_disk *d = m->disks->pdata[i];
        g_autofree char *name = g_strdup_printf(QV_MIGRATE_NBD_NODE_FMT, d->target);
        g_autofree char *port = g_strdup_printf("%d", m->nbd_port);
        json_object *server = json_object_new_object();
        json_object_object_add(server, "type", json_object_new_string("inet"));
        json_object_object_add(server, "host", json_object_new_string(m->nbd_host));
        json_object_object_add(server, "port", json_object_new_string(port));
        json_object *a = json_object_new_object();
        json_object_object_add(a, "driver", json_object_new_string("nbd"));
        json_object_object_add(a, "node-name", json_object_new_string(name));
        json_object_object_add(a, "server", server);
        json_object_object_add(a, "export", json_object_new_string(name));
        int r = qv_qmp_call(m->sq, "blockdev-add", a, 0, NULL, err);
        if (r < 0)
            return r;
        d->node_added = true;
        g_autofree char *job = g_strdup_printf(QV_MIGRATE_JOB_FMT, d->target);
        json_object *mi = json_object_new_object();
        json_object_object_add(mi, "job-id", json_object_new_string(job));
        json_object_object_add(mi, "device", json_object_new_string(d->src_node));
        json_object_object_add(mi, "target", json_object_new_string(name));
        json_object_object_add(mi, "sync", json_object_new_string(
                                   (m->flags & QV_MIGRATE_NON_SHARED_INC) ? "top" : "full"));
        if ((r = qv_qmp_call(m->sq, "blockdev-mirror", mi, 0, NULL, err)) < 0)
            return r;
        d->mirroring = true;
    }
    for (;;) {
        if (aborted(m))
            return qv_error_set(err, -ECANCELED, "the migration of domain '%s' was aborted",
                                m->src->name);
        g_autoptr(json_object) jobs = NULL;
        int r = qv_qmp_call(m->sq, "query-block-jobs", NULL, 0, &jobs, err);
        if (r < 0)
            return r;
        guint ready = 0;
        for (guint i = 0; i < m->disks->len; i++) {
            mig_disk *d = m->disks->pdata[i];
            g_autofree char *name = g_strdup_printf(QV_MIGRATE_JOB_FMT, d->target);
            bool found = false;
            for (size_t k = 0; jobs && k < json_object_array_length(jobs); k++) {
                json_object *j = json_object_array_get_idx(jobs, k);
                if (g_strcmp0(qv_json_get_str(j, "device"), name))
                    continue;
                found = true;
                json_object *rv = qv_json_get(j, "ready");
                if (rv && json_object_get_boolean(rv))
                    ready++;
            }
            if (!found) {
                d->mirroring = false;
                return qv_error_set(err, -EIO, "copying disk %s to the destination failed "
                                    "(see the domain's QEMU log)", d->target);
            }
        }
        if (ready == m->disks->len)
            return 0;
        qv_qmp_event *ev = NULL;
        if (qv_qmp_wait_event(m->sq, NULL, QV_MIGRATE_POLL_MS, &ev, NULL) < 0 &&
            qv_qmp_is_broken(m->sq))
            return qv_error_set(err, -EIO, "domain '%s': QEMU's monitor closed while copying "
                                "the disks", m->src->name);
        qv_qmp_event_free(ev);
    }
}

/* Ends the mirrors: complete (the READY copy stays the destination's
 * disk) or cancelled with force (a failed migration), then the NBD nodes. */
static void src_mirrors_end(mig *m, bool complete)
{
    for (guint i = 0; i < m->disks->len; i++) {
        mig_disk *d = m->disks->pdata[i];
        g_autofree char *name = g_strdup_printf(QV_MIGRATE_JOB_FMT, d->target);
        if (d->mirroring) {
            json_object *a = json_object_new_object();
            json_object_object_add(a, "device", json_object_new_string(name));
            json_object_object_add(a, "force", json_object_new_boolean(!complete));
            qv_qmp_call(m->sq, "block-job-cancel", a, 0, NULL, NULL);
        }
    }
    /* The jobs go away on their own (auto-dismiss); wait for that. */
    gint64 deadline = g_get_monotonic_time() + (gint64)QV_MIGRATE_DEST_FINISH_MS * 1000;
    while (g_get_monotonic_time() < deadline) {
        g_autoptr(json_object) jobs = NULL;
        if (qv_qmp_call(m->sq, "query-block-jobs", NULL, 0, &jobs, NULL) < 0)
            break;
        bool left = false;
        for (size_t k = 0; jobs && k < json_object_array_length(jobs); k++)
            left |= g_str_has_prefix(qv_json_get_str(json_object_array_get_idx(jobs, k),
                                                     "device") ?: "", QV_MIGRATE_JOB_PREFIX);
        if (!left)
            break;
        qv_qmp_event *ev = NULL;
        qv_qmp_wait_event(m->sq, NULL, QV_MIGRATE_POLL_MS, &ev, NULL);
        qv_qmp_event_free(ev);
    }
    for (guint i = 0; i < m->disks->len; i++) {
        mig_disk *d = m->disks->pdata[i];
        d->mirroring = false;
        if (!d->node_added)
            continue;
        g_autofree char *name = g_strdup_printf(QV_MIGRATE_NBD_NODE_FMT, d->target);
        json_object *a = json_object_new_object();
        json_object_object_add(a, "node-name", json_object_new_string(name));
        qv_qmp_call(m->sq, "blockdev-del", a, 0, NULL, NULL);
        d->node_added = false;
    }
}

static void emit_iteration(mig *m, const qv_domain_job_stats *st)
{
    if (!(st->fields & QV_DOMAIN_JOB_FIELD_MEMORY_ITERATION) ||
        st->memory_iteration <= m->last_iteration)
        return;
    m->last_iteration = st->memory_iteration;
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "iteration", json_object_new_int64((int64_t)m->last_iteration));
    qv_conn_emit(m->src->conn, m->src->name, m->src->uuid_str,
                 QV_DOMAIN_EVENT_ID_MIGRATION_ITERATION, (int)m->last_iteration, 0, extra);
}

/* A suspend asked during the migration (lifecycle.c): the CPUs stop on
 * the monitor this job holds, paused (migrating); a migration that fails
 * then resumes them, as libvirt does. */
static void pause_if_asked(mig *m)
{
    g_autofree char *marker = qv_domain_file(m->src, QV_JOB_SUSPEND_FILE);
    if (!g_file_test(marker, G_FILE_TEST_EXISTS))
        return;
    unlink(marker);
    if (m->resume_source || qv_qmp_call(m->sq, "stop", NULL, 0, NULL, NULL) < 0)
        return;
    m->resume_source = true;
    m->job.stopped_cpus = true;
    qv_job_update(m->src, &m->job, NULL);
    /* get_state maps the run's state, which this handle may not have yet */
    int cur;
    qv_domain_get_state(m->src, &cur, NULL, NULL);
    qv_rt_state st = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_MIGRATION, qv_rt_now_us() };
    if (m->src->smap)
        qv_rt_statemap_store(m->src->smap, &st);
    qv_conn_emit(m->src->conn, m->src->name, m->src->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                 QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_MIGRATED, NULL);
    qv_log(QV_LOG_INFO, "domain '%s': paused during its migration", m->src->name);
}

/* The source's migration, from `migrate` to completed (then QEMU has
 * stopped the guest: postmigrate). */
static int src_run(mig *m, const char *uri, qv_error **err)
{
    int r = src_setup(m, err);
    if (r >= 0 && m->disks->len)
        r = src_mirror(m, err);
    if (r < 0)
        return r;
    qv_log(QV_LOG_INFO, "domain '%s': migrating to %s", m->src->name, uri);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "uri", json_object_new_string(uri));
    if ((r = qv_qmp_call(m->sq, "migrate", a, 0, NULL, err)) < 0)
        return r;
    bool cancel_sent = false;
    for (;;) {
        qv_qmp_event *ev = NULL;
        int w = qv_qmp_wait_event(m->sq, "MIGRATION", QV_MIGRATE_POLL_MS, &ev, NULL);
        qv_qmp_event_free(ev);
        if (w < 0 && w != -ETIMEDOUT && qv_qmp_is_broken(m->sq))
            return qv_error_set(err, -EIO, "domain '%s': QEMU's monitor closed during the "
                                "migration", m->src->name);
        const char *status;
        qv_domain_job_stats st = { .size = sizeof st };
        if ((r = qv_job_query(m->src, m->sq, &m->job, &st, &status, err)) < 0)
            return r;
        emit_iteration(m, &st);
        g_autoptr(json_object) q = NULL;
        const char *qs = NULL;
        if (qv_qmp_call(m->sq, "query-migrate", NULL, 0, &q, NULL) == 0)
            qs = qv_json_get_str(q, "status");
        if (!g_strcmp0(qs, "pre-switchover")) {
            /* The disks are in step: complete the copies, then the switch. */
            src_mirrors_end(m, true);
            json_object *c = json_object_new_object();
            json_object_object_add(c, "state", json_object_new_string("pre-switchover"));
            if ((r = qv_qmp_call(m->sq, "migrate-continue", c, 0, NULL, err)) < 0)
                return r;
            continue;
        }
        if (st.type == QV_DOMAIN_JOB_COMPLETED) {
            /* QEMU 7.2 says completed a moment before it has set the
             * downtime (query-migrate reads 0): ask again, briefly. */
            for (int i = 0; i < QV_MIGRATE_DOWNTIME_TRIES && !st.downtime; i++) {
                qv_qmp_event *late = NULL;
                qv_qmp_wait_event(m->sq, "QVIRT-NONE", QV_MIGRATE_DOWNTIME_WAIT_MS, &late, NULL);
                qv_qmp_event_free(late);
                qv_domain_job_stats again = { .size = sizeof again };
                if (qv_job_query(m->src, m->sq, &m->job, &again, &status, NULL) == 0 &&
                    again.type == QV_DOMAIN_JOB_COMPLETED)
                    st = again;
            }
            m->final = st;
            m->completed = true;
            return 0;
        }
        if (st.type != QV_DOMAIN_JOB_UNBOUNDED) {
            m->final = st;
            if (st.type == QV_DOMAIN_JOB_CANCELLED || aborted(m))
                return qv_error_set(err, -ECANCELED, "the migration of domain '%s' was aborted",
                                    m->src->name);
            return qv_error_set(err, -EIO, "the migration of domain '%s' failed: %s",
                                m->src->name, *st.errmsg ? st.errmsg : "see the QEMU logs");
        }
        if (!cancel_sent && aborted(m)) {
            qv_qmp_call(m->sq, "migrate_cancel", NULL, 0, NULL, NULL);
            cancel_sent = true;
        }
        if (!cancel_sent)
            pause_if_asked(m);
        if (!cancel_sent && (m->flags & QV_MIGRATE_ABORT_ON_ERROR)) {
            g_autoptr(json_object) s = NULL;
            if (qv_qmp_call(m->sq, "query-status", NULL, 0, &s, NULL) == 0 &&
                !g_strcmp0(qv_json_get_str(s, "status"), "io-error")) {
                qv_log(QV_LOG_INFO, "domain '%s': I/O error during the migration: aborting it",
                       m->src->name);
                qv_qmp_call(m->sq, "migrate_cancel", NULL, 0, NULL, NULL);
                cancel_sent = true;
            }
        }
    }
}

/* The source after the destination runs: shut off (migrated). */
static void src_finish(mig *m, const qv_active *act)
{
    m->final.type = QV_DOMAIN_JOB_COMPLETED;
    qv_job_end(m->src, &m->job, &m->final);
    qv_domain_qmp_close(m->sq, m->sq_lock);
    m->sq = NULL;
    qv_domain_end_run(m->src, act, "migrated", QV_DOMAIN_SHUTOFF_MIGRATED,
                      QV_DOMAIN_EVENT_STOPPED_MIGRATED);
}

/* QEMU's migration status says a migration runs (no status: none ever ran). */
static bool migration_running(const char *status)
{
    return status && strcmp(status, "none") && strcmp(status, "completed") &&
           strcmp(status, "failed") && strcmp(status, "cancelled");
}

/* The source after a failure: the migration cancelled, the copies
 * dropped, the guest running as it was. */
static void src_undo(mig *m, int r, const char *why)
{
    if (m->sq && !qv_qmp_is_broken(m->sq)) {
        if (!m->completed) {
            g_autoptr(json_object) q = NULL;
            if (qv_qmp_call(m->sq, "query-migrate", NULL, 0, &q, NULL) == 0 &&
                migration_running(qv_json_get_str(q, "status"))) {
                qv_qmp_call(m->sq, "migrate_cancel", NULL, 0, NULL, NULL);
                for (int i = 0; i < QV_MIGRATE_DEST_FINISH_MS / QV_MIGRATE_POLL_MS; i++) {
                    g_autoptr(json_object) q2 = NULL;
                    if (qv_qmp_call(m->sq, "query-migrate", NULL, 0, &q2, NULL) < 0)
                        break;
                    if (!migration_running(qv_json_get_str(q2, "status")))
                        break;
                    qv_qmp_event *ev = NULL;
                    qv_qmp_wait_event(m->sq, "MIGRATION", QV_MIGRATE_POLL_MS, &ev, NULL);
                    qv_qmp_event_free(ev);
                }
            }
        }
        src_mirrors_end(m, false);
    }
    if (m->sq) {
        qv_domain_qmp_close(m->sq, m->sq_lock);
        m->sq = NULL;
    }
    /* QEMU stops the guest at the end of its migration, and the
     * non-live migration stopped it at the start. */
    if (m->completed || m->resume_source) {
        /* get_state maps the run into the handle: lock_run needs it. */
        int state = 0;
        qv_domain_get_state(m->src, &state, NULL, NULL);
        g_autoptr(qv_error) lerr = NULL;
        if (qv_domain_lock_run(m->src, &lerr) == 0) {
            if (qv_domain_qmp_call_locked(m->src, "cont", &lerr) >= 0) {
                qv_rt_state st = { QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATION_CANCELED,
                                   qv_rt_now_us() };
                qv_rt_statemap_store(m->src->smap, &st);
                qv_conn_emit(m->src->conn, m->src->name, m->src->uuid_str,
                             QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_RESUMED,
                             QV_DOMAIN_EVENT_RESUMED_MIGRATED, NULL);
            }
            qv_domain_unlock_run(m->src);
        }
        if (lerr)
            qv_log(QV_LOG_WARNING, "domain '%s': cannot resume it after the failed "
                   "migration: %s", m->src->name, qv_error_message(lerr));
    }
    qv_domain_job_stats st = m->final;
    st.size = sizeof st;
    st.type = r == -ECANCELED ? QV_DOMAIN_JOB_CANCELLED : QV_DOMAIN_JOB_FAILED;
    if (!*st.errmsg && why) {
        g_strlcpy(st.errmsg, why, sizeof st.errmsg);
        st.fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
    }
    qv_job_end(m->src, &m->job, &st);
}

/* ---- the whole ---------------------------------------------------------- */

static const unsigned int known_flags =
    QV_MIGRATE_LIVE | QV_MIGRATE_PEER2PEER | QV_MIGRATE_TUNNELLED | QV_MIGRATE_PERSIST_DEST |
    QV_MIGRATE_UNDEFINE_SOURCE | QV_MIGRATE_PAUSED | QV_MIGRATE_NON_SHARED_DISK |
    QV_MIGRATE_NON_SHARED_INC | QV_MIGRATE_CHANGE_PROTECTION | QV_MIGRATE_UNSAFE |
    QV_MIGRATE_OFFLINE | QV_MIGRATE_COMPRESSED | QV_MIGRATE_ABORT_ON_ERROR |
    QV_MIGRATE_AUTO_CONVERGE | QV_MIGRATE_RDMA_PIN_ALL | QV_MIGRATE_POSTCOPY | QV_MIGRATE_TLS |
    QV_MIGRATE_PARALLEL | QV_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES |
    QV_MIGRATE_POSTCOPY_RESUME | QV_MIGRATE_ZEROCOPY;

static int check_flags(unsigned int flags, qv_error **err)
{
    if (flags & ~known_flags)
        return qv_error_set(err, -EINVAL, "migrate: unknown flags 0x%x", flags & ~known_flags);
    if (flags & QV_MIGRATE_TUNNELLED)
        return qv_error_set(err, -ENOTSUP, "tunnelled migration is not supported: qvirt has no "
                            "daemon to carry the stream; QEMU sends it straight to the "
                            "destination (leave out --tunnelled)");
    if (flags & QV_MIGRATE_RDMA_PIN_ALL)
        return qv_error_set(err, -ENOTSUP, "RDMA migration is not supported (use a tcp:// URI)");
    if (flags & QV_MIGRATE_TLS)
        return qv_error_set(err, -ENOTSUP, "TLS migration is not supported yet: qvirt has no "
                            "TLS certificate configuration (use --tunnelled-free tcp over a "
                            "trusted network, or ssh port forwarding)");
    if (flags & QV_MIGRATE_ZEROCOPY)
        return qv_error_set(err, -ENOTSUP, "zero-copy migration needs QEMU 7.1's multifd "
                            "zero-copy-send and locked guest memory, which qvirt does not set up");
    if (flags & QV_MIGRATE_POSTCOPY_RESUME)
        return qv_error_set(err, -ENOTSUP, "resuming a failed post-copy migration is not "
                            "supported");
    if (flags & QV_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES)
        return qv_error_set(err, -ENOTSUP, "synchronous writes for the disk copy are not "
                            "supported");
    if ((flags & QV_MIGRATE_NON_SHARED_DISK) && (flags & QV_MIGRATE_NON_SHARED_INC))
        return qv_error_set(err, -EINVAL, "--copy-storage-all and --copy-storage-inc exclude "
                            "each other");
    if ((flags & QV_MIGRATE_OFFLINE) && !(flags & QV_MIGRATE_PERSIST_DEST))
        return qv_error_set(err, -EINVAL, "offline migration copies only the config, so it "
                            "needs --persistent (PERSIST_DEST)");
    if ((flags & QV_MIGRATE_OFFLINE) && (flags & (QV_MIGRATE_NON_SHARED_DISK |
                                                   QV_MIGRATE_NON_SHARED_INC)))
        return qv_error_set(err, -EINVAL, "offline migration does not copy disks");
    return 0;
}

static bool same_connection(qv_conn *a, qv_conn *b)
{
    return !g_strcmp0(a->paths.config_dir, b->paths.config_dir) ||
           !g_strcmp0(a->paths.run_dir, b->paths.run_dir);
}

/* OFFLINE: the config alone moves. */
static int migrate_offline(qv_domain *dom, qv_conn *dconn, const qv_migrate_params *p,
                           unsigned int flags, qv_domain **ret, qv_error **err)
{
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) def = NULL;
    const char *xml = param(p, QV_MIGRATE_FIELD_PERSIST_XML) ? p->persist_xml
                    : param(p, QV_MIGRATE_FIELD_DEST_XML) ? p->dest_xml : NULL;
    if (xml) {
        if ((r = qv_domxml_parse(xml, 0, &def, err)) < 0)
            return r;
        if (memcmp(def->uuid, dom->uuid, 16))
            return qv_error_set(err, -EINVAL, "the destination XML describes another domain "
                                "('%s')", def->name);
    } else if ((r = qv_domain_load_config(dom->conn, dom->name, &def, err)) < 0) {
        if (r == -ENOENT)
            return qv_error_set(err, -EINVAL, "domain '%s' is transient: an offline migration "
                                "has no config to copy", dom->name);
        return r;
    }
    if (param(p, QV_MIGRATE_FIELD_DEST_NAME) && p->dest_name) {
        g_free(def->name);
        def->name = g_strdup(p->dest_name);
    }
    g_autofree char *out = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE |
                                                 QV_DOMXML_FORMAT_INACTIVE);
    qv_domain *ddom = NULL;
    if ((r = qv_conn_define_domain(dconn, out, 0, &ddom, err)) < 0)
        return r;
    qv_call_end(&c);
    if ((flags & QV_MIGRATE_UNDEFINE_SOURCE) &&
        (r = qv_domain_undefine(dom, 0, err)) < 0) {
        qv_domain_free(ddom);
        return r;
    }
    if (ret)
        *ret = ddom;
    else
        qv_domain_free(ddom);
    return 0;
}

/* The domain's XML on the destination, checked against the source. */
static int dest_definition(qv_domain *dom, const qv_migrate_params *p, qv_domdef **ret,
                           qv_error **err)
{
    g_autoptr(qv_domdef) live = NULL;
    int r = qv_domain_load_def(dom, true, &live, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) def = NULL;
    if (param(p, QV_MIGRATE_FIELD_DEST_XML) && p->dest_xml) {
        if ((r = qv_domxml_parse(p->dest_xml, 0, &def, err)) < 0) {
            if (err && *err)
                qv_error_prefix(*err, "the destination XML");
            return r;
        }
        if (strcmp(def->name, dom->name))
            return qv_error_set(err, -EINVAL, "the destination XML describes domain '%s', not "
                                "'%s' (rename with the destination name instead)", def->name,
                                dom->name);
        if ((r = qv_domdef_check_abi(live, def, err)) < 0)
            return r;
    } else {
        g_autofree char *xml = qv_domxml_format(live, QV_DOMXML_FORMAT_SECURE |
                                                      QV_DOMXML_FORMAT_INACTIVE);
        if ((r = qv_domxml_parse(xml, 0, &def, err)) < 0)
            return r;
    }
    if (param(p, QV_MIGRATE_FIELD_DEST_NAME) && p->dest_name && *p->dest_name) {
        if (!qv_name_valid(p->dest_name))
            return qv_error_set(err, -EINVAL, "destination name '%s' is not a valid domain name",
                                p->dest_name);
        g_free(def->name);
        def->name = g_strdup(p->dest_name);
    }
    *ret = g_steal_pointer(&def);
    return 0;
}

/* A copied disk's image at the destination, made where missing: the same
 * size and format, with NON_SHARED_INC over the same backing image. */
static int create_image(const mig_disk *md, qv_error **err)
{
    if (g_file_test(md->dst_path, G_FILE_TEST_EXISTS))
        return 0;
    g_autofree char *sz = g_strdup_printf("%llu", md->size);
    if (md->backing)
        return qv_qemu_img((const char *const[]){ "create", "-q", "-f", md->dst_format, "-b",
                                                   md->backing, "-F", md->backing_format,
                                                   md->dst_path, sz, NULL }, err);
    return qv_qemu_img((const char *const[]){ "create", "-q", "-f", md->dst_format,
                                               md->dst_path, sz, NULL }, err);
}

/* The disks a NON_SHARED_* migration copies (their images made here with
 * create: a destination on this host). */
static int plan_disks(mig *m, const qv_domdef *live, const qv_domdef *ddef, bool same_host,
                      bool create, qv_error **err)
{
    if (!(m->flags & (QV_MIGRATE_NON_SHARED_DISK | QV_MIGRATE_NON_SHARED_INC)))
        return 0;
    for (guint i = 0; i < live->disks->len; i++) {
        const qv_domdef_disk *d = live->disks->pdata[i];
        if (!copies_disk(m->p, d))
            continue;
        const qv_domdef_disk *dd = disk_by_target(ddef, d->target_dev);
        if (!dd || !dd->src.path)
            return qv_error_set(err, -EINVAL, "the destination XML has no image for disk %s",
                                d->target_dev);
        if (same_host && !strcmp(dd->src.path, d->src.path))
            return qv_error_set(err, -EINVAL, "disk %s: the destination on this host would "
                                "copy %s onto itself; give the destination XML another path",
                                d->target_dev, d->src.path);
        mig_disk *md = g_new0(mig_disk, 1);
        g_ptr_array_add(m->disks, md);
        md->target = g_strdup(d->target_dev);
        md->src_node = top_node(m->src, d);
        md->dst_path = g_strdup(dd->src.path);
        md->dst_format = g_strdup(dd->src.format ? dd->src.format : "raw");
        if ((m->flags & QV_MIGRATE_NON_SHARED_INC) && d->src.backing && d->src.backing->path) {
            md->backing = g_strdup(d->src.backing->path);
            md->backing_format = g_strdup(d->src.backing->format ? d->src.backing->format
                                                                  : "raw");
        }
        int r = virtual_size(m->sq, md->src_node, &md->size, err);
        if (r < 0 || (create && (r = create_image(md, err)) < 0))
            return r;
    }
    return 0;
}

static void mig_clear(mig *m)
{
    g_clear_pointer(&m->listen, g_free);
    g_clear_pointer(&m->connect_host, g_free);
    g_clear_pointer(&m->nbd_host, g_free);
    g_clear_pointer(&m->disks, g_ptr_array_unref);
    if (m->sq) {
        qv_domain_qmp_close(m->sq, m->sq_lock);
        m->sq = NULL;
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(mig, mig_clear)

/* The domain's handle at the destination: an existing domain there must
 * be the same one (name and UUID), and not running (the start says so). */
static int dest_handle(qv_conn *dconn, const qv_domdef *ddef, qv_domain **ret, bool *persistent,
                       qv_error **err)
{
    *persistent = false;
    qv_domain *d = NULL;
    if (qv_conn_get_domain_by_name(dconn, ddef->name, &d, NULL) == 0) {
        if (memcmp(d->uuid, ddef->uuid, 16)) {
            qv_domain_free(d);
            return qv_error_set(err, -EEXIST, "the destination has another domain named '%s'",
                                ddef->name);
        }
        *persistent = qv_domain_is_persistent(d, NULL) == 1;
        *ret = d;
        return 0;
    }
    if (qv_conn_get_domain_by_uuid(dconn, ddef->uuid, &d, NULL) == 0) {
        int r = qv_error_set(err, -EEXIST, "the destination has domain '%s' with this UUID",
                             d->name);
        qv_domain_free(d);
        return r;
    }
    return qv_domain_new(dconn, ddef->name, ddef->uuid, ret);
}

/* The destination's start: QEMU under -incoming defer, dest_load as its
 * load step; then the config PERSIST_DEST stores (persist_xml, else the
 * definition). */
static int dest_start(mig *m, qv_domain *ddom, qv_domdef *ddef, bool dest_persistent,
                      const char *persist_xml, qv_error **err)
{
    qv_start_restore rs = {
        .fd = -1,
        .run = !(m->flags & QV_MIGRATE_PAUSED),
        .load = dest_load,
        .opaque = m,
        .started_detail = QV_DOMAIN_EVENT_STARTED_MIGRATED,
        .reason = (m->flags & QV_MIGRATE_PAUSED) ? QV_DOMAIN_PAUSED_USER
                                                 : QV_DOMAIN_RUNNING_MIGRATED,
    };
    bool transient = !dest_persistent && !(m->flags & QV_MIGRATE_PERSIST_DEST);
    unsigned int sflags = (m->flags & QV_MIGRATE_PAUSED) ? QV_DOMAIN_START_PAUSED : 0;
    int r = qv_conn_start_domain_restore(m->dconn, ddom, ddef, transient, sflags, &rs, err);
    if (r >= 0)
        /* libvirt's events at the destination: STARTED MIGRATED, then
         * RESUMED MIGRATED or, with PAUSED, SUSPENDED PAUSED. */
        qv_conn_emit(m->dconn, ddef->name, ddom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                     (m->flags & QV_MIGRATE_PAUSED) ? QV_DOMAIN_EVENT_SUSPENDED
                                                    : QV_DOMAIN_EVENT_RESUMED,
                     (m->flags & QV_MIGRATE_PAUSED) ? QV_DOMAIN_EVENT_SUSPENDED_PAUSED
                                                    : QV_DOMAIN_EVENT_RESUMED_MIGRATED, NULL);
    if (r < 0 || !(m->flags & QV_MIGRATE_PERSIST_DEST))
        return r;
    g_autofree char *out = persist_xml ? NULL
                                       : qv_domxml_format(ddef, QV_DOMXML_FORMAT_SECURE |
                                                                QV_DOMXML_FORMAT_INACTIVE);
    qv_domain *defined = NULL;
    if ((r = qv_conn_define_domain(m->dconn, persist_xml ? persist_xml : out, 0, &defined,
                                   err)) < 0) {
        if (err && *err)
            qv_error_prefix(*err, "the domain runs on the destination, but its config could "
                            "not be stored there");
        return r;
    }
    qv_domain_free(defined);
    return 0;
}

/* The source's side up to the transfer: the lifecycle lock (in c), the
 * destination's definition, the job, QEMU's command monitor, the disks to
 * copy (their images made here when create) and, without LIVE, the CPUs
 * stopped. Undone on failure. */
static int src_begin(mig *m, qv_call *c, qv_domdef **ddef_ret, bool create_images,
                     qv_error **err)
{
    qv_domain *dom = m->src;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, c, err);
    if (r < 0)
        return r;
    if (c->act.phase != QV_RUN_ON)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running (migrate a shut-off "
                            "domain's config with --offline --persistent)", dom->name);
    g_autoptr(qv_domdef) ddef = NULL;
    g_autoptr(qv_domdef) live = NULL;
    if ((r = dest_definition(dom, m->p, &ddef, err)) < 0 ||
        (r = qv_domain_load_def(dom, true, &live, err)) < 0)
        return r;
    if ((r = qv_job_begin(dom, &c->act, QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT, QV_JOB_MIGRATION,
                          &m->job, err)) < 0)
        return r;
    if (!(m->flags & QV_MIGRATE_LIVE)) {
        /* libvirt's non-live migration: the guest stops for the transfer.
         * Before the job takes the monitor: the stop takes qmp.lock too. */
        bool was_running = false;
        if ((r = qv_job_stop_cpus(dom, QV_DOMAIN_PAUSED_MIGRATION, &was_running, err)) < 0) {
            src_undo(m, r, err && *err ? qv_error_message(*err) : NULL);
            return r;
        }
        if (was_running) {
            m->resume_source = true;
            m->job.stopped_cpus = true;
            qv_job_update(dom, &m->job, NULL);
        }
    }
    if ((r = qv_domain_qmp_open(dom, &m->sq, &m->sq_lock, err)) < 0 ||
        (r = plan_disks(m, live, ddef, create_images, create_images, err)) < 0) {
        src_undo(m, r, err && *err ? qv_error_message(*err) : NULL);
        return r;
    }
    *ddef_ret = g_steal_pointer(&ddef);
    return 0;
}

/* The source's QEMU completed: the destination may run the guest from
 * here, so the record says so (a recovery then ends the source, never
 * resumes it) and the source is paused (migration). */
static void src_hand_over(mig *m)
{
    m->job.handed_over = true;
    qv_job_update(m->src, &m->job, NULL);
    qv_rt_state paused = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_MIGRATION, qv_rt_now_us() };
    if (m->src->smap)
        qv_rt_statemap_store(m->src->smap, &paused);
    qv_conn_emit(m->src->conn, m->src->name, m->src->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                 QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_MIGRATED, NULL);
}

/* After the source ended: UNDEFINE_SOURCE (the lock released first). */
static int src_undefine(mig *m, qv_call *c, qv_error **err)
{
    qv_call_end(c);
    int r = 0;
    if ((m->flags & QV_MIGRATE_UNDEFINE_SOURCE) && qv_domain_is_persistent(m->src, NULL) == 1 &&
        (r = qv_domain_undefine(m->src, 0, err)) < 0 && err && *err)
        qv_error_prefix(*err, "the domain runs on the destination, but the source's config "
                        "could not be removed");
    return r;
}

/* Where the destination listens and the source connects, from the URI
 * parameter (default: this host's loopback, or for a remote destination
 * its host name). */
static int plan_addresses(mig *m, const char *remote_host, qv_error **err)
{
    const qv_migrate_params *p = m->p;
    g_autofree char *uri_host = NULL;
    int r;
    if (param(p, QV_MIGRATE_FIELD_URI) && p->uri && *p->uri &&
        (r = parse_uri(p->uri, &uri_host, &m->port, err)) < 0)
        return r;
    const char *connect = uri_host ? uri_host : remote_host ? remote_host : "127.0.0.1";
    m->connect_host = g_strdup(connect);
    bool any = uri_host || remote_host;
    m->listen = g_strdup(param(p, QV_MIGRATE_FIELD_LISTEN_ADDRESS) && p->listen_address
                             ? p->listen_address
                         : !any ? "127.0.0.1" : strchr(connect, ':') ? "::" : "0.0.0.0");
    if (param(p, QV_MIGRATE_FIELD_DISKS_URI) && p->disks_uri) {
        int port = 0;
        if ((r = parse_uri(p->disks_uri, &m->nbd_host, &port, err)) < 0)
            return r;
    }
    return 0;
}

static int migrate_local(qv_domain *dom, qv_conn *dconn, const qv_migrate_params *p,
                         unsigned int flags, qv_domain **ret, qv_error **err)
{
    if (same_connection(dom->conn, dconn))
        return qv_error_set(err, -EINVAL, "cannot migrate domain '%s' to its own connection",
                            dom->name);
    if (flags & QV_MIGRATE_OFFLINE) {
        int active = qv_domain_is_active(dom, err);
        if (active < 0)
            return active;
        if (active)
            return qv_error_set(err, -EINVAL, "domain '%s' is running: an offline migration "
                                "copies the config of a shut-off domain", dom->name);
        return migrate_offline(dom, dconn, p, flags, ret, err);
    }
    g_auto(mig) m = { .src = dom, .dconn = dconn, .flags = flags, .p = p, .sq_lock = -1,
                      .source = local_source, .in_fd = -1, .out_fd = -1,
                      .disks = g_ptr_array_new_with_free_func(mig_disk_free) };
    int r = plan_addresses(&m, NULL, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    g_autoptr(qv_domdef) ddef = NULL;
    if ((r = src_begin(&m, &c, &ddef, true, err)) < 0)
        return r;
    m.ddef = ddef;
    qv_domain *ddom __attribute__((cleanup(qv_domain_freep))) = NULL;
    bool dest_persistent = false;
    if ((r = dest_handle(dconn, ddef, &ddom, &dest_persistent, err)) < 0) {
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        return r;
    }
    qv_log(QV_LOG_INFO, "domain '%s': migration to %s begins", dom->name,
           qv_conn_get_uri(dconn));
    const char *pxml = param(p, QV_MIGRATE_FIELD_PERSIST_XML) ? p->persist_xml : NULL;
    r = dest_start(&m, ddom, ddef, dest_persistent, pxml, err);
    if (r < 0 && !m.completed) {
        qv_log(QV_LOG_INFO, "domain '%s': migration failed; the source carries on", dom->name);
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        return r;
    }
    if (r < 0 && qv_domain_is_active(ddom, NULL) != 1) {
        /* The destination never ran the guest (its start was undone). */
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        return r;
    }
    /* The destination runs the guest (its config may have failed to
     * store: said in the error): from here the source only ends. */
    src_hand_over(&m);
    src_finish(&m, &c.act);
    qv_log(QV_LOG_INFO, "domain '%s': migrated to %s", dom->name, qv_conn_get_uri(dconn));
    if (r < 0)
        return r;
    if ((r = src_undefine(&m, &c, err)) < 0)
        return r;
    if (ret)
        *ret = g_steal_pointer(&ddom);
    return 0;
}

/* ---- between two hosts: qvirt+ssh:// ------------------------------------ */
/* The source runs `qvirt --connect REMOTE migrate-incoming` on the remote
 * host over ssh and speaks to it in JSON lines on its stdin and stdout:
 *   source -> destination  {"version", "xml", "flags", "listen", "port",
 *                           "disks": [...], "persist_xml", ...}
 *   destination -> source  {"ok": true, "port": P, "nbd_port": N}  (QEMU listens)
 *                          or {"ok": false, "error": "..."}
 *   source -> destination  {"op": "finish"} once its QEMU completed (after
 *                          the hand-over is recorded), or {"op": "abort"}
 *   destination -> source  {"ok": true} once the guest runs there, or
 *                          {"ok": false, "error": "..."} (its start undone).
 * ssh's end (EOF) before "finish" is an abort: the destination's start is
 * undone. Both ends are qvirt of the same protocol version. */
#define QV_MIGRATE_PROTOCOL 1
/* The longest line either side accepts (the domain XML travels in one). */
#define QV_MIGRATE_LINE_MAX (16 << 20)
/* How long the source waits for the destination's answers (its QEMU's
 * start and images; then its start's end). */
#define QV_MIGRATE_REMOTE_MS 120000
/* How long the source waits for ssh to exit once done. */
#define QV_MIGRATE_SSH_EXIT_MS 10000

static int write_line(int fd, json_object *o, qv_error **err)
{
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t n = write(fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return qv_error_set_errno(err, n < 0 ? -errno : -EPIPE, "cannot write to the other "
                                      "side of the migration");
        off += (size_t)n;
    }
    return 0;
}

/* One line (a JSON object): timeout_ms < 0 waits for ever. -EPIPE when the
 * other side closed first. */
static int read_line(int fd, int timeout_ms, json_object **ret, qv_error **err)
{
    g_autoptr(GString) line = g_string_new(NULL);
    gint64 deadline = timeout_ms < 0 ? 0 : g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int wait = timeout_ms < 0 ? -1 : (int)MAX(0, (deadline - g_get_monotonic_time()) / 1000);
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return qv_error_set(err, -ETIMEDOUT, "the other side of the migration did not "
                                "answer in %d s", timeout_ms / 1000);
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qv_error_set_errno(err, -errno, "cannot read from the other side of the "
                                      "migration");
        if (n == 0)
            return qv_error_set(err, -EPIPE, "the other side of the migration went away");
        if (ch == '\n')
            break;
        if (line->len >= QV_MIGRATE_LINE_MAX)
            return qv_error_set(err, -E2BIG, "the other side of the migration sent a line "
                                "longer than %d bytes", QV_MIGRATE_LINE_MAX);
        g_string_append_c(line, ch);
    }
    json_object *o = json_tokener_parse(line->str);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return qv_error_set(err, -EPROTO, "the other side of the migration sent something that "
                            "is not a JSON object");
    }
    *ret = o;
    return 0;
}

static bool line_ok(json_object *o)
{
    json_object *v = qv_json_get(o, "ok");
    return v && json_object_get_boolean(v);
}

static int reply(int fd, int r, const qv_error *why)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(r >= 0));
    if (r < 0)
        json_object_object_add(o, "error", json_object_new_string(why ? qv_error_message(why)
                                                                       : g_strerror(-r)));
    return write_line(fd, o, NULL);
}

/* The remote destination's source step: tell the source where QEMU
 * listens, then wait for its word. */
static int await_source(mig *m, const char *uri, int port, qv_error **err)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(true));
    json_object_object_add(o, "port", json_object_new_int(port));
    json_object_object_add(o, "nbd_port", json_object_new_int(m->nbd_port));
    int r = write_line(m->out_fd, o, err);
    if (r < 0)
        return r;
    g_autoptr(json_object) word = NULL;
    if ((r = read_line(m->in_fd, -1, &word, err)) < 0)
        return r == -EPIPE ? qv_error_set(err, -ECANCELED, "the source went away during the "
                                          "migration") : r;
    if (!g_strcmp0(qv_json_get_str(word, "op"), "finish"))
        return 0;
    return qv_error_set(err, -ECANCELED, "the source aborted the migration: %s",
                        qv_json_get_str(word, "error") ?: "no reason given");
}

int qv_conn_migrate_incoming(qv_conn *conn, int in_fd, int out_fd, unsigned int flags,
                             qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_migrate_incoming(conn, in_fd, out_fd, flags, err));
    if (!conn || in_fd < 0 || out_fd < 0)
        return qv_error_set(err, -EINVAL, "qv_conn_migrate_incoming: conn, in_fd and out_fd "
                            "are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_conn_migrate_incoming: unsupported flags 0x%x",
                            flags);
    g_autoptr(json_object) req = NULL;
    qv_error *lerr = NULL;
    int r = read_line(in_fd, QV_MIGRATE_REMOTE_MS, &req, &lerr);
    if (r >= 0 && qv_json_get_int(req, "version", 0) != QV_MIGRATE_PROTOCOL)
        r = qv_error_set(&lerr, -EPROTO, "the source speaks migration protocol %lld, this "
                         "qvirt %d: use the same qvirt version on both hosts",
                         qv_json_get_int(req, "version", 0), QV_MIGRATE_PROTOCOL);
    g_autoptr(qv_domdef) ddef = NULL;
    const char *xml = req ? qv_json_get_str(req, "xml") : NULL;
    if (r >= 0 && !xml)
        r = qv_error_set(&lerr, -EPROTO, "the source sent no domain XML");
    if (r >= 0 && (r = qv_domxml_parse(xml, 0, &ddef, &lerr)) < 0 && lerr)
        qv_error_prefix(lerr, "the migrated domain's XML");
    qv_migrate_params p = { .size = sizeof p };
    g_auto(mig) m = { .dconn = conn, .sq_lock = -1, .source = await_source, .in_fd = in_fd,
                      .out_fd = out_fd, .p = &p,
                      .disks = g_ptr_array_new_with_free_func(mig_disk_free) };
    qv_domain *ddom __attribute__((cleanup(qv_domain_freep))) = NULL;
    bool dest_persistent = false;
    if (r >= 0) {
        m.ddef = ddef;
        m.flags = (unsigned int)qv_json_get_int(req, "flags", 0);
        m.listen = g_strdup(qv_json_get_str(req, "listen") ?: "0.0.0.0");
        m.port = (int)qv_json_get_int(req, "port", 0);
        if (qv_json_get(req, "parallel_connections")) {
            p.fields |= QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS;
            p.parallel_connections = (int)qv_json_get_int(req, "parallel_connections", 0);
        }
        if (qv_json_get(req, "disks_port")) {
            p.fields |= QV_MIGRATE_FIELD_DISKS_PORT;
            p.disks_port = (int)qv_json_get_int(req, "disks_port", 0);
        }
        json_object *disks = qv_json_get(req, "disks");
        for (size_t i = 0; r >= 0 && disks && i < json_object_array_length(disks); i++) {
            json_object *d = json_object_array_get_idx(disks, i);
            const char *target = qv_json_get_str(d, "target");
            const qv_domdef_disk *dd = target ? disk_by_target(ddef, target) : NULL;
            if (!dd || !dd->src.path) {
                r = qv_error_set(&lerr, -EINVAL, "the migrated domain has no image for disk %s",
                                 target ? target : "(none)");
                break;
            }
            mig_disk *md = g_new0(mig_disk, 1);
            g_ptr_array_add(m.disks, md);
            md->target = g_strdup(target);
            md->dst_path = g_strdup(dd->src.path);
            md->dst_format = g_strdup(dd->src.format ? dd->src.format : "raw");
            md->size = (unsigned long long)qv_json_get_int(d, "size", 0);
            md->backing = g_strdup(qv_json_get_str(d, "backing"));
            md->backing_format = g_strdup(qv_json_get_str(d, "backing_format"));
            r = create_image(md, &lerr);
        }
    }
    if (r >= 0)
        r = dest_handle(conn, ddef, &ddom, &dest_persistent, &lerr);
    if (r >= 0) {
        qv_log(QV_LOG_INFO, "domain '%s': incoming migration begins", ddef->name);
        r = dest_start(&m, ddom, ddef, dest_persistent, qv_json_get_str(req, "persist_xml"),
                       &lerr);
    }
    reply(out_fd, r, lerr);
    if (r < 0)
        return qv_error_propagate(err, lerr);
    qv_log(QV_LOG_INFO, "domain '%s': incoming migration done", ddef->name);
    return 0;
}

static json_object *request_json(const mig *m, const qv_domdef *ddef)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_int(QV_MIGRATE_PROTOCOL));
    g_autofree char *xml = qv_domxml_format(ddef, QV_DOMXML_FORMAT_SECURE |
                                                  QV_DOMXML_FORMAT_INACTIVE);
    json_object_object_add(o, "xml", json_object_new_string(xml));
    json_object_object_add(o, "flags", json_object_new_int64(m->flags));
    json_object_object_add(o, "listen", json_object_new_string(m->listen));
    json_object_object_add(o, "port", json_object_new_int(m->port));
    if (param(m->p, QV_MIGRATE_FIELD_PERSIST_XML) && m->p->persist_xml)
        json_object_object_add(o, "persist_xml", json_object_new_string(m->p->persist_xml));
    if (param(m->p, QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS))
        json_object_object_add(o, "parallel_connections",
                               json_object_new_int(m->p->parallel_connections));
    if (param(m->p, QV_MIGRATE_FIELD_DISKS_PORT))
        json_object_object_add(o, "disks_port", json_object_new_int(m->p->disks_port));
    json_object *disks = json_object_new_array();
    for (guint i = 0; i < m->disks->len; i++) {
        const mig_disk *d = m->disks->pdata[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "target", json_object_new_string(d->target));
        json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
        if (d->backing) {
            json_object_object_add(j, "backing", json_object_new_string(d->backing));
            json_object_object_add(j, "backing_format",
                                   json_object_new_string(d->backing_format));
        }
        json_object_array_add(disks, j);
    }
    json_object_object_add(o, "disks", disks);
    return o;
}

static int migrate_remote(qv_domain *dom, const qv_ssh_uri *u, const qv_migrate_params *p,
                          unsigned int flags, qv_error **err)
{
    if (flags & QV_MIGRATE_OFFLINE)
        return qv_error_set(err, -ENOTSUP, "offline migration to another host is not supported "
                            "yet: copy the XML and define it there");
    g_auto(mig) m = { .src = dom, .flags = flags, .p = p, .sq_lock = -1, .in_fd = -1,
                      .out_fd = -1, .disks = g_ptr_array_new_with_free_func(mig_disk_free) };
    int r = plan_addresses(&m, u->host, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    g_autoptr(qv_domdef) ddef = NULL;
    if ((r = src_begin(&m, &c, &ddef, false, err)) < 0)
        return r;
    g_autoptr(qv_process) ssh = NULL;
    qv_autoclose int to = -1;
    qv_autoclose int from = -1;
    qv_autoclose int errs = -1;
    g_autoptr(json_object) req = request_json(&m, ddef);
    g_autoptr(json_object) answer = NULL;
    qv_log(QV_LOG_INFO, "domain '%s': migration to %s over ssh begins", dom->name, u->host);
    if ((r = qv_ssh_spawn(u, "migrate-incoming", -1, &ssh, &to, &from, &errs, err)) < 0 ||
        (r = write_line(to, req, err)) < 0 ||
        (r = read_line(from, QV_MIGRATE_REMOTE_MS, &answer, err)) < 0 ||
        (!line_ok(answer) &&
         (r = qv_error_set(err, -EIO, "the destination could not prepare the migration: %s",
                           qv_json_get_str(answer, "error") ?: "no reason given")) < 0)) {
        if (r == -EPIPE || r == -ETIMEDOUT)
            qv_ssh_add_stderr(errs, err);
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        if (ssh)
            qv_process_terminate(ssh, QV_MIGRATE_SSH_EXIT_MS, NULL, NULL);
        return r;
    }
    m.nbd_port = (int)qv_json_get_int(answer, "nbd_port", 0);
    if (!m.nbd_host)
        m.nbd_host = g_strdup(m.connect_host);
    bool v6 = strchr(m.connect_host, ':') != NULL;
    g_autofree char *uri = g_strdup_printf(v6 ? "tcp:[%s]:%lld" : "tcp:%s:%lld", m.connect_host,
                                           qv_json_get_int(answer, "port", 0));
    if ((r = src_run(&m, uri, err)) < 0) {
        g_autoptr(json_object) ab = json_object_new_object();
        json_object_object_add(ab, "op", json_object_new_string("abort"));
        json_object_object_add(ab, "error", json_object_new_string(
                                   err && *err ? qv_error_message(*err) : g_strerror(-r)));
        write_line(to, ab, NULL);
        g_autoptr(json_object) last = NULL;
        read_line(from, QV_MIGRATE_REMOTE_MS, &last, NULL);
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        qv_process_terminate(ssh, QV_MIGRATE_SSH_EXIT_MS, NULL, NULL);
        return r;
    }
    src_hand_over(&m);
    g_autoptr(json_object) fin = json_object_new_object();
    json_object_object_add(fin, "op", json_object_new_string("finish"));
    g_autoptr(json_object) done = NULL;
    if ((r = write_line(to, fin, err)) < 0 ||
        (r = read_line(from, QV_MIGRATE_REMOTE_MS, &done, err)) < 0) {
        /* Whether the destination runs the guest is unknown: never resume
         * the source (the guest must not run twice). */
        qv_ssh_add_stderr(errs, err);
        if (err && *err)
            qv_error_prefix(*err, "domain '%s' may run on %s now, or nowhere: the source is "
                            "left paused; check the destination, then destroy or resume it "
                            "here", dom->name, u->host);
        m.final.type = QV_DOMAIN_JOB_FAILED;
        qv_job_end(dom, &m.job, &m.final);
        qv_process_terminate(ssh, QV_MIGRATE_SSH_EXIT_MS, NULL, NULL);
        return r;
    }
    if (!line_ok(done)) {
        /* The destination undid its start: the source runs on. */
        r = qv_error_set(err, -EIO, "the destination could not run the domain: %s",
                         qv_json_get_str(done, "error") ?: "no reason given");
        m.job.handed_over = false;
        qv_job_update(dom, &m.job, NULL);
        src_undo(&m, r, err && *err ? qv_error_message(*err) : NULL);
        qv_process_terminate(ssh, QV_MIGRATE_SSH_EXIT_MS, NULL, NULL);
        return r;
    }
    src_finish(&m, &c.act);
    qv_process_wait(ssh, QV_MIGRATE_SSH_EXIT_MS, NULL, NULL);
    qv_log(QV_LOG_INFO, "domain '%s': migrated to %s", dom->name, u->host);
    return src_undefine(&m, &c, err);
}

/* ---- public calls --------------------------------------------------------- */

static int check_params(const qv_migrate_params *p, qv_error **err)
{
    if (p && p->size && p->size < offsetof(qv_migrate_params, parallel_connections) + sizeof(int))
        return qv_error_set(err, -EINVAL, "migrate: qv_migrate_params.size %zu is too small",
                            p->size);
    return 0;
}

int qv_domain_migrate(qv_domain *dom, qv_conn *dconn, const qv_migrate_params *params,
                      unsigned int flags, qv_domain **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_migrate(dom, dconn, params, flags, ret, err));
    if (ret)
        *ret = NULL;
    if (!dom || !dconn)
        return qv_error_set(err, -EINVAL, "qv_domain_migrate: dom and dconn are required");
    int r = check_flags(flags, err);
    if (r < 0 || (r = check_params(params, err)) < 0)
        return r;
    if (!dconn->remote)
        return migrate_local(dom, dconn, params, flags, ret, err);
    /* A connection of another host: over ssh, as its URI would be. */
    if ((r = qv_domain_migrate_to_uri(dom, dconn->uri, params, flags, err)) < 0 || !ret)
        return r;
    return qv_conn_get_domain_by_name(dconn, qv_migrate_dest_name(dom, params), ret, err);
}

const char *qv_migrate_dest_name(const qv_domain *dom, const qv_migrate_params *p)
{
    bool has = p && p->size >= offsetof(qv_migrate_params, dest_name) + sizeof p->dest_name &&
               (p->fields & QV_MIGRATE_FIELD_DEST_NAME) && p->dest_name;
    return has ? p->dest_name : dom->name;
}

int qv_domain_migrate_to_uri(qv_domain *dom, const char *dconnuri,
                             const qv_migrate_params *params, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_migrate_to_uri(dom, dconnuri, params, flags, err));
    if (!dom || !dconnuri || !*dconnuri)
        return qv_error_set(err, -EINVAL, "qv_domain_migrate_to_uri: dom and dconnuri are "
                            "required");
    int r = check_flags(flags, err);
    if (r < 0 || (r = check_params(params, err)) < 0)
        return r;
    g_auto(qv_ssh_uri) ssh = { 0 };
    if ((r = qv_ssh_uri_parse(dconnuri, &ssh, err)) < 0)
        return r;
    if (r == 1)
        return migrate_remote(dom, &ssh, params, flags, err);
    qv_conn *dconn __attribute__((cleanup(qv_conn_closep))) = NULL;
    if ((r = qv_conn_open(dconnuri, &dconn, err)) < 0)
        return r;
    return migrate_local(dom, dconn, params, flags, NULL, err);
}

/* The parameters of the deprecated positional forms (each may be unset). */
static qv_migrate_params positional_params(const char *dxml, const char *dname, const char *uri,
                                           unsigned long bandwidth)
{
    qv_migrate_params p = { .size = sizeof p, .dest_xml = dxml, .dest_name = dname, .uri = uri,
                            .bandwidth = bandwidth };
    p.fields = (dxml ? QV_MIGRATE_FIELD_DEST_XML : 0) | (dname ? QV_MIGRATE_FIELD_DEST_NAME : 0) |
               (uri ? QV_MIGRATE_FIELD_URI : 0) | (bandwidth ? QV_MIGRATE_FIELD_BANDWIDTH : 0);
    return p;
}

int qv_domain_migrate2(qv_domain *dom, qv_conn *dconn, const char *dxml, unsigned int flags,
                       const char *dname, const char *uri, unsigned long bandwidth,
                       qv_domain **ret, qv_error **err)
{
    qv_migrate_params p = positional_params(dxml, dname, uri, bandwidth);
    return qv_domain_migrate(dom, dconn, &p, flags, ret, err);
}

int qv_domain_migrate_to_uri2(qv_domain *dom, const char *dconnuri, const char *miguri,
                              const char *dxml, unsigned int flags, const char *dname,
                              unsigned long bandwidth, qv_error **err)
{
    qv_migrate_params p = positional_params(dxml, dname, miguri, bandwidth);
    return qv_domain_migrate_to_uri(dom, dconnuri, &p, flags, err);
}

int qv_domain_migrate_start_post_copy(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_migrate_start_post_copy(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_migrate_start_post_copy: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "migrate_start_post_copy: unsupported flags 0x%x",
                            flags);
    qv_job job;
    if (qv_job_current(dom, &job) != 1 || job.operation != QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return qv_error_set(err, -EINVAL, "domain '%s' is not being migrated", dom->name);
    g_autoptr(json_object) caps = NULL;
    int r = qv_domain_qmp_call(dom, "query-migrate-capabilities", NULL, &caps, err);
    if (r < 0)
        return r;
    bool postcopy = false;
    for (size_t i = 0; caps && i < json_object_array_length(caps); i++) {
        json_object *c = json_object_array_get_idx(caps, i);
        if (!g_strcmp0(qv_json_get_str(c, "capability"), "postcopy-ram"))
            postcopy = json_object_get_boolean(qv_json_get(c, "state"));
    }
    if (!postcopy)
        return qv_error_set(err, -EINVAL, "the migration of domain '%s' was not started with "
                            "--postcopy (POSTCOPY)", dom->name);
    return qv_domain_qmp_call(dom, "migrate-start-postcopy", NULL, NULL, err);
}

/* ---- tunables ------------------------------------------------------------- */

static int running(qv_domain *dom, const char *what, qv_error **err)
{
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "%s", what);
    return r;
}

static int get_param(qv_domain *dom, const char *name, long long *v, qv_error **err)
{
    g_autoptr(json_object) ps = NULL;
    int r = qv_domain_qmp_call(dom, "query-migrate-parameters", NULL, &ps, err);
    if (r < 0)
        return r;
    *v = qv_json_get_int(ps, name, -1);
    if (*v < 0)
        return qv_error_set(err, -EIO, "QEMU reports no migration parameter '%s'", name);
    return 0;
}

static int set_param(qv_domain *dom, const char *name, long long v, qv_error **err)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, name, json_object_new_int64(v));
    return qv_domain_qmp_call(dom, "migrate-set-parameters", a, NULL, err);
}

int qv_domain_migrate_set_max_downtime(qv_domain *dom, unsigned long long downtime,
                                       unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_migrate_set_max_downtime(dom, downtime, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "migrate_set_max_downtime: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "migrate_set_max_downtime: unsupported flags 0x%x",
                            flags);
    /* QEMU 7.2's limit for downtime-limit: 2000 s. */
    if (downtime == 0 || downtime > 2000000)
        return qv_error_set(err, -EINVAL, "migration downtime %llu ms is out of range "
                            "(1..2000000)", downtime);
    int r = running(dom, "migrate_set_max_downtime", err);
    return r < 0 ? r : set_param(dom, "downtime-limit", (long long)downtime, err);
}

int qv_domain_migrate_get_max_downtime(qv_domain *dom, unsigned long long *downtime,
                                       unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_migrate_get_max_downtime(dom, downtime, flags, err));
    if (!dom || !downtime)
        return qv_error_set(err, -EINVAL, "migrate_get_max_downtime: dom and downtime are "
                            "required");
    if (flags)
        return qv_error_set(err, -EINVAL, "migrate_get_max_downtime: unsupported flags 0x%x",
                            flags);
    long long v;
    int r = running(dom, "migrate_get_max_downtime", err);
    if (r < 0 || (r = get_param(dom, "downtime-limit", &v, err)) < 0)
        return r;
    *downtime = (unsigned long long)v;
    return 0;
}

int qv_domain_migrate_set_max_speed(qv_domain *dom, unsigned long bandwidth, unsigned int flags,
                                    qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_migrate_set_max_speed(dom, bandwidth, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "migrate_set_max_speed: dom is required");
    if (flags & ~QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY)
        return qv_error_set(err, -EINVAL, "migrate_set_max_speed: unsupported flags 0x%x",
                            flags);
    if (bandwidth > QV_MIGRATE_SPEED_UNLIMITED)
        return qv_error_set(err, -EINVAL, "migration speed %lu MiB/s is above the limit of "
                            "%llu", bandwidth, QV_MIGRATE_SPEED_UNLIMITED);
    int r = running(dom, "migrate_set_max_speed", err);
    if (r < 0)
        return r;
    bool post = flags & QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY;
    unsigned long long normal, postcopy;
    read_speeds(dom, &normal, &postcopy);
    if (post)
        postcopy = bandwidth;
    else
        normal = bandwidth ? bandwidth : QV_MIGRATE_SPEED_UNLIMITED;
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "bandwidth", json_object_new_int64((int64_t)normal));
    json_object_object_add(o, "postcopy", json_object_new_int64((int64_t)postcopy));
    g_autofree char *path = qv_domain_file(dom, QV_MIGRATE_SPEED_FILE);
    if ((r = qv_rt_write_json(path, o, err)) < 0)
        return r;
    /* A migration that runs changes speed now. */
    qv_job job;
    if (qv_job_current(dom, &job) == 1 && job.operation == QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        r = set_param(dom, post ? "max-postcopy-bandwidth" : "max-bandwidth",
                      (long long)speed_bytes(post ? postcopy : normal), err);
    return r;
}

int qv_domain_migrate_get_max_speed(qv_domain *dom, unsigned long *bandwidth, unsigned int flags,
                                    qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_migrate_get_max_speed(dom, bandwidth, flags, err));
    if (!dom || !bandwidth)
        return qv_error_set(err, -EINVAL, "migrate_get_max_speed: dom and bandwidth are "
                            "required");
    if (flags & ~QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY)
        return qv_error_set(err, -EINVAL, "migrate_get_max_speed: unsupported flags 0x%x",
                            flags);
    int r = running(dom, "migrate_get_max_speed", err);
    if (r < 0)
        return r;
    unsigned long long normal, postcopy;
    read_speeds(dom, &normal, &postcopy);
    *bandwidth = (unsigned long)((flags & QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY) ? postcopy
                                                                                : normal);
    return 0;
}

int qv_domain_migrate_set_compression_cache(qv_domain *dom, unsigned long long cachesize,
                                            unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_migrate_set_compression_cache(dom, cachesize, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "migrate_set_compression_cache: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "migrate_set_compression_cache: unsupported flags "
                            "0x%x", flags);
    int r = running(dom, "migrate_set_compression_cache", err);
    return r < 0 ? r : set_param(dom, "xbzrle-cache-size", (long long)cachesize, err);
}

int qv_domain_migrate_get_compression_cache(qv_domain *dom, unsigned long long *cachesize,
                                            unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_migrate_get_compression_cache(dom, cachesize, flags, err));
    if (!dom || !cachesize)
        return qv_error_set(err, -EINVAL, "migrate_get_compression_cache: dom and cachesize "
                            "are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "migrate_get_compression_cache: unsupported flags "
                            "0x%x", flags);
    long long v;
    int r = running(dom, "migrate_get_compression_cache", err);
    if (r < 0 || (r = get_param(dom, "xbzrle-cache-size", &v, err)) < 0)
        return r;
    *cachesize = (unsigned long long)v;
    return 0;
}
