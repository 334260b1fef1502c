/* Snapshots (qvirt-snapshot.h).
 *
 * Metadata: one file per snapshot, <config>/snapshot/DOMAIN/SNAP.xml (the
 * <domainsnapshot> with the domain as it was), and the current snapshot's
 * name in <config>/snapshot/DOMAIN/current, each written atomically, like
 * libvirt's /var/lib/libvirt/qemu/snapshot/. Every call reads them afresh,
 * under the domain's lifecycle lock when it changes them, so any process of
 * the connection sees the same tree and a crash leaves whole files.
 *
 * Internal snapshots of a running domain are QEMU's snapshot-save,
 * snapshot-load and snapshot-delete jobs (QEMU 6.0+), run on qmp.sock
 * while holding qmp.lock: the job's own STOP and RESUME are then seen by
 * the supervisor only after the state is written (README, "Commands").
 * Shut-off domains use qemu-img as the caller. External disk-only
 * snapshots make qcow2 overlays (qemu-img create as the caller), hand them
 * to QEMU as fds and put them on every disk in one transaction of
 * blockdev-snapshot actions; deleting one merges them back by block
 * commits (blockjob.h), run under the delete's lifecycle lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "blockjob.h"
#include "job.h"
#include "qemu-files.h"
#include "qv-log.h"
#include "qv-process.h"
#include "snapshot.h"

/* How long a snapshot job (snapshot-save/-load/-delete) may run: it writes
 * or reads the guest's whole RAM and the disks' tables. */
#define QV_SNAPSHOT_JOB_TIMEOUT_MS (10 * 60 * 1000)
/* How long QEMU gets between SIGTERM and SIGKILL when a snapshot halts it. */
#define QV_SNAPSHOT_HALT_GRACE_MS 10000
/* The guest agent's fsfreeze calls (QUIESCE). */
#define QV_SNAPSHOT_FREEZE_MS 60000

#define CURRENT_FILE "current"

struct qv_snapshot {
    qv_domain *dom;
    char *name;
};

/* ---- metadata storage --------------------------------------------------- */

static char *snap_dir(qv_domain *dom)
{
    return g_build_filename(dom->conn->paths.config_dir, "snapshot", dom->name, NULL);
}

static char *snap_file(qv_domain *dom, const char *name)
{
    g_autofree char *dir = snap_dir(dom);
    g_autofree char *base = g_strconcat(name, ".xml", NULL);
    return g_build_filename(dir, base, NULL);
}

/* Every snapshot of the domain, by name. */
typedef struct snap_tree {
    GPtrArray *all;   /* qv_snapdef, sorted by creation time then name */
    char *current;    /* NULL: none */
} snap_tree;

