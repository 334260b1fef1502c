#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "guest.h"
#include "itest.h"

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

static void kill_leftovers(const char *root)
{
    /* Any QEMU a failed test left behind goes with the folder. */
    g_autofree char *dir = g_build_filename(root, "run", "domains", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *st = g_build_filename(dir, n, "status.json", NULL);
        json_object *o = json_object_from_file(st);
        json_object *v;
        if (o && json_object_object_get_ex(o, "qemu_pid", &v) && json_object_get_int(v) > 0)
            kill(json_object_get_int(v), SIGKILL);
        json_object_put(o);
    }
    g_dir_close(d);
}

void itest_teardown(itest *t)
{
    if (t->root) {
        kill_leftovers(t->root);
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
    return g_strdup_printf(
        "<domain type='qemu'>\n"
        "  <name>%s</name>\n"
        "  <memory unit='MiB'>256</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os><type arch='x86_64' machine='pc'>hvm</type>\n"
        "    <kernel>%s</kernel><initrd>%s</initrd>\n"
        "    <cmdline>console=ttyS0 panic=-1 quiet</cmdline></os>\n"
        "  <features><acpi/></features>\n"
        "  <devices>\n"
        "    <serial type='file'><source path='%s'/><target port='0'/></serial>\n"
        "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
        "    <controller type='usb' model='none'/>\n"
        "    <memballoon model='virtio'><stats period='1'/></memballoon>\n"
        "%s"
        "  </devices>\n"
        "</domain>\n",
        name, t->kernel, t->initrd, t->console, extra ? extra : "");
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
