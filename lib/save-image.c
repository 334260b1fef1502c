/* libvirt's save-image header (save-image.h). */
#include <errno.h>
#include <string.h>

#include "save-image.h"

static uint32_t get32(const unsigned char *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? GUINT32_SWAP_LE_BE(v) : v;
}

static void put32(unsigned char *p, uint32_t v, bool swap)
{
    if (swap)
        v = GUINT32_SWAP_LE_BE(v);
    memcpy(p, &v, 4);
}

int qv_save_header_parse(const unsigned char *buf, size_t len, qv_save_header *h,
                         qv_error **err)
{
    memset(h, 0, sizeof *h);
    if (len < QV_SAVE_MAGIC_LEN ||
        (memcmp(buf, QV_SAVE_MAGIC, QV_SAVE_MAGIC_LEN) &&
         memcmp(buf, QV_SAVE_PARTIAL, QV_SAVE_MAGIC_LEN)))
        return qv_error_set(err, -EINVAL, "the file is not a save image (no libvirt save-image "
                            "magic at its start)");
    h->complete = !memcmp(buf, QV_SAVE_MAGIC, QV_SAVE_MAGIC_LEN);
    if (len < QV_SAVE_HEADER_LEN)
        return qv_error_set(err, -EINVAL, "the save image is truncated: its header has %zu of "
                            "%d bytes", len, QV_SAVE_HEADER_LEN);
    const unsigned char *p = buf + QV_SAVE_MAGIC_LEN;
    h->version = get32(p, false);
    /* libvirt reads an image of the other byte order by swapping. */
    if (h->version > QV_SAVE_VERSION && GUINT32_SWAP_LE_BE(h->version) <= QV_SAVE_VERSION) {
        h->swapped = true;
        h->version = GUINT32_SWAP_LE_BE(h->version);
    }
    if (h->version < 1 || h->version > QV_SAVE_VERSION)
        return qv_error_set(err, -EINVAL, "the save image has version %u; versions 1 and 2 are "
                            "known", h->version);
    h->data_len = get32(p + 4, h->swapped);
    h->was_running = get32(p + 8, h->swapped);
    h->format = h->version >= 2 ? get32(p + 12, h->swapped) : 0;
    h->cookie_offset = h->version >= 2 ? get32(p + 16, h->swapped) : 0;
    if (h->data_len == 0 || h->data_len > QV_SAVE_MAX_DATA_LEN)
        return qv_error_set(err, -EINVAL, "the save image's header gives its XML %u bytes, "
                            "outside 1..%u", h->data_len, QV_SAVE_MAX_DATA_LEN);
    if (h->cookie_offset >= h->data_len)
        h->cookie_offset = 0; /* libvirt ignores a cookie outside the data */
    return 0;
}

int qv_save_data_xml(const qv_save_header *h, const unsigned char *data, size_t len, char **xml,
                     qv_error **err)
{
    if (len < h->data_len)
        return qv_error_set(err, -EINVAL, "the save image is truncated: its XML has %zu of %u "
                            "bytes", len, h->data_len);
    size_t xml_room = h->cookie_offset ? h->cookie_offset : h->data_len;
    const unsigned char *nul = memchr(data, 0, xml_room);
    if (!nul || nul == data)
        return qv_error_set(err, -EINVAL, "the save image holds no domain XML (%s)",
                            nul ? "it is empty" : "it does not end within its room");
    *xml = g_strndup((const char *)data, (size_t)(nul - data));
    return 0;
}

int qv_save_image_parse(const unsigned char *buf, size_t len, qv_save_header *h, char **xml,
                        qv_error **err)
{
    int r = qv_save_header_parse(buf, len, h, err);
    if (r < 0)
        return r;
    return qv_save_data_xml(h, buf + QV_SAVE_HEADER_LEN, len - QV_SAVE_HEADER_LEN, xml, err);
}

void qv_save_header_pack(const qv_save_header *h, unsigned char out[QV_SAVE_HEADER_LEN])
{
    memset(out, 0, QV_SAVE_HEADER_LEN);
    memcpy(out, h->complete ? QV_SAVE_MAGIC : QV_SAVE_PARTIAL, QV_SAVE_MAGIC_LEN);
    unsigned char *p = out + QV_SAVE_MAGIC_LEN;
    put32(p, h->version, h->swapped);
    put32(p + 4, h->data_len, h->swapped);
    put32(p + 8, h->was_running, h->swapped);
    put32(p + 12, h->format, h->swapped);
    put32(p + 16, h->cookie_offset, h->swapped);
}

GByteArray *qv_save_image_build(const char *xml, bool was_running, bool complete)
{
    size_t xml_len = strlen(xml) + 1;
    size_t end = QV_SAVE_HEADER_LEN + xml_len + QV_SAVE_XML_ROOM;
    end = (end + QV_SAVE_STREAM_ALIGN - 1) / QV_SAVE_STREAM_ALIGN * QV_SAVE_STREAM_ALIGN;
    qv_save_header h = {
        .complete = complete,
        .version = QV_SAVE_VERSION,
        .data_len = (uint32_t)(end - QV_SAVE_HEADER_LEN),
        .was_running = was_running ? 1 : 0,
    };
    GByteArray *out = g_byte_array_sized_new((guint)end);
    g_byte_array_set_size(out, (guint)end);
    memset(out->data, 0, end);
    qv_save_header_pack(&h, out->data);
    memcpy(out->data + QV_SAVE_HEADER_LEN, xml, xml_len);
    return out;
}