static void snap_tree_clear(snap_tree *t)
{
    g_clear_pointer(&t->all, g_ptr_array_unref);
    g_clear_pointer(&t->current, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(snap_tree, snap_tree_clear)

static gint by_time(gconstpointer a, gconstpointer b)
{
    const qv_snapdef *x = *(qv_snapdef *const *)a, *y = *(qv_snapdef *const *)b;
    if (x->creation_time != y->creation_time)
        return x->creation_time < y->creation_time ? -1 : 1;
    return strcmp(x->name, y->name);
}

static qv_snapdef *tree_find(const snap_tree *t, const char *name)
{
    for (guint i = 0; name && i < t->all->len; i++) {
        qv_snapdef *s = g_ptr_array_index(t->all, i);
        if (!strcmp(s->name, name))
            return s;
    }
    return NULL;
}

static int load_tree(qv_domain *dom, snap_tree *t, qv_error **err)
{
    t->all = g_ptr_array_new_with_free_func((GDestroyNotify)qv_snapdef_free);
    g_autofree char *dir = snap_dir(dom);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (!d)
        return 0;
    const char *ent;
    while ((ent = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, ent, NULL);
        if (!strcmp(ent, CURRENT_FILE)) {
            g_autofree char *cur = NULL;
            if (qv_read_file(path, 4096, &cur, NULL, NULL) >= 0 && *g_strstrip(cur))
                t->current = g_steal_pointer(&cur);
            continue;
        }
        if (!g_str_has_suffix(ent, ".xml"))
            continue;   /* a temporary of an atomic write */
        g_autofree char *xml = NULL;
        int r = qv_read_file(path, QV_DOMXML_MAX_SIZE, &xml, NULL, err);
        qv_snapdef *s = NULL;
        if (r >= 0 && (r = qv_snapxml_parse(xml, QV_SNAPXML_PARSE_REDEFINE, &s, err)) < 0 && err &&
            *err)
            qv_error_prefix(*err, "stored snapshot %s", path);
        if (r < 0)
            return r;
        g_ptr_array_add(t->all, s);
    }
    g_ptr_array_sort(t->all, by_time);
    if (t->current && !tree_find(t, t->current))
        g_clear_pointer(&t->current, g_free);
    return 0;
}

static int save_snap(qv_domain *dom, const qv_snapdef *s, qv_error **err)
{
    g_autofree char *dir = snap_dir(dom);
    int r = qv_rt_mkdirs(dir, err);
    if (r < 0)
        return r;
    g_autofree char *path = snap_file(dom, s->name);
    g_autofree char *xml = qv_snapxml_format(s, QV_SNAPXML_FORMAT_SECURE);
    return qv_rt_write_atomic(path, xml, strlen(xml), err);
}

static int remove_snap_file(qv_domain *dom, const char *name, qv_error **err)
{
    g_autofree char *path = snap_file(dom, name);
    if (unlink(path) < 0 && errno != ENOENT)
        return qv_error_set_errno(err, -errno, "cannot remove %s", path);
    return 0;
}

static int set_current(qv_domain *dom, const char *name, qv_error **err)
{
    g_autofree char *dir = snap_dir(dom);
    g_autofree char *path = g_build_filename(dir, CURRENT_FILE, NULL);
    if (!name) {
        if (unlink(path) < 0 && errno != ENOENT)
            return qv_error_set_errno(err, -errno, "cannot remove %s", path);
        return 0;
    }
    int r = qv_rt_mkdirs(dir, err);
    return r < 0 ? r : qv_rt_write_atomic(path, name, strlen(name), err);
}

/* Used by undefine (lifecycle.c) and list_all_domains (conn.c). */
int qv_domain_snapshot_count(qv_conn *conn, const char *name)
{
    g_autofree char *dir = g_build_filename(conn->paths.config_dir, "snapshot", name, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    int n = 0;
    const char *ent;
    while (d && (ent = g_dir_read_name(d)))
        n += g_str_has_suffix(ent, ".xml");
    return n;
}

void qv_domain_snapshot_remove_all(qv_conn *conn, const char *name)
{
    g_autofree char *dir = g_build_filename(conn->paths.config_dir, "snapshot", name, NULL);
    qv_rt_remove_tree(dir);
}

/* ---- classification ----------------------------------------------------- */

static bool snap_is_external(const qv_snapdef *s)
{
    if (s->memory == QV_SNAP_LOC_EXTERNAL)
        return true;
    for (guint i = 0; i < s->disks->len; i++)
        if (((qv_snapdef_disk *)g_ptr_array_index(s->disks, i))->snapshot == QV_SNAP_LOC_EXTERNAL)
            return true;
    return false;
}

static bool state_is(const qv_snapdef *s, const char *st)
{
    return s->state && !strcmp(s->state, st);
}

static bool has_memory(const qv_snapdef *s)
{
    return !state_is(s, "shutoff") && !state_is(s, "disk-snapshot");
}

static guint n_children(const snap_tree *t, const char *name)
{
    guint n = 0;
    for (guint i = 0; i < t->all->len; i++)
        n += !g_strcmp0(((qv_snapdef *)g_ptr_array_index(t->all, i))->parent, name);
    return n;
}

static bool is_descendant(const snap_tree *t, const qv_snapdef *s, const char *of)
{
    for (guint depth = 0; s && s->parent && depth <= t->all->len; depth++) {
        if (!strcmp(s->parent, of))
            return true;
        s = tree_find(t, s->parent);
    }
    return false;
}

enum {
    LIST_KNOWN = QV_DOMAIN_SNAPSHOT_LIST_ROOTS | QV_DOMAIN_SNAPSHOT_LIST_METADATA |
                 QV_DOMAIN_SNAPSHOT_LIST_LEAVES | QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES |
                 QV_DOMAIN_SNAPSHOT_LIST_NO_METADATA | QV_DOMAIN_SNAPSHOT_LIST_INACTIVE |
                 QV_DOMAIN_SNAPSHOT_LIST_ACTIVE | QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY |
                 QV_DOMAIN_SNAPSHOT_LIST_INTERNAL | QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL |
                 QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL,
    LIST_STATES = QV_DOMAIN_SNAPSHOT_LIST_INACTIVE | QV_DOMAIN_SNAPSHOT_LIST_ACTIVE |
                  QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY,
    LIST_LOCATIONS = QV_DOMAIN_SNAPSHOT_LIST_INTERNAL | QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL,
};

/* libvirt's filter groups: within a group the bits are ORed (none set:
 * no filter), the groups are ANDed. */
static bool passes(const snap_tree *t, const qv_snapdef *s, unsigned int flags)
{
    /* Every snapshot qvirt lists has metadata: NO_METADATA alone matches none. */
    if ((flags & QV_DOMAIN_SNAPSHOT_LIST_NO_METADATA) && !(flags & QV_DOMAIN_SNAPSHOT_LIST_METADATA))
        return false;
    unsigned int lv = flags & (QV_DOMAIN_SNAPSHOT_LIST_LEAVES | QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES);
    if (lv && lv != (QV_DOMAIN_SNAPSHOT_LIST_LEAVES | QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES)) {
        bool leaf = n_children(t, s->name) == 0;
        if (leaf != !!(lv & QV_DOMAIN_SNAPSHOT_LIST_LEAVES))
            return false;
    }
    if (flags & LIST_STATES) {
        bool ok = ((flags & QV_DOMAIN_SNAPSHOT_LIST_INACTIVE) && state_is(s, "shutoff")) ||
                  ((flags & QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY) && state_is(s, "disk-snapshot")) ||
                  ((flags & QV_DOMAIN_SNAPSHOT_LIST_ACTIVE) && has_memory(s));
        if (!ok)
            return false;
    }
    if (flags & LIST_LOCATIONS) {
        bool ext = snap_is_external(s);
        if (!((flags & QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL) && ext) &&
            !((flags & QV_DOMAIN_SNAPSHOT_LIST_INTERNAL) && !ext))
            return false;
    }
    return true;
}

/* Appends s's subtree (children before grandchildren's siblings: parents
 * always come before their children) in creation order. */
static void add_topological(const snap_tree *t, const char *parent, GPtrArray *out, guint depth)
{
    if (depth > t->all->len)
        return;
    for (guint i = 0; i < t->all->len; i++) {
        qv_snapdef *s = g_ptr_array_index(t->all, i);
        if (g_strcmp0(s->parent, parent))
            continue;
        g_ptr_array_add(out, s);
        add_topological(t, s->name, out, depth + 1);
    }
}

/* The names matching flags: of the whole domain (of == NULL; ROOTS keeps
 * only roots) or below snapshot `of` (DESCENDANTS: every level, else its
 * children). Borrowed from t. */
static GPtrArray *select_snaps(const snap_tree *t, const char *of, unsigned int flags)
{
    GPtrArray *order = g_ptr_array_new();
    if (flags & QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL) {
        add_topological(t, NULL, order, 0);
        /* Orphans (a parent without metadata) follow, as they stand. */
        for (guint i = 0; i < t->all->len; i++) {
            gpointer s = g_ptr_array_index(t->all, i);
            if (!g_ptr_array_find(order, s, NULL))
                g_ptr_array_add(order, s);
        }
    } else {
        for (guint i = 0; i < t->all->len; i++)
            g_ptr_array_add(order, g_ptr_array_index(t->all, i));
    }
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < order->len; i++) {
        qv_snapdef *s = g_ptr_array_index(order, i);
        if (!of) {
            if ((flags & QV_DOMAIN_SNAPSHOT_LIST_ROOTS) && s->parent && tree_find(t, s->parent))
                continue;
        } else if (flags & QV_DOMAIN_SNAPSHOT_LIST_DESCENDANTS) {
            if (!is_descendant(t, s, of))
                continue;
        } else if (g_strcmp0(s->parent, of)) {
            continue;
        }
        if (passes(t, s, flags))
            g_ptr_array_add(out, s);
    }
    g_ptr_array_unref(order);
    return out;
}

/* ---- handles ------------------------------------------------------------ */

static qv_snapshot *snap_new(qv_domain *dom, const char *name)
{
    qv_snapshot *s = g_new0(qv_snapshot, 1);
    s->dom = dom;
    s->name = g_strdup(name);
    return s;
}

qv_snapshot *qv_snapshot_new_handle(qv_domain *dom, const char *name)
{
    return snap_new(dom, name);
}

void qv_snapshot_free(qv_snapshot *snap)
{
    if (!snap)
        return;
    g_free(snap->name);
    g_free(snap);
}

void qv_snapshot_freep(qv_snapshot **snap)
{
    if (snap) {
        qv_snapshot_free(*snap);
        *snap = NULL;
    }
}

void qv_snapshot_list_free(qv_snapshot **list)
{
    for (size_t i = 0; list && list[i]; i++)
        qv_snapshot_free(list[i]);
    free(list);
}

void qv_snapshot_names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

const char *qv_snapshot_get_name(const qv_snapshot *snap)
{
    return snap ? snap->name : NULL;
}

qv_domain *qv_snapshot_get_domain(const qv_snapshot *snap)
{
    return snap ? snap->dom : NULL;
}

static int no_such_snapshot(qv_domain *dom, const char *name, qv_error **err)
{
    return qv_error_set(err, -ENOENT, "domain '%s' has no snapshot named '%s'", dom->name, name);
}

/* The tree and the snapshot the handle names. */
static int load_snap(qv_snapshot *snap, snap_tree *t, qv_snapdef **s, qv_error **err)
{
    int r = load_tree(snap->dom, t, err);
    if (r < 0)
        return r;
    if (!(*s = tree_find(t, snap->name)))
        return no_such_snapshot(snap->dom, snap->name, err);
    return 0;
}

static int check_list_flags(const char *what, unsigned int flags, qv_error **err)
{
    if (flags & ~(unsigned)LIST_KNOWN)
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x", what, flags & ~LIST_KNOWN);
    return 0;
}

static int names_out(GPtrArray *sel, int maxnames, char ***names)
{
    guint n = maxnames >= 0 ? MIN(sel->len, (guint)maxnames) : sel->len;
    char **v = calloc(n + 1, sizeof *v);
    for (guint i = 0; i < n; i++)
        v[i] = strdup(((qv_snapdef *)g_ptr_array_index(sel, i))->name);
    *names = v;
    return (int)n;
}

static int handles_out(qv_domain *dom, GPtrArray *sel, qv_snapshot ***ret)
{
    qv_snapshot **v = calloc(sel->len + 1, sizeof *v);
    for (guint i = 0; i < sel->len; i++)
        v[i] = snap_new(dom, ((qv_snapdef *)g_ptr_array_index(sel, i))->name);
    *ret = v;
    return (int)sel->len;
}

int qv_domain_num_of_snapshots(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_num_of_snapshots(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_num_of_snapshots: dom is required");
    int r = check_list_flags("qv_domain_num_of_snapshots", flags, err);
    g_auto(snap_tree) t = { 0 };
    if (r < 0 || (r = load_tree(dom, &t, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, NULL, flags);
    return (int)sel->len;
}

int qv_domain_list_snapshot_names(qv_domain *dom, int maxnames, unsigned int flags, char ***names,
                                  qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_list_snapshot_names(dom, maxnames, flags, names, err));
    if (!dom || !names)
        return qv_error_set(err, -EINVAL, "qv_domain_list_snapshot_names: dom and names are "
                            "required");
    int r = check_list_flags("qv_domain_list_snapshot_names", flags, err);
    g_auto(snap_tree) t = { 0 };
    if (r < 0 || (r = load_tree(dom, &t, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, NULL, flags);
    return names_out(sel, maxnames, names);
}

int qv_domain_list_all_snapshots(qv_domain *dom, unsigned int flags, qv_snapshot ***ret,
                                 qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_list_all_snapshots(dom, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_list_all_snapshots: dom and ret are required");
    int r = check_list_flags("qv_domain_list_all_snapshots", flags, err);
    g_auto(snap_tree) t = { 0 };
    if (r < 0 || (r = load_tree(dom, &t, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, NULL, flags);
    return handles_out(dom, sel, ret);
}

int qv_domain_list_snapshots(qv_domain *dom, unsigned int flags, qv_snapshot ***ret,
                             qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_list_snapshots(dom, flags, ret, err));
    return qv_domain_list_all_snapshots(dom, flags, ret, err);
}

int qv_domain_get_snapshot_by_name(qv_domain *dom, const char *name, unsigned int flags,
                                   qv_snapshot **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_snapshot_by_name(dom, name, flags, ret, err));
    if (!dom || !name || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_snapshot_by_name: dom, name and ret are "
                            "required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_snapshot_by_name: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    int r = load_tree(dom, &t, err);
    if (r < 0)
        return r;
    if (!tree_find(&t, name))
        return no_such_snapshot(dom, name, err);
    *ret = snap_new(dom, name);
    return 0;
}

int qv_domain_has_current_snapshot(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_has_current_snapshot(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_has_current_snapshot: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_has_current_snapshot: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    int r = load_tree(dom, &t, err);
    return r < 0 ? r : t.current != NULL;
}

int qv_domain_current_snapshot(qv_domain *dom, unsigned int flags, qv_snapshot **ret,
                               qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_current_snapshot(dom, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_current_snapshot: dom and ret are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_current_snapshot: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    int r = load_tree(dom, &t, err);
    if (r < 0)
        return r;
    if (!t.current)
        return qv_error_set(err, -ENOENT, "domain '%s' has no current snapshot", dom->name);
    *ret = snap_new(dom, t.current);
    return 0;
}

int qv_snapshot_get_xml_description(qv_snapshot *snap, unsigned int flags, char **ret,
                                    qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_get_xml_description(snap, flags, ret, err));
    if (!snap || !ret)
        return qv_error_set(err, -EINVAL, "qv_snapshot_get_xml_description: snap and ret are "
                            "required");
    if (flags & ~(unsigned)QV_DOMAIN_SNAPSHOT_XML_SECURE)
        return qv_error_set(err, -EINVAL, "qv_snapshot_get_xml_description: unsupported flags "
                            "0x%x", flags);
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    int r = load_snap(snap, &t, &s, err);
    if (r < 0)
        return r;
    g_autofree char *xml = qv_snapxml_format(s, flags & QV_DOMAIN_SNAPSHOT_XML_SECURE
                                                    ? QV_SNAPXML_FORMAT_SECURE : 0);
    *ret = strdup(xml);
    return 0;
}

int qv_snapshot_get_parent(qv_snapshot *snap, unsigned int flags, qv_snapshot **ret,
                           qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_get_parent(snap, flags, ret, err));
    if (!snap || !ret)
        return qv_error_set(err, -EINVAL, "qv_snapshot_get_parent: snap and ret are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_snapshot_get_parent: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    int r = load_snap(snap, &t, &s, err);
    if (r < 0)
        return r;
    if (!s->parent)
        return qv_error_set(err, -ENOENT, "snapshot '%s' has no parent", snap->name);
    *ret = snap_new(snap->dom, s->parent);
    return 0;
}

int qv_snapshot_is_current(qv_snapshot *snap, unsigned int flags, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_is_current(snap, flags, err));
    if (!snap)
        return qv_error_set(err, -EINVAL, "qv_snapshot_is_current: snap is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_snapshot_is_current: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    int r = load_snap(snap, &t, &s, err);
    return r < 0 ? r : !g_strcmp0(t.current, snap->name);
}

int qv_snapshot_has_metadata(qv_snapshot *snap, unsigned int flags, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_has_metadata(snap, flags, err));
    if (!snap)
        return qv_error_set(err, -EINVAL, "qv_snapshot_has_metadata: snap is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_snapshot_has_metadata: flags must be 0");
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    int r = load_snap(snap, &t, &s, err);
    return r < 0 ? r : 1;
}

int qv_snapshot_num_of_child_snapshots(qv_snapshot *snap, unsigned int flags, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_num_of_child_snapshots(snap, flags, err));
    if (!snap)
        return qv_error_set(err, -EINVAL, "qv_snapshot_num_of_child_snapshots: snap is required");
    int r = check_list_flags("qv_snapshot_num_of_child_snapshots", flags, err);
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    if (r < 0 || (r = load_snap(snap, &t, &s, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, snap->name, flags);
    return (int)sel->len;
}

int qv_snapshot_list_child_snapshot_names(qv_snapshot *snap, int maxnames, unsigned int flags,
                                          char ***names, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap,
                     qv_remote__qv_snapshot_list_child_snapshot_names(snap, maxnames, flags, names, err));
    if (!snap || !names)
        return qv_error_set(err, -EINVAL, "qv_snapshot_list_child_snapshot_names: snap and names "
                            "are required");
    int r = check_list_flags("qv_snapshot_list_child_snapshot_names", flags, err);
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    if (r < 0 || (r = load_snap(snap, &t, &s, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, snap->name, flags);
    return names_out(sel, maxnames, names);
}

int qv_snapshot_list_all_children(qv_snapshot *snap, unsigned int flags, qv_snapshot ***ret,
                                  qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_list_all_children(snap, flags, ret, err));
    if (!snap || !ret)
        return qv_error_set(err, -EINVAL, "qv_snapshot_list_all_children: snap and ret are "
                            "required");
    int r = check_list_flags("qv_snapshot_list_all_children", flags, err);
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    if (r < 0 || (r = load_snap(snap, &t, &s, err)) < 0)
        return r;
    g_autoptr(GPtrArray) sel = select_snaps(&t, snap->name, flags);
    return handles_out(snap->dom, sel, ret);
}

int qv_snapshot_list_child_snapshots(qv_snapshot *snap, unsigned int flags, qv_snapshot ***ret,
                                     qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_list_child_snapshots(snap, flags, ret, err));
    return qv_snapshot_list_all_children(snap, flags, ret, err);
}

/* ---- qemu-img ----------------------------------------------------------- */

#define QEMU_IMG(...) qv_qemu_img((const char *const[]){ __VA_ARGS__, NULL }, err)

/* ---- the domain's disks ------------------------------------------------- */

static bool disk_has_image(const qv_domdef_disk *d)
{
    return d->src.path && d->src.type != QV_DISK_TYPE_NETWORK;
}

static qv_domdef_disk *find_disk(const qv_domdef *def, const char *name)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (!g_strcmp0(d->target_dev, name) || !g_strcmp0(d->src.path, name))
            return d;
    }
    return NULL;
}

/* libvirt's default overlay name: the image's path without its extension,
 * then ".SNAPNAME". */
static char *default_overlay(const char *base, const char *snap)
{
    g_autofree char *dir = g_path_get_dirname(base);
    g_autofree char *file = g_path_get_basename(base);
    char *dot = strrchr(file, '.');
    if (dot && dot != file)
        *dot = '\0';
    g_autofree char *name = g_strconcat(file, ".", snap, NULL);
    return g_build_filename(dir, name, NULL);
}

/* Fills in the snapshot's disk list from the domain (libvirt's
 * virDomainSnapshotAlignDisks): every disk with an image gets an entry,
 * named by its target; readonly disks and cdroms default to no snapshot,
 * the others to the default location. */
static int align_disks(qv_snapdef *s, const qv_domdef *def, qv_snap_location dflt, qv_error **err)
{
    for (guint i = 0; i < s->disks->len; i++) {
        qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        qv_domdef_disk *d = find_disk(def, sd->name);
        if (!d)
            return qv_error_set(err, -EINVAL, "snapshot XML: the domain has no disk '%s'",
                                sd->name);
        if (g_strcmp0(sd->name, d->target_dev)) {
            g_free(sd->name);
            sd->name = g_strdup(d->target_dev);
        }
    }
    g_autoptr(qv_snapdef) aligned = qv_snapdef_new();
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        qv_snapdef_disk *sd = qv_snapdef_find_disk(s, d->target_dev);
        qv_snap_location loc = sd ? sd->snapshot : QV_SNAP_LOC_DEFAULT;
        if (!disk_has_image(d)) {
            if (loc != QV_SNAP_LOC_DEFAULT && loc != QV_SNAP_LOC_NO)
                return qv_error_set(err, -EINVAL, "snapshot XML: disk '%s' has no image to "
                                    "snapshot", d->target_dev);
            continue;
        }
        if (loc == QV_SNAP_LOC_DEFAULT)
            loc = d->readonly || d->device == QV_DISK_DEVICE_CDROM ? QV_SNAP_LOC_NO : dflt;
        if (loc == QV_SNAP_LOC_MANUAL)
            return qv_error_set(err, -ENOTSUP, "snapshot XML: disk '%s': manual snapshots are "
                                "not supported by qvirt", d->target_dev);
        const char *fmt = d->src.format ? d->src.format : "raw";
        if (loc == QV_SNAP_LOC_INTERNAL && strcmp(fmt, "qcow2"))
            return qv_error_set(err, -ENOTSUP, "disk '%s' is %s: internal snapshots need qcow2 "
                                "images (use an external, disk-only snapshot)", d->target_dev, fmt);
        if (loc == QV_SNAP_LOC_EXTERNAL && d->src.type != QV_DISK_TYPE_FILE)
            return qv_error_set(err, -ENOTSUP, "disk '%s' is not a file: external snapshots "
                                "need file images here", d->target_dev);
        g_autofree char *file = NULL;
        if (loc == QV_SNAP_LOC_EXTERNAL)
            file = sd && sd->source_file ? g_strdup(sd->source_file)
                                         : default_overlay(d->src.path, s->name);
        qv_snapdef_add_disk(aligned, d->target_dev, loc, file,
                            loc == QV_SNAP_LOC_EXTERNAL ? "qcow2" : NULL);
    }
    g_ptr_array_unref(s->disks);
    s->disks = g_steal_pointer(&aligned->disks);
    aligned->disks = g_ptr_array_new();
    return 0;
}

static guint count_loc(const qv_snapdef *s, qv_snap_location loc)
{
    guint n = 0;
    for (guint i = 0; i < s->disks->len; i++)
        n += ((qv_snapdef_disk *)g_ptr_array_index(s->disks, i))->snapshot == loc;
    return n;
}

/* ---- QMP: nodes and jobs ------------------------------------------------ */

static json_object *str_obj(const char *k, const char *v)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, k, json_object_new_string(v));
    return a;
}

/* The format node on top of a disk's chain in the running QEMU: the
 * device's root node, or, for a disk behind a throttle filter, the node
 * the filter sits on (the chain's recorded node names, blockjob.h). */
static int top_node(qv_domain *dom, qv_qmp *qmp, const qv_domdef_disk *d, char **ret,
                    qv_error **err)
{
    g_autoptr(json_object) list = NULL;
    int r = qv_qmp_call(qmp, "query-block", NULL, 0, &list, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(list, json_type_array) &&
                       i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i);
        const char *qdev = qv_json_get_str(e, "qdev");
        if (!qdev || !d->alias)
            continue;
        /* -device ... id=alias: QEMU reports the device's QOM path. */
        g_autofree char *prefix = g_strdup_printf("/machine/peripheral/%s", d->alias);
        size_t n = strlen(prefix);
        if (strcmp(qdev, d->alias) && (strncmp(qdev, prefix, n) || (qdev[n] && qdev[n] != '/')))
            continue;
        json_object *ins = qv_json_get(e, "inserted");
        const char *node = qv_json_get_str(ins, "node-name");
        const char *drv = qv_json_get_str(ins, "drv");
        if (!node)
            break;
        if (drv && !strcmp(drv, "throttle")) {
            /* The chain's node names as the start, a snapshot or a block
             * job (a pivot, a commit) left them (blockjob.h). */
            g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
            qv_disk_node_names(dom, d, names);
            *ret = names->len ? g_strdup(names->pdata[0]) : g_strdup_printf("%s-format", d->alias);
        } else {
            *ret = g_strdup(node);
        }
        return 0;
    }
    return qv_error_set(err, -ENOENT, "domain '%s': QEMU has no image in disk '%s'", dom->name,
                        d->target_dev);
}

static void emit(qv_domain *dom, int event, int detail);
static void record_state(qv_domain *dom, int state, int reason);

/* Runs one snapshot-* job to its end: starts it, waits for it to conclude
 * (JOB_STATUS_CHANGE), reads its error from query-jobs and dismisses it.
 * With track_pause (a running guest's snapshot-save), QEMU's STOP and
 * RESUME are recorded (paused, creating snapshot; then running) with their
 * events, each only once QEMU reported it: a state written ahead of the
 * job would stay wrong if the caller died before sending it, while one
 * written after an event is the truth, or corrected by the supervisor's
 * check after that event (it waits for qmp.lock, which dies with us). */
static int run_job(qv_domain *dom, qv_qmp *qmp, const char *cmd, const char *job_id,
                   json_object *args, bool track_pause, qv_error **err)
{
    /* A caller that died during a job left it concluded and undismissed:
     * its id is ours to reuse. A job still running is another caller's. */
    g_autoptr(json_object) old = NULL;
    if (qv_qmp_call(qmp, "query-jobs", NULL, 0, &old, NULL) >= 0) {
        for (size_t i = 0; json_object_is_type(old, json_type_array) &&
                           i < json_object_array_length(old); i++) {
            json_object *j = json_object_array_get_idx(old, i);
            if (g_strcmp0(qv_json_get_str(j, "id"), job_id))
                continue;
            if (g_strcmp0(qv_json_get_str(j, "status"), "concluded")) {
                json_object_put(args);
                return qv_error_set(err, -EBUSY, "domain '%s': a %s job is running already",
                                    dom->name, cmd);
            }
            qv_qmp_call(qmp, "job-dismiss", str_obj("id", job_id), 0, NULL, NULL);
        }
    }
    json_object_object_add(args, "job-id", json_object_new_string(job_id));
    int r = qv_qmp_call(qmp, cmd, args, 0, NULL, err);
    if (r < 0)
        return r;
    gint64 deadline = g_get_monotonic_time() + QV_SNAPSHOT_JOB_TIMEOUT_MS * 1000LL;
    bool paused = false;
    for (;;) {
        g_autoptr(qv_qmp_event) ev = NULL;
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        if (left <= 0)
            return qv_error_set(err, -ETIMEDOUT, "domain '%s': %s did not finish in %d s",
                                dom->name, cmd, QV_SNAPSHOT_JOB_TIMEOUT_MS / 1000);
        if ((r = qv_qmp_wait_event(qmp, NULL, left, &ev, err)) < 0)
            return r;
        if (track_pause && !strcmp(ev->name, "STOP") && !paused) {
            record_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_SNAPSHOT);
            emit(dom, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED);
            paused = true;
        } else if (paused && !strcmp(ev->name, "RESUME")) {
            record_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
            emit(dom, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_UNPAUSED);
            paused = false;
        }
        if (strcmp(ev->name, "JOB_STATUS_CHANGE"))
            continue;
        const char *id = qv_json_get_str(ev->data, "id");
        const char *st = qv_json_get_str(ev->data, "status");
        if (id && st && !strcmp(id, job_id) && !strcmp(st, "concluded"))
            break;
    }
    g_autoptr(json_object) jobs = NULL;
    g_autofree char *jerr = NULL;
    if (qv_qmp_call(qmp, "query-jobs", NULL, 0, &jobs, NULL) >= 0) {
        for (size_t i = 0; json_object_is_type(jobs, json_type_array) &&
                           i < json_object_array_length(jobs); i++) {
            json_object *j = json_object_array_get_idx(jobs, i);
            if (!g_strcmp0(qv_json_get_str(j, "id"), job_id) && qv_json_get_str(j, "error"))
                jerr = g_strdup(qv_json_get_str(j, "error"));
        }
    }
    qv_qmp_call(qmp, "job-dismiss", str_obj("id", job_id), 0, NULL, NULL);
    if (paused) {
        /* No RESUME came: QEMU's word on the state. */
        g_autoptr(json_object) st = NULL;
        if (qv_qmp_call(qmp, "query-status", NULL, 0, &st, NULL) >= 0 &&
            json_object_get_boolean(qv_json_get(st, "running"))) {
            record_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_UNPAUSED);
            emit(dom, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_UNPAUSED);
        }
    }
    if (jerr)
        return qv_error_set(err, -EIO, "domain '%s': %s failed: %s", dom->name, cmd, jerr);
    return 0;
}

