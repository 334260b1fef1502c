/* Domains on a real cgroup v2 hierarchy (run inside the TCG guest of
 * scripts/cgroup2-vm, whose root has every controller enabled): placement
 * from QEMU's first instruction, the per-thread groups, the tunables at
 * start and live, a CPU limit measured on a spinning vCPU, and no group
 * left behind however the domain ends.
 *
 * The guest's firmware is 64 KiB whose reset vector jumps to itself: its
 * one vCPU spins at 100%, a load whose share of a CPU is easy to measure,
 * and QEMU needs no kernel or disk. */
#include <errno.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qvirt/qvirt.h>

#define CGROOT "/sys/fs/cgroup"
#define MACHINE CGROOT "/machine"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_error, qv_error_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static char *root, *uri, *bios;
static qv_conn *conn;

static void skip_without_v2(void)
{
    if (geteuid() != 0)
        cr_skip_test("the cgroup tests of a root caller (this run is an ordinary user's)");
    g_autofree char *ctrl = NULL;
    if (!g_file_get_contents(CGROOT "/cgroup.controllers", &ctrl, NULL, NULL) ||
        !strstr(ctrl, "cpu") || !strstr(ctrl, "memory"))
        cr_skip_test("no cgroup v2 hierarchy with cpu and memory at " CGROOT
                     " (run through scripts/cgroup2-vm)");
}

static void setup(void)
{
    root = g_dir_make_tmp("qvcg2-XXXXXX", NULL);
    g_chmod(root, 0755);
    uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    /* The spinning firmware: the reset vector (16 bytes from the end) is
     * "jmp $". Readable by QEMU's user. */
    bios = g_build_filename(root, "spin.bin", NULL);
    g_autofree unsigned char *rom = g_malloc0(65536);
    rom[65536 - 16] = 0xeb;
    rom[65536 - 15] = 0xfe;
    cr_assert(g_file_set_contents(bios, (const char *)rom, 65536, NULL));
    g_chmod(bios, 0644);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0, "%s", err ? qv_error_message(err) : "");
}

static void teardown(void)
{
    qv_conn_close(conn);
    g_free(uri);
    g_free(bios);
    g_free(root);
}

TestSuite(cgroup2, .init = setup, .fini = teardown, .timeout = 240);

static char *domain_xml(const char *name, const char *tune)
{
    return g_strdup_printf(
        "<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type><loader type='rom'>%s</loader></os>"
        "%s<devices><memballoon model='none'/></devices></domain>", name, bios, tune ? tune : "");
}

static qv_domain *start(const char *name, const char *tune)
{
    g_autofree char *xml = domain_xml(name, tune);
    g_autoptr(qv_error) err = NULL;
    qv_domain *dom = NULL;
    cr_assert_eq(qv_conn_define_domain(conn, xml, 0, &dom, &err), 0, "%s", err ? qv_error_message(err) : "");
    cr_assert_eq(qv_domain_create(dom, 0, &err), 0, "%s", err ? qv_error_message(err) : "");
    return dom;
}

static bool under_systemd(void)
{
    g_autofree char *comm = NULL;
    return g_file_get_contents("/proc/1/comm", &comm, NULL, NULL) &&
           !strcmp(g_strchomp(comm), "systemd");
}

/* The VM group of domain name: machine/<name>.qvirt-<hash> (embed root),
 * or under systemd machine.slice/qvirt-<name>-<hash>.scope/qvirt. */
static char *vm_group(const char *name)
{
    bool sd = under_systemd();
    const char *dir = sd ? CGROOT "/machine.slice" : MACHINE;
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autofree char *prefix = sd ? g_strdup_printf("qvirt-%s-", name)
                                 : g_strdup_printf("%s.qvirt-", name);
    const char *n;
    while (d && (n = g_dir_read_name(d)))
        if (g_str_has_prefix(n, prefix) && (!sd || g_str_has_suffix(n, ".scope")))
            return sd ? g_build_filename(dir, n, "qvirt", NULL) : g_build_filename(dir, n, NULL);
    return NULL;
}

static char *read_text(const char *dir, const char *file)
{
    g_autofree char *p = g_build_filename(dir, file, NULL);
    char *t = NULL;
    cr_assert(g_file_get_contents(p, &t, NULL, NULL), "cannot read %s", p);
    return g_strchomp(t);
}

