#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# bench_report.py - turns the results of bench/proxy_bench.sh --tsv FILE
# into OUTDIR/report.md (the machine, the date, the command, a table of
# wall-time ratios to glibc with the median seconds, a table of peak RSS,
# failures, start-up cost) and OUTDIR/ratios.svg (a grouped bar chart of
# the time ratios on a log scale). make bench-report runs both.
#
# Usage: bench_report.py [--via TEXT] RESULTS.tsv OUTDIR
#   --via TEXT  how proxy_bench.sh was started (e.g. 'make bench-report'),
#               named in the report beside its command line
#
# Standard library only. The SVG is self-contained (no scripts, no fonts
# beyond the generic sans-serif), so it renders on GitHub and in browsers.

import math
import os
import re
import sys
from xml.sax.saxutils import escape

# One colour per allocator row, in proxy_bench.sh's order; our rows last,
# in shades of one hue so they read as a family.
COLOURS = {
    "glibc": "#7f7f7f",
    "jemalloc": "#1f77b4",
    "tbbmalloc": "#ff7f0e",
    "mimalloc": "#2ca02c",
    "tcmalloc": "#9467bd",
    "umf": "#d62728",
    "umf_disjoint": "#e377c2",
    "umf_jemalloc": "#8c564b",
    "umf_scalable": "#bcbd22",
}
SPARE = ["#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5"]


def die(msg):
    sys.stderr.write("bench_report: %s\n" % msg)
    sys.exit(1)


def number(text):
    """A float from a TSV field, or None for '-' and 'FAIL'."""
    try:
        return float(text)
    except ValueError:
        return None


def read_results(path):
    meta, cells, fails, startup = {}, {}, {}, None
    rows, workloads = [], []  # in the order proxy_bench.sh wrote them
    labels = {}
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        die("%s (did proxy_bench.sh stop before its table?)" % e)
    with f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            kind = fields[0]
            if kind == "meta" and len(fields) == 3:
                meta[fields[1]] = fields[2]
            elif kind == "cell" and len(fields) == 7:
                _, row, label, wl, secs, ratio, rss = fields
                if row not in labels:
                    rows.append(row)
                    labels[row] = label
                if wl not in workloads:
                    workloads.append(wl)
                cells[row, wl] = (number(secs), number(ratio), number(rss))
            elif kind == "fail" and len(fields) == 5:
                fails.setdefault((fields[1], fields[3]), []).append(fields[4])
            elif kind == "startup" and len(fields) == 5:
                startup = [number(x) for x in fields[1:]]
            else:
                die("%s:%d: not a line of proxy_bench.sh --tsv" % (path, n))
    if not cells:
        die("%s: no results (did proxy_bench.sh stop before its table?)"
            % path)
    return meta, rows, labels, workloads, cells, fails, startup


def machine_lines(meta):
    libc = meta.get("libc", "?")
    m = re.search(r"\((.*)\) (\S+)$", libc)
    if m:
        libc = "glibc %s (%s)" % (m.group(2), m.group(1))
    return [
        "- Machine: %s CPUs (nproc), %s; %s; %s"
        % (meta.get("nproc", "?"), meta.get("cpu", "?"),
           meta.get("kernel", "?"), libc),
        "- Date: %s; load average at the end of the runs: %s"
        % (meta.get("date", "?"), meta.get("load", "?")),
    ]


