/* qvirt save/restore commands: save, restore, save-image-dumpxml,
 * save-image-define, managedsave, managedsave-remove, dump, domjobinfo,
 * domjobabort. Messages and layouts follow virsh (tools/virsh-domain.c in
 * libvirt 9), including --verbose's progress line on stderr. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* How often --verbose asks for the job's progress. */
#define CLI_PROGRESS_MS 500

static char *read_file_arg(const char *path)
{
    g_autofree char *buf = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(path, &buf, NULL, &gerr)) {
        cli_error("cannot read %s: %s", path, gerr->message);
        return NULL;
    }
    return g_steal_pointer(&buf);
}

/* --verbose: a thread with its own connection watches the job the main
 * thread runs, as virsh's watch loop does. */
typedef struct progress_watch {
    const char *uri;
    char *name;
    const char *label;
    GMutex lock;
    GCond cond;
    bool done;
    GThread *thread;
} progress_watch;

static gpointer watch_job(gpointer data)
{
    progress_watch *w = data;
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    if (qv_conn_open(w->uri, &conn, NULL) >= 0 &&
        qv_conn_get_domain_by_name(conn, w->name, &dom, NULL) >= 0) {
        g_mutex_lock(&w->lock);
        while (!w->done) {
            g_mutex_unlock(&w->lock);
            qv_domain_job_info info;
            if (qv_domain_get_job_info(dom, &info, NULL) >= 0 && info.type == QV_DOMAIN_JOB_UNBOUNDED)
                cli_print_job_progress(w->label, info.data_remaining ? info.data_remaining : 1,
                               info.data_total ? info.data_total : 1);
            g_mutex_lock(&w->lock);
            gint64 until = g_get_monotonic_time() + CLI_PROGRESS_MS * G_TIME_SPAN_MILLISECOND;
            while (!w->done && g_cond_wait_until(&w->cond, &w->lock, until))
                ;
        }
        g_mutex_unlock(&w->lock);
    }
    qv_domain_free(dom);
    qv_conn_close(conn);
    return NULL;
}

static void watch_start(progress_watch *w, cli_ctx *ctx, const char *name, const char *label,
                        bool verbose)
{
    memset(w, 0, sizeof *w);
    if (!verbose)
        return;
    w->uri = ctx->uri ? ctx->uri : g_getenv("QVIRT_DEFAULT_URI");
    w->name = g_strdup(name);
    w->label = label;
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    w->thread = g_thread_new("progress", watch_job, w);
}

static void watch_stop(progress_watch *w, bool ok)
{
    if (!w->thread)
        return;
    g_mutex_lock(&w->lock);
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    g_thread_join(w->thread);
    if (ok)
        cli_print_job_progress(w->label, 0, 1);
    fputc('\n', stderr);
    g_free(w->name);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
}

/* ---- save / restore ------------------------------------------------------ */

static bool cmd_save(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    if (cli_has(args, "running") && cli_has(args, "paused")) {
        cli_error("Options --running and --paused are mutually exclusive");
        return false;
    }
    g_autofree char *xml = NULL;
    if (cli_has(args, "xml") && !(xml = read_file_arg(cli_str(args, "xml"))))
        return false;
    static const cli_flag map[] = {
        { "bypass-cache", QV_DOMAIN_SAVE_BYPASS_CACHE },
        { "running", QV_DOMAIN_SAVE_RUNNING },
        { "paused", QV_DOMAIN_SAVE_PAUSED },
        { NULL, 0 },
    };
    const char *file = cli_str(args, "file");
    g_autoptr(qv_error) err = NULL;
    progress_watch w;
    watch_start(&w, ctx, qv_domain_get_name(dom), "Save", cli_has(args, "verbose"));
    int r = qv_domain_save(dom, file, xml, cli_flags(args, map), &err);
    watch_stop(&w, r >= 0);
    if (r < 0) {
        cli_error_qv(err, "failed to save the domain");
        return false;
    }
    cli_info(ctx, "\nDomain '%s' saved to %s\n", qv_domain_get_name(dom), file);
    return true;
}

