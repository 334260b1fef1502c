/* The start path: one launch, no sleeps, no connect retries.
 *
 *   1. lifecycle lock; refuse when already active
 *   2. runtime dir; the command monitor's listening socket and the event
 *      monitor's socketpair are created here and passed down as fds
 *   3. qvirt-monitor is launched through the one launcher; it launches QEMU
 *      (with -S) and answers on a status pipe once QEMU's monitor is up,
 *      or with why QEMU did not come up
 *   4. handshake on the command monitor, apply settings, cont
 *   5. status, live XML and state are written atomically; STARTED is emitted */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "qv-config.h"
#include "qv-process.h"

static const char *monitor_binary(void)
{
    const char *env = g_getenv("QVIRT_MONITOR");
    if (env && *env)
        return env;
    return QV_LIBEXECDIR "/qvirt-monitor";
}

static int next_domain_id(qv_conn *conn, qv_error **err)
{
    g_autofree char *lock_path = g_strdup_printf("%s/locks/.id.lock", conn->paths.run_dir);
    g_autofree char *path = g_strdup_printf("%s/next-id", conn->paths.run_dir);
    int lock = qv_rt_lock(lock_path, -1, err);
    if (lock < 0)
        return lock;
    g_autofree char *data = NULL;
    long id = 1;
    if (qv_rt_read_file(path, 64, &data, NULL, NULL) == 0)
        id = strtol(data, NULL, 10);
    if (id < 1 || id >= G_MAXINT)
        id = 1;
    g_autofree char *next = g_strdup_printf("%ld", id + 1);
    int r = qv_rt_write_runtime(path, next, strlen(next), err);
    qv_rt_unlock(lock);
    return r < 0 ? r : (int)id;
}

static int listen_unix(const char *path, qv_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path)
        return qv_error_set(err, -ENAMETOOLONG,
                            "the monitor socket path %s is longer than the %zu bytes a unix "
                            "socket allows; use a shorter connection root", path,
                            sizeof sa.sun_path - 1);
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot listen on %s", path);
    }
    return fd;
}

/* Reads the monitor's one status message (the pipe closes after it). */
static int read_status_pipe(int fd, int timeout_ms, json_object **ret, qv_error **err)
{
    GString *buf = g_string_new(NULL);
    long long deadline = g_get_monotonic_time() + (long long)timeout_ms * 1000;
    for (;;) {
        long long left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0) {
            g_string_free(buf, TRUE);
            return qv_error_set(err, -ETIMEDOUT,
                                "QEMU's monitor did not come up within %d s", timeout_ms / 1000);
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
        if (buf->len > 65536)
            break;
    }
    json_object *obj = buf->len ? json_tokener_parse(buf->str) : NULL;
    g_string_free(buf, TRUE);
    if (!obj)
        return qv_error_set(err, -EIO, "qvirt-monitor ended without reporting whether QEMU started");
    *ret = obj;
    return 0;
}

static const char *action_name(int a)
{
    switch (a) {
    case QV_DOMDEF_LIFECYCLE_RESTART: return "restart";
    case QV_DOMDEF_LIFECYCLE_PRESERVE: return "preserve";
    default: return "destroy";
    }
}

/* Live XML records where each pty chardev ended up (/dev/pts/N), as
 * libvirt's does: consoles are opened from it. */
static int record_pty_paths(qv_qmp *qmp, qv_domdef *def, qv_error **err)
{
    bool any = false;
    for (guint i = 0; i < def->chrs->len; i++)
        any |= ((qv_domdef_chr *)def->chrs->pdata[i])->src.type == QV_CHR_PTY;
    if (!any)
        return 0;
    g_autoptr(json_object) list = NULL;
    int r = qv_qmp_call(qmp, "query-chardev", NULL, 0, &list, err);
    if (r < 0)
        return r;
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->src.type != QV_CHR_PTY || !c->alias)
            continue;
        g_autofree char *label = g_strdup_printf("char%s", c->alias);
        for (size_t k = 0; list && k < json_object_array_length(list); k++) {
            json_object *e = json_object_array_get_idx(list, k), *l, *f;
            if (json_object_object_get_ex(e, "label", &l) && !strcmp(json_object_get_string(l), label) &&
                json_object_object_get_ex(e, "filename", &f) &&
                g_str_has_prefix(json_object_get_string(f), "pty:")) {
                g_free(c->src.path);
                c->src.path = g_strdup(json_object_get_string(f) + 4);
            }
        }
    }
    return 0;
}

