/* qvirt-monitor: the small per-domain supervisor (conmon for containers,
 * qmeventd for Proxmox are the models).
 *
 * Launched by the start path (QEMU's parent), or by any library call that
 * finds a running QEMU without one (--attach). It holds
 * <domain dir>/monitor.lock for its whole life, so at most one supervises
 * a run, and the kernel frees the lock when it dies. It talks to QEMU on
 * QEMU's supervisor monitor (monitor.sock, a listening socket QEMU keeps,
 * so a new supervisor can connect after the old one died) and:
 *   - writes status.json (QEMU's and its own pids) as soon as QEMU runs,
 *     so every run names the processes to stop;
 *   - reports "QEMU is up" (or why it is not) to the starter, and undoes
 *     the run when the starter dies before it commits (see start.c);
 *   - appends QEMU's events to the connection's journal;
 *   - keeps the state word true after events QEMU raises on its own;
 *   - carries out on_poweroff / on_reboot / on_crash (QEMU runs with
 *     -no-shutdown);
 *   - destroys the domain when an autodestroy owner dies;
 *   - serves the command proxy (ctl.sock);
 *   - records how QEMU ended and removes the runtime dir.
 * Nothing in its loop blocks: every QMP exchange is asynchronous.
 *
 * Signals: SIGTERM and SIGINT make it stop supervising and exit, leaving
 * QEMU running (as stopping libvirtd leaves guests running); the next
 * library call that finds the run unsupervised starts a new one. SIGHUP is
 * ignored. It never records a domain off while its QEMU lives. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qvirt/qvirt.h"
#include "qmp.h"
#include "monitor-proxy.h"
#include "qv-fd.h"
#include "qv-log.h"
#include "qv-process.h"
#include "qv-socket.h"
#include "runtime.h"
#include "vmcgroup.h"

/* How long after a STOP or RESUME event the monitor checks the state. */
#define QV_MONITOR_SETTLE_US (20 * 1000)
/* QEMU's time to exit on SIGTERM before it gets SIGKILL. */
#define QV_MONITOR_KILL_GRACE_US (10 * G_USEC_PER_SEC)
/* The handshake with QEMU's monitor, from QEMU's exec (a guest with a big
 * firmware image under TCG can take this long to reach its main loop). */
#define QV_MONITOR_HANDSHAKE_MS 60000
/* Commands the monitor sends on its own (query-status, system_reset, cont,
 * quit): QEMU answers them at once unless it is wedged. */
#define QV_MONITOR_COMMAND_MS 5000
/* Without pidfds (pre-5.3 kernels) QEMU's exit is polled this often.
 * Can go when the oldest supported kernel has pidfd_open. */
#define QV_MONITOR_EXIT_POLL_MS 100

/* How long the qvirt-blockjob runs of a run that ended on its own get to
 * finish before the supervisor kills them (end_helpers). */
#define QV_MONITOR_HELPERS_END_MS 2000
/* A state refresh that finds qmp.lock taken retries after 1 ms, backing
 * off to this. */
#define QV_MONITOR_LOCK_RETRY_MAX_MS 64
/* monitor.log is cut back to nothing when it passes this size. */
#define QV_MONITOR_LOG_MAX (1 << 20)
/* VNC and SPICE unix sockets one supervisor listens on. */
#define QV_MONITOR_MAX_DISPLAYS 4

/* What the events since the last state check imply. */
typedef enum expect {
    EXPECT_NOTHING,
    EXPECT_RUNNING,     /* a RESUME: whoever sent cont records it */
    EXPECT_PAUSED,      /* a STOP: likewise */
    EXPECT_ASK_QEMU,    /* an I/O error, watchdog, guest PM...: ask QEMU */
} expect;

typedef struct monitor {
    qv_rt_paths paths;
    char *name;
    char *uuid;
    char *domain_dir;
    char *state_path;
    char *status_path;
    char *lock_path;
    qv_rt_statemap *smap;  /* the run's state word, mapped once */
    qv_rt_journal_writer emit;
    qv_rt_status status;   /* what status.json says */
    bool attach;           /* re-attached to a running QEMU */
    bool has_balloon;      /* QEMU may have a balloon: learn its size */
    int owner_pidfd;
    /* QEMU: the child we launched, or (attached) a pidfd on it. */
    qv_process *qemu;
    int qemu_pidfd;
    qv_qmp *qmp;
    bool qmp_lost;
    bool handshaken;
    int handshake_result;  /* 0 pending, 1 done, -1 failed */
    bool saw_shutdown;
    bool shutdown_guest;
    char *shutdown_reason;
    bool left_cgroup;      /* out of the domain's cgroup: QEMU is exiting */
    bool panicked;
    bool state_dirty;
    expect expect;
    qv_proxy *proxy;
    int ctl_fd;            /* the proxy's listening socket until the handshake */
    /* VNC and SPICE unix sockets listened on here: each client is handed
     * to QEMU (getfd, add_client), which needs no rights on their folders. */
    GPtrArray *display_args; /* "vnc:PATH" or "spice:PATH", from the arguments */
    int display_fds[QV_MONITOR_MAX_DISPLAYS];
    const char *display_protocols[QV_MONITOR_MAX_DISPLAYS];
    int n_displays;
    /* refresh_state found qmp.lock busy: try again after this long. */
    int lock_retry_ms;
    /* When refresh_state is to run next (monotonic us). */
    gint64 refresh_at_us;
    /* qmp.lock, held while an asynchronous query-status is out. */
    int refresh_lock;
    /* The starter's end of the start channel: the report goes there, and
     * its hang-up before the start commits means the starter died. */
    int start_fd;
    bool reported;
    /* SIGKILL QEMU at this time if it has not exited (0: not pending). */
    gint64 kill_at_us;
    int signal_fd;
    bool leave;            /* SIGTERM/SIGINT: stop supervising, QEMU runs on */
    char *qemu_log_path;
    off_t qemu_log_start;
    GPtrArray *helpers;    /* qvirt-blockjob runs not reaped yet (qv_process) */
} monitor;

/* monitor.log (the monitor's stderr): one timestamped line per thing worth
 * knowing afterwards, bounded in size. Always on, in the library's log
 * format (common/qv-log.h). */
#define mlog(...) \
    qv_log_fd(STDERR_FILENO, QV_MONITOR_LOG_MAX, "qvirt-monitor", QV_LOG_INFO, __VA_ARGS__)

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/* ---- QEMU, launched or adopted ------------------------------------------ */

static int qemu_fd(const monitor *m)
{
    return m->qemu ? qv_process_get_fd(m->qemu) : m->qemu_pidfd;
}

static void qemu_signal(monitor *m, int sig)
{
    if (m->qemu)
        qv_process_signal(m->qemu, sig, NULL);
    else if (qv_rt_pid_alive(m->status.qemu_pid, m->status.qemu_start))
        kill(m->status.qemu_pid, sig);
}

/* 1 and *status once QEMU has exited; an adopted QEMU is not ours to reap
 * (its status stays 0). */
static int qemu_exited(monitor *m, int *status)
{
    if (m->qemu)
        return qv_process_try_wait(m->qemu, status, NULL);
    *status = 0;
    return qv_rt_pid_alive(m->status.qemu_pid, m->status.qemu_start) ? 0 : 1;
}

/* SIGTERM now, SIGKILL after the grace time (from the loop, no waiting). */
static void kill_qemu(monitor *m, const char *why)
{
    qv_rt_mark_stopping(m->domain_dir, why);
    mlog("stopping QEMU (%s)", why);
    qemu_signal(m, SIGTERM);
    if (!m->kill_at_us)
        m->kill_at_us = g_get_monotonic_time() + QV_MONITOR_KILL_GRACE_US;
}

static void report_to_starter(monitor *m, json_object *obj)
{
    if (m->start_fd < 0 || m->reported)
        return;
    size_t len;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    g_autofree char *line = g_strdup_printf("%s\n", s);
    ssize_t n = write(m->start_fd, line, len + 1);
    (void)n; /* a starter that is gone is noticed by its hang-up */
    m->reported = true;
}

/* The starter wrote its commit (or hung up): the run is the caller's for
 * good when it removed the starter file first, else it was abandoned. */
