/* QMP commands of a domain handle and the path each takes to QEMU: the
 * handle's lane (lane-0.sock, leased with lane-0.lock), else the monitor's
 * command proxy (ctl.sock), else QEMU's command monitor (qmp.sock) under
 * qmp.lock. A command moves on to the next path only when not a byte of it
 * went out on the last (README, "Commands"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "internal.h"
#include "qv-log.h"
#include "qv-socket.h"

/* How long a call waits for qmp.lock while another process runs a command
 * or a stop/cont; then it fails with -EBUSY. */
#define QV_MONITOR_LOCK_MS 30000

/* QEMU's greeting on qmp.sock (qmp.lock held: nobody else is on it). */
#define QV_QMP_CONNECT_MS 30000

/* A free lane's greeting: QEMU greets at once, and anyone else on the
 * socket (a debugging session) must not stall us long. */
#define QV_LANE_CONNECT_MS 500

/* The monitor's greeting on ctl.sock. */
#define QV_CTL_CONNECT_MS 5000

/* Records in qmp.lock when its holder took it, for get_control_info. Fixed
 * width, written over the last holder's: truncating the file (ext4
 * journals it) cost more than the stop or cont it guards. Read only while
 * the lock is held. */
static void stamp_lock(int fd)
{
    char stamp[32];
    int n = snprintf(stamp, sizeof stamp, "%20lld\n", qv_rt_now_us());
    if (pwrite(fd, stamp, (size_t)n, 0) < 0) {
        /* Only informational. */
    }
}

/* qmp.lock: serialises QEMU's command monitor and every stop, cont and
 * state write. The lock file holds when its holder started, for
 * get_control_info. */
static int lock_monitor(qv_domain *dom, qv_error **err)
{
    g_autofree char *lock_path = qv_domain_file(dom, QV_RT_RUN_QMP_LOCK);
    int lock = qv_rt_lock(lock_path, QV_MONITOR_LOCK_MS, err);
    if (lock == -ETIMEDOUT)
        return qv_error_set(err, -EBUSY,
                            "domain '%s': another process has been using the monitor for %d s",
                            dom->name, QV_MONITOR_LOCK_MS / 1000);
    if (lock < 0)
        return lock;
    stamp_lock(lock);
    return lock;
}

/* qmp.lock of the run the handle maps, on the fd the handle keeps (stop
 * and cont take it twice per pair: opening the file each time cost more
 * than the lock). When it was taken goes into the mapped state, not the
 * lock file: a write to the file cost more than the store. Released with
 * qv_domain_unlock_run. */
int qv_domain_lock_run(qv_domain *dom, qv_error **err)
{
    pid_t self = getpid();
    if (dom->run_lock >= 0 && dom->run_lock_owner != self) {
        close(dom->run_lock);
        dom->run_lock = -1;
    }
    if (dom->run_lock < 0) {
        g_autofree char *path = qv_domain_file(dom, QV_RT_RUN_QMP_LOCK);
        dom->run_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (dom->run_lock < 0)
            return qv_error_set_errno(err, -errno, "cannot open %s", path);
        dom->run_lock_owner = self;
    }
    int r = qv_rt_lock_fd(dom->run_lock, QV_MONITOR_LOCK_MS);
    if (r == -ETIMEDOUT)
        return qv_error_set(err, -EBUSY,
                            "domain '%s': another process has been using the monitor for %d s",
                            dom->name, QV_MONITOR_LOCK_MS / 1000);
    if (r < 0)
        return qv_error_set_errno(err, r, "domain '%s': cannot lock qmp.lock", dom->name);
    if (dom->smap)
        qv_rt_statemap_set_lock_since(dom->smap, qv_rt_now_us());
    return 0;
}

void qv_domain_unlock_run(qv_domain *dom)
{
    flock(dom->run_lock, LOCK_UN);
}

/* QEMU's command monitor, qmp.lock already held. */
static int connect_qmp_sock(qv_domain *dom, qv_qmp **qmp, qv_error **err)
{
    g_autofree char *sock = qv_domain_file(dom, QV_RT_RUN_QMP_SOCK);
    int r = qv_qmp_connect_path(sock, QV_QMP_MODE_QMP, QV_QMP_CONNECT_MS, qmp, err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "domain '%s'", dom->name);
    return r;
}

int qv_domain_qmp_open(qv_domain *dom, qv_qmp **qmp, int *lock_fd, qv_error **err)
{
    int lock = lock_monitor(dom, err);
    if (lock < 0)
        return lock;
    int r = connect_qmp_sock(dom, qmp, err);
    if (r < 0) {
        qv_rt_unlock(lock);
        return r;
    }
    g_autofree char *who = g_strdup_printf("domain '%s'", dom->name);
    qv_qmp_set_log_name(*qmp, who, "qmp.sock");
    *lock_fd = lock;
    return 0;
}

