/* qvirt event: waits for domain events and prints them as virsh's "event"
 * command does (tools/virsh-domain-event.c in libvirt 9). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* virsh's event names, indexed by QV_DOMAIN_EVENT_ID_*. */
static const char *const event_names[QV_DOMAIN_EVENT_ID_LAST] = {
    "lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics",
    "io-error-reason", "control-error", "block-job", "disk-change", "tray-change",
    "pm-wakeup", "pm-suspend", "balloon-change", "pm-suspend-disk", "device-removed",
    "block-job-2", "tunable", "agent-lifecycle", "device-added", "migration-iteration",
    "job-completed", "device-removal-failed", "metadata-change", "block-threshold",
    "memory-failure", "memory-device-size-change",
};

static const char *lookup(const char *const *t, size_t n, int i, const char *dflt)
{
    return i >= 0 && (size_t)i < n && t[i] ? t[i] : dflt;
}
#define LOOKUP(t, i) lookup(t, G_N_ELEMENTS(t), i, "unknown")

static const char *lifecycle_str(int event)
{
    static const char *const t[] = { "Defined", "Undefined", "Started", "Suspended", "Resumed",
                                     "Stopped", "Shutdown", "PMSuspended", "Crashed" };
    return LOOKUP(t, event);
}

static const char *lifecycle_detail_str(int event, int detail)
{
    static const char *const defined[] = { "Added", "Updated", "Renamed", "Snapshot" };
    static const char *const undefined[] = { "Removed", "Renamed" };
    static const char *const started[] = { "Booted", "Migrated", "Restored", "Snapshot",
                                           "Event wakeup" };
    static const char *const suspended[] = { "Paused", "Migrated", "I/O Error", "Watchdog",
                                             "Restored", "Snapshot", "API error", "Post-copy",
                                             "Post-copy Error" };
    static const char *const resumed[] = { "Unpaused", "Migrated", "Snapshot", "Post-copy",
                                           "Post-copy Error" };
    static const char *const stopped[] = { "Shutdown", "Destroyed", "Crashed", "Migrated",
                                           "Saved", "Failed", "Snapshot" };
    static const char *const shutdown[] = { "Finished", "Finished after guest request",
                                            "Finished after host request" };
    static const char *const pmsuspended[] = { "Memory", "Disk" };
    static const char *const crashed[] = { "Panicked", "Crashloaded" };
    switch (event) {
    case QV_DOMAIN_EVENT_DEFINED: return LOOKUP(defined, detail);
    case QV_DOMAIN_EVENT_UNDEFINED: return LOOKUP(undefined, detail);
    case QV_DOMAIN_EVENT_STARTED: return LOOKUP(started, detail);
    case QV_DOMAIN_EVENT_SUSPENDED: return LOOKUP(suspended, detail);
    case QV_DOMAIN_EVENT_RESUMED: return LOOKUP(resumed, detail);
    case QV_DOMAIN_EVENT_STOPPED: return LOOKUP(stopped, detail);
    case QV_DOMAIN_EVENT_SHUTDOWN: return LOOKUP(shutdown, detail);
    case QV_DOMAIN_EVENT_PMSUSPENDED: return LOOKUP(pmsuspended, detail);
    case QV_DOMAIN_EVENT_CRASHED: return LOOKUP(crashed, detail);
    default: return "unknown";
    }
}

/* QEMU's block job type names to virsh's words. */
static const char *block_job_str(const char *qemu_type)
{
    if (!qemu_type)
        return "Unknown job";
    if (!strcmp(qemu_type, "stream"))
        return "Block Pull";
    if (!strcmp(qemu_type, "mirror"))
        return "Block Copy";
    if (!strcmp(qemu_type, "commit"))
        return "Block Commit";
    if (!strcmp(qemu_type, "active-commit"))
        return "Active Block Commit";
    if (!strcmp(qemu_type, "backup"))
        return "Backup";
    return "Unknown job";
}

static const char *jstr(json_object *o, const char *key, const char *dflt)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && v)
        return json_object_get_string(v);
    return dflt;
}

static long long jint(json_object *o, const char *key, long long dflt)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && v)
        return json_object_get_int64(v);
    return dflt;
}

