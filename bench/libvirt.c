/* bench/libvirt: libvirt's side of bench/lifecycle's figures, through its C
 * API (qemu:///system, libvirtd set up by bench/run --libvirt) with the same
 * domain XML, printing the same result lines:
 *
 *   @ FIGURE libvirt UNIT MEDIAN MIN MAX N
 *
 * "20 at once" runs 20 threads on one connection (libvirt's API is
 * thread-safe) and 20 concurrent virsh processes. Memory: this process's RSS
 * plus libvirtd's, with 20 running domains, minus both with none.
 *   libvirt [--smoke] [--rounds N] */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "bench-util.h"

#define SCALE 20
#define URI "qemu:///system"

static G_NORETURN void die(const char *what)
{
    const char *msg = virGetLastErrorMessage();
    fprintf(stderr, "bench/libvirt: %s: %s\n", what, msg ? msg : strerror(errno));
    exit(1);
}

/* libvirt's default handler prints every error, expected ones included. */
static void quiet(void *opaque, virErrorPtr e)
{
}

/* Leftovers of an interrupted run would make define fail. */
static void drop(virConnectPtr conn, const char *name)
{
    virDomainPtr d = virDomainLookupByName(conn, name);
    if (d) {
        virDomainDestroy(d);
        virDomainUndefine(d);
        virDomainFree(d);
    }
    virResetLastError();
}