/* startupPolicy='optional': a cdrom or floppy whose file is missing starts
 * empty instead of failing the start, as with libvirt. Returns the dropped
 * sources (alias, path pairs) for DISK_CHANGE events once the start worked. */
static GPtrArray *drop_missing_optional_sources(qv_domdef *def)
{
    GPtrArray *dropped = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = def->disks->pdata[i];
        if (!d->startup_policy || strcmp(d->startup_policy, "optional") || !d->src.path ||
            d->src.type != QV_DISK_TYPE_FILE || access(d->src.path, F_OK) == 0)
            continue;
        g_ptr_array_add(dropped, g_strdup(d->alias ? d->alias : d->target_dev));
        g_ptr_array_add(dropped, g_steal_pointer(&d->src.path));
    }
    return dropped;
}

static void kill_pid_checked(pid_t pid, unsigned long long start)
{
    if (qv_rt_pid_alive(pid, start))
        kill(pid, SIGKILL);
}

int qv_conn_start_domain(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                         unsigned int flags, qv_error **err)
{
    const unsigned int known = QV_DOMAIN_START_PAUSED | QV_DOMAIN_START_AUTODESTROY |
                               QV_DOMAIN_START_BYPASS_CACHE | QV_DOMAIN_START_FORCE_BOOT |
                               QV_DOMAIN_START_VALIDATE | QV_DOMAIN_START_RESET_NVRAM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "unsupported start flags 0x%x", flags & ~known);
    int lock = qv_domain_lock_lifecycle(conn, def->name, err);
    if (lock < 0)
        return lock;

    int r;
    int listen_fd = -1, ctl_fd = -1, ev[2] = { -1, -1 }, sp[2] = { -1, -1 };
    int lanes[QV_RT_LANES];
    for (int i = 0; i < QV_RT_LANES; i++)
        lanes[i] = -1;
    g_auto(GStrv) qemu_argv = NULL;
    g_autoptr(GPtrArray) margv = NULL;
    g_autoptr(qv_process) mon = NULL;
    g_autoptr(json_object) report = NULL;
    qv_qmp *qmp = NULL;
    int qmp_lock = -1;
    qv_rt_status status = { 0 };
    bool launched = false;
    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    g_autofree char *dir = qv_rt_domain_dir(&conn->paths, def->name);
    g_autofree char *sock = g_build_filename(dir, "qmp.sock", NULL);
    g_autofree char *ctl_sock = g_build_filename(dir, "ctl.sock", NULL);
    g_autofree char *state_path = g_build_filename(dir, "state", NULL);
    g_autofree char *status_path = g_build_filename(dir, "status.json", NULL);
    g_autofree char *live_path = g_build_filename(dir, "live.xml", NULL);
    g_autofree char *mlog = g_build_filename(dir, "monitor.log", NULL);
    g_autofree char *shutoff = g_strdup_printf("%s/shutoff/%s.json", conn->paths.run_dir, def->name);
    g_autofree char *live = NULL;
    g_autoptr(GPtrArray) dropped = NULL;

    qv_active act;
    if ((r = qv_domain_load_active(dom, &act, err)) < 0)
        goto out;
    if (act.active) {
        r = qv_error_set(err, -EBUSY, "domain '%s' is already running", def->name);
        goto out;
    }
    qv_rt_remove_run_dir(dir); /* leftovers of a start that died half-way */
    if ((r = qv_rt_mkdirs(dir, err)) < 0)
        goto out;
    if ((listen_fd = listen_unix(sock, err)) < 0) {
        r = listen_fd;
        goto fail;
    }
    if ((ctl_fd = listen_unix(ctl_sock, err)) < 0) {
        r = ctl_fd;
        goto fail;
    }
    for (int i = 0; i < QV_RT_LANES; i++) {
        g_autofree char *name = g_strdup_printf("lane-%d.sock", i);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if ((lanes[i] = listen_unix(path, err)) < 0) {
            r = lanes[i];
            goto fail;
        }
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ev) < 0 || pipe2(sp, O_CLOEXEC) < 0) {
        r = qv_error_set_errno(err, -errno, "cannot create the monitor channels");
        goto fail;
    }
    int id = next_domain_id(conn, err);
    if (id < 0) {
        r = id;
        goto fail;
    }
    def->id = id;

    dropped = drop_missing_optional_sources(def);
    qv_build_ctx ctx = {
        .emulator = g_getenv("QVIRT_QEMU"),
        .monitor_fd = listen_fd,
        .event_monitor_fd = ev[1],
        .runtime_dir = dir,
        .lane_fds = lanes,
        .n_lanes = QV_RT_LANES,
    };
    if ((r = qv_domxml_build_argv(def, &ctx, &qemu_argv, err)) < 0)
        goto fail;

    qv_rt_state st = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_STARTING_UP, qv_rt_now_us() };
    if ((r = qv_rt_statemap_create(state_path, &st, err)) < 0)
        goto fail;

    margv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(margv, g_strdup(monitor_binary()));
    g_ptr_array_add(margv, g_strdup_printf("--config-dir=%s", conn->paths.config_dir));
    g_ptr_array_add(margv, g_strdup_printf("--run-dir=%s", conn->paths.run_dir));
    g_ptr_array_add(margv, g_strdup_printf("--name=%s", def->name));
    g_ptr_array_add(margv, g_strdup_printf("--uuid=%s", uuid));
    g_ptr_array_add(margv, g_strdup_printf("--qmp-listen-fd=%d", listen_fd));
    g_ptr_array_add(margv, g_strdup_printf("--event-qemu-fd=%d", ev[1]));
    g_ptr_array_add(margv, g_strdup_printf("--event-fd=%d", ev[0]));
    g_ptr_array_add(margv, g_strdup_printf("--status-fd=%d", sp[1]));
    g_ptr_array_add(margv, g_strdup_printf("--ctl-fd=%d", ctl_fd));
    for (int i = 0; i < QV_RT_LANES; i++)
        g_ptr_array_add(margv, g_strdup_printf("--lane-fd=%d", lanes[i]));
    g_ptr_array_add(margv, g_strdup_printf("--on-poweroff=%s", action_name(def->on_poweroff)));
    g_ptr_array_add(margv, g_strdup_printf("--on-reboot=%s", action_name(def->on_reboot)));
    g_ptr_array_add(margv, g_strdup_printf("--on-crash=%s", action_name(def->on_crash)));
    if (flags & QV_DOMAIN_START_AUTODESTROY) {
        g_ptr_array_add(margv, g_strdup_printf("--owner-pid=%d", (int)getpid()));
        g_ptr_array_add(margv, g_strdup_printf("--owner-start=%llu",
                                               qv_process_start_time(getpid())));
    }
    g_ptr_array_add(margv, g_strdup("--"));
    for (char **a = qemu_argv; *a; a++)
        g_ptr_array_add(margv, g_strdup(*a));
    g_ptr_array_add(margv, NULL);

    int mlog_fd = open(mlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int pass[5 + QV_RT_LANES] = { listen_fd, ev[1], ev[0], sp[1], ctl_fd };
    memcpy(&pass[5], lanes, sizeof lanes);
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = (const char *const *)margv->pdata;
    so.pass_fds = pass;
    so.n_pass_fds = G_N_ELEMENTS(pass);
    so.stderr_fd = mlog_fd;
    so.new_session = true;
    r = qv_process_spawn(&so, &mon, err);
    if (mlog_fd >= 0)
        close(mlog_fd);
    if (r < 0)
        goto fail;
    /* The monitor and QEMU hold their own copies now. */
    close(listen_fd);
    close(ctl_fd);
    close(ev[0]);
    close(ev[1]);
    close(sp[1]);
    listen_fd = ctl_fd = ev[0] = ev[1] = sp[1] = -1;
    for (int i = 0; i < QV_RT_LANES; i++) {
        close(lanes[i]);
        lanes[i] = -1;
    }
    /* The first monitor process only forks the real one and exits. */
    qv_process_wait(mon, 10000, NULL, NULL);

    if ((r = read_status_pipe(sp[0], 120000, &report, err)) < 0)
        goto fail;
    json_object *v;
    if (json_object_object_get_ex(report, "error", &v)) {
        json_object *code;
        int c = json_object_object_get_ex(report, "code", &code) ? json_object_get_int(code) : -EIO;
        r = qv_error_set(err, c < 0 ? c : -EIO, "cannot start domain '%s': %s", def->name,
                         json_object_get_string(v));
        goto fail;
    }
    launched = true;
    status.qemu_pid = json_object_object_get_ex(report, "qemu_pid", &v) ? json_object_get_int(v) : 0;
    status.qemu_start = json_object_object_get_ex(report, "qemu_start", &v) ? (unsigned long long)json_object_get_int64(v) : 0;
    status.monitor_pid = json_object_object_get_ex(report, "monitor_pid", &v) ? json_object_get_int(v) : 0;
    status.monitor_start = json_object_object_get_ex(report, "monitor_start", &v) ? (unsigned long long)json_object_get_int64(v) : 0;
    status.id = id;
    status.transient = transient;
    status.autodestroy = (flags & QV_DOMAIN_START_AUTODESTROY) != 0;
    if (status.autodestroy) {
        status.owner_pid = getpid();
        status.owner_start = qv_process_start_time(getpid());
    }
    status.started_us = qv_rt_now_us();
    if ((r = qv_rt_status_write(status_path, &status, err)) < 0)
        goto fail;

    if ((r = qv_domain_qmp_open(dom, &qmp, &qmp_lock, err)) < 0 ||
        (r = record_pty_paths(qmp, def, err)) < 0 ||
        (r = qv_domain_apply_tuning(qmp, def, status.qemu_pid, err)) < 0)
        goto fail;
    qv_domain_record_graphics_ports(qmp, def);
    if (!(flags & QV_DOMAIN_START_PAUSED)) {
        if ((r = qv_qmp_call(qmp, "cont", NULL, 0, NULL, err)) < 0)
            goto fail;
        st = (qv_rt_state){ QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED, qv_rt_now_us() };
    } else {
        st = (qv_rt_state){ QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER, qv_rt_now_us() };
    }
    live = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
    if ((r = qv_rt_write_runtime(live_path, live, strlen(live), err)) < 0)
        goto fail;
    if ((r = qv_rt_state_store(state_path, &st)) < 0) {
        r = qv_error_set_errno(err, r, "cannot record the state of domain '%s'", def->name);
        goto fail;
    }
    qv_domain_qmp_close(qmp, qmp_lock);
    qmp = NULL;
    qmp_lock = -1;

    unlink(shutoff);
    qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STARTED,
                 QV_DOMAIN_EVENT_STARTED_BOOTED, NULL);
    if (flags & QV_DOMAIN_START_PAUSED)
        qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
                     QV_DOMAIN_EVENT_SUSPENDED_PAUSED, NULL);
    for (guint i = 0; i + 1 < dropped->len; i += 2) {
        json_object *extra = json_object_new_object();
        json_object_object_add(extra, "dev_alias", json_object_new_string(dropped->pdata[i]));
        json_object_object_add(extra, "old_src", json_object_new_string(dropped->pdata[i + 1]));
        json_object_object_add(extra, "reason",
                               json_object_new_int(QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START));
        qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_DISK_CHANGE,
                     QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START, 0, extra);
    }
    if (status.autodestroy)
        g_ptr_array_add(conn->autodestroy, g_strdup(def->name));
    r = 0;
    goto out;

