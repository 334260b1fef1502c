/* Consoles, channels, graphics clients, display URIs and the guest agent's
 * small calls against the test guest: bytes round-trip through the serial
 * console's pty into the guest's shell and back, a second session gets
 * EBUSY and FORCE cuts the first one off, the agent channel answers a
 * guest-sync, a VNC client fd gets the RFB greeting, domdisplay prints
 * QEMU's actual port, the agent reports the guest's hostname, and the
 * agent's "not connected" (qemu-ga killed) and "not responding" (qemu-ga
 * stopped) are told apart. The qvirt CLI runs the same paths from a
 * script. A VNC password reaches QEMU over QMP, not its command line: a
 * client logs in with it, not with another, and not once it expired. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "itest.h"
#include "x509.h"
#include "vnc-des.h"

static itest T;
static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    itest_setup(&T);
}
static void teardown(void) { itest_teardown(&T); }

TestSuite(console, .init = setup, .fini = teardown, .timeout = 240);

/* The test guest with a pty serial console (its shell runs there), the
 * agent channel and a VNC display on an automatic port. */
static char *guest_xml(const char *name, bool agent, const char *serial_type)
{
    g_autofree char *serial = !strcmp(serial_type, "pty")
                                  ? g_strdup("<serial type='pty'><target port='0'/></serial>")
                                  : g_strdup_printf("<serial type='file'><source path='%s'/>"
                                                    "<target port='0'/></serial>", T.console);
    g_autofree char *devices = g_strdup_printf(
        "    %s\n"
        "%s"
        "    <controller type='usb' model='none'/>\n"
        "    <graphics type='vnc' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>\n"
        "    <video><model type='vga'/></video>\n"
        "    <memballoon model='none'/>\n",
        serial,
        agent ? "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
              : "");
    return qv_test_guest_domain_xml(name, T.kernel, T.initrd, devices);
}

static qv_domain *start_guest(qv_conn *conn, const char *xml)
{
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_create_domain(conn, xml, 0, &dom, &err);
    cr_assert_eq(r, 0, "create: %s", err ? qv_error_message(err) : "?");
    return dom;
}

static void destroy(qv_domain *dom)
{
    qv_error *err = NULL;
    int r = qv_domain_destroy(dom, 0, &err);
    cr_assert_eq(r, 0, "destroy: %s", err ? qv_error_message(err) : "?");
    qv_domain_free(dom);
}

/* ---- console I/O ----------------------------------------------------------- */

/* Reads what fd has within ms into buf; false on EOF or error. */
static bool read_some(int fd, GString *buf, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return true;
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
        return false;
    g_string_append_len(buf, chunk, n);
    return true;
}

static void write_str(int fd, const char *s)
{
    size_t len = strlen(s);
    cr_assert_eq(write(fd, s, len), (ssize_t)len, "write to the console: %s", strerror(errno));
}

/* Runs a shell line on the console until its output holds want (the shell
 * may not be up yet: the line is sent again every 2 s). */
static void console_run(int fd, const char *line, const char *want, int timeout_ms)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gint64 next_send = 0;
    while (!strstr(buf->str, want)) {
        gint64 now = g_get_monotonic_time();
        cr_assert_lt(now, deadline, "'%s' did not appear on the console after '%s'; it showed: %s",
                     want, line, buf->str);
        if (now >= next_send) {
            write_str(fd, line);
            next_send = now + 2000 * 1000;
        }
        cr_assert(read_some(fd, buf, 100), "the console closed; it showed: %s", buf->str);
    }
}

/* A shell line whose output (qvirt-<n+1>) differs from its echo. */
static char *echo_line(int n, char **want)
{
    *want = g_strdup_printf("qvirt-%d\r\n", n + 1);
    return g_strdup_printf("echo qvirt-$((%d+1))\n", n);
}

static int open_console(qv_domain *dom, unsigned int flags)
{
    int fd = -1;
    qv_error *err = NULL;
    int r = qv_domain_open_console(dom, NULL, &fd, flags, &err);
    cr_assert_eq(r, 0, "open_console(0x%x): %s", flags, err ? qv_error_message(err) : "?");
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the console fd must be close-on-exec");
    return fd;
}

/* ---- the qvirt binary ---------------------------------------------------------- */

static char *qvirt_path(void)
{
    const char *root = g_getenv("QVIRT_BUILD_ROOT");
    cr_assert_not_null(root, "QVIRT_BUILD_ROOT is not set");
    return g_build_filename(root, "tools", "qvirt", NULL);
}

/* Runs qvirt -c URI args...; returns the exit status, stdout and stderr. */
static int qvirt_run(char **out, char **errout, const char *first, ...)
{
    g_autofree char *bin = qvirt_path();
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, bin);
    g_ptr_array_add(argv, (char *)"-c");
    g_ptr_array_add(argv, T.uri);
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    int status = -1;
    g_autoptr(GError) gerr = NULL;
    cr_assert(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
                           errout, &status, &gerr), "spawn qvirt: %s", gerr ? gerr->message : "?");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `qvirt console` from a script: stdin is a pipe; the echo shows on stdout;
 * closing stdin ends the session after the drain. */
