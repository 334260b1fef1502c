/* qvirt migration commands: migrate, migrate-setmaxdowntime,
 * migrate-getmaxdowntime, migrate-setspeed, migrate-getspeed,
 * migrate-compcache and migrate-postcopy. Options, checks, messages and
 * output follow virsh 9 (cmdMigrate and friends in tools/virsh-domain.c);
 * the migration itself is qv_domain_migrate_to_uri, always peer-to-peer. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* How often the watcher asks for the job's statistics (virsh's 500 ms). */
#define CLI_MIGRATE_WATCH_MS 500
/* virsh's iteration event number that says the first pass of pre-copy is
 * done (--postcopy-after-precopy switches then). */
#define CLI_MIGRATE_FIRST_PASS_DONE 2

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

static void bad_number(const char *value, const char *name)
{
    cli_error("numeric value '%s' for <%s> option is malformed or out of range", value, name);
}

/* An unsigned option (virsh's vshCommandOptULongLong): 0 when absent, 1
 * when given, -1 after the error. wrap: a negative value wraps around, as
 * virsh's vshCommandOptULWrap does. */
static int opt_ull(const cli_args *args, const char *name, bool wrap, unsigned long long *v)
{
    const char *s = cli_str(args, name);
    if (!s)
        return 0;
    char *end = NULL;
    errno = 0;
    if (wrap && s[0] == '-') {
        long long n = strtoll(s, &end, 10);
        *v = (unsigned long long)n;
    } else {
        *v = strtoull(s, &end, 10);
    }
    if (!*s || errno || *end || (!wrap && strchr(s, '-'))) {
        bad_number(s, name);
        return -1;
    }
    return 1;
}

/* An int option (vshCommandOptInt): 0 when absent, 1 when given, -1 after
 * the error. */
static int opt_int(const cli_args *args, const char *name, int *v)
{
    const char *s = cli_str(args, name);
    if (!s)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (!*s || errno || *end || n < G_MININT || n > G_MAXINT) {
        bad_number(s, name);
        return -1;
    }
    *v = (int)n;
    return 1;
}

/* ---- migrate ---------------------------------------------------------------- */

enum { TIMEOUT_NONE, TIMEOUT_SUSPEND, TIMEOUT_POSTCOPY };

/* virsh's virshWatchJob for a migration: a thread with its own connection
 * polls the job while the main thread migrates. It prints the progress
 * (--verbose), acts once --timeout has passed, and switches to post-copy
 * after the first pass (--postcopy-after-precopy). What it does on the
 * domain is best effort, as in virsh: a failure is no failure of the
 * migration. */
typedef struct mig_watch {
    char *uri;
    char uuid[37];
    bool verbose;
    unsigned int timeout_s;
    int timeout_action;
    bool postcopy_after_precopy;
    GMutex lock;
    GCond cond;
    bool done;
    GThread *thread;
} mig_watch;

static gpointer watch_migration(gpointer data)
{
    mig_watch *w = data;
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    if (qv_conn_open(w->uri, &conn, NULL) < 0 ||
        qv_conn_get_domain_by_uuid_string(conn, w->uuid, &dom, NULL) < 0) {
        qv_conn_close(conn);
        return NULL;
    }
    gint64 start = g_get_monotonic_time();
    gint64 timeout_at = w->timeout_s ? start + (gint64)w->timeout_s * G_TIME_SPAN_SECOND : 0;
    bool switched = false;
    g_mutex_lock(&w->lock);
    while (!w->done) {
        g_mutex_unlock(&w->lock);
        qv_domain_job_stats st = { .size = sizeof st };
        if (qv_domain_get_job_stats(dom, &st, 0, NULL) >= 0 &&
            (st.type == QV_DOMAIN_JOB_UNBOUNDED || st.type == QV_DOMAIN_JOB_BOUNDED)) {
            if (w->verbose && st.data_total > 0)
                cli_print_job_progress("Migration", st.data_remaining, st.data_total);
            if (w->postcopy_after_precopy && !switched &&
                (st.fields & QV_DOMAIN_JOB_FIELD_MEMORY_ITERATION) &&
                st.memory_iteration >= CLI_MIGRATE_FIRST_PASS_DONE) {
                switched = true;
                qv_domain_migrate_start_post_copy(dom, 0, NULL);
            }
        }
        if (timeout_at && g_get_monotonic_time() >= timeout_at) {
            timeout_at = 0;
            if (w->timeout_action == TIMEOUT_POSTCOPY)
                qv_domain_migrate_start_post_copy(dom, 0, NULL);
            else
                qv_domain_suspend(dom, NULL);
        }
        g_mutex_lock(&w->lock);
        gint64 until = g_get_monotonic_time() + CLI_MIGRATE_WATCH_MS * G_TIME_SPAN_MILLISECOND;
        if (timeout_at && timeout_at < until)
            until = timeout_at;
        while (!w->done && g_cond_wait_until(&w->cond, &w->lock, until))
            ;
    }
    g_mutex_unlock(&w->lock);
    qv_domain_free(dom);
    qv_conn_close(conn);
    return NULL;
}

