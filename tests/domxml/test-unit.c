/* Unit tests of the domain XML layer API: metadata, UUIDs, copy, live
 * versus inactive XML, generated values, escaping and shell quoting. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "golden.h"
#include "domdef.h"
#include "domxml-priv.h"

static const char *const basic_xml =
    "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>"
    "<os><type>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/x.img'/><target dev='vda'/></disk>"
    "<interface type='user'><model type='virtio'/></interface>"
    "<serial type='pty'/><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    "</devices></domain>";

static qv_domdef *parse_ok(const char *xml)
{
    qv_domdef *def = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_domxml_parse(xml, 0, &def, &err);
    cr_assert_eq(r, 0, "parse failed: %s", err ? qv_error_message(err) : "");
    return def;
}

Test(domxml_unit, uuid_roundtrip)
{
    unsigned char u[16], v[16];
    char s[37];
    cr_assert_eq(qv_uuid_parse("c7a5fdbd-edaf-9455-926a-d65c16db1809", u), 0);
    qv_uuid_format(u, s);
    cr_assert_str_eq(s, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    cr_assert_eq(qv_uuid_parse("c7a5fdbdedaf9455926ad65c16db1809", v), 0);
    cr_assert_eq(memcmp(u, v, 16), 0);
    cr_assert_lt(qv_uuid_parse("c7a5fdbd-edaf-9455-926a-d65c16db180", u), 0);
    cr_assert_lt(qv_uuid_parse("c7a5fdbd-edaf-9455-926a-d65c16db18090", u), 0);
    cr_assert_lt(qv_uuid_parse("g7a5fdbd-edaf-9455-926a-d65c16db1809", u), 0);
    qv_uuid_generate(u);
    cr_assert_eq(u[6] >> 4, 4);
}

Test(domxml_unit, generated_uuid_and_mac_are_recorded)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    qv_domdef_net *n = g_ptr_array_index(def->nets, 0);
    cr_assert(n->mac[0] == 0x52 && n->mac[1] == 0x54 && n->mac[2] == 0x00);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def2 = parse_ok(xml);
    cr_assert_eq(memcmp(def->uuid, def2->uuid, 16), 0);
    cr_assert_eq(memcmp(n->mac, ((qv_domdef_net *)g_ptr_array_index(def2->nets, 0))->mac, 6), 0);
    g_autofree char *xml2 = qv_domxml_format(def2, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert_str_eq(xml, xml2);
}

Test(domxml_unit, live_xml_has_id_and_aliases)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    def->id = 7;
    g_autofree char *live = qv_domxml_format(def, 0);
    g_autofree char *inactive = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert(strstr(live, "<domain type='qemu' id='7'>"));
    cr_assert(strstr(live, "<alias name='virtio-disk0'/>"));
    cr_assert(strstr(live, "<alias name='net0'/>"));
    cr_assert(strstr(live, "<alias name='balloon0'/>"));
    cr_assert(strstr(live, "<alias name='channel0'/>"));
    cr_assert_null(strstr(inactive, "id='7'"));
    cr_assert_null(strstr(inactive, "<alias"));
    /* Status XML parses back with the runtime facts. */
    g_autoptr(qv_domdef) st = NULL;
    cr_assert_eq(qv_domxml_parse(live, QV_DOMXML_PARSE_STATUS, &st, NULL), 0);
    cr_assert_eq(st->id, 7);
    g_autofree char *live2 = qv_domxml_format(st, 0);
    cr_assert_str_eq(live, live2);
}

Test(domxml_unit, copy_is_deep_and_equal)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    def->id = 3;
    g_autoptr(qv_domdef) copy = qv_domdef_copy(def);
    g_autofree char *a = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
    g_autofree char *b = qv_domxml_format(copy, QV_DOMXML_FORMAT_SECURE);
    cr_assert_str_eq(a, b);
    g_free(copy->name);
    copy->name = g_strdup("other");
    cr_assert_str_eq(def->name, "t");
}

Test(domxml_unit, secure_flag_controls_passwords)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os>"
        "<devices><graphics type='vnc' passwd='s3cret'/></devices></domain>");
    g_autofree char *plain = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autofree char *secure = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
    cr_assert_null(strstr(plain, "s3cret"));
    cr_assert(strstr(secure, "passwd='s3cret'"));
}

Test(domxml_unit, metadata_title_description)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    char *v = NULL;
    cr_assert_eq(qv_domdef_get_metadata(def, 1, NULL, &v, NULL), -ENOENT);
    cr_assert_eq(qv_domdef_set_metadata(def, 1, "Hello", NULL, NULL, NULL), 0);
    cr_assert_eq(qv_domdef_set_metadata(def, 0, "multi\nline & <desc>", NULL, NULL, NULL), 0);
    cr_assert_eq(qv_domdef_get_metadata(def, 1, NULL, &v, NULL), 0);
    cr_assert_str_eq(v, "Hello");
    g_free(v);
    cr_assert_lt(qv_domdef_set_metadata(def, 1, "two\nlines", NULL, NULL, NULL), 0);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def2 = parse_ok(xml);
    cr_assert_str_eq(def2->description, "multi\nline & <desc>");
    cr_assert_eq(qv_domdef_set_metadata(def2, 1, NULL, NULL, NULL, NULL), 0);
    cr_assert_null(def2->title);
}

