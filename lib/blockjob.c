/* Block jobs (qvirt-blockjob.h): pull, rebase, copy, commit, abort/pivot,
 * info and speed, driven as libvirt drives QEMU 7.2 with -blockdev.
 *
 * A job is the domain's, not its starter's. Its intent (type, disk, the
 * chain as it was with each image's node names, top and base, the copy
 * target, whether a pivot or abort was asked) is written to the run folder
 * (blockjob-<alias>.json) before QEMU gets the job, so whoever finds it
 * concluded knows how to fix the graph: a caller that waits, any later
 * block job call of any process, the helper the supervisor runs on
 * JOB_STATUS_CHANGE "concluded" (qvirt-blockjob, qv_blockjob_helper_main),
 * or library code that ran the job holding the lifecycle lock throughout
 * (qv_blockjob_commit_locked: an external snapshot's delete).
 * Jobs run with auto-dismiss off; concluding is, under the lifecycle lock:
 * record the outcome (query-jobs has the error text) in the intent, then
 * job-dismiss, then blockdev-del the nodes nobody uses and their fdsets,
 * then write the new chain into the live XML and the config, then the
 * result file and the events, and last remove the intent. Every step after
 * the dismiss can run twice (a concluder killed half-way is followed by the
 * next), so the chain written is computed from the intent, not from the
 * XML as found.
 *
 * Node names: the start names a disk's nodes by position (cmdline-disk.c).
 * A job that changes the chain leaves nodes whose names no longer match
 * their position, so the names of each image of a changed chain are kept
 * in blocknodes-<alias>.json; qv_disk_node_names reads them.
 *
 * Backing images reach QEMU read-only, as fds. A commit writes its base
 * (and rewrites the backing name in top's overlay), so those nodes get a
 * read-write fd in their fdset and a blockdev-reopen first. The backing
 * names QEMU writes into headers are always the XML's paths, never
 * /dev/fdset/N. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "blockjob.h"
#include "qemu-files.h"
#include "qv-process.h"
#include "uri.h"

/* How long a call that waits for a job's end polls QEMU (growing to the
 * maximum), and how long an abort waits for QEMU to end the job. */
/* A waiter wakes when the supervisor writes blockstatus-ALIAS (QEMU's
 * JOB_STATUS_CHANGE) or a concluder removes the intent; without a
 * supervisor to write it, it looks at QEMU this often. */
#define BLOCKJOB_UNWATCHED_POLL_MS 200
#define BLOCKJOB_ABORT_WAIT_MS 60000

#define INTENT_FMT "blockjob-"
#define RESULT_FMT "blockresult-"
#define NODES_FMT "blocknodes-"

/* ---- the chain of a disk ------------------------------------------------- */

typedef struct chain_img {
    int type;       /* QV_DISK_TYPE_FILE or _BLOCK */
    char *path, *format, *fmt, *sto;
} chain_img;

static void chain_img_free(gpointer p)
{
    chain_img *c = p;
    g_free(c->path);
    g_free(c->format);
    g_free(c->fmt);
    g_free(c->sto);
    g_free(c);
}

static GPtrArray *chain_new(void)
{
    return g_ptr_array_new_with_free_func(chain_img_free);
}

static chain_img *img_new(int type, const char *path, const char *format, const char *fmt,
                          const char *sto)
{
    chain_img *c = g_new0(chain_img, 1);
    c->type = type;
    c->path = g_strdup(path);
    c->format = g_strdup(format ? format : "raw");
    c->fmt = g_strdup(fmt);
    c->sto = g_strdup(sto);
    return c;
}

/* A run file of disk alias: KIND-ALIAS.json. */
static char *domain_file_fmt(qv_domain *dom, const char *kind, const char *alias)
{
    g_autofree char *name = g_strconcat(kind, alias, ".json", NULL);
    return qv_domain_file(dom, name);
}

static json_object *read_json_file(const char *path)
{
    g_autofree char *text = NULL;
    if (qv_read_file(path, 1 << 20, &text, NULL, NULL) < 0)
        return NULL;
    return json_tokener_parse(text);
}

static int write_json_file(const char *path, json_object *o, qv_error **err)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    return qv_rt_write_runtime(path, s, len, err);
}

static json_object *img_to_json(const chain_img *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_int(c->type));
    json_object_object_add(o, "path", json_object_new_string(c->path));
    json_object_object_add(o, "format", json_object_new_string(c->format));
    json_object_object_add(o, "fmt", json_object_new_string(c->fmt));
    json_object_object_add(o, "sto", json_object_new_string(c->sto));
    return o;
}

static chain_img *img_from_json(json_object *o)
{
    const char *path = qv_json_get_str(o, "path"), *fmt = qv_json_get_str(o, "fmt"),
               *sto = qv_json_get_str(o, "sto");
    if (!path || !fmt || !sto)
        return NULL;
    return img_new((int)qv_json_get_int(o, "type", QV_DISK_TYPE_FILE), path,
                   qv_json_get_str(o, "format"), fmt, sto);
}

static json_object *chain_to_json(GPtrArray *chain)
{
    json_object *a = json_object_new_array();
    for (guint i = 0; i < chain->len; i++)
        json_object_array_add(a, img_to_json(chain->pdata[i]));
    return a;
}

static GPtrArray *chain_from_json(json_object *a)
{
    if (!json_object_is_type(a, json_type_array))
        return NULL;
    g_autoptr(GPtrArray) chain = chain_new();
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        chain_img *c = img_from_json(json_object_array_get_idx(a, i));
        if (!c)
            return NULL;
        g_ptr_array_add(chain, c);
    }
    return g_steal_pointer(&chain);
}

static int chain_nodes(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *out)
{
    g_autofree char *path = domain_file_fmt(dom, NODES_FMT, d->alias);
    g_autoptr(json_object) map = read_json_file(path);
    g_autoptr(GPtrArray) known = map ? chain_from_json(map) : NULL;
    /* The recorded names hold while the XML's chain is the recorded one
     * (a disk detached and attached again under its alias is not). */
    guint n = 0;
    bool match = known != NULL;
    for (const qv_domdef_disk_src *s = &d->src; s && s->path; s = s->backing, n++)
        match = match && n < known->len && !strcmp(((chain_img *)known->pdata[n])->path, s->path);
    match = match && n == known->len;
    n = 0;
    for (const qv_domdef_disk_src *s = &d->src; s && s->path; s = s->backing, n++) {
        if (match) {
            chain_img *k = known->pdata[n];
            g_ptr_array_add(out, img_new(s->type, s->path, s->format, k->fmt, k->sto));
        } else if (n == 0) {
            g_autofree char *f = g_strdup_printf("%s-format", d->alias);
            g_autofree char *st = g_strdup_printf("%s-storage", d->alias);
            g_ptr_array_add(out, img_new(s->type, s->path, s->format, f, st));
        } else {
            g_autofree char *f = g_strdup_printf("%s-b%u-format", d->alias, n);
            g_autofree char *st = g_strdup_printf("%s-b%u-storage", d->alias, n);
            g_ptr_array_add(out, img_new(s->type, s->path, s->format, f, st));
        }
    }
    return (int)n;
}

/* The chain of a disk as this file works with it. */
static GPtrArray *disk_chain(qv_domain *dom, const qv_domdef_disk *d)
{
    GPtrArray *chain = chain_new();
    chain_nodes(dom, d, chain);
    return chain;
}

int qv_disk_set_node_names(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *names,
                           qv_error **err)
{
    g_autoptr(GPtrArray) chain = chain_new();
    guint n = 0;
    for (const qv_domdef_disk_src *s = &d->src; s && s->path; s = s->backing, n++) {
        if (2 * n + 1 >= names->len)
            return qv_error_set(err, -EINVAL, "disk %s: %u node names for a chain of more "
                                "images", d->target_dev, names->len);
        g_ptr_array_add(chain, img_new(s->type, s->path, s->format, names->pdata[2 * n],
                                       names->pdata[2 * n + 1]));
    }
    if (2 * n != names->len)
        return qv_error_set(err, -EINVAL, "disk %s: %u node names for %u images",
                            d->target_dev, names->len, n);
    g_autofree char *path = domain_file_fmt(dom, NODES_FMT, d->alias);
    g_autoptr(json_object) o = chain_to_json(chain);
    return write_json_file(path, o, err);
}

void qv_disk_node_names(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *out)
{
    g_autoptr(GPtrArray) chain = disk_chain(dom, d);
    for (guint i = 0; i < chain->len; i++) {
        g_ptr_array_add(out, g_strdup(((chain_img *)chain->pdata[i])->fmt));
        g_ptr_array_add(out, g_strdup(((chain_img *)chain->pdata[i])->sto));
    }
}

/* libvirt's virDomainDiskByName: the target (vda) or the source path. */
static qv_domdef_disk *find_disk(qv_domain *dom, const qv_domdef *def, const char *name,
                                 qv_error **err)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->target_dev && !strcmp(d->target_dev, name))
            return d;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->src.path && !strcmp(d->src.path, name))
            return d;
    }
    qv_error_set(err, -ENOENT, "domain '%s' has no disk '%s' (name a disk by its target, e.g. "
                 "vda, or its source path)", dom->name, name);
    return NULL;
}