static void watch_stop(mig_watch *w)
{
    if (!w->thread)
        return;
    g_mutex_lock(&w->lock);
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    g_thread_join(w->thread);
    w->thread = NULL;
    g_free(w->uri);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
}

/* A comma-separated list as a NULL-terminated array (empty items dropped,
 * as virsh's virStringSplit users skip them). */
static char **split_list(const char *s, size_t *n)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    GPtrArray *a = g_ptr_array_new();
    for (char **p = parts; *p; p++)
        if (**p)
            g_ptr_array_add(a, g_strdup(*p));
    *n = a->len;
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

static bool exclusive(const cli_args *args, const char *a, const char *b)
{
    if (cli_has(args, a) && cli_has(args, b)) {
        cli_error("Options --%s and --%s are mutually exclusive", a, b);
        return false;
    }
    return true;
}

/* virsh's VSH_REQUIRE_OPTION(opt, needed). */
static bool requires(const cli_args *args, const char *opt, const char *needed)
{
    if (cli_has(args, opt) && !cli_has(args, needed)) {
        cli_error("Option --%s is required by option --%s", needed, opt);
        return false;
    }
    return true;
}

/* The typed parameters of doMigrate, from the options. */
typedef struct mig_opts {
    qv_migrate_params p;
    char *xml, *persist_xml;
    char **disks, **comp;
} mig_opts;

