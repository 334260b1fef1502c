#include "bench-util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

double now_us(void)
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

void add(series *s, double v)
{
    if (s->n < 256)
        s->v[s->n++] = v;
}

void emit(const char *figure, const char *side, const char *unit, series *s)
{
    if (!s->n)
        return;
    qsort(s->v, (size_t)s->n, sizeof(double), cmp_double);
    printf("@ %s %s %s %.3f %.3f %.3f %d\n", figure, side, unit, s->v[s->n / 2], s->v[0],
           s->v[s->n - 1], s->n);
    fflush(stdout);
}

double median_of(const series *s)
{
    if (!s->n)
        return 0;
    series c = *s;
    qsort(c.v, (size_t)c.n, sizeof(double), cmp_double);
    return c.v[c.n / 2];
}

void emit1(const char *figure, const char *side, const char *unit, double v)
{
    series s = { 0 };
    add(&s, v);
    emit(figure, side, unit, &s);
}

typedef struct at_once_arg {
    pthread_barrier_t *go;
    void *(*fn)(void *);
    void *arg;
} at_once_arg;

static void *at_once_thread(void *opaque)
{
    at_once_arg *a = opaque;
    pthread_barrier_wait(a->go);
    return a->fn(a->arg);
}

double at_once(int n, void *(*fn)(void *), void *args, size_t size)
{
    pthread_t *th = g_new(pthread_t, n);
    at_once_arg *a = g_new(at_once_arg, n);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        a[i] = (at_once_arg){ &go, fn, (char *)args + (size_t)i * size };
        pthread_create(&th[i], NULL, at_once_thread, &a[i]);
    }
    double t = now_us();
    pthread_barrier_wait(&go);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    t = now_us() - t;
    pthread_barrier_destroy(&go);
    g_free(th);
    g_free(a);
    return t / 1000;
}

pid_t spawn(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

void reap_ok(pid_t pid, const char *what, struct rusage *ru)
{
    int status;
    struct rusage r;
    if (wait4(pid, &status, 0, &r) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
        fprintf(stderr, "bench/%s: %s failed\n", program_invocation_short_name, what);
        exit(1);
    }
    if (ru)
        *ru = r;
}

long rss_of(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/status", pid);
    g_autofree char *s = NULL;
    if (!g_file_get_contents(path, &s, NULL, NULL))
        return 0;
    char *p = strstr(s, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : 0;
}

char *domain_xml(const char *name, const char *guest_dir)
{
    return g_strdup_printf(
        "<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>%s/vmlinuz</kernel>"
        "<initrd>%s/initramfs.img</initrd>"
        "<cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features>"
        "<devices><memballoon model='virtio'><stats period='1'/></memballoon></devices></domain>",
        name, guest_dir, guest_dir);
}
