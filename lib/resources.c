/* Memory and vCPUs of domains (qvirt-resources.h).
 *
 * vCPUs: counts (hotplug through query-hotpluggable-cpus and
 * device_add/device_del, guest-side onlining through the agent), the vCPU
 * threads QEMU reports in query-cpus-fast, and CPU pinning of vCPU and
 * emulator threads with sched_setaffinity, stored as libvirt's
 * <cputune><vcpupin/><emulatorpin/></cputune> and applied at start. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "qv-process.h"

#define AGENT_TIMEOUT_MS 10000
/* A TCG guest takes a few seconds to eject a CPU. */
#define UNPLUG_TIMEOUT_MS 20000
/* One wait for an event before the unplug looks again. */
#define UNPLUG_POLL_MS 250
/* Maps parsed from the XML are this wide; the kernel ignores absent CPUs. */
#define WIDE_CPUS 4096
#define WIDE_MAPLEN QV_CPU_MAPLEN(WIDE_CPUS)


static int host_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    return n > 0 ? (int)n : 1;
}

/* ---- CPU maps --------------------------------------------------------------- */

static bool map_get(const unsigned char *map, int maplen, unsigned int cpu)
{
    return cpu / 8 < (unsigned int)maplen && (map[cpu / 8] >> (cpu % 8)) & 1;
}

static void map_put(unsigned char *map, unsigned int cpu, bool on)
{
    if (on)
        map[cpu / 8] |= (unsigned char)(1u << (cpu % 8));
    else
        map[cpu / 8] &= (unsigned char)~(1u << (cpu % 8));
}

static int map_count(const unsigned char *map, int maplen)
{
    int n = 0;
    for (int i = 0; i < maplen; i++)
        n += __builtin_popcount(map[i]);
    return n;
}

static bool parse_cpu_number(const char **p, unsigned int *out)
{
    if (!g_ascii_isdigit(**p))
        return false;
    char *end;
    unsigned long long v = g_ascii_strtoull(*p, &end, 10);
    if (v > G_MAXINT)
        return false;
    *out = (unsigned int)v;
    *p = end;
    return true;
}

int qv_cpumap_parse(const char *list, unsigned char *cpumap, int maplen, qv_error **err)
{
    if (!list || !cpumap || maplen <= 0)
        return qv_error_set(err, -EINVAL, "qv_cpumap_parse: list, cpumap and maplen are required");
    memset(cpumap, 0, (size_t)maplen);
    const unsigned int nbits = (unsigned int)maplen * 8;
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);
    for (char **part = parts; *part; part++) {
        const char *p = g_strstrip(*part);
        bool neg = *p == '^';
        if (neg)
            p++;
        unsigned int a, b;
        if (!parse_cpu_number(&p, &a))
            return qv_error_set(err, -EINVAL, "'%s' is not a CPU list (as in 0-3,^2,5)", list);
        b = a;
        if (*p == '-') {
            p++;
            if (!parse_cpu_number(&p, &b) || b < a)
                return qv_error_set(err, -EINVAL, "'%s' is not a CPU list (as in 0-3,^2,5)", list);
        }
        if (*p)
            return qv_error_set(err, -EINVAL, "'%s' is not a CPU list (as in 0-3,^2,5)", list);
        if (b >= nbits)
            return qv_error_set(err, -EINVAL, "CPU list '%s': CPU %u is beyond the %u CPUs of the map",
                                list, b, nbits);
        for (unsigned int c = a; c <= b; c++)
            map_put(cpumap, c, !neg);
    }
    int n = map_count(cpumap, maplen);
    if (n == 0)
        return qv_error_set(err, -EINVAL, "CPU list '%s' selects no CPU", list);
    return n;
}

char *qv_cpumap_format(const unsigned char *cpumap, int maplen)
{
    GString *s = g_string_new(NULL);
    unsigned int nbits = maplen > 0 ? (unsigned int)maplen * 8 : 0;
    for (unsigned int c = 0; cpumap && c < nbits; c++) {
        if (!map_get(cpumap, maplen, c))
            continue;
        unsigned int e = c;
        while (e + 1 < nbits && map_get(cpumap, maplen, e + 1))
            e++;
        g_string_append_printf(s, "%s%u", s->len ? "," : "", c);
        if (e > c)
            g_string_append_printf(s, "-%u", e);
        c = e;
    }
    g_autofree char *r = g_string_free(s, FALSE);
    return strdup(r);
}

int qv_conn_get_node_cpu_map(qv_conn *conn, unsigned char **cpumap, unsigned int *online,
                             unsigned int flags, qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_get_node_cpu_map(conn, cpumap, online, flags, err));
    if (!conn)
        return qv_error_set(err, -EINVAL, "qv_conn_get_node_cpu_map: conn is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_conn_get_node_cpu_map: flags must be 0");
    int n = host_ncpus();
    int maplen = QV_CPU_MAPLEN(n);
    g_autofree unsigned char *map = g_malloc0((size_t)maplen);
    g_autofree char *text = NULL;
    if (qv_read_file("/sys/devices/system/cpu/online", 4096, &text, NULL, NULL) < 0 ||
        qv_cpumap_parse(g_strstrip(text), map, maplen, NULL) < 0) {
        /* No sysfs: every CPU sysconf counts is taken as online. */
        for (int c = 0; c < n; c++)
            map_put(map, (unsigned int)c, true);
    }
    if (online)
        *online = (unsigned int)map_count(map, maplen);
    if (cpumap) {
        *cpumap = malloc((size_t)maplen);
        memcpy(*cpumap, map, (size_t)maplen);
    }
    return n;
}

/* A pin must name at least one CPU of this host and none beyond them. */
static int check_pin_map(const unsigned char *cpumap, int maplen, qv_error **err)
{
    if (!cpumap || maplen <= 0)
        return qv_error_set(err, -EINVAL, "a CPU map and its length are required");
    int n = host_ncpus();
    for (unsigned int c = (unsigned int)n; c < (unsigned int)maplen * 8; c++)
        if (map_get(cpumap, maplen, c))
            return qv_error_set(err, -EINVAL, "CPU %u does not exist: this host has CPUs 0-%d",
                                c, n - 1);
    if (map_count(cpumap, maplen) == 0)
        return qv_error_set(err, -EINVAL, "the CPU map selects no CPU: a thread needs at least one");
    return 0;
}

/* ---- thread affinity ------------------------------------------------------------ */

static int set_affinity(pid_t tid, const unsigned char *map, int maplen)
{
    int nbits = MAX(maplen * 8, WIDE_CPUS);
    cpu_set_t *set = CPU_ALLOC(nbits);
    size_t size = CPU_ALLOC_SIZE(nbits);
    CPU_ZERO_S(size, set);
    for (int c = 0; c < maplen * 8; c++)
        if (map_get(map, maplen, (unsigned int)c))
            CPU_SET_S(c, size, set);
    int r = sched_setaffinity(tid, size, set) < 0 ? -errno : 0;
    CPU_FREE(set);
    return r;
}

