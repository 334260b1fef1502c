/* The calls of a qvirt+ssh:// connection that scripts/gen-remote.py cannot
 * write (remote.h): buffers, arrays sized by another argument, file
 * descriptors and streams, and migration's destination connection. Each
 * has its client stub qv_remote__NAME and its server handler serve__NAME,
 * listed in qv_remote_special_handlers. Byte buffers travel as base64. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qv-fd.h"
#include "qv-file.h"
#include "remote.h"

/* The most entries a server fills for a caller's array (its own sizes). */
#define QV_REMOTE_MAX_ENTRIES 65536
/* The most bytes a peek or a map may ask for over the wire. */
#define QV_REMOTE_MAX_BYTES (64u << 20)

static json_object *new_args(const qv_domain *dom)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, qv_remote_dom_ref(dom));
    return a;
}

static json_object *b64(const void *data, size_t len)
{
    g_autofree char *s = g_base64_encode(data, len);
    return json_object_new_string(s);
}

/* Decodes v into buf of exactly len bytes. */
static int unb64(json_object *v, void *buf, size_t len, qv_error **err)
{
    gsize n = 0;
    g_autofree guchar *d = g_base64_decode(json_object_get_string(v) ? json_object_get_string(v)
                                                                    : "", &n);
    if (n != len)
        return qv_error_set(err, -EPROTO, "the remote side sent %zu bytes where %zu were due",
                            (size_t)n, len);
    memcpy(buf, d, len);
    return 0;
}

static json_object *out(json_object *o, size_t i)
{
    return json_object_array_get_idx(o, i);
}

/* The length of v when it is an array (what the other side sent), else 0. */
static size_t len_of(json_object *v)
{
    return json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

#define SERVE_DOM(q, err)                                                      \
    g_autoptr(qv_domain) self = NULL;                                          \
    if (qv_remote_arg_dom(q, 0, &self, err) < 0)                               \
        return qv_error_code(*err)

#define ARG_U(q, i) json_object_get_uint64(qv_remote_arg(q, i))
#define ARG_I(q, i) json_object_get_int64(qv_remote_arg(q, i))

/* ---- get_id: no error out ---- */

int qv_remote__qv_domain_get_id(qv_domain *dom)
{
    g_autoptr(json_object) a = new_args(dom);
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_get_id", a, &o, NULL);
    return r < 0 ? -1 : (int)r;
}

static long long serve__qv_domain_get_id(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    int id = qv_domain_get_id(self);
    return id >= 0 ? id : qv_error_set(err, -EINVAL, "the domain is not running");
}

/* ---- peeks: the bytes come back ---- */

static int peek(qv_domain *dom, const char *fn, const char *disk, unsigned long long offset,
                size_t size, void *buffer, unsigned int flags, qv_error **err)
{
    if (!buffer || size > QV_REMOTE_MAX_BYTES)
        return qv_error_set(err, -EINVAL, "%s: a buffer of at most %u bytes is required", fn,
                            QV_REMOTE_MAX_BYTES);
    g_autoptr(json_object) a = new_args(dom);
    if (disk)
        json_object_array_add(a, json_object_new_string(disk));
    json_object_array_add(a, json_object_new_uint64(offset));
    json_object_array_add(a, json_object_new_uint64(size));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, fn, a, &o, err);
    if (r < 0)
        return (int)r;
    return unb64(out(o, 0), buffer, size, err) < 0 ? -EPROTO : (int)r;
}

int qv_remote__qv_domain_block_peek(qv_domain *dom, const char *disk, unsigned long long offset,
                                    size_t size, void *buffer, unsigned int flags, qv_error **err)
{
    return peek(dom, "qv_domain_block_peek", disk ? disk : "", offset, size, buffer, flags, err);
}

int qv_remote__qv_domain_memory_peek(qv_domain *dom, unsigned long long start, size_t size,
                                     void *buffer, unsigned int flags, qv_error **err)
{
    return peek(dom, "qv_domain_memory_peek", NULL, start, size, buffer, flags, err);
}

