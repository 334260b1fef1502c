/* Keyboard input, screenshots and NMIs for running domains, and the key code
 * lookups behind send_key (the tables are generated: lib/keycodes.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "qemu-files.h"
#include "keycodes.h"

G_STATIC_ASSERT(QV_KEYCODE_NSETS == QV_KEYCODE_SET_LAST);

/* ---- key codes ------------------------------------------------------------ */

static int cmp_code(const void *key, const void *elem)
{
    unsigned int code = *(const unsigned int *)key;
    unsigned int other = ((const qv_keycode_code *)elem)->code;
    return code < other ? -1 : code > other;
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, ((const qv_keycode_name *)elem)->name);
}

const qv_keycode_key *qv_keycode_lookup(unsigned int set, unsigned int code)
{
    if (set >= QV_KEYCODE_NSETS)
        return NULL;
    const qv_keycode_set *s = &qv_keycode_sets[set];
    const qv_keycode_code *c = bsearch(&code, s->codes, s->ncodes, sizeof *s->codes, cmp_code);
    return c ? &qv_keycode_keys[c->key] : NULL;
}

int qv_keycode_set_from_string(const char *name, qv_error **err)
{
    if (!name)
        return qv_error_set(err, -EINVAL, "qv_keycode_set_from_string: name is required");
    if (!g_ascii_strcasecmp(name, "rfb"))
        return QV_KEYCODE_SET_RFB;
    for (unsigned int i = 0; i < QV_KEYCODE_NSETS; i++)
        if (!g_ascii_strcasecmp(name, qv_keycode_sets[i].name))
            return (int)i;
    return qv_error_set(err, -EINVAL,
                        "unknown key code set '%s' (known: linux, xt, atset1, atset2, atset3, "
                        "os_x, xt_kbd, usb, win32, qnum, rfb)", name);
}

const char *qv_keycode_set_to_string(unsigned int codeset)
{
    return codeset < QV_KEYCODE_NSETS ? qv_keycode_sets[codeset].name : NULL;
}

static int check_set(const char *what, unsigned int codeset, qv_error **err)
{
    if (codeset >= QV_KEYCODE_NSETS)
        return qv_error_set(err, -EINVAL, "%s: unknown key code set %u (0 to %d)", what, codeset,
                            QV_KEYCODE_NSETS - 1);
    return 0;
}

int qv_keycode_from_name(unsigned int codeset, const char *name, qv_error **err)
{
    int r = check_set("qv_keycode_from_name", codeset, err);
    if (r < 0)
        return r;
    if (!name)
        return qv_error_set(err, -EINVAL, "qv_keycode_from_name: name is required");
    const qv_keycode_set *s = &qv_keycode_sets[codeset];
    if (!s->names)
        return qv_error_set(err, -EINVAL,
                            "the %s key code set has no key names; give numbers (names exist "
                            "for linux, os_x and win32)", s->name);
    const qv_keycode_name *n = bsearch(name, s->names, s->nnames, sizeof *s->names, cmp_name);
    if (!n)
        return qv_error_set(err, -ENOENT, "unknown key name '%s' in the %s key code set", name,
                            s->name);
    return (int)n->code;
}

int qv_keycode_translate(unsigned int from_codeset, unsigned int to_codeset, unsigned int keycode,
                         qv_error **err)
{
    int r;
    if ((r = check_set("qv_keycode_translate", from_codeset, err)) < 0 ||
        (r = check_set("qv_keycode_translate", to_codeset, err)) < 0)
        return r;
    const qv_keycode_key *k = qv_keycode_lookup(from_codeset, keycode);
    if (!k)
        return qv_error_set(err, -ENOENT, "key code %u (0x%x) is not in the %s key code set",
                            keycode, keycode, qv_keycode_sets[from_codeset].name);
    /* Codes are few per set: a linear scan for the reverse direction. */
    unsigned short idx = (unsigned short)(k - qv_keycode_keys);
    const qv_keycode_set *to = &qv_keycode_sets[to_codeset];
    for (size_t i = 0; i < to->ncodes; i++)
        if (to->codes[i].key == idx)
            return (int)to->codes[i].code;
    return qv_error_set(err, -ENOENT,
                        "key code %u (0x%x) of the %s set has no equivalent in the %s set",
                        keycode, keycode, qv_keycode_sets[from_codeset].name, to->name);
}

/* ---- running domains -------------------------------------------------------- */

int qv_domain_send_key(qv_domain *dom, unsigned int codeset, unsigned int holdtime,
                       const unsigned int *keycodes, int nkeycodes, unsigned int flags,
                       qv_error **err)
{
    if (!dom || !keycodes)
        return qv_error_set(err, -EINVAL, "qv_domain_send_key: dom and keycodes are required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_send_key: flags must be 0");
    if (nkeycodes < 1 || nkeycodes > QV_DOMAIN_SEND_KEY_MAX_KEYS)
        return qv_error_set(err, -EINVAL, "send_key takes 1 to %d keys, not %d",
                            QV_DOMAIN_SEND_KEY_MAX_KEYS, nkeycodes);
    if (holdtime > INT_MAX)
        return qv_error_set(err, -EINVAL, "send_key: hold time %u ms is too long", holdtime);
    int r = check_set("send_key", codeset, err);
    if (r < 0)
        return r;
    const char *set_name = qv_keycode_sets[codeset].name;
    g_autoptr(json_object) keys = json_object_new_array();
    for (int i = 0; i < nkeycodes; i++) {
        const qv_keycode_key *k = qv_keycode_lookup(codeset, keycodes[i]);
        if (!k)
            return qv_error_set(err, -EINVAL, "key code %u (0x%x) is not in the %s key code set",
                                keycodes[i], keycodes[i], set_name);
        json_object *key = json_object_new_object();
        if (k->qcode) {
            json_object_object_add(key, "type", json_object_new_string("qcode"));
            json_object_object_add(key, "data", json_object_new_string(k->qcode));
        } else if (k->qnum) {
            /* QEMU has no name for this key: give its number. */
            json_object_object_add(key, "type", json_object_new_string("number"));
            json_object_object_add(key, "data", json_object_new_int(k->qnum));
        } else {
            json_object_put(key);
            return qv_error_set(err, -EINVAL,
                                "key code %u (0x%x) of the %s key code set (Linux key %u) is a "
                                "key QEMU cannot send", keycodes[i], keycodes[i], set_name,
                                k->linux_code);
        }
        json_object_array_add(keys, key);
    }
    /* The arguments are checked here, before anything looks at the domain
     * (a remote one's host then checks them again). */
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_send_key(dom, codeset, holdtime, keycodes,
                                                        nkeycodes, flags, err));
    if ((r = qv_domain_require_active(dom, NULL, err)) < 0)
        return r;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "keys", g_steal_pointer(&keys));
    if (holdtime > 0)
        json_object_object_add(args, "hold-time", json_object_new_int((int)holdtime));
    return qv_domain_qmp_call(dom, "send-key", args, NULL, err);
}

