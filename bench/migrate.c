/* bench/migrate: live migration of the booted test guest between two
 * embed roots through qvirt (qv_domain_migrate, LIVE) against the floor:
 * two raw QEMUs on the argv qvirt builds, driven by a raw QMP client
 * through the QMP sequence lib/migrate.c runs:
 *   destination: QEMU with -incoming defer; migrate-set-capabilities
 *     (events on, postcopy-ram and multifd off); migrate-incoming
 *     tcp:127.0.0.1:0; query-migrate for the port QEMU picked;
 *   source: migrate-set-capabilities (events on, the rest off, as
 *     lib/migrate.c sends them); migrate-set-parameters max-bandwidth
 *     INT64_MAX bytes/s (libvirt's unlimited, what qvirt sets when no
 *     speed is given); migrate tcp:127.0.0.1:PORT; wait for completed;
 *   destination: wait for completed; cont; the source's QEMU ends.
 * Both clocks run from the start of the migration (qvirt: the call) to the
 * source's QEMU gone with the guest running on the destination (qvirt's
 * call returns then), the floor's QEMU start and argv build included as
 * qvirt's are. The downtime is QEMU's own ("downtime" of query-migrate on
 * the source once completed; qvirt's completed job stats carry the same).
 *
 * Each side boots one guest; then every round migrates each side's guest
 * once (alternating which goes first), back and forth between the roots,
 * so no round boots again. A first round warms up and is not counted: the
 * first migration after the boot, whichever side made it, took 2-4x the
 * later ones.
 *
 * Prints bench/report.py's lines:  @ FIGURE SIDE UNIT MEDIAN MIN MAX N
 *   migrate, migrate_downtime    qvirt and floor, ms
 * and on stderr each round's figures (with QEMU's own total time, passes
 * and bytes for the floor), and the paired (same-round) ratios. QEMU 7.2
 * says "completed" a moment before it has worked out the downtime, so a
 * query in between reads 0: the floor asks again, and a 0 from qvirt is
 * left out of its downtime (and counted on stderr).
 * --smoke: one round, no warm-up, guests migrated as they boot (CI keeps it
 * working in seconds; not a measurement); --rounds N (default 10). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>
#include <qvirt/qvirt.h>

#include "bench-util.h"
#include "domxml.h"

/* Waits: the guest's boot (balloon statistics) and one migration. */
#define BOOT_WAIT_S 120

static pid_t floor_pids[2];
static const char *bench_uris[2];

static G_NORETURN void die(const char *what, qv_error *err)
{
    fprintf(stderr, "bench/migrate: %s: %s\n", what, err ? qv_error_message(err) : strerror(errno));
    for (int i = 0; i < 2; i++)
        if (floor_pids[i] > 0)
            kill(floor_pids[i], SIGKILL);
    for (int i = 0; i < 2; i++) {
        qv_conn *conn;
        qv_domain **doms;
        if (bench_uris[i] && qv_conn_open(bench_uris[i], &conn, NULL) == 0) {
            int n = qv_conn_list_all_domains(conn, 0, &doms, NULL);
            for (int k = 0; k < n; k++)
                qv_domain_destroy(doms[k], 0, NULL);
            if (n > 0)
                qv_domain_list_free(doms);
            qv_conn_close(conn);
        }
    }
    exit(1);
}

/* ---- the floor ------------------------------------------------------------ */

/* One raw QEMU in its own folder, with qvirt's monitors (the command
 * monitor the floor talks on, the event monitor and one lane, both left
 * alone) and a raw QMP connection. */
typedef struct floor_vm {
    int slot;                      /* its floor_pids entry */
    pid_t pid;
    char *dir, *sock;
    int listen_fd, event_fd, lane_fd, qmp;
    char **argv;
    bool completed;                /* a MIGRATION "completed" event came */
    char buf[65536];
    size_t have;
} floor_vm;

static int make_listener(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0)
        die(path, NULL);
    return fd;
}