static long long serve__qv_domain_block_peek(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    size_t size = MIN(ARG_U(q, 3), QV_REMOTE_MAX_BYTES);
    g_autofree void *buf = g_malloc0(size ? size : 1);
    long long r = qv_domain_block_peek(self, qv_remote_arg_str(q, 1), ARG_U(q, 2), size, buf,
                                       (unsigned int)ARG_U(q, 4), err);
    if (r >= 0)
        json_object_array_add(o, b64(buf, size));
    return r;
}

static long long serve__qv_domain_memory_peek(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    size_t size = MIN(ARG_U(q, 2), QV_REMOTE_MAX_BYTES);
    g_autofree void *buf = g_malloc0(size ? size : 1);
    long long r = qv_domain_memory_peek(self, ARG_U(q, 1), size, buf,
                                        (unsigned int)ARG_U(q, 3), err);
    if (r >= 0)
        json_object_array_add(o, b64(buf, size));
    return r;
}

/* ---- arrays the caller sizes ---- */

int qv_remote__qv_domain_get_disk_errors(qv_domain *dom, qv_disk_error *errors,
                                         unsigned int maxerrors, unsigned int flags,
                                         qv_error **err)
{
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_boolean(errors != NULL));
    json_object_array_add(a, json_object_new_uint64(maxerrors));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_get_disk_errors", a, &o,
                                 err);
    if (r < 0 || !errors)
        return (int)r;
    json_object *list = out(o, 0);
    size_t n = MIN(len_of(list), maxerrors);
    for (size_t i = 0; i < n; i++) {
        qv_disk_error e = { 0 };
        qv_remote_get_qv_disk_error(out(list, i), &e, sizeof e, NULL);
        errors[i] = e;
    }
    return (int)n;
}

static long long serve__qv_domain_get_disk_errors(qv_remote_req *q, json_object *o,
                                                  qv_error **err)
{
    SERVE_DOM(q, err);
    bool want = json_object_get_boolean(qv_remote_arg(q, 1));
    unsigned int max = (unsigned int)MIN(ARG_U(q, 2), QV_REMOTE_MAX_ENTRIES);
    g_autofree qv_disk_error *errors = want ? g_new0(qv_disk_error, max ? max : 1) : NULL;
    long long r = qv_domain_get_disk_errors(self, errors, want ? max : 0,
                                            (unsigned int)ARG_U(q, 3), err);
    json_object *list = json_object_new_array();
    for (long long i = 0; want && i < r; i++) {
        json_object *e = json_object_new_object();
        qv_remote_put_qv_disk_error(e, &errors[i], sizeof errors[i]);
        json_object_array_add(list, e);
        free(errors[i].disk);
    }
    json_object_array_add(o, list);
    return r;
}

int qv_remote__qv_domain_memory_stats(qv_domain *dom, qv_memory_stat *stats,
                                      unsigned int nr_stats, unsigned int flags, qv_error **err)
{
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_uint64(nr_stats));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_memory_stats", a, &o,
                                 err);
    if (r < 0 || !stats)
        return (int)r;
    json_object *list = out(o, 0);
    size_t n = MIN(len_of(list), nr_stats);
    for (size_t i = 0; i < n; i++)
        qv_remote_get_qv_memory_stat(out(list, i), &stats[i], sizeof stats[i], NULL);
    return (int)n;
}

static long long serve__qv_domain_memory_stats(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    unsigned int nr = (unsigned int)MIN(ARG_U(q, 1), QV_REMOTE_MAX_ENTRIES);
    g_autofree qv_memory_stat *stats = g_new0(qv_memory_stat, nr ? nr : 1);
    long long r = qv_domain_memory_stats(self, stats, nr, (unsigned int)ARG_U(q, 2), err);
    json_object *list = json_object_new_array();
    for (long long i = 0; i < r; i++) {
        json_object *e = json_object_new_object();
        qv_remote_put_qv_memory_stat(e, &stats[i], sizeof stats[i]);
        json_object_array_add(list, e);
    }
    json_object_array_add(o, list);
    return r;
}

