"""The demo's attached files (a PNG chart, a photo-like PNG, a PDF, a CSV), drawn in pure
Python so that ``make_demo`` writes the same bytes on every run."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

# ---------------------------------------------------------------------------
# Attached files, drawn in pure Python
# ---------------------------------------------------------------------------


class Canvas:
    """A tiny RGB raster with just enough drawing to make illustrative PNGs."""

    def __init__(self, width: int, height: int, background: tuple[int, int, int]) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        """Fill the rectangle [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(x0, 0), min(x1, self.width)
        row = bytes(colour) * max(x1 - x0, 0)
        for y in range(max(y0, 0), min(y1, self.height)):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def disc(self, cx: float, cy: float, r: float, colour: tuple[int, int, int]) -> None:
        """Fill a disc centred on (cx, cy)."""
        for y in range(int(cy - r), int(cy + r) + 1):
            half = (r * r - (y - cy) ** 2) ** 0.5 if abs(y - cy) <= r else -1
            if half >= 0:
                self.rect(round(cx - half), y, round(cx + half) + 1, y + 1, colour)

    def png(self) -> bytes:
        """Encode the canvas as an 8-bit RGB PNG."""
        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw, 9))
            + _png_chunk(b"IEND", b"")
        )


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _lcg(seed: int) -> Callable[[], float]:
    """Return a tiny deterministic random generator (independent of Python's ``random``)."""
    state = [seed]

    def draw() -> float:
        state[0] = (state[0] * 1103515245 + 12345) % 2**31
        return state[0] / 2**31

    return draw


def spacing_patterns_png() -> bytes:
    """Draw two benches seen from above: pots in a square grid (left) and staggered (right)."""
    canvas = Canvas(360, 170, (236, 240, 232))
    pitch = 26
    for left, staggered in ((12, False), (192, True)):
        canvas.rect(left, 12, left + 156, 158, (120, 128, 118))
        canvas.rect(left + 3, 15, left + 153, 155, (196, 204, 190))
        row, y = 0, 28.0
        while y < 150:
            x = left + 16 + (pitch / 2 if staggered and row % 2 else 0)
            while x < left + 145:
                canvas.disc(x, y, 10, (72, 72, 72))
                canvas.disc(x, y, 8, (64, 140, 64))
                canvas.disc(x - 2, y - 2, 3, (120, 186, 104))
                x += pitch
            row += 1
            y += pitch * (0.866 if staggered else 1)
    return canvas.png()


def sticky_trap_png() -> bytes:
    """Draw a yellow sticky trap with a counting grid and a few caught insects."""
    canvas = Canvas(240, 160, (250, 250, 246))
    canvas.rect(20, 10, 220, 150, (244, 214, 20))
    for column in range(20, 221, 25):
        canvas.rect(column, 10, column + 1, 150, (196, 168, 0))
    for row in range(10, 151, 20):
        canvas.rect(20, row, 220, row + 1, (196, 168, 0))
    rand = _lcg(2026)
    for i in range(36):
        x, y = 24 + rand() * 192, 14 + rand() * 132
        if i % 3 == 0:  # fungus gnat: dark body with pale wings
            canvas.disc(x + 2, y - 1, 2, (230, 230, 220))
            canvas.disc(x, y, 1.5, (40, 36, 30))
        elif i % 3 == 1:  # thrips: small, slender
            canvas.rect(int(x), int(y), int(x) + 4, int(y) + 1, (90, 70, 30))
        else:  # whitefly
            canvas.disc(x, y, 1.8, (255, 255, 255))
    return canvas.png()


def pdf_document(title: str, lines: list[str]) -> bytes:
    """Return a one-page PDF (Helvetica, A4) with a bold title and plain text lines."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = "".join(f"({esc(line)}) Tj T*\n" for line in lines)
    stream = f"BT /F2 16 Tf 56 780 Td 20 TL ({esc(title)}) Tj T* /F1 11 Tf 16 TL\n{body}ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            "/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
    ]
    out = "%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("ascii")


SCOUTING_LOG_CSV = (
    "date,greenhouse,bench,trap,thrips,whitefly,fungus_gnats,aphids,mealybug_found,scout,notes\n"
    "2026-03-02,Greenhouse 1,B07,T12,4,0,11,0,no,PR,\n"
    "2026-03-02,Greenhouse 1,B08,T13,14,1,6,0,no,PR,thrips above threshold - released A. swirskii\n"
    "2026-03-02,Greenhouse 2,R03,T21,2,0,23,0,no,JB,wet corner near gutter - check drippers\n"
    ",,,,,,,,,,\n"
)


def attached_files() -> dict[str, tuple[str, bytes]]:
    """Return every demo file by name: (content type, bytes)."""
    checklist = pdf_document(
        "Substrate delivery checklist",
        [
            "Greenhouse Nursery - receiving potting substrate",
            "",
            "1. Check the delivery note against the order (mix code, volume in m3).",
            "2. Bags and bulk bales undamaged, stored under cover, off the ground.",
            "3. Take one sample per 50 m3 from three places in the load.",
            "4. Measure pH (target 5.5-6.2) and EC (1:1.5 extract, target 0.6-1.0 mS/cm).",
            "5. Squeeze test: a few drops of water, no dripping stream.",
            "6. Write the batch number on the potting machine log before use.",
            "7. Reject and call the supplier if pH or EC is outside the range.",
            "",
            "Signed: ____________________    Date: ____________",
        ],
    )
    return {
        "spacing-patterns.png": ("image/png", spacing_patterns_png()),
        "sticky-trap-grid.png": ("image/png", sticky_trap_png()),
        "scouting-log-template.csv": ("text/csv", SCOUTING_LOG_CSV.encode()),
        "substrate-delivery-checklist.pdf": ("application/pdf", checklist),
    }
