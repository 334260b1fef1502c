/* Connections: where a URI keeps its domains, and the connection-wide calls
 * (define, create, lookups, listing). There is no daemon: every process that
 * opens the same URI works on the same files. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "network.h"
#include "firmware.h"
#include "hostdev.h"
#include "pool.h"
#include "qemu-user.h"
#include "secret.h"
#include "uri.h"

bool qv_name_valid(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static int conn_new(const char *uri, qv_rt_paths *paths, qv_conn **ret, qv_error **err);
static int conn_new_remote(const char *uri, const qv_ssh_uri *ssh, qv_conn **ret,
                           qv_error **err);

int qv_conn_open(const char *uri, qv_conn **ret, qv_error **err)
{
    if (!ret)
        return qv_error_set(err, -EINVAL, "qv_conn_open: ret must not be NULL");
    if (!uri || !*uri) {
        uri = g_getenv("QVIRT_DEFAULT_URI");
        if (!uri || !*uri)
            uri = getuid() == 0 ? "qvirt:///system" : "qvirt:///session";
    }
    g_auto(qv_ssh_uri) ssh = { 0 };
    int remote = qv_ssh_uri_parse(uri, &ssh, err);
    if (remote < 0)
        return remote;
    if (remote)
        return conn_new_remote(uri, &ssh, ret, err);
    qv_rt_paths paths = { 0 };
    int r = qv_conn_paths_for_uri(uri, &paths, err);
    if (r < 0)
        return r;
    return conn_new(uri, &paths, ret, err);
}

int qv_conn_open_paths(const char *config_dir, const char *run_dir, qv_conn **ret, qv_error **err)
{
    qv_rt_paths paths = { .config_dir = g_strdup(config_dir), .run_dir = g_strdup(run_dir) };
    g_autofree char *uri = g_strdup_printf("qvirt:///paths?config=%s&run=%s", config_dir, run_dir);
    return conn_new(uri, &paths, ret, err);
}

static void conn_init(qv_conn *conn, const char *uri)
{
    conn->uri = g_strdup(uri);
    conn->inotify_fd = -1;
    conn->journal_fd = -1;
    g_mutex_init(&conn->emit_lock);
    conn->emit = (qv_rt_journal_writer)QV_RT_JOURNAL_WRITER_INIT;
    conn->autodestroy = g_ptr_array_new_with_free_func(g_free);
    conn->callbacks = g_ptr_array_new();
    conn->next_callback_id = 1;
}

/* A connection of another host (remote.h): ssh runs qvirt there. */
static int conn_new_remote(const char *uri, const qv_ssh_uri *ssh, qv_conn **ret,
                           qv_error **err)
{
    qv_conn *conn = g_new0(qv_conn, 1);
    conn_init(conn, uri);
    int r = qv_remote_open(conn, ssh, err);
    if (r < 0) {
        qv_conn_close(conn);
        return r;
    }
    *ret = conn;
    return 0;
}

/* A connection on these folders (paths is taken over). */
static int conn_new(const char *uri, qv_rt_paths *paths, qv_conn **ret, qv_error **err)
{
    int r;
    g_autofree qv_conn *conn = g_new0(qv_conn, 1);
    conn->paths = *paths;
    conn_init(conn, uri);
    g_autofree char *domains = qv_rt_config_domains_dir(&conn->paths);
    g_autofree char *rdomains = qv_rt_domains_dir(&conn->paths);
    g_autofree char *locks = qv_rt_locks_dir(&conn->paths);
    if ((r = qv_rt_mkdirs(domains, err)) < 0 || (r = qv_rt_mkdirs(rdomains, err)) < 0 ||
        (r = qv_rt_mkdirs(locks, err)) < 0) {
        g_free(conn->uri);
        g_free(conn->paths.config_dir);
        g_free(conn->paths.run_dir);
        g_ptr_array_unref(conn->autodestroy);
        g_ptr_array_unref(conn->callbacks);
        return r;
    }
    *ret = g_steal_pointer(&conn);
    return 0;
}

const char *qv_conn_get_uri(const qv_conn *conn)
{
    return conn ? conn->uri : NULL;
}

