#!/usr/bin/env python3
"""Generate lib/remote-gen.c: the calls of a qvirt+ssh:// connection.

    scripts/gen-remote.py            # rewrite lib/remote-gen.c
    scripts/gen-remote.py --check    # exit 1 when it is stale, or when a
                                     # public call lacks its remote hook

It reads the public headers (lib/qvirt/*.h) and writes, for every public
call made on a connection, a domain or a snapshot:
  - the client's stub qv_remote__NAME, with the public call's signature,
    which sends the call to the remote side (lib/remote.c) and unpacks its
    results;
  - the server's handler, which unpacks the arguments, makes the same call
    on the remote host's local connection and packs the results
    (lib/remote-serve.c runs them);
  - a JSON codec for every public struct those calls take or give.
Calls whose arguments are not plain values (buffers, arrays sized by another
argument, file descriptors, callbacks) are listed in SPECIAL and written by
hand in lib/remote-special.c; calls that need no connection are in LOCAL.
--check also makes sure every public call outside LOCAL hands a remote
connection's work to its stub (a `qv_remote__NAME(` in lib/*.c), so a new
call cannot forget the remote side.
"""
import argparse
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "lib", "remote-gen.c")

# Calls that touch no connection: answered from the handle or pure helpers.
LOCAL = {
    "qv_conn_open", "qv_conn_close", "qv_conn_closep", "qv_conn_get_uri",
    "qv_domain_list_free", "qv_domain_free", "qv_domain_freep", "qv_domain_get_name",
    "qv_domain_get_uuid", "qv_domain_get_uuid_string", "qv_event_id_to_string",
    "qv_conn_event_source_new", "qv_conn_event_run", "qv_keycode_set_from_string",
    "qv_keycode_set_to_string", "qv_keycode_from_name", "qv_keycode_translate",
    "qv_cpumap_parse", "qv_cpumap_format", "qv_block_iotune_clear", "qv_snapshot_get_name",
    "qv_snapshot_get_domain", "qv_snapshot_free", "qv_snapshot_freep",
    "qv_snapshot_list_free", "qv_snapshot_names_free", "qv_sched_param_name",
    "qv_sched_param_field", "qv_blkio_params_clear", "qv_numa_params_clear",
    # lib/events.c branches on conn->remote itself: the callbacks stay in
    # this process, and the events come on a stream (lib/remote.c).
    "qv_conn_domain_event_register_any", "qv_conn_domain_event_deregister_any",
    "qv_conn_event_get_fd", "qv_conn_event_dispatch",
    # the remote side itself
    "qv_conn_remote_serve",
    # the positional forms hand over to migrate and migrate_to_uri, which
    # have the hooks
    "qv_domain_migrate2", "qv_domain_migrate_to_uri2",
}

# Written by hand (lib/remote-special.c): buffers, arrays sized by another
# argument, file descriptors, callbacks, handles of another connection.
SPECIAL = {
    "qv_domain_get_id", "qv_domain_block_peek", "qv_domain_memory_peek",
    "qv_domain_get_disk_errors", "qv_domain_memory_stats", "qv_domain_get_vcpu_info",
    "qv_domain_get_vcpu_pin_info", "qv_domain_pin_vcpu", "qv_domain_get_emulator_pin_info",
    "qv_domain_pin_emulator", "qv_domain_send_key", "qv_domain_screenshot",
    "qv_domain_open_console", "qv_domain_open_channel", "qv_domain_open_graphics",
    "qv_domain_open_graphics_fd", "qv_domain_create_with_files", "qv_conn_migrate_incoming",
    "qv_domain_get_security_label_list", "qv_conn_get_node_cpu_map", "qv_domain_get_cpu_stats",
    "qv_domain_migrate",
}

# The structs the hand-written calls exchange (remote.h declares their codecs).
HAND_STRUCTS = {"qv_disk_error", "qv_memory_stat", "qv_vcpu_info", "qv_security_label",
                "qv_cpu_stats", "qv_migrate_params"}

