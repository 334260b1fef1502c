/* The scheduler, memory, blkio and NUMA tunables (qvirt-tune.h), and the
 * domain's cgroup: made before QEMU runs, filled with its threads before
 * the guest runs (vmcgroup.h has the layout). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "internal.h"
#include "remote.h"
#include "qv-fd.h"
#include "qv-log.h"
#include "qv-process.h"
#include "qvirt/qvirt-tune.h"
#include "vmcgroup.h"

/* The controllers a VM group gets, and the threaded ones its children get. */
static const char *const vm_controllers[] = { "cpu", "cpuset", "io", "memory", "pids", NULL };
static const char *const thread_controllers[] = { "cpu", "cpuset", "pids", NULL };

/* ---- where a connection's domains go ------------------------------------------ */

/* The delegated root from qvirt.conf ([cgroup] root=, "none" for no
 * cgroups); by default /machine for root and none for other users, whose
 * delegated subtree (if any) must be named there. NULL: no cgroups. */
static char *conn_cgroup_base(qv_conn *conn)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *root = NULL;
    if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL))
        root = g_key_file_get_string(kf, "cgroup", "root", NULL);
    if (!root)
        return geteuid() == 0 ? g_strdup("machine") : NULL;
    g_strstrip(root);
    if (!strcmp(root, "none") || !root[0])
        return NULL;
    char *rel = root;
    while (*rel == '/')
        rel++;
    return strstr(rel, "..") ? NULL : g_strdup(rel);
}

/* <name>.qvirt for the system connection, as libvirt's <name>.libvirt-qemu;
 * other connections (session, embedded roots) add their config folder's
 * hash, so that two roots' domains of one name never share a group. */
static char *conn_suffix(qv_conn *conn);

static char *vm_group_name(qv_conn *conn, const char *name)
{
    g_autofree char *suffix = conn_suffix(conn);
    return g_strdup_printf("%s.qvirt%s", name, suffix);
}

/* Enables what the parent has of `want` for its children. */
static int enable_available(int dirfd, const char *const *want, qv_error **err)
{
    const char *have[8];
    size_t n = 0;
    for (const char *const *c = want; *c && n + 1 < G_N_ELEMENTS(have); c++)
        if (qv_cgroup_has_controller(dirfd, *c))
            have[n++] = *c;
    have[n] = NULL;
    /* Already enabled ones are no error: the write only adds. */
    return qv_cgroup_enable_controllers(dirfd, have, err);
}

/* Makes base (each level enabling the controllers for the next) and opens
 * it. */
static int open_base(const char *mount, const char *base, int *fd, qv_error **err)
{
    qv_autoclose int cur = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return qv_error_set_errno(err, -errno, "cannot open the cgroup hierarchy %s", mount);
    g_auto(GStrv) parts = g_strsplit(base, "/", -1);
    g_autoptr(GString) shown = g_string_new(mount);
    for (char **p = parts; *p; p++) {
        if (!(*p)[0])
            continue;
        int r = enable_available(cur, vm_controllers, err);
        if (r < 0)
            return r;
        g_string_append_printf(shown, "/%s", *p);
        if (mkdirat(cur, *p, 0755) < 0 && errno != EEXIST)
            return qv_error_set_errno(err, -errno, "cannot create cgroup %s", shown->str);
        int next = openat(cur, *p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (next < 0)
            return qv_error_set_errno(err, -errno, "cannot open cgroup %s", shown->str);
        qv_closep(&cur);
        cur = next;
    }
    int r = enable_available(cur, vm_controllers, err);
    if (r < 0)
        return r;
    *fd = qv_steal_fd(&cur);
    return 0;
}

static bool def_has_cgroup_tunables(const qv_domdef *def)
{
    const qv_domdef_cputune *t = &def->cputune;
    const qv_domdef_memtune *m = &def->memtune;
    return t->has_shares || t->period || t->quota || t->global_period || t->global_quota ||
           t->emulator_period || t->emulator_quota || t->iothread_period || t->iothread_quota ||
           (m->hard_limit && m->hard_limit < QV_DOMDEF_MEMTUNE_UNLIMITED) ||
           (m->soft_limit && m->soft_limit < QV_DOMDEF_MEMTUNE_UNLIMITED) ||
           (m->swap_hard_limit && m->swap_hard_limit < QV_DOMDEF_MEMTUNE_UNLIMITED) ||
           (m->min_guarantee && m->min_guarantee < QV_DOMDEF_MEMTUNE_UNLIMITED) ||
           def->blkiotune.weight || (def->blkiotune.devices && def->blkiotune.devices->len);
}

/* ---- writing values ------------------------------------------------------------ */

/* cpu.max of one group: the period and quota given (has_*), the rest as
 * the file has it. */
static int write_cpu_max(int fd, bool has_period, unsigned long long period, bool has_quota,
                         long long quota, qv_error **err)
{
    if (!has_period && !has_quota)
        return 0;
    long long q = -1;
    unsigned long long p = 100000;
    g_autofree char *cur = NULL;
    if (qv_cgroup_read(fd, "cpu.max", &cur, NULL) == 0)
        qv_cgroup_cpu_max_parse(cur, &q, &p, NULL);
    if (has_period)
        p = period;
    if (has_quota)
        q = quota < 0 || quota >= QV_SCHED_QUOTA_MAX ? -1 : quota;
    g_autofree char *v = qv_cgroup_cpu_max_format(q, p);
    return qv_cgroup_write(fd, "cpu.max", v, err);
}

/* The VM group's threaded children whose names start with prefix
 * ("vcpu", "iothread"). */
static GPtrArray *children_named(int vmfd, const char *prefix)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    int dup_fd = fcntl(vmfd, F_DUPFD_CLOEXEC, 3);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return out;
    }
    rewinddir(d);   /* the dup shares the offset of an fd listed before */
    struct dirent *de;
    size_t n = strlen(prefix);
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, prefix, n) && g_ascii_isdigit(de->d_name[n]))
            g_ptr_array_add(out, g_strdup(de->d_name));
    closedir(d);
    return out;
}

