/* Runs inside `scripts/cgroup2-vm --systemd` (see tests/cgroup2/meson.build):
 * checks that the guest gives what code talking to systemd relies on. PID 1
 * is systemd on the unified hierarchy, the system bus answers at
 * /run/dbus/system_bus_socket, a transient scope made over D-Bus
 * (StartTransientUnit, Delegate=yes, in machine.slice) takes a PID and hands
 * its cgroup over (a sub-cgroup and controllers can be made in it), and
 * systemd-machined starts on demand, answers and creates a machine. The calls
 * go through GDBus, as the library's will. Outside that guest it skips. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define SYSTEM_BUS_ADDRESS "unix:path=/run/dbus/system_bus_socket"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* A D-Bus reply under TCG on a busy machine, machined's activation included. */
#define DBUS_REPLY_TIMEOUT_MS 60000
/* systemd finishing the scope's start job, and removing the scope once empty. */
#define SCOPE_JOB_TIMEOUT_MS 60000
#define SCOPE_GONE_TIMEOUT_MS 60000

static void need_systemd_guest(void)
{
    if (!g_getenv("QVIRT_CGROUP2_VM"))
        cr_skip_test("run this test through scripts/cgroup2-vm --systemd");
    g_autofree char *comm = NULL;
    cr_assert(g_file_get_contents("/proc/1/comm", &comm, NULL, NULL), "cannot read /proc/1/comm");
    /* In the guest, a PID 1 that is not systemd is a broken harness, not a
     * reason to skip. */
    cr_assert_str_eq(g_strstrip(comm), "systemd",
                     "PID 1 is '%s', not systemd: run this test through scripts/cgroup2-vm --systemd", comm);
}

static char *read_trimmed(const char *path)
{
    char *c = NULL;
    g_autoptr(GError) error = NULL;
    cr_assert(g_file_get_contents(path, &c, NULL, &error), "%s", error ? error->message : path);
    return g_strstrip(c);
}

static void write_file(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, value, strlen(value));
    int e = errno;
    close(fd);
    cr_assert_eq(n, (ssize_t)strlen(value), "write '%s' to %s: %s", value, path, strerror(e));
}

static GDBusConnection *system_bus(void)
{
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_sync(
        SYSTEM_BUS_ADDRESS,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    cr_assert(bus, "cannot connect to the system bus at %s: %s", SYSTEM_BUS_ADDRESS,
              error ? error->message : "?");
    return bus;
}

static GVariant *call(GDBusConnection *bus, const char *dest, const char *path, const char *iface,
                      const char *method, GVariant *args, const char *reply_type)
{
    g_autoptr(GError) error = NULL;
    GVariant *r = g_dbus_connection_call_sync(bus, dest, path, iface, method, args,
                                              G_VARIANT_TYPE(reply_type), G_DBUS_CALL_FLAGS_NONE,
                                              DBUS_REPLY_TIMEOUT_MS, NULL, &error);
    cr_assert(r, "%s.%s: %s", iface, method, error ? error->message : "?");
    return r;
}

static bool strv_has(const char *words, const char *word)
{
    g_auto(GStrv) v = g_strsplit(words, " ", -1);
    return g_strv_contains((const char *const *)v, word);
}

Test(systemd, pid1_is_systemd_on_the_unified_hierarchy)
{
    need_systemd_guest();
    struct statfs st;
    cr_assert_eq(statfs(CGROUP_ROOT, &st), 0, "statfs %s: %s", CGROUP_ROOT, strerror(errno));
    cr_assert_eq(st.f_type, CGROUP2_SUPER_MAGIC, "%s is not a cgroup2 mount", CGROUP_ROOT);
    /* Unified: one hierarchy, so one "0::" line and nothing else. */
    g_autofree char *self = read_trimmed("/proc/self/cgroup");
    cr_assert(g_str_has_prefix(self, "0::/") && !strchr(self, '\n'),
              "/proc/self/cgroup is not unified: '%s'", self);
    g_autofree char *ctrls = read_trimmed(CGROUP_ROOT "/cgroup.controllers");
    const char *wanted[] = { "cpu", "memory", "io", "pids", "cpuset" };
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++)
        cr_expect(strv_has(ctrls, wanted[i]), "cgroup.controllers '%s' lacks %s", ctrls, wanted[i]);
}

