/* qvirt: connections (Sys::Virt methods of the connection: open, close,
 * define_domain, create_domain, the lookups, list_all_domains,
 * domain_xml_to_native). Its calls live in lib/conn.c. Included by
 * <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- connection ------------------------------------------------------ */
/* uri: "qvirt:///system", "qvirt:///session" or "qvirt:///embed?root=DIR",
 * or one of these on another host: "qvirt+ssh://[USER@]HOST[:PORT]/system"
 * (/session, /embed?root=DIR; query: keyfile=PATH, no_verify=1,
 * command=PATH of qvirt there). A remote connection runs `qvirt
 * remote-serve` on HOST over ssh while it is open, and every call of it,
 * its domains and snapshots is made there; paths in calls (save files,
 * disk images) are the remote host's. No daemon runs on either side.
 * NULL: $QVIRT_DEFAULT_URI, else system for root and session for others. */
QV_PUBLIC int qv_conn_open(const char *uri, qv_conn **ret, qv_error **err);
/* Closes the connection; domains started with START_AUTODESTROY from it are
 * destroyed. Handles made from it must be freed first. */
QV_PUBLIC void qv_conn_close(qv_conn *conn);
QV_PUBLIC void qv_conn_closep(qv_conn **conn);
QV_PUBLIC const char *qv_conn_get_uri(const qv_conn *conn);

QV_PUBLIC int qv_conn_define_domain(qv_conn *conn, const char *xml, unsigned int flags,
                                    qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_create_domain(qv_conn *conn, const char *xml, unsigned int flags,
                                    qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_name(qv_conn *conn, const char *name, qv_domain **ret,
                                         qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_uuid(qv_conn *conn, const unsigned char uuid[16],
                                         qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_uuid_string(qv_conn *conn, const char *uuid,
                                                qv_domain **ret, qv_error **err);
QV_PUBLIC int qv_conn_get_domain_by_id(qv_conn *conn, int id, qv_domain **ret, qv_error **err);
/* *ret receives a NULL-terminated array of handles (free each, then the
 * array with qv_domain_list_free); returns the count. */
QV_PUBLIC int qv_conn_list_all_domains(qv_conn *conn, unsigned int flags, qv_domain ***ret,
                                       qv_error **err);
QV_PUBLIC void qv_domain_list_free(qv_domain **list);

/* virConnectDomainXMLToNative: the QEMU command line this connection would
 * run for a domain XML, without defining or starting anything. format:
 *   "qemu-argv"       one shell-quoted line, as libvirt gives (for reading
 *                     and logs, not for a shell to run);
 *   "qemu-argv-json"  the argv as a JSON array of strings, for programs.
 * The layout is the one a start gives the domain: the command monitor is a
 * listening socket passed as fd 3 and generated sockets go under the
 * connection's runtime folder; the event monitor and the lanes, which only
 * the supervisor and the library use, are left out. flags must be 0.
 * *ret receives a string the caller frees with free(). */
QV_PUBLIC int qv_conn_domain_xml_to_native(qv_conn *conn, const char *format, const char *xml,
                                           unsigned int flags, char **ret, qv_error **err);

/* The remote side of a qvirt+ssh:// connection: makes the calls a client
 * sends on in_fd (JSON lines; lib/remote.h) on conn, a local connection,
 * and answers on out_fd, until in_fd ends. `qvirt remote-serve` runs it;
 * it is for qvirt itself, not for people. flags must be 0. */
QV_PUBLIC int qv_conn_remote_serve(qv_conn *conn, int in_fd, int out_fd, unsigned int flags,
                                   qv_error **err);

#ifdef __cplusplus
}
#endif
