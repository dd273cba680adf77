"""A real headless Chromium for the report's tests, driven with the standard library only.

Chromium's DevTools protocol over `--remote-debugging-pipe` (JSON messages ending in a NUL byte,
commands on the browser's fd 3, answers and events on its fd 4) gives, for one page load, what a
person would notice: uncaught exceptions and `console.error` (Runtime), failed loads and
Chromium's own error messages (Log, Network), every resource the page asked for, the DOM after its
scripts ran, and a screenshot. Scanning `--enable-logging=stderr` would also see console messages,
but mixed with the browser's own noise (D-Bus, GPU) and without failed loads it can attribute to
the page; the protocol names the source of each.

Also here: a PNG decoder (zlib and the five row filters, vectorised with numpy; the test extra has
no image library) to tell a blank screenshot from a drawn one, and the check that every figure of
the report (`data-table`, `data-key`, `data-column`, `data-value`) is its Parquet cell, shown as
rounded.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Schemes that stay inside the page: the report must load nothing else, not even a local file
# beside it (it is sent to a client as one file).
LOCAL_SCHEMES = ("data:", "about:", "blob:")


def find_chromium() -> str | None:
    """Debian's `chromium` (what .ci/run installs), or another Chromium on PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


TRAMPOLINE = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.dup2(int(sys.argv[2]), 4)\n"
    "os.close(int(sys.argv[1]))\n"
    "os.close(int(sys.argv[2]))\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


class BrowserError(RuntimeError):
    """The browser did not answer, crashed, or refused a command."""


@dataclass
class Page:
    """One page as loaded: what went wrong, what it fetched, its DOM and a screenshot."""

    url: str
    errors: list[str]  # uncaught exceptions, console errors, Chromium's error log, failed loads
    requests: list[str]  # every URL the page asked for, the page itself first
    console: list[str]  # every console message, for the failure messages
    html: str  # document.documentElement.outerHTML after the load event
    png: bytes  # the screenshot
    size: tuple[int, int]  # the screenshot's CSS size (width, height)


@dataclass
class _Session:
    events: list[dict[str, Any]] = field(default_factory=list)


