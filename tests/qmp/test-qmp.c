/* Protocol tests of the QMP client against the scripted fake server
 * (tests/qmp/fake-qmp.c) and, for exact byte splits, the internal feed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <glib.h>

#include "fake-qmp.h"
#include "qemu-7.2-replies.h"
#include "qmp-internal.h"
#include "qmp.h"

static qv_qmp *new_client(fake_qmp **fp, qv_qmp_mode mode)
{
    int fd = -1;
    *fp = fake_qmp_new(&fd);
    qv_qmp *q = NULL;
    cr_assert_eq(qv_qmp_new(fd, mode, &q, NULL), 0);
    return q;
}

static void script_handshake(fake_qmp *f)
{
    fake_qmp_send(f, QEMU72_GREETING);
    fake_qmp_expect(f, "qmp_capabilities", QEMU72_RETURN_EMPTY);
}

static void assert_script_ok(fake_qmp *f)
{
    g_autofree char *why = fake_qmp_finish(f);
    cr_assert_null(why, "%s", why);
}

static const char *status_of(json_object *ret)
{
    json_object *o = NULL;
    cr_assert(json_object_object_get_ex(ret, "status", &o));
    return json_object_get_string(o);
}

Test(qmp, handshake_and_query_status)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);

    cr_assert_null(qv_qmp_get_greeting(q));
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_handshake(q, 2000, &err), 0, "%s", qv_error_message(err));
    json_object *greeting = qv_qmp_get_greeting(q), *o;
    cr_assert_not_null(greeting);
    cr_assert(json_object_object_get_ex(greeting, "version", &o));
    cr_assert_not(qv_qmp_is_busy(q));

    g_autoptr(json_object) ret = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 2000, &ret, &err), 0);
    cr_assert_str_eq(status_of(ret), "prelaunch");
    assert_script_ok(f);
    /* the handshake first, with the one "id" (it tells a dead previous
     * client's leftover replies from its own); commands then go without
     * (QEMU answers in order, and reads a byte per main-loop pass, so
     * every byte sent costs) */
    cr_assert(g_str_has_prefix(fake_qmp_received(f, 0), "{\"execute\":\"qmp_capabilities\",\"id\":"),
              "%s", fake_qmp_received(f, 0));
    cr_assert_str_eq(fake_qmp_received(f, 1), "{\"execute\":\"query-status\"}");
    cr_assert_eq(qv_qmp_handshake(q, 1000, NULL), -EALREADY);
    fake_qmp_free(f);
}

/* QEMU can hand a new client the reply to a command its previous client
 * sent just before it died: that leftover must not be taken for the reply
 * to qmp_capabilities, or every later reply would be one step out. */
Test(qmp, leftover_reply_of_a_dead_client_is_dropped)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_send(f, QEMU72_GREETING);
    fake_qmp_send(f, "{\"return\": {}}");
    fake_qmp_expect(f, "qmp_capabilities", QEMU72_RETURN_EMPTY);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_handshake(q, 2000, &err), 0, "%s", qv_error_message(err));
    g_autoptr(json_object) ret = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 2000, &ret, &err), 0, "%s",
                 qv_error_message(err));
    cr_assert_str_eq(status_of(ret), "prelaunch");
    assert_script_ok(f);
    fake_qmp_free(f);
}

Test(qmp, arguments_are_sent_as_json)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "closefd", QEMU72_RETURN_EMPTY);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    json_object *args = json_object_new_object();
    /* quotes, commas and a newline must survive: no string formatting */
    json_object_object_add(args, "fdname", json_object_new_string("a\"b,c\nd"));
    cr_assert_eq(qv_qmp_call(q, "closefd", args, 2000, NULL, NULL), 0);
    assert_script_ok(f);
    g_autoptr(json_object) req = json_tokener_parse(fake_qmp_received(f, 1));
    json_object *a, *n;
    cr_assert(json_object_object_get_ex(req, "arguments", &a));
    cr_assert(json_object_object_get_ex(a, "fdname", &n));
    cr_assert_str_eq(json_object_get_string(n), "a\"b,c\nd");
    fake_qmp_free(f);
}

