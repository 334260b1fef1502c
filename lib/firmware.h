/* UEFI firmware for <os firmware='efi'>: QEMU's firmware descriptors read
 * for the argv builder, and the per-domain NVRAM file (lib/firmware.c). */
#pragma once

#include "domxml.h"
#include "qv-error.h"

typedef struct qv_conn qv_conn;
typedef struct qv_firmware_list qv_firmware_list;

/* The descriptors of dirs (earliest dir wins for a file name, as
 * /etc/qemu/firmware overrides /usr/share/qemu/firmware; an empty file hides
 * one), sorted by file name, kept when they describe a "uefi" image mapped
 * as "flash" for x86_64. A missing dir is no error. */
int qv_firmware_load(const char *const *dirs, size_t n_dirs, qv_firmware_list **ret,
                     qv_error **err);
/* The host's: $XDG_CONFIG_HOME/qemu/firmware, /etc/qemu/firmware,
 * /usr/share/qemu/firmware. */
int qv_firmware_load_host(qv_firmware_list **ret, qv_error **err);
/* The table for qv_build_ctx.firmware (valid while l lives). */
const qv_firmware_desc *qv_firmware_get(const qv_firmware_list *l, unsigned int *count);
void qv_firmware_list_free(qv_firmware_list *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_firmware_list, qv_firmware_list_free)

/* <config dir>/nvram. g_free(). */
char *qv_conn_nvram_dir(qv_conn *conn);
/* At start: fills def's autoselected firmware (as the live XML shows it) and
 * creates its NVRAM from the template when missing, or again with
 * reset (QV_DOMAIN_START_RESET_NVRAM). */
int qv_conn_prepare_firmware(qv_conn *conn, qv_domdef *def, bool reset, qv_error **err);
/* Before undefining domain name: libvirt's rule for its NVRAM file. With
 * neither remove nor keep, an existing file refuses the undefine; with
 * remove, *remove_path (g_free) is the file to unlink once the config is gone. */
int qv_conn_undefine_nvram_check(qv_conn *conn, const char *name, bool remove, bool keep,
                                 char **remove_path, qv_error **err);
