/* The files QEMU uses (disk images, firmware, NVRAM, character device
 * output), opened here and handed to QEMU as fds in fdsets, so QEMU needs
 * no rights on them or on their folders (see qv_file_opener). */
#pragma once

#include <glib.h>

#include "domxml.h"

typedef struct qv_qemu_files {
    qv_file_opener opener;
    /* A start's fds, kept until the supervisor has passed them to QEMU;
     * NULL for a hotplug, whose QMP steps own their fds. */
    GArray *fds;
} qv_qemu_files;

/* keep: collect the fds (a start); else each belongs to its hotplug step. */
void qv_qemu_files_init(qv_qemu_files *f, unsigned int first_fdset, bool keep);
/* Closes the fds still kept. */
void qv_qemu_files_clear(qv_qemu_files *f);
