/* qvirt block job commands: blockpull, blockcommit, blockcopy, blockjob.
 * Options, messages and the progress line ("Block Commit: [ 45 %]" on
 * stderr, as virsh's virshPrintJobProgress) follow virsh in libvirt 9
 * (virsh-domain.c). --wait watches the job through get_block_job_info and
 * the BLOCK_JOB_2 events, like virsh's virshBlockJobWait. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* virsh looks at the job twice a second. */
#define WAIT_TICK_MS 500

static const char *job_type_str(int type)
{
    static const char *const names[] = { "Unknown job", "Block Pull", "Block Copy", "Block Commit",
                                         "Active Block Commit", "Backup" };
    return type >= 0 && type < (int)G_N_ELEMENTS(names) ? names[type] : "Unknown job";
}

static void print_progress(const char *label, unsigned long long remaining,
                           unsigned long long total)
{
    int progress;
    if (total == 0)
        progress = 100;
    else if (remaining == 0)
        progress = 100;
    else
        progress = (int)(100 - remaining * 100 / total);
    if (progress >= 100 && remaining)
        progress = 99;
    fprintf(stderr, "\r%s: [%3d %%]", label, progress);
    fflush(stderr);
}

static bool parse_ulong(const char *opt, const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (s && (errno || *end || s[0] == '-' || v > G_MAXULONG)) {
        cli_error("Numeric value '%s' for <%s> option is malformed or out of range", s, opt);
        return false;
    }
    *out = (unsigned long)v;
    return true;
}

/* ---- waiting --------------------------------------------------------------- */

typedef struct job_wait {
    const char *target;     /* the disk's target, as BLOCK_JOB_2 names it */
    int status;             /* -1 until an event for the disk came */
    char *error;
} job_wait;

static void on_job_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    job_wait *w = opaque;
    g_autoptr(json_object) o = json_tokener_parse(ev->json);
    json_object *d;
    const char *disk = o && json_object_object_get_ex(o, "disk", &d) ? json_object_get_string(d) : NULL;
    if (!disk || strcmp(disk, w->target))
        return;
    w->status = ev->event;
    json_object *e;
    if (json_object_object_get_ex(o, "error", &e)) {
        g_free(w->error);
        w->error = g_strdup(json_object_get_string(e));
    }
}

/* The disk's target (vda) for a disk named by target or path. */
static char *disk_target(qv_domain *dom, const char *path)
{
    char *xml = NULL;
    if (qv_domain_get_xml_description(dom, 0, &xml, NULL) < 0)
        return g_strdup(path);
    /* A path: the <target dev> of the <disk> whose <source file> it is. */
    g_autofree char *needle = g_strdup_printf("='%s'", path);
    char *p = strstr(xml, needle);
    char *res = NULL;
    if (p && (p - xml < 3 || !g_str_has_prefix(p - 3, "dev"))) {
        char *t = strstr(p, "<target dev='");
        if (t) {
            t += strlen("<target dev='");
            res = g_strndup(t, strcspn(t, "'"));
        }
    }
    free(xml);
    return res ? res : g_strdup(path);
}

/* virshBlockJobWait: until the job ended (its status) or, for a job that
 * goes READY, until READY (QV_DOMAIN_BLOCK_JOB_READY). timeout_s > 0
 * aborts the job then (QV_DOMAIN_BLOCK_JOB_CANCELED). -1 on an error. */
static int wait_job(cli_ctx *ctx, qv_domain *dom, const char *path, const char *label,
                    bool verbose, long timeout_s, bool async_abort, job_wait *w)
{
    g_autoptr(qv_error) err = NULL;
    int fd = qv_conn_event_get_fd(ctx->conn, &err);
    if (fd < 0) {
        cli_error_qv(err, "cannot watch the domain's events");
        return -1;
    }
    gint64 deadline = timeout_s > 0 ? g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC : 0;
    for (;;) {
        qv_block_job_info info;
        int r = qv_domain_get_block_job_info(dom, path, &info, 0, &err);
        if (r < 0) {
            cli_error_qv(err, "failed to query the block job");
            return -1;
        }
        qv_conn_event_dispatch(ctx->conn, NULL);
        if (r == 1 && verbose)
            print_progress(label, info.end - info.cur, info.end);
        if (w->status >= 0 && w->status != QV_DOMAIN_BLOCK_JOB_READY) {
            if (verbose && w->status == QV_DOMAIN_BLOCK_JOB_COMPLETED)
                print_progress(label, 0, 1);
            return w->status;
        }
        if (r == 1 && info.ready && info.cur == info.end) {
            if (verbose)
                print_progress(label, 0, info.end);
            return QV_DOMAIN_BLOCK_JOB_READY;
        }
        if (r == 0) {
            /* Ended and concluded: its event is in the journal by now. */
            qv_conn_event_dispatch(ctx->conn, NULL);
            int end = w->status >= 0 ? w->status : QV_DOMAIN_BLOCK_JOB_COMPLETED;
            if (verbose && end == QV_DOMAIN_BLOCK_JOB_COMPLETED)
                print_progress(label, 0, 1);
            return end;
        }
        if (deadline && g_get_monotonic_time() >= deadline) {
            unsigned int flags = async_abort ? QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC : 0;
            if (qv_domain_abort_block_job(dom, path, flags, &err) < 0) {
                cli_error_qv(err, "failed to abort the block job");
                return -1;
            }
            return QV_DOMAIN_BLOCK_JOB_CANCELED;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, WAIT_TICK_MS);
    }
}

