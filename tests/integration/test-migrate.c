/* Live migration against real QEMU and the test guest, between two
 * connections on this host (two embed roots: the test's, and "dst" inside
 * it). The guest runs a counter and keeps a marker in RAM, so a domain
 * that comes up on the destination with the marker and a counter that
 * carries on is the same guest, moved, not a new boot. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "leftovers.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static itest D;   /* the destination: root T.root/dst */
static void netns_teardown(void);
static void uffd_restore(void);

static void setup(void)
{
    itest_setup(&T);
    D = T;
    D.root = g_build_filename(T.root, "dst", NULL);
    cr_assert_eq(mkdir(D.root, 0700), 0);
    D.uri = g_strdup_printf("qvirt:///embed?root=%s", D.root);
    D.console = g_strdup(T.console);
    D.kernel = g_strdup(T.kernel);
    D.initrd = g_strdup(T.initrd);
}

static void teardown(void)
{
    /* What a failed test left running at the destination, then T's. */
    qvt_kill_leftovers(D.root);
    g_autofree char *cgroups_left = D.root ? qvt_cgroup_leftovers(D.root) : NULL;
    netns_teardown();
    uffd_restore();
    g_free(D.root);
    g_free(D.uri);
    g_free(D.console);
    g_free(D.kernel);
    g_free(D.initrd);
    itest_teardown(&T);
    itest_fini_fail_on_cgroups(cgroups_left);
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 400);

#define BOOT_MS 90000

static qv_domain *boot_counting(qv_conn *conn, const char *name, const char *extra)
{
    g_autofree char *xml = itest_domain_xml(&T, name, extra);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", BOOT_MS), "the guest did not boot");
    g_autoptr(qv_qmp) ga = itest_agent_open(&T, name);
    int code;
    g_autofree char *out = itest_guest_run(ga,
        "echo here-before-migration > /tmp/marker; "
        "(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.new; "
        "mv /tmp/counter.new /tmp/counter; sleep 0.05; done) </dev/null >/dev/null 2>&1 &", &code);
    cr_assert_eq(code, 0);
    return dom;
}

static long read_counter(const itest *t, const char *name)
{
    g_autoptr(qv_qmp) ga = itest_agent_open(t, name);
    int code;
    g_autofree char *out = itest_guest_run(ga, "cat /tmp/counter", &code);
    cr_assert_eq(code, 0, "no counter in the guest");
    return strtol(out, NULL, 10);
}

/* The guest under t's root is the one that was migrated: its marker is
 * there and its counter goes on from at least `from`. */
static long assert_same_guest_counting(const itest *t, const char *name, long from)
{
    qv_qmp *ga = itest_agent_open(t, name);
    int code;
    g_autofree char *marker = itest_guest_run(ga, "cat /tmp/marker", &code);
    qv_qmp_free(ga);
    cr_assert_eq(code, 0, "the marker is gone: the guest booted anew");
    cr_assert_str_eq(g_strstrip(marker), "here-before-migration");
    long now = read_counter(t, name);
    cr_assert_geq(now, from, "the counter went back: %ld < %ld", now, from);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    long later;
    while ((later = read_counter(t, name)) <= now)
        cr_assert_lt(g_get_monotonic_time(), deadline, "the counter stopped at %ld", now);
    return later;
}

static void assert_state(qv_domain *dom, int want_state, int want_reason)
{
    int state = -1, reason = -1;
    qv_error *err = NULL;
    itest_ok(qv_domain_get_state(dom, &state, &reason, &err), err);
    cr_assert_eq(state, want_state, "state %d (reason %d), expected %d", state, reason, want_state);
    cr_assert_eq(reason, want_reason, "reason %d, expected %d (state %d)", reason, want_reason,
                 state);
}

static bool journal_has(const itest *t, const char *name, int event_id, int event, int detail)
{
    g_autofree char *path = g_build_filename(t->root, "run", "events", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        json_object *o = json_tokener_parse(*l), *v;
        bool hit = o && json_object_object_get_ex(o, "domain", &v) &&
                   !strcmp(json_object_get_string(v), name) &&
                   json_object_object_get_ex(o, "event_id", &v) && json_object_get_int(v) == event_id &&
                   (event < 0 || (json_object_object_get_ex(o, "event", &v) &&
                                  json_object_get_int(v) == event)) &&
                   (detail < 0 || (json_object_object_get_ex(o, "detail", &v) &&
                                   json_object_get_int(v) == detail));
        json_object_put(o);
        if (hit)
            return true;
    }
    return false;
}