# How a struct with strings of its own gives them back.
CLEAR = {
    "qv_blkio_params": "qv_blkio_params_clear", "qv_numa_params": "qv_numa_params_clear",
    "qv_block_iotune": "qv_block_iotune_clear",
}

SIGNED = {"int", "long long", "long"}
UNSIGNED = {"unsigned int", "unsigned long", "unsigned long long", "size_t"}


def die(msg):
    sys.stderr.write("gen-remote: %s\n" % msg)
    sys.exit(1)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def read_headers():
    protos, structs = [], {}
    for path in sorted(glob.glob(os.path.join(ROOT, "lib", "qvirt", "*.h"))):
        text = strip_comments(open(path).read())
        flat = re.sub(r"\s+", " ", text)
        for m in re.finditer(r"QV_PUBLIC ([^;(]*?)\b(qv_\w+)\s*\(([^;]*)\)\s*;", flat):
            protos.append((m.group(1).strip(), m.group(2), m.group(3).strip()))
        for m in re.finditer(r"typedef struct (\w+) \{(.*?)\} (\w+);", flat):
            structs[m.group(3)] = parse_fields(m.group(3), m.group(2))
    return protos, structs


def parse_fields(sname, body):
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        m = re.match(r"((?:const )?(?:unsigned )?(?:long long|long|int|char|bool|size_t|"
                     r"double)(?: \*const \*| \*)?)\s*(.*)$", decl)
        if not m:
            die("struct %s: cannot read field '%s'" % (sname, decl))
        ctype = m.group(1).replace(" *", "*").replace("*const*", "*const *")
        for name in m.group(2).split(","):
            name = name.strip()
            star = ""
            while name.startswith("*"):
                star += "*"
                name = name[1:].strip()
            am = re.match(r"(\w+)\[(\w+)\]$", name)
            if am:
                fields.append((ctype + star, am.group(1), am.group(2)))
            else:
                fields.append((ctype + star, name, None))
    return fields


def split_params(params):
    out = []
    for p in params.split(","):
        p = p.strip()
        m = re.match(r"(.*?)(\w+)(\[\w*\])?$", p)
        ctype = re.sub(r"\s+", " ", m.group(1)).strip()
        ctype = ctype.replace(" *", "*").replace("* ", "*")
        out.append((ctype, m.group(2), m.group(3)))
    return out


def param_kind(ctype, arr, structs, pos, name):
    base = ctype.rstrip("*")
    stars = len(ctype) - len(base)
    if pos == 0 and ctype in ("qv_conn*", "qv_domain*", "qv_snapshot*"):
        return "self"
    if ctype == "qv_error**":
        return "err"
    if ctype == "const char*":
        return "str"
    if stars == 0 and base in SIGNED:
        return "int"
    if stars == 0 and base in UNSIGNED:
        return "uint"
    if stars == 0 and base == "double":
        return "double"
    if stars == 1 and base in SIGNED:
        return "out_int"
    if stars == 1 and base in UNSIGNED:
        return "out_uint"
    if ctype == "const unsigned char" and arr == "[16]":
        return "uuid"
    if ctype == "char**":
        return "out_str"
    if ctype == "char***":
        return "out_strv"
    if ctype == "qv_domain**":
        return "out_dom"
    if ctype == "qv_domain***":
        return "out_domv"
    if ctype == "qv_snapshot**":
        return "out_snap"
    if ctype == "qv_snapshot***":
        return "out_snapv"
    if stars == 1 and base.startswith("const ") and base[6:] in structs:
        return "in_struct"
    if stars == 1 and base in structs:
        return "out_struct"
    die("%s: no remote form for parameter '%s %s'" % (pos, ctype, name))


class W:
    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        self.lines.append(s)


# ---- struct codecs --------------------------------------------------------

def field_fits(sname, fname):
    return "QV_FITS(%s, %s, limit)" % (sname, fname)


