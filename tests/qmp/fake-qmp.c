#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <json-c/json.h>

#include "fake-qmp.h"

#define STEP_TIMEOUT_MS 5000

typedef enum { STEP_SEND, STEP_EXPECT, STEP_EXPECT_FD, STEP_SYNC, STEP_SLEEP, STEP_CLOSE, STEP_CHUNK } step_kind;

typedef struct step {
    step_kind kind;
    char *command;
    char *reply;
    GBytes *bytes;
    int ms;
    size_t chunk;
} step;

struct fake_qmp {
    int fd;
    GPtrArray *steps;
    GThread *thread;
    char *failure;
    json_tokener *tok;
    GQueue inbox;          /* json_object* parsed, not yet expected */
    GQueue inbox_fds;      /* GINT_TO_POINTER(fd + 1) per message: 0 when none */
    int pending_fd;        /* received with bytes of the message being parsed */
    bool partial;          /* a message has started but not ended */
    int received_fd;
    GPtrArray *received;   /* char* */
    GMutex lock;
    size_t chunk;
    int delay_us;
};

static void step_free(gpointer data)
{
    step *s = data;
    g_free(s->command);
    g_free(s->reply);
    if (s->bytes)
        g_bytes_unref(s->bytes);
    g_free(s);
}

fake_qmp *fake_qmp_new(int *client_fd)
{
    int sv[2];
    g_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fake_qmp *f = g_new0(fake_qmp, 1);
    f->fd = sv[0];
    *client_fd = sv[1];
    f->steps = g_ptr_array_new_with_free_func(step_free);
    f->tok = json_tokener_new();
    f->pending_fd = -1;
    f->received_fd = -1;
    f->received = g_ptr_array_new_with_free_func(g_free);
    g_mutex_init(&f->lock);
    g_queue_init(&f->inbox);
    g_queue_init(&f->inbox_fds);
    return f;
}

static step *add_step(fake_qmp *f, step_kind kind)
{
    step *s = g_new0(step, 1);
    s->kind = kind;
    g_ptr_array_add(f->steps, s);
    return s;
}

void fake_qmp_send_raw(fake_qmp *f, const void *buf, size_t len)
{
    add_step(f, STEP_SEND)->bytes = g_bytes_new(buf, len);
}

void fake_qmp_send(fake_qmp *f, const char *text)
{
    fake_qmp_send_raw(f, text, strlen(text));
}

void fake_qmp_expect(fake_qmp *f, const char *command, const char *reply)
{
    step *s = add_step(f, STEP_EXPECT);
    s->command = g_strdup(command);
    s->reply = g_strdup(reply);
}

void fake_qmp_expect_fd(fake_qmp *f, const char *command, const char *reply)
{
    step *s = add_step(f, STEP_EXPECT_FD);
    s->command = g_strdup(command);
    s->reply = g_strdup(reply);
}

void fake_qmp_expect_sync(fake_qmp *f, const void *stale, size_t len)
{
    step *s = add_step(f, STEP_SYNC);
    s->command = g_strdup("guest-sync-delimited");
    s->bytes = g_bytes_new(stale, len);
}

void fake_qmp_sleep(fake_qmp *f, int ms)
{
    add_step(f, STEP_SLEEP)->ms = ms;
}

void fake_qmp_close(fake_qmp *f)
{
    add_step(f, STEP_CLOSE);
}

void fake_qmp_set_chunk(fake_qmp *f, size_t chunk, int delay_us)
{
    step *s = add_step(f, STEP_CHUNK);
    s->chunk = chunk;
    s->ms = delay_us;
}

static void fail(fake_qmp *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void fail(fake_qmp *f, const char *fmt, ...)
{
    if (f->failure)
        return;
    va_list ap;
    va_start(ap, fmt);
    f->failure = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static bool write_all(fake_qmp *f, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        size_t n = f->chunk ? MIN(f->chunk, len) : len;
        ssize_t r = send(f->fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fail(f, "fake server: send failed: %s", g_strerror(errno));
            return false;
        }
        p += r;
        len -= (size_t)r;
        if (f->chunk && f->delay_us && len > 0)
            g_usleep((gulong)f->delay_us);
    }
    return true;
}

static bool only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isspace(p[i]))
            return false;
    return true;
}

