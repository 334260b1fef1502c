/* <interface type='network'>: a network name becomes a host bridge or
 * user-mode networking before the argv builder runs (domxml reads no
 * files). Where a name is looked up, in order:
 *   1. libvirt's own network definitions on this host: the running copy
 *      (/run/libvirt/network/NAME.xml), else the persistent one
 *      (/etc/libvirt/qemu/networks/NAME.xml); their <bridge name=...>;
 *   2. qvirt's table, <config dir>/networks.conf, a GKeyFile:
 *        [default]
 *        bridge=br0        (or: mode=user)
 *   3. else one sentence naming the network and where it was looked for. */
#include <errno.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"
#include "network.h"

static const char *const libvirt_network_dirs[] = {
    "/run/libvirt/network",
    "/etc/libvirt/qemu/networks",
};

struct qv_networks {
    GArray *res;            /* qv_network_resolution */
    GPtrArray *strings;     /* what res points into */
};

void qv_networks_free(qv_networks *n)
{
    if (!n)
        return;
    g_array_unref(n->res);
    g_ptr_array_unref(n->strings);
    g_free(n);
}

const qv_network_resolution *qv_networks_get(const qv_networks *n, unsigned int *count)
{
    *count = n ? n->res->len : 0;
    return n && n->res->len ? &g_array_index(n->res, qv_network_resolution, 0) : NULL;
}

static xmlNode *child(xmlNode *node, const char *name)
{
    for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

/* A libvirt network definition: 1 and *bridge when it names a bridge QEMU
 * can join, 0 when there is no such file, or an error. */
static int read_libvirt_network(const char *path, const char *name, char **bridge, qv_error **err)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return qv_error_set(err, -EINVAL, "network '%s': libvirt's definition %s is not XML",
                            name, path);
    xmlNode *root = xmlDocGetRootElement(doc);
    /* The running copy wraps the definition in <networkstatus>. */
    if (root && !strcmp((const char *)root->name, "networkstatus"))
        root = child(root, "network");
    xmlNode *fwd = child(root, "forward");
    xmlChar *mode = fwd ? xmlGetProp(fwd, (const xmlChar *)"mode") : NULL;
    xmlNode *br = child(root, "bridge");
    xmlChar *bname = br ? xmlGetProp(br, (const xmlChar *)"name") : NULL;
    int r;
    if (mode && strcmp((const char *)mode, "nat") && strcmp((const char *)mode, "route") &&
        strcmp((const char *)mode, "open") && strcmp((const char *)mode, "bridge"))
        r = qv_error_set(err, -EOPNOTSUPP,
                         "network '%s' forwards in mode '%s' (%s); qvirt joins only networks "
                         "with a host bridge", name, (const char *)mode, path);
    else if (!bname || !*bname)
        r = qv_error_set(err, -EINVAL, "network '%s' (%s) names no <bridge name=...>", name, path);
    else {
        *bridge = g_strdup((const char *)bname);
        r = 1;
    }
    xmlFree(mode);
    xmlFree(bname);
    xmlFreeDoc(doc);
    return r;
}

int qv_network_lookup(const char *const *libvirt_dirs, size_t n_dirs, const char *conf,
                      const char *name, qv_network_kind *kind, char **bridge, qv_error **err)
{
    if (!name || !*name || strchr(name, '/') || name[0] == '.')
        return qv_error_set(err, -EINVAL, "<source network='%s'> is not a network name",
                            name ? name : "");
    for (size_t i = 0; i < n_dirs; i++) {
        g_autofree char *file = g_strdup_printf("%s.xml", name);
        g_autofree char *path = g_build_filename(libvirt_dirs[i], file, NULL);
        int r = read_libvirt_network(path, name, bridge, err);
        if (r != 0) {
            *kind = QV_NETWORK_BRIDGE;
            return r < 0 ? r : 0;
        }
    }
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) gerr = NULL;
    if (g_key_file_load_from_file(kf, conf, G_KEY_FILE_NONE, &gerr)) {
        g_autofree char *br = g_key_file_get_string(kf, name, "bridge", NULL);
        g_autofree char *mode = g_key_file_get_string(kf, name, "mode", NULL);
        if (br && *br) {
            *kind = QV_NETWORK_BRIDGE;
            *bridge = g_steal_pointer(&br);
            return 0;
        }
        if (mode && !strcmp(mode, "user")) {
            *kind = QV_NETWORK_USER;
            return 0;
        }
        if (g_key_file_has_group(kf, name))
            return qv_error_set(err, -EINVAL,
                                "network '%s' in %s has neither bridge=NAME nor mode=user", name,
                                conf);
    } else if (!g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        return qv_error_set(err, -EINVAL, "cannot read %s: %s", conf, gerr->message);
    }
    return qv_error_set(err, -ENOENT,
                        "network '%s' is not defined: libvirt has no network of that name on "
                        "this host and %s has no [%s] section (bridge=NAME or mode=user)",
                        name, conf, name);
}

int qv_conn_resolve_networks(qv_conn *conn, const qv_domdef *def, qv_networks **ret,
                             qv_error **err)
{
    g_autofree char *conf = g_build_filename(conn->paths.config_dir, "networks.conf", NULL);
    qv_networks *n = g_new0(qv_networks, 1);
    n->res = g_array_new(FALSE, TRUE, sizeof(qv_network_resolution));
    n->strings = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < def->nets->len; i++) {
        const qv_domdef_net *net = def->nets->pdata[i];
        if (net->type != QV_NET_NETWORK)
            continue;
        qv_network_resolution r = { .name = net->source_network };
        char *bridge = NULL;
        int rc = qv_network_lookup(libvirt_network_dirs, G_N_ELEMENTS(libvirt_network_dirs), conf,
                                   net->source_network, &r.kind, &bridge, err);
        if (rc < 0) {
            qv_networks_free(n);
            return rc;
        }
        if (bridge)
            g_ptr_array_add(n->strings, bridge);
        r.bridge = bridge;
        g_array_append_val(n->res, r);
    }
    *ret = n;
    return 0;
}