Test(qmp, replies_byte_by_byte_over_the_socket)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_set_chunk(f, 1, 200);
    script_handshake(f);
    fake_qmp_send(f, QEMU72_EVENT_RESUME);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 5000, NULL), 0);
    g_autoptr(json_object) ret = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 5000, &ret, NULL), 0);
    cr_assert_str_eq(status_of(ret), "prelaunch");
    g_autoptr(qv_qmp_event) ev = qv_qmp_pop_event(q);
    cr_assert_not_null(ev);
    cr_assert_str_eq(ev->name, "RESUME");
    assert_script_ok(f);
    fake_qmp_free(f);
}

typedef struct reply_box {
    int calls;
    json_object *ret;
    int code;
    char *message;
} reply_box;

static void box_cb(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    reply_box *b = userdata;
    b->calls++;
    cr_assert((ret == NULL) != (err == NULL), "exactly one of ret/err");
    if (ret)
        b->ret = json_object_get(ret);
    if (err) {
        b->code = qv_error_code(err);
        b->message = g_strdup(qv_error_message(err));
    }
}

static void box_clear(reply_box *b)
{
    if (b->ret)
        json_object_put(b->ret);
    g_free(b->message);
}

/* Exact splits, independent of socket timing: every byte boundary of the
 * greeting, then of an event and the reply to qmp_capabilities (which
 * echoes the id the client chose). */
Test(qmp, feed_every_split_point)
{
    const char *greeting = QEMU72_GREETING;
    size_t glen = strlen(greeting);
    for (size_t step = 1; step <= glen; step = step < 8 ? step + 1 : step * 2) {
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        g_autoptr(qv_qmp) q = NULL;
        cr_assert_eq(qv_qmp_new(sv[0], QV_QMP_MODE_QMP, &q, NULL), 0);
        reply_box hs = { 0 };
        cr_assert_eq(qv_qmp_handshake_async(q, 5000, box_cb, &hs, NULL), 0);
        for (size_t off = 0; off < glen; off += step)
            cr_assert_eq(qv_qmp_feed(q, greeting + off, MIN(step, glen - off), NULL), 0);
        cr_assert_eq(qv_qmp_dispatch(q, NULL), 0);
        char sent[256] = "";
        ssize_t n = read(sv[1], sent, sizeof sent - 1);
        cr_assert_gt(n, 0, "qmp_capabilities went out");
        g_autoptr(json_object) cmd = json_tokener_parse(sent);
        json_object *id = NULL;
        cr_assert(cmd && json_object_object_get_ex(cmd, "id", &id), "%s", sent);
        g_autofree char *stream = g_strdup_printf(QEMU72_EVENT_STOP "{\"return\": {}, \"id\": %s}\r\n",
                                                  json_object_to_json_string(id));
        size_t len = strlen(stream);
        for (size_t off = 0; off < len; off += step)
            cr_assert_eq(qv_qmp_feed(q, stream + off, MIN(step, len - off), NULL), 0);
        cr_assert_eq(hs.calls, 1, "handshake done with %zu-byte pieces", step);
        cr_assert_null(hs.message);
        cr_assert_not_null(qv_qmp_get_greeting(q));
        g_autoptr(qv_qmp_event) ev = qv_qmp_pop_event(q);
        cr_assert_not_null(ev);
        cr_assert_str_eq(ev->name, "STOP");
        cr_assert_eq(ev->seconds, 1795384881);
        cr_assert_eq(ev->microseconds, 243453);
        box_clear(&hs);
        close(sv[1]);
    }
}

