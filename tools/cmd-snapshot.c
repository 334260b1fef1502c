/* qvirt snapshot commands, with virsh's names, options, layout and messages
 * (tools/virsh-snapshot.c in libvirt 9): snapshot-create, -create-as, -list,
 * -info, -current, -dumpxml, -parent, -revert, -delete, -edit. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "cli.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_snapshot, qv_snapshot_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* ---- reading a snapshot's XML -------------------------------------------- */

typedef struct snap_info {
    char *name;
    char *state;
    char *parent;
    long long ctime;
    bool external;
} snap_info;

static void snap_info_clear(snap_info *i)
{
    g_free(i->name);
    g_free(i->state);
    g_free(i->parent);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(snap_info, snap_info_clear)

static char *xpath_str(xmlXPathContext *xp, const char *expr)
{
    g_autoptr(xmlXPathObject) o = xmlXPathEvalExpression((const xmlChar *)expr, xp);
    if (!o || o->type != XPATH_STRING || !o->stringval || !*o->stringval)
        return NULL;
    return g_strdup((const char *)o->stringval);
}

/* What virsh reads from the snapshot's XML: state, parent, creation time,
 * and whether memory or a disk is external. */
static bool read_info(qv_snapshot *s, snap_info *info, char **xml_out)
{
    g_autoptr(qv_error) err = NULL;
    g_autofree char *xml = NULL;
    if (qv_snapshot_get_xml_description(s, 0, &xml, &err) < 0) {
        cli_error_qv(err, "Failed to get snapshot XML");
        return false;
    }
    g_autoptr(xmlDoc) doc = xmlReadMemory(xml, (int)strlen(xml), "snapshot.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        cli_error("cannot parse the XML of snapshot '%s'", qv_snapshot_get_name(s));
        return false;
    }
    g_autoptr(xmlXPathContext) xp = xmlXPathNewContext(doc);
    info->name = g_strdup(qv_snapshot_get_name(s));
    info->state = xpath_str(xp, "string(/domainsnapshot/state)");
    info->parent = xpath_str(xp, "string(/domainsnapshot/parent/name)");
    g_autofree char *t = xpath_str(xp, "string(/domainsnapshot/creationTime)");
    info->ctime = t ? g_ascii_strtoll(t, NULL, 10) : 0;
    g_autofree char *ext = xpath_str(xp, "string(/domainsnapshot/memory[@snapshot='external']/@snapshot"
                                         " | /domainsnapshot/disks/disk[@snapshot='external']/@snapshot)");
    info->external = ext != NULL;
    if (xml_out)
        *xml_out = g_steal_pointer(&xml);
    return true;
}

/* ---- shared arguments ------------------------------------------------------ */

/* The snapshot named by the "snapshotname" option, or the current one with
 * --current. */
static qv_snapshot *snapshot_arg(qv_domain *dom, const cli_args *args, const char *opt)
{
    const char *name = cli_str(args, opt);
    bool current = cli_has(args, "current");
    g_autoptr(qv_error) err = NULL;
    qv_snapshot *s = NULL;
    if (name && current) {
        cli_error("--%s and --current are mutually exclusive", opt);
        return NULL;
    }
    if (name) {
        if (qv_domain_get_snapshot_by_name(dom, name, 0, &s, &err) < 0) {
            cli_error_qv(err, "Failed to get snapshot");
            return NULL;
        }
        return s;
    }
    if (!current) {
        cli_error("--%s or --current is required", opt);
        return NULL;
    }
    if (qv_domain_current_snapshot(dom, 0, &s, &err) < 0) {
        cli_error_qv(err, "Failed to get current snapshot");
        return NULL;
    }
    return s;
}

static const cli_flag redefine_flags[] = {
    { "redefine", QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE },
    { "current", QV_DOMAIN_SNAPSHOT_CREATE_CURRENT },
    { NULL, 0 },
};
static const cli_flag create_flags[] = {
    { "no-metadata", QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA },
    { "halt", QV_DOMAIN_SNAPSHOT_CREATE_HALT },
    { "disk-only", QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY },
    { "reuse-external", QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT },
    { "quiesce", QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE },
    { "atomic", QV_DOMAIN_SNAPSHOT_CREATE_ATOMIC },
    { "live", QV_DOMAIN_SNAPSHOT_CREATE_LIVE },
    { "validate", QV_DOMAIN_SNAPSHOT_CREATE_VALIDATE },
    { NULL, 0 },
};

static bool create(cli_ctx *ctx, qv_domain *dom, const char *xml, unsigned int flags,
                   const char *from)
{
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_snapshot) s = NULL;
    if (qv_domain_create_snapshot(dom, xml, flags, &s, &err) < 0) {
        cli_error_qv(err, "Failed to create snapshot");
        return false;
    }
    if (flags & QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA || !from)
        cli_info(ctx, "Domain snapshot %s created\n", qv_snapshot_get_name(s));
    else
        cli_info(ctx, "Domain snapshot %s created from '%s'\n", qv_snapshot_get_name(s), from);
    return true;
}

