/* The files QEMU uses, opened by qvirt (qemu-files.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "qemu-files.h"

static int open_for_qemu(void *data, const char *path, int flags, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int acc = flags & O_ACCMODE;
        return qv_error_set_errno(err, -errno, "cannot open %s for %s", path,
                                  acc == O_RDONLY ? "reading" : acc == O_WRONLY ? "writing"
                                                                                : "reading and writing");
    }
    if (f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

void qv_qemu_files_init(qv_qemu_files *f, unsigned int first_fdset, bool keep)
{
    memset(f, 0, sizeof *f);
    f->opener.open = open_for_qemu;
    f->opener.data = f;
    f->opener.first_fdset = first_fdset;
    f->fds = keep ? g_array_new(FALSE, FALSE, sizeof(int)) : NULL;
}

void qv_qemu_files_clear(qv_qemu_files *f)
{
    if (!f->fds)
        return;
    for (guint i = 0; i < f->fds->len; i++)
        close(g_array_index(f->fds, int, i));
    g_array_free(f->fds, TRUE);
    f->fds = NULL;
}
