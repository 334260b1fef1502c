/* The start path: one launch, no sleeps, no connect retries, and safe to
 * interrupt at any point.
 *
 *   1. lifecycle lock; refuse when already active
 *   2. the runtime dir appears whole, already naming its starter (the
 *      caller's pid); QEMU's listening sockets (qmp.sock, monitor.sock,
 *      ctl.sock, the lane) and the start channel are created here and
 *      passed down as fds
 *   3. qvirt-monitor is launched through the one launcher; it launches QEMU
 *      (with -S), writes status.json at once, and answers on the start
 *      channel once QEMU's monitor is up, or with why QEMU did not come up
 *   4. handshake on the command monitor, apply settings, cont
 *   5. live XML and state are written; STARTED is emitted
 *   6. commit: the starter file goes, then the channel closes.
 *
 * A starter that dies before 6 leaves a starter file naming a dead
 * process: the monitor (which sees the channel close) or any later call
 * undoes the run, and the domain ends shut off (failed). After 6 the run
 * is the monitor's, and a monitor that dies is replaced by the next call
 * that finds it gone (qv_domain_attach_supervisor). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "network.h"
#include "firmware.h"
#include "hostdev.h"
#include "pool.h"
#include "secret.h"
#include "qemu-files.h"
#include "qemu-user.h"
#include "tap.h"
#include "tpm.h"
#include "qv-config.h"
#include "qv-fd.h"
#include "qv-log.h"
#include "qv-process.h"
#include "qv-socket.h"

/* How long QEMU may take to bring its monitor up (a big firmware image
 * under TCG is slow) and the monitor to attach to a running QEMU. */
#define QV_START_REPORT_MS 120000
#define QV_ATTACH_REPORT_MS 10000
/* The first monitor process only forks the real one and exits. */
#define QV_MONITOR_FORK_MS 10000

/* A helper program of the library (qvirt-monitor, qvirt-systemd): $ENV,
 * else beside libqvirt.so when there is one there (a build tree runs
 * uninstalled), else libexecdir. */
char *qv_helper_binary(const char *name, const char *env_name)
{
    const char *env = g_getenv(env_name);
    if (env && *env)
        return g_strdup(env);
    Dl_info info;
    if (dladdr((void *)qv_helper_binary, &info) && info.dli_fname) {
        g_autofree char *dir = g_path_get_dirname(info.dli_fname);
        g_autofree char *beside = g_build_filename(dir, name, NULL);
        if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE) &&
            !g_file_test(beside, G_FILE_TEST_IS_DIR))
            return g_steal_pointer(&beside);
    }
    return g_build_filename(QV_LIBEXECDIR, name, NULL);
}

static int next_domain_id(qv_conn *conn, qv_error **err)
{
    g_autofree char *lock_path = qv_rt_id_lock_path(&conn->paths);
    g_autofree char *path = qv_rt_next_id_path(&conn->paths);
    int lock = qv_rt_lock(lock_path, -1, err);
    if (lock < 0)
        return lock;
    g_autofree char *data = NULL;
    long id = 1;
    if (qv_read_file(path, 64, &data, NULL, NULL) == 0)
        id = strtol(data, NULL, 10);
    if (id < 1 || id >= G_MAXINT)
        id = 1;
    g_autofree char *next = g_strdup_printf("%ld", id + 1);
    int r = qv_rt_write_runtime(path, next, strlen(next), err);
    qv_rt_unlock(lock);
    return r < 0 ? r : (int)id;
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

/* Reads the monitor's one-line report from the start channel (which stays
 * open until the start commits). qmp (may be NULL): the caller's own
 * connection to QEMU, whose handshake moves on meanwhile; once it breaks
 * (QEMU did not come up) only the report says why. */
static int read_report(int fd, qv_qmp *qmp, int timeout_ms, json_object **ret, qv_error **err)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!memchr(buf->str, '\n', buf->len)) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return qv_error_set(err, -ETIMEDOUT, "QEMU's monitor did not come up within %d s",
                                timeout_ms / 1000);
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN } };
        nfds_t nfds = 1;
        if (qmp && !qv_qmp_is_broken(qmp)) {
            p[1] = (struct pollfd){ .fd = qv_qmp_get_fd(qmp), .events = qv_qmp_get_poll_events(qmp) };
            nfds = 2;
        }
        if (poll(p, nfds, (int)left) <= 0)
            continue;
        if (nfds == 2 && p[1].revents)
            qv_qmp_dispatch(qmp, NULL);
        if (!p[0].revents)
            continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
        if (buf->len > 65536)
            break;
    }
    json_object *obj = buf->len ? json_tokener_parse(buf->str) : NULL;
    if (!obj || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return qv_error_set(err, -EIO, "qvirt-monitor ended without reporting whether QEMU started");
    }
    json_object *v;
    if (json_object_object_get_ex(obj, "error", &v)) {
        json_object *code;
        int c = json_object_object_get_ex(obj, "code", &code) ? json_object_get_int(code) : -EIO;
        int r = qv_error_set(err, c < 0 ? c : -EIO, "%s", json_object_get_string(v));
        json_object_put(obj);
        return r;
    }
    *ret = obj;
    return 0;
}

