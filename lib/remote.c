/* The client of a qvirt+ssh:// connection (remote.h): the ssh running
 * `qvirt remote-serve` on the other host, and calls over it.
 *
 * Calls may come from several threads at once (qvirt.h allows calls on
 * different domain handles to): each writes its line under the lock, then
 * waits for the reply with its id. Whoever waits first reads for everyone
 * (the reader): it files each reply it reads by id and wakes the others, so
 * no thread of the library's own is needed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qv-fd.h"
#include "qv-log.h"
#include "remote.h"
#include "ssh.h"

/* How long ssh may take to reach the host, log in and start qvirt there. */
#define QV_REMOTE_HELLO_TIMEOUT_MS 60000
/* How long ssh may take to exit once its stdin is closed (the remote side
 * closing its connection first), and again once told to end. */
#define QV_REMOTE_SSH_EXIT_MS 5000
/* A reply line above this is refused (a screenshot or a peek is the
 * largest thing a reply carries). */
#define QV_REMOTE_MAX_LINE (256u << 20)

struct qv_remote {
    qv_ssh_uri u;
    char *host_label;       /* user@host:port, for messages */
    qv_process *ssh;
    int to, from, errs;
    GMutex lock;
    GCond cond;
    bool reading;           /* a waiter is reading for everyone */
    int broken;             /* < 0: the channel is gone, and why */
    char *broken_msg;
    unsigned long long next_id;
    GHashTable *replies;    /* id -> reply (json_object) */
    GString *rbuf;
    /* Streams (consoles, graphics) and the event channel: each an ssh of
     * its own, ended with the connection. */
    GPtrArray *streams;     /* qv_process* */
    int events_fd;
    GString *events_buf;
};

static int lost(qv_remote *r, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Marks the channel gone (lock held): every call from now on fails so. */
static int lost(qv_remote *r, int code, const char *fmt, ...)
{
    if (r->broken < 0)
        return r->broken;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qv_error *e = NULL;
    qv_error_set(&e, code, "the connection to %s was lost: %s", r->host_label, why);
    qv_ssh_add_stderr(r->errs, &e);
    r->broken_msg = g_strdup(qv_error_message(e));
    r->broken = code;
    qv_error_free(e);
    g_cond_broadcast(&r->cond);
    return code;
}

/* Reads one line from fd, a byte at a time (what follows the line is not
 * ours to read: a stream's data), waiting up to timeout_ms in all. */
static int read_line_exact(int fd, int timeout_ms, char **line, qv_error **err)
{
    g_autoptr(GString) s = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1) {
            if (c == '\n') {
                *line = g_string_free(g_steal_pointer(&s), FALSE);
                return 0;
            }
            if (s->len >= QV_REMOTE_MAX_LINE)
                return qv_error_set(err, -EPROTO, "the remote side sent an overlong line");
            g_string_append_c(s, c);
            continue;
        }
        if (n == 0)
            return qv_error_set(err, -ECONNRESET, "the remote side closed the connection");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return qv_error_set_errno(err, -errno, "cannot read from ssh");
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return qv_error_set(err, -ETIMEDOUT, "the remote side did not answer within %d s",
                                timeout_ms / 1000);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, (int)left);
    }
}

/* fd is a socket: MSG_NOSIGNAL, as a remote side that is gone must give
 * the caller an error, not a SIGPIPE that ends its process. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            poll(&p, 1, -1);
            continue;
        }
        if (n <= 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The hello line: {"hello": "qvirt", "protocol": N}. */