static void starter_done(monitor *m)
{
    char buf[64];
    ssize_t n = read(m->start_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    close(m->start_fd);
    m->start_fd = -1;
    if (qv_rt_starter_check(m->domain_dir) != QV_RT_STARTER_NONE) {
        mlog("the process that started the domain went away before the start completed");
        kill_qemu(m, "failed");
    }
}

/* ---- state ----------------------------------------------------------------- */

static void emit(monitor *m, int event_id, int event, int detail, json_object *extra)
{
    qv_rt_emit_with(&m->paths, &m->emit, m->name, m->uuid, event_id, event, detail, extra);
}

static int lifecycle_for_pause(int reason)
{
    switch (reason) {
    case QV_DOMAIN_PAUSED_IOERROR: return QV_DOMAIN_EVENT_SUSPENDED_IOERROR;
    case QV_DOMAIN_PAUSED_WATCHDOG: return QV_DOMAIN_EVENT_SUSPENDED_WATCHDOG;
    case QV_DOMAIN_PAUSED_MIGRATION: return QV_DOMAIN_EVENT_SUSPENDED_MIGRATED;
    case QV_DOMAIN_PAUSED_FROM_SNAPSHOT: return QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT;
    default: return QV_DOMAIN_EVENT_SUSPENDED_PAUSED;
    }
}

/* Something the library does not record happened (an I/O error, a guest
 * panic or power change, a watchdog): ask QEMU at once. */
static void ask_qemu_now(monitor *m)
{
    m->state_dirty = true;
    m->expect = EXPECT_ASK_QEMU;
    m->refresh_at_us = 0;
}

static bool read_state(monitor *m, qv_rt_state *st)
{
    if (!m->smap && qv_rt_statemap_open(m->state_path, &m->smap) < 0)
        return false;
    return qv_rt_statemap_load(m->smap, st);
}

/* The state already says what a STOP or RESUME event implied: a library
 * process paused or resumed the guest and wrote it. */
static bool state_as_expected(monitor *m, expect e)
{
    qv_rt_state cur;
    return (e == EXPECT_RUNNING || e == EXPECT_PAUSED) && read_state(m, &cur) &&
           cur.state == (e == EXPECT_RUNNING ? QV_DOMAIN_RUNNING : QV_DOMAIN_PAUSED);
}

static void release_refresh_lock(monitor *m)
{
    if (m->refresh_lock >= 0)
        qv_rt_unlock(m->refresh_lock);
    m->refresh_lock = -1;
}

/* QEMU's answer to the state check: write the state it implies (qmp.lock
 * still held) and say what changed. */
static void on_status(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    monitor *m = opaque;
    if (err || !ret) {
        release_refresh_lock(m);
        return;
    }
    json_object *st;
    const char *rs = json_object_object_get_ex(ret, "status", &st) ? json_object_get_string(st) : "";
    qv_rt_state prev = { 0 }, next;
    bool have_prev = read_state(m, &prev);
    qv_rt_state_from_runstate(rs, have_prev ? &prev : NULL, &next);
    if (next.state == QV_DOMAIN_NOSTATE || (have_prev && next.state == prev.state) ||
        !m->smap || qv_rt_statemap_store(m->smap, &next) < 0) {
        release_refresh_lock(m);
        return;
    }
    release_refresh_lock(m);
    mlog("state %d (reason %d) after QEMU reported '%s'", next.state, next.reason, rs);
    switch (next.state) {
    case QV_DOMAIN_PAUSED:
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
             lifecycle_for_pause(next.reason), NULL);
        break;
    case QV_DOMAIN_RUNNING:
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_RESUMED,
             QV_DOMAIN_EVENT_RESUMED_UNPAUSED, NULL);
        break;
    case QV_DOMAIN_PMSUSPENDED:
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_PMSUSPENDED,
             QV_DOMAIN_EVENT_PMSUSPENDED_MEMORY, NULL);
        break;
    case QV_DOMAIN_CRASHED:
        m->panicked = true; /* guest-panicked is only reached through GUEST_PANICKED */
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_CRASHED,
             QV_DOMAIN_EVENT_CRASHED_PANICKED, NULL);
        break;
    default:
        break;
    }
}

/* Learns the run state from QEMU and writes it, holding qmp.lock: library
 * processes hold it from before a stop or cont until they have written
 * its state. The monitor never waits for the lock, because such a process
 * may be waiting for a reply this loop forwards (the proxy); when the lock
 * is busy it tries again on a later pass (lock_retry_ms). The query goes
 * out asynchronously and the lock is kept until its answer (on_status). */
static void refresh_state(monitor *m)
{
    if (!m->qmp || m->qmp_lost) {
        m->state_dirty = false;
        m->expect = EXPECT_NOTHING;
        return;
    }
    if (m->refresh_lock >= 0)
        return; /* a check is out; the next one follows it */
    expect e = m->expect;
    if (state_as_expected(m, e)) {
        m->state_dirty = false;
        m->expect = EXPECT_NOTHING;
        return;
    }
    int lock = qv_rt_lock(m->lock_path, 0, NULL);
    if (lock == -EWOULDBLOCK) {
        m->lock_retry_ms = m->lock_retry_ms ? MIN(m->lock_retry_ms * 2, QV_MONITOR_LOCK_RETRY_MAX_MS) : 1;
        m->refresh_at_us = g_get_monotonic_time() + m->lock_retry_ms * 1000;
        return;
    }
    m->lock_retry_ms = 0;
    m->state_dirty = false;
    m->expect = EXPECT_NOTHING;
    if (lock < 0)
        return;
    if (state_as_expected(m, e)) {
        qv_rt_unlock(lock);
        return;
    }
    m->refresh_lock = lock;
    if (qv_qmp_send_async(m->qmp, "query-status", NULL, -1, QV_MONITOR_COMMAND_MS, on_status, m,
                          NULL) < 0)
        release_refresh_lock(m);
}

/* The balloon's actual size goes with the run's state, so memory_stats
 * reads it instead of asking QEMU (libvirt keeps it the same way). QEMU
 * throttles BALLOON_CHANGE to one a second, so it may lag as long. */
static void record_balloon(monitor *m, long long bytes)
{
    if (!m->smap && qv_rt_statemap_open(m->state_path, &m->smap) < 0)
        return;
    qv_rt_statemap_set_balloon(m->smap, bytes > 0 ? (unsigned long long)bytes / 1024 : 0);
}

static void on_balloon(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    json_object *v;
    if (err)
        mlog("query-balloon failed: %s", qv_error_message(err));
    else if (ret && json_object_object_get_ex(ret, "actual", &v))
        record_balloon(opaque, json_object_get_int64(v));
}

/* QEMU emits BALLOON_CHANGE only on a change, so where the balloon starts
 * (or stands, when re-attached) is asked once, without waiting. Events
 * and this reply come in QEMU's order on the one connection. */
static void learn_balloon(monitor *m)
{
    if (m->has_balloon && m->qmp && !m->qmp_lost)
        qv_qmp_send_async(m->qmp, "query-balloon", NULL, -1, QV_MONITOR_COMMAND_MS, on_balloon,
                          m, NULL);
}

static json_object *extra_with_qemu(const qv_qmp_event *ev)
{
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "qemu_event", json_object_new_string(ev->name));
    if (ev->data)
        json_object_object_add(extra, "qemu_data", json_object_get(ev->data));
    return extra;
}

static int watchdog_action(const char *a)
{
    static const char *const names[] = { "none", "pause", "reset", "poweroff", "shutdown",
                                         "debug", "inject-nmi" };
    for (size_t i = 0; a && i < G_N_ELEMENTS(names); i++)
        if (!strcmp(a, names[i]))
            return (int)i;
    return 0;
}

static void on_own_command(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    if (err)
        mlog("%s failed: %s", (const char *)opaque, qv_error_message(err));
}

/* A command of the monitor's own (system_reset, cont, quit), sent without
 * waiting for the answer. */
static void send_own(monitor *m, const char *cmd)
{
    mlog("sending %s", cmd);
    if (!m->qmp || m->qmp_lost ||
        qv_qmp_send_async(m->qmp, cmd, NULL, -1, QV_MONITOR_COMMAND_MS, on_own_command,
                          (void *)cmd, NULL) < 0)
        mlog("cannot send %s: QEMU's monitor is gone", cmd);
}

static void reset_and_continue(monitor *m)
{
    send_own(m, "system_reset");
    send_own(m, "cont");
}

/* QEMU runs with -no-shutdown: a guest poweroff stops the VM and the
 * on_poweroff / on_reboot policy (or a pending "fake reboot") decides. */
static void guest_powered_off(monitor *m)
{
    g_autofree char *marker = g_build_filename(m->domain_dir, QV_RT_RUN_REBOOT, NULL);
    bool fake_reboot = unlink(marker) == 0;
    bool guest_reset = m->shutdown_reason && !strcmp(m->shutdown_reason, "guest-reset");
    qv_rt_action action = guest_reset ? m->status.on_reboot : m->status.on_poweroff;
    if (fake_reboot)
        action = QV_RT_ACTION_RESTART;
    switch (action) {
    case QV_RT_ACTION_RESTART:
        m->saw_shutdown = false;
        reset_and_continue(m);
        break;
    case QV_RT_ACTION_DESTROY:
        send_own(m, "quit");
        break;
    case QV_RT_ACTION_PRESERVE:
        break; /* QEMU stays, stopped in its shutdown state */
    }
}

/* ---- block jobs (lib/blockjob.c) ------------------------------------------ */

/* The intent file of a qvirt block job (its QEMU job id is qvblk-ALIAS),
 * parsed; NULL for a job qvirt did not start. */
