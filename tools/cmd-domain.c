/* qvirt domain commands: lifecycle, listing, information, XML and metadata.
 * Messages and layouts follow virsh (tools/virsh-domain.c and
 * virsh-domain-monitor.c in libvirt 9). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *read_xml_file(const char *path)
{
    g_autofree char *buf = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(path, &buf, NULL, &gerr)) {
        cli_error("cannot read %s: %s", path, gerr->message);
        return NULL;
    }
    return g_steal_pointer(&buf);
}

static json_object *json_str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* ---- define / undefine / create ---------------------------------------- */

static bool cmd_define(cli_ctx *ctx, const cli_args *args)
{
    const char *file = cli_str(args, "file");
    g_autofree char *xml = read_xml_file(file);
    qv_conn *conn = xml ? cli_conn(ctx) : NULL;
    if (!conn)
        return false;
    unsigned int flags = cli_has(args, "validate") ? QV_DOMAIN_DEFINE_VALIDATE : 0;
    g_autoptr(qv_domain) dom = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_define_domain(conn, xml, flags, &dom, &err) < 0) {
        cli_error_qv(err, "failed to define the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' defined from %s\n", qv_domain_get_name(dom), file);
    return true;
}

static bool cmd_undefine(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    if (cli_has(args, "nvram") && cli_has(args, "keep-nvram")) {
        cli_error("Options --nvram and --keep-nvram are mutually exclusive");
        return false;
    }
    if (cli_has(args, "tpm") && cli_has(args, "keep-tpm")) {
        cli_error("Options --tpm and --keep-tpm are mutually exclusive");
        return false;
    }
    static const cli_flag map[] = {
        { "managed-save", QV_DOMAIN_UNDEFINE_MANAGED_SAVE },
        { "snapshots-metadata", QV_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA },
        { "checkpoints-metadata", QV_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA },
        { "nvram", QV_DOMAIN_UNDEFINE_NVRAM },
        { "keep-nvram", QV_DOMAIN_UNDEFINE_KEEP_NVRAM },
        { "tpm", QV_DOMAIN_UNDEFINE_TPM },
        { "keep-tpm", QV_DOMAIN_UNDEFINE_KEEP_TPM },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    g_autofree char *name = g_strdup(qv_domain_get_name(dom));
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_undefine(dom, flags, &err) < 0) {
        cli_error_qv(err, "failed to undefine the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' has been undefined\n", name);
    return true;
}

static bool cmd_create(cli_ctx *ctx, const cli_args *args)
{
    const char *file = cli_str(args, "file");
    g_autofree char *xml = read_xml_file(file);
    qv_conn *conn = xml ? cli_conn(ctx) : NULL;
    if (!conn)
        return false;
    static const cli_flag map[] = {
        { "paused", QV_DOMAIN_START_PAUSED },
        { "autodestroy", QV_DOMAIN_START_AUTODESTROY },
        { "validate", QV_DOMAIN_START_VALIDATE },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    g_autoptr(qv_domain) dom = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_create_domain(conn, xml, flags, &dom, &err) < 0) {
        cli_error_qv(err, "failed to create the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' created from %s\n", qv_domain_get_name(dom), file);
    return true;
}

/* ---- lifecycle ----------------------------------------------------------- */

static bool cmd_start(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    static const cli_flag map[] = {
        { "paused", QV_DOMAIN_START_PAUSED },
        { "autodestroy", QV_DOMAIN_START_AUTODESTROY },
        { "bypass-cache", QV_DOMAIN_START_BYPASS_CACHE },
        { "force-boot", QV_DOMAIN_START_FORCE_BOOT },
        { "reset-nvram", QV_DOMAIN_START_RESET_NVRAM },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    g_autoptr(qv_error) err = NULL;
    int active = qv_domain_is_active(dom, NULL);
    if (active == 1) {
        cli_error("Domain '%s' is already active", qv_domain_get_name(dom));
        return false;
    }
    if (qv_domain_create(dom, flags, &err) < 0) {
        cli_error_qv(err, "failed to start the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' started\n", qv_domain_get_name(dom));
    return true;
}

static bool cmd_destroy(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    static const cli_flag map[] = {
        { "graceful", QV_DOMAIN_DESTROY_GRACEFUL },
        { "remove-logs", QV_DOMAIN_DESTROY_REMOVE_LOGS },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_destroy(dom, flags, &err) < 0) {
        cli_error_qv(err, "failed to destroy the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' destroyed\n", qv_domain_get_name(dom));
    return true;
}

/* --mode takes a comma-separated list, as virsh's shutdown and reboot do;
 * the SHUTDOWN_* and REBOOT_* flags have the same values. */
static bool parse_modes(const char *mode, unsigned int *flags)
{
    *flags = 0;
    if (!mode)
        return true;
    g_auto(GStrv) parts = g_strsplit(mode, ",", -1);
    for (char **p = parts; *p; p++) {
        if (!strcmp(*p, "acpi"))
            *flags |= QV_DOMAIN_SHUTDOWN_ACPI_POWER_BTN;
        else if (!strcmp(*p, "agent"))
            *flags |= QV_DOMAIN_SHUTDOWN_GUEST_AGENT;
        else if (!strcmp(*p, "initctl"))
            *flags |= QV_DOMAIN_SHUTDOWN_INITCTL;
        else if (!strcmp(*p, "signal"))
            *flags |= QV_DOMAIN_SHUTDOWN_SIGNAL;
        else if (!strcmp(*p, "paravirt"))
            *flags |= QV_DOMAIN_SHUTDOWN_PARAVIRT;
        else {
            cli_error("Unknown mode %s value, expecting 'acpi', 'agent', 'initctl', "
                      "'signal', or 'paravirt'", *p);
            return false;
        }
    }
    return true;
}

/* shutdown and reboot: the same --mode list, different calls and words. */
static bool power_cmd(cli_ctx *ctx, const cli_args *args, bool reboot)
{
    unsigned int flags;
    if (!parse_modes(cli_str(args, "mode"), &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    int r = reboot ? qv_domain_reboot(dom, flags, &err) : qv_domain_shutdown(dom, flags, &err);
    if (r < 0) {
        cli_error_qv(err, reboot ? "failed to reboot the domain" : "failed to shut down the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' is being %s\n", qv_domain_get_name(dom),
             reboot ? "rebooted" : "shutdown");
    return true;
}

static bool cmd_shutdown(cli_ctx *ctx, const cli_args *args)
{
    return power_cmd(ctx, args, false);
}

static bool cmd_reboot(cli_ctx *ctx, const cli_args *args)
{
    return power_cmd(ctx, args, true);
}

static bool cmd_reset(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_reset(dom, 0, &err) < 0) {
        cli_error_qv(err, "failed to reset the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' was reset\n", qv_domain_get_name(dom));
    return true;
}

static bool cmd_suspend(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_suspend(dom, &err) < 0) {
        cli_error_qv(err, "failed to suspend the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' suspended\n", qv_domain_get_name(dom));
    return true;
}

static bool cmd_resume(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_resume(dom, &err) < 0) {
        cli_error_qv(err, "failed to resume the domain");
        return false;
    }
    cli_info(ctx, "Domain '%s' resumed\n", qv_domain_get_name(dom));
    return true;
}

/* ---- list ---------------------------------------------------------------- */

/* Moves the handles of a qv_conn_list_all_domains() array into a GPtrArray
 * the caller owns, then releases the array. The header says list_free
 * frees only the array while the library also frees the handles it still
 * holds: emptying it first (list[0] = NULL) is right under both readings. */
static GPtrArray *take_list(qv_domain **list, int n)
{
    GPtrArray *doms = g_ptr_array_new_with_free_func((GDestroyNotify)qv_domain_free);
    for (int i = 0; i < n; i++)
        g_ptr_array_add(doms, list[i]);
    if (n > 0)
        list[0] = NULL;
    qv_domain_list_free(list);
    return doms;
}

typedef struct list_row {
    qv_domain *dom;
    int id;
    int state;
} list_row;

/* virsh's order: running domains by id, then inactive ones by name. */
static int list_row_cmp(const void *pa, const void *pb)
{
    const list_row *a = pa, *b = pb;
    if (a->id >= 0 && b->id >= 0)
        return a->id < b->id ? -1 : a->id > b->id;
    if (a->id >= 0)
        return -1;
    if (b->id >= 0)
        return 1;
    return g_ascii_strcasecmp(qv_domain_get_name(a->dom), qv_domain_get_name(b->dom));
}

/* virsh's vshTable: each cell is " %s", padded to the column width plus two;
 * the rule under the header is the sum of (width + 3) dashes. */
void cli_print_table(GPtrArray *rows, size_t ncols, bool header)
{
    g_autofree size_t *w = g_new0(size_t, ncols);
    for (guint r = header ? 0 : 1; r < rows->len; r++) {
        char **cells = rows->pdata[r];
        for (size_t c = 0; c < ncols; c++)
            w[c] = MAX(w[c], (size_t)g_utf8_strlen(cells[c], -1));
    }
    for (guint r = 0; r < rows->len; r++) {
        if (r == 0 && !header)
            continue;
        char **cells = rows->pdata[r];
        for (size_t c = 0; c < ncols; c++) {
            printf(" %s", cells[c]);
            if (c + 1 < ncols)
                printf("%*s", (int)(w[c] - (size_t)g_utf8_strlen(cells[c], -1) + 2), "");
        }
        putchar('\n');
        if (r == 0) {
            for (size_t c = 0; c < ncols; c++)
                for (size_t k = 0; k < w[c] + 3; k++)
                    putchar('-');
            putchar('\n');
        }
    }
}

/* virsh list --managed-save: "saved" for a shut off domain with an image. */
static const char *list_state_str(int state)
{
    return state < 0 ? "saved" : cli_state_str(state);
}

static bool cmd_list(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags = QV_CONNECT_LIST_DOMAINS_ACTIVE;
    if (cli_has(args, "inactive") || cli_has(args, "state-shutoff"))
        flags = QV_CONNECT_LIST_DOMAINS_INACTIVE;
    if (cli_has(args, "all"))
        flags = QV_CONNECT_LIST_DOMAINS_ACTIVE | QV_CONNECT_LIST_DOMAINS_INACTIVE;
    static const struct { const char *opt; unsigned int flag; } filters[] = {
        { "persistent", QV_CONNECT_LIST_DOMAINS_PERSISTENT },
        { "transient", QV_CONNECT_LIST_DOMAINS_TRANSIENT },
        { "autostart", QV_CONNECT_LIST_DOMAINS_AUTOSTART },
        { "no-autostart", QV_CONNECT_LIST_DOMAINS_NO_AUTOSTART },
        { "with-snapshot", QV_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT },
        { "without-snapshot", QV_CONNECT_LIST_DOMAINS_NO_SNAPSHOT },
        { "state-running", QV_CONNECT_LIST_DOMAINS_RUNNING },
        { "state-paused", QV_CONNECT_LIST_DOMAINS_PAUSED },
        { "state-shutoff", QV_CONNECT_LIST_DOMAINS_SHUTOFF },
        { "state-other", QV_CONNECT_LIST_DOMAINS_OTHER },
        { "with-managed-save", QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE },
        { "without-managed-save", QV_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(filters); i++)
        if (cli_has(args, filters[i].opt))
            flags |= filters[i].flag;

    bool opt_table = cli_has(args, "table"), opt_uuid = cli_has(args, "uuid");
    bool opt_name = cli_has(args, "name"), opt_id = cli_has(args, "id");
    if (opt_table && (opt_name || opt_id)) {
        cli_error("Options --table and --%s are mutually exclusive", opt_name ? "name" : "id");
        return false;
    }
    if (!opt_uuid && !opt_name && !opt_id)
        opt_table = true;

    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    qv_domain **list = NULL;
    g_autoptr(qv_error) err = NULL;
    int n = qv_conn_list_all_domains(conn, flags, &list, &err);
    if (n < 0) {
        cli_error_qv(err, "Failed to list domains");
        return false;
    }
    g_autoptr(GPtrArray) doms = take_list(list, n);
    g_autofree list_row *rows = g_new0(list_row, n + 1);
    int nrows = 0;
    for (guint i = 0; i < doms->len; i++) {
        qv_domain *d = doms->pdata[i];
        int state = 0, reason = 0;
        /* a domain undefined meanwhile is left out, as virsh does */
        if (qv_domain_get_state(d, &state, &reason, NULL) < 0)
            continue;
        /* --managed-save shows a shut off domain with an image as saved. */
        if (cli_has(args, "managed-save") && state == QV_DOMAIN_SHUTOFF &&
            qv_domain_has_managed_save_image(d, 0, NULL) == 1)
            state = -1;
        rows[nrows++] = (list_row){ d, qv_domain_get_id(d), state };
    }
    qsort(rows, nrows, sizeof *rows, list_row_cmp);

    if (ctx->json) {
        json_object *arr = json_object_new_array();
        for (int i = 0; i < nrows; i++) {
            char uuid[37] = "";
            int autostart = 0;
            qv_domain_get_uuid_string(rows[i].dom, uuid, NULL);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "id", rows[i].id >= 0 ? json_object_new_int(rows[i].id) : NULL);
            json_object_object_add(o, "name", json_object_new_string(qv_domain_get_name(rows[i].dom)));
            json_object_object_add(o, "uuid", json_object_new_string(uuid));
            json_object_object_add(o, "state", json_object_new_string(list_state_str(rows[i].state)));
            json_object_object_add(o, "state_code", json_object_new_int(rows[i].state < 0 ? QV_DOMAIN_SHUTOFF : rows[i].state));
            json_object_object_add(o, "persistent",
                                   json_object_new_boolean(qv_domain_is_persistent(rows[i].dom, NULL) == 1));
            if (qv_domain_get_autostart(rows[i].dom, &autostart, NULL) < 0)
                autostart = 0;
            json_object_object_add(o, "autostart", json_object_new_boolean(autostart));
            json_object_array_add(arr, o);
        }
        cli_print_json(arr);
    } else if (opt_table) {
        g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
        size_t ncols = opt_uuid ? 4 : 3;
        char **hdr = g_new0(char *, 5);
        hdr[0] = g_strdup("Id");
        hdr[1] = g_strdup("Name");
        hdr[2] = g_strdup("State");
        if (opt_uuid)
            hdr[3] = g_strdup("UUID");
        g_ptr_array_add(table, hdr);
        for (int i = 0; i < nrows; i++) {
            char **row = g_new0(char *, 5);
            row[0] = rows[i].id >= 0 ? g_strdup_printf("%d", rows[i].id) : g_strdup("-");
            row[1] = g_strdup(qv_domain_get_name(rows[i].dom));
            row[2] = g_strdup(list_state_str(rows[i].state));
            if (opt_uuid) {
                char uuid[37] = "";
                qv_domain_get_uuid_string(rows[i].dom, uuid, NULL);
                row[3] = g_strdup(uuid);
            }
            g_ptr_array_add(table, row);
        }
        cli_print_table(table, ncols, !ctx->quiet);
    } else {
        for (int i = 0; i < nrows; i++) {
            const char *sep = "";
            if (opt_uuid) {
                char uuid[37] = "";
                qv_domain_get_uuid_string(rows[i].dom, uuid, NULL);
                printf("%s", uuid);
                sep = " ";
            }
            if (opt_id) {
                /* --id alone lists only running domains */
                if (rows[i].id < 0 && !opt_uuid && !opt_name)
                    continue;
                if (rows[i].id >= 0)
                    printf("%s%d", sep, rows[i].id);
                else
                    printf("%s-", sep);
                sep = " ";
            }
            if (opt_name)
                printf("%s%s", sep, qv_domain_get_name(rows[i].dom));
            putchar('\n');
        }
    }
    return true;
}

/* ---- information ----------------------------------------------------------- */

static bool cmd_dominfo(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    int id = qv_domain_get_id(dom);
    char uuid[37] = "";
    bool have_uuid = qv_domain_get_uuid_string(dom, uuid, NULL) >= 0;
    char *ostype_raw = NULL;
    if (qv_domain_get_os_type(dom, &ostype_raw, NULL) < 0)
        ostype_raw = NULL;
    g_autofree char *ostype = ostype_raw ? g_strdup(ostype_raw) : NULL;
    free(ostype_raw);
    qv_domain_info info = { 0 };
    bool have_info = qv_domain_get_info(dom, &info, &err) >= 0;
    int persistent = qv_domain_is_persistent(dom, NULL);
    int autostart = 0;
    bool have_autostart = qv_domain_get_autostart(dom, &autostart, NULL) >= 0;
    int managed = qv_domain_has_managed_save_image(dom, 0, NULL);

    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", id >= 0 ? json_object_new_int(id) : NULL);
        json_object_object_add(o, "name", json_object_new_string(qv_domain_get_name(dom)));
        json_object_object_add(o, "uuid", have_uuid ? json_object_new_string(uuid) : NULL);
        json_object_object_add(o, "os_type", json_str_or_null(ostype));
        if (have_info) {
            json_object_object_add(o, "state", json_object_new_string(cli_state_str(info.state)));
            json_object_object_add(o, "state_code", json_object_new_int(info.state));
            json_object_object_add(o, "cpus", json_object_new_int64(info.nr_virt_cpu));
            json_object_object_add(o, "cpu_time_ns", json_object_new_int64((int64_t)info.cpu_time));
            json_object_object_add(o, "max_memory_kib", json_object_new_int64((int64_t)info.max_mem));
            json_object_object_add(o, "used_memory_kib", json_object_new_int64((int64_t)info.memory));
        }
        json_object_object_add(o, "persistent",
                               persistent < 0 ? NULL : json_object_new_boolean(persistent));
        json_object_object_add(o, "autostart",
                               have_autostart ? json_object_new_boolean(autostart) : NULL);
        json_object_object_add(o, "managed_save", json_object_new_boolean(managed == 1));
        json_object_object_add(o, "security_model", json_object_new_string("none"));
        json_object_object_add(o, "security_doi", json_object_new_string("0"));
        cli_print_json(o);
    } else {
        if (id >= 0)
            printf("%-15s %d\n", "Id:", id);
        else
            printf("%-15s %s\n", "Id:", "-");
        printf("%-15s %s\n", "Name:", qv_domain_get_name(dom));
        if (have_uuid)
            printf("%-15s %s\n", "UUID:", uuid);
        if (ostype)
            printf("%-15s %s\n", "OS Type:", ostype);
        if (have_info) {
            printf("%-15s %s\n", "State:", cli_state_str(info.state));
            printf("%-15s %u\n", "CPU(s):", info.nr_virt_cpu);
            if (info.cpu_time != 0)
                printf("%-15s %.1lfs\n", "CPU time:", info.cpu_time / 1000000000.0);
            printf("%-15s %llu KiB\n", "Max memory:", info.max_mem);
            printf("%-15s %llu KiB\n", "Used memory:", info.memory);
        }
        printf("%-15s %s\n", "Persistent:", persistent < 0 ? "unknown" : persistent ? "yes" : "no");
        if (have_autostart)
            printf("%-15s %s\n", "Autostart:", autostart ? "enable" : "disable");
        printf("%-15s %s\n", "Managed save:", managed < 0 ? "unknown" : managed ? "yes" : "no");
        printf("%-15s %s\n", "Security model:", "none");
        printf("%-15s %s\n", "Security DOI:", "0");
    }
    if (!have_info) {
        cli_error_qv(err, "failed to get the domain information");
        return false;
    }
    return true;
}

static bool cmd_domstate(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    int state = 0, reason = 0;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_state(dom, &state, &reason, &err) < 0) {
        cli_error_qv(err, "failed to get the domain state");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "state", json_object_new_string(cli_state_str(state)));
        json_object_object_add(o, "state_code", json_object_new_int(state));
        json_object_object_add(o, "reason", json_object_new_string(cli_state_reason_str(state, reason)));
        json_object_object_add(o, "reason_code", json_object_new_int(reason));
        cli_print_json(o);
    } else if (cli_has(args, "reason")) {
        printf("%s (%s)\n", cli_state_str(state), cli_state_reason_str(state, reason));
    } else {
        printf("%s\n", cli_state_str(state));
    }
    return true;
}

static bool cmd_domid(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_lookup_domain(ctx, cli_str(args, "domain"),
                                                 CLI_BY_NAME | CLI_BY_UUID);
    if (!dom)
        return false;
    int id = qv_domain_get_id(dom);
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", id >= 0 ? json_object_new_int(id) : NULL);
        cli_print_json(o);
    } else if (id >= 0) {
        printf("%d\n", id);
    } else {
        printf("-\n");
    }
    return true;
}

static bool cmd_domname(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_lookup_domain(ctx, cli_str(args, "domain"),
                                                 CLI_BY_ID | CLI_BY_UUID);
    if (!dom)
        return false;
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(qv_domain_get_name(dom)));
        cli_print_json(o);
    } else {
        printf("%s\n", qv_domain_get_name(dom));
    }
    return true;
}

static bool cmd_domuuid(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_lookup_domain(ctx, cli_str(args, "domain"),
                                                 CLI_BY_NAME | CLI_BY_ID);
    if (!dom)
        return false;
    char uuid[37];
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_uuid_string(dom, uuid, &err) < 0) {
        cli_error_qv(err, "failed to get domain UUID");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        cli_print_json(o);
    } else {
        printf("%s\n", uuid);
    }
    return true;
}

