/* The debug log (common/qv-log.h): silent unless asked; with
 * QVIRT_DEBUG and QVIRT_LOG_FILE, one line per QMP command naming its path
 * and result, and one per state change; secrets never written. A paused
 * start needs no guest boot. Each test runs in its own process (Criterion
 * forks), so each reads the environment it sets before any library call. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

static itest T;
static void teardown(void) { itest_teardown(&T); }

/* A set_password and a secret object: their values must never be logged. */
#define SECRET_PW "pw-Xq7-never-logged"
#define SECRET_DATA "data-Zr9-never-logged"

static void quiet_setup(void)
{
    unsetenv("QVIRT_DEBUG");
    unsetenv("QVIRT_LOG_FILE");
    itest_setup(&T);
}

static char *log_path;
static void debug_setup(void)
{
    itest_setup(&T);
    log_path = g_build_filename(T.root, "qvirt-debug.log", NULL);
    setenv("QVIRT_DEBUG", "1", 1);
    setenv("QVIRT_LOG_FILE", log_path, 1);
}

static char *monitor_log;

/* Start paused, resume, suspend, send two secrets, destroy. */
static void exercise(void)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *xml = itest_domain_xml(&T, "logged", NULL);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_suspend(dom, &err), err);
    /* No VNC display: QEMU refuses it, and the refusal is logged too. */
    char *reply = NULL;
    int r = qv_domain_qemu_monitor_command(
        dom, "{\"execute\":\"set_password\",\"arguments\":{\"protocol\":\"vnc\",\"password\":\"" SECRET_PW "\"}}",
        &reply, 0, &err);
    (void)r;
    g_clear_pointer(&reply, g_free);
    g_clear_pointer(&err, qv_error_free);
    itest_ok(qv_domain_qemu_monitor_command(
                 dom, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\",\"id\":\"s0\",\"data\":\"" SECRET_DATA "\"}}",
                 &reply, 0, &err), err);
    g_free(reply);
    /* The run folder goes with the run: keep the supervisor's log. */
    g_autofree char *mpath = g_build_filename(T.root, "run", "domains", "logged", "monitor.log", NULL);
    cr_assert(g_file_get_contents(mpath, &monitor_log, NULL, NULL), "no %s", mpath);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(log, silent_by_default, .init = quiet_setup, .fini = teardown, .timeout = 120)
{
    g_autofree char *cap = g_build_filename(T.root, "stderr", NULL);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    exercise();
    dup2(saved, STDERR_FILENO);
    close(saved);
    g_autofree char *out = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(cap, &out, &len, NULL));
    cr_assert_eq(len, 0, "the library wrote to stderr unasked: %s", out);
}

Test(log, debug_to_file_names_commands_paths_and_never_secrets, .init = debug_setup,
     .fini = teardown, .timeout = 120)
{
    exercise();
    g_autofree char *log = NULL;
    cr_assert(g_file_get_contents(log_path, &log, NULL, NULL), "no log at %s", log_path);
    /* The line format: date, time with ms, program[pid], level. */
    g_autofree char *pid = g_strdup_printf(" qvirt[%d]: ", (int)getpid());
    cr_assert(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} qvirt\\[\\d+\\]: "
                                   "(debug|info|warning|error): ",
                                   log, G_REGEX_MULTILINE, 0),
              "unexpected line format:\n%s", log);
    cr_assert(strstr(log, pid), "no line from this process:\n%s", log);
    cr_assert(g_regex_match_simple("debug: domain 'logged': qmp 'cont' via (lane|proxy|qmp\\.sock): ok in [0-9.]+ ms",
                                   log, 0, 0), "no 'cont' line:\n%s", log);
    cr_assert(g_regex_match_simple("debug: domain 'logged': qmp 'stop' via (lane|proxy|qmp\\.sock): ok in [0-9.]+ ms",
                                   log, 0, 0), "no 'stop' line:\n%s", log);
    cr_assert(strstr(log, "qmp 'set_password' (protocol, password) via "), "%s", log);
    cr_assert(strstr(log, "qmp 'object-add' (qom-type, id, data) via "), "%s", log);
    /* State changes the library wrote. */
    cr_assert(strstr(log, "info: domain 'logged': started, paused (QEMU pid "), "%s", log);
    cr_assert(strstr(log, "info: domain 'logged': state written: running"), "%s", log);
    cr_assert(strstr(log, "info: domain 'logged': state written: paused"), "%s", log);
    cr_assert(strstr(log, "info: domain 'logged': destroyed"), "%s", log);
    /* Secrets: never, not even in the answer QEMU gave. */
    cr_assert_null(strstr(log, SECRET_PW), "a password was logged:\n%s", log);
    cr_assert_null(strstr(log, SECRET_DATA), "a secret was logged:\n%s", log);
    /* The supervisor's monitor.log: the same format, always on. */
    cr_assert(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} "
                                   "qvirt-monitor\\[\\d+\\]: info: ",
                                   monitor_log, G_REGEX_MULTILINE, 0), "%s", monitor_log);
    cr_assert_null(strstr(monitor_log, SECRET_PW));
    cr_assert_null(strstr(monitor_log, SECRET_DATA));
}
