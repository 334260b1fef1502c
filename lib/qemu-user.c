/* Who QEMU runs as (qemu-user.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu-user.h"
#include "hostdev.h"

/* Users and groups are read from /etc/passwd and /etc/group first, as
 * NSS's "files" would, and only then through NSS: loading the NSS modules
 * for getpwnam and getgrouplist costs the calling process over 1 MiB it
 * keeps for good, and QEMU's user is a local system user (useradd). */
#define QV_PASSWD "/etc/passwd"
#define QV_GROUP "/etc/group"

/* The fields of the line of a colon-separated database whose first field
 * is name (g_strfreev), or NULL. */
static char **db_entry(const char *file, const char *name)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(file, &text, NULL, NULL))
        return NULL;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char **f = g_strsplit(*l, ":", -1);
        if (g_strv_length(f) >= 4 && !strcmp(f[0], name))
            return f;
        g_strfreev(f);
    }
    return NULL;
}

static bool parse_id(const char *s, unsigned long *v)
{
    char *end;
    *v = strtoul(s, &end, 10);
    return *s && !*end;
}

/* A user's ids, or -ENOENT. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    g_auto(GStrv) f = db_entry(QV_PASSWD, name);
    unsigned long u, g;
    if (f && parse_id(f[2], &u) && parse_id(f[3], &g)) {
        *uid = (uid_t)u;
        *gid = (gid_t)g;
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    int e = getpwnam_r(name, &pw, buf, sizeof buf, &res);
    if (e)
        return -e;
    if (!res)
        return -ENOENT;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return 0;
}

static int lookup_group(const char *name, gid_t *gid)
{
    g_auto(GStrv) f = db_entry(QV_GROUP, name);
    unsigned long g;
    if (f && parse_id(f[2], &g)) {
        *gid = (gid_t)g;
        return 0;
    }
    struct group gr, *res = NULL;
    char buf[8192];
    int e = getgrnam_r(name, &gr, buf, sizeof buf, &res);
    if (e)
        return -e;
    if (!res)
        return -ENOENT;
    *gid = gr.gr_gid;
    return 0;
}

/* The user's groups: gid, and every group of /etc/group listing the user
 * (NSS's getgrouplist when the user is not in /etc/passwd). */
static void user_groups(const char *user, gid_t gid, bool local, qv_qemu_user *ret)
{
    g_autoptr(GArray) groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
    g_array_append_val(groups, gid);
    g_autofree char *text = NULL;
    if (local && g_file_get_contents(QV_GROUP, &text, NULL, NULL)) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
            g_auto(GStrv) f = g_strsplit(*l, ":", -1);
            unsigned long g;
            if (g_strv_length(f) < 4 || !parse_id(f[2], &g) || (gid_t)g == gid)
                continue;
            g_auto(GStrv) members = g_strsplit(f[3], ",", -1);
            if (g_strv_contains((const char *const *)members, user)) {
                gid_t v = (gid_t)g;
                g_array_append_val(groups, v);
            }
        }
    } else if (!local) {
        int n = 16;
        g_array_set_size(groups, (guint)n);
        if (getgrouplist(user, gid, (gid_t *)(void *)groups->data, &n) < 0) {
            g_array_set_size(groups, (guint)n);
            getgrouplist(user, gid, (gid_t *)(void *)groups->data, &n);
        }
        g_array_set_size(groups, (guint)MAX(n, 0));
    }
    ret->n_groups = groups->len;
    ret->groups = (gid_t *)(void *)g_array_free(g_steal_pointer(&groups), FALSE);
}

void qv_qemu_tls_clear(qv_qemu_tls *t)
{
    g_clear_pointer(&t->chardev_dir, g_free);
    g_clear_pointer(&t->spice_dir, g_free);
}

/* A [qemu] folder key, NULL when absent or blank. */
static char *conf_dir(GKeyFile *kf, const char *key)
{
    char *v = g_key_file_get_string(kf, "qemu", key, NULL);
    if (v && !*g_strstrip(v))
        g_clear_pointer(&v, g_free);
    return v;
}

/* libvirt's SET_TLS_X509_CERT_DEFAULT: <pki_root>/libvirt-<service> where it
 * exists, else default_tls_x509_cert_dir. */
static char *service_dir(GKeyFile *kf, const char *key, const char *pki_root,
                         const char *service, const char *fallback)
{
    char *v = conf_dir(kf, key);
    if (v)
        return v;
    g_autofree char *own = g_strdup_printf("%s/libvirt-%s", pki_root, service);
    return g_file_test(own, G_FILE_TEST_IS_DIR) ? g_steal_pointer(&own) : g_strdup(fallback);
}

