/* Fault injection: the caller, the supervisor or QEMU is killed (SIGKILL)
 * at many points of an operation, chosen by random delays, and after each
 * kill the invariants must hold:
 *   - the state is readable and settles within a few seconds: shut off,
 *     or active and never stuck "starting up";
 *   - destroy (when active) and then start work;
 *   - after a final destroy no QEMU or supervisor of the test runs;
 *   - the stored config is byte for byte what was defined;
 *   - the event journal is whole JSON lines.
 * QVIRT_CRASH_ROUNDS=N multiplies the iterations (a soak; see README). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "qv-process.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 600);

static int rounds(int base)
{
    const char *env = g_getenv("QVIRT_CRASH_ROUNDS");
    int mult = env ? atoi(env) : 1;
    return base * (mult > 0 ? mult : 1);
}

/* Processes whose command line mentions the test's root (its QEMUs and
 * supervisors), optionally only those whose argv[0] ends in prog. */
static GArray *procs_of_test(const char *prog)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0 || pid == getpid())
            continue;
        g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
        g_autofree char *cmd = NULL;
        gsize len = 0;
        if (!g_file_get_contents(path, &cmd, &len, NULL) || len == 0)
            continue;
        qv_proc_stat st;
        if (qv_proc_stat_read(pid, 0, &st) == 0 && qv_proc_stat_exited(&st))
            continue;
        bool mentions = false;
        for (gsize off = 0; off < len; off += strlen(cmd + off) + 1)
            mentions |= strstr(cmd + off, T.root) != NULL;
        if (mentions && (!prog || g_str_has_suffix(cmd, prog)))
            g_array_append_val(pids, pid);
    }
    if (d)
        closedir(d);
    return pids;
}

static void wait_no_procs(int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        g_autoptr(GArray) left = procs_of_test(NULL);
        if (left->len == 0)
            return;
        cr_assert(g_get_monotonic_time() < deadline, "%u processes of the test still run (pid %d)",
                  left->len, g_array_index(left, pid_t, 0));
        poll(NULL, 0, 20);
    }
}

static char *config_path(const char *name)
{
    return g_strdup_printf("%s/config/domains/%s.xml", T.root, name);
}

static char *read_text(const char *path)
{
    g_autofree char *data = NULL;
    g_file_get_contents(path, &data, NULL, NULL);
    return g_steal_pointer(&data);
}

/* Every line of the journal (and its rotated generations) is whole JSON,
 * but for the fragment a killed appender may leave (the kernel can stop a
 * write at a page's end): that stands alone, and never ends with a '}', as
 * it would if it had run into the next event's line. */
static void assert_journal_whole(void)
{
    g_autofree char *dir = g_build_filename(T.root, "run", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        if (!g_str_has_prefix(n, "events") || (strchr(n, '.') && !g_ascii_isdigit(strchr(n, '.')[1])))
            continue;
        g_autofree char *path = g_build_filename(dir, n, NULL);
        g_autofree char *text = read_text(path);
        if (!text)
            continue;
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (!**l)
                continue;
            json_object *o = json_tokener_parse(*l);
            bool whole = o && json_object_is_type(o, json_type_object);
            json_object_put(o);
            cr_assert(whole || !g_str_has_suffix(*l, "}"),
                      "%s: a torn line ran into the next event: %s", n, *l);
        }
    }
}

/* The state settles: never "starting up" with nobody starting it. */
static int settled_state(qv_domain *dom, int *reason)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        qv_error *err = NULL;
        int state = 0;
        itest_ok(qv_domain_get_state(dom, &state, reason, &err), err);
        if (!(state == QV_DOMAIN_PAUSED && *reason == QV_DOMAIN_PAUSED_STARTING_UP))
            return state;
        cr_assert(g_get_monotonic_time() < deadline, "the domain stays paused (starting up)");
        poll(NULL, 0, 20);
    }
}

/* After a kill: the domain can be destroyed (if active), started and
 * destroyed again, with nothing left behind. */
