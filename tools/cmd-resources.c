/* qvirt memory and vCPU commands: setmem, setmaxmem, dommemstat, setvcpus,
 * vcpucount, vcpuinfo, vcpupin, emulatorpin. Options, messages and layouts
 * follow virsh (tools/virsh-domain.c and virsh-domain-monitor.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* virsh's vshCommandOptScaledInt: a number with an optional unit suffix
 * (b, k/KiB, KB, M/MiB, MB, G/GiB, GB, T/TiB, TB, P/PiB, PB, E/EiB, EB;
 * KiB without one); the result in KiB, rounded up as virsh does. */
static bool parse_size_kib(const char *opt, const char *text, unsigned long long *kib)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && g_ascii_isdigit(*text) ? g_ascii_strtoull(text, &end, 10) : 0;
    bool ok = end && errno == 0;
    unsigned long long scale = 1024;
    if (ok && *end) {
        static const char units[] = "kmgtpe";
        const char *u = strchr(units, g_ascii_tolower(*end));
        if (!g_ascii_strcasecmp(end, "b") || !g_ascii_strcasecmp(end, "byte") ||
            !g_ascii_strcasecmp(end, "bytes")) {
            scale = 1;
        } else if (u && *u) {
            unsigned long long base = 1024;
            if (!end[1] || !g_ascii_strcasecmp(end + 1, "iB"))
                base = 1024;
            else if (!g_ascii_strcasecmp(end + 1, "B"))
                base = 1000;
            else
                ok = false;
            scale = 1;
            for (const char *p = units; ok && p <= u; p++)
                scale *= base;
        } else {
            ok = false;
        }
    }
    if (ok && scale && v > G_MAXUINT64 / scale)
        ok = false;
    if (!ok) {
        cli_error("Scaled numeric value '%s' for <%s> option is malformed or out of range",
                  text ? text : "", opt);
        return false;
    }
    unsigned long long bytes = v * scale;
    *kib = bytes / 1024 + (bytes % 1024 != 0);
    return true;
}

static bool parse_uint_opt(const char *opt, const char *text, unsigned int *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = text && g_ascii_isdigit(*text) ? g_ascii_strtoull(text, &end, 10) : 0;
    if (!end || *end || errno || v > G_MAXINT) {
        cli_error("Numeric value '%s' for <%s> option is malformed or out of range",
                  text ? text : "", opt);
        return false;
    }
    *out = (unsigned int)v;
    return true;
}

/* The host's CPU count for affinity maps; 0 after printing the error. */
static int node_cpus(cli_ctx *ctx)
{
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return 0;
    g_autoptr(qv_error) err = NULL;
    int n = qv_conn_get_node_cpu_map(conn, NULL, NULL, 0, &err);
    if (n <= 0) {
        cli_error_qv(err, "cannot count the host's CPUs");
        return 0;
    }
    return n;
}

static void print_affinity_yn(const unsigned char *map, int maplen, int ncpus)
{
    for (int c = 0; c < ncpus; c++)
        putchar(QV_CPU_USABLE(map, maplen, 0, c) ? 'y' : '-');
}

static char *map_list(const unsigned char *map, int maplen)
{
    char *s = qv_cpumap_format(map, maplen);
    g_autofree char *r = g_strdup(s);
    free(s);
    return g_steal_pointer(&r);
}

/* ---- memory --------------------------------------------------------------------- */

static bool set_memory(cli_ctx *ctx, const cli_args *args, bool maximum)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    unsigned long long kib;
    if (!parse_size_kib("size", cli_str(args, "size"), &kib))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_set_memory(dom, kib, flags | (maximum ? QV_DOMAIN_MEM_MAXIMUM : 0), &err) < 0) {
        cli_error_qv(err, maximum ? "Unable to change MaxMemorySize" : "Unable to change memory");
        return false;
    }
    return true;
}

static bool cmd_setmem(cli_ctx *ctx, const cli_args *args)
{
    return set_memory(ctx, args, false);
}

static bool cmd_setmaxmem(cli_ctx *ctx, const cli_args *args)
{
    return set_memory(ctx, args, true);
}

