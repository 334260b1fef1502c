/* bench/lifecycle: qvirt's calls against the floor (the same QEMU argv
 * launched by a minimal fork/exec + raw QMP client), side by side in one run.
 *
 * Prints one machine-readable line per figure and side, which bench/report.py
 * turns into the table, the JSON and the chart:
 *
 *   @ FIGURE SIDE UNIT MEDIAN MIN MAX N
 *
 * Modes:
 *   (default)  define, create (running / START_PAUSED), suspend+resume,
 *              get_state, get_info, memory_stats, disk attach+detach, destroy,
 *              and 20 paused domains started and destroyed at once (library
 *              threads, 20 CLI processes, 20 floor QEMUs)
 *   --memory   RSS of this process holding 20 running domains minus none,
 *              and the CLI's peak RSS for `list --all` (a fresh process, so
 *              nothing earlier inflates the heap)
 *   --smoke    one round each; --rounds N sets the rounds. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <qvirt/qvirt.h>

#include "bench-util.h"
/* The floor builds its argv with the domxml layer, the one piece of qvirt
 * it shares, so that both sides run the same QEMU command line. */
#include "domxml.h"

#define SCALE 20

/* The command monitors ("lanes") qvirt gives QEMU on top of the supervisor's
 * and qmp.sock; the floor opens as many, so they cost it what they cost
 * qvirt. Not public API: check_lanes() counts what a qvirt start made and
 * stops the run if this falls out of step with the library. */
#define FLOOR_LANES 1

/* What a failed run must not leave running: the floor's QEMUs, and the
 * domains of the connection under test. */
static pid_t floor_pids[64];
static const char *bench_uri;

static G_NORETURN void die(const char *what, qv_error *err)
{
    fprintf(stderr, "bench/lifecycle: %s: %s\n", what, err ? qv_error_message(err) : strerror(errno));
    for (size_t i = 0; i < G_N_ELEMENTS(floor_pids); i++)
        if (floor_pids[i] > 0 && waitpid(floor_pids[i], NULL, WNOHANG) == 0)
            kill(floor_pids[i], SIGKILL); /* still our child, so still a floor QEMU */
    qv_conn *conn;
    qv_domain **doms;
    if (bench_uri && qv_conn_open(bench_uri, &conn, NULL) == 0) {
        int n = qv_conn_list_all_domains(conn, 0, &doms, NULL);
        for (int i = 0; i < n; i++)
            qv_domain_destroy(doms[i], 0, NULL);
        if (n > 0)
            qv_domain_list_free(doms);
        qv_conn_close(conn);
    }
    exit(1);
}

/* The lanes of a running qvirt domain: its <run>/domains/NAME/lane-N.sock. */
static void check_lanes(const char *root, const char *name)
{
    g_autofree char *dir = g_strdup_printf("%s/run/domains/%s", root, name);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (!d)
        die(dir, NULL);
    int n = 0;
    for (const char *e; (e = g_dir_read_name(d));)
        if (g_str_has_prefix(e, "lane-") && g_str_has_suffix(e, ".sock"))
            n++;
    if (n != FLOOR_LANES) {
        fprintf(stderr, "bench/lifecycle: qvirt gave QEMU %d lanes, the floor %d: "
                "set FLOOR_LANES to match\n", n, FLOOR_LANES);
        errno = EINVAL;
        die("lanes", NULL);
    }
}

static void note_floor_pid(pid_t old, pid_t pid)
{
    for (size_t i = 0; i < G_N_ELEMENTS(floor_pids); i++)
        if (floor_pids[i] == old) {
            floor_pids[i] = pid;
            return;
        }
}

/* ---- the floor: fork/exec, raw QMP over a buffered reader ----------------- */

typedef struct floor_vm {
    pid_t pid;
    int listen_fd, qmp;
    int idle_fds[1 + FLOOR_LANES]; /* the event monitor's and the lanes' */
    int event_peer;                /* connected to the event monitor, as the supervisor is */
    char *event_sock;
    char buf[65536];
    size_t have;
    char **argv;
    char *sock;
} floor_vm;

