/* Domain configuration (qvirt-config.h): the XML, metadata and autostart,
 * and the stored definitions (config and live XML) the other calls use. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"

int qv_domain_load_live(qv_domain *dom, qv_domdef **ret, qv_error **err)
{
    g_autofree char *path = qv_domain_file(dom, QV_RT_RUN_LIVE_XML);
    g_autofree char *xml = NULL;
    qv_error *lerr = NULL;
    int r = qv_read_file(path, QV_DOMXML_MAX_SIZE, &xml, NULL, &lerr);
    if (r == -ENOENT) {
        qv_error_free(lerr);
        return -ENOENT;
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    return qv_domxml_parse(xml, QV_DOMXML_PARSE_STATUS, ret, err);
}

int qv_domain_load_def(qv_domain *dom, bool live, qv_domdef **ret, qv_error **err)
{
    int r = live ? qv_domain_load_live(dom, ret, err)
                 : qv_domain_load_config(dom->conn, dom->name, ret, err);
    if (r == -ENOENT)
        return qv_error_set(err, -EINVAL, live ? "domain '%s' is not running"
                                               : "domain '%s' is transient: there is no config",
                            dom->name);
    return r;
}

int qv_domain_save_live(qv_domain *dom, const qv_domdef *def, qv_error **err)
{
    g_autofree char *path = qv_domain_file(dom, QV_RT_RUN_LIVE_XML);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
    return qv_rt_write_runtime(path, xml, strlen(xml), err);
}

int qv_domain_get_xml_description(qv_domain *dom, unsigned int flags, char **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_xml_description(dom, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_xml_description: dom and ret are required");
    const unsigned int known = QV_DOMAIN_XML_SECURE | QV_DOMAIN_XML_INACTIVE |
                               QV_DOMAIN_XML_UPDATE_CPU | QV_DOMAIN_XML_MIGRATABLE;
    if (flags & ~known)
        return qv_error_set(err, -EINVAL, "qv_domain_get_xml_description: unsupported flags 0x%x",
                            flags & ~known);
    g_autoptr(qv_domdef) def = NULL;
    int r = -ENOENT;
    if (flags & QV_DOMAIN_XML_INACTIVE)
        r = qv_domain_load_config(dom->conn, dom->name, &def, err);
    if (r == -ENOENT) {
        /* The live definition (or, for transient domains, the only one). */
        const qv_domdef *cur;
        if ((r = qv_domain_get_def(dom, &cur, err)) < 0)
            return r;
        def = qv_domdef_copy(cur);
    } else if (r < 0) {
        return r;
    }
    unsigned int fmt = 0;
    if (flags & QV_DOMAIN_XML_SECURE)
        fmt |= QV_DOMXML_FORMAT_SECURE;
    /* As in libvirt, MIGRATABLE only leaves out what older libvirt adds by
     * itself: on a running domain the XML stays live (id, aliases). */
    if (flags & QV_DOMAIN_XML_MIGRATABLE)
        fmt |= QV_DOMXML_FORMAT_MIGRATABLE;
    if ((flags & QV_DOMAIN_XML_INACTIVE) || qv_domain_is_active(dom, NULL) != 1)
        fmt |= QV_DOMXML_FORMAT_INACTIVE;
    g_autofree char *xml = qv_domxml_format(def, fmt);
    *ret = strdup(xml);
    return 0;
}