static bool cmd_snapshot_create(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *file = cli_str(args, "xmlfile");
    g_autofree char *xml = NULL;
    if (file) {
        g_autoptr(GError) gerr = NULL;
        if (!g_file_get_contents(file, &xml, NULL, &gerr)) {
            cli_error("Failed to read file '%s': %s", file, gerr->message);
            return false;
        }
    }
    return create(ctx, dom, xml ? xml : "<domainsnapshot/>", cli_flags(args, create_flags) | cli_flags(args, redefine_flags),
                  file);
}

/* ---- snapshot-create-as: --diskspec and --memspec ------------------------ */

/* Splits a virsh option string at single commas; ",," is a literal comma. */
static GPtrArray *split_spec(const char *spec)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *p = spec; *p; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',') {
            g_ptr_array_add(out, g_string_free(g_steal_pointer(&cur), FALSE));
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(out, g_string_free(cur, FALSE));
    return out;
}

static void attr(GString *b, const char *name, const char *value)
{
    g_autofree char *esc = g_markup_escape_text(value, -1);
    g_string_append_printf(b, " %s='%s'", name, esc);
}

/* --memspec [file=]name[,snapshot=type] */
static bool memspec_xml(GString *b, const char *spec)
{
    g_autoptr(GPtrArray) parts = split_spec(spec);
    const char *file = NULL, *snap = NULL;
    for (guint i = 0; i < parts->len; i++) {
        const char *p = parts->pdata[i];
        if (g_str_has_prefix(p, "file="))
            file = p + 5;
        else if (g_str_has_prefix(p, "snapshot="))
            snap = p + 9;
        else if (i == 0 && *p)
            file = p;
        else {
            cli_error("unable to parse memspec: %s", spec);
            return false;
        }
    }
    g_string_append(b, "  <memory");
    if (snap)
        attr(b, "snapshot", snap);
    if (file)
        attr(b, "file", file);
    g_string_append(b, "/>\n");
    return true;
}

/* --diskspec disk[,snapshot=type][,driver=type][,stype=type][,file=name] */
static bool diskspec_xml(GString *b, const char *spec)
{
    g_autoptr(GPtrArray) parts = split_spec(spec);
    const char *name = parts->pdata[0], *snap = NULL, *driver = NULL, *file = NULL, *stype = NULL;
    for (guint i = 1; i < parts->len; i++) {
        const char *p = parts->pdata[i];
        if (g_str_has_prefix(p, "snapshot="))
            snap = p + 9;
        else if (g_str_has_prefix(p, "driver="))
            driver = p + 7;
        else if (g_str_has_prefix(p, "file="))
            file = p + 5;
        else if (g_str_has_prefix(p, "stype="))
            stype = p + 6;
        else {
            cli_error("unable to parse diskspec: %s", spec);
            return false;
        }
    }
    if (!*name) {
        cli_error("unable to parse diskspec: %s", spec);
        return false;
    }
    g_string_append(b, "    <disk");
    attr(b, "name", name);
    if (snap)
        attr(b, "snapshot", snap);
    if (stype)
        attr(b, "type", stype);
    if (!driver && !file) {
        g_string_append(b, "/>\n");
        return true;
    }
    g_string_append(b, ">\n");
    if (driver) {
        g_string_append(b, "      <driver");
        attr(b, "type", driver);
        g_string_append(b, "/>\n");
    }
    if (file) {
        g_string_append(b, "      <source");
        attr(b, "file", file);
        g_string_append(b, "/>\n");
    }
    g_string_append(b, "    </disk>\n");
    return true;
}

