/* qvirt disk and interface commands: domblklist, domblkstat, domblkinfo,
 * domblkerror, blockresize, blkdeviotune, domiflist, domifstat, domiftune.
 * Layouts and messages follow virsh (virsh-domain-monitor.c and
 * virsh-domain.c in libvirt 9); the lists read the domain XML as virsh does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "cli.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* ---- helpers ------------------------------------------------------------------ */

static xmlDoc *domain_xml(qv_domain *dom, bool inactive)
{
    char *xml = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_get_xml_description(dom, inactive ? QV_DOMAIN_XML_INACTIVE : 0, &xml, &err) < 0) {
        cli_error_qv(err, "cannot get the domain XML");
        return NULL;
    }
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(xml);
    if (!doc)
        cli_error("cannot parse the domain XML");
    return doc;
}

/* The value of an XPath expression relative to node, or NULL. */
static char *xpath_str(xmlXPathContext *xc, xmlNode *node, const char *expr)
{
    xc->node = node;
    g_autoptr(xmlXPathObject) o = xmlXPathEvalExpression((const xmlChar *)expr, xc);
    if (!o)
        return NULL;
    xmlChar *s = xmlXPathCastToString(o);
    char *r = s && *s ? g_strdup((const char *)s) : NULL;
    xmlFree(s);
    return r;
}

static GPtrArray *xpath_nodes(xmlXPathContext *xc, const char *expr)
{
    GPtrArray *nodes = g_ptr_array_new();
    xc->node = xmlDocGetRootElement(xc->doc);
    g_autoptr(xmlXPathObject) o = xmlXPathEvalExpression((const xmlChar *)expr, xc);
    if (o && o->nodesetval)
        for (int i = 0; i < o->nodesetval->nodeNr; i++)
            g_ptr_array_add(nodes, o->nodesetval->nodeTab[i]);
    return nodes;
}

static char **row_new(size_t n)
{
    return g_new0(char *, n + 1);
}

/* virsh's vshPrettyCapacity. */
static char *pretty_capacity(unsigned long long v)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (v < 1024)
        return g_strdup_printf("%llu %s", v, units[0]);
    double d = (double)v;
    size_t u = 0;
    while (d >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        d /= 1024;
        u++;
    }
    return g_strdup_printf("%.3f %s", d, units[u]);
}

/* ---- domblklist ---------------------------------------------------------------- */

static bool cmd_domblklist(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(xmlDoc) doc = domain_xml(dom, cli_has(args, "inactive"));
    if (!doc)
        return false;
    g_autoptr(xmlXPathContext) xc = xmlXPathNewContext(doc);
    g_autoptr(GPtrArray) disks = xpath_nodes(xc, "/domain/devices/disk");
    bool details = cli_has(args, "details");
    g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    json_object *arr = json_object_new_array();
    char **hdr = row_new(4);
    size_t ncols = details ? 4 : 2, c = 0;
    if (details) {
        hdr[c++] = g_strdup("Type");
        hdr[c++] = g_strdup("Device");
    }
    hdr[c++] = g_strdup("Target");
    hdr[c++] = g_strdup("Source");
    g_ptr_array_add(table, hdr);
    for (guint i = 0; i < disks->len; i++) {
        xmlNode *n = disks->pdata[i];
        g_autofree char *type = xpath_str(xc, n, "string(@type)");
        g_autofree char *device = xpath_str(xc, n, "string(@device)");
        g_autofree char *target = xpath_str(xc, n, "string(target/@dev)");
        g_autofree char *source = xpath_str(xc, n, "string(source/@file|source/@dev|"
                                                   "source/@name|source/@volume)");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(type ? type : "file"));
        json_object_object_add(o, "device", json_object_new_string(device ? device : "disk"));
        json_object_object_add(o, "target", json_object_new_string(target ? target : ""));
        json_object_object_add(o, "source", source ? json_object_new_string(source) : NULL);
        json_object_array_add(arr, o);
        char **row = row_new(4);
        c = 0;
        if (details) {
            row[c++] = g_strdup(type ? type : "file");
            row[c++] = g_strdup(device ? device : "disk");
        }
        row[c++] = g_strdup(target ? target : "-");
        row[c++] = g_strdup(source ? source : "-");
        g_ptr_array_add(table, row);
    }
    if (ctx->json)
        cli_print_json(arr);
    else {
        json_object_put(arr);
        cli_print_table(table, ncols, !ctx->quiet);
    }
    return true;
}

