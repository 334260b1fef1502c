/* bench/snapshot: qvirt's internal snapshot create and revert against the
 * floor, the same QMP sequence sent raw on QEMU's command monitor (connect,
 * snapshot-save or stop + snapshot-load + cont as a job, wait for it to
 * conclude, query-jobs, job-dismiss), alternating on one running guest with
 * a qcow2 disk. Both sides pay for QEMU writing or reading the guest's RAM;
 * what qvirt adds is its locks, state, metadata files and definitions.
 *
 * Then external disk-only snapshots on the same guest: create (qemu-img
 * create of the overlay, add-fd, blockdev-add of its two nodes, a
 * blockdev-snapshot transaction) and delete (an active commit: the base
 * made writable with a read-write fd and blockdev-reopen, block-commit,
 * BLOCK_JOB_READY, job-complete, concluded, query-jobs, job-dismiss,
 * blockdev-del of the overlay's nodes, remove-fd, the file removed).
 *
 *   @ FIGURE SIDE UNIT MEDIAN MIN MAX N
 *
 *   --smoke    one round; --rounds N sets the rounds (default 20). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <qvirt/qvirt.h>

#include "bench-util.h"
#include "qmp.h"

#define JOB_TIMEOUT_MS (5 * 60 * 1000)

static const char *bench_uri;

static G_NORETURN void die(const char *what, const qv_error *err)
{
    fprintf(stderr, "bench/snapshot: %s: %s\n", what, err ? qv_error_message(err) : strerror(errno));
    qv_conn *conn;
    qv_domain *dom;
    if (bench_uri && qv_conn_open(bench_uri, &conn, NULL) == 0) {
        if (qv_conn_get_domain_by_name(conn, "bench-snap", &dom, NULL) == 0) {
            qv_domain_destroy(dom, 0, NULL);
            qv_domain_free(dom);
        }
        qv_conn_close(conn);
    }
    exit(1);
}

static json_object *obj_str(const char *k, const char *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, k, json_object_new_string(v));
    return o;
}

/* The floor's job: start it, wait for JOB_STATUS_CHANGE concluded, read its
 * error, dismiss it. */
static void floor_job(qv_qmp *qmp, const char *cmd, const char *tag, bool vmstate)
{
    qv_error *err = NULL;
    json_object *a = obj_str("job-id", "floor-job");
    json_object_object_add(a, "tag", json_object_new_string(tag));
    if (vmstate)
        json_object_object_add(a, "vmstate", json_object_new_string("virtio-disk0-format"));
    json_object *dev = json_object_new_array();
    json_object_array_add(dev, json_object_new_string("virtio-disk0-format"));
    json_object_object_add(a, "devices", dev);
    if (qv_qmp_call(qmp, cmd, a, 0, NULL, &err) < 0)
        die(cmd, err);
    for (;;) {
        qv_qmp_event *ev = NULL;
        if (qv_qmp_wait_event(qmp, "JOB_STATUS_CHANGE", JOB_TIMEOUT_MS, &ev, &err) < 0)
            die("waiting for the job", err);
        json_object *st;
        bool done = json_object_object_get_ex(ev->data, "status", &st) &&
                    !strcmp(json_object_get_string(st), "concluded");
        qv_qmp_event_free(ev);
        if (done)
            break;
    }
    json_object *jobs = NULL;
    if (qv_qmp_call(qmp, "query-jobs", NULL, 0, &jobs, &err) < 0)
        die("query-jobs", err);
    json_object_put(jobs);
    if (qv_qmp_call(qmp, "job-dismiss", obj_str("id", "floor-job"), 0, NULL, &err) < 0)
        die("job-dismiss", err);
}

static void floor_call(qv_qmp *qmp, const char *cmd, json_object *args)
{
    qv_error *err = NULL;
    if (qv_qmp_call(qmp, cmd, args, JOB_TIMEOUT_MS, NULL, &err) < 0)
        die(cmd, err);
}

static void floor_wait(qv_qmp *qmp, const char *event, const char *key, const char *value)
{
    for (;;) {
        qv_qmp_event *ev = NULL;
        qv_error *err = NULL;
        if (qv_qmp_wait_event(qmp, event, JOB_TIMEOUT_MS, &ev, &err) < 0)
            die(event, err);
        json_object *v;
        bool done = json_object_object_get_ex(ev->data, key, &v) &&
                    !strcmp(json_object_get_string(v), value);
        qv_qmp_event_free(ev);
        if (done)
            return;
    }
}

