/* The QEMU 7.2 command-line builder: machine-level options. Devices are
 * added by cmdline-<class>.c. -device, -blockdev, -netdev and -object values
 * are json-c objects serialised as JSON; every other key=value option goes
 * through qv_opt_append(), the one comma-escaping helper. */
#include <assert.h>
#include <stdarg.h>
#include <string.h>

#include "domxml-priv.h"

char *qv_qemu_opt_escape(const char *value)
{
    GString *s = g_string_sized_new(strlen(value) + 8);
    for (const char *p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(s, ',');
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

void qv_opt_append(GString *s, const char *key, const char *value)
{
    if (s->len)
        g_string_append_c(s, ',');
    g_string_append(s, key);
    g_string_append_c(s, '=');
    for (const char *p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(s, ',');
        g_string_append_c(s, *p);
    }
}

void qv_cmdline_add(qv_cmdline *cl, const char *arg)
{
    g_ptr_array_add(cl->argv, g_strdup(arg));
}

void qv_cmdline_add2(qv_cmdline *cl, const char *opt, const char *value)
{
    qv_cmdline_add(cl, opt);
    qv_cmdline_add(cl, value);
}

void qv_cmdline_addf(qv_cmdline *cl, const char *opt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qv_cmdline_add(cl, opt);
    g_ptr_array_add(cl->argv, v);
}

/* A JSON object value under construction. For the command line its text is
 * written as members are set, straight into the buffer that becomes the
 * argument: building a json-c object (a hash table, one allocation per
 * member) only to serialise and free it was about half the cost of a
 * command line. A hotplug capture needs the QMP arguments as json-c
 * objects, so there the same calls build one. Members come out in the order
 * they are set, as json-c's would; no builder sets a key twice. */
#define QV_JOBJ_MAX_DEPTH 4
struct qv_jobj {
    bool json;                  /* hotplug capture: building json-c objects */
    bool first;                 /* the innermost open object has no member yet */
    int depth;                  /* open nested objects */
    char *buf;                  /* text: the JSON so far */
    size_t len, cap;
    json_object *stack[QV_JOBJ_MAX_DEPTH + 1];   /* json-c: outermost first */
};

/* Escaped length of each byte in a JSON string (json-c's escapes with
 * JSON_C_TO_STRING_NOSLASHESCAPE): 1 as is, 2 for \x, 6 for \u00XX. */
static const unsigned char json_esc_len[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Writes v as a JSON string literal at o, which has room for
 * 6 * strlen(v) + 2 bytes; returns the end. */
static char *json_write_string(char *o, const char *v)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    const unsigned char *p = (const unsigned char *)v;
    for (;;) {
        /* Runs of bytes written as they are are copied at once; the NUL
         * ends a run (its escaped length is not 1). */
        const unsigned char *run = p;
        while (json_esc_len[*p] == 1)
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (!*p)
            break;
        char esc;
        switch (*p) {
        case '"': esc = '"'; break;
        case '\\': esc = '\\'; break;
        case '\b': esc = 'b'; break;
        case '\f': esc = 'f'; break;
        case '\n': esc = 'n'; break;
        case '\r': esc = 'r'; break;
        case '\t': esc = 't'; break;
        default:
            memcpy(o, "\\u00", 4);
            o[4] = hex[*p >> 4];
            o[5] = hex[*p & 0xf];
            o += 6;
            p++;
            continue;
        }
        *o++ = '\\';
        *o++ = esc;
        p++;
    }
    *o++ = '"';
    return o;
}

/* Length of v as a JSON string literal, quotes included. */
static size_t json_string_len(const char *v)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        n += json_esc_len[*p];
    return n;
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *int_digits(char *end, gint64 v)
{
    guint64 u = v < 0 ? -(guint64)v : (guint64)v;
    char *p = end;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

qv_jobj *qv_jobj_new(const qv_cmdline *cl)
{
    qv_jobj *o = g_new(qv_jobj, 1);
    o->json = cl->capture != NULL;
    o->first = true;
    o->depth = 0;
    if (o->json) {
        o->buf = NULL;
        o->len = o->cap = 0;
        o->stack[0] = json_object_new_object();
    } else {
        o->cap = 256;
        o->buf = g_malloc(o->cap);
        o->buf[0] = '{';
        o->len = 1;
    }
    return o;
}

void qv_jobj_free(qv_jobj *o)
{
    if (!o)
        return;
    if (o->json)
        json_object_put(o->stack[0]);
    g_free(o->buf);
    g_free(o);
}

/* Room for n more bytes of text. */
static char *jobj_reserve(qv_jobj *o, size_t n)
{
    if (o->len + n > o->cap) {
        while (o->len + n > o->cap)
            o->cap *= 2;
        o->buf = g_realloc(o->buf, o->cap);
    }
    return o->buf + o->len;
}

/* Writes ["," ] "key": with room for extra more bytes after it. */
static char *jobj_key(qv_jobj *o, const char *key, size_t extra)
{
    char *p = jobj_reserve(o, 1 + 6 * strlen(key) + 3 + extra);
    if (!o->first)
        *p++ = ',';
    o->first = false;
    p = json_write_string(p, key);
    *p++ = ':';
    return p;
}

static void json_add(qv_jobj *o, const char *key, json_object *v)
{
    json_object_object_add_ex(o->stack[o->depth], key, v, JSON_C_OBJECT_KEY_IS_CONSTANT);
}

/* Keys are string literals, so json-c need not copy them. */
void qv_json_set_str(qv_jobj *o, const char *key, const char *value)
{
    if (!value)
        return;
    if (o->json) {
        json_add(o, key, json_object_new_string(value));
        return;
    }
    size_t n = strlen(value);
    char *p = jobj_key(o, key, 6 * n + 2);
    p = json_write_string(p, value);
    o->len = (size_t)(p - o->buf);
}

void qv_json_set_int(qv_jobj *o, const char *key, long long value)
{
    if (o->json) {
        json_add(o, key, json_object_new_int64(value));
        return;
    }
    char digits[24];
    char *d = int_digits(digits + sizeof(digits), value);
    size_t n = (size_t)(digits + sizeof(digits) - d);
    char *p = jobj_key(o, key, n);
    memcpy(p, d, n);
    o->len = (size_t)(p + n - o->buf);
}

static void jobj_literal(qv_jobj *o, const char *key, const char *lit)
{
    size_t n = strlen(lit);
    char *p = jobj_key(o, key, n);
    memcpy(p, lit, n);
    o->len = (size_t)(p + n - o->buf);
}

void qv_json_set_bool(qv_jobj *o, const char *key, bool value)
{
    if (o->json)
        json_add(o, key, json_object_new_boolean(value));
    else
        jobj_literal(o, key, value ? "true" : "false");
}

void qv_json_set_null(qv_jobj *o, const char *key)
{
    if (o->json)
        json_add(o, key, NULL);
    else
        jobj_literal(o, key, "null");
}

void qv_json_set_uint_list(qv_jobj *o, const char *key, const unsigned int *v, size_t n)
{
    if (o->json) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, json_object_new_int64(v[i]));
        json_add(o, key, a);
        return;
    }
    g_autoptr(GString) lit = g_string_new("[");
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(lit, "%s%u", i ? "," : "", v[i]);
    g_string_append_c(lit, ']');
    jobj_literal(o, key, lit->str);
}

void qv_json_open(qv_jobj *o, const char *key)
{
    g_assert(o->depth < QV_JOBJ_MAX_DEPTH);
    if (o->json) {
        json_object *child = json_object_new_object();
        json_add(o, key, child);
        o->stack[++o->depth] = child;
        return;
    }
    o->depth++;
    char *p = jobj_key(o, key, 1);
    *p++ = '{';
    o->len = (size_t)(p - o->buf);
    o->first = true;
}

void qv_json_set_str_list(qv_jobj *o, const char *key, const char *const *v, size_t n)
{
    if (o->json) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(a, json_object_new_string(v[i]));
        json_add(o, key, a);
        return;
    }
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += json_string_len(v[i]) + 1;
    char *p = jobj_key(o, key, len);
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = json_write_string(p, v[i]);
    }
    *p++ = ']';
    o->len = (size_t)(p - o->buf);
}

