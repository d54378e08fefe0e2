#!/usr/bin/env python3
"""scripts/plot-sweep produces real plots: a two-axis heatmap and a one-axis line plot, each as
PNG (decoded here: size, dimensions, many distinct colours, mostly not background) and SVG.
Exit 77 (CTest SKIP_RETURN_CODE) without gnuplot.

  sim/sweep_plot_test.py BINARY SOURCE_DIR
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def decode_png(path):
    """(width, height, set of RGB colours, share of non-white pixels) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG {ihdr}"
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours, ink = set(), 0
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        for x in range(0, stride, bpp):
            rgb = bytes(line[x:x + 3])
            colours.add(rgb)
            if rgb != b"\xff\xff\xff":
                ink += 1
        prev = line
    return w, h, colours, ink / (w * h)


def check_png(path, min_colours, min_ink):
    size = os.path.getsize(path)
    assert size > 15000, f"{path}: only {size} bytes"
    w, h, colours, ink = decode_png(path)
    assert (w, h) == (1400, 560), f"{path}: {w}x{h}"
    assert len(colours) >= min_colours, f"{path}: {len(colours)} colours"
    assert ink >= min_ink, f"{path}: {ink:.1%} of the pixels drawn"
    print(f"{path}: {size} bytes, {w}x{h}, {len(colours)} colours, {ink:.0%} drawn")


def check_svg(path, needles):
    text = open(path).read()
    assert len(text) > 15000, f"{path}: only {len(text)} bytes"
    assert text.count("<path") + text.count("<rect") + text.count("<polygon") > 50, path
    for n in needles:
        assert n in text, f"{path}: no '{n}'"
    print(f"{path}: {len(text)} bytes")


def main():
    binary, src = sys.argv[1], sys.argv[2]
    if shutil.which("gnuplot") is None:
        print("SKIP: gnuplot not installed (scripts/setup installs gnuplot-nox)")
        return 77
    plot = os.path.join(src, "scripts", "plot-sweep")
    with tempfile.TemporaryDirectory() as tmp:
        base = [binary, "sweep", "--ram", "1GiB", "--workload", "sequential", "--policy", "ideal",
                "--timeout", "30s", "-q"]
        heat = os.path.join(tmp, "heat.csv")
        subprocess.run(base + ["--vary", "bandwidth=1Gbit/s..40Gbit/s:log:7",
                               "--vary", "dirty_rate=20MB/s..2GB/s:log:6", "-o", heat], check=True)
        subprocess.run([plot, heat, "-o", os.path.join(tmp, "heat")], check=True)
        # Heatmap: palette shades, grey cells, two boundaries.
        check_png(os.path.join(tmp, "heat.png"), min_colours=40, min_ink=0.35)
        check_svg(os.path.join(tmp, "heat.svg"), ["closed-form geometric model boundary",
                                                  "convergence boundary (simulator)"])
        line = os.path.join(tmp, "line.jsonl")
        subprocess.run(base + ["--dirty-rate", "100MB/s",
                               "--vary", "bandwidth=500Mbit/s..10Gbit/s:log:8", "-o", line],
                       check=True)
        subprocess.run([plot, line, "-o", os.path.join(tmp, "line")], check=True)
        check_png(os.path.join(tmp, "line.png"), min_colours=8, min_ink=0.01)
        check_svg(os.path.join(tmp, "line.svg"), ["closed-form model"])
        # More free axes than a plot has is refused with a hint.
        r = subprocess.run([plot, heat, "-o", os.path.join(tmp, "x"), "--where", "nope=1"],
                           capture_output=True, text=True)
        assert r.returncode == 2 and "no axis nope" in r.stderr, r.stderr
    print("plot-sweep: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