static void check_invariants(const char *name, const char *config, const char *what, int round)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn, name, &dom, &err), err);
    int reason = 0;
    int state = settled_state(dom, &reason);
    if (state != QV_DOMAIN_SHUTOFF && qv_domain_destroy(dom, 0, &err) < 0) {
        /* A killed destroy had already sent QEMU its SIGTERM: the run may
         * end by itself between the look and our destroy, which then says
         * "not running", as libvirt's does. Anything else is a failure. */
        cr_assert(strstr(qv_error_message(err), "is not running"), "%s, round %d: destroy: %s",
                  what, round, qv_error_message(err));
        qv_error_freep(&err);
    }
    state = settled_state(dom, &reason);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "%s, round %d: state %d after destroy", what, round,
                 state);
    int r = qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err);
    cr_assert_geq(r, 0, "%s, round %d: start after the kill failed: %s", what, round,
                  err ? qv_error_message(err) : "?");
    state = settled_state(dom, &reason);
    if (state != QV_DOMAIN_PAUSED) {
        g_autofree char *jp = g_build_filename(T.root, "run", "events", NULL);
        g_autofree char *j = read_text(jp);
        g_autofree char *lp = g_build_filename(T.root, "run", "logs", "victim.log", NULL);
        g_autofree char *l = read_text(lp);
        size_t jl = j ? strlen(j) : 0, ll = l ? strlen(l) : 0;
        cr_log_error("journal tail: %s\nqemu log tail: %s", j ? j + (jl > 3000 ? jl - 3000 : 0) : "",
                     l ? l + (ll > 1500 ? ll - 1500 : 0) : "");
    }
    cr_assert_eq(state, QV_DOMAIN_PAUSED, "%s, round %d: state %d (reason %d) after start", what,
                 round, state, reason);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
    wait_no_procs(10000);
    g_autofree char *path = config_path(name);
    g_autofree char *now = read_text(path);
    cr_assert_str_eq(now, config, "%s, round %d: the stored config changed", what, round);
    /* A killed save's temporary image went with the recovery (job.c). */
    g_autoptr(GDir) d = g_dir_open(T.root, 0, NULL);
    for (const char *e; d && (e = g_dir_read_name(d));)
        cr_assert_null(strstr(e, ".qvirt-part."), "%s, round %d: %s stayed", what, round, e);
}

typedef enum op { OP_START, OP_START_PAUSED, OP_DESTROY, OP_SUSPEND_RESUME, OP_REDEFINE,
                  OP_UNDEFINE, OP_SHUTDOWN, OP_HOTPLUG, OP_UNPLUG, OP_SETMEM, OP_SETVCPUS,
                  OP_SAVE, OP_RESTORE, OP_MANAGED_SAVE } op;

/* The image the save and restore rounds use. */
static char *image_path(void)
{
    return g_build_filename(T.root, "victim.img", NULL);
}

#define NIC_XML "<interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>"

/* The child: one operation through the library, then exit. */
static void run_op(op o, const char *name, const char *xml)
{
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    if (qv_conn_open(T.uri, &conn, &err) < 0 || qv_conn_get_domain_by_name(conn, name, &dom, &err) < 0)
        _exit(3);
    int r = 0;
    switch (o) {
    case OP_START: r = qv_domain_create(dom, 0, &err); break;
    case OP_START_PAUSED: r = qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err); break;
    case OP_DESTROY: r = qv_domain_destroy(dom, 0, &err); break;
    case OP_SUSPEND_RESUME:
        for (int i = 0; i < 20 && r >= 0; i++)
            r = i % 2 ? qv_domain_resume(dom, &err) : qv_domain_suspend(dom, &err);
        break;
    case OP_UNDEFINE: r = qv_domain_undefine(dom, 0, &err); break;
    case OP_SHUTDOWN: r = qv_domain_shutdown(dom, 0, &err); break;
    case OP_HOTPLUG:
        r = qv_domain_attach_device(dom, NIC_XML, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err);
        break;
    case OP_UNPLUG: r = qv_domain_detach_device(dom, NIC_XML, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err); break;
    case OP_SETVCPUS: r = qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_LIVE, &err); break;
    case OP_SETMEM: r = qv_domain_set_memory(dom, 200 * 1024, QV_DOMAIN_MEM_LIVE, &err); break;
    case OP_SAVE: {
        g_autofree char *img = image_path();
        r = qv_domain_save(dom, img, NULL, 0, &err);
        break;
    }
    case OP_RESTORE: {
        g_autofree char *img = image_path();
        r = qv_conn_restore_domain(conn, img, NULL, 0, &err);
        break;
    }
    case OP_MANAGED_SAVE: r = qv_domain_managed_save(dom, 0, &err); break;
    case OP_REDEFINE: {
        qv_domain *d2 = NULL;
        r = qv_conn_define_domain(conn, xml, 0, &d2, &err);
        qv_domain_free(d2);
        break;
    }
    }
    _exit(r < 0 ? 1 : 0);
}

