/* The bounded whole-file read and the full write: see qv-file.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "qv-fd.h"
#include "qv-file.h"

int qv_read_file(const char *path, size_t max, char **ret, size_t *len, qv_error **err)
{
    qv_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot read %s", path);
    g_autoptr(GString) buf = g_string_sized_new(4096);
    for (;;) {
        char chunk[8192];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qv_error_set_errno(err, -errno, "cannot read %s", path);
        if (n == 0)
            break;
        if (buf->len + (size_t)n > max)
            return qv_error_set(err, -EFBIG, "%s is larger than %zu bytes", path, max);
        g_string_append_len(buf, chunk, n);
    }
    if (len)
        *len = buf->len;
    *ret = g_string_free(g_steal_pointer(&buf), FALSE);
    return 0;
}

int qv_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd w = { .fd = fd, .events = POLLOUT };
            poll(&w, 1, -1);
            continue;
        }
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