/* One line (events included) into line; -1 on EOF or error. */
static int raw_read_line(floor_vm *vm, char *line, size_t max)
{
    for (;;) {
        char *nl = memchr(vm->buf, '\n', vm->have);
        if (nl) {
            size_t len = (size_t)(nl - vm->buf) + 1;
            size_t copy = len < max ? len : max - 1;
            memcpy(line, vm->buf, copy);
            line[copy] = '\0';
            memmove(vm->buf, vm->buf + len, vm->have - len);
            vm->have -= len;
            return (int)copy;
        }
        if (vm->have == sizeof vm->buf)
            return -1;
        ssize_t r = read(vm->qmp, vm->buf + vm->have, sizeof vm->buf - vm->have);
        if (r <= 0)
            return -1;
        vm->have += (size_t)r;
    }
}

/* Sends cmd and reads until its reply (kept in reply when given); with
 * event set, also until a line containing it arrives (before or after). */
static int raw_cmd_full(floor_vm *vm, const char *cmd, const char *event, char *reply, size_t max)
{
    char line[65536];
    bool got_reply = false, got_event = !event;
    if (write(vm->qmp, cmd, strlen(cmd)) < 0)
        return -1;
    while (!got_reply || !got_event) {
        if (raw_read_line(vm, line, sizeof line) < 0)
            return -1;
        if (event && strstr(line, event))
            got_event = true;
        else if (strstr(line, "\"return\"") || strstr(line, "\"error\"")) {
            if (strstr(line, "\"error\"")) {
                fprintf(stderr, "floor: %s -> %s", cmd, line);
                return -1;
            }
            got_reply = true;
            if (reply)
                g_strlcpy(reply, line, max);
        }
    }
    return 0;
}

static int raw_cmd(floor_vm *vm, const char *cmd) { return raw_cmd_full(vm, cmd, NULL, NULL, 0); }

/* A listening socket at path; with target >= 0, placed at that fd number. */
static int make_listener(const char *path, int target)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0)
        die(path, NULL);
    if (target >= 0 && fd != target) {
        if (dup3(fd, target, O_CLOEXEC) < 0)
            die("dup3", NULL);
        close(fd);
        fd = target;
    }
    return fd;
}

/* The floor's argv: qvirt's, from the same builder with the same monitors.
 * QEMU gets the command monitor the floor talks on, and, as under qvirt, the
 * event monitor and the lanes; here nobody connects to those. QEMU reads a
 * monitor a byte per main-loop pass and every monitor's socket is in that
 * loop, so they cost the floor what they cost qvirt; what is left is the
 * supervisor that reads the events, and the library. */
static void floor_init(floor_vm *vm, const char *xml, const char *dir)
{
    memset(vm, 0, sizeof *vm);
    g_mkdir_with_parents(dir, 0700);
    vm->sock = g_build_filename(dir, "floor.sock", NULL);
    vm->listen_fd = make_listener(vm->sock, -1);
    /* The event monitor listens, as qvirt's monitor.sock does, and is
     * connected (see floor_spawn), but nobody negotiates on it, so QEMU
     * sends it nothing past the greeting. */
    vm->event_sock = g_build_filename(dir, "monitor.sock", NULL);
    vm->idle_fds[0] = make_listener(vm->event_sock, -1);
    vm->event_peer = -1;
    for (int i = 1; i < 1 + FLOOR_LANES; i++) {
        g_autofree char *name = g_strdup_printf("lane-%d.sock", i - 1);
        g_autofree char *path = g_build_filename(dir, name, NULL);
        vm->idle_fds[i] = make_listener(path, -1);
    }
    g_autoptr(qv_domdef) def = NULL;
    qv_error *err = NULL;
    qv_build_ctx ctx = { .monitor_fd = vm->listen_fd, .event_monitor_fd = vm->idle_fds[0],
                         .runtime_dir = dir, .lane_fds = vm->idle_fds + 1,
                         .n_lanes = FLOOR_LANES };
    if (qv_domxml_parse(xml, 0, &def, &err) < 0 || qv_domxml_build_argv(def, &ctx, &vm->argv, &err) < 0)
        die("floor argv", err);
}