static qv_domdef_disk *find_alias(const qv_domdef *def, const char *alias)
{
    for (guint i = 0; def && i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->alias && !strcmp(d->alias, alias))
            return d;
    }
    return NULL;
}

static qv_domdef_disk *find_target(const qv_domdef *def, const char *target)
{
    for (guint i = 0; def && i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->target_dev && !strcmp(d->target_dev, target))
            return d;
    }
    return NULL;
}

/* Index of the image at path in chain, or -1. Paths are compared as given,
 * then by file identity (a path spelt differently). */
static int chain_find(GPtrArray *chain, const char *path)
{
    struct stat a, b;
    bool have = stat(path, &a) == 0;
    for (guint i = 0; i < chain->len; i++) {
        const chain_img *c = chain->pdata[i];
        if (!strcmp(c->path, path) ||
            (have && stat(c->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
            return (int)i;
    }
    return -1;
}

static char *job_id(const char *alias)
{
    return g_strdup_printf("qvblk-%s", alias);
}

static const char *qemu_type_name(int type)
{
    switch (type) {
    case QV_DOMAIN_BLOCK_JOB_TYPE_PULL: return "stream";
    case QV_DOMAIN_BLOCK_JOB_TYPE_COPY: return "mirror";
    case QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT: return "commit";
    case QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT: return "active-commit";
    default: return "unknown";
    }
}

static int type_of_qemu(const char *t)
{
    if (!t) return QV_DOMAIN_BLOCK_JOB_TYPE_UNKNOWN;
    if (!strcmp(t, "stream")) return QV_DOMAIN_BLOCK_JOB_TYPE_PULL;
    if (!strcmp(t, "mirror")) return QV_DOMAIN_BLOCK_JOB_TYPE_COPY;
    if (!strcmp(t, "commit")) return QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT;
    if (!strcmp(t, "backup")) return QV_DOMAIN_BLOCK_JOB_TYPE_BACKUP;
    return QV_DOMAIN_BLOCK_JOB_TYPE_UNKNOWN;
}

/* ---- small QMP steps ------------------------------------------------------- */

static json_object *obj_str(const char *key, const char *value)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, key, json_object_new_string(value));
    return a;
}

/* The job of this id in query-jobs (a new reference), or NULL. */
static int query_job(qv_domain *dom, const char *id, json_object **job, qv_error **err)
{
    *job = NULL;
    g_autoptr(json_object) jobs = NULL;
    int r = qv_domain_qmp_call(dom, "query-jobs", NULL, &jobs, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(jobs, json_type_array) && i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        const char *jid = qv_json_get_str(j, "id");
        if (jid && !strcmp(jid, id)) {
            *job = json_object_get(j);
            return 1;
        }
    }
    return 0;
}

/* query-block-jobs' entry of this job (speed, offset, len, ready). */
static int query_block_job(qv_domain *dom, const char *id, json_object **job, qv_error **err)
{
    *job = NULL;
    g_autoptr(json_object) jobs = NULL;
    int r = qv_domain_qmp_call(dom, "query-block-jobs", NULL, &jobs, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(jobs, json_type_array) && i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        const char *dev = qv_json_get_str(j, "device");
        if (dev && !strcmp(dev, id)) {
            *job = json_object_get(j);
            return 1;
        }
    }
    return 0;
}

/* The fdset ids whose fds carry this opaque name (a storage node's). */
static void fdsets_of(json_object *sets, const char *opaque, GArray *out)
{
    for (size_t i = 0; json_object_is_type(sets, json_type_array) && i < json_object_array_length(sets); i++) {
        json_object *set = json_object_array_get_idx(sets, i), *fds = qv_json_get(set, "fds");
        for (size_t k = 0; json_object_is_type(fds, json_type_array) && k < json_object_array_length(fds); k++) {
            const char *op = qv_json_get_str(json_object_array_get_idx(fds, k), "opaque");
            if (op && !strcmp(op, opaque)) {
                long long id = qv_json_get_int(set, "fdset-id", -1);
                g_array_append_val(out, id);
                break;
            }
        }
    }
}

/* Drops images' nodes (format, then storage, top first) and their fdsets;
 * a node already gone is no error: this may run a second time. */
static void drop_nodes(qv_domain *dom, GPtrArray *imgs)
{
    for (guint i = 0; i < imgs->len; i++) {
        const chain_img *c = imgs->pdata[i];
        qv_domain_qmp_call(dom, "blockdev-del", obj_str("node-name", c->fmt), NULL, NULL);
        qv_domain_qmp_call(dom, "blockdev-del", obj_str("node-name", c->sto), NULL, NULL);
    }
    g_autoptr(json_object) sets = NULL;
    if (qv_domain_qmp_call(dom, "query-fdsets", NULL, &sets, NULL) < 0)
        return;
    for (guint i = 0; i < imgs->len; i++) {
        g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(long long));
        fdsets_of(sets, ((chain_img *)imgs->pdata[i])->sto, ids);
        for (guint k = 0; k < ids->len; k++) {
            json_object *a = json_object_new_object();
            json_object_object_add(a, "fdset-id", json_object_new_int64(g_array_index(ids, long long, k)));
            qv_domain_qmp_call(dom, "remove-fd", a, NULL, NULL);
        }
    }
}

/* The storage node's options as the start gave them (cmdline-disk.c), but
 * writable, and the format node's over it: for blockdev-reopen. */
static json_object *reopen_opts(const chain_img *c, const char *backing, bool rw)
{
    json_object *list = json_object_new_array();
    json_object *st = json_object_new_object();
    json_object_object_add(st, "driver", json_object_new_string(c->type == QV_DISK_TYPE_BLOCK ? "host_device" : "file"));
    json_object_object_add(st, "node-name", json_object_new_string(c->sto));
    json_object_object_add(st, "filename", json_object_new_string(""));
    json_object_object_add(st, "read-only", json_object_new_boolean(!rw));
    json_object_object_add(st, "discard", json_object_new_string("ignore"));
    json_object_array_add(list, st);
    json_object *fm = json_object_new_object();
    json_object_object_add(fm, "driver", json_object_new_string(c->format));
    json_object_object_add(fm, "node-name", json_object_new_string(c->fmt));
    json_object_object_add(fm, "file", json_object_new_string(c->sto));
    json_object_object_add(fm, "read-only", json_object_new_boolean(!rw));
    if (!strcmp(c->format, "qcow2"))
        json_object_object_add(fm, "backing", backing ? json_object_new_string(backing) : NULL);
    json_object_array_add(list, fm);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "options", list);
    return a;
}

/* Makes a read-only image of the chain writable: a read-write fd joins its
 * fdset (QEMU picks the fd whose mode fits), then both its nodes are
 * reopened read-write. The filename is the one the node has. */
static int make_writable(qv_domain *dom, qv_qmp *qmp, GPtrArray *chain, guint idx, qv_error **err)
{
    const chain_img *c = chain->pdata[idx];
    const char *backing = idx + 1 < chain->len ? ((chain_img *)chain->pdata[idx + 1])->fmt : NULL;
    g_autoptr(json_object) sets = NULL;
    int r = qv_qmp_call(qmp, "query-fdsets", NULL, 0, &sets, err);
    if (r < 0)
        return r;
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(long long));
    fdsets_of(sets, c->sto, ids);
    if (ids->len != 1)
        return qv_error_set(err, -ENOENT, "domain '%s': QEMU has no file of image %s (fdset "
                            "of node %s)", dom->name, c->path, c->sto);
    long long set = g_array_index(ids, long long, 0);
    g_autofree char *file = g_strdup_printf("/dev/fdset/%lld", set);
    /* An image that was once the top (under an external snapshot's
     * overlay) has its read-write fd in the set already: a second open
     * file of it would only clash with the first's image locks. */
    {
        g_autoptr(json_object) opts = reopen_opts(c, backing, true);
        json_object *st = json_object_array_get_idx(qv_json_get(opts, "options"), 0);
        json_object_object_add(st, "filename", json_object_new_string(file));
        if (qv_qmp_call(qmp, "blockdev-reopen", json_object_get(opts), 0, NULL, NULL) == 0)
            return 0;
    }
    qv_autoclose int fd = open(c->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s for reading and writing", c->path);
    json_object *add = json_object_new_object();
    json_object_object_add(add, "fdset-id", json_object_new_int64(set));
    json_object_object_add(add, "opaque", json_object_new_string(c->sto));
    if ((r = qv_qmp_call_with_fd(qmp, "add-fd", add, fd, 0, NULL, err)) < 0)
        return r;
    g_autoptr(json_object) opts = reopen_opts(c, backing, true);
    json_object *st = json_object_array_get_idx(qv_json_get(opts, "options"), 0);
    json_object_object_add(st, "filename", json_object_new_string(file));
    return qv_qmp_call(qmp, "blockdev-reopen", json_object_get(opts), 0, NULL, err);
}

/* ---- intent and result ----------------------------------------------------- */