fail:
    /* Undo: no QEMU is left behind and the runtime dir goes. */
    if (qmp)
        qv_domain_qmp_close(qmp, qmp_lock);
    if (launched) {
        g_autofree char *stopping = g_build_filename(dir, "stopping", NULL);
        qv_rt_write_runtime(stopping, "failed", 6, NULL);
        kill_pid_checked(status.qemu_pid, status.qemu_start);
        /* The monitor records the stop; wait for it so the caller sees a
         * consistent shut off domain. */
        qv_rt_wait_exit(status.monitor_pid, status.monitor_start, 5000);
    } else {
        /* QEMU never came up: like libvirt, the domain is shut off (failed). */
        g_autofree char *shutoff_dir = g_path_get_dirname(shutoff);
        qv_rt_mkdirs(shutoff_dir, NULL);
        qv_rt_state failed = { QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_FAILED, qv_rt_now_us() };
        qv_rt_state_write(shutoff, &failed, NULL);
    }
    qv_rt_remove_run_dir(dir);
out:
    if (listen_fd >= 0)
        close(listen_fd);
    if (ctl_fd >= 0)
        close(ctl_fd);
    for (int i = 0; i < QV_RT_LANES; i++)
        if (lanes[i] >= 0)
            close(lanes[i]);
    for (int i = 0; i < 2; i++) {
        if (ev[i] >= 0)
            close(ev[i]);
        if (sp[i] >= 0)
            close(sp[i]);
    }
    qv_rt_unlock(lock);
    return r;
}
