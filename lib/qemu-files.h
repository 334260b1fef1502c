/* The files QEMU uses (disk images, firmware, NVRAM, character device
 * output), opened here and handed to QEMU as fds in fdsets, and the unix
 * sockets it listens on, bound here and handed over listening: QEMU needs
 * no rights on them or on their folders (see qv_file_opener). */
#pragma once

#include <glib.h>

#include "domxml.h"
#include "internal.h"

typedef struct qv_qemu_files {
    qv_file_opener opener;
    /* A start's fds, kept until the supervisor has passed them to QEMU;
     * NULL for a hotplug, whose QMP steps own their fds. */
    GArray *fds;
} qv_qemu_files;

/* The backing chain of a qcow2 disk whose XML has no <backingStore>, read
 * from the images' headers as libvirt probes it, into the definition: QEMU
 * then gets every image of the chain as an fd instead of opening backing
 * files by name. A backing image whose header names no format is refused,
 * as libvirt refuses it; a backing that is not a local file is left to
 * QEMU. */
int qv_disk_fill_backing_chain(qv_domdef_disk *d, qv_error **err);
int qv_domdef_fill_backing_chains(qv_domdef *def, qv_error **err);

/* The first fdset id QEMU does not use yet. */
unsigned int qv_qmp_next_fdset(qv_qmp *qmp);

/* Runs cmd (args consumed), which has QEMU write a file it names by path
 * (args[key]): here the file is fd, which must be open for writing, and
 * QEMU gets it with add-fd. QEMU opens fdsets where it uses qemu_open
 * (screendump); where it uses fopen (memsave, pmemsave: via_proc) it
 * reopens its own copy through /proc/self/fd, which needs the file to be
 * QEMU's, so it is given to QEMU's user first. Either way QEMU needs no
 * rights on any folder. */
int qv_domain_qmp_write_file(qv_domain *dom, const char *cmd, json_object *args, const char *key,
                             int fd, bool via_proc, qv_error **err);

/* keep: collect the fds (a start); else each belongs to its hotplug step. */
void qv_qemu_files_init(qv_qemu_files *f, unsigned int first_fdset, bool keep);
/* Closes the fds still kept. */
void qv_qemu_files_clear(qv_qemu_files *f);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_qemu_files, qv_qemu_files_clear)