static bool cmd_snapshot_create_as(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags = cli_flags(args, create_flags);
    g_autoptr(GString) b = g_string_new("<domainsnapshot>\n");
    const char *name = cli_str(args, "name"), *desc = cli_str(args, "description");
    if (name) {
        g_autofree char *e = g_markup_escape_text(name, -1);
        g_string_append_printf(b, "  <name>%s</name>\n", e);
    }
    if (desc) {
        g_autofree char *e = g_markup_escape_text(desc, -1);
        g_string_append_printf(b, "  <description>%s</description>\n", e);
    }
    const char *mem = cli_str(args, "memspec");
    if (mem && !memspec_xml(b, mem))
        return false;
    if (args->argv && args->argv->len) {
        g_string_append(b, "  <disks>\n");
        for (guint i = 0; i < args->argv->len; i++)
            if (!diskspec_xml(b, args->argv->pdata[i]))
                return false;
        g_string_append(b, "  </disks>\n");
    }
    g_string_append(b, "</domainsnapshot>\n");
    if (cli_has(args, "print-xml")) {
        fputs(b->str, stdout);
        return true;
    }
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    return create(ctx, dom, b->str, flags, NULL);
}

/* ---- snapshot-list ---------------------------------------------------------- */

static const cli_flag list_flags[] = {
    { "roots", QV_DOMAIN_SNAPSHOT_LIST_ROOTS },
    { "leaves", QV_DOMAIN_SNAPSHOT_LIST_LEAVES },
    { "no-leaves", QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES },
    { "metadata", QV_DOMAIN_SNAPSHOT_LIST_METADATA },
    { "no-metadata", QV_DOMAIN_SNAPSHOT_LIST_NO_METADATA },
    { "inactive", QV_DOMAIN_SNAPSHOT_LIST_INACTIVE },
    { "active", QV_DOMAIN_SNAPSHOT_LIST_ACTIVE },
    { "disk-only", QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY },
    { "internal", QV_DOMAIN_SNAPSHOT_LIST_INTERNAL },
    { "external", QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL },
    { "topological", QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL },
    { NULL, 0 },
};

