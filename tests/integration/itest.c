#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "itest.h"
#include "leftovers.h"
#include "qv-process.h"

void itest_setup(itest *t)
{
    memset(t, 0, sizeof *t);
    g_autofree char *reason = NULL;
    if (!qv_test_guest_paths(&t->kernel, &t->initrd, &reason))
        cr_skip_test("%s", reason);
    /* Short root: unix socket paths must stay under 108 bytes. */
    t->root = g_dir_make_tmp("qvt-XXXXXX", NULL);
    cr_assert_not_null(t->root);
    t->uri = g_strdup_printf("qvirt:///embed?root=%s", t->root);
    t->console = g_build_filename(t->root, "console.log", NULL);
}

void itest_expect_no_cgroups(const char *root)
{
    g_autofree char *left = qvt_cgroup_leftovers(root);
    cr_expect_null(left, "cgroups outlived their domains' runs:\n%s", left);
}

/* Criterion reports an assertion of a .fini but passes the test anyway:
 * a leak found there fails it the only way a .fini can, by crashing. */
void itest_fini_fail_on_cgroups(const char *left)
{
    if (!left)
        return;
    cr_log_error("cgroups outlived their domains' runs:\n%s", left);
    abort();
}

void itest_teardown(itest *t)
{
    g_autofree char *cgroups_left = NULL;
    if (t->root) {
        qvt_kill_leftovers(t->root); /* what a failed test left running */
        cgroups_left = qvt_cgroup_leftovers(t->root);
        g_autofree char *cmd = NULL;
        /* Sockets and files only; remove recursively. */
        GPtrArray *stack = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(stack, g_strdup(t->root));
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        while (stack->len) {
            char *p = g_ptr_array_steal_index(stack, stack->len - 1);
            GDir *d = g_dir_open(p, 0, NULL);
            if (d) {
                const char *n;
                while ((n = g_dir_read_name(d))) {
                    char *c = g_build_filename(p, n, NULL);
                    if (g_file_test(c, G_FILE_TEST_IS_DIR) && !g_file_test(c, G_FILE_TEST_IS_SYMLINK))
                        g_ptr_array_add(stack, c);
                    else {
                        unlink(c);
                        g_free(c);
                    }
                }
                g_dir_close(d);
            }
            g_ptr_array_add(dirs, p);
        }
        for (guint i = dirs->len; i > 0; i--)
            rmdir(dirs->pdata[i - 1]);
        g_ptr_array_unref(dirs);
        g_ptr_array_unref(stack);
    }
    g_free(t->root);
    g_free(t->uri);
    g_free(t->console);
    g_free(t->kernel);
    g_free(t->initrd);
    itest_fini_fail_on_cgroups(cgroups_left);
}

char *itest_domain_xml(const itest *t, const char *name, const char *extra)
{
    g_autofree char *devices = g_strdup_printf(
        "    <serial type='file'><source path='%s'/><target port='0'/></serial>\n"
        "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
        "    <controller type='usb' model='none'/>\n"
        "    <memballoon model='virtio'><stats period='1'/></memballoon>\n"
        "%s",
        t->console, extra ? extra : "");
    return qv_test_guest_domain_xml(name, t->kernel, t->initrd, devices);
}

qv_conn *itest_open(const itest *t)
{
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    int r = qv_conn_open(t->uri, &conn, &err);
    cr_assert_eq(r, 0, "qv_conn_open: %s", err ? qv_error_message(err) : "?");
    return conn;
}

int itest_wait_state(qv_domain *dom, int want, int timeout_ms, int *reason)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    int state = -1, rsn = -1;
    for (;;) {
        qv_error *err = NULL;
        int r = qv_domain_get_state(dom, &state, &rsn, &err);
        qv_error_free(err);
        if (r == 0 && state == want)
            break;
        if (g_get_monotonic_time() > deadline)
            break;
        poll(NULL, 0, 50);
    }
    if (reason)
        *reason = rsn;
    return state;
}