static int get_affinity(pid_t tid, unsigned char *map, int maplen)
{
    int nbits = MAX(maplen * 8, WIDE_CPUS);
    cpu_set_t *set = CPU_ALLOC(nbits);
    size_t size = CPU_ALLOC_SIZE(nbits);
    CPU_ZERO_S(size, set);
    int r = sched_getaffinity(tid, size, set) < 0 ? -errno : 0;
    memset(map, 0, (size_t)maplen);
    for (int c = 0; r == 0 && c < maplen * 8; c++)
        if (CPU_ISSET_S(c, size, set))
            map_put(map, (unsigned int)c, true);
    CPU_FREE(set);
    return r;
}

/* ---- <cputune> ------------------------------------------------------------------ */

/* The cpuset of the vCPU's pin (vcpu >= 0) or the emulator pin (vcpu < 0). */
static const char *cputune_get(const qv_domdef *def, int vcpu)
{
    if (vcpu < 0)
        return def->cputune.emulatorpin;
    for (guint i = 0; def->cputune.vcpupins && i < def->cputune.vcpupins->len; i++) {
        const qv_domdef_pin *p = def->cputune.vcpupins->pdata[i];
        if (p->id == (unsigned int)vcpu)
            return p->cpuset;
    }
    return NULL;
}

static int pin_cmp(gconstpointer a, gconstpointer b)
{
    const qv_domdef_pin *x = *(qv_domdef_pin *const *)a, *y = *(qv_domdef_pin *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sets (cpuset not NULL) or removes a pin in def's <cputune>. drop_from >= 0
 * instead removes the pins of every vCPU at or above it. */
static void cputune_update(qv_domdef *def, int vcpu, const char *cpuset, int drop_from)
{
    qv_domdef_cputune *ct = &def->cputune;
    if (drop_from < 0 && vcpu < 0) {
        g_free(ct->emulatorpin);
        ct->emulatorpin = g_strdup(cpuset);
        return;
    }
    if (!ct->vcpupins)
        ct->vcpupins = g_ptr_array_new_with_free_func((GDestroyNotify)qv_domdef_pin_free);
    for (guint i = ct->vcpupins->len; i > 0; i--) {
        qv_domdef_pin *p = ct->vcpupins->pdata[i - 1];
        if (drop_from >= 0 ? p->id >= (unsigned int)drop_from : p->id == (unsigned int)vcpu)
            g_ptr_array_remove_index(ct->vcpupins, i - 1);
    }
    if (drop_from < 0 && cpuset) {
        qv_domdef_pin *p = g_new0(qv_domdef_pin, 1);
        p->id = (unsigned int)vcpu;
        p->cpuset = g_strdup(cpuset);
        g_ptr_array_add(ct->vcpupins, p);
        g_ptr_array_sort(ct->vcpupins, pin_cmp); /* libvirt's order */
    }
}

/* The CPU list that applies to a vCPU (vcpu >= 0) or the emulator: its pin,
 * else <vcpu cpuset>, else NULL for every CPU. */
static char *def_pin(const qv_domdef *def, int vcpu)
{
    const char *s = cputune_get(def, vcpu);
    return g_strdup(s ? s : def->vcpu_cpuset);
}

/* def_pin as a map of maplen bytes; every host CPU when there is no pin. */
static int def_pin_map(const qv_domdef *def, int vcpu, unsigned char *map, int maplen,
                       qv_error **err)
{
    g_autofree char *list = def_pin(def, vcpu);
    memset(map, 0, (size_t)maplen);
    if (!list) {
        int n = MIN(host_ncpus(), maplen * 8);
        for (int c = 0; c < n; c++)
            map_put(map, (unsigned int)c, true);
        return 0;
    }
    g_autofree unsigned char *wide = g_malloc0(WIDE_MAPLEN);
    int r = qv_cpumap_parse(list, wide, WIDE_MAPLEN, err);
    if (r < 0)
        return r;
    memcpy(map, wide, (size_t)MIN(maplen, WIDE_MAPLEN));
    return 0;
}

/* ---- QEMU's threads ---------------------------------------------------------------- */

typedef struct vcpu_thread {
    unsigned int index;
    pid_t tid;
} vcpu_thread;

static gint cmp_thread(gconstpointer a, gconstpointer b)
{
    const vcpu_thread *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The online vCPUs and their threads, by index, from query-cpus-fast. */
static GArray *vcpu_threads_from(json_object *cpus)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(vcpu_thread));
    for (size_t i = 0; json_object_is_type(cpus, json_type_array) &&
                       i < json_object_array_length(cpus); i++) {
        json_object *c = json_object_array_get_idx(cpus, i), *idx, *tid;
        if (!json_object_object_get_ex(c, "cpu-index", &idx) ||
            !json_object_object_get_ex(c, "thread-id", &tid))
            continue;
        vcpu_thread t = { (unsigned int)json_object_get_int(idx), (pid_t)json_object_get_int(tid) };
        g_array_append_val(a, t);
    }
    g_array_sort(a, cmp_thread);
    return a;
}

static int query_vcpu_threads(qv_qmp *qmp, GArray **ret, qv_error **err)
{
    g_autoptr(json_object) cpus = NULL;
    int r = qv_qmp_call(qmp, "query-cpus-fast", NULL, 0, &cpus, err);
    if (r < 0)
        return r;
    *ret = vcpu_threads_from(cpus);
    return 0;
}

static int with_vcpu_threads(qv_domain *dom, GArray **ret, qv_error **err)
{
    qv_qmp *qmp;
    int lock;
    int r = qv_domain_qmp_open(dom, &qmp, &lock, err);
    if (r < 0)
        return r;
    r = query_vcpu_threads(qmp, ret, err);
    qv_domain_qmp_close(qmp, lock);
    return r;
}

static const vcpu_thread *find_thread(GArray *threads, unsigned int index)
{
    for (guint i = 0; i < threads->len; i++)
        if (g_array_index(threads, vcpu_thread, i).index == index)
            return &g_array_index(threads, vcpu_thread, i);
    return NULL;
}

static bool is_vcpu_tid(GArray *threads, pid_t tid)
{
    for (guint i = 0; i < threads->len; i++)
        if (g_array_index(threads, vcpu_thread, i).tid == tid)
            return true;
    return false;
}

/* Applies map to every QEMU thread that is not a vCPU. Threads that end
 * meanwhile are no error. */
static int pin_emulator_threads(pid_t pid, GArray *threads, const unsigned char *map, int maplen,
                                qv_error **err)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (!d)
        return qv_error_set(err, -ESRCH, "cannot list the threads of QEMU (pid %d)", (int)pid);
    const char *n;
    while ((n = g_dir_read_name(d))) {
        pid_t tid = (pid_t)g_ascii_strtoll(n, NULL, 10);
        if (tid <= 0 || is_vcpu_tid(threads, tid))
            continue;
        int r = set_affinity(tid, map, maplen);
        if (r < 0 && r != -ESRCH)
            return qv_error_set_errno(err, r, "cannot set the affinity of QEMU thread %d", (int)tid);
    }
    return 0;
}