void qv_conn_close(qv_conn *conn)
{
    if (!conn)
        return;
    /* START_AUTODESTROY: domains this connection started go with it (a
     * remote connection's go with the remote side, which ends with ssh). */
    qv_remote_close(conn->remote);
    for (guint i = 0; i < conn->autodestroy->len; i++) {
        qv_domain *dom = NULL;
        if (qv_conn_get_domain_by_name(conn, conn->autodestroy->pdata[i], &dom, NULL) == 0) {
            qv_active act;
            if (qv_domain_observe(dom, &act, NULL) == 0 && act.active &&
                act.status.autodestroy && act.status.owner_pid == getpid())
                qv_domain_destroy(dom, 0, NULL);
            qv_domain_free(dom);
        }
    }
    g_ptr_array_unref(conn->autodestroy);
    for (guint i = 0; i < conn->callbacks->len; i++) {
        qv_event_cb_entry *e = conn->callbacks->pdata[i];
        g_free(e->domain_name);
        g_free(e);
    }
    g_ptr_array_unref(conn->callbacks);
    if (conn->inotify_fd >= 0)
        close(conn->inotify_fd);
    if (conn->journal_fd >= 0)
        close(conn->journal_fd);
    if (conn->journal_partial)
        g_string_free(conn->journal_partial, TRUE);
    qv_rt_journal_writer_close(&conn->emit);
    g_mutex_clear(&conn->emit_lock);
    g_free(conn->uri);
    g_free(conn->paths.config_dir);
    g_free(conn->paths.run_dir);
    g_free(conn);
}

void qv_conn_closep(qv_conn **conn)
{
    if (conn) {
        qv_conn_close(*conn);
        *conn = NULL;
    }
}

/* Looks for a domain by name: persistent config or an active runtime dir. */
static int lookup_name(qv_conn *conn, const char *name, qv_domain **ret, qv_error **err)
{
    if (!qv_name_valid(name))
        return qv_error_set(err, -EINVAL, "invalid domain name '%s'", name ? name : "");
    qv_domain *dom = NULL;
    int r = qv_domain_new(conn, name, NULL, &dom);
    if (r < 0)
        return r;
    const qv_domdef *def;
    qv_error *lerr = NULL;
    r = qv_domain_get_def(dom, &def, &lerr);
    if (r < 0) {
        qv_domain_free(dom);
        if (r == -ENOENT) {
            qv_error_free(lerr);
            return qv_error_set(err, -ENOENT, "domain '%s' not found", name);
        }
        return qv_error_propagate(err, lerr);
    }
    memcpy(dom->uuid, def->uuid, 16);
    qv_uuid_format(dom->uuid, dom->uuid_str);
    *ret = dom;
    return 0;
}

int qv_conn_get_domain_by_name(qv_conn *conn, const char *name, qv_domain **ret, qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_get_domain_by_name(conn, name, ret, err));
    if (!conn || !ret)
        return qv_error_set(err, -EINVAL, "qv_conn_get_domain_by_name: conn and ret are required");
    return lookup_name(conn, name, ret, err);
}

/* Names of all known domains: persistent configs plus active runtime dirs. */
static GPtrArray *all_names(qv_conn *conn)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *cdir = qv_rt_config_domains_dir(&conn->paths);
    g_autofree char *rdir = qv_rt_domains_dir(&conn->paths);
    const char *dirs[2] = { cdir, rdir };
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            g_autofree char *name = NULL;
            if (i == 0) {
                if (!g_str_has_suffix(de->d_name, ".xml"))
                    continue;
                name = g_strndup(de->d_name, strlen(de->d_name) - 4);
            } else {
                if (strstr(de->d_name, ".gone."))
                    continue;
                name = g_strdup(de->d_name);
            }
            if (!qv_name_valid(name) || g_hash_table_contains(seen, name))
                continue;
            g_hash_table_add(seen, name);
            g_ptr_array_add(names, g_steal_pointer(&name));
        }
        closedir(d);
    }
    g_hash_table_unref(seen);
    g_ptr_array_sort(names, (GCompareFunc)(void *)g_ascii_strcasecmp);
    return names;
}

int qv_conn_get_domain_by_uuid(qv_conn *conn, const unsigned char uuid[16], qv_domain **ret,
                               qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_get_domain_by_uuid(conn, uuid, ret, err));
    if (!conn || !uuid || !ret)
        return qv_error_set(err, -EINVAL, "qv_conn_get_domain_by_uuid: conn, uuid and ret are required");
    g_autoptr(GPtrArray) names = all_names(conn);
    for (guint i = 0; i < names->len; i++) {
        qv_domain *dom = NULL;
        if (lookup_name(conn, names->pdata[i], &dom, NULL) < 0)
            continue;
        if (!memcmp(dom->uuid, uuid, 16)) {
            *ret = dom;
            return 0;
        }
        qv_domain_free(dom);
    }
    char s[37];
    qv_uuid_format(uuid, s);
    return qv_error_set(err, -ENOENT, "no domain with UUID %s", s);
}