static bool cmd_restore(cli_ctx *ctx, const cli_args *args)
{
    if (cli_has(args, "running") && cli_has(args, "paused")) {
        cli_error("Options --running and --paused are mutually exclusive");
        return false;
    }
    g_autofree char *xml = NULL;
    if (cli_has(args, "xml") && !(xml = read_file_arg(cli_str(args, "xml"))))
        return false;
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    static const cli_flag map[] = {
        { "bypass-cache", QV_DOMAIN_SAVE_BYPASS_CACHE },
        { "running", QV_DOMAIN_SAVE_RUNNING },
        { "paused", QV_DOMAIN_SAVE_PAUSED },
        { "reset-nvram", QV_DOMAIN_SAVE_RESET_NVRAM },
        { NULL, 0 },
    };
    const char *file = cli_str(args, "file");
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_restore_domain(conn, file, xml, cli_flags(args, map), &err) < 0) {
        cli_error_qv(err, "failed to restore the domain");
        return false;
    }
    cli_info(ctx, "Domain restored from %s\n", file);
    return true;
}

static bool cmd_save_image_dumpxml(cli_ctx *ctx, const cli_args *args)
{
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    char *xml = NULL;
    g_autoptr(qv_error) err = NULL;
    unsigned int flags = cli_has(args, "security-info") ? QV_DOMAIN_SAVE_IMAGE_XML_SECURE : 0;
    if (qv_conn_get_save_image_xml_description(conn, cli_str(args, "file"), flags, &xml,
                                               &err) < 0) {
        cli_error_qv(err, "failed to read the save image");
        return false;
    }
    fputs(xml, stdout);
    free(xml);
    return true;
}

static bool cmd_save_image_define(cli_ctx *ctx, const cli_args *args)
{
    if (cli_has(args, "running") && cli_has(args, "paused")) {
        cli_error("Options --running and --paused are mutually exclusive");
        return false;
    }
    g_autofree char *xml = read_file_arg(cli_str(args, "xml"));
    qv_conn *conn = xml ? cli_conn(ctx) : NULL;
    if (!conn)
        return false;
    static const cli_flag map[] = {
        { "running", QV_DOMAIN_SAVE_RUNNING },
        { "paused", QV_DOMAIN_SAVE_PAUSED },
        { NULL, 0 },
    };
    const char *file = cli_str(args, "file");
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_define_save_image_xml(conn, file, xml, cli_flags(args, map), &err) < 0) {
        cli_error_qv(err, "failed to update the save image");
        return false;
    }
    cli_info(ctx, "State file %s updated.\n", file);
    return true;
}

/* ---- managed save -------------------------------------------------------- */

static bool cmd_managedsave(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    if (cli_has(args, "running") && cli_has(args, "paused")) {
        cli_error("Options --running and --paused are mutually exclusive");
        return false;
    }
    static const cli_flag map[] = {
        { "bypass-cache", QV_DOMAIN_SAVE_BYPASS_CACHE },
        { "running", QV_DOMAIN_SAVE_RUNNING },
        { "paused", QV_DOMAIN_SAVE_PAUSED },
        { NULL, 0 },
    };
    g_autoptr(qv_error) err = NULL;
    progress_watch w;
    watch_start(&w, ctx, qv_domain_get_name(dom), "Managedsave", cli_has(args, "verbose"));
    int r = qv_domain_managed_save(dom, cli_flags(args, map), &err);
    watch_stop(&w, r >= 0);
    if (r < 0) {
        cli_error_qv(err, "failed to save the domain state");
        return false;
    }
    cli_info(ctx, "\nDomain '%s' state saved by qvirt\n", qv_domain_get_name(dom));
    return true;
}

