/* The daemonless core against real QEMU and the test guest: lifecycle,
 * states and reasons, events across processes, autodestroy, transient
 * domains, crashes with nobody watching, concurrent control, metadata and
 * atomic config. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(lifecycle, .init = setup, .fini = teardown, .timeout = 120);

static qv_domain *define(qv_conn *conn, const char *name, const char *extra)
{
    g_autofree char *xml = itest_domain_xml(&T, name, extra);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_define_domain(conn, xml, 0, &dom, &err);
    cr_assert_eq(r, 0, "define: %s", err ? qv_error_message(err) : "?");
    return dom;
}

/* What QEMU itself says, asked through the library's raw monitor access. */
static void assert_qemu_status(qv_domain *dom, const char *status)
{
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"query-status\"}", &reply, 0, &err), err);
    g_autofree char *want = g_strdup_printf("\"%s\"", status);
    cr_assert(strstr(reply, want), "QEMU is not %s: %s", status, reply);
    free(reply);
}

static void assert_state(qv_domain *dom, int want_state, int want_reason)
{
    int state = -1, reason = -1;
    qv_error *err = NULL;
    cr_assert_eq(qv_domain_get_state(dom, &state, &reason, &err), 0, "get_state: %s",
                 err ? qv_error_message(err) : "?");
    cr_assert_eq(state, want_state, "state %d, expected %d", state, want_state);
    cr_assert_eq(reason, want_reason, "reason %d, expected %d (state %d)", reason, want_reason, state);
}

Test(lifecycle, start_suspend_resume_destroy)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "life", NULL);
    qv_error *err = NULL;
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_UNKNOWN);
    cr_assert_eq(qv_domain_is_active(dom, NULL), 0);
    cr_assert_eq(qv_domain_is_persistent(dom, NULL), 1);
    cr_assert_eq(qv_domain_get_id(dom), -1);

    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    cr_assert_eq(qv_domain_is_active(dom, NULL), 1);
    cr_assert_gt(qv_domain_get_id(dom), 0);

    qv_domain_info info;
    itest_ok(qv_domain_get_info(dom, &info, &err), err);
    cr_assert_eq(info.state, QV_DOMAIN_RUNNING);
    cr_assert_eq(info.max_mem, 262144);
    cr_assert_eq(info.nr_virt_cpu, 1);

    /* A second start is refused and does not disturb the running one. */
    cr_assert_eq(qv_domain_create(dom, 0, &err), -EBUSY);
    cr_assert(strstr(qv_error_message(err), "already running"), "%s", qv_error_message(err));
    qv_error_freep(&err);

    itest_ok(qv_domain_suspend(dom, &err), err);
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    /* QEMU agrees. */
    assert_qemu_status(dom, "paused");

    itest_ok(qv_domain_resume(dom, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);

    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OK);

    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &xml, &err), err);
    cr_assert(strstr(xml, "<domain type='qemu' id='") || strstr(xml, "<domain type=\"qemu\" id=\""),
              "live XML lacks the id: %.200s", xml);
    free(xml);

    long long qemu_pid = itest_status_field(&T, "life", "qemu_pid");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_DESTROYED);
    cr_assert_eq(kill((pid_t)qemu_pid, 0), -1, "QEMU still runs after destroy");
    g_autofree char *rundir = g_build_filename(T.root, "run", "domains", "life", NULL);
    cr_assert_not(g_file_test(rundir, G_FILE_TEST_EXISTS), "runtime dir left behind");

    /* It starts again, and destroy of an inactive domain is a clear error. */
    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert_lt(qv_domain_destroy(dom, 0, &err), 0);
    cr_assert(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

struct listener_ctx {
    const char *name;
    int fd;
    bool stopped;
};

static void listener_cb(qv_conn *conn, const qv_event *ev, void *opaque)
{
    struct listener_ctx *x = opaque;
    if (strcmp(ev->domain_name, x->name))
        return;
    dprintf(x->fd, "%d %d %d\n", ev->event_id, ev->event, ev->detail);
    if (ev->event_id == QV_DOMAIN_EVENT_ID_LIFECYCLE && ev->event == QV_DOMAIN_EVENT_STOPPED)
        x->stopped = true;
}

/* Forks a listener process: it prints every event of `name` to the pipe,
 * one "event_id event detail" line each, until STOPPED or a timeout. */
static pid_t spawn_listener(const char *name, int *read_fd)
{
    int p[2], ready[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        close(ready[0]);
        qv_conn *conn = NULL;
        if (qv_conn_open(T.uri, &conn, NULL) < 0)
            _exit(2);
        struct listener_ctx c = { name, p[1], false };
        if (qv_conn_domain_event_register_any(conn, NULL, -1, listener_cb, &c, NULL) < 0)
            _exit(3);
        if (write(ready[1], "r", 1) != 1)
            _exit(4);
        gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;
        while (!c.stopped && g_get_monotonic_time() < deadline)
            qv_conn_event_run(conn, 1000, NULL);
        qv_conn_close(conn);
        _exit(c.stopped ? 0 : 5);
    }
    close(p[1]);
    close(ready[1]);
    char b;
    cr_assert_eq(read(ready[0], &b, 1), 1, "listener did not start");
    close(ready[0]);
    *read_fd = p[0];
    return pid;
}

static char *read_all(int fd)
{
    GString *s = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        g_string_append_len(s, buf, n);
    close(fd);
    return g_string_free(s, FALSE);
}

static void line_expected(const char *events, int id, int ev, int detail)
{
    g_autofree char *line = g_strdup_printf("%d %d %d\n", id, ev, detail);
    cr_assert(strstr(events, line), "event '%s' missing from:\n%s", line, events);
}

Test(lifecycle, acpi_shutdown_with_events_in_another_process, .timeout = 150)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "acpi", NULL);
    qv_error *err = NULL;
    int fd;
    pid_t listener = spawn_listener("acpi", &fd);

    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 90000), "guest did not boot");
    itest_ok(qv_domain_shutdown(dom, QV_DOMAIN_SHUTDOWN_ACPI_POWER_BTN, &err), err);
    int reason;
    int state = itest_wait_state(dom, QV_DOMAIN_SHUTOFF, 30000, &reason);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "guest did not power off (state %d)", state);
    cr_assert_eq(reason, QV_DOMAIN_SHUTOFF_SHUTDOWN, "reason %d", reason);

    int status;
    cr_assert_eq(waitpid(listener, &status, 0), listener);
    g_autofree char *events = read_all(fd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "listener failed: %d\n%s", status, events);
    line_expected(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STARTED,
                  QV_DOMAIN_EVENT_STARTED_BOOTED);
    line_expected(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SHUTDOWN,
                  QV_DOMAIN_EVENT_SHUTDOWN_GUEST);
    line_expected(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                  QV_DOMAIN_EVENT_STOPPED_SHUTDOWN);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, start_paused)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "paused", NULL);
    qv_error *err = NULL;
    int fd;
    pid_t listener = spawn_listener("paused", &fd);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int status;
    waitpid(listener, &status, 0);
    g_autofree char *events = read_all(fd);
    line_expected(events, 0, QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED);
    line_expected(events, 0, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED);
    line_expected(events, 0, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_UNPAUSED);
    line_expected(events, 0, QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_DESTROYED);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