Test(qmp, several_messages_in_one_read)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_start(f);
    reply_box a = { 0 }, b = { 0 };
    cr_assert_eq(qv_qmp_send_async(q, "stop", NULL, -1, 2000, box_cb, &a, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "query-status", NULL, -1, 2000, box_cb, &b, NULL), 0);
    cr_assert(qv_qmp_is_busy(q));
    /* both replies, in order, an event in between, all in one feed */
    const char *all = "{\"return\": {}}\r\n" QEMU72_EVENT_STOP
                      "{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": false}}\r\n";
    cr_assert_eq(qv_qmp_feed(q, all, strlen(all), NULL), 0);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(json_object_object_length(a.ret), 0);
    cr_assert_str_eq(status_of(b.ret), "paused");
    cr_assert_eq(qv_qmp_event_count(q), 1);
    cr_assert_not(qv_qmp_is_busy(q));
    box_clear(&a);
    box_clear(&b);
    fake_qmp_free(f);
}

Test(qmp, event_between_command_and_reply_is_not_the_reply)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "cont", NULL);
    fake_qmp_send(f, QEMU72_EVENT_RESUME);
    fake_qmp_send(f, "{\"return\": {}, \"id\": 2}\r\n");
    fake_qmp_expect(f, "quit", NULL);
    fake_qmp_send(f, QEMU72_EVENT_SHUTDOWN_QUIT);
    fake_qmp_send(f, "{\"return\": {}, \"id\": 3}\r\n");
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    cr_assert_eq(qv_qmp_call(q, "cont", NULL, 2000, NULL, NULL), 0);
    cr_assert_eq(qv_qmp_call(q, "quit", NULL, 2000, NULL, NULL), 0);
    g_autoptr(qv_qmp_event) sd = NULL;
    /* wait_event by name skips the older RESUME and leaves it queued */
    cr_assert_eq(qv_qmp_wait_event(q, "SHUTDOWN", 1000, &sd, NULL), 0);
    json_object *reason;
    cr_assert(json_object_object_get_ex(sd->data, "reason", &reason));
    cr_assert_str_eq(json_object_get_string(reason), "host-qmp-quit");
    g_autoptr(qv_qmp_event) resume = qv_qmp_pop_event(q);
    cr_assert_str_eq(resume->name, "RESUME");
    cr_assert_null(resume->data);
    cr_assert_null(qv_qmp_pop_event(q));
    g_autoptr(qv_error) err = NULL;
    g_autoptr(qv_qmp_event) none = NULL;
    cr_assert_eq(qv_qmp_wait_event(q, "STOP", 100, &none, &err), -ETIMEDOUT);
    cr_assert_str_eq(qv_error_message(err), "no 'STOP' event from the QEMU monitor within 100 ms");
    assert_script_ok(f);
    fake_qmp_free(f);
}

Test(qmp, event_queue_overflow_drops_oldest_and_counts)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    const int extra = 7;
    for (int i = 0; i < QV_QMP_EVENT_QUEUE_MAX + extra; i++) {
        g_autofree char *ev = g_strdup_printf(
            "{\"timestamp\": {\"seconds\": %d, \"microseconds\": 0}, \"event\": \"BLOCK_JOB_READY\"}\r\n", i);
        cr_assert_eq(qv_qmp_feed(q, ev, strlen(ev), NULL), 0);
    }
    cr_assert_eq(qv_qmp_event_count(q), QV_QMP_EVENT_QUEUE_MAX);
    cr_assert_eq(qv_qmp_events_dropped(q), (uint64_t)extra);
    g_autoptr(qv_qmp_event) first = qv_qmp_pop_event(q);
    cr_assert_eq(first->seconds, extra, "the oldest events were dropped");
    cr_assert_not(qv_qmp_is_broken(q));
    fake_qmp_free(f);
}

static bool consume_stop(qv_qmp *qmp, const qv_qmp_event *ev, void *userdata)
{
    int *seen = userdata;
    (*seen)++;
    return strcmp(ev->name, "STOP") == 0;
}