static int open_child(int vmfd, const char *name, qv_error **err)
{
    int fd = openat(vmfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open the domain's cgroup %s", name);
    return fd;
}

static int cpu_max_children(int vmfd, const char *prefix, bool hp, unsigned long long p, bool hq,
                            long long q, qv_error **err)
{
    g_autoptr(GPtrArray) kids = children_named(vmfd, prefix);
    for (guint i = 0; i < kids->len; i++) {
        qv_autoclose int fd = open_child(vmfd, kids->pdata[i], err);
        int r = fd < 0 ? fd : write_cpu_max(fd, hp, p, hq, q, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int apply_sched(int vmfd, const void *params, qv_error **err)
{
    const qv_sched_params *s = params;
    int r = 0;
    unsigned int f = s->fields;
    if (f & QV_SCHED_CPU_SHARES) {
        g_autofree char *v = g_strdup_printf("%llu", s->cpu_shares);
        r = qv_cgroup_write(vmfd, "cpu.weight", v, err);
    }
    if (r >= 0)
        r = write_cpu_max(vmfd, f & QV_SCHED_GLOBAL_PERIOD, s->global_period,
                          f & QV_SCHED_GLOBAL_QUOTA, s->global_quota, err);
    if (r >= 0 && (f & (QV_SCHED_EMULATOR_PERIOD | QV_SCHED_EMULATOR_QUOTA))) {
        qv_autoclose int fd = open_child(vmfd, QV_VMCG_EMULATOR, err);
        r = fd < 0 ? fd : write_cpu_max(fd, f & QV_SCHED_EMULATOR_PERIOD, s->emulator_period,
                                        f & QV_SCHED_EMULATOR_QUOTA, s->emulator_quota, err);
    }
    if (r >= 0)
        r = cpu_max_children(vmfd, "vcpu", f & QV_SCHED_VCPU_PERIOD, s->vcpu_period,
                             f & QV_SCHED_VCPU_QUOTA, s->vcpu_quota, err);
    if (r >= 0)
        r = cpu_max_children(vmfd, "iothread", f & QV_SCHED_IOTHREAD_PERIOD, s->iothread_period,
                             f & QV_SCHED_IOTHREAD_QUOTA, s->iothread_quota, err);
    return r;
}

static unsigned long long kib_to_bytes(unsigned long long kib)
{
    return kib >= QV_DOMAIN_MEMORY_PARAM_UNLIMITED ? UINT64_MAX : kib * 1024;
}

static int apply_memory(int vmfd, const void *params, qv_error **err)
{
    const qv_memory_params *m = params;
    static const struct { unsigned int bit; const char *file; size_t off; } map[] = {
        { QV_MEMORY_HARD_LIMIT, "memory.max", offsetof(qv_memory_params, hard_limit) },
        { QV_MEMORY_SOFT_LIMIT, "memory.high", offsetof(qv_memory_params, soft_limit) },
        { QV_MEMORY_SWAP_HARD_LIMIT, "memory.swap.max", offsetof(qv_memory_params, swap_hard_limit) },
        { QV_MEMORY_MIN_GUARANTEE, "memory.min", offsetof(qv_memory_params, min_guarantee) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (!(m->fields & map[i].bit))
            continue;
        unsigned long long kib = *(const unsigned long long *)(const void *)((const char *)m + map[i].off);
        g_autofree char *v = qv_cgroup_bytes_format(kib_to_bytes(kib));
        int r = qv_cgroup_write(vmfd, map[i].file, v, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* "MAJ:MIN" of a block device path. */
static int block_device_number(const char *path, char **ret, qv_error **err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return qv_error_set_errno(err, -errno, "blkio: cannot use device %s", path);
    if (!S_ISBLK(st.st_mode))
        return qv_error_set(err, -EINVAL, "blkio: %s is not a block device (the blkio tunables "
                            "apply to host block devices only)", path);
    *ret = g_strdup_printf("%u:%u", major(st.st_rdev), minor(st.st_rdev));
    return 0;
}

/* The blkio weight file: io.bfq.weight when the host schedules with BFQ,
 * else io.weight. */
static const char *weight_file(int vmfd)
{
    return faccessat(vmfd, "io.bfq.weight", F_OK, 0) == 0 ? "io.bfq.weight" : "io.weight";
}

static int apply_blkio_weight(int vmfd, unsigned int weight, qv_error **err)
{
    g_autofree char *v = g_strdup_printf("default %u", weight);
    return qv_cgroup_write(vmfd, weight_file(vmfd), v, err);
}

/* One device's settings: weight (0: default) and the io.max limits (0:
 * none). */
static int apply_blkio_device(int vmfd, const qv_domdef_blkio_device *d, qv_error **err)
{
    g_autofree char *dev = NULL;
    int r = block_device_number(d->path, &dev, err);
    if (r < 0)
        return r;
    g_autofree char *w = d->weight ? g_strdup_printf("%s %u", dev, d->weight)
                                   : g_strdup_printf("%s default", dev);
    if ((r = qv_cgroup_write(vmfd, weight_file(vmfd), w, err)) < 0)
        return r;
    g_autofree char *rb = d->read_bytes_sec ? g_strdup_printf("%llu", d->read_bytes_sec) : g_strdup("max");
    g_autofree char *wb = d->write_bytes_sec ? g_strdup_printf("%llu", d->write_bytes_sec) : g_strdup("max");
    g_autofree char *ri = d->read_iops_sec ? g_strdup_printf("%llu", d->read_iops_sec) : g_strdup("max");
    g_autofree char *wi = d->write_iops_sec ? g_strdup_printf("%llu", d->write_iops_sec) : g_strdup("max");
    g_autofree char *line = g_strdup_printf("%s rbps=%s wbps=%s riops=%s wiops=%s", dev, rb, wb, ri, wi);
    return qv_cgroup_write(vmfd, "io.max", line, err);
}

/* ---- systemd (the qvirt-systemd helper talks to its bus) ---------------------- */

/* How long the helper may take: systemd's own job, and a bus round trip. */
#define QV_SYSTEMD_HELPER_MS 70000

/* systemd runs the host, and the manager to ask is there: the system's
 * for root, else the caller's own (systemd --user, whose subtree of the
 * hierarchy systemd delegates to the user) on its session bus. */
static bool systemd_usable(void)
{
    if (!g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR))
        return false;
    if (geteuid() == 0)
        return g_file_test("/run/dbus/system_bus_socket", G_FILE_TEST_EXISTS);
    const char *rt = g_getenv("XDG_RUNTIME_DIR");
    g_autofree char *manager = rt ? g_build_filename(rt, "systemd", "private", NULL) : NULL;
    g_autofree char *bus = rt ? g_build_filename(rt, "bus", NULL) : NULL;
    return manager && g_file_test(manager, G_FILE_TEST_EXISTS) &&
           (g_getenv("DBUS_SESSION_BUS_ADDRESS") || g_file_test(bus, G_FILE_TEST_EXISTS));
}

/* A domain name as part of a unit name: [A-Za-z0-9:_.-] stay (a leading
 * '.' does not), everything else becomes \xNN as systemd escapes it. */
static char *unit_escape(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (g_ascii_isalnum(c) || c == ':' || c == '_' || c == '-' || (c == '.' && p != s))
            g_string_append_c(out, (char)c);
        else
            g_string_append_printf(out, "\\x%02x", c);
    }
    return g_string_free(out, FALSE);
}

/* Runs qvirt-systemd with args; its stdout (trimmed) in *out. Its error
 * sentence (stderr) becomes the error. */
static int run_systemd_helper(const char *const *args, char **out, qv_error **err)
{
    g_autofree char *prog = qv_helper_binary("qvirt-systemd", "QVIRT_SYSTEMD_HELPER");
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, prog);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    int o[2] = { -1, -1 }, e[2] = { -1, -1 };
    if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        int errsv = errno;
        qv_closep(&o[0]);
        qv_closep(&o[1]);
        return qv_error_set_errno(err, -errsv, "cannot make pipes for qvirt-systemd");
    }
    qv_autoclose int out_r = o[0], err_r = e[0];
    /* The clean environment, plus where a user's session bus is. */
    g_autoptr(GPtrArray) env = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(env, g_strdup("LC_ALL=C"));
    g_ptr_array_add(env, g_strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"));
    static const char *const pass[] = { "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS" };
    for (size_t i = 0; i < G_N_ELEMENTS(pass); i++)
        if (g_getenv(pass[i]))
            g_ptr_array_add(env, g_strdup_printf("%s=%s", pass[i], g_getenv(pass[i])));
    g_ptr_array_add(env, NULL);
    qv_spawn_opts so;
    qv_spawn_opts_init(&so);
    so.argv = (const char *const *)argv->pdata;
    so.envp = (const char *const *)env->pdata;
    so.stdout_fd = o[1];
    so.stderr_fd = e[1];
    g_autoptr(qv_process) p = NULL;
    int r = qv_process_spawn(&so, &p, err);
    close(o[1]);
    close(e[1]);
    if (r < 0)
        return r;
    /* The helper writes a line or two: read to its end (it exits then). */
    g_autoptr(GString) so_text = g_string_new(NULL), se_text = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    while ((n = read(out_r, buf, sizeof(buf))) > 0 && so_text->len < 65536)
        g_string_append_len(so_text, buf, n);
    while ((n = read(err_r, buf, sizeof(buf))) > 0 && se_text->len < 65536)
        g_string_append_len(se_text, buf, n);
    int status = 0;
    if ((r = qv_process_wait(p, QV_SYSTEMD_HELPER_MS, &status, err)) < 0)
        return r;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return qv_error_set(err, -EIO, "%s", se_text->len ? g_strchomp(se_text->str)
                                                           : "qvirt-systemd failed");
    if (out)
        *out = g_strdup(g_strstrip(so_text->str));
    return 0;
}

/* ---- the cgroup of a start ------------------------------------------------------ */

/* Makes the VM group cg->path (its parent exists), records it in the run
 * folder and gives it its supervisor and emulator leaves. */
static int make_vm_group(const qv_vmcg *cg, const char *run_dir, int *vm, qv_error **err)
{
    g_autofree char *dir = qv_vmcg_dir(cg);
    if (mkdir(dir, 0755) < 0)
        return qv_error_set_errno(err, -errno, "cannot create cgroup %s", dir);
    /* Recorded at once: from here every end of the run removes it. */
    qv_autoclose int sup = -1, emu = -1;
    int r;
    if ((r = qv_vmcg_record(run_dir, cg, err)) < 0 ||
        (r = qv_vmcg_open(cg, NULL, false, vm, err)) < 0 ||
        (r = enable_available(*vm, thread_controllers, err)) < 0 ||
        (r = qv_vmcg_open(cg, QV_VMCG_SUPERVISOR, true, &sup, err)) < 0 ||
        (r = qv_vmcg_open(cg, QV_VMCG_EMULATOR, true, &emu, err)) < 0)
        return r;
    return 0;
}

/* Under systemd, unless the connection names its own root ([cgroup] root=)
 * or turns it off ([cgroup] systemd=no). */
static bool use_systemd(qv_conn *conn)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL)) {
        if (g_key_file_has_key(kf, "cgroup", "root", NULL))
            return false;
        if (g_key_file_has_key(kf, "cgroup", "systemd", NULL) &&
            !g_key_file_get_boolean(kf, "cgroup", "systemd", NULL))
            return false;
    }
    return systemd_usable();
}

static char *conf_slice(qv_conn *conn)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    char *slice = NULL;
    if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL))
        slice = g_key_file_get_string(kf, "cgroup", "slice", NULL);
    /* A user's manager has no machine.slice: its apps go in app.slice. */
    return slice ? slice : g_strdup(geteuid() == 0 ? "machine.slice" : "app.slice");
}