static void connect_event_peer(floor_vm *vm)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, vm->event_sock, sizeof sa.sun_path);
    if (vm->event_peer >= 0)
        close(vm->event_peer);
    vm->event_peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(vm->event_peer, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect to the event monitor", NULL);
}

static void floor_spawn(floor_vm *vm)
{
    connect_event_peer(vm);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        fcntl(vm->listen_fd, F_SETFD, 0);
        for (int i = 0; i < 1 + FLOOR_LANES; i++)
            fcntl(vm->idle_fds[i], F_SETFD, 0);
        execv(vm->argv[0], vm->argv);
        _exit(127);
    }
    note_floor_pid(vm->pid > 0 ? vm->pid : 0, pid);
    vm->pid = pid;
}

/* Greeting, capabilities, the balloon's stats period (as qvirt applies it),
 * and cont unless paused. */
static void floor_handshake(floor_vm *vm, bool paused)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, vm->sock, sizeof sa.sun_path);
    vm->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    vm->have = 0;
    char line[4096];
    if (connect(vm->qmp, (struct sockaddr *)&sa, sizeof sa) < 0 || raw_read_line(vm, line, sizeof line) < 0 ||
        raw_cmd(vm, "{\"execute\":\"qmp_capabilities\"}\n") < 0 ||
        raw_cmd(vm, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
                    "\"property\":\"guest-stats-polling-interval\",\"value\":1}}\n") < 0 ||
        (!paused && raw_cmd(vm, "{\"execute\":\"cont\"}\n") < 0))
        die("floor handshake", NULL);
}

/* SIGTERM + waitpid; QEMU unlinks its monitor socket as it exits, so listen
 * anew at the fd number the argv names. */
static void floor_kill(floor_vm *vm)
{
    kill(vm->pid, SIGTERM);
}

static void floor_reap(floor_vm *vm)
{
    waitpid(vm->pid, NULL, 0);
    close(vm->qmp);
    make_listener(vm->sock, vm->listen_fd);
    make_listener(vm->event_sock, vm->idle_fds[0]);
}

static void floor_wait_booted(floor_vm *vm)
{
    char reply[65536];
    for (int i = 0; i < 1200; i++) {
        if (raw_cmd_full(vm, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
                             "\"property\":\"guest-stats\"}}\n", NULL, reply, sizeof reply) < 0)
            die("floor qom-get", NULL);
        if (!strstr(reply, "\"last-update\": 0"))
            return;
        usleep(100000);
    }
    die("the floor's guest did not report balloon stats in 120 s", NULL);
}

/* What qvirt's memory_stats answers from: the balloon's size, the guest's
 * stats and QEMU's RSS. */
static void floor_memory_stats(floor_vm *vm)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)vm->pid);
    g_autofree char *status = NULL;
    if (raw_cmd(vm, "{\"execute\":\"query-balloon\"}\n") < 0 ||
        raw_cmd(vm, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
                    "\"property\":\"guest-stats\"}}\n") < 0 ||
        !g_file_get_contents(path, &status, NULL, NULL))
        die("floor memory stats", NULL);
}

/* ---- qvirt helpers ------------------------------------------------------ */