/* Launches qvirt-monitor with argv and the fds it keeps; stderr goes to
 * monitor.log. The caller then closes its copies of those fds (so a
 * monitor that dies is seen at once) and reads the report. */
static int spawn_monitor(const char *dir, GPtrArray *argv, const int *pass, size_t n_pass,
                         qv_vmcg *cg, qv_tune_scope *scope, qv_error **err)
{
    g_autofree char *mlog = g_build_filename(dir, QV_RT_RUN_MONITOR_LOG, NULL);
    qv_autoclose int mlog_fd = open(mlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    g_ptr_array_add(argv, NULL);
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = (const char *const *)argv->pdata;
    so.pass_fds = pass;
    so.n_pass_fds = n_pass;
    so.stderr_fd = mlog_fd;
    so.new_session = true;
    /* In its leaf of the domain's cgroup, out of the caller's. */
    qv_autoclose int cgfd = -1;
    if (cg && cg->mount && !cg->path && scope) {
        /* Under systemd: its scope is made for this very process, which
         * waits to exec until it is in place. */
        scope->cg = cg;
        so.before_exec = qv_tune_scope_place;
        so.before_exec_data = scope;
    } else if (cg && cg->mount && cg->path) {
        int r = qv_vmcg_open(cg, QV_VMCG_SUPERVISOR, false, &cgfd, err);
        if (r < 0)
            return r;
        so.cgroup_fd = cgfd;
    }
    g_autoptr(qv_process) mon = NULL;
    g_autoptr(qv_error) spawn_err = NULL;
    int r = qv_process_spawn(&so, &mon, &spawn_err);
    if (r < 0) {
        /* A scope that could not be made says why itself. */
        qv_error_propagate(err, scope && scope->err ? g_steal_pointer(&scope->err)
                                                     : g_steal_pointer(&spawn_err));
        return r;
    }
    qv_process_wait(mon, QV_MONITOR_FORK_MS, NULL, NULL);
    return 0;
}

/* A monitor that ended without a word may have said why in monitor.log. */
static void add_monitor_log_tail(const char *dir, qv_error *err)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_RUN_MONITOR_LOG, NULL);
    g_autofree char *text = NULL;
    if (qv_rt_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
        return;
    g_strchomp(text);
    const char *last = strrchr(text, '\n');
    last = last ? last + 1 : text;
    /* Its last line, unless it only says again what the report said. */
    if (*last && !strstr(last, qv_error_message(err))) {
        char *msg = g_strdup_printf("%s (monitor.log: %s)", err->message, last);
        g_free(err->message);
        err->message = msg;
    }
}

/* Creates monitor.lock and takes it, for the monitor to hold for life. */
static int take_monitor_lock(const char *dir, qv_error **err)
{
    g_autofree char *path = g_build_filename(dir, QV_RT_RUN_MONITOR_LOCK, NULL);
    int r = qv_rt_lock(path, 0, err);
    if (r == -EWOULDBLOCK)
        return qv_error_set(err, -EBUSY, "another process supervises %s", dir);
    return r;
}

static void add_arg(GPtrArray *argv, const char *name, const char *value)
{
    g_ptr_array_add(argv, g_strdup_printf("--%s=%s", name, value));
}

static void add_fd_arg(GPtrArray *argv, const char *name, int fd)
{
    g_ptr_array_add(argv, g_strdup_printf("--%s=%d", name, fd));
}

static GPtrArray *monitor_argv(qv_conn *conn, const char *name, const char *uuid)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, qv_helper_binary("qvirt-monitor", "QVIRT_MONITOR"));
    add_arg(argv, "config-dir", conn->paths.config_dir);
    add_arg(argv, "run-dir", conn->paths.run_dir);
    add_arg(argv, "name", name);
    add_arg(argv, "uuid", uuid);
    return argv;
}