/* The connection's suffix for names shared by all connections (cgroups,
 * scopes, machines): "" for the system connection. */
static char *conn_suffix(qv_conn *conn)
{
    if (conn->uri && g_str_has_prefix(conn->uri, "qvirt:///system"))
        return g_strdup("");
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                         conn->paths.config_dir, -1);
    return g_strdup_printf("-%.8s", sum);
}

int qv_tune_create_cgroup(qv_conn *conn, const qv_domdef *def, const char *run_dir, qv_vmcg *cg,
                          qv_error **err)
{
    memset(cg, 0, sizeof(*cg));
    g_autofree char *mount = NULL;
    g_autoptr(qv_error) why = NULL;
    if (use_systemd(conn) && qv_cgroup_find_v2_mount(NULL, &mount, NULL) >= 0) {
        /* The scope needs a process: it is made for the supervisor, which
         * waits before it runs (qv_tune_scope_place). */
        g_autofree char *suffix = conn_suffix(conn);
        cg->mount = g_steal_pointer(&mount);
        g_autofree char *esc = unit_escape(def->name);
        cg->unit = g_strdup_printf("qvirt-%s%s.scope", esc, suffix);
        return 0;
    }
    g_autofree char *base = conn_cgroup_base(conn);
    int r = base ? qv_cgroup_find_v2_mount(NULL, &mount, &why) : -ENOENT;
    qv_autoclose int basefd = -1;
    if (r >= 0)
        r = open_base(mount, base, &basefd, &why);
    if (r < 0) {
        /* As libvirt: no cgroups is no reason not to start, unless the
         * domain asks for what only they do. */
        if (def_has_cgroup_tunables(def))
            return qv_error_set(err, r, "domain '%s' has <cputune>, <memtune> or <blkiotune> "
                                "settings, which need cgroup v2: %s", def->name,
                                why ? qv_error_message(why) : "no cgroup root is configured "
                                "([cgroup] root= in qvirt.conf)");
        qv_log(QV_LOG_DEBUG, "domain '%s': no cgroup (%s)", def->name,
               why ? qv_error_message(why) : "none configured");
        return 0;
    }
    g_autofree char *group = vm_group_name(conn, def->name);
    cg->mount = g_steal_pointer(&mount);
    cg->path = g_build_filename(base, group, NULL);
    /* A group an earlier run left behind goes first. That run is over (the
     * start settled it under the lifecycle lock), so whatever is still in
     * its group is a leftover of it, and is killed. */
    qv_autoclose int vm = -1;
    r = qv_vmcg_remove(cg, NULL);
    if (r == -EBUSY) {
        qv_log(QV_LOG_INFO, "domain '%s': killing what an ended run left in cgroup %s/%s",
               def->name, cg->mount, cg->path);
        qv_vmcg_kill(cg);
    }
    if ((r = qv_vmcg_remove(cg, err)) < 0 || (r = make_vm_group(cg, run_dir, &vm, err)) < 0) {
        qv_vmcg_clear(cg);
        return r;
    }
    return qv_tune_apply_vm(vm, def, err);
}

int qv_tune_scope_place(pid_t pid, void *opaque)
{
    qv_tune_scope *s = opaque;
    qv_vmcg *cg = s->cg;
    g_autofree char *desc = g_strdup_printf("qvirt domain %s", s->def->name);
    g_autofree char *slice = conf_slice(s->conn);
    g_autofree char *scope = NULL;
    g_autofree char *pid_s = g_strdup_printf("%d", (int)pid);
    const char *args[] = { geteuid() == 0 ? "scope" : "user-scope", cg->unit, slice, desc, pid_s,
                           NULL };
    int r = run_systemd_helper(args, &scope, &s->err);
    if (r < 0)
        return r;
    if (scope[0] != '/' || strstr(scope, ".."))
        return qv_error_set(&s->err, -EIO, "qvirt-systemd gave a bad cgroup '%s'", scope);
    /* qvirt's own group below the scope, which systemd leaves alone. The
     * process waits in a leaf beside it meanwhile: the scope may enable
     * controllers only once it holds no process itself, and the VM group
     * may make threaded children only while it holds none. */
    cg->path = g_strdup_printf("%s/qvirt", scope + 1);
    g_autofree char *waiting = g_strdup_printf("%s/starting", scope);
    qv_autoclose int vm = -1, sup = -1, scopefd = -1, wait_fd = -1;
    if ((r = qv_cgroup_open(cg->mount, scope, false, &scopefd, &s->err)) < 0 ||
        (r = qv_cgroup_open(cg->mount, waiting, true, &wait_fd, &s->err)) < 0 ||
        (r = qv_cgroup_add_pid(wait_fd, pid, &s->err)) < 0 ||
        (r = enable_available(scopefd, vm_controllers, &s->err)) < 0 ||
        (r = make_vm_group(cg, s->run_dir, &vm, &s->err)) < 0 ||
        (r = qv_vmcg_open(cg, QV_VMCG_SUPERVISOR, false, &sup, &s->err)) < 0 ||
        (r = qv_cgroup_add_pid(sup, pid, &s->err)) < 0)
        return r;
    if (unlinkat(scopefd, "starting", AT_REMOVEDIR) < 0)
        return qv_error_set_errno(&s->err, -errno, "cannot remove cgroup %s%s", cg->mount,
                                  waiting);
    return qv_tune_apply_vm(vm, s->def, &s->err);
}

void qv_tune_register_machine(qv_conn *conn, const qv_domdef *def, const qv_vmcg *cg,
                              pid_t qemu_pid)
{
    if (!cg->unit || geteuid() != 0) /* machined registers the system's machines */
        return;
    g_autofree char *suffix = conn_suffix(conn);
    g_autofree char *machine = g_strdup_printf("qvirt-%s%s", def->name, suffix);
    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    g_autofree char *pid_s = g_strdup_printf("%d", (int)qemu_pid);
    const char *args[] = { "register", machine, uuid, pid_s, NULL };
    g_autoptr(qv_error) e = NULL;
    if (run_systemd_helper(args, NULL, &e) < 0)
        qv_log(QV_LOG_DEBUG, "domain '%s': %s", def->name, qv_error_message(e));
}