static char *format_time(long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[64] = "";
    if (localtime_r(&tt, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm);
    return g_strdup(buf);
}

/* virsh's vshTreePrint. */
static void tree_print(snap_info *v, guint n, guint dev, guint lastdev, bool root, GString *indent)
{
    printf("%s%s%s\n", indent->str, root ? "" : "+- ", v[dev].name);
    if (!root)
        g_string_append(indent, dev == lastdev ? "  " : "| ");
    gint next_last = -1;
    for (guint i = 0; i < n; i++)
        if (v[i].parent && !strcmp(v[i].parent, v[dev].name))
            next_last = (gint)i;
    if (next_last >= 0)
        printf("%s  |\n", indent->str);
    g_string_append(indent, "  ");
    for (guint i = 0; i < n; i++)
        if (v[i].parent && !strcmp(v[i].parent, v[dev].name))
            tree_print(v, n, i, (guint)next_last, false, indent);
    g_string_truncate(indent, indent->len - 2);
    if (next_last < 0 && dev == lastdev)
        printf("%s\n", indent->str);
    if (!root)
        g_string_truncate(indent, indent->len - 2);
}

static bool cmd_snapshot_list(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int flags = cli_flags(args, list_flags);
    bool tree = cli_has(args, "tree"), names_only = cli_has(args, "name");
    bool with_parent = cli_has(args, "parent"), current_only = cli_has(args, "current");
    const char *from = cli_str(args, "from");
    if (tree && (with_parent || names_only)) {
        cli_error("--tree is exclusive of --parent and --name");
        return false;
    }
    if (tree && (flags & (QV_DOMAIN_SNAPSHOT_LIST_ROOTS | QV_DOMAIN_SNAPSHOT_LIST_LEAVES |
                          QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES))) {
        cli_error("--tree is exclusive of --roots, --leaves and --no-leaves");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    qv_snapshot **list = NULL;
    int n;
    if (current_only) {
        qv_snapshot *cur = NULL;
        int r = qv_domain_current_snapshot(dom, 0, &cur, &err);
        if (r == -ENOENT) {
            n = 0;
            list = calloc(1, sizeof *list);
        } else if (r < 0) {
            cli_error_qv(err, "Failed to get current snapshot");
            return false;
        } else {
            list = calloc(2, sizeof *list);
            list[0] = cur;
            n = 1;
        }
    } else if (from) {
        g_autoptr(qv_snapshot) start = NULL;
        if (qv_domain_get_snapshot_by_name(dom, from, 0, &start, &err) < 0) {
            cli_error_qv(err, "Failed to get snapshot");
            return false;
        }
        n = qv_snapshot_list_all_children(start, flags | (cli_has(args, "descendants")
                                                              ? QV_DOMAIN_SNAPSHOT_LIST_DESCENDANTS
                                                              : 0), &list, &err);
    } else {
        n = qv_domain_list_all_snapshots(dom, flags, &list, &err);
    }
    if (n < 0) {
        cli_error_qv(err, "Failed to list snapshots");
        return false;
    }
    g_autofree snap_info *v = g_new0(snap_info, n + 1);
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = read_info(list[i], &v[i], NULL);
    qv_snapshot_list_free(list);
    if (ok && ctx->json) {
        json_object *arr = json_object_new_array();
        for (int i = 0; i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(v[i].name));
            json_object_object_add(o, "creation_time", json_object_new_int64(v[i].ctime));
            json_object_object_add(o, "state", v[i].state ? json_object_new_string(v[i].state) : NULL);
            json_object_object_add(o, "parent", v[i].parent ? json_object_new_string(v[i].parent)
                                                            : NULL);
            json_object_object_add(o, "location", json_object_new_string(v[i].external
                                                                         ? "external" : "internal"));
            json_object_array_add(arr, o);
        }
        cli_print_json(arr);
    } else if (ok && tree) {
        g_autoptr(GString) indent = g_string_new(NULL);
        for (int i = 0; i < n; i++) {
            bool has_parent = false;
            for (int k = 0; v[i].parent && k < n; k++)
                has_parent |= !strcmp(v[k].name, v[i].parent);
            if (!has_parent)
                tree_print(v, (guint)n, (guint)i, (guint)i, true, indent);
        }
    } else if (ok && names_only) {
        for (int i = 0; i < n; i++)
            printf("%s\n", v[i].name);
    } else if (ok) {
        g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
        char **hdr = g_new0(char *, 5);
        hdr[0] = g_strdup("Name");
        hdr[1] = g_strdup("Creation Time");
        hdr[2] = g_strdup("State");
        if (with_parent)
            hdr[3] = g_strdup("Parent");
        g_ptr_array_add(table, hdr);
        for (int i = 0; i < n; i++) {
            char **row = g_new0(char *, 5);
            row[0] = g_strdup(v[i].name);
            row[1] = format_time(v[i].ctime);
            row[2] = g_strdup(v[i].state ? v[i].state : "");
            if (with_parent)
                row[3] = g_strdup(v[i].parent ? v[i].parent : "");
            g_ptr_array_add(table, row);
        }
        cli_print_table(table, with_parent ? 4 : 3, !ctx->quiet);
    }
    for (int i = 0; i < n; i++)
        snap_info_clear(&v[i]);
    return ok;
}

/* ---- snapshot-info, -current, -dumpxml, -parent ------------------------------ */

static bool cmd_snapshot_info(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_snapshot) s = snapshot_arg(dom, args, "snapshotname");
    if (!s)
        return false;
    g_auto(snap_info) info = { 0 };
    if (!read_info(s, &info, NULL))
        return false;
    g_autoptr(qv_error) err = NULL;
    int current = qv_snapshot_is_current(s, 0, &err);
    int children = current < 0 ? -1 : qv_snapshot_num_of_child_snapshots(s, 0, &err);
    int desc = children < 0 ? -1 : qv_snapshot_num_of_child_snapshots(
                                       s, QV_DOMAIN_SNAPSHOT_LIST_DESCENDANTS, &err);
    int meta = desc < 0 ? -1 : qv_snapshot_has_metadata(s, 0, &err);
    if (meta < 0) {
        cli_error_qv(err, "Failed to get snapshot information");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(info.name));
        json_object_object_add(o, "domain", json_object_new_string(qv_domain_get_name(dom)));
        json_object_object_add(o, "current", json_object_new_boolean(current));
        json_object_object_add(o, "state", info.state ? json_object_new_string(info.state) : NULL);
        json_object_object_add(o, "location", json_object_new_string(info.external ? "external"
                                                                                    : "internal"));
        json_object_object_add(o, "parent", info.parent ? json_object_new_string(info.parent) : NULL);
        json_object_object_add(o, "children", json_object_new_int(children));
        json_object_object_add(o, "descendants", json_object_new_int(desc));
        json_object_object_add(o, "metadata", json_object_new_boolean(meta));
        json_object_object_add(o, "creation_time", json_object_new_int64(info.ctime));
        cli_print_json(o);
        return true;
    }
    printf("%-15s %s\n", "Name:", info.name);
    printf("%-15s %s\n", "Domain:", qv_domain_get_name(dom));
    printf("%-15s %s\n", "Current:", current ? "yes" : "no");
    printf("%-15s %s\n", "State:", info.state ? info.state : "");
    printf("%-15s %s\n", "Location:", info.external ? "external" : "internal");
    printf("%-15s %s\n", "Parent:", info.parent ? info.parent : "-");
    printf("%-15s %d\n", "Children:", children);
    printf("%-15s %d\n", "Descendants:", desc);
    printf("%-15s %s\n", "Metadata:", meta ? "yes" : "no");
    return true;
}