/* Removes what processes killed mid-way left of earlier runs of name: a
 * grave (NAME.gone.PID) or a dir that never appeared (.NAME.PID.new),
 * once its process is gone. */
static void sweep_dead_runs(const char *parent, const char *name)
{
    g_autoptr(GDir) d = g_dir_open(parent, 0, NULL);
    g_autofree char *grave = g_strdup_printf("%s.gone.", name);
    g_autofree char *unborn = g_strdup_printf(".%s.", name);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        const char *pid_str = g_str_has_prefix(e, grave) ? e + strlen(grave)
                            : g_str_has_prefix(e, unborn) && g_str_has_suffix(e, ".new")
                                ? e + strlen(unborn) : NULL;
        if (!pid_str)
            continue;
        pid_t pid = (pid_t)g_ascii_strtoll(pid_str, NULL, 10);
        if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
            continue;
        g_autofree char *path = g_build_filename(parent, e, NULL);
        qv_rt_remove_tree(path);
    }
}

/* Makes the runtime dir appear whole, already naming its starter: a dir
 * without status.json or a live starter is a leftover anyone may remove. */
static int create_run_dir(qv_conn *conn, const char *dir, qv_error **err)
{
    g_autofree char *parent = g_path_get_dirname(dir);
    g_autofree char *base = g_path_get_basename(dir);
    g_autofree char *tmp_name = g_strdup_printf(".%s.%d.new", base, (int)getpid());
    g_autofree char *tmp = g_build_filename(parent, tmp_name, NULL);
    int r;
    sweep_dead_runs(parent, base);
    if ((r = qv_rt_mkdirs(tmp, err)) < 0)
        return r;
    if ((r = qv_rt_run_id_write(tmp, err)) < 0 || (r = qv_rt_starter_write(tmp, err)) < 0 ||
        rename(tmp, dir) < 0) {
        if (r >= 0)
            r = qv_error_set_errno(err, -errno, "cannot create %s", dir);
        qv_rt_remove_tree(tmp);
        return r;
    }
    return 0;
}

/* The listening sockets QEMU gets and the start channel. */
typedef struct start_fds {
    int qmp_listen;
    int monitor_listen;
    int ctl_listen;
    int lanes[QV_RT_LANES];
    int channel[2];      /* [0] the caller's end, [1] the monitor's */
    int monitor_lock;
} start_fds;

static void start_fds_close(start_fds *f)
{
    qv_closep(&f->qmp_listen);
    qv_closep(&f->monitor_listen);
    qv_closep(&f->ctl_listen);
    for (int i = 0; i < QV_RT_LANES; i++)
        qv_closep(&f->lanes[i]);
    qv_closep(&f->channel[0]);
    qv_closep(&f->channel[1]);
    qv_closep(&f->monitor_lock);
}

static int listen_in(const char *dir, const char *file, int *fd, qv_error **err)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    *fd = qv_unix_listen(path, err);
    return *fd < 0 ? *fd : 0;
}

static int create_start_fds(const char *dir, start_fds *f, qv_error **err)
{
    int r;
    if ((r = listen_in(dir, QV_RT_RUN_QMP_SOCK, &f->qmp_listen, err)) < 0 ||
        (r = listen_in(dir, QV_RT_RUN_MONITOR_SOCK, &f->monitor_listen, err)) < 0 ||
        (r = listen_in(dir, QV_RT_RUN_CTL_SOCK, &f->ctl_listen, err)) < 0)
        return r;
    for (int i = 0; i < QV_RT_LANES; i++) {
        g_autofree char *name = g_strdup_printf(QV_RT_RUN_LANE_SOCK_FMT, i);
        if ((r = listen_in(dir, name, &f->lanes[i], err)) < 0)
            return r;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->channel) < 0)
        return qv_error_set_errno(err, -errno, "cannot create the monitor's start channel");
    f->monitor_lock = take_monitor_lock(dir, err);
    return f->monitor_lock < 0 ? f->monitor_lock : 0;
}

/* Where a start's time goes, logged at debug level (bench/ reads it):
 * microseconds since the start began, at the end of each step. */
typedef struct start_marks {
    gint64 t0;
    gint64 prepared;  /* lock, run folder, sockets, networks, firmware, argv */
    gint64 spawned;   /* the monitor forked and running */
    gint64 qemu_up;   /* the monitor reported QEMU answering QMP (-S) */
    gint64 brought_up; /* settings applied, cont, live XML and state written */
    gint64 committed;
} start_marks;

