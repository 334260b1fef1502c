/* libFuzzer target for the domain XML layer: parse, format (live and
 * inactive), re-parse the formatted XML (it must be accepted: the formatter
 * only writes what the parser takes) and build the QEMU argv. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = g_malloc(size + 1);
    memcpy(xml, data, size);
    xml[size] = '\0';
    qv_domdef *def = NULL;
    qv_error *err = NULL;
    if (qv_domxml_parse(xml, 0, &def, &err) == 0) {
        char *live = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
        char *inactive = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
        qv_domdef *again = NULL;
        qv_error *err2 = NULL;
        if (qv_domxml_parse(inactive, 0, &again, &err2) < 0)
            abort();   /* formatted XML must always parse back */
        char *inactive2 = qv_domxml_format(again, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
        if (strcmp(inactive, inactive2) != 0)
            abort();   /* and format to the same text */
        qv_build_ctx ctx = { NULL, 3, 4, "/run/qvirt/fuzz" };
        char **argv = NULL;
        qv_error *err3 = NULL;
        if (qv_domxml_build_argv(def, &ctx, &argv, &err3) == 0) {
            char *sh = qv_argv_to_shell((const char *const *)argv);
            g_free(sh);
            g_strfreev(argv);
        }
        qv_error_free(err3);
        g_free(inactive2);
        qv_domdef_free(again);
        g_free(live);
        g_free(inactive);
        qv_domdef_free(def);
    }
    qv_error_free(err);
    g_free(xml);
    return 0;
}