static int pin_vcpu_thread(const vcpu_thread *t, const unsigned char *map, int maplen,
                           qv_error **err)
{
    int r = set_affinity(t->tid, map, maplen);
    if (r < 0)
        return qv_error_set_errno(err, r, "cannot set the affinity of vCPU %u (thread %d)",
                                  t->index, (int)t->tid);
    return 0;
}

/* Pins the given vCPU threads as def says (every host CPU without a pin:
 * a plugged vCPU would otherwise inherit the emulator's pin). */
static int apply_vcpu_pins(const qv_domdef *def, GArray *threads, bool only_pinned, qv_error **err)
{
    g_autofree unsigned char *map = g_malloc0(WIDE_MAPLEN);
    for (guint i = 0; i < threads->len; i++) {
        const vcpu_thread *t = &g_array_index(threads, vcpu_thread, i);
        g_autofree char *list = only_pinned ? def_pin(def, (int)t->index) : NULL;
        if (only_pinned && !list)
            continue;
        int r = def_pin_map(def, (int)t->index, map, WIDE_MAPLEN, err);
        if (r >= 0)
            r = pin_vcpu_thread(t, map, WIDE_MAPLEN, err);
        if (r < 0)
            return r;
    }
    return 0;
}

void qv_tuning_clear(qv_tuning *t)
{
    g_clear_pointer(&t->vcpus, g_array_unref);
    g_clear_pointer(&t->iothreads, json_object_put);
}

/* One round trip: the balloon's period, and what the placement needs to
 * know of QEMU's threads. */
int qv_domain_tuning_query(qv_qmp *qmp, const qv_domdef *def, const qv_vmcg *cg, qv_tuning *t,
                           qv_error **err)
{
    qv_qmp_batch_cmd cmds[3] = { { 0 } };
    size_t n = 0, cpus_at = 0, io_at = 0;
    const char *balloon = qv_domdef_balloon_alias(def);
    if (balloon && def->memballoon->stats_period) {
        g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", balloon);
        json_object *args = json_object_new_object();
        json_object_object_add(args, "path", json_object_new_string(path));
        json_object_object_add(args, "property",
                               json_object_new_string("guest-stats-polling-interval"));
        json_object_object_add(args, "value", json_object_new_int64(def->memballoon->stats_period));
        cmds[n++] = (qv_qmp_batch_cmd){ .command = "qom-set", .args = args };
    }
    bool threads = cg->mount || def->vcpu_cpuset || def->cputune.emulatorpin ||
                   (def->cputune.vcpupins && def->cputune.vcpupins->len);
    if (threads) {
        cpus_at = ++n;
        cmds[n - 1] = (qv_qmp_batch_cmd){ .command = "query-cpus-fast" };
    }
    if (cg->mount) {
        io_at = ++n;
        cmds[n - 1] = (qv_qmp_batch_cmd){ .command = "query-iothreads" };
    }
    if (!n)
        return 0;
    int r = qv_qmp_call_batch(qmp, cmds, n, 0, err);
    /* The first failure, in the order the commands went. */
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (cmds[i].result < 0)
            r = qv_error_propagate(err, g_steal_pointer(&cmds[i].err));
    if (r >= 0 && cpus_at)
        t->vcpus = vcpu_threads_from(cmds[cpus_at - 1].ret);
    if (r >= 0 && io_at)
        t->iothreads = g_steal_pointer(&cmds[io_at - 1].ret);
    qv_qmp_batch_clear(cmds, n);
    return r;
}

int qv_domain_tuning_apply(const qv_tuning *t, const qv_domdef *def, pid_t qemu_pid,
                           const qv_vmcg *cg, qv_error **err)
{
    if (!t->vcpus)
        return 0;
    GArray *threads = t->vcpus;
    int r = 0;
    /* Into their cgroups first, then the limits and pins (libvirt's order). */
    for (guint i = 0; r >= 0 && cg->mount && i < threads->len; i++) {
        const vcpu_thread *th = &g_array_index(threads, vcpu_thread, i);
        r = qv_tune_place_vcpu(cg, def, th->index, th->tid, err);
    }
    if (r >= 0 && cg->mount)
        r = qv_tune_place_iothreads(cg, def, t->iothreads, err);
    if (r < 0 || (r = apply_vcpu_pins(def, threads, true, err)) < 0)
        return r;
    g_autofree char *list = def_pin(def, -1);
    if (!list)
        return 0;
    g_autofree unsigned char *map = g_malloc0(WIDE_MAPLEN);
    if ((r = qv_cpumap_parse(list, map, WIDE_MAPLEN, err)) < 0)
        return r;
    return pin_emulator_threads(qemu_pid, threads, map, WIDE_MAPLEN, err);
}

/* ---- common checks ------------------------------------------------------------------- */

static unsigned int current_vcpus(const qv_domdef *def)
{
    return def->vcpus_current ? def->vcpus_current : def->vcpus;
}

/* ---- vCPU counts ----------------------------------------------------------------------- */

typedef struct hp_cpu {
    json_object *entry;   /* borrowed from the reply */
    long long key[4];     /* socket, die, core, thread */
    const char *qom_path; /* NULL: not plugged */
} hp_cpu;

static gint cmp_hp(gconstpointer a, gconstpointer b)
{
    const hp_cpu *x = a, *y = b;
    for (int i = 0; i < 4; i++)
        if (x->key[i] != y->key[i])
            return x->key[i] < y->key[i] ? -1 : 1;
    return 0;
}

/* query-hotpluggable-cpus in vCPU index order (QEMU numbers x86 vCPUs by
 * socket, die, core, thread). */
static int query_hotpluggable(qv_domain *dom, qv_qmp *qmp, json_object **reply, GArray **ret,
                              qv_error **err)
{
    int r = qv_qmp_call(qmp, "query-hotpluggable-cpus", NULL, 0, reply, err);
    if (r == -ENOTSUP)
        return qv_error_set(err, -ENOTSUP, "the machine type of domain '%s' cannot plug vCPUs",
                            dom->name);
    if (r < 0)
        return r;
    GArray *a = g_array_new(FALSE, TRUE, sizeof(hp_cpu));
    static const char *const keys[4] = { "socket-id", "die-id", "core-id", "thread-id" };
    for (size_t i = 0; json_object_is_type(*reply, json_type_array) &&
                       i < json_object_array_length(*reply); i++) {
        json_object *e = json_object_array_get_idx(*reply, i), *props, *v;
        hp_cpu c = { .entry = e };
        if (json_object_object_get_ex(e, "vcpus-count", &v) && json_object_get_int(v) != 1) {
            g_array_free(a, TRUE);
            return qv_error_set(err, -ENOTSUP, "domain '%s' plugs vCPUs %d at a time; qvirt plugs "
                                "them one by one", dom->name, json_object_get_int(v));
        }
        if (json_object_object_get_ex(e, "props", &props))
            for (int k = 0; k < 4; k++)
                c.key[k] = json_object_object_get_ex(props, keys[k], &v) ? json_object_get_int64(v) : 0;
        if (json_object_object_get_ex(e, "qom-path", &v))
            c.qom_path = json_object_get_string(v);
        g_array_append_val(a, c);
    }
    g_array_sort(a, cmp_hp);
    *ret = a;
    return 0;
}