static void qv_wait_booted(qv_domain *dom)
{
    for (int i = 0; i < 1200; i++) {
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
    die("the guest did not report balloon stats in 120 s", NULL);
}

/* ---- 20 at once through the library: one thread per domain ----------- */

typedef struct lib_job {
    qv_domain *dom;
    bool destroy;
    int rc;
    qv_error *err;
} lib_job;

static void *lib_job_run(void *opaque)
{
    lib_job *j = opaque;
    j->rc = j->destroy ? qv_domain_destroy(j->dom, 0, &j->err)
                       : qv_domain_create(j->dom, QV_DOMAIN_START_PAUSED, &j->err);
    return NULL;
}

static double lib_all(qv_domain **doms, bool destroy)
{
    lib_job jobs[SCALE];
    for (int i = 0; i < SCALE; i++)
        jobs[i] = (lib_job){ .dom = doms[i], .destroy = destroy };
    double ms = at_once(SCALE, lib_job_run, jobs, sizeof jobs[0]);
    for (int i = 0; i < SCALE; i++)
        if (jobs[i].rc < 0)
            die(destroy ? "destroy (20 at once)" : "create paused (20 at once)", jobs[i].err);
    return ms;
}

static void *floor_job_run(void *opaque)
{
    floor_vm *vm = opaque;
    floor_spawn(vm);
    floor_handshake(vm, true);
    return NULL;
}

/* The floor's 20 at once: one thread per QEMU, as the library does, so
 * neither side waits on another's handshake. */
static double floor_all(floor_vm *vms)
{
    return at_once(SCALE, floor_job_run, vms, sizeof vms[0]);
}

static double cli_all(const char *cli, const char *uri, const char *verb, const char *flag)
{
    pid_t pids[SCALE];
    double t = now_us();
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *name = g_strdup_printf("bench-s%d", i);
        char *argv[] = { (char *)cli, "-c", (char *)uri, (char *)verb, name, (char *)flag, NULL };
        pids[i] = spawn(argv);
    }
    for (int i = 0; i < SCALE; i++)
        reap_ok(pids[i], verb, NULL);
    return (now_us() - t) / 1000;
}

/* ---- modes ------------------------------------------------------------- */

static int run_memory(const char *guest_dir, const char *root, const char *cli)
{
    long before = rss_of("self");
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    bench_uri = uri;
    qv_conn *conn;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0)
        die("open", err);
    qv_domain *doms[SCALE];
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *name = g_strdup_printf("bench-m%d", i);
        g_autofree char *xml = domain_xml(name, guest_dir);
        if (qv_conn_define_domain(conn, xml, 0, &doms[i], &err) < 0 || qv_domain_create(doms[i], 0, &err) < 0)
            die("define+create", err);
    }
    check_lanes(root, "bench-m0");
    /* Each handle also talks to its QEMU once, as the floor has done with its
     * QMP connections: that leases the handle its lane. */
    for (int i = 0; i < SCALE; i++) {
        qv_memory_stat st[16];
        if (qv_domain_memory_stats(doms[i], st, 16, 0, &err) < 0)
            die("memory_stats", err);
    }
    long with = rss_of("self");
    emit1("mem20", "qvirt", "KiB", (double)(with - before));

    struct rusage ru;
    char *argv[] = { (char *)cli, "-c", uri, "list", "--all", NULL };
    reap_ok(spawn(argv), "qvirt list", &ru);
    emit1("cli_list_rss", "qvirt", "KiB", (double)ru.ru_maxrss);

    for (int i = 0; i < SCALE; i++) {
        qv_domain_destroy(doms[i], 0, NULL);
        qv_domain_undefine(doms[i], 0, NULL);
        qv_domain_free(doms[i]);
    }
    qv_conn_close(conn);

    /* The floor holding 20 running QEMUs: its pids and sockets. */
    before = rss_of("self");
    floor_vm *vms = g_new0(floor_vm, SCALE);
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *dir = g_strdup_printf("%s/floor-m%d", root, i);
        g_autofree char *xml = domain_xml("floor", guest_dir);
        floor_init(&vms[i], xml, dir);
        floor_spawn(&vms[i]);
        floor_handshake(&vms[i], false);
    }
    emit1("mem20", "floor", "KiB", (double)(rss_of("self") - before));
    for (int i = 0; i < SCALE; i++)
        floor_kill(&vms[i]);
    for (int i = 0; i < SCALE; i++)
        floor_reap(&vms[i]);
    return 0;
}