static bool cmd_managedsave_remove(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    int has = qv_domain_has_managed_save_image(dom, 0, &err);
    if (has < 0) {
        cli_error_qv(err, "failed to check for the domain's managed save image");
        return false;
    }
    if (!has) {
        cli_info(ctx, "Domain '%s' has no manage save image; removal skipped\n",
                 qv_domain_get_name(dom));
        return true;
    }
    if (qv_domain_managed_save_remove(dom, 0, &err) < 0) {
        cli_error_qv(err, "failed to remove the managed save image");
        return false;
    }
    cli_info(ctx, "Removed managedsave image for domain '%s'\n", qv_domain_get_name(dom));
    return true;
}

/* ---- dump ---------------------------------------------------------------- */

static bool cmd_dump(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    static const cli_flag map[] = {
        { "live", QV_DUMP_LIVE },
        { "crash", QV_DUMP_CRASH },
        { "bypass-cache", QV_DUMP_BYPASS_CACHE },
        { "reset", QV_DUMP_RESET },
        { "memory-only", QV_DUMP_MEMORY_ONLY },
        { NULL, 0 },
    };
    static const char *const formats[] = { "elf", "kdump-zlib", "kdump-lzo", "kdump-snappy",
                                           "win-dmp" };
    unsigned int format = QV_DOMAIN_CORE_DUMP_FORMAT_RAW;
    if (cli_has(args, "format")) {
        const char *f = cli_str(args, "format");
        for (format = 0; format < G_N_ELEMENTS(formats) && strcmp(f, formats[format]); format++)
            ;
        if (format == G_N_ELEMENTS(formats)) {
            cli_error("format '%s' is not supported, expecting 'kdump-zlib', 'kdump-lzo', "
                      "'kdump-snappy', 'win-dmp' or 'elf'", f);
            return false;
        }
    }
    const char *file = cli_str(args, "file");
    g_autoptr(qv_error) err = NULL;
    progress_watch w;
    watch_start(&w, ctx, qv_domain_get_name(dom), "Dump", cli_has(args, "verbose"));
    int r = qv_domain_core_dump_format(dom, file, format, cli_flags(args, map), &err);
    watch_stop(&w, r >= 0);
    if (r < 0) {
        cli_error_qv(err, "failed to dump the domain");
        return false;
    }
    cli_info(ctx, "\nDomain '%s' dumped to %s\n", qv_domain_get_name(dom), file);
    return true;
}

/* ---- jobs ---------------------------------------------------------------- */

static const char *job_type_str(int type)
{
    static const char *const names[] = { "None", "Bounded", "Unbounded", "Completed", "Failed",
                                         "Cancelled" };
    return type >= 0 && type < (int)G_N_ELEMENTS(names) ? names[type] : "Unknown";
}

static const char *job_op_str(int op)
{
    static const char *const names[] = { "Unknown", "Start", "Save", "Restore",
                                         "Incoming migration", "Outgoing migration", "Snapshot",
                                         "Snapshot revert", "Dump", "Backup", "Snapshot delete" };
    return op >= 0 && op < (int)G_N_ELEMENTS(names) ? names[op] : "Unknown";
}

static void print_size(const char *label, unsigned long long v)
{
    const char *unit;
    double d = cli_pretty_capacity(v, &unit);
    printf("%-17s %-.3lf %s\n", label, d, unit);
}

