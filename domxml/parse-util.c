/* Small helpers for walking libxml2 nodes directly (no XPath compilation per
 * element) and for reporting errors with an XPath-like location. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "domxml-priv.h"

/* One parser context per thread, kept between documents: a fresh context
 * (its dictionary and stacks) costs about a seventh of parsing a 20-device
 * domain. The context is replaced once its dictionary has collected many
 * names, so a long-lived process does not accumulate them. */
#define QV_XML_DICT_MAX_NAMES 4096
static GPrivate parser_ctxt = G_PRIVATE_INIT((GDestroyNotify)xmlFreeParserCtxt);

/* Whether a document must be read through a libxml2 input buffer: one that
 * declares an encoding (only a buffer can be converted), or one that does not
 * start with '<' (a byte order mark or another encoding to detect). Any other
 * document is parsed in place, as xmlCtxtReadDoc does: xmlCtxtReadMemory
 * copies it into a new buffer of at least 8 KiB, a large allocation that
 * costs its own copy and makes glibc consolidate the fast bins that the
 * previous document's tree left, about a tenth of parsing a 20-device domain. */
static bool needs_input_buffer(const char *xml)
{
    if (xml[0] != '<')
        return true;
    if (strncmp(xml, "<?xml", 5) != 0)
        return false;
    const char *end = strstr(xml, "?>");
    size_t n = end ? (size_t)(end - xml) : strlen(xml);
    return memmem(xml, n, "encoding", 8) != NULL;
}

/* What xmlCtxtReadMemory/xmlCtxtReadDoc do, with the input chosen as above
 * and XML_SKIP_IDS, which no parse option sets: without a DTD the only IDs
 * are xml:id attributes, which nothing here looks up, and checking every
 * attribute for one (xmlIsID, xmlIsRef) cost about 1.5% of a parse. It also
 * keeps libxml2 from printing "ID x already defined" validity errors on
 * stderr, which XML_PARSE_NOERROR does not silence. *ret is NULL when the
 * document is not well-formed (the error is the context's last). */
static int parse_document(xmlParserCtxt *pctxt, const char *xml, size_t len, int opts, xmlDoc **ret)
{
    xmlCtxtReset(pctxt);
    xmlParserInput *in;
    if (needs_input_buffer(xml)) {
        xmlParserInputBuffer *buf = xmlParserInputBufferCreateMem(xml, (int)len, XML_CHAR_ENCODING_NONE);
        if (!buf)
            return -1;
        in = xmlNewIOInputStream(pctxt, buf, XML_CHAR_ENCODING_NONE);
        if (!in) {
            xmlFreeParserInputBuffer(buf);
            return -1;
        }
    } else {
        in = xmlNewStringInputStream(pctxt, (const xmlChar *)xml);
        if (!in)
            return -1;
    }
    inputPush(pctxt, in);
    xmlCtxtUseOptions(pctxt, opts);
    pctxt->loadsubset |= XML_SKIP_IDS;
    xmlParseDocument(pctxt);
    *ret = pctxt->myDoc;
    pctxt->myDoc = NULL;
    if (!pctxt->wellFormed) {
        xmlFreeDoc(*ret);
        *ret = NULL;
    }
    return 0;
}