typedef struct intent {
    char *id, *alias, *target;
    int type;
    GPtrArray *chain;    /* as it was, top first */
    int top, base;       /* indexes into chain; base -1: none (a full pull) */
    chain_img *copy;     /* a copy's target */
    bool shallow, delete_files, pivot, aborting, concluded;
    int outcome;         /* QV_DOMAIN_BLOCK_JOB_* once concluded */
    char *error;
} intent;

static void intent_free(intent *in)
{
    if (!in)
        return;
    g_free(in->id);
    g_free(in->alias);
    g_free(in->target);
    if (in->chain)
        g_ptr_array_unref(in->chain);
    if (in->copy)
        chain_img_free(in->copy);
    g_free(in->error);
    g_free(in);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(intent, intent_free)

static int intent_write(qv_domain *dom, const intent *in, qv_error **err)
{
    g_autoptr(json_object) o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(in->id));
    json_object_object_add(o, "alias", json_object_new_string(in->alias));
    json_object_object_add(o, "target", json_object_new_string(in->target));
    json_object_object_add(o, "type", json_object_new_int(in->type));
    json_object_object_add(o, "chain", chain_to_json(in->chain));
    json_object_object_add(o, "top", json_object_new_int(in->top));
    json_object_object_add(o, "base", json_object_new_int(in->base));
    if (in->copy)
        json_object_object_add(o, "copy", img_to_json(in->copy));
    json_object_object_add(o, "shallow", json_object_new_boolean(in->shallow));
    json_object_object_add(o, "delete", json_object_new_boolean(in->delete_files));
    json_object_object_add(o, "pivot", json_object_new_boolean(in->pivot));
    json_object_object_add(o, "aborting", json_object_new_boolean(in->aborting));
    /* What the supervisor reads for READY events (it parses no XML). */
    json_object_object_add(o, "disk_path", json_object_new_string(((chain_img *)in->chain->pdata[0])->path));
    json_object_object_add(o, "qemu_type", json_object_new_string(qemu_type_name(in->type)));
    if (in->concluded) {
        json_object_object_add(o, "outcome", json_object_new_int(in->outcome));
        if (in->error)
            json_object_object_add(o, "error", json_object_new_string(in->error));
    }
    g_autofree char *path = domain_file_fmt(dom, INTENT_FMT, in->alias);
    return write_json_file(path, o, err);
}

static intent *intent_read(qv_domain *dom, const char *alias)
{
    g_autofree char *path = domain_file_fmt(dom, INTENT_FMT, alias);
    g_autoptr(json_object) o = read_json_file(path);
    if (!o)
        return NULL;
    g_autoptr(intent) in = g_new0(intent, 1);
    const char *id = qv_json_get_str(o, "id"), *al = qv_json_get_str(o, "alias"),
               *tg = qv_json_get_str(o, "target");
    in->chain = chain_from_json(qv_json_get(o, "chain"));
    if (!id || !al || !tg || !in->chain || !in->chain->len)
        return NULL;
    in->id = g_strdup(id);
    in->alias = g_strdup(al);
    in->target = g_strdup(tg);
    in->type = (int)qv_json_get_int(o, "type", 0);
    in->top = (int)qv_json_get_int(o, "top", 0);
    in->base = (int)qv_json_get_int(o, "base", -1);
    if (qv_json_get(o, "copy"))
        in->copy = img_from_json(qv_json_get(o, "copy"));
    in->shallow = json_object_get_boolean(qv_json_get(o, "shallow"));
    in->delete_files = json_object_get_boolean(qv_json_get(o, "delete"));
    in->pivot = json_object_get_boolean(qv_json_get(o, "pivot"));
    in->aborting = json_object_get_boolean(qv_json_get(o, "aborting"));
    in->concluded = qv_json_get(o, "outcome") != NULL;
    in->outcome = (int)qv_json_get_int(o, "outcome", 0);
    in->error = g_strdup(qv_json_get_str(o, "error"));
    if (in->top < 0 || in->top >= (int)in->chain->len || in->base >= (int)in->chain->len)
        return NULL;
    return g_steal_pointer(&in);
}

static void intent_remove(qv_domain *dom, const char *alias)
{
    g_autofree char *path = domain_file_fmt(dom, INTENT_FMT, alias);
    unlink(path);
}

/* ---- concluding ------------------------------------------------------------ */

/* The chain after the job, and the images nobody uses any more. */
static void chain_after(const intent *in, GPtrArray *after, GPtrArray *drop)
{
    GPtrArray *c = in->chain;
#define KEEP(i) g_ptr_array_add(after, img_new(((chain_img *)c->pdata[i])->type, ((chain_img *)c->pdata[i])->path, \
                                               ((chain_img *)c->pdata[i])->format, ((chain_img *)c->pdata[i])->fmt, \
                                               ((chain_img *)c->pdata[i])->sto))
#define DROP(i) g_ptr_array_add(drop, img_new(((chain_img *)c->pdata[i])->type, ((chain_img *)c->pdata[i])->path, \
                                              ((chain_img *)c->pdata[i])->format, ((chain_img *)c->pdata[i])->fmt, \
                                              ((chain_img *)c->pdata[i])->sto))
    bool done = in->outcome == QV_DOMAIN_BLOCK_JOB_COMPLETED;
    switch (done ? in->type : -1) {
    case QV_DOMAIN_BLOCK_JOB_TYPE_PULL:
        KEEP(0);
        for (guint i = 1; i < c->len; i++) {
            if (in->base >= 0 && (int)i >= in->base) KEEP(i); else DROP(i);
        }
        return;
    case QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT:
    case QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT:
        for (guint i = 0; i < c->len; i++) {
            if ((int)i < in->top || (int)i >= in->base) KEEP(i); else DROP(i);
        }
        return;
    case QV_DOMAIN_BLOCK_JOB_TYPE_COPY:
        g_ptr_array_add(after, img_new(in->copy->type, in->copy->path, in->copy->format,
                                       in->copy->fmt, in->copy->sto));
        for (guint i = 0; i < c->len; i++) {
            if (in->shallow && i > 0) KEEP(i); else DROP(i);
        }
        return;
    default:
        for (guint i = 0; i < c->len; i++)
            KEEP(i);
        if (in->copy)
            g_ptr_array_add(drop, img_new(in->copy->type, in->copy->path, in->copy->format,
                                          in->copy->fmt, in->copy->sto));
        return;
    }
#undef KEEP
#undef DROP
}

/* A disk source chain from images, top first. */
static void set_chain(qv_domdef_disk_src *src, GPtrArray *imgs, guint from, bool explicit_end)
{
    qv_domdef_disk_src_clear(src);
    memset(src, 0, sizeof *src);
    const chain_img *c = imgs->pdata[from];
    src->type = c->type;
    src->path = g_strdup(c->path);
    src->format = g_strdup(c->format);
    if (from + 1 < imgs->len) {
        src->has_backing = true;
        src->backing = g_new0(qv_domdef_disk_src, 1);
        set_chain(src->backing, imgs, from + 1, explicit_end);
    } else {
        src->has_backing = explicit_end;
    }
}

static bool chain_is(const qv_domdef_disk_src *s, GPtrArray *imgs)
{
    guint i = 0;
    for (; s && s->path; s = s->backing, i++)
        if (i >= imgs->len || strcmp(((chain_img *)imgs->pdata[i])->path, s->path))
            return false;
    return i == imgs->len;
}

/* The live XML, the config and the node names follow the chain after the
 * job. The config changes where its disk still has the old image on top;
 * it gets the whole chain only where it listed one (<backingStore>),
 * else the next start reads it from the images as always. */
static int fix_definitions(qv_domain *dom, const intent *in, GPtrArray *after, qv_error **err)
{
    g_autoptr(qv_domdef) live = NULL;
    int r = qv_domain_load_live(dom, &live, err);
    if (r < 0)
        return r == -ENOENT ? 0 : r;
    qv_domdef_disk *d = find_alias(live, in->alias);
    if (d && !chain_is(&d->src, after)) {
        set_chain(&d->src, after, 0, true);
        if ((r = qv_domain_save_live(dom, live, err)) < 0)
            return r;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < after->len; i++) {
        g_ptr_array_add(names, g_strdup(((chain_img *)after->pdata[i])->fmt));
        g_ptr_array_add(names, g_strdup(((chain_img *)after->pdata[i])->sto));
    }
    if (d && (r = qv_disk_set_node_names(dom, d, names, err)) < 0)
        return r;
    g_autoptr(qv_domdef) cfg = NULL;
    if (qv_domain_load_config(dom->conn, dom->name, &cfg, NULL) < 0)
        return 0;
    qv_domdef_disk *cd = find_target(cfg, in->target);
    const chain_img *old_top = in->chain->pdata[0], *new_top = after->pdata[0];
    if (!cd || !cd->src.path || (strcmp(cd->src.path, old_top->path) && strcmp(cd->src.path, new_top->path)))
        return 0;
    if (cd->src.has_backing) {
        if (chain_is(&cd->src, after))
            return 0;
        set_chain(&cd->src, after, 0, true);
    } else {
        if (!strcmp(cd->src.path, new_top->path) && !g_strcmp0(cd->src.format, new_top->format))
            return 0;
        g_free(cd->src.path);
        g_free(cd->src.format);
        cd->src.path = g_strdup(new_top->path);
        cd->src.format = g_strdup(new_top->format);
        cd->src.type = new_top->type;
    }
    return qv_domain_save_config(dom->conn, cfg, err);
}