static gint64 since(const start_marks *m)
{
    return g_get_monotonic_time() - m->t0;
}

/* Steps 2 and 3: QEMU runs (stopped, -S) under its monitor, and
 * status.json names both. *qmp: the start's own connection to QEMU's
 * command monitor (qmp.lock held in *qmp_lock), made as soon as the
 * monitor runs, so its handshake goes on while QEMU starts and the
 * monitor handshakes, instead of after the report; NULL when it could not
 * be made (bring_up then connects as any call does). */
static int launch(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                  unsigned int flags, const qv_start_restore *restore, const char *dir,
                  start_fds *f, qv_vmcg *cg, start_marks *marks, qv_qmp **qmp, int *qmp_lock,
                  qv_error **err)
{
    int r;
    if ((r = create_start_fds(dir, f, err)) < 0)
        return r;
    int id = next_domain_id(conn, err);
    if (id < 0)
        return id;
    def->id = id;
    /* The domain's cgroup, recorded in the run folder: the monitor starts
     * QEMU in its emulator leaf, so QEMU never runs outside it. */
    if ((r = qv_tune_create_cgroup(conn, def, dir, cg, err)) < 0)
        return r;
    /* QEMU's user, and its files, sockets and taps: made here, and QEMU's
     * as the fds on its command line. */
    g_auto(qv_qemu_user) user = { 0 };
    if ((r = qv_conn_qemu_user(conn, &user, err)) < 0 ||
        (r = qv_qemu_user_grant_files(&user, def, dir, err)) < 0)
        return r;
    g_auto(qv_qemu_files) files = { 0 };
    qv_qemu_files_init(&files, 1, true);
    qv_build_ctx ctx = {
        .files = &files.opener,
        .emulator = g_getenv("QVIRT_QEMU"),
        .monitor_fd = f->qmp_listen,
        .event_monitor_fd = f->monitor_listen,
        .runtime_dir = dir,
        .lane_fds = f->lanes,
        .n_lanes = QV_RT_LANES,
        .display_sockets_by_caller = true,
        .scsi_generic = qv_hostdev_scsi_generic,
        .volume_path = qv_pool_volume_path,
    };
    g_autofree char *secret_dir = qv_conn_libvirt_dir(conn, "secrets");
    g_autofree char *pool_dir = qv_conn_libvirt_dir(conn, "storage");
    qv_secret_source secrets = { .dir = secret_dir, .files = &files };
    ctx.secret_file = qv_secret_file;
    ctx.secret_data = &secrets;
    ctx.volume_data = pool_dir;
    g_auto(qv_qemu_tls) tls = { 0 };
    if ((r = qv_conn_qemu_tls(conn, &ctx, &tls, err)) < 0 ||
        (r = qv_domain_pick_spice_ports(def, ctx.spice_tls, err)) < 0)
        return r;
    /* A host device the host lacks is refused here, by name. */
    if ((r = qv_hostdevs_check(def, "", err)) < 0 ||
        (r = qv_hostdev_nets_set_mac(def, "", err)) < 0)
        return r;
    g_autoptr(qv_networks) nets = NULL;
    if ((r = qv_conn_resolve_networks(conn, def, &nets, err)) < 0)
        return r;
    ctx.networks = qv_networks_get(nets, &ctx.n_networks);
    g_autoptr(qv_taps) taps = NULL;
    if ((r = qv_taps_make(def, NULL, nets, dir, false, files.fds, &taps, err)) < 0)
        return r;
    ctx.taps = qv_taps_get(taps, &ctx.n_taps);
    g_autoptr(qv_tpms) tpms = NULL;
    if ((r = qv_tpms_prepare(conn, def, &user, files.fds, &tpms, err)) < 0)
        return r;
    ctx.tpm_channel = qv_tpm_channel;
    ctx.tpm_data = tpms;
    if ((r = qv_conn_prepare_firmware(conn, def, flags & QV_DOMAIN_START_RESET_NVRAM, err)) < 0 ||
        (r = qv_domdef_fill_backing_chains(def, err)) < 0)
        return r;
    g_auto(GStrv) qemu_argv = NULL;
    g_autofree char *state_path = g_build_filename(dir, QV_RT_RUN_STATE, NULL);
    qv_rt_state st = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_STARTING_UP, qv_rt_now_us() };
    if ((r = qv_domxml_build_argv(def, &ctx, &qemu_argv, err)) < 0 ||
        (r = qv_rt_statemap_create(state_path, &st, err)) < 0)
        return r;

    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    g_autoptr(GPtrArray) margv = monitor_argv(conn, def->name, uuid);
    add_fd_arg(margv, "qmp-listen-fd", f->qmp_listen);
    add_fd_arg(margv, "monitor-listen-fd", f->monitor_listen);
    add_fd_arg(margv, "start-fd", f->channel[1]);
    add_fd_arg(margv, "ctl-fd", f->ctl_listen);
    add_fd_arg(margv, "lock-fd", f->monitor_lock);
    for (int i = 0; i < QV_RT_LANES; i++)
        add_fd_arg(margv, "lane-fd", f->lanes[i]);
    for (guint i = 0; i < files.fds->len; i++)
        add_fd_arg(margv, "qemu-fd", g_array_index(files.fds, int, i));
    g_autoptr(GArray) swtpm_pass = g_array_new(FALSE, FALSE, sizeof(int));
    qv_tpms_monitor_args(tpms, margv, swtpm_pass);
    if (user.private_dev) {
        g_autofree char *staging = g_build_filename(dir, QV_RT_RUN_DEV_STAGING, NULL);
        if (mkdir(staging, 0700) < 0 && errno != EEXIST)
            return qv_error_set_errno(err, -errno, "cannot create %s", staging);
        add_arg(margv, "dev-staging", staging);
        g_auto(GStrv) devs = qv_qemu_devices(def);
        for (char **d = devs; *d; d++)
            add_arg(margv, "qemu-dev", *d);
        /* hugetlbfs mounts under /dev, bind-mounted into QEMU's. */
        g_auto(GStrv) huge = qv_domdef_hugetlbfs_dirs(def);
        for (char **h = huge; *h; h++)
            if (g_str_has_prefix(*h, "/dev/") && !strchr(*h + 5, '/'))
                add_arg(margv, "qemu-dev-mount", *h + 5);
    }
    if (user.uid != (uid_t)-1) {
        add_fd_arg(margv, "qemu-uid", (int)user.uid);
        add_fd_arg(margv, "qemu-gid", (int)user.gid);
        for (size_t i = 0; i < user.n_groups; i++)
            add_fd_arg(margv, "qemu-group", (int)user.groups[i]);
    }
    add_fd_arg(margv, "id", id);
    g_autoptr(GPtrArray) vnc = qv_domdef_display_socket_args(def, dir);
    for (guint i = 0; i < vnc->len; i++)
        g_ptr_array_add(margv, g_strdup(vnc->pdata[i]));
    if (transient)
        g_ptr_array_add(margv, g_strdup("--transient"));
    add_arg(margv, "on-poweroff", qv_rt_action_name((qv_rt_action)def->on_poweroff));
    add_arg(margv, "on-reboot", qv_rt_action_name((qv_rt_action)def->on_reboot));
    add_arg(margv, "on-crash", qv_rt_action_name((qv_rt_action)def->on_crash));
    if (flags & QV_DOMAIN_START_AUTODESTROY) {
        add_fd_arg(margv, "owner-pid", (int)getpid());
        g_ptr_array_add(margv, g_strdup_printf("--owner-start=%llu",
                                               qv_process_start_time(getpid())));
    }
    g_auto(GStrv) qemu_env = qv_domxml_build_env(def);
    for (char **e = qemu_env; *e; e++)
        add_arg(margv, "qemu-env", *e);
    if (qv_domdef_tainted_custom_argv(def))
        qv_log(QV_LOG_WARNING, "domain '%s' is tainted: custom-argv (<qemu:commandline> or "
               "<qemu:capabilities>)", def->name);
    g_ptr_array_add(margv, g_strdup("--"));
    for (char **a = qemu_argv; *a; a++)
        g_ptr_array_add(margv, g_strdup(*a));
    if (restore && (restore->fd >= 0 || restore->load)) {
        /* The saved or migrated state comes in over QMP once QEMU is up
         * (save.c, migrate.c). */
        g_ptr_array_add(margv, g_strdup("-incoming"));
        g_ptr_array_add(margv, g_strdup("defer"));
    }
    int own[5] = { f->qmp_listen, f->monitor_listen, f->channel[1], f->ctl_listen,
                   f->monitor_lock };
    g_autoptr(GArray) pass = g_array_new(FALSE, FALSE, sizeof(int));
    g_array_append_vals(pass, own, G_N_ELEMENTS(own));
    g_array_append_vals(pass, f->lanes, QV_RT_LANES);
    g_array_append_vals(pass, files.fds->data, files.fds->len);
    g_array_append_vals(pass, swtpm_pass->data, swtpm_pass->len);

    marks->prepared = since(marks);
    qv_tune_scope scope = { .conn = conn, .def = def, .run_dir = dir };
    r = spawn_monitor(dir, margv, (const int *)(void *)pass->data, pass->len, cg, &scope, err);
    qv_error_free(scope.err);
    marks->spawned = since(marks);
    /* The monitor has its copies of the files now. */
    qv_qemu_files_clear(&files);
    /* The monitor and QEMU hold their own copies now (the lock too). */
    int keep = qv_steal_fd(&f->channel[0]);
    start_fds_close(f);
    f->channel[0] = keep;
    g_autoptr(json_object) report = NULL;
    if (r >= 0 && qv_domain_qmp_open_async(dom, qmp, qmp_lock, NULL) < 0)
        *qmp = NULL;
    if (r >= 0 && (r = read_report(f->channel[0], *qmp, QV_START_REPORT_MS, &report, err)) == -EIO &&
        err && *err)
        add_monitor_log_tail(dir, *err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "cannot start domain '%s'", def->name);
    marks->qemu_up = since(marks);
    return r;
}

