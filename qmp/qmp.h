/* QMP and guest-agent protocol client. Knows sockets and JSON, nothing of
 * domains (QEMU's tests/qtest/libqmp.c, qemu.qmp).
 *
 * - Greeting, then qmp_capabilities, then commands without an "id" (QEMU
 *   reads a monitor one byte per main-loop pass, so every byte costs).
 *   QEMU answers a monitor's commands in the order it read them, so each
 *   reply is matched to the oldest command sent; a message with "event" is
 *   never taken for a reply.
 * - Every command has a timeout (per connection default, overridable per call).
 *   A command that times out returns -ETIMEDOUT; the connection stays usable.
 *   In QMP mode the command keeps its place in the queue, without a caller,
 *   and swallows its late reply, so later replies still line up; in agent
 *   mode the next command is preceded by a fresh guest-sync-delimited, which
 *   discards the late reply. So a SIGSTOPped QEMU gives -ETIMEDOUT, never a
 *   hang, and after SIGCONT the same connection works again.
 * - Events go to a bounded queue that never blocks reading, with a callback
 *   hook and an overflow counter. When the queue is full the oldest queued
 *   event is dropped (and counted), so the newest state is kept.
 * - Non-blocking core: a pollable fd plus qv_qmp_dispatch(); blocking calls
 *   are built on top.
 * - File descriptors travel with SCM_RIGHTS (getfd, add-fd).
 * - Messages are capped (QV_QMP_MAX_MESSAGE); bytes that are not JSON give an
 *   error and mark the connection broken.
 * - The guest-agent mode speaks the guest-sync-delimited handshake and drops
 *   stale replies. The agent does not echo ids, so in agent mode commands go
 *   out strictly one at a time and replies are matched in order.
 * - Single-threaded and caller-driven: one qv_qmp is used from one thread.
 *   Callbacks run inside dispatch (or a blocking call); they may queue
 *   commands with qv_qmp_send_async() but must not run blocking calls
 *   (those return -EDEADLK there) nor free the connection.
 * - Commands queued while a handshake runs are held until it completes (and
 *   fail with its error if it fails). Without a handshake commands go out
 *   at once, so a caller may negotiate by hand. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "qv-error.h"
#include "qv-json.h"

#define QV_QMP_MAX_MESSAGE (16 * 1024 * 1024)
#define QV_QMP_DEFAULT_TIMEOUT_MS 30000
#define QV_QMP_EVENT_QUEUE_MAX 1024

typedef enum {
    QV_QMP_MODE_QMP = 0,   /* QEMU monitor: greeting + qmp_capabilities */
    QV_QMP_MODE_AGENT = 1, /* qemu-ga: guest-sync-delimited, no greeting */
} qv_qmp_mode;

typedef struct qv_qmp qv_qmp;

typedef struct qv_qmp_event {
    char *name;             /* "STOP", "SHUTDOWN", ... */
    json_object *data;      /* owned; may be NULL */
    int64_t seconds;        /* QEMU's timestamp */
    int64_t microseconds;
} qv_qmp_event;
void qv_qmp_event_free(qv_qmp_event *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_qmp_event, qv_qmp_event_free)

/* Called from dispatch for each event, before it is queued. Return true to
 * consume the event (it is then not queued). */
typedef bool (*qv_qmp_event_cb)(qv_qmp *qmp, const qv_qmp_event *ev, void *userdata);
/* Completion of an asynchronous command: exactly one of ret/err is set.
 * ret is borrowed (valid during the callback). */
typedef void (*qv_qmp_reply_cb)(qv_qmp *qmp, json_object *ret, const qv_error *err, void *userdata);

/* Wraps a connected stream socket; takes ownership of fd on success (it is
 * made non-blocking and close-on-exec; on failure the caller keeps it). No
 * I/O happens here. */
int qv_qmp_new(int fd, qv_qmp_mode mode, qv_qmp **ret, qv_error **err);
/* Connects to a unix socket path and does the handshake (blocking). */
int qv_qmp_connect_path(const char *path, qv_qmp_mode mode, int timeout_ms,
                        qv_qmp **ret, qv_error **err);
/* Closes the socket. Pending commands are completed first with -ECANCELED
 * (their callbacks run). Accepts NULL. */
void qv_qmp_free(qv_qmp *qmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_qmp, qv_qmp_free)

/* The default command timeout; <= 0 restores QV_QMP_DEFAULT_TIMEOUT_MS. */
void qv_qmp_set_timeout(qv_qmp *qmp, int timeout_ms);
void qv_qmp_set_event_callback(qv_qmp *qmp, qv_qmp_event_cb cb, void *userdata);

/* --- non-blocking core ---------------------------------------------------- */
int qv_qmp_get_fd(const qv_qmp *qmp);
/* POLLIN, plus POLLOUT while output is pending. */
short qv_qmp_get_poll_events(const qv_qmp *qmp);
/* Milliseconds until the nearest command deadline, or -1 when none. */
int qv_qmp_get_timeout_ms(const qv_qmp *qmp);
/* Reads what is available, parses, runs callbacks, writes pending output and
 * fails commands whose deadline passed. Never blocks. Returns 0, or a
 * negative errno when the connection is broken (EOF: -ECONNRESET with the
 * message "QEMU monitor closed"); all pending commands then fail at once. */
