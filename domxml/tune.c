/* <cputune>, <memtune>, <blkiotune> and <numatune>: parsed into typed
 * fields with libvirt's checks and formatted back the way libvirt writes
 * them. None of them changes the QEMU command line. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "domxml-priv.h"

#define QUOTA_MAX 17592186044415LL

static bool name_is(const xmlNode *n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

void qv_domdef_pin_free(void *p)
{
    qv_domdef_pin *pin = p;
    g_free(pin->cpuset);
    g_free(pin);
}

static void blkio_device_free(void *p)
{
    qv_domdef_blkio_device *d = p;
    g_free(d->path);
    g_free(d);
}

static void memnode_free(void *p)
{
    qv_domdef_memnode *m = p;
    g_free(m->mode);
    g_free(m->nodeset);
    g_free(m);
}

static void cputune_clear(qv_domdef_cputune *t)
{
    g_clear_pointer(&t->vcpupins, g_ptr_array_unref);
    g_clear_pointer(&t->iothreadpins, g_ptr_array_unref);
    g_clear_pointer(&t->raw_rest, g_ptr_array_unref);
    g_free(t->emulatorpin);
    memset(t, 0, sizeof(*t));
}

void qv_domdef_tune_clear(qv_domdef *def)
{
    cputune_clear(&def->cputune);
    g_clear_pointer(&def->blkiotune.devices, g_ptr_array_unref);
    g_clear_pointer(&def->numatune.memnodes, g_ptr_array_unref);
    g_free(def->numatune.mode);
    g_free(def->numatune.placement);
    g_free(def->numatune.nodeset);
    memset(&def->numatune, 0, sizeof(def->numatune));
    memset(&def->blkiotune, 0, sizeof(def->blkiotune));
    memset(&def->memtune, 0, sizeof(def->memtune));
}

/* ---- small parsers ------------------------------------------------------------------- */

/* The element's text as an unsigned number in [min, max]. */
static int text_ull(const xmlNode *n, unsigned long long min, unsigned long long max,
                    unsigned long long *out, qv_error **err)
{
    g_autofree char *t = qv_xml_text(n);
    unsigned long long v;
    if (qv_parse_uint_str(t, 10, ULLONG_MAX, &v) < 0)
        return qv_xml_error(err, n, "'%s' is not a number", t);
    if (v < min || v > max)
        return qv_xml_error(err, n, "%llu is out of range (expected %llu to %llu)", v, min, max);
    *out = v;
    return 0;
}

/* A period: 0 (unset) or 1000..1000000 us. */
static int text_period(const xmlNode *n, unsigned long long *out, qv_error **err)
{
    int r = text_ull(n, 0, ULLONG_MAX, out, err);
    if (r == 0 && *out && (*out < 1000 || *out > 1000000))
        return qv_xml_error(err, n, "%llu is out of range (expected 1000 to 1000000)", *out);
    return r;
}

/* A quota: 0 (unset), negative (unlimited) or 1000..17592186044415 us. */
static int text_quota(const xmlNode *n, long long *out, qv_error **err)
{
    g_autofree char *t = qv_xml_text(n);
    g_autofree char *s = g_strstrip(g_strdup(t ? t : ""));
    char *end = NULL;
    errno = 0;
    long long v = *s ? g_ascii_strtoll(s, &end, 10) : 0;
    if (!*s || errno || *end)
        return qv_xml_error(err, n, "'%s' is not a number", t ? t : "");
    if (v > QUOTA_MAX || (v > 0 && v < 1000))
        return qv_xml_error(err, n, "%lld is out of range (expected 1000 to %lld, or negative "
                            "for no limit)", v, QUOTA_MAX);
    *out = v;
    return 0;
}

/* ---- cpusets ---------------------------------------------------------------------------- */

static void skip_spaces(const char **p)
{
    while (g_ascii_isspace(**p))
        (*p)++;
}

