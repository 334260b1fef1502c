/* Domain handles (qvirt-domain.h): identity, state and info, and the
 * handle's view of its run (observe, settle, require_active, get_def) and
 * what one call works from (qv_call).
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

#include "internal.h"
#include "remote.h"
#include "job.h"
#include "qv-log.h"
#include "qv-process.h"

char *qv_domain_file(const qv_domain *dom, const char *file)
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

void qv_domain_forget_monitor(qv_domain *dom)
{
    if (dom->monitor_pidfd >= 0)
        close(dom->monitor_pidfd);
    dom->monitor_pidfd = -1;
    dom->monitor_pid = 0;
}

/* True while a monitor holds the run's monitor.lock: it is starting QEMU,
 * supervising it, or undoing a start whose starter died. */
static bool monitor_holds_lock(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_RUN_MONITOR_LOCK, NULL);
    qv_autoclose int fd = open(path, O_RDWR | O_CLOEXEC);
    return fd >= 0 && qv_rt_lock_fd(fd, 0) == -EWOULDBLOCK;
}

static void keep_monitor(qv_domain *dom, const qv_rt_status *st)
{
    if (dom->monitor_pid && dom->monitor_pid == st->monitor_pid)
        return;
    qv_domain_forget_monitor(dom);
    if (qv_rt_pid_alive(st->monitor_pid, st->monitor_start)) {
        dom->monitor_pid = st->monitor_pid;
        dom->monitor_pidfd = (int)syscall(SYS_pidfd_open, dom->monitor_pid, 0);
    }
}

static void set_phase(qv_active *act, qv_run_phase phase, int ended_reason)
{
    act->phase = phase;
    act->active = phase == QV_RUN_STARTING || phase == QV_RUN_ON;
    act->ended_reason = ended_reason;
}

/* How often observe looks again when another run replaced the one it read. */
#define QV_OBSERVE_TRIES 3

int qv_domain_observe(qv_domain *dom, qv_active *act, qv_error **err)
{
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *status_path = qv_domain_file(dom, QV_RT_RUN_STATUS);
    for (int tries = 0;; tries++) {
        memset(act, 0, sizeof *act);
        qv_error *lerr = NULL;
        int r = qv_rt_status_read(status_path, &act->status, &lerr);
        if (r == -ENOENT) {
            qv_error_free(lerr);
            memset(&act->status, 0, sizeof act->status);
            /* No QEMU yet: a start in progress, one being undone by its
             * monitor, or one that died half-way. */
            if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
                set_phase(act, QV_RUN_NONE, 0);
            else if (qv_rt_starter_check(dir) == QV_RT_STARTER_ALIVE || monitor_holds_lock(dir))
                set_phase(act, QV_RUN_STARTING, 0);
            else
                set_phase(act, QV_RUN_ENDED, QV_DOMAIN_SHUTOFF_FAILED);
            return 0;
        }
        if (r < 0)
            return qv_error_propagate(err, lerr);
        if (qv_rt_starter_check(dir) == QV_RT_STARTER_GONE) {
            /* The start died after QEMU ran but before it committed. */
            set_phase(act, QV_RUN_ENDED, QV_DOMAIN_SHUTOFF_FAILED);
            return 0;
        }
        if (qv_rt_pid_alive(act->status.qemu_pid, act->status.qemu_start)) {
            set_phase(act, QV_RUN_ON, 0);
            keep_monitor(dom, &act->status);
            dom->status = act->status;
            return 0;
        }
        /* QEMU is gone. Its monitor records how: give it a moment. */
        if (qv_rt_wait_exit(act->status.monitor_pid, act->status.monitor_start,
                            QV_MONITOR_EXIT_WAIT_MS) < 0)
            return qv_error_set(err, -ETIMEDOUT,
                                "domain '%s': QEMU has exited but its monitor process is stuck",
                                dom->name);
        qv_domain_forget_monitor(dom);
        char id[40] = "";
        qv_rt_run_id_read(dir, id);
        if (!*id || !strcmp(id, act->status.run_id) || tries + 1 >= QV_OBSERVE_TRIES) {
            /* Recorded by the monitor (the run folder went with it), or
             * nobody was left to record it. */
            if (g_file_test(dir, G_FILE_TEST_IS_DIR) && !strcmp(id, act->status.run_id))
                set_phase(act, QV_RUN_ENDED, QV_DOMAIN_SHUTOFF_CRASHED);
            else
                set_phase(act, QV_RUN_NONE, 0);
            return 0;
        }
        /* Another run began meanwhile: look at that one. */
    }
}

/* A QEMU whose supervisor died gets a new one. The run stays usable
 * without (commands go to qmp.sock), but its state would go stale. */
static void resupervise(qv_domain *dom, qv_active *act)
{
    if (act->phase != QV_RUN_ON ||
        qv_rt_pid_alive(act->status.monitor_pid, act->status.monitor_start))
        return;
    g_autofree char *status_path = qv_domain_file(dom, QV_RT_RUN_STATUS);
    if (qv_domain_attach_supervisor(dom, NULL) == 0 &&
        qv_rt_status_read(status_path, &act->status, NULL) == 0) {
        keep_monitor(dom, &act->status);
        dom->status = act->status;
    }
}