def markdown(meta, rows, labels, workloads, cells, fails, startup, via):
    out = ["# proxy_work: whole-process wall time and peak RSS per malloc", ""]
    out += machine_lines(meta)
    command = "`%s`" % meta.get("command", "?")
    if via:
        command = "`%s`, which ran %s" % (via, command)
    out += [
        "- Command: %s" % command,
        "- Each cell: the median of %s run(s) at scale %s (bench/proxy_work.c;"
        " bench/proxy_bench.sh describes the workloads)"
        % (meta.get("runs", "?"), meta.get("scale", "?")),
        "",
        "## Wall time",
        "",
        "Ratio to glibc (below 1 is faster), then the median seconds; the"
        " fastest of each workload in bold.",
        "",
    ]
    head = "| workload | " + " | ".join(labels[r] for r in rows) + " |"
    rule = "|---|" + "---:|" * len(rows)
    out += [head, rule]
    for wl in workloads:
        secs = [cells[r, wl][0] for r in rows if cells[r, wl][0] is not None]
        best = min(secs) if secs else None
        line = []
        for r in rows:
            s, ratio, _ = cells[r, wl]
            if s is None:
                line.append("FAIL")
                continue
            text = "%s (%.3f s)" % ("%.2f" % ratio if ratio else "-", s)
            line.append("**%s**" % text if s == best else text)
        out.append("| %s | %s |" % (wl, " | ".join(line)))
    out += ["", "![time ratios to glibc, log scale](ratios.svg)", ""]

    if any(c[2] is not None for c in cells.values()):
        out += [
            "## Peak RSS",
            "",
            "MiB, the median of the runs' peak RSS (%s), then the ratio to"
            " glibc." % meta.get("rss", "?"),
            "",
            head,
            rule,
        ]
        for wl in workloads:
            g = cells.get(("glibc", wl), (None, None, None))[2]
            line = []
            for r in rows:
                rss = cells[r, wl][2]
                if cells[r, wl][0] is None:
                    line.append("FAIL")
                elif rss is None:
                    line.append("-")
                elif g:
                    line.append("%.1f (%.2f)" % (rss / 1024, rss / g))
                else:
                    line.append("%.1f" % (rss / 1024))
            out.append("| %s | %s |" % (wl, " | ".join(line)))
        out.append("")

    if fails:
        out += ["## Failures", ""]
        for (r, wl), reasons in sorted(fails.items()):
            out.append("- %s / %s: %s" % (labels.get(r, r), wl,
                                         "; ".join(reasons)))
        out.append("")

    if startup and None not in startup:
        ms0, ms1, kib0, kib1 = startup
        out += [
            "## Start-up",
            "",
            "`/bin/true` spawned by `bench/startup.c` (both with"
            " `LD_LIBRARY_PATH` set to the proxy's copy of the build tree), the"
            " fastest of 5 rounds of %s runs: %.3f ms without the proxy,"
            " %.3f ms with it (%+.3f ms); peak RSS of a process that only"
            " starts and prints its own VmHWM, %d KiB without, %d KiB with"
            " (%+d KiB)."
            % (meta.get("startup_runs", "?"), ms0, ms1, ms1 - ms0,
               kib0, kib1, kib1 - kib0),
            "",
        ]
    return "\n".join(out)


def ticks_between(lo, hi):
    """1-2-5 steps covering [lo, hi] (lo <= 1 <= hi), for a log axis."""
    ticks = []
    e = math.floor(math.log10(lo)) - 1
    while True:
        for m in (1, 2, 5):
            t = m * 10.0 ** e
            if t >= lo / 1.0001 and t <= hi * 1.0001:
                ticks.append(t)
            if t > hi * 1.0001:
                return ticks
        e += 1


def tick_label(t):
    return ("%.3f" % t).rstrip("0").rstrip(".") if t < 1 else "%g" % t


