/* libFuzzer target for libvirt's save-image header (lib/save-image.c):
 * the fixed 92 bytes, then data_len bytes holding the domain XML. An
 * image is either accepted, with XML that is a non-empty string, or
 * refused with one sentence; a header that parses packs back to the same
 * fixed bytes' meaning. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "save-image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_save_header h;
    char *xml = NULL;
    qv_error *err = NULL;
    int r = qv_save_image_parse(data, size, &h, &xml, &err);
    if (r == 0) {
        if (err || !xml || !*xml || strlen(xml) >= h.data_len)
            abort();
        unsigned char again[QV_SAVE_HEADER_LEN];
        qv_save_header_pack(&h, again);
        qv_save_header h2;
        if (qv_save_header_parse(again, sizeof again, &h2, NULL) < 0 || h2.data_len != h.data_len ||
            h2.version != h.version || h2.complete != h.complete || h2.swapped != h.swapped)
            abort();
    } else if (r != -EINVAL || !err || !qv_error_message(err) || strchr(qv_error_message(err), '\n') ||
               xml) {
        abort();
    }
    g_free(xml);
    qv_error_free(err);
    return 0;
}