static bool cmd_snapshot_current(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *set = cli_str(args, "snapshotname");
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_snapshot) s = NULL;
    if (set) {
        /* virsh: make the named snapshot current by redefining it. */
        if (qv_domain_get_snapshot_by_name(dom, set, 0, &s, &err) < 0) {
            cli_error_qv(err, "Failed to get snapshot");
            return false;
        }
        g_autofree char *xml = NULL;
        g_autoptr(qv_snapshot) again = NULL;
        if (qv_snapshot_get_xml_description(s, QV_DOMAIN_SNAPSHOT_XML_SECURE, &xml, &err) < 0 ||
            qv_domain_create_snapshot(dom, xml, QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                                      QV_DOMAIN_SNAPSHOT_CREATE_CURRENT, &again, &err) < 0) {
            cli_error_qv(err, "Failed to set the current snapshot");
            return false;
        }
        cli_info(ctx, "Snapshot %s set as current\n", set);
        return true;
    }
    int r = qv_domain_current_snapshot(dom, 0, &s, &err);
    if (r == -ENOENT && cli_has(args, "name")) {
        cli_error("domain '%s' has no current snapshot", qv_domain_get_name(dom));
        return false;
    }
    if (r < 0) {
        cli_error_qv(err, "Failed to get current snapshot");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(qv_snapshot_get_name(s)));
        cli_print_json(o);
        return true;
    }
    if (cli_has(args, "name")) {
        printf("%s\n", qv_snapshot_get_name(s));
        return true;
    }
    g_autofree char *xml = NULL;
    unsigned int xf = cli_has(args, "security-info") ? QV_DOMAIN_SNAPSHOT_XML_SECURE : 0;
    if (qv_snapshot_get_xml_description(s, xf, &xml, &err) < 0) {
        cli_error_qv(err, "Failed to get snapshot XML");
        return false;
    }
    fputs(xml, stdout);
    return true;
}

