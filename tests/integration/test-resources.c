/* Memory and vCPUs against the test guest: the balloon moving `actual` and
 * the guest's MemTotal, the memory statistics tags, vCPU hotplug and unplug
 * seen in the guest's /sys/devices/system/cpu, guest-side onlining through
 * the agent, pins applied at start and live (read back with
 * sched_getaffinity on QEMU's threads), pins persisted in the config XML,
 * the CLI's virsh layouts, and the errors for bad values. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(resources, .init = setup, .fini = teardown, .timeout = 240);


/* The test guest with 2 vCPUs of which 1 is plugged at start. */
static qv_domain *define(qv_conn *conn, const char *name, const char *cputune)
{
    g_autofree char *base = itest_domain_xml(&T, name, NULL);
    GString *xml = g_string_new(base);
    g_assert(strstr(xml->str, "<vcpu>1</vcpu>"));
    g_autofree char *vcpu = g_strdup_printf("<vcpu current='1'>2</vcpu>%s", cputune ? cputune : "");
    g_string_replace(xml, "<vcpu>1</vcpu>", vcpu, 1);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_define_domain(conn, xml->str, 0, &dom, &err);
    g_string_free(xml, TRUE);
    cr_assert_eq(r, 0, "define: %s", err ? qv_error_message(err) : "?");
    return dom;
}

static char *xml_of(qv_domain *dom, unsigned int flags)
{
    char *x = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_get_xml_description(dom, flags, &x, &err), err);
    char *r = g_strdup(x);
    free(x);
    return r;
}

#define assert_fails(expr, code, text)                                                             \
    do {                                                                                           \
        qv_error *e_ = NULL;                                                                       \
        int r_ = (expr);                                                                           \
        cr_assert_eq(r_, (code), "%s returned %d (%s)", #expr, r_, e_ ? qv_error_message(e_) : "");\
        cr_assert(e_ && strstr(qv_error_message(e_), (text)), "%s: message '%s' lacks '%s'", #expr, \
                  e_ ? qv_error_message(e_) : "(none)", (text));                                   \
        qv_error_free(e_);                                                                         \
    } while (0)
/* assert_fails passes &e_ as err: */
#define ERR (&e_)

/* ---- the guest agent ------------------------------------------------------- */


/* Runs `sh -c script` in the guest; returns its stdout, *code its status. */
static char *guest_run(const char *name, const char *script, int *code)
{
    qv_qmp *ga = itest_agent_open(&T, name);
    char *out = itest_guest_run(ga, script, code);
    qv_qmp_free(ga);
    return g_strstrip(out);
}

static char *guest_sh(const char *name, const char *script)
{
    int code;
    char *out = guest_run(name, script, &code);
    cr_assert_eq(code, 0, "guest command failed (%d): %s", code, script);
    return out;
}

static long guest_memtotal_kib(const char *name)
{
    g_autofree char *s = guest_sh(name, "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo");
    return atol(s);
}

/* ---- monitor and threads ------------------------------------------------------ */

static json_object *qmp(qv_domain *dom, const char *cmd)
{
    char *reply = NULL;
    qv_error *err = NULL;
    itest_ok(qv_domain_qemu_monitor_command(dom, cmd, &reply, 0, &err), err);
    json_object *o = json_tokener_parse(reply), *ret;
    free(reply);
    cr_assert(o && json_object_object_get_ex(o, "return", &ret), "no return in the reply to %s", cmd);
    json_object_get(ret);
    json_object_put(o);
    return ret;
}

/* The thread of vCPU index, from query-cpus-fast; 0 when it is absent. */
static pid_t vcpu_tid(qv_domain *dom, int index)
{
    json_object *cpus = qmp(dom, "{\"execute\":\"query-cpus-fast\"}");
    pid_t tid = 0;
    for (size_t i = 0; i < json_object_array_length(cpus); i++) {
        json_object *c = json_object_array_get_idx(cpus, i), *v;
        if (json_object_object_get_ex(c, "cpu-index", &v) && json_object_get_int(v) == index &&
            json_object_object_get_ex(c, "thread-id", &v))
            tid = json_object_get_int(v);
    }
    json_object_put(cpus);
    return tid;
}

static int vcpu_count_qemu(qv_domain *dom)
{
    json_object *cpus = qmp(dom, "{\"execute\":\"query-cpus-fast\"}");
    int n = (int)json_object_array_length(cpus);
    json_object_put(cpus);
    return n;
}

/* The affinity of a thread as a CPU list ("0", "0-1"). */
static char *affinity(pid_t tid)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert_eq(sched_getaffinity(tid, sizeof set, &set), 0, "sched_getaffinity(%d): %s",
                 (int)tid, strerror(errno));
    unsigned char map[CPU_SETSIZE / 8] = { 0 };
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            map[c / 8] |= (unsigned char)(1u << (c % 8));
    char *s = qv_cpumap_format(map, sizeof map);
    char *r = g_strdup(s);
    free(s);
    return r;
}

