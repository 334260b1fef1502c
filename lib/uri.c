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