/* Step 4 and 5: settings, cont, the live XML and the state. */
static int bring_up(qv_domain *dom, qv_domdef *def, unsigned int flags,
                    const qv_start_restore *restore, const char *dir,
                    const qv_vmcg *cg, qv_qmp *qmp, int qmp_lock, pid_t *qemu_pid,
                    qv_error **err)
{
    g_autofree char *status_path = g_build_filename(dir, QV_RT_RUN_STATUS, NULL);
    qv_rt_status status;
    int r = qv_rt_status_read(status_path, &status, err);
    if (r < 0) {
        qv_domain_qmp_close(qmp, qmp_lock);
        return r;
    }
    *qemu_pid = status.qemu_pid;
    if (!qmp && (r = qv_domain_qmp_open(dom, &qmp, &qmp_lock, err)) < 0)
        return r;
    bool restored = restore && (restore->fd >= 0 || restore->load);
    bool from_fd = restored && !restore->load;
    int reason = restore ? restore->reason : 0;
    qv_rt_state st = { QV_DOMAIN_PAUSED, reason ? reason : QV_DOMAIN_PAUSED_USER, 0 };
    g_auto(qv_tuning) tun = { 0 };
    /* The settings first, then a saved or migrated state: QEMU takes them
     * while it waits for the state, so the guest's pause between the
     * state's end and cont is one command (a migration's downtime). A
     * saved state loads from its file in QEMU's main loop while the vCPU
     * threads go into their cgroups here (a cgroup move waits for an RCU
     * grace period, 10-15 ms on a busy host): the vCPUs do not run before
     * cont, so they are in place before the guest runs, as libvirt has
     * them. */
    if ((r = record_pty_paths(qmp, def, err)) >= 0 &&
        (r = qv_domain_set_graphics_passwords(qmp, def, err)) >= 0 &&
        (r = qv_domain_tuning_query(qmp, def, cg, &tun, err)) >= 0 &&
        (r = qv_domain_record_graphics_ports(qmp, def)) >= 0 &&
        (!from_fd || (r = qv_restore_begin(qmp, restore->fd, err)) >= 0) &&
        (r = qv_domain_tuning_apply(&tun, def, status.qemu_pid, cg, err)) >= 0 &&
        (!restored || (r = restore->load ? restore->load(dom, qmp, restore->opaque, err)
                                         : qv_restore_finish(dom, qmp, restore->fd, err)) >= 0)) {
        if (!(flags & QV_DOMAIN_START_PAUSED)) {
            r = qv_qmp_call(qmp, "cont", NULL, 0, NULL, err);
            st = (qv_rt_state){ QV_DOMAIN_RUNNING,
                                reason ? reason : restored ? QV_DOMAIN_RUNNING_RESTORED
                                                           : QV_DOMAIN_RUNNING_BOOTED, 0 };
        }
    }
    if (r >= 0) {
        g_autofree char *live_path = g_build_filename(dir, QV_RT_RUN_LIVE_XML, NULL);
        g_autofree char *live = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
        g_autofree char *state_path = g_build_filename(dir, QV_RT_RUN_STATE, NULL);
        st.since_us = qv_rt_now_us();
        if ((r = qv_rt_write_runtime(live_path, live, strlen(live), err)) >= 0 &&
            (r = qv_rt_state_store(state_path, &st)) < 0)
            r = qv_error_set_errno(err, r, "cannot record the state of domain '%s'", def->name);
    }
    qv_domain_qmp_close(qmp, qmp_lock);
    return r;
}

