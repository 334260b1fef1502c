/* bench/blockjob: block jobs through qvirt against the floor, the same QMP
 * sequence sent raw to the same QEMU, rounds interleaved (which side goes
 * first alternates) so both see the same machine.
 *
 * Each round starts one paused domain (block jobs need no running guest)
 * with two disks, each a qcow2 chain base <- top made with qemu-img and
 * filled with qemu-io: vdb for qvirt, vdc for the floor. Figures:
 *   pull:          DATA MiB in base streamed into top, from the call to the
 *                  job concluded (qvirt: the COMPLETED event, sent once the
 *                  XML follows; the floor: block-stream, JOB_STATUS_CHANGE
 *                  concluded, query-jobs, job-dismiss, blockdev-del of
 *                  base's nodes, remove-fd).
 *   commit_pivot:  DATA MiB in top committed into base and pivoted (qvirt:
 *                  block_commit ACTIVE, the READY event, abort_block_job
 *                  PIVOT, which waits for the conclusion; the floor: add-fd
 *                  of a read-write fd, blockdev-reopen, block-commit, READY,
 *                  job-complete, concluded, query-jobs, job-dismiss,
 *                  blockdev-del of top's nodes, remove-fd).
 *
 *   blockjob [--smoke] [--rounds N] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>
#include <qvirt/qvirt.h>

#include "bench-util.h"

static const char *root;
static int data_mib = 128;
static qv_domain *running;  /* destroyed by die() */
static int floor_lock = -1; /* qmp.lock while the floor talks: dropped by die() first */

static void die(const char *what, qv_error *err)
{
    fprintf(stderr, "bench/blockjob: %s%s%s\n", what, err ? ": " : "",
            err ? qv_error_message(err) : "");
    if (floor_lock >= 0)
        close(floor_lock);
    if (running)
        qv_domain_destroy(running, 0, NULL);
    exit(1);
}

static void run_ok(const char *const *argv)
{
    int st = 0;
    g_autofree char *errs = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, NULL, &errs, &st, NULL) || st != 0) {
        fprintf(stderr, "bench/blockjob: %s failed: %s\n", argv[0], errs ? errs : "");
        die("a helper program failed", NULL);
    }
}