/* A decimal number at *p (no sign), advanced past; false when there is none. */
static bool cpuset_number(const char **p, unsigned long long *out)
{
    if (!g_ascii_isdigit(**p))
        return false;
    unsigned long long v = 0;
    for (; g_ascii_isdigit(**p); (*p)++)
        if (v < QV_CPUSET_MAX)  /* past the bound it only has to stay there */
            v = v * 10 + (unsigned)(**p - '0');
    *out = v;
    return true;
}

/* Follows libvirt's virBitmapParse: comma-separated terms N, N-M or ^N
 * (applied left to right, so "0-3,^2" is 0,1,3), blanks around terms and
 * a trailing comma allowed, "^N-M" refused; then formats the set the way
 * virBitmapFormat does, ascending with runs as ranges. */
int qv_cpuset_canonicalise(const char *list, char **out)
{
    g_autofree guint8 *map = g_malloc0(QV_CPUSET_MAX / 8);
    const char *p = list ? list : "";
    unsigned int top = 0;   /* one past the highest CPU ever set */
    skip_spaces(&p);
    if (!*p)
        return -EINVAL;
    while (*p) {
        bool neg = *p == '^';
        if (neg)
            p++;
        unsigned long long a, b;
        if (!cpuset_number(&p, &a))
            return -EINVAL;
        b = a;
        skip_spaces(&p);
        if (*p == '-') {
            if (neg)
                return -EINVAL;
            p++;
            skip_spaces(&p);
            if (!cpuset_number(&p, &b) || b < a)
                return -EINVAL;
            skip_spaces(&p);
        }
        if (b >= QV_CPUSET_MAX)
            return -ERANGE;
        if (!neg && b + 1 > top)
            top = (unsigned int)b + 1;
        for (unsigned long long c = a; c <= b; c++) {
            if (neg)
                map[c / 8] &= (guint8)~(1u << (c % 8));
            else
                map[c / 8] |= (guint8)(1u << (c % 8));
        }
        if (*p == ',') {
            p++;
            skip_spaces(&p);
        } else if (*p) {
            return -EINVAL;
        }
    }
    GString *s = g_string_new(NULL);
    for (unsigned int c = 0; c < top; c++) {
        if (!(map[c / 8] >> (c % 8) & 1))
            continue;
        unsigned int e = c;
        while (e + 1 < top && (map[(e + 1) / 8] >> ((e + 1) % 8) & 1))
            e++;
        g_string_append_printf(s, "%s%u", s->len ? "," : "", c);
        if (e > c)
            g_string_append_printf(s, "-%u", e);
        c = e;
    }
    if (!s->len) {
        g_string_free(s, TRUE);
        return -ENOENT;
    }
    *out = g_string_free(s, FALSE);
    return 0;
}

int qv_xml_prop_cpuset(const xmlNode *n, const char *attr, const char *what, bool required,
                       char **out, qv_error **err)
{
    g_autofree char *v = qv_xml_prop(n, attr);
    if (!v)
        return required ? qv_xml_error(err, n, "missing %s attribute", attr) : 0;
    char *canon = NULL;
    int r = qv_cpuset_canonicalise(v, &canon);
    if (r == -ERANGE)
        return qv_xml_attr_error(err, n, attr, "'%s' goes beyond %s %u, the highest supported",
                                 v, what, QV_CPUSET_MAX - 1);
    if (r == -ENOENT)
        return qv_xml_attr_error(err, n, attr, "'%s' selects no %s", v, what);
    if (r < 0)
        return qv_xml_attr_error(err, n, attr, "'%s' is not a %s list", v, what);
    g_free(*out);
    *out = canon;
    return 0;
}

/* A required list attribute (CPUs or NUMA nodes) like "0-3,^2,6", stored canonical. */
static int prop_list(const xmlNode *n, const char *attr, const char *what, char **out,
                     qv_error **err)
{
    return qv_xml_prop_cpuset(n, attr, what, true, out, err);
}

static int prop_required_uint(const xmlNode *n, const char *attr, unsigned int *out,
                              qv_error **err)
{
    int r = qv_xml_prop_uint(n, attr, out, err);
    if (r == 0)
        return qv_xml_error(err, n, "missing %s attribute", attr);
    return r < 0 ? r : 0;
}