/* pid from the run's status.json (white-box). */
static pid_t status_pid(const char *name, const char *field)
{
    g_autofree char *path = g_build_filename(root, "run", "domains", name, "status.json", NULL);
    g_autofree char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL), "no %s", path);
    json_object *o = json_tokener_parse(text);
    json_object *v = NULL;
    cr_assert(json_object_object_get_ex(o, field, &v), "no %s in %s", field, text);
    pid_t pid = (pid_t)json_object_get_int(v);
    json_object_put(o);
    return pid;
}

/* The cgroup (v2 line of /proc/PID/task/TID/cgroup) of a thread. */
static char *thread_cgroup(pid_t pid, pid_t tid)
{
    g_autofree char *p = g_strdup_printf("/proc/%d/task/%d/cgroup", (int)pid, (int)tid);
    g_autofree char *t = NULL;
    cr_assert(g_file_get_contents(p, &t, NULL, NULL));
    char *line = strstr(t, "0::");
    cr_assert_not_null(line);
    return g_strdup(g_strchomp(line + 3));
}

/* The thread of QEMU whose cgroup ends with suffix ("/vcpu0"). */
static pid_t thread_in(pid_t pid, const char *suffix)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        pid_t tid = (pid_t)atoi(n);
        g_autofree char *cg = thread_cgroup(pid, tid);
        if (g_str_has_suffix(cg, suffix))
            return tid;
    }
    return 0;
}

/* Waits for a cgroup directory to go: its parent's inotify watch sees the
 * rmdir (the supervisor's, or systemd's when it collects a scope). */
static bool wait_gone(const char *path, int ms)
{
    g_autofree char *parent = g_path_get_dirname(path);
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    cr_assert_geq(in, 0);
    if (inotify_add_watch(in, parent, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
        close(in);   /* the parent went too (systemd collected the scope) */
        return !g_file_test(path, G_FILE_TEST_EXISTS);
    }
    gint64 end = g_get_monotonic_time() + ms * 1000LL;
    bool gone;
    while (!(gone = !g_file_test(path, G_FILE_TEST_EXISTS))) {
        gint64 left = (end - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            break;
        struct pollfd p = { in, POLLIN, 0 };
        if (poll(&p, 1, (int)left) > 0) {
            char buf[4096];
            while (read(in, buf, sizeof(buf)) > 0) {
            }
        }
    }
    close(in);
    return gone;
}

/* What is still in a cgroup tree: "path: pids" lines, for failure messages. */
static void describe_tree(GString *out, const char *dir)
{
    g_autofree char *procs = NULL;
    g_autofree char *pf = g_build_filename(dir, "cgroup.threads", NULL);
    if (g_file_get_contents(pf, &procs, NULL, NULL))
        g_string_append_printf(out, "%s: [%s] ", dir, g_strchomp(procs));
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *sub = g_build_filename(dir, n, NULL);
        if (g_file_test(sub, G_FILE_TEST_IS_DIR))
            describe_tree(out, sub);
    }
}

static char *left_in(const char *dir)
{
    GString *s = g_string_new(NULL);
    describe_tree(s, dir);
    return g_string_free(s, FALSE);
}

static unsigned long long thread_ticks(pid_t pid, pid_t tid)
{
    g_autofree char *p = g_strdup_printf("/proc/%d/task/%d/stat", (int)pid, (int)tid);
    g_autofree char *t = NULL;
    cr_assert(g_file_get_contents(p, &t, NULL, NULL));
    const char *close_paren = strrchr(t, ')');
    unsigned long long ut = 0, st = 0;
    /* after ") S": fields 4.. ; utime is field 14, stime 15 */
    cr_assert_eq(sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                        &ut, &st), 2);
    return ut + st;
}

/* The share of one CPU the thread used over a second. */
static double cpu_share(pid_t pid, pid_t tid)
{
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long t0 = thread_ticks(pid, tid);
    gint64 w0 = g_get_monotonic_time();
    /* The measurement window itself: the time the share is taken over. */
    poll(NULL, 0, 2000);
    unsigned long long t1 = thread_ticks(pid, tid);
    double wall = (double)(g_get_monotonic_time() - w0) / G_USEC_PER_SEC;
    return (double)(t1 - t0) / (double)hz / wall;
}