/* base <- top in dir, DATA MiB of data in base (pull) or top (commit). */
static void make_chain(const char *dir, const char *name, bool data_in_top)
{
    g_autofree char *base = g_strdup_printf("%s/%s-base.qcow2", dir, name);
    g_autofree char *top = g_strdup_printf("%s/%s-top.qcow2", dir, name);
    g_autofree char *size = g_strdup_printf("%dM", data_mib * 2);
    g_autofree char *w = g_strdup_printf("write -P 0x5a 0 %dM", data_mib);
    run_ok((const char *const[]){ "qemu-img", "create", "-q", "-f", "qcow2", base, size, NULL });
    if (!data_in_top)
        run_ok((const char *const[]){ "qemu-io", "-f", "qcow2", "-c", w, base, NULL });
    run_ok((const char *const[]){ "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                                  base, top, NULL });
    if (data_in_top)
        run_ok((const char *const[]){ "qemu-io", "-f", "qcow2", "-c", w, top, NULL });
}

static char *disk(const char *dir, const char *name, const char *dev)
{
    return g_strdup_printf("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                           "<source file='%s/%s-top.qcow2'/><target dev='%s' bus='virtio'/></disk>",
                           dir, name, dev);
}

/* ---- the floor's raw QMP client ------------------------------------------------ */

typedef struct raw {
    int fd;
    GString *in;
} raw;

static char *raw_line(raw *c)
{
    for (;;) {
        char *nl = memchr(c->in->str, '\n', c->in->len);
        if (nl) {
            char *line = g_strndup(c->in->str, (gsize)(nl - c->in->str));
            g_string_erase(c->in, 0, nl - c->in->str + 1);
            return line;
        }
        char buf[65536];
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("the floor's QMP connection broke", NULL);
        g_string_append_len(c->in, buf, n);
    }
}

/* Sends text (with an fd when fd >= 0) and returns the reply line. */
static char *raw_cmd_fd(raw *c, const char *text, int fd)
{
    struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
    char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    if (sendmsg(c->fd, &mh, 0) != (ssize_t)iov.iov_len)
        die("the floor cannot send", NULL);
    for (;;) {
        char *line = raw_line(c);
        if (strstr(line, "\"return\"") || strstr(line, "\"error\"")) {
            if (strstr(line, "\"error\"")) {
                fprintf(stderr, "bench/blockjob: floor: %s -> %s\n", text, line);
                die("the floor's command failed", NULL);
            }
            return line;
        }
        g_free(line); /* an event: the floor waits for its own ones below */
    }
}

static char *raw_cmd(raw *c, const char *text)
{
    return raw_cmd_fd(c, text, -1);
}

/* Reads until an event line holding both strings. */
static void raw_wait(raw *c, const char *a, const char *b)
{
    for (;;) {
        g_autofree char *line = raw_line(c);
        if (strstr(line, "\"event\"") && strstr(line, a) && strstr(line, b))
            return;
    }
}

/* Connects to the domain's qmp.sock under qmp.lock (the library then keeps
 * off it), before the clock starts. */
static void raw_open(raw *c, const char *name, int *lock)
{
    g_autofree char *dir = g_strdup_printf("%s/run/domains/%s", root, name);
    g_autofree char *lk = g_strdup_printf("%s/qmp.lock", dir);
    *lock = open(lk, O_RDWR | O_CLOEXEC);
    if (*lock < 0 || flock(*lock, LOCK_EX) < 0)
        die("qmp.lock", NULL);
    floor_lock = *lock;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_snprintf(sa.sun_path, sizeof sa.sun_path, "%s/qmp.sock", dir);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect qmp.sock", NULL);
    c->in = g_string_new(NULL);
    g_free(raw_line(c)); /* greeting */
    g_free(raw_cmd(c, "{\"execute\":\"qmp_capabilities\"}\n"));
}

static void raw_close(raw *c, int lock)
{
    close(c->fd);
    g_string_free(c->in, TRUE);
    close(lock);
    floor_lock = -1;
}

/* The fdset whose fd carries this opaque (a storage node's name). */
static long fdset_of(raw *c, const char *opaque)
{
    g_autofree char *line = raw_cmd(c, "{\"execute\":\"query-fdsets\"}\n");
    json_object *o = json_tokener_parse(line), *sets, *id, *fds;
    long found = -1;
    if (o && json_object_object_get_ex(o, "return", &sets))
        for (size_t i = 0; found < 0 && i < json_object_array_length(sets); i++) {
            json_object *set = json_object_array_get_idx(sets, i);
            if (!json_object_object_get_ex(set, "fdset-id", &id) ||
                !json_object_object_get_ex(set, "fds", &fds))
                continue;
            for (size_t k = 0; k < json_object_array_length(fds); k++) {
                json_object *op;
                if (json_object_object_get_ex(json_object_array_get_idx(fds, k), "opaque", &op) &&
                    !strcmp(json_object_get_string(op), opaque))
                    found = (long)json_object_get_int64(id);
            }
        }
    json_object_put(o);
    if (found < 0)
        die("the floor finds no fdset", NULL);
    return found;
}

static void floor_pull(raw *c, const char *alias)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"block-stream\",\"arguments\":{\"job-id\":\"floor\",\"device\":\"%s-format\","
        "\"auto-finalize\":true,\"auto-dismiss\":false}}\n", alias);
    g_free(raw_cmd(c, cmd));
    raw_wait(c, "JOB_STATUS_CHANGE", "\"concluded\"");
    g_free(raw_cmd(c, "{\"execute\":\"query-jobs\"}\n"));
    g_free(raw_cmd(c, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"floor\"}}\n"));
    g_autofree char *del1 = g_strdup_printf("{\"execute\":\"blockdev-del\",\"arguments\":"
                                            "{\"node-name\":\"%s-b1-format\"}}\n", alias);
    g_autofree char *del2 = g_strdup_printf("{\"execute\":\"blockdev-del\",\"arguments\":"
                                            "{\"node-name\":\"%s-b1-storage\"}}\n", alias);
    g_free(raw_cmd(c, del1));
    g_free(raw_cmd(c, del2));
    g_autofree char *st = g_strdup_printf("%s-b1-storage", alias);
    g_autofree char *rm = g_strdup_printf("{\"execute\":\"remove-fd\",\"arguments\":"
                                          "{\"fdset-id\":%ld}}\n", fdset_of(c, st));
    g_free(raw_cmd(c, rm));
}

