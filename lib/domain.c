/* Domain handles (qvirt-domain.h): identity, state and info, and the
 * handle's view of its run (load_active, require_active, get_def).
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

/* A start died before its monitor ran QEMU. The runtime dir is a leftover
 * only when no monitor holds monitor.lock: one that is still starting QEMU
 * undoes the run itself once it sees its starter gone. Removed under the
 * lifecycle lock (not taken when this process holds it, so a start after
 * us removes it instead). False while the run is still being undone. */
static bool discard_leftover_run(qv_domain *dom, const char *dir)
{
    g_autofree char *path = qv_rt_lifecycle_lock_path(&dom->conn->paths, dom->name);
    g_autofree char *mlock_path = g_build_filename(dir, QV_RT_RUN_MONITOR_LOCK, NULL);
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
    qv_domain_forget_monitor(dom);
    if (qv_rt_pid_alive(st->monitor_pid, st->monitor_start)) {
        dom->monitor_pid = st->monitor_pid;
        dom->monitor_pidfd = (int)syscall(SYS_pidfd_open, dom->monitor_pid, 0);
    }
}

int qv_domain_load_active(qv_domain *dom, qv_active *act, qv_error **err)
{
    memset(act, 0, sizeof *act);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *status_path = qv_domain_file(dom, QV_RT_RUN_STATUS);
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
        qv_domain_forget_monitor(dom);
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
    qv_domain_forget_monitor(dom);
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
    g_autofree char *live = qv_domain_file(dom, QV_RT_RUN_LIVE_XML);
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

bool qv_domain_monitor_alive(qv_domain *dom)
{
    if (dom->monitor_pidfd < 0)
        return false;
    struct pollfd p = { .fd = dom->monitor_pidfd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
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