int qv_qemu_tls_read(const char *conf, const char *pki_root, qv_build_ctx *ctx, qv_qemu_tls *out,
                     qv_error **err)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) gerr = NULL;
    memset(out, 0, sizeof *out);
    if (!g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, &gerr) &&
        !g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return qv_error_set(err, -EINVAL, "%s: %s", conf, gerr->message);
    static const char *const flags[] = { "chardev_tls", "chardev_tls_x509_verify", "spice_tls" };
    bool value[G_N_ELEMENTS(flags)] = { false, true, false };
    for (size_t i = 0; i < G_N_ELEMENTS(flags); i++) {
        g_autoptr(GError) e = NULL;
        bool v = g_key_file_get_boolean(kf, "qemu", flags[i], &e);
        if (!e)
            value[i] = v;
        else if (!g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) &&
                 !g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND))
            return qv_error_set(err, -EINVAL, "%s: [qemu] %s= must be 1 or 0.", conf, flags[i]);
    }
    ctx->chardev_tls = value[0];
    ctx->chardev_tls_no_verify = !value[1];
    ctx->spice_tls = value[2];
    g_autofree char *def = conf_dir(kf, "default_tls_x509_cert_dir");
    const char *fallback = def ? def : "/etc/pki/qemu";
    out->chardev_dir = service_dir(kf, "chardev_tls_x509_cert_dir", pki_root, "chardev", fallback);
    out->spice_dir = service_dir(kf, "spice_tls_x509_cert_dir", pki_root, "spice", fallback);
    ctx->chardev_tls_x509_dir = out->chardev_dir;
    ctx->spice_tls_x509_dir = out->spice_dir;
    return 0;
}

int qv_conn_qemu_tls(qv_conn *conn, qv_build_ctx *ctx, qv_qemu_tls *out, qv_error **err)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    return qv_qemu_tls_read(conf, "/etc/pki", ctx, out, err);
}

int qv_conn_qemu_user(qv_conn *conn, qv_qemu_user *ret, qv_error **err)
{
    memset(ret, 0, sizeof *ret);
    ret->uid = (uid_t)-1;
    ret->gid = (gid_t)-1;
    if (geteuid() != 0)
        return 0;
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *user = NULL, *group = NULL;
    g_autoptr(GError) gerr = NULL;
    if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, &gerr)) {
        user = g_key_file_get_string(kf, "qemu", "user", NULL);
        group = g_key_file_get_string(kf, "qemu", "group", NULL);
    } else if (!g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        return qv_error_set(err, -EINVAL, "%s: %s", conf, gerr->message);
    }
    g_autofree char *ns = g_key_file_get_string(kf, "qemu", "namespaces", NULL);
    ret->private_dev = !ns || !strcmp(g_strstrip(ns), "mount");
    if (ns && *ns && strcmp(ns, "mount")) {
        return qv_error_set(err, -EINVAL, "%s: namespaces=%s: qvirt knows only 'mount' (or "
                            "nothing, for none)", conf, ns);
    }
    if (!user || !*user) {
        g_free(user);
        user = g_strdup(QV_QEMU_DEFAULT_USER);
    }
    ret->name = g_strdup(user);
    if (!strcmp(user, "root"))
        return 0; /* QEMU stays root, as the config says; still without capabilities */
    int r = lookup_user(user, &ret->uid, &ret->gid);
    if (r == -ENOENT)
        return qv_error_set(err, -ENOENT,
                            "QEMU is to run as user '%s', which does not exist: create it "
                            "(scripts/deps.sh does) or name another as [qemu] user= in %s",
                            user, conf);
    if (r < 0)
        return qv_error_set_errno(err, r, "cannot look up user '%s'", user);
    if (group && *group && (r = lookup_group(group, &ret->gid)) < 0)
        return r == -ENOENT ? qv_error_set(err, -ENOENT, "the group '%s' named in %s does not "
                                           "exist", group, conf)
                            : qv_error_set_errno(err, r, "cannot look up group '%s'", group);
    if (!ret->uid)
        return qv_error_set(err, -EINVAL, "user '%s' in %s has uid 0: QEMU would run as root; "
                            "say user=root to mean that", user, conf);
    g_auto(GStrv) local = db_entry(QV_PASSWD, user);
    user_groups(user, ret->gid, local != NULL, ret);
    return 0;
}

void qv_qemu_user_clear(qv_qemu_user *u)
{
    g_free(u->groups);
    g_free(u->name);
    memset(u, 0, sizeof *u);
}

static void add_dev(GPtrArray *names, const char *path)
{
    if (!path || !g_str_has_prefix(path, "/dev/") || strstr(path, "/../"))
        return;
    const char *name = path + 5;
    static const char *const basic[] = { "null", "zero", "full", "random", "urandom", "ptmx" };
    for (size_t i = 0; i < G_N_ELEMENTS(basic); i++)
        if (!strcmp(name, basic[i]))
            return;
    for (guint i = 0; i < names->len; i++)
        if (!strcmp(names->pdata[i], name))
            return;
    g_ptr_array_add(names, g_strdup(name));
}

