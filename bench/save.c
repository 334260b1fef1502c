/* bench/save: save and restore through qvirt against the floor (the same
 * QEMU argv driven by a fork/exec and raw QMP doing the same sequence:
 * stop, max-bandwidth, getfd + migrate fd: into a file after the same
 * header, fdatasync, rename, QEMU ended; and -incoming defer, getfd +
 * migrate-incoming fd:, cont), and a restore to running against a cold
 * boot of the same guest to its ready line (QVIRT-GUEST-READY on the
 * serial console, a file each side has its own of).
 *
 * Prints bench/report.py's lines:  @ FIGURE SIDE UNIT MEDIAN MIN MAX N
 *   save, restore        qvirt and floor, ms
 *   boot                 qvirt, ms (create to the ready line, the guest
 *                        booting alone; not in --smoke)
 *   restore_speedup      qvirt, x (boot / restore of the same round; not in
 *                        --smoke)
 * --smoke: one round, no boot wait (CI keeps it working; not a measurement);
 * --rounds N; --cycles K: K saves and restores a side per round, each
 * restore's guest saved again by the next cycle (one boot a round gives
 * K pairs of each; the speedup pairs the round's boot with its first
 * restore). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <qvirt/qvirt.h>

#include "bench-util.h"
#include "domxml.h"

static pid_t floor_pid;
static const char *bench_uri;

static G_NORETURN void die(const char *what, qv_error *err)
{
    fprintf(stderr, "bench/save: %s: %s\n", what, err ? qv_error_message(err) : strerror(errno));
    if (floor_pid > 0)
        kill(floor_pid, SIGKILL);
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

/* ---- the floor ------------------------------------------------------------ */

typedef struct floor_vm {
    int listen_fd, event_fd, lane_fd, qmp;
    char *sock;
    char **argv;
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

static int read_line(floor_vm *vm, char *line, size_t max)
{
    for (;;) {
        char *nl = memchr(vm->buf, '\n', vm->have);
        if (nl) {
            size_t len = (size_t)(nl - vm->buf) + 1, copy = MIN(len, max - 1);
            memcpy(line, vm->buf, copy);
            line[copy] = '\0';
            memmove(vm->buf, vm->buf + len, vm->have - len);
            vm->have -= len;
            return 0;
        }
        ssize_t r = read(vm->qmp, vm->buf + vm->have, sizeof vm->buf - vm->have);
        if (r <= 0)
            return -1;
        vm->have += (size_t)r;
    }
}

/* Sends cmd (with fd over SCM_RIGHTS when >= 0) and reads to its reply;
 * with event, also to an event line holding it. */
static void cmd(floor_vm *vm, const char *c, int fd, const char *event)
{
    struct iovec iov = { .iov_base = (void *)c, .iov_len = strlen(c) };
    char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        mh.msg_control = ctl;
        mh.msg_controllen = sizeof ctl;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    if (sendmsg(vm->qmp, &mh, 0) < 0)
        die("floor send", NULL);
    bool reply = false, ev = !event;
    char line[65536];
    while (!reply || !ev) {
        if (read_line(vm, line, sizeof line) < 0)
            die("floor read", NULL);
        if (strstr(line, "\"failed\""))
            die(c, NULL);
        if (event && strstr(line, "\"event\"") && strstr(line, event))
            ev = true;
        else if (strstr(line, "\"error\""))
            die(line, NULL);
        else if (strstr(line, "\"return\""))
            reply = true;
    }
}

static void floor_init(floor_vm *vm, const char *xml, const char *dir)
{
    memset(vm, 0, sizeof *vm);
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

/* QEMU from the argv (-incoming defer added for a restore), then the
 * greeting, capabilities, migration events and the balloon's period. */
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
    floor_pid = pid;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, vm->sock, sizeof sa.sun_path);
    vm->qmp = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    vm->have = 0;
    char line[4096];
    if (connect(vm->qmp, (struct sockaddr *)&sa, sizeof sa) < 0 || read_line(vm, line, sizeof line) < 0)
        die("floor connect", NULL);
    cmd(vm, "{\"execute\":\"qmp_capabilities\"}\n", -1, NULL);
    cmd(vm, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
            "[{\"capability\":\"events\",\"state\":true}]}}\n", -1, NULL);
    cmd(vm, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/balloon0\","
            "\"property\":\"guest-stats-polling-interval\",\"value\":1}}\n", -1, NULL);
}

/* QEMU ends (SIGTERM, as qvirt and libvirt end it) and is waited for. */
static void floor_end_qemu(void)
{
    if (floor_pid <= 0)
        return;
    kill(floor_pid, SIGTERM);
    waitpid(floor_pid, NULL, 0);
    floor_pid = 0;
}