static void floor_add_fd(qv_qmp *qmp, long set, const char *opaque, const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die(path, NULL);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "fdset-id", json_object_new_int64(set));
    json_object_object_add(a, "opaque", json_object_new_string(opaque));
    qv_error *err = NULL;
    if (qv_qmp_call_with_fd(qmp, "add-fd", a, fd, JOB_TIMEOUT_MS, NULL, &err) < 0)
        die("add-fd", err);
    close(fd);
}

static json_object *node(const char *driver, const char *name, const char *key, const char *value)
{
    json_object *o = obj_str("driver", driver);
    json_object_object_add(o, "node-name", json_object_new_string(name));
    json_object_object_add(o, key, json_object_new_string(value));
    return o;
}

/* The floor's external snapshot: the overlay on the disk's start-named
 * node, in fdset 9000 + i. */
static void floor_ext_create(qv_qmp *qmp, const char *qemu_img, const char *img, const char *ovl,
                             int i)
{
    char *mk[] = { (char *)qemu_img, "create", "-q", "-f", "qcow2", "-u", "-F", "qcow2", "-b",
                   (char *)img, (char *)ovl, "64M", NULL };
    reap_ok(spawn(mk), "qemu-img create", NULL);
    long set = 9000 + i;
    floor_add_fd(qmp, set, "floor-ov-storage", ovl);
    g_autofree char *file = g_strdup_printf("/dev/fdset/%ld", set);
    floor_call(qmp, "blockdev-add", node("file", "floor-ov-storage", "filename", file));
    json_object *q = node("qcow2", "floor-ov-format", "file", "floor-ov-storage");
    json_object_object_add(q, "backing", NULL);
    floor_call(qmp, "blockdev-add", q);
    json_object *data = obj_str("node", "virtio-disk0-format");
    json_object_object_add(data, "overlay", json_object_new_string("floor-ov-format"));
    json_object *act = obj_str("type", "blockdev-snapshot");
    json_object_object_add(act, "data", data);
    json_object *acts = json_object_new_array();
    json_object_array_add(acts, act);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "actions", acts);
    floor_call(qmp, "transaction", a);
}

/* The fdset whose fd carries this opaque (a storage node's name). */
static long floor_fdset_of(qv_qmp *qmp, const char *opaque)
{
    json_object *sets = NULL;
    qv_error *err = NULL;
    if (qv_qmp_call(qmp, "query-fdsets", NULL, JOB_TIMEOUT_MS, &sets, &err) < 0)
        die("query-fdsets", err);
    long found = -1;
    for (size_t i = 0; found < 0 && i < json_object_array_length(sets); i++) {
        json_object *set = json_object_array_get_idx(sets, i), *id, *fds, *op;
        if (!json_object_object_get_ex(set, "fdset-id", &id) ||
            !json_object_object_get_ex(set, "fds", &fds))
            continue;
        for (size_t k = 0; k < json_object_array_length(fds); k++)
            if (json_object_object_get_ex(json_object_array_get_idx(fds, k), "opaque", &op) &&
                !strcmp(json_object_get_string(op), opaque))
                found = (long)json_object_get_int64(id);
    }
    json_object_put(sets);
    if (found < 0)
        die("the floor finds no fdset", NULL);
    return found;
}

static json_object *base_reopen(long set)
{
    g_autofree char *file = g_strdup_printf("/dev/fdset/%ld", set);
    json_object *st = node("file", "virtio-disk0-storage", "filename", file);
    json_object_object_add(st, "read-only", json_object_new_boolean(false));
    json_object_object_add(st, "discard", json_object_new_string("ignore"));
    json_object *fm = node("qcow2", "virtio-disk0-format", "file", "virtio-disk0-storage");
    json_object_object_add(fm, "read-only", json_object_new_boolean(false));
    json_object_object_add(fm, "backing", NULL);
    json_object *opts = json_object_new_array();
    json_object_array_add(opts, st);
    json_object_array_add(opts, fm);
    json_object *ro = json_object_new_object();
    json_object_object_add(ro, "options", opts);
    return ro;
}

/* Its delete: the overlay committed into the disk's image and pivoted.
 * The image is made writable as qvirt does it: a reopen, which finds the
 * read-write fd the start gave its fdset, and only if that fails a
 * read-write fd added first. */