int qv_tune_apply_vm(int vm, const qv_domdef *def, qv_error **err)
{
    const qv_domdef_cputune *t = &def->cputune;
    qv_sched_params s = {
        .fields = (t->has_shares ? QV_SCHED_CPU_SHARES : 0) |
                  (t->global_period ? QV_SCHED_GLOBAL_PERIOD : 0) |
                  (t->global_quota ? QV_SCHED_GLOBAL_QUOTA : 0) |
                  (t->emulator_period ? QV_SCHED_EMULATOR_PERIOD : 0) |
                  (t->emulator_quota ? QV_SCHED_EMULATOR_QUOTA : 0),
        .cpu_shares = t->shares, .global_period = t->global_period,
        .global_quota = t->global_quota, .emulator_period = t->emulator_period,
        .emulator_quota = t->emulator_quota,
    };
    const qv_domdef_memtune *mt = &def->memtune;
    qv_memory_params m = {
        .fields = (mt->hard_limit ? QV_MEMORY_HARD_LIMIT : 0) |
                  (mt->soft_limit ? QV_MEMORY_SOFT_LIMIT : 0) |
                  (mt->swap_hard_limit ? QV_MEMORY_SWAP_HARD_LIMIT : 0) |
                  (mt->min_guarantee ? QV_MEMORY_MIN_GUARANTEE : 0),
        .hard_limit = mt->hard_limit, .soft_limit = mt->soft_limit,
        .swap_hard_limit = mt->swap_hard_limit, .min_guarantee = mt->min_guarantee,
    };
    int r = apply_sched(vm, &s, err);
    if (r >= 0)
        r = apply_memory(vm, &m, err);
    if (r >= 0 && def->blkiotune.weight)
        r = apply_blkio_weight(vm, def->blkiotune.weight, err);
    for (guint i = 0; r >= 0 && def->blkiotune.devices && i < def->blkiotune.devices->len; i++)
        r = apply_blkio_device(vm, def->blkiotune.devices->pdata[i], err);
    if (r >= 0 && def->numatune.nodeset && qv_cgroup_has_controller(vm, "cpuset"))
        r = qv_cgroup_write(vm, "cpuset.mems", def->numatune.nodeset, err);
    if (r >= 0 && def->cputune.emulatorpin && qv_cgroup_has_controller(vm, "cpuset")) {
        qv_autoclose int emu = open_child(vm, QV_VMCG_EMULATOR, err);
        r = emu < 0 ? emu : qv_cgroup_write(emu, "cpuset.cpus", def->cputune.emulatorpin, err);
    }
    return r;
}

/* The cpuset a vCPU is pinned to: its <vcpupin>, else <vcpu cpuset>. */
static const char *vcpu_cpuset(const qv_domdef *def, unsigned int index)
{
    for (guint i = 0; def->cputune.vcpupins && i < def->cputune.vcpupins->len; i++) {
        const qv_domdef_pin *p = def->cputune.vcpupins->pdata[i];
        if (p->id == index)
            return p->cpuset;
    }
    return def->vcpu_cpuset;
}

int qv_tune_place_vcpu(const qv_vmcg *cg, const qv_domdef *def, unsigned int index, pid_t tid,
                       qv_error **err)
{
    g_autofree char *name = g_strdup_printf("vcpu%u", index);
    qv_autoclose int fd = -1;
    int r = qv_vmcg_open(cg, name, true, &fd, err);
    if (r < 0 || (r = qv_cgroup_add_thread(fd, tid, err)) < 0)
        return r;
    const char *pin = vcpu_cpuset(def, index);
    if (pin && qv_cgroup_has_controller(fd, "cpuset") &&
        (r = qv_cgroup_write(fd, "cpuset.cpus", pin, err)) < 0)
        return r;
    return write_cpu_max(fd, def->cputune.period, def->cputune.period, def->cputune.quota,
                         def->cputune.quota, err);
}

int qv_tune_place_iothreads(const qv_vmcg *cg, const qv_domdef *def, json_object *list,
                            qv_error **err)
{
    int r = 0;
    for (size_t i = 0; json_object_is_type(list, json_type_array) &&
                       i < json_object_array_length(list); i++) {
        json_object *it = json_object_array_get_idx(list, i);
        const char *id = qv_json_get_str(it, "id");
        long long tid = qv_json_get_int(it, "thread-id", -1);
        /* qvirt names them iothreadN after <iothreads>; others are not ours. */
        if (!id || !g_str_has_prefix(id, "iothread") || !g_ascii_isdigit(id[8]) || tid <= 0)
            continue;
        qv_autoclose int fd = -1;
        if ((r = qv_vmcg_open(cg, id, true, &fd, err)) < 0 ||
            (r = qv_cgroup_add_thread(fd, (pid_t)tid, err)) < 0)
            return r;
        unsigned int n = (unsigned int)g_ascii_strtoull(id + 8, NULL, 10);
        for (guint k = 0; def->cputune.iothreadpins && k < def->cputune.iothreadpins->len; k++) {
            const qv_domdef_pin *p = def->cputune.iothreadpins->pdata[k];
            if (p->id == n && qv_cgroup_has_controller(fd, "cpuset") &&
                (r = qv_cgroup_write(fd, "cpuset.cpus", p->cpuset, err)) < 0)
                return r;
        }
        if ((r = write_cpu_max(fd, def->cputune.iothread_period, def->cputune.iothread_period,
                               def->cputune.iothread_quota, def->cputune.iothread_quota, err)) < 0)
            return r;
    }
    return 0;
}

/* ---- the parameter calls --------------------------------------------------------- */

/* Why a running domain has no cgroup, for the parameter calls' errors. */
static char *why_no_cgroup(qv_conn *conn)
{
    g_autofree char *base = conn_cgroup_base(conn);
    if (!base)
        return g_strdup("no cgroup root is configured for this connection ([cgroup] root= in "
                        "qvirt.conf)");
    g_autofree char *mount = NULL;
    g_autoptr(qv_error) e = NULL;
    if (qv_cgroup_find_v2_mount(NULL, &mount, &e) < 0)
        return g_strdup("no cgroup v2 hierarchy is mounted on this host");
    return g_strdup_printf("it could not be created under %s/%s when the domain started "
                           "(the supervisor's monitor.log says why)", mount, base);
}

/* Opens the running domain's VM group. */
static int open_live_group(qv_domain *dom, const char *what, qv_vmcg *cg, int *fd, qv_error **err)
{
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    if (qv_vmcg_read(dir, cg) < 0 || !cg->mount) {
        g_autofree char *why = why_no_cgroup(dom->conn);
        return qv_error_set(err, -ENOTSUP, "cannot %s of domain '%s' live: it runs without a "
                            "cgroup: %s", what, dom->name, why);
    }
    return qv_vmcg_open(cg, NULL, false, fd, err);
}

/* The skeleton of a set_*_parameters call: the cgroup then the live XML
 * (AFFECT_LIVE), the config (AFFECT_CONFIG), both saved. */
typedef int (*apply_fn)(int vm, const void *params, qv_error **err);
typedef void (*to_def_fn)(qv_domdef *def, const void *params);

static int set_params(qv_domain *dom, unsigned int flags, const char *what, const void *params,
                      apply_fn apply, to_def_fn to_def, qv_error **err)
{
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, flags, &c, err);
    if (r < 0)
        return r;
    if (c.live) {
        g_auto(qv_vmcg) cg = { 0 };
        qv_autoclose int vm = -1;
        if ((r = open_live_group(dom, what, &cg, &vm, err)) < 0 || (r = apply(vm, params, err)) < 0)
            return r;
        to_def(c.live, params);
    }
    if (c.cfg)
        to_def(c.cfg, params);
    return qv_call_save(&c, err);
}

static const struct { unsigned int bit; const char *name; } sched_names[] = {
    { QV_SCHED_CPU_SHARES, "cpu_shares" },
    { QV_SCHED_VCPU_PERIOD, "vcpu_period" },
    { QV_SCHED_VCPU_QUOTA, "vcpu_quota" },
    { QV_SCHED_EMULATOR_PERIOD, "emulator_period" },
    { QV_SCHED_EMULATOR_QUOTA, "emulator_quota" },
    { QV_SCHED_GLOBAL_PERIOD, "global_period" },
    { QV_SCHED_GLOBAL_QUOTA, "global_quota" },
    { QV_SCHED_IOTHREAD_PERIOD, "iothread_period" },
    { QV_SCHED_IOTHREAD_QUOTA, "iothread_quota" },
};