static int check_hello(int fd, const qv_remote *r, qv_error **err)
{
    g_autofree char *line = NULL;
    int rc = read_line_exact(fd, QV_REMOTE_HELLO_TIMEOUT_MS, &line, err);
    if (rc < 0)
        return rc;
    g_autoptr(json_object) o = json_tokener_parse(line);
    if (g_strcmp0(qv_json_get_str(o, "hello"), "qvirt") != 0)
        return qv_error_set(err, -EPROTO, "%s did not answer as qvirt remote-serve does "
                            "(is the remote command '%s' qvirt?)", r->host_label, r->u.command);
    if (qv_json_get_int(o, "protocol", 0) != QV_REMOTE_PROTOCOL)
        return qv_error_set(err, -EPROTO, "%s speaks remote protocol %lld, this qvirt %d: "
                            "install the same qvirt on both hosts", r->host_label,
                            qv_json_get_int(o, "protocol", 0), QV_REMOTE_PROTOCOL);
    return 0;
}

static void put_reply(gpointer reply)
{
    json_object_put(reply);
}

static void remote_free(qv_remote *r)
{
    if (!r)
        return;
    /* The end of its input ends remote-serve, which closes its connection
     * there (destroying the domains started with START_AUTODESTROY) and
     * exits, and then ssh does: wait for that, so that the close is as
     * complete on return as a local one; only a remote side that does not
     * end in time is cut off. */
    qv_closep(&r->events_fd);
    if (r->to >= 0)
        shutdown(r->to, SHUT_WR); /* r->from is the same socket */
    qv_closep(&r->to);
    if (r->ssh) {
        if (qv_process_wait(r->ssh, QV_REMOTE_SSH_EXIT_MS, NULL, NULL) < 0)
            qv_process_terminate(r->ssh, QV_REMOTE_SSH_EXIT_MS, NULL, NULL);
        qv_process_free(r->ssh);
    }
    qv_closep(&r->from);
    qv_closep(&r->errs);
    for (guint i = 0; r->streams && i < r->streams->len; i++) {
        qv_process_terminate(r->streams->pdata[i], QV_REMOTE_SSH_EXIT_MS, NULL, NULL);
        qv_process_free(r->streams->pdata[i]);
    }
    if (r->streams)
        g_ptr_array_unref(r->streams);
    if (r->replies)
        g_hash_table_unref(r->replies);
    if (r->rbuf)
        g_string_free(r->rbuf, TRUE);
    if (r->events_buf)
        g_string_free(r->events_buf, TRUE);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
    g_free(r->broken_msg);
    g_free(r->host_label);
    qv_ssh_uri_clear(&r->u);
    g_free(r);
}

void qv_remote_close(qv_remote *r)
{
    remote_free(r);
}

int qv_remote_open(qv_conn *conn, const qv_ssh_uri *u, qv_error **err)
{
    qv_remote *r = g_new0(qv_remote, 1);
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->to = r->from = r->errs = r->events_fd = -1;
    r->u = (qv_ssh_uri){
        .user = g_strdup(u->user), .host = g_strdup(u->host), .port = u->port,
        .remote_uri = g_strdup(u->remote_uri), .keyfile = g_strdup(u->keyfile),
        .no_verify = u->no_verify, .command = g_strdup(u->command),
    };
    r->host_label = g_strdup_printf("%s%s%s", u->user ? u->user : "", u->user ? "@" : "",
                                    u->host);
    r->replies = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, put_reply);
    r->rbuf = g_string_new(NULL);
    r->streams = g_ptr_array_new();
    r->next_id = 1;
    /* A socket, not pipes, so that writes can say MSG_NOSIGNAL. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = qv_error_set_errno(err, -errno, "cannot make a socket pair for ssh");
        remote_free(r);
        return e;
    }
    qv_autoclose int theirs = sv[1];
    r->from = sv[0];
    int rc = qv_ssh_spawn(&r->u, "remote-serve", theirs, &r->ssh, NULL, NULL, &r->errs, err);
    qv_closep(&theirs);
    if (rc >= 0 && (r->to = fcntl(r->from, F_DUPFD_CLOEXEC, 3)) < 0)
        rc = qv_error_set_errno(err, -errno, "cannot duplicate the socket of ssh");
    if (rc >= 0) {
        fcntl(r->from, F_SETFL, fcntl(r->from, F_GETFL) | O_NONBLOCK);
        rc = check_hello(r->from, r, err);
    }
    if (rc < 0) {
        if (err && *err)
            qv_error_prefix(*err, "cannot open %s", conn->uri);
        qv_ssh_add_stderr(r->errs, err);
        remote_free(r);
        return rc;
    }
    qv_log(QV_LOG_INFO, "connection %s: remote-serve on %s answers", conn->uri, u->host);
    conn->remote = r;
    return 0;
}

/* The reader's turn (lock not held): reads what is there and files the
 * replies it completes. */