/* QEMU unlinks its monitor sockets as it exits: listen again. */
static void floor_stop(floor_vm *vm, const char *dir)
{
    floor_end_qemu();
    close(vm->qmp);
    close(vm->listen_fd);
    close(vm->event_fd);
    close(vm->lane_fd);
    g_strfreev(vm->argv);
    g_free(vm->sock);
    vm->argv = NULL;
    (void)dir;
}

/* The floor's save: what qvirt does, minus the library. A save ends the
 * domain (qvirt's returns with it shut off (saved), as libvirt's does), so
 * the clock runs until QEMU is gone here too. */
static double floor_save(floor_vm *vm, const char *xml, const char *path)
{
    g_autofree char *tmp = g_strdup_printf("%s.part", path);
    double t0 = now_us();
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    /* The same header's room: 92 bytes and the XML, padded to 64 KiB + a page. */
    size_t head = (92 + strlen(xml) + 1 + 65536 + 4095) / 4096 * 4096;
    g_autofree char *zero = g_malloc0(head);
    memcpy(zero, "LibvirtQemudPart", 16);
    guint32 fields[3] = { 2, (guint32)(head - 92), 1 }; /* version, data_len, was_running */
    memcpy(zero + 16, fields, sizeof fields);
    memcpy(zero + 92, xml, strlen(xml));
    if (fd < 0 || pwrite(fd, zero, head, 0) != (ssize_t)head || lseek(fd, (off_t)head, SEEK_SET) < 0)
        die("floor image", NULL);
    cmd(vm, "{\"execute\":\"stop\"}\n", -1, NULL);
    cmd(vm, "{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"max-bandwidth\":"
            "9223372036854775807}}\n", -1, NULL);
    cmd(vm, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"m\"}}\n", fd, NULL);
    cmd(vm, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:m\"}}\n", -1, "\"completed\"");
    if (fdatasync(fd) < 0 || pwrite(fd, "LibvirtQemudSave", 16, 0) != 16 || fdatasync(fd) < 0 ||
        rename(tmp, path) < 0)
        die("floor image", NULL);
    close(fd);
    floor_end_qemu();
    return (now_us() - t0) / 1000;
}

static double floor_restore(floor_vm *vm, const char *path)
{
    double t0 = now_us();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char h[92];
    guint32 data_len;
    if (fd < 0 || read(fd, h, sizeof h) != (ssize_t)sizeof h)
        die("floor read image", NULL);
    memcpy(&data_len, h + 20, 4);
    if (lseek(fd, 92 + (off_t)data_len, SEEK_SET) < 0)
        die("floor seek", NULL);
    floor_start(vm, true);
    cmd(vm, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"r\"}}\n", fd, NULL);
    cmd(vm, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:r\"}}\n", -1,
        "\"completed\"");
    cmd(vm, "{\"execute\":\"cont\"}\n", -1, NULL);
    close(fd);
    return (now_us() - t0) / 1000;
}

/* ---- the guest ------------------------------------------------------------- */

/* The test guest with its serial console in a file of its own. */
static char *xml_with_console(const char *xml, const char *console)
{
    const char *devices = strstr(xml, "<devices>");
    if (!devices)
        die("no <devices> in the guest's XML", NULL);
    devices += strlen("<devices>");
    return g_strdup_printf("%.*s<serial type='file'><source path='%s'/><target port='0'/>"
                           "</serial>%s", (int)(devices - xml), xml, console, devices);
}

/* Waits for the guest's ready line in its console file; 20 ms a look, so
 * the wait adds little to a boot of some seconds. */
static void wait_ready(const char *console)
{
    for (int i = 0; i < 120 * 50; i++) {
        g_autofree char *text = NULL;
        if (g_file_get_contents(console, &text, NULL, NULL) && strstr(text, "QVIRT-GUEST-READY"))
            return;
        usleep(20000);
    }
    die("the guest did not print its ready line in 120 s", NULL);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) < 0 ? 0 : 0;
}