static json_object *blockjob_intent(monitor *m, const char *job)
{
    if (!job || !g_str_has_prefix(job, "qvblk-") || strchr(job, '/'))
        return NULL;
    g_autofree char *file = g_strdup_printf("blockjob-%s.json", job + 6);
    g_autofree char *path = g_build_filename(m->domain_dir, file, NULL);
    g_autofree char *text = NULL;
    if (qv_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
        return NULL;
    return json_tokener_parse(text);
}

/* A job ended: the XML must follow even when nobody waits for it, and
 * this process parses no XML, so qvirt-blockjob (beside it) concludes. */
static void conclude_blockjobs(monitor *m)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = exe ? g_path_get_dirname(exe) : NULL;
    g_autofree char *helper = dir ? g_build_filename(dir, "qvirt-blockjob", NULL) : NULL;
    if (!helper)
        return;
    const char *argv[] = { helper, "--config-dir", m->paths.config_dir, "--run-dir",
                           m->paths.run_dir, "--name", m->name, NULL };
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = argv;
    so.stderr_fd = STDERR_FILENO;
    qv_process *p = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_process_spawn(&so, &p, &err) < 0) {
        mlog("cannot run %s: %s", helper, qv_error_message(err));
        return;
    }
    mlog("a block job ended: qvirt-blockjob (pid %d) concludes it", (int)qv_process_pid(p));
    g_ptr_array_add(m->helpers, p);
}

static void reap_helpers(monitor *m)
{
    for (guint i = m->helpers->len; i-- > 0;) {
        int st;
        if (qv_process_try_wait(m->helpers->pdata[i], &st, NULL) != 0)
            g_ptr_array_remove_index_fast(m->helpers, i);
    }
}

/* The run is over and its cgroup goes with it, so no qvirt-blockjob run
 * may outlive this process: they sit in its cgroup leaf. When a library
 * call ended the run, it holds the lifecycle lock they wait for, and
 * waits for this process to exit: they are killed at once (a concluder
 * waiting for the lock has done nothing yet; after the run there is
 * nothing to conclude). Otherwise each gets until wait_ms to finish what
 * it may be writing (the new chain into the config), then is killed. */
static void end_helpers(monitor *m, int wait_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)wait_ms * 1000;
    for (guint i = 0; i < m->helpers->len; i++) {
        qv_process *p = m->helpers->pdata[i];
        gint64 left = MAX((deadline - g_get_monotonic_time()) / 1000, 0);
        if (qv_process_wait(p, (int)left, NULL, NULL) == 0)
            continue;
        mlog("qvirt-blockjob (pid %d) is still running as the run ends: killing it",
             (int)qv_process_pid(p));
        qv_process_signal(p, SIGKILL, NULL);
        qv_process_wait(p, -1, NULL, NULL);
    }
    g_ptr_array_set_size(m->helpers, 0);
}

/* qvirt's own jobs: READY is reported here with the disk the intent
 * names; their end is reported by whoever concludes them, once the XML
 * follows. true when the event was one of theirs. */
static bool blockjob_event(monitor *m, const qv_qmp_event *ev)
{
    const char *n = ev->name;
    const char *job = qv_json_get_str(ev->data, !strcmp(n, "JOB_STATUS_CHANGE") ? "id" : "device");
    if (!job || !g_str_has_prefix(job, "qvblk-"))
        return false;
    /* The intent is gone once a quick concluder finished: still ours. */
    g_autoptr(json_object) in = blockjob_intent(m, job);
    if (!in)
        return true;
    if (!strcmp(n, "JOB_STATUS_CHANGE")) {
        /* Waiters watch this file instead of asking QEMU over and over. */
        const char *st = qv_json_get_str(ev->data, "status");
        g_autofree char *file = g_strdup_printf("blockstatus-%s", job + 6);
        g_autofree char *path = g_build_filename(m->domain_dir, file, NULL);
        qv_rt_write_runtime(path, st ? st : "", st ? strlen(st) : 0, NULL);
        if (!g_strcmp0(st, "concluded"))
            conclude_blockjobs(m);
    } else if (!strcmp(n, "BLOCK_JOB_READY")) {
        for (int k = 0; k < 2; k++) {
            json_object *x = json_object_new_object();
            const char *disk = qv_json_get_str(in, k ? "target" : "disk_path");
            json_object_object_add(x, "disk", json_object_new_string(disk ? disk : ""));
            json_object_object_add(x, "type", json_object_new_string(qv_json_get_str(in, "qemu_type") ?: ""));
            json_object_object_add(x, "job_type", json_object_new_int((int)qv_json_get_int(in, "type", 0)));
            json_object_object_add(x, "status", json_object_new_int(QV_DOMAIN_BLOCK_JOB_READY));
            emit(m, k ? QV_DOMAIN_EVENT_ID_BLOCK_JOB_2 : QV_DOMAIN_EVENT_ID_BLOCK_JOB,
                 QV_DOMAIN_BLOCK_JOB_READY, 0, x);
        }
    }
    return true;
}

/* Out of the domain's cgroup before the run ends, so that the end of the
 * run can remove it (nobody can remove a cgroup they are in). Once. */
static void leave_cgroup(monitor *m)
{
    if (m->left_cgroup)
        return;
    m->left_cgroup = true;
    g_auto(qv_vmcg) cg = { 0 };
    if (qv_vmcg_read(m->domain_dir, &cg) == 0 && cg.mount)
        qv_vmcg_leave(&cg);
}