static gint pin_cmp(gconstpointer a, gconstpointer b)
{
    const qv_domdef_pin *x = *(qv_domdef_pin *const *)a, *y = *(qv_domdef_pin *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- <cputune> ------------------------------------------------------------------------- */

static int parse_pin(GPtrArray **list, const xmlNode *n, const char *attr, qv_error **err)
{
    g_autofree qv_domdef_pin *pin = g_new0(qv_domdef_pin, 1);
    if (prop_required_uint(n, attr, &pin->id, err) < 0)
        return -EINVAL;
    if (!*list)
        *list = g_ptr_array_new_with_free_func(qv_domdef_pin_free);
    for (guint i = 0; i < (*list)->len; i++)
        if (((qv_domdef_pin *)g_ptr_array_index(*list, i))->id == pin->id)
            return qv_xml_attr_error(err, n, attr, "duplicate %s for %s %u",
                                     (const char *)n->name, attr, pin->id);
    if (prop_list(n, "cpuset", "CPU", &pin->cpuset, err) < 0) {
        g_free(pin->cpuset);
        return -EINVAL;
    }
    g_ptr_array_add(*list, g_steal_pointer(&pin));
    return 0;
}

int qv_parse_cputune(qv_domdef *def, const xmlNode *node, qv_error **err)
{
    qv_domdef_cputune *t = &def->cputune;
    cputune_clear(t);
    static const char *const kept[] = { "vcpusched", "iothreadsched", "emulatorsched",
                                        "cachetune", "memorytune" };
    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int r = 0;
        if (name_is(c, "shares")) {
            r = text_ull(c, 2, 262144, &t->shares, err);
            t->has_shares = true;
        } else if (name_is(c, "period")) {
            r = text_period(c, &t->period, err);
        } else if (name_is(c, "quota")) {
            r = text_quota(c, &t->quota, err);
        } else if (name_is(c, "global_period")) {
            r = text_period(c, &t->global_period, err);
        } else if (name_is(c, "global_quota")) {
            r = text_quota(c, &t->global_quota, err);
        } else if (name_is(c, "emulator_period")) {
            r = text_period(c, &t->emulator_period, err);
        } else if (name_is(c, "emulator_quota")) {
            r = text_quota(c, &t->emulator_quota, err);
        } else if (name_is(c, "iothread_period")) {
            r = text_period(c, &t->iothread_period, err);
        } else if (name_is(c, "iothread_quota")) {
            r = text_quota(c, &t->iothread_quota, err);
        } else if (name_is(c, "vcpupin")) {
            r = parse_pin(&t->vcpupins, c, "vcpu", err);
        } else if (name_is(c, "iothreadpin")) {
            r = parse_pin(&t->iothreadpins, c, "iothread", err);
        } else if (name_is(c, "emulatorpin")) {
            if (t->emulatorpin)
                return qv_xml_error(err, c, "only one emulatorpin is supported");
            r = prop_list(c, "cpuset", "CPU", &t->emulatorpin, err);
        } else {
            bool ok = false;
            for (size_t i = 0; i < G_N_ELEMENTS(kept) && !ok; i++)
                ok = name_is(c, kept[i]);
            if (!ok)
                return qv_xml_error(err, c, "unknown element");
            if (!t->raw_rest)
                t->raw_rest = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(t->raw_rest, qv_xml_dump(c));
        }
        if (r < 0)
            return r;
    }
    if (t->vcpupins)
        g_ptr_array_sort(t->vcpupins, pin_cmp);
    if (t->iothreadpins)
        g_ptr_array_sort(t->iothreadpins, pin_cmp);
    return 0;
}

static void fmt_ull(GString *b, const char *name, unsigned long long v)
{
    if (v)
        g_string_append_printf(b, "    <%s>%llu</%s>\n", name, v, name);
}

static void fmt_ll(GString *b, const char *name, long long v)
{
    if (v)
        g_string_append_printf(b, "    <%s>%lld</%s>\n", name, v, name);
}

/* libvirt's <cputune> at depth 1, without the trailing newline; NULL when empty. */
static char *cputune_string(const qv_domdef_cputune *t)
{
    GString *b = g_string_new("<cputune>\n");
    size_t empty = b->len;
    if (t->has_shares)
        g_string_append_printf(b, "    <shares>%llu</shares>\n", t->shares);
    fmt_ull(b, "period", t->period);
    fmt_ll(b, "quota", t->quota);
    fmt_ull(b, "global_period", t->global_period);
    fmt_ll(b, "global_quota", t->global_quota);
    fmt_ull(b, "emulator_period", t->emulator_period);
    fmt_ll(b, "emulator_quota", t->emulator_quota);
    fmt_ull(b, "iothread_period", t->iothread_period);
    fmt_ll(b, "iothread_quota", t->iothread_quota);
    for (guint i = 0; t->vcpupins && i < t->vcpupins->len; i++) {
        const qv_domdef_pin *p = g_ptr_array_index(t->vcpupins, i);
        g_string_append_printf(b, "    <vcpupin vcpu='%u'", p->id);
        qv_fmt_attr(b, "cpuset", p->cpuset);
        g_string_append(b, "/>\n");
    }
    if (t->emulatorpin) {
        g_string_append(b, "    <emulatorpin");
        qv_fmt_attr(b, "cpuset", t->emulatorpin);
        g_string_append(b, "/>\n");
    }
    for (guint i = 0; t->iothreadpins && i < t->iothreadpins->len; i++) {
        const qv_domdef_pin *p = g_ptr_array_index(t->iothreadpins, i);
        g_string_append_printf(b, "    <iothreadpin iothread='%u'", p->id);
        qv_fmt_attr(b, "cpuset", p->cpuset);
        g_string_append(b, "/>\n");
    }
    for (guint i = 0; t->raw_rest && i < t->raw_rest->len; i++) {
        qv_fmt_indent(b, 2);
        g_string_append(b, g_ptr_array_index(t->raw_rest, i));
        g_string_append_c(b, '\n');
    }
    if (b->len == empty) {
        g_string_free(b, TRUE);
        return NULL;
    }
    g_string_append(b, "  </cputune>");
    return g_string_free(b, FALSE);
}

void qv_fmt_cputune(GString *buf, const qv_domdef *def)
{
    g_autofree char *s = cputune_string(&def->cputune);
    if (s)
        g_string_append_printf(buf, "  %s\n", s);
}

/* ---- <memtune> ------------------------------------------------------------------------- */

int qv_parse_memtune(qv_domdef *def, const xmlNode *node, qv_error **err)
{
    qv_domdef_memtune *m = &def->memtune;
    memset(m, 0, sizeof(*m));
    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        unsigned long long *slot;
        if (name_is(c, "hard_limit"))
            slot = &m->hard_limit;
        else if (name_is(c, "soft_limit"))
            slot = &m->soft_limit;
        else if (name_is(c, "swap_hard_limit"))
            slot = &m->swap_hard_limit;
        else if (name_is(c, "min_guarantee"))
            slot = &m->min_guarantee;
        else
            return qv_xml_error(err, c, "unknown element");
        if (qv_xml_scaled_kib(c, "KiB", slot, err) < 0)
            return -EINVAL;
        /* like libvirt, anything from "unlimited" up means no limit */
        if (*slot >= QV_DOMDEF_MEMTUNE_UNLIMITED)
            *slot = 0;
    }
    if (m->hard_limit && m->swap_hard_limit && m->hard_limit > m->swap_hard_limit)
        return qv_xml_error(err, node, "hard_limit (%llu KiB) must not exceed swap_hard_limit "
                            "(%llu KiB)", m->hard_limit, m->swap_hard_limit);
    return 0;
}

