/* Block jobs on real qcow2 chains (made with qemu-img) under a running test
 * guest that writes to the disk: pull, non-active and active commit with a
 * pivot, copy, abort, info and speed, jobs concluded by a second process
 * or by the supervisor once their starter is gone, a copy that runs out of
 * space, and the "not ready for pivot" error. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)

static itest T;
static char *small_mount;
static void setup(void) { itest_setup(&T); }
static void teardown(void)
{
    if (small_mount) {
        const char *argv[] = { "umount", "-l", small_mount, NULL };
        g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    itest_teardown(&T);
}

TestSuite(blockjob, .init = setup, .fini = teardown, .timeout = 300);

#define NOTE(...) (fprintf(stderr, "test-blockjob: note: " __VA_ARGS__), fputc('\n', stderr))
#define MIB (1024ULL * 1024)
#define JOB_WAIT_MS 120000

/* ---- host side ---------------------------------------------------------------- */

static char *host_run(const char *const *argv, int *status)
{
    char *out = NULL, *errs = NULL;
    int st = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errs,
                      &st, NULL))
        st = -1;
    if (status)
        *status = st;
    if (st != 0) {
        char *both = g_strconcat(out ? out : "", errs ? errs : "", NULL);
        g_free(out);
        out = both;
    }
    g_free(errs);
    return out;
}

#define HOST_OK(...)                                                                               \
    ({                                                                                             \
        int st_;                                                                                   \
        char *o_ = host_run((const char *const[]){ __VA_ARGS__, NULL }, &st_);                     \
        cr_assert_eq(st_, 0, "%s failed: %s", #__VA_ARGS__, o_);                                   \
        o_;                                                                                        \
    })

/* A qcow2 image of 32 MiB, over backing (NULL: none). */
static char *image(const char *name, const char *backing)
{
    char *path = g_build_filename(T.root, name, NULL);
    if (backing)
        g_free(HOST_OK("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, path));
    else
        g_free(HOST_OK("qemu-img", "create", "-q", "-f", "qcow2", path, "32M"));
    return path;
}

/* qemu-img info of an image in use (-U), as JSON. */
static json_object *img_info(const char *path)
{
    g_autofree char *out = HOST_OK("qemu-img", "info", "-U", "--output=json", path);
    json_object *o = json_tokener_parse(out);
    cr_assert(o, "qemu-img info: %s", out);
    return o;
}

static const char *backing_of(json_object *info)
{
    return qv_json_get_str(info, "backing-filename");
}

/* The guest-visible bytes at offset of an image (its chain read through). */
static char *img_read(const char *path, unsigned long long off, size_t len)
{
    g_autofree char *cmd = g_strdup_printf("read -v %llu %zu", off, len);
    return HOST_OK("qemu-io", "-U", "-r", "-f", "qcow2", "-c", cmd, path);
}

/* ---- the guest ---------------------------------------------------------------- */

static char *disk_xml_more(const char *path, const char *dev, const char *serial, const char *more)
{
    return g_strdup_printf("    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                           "<source file='%s'/><target dev='%s' bus='virtio'/>"
                           "<serial>%s</serial>%s</disk>\n", path, dev, serial, more);
}

static char *disk_xml(const char *path, const char *dev, const char *serial)
{
    return disk_xml_more(path, dev, serial, "");
}

static qv_domain *start(qv_conn *conn, const char *name, const char *extra)
{
    g_autofree char *xml = itest_domain_xml(&T, name, extra);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_define_domain(conn, xml, 0, &dom, &err), 0, "define: %s",
                 err ? qv_error_message(err) : "?");
    cr_assert_eq(qv_domain_create(dom, 0, &err), 0, "start: %s", err ? qv_error_message(err) : "?");
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 90000), "the guest did not boot");
    return dom;
}

static char *guest_ok(qv_qmp *ga, const char *script)
{
    int code;
    char *out = itest_guest_run(ga, script, &code);
    cr_assert_eq(code, 0, "guest command failed (%d): %s\n%s", code, script, out);
    return g_strchomp(out);
}

static char *guest_disk(qv_qmp *ga, const char *serial)
{
    g_autofree char *script = g_strdup_printf(
        "for d in /sys/block/vd*; do [ \"$(cat $d/serial 2>/dev/null)\" = %s ] && "
        "echo ${d##*/}; done; true", serial);
    char *name = guest_ok(ga, script);
    cr_assert(*name, "the guest has no disk with serial %s", serial);
    return name;
}

/* The guest writes text at offset (MiB) of its disk dev, synchronously. */
static void guest_write(qv_qmp *ga, const char *dev, const char *text, int mib)
{
    g_autofree char *s = g_strdup_printf("printf %s | dd of=/dev/%s bs=1048576 seek=%d "
                                         "conv=notrunc,fsync 2>/dev/null", text, dev, mib);
    g_free(guest_ok(ga, s));
}

/* ---- events ---------------------------------------------------------------------- */

typedef struct seen {
    GPtrArray *lines;   /* JSON of BLOCK_JOB_2 events */
    int block_job;      /* BLOCK_JOB (the path-named one) count */
} seen;

static void on_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    seen *s = opaque;
    if (ev->event_id == QV_DOMAIN_EVENT_ID_BLOCK_JOB_2)
        g_ptr_array_add(s->lines, g_strdup(ev->json));
    else
        s->block_job++;
}

