/* Events without a guest: the journal seen from another process, callback
 * filters, deregistration, the pollable fd and the GSource helper. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <glib.h>
#include <qvirt/qvirt.h>
#include <qvirt/qvirt-glib.h>

static char *root, *uri;

static void setup(void)
{
    root = g_dir_make_tmp("qve-XXXXXX", NULL);
    uri = g_strdup_printf("qvirt:///embed?root=%s", root);
}

static void teardown(void)
{
    /* Only files: a config, a journal, lock files. */
    const char *sub[] = { "config/domains", "config", "run/locks", "run/domains", "run/shutoff", "run", NULL };
    for (const char **s = sub; *s; s++) {
        g_autofree char *d = g_build_filename(root, *s, NULL);
        GDir *dir = g_dir_open(d, 0, NULL);
        const char *n;
        while (dir && (n = g_dir_read_name(dir))) {
            g_autofree char *f = g_build_filename(d, n, NULL);
            unlink(f);
        }
        if (dir)
            g_dir_close(dir);
        rmdir(d);
    }
    rmdir(root);
    g_free(root);
    g_free(uri);
}

TestSuite(events, .init = setup, .fini = teardown, .timeout = 30);

static const char *xml_for(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
             "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>", name);
    return buf;
}

typedef struct seen { int n; int last_event; int last_detail; char name[64]; } seen;

static void count_cb(qv_conn *conn, const qv_event *ev, void *opaque)
{
    seen *s = opaque;
    s->n++;
    s->last_event = ev->event;
    s->last_detail = ev->detail;
    g_strlcpy(s->name, ev->domain_name, sizeof s->name);
    cr_assert_not_null(ev->json);
    cr_assert_gt(ev->timestamp_us, 0);
}

Test(events, another_process_defines_and_filters_apply)
{
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0);
    qv_domain *a = NULL;
    cr_assert_eq(qv_conn_define_domain(conn, xml_for("alpha"), 0, &a, &err), 0, "%s",
                 err ? qv_error_message(err) : "");
    seen all = { 0 }, only_alpha = { 0 }, only_reboot = { 0 };
    cr_assert_gt(qv_conn_domain_event_register_any(conn, NULL, -1, count_cb, &all, NULL), 0);
    cr_assert_gt(qv_conn_domain_event_register_any(conn, a, QV_DOMAIN_EVENT_ID_LIFECYCLE, count_cb,
                                                   &only_alpha, NULL), 0);
    cr_assert_gt(qv_conn_domain_event_register_any(conn, NULL, QV_DOMAIN_EVENT_ID_REBOOT, count_cb,
                                                   &only_reboot, NULL), 0);
    /* Nothing that happened before registration is delivered. */
    cr_assert_eq(qv_conn_event_dispatch(conn, NULL), 0);

    pid_t pid = fork();
    if (pid == 0) {
        qv_conn *c = NULL;
        qv_domain *d = NULL;
        if (qv_conn_open(uri, &c, NULL) < 0 || qv_conn_define_domain(c, xml_for("beta"), 0, &d, NULL) < 0 ||
            qv_domain_undefine(d, 0, NULL) < 0)
            _exit(1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    int fd = qv_conn_event_get_fd(conn, &err);
    cr_assert_geq(fd, 0);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    cr_assert_eq(poll(&p, 1, 5000), 1, "the event fd did not become readable");
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 2);
    cr_assert_eq(all.n, 2);
    cr_assert_str_eq(all.name, "beta");
    cr_assert_eq(all.last_event, QV_DOMAIN_EVENT_UNDEFINED);
    cr_assert_eq(all.last_detail, QV_DOMAIN_EVENT_UNDEFINED_REMOVED);
    cr_assert_eq(only_alpha.n, 0, "a domain filter let another domain's event through");
    cr_assert_eq(only_reboot.n, 0);

    /* A redefinition of alpha is an update. */
    cr_assert_eq(qv_conn_define_domain(conn, xml_for("alpha"), 0, NULL, &err), -EEXIST);
    qv_error_freep(&err);
    qv_domain_free(a);
    qv_conn_close(conn);
}