/* Where one `qvirt start --paused` spends its time: the CLI runs with
 * QVIRT_DEBUG=1 and QVIRT_LOG_FILE, the library logs its start profile
 * (lib/start.c), and what the CLI took beyond the library's start is its
 * own start-up, URI open and lookup, and exit. */
typedef struct start_profile {
    series cli_total, cli_own, prepare, spawn, qemu_up, bring_up, commit;
} start_profile;

static void profile_cli_start(const char *cli, const char *uri, const char *root, const char *name,
                              start_profile *p)
{
    g_autofree char *log = g_build_filename(root, "start-profile.log", NULL);
    unlink(log);
    double t = now_us();
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 1);
        setenv("QVIRT_DEBUG", "1", 1);
        setenv("QVIRT_LOG_FILE", log, 1);
        execl(cli, cli, "-c", uri, "start", "--paused", name, (char *)NULL);
        _exit(127);
    }
    reap_ok(pid, "qvirt start --paused (profiled)", NULL);
    double total = (now_us() - t) / 1000;
    g_autofree char *text = NULL;
    if (!g_file_get_contents(log, &text, NULL, NULL))
        die(log, NULL);
    const char *line = strstr(text, "start profile (us): ");
    long long v[5];
    if (!line || sscanf(line, "start profile (us): prepare %lld spawn-monitor %lld qemu-up %lld "
                        "bring-up %lld commit %lld", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) {
        errno = EINVAL;
        die("the library's start profile line", NULL);
    }
    series *steps[5] = { &p->prepare, &p->spawn, &p->qemu_up, &p->bring_up, &p->commit };
    double lib = 0;
    for (int i = 0; i < 5; i++) {
        add(steps[i], (double)v[i] / 1000);
        lib += (double)v[i] / 1000;
    }
    add(&p->cli_total, total);
    add(&p->cli_own, total - lib);
}

static void emit_profile(start_profile *p)
{
    emit("prof_cli_total", "qvirt", "ms", &p->cli_total);
    emit("prof_cli_own", "qvirt", "ms", &p->cli_own);
    emit("prof_prepare", "qvirt", "ms", &p->prepare);
    emit("prof_spawn", "qvirt", "ms", &p->spawn);
    emit("prof_qemu_up", "qvirt", "ms", &p->qemu_up);
    emit("prof_bring_up", "qvirt", "ms", &p->bring_up);
    emit("prof_commit", "qvirt", "ms", &p->commit);
}