int qv_domain_settle(qv_domain *dom, qv_active *act, qv_error **err)
{
    int r = qv_domain_observe(dom, act, err);
    if (r < 0)
        return r;
    resupervise(dom, act);
    if (act->phase != QV_RUN_ENDED)
        return 0;
    const qv_rt_paths *p = &dom->conn->paths;
    if (act->status.qemu_pid <= 0) {
        /* The start died before its monitor ran QEMU. */
        g_autofree char *dir = qv_rt_domain_dir(p, dom->name);
        qv_rt_record_failed_start(p, dom->name);
        qv_rt_remove_run_dir(dir);
    } else if (act->ended_reason == QV_DOMAIN_SHUTOFF_FAILED) {
        /* The start died after QEMU ran: undo it, as the start would have. */
        qv_rt_undo_run(p, dom->name, dom->uuid_str, &act->status);
    } else {
        qv_rt_finalize_run(p, dom->name, dom->uuid_str, act->status.run_id,
                           QV_DOMAIN_SHUTOFF_CRASHED, QV_DOMAIN_EVENT_STOPPED_CRASHED, NULL);
    }
    qv_log(QV_LOG_INFO, "domain '%s': recorded a run that ended unrecorded: shut off (%s)",
           dom->name, act->ended_reason == QV_DOMAIN_SHUTOFF_FAILED ? "failed" : "crashed");
    qv_domain_forget_monitor(dom);
    qv_domain_forget_run(dom);
    set_phase(act, QV_RUN_NONE, 0);
    return 0;
}

/* ---- what one call works from --------------------------------------------------- */

static int load_call(qv_domain *dom, unsigned int affect, qv_call *c, qv_error **err)
{
    c->persistent = qv_domain_is_persistent(dom, NULL) == 1;
    if (affect == QV_CALL_RUN_ONLY)
        return 0;
    if (affect == QV_DOMAIN_AFFECT_CURRENT)
        affect = c->act.active ? QV_DOMAIN_AFFECT_LIVE : QV_DOMAIN_AFFECT_CONFIG;
    c->affect = affect;
    if ((affect & QV_DOMAIN_AFFECT_LIVE) && !c->act.active)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running: there is no live "
                            "definition to use", dom->name);
    if ((affect & QV_DOMAIN_AFFECT_CONFIG) && !c->persistent)
        return qv_error_set(err, -EINVAL, "domain '%s' is transient: it has no config",
                            dom->name);
    int r = 0;
    if ((affect & QV_DOMAIN_AFFECT_LIVE) && (r = qv_domain_load_def(dom, true, &c->live, err)) < 0)
        return r;
    if (affect & QV_DOMAIN_AFFECT_CONFIG)
        r = qv_domain_load_def(dom, false, &c->cfg, err);
    return r;
}

int qv_domain_begin(qv_domain *dom, unsigned int affect, qv_call *c, qv_error **err)
{
    *c = (qv_call){ .dom = dom, .lock = -1 };
    int r = qv_domain_lock_lifecycle(dom->conn, dom->name, err);
    if (r < 0)
        return r;
    c->lock = r;
    if ((r = qv_domain_settle(dom, &c->act, err)) < 0)
        return r;
    /* A job whose process died is undone before anything else (job.c). */
    if (c->act.phase == QV_RUN_ON)
        qv_job_recover(dom);
    return load_call(dom, affect, c, err);
}

int qv_domain_look(qv_domain *dom, unsigned int affect, qv_call *c, qv_error **err)
{
    *c = (qv_call){ .dom = dom, .lock = -1 };
    int r = qv_domain_observe(dom, &c->act, err);
    if (r < 0)
        return r;
    return load_call(dom, affect, c, err);
}

int qv_call_save(qv_call *c, qv_error **err)
{
    int r = 0;
    if (c->live && (r = qv_domain_save_live(c->dom, c->live, err)) < 0)
        return r;
    if (c->cfg)
        r = qv_domain_save_config(c->dom->conn, c->cfg, err);
    return r;
}

void qv_call_end(qv_call *c)
{
    qv_domdef_free(c->live);
    qv_domdef_free(c->cfg);
    c->live = c->cfg = NULL;
    qv_rt_unlock(c->lock);
    c->lock = -1;
}

static bool same_file(const struct stat *st, ino_t ino, const struct timespec *mt)
{
    return st->st_ino == ino && st->st_mtim.tv_sec == mt->tv_sec &&
           st->st_mtim.tv_nsec == mt->tv_nsec;
}