static int plug_vcpu(qv_qmp *qmp, const hp_cpu *c, unsigned int index, qv_error **err)
{
    json_object *props, *type;
    json_object *args = json_object_new_object();
    if (json_object_object_get_ex(c->entry, "type", &type))
        json_object_object_add(args, "driver", json_object_get(type));
    g_autofree char *id = g_strdup_printf("vcpu%u", index);
    json_object_object_add(args, "id", json_object_new_string(id));
    if (json_object_object_get_ex(c->entry, "props", &props)) {
        json_object_object_foreach(props, k, v)
            json_object_object_add(args, k, json_object_get(v));
    }
    return qv_qmp_call(qmp, "device_add", args, 0, NULL, err);
}

/* Whether the vCPU at qom_path is still plugged. */
static int still_plugged(qv_qmp *qmp, const char *qom_path, qv_error **err)
{
    g_autoptr(json_object) list = NULL;
    int r = qv_qmp_call(qmp, "query-hotpluggable-cpus", NULL, 0, &list, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(list, json_type_array) &&
                       i < json_object_array_length(list); i++) {
        json_object *v;
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), "qom-path", &v) &&
            !strcmp(json_object_get_string(v), qom_path))
            return 1;
    }
    return 0;
}

/* The guest's answer to an eject request, from ACPI_DEVICE_OST: 0x80-0x83
 * are refusals (_OST eject status codes); -1 for other events. */
static int ost_refusal(const qv_qmp_event *ev, const char *id)
{
    json_object *info, *v;
    if (strcmp(ev->name, "ACPI_DEVICE_OST") || !ev->data ||
        !json_object_object_get_ex(ev->data, "info", &info) ||
        !json_object_object_get_ex(info, "device", &v) || strcmp(json_object_get_string(v), id) ||
        !json_object_object_get_ex(info, "source", &v) || json_object_get_int(v) != 3 ||
        !json_object_object_get_ex(info, "status", &v))
        return -1;
    int status = json_object_get_int(v);
    return status >= 0x80 && status <= 0x83 ? status : -1;
}

/* Asks QEMU to remove a plugged vCPU and waits until the guest lets go.
 * QEMU 7.2 with TCG sends DEVICE_DELETED only for the CPU's lapic child, so
 * the CPU leaving query-hotpluggable-cpus counts as done too. */
static int unplug_vcpu(qv_domain *dom, qv_qmp *qmp, const hp_cpu *c, unsigned int index,
                       qv_error **err)
{
    static const char prefix[] = "/machine/peripheral/";
    if (!g_str_has_prefix(c->qom_path, prefix))
        return qv_error_set(err, -EBUSY, "vCPU %u of domain '%s' was there at start and cannot be "
                            "unplugged (only vCPUs plugged while it runs can)", index, dom->name);
    g_autofree char *id = g_strdup(c->qom_path + strlen(prefix));
    g_autofree char *path = g_strdup(c->qom_path);
    json_object *args = json_object_new_object();
    json_object_object_add(args, "id", json_object_new_string(id));
    int r = qv_qmp_call(qmp, "device_del", args, 0, NULL, err);
    if (r < 0)
        return r;
    gint64 deadline = g_get_monotonic_time() + UNPLUG_TIMEOUT_MS * 1000LL;
    for (;;) {
        g_autoptr(qv_qmp_event) ev = NULL;
        qv_error *lerr = NULL;
        r = qv_qmp_wait_event(qmp, NULL, UNPLUG_POLL_MS, &ev, &lerr);
        qv_error_free(lerr);
        json_object *v;
        if (r >= 0 && !strcmp(ev->name, "DEVICE_DELETED") && ev->data &&
            ((json_object_object_get_ex(ev->data, "device", &v) &&
              !strcmp(json_object_get_string(v), id)) ||
             (json_object_object_get_ex(ev->data, "path", &v) &&
              !strcmp(json_object_get_string(v), path))))
            return 0;
        int refusal = r >= 0 ? ost_refusal(ev, id) : -1;
        if (refusal >= 0)
            return qv_error_set(err, -EBUSY, "the guest of domain '%s' refused to release vCPU %u "
                                "(ACPI _OST status 0x%x)", dom->name, index, refusal);
        if (r < 0 && r != -ETIMEDOUT)
            return qv_error_set(err, r, "lost the monitor of domain '%s' while unplugging vCPU %u",
                                dom->name, index);
        if ((r = still_plugged(qmp, path, err)) <= 0)
            return r;
        if (g_get_monotonic_time() > deadline)
            return qv_error_set(err, -ETIMEDOUT, "the guest of domain '%s' did not release vCPU %u "
                                "within %d s (QEMU removes it if the guest does later)",
                                dom->name, index, UNPLUG_TIMEOUT_MS / 1000);
    }
}

/* QEMU 7.2 with TCG crashes (SIGSEGV in device_add) when a vCPU slot that
 * was unplugged is plugged again, so such slots are remembered in the
 * runtime dir and refused. Can go once the QEMU floor fixes it. */
static char *unplugged_file(qv_domain *dom)
{
    return qv_domain_file(dom, QV_RT_RUN_UNPLUGGED_VCPUS);
}

static bool was_unplugged(qv_domain *dom, unsigned int index)
{
    g_autofree char *path = unplugged_file(dom);
    g_autofree char *data = NULL;
    if (qv_read_file(path, 65536, &data, NULL, NULL) < 0)
        return false;
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l && g_ascii_strtoull(*l, NULL, 10) == index)
            return true;
    return false;
}

static void remember_unplugged(qv_domain *dom, unsigned int index)
{
    g_autofree char *path = unplugged_file(dom);
    g_autofree char *data = NULL;
    if (qv_read_file(path, 65536, &data, NULL, NULL) < 0)
        data = g_strdup("");
    g_autofree char *next = g_strdup_printf("%s%u\n", data, index);
    qv_rt_write_runtime(path, next, strlen(next), NULL);
}

/* Plugs or unplugs vCPUs until n are present; live->vcpus_current follows
 * what QEMU has even when a step fails. */
