/* Domain handles: identity, state, lifecycle, XML, metadata, limits.
 *
 * A handle is a name plus cached views of the domain's files. get_state and
 * get_info answer from the run's state word, mapped shared (the library and
 * the monitor keep it current), so they need no QMP round trip: one load
 * tells the state and whether the run is still on, and a pidfd poll whether
 * the monitor still lives. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "firmware.h"
#include "internal.h"
#include "qv-log.h"
#include "qv-process.h"

#define QV_DESTROY_GRACE_MS 10000
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
/* agent.lock: another process's guest-agent command. */
#define QV_AGENT_LOCK_MS 30000
/* guest-shutdown sends no reply when it works: this bounds the wait. */
#define QV_AGENT_SHUTDOWN_MS 5000
/* How long a monitor whose QEMU has gone may take to record it and exit. */
#define QV_MONITOR_EXIT_WAIT_MS 5000

static char *dom_file(qv_domain *dom, const char *file)
{
    return qv_rt_domain_file(&dom->conn->paths, dom->name, file);
}

int qv_domain_new(qv_conn *conn, const char *name, const unsigned char uuid[16], qv_domain **ret)
{
    qv_domain *dom = g_new0(qv_domain, 1);
    dom->conn = conn;
    dom->name = g_strdup(name);
    dom->monitor_pidfd = -1;
    dom->run_lock = -1;
    dom->lane_lock = -1;
    if (uuid) {
        memcpy(dom->uuid, uuid, 16);
        qv_uuid_format(uuid, dom->uuid_str);
    }
    *ret = dom;
    return 0;
}

void qv_domain_free(qv_domain *dom)
{
    if (!dom)
        return;
    if (dom->monitor_pidfd >= 0)
        close(dom->monitor_pidfd);
    qv_rt_statemap_free(dom->smap);
    if (dom->run_lock >= 0)
        close(dom->run_lock);
    qv_qmp_free(dom->ctl);
    qv_qmp_free(dom->lane);
    qv_rt_unlock(dom->lane_lock);
    qv_domdef_free(dom->def);
    g_free(dom->name);
    g_free(dom);
}

void qv_domain_freep(qv_domain **dom)
{
    if (dom) {
        qv_domain_free(*dom);
        *dom = NULL;
    }
}

const char *qv_domain_get_name(const qv_domain *dom)
{
    return dom ? dom->name : NULL;
}

int qv_domain_get_uuid(qv_domain *dom, unsigned char uuid[16], qv_error **err)
{
    if (!dom || !uuid)
        return qv_error_set(err, -EINVAL, "qv_domain_get_uuid: dom and uuid are required");
    memcpy(uuid, dom->uuid, 16);
    return 0;
}

int qv_domain_get_uuid_string(qv_domain *dom, char buf[37], qv_error **err)
{
    if (!dom || !buf)
        return qv_error_set(err, -EINVAL, "qv_domain_get_uuid_string: dom and buf are required");
    memcpy(buf, dom->uuid_str, 37);
    return 0;
}

static void forget_monitor(qv_domain *dom)
{
    if (dom->monitor_pidfd >= 0)
        close(dom->monitor_pidfd);
    dom->monitor_pidfd = -1;
    dom->monitor_pid = 0;
}

/* A start died before its monitor ran QEMU. The runtime dir is a leftover
 * only when no monitor holds monitor.lock: one that is still starting QEMU
 * undoes the run itself once it sees its starter gone. Removed under the
 * lifecycle lock (not taken when this process holds it, so a start after
 * us removes it instead). False while the run is still being undone. */
static bool discard_leftover_run(qv_domain *dom, const char *dir)
{
    g_autofree char *path = g_strdup_printf("%s/locks/%s.lock", dom->conn->paths.run_dir,
                                            dom->name);
    g_autofree char *mlock_path = g_build_filename(dir, "monitor.lock", NULL);
    int lock = qv_rt_lock(path, 0, NULL);
    if (lock < 0)
        return true;
    int mlock = open(mlock_path, O_RDWR | O_CLOEXEC);
    bool monitor_alive = mlock >= 0 && qv_rt_lock_fd(mlock, 0) == -EWOULDBLOCK;
    if (mlock >= 0)
        close(mlock);
    bool gone = !monitor_alive;
    if (gone && qv_rt_starter_check(dir) == QV_RT_STARTER_GONE) {
        qv_rt_record_failed_start(&dom->conn->paths, dom->name);
        qv_rt_remove_run_dir(dir);
    }
    qv_rt_unlock(lock);
    return gone;
}

static void keep_monitor(qv_domain *dom, const qv_rt_status *st)
{
    if (dom->monitor_pid && dom->monitor_pid == st->monitor_pid)
        return;
    forget_monitor(dom);
    if (qv_rt_pid_alive(st->monitor_pid, st->monitor_start)) {
        dom->monitor_pid = st->monitor_pid;
        dom->monitor_pidfd = (int)syscall(SYS_pidfd_open, dom->monitor_pid, 0);
    }
}