static gboolean quit_loop(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

typedef struct gsrc_ctx { GMainLoop *loop; int n; int id; qv_conn *conn; } gsrc_ctx;

static void gsrc_cb(qv_conn *conn, const qv_event *ev, void *opaque)
{
    gsrc_ctx *c = opaque;
    c->n++;
    /* Deregistering from inside a callback is allowed. */
    qv_conn_domain_event_deregister_any(conn, c->id, NULL);
    g_main_loop_quit(c->loop);
}

Test(events, gsource_dispatches_and_deregister_stops_delivery)
{
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0);
    gsrc_ctx c = { g_main_loop_new(NULL, FALSE), 0, 0, conn };
    c.id = qv_conn_domain_event_register_any(conn, NULL, -1, gsrc_cb, &c, NULL);
    GSource *src = qv_conn_event_source_new(conn, &err);
    cr_assert_not_null(src);
    g_source_attach(src, NULL);
    cr_assert_eq(qv_conn_define_domain(conn, xml_for("gamma"), 0, NULL, &err), 0);
    guint timer = g_timeout_add(5000, quit_loop, c.loop);
    g_main_loop_run(c.loop);
    cr_assert_eq(c.n, 1, "the GSource did not deliver the event");
    g_source_remove(timer);
    /* Deregistered: the next event reaches nobody. */
    qv_domain *d = NULL;
    cr_assert_eq(qv_conn_get_domain_by_name(conn, "gamma", &d, &err), 0);
    cr_assert_eq(qv_domain_undefine(d, 0, &err), 0);
    cr_assert_eq(qv_conn_event_dispatch(conn, NULL), 0);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(qv_conn_domain_event_deregister_any(conn, c.id, &err), -ENOENT);
    qv_error_freep(&err);
    g_source_destroy(src);
    g_source_unref(src);
    g_main_loop_unref(c.loop);
    qv_domain_free(d);
    qv_conn_close(conn);
}

Test(events, bad_arguments)
{
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0);
    cr_assert_eq(qv_conn_domain_event_register_any(conn, NULL, 999, count_cb, NULL, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "999"));
    qv_error_freep(&err);
    cr_assert_eq(qv_conn_domain_event_register_any(conn, NULL, -1, NULL, NULL, &err), -EINVAL);
    qv_error_freep(&err);
    cr_assert_str_eq(qv_event_id_to_string(QV_DOMAIN_EVENT_ID_LIFECYCLE), "lifecycle");
    cr_assert_null(qv_event_id_to_string(-1));
    /* URIs. */
    qv_conn *bad = NULL;
    cr_assert_eq(qv_conn_open("qemu:///system", &bad, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "qemu:///system"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_conn_open("qvirt:///embed?root=relative", &bad, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "absolute"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    qv_conn_close(conn);
}

/* Rotation of the journal (no event lost across any number of rotations,
 * a reader that fell too far behind is told) is tested in
 * tests/unit/test-runtime.c, which can reach the rotation size. */

/* The journal is input like any other: lines that are not ours (torn,
 * foreign, hostile: not JSON, wrong types, far too long, invalid UTF-8)
 * are skipped, and the events around them still arrive whole. */
Test(events, hostile_journal_lines_are_skipped)
{
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0);
    seen all = { 0 };
    cr_assert_gt(qv_conn_domain_event_register_any(conn, NULL, -1, count_cb, &all, NULL), 0);
    cr_assert_eq(qv_conn_event_dispatch(conn, NULL), 0);

    g_autofree char *journal = g_build_filename(root, "run", "events", NULL);
    FILE *f = fopen(journal, "a");
    cr_assert_not_null(f, "cannot append to %s", journal);
    fputs("garbage\n", f);
    fputs("[1,2,3]\n", f);
    fputs("{\"domain\":5,\"event_id\":0,\"event\":0}\n", f);
    fputs("{\"domain\":\"x\",\"event_id\":\"zero\"}\n", f);
    fputs("{\"domain\":\"x\",\"event_id\":0,\"event\":{\"nested\":[]},\"ts\":\"soon\"}\n", f);
    fputs("{\"domain\":\"\xff\xfe\",\"event_id\":0}\n", f);
    fputs("{\"domain\":\"x\"", f);   /* torn: the rest never came */
    fputs("\n", f);
    for (int i = 0; i < 100000; i++)
        fputc('x', f);
    fputs("\n", f);
    fclose(f);

    /* Then a real event, from another process. */
    pid_t pid = fork();
    if (pid == 0) {
        qv_conn *c = NULL;
        if (qv_conn_open(uri, &c, NULL) < 0 || qv_conn_define_domain(c, xml_for("gamma"), 0, NULL, NULL) < 0)
            _exit(1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Dispatch each time the journal grows, until gamma's event or 5 s. */
    int delivered = 0;
    int fd = qv_conn_event_get_fd(conn, &err);
    cr_assert_geq(fd, 0);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    for (;;) {
        int n = qv_conn_event_dispatch(conn, &err);
        cr_assert_geq(n, 0, "dispatch failed: %s", err ? qv_error_message(err) : "?");
        delivered += n;
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        if (!strcmp(all.name, "gamma") || left_ms <= 0)
            break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, (int)left_ms);
    }
    cr_assert_str_eq(all.name, "gamma", "the event after the hostile lines was lost");
    cr_assert_eq(all.last_event, QV_DOMAIN_EVENT_DEFINED);
    /* Only gamma's: no hostile line was delivered as an event. */
    cr_assert_eq(delivered, 1, "hostile lines were delivered as events (%d in all)", delivered);
    cr_assert_eq(all.n, 1);
    qv_conn_close(conn);
}