static int live_set_vcpus(qv_domain *dom, qv_domdef *live, unsigned int n, qv_error **err)
{
    qv_qmp *qmp;
    int lock;
    int r = qv_domain_qmp_open(dom, &qmp, &lock, err);
    if (r < 0)
        return r;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GArray) cpus = NULL;
    if ((r = query_hotpluggable(dom, qmp, &reply, &cpus, err)) < 0) {
        qv_domain_qmp_close(qmp, lock);
        return r;
    }
    unsigned int present = 0;
    for (guint i = 0; i < cpus->len; i++)
        present += g_array_index(cpus, hp_cpu, i).qom_path != NULL;
    bool plugged = false;
    for (guint i = 0; r >= 0 && present < n && i < cpus->len; i++) {
        if (g_array_index(cpus, hp_cpu, i).qom_path)
            continue;
        if (live->virt_type == QV_DOMDEF_VIRT_QEMU && was_unplugged(dom, i)) {
            r = qv_error_set(err, -ENOTSUP, "vCPU %u of domain '%s' was unplugged and QEMU with "
                             "TCG crashes when a vCPU is plugged again; restart the domain to "
                             "use it", i, dom->name);
            break;
        }
        if ((r = plug_vcpu(qmp, &g_array_index(cpus, hp_cpu, i), i, err)) >= 0) {
            present++;
            plugged = true;
        }
    }
    for (guint i = cpus->len; r >= 0 && present > n && i > 0; i--) {
        const hp_cpu *c = &g_array_index(cpus, hp_cpu, i - 1);
        if (c->qom_path && (r = unplug_vcpu(dom, qmp, c, i - 1, err)) >= 0) {
            present--;
            remember_unplugged(dom, i - 1);
        }
    }
    if (plugged) {
        /* New vCPU threads start with the emulator's affinity. */
        g_autoptr(GArray) threads = NULL;
        int pr = query_vcpu_threads(qmp, &threads, r < 0 ? NULL : err);
        /* ...and in the emulator's cgroup: into their own, as at start. */
        g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
        g_auto(qv_vmcg) cg = { 0 };
        if (pr >= 0 && qv_vmcg_read(dir, &cg) == 0 && cg.mount)
            for (guint i = 0; pr >= 0 && i < threads->len; i++) {
                const vcpu_thread *t = &g_array_index(threads, vcpu_thread, i);
                pr = qv_tune_place_vcpu(&cg, live, t->index, t->tid, r < 0 ? NULL : err);
            }
        if (pr >= 0)
            pr = apply_vcpu_pins(live, threads, false, r < 0 ? NULL : err);
        if (r >= 0)
            r = pr;
    }
    qv_domain_qmp_close(qmp, lock);
    if (present != current_vcpus(live)) {
        live->vcpus_current = present;
        int sr = qv_domain_save_live(dom, live, r < 0 ? NULL : err);
        if (r >= 0)
            r = sr;
    }
    return r;
}

/* Online or offline vCPUs in the guest (the agent's logical ids). */
static int guest_set_vcpus(qv_domain *dom, unsigned int n, qv_error **err)
{
    g_autoptr(json_object) list = NULL;
    int r = qv_domain_agent_call(dom, "guest-get-vcpus", NULL, AGENT_TIMEOUT_MS, &list, err);
    if (r < 0)
        return r;
    size_t total = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    unsigned int online = 0;
    for (size_t i = 0; i < total; i++) {
        json_object *v;
        if (json_object_object_get_ex(json_object_array_get_idx(list, i), "online", &v) &&
            json_object_get_boolean(v))
            online++;
    }
    if (n > total)
        return qv_error_set(err, -EINVAL, "the guest of domain '%s' has %zu vCPUs, fewer than the "
                            "%u requested", dom->name, total, n);
    /* Change the lowest offline ids first, or the highest online ones. */
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(long long));
    bool want_online = n > online;
    unsigned int needed = want_online ? n - online : online - n;
    while (ids->len < needed) {
        long long best = -1;
        for (size_t i = 0; i < total; i++) {
            json_object *e = json_object_array_get_idx(list, i), *v;
            bool on = json_object_object_get_ex(e, "online", &v) && json_object_get_boolean(v);
            bool can = !json_object_object_get_ex(e, "can-offline", &v) || json_object_get_boolean(v);
            long long id = json_object_object_get_ex(e, "logical-id", &v) ? json_object_get_int64(v) : -1;
            if (on == want_online || (!want_online && !can) || id < 0)
                continue;
            bool taken = false;
            for (guint k = 0; k < ids->len; k++)
                taken = taken || g_array_index(ids, long long, k) == id;
            if (!taken && (best < 0 || (want_online ? id < best : id > best)))
                best = id;
        }
        if (best < 0)
            break;
        g_array_append_val(ids, best);
    }
    if (ids->len < needed) {
        g_array_free(ids, TRUE);
        return qv_error_set(err, -EINVAL, "the guest of domain '%s' cannot take %u vCPUs offline: "
                            "only %u of its online vCPUs can go", dom->name, needed, ids->len);
    }
    json_object *vcpus = json_object_new_array();
    for (guint k = 0; k < ids->len; k++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "logical-id", json_object_new_int64(g_array_index(ids, long long, k)));
        json_object_object_add(e, "online", json_object_new_boolean(want_online));
        json_object_array_add(vcpus, e);
    }
    unsigned int requested = ids->len;
    g_array_free(ids, TRUE);
    if (requested == 0) {
        json_object_put(vcpus);
        return 0;
    }
    json_object *args = json_object_new_object();
    json_object_object_add(args, "vcpus", vcpus);
    g_autoptr(json_object) done = NULL;
    if ((r = qv_domain_agent_call(dom, "guest-set-vcpus", args, AGENT_TIMEOUT_MS, &done, err)) < 0)
        return r;
    int changed = json_object_get_int(done);
    if (changed < (int)requested)
        return qv_error_set(err, -EIO, "the guest of domain '%s' changed only %d of the %u vCPUs "
                            "asked to go %s", dom->name, changed, requested,
                            want_online ? "online" : "offline");
    return 0;
}

