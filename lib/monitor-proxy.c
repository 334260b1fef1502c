#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor-proxy.h"

#define QV_PROXY_MAX_CLIENTS 64
/* The longest request a client may send. The library's requests are a few
 * hundred bytes; this bounds what one client can make the monitor buffer. */
#define QV_PROXY_MAX_REQUEST (1024 * 1024)

/* One reply a client is owed, in the order of its requests: commands carry
 * no id, so a client matches replies by order, and an answer the proxy
 * gives at once (a bad request) must wait behind the ones QEMU still owes. */
typedef struct proxy_reply {
    uint64_t seq;
    json_object *msg; /* NULL until answered */
} proxy_reply;

typedef struct proxy_client {
    unsigned int id;
    int fd;
    json_tokener *tok;
    size_t req_bytes;  /* bytes of the request being parsed */
    bool skip_line;    /* after a bad request: input up to the next newline goes */
    GQueue replies;    /* proxy_reply*, oldest first */
    uint64_t next_seq;
    GString *out;
    bool dead;
} proxy_client;

struct qv_proxy {
    int listen_fd;
    qv_qmp *qmp;
    bool lost;
    GPtrArray *clients;
    unsigned int next_id;
};

typedef struct proxy_request {
    qv_proxy *proxy;
    unsigned int client_id;
    uint64_t seq;      /* its place among the client's replies */
    json_object *id;   /* the client's own id, echoed back */
} proxy_request;

static void reply_free(proxy_reply *r)
{
    if (r->msg)
        json_object_put(r->msg);
    g_free(r);
}

static void client_free(proxy_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    g_queue_clear_full(&c->replies, (GDestroyNotify)reply_free);
    json_tokener_free(c->tok);
    g_string_free(c->out, TRUE);
    g_free(c);
}

qv_proxy *qv_proxy_new(int listen_fd, qv_qmp *qmp)
{
    qv_proxy *p = g_new0(qv_proxy, 1);
    p->listen_fd = listen_fd;
    p->qmp = qmp;
    p->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    p->next_id = 1;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    return p;
}

void qv_proxy_free(qv_proxy *p)
{
    if (!p)
        return;
    /* Pending requests hold p: the caller frees the qmp connection (which
     * cancels them) before the proxy. */
    g_ptr_array_unref(p->clients);
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    g_free(p);
}

void qv_proxy_set_lost(qv_proxy *p)
{
    p->lost = true;
}

static proxy_client *find_client(qv_proxy *p, unsigned int id)
{
    for (guint i = 0; i < p->clients->len; i++) {
        proxy_client *c = p->clients->pdata[i];
        if (c->id == id && !c->dead)
            return c;
    }
    return NULL;
}

static void client_flush(proxy_client *c)
{
    while (c->out->len && !c->dead) {
        ssize_t n = send(c->fd, c->out->str, c->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* the rest goes when the socket is writable */
        if (n <= 0) {
            c->dead = true;
            return;
        }
        g_string_erase(c->out, 0, n);
    }
}

static void client_send(proxy_client *c, json_object *msg)
{
    size_t len;
    const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    g_string_append_len(c->out, s, (gssize)len);
    g_string_append(c->out, "\r\n");
    client_flush(c);
}

/* Takes the next place in c's reply order. */
static uint64_t reply_slot(proxy_client *c)
{
    proxy_reply *r = g_new0(proxy_reply, 1);
    r->seq = c->next_seq++;
    g_queue_push_tail(&c->replies, r);
    return r->seq;
}

/* Puts msg (consumed) in its place and sends every reply that is no
 * longer waiting behind an unanswered one. */
static void reply_fill(proxy_client *c, uint64_t seq, json_object *msg)
{
    for (GList *l = c->replies.head; l; l = l->next) {
        proxy_reply *r = l->data;
        if (r->seq == seq) {
            assert(!r->msg);
            r->msg = msg;
            msg = NULL;
            break;
        }
    }
    if (msg)
        json_object_put(msg);
    proxy_reply *head;
    while ((head = g_queue_peek_head(&c->replies)) && head->msg) {
        g_queue_pop_head(&c->replies);
        client_send(c, head->msg);
        reply_free(head);
    }
}

static json_object *error_reply(const char *klass, const char *desc, json_object *id)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "class", json_object_new_string(klass));
    json_object_object_add(e, "desc", json_object_new_string(desc));
    json_object *reply = json_object_new_object();
    json_object_object_add(reply, "error", e);
    if (id)
        json_object_object_add(reply, "id", json_object_get(id));
    return reply;
}

