/* Internal helpers of the domain XML layer. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <glib.h>
#include <json-c/json.h>
#include <libxml/tree.h>

#include "domdef.h"
#include "qv-error.h"
#include "qv-json.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* ---- model lifetime (domdef.c) ---- */
void qv_domdef_addr_clear(qv_domdef_addr *a);
void qv_domdef_disk_src_clear(qv_domdef_disk_src *s);
void qv_domdef_disk_host_free(void *p);
void qv_domdef_chr_source_clear(qv_domdef_chr_source *s);
void qv_domdef_disk_free(void *p);
void qv_domdef_controller_free(void *p);
void qv_domdef_net_free(void *p);
void qv_domdef_chr_free(void *p);
void qv_domdef_graphics_free(void *p);
void qv_domdef_video_free(void *p);
void qv_domdef_input_free(void *p);
void qv_domdef_sound_free(void *p);
void qv_domdef_audio_free(void *p);
void qv_domdef_hugepage_free(void *p);
/* def's rarely used settings, made on first use. */
qv_domdef_rare *qv_domdef_rare_get(qv_domdef *def);
void qv_domdef_memballoon_free(void *p);
void qv_domdef_watchdog_free(void *p);
void qv_domdef_rng_free(void *p);
void qv_domdef_panic_free(void *p);
void qv_domdef_shmem_free(void *p);
void qv_domdef_vsock_free(void *p);
void qv_domdef_iommu_free(void *p);
void qv_domdef_tpm_free(void *p);
void qv_domdef_smartcard_free(void *p);
void qv_domdef_redirdev_free(void *p);
void qv_domdef_hub_free(void *p);
void qv_domdef_hostdev_free(void *p);
void qv_domdef_fs_free(void *p);
void qv_domdef_memdev_free(void *p);
void qv_domdef_metadata_elem_free(void *p);
void qv_domdef_tune_clear(qv_domdef *def);

/* ---- parser helpers (parse-util.c) ---- */
/* Parse state: the XPath-like location used in error messages. */
typedef struct qv_parse_ctx {
    unsigned int flags;
    qv_error **err;
} qv_parse_ctx;

/* Parses xml (a "domain" or "device" document, named so in errors) with
 * the safe options and a per-thread parser context; refuses DOCTYPEs. The
 * returned tree's text nodes must not be modified (they are compact). */
int qv_xml_read(const char *xml, const char *what, xmlDoc **ret, qv_error **err);
/* prefix followed by n in decimal ("net" 0 -> "net0"): device aliases and
 * bus names are made for every device on every parse and build, where
 * printf was a noticeable share of the cost. */
char *qv_strdup_uint(const char *prefix, unsigned int n);
/* g_strconcat(a, b, NULL) without its varargs passes, which cost several
 * times the copy on the argv build's many short names. */
char *qv_strcat2(const char *a, const char *b);
/* prefix, then the count numbers of v in decimal joined by sep
 * ("ide", '-', {0,1,0} -> "ide0-1-0"). */
char *qv_strdup_uints(const char *prefix, char sep, size_t count, const unsigned int *v);
/* prefix followed by n in decimal, a negative n with its sign. */
char *qv_strdup_int(const char *prefix, int n);
/* strcmp(a, b) == 0 for the short element, attribute and enum names the
 * parser compares by the hundred per domain: inline, it costs less than
 * the call into libc's vectorised strcmp. */
static inline bool qv_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}
/* First element child named name, or NULL. */
xmlNode *qv_xml_child(const xmlNode *node, const char *name);
/* Attribute value borrowed from the tree (valid while the document is), or
 * NULL: for values that are only compared or parsed. When the value has to
 * be assembled (several child nodes), the copy is stored in *tmp for the
 * caller to free. */
const char *qv_xml_attr(const xmlNode *node, const char *name, char **tmp);
/* Attribute value copied with g_strdup, or NULL. */
char *qv_xml_prop(const xmlNode *node, const char *name);
/* Replaces the string *field with value (owned), freeing the old one. Every
 * parsed string is stored through this: an element repeated where one is
 * expected (two <target>s, two <source>s) sets its fields again, and the
 * later one wins instead of leaking the earlier value. */
