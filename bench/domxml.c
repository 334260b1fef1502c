/* bench/domxml: the XML layer's throughput on a realistic 20-device domain
 * (bench/domain-20dev.xml): parse plus argv build, and format, in domains
 * per second. --smoke runs a few rounds. Goal: 20,000 parse+build a second. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "domxml.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    bool smoke = argc > 1 && !strcmp(argv[1], "--smoke");
    int n = smoke ? 50 : 20000;
    g_autofree char *path = g_build_filename(QV_SOURCE_ROOT, "bench", "domain-20dev.xml", NULL);
    g_autofree char *xml = NULL;
    if (!g_file_get_contents(path, &xml, NULL, NULL)) {
        fprintf(stderr, "bench/domxml: cannot read %s\n", path);
        return 1;
    }
    qv_build_ctx ctx = { .monitor_fd = 3, .event_monitor_fd = 4, .runtime_dir = "/run/qvirt/domains/bench" };
    qv_error *err = NULL;

    double t = now_s();
    for (int i = 0; i < n; i++) {
        qv_domdef *def = NULL;
        char **args = NULL;
        if (qv_domxml_parse(xml, 0, &def, &err) < 0 || qv_domxml_build_argv(def, &ctx, &args, &err) < 0) {
            fprintf(stderr, "bench/domxml: %s\n", qv_error_message(err));
            return 1;
        }
        g_strfreev(args);
        qv_domdef_free(def);
    }
    double build = n / (now_s() - t);

    qv_domdef *def = NULL;
    qv_domxml_parse(xml, 0, &def, &err);
    t = now_s();
    for (int i = 0; i < n; i++)
        g_free(qv_domxml_format(def, 0));
    double format = n / (now_s() - t);
    qv_domdef_free(def);

    printf("%-24s %12.0f domains/s   (goal >= 20000)\n", "parse+argv build", build);
    printf("%-24s %12.0f domains/s\n", "format", format);
    return 0;
}