static bool cmd_snapshot_dumpxml(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_snapshot) s = NULL;
    if (qv_domain_get_snapshot_by_name(dom, cli_str(args, "snapshotname"), 0, &s, &err) < 0) {
        cli_error_qv(err, "Failed to get snapshot");
        return false;
    }
    g_autofree char *xml = NULL;
    unsigned int xf = cli_has(args, "security-info") ? QV_DOMAIN_SNAPSHOT_XML_SECURE : 0;
    if (qv_snapshot_get_xml_description(s, xf, &xml, &err) < 0) {
        cli_error_qv(err, "Failed to get snapshot XML");
        return false;
    }
    fputs(xml, stdout);
    return true;
}

static bool cmd_snapshot_parent(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_snapshot) s = snapshot_arg(dom, args, "snapshotname");
    if (!s)
        return false;
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_snapshot) p = NULL;
    if (qv_snapshot_get_parent(s, 0, &p, &err) < 0) {
        cli_error_qv(err, "Failed to get the parent");
        return false;
    }
    if (ctx->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(qv_snapshot_get_name(p)));
        cli_print_json(o);
    } else {
        printf("%s\n", qv_snapshot_get_name(p));
    }
    return true;
}

/* ---- snapshot-revert, -delete, -edit ---------------------------------------- */

static bool cmd_snapshot_revert(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_snapshot) s = snapshot_arg(dom, args, "snapshotname");
    if (!s)
        return false;
    static const cli_flag map[] = {
        { "running", QV_DOMAIN_SNAPSHOT_REVERT_RUNNING },
        { "paused", QV_DOMAIN_SNAPSHOT_REVERT_PAUSED },
        { "force", QV_DOMAIN_SNAPSHOT_REVERT_FORCE },
        { "reset-nvram", QV_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM },
        { NULL, 0 },
    };
    g_autoptr(qv_error) err = NULL;
    if (qv_snapshot_revert_to(s, cli_flags(args, map), &err) < 0) {
        cli_error_qv(err, "Failed to revert snapshot");
        return false;
    }
    return true;
}

static bool cmd_snapshot_delete(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_snapshot) s = snapshot_arg(dom, args, "snapshotname");
    if (!s)
        return false;
    static const cli_flag map[] = {
        { "children", QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN },
        { "children-only", QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY },
        { "metadata", QV_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY },
        { NULL, 0 },
    };
    unsigned int flags = cli_flags(args, map);
    g_autoptr(qv_error) err = NULL;
    if (qv_snapshot_delete(s, flags, &err) < 0) {
        cli_error_qv(err, "Failed to delete snapshot");
        return false;
    }
    if (flags & QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
        cli_info(ctx, "Domain snapshot %s children deleted\n", qv_snapshot_get_name(s));
    else
        cli_info(ctx, "Domain snapshot %s deleted\n", qv_snapshot_get_name(s));
    return true;
}

/* $EDITOR (else vi) on the snapshot's XML, then a redefinition. */
static bool cmd_snapshot_edit(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_snapshot) s = snapshot_arg(dom, args, "snapshotname");
    if (!s)
        return false;
    g_autoptr(qv_error) err = NULL;
    g_autofree char *xml = NULL;
    if (qv_snapshot_get_xml_description(s, QV_DOMAIN_SNAPSHOT_XML_SECURE, &xml, &err) < 0) {
        cli_error_qv(err, "Failed to get snapshot XML");
        return false;
    }
    int current = qv_snapshot_is_current(s, 0, NULL) == 1;
    g_autofree char *path = NULL;
    g_autoptr(GError) gerr = NULL;
    int fd = g_file_open_tmp("qvirt-snapshot-XXXXXX.xml", &path, &gerr);
    if (fd < 0 || !g_file_set_contents(path, xml, -1, &gerr)) {
        cli_error("cannot create a temporary file: %s", gerr ? gerr->message : "?");
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    const char *editor = g_getenv("VISUAL");
    if (!editor || !*editor)
        editor = g_getenv("EDITOR");
    if (!editor || !*editor)
        editor = "vi";
    g_auto(GStrv) argv = NULL;
    gint argc = 0;
    bool ok = g_shell_parse_argv(editor, &argc, &argv, &gerr);
    if (ok) {
        GStrv full = g_new0(char *, argc + 2);
        for (int i = 0; i < argc; i++)
            full[i] = g_strdup(argv[i]);
        full[argc] = g_strdup(path);
        int st = 0;
        ok = g_spawn_sync(NULL, full, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN,
                          NULL, NULL, NULL, NULL, &st, &gerr) && g_spawn_check_wait_status(st, &gerr);
        g_strfreev(full);
    }
    g_autofree char *edited = NULL;
    if (ok)
        ok = g_file_get_contents(path, &edited, NULL, &gerr);
    unlink(path);
    if (!ok) {
        cli_error("cannot edit the snapshot's XML: %s", gerr ? gerr->message : "?");
        return false;
    }
    if (!strcmp(edited, xml)) {
        cli_info(ctx, "Snapshot %s XML configuration not changed.\n", qv_snapshot_get_name(s));
        return true;
    }
    unsigned int flags = QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                         (current ? QV_DOMAIN_SNAPSHOT_CREATE_CURRENT : 0);
    g_autoptr(qv_snapshot) again = NULL;
    if (qv_domain_create_snapshot(dom, edited, flags, &again, &err) < 0) {
        cli_error_qv(err, "Failed to update snapshot");
        return false;
    }
    if (strcmp(qv_snapshot_get_name(again), qv_snapshot_get_name(s))) {
        cli_info(ctx, "Snapshot %s cloned to %s.\n", qv_snapshot_get_name(s),
                 qv_snapshot_get_name(again));
        return true;
    }
    cli_info(ctx, "Snapshot %s edited.\n", qv_snapshot_get_name(s));
    return true;
}

