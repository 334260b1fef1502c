/* QMP and guest-agent protocol client. See qmp.h for the contract.
 *
 * Design: one caller-driven, single-threaded state machine. Input bytes go
 * through an incremental json_tokener (so partial reads and several messages
 * per read need no line framing); every parsed object is routed to the
 * greeting, the event queue or the pending command it answers. Output is a
 * byte buffer plus a list of file descriptors pinned to stream offsets, so a
 * descriptor always travels with the first byte of its command. Every
 * pending entry carries a monotonic deadline; dispatch fails the expired
 * ones. The blocking calls are a poll() loop over the same machinery. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "qmp.h"
#include "qmp-internal.h"
#include "qv-log.h"

#define READ_CHUNK 65536
/* Reads per dispatch before yielding back to the caller's loop, so a peer
 * flooding the socket cannot starve timeouts or other sources. */
#define READS_PER_DISPATCH 64
#define AGENT_SENTINEL 0xFF

typedef enum {
    ENTRY_GREETING, /* waits for the QMP greeting; nothing to send */
    ENTRY_COMMAND,  /* an "execute" message */
    ENTRY_SYNC,     /* agent guest-sync-delimited */
} entry_kind;

typedef struct pending {
    entry_kind kind;
    int64_t id;           /* the agent's guest-sync id; QMP: qmp_capabilities' (no other command has one) */
    char *command;
    json_object *msg;     /* built message, until it moves to the output buffer */
    int fd;               /* descriptor to pass with the message, or -1 */
    bool internal;        /* part of the handshake: not held back by it */
    bool sent;            /* the message is in the output buffer */
    size_t out_start;     /* once sent: stream offset of its first byte */
    bool orphan;          /* timed out: only its late reply is awaited */
    int timeout_ms;
    int64_t deadline;     /* g_get_monotonic_time() microseconds */
    qv_qmp_reply_cb cb;
    void *userdata;
} pending;

typedef struct out_fd {
    size_t offset; /* absolute output stream offset of the first byte */
    int fd;
} out_fd;

typedef enum { HS_NONE, HS_RUNNING, HS_DONE } hs_state;

struct qv_qmp {
    int fd;
    char *log_who;             /* set: blocking calls are logged (debug) */
    char *log_path;
    qv_qmp_mode mode;
    int timeout_ms;
    size_t max_message;

    json_tokener *tok;
    size_t msg_bytes;          /* bytes fed since the last complete message */
    bool agent_wait_sentinel;  /* discard input up to the next 0xFF */
    bool agent_need_sync;      /* a reply was lost: resync before the next command */

    GByteArray *out;
    size_t out_base;           /* absolute stream offset of out->data[0] */
    GQueue out_fds;            /* out_fd*, by offset */

    GQueue pending;            /* pending*, in send order */

    GQueue events;             /* qv_qmp_event* */
    uint64_t dropped;
    qv_qmp_event_cb event_cb;
    void *event_userdata;

    bool broken;
    int broken_code;
    char *broken_msg;

    json_object *greeting_msg; /* whole greeting message */
    hs_state hs;
    qv_qmp_reply_cb hs_cb;
    void *hs_userdata;
    int hs_timeout_ms;
    int64_t hs_deadline;

    int in_dispatch;           /* >0 while callbacks may run */
};

static const char *peer_name(const qv_qmp *qmp)
{
    return qmp->mode == QV_QMP_MODE_AGENT ? "QEMU guest agent" : "QEMU monitor";
}

static const char *command_kind(const qv_qmp *qmp)
{
    return qmp->mode == QV_QMP_MODE_AGENT ? "guest agent command" : "QEMU command";
}

void qv_qmp_event_free(qv_qmp_event *ev)
{
    if (!ev)
        return;
    g_free(ev->name);
    if (ev->data)
        json_object_put(ev->data);
    g_free(ev);
}

static void pending_free(pending *p)
{
    g_free(p->command);
    if (p->msg)
        json_object_put(p->msg);
    if (p->fd >= 0)
        close(p->fd);
    g_free(p);
}

static void reset_parser(qv_qmp *qmp)
{
    json_tokener_reset(qmp->tok);
    qmp->msg_bytes = 0;
}

/* Removes p from the pending list, runs its callback, frees it. */
static void complete(qv_qmp *qmp, pending *p, json_object *ret, const qv_error *err)
{
    g_queue_remove(&qmp->pending, p);
    qmp->in_dispatch++;
    if (p->cb)
        p->cb(qmp, err ? NULL : ret, err, p->userdata);
    qmp->in_dispatch--;
    pending_free(p);
}

static void fail_entry(qv_qmp *qmp, pending *p, int code, const char *msg)
{
    g_autoptr(qv_error) e = NULL;
    qv_error_set(&e, code, "%s", msg);
    complete(qmp, p, NULL, e);
}

/* Tells p's caller it timed out, and keeps p, without a callback or a
 * deadline, to swallow the reply QEMU still owes it. */
static void orphan_entry(qv_qmp *qmp, pending *p, const char *msg)
{
    g_autoptr(qv_error) e = NULL;
    qv_error_set(&e, -ETIMEDOUT, "%s", msg);
    qv_qmp_reply_cb cb = p->cb;
    p->cb = NULL;
    p->deadline = INT64_MAX;
    p->orphan = true;
    qmp->in_dispatch++;
    if (cb)
        cb(qmp, NULL, e, p->userdata);
    qmp->in_dispatch--;
}

/* Whether any byte of p went out: from then on QEMU may run it. */
static bool written(const qv_qmp *qmp, const pending *p)
{
    return p->sent && qmp->out_base > p->out_start;
}

/* Marks the connection unusable and fails every pending command at once:
 * nobody should wait for a reply that cannot come. */