static void handshake_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    /* A failure is the next command's error (commands wait for it). */
}

int qv_domain_qmp_open_async(qv_domain *dom, qv_qmp **qmp, int *lock_fd, qv_error **err)
{
    int lock = lock_monitor(dom, err);
    if (lock < 0)
        return lock;
    g_autofree char *sock = qv_domain_file(dom, QV_RT_RUN_QMP_SOCK);
    qv_autoclose int fd = qv_unix_connect(sock, err);
    int r = fd < 0 ? fd : qv_qmp_new(fd, QV_QMP_MODE_QMP, qmp, err);
    if (r >= 0) {
        qv_steal_fd(&fd); /* the connection owns it now */
        if ((r = qv_qmp_handshake_async(*qmp, QV_QMP_CONNECT_MS, handshake_done, NULL, err)) < 0)
            g_clear_pointer(qmp, qv_qmp_free);
    }
    if (r < 0) {
        qv_rt_unlock(lock);
        return r;
    }
    g_autofree char *who = g_strdup_printf("domain '%s'", dom->name);
    qv_qmp_set_log_name(*qmp, who, "qmp.sock");
    *lock_fd = lock;
    return 0;
}

void qv_domain_qmp_close(qv_qmp *qmp, int lock_fd)
{
    qv_qmp_free(qmp);
    qv_rt_unlock(lock_fd);
}

static void lane_release(qv_domain *dom)
{
    qv_qmp_free(dom->lane);
    dom->lane = NULL;
    qv_rt_unlock(dom->lane_lock);
    dom->lane_lock = -1;
}

static bool drop_event(qv_qmp *qmp, const qv_qmp_event *ev, void *userdata)
{
    return true;
}

/* How long a lane may sit unused before the next call leases it afresh.
 * QEMU sends every event to every monitor, and while nobody reads a lane
 * it keeps them in a buffer without a bound (a hundred bytes or so per
 * event): a handle that went quiet gives its lane back at its next call,
 * which frees that buffer, instead of reading the backlog. A handle that
 * stays quiet for good holds it until it is freed. */
#define QV_LANE_IDLE_US (10 * G_USEC_PER_SEC)

/* The handle's lane, leased on first use: QEMU has QV_RT_LANES command
 * monitors besides the proxy's, one client each, and a process that holds
 * lane-N.lock keeps a connection to lane-N.sock open. A call on it is one
 * round trip to QEMU with no process in between, which is what a busy
 * caller (an orchestrator, a test harness) wants; when all lanes are taken
 * the proxy serves. The lock goes with the process, so a crashed holder
 * frees its lane; a forked child leases its own (closing its copies of the
 * parent's fds does not release the parent's lock). */
static qv_qmp *lane_get(qv_domain *dom)
{
    gint64 now = g_get_monotonic_time();
    if (dom->lane && (qv_qmp_is_broken(dom->lane) || dom->lane_qemu != dom->status.qemu_pid ||
                      dom->lane_qemu_start != dom->status.qemu_start ||
                      dom->lane_owner != getpid() || now - dom->lane_used_us > QV_LANE_IDLE_US))
        lane_release(dom);
    if (dom->lane) {
        dom->lane_used_us = now;
        return dom->lane;
    }
    if (dom->status.qemu_pid <= 0 || now < dom->lane_retry_us)
        return NULL;
    for (int i = 0; i < QV_RT_LANES; i++) {
        char name[32];
        snprintf(name, sizeof name, QV_RT_RUN_LANE_LOCK_FMT, i);
        g_autofree char *lock_path = qv_domain_file(dom, name);
        int lock = qv_rt_lock(lock_path, 0, NULL);
        if (lock < 0)
            continue;
        snprintf(name, sizeof name, QV_RT_RUN_LANE_SOCK_FMT, i);
        g_autofree char *sock = qv_domain_file(dom, name);
        /* A free lock means an idle lane. */
        if (qv_qmp_connect_path(sock, QV_QMP_MODE_QMP, QV_LANE_CONNECT_MS, &dom->lane, NULL) < 0) {
            qv_rt_unlock(lock);
            continue;
        }
        /* Events are the monitor's to journal: not kept here. */
        qv_qmp_set_event_callback(dom->lane, drop_event, NULL);
        dom->lane_lock = lock;
        dom->lane_owner = getpid();
        dom->lane_used_us = now;
        dom->lane_qemu = dom->status.qemu_pid;
        dom->lane_qemu_start = dom->status.qemu_start;
        return dom->lane;
    }
    dom->lane_retry_us = now + G_USEC_PER_SEC;
    return NULL;
}