void qv_json_open_list(qv_jobj *o, const char *key)
{
    g_assert(o->depth < QV_JOBJ_MAX_DEPTH);
    if (o->json) {
        json_object *child = json_object_new_array();
        json_add(o, key, child);
        o->stack[++o->depth] = child;
        return;
    }
    o->depth++;
    char *p = jobj_key(o, key, 1);
    *p++ = '[';
    o->len = (size_t)(p - o->buf);
    o->first = true;
}

void qv_json_open_item(qv_jobj *o)
{
    g_assert(o->depth < QV_JOBJ_MAX_DEPTH);
    if (o->json) {
        json_object *child = json_object_new_object();
        json_object_array_add(o->stack[o->depth], child);
        o->stack[++o->depth] = child;
        return;
    }
    o->depth++;
    char *p = jobj_reserve(o, 2);
    if (!o->first)
        *p++ = ',';
    *p++ = '{';
    o->len = (size_t)(p - o->buf);
    o->first = true;
}

void qv_json_close_list(qv_jobj *o)
{
    g_assert(o->depth > 0);
    o->depth--;
    o->first = false;
    if (o->json)
        return;
    *jobj_reserve(o, 1) = ']';
    o->len++;
}

void qv_json_close(qv_jobj *o)
{
    g_assert(o->depth > 0);
    o->depth--;
    o->first = false;
    if (o->json)
        return;
    *jobj_reserve(o, 1) = '}';
    o->len++;
}

void qv_cmdline_add_json(qv_cmdline *cl, const char *opt, qv_jobj *obj)
{
    g_assert(obj->depth == 0 && obj->json == (cl->capture != NULL));
    if (cl->capture) {
        qv_cmdline_capture(cl, opt, g_steal_pointer(&obj->stack[0]));
        qv_jobj_free(obj);
        return;
    }
    char *p = jobj_reserve(obj, 2);
    p[0] = '}';
    p[1] = '\0';
    qv_cmdline_add(cl, opt);
    g_ptr_array_add(cl->argv, g_steal_pointer(&obj->buf));
    g_free(obj);
}

void qv_cmdline_capture(qv_cmdline *cl, const char *opt, json_object *args)
{
    qv_hotplug_item *it = g_new0(qv_hotplug_item, 1);
    it->opt = g_strdup(opt);
    it->args = args;
    it->fd = -1;
    g_ptr_array_add(cl->capture, it);
}

void qv_cmdline_storage_access(qv_jobj *node, const char *file, bool writes)
{
    if (!file || !g_str_has_prefix(file, "/dev/fdset/"))
        qv_json_set_bool(node, "auto-read-only", true);
    else if (!writes)
        qv_json_set_bool(node, "read-only", true);
}

/* A file QEMU opens with plain open(): with an opener, the fd it gives,
 * as QEMU reaches its own copy ("/proc/self/fd/N": no folder on the way
 * is searched), else the path. */
static char *inherited_file(qv_cmdline *cl, const char *path, qv_error **err)
{
    const qv_file_opener *files = cl->ctx ? cl->ctx->files : NULL;
    if (!files || !files->open)
        return g_strdup(path);
    int fd = files->open(files->data, path, O_RDONLY, err);
    return fd < 0 ? NULL : g_strdup_printf("/proc/self/fd/%d", fd);
}

int qv_cmdline_fd(qv_cmdline *cl, const char *path, int flags, const char *id, char **ret,
                  qv_error **err)
{
    *ret = NULL;
    const qv_file_opener *files = cl->ctx ? cl->ctx->files : NULL;
    if (!files || !files->open)
        return 0;
    int fd = files->open(files->data, path, flags, err);
    if (fd < 0)
        return fd;
    if (!cl->capture) {
        *ret = g_strdup_printf("%d", fd);
        return 0;
    }
    *ret = g_strdup_printf("fd-%s", id);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "fdname", json_object_new_string(*ret));
    qv_cmdline_capture(cl, "-getfd", a);
    ((qv_hotplug_item *)g_ptr_array_index(cl->capture, cl->capture->len - 1))->fd = fd;
    return 0;
}

int qv_cmdline_socket(qv_cmdline *cl, const char *path, const char *id, bool listen, char **ret,
                      qv_error **err)
{
    *ret = NULL;
    const qv_file_opener *files = cl->ctx ? cl->ctx->files : NULL;
    int (*make)(void *, const char *, qv_error **) = !files ? NULL
                                                     : listen ? files->listen : files->connect;
    if (!make)
        return 0;
    int fd = make(files->data, path, err);
    if (fd < 0)
        return fd;
    if (!cl->capture) {
        *ret = g_strdup_printf("%d", fd);
        return 0;
    }
    *ret = g_strdup_printf("%s-%s", listen ? "listen" : "connect", id);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "fdname", json_object_new_string(*ret));
    qv_cmdline_capture(cl, "-getfd", a);
    ((qv_hotplug_item *)g_ptr_array_index(cl->capture, cl->capture->len - 1))->fd = fd;
    return 0;
}

int qv_file_opener_placeholder(void *data, const char *path, int flags, qv_error **err)
{
    (void)path;
    (void)flags;
    (void)err;
    return (*(int *)data)++;
}

int qv_file_listen_placeholder(void *data, const char *path, qv_error **err)
{
    return qv_file_opener_placeholder(data, path, 0, err);
}

char *qv_cmdline_file(qv_cmdline *cl, const char *path, int flags, const char *opaque,
                      qv_error **err)
{
    const qv_file_opener *files = cl->ctx ? cl->ctx->files : NULL;
    if (!files || !files->open)
        return g_strdup(path);
    if (!cl->next_fdset)
        cl->next_fdset = MAX(files->first_fdset, 1u);
    unsigned int set = cl->next_fdset++;
    /* One fd: a second open file description of the same image in the set
     * would take image locks against the first. */
    int fd = files->open(files->data, path, flags, err);
    if (fd < 0)
        return NULL;
    if (cl->capture) {
        json_object *a = json_object_new_object();
        json_object_object_add(a, "fdset-id", json_object_new_int64(set));
        json_object_object_add(a, "opaque", json_object_new_string(opaque));
        qv_cmdline_capture(cl, "-add-fd", a);
        ((qv_hotplug_item *)g_ptr_array_index(cl->capture, cl->capture->len - 1))->fd = fd;
    } else {
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "fd=%d,set=%u", fd, set);
        qv_opt_append(s, "opaque", opaque);
        qv_cmdline_add(cl, "-add-fd");
        g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    }
    return g_strdup_printf("/dev/fdset/%u", set);
}

/* Doubles and arrays are not built here, but spelt like json-c if they
 * appear. */
static const char *json_other(json_object *v)
{
    return json_object_to_json_string_ext(v, QV_JSON_FLAGS);
}

/* Exact length of v's serialisation, so it is written in one pass into one
 * allocation. */
static size_t json_len(json_object *v)
{
    char digits[24];
    switch (json_object_get_type(v)) {
    case json_type_null:
        return 4;
    case json_type_boolean:
        return json_object_get_boolean(v) ? 4 : 5;
    case json_type_int:
        return (size_t)(digits + sizeof(digits) - int_digits(digits + sizeof(digits), json_object_get_int64(v)));
    case json_type_string:
        return json_string_len(json_object_get_string(v));
    case json_type_object: {
        size_t n = 2;
        bool first = true;
        json_object_object_foreach(v, key, val) {
            n += (first ? 0 : 1) + json_string_len(key) + 1 + json_len(val);
            first = false;
        }
        return n;
    }
    default:
        return strlen(json_other(v));
    }
}