int qv_conn_get_domain_by_uuid_string(qv_conn *conn, const char *uuid, qv_domain **ret,
                                      qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_get_domain_by_uuid_string(conn, uuid, ret, err));
    unsigned char raw[16];
    if (!uuid || qv_uuid_parse(uuid, raw) < 0)
        return qv_error_set(err, -EINVAL, "'%s' is not a valid UUID", uuid ? uuid : "");
    return qv_conn_get_domain_by_uuid(conn, raw, ret, err);
}

int qv_conn_get_domain_by_id(qv_conn *conn, int id, qv_domain **ret, qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_get_domain_by_id(conn, id, ret, err));
    if (!conn || !ret)
        return qv_error_set(err, -EINVAL, "qv_conn_get_domain_by_id: conn and ret are required");
    g_autoptr(GPtrArray) names = all_names(conn);
    for (guint i = 0; i < names->len; i++) {
        qv_domain *dom = NULL;
        if (lookup_name(conn, names->pdata[i], &dom, NULL) < 0)
            continue;
        if (qv_domain_get_id(dom) == id && id >= 0) {
            *ret = dom;
            return 0;
        }
        qv_domain_free(dom);
    }
    return qv_error_set(err, -ENOENT, "no active domain with id %d", id);
}

static bool list_filter(qv_domain *dom, unsigned int flags)
{
    int state = 0, reason = 0;
    if (qv_domain_get_state(dom, &state, &reason, NULL) < 0)
        return false;
    bool active = state != QV_DOMAIN_SHUTOFF;
    bool persistent = qv_domain_is_persistent(dom, NULL) == 1;
    int autostart = 0;
    qv_domain_get_autostart(dom, &autostart, NULL);
    unsigned int act = flags & (QV_CONNECT_LIST_DOMAINS_ACTIVE | QV_CONNECT_LIST_DOMAINS_INACTIVE);
    if (act && act != (QV_CONNECT_LIST_DOMAINS_ACTIVE | QV_CONNECT_LIST_DOMAINS_INACTIVE) &&
        !((flags & QV_CONNECT_LIST_DOMAINS_ACTIVE) ? active : !active))
        return false;
    unsigned int per = flags & (QV_CONNECT_LIST_DOMAINS_PERSISTENT | QV_CONNECT_LIST_DOMAINS_TRANSIENT);
    if (per && per != (QV_CONNECT_LIST_DOMAINS_PERSISTENT | QV_CONNECT_LIST_DOMAINS_TRANSIENT) &&
        !((flags & QV_CONNECT_LIST_DOMAINS_PERSISTENT) ? persistent : !persistent))
        return false;
    unsigned int st = flags & (QV_CONNECT_LIST_DOMAINS_RUNNING | QV_CONNECT_LIST_DOMAINS_PAUSED |
                               QV_CONNECT_LIST_DOMAINS_SHUTOFF | QV_CONNECT_LIST_DOMAINS_OTHER);
    if (st) {
        bool ok = ((flags & QV_CONNECT_LIST_DOMAINS_RUNNING) && state == QV_DOMAIN_RUNNING) ||
                  ((flags & QV_CONNECT_LIST_DOMAINS_PAUSED) && state == QV_DOMAIN_PAUSED) ||
                  ((flags & QV_CONNECT_LIST_DOMAINS_SHUTOFF) && state == QV_DOMAIN_SHUTOFF) ||
                  ((flags & QV_CONNECT_LIST_DOMAINS_OTHER) && state != QV_DOMAIN_RUNNING &&
                   state != QV_DOMAIN_PAUSED && state != QV_DOMAIN_SHUTOFF);
        if (!ok)
            return false;
    }
    unsigned int as = flags & (QV_CONNECT_LIST_DOMAINS_AUTOSTART | QV_CONNECT_LIST_DOMAINS_NO_AUTOSTART);
    if (as && as != (QV_CONNECT_LIST_DOMAINS_AUTOSTART | QV_CONNECT_LIST_DOMAINS_NO_AUTOSTART) &&
        !((flags & QV_CONNECT_LIST_DOMAINS_AUTOSTART) ? autostart : !autostart))
        return false;
    /* Snapshots: their metadata files (a directory read, no QEMU). */
    unsigned int sn = flags & (QV_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT |
                               QV_CONNECT_LIST_DOMAINS_NO_SNAPSHOT);
    if (sn && sn != (QV_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT | QV_CONNECT_LIST_DOMAINS_NO_SNAPSHOT) &&
        (qv_domain_snapshot_count(dom->conn, dom->name) > 0) !=
            !!(flags & QV_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT))
        return false;
    unsigned int ms = flags & (QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE |
                               QV_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE);
    if (ms && ms != (QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE | QV_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE)) {
        g_autofree char *image = qv_domain_managed_save_path(dom->conn, dom->name);
        bool has = g_file_test(image, G_FILE_TEST_EXISTS);
        if ((flags & QV_CONNECT_LIST_DOMAINS_MANAGEDSAVE) ? !has : has)
            return false;
    }
    /* Checkpoints do not exist yet: no domain has them. */
    if (flags & QV_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT)
        return false;
    return true;
}