/* Answers a request the proxy refuses itself, in its place in line. */
static void reject(proxy_client *c, json_object *id, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void reject(proxy_client *c, json_object *id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    reply_fill(c, reply_slot(c), error_reply("GenericError", desc, id));
}

static void on_reply(qv_qmp *qmp, json_object *ret, const qv_error *err, void *opaque)
{
    proxy_request *req = opaque;
    qv_proxy *p = req->proxy;
    proxy_client *c = find_client(p, req->client_id);
    if (c) {
        json_object *reply;
        if (err) {
            reply = error_reply(qv_error_qmp_class(err) ? qv_error_qmp_class(err) : "GenericError",
                                qv_error_qmp_desc(err) ? qv_error_qmp_desc(err)
                                                       : qv_error_message(err),
                                req->id);
        } else {
            reply = json_object_new_object();
            json_object_object_add(reply, "return",
                                   ret ? json_object_get(ret) : json_object_new_object());
            if (req->id)
                json_object_object_add(reply, "id", json_object_get(req->id));
        }
        reply_fill(c, req->seq, reply);
    }
    json_object_put(req->id);
    g_free(req);
}

static void handle_message(qv_proxy *p, proxy_client *c, json_object *msg)
{
    json_object *exec = NULL, *args = NULL, *id = NULL;
    if (!json_object_is_type(msg, json_type_object)) {
        reject(c, NULL, "a request must be a JSON object");
        return;
    }
    json_object_object_get_ex(msg, "execute", &exec);
    json_object_object_get_ex(msg, "arguments", &args);
    json_object_object_get_ex(msg, "id", &id);
    if (!exec || !json_object_is_type(exec, json_type_string)) {
        reject(c, id, "a request needs an \"execute\" string naming the command");
        return;
    }
    const char *cmd = json_object_get_string(exec);
    if (args && !json_object_is_type(args, json_type_object)) {
        reject(c, id, "the \"arguments\" of '%s' must be a JSON object", cmd);
        return;
    }
    if (!strcmp(cmd, "qmp_capabilities")) {
        /* The monitor negotiated with QEMU already. */
        json_object *reply = json_object_new_object();
        json_object_object_add(reply, "return", json_object_new_object());
        if (id)
            json_object_object_add(reply, "id", json_object_get(id));
        reply_fill(c, reply_slot(c), reply);
        return;
    }
    if (p->lost) {
        reject(c, id, "the monitor lost its connection to QEMU; '%s' was not sent", cmd);
        return;
    }
    proxy_request *req = g_new0(proxy_request, 1);
    req->proxy = p;
    req->client_id = c->id;
    req->seq = reply_slot(c);
    req->id = id ? json_object_get(id) : NULL;
    /* The qmp/ client's own deadline answers a wedged QEMU. Once queued,
     * on_reply runs exactly once (it may already have, for a connection
     * that broke while writing); when queuing fails it never runs. */
    g_autoptr(qv_error) e = NULL;
    if (qv_qmp_send_async(p->qmp, cmd, args ? json_object_get(args) : NULL, -1, 0, on_reply, req,
                          &e) < 0) {
        reply_fill(c, req->seq, error_reply("GenericError", qv_error_message(e), req->id));
        json_object_put(req->id);
        g_free(req);
    }
}

/* A request the proxy could not read gets one error, and the rest of its
 * line goes: a client sends one request per line, so the next line starts
 * afresh. */
static void reject_unreadable(proxy_client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void reject_unreadable(proxy_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *desc = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    reject(c, NULL, "%s", desc);
    json_tokener_reset(c->tok);
    c->req_bytes = 0;
    c->skip_line = true;
}

static void client_read(qv_proxy *p, proxy_client *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            c->dead = true;
            return;
        }
        const char *s = buf;
        size_t left = (size_t)n;
        while (left && !c->dead) {
            if (c->skip_line) {
                const char *nl = memchr(s, '\n', left);
                if (!nl)
                    break;
                c->skip_line = false;
                left -= (size_t)(nl + 1 - s);
                s = nl + 1;
                continue;
            }
            json_object *msg = json_tokener_parse_ex(c->tok, s, (int)left);
            enum json_tokener_error jerr = json_tokener_get_error(c->tok);
            if (jerr == json_tokener_continue) {
                c->req_bytes += left;
                if (c->req_bytes > QV_PROXY_MAX_REQUEST)
                    reject_unreadable(c, "the request is longer than %d bytes",
                                      QV_PROXY_MAX_REQUEST);
                break;
            }
            size_t used = json_tokener_get_parse_end(c->tok);
            if (jerr != json_tokener_success) {
                /* The rest of the line goes from the offending byte on:
                 * that byte may be the newline that ends it. */
                reject_unreadable(c, "the request is not valid JSON (%s)",
                                  json_tokener_error_desc(jerr));
                s += used;
                left -= used;
                continue;
            }
            bool too_long = c->req_bytes + used > QV_PROXY_MAX_REQUEST;
            json_tokener_reset(c->tok);
            c->req_bytes = 0;
            if (too_long)
                reject(c, NULL, "the request is longer than %d bytes", QV_PROXY_MAX_REQUEST);
            else
                handle_message(p, c, msg);
            json_object_put(msg);
            s += used;
            left -= used;
            while (left && (*s == '\r' || *s == '\n' || *s == ' '))
                s++, left--;
        }
    }
}