/* ---- domblkstat ---------------------------------------------------------------- */

static const struct {
    const char *name, *human;
    size_t off;
} blkstat_fields[] = {
    { "rd_req", "number of read operations:", offsetof(qv_block_stats, rd_req) },
    { "rd_bytes", "number of bytes read:", offsetof(qv_block_stats, rd_bytes) },
    { "wr_req", "number of write operations:", offsetof(qv_block_stats, wr_req) },
    { "wr_bytes", "number of bytes written:", offsetof(qv_block_stats, wr_bytes) },
    { "errs", "error count:", offsetof(qv_block_stats, errs) },
    { "flush_operations", "number of flush operations:", offsetof(qv_block_stats, flush_operations) },
    { "rd_total_times", "total duration of reads (ns):", offsetof(qv_block_stats, rd_total_times) },
    { "wr_total_times", "total duration of writes (ns):", offsetof(qv_block_stats, wr_total_times) },
    { "flush_total_times", "total duration of flushes (ns):", offsetof(qv_block_stats, flush_total_times) },
};

static bool cmd_domblkstat(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *device = cli_str(args, "device");
    if (!device)
        device = "";
    qv_block_stats st;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_block_stats(dom, device, &st, 0, &err) < 0) {
        cli_error_qv(err, "Failed to get block stats");
        return false;
    }
    bool human = cli_has(args, "human");
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(blkstat_fields); i++) {
        long long v = *(const long long *)((const char *)&st + blkstat_fields[i].off);
        if (v < 0)
            continue;
        json_object_object_add(o, blkstat_fields[i].name, json_object_new_int64(v));
        if (!ctx->json)
            printf("%s %-*s %lld\n", device, human ? 31 : 0,
                   human ? blkstat_fields[i].human : blkstat_fields[i].name, v);
    }
    if (ctx->json)
        cli_print_json(o);
    else
        json_object_put(o);
    return true;
}

/* ---- domblkinfo ---------------------------------------------------------------- */

static char *size_str(unsigned long long v, bool human)
{
    return human ? pretty_capacity(v) : g_strdup_printf("%llu", v);
}

static json_object *blkinfo_json(const qv_block_info *bi)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "capacity", json_object_new_uint64(bi->capacity));
    json_object_object_add(o, "allocation", json_object_new_uint64(bi->allocation));
    json_object_object_add(o, "physical", json_object_new_uint64(bi->physical));
    return o;
}

static bool cmd_domblkinfo(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *device = cli_str(args, "device");
    bool human = cli_has(args, "human"), all = cli_has(args, "all");
    if (!all && !device) {
        cli_error("command 'domblkinfo' requires <device> option");
        return false;
    }
    if (all && device) {
        cli_error("Options --all and --device are mutually exclusive");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    qv_block_info bi;
    if (!all) {
        if (qv_domain_get_block_info(dom, device, &bi, 0, &err) < 0) {
            cli_error_qv(err, "Failed to get block info");
            return false;
        }
        if (ctx->json) {
            cli_print_json(blkinfo_json(&bi));
            return true;
        }
        g_autofree char *c = size_str(bi.capacity, human);
        g_autofree char *a = size_str(bi.allocation, human);
        g_autofree char *p = size_str(bi.physical, human);
        printf("%-15s %s\n%-15s %s\n%-15s %s\n", "Capacity:", c, "Allocation:", a,
               "Physical:", p);
        return true;
    }
    g_autoptr(xmlDoc) doc = domain_xml(dom, false);
    if (!doc)
        return false;
    g_autoptr(xmlXPathContext) xc = xmlXPathNewContext(doc);
    g_autoptr(GPtrArray) disks = xpath_nodes(xc, "/domain/devices/disk");
    g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    char **hdr = row_new(4);
    hdr[0] = g_strdup("Target");
    hdr[1] = g_strdup("Capacity");
    hdr[2] = g_strdup("Allocation");
    hdr[3] = g_strdup("Physical");
    g_ptr_array_add(table, hdr);
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < disks->len; i++) {
        g_autofree char *target = xpath_str(xc, disks->pdata[i], "string(target/@dev)");
        if (!target)
            continue;
        char **row = row_new(4);
        row[0] = g_strdup(target);
        g_clear_pointer(&err, qv_error_free);
        if (qv_domain_get_block_info(dom, target, &bi, 0, &err) < 0) {
            /* a drive without a medium, as virsh shows it */
            row[1] = g_strdup("-");
            row[2] = g_strdup("-");
            row[3] = g_strdup("-");
            json_object *o = json_object_new_object();
            json_object_object_add(o, "target", json_object_new_string(target));
            json_object_array_add(arr, o);
        } else {
            row[1] = size_str(bi.capacity, human);
            row[2] = size_str(bi.allocation, human);
            row[3] = size_str(bi.physical, human);
            json_object *o = blkinfo_json(&bi);
            json_object_object_add(o, "target", json_object_new_string(target));
            json_object_array_add(arr, o);
        }
        g_ptr_array_add(table, row);
    }
    if (ctx->json)
        cli_print_json(arr);
    else {
        json_object_put(arr);
        cli_print_table(table, 4, !ctx->quiet);
    }
    return true;
}

