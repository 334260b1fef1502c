/* qvirt: events of domains, read from the connection's journal (Sys::Virt
 * domain_event_register_any, domain_event_deregister_any, and the event
 * loop: qv_conn_event_get_fd, qv_conn_event_dispatch). Its calls live in
 * lib/events.c. Included by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- events ---------------------------------------------------------- */
/* Events are read from the connection's journal, which every process that
 * operates on the connection (and each domain's monitor process) appends to.
 * Poll qv_conn_event_get_fd() for POLLIN, then call qv_conn_event_dispatch(). */
typedef struct qv_event {
    int event_id;            /* QV_DOMAIN_EVENT_ID_* */
    const char *domain_name;
    const char *domain_uuid; /* string form */
    int event;               /* lifecycle: QV_DOMAIN_EVENT_*; watchdog/io-error: action */
    int detail;              /* lifecycle detail, or 0 */
    const char *json;        /* the full event as JSON text (fields per event id) */
    long long timestamp_us;  /* wall clock, microseconds */
} qv_event;
typedef void (*qv_event_cb)(qv_conn *conn, const qv_event *ev, void *opaque);
/* dom NULL: every domain. event_id -1: every event id. Returns a callback id. */
QV_PUBLIC int qv_conn_domain_event_register_any(qv_conn *conn, qv_domain *dom, int event_id,
                                                qv_event_cb cb, void *opaque, qv_error **err);
QV_PUBLIC int qv_conn_domain_event_deregister_any(qv_conn *conn, int callback_id, qv_error **err);
QV_PUBLIC int qv_conn_event_get_fd(qv_conn *conn, qv_error **err);
/* Delivers every new event to the callbacks; never blocks. Returns the count.
 * The journal keeps a bounded history (3 rotations of 8 MiB): a connection
 * that falls further behind gets -ENOBUFS once, after the events it could
 * still read were delivered, and goes on from there. */
QV_PUBLIC int qv_conn_event_dispatch(qv_conn *conn, qv_error **err);
/* Waits up to timeout_ms (-1 forever) for events and dispatches them. */
QV_PUBLIC int qv_conn_event_run(qv_conn *conn, int timeout_ms, qv_error **err);
QV_PUBLIC const char *qv_event_id_to_string(int event_id);

#ifdef __cplusplus
}
#endif