static bool cmd_domcontrol(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    qv_domain_control_info info = { 0 };
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_control_info(dom, &info, 0, &err) < 0) {
        cli_error_qv(err, "failed to get the domain control state");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "state", json_object_new_string(cli_control_state_str(info.state)));
        json_object_object_add(o, "state_code", json_object_new_int(info.state));
        json_object_object_add(o, "details",
                               info.state == QV_DOMAIN_CONTROL_ERROR && info.details > 0
                                   ? json_object_new_string(cli_control_error_str(info.details))
                                   : NULL);
        json_object_object_add(o, "state_time_ms", json_object_new_int64((int64_t)info.state_time));
        cli_print_json(o);
    } else if (info.state != QV_DOMAIN_CONTROL_OK && info.state != QV_DOMAIN_CONTROL_ERROR) {
        printf("%s (%0.3fs)\n", cli_control_state_str(info.state), info.state_time / 1000.0);
    } else if (info.state == QV_DOMAIN_CONTROL_ERROR && info.details > 0) {
        printf("%s: %s\n", cli_control_state_str(info.state), cli_control_error_str(info.details));
    } else {
        printf("%s\n", cli_control_state_str(info.state));
    }
    return true;
}

/* ---- XML, description, metadata -------------------------------------------- */

static bool cmd_dumpxml(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    static const cli_flag map[] = {
        { "inactive", QV_DOMAIN_XML_INACTIVE },
        { "security-info", QV_DOMAIN_XML_SECURE },
        { "migratable", QV_DOMAIN_XML_MIGRATABLE },
        { "update-cpu", QV_DOMAIN_XML_UPDATE_CPU },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    char *xml = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_xml_description(dom, flags, &xml, &err) < 0) {
        cli_error_qv(err, "failed to get the domain XML");
        return false;
    }
    fputs(xml, stdout);
    if (!*xml || xml[strlen(xml) - 1] != '\n')
        putchar('\n');
    free(xml);
    return true;
}

