#!/usr/bin/env python3
"""Cuts libvirt's formatdomain.html examples into whole domains.

Each <pre> example is a fragment ("..." for what is left out, several
alternatives one after another). Every top-level element of a fragment becomes
one domain: a device goes into <devices> of a minimal q35 domain, any other
element (os, cpu, features, clock, memoryBacking, ...) replaces or joins the
minimal domain's own. Whether libvirt accepts the result is decided by the
caller (scripts/gen-domxml-corpus defines each one). Usage: DOC.html OUTDIR
"""
import html
import os
import re
import sys
import xml.etree.ElementTree as ET

DEVICES = {
    "disk", "interface", "controller", "filesystem", "hostdev", "input", "graphics",
    "video", "sound", "audio", "serial", "parallel", "console", "channel", "tpm", "rng",
    "memballoon", "watchdog", "panic", "smartcard", "redirdev", "redirfilter", "hub",
    "lease", "shmem", "memory", "iommu", "vsock", "nvram", "crypto", "emulator",
}

SKELETON = """<domain type='qemu'>
  <name>qvc-{name}</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
{os}{extra}  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
{devices}  </devices>
</domain>
"""
OS = "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n"


def fragments(text):
    text = html.unescape(text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = "\n".join(l for l in text.splitlines() if l.strip() not in ("...", "..", "…"))
    text = text.replace(">..<", "><").replace(">...<", "><")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    try:
        root = ET.fromstring("<wrap>" + text + "</wrap>")
    except ET.ParseError:
        return []
    return list(root)


def main():
    doc, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    src = open(doc, encoding="utf-8").read()
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", src, flags=re.S)
    n = 0
    for bi, block in enumerate(blocks):
        for ei, el in enumerate(fragments(block)):
            tag = el.tag
            if tag == "domain":
                continue  # the page's whole-domain examples are outlines
            if tag == "devices":
                items = list(el)
                if not items:
                    continue
                devs = "".join("    " + ET.tostring(d, encoding="unicode").strip() + "\n" for d in items)
                os_xml, extra = OS, ""
            elif tag in DEVICES:
                devs = "    " + ET.tostring(el, encoding="unicode").strip() + "\n"
                os_xml, extra = OS, ""
            else:
                devs = ""
                body = "  " + ET.tostring(el, encoding="unicode").strip() + "\n"
                os_xml, extra = (body, "") if tag == "os" else (OS, body)
            name = "docs-%03d-%s-%d" % (bi, re.sub(r"[^a-zA-Z0-9]", "", tag), ei)
            with open(os.path.join(outdir, name + ".xml"), "w", encoding="utf-8") as f:
                f.write(SKELETON.format(name=name, os=os_xml, extra=extra, devices=devs))
            n += 1
    print("gen-domxml-corpus-docs: %d fragments from %d examples" % (n, len(blocks)))


if __name__ == "__main__":
    main()
