/* Median query-status round trip through the qmp/ client versus a minimal
 * hand-written client (blocking write + read up to the reply line), both on
 * the same QEMU (`-machine none`, two control monitors), rounds interleaved
 * so both see the same machine load. Goal: the client within 1.1x.
 *
 *   qmp-roundtrip [--smoke] [--rounds N] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "qmp.h"
#include "qv-process.h"

typedef struct raw_client {
    int fd;
    char buf[65536];
    size_t len;
} raw_client;

/* Reads one \n-terminated line into line (NUL-terminated). */
static int raw_read_line(raw_client *c, char *line, size_t max)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf) + 1;
            size_t copy = MIN(n, max - 1);
            memcpy(line, c->buf, copy);
            line[copy] = '\0';
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            return 0;
        }
        if (c->len == sizeof(c->buf))
            return -EMSGSIZE;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -ECONNRESET;
        c->len += (size_t)r;
    }
}

static int raw_command(raw_client *c, const char *text)
{
    size_t len = strlen(text);
    if (write(c->fd, text, len) != (ssize_t)len)
        return -EIO;
    char line[65536];
    for (;;) {
        int r = raw_read_line(c, line, sizeof(line));
        if (r < 0)
            return r;
        if (strstr(line, "\"return\""))
            return 0;
        if (strstr(line, "\"error\""))
            return -EIO;
        /* an event: keep reading */
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int rounds = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            rounds = 20;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--smoke] [--rounds N]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;

    g_autofree char *bin = g_find_program_in_path("qemu-system-x86_64");
    if (!bin) {
        fprintf(stderr, "qmp-roundtrip: qemu-system-x86_64 is not installed\n");
        return 77;
    }
    int a[2], b[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) < 0) {
        perror("socketpair");
        return 1;
    }
    g_autofree char *chr0 = g_strdup_printf("socket,id=mon0,fd=%d,server=off", a[1]);
    g_autofree char *chr1 = g_strdup_printf("socket,id=mon1,fd=%d,server=off", b[1]);
    const char *qargv[] = { bin, "-machine", "none", "-S", "-nodefaults", "-display", "none",
                            "-chardev", chr0, "-mon", "chardev=mon0,mode=control",
                            "-chardev", chr1, "-mon", "chardev=mon1,mode=control", NULL };
    int pass[2] = { a[1], b[1] };
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = qargv;
    o.pass_fds = pass;
    o.n_pass_fds = 2;
    o.stderr_fd = STDERR_FILENO;
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_process) proc = NULL;
    if (qv_process_spawn(&o, &proc, &err) < 0) {
        fprintf(stderr, "qmp-roundtrip: %s\n", qv_error_message(err));
        return 1;
    }
    close(a[1]);
    close(b[1]);

    int rc = 1;
    g_autoptr(qv_qmp) qmp = NULL;
    raw_client raw = { .fd = b[0] };
    char line[65536];
    g_autofree double *t_qmp = g_new(double, rounds);
    g_autofree double *t_raw = g_new(double, rounds);
    if (qv_qmp_new(a[0], QV_QMP_MODE_QMP, &qmp, &err) < 0 || qv_qmp_handshake(qmp, 20000, &err) < 0) {
        fprintf(stderr, "qmp-roundtrip: %s\n", qv_error_message(err));
        goto out;
    }
    if (raw_read_line(&raw, line, sizeof(line)) < 0 ||
        raw_command(&raw, "{\"execute\": \"qmp_capabilities\"}\n") < 0) {
        fprintf(stderr, "qmp-roundtrip: the raw client could not negotiate\n");
        goto out;
    }
    /* warm up both paths */
    for (int i = 0; i < 10; i++) {
        qv_qmp_call(qmp, "query-status", NULL, 10000, NULL, NULL);
        raw_command(&raw, "{\"execute\": \"query-status\"}\n");
    }
    for (int i = 0; i < rounds; i++) {
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(json_object) ret = NULL;
        if (qv_qmp_call(qmp, "query-status", NULL, 10000, &ret, &err) < 0) {
            fprintf(stderr, "qmp-roundtrip: %s\n", qv_error_message(err));
            goto out;
        }
        gint64 t1 = g_get_monotonic_time();
        if (raw_command(&raw, "{\"execute\": \"query-status\"}\n") < 0) {
            fprintf(stderr, "qmp-roundtrip: the raw client failed\n");
            goto out;
        }
        gint64 t2 = g_get_monotonic_time();
        t_qmp[i] = (double)(t1 - t0);
        t_raw[i] = (double)(t2 - t1);
    }
    double mq = median(t_qmp, rounds), mr = median(t_raw, rounds);
    printf("qmp-roundtrip: %d rounds of query-status, QEMU -machine none\n", rounds);
    printf("  qv_qmp client median: %.1f us\n", mq);
    printf("  raw client median:    %.1f us\n", mr);
    printf("  ratio qv_qmp/raw:     %.3f (goal <= 1.100)\n", mr > 0 ? mq / mr : 0.0);
    rc = 0;
out:
    close(raw.fd);
    qv_qmp_call(qmp, "quit", NULL, 5000, NULL, NULL);
    qv_process_terminate(proc, 5000, NULL, NULL);
    return rc;
}