static void mig_opts_clear(mig_opts *o)
{
    g_free(o->xml);
    g_free(o->persist_xml);
    g_strfreev(o->disks);
    g_strfreev(o->comp);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(mig_opts, mig_opts_clear)

static bool collect_params(const cli_args *args, mig_opts *o)
{
    qv_migrate_params *p = &o->p;
    p->size = sizeof *p;
    static const struct {
        const char *opt;
        unsigned long long bit;
        size_t off;
    } strings[] = {
        { "migrateuri", QV_MIGRATE_FIELD_URI, offsetof(qv_migrate_params, uri) },
        { "graphicsuri", QV_MIGRATE_FIELD_GRAPHICS_URI, offsetof(qv_migrate_params, graphics_uri) },
        { "listen-address", QV_MIGRATE_FIELD_LISTEN_ADDRESS,
          offsetof(qv_migrate_params, listen_address) },
        { "disks-uri", QV_MIGRATE_FIELD_DISKS_URI, offsetof(qv_migrate_params, disks_uri) },
        { "dname", QV_MIGRATE_FIELD_DEST_NAME, offsetof(qv_migrate_params, dest_name) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        const char *v = cli_str(args, strings[i].opt);
        if (!v)
            continue;
        p->fields |= strings[i].bit;
        *(const char **)(void *)((char *)p + strings[i].off) = v;
    }
    static const struct {
        const char *opt;
        unsigned long long bit;
        size_t off;
        bool nonzero;  /* virsh passes it only when not 0 */
    } ints[] = {
        { "disks-port", QV_MIGRATE_FIELD_DISKS_PORT, offsetof(qv_migrate_params, disks_port), true },
        { "comp-mt-level", QV_MIGRATE_FIELD_COMPRESSION_MT_LEVEL,
          offsetof(qv_migrate_params, compression_mt_level), false },
        { "comp-mt-threads", QV_MIGRATE_FIELD_COMPRESSION_MT_THREADS,
          offsetof(qv_migrate_params, compression_mt_threads), false },
        { "comp-mt-dthreads", QV_MIGRATE_FIELD_COMPRESSION_MT_DTHREADS,
          offsetof(qv_migrate_params, compression_mt_dthreads), false },
        { "auto-converge-initial", QV_MIGRATE_FIELD_AUTO_CONVERGE_INITIAL,
          offsetof(qv_migrate_params, auto_converge_initial), false },
        { "auto-converge-increment", QV_MIGRATE_FIELD_AUTO_CONVERGE_INCREMENT,
          offsetof(qv_migrate_params, auto_converge_increment), false },
        { "parallel-connections", QV_MIGRATE_FIELD_PARALLEL_CONNECTIONS,
          offsetof(qv_migrate_params, parallel_connections), false },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
        int v = 0;
        int r = opt_int(args, ints[i].opt, &v);
        if (r < 0)
            return false;
        if (r == 0 || (ints[i].nonzero && v == 0))
            continue;
        p->fields |= ints[i].bit;
        *(int *)(void *)((char *)p + ints[i].off) = v;
    }
    static const struct {
        const char *opt;
        unsigned long long bit;
        size_t off;
    } ulls[] = {
        { "comp-xbzrle-cache", QV_MIGRATE_FIELD_COMPRESSION_XBZRLE_CACHE,
          offsetof(qv_migrate_params, compression_xbzrle_cache) },
        { "postcopy-bandwidth", QV_MIGRATE_FIELD_BANDWIDTH_POSTCOPY,
          offsetof(qv_migrate_params, bandwidth_postcopy) },
        { "bandwidth", QV_MIGRATE_FIELD_BANDWIDTH, offsetof(qv_migrate_params, bandwidth) },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ulls); i++) {
        unsigned long long v = 0;
        int r = opt_ull(args, ulls[i].opt, false, &v);
        if (r < 0)
            return false;
        if (r == 0)
            continue;
        p->fields |= ulls[i].bit;
        *(unsigned long long *)(void *)((char *)p + ulls[i].off) = v;
    }
    if (cli_has(args, "migrate-disks")) {
        o->disks = split_list(cli_str(args, "migrate-disks"), &p->n_migrate_disks);
        p->migrate_disks = (const char *const *)o->disks;
        p->fields |= QV_MIGRATE_FIELD_MIGRATE_DISKS;
    }
    if (cli_has(args, "comp-methods")) {
        o->comp = split_list(cli_str(args, "comp-methods"), &p->n_compression);
        p->compression = (const char *const *)o->comp;
        p->fields |= QV_MIGRATE_FIELD_COMPRESSION;
    }
    if (cli_has(args, "xml")) {
        if (!(o->xml = read_file_arg(cli_str(args, "xml"))))
            return false;
        p->dest_xml = o->xml;
        p->fields |= QV_MIGRATE_FIELD_DEST_XML;
    }
    if (cli_has(args, "persistent-xml")) {
        if (!(o->persist_xml = read_file_arg(cli_str(args, "persistent-xml"))))
            return false;
        p->persist_xml = o->persist_xml;
        p->fields |= QV_MIGRATE_FIELD_PERSIST_XML;
    }
    return true;
}

static bool cmd_migrate(cli_ctx *ctx, const cli_args *args)
{
    if (!exclusive(args, "live", "offline") ||
        !exclusive(args, "timeout-suspend", "timeout-postcopy") ||
        !requires(args, "postcopy-after-precopy", "postcopy") ||
        !requires(args, "timeout-postcopy", "postcopy") ||
        !requires(args, "persistent-xml", "persistent"))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;

    unsigned long long timeout = 0;
    if (opt_ull(args, "timeout", false, &timeout) < 0)
        return false;
    if (timeout > G_MAXUINT) {
        bad_number(cli_str(args, "timeout"), "timeout");
        return false;
    }
    if (timeout > 0 && !cli_has(args, "live")) {
        cli_error("migrate: Unexpected timeout for offline migration");
        return false;
    }
    int action = cli_has(args, "timeout-postcopy") ? TIMEOUT_POSTCOPY
               : cli_has(args, "timeout-suspend") ? TIMEOUT_SUSPEND : TIMEOUT_NONE;
    if (timeout > 0 && action == TIMEOUT_NONE) {
        action = TIMEOUT_SUSPEND;
    } else if (timeout == 0 && action != TIMEOUT_NONE) {
        cli_error("migrate: Unexpected --timeout-* option without --timeout");
        return false;
    }

    g_auto(mig_opts) o = { 0 };
    if (!collect_params(args, &o))
        return false;
    /* --p2p and --direct both name qvirt's only model: the caller drives
     * both sides and QEMU sends the stream straight to the destination. */
    static const cli_flag map[] = {
        { "live", QV_MIGRATE_LIVE },
        { "offline", QV_MIGRATE_OFFLINE },
        { "p2p", QV_MIGRATE_PEER2PEER },
        { "tunnelled", QV_MIGRATE_TUNNELLED },
        { "persistent", QV_MIGRATE_PERSIST_DEST },
        { "undefinesource", QV_MIGRATE_UNDEFINE_SOURCE },
        { "suspend", QV_MIGRATE_PAUSED },
        { "copy-storage-all", QV_MIGRATE_NON_SHARED_DISK },
        { "copy-storage-inc", QV_MIGRATE_NON_SHARED_INC },
        { "copy-storage-synchronous-writes", QV_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES },
        { "change-protection", QV_MIGRATE_CHANGE_PROTECTION },
        { "unsafe", QV_MIGRATE_UNSAFE },
        { "compressed", QV_MIGRATE_COMPRESSED },
        { "auto-converge", QV_MIGRATE_AUTO_CONVERGE },
        { "rdma-pin-all", QV_MIGRATE_RDMA_PIN_ALL },
        { "abort-on-error", QV_MIGRATE_ABORT_ON_ERROR },
        { "postcopy", QV_MIGRATE_POSTCOPY },
        { "postcopy-resume", QV_MIGRATE_POSTCOPY_RESUME },
        { "zerocopy", QV_MIGRATE_ZEROCOPY },
        { "tls", QV_MIGRATE_TLS },
        { "parallel", QV_MIGRATE_PARALLEL },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);

    bool verbose = cli_has(args, "verbose");
    mig_watch w = { 0 };
    if (verbose || timeout || cli_has(args, "postcopy-after-precopy")) {
        w.uri = g_strdup(qv_conn_get_uri(cli_conn(ctx)));
        g_autoptr(qv_error) uerr = NULL;
        if (qv_domain_get_uuid_string(dom, w.uuid, &uerr) < 0) {
            g_free(w.uri);
            cli_error_qv(uerr, "cannot get the domain's UUID");
            return false;
        }
        w.verbose = verbose;
        w.timeout_s = (unsigned int)timeout;
        w.timeout_action = action;
        w.postcopy_after_precopy = cli_has(args, "postcopy-after-precopy");
        g_mutex_init(&w.lock);
        g_cond_init(&w.cond);
        w.thread = g_thread_new("migrate-watch", watch_migration, &w);
    }
    g_autoptr(qv_error) err = NULL;
    int r = qv_domain_migrate_to_uri(dom, cli_str(args, "desturi"), &o.p, flags, &err);
    watch_stop(&w);
    if (verbose) {
        if (r >= 0)
            cli_print_job_progress("Migration", 0, 1);
        fputc('\n', stderr);
    }
    if (r < 0) {
        cli_error_qv(err, "migration failed");
        return false;
    }
    return true;
}

/* ---- the tunables ----------------------------------------------------------- */

static bool cmd_migrate_setmaxdowntime(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned long long downtime = 0;
    if (opt_ull(args, "downtime", false, &downtime) < 0)
        return false;
    if (downtime < 1) {
        cli_error("migrate: Invalid downtime");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_migrate_set_max_downtime(dom, downtime, 0, &err) < 0) {
        cli_error_qv(err, "failed to set the maximum downtime");
        return false;
    }
    return true;
}

static bool cmd_migrate_getmaxdowntime(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned long long downtime = 0;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_migrate_get_max_downtime(dom, &downtime, 0, &err) < 0) {
        cli_error_qv(err, "failed to get the maximum downtime");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "downtime", json_object_new_uint64(downtime));
        cli_print_json(o);
    } else {
        printf("%llu\n", downtime);
    }
    return true;
}