static int set_broken(qv_qmp *qmp, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int set_broken(qv_qmp *qmp, int code, const char *fmt, ...)
{
    if (qmp->broken)
        return qmp->broken_code;
    va_list ap;
    va_start(ap, fmt);
    qmp->broken_msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qmp->broken = true;
    qmp->broken_code = code;
    pending *p;
    while ((p = g_queue_peek_head(&qmp->pending))) {
        g_autofree char *msg = NULL;
        if (p->kind == ENTRY_COMMAND && written(qmp, p))
            msg = g_strdup_printf("%s while waiting for the reply to '%s'", qmp->broken_msg,
                                  p->command);
        else if (p->kind == ENTRY_COMMAND)
            msg = g_strdup_printf("%s before '%s' was sent", qmp->broken_msg, p->command);
        else
            msg = g_strdup_printf("%s during the handshake", qmp->broken_msg);
        fail_entry(qmp, p, code, msg);
    }
    return code;
}

static int broken_error(const qv_qmp *qmp, qv_error **err)
{
    return qv_error_set(err, qmp->broken_code, "%s", qmp->broken_msg);
}

/* --- output ---------------------------------------------------------------- */

static ssize_t send_bytes(qv_qmp *qmp, const void *buf, size_t len, int fd)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t r = sendmsg(qmp->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK && fd < 0)
        r = write(qmp->fd, buf, len);
    return r;
}

/* Writes as much pending output as the socket takes. Never blocks. */
static int flush_output(qv_qmp *qmp)
{
    while (qmp->out->len > 0 && !qmp->broken) {
        out_fd *of = g_queue_peek_head(&qmp->out_fds);
        size_t n = qmp->out->len;
        bool with_fd = of && of->offset == qmp->out_base;
        if (of && !with_fd)
            n = MIN(n, of->offset - qmp->out_base);
        if (with_fd) {
            /* stop before the next descriptor so each one rides with the
             * first byte of its own command */
            out_fd *next = g_queue_peek_nth(&qmp->out_fds, 1);
            if (next)
                n = MIN(n, next->offset - qmp->out_base);
        }
        ssize_t r = send_bytes(qmp, qmp->out->data, n, with_fd ? of->fd : -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            int e = -errno;
            return set_broken(qmp, e, "writing to the %s failed: %s", peer_name(qmp),
                              g_strerror(-e));
        }
        if (with_fd) {
            g_queue_pop_head(&qmp->out_fds);
            close(of->fd);
            g_free(of);
        }
        g_byte_array_remove_range(qmp->out, 0, (guint)r);
        qmp->out_base += (size_t)r;
    }
    return qmp->broken ? qmp->broken_code : 0;
}

/* Moves an entry's message into the output buffer. */
static void queue_message(qv_qmp *qmp, pending *p)
{
    assert(!p->sent && p->msg);
    size_t len = 0;
    const char *s = json_object_to_json_string_length(p->msg, JSON_C_TO_STRING_PLAIN, &len);
    if (p->kind == ENTRY_SYNC) {
        /* 0xFF first: the agent's parser treats it as a flush, so partial
         * input left by an earlier client cannot swallow our request */
        guint8 ff = AGENT_SENTINEL;
        g_byte_array_append(qmp->out, &ff, 1);
        qmp->agent_wait_sentinel = true;
    }
    if (p->fd >= 0) {
        out_fd *of = g_new0(out_fd, 1);
        of->offset = qmp->out_base + qmp->out->len;
        of->fd = p->fd;
        p->fd = -1;
        g_queue_push_tail(&qmp->out_fds, of);
    }
    p->out_start = qmp->out_base + qmp->out->len;
    g_byte_array_append(qmp->out, (const guint8 *)s, (guint)len);
    /* "\n" alone: QEMU reads a byte per pass (see handle_qmp_message). */
    g_byte_array_append(qmp->out, (const guint8 *)"\n", 1);
    json_object_put(p->msg);
    p->msg = NULL;
    p->sent = true;
}

static bool may_send(const qv_qmp *qmp, const pending *p)
{
    return p->kind != ENTRY_GREETING && !p->sent && (p->internal || qmp->hs != HS_RUNNING);
}

static void agent_sync_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata);

static pending *new_entry(qv_qmp *qmp, entry_kind kind, const char *command, int timeout_ms)
{
    pending *p = g_new0(pending, 1);
    p->kind = kind;
    p->fd = -1;
    p->command = g_strdup(command);
    p->timeout_ms = timeout_ms;
    p->deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    return p;
}

static pending *new_sync_entry(qv_qmp *qmp, int timeout_ms)
{
    pending *p = new_entry(qmp, ENTRY_SYNC, "guest-sync-delimited", timeout_ms);
    p->internal = true;
    p->id = g_random_int_range(1, G_MAXINT32);
    p->msg = json_object_new_object();
    json_object_object_add(p->msg, "execute", json_object_new_string("guest-sync-delimited"));
    json_object *args = json_object_new_object();
    json_object_object_add(args, "id", json_object_new_int64(p->id));
    json_object_object_add(p->msg, "arguments", args);
    return p;
}

/* Moves sendable commands to the output buffer. QMP: all of them, in order
 * (replies carry ids). Agent: one at a time, since replies carry no id. */
static void pump(qv_qmp *qmp)
{
    if (qmp->broken)
        return;
    if (qmp->mode == QV_QMP_MODE_AGENT) {
        for (GList *l = qmp->pending.head; l; l = l->next)
            if (((pending *)l->data)->sent)
                return;
        pending *next = NULL;
        for (GList *l = qmp->pending.head; l && !next; l = l->next)
            if (may_send(qmp, l->data))
                next = l->data;
        if (!next)
            return;
        if (qmp->agent_need_sync && next->kind != ENTRY_SYNC) {
            /* a reply was lost to a timeout and may still arrive: resync
             * first so it cannot be taken for the answer to `next` */
            pending *s = new_sync_entry(qmp, qmp->timeout_ms);
            s->cb = agent_sync_done;
            g_queue_push_head(&qmp->pending, s);
            next = s;
        }
        queue_message(qmp, next);
    } else {
        for (GList *l = qmp->pending.head; l; l = l->next)
            if (may_send(qmp, l->data))
                queue_message(qmp, l->data);
    }
    flush_output(qmp);
}

