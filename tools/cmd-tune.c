/* The tunables' commands: schedinfo, memtune, blkiotune, numatune,
 * cpu-stats. Layouts and messages follow virsh (virsh-domain.c in
 * libvirt 9): "%-15s: %s" lines of libvirt's parameter names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One "name: value" line, or a JSON member. */
static void put(const cli_ctx *ctx, json_object *o, const char *name, json_object *v,
                const char *text)
{
    if (!ctx->json)
        printf("%-15s: %s\n", name, text);
    json_object_object_add(o, name, v);
}

static void finish(const cli_ctx *ctx, json_object *o)
{
    if (ctx->json)
        cli_print_json(o);
    else
        json_object_put(o);
}

static bool parse_ull(const char *s, unsigned long long *v)
{
    char *end = NULL;
    errno = 0;
    if (!s || !g_ascii_isdigit(*s))
        return false;
    *v = g_ascii_strtoull(s, &end, 10);
    return !errno && !*end;
}

static bool parse_ll(const char *s, long long *v)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s)
        return false;
    *v = g_ascii_strtoll(s, &end, 10);
    return !errno && !*end;
}

/* ---- schedinfo ----------------------------------------------------------------- */

static void *sched_member(qv_sched_params *p, unsigned int bit)
{
    switch (bit) {
    case QV_SCHED_CPU_SHARES: return &p->cpu_shares;
    case QV_SCHED_VCPU_PERIOD: return &p->vcpu_period;
    case QV_SCHED_VCPU_QUOTA: return &p->vcpu_quota;
    case QV_SCHED_EMULATOR_PERIOD: return &p->emulator_period;
    case QV_SCHED_EMULATOR_QUOTA: return &p->emulator_quota;
    case QV_SCHED_GLOBAL_PERIOD: return &p->global_period;
    case QV_SCHED_GLOBAL_QUOTA: return &p->global_quota;
    case QV_SCHED_IOTHREAD_PERIOD: return &p->iothread_period;
    default: return &p->iothread_quota;
    }
}

static bool is_quota(unsigned int bit)
{
    return bit == QV_SCHED_VCPU_QUOTA || bit == QV_SCHED_EMULATOR_QUOTA ||
           bit == QV_SCHED_GLOBAL_QUOTA || bit == QV_SCHED_IOTHREAD_QUOTA;
}

static bool cmd_schedinfo(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    qv_sched_params set = { 0 };
    for (guint i = 0; args->argv && i < args->argv->len; i++) {
        const char *kv = args->argv->pdata[i];
        const char *eq = strchr(kv, '=');
        g_autofree char *name = eq ? g_strndup(kv, (gsize)(eq - kv)) : g_strdup(kv);
        unsigned int bit = qv_sched_param_field(name);
        if (!eq) {
            cli_error("Invalid syntax for --set, expecting name=value");
            return false;
        }
        if (!bit) {
            cli_error("invalid scheduler option: %s", name);
            return false;
        }
        void *dst = sched_member(&set, bit);
        bool ok = is_quota(bit) ? parse_ll(eq + 1, dst) : parse_ull(eq + 1, dst);
        if (!ok) {
            cli_error("invalid value of %s: '%s'", name, eq + 1);
            return false;
        }
        set.fields |= bit;
    }
    if (set.fields && qv_domain_set_scheduler_parameters(dom, &set, flags, &err) < 0) {
        cli_error_qv(err, "Unable to set scheduler parameters");
        return false;
    }
    qv_sched_params cur;
    if (qv_domain_get_scheduler_parameters(dom, &cur, flags, &err) < 0) {
        cli_error_qv(err, "Unable to get scheduler parameters");
        return false;
    }
    json_object *o = json_object_new_object();
    put(ctx, o, "Scheduler", json_object_new_string("posix"), "posix");
    for (unsigned int bit = 1; bit & QV_SCHED_ALL; bit <<= 1) {
        const char *name = qv_sched_param_name(bit);
        void *v = sched_member(&cur, bit);
        g_autofree char *text = is_quota(bit) ? g_strdup_printf("%lld", *(long long *)v)
                                              : g_strdup_printf("%llu", *(unsigned long long *)v);
        put(ctx, o, name, is_quota(bit) ? json_object_new_int64(*(long long *)v)
                                        : json_object_new_uint64(*(unsigned long long *)v), text);
    }
    finish(ctx, o);
    return true;
}

/* ---- memtune ---------------------------------------------------------------------- */