const char *qv_sched_param_name(unsigned int field)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sched_names); i++)
        if (sched_names[i].bit == field)
            return sched_names[i].name;
    return NULL;
}

unsigned int qv_sched_param_field(const char *name)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(sched_names); i++)
        if (!strcmp(sched_names[i].name, name))
            return sched_names[i].bit;
    return 0;
}

static void sched_from_def(const qv_domdef *def, qv_sched_params *s)
{
    const qv_domdef_cputune *t = &def->cputune;
    *s = (qv_sched_params){
        .fields = QV_SCHED_ALL,
        .cpu_shares = t->has_shares ? t->shares : 0,
        .vcpu_period = t->period, .vcpu_quota = t->quota,
        .emulator_period = t->emulator_period, .emulator_quota = t->emulator_quota,
        .global_period = t->global_period, .global_quota = t->global_quota,
        .iothread_period = t->iothread_period, .iothread_quota = t->iothread_quota,
    };
}

static void sched_to_def(qv_domdef *def, const void *params)
{
    const qv_sched_params *s = params;
    qv_domdef_cputune *t = &def->cputune;
    unsigned int f = s->fields;
    if (f & QV_SCHED_CPU_SHARES) {
        t->has_shares = true;
        t->shares = s->cpu_shares;
    }
#define COPY(bit, dst, src) if (f & (bit)) dst = src
    COPY(QV_SCHED_VCPU_PERIOD, t->period, s->vcpu_period);
    COPY(QV_SCHED_VCPU_QUOTA, t->quota, s->vcpu_quota >= QV_SCHED_QUOTA_MAX ? -1 : s->vcpu_quota);
    COPY(QV_SCHED_EMULATOR_PERIOD, t->emulator_period, s->emulator_period);
    COPY(QV_SCHED_EMULATOR_QUOTA, t->emulator_quota,
         s->emulator_quota >= QV_SCHED_QUOTA_MAX ? -1 : s->emulator_quota);
    COPY(QV_SCHED_GLOBAL_PERIOD, t->global_period, s->global_period);
    COPY(QV_SCHED_GLOBAL_QUOTA, t->global_quota,
         s->global_quota >= QV_SCHED_QUOTA_MAX ? -1 : s->global_quota);
    COPY(QV_SCHED_IOTHREAD_PERIOD, t->iothread_period, s->iothread_period);
    COPY(QV_SCHED_IOTHREAD_QUOTA, t->iothread_quota,
         s->iothread_quota >= QV_SCHED_QUOTA_MAX ? -1 : s->iothread_quota);
#undef COPY
}

/* cpu.max of a group as (quota, period); no group, or no limit: quota
 * QV_SCHED_QUOTA_MAX. */
static void read_cpu_max(int fd, unsigned long long *period, long long *quota)
{
    g_autofree char *v = NULL;
    long long q = -1;
    unsigned long long p = 0;
    if (fd >= 0 && qv_cgroup_read(fd, "cpu.max", &v, NULL) == 0)
        qv_cgroup_cpu_max_parse(v, &q, &p, NULL);
    *period = p;
    *quota = q < 0 ? QV_SCHED_QUOTA_MAX : q;
}

static int first_child(int vmfd, const char *prefix)
{
    g_autoptr(GPtrArray) kids = children_named(vmfd, prefix);
    g_ptr_array_sort(kids, (GCompareFunc)g_strcmp0);
    return kids->len ? openat(vmfd, kids->pdata[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

static int sched_from_cgroup(int vm, qv_sched_params *s, qv_error **err)
{
    g_autofree char *w = NULL;
    int r = qv_cgroup_read(vm, "cpu.weight", &w, err);
    if (r < 0)
        return r;
    s->fields = QV_SCHED_ALL;
    s->cpu_shares = g_ascii_strtoull(w, NULL, 10);
    read_cpu_max(vm, &s->global_period, &s->global_quota);
    qv_autoclose int emu = openat(vm, QV_VMCG_EMULATOR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    read_cpu_max(emu, &s->emulator_period, &s->emulator_quota);
    qv_autoclose int vcpu = first_child(vm, "vcpu");
    read_cpu_max(vcpu, &s->vcpu_period, &s->vcpu_quota);
    qv_autoclose int io = first_child(vm, "iothread");
    read_cpu_max(io, &s->iothread_period, &s->iothread_quota);
    if (io < 0)
        s->iothread_period = s->iothread_quota = 0; /* no iothreads: nothing to report */
    return 0;
}

static int check_affect(const char *fn, qv_domain *dom, const void *p, unsigned int flags,
                        qv_error **err)
{
    if (!dom || !p)
        return qv_error_set(err, -EINVAL, "%s: dom and the parameters are required", fn);
    if (flags & ~(unsigned int)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x", fn,
                            flags & ~(unsigned int)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG));
    return 0;
}

int qv_domain_get_scheduler_parameters(qv_domain *dom, qv_sched_params *ret, unsigned int flags,
                                       qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_scheduler_parameters(dom, ret, flags, err));
    int r = check_affect("qv_domain_get_scheduler_parameters", dom, ret, flags, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_look(dom, flags, &c, err)) < 0)
        return r;
    if (c.cfg) {
        sched_from_def(c.cfg, ret);
        return 0;
    }
    g_auto(qv_vmcg) cg = { 0 };
    qv_autoclose int vm = -1;
    if ((r = open_live_group(dom, "read the scheduler parameters", &cg, &vm, err)) < 0)
        return r;
    return sched_from_cgroup(vm, ret, err);
}

static int range_error(qv_error **err, const char *name, const char *range)
{
    return qv_error_set(err, -EINVAL, "%s is out of range: it must be %s", name, range);
}

static int check_sched(const qv_sched_params *s, qv_error **err)
{
    if (s->fields & ~QV_SCHED_ALL)
        return qv_error_set(err, -EINVAL, "set_scheduler_parameters: unknown field bits 0x%x",
                            s->fields & ~QV_SCHED_ALL);
    if ((s->fields & QV_SCHED_CPU_SHARES) &&
        (s->cpu_shares < QV_SCHED_SHARES_MIN || s->cpu_shares > QV_SCHED_SHARES_MAX))
        return range_error(err, "cpu_shares", "between 1 and 10000 (cgroup v2's cpu.weight)");
    const struct { unsigned int bit; unsigned long long v; const char *name; } periods[] = {
        { QV_SCHED_VCPU_PERIOD, s->vcpu_period, "vcpu_period" },
        { QV_SCHED_EMULATOR_PERIOD, s->emulator_period, "emulator_period" },
        { QV_SCHED_GLOBAL_PERIOD, s->global_period, "global_period" },
        { QV_SCHED_IOTHREAD_PERIOD, s->iothread_period, "iothread_period" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(periods); i++)
        if ((s->fields & periods[i].bit) &&
            (periods[i].v < QV_SCHED_PERIOD_MIN || periods[i].v > QV_SCHED_PERIOD_MAX))
            return range_error(err, periods[i].name, "between 1000 and 1000000 microseconds");
    const struct { unsigned int bit; long long v; const char *name; } quotas[] = {
        { QV_SCHED_VCPU_QUOTA, s->vcpu_quota, "vcpu_quota" },
        { QV_SCHED_EMULATOR_QUOTA, s->emulator_quota, "emulator_quota" },
        { QV_SCHED_GLOBAL_QUOTA, s->global_quota, "global_quota" },
        { QV_SCHED_IOTHREAD_QUOTA, s->iothread_quota, "iothread_quota" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(quotas); i++)
        if ((s->fields & quotas[i].bit) && quotas[i].v >= 0 &&
            (quotas[i].v < QV_SCHED_QUOTA_MIN || quotas[i].v > QV_SCHED_QUOTA_MAX))
            return range_error(err, quotas[i].name,
                               "between 1000 and 17592186044415 microseconds, or negative for "
                               "no limit");
    return 0;
}

int qv_domain_set_scheduler_parameters(qv_domain *dom, const qv_sched_params *params,
                                       unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_scheduler_parameters(dom, params, flags, err));
    int r = check_affect("qv_domain_set_scheduler_parameters", dom, params, flags, err);
    if (r < 0 || (r = check_sched(params, err)) < 0)
        return r;
    return set_params(dom, flags, "set the scheduler parameters", params,
                      apply_sched, sched_to_def, err);
}

/* ---- memory ----------------------------------------------------------------------- */

static unsigned long long def_kib(unsigned long long v)
{
    return v && v < QV_DOMDEF_MEMTUNE_UNLIMITED ? v : QV_DOMAIN_MEMORY_PARAM_UNLIMITED;
}

int qv_domain_get_memory_parameters(qv_domain *dom, qv_memory_params *ret, unsigned int flags,
                                    qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_memory_parameters(dom, ret, flags, err));
    int r = check_affect("qv_domain_get_memory_parameters", dom, ret, flags, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_look(dom, flags, &c, err)) < 0)
        return r;
    if (c.cfg) {
        const qv_domdef_memtune *m = &c.cfg->memtune;
        *ret = (qv_memory_params){ QV_MEMORY_ALL, def_kib(m->hard_limit), def_kib(m->soft_limit),
                                   m->min_guarantee < QV_DOMDEF_MEMTUNE_UNLIMITED ? m->min_guarantee : 0,
                                   def_kib(m->swap_hard_limit) };
        return 0;
    }
    g_auto(qv_vmcg) cg = { 0 };
    qv_autoclose int vm = -1;
    if ((r = open_live_group(dom, "read the memory parameters", &cg, &vm, err)) < 0)
        return r;
    const char *files[] = { "memory.max", "memory.high", "memory.min", "memory.swap.max" };
    unsigned long long *dst[] = { &ret->hard_limit, &ret->soft_limit, &ret->min_guarantee,
                                  &ret->swap_hard_limit };
    ret->fields = QV_MEMORY_ALL;
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *v = NULL;
        unsigned long long bytes = 0;
        if ((r = qv_cgroup_read(vm, files[i], &v, err)) < 0 ||
            (r = qv_cgroup_bytes_parse(v, &bytes, err)) < 0)
            return r;
        *dst[i] = bytes == UINT64_MAX ? QV_DOMAIN_MEMORY_PARAM_UNLIMITED : bytes / 1024;
    }
    return 0;
}

