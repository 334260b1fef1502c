/* qvirt+ssh:// connections against real QEMU and the test guest.
 *
 * Most cases go through a fake ssh (cli_fake_ssh: the remote command runs
 * on this host with sh -c), on the test's embed root, and check what the
 * remote connection says against a local connection of the same root: the
 * call went over the line protocol to `qvirt remote-serve` (the fake's log
 * proves ssh ran) and did the same thing a local call does. One guest,
 * booted once, serves the guest cases (about 6 s a boot under TCG). The
 * last case runs a real ssh to an sshd in another network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "leftovers.h"
#include <qvirt/qvirt-glib.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static char *RURI;         /* the fake ssh's URI of T.root */
static itest_netns N;
static GArray *seen;       /* lifecycle events seen (seen_event) */
static char *PATH0;        /* PATH without the fake ssh */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    itest_setup(&T);
    PATH0 = g_strdup(g_getenv("PATH"));
    RURI = cli_fake_ssh(T.root, T.root);
}

static void teardown(void)
{
    /* What a failed test left running on the other roots ("far": the
     * real ssh's, "dst": the migrations'); T's goes in itest_teardown. */
    const char *subs[] = { "far", "dst" };
    g_autoptr(GString) cgroups_left = g_string_new(NULL);
    for (size_t i = 0; T.root && i < G_N_ELEMENTS(subs); i++) {
        g_autofree char *sub = g_build_filename(T.root, subs[i], NULL);
        qvt_kill_leftovers(sub);
        g_autofree char *left = qvt_cgroup_leftovers(sub);
        if (left)
            g_string_append_printf(cgroups_left, "%s\n", left);
    }
    itest_netns_down(&N);
    g_clear_pointer(&seen, g_array_unref);
    g_clear_pointer(&RURI, g_free);
    g_clear_pointer(&PATH0, g_free);
    itest_teardown(&T);
    itest_fini_fail_on_cgroups(cgroups_left->len ? cgroups_left->str : NULL);
}

TestSuite(remote, .init = setup, .fini = teardown, .timeout = 400);

#define BOOT_MS 90000
#define WAIT_MS 30000

static qv_conn *open_remote(const char *uri)
{
    int runs = cli_fake_ssh_runs(T.root);
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    int r = qv_conn_open(uri, &conn, &err);
    cr_assert_eq(r, 0, "qv_conn_open(%s): %s", uri, err ? qv_error_message(err) : "?");
    cr_assert_str_eq(qv_conn_get_uri(conn), uri);
    if (strstr(uri, "fakehost"))
        cr_assert_gt(cli_fake_ssh_runs(T.root), runs, "the connection did not run ssh");
    return conn;
}

static void assert_state(qv_domain *dom, int want, int want_reason)
{
    int reason = -1;
    int state = itest_wait_state(dom, want, WAIT_MS, &reason);
    cr_assert_eq(state, want, "state %d, want %d", state, want);
    if (want_reason >= 0)
        cr_assert_eq(reason, want_reason, "reason %d, want %d", reason, want_reason);
}

/* Polls until no remote-serve of T.root runs. */
static bool wait_no_remote_serve(int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (cli_remote_serves(T.root) > 0) {
        if (g_get_monotonic_time() > deadline)
            return false;
        poll(NULL, 0, 20);
    }
    return true;
}

/* ---- events of the remote connection ------------------------------------ */

typedef struct seen_event {
    char *name;
    int event, detail;
} seen_event;

static void seen_clear(gpointer p)
{
    g_free(((seen_event *)p)->name);
}

static GArray *seen_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(seen_event));
    g_array_set_clear_func(a, seen_clear);
    return a;
}

static void on_lifecycle(qv_conn *conn, const qv_event *ev, void *opaque)
{
    (void)conn;
    (void)opaque;
    seen_event s = { g_strdup(ev->domain_name), ev->event, ev->detail };
    g_array_append_val(seen, s);
}

/* Runs the remote connection's event loop until (name, event, detail) came. */
static void wait_event(qv_conn *conn, const char *name, int event, int detail)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    for (;;) {
        for (guint i = 0; i < seen->len; i++) {
            seen_event *s = &g_array_index(seen, seen_event, i);
            if (!strcmp(s->name, name) && s->event == event && s->detail == detail) {
                g_array_remove_index(seen, i); /* each event counts once */
                return;
            }
        }
        g_autoptr(GString) got = g_string_new(NULL);
        for (guint i = 0; i < seen->len; i++) {
            seen_event *s = &g_array_index(seen, seen_event, i);
            g_string_append_printf(got, " %s:%d/%d", s->name, s->event, s->detail);
        }
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        cr_assert_gt(left, 0, "no lifecycle event %d/%d of %s on the remote connection; it had:%s",
                     event, detail, name, got->str);
        qv_error *err = NULL;
        int r = qv_conn_event_run(conn, left < 500 ? left : 500, &err);
        cr_assert_geq(r, 0, "qv_conn_event_run: %s", err ? qv_error_message(err) : "?");
    }
}

/* ---- no guest: definitions, lookups, errors -------------------------------- */

