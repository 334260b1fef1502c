/* qvirt-monitor: the small per-domain supervisor that is QEMU's parent
 * (conmon for containers, qmeventd for Proxmox are the models).
 *
 * The library starts it through the one launcher; it detaches (double fork),
 * launches QEMU, holds an event-only QMP connection on a socketpair and:
 *   - reports "QEMU is up" (or why it is not) on a status pipe, so the start
 *     path never polls or retries;
 *   - appends QEMU's events to the connection's journal, which library
 *     clients in any process tail;
 *   - keeps the state word true after events QEMU raises on its own (I/O error
 *     pauses, guest panics, power management);
 *   - destroys the domain when an autodestroy owner dies;
 *   - records how QEMU ended (shut down, destroyed, crashed) and removes the
 *     runtime dir, even when no library process is running.
 * Commands from library clients go through QEMU's second (command) monitor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qvirt/qvirt.h"
#include "qmp.h"
#include "monitor-proxy.h"
#include "qv-process.h"
#include "runtime.h"

/* How long after a STOP or RESUME event the monitor checks the state. */
#define QV_MONITOR_SETTLE_US (20 * 1000)

typedef struct monitor {
    qv_rt_paths paths;
    char *name;
    char *uuid;
    char *domain_dir;
    char *state_path;
    qv_rt_statemap *smap;  /* the run's state word, mapped once */
    qv_rt_journal_writer emit;
    char *lock_path;
    int on_poweroff;       /* 0 destroy, 1 restart, 2 preserve */
    int on_reboot;
    int on_crash;
    pid_t owner_pid;
    unsigned long long owner_start;
    int owner_pidfd;
    qv_process *qemu;
    qv_qmp *qmp;
    bool qmp_lost;
    bool saw_shutdown;
    bool shutdown_guest;
    char *shutdown_reason;
    bool panicked;
    bool state_dirty;
    /* What the events since the last refresh imply: 0 nothing known,
     * 1 running, 2 paused, 3 ask QEMU (I/O error, watchdog, guest PM...). */
    int expect;
    qv_proxy *proxy;
    /* refresh_state found qmp.lock busy: try again after this long. */
    int lock_retry_ms;
    /* When refresh_state is to run next (monotonic us). */
    gint64 refresh_at_us;
} monitor;

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static void status_report(int fd, json_object *obj)
{
    if (fd < 0)
        return;
    size_t len;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    ssize_t n = write(fd, s, len);
    (void)n;
    close(fd);
}

/* The last few lines QEMU printed, for start failures. */
static char *log_tail(const char *path, off_t from)
{
    g_autofree char *all = NULL;
    size_t len = 0;
    if (qv_rt_read_file(path, 16 << 20, &all, &len, NULL) < 0 || len <= (size_t)from)
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
    m->expect = 3;
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
static bool state_as_expected(monitor *m, int expect)
{
    qv_rt_state cur;
    return (expect == 1 || expect == 2) && read_state(m, &cur) &&
           cur.state == (expect == 1 ? QV_DOMAIN_RUNNING : QV_DOMAIN_PAUSED);
}

/* Learns the run state from QEMU and writes it, holding qmp.lock: library
 * processes hold it from before a stop or cont until they have written
 * its state. The monitor never waits for the lock, because such a process
 * may be waiting for a reply this loop forwards (the proxy); when the lock
 * is busy it tries again on a later pass (lock_retry_ms). */
static void refresh_state(monitor *m)
{
    if (!m->qmp || m->qmp_lost) {
        m->state_dirty = false;
        m->expect = 0;
        return;
    }
    int expect = m->expect;
    if (state_as_expected(m, expect)) {
        m->state_dirty = false;
        m->expect = 0;
        return;
    }
    int lock = qv_rt_lock(m->lock_path, 0, NULL);
    if (lock == -EWOULDBLOCK) {
        m->lock_retry_ms = m->lock_retry_ms ? MIN(m->lock_retry_ms * 2, 64) : 1;
        m->refresh_at_us = g_get_monotonic_time() + m->lock_retry_ms * 1000;
        return;
    }
    m->lock_retry_ms = 0;
    m->state_dirty = false;
    m->expect = 0;
    if (state_as_expected(m, expect)) {
        qv_rt_unlock(lock);
        return;
    }
    g_autoptr(json_object) ret = NULL;
    int r = qv_qmp_call(m->qmp, "query-status", NULL, 5000, &ret, NULL);
    if (r < 0 || !ret) {
        qv_rt_unlock(lock);
        return;
    }
    json_object *st;
    const char *rs = json_object_object_get_ex(ret, "status", &st) ? json_object_get_string(st) : "";
    qv_rt_state prev = { 0 }, next;
    bool have_prev = read_state(m, &prev);
    qv_rt_state_from_runstate(rs, have_prev ? &prev : NULL, &next);
    if (next.state == QV_DOMAIN_NOSTATE || (have_prev && next.state == prev.state)) {
        qv_rt_unlock(lock);
        return;
    }
    if (next.state == QV_DOMAIN_CRASHED && !m->panicked) {
        /* guest-panicked is only reached through GUEST_PANICKED. */
        m->panicked = true;
    }
    if (!m->smap || qv_rt_statemap_store(m->smap, &next) < 0) {
        qv_rt_unlock(lock);
        return;
    }
    qv_rt_unlock(lock);
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
        emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_CRASHED,
             QV_DOMAIN_EVENT_CRASHED_PANICKED, NULL);
        break;
    default:
        break;
    }
}