static bool cmd_domjobinfo(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int flags = 0;
    if (cli_has(args, "completed"))
        flags |= QV_DOMAIN_JOB_STATS_COMPLETED;
    if (cli_has(args, "keep-completed"))
        flags |= QV_DOMAIN_JOB_STATS_KEEP_COMPLETED;
    qv_domain_job_stats st = { .size = sizeof st };
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_job_stats(dom, &st, flags, &err) < 0) {
        cli_error_qv(err, "failed to get the domain's job information");
        return false;
    }
    /* --json: the fields the job has, named as libvirt's typed parameters. */
    static const struct {
        unsigned long long bit;
        const char *json;
        size_t off;
    } rows[] = {
#define R(b, j, m) { QV_DOMAIN_JOB_FIELD_##b, j, offsetof(qv_domain_job_stats, m) }
        R(TIME_ELAPSED, "time_elapsed", time_elapsed),
        R(TIME_REMAINING, "time_remaining", time_remaining),
        R(DATA_PROCESSED, "data_processed", data_processed),
        R(DATA_REMAINING, "data_remaining", data_remaining),
        R(DATA_TOTAL, "data_total", data_total),
        R(MEMORY_PROCESSED, "memory_processed", memory_processed),
        R(MEMORY_REMAINING, "memory_remaining", memory_remaining),
        R(MEMORY_TOTAL, "memory_total", memory_total),
        R(MEMORY_BPS, "memory_bps", memory_bps),
        R(MEMORY_DIRTY_RATE, "memory_dirty_rate", memory_dirty_rate),
        R(MEMORY_PAGE_SIZE, "memory_page_size", memory_page_size),
        R(MEMORY_ITERATION, "memory_iteration", memory_iteration),
        R(MEMORY_CONSTANT, "memory_constant", memory_constant),
        R(MEMORY_NORMAL, "memory_normal", memory_normal),
        R(MEMORY_NORMAL_BYTES, "memory_normal_bytes", memory_normal_bytes),
        R(SETUP_TIME, "setup_time", setup_time),
        R(DOWNTIME, "downtime", downtime),
        R(MEMORY_POSTCOPY_REQS, "memory_postcopy_requests", memory_postcopy_reqs),
        R(DISK_TOTAL, "disk_total", disk_total),
        R(DISK_PROCESSED, "disk_processed", disk_processed),
        R(DISK_REMAINING, "disk_remaining", disk_remaining),
        R(DISK_BPS, "disk_bps", disk_bps),
        R(COMPRESSION_CACHE, "compression_cache", compression_cache),
        R(COMPRESSION_BYTES, "compression_bytes", compression_bytes),
        R(COMPRESSION_PAGES, "compression_pages", compression_pages),
        R(COMPRESSION_CACHE_MISSES, "compression_cache_misses", compression_cache_misses),
        R(COMPRESSION_OVERFLOW, "compression_overflow", compression_overflow),
        R(AUTO_CONVERGE_THROTTLE, "auto_converge_throttle", auto_converge_throttle),
#undef R
    };
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(job_type_str(st.type)));
        if (st.type != QV_DOMAIN_JOB_NONE)
            json_object_object_add(o, "operation", json_object_new_string(job_op_str(st.operation)));
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
            if (st.fields & rows[i].bit)
                json_object_object_add(o, rows[i].json, json_object_new_int64(
                    (int64_t)*(const unsigned long long *)(const void *)((const char *)&st + rows[i].off)));
        if (st.fields & QV_DOMAIN_JOB_FIELD_ERRMSG)
            json_object_object_add(o, "errmsg", json_object_new_string(st.errmsg));
        cli_print_json(o);
        return true;
    }
    /* virsh's layout: its groups, order, units and labels (cmdDomjobinfo). */
    printf("%-17s %-12s\n", "Job type:", job_type_str(st.type));
    if (st.type == QV_DOMAIN_JOB_NONE)
        return true;
    printf("%-17s %-12s\n", "Operation:", job_op_str(st.operation));
