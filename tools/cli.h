/* Shared pieces of the qvirt CLI: the command table, the parsed arguments
 * and the helpers every command uses (domain lookup, virsh's state words,
 * error and JSON output). Everything here talks to the library only through
 * <qvirt/qvirt.h>. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <glib.h>
#include <json-c/json.h>
#include <libxml/tree.h>

#include <qvirt/qvirt.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_error, qv_error_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_conn, qv_conn_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

typedef struct cli_ctx cli_ctx;

typedef enum {
    CLI_OPT_BOOL,    /* --name */
    CLI_OPT_STRING,  /* --name VALUE, --name=VALUE, or positional */
    CLI_OPT_INT,     /* like STRING, checked to be an integer */
    CLI_OPT_ARGV,    /* every remaining positional argument */
} cli_opt_type;

typedef struct cli_opt {
    const char *name;
    cli_opt_type type;
    bool positional;  /* may be given without --name, in table order */
    bool required;
    const char *help;
} cli_opt;

typedef struct cli_cmd cli_cmd;

/* The parsed command line of one command. */
typedef struct cli_args {
    const cli_cmd *cmd;
    bool *set;        /* per option: given */
    char **value;     /* per option: STRING/INT value */
    GPtrArray *argv;  /* the ARGV option's words (at most one per command) */
} cli_args;

struct cli_ctx {
    const char *uri;  /* -c/--connect; NULL: library default */
    bool json;        /* --json (global or per command) */
    bool quiet;       /* -q: no trailing blank line, no table header */
    qv_conn *conn;    /* opened on first use */
};

/* A command returns true on success; on failure it has printed "error: ...". */
typedef bool (*cli_handler)(cli_ctx *ctx, const cli_args *args);

struct cli_cmd {
    const char *name;
    cli_handler handler;
    const cli_opt *opts;  /* NULL-name terminated */
    const char *help;     /* one line */
    bool json;            /* accepts --json */
};

/* json-c flags: virsh's pretty JSON has two-space indents and "key": value. */
#define CLI_JSON_PRETTY \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CLI_JSON_PLAIN (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Options most commands share: the domain, and --config/--live/--current
 * with virsh's help wording of the tunables' and resources' commands. */
#define CLI_OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define CLI_OPT_AFFECT \
    { "config", CLI_OPT_BOOL, false, false, "affect next boot" }, \
    { "live", CLI_OPT_BOOL, false, false, "affect running domain" }, \
    { "current", CLI_OPT_BOOL, false, false, "affect current domain" }

/* ---- argument access --------------------------------------------------- */
bool cli_has(const cli_args *args, const char *name);
const char *cli_str(const cli_args *args, const char *name);
/* Boolean options that map to API flags: the map ends with a NULL option. */
typedef struct cli_flag { const char *opt; unsigned int flag; } cli_flag;
/* The OR of the flags of every option in map that was given. */
unsigned int cli_flags(const cli_args *args, const cli_flag *map);
/* Joins the ARGV words with single spaces; NULL when there are none. */
char *cli_argv_joined(const cli_args *args);

/* ---- output ------------------------------------------------------------ */
/* Prints "error: MSG" on stderr. */
void cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints "error: " and the library error's message (or fallback). */
void cli_error_qv(const qv_error *err, const char *fallback);
/* virsh's vshPrintExtra: informational text that -q silences. */
void cli_info(const cli_ctx *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Prints obj as one pretty JSON document on stdout and drops the reference. */
void cli_print_json(json_object *obj);
/* virsh's vshTable: rows are NULL-terminated string arrays of ncols cells,
 * row 0 the header (printed with its dashed rule when header is true). */
void cli_print_table(GPtrArray *rows, size_t ncols, bool header);
/* virsh's vshPrintJobProgress: "\rLABEL: [ 42 %]" on stderr (100 only when
 * remaining is 0). */
void cli_print_job_progress(const char *label, unsigned long long remaining,
                            unsigned long long total);
/* virsh's vshPrettyCapacity: v bytes as a number of *unit (B, KiB, MiB, ...). */
double cli_pretty_capacity(unsigned long long v, const char **unit);
/* virsh's scaled integers: a number with an optional suffix (b, k/KiB, KB,
 * m, g, t, p, e); scale is the unit without a suffix. */
bool cli_parse_scaled(const char *s, unsigned long long scale, unsigned long long *out);
/* --live/--config/--current into QV_DOMAIN_AFFECT_* (false after the error). */
bool cli_affect_flags(const cli_args *args, unsigned int *flags);

/* ---- connection and domains -------------------------------------------- */
/* Opens ctx->conn on first use; NULL after printing the error. */
qv_conn *cli_conn(cli_ctx *ctx);

enum { CLI_BY_ID = 1 << 0, CLI_BY_UUID = 1 << 1, CLI_BY_NAME = 1 << 2,
       CLI_BY_ANY = CLI_BY_ID | CLI_BY_UUID | CLI_BY_NAME };
/* virsh's lookup order: an id when the text is a number, then a UUID, then a
 * name. NULL after printing the error. */
qv_domain *cli_lookup_domain(cli_ctx *ctx, const char *text, unsigned int by);
/* Looks up the positional "domain" option. */
qv_domain *cli_domain_arg(cli_ctx *ctx, const cli_args *args);

/* ---- virsh's words ----------------------------------------------------- */
const char *cli_state_str(int state);
const char *cli_state_reason_str(int state, int reason);
const char *cli_control_state_str(int state);
const char *cli_control_error_str(int reason);

/* ---- the command table pieces ------------------------------------------ */
extern const cli_cmd cli_domain_cmds[];
extern const cli_cmd cli_event_cmds[];
extern const cli_cmd cli_argv_cmds[];
extern const cli_cmd cli_resource_cmds[];
extern const cli_cmd cli_block_cmds[];
extern const cli_cmd cli_console_cmds[];
extern const cli_cmd cli_hotplug_cmds[];
extern const cli_cmd cli_input_cmds[];
extern const cli_cmd cli_save_cmds[];
extern const cli_cmd cli_tune_cmds[];
extern const cli_cmd cli_snapshot_cmds[];
extern const cli_cmd cli_blockjob_cmds[];
extern const cli_cmd cli_migrate_cmds[];
extern const cli_cmd cli_migrate_incoming_cmds[];
extern const cli_cmd cli_remote_serve_cmds[];