static char *replace1(const char *s, const char *from, const char *to)
{
    g_auto(GStrv) parts = g_strsplit(s, from, 2);
    return g_strjoinv(to, parts);
}

/* <qemu:commandline>: the args reach QEMU's argv last, the env its
 * environment (and only that beyond the clean one), the timezone too; the
 * namespace is kept in the config and the live XML. */
Test(lifecycle, qemu_commandline_passthrough)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *base = itest_domain_xml(&T, "qemuns", NULL);
    g_autofree char *with_clock = replace1(base, "  <devices>",
        "  <clock offset='timezone' timezone='Europe/Paris'/>\n  <devices>");
    g_autofree char *with_ns = replace1(with_clock, "<domain type='qemu'>",
        "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>");
    g_autofree char *xml = replace1(with_ns, "</domain>",
        "  <qemu:commandline>\n"
        "    <qemu:arg value='-device'/>\n"
        "    <qemu:arg value='{\"driver\":\"pvpanic\",\"id\":\"from-qemu-arg\"}'/>\n"
        "    <qemu:env name='QVIRT_TEST_ENV' value='a b=c'/>\n"
        "  </qemu:commandline>\n</domain>");
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    g_setenv("QVIRT_TEST_LEAK", "1", TRUE);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    long long pid = itest_status_field(&T, "qemuns", "qemu_pid");
    g_autofree char *envp = g_strdup_printf("/proc/%lld/environ", pid);
    g_autofree char *env = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(envp, &env, &len, NULL), "cannot read %s", envp);
    cr_assert_not_null(memmem(env, len, "QVIRT_TEST_ENV=a b=c", 21), "the <qemu:env> is missing");
    cr_assert_not_null(memmem(env, len, "TZ=Europe/Paris", 16), "the clock's TZ is missing");
    cr_assert_null(memmem(env, len, "QVIRT_TEST_LEAK", 15), "the caller's environment leaked into QEMU");
    char *reply = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/machine/peripheral\"}}",
                                            &reply, 0, &err), err);
    cr_assert_not_null(strstr(reply, "from-qemu-arg"), "%s", reply);
    free(reply);
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    cr_assert_not_null(strstr(live, "<qemu:env name='QVIRT_TEST_ENV' value='a b=c'/>"), "%s", live);
    free(live);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A child opens its own connection and starts the domain with AUTODESTROY;
 * how it ends is up to `how`: 0 closes the connection, 1 dies by SIGKILL. */
static void autodestroy_case(int how)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "auto", NULL);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        qv_conn *c = NULL;
        qv_domain *d = NULL;
        if (qv_conn_open(T.uri, &c, NULL) < 0 || qv_conn_get_domain_by_name(c, "auto", &d, NULL) < 0 ||
            qv_domain_create(d, QV_DOMAIN_START_AUTODESTROY, NULL) < 0)
            _exit(2);
        if (write(ready[1], "s", 1) != 1)
            _exit(3);
        if (how == 1)
            pause(); /* killed by the parent */
        qv_domain_free(d);
        qv_conn_close(c);
        _exit(0);
    }
    close(ready[1]);
    char b;
    cr_assert_eq(read(ready[0], &b, 1), 1, "child could not start the domain");
    if (how == 1) {
        int state = itest_wait_state(dom, QV_DOMAIN_RUNNING, 5000, NULL);
        cr_assert_eq(state, QV_DOMAIN_RUNNING);
        kill(pid, SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    int reason;
    int state = itest_wait_state(dom, QV_DOMAIN_SHUTOFF, 20000, &reason);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "autodestroy domain still active (%d)", state);
    cr_assert_eq(reason, QV_DOMAIN_SHUTOFF_DESTROYED);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, autodestroy_on_close) { autodestroy_case(0); }
Test(lifecycle, autodestroy_on_owner_death) { autodestroy_case(1); }

Test(lifecycle, transient_domain_disappears)
{
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    g_autofree char *xml = itest_domain_xml(&T, "trans", NULL);
    qv_domain *dom = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, 0, &dom, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    cr_assert_eq(qv_domain_is_persistent(dom, NULL), 0);
    qv_domain **list = NULL;
    cr_assert_eq(qv_conn_list_all_domains(conn, QV_CONNECT_LIST_DOMAINS_TRANSIENT, &list, NULL), 1);
    qv_domain_list_free(list);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int state;
    cr_assert_eq(qv_domain_get_state(dom, &state, NULL, &err), -ENOENT);
    qv_error_freep(&err);
    qv_domain *again = NULL;
    cr_assert_eq(qv_conn_get_domain_by_name(conn, "trans", &again, &err), -ENOENT);
    qv_error_freep(&err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* Waits until pid has exited: gone from /proc, or a zombie (the library's
 * own liveness test treats both as dead). */

/* kill -9 of QEMU while no library process runs: the next open reports
 * shut off (crashed), and the domain starts again. Then the same with the
 * monitor killed too, so the library itself has to notice: queries report
 * shut off (crashed) and change nothing, and the next call that changes
 * the domain records the crash, with its event. */
Test(lifecycle, kill9_with_nobody_watching, .timeout = 150)
{
    {
        qv_conn *conn = itest_open(&T);
        qv_domain *dom = define(conn, "crash", NULL);
        qv_error *err = NULL;
        itest_ok(qv_domain_create(dom, 0, &err), err);
        qv_domain_free(dom);
        qv_conn_close(conn);
    }
    pid_t qemu = (pid_t)itest_status_field(&T, "crash", "qemu_pid");
    pid_t monitor = (pid_t)itest_status_field(&T, "crash", "monitor_pid");
    cr_assert_gt(qemu, 0);
    cr_assert_eq(kill(qemu, SIGKILL), 0);
    /* The monitor records it and exits. */
    cr_assert(itest_wait_pid_gone(monitor, 20000), "monitor still running");

    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn, "crash", &dom, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_CRASHED);

    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    qv_domain_free(dom);
    qv_conn_close(conn);

    qemu = (pid_t)itest_status_field(&T, "crash", "qemu_pid");
    monitor = (pid_t)itest_status_field(&T, "crash", "monitor_pid");
    int fd;
    pid_t listener = spawn_listener("crash", &fd);
    cr_assert_eq(kill(monitor, SIGKILL), 0);
    cr_assert_eq(kill(qemu, SIGKILL), 0);
    /* Nobody is left to record the crash: the library must notice it once
     * both are gone, however long the kernel took to end them. */
    cr_assert(itest_wait_pid_gone(monitor, 20000), "monitor still running");
    cr_assert(itest_wait_pid_gone(qemu, 20000), "QEMU still running");
    conn = itest_open(&T);
    itest_ok(qv_conn_get_domain_by_name(conn, "crash", &dom, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_CRASHED);
    cr_assert_eq(qv_domain_is_active(dom, NULL), 0);
    cr_assert_eq(qv_domain_get_id(dom), -1);
    /* The definition is the config's, not the dead run's live XML. */
    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &xml, &err), err);
    cr_assert_null(strstr(xml, " id='"), "a crashed domain's XML has an id: %.200s", xml);
    free(xml);
    /* Queries change nothing: the run folder stays until a call that
     * changes the domain records the end. */
    g_autofree char *status = g_build_filename(T.root, "run", "domains", "crash", "status.json",
                                               NULL);
    cr_assert(g_file_test(status, G_FILE_TEST_EXISTS), "a query cleaned up the ended run");
    itest_ok(qv_domain_create(dom, 0, &err), err);
    int wst;
    cr_assert_eq(waitpid(listener, &wst, 0), listener);
    g_autofree char *events = read_all(fd);
    cr_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "listener failed: %d\n%s", wst, events);
    line_expected(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                  QV_DOMAIN_EVENT_STOPPED_CRASHED);
    cr_assert_neq((pid_t)itest_status_field(&T, "crash", "qemu_pid"), qemu);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* Two processes suspend and resume the same domain at once; a third is
 * killed in the middle of doing the same. Every call succeeds and the
 * domain stays controllable. */