Test(remote, definitions_lookups_and_errors)
{
    g_autoptr(qv_conn) rc = open_remote(RURI);
    g_autoptr(qv_conn) lc = itest_open(&T);
    qv_error *err = NULL, *lerr = NULL;

    /* An error comes back with its code and message, as a local call's. */
    qv_domain *missing = NULL;
    int r = qv_conn_get_domain_by_name(rc, "nosuch", &missing, &err);
    int lr = qv_conn_get_domain_by_name(lc, "nosuch", &missing, &lerr);
    cr_assert_eq(r, -ENOENT, "remote lookup of a missing domain: %d", r);
    cr_assert_eq(lr, r);
    cr_assert(strstr(qv_error_message(err), "not found"), "%s", qv_error_message(err));
    cr_assert_str_eq(qv_error_message(err), qv_error_message(lerr));
    cr_assert_null(missing);
    qv_error_free(err);
    qv_error_free(lerr);
    err = lerr = NULL;

    g_autofree char *xml = itest_domain_xml(&T, "rdef", NULL);
    qv_domain *d = NULL;
    itest_ok(qv_conn_define_domain(rc, xml, 0, &d, &err), err);
    g_autoptr(qv_domain) dom = d;
    cr_assert_str_eq(qv_domain_get_name(dom), "rdef");
    d = NULL;
    itest_ok(qv_conn_get_domain_by_name(lc, "rdef", &d, &err), err);
    g_autoptr(qv_domain) ldom = d;
    char ru[37], lu[37];
    itest_ok(qv_domain_get_uuid_string(dom, ru, &err), err);
    itest_ok(qv_domain_get_uuid_string(ldom, lu, &err), err);
    cr_assert_str_eq(ru, lu, "the remote handle names another domain");
    unsigned char uuid[16];
    itest_ok(qv_domain_get_uuid(ldom, uuid, &err), err);
    d = NULL;
    itest_ok(qv_conn_get_domain_by_uuid(rc, uuid, &d, &err), err);
    cr_assert_str_eq(qv_domain_get_name(d), "rdef");
    qv_domain_free(d);
    d = NULL;
    itest_ok(qv_conn_get_domain_by_uuid_string(rc, lu, &d, &err), err);
    cr_assert_str_eq(qv_domain_get_name(d), "rdef");
    qv_domain_free(d);
    cr_assert_eq(qv_domain_get_id(dom), -1, "a shut-off domain has no id");
    cr_assert_eq(qv_domain_is_active(dom, &err), 0);
    cr_assert_eq(qv_domain_is_persistent(dom, &err), 1);

    /* Lists with flags, as the local connection has them. */
    qv_domain **list = NULL;
    int n = qv_conn_list_all_domains(rc, QV_CONNECT_LIST_DOMAINS_INACTIVE, &list, &err);
    cr_assert_eq(n, 1, "inactive: %d (%s)", n, err ? qv_error_message(err) : "");
    cr_assert_str_eq(qv_domain_get_name(list[0]), "rdef");
    qv_domain_list_free(list);
    list = NULL;
    n = qv_conn_list_all_domains(rc, QV_CONNECT_LIST_DOMAINS_ACTIVE, &list, &err);
    cr_assert_eq(n, 0, "active: %d", n);
    qv_domain_list_free(list);

    /* XML, metadata and autostart: set remotely, seen locally. */
    char *rx = NULL, *lx = NULL;
    itest_ok(qv_domain_get_xml_description(dom, 0, &rx, &err), err);
    itest_ok(qv_domain_get_xml_description(ldom, 0, &lx, &err), err);
    cr_assert_str_eq(rx, lx);
    free(rx);
    free(lx);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_DESCRIPTION, "over ssh", NULL, NULL,
                                    0, &err), err);
    itest_ok(qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, "<k v='1'/>", "qt",
                                    "http://qvirt.test/remote", 0, &err), err);
    char *meta = NULL;
    itest_ok(qv_domain_get_metadata(ldom, QV_DOMAIN_METADATA_DESCRIPTION, NULL, 0, &meta, &err),
             err);
    cr_assert_str_eq(meta, "over ssh");
    free(meta);
    meta = NULL;
    itest_ok(qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, "http://qvirt.test/remote", 0,
                                    &meta, &err), err);
    cr_assert(strstr(meta, "v=\"1\"") || strstr(meta, "v='1'"), "%s", meta);
    free(meta);
    meta = NULL;
    r = qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_TITLE, NULL, 0, &meta, &err);
    cr_assert_eq(r, -ENOENT, "no title: %d", r);
    qv_error_free(err);
    err = NULL;
    itest_ok(qv_domain_set_autostart(dom, 1, &err), err);
    int as = -1;
    itest_ok(qv_domain_get_autostart(ldom, &as, &err), err);
    cr_assert_eq(as, 1);
    n = qv_conn_list_all_domains(rc, QV_CONNECT_LIST_DOMAINS_NO_AUTOSTART, &list, &err);
    cr_assert_eq(n, 0);
    qv_domain_list_free(list);
    itest_ok(qv_domain_set_autostart(dom, 0, &err), err);
    itest_ok(qv_domain_get_autostart(dom, &as, &err), err);
    cr_assert_eq(as, 0);

    /* Refused with one sentence: fds cannot cross hosts. */
    r = qv_domain_open_graphics(dom, 0, 0, 0, &err);
    cr_assert_lt(r, 0);
    cr_assert_null(strchr(qv_error_message(err), '\n'), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    r = qv_conn_get_domain_by_name(lc, "rdef", &d, &err);
    cr_assert_eq(r, -ENOENT, "still defined after a remote undefine");
    qv_error_free(err);
    err = NULL;
    /* A handle names its domain by UUID: another domain defined under the
     * same name since is not it. */
    itest_ok(qv_conn_define_domain(lc, xml, 0, &d, &err), err);
    qv_domain_free(d);
    char *x = NULL;
    r = qv_domain_get_xml_description(dom, 0, &x, &err);
    cr_assert_eq(r, -ENOENT, "the old handle reached the new domain of its name (%d)", r);
    cr_assert(strstr(qv_error_message(err), ru), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    /* A remote command that is not qvirt: one sentence, no connection. */
    g_autofree char *bad = g_strdup_printf("qvirt+ssh://fakehost/embed?root=%s&command=/bin/false",
                                           T.root);
    qv_conn *bc = NULL;
    r = qv_conn_open(bad, &bc, &err);
    cr_assert_lt(r, 0, "a connection to /bin/false opened");
    cr_assert_null(bc);
    cr_assert(strstr(qv_error_message(err), "cannot open"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;

    /* Closing the connection ends its remote-serve. */
    cr_assert_eq(cli_remote_serves(T.root), 1, "one remote-serve for the open connection");
    qv_conn_close(g_steal_pointer(&rc));
    cr_assert(wait_no_remote_serve(WAIT_MS), "remote-serve outlived its connection");
}

/* An event raised as soon as registration returns is delivered: the
 * remote side follows its journal from before its reply, not after. Each
 * round defines a domain locally (faster than any remote call) right
 * after registering on a fresh remote connection. (A race: before the fix
 * it failed only when remote-serve lost the CPU between its reply and
 * opening the journal.) */
Test(remote, events_from_the_moment_of_registration)
{
    g_autoptr(qv_conn) lc = itest_open(&T);
    g_autofree char *xml = itest_domain_xml(&T, "ev", NULL);
    for (int round = 0; round < 20; round++) {
        g_clear_pointer(&seen, g_array_unref);
    seen = seen_new();
        g_autoptr(qv_conn) rc = open_remote(RURI);
        qv_error *err = NULL;
        itest_ok(qv_conn_domain_event_register_any(rc, NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   on_lifecycle, NULL, &err), err);
        qv_domain *d = NULL;
        itest_ok(qv_conn_define_domain(lc, xml, 0, &d, &err), err);
        itest_ok(qv_domain_undefine(d, 0, &err), err);
        qv_domain_free(d);
        wait_event(rc, "ev", QV_DOMAIN_EVENT_DEFINED, QV_DOMAIN_EVENT_DEFINED_ADDED);
        wait_event(rc, "ev", QV_DOMAIN_EVENT_UNDEFINED, QV_DOMAIN_EVENT_UNDEFINED_REMOVED);
        g_clear_pointer(&seen, g_array_unref);
    }
    cr_assert(wait_no_remote_serve(WAIT_MS), "remote-serves outlived their connections");
}

/* The pids of T.root's remote-serve processes. */
static GArray *remote_serve_pids(void)
{
    return cli_remote_serve_pids(T.root);
}

/* The remote side dies: calls fail saying the connection was lost (they
 * do not hang, nor kill the caller with SIGPIPE), and so does the event
 * loop; a console stream's end reads as its end. */
Test(remote, a_lost_connection_fails_calls)
{
    /* The library must not raise SIGPIPE in its caller when it writes to
     * a remote side that is gone (the default action ends the process). */
    signal(SIGPIPE, SIG_DFL);
    g_autoptr(qv_conn) rc = open_remote(RURI);
    qv_error *err = NULL;
    g_clear_pointer(&seen, g_array_unref);
    seen = seen_new();
    itest_ok(qv_conn_domain_event_register_any(rc, NULL, -1, on_lifecycle, NULL, &err), err);
    g_autoptr(GArray) pids = remote_serve_pids();
    cr_assert_eq(pids->len, 2u, "a call channel and an event channel: %u", pids->len);
    for (guint i = 0; i < pids->len; i++)
        kill(g_array_index(pids, pid_t, i), SIGKILL);
    /* ... and the (fake) ssh processes, the pipes' other ends, end too. */
    g_autofree char *log_path = g_build_filename(T.root, "ssh.log", NULL);
    g_autofree char *log = NULL;
    cr_assert(g_file_get_contents(log_path, &log, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(g_strchomp(log), "\n", -1);
    for (guint i = 0; lines[i]; i++)
        cr_assert(itest_wait_pid_gone((pid_t)atoi(lines[i]), WAIT_MS), "ssh %s lives on", lines[i]);
    qv_domain **list = NULL;
    int r = qv_conn_list_all_domains(rc, 0, &list, &err);
    cr_assert_lt(r, 0, "a call succeeded on a dead connection");
    cr_assert(strstr(qv_error_message(err), "was lost"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    r = qv_conn_list_all_domains(rc, 0, &list, &err);
    cr_assert_lt(r, 0);
    cr_assert(strstr(qv_error_message(err), "was lost"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    r = qv_conn_event_run(rc, 5000, &err);
    cr_assert_lt(r, 0, "the event loop of a dead connection ran");
    cr_assert(strstr(qv_error_message(err), "lost"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    /* A GLib source on the dead stream removes itself, rather than spin
     * on an fd that stays readable (its end) for ever. */
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GSource *src = qv_conn_event_source_new(rc, &err);
    cr_assert_not_null(src, "%s", err ? qv_error_message(err) : "?");
    g_source_attach(src, ctx);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    int rounds = 0;
    while (!g_source_is_destroyed(src)) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "the source on a dead event stream stays "
                     "(%d dispatches)", rounds);
        g_main_context_iteration(ctx, FALSE);
        rounds++;
    }
    g_source_unref(src);
}

/* ---- one guest, booted once ------------------------------------------------ */

typedef struct migrate_call {
    qv_domain *dom;
    qv_conn *dconn;
    int r;
    char *msg;
} migrate_call;

/* A migration at 1 MiB/s: minutes for the guest's memory. */
static gpointer migrate_thread(gpointer data)
{
    migrate_call *m = data;
    qv_error *err = NULL;
    qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_BANDWIDTH,
                            .bandwidth = 1 };
    m->r = qv_domain_migrate(m->dom, m->dconn, &p, QV_MIGRATE_LIVE, NULL, &err);
    m->msg = g_strdup(err ? qv_error_message(err) : "");
    qv_error_free(err);
    return NULL;
}

static char *guest_ok(const char *name, const char *script)
{
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, name);
    int code;
    char *out = itest_guest_run(ga, script, &code);
    cr_assert_eq(code, 0, "guest command failed (%d): %s\n%s", code, script, out);
    return g_strchomp(out);
}

/* Reads fd until it shows text (or the deadline). */
static void read_until(int fd, GString *buf, const char *text, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!strstr(buf->str, text)) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        cr_assert_gt(left, 0, "'%s' did not come through the console; it showed: %s", text,
                     buf->str);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        cr_assert_gt(n, 0, "the console stream ended; it showed: %s", buf->str);
        g_string_append_len(buf, chunk, n);
    }
}

static void console_round_trip(qv_domain *dom)
{
    qv_error *err = NULL;
    int fd = -1;
    itest_ok(qv_domain_open_console(dom, "serial1", &fd, 0, &err), err);
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "the console fd must be close-on-exec");
    /* Guest to caller: the guest writes on its second serial port. */
    g_autofree char *o = guest_ok("rg", "stty -F /dev/ttyS1 raw -echo && "
                                        "echo from-the-guest-over-ssh > /dev/ttyS1");
    g_autoptr(GString) buf = g_string_new(NULL);
    read_until(fd, buf, "from-the-guest-over-ssh", WAIT_MS);
    /* Caller to guest: a reader in the guest gets the line we write. */
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, "rg");
    /* (Line by line: the port is raw, and a reader that opens it
     * mid-line gets that line's tail first.) */
    int64_t pid = itest_guest_spawn(ga, "while read -r l; do case \"$l\" in "
                                        "*to-the-guest-x*) echo got-the-line; break;; esac; "
                                        "done < /dev/ttyS1");
    GBytes *out = NULL;
    int code = -1;
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    /* The reader may not have opened the port yet: send again until it
     * has its bytes. */
    while (code == -1) {
        cr_assert_lt(g_get_monotonic_time(), deadline, "the guest never read the console line");
        cr_assert_eq(write(fd, "to-the-guest-x\n", 15), 15);
        code = itest_guest_wait(ga, pid, 500, &out);
    }
    gsize len = 0;
    const char *data = g_bytes_get_data(out, &len);
    g_autofree char *got = g_strndup(data ? data : "", len);
    g_bytes_unref(out);
    cr_assert(strstr(got, "got-the-line"), "the guest read: %s", got);
    /* Closing the fd ends the session over there: the console opens again
     * (no FORCE) once the remote side has let go of it. */
    close(fd);
    gint64 until = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        int r = qv_domain_open_console(dom, "serial1", &fd, 0, &err);
        if (r == 0)
            break;
        cr_assert_eq(r, -EBUSY, "open_console again: %s", qv_error_message(err));
        qv_error_free(err);
        err = NULL;
        cr_assert_lt(g_get_monotonic_time(), until, "the console stays in use after its fd "
                     "was closed");
        poll(NULL, 0, 50);
    }
    close(fd);
}

/* The agent's channel as a stream: a guest-ping answered through it;
 * once closed, the channel is free for the next client. */
static void channel_round_trip(qv_domain *dom)
{
    qv_error *err = NULL;
    int fd = -1;
    itest_ok(qv_domain_open_channel(dom, "org.qemu.guest_agent.0", &fd, 0, &err), err);
    const char ping[] = "{\"execute\":\"guest-ping\"}\n";
    cr_assert_eq(write(fd, ping, sizeof ping - 1), (ssize_t)(sizeof ping - 1));
    g_autoptr(GString) buf = g_string_new(NULL);
    read_until(fd, buf, "\"return\"", WAIT_MS);
    close(fd);
    g_autofree char *o = guest_ok("rg", "echo agent-free-again");
    cr_assert_str_eq(o, "agent-free-again");
}

/* QMP's error class and description come back as a local call gives
 * them: QEMU refuses to grow a qcow2 image to 4 EiB. */
static void qmp_error(qv_domain *dom, qv_domain *ldom)
{
    qv_error *err = NULL, *lerr = NULL;
    unsigned long long huge = 1ull << 62;
    int r = qv_domain_block_resize(dom, "vdb", huge, QV_DOMAIN_BLOCK_RESIZE_BYTES, &err);
    int lr = qv_domain_block_resize(ldom, "vdb", huge, QV_DOMAIN_BLOCK_RESIZE_BYTES, &lerr);
    cr_assert_lt(r, 0, "a qcow2 image grew to 4 EiB");
    cr_assert_eq(r, lr);
    cr_assert_not_null(qv_error_qmp_class(lerr), "%s", qv_error_message(lerr));
    cr_assert_not_null(qv_error_qmp_class(err), "%s", qv_error_message(err));
    cr_assert_str_eq(qv_error_qmp_class(err), qv_error_qmp_class(lerr));
    cr_assert_str_eq(qv_error_qmp_desc(err), qv_error_qmp_desc(lerr));
    cr_assert_str_eq(qv_error_message(err), qv_error_message(lerr));
    qv_error_free(err);
    qv_error_free(lerr);
}

/* The calls written by hand (buffers and arrays the caller sizes), each
 * against its local twin. */
static void hand_written_calls(qv_conn *rc, qv_conn *lc, qv_domain *dom, qv_domain *ldom)
{
    qv_error *err = NULL;
    /* The BIOS's ROM does not change under us. */
    unsigned char rb[512], lb[512];
    itest_ok(qv_domain_memory_peek(dom, 0xf0000, sizeof rb, rb, QV_MEMORY_PHYSICAL, &err), err);
    itest_ok(qv_domain_memory_peek(ldom, 0xf0000, sizeof lb, lb, QV_MEMORY_PHYSICAL, &err), err);
    cr_assert_eq(memcmp(rb, lb, sizeof rb), 0, "memory_peek read other bytes over ssh");
    int ncpus = qv_domain_get_cpu_stats(dom, NULL, 0, 0, 0, &err);
    cr_assert_eq(ncpus, qv_domain_get_cpu_stats(ldom, NULL, 0, 0, 0, &err));
    cr_assert_gt(ncpus, 0);
    qv_cpu_stats total;
    cr_assert_eq(qv_domain_get_cpu_stats(dom, &total, -1, 1, 0, &err), 1);
    cr_assert_gt(total.cpu_time, 0ull);
    unsigned char *rmap = NULL, *lmap = NULL;
    unsigned int ron = 0, lon = 0;
    int rn = qv_conn_get_node_cpu_map(rc, &rmap, &ron, 0, &err);
    int ln = qv_conn_get_node_cpu_map(lc, &lmap, &lon, 0, &err);
    cr_assert_eq(rn, ln);
    cr_assert_eq(ron, lon);
    cr_assert_eq(memcmp(rmap, lmap, (size_t)(rn + 7) / 8), 0);
    free(rmap);
    free(lmap);
    int maplen = (rn + 7) / 8;
    g_autofree unsigned char *rp = g_malloc0((size_t)maplen), *lp = g_malloc0((size_t)maplen);
    cr_assert_eq(qv_domain_get_vcpu_pin_info(dom, 1, rp, maplen, 0, &err), 1);
    cr_assert_eq(qv_domain_get_vcpu_pin_info(ldom, 1, lp, maplen, 0, &err), 1);
    cr_assert_eq(memcmp(rp, lp, (size_t)maplen), 0);
    memset(rp, 0, (size_t)maplen);
    memset(lp, 0, (size_t)maplen);
    itest_ok(qv_domain_get_emulator_pin_info(dom, rp, maplen, 0, &err), err);
    itest_ok(qv_domain_get_emulator_pin_info(ldom, lp, maplen, 0, &err), err);
    cr_assert_eq(memcmp(rp, lp, (size_t)maplen), 0);
    qv_vcpu_info vi, lvi;
    g_autofree unsigned char *vmap = g_malloc0((size_t)maplen);
    g_autofree unsigned char *lvmap = g_malloc0((size_t)maplen);
    cr_assert_eq(qv_domain_get_vcpu_info(dom, &vi, 1, vmap, maplen, 0, &err), 1);
    cr_assert_eq(qv_domain_get_vcpu_info(ldom, &lvi, 1, lvmap, maplen, 0, &err), 1);
    cr_assert_eq(memcmp(vmap, lvmap, (size_t)maplen), 0, "vCPU affinity differs over ssh");
    cr_assert_eq(vi.number, lvi.number);
    int ndisks = qv_domain_get_disk_errors(dom, NULL, 0, 0, &err);
    cr_assert_eq(ndisks, qv_domain_get_disk_errors(ldom, NULL, 0, 0, &err));
    qv_disk_error de[4];
    cr_assert_eq(qv_domain_get_disk_errors(dom, de, 4, 0, &err), 0, "disk errors on a fine disk");
    qv_security_label *labels = NULL;
    int nl = qv_domain_get_security_label_list(dom, &labels, &err);
    itest_ok(nl, err);
    cr_assert_geq(nl, 1);
    cr_assert_str_eq(labels[0].model, "none");
    free(labels);
    /* A large reply: a whole peek of guest memory, the same bytes. */
    g_autofree unsigned char *rbig = g_malloc(QV_DOMAIN_PEEK_MAX);
    g_autofree unsigned char *lbig = g_malloc(QV_DOMAIN_PEEK_MAX);
    itest_ok(qv_domain_memory_peek(dom, 0xc0000, QV_DOMAIN_PEEK_MAX / 4, rbig, QV_MEMORY_PHYSICAL,
                                   &err), err);
    itest_ok(qv_domain_memory_peek(ldom, 0xc0000, QV_DOMAIN_PEEK_MAX / 4, lbig,
                                   QV_MEMORY_PHYSICAL, &err), err);
    cr_assert_eq(memcmp(rbig, lbig, QV_DOMAIN_PEEK_MAX / 4), 0);
    itest_ok(qv_domain_block_peek(dom, "vdc", 0, QV_DOMAIN_PEEK_MAX, rbig, 0, &err), err);
    cr_assert_eq(memcmp(rbig + 65536, "qvirt-peek-pattern", 18), 0, "block_peek read other bytes");
    cr_assert_eq(rbig[0], 0);
    /* The screen as a PNG, written to our fd. */
    g_autofree char *shot = g_build_filename(T.root, "shot.png", NULL);
    int sfd = open(shot, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(sfd, 0);
    char *mime = NULL;
    itest_ok(qv_domain_screenshot(dom, sfd, 0, 0, &mime, &err), err);
    close(sfd);
    cr_assert_str_eq(mime, "image/png");
    free(mime);
    g_autofree char *png = NULL;
    gsize png_len = 0;
    cr_assert(g_file_get_contents(shot, &png, &png_len, NULL));
    cr_assert(png_len > 8 && !memcmp(png, "\x89PNG", 4), "not a PNG (%zu bytes)", (size_t)png_len);
    /* The VNC server through a stream: its greeting. */
    int gfd = -1;
    itest_ok(qv_domain_open_graphics_fd(dom, 0, 0, &gfd, &err), err);
    g_autoptr(GString) rfb = g_string_new(NULL);
    read_until(gfd, rfb, "RFB 003.008\n", WAIT_MS);
    close(gfd);
    unsigned int shift[] = { 42 }; /* KEY_LEFTSHIFT: harmless */
    itest_ok(qv_domain_send_key(dom, 0, 10, shift, 1, 0, &err), err);
    int r = qv_domain_send_key(dom, 0, 10, shift, 0, 0, &err);
    cr_assert_lt(r, 0, "send_key with no keys");
    qv_error_free(err);
}

/* Generated calls with strings and structs: remote and local agree. */
static void generated_calls(qv_domain *dom, qv_domain *ldom)
{
    qv_error *err = NULL;
    /* A struct that starts with its size, and a fixed-size string in it. */
    qv_domain_job_stats rs = { .size = sizeof rs }, ls = { .size = sizeof ls };
    /* (KEEP_COMPLETED: without it the read discards them, as in libvirt.) */
    itest_ok(qv_domain_get_job_stats(dom, &rs, QV_DOMAIN_JOB_STATS_COMPLETED |
                                     QV_DOMAIN_JOB_STATS_KEEP_COMPLETED, &err), err);
    itest_ok(qv_domain_get_job_stats(ldom, &ls, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(rs.type, QV_DOMAIN_JOB_CANCELLED, "the aborted migration's statistics: %d",
                 rs.type);
    cr_assert_eq(rs.type, ls.type);
    cr_assert_eq(rs.size, sizeof rs);
    cr_assert_eq(rs.operation, ls.operation);
    cr_assert_eq(rs.time_elapsed, ls.time_elapsed);
    cr_assert_eq(rs.memory_processed, ls.memory_processed);
    cr_assert_str_eq(rs.errmsg, ls.errmsg);
    /* A struct set remotely, with a string member, read back locally. */
    qv_block_iotune set = { .fields = QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC | QV_BLOCK_IOTUNE_GROUP_NAME,
                            .total_iops_sec = 4321, .group_name = (char *)"remote-group" };
    itest_ok(qv_domain_set_block_iotune(dom, "vdb", &set, QV_DOMAIN_AFFECT_LIVE, &err), err);
    qv_block_iotune rt = { 0 }, lt = { 0 };
    itest_ok(qv_domain_get_block_iotune(ldom, "vdb", &lt, QV_DOMAIN_AFFECT_LIVE, &err), err);
    itest_ok(qv_domain_get_block_iotune(dom, "vdb", &rt, QV_DOMAIN_AFFECT_LIVE, &err), err);
    cr_assert_eq(lt.total_iops_sec, 4321ull);
    cr_assert_str_eq(lt.group_name, "remote-group");
    cr_assert_eq(rt.total_iops_sec, lt.total_iops_sec);
    cr_assert_str_eq(rt.group_name, lt.group_name);
    cr_assert_eq(rt.fields, lt.fields);
    qv_block_iotune_clear(&rt);
    qv_block_iotune_clear(&lt);
    qv_block_iotune off = { .fields = QV_BLOCK_IOTUNE_TOTAL_IOPS_SEC };
    itest_ok(qv_domain_set_block_iotune(dom, "vdb", &off, QV_DOMAIN_AFFECT_LIVE, &err), err);
    /* Strings out. */
    char *rh = NULL, *lh = NULL;
    itest_ok(qv_domain_get_hostname(dom, 0, &rh, &err), err);
    itest_ok(qv_domain_get_hostname(ldom, 0, &lh, &err), err);
    cr_assert_str_eq(rh, "qvirt-guest");
    cr_assert_str_eq(rh, lh);
    free(rh);
    free(lh);
    char *ro = NULL;
    itest_ok(qv_domain_get_os_type(dom, &ro, &err), err);
    cr_assert_str_eq(ro, "hvm");
    free(ro);
    int rn = 0, ln = 0;
    char *rty = NULL, *lty = NULL;
    itest_ok(qv_domain_get_scheduler_type(dom, &rn, &rty, &err), err);
    itest_ok(qv_domain_get_scheduler_type(ldom, &ln, &lty, &err), err);
    cr_assert_str_eq(rty, lty);
    cr_assert_eq(rn, ln);
    free(rty);
    free(lty);
    cr_assert_eq(qv_domain_get_max_memory(dom, &err), qv_domain_get_max_memory(ldom, &err));
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_AFFECT_LIVE, &err), 1);
}

static void snapshots(qv_domain *dom, qv_domain *ldom)
{
    qv_error *err = NULL;
    g_autofree char *o = guest_ok("rg", "echo before > /tmp/snapmark");
    qv_snapshot *snap = NULL;
    itest_ok(qv_domain_create_snapshot(dom, "<domainsnapshot><name>s1</name></domainsnapshot>", 0,
                                       &snap, &err), err);
    cr_assert_str_eq(qv_snapshot_get_name(snap), "s1");
    cr_assert_eq(qv_domain_num_of_snapshots(ldom, 0, &err), 1, "not seen locally");
    cr_assert_eq(qv_domain_num_of_snapshots(dom, 0, &err), 1);
    qv_snapshot **list = NULL;
    int n = qv_domain_list_all_snapshots(dom, 0, &list, &err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(qv_snapshot_get_name(list[0]), "s1");
    qv_snapshot_list_free(list);
    cr_assert_eq(qv_snapshot_is_current(snap, 0, &err), 1);
    char *sx = NULL;
    itest_ok(qv_snapshot_get_xml_description(snap, 0, &sx, &err), err);
    cr_assert(strstr(sx, "<name>s1</name>"), "%s", sx);
    cr_assert(strstr(sx, "snapshot='internal'"), "not an internal snapshot: %s", sx);
    free(sx);
    g_free(guest_ok("rg", "echo after > /tmp/snapmark"));
    itest_ok(qv_snapshot_revert_to(snap, 0, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, -1);
    g_autofree char *mark = guest_ok("rg", "cat /tmp/snapmark");
    cr_assert_str_eq(mark, "before", "the revert did not bring back the guest's RAM");
    itest_ok(qv_snapshot_delete(snap, 0, &err), err);
    qv_snapshot_free(snap);
    cr_assert_eq(qv_domain_num_of_snapshots(ldom, 0, &err), 0, "the snapshot is still there");
}

/* A slow migration in one thread (remote-serve runs it in one of its
 * own); its job seen and aborted from another thread on the same remote
 * connection, through another handle of the domain (qvirt.h's threads
 * rule). */
static void migration_aborted_from_another_thread(qv_conn *rc, qv_domain *dom, qv_conn *drc)
{
    qv_error *err = NULL;
    g_autoptr(qv_domain) other = NULL;
    itest_ok(qv_conn_get_domain_by_name(rc, "rg", &other, &err), err);
    migrate_call mc = { .dom = dom, .dconn = drc, .r = 1 };
    GThread *th = g_thread_new("migrate", migrate_thread, &mc);
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        qv_domain_job_stats st = { .size = sizeof st };
        int r = qv_domain_get_job_stats(other, &st, 0, &err);
        itest_ok(r, err);
        if (st.type == QV_DOMAIN_JOB_UNBOUNDED && st.memory_processed > 0) {
            cr_assert_eq(st.operation, QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
            break;
        }
        cr_assert_lt(g_get_monotonic_time(), deadline, "the migration job never showed "
                     "(type %d; migrate: %d)", st.type, mc.r);
        poll(NULL, 0, 50);
    }
    qv_domain_job_info info;
    itest_ok(qv_domain_get_job_info(other, &info, &err), err);
    cr_assert_eq(info.type, QV_DOMAIN_JOB_UNBOUNDED);
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(other, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_JOB);
    itest_ok(qv_domain_abort_job(other, 0, &err), err);
    g_thread_join(th);
    cr_assert_eq(mc.r, -ECANCELED, "the migration ended %d: %s", mc.r, mc.msg);
    cr_assert(strstr(mc.msg, "aborted"), "%s", mc.msg);
    g_free(mc.msg);
    assert_state(other, QV_DOMAIN_RUNNING, -1);
    g_free(guest_ok("rg", "true"));
}

/* Sets *opaque when a BLOCK_JOB_2 event (disks by target) says vdb's job
 * is ready. */
static void on_block_job(qv_conn *conn, const qv_event *ev, void *opaque)
{
    (void)conn;
    g_autoptr(json_object) o = json_tokener_parse(ev->json);
    if (!g_strcmp0(qv_json_get_str(o, "disk"), "vdb") &&
        qv_json_get_int(o, "status", -1) == QV_DOMAIN_BLOCK_JOB_READY)
        *(bool *)opaque = true;
}

/* Hotplug, a disk's size, a block job (its READY event through the remote
 * connection's stream) and managed save: more generated calls, each
 * checked through the local connection. */
static void devices_jobs_and_managed_save(qv_conn *rc, qv_domain *dom, qv_domain *ldom,
                                          const char *root)
{
    qv_error *err = NULL;
    /* Hotplug: a disk attached and detached through the remote connection. */
    g_autofree char *hot = g_build_filename(root, "hot.img", NULL);
    g_autofree char *zero = g_malloc0(1 << 20);
    cr_assert(g_file_set_contents(hot, zero, 1 << 20, NULL));
    g_autofree char *hx = g_strdup_printf(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='vdd' bus='virtio'/></disk>", hot);
    itest_ok(qv_domain_attach_device(dom, hx, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(ldom, 0, &live, &err), err);
    cr_assert(strstr(live, "dev='vdd'"), "the attached disk is not in the live XML");
    free(live);
    qv_block_info bi;
    itest_ok(qv_domain_get_block_info(ldom, "vdd", &bi, 0, &err), err);
    cr_assert_eq(bi.capacity, 1ull << 20);
    /* Its size, grown remotely (KiB), as the local connection sees it. */
    itest_ok(qv_domain_block_resize(dom, "vdd", 2048, 0, &err), err);
    itest_ok(qv_domain_get_block_info(ldom, "vdd", &bi, 0, &err), err);
    cr_assert_eq(bi.capacity, 2ull << 20, "block_resize: %llu", bi.capacity);
    itest_ok(qv_domain_detach_device(dom, hx, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err), err);
    itest_ok(qv_domain_get_xml_description(ldom, 0, &live, &err), err);
    cr_assert_null(strstr(live, "dev='vdd'"), "the detached disk is still in the live XML");
    free(live);

    /* A block copy of vdb, run to ready and pivoted, all remotely. */
    g_autofree char *copy = g_build_filename(root, "copy.qcow2", NULL);
    g_autofree char *dx = g_strdup_printf("<disk type='file'><source file='%s'/>"
                                          "<driver type='qcow2'/></disk>", copy);
    bool ready = false;
    int cb = qv_conn_domain_event_register_any(rc, dom, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                               on_block_job, &ready, &err);
    itest_ok(cb, err);
    qv_block_copy_params bp = { .size = sizeof bp };
    itest_ok(qv_domain_block_copy(dom, "vdb", dx, &bp, 0, &err), err);
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    while (!ready && g_get_monotonic_time() < deadline)
        cr_assert_geq(qv_conn_event_run(rc, 1000, &err), 0);
    cr_assert(ready, "no READY event of the copy through the remote connection");
    itest_ok(qv_conn_domain_event_deregister_any(rc, cb, &err), err);
    qv_block_job_info ji = { 0 };
    cr_assert_eq(qv_domain_get_block_job_info(dom, "vdb", &ji, 0, &err), 1);
    cr_assert(ji.ready);
    cr_assert_eq(ji.type, QV_DOMAIN_BLOCK_JOB_TYPE_COPY);
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    itest_ok(qv_domain_get_xml_description(ldom, 0, &live, &err), err);
    cr_assert(strstr(live, copy), "vdb is not on its copy after the pivot");
    free(live);

    /* Managed save, then a start that restores it. */
    g_free(guest_ok("rg", "echo managed > /tmp/managedmark"));
    itest_ok(qv_domain_managed_save(dom, 0, &err), err);
    cr_assert_eq(qv_domain_has_managed_save_image(ldom, 0, &err), 1);
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 1);
    assert_state(ldom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_SAVED);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    assert_state(ldom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_RESTORED);
    cr_assert_eq(qv_domain_has_managed_save_image(dom, 0, &err), 0);
    g_autofree char *mark = guest_ok("rg", "cat /tmp/managedmark");
    cr_assert_str_eq(mark, "managed", "the managed save did not keep the guest's RAM");
}

Test(remote, one_guest_through_the_remote_connection)
{
    g_clear_pointer(&seen, g_array_unref);
    seen = seen_new();
    g_autoptr(qv_conn) rc = open_remote(RURI);
    g_autoptr(qv_conn) lc = itest_open(&T);
    qv_error *err = NULL;
    int cb = qv_conn_domain_event_register_any(rc, NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                               on_lifecycle, NULL, &err);
    itest_ok(cb, err);
    cr_assert_geq(qv_conn_event_get_fd(rc, &err), 0);

    g_autofree char *img = g_build_filename(T.root, "disk.qcow2", NULL);
    const char *mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", img, "16M", NULL };
    int st = -1;
    cr_assert(g_spawn_sync(NULL, (char **)mk, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                           &st, NULL) && g_spawn_check_wait_status(st, NULL), "qemu-img create");
    /* A raw disk with a known pattern at 64 KiB, for block_peek. */
    g_autofree char *raw = g_build_filename(T.root, "raw.img", NULL);
    g_autofree char *rawdata = g_malloc0(1 << 20);
    memcpy(rawdata + 65536, "qvirt-peek-pattern", 18);
    cr_assert(g_file_set_contents(raw, rawdata, 1 << 20, NULL));
    g_autofree char *extra = g_strdup_printf(
        "    <serial type='pty'><target port='1'/></serial>\n"
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vdb' bus='virtio'/></disk>\n"
        "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='vdc' bus='virtio'/><readonly/></disk>\n"
        "    <graphics type='vnc' autoport='yes'><listen type='address' address='127.0.0.1'/>"
        "</graphics>\n"
        "    <video><model type='vga'/></video>\n", img, raw);
    g_autofree char *xml = itest_domain_xml(&T, "rg", extra);
    qv_domain *d = NULL;
    itest_ok(qv_conn_define_domain(rc, xml, 0, &d, &err), err);
    g_autoptr(qv_domain) dom = d;
    wait_event(rc, "rg", QV_DOMAIN_EVENT_DEFINED, QV_DOMAIN_EVENT_DEFINED_ADDED);
    d = NULL;
    itest_ok(qv_conn_get_domain_by_name(lc, "rg", &d, &err), err);
    g_autoptr(qv_domain) ldom = d;

    itest_ok(qv_domain_create(dom, 0, &err), err);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", BOOT_MS), "the guest did not boot");

    /* State, info, ids: the remote connection says what the local one does. */
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    int id = qv_domain_get_id(dom);
    cr_assert_gt(id, 0);
    cr_assert_eq(id, qv_domain_get_id(ldom));
    d = NULL;
    itest_ok(qv_conn_get_domain_by_id(rc, id, &d, &err), err);
    cr_assert_str_eq(qv_domain_get_name(d), "rg");
    qv_domain_free(d);
    qv_domain_info ri, li;
    itest_ok(qv_domain_get_info(dom, &ri, &err), err);
    itest_ok(qv_domain_get_info(ldom, &li, &err), err);
    cr_assert_eq(ri.state, li.state);
    cr_assert_eq(ri.max_mem, li.max_mem);
    cr_assert_eq(ri.nr_virt_cpu, 1);
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_OK);
    qv_domain **list = NULL;
    int n = qv_conn_list_all_domains(rc, QV_CONNECT_LIST_DOMAINS_ACTIVE |
                                             QV_CONNECT_LIST_DOMAINS_RUNNING, &list, &err);
    cr_assert_eq(n, 1, "active and running: %d", n);
    qv_domain_list_free(list);

    /* Suspend and resume: the local connection sees them, events come. */
    itest_ok(qv_domain_suspend(dom, &err), err);
    assert_state(ldom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED);
    itest_ok(qv_domain_resume(dom, &err), err);
    assert_state(ldom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_UNPAUSED);

    /* The hand-written calls: caller-sized arrays. */
    qv_memory_stat ms[QV_DOMAIN_MEMORY_STAT_NR];
    n = qv_domain_memory_stats(dom, ms, QV_DOMAIN_MEMORY_STAT_NR, 0, &err);
    itest_ok(n, err);
    bool actual = false;
    for (int i = 0; i < n; i++)
        if (ms[i].tag == QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON)
            actual = ms[i].val == 256 * 1024;
    cr_assert(actual, "no balloon size of 256 MiB among %d memory stats", n);
    qv_vcpu_info vi[4];
    n = qv_domain_get_vcpu_info(dom, vi, 4, NULL, 0, 0, &err);
    cr_assert_eq(n, 1, "vcpu info: %d (%s)", n, err ? qv_error_message(err) : "");
    cr_assert_eq(vi[0].number, 0u);
    cr_assert_gt(vi[0].cpu_time, 0ull);
    qv_block_info bi;
    itest_ok(qv_domain_get_block_info(dom, "vdb", &bi, 0, &err), err);
    cr_assert_eq(bi.capacity, 16ull << 20);
    qv_block_stats bs;
    itest_ok(qv_domain_block_stats(dom, "vdb", &bs, 0, &err), err);
    cr_assert_gt(bs.rd_req, 0, "the guest's probe of vdb read nothing");

    console_round_trip(dom);
    channel_round_trip(dom);
    qmp_error(dom, ldom);
    hand_written_calls(rc, lc, dom, ldom);
    snapshots(dom, ldom);
    g_autofree char *droot = g_build_filename(T.root, "dst", NULL);
    cr_assert_eq(mkdir(droot, 0700), 0);
    g_autofree char *druri = cli_fake_ssh(T.root, droot);
    g_autoptr(qv_conn) drc = open_remote(druri);
    migration_aborted_from_another_thread(rc, dom, drc);
    generated_calls(dom, ldom);
    devices_jobs_and_managed_save(rc, dom, ldom, T.root);

    /* Save and restore through the remote connection: the same guest. */
    g_free(guest_ok("rg", "echo saved-in-ram > /tmp/savemark"));
    g_autofree char *saved = g_build_filename(T.root, "rg.save", NULL);
    itest_ok(qv_domain_save(dom, saved, NULL, 0, &err), err);
    assert_state(ldom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_SAVED);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_SAVED);
    itest_ok(qv_conn_restore_domain(rc, saved, NULL, 0, &err), err);
    assert_state(ldom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_RESTORED);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_RESTORED);
    g_autofree char *mark = guest_ok("rg", "cat /tmp/savemark");
    cr_assert_str_eq(mark, "saved-in-ram");

    /* A live migration between two remote connections of one host (its
     * remote-serve runs it, with the destination's local URI), and back. */
    qv_domain *moved = NULL;
    itest_ok(qv_domain_migrate(dom, drc, NULL, QV_MIGRATE_LIVE, &moved, &err), err);
    cr_assert_not_null(moved, "no handle of the migrated domain");
    assert_state(moved, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    assert_state(ldom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_MIGRATED);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_MIGRATED);
    itest far = T;
    far.root = droot;
    g_autoptr(qv_qmp) fga = itest_agent_open(&far, "rg");
    int fcode;
    g_autofree char *fmark = itest_guest_run(fga, "cat /tmp/savemark", &fcode);
    cr_assert_str_eq(g_strchomp(fmark), "saved-in-ram", "not the same guest at the destination");
    qv_qmp_free(g_steal_pointer(&fga));
    qv_domain *back = NULL;
    itest_ok(qv_domain_migrate(moved, rc, NULL, QV_MIGRATE_LIVE, &back, &err), err);
    qv_domain_free(back);
    qv_domain_free(moved);
    assert_state(ldom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    qv_conn_close(g_steal_pointer(&drc));

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    assert_state(ldom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_DESTROYED);
    wait_event(rc, "rg", QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_DESTROYED);

    /* START_AUTODESTROY through a second remote connection: closing it
     * destroys the domain, and ends its remote-serve. */
    int before = cli_remote_serves(T.root);
    g_autoptr(qv_conn) rc2 = open_remote(RURI);
    cr_assert_eq(cli_remote_serves(T.root), before + 1);
    d = NULL;
    itest_ok(qv_conn_get_domain_by_name(rc2, "rg", &d, &err), err);
    itest_ok(qv_domain_create(d, QV_DOMAIN_START_AUTODESTROY, &err), err);
    qv_domain_free(d);
    assert_state(ldom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    qv_conn_close(g_steal_pointer(&rc2));
    /* As with a local connection, the domain is gone when close returns. */
    int state = -1, reason = -1;
    itest_ok(qv_domain_get_state(ldom, &state, &reason, &err), err);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "still running after its remote connection closed");
    cr_assert_eq(reason, QV_DOMAIN_SHUTOFF_DESTROYED);

    itest_ok(qv_conn_domain_event_deregister_any(rc, cb, &err), err);
    qv_domain_free(g_steal_pointer(&dom));
    qv_conn_close(g_steal_pointer(&rc));
    cr_assert(wait_no_remote_serve(WAIT_MS), "remote-serve outlived its connections");
}

/* ---- a real ssh, to an sshd in another network namespace ------------------- */

Test(remote, real_ssh_between_network_namespaces)
{
    itest_netns_up(&T, &N);
    g_setenv("PATH", PATH0, TRUE); /* the real ssh */
    int fake_runs = cli_fake_ssh_runs(T.root);
    g_autofree char *rroot = g_build_filename(T.root, "far", NULL);
    cr_assert_eq(mkdir(rroot, 0700), 0);
    itest far = T;
    far.root = rroot;
    g_autofree char *uri = itest_netns_uri(&N, rroot, NULL);
    g_clear_pointer(&seen, g_array_unref);
    seen = seen_new();
    g_autoptr(qv_conn) rc = open_remote(uri);
    qv_error *err = NULL;
    itest_ok(qv_conn_domain_event_register_any(rc, NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                               on_lifecycle, NULL, &err), err);
    cr_assert_geq(qv_conn_event_get_fd(rc, &err), 0);
    g_autofree char *xml = itest_domain_xml(&T, "far", "    <serial type='pty'><target port='1'/>"
                                                       "</serial>\n");
    qv_domain *d = NULL;
    itest_ok(qv_conn_define_domain(rc, xml, 0, &d, &err), err);
    g_autoptr(qv_domain) dom = d;
    itest_ok(qv_domain_create(dom, 0, &err), err);
    wait_event(rc, "far", QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", BOOT_MS), "the guest did not boot");
    /* Its QEMU runs in the other namespace: this was no local call. */
    long long qemu = itest_status_field(&far, "far", "qemu_pid");
    g_autofree char *mine = g_file_read_link("/proc/self/ns/net", NULL);
    g_autofree char *ns_path = g_strdup_printf("/proc/%lld/ns/net", qemu);
    g_autofree char *theirs = g_file_read_link(ns_path, NULL);
    cr_assert_gt(qemu, 0, "no QEMU pid in the remote domain's status.json");
    cr_assert_not_null(theirs, "cannot read %s", ns_path);
    cr_assert_str_neq(mine, theirs, "the remote QEMU (%lld) shares this namespace", qemu);
    /* The console over ssh: the guest writes, we read. */
    int fd = -1;
    itest_ok(qv_domain_open_console(dom, "serial1", &fd, 0, &err), err);
    g_autoptr(qv_qmp) ga = itest_agent_open(&far, "far");
    int code;
    g_autofree char *o = itest_guest_run(ga, "stty -F /dev/ttyS1 raw -echo && "
                                             "echo across-namespaces > /dev/ttyS1", &code);
    cr_assert_eq(code, 0, "%s", o);
    g_autoptr(GString) buf = g_string_new(NULL);
    read_until(fd, buf, "across-namespaces", WAIT_MS);
    close(fd);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    wait_event(rc, "far", QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_DESTROYED);
    /* START_AUTODESTROY through a second connection: gone once its close
     * returns, over a real ssh too. */
    g_autoptr(qv_conn) rc2 = open_remote(uri);
    d = NULL;
    itest_ok(qv_conn_get_domain_by_name(rc2, "far", &d, &err), err);
    itest_ok(qv_domain_create(d, QV_DOMAIN_START_AUTODESTROY, &err), err);
    qv_domain_free(d);
    wait_event(rc, "far", QV_DOMAIN_EVENT_STARTED, QV_DOMAIN_EVENT_STARTED_BOOTED);
    qv_conn_close(g_steal_pointer(&rc2));
    int state = -1;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_SHUTOFF, "still running after its connection closed");
    wait_event(rc, "far", QV_DOMAIN_EVENT_STOPPED, QV_DOMAIN_EVENT_STOPPED_DESTROYED);
    itest_ok(qv_domain_undefine(dom, 0, &err), err);
    wait_event(rc, "far", QV_DOMAIN_EVENT_UNDEFINED, QV_DOMAIN_EVENT_UNDEFINED_REMOVED);
    qv_domain_free(g_steal_pointer(&dom));
    qv_conn_close(g_steal_pointer(&rc));
    cr_assert(wait_no_remote_serve(WAIT_MS), "remote-serve outlived its connection");
    cr_assert_eq(cli_fake_ssh_runs(T.root), fake_runs, "the fake ssh ran, not the real one");
}