static void emit_events(qv_domain *dom, const intent *in, int status, const char *error,
                        const char *disk_path)
{
    for (int k = 0; k < 2; k++) {
        json_object *x = json_object_new_object();
        json_object_object_add(x, "disk", json_object_new_string(k ? in->target : disk_path));
        json_object_object_add(x, "type", json_object_new_string(qemu_type_name(in->type)));
        json_object_object_add(x, "job_type", json_object_new_int(in->type));
        json_object_object_add(x, "status", json_object_new_int(status));
        if (error)
            json_object_object_add(x, "error", json_object_new_string(error));
        qv_conn_emit(dom->conn, dom->name, dom->uuid_str,
                     k ? QV_DOMAIN_EVENT_ID_BLOCK_JOB_2 : QV_DOMAIN_EVENT_ID_BLOCK_JOB, status, 0, x);
    }
}

/* Concludes the job of disk alias if QEMU ended it. The caller holds the
 * lifecycle lock. 1: concluded now; 0: still running, or nothing to do. */
static int conclude_locked(qv_domain *dom, const char *alias, qv_error **err)
{
    g_autoptr(intent) in = intent_read(dom, alias);
    if (!in)
        return 0;
    if (!in->concluded) {
        g_autoptr(json_object) job = NULL;
        int r = query_job(dom, in->id, &job, err);
        if (r < 0)
            return r;
        const char *status = qv_json_get_str(job, "status");
        if (r == 1 && g_strcmp0(status, "concluded"))
            return 0;
        const char *error = qv_json_get_str(job, "error");
        if (r == 0) {
            /* Dismissed by someone else (a raw QMP job-dismiss): how it
             * ended is unknown, so the chain is left as it was. */
            in->outcome = QV_DOMAIN_BLOCK_JOB_FAILED;
            in->error = g_strdup("the job is gone from QEMU (it never started, or was "
                                 "dismissed outside qvirt)");
            in->pivot = false;
        } else if (in->aborting) {
            in->outcome = QV_DOMAIN_BLOCK_JOB_CANCELED;
        } else if (error) {
            in->outcome = QV_DOMAIN_BLOCK_JOB_FAILED;
            in->error = g_strdup(error);
        } else if ((in->type == QV_DOMAIN_BLOCK_JOB_TYPE_COPY ||
                    in->type == QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT) && !in->pivot) {
            in->outcome = QV_DOMAIN_BLOCK_JOB_CANCELED;
        } else {
            in->outcome = QV_DOMAIN_BLOCK_JOB_COMPLETED;
        }
        in->concluded = true;
        if ((r = intent_write(dom, in, err)) < 0)
            return r;
        if (job)
            qv_domain_qmp_call(dom, "job-dismiss", obj_str("id", in->id), NULL, NULL);
    }
    g_autoptr(GPtrArray) after = chain_new(), drop = chain_new();
    chain_after(in, after, drop);
    drop_nodes(dom, drop);
    int r = fix_definitions(dom, in, after, err);
    if (r < 0)
        return r;
    if (in->outcome == QV_DOMAIN_BLOCK_JOB_COMPLETED && in->delete_files)
        for (guint i = 0; i < drop->len; i++)
            unlink(((chain_img *)drop->pdata[i])->path);
    g_autoptr(json_object) res = json_object_new_object();
    json_object_object_add(res, "status", json_object_new_int(in->outcome));
    json_object_object_add(res, "type", json_object_new_int(in->type));
    if (in->error)
        json_object_object_add(res, "error", json_object_new_string(in->error));
    g_autofree char *rpath = domain_file_fmt(dom, RESULT_FMT, alias);
    if ((r = write_json_file(rpath, res, err)) < 0)
        return r;
    emit_events(dom, in, in->outcome, in->error, ((chain_img *)after->pdata[0])->path);
    intent_remove(dom, alias);
    return 1;
}

/* The aliases of the disks that have an intent file. */
static GPtrArray *pending_aliases(qv_domain *dom)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d)))
        if (g_str_has_prefix(n, "blockjob-") && g_str_has_suffix(n, ".json"))
            g_ptr_array_add(out, g_strndup(n + 9, strlen(n) - 9 - 5));
    return out;
}

int qv_blockjob_busy_locked(qv_domain *dom, char **target, qv_error **err)
{
    *target = NULL;
    g_autoptr(GPtrArray) aliases = pending_aliases(dom);
    for (guint i = 0; i < aliases->len; i++) {
        int r = conclude_locked(dom, aliases->pdata[i], err);
        if (r < 0)
            return r;
        g_autoptr(intent) in = r == 0 ? intent_read(dom, aliases->pdata[i]) : NULL;
        if (in) {
            *target = g_strdup(in->target);
            return 1;
        }
    }
    return 0;
}

int qv_blockjob_conclude_all(qv_domain *dom, qv_error **err)
{
    g_autoptr(GPtrArray) aliases = pending_aliases(dom);
    if (!aliases->len)
        return 0;
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    if (!c.act.active || c.act.phase != QV_RUN_ON)
        return 0;
    int n = 0;
    for (guint i = 0; i < aliases->len; i++) {
        if ((r = conclude_locked(dom, aliases->pdata[i], err)) < 0)
            return r;
        n += r;
    }
    return n;
}

/* ---- waiting ---------------------------------------------------------------- */

/* Reads the result of the disk's last job: 0 and *status, or -ENOENT. */
static int read_result(qv_domain *dom, const char *alias, int *status, char **error)
{
    g_autofree char *path = domain_file_fmt(dom, RESULT_FMT, alias);
    g_autoptr(json_object) o = read_json_file(path);
    if (!o)
        return -ENOENT;
    *status = (int)qv_json_get_int(o, "status", QV_DOMAIN_BLOCK_JOB_FAILED);
    if (error)
        *error = g_strdup(qv_json_get_str(o, "error"));
    return 0;
}

/* Changes in the run folder (the supervisor's blockstatus-ALIAS, a
 * concluder's removal of the intent): what a waiter waits on. */
typedef struct job_watch {
    int fd;   /* inotify, or -1 (then the waiter polls) */
} job_watch;

static void job_watch_open(qv_domain *dom, job_watch *w)
{
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    if (w->fd >= 0 && inotify_add_watch(w->fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) < 0)
        qv_closep(&w->fd);
}