Test(lifecycle, concurrent_control_and_killed_controller, .timeout = 150)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "multi", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, 0, &err), err);

    /* The third child says when it is busy: after its first pairs. */
    int busy[2];
    cr_assert_eq(pipe2(busy, O_CLOEXEC), 0);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(busy[0]);
            qv_conn *c = NULL;
            qv_domain *d = NULL;
            if (qv_conn_open(T.uri, &c, NULL) < 0 || qv_conn_get_domain_by_name(c, "multi", &d, NULL) < 0)
                _exit(2);
            for (int i = 0; i < (k == 2 ? 100000 : 20); i++) {
                qv_error *e = NULL;
                if (qv_domain_suspend(d, &e) < 0 || qv_domain_resume(d, &e) < 0) {
                    fprintf(stderr, "child %d: %s\n", k, qv_error_message(e));
                    _exit(3);
                }
                int st;
                if (qv_domain_get_state(d, &st, NULL, NULL) < 0)
                    _exit(4);
                if (k == 2 && i == 2 && write(busy[1], "b", 1) != 1)
                    _exit(5);
            }
            _exit(0);
        }
    }
    close(busy[1]);
    /* Killed in the middle of its loop, not before it started. */
    struct pollfd pb = { .fd = busy[0], .events = POLLIN };
    char b;
    cr_assert(poll(&pb, 1, 60000) == 1 && read(busy[0], &b, 1) == 1,
              "the third controller never got going");
    close(busy[0]);
    kill(kids[2], SIGKILL);
    for (int k = 0; k < 3; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        if (k < 2)
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed (%d)", k, status);
    }
    /* The killed controller left no lock behind. */
    itest_ok(qv_domain_suspend(dom, &err), err);
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    assert_qemu_status(dom, "running");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, reboot_and_reset_keep_running, .timeout = 150)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "reboot", NULL);
    qv_error *err = NULL;
    int fd;
    pid_t listener = spawn_listener("reboot", &fd);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 90000), "guest did not boot");
    itest_ok(qv_domain_reboot(dom, 0, &err), err);
    /* The guest powers off on the button; the monitor resets it instead. */
    cr_assert(itest_wait_console_n(&T, "QVIRT-GUEST-READY", 2, 90000), "guest did not come back");
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    itest_ok(qv_domain_reset(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int status;
    waitpid(listener, &status, 0);
    g_autofree char *events = read_all(fd);
    line_expected(events, QV_DOMAIN_EVENT_ID_REBOOT, 0, 0);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, start_failure_leaves_nothing_behind)
{
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    g_autofree char *xml = itest_domain_xml(&T, "bad",
        "    <emulator>/nonexistent/qemu-system-x86_64</emulator>\n");
    qv_domain *dom = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    gint64 t0 = g_get_monotonic_time();
    int r = qv_domain_create(dom, 0, &err);
    cr_assert_eq(r, -ENOENT, "create gave %d: %s", r, err ? qv_error_message(err) : "");
    cr_assert(strstr(qv_error_message(err), "/nonexistent/qemu-system-x86_64"), "%s",
              qv_error_message(err));
    cr_assert_lt(g_get_monotonic_time() - t0, 2 * G_USEC_PER_SEC, "exec failure was not immediate");
    qv_error_freep(&err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_FAILED);
    g_autofree char *rundir = g_build_filename(T.root, "run", "domains", "bad", NULL);
    cr_assert_not(g_file_test(rundir, G_FILE_TEST_EXISTS), "runtime dir left behind");

    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, metadata_round_trip)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "meta", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_TITLE, "A title", NULL, NULL,
                                    QV_DOMAIN_AFFECT_CONFIG, &err), err);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_DESCRIPTION, "Some words & <more>",
                                    NULL, NULL, 0, &err), err);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, "<app><x>1</x></app>", "my",
                                    "http://example.org/my", 0, &err), err);
    char *v = NULL;
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_TITLE, NULL, 0, &v, &err), err);
    cr_assert_str_eq(v, "A title");
    free(v);
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_DESCRIPTION, NULL, 0, &v, &err), err);
    cr_assert_str_eq(v, "Some words & <more>");
    free(v);
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, "http://example.org/my", 0, &v, &err), err);
    /* The element comes back in its namespace, with its content. */
    cr_assert(strstr(v, "app") && strstr(v, "http://example.org/my") && strstr(v, ">1</"), "%s", v);
    free(v);

    /* Live and config are separate once running. */
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_TITLE, "live title", NULL, NULL,
                                    QV_DOMAIN_AFFECT_LIVE, &err), err);
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_TITLE, NULL, QV_DOMAIN_AFFECT_CONFIG, &v, &err), err);
    cr_assert_str_eq(v, "A title");
    free(v);
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_TITLE, NULL, QV_DOMAIN_AFFECT_LIVE, &v, &err), err);
    cr_assert_str_eq(v, "live title");
    free(v);
    cr_assert_eq(qv_domain_is_updated(dom, NULL), 1);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, NULL, NULL,
                                    "http://example.org/my", QV_DOMAIN_AFFECT_CONFIG, &err), err);
    cr_assert_eq(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, "http://example.org/my",
                                        QV_DOMAIN_AFFECT_CONFIG, &v, &err), -ENOENT);
    qv_error_freep(&err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A config write that fails half-way (here: the file size limit, as a full
 * disk would) leaves the old config intact. */
Test(lifecycle, atomic_config_write)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "atomic", NULL);
    g_autofree char *cfg = g_build_filename(T.root, "config", "domains", "atomic.xml", NULL);
    g_autofree char *before = NULL;
    cr_assert(g_file_get_contents(cfg, &before, NULL, NULL));

    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 512, 512 };
        setrlimit(RLIMIT_FSIZE, &rl);
        qv_conn *c = NULL;
        qv_domain *d = NULL;
        if (qv_conn_open(T.uri, &c, NULL) < 0 || qv_conn_get_domain_by_name(c, "atomic", &d, NULL) < 0)
            _exit(2);
        GString *big = g_string_new(NULL);
        for (int i = 0; i < 200; i++)
            g_string_append(big, "a long description that does not fit. ");
        qv_error *e = NULL;
        int r = qv_domain_set_metadata(d, QV_DOMAIN_METADATA_DESCRIPTION, big->str, NULL, NULL,
                                       QV_DOMAIN_AFFECT_CONFIG, &e);
        _exit(r < 0 && e && strstr(qv_error_message(e), "atomic.xml") ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the failed write was not reported");
    g_autofree char *after = NULL;
    cr_assert(g_file_get_contents(cfg, &after, NULL, NULL));
    cr_assert_str_eq(after, before, "config changed by a failed write");
    /* No temp files left around. */
    g_autofree char *dir = g_build_filename(T.root, "config", "domains", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name(d)))
        cr_assert(g_str_equal(n, "atomic.xml"), "stray file %s", n);
    g_dir_close(d);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(lifecycle, define_rejects_conflicts_and_undefine_running)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "one", NULL);
    qv_error *err = NULL;
    char uuid[37];
    qv_domain_get_uuid_string(dom, uuid, NULL);
    /* Same UUID under another name. */
    g_autofree char *xml = itest_domain_xml(&T, "two", NULL);
    g_autofree char *with_uuid = g_strdup_printf("%.*s<uuid>%s</uuid>%s",
        (int)(strstr(xml, "<memory") - xml), xml, uuid, strstr(xml, "<memory"));
    cr_assert_eq(qv_conn_define_domain(conn, with_uuid, 0, NULL, &err), -EEXIST);
    cr_assert(strstr(qv_error_message(err), "one"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    /* Lookups. */
    qv_domain *by = NULL;
    itest_ok(qv_conn_get_domain_by_uuid_string(conn, uuid, &by, &err), err);
    cr_assert_str_eq(qv_domain_get_name(by), "one");
    qv_domain_free(by);
    /* Undefining a running domain makes it transient. */
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    int id = qv_domain_get_id(dom);
    itest_ok(qv_conn_get_domain_by_id(conn, id, &by, &err), err);
    cr_assert_str_eq(qv_domain_get_name(by), "one");
    qv_domain_free(by);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    cr_assert_eq(qv_domain_is_persistent(dom, NULL), 0);
    cr_assert_eq(qv_domain_is_active(dom, NULL), 1);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain *gone = NULL;
    cr_assert_eq(qv_conn_get_domain_by_name(conn, "one", &gone, &err), -ENOENT);
    qv_error_freep(&err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

static void wait_ok(pid_t pid);

static char *run_file(const char *name, const char *file)
{
    return g_strdup_printf("%s/run/domains/%s/%s", T.root, name, file);
}

/* Takes a lock file of the domain's run, as another process would: the
 * library (a separate open file) then cannot have it. */
static int hold_lock(const char *name, const char *file)
{
    g_autofree char *path = run_file(name, file);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0, "%s is held: %s", path, strerror(errno));
    return fd;
}

/* Moves a socket of the run away (back with put_back): nobody can connect
 * to it, and connections already open stay. */
static void move_away(const char *name, const char *file)
{
    g_autofree char *path = run_file(name, file);
    g_autofree char *away = g_strdup_printf("%s.away", path);
    cr_assert_eq(rename(path, away), 0, "%s: %s", path, strerror(errno));
}

static void put_back(const char *name, const char *file)
{
    g_autofree char *path = run_file(name, file);
    g_autofree char *away = g_strdup_printf("%s.away", path);
    cr_assert_eq(rename(away, path), 0, "%s: %s", away, strerror(errno));
}

static int raw_connect(const char *name, const char *file)
{
    g_autofree char *path = run_file(name, file);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s: %s", path, strerror(errno));
    return fd;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        cr_assert_gt(n, 0, "write: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

/* The next line (without its \r\n) a raw client reads, buffering the rest
 * in buf; NULL at EOF, on a reset, or after 10 s. */
static char *read_line(int fd, GString *buf)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        char *nl = memchr(buf->str, '\n', buf->len);
        if (nl) {
            size_t n = (size_t)(nl - buf->str);
            char *line = g_strndup(buf->str, n > 0 && buf->str[n - 1] == '\r' ? n - 1 : n);
            g_string_erase(buf, 0, (gssize)n + 1);
            return line;
        }
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return NULL;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            return NULL;
        g_string_append_len(buf, chunk, n);
    }
}

/* A raw client's next reply: "return", or the error's class and desc. */
static char *next_reply(int fd, GString *buf)
{
    g_autofree char *line = read_line(fd, buf);
    cr_assert_not_null(line, "no reply from the proxy");
    g_autoptr(json_object) msg = json_tokener_parse(line);
    cr_assert_not_null(msg, "not JSON: %s", line);
    json_object *e, *o;
    if (json_object_object_get_ex(msg, "return", NULL))
        return g_strdup("return");
    cr_assert(json_object_object_get_ex(msg, "error", &e), "%s", line);
    cr_assert(json_object_object_get_ex(e, "class", &o), "%s", line);
    const char *cls = json_object_get_string(o);
    cr_assert(json_object_object_get_ex(e, "desc", &o), "%s", line);
    return g_strdup_printf("%s: %s", cls, json_object_get_string(o));
}

/* A handle of its own for domain `name`, which has leased nothing yet. */
static qv_domain *fresh_handle(qv_conn *conn, const char *name)
{
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn, name, &dom, &err), err);
    return dom;
}