/* ---- the table ---------------------------------------------------------------- */

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define OPT_SNAP { "snapshotname", CLI_OPT_STRING, true, false, "snapshot name" }
#define OPT_CURRENT { "current", CLI_OPT_BOOL, false, false, "the current snapshot" }
#define OPT_CREATE_COMMON \
    { "no-metadata", CLI_OPT_BOOL, false, false, "take snapshot but create no metadata" }, \
    { "halt", CLI_OPT_BOOL, false, false, "halt domain after snapshot is created" }, \
    { "disk-only", CLI_OPT_BOOL, false, false, "capture disk state but not vm state" }, \
    { "reuse-external", CLI_OPT_BOOL, false, false, "reuse any existing external files" }, \
    { "quiesce", CLI_OPT_BOOL, false, false, "quiesce guest's file systems" }, \
    { "atomic", CLI_OPT_BOOL, false, false, "require atomic operation" }, \
    { "live", CLI_OPT_BOOL, false, false, "take a live snapshot" }, \
    { "validate", CLI_OPT_BOOL, false, false, "validate the XML against the schema" }

static const cli_opt opts_create[] = {
    OPT_DOMAIN,
    { "xmlfile", CLI_OPT_STRING, true, false, "domain snapshot XML" },
    { "redefine", CLI_OPT_BOOL, false, false, "redefine metadata for existing snapshot" },
    { "current", CLI_OPT_BOOL, false, false, "with redefine, set current snapshot" },
    OPT_CREATE_COMMON,
    { NULL },
};
static const cli_opt opts_create_as[] = {
    OPT_DOMAIN,
    { "name", CLI_OPT_STRING, true, false, "name of snapshot" },
    { "description", CLI_OPT_STRING, true, false, "description of snapshot" },
    { "print-xml", CLI_OPT_BOOL, false, false, "print XML document rather than create" },
    OPT_CREATE_COMMON,
    { "memspec", CLI_OPT_STRING, false, false, "memory attributes: [file=]name[,snapshot=type]" },
    { "diskspec", CLI_OPT_ARGV, true, false,
      "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]" },
    { NULL },
};
static const cli_opt opts_list[] = {
    OPT_DOMAIN,
    { "parent", CLI_OPT_BOOL, false, false, "add a column showing parent snapshot" },
    { "roots", CLI_OPT_BOOL, false, false, "list only snapshots without parents" },
    { "leaves", CLI_OPT_BOOL, false, false, "list only snapshots without children" },
    { "no-leaves", CLI_OPT_BOOL, false, false, "list only snapshots that are not leaves" },
    { "metadata", CLI_OPT_BOOL, false, false, "list only snapshots that have metadata" },
    { "no-metadata", CLI_OPT_BOOL, false, false, "list only snapshots that have no metadata" },
    { "inactive", CLI_OPT_BOOL, false, false, "filter by snapshots taken while inactive" },
    { "active", CLI_OPT_BOOL, false, false, "filter by snapshots taken while active (full system snapshots)" },
    { "disk-only", CLI_OPT_BOOL, false, false, "filter by disk-only snapshots" },
    { "internal", CLI_OPT_BOOL, false, false, "filter by internal snapshots" },
    { "external", CLI_OPT_BOOL, false, false, "filter by external snapshots" },
    { "tree", CLI_OPT_BOOL, false, false, "list snapshots in a tree" },
    { "from", CLI_OPT_STRING, false, false, "limit list to children of given snapshot" },
    { "current", CLI_OPT_BOOL, false, false, "limit list to the current snapshot" },
    { "descendants", CLI_OPT_BOOL, false, false, "with --from, list all descendants" },
    { "name", CLI_OPT_BOOL, false, false, "list snapshot names only" },
    { "topological", CLI_OPT_BOOL, false, false, "sort list topologically rather than by name" },
    { NULL },
};
static const cli_opt opts_info[] = { OPT_DOMAIN, OPT_SNAP, OPT_CURRENT, { NULL } };
static const cli_opt opts_current[] = {
    OPT_DOMAIN,
    { "name", CLI_OPT_BOOL, false, false, "list the name, rather than the full xml" },
    { "security-info", CLI_OPT_BOOL, false, false, "include security sensitive information in XML dump" },
    { "snapshotname", CLI_OPT_STRING, true, false, "name of existing snapshot to make current" },
    { NULL },
};
static const cli_opt opts_dumpxml[] = {
    OPT_DOMAIN,
    { "snapshotname", CLI_OPT_STRING, true, true, "snapshot name" },
    { "security-info", CLI_OPT_BOOL, false, false, "include security sensitive information in XML dump" },
    { NULL },
};
static const cli_opt opts_revert[] = {
    OPT_DOMAIN, OPT_SNAP, OPT_CURRENT,
    { "running", CLI_OPT_BOOL, false, false, "after reverting, change state to running" },
    { "paused", CLI_OPT_BOOL, false, false, "after reverting, change state to paused" },
    { "force", CLI_OPT_BOOL, false, false, "try harder on risky reverts" },
    { "reset-nvram", CLI_OPT_BOOL, false, false, "re-initialize NVRAM from its pristine template" },
    { NULL },
};
static const cli_opt opts_delete[] = {
    OPT_DOMAIN, OPT_SNAP, OPT_CURRENT,
    { "children", CLI_OPT_BOOL, false, false, "delete snapshot and all children" },
    { "children-only", CLI_OPT_BOOL, false, false, "delete children but not snapshot" },
    { "metadata", CLI_OPT_BOOL, false, false, "delete only libvirt metadata, leaving snapshot contents behind" },
    { NULL },
};

const cli_cmd cli_snapshot_cmds[] = {
    { "snapshot-create", cmd_snapshot_create, opts_create, "Create a snapshot from XML", false },
    { "snapshot-create-as", cmd_snapshot_create_as, opts_create_as, "Create a snapshot from a set of args", false },
    { "snapshot-current", cmd_snapshot_current, opts_current, "Get or set the current snapshot", true },
    { "snapshot-delete", cmd_snapshot_delete, opts_delete, "Delete a domain snapshot", false },
    { "snapshot-dumpxml", cmd_snapshot_dumpxml, opts_dumpxml, "Dump XML for a domain snapshot", false },
    { "snapshot-edit", cmd_snapshot_edit, opts_info, "edit XML for a snapshot", false },
    { "snapshot-info", cmd_snapshot_info, opts_info, "snapshot information", true },
    { "snapshot-list", cmd_snapshot_list, opts_list, "List snapshots for a domain", true },
    { "snapshot-parent", cmd_snapshot_parent, opts_info, "Get the name of the parent of a snapshot", true },
    { "snapshot-revert", cmd_snapshot_revert, opts_revert, "Revert a domain to a snapshot", false },
    { NULL },
};