Test(domxml_unit, metadata_elements)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    char *v = NULL;
    const char *uri = "http://example.org/app/";
    cr_assert_eq(qv_domdef_get_metadata(def, 2, uri, &v, NULL), -ENOENT);
    cr_assert_eq(qv_domdef_set_metadata(def, 2, "<info owner='me'><tag>x</tag></info>", "app", uri, NULL), 0);
    cr_assert_eq(qv_domdef_get_metadata(def, 2, uri, &v, NULL), 0);
    cr_assert(strstr(v, "app:info"), "%s", v);
    cr_assert(strstr(v, "xmlns:app=\"http://example.org/app/\""), "%s", v);
    g_free(v);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def2 = parse_ok(xml);
    cr_assert_eq(qv_domdef_get_metadata(def2, 2, uri, &v, NULL), 0);
    cr_assert(strstr(v, "<app:tag>x</app:tag>"), "%s", v);
    g_free(v);
    /* Replacing keeps one element per namespace; NULL removes. */
    cr_assert_eq(qv_domdef_set_metadata(def2, 2, "<other/>", "app", uri, NULL), 0);
    cr_assert_eq(def2->metadata->len, 1);
    cr_assert_eq(qv_domdef_set_metadata(def2, 2, NULL, NULL, uri, NULL), 0);
    cr_assert_eq(def2->metadata->len, 0);
    cr_assert_lt(qv_domdef_set_metadata(def2, 2, "<a>", "app", uri, NULL), 0);
    cr_assert_lt(qv_domdef_set_metadata(def2, 2, "<a/>", "bad key", uri, NULL), 0);
}

/* An element whose text spans lines keeps that text exactly, and the XML
 * formats the same however often it is saved (the formatter indents each
 * line of a kept element, which must not reach the text). */
Test(domxml_unit, metadata_multiline_text_is_stable)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    const char *uri = "http://example.org/app/";
    cr_assert_eq(qv_domdef_set_metadata(def, 2, "<note>line one\n  line two<b/>\n</note>", "app", uri, NULL), 0);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def2 = parse_ok(xml);
    g_autofree char *xml2 = qv_domxml_format(def2, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def3 = parse_ok(xml2);
    g_autofree char *xml3 = qv_domxml_format(def3, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert_str_eq(xml2, xml);
    cr_assert_str_eq(xml3, xml);
    g_autofree char *v = NULL;
    cr_assert_eq(qv_domdef_get_metadata(def3, 2, uri, &v, NULL), 0);
    /* The newlines are character references, which read back as newlines. */
    cr_assert(strstr(v, ">line one&#10;  line two<app:b/>&#10;</app:note>"), "%s", v);
}

Test(domxml_unit, opt_escape_and_shell_quoting)
{
    g_autofree char *e = qv_qemu_opt_escape("a,b,,c");
    cr_assert_str_eq(e, "a,,b,,,,c");
    const char *argv[] = { "/usr/bin/qemu", "-name", "guest=x y", "it's", "", "{\"a\":1}", NULL };
    g_autofree char *sh = qv_argv_to_shell(argv);
    cr_assert_str_eq(sh, "/usr/bin/qemu -name 'guest=x y' 'it'\\''s' '' '{\"a\":1}'");
}

Test(domxml_unit, name_with_comma_is_escaped)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>a,b</name><memory>65536</memory><os><type>hvm</type></os></domain>");
    qv_build_ctx ctx = { NULL, 3, -1, "/run/x" };
    g_auto(GStrv) argv = NULL;
    cr_assert_eq(qv_domxml_build_argv(def, &ctx, &argv, NULL), 0);
    bool found = false;
    for (size_t i = 0; argv[i]; i++)
        found = found || !strcmp(argv[i], "guest=a,,b,debug-threads=on");
    cr_assert(found);
    for (size_t i = 0; argv[i]; i++)
        cr_assert_null(strstr(argv[i], "charevents"), "event monitor must be omitted for fd -1");
}

Test(domxml_unit, build_rejects_bad_ctx)
{
    g_autoptr(qv_domdef) def = parse_ok(basic_xml);
    g_auto(GStrv) argv = NULL;
    qv_build_ctx ctx = { NULL, -1, -1, "/run/x" };
    cr_assert_lt(qv_domxml_build_argv(def, &ctx, &argv, NULL), 0);
    qv_build_ctx ctx2 = { NULL, 3, -1, "relative" };
    cr_assert_lt(qv_domxml_build_argv(def, &ctx2, &argv, NULL), 0);
}

Test(domxml_unit, size_cap)
{
    size_t n = QV_DOMXML_MAX_SIZE + 16;
    g_autofree char *big = g_malloc(n + 1);
    memset(big, ' ', n);
    big[n] = '\0';
    qv_domdef *def = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domxml_parse(big, 0, &def, &err), -E2BIG);
}

Test(domxml_unit, billion_laughs_rejected)
{
    const char *xml = "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
                      "<domain type='qemu'><name>&b;</name><memory>65536</memory><os><type>hvm</type></os></domain>";
    qv_domdef *def = NULL;
    cr_assert_lt(qv_domxml_parse(xml, 0, &def, NULL), 0);
}

Test(domxml_unit, empty_genid_is_generated_and_kept)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>g</name><genid/><memory>65536</memory><os><type>hvm</type></os></domain>");
    static const unsigned char zero[16];
    cr_assert(def->has_genid);
    cr_assert_neq(memcmp(def->genid, zero, 16), 0);
    g_autofree char *xml = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autoptr(qv_domdef) def2 = parse_ok(xml);
    cr_assert_eq(memcmp(def->genid, def2->genid, 16), 0);
}