/* virsh's names, in the order libvirt's QEMU driver reports the stats. */
static const struct { int tag; const char *name; } stat_names[] = {
    { QV_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON, "actual" },
    { QV_DOMAIN_MEMORY_STAT_SWAP_IN, "swap_in" },
    { QV_DOMAIN_MEMORY_STAT_SWAP_OUT, "swap_out" },
    { QV_DOMAIN_MEMORY_STAT_MAJOR_FAULT, "major_fault" },
    { QV_DOMAIN_MEMORY_STAT_MINOR_FAULT, "minor_fault" },
    { QV_DOMAIN_MEMORY_STAT_UNUSED, "unused" },
    { QV_DOMAIN_MEMORY_STAT_AVAILABLE, "available" },
    { QV_DOMAIN_MEMORY_STAT_USABLE, "usable" },
    { QV_DOMAIN_MEMORY_STAT_LAST_UPDATE, "last_update" },
    { QV_DOMAIN_MEMORY_STAT_DISK_CACHES, "disk_caches" },
    { QV_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC, "hugetlb_pgalloc" },
    { QV_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL, "hugetlb_pgfail" },
    { QV_DOMAIN_MEMORY_STAT_RSS, "rss" },
};

static bool cmd_dommemstat(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (cli_has(args, "period")) {
        long long period = g_ascii_strtoll(cli_str(args, "period"), NULL, 10);
        if (period < 0 || period > G_MAXINT) {
            cli_error("Invalid collection period value '%s'", cli_str(args, "period"));
            return false;
        }
        if (qv_domain_set_memory_stats_period(dom, (int)period, flags, &err) < 0) {
            cli_error_qv(err, "Unable to change balloon collection period.");
            return false;
        }
        return true;
    }
    qv_memory_stat stats[QV_DOMAIN_MEMORY_STAT_NR];
    int n = qv_domain_memory_stats(dom, stats, QV_DOMAIN_MEMORY_STAT_NR, 0, &err);
    if (n < 0) {
        cli_error_qv(err, "Failed to get memory statistics for domain");
        return false;
    }
    json_object *o = ctx->json ? json_object_new_object() : NULL;
    for (size_t k = 0; k < G_N_ELEMENTS(stat_names); k++) {
        for (int i = 0; i < n; i++) {
            if (stats[i].tag != stat_names[k].tag)
                continue;
            if (o)
                json_object_object_add(o, stat_names[k].name,
                                       json_object_new_uint64(stats[i].val));
            else
                printf("%s %llu\n", stat_names[k].name, stats[i].val);
        }
    }
    if (o)
        cli_print_json(o);
    return true;
}

/* ---- vCPU counts ---------------------------------------------------------------- */

static bool cmd_setvcpus(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    if (cli_has(args, "guest") && cli_has(args, "config")) {
        cli_error("Options --guest and --config are mutually exclusive");
        return false;
    }
    unsigned int count;
    if (!parse_uint_opt("count", cli_str(args, "count"), &count))
        return false;
    static const cli_flag map[] = {
        { "maximum", QV_DOMAIN_VCPU_MAXIMUM },
        { "guest", QV_DOMAIN_VCPU_GUEST },
        { "hotpluggable", QV_DOMAIN_VCPU_HOTPLUGGABLE },
        { NULL, 0 },
    };
    flags |= cli_flags(args, map);
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_set_vcpus(dom, count, flags, &err) < 0) {
        cli_error_qv(err, "Unable to change the number of vCPUs");
        return false;
    }
    return true;
}