/* The text virsh prints for one event (with its newline). */
static char *format_event(const qv_event *ev, json_object *data)
{
    const char *name = lookup(event_names, G_N_ELEMENTS(event_names), ev->event_id, "unknown");
    const char *dom = ev->domain_name;
    static const char *const watchdog[] = { "none", "pause", "reset", "poweroff", "shutdown",
                                            "debug", "inject-nmi" };
    static const char *const ioerr[] = { "none", "pause", "report" };
    static const char *const jobstatus[] = { "completed", "failed", "canceled", "ready" };
    static const char *const phase[] = { "connect", "initialize", "disconnect" };
    static const char *const metatype[] = { "description", "title", "element" };

    switch (ev->event_id) {
    case QV_DOMAIN_EVENT_ID_LIFECYCLE:
        return g_strdup_printf("event 'lifecycle' for domain '%s': %s %s\n", dom,
                               lifecycle_str(ev->event), lifecycle_detail_str(ev->event, ev->detail));
    case QV_DOMAIN_EVENT_ID_RTC_CHANGE:
        return g_strdup_printf("event 'rtc-change' for domain '%s': %lld\n", dom,
                               jint(data, "offset", 0));
    case QV_DOMAIN_EVENT_ID_WATCHDOG:
        return g_strdup_printf("event 'watchdog' for domain '%s': %s\n", dom,
                               LOOKUP(watchdog, ev->event));
    case QV_DOMAIN_EVENT_ID_IO_ERROR:
        return g_strdup_printf("event 'io-error' for domain '%s': %s (%s) %s\n", dom,
                               jstr(data, "src_path", jstr(data, "path", "")),
                               jstr(data, "dev_alias", ""), LOOKUP(ioerr, ev->event));
    case QV_DOMAIN_EVENT_ID_IO_ERROR_REASON:
        return g_strdup_printf("event 'io-error' for domain '%s': %s (%s) %s due to %s\n", dom,
                               jstr(data, "src_path", jstr(data, "path", "")),
                               jstr(data, "dev_alias", ""), LOOKUP(ioerr, ev->event),
                               jstr(data, "reason", ""));
    case QV_DOMAIN_EVENT_ID_GRAPHICS:
        return g_strdup_printf("event 'graphics' for domain '%s': %s local[%s %s %s] "
                               "remote[%s %s %s] %s\n", dom, LOOKUP(phase, ev->event),
                               jstr(data, "local_family", "unknown"), jstr(data, "local_node", ""),
                               jstr(data, "local_service", ""), jstr(data, "remote_family", "unknown"),
                               jstr(data, "remote_node", ""), jstr(data, "remote_service", ""),
                               jstr(data, "auth_scheme", ""));
    case QV_DOMAIN_EVENT_ID_BLOCK_JOB:
    case QV_DOMAIN_EVENT_ID_BLOCK_JOB_2:
        return g_strdup_printf("event '%s' for domain '%s': %s for %s %s\n", name, dom,
                               block_job_str(jstr(data, "type", NULL)), jstr(data, "disk", ""),
                               LOOKUP(jobstatus, (int)jint(data, "status", ev->event)));
    case QV_DOMAIN_EVENT_ID_DISK_CHANGE:
        return g_strdup_printf("event 'disk-change' for domain '%s' disk %s: %s -> %s: %s\n", dom,
                               jstr(data, "dev_alias", ""), jstr(data, "old_src", "(null)"),
                               jstr(data, "new_src", "(null)"),
                               ev->event == 0 ? "changed" : ev->event == 1 ? "dropped" : "unknown");
    case QV_DOMAIN_EVENT_ID_TRAY_CHANGE:
        return g_strdup_printf("event 'tray-change' for domain '%s' disk %s: %s\n", dom,
                               jstr(data, "dev_alias", ""),
                               ev->event == QV_DOMAIN_EVENT_TRAY_CHANGE_OPEN ? "opened"
                               : ev->event == QV_DOMAIN_EVENT_TRAY_CHANGE_CLOSE ? "closed"
                                                                                : "unknown");
    case QV_DOMAIN_EVENT_ID_BALLOON_CHANGE:
        return g_strdup_printf("event 'balloon-change' for domain '%s': %lluKiB\n", dom,
                               (unsigned long long)jint(data, "actual", 0));
    case QV_DOMAIN_EVENT_ID_DEVICE_REMOVED:
    case QV_DOMAIN_EVENT_ID_DEVICE_ADDED:
    case QV_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED:
        return g_strdup_printf("event '%s' for domain '%s': %s\n", name, dom,
                               jstr(data, "dev_alias", ""));
    case QV_DOMAIN_EVENT_ID_METADATA_CHANGE:
        return g_strdup_printf("event 'metadata-change' for domain '%s': type %s, uri %s\n", dom,
                               lookup(metatype, G_N_ELEMENTS(metatype), (int)jint(data, "type", ev->event),
                                      "unsupported value"),
                               jstr(data, "uri", "(null)"));
    default:
        /* reboot, control-error, pm-* and the rest: virsh's generic line */
        return g_strdup_printf("event '%s' for domain '%s'\n", name, dom);
    }
}