Test(cgroup2, qemu_runs_in_its_groups_from_the_start)
{
    skip_without_v2();
    g_autoptr(qv_domain) dom = start("place", NULL);
    g_autofree char *vm = vm_group("place");
    cr_assert_not_null(vm, "no VM group under " MACHINE);
    pid_t qemu = status_pid("place", "qemu_pid"), mon = status_pid("place", "monitor_pid");
    g_autofree char *qcg = thread_cgroup(qemu, qemu), *mcg = thread_cgroup(mon, mon);
    cr_assert(g_str_has_suffix(qcg, "/emulator"), "QEMU's main thread is in %s", qcg);
    cr_assert(g_str_has_suffix(mcg, "/supervisor"), "the supervisor is in %s", mcg);
    pid_t vcpu = thread_in(qemu, "/vcpu0");
    cr_assert_gt(vcpu, 0, "no QEMU thread in vcpu0");
    g_autofree char *vdir = g_build_filename(vm, "vcpu0", NULL);
    g_autofree char *type = read_text(vdir, "cgroup.type"), *vmtype = read_text(vm, "cgroup.type");
    cr_assert_str_eq(type, "threaded");
    cr_assert_str_eq(vmtype, "domain threaded");
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domain_destroy(dom, 0, &err), 0);
    cr_assert(wait_gone(vm, 5000), "%s is left after destroy", vm);
    if (under_systemd()) {
        /* systemd collects the scope once it is empty. */
        g_autofree char *scope = g_path_get_dirname(vm);
        cr_assert(wait_gone(scope, 10000), "%s is left after destroy", scope);
    }
}

Test(cgroup2, under_systemd_a_scope_and_a_machine)
{
    skip_without_v2();
    if (!under_systemd())
        cr_skip_test("PID 1 is not systemd (run through scripts/cgroup2-vm --systemd)");
    g_autoptr(qv_domain) dom = start("sdm", "<memtune><hard_limit unit='MiB'>200</hard_limit></memtune>");
    g_autofree char *vm = vm_group("sdm");
    cr_assert_not_null(vm, "no machine.slice/qvirt-sdm-*.scope/qvirt");
    g_autofree char *scope = g_path_get_dirname(vm);
    g_autofree char *unit = g_path_get_basename(scope);
    pid_t qemu = status_pid("sdm", "qemu_pid"), mon = status_pid("sdm", "monitor_pid");
    g_autofree char *qcg = thread_cgroup(qemu, qemu), *mcg = thread_cgroup(mon, mon);
    g_autofree char *want_q = g_strdup_printf("/machine.slice/%s/qvirt/emulator", unit);
    g_autofree char *want_m = g_strdup_printf("/machine.slice/%s/qvirt/supervisor", unit);
    cr_assert_str_eq(qcg, want_q);
    cr_assert_str_eq(mcg, want_m);
    g_autofree char *max = read_text(vm, "memory.max");
    cr_assert_str_eq(max, "209715200");
    /* systemd's view: the scope is delegated, and machined knows the VM. */
    g_autofree char *show = NULL, *list = NULL;
    const char *sc[] = { "systemctl", "show", "-p", "Delegate", "-p", "ActiveState", unit, NULL };
    cr_assert(g_spawn_sync(NULL, (char **)sc, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &show, NULL,
                           NULL, NULL));
    cr_assert(strstr(show, "Delegate=yes") && strstr(show, "ActiveState=active"), "%s", show);
    const char *mc[] = { "machinectl", "list", "--no-legend", NULL };
    cr_assert(g_spawn_sync(NULL, (char **)mc, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &list, NULL,
                           NULL, NULL));
    cr_assert(strstr(list, "qvirt-sdm-") && strstr(list, "vm"), "machinectl list: %s", list);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domain_destroy(dom, 0, &err), 0);
    bool gone = wait_gone(scope, 30000); /* systemd collects it: slow under load */
    g_autofree char *left = gone ? NULL : left_in(scope);
    cr_assert(gone, "%s is left after destroy: %s", scope, left);
}