static void agent_sync_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    if (!err)
        qmp->agent_need_sync = false;
}

/* --- input ----------------------------------------------------------------- */

static int errno_for_class(const char *cls)
{
    if (g_strcmp0(cls, "CommandNotFound") == 0)
        return -ENOTSUP;
    if (g_strcmp0(cls, "DeviceNotFound") == 0)
        return -ENODEV;
    return -EIO;
}

static void complete_with_reply(qv_qmp *qmp, pending *p, json_object *msg)
{
    json_object *error = NULL;
    if (json_object_object_get_ex(msg, "error", &error)) {
        json_object *o;
        const char *cls = json_object_object_get_ex(error, "class", &o) ? json_object_get_string(o)
                                                                       : "GenericError";
        const char *desc = json_object_object_get_ex(error, "desc", &o) ? json_object_get_string(o)
                                                                       : "no description";
        g_autoptr(qv_error) e = NULL;
        qv_error_set_qmp(&e, errno_for_class(cls), cls, desc, "%s '%s' failed: %s",
                         command_kind(qmp), p->command, desc);
        complete(qmp, p, NULL, e);
        return;
    }
    json_object *ret = NULL;
    json_object_object_get_ex(msg, "return", &ret);
    g_autoptr(json_object) empty = NULL;
    if (!ret) /* "return": null; callers are promised a value */
        ret = empty = json_object_new_object();
    complete(qmp, p, ret, NULL);
}

static pending *in_flight(const qv_qmp *qmp)
{
    for (GList *l = qmp->pending.head; l; l = l->next)
        if (((pending *)l->data)->sent)
            return l->data;
    return NULL;
}

static void handle_event(qv_qmp *qmp, json_object *msg, json_object *name)
{
    qv_qmp_event *ev = g_new0(qv_qmp_event, 1);
    ev->name = g_strdup(json_object_get_string(name));
    json_object *o, *ts;
    if (json_object_object_get_ex(msg, "data", &o) && o)
        ev->data = json_object_get(o);
    if (json_object_object_get_ex(msg, "timestamp", &ts)) {
        if (json_object_object_get_ex(ts, "seconds", &o))
            ev->seconds = json_object_get_int64(o);
        if (json_object_object_get_ex(ts, "microseconds", &o))
            ev->microseconds = json_object_get_int64(o);
    }
    bool consumed = false;
    if (qmp->event_cb) {
        qmp->in_dispatch++;
        consumed = qmp->event_cb(qmp, ev, qmp->event_userdata);
        qmp->in_dispatch--;
    }
    if (consumed) {
        qv_qmp_event_free(ev);
        return;
    }
    /* bounded: the oldest event goes, the reader never waits */
    if (qmp->events.length >= QV_QMP_EVENT_QUEUE_MAX) {
        qv_qmp_event_free(g_queue_pop_head(&qmp->events));
        qmp->dropped++;
    }
    g_queue_push_tail(&qmp->events, ev);
}

static void handle_agent_message(qv_qmp *qmp, json_object *msg)
{
    pending *p = in_flight(qmp);
    if (!p) /* a late reply to a command that timed out */
        return;
    if (p->kind == ENTRY_SYNC) {
        json_object *r;
        if (json_object_object_get_ex(msg, "return", &r) && json_object_is_type(r, json_type_int)
            && json_object_get_int64(r) == p->id) {
            complete(qmp, p, r, NULL);
        } else {
            /* stale: an answer to an older request; the real one follows
             * its own 0xFF */
            qmp->agent_wait_sentinel = true;
        }
        return;
    }
    if (json_object_object_get_ex(msg, "return", NULL) || json_object_object_get_ex(msg, "error", NULL))
        complete_with_reply(qmp, p, msg);
}

static void handle_qmp_message(qv_qmp *qmp, json_object *msg)
{
    json_object *o;
    if (json_object_object_get_ex(msg, "QMP", &o)) {
        if (qmp->greeting_msg)
            json_object_put(qmp->greeting_msg);
        qmp->greeting_msg = json_object_get(msg);
        for (GList *l = qmp->pending.head; l; l = l->next) {
            pending *p = l->data;
            if (p->kind == ENTRY_GREETING) {
                complete(qmp, p, o, NULL);
                break;
            }
        }
        return;
    }
    if (json_object_object_get_ex(msg, "event", &o) && json_object_is_type(o, json_type_string)) {
        handle_event(qmp, msg, o);
        return;
    }
    if (!json_object_object_get_ex(msg, "return", NULL) && !json_object_object_get_ex(msg, "error", NULL))
        return;
    /* QEMU answers the commands of a monitor one at a time, in the order it
     * read them (we send no out-of-band ones), so a reply is the oldest
     * sent command's; one that timed out waits here, as an orphan, for its
     * late reply. Commands carry no "id": QEMU reads its monitors one byte
     * per main-loop pass, and the id's ten bytes cost more than the rest
     * of a stop (about 25 us each here). */
    for (GList *l = qmp->pending.head; l; l = l->next) {
        pending *p = l->data;
        if (p->kind == ENTRY_COMMAND && p->sent) {
            json_object *rid = NULL;
            if (p->internal && p->id && (!json_object_object_get_ex(msg, "id", &rid) ||
                                         json_object_get_int64(rid) != p->id))
                return; /* a dead predecessor's reply, ahead of qmp_capabilities' */
            complete_with_reply(qmp, p, msg);
            return;
        }
    }
    /* a reply to nothing we sent (nor timed out): not ours */
}