static void listen_jobs(qv_conn *conn, seen *s)
{
    s->lines = g_ptr_array_new_with_free_func(g_free);
    qv_error *err = NULL;
    itest_ok(qv_conn_domain_event_register_any(conn, NULL, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                               on_event, s, &err), err);
    itest_ok(qv_conn_domain_event_register_any(conn, NULL, QV_DOMAIN_EVENT_ID_BLOCK_JOB,
                                               on_event, s, &err), err);
}

/* Waits for a BLOCK_JOB_2 event of disk target with this status; returns
 * it (parsed), or fails the test. Events already seen are consumed. */
static json_object *wait_job_event(qv_conn *conn, seen *s, const char *target, int status)
{
    gint64 deadline = g_get_monotonic_time() + JOB_WAIT_MS * 1000LL;
    qv_error *err = NULL;
    int fd = qv_conn_event_get_fd(conn, &err);
    cr_assert_geq(fd, 0);
    for (;;) {
        while (s->lines->len) {
            json_object *o = json_tokener_parse(s->lines->pdata[0]);
            g_ptr_array_remove_index(s->lines, 0);
            if (!g_strcmp0(qv_json_get_str(o, "disk"), target) &&
                qv_json_get_int(o, "status", -1) == status)
                return o;
            json_object_put(o);
        }
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        cr_assert_gt(left, 0, "no block job event %d for %s in time", status, target);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, (int)MIN(left, 1000));
        cr_assert_geq(qv_conn_event_dispatch(conn, &err), 0);
    }
}

/* The <source file> paths of disk target in the domain's XML (live, or
 * the config with INACTIVE), top first, joined by '>'. */
static char *xml_chain(qv_domain *dom, const char *target, unsigned int flags)
{
    qv_error *err = NULL;
    char *xml = NULL;
    itest_ok(qv_domain_get_xml_description(dom, flags, &xml, &err), err);
    g_autofree char *needle = g_strdup_printf("<target dev='%s'", target);
    char *end = strstr(xml, needle);
    cr_assert(end, "no disk %s in %s", target, xml);
    *end = '\0';
    char *disk = g_strrstr(xml, "<disk ");
    GString *out = g_string_new(NULL);
    for (char *p = disk; (p = strstr(p, "<source file='")); ) {
        p += strlen("<source file='");
        char *q = strchr(p, '\'');
        g_string_append_printf(out, "%s%.*s", out->len ? ">" : "", (int)(q - p), p);
        p = q;
    }
    free(xml);
    return g_string_free(out, FALSE);
}

/* Runs fn in a child process that exits when it returns: a job whose
 * starter is gone. */
static void in_child(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child failed (status %d)", st);
}

typedef struct child_job {
    const char *name, *disk, *base, *top;
    unsigned long bandwidth;
    unsigned int flags;
    int kind;  /* 0 pull, 1 commit, 2 rebase */
} child_job;

static void child_start(void *p)
{
    child_job *cj = p;
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_open(T.uri, &conn, &err);
    if (r >= 0)
        r = qv_conn_get_domain_by_name(conn, cj->name, &dom, &err);
    if (r >= 0)
        r = cj->kind == 0 ? qv_domain_block_pull(dom, cj->disk, cj->bandwidth, cj->flags, &err)
          : cj->kind == 1 ? qv_domain_block_commit(dom, cj->disk, cj->base, cj->top, cj->bandwidth,
                                                   cj->flags, &err)
                          : qv_domain_block_rebase(dom, cj->disk, cj->base, cj->bandwidth, cj->flags, &err);
    if (r < 0) {
        fprintf(stderr, "child: %s\n", qv_error_message(err));
        _exit(1);
    }
    _exit(0); /* no clean-up: the process is simply gone */
}

/* ---- tests ------------------------------------------------------------------------ */

/* base <- mid <- top: a non-active commit of mid into base, then a pull of
 * what is left into top, both started by processes that are gone at once,
 * so the supervisor concludes them. */