int qv_xml_read(const char *xml, const char *what, xmlDoc **ret, qv_error **err)
{
    if (!xml)
        return qv_error_set(err, -EINVAL, "The %s XML is missing.", what);
    size_t len = strlen(xml);
    if (len > QV_DOMXML_MAX_SIZE)
        return qv_error_set(err, -E2BIG, "The %s XML is larger than %d bytes.", what, QV_DOMXML_MAX_SIZE);
    xmlParserCtxt *pctxt = g_private_get(&parser_ctxt);
    if (pctxt && xmlDictSize(pctxt->dict) > QV_XML_DICT_MAX_NAMES) {
        g_private_replace(&parser_ctxt, NULL);
        pctxt = NULL;
    }
    if (!pctxt) {
        pctxt = xmlNewParserCtxt();
        if (!pctxt)
            return qv_error_set(err, -ENOMEM, "Cannot create an XML parser.");
        g_private_set(&parser_ctxt, pctxt);
    }
    /* No network, no entity substitution, no DTD loading; a document type
     * declaration at all is refused below. Text nodes are only read, never
     * modified, so small ones may be stored compactly. */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS |
               XML_PARSE_COMPACT;
    xmlDoc *doc = NULL;
    if (parse_document(pctxt, xml, len, opts, &doc) < 0)
        return qv_error_set(err, -ENOMEM, "Cannot create an XML parser.");
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(pctxt);
        g_autofree char *msg = g_strstrip(g_strdup(e && e->message ? e->message : "unknown error"));
        return qv_error_set(err, -EINVAL, "The %s XML is not well-formed: line %d: %s.",
                            what, e ? e->line : 0, msg);
    }
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        return qv_error_set(err, -EINVAL, "The %s XML must not contain a DOCTYPE or entity declarations.", what);
    }
    *ret = doc;
    return 0;
}

char *qv_strdup_uint(const char *prefix, unsigned int n)
{
    char digits[16];
    char *p = digits + sizeof(digits);
    *--p = '\0';
    do
        *--p = (char)('0' + n % 10);
    while (n /= 10);
    /* Not g_strconcat: its varargs passes cost several times the copy. */
    size_t plen = strlen(prefix), dlen = (size_t)(digits + sizeof(digits) - p);   /* with the NUL */
    char *r = g_malloc(plen + dlen);
    memcpy(r, prefix, plen);
    memcpy(r + plen, p, dlen);
    return r;
}

char *qv_strcat2(const char *a, const char *b)
{
    if (!a || !b)   /* as g_strconcat(a, b, NULL): stops at the first NULL */
        return g_strdup(a);
    size_t la = strlen(a), lb = strlen(b);
    char *r = g_malloc(la + lb + 1);
    memcpy(r, a, la);
    memcpy(r + la, b, lb + 1);
    return r;
}

char *qv_strdup_uints(const char *prefix, char sep, size_t count, const unsigned int *v)
{
    size_t plen = strlen(prefix);
    char *r = g_malloc(plen + count * 11 + 1);
    char *o = r + plen;
    memcpy(r, prefix, plen);
    for (size_t i = 0; i < count; i++) {
        char digits[16];
        char *p = digits + sizeof(digits);
        unsigned int n = v[i];
        do
            *--p = (char)('0' + n % 10);
        while (n /= 10);
        if (i)
            *o++ = sep;
        size_t len = (size_t)(digits + sizeof(digits) - p);
        memcpy(o, p, len);
        o += len;
    }
    *o = '\0';
    return r;
}

char *qv_strdup_int(const char *prefix, int n)
{
    if (n >= 0)
        return qv_strdup_uint(prefix, (unsigned int)n);
    return g_strdup_printf("%s%d", prefix, n);
}

xmlNode *qv_xml_child(const xmlNode *node, const char *name)
{
    for (xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && qv_streq((const char *)c->name, name))
            return c;
    }
    return NULL;
}

const char *qv_xml_attr(const xmlNode *node, const char *name, char **tmp)
{
    for (xmlAttr *a = node->properties; a; a = a->next) {
        if (a->ns == NULL && qv_streq((const char *)a->name, name)) {
            if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next)
                return (const char *)a->children->content;
            if (!a->children)
                return "";
            xmlChar *v = xmlNodeGetContent((const xmlNode *)a);
            *tmp = g_strdup(v ? (const char *)v : "");
            xmlFree(v);
            return *tmp;
        }
    }
    return NULL;
}

char *qv_xml_prop(const xmlNode *node, const char *name)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    if (tmp)
        return g_steal_pointer(&tmp);
    return g_strdup(v);
}

/* The common case is one text child: copy its stripped span directly
 * instead of concatenating the content into a buffer first. */