Test(qmp, event_callback_can_consume)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    int seen = 0;
    qv_qmp_set_event_callback(q, consume_stop, &seen);
    const char *s = QEMU72_EVENT_STOP QEMU72_EVENT_RESUME;
    cr_assert_eq(qv_qmp_feed(q, s, strlen(s), NULL), 0);
    cr_assert_eq(seen, 2);
    cr_assert_eq(qv_qmp_event_count(q), 1);
    g_autoptr(qv_qmp_event) ev = qv_qmp_pop_event(q);
    cr_assert_str_eq(ev->name, "RESUME");
    fake_qmp_free(f);
}

Test(qmp, message_over_the_cap_breaks_the_connection)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "query-qmp-schema", NULL);
    /* a 17 MiB string, never finished: must not be buffered without bound */
    size_t big = QV_QMP_MAX_MESSAGE + 1024 * 1024;
    g_autofree char *huge = g_malloc(big);
    memset(huge, 'a', big);
    memcpy(huge, "{\"return\": \"", 12);
    fake_qmp_send_raw(f, huge, big);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-qmp-schema", NULL, 20000, NULL, &err), -EMSGSIZE);
    cr_assert(strstr(qv_error_message(err), "larger than 16777216 bytes"), "%s", qv_error_message(err));
    cr_assert(qv_qmp_is_broken(q));
    fake_qmp_free(f);
}

Test(qmp, lowered_cap_for_a_complete_message)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    qv_qmp_set_max_message(q, 100);
    const char *ok = QEMU72_EVENT_STOP;
    cr_assert_eq(qv_qmp_feed(q, ok, strlen(ok), NULL), 0);
    g_autoptr(qv_error) err = NULL;
    const char *big = QEMU72_EVENT_SHUTDOWN_QUIT;
    cr_assert_eq(qv_qmp_feed(q, big, strlen(big), &err), -EMSGSIZE);
    cr_assert_str_eq(qv_error_message(err), "QEMU monitor sent a message larger than 100 bytes");
    cr_assert_eq(qv_qmp_event_count(q), 1);
    fake_qmp_free(f);
}

Test(qmp, malformed_input_fails_pending_at_once)
{
    const char *bad[] = { "hello\r\n", "{\"return\": }\r\n", "[1, 2]\r\n", "{\"return\" {}}\r\n",
                          "\xff\xfe\r\n", "}{\"return\": {}}\r\n" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        fake_qmp *f;
        g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
        fake_qmp_expect(f, "query-status", NULL);
        fake_qmp_send(f, bad[i]);
        fake_qmp_start(f);
        g_autoptr(qv_error) err = NULL;
        gint64 t0 = g_get_monotonic_time();
        int r = qv_qmp_call(q, "query-status", NULL, 10000, NULL, &err);
        cr_assert_eq(r, -EPROTO, "input %zu: %d %s", i, r, qv_error_message(err));
        cr_assert_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC, "failed at once, not by timeout");
        cr_assert(g_str_has_prefix(qv_error_message(err), "QEMU monitor sent"), "%s", qv_error_message(err));
        cr_assert(qv_qmp_is_broken(q));
        g_autoptr(qv_error) err2 = NULL;
        cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 1000, NULL, &err2), -EPROTO);
        cr_assert(strstr(qv_error_message(err2), "not sent"), "%s", qv_error_message(err2));
        fake_qmp_free(f);
    }
}

Test(qmp, eof_mid_reply)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "query-name", NULL);
    fake_qmp_expect(f, "query-status", NULL);
    fake_qmp_send(f, "{\"return\": {\"status\": \"runn");
    fake_qmp_close(f);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    reply_box other = { 0 };
    cr_assert_eq(qv_qmp_send_async(q, "query-name", NULL, -1, 30000, box_cb, &other, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    gint64 t0 = g_get_monotonic_time();
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 30000, NULL, &err), -ECONNRESET);
    cr_assert_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
    cr_assert_str_eq(qv_error_message(err),
                     "QEMU monitor closed in the middle of a message while waiting for the reply to 'query-status'");
    /* the other pending command failed at the same moment */
    cr_assert_eq(other.calls, 1);
    cr_assert_eq(other.code, -ECONNRESET);
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_eq(qv_qmp_dispatch(q, &err2), -ECONNRESET);
    cr_assert(g_str_has_prefix(qv_error_message(err2), "QEMU monitor closed"));
    box_clear(&other);
    fake_qmp_free(f);
}