static void check_cli_console(const char *name, int n)
{
    g_autofree char *bin = qvirt_path();
    char *argv[] = { bin, (char *)"-c", T.uri, (char *)"console", (char *)name, NULL };
    GPid pid;
    int in_fd, out_fd;
    g_autoptr(GError) gerr = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, &in_fd, &out_fd, NULL, &gerr),
              "spawn qvirt console: %s", gerr ? gerr->message : "?");
    g_autofree char *want = NULL;
    g_autofree char *line = echo_line(n, &want);
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    gint64 next_send = 0;
    while (!strstr(buf->str, want)) {
        gint64 now = g_get_monotonic_time();
        if (now > deadline) {
            kill(pid, SIGKILL);
            cr_assert_fail("qvirt console did not show '%s'; it printed: %s", want, buf->str);
        }
        if (now >= next_send) {
            write_str(in_fd, line);
            next_send = now + 2000 * 1000;
        }
        cr_assert(read_some(out_fd, buf, 100), "qvirt console ended early: %s", buf->str);
    }
    close(in_fd);
    /* EOF on stdin: the drain ends within its cap. */
    int status = -1;
    gint64 end = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > end) {
            kill(pid, SIGKILL);
            cr_assert_fail("qvirt console did not end after EOF on stdin");
        }
        read_some(out_fd, buf, 100);
    }
    close(out_fd);
    g_spawn_close_pid(pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "qvirt console failed: %s", buf->str);
    cr_assert(g_str_has_prefix(buf->str, "Connected to domain '"), "header: %s", buf->str);
    cr_assert_not_null(strstr(buf->str, "Escape character is ^] (Ctrl + ])\n"), "%s", buf->str);
}

/* Ctrl-] in the input ends the session at once. */
static void check_cli_escape(const char *name)
{
    g_autofree char *bin = qvirt_path();
    char *argv[] = { bin, (char *)"-c", T.uri, (char *)"console", (char *)name, NULL };
    GPid pid;
    int in_fd, out_fd;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &pid, &in_fd, &out_fd, NULL, NULL));
    write_str(in_fd, "\x1d");
    int status = -1;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    g_autoptr(GString) buf = g_string_new(NULL);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > end) {
            kill(pid, SIGKILL);
            cr_assert_fail("qvirt console ignored Ctrl-]");
        }
        read_some(out_fd, buf, 50);
    }
    close(in_fd);
    close(out_fd);
    g_spawn_close_pid(pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, buf->str);
}

/* ---- agent ------------------------------------------------------------------- */

static char *wait_hostname(qv_domain *dom, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        char *name = NULL;
        qv_error *err = NULL;
        int r = qv_domain_get_hostname(dom, 0, &name, &err);
        if (r == 0) {
            qv_error_free(err);
            return name;
        }
        cr_assert_lt(g_get_monotonic_time(), deadline, "the guest agent never answered: %s",
                     qv_error_message(err));
        qv_error_free(err);
        poll(NULL, 0, 200);
    }
}

/* A guest-sync with an id through an opened channel fd: the agent echoes it. */
static void check_channel_sync(int fd)
{
    write_str(fd, "{\"execute\": \"guest-sync\", \"arguments\": {\"id\": 424242}}\n");
    g_autoptr(GString) buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!strstr(buf->str, "424242")) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "no guest-sync reply: %s", buf->str);
        cr_assert(read_some(fd, buf, 100), "the channel closed: %s", buf->str);
    }
    cr_assert_not_null(strstr(buf->str, "\"return\": 424242"), "reply: %s", buf->str);
}

static void check_rfb(int fd)
{
    char greet[13] = { 0 };
    size_t got = 0;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < 12) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "no RFB greeting (got %zu bytes)", got);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, greet + got, 12 - got);
        cr_assert_gt(n, 0, "the VNC client socket closed");
        got += (size_t)n;
    }
    cr_assert_str_eq(greet, "RFB 003.008\n");
}

static int qmp_vnc_display(qv_domain *dom)
{
    char *ret = NULL;
    qv_error *err = NULL;
    int r = qv_domain_qemu_monitor_command(dom, "{\"execute\": \"query-vnc\"}", &ret, 0, &err);
    cr_assert_eq(r, 0, "query-vnc: %s", err ? qv_error_message(err) : "?");
    json_object *o = json_tokener_parse(ret), *rv, *svc;
    cr_assert(json_object_object_get_ex(o, "return", &rv) &&
              json_object_object_get_ex(rv, "service", &svc), "query-vnc: %s", ret);
    int port = atoi(json_object_get_string(svc));
    json_object_put(o);
    free(ret);
    return port - 5900;
}