static char *json_write(char *o, json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        memcpy(o, "null", 4);
        return o + 4;
    case json_type_boolean:
        if (json_object_get_boolean(v)) {
            memcpy(o, "true", 4);
            return o + 4;
        }
        memcpy(o, "false", 5);
        return o + 5;
    case json_type_int: {
        char digits[24];
        char *p = int_digits(digits + sizeof(digits), json_object_get_int64(v));
        size_t n = (size_t)(digits + sizeof(digits) - p);
        memcpy(o, p, n);
        return o + n;
    }
    case json_type_string:
        return json_write_string(o, json_object_get_string(v));
    case json_type_object: {
        bool first = true;
        *o++ = '{';
        json_object_object_foreach(v, key, val) {
            if (!first)
                *o++ = ',';
            first = false;
            o = json_write_string(o, key);
            *o++ = ':';
            o = json_write(o, val);
        }
        *o++ = '}';
        return o;
    }
    default: {
        const char *s = json_other(v);
        size_t n = strlen(s);
        memcpy(o, s, n);
        return o + n;
    }
    }
}

/* json-c's plain output of obj (QV_JSON_FLAGS), written directly with the
 * same string escaper as the command-line writer: json-c's own serialiser
 * goes through a printbuf and printf for every value. One pass measures,
 * the second writes into an allocation of exactly that size. */
char *qv_json_to_string(json_object *obj)
{
    size_t n = json_len(obj);
    char *s = g_malloc(n + 1);
    char *end = json_write(s, obj);
    g_assert((size_t)(end - s) == n);
    *end = '\0';
    return s;
}

qv_jobj *qv_json_device(const qv_cmdline *cl, const char *driver, const char *id)
{
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "driver", driver);
    qv_json_set_str(o, "id", id);
    return o;
}

/* Writes "0x" and v in lower-case hex at p; returns the end. */
static char *write_hex(char *p, unsigned int v)
{
    static const char hex[] = "0123456789abcdef";
    char digits[8], *d = digits + sizeof(digits);
    do
        *--d = hex[v & 0xf];
    while (v >>= 4);
    *p++ = '0';
    *p++ = 'x';
    size_t n = (size_t)(digits + sizeof(digits) - d);
    memcpy(p, d, n);
    return p + n;
}

static const qv_domdef_controller *pci_bus_controller(const qv_domdef *def, unsigned int bus)
{
    return qv_domdef_find_controller(def, QV_CTRL_PCI, bus);
}

int qv_cmdline_set_address(qv_cmdline *cl, qv_jobj *dev, const qv_domdef_addr *addr,
                           const char *what, qv_error **err)
{
    switch (addr->type) {
    case QV_ADDR_PCI: {
        const qv_domdef_controller *bus = pci_bus_controller(cl->def, addr->bus);
        if (!bus)
            return qv_error_set(err, -EINVAL, "The %s is on PCI bus %u, but no PCI controller has index %u.",
                                what, addr->bus, addr->bus);
        if (addr->bus == 0)
            qv_json_set_str(dev, "bus", cl->q35 ? "pcie.0" : "pci.0");
        else {
            g_autofree char *b = qv_strdup_uint("pci.", addr->bus);
            qv_json_set_str(dev, "bus", b);
        }
        /* "0x<slot>" or "0x<slot>.0x<function>", without printf. */
        char a[32];
        char *p = write_hex(a, addr->slot);
        if (addr->function) {
            *p++ = '.';
            p = write_hex(p, addr->function);
        }
        *p = '\0';
        qv_json_set_str(dev, "addr", a);
        if (addr->multifunction == QV_TRI_ON)
            qv_json_set_bool(dev, "multifunction", true);
        return 0;
    }
    case QV_ADDR_USB: {
        const qv_domdef_controller *c = qv_domdef_find_controller(cl->def, QV_CTRL_USB, addr->bus);
        if (!c)
            return qv_error_set(err, -EINVAL, "The %s is on USB bus %u, which does not exist.", what, addr->bus);
        g_autofree char *b = qv_strcat2(c->alias, ".0");
        qv_json_set_str(dev, "bus", b);
        qv_json_set_str(dev, "port", addr->usb_port);
        return 0;
    }
    case QV_ADDR_NONE:
        return 0;
    default:
        return qv_error_set(err, -EINVAL, "The %s has an address type it cannot use.", what);
    }
}

/* Appends v in decimal: printf was a noticeable share of building the
 * short key=value options. */
static void append_ull(GString *s, unsigned long long v)
{
    char digits[24], *p = digits + sizeof(digits);
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    g_string_append_len(s, p, digits + sizeof(digits) - p);
}

static const char *cpu_feature_sign(const char *policy)
{
    if (!strcmp(policy, "disable") || !strcmp(policy, "forbid"))
        return "-";
    return "+";
}

static int add_cpu(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    const qv_domdef_cpu *cpu = &def->cpu;
    GString *s = g_string_new(NULL);
    if (!cpu->mode) {
        g_string_append(s, "qemu64");
    } else if (!strcmp(cpu->mode, "host-passthrough")) {
        if (!cl->kvm) {
            g_string_free(s, TRUE);
            return qv_error_set(err, -EINVAL, "/domain/cpu: host-passthrough needs a KVM domain (type='kvm'); use mode='maximum' with TCG.");
        }
        g_string_append(s, "host");
        if (cpu->migratable && !strcmp(cpu->migratable, "off"))
            g_string_append(s, ",migratable=off");
    } else if (!strcmp(cpu->mode, "host-model")) {
        g_string_append(s, cl->kvm ? "host" : "max");
    } else if (!strcmp(cpu->mode, "maximum")) {
        g_string_append(s, "max");
    } else {
        const char *model = cpu->model ? cpu->model : "qemu64";
        if (!*model || strpbrk(model, ", ="))
            return qv_error_set(err, -EINVAL, "/domain/cpu/model: invalid CPU model '%s'.", model);
        g_string_append(s, model);
    }
    for (guint i = 0; i < cpu->features->len; i++) {
        qv_domdef_cpu_feature *f = g_ptr_array_index(cpu->features, i);
        if (!strcmp(f->policy, "optional"))
            continue;
        g_string_append_printf(s, ",%s%s", cpu_feature_sign(f->policy), f->name);
    }
    const qv_domdef_features *ft = &def->features;
    if (ft->pvspinlock_set)
        g_string_append(s, ft->pvspinlock == QV_TRI_OFF ? ",kvm-pv-unhalt=off" : ",kvm-pv-unhalt=on");
    if (ft->pmu_set)
        g_string_append(s, ft->pmu == QV_TRI_OFF ? ",pmu=off" : ",pmu=on");
    if (ft->apic_eoi_set)
        g_string_append(s, ft->apic_eoi == QV_TRI_OFF ? ",kvm-pv-eoi=off" : ",kvm-pv-eoi=on");
    for (guint i = 0; i < ft->kvm_features->len; i++) {
        qv_domdef_feature *f = g_ptr_array_index(ft->kvm_features, i);
        bool on = f->state != QV_TRI_OFF;
        if (!strcmp(f->name, "hidden") && on)
            g_string_append(s, ",kvm=off");
        else if (!strcmp(f->name, "poll-control"))
            g_string_append_printf(s, ",kvm-poll-control=%s", on ? "on" : "off");
        else if (!strcmp(f->name, "pv-ipi"))
            g_string_append_printf(s, ",kvm-pv-ipi=%s", on ? "on" : "off");
        else if (!strcmp(f->name, "hint-dedicated"))
            g_string_append_printf(s, ",kvm-hint-dedicated=%s", on ? "on" : "off");
    }
    /* hv-time first, where libvirt writes it. */
    for (guint i = 0; i < def->timers->len; i++) {
        qv_domdef_timer *t = g_ptr_array_index(def->timers, i);
        if (!strcmp(t->name, "hypervclock") && t->present == QV_TRI_ON)
            g_string_append(s, ",hv-time=on");
    }
    if (ft->hyperv) {
        if (ft->hyperv_mode && !strcmp(ft->hyperv_mode, "passthrough"))
            g_string_append(s, ",hv-passthrough=on");
        for (guint i = 0; i < ft->hyperv_features->len; i++) {
            qv_domdef_feature *f = g_ptr_array_index(ft->hyperv_features, i);
            if (f->state == QV_TRI_OFF)
                continue;
            if (!strcmp(f->name, "vpindex") && !cl->kvm) {
                /* QEMU 7.2's TCG refuses hv-vpindex ("kernel doesn't allow setting HyperV VP_INDEX"). */
                g_string_free(s, TRUE);
                return qv_error_set(err, -EINVAL, "/domain/features/hyperv/vpindex: Hyper-V VP index needs a KVM domain (type='kvm'); QEMU cannot provide it with TCG.");
            }
            if (!strcmp(f->name, "spinlocks"))
                g_string_append_printf(s, ",hv-spinlocks=0x%x", f->value ? (unsigned)g_ascii_strtoull(f->value, NULL, 0) : 0xfff);
            else if (!strcmp(f->name, "vendor_id")) {
                if (f->value) {
                    g_autofree char *e = qv_qemu_opt_escape(f->value);
                    g_string_append_printf(s, ",hv-vendor-id=%s", e);
                }
            } else {
                /* libvirt's names, with QEMU's dashes: emsr_bitmap -> hv-emsr-bitmap. */
                g_autofree char *prop = g_strdelimit(g_strdup(f->name), "_", '-');
                g_string_append_printf(s, ",hv-%s=on", prop);
            }
            if (!strcmp(f->name, "stimer") && f->direct == QV_TRI_ON)
                g_string_append(s, ",hv-stimer-direct=on");
            if (!strcmp(f->name, "tlbflush") && f->direct == QV_TRI_ON)
                g_string_append(s, ",hv-tlbflush-direct=on");
            if (!strcmp(f->name, "tlbflush") && f->extended == QV_TRI_ON)
                g_string_append(s, ",hv-tlbflush-ext=on");
        }
    }
    for (guint i = 0; i < def->timers->len; i++) {
        qv_domdef_timer *t = g_ptr_array_index(def->timers, i);
        if (!strcmp(t->name, "kvmclock") && t->present)
            g_string_append(s, t->present == QV_TRI_OFF ? ",kvmclock=off" : ",kvmclock=on");
    }
    for (guint i = 0; i < def->panics->len; i++) {
        qv_domdef_panic *p = g_ptr_array_index(def->panics, i);
        if (!strcmp(p->model, "hyperv"))
            g_string_append(s, ",hv-crash=on");
    }
    /* <cache> as libvirt 9.0 maps it: emulate gives the guest an L3 cache,
     * passthrough the host's cache info; each mode turns the other off. */
    const qv_domdef_rare *r = def->rare;
    if (r && r->cpu_cache_mode) {
        bool host_cpu = !strcmp(cpu->mode, "host-passthrough") || !strcmp(cpu->mode, "maximum");
        bool emulate = !strcmp(r->cpu_cache_mode, "emulate"), pass = !strcmp(r->cpu_cache_mode, "passthrough");
        if (emulate)
            g_string_append(s, ",l3-cache=on");
        if (pass)
            g_string_append(s, ",host-cache-info=on");
        if (!pass && host_cpu)
            g_string_append(s, ",host-cache-info=off");
        if (!emulate)
            g_string_append(s, ",l3-cache=off");
    }
    if (r && r->maxphysaddr_mode && !strcmp(r->maxphysaddr_mode, "passthrough")) {
        /* libvirt 9.0 keeps bits here but does not use them (9.2's limit
         * attribute became host-phys-bits-limit). */
        g_string_append(s, ",host-phys-bits=on");
    } else if (r && r->maxphysaddr_mode) {
        g_string_append_printf(s, ",phys-bits=%d", r->maxphysaddr_bits);
    }
    qv_cmdline_add(cl, "-cpu");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    return 0;
}