static unsigned int speed_flags(const cli_args *args)
{
    return cli_has(args, "postcopy") ? QV_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY : 0;
}

static bool cmd_migrate_setspeed(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned long long bandwidth = 0;
    if (opt_ull(args, "bandwidth", true, &bandwidth) < 0)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_migrate_set_max_speed(dom, (unsigned long)bandwidth, speed_flags(args),
                                        &err) < 0) {
        cli_error_qv(err, "failed to set the migration speed");
        return false;
    }
    return true;
}

static bool cmd_migrate_getspeed(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned long bandwidth = 0;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_migrate_get_max_speed(dom, &bandwidth, speed_flags(args), &err) < 0) {
        cli_error_qv(err, "failed to get the migration speed");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "bandwidth", json_object_new_uint64(bandwidth));
        cli_print_json(o);
    } else {
        printf("%lu\n", bandwidth);
    }
    return true;
}

static bool cmd_migrate_compcache(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned long long size = 0;
    int given = opt_ull(args, "size", false, &size);
    if (given < 0)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (given && qv_domain_migrate_set_compression_cache(dom, size, 0, &err) < 0) {
        cli_error_qv(err, "failed to set the compression cache size");
        return false;
    }
    if (qv_domain_migrate_get_compression_cache(dom, &size, 0, &err) < 0) {
        cli_error_qv(err, "failed to get the compression cache size");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "size", json_object_new_uint64(size));
        cli_print_json(o);
        return true;
    }
    const char *unit;
    double value = cli_pretty_capacity(size, &unit);
    /* virsh ends this line with the newline every command's output ends
     * with; -q drops that one, so the line gets its own. */
    printf("Compression cache: %.3lf %s%s", value, unit, ctx->quiet ? "\n" : "");
    return true;
}