static void emit_started(qv_conn *conn, const qv_domdef *def, unsigned int flags,
                         const qv_start_restore *restore, GPtrArray *dropped)
{
    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    bool restored = restore && (restore->fd >= 0 || restore->load);
    int detail = restore ? restore->started_detail : 0;
    qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STARTED,
                 detail ? detail : restored ? QV_DOMAIN_EVENT_STARTED_RESTORED
                                            : QV_DOMAIN_EVENT_STARTED_BOOTED, NULL);
    if ((flags & QV_DOMAIN_START_PAUSED) && !detail)
        qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
                     restored ? QV_DOMAIN_EVENT_SUSPENDED_RESTORED
                              : QV_DOMAIN_EVENT_SUSPENDED_PAUSED, NULL);
    for (guint i = 0; i + 1 < dropped->len; i += 2) {
        json_object *extra = json_object_new_object();
        json_object_object_add(extra, "dev_alias", json_object_new_string(dropped->pdata[i]));
        json_object_object_add(extra, "old_src", json_object_new_string(dropped->pdata[i + 1]));
        json_object_object_add(extra, "reason",
                               json_object_new_int(QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START));
        qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_DISK_CHANGE,
                     QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START, 0, extra);
    }
}

/* Step 6: from here the run is the monitor's. The starter file goes
 * first: that is the commit; the channel's close only wakes the monitor. */