int qv_remote__qv_domain_get_vcpu_info(qv_domain *dom, qv_vcpu_info *info, int maxinfo,
                                       unsigned char *cpumaps, int maplen, unsigned int flags,
                                       qv_error **err)
{
    if (maxinfo < 0 || maplen < 0 || (size_t)maxinfo * (size_t)maplen > QV_REMOTE_MAX_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_get_vcpu_info: maxinfo and maplen must "
                            "be small and not negative");
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_int64(maxinfo));
    json_object_array_add(a, json_object_new_boolean(cpumaps != NULL));
    json_object_array_add(a, json_object_new_int64(maplen));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_get_vcpu_info", a, &o,
                                 err);
    if (r < 0)
        return (int)r;
    json_object *list = out(o, 0);
    size_t n = MIN(len_of(list), (size_t)maxinfo);
    for (size_t i = 0; info && i < n; i++)
        qv_remote_get_qv_vcpu_info(out(list, i), &info[i], sizeof info[i], NULL);
    if (cpumaps && unb64(out(o, 1), cpumaps, (size_t)maxinfo * (size_t)maplen, err) < 0)
        return -EPROTO;
    return (int)n;
}

static long long serve__qv_domain_get_vcpu_info(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    int maxinfo = (int)MIN(ARG_U(q, 1), QV_REMOTE_MAX_ENTRIES);
    bool want_maps = json_object_get_boolean(qv_remote_arg(q, 2));
    int maplen = (int)MIN(ARG_U(q, 3), QV_REMOTE_MAX_BYTES / (maxinfo ? maxinfo : 1));
    g_autofree qv_vcpu_info *info = g_new0(qv_vcpu_info, maxinfo ? maxinfo : 1);
    size_t mlen = (size_t)maxinfo * (size_t)maplen;
    g_autofree unsigned char *maps = want_maps ? g_malloc0(mlen ? mlen : 1) : NULL;
    long long r = qv_domain_get_vcpu_info(self, info, maxinfo, maps, maplen,
                                          (unsigned int)ARG_U(q, 4), err);
    json_object *list = json_object_new_array();
    for (long long i = 0; i < r; i++) {
        json_object *e = json_object_new_object();
        qv_remote_put_qv_vcpu_info(e, &info[i], sizeof info[i]);
        json_object_array_add(list, e);
    }
    json_object_array_add(o, list);
    json_object_array_add(o, maps ? b64(maps, mlen) : NULL);
    return r;
}

/* A map of bytes the server fills: get_vcpu_pin_info, get_emulator_pin_info. */
static int get_maps(qv_domain *dom, const char *fn, int nmaps, unsigned char *maps, int maplen,
                    unsigned int flags, qv_error **err)
{
    if (!maps || nmaps < 0 || maplen < 0 ||
        (size_t)nmaps * (size_t)maplen > QV_REMOTE_MAX_BYTES)
        return qv_error_set(err, -EINVAL, "%s: the maps are required, and small", fn);
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_int64(nmaps));
    json_object_array_add(a, json_object_new_int64(maplen));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, fn, a, &o, err);
    if (r < 0)
        return (int)r;
    return unb64(out(o, 0), maps, (size_t)nmaps * (size_t)maplen, err) < 0 ? -EPROTO : (int)r;
}

int qv_remote__qv_domain_get_vcpu_pin_info(qv_domain *dom, int ncpumaps, unsigned char *cpumaps,
                                           int maplen, unsigned int flags, qv_error **err)
{
    return get_maps(dom, "qv_domain_get_vcpu_pin_info", ncpumaps, cpumaps, maplen, flags, err);
}

int qv_remote__qv_domain_get_emulator_pin_info(qv_domain *dom, unsigned char *cpumap,
                                               int maplen, unsigned int flags, qv_error **err)
{
    return get_maps(dom, "qv_domain_get_emulator_pin_info", 1, cpumap, maplen, flags, err);
}