char *qv_xml_text(const xmlNode *node)
{
    if (!node)
        return NULL;
    const xmlNode *c = node->children;
    if (!c)
        return g_strdup("");
    if (c->type == XML_TEXT_NODE && !c->next) {
        const char *b = c->content ? (const char *)c->content : "";
        while (g_ascii_isspace(*b))
            b++;
        const char *e = b + strlen(b);
        while (e > b && g_ascii_isspace(e[-1]))
            e--;
        return g_strndup(b, (gsize)(e - b));
    }
    xmlChar *v = xmlNodeGetContent(node);
    char *r = g_strstrip(g_strdup(v ? (const char *)v : ""));
    xmlFree(v);
    return r;
}

char *qv_xml_child_text(const xmlNode *node, const char *name)
{
    return qv_xml_text(qv_xml_child(node, name));
}

/* One dump buffer per thread, emptied between elements. A fresh buffer
 * grows to about 4 KiB as soon as libxml2 writes a text node into it: a
 * large-bin allocation on every document with metadata, which made glibc
 * consolidate its fast bins (the previous document's tree) mid-parse. A
 * buffer that a large element grew past QV_XML_DUMP_KEEP is not kept. */
#define QV_XML_DUMP_SIZE 8192
#define QV_XML_DUMP_KEEP (64 * 1024)
static GPrivate dump_buffer = G_PRIVATE_INIT((GDestroyNotify)xmlBufferFree);

/* The formatter writes a kept element one line at a time, each indented
 * to its depth (format.c, fmt_raw), so a newline inside the element's own
 * content (mixed text, a comment) would gain that indentation on every
 * save, and the XML would never format the same twice. Before the dump,
 * such content is made to have no newline the indentation can change: a
 * text node's newlines become character references (&#10;, the same
 * text when read back), and a comment's or processing instruction's lines
 * lose their leading blanks (the indentation a save adds is taken off
 * again). Only newlines from libxml2's own formatting remain. */
static void dump_canonical(xmlNode *node)
{
    for (xmlNode *c = node->children, *next; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE) {
            dump_canonical(c);
        } else if (c->type == XML_TEXT_NODE && c->content && strchr((const char *)c->content, '\n')) {
            /* c's neighbours are not text (the parser joins adjacent text),
             * so libxml2 merges none of the new nodes into them. */
            g_auto(GStrv) parts = g_strsplit((const char *)c->content, "\n", -1);
            xmlDoc *doc = c->doc;
            xmlUnlinkNode(c);
            xmlFreeNode(c);
            for (size_t i = 0; parts[i]; i++) {
                xmlNode *pieces[2] = { i ? xmlNewCharRef(doc, BAD_CAST "&#10;") : NULL,
                                       *parts[i] ? xmlNewDocText(doc, BAD_CAST parts[i]) : NULL };
                for (int k = 0; k < 2; k++) {
                    if (pieces[k] && next)
                        xmlAddPrevSibling(next, pieces[k]);
                    else if (pieces[k])
                        xmlAddChild(node, pieces[k]);
                }
            }
        } else if ((c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) && c->content &&
                   strchr((const char *)c->content, '\n')) {
            GString *t = g_string_new(NULL);
            for (const char *p = (const char *)c->content; *p; p++) {
                g_string_append_c(t, *p);
                if (*p == '\n')
                    while (p[1] == ' ' || p[1] == '\t')
                        p++;
            }
            xmlNodeSetContent(c, BAD_CAST t->str);
            g_string_free(t, TRUE);
        }
    }
}

char *qv_xml_dump(xmlNode *node)
{
    dump_canonical(node);
    xmlBuffer *buf = g_private_get(&dump_buffer);
    if (!buf) {
        buf = xmlBufferCreateSize(QV_XML_DUMP_SIZE);
        if (!buf)
            return NULL;
        g_private_set(&dump_buffer, buf);
    }
    xmlBufferEmpty(buf);
    xmlNodeDump(buf, node->doc, node, 0, 1);
    char *r = g_strdup((const char *)xmlBufferContent(buf));
    if (xmlBufferLength(buf) > QV_XML_DUMP_KEEP)
        g_private_replace(&dump_buffer, NULL);
    return r;
}