/* <features><kvm><dirty-ring state='on' size='N'/>: N for a KVM domain;
 * 0 otherwise (TCG has no dirty ring and libvirt ignores it there). */
static unsigned int dirty_ring_size(const qv_cmdline *cl)
{
    const qv_domdef_features *f = &cl->def->features;
    for (guint i = 0; cl->kvm && i < f->kvm_features->len; i++) {
        const qv_domdef_feature *k = g_ptr_array_index(f->kvm_features, i);
        if (!strcmp(k->name, "dirty-ring") && k->state == QV_TRI_ON && k->value)
            return (unsigned int)g_ascii_strtoull(k->value, NULL, 10);
    }
    return 0;
}

static void add_machine(qv_cmdline *cl)
{
    const qv_domdef *def = cl->def;
    const qv_domdef_features *f = &def->features;
    GString *s = g_string_new(NULL);
    g_autofree char *m = qv_qemu_opt_escape(def->os.machine);
    g_string_append(s, m);
    /* A KVM dirty ring is an -accel property (see add_accel): then
     * -machine names no accelerator, as QEMU refuses both. */
    if (!dirty_ring_size(cl))
        g_string_append(s, cl->kvm ? ",accel=kvm" : ",accel=tcg");
    g_string_append(s, ",usb=off");
    if (f->vmport_set)
        g_string_append_printf(s, ",vmport=%s", f->vmport == QV_TRI_OFF ? "off" : "on");
    if (f->smm_set)
        g_string_append_printf(s, ",smm=%s", f->smm == QV_TRI_OFF ? "off" : "on");
    g_string_append(s, ",dump-guest-core=off");
    if (def->mb_nosharepages)
        g_string_append(s, ",mem-merge=off");
    for (guint i = 0; i < def->memdevs->len; i++)
        if (!strcmp(((qv_domdef_memdev *)g_ptr_array_index(def->memdevs, i))->model, "nvdimm")) {
            g_string_append(s, ",nvdimm=on");
            break;
        }
    if (!f->acpi)
        g_string_append(s, ",acpi=off");
    if (f->ioapic_driver && cl->kvm)
        g_string_append_printf(s, ",kernel-irqchip=%s", !strcmp(f->ioapic_driver, "qemu") ? "split" : "on");
    if (def->iommu && !strcmp(def->iommu->model, "intel") && def->iommu->intremap == QV_TRI_ON && cl->kvm)
        g_string_append(s, ",kernel-irqchip=split");
    for (guint i = 0; i < def->timers->len; i++) {
        qv_domdef_timer *t = g_ptr_array_index(def->timers, i);
        if (!strcmp(t->name, "hpet") && t->present)
            g_string_append_printf(s, ",hpet=%s", t->present == QV_TRI_OFF ? "off" : "on");
        if (!strcmp(t->name, "pit") && t->present == QV_TRI_OFF)
            g_string_append(s, ",pit=off");
    }
    if (def->os.loader && def->os.loader_type && !strcmp(def->os.loader_type, "pflash"))
        g_string_append(s, ",pflash0=libvirt-pflash0-format");
    if (def->os.loader && def->os.loader_type && !strcmp(def->os.loader_type, "pflash") && def->os.nvram)
        g_string_append(s, ",pflash1=libvirt-pflash1-format");
    if (!def->cpu.cells->len)   /* else the RAM comes from the -numa memdevs */
        g_string_append(s, ",memory-backend=pc.ram");
    qv_cmdline_add(cl, "-machine");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    if (dirty_ring_size(cl))
        qv_cmdline_addf(cl, "-accel", "kvm,dirty-ring-size=%u", dirty_ring_size(cl));
}

/* <numatune>'s host nodes and policy for a guest RAM backend: of cell's
 * <memnode>, else of <memory> (cell -1: the one backend of a guest without
 * NUMA cells). restrictive leaves QEMU's policy alone: cgroups' cpuset.mems
 * alone enforces it, as in libvirt. */
static void add_numa_policy(qv_jobj *o, const qv_domdef *def, int cell)
{
    const qv_domdef_numatune *t = &def->numatune;
    const char *mode = t->mode ? t->mode : "strict";
    const char *nodeset = t->nodeset;
    for (guint i = 0; cell >= 0 && t->memnodes && i < t->memnodes->len; i++) {
        const qv_domdef_memnode *m = g_ptr_array_index(t->memnodes, i);
        if ((int)m->cellid == cell) {
            mode = m->mode ? m->mode : "strict";
            nodeset = m->nodeset;
        }
    }
    if (!nodeset || !strcmp(mode, "restrictive"))
        return;
    /* The nodeset is canonical here ("0-1,3"). */
    g_autoptr(GArray) nodes = g_array_new(FALSE, FALSE, sizeof(unsigned int));
    g_auto(GStrv) parts = g_strsplit(nodeset, ",", -1);
    for (char **p = parts; *p; p++) {
        unsigned int a = 0, b = 0;
        int k = sscanf(*p, "%u-%u", &a, &b);
        if (k < 1)
            continue;
        if (k == 1)
            b = a;
        for (unsigned int n = a; n <= b && nodes->len < 4096; n++)
            g_array_append_val(nodes, n);
    }
    qv_json_set_uint_list(o, "host-nodes", (const unsigned int *)(void *)nodes->data, nodes->len);
    qv_json_set_str(o, "policy", !strcmp(mode, "strict") ? "bind" : mode);
}