Test(cgroup2, a_vcpu_quota_limits_the_spinning_vcpu)
{
    skip_without_v2();
    g_autoptr(qv_domain) dom = start("spin", NULL);
    pid_t qemu = status_pid("spin", "qemu_pid");
    pid_t vcpu = thread_in(qemu, "/vcpu0");
    cr_assert_gt(vcpu, 0);
    double free_share = cpu_share(qemu, vcpu);
    cr_assert_gt(free_share, 0.4, "the unlimited vCPU used only %.0f%% of a CPU", free_share * 100);
    qv_sched_params s = { .fields = QV_SCHED_VCPU_PERIOD | QV_SCHED_VCPU_QUOTA,
                          .vcpu_period = 100000, .vcpu_quota = 10000 };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domain_set_scheduler_parameters(dom, &s, QV_DOMAIN_AFFECT_LIVE, &err), 0,
                 "%s", err ? qv_error_message(err) : "");
    g_autofree char *vm = vm_group("spin");
    g_autofree char *vdir = g_build_filename(vm, "vcpu0", NULL);
    g_autofree char *max = read_text(vdir, "cpu.max");
    cr_assert_str_eq(max, "10000 100000");
    double limited = cpu_share(qemu, vcpu);
    cr_assert(limited > 0.03 && limited < 0.2, "under a 10%% cpu.max the vCPU used %.1f%%",
              limited * 100);
    qv_sched_params got;
    cr_assert_eq(qv_domain_get_scheduler_parameters(dom, &got, QV_DOMAIN_AFFECT_LIVE, &err), 0);
    cr_assert_eq(got.vcpu_quota, 10000);
    cr_assert_eq(got.vcpu_period, 100000);
    cr_assert_eq(got.global_quota, QV_SCHED_QUOTA_MAX);
    qv_domain_destroy(dom, 0, NULL);
}

Test(cgroup2, tunables_from_the_xml_apply_at_start)
{
    skip_without_v2();
    g_autoptr(qv_domain) dom = start("tuned",
        "<cputune><shares>300</shares><emulator_period>20000</emulator_period>"
        "<emulator_quota>10000</emulator_quota></cputune>"
        "<memtune><hard_limit unit='MiB'>300</hard_limit></memtune>"
        "<blkiotune><weight>300</weight></blkiotune>");
    g_autofree char *vm = vm_group("tuned");
    g_autofree char *w = read_text(vm, "cpu.weight"), *m = read_text(vm, "memory.max");
    cr_assert_str_eq(w, "300");
    cr_assert_str_eq(m, "314572800");
    g_autofree char *iow = g_file_test(MACHINE "/../io.bfq.weight", G_FILE_TEST_EXISTS)
                               ? read_text(vm, "io.bfq.weight") : read_text(vm, "io.weight");
    cr_assert(strstr(iow, "default 300"), "io weight: %s", iow);
    g_autofree char *edir = g_build_filename(vm, "emulator", NULL);
    g_autofree char *e = read_text(edir, "cpu.max");
    cr_assert_str_eq(e, "10000 20000");

    /* Live changes read back through the API and in the files. */
    g_autoptr(qv_error) err = NULL;
    qv_memory_params mp = { .fields = QV_MEMORY_HARD_LIMIT | QV_MEMORY_SOFT_LIMIT,
                            .hard_limit = 400 * 1024,
                            .soft_limit = QV_DOMAIN_MEMORY_PARAM_UNLIMITED };
    cr_assert_eq(qv_domain_set_memory_parameters(dom, &mp, QV_DOMAIN_AFFECT_LIVE, &err), 0,
                 "%s", err ? qv_error_message(err) : "");
    g_autofree char *m2 = read_text(vm, "memory.max"), *h2 = read_text(vm, "memory.high");
    cr_assert_str_eq(m2, "419430400");
    cr_assert_str_eq(h2, "max");
    qv_memory_params got;
    cr_assert_eq(qv_domain_get_memory_parameters(dom, &got, QV_DOMAIN_AFFECT_LIVE, &err), 0);
    cr_assert_eq(got.hard_limit, 400 * 1024);
    cr_assert_eq(got.soft_limit, QV_DOMAIN_MEMORY_PARAM_UNLIMITED);
    qv_blkio_params bp = { .fields = QV_BLKIO_WEIGHT, .weight = 700 };
    cr_assert_eq(qv_domain_set_blkio_parameters(dom, &bp, QV_DOMAIN_AFFECT_LIVE, &err), 0,
                 "%s", err ? qv_error_message(err) : "");
    qv_blkio_params bg = { 0 };
    cr_assert_eq(qv_domain_get_blkio_parameters(dom, &bg, QV_DOMAIN_AFFECT_LIVE, &err), 0);
    cr_assert_eq(bg.weight, 700);
    qv_blkio_params_clear(&bg);
    qv_sched_params bad = { .fields = QV_SCHED_CPU_SHARES, .cpu_shares = 20000 };
    cr_assert_eq(qv_domain_set_scheduler_parameters(dom, &bad, 0, &err), -EINVAL);
    cr_assert_str_eq(qv_error_message(err),
                     "cpu_shares is out of range: it must be between 1 and 10000 (cgroup v2's "
                     "cpu.weight)");
    qv_domain_destroy(dom, 0, NULL);
}