Test(qmp, eof_before_greeting)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_close(f);
    fake_qmp_start(f);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_handshake(q, 5000, &err), -ECONNRESET);
    cr_assert_str_eq(qv_error_message(err), "QEMU monitor closed during the handshake");
    fake_qmp_free(f);
}

Test(qmp, timeout_then_late_reply_is_dropped)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "query-status", NULL); /* no answer in time */
    fake_qmp_sleep(f, 400);
    fake_qmp_send(f, "{\"return\": {\"status\": \"late\", \"singlestep\": false, \"running\": false}}\r\n");
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    gint64 t0 = g_get_monotonic_time();
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 150, NULL, &err), -ETIMEDOUT);
    gint64 took = g_get_monotonic_time() - t0;
    cr_assert(took >= 140 * 1000 && took < 2 * G_USEC_PER_SEC, "took %" G_GINT64_FORMAT " us", took);
    cr_assert_str_eq(qv_error_message(err), "QEMU command 'query-status' got no reply within 150 ms");
    cr_assert_not(qv_qmp_is_broken(q));
    g_usleep(500 * 1000); /* the late reply is now in the socket */
    g_autoptr(json_object) ret = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 2000, &ret, NULL), 0);
    cr_assert_str_eq(status_of(ret), "prelaunch");
    assert_script_ok(f);
    fake_qmp_free(f);
}

Test(qmp, default_timeout_and_greeting_timeout)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_start(f);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_handshake(q, 100, &err), -ETIMEDOUT);
    cr_assert_str_eq(qv_error_message(err), "QEMU monitor sent no greeting within 100 ms");
    qv_qmp_set_timeout(q, 120);
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, 0, NULL, &err2), -ETIMEDOUT);
    cr_assert_str_eq(qv_error_message(err2), "QEMU command 'query-status' got no reply within 120 ms");
    cr_assert_eq(qv_qmp_call(q, "query-status", NULL, -5, NULL, NULL), -EINVAL);
    fake_qmp_free(f);
}

Test(qmp, error_replies_carry_class_and_desc)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "no-such-cmd", QEMU72_ERROR_COMMAND_NOT_FOUND);
    fake_qmp_expect(f, "closefd", QEMU72_ERROR_CLOSEFD_NOPE);
    fake_qmp_expect(f, "device_del", QEMU72_ERROR_DEVICE_NOT_FOUND);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);

    g_autoptr(qv_error) e1 = NULL, e2 = NULL, e3 = NULL;
    cr_assert_eq(qv_qmp_call(q, "no-such-cmd", NULL, 2000, NULL, &e1), -ENOTSUP);
    cr_assert_str_eq(qv_error_qmp_class(e1), "CommandNotFound");
    cr_assert_str_eq(qv_error_qmp_desc(e1), "The command no-such-cmd has not been found");
    cr_assert_str_eq(qv_error_message(e1),
                     "QEMU command 'no-such-cmd' failed: The command no-such-cmd has not been found");

    json_object *a = json_object_new_object();
    json_object_object_add(a, "fdname", json_object_new_string("nope"));
    cr_assert_eq(qv_qmp_call(q, "closefd", a, 2000, NULL, &e2), -EIO);
    cr_assert_str_eq(qv_error_qmp_class(e2), "GenericError");
    cr_assert_str_eq(qv_error_message(e2), "QEMU command 'closefd' failed: File descriptor named 'nope' not found");

    a = json_object_new_object();
    json_object_object_add(a, "id", json_object_new_string("nope"));
    cr_assert_eq(qv_qmp_call(q, "device_del", a, 2000, NULL, &e3), -ENODEV);
    cr_assert_str_eq(qv_error_qmp_class(e3), "DeviceNotFound");
    cr_assert_not(qv_qmp_is_broken(q));
    assert_script_ok(f);
    fake_qmp_free(f);
}