/* Whether node is in a canonical nodeset ("0-1,3"). */
static bool nodeset_has(const char *nodeset, unsigned int node)
{
    g_auto(GStrv) parts = g_strsplit(nodeset, ",", -1);
    for (char **p = parts; *p; p++) {
        unsigned int a = 0, b = 0;
        int k = sscanf(*p, "%u-%u", &a, &b);
        if (k >= 1 && node >= a && node <= (k == 2 ? b : a))
            return true;
    }
    return false;
}

/* x86_64's default hugepage size, what a bare <hugepages/> means. */
#define QV_HUGEPAGE_DEFAULT_KIB 2048ULL

/* The hugepage size (KiB) of guest NUMA node cell's RAM (cell -1: a guest
 * without NUMA cells), 0 for ordinary pages: the <page> whose nodeset has
 * the node, else the one without a nodeset. 4 KiB pages are ordinary ones,
 * as in libvirt. */
static unsigned long long hugepage_kib(const qv_domdef *def, int cell)
{
    if (!def->mb_hugepages)
        return 0;
    const GPtrArray *pages = def->rare ? def->rare->mb_pages : NULL;
    if (!pages || !pages->len)
        return QV_HUGEPAGE_DEFAULT_KIB;
    unsigned long long size = 0;
    for (guint i = 0; i < pages->len; i++) {
        const qv_domdef_hugepage *h = g_ptr_array_index(pages, i);
        if (h->nodeset && cell >= 0 && nodeset_has(h->nodeset, (unsigned int)cell)) {
            size = h->size_kib;
            break;
        }
        if (!h->nodeset)
            size = h->size_kib;
    }
    return size == 4 ? 0 : size;
}

/* Where QEMU finds hugetlbfs for a page size: /dev/hugepages (systemd's
 * mount) for the default 2 MiB pages, /dev/hugepages1G and the like for
 * others. That mount must exist, with that page size and QEMU allowed to
 * write to it, when the domain starts: qvirt mounts nothing. QEMU makes its
 * file there and unlinks it at once. */
static char *hugepage_dir(unsigned long long kib)
{
    if (kib == QV_HUGEPAGE_DEFAULT_KIB)
        return g_strdup("/dev/hugepages");
    if (kib % (1024 * 1024) == 0)
        return g_strdup_printf("/dev/hugepages%lluG", kib >> 20);
    if (kib % 1024 == 0)
        return g_strdup_printf("/dev/hugepages%lluM", kib >> 10);
    return g_strdup_printf("/dev/hugepages%lluK", kib);
}

/* The hugepage size (KiB, 0: none) of the backend for cell's RAM (m NULL)
 * or for memory device m. */
static unsigned long long backend_page_kib(const qv_domdef *def, int cell, const qv_domdef_memdev *m)
{
    if (m && m->pagesize_kib)
        return m->pagesize_kib == 4 ? 0 : m->pagesize_kib;
    if (m && m->source_path)
        return 0;
    return hugepage_kib(def, m ? m->node : cell);
}

static void add_hugetlbfs_dir(GPtrArray *dirs, const qv_domdef *def, int cell, const qv_domdef_memdev *m)
{
    unsigned long long page = backend_page_kib(def, cell, m);
    bool memfd = def->mb_source && !strcmp(def->mb_source, "memfd") && !(m && m->source_path);
    if (!page || memfd)   /* memfd hugetlb needs no mount */
        return;
    g_autofree char *dir = hugepage_dir(page);
    for (guint i = 0; i < dirs->len; i++)
        if (!strcmp(dirs->pdata[i], dir))
            return;
    g_ptr_array_add(dirs, g_steal_pointer(&dir));
}

char **qv_domdef_hugetlbfs_dirs(const qv_domdef *def)
{
    GPtrArray *dirs = g_ptr_array_new();
    if (!def->cpu.cells->len)
        add_hugetlbfs_dir(dirs, def, -1, NULL);
    for (guint i = 0; i < def->cpu.cells->len; i++)
        add_hugetlbfs_dir(dirs, def, (int)((qv_domdef_numa_cell *)g_ptr_array_index(def->cpu.cells, i))->id, NULL);
    for (guint i = 0; i < def->memdevs->len; i++)
        add_hugetlbfs_dir(dirs, def, -1, g_ptr_array_index(def->memdevs, i));
    g_ptr_array_add(dirs, NULL);
    return (char **)g_ptr_array_free(dirs, FALSE);
}

/* One guest memory backend object, as libvirt 9.0's
 * qemuBuildMemoryBackendProps makes it: for the RAM of NUMA node cell (-1:
 * the guest's one RAM backend) when m is NULL, else for memory device m.
 * The type follows from <memoryBacking>: hugepages on hugetlbfs (a
 * memory-backend-file, or a memfd with hugetlb), a file in the runtime
 * folder for <source type='file'>, a memfd, or anonymous RAM; an nvdimm or
 * virtio-pmem maps its own file. */
static int add_mem_backend(qv_cmdline *cl, const char *id, unsigned long long size_kib, int cell,
                           const qv_domdef_memdev *m, qv_error **err)
{
    const qv_domdef *def = cl->def;
    const qv_domdef_numa_cell *nc = NULL;
    for (guint i = 0; !m && cell >= 0 && i < def->cpu.cells->len; i++) {
        const qv_domdef_numa_cell *c = g_ptr_array_index(def->cpu.cells, i);
        if ((int)c->id == cell)
            nc = c;
    }
    bool virtio_mem = m && !strcmp(m->model, "virtio-mem");
    unsigned long long page = backend_page_kib(def, cell, m);
    bool memfd = def->mb_source && !strcmp(def->mb_source, "memfd") && !(m && m->source_path);
    bool file = (m && m->source_path) || (page && !memfd) ||
                (def->mb_source && !strcmp(def->mb_source, "file"));
    const char *access = m ? m->access : nc ? nc->mem_access : NULL;
    if (!access)
        access = def->mb_access;
    const char *discard = m ? m->discard : nc ? nc->discard : NULL;
    bool discard_on = discard ? !strcmp(discard, "yes") : def->mb_discard;
    bool prealloc = (def->mb_allocation && !strcmp(def->mb_allocation, "immediate")) || page ||
                    (m && !strcmp(m->model, "nvdimm") && !m->source_pmem);
    if (virtio_mem)
        prealloc = false;   /* QEMU 7.2's virtio-mem cannot preallocate */

    /* An nvdimm's or virtio-pmem's file: QEMU maps it through its own
     * inherited fd, as the kernel (no folder on the way is searched); the
     * caller makes it when it is missing, as QEMU would. */
    g_autofree char *dev_file = NULL;
    if (m && m->source_path) {
        const qv_file_opener *files = cl->ctx ? cl->ctx->files : NULL;
        if (files && files->open) {
            int fd = files->open(files->data, m->source_path, O_RDWR | O_CREAT, err);
            if (fd < 0)
                return fd;
            dev_file = g_strdup_printf("/proc/self/fd/%d", fd);
        } else {
            dev_file = g_strdup(m->source_path);
        }
    }
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "qom-type", file ? "memory-backend-file" : memfd ? "memory-backend-memfd" : "memory-backend-ram");
    qv_json_set_str(o, "id", id);
    if (memfd && page) {
        qv_json_set_bool(o, "hugetlb", true);
        qv_json_set_int(o, "hugetlbsize", (long long)(page * 1024));
    }
    if (file) {
        /* <source type='file'>: an unlinked file QEMU makes in the domain's
         * runtime folder (libvirt uses its memory_backing_dir). */
        g_autofree char *dir = dev_file ? g_strdup(dev_file) :
                               page ? hugepage_dir(page) : g_strdup(cl->ctx->runtime_dir);
        qv_json_set_str(o, "mem-path", dir);
        if (discard_on && !(m && m->source_path))
            qv_json_set_bool(o, "discard-data", true);
    }
    if (access)
        qv_json_set_bool(o, "share", !strcmp(access, "shared"));
    if (prealloc) {
        qv_json_set_bool(o, "prealloc", true);
        if (def->rare && def->rare->mb_alloc_threads)
            qv_json_set_int(o, "prealloc-threads", def->rare->mb_alloc_threads);
    }
    qv_json_set_int(o, "size", (long long)(size_kib * 1024));
    if (m && m->alignsize_kib)
        qv_json_set_int(o, "align", (long long)(m->alignsize_kib * 1024));
    if (m && m->source_pmem)
        qv_json_set_bool(o, "pmem", true);
    if (m && m->source_nodemask) {
        g_autoptr(GArray) nodes = g_array_new(FALSE, FALSE, sizeof(unsigned int));
        for (unsigned int n = 0; n < 1024; n++)
            if (nodeset_has(m->source_nodemask, n))
                g_array_append_val(nodes, n);
        qv_json_set_uint_list(o, "host-nodes", (const unsigned int *)(void *)nodes->data, nodes->len);
        qv_json_set_str(o, "policy", "bind");
    } else if (!(m && m->source_path)) {
        add_numa_policy(o, def, m ? m->node : cell);
    }
    if (virtio_mem)
        qv_json_set_bool(o, "reserve", false);
    qv_cmdline_add_json(cl, "-object", o);
    return 0;
}