/* Registers for the disk's BLOCK_JOB_2 events before the job starts. */
static bool watch(cli_ctx *ctx, qv_domain *dom, const char *path, job_wait *w, char **target)
{
    *target = disk_target(dom, path);
    w->target = *target;
    w->status = -1;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_domain_event_register_any(ctx->conn, dom, QV_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                          on_job_event, w, &err) < 0) {
        cli_error_qv(err, "cannot watch the domain's events");
        return false;
    }
    return true;
}

/* ---- blockpull ------------------------------------------------------------- */

static bool cmd_blockpull(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *path = cli_str(args, "path"), *base = cli_str(args, "base");
    unsigned long bw = 0, timeout = 0;
    if (!parse_ulong("bandwidth", cli_str(args, "bandwidth"), &bw) ||
        !parse_ulong("timeout", cli_str(args, "timeout"), &timeout))
        return false;
    bool verbose = cli_has(args, "verbose");
    bool blocking = cli_has(args, "wait") || verbose || cli_has(args, "timeout");
    job_wait w = { 0 };
    g_autofree char *target = NULL;
    if (blocking && !watch(ctx, dom, path, &w, &target))
        return false;
    g_autoptr(qv_error) err = NULL;
    unsigned int flags = cli_has(args, "bytes") ? QV_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES : 0;
    if (cli_has(args, "keep-relative"))
        flags |= QV_DOMAIN_BLOCK_REBASE_RELATIVE;
    int r = base || (flags & QV_DOMAIN_BLOCK_REBASE_RELATIVE)
                ? qv_domain_block_rebase(dom, path, base, bw, flags, &err)
                : qv_domain_block_pull(dom, path, bw, cli_has(args, "bytes") ? QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES : 0, &err);
    if (r < 0) {
        cli_error_qv(err, "Failed to start block pull");
        return false;
    }
    if (!blocking) {
        cli_info(ctx, "Block Pull started\n");
        return true;
    }
    int st = wait_job(ctx, dom, path, "Block Pull", verbose, (long)timeout, cli_has(args, "async"), &w);
    g_free(w.error);
    switch (st) {
    case QV_DOMAIN_BLOCK_JOB_COMPLETED:
        cli_info(ctx, "\nPull complete\n");
        return true;
    case QV_DOMAIN_BLOCK_JOB_CANCELED:
        cli_error("\nPull aborted");
        return false;
    case -1:
        return false;
    default:
        cli_error("\nPull failed");
        return false;
    }
}

/* ---- blockcommit ----------------------------------------------------------- */