int itest_console_count(const itest *t, const char *text)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(t->console, &data, &len, NULL))
        return 0;
    int n = 0;
    size_t tl = strlen(text);
    for (const char *p = data; (p = memmem(p, len - (size_t)(p - data), text, tl)); p += tl)
        n++;
    return n;
}

bool itest_wait_console_n(const itest *t, const char *text, int count, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (g_get_monotonic_time() < deadline) {
        if (itest_console_count(t, text) >= count)
            return true;
        poll(NULL, 0, 100);
    }
    return false;
}

bool itest_wait_console(const itest *t, const char *text, int timeout_ms)
{
    return itest_wait_console_n(t, text, 1, timeout_ms);
}

long long itest_status_field(const itest *t, const char *name, const char *field)
{
    g_autofree char *p = g_build_filename(t->root, "run", "domains", name, "status.json", NULL);
    json_object *o = json_object_from_file(p);
    json_object *v;
    long long val = -1;
    if (o && json_object_object_get_ex(o, field, &v))
        val = json_object_get_int64(v);
    json_object_put(o);
    return val;
}

qv_qmp *itest_agent_open(const itest *t, const char *name)
{
    g_autofree char *path = g_build_filename(t->root, "run", "domains", name,
                                             "org.qemu.guest_agent.0.sock", NULL);
    qv_qmp *ga = NULL;
    qv_error *err = NULL;
    int r = qv_qmp_connect_path(path, QV_QMP_MODE_AGENT, ITEST_AGENT_TIMEOUT_MS, &ga, &err);
    cr_assert_eq(r, 0, "agent connect %s: %s", path, err ? qv_error_message(err) : "?");
    return ga;
}

int64_t itest_guest_spawn(qv_qmp *ga, const char *script)
{
    json_object *args = json_object_new_object();
    json_object *argv = json_object_new_array();
    json_object_array_add(argv, json_object_new_string("-c"));
    json_object_array_add(argv, json_object_new_string(script));
    json_object_object_add(args, "path", json_object_new_string("/bin/sh"));
    json_object_object_add(args, "arg", argv);
    json_object_object_add(args, "capture-output", json_object_new_boolean(1));
    json_object *ret = NULL, *pid;
    qv_error *err = NULL;
    int r = qv_qmp_call(ga, "guest-exec", args, ITEST_AGENT_TIMEOUT_MS, &ret, &err);
    cr_assert_eq(r, 0, "guest-exec %s: %s", script, err ? qv_error_message(err) : "?");
    cr_assert(json_object_object_get_ex(ret, "pid", &pid));
    int64_t p = json_object_get_int64(pid);
    json_object_put(ret);
    return p;
}

int itest_guest_wait(qv_qmp *ga, int64_t pid, int timeout_ms, GBytes **out)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "pid", json_object_new_int64(pid));
        json_object *ret = NULL, *v;
        qv_error *err = NULL;
        int r = qv_qmp_call(ga, "guest-exec-status", args, ITEST_AGENT_TIMEOUT_MS, &ret, &err);
        cr_assert_eq(r, 0, "guest-exec-status: %s", err ? qv_error_message(err) : "?");
        if (json_object_object_get_ex(ret, "exited", &v) && json_object_get_boolean(v)) {
            int code = json_object_object_get_ex(ret, "exitcode", &v) ? json_object_get_int(v) : -2;
            if (out) {
                gsize len = 0;
                guchar *data = NULL;
                if (json_object_object_get_ex(ret, "out-data", &v))
                    data = g_base64_decode(json_object_get_string(v), &len);
                *out = g_bytes_new_take(data, len);
            }
            json_object_put(ret);
            return code;
        }
        json_object_put(ret);
        if (g_get_monotonic_time() > deadline)
            return -1;
        poll(NULL, 0, 50);
    }
}

char *itest_guest_run(qv_qmp *ga, const char *script, int *code)
{
    GBytes *out = NULL;
    *code = itest_guest_wait(ga, itest_guest_spawn(ga, script), ITEST_AGENT_TIMEOUT_MS, &out);
    cr_assert_neq(*code, -1, "guest command did not finish: %s", script);
    gsize len;
    const char *data = g_bytes_get_data(out, &len);
    char *s = g_strndup(data ? data : "", len);
    g_bytes_unref(out);
    return s;
}