/* ---- domblkerror --------------------------------------------------------------- */

static const char *disk_error_str(int e)
{
    switch (e) {
    case QV_DOMAIN_DISK_ERROR_NONE: return "no error";
    case QV_DOMAIN_DISK_ERROR_NO_SPACE: return "no space";
    default: return "unspecified error";
    }
}

static bool cmd_domblkerror(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    int max = qv_domain_get_disk_errors(dom, NULL, 0, 0, &err);
    if (max < 0) {
        cli_error_qv(err, "Failed to get disk errors");
        return false;
    }
    g_autofree qv_disk_error *errs = g_new0(qv_disk_error, max + 1);
    int n = max ? qv_domain_get_disk_errors(dom, errs, (unsigned int)max, 0, &err) : 0;
    if (n < 0) {
        cli_error_qv(err, "Failed to get disk errors");
        return false;
    }
    json_object *arr = json_object_new_array();
    for (int i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "disk", json_object_new_string(errs[i].disk));
        json_object_object_add(o, "error", json_object_new_string(disk_error_str(errs[i].error)));
        json_object_object_add(o, "error_code", json_object_new_int(errs[i].error));
        json_object_array_add(arr, o);
        if (!ctx->json)
            printf("%s: %s\n", errs[i].disk, disk_error_str(errs[i].error));
        free(errs[i].disk);
    }
    if (ctx->json)
        cli_print_json(arr);
    else {
        json_object_put(arr);
        if (n == 0)
            printf("No errors found\n");
    }
    return true;
}

/* ---- blockresize --------------------------------------------------------------- */

static bool cmd_blockresize(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *path = cli_str(args, "path");
    unsigned long long size;
    if (!cli_parse_scaled(cli_str(args, "size"), 1024, &size)) {
        cli_error("Numeric value '%s' for <size> option is malformed or out of range",
                  cli_str(args, "size"));
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_block_resize(dom, path, size, QV_DOMAIN_BLOCK_RESIZE_BYTES, &err) < 0) {
        cli_error("Failed to resize block device '%s': %s", path,
                  err ? qv_error_message(err) : "unknown error");
        return false;
    }
    cli_info(ctx, "Block device '%s' is resized\n", path);
    return true;
}

/* ---- blkdeviotune -------------------------------------------------------------- */