/* The format nodes of the disks the snapshot keeps internally; the first
 * holds the vmstate. */
static int internal_nodes(qv_domain *dom, qv_qmp *qmp, const qv_domdef *def,
                          const qv_snapdef *s, json_object **devices, char **vmstate,
                          qv_error **err)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < s->disks->len; i++) {
        const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_INTERNAL)
            continue;
        const qv_domdef_disk *d = find_disk(def, sd->name);
        char *node = NULL;
        int r = d ? top_node(dom, qmp, d, &node, err)
                  : qv_error_set(err, -ENOENT, "domain '%s' has no disk '%s' any more", dom->name,
                                 sd->name);
        if (r < 0) {
            json_object_put(arr);
            return r;
        }
        if (vmstate && !*vmstate)
            *vmstate = g_strdup(node);
        json_object_array_add(arr, json_object_new_string(node));
        g_free(node);
    }
    *devices = arr;
    return 0;
}

static int snapshot_job(qv_domain *dom, qv_qmp *qmp, const char *cmd, const qv_domdef *def,
                        const qv_snapdef *s, bool track_pause, qv_error **err)
{
    json_object *devices = NULL;
    g_autofree char *vmstate = NULL;
    bool with_vm = strcmp(cmd, "snapshot-delete") != 0;
    int r = internal_nodes(dom, qmp, def, s, &devices, with_vm ? &vmstate : NULL, err);
    if (r < 0)
        return r;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "tag", json_object_new_string(s->name));
    if (with_vm)
        json_object_object_add(args, "vmstate", json_object_new_string(vmstate ? vmstate : ""));
    json_object_object_add(args, "devices", devices);
    g_autofree char *job = g_strconcat("qvirt-", cmd, NULL);
    return run_job(dom, qmp, cmd, job, args, track_pause, err);
}

/* ---- state and events --------------------------------------------------- */

static void emit(qv_domain *dom, int event, int detail)
{
    qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_LIFECYCLE, event, detail,
                 NULL);
}

/* Writes the state (qmp.lock held by the caller's qv_domain_qmp_open). */
static void record_state(qv_domain *dom, int state, int reason)
{
    qv_rt_state st = { state, reason, qv_rt_now_us() };
    if (dom->smap && qv_rt_statemap_store(dom->smap, &st) >= 0)
        qv_log(QV_LOG_INFO, "domain '%s': state written: %d (reason %d)", dom->name, state, reason);
}

/* Ends the run as a snapshot's HALT or a revert does: the monitor records
 * it shut off (from snapshot), as does this call if the monitor is gone. */