def svg(meta, rows, labels, workloads, cells):
    # glibc is the 1.0 line, not a bar.
    rows = [r for r in rows if r != "glibc"]
    ratios = [cells[r, wl][1] for r in rows for wl in workloads
              if cells[r, wl][1]]
    # The axis: 1-2-5 ticks from the tick at or below the smallest ratio
    # to the one at or above the largest, always including 1.
    lo = min(ratios + [1.0])
    hi = max(ratios + [1.0])
    steps = ticks_between(1e-6, 1e6)
    lo = max(t for t in steps if t <= lo * 1.0001)
    hi = min(t for t in steps if t >= hi / 1.0001)
    if hi <= 1:
        hi = 2.0
    if lo >= 1:
        lo = 0.5
    ticks = ticks_between(lo, hi)

    bar, gap = 12, 18  # bar width, space between workload groups
    group = bar * len(rows) + gap
    left, top, plot_h = 70, 60, 360
    plot_w = group * len(workloads)
    legend_w = 20 + max([len(labels[r]) for r in rows] + [16]) * 7 + 20
    width = left + plot_w + 20 + legend_w
    height = top + plot_h + 70

    def y(v):  # ratio -> pixel row
        span = math.log10(hi) - math.log10(lo)
        f = (math.log10(v) - math.log10(lo)) / span
        return top + plot_h * (1 - f)

    colours = dict(COLOURS)
    spare = iter(SPARE * 10)
    for r in rows:
        colours.setdefault(r, next(spare))

    o = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"'
        ' viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
        % (width, height, width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="22" font-size="15" font-weight="bold">'
        "proxy_work wall time, ratio to glibc (log scale; below 1 is"
        " faster)</text>" % left,
        '<text x="%d" y="42" fill="#444">%s</text>'
        % (left, escape("%s CPUs, %s, %s; %s; median of %s run(s), scale %s"
                        % (meta.get("nproc", "?"), meta.get("cpu", "?"),
                           meta.get("kernel", "?"), meta.get("date", "?"),
                           meta.get("runs", "?"), meta.get("scale", "?")))),
    ]
    for t in ticks:  # grid and y labels
        yy = y(t)
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"'
                 ' stroke-width="1"/>'
                 % (left, yy, left + plot_w, yy,
                    "#000" if t == 1 else "#ddd"))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                 % (left - 6, yy + 4, tick_label(t)))
    o.append('<text transform="translate(18 %d) rotate(-90)"'
             ' text-anchor="middle">time / glibc time</text>'
             % (top + plot_h / 2))
    one = y(1.0)
    for i, wl in enumerate(workloads):
        x0 = left + gap / 2 + i * group
        for j, r in enumerate(rows):
            s, ratio, _ = cells[r, wl]
            x = x0 + j * bar
            if s is None or not ratio:
                o.append('<text x="%.1f" y="%.1f" font-size="9" fill="%s"'
                         ' text-anchor="middle">&#215;<title>%s</title>'
                         "</text>" % (x + bar / 2, one - 3, colours[r],
                                      escape("%s / %s: FAIL"
                                             % (labels[r], wl))))
                continue
            y1 = y(ratio)
            o.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f"'
                     ' fill="%s"><title>%s</title></rect>'
                     % (x, min(one, y1), bar - 2, max(abs(y1 - one), 1),
                        colours[r],
                        escape("%s / %s: %.2fx glibc (%.3f s)"
                               % (labels[r], wl, ratio, s))))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                 % (x0 + bar * len(rows) / 2, top + plot_h + 18, escape(wl)))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none"'
             ' stroke="#000"/>' % (left, top, plot_w, plot_h))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">workload'
             " (NAME:THREADS where not the default)</text>"
             % (left + plot_w / 2, top + plot_h + 44))
    lx = left + plot_w + 20
    o.append('<text x="%d" y="%d" font-weight="bold">allocator</text>'
             % (lx, top + 10))
    for j, r in enumerate(rows):
        ly = top + 28 + j * 20
        o.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>'
                 % (lx, ly - 10, colours[r]))
        o.append('<text x="%d" y="%d">%s</text>'
                 % (lx + 18, ly, escape(labels[r])))
    ly = top + 28 + len(rows) * 20
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>'
             % (lx, ly - 4, lx + 12, ly - 4))
    o.append('<text x="%d" y="%d">glibc (1.0)</text>' % (lx + 18, ly))
    o.append('<text x="%d" y="%d" fill="#444">&#215; failed</text>'
             % (lx + 2, ly + 20))
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main(argv):
    via = None
    if len(argv) >= 2 and argv[0] == "--via":
        via, argv = argv[1], argv[2:]
    if len(argv) != 2:
        sys.stderr.write("usage: bench_report.py [--via TEXT] RESULTS.tsv"
                         " OUTDIR\n")
        return 2
    results, outdir = argv
    meta, rows, labels, workloads, cells, fails, startup = \
        read_results(results)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "report.md"), "w", encoding="utf-8") as f:
        f.write(markdown(meta, rows, labels, workloads, cells, fails,
                         startup, via) + "\n")
    with open(os.path.join(outdir, "ratios.svg"), "w", encoding="utf-8") as f:
        f.write(svg(meta, rows, labels, workloads, cells))
    print("bench_report: wrote %s and %s"
          % (os.path.join(outdir, "report.md"),
             os.path.join(outdir, "ratios.svg")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