def emit_codecs(w, structs, used):
    for sname in sorted(used):
        fields = structs[sname]
        names = {f[1] for f in fields}
        w("static void put_%s(json_object *o, const %s *s, size_t limit)" % (sname, sname))
        w("{")
        w("    (void)limit;")
        skip = set()
        for ctype, fname, arr in fields:
            if fname in skip:
                continue
            fits = field_fits(sname, fname)
            if arr:
                w("    if (%s)" % fits)
                w("        json_object_object_add(o, \"%s\", json_object_new_string(s->%s));"
                  % (fname, fname))
            elif ctype in ("char*", "const char*"):
                w("    if (%s && s->%s)" % (fits, fname))
                w("        json_object_object_add(o, \"%s\", json_object_new_string(s->%s));"
                  % (fname, fname))
            elif ctype == "const char*const *":
                n = "n_" + fname
                if n not in names:
                    die("struct %s: %s has no %s" % (sname, fname, n))
                skip.add(n)
                w("    if (%s && %s && s->%s) {" % (fits, field_fits(sname, n), fname))
                w("        json_object *a = json_object_new_array();")
                w("        for (size_t i = 0; i < s->%s; i++)" % n)
                w("            json_object_array_add(a, json_object_new_string(s->%s[i]));"
                  % fname)
                w("        json_object_object_add(o, \"%s\", a);" % fname)
                w("    }")
            elif ctype == "bool":
                w("    if (%s)" % fits)
                w("        json_object_object_add(o, \"%s\", json_object_new_boolean(s->%s));"
                  % (fname, fname))
            elif ctype in SIGNED:
                w("    if (%s)" % fits)
                w("        json_object_object_add(o, \"%s\", json_object_new_int64(s->%s));"
                  % (fname, fname))
            elif ctype in UNSIGNED:
                w("    if (%s)" % fits)
                w("        json_object_object_add(o, \"%s\", json_object_new_uint64(s->%s));"
                  % (fname, fname))
            else:
                die("struct %s: no remote form for field '%s %s'" % (sname, ctype, fname))
        w("}")
        w()
        # get: strings owned by the struct are copied (on the server, keep
        # frees them after the call); borrowed ones (const) point into o,
        # which outlives the call (the server's request).
        w("static void get_%s(json_object *o, %s *s, size_t limit, GPtrArray *keep)"
          % (sname, sname))
        w("{")
        w("    (void)limit;")
        w("    (void)keep;")
        w("    json_object *v;")
        for ctype, fname, arr in fields:
            # A struct's size is its holder's, never the other side's: the
            # other side's struct may be larger (a newer qvirt).
            if fname in skip or (fname == "size" and ctype == "size_t"):
                continue
            fits = field_fits(sname, fname)
            w("    if (%s && json_object_object_get_ex(o, \"%s\", &v))" % (fits, fname))
            if arr:
                w("        g_strlcpy(s->%s, v ? json_object_get_string(v) : \"\", sizeof s->%s);"
                  % (fname, fname))
            elif ctype == "char*":
                # The caller's to free, or with keep (the server's input:
                # nobody frees it) freed after the call.
                w("    {")
                w("        s->%s = g_strdup(json_object_get_string(v));" % fname)
                w("        if (keep)")
                w("            g_ptr_array_add(keep, s->%s);" % fname)
                w("    }")
            elif ctype == "const char*":
                w("        s->%s = json_object_get_string(v);" % fname)
            elif ctype == "const char*const *":
                n = "n_" + fname
                w("    {")
                w("        size_t n = json_object_is_type(v, json_type_array) ? "
                  "json_object_array_length(v) : 0;")
                w("        const char **a = g_new0(const char *, n + 1);")
                w("        for (size_t i = 0; i < n; i++)")
                w("            a[i] = json_object_get_string(json_object_array_get_idx(v, i));")
                w("        g_ptr_array_add(keep, a);")
                w("        s->%s = a;" % fname)
                w("        if (%s)" % field_fits(sname, n))
                w("            s->%s = n;" % n)
                w("    }")
            elif ctype == "bool":
                w("        s->%s = json_object_get_boolean(v);" % fname)
            elif ctype in SIGNED:
                w("        s->%s = json_object_get_int64(v);" % fname)
            else:
                w("        s->%s = json_object_get_uint64(v);" % fname)
        w("}")
        w()