/* --live/--config/--current as virsh combines them for desc and metadata. */
/* virsh's scaled integers: a number with an optional suffix (b, k/KiB, KB,
 * m, g, t, p, e); scale is the unit without a suffix. */
bool cli_parse_scaled(const char *s, unsigned long long scale, unsigned long long *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    if (*end) {
        static const char *const pre = "bkmgtpe";
        const char *p = strchr(pre, g_ascii_tolower(*end));
        if (!p)
            return false;
        unsigned long long base = 1024;
        const char *rest = end + 1;
        if (*p != 'b') {
            if (!g_ascii_strcasecmp(rest, "b"))
                base = 1000;
            else if (*rest && g_ascii_strcasecmp(rest, "ib"))
                return false;
        } else if (*rest) {
            return false;
        }
        scale = 1;
        for (const char *k = pre + 1; k <= p; k++)
            scale *= base;
    }
    if (scale && v > G_MAXUINT64 / scale)
        return false;
    *out = v * scale;
    return true;
}

bool cli_affect_flags(const cli_args *args, unsigned int *flags)
{
    bool live = cli_has(args, "live"), config = cli_has(args, "config");
    if (cli_has(args, "current") && (live || config)) {
        cli_error("Options --current and --%s are mutually exclusive", live ? "live" : "config");
        return false;
    }
    *flags = QV_DOMAIN_AFFECT_CURRENT;
    if (live)
        *flags |= QV_DOMAIN_AFFECT_LIVE;
    if (config)
        *flags |= QV_DOMAIN_AFFECT_CONFIG;
    return true;
}