static void floor_commit(raw *c, const char *alias, const char *base_path)
{
    g_autofree char *st = g_strdup_printf("%s-b1-storage", alias);
    long set = fdset_of(c, st);
    int fd = open(base_path, O_RDWR | O_CLOEXEC);
    g_autofree char *add = g_strdup_printf("{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":%ld,"
                                           "\"opaque\":\"%s\"}}\n", set, st);
    g_free(raw_cmd_fd(c, add, fd));
    close(fd);
    g_autofree char *reopen = g_strdup_printf(
        "{\"execute\":\"blockdev-reopen\",\"arguments\":{\"options\":["
        "{\"driver\":\"file\",\"node-name\":\"%s\",\"filename\":\"/dev/fdset/%ld\",\"read-only\":false,"
        "\"discard\":\"ignore\"},{\"driver\":\"qcow2\",\"node-name\":\"%s-b1-format\",\"file\":\"%s\","
        "\"read-only\":false,\"backing\":null}]}}\n", st, set, alias, st);
    g_free(raw_cmd(c, reopen));
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"block-commit\",\"arguments\":{\"job-id\":\"floor\",\"device\":\"%s-format\","
        "\"top-node\":\"%s-format\",\"base-node\":\"%s-b1-format\",\"auto-finalize\":true,"
        "\"auto-dismiss\":false}}\n", alias, alias, alias);
    g_free(raw_cmd(c, cmd));
    raw_wait(c, "BLOCK_JOB_READY", "\"floor\"");
    g_free(raw_cmd(c, "{\"execute\":\"job-complete\",\"arguments\":{\"id\":\"floor\"}}\n"));
    raw_wait(c, "JOB_STATUS_CHANGE", "\"concluded\"");
    g_free(raw_cmd(c, "{\"execute\":\"query-jobs\"}\n"));
    g_free(raw_cmd(c, "{\"execute\":\"job-dismiss\",\"arguments\":{\"id\":\"floor\"}}\n"));
    g_autofree char *del1 = g_strdup_printf("{\"execute\":\"blockdev-del\",\"arguments\":"
                                            "{\"node-name\":\"%s-format\"}}\n", alias);
    g_autofree char *del2 = g_strdup_printf("{\"execute\":\"blockdev-del\",\"arguments\":"
                                            "{\"node-name\":\"%s-storage\"}}\n", alias);
    g_free(raw_cmd(c, del1));
    g_free(raw_cmd(c, del2));
    g_autofree char *tst = g_strdup_printf("%s-storage", alias);
    g_autofree char *rm = g_strdup_printf("{\"execute\":\"remove-fd\",\"arguments\":"
                                          "{\"fdset-id\":%ld}}\n", fdset_of(c, tst));
    g_free(raw_cmd(c, rm));
}

/* ---- qvirt's side ------------------------------------------------------------------ */

typedef struct waiter { int status; } waiter;

static void on_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    waiter *w = opaque;
    if (strstr(ev->json, "\"disk\":\"vdb\"") || strstr(ev->json, "\"disk\": \"vdb\""))
        w->status = ev->event;
}

static void wait_status(qv_conn *conn, waiter *w, int status)
{
    qv_error *err = NULL;
    int fd = qv_conn_event_get_fd(conn, &err);
    double deadline = now_us() + 600e6;
    while (w->status != status) {
        if (now_us() > deadline)
            die("qvirt's job did not end", NULL);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 1000);
        if (qv_conn_event_dispatch(conn, &err) < 0)
            die("event dispatch", err);
    }
}

/* The alias of disk dev in the live XML. */
static char *alias_of(qv_domain *dom, const char *dev)
{
    char *xml = NULL;
    qv_error *err = NULL;
    if (qv_domain_get_xml_description(dom, 0, &xml, &err) < 0)
        die("dumpxml", err);
    g_autofree char *needle = g_strdup_printf("<target dev='%s'", dev);
    char *p = strstr(xml, needle);
    char *a = p ? strstr(p, "<alias name='") : NULL;
    if (!a)
        die("no alias", NULL);
    a += strlen("<alias name='");
    char *res = g_strndup(a, strcspn(a, "'"));
    free(xml);
    return res;
}