static void memory_to_def(qv_domdef *def, const void *params)
{
    const qv_memory_params *m = params;
    qv_domdef_memtune *t = &def->memtune;
    /* The XML leaves an unlimited value out. */
#define SET(bit, dst, v) if (m->fields & (bit)) dst = (v) >= QV_DOMAIN_MEMORY_PARAM_UNLIMITED ? 0 : (v)
    SET(QV_MEMORY_HARD_LIMIT, t->hard_limit, m->hard_limit);
    SET(QV_MEMORY_SOFT_LIMIT, t->soft_limit, m->soft_limit);
    SET(QV_MEMORY_SWAP_HARD_LIMIT, t->swap_hard_limit, m->swap_hard_limit);
    SET(QV_MEMORY_MIN_GUARANTEE, t->min_guarantee, m->min_guarantee);
#undef SET
}

int qv_domain_set_memory_parameters(qv_domain *dom, const qv_memory_params *params,
                                    unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_memory_parameters(dom, params, flags, err));
    int r = check_affect("qv_domain_set_memory_parameters", dom, params, flags, err);
    if (r < 0)
        return r;
    if (params->fields & ~QV_MEMORY_ALL)
        return qv_error_set(err, -EINVAL, "set_memory_parameters: unknown field bits 0x%x",
                            params->fields & ~QV_MEMORY_ALL);
    const struct { unsigned int bit; unsigned long long v; const char *name; } vals[] = {
        { QV_MEMORY_HARD_LIMIT, params->hard_limit, "hard_limit" },
        { QV_MEMORY_SOFT_LIMIT, params->soft_limit, "soft_limit" },
        { QV_MEMORY_SWAP_HARD_LIMIT, params->swap_hard_limit, "swap_hard_limit" },
        { QV_MEMORY_MIN_GUARANTEE, params->min_guarantee, "min_guarantee" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(vals); i++)
        if ((params->fields & vals[i].bit) && vals[i].v > QV_DOMAIN_MEMORY_PARAM_UNLIMITED)
            return range_error(err, vals[i].name, "at most 9007199254740991 KiB (unlimited)");
    return set_params(dom, flags, "set the memory parameters", params,
                      apply_memory, memory_to_def, err);
}

/* ---- blkio -------------------------------------------------------------------------- */

void qv_blkio_params_clear(qv_blkio_params *p)
{
    if (!p)
        return;
    free(p->device_weight);
    free(p->device_read_iops_sec);
    free(p->device_write_iops_sec);
    free(p->device_read_bytes_sec);
    free(p->device_write_bytes_sec);
    memset(p, 0, sizeof(*p));
}

/* The device lists, by QV_BLKIO_DEVICE_* bit: their names and where each
 * keeps its value in a device of the XML. */
static const struct blkio_list {
    unsigned int bit;
    const char *name;
    size_t param_off;   /* in qv_blkio_params */
} blkio_lists[] = {
    { QV_BLKIO_DEVICE_WEIGHT, "device_weight", offsetof(qv_blkio_params, device_weight) },
    { QV_BLKIO_DEVICE_READ_IOPS, "device_read_iops_sec", offsetof(qv_blkio_params, device_read_iops_sec) },
    { QV_BLKIO_DEVICE_WRITE_IOPS, "device_write_iops_sec", offsetof(qv_blkio_params, device_write_iops_sec) },
    { QV_BLKIO_DEVICE_READ_BPS, "device_read_bytes_sec", offsetof(qv_blkio_params, device_read_bytes_sec) },
    { QV_BLKIO_DEVICE_WRITE_BPS, "device_write_bytes_sec", offsetof(qv_blkio_params, device_write_bytes_sec) },
};

static unsigned long long *device_value(qv_domdef_blkio_device *d, unsigned int bit,
                                        unsigned long long *weight_tmp)
{
    switch (bit) {
    case QV_BLKIO_DEVICE_READ_IOPS: return &d->read_iops_sec;
    case QV_BLKIO_DEVICE_WRITE_IOPS: return &d->write_iops_sec;
    case QV_BLKIO_DEVICE_READ_BPS: return &d->read_bytes_sec;
    case QV_BLKIO_DEVICE_WRITE_BPS: return &d->write_bytes_sec;
    default:
        *weight_tmp = d->weight;
        return weight_tmp;
    }
}

static char **param_list(const qv_blkio_params *p, const struct blkio_list *l)
{
    return (char **)(void *)((char *)(void *)p + l->param_off);
}

static void blkio_from_def(const qv_domdef *def, qv_blkio_params *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->fields = QV_BLKIO_ALL;
    ret->weight = def->blkiotune.weight;
    for (size_t k = 0; k < G_N_ELEMENTS(blkio_lists); k++) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (guint i = 0; def->blkiotune.devices && i < def->blkiotune.devices->len; i++) {
            qv_domdef_blkio_device *d = def->blkiotune.devices->pdata[i];
            unsigned long long tmp, *v = device_value(d, blkio_lists[k].bit, &tmp);
            if (*v)
                g_string_append_printf(s, "%s%s,%llu", s->len ? "," : "", d->path, *v);
        }
        *param_list(ret, &blkio_lists[k]) = strdup(s->str);
    }
}

/* Parses "PATH,VALUE,..." of one list. */
static int parse_device_list(const char *name, const char *list, GPtrArray **ret, qv_error **err)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);
    guint n = g_strv_length(parts);
    if (n == 1 && !parts[0][0])
        n = 0;
    if (n % 2)
        return qv_error_set(err, -EINVAL, "%s '%s' must be PATH,VALUE pairs separated by commas",
                            name, list);
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < n; i += 2) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = g_ascii_strtoull(parts[i + 1], &end, 10);
        if (!parts[i][0] || !g_ascii_isdigit(parts[i + 1][0]) || errno || *end) {
            g_ptr_array_free(out, TRUE);
            return qv_error_set(err, -EINVAL, "%s: '%s' is not a device path followed by a "
                                "number", name, parts[i]);
        }
        if (!strcmp(name, "device_weight") && v && (v < 100 || v > 1000)) {
            g_ptr_array_free(out, TRUE);
            return range_error(err, "device_weight", "between 100 and 1000, or 0 to remove it");
        }
        g_ptr_array_add(out, g_strdup(parts[i]));
        g_ptr_array_add(out, g_memdup2(&v, sizeof(v)));
    }
    *ret = out;
    return 0;
}