bool itest_wait_pid_gone(pid_t pid, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        qv_proc_stat st;
        if (qv_proc_stat_read(pid, 0, &st) < 0 || qv_proc_stat_exited(&st))
            return true;
        if (g_get_monotonic_time() > deadline)
            return false;
        poll(NULL, 0, 10);
    }
}

/* ---- an sshd in a network namespace ---------------------------------------- */


static bool sh_ok(const char *const *argv, char **errs)
{
    int status = -1;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, errs, &status, NULL))
        return false;
    return g_spawn_check_wait_status(status, NULL);
}
#define SH(...) cr_assert(sh_ok((const char *const[]){ __VA_ARGS__, NULL }, NULL), \
                          "failed: %s", #__VA_ARGS__)

void itest_netns_down(itest_netns *n)
{
    if (n->sshd > 0) {
        kill(n->sshd, SIGTERM);
        waitpid(n->sshd, NULL, 0);
    }
    if (n->src)
        sh_ok((const char *const[]){ "ip", "netns", "del", n->src, NULL }, NULL);
    if (n->dst)
        sh_ok((const char *const[]){ "ip", "netns", "del", n->dst, NULL }, NULL);
    g_free(n->src);
    g_free(n->dst);
    g_free(n->dir);
    g_free(n->dst_ip);
    memset(n, 0, sizeof *n);
}

/* Reads sshd's stderr until it says it listens (or the deadline). */
static bool wait_sshd(int fd, int timeout_ms)
{
    g_autoptr(GString) got = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!strstr(got->str, "Server listening")) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return false;
        char buf[256];
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return false;
        g_string_append_len(got, buf, r);
    }
    return true;
}