static const struct { const char *opt, *name; unsigned int bit; size_t off; } mem_opts[] = {
    { "hard-limit", "hard_limit", QV_MEMORY_HARD_LIMIT, offsetof(qv_memory_params, hard_limit) },
    { "soft-limit", "soft_limit", QV_MEMORY_SOFT_LIMIT, offsetof(qv_memory_params, soft_limit) },
    { "swap-hard-limit", "swap_hard_limit", QV_MEMORY_SWAP_HARD_LIMIT,
      offsetof(qv_memory_params, swap_hard_limit) },
    { "min-guarantee", "min_guarantee", QV_MEMORY_MIN_GUARANTEE,
      offsetof(qv_memory_params, min_guarantee) },
};

static bool cmd_memtune(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    qv_memory_params set = { 0 };
    for (size_t i = 0; i < G_N_ELEMENTS(mem_opts); i++) {
        const char *v = cli_str(args, mem_opts[i].opt);
        if (!v)
            continue;
        unsigned long long *dst = (unsigned long long *)(void *)((char *)&set + mem_opts[i].off);
        unsigned long long bytes;
        /* virsh: -1 (or anything at the limit) means unlimited; KiB by default. */
        if (!strcmp(v, "-1")) {
            *dst = QV_DOMAIN_MEMORY_PARAM_UNLIMITED;
        } else if (cli_parse_scaled(v, 1024, &bytes)) {
            *dst = bytes / 1024 >= QV_DOMAIN_MEMORY_PARAM_UNLIMITED
                       ? QV_DOMAIN_MEMORY_PARAM_UNLIMITED : bytes / 1024;
        } else {
            cli_error("Unable to parse integer parameter %s", mem_opts[i].opt);
            return false;
        }
        set.fields |= mem_opts[i].bit;
    }
    g_autoptr(qv_error) err = NULL;
    if (set.fields) {
        if (qv_domain_set_memory_parameters(dom, &set, flags, &err) < 0) {
            cli_error_qv(err, "Unable to change memory parameters");
            return false;
        }
        return true;
    }
    qv_memory_params cur;
    if (qv_domain_get_memory_parameters(dom, &cur, flags, &err) < 0) {
        cli_error_qv(err, "Unable to get memory parameters");
        return false;
    }
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(mem_opts); i++) {
        unsigned long long v = *(unsigned long long *)(void *)((char *)&cur + mem_opts[i].off);
        bool unl = v >= QV_DOMAIN_MEMORY_PARAM_UNLIMITED;
        g_autofree char *text = unl ? g_strdup("unlimited") : g_strdup_printf("%llu", v);
        put(ctx, o, mem_opts[i].name,
            unl ? json_object_new_string("unlimited") : json_object_new_uint64(v), text);
    }
    finish(ctx, o);
    return true;
}

/* ---- blkiotune ---------------------------------------------------------------------- */

static const struct { const char *opt, *name; unsigned int bit; size_t off; } blkio_opts[] = {
    { "device-weights", "device_weight", QV_BLKIO_DEVICE_WEIGHT, offsetof(qv_blkio_params, device_weight) },
    { "device-read-iops-sec", "device_read_iops_sec", QV_BLKIO_DEVICE_READ_IOPS,
      offsetof(qv_blkio_params, device_read_iops_sec) },
    { "device-write-iops-sec", "device_write_iops_sec", QV_BLKIO_DEVICE_WRITE_IOPS,
      offsetof(qv_blkio_params, device_write_iops_sec) },
    { "device-read-bytes-sec", "device_read_bytes_sec", QV_BLKIO_DEVICE_READ_BPS,
      offsetof(qv_blkio_params, device_read_bytes_sec) },
    { "device-write-bytes-sec", "device_write_bytes_sec", QV_BLKIO_DEVICE_WRITE_BPS,
      offsetof(qv_blkio_params, device_write_bytes_sec) },
};

