/* The remote side of a qvirt+ssh:// connection (remote.h): `qvirt
 * remote-serve`, run by ssh for as long as the client's connection is open,
 * makes the client's calls on a local connection of its host.
 *
 * Each call runs in a thread of its own, so that a call such as abort_job
 * reaches the domain while a long one (a migration, a save) still runs.
 * qvirt.h lets calls on different domain handles run at once, and every
 * call here gets handles of its own; the connection's own calls keep no
 * state in it but the AUTODESTROY list, so only starts that add to it run
 * alone. The first call on a channel may turn it into a stream (a
 * console, a channel, graphics) or an event feed; then it carries that until
 * either end closes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qv-fd.h"
#include "qv-file.h"
#include "qv-log.h"
#include "remote.h"

/* Calls that may run at once on one channel. */
#define QV_REMOTE_MAX_THREADS 64
/* A request line above this is refused (a domain XML is the largest thing
 * a request carries). */
#define QV_REMOTE_MAX_REQUEST (64u << 20)

typedef struct server {
    qv_conn *conn;
    int out_fd;
    GMutex out_lock;
    GRWLock calls;          /* readers: domain calls; writer: the rest */
} server;

typedef struct job {
    server *s;
    json_object *req;
} job;

static const qv_remote_handler *find_handler(const char *fn)
{
    for (size_t i = 0; i < qv_remote_n_handlers; i++)
        if (strcmp(qv_remote_handlers[i].name, fn) == 0)
            return &qv_remote_handlers[i];
    for (size_t i = 0; i < qv_remote_n_special_handlers; i++)
        if (strcmp(qv_remote_special_handlers[i].name, fn) == 0)
            return &qv_remote_special_handlers[i];
    return NULL;
}

static int write_line(server *s, json_object *o)
{
    g_autofree char *line =
        g_strdup_printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    g_mutex_lock(&s->out_lock);
    int r = qv_write_all(s->out_fd, line, strlen(line));
    g_mutex_unlock(&s->out_lock);
    return r;
}

/* Calls run side by side, each on handles of its own, as qvirt.h allows;
 * only a start with AUTODESTROY runs alone, as it adds to the connection's
 * list (qv_domain_create(dom, flags), qv_conn_create_domain(conn, xml,
 * flags, ...)). */
static bool runs_alone(const char *fn, json_object *a)
{
    size_t flags_at = strcmp(fn, "qv_domain_create") == 0        ? 1
                      : strcmp(fn, "qv_conn_create_domain") == 0 ? 1
                                                                 : 0;
    return flags_at && (json_object_get_uint64(json_object_array_get_idx(a, flags_at)) &
                        QV_DOMAIN_START_AUTODESTROY);
}

/* Runs one request and writes its reply; q->stream_fd and q->events tell
 * the caller what the channel carries next. */
static void serve_request(server *s, json_object *req, qv_remote_req *q)
{
    const char *fn = qv_json_get_str(req, "fn");
    json_object *a = qv_json_get(req, "a");
    g_autoptr(json_object) reply = json_object_new_object();
    json_object_object_add(reply, "id", json_object_get(qv_json_get(req, "id")));
    g_autoptr(json_object) o = json_object_new_array();
    qv_error *err = NULL;
    long long r;
    const qv_remote_handler *h = fn ? find_handler(fn) : NULL;
    *q = (qv_remote_req){
        .conn = s->conn, .args = a, .stream_fd = -1,
        .keep = g_ptr_array_new_with_free_func(g_free),
    };
    if (!json_object_is_type(a, json_type_array)) {
        r = qv_error_set(&err, -EPROTO, "a remote request without arguments");
    } else if (!h) {
        r = qv_error_set(&err, -ENOSYS, "the remote qvirt does not know the call %s "
                         "(an older qvirt there?)", fn ? fn : "(none)");
    } else {
        bool alone = runs_alone(fn, a);
        if (alone)
            g_rw_lock_writer_lock(&s->calls);
        else
            g_rw_lock_reader_lock(&s->calls);
        qv_log(QV_LOG_DEBUG, "remote call %s", fn);
        r = h->fn(q, o, &err);
        if (alone)
            g_rw_lock_writer_unlock(&s->calls);
        else
            g_rw_lock_reader_unlock(&s->calls);
    }
    json_object_object_add(reply, "r", json_object_new_int64(r));
    if (r < 0) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "m", json_object_new_string(
                                           err ? qv_error_message(err) : "the call failed"));
        if (err && qv_error_qmp_class(err))
            json_object_object_add(e, "c", json_object_new_string(qv_error_qmp_class(err)));
        if (err && qv_error_qmp_desc(err))
            json_object_object_add(e, "d", json_object_new_string(qv_error_qmp_desc(err)));
        json_object_object_add(reply, "e", e);
    } else {
        json_object_object_add(reply, "o", json_object_get(o));
    }
    qv_error_free(err);
    write_line(s, reply);
    g_ptr_array_unref(q->keep);
    q->keep = NULL;
}