Test(qmp, fd_passing_with_scm_rights)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_expect_fd(f, "getfd", QEMU72_RETURN_EMPTY);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    /* three commands queued at once: the descriptor rides with the middle
     * one only (the fake checks each command's descriptors) */
    reply_box a = { 0 }, b = { 0 }, c = { 0 };
    json_object *args = json_object_new_object();
    json_object_object_add(args, "fdname", json_object_new_string("pipe0"));
    cr_assert_eq(qv_qmp_send_async(q, "query-status", NULL, -1, 2000, box_cb, &a, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "getfd", args, p[1], 2000, box_cb, &b, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "query-status", NULL, -1, 2000, box_cb, &c, NULL), 0);
    close(p[1]); /* the client holds its own duplicate */
    while (!c.calls) {
        struct pollfd pfd = { qv_qmp_get_fd(q), qv_qmp_get_poll_events(q), 0 };
        poll(&pfd, 1, qv_qmp_get_timeout_ms(q));
        if (qv_qmp_dispatch(q, NULL) < 0)
            break;
    }
    assert_script_ok(f);
    cr_assert_null(b.message, "%s", b.message);
    int got = fake_qmp_received_fd(f);
    cr_assert_geq(got, 0);
    cr_assert_eq(write(got, "x", 1), 1);
    char ch = 0;
    cr_assert_eq(read(p[0], &ch, 1), 1);
    cr_assert_eq(ch, 'x', "the fake received our pipe");
    close(p[0]);
    box_clear(&a);
    box_clear(&b);
    box_clear(&c);
    fake_qmp_free(f);
}

Test(qmp, commands_wait_for_the_handshake)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_sleep(f, 100);
    script_handshake(f);
    fake_qmp_expect(f, "query-status", QEMU72_QUERY_STATUS_PRELAUNCH);
    fake_qmp_start(f);
    reply_box hs = { 0 }, st = { 0 };
    cr_assert_eq(qv_qmp_handshake_async(q, 2000, box_cb, &hs, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "query-status", NULL, -1, 2000, box_cb, &st, NULL), 0);
    cr_assert_eq(qv_qmp_get_poll_events(q) & POLLOUT, 0, "nothing to write before the greeting");
    cr_assert(qv_qmp_get_timeout_ms(q) > 0 && qv_qmp_get_timeout_ms(q) <= 2000);
    while (!st.calls) {
        struct pollfd pfd = { qv_qmp_get_fd(q), qv_qmp_get_poll_events(q), 0 };
        poll(&pfd, 1, qv_qmp_get_timeout_ms(q));
        cr_assert_eq(qv_qmp_dispatch(q, NULL), 0);
    }
    cr_assert_eq(hs.calls, 1);
    cr_assert_str_eq(status_of(st.ret), "prelaunch");
    cr_assert_eq(qv_qmp_get_timeout_ms(q), -1);
    assert_script_ok(f);
    box_clear(&hs);
    box_clear(&st);
    fake_qmp_free(f);
}

static void nested_call_cb(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata)
{
    int *r = userdata;
    *r = qv_qmp_call(qmp, "query-status", NULL, 100, NULL, NULL);
}

Test(qmp, blocking_call_inside_a_callback_is_refused)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    int r = 1;
    cr_assert_eq(qv_qmp_send_async(q, "stop", NULL, -1, 2000, nested_call_cb, &r, NULL), 0);
    const char *rep = "{\"return\": {}, \"id\": 1}\r\n";
    cr_assert_eq(qv_qmp_feed(q, rep, strlen(rep), NULL), 0);
    cr_assert_eq(r, -EDEADLK);
    fake_qmp_free(f);
}

