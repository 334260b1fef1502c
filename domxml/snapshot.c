/* Snapshot XML: <domainsnapshot> (libvirt's docs/formatsnapshot.rst). The
 * embedded <domain> goes through the domain parser and formatter, so a
 * snapshot's domain is the same model every other call uses. */
#include <errno.h>
#include <string.h>

#include "domxml-priv.h"
#include "snapshot.h"

static const char *const location_names[] = { "no", "internal", "external", "manual", NULL };

/* libvirt's virDomainSnapshotState names (the domain states plus
 * disk-snapshot). */
static const char *const state_names[] = { "nostate", "running", "blocked", "paused", "shutdown",
                                           "shutoff", "crashed", "pmsuspended",
                                           "disk-snapshot", NULL };

const char *qv_snap_location_name(qv_snap_location l)
{
    return l >= QV_SNAP_LOC_NO && l <= QV_SNAP_LOC_MANUAL ? location_names[l - 1] : NULL;
}

static qv_snap_location location_of(const char *s)
{
    for (int i = 0; location_names[i]; i++)
        if (!strcmp(location_names[i], s))
            return (qv_snap_location)(i + 1);
    return QV_SNAP_LOC_DEFAULT;
}

bool qv_snapshot_name_valid(const char *name)
{
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return strlen(name) <= 255;
}

static void disk_free(void *p)
{
    qv_snapdef_disk *d = p;
    g_free(d->name);
    g_free(d->source_file);
    g_free(d->driver_type);
    g_free(d);
}

qv_snapdef *qv_snapdef_new(void)
{
    qv_snapdef *def = g_new0(qv_snapdef, 1);
    def->disks = g_ptr_array_new_with_free_func(disk_free);
    return def;
}

void qv_snapdef_free(qv_snapdef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->description);
    g_free(def->state);
    g_free(def->parent);
    g_free(def->memory_file);
    g_ptr_array_unref(def->disks);
    qv_domdef_free(def->dom);
    g_free(def);
}

qv_snapdef_disk *qv_snapdef_add_disk(qv_snapdef *def, const char *name, qv_snap_location loc,
                                     const char *source_file, const char *driver_type)
{
    qv_snapdef_disk *d = g_new0(qv_snapdef_disk, 1);
    d->name = g_strdup(name);
    d->snapshot = loc;
    d->source_file = g_strdup(source_file);
    d->driver_type = g_strdup(driver_type);
    g_ptr_array_add(def->disks, d);
    return d;
}

qv_snapdef_disk *qv_snapdef_find_disk(const qv_snapdef *def, const char *name)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qv_snapdef_disk *d = g_ptr_array_index(def->disks, i);
        if (!g_strcmp0(d->name, name))
            return d;
    }
    return NULL;
}

static int parse_location(const xmlNode *node, qv_snap_location *out, qv_error **err)
{
    g_autofree char *v = NULL;
    int r = qv_xml_prop_enum(node, "snapshot", location_names, &v, err);
    if (r > 0)
        *out = location_of(v);
    return r < 0 ? r : 0;
}

static int parse_disk(qv_snapdef *def, xmlNode *node, qv_error **err)
{
    g_autofree char *name = qv_xml_prop(node, "name");
    if (!name || !*name)
        return qv_xml_error(err, node, "a snapshot disk needs a name attribute (its target, "
                            "such as vda, or its source path)");
    if (qv_snapdef_find_disk(def, name))
        return qv_xml_error(err, node, "disk '%s' is listed twice", name);
    qv_snap_location loc = QV_SNAP_LOC_DEFAULT;
    int r = parse_location(node, &loc, err);
    if (r < 0)
        return r;
    g_autofree char *type = qv_xml_prop(node, "type");
    if (type && strcmp(type, "file"))
        return qv_xml_attr_error(err, node, "type", "only file overlays are supported, not '%s'",
                                 type);
    xmlNode *src = qv_xml_child(node, "source");
    xmlNode *drv = qv_xml_child(node, "driver");
    g_autofree char *file = src ? qv_xml_prop(src, "file") : NULL;
    g_autofree char *fmt = drv ? qv_xml_prop(drv, "type") : NULL;
    if (src && !file)
        return qv_xml_error(err, src, "the overlay's <source> needs a file attribute");
    if (fmt && strcmp(fmt, "qcow2"))
        return qv_xml_attr_error(err, drv, "type", "an external snapshot is a qcow2 overlay, "
                                 "not '%s'", fmt);
    /* A source or driver alone implies an external snapshot (libvirt). */
    if (loc == QV_SNAP_LOC_DEFAULT && (file || fmt))
        loc = QV_SNAP_LOC_EXTERNAL;
    if ((file || fmt) && loc != QV_SNAP_LOC_EXTERNAL)
        return qv_xml_error(err, node, "disk '%s' has an overlay <source> or <driver> but "
                            "snapshot='%s'", name, qv_snap_location_name(loc));
    qv_snapdef_add_disk(def, name, loc, file, fmt);
    return 0;
}