/* The next line from QEMU; MIGRATION events are noted on the way. */
static void read_line(floor_vm *vm, char *line, size_t max)
{
    for (;;) {
        char *nl = memchr(vm->buf, '\n', vm->have);
        if (nl) {
            size_t len = (size_t)(nl - vm->buf) + 1, copy = MIN(len, max - 1);
            memcpy(line, vm->buf, copy);
            line[copy] = '\0';
            memmove(vm->buf, vm->buf + len, vm->have - len);
            vm->have -= len;
            if (strstr(line, "\"event\"") && strstr(line, "\"MIGRATION\"")) {
                if (strstr(line, "\"completed\""))
                    vm->completed = true;
                else if (strstr(line, "\"failed\"") || strstr(line, "\"cancelled\""))
                    die(line, NULL);
            }
            return;
        }
        ssize_t r = read(vm->qmp, vm->buf + vm->have, sizeof vm->buf - vm->have);
        if (r <= 0)
            die("floor read", NULL);
        vm->have += (size_t)r;
    }
}

/* Sends c and returns its reply's "return" (NULL: {}); dies on an error. */
static json_object *cmd(floor_vm *vm, const char *c)
{
    size_t len = strlen(c);
    if (write(vm->qmp, c, len) != (ssize_t)len)
        die("floor send", NULL);
    char line[65536];
    for (;;) {
        read_line(vm, line, sizeof line);
        if (strstr(line, "\"event\""))
            continue;
        if (strstr(line, "\"error\""))
            die(line, NULL);
        json_object *o = json_tokener_parse(line), *ret = NULL;
        if (!o || !json_object_object_get_ex(o, "return", &ret))
            die(line, NULL);
        ret = json_object_get(ret);
        json_object_put(o);
        return ret;
    }
}

static void cmd0(floor_vm *vm, const char *c)
{
    json_object_put(cmd(vm, c));
}

static void wait_completed(floor_vm *vm)
{
    char line[65536];
    while (!vm->completed)
        read_line(vm, line, sizeof line);
}

static void floor_init(floor_vm *vm, int slot, const char *xml, const char *dir)
{
    memset(vm, 0, sizeof *vm);
    vm->slot = slot;
    vm->dir = g_strdup(dir);
    g_mkdir_with_parents(dir, 0700);
    vm->sock = g_build_filename(dir, "floor.sock", NULL);
    g_autofree char *ev = g_build_filename(dir, "monitor.sock", NULL);
    g_autofree char *lane = g_build_filename(dir, "lane-0.sock", NULL);
    vm->listen_fd = make_listener(vm->sock);
    vm->event_fd = make_listener(ev);
    vm->lane_fd = make_listener(lane);
    g_autoptr(qv_domdef) def = NULL;
    qv_error *err = NULL;
    qv_build_ctx ctx = { .monitor_fd = vm->listen_fd, .event_monitor_fd = vm->event_fd,
                         .runtime_dir = dir, .lane_fds = &vm->lane_fd, .n_lanes = 1 };
    if (qv_domxml_parse(xml, 0, &def, &err) < 0 || qv_domxml_build_argv(def, &ctx, &vm->argv, &err) < 0)
        die("floor argv", err);
}

/* QEMU from the argv (-incoming defer for a destination), the greeting,
 * capabilities, migration events and the balloon's period: what a qvirt
 * start sends. */
