/* Connection URIs: which folders a URI names (the table in README.md). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "uri.h"

int qv_conn_paths_for_uri(const char *uri, qv_rt_paths *paths, qv_error **err)
{
    if (!strcmp(uri, "qvirt:///system")) {
        paths->config_dir = g_strdup("/var/lib/qvirt");
        paths->run_dir = g_strdup("/run/qvirt");
        return 0;
    }
    if (!strcmp(uri, "qvirt:///session")) {
        paths->config_dir = g_build_filename(g_get_user_data_dir(), "qvirt", NULL);
        const char *rt = g_getenv("XDG_RUNTIME_DIR");
        if (rt && *rt)
            paths->run_dir = g_build_filename(rt, "qvirt", NULL);
        else
            paths->run_dir = g_strdup_printf("/tmp/qvirt-%u", (unsigned)getuid());
        return 0;
    }
    const char *prefix = "qvirt:///embed?";
    if (g_str_has_prefix(uri, prefix)) {
        g_auto(GStrv) params = g_strsplit(uri + strlen(prefix), "&", -1);
        g_autofree char *root = NULL;
        for (char **p = params; *p; p++) {
            if (g_str_has_prefix(*p, "root=")) {
                g_free(root);
                root = g_uri_unescape_string(*p + 5, NULL);
            } else {
                return qv_error_set(err, -EINVAL, "URI '%s': unknown parameter '%s'", uri, *p);
            }
        }
        if (!root || !g_path_is_absolute(root))
            return qv_error_set(err, -EINVAL,
                                "URI '%s': the embed URI needs an absolute root, as in "
                                "qvirt:///embed?root=/path", uri);
        paths->config_dir = g_build_filename(root, "config", NULL);
        paths->run_dir = g_build_filename(root, "run", NULL);
        return 0;
    }
    return qv_error_set(err, -EINVAL,
                        "unsupported URI '%s': use qvirt:///system, qvirt:///session or "
                        "qvirt:///embed?root=DIR", uri);
}

void qv_ssh_uri_clear(qv_ssh_uri *u)
{
    g_free(u->user);
    g_free(u->host);
    g_free(u->remote_uri);
    g_free(u->keyfile);
    g_free(u->command);
    memset(u, 0, sizeof *u);
}

/* ssh would read a host or user starting with '-' as an option. */
static bool ssh_word_ok(const char *s)
{
    return s && *s && *s != '-' && !strpbrk(s, " \t\n\r'\"\\");
}

int qv_ssh_uri_parse(const char *uri, qv_ssh_uri *u, qv_error **err)
{
    if (!g_str_has_prefix(uri, "qvirt+ssh://"))
        return 0;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GUri) gu = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, &gerr);
    if (!gu)
        return qv_error_set(err, -EINVAL, "URI '%s' is not a valid URI: %s", uri, gerr->message);
    const char *host = g_uri_get_host(gu);
    const char *user = g_uri_get_user(gu);
    const char *path = g_uri_get_path(gu);
    if (!ssh_word_ok(host))
        return qv_error_set(err, -EINVAL, "URI '%s' names no usable host (qvirt+ssh://[USER@]HOST"
                            "[:PORT]/system)", uri);
    if (user && !ssh_word_ok(user))
        return qv_error_set(err, -EINVAL, "URI '%s' has an unusable user name", uri);
    g_autoptr(GHashTable) q = NULL;
    const char *query = g_uri_get_query(gu);
    if (query && !(q = g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, &gerr)))
        return qv_error_set(err, -EINVAL, "URI '%s' has a malformed query: %s", uri,
                            gerr->message);
    /* What stays in the remote URI: everything but the transport's keys. */
    g_autoptr(GString) rest = g_string_new(NULL);
    const char *keyfile = NULL, *command = NULL, *no_verify = NULL;
    if (q) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, q);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (!strcmp(k, "keyfile"))
                keyfile = v;
            else if (!strcmp(k, "command"))
                command = v;
            else if (!strcmp(k, "no_verify"))
                no_verify = v;
            else {
                g_autofree char *ev = g_uri_escape_string(v, "/", FALSE);
                g_string_append_printf(rest, "%s%s=%s", rest->len ? "&" : "", (char *)k, ev);
            }
        }
    }
    if (no_verify && strcmp(no_verify, "0") && strcmp(no_verify, "1"))
        return qv_error_set(err, -EINVAL, "URI '%s': no_verify is 0 or 1", uri);
    if (command && !*command)
        return qv_error_set(err, -EINVAL, "URI '%s': command is empty", uri);
    g_autofree char *remote = g_strdup_printf("qvirt://%s%s%s", path && *path ? path : "/system",
                                              rest->len ? "?" : "", rest->str);
    /* The remote URI must be one a connection opens. */
    qv_rt_paths paths = { 0 };
    int r = qv_conn_paths_for_uri(remote, &paths, err);
    g_free(paths.config_dir);
    g_free(paths.run_dir);
    if (r < 0) {
        if (err && *err)
            qv_error_prefix(*err, "URI '%s'", uri);
        return r;
    }
    u->user = g_strdup(user);
    u->host = g_strdup(host);
    u->port = g_uri_get_port(gu) > 0 ? g_uri_get_port(gu) : 0;
    u->remote_uri = g_steal_pointer(&remote);
    u->keyfile = g_strdup(keyfile);
    u->no_verify = no_verify && !strcmp(no_verify, "1");
    u->command = g_strdup(command ? command : "qvirt");
    return 1;
}
