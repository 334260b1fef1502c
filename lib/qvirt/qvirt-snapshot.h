/* Snapshots (Sys::Virt::Domain's snapshot methods and
 * Sys::Virt::DomainSnapshot): create, list, look up, revert to and delete
 * snapshots of a domain. Defined in lib/snapshot.c.
 *
 * Internal snapshots live in the domain's qcow2 images (QEMU's
 * snapshot-save/-load/-delete jobs on a running domain, qemu-img when it is
 * shut off); external snapshots put a new qcow2 overlay on each disk, and
 * with <memory snapshot='external' file='...'/> write the memory to that
 * file as a save image (qvirt-save.h's format). Each snapshot's metadata is one file next to the domain's config
 * (<config>/snapshot/NAME/SNAP.xml, libvirt's layout), so every process of
 * the connection sees the same snapshots. */
#pragma once

#include <qvirt/qvirt.h>

typedef struct qv_snapshot qv_snapshot;

/* virDomainSnapshotCreateFlags */
enum {
    QV_DOMAIN_SNAPSHOT_CREATE_REDEFINE = 1 << 0,
    QV_DOMAIN_SNAPSHOT_CREATE_CURRENT = 1 << 1,
    QV_DOMAIN_SNAPSHOT_CREATE_NO_METADATA = 1 << 2,
    QV_DOMAIN_SNAPSHOT_CREATE_HALT = 1 << 3,
    QV_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY = 1 << 4,
    QV_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT = 1 << 5,
    QV_DOMAIN_SNAPSHOT_CREATE_QUIESCE = 1 << 6,
    QV_DOMAIN_SNAPSHOT_CREATE_ATOMIC = 1 << 7,
    QV_DOMAIN_SNAPSHOT_CREATE_LIVE = 1 << 8,
    QV_DOMAIN_SNAPSHOT_CREATE_VALIDATE = 1 << 9,
};

/* virDomainSnapshotListFlags (ROOTS and DESCENDANTS share a value: ROOTS
 * for a domain's list, DESCENDANTS for a snapshot's children). */
enum {
    QV_DOMAIN_SNAPSHOT_LIST_ROOTS = 1 << 0,
    QV_DOMAIN_SNAPSHOT_LIST_DESCENDANTS = 1 << 0,
    QV_DOMAIN_SNAPSHOT_LIST_METADATA = 1 << 1,
    QV_DOMAIN_SNAPSHOT_LIST_LEAVES = 1 << 2,
    QV_DOMAIN_SNAPSHOT_LIST_NO_LEAVES = 1 << 3,
    QV_DOMAIN_SNAPSHOT_LIST_NO_METADATA = 1 << 4,
    QV_DOMAIN_SNAPSHOT_LIST_INACTIVE = 1 << 5,
    QV_DOMAIN_SNAPSHOT_LIST_ACTIVE = 1 << 6,
    QV_DOMAIN_SNAPSHOT_LIST_DISK_ONLY = 1 << 7,
    QV_DOMAIN_SNAPSHOT_LIST_INTERNAL = 1 << 8,
    QV_DOMAIN_SNAPSHOT_LIST_EXTERNAL = 1 << 9,
    QV_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL = 1 << 10,
};

/* virDomainSnapshotRevertFlags */
enum {
    QV_DOMAIN_SNAPSHOT_REVERT_RUNNING = 1 << 0,
    QV_DOMAIN_SNAPSHOT_REVERT_PAUSED = 1 << 1,
    QV_DOMAIN_SNAPSHOT_REVERT_FORCE = 1 << 2,
    QV_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM = 1 << 3,
};

/* virDomainSnapshotDeleteFlags */
enum {
    QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN = 1 << 0,
    QV_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY = 1 << 1,
    QV_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY = 1 << 2,
};

/* virDomainSnapshotXMLFlags */
enum { QV_DOMAIN_SNAPSHOT_XML_SECURE = 1 << 0 };

/* ---- the domain's side (Sys::Virt::Domain) -------------------------------- */

/* create_snapshot($xml, $flags). xml may be NULL or "<domainsnapshot/>":
 * a snapshot named after the current time. Internal (memory and disks) by
 * default; DISK_ONLY makes external qcow2 overlays. *ret (may be NULL)
 * receives the snapshot's handle. An external memory file (running or
 * paused domain) is written as libvirt does: the CPUs stop (LIVE: they run
 * while QEMU writes and stop at its end), the memory goes to the file as a
 * save image, the disks get overlays, and the CPUs run again unless HALT.
 * It runs as a job (qvirt-job.h: another process sees and may abort it);
 * a failure leaves the domain running as before, without overlays or the
 * memory file. Create, revert and delete of a running domain are refused
 * (-EBUSY) while one of its disks has a block job (qvirt-blockjob.h), as
 * libvirt refuses them. */
QV_PUBLIC int qv_domain_create_snapshot(qv_domain *dom, const char *xml, unsigned int flags,
                                        qv_snapshot **ret, qv_error **err);
/* num_of_snapshots($flags): the count of snapshots passing the LIST filters. */
QV_PUBLIC int qv_domain_num_of_snapshots(qv_domain *dom, unsigned int flags, qv_error **err);
/* list_snapshot_names($maxnames, $flags): *names receives a NULL-terminated
 * array of at most maxnames names (free with qv_snapshot_names_free);
 * returns the count. */