Test(console, guest)
{
    qv_conn *conn = itest_open(&T);
    g_autofree char *xml = guest_xml("con", true, "pty");
    qv_domain *dom = start_guest(conn, xml);
    qv_error *err = NULL;
    int r, n = g_random_int_range(1000, 900000);

    /* The agent answers once the guest is up; its hostname is the guest's. */
    g_autofree char *host = wait_hostname(dom, 90000);
    cr_assert_str_eq(host, "qvirt-guest");

    /* Console round trip through the pty. */
    int fd = open_console(dom, 0);
    g_autofree char *want = NULL;
    g_autofree char *line = echo_line(n, &want);
    console_run(fd, line, want, 30000);

    /* A second session is refused while the first holds the console. */
    int fd2 = -1;
    r = qv_domain_open_console(dom, NULL, &fd2, 0, &err);
    cr_assert_eq(r, -EBUSY, "second open: %d", r);
    cr_assert_str_eq(qv_error_message(err), "the console of domain 'con' is in use by another session");
    qv_error_free(err);
    err = NULL;
    /* SAFE is accepted and detects the session too. */
    r = qv_domain_open_console(dom, "serial0", &fd2, QV_DOMAIN_CONSOLE_SAFE, &err);
    cr_assert_eq(r, -EBUSY);
    qv_error_free(err);
    err = NULL;

    /* FORCE: a new pty; the old session reads EOF or EIO; the live XML
     * points at the new pty. */
    char *before = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &before, &err), err);
    fd2 = open_console(dom, QV_DOMAIN_CONSOLE_FORCE);
    g_autoptr(GString) old = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (read_some(fd, old, 100))
        cr_assert_lt(g_get_monotonic_time(), deadline, "the old session was not cut off");
    close(fd);
    char *after = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &after, &err), err);
    const char *p1 = strstr(before, "/dev/pts/"), *p2 = strstr(after, "/dev/pts/");
    cr_assert(p1 && p2, "no pty path in the live XML: %s", after);
    cr_assert_neq(strtol(p1 + 9, NULL, 10), strtol(p2 + 9, NULL, 10),
                  "the live XML still names the old pty");
    free(before);
    free(after);
    g_clear_pointer(&want, g_free);
    g_clear_pointer(&line, g_free);
    line = echo_line(n + 10, &want);
    console_run(fd2, line, want, 30000);
    close(fd2);

    /* The qvirt CLI from a script, and Ctrl-] ending it. */
    check_cli_console("con", n + 20);
    check_cli_escape("con");

    /* The agent channel: a guest-sync through the opened socket; a second
     * open is refused; FORCE gives QEMU a new listening socket, which cuts
     * the old client off (twice: each take-over binds a fresh name). */
    int cfd = -1;
    itest_ok(qv_domain_open_channel(dom, "org.qemu.guest_agent.0", &cfd, 0, &err), err);
    check_channel_sync(cfd);
    int cfd2 = -1;
    r = qv_domain_open_channel(dom, "channel0", &cfd2, 0, &err);
    cr_assert_eq(r, -EBUSY, "second channel open: %d", r);
    cr_assert_str_eq(qv_error_message(err),
                     "the channel 'channel0' of domain 'con' is in use by another session");
    qv_error_free(err);
    err = NULL;
    for (int round = 0; round < 2; round++) {
        itest_ok(qv_domain_open_channel(dom, "channel0", &cfd2, QV_DOMAIN_CHANNEL_FORCE, &err), err);
        g_autoptr(GString) gone = g_string_new(NULL);
        deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
        while (read_some(cfd, gone, 100))
            cr_assert_lt(g_get_monotonic_time(), deadline, "the old channel client was not cut off");
        close(cfd);
        check_channel_sync(cfd2);
        cfd = cfd2;
    }
    close(cfd);
    /* The agent still works through the socket's usual path. */
    g_free(wait_hostname(dom, 10000));
    r = qv_domain_open_channel(dom, "nosuch", &cfd2, 0, &err);
    cr_assert_eq(r, -ENOENT);
    cr_assert_str_eq(qv_error_message(err), "domain 'con' has no channel 'nosuch'");
    qv_error_free(err);
    err = NULL;

    /* Graphics: a client fd from QEMU, and one of our own. */
    int gfd = -1;
    itest_ok(qv_domain_open_graphics_fd(dom, 0, QV_DOMAIN_OPEN_GRAPHICS_SKIPAUTH, &gfd, &err), err);
    cr_assert(fcntl(gfd, F_GETFD) & FD_CLOEXEC);
    check_rfb(gfd);
    close(gfd);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    itest_ok(qv_domain_open_graphics(dom, 0, sv[1], 0, &err), err);
    close(sv[1]);
    check_rfb(sv[0]);
    close(sv[0]);
    r = qv_domain_open_graphics_fd(dom, 1, 0, &gfd, &err);
    cr_assert_eq(r, -EINVAL);
    cr_assert_str_eq(qv_error_message(err), "domain 'con' has no graphics device 1 (it has 1)");
    qv_error_free(err);
    err = NULL;

    /* domdisplay: QEMU's actual display number, recorded in the live XML. */
    int display = qmp_vnc_display(dom);
    g_autofree char *expect_uri = g_strdup_printf("vnc://127.0.0.1:%d", display);
    char *uri = NULL;
    itest_ok(qv_domain_get_display_uri(dom, NULL, 0, &uri, &err), err);
    cr_assert_str_eq(uri, expect_uri);
    free(uri);
    r = qv_domain_get_display_uri(dom, "spice", 0, &uri, &err);
    cr_assert_eq(r, -ENOENT);
    qv_error_free(err);
    err = NULL;
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    g_autofree char *port_attr = g_strdup_printf("port='%d'", display + 5900);
    cr_assert_not_null(strstr(live, port_attr), "the live XML lacks %s: %s", port_attr, live);
    free(live);
    g_autofree char *out = NULL, *errout = NULL;
    cr_assert_eq(qvirt_run(&out, &errout, "domdisplay", "con", NULL), 0, "%s", errout);
    g_autofree char *expect_line = g_strdup_printf("%s\n\n", expect_uri);
    cr_assert_str_eq(out, expect_line);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);
    cr_assert_eq(qvirt_run(&out, &errout, "domdisplay", "con", "--json", NULL), 0, "%s", errout);
    g_autofree char *expect_json = g_strdup_printf("\"uri\": \"%s\"", expect_uri);
    cr_assert_not_null(strstr(out, expect_json), "%s", out);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);

    /* domhostname through the CLI, and the lease source's clear refusal. */
    cr_assert_eq(qvirt_run(&out, &errout, "domhostname", "con", NULL), 0, "%s", errout);
    cr_assert_str_eq(out, "qvirt-guest\n\n");
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);
    cr_assert_eq(qvirt_run(&out, &errout, "domhostname", "con", "--json", NULL), 0, "%s", errout);
    cr_assert_not_null(strstr(out, "\"hostname\": \"qvirt-guest\""), "%s", out);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);
    cr_assert_eq(qvirt_run(&out, &errout, "domhostname", "con", "--source", "lease", NULL), 1);
    cr_assert_not_null(strstr(errout, "DHCP leases"), "%s", errout);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);

    /* fstrim: the initramfs has only virtual filesystems, which the agent
     * leaves out: its answer is an empty list, which is success. */
    itest_ok(qv_domain_fs_trim(dom, NULL, 0, 0, &err), err);
    itest_ok(qv_domain_fs_trim(dom, NULL, 4096, 0, &err), err);
    cr_assert_eq(qvirt_run(&out, &errout, "domfstrim", "con", "--minimum", "4096", NULL), 0, "%s",
                 errout);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);
    r = qv_domain_fs_trim(dom, "/", 0, 0, &err);
    cr_assert_eq(r, -ENOTSUP);
    qv_error_free(err);
    err = NULL;

    /* Suspend to RAM: works (pmsuspended, then wakeup runs it again) or
     * fails with a clear sentence. */
    r = qv_domain_pm_suspend_for_duration(dom, QV_NODE_SUSPEND_TARGET_MEM, 0, 0, &err);
    if (r == 0) {
        int state = itest_wait_state(dom, QV_DOMAIN_PMSUSPENDED, 1000, NULL);
        cr_assert_eq(state, QV_DOMAIN_PMSUSPENDED);
        cr_assert_eq(qvirt_run(&out, &errout, "dompmwakeup", "con", NULL), 0, "%s", errout);
        cr_assert_str_eq(out, "Domain 'con' successfully woken up\n\n");
        g_clear_pointer(&out, g_free);
        g_clear_pointer(&errout, g_free);
        cr_assert_eq(itest_wait_state(dom, QV_DOMAIN_RUNNING, 1000, NULL), QV_DOMAIN_RUNNING);
        g_free(wait_hostname(dom, 60000));
    } else {
        cr_log_info("pm suspend refused: %s", qv_error_message(err));
        cr_assert_not_null(qv_error_message(err));
        cr_assert_neq(r, -ETIMEDOUT, "%s", qv_error_message(err));
        qv_error_free(err);
        err = NULL;
    }
    r = qv_domain_pm_suspend_for_duration(dom, QV_NODE_SUSPEND_TARGET_MEM, 5, 0, &err);
    cr_assert_eq(r, -ENOTSUP);
    qv_error_free(err);
    err = NULL;
    /* Waking a running guest: QEMU's own refusal. */
    r = qv_domain_pm_wakeup(dom, 0, &err);
    cr_assert_lt(r, 0);
    cr_assert(g_str_has_prefix(qv_error_message(err), "domain 'con': QEMU command 'system_wakeup' failed"),
              "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    /* qemu-ga stopped: "not responding"; continued: answers again. */
    fd = open_console(dom, 0);
    g_clear_pointer(&want, g_free);
    g_clear_pointer(&line, g_free);
    want = g_strdup_printf("stopped-%d\r\n", n + 31);
    line = g_strdup_printf("kill -STOP $(cat /run/qemu-ga.pid); echo stopped-$((%d+1))\n", n + 30);
    console_run(fd, line, want, 30000);
    char *name = NULL;
    r = qv_domain_get_hostname(dom, 0, &name, &err);
    cr_assert_eq(r, -ETIMEDOUT, "hostname with qemu-ga stopped: %d %s", r,
                 err ? qv_error_message(err) : "");
    cr_assert_str_eq(qv_error_message(err), "domain 'con': the guest agent is not responding");
    qv_error_free(err);
    err = NULL;
    g_clear_pointer(&want, g_free);
    g_clear_pointer(&line, g_free);
    want = g_strdup_printf("cont-%d\r\n", n + 41);
    line = g_strdup_printf("kill -CONT $(cat /run/qemu-ga.pid); echo cont-$((%d+1))\n", n + 40);
    console_run(fd, line, want, 30000);
    g_free(wait_hostname(dom, 30000));

    /* qemu-ga gone: "not connected", at once. */
    g_clear_pointer(&want, g_free);
    g_clear_pointer(&line, g_free);
    want = g_strdup_printf("killed-%d\r\n", n + 51);
    line = g_strdup_printf("kill $(cat /run/qemu-ga.pid); echo killed-$((%d+1))\n", n + 50);
    console_run(fd, line, want, 30000);
    close(fd);
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        gint64 t0 = g_get_monotonic_time();
        r = qv_domain_get_hostname(dom, 0, &name, &err);
        if (r == -ENOTCONN) {
            cr_assert_lt(g_get_monotonic_time() - t0, 3 * G_USEC_PER_SEC, "not connected took long");
            break;
        }
        if (r == 0)
            free(name);
        qv_error_free(err);
        err = NULL;
        cr_assert_lt(g_get_monotonic_time(), deadline, "the agent still answered after kill");
        poll(NULL, 0, 100);
    }
    cr_assert(g_str_has_prefix(qv_error_message(err),
                               "domain 'con': the guest agent is not connected"), "%s",
              qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    destroy(dom);
    qv_conn_close(conn);
}