/* What the test waits for: its start job's result, and its scope's cgroup
 * gone. Every signal systemd sends wakes the loop, which checks again. */
struct scope_wait {
    const char *job;
    char *job_result;
    const char *dir;
};

static void on_systemd_signal(GDBusConnection *bus, const char *sender, const char *path,
                              const char *iface, const char *signal, GVariant *params, gpointer data)
{
    (void)bus, (void)sender, (void)path, (void)iface;
    struct scope_wait *w = data;
    if (strcmp(signal, "JobRemoved") != 0 || !g_variant_is_of_type(params, G_VARIANT_TYPE("(uoss)")))
        return;
    guint32 id;
    const char *job, *unit, *result;
    g_variant_get(params, "(u&o&s&s)", &id, &job, &unit, &result);
    if (w->job && !w->job_result && strcmp(job, w->job) == 0)
        w->job_result = g_strdup(result);
}

static bool job_done(struct scope_wait *w)
{
    return w->job_result != NULL;
}

static bool dir_gone(struct scope_wait *w)
{
    return !g_file_test(w->dir, G_FILE_TEST_EXISTS);
}

static gboolean on_deadline(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Runs ctx until done(w) holds or timeout_ms pass; returns done(w). */
static bool run_until(GMainContext *ctx, bool (*done)(struct scope_wait *), struct scope_wait *w,
                      int timeout_ms)
{
    bool late = false;
    g_autoptr(GSource) timer = g_timeout_source_new(timeout_ms);
    g_source_set_callback(timer, on_deadline, &late, NULL);
    g_source_attach(timer, ctx);
    while (!done(w) && !late)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(timer);
    return done(w);
}

Test(systemd, transient_scope_in_machine_slice_is_delegated)
{
    need_systemd_guest();
    g_autoptr(GDBusConnection) bus = system_bus();
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);

    /* The payload: a child that waits to be killed. */
    pid_t child = fork();
    cr_assert_geq(child, 0, "fork: %s", strerror(errno));
    if (child == 0) {
        for (;;)
            pause();
    }

    struct scope_wait w = { 0 };
    guint sub = g_dbus_connection_signal_subscribe(bus, "org.freedesktop.systemd1", NULL, NULL, NULL,
                                                   NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_systemd_signal,
                                                   &w, NULL);
    /* systemd sends its job and unit signals only to subscribed clients. */
    g_autoptr(GVariant) subscribed = call(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Manager", "Subscribe", NULL, "()");

    g_autofree char *unit = g_strdup_printf("qvirt-test-%d.scope", (int)getpid());
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a(sv)"));
    g_variant_builder_add(&props, "(sv)", "Description", g_variant_new_string("qvirt test scope"));
    g_variant_builder_add(&props, "(sv)", "Slice", g_variant_new_string("machine.slice"));
    g_variant_builder_add(&props, "(sv)", "Delegate", g_variant_new_boolean(TRUE));
    guint32 pids[] = { (guint32)child };
    g_variant_builder_add(&props, "(sv)", "PIDs",
                          g_variant_new_fixed_array(G_VARIANT_TYPE_UINT32, pids, 1, sizeof pids[0]));
    g_autoptr(GVariant) started = call(
        bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
        "StartTransientUnit", g_variant_new("(ssa(sv)a(sa(sv)))", unit, "fail", &props, NULL), "(o)");
    const char *job;
    g_variant_get(started, "(&o)", &job);
    w.job = job;

    cr_assert(run_until(ctx, job_done, &w, SCOPE_JOB_TIMEOUT_MS), "no JobRemoved for %s within %d ms",
              job, SCOPE_JOB_TIMEOUT_MS);
    cr_assert_str_eq(w.job_result, "done", "the start job of %s ended '%s'", unit, w.job_result);
    g_free(w.job_result);

    /* The child sits at the top of the scope, in machine.slice. */
    g_autofree char *rel = g_strdup_printf("/machine.slice/%s", unit);
    g_autofree char *proc_cg_path = g_strdup_printf("/proc/%d/cgroup", (int)child);
    g_autofree char *proc_cg = read_trimmed(proc_cg_path);
    g_autofree char *want_cg = g_strdup_printf("0::%s", rel);
    cr_assert_str_eq(proc_cg, want_cg);

    /* systemd says it is delegated. */
    g_autoptr(GVariant) got_unit = call(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "GetUnit",
                                        g_variant_new("(s)", unit), "(o)");
    const char *unit_path;
    g_variant_get(got_unit, "(&o)", &unit_path);
    g_autoptr(GVariant) delegate = call(bus, "org.freedesktop.systemd1", unit_path,
                                        "org.freedesktop.DBus.Properties", "Get",
                                        g_variant_new("(ss)", "org.freedesktop.systemd1.Scope", "Delegate"),
                                        "(v)");
    g_autoptr(GVariant) delegate_v = NULL;
    g_variant_get(delegate, "(v)", &delegate_v);
    cr_assert(g_variant_get_boolean(delegate_v), "%s has Delegate=no", unit);

    /* And the cgroup is ours: writable, with the controllers a VM needs
     * available, a sub-cgroup takes the PID, and the scope enables the
     * controllers for it (possible only once the scope itself holds no
     * process: cgroup v2's no-internal-process rule). */
    g_autofree char *dir = g_strconcat(CGROUP_ROOT, rel, NULL);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0, "stat %s: %s", dir, strerror(errno));
    cr_assert_eq(st.st_uid, geteuid(), "%s is owned by uid %u", dir, (unsigned)st.st_uid);
    cr_assert_eq(access(dir, W_OK), 0, "%s is not writable: %s", dir, strerror(errno));
    g_autofree char *ctrls_path = g_build_filename(dir, "cgroup.controllers", NULL);
    g_autofree char *ctrls = read_trimmed(ctrls_path);
    const char *wanted[] = { "cpu", "memory", "io", "pids" };
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++)
        cr_expect(strv_has(ctrls, wanted[i]), "the scope's cgroup.controllers '%s' lacks %s", ctrls,
                  wanted[i]);

    g_autofree char *payload = g_build_filename(dir, "payload", NULL);
    cr_assert_eq(mkdir(payload, 0755), 0, "mkdir %s: %s", payload, strerror(errno));
    g_autofree char *payload_procs = g_build_filename(payload, "cgroup.procs", NULL);
    g_autofree char *pid_s = g_strdup_printf("%d", (int)child);
    write_file(payload_procs, pid_s);
    g_autofree char *subtree = g_build_filename(dir, "cgroup.subtree_control", NULL);
    write_file(subtree, "+cpu +memory +pids");
    g_autofree char *subtree_got = read_trimmed(subtree);
    for (size_t i = 0; i < 3; i++)
        cr_expect(strv_has(subtree_got, (const char *[]){ "cpu", "memory", "pids" }[i]),
                  "the scope's cgroup.subtree_control is '%s'", subtree_got);
    g_autofree char *cpu_max = g_build_filename(payload, "cpu.max", NULL);
    write_file(cpu_max, "50000 100000");
    g_autofree char *cpu_max_got = read_trimmed(cpu_max);
    cr_expect_str_eq(cpu_max_got, "50000 100000");

    /* Once its last process is gone, systemd stops the scope and removes
     * its cgroup, the delegated sub-cgroup included. */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    w.dir = dir;
    cr_assert(run_until(ctx, dir_gone, &w, SCOPE_GONE_TIMEOUT_MS),
              "%s is still there %d ms after its last process died", dir, SCOPE_GONE_TIMEOUT_MS);
    g_dbus_connection_signal_unsubscribe(bus, sub);
    g_main_context_pop_thread_default(ctx);
}

