/* libvirt's save-image header (lib/save-image.c): the bytes qvirt writes
 * against a golden copy of libvirt's layout, and what the reader refuses. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "save-image.h"

/* The first 92 bytes qvirt writes for a small XML of a running domain on
 * a little-endian host: libvirt's virQEMUSaveHeader, version 2, the XML
 * room padded so the stream starts at 69632 (64 KiB + one 4 KiB page). */
static const unsigned char golden_header[QV_SAVE_HEADER_LEN] = {
    'L', 'i', 'b', 'v', 'i', 'r', 't', 'Q', 'e', 'm', 'u', 'd', 'S', 'a', 'v', 'e',
    0x02, 0x00, 0x00, 0x00,   /* version 2 */
    0xa4, 0x0f, 0x01, 0x00,   /* data_len 69540 = 69632 - 92 */
    0x01, 0x00, 0x00, 0x00,   /* was_running */
    0x00, 0x00, 0x00, 0x00,   /* format raw */
    0x00, 0x00, 0x00, 0x00,   /* no cookie */
    /* unused[14] */
};

#define XML "<domain type='qemu'><name>g</name></domain>"

Test(save_image, golden_header)
{
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
    cr_skip_test("the golden header is a little-endian host's");
#endif
    g_autoptr(GByteArray) img = qv_save_image_build(XML, true, true);
    cr_assert_eq(img->len, 69632u);
    cr_assert_eq(memcmp(img->data, golden_header, sizeof golden_header), 0,
                 "the header is not libvirt's layout");
    cr_assert_str_eq((const char *)img->data + QV_SAVE_HEADER_LEN, XML);
    for (guint i = QV_SAVE_HEADER_LEN + sizeof XML; i < img->len; i++)
        cr_assert_eq(img->data[i], 0, "padding byte %u is not zero", i);
}

Test(save_image, partial_then_complete)
{
    g_autoptr(GByteArray) img = qv_save_image_build(XML, false, false);
    cr_assert_eq(memcmp(img->data, "LibvirtQemudPart", 16), 0);
    qv_save_header h;
    char *xml = NULL;
    cr_assert_eq(qv_save_image_parse(img->data, img->len, &h, &xml, NULL), 0);
    cr_assert(!h.complete);
    cr_assert_eq(h.was_running, 0);
    cr_assert_str_eq(xml, XML);
    g_free(xml);
    h.complete = true;
    qv_save_header_pack(&h, img->data);
    cr_assert_eq(memcmp(img->data, "LibvirtQemudSave", 16), 0);
}

/* Each refusal is one sentence saying what is wrong. */
Test(save_image, refusals)
{
    g_autoptr(GByteArray) img = qv_save_image_build(XML, true, true);
    struct { const unsigned char *buf; size_t len; const char *words; } cases[] = {
        { (const unsigned char *)"LibvirtQemudXXXX and more", 25, "not a save image" },
        { img->data, 40, "truncated" },
        { img->data, QV_SAVE_HEADER_LEN + 10, "truncated" },
        { (const unsigned char *)"", 0, "not a save image" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        qv_save_header h;
        char *xml = NULL;
        qv_error *err = NULL;
        cr_assert_eq(qv_save_image_parse(cases[i].buf, cases[i].len, &h, &xml, &err), -EINVAL);
        cr_assert(strstr(qv_error_message(err), cases[i].words), "case %zu: %s", i,
                  qv_error_message(err));
        cr_assert_null(xml);
        qv_error_free(err);
    }
    /* A version from the future. */
    unsigned char v9[QV_SAVE_HEADER_LEN];
    memcpy(v9, img->data, sizeof v9);
    v9[16] = 9;
    qv_save_header h;
    qv_error *err = NULL;
    cr_assert_eq(qv_save_header_parse(v9, sizeof v9, &h, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "version 9"), "%s", qv_error_message(err));
    qv_error_free(err);
}