/* The -device/-blockdev JSON is written by qv_json_to_string, not json-c:
 * it must spell every value exactly as json-c does. */
Test(domxml_unit, json_matches_json_c)
{
    json_object *o = json_object_new_object();
    char ctl[32];
    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    ctl[31] = '\0';
    json_object_object_add(o, "ctl", json_object_new_string(ctl));
    json_object_object_add(o, "quote\"key", json_object_new_string("a\"b\\c/d,e \x7f caf\xc3\xa9"));
    json_object_object_add(o, "empty", json_object_new_string(""));
    json_object_object_add(o, "min", json_object_new_int64(INT64_MIN));
    json_object_object_add(o, "max", json_object_new_int64(INT64_MAX));
    json_object_object_add(o, "t", json_object_new_boolean(1));
    json_object_object_add(o, "f", json_object_new_boolean(0));
    json_object_object_add(o, "null", NULL);
    json_object_object_add(o, "nested", json_object_new_object());
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_new_double(0.5));
    json_object_array_add(arr, json_object_new_string("x"));
    json_object_object_add(o, "arr", arr);
    g_autofree char *ours = qv_json_to_string(o);
    cr_assert_str_eq(ours, json_object_to_json_string_ext(o, QV_JSON_FLAGS));
    json_object_put(o);
}

/* The parser context is kept per thread between documents: a failed parse
 * must not leak into the next one, and the context's dictionary is
 * replaced as it fills with names from many documents. */
Test(domxml_unit, parser_context_reuse)
{
    qv_domdef *def = NULL;
    for (int round = 0; round < 3; round++) {
        g_autoptr(qv_error) e1 = NULL;
        cr_assert_lt(qv_domxml_parse("<domain type='qemu'>\n<name>x</name\n", 0, &def, &e1), 0);
        cr_assert(strstr(qv_error_message(e1), "not well-formed: line 3"), "%s", qv_error_message(e1));
        g_autoptr(qv_error) e2 = NULL;
        cr_assert_lt(qv_domxml_parse("<!DOCTYPE domain><domain/>", 0, &def, &e2), 0);
        cr_assert(strstr(qv_error_message(e2), "DOCTYPE"), "%s", qv_error_message(e2));
        qv_domdef_free(parse_ok(basic_xml));
    }
    for (int i = 0; i < 6000; i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='qemu'><name>t</name><metadata><m%d:e%d xmlns:m%d='urn:x:%d'/></metadata>"
            "<memory>65536</memory><os><type>hvm</type></os></domain>", i, i, i, i);
        qv_domdef_free(parse_ok(xml));
    }
}

Test(domxml_unit, mac_address_syntax)
{
    const char *good[] = { "52:54:00:ab:CD:ef" };
    const char *bad[] = { "+2:54:00:ab:cd:ef", " 2:54:00:ab:cd:ef", "52:54:00:ab:cd:e", "52-54-00-ab-cd-ef",
                          "52:54:00:ab:cd:efa", "5:54:00:ab:cd:eff" };
    for (size_t i = 0; i < G_N_ELEMENTS(good) + G_N_ELEMENTS(bad); i++) {
        bool ok = i < G_N_ELEMENTS(good);
        const char *mac = ok ? good[i] : bad[i - G_N_ELEMENTS(good)];
        g_autofree char *xml = g_strdup_printf(
            "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os>"
            "<devices><interface type='user'><mac address='%s'/></interface></devices></domain>", mac);
        qv_domdef *def = NULL;
        g_autoptr(qv_error) err = NULL;
        int r = qv_domxml_parse(xml, 0, &def, &err);
        cr_assert_eq(r == 0, ok, "MAC '%s': %s", mac, err ? qv_error_message(err) : "accepted");
        qv_domdef_free(def);
    }
}

/* The typed tunables parse, and an edit of the typed pins is what gets
 * formatted (lib/resources.c edits them). */
Test(domxml_unit, tunables_typed)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory><vcpu>2</vcpu>"
        "<cputune><vcpupin vcpu='1' cpuset='1'/><quota>-1</quota><shares>100</shares></cputune>"
        "<memtune><hard_limit unit='MiB'>1</hard_limit></memtune>"
        "<blkiotune><weight>200</weight><device><path>/dev/a</path>"
        "<read_iops_sec>5</read_iops_sec></device></blkiotune>"
        "<numatune><memory nodeset='0'/></numatune>"
        "<os><type>hvm</type></os></domain>");
    cr_assert(def->cputune.has_shares);
    cr_assert_eq(def->cputune.shares, 100);
    cr_assert_eq(def->cputune.quota, -1);
    cr_assert_eq(def->cputune.vcpupins->len, 1);
    cr_assert_eq(def->memtune.hard_limit, 1024);
    cr_assert_eq(def->blkiotune.weight, 200);
    qv_domdef_blkio_device *d = g_ptr_array_index(def->blkiotune.devices, 0);
    cr_assert_str_eq(d->path, "/dev/a");
    cr_assert_eq(d->read_iops_sec, 5);
    cr_assert_str_eq(def->numatune.mode, "strict");
    cr_assert_str_eq(def->numatune.placement, "static");
    g_autofree char *x = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert(strstr(x, "<cputune>\n    <shares>100</shares>\n    <quota>-1</quota>\n"
                        "    <vcpupin vcpu='1' cpuset='1'/>\n  </cputune>"), "%s", x);

    def->cputune.period = 20000;
    def->cputune.emulatorpin = g_strdup("0");
    g_autofree char *y = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert(strstr(y, "<period>20000</period>") && strstr(y, "<emulatorpin cpuset='0'/>"), "%s", y);
    g_autoptr(qv_domdef) copy = qv_domdef_copy(def);
    cr_assert_str_eq(copy->cputune.emulatorpin, "0");
}