/* Parses what arrived; 0xFF bytes (the agent flush) reset the parser.
 * A descriptor arrives with the last kernel segment of a read, which is
 * where the command that carried it starts: the message still open at the
 * end of the read, or else the last one completed in it. */
static bool parse_input(fake_qmp *f, const char *buf, size_t len, int fd)
{
    GList *last_done = NULL;
    while (len > 0) {
        if ((unsigned char)*buf == 0xFF) {
            json_tokener_reset(f->tok);
            f->partial = false;
            buf++;
            len--;
            continue;
        }
        const char *ff = memchr(buf, 0xFF, len);
        size_t n = ff ? (size_t)(ff - buf) : len;
        json_object *o = json_tokener_parse_ex(f->tok, buf, (int)n);
        enum json_tokener_error e = json_tokener_get_error(f->tok);
        if (e == json_tokener_continue) {
            f->partial = f->partial || !only_space(buf, n);
            buf += n;
            len -= n;
            continue;
        }
        if (e != json_tokener_success) {
            fail(f, "fake server: client sent malformed JSON: %s", json_tokener_error_desc(e));
            if (fd >= 0)
                close(fd);
            return false;
        }
        size_t used = json_tokener_get_parse_end(f->tok);
        json_tokener_reset(f->tok);
        f->partial = false;
        g_queue_push_tail(&f->inbox, o);
        g_queue_push_tail(&f->inbox_fds, GINT_TO_POINTER(f->pending_fd + 1));
        f->pending_fd = -1;
        last_done = f->inbox_fds.tail;
        buf += used;
        len -= used;
    }
    if (fd >= 0) {
        if (f->partial || !last_done)
            f->pending_fd = fd;
        else
            last_done->data = GINT_TO_POINTER(fd + 1);
    }
    return true;
}

static json_object *next_message(fake_qmp *f, int *fd)
{
    while (g_queue_is_empty(&f->inbox)) {
        struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
        int r = poll(&pfd, 1, STEP_TIMEOUT_MS);
        if (r == 0) {
            fail(f, "fake server: no command from the client within %d ms", STEP_TIMEOUT_MS);
            return NULL;
        }
        char buf[65536];
        union {
            char b[CMSG_SPACE(sizeof(int) * 4)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                             .msg_controllen = sizeof(ctl.b) };
        ssize_t n = recvmsg(f->fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(f, "fake server: client closed the connection (%s)", n < 0 ? g_strerror(errno) : "EOF");
            return NULL;
        }
        int rfd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                if (rfd >= 0)
                    close(rfd);
                memcpy(&rfd, CMSG_DATA(c), sizeof(int));
            }
        }
        if (!parse_input(f, buf, (size_t)n, rfd))
            return NULL;
    }
    *fd = GPOINTER_TO_INT(g_queue_pop_head(&f->inbox_fds)) - 1;
    return g_queue_pop_head(&f->inbox);
}

static bool run_expect(fake_qmp *f, step *s)
{
    int fd = -1;
    json_object *req = next_message(f, &fd);
    if (!req)
        return false;
    g_mutex_lock(&f->lock);
    g_ptr_array_add(f->received, g_strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN)));
    g_mutex_unlock(&f->lock);
    json_object *exe = NULL, *id = NULL, *args = NULL;
    json_object_object_get_ex(req, "execute", &exe);
    json_object_object_get_ex(req, "id", &id);
    json_object_object_get_ex(req, "arguments", &args);
    bool ok = true;
    if (!exe || g_strcmp0(json_object_get_string(exe), s->command) != 0) {
        fail(f, "fake server: expected '%s', got %s", s->command, json_object_to_json_string(req));
        ok = false;
    } else if (s->kind == STEP_EXPECT_FD && fd < 0) {
        fail(f, "fake server: '%s' came without a file descriptor", s->command);
        ok = false;
    } else if (s->kind != STEP_EXPECT_FD && fd >= 0) {
        fail(f, "fake server: '%s' came with an unexpected file descriptor", s->command);
        ok = false;
    }
    if (fd >= 0) {
        if (f->received_fd >= 0)
            close(f->received_fd);
        f->received_fd = fd;
    }
    if (ok && s->kind == STEP_SYNC) {
        json_object *sid = NULL;
        if (!args || !json_object_object_get_ex(args, "id", &sid)) {
            fail(f, "fake server: guest-sync-delimited without an id");
            ok = false;
        } else {
            size_t len = 0;
            const void *stale = g_bytes_get_data(s->bytes, &len);
            g_autofree char *reply = g_strdup_printf("\xff{\"return\": %" G_GINT64_FORMAT "}\r\n",
                                                     json_object_get_int64(sid));
            ok = (len == 0 || write_all(f, stale, len)) && write_all(f, reply, strlen(reply));
        }
    } else if (ok && s->reply) {
        json_object *reply = json_tokener_parse(s->reply);
        g_assert(reply); /* a broken canned reply is a bug in the test */
        if (id)
            json_object_object_add(reply, "id", json_object_get(id));
        g_autofree char *text = g_strdup_printf("%s\r\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_SPACED));
        json_object_put(reply);
        ok = write_all(f, text, strlen(text));
    }
    json_object_put(req);
    return ok;
}