/* Errors that need no booted guest: no agent channel, a file serial, no
 * display, a shut off domain; and the calls QEMU answers trivially. */
Test(console, errors)
{
    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    int fd = -1, r;

    /* Shut off. */
    g_autofree char *xml0 = guest_xml("off", true, "pty");
    qv_domain *off = NULL;
    itest_ok(qv_conn_define_domain(conn, xml0, 0, &off, &err), err);
    r = qv_domain_open_console(off, NULL, &fd, 0, &err);
    cr_assert_eq(r, -EINVAL);
    cr_assert_str_eq(qv_error_message(err), "domain 'off' is not running");
    qv_error_free(err);
    err = NULL;
    char *s = NULL;
    r = qv_domain_get_hostname(off, 0, &s, &err);
    cr_assert_eq(r, -EINVAL);
    qv_error_free(err);
    err = NULL;

    /* Security label, scheduler, process signals. */
    qv_security_label label;
    itest_ok(qv_domain_get_security_label(off, &label, &err), err);
    cr_assert_str_eq(label.model, "none");
    cr_assert_str_eq(label.label, "");
    cr_assert_eq(label.enforcing, 0);
    qv_security_label *labels = NULL;
    cr_assert_eq(qv_domain_get_security_label_list(off, &labels, &err), 1);
    cr_assert_str_eq(labels[0].model, "none");
    free(labels);
    int nparams = 0;
    itest_ok(qv_domain_get_scheduler_type(off, &nparams, &s, &err), err);
    cr_assert_str_eq(s, "posix");
    cr_assert_eq(nparams, 9);
    free(s);
    r = qv_domain_send_process_signal(off, 1, 15, 0, &err);
    cr_assert_eq(r, -ENOTSUP);
    cr_assert_not_null(strstr(qv_error_message(err), "QEMU has no such operation"));
    qv_error_free(err);
    err = NULL;
    qv_domain_free(off);

    /* Running without an agent channel, with a file serial: no need to wait
     * for the guest to boot. */
    g_autofree char *xml = guest_xml("bare", false, "file");
    qv_domain *dom = start_guest(conn, xml);
    r = qv_domain_get_hostname(dom, 0, &s, &err);
    cr_assert_eq(r, -ENOTSUP, "hostname without a channel: %d", r);
    cr_assert(g_str_has_prefix(qv_error_message(err), "domain 'bare' has no guest agent channel"),
              "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    r = qv_domain_get_hostname(dom, QV_DOMAIN_GET_HOSTNAME_LEASE, &s, &err);
    cr_assert_eq(r, -ENOTSUP);
    qv_error_free(err);
    err = NULL;
    r = qv_domain_open_console(dom, NULL, &fd, 0, &err);
    cr_assert_eq(r, -ENOTSUP);
    cr_assert_str_eq(qv_error_message(err), "the serial port 'serial0' of domain 'bare' is not a "
                     "pty or a unix socket QEMU listens on, so it cannot be opened");
    qv_error_free(err);
    err = NULL;
    r = qv_domain_open_console(dom, "parallel0", &fd, 0, &err);
    cr_assert_eq(r, -ENOENT);
    cr_assert_str_eq(qv_error_message(err),
                     "domain 'bare' has no console, serial or parallel device 'parallel0'");
    qv_error_free(err);
    err = NULL;
    r = qv_domain_open_console(dom, NULL, &fd, 4, &err);
    cr_assert_eq(r, -EINVAL);
    qv_error_free(err);
    err = NULL;
    g_autofree char *out = NULL, *errout = NULL;
    cr_assert_eq(qvirt_run(&out, &errout, "domhostname", "bare", NULL), 1);
    cr_assert(g_str_has_prefix(errout, "error: domain 'bare' has no guest agent channel"), "%s",
              errout);
    g_clear_pointer(&out, g_free);
    g_clear_pointer(&errout, g_free);
    cr_assert_eq(qvirt_run(&out, &errout, "dompmsuspend", "bare", "sleep", NULL), 1);
    cr_assert_str_eq(errout, "error: Invalid target\n");
    destroy(dom);
    qv_conn_close(conn);
}

/* Reads exactly n bytes from a VNC client fd within 10 s. */
static void read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < n) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "VNC server sent %zu of %zu bytes", got, n);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        cr_assert_gt(r, 0, "the VNC server closed the connection");
        got += (size_t)r;
    }
}