static int parse_root(qv_snapdef *def, xmlNode *root, unsigned int flags, qv_error **err)
{
    int r;
    bool redefine = flags & QV_SNAPXML_PARSE_REDEFINE;
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *e = (const char *)n->name;
        if (!strcmp(e, "name")) {
            qv_set_str(&def->name, qv_xml_text(n));
            if (!qv_snapshot_name_valid(def->name))
                return qv_xml_error(err, n, "'%s' is not a valid snapshot name (it must not be "
                                    "empty, '.', '..' or hold a '/')", def->name);
        } else if (!strcmp(e, "description")) {
            qv_set_str(&def->description, qv_xml_text(n));
        } else if (!strcmp(e, "state")) {
            g_autofree char *s = qv_xml_text(n);
            if (!g_strv_contains(state_names, s ? s : ""))
                return qv_xml_error(err, n, "unknown snapshot state '%s'", s ? s : "");
            if (redefine)
                qv_set_str(&def->state, g_steal_pointer(&s));
        } else if (!strcmp(e, "creationTime")) {
            g_autofree char *s = qv_xml_text(n);
            unsigned long long t;
            if (qv_parse_uint_str(s, 10, G_MAXINT64, &t) < 0)
                return qv_xml_error(err, n, "'%s' is not a time in seconds since 1970",
                                    s ? s : "");
            if (redefine)
                def->creation_time = (long long)t;
        } else if (!strcmp(e, "parent")) {
            g_autofree char *p = qv_xml_child_text(n, "name");
            if (!qv_snapshot_name_valid(p))
                return qv_xml_error(err, n, "the parent needs a valid <name>");
            if (redefine)
                qv_set_str(&def->parent, g_steal_pointer(&p));
        } else if (!strcmp(e, "memory")) {
            qv_snap_location loc = QV_SNAP_LOC_DEFAULT;
            if ((r = parse_location(n, &loc, err)) < 0)
                return r;
            g_autofree char *file = qv_xml_prop(n, "file");
            if (loc == QV_SNAP_LOC_DEFAULT && file)
                loc = QV_SNAP_LOC_EXTERNAL;
            if (loc == QV_SNAP_LOC_MANUAL)
                return qv_xml_attr_error(err, n, "snapshot", "'manual' is for disks, not memory");
            if (loc == QV_SNAP_LOC_EXTERNAL && (!file || !*file))
                return qv_xml_error(err, n, "an external memory snapshot needs a file attribute");
            if (loc != QV_SNAP_LOC_EXTERNAL && file)
                return qv_xml_attr_error(err, n, "file", "a memory file needs snapshot='external'");
            def->memory = loc;
            qv_set_str(&def->memory_file, g_steal_pointer(&file));
        } else if (!strcmp(e, "disks")) {
            for (xmlNode *d = n->children; d; d = d->next) {
                if (d->type != XML_ELEMENT_NODE)
                    continue;
                if (strcmp((const char *)d->name, "disk"))
                    return qv_xml_error(err, d, "unknown element in <disks>");
                if ((r = parse_disk(def, d, err)) < 0)
                    return r;
            }
        } else if (!strcmp(e, "domain")) {
            if (!redefine)
                continue;
            g_autofree char *dxml = qv_xml_dump(n);
            qv_domdef *dom = NULL;
            if ((r = qv_domxml_parse(dxml, 0, &dom, err)) < 0) {
                if (err && *err)
                    qv_error_prefix(*err, "/domainsnapshot/domain");
                return r;
            }
            qv_domdef_free(def->dom);
            def->dom = dom;
        } else if (!strcmp(e, "active") || !strcmp(e, "inactiveDomain") ||
                   !strcmp(e, "cookie")) {
            /* libvirt's private status elements: not ours to keep. */
        } else {
            return qv_xml_error(err, n, "unknown element <%s> in a snapshot", e);
        }
    }
    return 0;
}