static bool cmd_blockcommit(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *path = cli_str(args, "path");
    unsigned long bw = 0, timeout = 0;
    if (!parse_ulong("bandwidth", cli_str(args, "bandwidth"), &bw) ||
        !parse_ulong("timeout", cli_str(args, "timeout"), &timeout))
        return false;
    bool pivot = cli_has(args, "pivot"), keep = cli_has(args, "keep-overlay");
    bool active = cli_has(args, "active") || pivot || keep;
    bool verbose = cli_has(args, "verbose");
    bool blocking = cli_has(args, "wait") || verbose || cli_has(args, "timeout") || pivot || keep;
    if (pivot && keep) {
        cli_error("Options --pivot and --keep-overlay are mutually exclusive");
        return false;
    }
    static const cli_flag map[] = {
        { "shallow", QV_DOMAIN_BLOCK_COMMIT_SHALLOW }, { "delete", QV_DOMAIN_BLOCK_COMMIT_DELETE },
        { "keep-relative", QV_DOMAIN_BLOCK_COMMIT_RELATIVE },
        { "bytes", QV_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES }, { NULL, 0 } };
    unsigned int flags = cli_flags(args, map) | (active ? QV_DOMAIN_BLOCK_COMMIT_ACTIVE : 0);
    job_wait w = { 0 };
    g_autofree char *target = NULL;
    if (blocking && !watch(ctx, dom, path, &w, &target))
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_block_commit(dom, path, cli_str(args, "base"), cli_str(args, "top"), bw, flags,
                               &err) < 0) {
        cli_error_qv(err, "Failed to start block commit");
        return false;
    }
    qv_block_job_info info = { 0 };
    qv_domain_get_block_job_info(dom, path, &info, 0, NULL);
    bool is_active = info.type == QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT;
    if (!blocking) {
        cli_info(ctx, is_active ? "Active Block Commit started\n" : "Block Commit started\n");
        return true;
    }
    int st = wait_job(ctx, dom, path, is_active ? "Active Block Commit" : "Block Commit", verbose,
                      (long)timeout, cli_has(args, "async"), &w);
    g_autofree char *error = w.error;
    if (st == -1)
        return false;
    if (st == QV_DOMAIN_BLOCK_JOB_CANCELED) {
        cli_error("\nCommit aborted");
        return false;
    }
    if (st == QV_DOMAIN_BLOCK_JOB_FAILED) {
        cli_error("\nCommit failed%s%s", error ? ": " : "", error ? error : "");
        return false;
    }
    if (st == QV_DOMAIN_BLOCK_JOB_READY) {
        if (pivot || keep) {
            unsigned int af = pivot ? QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT : 0;
            if (qv_domain_abort_block_job(dom, path, af, &err) < 0) {
                cli_error_qv(err, pivot ? "failed to pivot job for disk" : "failed to finish job for disk");
                return false;
            }
            cli_info(ctx, pivot ? "\nSuccessfully pivoted\n" : "\nCommit complete, overlay image kept\n");
        } else {
            cli_info(ctx, "\nNow in synchronized phase\n");
        }
        return true;
    }
    cli_info(ctx, "\nCommit complete\n");
    return true;
}

/* ---- blockcopy ------------------------------------------------------------- */

static bool cmd_blockcopy(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *path = cli_str(args, "path"), *dest = cli_str(args, "dest"),
               *xmlfile = cli_str(args, "xml"), *format = cli_str(args, "format");
    unsigned long bw = 0, timeout = 0, gran = 0, buf = 0;
    if (!parse_ulong("bandwidth", cli_str(args, "bandwidth"), &bw) ||
        !parse_ulong("timeout", cli_str(args, "timeout"), &timeout) ||
        !parse_ulong("granularity", cli_str(args, "granularity"), &gran) ||
        !parse_ulong("buf-size", cli_str(args, "buf-size"), &buf))
        return false;
    if (!!dest == !!xmlfile) {
        cli_error("Exactly one of --dest and --xml is required");
        return false;
    }
    bool pivot = cli_has(args, "pivot"), finish = cli_has(args, "finish");
    bool verbose = cli_has(args, "verbose");
    bool blocking = cli_has(args, "wait") || verbose || cli_has(args, "timeout") || pivot || finish;
    if (pivot && finish) {
        cli_error("Options --pivot and --finish are mutually exclusive");
        return false;
    }
    g_autofree char *xml = NULL;
    if (xmlfile && !g_file_get_contents(xmlfile, &xml, NULL, NULL)) {
        cli_error("Failed to read from '%s'", xmlfile);
        return false;
    }
    if (!xml) {
        bool dev = cli_has(args, "blockdev");
        g_autofree char *esc = g_markup_escape_text(dest, -1);
        xml = g_strdup_printf("<disk type='%s'><driver type='%s'/><source %s='%s'/></disk>",
                              dev ? "block" : "file", format ? format : dev ? "raw" : "qcow2",
                              dev ? "dev" : "file", esc);
    }
    job_wait w = { 0 };
    g_autofree char *target = NULL;
    if (blocking && !watch(ctx, dom, path, &w, &target))
        return false;
    unsigned long long bytes = cli_has(args, "bytes") ? bw : (unsigned long long)bw << 20;
    qv_block_copy_params p = { .size = sizeof p, .bandwidth = bytes, .granularity = (unsigned int)gran,
                               .buf_size = buf };
    static const cli_flag map[] = {
        { "shallow", QV_DOMAIN_BLOCK_COPY_SHALLOW }, { "reuse-external", QV_DOMAIN_BLOCK_COPY_REUSE_EXT },
        { "transient-job", QV_DOMAIN_BLOCK_COPY_TRANSIENT_JOB },
        { "synchronous-writes", QV_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES }, { NULL, 0 } };
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_block_copy(dom, path, xml, &p, cli_flags(args, map), &err) < 0) {
        cli_error_qv(err, "Failed to start block copy");
        return false;
    }
    if (!blocking) {
        cli_info(ctx, "Block Copy started\n");
        return true;
    }
    int st = wait_job(ctx, dom, path, "Block Copy", verbose, (long)timeout, cli_has(args, "async"), &w);
    g_autofree char *error = w.error;
    if (st == -1)
        return false;
    if (st == QV_DOMAIN_BLOCK_JOB_CANCELED) {
        cli_error("\nCopy aborted");
        return false;
    }
    if (st != QV_DOMAIN_BLOCK_JOB_READY) {
        cli_error("\nCopy failed%s%s", error ? ": " : "", error ? error : "");
        return false;
    }
    if (pivot || finish) {
        if (qv_domain_abort_block_job(dom, path, pivot ? QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT : 0, &err) < 0) {
            cli_error_qv(err, pivot ? "failed to pivot job for disk" : "failed to finish job for disk");
            return false;
        }
        cli_info(ctx, pivot ? "\nSuccessfully pivoted\n" : "\nSuccessfully copied\n");
    } else {
        cli_info(ctx, "\nNow in mirroring phase\n");
    }
    return true;
}