static int commit(const char *dir, int channel, qv_error **err)
{
    g_autofree char *starter = g_build_filename(dir, QV_RT_RUN_STARTER, NULL);
    if (unlink(starter) < 0)
        return qv_error_set_errno(err, -errno, "cannot commit the start (%s)", starter);
    ssize_t n = write(channel, "c", 1);
    (void)n; /* the monitor re-checks the file whatever it reads */
    return 0;
}

/* Undoes a start that failed after the runtime dir appeared: QEMU is
 * stopped and waited for, and the domain ends shut off (failed). */
static void undo_start(qv_conn *conn, const qv_domdef *def, const char *dir)
{
    g_autofree char *status_path = g_build_filename(dir, QV_RT_RUN_STATUS, NULL);
    qv_rt_status status;
    if (qv_rt_status_read(status_path, &status, NULL) == 0) {
        char uuid[37];
        qv_uuid_format(def->uuid, uuid);
        qv_rt_undo_run(&conn->paths, def->name, uuid, &status);
    }
    /* QEMU never came up: like libvirt, the domain is shut off (failed). */
    qv_rt_record_failed_start(&conn->paths, def->name);
    qv_rt_remove_run_dir(dir);
}

int qv_conn_start_domain(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                         unsigned int flags, qv_error **err)
{
    return qv_conn_start_domain_restore(conn, dom, def, transient, flags, NULL, err);
}

