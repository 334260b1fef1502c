/* libvirt's QEMU save image (src/qemu/qemu_saveimage.h), so images move
 * between qvirt and libvirt both ways:
 *
 *   magic[16]   "LibvirtQemudPart" while being written, "LibvirtQemudSave"
 *               once complete
 *   uint32      version (2), data_len, was_running, format (0 raw),
 *               cookieOffset, unused[14]        (host byte order; 92 bytes)
 *   data_len    the domain XML, NUL-terminated, an optional cookie at
 *               cookieOffset, then zeros (room for save_image_define_xml
 *               to put a longer XML in place)
 *   ...         QEMU's migration stream, to the end of the file
 *
 * Pure functions over bytes: the file I/O is save.c's (and the fuzz
 * target, tests/fuzz/fuzz-save-image.c, feeds the parser directly). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "qv-error.h"

#define QV_SAVE_MAGIC "LibvirtQemudSave"
#define QV_SAVE_PARTIAL "LibvirtQemudPart"
#define QV_SAVE_MAGIC_LEN 16
#define QV_SAVE_VERSION 2
#define QV_SAVE_HEADER_LEN 92
/* What a parser accepts for data_len: a domain XML is at most
 * QV_DOMXML_MAX_SIZE, plus libvirt's padding and a cookie. */
#define QV_SAVE_MAX_DATA_LEN (8u << 20)
/* The room left after the XML (libvirt leaves at least 64 KiB), and the
 * alignment of the stream's start. */
#define QV_SAVE_XML_ROOM (64u << 10)
#define QV_SAVE_STREAM_ALIGN 4096u

typedef struct qv_save_header {
    bool complete;          /* the magic says the save finished */
    uint32_t version;
    uint32_t data_len;
    uint32_t was_running;
    uint32_t format;        /* 0 raw; 1 gzip, 2 bzip2, 3 xz, 4 lzop, 5 zstd */
    uint32_t cookie_offset;
    bool swapped;           /* written on a host of the other byte order */
} qv_save_header;

/* The fixed part: the first QV_SAVE_HEADER_LEN bytes (len may be less: a
 * truncated file). Checks the magic, version and data_len's bound. */
int qv_save_header_parse(const unsigned char *buf, size_t len, qv_save_header *h,
                         qv_error **err);
/* The XML in the data_len bytes that follow the fixed part (NUL-terminated
 * before the cookie or the end). *xml: g_free. */
int qv_save_data_xml(const qv_save_header *h, const unsigned char *data, size_t len, char **xml,
                     qv_error **err);
/* The header and data for xml, padded so the stream starts aligned, with
 * the magic saying complete or not. */
GByteArray *qv_save_image_build(const char *xml, bool was_running, bool complete);
/* The fixed part again (for an in-place XML rewrite or the completing
 * magic), in the byte order h was read in. */
void qv_save_header_pack(const qv_save_header *h, unsigned char out[QV_SAVE_HEADER_LEN]);
/* Both at once, for the fuzzer: a whole header + data buffer. */
int qv_save_image_parse(const unsigned char *buf, size_t len, qv_save_header *h, char **xml,
                        qv_error **err);
