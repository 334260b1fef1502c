/* A scripted fake QMP / guest-agent server for protocol tests.
 *
 * The script is a list of steps (send bytes, expect a command and answer it,
 * close, ...) built before fake_qmp_start(); a thread then plays it on one
 * end of a socketpair while the test drives the client on the other end.
 * Every expected command is checked by its "execute" name; the reply is a
 * JSON object text into which the request's "id" is copied, so canned
 * replies recorded from QEMU (see qemu-7.2-replies.h) can be used as they
 * are. fake_qmp_finish() says whether the script ran as written. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct fake_qmp fake_qmp;

/* *client_fd receives the client end (close-on-exec), for qv_qmp_new(). */
fake_qmp *fake_qmp_new(int *client_fd);
/* Sends bytes as they are (greeting, events, garbage). */
void fake_qmp_send(fake_qmp *f, const char *text);
void fake_qmp_send_raw(fake_qmp *f, const void *buf, size_t len);
/* Waits for the next command, checks its name, answers with reply (NULL: no
 * answer) with the request's "id" added. */
void fake_qmp_expect(fake_qmp *f, const char *command, const char *reply);
/* Like fake_qmp_expect, and the command must carry a descriptor
 * (SCM_RIGHTS); fake_qmp_received_fd() returns it afterwards. */
void fake_qmp_expect_fd(fake_qmp *f, const char *command, const char *reply);
/* Agent: expects guest-sync-delimited, sends `stale` (len bytes, may be
 * 0), then 0xFF and {"return": <the request's id>}. */
void fake_qmp_expect_sync(fake_qmp *f, const void *stale, size_t len);
void fake_qmp_sleep(fake_qmp *f, int ms);
/* Closes the server end: the client sees EOF. */
void fake_qmp_close(fake_qmp *f);
/* From the next step on, sends in pieces of `chunk` bytes with `delay_us`
 * between them (chunk 0: all at once). */
void fake_qmp_set_chunk(fake_qmp *f, size_t chunk, int delay_us);

void fake_qmp_start(fake_qmp *f);
/* Waits for the script to end. NULL when it ran as written, else what went
 * wrong first (g_free it). */
char *fake_qmp_finish(fake_qmp *f);
/* The last descriptor received, owned by the fake (closed on free), or -1. */
int fake_qmp_received_fd(fake_qmp *f);
/* Number of commands received so far, and the n-th as JSON text. */
size_t fake_qmp_n_received(fake_qmp *f);
const char *fake_qmp_received(fake_qmp *f, size_t n);
void fake_qmp_free(fake_qmp *f);
