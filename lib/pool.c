/* Volumes of libvirt storage pools, resolved from the pool definitions
 * libvirt keeps on the host (see pool.h). Read-only: nothing is created,
 * started or mounted. */
#include <errno.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <glib.h>

#include "pool.h"

#define QV_LIBVIRT_POOL_DIR "/etc/libvirt/storage"

static xmlNode *child(xmlNode *node, const char *name)
{
    for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

char *qv_conn_libvirt_dir(qv_conn *conn, const char *key)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "qvirt.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    char *dir = g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, NULL)
                    ? g_key_file_get_string(kf, "libvirt", key, NULL) : NULL;
    if (dir && *g_strstrip(dir))
        return dir;
    g_free(dir);
    return g_strdup(!strcmp(key, "secrets") ? "/etc/libvirt/secrets" : QV_LIBVIRT_POOL_DIR);
}

char *qv_pool_volume_path(void *data, const char *pool, const char *volume, bool *block,
                          qv_error **err)
{
    const char *dir = data ? data : QV_LIBVIRT_POOL_DIR;
    if (!*pool || strchr(pool, '/') || !*volume || strchr(volume, '/')) {
        qv_error_set(err, -EINVAL, "Storage pool '%s' or its volume '%s' is not a plain name.", pool, volume);
        return NULL;
    }
    g_autofree char *name = g_strconcat(pool, ".xml", NULL);
    g_autofree char *file = g_build_filename(dir, name, NULL);
    xmlDoc *doc = g_file_test(file, G_FILE_TEST_EXISTS)
        ? xmlReadFile(file, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING) : NULL;
    if (!doc) {
        qv_error_set(err, -ENOENT, "Storage pool '%s' has no libvirt definition in %s; qvirt has no storage pools of its own, so give the disk as type='file' or type='block'.",
                     pool, dir);
        return NULL;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlChar *xtype = root ? xmlGetProp(root, (const xmlChar *)"type") : NULL;
    xmlNode *path = child(child(root, "target"), "path");
    xmlChar *xtarget = path ? xmlNodeGetContent(path) : NULL;
    g_autofree char *type = xtype ? g_strdup((const char *)xtype) : NULL;
    g_autofree char *target = xtarget ? g_strstrip(g_strdup((const char *)xtarget)) : NULL;
    xmlFree(xtype);
    xmlFree(xtarget);
    xmlFreeDoc(doc);
    bool files = type && (!strcmp(type, "dir") || !strcmp(type, "fs") || !strcmp(type, "netfs"));
    bool lvm = type && !strcmp(type, "logical");
    if (!files && !lvm) {
        qv_error_set(err, -EOPNOTSUPP, "Storage pool '%s' is of type '%s'; qvirt finds volumes of dir, fs, netfs and logical pools only.",
                     pool, type ? type : "(none)");
        return NULL;
    }
    if (!target || !g_path_is_absolute(target)) {
        qv_error_set(err, -EINVAL, "Storage pool '%s' (%s) has no absolute <target><path>.", pool, file);
        return NULL;
    }
    *block = lvm;
    return g_build_filename(target, volume, NULL);
}