static char *qvt_replace(const char *text, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(text, from, -1);
    return g_strjoinv(to, parts);
}

/* Puts the domain where the operation starts from. */
static void prepare(op o, const char *name)
{
    if (o != OP_DESTROY && o != OP_SUSPEND_RESUME && o != OP_SHUTDOWN && o != OP_HOTPLUG &&
        o != OP_UNPLUG && o != OP_SETMEM && o != OP_SETVCPUS && o != OP_SAVE && o != OP_RESTORE &&
        o != OP_MANAGED_SAVE)
        return;
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn, name, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    if (o == OP_UNPLUG)
        itest_ok(qv_domain_attach_device(dom, NIC_XML, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
    g_autofree char *img = image_path();
    unlink(img);
    if (o == OP_RESTORE)
        itest_ok(qv_domain_save(dom, img, NULL, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

static void define_xml(const char *xml)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* An undefine that was killed either happened or did not: never half. */
static void redefine_if_gone(const char *name, const char *xml, const char *config)
{
    g_autofree char *path = config_path(name);
    g_autofree char *now = read_text(path);
    if (now) {
        cr_assert_str_eq(now, config, "a killed undefine changed the config");
        return;
    }
    define_xml(xml);
    g_autofree char *again = read_text(path);
    cr_assert_str_eq(again, config, "redefining gave another config");
}

typedef enum victim { KILL_CALLER, KILL_MONITOR, KILL_QEMU } victim;

static void kill_victim(victim v, pid_t child)
{
    if (v == KILL_CALLER) {
        kill(child, SIGKILL);
        return;
    }
    g_autoptr(GArray) pids = procs_of_test(v == KILL_MONITOR ? "qvirt-monitor" : NULL);
    for (guint i = 0; i < pids->len; i++) {
        pid_t pid = g_array_index(pids, pid_t, i);
        g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)pid);
        g_autofree char *cmd = read_text(path);
        bool is_qemu = cmd && strstr(cmd, "qemu-system") != NULL;
        if (v == KILL_MONITOR || is_qemu)
            kill(pid, SIGKILL);
    }
}

/* n rounds of: start the operation in a child, kill the victim after a
 * delay spread over 0..span_ms, then check the invariants. */
static void harness(op o, victim v, int n, int span_ms, const char *what)
{
    const char *name = "victim";
    g_autofree char *plain = itest_domain_xml(&T, name, NULL);
    /* A fixed UUID: a redefined domain gets the same config again. */
    g_autofree char *xml = qvt_replace(plain, "<name>victim</name>",
                                       "<name>victim</name><uuid>5d1c3a8e-7c0b-4c47-9d0a-3f6a2b1e9c01</uuid>");
    /* Room for a second vCPU, for the setvcpus rounds. */
    g_autofree char *with_cpus = qvt_replace(xml, "<vcpu>1</vcpu>", "<vcpu current='1'>2</vcpu>");
    g_free(g_steal_pointer(&xml));
    xml = g_steal_pointer(&with_cpus);
    define_xml(xml);
    g_autofree char *cpath = config_path(name);
    g_autofree char *config = read_text(cpath);
    cr_assert_not_null(config);
    GRand *rand = g_rand_new_with_seed((guint32)getpid());
    for (int i = 0; i < n; i++) {
        prepare(o, name);
        int delay_us = g_rand_int_range(rand, 0, span_ms * 1000 + 1);
        pid_t child = fork();
        cr_assert_geq(child, 0);
        if (child == 0)
            run_op(o, name, xml);
        poll(NULL, 0, delay_us / 1000);
        usleep((useconds_t)(delay_us % 1000));
        kill_victim(v, child);
        if (v != KILL_CALLER)
            kill(child, SIGKILL); /* or let it finish; either way it is gone */
        int status;
        waitpid(child, &status, 0);
        if (o == OP_UNDEFINE)
            redefine_if_gone(name, xml, config);
        check_invariants(name, config, what, i);
    }
    g_rand_free(rand);
    assert_journal_whole();
}

Test(crash, caller_killed_during_start)
{
    harness(OP_START, KILL_CALLER, rounds(40), 300, "start");
}

Test(crash, caller_killed_during_paused_start)
{
    harness(OP_START_PAUSED, KILL_CALLER, rounds(30), 250, "start --paused");
}

Test(crash, supervisor_killed_during_start)
{
    harness(OP_START_PAUSED, KILL_MONITOR, rounds(20), 250, "start, supervisor killed");
}

Test(crash, qemu_killed_during_start)
{
    harness(OP_START_PAUSED, KILL_QEMU, rounds(20), 250, "start, QEMU killed");
}

Test(crash, caller_killed_during_destroy)
{
    harness(OP_DESTROY, KILL_CALLER, rounds(20), 30, "destroy");
}

Test(crash, caller_killed_during_suspend_resume)
{
    harness(OP_SUSPEND_RESUME, KILL_CALLER, rounds(20), 30, "suspend/resume");
}

Test(crash, caller_killed_during_undefine)
{
    harness(OP_UNDEFINE, KILL_CALLER, rounds(10), 5, "undefine");
}

Test(crash, caller_killed_during_shutdown)
{
    harness(OP_SHUTDOWN, KILL_CALLER, rounds(10), 20, "shutdown");
}

Test(crash, caller_killed_during_attach_device)
{
    harness(OP_HOTPLUG, KILL_CALLER, rounds(15), 40, "attach-device");
}

Test(crash, caller_killed_during_detach_device)
{
    harness(OP_UNPLUG, KILL_CALLER, rounds(10), 40, "detach-device");
}

Test(crash, caller_killed_during_setvcpus)
{
    harness(OP_SETVCPUS, KILL_CALLER, rounds(10), 40, "setvcpus");
}

Test(crash, caller_killed_during_setmem)
{
    harness(OP_SETMEM, KILL_CALLER, rounds(10), 20, "setmem");
}

Test(crash, caller_killed_during_save)
{
    harness(OP_SAVE, KILL_CALLER, rounds(10), 400, "save");
}

Test(crash, caller_killed_during_restore)
{
    harness(OP_RESTORE, KILL_CALLER, rounds(10), 400, "restore");
}

/* A managed save killed after its image was renamed into place leaves a
 * domain whose next start restores it: that start must work too. */
Test(crash, caller_killed_during_managed_save)
{
    harness(OP_MANAGED_SAVE, KILL_CALLER, rounds(8), 400, "managedsave");
}

Test(crash, caller_killed_during_define)
{
    harness(OP_REDEFINE, KILL_CALLER, rounds(20), 5, "define");
}

/* Raw QMP on qmp.sock, bypassing the library. */
static char *raw_qmp(const char *name, const char *cmd)
{
    g_autofree char *sock = g_strdup_printf("%s/run/domains/%s/qmp.sock", T.root, name);
    g_autofree char *script = g_strdup_printf(
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);f=s.makefile('rw')\n"
        "f.readline();f.write('{\"execute\":\"qmp_capabilities\"}\\n');f.flush()\n"
        "while 'return' not in f.readline(): pass\n"
        "f.write('{\"execute\":\"%s\"}\\n');f.flush()\n"
        "while True:\n"
        "  l=f.readline()\n"
        "  if 'return' in l or 'error' in l: print(l.strip()); break\n", cmd);
    const char *argv[] = { "python3", "-c", script, sock, NULL };
    g_autofree char *out = NULL;
    int status = 0;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
                           &status, NULL));
    return g_steal_pointer(&out);
}