static void wait_booted(virDomainPtr dom)
{
    for (int i = 0; i < 1200; i++) {
        virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
        int n = virDomainMemoryStats(dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
        if (n < 0)
            die("memory_stats");
        for (int k = 0; k < n; k++)
            if (st[k].tag == VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE && st[k].val)
                return;
        usleep(100000);
    }
    fprintf(stderr, "bench/libvirt: the guest did not report balloon stats in 120 s\n");
    exit(1);
}

static long libvirtd_rss(void)
{
    g_autofree char *pid = NULL;
    if (!g_file_get_contents("/run/libvirtd.pid", &pid, NULL, NULL))
        return 0;
    g_strstrip(pid);
    return rss_of(pid);
}

typedef struct job { virDomainPtr dom; bool destroy; int rc; } job;

static void *job_run(void *opaque)
{
    job *j = opaque;
    j->rc = j->destroy ? virDomainDestroy(j->dom) : virDomainCreateWithFlags(j->dom, VIR_DOMAIN_START_PAUSED);
    return NULL;
}

static double api_all(virDomainPtr *doms, bool destroy)
{
    job jobs[SCALE];
    for (int i = 0; i < SCALE; i++)
        jobs[i] = (job){ .dom = doms[i], .destroy = destroy };
    double ms = at_once(SCALE, job_run, jobs, sizeof jobs[0]);
    for (int i = 0; i < SCALE; i++)
        if (jobs[i].rc < 0)
            die(destroy ? "destroy (20 at once)" : "create paused (20 at once)");
    return ms;
}

static double virsh_all(const char *verb, const char *flag)
{
    pid_t pids[SCALE];
    double t = now_us();
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *name = g_strdup_printf("bench-lv-s%d", i);
        char *argv[] = { (char *)"/usr/bin/virsh", "-q", "-c", URI, (char *)verb, name, (char *)flag, NULL };
        pids[i] = spawn(argv);
    }
    for (int i = 0; i < SCALE; i++)
        reap_ok(pids[i], verb, NULL);
    return (now_us() - t) / 1000;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            rounds = 1;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: libvirt [--smoke] [--rounds N]\n");
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    int calls = rounds > 1 ? 2000 : 100, mcalls = rounds > 1 ? 200 : 10, pairs = rounds > 1 ? 50 : 2, scale_rounds = rounds > 3 ? 3 : rounds;
    const char *guest = getenv("QVIRT_TEST_GUEST");
    g_autofree char *guest_dir = guest ? g_strdup(guest) : g_build_filename(QV_BUILD_ROOT, "test-guest", NULL);

    virSetErrorFunc(NULL, quiet);
    /* memory first, in a fresh process, before the heap has grown */
    long before = rss_of("self") + libvirtd_rss();
    virConnectPtr conn = virConnectOpen(URI);
    if (!conn)
        die("connect to " URI);
    virDomainPtr doms[SCALE];
    for (int i = 0; i < SCALE; i++) {
        g_autofree char *name = g_strdup_printf("bench-lv-s%d", i);
        g_autofree char *xml = domain_xml(name, guest_dir);
        drop(conn, name);
        if (!(doms[i] = virDomainDefineXML(conn, xml)))
            die("define");
    }
    for (int i = 0; i < SCALE; i++)
        if (virDomainCreate(doms[i]) < 0)
            die("create");
    emit1("mem20", "libvirt", "KiB", (double)(rss_of("self") + libvirtd_rss() - before));
    struct rusage ru;
    char *list_argv[] = { "/usr/bin/virsh", "-c", URI, "list", "--all", NULL };
    reap_ok(spawn(list_argv), "virsh list", &ru);
    emit1("cli_list_rss", "libvirt", "KiB", (double)ru.ru_maxrss);
    for (int i = 0; i < SCALE; i++)
        virDomainDestroy(doms[i]);

    g_autofree char *tmp = g_dir_make_tmp("qvb-lv-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(tmp, "hot.raw", NULL);
    int dfd = open(disk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (dfd < 0 || ftruncate(dfd, 1 << 20) < 0)
        die(disk);
    close(dfd);
    g_autofree char *disk_xml = g_strdup_printf(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
        "<target dev='vdb' bus='virtio'/></disk>", disk);
    g_autofree char *xml = domain_xml("bench-lv", guest_dir);
    drop(conn, "bench-lv");
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    if (!dom)
        die("define");

    series s_define = { 0 }, s_create = { 0 }, s_paused = { 0 }, s_pair = { 0 }, s_state = { 0 },
           s_info = { 0 }, s_mstats = { 0 }, s_hot = { 0 }, s_destroy = { 0 };
    for (int i = 0; i < rounds; i++) {
        fprintf(stderr, "bench/libvirt: round %d/%d\n", i + 1, rounds);
        g_autofree char *dname = g_strdup_printf("bench-lv-d%d", i);
        g_autofree char *dxml = domain_xml(dname, guest_dir);
        drop(conn, dname);
        double t = now_us();
        virDomainPtr d = virDomainDefineXML(conn, dxml);
        if (!d)
            die("define");
        add(&s_define, (now_us() - t) / 1000);
        virDomainUndefine(d);
        virDomainFree(d);

        t = now_us();
        if (virDomainCreateWithFlags(dom, VIR_DOMAIN_START_PAUSED) < 0)
            die("create paused");
        add(&s_paused, (now_us() - t) / 1000);
        if (virDomainDestroy(dom) < 0)
            die("destroy");

        t = now_us();
        if (virDomainCreate(dom) < 0)
            die("create");
        add(&s_create, (now_us() - t) / 1000);
        int st, rs;
        t = now_us();
        for (int k = 0; k < calls; k++)
            virDomainGetState(dom, &st, &rs, 0);
        add(&s_state, (now_us() - t) / calls);
        virDomainInfo info;
        t = now_us();
        for (int k = 0; k < calls; k++)
            virDomainGetInfo(dom, &info);
        add(&s_info, (now_us() - t) / calls);
        wait_booted(dom);
        /* As bench/lifecycle: pairs on the booted guest. */
        t = now_us();
        for (int k = 0; k < pairs; k++)
            if (virDomainSuspend(dom) < 0 || virDomainResume(dom) < 0)
                die("suspend/resume");
        add(&s_pair, (now_us() - t) / pairs);
        virDomainMemoryStatStruct mst[VIR_DOMAIN_MEMORY_STAT_NR];
        t = now_us();
        for (int k = 0; k < mcalls; k++)
            if (virDomainMemoryStats(dom, mst, VIR_DOMAIN_MEMORY_STAT_NR, 0) < 0)
                die("memory_stats");
        add(&s_mstats, (now_us() - t) / mcalls);
        t = now_us();
        if (virDomainAttachDeviceFlags(dom, disk_xml, VIR_DOMAIN_AFFECT_LIVE) < 0 ||
            virDomainDetachDeviceFlags(dom, disk_xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
            die("attach/detach");
        /* libvirt's detach may return before DEVICE_DELETED arrives: wait
         * until the live XML no longer has the disk, as qvirt and the floor do. */
        for (int k = 0; k < 1000; k++) {
            g_autofree char *live = virDomainGetXMLDesc(dom, 0);
            if (live && !strstr(live, "hot.raw"))
                break;
            usleep(1000);
        }
        add(&s_hot, (now_us() - t) / 1000);
        t = now_us();
        if (virDomainDestroy(dom) < 0)
            die("destroy");
        add(&s_destroy, (now_us() - t) / 1000);
    }
    emit("define", "libvirt", "ms", &s_define);
    emit("create", "libvirt", "ms", &s_create);
    emit("create_paused", "libvirt", "ms", &s_paused);
    emit("suspend_resume", "libvirt", "us", &s_pair);
    emit("get_state", "libvirt", "us", &s_state);
    emit("get_info", "libvirt", "us", &s_info);
    emit("memory_stats", "libvirt", "us", &s_mstats);
    emit("attach_detach", "libvirt", "ms", &s_hot);
    emit("destroy", "libvirt", "ms", &s_destroy);
    virDomainUndefine(dom);
    virDomainFree(dom);

    series a_s = { 0 }, a_sd = { 0 }, c_s = { 0 }, c_sd = { 0 };
    for (int r = 0; r < scale_rounds; r++) {
        fprintf(stderr, "bench/libvirt: 20 at once, round %d/%d\n", r + 1, scale_rounds);
        add(&a_s, api_all(doms, false));
        add(&a_sd, api_all(doms, true));
        add(&c_s, virsh_all("start", "--paused"));
        add(&c_sd, virsh_all("destroy", NULL));
    }
    emit("start20_lib", "libvirt", "ms", &a_s);
    emit("destroy20_lib", "libvirt", "ms", &a_sd);
    emit("start20_cli", "libvirt", "ms", &c_s);
    emit("destroy20_cli", "libvirt", "ms", &c_sd);
    for (int i = 0; i < SCALE; i++) {
        virDomainUndefine(doms[i]);
        virDomainFree(doms[i]);
    }
    virConnectClose(conn);
    unlink(disk);
    rmdir(tmp);
    return 0;
}