static bool cmd_desc(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    if (cli_has(args, "edit")) {
        cli_error("desc --edit is not supported; pass the new text instead");
        return false;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    bool title = cli_has(args, "title");
    int type = title ? QV_DOMAIN_METADATA_TITLE : QV_DOMAIN_METADATA_DESCRIPTION;
    g_autofree char *text = cli_argv_joined(args);
    g_autoptr(qv_error) err = NULL;

    if (text) {
        /* An empty text removes it, as in virsh. */
        if (qv_domain_set_metadata(dom, type, *text ? text : NULL, NULL, NULL, flags, &err) < 0) {
            cli_error_qv(err, title ? "Failed to set new domain title"
                                    : "Failed to set new domain description");
            return false;
        }
        /* virsh prints these without a newline: the blank line after every
         * command ends the line. */
        cli_info(ctx, "%s", title ? "Domain title updated successfully"
                                  : "Domain description updated successfully");
        if (ctx->json)
            putchar('\n');
        return true;
    }

    char *value = NULL;
    int r = qv_domain_get_metadata(dom, type, NULL, flags, &value, &err);
    if (r < 0 && r != -ENOENT) {
        cli_error_qv(err, "failed to get the domain metadata");
        return false;
    }
    g_autofree char *desc = g_strdup(r < 0 || !value ? "" : value);
    free(value);
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, title ? "title" : "description", json_object_new_string(desc));
        cli_print_json(o);
    } else if (*desc) {
        fputs(desc, stdout);
        if (ctx->quiet)
            putchar('\n');
    } else {
        cli_info(ctx, title ? "No title for domain: %s" : "No description for domain: %s",
                 qv_domain_get_name(dom));
    }
    return true;
}