static void job_watch_close(job_watch *w)
{
    qv_closep(&w->fd);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(job_watch, job_watch_close)

/* Waits for a change, at most until deadline (monotonic us) and never
 * longer than BLOCKJOB_UNWATCHED_POLL_MS: the supervisor may be gone. */
static void job_watch_wait(job_watch *w, gint64 deadline)
{
    gint64 left = deadline == G_MAXINT64 ? BLOCKJOB_UNWATCHED_POLL_MS
                                          : (deadline - g_get_monotonic_time()) / 1000;
    int ms = (int)CLAMP(left, 0, BLOCKJOB_UNWATCHED_POLL_MS);
    struct pollfd p = { .fd = w->fd, .events = POLLIN };
    poll(&p, w->fd >= 0 ? 1 : 0, ms);
    char drain[4096];
    while (w->fd >= 0 && read(w->fd, drain, sizeof drain) > 0)
        ;
}

/* Waits (watching the run folder, no lock held) until the disk's job has ended and
 * was concluded, by this process or another. timeout_ms < 0: forever.
 * *status is how it ended; a failure's text goes to err. */
static int wait_job(qv_domain *dom, const char *alias, int timeout_ms, int *status, qv_error **err)
{
    g_autofree char *id = job_id(alias);
    gint64 deadline = timeout_ms < 0 ? G_MAXINT64 : g_get_monotonic_time() + timeout_ms * 1000LL;
    g_auto(job_watch) w = { -1 };
    job_watch_open(dom, &w);
    for (;;) {
        g_autoptr(intent) in = intent_read(dom, alias);
        if (!in)
            break;
        g_autoptr(json_object) job = NULL;
        int r = query_job(dom, id, &job, err);
        if (r < 0)
            return r;
        if (r == 0 || !g_strcmp0(qv_json_get_str(job, "status"), "concluded") || in->concluded) {
            if ((r = qv_blockjob_conclude_all(dom, err)) < 0)
                return r;
            continue;
        }
        if (g_get_monotonic_time() > deadline)
            return qv_error_set(err, -ETIMEDOUT, "the block job of disk %s of domain '%s' did not "
                                "end in time", in->target, dom->name);
        job_watch_wait(&w, deadline);
    }
    g_autofree char *error = NULL;
    if (read_result(dom, alias, status, &error) < 0)
        return qv_error_set(err, -EIO, "the block job of domain '%s' ended, but its outcome was "
                            "not recorded", dom->name);
    if (*status == QV_DOMAIN_BLOCK_JOB_FAILED)
        return qv_error_set(err, -EIO, "the block job of domain '%s' failed: %s", dom->name,
                            error ? error : "unknown error");
    return 0;
}

/* ---- starting a job --------------------------------------------------------- */

typedef struct job_ctx {
    qv_call c;
    qv_domdef_disk *disk;
    GPtrArray *chain;
} job_ctx;

static void job_ctx_clear(job_ctx *j)
{
    qv_call_end(&j->c);
    if (j->chain)
        g_ptr_array_unref(j->chain);
    j->chain = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(job_ctx, job_ctx_clear)

/* Takes the lifecycle lock (unless the caller holds it: locked),
 * concludes what QEMU ended, and finds the disk, which must have local
 * images and no job. */
static int job_begin(qv_domain *dom, const char *disk, const char *what, job_ctx *j,
                     bool want_job, bool locked, qv_error **err)
{
    memset(j, 0, sizeof *j);
    j->c = (qv_call)QV_CALL_INIT;
    if (!dom || !disk || !*disk)
        return qv_error_set(err, -EINVAL, "%s: dom and a disk name are required", what);
    int r;
    if (locked) {
        j->c.dom = dom;
        if ((r = qv_domain_load_def(dom, true, &j->c.live, err)) < 0)
            return r;
    } else if ((r = qv_domain_begin(dom, QV_DOMAIN_AFFECT_LIVE, &j->c, err)) < 0) {
        return r;
    }
    g_autoptr(GPtrArray) aliases = pending_aliases(dom);
    for (guint i = 0; i < aliases->len; i++)
        if ((r = conclude_locked(dom, aliases->pdata[i], err)) < 0)
            return r;
    if (aliases->len) {
        /* The live XML may have changed under the call: load it again. */
        qv_domdef_free(j->c.live);
        j->c.live = NULL;
        if ((r = qv_domain_load_def(dom, true, &j->c.live, err)) < 0)
            return r;
    }
    if (!(j->disk = find_disk(dom, j->c.live, disk, err)))
        return -ENOENT;
    qv_domdef_disk *d = j->disk;
    if (!d->alias || !d->src.path || (d->src.type != QV_DISK_TYPE_FILE && d->src.type != QV_DISK_TYPE_BLOCK))
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no local image for a block "
                            "job", d->target_dev, dom->name);
    j->chain = disk_chain(dom, d);
    g_autoptr(intent) in = intent_read(dom, d->alias);
    if (!want_job && in)
        return qv_error_set(err, -EBUSY, "disk %s of domain '%s' already has a block job",
                            d->target_dev, dom->name);
    if (want_job && !in)
        return qv_error_set(err, -ENOENT, "disk %s of domain '%s' has no block job",
                            d->target_dev, dom->name);
    return 0;
}

static unsigned long long speed_of(unsigned long bandwidth, bool bytes, qv_error **err, int *r)
{
    unsigned long long bw = bandwidth;
    if (!bytes) {
        if (bw > (unsigned long long)LLONG_MAX >> 20) {
            *r = qv_error_set(err, -EOVERFLOW, "bandwidth %lu MiB/s is too large", bandwidth);
            return 0;
        }
        bw <<= 20;
    }
    if (bw > (unsigned long long)LLONG_MAX)
        *r = qv_error_set(err, -EOVERFLOW, "bandwidth %llu bytes/s is too large", bw);
    return bw;
}

/* Records the intent, then starts the job; a start QEMU refuses leaves no
 * intent behind. */
static int start_job(qv_domain *dom, intent *in, const char *cmd, json_object *args, qv_error **err)
{
    int r = intent_write(dom, in, err);
    if (r < 0) {
        json_object_put(args);
        return r;
    }
    g_autofree char *rpath = domain_file_fmt(dom, RESULT_FMT, in->alias);
    unlink(rpath);
    json_object_object_add(args, "job-id", json_object_new_string(in->id));
    json_object_object_add(args, "auto-finalize", json_object_new_boolean(true));
    json_object_object_add(args, "auto-dismiss", json_object_new_boolean(false));
    qv_error *lerr = NULL;
    if ((r = qv_domain_qmp_call(dom, cmd, args, NULL, &lerr)) < 0) {
        /* QEMU refused: no job. A path that broke may have delivered the
         * command: the intent stays, and whoever concludes next finds the
         * job in QEMU, or finds it gone and says so. */
        if (qv_error_qmp_class(lerr))
            intent_remove(dom, in->alias);
        qv_error_propagate(err, lerr);
        if (err && *err)
            qv_error_prefix(*err, "cannot start the block job on disk %s of domain '%s'",
                            in->target, dom->name);
    }
    return r;
}

static intent *intent_for(job_ctx *j, int type)
{
    intent *in = g_new0(intent, 1);
    in->id = job_id(j->disk->alias);
    in->alias = g_strdup(j->disk->alias);
    in->target = g_strdup(j->disk->target_dev);
    in->type = type;
    in->chain = g_ptr_array_ref(j->chain);
    in->base = -1;
    return in;
}

/* The name QEMU writes into an overlay's header for its new backing
 * image: the XML's path, relative to the overlay with RELATIVE when both
 * sit in one folder. */
static char *backing_name(const chain_img *overlay, const chain_img *base, bool relative)
{
    g_autofree char *od = g_path_get_dirname(overlay->path);
    g_autofree char *bd = g_path_get_dirname(base->path);
    if (relative && !strcmp(od, bd))
        return g_path_get_basename(base->path);
    return g_strdup(base->path);
}

static int resolve_base(qv_domain *dom, job_ctx *j, const char *base, int *idx, qv_error **err)
{
    *idx = -1;
    if (!base)
        return 0;
    int i = chain_find(j->chain, base);
    if (i <= 0)
        return qv_error_set(err, -EINVAL, "'%s' is not a backing image of disk %s of domain '%s'",
                            base, j->disk->target_dev, dom->name);
    *idx = i;
    return 0;
}

static int do_pull(qv_domain *dom, const char *disk, const char *base, unsigned long long speed,
                   bool relative, qv_error **err)
{
    g_auto(job_ctx) j;
    int r = job_begin(dom, disk, "block_pull", &j, false, false, err);
    int bi = -1;
    if (r < 0 || (r = resolve_base(dom, &j, base, &bi, err)) < 0)
        return r;
    if (j.chain->len < 2)
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no backing image to pull",
                            j.disk->target_dev, dom->name);
    g_autoptr(intent) in = intent_for(&j, QV_DOMAIN_BLOCK_JOB_TYPE_PULL);
    in->base = bi;
    json_object *a = obj_str("device", ((chain_img *)j.chain->pdata[0])->fmt);
    if (bi > 0) {
        json_object_object_add(a, "base-node", json_object_new_string(((chain_img *)j.chain->pdata[bi])->fmt));
        g_autofree char *bn = backing_name(j.chain->pdata[0], j.chain->pdata[bi], relative);
        json_object_object_add(a, "backing-file", json_object_new_string(bn));
    }
    if (speed)
        json_object_object_add(a, "speed", json_object_new_int64((int64_t)speed));
    return start_job(dom, in, "block-stream", a, err);
}

int qv_domain_block_pull(qv_domain *dom, const char *disk, unsigned long bandwidth,
                         unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_block_pull(dom, disk, bandwidth, flags, err));
    if (flags & ~(unsigned)QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_block_pull: unsupported flags 0x%x", flags);
    int r = 0;
    unsigned long long speed = speed_of(bandwidth, flags & QV_DOMAIN_BLOCK_PULL_BANDWIDTH_BYTES, err, &r);
    return r < 0 ? r : do_pull(dom, disk, NULL, speed, false, err);
}

/* ---- commit ------------------------------------------------------------------ */