/* No domain of that name runs or is defined at the destination, and no
 * QEMU was left there. */
static void assert_nothing_at(const itest *t, qv_conn *conn, const char *name)
{
    qv_domain *d = NULL;
    qv_error *err = NULL;
    if (qv_conn_get_domain_by_name(conn, name, &d, &err) == 0) {
        int active = qv_domain_is_active(d, NULL);
        qv_domain_free(d);
        cr_assert_eq(active, 0, "domain '%s' runs at the destination", name);
    }
    qv_error_free(err);
    g_autofree char *status = g_build_filename(t->root, "run", "domains", name, "status.json",
                                               NULL);
    cr_assert(!g_file_test(status, G_FILE_TEST_EXISTS), "a run of '%s' stayed at %s", name,
              t->root);
}

Test(migrate, live_to_other_root_and_back_over_tcp)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mg", NULL);
    long before = read_counter(&T, "mg");
    qv_error *err = NULL;

    qv_domain *ddom_raw = NULL;
    itest_ok(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_LIVE | QV_MIGRATE_PEER2PEER, &ddom_raw,
                               &err), err);
    g_autoptr(qv_domain) ddom = ddom_raw;
    cr_assert_not_null(ddom);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_MIGRATED);
    assert_state(ddom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    /* Without PERSIST_DEST the destination's domain is transient; the
     * source keeps its config. */
    cr_assert_eq(qv_domain_is_persistent(ddom, &err), 0);
    cr_assert_eq(qv_domain_is_persistent(dom, &err), 1);
    long moved = assert_same_guest_counting(&D, "mg", before);

    cr_assert(journal_has(&T, "mg", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_SUSPENDED,
                          QV_DOMAIN_EVENT_SUSPENDED_MIGRATED), "no SUSPENDED MIGRATED at the source");
    cr_assert(journal_has(&T, "mg", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STOPPED,
                          QV_DOMAIN_EVENT_STOPPED_MIGRATED), "no STOPPED MIGRATED at the source");
    cr_assert(journal_has(&D, "mg", QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_STARTED,
                          QV_DOMAIN_EVENT_STARTED_MIGRATED), "no STARTED MIGRATED at the destination");
    cr_assert(journal_has(&T, "mg", QV_DOMAIN_EVENT_ID_JOB_COMPLETED, -1, -1),
              "no JOB_COMPLETED at the source");
    cr_assert(journal_has(&T, "mg", QV_DOMAIN_EVENT_ID_MIGRATION_ITERATION, -1, -1),
              "no MIGRATION_ITERATION at the source");
    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_COMPLETED);
    cr_assert_eq(st.operation, QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
    cr_assert(st.fields & QV_DOMAIN_JOB_FIELD_MEMORY_TOTAL);
    cr_assert_gt(st.memory_total, 0);
    cr_assert(st.fields & QV_DOMAIN_JOB_FIELD_DOWNTIME, "no downtime in the completed stats");
    cr_assert_gt(st.downtime, 0, "a downtime of 0 ms: read before QEMU set it");

    /* Back over an explicit tcp:// URI, to the source's connection URI, and
     * this time persistently, undefining it at the (now) source. */
    qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_URI,
                            .uri = "tcp://127.0.0.1" };
    itest_ok(qv_domain_migrate_to_uri(ddom, T.uri, &p,
                                      QV_MIGRATE_LIVE | QV_MIGRATE_PERSIST_DEST |
                                      QV_MIGRATE_UNDEFINE_SOURCE, &err), err);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    assert_same_guest_counting(&T, "mg", moved);
    cr_assert_eq(qv_domain_is_persistent(dom, &err), 1);
    assert_nothing_at(&D, dst, "mg");
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* A migration run in a thread of its own (its own connections), so the test
 * can look at and abort it meanwhile. */
typedef struct bg_migration {
    const char *src_uri, *dst_uri, *name;
    unsigned long long bandwidth;
    unsigned int flags;   /* besides LIVE */
    int result;
    char *error;
} bg_migration;