static long long serve_maps(qv_remote_req *q, json_object *o, bool emulator, qv_error **err)
{
    SERVE_DOM(q, err);
    int nmaps = (int)MIN(ARG_U(q, 1), QV_REMOTE_MAX_ENTRIES);
    int maplen = (int)MIN(ARG_U(q, 2), QV_REMOTE_MAX_BYTES / (nmaps ? nmaps : 1));
    size_t len = (size_t)nmaps * (size_t)maplen;
    g_autofree unsigned char *maps = g_malloc0(len ? len : 1);
    unsigned int flags = (unsigned int)ARG_U(q, 3);
    long long r = emulator ? qv_domain_get_emulator_pin_info(self, maps, maplen, flags, err)
                           : qv_domain_get_vcpu_pin_info(self, nmaps, maps, maplen, flags, err);
    if (r >= 0)
        json_object_array_add(o, b64(maps, len));
    return r;
}

static long long serve__qv_domain_get_vcpu_pin_info(qv_remote_req *q, json_object *o,
                                                    qv_error **err)
{
    return serve_maps(q, o, false, err);
}

static long long serve__qv_domain_get_emulator_pin_info(qv_remote_req *q, json_object *o,
                                                        qv_error **err)
{
    return serve_maps(q, o, true, err);
}

int qv_remote__qv_domain_pin_vcpu(qv_domain *dom, unsigned int vcpu, const unsigned char *cpumap,
                                  int maplen, unsigned int flags, qv_error **err)
{
    if (!cpumap || maplen <= 0 || (size_t)maplen > QV_REMOTE_MAX_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_pin_vcpu: a CPU map is required");
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_uint64(vcpu));
    json_object_array_add(a, b64(cpumap, (size_t)maplen));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    return (int)qv_remote_call(dom->conn, "qv_domain_pin_vcpu", a, &o, err);
}

int qv_remote__qv_domain_pin_emulator(qv_domain *dom, const unsigned char *cpumap, int maplen,
                                      unsigned int flags, qv_error **err)
{
    if (!cpumap || maplen <= 0 || (size_t)maplen > QV_REMOTE_MAX_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_pin_emulator: a CPU map is required");
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, b64(cpumap, (size_t)maplen));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    return (int)qv_remote_call(dom->conn, "qv_domain_pin_emulator", a, &o,
                               err);
}

static guchar *arg_bytes(qv_remote_req *q, size_t i, gsize *len)
{
    const char *s = qv_remote_arg_str(q, i);
    return g_base64_decode(s ? s : "", len);
}

static long long serve__qv_domain_pin_vcpu(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    gsize len = 0;
    g_autofree guchar *map = arg_bytes(q, 2, &len);
    return qv_domain_pin_vcpu(self, (unsigned int)ARG_U(q, 1), map, (int)len,
                              (unsigned int)ARG_U(q, 3), err);
}

static long long serve__qv_domain_pin_emulator(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    gsize len = 0;
    g_autofree guchar *map = arg_bytes(q, 1, &len);
    return qv_domain_pin_emulator(self, map, (int)len, (unsigned int)ARG_U(q, 2), err);
}

int qv_remote__qv_domain_send_key(qv_domain *dom, unsigned int codeset, unsigned int holdtime,
                                  const unsigned int *keycodes, int nkeycodes, unsigned int flags,
                                  qv_error **err)
{
    if (nkeycodes < 0 || (nkeycodes && !keycodes))
        return qv_error_set(err, -EINVAL, "qv_domain_send_key: keycodes are required");
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_uint64(codeset));
    json_object_array_add(a, json_object_new_uint64(holdtime));
    json_object *keys = json_object_new_array();
    for (int i = 0; i < nkeycodes; i++)
        json_object_array_add(keys, json_object_new_uint64(keycodes[i]));
    json_object_array_add(a, keys);
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    return (int)qv_remote_call(dom->conn, "qv_domain_send_key", a, &o, err);
}