/* Every cpuset goes through one parser and comes back in libvirt's
 * canonical form (virBitmapFormat): ascending, runs as ranges. */
Test(domxml_unit, cpuset_canonical_form)
{
    static const struct { const char *in, *out; } ok[] = {
        { "0", "0" }, { "3,1,2", "1-3" }, { "0-3,^2", "0-1,3" }, { "0-3,^2,2", "0-3" },
        { " 1 , 3 - 4 ,", "1,3-4" }, { "0,2,4", "0,2,4" }, { "5-5", "5" },
        { "^3,3", "3" }, { "16383", "16383" }, { "0-1,0-1", "0-1" }, { "007", "7" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autofree char *out = NULL;
        cr_assert_eq(qv_cpuset_canonicalise(ok[i].in, &out), 0, "'%s' refused", ok[i].in);
        cr_assert_str_eq(out, ok[i].out, "'%s' gave '%s'", ok[i].in, out);
        /* canonical is a fixed point */
        g_autofree char *again = NULL;
        cr_assert_eq(qv_cpuset_canonicalise(out, &again), 0);
        cr_assert_str_eq(again, out);
    }
    static const struct { const char *in; int r; } bad[] = {
        { "", -EINVAL }, { " ", -EINVAL }, { "a", -EINVAL }, { "1-", -EINVAL }, { "3-1", -EINVAL },
        { "^1-2", -EINVAL }, { "1,,2", -EINVAL }, { "-1", -EINVAL }, { "1;2", -EINVAL },
        { "16384", -ERANGE }, { "0-99999999999999999999999", -ERANGE },
        { "18446744073709551619", -ERANGE }, { "1,^1", -ENOENT },
        { "^0", -ENOENT },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *out = NULL;
        cr_assert_eq(qv_cpuset_canonicalise(bad[i].in, &out), bad[i].r, "'%s'", bad[i].in);
        cr_assert_null(out);
    }
}

Test(domxml_unit, cpusets_stored_canonical)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>"
        "<vcpu cpuset='2,0,1'>2</vcpu><iothreads>1</iothreads>"
        "<cputune><vcpupin vcpu='1' cpuset='0-3,^2'/><emulatorpin cpuset='4,3'/>"
        "<iothreadpin iothread='1' cpuset='1,0'/></cputune>"
        "<numatune><memory nodeset='1,0'/><memnode cellid='0' nodeset='0-1,^0'/></numatune>"
        "<cpu><numa><cell id='0' cpus='1,0' memory='64' unit='MiB'/></numa></cpu>"
        "<os><type>hvm</type></os></domain>");
    cr_assert_str_eq(def->vcpu_cpuset, "0-2");
    cr_assert_str_eq(((qv_domdef_pin *)g_ptr_array_index(def->cputune.vcpupins, 0))->cpuset, "0-1,3");
    cr_assert_str_eq(def->cputune.emulatorpin, "3-4");
    cr_assert_str_eq(((qv_domdef_pin *)g_ptr_array_index(def->cputune.iothreadpins, 0))->cpuset, "0-1");
    cr_assert_str_eq(def->numatune.nodeset, "0-1");
    cr_assert_str_eq(((qv_domdef_memnode *)g_ptr_array_index(def->numatune.memnodes, 0))->nodeset, "1");
    cr_assert_str_eq(((qv_domdef_numa_cell *)g_ptr_array_index(def->cpu.cells, 0))->cpus, "0-1");
    g_autofree char *x = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert(strstr(x, "<vcpu placement='static' cpuset='0-2'>2</vcpu>"), "%s", x);
    cr_assert(strstr(x, "<vcpupin vcpu='1' cpuset='0-1,3'/>"), "%s", x);

    g_autoptr(qv_domdef) bad = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_lt(qv_domxml_parse("<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>"
                                 "<vcpu cpuset='0,^0'>1</vcpu><os><type>hvm</type></os></domain>",
                                 0, &bad, &err), 0);
    cr_assert_str_eq(qv_error_message(err), "/domain/vcpu/@cpuset: '0,^0' selects no CPU");
}

/* ---- VIR_DOMAIN_XML_MIGRATABLE ---- */

static const char *const migratable_xml =
    "<domain type='qemu'><name>m</name><memory unit='MiB'>64</memory>"
    "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
    "<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>"
    "<input type='tablet' bus='usb'/><graphics type='vnc'/>"
    "</devices></domain>";

static gint str_ptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of an XML document, sorted: equal when the same elements with
 * the same attributes are present, whatever their order among siblings. */
static char *sorted_lines(const char *xml)
{
    g_auto(GStrv) lines = g_strsplit(xml, "\n", -1);
    g_autoptr(GPtrArray) v = g_ptr_array_new();
    for (char **l = lines; *l; l++)
        g_ptr_array_add(v, *l);
    g_ptr_array_sort(v, str_ptr_cmp);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < v->len; i++)
        g_string_append_printf(s, "%s\n", (char *)g_ptr_array_index(v, i));
    return g_string_free(s, FALSE);
}