static const char *jstr(json_object *data, const char *key)
{
    json_object *v;
    if (data && json_object_object_get_ex(data, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
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

static void kill_qemu(monitor *m, const char *why)
{
    g_autofree char *stopping = g_build_filename(m->domain_dir, "stopping", NULL);
    qv_rt_write_runtime(stopping, why, strlen(why), NULL);
    qv_process_signal(m->qemu, SIGTERM, NULL);
}

/* QEMU runs with -no-shutdown: a guest poweroff stops the VM and the
 * on_poweroff / on_reboot policy (or a pending "fake reboot") decides. */
static void guest_powered_off(monitor *m)
{
    g_autofree char *marker = g_build_filename(m->domain_dir, "reboot", NULL);
    bool fake_reboot = unlink(marker) == 0;
    bool guest_reset = m->shutdown_reason && !strcmp(m->shutdown_reason, "guest-reset");
    int action = guest_reset ? m->on_reboot : m->on_poweroff;
    if (fake_reboot)
        action = 1;
    if (action == 1) {
        m->saw_shutdown = false;
        qv_qmp_call(m->qmp, "system_reset", NULL, 5000, NULL, NULL);
        qv_qmp_call(m->qmp, "cont", NULL, 5000, NULL, NULL);
        return;
    }
    if (action == 0)
        qv_qmp_call(m->qmp, "quit", NULL, 5000, NULL, NULL);
    /* preserve: QEMU stays, stopped in its shutdown state. */
}

static void handle_event(monitor *m, const qv_qmp_event *ev)
{
    const char *n = ev->name;
    json_object *data = ev->data;
    json_object *extra = extra_with_qemu(ev);

    if (!strcmp(n, "STOP") || !strcmp(n, "RESUME")) {
        /* Whoever paused or resumed the guest through the library records
         * the state itself: look once things have settled, so a burst of
         * pauses and resumes costs one check, not a lock race per event. */
        if (!m->state_dirty)
            m->refresh_at_us = g_get_monotonic_time() + QV_MONITOR_SETTLE_US;
        m->state_dirty = true;
        if (m->expect != 3)
            m->expect = !strcmp(n, "STOP") ? 2 : 1;
        json_object_put(extra);
    } else if (!strcmp(n, "SHUTDOWN")) {
        json_object *g;
        m->saw_shutdown = true;
        m->shutdown_guest = data && json_object_object_get_ex(data, "guest", &g) &&
                            json_object_get_boolean(g);
        g_free(m->shutdown_reason);
        m->shutdown_reason = g_strdup(jstr(data, "reason"));
        g_autofree char *marker = g_build_filename(m->domain_dir, "reboot", NULL);
        if (m->shutdown_guest && g_file_test(marker, G_FILE_TEST_EXISTS))
            json_object_put(extra); /* the poweroff half of a reboot: not a shutdown */
        else
            emit(m, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SHUTDOWN,
                 m->shutdown_guest ? QV_DOMAIN_EVENT_SHUTDOWN_GUEST : QV_DOMAIN_EVENT_SHUTDOWN_HOST,
                 extra);
        if (m->shutdown_guest)
            guest_powered_off(m);
    } else if (!strcmp(n, "RESET")) {
        emit(m, QV_DOMAIN_EVENT_ID_REBOOT, 0, 0, extra);
    } else if (!strcmp(n, "RTC_CHANGE")) {
        json_object *off;
        if (data && json_object_object_get_ex(data, "offset", &off))
            json_object_object_add(extra, "offset", json_object_get(off));
        emit(m, QV_DOMAIN_EVENT_ID_RTC_CHANGE, 0, 0, extra);
    } else if (!strcmp(n, "WATCHDOG")) {
        int action = watchdog_action(jstr(data, "action"));
        json_object_object_add(extra, "action", json_object_new_int(action));
        emit(m, QV_DOMAIN_EVENT_ID_WATCHDOG, action, 0, extra);
        ask_qemu_now(m);
    } else if (!strcmp(n, "BLOCK_IO_ERROR")) {
        const char *action = jstr(data, "action");
        int act = action && !strcmp(action, "stop") ? QV_DOMAIN_EVENT_IO_ERROR_PAUSE
                : action && !strcmp(action, "report") ? QV_DOMAIN_EVENT_IO_ERROR_REPORT
                : QV_DOMAIN_EVENT_IO_ERROR_NONE;
        const char *dev = jstr(data, "device");
        if (!dev || !*dev)
            dev = jstr(data, "node-name");
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
        int status = !strcmp(n, "BLOCK_JOB_COMPLETED") ? (jstr(data, "error") ? QV_DOMAIN_BLOCK_JOB_FAILED : QV_DOMAIN_BLOCK_JOB_COMPLETED)
                   : !strcmp(n, "BLOCK_JOB_CANCELLED") ? QV_DOMAIN_BLOCK_JOB_CANCELED
                   : !strcmp(n, "BLOCK_JOB_READY") ? QV_DOMAIN_BLOCK_JOB_READY
                   : QV_DOMAIN_BLOCK_JOB_FAILED;
        const char *dev = jstr(data, "device");
        json_object_object_add(extra, "disk", json_object_new_string(dev ? dev : ""));
        json_object_object_add(extra, "type", json_object_new_string(jstr(data, "type") ? jstr(data, "type") : ""));
        json_object_object_add(extra, "status", json_object_new_int(status));
        emit(m, QV_DOMAIN_EVENT_ID_BLOCK_JOB, status, 0, json_object_get(extra));
        emit(m, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2, status, 0, extra);
    } else if (!strcmp(n, "DEVICE_TRAY_MOVED")) {
        json_object *open;
        bool is_open = data && json_object_object_get_ex(data, "tray-open", &open) &&
                       json_object_get_boolean(open);
        const char *dev = jstr(data, "device");
        if (!dev || !*dev)
            dev = jstr(data, "id");
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
        emit(m, QV_DOMAIN_EVENT_ID_BALLOON_CHANGE, 0, 0, extra);
    } else if (!strcmp(n, "DEVICE_DELETED")) {
        const char *dev = jstr(data, "device");
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
        if (m->on_crash == 1) {
            qv_qmp_call(m->qmp, "system_reset", NULL, 5000, NULL, NULL);
            qv_qmp_call(m->qmp, "cont", NULL, 5000, NULL, NULL);
        } else if (m->on_crash == 0) {
            kill_qemu(m, "crashed");
        } else {
            ask_qemu_now(m);
        }
    } else {
        json_object_put(extra);
    }
}

/* Works out how QEMU ended, records it and removes the runtime dir. */
static void finalize(monitor *m, int status)
{
    g_autofree char *stopping_path = g_build_filename(m->domain_dir, "stopping", NULL);
    g_autofree char *stopping = NULL;
    qv_rt_read_file(stopping_path, 4096, &stopping, NULL, NULL);
    int reason, detail;
    if (stopping && !strcmp(stopping, "failed")) {
        reason = QV_DOMAIN_SHUTOFF_FAILED;
        detail = QV_DOMAIN_EVENT_STOPPED_FAILED;
    } else if (stopping && !strcmp(stopping, "crashed")) {
        reason = QV_DOMAIN_SHUTOFF_CRASHED;
        detail = QV_DOMAIN_EVENT_STOPPED_CRASHED;
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
    (void)status;
    qv_rt_finalize_stop(&m->paths, m->name, m->uuid, reason, detail, NULL);
}

static void on_handshake(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    int *result = opaque;
    *result = err ? -1 : 1;
}

static int parse_action(const char *s)
{
    if (!s || !strcmp(s, "destroy"))
        return 0;
    if (!strcmp(s, "restart"))
        return 1;
    return 2;
}

int main(int argc, char **argv)
{
    monitor m = { .owner_pidfd = -1, .on_reboot = 1, .emit = QV_RT_JOURNAL_WRITER_INIT };
    int qmp_listen_fd = -1, event_qemu_fd = -1, event_fd = -1, status_fd = -1, ctl_fd = -1;
    int lane_fds[QV_RT_LANES] = { 0 };
    int n_lanes = 0;
    enum { O_CONFIG = 1, O_RUN, O_NAME, O_UUID, O_QMP_LISTEN, O_EVQ, O_EV, O_STATUS,
           O_ON_POWEROFF, O_ON_REBOOT, O_ON_CRASH, O_OWNER_PID, O_OWNER_START, O_CTL, O_LANE };
    static const struct option opts[] = {
        { "config-dir", required_argument, NULL, O_CONFIG },
        { "run-dir", required_argument, NULL, O_RUN },
        { "name", required_argument, NULL, O_NAME },
        { "uuid", required_argument, NULL, O_UUID },
        { "qmp-listen-fd", required_argument, NULL, O_QMP_LISTEN },
        { "event-qemu-fd", required_argument, NULL, O_EVQ },
        { "event-fd", required_argument, NULL, O_EV },
        { "status-fd", required_argument, NULL, O_STATUS },
        { "ctl-fd", required_argument, NULL, O_CTL },
        { "lane-fd", required_argument, NULL, O_LANE },
        { "on-poweroff", required_argument, NULL, O_ON_POWEROFF },
        { "on-reboot", required_argument, NULL, O_ON_REBOOT },
        { "on-crash", required_argument, NULL, O_ON_CRASH },
        { "owner-pid", required_argument, NULL, O_OWNER_PID },
        { "owner-start", required_argument, NULL, O_OWNER_START },
        { 0 }
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: m.paths.config_dir = optarg; break;
        case O_RUN: m.paths.run_dir = optarg; break;
        case O_NAME: m.name = optarg; break;
        case O_UUID: m.uuid = optarg; break;
        case O_QMP_LISTEN: qmp_listen_fd = atoi(optarg); break;
        case O_EVQ: event_qemu_fd = atoi(optarg); break;
        case O_EV: event_fd = atoi(optarg); break;
        case O_STATUS: status_fd = atoi(optarg); break;
        case O_CTL: ctl_fd = atoi(optarg); break;
        case O_LANE:
            if (n_lanes == QV_RT_LANES) {
                fprintf(stderr, "qvirt-monitor: more than %d --lane-fd\n", QV_RT_LANES);
                return 2;
            }
            lane_fds[n_lanes++] = atoi(optarg);
            break;
        case O_ON_POWEROFF: m.on_poweroff = parse_action(optarg); break;
        case O_ON_REBOOT: m.on_reboot = parse_action(optarg); break;
        case O_ON_CRASH: m.on_crash = parse_action(optarg); break;
        case O_OWNER_PID: m.owner_pid = atoi(optarg); break;
        case O_OWNER_START: m.owner_start = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "qvirt-monitor: invalid arguments\n");
            return 2;
        }
    }
    if (!m.paths.run_dir || !m.name || optind >= argc || event_fd < 0 || event_qemu_fd < 0) {
        fprintf(stderr, "usage: qvirt-monitor --run-dir DIR --name NAME --event-fd N "
                        "--event-qemu-fd N [...] -- QEMU-ARGV...\n");
        return 2;
    }

    /* Detach: the library reaps this first process at once, and the monitor
     * (reparented to init or a subreaper) outlives the caller. */
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child > 0)
        _exit(0);
    setsid();
    signal(SIGPIPE, SIG_IGN);

    m.domain_dir = qv_rt_domain_dir(&m.paths, m.name);
    m.state_path = g_build_filename(m.domain_dir, "state", NULL);
    m.lock_path = g_build_filename(m.domain_dir, "qmp.lock", NULL);
    /* QEMU's output outlives the runtime dir, like libvirt's per-domain log. */
    g_autofree char *log_dir = g_build_filename(m.paths.run_dir, "logs", NULL);
    qv_rt_mkdirs(log_dir, NULL);
    g_autofree char *log_name = g_strdup_printf("%s.log", m.name);
    g_autofree char *log_path = g_build_filename(log_dir, log_name, NULL);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    off_t log_start = log_fd >= 0 ? lseek(log_fd, 0, SEEK_END) : 0;

    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = (const char *const *)&argv[optind];
    /* QEMU gets its monitors' sockets: the event connection, the command
     * monitor's and the lanes' listening sockets. */
    int pass[2 + QV_RT_LANES];
    size_t npass = 0;
    if (qmp_listen_fd >= 0)
        pass[npass++] = qmp_listen_fd;
    pass[npass++] = event_qemu_fd;
    for (int i = 0; i < n_lanes; i++)
        pass[npass++] = lane_fds[i];
    so.pass_fds = pass;
    so.n_pass_fds = npass;
    so.stdout_fd = log_fd;
    so.stderr_fd = log_fd;
    g_autoptr(qv_error) err = NULL;
    if (qv_process_spawn(&so, &m.qemu, &err) < 0) {
        g_autoptr(json_object) o = json_object_new_object();
        json_object_object_add(o, "code", json_object_new_int(qv_error_code(err)));
        json_object_object_add(o, "error", json_object_new_string(qv_error_message(err)));
        status_report(status_fd, o);
        qv_rt_remove_run_dir(m.domain_dir);
        return 1;
    }
    close(event_qemu_fd);
    for (int i = 0; i < n_lanes; i++)
        close(lane_fds[i]);
    if (log_fd >= 0)
        close(log_fd);

    if (m.owner_pid > 0) {
        m.owner_pidfd = pidfd_open_compat(m.owner_pid);
        if (m.owner_pidfd >= 0 && !qv_rt_pid_alive(m.owner_pid, m.owner_start)) {
            close(m.owner_pidfd);
            m.owner_pidfd = -1;
            kill_qemu(&m, "destroyed");
        }
    }

    if (qv_qmp_new(event_fd, QV_QMP_MODE_QMP, &m.qmp, NULL) < 0)
        m.qmp_lost = true;
    bool handshaken = false;
    int handshake_result = 0;
    if (m.qmp && qv_qmp_handshake_async(m.qmp, 60000, on_handshake, &handshake_result, NULL) < 0)
        m.qmp_lost = true;

    int exit_status = 0;
    for (;;) {
        struct pollfd pfd[4 + 64];
        int n = 0;
        int qfd = qv_process_get_fd(m.qemu);
        pfd[n++] = (struct pollfd){ .fd = qfd, .events = POLLIN };
        int qmp_idx = -1, owner_idx = -1;
        if (m.qmp && !m.qmp_lost) {
            /* In a burst of pauses and resumes (which whoever sent them
             * records) the events wait in the socket until the settle
             * check, instead of waking this process twice per pair on a
             * machine whose CPUs QEMU and the caller need. A proxied
             * command in flight still gets its reply at once, and a hang-up
             * still wakes us. */
            bool quiet = handshaken && m.state_dirty && (m.expect == 1 || m.expect == 2) &&
                         !qv_qmp_is_busy(m.qmp) && g_get_monotonic_time() < m.refresh_at_us;
            qmp_idx = n;
            pfd[n++] = (struct pollfd){ .fd = qv_qmp_get_fd(m.qmp),
                                        .events = quiet ? 0 : qv_qmp_get_poll_events(m.qmp) };
        }
        if (m.owner_pidfd >= 0) {
            owner_idx = n;
            pfd[n++] = (struct pollfd){ .fd = m.owner_pidfd, .events = POLLIN };
        }
        int proxy_idx = n;
        if (m.proxy)
            n += (int)qv_proxy_fill_pollfds(m.proxy, &pfd[n], G_N_ELEMENTS(pfd) - (size_t)n);
        int timeout = m.qmp && !m.qmp_lost ? qv_qmp_get_timeout_ms(m.qmp) : -1;
        if (qfd < 0 && (timeout < 0 || timeout > 100))
            timeout = 100; /* no pidfd (pre-5.3 kernel): poll for the exit */
        if (m.state_dirty && handshaken && m.qmp && !m.qmp_lost) {
            gint64 wait_ms = (m.refresh_at_us - g_get_monotonic_time() + 999) / 1000;
            if (wait_ms < 0)
                wait_ms = 0;
            if (timeout < 0 || timeout > wait_ms)
                timeout = (int)wait_ms;
        }
        int r = poll(pfd, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR)
            break;

        if (m.proxy)
            qv_proxy_dispatch(m.proxy, &pfd[proxy_idx], (size_t)(n - proxy_idx));
        if (m.qmp && !m.qmp_lost) {
            g_autoptr(qv_error) qerr = NULL;
            if (qv_qmp_dispatch(m.qmp, &qerr) < 0) {
                m.qmp_lost = true;
                if (m.proxy)
                    qv_proxy_set_lost(m.proxy);
                if (!handshaken) {
                    /* QEMU died or refused to talk before it was up: report
                     * after reaping it below. */
                } else {
                    g_autoptr(json_object) ex = json_object_new_object();
                    json_object_object_add(ex, "reason", json_object_new_int(QV_DOMAIN_CONTROL_ERROR_REASON_MONITOR));
                    emit(&m, QV_DOMAIN_EVENT_ID_CONTROL_ERROR, 0, 0, json_object_get(ex));
                }
            }
            if (!handshaken && handshake_result < 0 && qv_process_try_wait(m.qemu, NULL, NULL) == 0) {
                /* QEMU is running but its monitor never answered. */
                qv_process_signal(m.qemu, SIGKILL, NULL);
                m.qmp_lost = true;
            }
            if (!handshaken && !m.qmp_lost && handshake_result == 1) {
                handshaken = true;
                if (ctl_fd >= 0) {
                    m.proxy = qv_proxy_new(ctl_fd, m.qmp);
                    ctl_fd = -1;
                }
                g_autoptr(json_object) o = json_object_new_object();
                json_object_object_add(o, "qemu_pid", json_object_new_int64(qv_process_pid(m.qemu)));
                json_object_object_add(o, "qemu_start", json_object_new_int64(
                    (int64_t)qv_process_start_time(qv_process_pid(m.qemu))));
                json_object_object_add(o, "monitor_pid", json_object_new_int64(getpid()));
                json_object_object_add(o, "monitor_start", json_object_new_int64(
                    (int64_t)qv_process_start_time(getpid())));
                status_report(status_fd, o);
                status_fd = -1;
            }
            qv_qmp_event *ev;
            while (m.qmp && (ev = qv_qmp_pop_event(m.qmp))) {
                handle_event(&m, ev);
                qv_qmp_event_free(ev);
            }
            if (m.state_dirty && handshaken && g_get_monotonic_time() >= m.refresh_at_us)
                refresh_state(&m);
        }
        (void)qmp_idx;

        if (owner_idx >= 0 && (pfd[owner_idx].revents & (POLLIN | POLLHUP))) {
            close(m.owner_pidfd);
            m.owner_pidfd = -1;
            kill_qemu(&m, "destroyed");
            /* Escalation: QEMU gets 10 s to exit on SIGTERM. */
            if (qv_process_wait(m.qemu, 10000, &exit_status, NULL) == -ETIMEDOUT)
                qv_process_signal(m.qemu, SIGKILL, NULL);
        }

        int st;
        if (qv_process_try_wait(m.qemu, &st, NULL) == 1) {
            exit_status = st;
            /* Drain the events QEMU sent before it went (SHUTDOWN). */
            if (m.qmp && !m.qmp_lost) {
                qv_qmp_dispatch(m.qmp, NULL);
                qv_qmp_event *ev;
                while ((ev = qv_qmp_pop_event(m.qmp))) {
                    handle_event(&m, ev);
                    qv_qmp_event_free(ev);
                }
            }
            break;
        }
    }

    if (status_fd >= 0) {
        g_autofree char *tail = log_tail(log_path, log_start);
        g_autoptr(json_object) o = json_object_new_object();
        json_object_object_add(o, "code", json_object_new_int(-EIO));
        g_autofree char *msg = NULL;
        if (WIFEXITED(exit_status))
            msg = g_strdup_printf("QEMU exited with status %d during startup%s%s",
                                  WEXITSTATUS(exit_status), *tail ? ": " : "", tail);
        else
            msg = g_strdup_printf("QEMU was killed by signal %d during startup%s%s",
                                  WTERMSIG(exit_status), *tail ? ": " : "", tail);
        json_object_object_add(o, "error", json_object_new_string(msg));
        status_report(status_fd, o);
        qv_rt_remove_run_dir(m.domain_dir);
        return 1;
    }
    finalize(&m, exit_status);
    qv_qmp_free(m.qmp); /* cancels proxied commands: their clients hear why */
    qv_proxy_free(m.proxy);
    qv_process_free(m.qemu);
    return 0;
}