static bool cmd_vcpucount(cli_ctx *ctx, const cli_args *args)
{
    bool maximum = cli_has(args, "maximum"), active = cli_has(args, "active");
    bool live = cli_has(args, "live"), config = cli_has(args, "config");
    bool current = cli_has(args, "current"), guest = cli_has(args, "guest");
    if (maximum && active) {
        cli_error("Options --maximum and --active are mutually exclusive");
        return false;
    }
    if ((live && config) || (current && (live || config))) {
        cli_error("Options --%s and --%s are mutually exclusive", current ? "current" : "live",
                  config ? "config" : "live");
        return false;
    }
    if (guest && config) {
        cli_error("Options --guest and --config are mutually exclusive");
        return false;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (maximum || active || live || config || current || guest) {
        unsigned int flags = (maximum ? QV_DOMAIN_VCPU_MAXIMUM : 0) |
                             (live ? QV_DOMAIN_VCPU_LIVE : 0) |
                             (config ? QV_DOMAIN_VCPU_CONFIG : 0) |
                             (guest ? QV_DOMAIN_VCPU_GUEST : 0);
        int n = qv_domain_get_vcpus_flags(dom, flags, &err);
        if (n < 0) {
            cli_error_qv(err, "Unable to get the number of vCPUs");
            return false;
        }
        if (ctx->json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "count", json_object_new_int(n));
            cli_print_json(o);
        } else {
            printf("%d\n", n);
        }
        return true;
    }
    /* The whole table; live rows only for a running domain, config rows
     * only for a persistent one, as virsh skips what does not exist. */
    int running = qv_domain_is_active(dom, NULL) == 1;
    int persistent = qv_domain_is_persistent(dom, NULL) == 1;
    static const struct { const char *what, *where; unsigned int flags; } rows[] = {
        { "maximum", "config", QV_DOMAIN_VCPU_MAXIMUM | QV_DOMAIN_VCPU_CONFIG },
        { "maximum", "live", QV_DOMAIN_VCPU_MAXIMUM | QV_DOMAIN_VCPU_LIVE },
        { "current", "config", QV_DOMAIN_VCPU_CONFIG },
        { "current", "live", QV_DOMAIN_VCPU_LIVE },
    };
    json_object *o = ctx->json ? json_object_new_object() : NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        bool is_live = rows[i].flags & QV_DOMAIN_VCPU_LIVE;
        if ((is_live && !running) || (!is_live && !persistent))
            continue;
        int n = qv_domain_get_vcpus_flags(dom, rows[i].flags, &err);
        if (n < 0) {
            json_object_put(o);
            cli_error_qv(err, "Unable to get the number of vCPUs");
            return false;
        }
        if (o) {
            json_object *group;
            if (!json_object_object_get_ex(o, rows[i].what, &group)) {
                group = json_object_new_object();
                json_object_object_add(o, rows[i].what, group);
            }
            json_object_object_add(group, rows[i].where, json_object_new_int(n));
        } else {
            printf("%-12s %-12s %3d\n", rows[i].what, rows[i].where, n);
        }
    }
    if (o)
        cli_print_json(o);
    return true;
}

/* ---- vCPU threads and pins -------------------------------------------------------- */

static bool cmd_vcpuinfo(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    int ncpus = node_cpus(ctx);
    if (!ncpus)
        return false;
    bool pretty = cli_has(args, "pretty");
    g_autoptr(qv_error) err = NULL;
    int max = qv_domain_get_max_vcpus(dom, &err);
    if (max < 0) {
        cli_error_qv(err, "Unable to get the number of vCPUs");
        return false;
    }
    int maplen = QV_CPU_MAPLEN(ncpus);
    g_autofree qv_vcpu_info *info = g_new0(qv_vcpu_info, max);
    g_autofree unsigned char *maps = g_malloc0((size_t)max * (size_t)maplen);
    int active = qv_domain_is_active(dom, NULL) == 1;
    int n = active ? qv_domain_get_vcpu_info(dom, info, max, maps, maplen, 0, &err)
                   : qv_domain_get_vcpu_pin_info(dom, max, maps, maplen, QV_DOMAIN_AFFECT_CONFIG,
                                                 &err);
    if (n < 0) {
        cli_error_qv(err, "Unable to get vCPU information");
        return false;
    }
    json_object *arr = ctx->json ? json_object_new_array() : NULL;
    for (int i = 0; i < n; i++) {
        const unsigned char *map = QV_GET_CPUMAP(maps, maplen, i);
        g_autofree char *list = map_list(map, maplen);
        unsigned int number = active ? info[i].number : (unsigned int)i;
        if (arr) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "vcpu", json_object_new_int64(number));
            json_object_object_add(o, "cpu", active ? json_object_new_int(info[i].cpu) : NULL);
            json_object_object_add(o, "state", active ? json_object_new_string("running") : NULL);
            json_object_object_add(o, "cpu_time_ns",
                                   active ? json_object_new_uint64(info[i].cpu_time) : NULL);
            json_object_object_add(o, "affinity", json_object_new_string(list));
            json_object_array_add(arr, o);
            continue;
        }
        printf("%-15s %u\n", "VCPU:", number);
        if (active) {
            printf("%-15s %d\n", "CPU:", info[i].cpu);
            printf("%-15s %s\n", "State:", info[i].state == QV_VCPU_OFFLINE ? "offline"
                                           : info[i].state == QV_VCPU_BLOCKED ? "blocked"
                                                                              : "running");
            if (info[i].cpu_time)
                printf("%-15s %.1lfs\n", "CPU time:", info[i].cpu_time / 1000000000.0);
        } else {
            printf("%-15s %s\n", "CPU:", "N/A");
            printf("%-15s %s\n", "State:", "N/A");
            printf("%-15s %s\n", "CPU time", "N/A");
        }
        printf("%-15s ", "CPU Affinity:");
        if (pretty)
            printf("%s (out of %d)", list, ncpus);
        else
            print_affinity_yn(map, maplen, ncpus);
        putchar('\n');
        if (i != n - 1)
            putchar('\n');
    }
    if (arr)
        cli_print_json(arr);
    return true;
}

