/* qvirt: saving a domain's memory to a file and restoring it, managed
 * save, and core dumps (Sys::Virt::Domain save, managed_save,
 * has_managed_save_image, managed_save_remove, core_dump,
 * core_dump_format; Sys::Virt restore_domain, get_save_image_xml_description,
 * define_save_image_xml). Images use libvirt's save-image format, so they
 * move between qvirt and libvirt both ways. Each runs as a job
 * (qvirt-job.h). Its calls live in lib/save.c. Included by
 * <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virDomainSaveRestoreFlags */
enum {
    QV_DOMAIN_SAVE_BYPASS_CACHE = 1 << 0, QV_DOMAIN_SAVE_RUNNING = 1 << 1,
    QV_DOMAIN_SAVE_PAUSED = 1 << 2, QV_DOMAIN_SAVE_RESET_NVRAM = 1 << 3,
};
/* virDomainSaveImageXMLFlags */
enum { QV_DOMAIN_SAVE_IMAGE_XML_SECURE = 1 << 0 };
/* virDomainCoreDumpFlags */
enum {
    QV_DUMP_CRASH = 1 << 0, QV_DUMP_LIVE = 1 << 1, QV_DUMP_BYPASS_CACHE = 1 << 2,
    QV_DUMP_RESET = 1 << 3, QV_DUMP_MEMORY_ONLY = 1 << 4,
};
/* virDomainCoreDumpFormat */
enum {
    QV_DOMAIN_CORE_DUMP_FORMAT_RAW = 0, QV_DOMAIN_CORE_DUMP_FORMAT_KDUMP_ZLIB = 1,
    QV_DOMAIN_CORE_DUMP_FORMAT_KDUMP_LZO = 2, QV_DOMAIN_CORE_DUMP_FORMAT_KDUMP_SNAPPY = 3,
    QV_DOMAIN_CORE_DUMP_FORMAT_WIN_DMP = 4,
};

/* Stops the CPUs, writes the domain's memory and device state to file
 * (under a temporary name, renamed once complete) and ends the domain
 * shut off (saved). dxml (may be NULL) replaces the XML kept in the image;
 * it must describe the same domain (name and UUID). SAVE_RUNNING or
 * SAVE_PAUSED override whether a restore resumes it. On failure the
 * domain runs on as before. BYPASS_CACHE drops the image's pages from the
 * page cache once written (QEMU's stream is not aligned for O_DIRECT). */
QV_PUBLIC int qv_domain_save(qv_domain *dom, const char *file, const char *dxml,
                             unsigned int flags, qv_error **err);
/* Starts the domain an image holds where it was saved: running (restored)
 * when it ran then, else paused; RESTORE flags (the SAVE_* values:
 * RUNNING, PAUSED) override. A domain defined with that name must have
 * the image's UUID; without one the domain comes back transient. */
QV_PUBLIC int qv_conn_restore_domain(qv_conn *conn, const char *file, const char *dxml,
                                     unsigned int flags, qv_error **err);
/* The domain XML an image holds (*ret: free()); SAVE_IMAGE_XML_SECURE
 * keeps passwords in it. */
QV_PUBLIC int qv_conn_get_save_image_xml_description(qv_conn *conn, const char *file,
                                                     unsigned int flags, char **ret,
                                                     qv_error **err);
/* Replaces that XML in place (same name and UUID), and with SAVE_RUNNING
 * or SAVE_PAUSED the state a restore gives. */
QV_PUBLIC int qv_conn_define_save_image_xml(qv_conn *conn, const char *file, const char *dxml,
                                            unsigned int flags, qv_error **err);

/* Managed save: the image lives in the connection's config folder
 * (save/NAME.save); create restores from it (and removes it), and
 * START_FORCE_BOOT discards it. undefine refuses a domain that has one
 * unless given UNDEFINE_MANAGED_SAVE. */
QV_PUBLIC int qv_domain_managed_save(qv_domain *dom, unsigned int flags, qv_error **err);
/* 1 when the domain has a managed save image, 0 when not. */
QV_PUBLIC int qv_domain_has_managed_save_image(qv_domain *dom, unsigned int flags,
                                               qv_error **err);
QV_PUBLIC int qv_domain_managed_save_remove(qv_domain *dom, unsigned int flags, qv_error **err);

/* Writes the guest's memory to file with QEMU's dump-guest-memory: an ELF
 * core (with the guest's notes) or a kdump/win-dmp format. The CPUs stop
 * for it unless DUMP_LIVE; DUMP_CRASH then ends the domain shut off
 * (crashed), DUMP_RESET resets the guest. Unlike libvirt, whose dump
 * without DUMP_MEMORY_ONLY writes a migration stream, every dump here is
 * dump-guest-memory's (MEMORY_ONLY is accepted). */
QV_PUBLIC int qv_domain_core_dump(qv_domain *dom, const char *file, unsigned int flags,
                                  qv_error **err);
QV_PUBLIC int qv_domain_core_dump_format(qv_domain *dom, const char *file, unsigned int format,
                                         unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