void qv_fmt_memtune(GString *buf, const qv_domdef *def)
{
    const qv_domdef_memtune *m = &def->memtune;
    if (!m->hard_limit && !m->soft_limit && !m->min_guarantee && !m->swap_hard_limit)
        return;
    g_string_append(buf, "  <memtune>\n");
    static const char *const names[] = { "hard_limit", "soft_limit", "min_guarantee",
                                         "swap_hard_limit" };
    const unsigned long long vals[] = { m->hard_limit, m->soft_limit, m->min_guarantee,
                                        m->swap_hard_limit };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (vals[i])
            g_string_append_printf(buf, "    <%s unit='KiB'>%llu</%s>\n", names[i], vals[i],
                                   names[i]);
    g_string_append(buf, "  </memtune>\n");
}

/* ---- <blkiotune> ----------------------------------------------------------------------- */

static int parse_blkio_device(qv_domdef_blkiotune *b, const xmlNode *dn, qv_error **err)
{
    qv_domdef_blkio_device *d = g_new0(qv_domdef_blkio_device, 1);
    if (!b->devices)
        b->devices = g_ptr_array_new_with_free_func(blkio_device_free);
    g_ptr_array_add(b->devices, d);
    for (xmlNode *c = dn->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        unsigned long long v = 0;
        int r = 0;
        if (name_is(c, "path")) {
            qv_set_str(&d->path, qv_xml_text(c));
            if (!d->path || !*d->path || d->path[0] != '/')
                return qv_xml_error(err, c, "'%s' is not an absolute path",
                                    d->path ? d->path : "");
        } else if (name_is(c, "weight")) {
            r = text_ull(c, 100, 1000, &v, err);
            d->weight = (unsigned int)v;
        } else if (name_is(c, "read_bytes_sec")) {
            r = text_ull(c, 0, LLONG_MAX, &d->read_bytes_sec, err);
        } else if (name_is(c, "write_bytes_sec")) {
            r = text_ull(c, 0, LLONG_MAX, &d->write_bytes_sec, err);
        } else if (name_is(c, "read_iops_sec")) {
            r = text_ull(c, 0, UINT_MAX, &d->read_iops_sec, err);
        } else if (name_is(c, "write_iops_sec")) {
            r = text_ull(c, 0, UINT_MAX, &d->write_iops_sec, err);
        } else {
            return qv_xml_error(err, c, "unknown element");
        }
        if (r < 0)
            return r;
    }
    if (!d->path)
        return qv_xml_error(err, dn, "missing <path>");
    for (guint i = 0; i + 1 < b->devices->len; i++)
        if (!strcmp(((qv_domdef_blkio_device *)g_ptr_array_index(b->devices, i))->path, d->path))
            return qv_xml_error(err, dn, "duplicate device path '%s'", d->path);
    return 0;
}

