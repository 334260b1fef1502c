/* qvirt+ssh:// connections (lib/remote.c, lib/remote-serve.c,
 * lib/remote-special.c and the generated lib/remote-gen.c).
 *
 * No daemon on either side: opening qvirt+ssh://HOST/system runs
 * `qvirt --connect qvirt:///system remote-serve` on HOST over ssh, for as
 * long as the connection is open, and each call of the connection, its
 * domains and snapshots becomes one JSON line to it and one back:
 *
 *   -> {"id": 7, "fn": "qv_domain_get_state", "a": [ARG, ...]}
 *   <- {"id": 7, "r": 0, "o": [OUT, ...]}
 *   <- {"id": 7, "r": -22, "e": {"m": "...", "c": QMP class, "d": QMP desc}}
 *
 * ARGs are the call's inputs in order (a domain as {"name", "uuid"}, a
 * snapshot as [domain, name], a struct as an object of its fields), and for
 * each output pointer whether the caller gave one; OUTs are the outputs in
 * order. The remote side runs each call in a thread of its own, so a call
 * such as abort_job reaches it while a migration call still runs; the
 * client matches replies by id. Events and streams (consoles, channels,
 * graphics) take an ssh of their own, switched by their first call from
 * lines to events or raw bytes.
 *
 * Every public call of a connection, domain or snapshot starts with
 * QV_REMOTE_CONN/DOMAIN/SNAPSHOT(..., qv_remote__NAME(args)) (send_key
 * after its argument checks, which look at no handle): on a remote
 * connection the stub does the call (scripts/gen-remote.py --check makes
 * sure none is missing). */
#pragma once

#include <json-c/json.h>

#include "internal.h"
#include "qv-json.h"
#include "remote-gen.h"
#include "uri.h"

/* The protocol's version, in the hello line the remote side sends first. */
/* 2: a domain travels as {"name", "uuid"}, not its UUID alone. */
#define QV_REMOTE_PROTOCOL 2

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_domain, qv_domain_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_snapshot, qv_snapshot_free)

typedef struct qv_remote qv_remote;
/* (struct qv_conn names it as struct qv_remote.) */

#define QV_REMOTE_CONN(conn, call)                                             \
    do {                                                                       \
        if ((conn) && (conn)->remote)                                          \
            return call;                                                       \
    } while (0)
#define QV_REMOTE_DOMAIN(dom, call)                                            \
    do {                                                                       \
        if ((dom) && (dom)->conn->remote)                                      \
            return call;                                                       \
    } while (0)
#define QV_REMOTE_SNAPSHOT(snap, call)                                         \
    do {                                                                       \
        if ((snap) && qv_remote_snap_conn(snap)->remote)                       \
            return call;                                                       \
    } while (0)

/* ---- the client (lib/remote.c) ---- */

/* Opens the connection of u's remote URI over ssh; conn->remote is set. */
int qv_remote_open(qv_conn *conn, const qv_ssh_uri *u, qv_error **err);
void qv_remote_close(qv_remote *r);

/* Sends fn with args a (borrowed: the caller keeps its reference), waits
 * for its reply: its return value, and *o its outputs (an array, never NULL
 * on success). */
long long qv_remote_call(qv_conn *conn, const char *fn, json_object *a, json_object **o,
                         qv_error **err);

/* A second ssh to the same remote, made for one call (a borrowed, as above) that then carries a
 * stream: *fd is this end of it (a socket; ssh holds the other end as its
 * stdin and stdout). The call's reply has been read: what follows on *fd is
 * the stream. */
int qv_remote_call_stream(qv_conn *conn, const char *fn, json_object *a, json_object **o,
                          int *fd, qv_error **err);

json_object *qv_remote_dom_ref(const qv_domain *dom);
json_object *qv_remote_snap_ref(const qv_snapshot *snap);
json_object *qv_remote_uuid_ref(const unsigned char uuid[16]);
qv_conn *qv_remote_snap_conn(const qv_snapshot *snap);
/* Outputs: copies the caller owns (NULL for a JSON null). */
char *qv_remote_take_str(json_object *v);
char **qv_remote_take_strv(json_object *v);
qv_domain *qv_remote_take_dom(qv_conn *conn, json_object *v);
qv_domain **qv_remote_take_domv(qv_conn *conn, json_object *v);
qv_snapshot *qv_remote_take_snap(qv_domain *dom, json_object *v);
qv_snapshot **qv_remote_take_snapv(qv_domain *dom, json_object *v);
/* The snapshot handle of a remote domain (lib/snapshot.c). */
qv_snapshot *qv_snapshot_new_handle(qv_domain *dom, const char *name);