static void read_some(qv_remote *r)
{
    char buf[65536];
    struct pollfd p = { .fd = r->from, .events = POLLIN };
    if (poll(&p, 1, -1) < 0 && errno != EINTR) {
        g_mutex_lock(&r->lock);
        lost(r, -errno, "cannot wait for ssh");
        g_mutex_unlock(&r->lock);
        return;
    }
    ssize_t n = read(r->from, buf, sizeof buf);
    int e = errno;
    g_mutex_lock(&r->lock);
    if (n == 0)
        lost(r, -ECONNRESET, "ssh ended");
    else if (n < 0 && e != EAGAIN && e != EINTR)
        lost(r, -e, "cannot read from ssh: %s", g_strerror(e));
    if (n > 0)
        g_string_append_len(r->rbuf, buf, n);
    char *start = r->rbuf->str, *nl;
    while ((nl = memchr(start, '\n', r->rbuf->len - (size_t)(start - r->rbuf->str)))) {
        *nl = '\0';
        json_object *o = json_tokener_parse(start);
        json_object *id = qv_json_get(o, "id");
        if (!o || !json_object_is_type(id, json_type_int)) {
            json_object_put(o);
            lost(r, -EPROTO, "the remote side sent a line that is not a reply");
            break;
        }
        gint64 *key = g_new(gint64, 1);
        *key = json_object_get_int64(id);
        g_hash_table_replace(r->replies, key, o);
        start = nl + 1;
    }
    g_string_erase(r->rbuf, 0, start - r->rbuf->str);
    if (r->rbuf->len > QV_REMOTE_MAX_LINE)
        lost(r, -EPROTO, "the remote side sent an overlong line");
    r->reading = false;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

/* A reply's error, as the remote side's call gave it. */
static long long reply_error(json_object *reply, long long rc, qv_error **err)
{
    json_object *e = qv_json_get(reply, "e");
    const char *msg = qv_json_get_str(e, "m");
    const char *qclass = qv_json_get_str(e, "c");
    if (qclass)
        return qv_error_set_qmp(err, (int)rc, qclass, qv_json_get_str(e, "d"), "%s",
                                msg ? msg : "the remote call failed");
    return qv_error_set(err, (int)rc, "%s", msg ? msg : "the remote call failed");
}

static char *request_line(unsigned long long id, const char *fn, json_object *a)
{
    g_autoptr(json_object) req = json_object_new_object();
    json_object_object_add(req, "id", json_object_new_int64((int64_t)id));
    json_object_object_add(req, "fn", json_object_new_string(fn));
    json_object_object_add(req, "a", json_object_get(a));
    return g_strdup_printf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
}

long long qv_remote_call(qv_conn *conn, const char *fn, json_object *a, json_object **o,
                         qv_error **err)
{
    qv_remote *r = conn->remote;
    g_mutex_lock(&r->lock);
    if (r->broken < 0) {
        int code = r->broken;
        g_mutex_unlock(&r->lock);
        return qv_error_set(err, code, "%s", r->broken_msg);
    }
    gint64 id = (gint64)r->next_id++;
    g_autofree char *line = request_line((unsigned long long)id, fn, a);
    int wr = send_all(r->to, line, strlen(line));
    if (wr < 0) {
        int code = lost(r, wr, "cannot write to ssh: %s", g_strerror(-wr));
        g_mutex_unlock(&r->lock);
        return qv_error_set(err, code, "%s", r->broken_msg);
    }
    json_object *reply = NULL;
    for (;;) {
        gpointer key = NULL;
        if (g_hash_table_steal_extended(r->replies, &id, &key, (gpointer *)&reply))
            g_free(key); /* stolen with its reply: ours to free */
        if (reply || r->broken < 0)
            break;
        if (!r->reading) {
            r->reading = true;
            g_mutex_unlock(&r->lock);
            read_some(r);
            g_mutex_lock(&r->lock);
        } else {
            g_cond_wait(&r->cond, &r->lock);
        }
    }
    if (!reply) {
        int code = r->broken;
        g_mutex_unlock(&r->lock);
        /* The request went out: the remote side may have done it. */
        return qv_error_set(err, code, "%s; %s may or may not have been done there",
                            r->broken_msg, fn);
    }
    g_mutex_unlock(&r->lock);
    g_autoptr(json_object) rep = reply;
    long long rc = qv_json_get_int(rep, "r", -EPROTO);
    if (rc < 0)
        return reply_error(rep, rc, err);
    json_object *out = qv_json_get(rep, "o");
    *o = out && json_object_is_type(out, json_type_array) ? json_object_get(out)
                                                          : json_object_new_array();
    return rc;
}

int qv_remote_call_stream(qv_conn *conn, const char *fn, json_object *a, json_object **o,
                          int *fd, qv_error **err)
{
    qv_remote *r = conn->remote;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return qv_error_set_errno(err, -errno, "cannot make a socket pair for ssh");
    qv_autoclose int ours = sv[0];
    qv_autoclose int theirs = sv[1];
    qv_autoclose int errs = -1;
    qv_process *ssh = NULL;
    int rc = qv_ssh_spawn(&r->u, "remote-serve", theirs, &ssh, NULL, NULL, &errs, err);
    if (rc < 0)
        return rc;
    qv_closep(&theirs);
    g_autofree char *line = request_line(1, fn, a);
    g_autofree char *reply_line = NULL;
    fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    if ((rc = check_hello(ours, r, err)) >= 0) {
        rc = send_all(ours, line, strlen(line));
        if (rc < 0)
            qv_error_set_errno(err, rc, "cannot write to ssh");
        else
            rc = read_line_exact(ours, QV_REMOTE_HELLO_TIMEOUT_MS, &reply_line, err);
    }
    g_autoptr(json_object) rep = reply_line ? json_tokener_parse(reply_line) : NULL;
    if (rc >= 0 && !rep)
        rc = qv_error_set(err, -EPROTO, "the remote side sent a line that is not a reply");
    if (rc >= 0 && (rc = (int)qv_json_get_int(rep, "r", -EPROTO)) < 0)
        reply_error(rep, rc, err);
    if (rc < 0) {
        qv_ssh_add_stderr(errs, err);
        qv_process_terminate(ssh, QV_REMOTE_SSH_EXIT_MS, NULL, NULL);
        qv_process_free(ssh);
        return rc;
    }
    if (o) {
        json_object *out = qv_json_get(rep, "o");
        *o = out ? json_object_get(out) : json_object_new_array();
    }
    int flags = fcntl(ours, F_GETFL);
    fcntl(ours, F_SETFL, flags & ~O_NONBLOCK);
    g_mutex_lock(&r->lock);
    /* Streams whose ssh is gone are reaped as new ones come. */
    for (guint i = r->streams->len; i-- > 0;) {
        if (qv_process_try_wait(r->streams->pdata[i], NULL, NULL) > 0) {
            qv_process_free(r->streams->pdata[i]);
            g_ptr_array_remove_index_fast(r->streams, i);
        }
    }
    g_ptr_array_add(r->streams, ssh);
    g_mutex_unlock(&r->lock);
    *fd = qv_steal_fd(&ours);
    return rc;
}

/* ---- events: a stream that carries the remote journal's lines ---- */

int qv_remote_events_fd(qv_conn *conn, qv_error **err)
{
    qv_remote *r = conn->remote;
    if (r->events_fd >= 0)
        return r->events_fd;
    g_autoptr(json_object) a = json_object_new_array();
    int fd = -1;
    int rc = qv_remote_call_stream(conn, "events", a, NULL, &fd, err);
    if (rc < 0)
        return rc;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    r->events_fd = fd;
    r->events_buf = g_string_new(NULL);
    return fd;
}

int qv_remote_events_dispatch(qv_conn *conn, qv_error **err)
{
    int fd = qv_remote_events_fd(conn, err);
    if (fd < 0)
        return fd;
    qv_remote *r = conn->remote;
    int count = 0;
    for (;;) {
        char buf[16384];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            int e = n == 0 ? -ECONNRESET : -errno;
            qv_error *lerr = NULL;
            qv_error_set(&lerr, e, "the event stream of %s was lost", r->host_label);
            return qv_error_propagate(err, lerr);
        }
        g_string_append_len(r->events_buf, buf, n);
        char *start = r->events_buf->str, *nl;
        while ((nl = memchr(start, '\n', r->events_buf->len -
                                             (size_t)(start - r->events_buf->str)))) {
            *nl = '\0';
            count += qv_events_deliver(conn, start);
            start = nl + 1;
        }
        g_string_erase(r->events_buf, 0, start - r->events_buf->str);
    }
    return count;
}