static gpointer bg_migrate(gpointer data)
{
    bg_migration *b = data;
    qv_conn *src = NULL, *dst = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    b->result = qv_conn_open(b->src_uri, &src, &err);
    if (b->result == 0)
        b->result = qv_conn_open(b->dst_uri, &dst, &err);
    if (b->result == 0)
        b->result = qv_conn_get_domain_by_name(src, b->name, &dom, &err);
    if (b->result == 0) {
        qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_BANDWIDTH,
                                .bandwidth = b->bandwidth };
        b->result = qv_domain_migrate(dom, dst, &p, QV_MIGRATE_LIVE | b->flags, NULL, &err);
    }
    b->error = g_strdup(err ? qv_error_message(err) : "");
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(dst);
    qv_conn_close(src);
    return NULL;
}

/* Waits (inotify, with a deadline) until path exists, watching the
 * deepest folder of it that exists as the rest appears. */
static bool wait_path(const char *path, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return true;
        g_autofree char *dir = g_path_get_dirname(path);
        while (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
            char *up = g_path_get_dirname(dir);
            g_free(dir);
            dir = up;
        }
        int fd = inotify_init1(IN_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_geq(inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO), 0);
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        bool woke = !g_file_test(path, G_FILE_TEST_EXISTS) && left > 0 && poll(&pfd, 1, left) > 0;
        close(fd);
        if (!woke && !g_file_test(path, G_FILE_TEST_EXISTS))
            return false;
    }
}

/* Waits until the domain's migration moves guest memory, as another
 * handle sees it. QEMU's progress reaches a second process only through
 * its answers, so this asks again every 50 ms up to a deadline. */
static void wait_for_job(qv_domain *dom, const bg_migration *b)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    for (;;) {
        qv_domain_job_stats st = { .size = sizeof st };
        qv_error *err = NULL;
        int r = qv_domain_get_job_stats(dom, &st, 0, &err);
        g_autofree char *why = g_strdup(err ? qv_error_message(err) : "");
        qv_error_free(err);
        if (r == 0 && st.type == QV_DOMAIN_JOB_UNBOUNDED && st.memory_processed > 0) {
            cr_assert_eq(st.operation, QV_DOMAIN_JOB_OPERATION_MIGRATION_OUT);
            return;
        }
        cr_assert_lt(g_get_monotonic_time(), deadline, "the migration job never showed (%d, "
                     "type %d, %llu bytes, %s; migrate: %d %s)", r, st.type, st.memory_processed,
                     why, b->result, b->error ? b->error : "running");
        poll(NULL, 0, 50);
    }
}

Test(migrate, aborted_slow_migration_leaves_source_running)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mab", NULL);
    long before = read_counter(&T, "mab");
    bg_migration b = { .src_uri = T.uri, .dst_uri = D.uri, .name = "mab", .bandwidth = 1,
                       .result = 1 };
    GThread *th = g_thread_new("migrate", bg_migrate, &b);
    /* From the moment the job is recorded: an abort then may come before
     * QEMU's migration has begun (the marker stops it there). */
    g_autofree char *record = g_build_filename(T.root, "run", "domains", "mab", "job", NULL);
    cr_assert(wait_path(record, 60000), "the migration job was never recorded");
    qv_error *err = NULL;
    /* domjobinfo from "another shell": the running job is visible. */
    int status;
    g_autofree char *info = ITEST_CLI(&T, &status, "domjobinfo", "mab");
    cr_assert_eq(status, 0, "%s", info);
    cr_assert(strstr(info, "Unbounded"), "%s", info);
    cr_assert(strstr(info, "Outgoing migration"), "%s", info);
    qv_domain_control_info ci;
    itest_ok(qv_domain_get_control_info(dom, &ci, 0, &err), err);
    cr_assert_eq(ci.state, QV_DOMAIN_CONTROL_JOB, "control state %d during a migration", ci.state);
    itest_ok(qv_domain_abort_job(dom, 0, &err), err);
    g_thread_join(th);
    cr_assert_eq(b.result, -ECANCELED, "migrate returned %d: %s", b.result, b.error);
    cr_assert(strstr(b.error, "aborted"), "%s", b.error);
    g_free(b.error);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    assert_same_guest_counting(&T, "mab", before);
    assert_nothing_at(&D, dst, "mab");
    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_CANCELLED);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

