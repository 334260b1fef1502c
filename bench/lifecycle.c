/* bench/lifecycle: qvirt's lifecycle calls against the floor (the same QEMU
 * argv launched by a minimal fork/exec + raw QMP client), side by side in one
 * run. Prints medians (min, max) and ratios. --smoke runs one round.
 *
 *   create-to-running  qv_domain_create until it returns (guest running)
 *                      vs fork/exec + greeting + qmp_capabilities + cont
 *   suspend+resume     one stop/cont pair
 *   get_state/get_info per call (answered from state files)
 *   destroy            qv_domain_destroy vs SIGTERM + waitpid */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <qvirt/qvirt.h>

#include "domxml.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct series { double v[1000]; int n; } series;
static void add(series *s, double v) { if (s->n < 1000) s->v[s->n++] = v; }
static double median(series *s)
{
    if (!s->n)
        return 0;
    qsort(s->v, (size_t)s->n, sizeof(double), cmp_double);
    return s->v[s->n / 2];
}

static void row(const char *name, series *q, series *f, const char *unit)
{
    double mq = median(q);
    if (f && f->n)
        printf("%-20s %12.1f %12.1f %8.2fx", name, mq, median(f), mq / median(f));
    else
        printf("%-20s %12.1f %12s %9s", name, mq, "-", "");
    printf("   %s (qvirt min %.1f max %.1f)\n", unit, q->n ? q->v[0] : 0, q->n ? q->v[q->n - 1] : 0);
}

/* ---- the floor --------------------------------------------------------- */

static int raw_read_line(int fd, char *buf, size_t max)
{
    size_t n = 0;
    while (n + 1 < max) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

/* Sends a command and reads lines until the reply (events skipped). */
static int raw_cmd(int fd, const char *cmd)
{
    char line[65536];
    if (write(fd, cmd, strlen(cmd)) < 0)
        return -1;
    for (;;) {
        if (raw_read_line(fd, line, sizeof line) < 0)
            return -1;
        if (strstr(line, "\"return\"") || strstr(line, "\"error\""))
            return 0;
    }
}

typedef struct floor_vm { pid_t pid; int qmp; } floor_vm;

/* A listening socket at path; with target >= 0, placed at that fd number. */
static int make_listener(const char *path, int target)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4) < 0) {
        fprintf(stderr, "bench/lifecycle: cannot listen on %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (target >= 0 && fd != target) {
        dup3(fd, target, O_CLOEXEC);
        close(fd);
        fd = target;
    }
    return fd;
}

static int floor_start(char **argv_template, int listen_fd, floor_vm *vm)
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        fcntl(listen_fd, F_SETFD, 0);
        execv(argv_template[0], argv_template);
        _exit(127);
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    socklen_t len = sizeof sa;
    getsockname(listen_fd, (struct sockaddr *)&sa, &len);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "floor: connect %s: %s\n", sa.sun_path, strerror(errno));
        return -1;
    }
    char line[4096];
    if (raw_read_line(fd, line, sizeof line) < 0) {
        fprintf(stderr, "floor: no greeting\n");
        return -1;
    }
    if (raw_cmd(fd, "{\"execute\":\"qmp_capabilities\"}\n") < 0 ||
        raw_cmd(fd, "{\"execute\":\"cont\"}\n") < 0) {
        fprintf(stderr, "floor: handshake failed\n");
        return -1;
    }
    vm->pid = pid;
    vm->qmp = fd;
    return 0;
}

