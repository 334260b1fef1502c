/* qvirt: the command-line client, virsh-compatible for the commands it has.
 *
 *     qvirt [-c URI] [--json] [-q] COMMAND [ARGS...]
 *
 * Written only against the public API (<qvirt/qvirt.h>); plain output keeps
 * virsh's layout and wording so scripts written for virsh keep working,
 * including the blank line virsh prints after every command (-q drops it). */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qv-config.h"
#include "cli.h"

/* ---- output helpers ----------------------------------------------------- */

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "error: %s\n", msg);
}

void cli_error_qv(const qv_error *err, const char *fallback)
{
    cli_error("%s", err ? qv_error_message(err) : fallback);
}

void cli_info(const cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void cli_print_json(json_object *obj)
{
    fputs(json_object_to_json_string_ext(obj, CLI_JSON_PRETTY), stdout);
    fputc('\n', stdout);
    json_object_put(obj);
}

/* virsh's vshPrintJobProgress. */
void cli_print_job_progress(const char *label, unsigned long long remaining,
                            unsigned long long total)
{
    int progress;
    if (remaining == 0 || total == 0)
        progress = 100;
    else {
        progress = (int)(100.0 - remaining * 100.0 / total);
        if (progress >= 100)
            progress = 99;
        if (progress < 0)
            progress = 0;
    }
    fflush(stdout);
    fprintf(stderr, "\r%s: [%3d %%]", label, progress);
    fflush(stderr);
}

/* virsh's vshPrettyCapacity: bytes in the largest binary unit below 1024. */
double cli_pretty_capacity(unsigned long long v, const char **unit)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double d = (double)v;
    size_t u = 0;
    while (d >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        d /= 1024;
        u++;
    }
    *unit = units[u];
    return d;
}

/* ---- argument access ---------------------------------------------------- */

static int opt_index(const cli_cmd *cmd, const char *name)
{
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
        if (!strcmp(cmd->opts[i].name, name))
            return i;
    return -1;
}

bool cli_has(const cli_args *args, const char *name)
{
    int i = opt_index(args->cmd, name);
    g_assert(i >= 0);
    return args->set[i];
}

unsigned int cli_flags(const cli_args *args, const cli_flag *map)
{
    unsigned int flags = 0;
    for (; map->opt; map++)
        if (cli_has(args, map->opt))
            flags |= map->flag;
    return flags;
}

const char *cli_str(const cli_args *args, const char *name)
{
    int i = opt_index(args->cmd, name);
    g_assert(i >= 0);
    return args->value[i];
}

char *cli_argv_joined(const cli_args *args)
{
    if (!args->argv || args->argv->len == 0)
        return NULL;
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < args->argv->len; i++) {
        if (i)
            g_string_append_c(s, ' ');
        g_string_append(s, args->argv->pdata[i]);
    }
    return g_string_free(s, FALSE);
}

/* ---- connection and lookup ---------------------------------------------- */

qv_conn *cli_conn(cli_ctx *ctx)
{
    if (ctx->conn)
        return ctx->conn;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_open(ctx->uri, &ctx->conn, &err) < 0) {
        cli_error_qv(err, "cannot open the connection");
        ctx->conn = NULL;
    }
    return ctx->conn;
}