static bool cmd_metadata(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    const char *uri = cli_str(args, "uri"), *key = cli_str(args, "key");
    const char *set = cli_str(args, "set");
    bool rem = cli_has(args, "remove");
    if (cli_has(args, "edit")) {
        cli_error("metadata --edit is not supported; use --set instead");
        return false;
    }
    if (rem && set) {
        cli_error("Options --remove and --set are mutually exclusive");
        return false;
    }
    if (set && !key) {
        cli_error("namespace key is required when modifying metadata");
        return false;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (set || rem) {
        if (qv_domain_set_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, set, key, uri, flags, &err) < 0) {
            cli_error_qv(err, "failed to set the domain metadata");
            return false;
        }
        cli_info(ctx, "%s\n", rem ? "Metadata removed" : "Metadata modified");
        return true;
    }
    char *data = NULL;
    if (qv_domain_get_metadata(dom, QV_DOMAIN_METADATA_ELEMENT, uri, flags, &data, &err) < 0) {
        cli_error_qv(err, "failed to get the domain metadata");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uri", json_object_new_string(uri));
        json_object_object_add(o, "metadata", json_object_new_string(data));
        cli_print_json(o);
    } else {
        printf("%s\n", data);
    }
    free(data);
    return true;
}

/* ---- autostart ------------------------------------------------------------ */