int qv_parse_blkiotune(qv_domdef *def, const xmlNode *node, qv_error **err)
{
    qv_domdef_blkiotune *b = &def->blkiotune;
    g_clear_pointer(&b->devices, g_ptr_array_unref);
    b->weight = 0;
    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (name_is(c, "weight")) {
            unsigned long long v;
            if (text_ull(c, 100, 1000, &v, err) < 0)
                return -EINVAL;
            b->weight = (unsigned int)v;
        } else if (name_is(c, "device")) {
            if (parse_blkio_device(b, c, err) < 0)
                return -EINVAL;
        } else {
            return qv_xml_error(err, c, "unknown element");
        }
    }
    return 0;
}

static bool blkio_device_set(const qv_domdef_blkio_device *d)
{
    return d->weight || d->read_bytes_sec || d->write_bytes_sec || d->read_iops_sec ||
           d->write_iops_sec;
}

void qv_fmt_blkiotune(GString *buf, const qv_domdef *def)
{
    const qv_domdef_blkiotune *b = &def->blkiotune;
    bool any = b->weight != 0;
    for (guint i = 0; b->devices && i < b->devices->len && !any; i++)
        any = blkio_device_set(g_ptr_array_index(b->devices, i));
    if (!any)
        return;
    g_string_append(buf, "  <blkiotune>\n");
    if (b->weight)
        g_string_append_printf(buf, "    <weight>%u</weight>\n", b->weight);
    for (guint i = 0; b->devices && i < b->devices->len; i++) {
        const qv_domdef_blkio_device *d = g_ptr_array_index(b->devices, i);
        if (!blkio_device_set(d))
            continue;
        g_string_append(buf, "    <device>\n");
        qv_fmt_text_elem(buf, 3, "path", d->path);
        if (d->weight)
            g_string_append_printf(buf, "      <weight>%u</weight>\n", d->weight);
        static const char *const names[] = { "read_iops_sec", "write_iops_sec",
                                             "read_bytes_sec", "write_bytes_sec" };
        const unsigned long long vals[] = { d->read_iops_sec, d->write_iops_sec,
                                            d->read_bytes_sec, d->write_bytes_sec };
        for (size_t k = 0; k < G_N_ELEMENTS(names); k++)
            if (vals[k])
                g_string_append_printf(buf, "      <%s>%llu</%s>\n", names[k], vals[k], names[k]);
        g_string_append(buf, "    </device>\n");
    }
    g_string_append(buf, "  </blkiotune>\n");
}