int qv_domain_set_vcpus(qv_domain *dom, unsigned int nvcpus, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_vcpus(dom, nvcpus, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_vcpus: dom is required");
    const unsigned int known = QV_DOMAIN_VCPU_LIVE | QV_DOMAIN_VCPU_CONFIG |
                               QV_DOMAIN_VCPU_MAXIMUM | QV_DOMAIN_VCPU_GUEST |
                               QV_DOMAIN_VCPU_HOTPLUGGABLE;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_set_vcpus: unsupported flags 0x%x",
                            flags & ~known);
    if (nvcpus == 0)
        return qv_error_set(err, -EINVAL, "a domain needs at least one vCPU, 0 were requested");
    bool maximum = flags & QV_DOMAIN_VCPU_MAXIMUM;
    if (flags & QV_DOMAIN_VCPU_GUEST) {
        if (flags & (QV_DOMAIN_VCPU_CONFIG | QV_DOMAIN_VCPU_MAXIMUM))
            return qv_error_set(err, -EINVAL, "set_vcpus: the guest flag changes the running "
                                "guest only; it excludes the config and maximum flags");
        qv_active act;
        int r = qv_domain_require_active(dom, &act, err);
        return r < 0 ? r : guest_set_vcpus(dom, nvcpus, err);
    }
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, flags & (QV_DOMAIN_VCPU_LIVE | QV_DOMAIN_VCPU_CONFIG), &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    if (r >= 0 && maximum && live)
        r = qv_error_set(err, -EINVAL, "cannot change the maximum vCPU count of running domain "
                         "'%s': change the config and restart it", dom->name);
    if (r >= 0 && live && nvcpus > live->vcpus)
        r = qv_error_set(err, -EINVAL, "cannot set %u vCPUs on running domain '%s': its maximum "
                         "is %u", nvcpus, dom->name, live->vcpus);
    if (r >= 0 && cfg) {
        const qv_domdef_cpu *cpu = &cfg->cpu;
        if (maximum && cpu->sockets &&
            (unsigned long long)cpu->sockets * MAX(cpu->dies, 1u) * cpu->cores * cpu->threads != nvcpus)
            r = qv_error_set(err, -EINVAL, "cannot set the maximum of domain '%s' to %u vCPUs: its "
                             "<cpu><topology> has %u sockets, %u cores and %u threads; change them "
                             "together in the XML", dom->name, nvcpus, cpu->sockets, cpu->cores,
                             cpu->threads);
        else if (!maximum && nvcpus > cfg->vcpus)
            r = qv_error_set(err, -EINVAL, "cannot set %u vCPUs on domain '%s': its configured "
                             "maximum is %u", nvcpus, dom->name, cfg->vcpus);
    }
    if (r >= 0 && live && nvcpus != current_vcpus(live))
        r = live_set_vcpus(dom, live, nvcpus, err);
    if (r >= 0 && cfg) {
        if (maximum) {
            cfg->vcpus = nvcpus;
            if (cfg->vcpus_current > nvcpus)
                cfg->vcpus_current = nvcpus;
            cputune_update(cfg, 0, NULL, (int)nvcpus);
        } else {
            cfg->vcpus_current = nvcpus;
        }
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r < 0 ? r : 0;
}

int qv_domain_get_vcpus_flags(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_vcpus_flags(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpus_flags: dom is required");
    const unsigned int known = QV_DOMAIN_VCPU_LIVE | QV_DOMAIN_VCPU_CONFIG |
                               QV_DOMAIN_VCPU_MAXIMUM | QV_DOMAIN_VCPU_GUEST;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpus_flags: unsupported flags 0x%x",
                            flags & ~known);
    if ((flags & QV_DOMAIN_VCPU_LIVE) && (flags & QV_DOMAIN_VCPU_CONFIG))
        return qv_error_set(err, -EINVAL, "get_vcpus: choose either the live or the config "
                            "definition, not both");
    bool maximum = flags & QV_DOMAIN_VCPU_MAXIMUM;
    if (flags & QV_DOMAIN_VCPU_GUEST) {
        if (flags & QV_DOMAIN_VCPU_CONFIG)
            return qv_error_set(err, -EINVAL, "get_vcpus: the guest flag asks the running guest; "
                                "it excludes the config flag");
        qv_active act;
        int r = qv_domain_require_active(dom, &act, err);
        g_autoptr(json_object) list = NULL;
        if (r < 0 ||
            (r = qv_domain_agent_call(dom, "guest-get-vcpus", NULL, AGENT_TIMEOUT_MS, &list, err)) < 0)
            return r;
        int count = 0;
        for (size_t i = 0; json_object_is_type(list, json_type_array) &&
                           i < json_object_array_length(list); i++) {
            json_object *v;
            if (maximum || (json_object_object_get_ex(json_object_array_get_idx(list, i), "online", &v) &&
                            json_object_get_boolean(v)))
                count++;
        }
        return count;
    }
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_look(dom, flags & (QV_DOMAIN_VCPU_LIVE | QV_DOMAIN_VCPU_CONFIG), &c, err);
    if (r < 0)
        return r;
    const qv_domdef *def = c.live ? c.live : c.cfg;
    return (int)(maximum ? def->vcpus : current_vcpus(def));
}

/* ---- vCPU threads and pinning ------------------------------------------------------------ */

/* cpu_time (ns) and the CPU last run on, from /proc/PID/task/TID/stat. */
static void read_task_stat(pid_t pid, pid_t tid, unsigned long long *cpu_time, int *cpu)
{
    qv_proc_stat st;
    if (qv_proc_stat_read(pid, tid, &st) < 0) {
        *cpu_time = 0;
        *cpu = -1;
        return;
    }
    *cpu_time = qv_proc_ticks_to_ns(st.utime + st.stime);
    *cpu = st.processor;
}

int qv_domain_get_vcpu_info(qv_domain *dom, qv_vcpu_info *info, int maxinfo,
                            unsigned char *cpumaps, int maplen, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_vcpu_info(dom, info, maxinfo, cpumaps, maplen, flags, err));
    if (!dom || (!info && maxinfo > 0) || maxinfo < 0)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_info: dom and info are required");
    if (cpumaps && maplen <= 0)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_info: maplen must be positive");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_info: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    g_autoptr(GArray) threads = NULL;
    if (r < 0 || (r = with_vcpu_threads(dom, &threads, err)) < 0)
        return r;
    int n = MIN(maxinfo, (int)threads->len);
    for (int i = 0; i < n; i++) {
        const vcpu_thread *t = &g_array_index(threads, vcpu_thread, i);
        info[i].number = t->index;
        info[i].state = QV_VCPU_RUNNING;
        read_task_stat(act.status.qemu_pid, t->tid, &info[i].cpu_time, &info[i].cpu);
        if (cpumaps && (r = get_affinity(t->tid, QV_GET_CPUMAP(cpumaps, maplen, i), maplen)) < 0)
            return qv_error_set_errno(err, r, "cannot read the affinity of vCPU %u (thread %d)",
                                      t->index, (int)t->tid);
    }
    return n;
}

int qv_domain_get_vcpu_pin_info(qv_domain *dom, int ncpumaps, unsigned char *cpumaps, int maplen,
                                unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_vcpu_pin_info(dom, ncpumaps, cpumaps, maplen, flags, err));
    if (!dom || !cpumaps || ncpumaps <= 0 || maplen <= 0)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_pin_info: dom, cpumaps, ncpumaps "
                            "and maplen are required");
    if (flags & ~(unsigned)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_pin_info: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_AFFECT_LIVE) && (flags & QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "get_vcpu_pin_info: choose either the live or the "
                            "config definition, not both");
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_look(dom, flags, &c, err);
    if (r < 0)
        return r;
    const qv_domdef *def = c.live ? c.live : c.cfg;
    g_autoptr(GArray) threads = NULL;
    if (c.live && (r = with_vcpu_threads(dom, &threads, err)) < 0)
        return r;
    int n = MIN(ncpumaps, (int)def->vcpus);
    for (int i = 0; i < n; i++) {
        unsigned char *map = QV_GET_CPUMAP(cpumaps, maplen, i);
        const vcpu_thread *t = threads ? find_thread(threads, (unsigned int)i) : NULL;
        if (t)
            r = get_affinity(t->tid, map, maplen) < 0
                    ? qv_error_set(err, -ESRCH, "cannot read the affinity of vCPU %d", i) : 0;
        else
            r = def_pin_map(def, i, map, maplen, err);
        if (r < 0)
            return r;
    }
    return n;
}

/* Stores a pin in def (vcpu < 0: the emulator's). */
static void store_pin(qv_domdef *def, int vcpu, const unsigned char *cpumap, int maplen)
{
    char *list = qv_cpumap_format(cpumap, maplen);
    cputune_update(def, vcpu, list, -1);
    free(list);
}

