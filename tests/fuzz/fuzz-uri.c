/* libFuzzer target for connection URIs (lib/uri.c): qvirt:///system,
 * qvirt:///session, qvirt:///embed?root=DIR, and qvirt+ssh:// URIs. The input is the URI (up to
 * its first NUL byte). A URI is either accepted with two folders (absolute
 * for embed: system's are fixed, session's come from the environment), or
 * refused with -EINVAL, one sentence and no folders. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *uri = g_strndup((const char *)data, size);
    qv_rt_paths paths = { 0 };
    qv_error *err = NULL;
    int r = qv_conn_paths_for_uri(uri, &paths, &err);
    if (r == 0) {
        if (err || !paths.config_dir || !paths.run_dir)
            abort();
        if (g_str_has_prefix(uri, "qvirt:///embed?") &&
            (!g_path_is_absolute(paths.config_dir) || !g_path_is_absolute(paths.run_dir)))
            abort();
    } else if (r != -EINVAL || !err || !qv_error_message(err) || paths.config_dir || paths.run_dir) {
        abort();
    }
    g_free(paths.config_dir);
    g_free(paths.run_dir);
    qv_error_free(err);
    /* qvirt+ssh://: parsed into parts ssh cannot misread (no host or user
     * starting with '-'), a remote URI a connection opens, or refused. */
    qv_ssh_uri u = { 0 };
    err = NULL;
    r = qv_ssh_uri_parse(uri, &u, &err);
    if (r == 1) {
        if (err || !u.host || u.host[0] == '-' || (u.user && u.user[0] == '-') ||
            !g_str_has_prefix(u.remote_uri, "qvirt:///") || !u.command)
            abort();
    } else if (r == 0) {
        if (err || u.host || g_str_has_prefix(uri, "qvirt+ssh://"))
            abort();
    } else if (r != -EINVAL || !err || u.host) {
        abort();
    }
    qv_ssh_uri_clear(&u);
    qv_error_free(err);
    return 0;
}