/* A client over the limit hears why before it is closed (the line fits an
 * empty socket buffer, so the non-blocking send takes all of it). */
static void refuse_client(int fd)
{
    g_autoptr(json_object) reply = NULL;
    g_autofree char *desc = g_strdup_printf("the command proxy is full: it serves %d clients at "
                                            "once; try again later",
                                            QV_PROXY_MAX_CLIENTS);
    reply = error_reply("GenericError", desc, NULL);
    size_t len;
    const char *s = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &len);
    g_autofree char *line = g_strdup_printf("%s\r\n", s);
    if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* It went away already: nobody to tell. */
    }
    close(fd);
}

static void accept_clients(qv_proxy *p)
{
    for (;;) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (p->clients->len >= QV_PROXY_MAX_CLIENTS) {
            refuse_client(fd);
            continue;
        }
        proxy_client *c = g_new0(proxy_client, 1);
        c->id = p->next_id++;
        c->fd = fd;
        c->tok = json_tokener_new_ex(64);
        g_queue_init(&c->replies);
        c->out = g_string_new(NULL);
        g_ptr_array_add(p->clients, c);
        json_object *greeting = json_object_new_object();
        json_object *g = qv_qmp_get_greeting(p->qmp);
        json_object_object_add(greeting, "QMP", g ? json_object_get(g) : json_object_new_object());
        client_send(c, greeting);
        json_object_put(greeting);
    }
}

size_t qv_proxy_fill_pollfds(qv_proxy *p, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (n < max)
        fds[n++] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
    for (guint i = 0; i < p->clients->len && n < max; i++) {
        proxy_client *c = p->clients->pdata[i];
        fds[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN | (c->out->len ? POLLOUT : 0) };
    }
    return n;
}

void qv_proxy_dispatch(qv_proxy *p, const struct pollfd *fds, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!fds[k].revents)
            continue;
        if (fds[k].fd == p->listen_fd) {
            accept_clients(p);
            continue;
        }
        for (guint i = 0; i < p->clients->len; i++) {
            proxy_client *c = p->clients->pdata[i];
            if (c->fd != fds[k].fd || c->dead)
                continue;
            if (fds[k].revents & POLLOUT)
                client_flush(c);
            if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
                client_read(p, c);
        }
    }
    /* Drop the clients that went away; their pending replies find no one. */
    for (guint i = p->clients->len; i > 0; i--)
        if (((proxy_client *)p->clients->pdata[i - 1])->dead)
            g_ptr_array_remove_index_fast(p->clients, i - 1);
}