static void handle_message(qv_qmp *qmp, json_object *msg)
{
    if (!json_object_is_type(msg, json_type_object)) {
        set_broken(qmp, -EPROTO, "%s sent a JSON value that is not an object", peer_name(qmp));
        return;
    }
    if (qmp->mode == QV_QMP_MODE_AGENT)
        handle_agent_message(qmp, msg);
    else
        handle_qmp_message(qmp, msg);
    pump(qmp);
}

/* Feeds at most one message worth of bytes to the tokener; returns how many
 * were consumed. */
static size_t parse_some(qv_qmp *qmp, const char *buf, size_t len)
{
    int n = (int)MIN(len, (size_t)READ_CHUNK);
    json_object *obj = json_tokener_parse_ex(qmp->tok, buf, n);
    enum json_tokener_error jerr = json_tokener_get_error(qmp->tok);
    if (jerr == json_tokener_continue) {
        qmp->msg_bytes += (size_t)n;
        if (qmp->msg_bytes > qmp->max_message)
            set_broken(qmp, -EMSGSIZE, "%s sent a message larger than %zu bytes", peer_name(qmp),
                       qmp->max_message);
        return (size_t)n;
    }
    if (jerr != json_tokener_success || !obj) {
        if (obj)
            json_object_put(obj);
        set_broken(qmp, -EPROTO, "%s sent bytes that are not JSON (%s)", peer_name(qmp),
                   json_tokener_error_desc(jerr));
        return (size_t)n;
    }
    size_t used = json_tokener_get_parse_end(qmp->tok);
    qmp->msg_bytes += used;
    bool too_big = qmp->msg_bytes > qmp->max_message;
    reset_parser(qmp);
    if (too_big)
        set_broken(qmp, -EMSGSIZE, "%s sent a message larger than %zu bytes", peer_name(qmp),
                   qmp->max_message);
    else
        handle_message(qmp, obj);
    json_object_put(obj);
    return used ? used : (size_t)n;
}

static void feed_bytes(qv_qmp *qmp, const char *buf, size_t len)
{
    while (len > 0 && !qmp->broken) {
        if (qmp->mode == QV_QMP_MODE_AGENT) {
            const char *ff = memchr(buf, AGENT_SENTINEL, len);
            if (qmp->agent_wait_sentinel) {
                if (!ff)
                    return; /* stale data before the sentinel */
                len -= (size_t)(ff - buf) + 1;
                buf = ff + 1;
                reset_parser(qmp);
                qmp->agent_wait_sentinel = false;
                continue;
            }
            if (ff == buf) { /* a sentinel always flushes the parser */
                reset_parser(qmp);
                buf++;
                len--;
                continue;
            }
            size_t used = parse_some(qmp, buf, ff ? (size_t)(ff - buf) : len);
            buf += used;
            len -= used;
        } else {
            size_t used = parse_some(qmp, buf, len);
            buf += used;
            len -= used;
        }
    }
}

int qv_qmp_feed(qv_qmp *qmp, const void *buf, size_t len, qv_error **err)
{
    if (qmp->broken)
        return broken_error(qmp, err);
    qmp->in_dispatch++;
    feed_bytes(qmp, buf, len);
    qmp->in_dispatch--;
    return qmp->broken ? broken_error(qmp, err) : 0;
}

void qv_qmp_set_max_message(qv_qmp *qmp, size_t max)
{
    qmp->max_message = max ? max : QV_QMP_MAX_MESSAGE;
}

static void read_input(qv_qmp *qmp)
{
    char buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_DISPATCH && !qmp->broken; i++) {
        ssize_t r = read(qmp->fd, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                int e = -errno;
                set_broken(qmp, e, "reading from the %s failed: %s", peer_name(qmp),
                           g_strerror(-e));
            }
            return;
        }
        if (r == 0) {
            set_broken(qmp, -ECONNRESET, "%s closed%s", peer_name(qmp),
                       qmp->msg_bytes > 0 ? " in the middle of a message" : "");
            return;
        }
        feed_bytes(qmp, buf, (size_t)r);
        if ((size_t)r < sizeof(buf))
            return; /* drained; spare the extra read that would say EAGAIN */
    }
}

static void expire(qv_qmp *qmp)
{
    int64_t now = g_get_monotonic_time();
    bool again = true;
    while (again && !qmp->broken) {
        again = false;
        for (GList *l = qmp->pending.head; l; l = l->next) {
            pending *p = l->data;
            if (p->deadline > now)
                continue;
            g_autofree char *msg = NULL;
            if (p->kind == ENTRY_GREETING)
                msg = g_strdup_printf("QEMU monitor sent no greeting within %d ms", p->timeout_ms);
            else if (p->kind == ENTRY_SYNC)
                msg = g_strdup_printf("QEMU guest agent did not answer guest-sync-delimited within %d ms",
                                      p->timeout_ms);
            else
                msg = g_strdup_printf("%s '%s' got no reply within %d ms", command_kind(qmp),
                                      p->command, p->timeout_ms);
            if (qmp->mode == QV_QMP_MODE_AGENT && p->sent)
                qmp->agent_need_sync = true;
            if (qmp->mode == QV_QMP_MODE_QMP && p->kind == ENTRY_COMMAND && p->sent) {
                /* The caller hears now; the entry stays to take the reply
                 * when it comes, so later replies still line up. */
                orphan_entry(qmp, p, msg);
            } else {
                fail_entry(qmp, p, -ETIMEDOUT, msg);
            }
            again = true; /* the list changed under us */
            break;
        }
    }
    pump(qmp);
}

/* --- public API ------------------------------------------------------------ */

