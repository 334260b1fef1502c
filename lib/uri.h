/* Where a connection URI keeps its files (lib/uri.c). Internal: its own
 * file, apart from conn.c, so the libFuzzer target (tests/fuzz/fuzz-uri.c)
 * compiles just this parser. */
#pragma once

#include "qv-error.h"
#include "runtime.h"

/* Fills paths (g_free both) from qvirt:///system, qvirt:///session or
 * qvirt:///embed?root=DIR (DIR absolute, %-escapes allowed); any other URI
 * is -EINVAL with one sentence naming it, and leaves paths untouched. */
int qv_conn_paths_for_uri(const char *uri, qv_rt_paths *paths, qv_error **err);

/* qvirt+ssh://[USER@]HOST[:PORT]/system|session|embed?root=DIR: the
 * connection of a remote host, reached by running `qvirt` there over ssh
 * (remote connections, lib/remote.c, and migration destinations).
 * Transport settings travel in the query, as libvirt's do: keyfile=PATH
 * (ssh -i), no_verify=1 (accept an unknown host key), command=PATH (the
 * remote qvirt program; default "qvirt"). */
typedef struct qv_ssh_uri {
    char *user;         /* NULL: ssh's default */
    char *host;
    int port;           /* 0: ssh's default */
    char *remote_uri;   /* the URI on the remote host: qvirt:///system, ... */
    char *keyfile;
    bool no_verify;
    char *command;
} qv_ssh_uri;
void qv_ssh_uri_clear(qv_ssh_uri *u);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_ssh_uri, qv_ssh_uri_clear)
/* 1 and *u for a qvirt+ssh:// URI, 0 for any other scheme (u untouched),
 * -EINVAL with one sentence for a malformed one. */
int qv_ssh_uri_parse(const char *uri, qv_ssh_uri *u, qv_error **err);