/* The name a migration gives the domain at its destination (lib/migrate.c). */
const char *qv_migrate_dest_name(const qv_domain *dom, const qv_migrate_params *p);

/* Events of a remote connection: the fd of its event stream (opened on
 * first use), and the delivery of what it has read to the callbacks. */
int qv_remote_events_fd(qv_conn *conn, qv_error **err);
int qv_remote_events_dispatch(qv_conn *conn, qv_error **err);

/* ---- the server (lib/remote-serve.c) ---- */

typedef struct qv_remote_req {
    qv_conn *conn;
    json_object *args;  /* the request's "a" */
    GPtrArray *keep;    /* freed after the call: what borrowed args point to */
    /* A stream call sets these: the fd the server then copies to and from
     * its stdin and stdout once the reply is out, or the events the
     * channel then carries. */
    int stream_fd;
    bool events;
} qv_remote_req;

typedef long long (*qv_remote_fn)(qv_remote_req *q, json_object *o, qv_error **err);
typedef struct qv_remote_handler {
    const char *name;
    qv_remote_fn fn;
} qv_remote_handler;
extern const qv_remote_handler qv_remote_handlers[];
extern const size_t qv_remote_n_handlers;
extern const qv_remote_handler qv_remote_special_handlers[];
extern const size_t qv_remote_n_special_handlers;

json_object *qv_remote_arg(qv_remote_req *q, size_t i);
const char *qv_remote_arg_str(qv_remote_req *q, size_t i);
int qv_remote_arg_dom(qv_remote_req *q, size_t i, qv_domain **dom, qv_error **err);
int qv_remote_arg_snap(qv_remote_req *q, size_t i, qv_domain **dom, qv_snapshot **snap,
                       qv_error **err);
int qv_remote_arg_uuid(qv_remote_req *q, size_t i, unsigned char uuid[16], qv_error **err);
/* Outputs, taking (and freeing) what they are given. */
json_object *qv_remote_put_strv(char **v);
json_object *qv_remote_put_dom(qv_domain *dom);
json_object *qv_remote_put_domv(qv_domain **v);
json_object *qv_remote_put_snap(qv_snapshot *snap);
json_object *qv_remote_put_snapv(qv_snapshot **v);

/* ---- struct codecs (lib/remote-gen.c), for the hand-written calls ---- */
void qv_remote_put_qv_disk_error(json_object *o, const qv_disk_error *s, size_t limit);
void qv_remote_get_qv_disk_error(json_object *o, qv_disk_error *s, size_t limit, GPtrArray *keep);
void qv_remote_put_qv_memory_stat(json_object *o, const qv_memory_stat *s, size_t limit);
void qv_remote_get_qv_memory_stat(json_object *o, qv_memory_stat *s, size_t limit, GPtrArray *keep);
void qv_remote_put_qv_vcpu_info(json_object *o, const qv_vcpu_info *s, size_t limit);
void qv_remote_get_qv_vcpu_info(json_object *o, qv_vcpu_info *s, size_t limit, GPtrArray *keep);
void qv_remote_put_qv_security_label(json_object *o, const qv_security_label *s, size_t limit);
void qv_remote_get_qv_security_label(json_object *o, qv_security_label *s, size_t limit, GPtrArray *keep);
void qv_remote_put_qv_cpu_stats(json_object *o, const qv_cpu_stats *s, size_t limit);
void qv_remote_get_qv_cpu_stats(json_object *o, qv_cpu_stats *s, size_t limit, GPtrArray *keep);
void qv_remote_put_qv_migrate_params(json_object *o, const qv_migrate_params *s, size_t limit);
void qv_remote_get_qv_migrate_params(json_object *o, qv_migrate_params *s, size_t limit, GPtrArray *keep);