static const struct {
    const char *opt;
    unsigned int bit;
    size_t off;
    bool bytes;
} iotune_opts[] = {
#define O(o, b, f, by) { o, QV_BLOCK_IOTUNE_##b, offsetof(qv_block_iotune, f), by }
    O("total-bytes-sec", TOTAL_BYTES_SEC, total_bytes_sec, true),
    O("read-bytes-sec", READ_BYTES_SEC, read_bytes_sec, true),
    O("write-bytes-sec", WRITE_BYTES_SEC, write_bytes_sec, true),
    O("total-iops-sec", TOTAL_IOPS_SEC, total_iops_sec, false),
    O("read-iops-sec", READ_IOPS_SEC, read_iops_sec, false),
    O("write-iops-sec", WRITE_IOPS_SEC, write_iops_sec, false),
    O("total-bytes-sec-max", TOTAL_BYTES_SEC_MAX, total_bytes_sec_max, true),
    O("read-bytes-sec-max", READ_BYTES_SEC_MAX, read_bytes_sec_max, true),
    O("write-bytes-sec-max", WRITE_BYTES_SEC_MAX, write_bytes_sec_max, true),
    O("total-iops-sec-max", TOTAL_IOPS_SEC_MAX, total_iops_sec_max, false),
    O("read-iops-sec-max", READ_IOPS_SEC_MAX, read_iops_sec_max, false),
    O("write-iops-sec-max", WRITE_IOPS_SEC_MAX, write_iops_sec_max, false),
    O("size-iops-sec", SIZE_IOPS_SEC, size_iops_sec, false),
    O("total-bytes-sec-max-length", TOTAL_BYTES_SEC_MAX_LENGTH, total_bytes_sec_max_length, false),
    O("read-bytes-sec-max-length", READ_BYTES_SEC_MAX_LENGTH, read_bytes_sec_max_length, false),
    O("write-bytes-sec-max-length", WRITE_BYTES_SEC_MAX_LENGTH, write_bytes_sec_max_length, false),
    O("total-iops-sec-max-length", TOTAL_IOPS_SEC_MAX_LENGTH, total_iops_sec_max_length, false),
    O("read-iops-sec-max-length", READ_IOPS_SEC_MAX_LENGTH, read_iops_sec_max_length, false),
    O("write-iops-sec-max-length", WRITE_IOPS_SEC_MAX_LENGTH, write_iops_sec_max_length, false),
#undef O
};

static bool cmd_blkdeviotune(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *device = cli_str(args, "device");
    qv_block_iotune t = { 0 };
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_opts); i++) {
        const char *v = cli_str(args, iotune_opts[i].opt);
        if (!v)
            continue;
        unsigned long long *dst = (unsigned long long *)((char *)&t + iotune_opts[i].off);
        if (!cli_parse_scaled(v, 1, dst) || (!iotune_opts[i].bytes && strspn(v, "0123456789") != strlen(v))) {
            cli_error("Numeric value '%s' for <%s> option is malformed or out of range", v,
                      iotune_opts[i].opt);
            return false;
        }
        t.fields |= iotune_opts[i].bit;
    }
    const char *group = cli_str(args, "group-name");
    if (group) {
        t.group_name = (char *)group;
        t.fields |= QV_BLOCK_IOTUNE_GROUP_NAME;
    }
    g_autoptr(qv_error) err = NULL;
    if (t.fields) {
        if (qv_domain_set_block_iotune(dom, device, &t, flags, &err) < 0) {
            cli_error("Unable to change block I/O throttle: %s",
                      err ? qv_error_message(err) : "unknown error");
            return false;
        }
        return true;
    }
    qv_block_iotune cur;
    if (qv_domain_get_block_iotune(dom, device, &cur, flags, &err) < 0) {
        cli_error("Unable to get block I/O throttle parameters: %s",
                  err ? qv_error_message(err) : "unknown error");
        return false;
    }
    /* libvirt's order: the rates, size_iops_sec, group_name, the lengths. */
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_opts); i++) {
        g_autofree char *name = g_strdelimit(g_strdup(iotune_opts[i].opt), "-", '_');
        unsigned long long v = *(const unsigned long long *)((const char *)&cur + iotune_opts[i].off);
        json_object_object_add(o, name, json_object_new_uint64(v));
        if (!ctx->json)
            printf("%-15s: %llu\n", name, v);
        if (iotune_opts[i].bit == QV_BLOCK_IOTUNE_SIZE_IOPS_SEC) {
            json_object_object_add(o, "group_name", cur.group_name
                                                        ? json_object_new_string(cur.group_name)
                                                        : NULL);
            if (!ctx->json)
                printf("%-15s: %s\n", "group_name", cur.group_name ? cur.group_name : "");
        }
    }
    qv_block_iotune_clear(&cur);
    if (ctx->json)
        cli_print_json(o);
    else
        json_object_put(o);
    return true;
}

