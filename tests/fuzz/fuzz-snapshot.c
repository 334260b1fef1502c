/* libFuzzer target for the snapshot XML (domxml/snapshot.c): parse as a new
 * snapshot and as stored metadata; whatever parses formats to XML that
 * parses back and formats to the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domdef.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = g_malloc(size + 1);
    memcpy(xml, data, size);
    xml[size] = '\0';
    for (unsigned int flags = 0; flags <= QV_SNAPXML_PARSE_REDEFINE; flags++) {
        qv_snapdef *def = NULL;
        qv_error *err = NULL;
        if (qv_snapxml_parse(xml, flags, &def, &err) == 0) {
            char *out = qv_snapxml_format(def, QV_SNAPXML_FORMAT_SECURE);
            qv_snapdef *again = NULL;
            qv_error *err2 = NULL;
            if (qv_snapxml_parse(out, QV_SNAPXML_PARSE_REDEFINE, &again, &err2) < 0)
                abort();   /* formatted XML must always parse back */
            char *out2 = qv_snapxml_format(again, QV_SNAPXML_FORMAT_SECURE);
            if (strcmp(out, out2) != 0)
                abort();   /* and format to the same text */
            g_free(out2);
            qv_snapdef_free(again);
            g_free(out);
            qv_snapdef_free(def);
        }
        qv_error_free(err);
    }
    g_free(xml);
    return 0;
}
