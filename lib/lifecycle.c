/* The lifecycle of a domain (qvirt-lifecycle.h): start, pause and resume,
 * shutdown, reboot, reset, destroy, undefine, and the lifecycle lock that
 * orders a domain's starts and stops across processes. The start itself
 * is start.c's. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "firmware.h"
#include "internal.h"
#include "remote.h"
#include "job.h"
#include "tpm.h"
#include "qv-log.h"

/* How long QEMU gets between SIGTERM and SIGKILL on destroy. */
#define QV_DESTROY_GRACE_MS 10000

/* How long a start or stop waits for another process's start or stop of
 * the same domain (a start may boot QEMU and wait for its report). */
#define QV_LIFECYCLE_LOCK_MS 60000

int qv_domain_lock_lifecycle(qv_conn *conn, const char *name, qv_error **err)
{
    g_autofree char *path = qv_rt_lifecycle_lock_path(&conn->paths, name);
    int fd = qv_rt_lock(path, QV_LIFECYCLE_LOCK_MS, err);
    if (fd == -ETIMEDOUT)
        return qv_error_set(err, -EBUSY,
                            "domain '%s' is being started or stopped by another process", name);
    return fd;
}

/* guest-shutdown sends no reply when it works: this bounds the wait. */
#define QV_AGENT_SHUTDOWN_MS 5000

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
    int r = qv_domain_qmp_call_locked(dom, pause ? "stop" : "cont", err);
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

int qv_domain_create(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_create(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_create: dom is required");
    /* A managed save image is where the domain resumes (save.c). */
    int r = qv_domain_start_managed(dom, flags, err);
    if (r != 0)
        return r < 0 ? r : 0;
    g_autoptr(qv_domdef) def = NULL;
    r = qv_domain_load_config(dom->conn, dom->name, &def, err);
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
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_create_with_files(dom, fds, nfds, flags, err));
    if (nfds == 0)
        return qv_domain_create(dom, flags, err);
    return qv_error_set(err, -ENOTSUP,
                        "passing file descriptors at start needs an init process to receive "
                        "them; QEMU guests have none (use a container driver)");
}

/* How long a suspend during an outgoing migration waits for the
 * migration's owner to pause the CPUs (it looks every 200 ms). */
#define QV_SUSPEND_IN_JOB_MS 10000
#define QV_SUSPEND_IN_JOB_POLL_US 20000

/* An outgoing migration holds qmp.lock for its whole run, so a suspend
 * meanwhile would wait for the lock until the migration ended: it asks the
 * migration's owner instead (migrate.c stops the CPUs on its monitor,
 * paused (migrating), as libvirt's suspend during a migration does) and
 * waits until the domain is no longer running. -ENOENT: no migration runs
 * (or it ended without pausing), the ordinary path applies. */