static int host_cpus(void)
{
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static unsigned char *cpumap_of(const char *list, int *maplen)
{
    *maplen = QV_CPU_MAPLEN(host_cpus());
    unsigned char *map = g_malloc0((size_t)*maplen);
    qv_error *err = NULL;
    itest_ok(qv_cpumap_parse(list, map, *maplen, &err), err);
    return map;
}

static bool stat_value(qv_domain *dom, int tag, unsigned long long *val)
{
    qv_memory_stat st[QV_DOMAIN_MEMORY_STAT_NR];
    qv_error *err = NULL;
    int n = qv_domain_memory_stats(dom, st, QV_DOMAIN_MEMORY_STAT_NR, 0, &err);
    cr_assert_geq(n, 0, "memory_stats: %s", err ? qv_error_message(err) : "?");
    for (int i = 0; i < n; i++)
        if (st[i].tag == tag) {
            *val = st[i].val;
            return true;
        }
    return false;
}

/* Polls until the guest reaches the balloon target (actual == kib). */
static bool wait_actual(qv_domain *dom, unsigned long long kib, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    unsigned long long v = 0;
    while (g_get_monotonic_time() < deadline) {
        if (stat_value(dom, QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, &v) && v == kib)
            return true;
        poll(NULL, 0, 100);
    }
    return false;
}

/* The balloon word of a run's state file (lib/runtime.c: "qvstate2", 40
 * bytes, the balloon's actual size in KiB at byte 32), mapped shared as
 * every process maps it: the test reads what the supervisor recorded and
 * can write it, to prove which path memory_stats took. */
static uint64_t *map_balloon_word(const char *name)
{
    g_autofree char *p = g_build_filename(T.root, "run", "domains", name, "state", NULL);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    cr_assert_geq(fd, 0, "cannot open %s", p);
    void *m = mmap(NULL, 40, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(memcmp(m, "qvstate2", 8), 0, "not a state file with a balloon word");
    return (uint64_t *)((char *)m + 32);
}

/* Polls until the supervisor has recorded kib as the balloon's size. */
static bool wait_recorded(const uint64_t *word, uint64_t kib, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000LL;
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != kib) {
        if (g_get_monotonic_time() >= deadline)
            return false;
        poll(NULL, 0, 50);
    }
    return true;
}

#define CLI(status, ...) ITEST_CLI(&T, (status), __VA_ARGS__)

/* ---- tests ------------------------------------------------------------------- */

Test(resources, cpumap_parse_and_format)
{
    unsigned char map[2];
    cr_assert_eq(qv_cpumap_parse("0-3,^2,5", map, 2, NULL), 4);
    char *s = qv_cpumap_format(map, 2);
    cr_assert_str_eq(s, "0-1,3,5");
    free(s);
    cr_assert_eq(qv_cpumap_parse(" 7 , 9-10", map, 2, NULL), 3);
    s = qv_cpumap_format(map, 2);
    cr_assert_str_eq(s, "7,9-10");
    free(s);
    assert_fails(qv_cpumap_parse("1-", map, 2, ERR), -EINVAL, "is not a CPU list");
    assert_fails(qv_cpumap_parse("3-1", map, 2, ERR), -EINVAL, "is not a CPU list");
    assert_fails(qv_cpumap_parse("0,^0", map, 2, ERR), -EINVAL, "selects no CPU");
    assert_fails(qv_cpumap_parse("16", map, 2, ERR), -EINVAL, "beyond the 16 CPUs");
}

Test(resources, shut_off_domain_config_and_errors)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "cfg", NULL);
    qv_error *err = NULL;

    /* Counts of the config. */
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_MAXIMUM, &err), 2);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, 0, &err), 1);
    itest_ok(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_CONFIG, &err), err);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_CONFIG, &err), 2);
    itest_ok(qv_domain_set_vcpus(dom, 3, QV_DOMAIN_VCPU_CONFIG | QV_DOMAIN_VCPU_MAXIMUM, &err), err);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_MAXIMUM, &err), 3);
    itest_ok(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_MAXIMUM, &err), err);
    itest_ok(qv_domain_set_vcpus(dom, 1, 0, &err), err);
    g_autofree char *x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(x, "<vcpu placement='static' current='1'>2</vcpu>"), "%s", x);

    /* Bad values. */
    assert_fails(qv_domain_set_vcpus(dom, 0, 0, ERR), -EINVAL, "at least one vCPU");
    assert_fails(qv_domain_set_vcpus(dom, 3, QV_DOMAIN_VCPU_CONFIG, ERR), -EINVAL,
                 "its configured maximum is 2");
    assert_fails(qv_domain_set_vcpus(dom, 1, QV_DOMAIN_VCPU_LIVE, ERR), -EINVAL, "not running");
    assert_fails(qv_domain_set_vcpus(dom, 1, QV_DOMAIN_VCPU_GUEST | QV_DOMAIN_VCPU_CONFIG, ERR),
                 -EINVAL, "excludes the config");
    assert_fails(qv_domain_set_memory(dom, 512 * 1024, QV_DOMAIN_MEM_CONFIG, ERR), -EINVAL,
                 "its maximum is 262144 KiB");
    assert_fails(qv_domain_set_memory(dom, 0, 0, ERR), -EINVAL, "out of range");
    assert_fails(qv_domain_set_memory(dom, 1024, QV_DOMAIN_MEM_LIVE, ERR), -EINVAL, "not running");
    assert_fails(qv_domain_set_memory_stats_period(dom, -1, 0, ERR), -EINVAL, "0 or more");
    assert_fails(qv_domain_get_vcpu_info(dom, NULL, 0, NULL, 0, 0, ERR), -EINVAL, "not running");

    /* Memory in the config. */
    itest_ok(qv_domain_set_memory(dom, 300 * 1024, QV_DOMAIN_MEM_MAXIMUM, &err), err);
    itest_ok(qv_domain_set_memory(dom, 200 * 1024, QV_DOMAIN_MEM_CONFIG, &err), err);
    itest_ok(qv_domain_set_memory_stats_period(dom, 5, QV_DOMAIN_AFFECT_CONFIG, &err), err);
    g_free(x);
    x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(x, "<memory unit='KiB'>307200</memory>"), "%s", x);
    cr_assert(strstr(x, "<currentMemory unit='KiB'>204800</currentMemory>"), "%s", x);
    cr_assert(strstr(x, "<stats period='5'/>"), "%s", x);
    itest_ok(qv_domain_set_memory(dom, 100 * 1024, QV_DOMAIN_MEM_MAXIMUM, &err), err);
    g_free(x);
    x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(x, "<currentMemory unit='KiB'>102400</currentMemory>"),
              "current memory follows a lower maximum: %s", x);

    /* Pins in the config. */
    int maplen;
    g_autofree unsigned char *cpu0 = cpumap_of("0", &maplen);
    itest_ok(qv_domain_pin_vcpu(dom, 1, cpu0, maplen, QV_DOMAIN_AFFECT_CONFIG, &err), err);
    itest_ok(qv_domain_pin_emulator(dom, cpu0, maplen, 0, &err), err);
    assert_fails(qv_domain_pin_vcpu(dom, 2, cpu0, maplen, 0, ERR), -EINVAL,
                 "its configured maximum is 2");
    g_autofree unsigned char *empty = g_malloc0((size_t)maplen);
    assert_fails(qv_domain_pin_vcpu(dom, 0, empty, maplen, 0, ERR), -EINVAL, "selects no CPU");
    g_free(x);
    x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(x, "<vcpupin vcpu=") && strstr(x, "<emulatorpin cpuset="), "%s", x);
    g_autofree unsigned char *maps = g_malloc0(2 * (size_t)maplen);
    cr_assert_eq(qv_domain_get_vcpu_pin_info(dom, 2, maps, maplen, QV_DOMAIN_AFFECT_CONFIG, &err), 2);
    char *s0 = qv_cpumap_format(maps, maplen), *s1 = qv_cpumap_format(maps + maplen, maplen);
    g_autofree char *all = g_strdup_printf("0-%d", host_cpus() - 1);
    cr_assert_str_eq(s0, host_cpus() > 1 ? all : "0", "vCPU 0 is unpinned");
    cr_assert_str_eq(s1, "0");
    free(s0);
    free(s1);
    /* A lower maximum drops the pins of the vCPUs that go. */
    itest_ok(qv_domain_set_vcpus(dom, 1, QV_DOMAIN_VCPU_MAXIMUM, &err), err);
    g_free(x);
    x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(!strstr(x, "<vcpupin") && strstr(x, "<emulatorpin"), "%s", x);

    /* The CLI on a shut off domain. */
    int st;
    g_autofree char *out = CLI(&st, "vcpucount", "cfg");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "maximum      config         1\ncurrent      config         1\n\n");
    g_free(out);
    out = CLI(&st, "setmem", "cfg", "90M", "--config");
    cr_assert_eq(st, 0, "%s", out);
    g_free(x);
    x = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
    cr_assert(strstr(x, "<currentMemory unit='KiB'>92160</currentMemory>"), "%s", x);
    g_free(out);
    out = CLI(&st, "setmem", "cfg", "12X");
    cr_assert_neq(st, 0);
    cr_assert(strstr(out, "error: Scaled numeric value '12X' for <size> option is malformed"), "%s", out);
    g_free(out);
    out = CLI(&st, "setmaxmem", "cfg", "1G", "--current", "--live");
    cr_assert_neq(st, 0);
    cr_assert(strstr(out, "mutually exclusive"), "%s", out);
    g_free(out);
    out = CLI(&st, "vcpuinfo", "cfg");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(g_str_has_prefix(out, "VCPU:           0\nCPU:            N/A\nState:          N/A\n"),
              "%s", out);
    g_free(out);
    out = CLI(&st, "emulatorpin", "cfg");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "emulator: CPU Affinity\n----------------------------------\n       *: 0\n\n");

    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(resources, running_guest)
{
    bool two = host_cpus() >= 2;
    qv_conn *conn = itest_open(&T);
    /* vCPU 0 on CPU 1 and the emulator on CPU 0 from the start. */
    qv_domain *dom = define(conn, "res", two ? "\n  <cputune><vcpupin vcpu='0' cpuset='1'/>"
                                               "<emulatorpin cpuset='0'/></cputune>" : NULL);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, 0, &err), err);
    pid_t qemu = (pid_t)itest_status_field(&T, "res", "qemu_pid");
    cr_assert_gt(qemu, 0);

    /* ---- pins applied at start, then live ---- */
    pid_t tid0 = vcpu_tid(dom, 0);
    cr_assert_gt(tid0, 0);
    if (two) {
        g_autofree char *a = affinity(tid0);
        cr_assert_str_eq(a, "1", "vCPU 0 thread starts pinned to CPU 1");
        g_autofree char *e = affinity(qemu);
        cr_assert_str_eq(e, "0", "the emulator starts pinned to CPU 0");
        int maplen;
        g_autofree unsigned char *cpu0 = cpumap_of("0", &maplen);
        itest_ok(qv_domain_pin_vcpu(dom, 0, cpu0, maplen, QV_DOMAIN_AFFECT_LIVE, &err), err);
        g_free(a);
        a = affinity(tid0);
        cr_assert_str_eq(a, "0", "live pin moved vCPU 0 to CPU 0");
        g_autofree unsigned char *both = cpumap_of("0-1", &maplen);
        itest_ok(qv_domain_pin_emulator(dom, both, maplen, 0, &err), err);
        g_free(e);
        e = affinity(qemu);
        cr_assert_str_eq(e, "0-1");
        g_autofree char *live = xml_of(dom, 0);
        g_autofree char *cfg = xml_of(dom, QV_DOMAIN_XML_INACTIVE);
        cr_assert(strstr(live, "<vcpupin vcpu=\"0\" cpuset=\"0\"/>") ||
                  strstr(live, "<vcpupin vcpu='0' cpuset='0'/>"), "%s", live);
        cr_assert(strstr(cfg, "cpuset=\"1\"") || strstr(cfg, "cpuset='1'"),
                  "a live pin leaves the config alone: %s", cfg);
        unsigned char map[8];
        cr_assert_eq(qv_domain_get_emulator_pin_info(dom, map, 1, 0, &err), 1);
        cr_assert_eq(map[0] & 3, 3);
        assert_fails(qv_domain_pin_vcpu(dom, 1, cpu0, maplen, QV_DOMAIN_AFFECT_LIVE, ERR), -EINVAL,
                     "not plugged in");
    }
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 60000), "the guest did not boot");

    /* ---- CPU accounting: the totals, and per host CPU summing to the threads' ---- */
    qv_cpu_stats total;
    cr_assert_eq(qv_domain_get_cpu_stats(dom, &total, -1, 1, 0, &err), 1, "%s",
                 err ? qv_error_message(err) : "");
    cr_assert_gt(total.vcpu_time, 0, "a guest that booted has vCPU time");
    cr_assert_geq(total.cpu_time, total.vcpu_time);
    cr_assert_gt(total.user_time + total.system_time, 0);
    int ncpus = qv_domain_get_cpu_stats(dom, NULL, 0, 0, 0, &err);
    cr_assert_eq(ncpus, host_cpus());
    g_autofree qv_cpu_stats *rows = g_new0(qv_cpu_stats, (gsize)ncpus);
    cr_assert_eq(qv_domain_get_cpu_stats(dom, rows, 0, (unsigned int)ncpus, 0, &err), ncpus);
    unsigned long long per_cpu_vcpu = 0;
    for (int i = 0; i < ncpus; i++)
        per_cpu_vcpu += rows[i].vcpu_time;
    cr_assert_geq(per_cpu_vcpu, total.vcpu_time, "per-CPU vCPU time %llu < total %llu (read first)",
                  per_cpu_vcpu, total.vcpu_time);
    assert_fails(qv_domain_get_cpu_stats(dom, rows, ncpus, 1, 0, ERR), -EINVAL, "out of range");

    /* ---- tunables live: a clear sentence when the host has no cgroup v2
     * at all, or one without the controllers (bound to cgroup v1) ---- */
    g_autofree char *mountinfo = NULL;
    g_file_get_contents("/proc/self/mountinfo", &mountinfo, NULL, NULL);
    const char *v2 = mountinfo ? strstr(mountinfo, " - cgroup2 ") : NULL;
    qv_sched_params sp;
    qv_memory_params mp = { .fields = QV_MEMORY_HARD_LIMIT, .hard_limit = 1 << 20 };
    if (!v2) {
        assert_fails(qv_domain_get_scheduler_parameters(dom, &sp, QV_DOMAIN_AFFECT_LIVE, ERR),
                     -ENOTSUP, "it runs without a cgroup: no cgroup v2 hierarchy is mounted");
        assert_fails(qv_domain_set_memory_parameters(dom, &mp, QV_DOMAIN_AFFECT_LIVE, ERR),
                     -ENOTSUP, "cannot set the memory parameters of domain 'res' live");
    } else if (qv_domain_get_scheduler_parameters(dom, &sp, QV_DOMAIN_AFFECT_LIVE, NULL) < 0) {
        /* A hybrid host (systemd's /sys/fs/cgroup/unified): the domain has
         * its group, the hierarchy has no cpu controller. */
        assert_fails(qv_domain_get_scheduler_parameters(dom, &sp, QV_DOMAIN_AFFECT_LIVE, ERR),
                     -ENOENT, "the cpu controller is not available in the cgroup v2 hierarchy");
    }

    /* ---- memory statistics ---- */
    unsigned long long v = 0;
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!(stat_value(dom, QV_DOMAIN_MEMORY_STAT_LAST_UPDATE, &v) && v > 0) &&
           g_get_monotonic_time() < deadline)
        poll(NULL, 0, 200);
    static const int tags[] = {
        QV_DOMAIN_MEMORY_STAT_SWAP_IN, QV_DOMAIN_MEMORY_STAT_SWAP_OUT,
        QV_DOMAIN_MEMORY_STAT_MAJOR_FAULT, QV_DOMAIN_MEMORY_STAT_MINOR_FAULT,
        QV_DOMAIN_MEMORY_STAT_UNUSED, QV_DOMAIN_MEMORY_STAT_AVAILABLE,
        QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, QV_DOMAIN_MEMORY_STAT_RSS,
        QV_DOMAIN_MEMORY_STAT_USABLE, QV_DOMAIN_MEMORY_STAT_LAST_UPDATE,
        QV_DOMAIN_MEMORY_STAT_DISK_CACHES, QV_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC,
        QV_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(tags); i++)
        cr_assert(stat_value(dom, tags[i], &v), "memory stat tag %d is missing", tags[i]);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, &v) && v == 262144);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_RSS, &v) && v > 0);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_AVAILABLE, &v) && v > 100000 && v <= 262144,
              "guest total %llu KiB", v);

    /* ---- the balloon's size kept by the supervisor ---- */
    /* It asked QEMU once after its handshake (no BALLOON_CHANGE yet). */
    uint64_t *bw = map_balloon_word("res");
    cr_assert(wait_recorded(bw, 262144, 5000), "the supervisor recorded %llu KiB, not 262144",
              (unsigned long long)__atomic_load_n(bw, __ATOMIC_ACQUIRE));
    /* memory_stats takes the recorded size (and asks QEMU only for the
     * guest stats): a value planted in the word is what it reports... */
    __atomic_store_n(bw, 123456, __ATOMIC_RELEASE);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, &v) && v == 123456,
              "memory_stats did not read the recorded size: %llu", v);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_LAST_UPDATE, &v) && v > 0,
              "the guest stats still come with it");
    /* ...and unknown (0) falls back to query-balloon. */
    __atomic_store_n(bw, 0, __ATOMIC_RELEASE);
    cr_assert(stat_value(dom, QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, &v) && v == 262144,
              "the query-balloon fallback reported %llu", v);

    /* ---- the balloon ---- */
    long before = guest_memtotal_kib("res");
    itest_ok(qv_domain_set_memory(dom, 200 * 1024, QV_DOMAIN_MEM_LIVE, &err), err);
    cr_assert(wait_actual(dom, 200 * 1024, 30000), "the balloon did not reach 200 MiB");
    /* BALLOON_CHANGE moved the recorded size (QEMU throttles the event to
     * one a second, so it may trail query-balloon by that much). */
    cr_assert(wait_recorded(bw, 200 * 1024, 3000), "the recorded size is %llu KiB after setmem",
              (unsigned long long)__atomic_load_n(bw, __ATOMIC_ACQUIRE));
    long after = guest_memtotal_kib("res");
    cr_assert_lt(after, before - 40000, "guest MemTotal %ld -> %ld KiB", before, after);
    g_autofree char *lx = xml_of(dom, 0);
    cr_assert(strstr(lx, "<currentMemory unit='KiB'>204800</currentMemory>"), "%s", lx);
    qv_domain_info info;
    itest_ok(qv_domain_get_info(dom, &info, &err), err);
    cr_assert_eq(info.memory, 204800);
    itest_ok(qv_domain_set_memory(dom, 256 * 1024, 0, &err), err);
    cr_assert(wait_actual(dom, 256 * 1024, 30000), "the balloon did not deflate");
    cr_assert(wait_recorded(bw, 256 * 1024, 3000), "the recorded size did not follow");
    cr_assert_geq(guest_memtotal_kib("res"), before - 1024, "MemTotal came back");
    assert_fails(qv_domain_set_memory(dom, 512 * 1024, QV_DOMAIN_MEM_LIVE, ERR), -EINVAL,
                 "its maximum is 262144 KiB");
    assert_fails(qv_domain_set_memory(dom, 128 * 1024, QV_DOMAIN_MEM_MAXIMUM, ERR), -EINVAL,
                 "cannot change the maximum memory of running domain");
    itest_ok(qv_domain_set_memory_stats_period(dom, 3, QV_DOMAIN_AFFECT_LIVE, &err), err);
    json_object *p = qmp(dom, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":"
                              "\"/machine/peripheral/balloon0\",\"property\":"
                              "\"guest-stats-polling-interval\"}}");
    cr_assert_eq(json_object_get_int(p), 3);
    json_object_put(p);

    /* ---- vCPU hotplug ---- */
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_LIVE, &err), 1);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_LIVE | QV_DOMAIN_VCPU_MAXIMUM, &err), 2);
    assert_fails(qv_domain_set_vcpus(dom, 3, QV_DOMAIN_VCPU_LIVE, ERR), -EINVAL, "its maximum is 2");
    assert_fails(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_MAXIMUM, ERR), -EINVAL,
                 "cannot change the maximum vCPU count");
    g_autofree char *present = guest_sh("res", "cat /sys/devices/system/cpu/present");
    cr_assert_str_eq(present, "0");
    if (two) {
        /* QEMU's main thread creates vCPU threads: narrow it first. */
        int ml;
        g_autofree unsigned char *cpu0 = cpumap_of("0", &ml);
        itest_ok(qv_domain_pin_emulator(dom, cpu0, ml, QV_DOMAIN_AFFECT_LIVE, &err), err);
    }
    itest_ok(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_LIVE, &err), err);
    cr_assert_eq(vcpu_count_qemu(dom), 2);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_LIVE, &err), 2);
    /* The guest sees the new CPU (ACPI hotplug); nothing onlines it. */
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    do {
        g_free(present);
        present = guest_sh("res", "cat /sys/devices/system/cpu/present");
    } while (strcmp(present, "0-1") && g_get_monotonic_time() < deadline && !poll(NULL, 0, 100));
    cr_assert_str_eq(present, "0-1", "the plugged vCPU is present in the guest");
    g_autofree char *cpu1 = guest_sh("res", "cat /sys/devices/system/cpu/cpu1/online");
    cr_assert_str_eq(cpu1, "0");
    if (two) {
        /* A plugged vCPU does not inherit the emulator's pin. */
        g_autofree char *a1 = affinity(vcpu_tid(dom, 1));
        g_autofree char *all = g_strdup_printf("0-%d", host_cpus() - 1);
        cr_assert_str_eq(a1, all);
        g_autofree char *e = affinity(qemu);
        cr_assert_str_eq(e, "0");
    }
    qv_vcpu_info vi[4];
    int maplen = QV_CPU_MAPLEN(host_cpus());
    g_autofree unsigned char *maps = g_malloc0(4 * (size_t)maplen);
    cr_assert_eq(qv_domain_get_vcpu_info(dom, vi, 4, maps, maplen, 0, &err), 2);
    cr_assert_eq(vi[0].number, 0);
    cr_assert_eq(vi[1].number, 1);
    cr_assert_eq(vi[0].state, QV_VCPU_RUNNING);
    cr_assert_gt(vi[0].cpu_time, 0);
    cr_assert(vi[0].cpu >= 0 && vi[0].cpu < host_cpus());

    /* ---- vCPUs in the guest, through the agent ---- */
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_GUEST, &err), 1);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_GUEST | QV_DOMAIN_VCPU_MAXIMUM, &err), 2);
    itest_ok(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_GUEST, &err), err);
    g_autofree char *online = guest_sh("res", "cat /sys/devices/system/cpu/online");
    cr_assert_str_eq(online, "0-1");
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_GUEST, &err), 2);
    assert_fails(qv_domain_set_vcpus(dom, 3, QV_DOMAIN_VCPU_GUEST, ERR), -EINVAL, "has 2 vCPUs");

    /* ---- the CLI on the running guest ---- */
    int st;
    g_autofree char *out = CLI(&st, "vcpucount", "res");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "maximum      config         2\nmaximum      live           2\n"
                          "current      config         1\ncurrent      live           2\n\n");
    g_free(out);
    out = CLI(&st, "vcpuinfo", "res");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(g_str_has_prefix(out, "VCPU:           0\nCPU:            "), "%s", out);
    cr_assert(strstr(out, "\nState:          running\n") && strstr(out, "\n\nVCPU:           1\n") &&
              strstr(out, "CPU Affinity:   "), "%s", out);
    g_free(out);
    out = CLI(&st, "--json", "vcpuinfo", "res");
    cr_assert_eq(st, 0, "%s", out);
    json_object *j = json_tokener_parse(out);
    cr_assert(j && json_object_array_length(j) == 2, "%s", out);
    json_object_put(j);
    g_free(out);
    out = CLI(&st, "dommemstat", "res");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(g_str_has_prefix(out, "actual 262144\nswap_in "), "%s", out);
    cr_assert(strstr(out, "\nrss ") && strstr(out, "\nusable ") && strstr(out, "\nlast_update "),
              "%s", out);
    g_free(out);
    out = CLI(&st, "vcpupin", "res", "--live");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(g_str_has_prefix(out, " VCPU   CPU Affinity\n----------------------\n 0      "), "%s", out);
    g_free(out);
    out = CLI(&st, "vcpupin", "res", "1", "0", "--live");
    cr_assert_eq(st, 0, "%s", out);
    g_autofree char *a1 = affinity(vcpu_tid(dom, 1));
    cr_assert_str_eq(a1, "0", "qvirt vcpupin pinned vCPU 1");
    g_free(out);
    out = CLI(&st, "setmem", "res", "220M", "--live");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(wait_actual(dom, 220 * 1024, 30000), "qvirt setmem did not move the balloon");
    cr_assert(wait_recorded(bw, 220 * 1024, 3000), "the recorded size did not follow setmem");
    munmap((char *)bw - 32, 40);

    /* ---- vCPU unplug ---- */
    itest_ok(qv_domain_set_vcpus(dom, 1, QV_DOMAIN_VCPU_GUEST, &err), err);
    g_free(online);
    online = guest_sh("res", "cat /sys/devices/system/cpu/online");
    cr_assert_str_eq(online, "0");
    itest_ok(qv_domain_set_vcpus(dom, 1, QV_DOMAIN_VCPU_LIVE, &err), err);
    cr_assert_eq(vcpu_count_qemu(dom), 1);
    cr_assert_eq(qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_LIVE, &err), 1);
    g_free(present);
    present = guest_sh("res", "cat /sys/devices/system/cpu/present; test -e /sys/devices/system/cpu/cpu1 && echo cpu1 || true");
    cr_assert_str_eq(present, "0", "the guest released vCPU 1");
    /* The vCPU there at start cannot go; QEMU 7.2 with TCG crashes when
     * the unplugged slot is plugged again, which qvirt refuses. */
    assert_fails(qv_domain_set_vcpus(dom, 2, QV_DOMAIN_VCPU_LIVE, ERR), -ENOTSUP,
                 "restart the domain");
    int state;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_RUNNING);

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}