QV_PUBLIC int qv_domain_list_snapshot_names(qv_domain *dom, int maxnames, unsigned int flags,
                                            char ***names, qv_error **err);
/* list_snapshots($flags) and list_all_snapshots($flags): *ret receives a
 * NULL-terminated array of handles (free with qv_snapshot_list_free);
 * returns the count. */
QV_PUBLIC int qv_domain_list_snapshots(qv_domain *dom, unsigned int flags, qv_snapshot ***ret,
                                       qv_error **err);
QV_PUBLIC int qv_domain_list_all_snapshots(qv_domain *dom, unsigned int flags, qv_snapshot ***ret,
                                           qv_error **err);
/* get_snapshot_by_name($name): -ENOENT when there is none. */
QV_PUBLIC int qv_domain_get_snapshot_by_name(qv_domain *dom, const char *name, unsigned int flags,
                                             qv_snapshot **ret, qv_error **err);
/* has_current_snapshot($flags): 1 or 0. */
QV_PUBLIC int qv_domain_has_current_snapshot(qv_domain *dom, unsigned int flags, qv_error **err);
/* current_snapshot($flags): -ENOENT when there is no current snapshot. */
QV_PUBLIC int qv_domain_current_snapshot(qv_domain *dom, unsigned int flags, qv_snapshot **ret,
                                         qv_error **err);

/* ---- the snapshot's side (Sys::Virt::DomainSnapshot) ---------------------- */

QV_PUBLIC const char *qv_snapshot_get_name(const qv_snapshot *snap);
/* The domain handle the snapshot belongs to (borrowed). */
QV_PUBLIC qv_domain *qv_snapshot_get_domain(const qv_snapshot *snap);
/* get_xml_description($flags); *ret is freed with free(). */
QV_PUBLIC int qv_snapshot_get_xml_description(qv_snapshot *snap, unsigned int flags, char **ret,
                                              qv_error **err);
/* get_parent(): -ENOENT for a root snapshot. */
QV_PUBLIC int qv_snapshot_get_parent(qv_snapshot *snap, unsigned int flags, qv_snapshot **ret,
                                     qv_error **err);
/* revert_to($flags): REVERT_RUNNING, REVERT_PAUSED, REVERT_FORCE,
 * REVERT_RESET_NVRAM (a new QEMU's UEFI variables start from their
 * template). A new QEMU is STARTED FROM_SNAPSHOT, then RESUMED or
 * SUSPENDED FROM_SNAPSHOT, as libvirt sends them. An
 * external snapshot gets new overlays on its images; with memory a new
 * QEMU restores it from the snapshot's memory file (libvirt 9.9's revert). */
QV_PUBLIC int qv_snapshot_revert_to(qv_snapshot *snap, unsigned int flags, qv_error **err);
/* delete($flags): DELETE_CHILDREN, DELETE_CHILDREN_ONLY, DELETE_METADATA_ONLY
 * (CHILDREN deletes the descendants leaf first, each as a delete of its
 * own). An external snapshot's overlays are merged into the images it
 * froze (libvirt 9.0's delete): on a running domain by a block commit per
 * disk (active, then pivoted, when the overlay is the disk's top), shut
 * off by qemu-img; the overlay files go, and so does its memory file (none
 * of this with METADATA_ONLY). As libvirt, an external snapshot with
 * children is refused unless it has one and lies in the domain's current
 * chain, and not when it is the current one. A commit that fails leaves
 * every chain valid and the snapshot's metadata in place; the error says
 * which disks were merged already, and deleting again finishes. */
QV_PUBLIC int qv_snapshot_delete(qv_snapshot *snap, unsigned int flags, qv_error **err);
/* is_current(), has_metadata(): 1 or 0. */
QV_PUBLIC int qv_snapshot_is_current(qv_snapshot *snap, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_snapshot_has_metadata(qv_snapshot *snap, unsigned int flags, qv_error **err);
/* num_of_child_snapshots($flags), list_child_snapshot_names($maxnames,
 * $flags), list_child_snapshots($flags), list_all_children($flags):
 * LIST_DESCENDANTS takes every descendant, not only children. */
QV_PUBLIC int qv_snapshot_num_of_child_snapshots(qv_snapshot *snap, unsigned int flags,
                                                 qv_error **err);
QV_PUBLIC int qv_snapshot_list_child_snapshot_names(qv_snapshot *snap, int maxnames,
                                                    unsigned int flags, char ***names,
                                                    qv_error **err);
QV_PUBLIC int qv_snapshot_list_child_snapshots(qv_snapshot *snap, unsigned int flags,
                                               qv_snapshot ***ret, qv_error **err);
QV_PUBLIC int qv_snapshot_list_all_children(qv_snapshot *snap, unsigned int flags,
                                            qv_snapshot ***ret, qv_error **err);

/* A snapshot handle keeps its domain handle's pointer: free it first. */
QV_PUBLIC void qv_snapshot_free(qv_snapshot *snap);
QV_PUBLIC void qv_snapshot_freep(qv_snapshot **snap);
QV_PUBLIC void qv_snapshot_list_free(qv_snapshot **list);
QV_PUBLIC void qv_snapshot_names_free(char **names);