Test(qmp, large_command_is_written_in_pieces)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    fake_qmp_expect(f, "human-monitor-command", "{\"return\": \"\"}");
    fake_qmp_start(f);
    /* far more than a socket buffer: the output must wait for POLLOUT */
    size_t n = 4 * 1024 * 1024;
    g_autofree char *big = g_malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    json_object *args = json_object_new_object();
    json_object_object_add(args, "command-line", json_object_new_string(big));
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(q, "human-monitor-command", args, 10000, NULL, &err), 0, "%s",
                 qv_error_message(err));
    assert_script_ok(f);
    cr_assert_gt(strlen(fake_qmp_received(f, 0)), n);
    fake_qmp_free(f);
}

Test(qmp, free_cancels_pending)
{
    fake_qmp *f;
    qv_qmp *q = new_client(&f, QV_QMP_MODE_QMP);
    reply_box b = { 0 };
    cr_assert_eq(qv_qmp_send_async(q, "stop", NULL, -1, 2000, box_cb, &b, NULL), 0);
    qv_qmp_free(q);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.code, -ECANCELED);
    box_clear(&b);
    qv_qmp_free(NULL);
    fake_qmp_free(f);
}

/* A command is never sent twice: when the connection breaks, the caller
 * learns whether any byte of its command went out (QEMU may have run it)
 * or none did (another path may send it). */
Test(qmp, break_after_the_command_was_written)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_expect(f, "device_add", NULL); /* received, then the peer goes */
    fake_qmp_close(f);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    uint64_t before = qv_qmp_get_bytes_written(q);
    g_autoptr(qv_error) err = NULL;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "driver", json_object_new_string("virtio-rng-pci"));
    cr_assert_eq(qv_qmp_call(q, "device_add", args, 5000, NULL, &err), -ECONNRESET);
    cr_assert_str_eq(qv_error_message(err),
                     "QEMU monitor closed while waiting for the reply to 'device_add'");
    cr_assert_gt(qv_qmp_get_bytes_written(q), before, "the command went out");
    assert_script_ok(f);
    cr_assert_eq(fake_qmp_n_received(f), 2);
    fake_qmp_free(f);
}

Test(qmp, break_before_the_command_was_written)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_QMP);
    script_handshake(f);
    fake_qmp_close(f);
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    assert_script_ok(f); /* the peer is gone before the command */
    uint64_t before = qv_qmp_get_bytes_written(q);
    cr_assert_gt(before, 0, "qmp_capabilities went out");
    g_autoptr(qv_error) err = NULL;
    int r = qv_qmp_call(q, "device_add", NULL, 5000, NULL, &err);
    cr_assert_lt(r, 0);
    cr_assert(qv_qmp_is_broken(q));
    cr_assert(g_str_has_suffix(qv_error_message(err), "before 'device_add' was sent"), "%s",
              qv_error_message(err));
    cr_assert_eq(qv_qmp_get_bytes_written(q), before, "not one byte of it went out");
    /* and on the connection known to be broken, likewise nothing goes */
    g_autoptr(qv_error) err2 = NULL;
    cr_assert_lt(qv_qmp_call(q, "device_add", NULL, 5000, NULL, &err2), 0);
    cr_assert(strstr(qv_error_message(err2), "not sent"), "%s", qv_error_message(err2));
    cr_assert_eq(qv_qmp_get_bytes_written(q), before);
    fake_qmp_free(f);
}

/* --- guest agent ----------------------------------------------------------- */

Test(agent, handshake_skips_garbage_and_stale_replies)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_AGENT);
    /* garbage, an old reply, then a stale sync answer behind its own 0xFF */
    static const char stale[] = "\x01\x02 not json {\"return\": {\"old\": 1}}\r\n\xff{\"return\": 7}\r\n";
    fake_qmp_expect_sync(f, stale, sizeof(stale) - 1);
    fake_qmp_expect(f, "guest-ping", QEMU72_RETURN_EMPTY);
    fake_qmp_expect(f, "guest-get-time", "{\"return\": 1700000000000000000}");
    fake_qmp_start(f);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_handshake(q, 2000, &err), 0, "%s", qv_error_message(err));
    cr_assert_null(qv_qmp_get_greeting(q));
    cr_assert_eq(qv_qmp_call(q, "guest-ping", NULL, 2000, NULL, NULL), 0);
    g_autoptr(json_object) t = NULL;
    cr_assert_eq(qv_qmp_call(q, "guest-get-time", NULL, 2000, &t, NULL), 0);
    cr_assert_eq(json_object_get_int64(t), 1700000000000000000LL);
    assert_script_ok(f);
    /* the agent does not echo ids, so none are sent */
    cr_assert_null(strstr(fake_qmp_received(f, 1), "\"id\""));
    cr_assert_eq(qv_qmp_call_with_fd(q, "guest-ping", NULL, 0, 1000, NULL, NULL), -EINVAL);
    fake_qmp_free(f);
}