/* ---- domiflist ----------------------------------------------------------------- */

static bool cmd_domiflist(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(xmlDoc) doc = domain_xml(dom, cli_has(args, "inactive"));
    if (!doc)
        return false;
    g_autoptr(xmlXPathContext) xc = xmlXPathNewContext(doc);
    g_autoptr(GPtrArray) nets = xpath_nodes(xc, "/domain/devices/interface");
    g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    char **hdr = row_new(5);
    hdr[0] = g_strdup("Interface");
    hdr[1] = g_strdup("Type");
    hdr[2] = g_strdup("Source");
    hdr[3] = g_strdup("Model");
    hdr[4] = g_strdup("MAC");
    g_ptr_array_add(table, hdr);
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < nets->len; i++) {
        xmlNode *n = nets->pdata[i];
        char **row = row_new(5);
        row[0] = xpath_str(xc, n, "string(target/@dev)");
        row[1] = xpath_str(xc, n, "string(@type)");
        row[2] = xpath_str(xc, n, "string(source/@bridge|source/@dev|source/@network|"
                                  "source/@name)");
        row[3] = xpath_str(xc, n, "string(model/@type)");
        row[4] = xpath_str(xc, n, "string(mac/@address)");
        static const char *const keys[] = { "interface", "type", "source", "model", "mac" };
        json_object *o = json_object_new_object();
        for (size_t k = 0; k < 5; k++) {
            json_object_object_add(o, keys[k], row[k] ? json_object_new_string(row[k]) : NULL);
            if (!row[k])
                row[k] = g_strdup("-");
        }
        json_object_array_add(arr, o);
        g_ptr_array_add(table, row);
    }
    if (ctx->json)
        cli_print_json(arr);
    else {
        json_object_put(arr);
        cli_print_table(table, 5, !ctx->quiet);
    }
    return true;
}

/* ---- domifstat ----------------------------------------------------------------- */

static bool cmd_domifstat(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *iface = cli_str(args, "interface");
    qv_interface_stats st;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_interface_stats(dom, iface, &st, &err) < 0) {
        cli_error("Failed to get interface stats %s %s: %s", qv_domain_get_name(dom), iface,
                  err ? qv_error_message(err) : "unknown error");
        return false;
    }
    static const struct { const char *name; size_t off; } fields[] = {
        { "rx_bytes", offsetof(qv_interface_stats, rx_bytes) },
        { "rx_packets", offsetof(qv_interface_stats, rx_packets) },
        { "rx_errs", offsetof(qv_interface_stats, rx_errs) },
        { "rx_drop", offsetof(qv_interface_stats, rx_drop) },
        { "tx_bytes", offsetof(qv_interface_stats, tx_bytes) },
        { "tx_packets", offsetof(qv_interface_stats, tx_packets) },
        { "tx_errs", offsetof(qv_interface_stats, tx_errs) },
        { "tx_drop", offsetof(qv_interface_stats, tx_drop) },
    };
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        long long v = *(const long long *)((const char *)&st + fields[i].off);
        if (v < 0)
            continue;
        json_object_object_add(o, fields[i].name, json_object_new_int64(v));
        if (!ctx->json)
            printf("%s %s %lld\n", iface, fields[i].name, v);
    }
    if (ctx->json)
        cli_print_json(o);
    else
        json_object_put(o);
    return true;
}

/* ---- domiftune ----------------------------------------------------------------- */

/* "average[,peak[,burst[,floor]]]" with empty parts left unset, as virsh's
 * virshParseRateStr reads it. */