bool qv_domain_monitor_alive(qv_domain *dom)
{
    if (dom->monitor_pidfd < 0)
        return false;
    struct pollfd p = { .fd = dom->monitor_pidfd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

/* The live XML of a run that ended unrecorded is not the definition. */
static bool run_is_on(qv_domain *dom)
{
    qv_rt_state s;
    if (dom->smap && qv_rt_statemap_load(dom->smap, &s) && qv_domain_monitor_alive(dom))
        return true;
    qv_active act;
    return qv_domain_observe(dom, &act, NULL) == 0 && act.active;
}

int qv_domain_get_def(qv_domain *dom, const qv_domdef **def, qv_error **err)
{
    g_autofree char *live = qv_domain_file(dom, QV_RT_RUN_LIVE_XML);
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    struct stat st;
    bool is_live = stat(live, &st) == 0 && run_is_on(dom);
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


void qv_domain_forget_run(qv_domain *dom)
{
    qv_rt_statemap_free(dom->smap);
    dom->smap = NULL;
    if (dom->run_lock >= 0)
        close(dom->run_lock);
    dom->run_lock = -1;
}

int qv_domain_get_state(qv_domain *dom, int *state, int *reason, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_state(dom, state, reason, err));
    if (!dom || !state)
        return qv_error_set(err, -EINVAL, "qv_domain_get_state: dom and state are required");
    /* The run we know is still on and watched: one load from memory. */
    qv_rt_state s;
    bool known = dom->smap && qv_rt_statemap_load(dom->smap, &s) && qv_domain_monitor_alive(dom);
    /* The run ended (or another began), or nobody is watching QEMU: map
     * the state, then read the run's status. In that order a newer run
     * than the mapped one has retired it, so the pids kept for the handle
     * are the mapped run's (or the mapping says to look again). */
    for (int tries = 0; !known && tries < 3; tries++) {
        qv_domain_forget_run(dom);
        g_autofree char *path = qv_domain_file(dom, QV_RT_RUN_STATE);
        qv_rt_statemap *m = NULL;
        int mr = qv_rt_statemap_open(path, &m);
        qv_active act;
        int r = qv_domain_observe(dom, &act, err);
        if (r >= 0)
            resupervise(dom, &act);
        if (r >= 0 && act.phase == QV_RUN_ENDED) {
            /* Reported as it will be recorded; recording it is for the
             * next call that changes the domain (qv_domain_settle). */
            qv_rt_statemap_free(m);
            qv_domain_forget_run(dom);
            g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
            if (!g_file_test(cfg, G_FILE_TEST_EXISTS))
                return qv_error_set(err, -ENOENT, "domain '%s' no longer exists", dom->name);
            *state = QV_DOMAIN_SHUTOFF;
            if (reason)
                *reason = act.ended_reason;
            return 0;
        }
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
    qv_domain_forget_run(dom);
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    if (!g_file_test(cfg, G_FILE_TEST_EXISTS))
        return qv_error_set(err, -ENOENT, "domain '%s' no longer exists", dom->name);
    g_autofree char *shutoff = qv_rt_shutoff_path(&dom->conn->paths, dom->name);
    s = (qv_rt_state){ QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_UNKNOWN, 0 };
    qv_rt_state_read(shutoff, &s, NULL);
    *state = QV_DOMAIN_SHUTOFF;
    if (reason)
        *reason = s.reason;
    return 0;
}

int qv_domain_is_active(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_is_active(dom, err));
    int state;
    int r = qv_domain_get_state(dom, &state, NULL, err);
    return r < 0 ? r : state != QV_DOMAIN_SHUTOFF;
}

int qv_domain_is_persistent(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_is_persistent(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_is_persistent: dom is required");
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    return g_file_test(cfg, G_FILE_TEST_EXISTS) ? 1 : 0;
}

int qv_domain_get_id(qv_domain *dom)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_id(dom));
    if (!dom)
        return -1;
    qv_active act;
    if (qv_domain_observe(dom, &act, NULL) < 0 || !act.active)
        return -1;
    return act.status.id > 0 ? act.status.id : -1;
}

int qv_domain_get_os_type(qv_domain *dom, char **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_os_type(dom, ret, err));
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

/* ---- info ---------------------------------------------------------------- */

static unsigned long long proc_cpu_time_ns(pid_t pid)
{
    qv_proc_stat st;
    return qv_proc_stat_read(pid, 0, &st) < 0 ? 0 : qv_proc_ticks_to_ns(st.utime + st.stime);
}

int qv_domain_get_info(qv_domain *dom, qv_domain_info *info, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_info(dom, info, err));
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
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_control_info(dom, info, flags, err));
    if (!dom || !info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_control_info: dom and info are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_control_info: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    memset(info, 0, sizeof *info);
    /* A save or dump in progress, in this process or another (job.c). */
    qv_job job;
    if (qv_job_current(dom, &job) == 1) {
        info->state = QV_DOMAIN_CONTROL_JOB;
        long long now = qv_rt_now_us();
        info->state_time = now > job.started_us ? (unsigned long long)(now - job.started_us) / 1000
                                                : 0;
        return 0;
    }
    if (!qv_rt_pid_alive(act.status.monitor_pid, act.status.monitor_start)) {
        info->state = QV_DOMAIN_CONTROL_ERROR;
        info->details = QV_DOMAIN_CONTROL_ERROR_REASON_MONITOR;
        return 0;
    }
    g_autofree char *lock_path = qv_domain_file(dom, QV_RT_RUN_QMP_LOCK);
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