Test(blockjob, commit_then_pull_by_supervisor)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("base.qcow2", NULL);
    /* Data in base, for the pull to copy. */
    g_free(HOST_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 4M 8M", base));
    g_autofree char *mid = image("mid.qcow2", base);
    g_autofree char *top = image("top.qcow2", mid);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autoptr(qv_domain) dom = start(conn, "bj-pull", d);
    qv_qmp *ga = itest_agent_open(&T, "bj-pull");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    seen s = { 0 };
    listen_jobs(conn, &s);
    g_autofree char *want3 = g_strdup_printf("%s>%s>%s", top, mid, base);
    g_autofree char *c0 = xml_chain(dom, "vdb", 0);
    cr_assert_str_eq(c0, want3);

    /* The guest's data, in top: it must survive both jobs. */
    guest_write(ga, gdev, "TOPDATA1", 1);
    qv_qmp_free(ga);
    ga = NULL;

    child_job cj = { .name = "bj-pull", .disk = "vdb", .base = base, .top = mid, .kind = 1,
                     .flags = QV_DOMAIN_BLOCK_COMMIT_DELETE | QV_DOMAIN_BLOCK_COMMIT_RELATIVE };
    in_child(child_start, &cj);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *c1 = xml_chain(dom, "vdb", 0);
    g_autofree char *want2 = g_strdup_printf("%s>%s", top, base);
    cr_expect_str_eq(c1, want2, "live chain after the commit");
    g_autoptr(json_object) i1 = img_info(top);
    cr_expect_str_eq(backing_of(i1), "base.qcow2", "top's backing after a RELATIVE commit");
    cr_expect_neq(access(mid, F_OK), 0, "DELETE removes the committed image");
    qv_block_job_info info;
    qv_error *err = NULL;
    cr_expect_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 0);

    /* The pull, crawling at 1 byte/s, outlives its starter and its
     * supervisor (killed): the next call (a new speed) brings a new
     * supervisor, which concludes the job when it ends. */
    child_job pj = { .name = "bj-pull", .disk = "vdb", .kind = 0, .bandwidth = 1,
                     .flags = QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES };
    in_child(child_start, &pj);
    pid_t mon = (pid_t)itest_status_field(&T, "bj-pull", "monitor_pid");
    cr_assert_gt(mon, 0);
    cr_assert_eq(kill(mon, SIGKILL), 0);
    cr_assert(itest_wait_pid_gone(mon, 10000), "the supervisor did not die");
    cr_assert_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 1, "%s",
                 err ? qv_error_message(err) : "no job");
    cr_expect_eq(info.type, QV_DOMAIN_BLOCK_JOB_TYPE_PULL);
    itest_ok(qv_domain_set_block_job_speed(dom, "vdb", 0, 0, &err), err);
    pid_t mon2 = (pid_t)itest_status_field(&T, "bj-pull", "monitor_pid");
    cr_expect_neq(mon2, mon, "no new supervisor");
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *c2 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c2, top, "live chain after the pull");
    g_autoptr(json_object) i2 = img_info(top);
    cr_expect_null(backing_of(i2), "top still has a backing image: %s", backing_of(i2));
    cr_expect_geq(s.block_job, 2, "BLOCK_JOB events beside BLOCK_JOB_2");

    /* The guest still reads and writes its disk; its flush also puts
     * QEMU's cached qcow2 metadata on disk for qemu-io to read. */
    ga = itest_agent_open(&T, "bj-pull");
    guest_write(ga, gdev, "AFTERPULL", 2);
    g_autofree char *pat = HOST_OK("qemu-io", "-U", "-r", "-f", "qcow2", "-c",
                                   "read -P 0x5a 4M 8M", top);
    cr_expect_null(strstr(pat, "Pattern verification failed"), "%s", pat);
    g_autofree char *rd = img_read(top, 1 * MIB, 8);
    cr_expect(strstr(rd, "TOPDATA1"), "the guest's data: %s", rd);
    /* The backing images' nodes are gone from QEMU. */
    g_autofree char *nodes = ITEST_CLI_OK(&T, "qemu-monitor-command", "bj-pull",
                                          "{\"execute\":\"query-named-block-nodes\"}");
    cr_expect(strstr(nodes, "-format"), "no nodes listed: %s", nodes);
    cr_expect(!g_regex_match_simple("-b[0-9]+-(format|storage)", nodes, 0, 0),
              "a backing node remains: %s", nodes);
    g_autofree char *rb = g_strdup_printf("dd if=/dev/%s bs=8 skip=131072 count=1 2>/dev/null", gdev);
    g_autofree char *back = guest_ok(ga, rb);
    cr_expect_str_eq(back, "TOPDATA1");
    qv_qmp_free(ga);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* An active commit started by a process that is gone; another process
 * sees "not ready for pivot" while it crawls, speeds it up, reads its
 * info, and pivots: base then holds the guest's newest writes, and the
 * live and persistent XML name base. */