static void run_job(gpointer data, gpointer user)
{
    (void)user;
    job *j = data;
    qv_remote_req q;
    serve_request(j->s, j->req, &q);
    qv_closep(&q.stream_fd); /* a stream call belongs first on its own channel */
    json_object_put(j->req);
    g_free(j);
}

/* ---- what a channel carries after its first call ---- */

typedef struct event_feed {
    int out_fd;
    bool gone;
} event_feed;

static void forward_event(qv_conn *conn, const qv_event *ev, void *opaque)
{
    (void)conn;
    event_feed *f = opaque;
    g_autofree char *line = g_strdup_printf("%s\n", ev->json);
    if (!f->gone && qv_write_all(f->out_fd, line, strlen(line)) < 0)
        f->gone = true;
}

/* Sends every event of the connection's journal as its line until the
 * client goes (stdin's end, or a write that fails). */
static int feed_events(qv_conn *conn, int in_fd, int out_fd, qv_error **err)
{
    event_feed f = { .out_fd = out_fd };
    int id = qv_conn_domain_event_register_any(conn, NULL, -1, forward_event, &f, err);
    if (id < 0)
        return id;
    int efd = qv_conn_event_get_fd(conn, err);
    if (efd < 0)
        return efd;
    while (!f.gone) {
        struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = in_fd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return qv_error_set_errno(err, -errno, "cannot wait for events");
        if (p[1].revents) {
            char c;
            if (read(in_fd, &c, 1) <= 0)
                break;
        }
        if (p[0].revents) {
            int r = qv_conn_event_dispatch(conn, err);
            if (r < 0 && r != -ENOBUFS)
                return r;
        }
    }
    return 0;
}

/* Copies between the channel (in_fd, out_fd) and a stream fd until either
 * side ends (for a stream that is no socket, the client's end of input is
 * the end). */