int qv_domain_load_active(qv_domain *dom, qv_active *act, qv_error **err)
{
    memset(act, 0, sizeof *act);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *status_path = dom_file(dom, "status.json");
    qv_error *lerr = NULL;
    int r = qv_rt_status_read(status_path, &act->status, &lerr);
    if (r == -ENOENT) {
        qv_error_free(lerr);
        /* No QEMU yet: a start in progress, or one that died half-way. */
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            return 0;
        if (qv_rt_starter_check(dir) == QV_RT_STARTER_ALIVE) {
            act->active = true;
            return 0;
        }
        /* A monitor still undoing it: starting up, for a moment yet. */
        act->active = !discard_leftover_run(dom, dir);
        return 0;
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    if (qv_rt_starter_check(dir) == QV_RT_STARTER_GONE) {
        /* A start died after QEMU ran but before it committed: undo
         * it, as the start itself would have. */
        qv_rt_undo_run(&dom->conn->paths, dom->name, dom->uuid_str, &act->status);
        forget_monitor(dom);
        return 0;
    }
    if (qv_rt_pid_alive(act->status.qemu_pid, act->status.qemu_start)) {
        act->active = true;
        if (!qv_rt_pid_alive(act->status.monitor_pid, act->status.monitor_start)) {
            /* Nobody supervises this QEMU: start a supervisor again. The
             * run stays usable without one (commands go to qmp.sock). */
            if (qv_domain_attach_supervisor(dom, NULL) == 0)
                qv_rt_status_read(status_path, &act->status, NULL);
        }
        keep_monitor(dom, &act->status);
        dom->status = act->status;
        return 0;
    }
    /* QEMU is gone. Its monitor records how; give it a moment, and record a
     * crash ourselves when nobody is left to do it. */
    if (qv_rt_wait_exit(act->status.monitor_pid, act->status.monitor_start,
                        QV_MONITOR_EXIT_WAIT_MS) < 0)
        return qv_error_set(err, -ETIMEDOUT,
                            "domain '%s': QEMU has exited but its monitor process is stuck",
                            dom->name);
    qv_rt_finalize_run(&dom->conn->paths, dom->name, dom->uuid_str, act->status.run_id,
                       QV_DOMAIN_SHUTOFF_CRASHED, QV_DOMAIN_EVENT_STOPPED_CRASHED, NULL);
    forget_monitor(dom);
    act->active = false;
    return 0;
}

static bool same_file(const struct stat *st, ino_t ino, const struct timespec *mt)
{
    return st->st_ino == ino && st->st_mtim.tv_sec == mt->tv_sec &&
           st->st_mtim.tv_nsec == mt->tv_nsec;
}

int qv_domain_get_def(qv_domain *dom, const qv_domdef **def, qv_error **err)
{
    g_autofree char *live = dom_file(dom, "live.xml");
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    struct stat st;
    bool is_live = stat(live, &st) == 0;
    if (!is_live && stat(cfg, &st) < 0)
        return qv_error_set(err, -ENOENT, "domain '%s' not found", dom->name);
    if (dom->def && dom->def_live == is_live && same_file(&st, dom->def_ino, &dom->def_mtime)) {
        *def = dom->def;
        return 0;
    }
    g_autofree char *xml = NULL;
    int r = qv_read_file(is_live ? live : cfg, QV_DOMXML_MAX_SIZE, &xml, NULL, err);
    if (r < 0)
        return r;
    qv_domdef *nd = NULL;
    if ((r = qv_domxml_parse(xml, is_live ? QV_DOMXML_PARSE_STATUS : 0, &nd, err)) < 0) {
        if (err && *err)
            qv_error_prefix(*err, "stored XML of domain '%s'", dom->name);
        return r;
    }
    qv_domdef_free(dom->def);
    dom->def = nd;
    dom->def_live = is_live;
    dom->def_ino = st.st_ino;
    dom->def_mtime = st.st_mtim;
    *def = nd;
    return 0;
}

static bool monitor_alive(qv_domain *dom)
{
    if (dom->monitor_pidfd < 0)
        return false;
    struct pollfd p = { .fd = dom->monitor_pidfd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

static void forget_run(qv_domain *dom)
{
    qv_rt_statemap_free(dom->smap);
    dom->smap = NULL;
    if (dom->run_lock >= 0)
        close(dom->run_lock);
    dom->run_lock = -1;
}

int qv_domain_get_state(qv_domain *dom, int *state, int *reason, qv_error **err)
{
    if (!dom || !state)
        return qv_error_set(err, -EINVAL, "qv_domain_get_state: dom and state are required");
    /* The run we know is still on and watched: one load from memory. */
    qv_rt_state s;
    bool known = dom->smap && qv_rt_statemap_load(dom->smap, &s) && monitor_alive(dom);
    /* The run ended (or another began), or nobody is watching QEMU: map
     * the state, then read the run's status. In that order a newer run
     * than the mapped one has retired it, so the pids kept for the handle
     * are the mapped run's (or the mapping says to look again). */
    for (int tries = 0; !known && tries < 3; tries++) {
        forget_run(dom);
        g_autofree char *path = dom_file(dom, "state");
        qv_rt_statemap *m = NULL;
        int mr = qv_rt_statemap_open(path, &m);
        qv_active act;
        int r = qv_domain_load_active(dom, &act, err);
        if (r >= 0 && act.active && mr < 0)
            r = qv_error_set_errno(err, mr == -EINVAL ? -EIO : mr,
                                   "domain '%s' is active but its state file %s is %s",
                                   dom->name, path,
                                   mr == -EINVAL ? "not one qvirt writes" : "unreadable");
        if (r < 0 || !act.active) {
            qv_rt_statemap_free(m);
            if (r < 0)
                return r;
            break;
        }
        dom->smap = g_steal_pointer(&m);
        dom->status = act.status; /* no pids yet while it starts */
        known = qv_rt_statemap_load(dom->smap, &s);
    }
    if (known) {
        *state = s.state;
        if (reason)
            *reason = s.reason;
        return 0;
    }
    forget_run(dom);
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    if (!g_file_test(cfg, G_FILE_TEST_EXISTS))
        return qv_error_set(err, -ENOENT, "domain '%s' no longer exists", dom->name);
    g_autofree char *shutoff = g_strdup_printf("%s/shutoff/%s.json", dom->conn->paths.run_dir,
                                               dom->name);
    s = (qv_rt_state){ QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_UNKNOWN, 0 };
    qv_rt_state_read(shutoff, &s, NULL);
    *state = QV_DOMAIN_SHUTOFF;
    if (reason)
        *reason = s.reason;
    return 0;
}

int qv_domain_is_active(qv_domain *dom, qv_error **err)
{
    int state;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    return r < 0 ? r : state != QV_DOMAIN_SHUTOFF;
}

int qv_domain_is_persistent(qv_domain *dom, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_is_persistent: dom is required");
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    return g_file_test(cfg, G_FILE_TEST_EXISTS) ? 1 : 0;
}

int qv_domain_get_id(qv_domain *dom)
{
    if (!dom)
        return -1;
    qv_active act;
    if (qv_domain_load_active(dom, &act, NULL) < 0 || !act.active)
        return -1;
    return act.status.id > 0 ? act.status.id : -1;
}

int qv_domain_get_os_type(qv_domain *dom, char **ret, qv_error **err)
{
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_os_type: dom and ret are required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    *ret = strdup(def->os.type ? def->os.type : "hvm");
    return 0;
}

int qv_domain_require_active(qv_domain *dom, qv_active *act, qv_error **err)
{
    qv_active local;
    if (!act)
        act = &local;
    /* get_state keeps the run's pids with its mapping: while the run is on
     * and watched, no file is read here. */
    int state;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    if (r < 0)
        return r;
    memset(act, 0, sizeof *act);
    if (state == QV_DOMAIN_SHUTOFF || !dom->smap || dom->status.qemu_pid <= 0)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    act->active = true;
    act->status = dom->status;
    return 0;
}

/* ---- command monitor -------------------------------------------------- */

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
    g_autofree char *lock_path = dom_file(dom, "qmp.lock");
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
 * unlock_run. */
static int lock_run(qv_domain *dom, qv_error **err)
{
    pid_t self = getpid();
    if (dom->run_lock >= 0 && dom->run_lock_owner != self) {
        close(dom->run_lock);
        dom->run_lock = -1;
    }
    if (dom->run_lock < 0) {
        g_autofree char *path = dom_file(dom, "qmp.lock");
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

static void unlock_run(qv_domain *dom)
{
    flock(dom->run_lock, LOCK_UN);
}

/* QEMU's command monitor, qmp.lock already held. */
static int connect_qmp_sock(qv_domain *dom, qv_qmp **qmp, qv_error **err)
{
    g_autofree char *sock = dom_file(dom, "qmp.sock");
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
        snprintf(name, sizeof name, "lane-%d.lock", i);
        g_autofree char *lock_path = dom_file(dom, name);
        int lock = qv_rt_lock(lock_path, 0, NULL);
        if (lock < 0)
            continue;
        snprintf(name, sizeof name, "lane-%d.sock", i);
        g_autofree char *sock = dom_file(dom, name);
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
        g_autofree char *path = dom_file(dom, "ctl.sock");
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

/* stop and cont change the state. On every path (lane, proxy, QEMU's
 * command monitor) the caller holds qmp.lock from before the command until
 * the state and the event are written, so pauses and resumes from any
 * number of processes are recorded in the order QEMU ran them, and a
 * process that finds the domain already there sends nothing. The monitor
 * never waits for this lock, so holding it across a proxied call is safe.
 * -ESTALE: the run the handle knew has ended. */
static int pause_or_resume_locked(qv_domain *dom, bool pause, qv_error **err)
{
    int want = pause ? QV_DOMAIN_PAUSED : QV_DOMAIN_RUNNING;
    /* Under the lock: the state as it stands now. */
    qv_rt_state cur;
    if (!qv_rt_statemap_load(dom->smap, &cur))
        return -ESTALE;
    if (cur.state == want) {
        qv_log(QV_LOG_DEBUG, "domain '%s': already %s; nothing sent", dom->name,
               pause ? "paused" : "running");
        return 0;
    }
    qmp_request req = { .cmd = pause ? "stop" : "cont" };
    int r = send_request(dom, &req, true, err);
    if (r < 0)
        return r;
    qv_rt_state st = { want, pause ? QV_DOMAIN_PAUSED_USER : QV_DOMAIN_RUNNING_UNPAUSED,
                       qv_rt_now_us() };
    if ((r = qv_rt_statemap_store(dom->smap, &st)) == -ESTALE)
        return 0; /* QEMU did it, then the run ended: its STOPPED event says so */
    if (r < 0)
        return qv_error_set_errno(err, r, "cannot record the state of domain '%s'", dom->name);
    qv_log(QV_LOG_INFO, "domain '%s': state written: %s", dom->name,
           pause ? "paused (user)" : "running (unpaused)");
    qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                 pause ? QV_DOMAIN_EVENT_SUSPENDED : QV_DOMAIN_EVENT_RESUMED,
                 pause ? QV_DOMAIN_EVENT_SUSPENDED_PAUSED : QV_DOMAIN_EVENT_RESUMED_UNPAUSED, NULL);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

int qv_domain_create(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_create: dom is required");
    g_autoptr(qv_domdef) def = NULL;
    int r = qv_domain_load_config(dom->conn, dom->name, &def, err);
    if (r == -ENOENT)
        return qv_error_set(err, -EINVAL, "domain '%s' is transient and already running",
                            dom->name);
    if (r < 0)
        return r;
    return qv_conn_start_domain(dom->conn, dom, def, false, flags, err);
}

int qv_domain_create_with_files(qv_domain *dom, const int *fds, unsigned int nfds,
                                unsigned int flags, qv_error **err)
{
    if (nfds == 0)
        return qv_domain_create(dom, flags, err);
    return qv_error_set(err, -ENOTSUP,
                        "passing file descriptors at start needs an init process to receive "
                        "them; QEMU guests have none (use a container driver)");
}

/* suspend (pause) and resume share one path: a no-op when the domain is
 * already there, a clear error when it is off or suspended by its guest. */
static int pause_or_resume(qv_domain *dom, bool pause, qv_error **err)
{
    int state, reason;
    int r = qv_domain_get_state(dom, &state, &reason, err);
    if (r < 0)
        return r;
    if (state == QV_DOMAIN_SHUTOFF)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    if (state == (pause ? QV_DOMAIN_PAUSED : QV_DOMAIN_RUNNING))
        return 0;
    if (state == QV_DOMAIN_PMSUSPENDED)
        return qv_error_set(err, -EINVAL, "domain '%s' is suspended by its guest; %s", dom->name,
                            pause ? "wake it first" : "use pm wakeup");
    for (int tries = 0;; tries++) {
        if ((r = lock_run(dom, err)) < 0)
            return r;
        r = pause_or_resume_locked(dom, pause, err);
        unlock_run(dom);
        if (r != -ESTALE)
            return r;
        /* The run ended (or was replaced) since get_state: look again. */
        forget_run(dom);
        if (tries)
            return qv_error_set(err, -EAGAIN, "domain '%s' was restarted during the call",
                                dom->name);
        if ((r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
            return r;
        if (state == QV_DOMAIN_SHUTOFF)
            return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    }
}

int qv_domain_suspend(qv_domain *dom, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_suspend: dom is required");
    return pause_or_resume(dom, true, err);
}

int qv_domain_resume(qv_domain *dom, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_resume: dom is required");
    return pause_or_resume(dom, false, err);
}

int qv_domain_destroy(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_destroy: dom is required");
    if (flags & ~(unsigned)(QV_DOMAIN_DESTROY_GRACEFUL | QV_DOMAIN_DESTROY_REMOVE_LOGS))
        return qv_error_set(err, -EINVAL, "qv_domain_destroy: unsupported flags 0x%x", flags);
    int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return lock;
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0) {
        qv_rt_unlock(lock);
        return r;
    }
    g_autofree char *stopping = dom_file(dom, "stopping");
    g_autofree char *dom_dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    qv_rt_mark_stopping(dom_dir, "destroyed");
    pid_t pid = act.status.qemu_pid;
    if (pid > 0 && qv_rt_pid_alive(pid, act.status.qemu_start)) {
        kill(pid, SIGTERM);
        r = qv_rt_wait_exit(pid, act.status.qemu_start, QV_DESTROY_GRACE_MS);
        if (r == -ETIMEDOUT) {
            if (flags & QV_DOMAIN_DESTROY_GRACEFUL) {
                unlink(stopping);
                qv_rt_unlock(lock);
                return qv_error_set(err, -EBUSY,
                                    "domain '%s' did not stop within %d s of SIGTERM",
                                    dom->name, QV_DESTROY_GRACE_MS / 1000);
            }
            qv_log(QV_LOG_WARNING, "domain '%s': QEMU pid %d ignored SIGTERM; sending SIGKILL",
                   dom->name, (int)pid);
            kill(pid, SIGKILL);
            qv_rt_wait_exit(pid, act.status.qemu_start, QV_DESTROY_GRACE_MS);
        }
    }
    /* The monitor records the stop and exits; if it is gone, we record it. */
    qv_rt_wait_exit(act.status.monitor_pid, act.status.monitor_start, QV_MONITOR_EXIT_WAIT_MS);
    qv_rt_finalize_run(&dom->conn->paths, dom->name, dom->uuid_str, act.status.run_id,
                       QV_DOMAIN_SHUTOFF_DESTROYED, QV_DOMAIN_EVENT_STOPPED_DESTROYED, NULL);
    qv_log(QV_LOG_INFO, "domain '%s': destroyed (QEMU pid %d); state written: shut off (destroyed)",
           dom->name, (int)pid);
    forget_monitor(dom);
    forget_run(dom);
    if (flags & QV_DOMAIN_DESTROY_REMOVE_LOGS) {
        g_autofree char *log = g_strdup_printf("%s/logs/%s.log", dom->conn->paths.run_dir, dom->name);
        unlink(log);
    }
    qv_rt_unlock(lock);
    return 0;
}

/* The socket of the guest agent channel, from the live definition. */
int qv_domain_agent_call(qv_domain *dom, const char *cmd, json_object *args, int timeout_ms,
                      json_object **ret, qv_error **err)
{
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0) {
        json_object_put(args);
        return r;
    }
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *path = qv_domdef_agent_socket(def, dir);
    if (!path) {
        json_object_put(args);
        return qv_error_set(err, -ENOTSUP,
                            "domain '%s' has no guest agent channel "
                            "(<channel type='unix'><target type='virtio' "
                            "name='org.qemu.guest_agent.0'/></channel>)", dom->name);
    }
    g_autofree char *lock_path = dom_file(dom, "agent.lock");
    int lock = qv_rt_lock(lock_path, QV_AGENT_LOCK_MS, err);
    if (lock < 0) {
        json_object_put(args);
        return lock == -ETIMEDOUT
                   ? qv_error_set(err, -EBUSY, "domain '%s': the guest agent is busy", dom->name)
                   : lock;
    }
    qv_qmp *ga = NULL;
    qv_error *lerr = NULL;
    r = qv_qmp_connect_path(path, QV_QMP_MODE_AGENT, timeout_ms, &ga, &lerr);
    if (r < 0) {
        qv_rt_unlock(lock);
        json_object_put(args);
        r = qv_error_set(err, r == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN,
                         r == -ETIMEDOUT ? "domain '%s': the guest agent is not responding"
                                         : "domain '%s': the guest agent is not connected (%s)",
                         dom->name, qv_error_message(lerr));
        qv_error_free(lerr);
        return r;
    }
    r = qv_qmp_call(ga, cmd, args, timeout_ms, ret, &lerr);
    qv_qmp_free(ga);
    qv_rt_unlock(lock);
    if (r == -ETIMEDOUT) {
        qv_error_free(lerr);
        return qv_error_set(err, -ETIMEDOUT, "domain '%s': the guest agent is not responding",
                            dom->name);
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    return r;
}

static int unsupported_power_mode(qv_domain *dom, const char *what, unsigned int flags,
                                  qv_error **err)
{
    if (flags & (QV_DOMAIN_SHUTDOWN_INITCTL | QV_DOMAIN_SHUTDOWN_SIGNAL))
        return qv_error_set(err, -ENOTSUP,
                            "%s with initctl or a signal is for containers; QEMU guests take "
                            "the ACPI power button or the guest agent", what);
    if (flags & QV_DOMAIN_SHUTDOWN_PARAVIRT)
        return qv_error_set(err, -ENOTSUP, "%s through a paravirtual channel is for Xen guests",
                            what);
    if (flags & ~(unsigned)(QV_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | QV_DOMAIN_SHUTDOWN_GUEST_AGENT))
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x", what, flags);
    (void)dom;
    return 0;
}

/* Agent first when asked for; ACPI when asked for, or when nothing is. */
static int power_request(qv_domain *dom, unsigned int flags, bool reboot, qv_error **err)
{
    int r = unsupported_power_mode(dom, reboot ? "reboot" : "shutdown", flags, err);
    if (r < 0)
        return r;
    qv_active act;
    if ((r = qv_domain_require_active(dom, &act, err)) < 0)
        return r;
    if (flags & QV_DOMAIN_SHUTDOWN_GUEST_AGENT) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "mode", json_object_new_string(reboot ? "reboot" : "powerdown"));
        qv_error *lerr = NULL;
        /* guest-shutdown sends no reply when it succeeds. */
        r = qv_domain_agent_call(dom, "guest-shutdown", args, QV_AGENT_SHUTDOWN_MS, NULL, &lerr);
        if (r >= 0 || r == -ETIMEDOUT) {
            qv_error_free(lerr);
            return 0;
        }
        if (!(flags & QV_DOMAIN_SHUTDOWN_ACPI_POWER_BTN))
            return qv_error_propagate(err, lerr);
        qv_error_free(lerr);
    }
    if (reboot) {
        /* A "fake reboot": the monitor resets the guest instead of ending
         * QEMU when the guest powers off. */
        g_autofree char *marker = dom_file(dom, "reboot");
        if ((r = qv_rt_write_runtime(marker, "1", strlen("1"), err)) < 0)
            return r;
    }
    return qv_domain_qmp_call(dom, "system_powerdown", NULL, NULL, err);
}

int qv_domain_shutdown(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_shutdown: dom is required");
    return power_request(dom, flags, false, err);
}

int qv_domain_reboot(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_reboot: dom is required");
    return power_request(dom, flags, true, err);
}

int qv_domain_reset(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_reset: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_reset: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    return qv_domain_qmp_call(dom, "system_reset", NULL, NULL, err);
}

int qv_domain_undefine(qv_domain *dom, unsigned int flags, qv_error **err)
{
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_undefine: dom is required");
    const unsigned int known = QV_DOMAIN_UNDEFINE_MANAGED_SAVE |
                               QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | QV_DOMAIN_UNDEFINE_NVRAM |
                               QV_DOMAIN_UNDEFINE_KEEP_NVRAM |
                               QV_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | QV_DOMAIN_UNDEFINE_TPM |
                               QV_DOMAIN_UNDEFINE_KEEP_TPM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_undefine: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_UNDEFINE_NVRAM) && (flags & QV_DOMAIN_UNDEFINE_KEEP_NVRAM))
        return qv_error_set(err, -EINVAL, "undefine: NVRAM and KEEP_NVRAM exclude each other");
    int lock = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (lock < 0)
        return lock;
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    g_autofree char *nvram = NULL;
    int r = qv_conn_undefine_nvram_check(dom->conn, dom->name, flags & QV_DOMAIN_UNDEFINE_NVRAM,
                                         flags & QV_DOMAIN_UNDEFINE_KEEP_NVRAM, &nvram, err);
    if (r < 0) {
        /* refused: the domain stays defined */
    } else if (!g_file_test(cfg, G_FILE_TEST_EXISTS)) {
        r = qv_error_set(err, -EINVAL, "domain '%s' is transient: there is no config to undefine",
                         dom->name);
    } else if (unlink(cfg) < 0) {
        r = qv_error_set_errno(err, -errno, "cannot remove %s", cfg);
    } else {
        g_autofree char *autostart = g_strdup_printf("%s/autostart/%s", dom->conn->paths.config_dir,
                                                     dom->name);
        unlink(autostart);
        if (nvram && unlink(nvram) < 0 && errno != ENOENT)
            qv_log(QV_LOG_INFO, "domain '%s': cannot remove its NVRAM %s: %s", dom->name, nvram,
                   g_strerror(errno));
        g_autofree char *shutoff = g_strdup_printf("%s/shutoff/%s.json", dom->conn->paths.run_dir,
                                                   dom->name);
        unlink(shutoff);
        /* A running domain carries on as a transient one. */
        g_autofree char *status_path = dom_file(dom, "status.json");
        qv_rt_status st;
        if (qv_rt_status_read(status_path, &st, NULL) == 0) {
            st.transient = true;
            qv_rt_status_write(status_path, &st, NULL);
        }
        qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                     QV_DOMAIN_EVENT_UNDEFINED, QV_DOMAIN_EVENT_UNDEFINED_REMOVED, NULL);
    }
    qv_rt_unlock(lock);
    return r;
}

/* ---- info ---------------------------------------------------------------- */

static unsigned long long proc_cpu_time_ns(pid_t pid)
{
    qv_proc_stat st;
    return qv_proc_stat_read(pid, 0, &st) < 0 ? 0 : qv_proc_ticks_to_ns(st.utime + st.stime);
}

int qv_domain_get_info(qv_domain *dom, qv_domain_info *info, qv_error **err)
{
    if (!dom || !info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_info: dom and info are required");
    int state, reason;
    int r = qv_domain_get_state(dom, &state, &reason, err);
    if (r < 0)
        return r;
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    memset(info, 0, sizeof *info);
    info->state = state;
    info->max_mem = def->memory_kib;
    info->memory = def->current_memory_kib ? def->current_memory_kib : def->memory_kib;
    info->nr_virt_cpu = def->vcpus_current ? def->vcpus_current : def->vcpus;
    /* get_state just checked that this run's monitor lives, so the pids
     * cached with it are current. */
    if (state != QV_DOMAIN_SHUTOFF && dom->monitor_pid && dom->status.monitor_pid == dom->monitor_pid)
        info->cpu_time = proc_cpu_time_ns(dom->status.qemu_pid);
    return 0;
}

int qv_domain_get_control_info(qv_domain *dom, qv_domain_control_info *info, unsigned int flags,
                               qv_error **err)
{
    if (!dom || !info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_control_info: dom and info are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_control_info: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    memset(info, 0, sizeof *info);
    if (!qv_rt_pid_alive(act.status.monitor_pid, act.status.monitor_start)) {
        info->state = QV_DOMAIN_CONTROL_ERROR;
        info->details = QV_DOMAIN_CONTROL_ERROR_REASON_MONITOR;
        return 0;
    }
    g_autofree char *lock_path = dom_file(dom, "qmp.lock");
    int lock = qv_rt_lock(lock_path, 0, NULL);
    if (lock >= 0) {
        qv_rt_unlock(lock);
        info->state = QV_DOMAIN_CONTROL_OK;
        return 0;
    }
    info->state = QV_DOMAIN_CONTROL_OCCUPIED;
    /* The holder stamped when it took the lock: a stop or cont in the
     * mapped state, others in the lock file. The later stamp is its. */
    g_autofree char *stamp = NULL;
    long long since = dom->smap ? qv_rt_statemap_lock_since(dom->smap) : 0;
    if (qv_read_file(lock_path, 64, &stamp, NULL, NULL) == 0 && *stamp)
        since = MAX(since, g_ascii_strtoll(stamp, NULL, 10));
    long long now = qv_rt_now_us();
    if (since > 0 && now > since)
        info->state_time = (unsigned long long)(now - since) / 1000;
    return 0;
}

/* ---- memory stats --------------------------------------------------------- */

static unsigned long long proc_rss_kib(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *data = NULL;
    if (qv_rt_read_file(path, 1 << 16, &data, NULL, NULL) < 0)
        return 0;
    const char *p = strstr(data, "VmRSS:");
    return p ? g_ascii_strtoull(p + 6, NULL, 10) : 0;
}

int qv_domain_memory_stats(qv_domain *dom, qv_memory_stat *stats, unsigned int nr_stats,
                           unsigned int flags, qv_error **err)
{
    if (!dom || (!stats && nr_stats))
        return qv_error_set(err, -EINVAL, "qv_domain_memory_stats: dom and stats are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_memory_stats: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    unsigned int n = 0;
#define ADD(tag_, val_)                                                                            \
    do {                                                                                           \
        if (n < nr_stats)                                                                          \
            stats[n++] = (qv_memory_stat){ (tag_), (val_) };                                       \
    } while (0)

    const char *balloon = qv_domdef_balloon_alias(def);
    if (!balloon) {
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON,
            def->current_memory_kib ? def->current_memory_kib : def->memory_kib);
        ADD(QV_DOMAIN_MEMORY_STAT_RSS, proc_rss_kib(act.status.qemu_pid));
        return (int)n;
    }
    json_object *args = json_object_new_object();
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", balloon);
    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string("guest-stats"));
    /* The balloon's actual size is in the state mapping while the
     * supervisor watches (it follows BALLOON_CHANGE): then only the guest
     * stats are asked for. Otherwise both queries, in one round trip. */
    unsigned long long actual_kib = monitor_alive(dom) ? qv_rt_statemap_balloon(dom->smap) : 0;
    qv_qmp_batch_cmd q[2] = { { .command = "query-balloon" }, { .command = "qom-get", .args = args } };
    qv_qmp_batch_cmd *ask = actual_kib ? &q[1] : q;
    size_t n_ask = actual_kib ? 1 : 2;
    if ((r = qv_domain_qmp_batch(dom, ask, n_ask, err)) < 0)
        return r;
    if (!actual_kib && q[0].result < 0) {
        r = qv_error_propagate(err, g_steal_pointer(&q[0].err));
        qv_qmp_batch_clear(ask, n_ask);
        return r;
    }
    g_autoptr(json_object) bal = g_steal_pointer(&q[0].ret);
    /* No guest stats yet (the driver has not reported): actual and rss only. */
    g_autoptr(json_object) gs = g_steal_pointer(&q[1].ret);
    qv_qmp_batch_clear(ask, n_ask);
    json_object *v, *s = NULL;
    if (gs && json_object_object_get_ex(gs, "stats", &s)) {
        static const struct { const char *key; int tag; bool bytes; } map[] = {
            { "stat-swap-in", QV_DOMAIN_MEMORY_STAT_SWAP_IN, true },
            { "stat-swap-out", QV_DOMAIN_MEMORY_STAT_SWAP_OUT, true },
            { "stat-major-faults", QV_DOMAIN_MEMORY_STAT_MAJOR_FAULT, false },
            { "stat-minor-faults", QV_DOMAIN_MEMORY_STAT_MINOR_FAULT, false },
            { "stat-free-memory", QV_DOMAIN_MEMORY_STAT_UNUSED, true },
            { "stat-total-memory", QV_DOMAIN_MEMORY_STAT_AVAILABLE, true },
            { "stat-available-memory", QV_DOMAIN_MEMORY_STAT_USABLE, true },
            { "stat-disk-caches", QV_DOMAIN_MEMORY_STAT_DISK_CACHES, true },
            { "stat-htlb-pgalloc", QV_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC, false },
            { "stat-htlb-pgfail", QV_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL, false },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
            if (!json_object_object_get_ex(s, map[i].key, &v))
                continue;
            int64_t x = json_object_get_int64(v);
            if (x < 0)
                continue; /* -1: the guest does not report it */
            ADD(map[i].tag, map[i].bytes ? (unsigned long long)x / 1024 : (unsigned long long)x);
        }
    }
    if (actual_kib)
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, actual_kib);
    else if (bal && json_object_object_get_ex(bal, "actual", &v))
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, (unsigned long long)json_object_get_int64(v) / 1024);
    ADD(QV_DOMAIN_MEMORY_STAT_RSS, proc_rss_kib(act.status.qemu_pid));
    if (gs && json_object_object_get_ex(gs, "last-update", &v) && json_object_get_int64(v) > 0)
        ADD(QV_DOMAIN_MEMORY_STAT_LAST_UPDATE, (unsigned long long)json_object_get_int64(v));
#undef ADD
    return (int)n;
}

/* ---- raw monitor ------------------------------------------------------- */

int qv_domain_qemu_monitor_command(qv_domain *dom, const char *cmd, char **ret,
                                   unsigned int flags, qv_error **err)
{
    if (!dom || !cmd || !ret)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_qemu_monitor_command: dom, cmd and ret are required");
    if (flags)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_qemu_monitor_command: only QMP (flags 0) is supported; "
                            "use {\"execute\": \"human-monitor-command\"} for HMP");
    g_autoptr(json_object) req = json_tokener_parse(cmd);
    json_object *exec, *args = NULL;
    if (!req || !json_object_is_type(req, json_type_object) ||
        !json_object_object_get_ex(req, "execute", &exec) ||
        !json_object_is_type(exec, json_type_string))
        return qv_error_set(err, -EINVAL,
                            "the monitor command must be a JSON object with an \"execute\" "
                            "string, as in {\"execute\": \"query-status\"}");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    if (json_object_object_get_ex(req, "arguments", &args))
        json_object_get(args);
    g_autoptr(json_object) result = NULL;
    qv_error *lerr = NULL;
    r = qv_domain_qmp_call(dom, json_object_get_string(exec), args, &result, &lerr);
    g_autoptr(json_object) reply = json_object_new_object();
    if (r < 0) {
        if (!qv_error_qmp_class(lerr))
            return qv_error_propagate(err, lerr);
        /* QEMU's own error reply is a result, as virsh shows it. */
        json_object *e = json_object_new_object();
        json_object_object_add(e, "class", json_object_new_string(qv_error_qmp_class(lerr)));
        json_object_object_add(e, "desc", json_object_new_string(
                                              qv_error_qmp_desc(lerr) ? qv_error_qmp_desc(lerr) : ""));
        json_object_object_add(reply, "error", e);
        qv_error_free(lerr);
    } else {
        json_object_object_add(reply, "return", result ? json_object_get(result) : json_object_new_object());
    }
    *ret = strdup(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
    return 0;
}