/* ---- <numatune> ------------------------------------------------------------------------ */

static const char *const numa_modes[] = { "strict", "interleave", "preferred", "restrictive",
                                          NULL };

static gint memnode_cmp(gconstpointer a, gconstpointer b)
{
    const qv_domdef_memnode *x = *(qv_domdef_memnode *const *)a;
    const qv_domdef_memnode *y = *(qv_domdef_memnode *const *)b;
    return x->cellid < y->cellid ? -1 : x->cellid > y->cellid;
}

static int parse_memnode(qv_domdef_numatune *t, const xmlNode *n, qv_error **err)
{
    qv_domdef_memnode *m = g_new0(qv_domdef_memnode, 1);
    if (!t->memnodes)
        t->memnodes = g_ptr_array_new_with_free_func(memnode_free);
    g_ptr_array_add(t->memnodes, m);
    if (prop_required_uint(n, "cellid", &m->cellid, err) < 0)
        return -EINVAL;
    for (guint i = 0; i + 1 < t->memnodes->len; i++)
        if (((qv_domdef_memnode *)g_ptr_array_index(t->memnodes, i))->cellid == m->cellid)
            return qv_xml_attr_error(err, n, "cellid", "duplicate memnode for cell %u", m->cellid);
    if (qv_xml_prop_enum(n, "mode", numa_modes, &m->mode, err) < 0 ||
        prop_list(n, "nodeset", "NUMA node", &m->nodeset, err) < 0)
        return -EINVAL;
    if (!m->mode)
        qv_set_str(&m->mode, g_strdup("strict"));
    return 0;
}

static int parse_numa_memory(qv_domdef_numatune *t, const xmlNode *n, qv_error **err)
{
    static const char *const placements[] = { "static", "auto", NULL };
    if (t->has_memory)
        return qv_xml_error(err, n, "only one memory element is supported");
    t->has_memory = true;
    if (qv_xml_prop_enum(n, "mode", numa_modes, &t->mode, err) < 0 ||
        qv_xml_prop_enum(n, "placement", placements, &t->placement, err) < 0)
        return -EINVAL;
    if (!t->mode)
        qv_set_str(&t->mode, g_strdup("strict"));
    g_autofree char *ns = qv_xml_prop(n, "nodeset");
    if (ns && prop_list(n, "nodeset", "NUMA node", &t->nodeset, err) < 0)
        return -EINVAL;
    if (!t->placement)
        qv_set_str(&t->placement, g_strdup(t->nodeset ? "static" : "auto"));
    if (!strcmp(t->placement, "static") && !t->nodeset)
        return qv_xml_error(err, n, "a nodeset is required with placement 'static'");
    if (!strcmp(t->placement, "auto"))
        g_clear_pointer(&t->nodeset, g_free); /* libvirt ignores it */
    return 0;
}