#define HAS(b) (st.fields & QV_DOMAIN_JOB_FIELD_##b)
    if (HAS(TIME_ELAPSED))
        printf("%-17s %-12llu ms\n", "Time elapsed:", st.time_elapsed);
    if (HAS(TIME_REMAINING) && st.type == QV_DOMAIN_JOB_BOUNDED)
        printf("%-17s %-12llu ms\n", "Time remaining:", st.time_remaining);
    if (st.data_total || st.data_remaining || st.data_processed) {
        print_size("Data processed:", st.data_processed);
        print_size("Data remaining:", st.data_remaining);
        print_size("Data total:", st.data_total);
    }
    if (st.memory_total || st.memory_remaining || st.memory_processed) {
        print_size("Memory processed:", st.memory_processed);
        print_size("Memory remaining:", st.memory_remaining);
        print_size("Memory total:", st.memory_total);
        if (HAS(MEMORY_BPS) && st.memory_bps) {
            const char *unit;
            double d = cli_pretty_capacity(st.memory_bps, &unit);
            printf("%-17s %-.3lf %s/s\n", "Memory bandwidth:", d, unit);
        }
        if (HAS(MEMORY_DIRTY_RATE))
            printf("%-17s %-12llu pages/s\n", "Dirty rate:", st.memory_dirty_rate);
        if (HAS(MEMORY_PAGE_SIZE))
            printf("%-17s %-12llu bytes\n", "Page size:", st.memory_page_size);
        if (HAS(MEMORY_ITERATION))
            printf("%-17s %-12llu\n", "Iteration:", st.memory_iteration);
        if (HAS(MEMORY_POSTCOPY_REQS))
            printf("%-17s %-12llu\n", "Postcopy requests:", st.memory_postcopy_reqs);
    }
    /* virsh's "File" rows: a migration's disk copy */
    if (st.disk_total || st.disk_remaining || st.disk_processed) {
        print_size("File processed:", st.disk_processed);
        print_size("File remaining:", st.disk_remaining);
        print_size("File total:", st.disk_total);
        if (HAS(DISK_BPS) && st.disk_bps) {
            const char *unit;
            double d = cli_pretty_capacity(st.disk_bps, &unit);
            printf("%-17s %-.3lf %s/s\n", "File bandwidth:", d, unit);
        }
    }
    if (HAS(MEMORY_CONSTANT))
        printf("%-17s %-12llu\n", "Constant pages:", st.memory_constant);
    if (HAS(MEMORY_NORMAL))
        printf("%-17s %-12llu\n", "Normal pages:", st.memory_normal);
    if (HAS(MEMORY_NORMAL_BYTES))
        print_size("Normal data:", st.memory_normal_bytes);
    /* a running migration's downtime is QEMU's estimate */
    if (HAS(DOWNTIME))
        printf("%-17s %-12llu ms\n", st.type == QV_DOMAIN_JOB_COMPLETED ? "Total downtime:"
                                                                         : "Expected downtime:",
               st.downtime);
    if (HAS(SETUP_TIME))
        printf("%-17s %-12llu ms\n", "Setup time:", st.setup_time);
    if (HAS(COMPRESSION_CACHE))
        print_size("Compression cache:", st.compression_cache);
    if (HAS(COMPRESSION_BYTES))
        print_size("Compressed data:", st.compression_bytes);
    if (HAS(COMPRESSION_PAGES))
        printf("%-17s %-13llu\n", "Compressed pages:", st.compression_pages);
    if (HAS(COMPRESSION_CACHE_MISSES))
        printf("%-17s %-13llu\n", "Compression cache misses:", st.compression_cache_misses);
    if (HAS(COMPRESSION_OVERFLOW))
        printf("%-17s %-13llu\n", "Compression overflows:", st.compression_overflow);
    if (HAS(AUTO_CONVERGE_THROTTLE))
        printf("%-17s %-13llu\n", "Auto converge throttle:", st.auto_converge_throttle);
    if (HAS(ERRMSG))
        printf("%-17s %s\n", "Error message:", st.errmsg);
#undef HAS
    return true;
}

static bool cmd_domjobabort(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_abort_job(dom, 0, &err) < 0) {
        cli_error_qv(err, "failed to abort the job");
        return false;
    }
    return true;
}

/* ---- the table ------------------------------------------------------------- */

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define OPT_STATE_FLAGS \
    { "running", CLI_OPT_BOOL, false, false, "set domain to be running on restore" }, \
    { "paused", CLI_OPT_BOOL, false, false, "set domain to be paused on restore" }