class Browser:
    """A headless Chromium with a fresh profile, closed (its whole process group) on exit."""

    def __init__(self, profile: Path, *, chromium: str | None = None, timeout: float = 60) -> None:
        exe = chromium or find_chromium()
        if exe is None:
            raise BrowserError("chromium is not installed")
        self.deadline = time.monotonic() + timeout
        profile.mkdir(parents=True, exist_ok=True)
        self.log_path = profile / "chromium-stderr.log"
        cmd_r, self._cmd_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        # The browser reads fd 3 and writes fd 4: a small Python trampoline moves the pipes there
        # and becomes the browser (Popen cannot place a descriptor at a given number, and dash
        # cannot name one above 9). Numbers from 10 up cannot collide with 3 and 4.
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(resp_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(resp_w)
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
            "about:blank",
        ]
        trampoline = [sys.executable, "-I", "-S", "-c", TRAMPOLINE]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*trampoline, str(child_in), str(child_out), exe, *args],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: closed whole, and only it
            )
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self._sessions: dict[str, _Session] = {}

    # -- the protocol -----------------------------------------------------------------------------

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"chromium did not answer in time; its log: {self.log_path}")
            ready, _, _ = select.select([self._resp_r], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self._resp_r, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe (crashed?); its log: {self.log_path}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command and wait for its answer; events meanwhile are kept per session."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            sid = answer.get("sessionId", "")
            if sid in self._sessions:
                self._sessions[sid].events.append(answer)

    def wait_for(self, session: str, method: str) -> dict[str, Any]:
        """The first event `method` of `session` (already received or still to come)."""
        events = self._sessions[session].events
        seen = 0
        while True:
            for event in events[seen:]:
                if event.get("method") == method:
                    return event
            seen = len(events)
            message = self._read_message()
            if message.get("sessionId") in self._sessions:
                self._sessions[message["sessionId"]].events.append(message)

    # -- a page -----------------------------------------------------------------------------------

    def open(self, url: str, *, width: int = 1280, height: int = 2400, full: bool = False) -> Page:
        """Load `url` in a new tab of `width` x `height` CSS pixels, wait for its load event and
        two frames, and return what went wrong with the DOM and a screenshot (of the whole
        page when `full`, else of the window)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._sessions[sid] = _Session()
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=sid)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics, session=sid)
        nav = self.send("Page.navigate", {"url": url}, session=sid)
        self.wait_for(sid, "Page.loadEventFired")
        # Two animation frames: the page's own load handlers have drawn what they draw.
        settle = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        self.send("Runtime.evaluate", {"expression": settle, "awaitPromise": True}, session=sid)
        html = self.send(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session=sid,
        )["result"]["value"]
        if full:
            content = self.send("Page.getLayoutMetrics", session=sid)["cssContentSize"]
            height = max(height, math.ceil(content["height"]))
            metrics["height"] = height
            self.send("Emulation.setDeviceMetricsOverride", metrics, session=sid)
            self.send("Runtime.evaluate", {"expression": settle, "awaitPromise": True}, session=sid)
        shot = self.send("Page.captureScreenshot", {"format": "png"}, session=sid)
        errors, requests, console = _problems(self._sessions[sid].events)
        if nav.get("errorText"):
            errors.insert(0, f"navigation failed: {nav['errorText']}")
        self.send("Target.closeTarget", {"targetId": target})
        del self._sessions[sid]
        return Page(url, errors, requests, console, html, base64.b64decode(shot["data"]),
                    (width, height))  # fmt: skip

    # -- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Ask the browser to quit; kill its process group if it has not within 5 s."""
        if self.proc.poll() is None:
            try:
                message = {"id": self._next_id + 1, "method": "Browser.close", "params": {}}
                os.write(self._cmd_w, json.dumps(message).encode() + b"\0")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for fd in (self._cmd_w, self._resp_r):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remote_value(arg: dict[str, Any]) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description", arg.get("type", "?")))


def _problems(events: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """(errors, requested URLs, console messages) from one page's protocol events."""
    errors: list[str] = []
    requests: list[str] = []
    console: list[str] = []
    urls: dict[str, str] = {}
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            errors.append(f"uncaught exception: {text} (line {details.get('lineNumber', 0) + 1})")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_value(a) for a in params.get("args", []))
            console.append(f"console.{params['type']}: {text}")
            if params["type"] in ("error", "assert"):
                errors.append(f"console.{params['type']}: {text}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            console.append(f"log {entry['level']}: {entry.get('text', '')}")
            if entry["level"] == "error":
                errors.append(f"{entry.get('source', 'log')} error: {entry.get('text', '')} "
                              f"{entry.get('url', '')}".rstrip())  # fmt: skip
        elif method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            url = urls.get(params["requestId"], "?")
            errors.append(f"failed to load {url}: {params.get('errorText', '')}")
        elif method == "Network.responseReceived":
            status = params["response"].get("status", 0)
            if status >= 400:
                errors.append(f"HTTP {status} for {params['response'].get('url', '?')}")
    return errors, requests, console


# ------------------------------------------------------------------------------------------------
# PNG
# ------------------------------------------------------------------------------------------------


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit PNG (Chromium writes RGB or RGBA; scripts/screenshots.py a palette when it can)
    as a (height, width, channels) array, a palette's as RGB."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header, palette = 8, [], b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"PLTE":
            palette = body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {2: 3, 6: 4, 0: 1, 4: 2, 3: 1}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace")
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:  # None
            cur = line.copy()
        elif kind == 1:  # Sub: a running sum per channel, modulo 256
            cur = _cumsum_mod(line.reshape(width, channels)).reshape(stride)
        elif kind == 2:  # Up
            cur = line + prev
        elif kind == 3:  # Average: sequential across the row
            cur = _unfilter_loop(line, prev, channels, paeth=False)
        elif kind == 4:  # Paeth: sequential across the row
            cur = _unfilter_loop(line, prev, channels, paeth=True)
        else:
            raise ValueError(f"bad PNG filter {kind} in row {y}")
        out[y] = cur
        prev = cur
    if colour == 3:  # a palette: RGB entries by index
        rgb = np.frombuffer(palette, dtype=np.uint8).reshape(-1, 3)
        return rgb[out.reshape(height, width)]
    return out.reshape(height, width, channels)


def _cumsum_mod(a: np.ndarray) -> np.ndarray:
    return (np.cumsum(a, axis=0, dtype=np.int64) % 256).astype(np.uint8)


def _unfilter_loop(line: np.ndarray, prev: np.ndarray, bpp: int, *, paeth: bool) -> np.ndarray:
    cur = bytearray(line.tobytes())
    up = prev.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if paeth:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else:
            pred = (a + b) >> 1
        cur[i] = (cur[i] + pred) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


@dataclass
class Ink:
    """How much of a screenshot is drawn: what tells a rendered report from a blank page."""

    width: int
    height: int
    colours: int  # distinct RGB colours
    inked: float  # the fraction of pixels that are not the background (the commonest colour)
    rows: float  # the fraction of rows with any such pixel


def ink(png: bytes) -> Ink:
    pixels = decode_png(png)[:, :, :3]
    height, width = pixels.shape[:2]
    packed = (
        pixels[:, :, 0].astype(np.uint32) << 16
        | pixels[:, :, 1].astype(np.uint32) << 8
        | pixels[:, :, 2].astype(np.uint32)
    )
    values, counts = np.unique(packed, return_counts=True)
    background = values[np.argmax(counts)]
    drawn = packed != background
    return Ink(width, height, len(values), float(drawn.mean()), float(drawn.any(axis=1).mean()))


# ------------------------------------------------------------------------------------------------
# the report's figures against the Parquet tables
# ------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
FIGURE_ATTRS = ("data-table", "data-key", "data-column", "data-value")


@dataclass
class Figure:
    """One element of the page that shows a Parquet cell."""

    table: str
    key: str
    column: str
    value: str
    text: str
    tag: str


class _Figures(HTMLParser):
    """Every element with `data-table`, with the text inside it (nested elements included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, Figure | None]] = []
        self.figures: list[Figure] = []
        self.meta: dict[str, str] = {}
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
        if "id" in a:
            self.ids.append(a["id"])
        figure = None
        if "data-table" in a:
            figure = Figure(*(a.get(k, "") for k in FIGURE_ATTRS), text="", tag=tag)
            self.figures.append(figure)
        if tag not in VOID:
            self.stack.append((tag, figure))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        # The DOM as Chromium serialises it closes every element it opens, in order.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for _, figure in self.stack:
            if figure is not None:
                figure.text += data


@dataclass
class Document:
    """What the report's contract puts in the page: its folder kind, ids and figures."""

    kind: str
    ids: list[str]
    figures: list[Figure]


def parse_report(html: str) -> Document:
    parser = _Figures()
    parser.feed(html)
    parser.close()
    return Document(parser.meta.get("isoplan-folder-kind", ""), parser.ids, parser.figures)


# How `data-key` names a row in each table; () for a table without a key of its own: the row's
# position in its Parquet file.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "years": ("year",),
    "summary": ("approach",),
    "actions": (),
    "lots": ("lot_id",),
    "forms": ("year", "form", "line"),
    "paths": ("path",),
    "compare": ("variant",),
    "key_dates": (),
    "windows": ("id",),
    "scenario": (),
    # A batch folder's datasets (`isoplan batch -o`), each a folder of parts.
    "clients": ("client_id",),
    "actions_due": (),
}
NUMBER = re.compile(r"\d[\d,]*(?:\.(\d+))?(?:[eE]([-+]?\d+))?")
MINUS = ("-", "−", "(")


class Tables:
    """The Parquet tables of an output folder, read once each.

    `data-table` is the table's path in the folder without `.parquet` (`years`, `compare`,
    `fmv-jump-wait/years`), or, for one path of a robust plan, the path's name before the table's
    (`ipo-2027/years`: the rows of years.parquet whose `path` is ipo-2027, keeping their positions
    in the file); in a batch folder, a dataset's folder (`clients`: its parts in order)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, pd.DataFrame] = {}

    def frame(self, table: str) -> pd.DataFrame:
        if table in self._cache:
            return self._cache[table]
        parts = table.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise LookupError(f"no table {table!r}")
        dataset = sorted(self.folder.joinpath(*parts).glob("part-*.parquet"))
        if dataset:  # a batch's dataset: its parts in order, a fresh 0..n-1 index
            frame = pd.concat([pd.read_parquet(p) for p in dataset], ignore_index=True)
            self._cache[table] = frame
            return frame
        for cut in range(len(parts) - 1, -1, -1):
            path = self.folder.joinpath(*parts[:cut], f"{parts[-1]}.parquet")
            if path.is_file():
                break
        else:
            raise LookupError(f"no table {table}.parquet")
        frame = pd.read_parquet(path)  # a fresh 0..n-1 index: the rows' positions
        filters = parts[cut:-1]
        if len(filters) > 1 or (filters and "path" not in frame.columns):
            raise LookupError(f"no table {table!r} ({path.relative_to(self.folder)} has no paths)")
        if filters:
            frame = frame[frame["path"] == filters[0]]
            if frame.empty:
                raise LookupError(f"no rows of path {filters[0]!r} in {path.name}")
        self._cache[table] = frame
        return frame

    def cell(self, table: str, key: str, column: str) -> Any:
        """The cell `column` of the row `key` names, under the contract's key of each table."""
        frame = self.frame(table)
        base = table.rsplit("/", 1)[-1]
        if base not in KEY_COLUMNS:
            raise LookupError(f"table {table!r}: the contract names no key for {base!r}")
        if column not in frame.columns:
            raise LookupError(f"table {table!r} has no column {column!r}")
        columns = KEY_COLUMNS[base]
        if not columns:
            index = int(key)
            if index not in frame.index:
                raise LookupError(f"table {table!r} has no row {index}")
            return frame.at[index, column]
        parts = key.split("|", len(columns) - 1)
        if len(parts) != len(columns):
            raise LookupError(f"table {table!r}: key {key!r} is not {'|'.join(columns)}")
        mask = np.ones(len(frame), dtype=bool)
        for name, part in zip(columns, parts, strict=True):
            series = frame[name]
            want: Any = int(part) if pd.api.types.is_integer_dtype(series) else part
            mask &= (series == want).to_numpy()
        rows = frame.loc[mask, column]
        if len(rows) != 1:
            raise LookupError(f"table {table!r}: key {key!r} matches {len(rows)} rows")
        return rows.iloc[0]


def check_figure(figure: Figure, tables: Tables) -> str | None:
    """Why `figure` is wrong (its value is not the cell, or its text not the value as rounded
    for display), or None."""
    where = f"{figure.table}[{figure.key}].{figure.column}"
    try:
        cell = tables.cell(figure.table, figure.key, figure.column)
        value = float(figure.value)
    except (LookupError, ValueError) as exc:
        return f"{where}: {exc}"
    try:
        expected = float(cell)
    except (TypeError, ValueError):
        return f"{where}: the cell {cell!r} is not a number"
    if math.isnan(expected) or math.isnan(value):
        if math.isnan(expected) and math.isnan(value):
            return None
        return f"{where}: data-value {figure.value} but the cell is {expected!r}"
    if abs(value - expected) > 0.005:
        return f"{where}: data-value {figure.value} but the cell is {expected!r}"
    return check_text(figure.text, value, where)


def check_text(text: str, value: float, where: str = "") -> str | None:
    """The visible text shows `value` rounded as displayed: one number whose last digit shown is
    the precision (money in whole dollars or cents; a percentage or a number like 1.5e-05 any),
    money with thousands separators, and a minus sign (or parentheses) before it when negative
    and not shown as zero."""
    text = " ".join(text.split())
    if not text:
        return None
    found = list(NUMBER.finditer(text))
    if len(found) != 1:
        return f"{where}: text {text!r} does not show exactly one number"
    match = found[0]
    if re.search(r"\d\s*[kKmMbB]\b", text):
        return f"{where}: text {text!r} is abbreviated"
    decimals = len(match.group(1) or "")
    exponent = int(match.group(2) or 0)
    percent = text[match.end() :].lstrip().startswith("%")
    money = "$" in text
    if money and decimals not in (0, 2):
        return f"{where}: text {text!r} is neither whole dollars nor cents"
    shown = float(match.group(0).replace(",", ""))
    magnitude = abs(value) * (100 if percent else 1)
    half_step = 0.5 * 10.0 ** (exponent - decimals)
    if abs(shown - magnitude) > half_step * (1 + 1e-9) + 1e-9:
        return f"{where}: text {text!r} does not show {value!r}"
    if money and "," not in match.group(0) and shown >= 10_000:
        return f"{where}: text {text!r} has no thousands separators"
    negative = any(m in text[: match.start()] for m in MINUS)
    if shown != 0 and negative != (value < 0):
        return f"{where}: text {text!r} has the wrong sign for {value!r}"
    return None