int qv_conn_list_all_domains(qv_conn *conn, unsigned int flags, qv_domain ***ret, qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_list_all_domains(conn, flags, ret, err));
    if (!conn || !ret)
        return qv_error_set(err, -EINVAL, "qv_conn_list_all_domains: conn and ret are required");
    g_autoptr(GPtrArray) names = all_names(conn);
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < names->len; i++) {
        qv_domain *dom = NULL;
        if (lookup_name(conn, names->pdata[i], &dom, NULL) < 0)
            continue;
        if (!list_filter(dom, flags)) {
            qv_domain_free(dom);
            continue;
        }
        g_ptr_array_add(out, dom);
    }
    int count = (int)out->len;
    g_ptr_array_add(out, NULL);
    *ret = (qv_domain **)g_ptr_array_free(out, FALSE);
    return count;
}

void qv_domain_list_free(qv_domain **list)
{
    if (!list)
        return;
    for (qv_domain **p = list; *p; p++)
        qv_domain_free(*p);
    g_free(list);
}

int qv_conn_define_domain(qv_conn *conn, const char *xml, unsigned int flags, qv_domain **ret,
                          qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_define_domain(conn, xml, flags, ret, err));
    if (!conn || !xml)
        return qv_error_set(err, -EINVAL, "qv_conn_define_domain: conn and xml are required");
    if (flags & ~(unsigned)QV_DOMAIN_DEFINE_VALIDATE)
        return qv_error_set(err, -EINVAL, "qv_conn_define_domain: unsupported flags 0x%x", flags);
    g_autoptr(qv_domdef) def = NULL;
    int r = qv_domxml_parse(xml, 0, &def, err);
    if (r < 0)
        return r;
    int lock = qv_domain_lock_lifecycle(conn, def->name, err);
    if (lock < 0)
        return lock;
    /* Names and UUIDs identify a domain together: neither may move to
     * another domain. */
    qv_domain *other = NULL;
    bool existed = false;
    if (qv_conn_get_domain_by_uuid(conn, def->uuid, &other, NULL) == 0) {
        if (strcmp(other->name, def->name)) {
            r = qv_error_set(err, -EEXIST, "domain '%s' already has UUID %s", other->name,
                             other->uuid_str);
            qv_domain_free(other);
            qv_rt_unlock(lock);
            return r;
        }
        qv_domain_free(other);
        existed = true;
    }
    if (!existed && lookup_name(conn, def->name, &other, NULL) == 0) {
        r = qv_error_set(err, -EEXIST, "domain '%s' already exists with UUID %s", def->name,
                         other->uuid_str);
        qv_domain_free(other);
        qv_rt_unlock(lock);
        return r;
    }
    g_autofree char *cfg = qv_rt_config_file(&conn->paths, def->name);
    bool had_config = g_file_test(cfg, G_FILE_TEST_EXISTS);
    r = qv_domain_save_config(conn, def, err);
    qv_rt_unlock(lock);
    if (r < 0)
        return r;
    char uuid[37];
    qv_uuid_format(def->uuid, uuid);
    qv_conn_emit(conn, def->name, uuid, QV_DOMAIN_EVENT_ID_LIFECYCLE, QV_DOMAIN_EVENT_DEFINED,
                 had_config ? QV_DOMAIN_EVENT_DEFINED_UPDATED : QV_DOMAIN_EVENT_DEFINED_ADDED, NULL);
    if (ret)
        return lookup_name(conn, def->name, ret, err);
    return 0;
}