static gpointer run_script(gpointer data)
{
    fake_qmp *f = data;
    for (guint i = 0; i < f->steps->len && !f->failure; i++) {
        step *s = f->steps->pdata[i];
        switch (s->kind) {
        case STEP_SEND: {
            size_t len = 0;
            const void *buf = g_bytes_get_data(s->bytes, &len);
            write_all(f, buf, len);
            break;
        }
        case STEP_EXPECT:
        case STEP_EXPECT_FD:
        case STEP_SYNC:
            run_expect(f, s);
            break;
        case STEP_SLEEP:
            g_usleep((gulong)s->ms * 1000);
            break;
        case STEP_CLOSE:
            shutdown(f->fd, SHUT_RDWR);
            close(f->fd);
            f->fd = -1;
            break;
        case STEP_CHUNK:
            f->chunk = s->chunk;
            f->delay_us = s->ms;
            break;
        }
        if (f->fd < 0)
            break;
    }
    /* off script: hang up, so the client fails fast instead of waiting */
    if (f->failure && f->fd >= 0)
        shutdown(f->fd, SHUT_RDWR);
    return NULL;
}

void fake_qmp_start(fake_qmp *f)
{
    f->thread = g_thread_new("fake-qmp", run_script, f);
}

char *fake_qmp_finish(fake_qmp *f)
{
    if (f->thread) {
        g_thread_join(f->thread);
        f->thread = NULL;
    }
    return g_strdup(f->failure);
}

int fake_qmp_received_fd(fake_qmp *f)
{
    return f->received_fd;
}

size_t fake_qmp_n_received(fake_qmp *f)
{
    g_mutex_lock(&f->lock);
    size_t n = f->received->len;
    g_mutex_unlock(&f->lock);
    return n;
}

const char *fake_qmp_received(fake_qmp *f, size_t n)
{
    g_mutex_lock(&f->lock);
    const char *s = n < f->received->len ? f->received->pdata[n] : NULL;
    g_mutex_unlock(&f->lock);
    return s;
}

void fake_qmp_free(fake_qmp *f)
{
    if (!f)
        return;
    if (f->thread) {
        /* unblock a thread still waiting for input */
        if (f->fd >= 0)
            shutdown(f->fd, SHUT_RDWR);
        g_thread_join(f->thread);
    }
    if (f->fd >= 0)
        close(f->fd);
    if (f->received_fd >= 0)
        close(f->received_fd);
    if (f->pending_fd >= 0)
        close(f->pending_fd);
    json_object *o;
    while ((o = g_queue_pop_head(&f->inbox)))
        json_object_put(o);
    for (GList *l = f->inbox_fds.head; l; l = l->next)
        if (GPOINTER_TO_INT(l->data) > 0)
            close(GPOINTER_TO_INT(l->data) - 1);
    g_queue_clear(&f->inbox_fds);
    g_ptr_array_unref(f->steps);
    g_ptr_array_unref(f->received);
    json_tokener_free(f->tok);
    g_free(f->failure);
    g_mutex_clear(&f->lock);
    g_free(f);
}