int qv_parse_numatune(qv_domdef *def, const xmlNode *node, qv_error **err)
{
    qv_domdef_numatune *t = &def->numatune;
    g_clear_pointer(&t->memnodes, g_ptr_array_unref);
    g_clear_pointer(&t->mode, g_free);
    g_clear_pointer(&t->placement, g_free);
    g_clear_pointer(&t->nodeset, g_free);
    t->has_memory = false;
    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int r;
        if (name_is(c, "memory"))
            r = parse_numa_memory(t, c, err);
        else if (name_is(c, "memnode"))
            r = parse_memnode(t, c, err);
        else
            return qv_xml_error(err, c, "unknown element");
        if (r < 0)
            return r;
    }
    if (t->memnodes)
        g_ptr_array_sort(t->memnodes, memnode_cmp);
    return 0;
}

void qv_fmt_numatune(GString *buf, const qv_domdef *def)
{
    const qv_domdef_numatune *t = &def->numatune;
    if (!t->has_memory && !t->memnodes)
        return;
    g_string_append(buf, "  <numatune>\n");
    if (t->has_memory) {
        g_string_append(buf, "    <memory");
        qv_fmt_attr(buf, "mode", t->mode);
        if (t->nodeset)
            qv_fmt_attr(buf, "nodeset", t->nodeset);
        else
            qv_fmt_attr(buf, "placement", t->placement);
        g_string_append(buf, "/>\n");
    }
    for (guint i = 0; t->memnodes && i < t->memnodes->len; i++) {
        const qv_domdef_memnode *m = g_ptr_array_index(t->memnodes, i);
        g_string_append_printf(buf, "    <memnode cellid='%u'", m->cellid);
        qv_fmt_attr(buf, "mode", m->mode);
        qv_fmt_attr(buf, "nodeset", m->nodeset);
        g_string_append(buf, "/>\n");
    }
    g_string_append(buf, "  </numatune>\n");
}

/* ---- checks against the rest of the domain --------------------------------------------- */

int qv_tune_validate(const qv_domdef *def, qv_error **err)
{
    const qv_domdef_cputune *t = &def->cputune;
    unsigned int vcpus = def->vcpus ? def->vcpus : 1;
    for (guint i = 0; t->vcpupins && i < t->vcpupins->len; i++) {
        const qv_domdef_pin *p = g_ptr_array_index(t->vcpupins, i);
        if (p->id >= vcpus)
            return qv_error_set(err, -EINVAL, "%s/cputune/vcpupin: vCPU %u does not exist "
                                "(the domain has %u)", "/domain", p->id, vcpus);
    }
    /* with <iothreadids> the ids are arbitrary; without, they are 1..<iothreads> */
    for (guint i = 0; !def->raw_iothreadids && t->iothreadpins && i < t->iothreadpins->len; i++) {
        const qv_domdef_pin *p = g_ptr_array_index(t->iothreadpins, i);
        if (p->id < 1 || p->id > def->iothreads)
            return qv_error_set(err, -EINVAL, "/domain/cputune/iothreadpin: IOThread %u does "
                                "not exist (the domain has %u)", p->id, def->iothreads);
    }
    const qv_domdef_numatune *n = &def->numatune;
    unsigned int cells = def->cpu.cells ? def->cpu.cells->len : 0;
    for (guint i = 0; n->memnodes && i < n->memnodes->len; i++) {
        const qv_domdef_memnode *m = g_ptr_array_index(n->memnodes, i);
        if (m->cellid >= cells)
            return qv_error_set(err, -EINVAL, "/domain/numatune/memnode: cell %u does not "
                                "exist (the domain has %u guest NUMA cells)", m->cellid, cells);
        bool restrictive = !strcmp(m->mode, "restrictive");
        bool mem_restrictive = n->mode && !strcmp(n->mode, "restrictive");
        if (restrictive != mem_restrictive && (restrictive || n->has_memory))
            return qv_error_set(err, -EINVAL, "/domain/numatune/memnode: mode 'restrictive' "
                                "must be used in <memory> and every <memnode> together");
    }
    return 0;
}
