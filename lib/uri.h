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