Test(cgroup2, config_changes_round_trip_through_the_xml)
{
    skip_without_v2();
    g_autofree char *xml = domain_xml("cfg", NULL);
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_domain) dom = NULL;
    cr_assert_eq(qv_conn_define_domain(conn, xml, 0, &dom, &err), 0);
    qv_sched_params s = { .fields = QV_SCHED_CPU_SHARES | QV_SCHED_GLOBAL_QUOTA |
                                    QV_SCHED_GLOBAL_PERIOD,
                          .cpu_shares = 250, .global_quota = 50000, .global_period = 100000 };
    cr_assert_eq(qv_domain_set_scheduler_parameters(dom, &s, QV_DOMAIN_AFFECT_CONFIG, &err), 0,
                 "%s", err ? qv_error_message(err) : "");
    g_autofree char *out = NULL;
    cr_assert_eq(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_INACTIVE, &out, &err), 0);
    cr_assert(strstr(out, "<shares>250</shares>"), "%s", out);
    cr_assert(strstr(out, "<global_quota>50000</global_quota>"), "%s", out);
    cr_assert_eq(qv_domain_create(dom, 0, &err), 0, "%s", err ? qv_error_message(err) : "");
    g_autofree char *vm = vm_group("cfg");
    g_autofree char *w = read_text(vm, "cpu.weight"), *g = read_text(vm, "cpu.max");
    cr_assert_str_eq(w, "250");
    cr_assert_str_eq(g, "50000 100000");
    qv_domain_destroy(dom, 0, NULL);
}

Test(cgroup2, no_group_is_left_however_the_domain_ends)
{
    skip_without_v2();
    g_autoptr(qv_error) err = NULL;
    /* QEMU killed: the supervisor records the crash and removes the group. */
    g_autoptr(qv_domain) a = start("crash", NULL);
    g_autofree char *va = vm_group("crash");
    kill(status_pid("crash", "qemu_pid"), SIGKILL);
    cr_assert(wait_gone(va, 10000), "%s is left after QEMU was killed", va);
    int state = 0, reason = 0;
    cr_assert_eq(qv_domain_get_state(a, &state, &reason, &err), 0);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF);

    /* The supervisor killed: QEMU runs on in its group; a new supervisor
     * takes over in the supervisor leaf, and destroy removes it all. */
    g_autoptr(qv_domain) b = start("orphan", NULL);
    g_autofree char *vb = vm_group("orphan");
    pid_t qemu = status_pid("orphan", "qemu_pid");
    kill(status_pid("orphan", "monitor_pid"), SIGKILL);
    cr_assert_eq(qv_domain_get_state(b, &state, &reason, &err), 0);
    cr_assert_eq(state, QV_DOMAIN_RUNNING);
    g_autofree char *qcg = thread_cgroup(qemu, qemu);
    cr_assert(g_str_has_suffix(qcg, "/emulator"), "%s", qcg);
    cr_assert_eq(qv_domain_destroy(b, 0, &err), 0, "%s", err ? qv_error_message(err) : "");
    cr_assert(wait_gone(vb, 10000), "%s is left after destroy", vb);

    /* And the domain starts again, in a new group. */
    cr_assert_eq(qv_domain_create(b, 0, &err), 0, "%s", err ? qv_error_message(err) : "");
    g_autofree char *vb2 = vm_group("orphan");
    cr_assert_not_null(vb2);
    cr_assert_eq(qv_domain_destroy(b, 0, &err), 0);
    cr_assert(wait_gone(vb2, 10000));
}