/* With the proxy out of reach (another process holds the lane, ctl.sock
 * cannot be connected), commands fall back to QEMU's own command monitor,
 * qmp.sock, and the domain stays controllable: they work while qmp.sock is
 * there and fail, naming it, while it is not, so that is the path they
 * took. (The monitor is not killed: a killed one is replaced by the next
 * call, which would bring the proxy back.) */
Test(lifecycle, monitor_killed_commands_fall_back)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *def = define(conn, "nomon", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(def, 0, &err), err);
    qv_domain_free(def); /* it may have leased the lane */
    int lane = hold_lock("nomon", "lane-0.lock");
    move_away("nomon", "ctl.sock");
    qv_domain *dom = fresh_handle(conn, "nomon");

    move_away("nomon", "qmp.sock");
    cr_assert_lt(qv_domain_suspend(dom, &err), 0, "suspended with no path to QEMU");
    cr_assert(strstr(qv_error_message(err), "qmp.sock"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    put_back("nomon", "qmp.sock");

    itest_ok(qv_domain_suspend(dom, &err), err);
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    assert_qemu_status(dom, "paused");
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_qemu_status(dom, "running");
    put_back("nomon", "ctl.sock");
    close(lane);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_DESTROYED);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* The proxy serves many clients at once; one that sends garbage or hangs
 * up mid-command does not hurt the others. The library's calls take the
 * proxy (another process holds the lane) and nothing else: qmp.sock is
 * moved away meanwhile. */
Test(lifecycle, proxy_survives_bad_clients)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *def = define(conn, "proxy", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(def, QV_DOMAIN_START_PAUSED, &err), err);
    qv_domain_free(def);
    int lane = hold_lock("proxy", "lane-0.lock");
    qv_domain *dom = fresh_handle(conn, "proxy");
    int bad[3];
    GString *in[3];
    for (int i = 0; i < 3; i++) {
        bad[i] = raw_connect("proxy", "ctl.sock");
        in[i] = g_string_new(NULL);
        g_autofree char *greeting = read_line(bad[i], in[i]);
        cr_assert(greeting && strstr(greeting, "\"QMP\""), "no greeting from the proxy");
    }
    write_all(bad[0], "{not json at all", 16);
    write_all(bad[1], "{\"execute\": \"query-status\"}", 27);
    close(bad[1]); /* hangs up before its reply */
    write_all(bad[2], "{\"execute\": 42}\n", 16);
    g_autofree char *reply = next_reply(bad[2], in[2]);
    cr_assert(g_str_has_prefix(reply, "GenericError: "), "%s", reply);
    g_autofree char *reply0 = next_reply(bad[0], in[0]);
    cr_assert(strstr(reply0, "not valid JSON"), "%s", reply0);

    move_away("proxy", "qmp.sock");
    for (int i = 0; i < 3; i++) {
        itest_ok(qv_domain_resume(dom, &err), err);
        itest_ok(qv_domain_suspend(dom, &err), err);
    }
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    assert_qemu_status(dom, "paused");
    /* the client that sent garbage is still served */
    write_all(bad[0], "\n{\"execute\": \"query-status\"}\n", 29);
    g_autofree char *reply1 = next_reply(bad[0], in[0]);
    cr_assert_str_eq(reply1, "return");
    put_back("proxy", "qmp.sock");
    close(bad[0]);
    close(bad[2]);
    for (int i = 0; i < 3; i++)
        g_string_free(in[i], TRUE);
    close(lane);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* Commands carry no id, so a proxy client matches replies by order: every
 * request gets exactly one reply, bad ones an error, and an error the
 * proxy gives at once waits behind the replies QEMU still owes. */
Test(lifecycle, proxy_answers_every_request_in_order)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "order", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    int fd = raw_connect("order", "ctl.sock");
    g_autoptr(GString) in = g_string_new(NULL);
    g_autofree char *greeting = read_line(fd, in);
    cr_assert(greeting && strstr(greeting, "\"QMP\""), "no greeting from the proxy");

    /* One write: query-status is on its way to QEMU when the proxy reads
     * the bad requests behind it. */
    const char *reqs = "{\"execute\": \"query-status\"}\n"
                       "garbage\n"
                       "{\"execute\": \"no-such-command\"}\n"
                       "[1, 2]\n"
                       "{\"arguments\": {}}\n"
                       "{\"execute\": \"query-name\", \"arguments\": [1]}\n"
                       "{\"execute\": \"qmp_capabilities\"}\n"
                       "{\"execute\": \"query-name\"}\n";
    write_all(fd, reqs, strlen(reqs));
    const char *want[] = { "return",
                           "GenericError: the request is not valid JSON",
                           "CommandNotFound: ",
                           "GenericError: a request must be a JSON object",
                           "GenericError: a request needs an \"execute\" string",
                           "GenericError: the \"arguments\" of 'query-name' must be a JSON object",
                           "return",
                           "return" };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_autofree char *reply = next_reply(fd, in);
        cr_assert(g_str_has_prefix(reply, want[i]), "reply %zu: %s, expected %s...", i, reply,
                  want[i]);
    }

    /* An over-long request gets an error and costs only its own line. */
    g_autoptr(GString) big = g_string_new("{\"execute\": \"query-status\", \"arguments\": {\"x\": \"");
    while (big->len < 1100 * 1024)
        g_string_append(big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    g_string_append(big, "\"}}\n{\"execute\": \"query-status\"}\n");
    write_all(fd, big->str, big->len);
    g_autofree char *r1 = next_reply(fd, in);
    cr_assert(strstr(r1, "longer than"), "%s", r1);
    g_autofree char *r2 = next_reply(fd, in);
    cr_assert_str_eq(r2, "return");
    /* and nothing more: one reply per request */
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    cr_assert_eq(in->len, 0, "extra bytes: %s", in->str);
    cr_assert_eq(poll(&pfd, 1, 200), 0, "an extra reply came");
    close(fd);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* The proxy serves 64 clients at once; the 65th hears why it is closed,
 * and a place that frees up is taken again. */
Test(lifecycle, proxy_full_says_so)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "full", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    int fds[64];
    for (int i = 0; i < 64; i++) {
        fds[i] = raw_connect("full", "ctl.sock");
        g_autoptr(GString) in = g_string_new(NULL);
        g_autofree char *greeting = read_line(fds[i], in);
        cr_assert(greeting && strstr(greeting, "\"QMP\""), "client %d got no greeting", i);
    }
    int extra = raw_connect("full", "ctl.sock");
    g_autoptr(GString) in = g_string_new(NULL);
    g_autofree char *reply = next_reply(extra, in);
    cr_assert(g_str_has_prefix(reply, "GenericError: the command proxy is full"), "%s", reply);
    cr_assert_null(read_line(extra, in), "the 65th client was not closed");
    close(extra);

    close(fds[0]);
    bool served = false;
    for (int tries = 0; tries < 100 && !served; tries++) {
        int fd = raw_connect("full", "ctl.sock");
        g_autoptr(GString) b = g_string_new(NULL);
        g_autofree char *line = read_line(fd, b);
        served = line && strstr(line, "\"QMP\"");
        if (served) {
            write_all(fd, "{\"execute\": \"query-status\"}\n", 28);
            g_autofree char *r = next_reply(fd, b);
            cr_assert_str_eq(r, "return");
        } else {
            poll(NULL, 0, 50);
        }
        close(fd);
    }
    cr_assert(served, "the freed place was not taken again");
    for (int i = 1; i < 64; i++)
        close(fds[i]);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A command is never sent twice: when the proxy's connection breaks after
 * the command went to it, the caller hears that it may or may not have
 * run, and it is not sent again over qmp.sock. The monitor is stopped, so
 * QEMU never got it: had the library sent it again, the object would
 * exist. */
Test(lifecycle, command_not_sent_twice_when_the_proxy_breaks)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *def = define(conn, "once", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(def, QV_DOMAIN_START_PAUSED, &err), err);
    qv_domain_free(def);
    int lane = hold_lock("once", "lane-0.lock");
    qv_domain *dom = fresh_handle(conn, "once");
    pid_t monitor = (pid_t)itest_status_field(&T, "once", "monitor_pid");
    cr_assert_gt(monitor, 0);
    int ready[2], go[2], done[2];
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(done), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        /* The caller, in a process of its own so that the test can stop
         * and kill the monitor while the call waits. It connects to the
         * proxy first (the lane is the test's), then sends on the word. */
        char *out = NULL;
        qv_error *e = NULL;
        char b;
        if (qv_domain_qemu_monitor_command(dom, "{\"execute\": \"query-status\"}", &out, 0, &e) < 0 ||
            write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
            _exit(2);
        free(out);
        out = NULL;
        int r = qv_domain_qemu_monitor_command(
            dom, "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"secret\", "
                 "\"id\": \"once0\", \"data\": \"x\"}}", &out, 0, &e);
        g_autofree char *msg = g_strdup_printf("%d %s", r, r < 0 ? qv_error_message(e) : out);
        if (write(done[1], msg, strlen(msg)) < 0)
            _exit(3);
        _exit(0);
    }
    close(done[1]);
    char b;
    cr_assert_eq(read(ready[0], &b, 1), 1, "the caller failed to start");
    cr_assert_eq(kill(monitor, SIGSTOP), 0);
    cr_assert_eq(write(go[1], "g", 1), 1);
    poll(NULL, 0, 500); /* the command now sits in the stopped monitor's socket */
    cr_assert_eq(kill(monitor, SIGKILL), 0);
    g_autofree char *result = read_all(done[0]);
    wait_ok(child);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(go[i]);
    }
    cr_assert(strstr(result, "broke after 'object-add' was sent; it may or may not have run"),
              "%s", result);
    cr_assert(g_str_has_prefix(result, "-"), "%s", result);

    /* QEMU never ran it, and nobody sent it again */
    char *objs = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\": \"qom-list\", \"arguments\": "
                                                 "{\"path\": \"/objects\"}}", &objs, 0, &err), err);
    cr_assert(strstr(objs, "\"return\""), "%s", objs);
    cr_assert_null(strstr(objs, "once0"), "object-add ran: %s", objs);
    free(objs);
    close(lane);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* startupPolicy='optional': a missing cdrom image is dropped at start with a
 * DISK_CHANGE event; without the policy the start fails and says why. */