/* ---- blockjob -------------------------------------------------------------- */

static bool cmd_blockjob(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *path = cli_str(args, "path");
    bool pivot = cli_has(args, "pivot");
    bool abort_ = cli_has(args, "abort") || cli_has(args, "async") || pivot;
    bool has_bw = cli_str(args, "bandwidth") != NULL;
    g_autoptr(qv_error) err = NULL;
    if (abort_ + has_bw + (cli_has(args, "info") || cli_has(args, "raw")) > 1) {
        cli_error("Options --abort/--pivot, --bandwidth and --info are mutually exclusive");
        return false;
    }
    if (abort_) {
        unsigned int f = (pivot ? QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT : 0) |
                         (cli_has(args, "async") ? QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC : 0);
        if (qv_domain_abort_block_job(dom, path, f, &err) < 0) {
            cli_error_qv(err, "failed to abort the block job");
            return false;
        }
        return true;
    }
    if (has_bw) {
        unsigned long bw;
        if (!parse_ulong("bandwidth", cli_str(args, "bandwidth"), &bw))
            return false;
        unsigned int f = cli_has(args, "bytes") ? QV_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES : 0;
        if (qv_domain_set_block_job_speed(dom, path, bw, f, &err) < 0) {
            cli_error_qv(err, "failed to set the block job's bandwidth");
            return false;
        }
        return true;
    }
    qv_block_job_info info;
    bool bytes = cli_has(args, "bytes") || cli_has(args, "raw");
    int r = qv_domain_get_block_job_info(dom, path, &info,
                                         bytes ? QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES : 0, &err);
    if (r < 0) {
        cli_error_qv(err, "failed to query the block job");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        if (r == 1) {
            json_object_object_add(o, "type", json_object_new_string(job_type_str(info.type)));
            json_object_object_add(o, "type_id", json_object_new_int(info.type));
            json_object_object_add(o, "bandwidth", json_object_new_int64((int64_t)info.bandwidth));
            json_object_object_add(o, "cur", json_object_new_int64((int64_t)info.cur));
            json_object_object_add(o, "end", json_object_new_int64((int64_t)info.end));
            json_object_object_add(o, "ready", json_object_new_boolean(info.ready));
        }
        cli_print_json(o);
        return true;
    }
    if (r == 0) {
        printf("No current block job for %s\n", path);
        return true;
    }
    if (cli_has(args, "raw")) {
        printf(" type=%d\n bandwidth=%llu\n cur=%llu\n end=%llu\n", info.type, info.bandwidth,
               info.cur, info.end);
        return true;
    }
    print_progress(job_type_str(info.type), info.end - info.cur, info.end);
    if (info.bandwidth) {
        if (bytes)
            printf("    Bandwidth limit: %llu bytes/s", info.bandwidth);
        else
            printf("    Bandwidth limit: %llu MiB/s", info.bandwidth);
    }
    printf("\n");
    return true;
}

/* ---- the table --------------------------------------------------------------- */

