"""Regenerate the report's screenshots in docs/screenshots/ from the bundled examples.

    python scripts/screenshots.py [--out docs/screenshots] [--keep DIR]

Plans the seed story (`isoplan plan scenarios/plan-seed-story.yaml --report`) and compares two
what-ifs (`isoplan compare scenarios/whatif/fmv-jump.yaml fmv-jump-wait.yaml --report`) in a
temporary folder, opens each report in headless Chromium (`tests/browser.py`, the browser tests'
driver) and writes:

    report-plan.png       the plan's first screen, 1280 x 900: what a client sees on opening it
    report-plan-full.png  the whole plan page, 1280 wide (a window as tall as the page)
    report-compare.png    the compare's first screen, 1280 x 900

The PNGs are re-encoded for the repository: a palette of 256 colours, the report's own (its CSS's
and its charts', kept exact: a thin red floor stays red) and then the page's commonest (the rare
others, the edges of anti-aliased text, drawn in the nearest), zlib at level 9. A page
with a console error or a failed load stops the script: a screenshot of a broken page is not
committed.
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser, decode_png, find_chromium  # noqa: E402


def isoplan(*args: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "planner", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"isoplan {' '.join(map(str, args))} failed:\n{proc.stderr}")


def _filtered(rows: np.ndarray, bpp: int, block: int = 256) -> bytes:
    """Each row under the filter whose output has the smallest sum of absolute values (libpng's
    heuristic), with its filter byte; a block of rows at a time, to bound the memory."""
    parts = []
    for top in range(0, len(rows), block):
        cur = rows[top : top + block].astype(np.int16)
        up = np.zeros_like(cur)
        up[1:] = cur[:-1]
        if top:
            up[0] = rows[top - 1]
        a = np.zeros_like(cur)
        a[:, bpp:] = cur[:, :-bpp]
        c = np.zeros_like(cur)
        c[:, bpp:] = up[:, :-bpp]
        p = a + up - c
        pa, pb, pc = np.abs(p - a), np.abs(p - up), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, up, c))
        out = np.stack([cur, cur - a, cur - up, cur - ((a + up) >> 1), cur - paeth]) & 0xFF
        cost = np.abs(out.astype(np.uint8).view(np.int8).astype(np.int32)).sum(axis=2)
        best = cost.argmin(axis=0)
        chosen = out[best, np.arange(len(cur))].astype(np.uint8)
        parts.append(np.concatenate([best.astype(np.uint8)[:, None], chosen], axis=1).tobytes())
    return b"".join(parts)


def report_colours() -> set[int]:
    """The colours the report draws in (its CSS and its charts' series, the cash floor's red):
    a palette keeps them exactly, so that a thin line is never shown in a neighbour's colour."""
    from planner.report import charts, html

    drawn = [*charts.PALETTE, charts.FLOOR, charts.GREY, charts.INK, charts.MUTED, charts.GRID]
    found = re.findall(r"#([0-9a-fA-F]{6})\b", html.CSS + " ".join(drawn))
    return {int(c, 16) for c in found}


def _palette(pixels: np.ndarray, keep: set[int]) -> tuple[np.ndarray, np.ndarray]:
    """(palette, index): the colours of `keep` the page uses, then its commonest, 256 in all;
    each pixel of another colour (about 2% of a report's, the edges of anti-aliased text) drawn
    in the nearest of them."""
    packed = (pixels[:, :, 0].astype(np.int64) << 16 | pixels[:, :, 1].astype(np.int64) << 8
              | pixels[:, :, 2].astype(np.int64))  # fmt: skip
    colours, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    rgb = np.stack([colours >> 16, colours >> 8 & 0xFF, colours & 0xFF], axis=1)
    first = np.isin(colours, np.array(sorted(keep), dtype=np.int64))
    order = np.lexsort((-counts, ~first))  # the kept colours first, then by count
    keep_at = np.sort(order[:256])
    nearest = np.empty(len(colours), dtype=np.int64)
    for lo in range(0, len(colours), 4096):
        d = ((rgb[lo : lo + 4096, None, :] - rgb[None, keep_at, :]) ** 2).sum(axis=2)
        nearest[lo : lo + 4096] = d.argmin(axis=1)
    palette = rgb[keep_at].astype(np.uint8)
    return palette, nearest[inverse.reshape(pixels.shape[:2])].astype(np.uint8)


def compact_png(png: bytes) -> bytes:
    """A PNG for the repository: an 8-bit palette (`_palette`), each row filtered as deflates
    best, at zlib's level 9; about a fifth of Chromium's own PNG, and checked by decoding it."""
    pixels = decode_png(png)[:, :, :3]
    height, width = pixels.shape[:2]
    palette, index = _palette(pixels, report_colours())
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    unfiltered = np.concatenate([np.zeros((height, 1), np.uint8), index], axis=1).tobytes()
    # A palette's indices usually deflate best unfiltered; keep whichever is smaller.
    raw = min((zlib.compress(r, 9) for r in (unfiltered, _filtered(index, 1))), key=len)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    parts = [(b"IHDR", header), (b"PLTE", palette.tobytes()), (b"IDAT", raw), (b"IEND", b"")]
    out = b"\x89PNG\r\n\x1a\n" + b"".join(chunk(k, v) for k, v in parts)
    if not (decode_png(out) == palette[index]).all():
        raise AssertionError("the re-encoded PNG does not decode to its pixels")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", type=Path, help="write the plan and compare folders here")
    args = parser.parse_args()
    if find_chromium() is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        plan, compare = work / "plan", work / "compare"
        isoplan("plan", "scenarios/plan-seed-story.yaml", "-o", plan,
                "--report", work / "plan.html")  # fmt: skip
        isoplan("compare", "scenarios/whatif/fmv-jump.yaml", "fmv-jump-wait.yaml", "-o", compare,
                "--report", work / "compare.html")  # fmt: skip
        shots = [
            ("report-plan.png", work / "plan.html", False),
            ("report-plan-full.png", work / "plan.html", True),
            ("report-compare.png", work / "compare.html", False),
        ]
        with Browser(Path(tmp) / "profile", timeout=120) as browser:
            for name, report, full in shots:
                page = browser.open(report.as_uri(), width=1280, height=900, full=full)
                if page.errors:
                    sys.exit(f"{report}:\n" + "\n".join(page.errors))
                png = compact_png(page.png)
                (args.out / name).write_bytes(png)
                width, height = page.size
                print(f"{args.out / name}: {width} x {height}, {len(png) // 1024} KiB")


if __name__ == "__main__":
    main()
