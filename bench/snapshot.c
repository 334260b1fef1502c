/* bench/snapshot: qvirt's internal snapshot create and revert against the
 * floor, the same QMP sequence sent raw on QEMU's command monitor (connect,
 * snapshot-save or stop + snapshot-load + cont as a job, wait for it to
 * conclude, query-jobs, job-dismiss), alternating on one running guest with
 * a qcow2 disk. Both sides pay for QEMU writing or reading the guest's RAM;
 * what qvirt adds is its locks, state, metadata files and definitions.
 *
 *   @ FIGURE SIDE UNIT MEDIAN MIN MAX N
 *
 *   --smoke    one round; --rounds N sets the rounds (default 20). */
#include <errno.h>
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

    if (qv_domain_destroy(dom, 0, &err) < 0 ||
        qv_domain_undefine(dom, QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, &err) < 0)
        die("clean-up", err);
    qv_domain_free(dom);
    qv_conn_close(conn);
    char *rm[] = { "/bin/rm", "-rf", root, NULL };
    waitpid(spawn(rm), NULL, 0);
    return 0;
}