static pid_t monitor_pid(const char *name)
{
    return (pid_t)itest_status_field(&T, name, "monitor_pid");
}


/* kill -9 of the supervisor, then the guest powers off while nobody
 * watches: the next call starts a new supervisor, which finds QEMU in its
 * shutdown state, carries out on_poweroff (destroy), and the domain ends
 * shut off (shutdown) with no QEMU left. */
Test(crash, supervisor_killed_then_guest_powers_off, .timeout = 180)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *xml = itest_domain_xml(&T, "poweroff", NULL);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 90000), "guest did not boot");
    pid_t qemu = (pid_t)itest_status_field(&T, "poweroff", "qemu_pid");
    pid_t old = monitor_pid("poweroff");
    cr_assert_eq(kill(old, SIGKILL), 0);
    cr_assert(itest_wait_pid_gone(old, 10000), "the supervisor did not die");

    g_autofree char *r = raw_qmp("poweroff", "system_powerdown");
    cr_assert(strstr(r, "return"), "system_powerdown: %s", r);
    /* QEMU (-no-shutdown) stops in its shutdown state, unsupervised. */
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        g_autofree char *st = raw_qmp("poweroff", "query-status");
        if (strstr(st, "\"shutdown\""))
            break;
        cr_assert(g_get_monotonic_time() < deadline, "the guest did not power off: %s", st);
        poll(NULL, 0, 200);
    }
    cr_assert(!itest_wait_pid_gone(qemu, 0), "QEMU exited by itself");

    qv_domain_free(dom);
    qv_conn_close(conn);
    conn = itest_open(&T);
    itest_ok(qv_conn_get_domain_by_name(conn, "poweroff", &dom, &err), err);
    int reason = 0;
    int state = itest_wait_state(dom, QV_DOMAIN_SHUTOFF, 30000, &reason);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "state %d", state);
    cr_assert_eq(reason, QV_DOMAIN_SHUTOFF_SHUTDOWN, "reason %d", reason);
    cr_assert(itest_wait_pid_gone(qemu, 10000), "QEMU still runs");
    wait_no_procs(10000);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* SIGTERM to the supervisor: it leaves, QEMU runs on, and the next call
 * starts a new supervisor that serves commands and events. */