/* ---- handles ---- */

/* A domain goes as its name and UUID: the remote side finds it by name
 * (one file) and checks the UUID, rather than reading every domain's
 * definition for the UUID on every call. */
json_object *qv_remote_dom_ref(const qv_domain *dom)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(dom->name));
    json_object_object_add(o, "uuid", json_object_new_string(dom->uuid_str));
    return o;
}

json_object *qv_remote_snap_ref(const qv_snapshot *snap)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, qv_remote_dom_ref(qv_snapshot_get_domain(snap)));
    json_object_array_add(a, json_object_new_string(qv_snapshot_get_name(snap)));
    return a;
}

json_object *qv_remote_uuid_ref(const unsigned char uuid[16])
{
    char s[37];
    qv_uuid_format(uuid, s);
    return json_object_new_string(s);
}

qv_conn *qv_remote_snap_conn(const qv_snapshot *snap)
{
    return qv_snapshot_get_domain(snap)->conn;
}

char *qv_remote_take_str(json_object *v)
{
    return json_object_is_type(v, json_type_string) ? g_strdup(json_object_get_string(v))
                                                    : NULL;
}

char **qv_remote_take_strv(json_object *v)
{
    if (!json_object_is_type(v, json_type_array))
        return NULL;
    size_t n = json_object_array_length(v);
    char **out = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = g_strdup(json_object_get_string(json_object_array_get_idx(v, i)));
    return out;
}

qv_domain *qv_remote_take_dom(qv_conn *conn, json_object *v)
{
    unsigned char uuid[16];
    const char *name = qv_json_get_str(v, "name");
    if (!name || qv_uuid_parse(qv_json_get_str(v, "uuid"), uuid) < 0)
        return NULL;
    qv_domain *dom = NULL;
    qv_domain_new(conn, name, uuid, &dom);
    return dom;
}

qv_domain **qv_remote_take_domv(qv_conn *conn, json_object *v)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    qv_domain **out = g_new0(qv_domain *, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((out[k] = qv_remote_take_dom(conn, json_object_array_get_idx(v, i))))
            k++;
    return out;
}

qv_snapshot *qv_remote_take_snap(qv_domain *dom, json_object *v)
{
    return json_object_is_type(v, json_type_string)
               ? qv_snapshot_new_handle(dom, json_object_get_string(v))
               : NULL;
}

qv_snapshot **qv_remote_take_snapv(qv_domain *dom, json_object *v)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    qv_snapshot **out = g_new0(qv_snapshot *, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((out[k] = qv_remote_take_snap(dom, json_object_array_get_idx(v, i))))
            k++;
    return out;
}