int qv_qmp_new(int fd, qv_qmp_mode mode, qv_qmp **ret, qv_error **err)
{
    if (fd < 0 || !ret)
        return qv_error_set(err, -EINVAL, "qv_qmp_new needs a connected socket and a result pointer");
    if (mode != QV_QMP_MODE_QMP && mode != QV_QMP_MODE_AGENT)
        return qv_error_set(err, -EINVAL, "unknown QMP client mode %d", (int)mode);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return qv_error_set_errno(err, -errno, "cannot set up the %s socket (fd %d)",
                                  mode == QV_QMP_MODE_AGENT ? "guest agent" : "QEMU monitor", fd);
    qv_qmp *qmp = g_new0(qv_qmp, 1);
    qmp->fd = fd;
    qmp->mode = mode;
    qmp->timeout_ms = QV_QMP_DEFAULT_TIMEOUT_MS;
    qmp->max_message = QV_QMP_MAX_MESSAGE;
    qmp->tok = json_tokener_new_ex(64);
    /* not JSON_TOKENER_STRICT: in json-c 0.16 it rejects a second message
     * following the first in the same buffer */
    json_tokener_set_flags(qmp->tok, JSON_TOKENER_VALIDATE_UTF8);
    qmp->out = g_byte_array_new();
    g_queue_init(&qmp->out_fds);
    g_queue_init(&qmp->pending);
    g_queue_init(&qmp->events);
    *ret = qmp;
    return 0;
}

int qv_qmp_connect_path(const char *path, qv_qmp_mode mode, int timeout_ms, qv_qmp **ret,
                        qv_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!path || !ret)
        return qv_error_set(err, -EINVAL, "qv_qmp_connect_path needs a socket path and a result pointer");
    if (strlen(path) >= sizeof(sa.sun_path))
        return qv_error_set(err, -ENAMETOOLONG, "monitor socket path '%s' is too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a socket for '%s'", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot connect to '%s'", path);
    }
    g_autoptr(qv_qmp) qmp = NULL;
    int r = qv_qmp_new(fd, mode, &qmp, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    r = qv_qmp_handshake(qmp, timeout_ms, err);
    if (r < 0)
        return r;
    *ret = g_steal_pointer(&qmp);
    return 0;
}

void qv_qmp_free(qv_qmp *qmp)
{
    if (!qmp)
        return;
    /* broken first, so callbacks cannot queue new commands while we go */
    set_broken(qmp, -ECANCELED, "the connection to the %s was freed", peer_name(qmp));
    g_queue_clear_full(&qmp->events, (GDestroyNotify)qv_qmp_event_free);
    out_fd *of;
    while ((of = g_queue_pop_head(&qmp->out_fds))) {
        close(of->fd);
        g_free(of);
    }
    g_byte_array_unref(qmp->out);
    json_tokener_free(qmp->tok);
    if (qmp->greeting_msg)
        json_object_put(qmp->greeting_msg);
    g_free(qmp->broken_msg);
    g_free(qmp->log_who);
    g_free(qmp->log_path);
    if (qmp->fd >= 0)
        close(qmp->fd);
    g_free(qmp);
}

void qv_qmp_set_timeout(qv_qmp *qmp, int timeout_ms)
{
    qmp->timeout_ms = timeout_ms > 0 ? timeout_ms : QV_QMP_DEFAULT_TIMEOUT_MS;
}

void qv_qmp_set_event_callback(qv_qmp *qmp, qv_qmp_event_cb cb, void *userdata)
{
    qmp->event_cb = cb;
    qmp->event_userdata = userdata;
}

int qv_qmp_get_fd(const qv_qmp *qmp)
{
    return qmp->fd;
}

short qv_qmp_get_poll_events(const qv_qmp *qmp)
{
    return (short)(POLLIN | (qmp->out->len > 0 && !qmp->broken ? POLLOUT : 0));
}

int qv_qmp_get_timeout_ms(const qv_qmp *qmp)
{
    int64_t nearest = INT64_MAX;
    for (GList *l = qmp->pending.head; l; l = l->next)
        if (!((pending *)l->data)->orphan)
            nearest = MIN(nearest, ((pending *)l->data)->deadline);
    if (nearest == INT64_MAX)
        return -1;
    int64_t left = nearest - g_get_monotonic_time();
    if (left <= 0)
        return 0;
    return (int)MIN((left + 999) / 1000, (int64_t)INT_MAX);
}

int qv_qmp_dispatch(qv_qmp *qmp, qv_error **err)
{
    if (!qmp)
        return qv_error_set(err, -EINVAL, "qv_qmp_dispatch needs a connection");
    if (qmp->broken)
        return broken_error(qmp, err);
    qmp->in_dispatch++;
    flush_output(qmp);
    read_input(qmp);
    expire(qmp);
    flush_output(qmp);
    qmp->in_dispatch--;
    return qmp->broken ? broken_error(qmp, err) : 0;
}

static int check_timeout_arg(qv_qmp *qmp, int *timeout_ms, qv_error **err)
{
    if (*timeout_ms < 0)
        return qv_error_set(err, -EINVAL, "QMP timeout %d ms is negative", *timeout_ms);
    if (*timeout_ms == 0)
        *timeout_ms = qmp->timeout_ms;
    return 0;
}

static void hs_finish(qv_qmp *qmp, json_object *ret, const qv_error *err)
{
    qv_qmp_reply_cb cb = qmp->hs_cb;
    void *ud = qmp->hs_userdata;
    qmp->hs_cb = NULL;
    qmp->hs = err ? HS_NONE : HS_DONE;
    if (err) {
        /* commands held back for the handshake would go to a monitor that
         * is not ready: fail them with the handshake's cause */
        bool again = true;
        while (again) {
            again = false;
            for (GList *l = qmp->pending.head; l; l = l->next) {
                pending *p = l->data;
                if (!p->sent && !p->internal) {
                    g_autofree char *msg = g_strdup_printf("%s '%s' not sent: %s", command_kind(qmp),
                                                           p->command, err->message);
                    fail_entry(qmp, p, err->code, msg);
                    again = true;
                    break;
                }
            }
        }
    }
    if (cb) {
        qmp->in_dispatch++;
        cb(qmp, ret, err, ud);
        qmp->in_dispatch--;
    }
    pump(qmp);
}