int qv_conn_start_domain_restore(qv_conn *conn, qv_domain *dom, qv_domdef *def, bool transient,
                                 unsigned int flags, const qv_start_restore *restore,
                                 qv_error **err)
{
    const unsigned int known = QV_DOMAIN_START_PAUSED | QV_DOMAIN_START_AUTODESTROY |
                               QV_DOMAIN_START_BYPASS_CACHE | QV_DOMAIN_START_FORCE_BOOT |
                               QV_DOMAIN_START_VALIDATE | QV_DOMAIN_START_RESET_NVRAM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "unsupported start flags 0x%x", flags & ~known);
    start_marks marks = { .t0 = g_get_monotonic_time() };
    qv_autoclose int lock = qv_domain_lock_lifecycle(conn, def->name, err);
    if (lock < 0)
        return qv_steal_fd(&lock);

    qv_active act;
    int r = qv_domain_settle(dom, &act, err);
    if (r < 0)
        return r;
    if (act.active)
        return qv_error_set(err, -EBUSY, "domain '%s' is already running", def->name);

    g_autofree char *dir = qv_rt_domain_dir(&conn->paths, def->name);
    qv_rt_remove_run_dir(dir); /* a leftover nobody runs in */
    if ((r = create_run_dir(conn, dir, err)) < 0)
        return r;
    g_autoptr(GPtrArray) dropped = drop_missing_optional_sources(def);
    pid_t qemu_pid = 0;
    start_fds f = { -1, -1, -1, { [0 ... QV_RT_LANES - 1] = -1 }, { -1, -1 }, -1 };
    g_auto(qv_vmcg) cg = { 0 };
    qv_qmp *qmp = NULL;
    int qmp_lock = -1;
    if ((r = launch(conn, dom, def, transient, flags, restore, dir, &f, &cg, &marks, &qmp,
                    &qmp_lock, err)) < 0 ||
        (r = bring_up(dom, def, flags, restore, dir, &cg, g_steal_pointer(&qmp),
                      qv_steal_fd(&qmp_lock), &qemu_pid, err)) < 0) {
        qv_domain_qmp_close(qmp, qmp_lock);
        start_fds_close(&f);
        qv_log(QV_LOG_INFO, "domain '%s': start failed (%s); undoing it", def->name,
               g_strerror(-r));
        undo_start(conn, def, dir);
        return r;
    }
    marks.brought_up = since(&marks);
    qv_tune_register_machine(conn, def, &cg, qemu_pid);
    emit_started(conn, def, flags, restore, dropped);
    if ((r = commit(dir, f.channel[0], err)) < 0) {
        start_fds_close(&f);
        qv_log(QV_LOG_INFO, "domain '%s': start failed at commit (%s); undoing it", def->name,
               g_strerror(-r));
        undo_start(conn, def, dir);
        return r;
    }
    start_fds_close(&f);
    g_autofree char *shutoff = qv_rt_shutoff_path(&conn->paths, def->name);
    unlink(shutoff);
    if (flags & QV_DOMAIN_START_AUTODESTROY)
        g_ptr_array_add(conn->autodestroy, g_strdup(def->name));
    marks.committed = since(&marks);
    qv_log(QV_LOG_DEBUG, "domain '%s': start profile (us): prepare %" G_GINT64_FORMAT
           " spawn-monitor %" G_GINT64_FORMAT " qemu-up %" G_GINT64_FORMAT
           " bring-up %" G_GINT64_FORMAT " commit %" G_GINT64_FORMAT, def->name,
           marks.prepared, marks.spawned - marks.prepared, marks.qemu_up - marks.spawned,
           marks.brought_up - marks.qemu_up, marks.committed - marks.brought_up);
    qv_log(QV_LOG_INFO, "domain '%s': started%s%s%s (QEMU pid %d)", def->name,
           (flags & QV_DOMAIN_START_PAUSED) ? ", paused" : "", transient ? ", transient" : "",
           (flags & QV_DOMAIN_START_AUTODESTROY) ? ", autodestroy" : "",
           (int)qemu_pid);
    return 0;
}

int qv_domain_attach_supervisor(qv_domain *dom, qv_error **err)
{
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    qv_autoclose int lock = take_monitor_lock(dir, NULL);
    if (lock == -EBUSY)
        return 0; /* somebody supervises it, or is starting to */
    if (lock < 0)
        return qv_error_set_errno(err, qv_steal_fd(&lock),
                                  "cannot take the monitor lock of domain '%s'", dom->name);
    int channel[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) < 0)
        return qv_error_set_errno(err, -errno, "cannot create the monitor's report channel");
    qv_autoclose int mine = channel[0];
    qv_autoclose int theirs = channel[1];
    g_autoptr(GPtrArray) argv = monitor_argv(dom->conn, dom->name, dom->uuid_str);
    g_ptr_array_add(argv, g_strdup("--attach"));
    /* The display sockets the old supervisor listened on, listened on again. */
    const qv_domdef *def = NULL;
    if (qv_domain_get_def(dom, &def, NULL) == 0) {
        g_autoptr(GPtrArray) vnc = qv_domdef_display_socket_args(def, dir);
        for (guint i = 0; i < vnc->len; i++)
            g_ptr_array_add(argv, g_strdup(vnc->pdata[i]));
    }
    add_fd_arg(argv, "start-fd", theirs);
    add_fd_arg(argv, "lock-fd", lock);
    int pass[2] = { theirs, lock };
    g_auto(qv_vmcg) cg = { 0 };
    qv_vmcg_read(dir, &cg);
    int r = spawn_monitor(dir, argv, pass, 2, &cg, NULL, err);
    qv_closep(&theirs);
    qv_closep(&lock);
    g_autoptr(json_object) report = NULL;
    if (r >= 0)
        r = read_report(mine, NULL, QV_ATTACH_REPORT_MS, &report, err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "cannot supervise domain '%s' again", dom->name);
    return r;
}