static int halt_domain(qv_domain *dom, const qv_active *act, qv_error **err)
{
    g_autofree char *dom_dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_auto(qv_vmcg) cg = { 0 };
    qv_vmcg_read(dom_dir, &cg);
    qv_rt_mark_stopping(dom_dir, "from-snapshot");
    pid_t pid = act->status.qemu_pid;
    if (pid > 0 && qv_rt_pid_alive(pid, act->status.qemu_start)) {
        kill(pid, SIGTERM);
        if (qv_rt_wait_exit(pid, act->status.qemu_start, QV_SNAPSHOT_HALT_GRACE_MS) == -ETIMEDOUT) {
            kill(pid, SIGKILL);
            qv_rt_wait_exit(pid, act->status.qemu_start, QV_SNAPSHOT_HALT_GRACE_MS);
        }
    }
    qv_rt_wait_exit(act->status.monitor_pid, act->status.monitor_start, QV_MONITOR_EXIT_WAIT_MS);
    int r = qv_rt_finalize_run(&dom->conn->paths, dom->name, dom->uuid_str, act->status.run_id,
                               QV_DOMAIN_SHUTOFF_FROM_SNAPSHOT,
                               QV_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT, err);
    if (cg.mount)
        qv_vmcg_remove(&cg, NULL); /* the monitor left it to us (qv_rt_mark_stopping) */
    qv_domain_forget_monitor(dom);
    qv_domain_forget_run(dom);
    return r < 0 ? r : 0;
}

static const char *state_name(int state)
{
    switch (state) {
    case QV_DOMAIN_RUNNING: return "running";
    case QV_DOMAIN_BLOCKED: return "blocked";
    case QV_DOMAIN_PAUSED: return "paused";
    case QV_DOMAIN_SHUTDOWN: return "shutdown";
    case QV_DOMAIN_SHUTOFF: return "shutoff";
    case QV_DOMAIN_CRASHED: return "crashed";
    case QV_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "nostate";
    }
}

/* ---- external overlays -------------------------------------------------- */

/* A qcow2 overlay on base (a file of format base_fmt and virtual_size
 * bytes, 0: let qemu-img read it), made by qemu-img as the caller. With a
 * running QEMU the base is locked, so its size is given and the base is
 * not opened (-u). */
static int make_overlay(const char *overlay, const char *base, const char *base_fmt,
                        unsigned long long virtual_size, qv_error **err)
{
    if (g_file_test(overlay, G_FILE_TEST_EXISTS))
        return qv_error_set(err, -EEXIST, "the overlay %s exists already (use REUSE_EXT to use "
                            "it)", overlay);
    g_autofree char *size = virtual_size ? g_strdup_printf("%llu", virtual_size) : NULL;
    if (size)
        return QEMU_IMG("create", "-q", "-f", "qcow2", "-u", "-F", base_fmt, "-b", base, overlay,
                        size);
    return QEMU_IMG("create", "-q", "-f", "qcow2", "-F", base_fmt, "-b", base, overlay);
}

/* The disk's source becomes overlay, backed by what it was. */
static void push_overlay(qv_domdef_disk *d, const char *overlay)
{
    qv_domdef_disk_src *old = g_new0(qv_domdef_disk_src, 1);
    *old = d->src;
    if (!old->format)
        old->format = g_strdup("raw");
    memset(&d->src, 0, sizeof d->src);
    d->src.type = QV_DISK_TYPE_FILE;
    d->src.format = g_strdup("qcow2");
    d->src.path = g_strdup(overlay);
    d->src.has_backing = true;
    d->src.backing = old;
}

static unsigned long long live_virtual_size(qv_qmp *qmp, const char *node)
{
    g_autoptr(json_object) list = NULL;
    json_object *a = json_object_new_object();
    json_object_object_add(a, "flat", json_object_new_boolean(true));
    if (qv_qmp_call(qmp, "query-named-block-nodes", a, 0, &list, NULL) < 0)
        return 0;
    for (size_t i = 0; json_object_is_type(list, json_type_array) &&
                       i < json_object_array_length(list); i++) {
        json_object *n = json_object_array_get_idx(list, i);
        if (!g_strcmp0(qv_json_get_str(n, "node-name"), node))
            return (unsigned long long)qv_json_get_int(qv_json_get(n, "image"), "virtual-size", 0);
    }
    return 0;
}

typedef struct live_overlay {
    char *disk;        /* target */
    char *path;
    char *top;         /* the node it goes on */
    char *st, *fmt;    /* its nodes */
    unsigned int fdset;
    bool added;        /* both nodes exist in QEMU */
    bool made;         /* the file is ours (not REUSE_EXT) */
} live_overlay;

static void live_overlay_free(void *p)
{
    live_overlay *o = p;
    g_free(o->disk);
    g_free(o->path);
    g_free(o->top);
    g_free(o->st);
    g_free(o->fmt);
    g_free(o);
}

/* Adds an overlay's file and qcow2 nodes ("backing": null, as
 * blockdev-snapshot wants); the file goes to QEMU as an fd. */
static int add_overlay_nodes(qv_qmp *qmp, live_overlay *o, qv_error **err)
{
    qv_autoclose int fd = open(o->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open the overlay %s", o->path);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "fdset-id", json_object_new_int((int)o->fdset));
    json_object_object_add(a, "opaque", json_object_new_string(o->st));
    int r = qv_qmp_call_with_fd(qmp, "add-fd", a, fd, 0, NULL, err);
    if (r < 0)
        return r;
    g_autofree char *fdpath = g_strdup_printf("/dev/fdset/%u", o->fdset);
    json_object *f = json_object_new_object();
    json_object_object_add(f, "driver", json_object_new_string("file"));
    json_object_object_add(f, "node-name", json_object_new_string(o->st));
    json_object_object_add(f, "filename", json_object_new_string(fdpath));
    json_object_object_add(f, "discard", json_object_new_string("unmap"));
    if ((r = qv_qmp_call(qmp, "blockdev-add", f, 0, NULL, err)) < 0) {
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int((int)o->fdset));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
        return r;
    }
    json_object *q = json_object_new_object();
    json_object_object_add(q, "driver", json_object_new_string("qcow2"));
    json_object_object_add(q, "node-name", json_object_new_string(o->fmt));
    json_object_object_add(q, "file", json_object_new_string(o->st));
    json_object_object_add(q, "backing", NULL);
    if ((r = qv_qmp_call(qmp, "blockdev-add", q, 0, NULL, err)) < 0) {
        qv_qmp_call(qmp, "blockdev-del", str_obj("node-name", o->st), 0, NULL, NULL);
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int((int)o->fdset));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
        return r;
    }
    o->added = true;
    return 0;
}

static void drop_overlay(qv_qmp *qmp, live_overlay *o)
{
    if (o->added) {
        qv_qmp_call(qmp, "blockdev-del", str_obj("node-name", o->fmt), 0, NULL, NULL);
        qv_qmp_call(qmp, "blockdev-del", str_obj("node-name", o->st), 0, NULL, NULL);
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int((int)o->fdset));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
        o->added = false;
    }
    if (o->made)
        unlink(o->path);
}

static int agent_fs(qv_domain *dom, bool freeze, qv_error **err)
{
    int r = qv_domain_agent_call(dom, freeze ? "guest-fsfreeze-freeze" : "guest-fsfreeze-thaw",
                                 NULL, QV_SNAPSHOT_FREEZE_MS, NULL, err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "cannot %s the guest's file systems (QUIESCE)",
                        freeze ? "freeze" : "thaw");
    return r;
}

/* Puts an overlay on each external disk of a running domain at once: the
 * overlays' nodes first, then one transaction of blockdev-snapshot actions
 * (all or none), then the live and stored definitions. */
static int create_external_live(qv_domain *dom, qv_call *c, qv_snapdef *s, unsigned int flags,
                                qv_error **err)
{
    qv_qmp *qmp = NULL;
    int qlock = -1;
    int r = qv_domain_qmp_open(dom, &qmp, &qlock, err);
    if (r < 0)
        return r;
    g_autoptr(GPtrArray) ovs = g_ptr_array_new_with_free_func(live_overlay_free);
    unsigned int fdset = qv_qmp_next_fdset(qmp);
    for (guint i = 0; r >= 0 && i < s->disks->len; i++) {
        qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_EXTERNAL)
            continue;
        qv_domdef_disk *d = find_disk(c->live, sd->name);
        live_overlay *o = g_new0(live_overlay, 1);
        g_ptr_array_add(ovs, o);
        o->disk = g_strdup(d->target_dev);
        o->path = g_strdup(sd->source_file);
        o->fdset = fdset++;
        o->st = g_strdup_printf("qvov%u-storage", o->fdset);
        o->fmt = g_strdup_printf("qvov%u-format", o->fdset);
        if ((r = top_node(dom, qmp, d, &o->top, err)) < 0)
            break;
        if (flags & QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT) {
            if (!g_file_test(o->path, G_FILE_TEST_EXISTS))
                r = qv_error_set(err, -ENOENT, "REUSE_EXT: the overlay %s does not exist",
                                 o->path);
        } else {
            unsigned long long size = live_virtual_size(qmp, o->top);
            r = make_overlay(o->path, d->src.path, d->src.format ? d->src.format : "raw", size,
                             err);
            o->made = r >= 0;
        }
        if (r >= 0)
            r = add_overlay_nodes(qmp, o, err);
    }
    /* The definitions name the overlays before QEMU switches to them: a
     * caller killed in between leaves a domain whose next start puts the
     * (empty) overlays over the images QEMU kept writing, which shows the
     * same data; the other order would lose what QEMU wrote into them. */
    g_autoptr(qv_domdef) oldlive = NULL, oldcfg = NULL;
    if (r >= 0) {
        oldlive = qv_domdef_copy(c->live);
        oldcfg = c->cfg ? qv_domdef_copy(c->cfg) : NULL;
        for (guint i = 0; i < ovs->len; i++) {
            live_overlay *o = g_ptr_array_index(ovs, i);
            qv_domdef_disk *d = find_disk(c->live, o->disk);
            g_autofree char *base = g_strdup(d->src.path);
            push_overlay(d, o->path);
            qv_domdef_disk *cd = c->cfg ? find_disk(c->cfg, o->disk) : NULL;
            if (cd && !g_strcmp0(cd->src.path, base))
                push_overlay(cd, o->path);
        }
        r = qv_call_save(c, err);
    }
    bool frozen = false;
    if (r >= 0 && (flags & QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE))
        frozen = (r = agent_fs(dom, true, err)) >= 0;
    if (r >= 0) {
        json_object *actions = json_object_new_array();
        for (guint i = 0; i < ovs->len; i++) {
            live_overlay *o = g_ptr_array_index(ovs, i);
            json_object *data = json_object_new_object();
            json_object_object_add(data, "node", json_object_new_string(o->top));
            json_object_object_add(data, "overlay", json_object_new_string(o->fmt));
            json_object *act = json_object_new_object();
            json_object_object_add(act, "type", json_object_new_string("blockdev-snapshot"));
            json_object_object_add(act, "data", data);
            json_object_array_add(actions, act);
        }
        json_object *args = json_object_new_object();
        json_object_object_add(args, "actions", actions);
        qv_error *terr = NULL;
        r = qv_qmp_call(qmp, "transaction", args, 0, NULL, &terr);
        /* Only QEMU's error reply says the disks were not switched. */
        if (r < 0 && !qv_error_qmp_class(terr)) {
            qv_error_prefix(terr, "domain '%s': the snapshot's transaction may or may not have "
                            "run; the definitions name the overlays %s", dom->name,
                            "(check with domblklist)");
            qv_error_propagate(err, terr);
            if (frozen)
                agent_fs(dom, false, NULL);
            qv_domain_qmp_close(qmp, qlock);
            return r;
        }
        if (r < 0)
            qv_error_propagate(err, terr);
    }
    if (frozen) {
        qv_error *terr = NULL;
        if (agent_fs(dom, false, &terr) < 0 && r >= 0)
            r = qv_error_propagate(err, terr);
        else
            qv_error_free(terr);
    }
    if (r < 0) {
        for (guint i = 0; i < ovs->len; i++)
            drop_overlay(qmp, g_ptr_array_index(ovs, i));
        qv_domain_qmp_close(qmp, qlock);
        if (oldlive) {
            /* Back to the images QEMU still writes. */
            qv_domain_save_live(dom, oldlive, NULL);
            if (oldcfg)
                qv_domain_save_config(dom->conn, oldcfg, NULL);
        }
        return r;
    }
    qv_domain_qmp_close(qmp, qlock);
    for (guint i = 0; i < ovs->len; i++) {
        live_overlay *o = g_ptr_array_index(ovs, i);
        qv_domdef_disk *d = find_disk(c->live, o->disk);
        /* The chain's node names, for block jobs, resize and detach
         * (blockjob.h): the overlay's over those the disk had. */
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(names, g_strdup(o->fmt));
        g_ptr_array_add(names, g_strdup(o->st));
        qv_disk_node_names(dom, find_disk(oldlive, o->disk), names);
        qv_disk_set_node_names(dom, d, names, NULL);
    }
    return 0;
}

