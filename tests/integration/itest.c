#include <errno.h>
#include <poll.h>
#include <stdio.h>
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

void itest_teardown(itest *t)
{
    if (t->root) {
        qvt_kill_leftovers(t->root); /* what a failed test left running */
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