Test(agent, commands_go_one_at_a_time)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_AGENT);
    fake_qmp_expect_sync(f, NULL, 0);
    fake_qmp_expect(f, "guest-info", "{\"return\": {\"version\": \"7.2.0\"}}");
    fake_qmp_expect(f, "guest-ping", QEMU72_RETURN_EMPTY);
    fake_qmp_start(f);
    reply_box hs = { 0 }, a = { 0 }, b = { 0 };
    cr_assert_eq(qv_qmp_handshake_async(q, 2000, box_cb, &hs, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "guest-info", NULL, -1, 2000, box_cb, &a, NULL), 0);
    cr_assert_eq(qv_qmp_send_async(q, "guest-ping", NULL, -1, 2000, box_cb, &b, NULL), 0);
    while (!b.calls) {
        struct pollfd pfd = { qv_qmp_get_fd(q), qv_qmp_get_poll_events(q), 0 };
        poll(&pfd, 1, qv_qmp_get_timeout_ms(q));
        cr_assert_eq(qv_qmp_dispatch(q, NULL), 0);
    }
    cr_assert_null(hs.message);
    json_object *v;
    cr_assert(json_object_object_get_ex(a.ret, "version", &v));
    cr_assert_eq(json_object_object_length(b.ret), 0);
    assert_script_ok(f);
    box_clear(&hs);
    box_clear(&a);
    box_clear(&b);
    fake_qmp_free(f);
}

Test(agent, timeout_resyncs_before_next_command)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_AGENT);
    fake_qmp_expect_sync(f, NULL, 0);
    fake_qmp_expect(f, "guest-get-time", NULL); /* answered too late */
    static const char late[] = "{\"return\": 42}\r\n";
    fake_qmp_expect_sync(f, late, sizeof(late) - 1);
    fake_qmp_expect(f, "guest-get-time", "{\"return\": 43}");
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(q, "guest-get-time", NULL, 100, NULL, &err), -ETIMEDOUT);
    cr_assert_str_eq(qv_error_message(err), "guest agent command 'guest-get-time' got no reply within 100 ms");
    g_autoptr(json_object) t = NULL;
    cr_assert_eq(qv_qmp_call(q, "guest-get-time", NULL, 2000, &t, NULL), 0);
    cr_assert_eq(json_object_get_int(t), 43, "the late reply was not taken for this one");
    assert_script_ok(f);
    fake_qmp_free(f);
}

Test(agent, error_reply)
{
    fake_qmp *f;
    g_autoptr(qv_qmp) q = new_client(&f, QV_QMP_MODE_AGENT);
    fake_qmp_expect_sync(f, NULL, 0);
    fake_qmp_expect(f, "guest-fsfreeze-freeze",
                    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Command guest-fsfreeze-freeze has been disabled\"}}");
    fake_qmp_start(f);
    cr_assert_eq(qv_qmp_handshake(q, 2000, NULL), 0);
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qmp_call(q, "guest-fsfreeze-freeze", NULL, 2000, NULL, &err), -EIO);
    cr_assert_str_eq(qv_error_message(err),
                     "guest agent command 'guest-fsfreeze-freeze' failed: Command guest-fsfreeze-freeze has been disabled");
    assert_script_ok(f);
    fake_qmp_free(f);
}