/* The shared part of pin_vcpu and pin_emulator: vcpu < 0 pins the emulator. */
static int pin_threads(qv_domain *dom, int vcpu, const unsigned char *cpumap, int maplen,
                       unsigned int flags, qv_error **err)
{
    if (flags & ~(unsigned)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x",
                            vcpu < 0 ? "pin_emulator" : "pin_vcpu", flags);
    int r = check_pin_map(cpumap, maplen, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    g_autoptr(GArray) threads = NULL;
    r = qv_domain_begin(dom, flags, &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    if (r >= 0 && live && (r = with_vcpu_threads(dom, &threads, err)) >= 0 &&
        vcpu >= 0 && !find_thread(threads, (unsigned int)vcpu))
        r = (unsigned int)vcpu < live->vcpus
                ? qv_error_set(err, -EINVAL, "vCPU %d of domain '%s' is not plugged in: pin it in "
                               "the config, or plug it first", vcpu, dom->name)
                : qv_error_set(err, -EINVAL, "domain '%s' has no vCPU %d: its maximum is %u",
                               dom->name, vcpu, live->vcpus);
    if (r >= 0 && cfg && vcpu >= 0 && (unsigned int)vcpu >= cfg->vcpus)
        r = qv_error_set(err, -EINVAL, "domain '%s' has no vCPU %d: its configured maximum is %u",
                         dom->name, vcpu, cfg->vcpus);
    if (r >= 0 && live) {
        r = vcpu >= 0 ? pin_vcpu_thread(find_thread(threads, (unsigned int)vcpu), cpumap, maplen, err)
                      : pin_emulator_threads(c.act.status.qemu_pid, threads, cpumap, maplen, err);
        if (r >= 0)
            r = qv_tune_pin_group(dom, vcpu, cpumap, maplen, err);
        if (r >= 0) {
            store_pin(live, vcpu, cpumap, maplen);
            r = qv_domain_save_live(dom, live, err);
        }
    }
    if (r >= 0 && cfg) {
        store_pin(cfg, vcpu, cpumap, maplen);
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r < 0 ? r : 0;
}

int qv_domain_pin_vcpu(qv_domain *dom, unsigned int vcpu, const unsigned char *cpumap, int maplen,
                       unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_pin_vcpu(dom, vcpu, cpumap, maplen, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pin_vcpu: dom is required");
    if (vcpu > G_MAXINT)
        return qv_error_set(err, -EINVAL, "vCPU %u is out of range", vcpu);
    return pin_threads(dom, (int)vcpu, cpumap, maplen, flags, err);
}

int qv_domain_pin_emulator(qv_domain *dom, const unsigned char *cpumap, int maplen,
                           unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_pin_emulator(dom, cpumap, maplen, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_pin_emulator: dom is required");
    return pin_threads(dom, -1, cpumap, maplen, flags, err);
}

int qv_domain_get_emulator_pin_info(qv_domain *dom, unsigned char *cpumap, int maplen,
                                    unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_emulator_pin_info(dom, cpumap, maplen, flags, err));
    if (!dom || !cpumap || maplen <= 0)
        return qv_error_set(err, -EINVAL, "qv_domain_get_emulator_pin_info: dom, cpumap and "
                            "maplen are required");
    if (flags & ~(unsigned)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "qv_domain_get_emulator_pin_info: unsupported flags 0x%x",
                            flags);
    if ((flags & QV_DOMAIN_AFFECT_LIVE) && (flags & QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "get_emulator_pin_info: choose either the live or the "
                            "config definition, not both");
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_look(dom, flags, &c, err);
    if (r < 0)
        return r;
    if (c.live) {
        /* QEMU's main thread stands for the emulator threads. */
        pid_t qemu = c.act.status.qemu_pid;
        if (qemu <= 0)
            return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
        if ((r = get_affinity(qemu, cpumap, maplen)) < 0)
            return qv_error_set_errno(err, r, "cannot read the affinity of QEMU (pid %d)",
                                      (int)qemu);
        return 1;
    }
    if ((r = def_pin_map(c.cfg, -1, cpumap, maplen, err)) < 0)
        return r;
    return 1;
}

int qv_domain_get_max_vcpus(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_max_vcpus(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_get_max_vcpus: dom is required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    return (int)def->vcpus;
}

/* ==== memory ================================================================ */

/* Memory of a domain: the balloon target (set_memory), the maximum, and the
 * balloon's statistics period, live (QMP) and in the config, as libvirt's
 * QEMU driver does; the balloon's and QEMU's statistics (memory_stats). */

static int check_memory(const qv_domain *dom, const qv_domdef *def, unsigned long long kib,
                        bool maximum, const char *which, qv_error **err)
{
    if (maximum) {
        if (def->cpu.cells && def->cpu.cells->len)
            return qv_error_set(err, -EINVAL,
                                "domain '%s' has NUMA cells: change the memory of each "
                                "<cell> in its XML instead of the maximum", dom->name);
        return 0;
    }
    if (kib > def->memory_kib)
        return qv_error_set(err, -EINVAL,
                            "cannot set the %s memory of domain '%s' to %llu KiB: its maximum is "
                            "%llu KiB", which, dom->name, kib, def->memory_kib);
    return 0;
}

int qv_domain_set_memory(qv_domain *dom, unsigned long long kib, unsigned int flags,
                         qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_memory(dom, kib, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory: dom is required");
    const unsigned int known = QV_DOMAIN_MEM_LIVE | QV_DOMAIN_MEM_CONFIG | QV_DOMAIN_MEM_MAXIMUM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory: unsupported flags 0x%x",
                            flags & ~known);
    if (kib == 0 || kib > (1ULL << 42))
        return qv_error_set(err, -EINVAL, "memory size %llu KiB is out of range", kib);
    bool maximum = flags & QV_DOMAIN_MEM_MAXIMUM;
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, flags & (QV_DOMAIN_MEM_LIVE | QV_DOMAIN_MEM_CONFIG), &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    if (r >= 0 && maximum && live)
        r = qv_error_set(err, -EINVAL, "cannot change the maximum memory of running domain '%s': "
                         "change the config and restart it", dom->name);
    /* Check everything before changing anything. */
    if (r >= 0 && live)
        r = check_memory(dom, live, kib, false, "live", err);
    if (r >= 0 && cfg)
        r = check_memory(dom, cfg, kib, maximum, "configured", err);
    const char *balloon = live ? qv_domdef_balloon_alias(live) : NULL;
    if (r >= 0 && live && !balloon)
        r = qv_error_set(err, -ENOTSUP, "domain '%s' has no virtio memory balloon "
                         "(<memballoon model='virtio'/>) to change its memory while it runs",
                         dom->name);
    if (r >= 0 && live) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "value", json_object_new_int64((int64_t)(kib * 1024)));
        r = qv_domain_qmp_call(dom, "balloon", args, NULL, err);
        if (r >= 0) {
            live->current_memory_kib = kib;
            r = qv_domain_save_live(dom, live, err);
        }
    }
    if (r >= 0 && cfg) {
        if (maximum) {
            cfg->memory_kib = kib;
            if (cfg->current_memory_kib > kib)
                cfg->current_memory_kib = kib;
        } else {
            cfg->current_memory_kib = kib;
        }
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r < 0 ? r : 0;
}

int qv_domain_set_memory_stats_period(qv_domain *dom, int period, unsigned int flags,
                                      qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_memory_stats_period(dom, period, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_memory_stats_period: dom is required");
    const unsigned int known = QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_set_memory_stats_period: unsupported flags 0x%x",
                            flags & ~known);
    if (period < 0)
        return qv_error_set(err, -EINVAL, "the memory statistics period must be 0 or more "
                            "seconds, not %d", period);
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, flags, &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    if (r >= 0 && ((live && !qv_domdef_balloon_alias(live)) || (cfg && !qv_domdef_balloon_alias(cfg))))
        r = qv_error_set(err, -ENOTSUP, "domain '%s' has no virtio memory balloon "
                         "(<memballoon model='virtio'/>) to collect memory statistics",
                         dom->name);
    if (r >= 0 && live) {
        g_autofree char *path = g_strdup_printf("/machine/peripheral/%s",
                                                qv_domdef_balloon_alias(live));
        json_object *args = json_object_new_object();
        json_object_object_add(args, "path", json_object_new_string(path));
        json_object_object_add(args, "property",
                               json_object_new_string("guest-stats-polling-interval"));
        json_object_object_add(args, "value", json_object_new_int(period));
        r = qv_domain_qmp_call(dom, "qom-set", args, NULL, err);
        if (r >= 0) {
            live->memballoon->stats_period = (unsigned int)period;
            r = qv_domain_save_live(dom, live, err);
        }
    }
    if (r >= 0 && cfg) {
        cfg->memballoon->stats_period = (unsigned int)period;
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r < 0 ? r : 0;
}

static unsigned long long proc_rss_kib(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *data = NULL;
    if (qv_rt_read_file(path, 1 << 16, &data, NULL, NULL) < 0)
        return 0;
    const char *p = strstr(data, "VmRSS:");
    return p ? g_ascii_strtoull(p + 6, NULL, 10) : 0;
}

int qv_domain_memory_stats(qv_domain *dom, qv_memory_stat *stats, unsigned int nr_stats,
                           unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_memory_stats(dom, stats, nr_stats, flags, err));
    if (!dom || (!stats && nr_stats))
        return qv_error_set(err, -EINVAL, "qv_domain_memory_stats: dom and stats are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_memory_stats: flags must be 0");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    unsigned int n = 0;
#define ADD(tag_, val_)                                                                            \
    do {                                                                                           \
        if (n < nr_stats)                                                                          \
            stats[n++] = (qv_memory_stat){ (tag_), (val_) };                                       \
    } while (0)

    const char *balloon = qv_domdef_balloon_alias(def);
    if (!balloon) {
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON,
            def->current_memory_kib ? def->current_memory_kib : def->memory_kib);
        ADD(QV_DOMAIN_MEMORY_STAT_RSS, proc_rss_kib(act.status.qemu_pid));
        return (int)n;
    }
    json_object *args = json_object_new_object();
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", balloon);
    json_object_object_add(args, "path", json_object_new_string(path));
    json_object_object_add(args, "property", json_object_new_string("guest-stats"));
    /* The balloon's actual size is in the state mapping while the
     * supervisor watches (it follows BALLOON_CHANGE): then only the guest
     * stats are asked for. Otherwise both queries, in one round trip. */
    unsigned long long actual_kib = qv_domain_monitor_alive(dom) ? qv_rt_statemap_balloon(dom->smap) : 0;
    qv_qmp_batch_cmd q[2] = { { .command = "query-balloon" }, { .command = "qom-get", .args = args } };
    qv_qmp_batch_cmd *ask = actual_kib ? &q[1] : q;
    size_t n_ask = actual_kib ? 1 : 2;
    if ((r = qv_domain_qmp_batch(dom, ask, n_ask, err)) < 0)
        return r;
    if (!actual_kib && q[0].result < 0) {
        r = qv_error_propagate(err, g_steal_pointer(&q[0].err));
        qv_qmp_batch_clear(ask, n_ask);
        return r;
    }
    g_autoptr(json_object) bal = g_steal_pointer(&q[0].ret);
    /* No guest stats yet (the driver has not reported): actual and rss only. */
    g_autoptr(json_object) gs = g_steal_pointer(&q[1].ret);
    qv_qmp_batch_clear(ask, n_ask);
    json_object *v, *s = NULL;
    if (gs && json_object_object_get_ex(gs, "stats", &s)) {
        static const struct { const char *key; int tag; bool bytes; } map[] = {
            { "stat-swap-in", QV_DOMAIN_MEMORY_STAT_SWAP_IN, true },
            { "stat-swap-out", QV_DOMAIN_MEMORY_STAT_SWAP_OUT, true },
            { "stat-major-faults", QV_DOMAIN_MEMORY_STAT_MAJOR_FAULT, false },
            { "stat-minor-faults", QV_DOMAIN_MEMORY_STAT_MINOR_FAULT, false },
            { "stat-free-memory", QV_DOMAIN_MEMORY_STAT_UNUSED, true },
            { "stat-total-memory", QV_DOMAIN_MEMORY_STAT_AVAILABLE, true },
            { "stat-available-memory", QV_DOMAIN_MEMORY_STAT_USABLE, true },
            { "stat-disk-caches", QV_DOMAIN_MEMORY_STAT_DISK_CACHES, true },
            { "stat-htlb-pgalloc", QV_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC, false },
            { "stat-htlb-pgfail", QV_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL, false },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
            if (!json_object_object_get_ex(s, map[i].key, &v))
                continue;
            int64_t x = json_object_get_int64(v);
            if (x < 0)
                continue; /* -1: the guest does not report it */
            ADD(map[i].tag, map[i].bytes ? (unsigned long long)x / 1024 : (unsigned long long)x);
        }
    }
    if (actual_kib)
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, actual_kib);
    else if (bal && json_object_object_get_ex(bal, "actual", &v))
        ADD(QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, (unsigned long long)json_object_get_int64(v) / 1024);
    ADD(QV_DOMAIN_MEMORY_STAT_RSS, proc_rss_kib(act.status.qemu_pid));
    if (gs && json_object_object_get_ex(gs, "last-update", &v) && json_object_get_int64(v) > 0)
        ADD(QV_DOMAIN_MEMORY_STAT_LAST_UPDATE, (unsigned long long)json_object_get_int64(v));
#undef ADD
    return (int)n;
}

long long qv_domain_get_max_memory(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_max_memory(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_get_max_memory: dom is required");
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    return (long long)def->memory_kib;
}

int qv_domain_set_max_memory(qv_domain *dom, unsigned long long kib, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_max_memory(dom, kib, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_max_memory: dom is required");
    if (kib == 0 || kib > (1ULL << 42))
        return qv_error_set(err, -EINVAL, "maximum memory %llu KiB is out of range", kib);
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r >= 0 && !c.persistent)
        r = qv_error_set(err, -EINVAL, "domain '%s' is transient: its maximum memory is fixed "
                         "while it runs", dom->name);
    if (r >= 0 && (r = qv_domain_load_def(dom, false, &c.cfg, err)) >= 0) {
        qv_domdef *cfg = c.cfg;
        /* Only the config changes: a running guest's maximum is fixed by its
         * command line, as with libvirt's QEMU driver. */
        cfg->memory_kib = kib;
        if (cfg->current_memory_kib > kib)
            cfg->current_memory_kib = kib;
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r;
}