Test(lifecycle, optional_cdrom_missing_on_start)
{
    qv_conn *conn = itest_open(&T);
    const char *cd = "    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                     "<source file='/nonexistent/qvirt-test.iso' startupPolicy='optional'/>"
                     "<target dev='hdc' bus='ide'/><readonly/></disk>\n";
    qv_domain *dom = define(conn, "optcd", cd);
    qv_error *err = NULL;
    int fd;
    pid_t listener = spawn_listener("optcd", &fd);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &xml, &err), err);
    cr_assert_null(strstr(xml, "qvirt-test.iso"), "the live XML still has the missing source");
    free(xml);
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_INACTIVE, &xml, &err), err);
    cr_assert(strstr(xml, "qvirt-test.iso"), "the config lost the source");
    free(xml);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int status;
    waitpid(listener, &status, 0);
    g_autofree char *events = read_all(fd);
    line_expected(events, QV_DOMAIN_EVENT_ID_DISK_CHANGE, QV_DOMAIN_EVENT_DISK_CHANGE_MISSING_ON_START, 0);
    qv_domain_free(dom);

    const char *mandatory = "    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                            "<source file='/nonexistent/qvirt-test.iso'/>"
                            "<target dev='hdc' bus='ide'/><readonly/></disk>\n";
    dom = define(conn, "mandcd", mandatory);
    cr_assert_lt(qv_domain_create(dom, 0, &err), 0);
    cr_assert(strstr(qv_error_message(err), "qvirt-test.iso"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_FAILED);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

static bool lane_held(const char *name, int lane)
{
    g_autofree char *path = g_strdup_printf("%s/run/domains/%s/lane-%d.lock", T.root, name, lane);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

static int count_lines(const char *events, int id, int ev, int detail)
{
    g_autofree char *line = g_strdup_printf("%d %d %d\n", id, ev, detail);
    int n = 0;
    for (const char *p = events; (p = strstr(p, line)); p += strlen(line))
        n++;
    return n;
}

/* Runs `pairs` resume+suspend pairs on its own connection in a child;
 * returns the child's pid. Then the child writes a byte to done_fd (when
 * >= 0) and waits hold_ms. */
static pid_t spawn_pairs(const char *name, int pairs, int hold_ms, int done_fd)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        qv_conn *c = NULL;
        qv_domain *d = NULL;
        if (qv_conn_open(T.uri, &c, NULL) < 0 || qv_conn_get_domain_by_name(c, name, &d, NULL) < 0)
            _exit(2);
        for (int i = 0; i < pairs; i++) {
            qv_error *e = NULL;
            if (qv_domain_resume(d, &e) < 0 || qv_domain_suspend(d, &e) < 0) {
                fprintf(stderr, "child: %s\n", qv_error_message(e));
                _exit(3);
            }
        }
        if (done_fd >= 0 && write(done_fd, "d", 1) != 1)
            _exit(4);
        poll(NULL, 0, hold_ms);
        _exit(0);
    }
    return pid;
}