static void floor_ext_delete(qv_qmp *qmp, const char *img, const char *ovl, int i)
{
    long set = floor_fdset_of(qmp, "virtio-disk0-storage");
    if (qv_qmp_call(qmp, "blockdev-reopen", base_reopen(set), JOB_TIMEOUT_MS, NULL, NULL) < 0) {
        floor_add_fd(qmp, set, "virtio-disk0-storage", img);
        floor_call(qmp, "blockdev-reopen", base_reopen(set));
    }
    json_object *a = obj_str("job-id", "floor-commit");
    json_object_object_add(a, "device", json_object_new_string("floor-ov-format"));
    json_object_object_add(a, "top-node", json_object_new_string("floor-ov-format"));
    json_object_object_add(a, "base-node", json_object_new_string("virtio-disk0-format"));
    json_object_object_add(a, "auto-finalize", json_object_new_boolean(true));
    json_object_object_add(a, "auto-dismiss", json_object_new_boolean(false));
    floor_call(qmp, "block-commit", a);
    floor_wait(qmp, "BLOCK_JOB_READY", "device", "floor-commit");
    floor_call(qmp, "job-complete", obj_str("id", "floor-commit"));
    floor_wait(qmp, "JOB_STATUS_CHANGE", "status", "concluded");
    json_object *jobs = NULL;
    qv_error *err = NULL;
    if (qv_qmp_call(qmp, "query-jobs", NULL, JOB_TIMEOUT_MS, &jobs, &err) < 0)
        die("query-jobs", err);
    json_object_put(jobs);
    floor_call(qmp, "job-dismiss", obj_str("id", "floor-commit"));
    floor_call(qmp, "blockdev-del", obj_str("node-name", "floor-ov-format"));
    floor_call(qmp, "blockdev-del", obj_str("node-name", "floor-ov-storage"));
    json_object *rm = json_object_new_object();
    json_object_object_add(rm, "fdset-id", json_object_new_int64(9000 + i));
    floor_call(qmp, "remove-fd", rm);
    unlink(ovl);
}

static qv_qmp *floor_connect(const char *sock)
{
    qv_qmp *qmp = NULL;
    qv_error *err = NULL;
    if (qv_qmp_connect_path(sock, QV_QMP_MODE_QMP, 30000, &qmp, &err) < 0)
        die("connecting to qmp.sock", err);
    return qmp;
}