static void hs_caps_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    hs_finish(qmp, ret, err);
}

static void hs_sync_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    if (!err)
        qmp->agent_need_sync = false;
    else if (err->code == -ETIMEDOUT)
        qmp->agent_need_sync = true;
    hs_finish(qmp, ret, err);
}

static void queue_capabilities(qv_qmp *qmp)
{
    pending *p = new_entry(qmp, ENTRY_COMMAND, "qmp_capabilities", qmp->hs_timeout_ms);
    p->deadline = qmp->hs_deadline;
    p->internal = true;
    p->msg = json_object_new_object();
    json_object_object_add(p->msg, "execute", json_object_new_string("qmp_capabilities"));
    /* The one command with an "id": QEMU may hand a new client the reply
     * to a command its previous client sent just before it died (QMP's
     * dispatcher yields while a command runs, and the socket changes hands
     * meanwhile), which would put every later reply one step out. Replies
     * until this one's are such leftovers (handle_qmp_message). */
    p->id = g_random_int_range(1, G_MAXINT32);
    json_object_object_add(p->msg, "id", json_object_new_int64(p->id));
    p->cb = hs_caps_done;
    g_queue_push_tail(&qmp->pending, p);
    pump(qmp);
}

static void hs_greeting_done(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    if (err)
        hs_finish(qmp, NULL, err);
    else
        queue_capabilities(qmp);
}

int qv_qmp_handshake_async(qv_qmp *qmp, int timeout_ms, qv_qmp_reply_cb cb, void *userdata,
                           qv_error **err)
{
    if (!qmp)
        return qv_error_set(err, -EINVAL, "qv_qmp_handshake_async needs a connection");
    int r = check_timeout_arg(qmp, &timeout_ms, err);
    if (r < 0)
        return r;
    if (qmp->broken)
        return broken_error(qmp, err);
    if (qmp->hs == HS_RUNNING)
        return qv_error_set(err, -EBUSY, "a handshake with the %s is already running", peer_name(qmp));
    if (qmp->hs == HS_DONE && qmp->mode == QV_QMP_MODE_QMP)
        return qv_error_set(err, -EALREADY, "the QMP handshake with the %s is already done", peer_name(qmp));
    qmp->hs = HS_RUNNING;
    qmp->hs_cb = cb;
    qmp->hs_userdata = userdata;
    qmp->hs_timeout_ms = timeout_ms;
    qmp->hs_deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    if (qmp->mode == QV_QMP_MODE_AGENT) {
        pending *p = new_sync_entry(qmp, timeout_ms);
        p->cb = hs_sync_done;
        /* first in line: commands queued earlier wait for it */
        g_queue_push_head(&qmp->pending, p);
        pump(qmp);
    } else if (qmp->greeting_msg) {
        queue_capabilities(qmp);
    } else {
        pending *p = new_entry(qmp, ENTRY_GREETING, "greeting", timeout_ms);
        p->internal = true;
        p->cb = hs_greeting_done;
        g_queue_push_tail(&qmp->pending, p);
    }
    return qmp->broken ? broken_error(qmp, err) : 0;
}