/* Finds the video device and head of a screen number: screens count the
 * heads of the video devices in order, as libvirt does. */
static int screen_device(qv_domain *dom, unsigned int screen, const char **alias,
                         unsigned int *head, qv_error **err)
{
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0)
        return r;
    unsigned int left = screen, total = 0;
    for (guint i = 0; def->videos && i < def->videos->len; i++) {
        const qv_domdef_video *v = g_ptr_array_index(def->videos, i);
        if (!v->model || !strcmp(v->model, "none"))
            continue;
        unsigned int heads = v->heads ? v->heads : 1;
        total += heads;
        if (left < heads) {
            if (!v->alias)
                return qv_error_set(err, -EINVAL, "domain '%s': video device %u has no alias",
                                    dom->name, i);
            *alias = v->alias;
            *head = left;
            return 0;
        }
        left -= heads;
    }
    return qv_error_set(err, -EINVAL, "domain '%s' has no screen %u (its video devices have %u "
                        "screen%s, counted from 0)", dom->name, screen, total,
                        total == 1 ? "" : "s");
}

/* Copies all of src (from its start) to dst, waiting on a non-blocking dst. */
static int copy_fd(int src, int dst, qv_error **err)
{
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(src, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return qv_error_set_errno(err, -errno, "cannot read the screenshot back");
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(dst, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                struct pollfd p = { .fd = dst, .events = POLLOUT };
                poll(&p, 1, -1);
                continue;
            }
            if (w < 0)
                return qv_error_set_errno(err, -errno, "cannot write the screenshot to fd %d",
                                          dst);
            done += w;
        }
        off += n;
    }
    return 0;
}

static const unsigned char png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

int qv_domain_screenshot(qv_domain *dom, int fd, unsigned int screen, unsigned int flags,
                         char **mimetype, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_screenshot(dom, fd, screen, flags, mimetype, err));
    if (!dom || fd < 0 || !mimetype)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_screenshot: dom, a file descriptor and mimetype are "
                            "required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_screenshot: flags must be 0");
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    json_object *args = json_object_new_object();
    if (screen > 0) {
        const char *alias = NULL;
        unsigned int head = 0;
        if ((r = screen_device(dom, screen, &alias, &head, err)) < 0) {
            json_object_put(args);
            return r;
        }
        json_object_object_add(args, "device", json_object_new_string(alias));
        json_object_object_add(args, "head", json_object_new_int((int)head));
    }
    /* QEMU writes the image to a file it names by path: a private file of
     * the domain's runtime folder, unlinked at once, handed to QEMU as a
     * write-only fd (in an fdset), and read back here. */
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *path = g_strdup_printf("%s/screenshot-XXXXXX.png", dir);
    int tmp = mkostemps(path, 4, O_CLOEXEC);
    if (tmp < 0) {
        json_object_put(args);
        return qv_error_set_errno(err, -errno, "domain '%s': cannot create a file for the "
                                  "screenshot in %s", dom->name, dir);
    }
    qv_autoclose int wfd = open(path, O_WRONLY | O_CLOEXEC);
    unlink(path);
    if (wfd < 0) {
        close(tmp);
        json_object_put(args);
        return qv_error_set_errno(err, -errno, "domain '%s': cannot open %s", dom->name, path);
    }
    json_object_object_add(args, "format", json_object_new_string("png"));
    r = qv_domain_qmp_write_file(dom, "screendump", args, "filename", wfd, false, err);
    unsigned char head8[8];
    if (r >= 0 && (pread(tmp, head8, sizeof head8, 0) != (ssize_t)sizeof head8 ||
                   memcmp(head8, png_signature, sizeof head8)))
        r = qv_error_set(err, -EIO, "domain '%s': QEMU's screendump did not write a PNG image",
                         dom->name);
    if (r >= 0)
        r = copy_fd(tmp, fd, err);
    close(tmp);
    if (r < 0)
        return r;
    *mimetype = strdup("image/png");
    if (!*mimetype)
        return qv_error_set(err, -ENOMEM, "out of memory");
    return 0;
}

int qv_domain_inject_nmi(qv_domain *dom, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_inject_nmi(dom, flags, err));
    if (!dom)
        return qv_error_set(err, -EINVAL, "qv_domain_inject_nmi: dom is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_inject_nmi: flags must be 0");
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0)
        return r;
    return qv_domain_qmp_call(dom, "inject-nmi", NULL, NULL, err);
}