Test(systemd, machined_answers)
{
    need_systemd_guest();
    g_autoptr(GDBusConnection) bus = system_bus();
    /* The first call starts systemd-machined through D-Bus activation. */
    g_autoptr(GVariant) r = call(bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
                                 "org.freedesktop.machine1.Manager", "ListMachines", NULL, "(a(ssso))");
    g_autoptr(GVariant) machines = g_variant_get_child_value(r, 0);
    bool host = false;
    GVariantIter it;
    const char *name, *cls, *service, *path;
    g_variant_iter_init(&it, machines);
    while (g_variant_iter_next(&it, "(&s&s&s&o)", &name, &cls, &service, &path))
        host = host || strcmp(name, ".host") == 0;
    cr_assert(host, "ListMachines does not list .host");
}

Test(systemd, machined_creates_a_machine)
{
    need_systemd_guest();
    g_autoptr(GDBusConnection) bus = system_bus();
    pid_t child = fork();
    cr_assert_geq(child, 0, "fork: %s", strerror(errno));
    if (child == 0) {
        for (;;)
            pause();
    }

    /* machined makes the scope (machine-NAME.scope in machine.slice) and
     * replies once systemd has started it. */
    g_autofree char *name = g_strdup_printf("qvirt-test-%d", (int)getpid());
    GVariantBuilder props;
    g_variant_builder_init(&props, G_VARIANT_TYPE("a(sv)"));
    g_variant_builder_add(&props, "(sv)", "Delegate", g_variant_new_boolean(TRUE));
    g_autoptr(GVariant) created = call(
        bus, "org.freedesktop.machine1", "/org/freedesktop/machine1", "org.freedesktop.machine1.Manager",
        "CreateMachine",
        g_variant_new("(s@ayssusa(sv))", name, g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, NULL, 0, 1),
                      "qvirt", "vm", (guint32)child, "", &props),
        "(o)");
    const char *machine_path;
    g_variant_get(created, "(&o)", &machine_path);
    g_autoptr(GVariant) unit_reply = call(bus, "org.freedesktop.machine1", machine_path,
                                          "org.freedesktop.DBus.Properties", "Get",
                                          g_variant_new("(ss)", "org.freedesktop.machine1.Machine", "Unit"),
                                          "(v)");
    g_autoptr(GVariant) unit_v = NULL;
    g_variant_get(unit_reply, "(v)", &unit_v);
    const char *unit = g_variant_get_string(unit_v, NULL);
    g_autofree char *proc_cg_path = g_strdup_printf("/proc/%d/cgroup", (int)child);
    g_autofree char *proc_cg = read_trimmed(proc_cg_path);
    g_autofree char *want_cg = g_strdup_printf("0::/machine.slice/%s", unit);
    cr_expect_str_eq(proc_cg, want_cg);

    g_autoptr(GVariant) listed = call(bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
                                      "org.freedesktop.machine1.Manager", "ListMachines", NULL,
                                      "(a(ssso))");
    g_autoptr(GVariant) machines = g_variant_get_child_value(listed, 0);
    bool found = false;
    GVariantIter it;
    const char *m_name, *cls, *service, *path;
    g_variant_iter_init(&it, machines);
    while (g_variant_iter_next(&it, "(&s&s&s&o)", &m_name, &cls, &service, &path))
        found = found || (strcmp(m_name, name) == 0 && strcmp(cls, "vm") == 0);
    cr_expect(found, "ListMachines does not list the vm %s", name);

    g_autoptr(GVariant) terminated = call(bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
                                          "org.freedesktop.machine1.Manager", "TerminateMachine",
                                          g_variant_new("(s)", name), "()");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}
