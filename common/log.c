/* The levelled log: see qv-log.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qv-log.h"

static const char *const level_names[] = { "", "debug", "info", "warning", "error" };

/* Where the environment sends the log, decided once per process. */
typedef struct log_config {
    int min_level;   /* 0: off */
    char *path;      /* NULL: stderr */
} log_config;

static log_config config;
/* Guards fd and its rotation: one thread reopens at a time. */
static GMutex file_lock;
static int file_fd = -1;

static gpointer read_env(gpointer unused)
{
    const char *debug = getenv("QVIRT_DEBUG");
    const char *file = getenv("QVIRT_LOG_FILE");
    if (file && !*file)
        file = NULL;
    if (debug && *debug) {
        char *end;
        long v = strtol(debug, &end, 10);
        /* 0, junk or out of range: off, as LIBVIRT_DEBUG ignores them. */
        config.min_level = (*end || v < QV_LOG_DEBUG || v > QV_LOG_ERROR) ? 0 : (int)v;
    } else if (file) {
        config.min_level = QV_LOG_DEBUG;
    }
    if (config.min_level && file)
        config.path = g_strdup(file);
    return NULL;
}

static const log_config *get_config(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, read_env, NULL);
    return &config;
}

bool qv_log_enabled(qv_log_level level)
{
    int min = get_config()->min_level;
    return min && (int)level >= min;
}

char *qv_log_format_line(const char *prog, qv_log_level level, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    const char *lv = (level >= QV_LOG_DEBUG && level <= QV_LOG_ERROR) ? level_names[level] : "?";
    return g_strdup_printf("%04d-%02d-%02d %02d:%02d:%02d.%03ld %s[%d]: %s: %s\n",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                           tm.tm_sec, ts.tv_nsec / 1000000, prog, (int)getpid(), lv, msg);
}

static void write_all(int fd, const char *s)
{
    ssize_t n = write(fd, s, strlen(s));
    (void)n; /* a log line that cannot be written is dropped */
}

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

/* The file's fd, reopened when another process rotated the file under us
 * and rotated here when it passed the cap. Called with file_lock held. */
static int log_file_fd(const char *path)
{
    struct stat fst, pst;
    if (file_fd >= 0 && (fstat(file_fd, &fst) < 0 || stat(path, &pst) < 0 ||
                         fst.st_ino != pst.st_ino || fst.st_dev != pst.st_dev)) {
        close(file_fd);
        file_fd = -1;
    }
    if (file_fd < 0 && (file_fd = open_log(path)) < 0) {
        /* Asked for a log but no file: say so once, then log to stderr. */
        static bool warned;
        if (!warned) {
            warned = true;
            g_autofree char *msg = g_strdup_printf("cannot open QVIRT_LOG_FILE '%s' (%s); "
                                                   "logging to stderr", path, g_strerror(errno));
            g_autofree char *line = qv_log_format_line("qvirt", QV_LOG_WARNING, msg);
            write_all(STDERR_FILENO, line);
        }
        return STDERR_FILENO;
    }
    if (fstat(file_fd, &fst) == 0 && fst.st_size > QV_LOG_FILE_MAX) {
        g_autofree char *old = g_strconcat(path, ".1", NULL);
        if (rename(path, old) == 0) {
            close(file_fd);
            if ((file_fd = open_log(path)) < 0)
                return STDERR_FILENO;
        }
    }
    return file_fd;
}

void qv_log(qv_log_level level, const char *fmt, ...)
{
    if (!qv_log_enabled(level))
        return;
    int saved = errno; /* callers log on error paths, errno still wanted */
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *line = qv_log_format_line("qvirt", level, msg);
    const char *path = get_config()->path;
    if (!path) {
        write_all(STDERR_FILENO, line);
    } else {
        g_mutex_lock(&file_lock);
        write_all(log_file_fd(path), line);
        g_mutex_unlock(&file_lock);
    }
    errno = saved;
}

void qv_log_fd(int fd, size_t truncate_above, const char *prog, qv_log_level level,
               const char *fmt, ...)
{
    int saved = errno;
    struct stat st;
    if (truncate_above && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size > truncate_above && ftruncate(fd, 0) < 0) {
        /* nothing to do: the line still goes out */
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *line = qv_log_format_line(prog, level, msg);
    write_all(fd, line);
    errno = saved;
}