static bool parse_rate(const char *s, bool inbound, qv_interface_bandwidth *b)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    guint n = g_strv_length(parts);
    if (n == 0 || n > (inbound ? 4u : 3u) || !*parts[0])
        return false;
    static const unsigned int in_bits[] = {
        QV_INTERFACE_BANDWIDTH_IN_AVERAGE, QV_INTERFACE_BANDWIDTH_IN_PEAK,
        QV_INTERFACE_BANDWIDTH_IN_BURST, QV_INTERFACE_BANDWIDTH_IN_FLOOR,
    };
    static const unsigned int out_bits[] = {
        QV_INTERFACE_BANDWIDTH_OUT_AVERAGE, QV_INTERFACE_BANDWIDTH_OUT_PEAK,
        QV_INTERFACE_BANDWIDTH_OUT_BURST,
    };
    unsigned long long *in_vals[] = { &b->inbound_average, &b->inbound_peak, &b->inbound_burst,
                                      &b->inbound_floor };
    unsigned long long *out_vals[] = { &b->outbound_average, &b->outbound_peak,
                                       &b->outbound_burst };
    for (guint i = 0; i < n; i++) {
        if (!*parts[i])
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(parts[i], &end, 10);
        if (errno || *end || parts[i][0] == '-')
            return false;
        *(inbound ? in_vals : out_vals)[i] = v;
        b->fields |= (inbound ? in_bits : out_bits)[i];
    }
    return true;
}

static bool cmd_domiftune(cli_ctx *ctx, const cli_args *args)
{
    unsigned int flags;
    if (!cli_affect_flags(args, &flags))
        return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    const char *iface = cli_str(args, "interface");
    const char *in = cli_str(args, "inbound"), *out = cli_str(args, "outbound");
    qv_interface_bandwidth b = { 0 };
    if (in && !parse_rate(in, true, &b)) {
        cli_error("inbound rate format is incorrect");
        return false;
    }
    if (out && !parse_rate(out, false, &b)) {
        cli_error("outbound rate format is incorrect");
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (b.fields) {
        if (qv_domain_set_interface_parameters(dom, iface, &b, flags, &err) < 0) {
            cli_error("Unable to set interface parameters: %s",
                      err ? qv_error_message(err) : "unknown error");
            return false;
        }
        return true;
    }
    if (qv_domain_get_interface_parameters(dom, iface, &b, flags, &err) < 0) {
        cli_error("Unable to get interface parameters: %s",
                  err ? qv_error_message(err) : "unknown error");
        return false;
    }
    const struct { const char *name; unsigned long long v; } fields[] = {
        { "inbound.average", b.inbound_average }, { "inbound.peak", b.inbound_peak },
        { "inbound.burst", b.inbound_burst }, { "inbound.floor", b.inbound_floor },
        { "outbound.average", b.outbound_average }, { "outbound.peak", b.outbound_peak },
        { "outbound.burst", b.outbound_burst },
    };
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        json_object_object_add(o, fields[i].name, json_object_new_uint64(fields[i].v));
        if (!ctx->json)
            printf("%-15s: %llu\n", fields[i].name, fields[i].v);
    }
    if (ctx->json)
        cli_print_json(o);
    else
        json_object_put(o);
    return true;
}

/* ---- the table ----------------------------------------------------------------- */

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define OPT_AFFECT \
    { "live", CLI_OPT_BOOL, false, false, "affect running domain" }, \
    { "config", CLI_OPT_BOOL, false, false, "affect next boot" }, \
    { "current", CLI_OPT_BOOL, false, false, "affect current domain" }