/* The guest ABI as the argv builder sees it: "-opt value" pairs, sorted. */
static char *abi_of(const qv_domdef *def)
{
    qv_build_ctx ctx = { NULL, GOLDEN_MONITOR_FD, GOLDEN_EVENT_FD, GOLDEN_RUNTIME_DIR };
    g_auto(GStrv) argv = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domxml_build_argv(def, &ctx, &argv, &err), 0, "%s", err ? qv_error_message(err) : "");
    return golden_sorted_argv(argv);
}

Test(domxml_unit, migratable_drops_what_older_libvirt_adds)
{
    g_autoptr(qv_domdef) def = parse_ok(migratable_xml);
    g_autofree char *full = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autofree char *mig = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_MIGRATABLE);
    /* present in the normal XML */
    cr_assert(strstr(full, "<controller type='usb' index='0' model='piix3-uhci'>"), "%s", full);
    cr_assert(strstr(full, "<controller type='pci' index='0' model='pci-root'/>"), "%s", full);
    cr_assert(strstr(full, "<input type='keyboard' bus='ps2'/>"), "%s", full);
    /* gone from the migratable XML */
    cr_assert_null(strstr(mig, "<controller type='usb'"), "%s", mig);
    cr_assert_null(strstr(mig, "<controller type='pci'"), "%s", mig);
    cr_assert_null(strstr(mig, "type='keyboard'"), "%s", mig);
    /* kept: what libvirt keeps, and everything the user gave */
    cr_assert(strstr(mig, "<controller type='ide' index='0'>"), "%s", mig);
    cr_assert(strstr(mig, "<input type='mouse' bus='ps2'/>"), "%s", mig);
    cr_assert(strstr(mig, "<input type='tablet' bus='usb'>"), "%s", mig);
    cr_assert(strstr(mig, "<mac address='52:54:00:12:34:56'/>"), "%s", mig);
    cr_assert(strstr(mig, "<target dev='hdc' bus='ide'/>"), "%s", mig);
    cr_assert(strstr(mig, "<memballoon model='virtio'>"), "%s", mig);
    cr_assert(strstr(mig, "<video>"), "%s", mig);
}

Test(domxml_unit, migratable_parses_back_to_the_same_guest)
{
    g_autoptr(qv_domdef) def = parse_ok(migratable_xml);
    g_autofree char *mig = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_MIGRATABLE);
    g_autoptr(qv_domdef) back = parse_ok(mig);
    g_autofree char *full = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE);
    g_autofree char *full2 = qv_domxml_format(back, QV_DOMXML_FORMAT_INACTIVE);
    /* the same elements, addresses and MACs (implicit controllers come back
     * after the explicit ones) */
    g_autofree char *a = sorted_lines(full), *b = sorted_lines(full2);
    cr_assert_str_eq(a, b, "before:\n%s\nafter:\n%s", full, full2);
    g_autofree char *abi = abi_of(def), *abi2 = abi_of(back);
    cr_assert_str_eq(abi, abi2);
    /* and the migratable form is a fixed point */
    g_autofree char *mig2 = qv_domxml_format(back, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_MIGRATABLE);
    g_autofree char *m1 = sorted_lines(mig), *m2 = sorted_lines(mig2);
    cr_assert_str_eq(m1, m2, "before:\n%s\nafter:\n%s", mig, mig2);
}

Test(domxml_unit, migratable_keeps_what_it_cannot_restore)
{
    static const struct { const char *devices, *kept; } cases[] = {
        /* q35: pcie-root and qemu-xhci were never implicit in old libvirt */
        { "<graphics type='vnc'/>", "<controller type='pci' index='0' model='pcie-root'/>" },
        { "<graphics type='vnc'/>", "<controller type='usb' index='0' model='qemu-xhci'>" },
        /* two USB controllers */
        { "<controller type='usb' index='0' model='piix3-uhci'/><controller type='usb' index='1' model='qemu-xhci'/>",
          "<controller type='usb' index='0' model='piix3-uhci'>" },
        /* a user alias, a non-default model or address */
        { "<controller type='usb' index='0' model='piix3-uhci'><alias name='ua-u'/></controller>",
          "<controller type='usb' index='0' model='piix3-uhci'>" },
        { "<controller type='usb' index='0' model='ich9-ehci1'/>", "<controller type='usb' index='0' model='ich9-ehci1'>" },
        { "<controller type='usb' index='0' model='piix3-uhci'><address type='pci' slot='7'/></controller>",
          "<controller type='usb' index='0' model='piix3-uhci'>" },
        /* pci-root next to a bridge */
        { "<controller type='pci' index='1' model='pci-bridge'/>", "<controller type='pci' index='0' model='pci-root'/>" },
        /* a keyboard no graphics imply, or not the last input */
        { "<input type='keyboard' bus='ps2'/>", "<input type='keyboard' bus='ps2'/>" },
        { "<graphics type='vnc'/><input type='keyboard' bus='ps2'/><input type='tablet' bus='usb'/>",
          "<input type='keyboard' bus='ps2'/>" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain type='qemu'><name>k</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64' machine='%s'>hvm</type></os><devices>%s</devices></domain>",
            i < 2 ? "q35" : "pc", cases[i].devices);
        g_autoptr(qv_domdef) def = parse_ok(xml);
        g_autofree char *mig = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_MIGRATABLE);
        cr_assert(strstr(mig, cases[i].kept), "case %zu lost %s:\n%s", i, cases[i].kept, mig);
        g_autoptr(qv_domdef) back = parse_ok(mig);
        g_autofree char *abi = abi_of(def), *abi2 = abi_of(back);
        cr_assert_str_eq(abi, abi2, "case %zu", i);
    }
}

