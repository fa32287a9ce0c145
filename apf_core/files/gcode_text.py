"""Reading G-code text windows: binary checks, decoding, comment key/values.

The parser never loads a whole G-code file: it reads a head and a tail window
(1 MiB each, as Moonraker does) and, when needed, counts markers in a
chunked pass that holds one chunk at a time.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from .model import MetadataError

HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 20
CHUNK_BYTES = 1 << 20
#: sample of the head checked for binary content
SNIFF_BYTES = 64 << 10
#: at most this share of control bytes is tolerated in text G-code
MAX_CONTROL_RATIO = 0.01
BGCODE_MAGIC = b"GCDE"
UTF8_BOM = b"\xef\xbb\xbf"

_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_GCODE_LINE = re.compile(rb"^[ \t]*(?:;|[GMTNgmtn]\d)", re.MULTILINE)
_METADATA_LINE = re.compile(rb"^[ \t]*(?:;|EXCLUDE_OBJECT_DEFINE)[^\r\n]*", re.MULTILINE)
_KEY_VALUE_EQ = re.compile(r"^([^=:]+?)\s*=\s?(.*)$")
_THUMB_BEGIN = re.compile(r"^;\s*thumbnail(?:_[A-Za-z0-9]+)?\s+begin\b")
_THUMB_END = re.compile(r"^;\s*thumbnail(?:_[A-Za-z0-9]+)?\s+end\b")
_MAX_KEY_LENGTH = 80


def check_text(sample: bytes, label: str, what: str = "text G-code") -> None:
    """Raise MetadataError when ``sample`` (a file's first bytes) is not text."""
    if not sample:
        raise MetadataError(f"{label} is empty")
    if sample.startswith(BGCODE_MAGIC):
        raise MetadataError(f"{label} is binary G-code (.bgcode), which is not supported")
    sample = sample[:SNIFF_BYTES]
    control = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in sample or control > len(sample) * MAX_CONTROL_RATIO:
        raise MetadataError(f"{label} is not {what} (binary content)")


def head_lines(data: bytes, *, complete: bool) -> list[str]:
    """The metadata lines of a head window (an incomplete last line is dropped
    unless ``complete``; a UTF-8 byte-order mark is ignored)."""
    data = data.removeprefix(UTF8_BOM)
    if not complete:
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    return metadata_lines(data)


def tail_lines(data: bytes, *, complete: bool) -> list[str]:
    """The metadata lines of a tail window (an incomplete first line is dropped
    unless ``complete``)."""
    if not complete:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
    return metadata_lines(data)


def metadata_lines(data: bytes) -> list[str]:
    """Only the lines metadata can come from: comments and EXCLUDE_OBJECT_DEFINE.

    Moves (the bulk of a window) are never decoded, which keeps memory small.
    """
    return [
        match.group().decode("utf-8", errors="replace").strip()
        for match in _METADATA_LINE.finditer(data)
    ]


def require_gcode(data: bytes, label: str) -> None:
    if not _GCODE_LINE.search(data):
        raise MetadataError(f"{label} holds no G-code commands or comments")


def head_end(head: bytes, *, complete: bool) -> int:
    """Where the head window's last complete line ends; the tail starts there or later."""
    return len(head) if complete else head.rfind(b"\n") + 1


def read_tail(stream: BinaryIO, size: int, start_at: int) -> tuple[bytes, bool]:
    """The last TAIL_BYTES of a seekable file, starting no earlier than ``start_at``;
    also whether the window starts on a line boundary."""
    start = max(start_at, size - TAIL_BYTES)
    if start >= size:
        return b"", True
    stream.seek(start)
    return stream.read(size - start), start == start_at


class TailWindow:
    """Keeps (at least) the last TAIL_BYTES of a stream read once, front to back,
    by holding on to the latest chunks rather than copying them."""

    def __init__(self, start: bytes = b"") -> None:
        self.chunks: deque[bytes] = deque([start] if start else [])
        self.size = len(start)
        self.trimmed = False

    def feed(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        while self.chunks and self.size - len(self.chunks[0]) >= TAIL_BYTES:
            self.size -= len(self.chunks.popleft())
            self.trimmed = True

    def lines(self) -> list[str]:
        data = b"".join(self.chunks)
        if len(data) > TAIL_BYTES:
            data, self.trimmed = data[-TAIL_BYTES:], True
        return tail_lines(data, complete=not self.trimmed)


def count_markers(stream: BinaryIO, marker: bytes) -> int:
    """Occurrences of ``marker`` at the start of a line, over the whole stream."""
    return count_line_starts(stream, marker)[0]


def count_line_starts(stream: BinaryIO, *markers: bytes) -> tuple[int, ...]:
    """Per marker, how many lines start with it; reads one chunk at a time."""
    needles = [b"\n" + marker for marker in markers]
    keep = max(len(needle) for needle in needles) - 1
    totals = [0] * len(needles)
    carry = b"\n"  # the stream start counts as a line start
    while chunk := stream.read(CHUNK_BYTES):
        window = carry + chunk
        for position, needle in enumerate(needles):
            # skip matches that lie wholly in the carry: they were counted before
            totals[position] += window.count(needle) - carry.count(needle)
        carry = window[-keep:]
    return tuple(totals)


def without_thumbnails(lines: Iterable[str]) -> Iterator[str]:
    """``lines`` minus thumbnail blocks (their base64 can run to thousands of lines)."""
    in_thumbnail = False
    for line in lines:
        if in_thumbnail:
            in_thumbnail = not _THUMB_END.match(line)
        elif _THUMB_BEGIN.match(line):
            in_thumbnail = True
        else:
            yield line


def comment_values(lines: Iterable[str]) -> dict[str, str]:
    """``; key = value`` / ``;KEY:value`` comments -> {normalised key: value}.

    The first occurrence wins. Colon lines may hold several pairs separated by
    ``; `` (Bambu: ``; model printing time: 1m 39s; total estimated time: 9m``).
    Thumbnail blocks are skipped.
    """
    values: dict[str, str] = {}
    for raw in without_thumbnails(lines):
        line = raw.strip()
        if not line.startswith(";"):
            continue
        for key, value in _pairs(line[1:].strip()):
            values.setdefault(key, value)
    return values


def _pairs(body: str) -> list[tuple[str, str]]:
    equals, colon = body.find("="), body.find(":")
    if equals > 0 and (colon < 0 or equals < colon):
        match = _KEY_VALUE_EQ.match(body)
        return _normalised([(match.group(1), match.group(2))] if match else [])
    if colon <= 0:
        return []
    pairs = []
    for segment in body.split("; "):
        key, sep, value = segment.partition(":")
        if sep:
            pairs.append((key, value))
    return _normalised(pairs)


def _normalised(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    result = []
    for key, value in pairs:
        norm = " ".join(key.lower().split())
        if norm and len(norm) <= _MAX_KEY_LENGTH:
            result.append((norm, value.strip()))
    return result