/* virsh's virTimeStringNowRaw(): UTC with milliseconds. */
static char *format_timestamp(long long us)
{
    if (us <= 0)
        us = g_get_real_time();
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    return g_strdup_printf("%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                           (int)((us / 1000) % 1000));
}

typedef struct event_state {
    cli_ctx *ctx;
    bool loop;
    bool timestamp;
    int count;
} event_state;

static void on_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    event_state *st = opaque;
    if (!st->loop && st->count)
        return;
    g_autoptr(json_object) data = ev->json ? json_tokener_parse(ev->json) : NULL;
    if (st->ctx->json) {
        /* One JSON object per line (JSON Lines), so a --loop stream parses. */
        json_object *o = json_object_new_object();
        g_autofree char *ts = format_timestamp(ev->timestamp_us);
        json_object_object_add(o, "timestamp", json_object_new_string(ts));
        json_object_object_add(o, "timestamp_us", json_object_new_int64(ev->timestamp_us));
        json_object_object_add(o, "event", json_object_new_string(
            lookup(event_names, G_N_ELEMENTS(event_names), ev->event_id, "unknown")));
        json_object_object_add(o, "event_id", json_object_new_int(ev->event_id));
        json_object_object_add(o, "domain", json_object_new_string(ev->domain_name));
        json_object_object_add(o, "uuid", ev->domain_uuid ? json_object_new_string(ev->domain_uuid) : NULL);
        if (ev->event_id == QV_DOMAIN_EVENT_ID_LIFECYCLE) {
            json_object_object_add(o, "type", json_object_new_string(lifecycle_str(ev->event)));
            json_object_object_add(o, "detail", json_object_new_string(
                lifecycle_detail_str(ev->event, ev->detail)));
        }
        g_autofree char *line = format_event(ev, data);
        g_strchomp(line);
        json_object_object_add(o, "text", json_object_new_string(line));
        json_object_object_add(o, "data", data ? json_object_get(data) : NULL);
        fputs(json_object_to_json_string_ext(o, CLI_JSON_PLAIN), stdout);
        fputc('\n', stdout);
        json_object_put(o);
    } else {
        if (st->timestamp) {
            g_autofree char *ts = format_timestamp(ev->timestamp_us);
            printf("%s: ", ts);
        }
        g_autofree char *line = format_event(ev, data);
        fputs(line, stdout);
    }
    fflush(stdout);
    st->count++;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    interrupted = 1;
}

