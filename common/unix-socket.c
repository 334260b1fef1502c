#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qv-socket.h"

static int fill_addr(struct sockaddr_un *sa, const char *path, qv_error **err)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return qv_error_set(err, -ENAMETOOLONG,
                            "the socket path %s is longer than the %zu bytes a unix socket "
                            "allows; use a shorter connection root", path,
                            sizeof sa->sun_path - 1);
    strcpy(sa->sun_path, path);
    return 0;
}

int qv_unix_listen(const char *path, qv_error **err)
{
    struct sockaddr_un sa;
    int r = fill_addr(&sa, path, err);
    if (r < 0)
        return r;
    /* A stale socket goes; anything else at path stays (and bind fails). */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot listen on %s", path);
    }
    return fd;
}

int qv_unix_connect(const char *path, qv_error **err)
{
    struct sockaddr_un sa;
    int r = fill_addr(&sa, path, err);
    if (r < 0)
        return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create a socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return qv_error_set_errno(err, e, "cannot connect to %s", path);
    }
    return fd;
}