Test(cgroup2, pins_numa_and_cpu_time_live)
{
    skip_without_v2();
    g_autoptr(qv_domain) dom = start("pins", NULL);
    g_autofree char *vm = vm_group("pins");
    g_autoptr(qv_error) err = NULL;
    /* A live pin is also the vCPU group's cpuset.cpus, the emulator's too. */
    unsigned char map[1] = { 1 };
    cr_assert_eq(qv_domain_pin_vcpu(dom, 0, map, 1, QV_DOMAIN_AFFECT_LIVE, &err), 0, "%s",
                 err ? qv_error_message(err) : "");
    g_autofree char *vdir = g_build_filename(vm, "vcpu0", NULL);
    g_autofree char *cpus = read_text(vdir, "cpuset.cpus");
    cr_assert_str_eq(cpus, "0");
    cr_assert_eq(qv_domain_pin_emulator(dom, map, 1, QV_DOMAIN_AFFECT_LIVE, &err), 0);
    g_autofree char *edir = g_build_filename(vm, "emulator", NULL);
    g_autofree char *ecpus = read_text(edir, "cpuset.cpus");
    cr_assert_str_eq(ecpus, "0");

    /* NUMA nodes live: cpuset.mems; a node the host lacks is refused. */
    qv_numa_params np = { .fields = QV_NUMA_NODESET, .nodeset = "0" };
    cr_assert_eq(qv_domain_set_numa_parameters(dom, &np, QV_DOMAIN_AFFECT_LIVE, &err), 0, "%s",
                 err ? qv_error_message(err) : "");
    g_autofree char *mems = read_text(vm, "cpuset.mems");
    cr_assert_str_eq(mems, "0");
    np.nodeset = "7";
    cr_assert_lt(qv_domain_set_numa_parameters(dom, &np, QV_DOMAIN_AFFECT_LIVE, &err), 0);
    cr_assert(strstr(qv_error_message(err), "the kernel refused NUMA nodes '7' for domain 'pins'"),
              "%s", qv_error_message(err));
    np = (qv_numa_params){ .fields = QV_NUMA_MODE, .mode = QV_DOMAIN_NUMATUNE_MEM_INTERLEAVE };
    cr_assert_eq(qv_domain_set_numa_parameters(dom, &np, QV_DOMAIN_AFFECT_LIVE, &err), -EOPNOTSUPP);

    /* CPU time from the group's cpu.stat: the spinning vCPU is most of it. */
    qv_cpu_stats t;
    cr_assert_eq(qv_domain_get_cpu_stats(dom, &t, -1, 1, 0, &err), 1, "%s",
                 err ? qv_error_message(err) : "");
    g_autofree char *stat = read_text(vm, "cpu.stat");
    unsigned long long usage = 0;
    cr_assert_eq(sscanf(strstr(stat, "usage_usec"), "usage_usec %llu", &usage), 1);
    cr_assert_gt(t.cpu_time, 0);
    cr_assert_leq(t.cpu_time, usage * 1000, "cpu_time is the group's usage_usec, read first");
    cr_assert_gt(t.vcpu_time, 0);
    qv_domain_destroy(dom, 0, NULL);
}

/* An ordinary user under systemd: its domains go in scopes of its own
 * service manager (systemd --user), the subtree systemd delegates to it. */
Test(cgroup2, an_ordinary_user_gets_scopes_of_its_own_manager)
{
    if (geteuid() == 0)
        cr_skip_test("runs as an ordinary user (tests/cgroup2/as-user.sh)");
    if (!under_systemd())
        cr_skip_test("PID 1 is not systemd (run through scripts/cgroup2-vm --systemd)");
    g_autoptr(qv_domain) dom = start("mine", NULL);
    pid_t qemu = status_pid("mine", "qemu_pid");
    g_autofree char *qcg = thread_cgroup(qemu, qemu);
    g_autofree char *want = g_strdup_printf("/user.slice/user-%u.slice/user@%u.service/app.slice/"
                                            "qvirt-mine-", (unsigned)getuid(), (unsigned)getuid());
    cr_assert(g_str_has_prefix(qcg, want) && g_str_has_suffix(qcg, ".scope/qvirt/emulator"),
              "QEMU is in %s", qcg);
    /* What the user's delegation holds is the user's to set. */
    g_autofree char *vm_rel = g_path_get_dirname(qcg);
    g_autofree char *vm = g_build_filename(CGROOT, vm_rel, NULL);
    g_autofree char *ctl = read_text(vm, "cgroup.controllers");
    g_autoptr(qv_error) err = NULL;
    if (strstr(ctl, "memory")) {
        qv_memory_params mp = { .fields = QV_MEMORY_HARD_LIMIT, .hard_limit = 300 * 1024 };
        cr_assert_eq(qv_domain_set_memory_parameters(dom, &mp, QV_DOMAIN_AFFECT_LIVE, &err), 0,
                     "%s", err ? qv_error_message(err) : "");
        g_autofree char *max = read_text(vm, "memory.max");
        cr_assert_str_eq(max, "314572800");
    }
    if (strstr(ctl, "cpu")) {
        qv_sched_params sp = { .fields = QV_SCHED_VCPU_QUOTA | QV_SCHED_VCPU_PERIOD,
                               .vcpu_quota = 20000, .vcpu_period = 100000 };
        cr_assert_eq(qv_domain_set_scheduler_parameters(dom, &sp, QV_DOMAIN_AFFECT_LIVE, &err), 0,
                     "%s", err ? qv_error_message(err) : "");
        g_autofree char *vdir = g_build_filename(vm, "vcpu0", NULL);
        g_autofree char *cmax = read_text(vdir, "cpu.max");
        cr_assert_str_eq(cmax, "20000 100000");
    }
    cr_assert(strstr(ctl, "memory") || strstr(ctl, "cpu"), "nothing delegated: %s", ctl);
    g_autofree char *scope = g_path_get_dirname(vm);
    cr_assert_eq(qv_domain_destroy(dom, 0, &err), 0);
    bool gone = wait_gone(scope, 30000); /* the user's manager collects it */
    g_autofree char *left = gone ? NULL : left_in(scope);
    cr_assert(gone, "%s is left after destroy: %s", scope, left);
}