static void floor_stop(floor_vm *vm)
{
    kill(vm->pid, SIGTERM);
    waitpid(vm->pid, NULL, 0);
    close(vm->qmp);
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && !strcmp(argv[1], "--smoke");
    int rounds = smoke ? 1 : 10, calls = smoke ? 100 : 2000;
    const char *guest = getenv("QVIRT_TEST_GUEST");
    g_autofree char *guest_dir = guest ? g_strdup(guest) : g_build_filename(QV_BUILD_ROOT, "test-guest", NULL);
    g_autofree char *kernel = g_build_filename(guest_dir, "vmlinuz", NULL);
    g_autofree char *initrd = g_build_filename(guest_dir, "initramfs.img", NULL);
    if (!g_file_test(kernel, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "bench/lifecycle: no test guest in %s (run scripts/make-test-guest %s)\n",
                guest_dir, guest_dir);
        return 1;
    }
    g_autofree char *root = g_dir_make_tmp("qvb-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", root);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'><name>bench</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel><initrd>%s</initrd>"
        "<cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features>"
        "<devices><memballoon model='virtio'><stats period='1'/></memballoon></devices></domain>",
        kernel, initrd);

    qv_conn *conn;
    qv_domain *dom;
    qv_error *err = NULL;
    if (qv_conn_open(uri, &conn, &err) < 0 || qv_conn_define_domain(conn, xml, 0, &dom, &err) < 0) {
        fprintf(stderr, "bench/lifecycle: %s\n", qv_error_message(err));
        return 1;
    }

    /* The floor's argv: the same builder, the monitor socket on an fd. */
    g_autofree char *fsock = g_build_filename(root, "floor.sock", NULL);
    int listen_fd = make_listener(fsock, -1);
    if (listen_fd < 0)
        return 1;
    g_autoptr(qv_domdef) def = NULL;
    g_auto(GStrv) fargv = NULL;
    qv_build_ctx ctx = { .monitor_fd = listen_fd, .event_monitor_fd = -1, .runtime_dir = root };
    if (qv_domxml_parse(xml, 0, &def, &err) < 0 || qv_domxml_build_argv(def, &ctx, &fargv, &err) < 0) {
        fprintf(stderr, "bench/lifecycle: %s\n", qv_error_message(err));
        return 1;
    }

    series q_create = { 0 }, f_create = { 0 }, q_pair = { 0 }, f_pair = { 0 }, q_state = { 0 },
           q_info = { 0 }, q_destroy = { 0 }, f_destroy = { 0 };
    for (int i = 0; i < rounds; i++) {
        double t = now_us();
        if (qv_domain_create(dom, 0, &err) < 0) {
            fprintf(stderr, "bench/lifecycle: create: %s\n", qv_error_message(err));
            return 1;
        }
        add(&q_create, (now_us() - t) / 1000);
        t = now_us();
        if (qv_domain_suspend(dom, &err) < 0 || qv_domain_resume(dom, &err) < 0) {
            fprintf(stderr, "bench/lifecycle: suspend/resume: %s\n", qv_error_message(err));
            return 1;
        }
        add(&q_pair, now_us() - t);
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
        t = now_us();
        if (qv_domain_destroy(dom, 0, &err) < 0) {
            fprintf(stderr, "bench/lifecycle: destroy: %s\n", qv_error_message(err));
            return 1;
        }
        add(&q_destroy, (now_us() - t) / 1000);

        floor_vm vm;
        t = now_us();
        if (floor_start(fargv, listen_fd, &vm) < 0) {
            fprintf(stderr, "bench/lifecycle: the floor's QEMU did not start\n");
            return 1;
        }
        add(&f_create, (now_us() - t) / 1000);
        t = now_us();
        raw_cmd(vm.qmp, "{\"execute\":\"stop\"}\n");
        raw_cmd(vm.qmp, "{\"execute\":\"cont\"}\n");
        add(&f_pair, now_us() - t);
        t = now_us();
        floor_stop(&vm);
        add(&f_destroy, (now_us() - t) / 1000);
        /* QEMU unlinks its monitor socket when it exits: listen anew, at the
         * fd number the argv names. */
        if (make_listener(fsock, listen_fd) < 0)
            return 1;
    }
    printf("%-20s %12s %12s %9s\n", "figure", "qvirt", "floor", "ratio");
    row("create-to-running", &q_create, &f_create, "ms");
    row("suspend+resume", &q_pair, &f_pair, "us");
    row("get_state", &q_state, NULL, "us/call (goal <= 20)");
    row("get_info", &q_info, NULL, "us/call (goal <= 20)");
    row("destroy", &q_destroy, &f_destroy, "ms (goal <= 50)");
    qv_domain_undefine(dom, 0, NULL);
    qv_domain_free(dom);
    qv_conn_close(conn);
    return 0;
}