static int do_commit(qv_domain *dom, const char *disk, const char *base, const char *top,
                     unsigned long long speed, unsigned int flags, bool locked, char **alias_out,
                     qv_error **err)
{
    g_auto(job_ctx) j;
    int r = job_begin(dom, disk, "block_commit", &j, false, locked, err);
    if (r < 0)
        return r;
    GPtrArray *c = j.chain;
    const char *t = j.disk->target_dev;
    int ti = 0;
    if (top && (ti = chain_find(c, top)) < 0)
        return qv_error_set(err, -EINVAL, "'%s' is not an image of disk %s of domain '%s'", top, t,
                            dom->name);
    if (!top && !(flags & QV_DOMAIN_BLOCK_COMMIT_ACTIVE))
        ti = 1;
    if (ti == 0 && !(flags & QV_DOMAIN_BLOCK_COMMIT_ACTIVE))
        return qv_error_set(err, -EINVAL, "committing the active image of disk %s of domain '%s' "
                            "needs the ACTIVE flag (virsh: --active)", t, dom->name);
    int bi;
    if (base) {
        if ((bi = chain_find(c, base)) < 0)
            return qv_error_set(err, -EINVAL, "'%s' is not an image of disk %s of domain '%s'",
                                base, t, dom->name);
    } else {
        bi = (flags & QV_DOMAIN_BLOCK_COMMIT_SHALLOW) ? ti + 1 : (int)c->len - 1;
    }
    if (ti >= (int)c->len || bi <= ti || bi >= (int)c->len)
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no image below '%s' to "
                            "commit into", t, dom->name, ((chain_img *)c->pdata[MIN(ti, (int)c->len - 1)])->path);
    if ((flags & QV_DOMAIN_BLOCK_COMMIT_SHALLOW) && base && bi != ti + 1)
        return qv_error_set(err, -EINVAL, "SHALLOW commits into the image right below top, not '%s'", base);
    bool active = ti == 0;
    g_autoptr(intent) in = intent_for(&j, active ? QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT
                                                 : QV_DOMAIN_BLOCK_JOB_TYPE_COMMIT);
    in->top = ti;
    in->base = bi;
    in->delete_files = flags & QV_DOMAIN_BLOCK_COMMIT_DELETE;
    /* The base is written, and a non-active commit rewrites the backing
     * name in top's overlay: both must be writable. */
    qv_qmp *qmp = NULL;
    int qlock = -1;
    if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) < 0)
        return r;
    r = make_writable(dom, qmp, c, (guint)bi, err);
    if (r >= 0 && ti > 1)
        r = make_writable(dom, qmp, c, (guint)ti - 1, err);
    qv_domain_qmp_close(qmp, qlock);
    if (r < 0) {
        if (err && *err)
            qv_error_prefix(*err, "cannot make the images of disk %s writable for the commit", t);
        return r;
    }
    /* The root node: a throttle filter when the disk was started with
     * <iotune>. */
    g_autofree char *root = NULL;
    if ((r = qv_disk_root_node(dom, j.disk, &root, err)) < 0)
        return r;
    json_object *a = obj_str("device", root);
    json_object_object_add(a, "top-node", json_object_new_string(((chain_img *)c->pdata[ti])->fmt));
    json_object_object_add(a, "base-node", json_object_new_string(((chain_img *)c->pdata[bi])->fmt));
    if (!active) {
        g_autofree char *bn = backing_name(c->pdata[ti - 1], c->pdata[bi],
                                           flags & QV_DOMAIN_BLOCK_COMMIT_RELATIVE);
        json_object_object_add(a, "backing-file", json_object_new_string(bn));
    }
    if (speed)
        json_object_object_add(a, "speed", json_object_new_int64((int64_t)speed));
    r = start_job(dom, in, "block-commit", a, err);
    if (r >= 0 && alias_out)
        *alias_out = g_strdup(j.disk->alias);
    return r;
}

int qv_domain_block_commit(qv_domain *dom, const char *disk, const char *base, const char *top,
                           unsigned long bandwidth, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_block_commit(dom, disk, base, top, bandwidth, flags, err));
    const unsigned int known = QV_DOMAIN_BLOCK_COMMIT_SHALLOW | QV_DOMAIN_BLOCK_COMMIT_DELETE |
                               QV_DOMAIN_BLOCK_COMMIT_ACTIVE | QV_DOMAIN_BLOCK_COMMIT_RELATIVE |
                               QV_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_block_commit: unsupported flags 0x%x", flags & ~known);
    int r = 0;
    unsigned long long speed = speed_of(bandwidth, flags & QV_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES, err, &r);
    return r < 0 ? r : do_commit(dom, disk, base, top, speed, flags, false, NULL, err);
}

/* Asks QEMU to pivot a READY copy or active commit (job-complete), the
 * wish recorded in the intent first so that whoever concludes the job
 * knows it completed. The caller holds the lifecycle lock. */
static int pivot_locked(qv_domain *dom, intent *in, qv_error **err)
{
    g_autoptr(json_object) bj = NULL;
    int r = query_block_job(dom, in->id, &bj, err);
    if (r < 0)
        return r;
    if (r == 0 || !json_object_get_boolean(qv_json_get(bj, "ready")))
        return qv_error_set(err, -EBUSY, "the block job of disk %s of domain '%s' is not "
                            "ready for pivot yet", in->target, dom->name);
    in->pivot = true;
    if ((r = intent_write(dom, in, err)) < 0)
        return r;
    if ((r = qv_domain_qmp_call(dom, "job-complete", obj_str("id", in->id), NULL, err)) < 0) {
        in->pivot = false;
        intent_write(dom, in, NULL);
    }
    return r;
}

int qv_blockjob_commit_locked(qv_domain *dom, const char *disk, const char *top,
                              const char *base, unsigned int flags, qv_error **err)
{
    g_autofree char *alias = NULL;
    flags = (flags & QV_DOMAIN_BLOCK_COMMIT_DELETE) | QV_DOMAIN_BLOCK_COMMIT_ACTIVE;
    int r = do_commit(dom, disk, base, top, 0, flags, true, &alias, err);
    if (r < 0)
        return r;
    /* The lock is ours, so nobody else concludes the job: wait for QEMU
     * (the supervisor's blockstatus file wakes us), pivot an active commit
     * once READY, and conclude it here. */
    g_autofree char *id = job_id(alias);
    g_auto(job_watch) w = { -1 };
    job_watch_open(dom, &w);
    for (;;) {
        g_autoptr(intent) in = intent_read(dom, alias);
        if (!in)
            break;
        g_autoptr(json_object) bj = NULL;
        if ((r = query_block_job(dom, id, &bj, err)) < 0)
            return r;
        bool ended = r == 0 || !g_strcmp0(qv_json_get_str(bj, "status"), "concluded");
        if (!ended && !in->pivot && in->type == QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT &&
            json_object_get_boolean(qv_json_get(bj, "ready"))) {
            if ((r = pivot_locked(dom, in, err)) < 0)
                return r;
            continue;
        }
        if (ended || in->concluded) {
            if ((r = conclude_locked(dom, alias, err)) < 0)
                return r;
            if (r == 1)
                break;
        }
        job_watch_wait(&w, G_MAXINT64);
    }
    int status = QV_DOMAIN_BLOCK_JOB_FAILED;
    g_autofree char *error = NULL;
    if (read_result(dom, alias, &status, &error) < 0)
        return qv_error_set(err, -EIO, "the block commit of disk %s of domain '%s' ended, but its "
                            "outcome was not recorded", disk, dom->name);
    if (status != QV_DOMAIN_BLOCK_JOB_COMPLETED)
        return qv_error_set(err, -EIO, "the block commit of disk %s of domain '%s' %s: %s", disk,
                            dom->name, status == QV_DOMAIN_BLOCK_JOB_FAILED ? "failed" : "was "
                            "cancelled", error ? error : "no reason given");
    return 0;
}

int qv_blockjob_commit_sync(qv_domain *dom, const char *disk, const char *top, const char *base,
                            qv_error **err)
{
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0)
        return r;
    if (c.act.phase != QV_RUN_ON)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    return qv_blockjob_commit_locked(dom, disk, top, base, 0, err);
}

/* ---- copy -------------------------------------------------------------------- */

/* qemu-img create as the caller: the new image is the caller's file. */
static int create_image(const char *path, const char *format, unsigned long long size,
                        const chain_img *backing, qv_error **err)
{
    g_autofree char *sz = g_strdup_printf("%llu", size);
    if (backing)
        return qv_qemu_img((const char *const[]){ "create", "-q", "-f", format, "-b",
                                                   backing->path, "-F", backing->format, path,
                                                   sz, NULL }, err);
    return qv_qemu_img((const char *const[]){ "create", "-q", "-f", format, path, sz, NULL }, err);
}

static int disk_size(qv_domain *dom, const char *node, unsigned long long *size, qv_error **err)
{
    g_autoptr(json_object) nodes = NULL;
    int r = qv_domain_qmp_call(dom, "query-named-block-nodes", NULL, &nodes, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(nodes, json_type_array) && i < json_object_array_length(nodes); i++) {
        json_object *n = json_object_array_get_idx(nodes, i);
        if (!g_strcmp0(qv_json_get_str(n, "node-name"), node)) {
            *size = (unsigned long long)qv_json_get_int(qv_json_get(n, "image"), "virtual-size", 0);
            return 0;
        }
    }
    return qv_error_set(err, -ENOENT, "domain '%s': QEMU has no node %s", dom->name, node);
}

typedef struct copy_dest {
    const char *path;
    const char *format;     /* NULL: qcow2, or raw for a block device */
    int type;
    bool reuse, shallow, sync_writes;
    unsigned long long speed, buf_size;
    unsigned int granularity;
} copy_dest;

/* Adds the copy's nodes (its file as an fd in a new fdset); a shallow copy
 * gets the disk's backing chain as its backing. */