def sized(structs, sname):
    return any(f[1] == "size" and f[0] == "size_t" for f in structs[sname])


# ---- client stubs ---------------------------------------------------------

def emit_client(w, ret, name, params, kinds, structs):
    sig = []
    for (ctype, pname, arr), kind in zip(params, kinds):
        base = ctype.rstrip("*")
        stars = ctype[len(base):]
        sig.append("%s %s%s%s" % (base, stars, pname, arr or ""))
    w("%s qv_remote__%s(%s)" % (ret, name, ", ".join(sig)))
    w("{")
    w("    g_autoptr(json_object) a = json_object_new_array();")
    selfname = params[0][1]
    selfkind = params[0][0]
    if selfkind == "qv_domain*":
        w("    json_object_array_add(a, qv_remote_dom_ref(%s));" % selfname)
        conn = "%s->conn" % selfname
    elif selfkind == "qv_snapshot*":
        w("    json_object_array_add(a, qv_remote_snap_ref(%s));" % selfname)
        conn = "qv_remote_snap_conn(%s)" % selfname
    else:
        conn = selfname
    for (ctype, pname, arr), kind in zip(params[1:], kinds[1:]):
        base = ctype.rstrip("*")
        if kind == "str":
            w("    json_object_array_add(a, %s ? json_object_new_string(%s) : NULL);"
              % (pname, pname))
        elif kind == "int":
            w("    json_object_array_add(a, json_object_new_int64(%s));" % pname)
        elif kind == "uint":
            w("    json_object_array_add(a, json_object_new_uint64(%s));" % pname)
        elif kind == "uuid":
            w("    json_object_array_add(a, qv_remote_uuid_ref(%s));" % pname)
        elif kind == "in_struct":
            sname = base[6:]
            w("    if (%s) {" % pname)
            w("        json_object *s = json_object_new_object();")
            lim = "%s->size < sizeof *%s ? %s->size : sizeof *%s" % ((pname,) * 4) \
                if sized(structs, sname) else "sizeof *%s" % pname
            w("        put_%s(s, %s, %s);" % (sname, pname, lim))
            w("        json_object_array_add(a, s);")
            w("    } else {")
            w("        json_object_array_add(a, NULL);")
            w("    }")
        elif kind == "out_struct" and sized(structs, base):
            w("    json_object_array_add(a, %s ? json_object_new_uint64(%s->size) : NULL);"
              % (pname, pname))
        elif kind.startswith("out_"):
            w("    json_object_array_add(a, json_object_new_boolean(%s != NULL));" % pname)
        elif kind == "err":
            pass
        else:
            die("%s: client cannot send %s" % (name, kind))
    errp = params[-1][1]
    w("    g_autoptr(json_object) o = NULL;")
    w("    long long r = qv_remote_call(%s, \"%s\", a, &o, %s);" % (conn, name, errp))
    w("    if (r < 0)")
    w("        return r;")
    idx = 0
    for (ctype, pname, arr), kind in zip(params, kinds):
        base = ctype.rstrip("*")
        if not kind.startswith("out_"):
            continue
        v = "json_object_array_get_idx(o, %d)" % idx
        idx += 1
        if kind == "out_int":
            w("    if (%s)" % pname)
            w("        *%s = json_object_get_int64(%s);" % (pname, v))
        elif kind == "out_uint":
            w("    if (%s)" % pname)
            w("        *%s = json_object_get_uint64(%s);" % (pname, v))
        elif kind == "out_str":
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_str(%s);" % (pname, v))
        elif kind == "out_strv":
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_strv(%s);" % (pname, v))
        elif kind == "out_dom":
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_dom(%s, %s);" % (pname, conn, v))
        elif kind == "out_domv":
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_domv(%s, %s);" % (pname, conn, v))
        elif kind == "out_snap":
            dom = selfname if selfkind == "qv_domain*" else "qv_snapshot_get_domain(%s)" % selfname
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_snap(%s, %s);" % (pname, dom, v))
        elif kind == "out_snapv":
            dom = selfname if selfkind == "qv_domain*" else "qv_snapshot_get_domain(%s)" % selfname
            w("    if (%s)" % pname)
            w("        *%s = qv_remote_take_snapv(%s, %s);" % (pname, dom, v))
        elif kind == "out_struct":
            lim = "%s->size < sizeof *%s ? %s->size : sizeof *%s" % ((pname,) * 4) \
                if sized(structs, base) else "sizeof *%s" % pname
            w("    if (%s && %s)" % (pname, v))
            w("        get_%s(%s, %s, %s, NULL);" % (base, v, pname, lim))
    w("    return r;")
    w("}")
    w()