static long long serve__qv_domain_send_key(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    json_object *keys = qv_remote_arg(q, 3);
    size_t n = MIN(len_of(keys), QV_REMOTE_MAX_ENTRIES);
    g_autofree unsigned int *codes = g_new0(unsigned int, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        codes[i] = (unsigned int)json_object_get_uint64(json_object_array_get_idx(keys, i));
    return qv_domain_send_key(self, (unsigned int)ARG_U(q, 1), (unsigned int)ARG_U(q, 2), codes,
                              (int)n, (unsigned int)ARG_U(q, 4), err);
}

int qv_remote__qv_domain_get_cpu_stats(qv_domain *dom, qv_cpu_stats *stats, int start_cpu,
                                       unsigned int ncpus, unsigned int flags, qv_error **err)
{
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_boolean(stats != NULL));
    json_object_array_add(a, json_object_new_int64(start_cpu));
    json_object_array_add(a, json_object_new_uint64(ncpus));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_get_cpu_stats", a, &o,
                                 err);
    if (r < 0 || !stats)
        return (int)r;
    json_object *list = out(o, 0);
    size_t n = MIN(len_of(list), ncpus);
    for (size_t i = 0; i < n; i++)
        qv_remote_get_qv_cpu_stats(out(list, i), &stats[i], sizeof stats[i], NULL);
    return (int)n;
}

static long long serve__qv_domain_get_cpu_stats(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    bool want = json_object_get_boolean(qv_remote_arg(q, 1));
    unsigned int n = (unsigned int)MIN(ARG_U(q, 3), QV_REMOTE_MAX_ENTRIES);
    g_autofree qv_cpu_stats *stats = want ? g_new0(qv_cpu_stats, n ? n : 1) : NULL;
    long long r = qv_domain_get_cpu_stats(self, stats, (int)ARG_I(q, 2), n,
                                          (unsigned int)ARG_U(q, 4), err);
    json_object *list = json_object_new_array();
    for (long long i = 0; want && i < r; i++) {
        json_object *e = json_object_new_object();
        qv_remote_put_qv_cpu_stats(e, &stats[i], sizeof stats[i]);
        json_object_array_add(list, e);
    }
    json_object_array_add(o, list);
    return r;
}

/* ---- arrays the call allocates ---- */

int qv_remote__qv_domain_get_security_label_list(qv_domain *dom, qv_security_label **labels,
                                                 qv_error **err)
{
    if (!labels)
        return qv_error_set(err, -EINVAL, "qv_domain_get_security_label_list: labels is "
                            "required");
    g_autoptr(json_object) a = new_args(dom);
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_get_security_label_list", a, &o, err);
    if (r < 0)
        return (int)r;
    json_object *list = out(o, 0);
    size_t n = len_of(list);
    *labels = calloc(n ? n : 1, sizeof **labels);
    for (size_t i = 0; i < n; i++)
        qv_remote_get_qv_security_label(out(list, i), &(*labels)[i], sizeof **labels, NULL);
    return (int)n;
}

static long long serve__qv_domain_get_security_label_list(qv_remote_req *q, json_object *o,
                                                          qv_error **err)
{
    SERVE_DOM(q, err);
    qv_security_label *labels = NULL;
    long long r = qv_domain_get_security_label_list(self, &labels, err);
    json_object *list = json_object_new_array();
    for (long long i = 0; i < r; i++) {
        json_object *e = json_object_new_object();
        qv_remote_put_qv_security_label(e, &labels[i], sizeof labels[i]);
        json_object_array_add(list, e);
    }
    free(labels);
    json_object_array_add(o, list);
    return r;
}

int qv_remote__qv_conn_get_node_cpu_map(qv_conn *conn, unsigned char **cpumap,
                                        unsigned int *online, unsigned int flags, qv_error **err)
{
    g_autoptr(json_object) a = json_object_new_array();
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(conn, "qv_conn_get_node_cpu_map", a, &o, err);
    if (r < 0)
        return (int)r;
    if (online)
        *online = (unsigned int)json_object_get_uint64(out(o, 1));
    if (cpumap) {
        gsize len = 0;
        const char *s = json_object_get_string(out(o, 0));
        g_autofree guchar *map = g_base64_decode(s ? s : "", &len);
        *cpumap = calloc(len ? len : 1, 1);
        memcpy(*cpumap, map, len);
    }
    return (int)r;
}