Test(blockjob, active_commit_pivot_by_another_process)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("abase.qcow2", NULL);
    g_autofree char *top = image("atop.qcow2", base);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autoptr(qv_domain) dom = start(conn, "bj-active", d);
    qv_qmp *ga = itest_agent_open(&T, "bj-active");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    guest_write(ga, gdev, "OLDERWRITE", 1);
    seen s = { 0 };
    listen_jobs(conn, &s);

    /* 1 byte/s: it cannot be ready for a long while. */
    child_job cj = { .name = "bj-active", .disk = "vdb", .bandwidth = 1,
                     .flags = QV_DOMAIN_BLOCK_COMMIT_ACTIVE | QV_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES,
                     .kind = 1 };
    in_child(child_start, &cj);

    g_autoptr(qv_conn) conn2 = itest_open(&T);
    g_autoptr(qv_domain) dom2 = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_get_domain_by_name(conn2, "bj-active", &dom2, &err), err);
    qv_block_job_info info;
    cr_assert_eq(qv_domain_get_block_job_info(dom2, "vdb", &info, QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES, &err), 1,
                 "%s", err ? qv_error_message(err) : "no job");
    cr_expect_eq(info.type, QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT);
    cr_expect_eq(info.bandwidth, 1);
    cr_expect_eq(qv_domain_abort_block_job(dom2, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), -EBUSY);
    cr_expect(err && strstr(qv_error_message(err), "not ready for pivot"), "%s",
              err ? qv_error_message(err) : "no error");
    g_clear_pointer(&err, qv_error_free);
    /* A second job on the disk is refused. */
    cr_expect_eq(qv_domain_block_pull(dom2, "vdb", 0, 0, &err), -EBUSY);
    g_clear_pointer(&err, qv_error_free);

    itest_ok(qv_domain_set_block_job_speed(dom2, "vdb", 0, 0, &err), err);
    cr_assert_eq(qv_domain_get_block_job_info(dom2, "vdb", &info, 0, &err), 1);
    cr_expect_eq(info.bandwidth, 0);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    cr_assert_eq(qv_domain_get_block_job_info(dom2, "vdb", &info, 0, &err), 1);
    cr_expect(info.ready);
    cr_expect_eq(info.cur, info.end);

    /* Written while READY: goes to both, and base keeps it after the pivot. */
    guest_write(ga, gdev, "NEWESTWRITE", 2);
    itest_ok(qv_domain_abort_block_job(dom2, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *live = xml_chain(dom2, "vdb", 0);
    cr_expect_str_eq(live, base, "live chain after the pivot");
    g_autofree char *cfg = xml_chain(dom2, "vdb", QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(cfg, base, "persistent chain after the pivot");
    cr_expect_eq(qv_domain_get_block_job_info(dom2, "vdb", &info, 0, &err), 0);

    /* After the pivot the guest writes to base alone. */
    guest_write(ga, gdev, "AFTERPIVOT", 3);
    qv_qmp_free(ga);
    g_autofree char *r1 = img_read(base, 1 * MIB, 10);
    g_autofree char *r2 = img_read(base, 2 * MIB, 11);
    g_autofree char *r3 = img_read(base, 3 * MIB, 10);
    cr_expect(strstr(r1, "OLDERWRITE"), "%s", r1);
    cr_expect(strstr(r2, "NEWESTWRITE"), "%s", r2);
    cr_expect(strstr(r3, "AFTERPIVOT"), "%s", r3);

    /* A second active commit is possible on the pivoted chain's names:
     * none here (base has no backing), so it is refused clearly. */
    cr_expect_lt(qv_domain_block_commit(dom2, "vdb", NULL, NULL, 0, QV_DOMAIN_BLOCK_COMMIT_ACTIVE, &err), 0);
    g_clear_pointer(&err, qv_error_free);
    itest_ok(qv_domain_destroy(dom2, 0, &err), err);
    /* The next start uses base. */
    itest_ok(qv_domain_create(dom2, 0, &err), err);
    g_autofree char *again = xml_chain(dom2, "vdb", 0);
    cr_expect_str_eq(again, base);
    itest_ok(qv_domain_destroy(dom2, 0, &err), err);
}

/* A SHALLOW commit (top's data into the image right below it, DELETE
 * removing top's file), then qv_domain_block_copy with a destination XML,
 * its typed parameters, SHALLOW and SYNCHRONOUS_WRITES: the copy gets the
 * disk's backing chain, the guest's writes while READY reach it, and the
 * pivot makes it the disk's image. */
Test(blockjob, shallow_commit_and_copy_xml)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("hbase.qcow2", NULL);
    g_autofree char *m1 = image("hm1.qcow2", base);
    g_autofree char *m2 = image("hm2.qcow2", m1);
    g_free(HOST_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 8M 1M", m2));
    g_autofree char *top = image("htop.qcow2", m2);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autoptr(qv_domain) dom = start(conn, "bj-shallow", d);
    qv_qmp *ga = itest_agent_open(&T, "bj-shallow");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    guest_write(ga, gdev, "INTOTOP", 1);
    seen s = { 0 };
    listen_jobs(conn, &s);
    qv_error *err = NULL;

    /* SHALLOW with top m2: merged into m1 (its backing), not into base. */
    itest_ok(qv_domain_block_commit(dom, "vdb", NULL, m2, 0, QV_DOMAIN_BLOCK_COMMIT_SHALLOW |
                                    QV_DOMAIN_BLOCK_COMMIT_DELETE, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *c1 = xml_chain(dom, "vdb", 0);
    g_autofree char *w1 = g_strdup_printf("%s>%s>%s", top, m1, base);
    cr_expect_str_eq(c1, w1);
    cr_expect_not(g_file_test(m2, G_FILE_TEST_EXISTS), "DELETE left %s", m2);
    /* SHALLOW commits into the image right below top, nothing else. */
    cr_expect_eq(qv_domain_block_commit(dom, "vdb", base, top, 0, QV_DOMAIN_BLOCK_COMMIT_SHALLOW |
                                        QV_DOMAIN_BLOCK_COMMIT_ACTIVE, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);

    /* A destination without a source is refused in one sentence. */
    cr_expect_eq(qv_domain_block_copy(dom, "vdb", "<disk type='file'/>", NULL, 0, &err), -EINVAL);
    g_clear_pointer(&err, qv_error_free);
    g_autofree char *copy = g_build_filename(T.root, "hcopy.qcow2", NULL);
    g_autofree char *dx = g_strdup_printf("<disk type='file'><source file='%s'/><driver "
                                          "type='qcow2'/></disk>", copy);
    qv_block_copy_params params = { .size = sizeof params, .granularity = 65536,
                                    .buf_size = 1 << 20 };
    itest_ok(qv_domain_block_copy(dom, "vdb", dx, &params, QV_DOMAIN_BLOCK_COPY_SHALLOW |
                                  QV_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    guest_write(ga, gdev, "WHILEREADY", 3);
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *c2 = xml_chain(dom, "vdb", 0);
    g_autofree char *w2 = g_strdup_printf("%s>%s>%s", copy, m1, base);
    cr_expect_str_eq(c2, w2);
    g_autoptr(json_object) ci = img_info(copy);
    cr_expect_str_eq(backing_of(ci), m1, "a shallow copy is backed by the disk's chain");
    qv_qmp_free(ga);
    g_autofree char *r1 = img_read(copy, 1 * MIB, 7);
    g_autofree char *r3 = img_read(copy, 3 * MIB, 10);
    cr_expect(strstr(r1, "INTOTOP"), "%s", r1);
    cr_expect(strstr(r3, "WHILEREADY"), "%s", r3);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    /* (Read once QEMU has gone: it keeps m1's tables cached until then.) */
    g_autofree char *p44 = HOST_OK("qemu-io", "-r", "-f", "qcow2", "-c", "read -P 0x44 8M 1M", m1);
    cr_expect_null(strstr(p44, "Pattern verification failed"), "m2's data is not in m1: %s", p44);
    g_autofree char *pb = HOST_OK("qemu-io", "-r", "-f", "qcow2", "-c", "read -P 0 8M 1M", base);
    cr_expect_null(strstr(pb, "Pattern verification failed"), "SHALLOW wrote into base: %s", pb);
}

/* A copy (block_rebase COPY) of a two-image chain: an abort drops the copy's
 * nodes, a second copy pivots and matches the original; a copy to a full
 * tmpfs fails with QEMU's text and leaves the chain as it was. */
Test(blockjob, copy_abort_pivot_and_enospc)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("cbase.qcow2", NULL);
    g_autofree char *top = image("ctop.qcow2", base);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autoptr(qv_domain) dom = start(conn, "bj-copy", d);
    qv_qmp *ga = itest_agent_open(&T, "bj-copy");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    guest_write(ga, gdev, "COPYME", 4);
    g_autofree char *rnd = g_strdup_printf("dd if=/dev/urandom of=/dev/%s bs=1048576 seek=8 count=8 "
                                           "conv=fsync 2>/dev/null", gdev);
    g_free(guest_ok(ga, rnd));
    seen s = { 0 };
    listen_jobs(conn, &s);
    qv_error *err = NULL;
    g_autofree char *chain0 = xml_chain(dom, "vdb", 0);

    /* Copy, ready, abort: the chain and the graph as before. */
    g_autofree char *copy1 = g_build_filename(T.root, "copy1.qcow2", NULL);
    itest_ok(qv_domain_block_rebase(dom, "vdb", copy1, 0, QV_DOMAIN_BLOCK_REBASE_COPY, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    qv_block_job_info info;
    cr_assert_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 1);
    cr_expect_eq(info.type, QV_DOMAIN_BLOCK_JOB_TYPE_COPY);
    itest_ok(qv_domain_abort_block_job(dom, "vdb", 0, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_CANCELED));
    g_autofree char *chain1 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(chain1, chain0);
    {
        g_autofree char *out = ITEST_CLI_OK(&T, "qemu-monitor-command", "bj-copy",
                                            "{\"execute\":\"query-named-block-nodes\"}");
        cr_expect(strstr(out, "-format"), "no nodes listed: %s", out);
        cr_expect_null(strstr(out, "copy1.qcow2"), "the aborted copy's nodes remain");
        cr_expect(!g_regex_match_simple("-c[0-9]+-(format|storage)", out, 0, 0),
                  "a copy node remains: %s", out);
    }

    /* A shallow copy takes the top image only and keeps the backing. */
    g_autofree char *shallow = g_build_filename(T.root, "shallow.qcow2", NULL);
    itest_ok(qv_domain_block_rebase(dom, "vdb", shallow, 0, QV_DOMAIN_BLOCK_REBASE_COPY |
                                    QV_DOMAIN_BLOCK_REBASE_SHALLOW, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    g_autofree char *chains = xml_chain(dom, "vdb", 0);
    g_autofree char *wants = g_strdup_printf("%s>%s", shallow, base);
    cr_expect_str_eq(chains, wants);
    g_autoptr(json_object) si = img_info(shallow);
    cr_expect_str_eq(backing_of(si), base);

    /* Copy and pivot (async pivot, then the event). */
    g_autofree char *copy2 = g_build_filename(T.root, "copy2.qcow2", NULL);
    itest_ok(qv_domain_block_rebase(dom, "vdb", copy2, 0, QV_DOMAIN_BLOCK_REBASE_COPY, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT |
                                       QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *chain2 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(chain2, copy2);
    g_autoptr(json_object) ci = img_info(copy2);
    cr_expect_null(backing_of(ci), "a full copy has no backing");
    g_autofree char *cmp = NULL;
    {
        int st;
        cmp = host_run((const char *const[]){ "qemu-img", "compare", "-U", shallow, copy2, NULL }, &st);
        cr_expect_eq(st, 0, "qemu-img compare: %s", cmp);
    }

    /* Out of space: a 1 MiB tmpfs for a raw copy of 16 MiB of data. */
    if (geteuid() != 0) {
        NOTE("not root: no tmpfs, the failing copy is skipped");
    } else {
        small_mount = g_build_filename(T.root, "small", NULL);
        mkdir(small_mount, 0700);
        int st;
        g_autofree char *m = host_run((const char *const[]){ "mount", "-t", "tmpfs", "-o", "size=1m",
                                                             "tmpfs", small_mount, NULL }, &st);
        if (st != 0) {
            NOTE("cannot mount a tmpfs (%s): the failing copy is skipped", m);
            g_clear_pointer(&small_mount, g_free);
        } else {
            g_autofree char *full = g_build_filename(small_mount, "full.raw", NULL);
            itest_ok(qv_domain_block_rebase(dom, "vdb", full, 0, QV_DOMAIN_BLOCK_REBASE_COPY |
                                            QV_DOMAIN_BLOCK_REBASE_COPY_RAW, &err), err);
            g_autoptr(json_object) ev = wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_FAILED);
            const char *e = qv_json_get_str(ev, "error");
            cr_expect(e && strstr(e, "No space left on device"), "the error: %s", e ? e : "(none)");
            g_autofree char *chain3 = xml_chain(dom, "vdb", 0);
            cr_expect_str_eq(chain3, copy2, "the chain after the failed copy");
            cr_expect_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 0);
            /* The guest still works on its disk. */
            guest_write(ga, gdev, "STILLOK", 5);
        }
    }
    qv_qmp_free(ga);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* The virsh commands, each a process of its own: blockcommit (non-active,
 * then active with --pivot and a progress bar), blockjob --info/--raw/
 * --bandwidth/--abort, blockpull --wait, blockcopy --finish. */
Test(blockjob, cli)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("lbase.qcow2", NULL);
    g_autofree char *mid = image("lmid.qcow2", base);
    g_autofree char *top = image("ltop.qcow2", mid);
    /* With <iotune>: the jobs work below the throttle filter, which stays. */
    g_autofree char *d = disk_xml_more(top, "vdb", "qvjob",
                                       "<iotune><total_bytes_sec>209715200</total_bytes_sec></iotune>");
    g_autoptr(qv_domain) dom = start(conn, "bj-cli", d);
    qv_error *err = NULL;

    g_autofree char *none = ITEST_CLI_OK(&T, "blockjob", "bj-cli", "vdb", "--info");
    cr_expect_str_eq(none, "No current block job for vdb\n\n");

    g_auto(cli_result) r1 = { 0 };
    cli_run_uri(&r1, T.uri, "blockcommit", "bj-cli", "vdb", "--top", mid, "--base", base,
                "--wait", "--verbose", NULL);
    cr_assert_eq(r1.status, 0, "%s%s", r1.out, r1.err);
    cr_expect_str_eq(r1.out, "\nCommit complete\n\n");
    cr_expect(strstr(r1.err, "Block Commit: [100 %]"), "progress: %s", r1.err);
    g_autofree char *c1 = xml_chain(dom, "vdb", 0);
    g_autofree char *want = g_strdup_printf("%s>%s", top, base);
    cr_expect_str_eq(c1, want);

    /* A slow active commit (top has data to copy): info, raw, a new
     * speed, abort. */
    qv_qmp *ga = itest_agent_open(&T, "bj-cli");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    guest_write(ga, gdev, "CLIDATA", 1);
    qv_qmp_free(ga);
    g_autofree char *st = ITEST_CLI_OK(&T, "blockcommit", "bj-cli", "vdb", "--active",
                                       "--bandwidth", "1", "--bytes");
    cr_expect_str_eq(st, "Active Block Commit started\n\n");
    g_autofree char *raw = ITEST_CLI_OK(&T, "blockjob", "bj-cli", "vdb", "--raw");
    cr_expect(g_str_has_prefix(raw, " type=4\n bandwidth=1\n cur="), "%s", raw);
    int status;
    g_autofree char *np = ITEST_CLI(&T, &status, "blockjob", "bj-cli", "vdb", "--pivot");
    cr_expect_eq(status, 1);
    cr_expect(strstr(np, "error: ") && strstr(np, "not ready for pivot"), "%s", np);
    g_free(ITEST_CLI_OK(&T, "blockjob", "bj-cli", "vdb", "--bandwidth", "2"));
    g_autofree char *js = ITEST_CLI_OK(&T, "blockjob", "bj-cli", "vdb", "--info", "--json");
    g_autoptr(json_object) jo = json_tokener_parse(js);
    cr_expect_str_eq(qv_json_get_str(jo, "type"), "Active Block Commit");
    cr_expect_eq(qv_json_get_int(jo, "bandwidth", -1), 2);
    g_free(ITEST_CLI_OK(&T, "blockjob", "bj-cli", "vdb", "--abort"));
    g_autofree char *c2 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c2, want, "an aborted active commit leaves the chain");

    /* --timeout: a commit that cannot finish in a second is aborted. */
    int tst;
    g_autofree char *to = ITEST_CLI(&T, &tst, "blockcommit", "bj-cli", "vdb", "--active", "--wait",
                                    "--bandwidth", "1", "--bytes", "--timeout", "1");
    cr_expect_eq(tst, 1, "%s", to);
    cr_expect(strstr(to, "error: \nCommit aborted"), "%s", to);
    qv_block_job_info none_info;
    cr_expect_eq(qv_domain_get_block_job_info(dom, "vdb", &none_info, 0, &err), 0);
    g_autofree char *c2b = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c2b, want);

    /* Active commit with --pivot: the disk ends on base. */
    g_auto(cli_result) r2 = { 0 };
    cli_run_uri(&r2, T.uri, "blockcommit", "bj-cli", "vdb", "--active", "--pivot", "--verbose", NULL);
    cr_assert_eq(r2.status, 0, "%s%s", r2.out, r2.err);
    cr_expect_str_eq(r2.out, "\nSuccessfully pivoted\n\n");
    cr_expect(strstr(r2.err, "Active Block Commit: [100 %]"), "progress: %s", r2.err);
    g_autofree char *c3 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c3, base);

    /* A resize after the pivot reaches the renamed node. */
    itest_ok(qv_domain_block_resize(dom, "vdb", 64 * MIB, QV_DOMAIN_BLOCK_RESIZE_BYTES, &err), err);
    g_autoptr(json_object) bi = img_info(base);
    cr_expect_eq(qv_json_get_int(bi, "virtual-size", 0), (long long)(64 * MIB));

    /* blockcopy --finish: a point-in-time copy, the disk stays on base. */
    g_autofree char *copy = g_build_filename(T.root, "lcopy.qcow2", NULL);
    g_autofree char *cp = ITEST_CLI_OK(&T, "blockcopy", "bj-cli", "vdb", "--dest", copy, "--finish");
    cr_expect_str_eq(cp, "\nSuccessfully copied\n\n");
    g_autofree char *c4 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c4, base);
    {
        int cst;
        g_autofree char *cmp = host_run((const char *const[]){ "qemu-img", "compare", "-U", base,
                                                               copy, NULL }, &cst);
        cr_expect_eq(cst, 0, "qemu-img compare: %s", cmp);
    }
    /* --reuse-external: an image made beforehand, of the disk's size. */
    g_autofree char *pre = g_build_filename(T.root, "lpre.qcow2", NULL);
    g_free(HOST_OK("qemu-img", "create", "-q", "-f", "qcow2", pre, "64M"));
    g_autofree char *cp2 = ITEST_CLI_OK(&T, "blockcopy", "bj-cli", "vdb", "--dest", pre,
                                        "--reuse-external", "--pivot");
    cr_expect_str_eq(cp2, "\nSuccessfully pivoted\n\n");
    g_autofree char *c5 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c5, pre);
    qv_block_iotune io;
    itest_ok(qv_domain_get_block_iotune(dom, "vdb", &io, 0, &err), err);
    cr_expect_eq(io.total_bytes_sec, 209715200ULL, "the throttle is gone after the pivots");
    g_autofree char *pull = NULL;
    int pst;
    pull = ITEST_CLI(&T, &pst, "blockpull", "bj-cli", "vdb", "--wait");
    cr_expect_eq(pst, 1, "a pull with nothing to pull fails: %s", pull);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* qv_blockjob_commit_sync, the commit other library code uses (deleting
 * external snapshots), through qvirt-blockjob --commit: a non-active
 * commit and an active one, each waited for (and pivoted). */
Test(blockjob, commit_sync)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("sbase.qcow2", NULL);
    g_autofree char *mid = image("smid.qcow2", base);
    g_autofree char *mid2 = image("smid2.qcow2", mid);
    g_free(HOST_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 8M 1M", mid2));
    g_autofree char *top = image("stop.qcow2", mid2);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autoptr(qv_domain) dom = start(conn, "bj-sync", d);
    qv_qmp *ga = itest_agent_open(&T, "bj-sync");
    g_autofree char *gdev = guest_disk(ga, "qvjob");
    guest_write(ga, gdev, "SYNCDATA", 1);
    const char *build = g_getenv("QVIRT_BUILD_ROOT");
    cr_assert(build, "QVIRT_BUILD_ROOT is not set");
    g_autofree char *helper = g_build_filename(build, "lib", "qvirt-blockjob", NULL);
    /* A partial pull (block_rebase to mid): mid2 streamed into top. */
    qv_error *perr = NULL;
    seen s = { 0 };
    listen_jobs(conn, &s);
    itest_ok(qv_domain_block_rebase(dom, "vdb", mid, 0, 0, &perr), perr);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *c0 = xml_chain(dom, "vdb", 0);
    g_autofree char *want0 = g_strdup_printf("%s>%s>%s", top, mid, base);
    cr_expect_str_eq(c0, want0);
    g_autoptr(json_object) ti = img_info(top);
    cr_expect_str_eq(backing_of(ti), mid);
    g_autofree char *cfg = g_build_filename(T.root, "config", NULL);
    g_autofree char *run = g_build_filename(T.root, "run", NULL);
    g_free(HOST_OK(helper, "--config-dir", cfg, "--run-dir", run, "--name", "bj-sync",
                   "--commit", "vdb", "--top", mid, "--base", base));
    g_autofree char *c1 = xml_chain(dom, "vdb", 0);
    g_autofree char *want = g_strdup_printf("%s>%s", top, base);
    cr_expect_str_eq(c1, want);
    g_free(HOST_OK(helper, "--config-dir", cfg, "--run-dir", run, "--name", "bj-sync",
                   "--commit", "vdb"));
    g_autofree char *c2 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c2, base);
    g_autofree char *c3 = xml_chain(dom, "vdb", QV_DOMAIN_XML_INACTIVE);
    cr_expect_str_eq(c3, base);
    guest_write(ga, gdev, "SYNCFLUSH", 2);
    qv_qmp_free(ga);
    g_autofree char *rd = img_read(base, 1 * MIB, 8);
    cr_expect(strstr(rd, "SYNCDATA"), "%s", rd);
    g_autofree char *p33 = HOST_OK("qemu-io", "-U", "-r", "-f", "qcow2", "-c", "read -P 0x33 8M 1M", base);
    cr_expect_null(strstr(p33, "Pattern verification failed"), "mid2's data, pulled then committed: %s", p33);
    qv_error *err = NULL;
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
}

/* A concluder killed half-way (after it recorded the outcome and
 * dismissed the job) is followed by the next one, which finishes the
 * graph, the XML and the events from the intent. The supervisor is
 * stopped meanwhile (SIGSTOP) so that it concludes nothing itself. The
 * guest stays paused: block jobs need no running guest. */
Test(blockjob, concluder_killed_half_way)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("kbase.qcow2", NULL);
    g_free(HOST_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 0 2M", base));
    g_autofree char *top = image("ktop.qcow2", base);
    g_autofree char *d = disk_xml(top, "vdb", "qvjob");
    g_autofree char *xml = itest_domain_xml(&T, "bj-kill", d);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    seen s = { 0 };
    listen_jobs(conn, &s);
    pid_t mon = (pid_t)itest_status_field(&T, "bj-kill", "monitor_pid");
    cr_assert_gt(mon, 0);
    /* One call first, so this process holds the lane and needs no proxy. */
    qv_block_job_info info;
    cr_assert_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 0);
    cr_assert_eq(kill(mon, SIGSTOP), 0);

    itest_ok(qv_domain_block_pull(dom, "vdb", 0, 0, &err), err);
    gint64 deadline = g_get_monotonic_time() + JOB_WAIT_MS * 1000LL;
    for (;;) {
        char *jobs = NULL;
        itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"query-jobs\"}", &jobs, 0, &err), err);
        bool done = strstr(jobs, "concluded") != NULL;
        free(jobs);
        if (done)
            break;
        cr_assert_lt(g_get_monotonic_time(), deadline, "the pull did not end");
        struct pollfd none = { .fd = -1 };
        poll(&none, 0, 10);
    }
    /* What a concluder does before it dies: the outcome into the intent,
     * then job-dismiss. */
    g_autofree char *ipath = g_build_filename(T.root, "run", "domains", "bj-kill",
                                              "blockjob-virtio-disk1.json", NULL);
    g_autoptr(json_object) in = json_object_from_file(ipath);
    cr_assert(in, "no intent at %s", ipath);
    json_object_object_add(in, "outcome", json_object_new_int(QV_DOMAIN_BLOCK_JOB_COMPLETED));
    cr_assert_eq(json_object_to_file(ipath, in), 0);
    char *r = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, "{\"execute\":\"job-dismiss\",\"arguments\":"
                                            "{\"id\":\"qvblk-virtio-disk1\"}}", &r, 0, &err), err);
    free(r);

    /* The next call concludes what is left. */
    cr_expect_eq(qv_domain_get_block_job_info(dom, "vdb", &info, 0, &err), 0);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_COMPLETED));
    g_autofree char *chain = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(chain, top);
    cr_expect_neq(access(ipath, F_OK), 0, "the intent is still there");
    cr_assert_eq(kill(mon, SIGCONT), 0);
    /* The supervisor, woken, finds nothing left to do; the domain works. */
    itest_ok(qv_domain_resume(dom, &err), err);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autoptr(json_object) ti = img_info(top);
    cr_expect_null(backing_of(ti));
    g_autofree char *pat = HOST_OK("qemu-io", "-r", "-f", "qcow2", "-c", "read -P 0x44 0 2M", top);
    cr_expect_null(strstr(pat, "Pattern verification failed"), "%s", pat);
}