int qv_cmdline_add_mem_backend(qv_cmdline *cl, const qv_domdef_memdev *m, const char *id, qv_error **err)
{
    return add_mem_backend(cl, id, m->size_kib, -1, m, err);
}

static int add_memory(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    GString *m = g_string_new(NULL);
    g_string_append(m, "size=");
    append_ull(m, def->memory_kib);
    g_string_append_c(m, 'k');
    if (def->max_memory_kib)
        g_string_append_printf(m, ",slots=%u,maxmem=%lluk", def->max_memory_slots, def->max_memory_kib);
    qv_cmdline_add(cl, "-m");
    g_ptr_array_add(cl->argv, g_string_free(m, FALSE));
    if (def->mb_locked)
        qv_cmdline_add2(cl, "-overcommit", "mem-lock=on");
    if (!def->cpu.cells->len)
        return add_mem_backend(cl, "pc.ram", def->memory_kib, -1, NULL, err);
    return 0;
}

/* Expands "0-3,5" into QEMU's repeated cpus= ranges. */
static void append_cpus(GString *s, const char *list)
{
    g_auto(GStrv) parts = g_strsplit(list, ",", -1);
    for (int i = 0; parts[i]; i++)
        if (*parts[i])
            g_string_append_printf(s, ",cpus=%s", parts[i]);
}

static void add_smp_numa(qv_cmdline *cl)
{
    const qv_domdef *def = cl->def;
    const qv_domdef_cpu *cpu = &def->cpu;
    GString *s = g_string_new(NULL);
    append_ull(s, def->vcpus_current);
    g_string_append(s, ",maxcpus=");
    append_ull(s, def->vcpus);
    g_string_append(s, ",sockets=");
    if (cpu->sockets) {
        append_ull(s, cpu->sockets);
        g_string_append(s, ",dies=");
        append_ull(s, cpu->dies);
        g_string_append(s, ",cores=");
        append_ull(s, cpu->cores);
        g_string_append(s, ",threads=");
        append_ull(s, cpu->threads);
    } else {
        append_ull(s, def->vcpus);
        g_string_append(s, ",cores=1,threads=1");
    }
    qv_cmdline_add(cl, "-smp");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));

    for (guint i = 0; i < cpu->cells->len; i++) {
        qv_domdef_numa_cell *c = g_ptr_array_index(cpu->cells, i);
        g_autofree char *id = g_strdup_printf("ram-node%u", c->id);
        add_mem_backend(cl, id, c->memory_kib, (int)c->id, NULL, NULL);   /* no file: cannot fail */
        GString *n = g_string_new(NULL);
        g_string_append_printf(n, "node,nodeid=%u", c->id);
        append_cpus(n, c->cpus);
        g_string_append_printf(n, ",memdev=%s", id);
        qv_cmdline_add(cl, "-numa");
        g_ptr_array_add(cl->argv, g_string_free(n, FALSE));
    }
}

static void add_boot(qv_cmdline *cl)
{
    const qv_domdef_os *os = &cl->def->os;
    GString *s = g_string_new(NULL);
    if (os->bootmenu == QV_TRI_ON) {
        g_string_append(s, "menu=on");
        if (os->bootmenu_timeout >= 0)
            g_string_append_printf(s, ",splash-time=%d", os->bootmenu_timeout);
    }
    if (os->bios_reboot_timeout != -1)
        g_string_append_printf(s, "%sreboot-timeout=%d", s->len ? "," : "", os->bios_reboot_timeout);
    g_string_append_printf(s, "%sstrict=on", s->len ? "," : "");
    qv_cmdline_add(cl, "-boot");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
}

static int add_clock(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    GString *s = g_string_new(NULL);
    const char *off = def->clock_offset;
    if (!strcmp(off, "utc"))
        g_string_append(s, "base=utc");
    else if (!strcmp(off, "localtime"))
        g_string_append(s, "base=localtime");
    else if (!strcmp(off, "timezone")) {
        /* The timezone goes through TZ in QEMU's environment (lib/). */
        g_string_append(s, "base=localtime");
    } else if (!strcmp(off, "absolute")) {
        g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc((gint64)(def->rare ? def->rare->clock_start : 0));
        g_autofree char *iso = g_date_time_format(t, "%Y-%m-%dT%H:%M:%S");
        g_string_append_printf(s, "base=%s", iso);
    } else {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) t = g_date_time_add_seconds(now, (gdouble)def->clock_adjustment);
        g_autofree char *iso = g_date_time_format(t, "%Y-%m-%dT%H:%M:%S");
        g_string_append_printf(s, "base=%s", iso);
    }
    for (guint i = 0; i < def->timers->len; i++) {
        qv_domdef_timer *t = g_ptr_array_index(def->timers, i);
        if (!strcmp(t->name, "rtc")) {
            if (t->track)
                g_string_append_printf(s, ",clock=%s", !strcmp(t->track, "guest") ? "vm" :
                                       !strcmp(t->track, "wall") || !strcmp(t->track, "boot") ? "host" : "rt");
            if (t->tickpolicy && !strcmp(t->tickpolicy, "catchup"))
                g_string_append(s, ",driftfix=slew");
            else if (t->tickpolicy && strcmp(t->tickpolicy, "delay")) {
                g_string_free(s, TRUE);
                return qv_error_set(err, -EINVAL, "/domain/clock/timer: rtc tickpolicy '%s' is not supported by QEMU.", t->tickpolicy);
            }
        }
        if (!strcmp(t->name, "pit") && t->tickpolicy) {
            const char *p = !strcmp(t->tickpolicy, "delay") ? "delay" : !strcmp(t->tickpolicy, "catchup") ? "slew" :
                            !strcmp(t->tickpolicy, "discard") ? "discard" : NULL;
            if (!p) {
                g_string_free(s, TRUE);
                return qv_error_set(err, -EINVAL, "/domain/clock/timer: pit tickpolicy '%s' is not supported by QEMU.", t->tickpolicy);
            }
            if (cl->kvm) {
                qv_cmdline_add(cl, "-global");
                g_ptr_array_add(cl->argv, qv_strcat2("kvm-pit.lost_tick_policy=", p));
            }
        }
    }
    qv_cmdline_add(cl, "-rtc");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    return 0;
}