Test(domxml_unit, migratable_live_keeps_runtime_facts)
{
    g_autoptr(qv_domdef) def = parse_ok(migratable_xml);
    def->id = 9;
    g_autofree char *mig = qv_domxml_format(def, QV_DOMXML_FORMAT_MIGRATABLE);
    cr_assert(strstr(mig, "<domain type='qemu' id='9'>"), "%s", mig);
    cr_assert(strstr(mig, "<alias name='net0'/>"), "%s", mig);
    cr_assert_null(strstr(mig, "<controller type='usb'"), "%s", mig);
    /* the password needs SECURE, migratable or not */
    cr_assert_null(strstr(mig, "passwd="), "%s", mig);
}

static unsigned int count_pci_controllers(const qv_domdef *def)
{
    unsigned int n = 0;
    for (guint i = 0; i < def->controllers->len; i++)
        n += ((qv_domdef_controller *)g_ptr_array_index(def->controllers, i))->type == QV_CTRL_PCI;
    return n;
}

/* A q35 domain whose devices all have addresses is one already defined (or
 * running): loading it again must not add root ports, or the definition
 * would name buses the running QEMU does not have. */
Test(domxml_unit, q35_addressed_domain_gains_no_root_port)
{
    static const char *const xml =
        "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>"
        "<os><type machine='q35'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='/x.img'/><target dev='vda'/>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk>"
        "<controller type='usb' index='0' model='none'/>"
        "<memballoon model='none'/>"
        "</devices></domain>";
    g_autoptr(qv_domdef) def = parse_ok(xml);
    cr_assert_eq(count_pci_controllers(def), 1, "only pcie-root, got %u PCI controllers",
                 count_pci_controllers(def));
    /* The same domain with the disk unaddressed is new: a root port for the
     * disk plus libvirt's spare one for hotplug. */
    g_autofree char *fresh = g_strdup(xml);
    char *a = strstr(fresh, "<address");
    char *e = strstr(a, "/>") + 2;
    memmove(a, e, strlen(e) + 1);
    g_autoptr(qv_domdef) def2 = parse_ok(fresh);
    cr_assert_eq(count_pci_controllers(def2), 3);
}

/* Indexes left out are numbered per type in document order, around the
 * ones given, and companions join their EHCI master. */
Test(domxml_unit, controller_indexes_fill_gaps_in_document_order)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>64</memory>"
        "<os><type machine='q35'>hvm</type></os><devices>"
        "<controller type='pci' model='pcie-root'/>"
        "<controller type='pci' model='pcie-root-port'/>"
        "<controller type='pci' index='2' model='pcie-root-port'/>"
        "<controller type='pci' model='pcie-root-port'/>"
        "<controller type='scsi' model='virtio-scsi'/>"
        "<controller type='scsi' model='virtio-scsi'/>"
        "<controller type='usb' index='1' model='ich9-ehci1'/>"
        "<controller type='usb' model='ich9-uhci1'><master startport='0'/></controller>"
        "</devices></domain>");
    static const struct { int type; unsigned int index; } want[] = {
        { QV_CTRL_PCI, 0 }, { QV_CTRL_PCI, 1 }, { QV_CTRL_PCI, 2 }, { QV_CTRL_PCI, 3 },
        { QV_CTRL_SCSI, 0 }, { QV_CTRL_SCSI, 1 }, { QV_CTRL_USB, 1 }, { QV_CTRL_USB, 1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        cr_assert_eq(c->type, want[i].type, "controller %zu", i);
        cr_assert_eq(c->index, want[i].index, "controller %zu: index %u, want %u", i, c->index, want[i].index);
    }
}

/* The migration's ABI check (abi.c): host-side changes pass, guest-visible
 * ones are refused naming what changed; implicit controllers may come in
 * another order, and an address given on one side only is no change. */
static int abi(const char *a, const char *b, char **msg)
{
    g_autoptr(qv_domdef) x = parse_ok(a);
    g_autoptr(qv_domdef) y = parse_ok(b);
    /* Generated values (UUID, MACs) are the same guest's. */
    memcpy(y->uuid, x->uuid, 16);
    for (guint i = 0; i < x->nets->len && i < y->nets->len; i++)
        memcpy(((qv_domdef_net *)y->nets->pdata[i])->mac,
               ((qv_domdef_net *)x->nets->pdata[i])->mac, 6);
    g_autoptr(qv_error) err = NULL;
    int r = qv_domdef_check_abi(x, y, &err);
    *msg = g_strdup(err ? qv_error_message(err) : "");
    return r;
}