/* RFB 3.8 up to the security result with VNC authentication: 0 when the
 * server accepts password, 1 when it refuses it. */
static int vnc_login(qv_domain *dom, const char *password)
{
    int sv[2];
    qv_error *err = NULL;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    itest_ok(qv_domain_open_graphics(dom, 0, sv[1], 0, &err), err);
    close(sv[1]);
    int fd = sv[0];
    check_rfb(fd);
    write_str(fd, "RFB 003.008\n");
    unsigned char n_types;
    read_exact(fd, &n_types, 1);
    cr_assert_gt(n_types, 0, "the server offers no security type");
    unsigned char types[256];
    read_exact(fd, types, n_types);
    cr_assert(memchr(types, 2, n_types), "the server does not ask for a VNC password");
    unsigned char two = 2;
    cr_assert_eq(write(fd, &two, 1), 1);
    uint8_t challenge[16], response[16];
    read_exact(fd, challenge, sizeof challenge);
    vnc_auth_response(password, challenge, response);
    cr_assert_eq(write(fd, response, sizeof response), (ssize_t)sizeof response);
    unsigned char result[4];
    read_exact(fd, result, sizeof result);
    close(fd);
    return result[0] << 24 | result[1] << 16 | result[2] << 8 | result[3];
}

static void assert_cmdline_lacks(qv_domain *dom, const char *name, const char *secret)
{
    g_autofree char *path = g_strdup_printf("/proc/%lld/cmdline",
                                            itest_status_field(&T, name, "qemu_pid"));
    g_autofree char *cmdline = NULL;
    gsize len = 0;
    cr_assert(g_file_get_contents(path, &cmdline, &len, NULL), "cannot read %s", path);
    cr_assert_gt(len, 0);
    cr_assert_null(memmem(cmdline, len, secret, strlen(secret)), "QEMU's argv holds the password");
    (void)dom;
}