static int add_firmware(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef_os *os = &cl->def->os;
    assert(!qv_domdef_firmware_autoselect(cl->def));   /* filled by qv_domxml_build_argv */
    if (!os->loader)
        return 0;
    if (!os->loader_type || !strcmp(os->loader_type, "rom")) {
        qv_cmdline_add2(cl, "-bios", os->loader);
        return 0;
    }
    bool loader_ro = !os->loader_readonly || strcmp(os->loader_readonly, "no");
    g_autofree char *loader = qv_cmdline_file(cl, os->loader, loader_ro ? O_RDONLY : O_RDWR,
                                              "libvirt-pflash0-storage", err);
    if (!loader)
        return -EINVAL;
    qv_jobj *st = qv_jobj_new(cl);
    qv_json_set_str(st, "driver", "file");
    qv_json_set_str(st, "filename", loader);
    qv_json_set_str(st, "node-name", "libvirt-pflash0-storage");
    qv_cmdline_storage_access(st, loader, !loader_ro);
    qv_json_set_str(st, "discard", "unmap");
    qv_cmdline_add_json(cl, "-blockdev", st);
    qv_jobj *fm = qv_jobj_new(cl);
    qv_json_set_str(fm, "node-name", "libvirt-pflash0-format");
    qv_json_set_bool(fm, "read-only", loader_ro);
    qv_json_set_str(fm, "driver", "raw");
    qv_json_set_str(fm, "file", "libvirt-pflash0-storage");
    qv_cmdline_add_json(cl, "-blockdev", fm);
    if (os->nvram) {
        g_autofree char *nvram = qv_cmdline_file(cl, os->nvram, O_RDWR, "libvirt-pflash1-storage",
                                                 err);
        if (!nvram)
            return -EINVAL;
        qv_jobj *nst = qv_jobj_new(cl);
        qv_json_set_str(nst, "driver", "file");
        qv_json_set_str(nst, "filename", nvram);
        qv_json_set_str(nst, "node-name", "libvirt-pflash1-storage");
        qv_cmdline_storage_access(nst, nvram, true);
        qv_json_set_str(nst, "discard", "unmap");
        qv_cmdline_add_json(cl, "-blockdev", nst);
        qv_jobj *nfm = qv_jobj_new(cl);
        qv_json_set_str(nfm, "node-name", "libvirt-pflash1-format");
        qv_json_set_bool(nfm, "read-only", false);
        qv_json_set_str(nfm, "driver", "raw");
        qv_json_set_str(nfm, "file", "libvirt-pflash1-storage");
        qv_cmdline_add_json(cl, "-blockdev", nfm);
    }
    if (os->loader_secure && !strcmp(os->loader_secure, "yes"))
        qv_cmdline_add2(cl, "-global", "driver=cfi.pflash01,property=secure,value=on");
    return 0;
}

/* -chardev pre<fd>post; fds are never negative here. */
static void add_fd_chardev(qv_cmdline *cl, const char *pre, int fd, const char *post)
{
    GString *s = g_string_sized_new(64);
    g_string_append(s, pre);
    append_ull(s, (unsigned long long)fd);
    g_string_append(s, post);
    qv_cmdline_add(cl, "-chardev");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
}

static void add_monitors(qv_cmdline *cl)
{
    const qv_build_ctx *ctx = cl->ctx;
    add_fd_chardev(cl, "socket,id=charmonitor,fd=", ctx->monitor_fd, ",server=on,wait=off");
    qv_cmdline_add2(cl, "-mon", "chardev=charmonitor,id=monitor,mode=control");
    if (ctx->event_monitor_fd >= 0) {
        add_fd_chardev(cl, "socket,id=charevents,fd=", ctx->event_monitor_fd, ",server=on,wait=off");
        qv_cmdline_add2(cl, "-mon", "chardev=charevents,id=events,mode=control");
    }
    for (unsigned int i = 0; i < ctx->n_lanes; i++) {
        qv_cmdline_addf(cl, "-chardev", "socket,id=charlane%u,fd=%d,server=on,wait=off", i,
                        ctx->lane_fds[i]);
        qv_cmdline_addf(cl, "-mon", "chardev=charlane%u,id=lane%u,mode=control", i, i);
    }
}

static void add_lifecycle(qv_cmdline *cl)
{
    const qv_domdef *def = cl->def;
    /* QEMU never exits on its own when the guest powers off: the supervisor
     * (lib/qvirt-monitor.c) carries out on_poweroff on the SHUTDOWN event,
     * and turns the poweroff of an ACPI reboot ("fake reboot") into a reset. */
    qv_cmdline_add(cl, "-no-shutdown");
    if (def->on_reboot == QV_DOMDEF_LIFECYCLE_DESTROY)
        qv_cmdline_add(cl, "-no-reboot");
    if (def->on_crash == QV_DOMDEF_LIFECYCLE_PRESERVE)
        qv_cmdline_add2(cl, "-action", "panic=pause");
    else if (def->on_crash == QV_DOMDEF_LIFECYCLE_DESTROY && def->panics->len)
        qv_cmdline_add2(cl, "-action", "panic=shutdown");
}

static void add_pm(qv_cmdline *cl)
{
    const qv_domdef *def = cl->def;
    const char *dev = cl->q35 ? "ICH9-LPC" : "PIIX4_PM";
    if (def->pm_suspend_to_mem)
        qv_cmdline_addf(cl, "-global", "%s.disable_s3=%d", dev, def->pm_suspend_to_mem == QV_TRI_OFF);
    if (def->pm_suspend_to_disk)
        qv_cmdline_addf(cl, "-global", "%s.disable_s4=%d", dev, def->pm_suspend_to_disk == QV_TRI_OFF);
}

static int build_argv(const qv_domdef *def, const qv_build_ctx *ctx, char ***argv_out,
                      qv_error **err);

/* A domain that leaves its UEFI image to autoselection is built from a copy
 * with the choice filled in, as libvirt fills its live definition at start. */
int qv_domxml_build_argv(const qv_domdef *def, const qv_build_ctx *ctx, char ***argv_out,
                         qv_error **err)
{
    if (!def || !ctx || !argv_out)
        return qv_error_set(err, -EINVAL, "qv_domxml_build_argv needs a definition, a context and an output.");
    if (!qv_domdef_firmware_autoselect(def))
        return build_argv(def, ctx, argv_out, err);
    g_autoptr(qv_domdef) filled = qv_domdef_copy(def);
    int r = qv_domdef_fill_firmware(filled, ctx->firmware, ctx->n_firmware, ctx->nvram_dir, err);
    return r < 0 ? r : build_argv(filled, ctx, argv_out, err);
}