/* The qvirt binary of this build on the test's connection; its stdout. */
static char *cli(int *status, const char *const *words)
{
    g_autofree char *prog = g_build_filename(g_getenv("QVIRT_BUILD_ROOT"), "tools", "qvirt", NULL);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, prog);
    g_ptr_array_add(argv, "-c");
    g_ptr_array_add(argv, uri);
    for (const char *const *w = words; *w; w++)
        g_ptr_array_add(argv, (char *)*w);
    g_ptr_array_add(argv, NULL);
    char *out = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL, &out, NULL, status,
                           NULL));
    return out;
}

Test(cgroup2, iothreads_and_the_cli)
{
    skip_without_v2();
    if (!g_getenv("QVIRT_BUILD_ROOT"))
        cr_skip_test("QVIRT_BUILD_ROOT is not set (run through meson test)");
    g_autoptr(qv_domain) dom = start("io", "<iothreads>1</iothreads>"
                                           "<cputune><iothread_period>50000</iothread_period>"
                                           "<iothread_quota>20000</iothread_quota></cputune>");
    g_autofree char *vm = vm_group("io");
    pid_t qemu = status_pid("io", "qemu_pid");
    pid_t io = thread_in(qemu, "/iothread1");
    cr_assert_gt(io, 0, "no QEMU thread in iothread1: %s", vm);
    g_autofree char *idir = g_build_filename(vm, "iothread1", NULL);
    g_autofree char *max = read_text(idir, "cpu.max");
    cr_assert_str_eq(max, "20000 50000");

    int st = -1;
    g_autofree char *info = cli(&st, (const char *const[]){ "schedinfo", "io", NULL });
    cr_assert_eq(st, 0, "%s", info);
    cr_assert(strstr(info, "Scheduler      : posix\n"), "%s", info);
    cr_assert(strstr(info, "iothread_period: 50000\n"), "%s", info);
    cr_assert(strstr(info, "iothread_quota : 20000\n"), "%s", info);
    cr_assert(strstr(info, "vcpu_quota     : 17592186044415\n"), "no limit, as libvirt shows "
              "it on cgroup v2: %s", info);
    g_autofree char *set = cli(&st, (const char *const[]){ "memtune", "io", "--hard-limit",
                                                            "256M", NULL });
    cr_assert_eq(st, 0, "%s", set);
    g_autofree char *mem = read_text(vm, "memory.max");
    cr_assert_str_eq(mem, "268435456");
    g_autofree char *stats = cli(&st, (const char *const[]){ "cpu-stats", "io", "--total", NULL });
    cr_assert_eq(st, 0, "%s", stats);
    cr_assert(g_str_has_prefix(stats, "Total:\n\tcpu_time "), "%s", stats);
    cr_assert(strstr(stats, "\tvcpu_time ") && strstr(stats, " seconds\n"), "%s", stats);
    g_autofree char *json = cli(&st, (const char *const[]){ "blkiotune", "io", "--json", NULL });
    cr_assert_eq(st, 0, "%s", json);
    cr_assert(strstr(json, "\"weight\""), "%s", json);
    qv_domain_destroy(dom, 0, NULL);
}