/* An external snapshot with memory, in libvirt's order: the CPUs stop
 * (with LIVE they run while QEMU writes, and QEMU stops them as the
 * stream ends), the memory goes to the snapshot's file as a save image
 * written the way save writes it (save.c), the disks get their overlays
 * while the CPUs stand still, and the CPUs run again unless HALT follows.
 * It is a job (job.h): another process sees it and may abort it. Any
 * failure leaves the domain running as before, with no overlay added and
 * no memory file. *stopped: the CPUs are stopped by this call still. */
static int create_external_memory(qv_domain *dom, qv_call *c, qv_snapdef *s, int state,
                                  unsigned int flags, bool *stopped, qv_error **err)
{
    bool live = (flags & QV_DOMAIN_SNAPSHOT_CREATE_LIVE) && state == QV_DOMAIN_RUNNING;
    *stopped = false;
    g_autofree char *xml = NULL;
    int r = qv_save_image_xml(dom, NULL, &xml, err);
    if (r < 0)
        return r;
    qv_job job;
    if ((r = qv_job_begin(dom, &c->act, QV_DOMAIN_JOB_OPERATION_SNAPSHOT, QV_JOB_MIGRATION, &job,
                          err)) < 0)
        return r;
    qv_domain_job_stats st = { .size = sizeof st, .type = QV_DOMAIN_JOB_FAILED };
    g_auto(qv_image_out) out = { .fd = -1 };
    bool written = false;
    r = qv_image_out_open(dom, &job, s->memory_file, xml, state == QV_DOMAIN_RUNNING, "snapshot",
                          "write the memory of", &out, err);
    if (r >= 0 && !live) {
        if ((r = qv_job_stop_cpus(dom, QV_DOMAIN_PAUSED_SNAPSHOT, stopped, err)) >= 0 && *stopped) {
            job.stopped_cpus = true;
            r = qv_job_update(dom, &job, err);
        }
        if (r < 0)
            unlink(out.tmp);
    }
    if (r >= 0)
        written = (r = qv_image_out_write(dom, &job, &out, false, &st, err)) >= 0;
    if (written) {
        /* A caller killed from here on leaves no memory file behind: the
         * recovery of its job removes it. */
        g_strlcpy(job.tmp_file, s->memory_file, sizeof job.tmp_file);
        if (live) {
            /* QEMU stopped the CPUs as the stream ended (postmigrate). */
            *stopped = job.stopped_cpus = true;
            if (qv_domain_lock_run(dom, NULL) >= 0) {
                record_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_SNAPSHOT);
                qv_domain_unlock_run(dom);
            }
            emit(dom, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_PAUSED);
        }
        r = qv_job_update(dom, &job, err);
    }
    if (r >= 0 && count_loc(s, QV_SNAP_LOC_EXTERNAL))
        r = create_external_live(dom, c, s, flags, err);
    if (r < 0) {
        if (written)
            unlink(s->memory_file);
        if (st.type == QV_DOMAIN_JOB_UNBOUNDED || st.type == QV_DOMAIN_JOB_COMPLETED)
            st.type = QV_DOMAIN_JOB_FAILED;
        if (err && *err && !*st.errmsg) {
            g_strlcpy(st.errmsg, qv_error_message(*err), sizeof st.errmsg);
            st.fields |= QV_DOMAIN_JOB_FIELD_ERRMSG;
        }
        if (*stopped)
            qv_job_resume_cpus(dom, QV_DOMAIN_RUNNING_UNPAUSED);
        *stopped = false;
        qv_job_end(dom, &job, &st);
        qv_log(QV_LOG_INFO, "domain '%s': snapshot '%s' failed; the domain carries on",
               dom->name, s->name);
        return r;
    }
    qv_job_end(dom, &job, &st);
    return 0;
}

/* Shut-off domain: overlays made by qemu-img, then the config. */
static int create_external_offline(qv_call *c, qv_snapdef *s, unsigned int flags, qv_error **err)
{
    int r = 0;
    g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; r >= 0 && i < s->disks->len; i++) {
        qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_EXTERNAL)
            continue;
        qv_domdef_disk *d = find_disk(c->cfg, sd->name);
        if (flags & QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT) {
            if (!g_file_test(sd->source_file, G_FILE_TEST_EXISTS))
                r = qv_error_set(err, -ENOENT, "REUSE_EXT: the overlay %s does not exist",
                                 sd->source_file);
        } else if ((r = make_overlay(sd->source_file, d->src.path,
                                     d->src.format ? d->src.format : "raw", 0, err)) >= 0) {
            g_ptr_array_add(made, g_strdup(sd->source_file));
        }
        if (r >= 0)
            push_overlay(d, sd->source_file);
    }
    if (r >= 0)
        r = qv_call_save(c, err);
    for (guint i = 0; r < 0 && i < made->len; i++)
        unlink(g_ptr_array_index(made, i));
    return r;
}

/* Internal snapshot of a shut-off domain: qemu-img snapshot -c on each image. */
static int qemu_img_snapshots(const qv_domdef *def, const qv_snapdef *s, const char *op,
                              bool stop_on_error, qv_error **err)
{
    int ret = 0;
    for (guint i = 0; i < s->disks->len; i++) {
        const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_INTERNAL)
            continue;
        const qv_domdef_disk *d = find_disk(def, sd->name);
        int r = !d ? qv_error_set(err, -ENOENT, "the domain has no disk '%s' any more", sd->name)
                   : QEMU_IMG("snapshot", op, s->name, d->src.path);
        if (r < 0 && ret >= 0)
            ret = r;
        if (r < 0 && stop_on_error)
            return r;
    }
    return ret;
}

/* Snapshots work on a run that is on or none: qemu-img must never touch
 * the images of a QEMU that is still coming up (the lifecycle lock makes
 * this the rare case of a start another process is undoing). */
static int begin_settled(qv_domain *dom, qv_call *c, qv_error **err)
{
    int r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, c, err);
    if (r >= 0 && c->act.phase != QV_RUN_ON && c->act.phase != QV_RUN_NONE)
        r = qv_error_set(err, -EBUSY, "domain '%s' is being started or stopped; try again",
                         dom->name);
    return r;
}

/* ---- create ------------------------------------------------------------- */

enum {
    CREATE_KNOWN = QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE | QV_DOMAIN_SNAPSHOT_CREATE_CURRENT |
                   QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA | QV_DOMAIN_SNAPSHOT_CREATE_HALT |
                   QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT |
                   QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE | QV_DOMAIN_SNAPSHOT_CREATE_ATOMIC |
                   QV_DOMAIN_SNAPSHOT_CREATE_LIVE | QV_DOMAIN_SNAPSHOT_CREATE_VALIDATE,
};

static int check_create_flags(unsigned int flags, qv_error **err)
{
    if (flags & ~(unsigned)CREATE_KNOWN)
        return qv_error_set(err, -EINVAL, "qv_domain_create_snapshot: unsupported flags 0x%x",
                            flags & ~CREATE_KNOWN);
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE) &&
        (flags & ~(unsigned)(QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE | QV_DOMAIN_SNAPSHOT_CREATE_CURRENT |
                             QV_DOMAIN_SNAPSHOT_CREATE_VALIDATE)))
        return qv_error_set(err, -EINVAL, "create_snapshot: REDEFINE takes only CURRENT and "
                            "VALIDATE");
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_CURRENT) && !(flags & QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE))
        return qv_error_set(err, -EINVAL, "create_snapshot: CURRENT is only for REDEFINE");
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA) && (flags & QV_DOMAIN_SNAPSHOT_CREATE_HALT))
        return 0;
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE) && !(flags & QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY))
        return qv_error_set(err, -EINVAL, "create_snapshot: QUIESCE needs DISK_ONLY");
    return 0;
}

static int redefine(qv_domain *dom, const char *xml, unsigned int flags, qv_snapshot **ret,
                    qv_error **err)
{
    g_autoptr(qv_snapdef) s = NULL;
    int r = qv_snapxml_parse(xml, QV_SNAPXML_PARSE_REDEFINE, &s, err);
    if (r < 0)
        return r;
    if (!s->name)
        return qv_error_set(err, -EINVAL, "snapshot XML: REDEFINE needs a <name>");
    if (!s->state)
        return qv_error_set(err, -EINVAL, "snapshot XML: REDEFINE needs a <state>");
    g_auto(qv_call) c = QV_CALL_INIT;
    g_auto(snap_tree) t = { 0 };
    if ((r = qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err)) < 0 ||
        (r = load_tree(dom, &t, err)) < 0)
        return r;
    if (s->parent && !tree_find(&t, s->parent))
        return qv_error_set(err, -EINVAL, "snapshot XML: the parent '%s' does not exist",
                            s->parent);
    if (s->parent && !strcmp(s->parent, s->name))
        return qv_error_set(err, -EINVAL, "snapshot XML: a snapshot cannot be its own parent");
    for (qv_snapdef *p = tree_find(&t, s->parent); p; p = tree_find(&t, p->parent))
        if (!strcmp(p->name, s->name))
            return qv_error_set(err, -EINVAL, "snapshot XML: parent '%s' would make a cycle",
                                s->parent);
    if (!s->creation_time)
        s->creation_time = qv_rt_now_us() / G_USEC_PER_SEC;
    if ((r = save_snap(dom, s, err)) < 0)
        return r;
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_CURRENT) && (r = set_current(dom, s->name, err)) < 0)
        return r;
    if (ret)
        *ret = snap_new(dom, s->name);
    return 0;
}