static void wait_ok(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%d)", status);
}

/* A process leases QEMU's lane monitor (there is one: every idle monitor
 * makes each QMP command dearer, QEMU reading monitors a byte per pass) and
 * keeps it; other processes share the monitor's proxy; a killed holder
 * frees the lane; a handle follows its domain into the next run; and every
 * pause and resume is one event, whichever path carried it. */
Test(lifecycle, lanes_leased_shared_and_freed, .timeout = 150)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "lanes", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_suspend(dom, &err), err);
    cr_assert(lane_held("lanes", 0), "the first process did not lease the lane");
    g_autofree char *lane1 = g_strdup_printf("%s/run/domains/lanes/lane-1.sock", T.root);
    cr_assert_not(g_file_test(lane1, G_FILE_TEST_EXISTS), "QEMU has more than one lane");

    /* A child forked with the handle does not use the parent's connection
     * (the lane is the parent's: the child goes through the proxy), and
     * its exit leaves the parent's lease and connection intact. */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        qv_error *e = NULL;
        bool ok = qv_domain_resume(dom, &e) == 0 && qv_domain_suspend(dom, &e) == 0 &&
                  lane_held("lanes", 0);
        _exit(ok ? 0 : 1);
    }
    wait_ok(child);
    cr_assert(lane_held("lanes", 0), "the parent lost its lane to a child");
    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_suspend(dom, &err), err);

    /* Six processes at once share the proxy. */
    pid_t kids[6];
    for (int k = 0; k < 6; k++)
        kids[k] = spawn_pairs("lanes", 10, 0, -1);
    for (int k = 0; k < 6; k++)
        wait_ok(kids[k]);
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);

    /* Freeing the handle gives the lane back; a holder killed while it
     * holds the lane frees it. */
    qv_domain_free(dom);
    cr_assert_not(lane_held("lanes", 0), "a freed handle kept its lane");
    int done[2];
    cr_assert_eq(pipe(done), 0);
    pid_t holder = spawn_pairs("lanes", 1, 60000, done[1]);
    char b;
    cr_assert_eq(read(done[0], &b, 1), 1, "the holder failed");
    close(done[0]);
    close(done[1]);
    cr_assert(lane_held("lanes", 0), "the next process did not lease the lane");
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    cr_assert_not(lane_held("lanes", 0), "a killed process kept its lane");

    /* Exactly one event per pause and per resume, on the lane (this
     * handle, once it leased it) and through the proxy (a child). */
    itest_ok(qv_conn_get_domain_by_name(conn, "lanes", &dom, &err), err);
    int fd;
    pid_t listener = spawn_listener("lanes", &fd);
    for (int i = 0; i < 3; i++) {
        itest_ok(qv_domain_resume(dom, &err), err);
        itest_ok(qv_domain_suspend(dom, &err), err);
    }
    cr_assert(lane_held("lanes", 0));
    wait_ok(spawn_pairs("lanes", 3, 0, -1));
    assert_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);

    /* The next run: the handle's old lane is gone, it leases the new one. */
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int status;
    cr_assert_eq(waitpid(listener, &status, 0), listener);
    g_autofree char *events = read_all(fd);
    cr_assert_eq(count_lines(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
                             QV_DOMAIN_EVENT_SUSPENDED_PAUSED), 6, "%s", events);
    cr_assert_eq(count_lines(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_RESUMED,
                             QV_DOMAIN_EVENT_RESUMED_UNPAUSED), 6, "%s", events);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_resume(dom, &err), err);
    cr_assert(lane_held("lanes", 0), "the handle did not lease the lane of the new run");
    assert_qemu_status(dom, "running");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A pause or resume that bypasses the library (raw QMP) is still recorded:
 * the monitor learns it from QEMU's events, with one lifecycle event each,
 * also when it lands right after one of the library's own. */