/* An external disk-only snapshot (snapshot.c) puts an overlay over the
 * disk with node names of its own; a block job then finds them: an
 * active commit of the overlay back into the image and its pivot (what
 * deleting an external snapshot needs). The guest stays paused. */
Test(blockjob, after_external_snapshot)
{
    g_autoptr(qv_conn) conn = itest_open(&T);
    g_autofree char *base = image("xbase.qcow2", NULL);
    g_free(HOST_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0x21 0 1M", base));
    g_autofree char *d = disk_xml(base, "vdb", "qvjob");
    g_autofree char *xml = itest_domain_xml(&T, "bj-snap", d);
    g_autoptr(qv_domain) dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    seen s = { 0 };
    listen_jobs(conn, &s);
    g_autofree char *ov = g_build_filename(T.root, "xov.qcow2", NULL);
    g_autofree char *sx = g_strdup_printf(
        "<domainsnapshot><name>s1</name><disks><disk name='vdb' snapshot='external'>"
        "<source file='%s'/></disk></disks></domainsnapshot>", ov);
    qv_snapshot *snap = NULL;
    itest_ok(qv_domain_create_snapshot(dom, sx, QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &snap, &err), err);
    qv_snapshot_free(snap);
    g_autofree char *c1 = xml_chain(dom, "vdb", 0);
    g_autofree char *want = g_strdup_printf("%s>%s", ov, base);
    cr_assert_str_eq(c1, want);

    itest_ok(qv_domain_block_commit(dom, "vdb", NULL, NULL, 0, QV_DOMAIN_BLOCK_COMMIT_ACTIVE, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    g_autofree char *c2 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c2, base);
    /* And a second overlay on the pivoted disk, committed again. */
    g_autofree char *ov2 = g_build_filename(T.root, "xov2.qcow2", NULL);
    g_autofree char *sx2 = g_strdup_printf(
        "<domainsnapshot><name>s2</name><disks><disk name='vdb' snapshot='external'>"
        "<source file='%s'/></disk></disks></domainsnapshot>", ov2);
    itest_ok(qv_domain_create_snapshot(dom, sx2, QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, NULL, &err), err);
    itest_ok(qv_domain_block_commit(dom, "vdb", NULL, NULL, 0, QV_DOMAIN_BLOCK_COMMIT_ACTIVE, &err), err);
    json_object_put(wait_job_event(conn, &s, "vdb", QV_DOMAIN_BLOCK_JOB_READY));
    itest_ok(qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err), err);
    g_autofree char *c3 = xml_chain(dom, "vdb", 0);
    cr_expect_str_eq(c3, base);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    g_autofree char *pat = HOST_OK("qemu-io", "-r", "-f", "qcow2", "-c", "read -P 0x21 0 1M", base);
    cr_expect_null(strstr(pat, "Pattern verification failed"), "%s", pat);
}