int main(int argc, char **argv)
{
    int rounds = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            rounds = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: snapshot [--smoke] [--rounds N]\n");
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    signal(SIGPIPE, SIG_IGN);
    const char *guest = getenv("QVIRT_TEST_GUEST");
    g_autofree char *guest_dir = guest ? g_strdup(guest) : g_build_filename(QV_BUILD_ROOT, "test-guest", NULL);
    g_autofree char *kernel = g_build_filename(guest_dir, "vmlinuz", NULL);
    if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "bench/snapshot: no test guest in %s (run scripts/make-test-guest %s)\n",
                guest_dir, guest_dir);
        return 1;
    }
    g_autofree char *root = g_dir_make_tmp("qvbs-XXXXXX", NULL);
    g_autofree char *img = g_build_filename(root, "disk.qcow2", NULL);
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    if (!qemu_img) {
        fprintf(stderr, "bench/snapshot: qemu-img is not installed\n");
        return 1;
    }
    char *qimg[] = { qemu_img, "create", "-q", "-f", "qcow2", img, "64M", NULL };
    reap_ok(spawn(qimg), "qemu-img create", NULL);
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    bench_uri = uri;
    g_autofree char *base = domain_xml("bench-snap", guest_dir);
    g_autofree char *disk = g_strdup_printf("<disk type='file' device='disk'><driver name='qemu' "
                                            "type='qcow2'/><source file='%s'/><target dev='vda' "
                                            "bus='virtio'/></disk></devices>", img);
    g_auto(GStrv) parts = g_strsplit(base, "</devices>", 2);
    g_autofree char *xml = g_strconcat(parts[0], disk, parts[1], NULL);

    qv_conn *conn;
    qv_domain *dom;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0)
        die("open", err);
    if (qv_conn_define_domain(conn, xml, 0, &dom, &err) < 0 || qv_domain_create(dom, 0, &err) < 0)
        die("start", err);
    g_autofree char *sock = g_strdup_printf("%s/run/domains/bench-snap/qmp.sock", root);

    series q_create = { 0 }, q_revert = { 0 }, f_create = { 0 }, f_revert = { 0 };
    /* The guest boots meanwhile: the first rounds are not counted. */
    int warmup = rounds > 1 ? 3 : 0;
    for (int i = 0; i < rounds + warmup; i++) {
        fprintf(stderr, "bench/snapshot: round %d/%d\n", i + 1, rounds + warmup);
        if (i == warmup)
            q_create.n = q_revert.n = f_create.n = f_revert.n = 0;
        /* qvirt */
        g_autofree char *name = g_strdup_printf("q%d", i);
        g_autofree char *sx = g_strdup_printf("<domainsnapshot><name>%s</name></domainsnapshot>", name);
        qv_snapshot *s = NULL;
        double t0 = now_us();
        if (qv_domain_create_snapshot(dom, sx, 0, &s, &err) < 0)
            die("create_snapshot", err);
        double t1 = now_us();
        if (qv_snapshot_revert_to(s, 0, &err) < 0)
            die("revert_to", err);
        double t2 = now_us();
        add(&q_create, (t1 - t0) / 1000.0);
        add(&q_revert, (t2 - t1) / 1000.0);
        if (qv_snapshot_delete(s, 0, &err) < 0)
            die("delete", err);
        qv_snapshot_free(s);

        /* the floor: the same QMP on a connection of its own each time */
        g_autofree char *fname = g_strdup_printf("f%d", i);
        t0 = now_us();
        qv_qmp *qmp = floor_connect(sock);
        floor_job(qmp, "snapshot-save", fname, true);
        qv_qmp_free(qmp);
        t1 = now_us();
        qmp = floor_connect(sock);
        if (qv_qmp_call(qmp, "stop", NULL, 0, NULL, &err) < 0)
            die("stop", err);
        floor_job(qmp, "snapshot-load", fname, true);
        if (qv_qmp_call(qmp, "cont", NULL, 0, NULL, &err) < 0)
            die("cont", err);
        qv_qmp_free(qmp);
        t2 = now_us();
        add(&f_create, (t1 - t0) / 1000.0);
        add(&f_revert, (t2 - t1) / 1000.0);
        qmp = floor_connect(sock);
        floor_job(qmp, "snapshot-delete", fname, false);
        qv_qmp_free(qmp);
    }
    emit("snapshot_create", "qvirt", "ms", &q_create);
    emit("snapshot_create", "floor", "ms", &f_create);
    emit("snapshot_revert", "qvirt", "ms", &q_revert);
    emit("snapshot_revert", "floor", "ms", &f_revert);

    /* External disk-only snapshots: create, then delete (merged back). */
    series q_ecreate = { 0 }, q_edelete = { 0 }, f_ecreate = { 0 }, f_edelete = { 0 };
    for (int i = 0; i < rounds; i++) {
        fprintf(stderr, "bench/snapshot: external round %d/%d\n", i + 1, rounds);
        g_autofree char *name = g_strdup_printf("x%d", i);
        g_autofree char *sx = g_strdup_printf("<domainsnapshot><name>%s</name></domainsnapshot>", name);
        qv_snapshot *s = NULL;
        double t0 = now_us();
        if (qv_domain_create_snapshot(dom, sx, QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY, &s, &err) < 0)
            die("create_snapshot (external)", err);
        double t1 = now_us();
        if (qv_snapshot_delete(s, 0, &err) < 0)
            die("delete (external)", err);
        double t2 = now_us();
        qv_snapshot_free(s);
        add(&q_ecreate, (t1 - t0) / 1000.0);
        add(&q_edelete, (t2 - t1) / 1000.0);

        g_autofree char *ovl = g_strdup_printf("%s/disk.f%d", root, i);
        t0 = now_us();
        qv_qmp *qmp = floor_connect(sock);
        floor_ext_create(qmp, qemu_img, img, ovl, i);
        qv_qmp_free(qmp);
        t1 = now_us();
        qmp = floor_connect(sock);
        floor_ext_delete(qmp, img, ovl, i);
        qv_qmp_free(qmp);
        t2 = now_us();
        add(&f_ecreate, (t1 - t0) / 1000.0);
        add(&f_edelete, (t2 - t1) / 1000.0);
    }
    emit("snapshot_ext_create", "qvirt", "ms", &q_ecreate);
    emit("snapshot_ext_create", "floor", "ms", &f_ecreate);
    emit("snapshot_ext_delete", "qvirt", "ms", &q_edelete);
    emit("snapshot_ext_delete", "floor", "ms", &f_edelete);

    if (qv_domain_destroy(dom, 0, &err) < 0 ||
        qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, &err) < 0)
        die("clean-up", err);
    qv_domain_free(dom);
    qv_conn_close(conn);
    char *rm[] = { "/bin/rm", "-rf", root, NULL };
    waitpid(spawn(rm), NULL, 0);
    return 0;
}