int qv_conn_create_domain(qv_conn *conn, const char *xml, unsigned int flags, qv_domain **ret,
                          qv_error **err)
{
    QV_REMOTE_CONN(conn, qv_remote__qv_conn_create_domain(conn, xml, flags, ret, err));
    if (!conn || !xml)
        return qv_error_set(err, -EINVAL, "qv_conn_create_domain: conn and xml are required");
    g_autoptr(qv_domdef) def = NULL;
    int r = qv_domxml_parse(xml, 0, &def, err);
    if (r < 0)
        return r;
    qv_domain *other = NULL;
    if (lookup_name(conn, def->name, &other, NULL) == 0) {
        qv_domain_free(other);
        return qv_error_set(err, -EEXIST, "domain '%s' already exists", def->name);
    }
    qv_domain *dom = NULL;
    r = qv_domain_new(conn, def->name, def->uuid, &dom);
    if (r < 0)
        return r;
    r = qv_conn_start_domain(conn, dom, def, true, flags, err);
    if (r < 0) {
        qv_domain_free(dom);
        return r;
    }
    if (ret)
        *ret = dom;
    else
        qv_domain_free(dom);
    return 0;
}

/* domxml-to-native: the argv a start would build, with the fds a start
 * passes given their places (the command monitor as fd 3) but nothing opened. */
int qv_conn_domain_xml_to_native(qv_conn *conn, const char *format, const char *xml,
                                 unsigned int flags, char **ret, qv_error **err)
{
    QV_REMOTE_CONN(conn,
                     qv_remote__qv_conn_domain_xml_to_native(conn, format, xml, flags, ret, err));
    if (!conn || !format || !xml || !ret)
        return qv_error_set(err, -EINVAL,
                            "qv_conn_domain_xml_to_native: conn, format, xml and ret are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_conn_domain_xml_to_native: unsupported flags 0x%x",
                            flags);
    bool as_json = !strcmp(format, "qemu-argv-json");
    if (!as_json && strcmp(format, "qemu-argv"))
        return qv_error_set(err, -ENOTSUP,
                            "unsupported native format '%s': use qemu-argv or qemu-argv-json", format);
    g_autoptr(qv_domdef) def = NULL;
    int r = qv_domxml_parse(xml, 0, &def, err);
    if (r < 0)
        return r;
    g_autofree char *runtime_dir = qv_rt_domain_dir(&conn->paths, def->name);
    /* Files get fd numbers, from 100 up, in place of those a start opens. */
    int next_fd = 100;
    qv_file_opener files = QV_FILE_OPENER_PLACEHOLDER(&next_fd);
    qv_build_ctx bctx = {
        .files = &files,
        .display_sockets_by_caller = true,
        .emulator = NULL,
        .monitor_fd = 3,
        .event_monitor_fd = -1,
        .runtime_dir = runtime_dir,
        .scsi_generic = qv_hostdev_scsi_generic,
        .volume_path = qv_pool_volume_path,
        .secret_file = qv_secret_file_placeholder,
        .secret_data = &next_fd,
    };
    g_autofree char *pool_dir = qv_conn_libvirt_dir(conn, "storage");
    bctx.volume_data = pool_dir;
    g_auto(qv_qemu_tls) tls = { 0 };
    if ((r = qv_conn_qemu_tls(conn, &bctx, &tls, err)) < 0)
        return r;
    g_autoptr(qv_networks) nets = NULL;
    if ((r = qv_conn_resolve_networks(conn, def, &nets, err)) < 0)
        return r;
    bctx.networks = qv_networks_get(nets, &bctx.n_networks);
    g_autoptr(qv_firmware_list) fw = NULL;
    g_autofree char *nvram_dir = qv_conn_nvram_dir(conn);
    if (qv_domdef_firmware_autoselect(def) && (r = qv_firmware_load_host(&fw, err)) < 0)
        return r;
    bctx.firmware = qv_firmware_get(fw, &bctx.n_firmware);
    bctx.nvram_dir = nvram_dir;
    g_auto(GStrv) argv = NULL;
    if ((r = qv_domxml_build_argv(def, &bctx, &argv, err)) < 0)
        return r;
    if (as_json) {
        g_autoptr(json_object) arr = json_object_new_array();
        for (char **a = argv; *a; a++)
            json_object_array_add(arr, json_object_new_string(*a));
        *ret = g_strdup(json_object_to_json_string_ext(
            arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        *ret = qv_argv_to_shell((const char *const *)argv);
    }
    return 0;
}