static bool cmd_blkiotune(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    qv_blkio_params set = { 0 };
    const char *w = cli_str(args, "weight");
    if (w) {
        unsigned long long v;
        if (!parse_ull(w, &v) || v > 1000) {
            cli_error("Invalid value of %s for I/O weight", w);
            return false;
        }
        set.weight = (unsigned int)v;
        set.fields |= QV_BLKIO_WEIGHT;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(blkio_opts); i++) {
        const char *v = cli_str(args, blkio_opts[i].opt);
        if (v) {
            *(char **)(void *)((char *)&set + blkio_opts[i].off) = (char *)v;
            set.fields |= blkio_opts[i].bit;
        }
    }
    g_autoptr(qv_error) err = NULL;
    if (set.fields) {
        if (qv_domain_set_blkio_parameters(dom, &set, flags, &err) < 0) {
            cli_error_qv(err, "Unable to change blkio parameters");
            return false;
        }
        return true;
    }
    qv_blkio_params cur;
    if (qv_domain_get_blkio_parameters(dom, &cur, flags, &err) < 0) {
        cli_error_qv(err, "Unable to get blkio parameters");
        return false;
    }
    json_object *o = json_object_new_object();
    g_autofree char *wt = g_strdup_printf("%u", cur.weight);
    put(ctx, o, "weight", json_object_new_int64(cur.weight), wt);
    for (size_t i = 0; i < G_N_ELEMENTS(blkio_opts); i++) {
        const char *v = *(char **)(void *)((char *)&cur + blkio_opts[i].off);
        put(ctx, o, blkio_opts[i].name, json_object_new_string(v ? v : ""), v ? v : "");
    }
    qv_blkio_params_clear(&cur);
    finish(ctx, o);
    return true;
}

/* ---- numatune ---------------------------------------------------------------------- */

static const char *const numa_modes[] = { "strict", "preferred", "interleave", "restrictive" };

static bool cmd_numatune(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    qv_numa_params set = { 0 };
    const char *mode = cli_str(args, "mode");
    if (mode) {
        unsigned long long n;
        set.mode = -1;
        for (int i = 0; i < (int)G_N_ELEMENTS(numa_modes); i++)
            if (!strcmp(mode, numa_modes[i]))
                set.mode = i;
        if (set.mode < 0 && parse_ull(mode, &n) && n < G_N_ELEMENTS(numa_modes))
            set.mode = (int)n;
        if (set.mode < 0) {
            cli_error("Invalid mode: %s", mode);
            return false;
        }
        set.fields |= QV_NUMA_MODE;
    }
    if (cli_str(args, "nodeset")) {
        set.nodeset = (char *)cli_str(args, "nodeset");
        set.fields |= QV_NUMA_NODESET;
    }
    g_autoptr(qv_error) err = NULL;
    if (set.fields) {
        if (qv_domain_set_numa_parameters(dom, &set, flags, &err) < 0) {
            cli_error_qv(err, "Unable to change numa parameters");
            return false;
        }
        return true;
    }
    qv_numa_params cur;
    if (qv_domain_get_numa_parameters(dom, &cur, flags, &err) < 0) {
        cli_error_qv(err, "Unable to get numa parameters");
        return false;
    }
    json_object *o = json_object_new_object();
    const char *m = cur.mode >= 0 && cur.mode < (int)G_N_ELEMENTS(numa_modes) ? numa_modes[cur.mode] : "";
    put(ctx, o, "numa_mode", json_object_new_string(m), m);
    put(ctx, o, "numa_nodeset", json_object_new_string(cur.nodeset ? cur.nodeset : ""),
        cur.nodeset ? cur.nodeset : "");
    qv_numa_params_clear(&cur);
    finish(ctx, o);
    return true;
}

/* ---- cpu-stats ---------------------------------------------------------------------- */

static void put_seconds(const cli_ctx *ctx, json_object *o, const char *name,
                        unsigned long long ns)
{
    if (!ctx->json)
        printf("\t%-12s %9lld.%09lld seconds\n", name, (long long)(ns / 1000000000ULL),
               (long long)(ns % 1000000000ULL));
    json_object_object_add(o, name, json_object_new_uint64(ns));
}