static bool parse_int(const char *s, long long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

qv_domain *cli_lookup_domain(cli_ctx *ctx, const char *text, unsigned int by)
{
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return NULL;
    qv_domain *dom = NULL;
    g_autoptr(qv_error) err = NULL;
    long long id;

    if ((by & CLI_BY_ID) && parse_int(text, &id) && id >= 0 && id <= G_MAXINT) {
        if (qv_conn_get_domain_by_id(conn, (int)id, &dom, &err) >= 0)
            return dom;
    }
    /* A UUID is 32 hex digits, with or without the four dashes. */
    size_t len = strlen(text);
    if ((by & CLI_BY_UUID) && (len == 36 || len == 32)) {
        g_clear_pointer(&err, qv_error_free);
        if (qv_conn_get_domain_by_uuid_string(conn, text, &dom, &err) >= 0)
            return dom;
    }
    if (by & CLI_BY_NAME) {
        g_clear_pointer(&err, qv_error_free);
        if (qv_conn_get_domain_by_name(conn, text, &dom, &err) >= 0)
            return dom;
    }
    /* the last lookup's error says the most (a name over an id) */
    if (err)
        cli_error_qv(err, NULL);
    else
        cli_error("failed to get domain '%s'", text);
    return NULL;
}

qv_domain *cli_domain_arg(cli_ctx *ctx, const cli_args *args)
{
    return cli_lookup_domain(ctx, cli_str(args, "domain"), CLI_BY_ANY);
}

/* ---- virsh's state words (virsh-domain-monitor.c) ---------------------- */

const char *cli_state_str(int state)
{
    static const char *const names[] = {
        "no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed",
        "pmsuspended",
    };
    return state >= 0 && state < (int)G_N_ELEMENTS(names) ? names[state] : "no state";
}

const char *cli_state_reason_str(int state, int reason)
{
    static const char *const running[] = {
        "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
        "post-copy failed",
    };
    static const char *const paused[] = {
        "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
        "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
        "post-copy", "post-copy failed", "api error",
    };
    static const char *const shutdown[] = { "unknown", "user" };
    static const char *const shutoff[] = {
        "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
        "from snapshot", "daemon",
    };
    static const char *const crashed[] = { "unknown", "panicked" };
    const char *const *t = NULL;
    size_t n = 0;
    switch (state) {
    case QV_DOMAIN_RUNNING: t = running; n = G_N_ELEMENTS(running); break;
    case QV_DOMAIN_PAUSED: t = paused; n = G_N_ELEMENTS(paused); break;
    case QV_DOMAIN_SHUTDOWN: t = shutdown; n = G_N_ELEMENTS(shutdown); break;
    case QV_DOMAIN_SHUTOFF: t = shutoff; n = G_N_ELEMENTS(shutoff); break;
    case QV_DOMAIN_CRASHED: t = crashed; n = G_N_ELEMENTS(crashed); break;
    default: break; /* nostate, blocked, pmsuspended: only "unknown" */
    }
    return t && reason >= 0 && (size_t)reason < n ? t[reason] : "unknown";
}

const char *cli_control_state_str(int state)
{
    static const char *const names[] = { "ok", "background job", "occupied", "error" };
    return state >= 0 && state < (int)G_N_ELEMENTS(names) ? names[state] : "unknown";
}

const char *cli_control_error_str(int reason)
{
    static const char *const names[] = { "", "unknown", "monitor failure",
                                         "internal (locking) error" };
    return reason >= 0 && reason < (int)G_N_ELEMENTS(names) ? names[reason] : "unknown";
}

/* ---- the command table ---------------------------------------------------- */

static const cli_cmd *const cmd_tables[] = { cli_domain_cmds, cli_event_cmds, cli_argv_cmds, cli_resource_cmds,
                                             cli_console_cmds, cli_block_cmds, cli_hotplug_cmds, cli_input_cmds,
                                             cli_tune_cmds, cli_snapshot_cmds, cli_save_cmds,
                                             cli_blockjob_cmds, cli_migrate_cmds,
                                             cli_migrate_incoming_cmds, cli_remote_serve_cmds };

static const cli_cmd *find_cmd(const char *name)
{
    for (size_t t = 0; t < G_N_ELEMENTS(cmd_tables); t++)
        for (const cli_cmd *c = cmd_tables[t]; c->name; c++)
            if (!strcmp(c->name, name))
                return c;
    return NULL;
}

static void print_cmd_usage(FILE *f, const cli_cmd *c)
{
    fprintf(f, "  NAME\n    %s - %s\n\n  SYNOPSIS\n    %s", c->name, c->help, c->name);
    for (const cli_opt *o = c->opts; o && o->name; o++) {
        const char *l = o->required ? "" : "[", *r = o->required ? "" : "]";
        switch (o->type) {
        case CLI_OPT_BOOL: fprintf(f, " [--%s]", o->name); break;
        case CLI_OPT_ARGV: fprintf(f, " %s<%s>...%s", l, o->name, r); break;
        default:
            if (o->positional)
                fprintf(f, " %s[--%s] <%s>%s", l, o->name, o->name, r);
            else
                fprintf(f, " %s--%s <%s>%s", l, o->name, o->name, r);
        }
    }
    if (c->json)
        fprintf(f, " [--json]");
    fprintf(f, "\n\n  OPTIONS\n");
    for (const cli_opt *o = c->opts; o && o->name; o++) {
        g_autofree char *label = o->type == CLI_OPT_BOOL ? g_strdup_printf("--%s", o->name)
                                 : o->positional ? g_strdup_printf("[--%s] <%s>", o->name, o->name)
                                                 : g_strdup_printf("--%s <%s>", o->name, o->name);
        fprintf(f, "    %-22s %s\n", label, o->help);
    }
    if (c->json)
        fprintf(f, "    %-22s %s\n", "--json", "print one JSON document instead of text");
}

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: qvirt [OPTIONS] COMMAND [ARGS...]\n"
            "\n"
            "Manage QEMU virtual machines directly, without a daemon.\n"
            "\n"
            "Options:\n"
            "  -c, --connect URI   connection URI (qvirt:///system, qvirt:///session,\n"
            "                      qvirt:///embed?root=DIR); default $QVIRT_DEFAULT_URI,\n"
            "                      else system for root and session for others\n"
            "      --json          print query results as JSON\n"
            "  -q, --quiet         no trailing blank line and no table headers\n"
            "  -h, --help          this help; 'qvirt help COMMAND' for one command\n"
            "  -v, --version       print the version\n"
            "\n"
            "Commands:\n");
    for (size_t t = 0; t < G_N_ELEMENTS(cmd_tables); t++)
        for (const cli_cmd *c = cmd_tables[t]; c->name; c++)
            fprintf(f, "  %-22s %s\n", c->name, c->help);
}