Test(migrate, killed_destination_qemu_leaves_source_running)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mkd", NULL);
    long before = read_counter(&T, "mkd");
    bg_migration b = { .src_uri = T.uri, .dst_uri = D.uri, .name = "mkd", .bandwidth = 1,
                       .result = 1 };
    GThread *th = g_thread_new("migrate", bg_migrate, &b);
    wait_for_job(dom, &b);
    long long qemu = itest_status_field(&D, "mkd", "qemu_pid");
    cr_assert_gt(qemu, 0, "no destination QEMU");
    cr_assert_eq(kill((pid_t)qemu, SIGKILL), 0);
    g_thread_join(th);
    cr_assert_lt(b.result, 0, "the migration succeeded without its destination");
    g_free(b.error);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    assert_same_guest_counting(&T, "mkd", before);
    cr_assert(itest_wait_pid_gone((pid_t)qemu, 10000));
    assert_nothing_at(&D, dst, "mkd");
    qv_error *err = NULL;
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* Post-copy needs userfaultfd for QEMU's unprivileged user: the sysctl's
 * value before the test turned it on, to put back. */
#define UFFD_SYSCTL "/proc/sys/vm/unprivileged_userfaultfd"
static char *uffd_saved;

/* A /proc file is written in place (g_file_set_contents renames). */
static bool write_proc(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(value, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void uffd_restore(void)
{
    if (uffd_saved)
        write_proc(UFFD_SYSCTL, uffd_saved);
    g_clear_pointer(&uffd_saved, g_free);
}

Test(migrate, compressed_auto_converge_switched_to_post_copy)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mpc", NULL);
    qv_error *err = NULL;
    g_autofree char *uffd = NULL;
    if (g_file_get_contents(UFFD_SYSCTL, &uffd, NULL, NULL) && uffd[0] == '0') {
        /* Refused in one sentence that says what to change; the source
         * runs on. */
        cr_assert_eq(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_LIVE | QV_MIGRATE_POSTCOPY, NULL,
                                       &err), -ENOTSUP);
        cr_assert(strstr(qv_error_message(err), "vm.unprivileged_userfaultfd"), "%s",
                  qv_error_message(err));
        qv_error_free(err);
        err = NULL;
        assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
        assert_nothing_at(&D, dst, "mpc");
        if (geteuid() != 0)
            cr_skip_test("post-copy needs %s set to 1 (root can)", UFFD_SYSCTL);
        uffd_saved = g_steal_pointer(&uffd);
        cr_assert(write_proc(UFFD_SYSCTL, "1"), "cannot write %s", UFFD_SYSCTL);
    }
    long before = read_counter(&T, "mpc");
    bg_migration b = { .src_uri = T.uri, .dst_uri = D.uri, .name = "mpc", .bandwidth = 2,
                       .result = 1, .flags = QV_MIGRATE_COMPRESSED | QV_MIGRATE_AUTO_CONVERGE |
                                             QV_MIGRATE_POSTCOPY };
    GThread *th = g_thread_new("migrate", bg_migrate, &b);
    wait_for_job(dom, &b);
    /* At 2 MiB/s the guest's memory takes minutes: post-copy moves the
     * guest now and pulls the rest on demand. */
    itest_ok(qv_domain_migrate_start_post_copy(dom, 0, &err), err);
    g_thread_join(th);
    cr_assert_eq(b.result, 0, "migrate returned %d: %s", b.result, b.error);
    g_free(b.error);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_MIGRATED);
    assert_same_guest_counting(&D, "mpc", before);
    qv_domain_job_stats st = { .size = sizeof st };
    itest_ok(qv_domain_get_job_stats(dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err), err);
    cr_assert_eq(st.type, QV_DOMAIN_JOB_COMPLETED);
    cr_assert(st.fields & QV_DOMAIN_JOB_FIELD_COMPRESSION_CACHE, "no XBZRLE figures");
    cr_assert_gt(st.compression_cache, 0);
    cr_assert(st.fields & QV_DOMAIN_JOB_FIELD_MEMORY_POSTCOPY_REQS, "no post-copy figures");
    /* An older caller's smaller struct gets what fits, nothing past it. */
    qv_domain_job_stats small;
    memset(&small, 0xab, sizeof small);
    small.size = QV_DOMAIN_JOB_STATS_SIZE_V1;
    itest_ok(qv_domain_get_job_stats(dom, &small, 0, &err), err);
    cr_assert_eq(small.size, QV_DOMAIN_JOB_STATS_SIZE_V1);
    cr_assert_eq(small.disk_total, 0xababababababababULL, "a V1 caller's struct was overrun");
    g_autoptr(qv_domain) ddom = NULL;
    itest_ok(qv_conn_get_domain_by_name(dst, "mpc", &ddom, &err), err);
    itest_ok(qv_domain_destroy(ddom, 0, &err), err);
}