static bool cmd_event(cli_ctx *ctx, const cli_args *args)
{
    bool all = cli_has(args, "all"), list = cli_has(args, "list");
    const char *event_name = cli_str(args, "event");
    if (all && event_name) {
        cli_error("Options --all and --event are mutually exclusive");
        return false;
    }
    if (list && (all || event_name)) {
        cli_error("Options --list and --%s are mutually exclusive", all ? "all" : "event");
        return false;
    }
    if (list) {
        if (ctx->json) {
            json_object *arr = json_object_new_array();
            for (size_t i = 0; i < G_N_ELEMENTS(event_names); i++)
                json_object_array_add(arr, json_object_new_string(event_names[i]));
            cli_print_json(arr);
        } else {
            for (size_t i = 0; i < G_N_ELEMENTS(event_names); i++)
                printf("%s\n", event_names[i]);
        }
        return true;
    }
    if (!event_name && !all) {
        cli_error("one of --list, --all, or --event <type> is required");
        return false;
    }
    int event_id = -1;
    if (event_name) {
        for (size_t i = 0; i < G_N_ELEMENTS(event_names); i++)
            if (!strcmp(event_names[i], event_name))
                event_id = (int)i;
        if (event_id < 0) {
            cli_error("unknown event type %s", event_name);
            return false;
        }
    }
    long long timeout_ms = -1;
    if (cli_has(args, "timeout")) {
        long long secs = strtoll(cli_str(args, "timeout"), NULL, 10);
        if (secs <= 0 || secs > G_MAXINT / 1000) {
            cli_error("invalid timeout value '%s'", cli_str(args, "timeout"));
            return false;
        }
        timeout_ms = secs * 1000;
    }

    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    g_autoptr(qv_domain) dom = NULL;
    if (cli_str(args, "domain") && !(dom = cli_lookup_domain(ctx, cli_str(args, "domain"), CLI_BY_ANY)))
        return false;

    event_state st = { .ctx = ctx, .loop = cli_has(args, "loop"),
                       .timestamp = cli_has(args, "timestamp") };
    g_autoptr(qv_error) err = NULL;
    int cb = qv_conn_domain_event_register_any(conn, dom, event_id, on_event, &st, &err);
    if (cb < 0) {
        cli_error_qv(err, "cannot register for events");
        return false;
    }
    int fd = qv_conn_event_get_fd(conn, &err);
    if (fd < 0) {
        cli_error_qv(err, "cannot watch for events");
        qv_conn_domain_event_deregister_any(conn, cb, NULL);
        return false;
    }

    /* Ctrl-C ends the wait. The signals stay blocked except inside ppoll(),
     * which unblocks them atomically: a signal that arrived after the flag
     * was checked and before a plain poll() started would be lost, and the
     * wait would go on to the timeout. */
    sigset_t stop_sigs, orig_mask;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_sigs, &orig_mask);
    struct sigaction sa = { .sa_handler = on_sigint }, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    enum { DONE, TIMEOUT, INTERRUPT, FAILED } outcome = DONE;
    gint64 deadline = timeout_ms >= 0 ? g_get_monotonic_time() + timeout_ms * 1000 : -1;
    for (;;) {
        if (qv_conn_event_dispatch(conn, &err) < 0) {
            cli_error_qv(err, "cannot read events");
            outcome = FAILED;
            break;
        }
        if (!st.loop && st.count) {
            outcome = DONE;
            break;
        }
        if (interrupted) {
            outcome = INTERRUPT;
            break;
        }
        struct timespec wait, *waitp = NULL;
        if (deadline >= 0) {
            gint64 left = deadline - g_get_monotonic_time();
            if (left <= 0) {
                outcome = TIMEOUT;
                break;
            }
            wait.tv_sec = (time_t)(left / G_USEC_PER_SEC);
            wait.tv_nsec = (long)(left % G_USEC_PER_SEC) * 1000;
            waitp = &wait;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (ppoll(&p, 1, waitp, &orig_mask) < 0 && errno != EINTR) {
            cli_error("cannot wait for events: %s", g_strerror(errno));
            outcome = FAILED;
            break;
        }
    }
    /* Unblocked while our handler is still in place: a late signal only
     * sets the flag. */
    sigprocmask(SIG_SETMASK, &orig_mask, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    qv_conn_domain_event_deregister_any(conn, cb, NULL);
    if (outcome == FAILED)
        return false;

    if (!ctx->json) {
        if (outcome == INTERRUPT)
            printf("event loop interrupted\n");
        else if (outcome == TIMEOUT)
            printf("event loop timed out\n");
        printf("events received: %d\n", st.count);
    }
    return st.count > 0;
}

static const cli_opt opts_event[] = {
    { "domain", CLI_OPT_STRING, false, false, "filter by domain name, id or uuid" },
    { "event", CLI_OPT_STRING, false, false, "which event type to wait for" },
    { "all", CLI_OPT_BOOL, false, false, "wait for all events instead of just one type" },
    { "loop", CLI_OPT_BOOL, false, false, "loop until timeout or interrupt, rather than one-shot" },
    { "timeout", CLI_OPT_INT, false, false, "timeout seconds" },
    { "list", CLI_OPT_BOOL, false, false, "list valid event types" },
    { "timestamp", CLI_OPT_BOOL, false, false, "show timestamp for each printed event" },
    { NULL },
};

const cli_cmd cli_event_cmds[] = {
    { "event", cmd_event, opts_event, "Domain Events", true },
    { NULL },
};