static void handle_event(monitor *m, const qv_qmp_event *ev)
{
    const char *n = ev->name;
    json_object *data = ev->data;
    if ((g_str_has_prefix(n, "BLOCK_JOB_") || !strcmp(n, "JOB_STATUS_CHANGE")) &&
        blockjob_event(m, ev))
        return;
    json_object *extra = extra_with_qemu(ev);

    if (!strcmp(n, "STOP") || !strcmp(n, "RESUME")) {
        /* Whoever paused or resumed the guest through the library records
         * the state itself: look once things have settled, so a burst of
         * pauses and resumes costs one check, not a lock race per event. */
        if (!m->state_dirty)
            m->refresh_at_us = g_get_monotonic_time() + QV_MONITOR_SETTLE_US;
        m->state_dirty = true;
        if (m->expect != EXPECT_ASK_QEMU)
            m->expect = !strcmp(n, "STOP") ? EXPECT_PAUSED : EXPECT_RUNNING;
        json_object_put(extra);
    } else if (!strcmp(n, "SHUTDOWN")) {
        json_object *g;
        m->saw_shutdown = true;
        m->shutdown_guest = data && json_object_object_get_ex(data, "guest", &g) &&
                            json_object_get_boolean(g);
        g_free(m->shutdown_reason);
        m->shutdown_reason = g_strdup(qv_json_get_str(data, "reason"));
        g_autofree char *marker = g_build_filename(m->domain_dir, QV_RT_RUN_REBOOT, NULL);
        if (m->shutdown_guest && g_file_test(marker, G_FILE_TEST_EXISTS))
            json_object_put(extra); /* the poweroff half of a reboot: not a shutdown */
        else
            emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SHUTDOWN,
                 m->shutdown_guest ? QV_DOMAIN_EVENT_SHUTDOWN_GUEST : QV_DOMAIN_EVENT_SHUTDOWN_HOST,
                 extra);
        if (m->shutdown_guest)
            guest_powered_off(m);
        /* A signal or quit: QEMU exits whatever -no-shutdown says, so the
         * run ends. Leaving the domain's cgroup (which the run's end
         * removes, and nobody can remove a cgroup they are in) waits for an
         * RCU grace period, 10-15 ms on a busy host: done now, it overlaps
         * QEMU's own teardown instead of following it. Not when a library
         * call ended the run and waits: it removes the cgroup once this
         * process is gone (finalize). */
        bool writer_waits = false;
        g_autofree char *stopping = qv_rt_stopping_read(m->domain_dir, &writer_waits);
        if (m->shutdown_reason && (!strcmp(m->shutdown_reason, "host-signal") ||
                                   !strcmp(m->shutdown_reason, "host-qmp-quit")) &&
            !writer_waits)
            leave_cgroup(m);
    } else if (!strcmp(n, "RESET")) {
        emit(m, QV_DOMAIN_EVENT_ID_REBOOT, 0, 0, extra);
    } else if (!strcmp(n, "RTC_CHANGE")) {
        json_object *off;
        if (data && json_object_object_get_ex(data, "offset", &off))
            json_object_object_add(extra, "offset", json_object_get(off));
        emit(m, QV_DOMAIN_EVENT_ID_RTC_CHANGE, 0, 0, extra);
    } else if (!strcmp(n, "WATCHDOG")) {
        int action = watchdog_action(qv_json_get_str(data, "action"));
        json_object_object_add(extra, "action", json_object_new_int(action));
        emit(m, QV_DOMAIN_EVENT_ID_WATCHDOG, action, 0, extra);
        ask_qemu_now(m);
    } else if (!strcmp(n, "BLOCK_IO_ERROR")) {
        const char *action = qv_json_get_str(data, "action");
        int act = action && !strcmp(action, "stop") ? QV_DOMAIN_EVENT_IO_ERROR_PAUSE
                : action && !strcmp(action, "report") ? QV_DOMAIN_EVENT_IO_ERROR_REPORT
                : QV_DOMAIN_EVENT_IO_ERROR_NONE;
        const char *dev = qv_json_get_str(data, "device");
        if (!dev || !*dev)
            dev = qv_json_get_str(data, "node-name");
        json_object_object_add(extra, "dev_alias", json_object_new_string(dev ? dev : ""));
        json_object_object_add(extra, "action", json_object_new_int(act));
        json_object *nospace;
        bool enospc = data && json_object_object_get_ex(data, "nospace", &nospace) &&
                      json_object_get_boolean(nospace);
        json_object_object_add(extra, "reason", json_object_new_string(enospc ? "enospc" : ""));
        emit(m, QV_DOMAIN_EVENT_ID_IO_ERROR, act, 0, json_object_get(extra));
        emit(m, QV_DOMAIN_EVENT_ID_IO_ERROR_REASON, act, 0, extra);
        ask_qemu_now(m);
    } else if (g_str_has_prefix(n, "BLOCK_JOB_")) {
        int status = !strcmp(n, "BLOCK_JOB_COMPLETED") ? (qv_json_get_str(data, "error") ? QV_DOMAIN_BLOCK_JOB_FAILED : QV_DOMAIN_BLOCK_JOB_COMPLETED)
                   : !strcmp(n, "BLOCK_JOB_CANCELLED") ? QV_DOMAIN_BLOCK_JOB_CANCELED
                   : !strcmp(n, "BLOCK_JOB_READY") ? QV_DOMAIN_BLOCK_JOB_READY
                   : QV_DOMAIN_BLOCK_JOB_FAILED;
        const char *dev = qv_json_get_str(data, "device");
        json_object_object_add(extra, "disk", json_object_new_string(dev ? dev : ""));
        json_object_object_add(extra, "type", json_object_new_string(qv_json_get_str(data, "type") ? qv_json_get_str(data, "type") : ""));
        json_object_object_add(extra, "status", json_object_new_int(status));
        emit(m, QV_DOMAIN_EVENT_ID_BLOCK_JOB, status, 0, json_object_get(extra));
        emit(m, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2, status, 0, extra);
    } else if (!strcmp(n, "DEVICE_TRAY_MOVED")) {
        json_object *open;
        bool is_open = data && json_object_object_get_ex(data, "tray-open", &open) &&
                       json_object_get_boolean(open);
        const char *dev = qv_json_get_str(data, "device");
        if (!dev || !*dev)
            dev = qv_json_get_str(data, "id");
        json_object_object_add(extra, "dev_alias", json_object_new_string(dev ? dev : ""));
        int reason = is_open ? QV_DOMAIN_EVENT_TRAY_CHANGE_OPEN : QV_DOMAIN_EVENT_TRAY_CHANGE_CLOSE;
        emit(m, QV_DOMAIN_EVENT_ID_TRAY_CHANGE, reason, 0, extra);
    } else if (!strcmp(n, "SUSPEND")) {
        emit(m, QV_DOMAIN_EVENT_ID_PMSUSPEND, 0, 0, extra);
        ask_qemu_now(m);
    } else if (!strcmp(n, "SUSPEND_DISK")) {
        emit(m, QV_DOMAIN_EVENT_ID_PMSUSPEND_DISK, 0, 0, extra);
    } else if (!strcmp(n, "WAKEUP")) {
        emit(m, QV_DOMAIN_EVENT_ID_PMWAKEUP, 0, 0, extra);
        ask_qemu_now(m);
    } else if (!strcmp(n, "BALLOON_CHANGE")) {
        json_object *actual;
        long long bytes = data && json_object_object_get_ex(data, "actual", &actual)
                              ? json_object_get_int64(actual) : 0;
        json_object_object_add(extra, "actual", json_object_new_int64(bytes / 1024));
        record_balloon(m, bytes);
        emit(m, QV_DOMAIN_EVENT_ID_BALLOON_CHANGE, 0, 0, extra);
    } else if (!strcmp(n, "DEVICE_DELETED")) {
        const char *dev = qv_json_get_str(data, "device");
        if (dev) {
            json_object_object_add(extra, "dev_alias", json_object_new_string(dev));
            emit(m, QV_DOMAIN_EVENT_ID_DEVICE_REMOVED, 0, 0, extra);
        } else {
            json_object_put(extra);
        }
    } else if (g_str_has_prefix(n, "VNC_") || g_str_has_prefix(n, "SPICE_")) {
        const char *phase = strchr(n, '_') + 1;
        int p = !strcmp(phase, "CONNECTED") ? QV_DOMAIN_EVENT_GRAPHICS_CONNECT
              : !strcmp(phase, "INITIALIZED") ? QV_DOMAIN_EVENT_GRAPHICS_INITIALIZE
              : QV_DOMAIN_EVENT_GRAPHICS_DISCONNECT;
        json_object_object_add(extra, "phase", json_object_new_int(p));
        json_object_object_add(extra, "protocol",
                               json_object_new_string(g_str_has_prefix(n, "VNC_") ? "vnc" : "spice"));
        emit(m, QV_DOMAIN_EVENT_ID_GRAPHICS, p, 0, extra);
    } else if (!strcmp(n, "GUEST_PANICKED")) {
        m->panicked = true;
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_CRASHED,
             QV_DOMAIN_EVENT_CRASHED_PANICKED, extra);
        if (m->status.on_crash == QV_RT_ACTION_RESTART) {
            reset_and_continue(m);
        } else if (m->status.on_crash == QV_RT_ACTION_DESTROY) {
            kill_qemu(m, "crashed");
        } else {
            ask_qemu_now(m);
        }
    } else {
        json_object_put(extra);
    }
}


/* Works out how QEMU ended, records it and removes the runtime dir. */
static void finalize(monitor *m)
{
    bool writer_waits;
    g_autofree char *stopping = qv_rt_stopping_read(m->domain_dir, &writer_waits);
    int reason, detail;
    if (stopping && !strcmp(stopping, "failed")) {
        reason = QV_DOMAIN_SHUTOFF_FAILED;
        detail = QV_DOMAIN_EVENT_STOPPED_FAILED;
    } else if (stopping && !strcmp(stopping, "crashed")) {
        reason = QV_DOMAIN_SHUTOFF_CRASHED;
        detail = QV_DOMAIN_EVENT_STOPPED_CRASHED;
    } else if (stopping && !strcmp(stopping, "from-snapshot")) {
        /* A snapshot's HALT, or a revert that needs a new QEMU. */
        reason = QV_DOMAIN_SHUTOFF_FROM_SNAPSHOT;
        detail = QV_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT;
    } else if (stopping && !strcmp(stopping, "saved")) {
        /* A save (lib/save.c) wrote the image and ends the run. */
        reason = QV_DOMAIN_SHUTOFF_SAVED;
        detail = QV_DOMAIN_EVENT_STOPPED_SAVED;
    } else if (stopping && !strcmp(stopping, "migrated")) {
        /* A migration (lib/migrate.c) handed the guest over. */
        reason = QV_DOMAIN_SHUTOFF_MIGRATED;
        detail = QV_DOMAIN_EVENT_STOPPED_MIGRATED;
    } else if (stopping) {
        reason = QV_DOMAIN_SHUTOFF_DESTROYED;
        detail = QV_DOMAIN_EVENT_STOPPED_DESTROYED;
    } else if (m->saw_shutdown && (m->shutdown_guest ||
               (m->shutdown_reason && !strcmp(m->shutdown_reason, "host-qmp-quit")))) {
        reason = QV_DOMAIN_SHUTOFF_SHUTDOWN;
        detail = QV_DOMAIN_EVENT_STOPPED_SHUTDOWN;
    } else if (m->saw_shutdown && m->shutdown_reason &&
               !strcmp(m->shutdown_reason, "host-signal")) {
        reason = QV_DOMAIN_SHUTOFF_DESTROYED;
        detail = QV_DOMAIN_EVENT_STOPPED_DESTROYED;
    } else {
        /* No orderly shutdown: killed (kill -9) or crashed. */
        reason = QV_DOMAIN_SHUTOFF_CRASHED;
        detail = QV_DOMAIN_EVENT_STOPPED_CRASHED;
    }
    mlog("QEMU has ended; recording shut off (reason %d)", reason);
    end_helpers(m, writer_waits ? 0 : QV_MONITOR_HELPERS_END_MS);
    /* A library call that ended the run waits for this process to exit
     * and then removes the cgroup: no move out of it (a cgroup move waits
     * for an RCU grace period, 10-15 ms on a busy host, which that caller
     * would wait too). Otherwise out, and the cgroup goes with the run. */
    if (writer_waits && !m->left_cgroup) {
        qv_rt_finalize_run_keep_cgroup(&m->paths, m->name, m->uuid, m->status.run_id, reason,
                                       detail, NULL);
        return;
    }
    leave_cgroup(m);
    qv_rt_finalize_run(&m->paths, m->name, m->uuid, m->status.run_id, reason, detail, NULL);
}

/* The last few lines QEMU printed, for start failures. */
static char *log_tail(const char *path, off_t from)
{
    g_autofree char *all = NULL;
    size_t len = 0;
    if (qv_read_file(path, 16 << 20, &all, &len, NULL) < 0 || len <= (size_t)from)
        return g_strdup("");
    char *data = all + from;
    g_strchomp(data);
    /* QEMU prefixes messages with a timestamp (-msg timestamp=on) and its
     * path; keep the lines as they are, they say where. */
    char *start = data + strlen(data);
    int lines = 0;
    while (start > data && lines < 3) {
        start--;
        if (*start == '\n')
            lines++;
    }
    if (*start == '\n')
        start++;
    return g_strdelimit(g_strdup(start), "\n", ' ');
}