static bool cmd_migrate_postcopy(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_migrate_start_post_copy(dom, 0, &err) < 0) {
        cli_error_qv(err, "failed to switch the migration to post-copy");
        return false;
    }
    return true;
}

/* ---- the table ---------------------------------------------------------------- */

#define BOOL_OPT(n, h) { n, CLI_OPT_BOOL, false, false, h }
#define STR_OPT(n, h) { n, CLI_OPT_STRING, false, false, h }
#define INT_OPT(n, h) { n, CLI_OPT_INT, false, false, h }

/* virsh 9's options of migrate, its help texts, in its order. */
static const cli_opt opts_migrate[] = {
    BOOL_OPT("live", "live migration"),
    BOOL_OPT("offline", "offline migration"),
    BOOL_OPT("p2p", "peer-2-peer migration"),
    BOOL_OPT("direct", "direct migration"),
    BOOL_OPT("tunnelled", "tunnelled migration"),
    BOOL_OPT("persistent", "persist VM on destination"),
    BOOL_OPT("undefinesource", "undefine VM on source"),
    BOOL_OPT("suspend", "do not restart the domain on the destination host"),
    BOOL_OPT("copy-storage-all", "migration with non-shared storage with full disk copy"),
    BOOL_OPT("copy-storage-inc", "migration with non-shared storage with incremental copy "
                                 "(same base image shared between source and destination)"),
    BOOL_OPT("copy-storage-synchronous-writes", "force guest disk writes to be synchronously "
                                                "written to the destination to improve storage "
                                                "migration convergence"),
    BOOL_OPT("change-protection", "prevent any configuration changes to domain until "
                                  "migration ends"),
    BOOL_OPT("unsafe", "force migration even if it may be unsafe"),
    BOOL_OPT("verbose", "display the progress of migration"),
    BOOL_OPT("compressed", "compress repeated pages during live migration"),
    BOOL_OPT("auto-converge", "force convergence during live migration"),
    BOOL_OPT("rdma-pin-all", "pin all memory before starting RDMA live migration"),
    BOOL_OPT("abort-on-error", "abort on soft errors during migration"),
    BOOL_OPT("postcopy", "enable post-copy migration; switch to it using migrate-postcopy "
                         "command"),
    BOOL_OPT("postcopy-after-precopy", "automatically switch to post-copy migration after one "
                                       "pass of pre-copy"),
    BOOL_OPT("postcopy-resume", "recover failed post-copy migration"),
    BOOL_OPT("zerocopy", "use zero-copy mechanism for migrating memory pages"),
    CLI_OPT_DOMAIN,
    { "desturi", CLI_OPT_STRING, true, true, "connection URI of the destination host as seen "
                                             "from the client(normal migration) or "
                                             "source(p2p migration)" },
    { "migrateuri", CLI_OPT_STRING, true, false, "migration URI, usually can be omitted" },
    STR_OPT("graphicsuri", "graphics URI to be used for seamless graphics migration"),
    STR_OPT("listen-address", "listen address that destination should bind to for incoming "
                              "migration"),
    STR_OPT("dname", "rename to new name during migration (if supported)"),
    INT_OPT("timeout", "run action specified by --timeout-* option (suspend by default) if "
                       "live migration exceeds timeout (in seconds)"),
    BOOL_OPT("timeout-suspend", "suspend the guest after timeout"),
    BOOL_OPT("timeout-postcopy", "switch to post-copy after timeout"),
    STR_OPT("xml", "filename containing updated XML for the target"),
    STR_OPT("migrate-disks", "comma separated list of disks to be migrated"),
    INT_OPT("disks-port", "port to use by target server for incoming disks migration"),
    STR_OPT("disks-uri", "URI to use for disks migration (overrides --disks-port)"),
    STR_OPT("comp-methods", "comma separated list of compression methods to be used"),
    INT_OPT("comp-mt-level", "compress level for multithread compression"),
    INT_OPT("comp-mt-threads", "number of compression threads for multithread compression"),
    INT_OPT("comp-mt-dthreads", "number of decompression threads for multithread compression"),
    INT_OPT("comp-xbzrle-cache", "page cache size for xbzrle compression"),
    INT_OPT("auto-converge-initial", "initial CPU throttling rate for auto-convergence"),
    INT_OPT("auto-converge-increment", "CPU throttling rate increment for auto-convergence"),
    STR_OPT("persistent-xml", "filename containing updated persistent XML for the target"),
    BOOL_OPT("tls", "use TLS for migration"),
    INT_OPT("postcopy-bandwidth", "post-copy migration bandwidth limit in MiB/s"),
    BOOL_OPT("parallel", "enable parallel migration"),
    INT_OPT("parallel-connections", "number of connections for parallel migration"),
    INT_OPT("bandwidth", "migration bandwidth limit in MiB/s"),
    { NULL },
};
static const cli_opt opts_setmaxdowntime[] = {
    CLI_OPT_DOMAIN,
    { "downtime", CLI_OPT_INT, true, true, "maximum tolerable downtime (in milliseconds) for "
                                           "migration" },
    { NULL },
};
static const cli_opt opts_domain_only[] = { CLI_OPT_DOMAIN, { NULL } };
static const cli_opt opts_setspeed[] = {
    CLI_OPT_DOMAIN,
    { "bandwidth", CLI_OPT_INT, true, true, "migration bandwidth limit in MiB/s" },
    BOOL_OPT("postcopy", "set post-copy migration bandwidth"),
    { NULL },
};
static const cli_opt opts_getspeed[] = {
    CLI_OPT_DOMAIN,
    BOOL_OPT("postcopy", "get post-copy migration bandwidth"),
    { NULL },
};
static const cli_opt opts_compcache[] = {
    CLI_OPT_DOMAIN,
    INT_OPT("size", "requested size of the cache (in bytes) used for compression"),
    { NULL },
};

const cli_cmd cli_migrate_cmds[] = {
    { "migrate", cmd_migrate, opts_migrate, "migrate domain to another host", false },
    { "migrate-setmaxdowntime", cmd_migrate_setmaxdowntime, opts_setmaxdowntime,
      "set maximum tolerable downtime", false },
    { "migrate-getmaxdowntime", cmd_migrate_getmaxdowntime, opts_domain_only,
      "get maximum tolerable downtime", true },
    { "migrate-compcache", cmd_migrate_compcache, opts_compcache,
      "get/set compression cache size", true },
    { "migrate-setspeed", cmd_migrate_setspeed, opts_setspeed,
      "Set the maximum migration bandwidth", false },
    { "migrate-getspeed", cmd_migrate_getspeed, opts_getspeed,
      "Get the maximum migration bandwidth", true },
    { "migrate-postcopy", cmd_migrate_postcopy, opts_domain_only,
      "Switch running migration from pre-copy to post-copy", false },
    { NULL },
};