Test(domxml_unit, migration_abi_check)
{
    g_autofree char *m = NULL;
    /* Another image path: fine. */
    g_autoptr(GString) other_path = g_string_new(basic_xml);
    g_string_replace(other_path, "/x.img", "/elsewhere/x.img", 1);
    cr_assert_eq(abi(basic_xml, other_path->str, &m), 0, "%s", m);
    g_free(g_steal_pointer(&m));
    /* More memory, another disk target, another NIC model: refused. */
    const struct { const char *from, *to, *word; } bad[] = {
        { "<memory unit='MiB'>64</memory>", "<memory unit='MiB'>128</memory>", "memory size" },
        { "<target dev='vda'/>", "<target dev='vdb'/>", "disks" },
        { "<model type='virtio'/>", "<model type='e1000'/>", "network interfaces" },
        { "<serial type='pty'/>", "", "serial ports" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GString) x = g_string_new(basic_xml);
        g_string_replace(x, bad[i].from, bad[i].to, 1);
        cr_assert_eq(abi(basic_xml, x->str, &m), -EINVAL, "case %zu accepted", i);
        cr_assert(strstr(m, bad[i].word), "case %zu: %s", i, m);
        g_free(g_steal_pointer(&m));
    }
    /* The disk moved to another PCI slot (the parser gives the plain XML's
     * disk one of its own): refused. */
    g_autoptr(GString) addr = g_string_new(basic_xml);
    g_string_replace(addr, "<target dev='vda'/>", "<target dev='vda'/><address type='pci' "
                     "domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>", 1);
    cr_assert_eq(abi(addr->str, addr->str, &m), 0, "%s", m);
    g_free(g_steal_pointer(&m));
    g_autoptr(GString) addr2 = g_string_new(addr->str);
    g_string_replace(addr2, "slot='0x07'", "slot='0x08'", 1);
    cr_assert_eq(abi(addr->str, addr2->str, &m), -EINVAL);
    g_free(g_steal_pointer(&m));
}

Test(domxml_unit, qemu_environment)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
        "<name>t</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
        "<clock offset='timezone' timezone='Europe/Paris'/>"
        "<devices><audio id='1' type='sdl' driver='alsa'/></devices>"
        "<qemu:commandline><qemu:arg value='-no-hpet'/><qemu:env name='A_1' value='x=y'/>"
        "<qemu:env name='B'/></qemu:commandline></domain>");
    g_auto(GStrv) env = qv_domxml_build_env(def);
    cr_assert_eq(g_strv_length(env), 4);
    cr_assert_str_eq(env[0], "TZ=Europe/Paris");
    cr_assert_str_eq(env[1], "SDL_AUDIODRIVER=alsa");
    cr_assert_str_eq(env[2], "A_1=x=y");
    cr_assert_str_eq(env[3], "B=");
    cr_assert(qv_domdef_tainted_custom_argv(def));

    g_autoptr(qv_domdef) plain = parse_ok(basic_xml);
    g_auto(GStrv) none = qv_domxml_build_env(plain);
    cr_assert_eq(g_strv_length(none), 0);
    cr_assert(!qv_domdef_tainted_custom_argv(plain));
}

Test(domxml_unit, qemu_namespace_survives_copy)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu' xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'>"
        "<name>t</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
        "<q:capabilities><q:del capability='foo'/></q:capabilities></domain>");
    g_autoptr(qv_domdef) copy = qv_domdef_copy(def);
    g_autofree char *xml = qv_domxml_format(copy, QV_DOMXML_FORMAT_INACTIVE);
    cr_assert(strstr(xml, "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"), "%s", xml);
    cr_assert(strstr(xml, "<qemu:del capability='foo'/>"), "%s", xml);
}

Test(domxml_unit, hugetlbfs_dirs_are_the_argv_mem_paths)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>256</memory><os><type>hvm</type></os>"
        "<memoryBacking><hugepages><page size='2048' unit='KiB' nodeset='0'/>"
        "<page size='1' unit='GiB' nodeset='1'/></hugepages></memoryBacking>"
        "<cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/>"
        "<cell id='1' cpus='0' memory='128' unit='MiB'/></numa></cpu></domain>");
    g_auto(GStrv) dirs = qv_domdef_hugetlbfs_dirs(def);
    cr_assert_eq(g_strv_length(dirs), 2);
    cr_assert_str_eq(dirs[0], "/dev/hugepages");
    cr_assert_str_eq(dirs[1], "/dev/hugepages1G");

    /* memfd with hugetlb needs no mount; no hugepages, none either. */
    g_autoptr(qv_domdef) memfd = parse_ok(
        "<domain type='qemu'><name>t</name><memory unit='MiB'>256</memory><os><type>hvm</type></os>"
        "<memoryBacking><hugepages/><source type='memfd'/></memoryBacking></domain>");
    g_auto(GStrv) none = qv_domdef_hugetlbfs_dirs(memfd);
    cr_assert_eq(g_strv_length(none), 0);
    g_autoptr(qv_domdef) plain = parse_ok(basic_xml);
    g_auto(GStrv) none2 = qv_domdef_hugetlbfs_dirs(plain);
    cr_assert_eq(g_strv_length(none2), 0);
}

/* TLS on TCP chardevs follows the host's chardev_tls settings where the
 * XML has no tls=: on for all with chardev_tls, a listening one trusting
 * clients without certificates with chardev_tls_no_verify, tls='no' off
 * whatever the host says; and a hotplugged TLS channel makes its
 * credentials object before the chardev that names it. */
