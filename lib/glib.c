/* GMainContext integration: the journal's pollable fd as a GSource. */
#include <glib-unix.h>

#include "internal.h"
#include "qvirt/qvirt-glib.h"

static gboolean on_events(gint fd, GIOCondition cond, gpointer conn)
{
    qv_conn_event_dispatch(conn, NULL);
    return G_SOURCE_CONTINUE;
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