int qv_qmp_send_async(qv_qmp *qmp, const char *command, json_object *args, int fd, int timeout_ms,
                      qv_qmp_reply_cb cb, void *userdata, qv_error **err)
{
    g_autoptr(json_object) owned_args = args;
    if (!qmp || !command || !*command)
        return qv_error_set(err, -EINVAL, "a QMP command needs a connection and a command name");
    if (args && !json_object_is_type(args, json_type_object))
        return qv_error_set(err, -EINVAL, "arguments of %s '%s' must be a JSON object",
                            command_kind(qmp), command);
    if (fd >= 0 && qmp->mode == QV_QMP_MODE_AGENT)
        return qv_error_set(err, -EINVAL, "the guest agent cannot receive file descriptors ('%s')",
                            command);
    int r = check_timeout_arg(qmp, &timeout_ms, err);
    if (r < 0)
        return r;
    if (qmp->broken) {
        g_autoptr(qv_error) e = NULL;
        broken_error(qmp, &e);
        return qv_error_set(err, e->code, "%s '%s' not sent: %s", command_kind(qmp), command,
                            e->message);
    }
    int dupfd = -1;
    if (fd >= 0 && (dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return qv_error_set_errno(err, -errno, "cannot duplicate fd %d for %s '%s'", fd,
                                  command_kind(qmp), command);
    pending *p = new_entry(qmp, ENTRY_COMMAND, command, timeout_ms);
    p->fd = dupfd;
    p->cb = cb;
    p->userdata = userdata;
    p->msg = json_object_new_object();
    json_object_object_add(p->msg, "execute", json_object_new_string(command));
    if (args)
        json_object_object_add(p->msg, "arguments", g_steal_pointer(&owned_args));
    g_queue_push_tail(&qmp->pending, p);
    pump(qmp);
    return 0;
}

/* --- blocking convenience ---------------------------------------------------- */

typedef struct sync_call {
    bool done;
    json_object *ret;
    qv_error *err;
} sync_call;

static void sync_call_cb(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    sync_call *sc = userdata;
    sc->done = true;
    if (err)
        qv_error_set_qmp(&sc->err, err->code, err->qmp_class, err->qmp_desc, "%s", err->message);
    else
        sc->ret = ret ? json_object_get(ret) : NULL;
}

static int refuse_nested(qv_qmp *qmp, const char *what, qv_error **err)
{
    if (qmp->in_dispatch > 0)
        return qv_error_set(err, -EDEADLK, "%s cannot run inside a QMP callback", what);
    return 0;
}

/* One poll() round on the connection, waiting at most max_ms (-1: until a
 * command deadline). */
static int poll_once(qv_qmp *qmp, int max_ms, qv_error **err)
{
    int t = qv_qmp_get_timeout_ms(qmp);
    if (max_ms >= 0 && (t < 0 || max_ms < t))
        t = max_ms;
    struct pollfd pfd = { .fd = qmp->fd, .events = qv_qmp_get_poll_events(qmp) };
    if (poll(&pfd, 1, t) < 0 && errno != EINTR)
        return qv_error_set_errno(err, -errno, "waiting for the %s failed", peer_name(qmp));
    return qv_qmp_dispatch(qmp, err);
}

static int wait_call(qv_qmp *qmp, sync_call *sc, json_object **ret, qv_error **err)
{
    while (!sc->done) {
        g_autoptr(qv_error) e = NULL;
        int r = poll_once(qmp, -1, &e);
        if (r < 0 && !sc->done) {
            /* The command's callback points at sc, on our caller's stack:
             * break the connection, which completes it, before leaving. */
            set_broken(qmp, qv_error_code(e), "%s", qv_error_message(e));
            qv_error_free(g_steal_pointer(&sc->err));
            return qv_error_propagate(err, g_steal_pointer(&e));
        }
    }
    if (sc->err)
        return qv_error_propagate(err, sc->err);
    if (ret)
        *ret = sc->ret;
    else if (sc->ret)
        json_object_put(sc->ret);
    return 0;
}

int qv_qmp_handshake(qv_qmp *qmp, int timeout_ms, qv_error **err)
{
    if (!qmp)
        return qv_error_set(err, -EINVAL, "qv_qmp_handshake needs a connection");
    int r = refuse_nested(qmp, "a blocking QMP handshake", err);
    if (r < 0)
        return r;
    sync_call sc = { 0 };
    r = qv_qmp_handshake_async(qmp, timeout_ms, sync_call_cb, &sc, err);
    if (r < 0)
        return r;
    return wait_call(qmp, &sc, NULL, err);
}

void qv_qmp_append_log_summary(GString *s, const char *command, json_object *args)
{
    g_string_append_printf(s, "'%s'", command ? command : "?");
    if (!args || !json_object_is_type(args, json_type_object) ||
        json_object_object_length(args) == 0)
        return;
    g_string_append(s, " (");
    bool first = true;
    json_object_object_foreach(args, key, val) {
        (void)val;
        g_string_append_printf(s, "%s%s", first ? "" : ", ", key);
        first = false;
    }
    g_string_append(s, ")");
}

void qv_qmp_set_log_name(qv_qmp *qmp, const char *who, const char *path)
{
    g_free(qmp->log_who);
    g_free(qmp->log_path);
    qmp->log_who = g_strdup(who);
    qmp->log_path = g_strdup(path);
}

static int call_with_fd(qv_qmp *qmp, const char *command, json_object *args, int fd,
                        int timeout_ms, json_object **ret, qv_error **err);

int qv_qmp_call_with_fd(qv_qmp *qmp, const char *command, json_object *args, int fd,
                        int timeout_ms, json_object **ret, qv_error **err)
{
    if (!qmp || !qmp->log_who || !qv_log_enabled(QV_LOG_DEBUG))
        return call_with_fd(qmp, command, args, fd, timeout_ms, ret, err);
    g_autoptr(GString) what = g_string_new(NULL);
    qv_qmp_append_log_summary(what, command, args); /* before args are consumed */
    g_autoptr(qv_error) lerr = NULL;
    gint64 t0 = g_get_monotonic_time();
    int r = call_with_fd(qmp, command, args, fd, timeout_ms, ret, &lerr);
    g_autofree char *result = r >= 0 ? g_strdup("ok")
                              : qv_error_qmp_class(lerr)
                                  ? g_strdup_printf("error %s", qv_error_qmp_class(lerr))
                                  : g_strdup_printf("failed (%s)", g_strerror(-r));
    qv_log(QV_LOG_DEBUG, "%s: qmp %s via %s: %s in %.2f ms", qmp->log_who, what->str,
           qmp->log_path, result, (double)(g_get_monotonic_time() - t0) / 1000.0);
    if (r < 0)
        return qv_error_propagate(err, g_steal_pointer(&lerr));
    return r;
}

static int call_with_fd(qv_qmp *qmp, const char *command, json_object *args, int fd,
                        int timeout_ms, json_object **ret, qv_error **err)
{
    if (ret)
        *ret = NULL;
    if (qmp) {
        int r = refuse_nested(qmp, "a blocking QMP call", err);
        if (r < 0) {
            if (args)
                json_object_put(args);
            return r;
        }
    }
    sync_call sc = { 0 };
    int r = qv_qmp_send_async(qmp, command, args, fd, timeout_ms, sync_call_cb, &sc, err);
    if (r < 0)
        return r;
    return wait_call(qmp, &sc, ret, err);
}

int qv_qmp_call(qv_qmp *qmp, const char *command, json_object *args, int timeout_ms,
                json_object **ret, qv_error **err)
{
    return qv_qmp_call_with_fd(qmp, command, args, -1, timeout_ms, ret, err);
}

int qv_qmp_call_batch(qv_qmp *qmp, qv_qmp_batch_cmd *cmds, size_t n, int timeout_ms,
                      qv_error **err)
{
    if (!qmp || (!cmds && n))
        return qv_error_set(err, -EINVAL, "a QMP batch needs a connection and its commands");
    for (size_t i = 0; i < n; i++) {
        cmds[i].result = 0;
        cmds[i].ret = NULL;
        cmds[i].err = NULL;
    }
    g_autoptr(qv_error) first = NULL;   /* why the batch stopped being sent */
    int r = refuse_nested(qmp, "a blocking QMP call", &first);
    g_autofree sync_call *sc = g_new0(sync_call, n);
    /* Each command is logged as a single call is, with the time from the
     * batch's start to its reply. */
    bool log = qmp->log_who && qv_log_enabled(QV_LOG_DEBUG);
    g_autoptr(GPtrArray) what = log ? g_ptr_array_new_with_free_func(g_free) : NULL;
    gint64 t0 = g_get_monotonic_time();
    for (size_t i = 0; i < n; i++) {
        if (log) {
            GString *w = g_string_new(NULL);
            qv_qmp_append_log_summary(w, cmds[i].command, cmds[i].args);
            g_ptr_array_add(what, g_string_free(w, FALSE));
        }
        if (r >= 0) {
            qv_error *e = NULL;
            r = qv_qmp_send_async(qmp, cmds[i].command, g_steal_pointer(&cmds[i].args), -1,
                                  timeout_ms, sync_call_cb, &sc[i], &e);
            if (r >= 0)
                continue;
            first = e;
        } else if (cmds[i].args) {
            json_object_put(g_steal_pointer(&cmds[i].args));
        }
        sc[i].done = true;
        qv_error_set(&sc[i].err, r, "%s", qv_error_message(first));
    }
    /* Every sent command completes exactly once, also when the connection
     * breaks (they then fail together), so this loop ends. */
    for (size_t i = 0; i < n; i++) {
        while (!sc[i].done) {
            g_autoptr(qv_error) e = NULL;
            /* poll() itself failing would leave callbacks pending on sc:
             * break the connection, which completes them. */
            if (poll_once(qmp, -1, &e) < 0 && !sc[i].done && !qmp->broken)
                set_broken(qmp, qv_error_code(e), "%s", qv_error_message(e));
        }
        cmds[i].ret = sc[i].ret;
        cmds[i].err = sc[i].err;
        cmds[i].result = sc[i].err ? qv_error_code(sc[i].err) : 0;
        if (log) {
            const qv_error *e = sc[i].err;
            g_autofree char *result = !e ? g_strdup("ok")
                                      : qv_error_qmp_class(e)
                                          ? g_strdup_printf("error %s", qv_error_qmp_class(e))
                                          : g_strdup_printf("failed (%s)",
                                                            g_strerror(-qv_error_code(e)));
            qv_log(QV_LOG_DEBUG, "%s: qmp %s via %s (batch of %zu): %s in %.2f ms",
                   qmp->log_who, (const char *)what->pdata[i], qmp->log_path, n, result,
                   (double)(g_get_monotonic_time() - t0) / 1000.0);
        }
    }
    if (qmp->broken)
        return broken_error(qmp, err);
    if (first)
        return qv_error_propagate(err, g_steal_pointer(&first));
    return 0;
}

void qv_qmp_batch_clear(qv_qmp_batch_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].args)
            json_object_put(g_steal_pointer(&cmds[i].args));
        if (cmds[i].ret)
            json_object_put(g_steal_pointer(&cmds[i].ret));
        qv_error_free(g_steal_pointer(&cmds[i].err));
    }
}