static const cli_opt opts_domblklist[] = {
    OPT_DOMAIN,
    { "inactive", CLI_OPT_BOOL, false, false, "get inactive rather than running configuration" },
    { "details", CLI_OPT_BOOL, false, false, "additionally display the type and device value" },
    { NULL },
};
static const cli_opt opts_domblkstat[] = {
    OPT_DOMAIN,
    { "device", CLI_OPT_STRING, true, false, "block device" },
    { "human", CLI_OPT_BOOL, false, false, "print a more human readable output" },
    { NULL },
};
static const cli_opt opts_domblkinfo[] = {
    OPT_DOMAIN,
    { "device", CLI_OPT_STRING, true, false, "block device" },
    { "human", CLI_OPT_BOOL, false, false, "Human readable output" },
    { "all", CLI_OPT_BOOL, false, false, "display all block devices info" },
    { NULL },
};
static const cli_opt opts_domain_only[] = { OPT_DOMAIN, { NULL } };
static const cli_opt opts_blockresize[] = {
    OPT_DOMAIN,
    { "path", CLI_OPT_STRING, true, true, "Fully-qualified path of block device" },
    { "size", CLI_OPT_STRING, true, true, "New size of the block device, as scaled integer (default KiB)" },
    { NULL },
};
#define IOT(n, h) { n, CLI_OPT_STRING, false, false, h }
static const cli_opt opts_blkdeviotune[] = {
    OPT_DOMAIN,
    { "device", CLI_OPT_STRING, true, true, "block device" },
    IOT("total-bytes-sec", "total throughput limit, as scaled integer (default bytes)"),
    IOT("read-bytes-sec", "read throughput limit, as scaled integer (default bytes)"),
    IOT("write-bytes-sec", "write throughput limit, as scaled integer (default bytes)"),
    IOT("total-iops-sec", "total I/O operations limit per second"),
    IOT("read-iops-sec", "read I/O operations limit per second"),
    IOT("write-iops-sec", "write I/O operations limit per second"),
    IOT("total-bytes-sec-max", "total max, as scaled integer (default bytes)"),
    IOT("read-bytes-sec-max", "read max, as scaled integer (default bytes)"),
    IOT("write-bytes-sec-max", "write max, as scaled integer (default bytes)"),
    IOT("total-iops-sec-max", "total I/O operations max"),
    IOT("read-iops-sec-max", "read I/O operations max"),
    IOT("write-iops-sec-max", "write I/O operations max"),
    IOT("size-iops-sec", "I/O size in bytes"),
    IOT("group-name", "group name to share I/O quota between multiple drives"),
    IOT("total-bytes-sec-max-length", "duration in seconds to allow total max bytes"),
    IOT("read-bytes-sec-max-length", "duration in seconds to allow read max bytes"),
    IOT("write-bytes-sec-max-length", "duration in seconds to allow write max bytes"),
    IOT("total-iops-sec-max-length", "duration in seconds to allow total I/O operations max"),
    IOT("read-iops-sec-max-length", "duration in seconds to allow read I/O operations max"),
    IOT("write-iops-sec-max-length", "duration in seconds to allow write I/O operations max"),
    OPT_AFFECT,
    { NULL },
};
#undef IOT
static const cli_opt opts_domiflist[] = {
    OPT_DOMAIN,
    { "inactive", CLI_OPT_BOOL, false, false, "get inactive rather than running configuration" },
    { NULL },
};
static const cli_opt opts_domifstat[] = {
    OPT_DOMAIN,
    { "interface", CLI_OPT_STRING, true, true, "interface device specified by name or MAC Address" },
    { NULL },
};
static const cli_opt opts_domiftune[] = {
    OPT_DOMAIN,
    { "interface", CLI_OPT_STRING, true, true, "interface device (MAC Address)" },
    { "inbound", CLI_OPT_STRING, false, false, "control domain's incoming traffics" },
    { "outbound", CLI_OPT_STRING, false, false, "control domain's outgoing traffics" },
    OPT_AFFECT,
    { NULL },
};

const cli_cmd cli_block_cmds[] = {
    { "blkdeviotune", cmd_blkdeviotune, opts_blkdeviotune, "Set or query a block device I/O tuning parameters.", true },
    { "blockresize", cmd_blockresize, opts_blockresize, "Resize block device of domain.", false },
    { "domblkerror", cmd_domblkerror, opts_domain_only, "Show errors on block devices", true },
    { "domblkinfo", cmd_domblkinfo, opts_domblkinfo, "domain block device size information", true },
    { "domblklist", cmd_domblklist, opts_domblklist, "list all domain blocks", true },
    { "domblkstat", cmd_domblkstat, opts_domblkstat, "get device block stats for a domain", true },
    { "domiflist", cmd_domiflist, opts_domiflist, "list all domain virtual interfaces", true },
    { "domifstat", cmd_domifstat, opts_domifstat, "get network interface stats for a domain", true },
    { "domiftune", cmd_domiftune, opts_domiftune, "get/set parameters of a virtual interface", true },
    { NULL },
};