static void blkio_device_free(void *p)
{
    qv_domdef_blkio_device *d = p;
    g_free(d->path);
    g_free(d);
}

static qv_domdef_blkio_device *find_or_add_device(qv_domdef *def, const char *path)
{
    if (!def->blkiotune.devices)
        def->blkiotune.devices = g_ptr_array_new_with_free_func(blkio_device_free);
    for (guint i = 0; i < def->blkiotune.devices->len; i++) {
        qv_domdef_blkio_device *d = def->blkiotune.devices->pdata[i];
        if (!strcmp(d->path, path))
            return d;
    }
    qv_domdef_blkio_device *d = g_new0(qv_domdef_blkio_device, 1);
    d->path = g_strdup(path);
    g_ptr_array_add(def->blkiotune.devices, d);
    return d;
}

/* Applies params to def, and (vm >= 0) to the cgroup, device by device. */
static int blkio_apply(qv_domdef *def, int vm, const qv_blkio_params *p, qv_error **err)
{
    int r;
    if (p->fields & QV_BLKIO_WEIGHT) {
        if (vm >= 0 && (r = apply_blkio_weight(vm, p->weight, err)) < 0)
            return r;
        def->blkiotune.weight = p->weight;
    }
    g_autoptr(GPtrArray) touched = g_ptr_array_new();
    for (size_t k = 0; k < G_N_ELEMENTS(blkio_lists); k++) {
        const char *list = *param_list(p, &blkio_lists[k]);
        if (!(p->fields & blkio_lists[k].bit) || !list)
            continue;
        g_autoptr(GPtrArray) pairs = NULL;
        if ((r = parse_device_list(blkio_lists[k].name, list, &pairs, err)) < 0)
            return r;
        for (guint i = 0; i < pairs->len; i += 2) {
            unsigned long long v = *(unsigned long long *)pairs->pdata[i + 1];
            qv_domdef_blkio_device *d = find_or_add_device(def, pairs->pdata[i]);
            unsigned long long tmp, *dst = device_value(d, blkio_lists[k].bit, &tmp);
            *dst = v;
            if (dst == &tmp)
                d->weight = (unsigned int)v;
            g_ptr_array_add(touched, d);
        }
    }
    for (guint i = 0; vm >= 0 && i < touched->len; i++)
        if ((r = apply_blkio_device(vm, touched->pdata[i], err)) < 0)
            return r;
    /* Devices left with nothing set leave the XML. */
    for (guint i = 0; def->blkiotune.devices && i < def->blkiotune.devices->len;) {
        qv_domdef_blkio_device *d = def->blkiotune.devices->pdata[i];
        if (!d->weight && !d->read_bytes_sec && !d->write_bytes_sec && !d->read_iops_sec &&
            !d->write_iops_sec)
            g_ptr_array_remove_index(def->blkiotune.devices, i);
        else
            i++;
    }
    return 0;
}

int qv_domain_get_blkio_parameters(qv_domain *dom, qv_blkio_params *ret, unsigned int flags,
                                   qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_blkio_parameters(dom, ret, flags, err));
    int r = check_affect("qv_domain_get_blkio_parameters", dom, ret, flags, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_look(dom, flags, &c, err)) < 0)
        return r;
    blkio_from_def(c.cfg ? c.cfg : c.live, ret);
    if (c.cfg)
        return 0;
    /* The weight as the cgroup has it; the devices as the live XML keeps them. */
    g_auto(qv_vmcg) cg = { 0 };
    qv_autoclose int vm = -1;
    g_autofree char *w = NULL;
    if ((r = open_live_group(dom, "read the blkio parameters", &cg, &vm, err)) < 0 ||
        (r = qv_cgroup_read(vm, weight_file(vm), &w, err)) < 0) {
        qv_blkio_params_clear(ret);
        return r;
    }
    g_autofree char *def_line = qv_cgroup_keyed_line(w, "default");
    ret->weight = (unsigned int)g_ascii_strtoull(def_line ? def_line : w, NULL, 10);
    return 0;
}

int qv_domain_set_blkio_parameters(qv_domain *dom, const qv_blkio_params *params,
                                   unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_blkio_parameters(dom, params, flags, err));
    int r = check_affect("qv_domain_set_blkio_parameters", dom, params, flags, err);
    if (r < 0)
        return r;
    if (params->fields & ~QV_BLKIO_ALL)
        return qv_error_set(err, -EINVAL, "set_blkio_parameters: unknown field bits 0x%x",
                            params->fields & ~QV_BLKIO_ALL);
    if ((params->fields & QV_BLKIO_WEIGHT) && (params->weight < 100 || params->weight > 1000))
        return range_error(err, "weight", "between 100 and 1000");
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_begin(dom, flags, &c, err)) < 0)
        return r;
    if (c.live) {
        g_auto(qv_vmcg) cg = { 0 };
        qv_autoclose int vm = -1;
        if ((r = open_live_group(dom, "set the blkio parameters", &cg, &vm, err)) < 0 ||
            (r = blkio_apply(c.live, vm, params, err)) < 0)
            return r;
    }
    if (c.cfg && (r = blkio_apply(c.cfg, -1, params, err)) < 0)
        return r;
    return qv_call_save(&c, err);
}

/* ---- NUMA ------------------------------------------------------------------------------ */

static const char *const numa_modes[] = { "strict", "preferred", "interleave", "restrictive" };

void qv_numa_params_clear(qv_numa_params *p)
{
    if (!p)
        return;
    free(p->nodeset);
    memset(p, 0, sizeof(*p));
}

static int numa_mode_of(const qv_domdef *def)
{
    for (int i = 0; def->numatune.mode && i < (int)G_N_ELEMENTS(numa_modes); i++)
        if (!strcmp(def->numatune.mode, numa_modes[i]))
            return i;
    return QV_DOMAIN_NUMATUNE_MEM_STRICT;
}

int qv_domain_get_numa_parameters(qv_domain *dom, qv_numa_params *ret, unsigned int flags,
                                  qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_numa_parameters(dom, ret, flags, err));
    int r = check_affect("qv_domain_get_numa_parameters", dom, ret, flags, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_look(dom, flags, &c, err)) < 0)
        return r;
    const qv_domdef *def = c.cfg ? c.cfg : c.live;
    ret->fields = QV_NUMA_ALL;
    ret->mode = numa_mode_of(def);
    ret->nodeset = strdup(def->numatune.nodeset ? def->numatune.nodeset : "");
    if (c.cfg)
        return 0;
    g_auto(qv_vmcg) cg = { 0 };
    qv_autoclose int vm = -1;
    g_autofree char *mems = NULL;
    if ((r = open_live_group(dom, "read the NUMA parameters", &cg, &vm, err)) < 0 ||
        (r = qv_cgroup_read(vm, "cpuset.mems", &mems, err)) < 0) {
        qv_numa_params_clear(ret);
        return r;
    }
    free(ret->nodeset);
    ret->nodeset = strdup(mems);
    return 0;
}