static inline void qv_set_str(char **field, char *value)
{
    g_free(*field);
    *field = value;
}
/* Text content copied with g_strdup (stripped), or NULL for no element. */
char *qv_xml_text(const xmlNode *node);
/* Text of the first child element named name. */
char *qv_xml_child_text(const xmlNode *node, const char *name);
/* The node serialised verbatim (for kept elements); newlines inside its
 * content are first made immune to re-indentation (see parse-util.c). */
char *qv_xml_dump(xmlNode *node);
/* 1-based index of node among its element siblings of the same name. */
unsigned int qv_xml_index(const xmlNode *node);
/* "/domain/devices/disk[2]/driver"-style location of node. */
char *qv_xml_path(const xmlNode *node);
/* Sets an error "<path>: <message>" for node. Returns -EINVAL. */
int qv_xml_error(qv_error **err, const xmlNode *node, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Same, for an attribute of node: "<path>/@attr: <message>". */
int qv_xml_attr_error(qv_error **err, const xmlNode *node, const char *attr, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Unsigned attribute; *out unchanged when absent. Returns 1 present, 0 absent, <0 error. */
int qv_xml_prop_uint(const xmlNode *node, const char *name, unsigned int *out, qv_error **err);
int qv_xml_prop_int(const xmlNode *node, const char *name, int *out, qv_error **err);
int qv_xml_prop_ull(const xmlNode *node, const char *name, unsigned long long *out, qv_error **err);
/* "yes"/"no" or "on"/"off" attribute into a tristate. */
int qv_xml_prop_tristate(const xmlNode *node, const char *name, int *out, qv_error **err);
/* Attribute that must be one of the NULL-terminated list; copied to *out. */
int qv_xml_prop_enum(const xmlNode *node, const char *name, const char *const *allowed,
                     char **out, qv_error **err);
/* Parses a number + unit (libvirt scaled integer) into bytes. */
int qv_xml_scaled_bytes(const xmlNode *node, const char *default_unit, unsigned long long *bytes,
                        qv_error **err);
/* Parses a number + unit (libvirt scaled integer) into KiB, rounding up. */
int qv_xml_scaled_kib(const xmlNode *node, const char *default_unit, unsigned long long *kib,
                      qv_error **err);
int qv_parse_uint_str(const char *s, int base, unsigned long long max, unsigned long long *out);

/* ---- devices (parse-devices.c) ---- */
int qv_parse_devices(qv_domdef *def, xmlNode *devices, unsigned int flags, qv_error **err);
int qv_parse_address(const xmlNode *dev, qv_domdef_addr *addr, qv_error **err);
int qv_parse_chr_source(const xmlNode *dev, qv_domdef_chr_source *src, const char *type,
                        qv_error **err);
void qv_parse_alias(const xmlNode *dev, unsigned int flags, char **alias);

/* ---- post-parse defaults (postparse.c) ---- */
/* tune.c: <cputune>, <memtune>, <blkiotune>, <numatune> */
int qv_parse_cputune(qv_domdef *def, const xmlNode *node, qv_error **err);
int qv_parse_memtune(qv_domdef *def, const xmlNode *node, qv_error **err);
int qv_parse_blkiotune(qv_domdef *def, const xmlNode *node, qv_error **err);
int qv_parse_numatune(qv_domdef *def, const xmlNode *node, qv_error **err);
int qv_tune_validate(const qv_domdef *def, qv_error **err);
/* A cpuset attribute ("CPU" or "NUMA node" list), checked and stored
 * canonical in *out; absent: 0 and *out untouched unless required. */
int qv_xml_prop_cpuset(const xmlNode *n, const char *attr, const char *what, bool required,
                       char **out, qv_error **err);
void qv_fmt_cputune(GString *buf, const qv_domdef *def);
void qv_fmt_memtune(GString *buf, const qv_domdef *def);
void qv_fmt_blkiotune(GString *buf, const qv_domdef *def);
void qv_fmt_numatune(GString *buf, const qv_domdef *def);

int qv_domdef_post_parse(qv_domdef *def, qv_error **err);

/* ---- formatter (format*.c) ---- */
void qv_xml_escape_append(GString *buf, const char *s);
/* Appends " name='value'" when value is not NULL. */
void qv_fmt_attr(GString *buf, const char *name, const char *value);
void qv_fmt_attr_uint(GString *buf, const char *name, unsigned long long value);
void qv_fmt_indent(GString *buf, int depth);
void qv_fmt_text_elem(GString *buf, int depth, const char *name, const char *text);
/* The offloads of qv_domdef_net: element (host or guest), attribute, and
 * the virtio-net-pci property libvirt sets from it. */
typedef struct qv_net_offload_name {
    const char *elem, *attr, *prop;
} qv_net_offload_name;
extern const qv_net_offload_name qv_net_offloads[QV_NET_N_OFFLOADS];
const char *qv_tri_yesno(int tri);
const char *qv_tri_onoff(int tri);
void qv_fmt_address(GString *buf, int depth, const qv_domdef_addr *addr);
void qv_fmt_alias(GString *buf, int depth, const char *alias, unsigned int flags);
void qv_fmt_chr_source(GString *buf, int depth, const qv_domdef_chr_source *src, unsigned int flags);
void qv_format_devices(GString *buf, const qv_domdef *def, unsigned int flags);

/* ---- argv builder (cmdline*.c) ---- */
typedef struct qv_cmdline {
    GPtrArray *argv;          /* char*, owned */
    const qv_domdef *def;
    const qv_build_ctx *ctx;
    bool q35;
    bool kvm;
    GString *cpu_extra;       /* ",+feature" additions to -cpu */
    /* Hotplug: when set, the JSON options are collected here as
     * qv_hotplug_item instead of becoming argv (see hotplug.c). */
    GPtrArray *capture;
    unsigned int next_fdset;  /* the next fdset id (ctx->files) */
} qv_cmdline;

/* The name QEMU opens path by: "/dev/fdset/N" with the fds the context's
 * opener gave (added as -add-fd, or captured as "-add-fd" items with the
 * fd), else path itself. flags are open(2)'s. NULL with *err set when a file cannot be opened. */
char *qv_cmdline_file(qv_cmdline *cl, const char *path, int flags, const char *opaque,
                      qv_error **err);
/* A device QEMU is to get as an fd property (vhost-scsi's vhostfd): with
 * the context's opener, path opened and the fd's number, or (capture mode)
 * the name a "-getfd" item ("fd-ID") gives it; *ret NULL without an opener
 * (QEMU opens the device itself). */
int qv_cmdline_fd(qv_cmdline *cl, const char *path, int flags, const char *id, char **ret,
                  qv_error **err);
/* A unix socket QEMU listens on (listen) or connects to, when the
 * context's opener makes it: the fd's number for the command line, or
 * (capture mode) the name a "-getfd" item gives it. *ret NULL when QEMU
 * is to bind or connect to path itself. */
int qv_cmdline_socket(qv_cmdline *cl, const char *path, const char *id, bool listen, char **ret,
                      qv_error **err);

/* A -device/-blockdev/-netdev/-object value being built (cmdline.c): JSON
 * text written member by member for the command line, or a json-c object
 * when cl->capture collects QMP arguments for a hotplug. */
typedef struct qv_jobj qv_jobj;
qv_jobj *qv_jobj_new(const qv_cmdline *cl);
void qv_jobj_free(qv_jobj *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_jobj, qv_jobj_free)
/* New -device object {"driver":driver,"id":id}. */
qv_jobj *qv_json_device(const qv_cmdline *cl, const char *driver, const char *id);
/* Members, in the order they are set; each key is set at most once. A
 * NULL string value sets nothing. */
void qv_json_set_str(qv_jobj *o, const char *key, const char *value);
void qv_json_set_int(qv_jobj *o, const char *key, long long value);
void qv_json_set_bool(qv_jobj *o, const char *key, bool value);
void qv_json_set_null(qv_jobj *o, const char *key);
void qv_json_set_uint_list(qv_jobj *o, const char *key, const unsigned int *v, size_t n);
/* Opens a nested object as member key; the setters fill it until
 * qv_json_close(). */
void qv_json_open(qv_jobj *o, const char *key);
void qv_json_close(qv_jobj *o);
/* A list of objects under key: qv_json_open_item() ... qv_json_close() per
 * object, then qv_json_close_list(). */
void qv_json_open_list(qv_jobj *o, const char *key);
void qv_json_set_str_list(qv_jobj *o, const char *key, const char *const *v, size_t n);
void qv_json_open_item(qv_jobj *o);
void qv_json_close_list(qv_jobj *o);
/* How a storage node opens file (a path, or qv_cmdline_file's fdset): a
 * path with auto-read-only, as libvirt does; an fdset exactly as its one fd
 * was opened, since QEMU can take no other access mode from it. */
void qv_cmdline_storage_access(qv_jobj *node, const char *file, bool writes);
/* An iSCSI host device's backend: its auth secret object and a -blockdev
 * of QEMU's iscsi driver named node (cmdline-disk.c). */
int qv_cmdline_add_iscsi_backend(qv_cmdline *cl, const qv_domdef_hostdev *h, const char *node,
                                 qv_error **err);

/* QEMU 7.2's name for a virtio device of libvirt model (virtio, NULL,
 * virtio-transitional, virtio-non-transitional): base itself or with its
 * -transitional/-non-transitional suffix. g_free(). */
char *qv_virtio_device_name(const char *base, const char *model);
/* A virtio-transitional device keeps its legacy (I/O port) interface: on
 * q35 it goes on conventional PCI, as libvirt places it. */
static inline bool qv_virtio_transitional(const char *model)
{
    return model && qv_streq(model, "virtio-transitional");
}

void qv_cmdline_add(qv_cmdline *cl, const char *arg);
void qv_cmdline_add2(qv_cmdline *cl, const char *opt, const char *value);
void qv_cmdline_addf(qv_cmdline *cl, const char *opt, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Adds opt followed by the JSON of obj (consumed); in capture mode, a
 * hotplug item with obj's json-c object as its arguments. */
void qv_cmdline_add_json(qv_cmdline *cl, const char *opt, qv_jobj *obj);
/* Capture mode: a hotplug item opt with args (consumed). */
void qv_cmdline_capture(qv_cmdline *cl, const char *opt, json_object *args);
/* The flags every JSON option value is serialised with. */
#define QV_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* obj as json-c would print it with QV_JSON_FLAGS, newly allocated; the
 * same escaping as the qv_jobj writer. */
char *qv_json_to_string(json_object *obj);
/* Appends ",key=value" with the value's commas doubled. */
void qv_opt_append(GString *s, const char *key, const char *value);
/* Adds "bus"/"addr" (PCI), "bus"/"port" (USB) etc. from addr. */
int qv_cmdline_set_address(qv_cmdline *cl, qv_jobj *dev, const qv_domdef_addr *addr,
                           const char *what, qv_error **err);
/* Builds the chardev option "-chardev TYPE,id=ID,..." for src. */
int qv_cmdline_add_chardev(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id,
                           const char *default_socket_name, qv_error **err);

/* The QMP chardev-add backend ("backend" member) of src. */
int qv_chardev_backend_json(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id,
                            const char *default_socket_name, json_object **ret, qv_error **err);

/* One device each: shared by the argv builder and hotplug. */
int qv_cmdline_add_disk(qv_cmdline *cl, const qv_domdef_disk *d, qv_error **err);
int qv_cmdline_add_net(qv_cmdline *cl, const qv_domdef_net *n, qv_error **err);
int qv_cmdline_add_chr(qv_cmdline *cl, const qv_domdef_chr *c, qv_error **err);
int qv_cmdline_add_input(qv_cmdline *cl, const qv_domdef_input *in, qv_error **err);
/* The memory backend object (id) of memory device m; its file (nvdimm,
 * virtio-pmem) through the context's opener. */
int qv_cmdline_add_mem_backend(qv_cmdline *cl, const qv_domdef_memdev *m, const char *id, qv_error **err);
int qv_cmdline_add_rng(qv_cmdline *cl, const qv_domdef_rng *r, qv_error **err);
int qv_cmdline_add_watchdog(qv_cmdline *cl, const qv_domdef_watchdog *w, qv_error **err);

int qv_cmdline_add_disks(qv_cmdline *cl, qv_error **err);
int qv_cmdline_add_controllers(qv_cmdline *cl, qv_error **err);
int qv_cmdline_add_nets(qv_cmdline *cl, qv_error **err);
/* The caller's resolution of an <interface type='network'> name, or NULL. */
const qv_network_resolution *qv_cmdline_find_network(const qv_cmdline *cl, const char *name);
int qv_cmdline_add_chrs(qv_cmdline *cl, qv_error **err);
int qv_cmdline_add_graphics(qv_cmdline *cl, qv_error **err);
int qv_cmdline_add_video_input_sound(qv_cmdline *cl, qv_error **err);
int qv_cmdline_add_misc(qv_cmdline *cl, qv_error **err);