Test(crash, supervisor_sigterm_leaves_qemu_running)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *xml = itest_domain_xml(&T, "term", NULL);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "term", "qemu_pid");
    pid_t old = monitor_pid("term");
    cr_assert_eq(kill(old, SIGTERM), 0);
    cr_assert(itest_wait_pid_gone(old, 10000), "the supervisor ignored SIGTERM");
    cr_assert(!itest_wait_pid_gone(qemu, 0), "QEMU went with its supervisor");

    int state = 0, reason = 0;
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_assert_eq(state, QV_DOMAIN_PAUSED);
    pid_t now = monitor_pid("term");
    cr_assert(now > 0 && now != old, "no new supervisor (%d, was %d)", now, old);
    cr_assert(!itest_wait_pid_gone(now, 0), "the new supervisor is not running");
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OK);

    /* A raw resume is seen by the new supervisor and recorded. */
    g_autofree char *r = raw_qmp("term", "cont");
    cr_assert(strstr(r, "return"), "cont: %s", r);
    cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_RUNNING, 10000, &reason), QV_DOMAIN_RUNNING);
    itest_ok(qv_domain_suspend(dom, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF);
    cr_assert_eq(reason, QV_DOMAIN_SHUTOFF_DESTROYED);
    wait_no_procs(10000);
    qv_domain_free(dom);
    qv_conn_close(conn);
}