static const cli_opt opts_save[] = {
    OPT_DOMAIN,
    { "file", CLI_OPT_STRING, true, true, "where to save the data" },
    { "bypass-cache", CLI_OPT_BOOL, false, false, "avoid file system cache when saving" },
    { "xml", CLI_OPT_STRING, false, false, "filename containing updated XML for the target" },
    OPT_STATE_FLAGS,
    { "verbose", CLI_OPT_BOOL, false, false, "display the progress of save" },
    { NULL },
};
static const cli_opt opts_restore[] = {
    { "file", CLI_OPT_STRING, true, true, "the state to restore" },
    { "bypass-cache", CLI_OPT_BOOL, false, false, "avoid file system cache when restoring" },
    { "xml", CLI_OPT_STRING, false, false, "filename containing updated XML for the target" },
    OPT_STATE_FLAGS,
    { "reset-nvram", CLI_OPT_BOOL, false, false, "re-initialize NVRAM from its pristine template" },
    { NULL },
};
static const cli_opt opts_image_dumpxml[] = {
    { "file", CLI_OPT_STRING, true, true, "saved state file to read" },
    { "security-info", CLI_OPT_BOOL, false, false, "include security sensitive information in XML dump" },
    { NULL },
};
static const cli_opt opts_image_define[] = {
    { "file", CLI_OPT_STRING, true, true, "saved state file to modify" },
    { "xml", CLI_OPT_STRING, true, true, "filename containing updated XML for the target" },
    OPT_STATE_FLAGS,
    { NULL },
};
static const cli_opt opts_managedsave[] = {
    OPT_DOMAIN,
    { "bypass-cache", CLI_OPT_BOOL, false, false, "avoid file system cache when saving" },
    OPT_STATE_FLAGS,
    { "verbose", CLI_OPT_BOOL, false, false, "display the progress of save" },
    { NULL },
};
static const cli_opt opts_domain_only[] = { OPT_DOMAIN, { NULL } };
static const cli_opt opts_dump[] = {
    OPT_DOMAIN,
    { "file", CLI_OPT_STRING, true, true, "where to dump the core" },
    { "live", CLI_OPT_BOOL, false, false, "perform a live core dump if supported" },
    { "crash", CLI_OPT_BOOL, false, false, "crash the domain after core dump" },
    { "bypass-cache", CLI_OPT_BOOL, false, false, "avoid file system cache when dumping" },
    { "reset", CLI_OPT_BOOL, false, false, "reset the domain after core dump" },
    { "verbose", CLI_OPT_BOOL, false, false, "display the progress of dump" },
    { "memory-only", CLI_OPT_BOOL, false, false, "dump domain's memory only" },
    { "format", CLI_OPT_STRING, false, false, "specify the format of memory-only dump" },
    { NULL },
};
static const cli_opt opts_domjobinfo[] = {
    OPT_DOMAIN,
    { "completed", CLI_OPT_BOOL, false, false, "return statistics of a recently completed job" },
    { "keep-completed", CLI_OPT_BOOL, false, false, "don't destroy statistics of a recently completed job when reading" },
    { NULL },
};

const cli_cmd cli_save_cmds[] = {
    { "save", cmd_save, opts_save, "save a domain state to a file", false },
    { "restore", cmd_restore, opts_restore, "restore a domain from a saved state in a file", false },
    { "save-image-dumpxml", cmd_save_image_dumpxml, opts_image_dumpxml, "saved state domain information in XML", false },
    { "save-image-define", cmd_save_image_define, opts_image_define, "redefine the XML for a domain's saved state file", false },
    { "managedsave", cmd_managedsave, opts_managedsave, "managed save of a domain state", false },
    { "managedsave-remove", cmd_managedsave_remove, opts_domain_only, "Remove Managed save of a domain", false },
    { "dump", cmd_dump, opts_dump, "dump the core of a domain to a file for analysis", false },
    { "domjobinfo", cmd_domjobinfo, opts_domjobinfo, "domain job information", true },
    { "domjobabort", cmd_domjobabort, opts_domain_only, "abort active domain job", false },
    { NULL },
};