static void floor_start(floor_vm *vm, bool incoming)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (char **a = vm->argv; *a; a++)
        g_ptr_array_add(argv, *a);
    if (incoming) {
        g_ptr_array_add(argv, "-incoming");
        g_ptr_array_add(argv, "defer");
    }
    g_ptr_array_add(argv, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        fcntl(vm->listen_fd, F_SETFD, 0);
        fcntl(vm->event_fd, F_SETFD, 0);
        fcntl(vm->lane_fd, F_SETFD, 0);
        execv(vm->argv[0], (char **)argv->pdata);
        _exit(127);
    }
    if (pid < 0)
        die("fork", NULL);
    vm->pid = floor_pids[vm->slot] = pid;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, vm->sock, sizeof sa.sun_path);
    vm->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    vm->have = 0;
    char line[4096];
    if (connect(vm->qmp, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("floor connect", NULL);
    read_line(vm, line, sizeof line);
    cmd0(vm, "{\"execute\":\"qmp_capabilities\"}\n");
    cmd0(vm, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
             "[{\"capability\":\"events\",\"state\":true}]}}\n");
    cmd0(vm, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
             "\"property\":\"guest-stats-polling-interval\",\"value\":1}}\n");
}

/* QEMU unlinks its monitor sockets as it exits; the folder stays for the
 * next QEMU that comes back to it. */
static void floor_stop(floor_vm *vm)
{
    if (vm->pid > 0) {
        kill(vm->pid, SIGTERM);
        waitpid(vm->pid, NULL, 0);
    }
    vm->pid = floor_pids[vm->slot] = 0;
    close(vm->qmp);
    close(vm->listen_fd);
    close(vm->event_fd);
    close(vm->lane_fd);
    g_strfreev(vm->argv);
    g_free(vm->sock);
    g_free(vm->dir);
    memset(vm, 0, sizeof *vm);
}

static long long get_int(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* The floor's migration of src's guest to a new QEMU in dst_dir (slot
 * dst_slot); *dst is then the running guest and src is gone. Returns the
 * ms; *downtime is QEMU's, *to_cont the ms until the destination ran. */
static double floor_migrate(floor_vm *src, floor_vm *dst, int dst_slot, const char *xml,
                            const char *dst_dir, double *downtime, double *to_cont)
{
    double t0 = now_us();
    floor_init(dst, dst_slot, xml, dst_dir);
    floor_start(dst, true);
    cmd0(dst, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":["
              "{\"capability\":\"events\",\"state\":true},"
              "{\"capability\":\"postcopy-ram\",\"state\":false},"
              "{\"capability\":\"multifd\",\"state\":false}]}}\n");
    cmd0(dst, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:0\"}}\n");
    json_object *q = cmd(dst, "{\"execute\":\"query-migrate\"}\n"), *sa, *first, *port;
    if (!json_object_object_get_ex(q, "socket-address", &sa) ||
        !(first = json_object_array_get_idx(sa, 0)) ||
        !json_object_object_get_ex(first, "port", &port))
        die("the destination's QEMU did not say which port it listens on", NULL);
    g_autofree char *mig = g_strdup_printf(
        "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:%s\"}}\n",
        json_object_get_string(port));
    json_object_put(q);
    cmd0(src, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":["
              "{\"capability\":\"events\",\"state\":true},"
              "{\"capability\":\"auto-converge\",\"state\":false},"
              "{\"capability\":\"xbzrle\",\"state\":false},"
              "{\"capability\":\"compress\",\"state\":false},"
              "{\"capability\":\"postcopy-ram\",\"state\":false},"
              "{\"capability\":\"multifd\",\"state\":false},"
              "{\"capability\":\"pause-before-switchover\",\"state\":false}]}}\n");
    cmd0(src, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":"
              "9223372036854775807}}\n");
    src->completed = false;
    cmd0(src, mig);
    wait_completed(src);
    wait_completed(dst);
    cmd0(dst, "{\"execute\":\"cont\"}\n");
    *to_cont = (now_us() - t0) / 1000;
    /* QEMU 7.2 reports "completed" before it works out total-time and
     * downtime (migration_completion, then migration_calculate_complete
     * under the main-loop lock): a query in between reads 0 for both. */
    for (int i = 0; i < 1000; i++) {
        q = cmd(src, "{\"execute\":\"query-migrate\"}\n");
        if (get_int(q, "total-time") > 0)
            break;
        json_object_put(q);
        q = NULL;
        usleep(1000);
    }
    if (!q)
        die("the source's QEMU did not report its migration's total time", NULL);
    *downtime = (double)get_int(q, "downtime");
    json_object *ram = NULL;
    json_object_object_get_ex(q, "ram", &ram);
    fprintf(stderr, "bench/migrate:   floor: QEMU's total %lld ms, %lld passes, %.1f MiB sent\n",
            get_int(q, "total-time"), get_int(ram, "dirty-sync-count"),
            (double)get_int(ram, "transferred") / (1 << 20));
    json_object_put(q);
    floor_stop(src);
    return (now_us() - t0) / 1000;
}

/* The floor's guest has booted once its balloon reports statistics. */
static void floor_wait_booted(floor_vm *vm)
{
    for (int i = 0; i < BOOT_WAIT_S * 10; i++) {
        json_object *st = cmd(vm, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":"
                                  "\"/machine/peripheral/balloon0\",\"property\":\"guest-stats\"}}\n");
        long long up = get_int(st, "last-update");
        json_object_put(st);
        if (up > 0)
            return;
        usleep(100000);
    }
    die("the floor's guest did not report balloon stats in time", NULL);
}

/* ---- qvirt ----------------------------------------------------------------- */

static void qv_wait_booted(qv_domain *dom)
{
    for (int i = 0; i < BOOT_WAIT_S * 10; i++) {
        qv_memory_stat st[16];
        qv_error *err = NULL;
        int n = qv_domain_memory_stats(dom, st, 16, 0, &err);
        if (n < 0)
            die("memory_stats", err);
        for (int k = 0; k < n; k++)
            if (st[k].tag == QV_DOMAIN_MEMORY_STAT_LAST_UPDATE && st[k].val)
                return;
        usleep(100000);
    }
    die("the guest did not report balloon stats in time", NULL);
}

/* qvirt's migration of *dom to dconn: *dom becomes the destination's
 * domain. Returns the ms; *downtime from the source's completed job. */
static double qv_migrate(qv_domain **dom, qv_conn *dconn, double *downtime)
{
    qv_error *err = NULL;
    qv_domain *ddom = NULL;
    double t0 = now_us();
    if (qv_domain_migrate(*dom, dconn, NULL, QV_MIGRATE_LIVE | QV_MIGRATE_PEER2PEER, &ddom,
                          &err) < 0)
        die("migrate", err);
    double ms = (now_us() - t0) / 1000;
    qv_domain_job_stats st = { .size = sizeof st };
    if (qv_domain_get_job_stats(*dom, &st, QV_DOMAIN_JOB_STATS_COMPLETED, &err) < 0)
        die("job stats", err);
    if (!(st.fields & QV_DOMAIN_JOB_FIELD_DOWNTIME))
        die("no downtime in the completed job's stats", NULL);
    *downtime = (double)st.downtime;
    fprintf(stderr, "bench/migrate:   qvirt: %llu passes, %.1f MiB sent\n", st.memory_iteration,
            (double)st.data_processed / (1 << 20));
    qv_domain_free(*dom);
    *dom = ddom;
    return ms;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 10;
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            smoke = true, rounds = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: migrate [--smoke] [--rounds N]\n");
            return 2;
        }
    }
    rounds = CLAMP(rounds, 1, 256);
    const char *guest_dir = g_getenv("QVIRT_TEST_GUEST");
    g_autofree char *dflt = g_build_filename(QV_BUILD_ROOT, "test-guest", NULL);
    if (!guest_dir)
        guest_dir = dflt;
    g_autofree char *root = g_dir_make_tmp("qvb-migrate-XXXXXX", NULL);
    g_autofree char *root_b = g_build_filename(root, "dst", NULL);
    g_mkdir_with_parents(root_b, 0700);
    g_autofree char *uri_a = g_strdup_printf("qvirt:///embed?root=%s", root);
    g_autofree char *uri_b = g_strdup_printf("qvirt:///embed?root=%s", root_b);
    bench_uris[0] = uri_a;
    bench_uris[1] = uri_b;
    g_autofree char *xml = domain_xml("bench-migrate", guest_dir);
    g_autofree char *fdir_a = g_build_filename(root, "floor-a", NULL);
    g_autofree char *fdir_b = g_build_filename(root, "floor-b", NULL);
    const char *fdir[2] = { fdir_a, fdir_b };
    qv_conn *conn[2];
    qv_domain *dom;
    qv_error *err = NULL;
    if (qv_conn_open(uri_a, &conn[0], &err) < 0 || qv_conn_open(uri_b, &conn[1], &err) < 0 ||
        qv_conn_define_domain(conn[0], xml, 0, &dom, &err) < 0)
        die("define", err);

    /* One booted guest a side, booted together. */
    floor_vm vm[2];
    int at = 0;   /* where both guests are now: 0 (root and floor-a) or 1 */
    if (qv_domain_create(dom, 0, &err) < 0)
        die("create", err);
    floor_init(&vm[0], 0, xml, fdir[0]);
    floor_start(&vm[0], false);
    cmd0(&vm[0], "{\"execute\":\"cont\"}\n");
    if (!smoke) { /* --smoke migrates the guests as they boot */
        qv_wait_booted(dom);
        floor_wait_booted(&vm[0]);
        sleep(1); /* both guests settle past boot before the clock runs */
    }

    series mig_q = { 0 }, mig_f = { 0 }, down_q = { 0 }, down_f = { 0 }, cont_f = { 0 };
    series ratio_mig = { 0 }, ratio_down = { 0 };
    int zero_q = 0;
    /* Round 0 warms up, not counted (--smoke skips it): whichever side
     * migrated first right after the boot took 2-4x its later time. */
    for (int r = smoke ? 1 : 0; r <= rounds; r++) {
        double mq = 0, mf = 0, dq = 0, df = 0, cf = 0;
        /* Which side goes first alternates between rounds. */
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (r % 2 == 0))
                mq = qv_migrate(&dom, conn[!at], &dq);
            else
                mf = floor_migrate(&vm[at], &vm[!at], !at, xml, fdir[!at], &df, &cf);
        }
        at = !at;
        fprintf(stderr, "bench/migrate: round %d/%d%s: migrate %.1f ms (floor %.1f, to its cont "
                "%.1f), downtime %.0f ms (floor %.0f)\n", r, rounds, r ? "" : " (warm-up)", mq,
                mf, cf, dq, df);
        if (!r)
            continue;
        add(&mig_q, mq);
        add(&mig_f, mf);
        add(&down_f, df);
        add(&cont_f, cf);
        add(&ratio_mig, mq / mf);
        /* qvirt reads the downtime where QEMU may not have worked it out
         * yet (see floor_migrate): a 0 is that race, not a measurement. */
        if (dq > 0) {
            add(&down_q, dq);
            if (df > 0)
                add(&ratio_down, dq / df);
        } else {
            zero_q++;
        }
    }
    fprintf(stderr, "bench/migrate: paired by round, median qvirt/floor: migrate %.2fx, "
            "downtime %.2fx; the floor's median to its destination's cont %.1f ms\n",
            median_of(&ratio_mig), median_of(&ratio_down), median_of(&cont_f));
    if (zero_q)
        fprintf(stderr, "bench/migrate: qvirt reported a downtime of 0 ms in %d of %d rounds "
                "(QEMU's completed-before-computed race): left out of its downtime\n", zero_q,
                mig_q.n);
    emit("migrate", "qvirt", "ms", &mig_q);
    emit("migrate", "floor", "ms", &mig_f);
    emit("migrate_downtime", "qvirt", "ms", &down_q);
    emit("migrate_downtime", "floor", "ms", &down_f);

    if (qv_domain_destroy(dom, 0, &err) < 0)
        die("destroy", err);
    qv_domain_free(dom);
    floor_stop(&vm[at]);
    qv_domain *def = NULL;
    if (qv_conn_get_domain_by_name(conn[0], "bench-migrate", &def, NULL) == 0) {
        qv_domain_undefine(def, 0, NULL);
        qv_domain_free(def);
    }
    qv_conn_close(conn[0]);
    qv_conn_close(conn[1]);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