Test(lifecycle, raw_qmp_stop_and_cont_are_recorded)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "raw", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_resume(dom, &err), err);
    int fd;
    pid_t listener = spawn_listener("raw", &fd);

    char *reply = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"stop\"}", &reply, 0, &err), err);
    free(reply);
    int reason = -1;
    cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_PAUSED, 10000, &reason), QV_DOMAIN_PAUSED,
                 "a raw stop was not recorded");
    cr_assert_eq(reason, QV_DOMAIN_PAUSED_USER, "reason %d", reason);

    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_suspend(dom, &err), err);
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"cont\"}", &reply, 0, &err), err);
    free(reply);
    cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_RUNNING, 10000, &reason), QV_DOMAIN_RUNNING,
                 "a raw cont right after a suspend was not recorded");
    assert_qemu_status(dom, "running");

    /* Another event right after a pause and a resume, while the monitor
     * leaves events in the socket until its state check: still journaled. */
    itest_ok(qv_domain_suspend(dom, &err), err);
    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"system_reset\"}", &reply, 0, &err),
             err);
    free(reply);
    g_autofree char *journal = g_build_filename(T.root, "run", "events", NULL);
    bool rebooted = false;
    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
         !rebooted && g_get_monotonic_time() < end; g_usleep(10000)) {
        g_autofree char *all = NULL;
        g_file_get_contents(journal, &all, NULL, NULL);
        rebooted = all && strstr(all, "\"domain\":\"raw\"") &&
                   strstr(all, "\"event_id\":1,");
    }
    cr_assert(rebooted, "the reset after a pause and a resume was not journaled in 5 s");

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    int status;
    cr_assert_eq(waitpid(listener, &status, 0), listener);
    g_autofree char *events = read_all(fd);
    cr_assert_eq(count_lines(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
                             QV_DOMAIN_EVENT_SUSPENDED_PAUSED), 3, "%s", events);
    cr_assert_eq(count_lines(events, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_RESUMED,
                             QV_DOMAIN_EVENT_RESUMED_UNPAUSED), 3, "%s", events);
    /* the reset's (a guest restarting right after it may add its own) */
    cr_assert_geq(count_lines(events, QV_DOMAIN_EVENT_ID_REBOOT, 0, 0), 1, "%s", events);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* A handle that knows a run (its state mapped, its qmp.lock open) follows
 * what another handle does: a pause at once, a destroy, and new runs, which
 * it then controls, also when two restarts happened while it looked away. */