static bool cmd_autostart(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    bool enable = !cli_has(args, "disable");
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_set_autostart(dom, enable, &err) < 0) {
        cli_error_qv(err, enable ? "Failed to mark domain as autostarted"
                                 : "Failed to unmark domain as autostarted");
        return false;
    }
    if (enable)
        cli_info(ctx, "Domain '%s' marked as autostarted\n", qv_domain_get_name(dom));
    else
        cli_info(ctx, "Domain '%s' unmarked as autostarted\n", qv_domain_get_name(dom));
    return true;
}

static gint cmp_domain_ptr_by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(qv_domain_get_name(*(qv_domain *const *)a), qv_domain_get_name(*(qv_domain *const *)b));
}

/* qvirt's own: what libvirtd does at daemon start, run from a boot unit. */
static bool cmd_autostart_all(cli_ctx *ctx, const cli_args *args)
{
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    qv_domain **list = NULL;
    g_autoptr(qv_error) err = NULL;
    int n = qv_conn_list_all_domains(conn, QV_CONNECT_LIST_DOMAINS_PERSISTENT |
                                               QV_CONNECT_LIST_DOMAINS_INACTIVE |
                                               QV_CONNECT_LIST_DOMAINS_AUTOSTART,
                                     &list, &err);
    if (n < 0) {
        cli_error_qv(err, "Failed to list domains");
        return false;
    }
    g_autoptr(GPtrArray) doms = take_list(list, n);
    g_ptr_array_sort(doms, cmp_domain_ptr_by_name);

    bool ok = true;
    json_object *results = ctx->json ? json_object_new_array() : NULL;
    for (guint i = 0; i < doms->len; i++) {
        qv_domain *dom = doms->pdata[i];
        int autostart = 0;
        /* check again: the list is a snapshot and the filter a promise */
        if (qv_domain_get_autostart(dom, &autostart, NULL) < 0 || !autostart ||
            qv_domain_is_active(dom, NULL) != 0 || qv_domain_is_persistent(dom, NULL) != 1)
            continue;
        g_autoptr(qv_error) serr = NULL;
        bool started = qv_domain_create(dom, 0, &serr) >= 0;
        if (results) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(qv_domain_get_name(dom)));
            json_object_object_add(o, "started", json_object_new_boolean(started));
            json_object_object_add(o, "error", started ? NULL
                                   : json_object_new_string(qv_error_message(serr)));
            json_object_array_add(results, o);
        }
        if (started) {
            if (!results)
                printf("Domain '%s' started\n", qv_domain_get_name(dom));
        } else {
            ok = false;
            cli_error("Failed to autostart domain '%s': %s", qv_domain_get_name(dom),
                      serr ? qv_error_message(serr) : "unknown error");
        }
    }
    if (results)
        cli_print_json(results);
    return ok;
}

/* ---- raw monitor ---------------------------------------------------------- */

