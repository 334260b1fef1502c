/* Optional GLib integration. The core API (qvirt.h) has no GLib types; this
 * header is for programs that run a GMainContext. */
#pragma once

#include <glib.h>
#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A GSource that calls qv_conn_event_dispatch() whenever the connection has
 * new events. Attach it with g_source_attach(); the connection must outlive
 * it. On a qvirt+ssh:// connection whose event stream is lost it removes
 * itself. NULL (and *err) on failure. */
QV_PUBLIC GSource *qv_conn_event_source_new(qv_conn *conn, qv_error **err);

#ifdef __cplusplus
}
#endif