static int add_target(qv_domain *dom, job_ctx *j, const chain_img *t, bool shallow, qv_error **err)
{
    qv_qmp *qmp = NULL;
    int qlock = -1;
    int r = qv_domain_qmp_open(dom, &qmp, &qlock, err);
    if (r < 0)
        return r;
    unsigned int set = qv_qmp_next_fdset(qmp);
    qv_autoclose int fd = open(t->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        r = qv_error_set_errno(err, -errno, "cannot open %s for reading and writing", t->path);
    json_object *add = json_object_new_object();
    json_object_object_add(add, "fdset-id", json_object_new_int64(set));
    json_object_object_add(add, "opaque", json_object_new_string(t->sto));
    if (r >= 0)
        r = qv_qmp_call_with_fd(qmp, "add-fd", add, fd, 0, NULL, err);
    else
        json_object_put(add);
    g_autofree char *file = g_strdup_printf("/dev/fdset/%u", set);
    if (r >= 0) {
        json_object *st = obj_str("driver", t->type == QV_DISK_TYPE_BLOCK ? "host_device" : "file");
        json_object_object_add(st, "node-name", json_object_new_string(t->sto));
        json_object_object_add(st, "filename", json_object_new_string(file));
        json_object_object_add(st, "discard", json_object_new_string("ignore"));
        r = qv_qmp_call(qmp, "blockdev-add", st, 0, NULL, err);
    }
    if (r >= 0) {
        json_object *fm = obj_str("driver", t->format);
        json_object_object_add(fm, "node-name", json_object_new_string(t->fmt));
        json_object_object_add(fm, "file", json_object_new_string(t->sto));
        if (!strcmp(t->format, "qcow2"))
            json_object_object_add(fm, "backing", shallow && j->chain->len > 1
                                   ? json_object_new_string(((chain_img *)j->chain->pdata[1])->fmt) : NULL);
        r = qv_qmp_call(qmp, "blockdev-add", fm, 0, NULL, err);
        if (r < 0)
            qv_qmp_call(qmp, "blockdev-del", obj_str("node-name", t->sto), 0, NULL, NULL);
    }
    if (r < 0) {
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int64(set));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
    }
    qv_domain_qmp_close(qmp, qlock);
    return r;
}

static int do_copy(qv_domain *dom, const char *disk, const copy_dest *dst, qv_error **err)
{
    g_auto(job_ctx) j;
    int r = job_begin(dom, disk, "block_copy", &j, false, false, err);
    if (r < 0)
        return r;
    const chain_img *top = j.chain->pdata[0];
    const char *format = dst->format ? dst->format : dst->type == QV_DISK_TYPE_BLOCK ? "raw" : "qcow2";
    bool shallow = dst->shallow && j.chain->len > 1;
    if (shallow && strcmp(format, "qcow2"))
        return qv_error_set(err, -EINVAL, "a shallow copy needs a qcow2 destination to carry the "
                            "backing chain, not %s", format);
    if (chain_find(j.chain, dst->path) >= 0)
        return qv_error_set(err, -EINVAL, "'%s' is already an image of disk %s", dst->path,
                            j.disk->target_dev);
    if (!dst->reuse) {
        if (dst->type == QV_DISK_TYPE_BLOCK)
            return qv_error_set(err, -EINVAL, "a copy to a block device reuses it: give REUSE_EXT");
        if (access(dst->path, F_OK) == 0)
            return qv_error_set(err, -EEXIST, "the copy destination %s exists; give REUSE_EXT to "
                                "use it", dst->path);
        unsigned long long size = 0;
        if ((r = disk_size(dom, top->fmt, &size, err)) < 0 ||
            (r = create_image(dst->path, format, size, shallow ? j.chain->pdata[1] : NULL, err)) < 0)
            return r;
    }
    /* New node names, kept until the next start (blocknodes-<alias>.json):
     * a number no image of the chain has (node names are at most 31
     * characters, so a long alias gives way to a short prefix). */
    g_autofree char *fmtn = NULL, *ston = NULL;
    for (unsigned int seq = (unsigned int)(g_get_real_time() % 100000);; seq++) {
        g_free(fmtn);
        g_free(ston);
        fmtn = g_strdup_printf("%s-c%u-format", j.disk->alias, seq);
        ston = g_strdup_printf("%s-c%u-storage", j.disk->alias, seq);
        if (strlen(ston) > 31) {
            g_free(fmtn);
            g_free(ston);
            fmtn = g_strdup_printf("qvc%u-format", seq);
            ston = g_strdup_printf("qvc%u-storage", seq);
        }
        bool used = false;
        for (guint i = 0; i < j.chain->len; i++)
            used = used || !strcmp(((chain_img *)j.chain->pdata[i])->fmt, fmtn) ||
                   !strcmp(((chain_img *)j.chain->pdata[i])->sto, ston);
        if (!used)
            break;
    }
    chain_img *t = img_new(dst->type, dst->path, format, fmtn, ston);
    g_autoptr(intent) in = intent_for(&j, QV_DOMAIN_BLOCK_JOB_TYPE_COPY);
    in->copy = t;
    in->shallow = shallow;
    if ((r = add_target(dom, &j, t, shallow, err)) < 0)
        return r;
    g_autofree char *root = NULL;
    if ((r = qv_disk_root_node(dom, j.disk, &root, err)) < 0)
        return r;
    json_object *a = obj_str("device", root);
    json_object_object_add(a, "target", json_object_new_string(t->fmt));
    json_object_object_add(a, "replaces", json_object_new_string(top->fmt));
    json_object_object_add(a, "sync", json_object_new_string(shallow ? "top" : "full"));
    if (dst->sync_writes)
        json_object_object_add(a, "copy-mode", json_object_new_string("write-blocking"));
    if (dst->speed)
        json_object_object_add(a, "speed", json_object_new_int64((int64_t)dst->speed));
    if (dst->granularity)
        json_object_object_add(a, "granularity", json_object_new_int64(dst->granularity));
    if (dst->buf_size)
        json_object_object_add(a, "buf-size", json_object_new_int64((int64_t)dst->buf_size));
    if ((r = start_job(dom, in, "blockdev-mirror", a, err)) < 0) {
        g_autoptr(GPtrArray) drop = chain_new();
        g_ptr_array_add(drop, img_new(t->type, t->path, t->format, t->fmt, t->sto));
        drop_nodes(dom, drop);
    }
    return r;
}

static int do_rebase(qv_domain *dom, const char *disk, const char *base, unsigned long bandwidth,
                     unsigned int flags, qv_error **err)
{
    int r = 0;
    unsigned long long speed = speed_of(bandwidth, flags & QV_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES, err, &r);
    if (r < 0)
        return r;
    if (!(flags & QV_DOMAIN_BLOCK_REBASE_COPY)) {
        if (flags & (QV_DOMAIN_BLOCK_REBASE_SHALLOW | QV_DOMAIN_BLOCK_REBASE_REUSE_EXT |
                     QV_DOMAIN_BLOCK_REBASE_COPY_RAW | QV_DOMAIN_BLOCK_REBASE_COPY_DEV))
            return qv_error_set(err, -EINVAL, "block_rebase: SHALLOW, REUSE_EXT, COPY_RAW and "
                                "COPY_DEV go with COPY");
        return do_pull(dom, disk, base, speed, flags & QV_DOMAIN_BLOCK_REBASE_RELATIVE, err);
    }
    if (!base || !*base)
        return qv_error_set(err, -EINVAL, "block_rebase with COPY needs the destination path");
    if (flags & QV_DOMAIN_BLOCK_REBASE_RELATIVE)
        return qv_error_set(err, -EINVAL, "block_rebase: RELATIVE does not go with COPY");
    copy_dest d = {
        .path = base,
        .format = (flags & QV_DOMAIN_BLOCK_REBASE_COPY_RAW) ? "raw" : NULL,
        .type = (flags & QV_DOMAIN_BLOCK_REBASE_COPY_DEV) ? QV_DISK_TYPE_BLOCK : QV_DISK_TYPE_FILE,
        .reuse = flags & QV_DOMAIN_BLOCK_REBASE_REUSE_EXT,
        .shallow = flags & QV_DOMAIN_BLOCK_REBASE_SHALLOW,
        .speed = speed,
    };
    return do_copy(dom, disk, &d, err);
}

int qv_domain_block_rebase(qv_domain *dom, const char *disk, const char *base,
                           unsigned long bandwidth, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_block_rebase(dom, disk, base, bandwidth, flags, err));
    const unsigned int known = QV_DOMAIN_BLOCK_REBASE_SHALLOW | QV_DOMAIN_BLOCK_REBASE_REUSE_EXT |
                               QV_DOMAIN_BLOCK_REBASE_COPY_RAW | QV_DOMAIN_BLOCK_REBASE_COPY |
                               QV_DOMAIN_BLOCK_REBASE_RELATIVE | QV_DOMAIN_BLOCK_REBASE_COPY_DEV |
                               QV_DOMAIN_BLOCK_REBASE_BANDWIDTH_BYTES;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_block_rebase: unsupported flags 0x%x", flags & ~known);
    return do_rebase(dom, disk, base && *base ? base : NULL, bandwidth, flags, err);
}