static long long serve__qv_conn_get_node_cpu_map(qv_remote_req *q, json_object *o, qv_error **err)
{
    unsigned char *map = NULL;
    unsigned int online = 0;
    long long r = qv_conn_get_node_cpu_map(q->conn, &map, &online, (unsigned int)ARG_U(q, 0),
                                           err);
    if (r >= 0) {
        json_object_array_add(o, b64(map, ((size_t)r + 7) / 8));
        json_object_array_add(o, json_object_new_uint64(online));
    }
    free(map);
    return r;
}

/* ---- a file descriptor's contents ---- */

int qv_remote__qv_domain_screenshot(qv_domain *dom, int fd, unsigned int screen,
                                    unsigned int flags, char **mimetype, qv_error **err)
{
    if (fd < 0)
        return qv_error_set(err, -EINVAL, "qv_domain_screenshot: fd is required");
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_uint64(screen));
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long r = qv_remote_call(dom->conn, "qv_domain_screenshot", a, &o, err);
    if (r < 0)
        return (int)r;
    gsize len = 0;
    const char *s = json_object_get_string(out(o, 0));
    g_autofree guchar *data = g_base64_decode(s ? s : "", &len);
    int w = qv_write_all(fd, data, len);
    if (w < 0)
        return qv_error_set_errno(err, w, "cannot write the screenshot");
    if (mimetype)
        *mimetype = qv_remote_take_str(out(o, 1));
    return (int)r;
}