Test(lifecycle, handle_follows_restarts_by_another)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *a = define(conn, "follow", NULL), *b = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn, "follow", &b, &err), err);
    itest_ok(qv_domain_create(a, QV_DOMAIN_START_PAUSED, &err), err);
    assert_state(b, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    itest_ok(qv_domain_resume(b, &err), err);
    assert_state(a, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    itest_ok(qv_domain_suspend(a, &err), err);
    assert_state(b, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);

    itest_ok(qv_domain_destroy(b, 0, &err), err);
    assert_state(a, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_DESTROYED);
    cr_assert_lt(qv_domain_resume(a, &err), 0);
    cr_assert(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    qv_error_freep(&err);

    itest_ok(qv_domain_create(b, QV_DOMAIN_START_PAUSED, &err), err);
    assert_state(a, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    itest_ok(qv_domain_resume(a, &err), err);
    assert_state(b, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    assert_qemu_status(b, "running");

    /* Two restarts while a does not look: its next call finds the newest. */
    for (int i = 0; i < 2; i++) {
        itest_ok(qv_domain_destroy(b, 0, &err), err);
        itest_ok(qv_domain_create(b, QV_DOMAIN_START_PAUSED, &err), err);
    }
    itest_ok(qv_domain_resume(a, &err), err);
    assert_state(b, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    assert_qemu_status(a, "running");
    itest_ok(qv_domain_destroy(a, 0, &err), err);
    qv_domain_free(a);
    qv_domain_free(b);
    qv_conn_close(conn);
}

/* get_control_info: a free monitor is OK; a held one is OCCUPIED for as
 * long as its holder has had it, whether the holder stamped the lock file
 * (commands on QEMU's own monitor) or the mapped state (stop and cont). */
Test(lifecycle, control_info_reports_the_holder)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "ctlinfo", NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OK);

    g_autofree char *path = g_strdup_printf("%s/run/domains/ctlinfo/qmp.lock", T.root);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    /* a holder that stamped the file 300 ms ago */
    char stamp[32];
    int n = snprintf(stamp, sizeof stamp, "%20lld\n", (long long)g_get_real_time() - 300000);
    cr_assert_eq(pwrite(fd, stamp, (size_t)n, 0), n);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OCCUPIED);
    cr_assert(ci.state_time >= 300 && ci.state_time < 5000, "held for %llu ms",
              (unsigned long long)ci.state_time);
    flock(fd, LOCK_UN);

    /* a resume stamps the mapped state, later than the file's stamp, which
     * an old one of 10 s stands for */
    n = snprintf(stamp, sizeof stamp, "%20lld\n", (long long)g_get_real_time() - 10000000);
    cr_assert_eq(pwrite(fd, stamp, (size_t)n, 0), n);
    itest_ok(qv_domain_resume(dom, &err), err);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OCCUPIED);
    cr_assert_lt(ci.state_time, 5000, "the file's old stamp was taken: %llu ms",
                 (unsigned long long)ci.state_time);
    close(fd);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* <interface type='network'> joins what the name stands for: here qvirt's
 * networks.conf says user-mode networking. An unknown name stops the
 * start with one sentence naming it, and leaves the domain shut off. */
Test(lifecycle, network_by_name)
{
    g_autofree char *conf = g_build_filename(T.root, "config", "networks.conf", NULL);
    g_autofree char *cdir = g_path_get_dirname(conf);
    g_mkdir_with_parents(cdir, 0700);
    cr_assert(g_file_set_contents(conf, "[testnet]\nmode=user\n", -1, NULL));
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "netname",
                            "<interface type='network'><source network='testnet'/>"
                            "<model type='virtio'/></interface>");
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "netname", "qemu_pid");
    g_autofree char *path = g_strdup_printf("/proc/%d/cmdline", (int)qemu);
    g_autofree char *cmd = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(path, &cmd, &len, NULL));
    bool user_netdev = false;
    for (gsize off = 0; off < len; off += strlen(cmd + off) + 1)
        user_netdev |= strstr(cmd + off, "\"type\":\"user\"") != NULL;
    cr_assert(user_netdev, "QEMU has no user-mode netdev");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);

    dom = define(conn, "netname2",
                 "<interface type='network'><source network='nowhere'/></interface>");
    cr_assert_lt(qv_domain_create(dom, 0, &err), 0);
    cr_assert(strstr(qv_error_message(err), "network 'nowhere' is not defined"), "%s",
              qv_error_message(err));
    qv_error_freep(&err);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_FAILED);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* <os firmware='efi'>: the image comes from the host's firmware descriptors,
 * the NVRAM from its template under the config folder; RESET_NVRAM copies it
 * again and undefine follows libvirt's NVRAM rule. */
Test(lifecycle, uefi_nvram)
{
    if (!g_file_test("/usr/share/qemu/firmware/60-edk2-x86_64.json", G_FILE_TEST_EXISTS))
        cr_skip_test("the ovmf package is not installed (no /usr/share/qemu/firmware descriptors)");
    qv_conn *conn = itest_open(&T);
    const char *xml =
        "<domain type='qemu'><name>efi</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>"
        "<features><acpi/></features><devices/></domain>";
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    g_autofree char *nvram = g_build_filename(T.root, "config", "nvram", "efi_VARS.fd", NULL);
    cr_assert(!g_file_test(nvram, G_FILE_TEST_EXISTS));
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    struct stat st;
    cr_assert_eq(stat(nvram, &st), 0, "no NVRAM at %s", nvram);
    cr_assert_eq(st.st_mode & 0777, 0600);
    g_autofree char *tmpl = NULL;
    gsize tlen = 0;
    /* Debian's default: the secure-boot image with Microsoft's keys enrolled. */
    cr_assert(g_file_get_contents("/usr/share/OVMF/OVMF_VARS_4M.ms.fd", &tmpl, &tlen, NULL));
    cr_assert_eq((gsize)st.st_size, tlen);
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    cr_assert(strstr(live, "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>"), "%s", live);
    cr_assert(strstr(live, "<smm state='on'/>"), "%s", live);
    free(live);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);

    /* Scribble on it: a plain start keeps it, RESET_NVRAM copies the template again. */
    /* (same size: QEMU wants a multiple of 4 KiB) */
    g_autofree char *scribbled = g_memdup2(tmpl, tlen);
    memset(scribbled, 0xaa, 4096);
    cr_assert(g_file_set_contents(nvram, scribbled, (gssize)tlen, NULL));
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *kept = NULL;
    gsize klen = 0;
    cr_assert(g_file_get_contents(nvram, &kept, &klen, NULL));
    cr_assert(klen == tlen && !memcmp(kept, scribbled, tlen), "a plain start rewrote the NVRAM");
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED | QV_DOMAIN_START_RESET_NVRAM, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *now = NULL;
    gsize nlen = 0;
    cr_assert(g_file_get_contents(nvram, &now, &nlen, NULL));
    cr_assert(nlen == tlen && !memcmp(now, tmpl, tlen), "RESET_NVRAM did not re-copy the template");

    /* Undefine: refused without a flag, UNDEFINE_NVRAM removes the file. */
    cr_assert_lt(qv_domain_undefine(dom, 0, &err), 0);
    cr_assert(strstr(qv_error_message(err), "cannot undefine domain with nvram"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    cr_assert(g_file_test(nvram, G_FILE_TEST_EXISTS));
    itest_ok(qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_NVRAM, &err), err);
    cr_assert(!g_file_test(nvram, G_FILE_TEST_EXISTS));
    qv_domain_free(dom);
    qv_conn_close(conn);
}