static void report_error(monitor *m, int code, const char *msg)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_int(code));
    json_object_object_add(o, "error", json_object_new_string(msg));
    report_to_starter(m, o);
}

/* QEMU ended before its monitor answered: tell the starter what QEMU said. */
static void report_early_exit(monitor *m, int exit_status)
{
    g_autofree char *tail = log_tail(m->qemu_log_path, m->qemu_log_start);
    g_autofree char *msg = NULL;
    if (WIFEXITED(exit_status))
        msg = g_strdup_printf("QEMU exited with status %d during startup%s%s",
                              WEXITSTATUS(exit_status), *tail ? ": " : "", tail);
    else
        msg = g_strdup_printf("QEMU was killed by signal %d during startup%s%s",
                              WTERMSIG(exit_status), *tail ? ": " : "", tail);
    mlog("%s", msg);
    report_error(m, -EIO, msg);
}

/* The start failed before QEMU's monitor answered. A starter that is still
 * there undoes the run itself (it holds the lifecycle lock); one that died
 * cannot, so the run is recorded shut off (failed) here, if it is still
 * this run. */
static void abandon_run(monitor *m)
{
    if (qv_rt_starter_check(m->domain_dir) == QV_RT_STARTER_ALIVE)
        return;
    leave_cgroup(m);
    qv_rt_finalize_run(&m->paths, m->name, m->uuid, m->status.run_id, QV_DOMAIN_SHUTOFF_FAILED,
                       -1, NULL);
}

static void on_handshake(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    monitor *m = opaque;
    m->handshake_result = err ? -1 : 1;
    if (err)
        mlog("QEMU's monitor did not answer: %s", qv_error_message(err));
}

/* Re-attached: what QEMU did while nobody watched. A guest that powered
 * off meanwhile sits in "shutdown" (QEMU has -no-shutdown) and gets its
 * on_poweroff now; anything else is written as the state. */
static void on_attach_status(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    monitor *m = opaque;
    json_object *st;
    const char *rs = ret && json_object_object_get_ex(ret, "status", &st)
                         ? json_object_get_string(st) : "";
    mlog("attached; QEMU reports '%s'", rs);
    if (!strcmp(rs, "shutdown")) {
        m->saw_shutdown = true;
        m->shutdown_guest = true;
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SHUTDOWN,
             QV_DOMAIN_EVENT_SHUTDOWN_GUEST, NULL);
        guest_powered_off(m);
        return;
    }
    ask_qemu_now(m);
}

/* QEMU's monitor answered: serve the proxy and tell whoever launched us. */
static void handshake_done(monitor *m)
{
    m->handshaken = true;
    if (m->ctl_fd >= 0) {
        m->proxy = qv_proxy_new(m->ctl_fd, m->qmp);
        m->ctl_fd = -1;
    }
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "qemu_pid", json_object_new_int64(m->status.qemu_pid));
    json_object_object_add(o, "qemu_start", json_object_new_int64((int64_t)m->status.qemu_start));
    json_object_object_add(o, "monitor_pid", json_object_new_int64(m->status.monitor_pid));
    json_object_object_add(o, "monitor_start", json_object_new_int64((int64_t)m->status.monitor_start));
    report_to_starter(m, o);
    learn_balloon(m);
    if (m->attach) {
        /* The attacher only waits for the report. */
        close(m->start_fd);
        m->start_fd = -1;
        if (qv_qmp_send_async(m->qmp, "query-status", NULL, -1, QV_MONITOR_COMMAND_MS,
                              on_attach_status, m, NULL) < 0)
            ask_qemu_now(m);
        /* A block job may have ended while nobody watched. */
        g_autoptr(GDir) d = g_dir_open(m->domain_dir, 0, NULL);
        const char *f;
        while (d && (f = g_dir_read_name(d)))
            if (g_str_has_prefix(f, "blockjob-") && g_str_has_suffix(f, ".json")) {
                conclude_blockjobs(m);
                break;
            }
    }
}

static void qmp_lost(monitor *m)
{
    m->qmp_lost = true;
    release_refresh_lock(m);
    if (m->proxy)
        qv_proxy_set_lost(m->proxy);
    if (m->handshaken) {
        mlog("QEMU's monitor connection broke");
        g_autoptr(json_object) ex = json_object_new_object();
        json_object_object_add(ex, "reason", json_object_new_int(QV_DOMAIN_CONTROL_ERROR_REASON_MONITOR));
        emit(m, QV_DOMAIN_EVENT_ID_CONTROL_ERROR, 0, 0, json_object_get(ex));
    }
}

static void handle_events(monitor *m)
{
    qv_qmp_event *ev;
    while (m->qmp && (ev = qv_qmp_pop_event(m->qmp))) {
        handle_event(m, ev);
        qv_qmp_event_free(ev);
    }
}

static void handle_signals(monitor *m)
{
    struct signalfd_siginfo si;
    while (read(m->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            mlog("SIGHUP ignored");
            continue;
        }
        mlog("signal %u: no longer supervising; QEMU keeps running and the next call that "
             "finds it unsupervised starts a new supervisor", si.ssi_signo);
        m->leave = true;
    }
}

static void on_display_client(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    if (err)
        mlog("cannot hand a display client to QEMU (%s): %s", (const char *)opaque,
             qv_error_message(err));
}

/* A client on one of the display sockets: QEMU takes it over. */
static void accept_display_client(monitor *m, int lfd, const char *protocol)
{
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0)
        return;
    if (m->qmp && !m->qmp_lost && m->handshaken) {
        static const char fdname[] = "qvirt-display-client";
        json_object *a = json_object_new_object();
        json_object_object_add(a, "fdname", json_object_new_string(fdname));
        json_object *b = json_object_new_object();
        json_object_object_add(b, "protocol", json_object_new_string(protocol));
        json_object_object_add(b, "fdname", json_object_new_string(fdname));
        json_object_object_add(b, "skipauth", json_object_new_boolean(false));
        /* In order on one monitor: the second finds the fd the first gave. */
        qv_qmp_send_async(m->qmp, "getfd", a, cfd, 0, on_display_client, (void *)"getfd", NULL);
        qv_qmp_send_async(m->qmp, "add_client", b, -1, 0, on_display_client,
                          (void *)"add_client", NULL);
    }
    close(cfd);
}