int qv_domain_is_updated(qv_domain *dom, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_is_updated(dom, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_is_updated: dom is required");
    /* Only a running domain with a config can differ from it. */
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_look(dom, QV_CALL_RUN_ONLY, &c, err);
    if (r < 0 || !c.act.active || !c.persistent)
        return r < 0 ? r : 0;
    if ((r = qv_domain_load_def(dom, true, &c.live, err)) < 0 ||
        (r = qv_domain_load_def(dom, false, &c.cfg, err)) < 0)
        return r;
    const unsigned int fmt = QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE;
    g_autofree char *a = qv_domxml_format(c.live, fmt);
    g_autofree char *b = qv_domxml_format(c.cfg, fmt);
    return strcmp(a, b) != 0;
}

int qv_domain_get_metadata(qv_domain *dom, int type, const char *uri, unsigned int flags,
                           char **ret, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_metadata(dom, type, uri, flags, ret, err));
    if (!dom || !ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_metadata: dom and ret are required");
    if (flags & ~(unsigned)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "qv_domain_get_metadata: unsupported flags 0x%x", flags);
    if ((flags & QV_DOMAIN_AFFECT_LIVE) && (flags & QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "get_metadata: choose either the live or the config "
                            "definition, not both");
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_look(dom, flags, &c, err);
    if (r < 0)
        return r;
    const qv_domdef *def = c.live ? c.live : c.cfg;
    g_autofree char *val = NULL;
    if ((r = qv_domdef_get_metadata(def, type, uri, &val, err)) < 0)
        return r;
    *ret = strdup(val);
    return 0;
}

int qv_domain_set_metadata(qv_domain *dom, int type, const char *value, const char *key,
                           const char *uri, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_set_metadata(dom, type, value, key, uri, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_metadata: dom is required");
    if (flags & ~(unsigned)(QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG))
        return qv_error_set(err, -EINVAL, "qv_domain_set_metadata: unsupported flags 0x%x", flags);
    /* Change both copies in memory first: nothing is written unless every
     * requested change is valid. */
    g_auto(qv_call) c = QV_CALL_INIT;
    int r = qv_domain_begin(dom, flags, &c, err);
    if (r >= 0 && c.live)
        r = qv_domdef_set_metadata(c.live, type, value, key, uri, err);
    if (r >= 0 && c.cfg)
        r = qv_domdef_set_metadata(c.cfg, type, value, key, uri, err);
    if (r >= 0)
        r = qv_call_save(&c, err);
    if (r < 0)
        return r;
    qv_call_end(&c);
    json_object *extra = json_object_new_object();
    json_object_object_add(extra, "type", json_object_new_int(type));
    if (uri)
        json_object_object_add(extra, "nsuri", json_object_new_string(uri));
    qv_conn_emit(dom->conn, dom->name, dom->uuid_str, QV_DOMAIN_EVENT_ID_METADATA_CHANGE, type, 0,
                 extra);
    return 0;
}

int qv_domain_get_autostart(qv_domain *dom, int *autostart, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_autostart(dom, autostart, err));
    if (!dom || !autostart)
        return qv_error_set(err, -EINVAL, "qv_domain_get_autostart: dom and autostart are required");
    g_autofree char *path = qv_rt_autostart_path(&dom->conn->paths, dom->name);
    *autostart = g_file_test(path, G_FILE_TEST_EXISTS);
    return 0;
}

int qv_domain_set_autostart(qv_domain *dom, int autostart, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_autostart(dom, autostart, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_set_autostart: dom is required");
    if (qv_domain_is_persistent(dom, err) != 1)
        return qv_error_set(err, -EINVAL, "domain '%s' is transient: only defined domains can "
                            "start at boot", dom->name);
    g_autofree char *dir = qv_rt_autostart_dir(&dom->conn->paths);
    g_autofree char *path = qv_rt_autostart_path(&dom->conn->paths, dom->name);
    if (!autostart) {
        if (unlink(path) < 0 && errno != ENOENT)
            return qv_error_set_errno(err, -errno, "cannot remove %s", path);
        return 0;
    }
    int r = qv_rt_mkdirs(dir, err);
    if (r < 0)
        return r;
    return qv_rt_write_atomic(path, "", 0, err);
}

int qv_domain_load_config(qv_conn *conn, const char *name, qv_domdef **ret, qv_error **err)
{
    g_autofree char *path = qv_rt_config_file(&conn->paths, name);
    g_autofree char *xml = NULL;
    qv_error *lerr = NULL;
    int r = qv_read_file(path, QV_DOMXML_MAX_SIZE, &xml, NULL, &lerr);
    if (r < 0) {
        if (r == -ENOENT) {
            qv_error_free(lerr);
            return -ENOENT;
        }
        return qv_error_propagate(err, lerr);
    }
    r = qv_domxml_parse(xml, 0, ret, err);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "stored config %s", path);
    return r;
}

int qv_domain_save_config(qv_conn *conn, const qv_domdef *def, qv_error **err)
{
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
    g_autofree char *path = qv_rt_config_file(&conn->paths, def->name);
    return qv_rt_write_atomic(path, xml, strlen(xml), err);
}