static int build_argv(const qv_domdef *def, const qv_build_ctx *ctx, char ***argv_out,
                      qv_error **err)
{
    if (!ctx->runtime_dir || !g_path_is_absolute(ctx->runtime_dir))
        return qv_error_set(err, -EINVAL, "The runtime directory must be an absolute path.");
    if (ctx->monitor_fd < 0)
        return qv_error_set(err, -EINVAL, "A monitor socket fd is required.");
    qv_cmdline cl = {
        /* A 20-device domain has about 100 arguments: sized once, the
         * array is not copied as it grows. */
        .argv = g_ptr_array_new_full(128, g_free),
        .def = def,
        .ctx = ctx,
        .q35 = qv_domdef_is_q35(def),
        .kvm = def->virt_type == QV_DOMDEF_VIRT_KVM,
    };
    int r = 0;
    char uuid[37];

    qv_cmdline_add(&cl, ctx->emulator ? ctx->emulator : def->emulator ? def->emulator
                                                                      : "/usr/bin/qemu-system-x86_64");
    {
        GString *n = g_string_new(NULL);
        qv_opt_append(n, "guest", def->name);
        g_string_append(n, ",debug-threads=on");
        qv_cmdline_add(&cl, "-name");
        g_ptr_array_add(cl.argv, g_string_free(n, FALSE));
    }
    qv_cmdline_add(&cl, "-S");
    if ((r = add_firmware(&cl, err)) < 0)
        goto out;
    add_machine(&cl);
    if ((r = add_cpu(&cl, err)) < 0 || (r = add_memory(&cl, err)) < 0)
        goto out;
    add_smp_numa(&cl);
    for (unsigned int i = 1; i <= def->iothreads; i++) {
        qv_jobj *o = qv_jobj_new(&cl);
        g_autofree char *id = g_strdup_printf("iothread%u", i);
        qv_json_set_str(o, "qom-type", "iothread");
        qv_json_set_str(o, "id", id);
        qv_cmdline_add_json(&cl, "-object", o);
    }
    qv_uuid_format(def->uuid, uuid);
    qv_cmdline_add2(&cl, "-uuid", uuid);
    qv_cmdline_add(&cl, "-no-user-config");
    qv_cmdline_add(&cl, "-nodefaults");
    add_monitors(&cl);
    if ((r = add_clock(&cl, err)) < 0)
        goto out;
    add_lifecycle(&cl);
    add_pm(&cl);
    add_boot(&cl);
    if (def->os.kernel) {
        /* QEMU reads these with plain open(), which knows no fdsets: it
         * opens its own inherited fd through /proc/self/fd instead. */
        g_autofree char *kernel = inherited_file(&cl, def->os.kernel, err);
        g_autofree char *initrd = def->os.initrd ? inherited_file(&cl, def->os.initrd, err) : NULL;
        g_autofree char *dtb = def->os.dtb ? inherited_file(&cl, def->os.dtb, err) : NULL;
        if (!kernel || (def->os.initrd && !initrd) || (def->os.dtb && !dtb)) {
            r = -EINVAL;
            goto out;
        }
        qv_cmdline_add2(&cl, "-kernel", kernel);
        if (initrd)
            qv_cmdline_add2(&cl, "-initrd", initrd);
        if (def->os.cmdline)
            qv_cmdline_add2(&cl, "-append", def->os.cmdline);
        if (dtb)
            qv_cmdline_add2(&cl, "-dtb", dtb);
    } else if (def->os.initrd || def->os.cmdline) {
        r = qv_error_set(err, -EINVAL, "/domain/os: initrd and cmdline need a kernel.");
        goto out;
    }
    if (def->os.acpi_table) {
        /* Read with open() as well: an inherited fd through /proc/self/fd. */
        g_autofree char *file = inherited_file(&cl, def->os.acpi_table, err);
        if (!file) {
            r = -EINVAL;
            goto out;
        }
        GString *s = g_string_new("sig=SLIC");
        qv_opt_append(s, "file", file);
        qv_cmdline_add(&cl, "-acpitable");
        g_ptr_array_add(cl.argv, g_string_free(s, FALSE));
    }
    if (def->os.bios_useserial == QV_TRI_ON)
        qv_cmdline_add2(&cl, "-fw_cfg", "name=etc/sercon-port,string=1016");   /* 0x3f8, SeaBIOS sgabios-less serial console */
    /* libvirt's qemuBuildGlobalControllerCommandLine: the root bus's 64-bit
     * PCI hole, in KiB. */
    const qv_domdef_controller *root = qv_domdef_find_controller(def, QV_CTRL_PCI, 0);
    if (root && root->has_pcihole64)
        qv_cmdline_addf(&cl, "-global", "%s.pci-hole64-size=%lluK",
                        cl.q35 ? "q35-pcihost" : "i440FX-pcihost", root->pcihole64_kib);
    if ((r = qv_cmdline_add_controllers(&cl, err)) < 0 ||
        (r = qv_cmdline_add_disks(&cl, err)) < 0 ||
        (r = qv_cmdline_add_nets(&cl, err)) < 0 ||
        (r = qv_cmdline_add_chrs(&cl, err)) < 0 ||
        (r = qv_cmdline_add_video_input_sound(&cl, err)) < 0 ||
        (r = qv_cmdline_add_graphics(&cl, err)) < 0 ||
        (r = qv_cmdline_add_misc(&cl, err)) < 0)
        goto out;
    if (def->features.vmcoreinfo)
        qv_cmdline_add_json(&cl, "-device", qv_json_device(&cl, "vmcoreinfo", NULL));
    if (def->has_genid) {
        char g[37];
        qv_uuid_format(def->genid, g);
        qv_jobj *o = qv_json_device(&cl, "vmgenid", "vmgenid0");
        qv_json_set_str(o, "guid", def->genid_auto ? "auto" : g);
        qv_cmdline_add_json(&cl, "-device", o);
    }
    /* The sandbox denies spawning helpers: bridge networking needs
     * qemu-bridge-helper and an ethernet script needs a shell. */
    {
        bool spawn = false;
        for (guint i = 0; i < def->nets->len; i++) {
            qv_domdef_net *n = g_ptr_array_index(def->nets, i);
            const qv_network_resolution *res = n->type == QV_NET_NETWORK ? qv_cmdline_find_network(&cl, n->source_network) : NULL;
            spawn = spawn || n->type == QV_NET_BRIDGE || (res && res->kind == QV_NETWORK_BRIDGE) ||
                    (n->type == QV_NET_ETHERNET && n->script) || n->downscript;
        }
        qv_cmdline_add2(&cl, "-sandbox", spawn ? "on,obsolete=deny,elevateprivileges=deny,spawn=allow,resourcecontrol=deny"
                                               : "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    }
    qv_cmdline_add2(&cl, "-msg", "timestamp=on");
    /* <qemu:arg>s go last, as libvirt appends them: they may override
     * anything above. */
    for (guint i = 0; def->rare && i < def->rare->qemu_args->len; i++)
        qv_cmdline_add(&cl, g_ptr_array_index(def->rare->qemu_args, i));

out:
    if (r < 0) {
        g_ptr_array_unref(cl.argv);
        return r;
    }
    g_ptr_array_add(cl.argv, NULL);
    *argv_out = (char **)g_ptr_array_free(cl.argv, FALSE);
    return 0;
}

char *qv_virtio_device_name(const char *base, const char *model)
{
    if (model && !strcmp(model, "virtio-transitional"))
        return qv_strcat2(base, "-transitional");
    if (model && !strcmp(model, "virtio-non-transitional"))
        return qv_strcat2(base, "-non-transitional");
    return g_strdup(base);
}

char **qv_domxml_build_env(const qv_domdef *def)
{
    GPtrArray *env = g_ptr_array_new();
    if (def->clock_offset && !strcmp(def->clock_offset, "timezone") && def->clock_timezone)
        g_ptr_array_add(env, qv_strcat2("TZ=", def->clock_timezone));
    for (guint i = 0; i < def->audios->len; i++) {
        const qv_domdef_audio *a = g_ptr_array_index(def->audios, i);
        if (a->sdl_driver)   /* QEMU's sdl audiodev has no driver option: SDL reads it here */
            g_ptr_array_add(env, qv_strcat2("SDL_AUDIODRIVER=", a->sdl_driver));
    }
    for (guint i = 0; def->rare && i < def->rare->qemu_env->len; i++) {
        const qv_domdef_qemu_env *e = g_ptr_array_index(def->rare->qemu_env, i);
        g_ptr_array_add(env, g_strdup_printf("%s=%s", e->name, e->value ? e->value : ""));
    }
    g_ptr_array_add(env, NULL);
    return (char **)g_ptr_array_free(env, FALSE);
}

bool qv_domdef_tainted_custom_argv(const qv_domdef *def)
{
    const qv_domdef_rare *ns = def->rare;
    return ns && (ns->qemu_args->len || ns->qemu_env->len || ns->qemu_caps_add->len || ns->qemu_caps_del->len);
}

/* Quotes for a POSIX shell: safe characters pass, everything else goes in
 * single quotes with embedded quotes as '\''. For logs and domxml-to-argv. */
char *qv_argv_to_shell(const char *const *argv)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; argv && argv[i]; i++) {
        const char *a = argv[i];
        if (i)
            g_string_append_c(s, ' ');
        bool safe = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!g_ascii_isalnum(*p) && !strchr("-_./=,:@+%", *p))
                safe = false;
        if (safe) {
            g_string_append(s, a);
            continue;
        }
        g_string_append_c(s, '\'');
        for (const char *p = a; *p; p++) {
            if (*p == '\'')
                g_string_append(s, "'\\''");
            else
                g_string_append_c(s, *p);
        }
        g_string_append_c(s, '\'');
    }
    return g_string_free(s, FALSE);
}