int qv_domain_create_snapshot(qv_domain *dom, const char *xml, unsigned int flags,
                              qv_snapshot **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_create_snapshot(dom, xml, flags, ret, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_create_snapshot: dom is required");
    int r = check_create_flags(flags, err);
    if (r < 0)
        return r;
    if (!xml)
        xml = "<domainsnapshot/>";
    if (flags & QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
        return redefine(dom, xml, flags, ret, err);
    g_autoptr(qv_snapdef) s = NULL;
    if ((r = qv_snapxml_parse(xml, 0, &s, err)) < 0)
        return r;
    bool disk_only = flags & QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY;
    int persistent = qv_domain_is_persistent(dom, err);
    if (persistent < 0)
        return persistent;
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = begin_settled(dom, &c, err)) < 0)
        return r;
    int state = QV_DOMAIN_SHUTOFF;
    if (c.act.phase == QV_RUN_ON && (r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
        return r;
    bool running = c.act.phase == QV_RUN_ON && state != QV_DOMAIN_SHUTOFF;
    if ((running && (r = qv_domain_load_def(dom, true, &c.live, err)) < 0) ||
        (c.persistent && (r = qv_domain_load_def(dom, false, &c.cfg, err)) < 0))
        return r;
    const qv_domdef *def = running ? c.live : c.cfg;
    if (!def)
        return qv_error_set(err, -EINVAL, "domain '%s' has no definition", dom->name);

    g_auto(snap_tree) t = { 0 };
    if ((r = load_tree(dom, &t, err)) < 0)
        return r;
    gint64 now = qv_rt_now_us() / G_USEC_PER_SEC;
    if (!s->name)
        s->name = g_strdup_printf("%" G_GINT64_FORMAT, now);
    if (tree_find(&t, s->name))
        return qv_error_set(err, -EEXIST, "domain '%s' has a snapshot named '%s' already",
                            dom->name, s->name);
    s->creation_time = now;
    s->parent = g_strdup(t.current);
    s->dom = qv_domdef_copy(def);

    /* Memory: internal with a running domain unless disk-only; external
     * when the XML gives it a file. */
    bool mem_ext = s->memory == QV_SNAP_LOC_EXTERNAL;
    if (mem_ext && disk_only)
        return qv_error_set(err, -EINVAL, "a disk-only snapshot cannot hold the memory");
    if (mem_ext && !running)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running: it has no memory for an "
                            "external memory snapshot", dom->name);
    if (mem_ext && (!s->memory_file || !g_path_is_absolute(s->memory_file)))
        return qv_error_set(err, -EINVAL, "snapshot XML: <memory snapshot='external'> needs an "
                            "absolute file= for the memory");
    if (disk_only && s->memory == QV_SNAP_LOC_INTERNAL)
        return qv_error_set(err, -EINVAL, "a disk-only snapshot cannot hold the memory");
    if (!running || disk_only)
        s->memory = QV_SNAP_LOC_NO;
    else if (s->memory == QV_SNAP_LOC_DEFAULT)
        s->memory = QV_SNAP_LOC_INTERNAL;
    bool with_memory = s->memory == QV_SNAP_LOC_INTERNAL;
    if (running && !disk_only && s->memory == QV_SNAP_LOC_NO)
        return qv_error_set(err, -EINVAL, "a snapshot of a running domain without its memory "
                            "must be disk-only (DISK_ONLY)");
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_LIVE) && !mem_ext)
        return qv_error_set(err, -EINVAL, "LIVE is for external snapshots with memory of a "
                            "running domain (<memory snapshot='external' file='...'/>)");
    if (mem_ext && !(flags & QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT) &&
        g_file_test(s->memory_file, G_FILE_TEST_EXISTS))
        return qv_error_set(err, -EEXIST, "the memory file %s exists already (use REUSE_EXT "
                            "to replace it)", s->memory_file);
    /* Disks not named follow the snapshot's kind: external with DISK_ONLY,
     * with external memory, or when a named disk is external (and the
     * memory is not internal). */
    qv_snap_location dflt = disk_only || mem_ext ||
                                    (!with_memory && count_loc(s, QV_SNAP_LOC_EXTERNAL))
                                ? QV_SNAP_LOC_EXTERNAL : QV_SNAP_LOC_INTERNAL;
    if ((r = align_disks(s, def, dflt, err)) < 0)
        return r;
    guint n_int = count_loc(s, QV_SNAP_LOC_INTERNAL), n_ext = count_loc(s, QV_SNAP_LOC_EXTERNAL);
    if (n_int && (n_ext || mem_ext))
        return qv_error_set(err, -ENOTSUP, "a snapshot is either internal or external: mixing "
                            "the two on its disks or memory is not supported (libvirt refuses "
                            "it too)");
    if (disk_only && n_int)
        return qv_error_set(err, -EINVAL, "a disk-only snapshot makes external overlays; "
                            "snapshot='internal' disks need a full snapshot");
    if (with_memory && !n_int)
        return qv_error_set(err, -EINVAL, "an internal snapshot with memory needs a qcow2 disk "
                            "to hold it");
    if (!n_int && !n_ext && !mem_ext)
        return qv_error_set(err, -EINVAL, "the snapshot would hold nothing: no disk is "
                            "snapshotted");
    s->state = g_strdup(disk_only ? "disk-snapshot" : state_name(running ? state : QV_DOMAIN_SHUTOFF));

    g_autofree char *busy = NULL;
    if (running && (r = qv_blockjob_busy_locked(dom, &busy, err)) != 0)
        return r < 0 ? r : qv_error_set(err, -EBUSY, "disk '%s' of domain '%s' has a block job: "
                                        "a snapshot waits until it ends (as libvirt)", busy,
                                        dom->name);
    bool cpus_stopped = false;
    if (mem_ext) {
        if (!(c.affect = QV_DOMAIN_AFFECT_LIVE | (c.cfg ? QV_DOMAIN_AFFECT_CONFIG : 0)))
            return -EINVAL;
        r = create_external_memory(dom, &c, s, state, flags, &cpus_stopped, err);
        /* The CPUs run again before the metadata is written, unless HALT
         * ends the domain. */
        if (r >= 0 && cpus_stopped && !(flags & QV_DOMAIN_SNAPSHOT_CREATE_HALT))
            qv_job_resume_cpus(dom, QV_DOMAIN_RUNNING_UNPAUSED);
    } else if (n_ext && running) {
        if (!(c.affect = QV_DOMAIN_AFFECT_LIVE | (c.cfg ? QV_DOMAIN_AFFECT_CONFIG : 0)))
            return -EINVAL;
        r = create_external_live(dom, &c, s, flags, err);
    } else if (n_ext) {
        c.affect = QV_DOMAIN_AFFECT_CONFIG;
        r = create_external_offline(&c, s, flags, err);
    } else if (running) {
        qv_qmp *qmp = NULL;
        int qlock = -1;
        if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) >= 0) {
            /* QEMU stops the guest for the job; its main loop (and so
             * QMP) is busy throughout, so STOP and RESUME arrive together
             * at the end and are reported as such. */
            r = snapshot_job(dom, qmp, "snapshot-save", c.live, s, state == QV_DOMAIN_RUNNING, err);
            qv_domain_qmp_close(qmp, qlock);
        }
    } else {
        r = qemu_img_snapshots(c.cfg, s, "-c", true, err);
        if (r < 0) {
            /* Nothing half-made stays: the images that got it lose it. */
            qemu_img_snapshots(c.cfg, s, "-d", false, NULL);
        }
    }
    if (r < 0)
        return r;
    if (!(flags & QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA)) {
        if ((r = save_snap(dom, s, err)) < 0 || (r = set_current(dom, s->name, err)) < 0)
            return r;
    }
    if ((flags & QV_DOMAIN_SNAPSHOT_CREATE_HALT) && running && (r = halt_domain(dom, &c.act, err)) < 0)
        return r;
    if (ret)
        *ret = snap_new(dom, s->name);
    return 0;
}

/* ---- revert ------------------------------------------------------------- */

static bool same_definition(const qv_domdef *a, const qv_domdef *b)
{
    const unsigned int f = QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE;
    g_autofree char *x = qv_domxml_format(a, f);
    g_autofree char *y = qv_domxml_format(b, f);
    return !strcmp(x, y);
}

/* A name for a new overlay on the snapshot's image: the snapshot's own
 * overlay path when nothing else uses it, else one with a time stamp. */
static char *revert_overlay_path(const snap_tree *t, const qv_snapdef *s, const char *wanted)
{
    bool used = false;
    for (guint i = 0; i < t->all->len && !used; i++) {
        const qv_snapdef *o = g_ptr_array_index(t->all, i);
        for (guint k = 0; o != s && o->dom && k < o->dom->disks->len && !used; k++) {
            const qv_domdef_disk *d = g_ptr_array_index(o->dom->disks, k);
            for (const qv_domdef_disk_src *src = &d->src; src && !used; src = src->backing)
                used = !g_strcmp0(src->path, wanted);
        }
    }
    if (!used)
        return g_strdup(wanted);
    return g_strdup_printf("%s.%lld", wanted, qv_rt_now_us());
}

/* libvirt 9.9's external revert: the domain's disks get new overlays on
 * the images the snapshot froze; the domain is shut off for it and started
 * again as asked. */
static int revert_external(qv_domain *dom, qv_call *c, const snap_tree *t, const qv_snapdef *s,
                           qv_domdef **newdef, qv_error **err)
{
    g_autoptr(qv_domdef) def = qv_domdef_copy(s->dom);
    for (guint i = 0; i < s->disks->len; i++) {
        const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_EXTERNAL)
            continue;
        qv_domdef_disk *d = find_disk(def, sd->name);
        if (!d)
            return qv_error_set(err, -EINVAL, "snapshot '%s' has no disk '%s' in its domain",
                                s->name, sd->name);
        g_autofree char *ov = revert_overlay_path(t, s, sd->source_file);
        if (!strcmp(ov, sd->source_file))
            unlink(ov);   /* what was written after the snapshot: discarded */
        int r = make_overlay(ov, d->src.path, d->src.format ? d->src.format : "raw", 0, err);
        if (r < 0)
            return r;
        push_overlay(d, ov);
    }
    (void)dom;
    (void)c;
    *newdef = g_steal_pointer(&def);
    return 0;
}

/* The new QEMU of a revert, paused, from the stored config (never from a
 * managed save image): STARTED is sent as FROM_SNAPSHOT and the domain is
 * paused (from snapshot) until the revert runs it, as libvirt does. With
 * mem_image, its memory comes from that save image. reset_nvram: the
 * firmware's variables start from their template again. */
static int start_for_revert(qv_domain *dom, const char *mem_image, bool reset_nvram,
                            qv_error **err)
{
    unsigned int sflags = QV_DOMAIN_START_PAUSED | (reset_nvram ? QV_DOMAIN_START_RESET_NVRAM : 0);
    if (mem_image)
        return qv_domain_start_from_image(dom, mem_image, sflags,
                                          QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
                                          QV_DOMAIN_PAUSED_FROM_SNAPSHOT, err);
    g_autoptr(qv_domdef) def = NULL;
    int r = qv_domain_load_config(dom->conn, dom->name, &def, err);
    if (r < 0)
        return r;
    qv_start_restore how = { .fd = -1, .started_detail = QV_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT,
                             .reason = QV_DOMAIN_PAUSED_FROM_SNAPSHOT };
    return qv_conn_start_domain_restore(dom->conn, dom, def, false, sflags, &how, err);
}