static int run_lifecycle(const char *guest_dir, const char *root, const char *cli, int rounds)
{
    int calls = rounds > 1 ? 2000 : 100, scale_rounds = rounds;
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    bench_uri = uri;
    g_autofree char *xml = domain_xml("bench", guest_dir);
    qv_conn *conn;
    qv_domain *dom;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0 || qv_conn_define_domain(conn, xml, 0, &dom, &err) < 0)
        die("define", err);
    g_autofree char *fdir = g_build_filename(root, "floor", NULL);
    floor_vm *fvm = g_new0(floor_vm, 1);
    floor_init(fvm, xml, fdir);

    /* One image per side: both guests are up when the disks are hot-plugged,
     * and an image QEMU still has open is locked against the other. */
    g_autofree char *disk = g_build_filename(root, "hot.raw", NULL);
    g_autofree char *fdisk = g_build_filename(root, "hot-floor.raw", NULL);
    for (int k = 0; k < 2; k++) {
        const char *img = k ? fdisk : disk;
        int dfd = open(img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (dfd < 0 || ftruncate(dfd, 1 << 20) < 0)
            die(img, NULL);
        close(dfd);
    }
    g_autofree char *disk_xml = g_strdup_printf(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
        "<target dev='vdb' bus='virtio'/></disk>", disk);
    g_autofree char *f_add = g_strdup_printf(
        "{\"execute\":\"blockdev-add\",\"arguments\":{\"node-name\":\"hot\",\"driver\":\"raw\","
        "\"file\":{\"driver\":\"file\",\"filename\":\"%s\"}}}\n", fdisk);

    series q_define = { 0 }, q_create = { 0 }, f_create = { 0 }, q_paused = { 0 }, f_paused = { 0 },
           q_pair = { 0 }, f_pair = { 0 }, q_state = { 0 }, q_info = { 0 }, q_mstats = { 0 },
           f_mstats = { 0 }, q_hot = { 0 }, f_hot = { 0 }, q_destroy = { 0 }, f_destroy = { 0 };
    start_profile prof = { 0 };
    int mcalls = rounds > 1 ? 200 : 10, pairs = rounds > 1 ? 200 : 2;
    for (int i = 0; i < rounds; i++) {
        fprintf(stderr, "bench/lifecycle: round %d/%d\n", i + 1, rounds);
        /* define: a fresh name each round, undefined afterwards */
        g_autofree char *dname = g_strdup_printf("bench-d%d", i);
        g_autofree char *dxml = domain_xml(dname, guest_dir);
        qv_domain *d;
        double t = now_us();
        if (qv_conn_define_domain(conn, dxml, 0, &d, &err) < 0)
            die("define", err);
        add(&q_define, (now_us() - t) / 1000);
        qv_domain_undefine(d, 0, NULL);
        qv_domain_free(d);

        /* START_PAUSED */
        t = now_us();
        if (qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err) < 0)
            die("create paused", err);
        add(&q_paused, (now_us() - t) / 1000);
        if (i == 0)
            check_lanes(root, "bench");
        if (qv_domain_destroy(dom, 0, &err) < 0)
            die("destroy", err);
        t = now_us();
        floor_spawn(fvm);
        floor_handshake(fvm, true);
        add(&f_paused, (now_us() - t) / 1000);
        floor_kill(fvm);
        floor_reap(fvm);
        profile_cli_start(cli, uri, root, "bench", &prof);
        if (qv_domain_destroy(dom, 0, &err) < 0)
            die("destroy", err);

        /* Create to running: the first side alone, the second with the
         * first's guest booted and idle; which side goes first alternates
         * between rounds. */
        bool qvirt_first = i % 2 == 0;
        for (int side = 0; side < 2; side++) {
            if ((side == 0) == qvirt_first) {
                t = now_us();
                if (qv_domain_create(dom, 0, &err) < 0)
                    die("create", err);
                add(&q_create, (now_us() - t) / 1000);
                int st, rs;
                t = now_us();
                for (int k = 0; k < calls; k++)
                    qv_domain_get_state(dom, &st, &rs, NULL);
                add(&q_state, (now_us() - t) / calls);
                qv_domain_info info;
                t = now_us();
                for (int k = 0; k < calls; k++)
                    qv_domain_get_info(dom, &info, NULL);
                add(&q_info, (now_us() - t) / calls);
                qv_wait_booted(dom);
            } else {
                t = now_us();
                floor_spawn(fvm);
                floor_handshake(fvm, false);
                add(&f_create, (now_us() - t) / 1000);
                floor_wait_booted(fvm);
            }
        }

        /* The operations on both booted guests, interleaved in slices with
         * the side that goes first alternating, so both see the same
         * machine: one guest alone had runs differ by half from one
         * minute to the next here. */
        enum { SLICES = 20 };
        double qp = 0, fp = 0, qm = 0, fm = 0;
        qv_memory_stat mst[16];
        for (int sl = 0; sl < SLICES; sl++) {
            for (int side = 0; side < 2; side++) {
                bool q = (side == 0) == ((sl + i) % 2 == 0);
                t = now_us();
                for (int k = 0; k < (pairs + SLICES - 1) / SLICES; k++)
                    if (q ? qv_domain_suspend(dom, &err) < 0 || qv_domain_resume(dom, &err) < 0
                          : raw_cmd(fvm, "{\"execute\":\"stop\"}\n") < 0 ||
                                raw_cmd(fvm, "{\"execute\":\"cont\"}\n") < 0)
                        die("suspend/resume", err);
                *(q ? &qp : &fp) += now_us() - t;
            }
            for (int side = 0; side < 2; side++) {
                bool q = (side == 0) == ((sl + i) % 2 == 1);
                t = now_us();
                for (int k = 0; k < (mcalls + SLICES - 1) / SLICES; k++) {
                    if (!q)
                        floor_memory_stats(fvm);
                    else if (qv_domain_memory_stats(dom, mst, 16, 0, &err) < 0)
                        die("memory_stats", err);
                }
                *(q ? &qm : &fm) += now_us() - t;
            }
        }
        int pairs_done = (pairs + SLICES - 1) / SLICES * SLICES;
        int mcalls_done = (mcalls + SLICES - 1) / SLICES * SLICES;
        add(&q_pair, qp / pairs_done);
        /* Each round's pair, for who wants to see how the rounds spread. */
        fprintf(stderr, "bench/lifecycle: round %d: suspend+resume %.0f/%.0f us, memory_stats "
                "%.0f/%.0f us (qvirt/floor)\n", i + 1, qp / pairs_done, fp / pairs_done,
                qm / mcalls_done, fm / mcalls_done);
        add(&f_pair, fp / pairs_done);
        add(&q_mstats, qm / mcalls_done);
        add(&f_mstats, fm / mcalls_done);

        t = now_us();
        if (qv_domain_attach_device(dom, disk_xml, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err) < 0 ||
            qv_domain_detach_device(dom, disk_xml, QV_DOMAIN_DEVICE_MODIFY_LIVE, &err) < 0)
            die("attach/detach", err);
        add(&q_hot, (now_us() - t) / 1000);
        t = now_us();
        if (raw_cmd(fvm, f_add) < 0 ||
            raw_cmd(fvm, "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
                         "\"id\":\"vdisk1\",\"drive\":\"hot\"}}\n") < 0 ||
            raw_cmd_full(fvm, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"vdisk1\"}}\n",
                         "\"device\": \"vdisk1\"", NULL, 0) < 0 ||
            raw_cmd(fvm, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"hot\"}}\n") < 0)
            die("floor attach/detach", NULL);
        add(&f_hot, (now_us() - t) / 1000);

        /* destroy: the first one while the other guest still runs, the
         * side alternating between rounds */
        for (int side = 0; side < 2; side++) {
            t = now_us();
            if ((side == 0) == qvirt_first) {
                if (qv_domain_destroy(dom, 0, &err) < 0)
                    die("destroy", err);
                add(&q_destroy, (now_us() - t) / 1000);
            } else {
                floor_kill(fvm);
                waitpid(fvm->pid, NULL, 0);
                add(&f_destroy, (now_us() - t) / 1000);
            }
        }
        close(fvm->qmp);
        make_listener(fvm->sock, fvm->listen_fd);
        make_listener(fvm->event_sock, fvm->idle_fds[0]);
    }
    emit("define", "qvirt", "ms", &q_define);
    emit("create", "qvirt", "ms", &q_create);
    emit("create", "floor", "ms", &f_create);
    emit("create_paused", "qvirt", "ms", &q_paused);
    emit("create_paused", "floor", "ms", &f_paused);
    emit_profile(&prof);
    emit("suspend_resume", "qvirt", "us", &q_pair);
    emit("suspend_resume", "floor", "us", &f_pair);
    emit("get_state", "qvirt", "us", &q_state);
    emit("get_info", "qvirt", "us", &q_info);
    emit("memory_stats", "qvirt", "us", &q_mstats);
    emit("memory_stats", "floor", "us", &f_mstats);
    emit("attach_detach", "qvirt", "ms", &q_hot);
    emit("attach_detach", "floor", "ms", &f_hot);
    emit("destroy", "qvirt", "ms", &q_destroy);
    emit("destroy", "floor", "ms", &f_destroy);
    qv_domain_undefine(dom, 0, NULL);
    qv_domain_free(dom);

    /* 20 paused at once: library threads, CLI processes, the floor. A
     * connection and its handles belong to one thread at a time, so each
     * thread's domain comes from a connection of its own. */
    qv_domain *doms[SCALE];
    qv_conn *conns[SCALE];
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *name = g_strdup_printf("bench-s%d", i);
        g_autofree char *sxml = domain_xml(name, guest_dir);
        if (qv_conn_open(uri, &conns[i], &err) < 0 ||
            qv_conn_define_domain(conns[i], sxml, 0, &doms[i], &err) < 0)
            die("define", err);
    }
    floor_vm *vms = g_new0(floor_vm, SCALE);
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *dir = g_strdup_printf("%s/floor-s%d", root, i);
        floor_init(&vms[i], xml, dir);
    }
    series q_s = { 0 }, q_sd = { 0 }, c_s = { 0 }, c_sd = { 0 }, f_s = { 0 }, f_sd = { 0 };
    for (int r = 0; r < scale_rounds; r++) {
        fprintf(stderr, "bench/lifecycle: 20 at once, round %d/%d\n", r + 1, scale_rounds);
        /* alternate which side goes first, so drift in the machine's load
         * does not always fall on the same side */
        for (int side = 0; side < 2; side++) {
            if ((side + r) % 2 == 0) {
                add(&q_s, lib_all(doms, false));
                add(&q_sd, lib_all(doms, true));
                add(&c_s, cli_all(cli, uri, "start", "--paused"));
                add(&c_sd, cli_all(cli, uri, "destroy", NULL));
                continue;
            }
            add(&f_s, floor_all(vms));
            double t = now_us();
            for (int i = 0; i < SCALE; i++)
                floor_kill(&vms[i]);
            for (int i = 0; i < SCALE; i++)
                waitpid(vms[i].pid, NULL, 0);
            add(&f_sd, (now_us() - t) / 1000);
            for (int i = 0; i < SCALE; i++) {
                close(vms[i].qmp);
                make_listener(vms[i].sock, vms[i].listen_fd);
                make_listener(vms[i].event_sock, vms[i].idle_fds[0]);
            }
        }
    }
    emit("start20_lib", "qvirt", "ms", &q_s);
    emit("destroy20_lib", "qvirt", "ms", &q_sd);
    emit("start20_cli", "qvirt", "ms", &c_s);
    emit("destroy20_cli", "qvirt", "ms", &c_sd);
    series f_s2 = f_s, f_sd2 = f_sd;
    emit("start20_lib", "floor", "ms", &f_s);
    emit("destroy20_lib", "floor", "ms", &f_sd);
    emit("start20_cli", "floor", "ms", &f_s2);
    emit("destroy20_cli", "floor", "ms", &f_sd2);
    for (int i = 0; i < SCALE; i++) {
        qv_domain_undefine(doms[i], 0, NULL);
        qv_domain_free(doms[i]);
        qv_conn_close(conns[i]);
    }
    qv_conn_close(conn);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    bool memory = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            rounds = 1;
        else if (!strcmp(argv[i], "--memory"))
            memory = true;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: lifecycle [--smoke] [--memory] [--rounds N]\n");
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
        fprintf(stderr, "bench/lifecycle: no test guest in %s (run scripts/make-test-guest %s)\n",
                guest_dir, guest_dir);
        return 1;
    }
    const char *cli_env = getenv("QVIRT_CLI");
    g_autofree char *cli = cli_env ? g_strdup(cli_env) : g_build_filename(QV_BUILD_ROOT, "tools", "qvirt", NULL);
    g_autofree char *root = g_dir_make_tmp("qvb-XXXXXX", NULL);
    int r = memory ? run_memory(guest_dir, root, cli) : run_lifecycle(guest_dir, root, cli, rounds);
    g_autofree char *rm_argv0 = g_strdup("/bin/rm");
    char *rm[] = { rm_argv0, "-rf", root, NULL };
    waitpid(spawn(rm), NULL, 0);
    return r;
}