#define OPT_PATH { "path", CLI_OPT_STRING, true, true, "fully-qualified path of disk" }
#define OPT_BW { "bandwidth", CLI_OPT_STRING, false, false, "bandwidth limit in MiB/s" }
#define OPT_WAITS                                                                                  \
    { "wait", CLI_OPT_BOOL, false, false, "wait for job to complete" },                           \
    { "verbose", CLI_OPT_BOOL, false, false, "with --wait, display the progress" },               \
    { "timeout", CLI_OPT_INT, false, false, "with --wait, abort if the job exceeds timeout (in seconds)" }, \
    { "async", CLI_OPT_BOOL, false, false, "with --wait, don't wait for cancel to finish" },      \
    { "bytes", CLI_OPT_BOOL, false, false, "the bandwidth limit is in bytes/s rather than MiB/s" }

static const cli_opt opts_blockpull[] = {
    CLI_OPT_DOMAIN, OPT_PATH, OPT_BW,
    { "base", CLI_OPT_STRING, false, false, "path of backing file in chain for a partial pull" },
    OPT_WAITS,
    { "keep-relative", CLI_OPT_BOOL, false, false, "keep the backing chain relatively referenced" },
    { NULL },
};
static const cli_opt opts_blockcommit[] = {
    CLI_OPT_DOMAIN, OPT_PATH, OPT_BW,
    { "base", CLI_OPT_STRING, false, false, "path of base file to commit into (default bottom of chain)" },
    { "shallow", CLI_OPT_BOOL, false, false, "use backing file of top as base" },
    { "top", CLI_OPT_STRING, false, false, "path of top file to commit from (default top of chain)" },
    { "active", CLI_OPT_BOOL, false, false, "trigger two-stage active commit of top file" },
    { "delete", CLI_OPT_BOOL, false, false, "delete files that were successfully committed" },
    OPT_WAITS,
    { "pivot", CLI_OPT_BOOL, false, false, "implies --active --wait, pivot when commit is synchronized" },
    { "keep-overlay", CLI_OPT_BOOL, false, false, "implies --active --wait, quit when commit is synchronized" },
    { "keep-relative", CLI_OPT_BOOL, false, false, "keep the backing chain relatively referenced" },
    { NULL },
};
static const cli_opt opts_blockcopy[] = {
    CLI_OPT_DOMAIN, OPT_PATH,
    { "dest", CLI_OPT_STRING, false, false, "path of the copy to create" },
    OPT_BW,
    { "shallow", CLI_OPT_BOOL, false, false, "make the copy share a backing chain" },
    { "reuse-external", CLI_OPT_BOOL, false, false, "reuse existing destination" },
    { "blockdev", CLI_OPT_BOOL, false, false, "copy destination is block device instead of regular file" },
    OPT_WAITS,
    { "pivot", CLI_OPT_BOOL, false, false, "implies --wait, pivot when mirroring starts" },
    { "finish", CLI_OPT_BOOL, false, false, "implies --wait, quit when mirroring starts" },
    { "xml", CLI_OPT_STRING, false, false, "filename containing XML description of the copy destination" },
    { "format", CLI_OPT_STRING, false, false, "format of the destination file" },
    { "granularity", CLI_OPT_INT, false, false, "power-of-two granularity to use during the copy" },
    { "buf-size", CLI_OPT_INT, false, false, "maximum amount of in-flight data during the copy" },
    { "transient-job", CLI_OPT_BOOL, false, false, "the copy job is not persisted if VM crashes" },
    { "synchronous-writes", CLI_OPT_BOOL, false, false, "the copy job forces guest writes to be synchronously written to the destination" },
    { NULL },
};
static const cli_opt opts_blockjob[] = {
    CLI_OPT_DOMAIN, OPT_PATH,
    { "abort", CLI_OPT_BOOL, false, false, "abort the active job on the specified disk" },
    { "async", CLI_OPT_BOOL, false, false, "implies --abort; request but don't wait for job end" },
    { "pivot", CLI_OPT_BOOL, false, false, "implies --abort; conclude and pivot a copy or commit job" },
    { "info", CLI_OPT_BOOL, false, false, "get active job information for the specified disk" },
    { "bytes", CLI_OPT_BOOL, false, false, "get/set bandwidth in bytes rather than MiB/s" },
    { "raw", CLI_OPT_BOOL, false, false, "implies --info; output details rather than human summary" },
    { "bandwidth", CLI_OPT_STRING, false, false, "set the bandwidth limit in MiB/s" },
    { NULL },
};

const cli_cmd cli_blockjob_cmds[] = {
    { "blockcommit", cmd_blockcommit, opts_blockcommit, "Start a block commit operation.", false },
    { "blockcopy", cmd_blockcopy, opts_blockcopy, "Start a block copy operation.", false },
    { "blockjob", cmd_blockjob, opts_blockjob, "Manage active block operations", true },
    { "blockpull", cmd_blockpull, opts_blockpull, "Populate a disk from its backing image.", false },
    { NULL },
};