Test(console, vnc_password)
{
    /* FIPS 46's worked example: the client's cipher is DES. */
    const uint8_t key[8] = { 0x13, 0x34, 0x57, 0x79, 0x9B, 0xBC, 0xDF, 0xF1 };
    const uint8_t plain[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF };
    const uint8_t want[8] = { 0x85, 0xE8, 0x13, 0x54, 0x0F, 0x0A, 0xB4, 0x05 };
    uint8_t got[8];
    des_encrypt_block(key, plain, got);
    cr_assert_arr_eq(got, want, 8, "the test's DES is wrong");

    qv_conn *conn = itest_open(&T);
    qv_error *err = NULL;
    qv_domain *dom = NULL;
    g_autofree char *xml = qv_test_guest_domain_xml(
        "vncpw", T.kernel, T.initrd,
        "    <graphics type='vnc' autoport='yes' passwd='s3cr3t'>"
        "<listen type='address' address='127.0.0.1'/></graphics>\n");
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    /* QEMU stopped at -S serves VNC already: no guest boot needed. */
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    assert_cmdline_lacks(dom, "vncpw", "s3cr3t");
    cr_assert_eq(vnc_login(dom, "s3cr3t"), 0, "the password was refused");
    cr_assert_eq(vnc_login(dom, "wrong"), 1, "a wrong password was accepted");
    char *out = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &out, &err), err);
    cr_assert_null(strstr(out, "s3cr3t"), "dumpxml without --security-info shows the password");
    free(out);
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_SECURE, &out, &err), err);
    cr_assert_not_null(strstr(out, "passwd='s3cr3t'"), "%s", out);
    free(out);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    qv_domain_free(dom);

    /* passwdValidTo in the past: the password no longer logs in. */
    g_autofree char *expired = qv_test_guest_domain_xml(
        "vncold", T.kernel, T.initrd,
        "    <graphics type='vnc' autoport='yes' passwd='s3cr3t' "
        "passwdValidTo='2001-01-01T00:00:00'><listen type='address' address='127.0.0.1'/>"
        "</graphics>\n");
    itest_ok(qv_conn_create_domain(conn, expired, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    cr_assert_eq(vnc_login(dom, "s3cr3t"), 1, "an expired password was accepted");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);

    /* A malformed expiry is refused at define, naming the attribute. */
    g_autofree char *bad = qv_test_guest_domain_xml(
        "vncbad", T.kernel, T.initrd,
        "    <graphics type='vnc' autoport='yes' passwd='x' passwdValidTo='tomorrow'/>\n");
    cr_assert_lt(qv_conn_define_domain(conn, bad, 0, &dom, &err), 0);
    cr_assert_not_null(strstr(qv_error_message(err), "passwdValidTo"), "%s", qv_error_message(err));
    qv_error_free(err);
    qv_conn_close(conn);
}