static bool cmd_qemu_monitor_command(cli_ctx *ctx, const cli_args *args)
{
    if (cli_has(args, "hmp")) {
        cli_error("--hmp is not supported: qvirt speaks QMP only");
        return false;
    }
    g_autofree char *cmd = cli_argv_joined(args);
    g_autoptr(json_object) parsed = json_tokener_parse(cmd);
    if (!parsed || !json_object_is_type(parsed, json_type_object)) {
        cli_error("the monitor command is not a JSON object: %s", cmd);
        return false;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    char *reply = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_qemu_monitor_command(dom, cmd, &reply, 0, &err) < 0) {
        cli_error_qv(err, "the monitor command failed");
        return false;
    }
    g_autofree char *text = g_strdup(reply);
    free(reply);
    bool pretty = cli_has(args, "pretty"), retval = cli_has(args, "return-value");
    g_autoptr(json_object) r = (pretty || retval) ? json_tokener_parse(text) : NULL;
    if (retval && !r) {
        cli_error("failed to parse JSON returned by qemu");
        return false;
    }
    if (!r) {
        printf("%s\n", text);
        return true;
    }
    json_object *out = r;
    if (retval && !json_object_object_get_ex(r, "return", &out)) {
        cli_error("'return' member missing");
        return false;
    }
    /* virsh prints the re-formatted JSON without a newline: the empty line
     * it prints after every command ends it. */
    fputs(json_object_to_json_string_ext(out, pretty ? CLI_JSON_PRETTY : CLI_JSON_PLAIN), stdout);
    if (ctx->quiet)
        putchar('\n');
    return true;
}

/* ---- the table ------------------------------------------------------------- */

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define OPT_FILE { "file", CLI_OPT_STRING, true, true, "file containing an XML domain description" }
#define OPT_AFFECT \
    { "live", CLI_OPT_BOOL, false, false, "modify/get running state" }, \
    { "config", CLI_OPT_BOOL, false, false, "modify/get persistent configuration" }, \
    { "current", CLI_OPT_BOOL, false, false, "modify/get current state configuration" }

static const cli_opt opts_define[] = {
    OPT_FILE,
    { "validate", CLI_OPT_BOOL, false, false, "validate the XML against the schema" },
    { NULL },
};
static const cli_opt opts_undefine[] = {
    OPT_DOMAIN,
    { "managed-save", CLI_OPT_BOOL, false, false, "remove domain managed state file" },
    { "snapshots-metadata", CLI_OPT_BOOL, false, false, "remove all domain snapshot metadata" },
    { "checkpoints-metadata", CLI_OPT_BOOL, false, false, "remove all domain checkpoint metadata" },
    { "nvram", CLI_OPT_BOOL, false, false, "remove nvram file" },
    { "keep-nvram", CLI_OPT_BOOL, false, false, "keep nvram file" },
    { "tpm", CLI_OPT_BOOL, false, false, "remove TPM state" },
    { "keep-tpm", CLI_OPT_BOOL, false, false, "keep TPM state" },
    { NULL },
};
static const cli_opt opts_create[] = {
    OPT_FILE,
    { "paused", CLI_OPT_BOOL, false, false, "leave the guest paused after creation" },
    { "autodestroy", CLI_OPT_BOOL, false, false, "automatically destroy the guest when qvirt exits" },
    { "validate", CLI_OPT_BOOL, false, false, "validate the XML against the schema" },
    { NULL },
};
static const cli_opt opts_start[] = {
    OPT_DOMAIN,
    { "paused", CLI_OPT_BOOL, false, false, "leave the guest paused after start" },
    { "autodestroy", CLI_OPT_BOOL, false, false, "automatically destroy the guest when qvirt exits" },
    { "bypass-cache", CLI_OPT_BOOL, false, false, "avoid file system cache when loading" },
    { "force-boot", CLI_OPT_BOOL, false, false, "force fresh boot by discarding any managed save" },
    { "reset-nvram", CLI_OPT_BOOL, false, false, "re-initialize NVRAM from its pristine template" },
    { NULL },
};
static const cli_opt opts_destroy[] = {
    OPT_DOMAIN,
    { "graceful", CLI_OPT_BOOL, false, false, "terminate gracefully" },
    { "remove-logs", CLI_OPT_BOOL, false, false, "remove domain logs" },
    { NULL },
};
static const cli_opt opts_shutdown[] = {
    OPT_DOMAIN,
    { "mode", CLI_OPT_STRING, false, false, "shutdown mode: acpi|agent|initctl|signal|paravirt" },
    { NULL },
};
static const cli_opt opts_reboot[] = {
    OPT_DOMAIN,
    { "mode", CLI_OPT_STRING, false, false, "reboot mode: acpi|agent|initctl|signal|paravirt" },
    { NULL },
};
static const cli_opt opts_domain_only[] = { OPT_DOMAIN, { NULL } };
static const cli_opt opts_list[] = {
    { "inactive", CLI_OPT_BOOL, false, false, "list inactive domains" },
    { "all", CLI_OPT_BOOL, false, false, "list inactive & active domains" },
    { "transient", CLI_OPT_BOOL, false, false, "list transient domains" },
    { "persistent", CLI_OPT_BOOL, false, false, "list persistent domains" },
    { "state-running", CLI_OPT_BOOL, false, false, "list domains in running state" },
    { "state-paused", CLI_OPT_BOOL, false, false, "list domains in paused state" },
    { "state-shutoff", CLI_OPT_BOOL, false, false, "list domains in shutoff state" },
    { "state-other", CLI_OPT_BOOL, false, false, "list domains in other states" },
    { "autostart", CLI_OPT_BOOL, false, false, "list domains with autostart enabled" },
    { "no-autostart", CLI_OPT_BOOL, false, false, "list domains with autostart disabled" },
    { "with-snapshot", CLI_OPT_BOOL, false, false, "list domains with existing snapshot" },
    { "without-snapshot", CLI_OPT_BOOL, false, false, "list domains without a snapshot" },
    { "managed-save", CLI_OPT_BOOL, false, false, "mark inactive domains with managed save state" },
    { "with-managed-save", CLI_OPT_BOOL, false, false, "list domains with managed save state" },
    { "without-managed-save", CLI_OPT_BOOL, false, false, "list domains without managed save" },
    { "uuid", CLI_OPT_BOOL, false, false, "list uuid's only" },
    { "name", CLI_OPT_BOOL, false, false, "list domain names only" },
    { "id", CLI_OPT_BOOL, false, false, "list domain IDs only" },
    { "table", CLI_OPT_BOOL, false, false, "list table (default)" },
    { NULL },
};
static const cli_opt opts_domstate[] = {
    OPT_DOMAIN,
    { "reason", CLI_OPT_BOOL, false, false, "also print reason for the state" },
    { NULL },
};
static const cli_opt opts_dumpxml[] = {
    OPT_DOMAIN,
    { "inactive", CLI_OPT_BOOL, false, false, "show inactive defined XML" },
    { "security-info", CLI_OPT_BOOL, false, false, "include security sensitive information in XML dump" },
    { "update-cpu", CLI_OPT_BOOL, false, false, "update guest CPU according to host CPU" },
    { "migratable", CLI_OPT_BOOL, false, false, "provide XML suitable for migrations" },
    { NULL },
};
static const cli_opt opts_desc[] = {
    OPT_DOMAIN,
    OPT_AFFECT,
    { "title", CLI_OPT_BOOL, false, false, "modify/get the title instead of description" },
    { "edit", CLI_OPT_BOOL, false, false, "not supported (open an editor)" },
    { "new-desc", CLI_OPT_ARGV, true, false, "message" },
    { NULL },
};
static const cli_opt opts_metadata[] = {
    OPT_DOMAIN,
    { "uri", CLI_OPT_STRING, true, true, "URI of the namespace" },
    OPT_AFFECT,
    { "edit", CLI_OPT_BOOL, false, false, "not supported (use an editor)" },
    { "key", CLI_OPT_STRING, false, false, "key to be used as a namespace identifier" },
    { "set", CLI_OPT_STRING, false, false, "new metadata to set" },
    { "remove", CLI_OPT_BOOL, false, false, "remove the metadata corresponding to an uri" },
    { NULL },
};
static const cli_opt opts_autostart[] = {
    OPT_DOMAIN,
    { "disable", CLI_OPT_BOOL, false, false, "disable autostarting" },
    { NULL },
};
static const cli_opt opts_qmc[] = {
    OPT_DOMAIN,
    { "hmp", CLI_OPT_BOOL, false, false, "not supported (HMP command)" },
    { "pretty", CLI_OPT_BOOL, false, false, "pretty-print the reply" },
    { "return-value", CLI_OPT_BOOL, false, false, "extract the value of the 'return' key" },
    { "cmd", CLI_OPT_ARGV, true, true, "the QMP command as JSON" },
    { NULL },
};