# ---- server handlers ------------------------------------------------------

def emit_server(w, ret, name, params, kinds, structs):
    w("static long long serve__%s(qv_remote_req *q, json_object *o, qv_error **err)" % name)
    w("{")
    selfkind = params[0][0]
    call = []
    n = 0
    if selfkind == "qv_domain*":
        w("    g_autoptr(qv_domain) self = NULL;")
        w("    if (qv_remote_arg_dom(q, %d, &self, err) < 0)" % n)
        w("        return qv_error_code(*err);")
        call.append("self")
        n += 1
    elif selfkind == "qv_snapshot*":
        w("    g_autoptr(qv_domain) sdom = NULL;")
        w("    g_autoptr(qv_snapshot) self = NULL;")
        w("    if (qv_remote_arg_snap(q, %d, &sdom, &self, err) < 0)" % n)
        w("        return qv_error_code(*err);")
        call.append("self")
        n += 1
    else:
        call.append("q->conn")
    post = []
    for (ctype, pname, arr), kind in zip(params[1:], kinds[1:]):
        base = ctype.rstrip("*")
        v = "qv_remote_arg(q, %d)" % n
        if kind == "err":
            call.append("err")
            continue
        n += 1
        if kind == "str":
            call.append("qv_remote_arg_str(q, %d)" % (n - 1))
        elif kind == "int":
            call.append("(%s)json_object_get_int64(%s)" % (base, v))
        elif kind == "uint":
            call.append("(%s)json_object_get_uint64(%s)" % (base, v))
        elif kind == "uuid":
            w("    unsigned char a_%s[16];" % pname)
            w("    if (qv_remote_arg_uuid(q, %d, a_%s, err) < 0)" % (n - 1, pname))
            w("        return qv_error_code(*err);")
            call.append("a_%s" % pname)
        elif kind == "in_struct":
            sname = base[6:]
            w("    %s a_%s = { 0 };" % (sname, pname))
            w("    bool has_%s = %s != NULL;" % (pname, v))
            if sized(structs, sname):
                w("    if (has_%s) {" % pname)
                w("        json_object *sz = json_object_object_get(%s, \"size\");" % v)
                w("        a_%s.size = sz ? MIN(json_object_get_uint64(sz), sizeof a_%s) : 0;"
                  % (pname, pname))
                w("        get_%s(%s, &a_%s, a_%s.size, q->keep);" % (sname, v, pname, pname))
                w("    }")
            else:
                w("    if (has_%s)" % pname)
                w("        get_%s(%s, &a_%s, sizeof a_%s, q->keep);" % (sname, v, pname, pname))
            call.append("has_%s ? &a_%s : NULL" % (pname, pname))
        elif kind == "out_struct":
            w("    %s a_%s = { 0 };" % (base, pname))
            if sized(structs, base):
                w("    bool want_%s = %s != NULL;" % (pname, v))
                w("    a_%s.size = want_%s ? MIN(json_object_get_uint64(%s), sizeof a_%s) : 0;"
                  % (pname, pname, v, pname))
                lim = "a_%s.size" % pname
            else:
                w("    bool want_%s = json_object_get_boolean(%s);" % (pname, v))
                lim = "sizeof a_%s" % pname
            call.append("want_%s ? &a_%s : NULL" % (pname, pname))
            post.append(("struct", pname, base, lim))
        elif kind.startswith("out_"):
            decl = {
                "out_int": base, "out_uint": base, "out_str": "g_autofree char *",
                "out_strv": "char **", "out_dom": "qv_domain *", "out_domv": "qv_domain **",
                "out_snap": "qv_snapshot *", "out_snapv": "qv_snapshot **",
            }[kind]
            init = "0" if kind in ("out_int", "out_uint") else "NULL"
            sep = "" if decl.endswith("*") else " "
            w("    %s%sa_%s = %s;" % (decl, sep, pname, init))
            w("    bool want_%s = json_object_get_boolean(%s);" % (pname, v))
            call.append("want_%s ? &a_%s : NULL" % (pname, pname))
            post.append((kind, pname, base, None))
        else:
            die("%s: server cannot read %s" % (name, kind))
    w("    long long r = %s(%s);" % (name, ", ".join(call)))
    for kind, pname, base, lim in post:
        if kind == "struct":
            w("    if (r >= 0 && want_%s) {" % pname)
            w("        json_object *s = json_object_new_object();")
            w("        put_%s(s, &a_%s, %s);" % (base, pname, lim))
            w("        json_object_array_add(o, s);")
            w("    } else {")
            w("        json_object_array_add(o, NULL);")
            w("    }")
            if any(f[0] == "char*" for f in structs[base]):
                w("    if (r >= 0 && want_%s)" % pname)
                w("        %s(&a_%s);" % (CLEAR[base], pname))
        elif kind == "out_int":
            w("    json_object_array_add(o, json_object_new_int64(a_%s));" % pname)
        elif kind == "out_uint":
            w("    json_object_array_add(o, json_object_new_uint64(a_%s));" % pname)
        elif kind == "out_str":
            w("    json_object_array_add(o, a_%s ? json_object_new_string(a_%s) : NULL);"
              % (pname, pname))
        elif kind == "out_strv":
            w("    json_object_array_add(o, qv_remote_put_strv(a_%s));" % pname)
        elif kind == "out_dom":
            w("    json_object_array_add(o, qv_remote_put_dom(a_%s));" % pname)
        elif kind == "out_domv":
            w("    json_object_array_add(o, qv_remote_put_domv(a_%s));" % pname)
        elif kind == "out_snap":
            w("    json_object_array_add(o, qv_remote_put_snap(a_%s));" % pname)
        elif kind == "out_snapv":
            w("    json_object_array_add(o, qv_remote_put_snapv(a_%s));" % pname)
    w("    return r;")
    w("}")
    w()


