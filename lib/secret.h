/* Secrets of disk <auth> and LUKS <encryption>: qvirt keeps no secrets of
 * its own and reads libvirt's secret store on the host, as libvirt users
 * fill it (virsh secret-define, secret-set-value): /etc/libvirt/secrets/
 * UUID.xml (the usage) and UUID.base64 (the value). A value reaches QEMU
 * only as a file it reads: a sealed memfd QEMU inherits, named
 * /proc/self/fd/N on its command line; never in argv or a log. */
#pragma once

#include "qemu-files.h"

typedef struct qv_secret_source {
    const char *dir;          /* NULL: /etc/libvirt/secrets */
    qv_qemu_files *files;     /* the start's fds: the memfd joins them */
} qv_secret_source;

/* qv_build_ctx.secret_file; data is a qv_secret_source. */
char *qv_secret_file(void *data, const char *usage_type, const char *usage, const char *uuid,
                     qv_error **err);

/* The value (base64, as stored) of the secret with uuid, or of usage type
 * and name; g_free() it. NULL with *err naming the secret. */
char *qv_secret_lookup(const char *dir, const char *usage_type, const char *usage,
                       const char *uuid, qv_error **err);

/* A sealed memfd (close-on-exec) holding the value of the secret with uuid
 * itself, decoded from the store's base64, for a program that reads a
 * passphrase from an fd (swtpm's pwdfd=, swtpm_setup's --pwdfile-fd); one
 * per reader, as each read moves the offset. -errno with *err naming the
 * secret. */
int qv_secret_value_fd(const char *dir, const char *usage_type, const char *uuid, qv_error **err);

/* qv_build_ctx.secret_file for domxml-to-argv: reads nothing; the file is
 * /proc/self/fd/N, N from *data (an int counter, the placeholder opener's). */
char *qv_secret_file_placeholder(void *data, const char *usage_type, const char *usage,
                                 const char *uuid, qv_error **err);