static void one_round(qv_conn *conn, const char *guest_dir, int round, bool commit, series *q,
                      series *f)
{
    g_autofree char *dir = g_strdup_printf("%s/r%d%s", root, round, commit ? "c" : "p");
    g_mkdir_with_parents(dir, 0700);
    make_chain(dir, "q", commit);
    make_chain(dir, "f", commit);
    g_autofree char *name = g_strdup_printf("bj%d%s", round, commit ? "c" : "p");
    g_autofree char *xml = domain_xml(name, guest_dir);
    g_autofree char *dq = disk(dir, "q", "vdb");
    g_autofree char *df = disk(dir, "f", "vdc");
    g_autofree char *devs = g_strdup_printf("<devices>%s%s", dq, df);
    char *at = strstr(xml, "<devices>");
    g_autofree char *full = g_strdup_printf("%.*s%s%s", (int)(at - xml), xml, devs,
                                            at + strlen("<devices>"));
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    if (qv_conn_define_domain(conn, full, 0, &dom, &err) < 0 ||
        qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err) < 0)
        die("start", err);
    running = dom;
    g_autofree char *falias = alias_of(dom, "vdc");
    g_autofree char *fbase = g_strdup_printf("%s/f-base.qcow2", dir);
    waiter w = { -1 };
    int cb = qv_conn_domain_event_register_any(conn, dom, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2, on_event, &w, &err);
    if (cb < 0)
        die("register", err);
    for (int side = 0; side < 2; side++) {
        bool qvirt_side = (side + round) % 2 == 0;
        if (qvirt_side) {
            double t0 = now_us();
            if (!commit) {
                if (qv_domain_block_pull(dom, "vdb", 0, 0, &err) < 0)
                    die("block_pull", err);
                wait_status(conn, &w, QV_DOMAIN_BLOCK_JOB_COMPLETED);
            } else {
                if (qv_domain_block_commit(dom, "vdb", NULL, NULL, 0, QV_DOMAIN_BLOCK_COMMIT_ACTIVE, &err) < 0)
                    die("block_commit", err);
                wait_status(conn, &w, QV_DOMAIN_BLOCK_JOB_READY);
                if (qv_domain_abort_block_job(dom, "vdb", QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT, &err) < 0)
                    die("pivot", err);
            }
            add(q, (now_us() - t0) / 1000);
        } else {
            raw c;
            int lock;
            raw_open(&c, name, &lock);
            double t0 = now_us();
            if (commit)
                floor_commit(&c, falias, fbase);
            else
                floor_pull(&c, falias);
            add(f, (now_us() - t0) / 1000);
            raw_close(&c, lock);
        }
    }
    qv_conn_domain_event_deregister_any(conn, cb, NULL);
    running = NULL;
    if (qv_domain_destroy(dom, 0, &err) < 0 || qv_domain_undefine(dom, 0, &err) < 0)
        die("destroy", err);
    qv_domain_free(dom);
    run_ok((const char *const[]){ "rm", "-rf", dir, NULL });
}

int main(int argc, char **argv)
{
    int rounds = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            rounds = 1;
            data_mib = 8;
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        }
    }
    const char *guest = g_getenv("QVIRT_TEST_GUEST");
    g_autofree char *guest_dir = g_strdup(guest ? guest : QV_BUILD_ROOT "/test-guest");
    g_autofree char *tmp = g_dir_make_tmp("qvirt-bench-bj-XXXXXX", NULL);
    root = tmp;
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0)
        die("open", err);
    series pq = { 0 }, pf = { 0 }, cq = { 0 }, cf = { 0 };
    for (int r = 0; r < rounds; r++) {
        one_round(conn, guest_dir, r, false, &pq, &pf);
        one_round(conn, guest_dir, r, true, &cq, &cf);
        fprintf(stderr, "\nround %d: pull %.1f/%.1f ms, commit+pivot %.1f/%.1f ms (qvirt/floor, %d MiB)\n",
                r, pq.v[pq.n - 1], pf.v[pf.n - 1], cq.v[cq.n - 1], cf.v[cf.n - 1], data_mib);
    }
    emit("blockpull", "qvirt", "ms", &pq);
    emit("blockpull", "floor", "ms", &pf);
    emit("blockcommit", "qvirt", "ms", &cq);
    emit("blockcommit", "floor", "ms", &cf);
    qv_conn_close(conn);
    run_ok((const char *const[]){ "rm", "-rf", tmp, NULL });
    return 0;
}