/* ---- parsing ------------------------------------------------------------- */

static void args_clear(cli_args *a)
{
    g_free(a->set);
    if (a->value) {
        for (int i = 0; a->cmd->opts && a->cmd->opts[i].name; i++)
            g_free(a->value[i]);
        g_free(a->value);
    }
    if (a->argv)
        g_ptr_array_unref(a->argv);
}

/* virsh's rules: --opt, --opt VALUE, --opt=VALUE anywhere; other words fill
 * the positional options in order, an ARGV option takes the rest; after
 * "--" every word is positional. */
static bool parse_cmd_args(cli_ctx *ctx, const cli_cmd *c, int argc, char **argv, cli_args *a)
{
    int nopts = 0;
    while (c->opts && c->opts[nopts].name)
        nopts++;
    a->cmd = c;
    a->set = g_new0(bool, nopts + 1);
    a->value = g_new0(char *, nopts + 1);
    bool only_positional = false;

    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        int idx = -1;
        if (!only_positional && !strcmp(w, "--")) {
            only_positional = true;
            continue;
        }
        if (!only_positional && w[0] == '-' && w[1] == '-' && w[2]) {
            g_autofree char *name = g_strdup(w + 2);
            char *eq = strchr(name, '=');
            const char *inline_val = NULL;
            if (eq) {
                *eq = '\0';
                inline_val = w + 2 + (eq - name) + 1;
            }
            if (c->json && !strcmp(name, "json") && !inline_val) {
                ctx->json = true;
                continue;
            }
            idx = opt_index(c, name);
            if (idx < 0) {
                cli_error("command '%s' doesn't support option --%s", c->name, name);
                return false;
            }
            const cli_opt *o = &c->opts[idx];
            if (o->type == CLI_OPT_BOOL) {
                if (inline_val) {
                    cli_error("option --%s of command '%s' takes no value", name, c->name);
                    return false;
                }
                a->set[idx] = true;
                continue;
            }
            const char *val = inline_val;
            if (!val) {
                if (i + 1 >= argc) {
                    cli_error("expected syntax: --%s <%s>", name, name);
                    return false;
                }
                val = argv[++i];
            }
            if (o->type == CLI_OPT_ARGV) {
                if (!a->argv)
                    a->argv = g_ptr_array_new_with_free_func(g_free);
                g_ptr_array_add(a->argv, g_strdup(val));
                a->set[idx] = true;
                continue;
            }
            if (a->set[idx]) {
                cli_error("option --%s already provided", name);
                return false;
            }
            a->set[idx] = true;
            a->value[idx] = g_strdup(val);
            continue;
        }
        /* a positional word: the first positional option not yet given */
        for (int k = 0; k < nopts; k++) {
            const cli_opt *o = &c->opts[k];
            if (o->type == CLI_OPT_ARGV && (o->positional || a->set[k])) {
                idx = k;
                break;
            }
            if (o->positional && !a->set[k] && o->type != CLI_OPT_BOOL) {
                idx = k;
                break;
            }
        }
        if (idx < 0) {
            cli_error("unexpected data '%s'", w);
            return false;
        }
        a->set[idx] = true;
        if (c->opts[idx].type == CLI_OPT_ARGV) {
            if (!a->argv)
                a->argv = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(a->argv, g_strdup(w));
        } else {
            a->value[idx] = g_strdup(w);
        }
    }

    for (int k = 0; k < nopts; k++) {
        const cli_opt *o = &c->opts[k];
        if (o->required && !a->set[k]) {
            cli_error("command '%s' requires <%s> option", c->name, o->name);
            return false;
        }
        long long dummy;
        if (o->type == CLI_OPT_INT && a->set[k] && !parse_int(a->value[k], &dummy)) {
            cli_error("numeric value '%s' for <%s> option is malformed or out of range",
                      a->value[k], o->name);
            return false;
        }
        if (o->type != CLI_OPT_BOOL && o->type != CLI_OPT_ARGV && a->set[k] &&
            !*a->value[k] && o->positional) {
            cli_error("empty value for <%s> option of command '%s'", o->name, c->name);
            return false;
        }
    }
    return true;
}