static bool cmd_cpu_stats(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    bool total = cli_has(args, "total");
    bool ranged = cli_has(args, "start") || cli_has(args, "count");
    long long start = 0, count = -1;
    if ((cli_str(args, "start") && (!parse_ll(cli_str(args, "start"), &start) || start < 0))) {
        cli_error("Invalid value for start CPU");
        return false;
    }
    if (cli_str(args, "count") && (!parse_ll(cli_str(args, "count"), &count) || count < 0)) {
        cli_error("Invalid value for number of CPUs to show");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    json_object *out = json_object_new_object();
    if (!total || ranged) {
        int ncpus = qv_domain_get_cpu_stats(dom, NULL, 0, 0, 0, &err);
        if (ncpus < 0) {
            json_object_put(out);
            cli_error_qv(err, "Failed to retrieve CPU statistics");
            return false;
        }
        if (start >= ncpus) {
            json_object_put(out);
            cli_error("Start CPU %lld is out of range (min: 0, max: %d)", start, ncpus - 1);
            return false;
        }
        if (count < 0 || start + count > ncpus)
            count = ncpus - start;
        g_autofree qv_cpu_stats *rows = g_new0(qv_cpu_stats, (gsize)MAX(count, 1));
        int n = count ? qv_domain_get_cpu_stats(dom, rows, (int)start, (unsigned int)count, 0,
                                                &err) : 0;
        if (n < 0) {
            json_object_put(out);
            cli_error_qv(err, "Failed to retrieve CPU statistics");
            return false;
        }
        json_object *arr = json_object_new_array();
        for (int i = 0; i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "cpu", json_object_new_int64(start + i));
            if (!ctx->json)
                printf("CPU%lld:\n", start + i);
            put_seconds(ctx, o, "cpu_time", rows[i].cpu_time);
            put_seconds(ctx, o, "vcpu_time", rows[i].vcpu_time);
            json_object_array_add(arr, o);
        }
        json_object_object_add(out, "cpus", arr);
    }
    if (total || !ranged) {
        qv_cpu_stats t;
        if (qv_domain_get_cpu_stats(dom, &t, -1, 1, 0, &err) < 0) {
            json_object_put(out);
            cli_error_qv(err, "Failed to retrieve CPU statistics");
            return false;
        }
        json_object *o = json_object_new_object();
        if (!ctx->json)
            printf("Total:\n");
        put_seconds(ctx, o, "cpu_time", t.cpu_time);
        put_seconds(ctx, o, "user_time", t.user_time);
        put_seconds(ctx, o, "system_time", t.system_time);
        put_seconds(ctx, o, "vcpu_time", t.vcpu_time);
        json_object_object_add(out, "total", o);
    }
    finish(ctx, out);
    return true;
}

/* ---- the table ------------------------------------------------------------------------ */


static const cli_opt opts_schedinfo[] = {
    CLI_OPT_DOMAIN,
    CLI_OPT_AFFECT,
    { "set", CLI_OPT_ARGV, true, false, "parameter=value" },
    { NULL },
};
static const cli_opt opts_memtune[] = {
    CLI_OPT_DOMAIN,
    { "hard-limit", CLI_OPT_STRING, false, false, "Max memory, as scaled integer (default KiB)" },
    { "soft-limit", CLI_OPT_STRING, false, false, "Memory during contention, as scaled integer (default KiB)" },
    { "swap-hard-limit", CLI_OPT_STRING, false, false, "Max memory plus swap, as scaled integer (default KiB)" },
    { "min-guarantee", CLI_OPT_STRING, false, false, "Min guaranteed memory, as scaled integer (default KiB)" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_blkiotune[] = {
    CLI_OPT_DOMAIN,
    { "weight", CLI_OPT_STRING, false, false, "IO Weight" },
    { "device-weights", CLI_OPT_STRING, false, false, "per-device IO Weights, in the form of /path/to/device,weight,..." },
    { "device-read-iops-sec", CLI_OPT_STRING, false, false, "per-device read I/O limit per second, in the form of /path/to/device,read_iops_sec,..." },
    { "device-write-iops-sec", CLI_OPT_STRING, false, false, "per-device write I/O limit per second, in the form of /path/to/device,write_iops_sec,..." },
    { "device-read-bytes-sec", CLI_OPT_STRING, false, false, "per-device bytes read per second, in the form of /path/to/device,read_bytes_sec,..." },
    { "device-write-bytes-sec", CLI_OPT_STRING, false, false, "per-device bytes wrote per second, in the form of /path/to/device,write_bytes_sec,..." },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_numatune[] = {
    CLI_OPT_DOMAIN,
    { "mode", CLI_OPT_STRING, false, false, "NUMA mode, one of strict, preferred, interleave or restrictive" },
    { "nodeset", CLI_OPT_STRING, false, false, "NUMA node selections to set" },
    CLI_OPT_AFFECT,
    { NULL },
};
static const cli_opt opts_cpu_stats[] = {
    CLI_OPT_DOMAIN,
    { "total", CLI_OPT_BOOL, false, false, "Show total statistics only" },
    { "start", CLI_OPT_INT, false, false, "Show statistics from this CPU" },
    { "count", CLI_OPT_INT, false, false, "Number of shown CPUs at most" },
    { NULL },
};

const cli_cmd cli_tune_cmds[] = {
    { "blkiotune", cmd_blkiotune, opts_blkiotune, "Get or set blkio parameters", true },
    { "cpu-stats", cmd_cpu_stats, opts_cpu_stats, "show domain cpu statistics", true },
    { "memtune", cmd_memtune, opts_memtune, "Get or set memory parameters", true },
    { "numatune", cmd_numatune, opts_numatune, "Get or set numa parameters", true },
    { "schedinfo", cmd_schedinfo, opts_schedinfo, "show/set scheduler parameters", true },
    { NULL },
};