/* What goes over a connection: one command, or a batch of independent
 * ones sent at once. args stay the caller's, so a path that breaks before
 * a byte of the request went out leaves them for the next. */
typedef struct qmp_request {
    const char *cmd;
    json_object *args;
    json_object **ret;
    qv_qmp_batch_cmd *batch;   /* instead of cmd: n commands */
    size_t n;
} qmp_request;

/* One debug line per request and path: what was sent (names only, see
 * qv_qmp_append_log_summary), how it went (ok, the QMP error class, or the errno),
 * and how long it took. */
static void log_request(qv_domain *dom, const char *tag, const qmp_request *req, int r,
                        const qv_error *lerr, const char *broke, gint64 t0)
{
    g_autoptr(GString) what = g_string_new(NULL);
    if (!req->batch) {
        qv_qmp_append_log_summary(what, req->cmd, req->args);
    } else {
        g_string_append(what, "batch ");
        for (size_t i = 0; i < req->n; i++) {
            if (i)
                g_string_append(what, ", ");
            qv_qmp_append_log_summary(what, req->batch[i].command, req->batch[i].args);
        }
    }
    g_autofree char *result = NULL;
    if (broke) {
        result = g_strdup(broke);
    } else if (r >= 0 && req->batch) {
        size_t failed = 0;
        const char *cls = NULL;
        for (size_t i = 0; i < req->n; i++)
            if (req->batch[i].result < 0 && failed++ == 0)
                cls = qv_error_qmp_class(req->batch[i].err);
        result = failed ? g_strdup_printf("ok, %zu of %zu failed (first: %s)", failed, req->n,
                                          cls ? cls : "no class")
                        : g_strdup("ok");
    } else if (r >= 0) {
        result = g_strdup("ok");
    } else if (qv_error_qmp_class(lerr)) {
        result = g_strdup_printf("error %s", qv_error_qmp_class(lerr));
    } else {
        result = g_strdup_printf("failed (%s)", g_strerror(-r));
    }
    double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
    qv_log(QV_LOG_DEBUG, "domain '%s': qmp %s via %s: %s in %.2f ms", dom->name, what->str, tag,
           result, ms);
}

/* Runs req on qmp, which `path` names for messages and `tag` for the log.
 * A command is never sent twice: when the connection breaks before a byte
 * of req went out and unsent is not NULL, *unsent is set and err left
 * alone, for the caller to try the next path; when it breaks after, QEMU
 * may have run the command, and the caller hears so. */
static int run_request(qv_domain *dom, qv_qmp *qmp, const char *path, const char *tag,
                       const qmp_request *req, bool *unsent, qv_error **err)
{
    g_autoptr(qv_error) lerr = NULL;
    uint64_t written = qv_qmp_get_bytes_written(qmp);
    bool logging = qv_log_enabled(QV_LOG_DEBUG);
    gint64 t0 = logging ? g_get_monotonic_time() : 0;
    int r;
    if (!req->batch) {
        r = qv_qmp_call(qmp, req->cmd, req->args ? json_object_get(req->args) : NULL, 0, req->ret,
                        &lerr);
    } else {
        g_autofree qv_qmp_batch_cmd *b = g_new0(qv_qmp_batch_cmd, req->n);
        for (size_t i = 0; i < req->n; i++) {
            b[i].command = req->batch[i].command;
            b[i].args = req->batch[i].args ? json_object_get(req->batch[i].args) : NULL;
        }
        r = qv_qmp_call_batch(qmp, b, req->n, 0, &lerr);
        for (size_t i = 0; r >= 0 && i < req->n; i++) {
            req->batch[i].result = b[i].result;
            req->batch[i].ret = g_steal_pointer(&b[i].ret);
            req->batch[i].err = g_steal_pointer(&b[i].err);
            if (req->batch[i].err)
                qv_error_prefix(req->batch[i].err, "domain '%s'", dom->name);
        }
        qv_qmp_batch_clear(b, req->n);
    }
    if (logging) {
        const char *broke = NULL;
        if (r < 0 && qv_qmp_is_broken(qmp))
            broke = qv_qmp_get_bytes_written(qmp) == written
                        ? (unsent ? "connection closed before sending; trying the next path"
                                  : "connection closed before sending")
                        : "connection broke after sending; it may or may not have run";
        log_request(dom, tag, req, r, lerr, broke, t0);
    }
    if (r >= 0)
        return r;
    if (qv_qmp_is_broken(qmp)) {
        if (qv_qmp_get_bytes_written(qmp) == written) {
            if (unsent) {
                *unsent = true;
                return r;
            }
        } else {
            const char *cmd = req->batch ? req->batch[0].command : req->cmd;
            g_autofree char *more = req->batch && req->n > 1
                                        ? g_strdup_printf(" (and %zu more)", req->n - 1)
                                        : g_strdup("");
            return qv_error_set(err, r,
                                "domain '%s': the connection to QEMU (%s) broke after '%s'%s "
                                "was sent; it may or may not have run (%s)",
                                dom->name, path, cmd, more, qv_error_message(lerr));
        }
    }
    qv_error_prefix(lerr, "domain '%s'", dom->name);
    return qv_error_propagate(err, g_steal_pointer(&lerr));
}