int qv_domain_block_copy(qv_domain *dom, const char *disk, const char *destxml,
                         const qv_block_copy_params *params, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_block_copy(dom, disk, destxml, params, flags, err));
    const unsigned int known = QV_DOMAIN_BLOCK_COPY_SHALLOW | QV_DOMAIN_BLOCK_COPY_REUSE_EXT |
                               QV_DOMAIN_BLOCK_COPY_TRANSIENT_JOB |
                               QV_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_block_copy: unsupported flags 0x%x", flags & ~known);
    if (!destxml)
        return qv_error_set(err, -EINVAL, "qv_domain_block_copy: destxml is required");
    if (params && params->size < sizeof(size_t))
        return qv_error_set(err, -EINVAL, "qv_domain_block_copy: params->size is not set");
    /* The destination needs no <target> (libvirt ignores one); the disk
     * parser does, so one it never uses stands in. */
    g_autofree char *xml = NULL;
    const char *close_tag = g_strrstr(destxml, "</disk>");
    if (!strstr(destxml, "<target") && close_tag)
        xml = g_strdup_printf("%.*s<target dev='vdzz' bus='virtio'/>%s",
                              (int)(close_tag - destxml), destxml, close_tag);
    g_autoptr(qv_domdef) holder = NULL;
    qv_domdef_devref match = { 0 };
    int r = qv_domxml_parse_device_match(xml ? xml : destxml, &holder, &match, err);
    if (r < 0)
        return r;
    const qv_domdef_disk *dd = match.dev;
    if (match.cls != QV_DEVCLASS_DISK || !dd->src.path ||
        (dd->src.type != QV_DISK_TYPE_FILE && dd->src.type != QV_DISK_TYPE_BLOCK))
        return qv_error_set(err, -EINVAL, "block_copy: the destination must be a <disk> of type "
                            "file or block with a <source>");
    copy_dest d = {
        .path = dd->src.path, .format = dd->src.format, .type = dd->src.type,
        .reuse = flags & QV_DOMAIN_BLOCK_COPY_REUSE_EXT,
        .shallow = flags & QV_DOMAIN_BLOCK_COPY_SHALLOW,
        .sync_writes = flags & QV_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES,
    };
#define PARAM(field) (params && params->size >= offsetof(qv_block_copy_params, field) + sizeof params->field ? params->field : 0)
    d.speed = PARAM(bandwidth);
    d.granularity = PARAM(granularity);
    d.buf_size = PARAM(buf_size);
#undef PARAM
    return do_copy(dom, disk, &d, err);
}

/* ---- abort, pivot, info, speed -------------------------------------------------- */

int qv_domain_abort_block_job(qv_domain *dom, const char *disk, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_abort_block_job(dom, disk, flags, err));
    const unsigned int known = QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC | QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_abort_block_job: unsupported flags 0x%x", flags & ~known);
    g_autofree char *alias = NULL;
    bool pivot = flags & QV_DOMAIN_BLOCK_JOB_ABORT_PIVOT;
    {
        g_auto(job_ctx) j;
        int r = job_begin(dom, disk, "abort_block_job", &j, true, false, err);
        if (r < 0)
            return r;
        alias = g_strdup(j.disk->alias);
        g_autoptr(intent) in = intent_read(dom, alias);
        if (!in)
            return qv_error_set(err, -ENOENT, "disk %s of domain '%s' has no block job",
                                j.disk->target_dev, dom->name);
        if (pivot) {
            if (in->type != QV_DOMAIN_BLOCK_JOB_TYPE_COPY &&
                in->type != QV_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT)
                return qv_error_set(err, -EINVAL, "the block job of disk %s of domain '%s' is a "
                                    "%s: only a copy or an active commit can pivot",
                                    in->target, dom->name, qemu_type_name(in->type));
            if ((r = pivot_locked(dom, in, err)) < 0)
                return r;
        } else {
            bool was = in->aborting;
            in->aborting = true;
            if ((r = intent_write(dom, in, err)) < 0)
                return r;
            json_object *a = obj_str("device", in->id);
            json_object_object_add(a, "force", json_object_new_boolean(false));
            if ((r = qv_domain_qmp_call(dom, "block-job-cancel", a, NULL, err)) < 0) {
                in->aborting = was;
                intent_write(dom, in, NULL);
                return r;
            }
        }
    }
    if (flags & QV_DOMAIN_BLOCK_JOB_ABORT_ASYNC)
        return 0;
    int status = 0;
    int r = wait_job(dom, alias, BLOCKJOB_ABORT_WAIT_MS, &status, err);
    if (r < 0)
        return r;
    if (pivot && status != QV_DOMAIN_BLOCK_JOB_COMPLETED)
        return qv_error_set(err, -EIO, "the pivot of disk %s of domain '%s' did not complete",
                            disk, dom->name);
    return 0;
}

int qv_domain_get_block_job_info(qv_domain *dom, const char *disk, qv_block_job_info *info,
                                 unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_block_job_info(dom, disk, info, flags, err));
    if (!info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_block_job_info: info is required");
    if (flags & ~(unsigned)QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_get_block_job_info: unsupported flags 0x%x", flags);
    if (!dom || !disk || !*disk)
        return qv_error_set(err, -EINVAL, "get_block_job_info: dom and a disk name are required");
    memset(info, 0, sizeof *info);
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) live = NULL;
    if ((r = qv_domain_load_def(dom, true, &live, err)) < 0)
        return r;
    const qv_domdef_disk *d = find_disk(dom, live, disk, err);
    if (!d)
        return -ENOENT;
    if (!d->alias)
        return 0;
    g_autoptr(intent) in = intent_read(dom, d->alias);
    if (!in)
        return 0;
    g_autofree char *id = job_id(d->alias);
    g_autoptr(json_object) bj = NULL;
    if ((r = query_block_job(dom, id, &bj, err)) < 0)
        return r;
    if (r == 0 || !g_strcmp0(qv_json_get_str(bj, "status"), "concluded")) {
        /* Ended: concluded here, so that "no job" and the XML agree. */
        return (r = qv_blockjob_conclude_all(dom, err)) < 0 ? r : 0;
    }
    info->type = in ? in->type : type_of_qemu(qv_json_get_str(bj, "type"));
    unsigned long long speed = (unsigned long long)qv_json_get_int(bj, "speed", 0);
    info->bandwidth = (flags & QV_DOMAIN_BLOCK_JOB_INFO_BANDWIDTH_BYTES) ? speed : speed >> 20;
    info->cur = (unsigned long long)qv_json_get_int(bj, "offset", 0);
    info->end = (unsigned long long)qv_json_get_int(bj, "len", 0);
    info->ready = json_object_get_boolean(qv_json_get(bj, "ready"));
    return 1;
}

int qv_domain_set_block_job_speed(qv_domain *dom, const char *disk, unsigned long bandwidth,
                                  unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_set_block_job_speed(dom, disk, bandwidth, flags, err));
    if (flags & ~(unsigned)QV_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_set_block_job_speed: unsupported flags 0x%x", flags);
    int r = 0;
    unsigned long long speed = speed_of(bandwidth, flags & QV_DOMAIN_BLOCK_JOB_SPEED_BANDWIDTH_BYTES, err, &r);
    if (r < 0)
        return r;
    g_auto(job_ctx) j;
    if ((r = job_begin(dom, disk, "set_block_job_speed", &j, true, false, err)) < 0)
        return r;
    g_autofree char *id = job_id(j.disk->alias);
    json_object *a = obj_str("device", id);
    json_object_object_add(a, "speed", json_object_new_int64((int64_t)speed));
    return qv_domain_qmp_call(dom, "block-job-set-speed", a, NULL, err);
}

/* ---- the supervisor's helper -------------------------------------------------- */

int qv_blockjob_helper_main(int argc, char **argv)
{
    const char *config = NULL, *run = NULL, *name = NULL, *commit = NULL, *top = NULL, *base = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--config-dir")) config = argv[i + 1];
        else if (!strcmp(argv[i], "--run-dir")) run = argv[i + 1];
        else if (!strcmp(argv[i], "--name")) name = argv[i + 1];
        else if (!strcmp(argv[i], "--commit")) commit = argv[i + 1];
        else if (!strcmp(argv[i], "--top")) top = argv[i + 1];
        else if (!strcmp(argv[i], "--base")) base = argv[i + 1];
    }
    if (!config || !run || !name) {
        fprintf(stderr, "usage: qvirt-blockjob --config-dir DIR --run-dir DIR --name NAME "
                "[--commit DISK [--top PATH] [--base PATH]]\n");
        return 2;
    }
    g_autoptr(qv_error) err = NULL;
    qv_conn *conn = NULL;
    qv_domain *dom = NULL;
    int r = qv_conn_open_paths(config, run, &conn, &err);
    if (r >= 0)
        r = qv_conn_get_domain_by_name(conn, name, &dom, &err);
    /* --commit: qv_blockjob_commit_sync by hand (and for its test). */
    if (r >= 0)
        r = commit ? qv_blockjob_commit_sync(dom, commit, top, base, &err)
                   : qv_blockjob_conclude_all(dom, &err);
    if (r < 0)
        fprintf(stderr, "qvirt-blockjob: domain '%s': %s\n", name, qv_error_message(err));
    qv_domain_free(dom);
    qv_conn_close(conn);
    return r < 0 ? 1 : 0;
}