static qv_qmp_event *take_event(qv_qmp *qmp, const char *name)
{
    for (GList *l = qmp->events.head; l; l = l->next) {
        qv_qmp_event *ev = l->data;
        if (!name || g_strcmp0(ev->name, name) == 0) {
            g_queue_delete_link(&qmp->events, l);
            return ev;
        }
    }
    return NULL;
}

int qv_qmp_wait_event(qv_qmp *qmp, const char *name, int timeout_ms, qv_qmp_event **ret,
                      qv_error **err)
{
    if (!qmp || !ret)
        return qv_error_set(err, -EINVAL, "qv_qmp_wait_event needs a connection and a result pointer");
    *ret = NULL;
    int r = refuse_nested(qmp, "waiting for a QMP event", err);
    if (r < 0)
        return r;
    r = check_timeout_arg(qmp, &timeout_ms, err);
    if (r < 0)
        return r;
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    for (;;) {
        qv_qmp_event *ev = take_event(qmp, name);
        if (ev) {
            *ret = ev;
            return 0;
        }
        if (qmp->broken)
            return broken_error(qmp, err);
        int64_t left = deadline - g_get_monotonic_time();
        if (left <= 0)
            return qv_error_set(err, -ETIMEDOUT, "no %s%s%s event from the %s within %d ms",
                                name ? "'" : "", name ? name : "QMP", name ? "'" : "",
                                peer_name(qmp), timeout_ms);
        g_autoptr(qv_error) e = NULL;
        r = poll_once(qmp, (int)((left + 999) / 1000), &e);
        if (r < 0) {
            /* the event may have come just before the connection broke */
            ev = take_event(qmp, name);
            if (ev) {
                *ret = ev;
                return 0;
            }
            return qv_error_propagate(err, g_steal_pointer(&e));
        }
    }
}

/* --- events and state ------------------------------------------------------ */

qv_qmp_event *qv_qmp_pop_event(qv_qmp *qmp)
{
    return qmp ? g_queue_pop_head(&qmp->events) : NULL;
}

size_t qv_qmp_event_count(const qv_qmp *qmp)
{
    return qmp ? qmp->events.length : 0;
}

uint64_t qv_qmp_events_dropped(const qv_qmp *qmp)
{
    return qmp ? qmp->dropped : 0;
}

bool qv_qmp_is_broken(const qv_qmp *qmp)
{
    return !qmp || qmp->broken;
}

uint64_t qv_qmp_get_bytes_written(const qv_qmp *qmp)
{
    return qmp ? (uint64_t)qmp->out_base : 0;
}

bool qv_qmp_is_busy(const qv_qmp *qmp)
{
    if (!qmp)
        return false;
    for (GList *l = qmp->pending.head; l; l = l->next)
        if (!((pending *)l->data)->orphan)
            return true;
    return false;
}

json_object *qv_qmp_get_greeting(const qv_qmp *qmp)
{
    json_object *o;
    if (qmp && qmp->greeting_msg && json_object_object_get_ex(qmp->greeting_msg, "QMP", &o))
        return o;
    return NULL;
}