char **qv_qemu_devices(const qv_domdef *def)
{
    GPtrArray *names = g_ptr_array_new();
    if (def->virt_type == QV_DOMDEF_VIRT_KVM)
        add_dev(names, "/dev/kvm");
    for (guint i = 0; def->graphics && i < def->graphics->len; i++)
        add_dev(names, ((qv_domdef_graphics *)def->graphics->pdata[i])->rendernode);
    for (guint i = 0; def->chrs && i < def->chrs->len; i++) {
        const qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->src.type == QV_CHR_DEV)
            add_dev(names, c->src.path);
    }
    for (guint i = 0; def->tpms && i < def->tpms->len; i++) {
        const qv_domdef_tpm *t = def->tpms->pdata[i];
        if (!strcmp(t->backend, "passthrough"))
            add_dev(names, t->path ? t->path : "/dev/tpm0");
    }
    for (guint i = 0; def->rngs && i < def->rngs->len; i++) {
        const qv_domdef_rng *r = def->rngs->pdata[i];
        if (!r->egd)
            add_dev(names, r->backend_path);
    }
    g_autoptr(GPtrArray) vfio = g_ptr_array_new_with_free_func(g_free);
    qv_hostdevs_vfio_nodes(def, "", vfio);
    for (guint i = 0; i < vfio->len; i++)
        add_dev(names, vfio->pdata[i]);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

/* Whether user u may access a file of this stat with the permission bit
 * of its class (S_IRUSR or S_IWUSR, shifted for group and others). */
static bool allowed(const qv_qemu_user *u, const struct stat *st, mode_t owner_bit)
{
    if (st->st_uid == u->uid)
        return st->st_mode & owner_bit;
    bool in_group = st->st_gid == u->gid;
    for (size_t i = 0; !in_group && i < u->n_groups; i++)
        in_group = st->st_gid == u->groups[i];
    return st->st_mode & (in_group ? owner_bit >> 3 : owner_bit >> 6);
}

static int grant(const qv_qemu_user *u, const char *dir, const char *what, const char *path,
                 mode_t owner_bit, qv_error **err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return qv_error_set_errno(err, -errno, "cannot use the %s %s", what, path);
    if (allowed(u, &st, owner_bit))
        return 0;
    if (!(st.st_mode & owner_bit))
        return qv_error_set(err, -EACCES, "QEMU runs as user '%s', which cannot %s the %s %s "
                            "(mode %04o), even as its owner", u->name,
                            owner_bit == S_IRUSR ? "read" : "write", what, path,
                            (unsigned int)(st.st_mode & 07777));
    return qv_rt_chown_for_run(dir, path, u->uid, u->gid, err);
}

int qv_qemu_user_grant_files(const qv_qemu_user *u, const qv_domdef *def, const char *dir,
                             qv_error **err)
{
    if (u->uid == (uid_t)-1)
        return 0; /* QEMU runs as the caller (or stays root) */
    const struct { const char *what, *path; } files[] = {
        { "kernel", def->os.kernel }, { "initrd", def->os.initrd }, { "dtb", def->os.dtb },
    };
    int r = 0;
    for (size_t i = 0; r >= 0 && i < G_N_ELEMENTS(files); i++)
        if (files[i].path)
            r = grant(u, dir, files[i].what, files[i].path, S_IRUSR, err);
    for (guint i = 0; r >= 0 && def->chrs && i < def->chrs->len; i++) {
        const qv_domdef_chr *c = def->chrs->pdata[i];
        /* QEMU connects to it again by itself: it keeps the path. */
        if (c->src.type == QV_CHR_UNIX && !c->src.bind && c->src.reconnect && c->src.path &&
            g_file_test(c->src.path, G_FILE_TEST_EXISTS))
            r = grant(u, dir, "socket", c->src.path, S_IWUSR, err);
    }
    /* An nvdimm's or virtio-pmem's file, which QEMU maps read-write through
     * /proc/self/fd: made here when missing (as QEMU would make it), so
     * that it too is given to QEMU's user. */
    for (guint i = 0; r >= 0 && def->memdevs && i < def->memdevs->len; i++) {
        const qv_domdef_memdev *m = def->memdevs->pdata[i];
        if (!m->source_path)
            continue;
        int fd = open(m->source_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
            return qv_error_set_errno(err, -errno, "cannot make the memory device file %s", m->source_path);
        close(fd);
        r = grant(u, dir, "memory device file", m->source_path, S_IWUSR, err);
    }
    for (guint i = 0; r >= 0 && def->nets && i < def->nets->len; i++) {
        const qv_domdef_net *n = def->nets->pdata[i];
        /* A vhost-user client with <reconnect>: the same as a chardev's. */
        if (n->type == QV_NET_VHOSTUSER && n->reconnect && !strcmp(n->source_mode, "client") &&
            g_file_test(n->source_path, G_FILE_TEST_EXISTS))
            r = grant(u, dir, "socket", n->source_path, S_IWUSR, err);
    }
    return r;
}
