/* qemu-img, run as the caller (the images are the caller's files). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "qv-process.h"

/* How long one qemu-img run (create, snapshot, commit of one image) may
 * take, and its grace between SIGTERM and SIGKILL after that. */
#define QV_QEMU_IMG_TIMEOUT_MS (10 * 60 * 1000)
#define QV_QEMU_IMG_KILL_GRACE_MS 2000

int qv_qemu_img(const char *const *args, qv_error **err)
{
    const char *argv[24] = { "qemu-img" };
    size_t n = 1;
    for (; args[n - 1]; n++) {
        g_assert(n + 1 < G_N_ELEMENTS(argv));
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    qv_autoclose int out = memfd_create("qemu-img-stderr", MFD_CLOEXEC);
    if (out < 0)
        return qv_error_set_errno(err, -errno, "cannot create a buffer for qemu-img's output");
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stderr_fd = out;
    g_autoptr(qv_process) p = NULL;
    qv_error *lerr = NULL;
    int status = 0;
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    int r = qv_process_spawn(&o, &p, &lerr);
    if (r == -ENOENT) {
        qv_error_free(lerr);
        return qv_error_set(err, -ENOENT, "cannot run qemu-img (from qemu-utils): it is not "
                            "installed");
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    r = qv_process_wait(p, QV_QEMU_IMG_TIMEOUT_MS, &status, &lerr);
    if (r == -ETIMEDOUT) {
        qv_error_free(lerr);
        qv_process_terminate(p, QV_QEMU_IMG_KILL_GRACE_MS, &status, NULL);
        return qv_error_set(err, -ETIMEDOUT, "'%s' did not finish in %d s", cmdline,
                            QV_QEMU_IMG_TIMEOUT_MS / 1000);
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char msg[512] = "";
    ssize_t len = pread(out, msg, sizeof msg - 1, 0);
    msg[len > 0 ? len : 0] = '\0';
    g_strstrip(msg);
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    return qv_error_set(err, -EIO, "'%s' failed%s%s", cmdline, *msg ? ": " : "", msg);
}