static bool cmd_vcpupin(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    const char *cpulist = cli_str(args, "cpulist");
    unsigned int vcpu = 0;
    bool have_vcpu = cli_has(args, "vcpu");
    if (have_vcpu && !parse_uint_opt("vcpu", cli_str(args, "vcpu"), &vcpu))
        return false;
    if (cpulist && !have_vcpu) {
        cli_error("vcpupin: Missing vCPU number in pin mode.");
        return false;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    int ncpus = node_cpus(ctx);
    if (!ncpus)
        return false;
    int maplen = QV_CPU_MAPLEN(ncpus);
    g_autoptr(qv_error) err = NULL;
    if (cpulist) {
        g_autofree unsigned char *map = g_malloc0((size_t)maplen);
        if (qv_cpumap_parse(cpulist, map, maplen, &err) < 0 ||
            qv_domain_pin_vcpu(dom, vcpu, map, maplen, flags, &err) < 0) {
            cli_error_qv(err, "Failed to pin the vCPU");
            return false;
        }
        return true;
    }
    int max = qv_domain_get_vcpus_flags(dom, QV_DOMAIN_VCPU_MAXIMUM | flags, &err);
    if (max < 0) {
        cli_error_qv(err, "Unable to get the number of vCPUs");
        return false;
    }
    if (have_vcpu && vcpu >= (unsigned int)max) {
        cli_error("vcpu %u is out of range of persistent cpu count %d", vcpu, max);
        return false;
    }
    g_autofree unsigned char *maps = g_malloc0((size_t)max * (size_t)maplen);
    int n = qv_domain_get_vcpu_pin_info(dom, max, maps, maplen, flags, &err);
    if (n < 0) {
        cli_error_qv(err, "Unable to get the vCPU pins");
        return false;
    }
    g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    g_ptr_array_add(table, g_strdupv((char *[]){ "VCPU", "CPU Affinity", NULL }));
    json_object *arr = ctx->json ? json_object_new_array() : NULL;
    for (int i = 0; i < n; i++) {
        if (have_vcpu && (unsigned int)i != vcpu)
            continue;
        g_autofree char *list = map_list(QV_GET_CPUMAP(maps, maplen, i), maplen);
        if (arr) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "vcpu", json_object_new_int(i));
            json_object_object_add(o, "affinity", json_object_new_string(list));
            json_object_array_add(arr, o);
        } else {
            char **row = g_new0(char *, 3);
            row[0] = g_strdup_printf("%d", i);
            row[1] = g_strdup(list);
            g_ptr_array_add(table, row);
        }
    }
    if (arr)
        cli_print_json(arr);
    else
        cli_print_table(table, 2, !ctx->quiet);
    return true;
}

