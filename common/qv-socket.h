/* Unix stream sockets, the one place that fills a sockaddr_un: every fd is
 * close-on-exec, and a path too long for sun_path is one clear error. */
#pragma once
#include "qv-error.h"

/* Binds and listens on path (an old socket file there is replaced).
 * Returns the fd or a negative errno. */
int qv_unix_listen(const char *path, qv_error **err);
/* Connects to path. A listening socket's backlog takes the connection at
 * once, before its owner accepts: no retries are needed. Returns the fd or
 * a negative errno. */
int qv_unix_connect(const char *path, qv_error **err);