/* A caller killed in the middle of a migration: the next call on the
 * source recovers it (the migration cancelled, the source running as it
 * was, the job recorded failed), the destination's unfinished start is
 * undone by its supervisor, and the domain migrates again. */
Test(migrate, caller_killed_mid_migration)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mck", NULL);
    long before = read_counter(&T, "mck");
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        qv_conn *c1 = NULL, *c2 = NULL;
        qv_domain *d = NULL;
        qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_BANDWIDTH,
                                .bandwidth = 1 };
        if (qv_conn_open(T.uri, &c1, NULL) < 0 || qv_conn_open(D.uri, &c2, NULL) < 0 ||
            qv_conn_get_domain_by_name(c1, "mck", &d, NULL) < 0)
            _exit(3);
        _exit(qv_domain_migrate(d, c2, &p, QV_MIGRATE_LIVE, NULL, NULL) < 0 ? 1 : 0);
    }
    bg_migration none = { .result = 1 };
    wait_for_job(dom, &none);
    cr_assert_eq(kill(child, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFSIGNALED(status), "the migrating child ended by itself (status %d)", status);

    qv_error *err = NULL;
    qv_domain *ddom_raw = NULL;
    itest_ok(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_LIVE, &ddom_raw, &err), err);
    g_autoptr(qv_domain) ddom = ddom_raw;
    assert_state(ddom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    assert_same_guest_counting(&D, "mck", before);
    /* The dead caller's job ended failed before the second one ran. */
    cr_assert(journal_has(&T, "mck", QV_DOMAIN_EVENT_ID_JOB_COMPLETED, -1, -1));
    itest_ok(qv_domain_destroy(ddom, 0, &err), err);
}

static void run_ok(const char *const *argv)
{
    g_autofree char *out = NULL, *errs = NULL;
    int status = -1;
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                           &errs, &status, NULL));
    cr_assert(g_spawn_check_wait_status(status, NULL), "%s failed: %s", argv[0], errs);
}

Test(migrate, copy_storage_all_leaves_identical_disk)
{
    g_autofree char *img = g_build_filename(T.root, "disk.qcow2", NULL);
    g_autofree char *dimg = g_build_filename(D.root, "disk.qcow2", NULL);
    run_ok((const char *const[]){ "qemu-img", "create", "-q", "-f", "qcow2", img, "64M", NULL });
    g_autofree char *extra = g_strdup_printf(
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vda' bus='virtio'/></disk>\n", img);
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "mst", extra);
    qv_error *err = NULL;
    /* Data the copy must carry: written by the guest, flushed. */
    {
        g_autoptr(qv_qmp) ga = itest_agent_open(&T, "mst");
        int code;
        g_autofree char *o = itest_guest_run(ga,
            "for i in 1 2 3 4 5 6 7 8; do echo block-$i-of-the-source; done > /tmp/pattern; "
            "dd if=/tmp/pattern of=/dev/vda bs=4096 seek=100 conv=fsync 2>&1", &code);
        cr_assert_eq(code, 0, "%s", o);
    }
    long before = read_counter(&T, "mst");
    /* The same host: the destination XML puts the disk elsewhere. */
    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_MIGRATABLE, &xml, &err), err);
    g_autoptr(GString) dxml = g_string_new(xml);
    free(xml);
    g_string_replace(dxml, img, dimg, 0);
    qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_DEST_XML,
                            .dest_xml = dxml->str };
    qv_domain *ddom_raw = NULL;
    itest_ok(qv_domain_migrate(dom, dst, &p, QV_MIGRATE_LIVE | QV_MIGRATE_NON_SHARED_DISK,
                               &ddom_raw, &err), err);
    g_autoptr(qv_domain) ddom = ddom_raw;
    assert_state(ddom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    assert_same_guest_counting(&D, "mst", before);
    cr_assert(g_file_test(dimg, G_FILE_TEST_EXISTS), "no image at the destination");
    /* The guest reads its data from the copy, and the images match. */
    {
        g_autoptr(qv_qmp) ga = itest_agent_open(&D, "mst");
        int code;
        g_autofree char *o = itest_guest_run(ga,
            "echo 3 > /proc/sys/vm/drop_caches; "
            "dd if=/dev/vda bs=4096 skip=100 count=1 2>/dev/null | head -n 1", &code);
        cr_assert_eq(code, 0);
        cr_assert_str_eq(g_strstrip(o), "block-1-of-the-source");
    }
    run_ok((const char *const[]){ "qemu-img", "compare", "-q", "-U", img, dimg, NULL });
    itest_ok(qv_domain_destroy(ddom, 0, &err), err);
}