def generate():
    protos, structs = read_headers()
    w = W()
    w("/* Generated by scripts/gen-remote.py from the public headers (lib/qvirt/).")
    w(" * Do not edit: change the generator and run it again. */")
    w('#include "remote.h"')
    w()
    w("/* Whether field f of a struct T lies within the first limit bytes: a")
    w(" * caller's older, smaller struct (one with a size field) keeps its size. */")
    w("#define QV_FITS(T, f, limit) (offsetof(T, f) + sizeof(((T *)0)->f) <= (limit))")
    w()
    calls = []
    used = set()
    seen = set()
    for ret, name, params in protos:
        seen.add(name)
        if name in LOCAL or name in SPECIAL:
            continue
        ps = split_params(params)
        kinds = [param_kind(c, a, structs, i, n) for i, (c, n, a) in enumerate(ps)]
        if kinds[0] != "self":
            die("%s: not a call of a connection, domain or snapshot; add it to LOCAL" % name)
        if kinds[-1] != "err":
            die("%s: has no qv_error **err; add it to SPECIAL" % name)
        for (c, n, a), k in zip(ps, kinds):
            if k in ("in_struct", "out_struct"):
                used.add(c.rstrip("*").replace("const ", ""))
        calls.append((ret, name, ps, kinds))
    for name in sorted((LOCAL | SPECIAL) - seen):
        die("%s is listed but no public header declares it" % name)
    used |= HAND_STRUCTS
    w("/* ---- struct codecs ---- */")
    w()
    emit_codecs(w, structs, used)
    w("/* ---- the client's stubs ---- */")
    w()
    for ret, name, ps, kinds in calls:
        emit_client(w, ret, name, ps, kinds, structs)
    w("/* ---- the server's handlers ---- */")
    w()
    for ret, name, ps, kinds in calls:
        emit_server(w, ret, name, ps, kinds, structs)
    w("const qv_remote_handler qv_remote_handlers[] = {")
    for ret, name, ps, kinds in sorted(calls, key=lambda c: c[1]):
        w("    { \"%s\", serve__%s }," % (name, name))
    w("};")
    w("const size_t qv_remote_n_handlers = G_N_ELEMENTS(qv_remote_handlers);")
    w()
    # the codecs lib/remote-special.c uses
    for sname in sorted(HAND_STRUCTS):
        w("void qv_remote_put_%s(json_object *o, const %s *s, size_t limit)" % (sname, sname))
        w("{")
        w("    put_%s(o, s, limit);" % sname)
        w("}")
        w()
        w("void qv_remote_get_%s(json_object *o, %s *s, size_t limit, GPtrArray *keep)"
          % (sname, sname))
        w("{")
        w("    get_%s(o, s, limit, keep);" % sname)
        w("}")
        w()
    # prototypes of the stubs, for the hooks in lib/*.c
    decls = []
    for ret, name, params in protos:
        if name in LOCAL:
            continue
        ps = split_params(params)
        sig = ", ".join("%s %s%s%s" % (c.rstrip("*"), c[len(c.rstrip("*")):], n, a or "")
                        for c, n, a in ps)
        decls.append("%s qv_remote__%s(%s);" % (ret, name, sig))
    text = "\n".join(w.lines).rstrip("\n") + "\n"
    return text, sorted(c[1] for c in calls) + sorted(SPECIAL), decls, protos