static int suspend_during_migration(qv_domain *dom, qv_error **err)
{
    qv_job job;
    if (qv_job_current(dom, &job) != 1 || job.operation != QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return -ENOENT;
    g_autofree char *marker = qv_domain_file(dom, QV_JOB_SUSPEND_FILE);
    g_autoptr(GError) gerr = NULL;
    if (!g_file_set_contents(marker, "", 0, &gerr))
        return qv_error_set(err, -EIO, "domain '%s': cannot ask its migration to pause it: %s",
                            dom->name, gerr->message);
    gint64 deadline = g_get_monotonic_time() + QV_SUSPEND_IN_JOB_MS * G_TIME_SPAN_MILLISECOND;
    int r;
    for (;;) {
        int state;
        if ((r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
            break;
        if (state != QV_DOMAIN_RUNNING) {
            r = 0;
            break;
        }
        if (qv_job_current(dom, &job) != 1) {
            r = -ENOENT;
            break;
        }
        if (g_get_monotonic_time() >= deadline) {
            r = qv_error_set(err, -EBUSY, "domain '%s': its migration did not pause it within "
                             "%d s", dom->name, QV_SUSPEND_IN_JOB_MS / 1000);
            break;
        }
        g_usleep(QV_SUSPEND_IN_JOB_POLL_US);
    }
    unlink(marker);
    return r;
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
    if (pause && (r = suspend_during_migration(dom, err)) != -ENOENT)
        return r;
    for (int tries = 0;; tries++) {
        if ((r = qv_domain_lock_run(dom, err)) < 0)
            return r;
        r = pause_or_resume_locked(dom, pause, err);
        qv_domain_unlock_run(dom);
        if (r != -ESTALE)
            return r;
        /* The run ended (or was replaced) since get_state: look again. */
        qv_domain_forget_run(dom);
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
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_suspend(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_suspend: dom is required");
    return pause_or_resume(dom, true, err);
}

int qv_domain_resume(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_resume(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_resume: dom is required");
    return pause_or_resume(dom, false, err);
}

int qv_domain_destroy(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_destroy(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_destroy: dom is required");
    if (flags & ~(unsigned)(QV_DOMAIN_DESTROY_GRACEFUL | QV_DOMAIN_DESTROY_REMOVE_LOGS))
        return qv_error_set(err, -EINVAL, "qv_domain_destroy: unsupported flags 0x%x", flags);
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    const qv_active act = c.act;
    if (act.phase != QV_RUN_ON)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    g_autofree char *stopping = qv_domain_file(dom, QV_RT_RUN_STOPPING);
    g_autofree char *dom_dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_auto(qv_vmcg) cg = { 0 };
    qv_vmcg_read(dom_dir, &cg);
    qv_rt_mark_stopping(dom_dir, "destroyed");
    pid_t pid = act.status.qemu_pid;
    if (pid > 0 && qv_rt_pid_alive(pid, act.status.qemu_start)) {
        kill(pid, SIGTERM);
        r = qv_rt_wait_exit(pid, act.status.qemu_start, QV_DESTROY_GRACE_MS);
        if (r == -ETIMEDOUT) {
            if (flags & QV_DOMAIN_DESTROY_GRACEFUL) {
                unlink(stopping);
                qv_vmcg_clear(&cg);
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
    if (cg.mount)
        qv_vmcg_remove(&cg, NULL); /* the monitor left it to us (qv_rt_mark_stopping) */
    qv_log(QV_LOG_INFO, "domain '%s': destroyed (QEMU pid %d); state written: shut off (destroyed)",
           dom->name, (int)pid);
    qv_domain_forget_monitor(dom);
    qv_domain_forget_run(dom);
    if (flags & QV_DOMAIN_DESTROY_REMOVE_LOGS) {
        g_autofree char *log = qv_rt_log_path(&dom->conn->paths, dom->name);
        unlink(log);
    }
    return 0;
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
        g_autofree char *marker = qv_domain_file(dom, QV_RT_RUN_REBOOT);
        if ((r = qv_rt_write_runtime(marker, "1", strlen("1"), err)) < 0)
            return r;
    }
    return qv_domain_qmp_call(dom, "system_powerdown", NULL, NULL, err);
}

int qv_domain_shutdown(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_shutdown(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_shutdown: dom is required");
    return power_request(dom, flags, false, err);
}

int qv_domain_reboot(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_reboot(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_reboot: dom is required");
    return power_request(dom, flags, true, err);
}

int qv_domain_reset(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_reset(dom, flags, err));
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
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_undefine(dom, flags, err));
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
    if ((flags & QV_DOMAIN_UNDEFINE_TPM) && (flags & QV_DOMAIN_UNDEFINE_KEEP_TPM))
        return qv_error_set(err, -EINVAL, "undefine: TPM and KEEP_TPM exclude each other");
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    g_autofree char *cfg = qv_rt_config_file(&dom->conn->paths, dom->name);
    g_autofree char *nvram = NULL;
    r = qv_conn_undefine_nvram_check(dom->conn, dom->name, flags & QV_DOMAIN_UNDEFINE_NVRAM,
                                         flags & QV_DOMAIN_UNDEFINE_KEEP_NVRAM, &nvram, err);
    int n_snaps = qv_domain_snapshot_count(dom->conn, dom->name);
    g_autofree char *managed = qv_domain_managed_save_path(dom->conn, dom->name);
    bool has_managed = g_file_test(managed, G_FILE_TEST_EXISTS);
    if (r < 0) {
        /* refused: the domain stays defined */
    } else if (n_snaps > 0 && !(flags & QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)) {
        /* As libvirt: the snapshots' metadata would be orphaned. */
        r = qv_error_set(err, -EBUSY, "cannot undefine domain '%s' with %d snapshot%s: remove "
                         "them or use --snapshots-metadata", dom->name, n_snaps,
                         n_snaps == 1 ? "" : "s");
    } else if (has_managed && !(flags & QV_DOMAIN_UNDEFINE_MANAGED_SAVE)) {
        r = qv_error_set(err, -EINVAL, "refusing to undefine domain '%s' while its managed "
                         "save image exists (remove it, or undefine with managed save)",
                         dom->name);
    } else if (!c.persistent) {
        r = qv_error_set(err, -EINVAL, "domain '%s' is transient: there is no config to undefine",
                         dom->name);
    } else if (unlink(cfg) < 0) {
        r = qv_error_set_errno(err, -errno, "cannot remove %s", cfg);
    } else {
        g_autofree char *autostart = qv_rt_autostart_path(&dom->conn->paths, dom->name);
        unlink(autostart);
        qv_domain_snapshot_remove_all(dom->conn, dom->name);
        if (has_managed)
            unlink(managed);
        if (nvram && unlink(nvram) < 0 && errno != ENOENT)
            qv_log(QV_LOG_INFO, "domain '%s': cannot remove its NVRAM %s: %s", dom->name, nvram,
                   g_strerror(errno));
        /* The TPM's state goes with the domain unless asked to stay, as
         * libvirt does (a running domain's swtpm keeps its open files). */
        if (!(flags & QV_DOMAIN_UNDEFINE_KEEP_TPM)) {
            g_autofree char *tpm = qv_conn_tpm_dir(dom->conn, dom->uuid);
            qv_rt_remove_tree(tpm);
        }
        g_autofree char *shutoff = qv_rt_shutoff_path(&dom->conn->paths, dom->name);
        unlink(shutoff);
        /* A running domain carries on as a transient one. */
        if (c.act.phase == QV_RUN_ON) {
            g_autofree char *status_path = qv_domain_file(dom, QV_RT_RUN_STATUS);
            qv_rt_status st = c.act.status;
            st.transient = true;
            qv_rt_status_write(status_path, &st, NULL);
        }
        qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                     QV_DOMAIN_EVENT_UNDEFINED, QV_DOMAIN_EVENT_UNDEFINED_REMOVED, NULL);
    }
    return r;
}