int qv_snapxml_parse(const char *xml, unsigned int flags, qv_snapdef **ret, qv_error **err)
{
    xmlDoc *doc = NULL;
    int r = qv_xml_read(xml, "snapshot", &doc, err);
    if (r < 0)
        return r;
    xmlNode *root = xmlDocGetRootElement(doc);
    g_autoptr(qv_snapdef) def = qv_snapdef_new();
    if (!root || strcmp((const char *)root->name, "domainsnapshot"))
        r = qv_error_set(err, -EINVAL, "The snapshot XML's root element is <%s>, not "
                         "<domainsnapshot>.", root ? (const char *)root->name : "");
    else
        r = parse_root(def, root, flags, err);
    xmlFreeDoc(doc);
    if (r < 0)
        return r;
    *ret = g_steal_pointer(&def);
    return 0;
}

char *qv_snapxml_format(const qv_snapdef *def, unsigned int flags)
{
    GString *b = g_string_new("<domainsnapshot>\n");
    qv_fmt_text_elem(b, 1, "name", def->name);
    qv_fmt_text_elem(b, 1, "description", def->description);
    qv_fmt_text_elem(b, 1, "state", def->state);
    if (def->parent) {
        g_string_append(b, "  <parent>\n");
        qv_fmt_text_elem(b, 2, "name", def->parent);
        g_string_append(b, "  </parent>\n");
    }
    if (def->creation_time)
        g_string_append_printf(b, "  <creationTime>%lld</creationTime>\n", def->creation_time);
    if (def->memory) {
        g_string_append(b, "  <memory");
        qv_fmt_attr(b, "snapshot", qv_snap_location_name(def->memory));
        qv_fmt_attr(b, "file", def->memory_file);
        g_string_append(b, "/>\n");
    }
    if (def->disks->len) {
        g_string_append(b, "  <disks>\n");
        for (guint i = 0; i < def->disks->len; i++) {
            const qv_snapdef_disk *d = g_ptr_array_index(def->disks, i);
            g_string_append(b, "    <disk");
            qv_fmt_attr(b, "name", d->name);
            qv_fmt_attr(b, "snapshot", qv_snap_location_name(d->snapshot));
            if (d->snapshot == QV_SNAP_LOC_EXTERNAL)
                qv_fmt_attr(b, "type", "file");
            if (!d->source_file && !d->driver_type) {
                g_string_append(b, "/>\n");
                continue;
            }
            g_string_append(b, ">\n");
            if (d->driver_type) {
                g_string_append(b, "      <driver");
                qv_fmt_attr(b, "type", d->driver_type);
                g_string_append(b, "/>\n");
            }
            if (d->source_file) {
                g_string_append(b, "      <source");
                qv_fmt_attr(b, "file", d->source_file);
                g_string_append(b, "/>\n");
            }
            g_string_append(b, "    </disk>\n");
        }
        g_string_append(b, "  </disks>\n");
    }
    if (def->dom) {
        unsigned int f = QV_DOMXML_FORMAT_INACTIVE |
                         (flags & QV_SNAPXML_FORMAT_SECURE ? QV_DOMXML_FORMAT_SECURE : 0);
        g_autofree char *dxml = qv_domxml_format(def->dom, f);
        g_auto(GStrv) lines = g_strsplit(dxml, "\n", -1);
        for (guint i = 0; lines[i]; i++) {
            if (!*lines[i])
                continue;
            g_string_append_printf(b, "  %s\n", lines[i]);
        }
    }
    g_string_append(b, "</domainsnapshot>\n");
    return g_string_free(b, FALSE);
}