unsigned int qv_xml_index(const xmlNode *node)
{
    unsigned int idx = 1;
    for (xmlNode *p = node->prev; p; p = p->prev) {
        if (p->type == XML_ELEMENT_NODE && strcmp((const char *)p->name, (const char *)node->name) == 0)
            idx++;
    }
    return idx;
}

static bool has_same_name_sibling(const xmlNode *node)
{
    if (!node->parent || node->parent->type != XML_ELEMENT_NODE)
        return false;
    for (xmlNode *c = node->parent->children; c; c = c->next) {
        if (c != node && c->type == XML_ELEMENT_NODE &&
            strcmp((const char *)c->name, (const char *)node->name) == 0)
            return true;
    }
    return false;
}

/* Devices always get an index ("disk[1]") so the location is unambiguous
 * when the user adds a second one; other elements only when repeated. */
char *qv_xml_path(const xmlNode *node)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    for (const xmlNode *n = node; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        bool in_devices = n->parent && n->parent->type == XML_ELEMENT_NODE &&
                          strcmp((const char *)n->parent->name, "devices") == 0;
        /* A namespaced element shows its prefix (qemu:commandline), as written. */
        g_autofree char *name = n->ns && n->ns->prefix
            ? g_strdup_printf("%s:%s", n->ns->prefix, n->name) : g_strdup((const char *)n->name);
        if (in_devices || has_same_name_sibling(n))
            g_ptr_array_insert(parts, 0, g_strdup_printf("%s[%u]", name, qv_xml_index(n)));
        else
            g_ptr_array_insert(parts, 0, g_steal_pointer(&name));
    }
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < parts->len; i++) {
        g_string_append_c(s, '/');
        g_string_append(s, g_ptr_array_index(parts, i));
    }
    g_ptr_array_unref(parts);
    return g_string_free(s, FALSE);
}

int qv_xml_error(qv_error **err, const xmlNode *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *path = qv_xml_path(node);
    return qv_error_set(err, -EINVAL, "%s: %s", path, msg);
}

int qv_xml_attr_error(qv_error **err, const xmlNode *node, const char *attr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *path = qv_xml_path(node);
    return qv_error_set(err, -EINVAL, "%s/@%s: %s", path, attr, msg);
}

int qv_parse_uint_str(const char *s, int base, unsigned long long max, unsigned long long *out)
{
    if (!s)
        return -EINVAL;
    while (g_ascii_isspace(*s))
        s++;
    if (!*s || *s == '-' || *s == '+')
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || end == s)
        return -EINVAL;
    while (g_ascii_isspace(*end))
        end++;
    if (*end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int qv_xml_prop_ull(const xmlNode *node, const char *name, unsigned long long *out, qv_error **err)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    if (!v)
        return 0;
    if (qv_parse_uint_str(v, 0, ULLONG_MAX, out) < 0)
        return qv_xml_attr_error(err, node, name, "'%s' is not a non-negative integer", v);
    return 1;
}

int qv_xml_prop_uint(const xmlNode *node, const char *name, unsigned int *out, qv_error **err)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    unsigned long long x;
    if (!v)
        return 0;
    if (qv_parse_uint_str(v, 0, UINT_MAX, &x) < 0)
        return qv_xml_attr_error(err, node, name, "'%s' is not a non-negative integer", v);
    *out = (unsigned int)x;
    return 1;
}

int qv_xml_prop_int(const xmlNode *node, const char *name, int *out, qv_error **err)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    bool hex = g_str_has_prefix(v, "0x") || g_str_has_prefix(v, "0X");
    long x = strtol(v, &end, hex ? 16 : 10);
    if (errno || end == v || *end || x < INT_MIN || x > INT_MAX)
        return qv_xml_attr_error(err, node, name, "'%s' is not an integer", v);
    *out = (int)x;
    return 1;
}