def check_hooks(protos):
    srcs = ""
    for path in glob.glob(os.path.join(ROOT, "lib", "*.c")):
        if os.path.basename(path).startswith("remote"):
            continue
        srcs += open(path).read()
    missing = [name for _, name, _ in protos
               if name not in LOCAL and "qv_remote__%s(" % name not in srcs]
    return missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text, names, decls, protos = generate()
    header = os.path.join(ROOT, "lib", "remote-gen.h")
    htext = ("/* Generated by scripts/gen-remote.py: the stubs a qvirt+ssh:// connection's\n"
             " * calls hand their work to (lib/remote-gen.c, lib/remote-special.c). */\n"
             "#pragma once\n\n#include <qvirt/qvirt.h>\n#include <qvirt/qvirt-glib.h>\n\n"
             + "\n".join(decls) + "\n")
    missing = check_hooks(protos)
    if args.check:
        bad = False
        for path, want in ((OUT, text), (header, htext)):
            have = open(path).read() if os.path.exists(path) else ""
            if have != want:
                sys.stderr.write("gen-remote: %s is stale; run scripts/gen-remote.py\n" % path)
                bad = True
        for name in missing:
            sys.stderr.write("gen-remote: %s does not hand a remote connection's call to "
                             "qv_remote__%s\n" % (name, name))
            bad = True
        sys.exit(1 if bad else 0)
    open(OUT, "w").write(text)
    open(header, "w").write(htext)
    for name in missing:
        sys.stderr.write("gen-remote: note: %s has no remote hook yet\n" % name)


if __name__ == "__main__":
    main()
