#!/usr/bin/env python3
"""Combines the benchmarks' result lines into one table (stdout), JSON and an
SVG bar chart of the ratios. Standard library only.

Input lines:  @ FIGURE SIDE UNIT MEDIAN MIN MAX N   (bench/lifecycle, bench/libvirt)
              parse+argv build   N domains/s        (bench/domxml)
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import sys

# figure id: (label, goal text, goal check over the row or None)
KIB_GOAL = 1024 + 50 * 20


def ratio(a, b):
    return a / b if a is not None and b else None


FIGURES = [
    ("define", "define", None, None),
    ("create", "create to running",
     "<= 1.15x floor, libvirt >= 5x",
     lambda r: (r["qvirt_floor"] is None or r["qvirt_floor"] <= 1.15)
     and (r["libvirt_qvirt"] is None or r["libvirt_qvirt"] >= 5)),
    ("create_paused", "create START_PAUSED", None, None),
    # Where one `qvirt start --paused` spends its time (lib/start.c logs the
    # steps; the CLI's own share is the rest of its run).
    ("prof_cli_total", "profile: CLI start, in all", None, None),
    ("prof_cli_own", "  CLI exec, open, exit", None, None),
    ("prof_prepare", "  lock, folder, parse, argv", None, None),
    ("prof_spawn", "  supervisor spawn", None, None),
    ("prof_qemu_up", "  QEMU + supervisor set-up", None, None),
    ("prof_bring_up", "  settings, state, live XML", None, None),
    ("prof_commit", "  events and commit", None, None),
    ("suspend_resume", "suspend+resume", "<= 1.2x floor", lambda r: r["qvirt_floor"] <= 1.2),
    ("get_state", "get_state", "<= 20 us", lambda r: r["qvirt"] <= 20),
    ("get_info", "get_info", "<= 20 us", lambda r: r["qvirt"] <= 20),
    ("memory_stats", "memory_stats", "<= 1.2x floor", lambda r: r["qvirt_floor"] <= 1.2),
    ("attach_detach", "disk attach+detach", None, None),
    ("destroy", "destroy", "<= 50 ms", lambda r: r["qvirt"] <= 50),
    ("start20_lib", "20 paused starts (library)", "<= 1.3x floor", lambda r: r["qvirt_floor"] <= 1.3),
    ("start20_cli", "20 paused starts (20 CLIs)", "<= 1.3x floor", lambda r: r["qvirt_floor"] <= 1.3),
    ("destroy20_lib", "20 destroys (library)", None, None),
    ("destroy20_cli", "20 destroys (20 CLIs)", None, None),
    ("mem20", "RSS, 20 running domains", "<= 1 MiB + 50 KiB/domain",
     lambda r: r["qvirt"] <= KIB_GOAL),
    ("cli_list_rss", "CLI peak RSS, list", None, None),
    # Save and restore (bench/save): the floor runs QEMU's same migrate fd:
    # sequence into the same file layout.
    ("save", "save to file", "<= 1.1x floor", lambda r: r["qvirt_floor"] <= 1.1),
    ("restore", "restore to running", "<= 1.1x floor", lambda r: r["qvirt_floor"] <= 1.1),
    ("boot", "cold boot to guest up", None, None),
    ("restore_speedup", "boot / restore", ">= 5x", lambda r: r["qvirt"] >= 5),
    # Live migration between two embed roots (bench/migrate): the floor is
    # two raw QEMUs running lib/migrate.c's QMP sequence; the downtime is
    # QEMU's own, as query-migrate reports it on the source.
    ("migrate", "live migration", "<= 1.1x floor", lambda r: r["qvirt_floor"] <= 1.1),
    ("migrate_downtime", "migration downtime", "<= 1.1x floor",
     lambda r: r["qvirt_floor"] <= 1.1),
    # Block jobs on 128 MiB (bench/blockjob): to the end the XML follows.
    ("blockpull", "block pull (128 MiB)", "<= 1.3x floor", lambda r: r["qvirt_floor"] <= 1.3),
    ("blockcommit", "active commit+pivot", "<= 1.3x floor",
     lambda r: r["qvirt_floor"] <= 1.3),
    ("parse_build", "parse+argv build (20 dev)", ">= 20000/s", lambda r: r["qvirt"] >= 20000),
    ("format", "format (20 dev)", None, None),
    # Internal snapshot of a running guest, and revert to it: QEMU's job
    # dominates both sides; the floor sends the same QMP raw.
    ("snapshot_create", "internal snapshot create", None, None),
    ("snapshot_revert", "internal snapshot revert", None, None),
    # External disk-only snapshot of the same guest, and its delete (an
    # active commit of the overlay back into the disk's image, pivoted).
    ("snapshot_ext_create", "external snapshot create", None, None),
    ("snapshot_ext_delete", "external snapshot delete (commit)", None, None),
]


def parse(path):
    data = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 8 and w[0] == "@":
                fig, side, unit = w[1], w[2], w[3]
                med, lo, hi, n = float(w[4]), float(w[5]), float(w[6]), int(w[7])
                data.setdefault(fig, {"unit": unit})[side] = {"median": med, "min": lo, "max": hi, "n": n}
                continue
            m = re.match(r"(parse\+argv build|format)\s+([\d.]+)\s+domains/s", line)
            if m:
                fig = "parse_build" if m.group(1).startswith("parse") else "format"
                v = float(m.group(2))
                data.setdefault(fig, {"unit": "domains/s"})["qvirt"] = {"median": v, "min": v, "max": v, "n": 1}
    return data


def fmt(v):
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def build_rows(data):
    rows = []
    for fig, label, goal, check in FIGURES:
        d = data.get(fig)
        if not d or "qvirt" not in d:
            continue
        med = {s: d[s]["median"] if s in d else None for s in ("qvirt", "floor", "libvirt")}
        row = {"figure": fig, "label": label, "unit": d["unit"], **med,
               "spread": {s: d[s] for s in ("qvirt", "floor", "libvirt") if s in d},
               "qvirt_floor": ratio(med["qvirt"], med["floor"]),
               "libvirt_qvirt": ratio(med["libvirt"], med["qvirt"]),
               "goal": goal, "met": None}
        if check:
            try:
                row["met"] = bool(check(row))
            except TypeError:   # a side the goal needs was not measured
                row["met"] = None
        rows.append(row)
    return rows


def table(rows, libvirt_note):
    head = f"{'figure':<28} {'unit':>9} {'qvirt':>10} {'floor':>10} {'libvirt':>10} {'q/floor':>8} {'lv/q':>8}  goal"
    out = [head, "-" * len(head)]
    for r in rows:
        verdict = "" if r["goal"] is None else f"{r['goal']}: " + (
            "met" if r["met"] else "MISSED" if r["met"] is False else "n/a")
        rf = f"{r['qvirt_floor']:.2f}x" if r["qvirt_floor"] else "-"
        rl = f"{r['libvirt_qvirt']:.2f}x" if r["libvirt_qvirt"] else "-"
        out.append(f"{r['label']:<28} {r['unit']:>9} {fmt(r['qvirt']):>10} {fmt(r['floor']):>10} "
                   f"{fmt(r['libvirt']):>10} {rf:>8} {rl:>8}  {verdict}")
    out.append("")
    out.append("medians over rounds; min and max are in the JSON.")
    if libvirt_note:
        out.append(libvirt_note)
    return "\n".join(out)


def svg(rows, title):
    """Two panels of horizontal bars on a log scale: qvirt/floor and libvirt/qvirt;
    the dashed line is 1.0."""
    panels = [("qvirt / floor (lower is better, 1.0 = the floor)", "qvirt_floor"),
              ("libvirt / qvirt (higher means qvirt is faster)", "libvirt_qvirt")]
    bar_h, gap, left, width = 18, 6, 230, 420
    parts, y = [], 40
    for name, key in panels:
        items = [(r["label"], r[key]) for r in rows if r[key]]
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{name}</text>')
        y += 12
        if not items:
            parts.append(f'<text x="{left}" y="{y + 14}" fill="#777">not measured in this run</text>')
            y += 40
            continue
        # log scale: a ratio of 2 is as far from 1 as a ratio of 0.5
        lo = math.log10(min(0.5, min(v for _, v in items)))
        hi = math.log10(max(2.0, max(v for _, v in items)))

        def pos(v):
            return left + width * (math.log10(v) - lo) / (hi - lo)
        one = pos(1.0)
        y0 = y
        for label, v in items:
            w = max(pos(v) - left, 1)
            colour = "#3b7dd8" if key == "libvirt_qvirt" or v <= 1.15 else "#d8843b"
            parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{label}</text>')
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 13}">{v:.2f}x</text>')
            y += bar_h + gap
        parts.append(f'<line x1="{one:.1f}" y1="{y0 - 4}" x2="{one:.1f}" y2="{y}" stroke="#333" '
                     f'stroke-dasharray="4 3"/>')
        y += 30
    h = y + 10
    body = "\n".join(parts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{h}" '
            f'font-family="sans-serif" font-size="12">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="10" y="20" font-size="14">{title}</text>\n{body}\n</svg>\n')


def machine():
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory": mem, "kernel": platform.release()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--json", required=True)
    ap.add_argument("--svg", required=True)
    ap.add_argument("--qemu", default="")
    ap.add_argument("--libvirt-version", default=None)
    ap.add_argument("--no-libvirt", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    rows = build_rows(parse(a.results))
    note = "libvirt: skipped (run bench/run --libvirt to add its column)" if a.no_libvirt else ""
    if a.smoke:
        note += ("\n" if note else "") + "smoke run: one round each, not a measurement"
    print(table(rows, note))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = {"date": when, "machine": machine(), "qemu": a.qemu, "libvirt": a.libvirt_version,
           "smoke": a.smoke, "figures": rows}
    for path in (a.json, a.svg):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(a.svg, "w") as f:
        f.write(svg(rows, f"qvirt benchmarks, {when}, {a.qemu}"))
    print(f"\nwrote {a.json} and {a.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