/* --copy-storage-inc: the backing image is on both sides (here: the same
 * file), only the top overlay is copied, onto a new overlay over it. */
Test(migrate, copy_storage_inc_copies_the_top_only)
{
    g_autofree char *base = g_build_filename(T.root, "base.qcow2", NULL);
    g_autofree char *top = g_build_filename(T.root, "top.qcow2", NULL);
    g_autofree char *dtop = g_build_filename(D.root, "top.qcow2", NULL);
    run_ok((const char *const[]){ "qemu-img", "create", "-q", "-f", "qcow2", base, "64M", NULL });
    run_ok((const char *const[]){ "qemu-io", "-c", "write -P 0x5a 0 1M", base, NULL });
    run_ok((const char *const[]){ "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F",
                                  "qcow2", top, NULL });
    g_autofree char *extra = g_strdup_printf(
        "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='%s'/><target dev='vda' bus='virtio'/></disk>\n", top);
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autoptr(qv_domain) dom = boot_counting(src, "msi", extra);
    qv_error *err = NULL;
    {
        g_autoptr(qv_qmp) ga = itest_agent_open(&T, "msi");
        int code;
        g_autofree char *o = itest_guest_run(ga,
            "echo written-in-the-top > /tmp/p; "
            "dd if=/tmp/p of=/dev/vda bs=4096 seek=1024 conv=fsync 2>&1", &code);
        cr_assert_eq(code, 0, "%s", o);
    }
    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_MIGRATABLE, &xml, &err), err);
    g_autoptr(GString) dxml = g_string_new(xml);
    free(xml);
    g_string_replace(dxml, top, dtop, 0);
    qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_DEST_XML,
                            .dest_xml = dxml->str };
    itest_ok(qv_domain_migrate(dom, dst, &p, QV_MIGRATE_LIVE | QV_MIGRATE_NON_SHARED_INC, NULL,
                               &err), err);
    /* The new overlay sits on the same base and holds the guest's write;
     * the base's data still reads through it. */
    g_autofree char *info = NULL;
    int status;
    const char *argv[] = { "qemu-img", "info", "-U", "--output=json", dtop, NULL };
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &info,
                           NULL, &status, NULL));
    cr_assert(strstr(info, base), "the copy has no backing %s: %s", base, info);
    g_autoptr(qv_qmp) ga = itest_agent_open(&D, "msi");
    int code;
    g_autofree char *o = itest_guest_run(ga,
        "echo 3 > /proc/sys/vm/drop_caches; "
        "dd if=/dev/vda bs=4096 skip=1024 count=1 2>/dev/null | head -n 1; "
        "dd if=/dev/vda bs=1 count=4 2>/dev/null | od -An -tx1", &code);
    cr_assert_eq(code, 0);
    cr_assert(strstr(o, "written-in-the-top"), "%s", o);
    cr_assert(strstr(o, "5a 5a 5a 5a"), "the base's data does not read through: %s", o);
    g_autoptr(qv_domain) ddom = NULL;
    itest_ok(qv_conn_get_domain_by_name(dst, "msi", &ddom, &err), err);
    itest_ok(qv_domain_destroy(ddom, 0, &err), err);
}