static void listen_displays(monitor *m)
{
    for (guint i = 0; i < m->display_args->len && m->n_displays < QV_MONITOR_MAX_DISPLAYS; i++) {
        const char *arg = m->display_args->pdata[i];
        bool vnc = g_str_has_prefix(arg, "vnc:");
        g_autoptr(qv_error) err = NULL;
        int fd = qv_unix_listen(arg + (vnc ? 4 : 6), &err);
        if (fd < 0) {
            mlog("display socket: %s", qv_error_message(err));
            continue;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        m->display_protocols[m->n_displays] = vnc ? "vnc" : "spice";
        m->display_fds[m->n_displays++] = fd;
    }
}

/* One pass of the loop: wait for anything, then handle all of it. Returns
 * false once QEMU has ended (or the monitor is to leave). */
static bool run_once(monitor *m, int *exit_status)
{
    /* ours, the display sockets, the proxy's listening socket, its clients */
    struct pollfd pfd[5 + QV_MONITOR_MAX_DISPLAYS + 1 + 64];
    int n = 0;
    int qfd = qemu_fd(m);
    int qemu_idx = n;
    pfd[n++] = (struct pollfd){ .fd = qfd, .events = POLLIN };
    bool talking = m->qmp && !m->qmp_lost;
    if (talking) {
        /* In a burst of pauses and resumes (which whoever sent them
         * records) the events wait in the socket until the settle check,
         * instead of waking this process twice per pair on a machine
         * whose CPUs QEMU and the caller need. A proxied or own command in
         * flight still gets its reply at once, and a hang-up still wakes
         * us. */
        bool quiet = m->handshaken && m->state_dirty &&
                     (m->expect == EXPECT_RUNNING || m->expect == EXPECT_PAUSED) &&
                     !qv_qmp_is_busy(m->qmp) && g_get_monotonic_time() < m->refresh_at_us;
        pfd[n++] = (struct pollfd){ .fd = qv_qmp_get_fd(m->qmp),
                                    .events = quiet ? 0 : qv_qmp_get_poll_events(m->qmp) };
    }
    int owner_idx = -1, start_idx = -1, sig_idx = n;
    pfd[n++] = (struct pollfd){ .fd = m->signal_fd, .events = POLLIN };
    if (m->owner_pidfd >= 0) {
        owner_idx = n;
        pfd[n++] = (struct pollfd){ .fd = m->owner_pidfd, .events = POLLIN };
    }
    if (m->start_fd >= 0) {
        start_idx = n;
        pfd[n++] = (struct pollfd){ .fd = m->start_fd, .events = POLLIN };
    }
    int display_idx = n;
    for (int i = 0; i < m->n_displays; i++)
        pfd[n++] = (struct pollfd){ .fd = m->display_fds[i], .events = POLLIN };
    int proxy_idx = n;
    if (m->proxy)
        n += (int)qv_proxy_fill_pollfds(m->proxy, &pfd[n], G_N_ELEMENTS(pfd) - (size_t)n);

    int timeout = talking ? qv_qmp_get_timeout_ms(m->qmp) : -1;
    gint64 now = g_get_monotonic_time();
    if (qfd < 0 && (timeout < 0 || timeout > QV_MONITOR_EXIT_POLL_MS))
        timeout = QV_MONITOR_EXIT_POLL_MS;
    if (m->state_dirty && m->handshaken && talking) {
        gint64 wait_ms = MAX((m->refresh_at_us - now + 999) / 1000, 0);
        if (timeout < 0 || timeout > wait_ms)
            timeout = (int)wait_ms;
    }
    /* A qvirt-blockjob run ends within moments: look for it soon, so no
     * zombie waits for the next event. */
    if (m->helpers->len && (timeout < 0 || timeout > QV_MONITOR_EXIT_POLL_MS))
        timeout = QV_MONITOR_EXIT_POLL_MS;
    if (m->kill_at_us) {
        gint64 wait_ms = MAX((m->kill_at_us - now + 999) / 1000, 0);
        if (timeout < 0 || timeout > wait_ms)
            timeout = (int)wait_ms;
    }
    if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
        /* Nothing here is worth ending supervision for: QEMU still runs.
         * Try again a little later rather than spin. */
        mlog("poll failed: %s", g_strerror(errno));
        poll(NULL, 0, QV_MONITOR_EXIT_POLL_MS);
        return true;
    }

    if (pfd[sig_idx].revents & POLLIN) {
        handle_signals(m);
        if (m->leave)
            return false;
    }
    if (m->proxy)
        qv_proxy_dispatch(m->proxy, &pfd[proxy_idx], (size_t)(n - proxy_idx));
    for (int i = 0; i < m->n_displays; i++)
        if (pfd[display_idx + i].revents & POLLIN)
            accept_display_client(m, m->display_fds[i], m->display_protocols[i]);
    if (m->qmp && !m->qmp_lost) {
        g_autoptr(qv_error) qerr = NULL;
        if (qv_qmp_dispatch(m->qmp, &qerr) < 0)
            qmp_lost(m);
        if (!m->handshaken && m->handshake_result < 0 && !m->qmp_lost) {
            /* QEMU is running but its monitor never answered. */
            qemu_signal(m, SIGKILL);
            m->qmp_lost = true;
        }
        if (!m->handshaken && !m->qmp_lost && m->handshake_result == 1)
            handshake_done(m);
        handle_events(m);
        if (m->state_dirty && m->handshaken && g_get_monotonic_time() >= m->refresh_at_us)
            refresh_state(m);
    }
    if (start_idx >= 0 && m->start_fd >= 0 && (pfd[start_idx].revents & (POLLIN | POLLHUP | POLLERR)))
        starter_done(m);
    if (owner_idx >= 0 && (pfd[owner_idx].revents & (POLLIN | POLLHUP))) {
        close(m->owner_pidfd);
        m->owner_pidfd = -1;
        mlog("the autodestroy owner %d has exited", (int)m->status.owner_pid);
        kill_qemu(m, "destroyed");
    }
    if (m->helpers->len)
        reap_helpers(m);
    if (m->kill_at_us && g_get_monotonic_time() >= m->kill_at_us) {
        mlog("QEMU did not exit on SIGTERM; sending SIGKILL");
        qemu_signal(m, SIGKILL);
        m->kill_at_us = 0;
    }
    if ((qfd < 0 || (pfd[qemu_idx].revents & (POLLIN | POLLHUP))) && qemu_exited(m, exit_status) == 1) {
        /* The events QEMU sent before it went (SHUTDOWN). */
        if (m->qmp && !m->qmp_lost) {
            qv_qmp_dispatch(m->qmp, NULL);
            handle_events(m);
        }
        return false;
    }
    return true;
}

typedef struct monitor_args {
    int qmp_listen_fd;      /* QEMU's qmp.sock: passed to QEMU, closed here */
    int monitor_listen_fd;  /* QEMU's monitor.sock, likewise */
    int lane_fds[QV_RT_LANES];
    int n_lanes;
    GArray *file_fds;       /* the files QEMU gets as fds (-add-fd): passed on, closed here */
    uid_t qemu_uid;         /* who QEMU runs as ((uid_t)-1: as the monitor) */
    gid_t qemu_gid;
    GArray *qemu_groups;    /* gid_t */
    const char *dev_staging; /* QEMU's private /dev is set up here; NULL: the host's */
    GPtrArray *swtpms;      /* "VERSION:STATEFD:CHANNELFD": TPM emulators to start first */
    GPtrArray *qemu_devs;   /* names below /dev of the nodes it gets there */
    GPtrArray *qemu_env;    /* "NAME=VALUE" added to QEMU's clean environment */
    GPtrArray *qemu_dev_mounts; /* folders of the host's /dev bind-mounted into QEMU's */
    int lock_fd;            /* monitor.lock, held: kept for life */
} monitor_args;

static int parse_args(int argc, char **argv, monitor *m, monitor_args *a)
{
    enum { O_CONFIG = 1, O_RUN, O_NAME, O_UUID, O_QMP_LISTEN, O_MON_LISTEN, O_START, O_CTL,
           O_LANE, O_LOCK, O_ID, O_TRANSIENT, O_ON_POWEROFF, O_ON_REBOOT, O_ON_CRASH,
           O_OWNER_PID, O_OWNER_START, O_ATTACH, O_QEMU_FD, O_QEMU_UID, O_QEMU_GID,
           O_QEMU_GROUP, O_DEV_STAGING, O_QEMU_DEV, O_DISPLAY_SOCKET, O_SWTPM, O_QEMU_ENV,
           O_QEMU_DEV_MOUNT };
    static const struct option opts[] = {
        { "config-dir", required_argument, NULL, O_CONFIG },
        { "run-dir", required_argument, NULL, O_RUN },
        { "name", required_argument, NULL, O_NAME },
        { "uuid", required_argument, NULL, O_UUID },
        { "qmp-listen-fd", required_argument, NULL, O_QMP_LISTEN },
        { "monitor-listen-fd", required_argument, NULL, O_MON_LISTEN },
        { "start-fd", required_argument, NULL, O_START },
        { "ctl-fd", required_argument, NULL, O_CTL },
        { "lane-fd", required_argument, NULL, O_LANE },
        { "lock-fd", required_argument, NULL, O_LOCK },
        { "id", required_argument, NULL, O_ID },
        { "transient", no_argument, NULL, O_TRANSIENT },
        { "on-poweroff", required_argument, NULL, O_ON_POWEROFF },
        { "on-reboot", required_argument, NULL, O_ON_REBOOT },
        { "on-crash", required_argument, NULL, O_ON_CRASH },
        { "owner-pid", required_argument, NULL, O_OWNER_PID },
        { "owner-start", required_argument, NULL, O_OWNER_START },
        { "attach", no_argument, NULL, O_ATTACH },
        { "qemu-fd", required_argument, NULL, O_QEMU_FD },
        { "qemu-uid", required_argument, NULL, O_QEMU_UID },
        { "qemu-gid", required_argument, NULL, O_QEMU_GID },
        { "qemu-group", required_argument, NULL, O_QEMU_GROUP },
        { "dev-staging", required_argument, NULL, O_DEV_STAGING },
        { "qemu-dev", required_argument, NULL, O_QEMU_DEV },
        { "display-socket", required_argument, NULL, O_DISPLAY_SOCKET },
        { "swtpm", required_argument, NULL, O_SWTPM },
        { "qemu-env", required_argument, NULL, O_QEMU_ENV },
        { "qemu-dev-mount", required_argument, NULL, O_QEMU_DEV_MOUNT },
        { 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: m->paths.config_dir = optarg; break;
        case O_RUN: m->paths.run_dir = optarg; break;
        case O_NAME: m->name = optarg; break;
        case O_UUID: m->uuid = optarg; break;
        case O_QMP_LISTEN: a->qmp_listen_fd = atoi(optarg); break;
        case O_MON_LISTEN: a->monitor_listen_fd = atoi(optarg); break;
        case O_START: m->start_fd = atoi(optarg); break;
        case O_CTL: m->ctl_fd = atoi(optarg); break;
        case O_LANE:
            if (a->n_lanes == QV_RT_LANES) {
                fprintf(stderr, "qvirt-monitor: more than %d --lane-fd\n", QV_RT_LANES);
                return -1;
            }
            a->lane_fds[a->n_lanes++] = atoi(optarg);
            break;
        case O_LOCK: a->lock_fd = atoi(optarg); break;
        case O_ID: m->status.id = atoi(optarg); break;
        case O_TRANSIENT: m->status.transient = true; break;
        case O_ON_POWEROFF: m->status.on_poweroff = qv_rt_action_parse(optarg); break;
        case O_ON_REBOOT: m->status.on_reboot = qv_rt_action_parse(optarg); break;
        case O_ON_CRASH: m->status.on_crash = qv_rt_action_parse(optarg); break;
        case O_OWNER_PID: m->status.owner_pid = atoi(optarg); break;
        case O_OWNER_START: m->status.owner_start = strtoull(optarg, NULL, 10); break;
        case O_ATTACH: m->attach = true; break;
        case O_QEMU_FD: {
            int fd = atoi(optarg);
            g_array_append_val(a->file_fds, fd);
            break;
        }
        case O_QEMU_UID: a->qemu_uid = (uid_t)atol(optarg); break;
        case O_QEMU_GID: a->qemu_gid = (gid_t)atol(optarg); break;
        case O_DEV_STAGING: a->dev_staging = optarg; break;
        case O_QEMU_DEV: g_ptr_array_add(a->qemu_devs, optarg); break;
        case O_QEMU_DEV_MOUNT: g_ptr_array_add(a->qemu_dev_mounts, optarg); break;
        case O_SWTPM: g_ptr_array_add(a->swtpms, optarg); break;
        case O_QEMU_ENV:
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "qvirt-monitor: --qemu-env=NAME=VALUE\n");
                return -1;
            }
            g_ptr_array_add(a->qemu_env, optarg);
            break;
        case O_DISPLAY_SOCKET:
            if (m->display_args->len == QV_MONITOR_MAX_DISPLAYS ||
                (!g_str_has_prefix(optarg, "vnc:") && !g_str_has_prefix(optarg, "spice:"))) {
                fprintf(stderr, "qvirt-monitor: --display-socket=vnc:PATH or spice:PATH, at "
                        "most %d\n", QV_MONITOR_MAX_DISPLAYS);
                return -1;
            }
            g_ptr_array_add(m->display_args, optarg);
            break;
        case O_QEMU_GROUP: {
            gid_t g = (gid_t)atol(optarg);
            g_array_append_val(a->qemu_groups, g);
            break;
        }
        default:
            fprintf(stderr, "qvirt-monitor: invalid arguments\n");
            return -1;
        }
    }
    if (!m->paths.run_dir || !m->name || a->lock_fd < 0 ||
        (!m->attach && (optind >= argc || a->monitor_listen_fd < 0))) {
        fprintf(stderr, "usage: qvirt-monitor --run-dir DIR --name NAME --lock-fd N "
                        "(--attach | --monitor-listen-fd N [...] -- QEMU-ARGV...)\n");
        return -1;
    }
    return 0;
}