int qv_snapshot_revert_to(qv_snapshot *snap, unsigned int flags, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_revert_to(snap, flags, err));
    if (!snap)
        return qv_error_set(err, -EINVAL, "qv_snapshot_revert_to: snap is required");
    const unsigned int known = QV_DOMAIN_SNAPSHOT_REVERT_RUNNING |
                               QV_DOMAIN_SNAPSHOT_REVERT_PAUSED | QV_DOMAIN_SNAPSHOT_REVERT_FORCE |
                               QV_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_snapshot_revert_to: unsupported flags 0x%x",
                            flags & ~known);
    if ((flags & QV_DOMAIN_SNAPSHOT_REVERT_RUNNING) && (flags & QV_DOMAIN_SNAPSHOT_REVERT_PAUSED))
        return qv_error_set(err, -EINVAL, "revert: RUNNING and PAUSED exclude each other");
    qv_domain *dom = snap->dom;
    int r;
    bool need_start = false, start_paused = false;
    g_autofree char *mem_image = NULL;   /* an external snapshot's memory */
    {
        g_auto(qv_call) c = QV_CALL_INIT;
        g_auto(snap_tree) t = { 0 };
        qv_snapdef *s;
        if ((r = begin_settled(dom, &c, err)) < 0 || (r = load_snap(snap, &t, &s, err)) < 0)
            return r;
        if (!s->dom)
            return qv_error_set(err, -EINVAL, "snapshot '%s' has no domain definition to revert "
                                "to", s->name);
        int state = QV_DOMAIN_SHUTOFF;
        if (c.act.phase == QV_RUN_ON && (r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
            return r;
        bool running = c.act.phase == QV_RUN_ON && state != QV_DOMAIN_SHUTOFF;
        g_autofree char *busy = NULL;
        if (running && (r = qv_blockjob_busy_locked(dom, &busy, err)) != 0)
            return r < 0 ? r : qv_error_set(err, -EBUSY, "disk '%s' of domain '%s' has a block "
                                            "job: a revert waits until it ends (libvirt: domain "
                                            "has active block job)", busy, dom->name);
        bool mem = has_memory(s);
        bool want_run = (flags & QV_DOMAIN_SNAPSHOT_REVERT_RUNNING) ||
                        (!(flags & QV_DOMAIN_SNAPSHOT_REVERT_PAUSED) && state_is(s, "running"));
        bool want_active = mem || (flags & (QV_DOMAIN_SNAPSHOT_REVERT_RUNNING |
                                            QV_DOMAIN_SNAPSHOT_REVERT_PAUSED));
        if (!c.persistent && !want_active)
            return qv_error_set(err, -EINVAL, "domain '%s' is transient: reverting to a snapshot "
                                "without memory needs RUNNING or PAUSED", dom->name);
        if (running && (r = qv_domain_load_def(dom, true, &c.live, err)) < 0)
            return r;
        bool ext = snap_is_external(s);
        /* A running QEMU is kept only for an internal snapshot with memory
         * taken with the same devices: snapshot-load then does it all. */
        bool reuse = running && mem && !ext && same_definition(c.live, s->dom);
        if (running && mem && !ext && !reuse && !(flags & QV_DOMAIN_SNAPSHOT_REVERT_FORCE))
            return qv_error_set(err, -EINVAL, "snapshot '%s' was taken with a different domain "
                                "definition: reverting needs a new QEMU (use FORCE)", s->name);
        if (!reuse && want_active && !c.persistent)
            return qv_error_set(err, -ENOTSUP, "domain '%s' is transient: reverting it to "
                                "snapshot '%s' needs a new QEMU, which only a defined domain "
                                "can get", dom->name, s->name);
        if (mem && s->memory == QV_SNAP_LOC_EXTERNAL) {
            /* Checked before the running QEMU goes. */
            if (!s->memory_file || access(s->memory_file, R_OK) < 0)
                return qv_error_set_errno(err, s->memory_file ? -errno : -EINVAL,
                                          "snapshot '%s' has no readable memory file (%s)",
                                          s->name, s->memory_file ? s->memory_file : "none");
            mem_image = g_strdup(s->memory_file);
        }
        if (running && !reuse && (r = halt_domain(dom, &c.act, err)) < 0)
            return r;
        /* The config follows the snapshot's definition. */
        g_autoptr(qv_domdef) newcfg = NULL;
        if (ext && (r = revert_external(dom, &c, &t, s, &newcfg, err)) < 0)
            return r;
        if (!newcfg)
            newcfg = qv_domdef_copy(s->dom);
        if (c.persistent) {
            g_autoptr(qv_domdef) cur = NULL;
            if ((r = qv_domain_load_config(dom->conn, dom->name, &cur, err)) < 0)
                return r;
            if (!same_definition(cur, newcfg)) {
                if ((r = qv_domain_save_config(dom->conn, newcfg, err)) < 0)
                    return r;
                emit(dom, QV_DOMAIN_EVENT_DEFINED, QV_DOMAIN_EVENT_DEFINED_FROM_SNAPSHOT);
            }
        }
        if (!reuse && !mem && !s->disks->len) {
            /* nothing in the images to go back to */
        } else if (!reuse && !ext) {
            /* Internal: the images go back first (QEMU is not running). */
            if ((r = qemu_img_snapshots(newcfg, s, "-a", true, err)) < 0)
                return r;
        }
        if (reuse) {
            qv_qmp *qmp = NULL;
            int qlock = -1;
            if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) < 0)
                return r;
            if (state == QV_DOMAIN_RUNNING && (r = qv_qmp_call(qmp, "stop", NULL, 0, NULL, err)) >= 0) {
                record_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
                emit(dom, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT);
            }
            if (r >= 0)
                r = snapshot_job(dom, qmp, "snapshot-load", c.live, s, false, err);
            if (r >= 0 && want_run && (r = qv_qmp_call(qmp, "cont", NULL, 0, NULL, err)) >= 0) {
                record_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
                emit(dom, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT);
            } else if (r >= 0 && !want_run) {
                record_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
            }
            qv_domain_qmp_close(qmp, qlock);
            if (r < 0)
                return r;
        } else if (want_active) {
            need_start = true;
            start_paused = !want_run;
        }
        if ((r = set_current(dom, s->name, err)) < 0)
            return r;
    }
    if (!need_start)
        return 0;
    /* A new QEMU: started paused, the snapshot's memory loaded when it has
     * one (an external snapshot's through the restore path: -incoming
     * defer, migrate-incoming from its save image), then run as asked. */
    if ((r = start_for_revert(dom, mem_image, flags & QV_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM,
                              err)) < 0)
        return r;
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    if ((r = load_snap(snap, &t, &s, err)) < 0)
        return r;
    int state;
    if ((r = qv_domain_get_state(dom, &state, NULL, err)) < 0)
        return r;
    qv_qmp *qmp = NULL;
    int qlock = -1;
    if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) < 0)
        return r;
    g_autoptr(qv_domdef) live = NULL;
    if (has_memory(s) && !snap_is_external(s) &&
        (r = qv_domain_load_def(dom, true, &live, err)) >= 0)
        r = snapshot_job(dom, qmp, "snapshot-load", live, s, false, err);
    if (r >= 0 && !start_paused && (r = qv_qmp_call(qmp, "cont", NULL, 0, NULL, err)) >= 0) {
        record_state(dom, QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_FROM_SNAPSHOT);
        emit(dom, QV_DOMAIN_EVENT_RESUMED, QV_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT);
    } else if (r >= 0) {
        record_state(dom, QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_FROM_SNAPSHOT);
        emit(dom, QV_DOMAIN_EVENT_SUSPENDED, QV_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT);
    }
    qv_domain_qmp_close(qmp, qlock);
    return r;
}

/* ---- delete ------------------------------------------------------------- */

/* Deleting an external snapshot merges each of its overlays into the
 * image below it, the one the snapshot froze, as libvirt 9.0 does: while
 * the domain runs by a block commit (blockjob.h: an active commit pivoted
 * once READY when the overlay is the disk's top, else a commit that
 * rewrites the backing name in the image above it), shut off by qemu-img
 * (commit, then rebase -u of the image above). The overlay's file goes,
 * and the stored snapshots that named it name the image below instead.
 * An overlay the disk no longer uses (the domain was reverted elsewhere)
 * is only removed. */

static bool same_image(const char *a, const char *b)
{
    struct stat x, y;
    if (!a || !b)
        return false;
    return !strcmp(a, b) ||
           (stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino);
}

static qv_domdef_disk_src *src_dup(const qv_domdef_disk_src *s)
{
    qv_domdef_disk_src *n = g_new0(qv_domdef_disk_src, 1);
    n->type = s->type;
    n->format = g_strdup(s->format);
    n->path = g_strdup(s->path);
    n->protocol = g_strdup(s->protocol);
    n->name = g_strdup(s->name);
    n->host = g_strdup(s->host);
    n->port = g_strdup(s->port);
    n->transport = g_strdup(s->transport);
    n->socket = g_strdup(s->socket);
    n->query = g_strdup(s->query);
    n->has_backing = s->has_backing;
    n->backing = s->backing ? src_dup(s->backing) : NULL;
    return n;
}

/* Takes the image at path out of a disk's source chain: the top becomes
 * what was below it (below: that chain, from the snapshot), a backing
 * image is spliced out. true when the chain changed. */
static bool chain_drop(qv_domdef_disk *d, const char *path, const qv_domdef_disk_src *below)
{
    if (same_image(d->src.path, path)) {
        qv_domdef_disk_src *next = below ? src_dup(below) : d->src.backing;
        if (!next)
            return false;
        if (below && d->src.backing) {
            qv_domdef_disk_src_clear(d->src.backing);
            g_free(d->src.backing);
        }
        d->src.backing = NULL;
        qv_domdef_disk_src_clear(&d->src);
        d->src = *next;
        g_free(next);
        return true;
    }
    for (qv_domdef_disk_src *x = &d->src; x->backing; x = x->backing) {
        if (!same_image(x->backing->path, path))
            continue;
        qv_domdef_disk_src *gone = x->backing;
        x->backing = gone->backing;
        gone->backing = NULL;
        qv_domdef_disk_src_clear(gone);
        g_free(gone);
        return true;
    }
    return false;
}

/* One disk of the snapshot being deleted. */
typedef struct ext_disk {
    char *target;
    char *overlay;          /* the snapshot's overlay */
    char *below;            /* the image it froze */
    char *below_format;
    char *above;            /* the image over the overlay today (depth > 0) */
    char *above_format;
    int depth;              /* the overlay's index in the disk's chain; -1: not in it */
} ext_disk;

static void ext_disk_free(gpointer p)
{
    ext_disk *e = p;
    g_free(e->target);
    g_free(e->overlay);
    g_free(e->below);
    g_free(e->below_format);
    g_free(e->above);
    g_free(e->above_format);
    g_free(e);
}

/* libvirt's rules for deleting an external snapshot (qemuSnapshotDeleteValidate),
 * then where each overlay sits in today's chains (now: the live definition,
 * or the config with its chains read from the images). */
static int plan_external_delete(qv_domain *dom, const snap_tree *t, const qv_snapdef *s,
                                const qv_domdef *now, GPtrArray *plan, qv_error **err)
{
    guint kids = n_children(t, s->name);
    const qv_snapdef *cur = tree_find(t, t->current);
    if (kids > 1)
        return qv_error_set(err, -ENOTSUP, "external snapshot '%s' has %u children: deleting an "
                            "external snapshot with more than one child is not supported",
                            s->name, kids);
    if (kids && cur == s)
        return qv_error_set(err, -ENOTSUP, "external snapshot '%s' is the current one and has a "
                            "child: deleting it is not supported (libvirt refuses it too)",
                            s->name);
    if (kids && (!cur || !is_descendant(t, cur, s->name)))
        return qv_error_set(err, -ENOTSUP, "external snapshot '%s' has a child but is not in "
                            "the domain's current chain (revert to it or a descendant first, or "
                            "use --metadata)", s->name);
    for (guint i = 0; i < s->disks->len; i++) {
        const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_EXTERNAL)
            continue;
        const qv_domdef_disk *then = s->dom ? find_disk(s->dom, sd->name) : NULL;
        const qv_domdef_disk *d = find_disk(now, sd->name);
        if (!d)
            return qv_error_set(err, -EINVAL, "snapshot '%s' has an overlay on disk '%s', which "
                                "domain '%s' no longer has: its overlay %s cannot be merged back "
                                "(attach the disk again, or use --metadata)", s->name, sd->name,
                                dom->name, sd->source_file);
        ext_disk *e = g_new0(ext_disk, 1);
        g_ptr_array_add(plan, e);
        e->target = g_strdup(sd->name);
        e->overlay = g_strdup(sd->source_file);
        e->below = then ? g_strdup(then->src.path) : NULL;
        e->below_format = g_strdup(then && then->src.format ? then->src.format : "raw");
        e->depth = -1;
        const qv_domdef_disk_src *prev = NULL;
        int k = 0;
        for (const qv_domdef_disk_src *x = &d->src; x && x->path; prev = x, x = x->backing, k++) {
            if (!same_image(x->path, e->overlay))
                continue;
            e->depth = k;
            if (prev) {
                e->above = g_strdup(prev->path);
                e->above_format = g_strdup(prev->format ? prev->format : "raw");
            }
            if (!x->backing || !same_image(x->backing->path, e->below))
                return qv_error_set(err, -EINVAL, "disk '%s': the image below the overlay %s of "
                                    "snapshot '%s' is %s, not %s as when it was taken: it cannot "
                                    "be merged back", sd->name, e->overlay, s->name,
                                    x->backing && x->backing->path ? x->backing->path : "none",
                                    e->below ? e->below : "unknown");
            break;
        }
        if (e->depth >= 0 || !g_file_test(e->overlay, G_FILE_TEST_EXISTS))
            continue;
        /* Unused by the disk: no other snapshot may build on it either. */
        for (guint o = 0; o < t->all->len; o++) {
            const qv_snapdef *os = g_ptr_array_index(t->all, o);
            const qv_domdef_disk *od = os != s && os->dom ? find_disk(os->dom, sd->name) : NULL;
            for (const qv_domdef_disk_src *x = od ? &od->src : NULL; x && x->path; x = x->backing)
                if (same_image(x->path, e->overlay))
                    return qv_error_set(err, -EBUSY, "the overlay %s of snapshot '%s' is an "
                                        "image of snapshot '%s' too: delete that one first (or "
                                        "use --metadata)", e->overlay, s->name, os->name);
        }
    }
    return 0;
}