/* Sends req on the handle's lane. Returns false when there is none or it
 * broke before req went out (QEMU went away: the next path says so). */
static bool try_lane(qv_domain *dom, const qmp_request *req, int *result, qv_error **err)
{
    qv_qmp *lane = lane_get(dom);
    if (!lane)
        return false;
    bool unsent = false;
    int r = run_request(dom, lane, "the lane", "lane", req, &unsent, err);
    if (r < 0 && qv_qmp_is_broken(lane))
        lane_release(dom);
    if (unsent)
        return false;
    *result = r;
    return true;
}

/* Sends req through the monitor's proxy (ctl.sock) on the handle's cached
 * connection. Returns false when there is no proxy to use (no run loaded
 * yet, an old monitor, or the monitor went away before req went out): the
 * caller then uses QEMU's command monitor directly. */
static bool try_proxy(qv_domain *dom, const qmp_request *req, int *result, qv_error **err)
{
    if (dom->ctl && (qv_qmp_is_broken(dom->ctl) || dom->ctl_monitor != dom->status.monitor_pid ||
                     dom->ctl_owner != getpid())) {
        qv_qmp_free(dom->ctl);
        dom->ctl = NULL;
    }
    if (!dom->ctl) {
        if (!dom->monitor_pid || dom->status.monitor_pid != dom->monitor_pid)
            return false;
        g_autofree char *path = qv_domain_file(dom, QV_RT_RUN_CTL_SOCK);
        if (qv_qmp_connect_path(path, QV_QMP_MODE_QMP, QV_CTL_CONNECT_MS, &dom->ctl, NULL) < 0)
            return false;
        dom->ctl_monitor = dom->monitor_pid;
        dom->ctl_owner = getpid();
    }
    bool unsent = false;
    int r = run_request(dom, dom->ctl, "the monitor's proxy", "proxy", req, &unsent, err);
    if (r < 0 && qv_qmp_is_broken(dom->ctl)) {
        /* The monitor went away; QEMU's own monitor may still answer. */
        qv_qmp_free(dom->ctl);
        dom->ctl = NULL;
    }
    if (unsent)
        return false;
    *result = r;
    return true;
}

/* A lane, else the proxy, else QEMU's command monitor under qmp.lock
 * (taken here unless the caller holds it). A path is left for the next
 * only before req went out on it. */
static int send_request(qv_domain *dom, const qmp_request *req, bool have_lock, qv_error **err)
{
    int r;
    if (try_lane(dom, req, &r, err) || try_proxy(dom, req, &r, err))
        return r;
    int lock = -1;
    if (!have_lock && (lock = lock_monitor(dom, err)) < 0)
        return lock;
    qv_qmp *qmp;
    if ((r = connect_qmp_sock(dom, &qmp, err)) >= 0) {
        r = run_request(dom, qmp, "qmp.sock", "qmp.sock", req, NULL, err);
        qv_qmp_free(qmp);
    }
    qv_rt_unlock(lock);
    return r;
}

int qv_domain_qmp_call(qv_domain *dom, const char *cmd, json_object *args, json_object **ret,
                       qv_error **err)
{
    qmp_request req = { .cmd = cmd, .args = args, .ret = ret };
    int r = send_request(dom, &req, false, err);
    json_object_put(args);
    return r;
}

int qv_domain_qmp_batch(qv_domain *dom, qv_qmp_batch_cmd *cmds, size_t n, qv_error **err)
{
    qmp_request req = { .batch = cmds, .n = n };
    int r = send_request(dom, &req, false, err);
    for (size_t i = 0; i < n; i++)
        if (cmds[i].args)
            json_object_put(g_steal_pointer(&cmds[i].args));
    return r;
}

int qv_domain_qmp_call_locked(qv_domain *dom, const char *cmd, qv_error **err)
{
    qmp_request req = { .cmd = cmd };
    return send_request(dom, &req, true, err);
}