/* Connects to QEMU's supervisor monitor. A listening socket's backlog
 * takes the connection before QEMU accepts, so this works before QEMU
 * runs, with no retries. */
static int connect_qemu_monitor(monitor *m, qv_error **err)
{
    g_autofree char *path = g_build_filename(m->domain_dir, QV_RT_RUN_MONITOR_SOCK, NULL);
    qv_autoclose int fd = qv_unix_connect(path, err);
    if (fd < 0)
        return fd;
    int r = qv_qmp_new(fd, QV_QMP_MODE_QMP, &m->qmp, err);
    if (r < 0)
        return r;
    qv_steal_fd(&fd); /* the connection owns it now */
    return qv_qmp_handshake_async(m->qmp, QV_MONITOR_HANDSHAKE_MS, on_handshake, m, err);
}

static int write_status(monitor *m, qv_error **err)
{
    m->status.monitor_pid = getpid();
    m->status.monitor_start = qv_process_start_time(getpid());
    return qv_rt_status_write(m->status_path, &m->status, err);
}

/* status.json names QEMU before QEMU runs: a monitor killed at any point
 * leaves no QEMU that no file names. */
static int record_qemu(pid_t pid, void *opaque)
{
    monitor *m = opaque;
    m->status.qemu_pid = pid;
    m->status.qemu_start = qv_process_start_time(pid);
    m->status.started_us = qv_rt_now_us();
    g_autoptr(qv_error) err = NULL;
    int r = write_status(m, &err);
    if (r < 0)
        mlog("%s", qv_error_message(err));
    return r;
}

/* How QEMU and its helpers (swtpm) are launched: as QEMU's user, with no
 * capabilities, in the private /dev, their output in QEMU's log. */
static void confined_opts(qv_spawn_opts *so, const monitor_args *a, int log_fd)
{
    qv_spawn_opts_init(so);
    so->stdout_fd = log_fd;
    so->stderr_fd = log_fd;
    so->uid = a->qemu_uid;
    so->gid = a->qemu_gid;
    so->groups = (const gid_t *)(void *)a->qemu_groups->data;
    so->n_groups = a->qemu_groups->len;
    so->drop_caps = true;
    so->dev_staging = a->dev_staging;
}

/* Launches QEMU with its monitors' listening sockets and records it. */
static int launch_qemu(monitor *m, monitor_args *a, char **qemu_argv, qv_error **err)
{
    /* QEMU's output outlives the runtime dir, like libvirt's per-domain log. */
    g_autofree char *log_dir = qv_rt_log_dir(&m->paths);
    qv_rt_mkdirs(log_dir, NULL);
    m->qemu_log_path = qv_rt_log_path(&m->paths, m->name);
    qv_autoclose int log_fd = open(m->qemu_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    m->qemu_log_start = log_fd >= 0 ? lseek(log_fd, 0, SEEK_END) : 0;

    /* The nodes of QEMU's private /dev: the host's device numbers, owned
     * there by QEMU's user (the host's nodes keep their owners). */
    g_autoptr(GArray) devs = g_array_new(FALSE, TRUE, sizeof(qv_spawn_dev));
    for (guint i = 0; a->dev_staging && i < a->qemu_devs->len; i++) {
        const char *name = a->qemu_devs->pdata[i];
        g_autofree char *host = g_build_filename("/dev", name, NULL);
        struct stat st;
        if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode))
            return qv_error_set_errno(err, stat(host, &st) < 0 ? -errno : -ENODEV,
                                      "QEMU needs the device %s, which this host does not have "
                                      "as a character device", host);
        qv_spawn_dev d = { .name = name, .rdev = st.st_rdev, .mode = 0600,
                           .uid = a->qemu_uid != (uid_t)-1 ? a->qemu_uid : st.st_uid,
                           .gid = a->qemu_uid != (uid_t)-1 ? a->qemu_gid : st.st_gid };
        g_array_append_val(devs, d);
    }
    for (guint i = 0; a->dev_staging && i < a->qemu_dev_mounts->len; i++) {
        g_autofree char *host = g_build_filename("/dev", (const char *)a->qemu_dev_mounts->pdata[i], NULL);
        if (!g_file_test(host, G_FILE_TEST_IS_DIR))
            return qv_error_set(err, -ENOENT, "QEMU puts guest memory on %s, which is not mounted on "
                                "this host (a hugetlbfs of that page size)", host);
    }
    /* QEMU and its helpers run in the domain's emulator group from their
     * first instruction (clone3 CLONE_INTO_CGROUP where the kernel has it). */
    g_auto(qv_vmcg) cg = { 0 };
    qv_autoclose int emulator_cg = -1;
    if (qv_vmcg_read(m->domain_dir, &cg) < 0)
        return qv_error_set(err, -EINVAL, "the run's cgroup record is damaged");
    if (cg.mount) {
        int rr = qv_vmcg_open(&cg, QV_VMCG_EMULATOR, false, &emulator_cg, err);
        if (rr < 0)
            return rr;
    }
    int r = connect_qemu_monitor(m, err);
    /* TPM emulators first: QEMU asks them at once. Each runs as QEMU does,
     * reaches its state through its own fd and ends when QEMU has gone. */
    for (guint i = 0; r >= 0 && i < a->swtpms->len; i++) {
        /* VERSION:STATEFD:CHANNELFD, and for an encrypted state
         * :KEYFD:MIGRATIONKEYFD (the passphrase, one fd per option). */
        g_auto(GStrv) f = g_strsplit(a->swtpms->pdata[i], ":", 5);
        guint nf = g_strv_length(f);
        if (nf != 3 && nf != 5) {
            r = qv_error_set(err, -EINVAL, "bad --swtpm %s", (const char *)a->swtpms->pdata[i]);
            break;
        }
        int fds[4] = { atoi(f[1]), atoi(f[2]), nf == 5 ? atoi(f[3]) : -1, nf == 5 ? atoi(f[4]) : -1 };
        g_autofree char *state = g_strdup_printf("dir=/proc/self/fd/%d,mode=0600", fds[0]);
        g_autofree char *ctrl = g_strdup_printf("type=unixio,clientfd=%d", fds[1]);
        /* libvirt 9.0's options: a key derived from the passphrase, for
         * the state and for the state migrated. */
        g_autofree char *key = g_strdup_printf("pwdfd=%d,mode=aes-256-cbc", fds[2]);
        g_autofree char *migkey = g_strdup_printf("pwdfd=%d,mode=aes-256-cbc", fds[3]);
        const char *argv[13] = { "swtpm", "socket", "--tpmstate", state, "--ctrl", ctrl, "--terminate" };
        size_t n = 7;
        if (strcmp(f[0], "1.2"))
            argv[n++] = "--tpm2";
        if (nf == 5) {
            argv[n++] = "--key";
            argv[n++] = key;
            argv[n++] = "--migration-key";
            argv[n++] = migkey;
        }
        argv[n] = NULL;
        qv_spawn_opts so;
        confined_opts(&so, a, log_fd);
        so.cgroup_fd = emulator_cg;
        so.argv = argv;
        so.pass_fds = fds;
        so.n_pass_fds = nf == 5 ? 4 : 2;
        qv_process *p = NULL;
        if ((r = qv_process_spawn(&so, &p, err)) >= 0) {
            mlog("swtpm started as pid %d%s", (int)qv_process_pid(p), nf == 5 ? ", its state encrypted" : "");
            qv_process_free(p); /* it ends with QEMU (--terminate); init reaps it */
        }
        for (guint k = 0; k < so.n_pass_fds; k++)
            close(fds[k]);
    }
    if (r >= 0) {
        qv_spawn_opts so;
        confined_opts(&so, a, log_fd);
        so.cgroup_fd = emulator_cg;
        so.argv = (const char *const *)qemu_argv;
        /* The clean environment, plus the domain's (TZ, SDL_AUDIODRIVER,
         * <qemu:env>); a later NAME wins. */
        g_ptr_array_add(a->qemu_env, NULL);
        so.env_add = (const char *const *)a->qemu_env->pdata;
        for (char **arg = qemu_argv; *arg && !m->has_balloon; arg++)
            m->has_balloon = strstr(*arg, "virtio-balloon") != NULL;
        g_autoptr(GArray) pass = g_array_new(FALSE, FALSE, sizeof(int));
        if (a->qmp_listen_fd >= 0)
            g_array_append_val(pass, a->qmp_listen_fd);
        g_array_append_val(pass, a->monitor_listen_fd);
        g_array_append_vals(pass, a->lane_fds, (guint)a->n_lanes);
        g_array_append_vals(pass, a->file_fds->data, a->file_fds->len);
        so.pass_fds = (const int *)(void *)pass->data;
        so.n_pass_fds = pass->len;
        so.devs = (const qv_spawn_dev *)(void *)devs->data;
        so.n_devs = devs->len;
        g_ptr_array_add(a->qemu_dev_mounts, NULL);
        so.dev_mounts = (const char *const *)a->qemu_dev_mounts->pdata;
        so.before_exec = record_qemu;
        so.before_exec_data = m;
        r = qv_process_spawn(&so, &m->qemu, err);
    }
    /* QEMU holds the listening sockets now; the monitor needs none. */
    qv_closep(&a->qmp_listen_fd);
    qv_closep(&a->monitor_listen_fd);
    for (int i = 0; i < a->n_lanes; i++)
        qv_closep(&a->lane_fds[i]);
    for (guint i = 0; i < a->file_fds->len; i++)
        close(g_array_index(a->file_fds, int, i));
    g_array_set_size(a->file_fds, 0);
    if (r < 0)
        return r;
    mlog("QEMU started as pid %d", (int)m->status.qemu_pid);
    return 0;
}