static long long serve__qv_domain_screenshot(qv_remote_req *q, json_object *o, qv_error **err)
{
    SERVE_DOM(q, err);
    qv_autoclose int fd = memfd_create("qvirt-screenshot", MFD_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot make a file for the screenshot");
    g_autofree char *mime = NULL;
    long long r = qv_domain_screenshot(self, fd, (unsigned int)ARG_U(q, 1),
                                       (unsigned int)ARG_U(q, 2), &mime, err);
    if (r < 0)
        return r;
    off_t len = lseek(fd, 0, SEEK_END);
    if (len < 0 || (size_t)len > QV_REMOTE_MAX_BYTES * 4)
        return qv_error_set(err, -EFBIG, "the screenshot is too large to send");
    g_autofree char *data = g_malloc(len ? (size_t)len : 1);
    if (pread(fd, data, (size_t)len, 0) != len)
        return qv_error_set_errno(err, -errno, "cannot read the screenshot back");
    json_object_array_add(o, b64(data, (size_t)len));
    json_object_array_add(o, mime ? json_object_new_string(mime) : NULL);
    return r;
}

/* ---- streams: an ssh of their own ---- */

static int open_stream(qv_domain *dom, const char *fn, const char *name, unsigned int idx,
                       unsigned int flags, int *fd_out, qv_error **err)
{
    if (!fd_out)
        return qv_error_set(err, -EINVAL, "%s: fd_out is required", fn);
    g_autoptr(json_object) a = new_args(dom);
    if (name || !g_str_equal(fn, "qv_domain_open_graphics_fd"))
        json_object_array_add(a, name ? json_object_new_string(name) : NULL);
    else
        json_object_array_add(a, json_object_new_uint64(idx));
    json_object_array_add(a, json_object_new_uint64(flags));
    return qv_remote_call_stream(dom->conn, fn, a, NULL, fd_out, err);
}

int qv_remote__qv_domain_open_console(qv_domain *dom, const char *dev_name, int *fd_out,
                                      unsigned int flags, qv_error **err)
{
    return open_stream(dom, "qv_domain_open_console", dev_name, 0, flags, fd_out, err);
}

int qv_remote__qv_domain_open_channel(qv_domain *dom, const char *name, int *fd_out,
                                      unsigned int flags, qv_error **err)
{
    return open_stream(dom, "qv_domain_open_channel", name, 0, flags, fd_out, err);
}

int qv_remote__qv_domain_open_graphics_fd(qv_domain *dom, unsigned int idx, unsigned int flags,
                                          int *fd_out, qv_error **err)
{
    return open_stream(dom, "qv_domain_open_graphics_fd", NULL, idx, flags, fd_out, err);
}

static long long serve__qv_domain_open_console(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    return qv_domain_open_console(self, qv_remote_arg_str(q, 1), &q->stream_fd,
                                  (unsigned int)ARG_U(q, 2), err);
}

static long long serve__qv_domain_open_channel(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    return qv_domain_open_channel(self, qv_remote_arg_str(q, 1), &q->stream_fd,
                                  (unsigned int)ARG_U(q, 2), err);
}

static long long serve__qv_domain_open_graphics_fd(qv_remote_req *q, json_object *o,
                                                   qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    return qv_domain_open_graphics_fd(self, (unsigned int)ARG_U(q, 1), (unsigned int)ARG_U(q, 2),
                                      &q->stream_fd, err);
}

/* The journal is followed from here, before the reply: an event raised
 * once the client's registration returns is one the feed sends. */
static long long serve_events(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    int r = qv_conn_event_get_fd(q->conn, err);
    if (r < 0)
        return r;
    q->events = true;
    return 0;
}

/* ---- what cannot cross to another host ---- */

/* As libvirt's remote driver over ssh: file descriptors do not travel. */
int qv_remote__qv_domain_open_graphics(qv_domain *dom, unsigned int idx, int fd,
                                       unsigned int flags, qv_error **err)
{
    (void)idx;
    (void)fd;
    (void)flags;
    return qv_error_set(err, -ENOTSUP, "domain '%s': a file descriptor cannot be passed to "
                        "another host (%s); qv_domain_open_graphics_fd gives one to use instead",
                        dom->name, dom->conn->uri);
}

int qv_remote__qv_domain_create_with_files(qv_domain *dom, const int *fds, unsigned int nfds,
                                           unsigned int flags, qv_error **err)
{
    (void)fds;
    (void)flags;
    if (nfds == 0)
        return qv_remote__qv_domain_create(dom, flags, err);
    return qv_error_set(err, -ENOTSUP, "domain '%s': file descriptors cannot be passed to "
                        "another host (%s)", dom->name, dom->conn->uri);
}

int qv_remote__qv_conn_migrate_incoming(qv_conn *conn, int in_fd, int out_fd,
                                        unsigned int flags, qv_error **err)
{
    (void)in_fd;
    (void)out_fd;
    (void)flags;
    return qv_error_set(err, -EINVAL, "an incoming migration is served on the destination "
                        "host itself, not through %s", conn->uri);
}

/* ---- migration: the destination connection as a URI ---- */

/* The URI by which the remote host reaches dconn: its own local URI when
 * dconn is a connection of that same host, else dconn's qvirt+ssh:// URI
 * (the remote host then runs ssh itself, as libvirt's peer-to-peer
 * migration does). A local dconn of this host has no URI over there. */
static int dest_uri_for_remote(qv_domain *dom, qv_conn *dconn, char **uri, qv_error **err)
{
    if (!dconn)
        return qv_error_set(err, -EINVAL, "qv_domain_migrate: dconn is required");
    if (!dconn->remote)
        return qv_error_set(err, -EINVAL, "domain '%s' is on another host (%s): migrating it "
                            "to a local connection (%s) needs that connection's "
                            "qvirt+ssh:// URI as seen from there",
                            dom->name, dom->conn->uri, dconn->uri);
    g_auto(qv_ssh_uri) src = { 0 }, dst = { 0 };
    if (qv_ssh_uri_parse(dom->conn->uri, &src, err) < 0 ||
        qv_ssh_uri_parse(dconn->uri, &dst, err) < 0)
        return -EINVAL;
    bool same = g_strcmp0(src.host, dst.host) == 0 && src.port == dst.port &&
                g_strcmp0(src.user, dst.user) == 0;
    *uri = g_strdup(same ? dst.remote_uri : dconn->uri);
    return 0;
}

int qv_remote__qv_domain_migrate(qv_domain *dom, qv_conn *dconn, const qv_migrate_params *params,
                                 unsigned int flags, qv_domain **ret, qv_error **err)
{
    g_autofree char *uri = NULL;
    int r = dest_uri_for_remote(dom, dconn, &uri, err);
    if (r < 0)
        return r;
    g_autoptr(json_object) a = new_args(dom);
    json_object_array_add(a, json_object_new_string(uri));
    if (params) {
        json_object *p = json_object_new_object();
        qv_remote_put_qv_migrate_params(p, params, MIN(params->size, sizeof *params));
        json_object_object_add(p, "size", json_object_new_uint64(MIN(params->size,
                                                                     sizeof *params)));
        json_object_array_add(a, p);
    } else {
        json_object_array_add(a, NULL);
    }
    json_object_array_add(a, json_object_new_uint64(flags));
    g_autoptr(json_object) o = NULL;
    long long rc = qv_remote_call(dom->conn, "qv_domain_migrate", a, &o, err);
    if (rc < 0)
        return (int)rc;
    if (ret && (r = qv_conn_get_domain_by_name(dconn, qv_migrate_dest_name(dom, params), ret,
                                               err)) < 0)
        return r;
    return (int)rc;
}

static long long serve__qv_domain_migrate(qv_remote_req *q, json_object *o, qv_error **err)
{
    (void)o;
    SERVE_DOM(q, err);
    const char *uri = qv_remote_arg_str(q, 1);
    json_object *pj = qv_remote_arg(q, 2);
    qv_migrate_params p = { 0 };
    if (pj) {
        json_object *sz = json_object_object_get(pj, "size");
        p.size = sz ? MIN(json_object_get_uint64(sz), sizeof p) : 0;
        qv_remote_get_qv_migrate_params(pj, &p, p.size, q->keep);
    }
    qv_conn *dconn __attribute__((cleanup(qv_conn_closep))) = NULL;
    int r = qv_conn_open(uri, &dconn, err);
    if (r < 0)
        return r;
    return qv_domain_migrate(self, dconn, pj ? &p : NULL, (unsigned int)ARG_U(q, 3), NULL, err);
}

const qv_remote_handler qv_remote_special_handlers[] = {
    { "events", serve_events },
    { "qv_conn_get_node_cpu_map", serve__qv_conn_get_node_cpu_map },
    { "qv_domain_block_peek", serve__qv_domain_block_peek },
    { "qv_domain_get_cpu_stats", serve__qv_domain_get_cpu_stats },
    { "qv_domain_get_disk_errors", serve__qv_domain_get_disk_errors },
    { "qv_domain_get_emulator_pin_info", serve__qv_domain_get_emulator_pin_info },
    { "qv_domain_get_id", serve__qv_domain_get_id },
    { "qv_domain_get_security_label_list", serve__qv_domain_get_security_label_list },
    { "qv_domain_get_vcpu_info", serve__qv_domain_get_vcpu_info },
    { "qv_domain_get_vcpu_pin_info", serve__qv_domain_get_vcpu_pin_info },
    { "qv_domain_memory_peek", serve__qv_domain_memory_peek },
    { "qv_domain_memory_stats", serve__qv_domain_memory_stats },
    { "qv_domain_migrate", serve__qv_domain_migrate },
    { "qv_domain_open_channel", serve__qv_domain_open_channel },
    { "qv_domain_open_console", serve__qv_domain_open_console },
    { "qv_domain_open_graphics_fd", serve__qv_domain_open_graphics_fd },
    { "qv_domain_pin_emulator", serve__qv_domain_pin_emulator },
    { "qv_domain_pin_vcpu", serve__qv_domain_pin_vcpu },
    { "qv_domain_screenshot", serve__qv_domain_screenshot },
    { "qv_domain_send_key", serve__qv_domain_send_key },
};
const size_t qv_remote_n_special_handlers = G_N_ELEMENTS(qv_remote_special_handlers);