static bool cmd_help(cli_ctx *ctx, const cli_args *args)
{
    const char *name = cli_str(args, "command");
    if (!name) {
        print_usage(stdout);
        return true;
    }
    const cli_cmd *c = find_cmd(name);
    if (!c) {
        cli_error("command '%s' doesn't exist", name);
        return false;
    }
    print_cmd_usage(stdout, c);
    return true;
}

static const cli_opt opts_help[] = {
    { "command", CLI_OPT_STRING, true, false, "the command to describe" },
    { NULL },
};

static const cli_cmd help_cmd = { "help", cmd_help, opts_help, "print help", false };

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    cli_ctx ctx = { 0 };
    int i = 1;

    for (; i < argc; i++) {
        const char *w = argv[i];
        if (w[0] != '-')
            break;
        if (!strcmp(w, "-c") || !strcmp(w, "--connect")) {
            if (i + 1 >= argc) {
                cli_error("option %s requires an argument", w);
                return EXIT_FAILURE;
            }
            ctx.uri = argv[++i];
        } else if (g_str_has_prefix(w, "--connect=")) {
            ctx.uri = w + strlen("--connect=");
        } else if (!strcmp(w, "--json")) {
            ctx.json = true;
        } else if (!strcmp(w, "-q") || !strcmp(w, "--quiet")) {
            ctx.quiet = true;
        } else if (!strcmp(w, "-h") || !strcmp(w, "--help")) {
            print_usage(stdout);
            return EXIT_SUCCESS;
        } else if (!strcmp(w, "-v") || !strcmp(w, "-V") || !strcmp(w, "--version")) {
            printf("%s\n", QV_VERSION);
            return EXIT_SUCCESS;
        } else if (!strcmp(w, "--")) {
            i++;
            break;
        } else {
            cli_error("unsupported option '%s'. See --help.", w);
            return EXIT_FAILURE;
        }
    }
    if (i >= argc) {
        print_usage(stderr);
        cli_error("no command given");
        return EXIT_FAILURE;
    }

    const char *name = argv[i];
    const cli_cmd *c = !strcmp(name, "help") ? &help_cmd : find_cmd(name);
    if (!c) {
        cli_error("unknown command: '%s'", name);
        return EXIT_FAILURE;
    }
    /* "qvirt COMMAND --help" describes the command, as virsh does. */
    for (int k = i + 1; k < argc; k++) {
        if (!strcmp(argv[k], "--"))
            break;
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
            print_cmd_usage(stdout, c);
            return EXIT_SUCCESS;
        }
    }

    cli_args args = { 0 };
    bool ok = parse_cmd_args(&ctx, c, argc - i - 1, argv + i + 1, &args);
    if (ok) {
        ok = c->handler(&ctx, &args);
        /* virsh ends every command's output with an empty line. */
        if (!ctx.json && !ctx.quiet) {
            fputc('\n', stdout);
        }
    }
    args_clear(&args);
    fflush(stdout);
    if (ctx.conn)
        qv_conn_close(ctx.conn);
    if (ferror(stdout)) {
        fprintf(stderr, "error: cannot write to standard output\n");
        return EXIT_FAILURE;
    }
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