int qv_domain_set_numa_parameters(qv_domain *dom, const qv_numa_params *params,
                                  unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_numa_parameters(dom, params, flags, err));
    int r = check_affect("qv_domain_set_numa_parameters", dom, params, flags, err);
    if (r < 0)
        return r;
    if (params->fields & ~QV_NUMA_ALL)
        return qv_error_set(err, -EINVAL, "set_numa_parameters: unknown field bits 0x%x",
                            params->fields & ~QV_NUMA_ALL);
    if ((params->fields & QV_NUMA_MODE) &&
        (params->mode < 0 || params->mode >= (int)G_N_ELEMENTS(numa_modes)))
        return range_error(err, "numa_mode", "0 (strict), 1 (preferred), 2 (interleave) or 3 "
                           "(restrictive)");
    g_autofree char *nodeset = NULL;
    if ((params->fields & QV_NUMA_NODESET) && params->nodeset && params->nodeset[0] &&
        qv_cpuset_canonicalise(params->nodeset, &nodeset) < 0)
        return qv_error_set(err, -EINVAL, "numa_nodeset '%s' is not a list of NUMA nodes "
                            "(as \"0-1,3\")", params->nodeset);
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = qv_domain_begin(dom, flags, &c, err)) < 0)
        return r;
    if (c.live) {
        if ((params->fields & QV_NUMA_MODE) && params->mode != numa_mode_of(c.live))
            return qv_error_set(err, -EOPNOTSUPP, "cannot change the NUMA mode of running "
                                "domain '%s' (QEMU's memory policy is set at start); change it "
                                "in the config", dom->name);
        if (params->fields & QV_NUMA_NODESET) {
            g_auto(qv_vmcg) cg = { 0 };
            qv_autoclose int vm = -1;
            g_autoptr(qv_error) e = NULL;
            if ((r = open_live_group(dom, "set the NUMA parameters", &cg, &vm, err)) < 0)
                return r;
            if ((r = qv_cgroup_write(vm, "cpuset.mems", nodeset ? nodeset : "", &e)) < 0)
                return qv_error_set(err, r, "the kernel refused NUMA nodes '%s' for domain "
                                    "'%s' (%s)", nodeset ? nodeset : "", dom->name,
                                    qv_error_message(e));
            g_free(c.live->numatune.nodeset);
            c.live->numatune.nodeset = g_strdup(nodeset);
        }
    }
    if (c.cfg) {
        if (params->fields & QV_NUMA_MODE) {
            g_free(c.cfg->numatune.mode);
            c.cfg->numatune.mode = g_strdup(numa_modes[params->mode]);
        }
        if (params->fields & QV_NUMA_NODESET) {
            g_free(c.cfg->numatune.nodeset);
            c.cfg->numatune.nodeset = g_strdup(nodeset);
        }
        c.cfg->numatune.has_memory = c.cfg->numatune.mode || c.cfg->numatune.nodeset;
    }
    return qv_call_save(&c, err);
}

/* ---- CPU accounting ---------------------------------------------------------------------- */

/* The vCPU thread ids of a running domain. */
static int vcpu_tids(qv_domain *dom, GArray **ret, qv_error **err)
{
    g_autoptr(json_object) cpus = NULL;
    int r = qv_domain_qmp_call(dom, "query-cpus-fast", NULL, &cpus, err);
    if (r < 0)
        return r;
    GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
    for (size_t i = 0; json_object_is_type(cpus, json_type_array) &&
                       i < json_object_array_length(cpus); i++) {
        long long tid = qv_json_get_int(json_object_array_get_idx(cpus, i), "thread-id", -1);
        if (tid > 0) {
            pid_t t = (pid_t)tid;
            g_array_append_val(a, t);
        }
    }
    *ret = a;
    return 0;
}

static bool is_in(GArray *tids, pid_t t)
{
    for (guint i = 0; i < tids->len; i++)
        if (g_array_index(tids, pid_t, i) == t)
            return true;
    return false;
}

/* Each QEMU thread's time (utime + stime) and the CPU it last ran on. */
typedef struct thread_time { pid_t tid; unsigned long long ns; int cpu; bool vcpu; } thread_time;

static GArray *qemu_thread_times(pid_t pid, GArray *vcpus)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(thread_time));
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        pid_t tid = (pid_t)g_ascii_strtoll(n, NULL, 10);
        qv_proc_stat st;
        if (tid <= 0 || qv_proc_stat_read(pid, tid, &st) < 0)
            continue;
        thread_time t = { tid, qv_proc_ticks_to_ns(st.utime + st.stime), st.processor,
                          is_in(vcpus, tid) };
        g_array_append_val(out, t);
    }
    return out;
}

int qv_domain_get_cpu_stats(qv_domain *dom, qv_cpu_stats *stats, int start_cpu,
                            unsigned int ncpus, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_cpu_stats(dom, stats, start_cpu, ncpus, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_get_cpu_stats: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_cpu_stats: flags must be 0");
    int host_cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
    if (!stats && ncpus == 0)
        return host_cpus;
    if (!stats || start_cpu < -1 || (start_cpu == -1 && ncpus != 1))
        return qv_error_set(err, -EINVAL, "qv_domain_get_cpu_stats: stats and ncpus are required "
                            "(ncpus 1 with start_cpu -1 for the totals)");
    if (start_cpu >= host_cpus)
        return qv_error_set(err, -EINVAL, "start CPU %d is out of range: the host has %d CPUs",
                            start_cpu, host_cpus);
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    g_autoptr(GArray) vcpus = NULL;
    if (r < 0 || (r = vcpu_tids(dom, &vcpus, err)) < 0)
        return r;
    g_autoptr(GArray) times = qemu_thread_times(act.status.qemu_pid, vcpus);
    if (start_cpu == -1) {
        memset(stats, 0, sizeof(*stats));
        for (guint i = 0; i < times->len; i++) {
            const thread_time *t = &g_array_index(times, thread_time, i);
            if (t->vcpu)
                stats->vcpu_time += t->ns;
        }
        /* The VM group's cpu.stat when there is one (it counts the threads
         * that ended, swtpm and the supervisor too), else QEMU's /proc. */
        g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
        g_auto(qv_vmcg) cg = { 0 };
        qv_autoclose int vm = -1;
        g_autofree char *text = NULL;
        unsigned long long usage, user, sys;
        if (qv_vmcg_read(dir, &cg) == 0 && cg.mount &&
            qv_vmcg_open(&cg, NULL, false, &vm, NULL) == 0 &&
            qv_cgroup_read(vm, "cpu.stat", &text, NULL) == 0 &&
            qv_cgroup_keyed_value(text, "usage_usec", &usage) == 0 &&
            qv_cgroup_keyed_value(text, "user_usec", &user) == 0 &&
            qv_cgroup_keyed_value(text, "system_usec", &sys) == 0) {
            stats->cpu_time = usage * 1000;
            stats->user_time = user * 1000;
            stats->system_time = sys * 1000;
        } else {
            qv_proc_stat st;
            if (qv_proc_stat_read(act.status.qemu_pid, 0, &st) < 0)
                return qv_error_set(err, -ESRCH, "cannot read QEMU's CPU time (pid %d)",
                                    (int)act.status.qemu_pid);
            stats->user_time = qv_proc_ticks_to_ns(st.utime);
            stats->system_time = qv_proc_ticks_to_ns(st.stime);
            stats->cpu_time = stats->user_time + stats->system_time;
        }
        return 1;
    }
    int n = (int)MIN(ncpus, (unsigned int)(host_cpus - start_cpu));
    memset(stats, 0, sizeof(*stats) * (size_t)n);
    for (guint i = 0; i < times->len; i++) {
        const thread_time *t = &g_array_index(times, thread_time, i);
        if (t->cpu < start_cpu || t->cpu >= start_cpu + n)
            continue;
        stats[t->cpu - start_cpu].cpu_time += t->ns;
        if (t->vcpu)
            stats[t->cpu - start_cpu].vcpu_time += t->ns;
    }
    return n;
}

int qv_tune_pin_group(qv_domain *dom, int vcpu, const unsigned char *cpumap, int maplen,
                      qv_error **err)
{
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_auto(qv_vmcg) cg = { 0 };
    if (qv_vmcg_read(dir, &cg) < 0 || !cg.mount)
        return 0;
    g_autofree char *child = vcpu >= 0 ? g_strdup_printf("vcpu%d", vcpu) : g_strdup(QV_VMCG_EMULATOR);
    qv_autoclose int fd = -1;
    int r = qv_vmcg_open(&cg, child, false, &fd, err);
    if (r < 0 || !qv_cgroup_has_controller(fd, "cpuset"))
        return r;
    g_autofree char *list = qv_cpumap_format(cpumap, maplen);
    return qv_cgroup_write(fd, "cpuset.cpus", list, err);
}