static bool cmd_emulatorpin(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    int ncpus = node_cpus(ctx);
    if (!ncpus)
        return false;
    int maplen = QV_CPU_MAPLEN(ncpus);
    g_autofree unsigned char *map = g_malloc0((size_t)maplen);
    g_autoptr(qv_error) err = NULL;
    const char *cpulist = cli_str(args, "cpulist");
    if (cpulist) {
        if (qv_cpumap_parse(cpulist, map, maplen, &err) < 0 ||
            qv_domain_pin_emulator(dom, map, maplen, flags, &err) < 0) {
            cli_error_qv(err, "Failed to pin the emulator threads");
            return false;
        }
        return true;
    }
    if (qv_domain_get_emulator_pin_info(dom, map, maplen, flags, &err) < 0) {
        cli_error_qv(err, "Unable to get the emulator pin");
        return false;
    }
    g_autofree char *list = map_list(map, maplen);
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "affinity", json_object_new_string(list));
        cli_print_json(o);
        return true;
    }
    cli_info(ctx, "%s %s\n", "emulator:", "CPU Affinity");
    cli_info(ctx, "----------------------------------\n");
    printf("       *: %s\n", list);
    return true;
}

/* ---- the table ---------------------------------------------------------------------- */


static const cli_opt opts_setmem[] = {
    CLI_OPT_DOMAIN,
    { "size", CLI_OPT_STRING, true, true, "new memory size, as scaled integer (default KiB)" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_setmaxmem[] = {
    CLI_OPT_DOMAIN,
    { "size", CLI_OPT_STRING, true, true, "new maximum memory size, as scaled integer (default KiB)" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_dommemstat[] = {
    CLI_OPT_DOMAIN,
    { "period", CLI_OPT_INT, false, false, "period in seconds to set collection" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_setvcpus[] = {
    CLI_OPT_DOMAIN,
    { "count", CLI_OPT_STRING, true, true, "number of virtual CPUs" },
    { "maximum", CLI_OPT_BOOL, false, false, "set maximum limit on next boot" },
    CLI_OPT_AFFECT,
    { "guest", CLI_OPT_BOOL, false, false, "modify cpu state in the guest" },
    { "hotpluggable", CLI_OPT_BOOL, false, false, "make added vcpus hot(un)pluggable" },
    { NULL },
};
static const cli_opt opts_vcpucount[] = {
    CLI_OPT_DOMAIN,
    { "maximum", CLI_OPT_BOOL, false, false, "get maximum count of vcpus" },
    { "active", CLI_OPT_BOOL, false, false, "get number of currently active vcpus" },
    { "live", CLI_OPT_BOOL, false, false, "get value from running domain" },
    { "config", CLI_OPT_BOOL, false, false, "get value to be used on next boot" },
    { "current", CLI_OPT_BOOL, false, false, "get value according to current domain state" },
    { "guest", CLI_OPT_BOOL, false, false, "retrieve vcpu count from the guest instead of the hypervisor" },
    { NULL },
};
static const cli_opt opts_vcpuinfo[] = {
    CLI_OPT_DOMAIN,
    { "pretty", CLI_OPT_BOOL, false, false, "return human readable output" },
    { NULL },
};
static const cli_opt opts_vcpupin[] = {
    CLI_OPT_DOMAIN,
    { "vcpu", CLI_OPT_STRING, true, false, "vcpu number" },
    { "cpulist", CLI_OPT_STRING, true, false, "host cpu number(s) to set, or omit option to query" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_emulatorpin[] = {
    CLI_OPT_DOMAIN,
    { "cpulist", CLI_OPT_STRING, true, false, "host cpu number(s) to set, or omit option to query" },
    CLI_OPT_AFFECT,
    { NULL },
};

const cli_cmd cli_resource_cmds[] = {
    { "dommemstat", cmd_dommemstat, opts_dommemstat, "get memory statistics for a domain", true },
    { "emulatorpin", cmd_emulatorpin, opts_emulatorpin, "control or query domain emulator affinity", true },
    { "setmaxmem", cmd_setmaxmem, opts_setmaxmem, "change maximum memory limit", false },
    { "setmem", cmd_setmem, opts_setmem, "change memory allocation", false },
    { "setvcpus", cmd_setvcpus, opts_setvcpus, "change number of virtual CPUs", false },
    { "vcpucount", cmd_vcpucount, opts_vcpucount, "domain vcpu counts", true },
    { "vcpuinfo", cmd_vcpuinfo, opts_vcpuinfo, "detailed domain vcpu information", true },
    { "vcpupin", cmd_vcpupin, opts_vcpupin, "control or query domain vcpu affinity", true },
    { NULL },
};