/* ---- TLS on a TCP serial --------------------------------------------------- */

static bool run_ok(const char *const *argv, char **out)
{
    gint status = 0;
    g_autofree char *errout = NULL;
    bool ok = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                           NULL, NULL, out, &errout, &status, NULL) &&
              g_spawn_check_wait_status(status, NULL);
    if (out && *out && errout) {   /* gnutls-cli says how the handshake went on either */
        char *both = g_strconcat(*out, errout, NULL);
        g_free(*out);
        *out = both;
    }
    return ok;
}

/* A CA and server and client certificates for 127.0.0.1 (certtool), in a
 * folder QEMU's unprivileged user can read, as a host's /etc/pki/qemu. */
static char *make_pki(void)
{
    char *pki = g_dir_make_tmp("qvt-pki-XXXXXX", NULL);
    cr_assert(pki && chmod(pki, 0755) == 0);
    g_autofree char *why = NULL;
    cr_assert(qvt_make_x509(pki, &why), "%s", why);
    return pki;
}

/* Skips without certtool or gnutls-cli; else makes the credentials
 * (make_pki) and writes the test connection's qvirt.conf: [qemu], the
 * lines of settings, and dir_key naming the credentials' folder, which it
 * returns. */
static char *tls_setup(const char *settings, const char *dir_key)
{
    g_autofree char *certtool = g_find_program_in_path("certtool");
    g_autofree char *cli = g_find_program_in_path("gnutls-cli");
    if (!certtool || !cli)
        cr_skip_test("needs certtool and gnutls-cli (gnutls-bin)");
    char *pki = make_pki();
    g_autofree char *config = g_build_filename(T.root, "config", NULL);
    cr_assert_eq(g_mkdir_with_parents(config, 0700), 0);
    g_autofree char *conf_path = g_build_filename(config, "qvirt.conf", NULL);
    g_autofree char *conf = g_strdup_printf("[qemu]\n%s%s=%s\n", settings, dir_key, pki);
    cr_assert(g_file_set_contents(conf_path, conf, -1, NULL));
    return pki;
}

static int free_tcp_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(s, (struct sockaddr *)&a, &len) == 0);
    close(s);
    return ntohs(a.sin_port);
}

/* <source tls='yes'> on a listening TCP serial (libvirt's formatdomain
 * example, bind side): QEMU serves it with the credentials of [qemu]
 * chardev_tls_x509_cert_dir in qvirt.conf; a client with a certificate of
 * that CA completes the TLS handshake, one without a certificate does not
 * (chardev_tls_x509_verify defaults to on), and nothing is served in the
 * clear. */
Test(console, tls_serial_needs_a_client_certificate)
{
    g_autofree char *pki = tls_setup("", "chardev_tls_x509_cert_dir");
    int port = free_tcp_port();
    g_autofree char *devices = g_strdup_printf(
        "    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='%d' tls='yes'/>"
        "<protocol type='raw'/><target port='1'/></serial>\n", port);
    g_autofree char *xml = itest_domain_xml(&T, "tls-serial", devices);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    g_autofree char *sport = g_strdup_printf("%d", port);
    g_autofree char *ca = g_build_filename(pki, "ca-cert.pem", NULL);
    g_autofree char *ccert = g_build_filename(pki, "client-cert.pem", NULL);
    g_autofree char *ckey = g_build_filename(pki, "client-key.pem", NULL);
    /* QEMU checks the client's certificate once the handshake is done
     * and drops a client without one; TLS 1.2 keeps the two runs alike. */
    const char *with[] = { "gnutls-cli", "--priority", "NORMAL:-VERS-TLS1.3", "--x509cafile", ca,
                           "--x509certfile", ccert, "--x509keyfile", ckey, "-p", sport, "127.0.0.1", NULL };
    const char *without[] = { "gnutls-cli", "--priority", "NORMAL:-VERS-TLS1.3", "--x509cafile", ca,
                              "-p", sport, "127.0.0.1", NULL };
    g_autofree char *out1 = NULL, *out2 = NULL;
    bool ok1 = run_ok(with, &out1);
    run_ok(without, &out2);
    cr_log_info("with a client certificate: %s", out1 ? out1 : "");
    cr_log_info("without: %s", out2 ? out2 : "");
    destroy(dom);
    qv_conn_close(conn);
    const char *rmargv[] = { "rm", "-rf", pki, NULL };
    run_ok(rmargv, NULL);
    cr_assert(ok1 && out1 && strstr(out1, "Handshake was completed") && !strstr(out1, "abnormally"),
              "the TLS session with a client certificate failed: %s", out1 ? out1 : "");
    cr_assert(out2 && (strstr(out2, "abnormally") || strstr(out2, "Handshake has failed")),
              "a client without a certificate was let in: %s", out2 ? out2 : "");
}