void itest_netns_up(const itest *t, itest_netns *n)
{
    const char *missing = NULL;
    g_autofree char *ssh = g_find_program_in_path("ssh");
    g_autofree char *ip = g_find_program_in_path("ip");
    g_autofree char *keygen = g_find_program_in_path("ssh-keygen");
    if (geteuid() != 0)
        missing = "root (network namespaces)";
    else if (!g_file_test("/usr/sbin/sshd", G_FILE_TEST_IS_EXECUTABLE))
        missing = "sshd (openssh-server)";
    else if (!ssh || !ip)
        missing = "ssh and ip (openssh-client, iproute2)";
    if (missing)
        cr_skip_test("the qvirt+ssh:// test needs %s", missing);
    if (!keygen)
        cr_skip_test("the qvirt+ssh:// test needs ssh-keygen (openssh-client)");
    int id = (int)getpid();
    n->src = g_strdup_printf("qvt-src-%d", id);
    n->dst = g_strdup_printf("qvt-dst-%d", id);
    g_autofree char *va = g_strdup_printf("qvs%d", id % 100000);
    g_autofree char *vb = g_strdup_printf("qvd%d", id % 100000);
    g_autofree char *src_cidr = g_strdup_printf("10.250.%d.1/30", id % 250);
    g_autofree char *dst_cidr = g_strdup_printf("10.250.%d.2/30", id % 250);
    n->dst_ip = g_strdup_printf("10.250.%d.2", id % 250);
    SH("ip", "netns", "add", n->src);
    SH("ip", "netns", "add", n->dst);
    SH("ip", "link", "add", va, "netns", n->src, "type", "veth", "peer", "name", vb, "netns",
       n->dst);
    SH("ip", "-n", n->src, "addr", "add", src_cidr, "dev", va);
    SH("ip", "-n", n->dst, "addr", "add", dst_cidr, "dev", vb);
    SH("ip", "-n", n->src, "link", "set", va, "up");
    SH("ip", "-n", n->dst, "link", "set", vb, "up");
    SH("ip", "-n", n->src, "link", "set", "lo", "up");
    SH("ip", "-n", n->dst, "link", "set", "lo", "up");

    n->dir = g_build_filename(t->root, "ssh", NULL);
    cr_assert_eq(mkdir(n->dir, 0700), 0);
    g_autofree char *hostkey = g_build_filename(n->dir, "host_key", NULL);
    g_autofree char *key = g_build_filename(n->dir, "id", NULL);
    SH("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey);
    SH("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key);
    g_autofree char *pub_path = g_strconcat(key, ".pub", NULL);
    g_autofree char *pub = NULL;
    cr_assert(g_file_get_contents(pub_path, &pub, NULL, NULL));
    g_autofree char *auth = g_build_filename(n->dir, "authorized_keys", NULL);
    cr_assert(g_file_set_contents(auth, pub, -1, NULL));
    n->port = 2222;
    g_autofree char *pidfile = g_build_filename(n->dir, "sshd.pid", NULL);
    g_autofree char *conf = g_strdup_printf(
        "Port %d\nListenAddress %s\nHostKey %s\nAuthorizedKeysFile %s\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "StrictModes no\nUsePAM no\nPidFile %s\n", n->port, n->dst_ip, hostkey, auth, pidfile);
    g_autofree char *conf_path = g_build_filename(n->dir, "sshd_config", NULL);
    cr_assert(g_file_set_contents(conf_path, conf, -1, NULL));
    mkdir("/run/sshd", 0755);   /* sshd's privilege separation folder */
    /* The "remote host's" qvirt: this build's, with the test's settings. */
    g_autoptr(GString) wrap = g_string_new("#!/bin/sh\n");
    const char *vars[] = { "QVIRT_MONITOR", "QVIRT_BUILD_ROOT", "QVIRT_SOURCE_ROOT",
                           "LD_LIBRARY_PATH", "QVIRT_QEMU", "QVIRT_DEBUG", "QVIRT_TEST_GUEST" };
    for (size_t i = 0; i < G_N_ELEMENTS(vars); i++)
        if (g_getenv(vars[i])) {
            g_autofree char *q = g_shell_quote(g_getenv(vars[i]));
            g_string_append_printf(wrap, "export %s=%s\n", vars[i], q);
        }
    g_autofree char *bin = g_build_filename(g_getenv("QVIRT_BUILD_ROOT"), "tools", "qvirt", NULL);
    g_string_append_printf(wrap, "exec %s \"$@\"\n", bin);
    g_autofree char *wrapper = g_build_filename(n->dir, "qvirt-remote", NULL);
    cr_assert(g_file_set_contents(wrapper, wrap->str, -1, NULL));
    chmod(wrapper, 0755);

    const char *argv[] = { "ip", "netns", "exec", n->dst, "/usr/sbin/sshd", "-D", "-e", "-f",
                           conf_path, NULL };
    int errfd = -1;
    g_autoptr(GError) gerr = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &n->sshd, NULL, NULL, &errfd, &gerr),
              "cannot run sshd: %s", gerr ? gerr->message : "?");
    cr_assert(wait_sshd(errfd, 10000), "sshd did not start");
    close(errfd);

    /* This process (and what it starts: the domain's supervisor and QEMU,
     * ssh) lives in the source's namespace from here. */
    g_autofree char *ns = g_strdup_printf("/run/netns/%s", n->src);
    int fd = open(ns, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns: %s", g_strerror(errno));
    close(fd);
}

char *itest_netns_uri(const itest_netns *n, const char *root, const char *command)
{
    g_autofree char *key = g_build_filename(n->dir, "id", NULL);
    g_autofree char *wrapper = g_build_filename(n->dir, "qvirt-remote", NULL);
    g_autofree char *ekey = g_uri_escape_string(key, "/", FALSE);
    g_autofree char *ecmd = g_uri_escape_string(command ? command : wrapper, "/", FALSE);
    g_autofree char *eroot = g_uri_escape_string(root, "/", FALSE);
    return g_strdup_printf("qvirt+ssh://root@%s:%d/embed?root=%s&keyfile=%s&no_verify=1"
                           "&command=%s", n->dst_ip, n->port, eroot, ekey, ecmd);
}