const cli_cmd cli_domain_cmds[] = {
    { "autostart", cmd_autostart, opts_autostart, "autostart a domain", false },
    { "autostart-all", cmd_autostart_all, NULL,
      "start every persistent autostart domain that is not running", true },
    { "create", cmd_create, opts_create, "create a domain from an XML file", false },
    { "define", cmd_define, opts_define, "define (but don't start) a domain from an XML file", false },
    { "desc", cmd_desc, opts_desc, "show or set domain's description or title", true },
    { "destroy", cmd_destroy, opts_destroy, "destroy (stop) a domain", false },
    { "domcontrol", cmd_domcontrol, opts_domain_only, "domain control interface state", true },
    { "domid", cmd_domid, opts_domain_only, "convert a domain name or UUID to domain id", true },
    { "dominfo", cmd_dominfo, opts_domain_only, "domain information", true },
    { "domname", cmd_domname, opts_domain_only, "convert a domain id or UUID to domain name", true },
    { "domstate", cmd_domstate, opts_domstate, "domain state", true },
    { "domuuid", cmd_domuuid, opts_domain_only, "convert a domain name or id to domain UUID", true },
    { "dumpxml", cmd_dumpxml, opts_dumpxml, "domain information in XML", false },
    { "list", cmd_list, opts_list, "list domains", true },
    { "metadata", cmd_metadata, opts_metadata, "show or set domain's custom XML metadata", true },
    { "qemu-monitor-command", cmd_qemu_monitor_command, opts_qmc, "QEMU Monitor Command", false },
    { "reboot", cmd_reboot, opts_reboot, "reboot a domain", false },
    { "reset", cmd_reset, opts_domain_only, "reset a domain", false },
    { "resume", cmd_resume, opts_domain_only, "resume a domain", false },
    { "shutdown", cmd_shutdown, opts_shutdown, "gracefully shutdown a domain", false },
    { "start", cmd_start, opts_start, "start a (previously defined) inactive domain", false },
    { "suspend", cmd_suspend, opts_domain_only, "suspend a domain", false },
    { "undefine", cmd_undefine, opts_undefine, "undefine a domain", false },
    { NULL },
};