int main(int argc, char **argv)
{
    int rounds = 5, cycles = 1;
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            smoke = true, rounds = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cycles") && i + 1 < argc)
            cycles = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: save [--smoke] [--rounds N] [--cycles K]\n");
            return 2;
        }
    }
    rounds = MAX(rounds, 1);
    cycles = MAX(cycles, 1);
    const char *guest_dir = g_getenv("QVIRT_TEST_GUEST");
    g_autofree char *dflt = g_build_filename(QV_BUILD_ROOT, "test-guest", NULL);
    if (!guest_dir)
        guest_dir = dflt;
    g_autofree char *root = g_dir_make_tmp("qvb-save-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    bench_uri = uri;
    g_autofree char *bare = domain_xml("bench-save", guest_dir);
    g_autofree char *console = g_build_filename(root, "console.log", NULL);
    g_autofree char *fconsole = g_build_filename(root, "floor-console.log", NULL);
    g_autofree char *xml = xml_with_console(bare, console);
    g_autofree char *fxml = xml_with_console(bare, fconsole);
    g_autofree char *img = g_build_filename(root, "qvirt.img", NULL);
    g_autofree char *fimg = g_build_filename(root, "floor.img", NULL);
    g_autofree char *fdir = g_build_filename(root, "floor", NULL);
    qv_conn *conn;
    qv_domain *dom;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0 || qv_conn_define_domain(conn, xml, 0, &dom, &err) < 0)
        die("define", err);

    series save_q = { 0 }, save_f = { 0 }, rest_q = { 0 }, rest_f = { 0 }, boot_q = { 0 };
    floor_vm vm;
    for (int r = 0; r < rounds; r++) {
        fprintf(stderr, "bench/save: round %d/%d\n", r + 1, rounds);
        /* A booted guest on each side; qvirt's boots alone and is timed
         * to its ready line, then the floor's boots. */
        unlink(console);
        unlink(fconsole);
        double t0 = now_us();
        if (qv_domain_create(dom, 0, &err) < 0)
            die("create", err);
        if (!smoke) {
            wait_ready(console);
            add(&boot_q, (now_us() - t0) / 1000);
        }
        floor_init(&vm, fxml, fdir);
        floor_start(&vm, false);
        cmd(&vm, "{\"execute\":\"cont\"}\n", -1, NULL);
        if (!smoke) {
            wait_ready(fconsole);
            sleep(1); /* both guests settle past boot before the clock runs */
        }
        /* Which side goes first alternates between cycles and rounds. */
        for (int c = 0; c < cycles; c++) {
            bool qvirt_first = (r * cycles + c) % 2 == 0;
            for (int k = 0; k < 2; k++) {
                if ((k == 0) == qvirt_first) {
                    double t = now_us();
                    if (qv_domain_save(dom, img, NULL, 0, &err) < 0)
                        die("save", err);
                    add(&save_q, (now_us() - t) / 1000);
                } else {
                    add(&save_f, floor_save(&vm, fxml, fimg));
                    floor_stop(&vm, fdir);
                }
            }
            for (int k = 0; k < 2; k++) {
                if ((k == 0) == qvirt_first) {
                    double t = now_us();
                    if (qv_conn_restore_domain(conn, img, NULL, 0, &err) < 0)
                        die("restore", err);
                    add(&rest_q, (now_us() - t) / 1000);
                } else {
                    floor_init(&vm, fxml, fdir);
                    add(&rest_f, floor_restore(&vm, fimg));
                }
            }
            unlink(img);
            unlink(fimg);
        }
        if (qv_domain_destroy(dom, 0, &err) < 0)
            die("destroy", err);
        floor_stop(&vm, fdir);
        unlink(img);
        unlink(fimg);
    }
    /* Paired by round, before emit() sorts the series. */
    series speed = { 0 }, ratio_save = { 0 }, ratio_rest = { 0 };
    for (int i = 0; i < boot_q.n && i * cycles < rest_q.n; i++)
        add(&speed, boot_q.v[i] / rest_q.v[i * cycles]);
    for (int i = 0; i < rest_q.n; i++) {
        int round = i / cycles;
        fprintf(stderr, "bench/save: round %d.%d: save %.1f ms (floor %.1f), restore %.1f ms "
                "(floor %.1f), boot %.0f ms\n", round + 1, i % cycles + 1, save_q.v[i],
                save_f.v[i], rest_q.v[i], rest_f.v[i], round < boot_q.n ? boot_q.v[round] : 0);
        add(&ratio_save, save_q.v[i] / save_f.v[i]);
        add(&ratio_rest, rest_q.v[i] / rest_f.v[i]);
    }
    fprintf(stderr, "bench/save: paired by round, median qvirt/floor: save %.2fx, restore %.2fx\n",
            median_of(&ratio_save), median_of(&ratio_rest));
    emit("save", "qvirt", "ms", &save_q);
    emit("save", "floor", "ms", &save_f);
    emit("restore", "qvirt", "ms", &rest_q);
    emit("restore", "floor", "ms", &rest_f);
    if (boot_q.n) {
        emit("boot", "qvirt", "ms", &boot_q);
        emit("restore_speedup", "qvirt", "x", &speed);
    }
    qv_domain_undefine(dom, 0, NULL);
    qv_domain_free(dom);
    qv_conn_close(conn);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