static int pump(int in_fd, int out_fd, int fd)
{
    char buf[65536];
    bool in_open = true;
    for (;;) {
        struct pollfd p[2] = { { .fd = in_open ? in_fd : -1, .events = POLLIN },
                               { .fd = fd, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int k = 0; k < 2; k++) {
            if (!p[k].revents)
                continue;
            int from = k == 0 ? in_fd : fd, to = k == 0 ? fd : out_fd;
            ssize_t n = read(from, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                if (k == 1)
                    return 0; /* the stream ended */
                /* The client is done writing: a socket's stream may still
                 * talk (its peer sees the half-close), but a pty's cannot
                 * be half-closed, and holding it would keep the console
                 * "in use by another session" until the guest next wrote. */
                in_open = false;
                if (shutdown(fd, SHUT_WR) < 0)
                    return 0;
                continue;
            }
            if (qv_write_all(to, buf, (size_t)n) < 0)
                return 0; /* the other side is gone: so is the stream */
        }
    }
}

int qv_conn_remote_serve(qv_conn *conn, int in_fd, int out_fd, unsigned int flags,
                         qv_error **err)
{
    if (!conn)
        return qv_error_set(err, -EINVAL, "qv_conn_remote_serve: conn is required");
    if (conn->remote)
        return qv_error_set(err, -EINVAL, "qvirt remote-serve serves a local connection, "
                            "not %s", conn->uri);
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_conn_remote_serve: unknown flags 0x%x", flags);
    server s = { .conn = conn, .out_fd = out_fd };
    g_mutex_init(&s.out_lock);
    g_rw_lock_init(&s.calls);
    g_autoptr(json_object) hello = json_object_new_object();
    json_object_object_add(hello, "hello", json_object_new_string("qvirt"));
    json_object_object_add(hello, "protocol", json_object_new_int(QV_REMOTE_PROTOCOL));
    int r = write_line(&s, hello);
    GThreadPool *pool = g_thread_pool_new(run_job, NULL, QV_REMOTE_MAX_THREADS, FALSE, NULL);
    g_autoptr(GString) buf = g_string_new(NULL);
    bool first = true;
    while (r >= 0) {
        char chunk[65536];
        ssize_t n = read(in_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the client closed its connection */
        g_string_append_len(buf, chunk, n);
        char *start = buf->str, *nl;
        while ((nl = memchr(start, '\n', buf->len - (size_t)(start - buf->str)))) {
            *nl = '\0';
            json_object *req = json_tokener_parse(start);
            start = nl + 1;
            if (!req || !json_object_is_type(req, json_type_object)) {
                json_object_put(req);
                r = qv_error_set(err, -EPROTO, "the client sent a line that is not a request");
                break;
            }
            const char *fn = qv_json_get_str(req, "fn");
            bool stream = fn && (strcmp(fn, "events") == 0 ||
                                 g_str_has_prefix(fn, "qv_domain_open_"));
            if (!stream) {
                job *j = g_new0(job, 1);
                j->s = &s;
                j->req = req;
                g_thread_pool_push(pool, j, NULL);
                first = false;
                continue;
            }
            /* A stream: the channel's first and only call. */
            qv_remote_req q;
            if (!first) {
                json_object_put(req);
                r = qv_error_set(err, -EPROTO, "a stream call must come first on its channel");
                break;
            }
            serve_request(&s, req, &q);
            json_object_put(req);
            if (q.events)
                r = feed_events(conn, in_fd, out_fd, err);
            else if (q.stream_fd >= 0 && (r = pump(in_fd, out_fd, q.stream_fd)) < 0)
                qv_error_set_errno(err, r, "cannot wait on the stream");
            qv_closep(&q.stream_fd);
            goto done;
        }
        if (r < 0)
            break;
        g_string_erase(buf, 0, start - buf->str);
        if (buf->len > QV_REMOTE_MAX_REQUEST)
            r = qv_error_set(err, -EPROTO, "the client sent an overlong request");
    }
done:
    /* Calls still running finish (their replies may find nobody). */
    g_thread_pool_free(pool, FALSE, TRUE);
    g_rw_lock_clear(&s.calls);
    g_mutex_clear(&s.out_lock);
    return r < 0 ? r : 0;
}

/* ---- arguments and outputs of the generated handlers ---- */

json_object *qv_remote_arg(qv_remote_req *q, size_t i)
{
    return i < json_object_array_length(q->args) ? json_object_array_get_idx(q->args, i)
                                                 : NULL;
}

const char *qv_remote_arg_str(qv_remote_req *q, size_t i)
{
    json_object *v = qv_remote_arg(q, i);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A domain reference (qv_remote_dom_ref): {"name", "uuid"}. The name finds
 * it at once; the UUID decides (a domain renamed, or another one defined
 * under the name since, is looked up by UUID). */
static int dom_from_ref(qv_conn *conn, json_object *v, qv_domain **dom, qv_error **err)
{
    const char *name = qv_json_get_str(v, "name");
    const char *uuid = qv_json_get_str(v, "uuid");
    if (!uuid)
        return qv_error_set(err, -EPROTO, "a remote request without its domain");
    qv_domain *byname = NULL;
    if (name && qv_conn_get_domain_by_name(conn, name, &byname, NULL) >= 0) {
        if (!strcmp(byname->uuid_str, uuid)) {
            *dom = byname;
            return 0;
        }
        qv_domain_free(byname);
    }
    return qv_conn_get_domain_by_uuid_string(conn, uuid, dom, err);
}

int qv_remote_arg_dom(qv_remote_req *q, size_t i, qv_domain **dom, qv_error **err)
{
    return dom_from_ref(q->conn, qv_remote_arg(q, i), dom, err);
}

int qv_remote_arg_snap(qv_remote_req *q, size_t i, qv_domain **dom, qv_snapshot **snap,
                       qv_error **err)
{
    json_object *v = qv_remote_arg(q, i);
    json_object *d = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, 0)
                                                             : NULL;
    json_object *n = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, 1)
                                                             : NULL;
    if (!json_object_is_type(n, json_type_string))
        return qv_error_set(err, -EPROTO, "a remote request without its snapshot");
    int r = dom_from_ref(q->conn, d, dom, err);
    if (r < 0)
        return r;
    return qv_domain_get_snapshot_by_name(*dom, json_object_get_string(n), 0, snap, err);
}

int qv_remote_arg_uuid(qv_remote_req *q, size_t i, unsigned char uuid[16], qv_error **err)
{
    const char *s = qv_remote_arg_str(q, i);
    if (!s || qv_uuid_parse(s, uuid) < 0)
        return qv_error_set(err, -EINVAL, "a remote request with a malformed UUID");
    return 0;
}

json_object *qv_remote_put_strv(char **v)
{
    if (!v)
        return NULL;
    json_object *a = json_object_new_array();
    for (size_t i = 0; v[i]; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    qv_snapshot_names_free(v);
    return a;
}

json_object *qv_remote_put_dom(qv_domain *dom)
{
    if (!dom)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(dom->name));
    json_object_object_add(o, "uuid", json_object_new_string(dom->uuid_str));
    qv_domain_free(dom);
    return o;
}

json_object *qv_remote_put_domv(qv_domain **v)
{
    if (!v)
        return NULL;
    json_object *a = json_object_new_array();
    for (size_t i = 0; v[i]; i++) {
        json_object_array_add(a, qv_remote_put_dom(v[i]));
        v[i] = NULL;
    }
    g_free(v);
    return a;
}

json_object *qv_remote_put_snap(qv_snapshot *snap)
{
    if (!snap)
        return NULL;
    json_object *o = json_object_new_string(qv_snapshot_get_name(snap));
    qv_snapshot_free(snap);
    return o;
}

json_object *qv_remote_put_snapv(qv_snapshot **v)
{
    if (!v)
        return NULL;
    json_object *a = json_object_new_array();
    for (size_t i = 0; v[i]; i++) {
        json_object_array_add(a, qv_remote_put_snap(v[i]));
        v[i] = NULL;
    }
    free(v);
    return a;
}