int qv_qmp_dispatch(qv_qmp *qmp, qv_error **err);
/* Starts the handshake (QMP: wait greeting, send qmp_capabilities; agent:
 * guest-sync-delimited). cb runs when it completes. timeout_ms covers the
 * whole handshake; 0: the default. Agent mode may run it again to resync. */
int qv_qmp_handshake_async(qv_qmp *qmp, int timeout_ms, qv_qmp_reply_cb cb, void *userdata,
                           qv_error **err);
/* Queues a command. args is consumed (may be NULL). fd >= 0 is sent with the
 * command via SCM_RIGHTS (for getfd / add-fd); it is duplicated, so the
 * caller keeps its own fd. timeout_ms 0: the default; negative: -EINVAL.
 * The reply callback always runs exactly once: reply, QMP error, timeout,
 * broken connection or qv_qmp_free(). */
int qv_qmp_send_async(qv_qmp *qmp, const char *command, json_object *args, int fd,
                      int timeout_ms, qv_qmp_reply_cb cb, void *userdata, qv_error **err);

/* --- blocking convenience ----------------------------------------------- */
int qv_qmp_handshake(qv_qmp *qmp, int timeout_ms, qv_error **err);
/* Runs one command. args is consumed. *ret (when ret is not NULL) receives
 * the "return" value, owned by the caller. A QMP error reply gives -EIO (or a
 * better errno where the class says so: CommandNotFound -> -ENOTSUP,
 * DeviceNotFound -> -ENODEV) with the class and desc in the qv_error. */
int qv_qmp_call(qv_qmp *qmp, const char *command, json_object *args, int timeout_ms,
                json_object **ret, qv_error **err);
int qv_qmp_call_with_fd(qv_qmp *qmp, const char *command, json_object *args, int fd,
                        int timeout_ms, json_object **ret, qv_error **err);
/* One command of a batch: command and args (consumed) in; result (0 or a
 * negative errno), ret (owned by the caller) and err (likewise) out. */
typedef struct qv_qmp_batch_cmd {
    const char *command;
    json_object *args;
    int result;
    json_object *ret;
    qv_error *err;
} qv_qmp_batch_cmd;
/* Sends the n commands at once and waits for every reply: independent
 * queries cost one round trip instead of n. Each command reports its own
 * result. Returns 0, or a negative errno (with err) when the connection
 * broke or a command could not be sent (bad arguments, a call from inside
 * a callback); the commands left unanswered then carry that error too,
 * those answered before keep their replies. */
int qv_qmp_call_batch(qv_qmp *qmp, qv_qmp_batch_cmd *cmds, size_t n, int timeout_ms,
                      qv_error **err);
/* Frees what the batch returned (ret and err of each command). */
void qv_qmp_batch_clear(qv_qmp_batch_cmd *cmds, size_t n);
/* Waits up to timeout_ms for an event (optionally by name; NULL: any),
 * dispatching. Takes it out of the queue (earlier events of other names
 * stay queued). Events consumed by the callback are not seen here.
 * -ETIMEDOUT when none came. */
int qv_qmp_wait_event(qv_qmp *qmp, const char *name, int timeout_ms, qv_qmp_event **ret,
                      qv_error **err);

/* --- events -------------------------------------------------------------- */
/* Pops the oldest queued event; NULL when empty. */
qv_qmp_event *qv_qmp_pop_event(qv_qmp *qmp);
/* Number of events currently queued. */
size_t qv_qmp_event_count(const qv_qmp *qmp);
/* Events dropped because the queue was full. */
uint64_t qv_qmp_events_dropped(const qv_qmp *qmp);
/* True once the connection is unusable (EOF, malformed input, I/O error). */
bool qv_qmp_is_broken(const qv_qmp *qmp);
/* Bytes written to the socket so far (the output stream's offset). A
 * command is never sent twice: a caller whose call failed on a broken
 * connection compares this with its value before the call; unchanged means
 * not one byte of the call reached the peer, so it may go again elsewhere,
 * otherwise the peer may have run it. (Bytes an earlier, timed-out command
 * left unwritten count too: the answer errs on the safe side.) Such a
 * command's error says "while waiting for the reply to 'X'"; one that never
 * went out says "before 'X' was sent". */
uint64_t qv_qmp_get_bytes_written(const qv_qmp *qmp);

/* The log (common/qv-log.h). What it says of a command: its name and
 * the names of its arguments, never their values, which carry secrets in
 * more commands than an allow-list would keep up with (set_password,
 * object-add of a secret, blockdev-add's password and key-secret, a
 * human-monitor-command line); the names are the QMP schema's. */
void qv_qmp_append_log_summary(GString *s, const char *command, json_object *args);
/* Logs this connection's blocking calls (qv_qmp_call, _with_fd) at debug
 * level as "<who>: qmp 'cmd' (arg names) via <path>: <result> in N ms". */
void qv_qmp_set_log_name(qv_qmp *qmp, const char *who, const char *path);
/* True while a command (or the handshake) is queued or awaiting its reply. */
bool qv_qmp_is_busy(const qv_qmp *qmp);
/* The QMP greeting ("QMP" object), borrowed; NULL before the handshake. */
json_object *qv_qmp_get_greeting(const qv_qmp *qmp);