/* Shut off: qemu-img commits the overlay into the image below, the image
 * above (if any) is rebased onto that one without copying (-u: the data is
 * the same), then the config drops the overlay. A failure after the commit
 * leaves a valid chain: the overlay is empty then, not gone. */
static int merge_offline(qv_domain *dom, const ext_disk *e, qv_error **err)
{
    int r;
    if ((r = QEMU_IMG("commit", "-q", "-f", "qcow2", e->overlay)) < 0)
        return r;
    if (e->above && (r = QEMU_IMG("rebase", "-q", "-u", "-f", e->above_format, "-F",
                                  e->below_format, "-b", e->below, e->above)) < 0)
        return r;
    g_autoptr(qv_domdef) cfg = NULL;
    if ((r = qv_domain_load_config(dom->conn, dom->name, &cfg, err)) < 0)
        return r;
    qv_domdef_disk *d = find_disk(cfg, e->target);
    bool changed = d && chain_drop(d, e->overlay, NULL);
    if (d && !changed && same_image(d->src.path, e->overlay)) {
        /* A config without <backingStore>: the chain was read from the images. */
        g_free(d->src.path);
        g_free(d->src.format);
        d->src.path = g_strdup(e->below);
        d->src.format = g_strdup(e->below_format);
        changed = true;
    }
    if (changed && (r = qv_domain_save_config(dom->conn, cfg, err)) < 0)
        return r;
    return 0;
}

/* The stored snapshots that named an overlay of s (its children: their
 * domain's disk was the overlay, or had it in its chain) name the image
 * below it instead. */
static int reparent_images(qv_domain *dom, const snap_tree *t, const qv_snapdef *s,
                           qv_error **err)
{
    for (guint o = 0; o < t->all->len; o++) {
        qv_snapdef *os = g_ptr_array_index(t->all, o);
        bool changed = false;
        for (guint i = 0; os != s && os->dom && i < s->disks->len; i++) {
            const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
            const qv_domdef_disk *then = s->dom ? find_disk(s->dom, sd->name) : NULL;
            qv_domdef_disk *od = find_disk(os->dom, sd->name);
            if (sd->snapshot == QV_SNAP_LOC_EXTERNAL && od && then)
                changed |= chain_drop(od, sd->source_file, &then->src);
        }
        int r;
        if (changed && (r = save_snap(dom, os, err)) < 0)
            return r;
    }
    return 0;
}

static int delete_external(qv_domain *dom, qv_call *c, const snap_tree *t, const qv_snapdef *s,
                           qv_error **err)
{
    bool running = c->act.phase == QV_RUN_ON;
    g_autoptr(qv_domdef) now = NULL;
    int r = 0;
    if (count_loc(s, QV_SNAP_LOC_EXTERNAL)) {
        /* (A snapshot of the memory alone has no overlay to merge.) */
        r = running ? qv_domain_load_def(dom, true, &now, err)
                    : qv_domain_load_config(dom->conn, dom->name, &now, err);
        if (r == -ENOENT && !running)
            return qv_error_set(err, -EINVAL, "domain '%s' is transient and shut off", dom->name);
        if (r < 0 || (!running && (r = qv_domdef_fill_backing_chains(now, err)) < 0))
            return r;
    }
    g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func(ext_disk_free);
    g_autofree char *busy = NULL;
    if (running && now && (r = qv_blockjob_busy_locked(dom, &busy, err)) != 0)
        return r < 0 ? r : qv_error_set(err, -EBUSY, "disk '%s' of domain '%s' has a block job: "
                                        "deleting external snapshot '%s' needs block commits of "
                                        "its own (wait for the job or abort it)", busy,
                                        dom->name, s->name);
    if ((r = plan_external_delete(dom, t, s, now, plan, err)) < 0)
        return r;
    g_autoptr(GString) merged = g_string_new(NULL);
    for (guint i = 0; i < plan->len; i++) {
        const ext_disk *e = g_ptr_array_index(plan, i);
        if (e->depth < 0) {
            unlink(e->overlay);
            continue;
        }
        qv_log(QV_LOG_INFO, "domain '%s': snapshot '%s': merging %s into %s", dom->name, s->name,
               e->overlay, e->below);
        r = running ? qv_blockjob_commit_locked(dom, e->target, e->overlay, e->below,
                                                QV_DOMAIN_BLOCK_COMMIT_DELETE, err)
                    : merge_offline(dom, e, err);
        if (r < 0) {
            if (err && *err)
                qv_error_prefix(*err, "cannot delete snapshot '%s' of domain '%s' (it is kept; "
                                "%s%s%s): disk '%s'", s->name, dom->name,
                                merged->len ? "the overlays of disks " : "no image changed",
                                merged->str, merged->len ? " were merged already, delete it "
                                "again to finish" : "", e->target);
            return r;
        }
        if (!running)
            unlink(e->overlay);
        g_string_append_printf(merged, "%s%s", merged->len ? ", " : "", e->target);
    }
    if ((r = reparent_images(dom, t, s, err)) < 0)
        return r;
    if (s->memory == QV_SNAP_LOC_EXTERNAL && s->memory_file && unlink(s->memory_file) < 0 &&
        errno != ENOENT)
        return qv_error_set_errno(err, -errno, "cannot remove the memory file %s of snapshot "
                                  "'%s'", s->memory_file, s->name);
    return 0;
}

/* An internal snapshot lives in the images that were the disks' tops when
 * it was taken; QEMU writes (and deletes snapshots in) only today's tops. */
static int check_internal_on_top(const qv_snapdef *s, const qv_domdef *live, qv_error **err)
{
    for (guint i = 0; s->dom && i < s->disks->len; i++) {
        const qv_snapdef_disk *sd = g_ptr_array_index(s->disks, i);
        if (sd->snapshot != QV_SNAP_LOC_INTERNAL)
            continue;
        const qv_domdef_disk *then = find_disk(s->dom, sd->name), *now = find_disk(live, sd->name);
        if (then && now && g_strcmp0(then->src.path, now->src.path))
            return qv_error_set(err, -ENOTSUP, "snapshot '%s' lives in %s, which the running "
                                "domain only reads now (it is under an overlay): delete it "
                                "while the domain is shut off, or use --metadata", s->name,
                                then->src.path);
    }
    return 0;
}

/* Removes one snapshot's data (unless metadata_only) and its metadata;
 * its children move up to its parent. */
static int delete_one(qv_domain *dom, qv_call *c, snap_tree *t, qv_snapdef *s, bool metadata_only,
                      qv_error **err)
{
    int r = 0;
    if (!metadata_only && snap_is_external(s)) {
        r = delete_external(dom, c, t, s, err);
    } else if (!metadata_only && c->act.phase == QV_RUN_ON) {
        g_autoptr(qv_domdef) live = NULL;
        qv_qmp *qmp = NULL;
        int qlock = -1;
        if ((r = qv_domain_load_def(dom, true, &live, err)) >= 0)
            r = check_internal_on_top(s, live, err);
        if (r >= 0 && (r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) >= 0) {
            r = snapshot_job(dom, qmp, "snapshot-delete", live, s, false, err);
            qv_domain_qmp_close(qmp, qlock);
        }
    } else if (!metadata_only) {
        /* The images that were the disks' tops when it was taken hold it. */
        g_autoptr(qv_domdef) cfg = NULL;
        if (s->dom)
            r = qemu_img_snapshots(s->dom, s, "-d", false, err);
        else if ((r = qv_domain_load_config(dom->conn, dom->name, &cfg, err)) >= 0)
            r = qemu_img_snapshots(cfg, s, "-d", false, err);
    }
    if (r < 0)
        return r;
    for (guint i = 0; i < t->all->len; i++) {
        qv_snapdef *o = g_ptr_array_index(t->all, i);
        if (g_strcmp0(o->parent, s->name))
            continue;
        g_free(o->parent);
        o->parent = g_strdup(s->parent);
        if ((r = save_snap(dom, o, err)) < 0)
            return r;
    }
    if (!g_strcmp0(t->current, s->name)) {
        if ((r = set_current(dom, s->parent, err)) < 0)
            return r;
        g_free(t->current);
        t->current = g_strdup(s->parent);
    }
    if ((r = remove_snap_file(dom, s->name, err)) < 0)
        return r;
    g_ptr_array_remove(t->all, s);
    return 0;
}

int qv_snapshot_delete(qv_snapshot *snap, unsigned int flags, qv_error **err)
{
    QV_REMOTE_SNAPSHOT(snap, qv_remote__qv_snapshot_delete(snap, flags, err));
    if (!snap)
        return qv_error_set(err, -EINVAL, "qv_snapshot_delete: snap is required");
    const unsigned int known = QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN |
                               QV_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY |
                               QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_snapshot_delete: unsupported flags 0x%x",
                            flags & ~known);
    if ((flags & QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN) &&
        (flags & QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY))
        return qv_error_set(err, -EINVAL, "delete: CHILDREN and CHILDREN_ONLY exclude each other");
    qv_domain *dom = snap->dom;
    bool md = flags & QV_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY;
    g_auto(qv_call) c = QV_CALL_INIT;
    g_auto(snap_tree) t = { 0 };
    qv_snapdef *s;
    int r;
    r = md ? qv_domain_begin(dom, QV_CALL_RUN_ONLY, &c, err) : begin_settled(dom, &c, err);
    if (r < 0 || (r = load_snap(snap, &t, &s, err)) < 0)
        return r;
    if (flags & (QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN | QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)) {
        /* Leaves first, so every deletion is of a snapshot without children. */
        g_autoptr(GPtrArray) desc = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < t.all->len; i++) {
            qv_snapdef *o = g_ptr_array_index(t.all, i);
            if (is_descendant(&t, o, s->name))
                g_ptr_array_add(desc, g_strdup(o->name));
        }
        while (desc->len) {
            bool progress = false;
            for (guint i = 0; i < desc->len; i++) {
                qv_snapdef *o = tree_find(&t, g_ptr_array_index(desc, i));
                if (o && n_children(&t, o->name))
                    continue;
                if (o && (r = delete_one(dom, &c, &t, o, md, err)) < 0)
                    return r;
                g_ptr_array_remove_index(desc, i);
                progress = true;
                break;
            }
            if (!progress)
                break;
        }
        if (flags & QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
            return 0;
        s = tree_find(&t, snap->name);
    }
    return s ? delete_one(dom, &c, &t, s, md, err) : 0;
}