/* A SPICE display with a TLS port: with [qemu] spice_tls=1 QEMU serves
 * it with the credentials of spice_tls_x509_cert_dir (a client trusting
 * that CA completes the handshake) and domdisplay names both ports; with
 * spice_tls off (libvirt's default) the same XML is refused as libvirt
 * refuses it. */
Test(console, spice_tls_port_serves_the_configured_certificate)
{
    g_autofree char *pki = tls_setup("spice_tls=1\n", "spice_tls_x509_cert_dir");
    int port = free_tcp_port(), tls_port = free_tcp_port();
    g_autofree char *devices = g_strdup_printf(
        "    <graphics type='spice' port='%d' tlsPort='%d' autoport='no'>"
        "<listen type='address' address='127.0.0.1'/><channel name='main' mode='secure'/>"
        "</graphics>\n", port, tls_port);
    g_autofree char *xml = itest_domain_xml(&T, "spice-tls", devices);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    char *uri = NULL;
    itest_ok(qv_domain_get_display_uri(dom, "spice", 0, &uri, &err), err);
    g_autofree char *expect_uri = g_strdup_printf("spice://127.0.0.1:%d?tls-port=%d", port, tls_port);
    cr_assert_str_eq(uri, expect_uri);
    free(uri);
    g_autofree char *sport = g_strdup_printf("%d", tls_port);
    g_autofree char *ca = g_build_filename(pki, "ca-cert.pem", NULL);
    const char *hello[] = { "gnutls-cli", "--x509cafile", ca, "-p", sport, "127.0.0.1", NULL };
    g_autofree char *out = NULL;
    run_ok(hello, &out);
    cr_log_info("gnutls-cli: %s", out ? out : "");
    destroy(dom);

    g_autofree char *conf_path = g_build_filename(T.root, "config", "qvirt.conf", NULL);
    cr_assert(g_file_set_contents(conf_path, "[qemu]\nspice_tls=0\n", -1, NULL));
    dom = NULL;
    int r = qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err);
    cr_assert_eq(r, -EINVAL);
    cr_assert(strstr(qv_error_message(err), "spice TLS port set in XML configuration, but TLS "
                     "is disabled in qemu.conf"), "%s", qv_error_message(err));
    qv_error_free(err);
    qv_conn_close(conn);
    const char *rmargv[] = { "rm", "-rf", pki, NULL };
    run_ok(rmargv, NULL);
    cr_assert(out && strstr(out, "Handshake was completed"),
              "no TLS session on SPICE's TLS port: %s", out ? out : "");
}

/* A listening socket on 127.0.0.1, on the first free port from 5900 up;
 * *port: that port. */
static int hold_display_port(int *port)
{
    for (*port = 5900; *port < 6000; (*port)++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0)
            return s;
        close(s);
    }
    cr_assert_fail("no free port from 5900 to 5999");
    return -1;
}

/* autoport with spice_tls=1 gives the display a TLS port as well: start
 * takes free ports from 5900 up (passing over one this test holds), as
 * libvirt's allocator does, QEMU serves TLS on the second, and the live XML
 * and domdisplay name both. */
Test(console, spice_tls_autoport_gets_a_tls_port)
{
    g_autofree char *pki = tls_setup("spice_tls=1\n", "spice_tls_x509_cert_dir");
    g_autofree char *xml = itest_domain_xml(&T, "spice-auto",
        "    <graphics type='spice' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>\n");
    int held_port;
    int held = hold_display_port(&held_port);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_create_domain(conn, xml, QV_DOMAIN_START_PAUSED, &dom, &err), err);
    close(held);
    char *uri = NULL, *live = NULL;
    itest_ok(qv_domain_get_display_uri(dom, "spice", 0, &uri, &err), err);
    itest_ok(qv_domain_get_xml_description(dom, 0, &live, &err), err);
    int port = 0, tls_port = 0;
    const char *p = strstr(live, "<graphics type='spice' port='");
    cr_assert(p && sscanf(p, "<graphics type='spice' port='%d' tlsPort='%d' autoport='yes'", &port,
                          &tls_port) == 2, "the live XML lacks the ports: %s", live);
    g_autofree char *expect_uri = g_strdup_printf("spice://127.0.0.1:%d?tls-port=%d", port, tls_port);
    cr_assert_str_eq(uri, expect_uri);
    free(uri);
    free(live);
    cr_assert(port >= 5900 && tls_port >= 5900 && port != tls_port && port != held_port &&
              tls_port != held_port, "ports %d and %d (%d held)", port, tls_port, held_port);
    g_autofree char *sport = g_strdup_printf("%d", tls_port);
    g_autofree char *ca = g_build_filename(pki, "ca-cert.pem", NULL);
    const char *hello[] = { "gnutls-cli", "--x509cafile", ca, "-p", sport, "127.0.0.1", NULL };
    g_autofree char *out = NULL;
    run_ok(hello, &out);
    destroy(dom);
    qv_conn_close(conn);
    const char *rmargv[] = { "rm", "-rf", pki, NULL };
    run_ok(rmargv, NULL);
    cr_assert(out && strstr(out, "Handshake was completed"),
              "no TLS session on SPICE's TLS port: %s", out ? out : "");
}