Test(migrate, offline_moves_the_config)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_conn) dst = itest_open(&D);
    g_autofree char *xml = itest_domain_xml(&T, "moff", NULL);
    qv_domain *dom_raw = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(src, xml, 0, &dom_raw, &err), err);
    g_autoptr(qv_domain) dom = dom_raw;
    /* OFFLINE needs PERSIST_DEST, and TUNNELLED is refused with a reason. */
    cr_assert_eq(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_OFFLINE, NULL, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "persistent"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    cr_assert_eq(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_TUNNELLED, NULL, &err), -ENOTSUP);
    cr_assert(strstr(qv_error_message(err), "tunnelled"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    /* A shut-off domain does not migrate live. */
    cr_assert_eq(qv_domain_migrate(dom, dst, NULL, QV_MIGRATE_LIVE, NULL, &err), -EINVAL);
    qv_error_free(err);
    err = NULL;
    /* Through the positional form, renamed on the way (dname). */
    qv_domain *ddom = NULL;
    itest_ok(qv_domain_migrate2(dom, dst, NULL, QV_MIGRATE_OFFLINE | QV_MIGRATE_PERSIST_DEST |
                                QV_MIGRATE_UNDEFINE_SOURCE, "moff-there", NULL, 0, &ddom, &err),
             err);
    cr_assert_str_eq(qv_domain_get_name(ddom), "moff-there");
    cr_assert_eq(qv_domain_is_persistent(ddom, &err), 1);
    cr_assert_eq(qv_domain_is_active(ddom, &err), 0);
    qv_domain_free(ddom);
    qv_domain *gone = NULL;
    cr_assert_lt(qv_conn_get_domain_by_name(src, "moff", &gone, &err), 0,
                 "the source kept the domain");
    qv_error_free(err);
}

Test(migrate, tunables)
{
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autofree char *xml = itest_domain_xml(&T, "mtu", NULL);
    qv_domain *dom_raw = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(src, xml, 0, &dom_raw, &err), err);
    g_autoptr(qv_domain) dom = dom_raw;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    unsigned long long v = 0;
    itest_ok(qv_domain_migrate_get_max_downtime(dom, &v, 0, &err), err);
    cr_assert_eq(v, 300, "QEMU 7.2's default downtime is 300 ms, got %llu", v);
    itest_ok(qv_domain_migrate_set_max_downtime(dom, 1234, 0, &err), err);
    itest_ok(qv_domain_migrate_get_max_downtime(dom, &v, 0, &err), err);
    cr_assert_eq(v, 1234);
    unsigned long bw = 0;
    itest_ok(qv_domain_migrate_get_max_speed(dom, &bw, 0, &err), err);
    cr_assert_eq(bw, 8796093022207UL, "unset speed: libvirt's unlimited, got %lu", bw);
    itest_ok(qv_domain_migrate_set_max_speed(dom, 42, 0, &err), err);
    itest_ok(qv_domain_migrate_set_max_speed(dom, 7, QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY, &err),
             err);
    itest_ok(qv_domain_migrate_get_max_speed(dom, &bw, 0, &err), err);
    cr_assert_eq(bw, 42);
    itest_ok(qv_domain_migrate_get_max_speed(dom, &bw, QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY,
                                             &err), err);
    cr_assert_eq(bw, 7);
    itest_ok(qv_domain_migrate_set_compression_cache(dom, 128ULL << 20, 0, &err), err);
    itest_ok(qv_domain_migrate_get_compression_cache(dom, &v, 0, &err), err);
    cr_assert_eq(v, 128ULL << 20);
    cr_assert_eq(qv_domain_migrate_set_max_downtime(dom, 0, 0, &err), -EINVAL);
    qv_error_free(err);
    err = NULL;
    /* A destination XML that changes what the guest sees is refused
     * before anything starts there. */
    g_autoptr(qv_conn) dst = itest_open(&D);
    char *live = NULL;
    itest_ok(qv_domain_get_xml_description(dom, QV_DOMAIN_XML_MIGRATABLE, &live, &err), err);
    g_autoptr(GString) changed = g_string_new(live);
    free(live);
    cr_assert(g_string_replace(changed, "<vcpu placement='static'>1</vcpu>",
                               "<vcpu placement='static'>2</vcpu>", 1) == 1 ||
              g_string_replace(changed, "<vcpu>1</vcpu>", "<vcpu>2</vcpu>", 1) == 1,
              "no <vcpu> to change in %s", changed->str);
    qv_migrate_params p = { .size = sizeof p, .fields = QV_MIGRATE_FIELD_DEST_XML,
                            .dest_xml = changed->str };
    cr_assert_eq(qv_domain_migrate(dom, dst, &p, QV_MIGRATE_LIVE, NULL, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "vCPU count"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    assert_nothing_at(&D, dst, "mtu");
    int state;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_PAUSED);
    cr_assert_lt(qv_domain_migrate_start_post_copy(dom, 0, &err), 0, "post-copy with no migration");
    cr_assert(strstr(qv_error_message(err), "not being migrated"), "%s", qv_error_message(err));
    qv_error_free(err);
    err = NULL;
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* ---- qvirt+ssh:// between two network namespaces ------------------------- */
/* itest_netns_up makes two network namespaces joined by a veth pair
 * (nothing else: no route out), starts an sshd in the destination's, and
 * runs this process in the source's: the domain boots there, and its
 * migration goes through ssh (qvirt remote-serve on the "remote host") and
 * QEMU's stream over the veth link. */
static itest_netns N;   /* what over_ssh_between_network_namespaces set up */

static void netns_teardown(void)
{
    itest_netns_down(&N);
}

Test(migrate, over_ssh_between_network_namespaces)
{
    itest_netns *ns = &N;
    itest_netns_up(&T, ns);
    g_autoptr(qv_conn) src = itest_open(&T);
    g_autoptr(qv_domain) dom = boot_counting(src, "msh", NULL);
    long before = read_counter(&T, "msh");
    g_autofree char *uri = itest_netns_uri(ns, D.root, NULL);
    qv_error *err = NULL;
    /* A remote side that is not qvirt fails in one sentence, and the
     * source runs on as it was. */
    g_autofree char *bad = itest_netns_uri(ns, D.root, "/bin/false");
    int r = qv_domain_migrate_to_uri(dom, bad, NULL, QV_MIGRATE_LIVE, &err);
    g_autofree char *bad_why = g_strdup(err ? qv_error_message(err) : "");
    qv_error_free(err);
    err = NULL;
    cr_assert_lt(r, 0, "a migration to /bin/false succeeded");
    cr_assert(strstr(bad_why, "went away"), "%s", bad_why);
    assert_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED);
    r = qv_domain_migrate_to_uri(dom, uri, NULL, QV_MIGRATE_LIVE | QV_MIGRATE_PERSIST_DEST,
                                 &err);
    g_autofree char *why = g_strdup(err ? qv_error_message(err) : "");
    qv_error_free(err);
    err = NULL;
    cr_assert_geq(r, 0, "migration over ssh failed: %s", why);
    assert_state(dom, QV_DOMAIN_SHUTOFF, QV_DOMAIN_SHUTOFF_MIGRATED);
    /* The destination's connection is on this filesystem: look at it. */
    g_autoptr(qv_conn) dst = itest_open(&D);
    qv_domain *ddom_raw = NULL;
    itest_ok(qv_conn_get_domain_by_name(dst, "msh", &ddom_raw, &err), err);
    g_autoptr(qv_domain) ddom = ddom_raw;
    assert_state(ddom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_MIGRATED);
    cr_assert_eq(qv_domain_is_persistent(ddom, &err), 1, "PERSIST_DEST stored no config there");
    assert_same_guest_counting(&D, "msh", before);
    /* Its QEMU runs in the destination's namespace: the stream crossed
     * the veth link. */
    long long qemu = itest_status_field(&D, "msh", "qemu_pid");
    g_autofree char *mine = g_file_read_link("/proc/self/ns/net", NULL);
    g_autofree char *ns_path = g_strdup_printf("/proc/%lld/ns/net", qemu);
    g_autofree char *theirs = g_file_read_link(ns_path, NULL);
    cr_assert_str_neq(mine, theirs, "the destination's QEMU shares the source's namespace");
    itest_ok(qv_domain_destroy(ddom, 0, &err), err);
}
