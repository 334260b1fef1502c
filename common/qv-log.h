/* The one log of every layer (qmp/, lib/, qvirt-monitor): levelled lines
 * in one format,
 *
 *   2026-12-03 21:00:00.123 qvirt[4242]: debug: qmp 'stop' via lane: ok in 0.21 ms
 *
 * (UTC, milliseconds), each written with a single write(2) so lines from
 * several threads or processes sharing a file do not interleave.
 *
 * The library is silent unless asked. The environment, read once per
 * process (thread-safe), decides:
 *   QVIRT_DEBUG=N      log lines of level N and above (1 debug, 2 info,
 *                      3 warning, 4 error, as LIBVIRT_DEBUG); unset, empty,
 *                      0 or not a level: off
 *   QVIRT_LOG_FILE=P   to file P instead of stderr; alone, it means
 *                      QVIRT_DEBUG=1. When P passes QV_LOG_FILE_MAX it is
 *                      renamed to P.1 (one old file kept) and P begun anew.
 * There is no handler for callers to set: nothing but the environment
 * changes where the log goes. Logging never fails a call and never exits.
 *
 * The supervisor's monitor.log is always on and goes through qv_log_fd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

typedef enum qv_log_level {
    QV_LOG_DEBUG = 1,
    QV_LOG_INFO = 2,
    QV_LOG_WARNING = 3,
    QV_LOG_ERROR = 4,
} qv_log_level;

/* A log file is rotated to PATH.1 once it passes this size. */
#define QV_LOG_FILE_MAX (8 << 20)

/* Whether a line of this level would be written: lets callers skip work
 * (timing, formatting) that only the log needs. */
bool qv_log_enabled(qv_log_level level);

/* Writes one line of `level` as "qvirt" when the environment asks for it. */
void qv_log(qv_log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Always writes one line as `prog` to fd (a program's own log, such as the
 * supervisor's monitor.log on its stderr). When fd is a regular file larger
 * than truncate_above (0: never), it is cut back to nothing first. */
void qv_log_fd(int fd, size_t truncate_above, const char *prog, qv_log_level level,
               const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* The line as written, with its newline (g_free); for qv_log_fd and tests. */
char *qv_log_format_line(const char *prog, qv_log_level level, const char *msg);