int qv_xml_prop_tristate(const xmlNode *node, const char *name, int *out, qv_error **err)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    if (!v)
        return 0;
    if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
        *out = QV_TRI_ON;
    else if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
        *out = QV_TRI_OFF;
    else
        return qv_xml_attr_error(err, node, name, "'%s' is not one of yes, no, on, off", v);
    return 1;
}

int qv_xml_prop_enum(const xmlNode *node, const char *name, const char *const *allowed,
                     char **out, qv_error **err)
{
    g_autofree char *tmp = NULL;
    const char *v = qv_xml_attr(node, name, &tmp);
    if (!v)
        return 0;
    for (size_t i = 0; allowed[i]; i++) {
        if (qv_streq(allowed[i], v)) {
            g_free(*out);
            *out = g_strdup(allowed[i]);
            return 1;
        }
    }
    g_autofree char *list = g_strjoinv(", ", (char **)allowed);
    return qv_xml_attr_error(err, node, name, "unsupported value '%s' (expected one of %s)", v, list);
}

/* libvirt's scaled integers: a number with a unit attribute. Decimal units
 * (KB, MB, ...) are powers of 1000, binary ones (k, KiB, M, MiB, ...) of
 * 1024; the result is rounded up to whole KiB. */
int qv_xml_scaled_kib(const xmlNode *node, const char *default_unit, unsigned long long *kib,
                      qv_error **err)
{
    unsigned long long bytes = 0;
    if (qv_xml_scaled_bytes(node, default_unit, &bytes, err) < 0)
        return -EINVAL;
    *kib = bytes / 1024 + (bytes % 1024 ? 1 : 0);
    return 0;
}

int qv_xml_scaled_bytes(const xmlNode *node, const char *default_unit, unsigned long long *out,
                        qv_error **err)
{
    g_autofree char *text = qv_xml_text(node);
    g_autofree char *unit = qv_xml_prop(node, "unit");
    unsigned long long v;
    if (qv_parse_uint_str(text, 10, ULLONG_MAX, &v) < 0)
        return qv_xml_error(err, node, "'%s' is not a non-negative integer", text);
    const char *u = unit ? unit : default_unit;
    static const struct { const char *name; unsigned long long scale; } units[] = {
        { "b", 1 }, { "bytes", 1 },
        { "KB", 1000ULL }, { "k", 1024ULL }, { "K", 1024ULL }, { "KiB", 1024ULL },
        { "MB", 1000000ULL }, { "m", 1048576ULL }, { "M", 1048576ULL }, { "MiB", 1048576ULL },
        { "GB", 1000000000ULL }, { "g", 1073741824ULL }, { "G", 1073741824ULL }, { "GiB", 1073741824ULL },
        { "TB", 1000000000000ULL }, { "t", 1099511627776ULL }, { "T", 1099511627776ULL },
        { "TiB", 1099511627776ULL },
        { "PB", 1000000000000000ULL }, { "p", 1125899906842624ULL }, { "P", 1125899906842624ULL },
        { "PiB", 1125899906842624ULL },
        { "EB", 1000000000000000000ULL }, { "e", 1152921504606846976ULL },
        { "E", 1152921504606846976ULL }, { "EiB", 1152921504606846976ULL },
    };
    unsigned long long scale = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (strcmp(units[i].name, u) == 0) {
            scale = units[i].scale;
            break;
        }
    }
    if (!scale)
        return qv_xml_attr_error(err, node, "unit", "unknown unit '%s'", u);
    /* Limit like libvirt: the byte count must fit in 63 bits... and in KiB
     * must fit what QEMU accepts; we cap bytes at 2^63-1. */
    if (v > (unsigned long long)LLONG_MAX / scale)
        return qv_xml_error(err, node, "value %llu %s is too large", v, u);
    *out = v * scale;
    return 0;
}
