/* GMainContext integration: the journal's pollable fd as a GSource. */
#include <errno.h>
#include <glib-unix.h>

#include "internal.h"
#include "qvirt/qvirt-glib.h"

/* A remote connection's event stream that failed has ended (its fd stays
 * readable, at its end, for ever): the source goes rather than spin. */
static gboolean on_events(gint fd, GIOCondition cond, gpointer data)
{
    qv_conn *conn = data;
    int r = qv_conn_event_dispatch(conn, NULL);
    return r < 0 && r != -ENOBUFS && conn->remote ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

GSource *qv_conn_event_source_new(qv_conn *conn, qv_error **err)
{
    int fd = qv_conn_event_get_fd(conn, err);
    if (fd < 0)
        return NULL;
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_events), conn, NULL);
    g_source_set_name(src, "qvirt events");
    return src;
}