Test(domxml_unit, chardev_tls_host_defaults_and_hotplug)
{
    g_autoptr(qv_domdef) def = parse_ok(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<controller type='virtio-serial' index='0'/>"
        "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='4000'/><target port='0'/></serial>"
        "<serial type='tcp'><source mode='connect' host='127.0.0.1' service='4001' tls='no'/><target port='1'/></serial>"
        "</devices></domain>");
    qv_build_ctx ctx = { NULL, 3, -1, "/run/x" };
    ctx.chardev_tls = true;
    ctx.chardev_tls_no_verify = true;
    ctx.chardev_tls_x509_dir = "/etc/pki/x";
    g_auto(GStrv) argv = NULL;
    cr_assert_eq(qv_domxml_build_argv(def, &ctx, &argv, NULL), 0);
    g_autofree char *all = g_strjoinv("\n", argv);
    cr_assert(strstr(all, "\n{\"qom-type\":\"tls-creds-x509\",\"id\":\"objcharserial0_tls0\",\"dir\":\"/etc/pki/x\","
                          "\"endpoint\":\"server\",\"verify-peer\":false}\n-chardev\n"
                          "socket,id=charserial0,host=127.0.0.1,port=4000,server=on,wait=off,tls-creds=objcharserial0_tls0\n"),
              "%s", all);
    cr_assert(strstr(all, "\nsocket,id=charserial1,host=127.0.0.1,port=4001\n"), "%s", all);
    cr_assert_null(strstr(all, "objcharserial1_tls0"));

    g_autoptr(qv_domdef) newdef = NULL;
    qv_domdef_devref dev = { 0 };
    qv_error *err = NULL;
    cr_assert_eq(qv_domxml_parse_device("<channel type='tcp'><source mode='connect' host='127.0.0.1' "
                                        "service='4002' tls='yes'/><target type='virtio' name='org.example.t'/></channel>",
                                        def, &newdef, &dev, &err), 0, "%s", err ? qv_error_message(err) : "");
    qv_build_ctx hctx = { .runtime_dir = "/run/x", .chardev_tls_x509_dir = "/etc/pki/x" };
    g_autoptr(GPtrArray) items = NULL;
    cr_assert_eq(qv_domxml_build_hotplug(newdef, &dev, &hctx, &items, &err), 0, "%s", err ? qv_error_message(err) : "");
    int obj = -1, chr = -1;
    for (guint i = 0; i < items->len; i++) {
        const qv_hotplug_item *it = g_ptr_array_index(items, i);
        const char *j = json_object_to_json_string_ext(it->args, JSON_C_TO_STRING_PLAIN);
        if (!strcmp(it->opt, "-object") && strstr(j, "tls-creds-x509") && strstr(j, "\"endpoint\":\"client\"") &&
            strstr(j, "\"verify-peer\":true"))
            obj = (int)i;
        if (!strcmp(it->opt, "-chardev") && strstr(j, "\"tls-creds\":\"objcharchannel0_tls0\""))
            chr = (int)i;
    }
    cr_assert(obj >= 0 && chr > obj, "the credentials object must come before the chardev (%d, %d)", obj, chr);
}

/* SPICE TLS where golden cases cannot show it: a socket display has no TLS
 * port whatever the XML says (libvirt ignores tlsPort there), a display
 * that listens nowhere has no secure connection for defaultMode='secure',
 * the x509 folder comes from the context, and a channel named twice takes
 * its last mode, in libvirt's channel order. */
Test(domxml_unit, spice_tls_listen_kinds_and_folder)
{
    qv_build_ctx ctx = { NULL, 3, -1, "/run/x", .spice_tls = true,
                         .spice_tls_x509_dir = "/etc/pki/a,b" };
    g_autoptr(qv_domdef) sock = parse_ok(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<graphics type='spice' tlsPort='5901' autoport='no'><listen type='socket' socket='/run/x/s.sock'/></graphics>"
        "</devices></domain>");
    g_auto(GStrv) argv = NULL;
    cr_assert_eq(qv_domxml_build_argv(sock, &ctx, &argv, NULL), 0);
    g_autofree char *all = g_strjoinv("\n", argv);
    cr_assert(strstr(all, "\nunix=on,addr=/run/x/s.sock,disable-ticketing=on,seamless-migration=on\n"), "%s", all);

    g_autoptr(qv_domdef) none = parse_ok(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<graphics type='spice' defaultMode='secure'><listen type='none'/></graphics>"
        "</devices></domain>");
    g_auto(GStrv) argv2 = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domxml_build_argv(none, &ctx, &argv2, &err), -EINVAL);
    cr_assert_str_eq(qv_error_message(err), "/domain/devices/graphics: spice defaultMode secure "
                     "requested in XML configuration, but TLS connection is not available.");

    g_autoptr(qv_domdef) twice = parse_ok(
        "<domain type='qemu'><name>t</name><memory>65536</memory><os><type>hvm</type></os><devices>"
        "<graphics type='spice' port='5900' tlsPort='5901' autoport='no'>"
        "<channel name='usbredir' mode='secure'/><channel name='main' mode='insecure'/>"
        "<channel name='usbredir' mode='any'/><channel name='inputs' mode='secure'/></graphics>"
        "</devices></domain>");
    g_auto(GStrv) argv3 = NULL;
    cr_assert_eq(qv_domxml_build_argv(twice, &ctx, &argv3, NULL), 0);
    g_autofree char *all3 = g_strjoinv("\n", argv3);
    cr_assert(strstr(all3, "\nport=5900,tls-port=5901,addr=127.0.0.1,disable-ticketing=on,"
                           "x509-dir=/etc/pki/a,,b,plaintext-channel=main,tls-channel=inputs,"
                           "seamless-migration=on\n"), "%s", all3);
}
