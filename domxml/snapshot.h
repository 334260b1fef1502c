/* Snapshot XML (libvirt's docs/formatsnapshot.rst): <domainsnapshot> parsed
 * into a small model and formatted back in libvirt's element order. Pure
 * functions, like the rest of domxml/: the library decides names, times and
 * states; this layer only reads and writes the document. */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "domxml.h"
#include "qv-error.h"

/* Where a disk's (or the memory's) snapshot goes: <... snapshot='...'>. */
typedef enum qv_snap_location {
    QV_SNAP_LOC_DEFAULT = 0, /* not given */
    QV_SNAP_LOC_NO,
    QV_SNAP_LOC_INTERNAL,
    QV_SNAP_LOC_EXTERNAL,
    QV_SNAP_LOC_MANUAL,
} qv_snap_location;

const char *qv_snap_location_name(qv_snap_location l);

typedef struct qv_snapdef_disk {
    char *name;          /* <disk name=>: a target ("vda") or a source path */
    qv_snap_location snapshot;
    char *source_file;   /* external: the overlay (<source file=>) */
    char *driver_type;   /* external: <driver type=> (qcow2) */
} qv_snapdef_disk;

typedef struct qv_snapdef {
    char *name;
    char *description;
    /* Read-only fields: kept only with QV_SNAPXML_PARSE_REDEFINE (and in
     * stored metadata); a new snapshot gets them from the library. */
    char *state;                 /* running, paused, shutoff, disk-snapshot, ... */
    long long creation_time;     /* seconds since the epoch; 0: absent */
    char *parent;                /* the parent's name, NULL for a root */
    qv_snap_location memory;
    char *memory_file;           /* memory snapshot='external' file= */
    GPtrArray *disks;            /* qv_snapdef_disk */
    qv_domdef *dom;              /* the domain as it was (inactive XML); NULL: absent */
} qv_snapdef;

enum {
    /* Keep state, creationTime, parent and the domain: a redefinition or
     * stored metadata, not a request for a new snapshot. */
    QV_SNAPXML_PARSE_REDEFINE = 1 << 0,
};

enum {
    /* Same value as QV_SNAPSHOT_XML_SECURE / QV_DOMXML_FORMAT_SECURE. */
    QV_SNAPXML_FORMAT_SECURE = 1 << 0,
};

int qv_snapxml_parse(const char *xml, unsigned int flags, qv_snapdef **ret, qv_error **err);
/* g_free() the result. */
char *qv_snapxml_format(const qv_snapdef *def, unsigned int flags);
qv_snapdef *qv_snapdef_new(void);
void qv_snapdef_free(qv_snapdef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_snapdef, qv_snapdef_free)
/* Adds a disk entry (strings copied, NULL allowed); returns it. */
qv_snapdef_disk *qv_snapdef_add_disk(qv_snapdef *def, const char *name, qv_snap_location loc,
                                     const char *source_file, const char *driver_type);
qv_snapdef_disk *qv_snapdef_find_disk(const qv_snapdef *def, const char *name);
/* A snapshot name is used as a file name: no '/', not "." or "..", not
 * empty, no control characters. */
bool qv_snapshot_name_valid(const char *name);