/* Takes over a running QEMU whose supervisor died. */
static int attach_qemu(monitor *m, qv_error **err)
{
    int r = qv_rt_status_read(m->status_path, &m->status, err);
    if (r < 0)
        return r;
    if (!qv_rt_pid_alive(m->status.qemu_pid, m->status.qemu_start))
        return qv_error_set(err, -ESRCH, "QEMU (pid %d) is no longer running",
                            (int)m->status.qemu_pid);
    m->qemu_pidfd = pidfd_open_compat(m->status.qemu_pid);
    g_autofree char *ctl = g_build_filename(m->domain_dir, QV_RT_RUN_CTL_SOCK, NULL);
    if ((m->ctl_fd = qv_unix_listen(ctl, err)) < 0)
        return m->ctl_fd;
    if ((r = connect_qemu_monitor(m, err)) < 0)
        return r;
    /* The balloon may have moved while nobody watched: unknown until
     * asked again, before this run is announced as watched. */
    m->has_balloon = true;
    record_balloon(m, 0);
    if ((r = write_status(m, err)) < 0)
        return r;
    mlog("attached to QEMU pid %d", (int)m->status.qemu_pid);
    if (qv_rt_starter_check(m->domain_dir) == QV_RT_STARTER_GONE) {
        mlog("the start of this run was abandoned half-way");
        kill_qemu(m, "failed");
    }
    return 0;
}

static int block_signals(monitor *m)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    m->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return m->signal_fd;
}

static void watch_owner(monitor *m)
{
    if (m->status.owner_pid <= 0)
        return;
    m->owner_pidfd = pidfd_open_compat(m->status.owner_pid);
    if (m->owner_pidfd >= 0 && !qv_rt_pid_alive(m->status.owner_pid, m->status.owner_start)) {
        close(m->owner_pidfd);
        m->owner_pidfd = -1;
        kill_qemu(m, "destroyed");
    }
}

int main(int argc, char **argv)
{
    monitor m = { .owner_pidfd = -1, .qemu_pidfd = -1, .refresh_lock = -1, .start_fd = -1,
                  .ctl_fd = -1, .signal_fd = -1, .emit = QV_RT_JOURNAL_WRITER_INIT,
                  .status.on_reboot = QV_RT_ACTION_RESTART };
    g_autoptr(GArray) file_fds = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GArray) qemu_groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
    g_autoptr(GPtrArray) qemu_devs = g_ptr_array_new();
    g_autoptr(GPtrArray) swtpms = g_ptr_array_new();
    g_autoptr(GPtrArray) qemu_env = g_ptr_array_new();
    g_autoptr(GPtrArray) qemu_dev_mounts = g_ptr_array_new();
    g_autoptr(GPtrArray) display_args = g_ptr_array_new();
    m.display_args = display_args;
    g_autoptr(GPtrArray) helpers = g_ptr_array_new_with_free_func((GDestroyNotify)qv_process_free);
    m.helpers = helpers;
    monitor_args a = { .qmp_listen_fd = -1, .monitor_listen_fd = -1, .lock_fd = -1,
                       .file_fds = file_fds, .qemu_uid = (uid_t)-1, .qemu_gid = (gid_t)-1,
                       .qemu_groups = qemu_groups, .qemu_devs = qemu_devs, .swtpms = swtpms,
                       .qemu_env = qemu_env, .qemu_dev_mounts = qemu_dev_mounts };
    if (parse_args(argc, argv, &m, &a) < 0)
        return 2;
    m.status.autodestroy = m.status.owner_pid > 0;

    /* Detach: the library reaps this first process at once, and the monitor
     * (reparented to init or a subreaper) outlives the caller. */
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child > 0)
        _exit(0);
    setsid();
    signal(SIGPIPE, SIG_IGN);

    /* Every file of the run is reached through a directory fd held for
     * life: once this run is over and a new one has the same name, a late
     * write of ours (a stopping marker, status.json) still lands in our own
     * (by then removed) dir, never in the new run's. */
    g_autofree char *real_dir = qv_rt_domain_dir(&m.paths, m.name);
    int dir_fd = open(real_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        fprintf(stderr, "qvirt-monitor: cannot open %s: %s\n", real_dir, g_strerror(errno));
        return 1;
    }
    m.domain_dir = g_strdup_printf("/proc/self/fd/%d", dir_fd);
    m.state_path = g_build_filename(m.domain_dir, QV_RT_RUN_STATE, NULL);
    m.status_path = g_build_filename(m.domain_dir, QV_RT_RUN_STATUS, NULL);
    m.lock_path = g_build_filename(m.domain_dir, QV_RT_RUN_QMP_LOCK, NULL);

    qv_rt_run_id_read(m.domain_dir, m.status.run_id);
    g_autoptr(qv_error) err = NULL;
    int r = m.attach ? attach_qemu(&m, &err) : launch_qemu(&m, &a, &argv[optind], &err);
    if (r >= 0 && block_signals(&m) < 0)
        r = qv_error_set_errno(&err, -errno, "cannot create a signalfd");
    if (r >= 0)
        listen_displays(&m);
    if (r < 0) {
        mlog("%s", qv_error_message(err));
        report_error(&m, qv_error_code(err), qv_error_message(err));
        if (m.qemu) {
            qemu_signal(&m, SIGKILL);
            qv_process_wait(m.qemu, -1, NULL, NULL);
        }
        if (!m.attach)
            abandon_run(&m);
        return 1;
    }
    watch_owner(&m);

    int exit_status = 0;
    while (run_once(&m, &exit_status)) {
    }

    if (m.leave) {
        qv_qmp_free(m.qmp);
        qv_proxy_free(m.proxy);
        return 0;
    }
    if (!m.handshaken && !m.attach) {
        report_early_exit(&m, exit_status);
        abandon_run(&m);
        return 1;
    }
    finalize(&m);
    qv_qmp_free(m.qmp); /* cancels proxied commands: their clients hear why */
    qv_proxy_free(m.proxy);
    qv_process_free(m.qemu);
    (void)a.lock_fd; /* held until exit */
    return 0;
}
