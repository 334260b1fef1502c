/* The command proxy of qvirt-monitor: library clients keep a QMP connection
 * to <run>/domains/NAME/ctl.sock open for as long as they like, any number at
 * once, and the monitor forwards their commands over its own QMP connection
 * to QEMU (each as a command of that connection, its reply routed back to
 * the client that sent it; no ids on either side). QEMU's
 * command monitor accepts one client at a time; this lets every process
 * keep a connection without locking the others out, so a call costs one
 * round trip instead of connect + greeting + qmp_capabilities + command.
 * Every request gets exactly one reply, in the client's order (commands
 * carry no id): a bad one (not JSON, no "execute", over-long) a QMP
 * GenericError, after the replies QEMU still owes for earlier ones. A
 * client over the limit gets an error line and is closed. */
#pragma once

#include <poll.h>
#include <stdbool.h>

#include "qmp.h"

typedef struct qv_proxy qv_proxy;

/* Takes ownership of listen_fd. qmp must outlive the proxy. */
qv_proxy *qv_proxy_new(int listen_fd, qv_qmp *qmp);
void qv_proxy_free(qv_proxy *proxy);
/* Fills up to max pollfds (the listening socket and the clients); returns
 * how many. */
size_t qv_proxy_fill_pollfds(qv_proxy *proxy, struct pollfd *fds, size_t max);
/* Handles the revents of the pollfds fill_pollfds gave. */
void qv_proxy_dispatch(qv_proxy *proxy, const struct pollfd *fds, size_t n);
/* QEMU's monitor is gone: new commands fail at once. */
void qv_proxy_set_lost(qv_proxy *proxy);
