"""Build the demo workspace, a pot-plant nursery's knowledge base, and write ``workspace.json``.

Run from the repository root with ``python -m generator.demo.make_demo``. The output is
deterministic: ids are UUID5 over fixed names, dates are fixed, keys are sorted, and the
small attached files (PNG, PDF, CSV) are drawn here in pure Python, so a rerun writes the
same bytes.

Content is authored in a compact form and converted to the model's value shapes by
``_convert``: a relation is the target entity's name, a collection a list of names, a
state or select the option name, a files value a list of names in ``_files()``, and rich
text is Markdown. Inside Markdown, ``<<Database:Entity name>>`` becomes that entity's
Fibery URL (``<<Database:Entity name|bare>>`` the slug-less form) and ``<<file:name>>``
becomes the file's secret.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import textwrap
import unicodedata
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import markdown

from generator.model import Database, Entity, Field, FieldKind, Workspace

FIBERY_URL = "https://demo.fibery.io"
SPACE = "Nursery Knowledge Base"
OUTPUT = Path(__file__).with_name("workspace.json")
MARKDOWN_EXTENSIONS = ["tables", "sane_lists"]

# Every id and file secret is a UUID5 under this namespace, so reruns give the same ids.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{FIBERY_URL}/{SPACE.replace(' ', '_')}")

_PLACEHOLDER = re.compile(r"<<(\w+):([^>|]+)(\|bare)?>>")


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def make_id(*parts: str) -> str:
    """Return a stable UUID-shaped id for the given name parts."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def stamp(when: str) -> str:
    """Turn ``"MM-DD HH:MM"`` into a Fibery datetime in 2026, e.g. ``2026-03-02T09:15:00.000Z``."""
    day, time = when.split()
    return f"2026-{day}T{time}:00.000Z"


def camel(title: str) -> str:
    """Return the GraphQL field name Fibery derives from a field title ('Last Reviewed' -> 'lastReviewed')."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])


def slug(name: str) -> str:
    """Return the web-app style slug of an entity name ('Potting soil mixes' -> 'Potting-soil-mixes')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")


def md(text: str) -> str:
    """Dedent and trim an authored Markdown block."""
    return textwrap.dedent(text).strip() + "\n"


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


def _files() -> dict[str, tuple[str, bytes]]:
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


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------

K = FieldKind

# Database key -> (title, root query, [(field title, kind, target key)]).
SCHEMA: dict[str, tuple[str, str, list[tuple[str, FieldKind, str | None]]]] = {
    "ProcessSegments": (
        "Process Segments",
        "findProcessSegments",
        [
            ("Duration", K.NUMBER, None),
            ("Equipment", K.COLLECTION, "Equipment"),
            ("Predecessor", K.RELATION, "ProcessSegments"),
            ("Description", K.RICH_TEXT, None),
            ("State", K.STATE, None),
            ("Instructions URL", K.URL, None),
        ],
    ),
    "Equipment": (
        "Equipment",
        "findEquipment",
        [
            ("Manufacturer", K.TEXT, None),
            ("Manual", K.URL, None),
            ("Location", K.SELECT, None),
            ("Commissioned", K.DATE, None),
            ("Description", K.RICH_TEXT, None),
            ("State", K.STATE, None),
        ],
    ),
    "Guides": (
        "Guides",
        "findGuides",
        [
            ("Body", K.RICH_TEXT, None),
            ("State", K.STATE, None),
            ("Owner", K.RELATION, "TeamMembers"),
            ("Related Segments", K.COLLECTION, "ProcessSegments"),
            ("Source", K.URL, None),
            ("Last Reviewed", K.DATE, None),
            ("Tags", K.MULTI_SELECT, None),
            ("Attachments", K.FILES, None),
        ],
    ),
    "TeamMembers": (
        "Team Members",
        "findTeamMembers",
        [
            ("Role", K.SELECT, None),
            ("Email", K.EMAIL, None),
            ("Team", K.TEXT, None),
            ("Profile", K.URL, None),
        ],
    ),
}


# ---------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------

INTRANET = "https://intranet.greenhouse-nursery.example"

PROCESS_SEGMENTS: list[dict[str, Any]] = [
    {
        "name": "Propagation",
        "when": ("01-08 08:10", "02-16 14:05"),
        "duration": 504,
        "equipment": ["Fog System, Propagation House"],
        "predecessor": None,
        "state": "Approved",
        "instructionsUrl": f"{INTRANET}/sop/propagation",
        "description": """
            Young plants arrive as tissue-culture plugs or are started from cuttings, and
            are rooted under fog until they can be potted. Typical duration: **3 weeks**.

            - **Input:** plugs or cuttings, propagation trays, fine substrate
            - **Output:** rooted young plants, graded into *strong* and *weak* lots
            - **Conditions:** 26-28 °C, relative humidity above 85 %, light shading
        """,
    },
    {
        "name": "Potting",
        "when": ("01-08 08:20", "03-02 09:15"),
        "duration": 6,
        "equipment": ["Potting Machine PM-2"],
        "predecessor": "Propagation",
        "state": "Approved",
        "instructionsUrl": f"{INTRANET}/sop/potting",
        "description": """
            Rooted young plants are planted into their final pot by the potting machine,
            one batch at a time. A batch of 10,000 pots takes about **6 hours**,
            changeover included.

            - **Input:** rooted young plants, pots, substrate of the right mix
            - **Output:** potted plants on trays, placed pot-to-pot on the benches
            - **Check:** planting depth, substrate moisture, label with batch code
        """,
    },
    {
        "name": "Spacing",
        "when": ("01-08 08:30", "02-27 11:40"),
        "duration": 4,
        "equipment": [
            "Spacing Robot SR-1",
            "Ebb-and-Flow Benches GH1",
            "Roll-on Tables GH2",
        ],
        "predecessor": "Potting",
        "state": "Approved",
        "instructionsUrl": f"{INTRANET}/sop/spacing",
        "description": """
            When the leaves of neighbouring plants start to touch, the spacing robot
            moves the pots further apart so every plant keeps getting enough light.
            Most crops are spaced once or twice.

            - **Input:** a bench of plants at the current density
            - **Output:** the same plants at the next density of the spacing plan
        """,
    },
    {
        "name": "Growing",
        "when": ("01-08 08:40", "03-09 16:20"),
        "duration": 1344,
        "equipment": ["Ebb-and-Flow Benches GH1", "Roll-on Tables GH2"],
        "predecessor": "Spacing",
        "state": "Approved",
        "instructionsUrl": None,
        "description": """
            The longest step: plants grow on under a controlled climate until they are
            ready to sell, about **8 weeks** for foliage plants and much longer for
            orchids (which are spaced and moved between climate zones on the way).

            - **Watering:** ebb-and-flow, driven by the climate computer
            - **Crop protection:** weekly scouting and biological control
            - **Output:** saleable plants, ready for sorting
        """,
    },
    {
        "name": "Sorting",
        "when": ("01-08 08:50", "02-20 10:00"),
        "duration": 8,
        "equipment": ["Camera Grading Machine"],
        "predecessor": "Growing",
        "state": "Approved",
        "instructionsUrl": f"{INTRANET}/sop/sorting",
        "description": """
            Plants run through the camera grading machine, which measures height, width
            and the number of flower spikes, and sorts every plant into a grade.

            | Output lane | Goes to |
            |---|---|
            | A1, A2 | Packing |
            | B | Packing, discount channel |
            | Out | Compost |
        """,
    },
    {
        "name": "Packing",
        "when": ("01-08 09:00", "03-04 13:30"),
        "duration": 6,
        "equipment": ["Packing Line PL-1", "Sleeve Machine"],
        "predecessor": "Sorting",
        "state": "Approved",
        "instructionsUrl": f"{INTRANET}/sop/packing",
        "description": """
            Graded plants are cleaned, labelled, sleeved and put into trays or boxes as
            the customer order asks.

            - **Input:** graded plants, sleeves, labels, trays
            - **Output:** order lines on shelves, ready to load on trolleys
        """,
    },
    {
        "name": "Dispatch",
        "when": ("02-11 15:00", "03-11 08:45"),
        "duration": 1.5,
        "equipment": ["Danish Trolleys (CC)"],
        "predecessor": "Packing",
        "state": "Draft",
        "instructionsUrl": None,
        "description": """
            Orders are loaded on Danish trolleys, checked against the picking list and
            handed to the carrier. *This segment is still being described.*
        """,
    },
    {
        "name": "Manual Potting",
        "when": ("01-08 09:10", "01-20 12:00"),
        "duration": 40,
        "equipment": [],
        "predecessor": "Propagation",
        "state": "Obsolete",
        "instructionsUrl": None,
        "description": """
            Potting by hand at the potting tables. Replaced by machine potting in 2019;
            kept for the record and for the occasional small trial batch.
        """,
    },
]

EQUIPMENT: list[dict[str, Any]] = [
    {
        "name": "Potting Machine PM-2",
        "when": ("01-09 10:00", "03-02 09:20"),
        "manufacturer": "Potmaster",
        "manual": "https://docs.potmaster.example/pm-2/manual.pdf",
        "location": "Greenhouse 1",
        "commissioned": "2019-03-11",
        "state": "Operational",
        "description": """
            Fills pots with substrate, drills the planting hole and plants one young
            plant per pot; up to **2,000 pots per hour** with 12 cm pots.

            - Change the dibber size when switching pot size.
            - Empty and brush the substrate hopper at the end of each day.
        """,
    },
    {
        "name": "Spacing Robot SR-1",
        "when": ("01-09 10:05", "02-27 11:45"),
        "manufacturer": "Greenbot Automation",
        "manual": "https://support.greenbot.example/sr-1",
        "location": "Greenhouse 1",
        "commissioned": "2021-05-20",
        "state": "Operational",
        "description": """
            Gantry robot that picks up to 24 pots at a time and places them in a square or
            staggered pattern at the distance set in the spacing plan.
        """,
    },
    {
        "name": "Ebb-and-Flow Benches GH1",
        "when": ("01-09 10:10", "01-09 10:10"),
        "manufacturer": "Benchline Systems",
        "manual": "https://benchline.example/docs/ebb-flow",
        "location": "Greenhouse 1",
        "commissioned": "2016-02-01",
        "state": "Operational",
        "description": """
            96 fixed benches. Each bench floods to 2 cm for 10-15 minutes and drains back
            to the recirculation tank, where the water is filtered and disinfected.
        """,
    },
    {
        "name": "Roll-on Tables GH2",
        "when": ("01-09 10:15", "03-06 07:50"),
        "manufacturer": "Benchline Systems",
        "manual": "https://benchline.example/docs/roll-on",
        "location": "Greenhouse 2",
        "commissioned": "2018-08-15",
        "state": "Maintenance",
        "description": """
            Mobile tables on rails that travel between the growing area and the work hall.
            **Rail section 4 is under repair** until the end of March; use the side track.
        """,
    },
    {
        "name": "Camera Grading Machine",
        "when": ("01-09 10:20", "02-18 15:10"),
        "manufacturer": "Optisort",
        "manual": "https://optisort.example/manuals/grader-x",
        "location": "Packing Hall",
        "commissioned": "2022-09-05",
        "state": "Operational",
        "description": """
            Photographs each plant from two sides and sorts it into one of four lanes.
            Calibrate every morning with the three reference plants.
        """,
    },
    {
        "name": "Packing Line PL-1",
        "when": ("01-09 10:25", "01-09 10:25"),
        "manufacturer": "PackRight",
        "manual": None,
        "location": "Packing Hall",
        "commissioned": "2020-01-20",
        "state": "Operational",
        "description": None,
    },
    {
        "name": "Sleeve Machine",
        "when": ("01-09 10:30", "02-04 09:00"),
        "manufacturer": "Sleevetec",
        "manual": "https://sleevetec.example/support/s40",
        "location": "Packing Hall",
        "commissioned": "2020-01-20",
        "state": "Operational",
        "description": """
            Pulls a printed paper or plastic sleeve over each plant. Keep a spare roll of
            every customer sleeve next to the machine.
        """,
    },
    {
        "name": "Danish Trolleys (CC)",
        "when": ("01-09 10:35", "03-11 08:50"),
        "manufacturer": "Container Centralen (pool)",
        "manual": None,
        "location": None,
        "commissioned": None,
        "state": "Operational",
        "description": """
            Pool trolleys with adjustable shelves, exchanged with carriers and customers.
            Count trolleys, shelves and extensions in and out every day.
        """,
    },
    {
        "name": "Fog System, Propagation House",
        "when": ("01-09 10:40", "02-02 13:25"),
        "manufacturer": "Fogtech",
        "manual": "https://fogtech.example/manuals/hp-fog",
        "location": "Propagation House",
        "commissioned": "2017-04-03",
        "state": "Operational",
        "description": """
            High-pressure fog nozzles that keep humidity above 85 % while cuttings root.
            Descale the nozzles every quarter.
        """,
    },
    {
        "name": "Potting Machine PM-1",
        "when": ("01-09 10:45", "01-09 10:45"),
        "manufacturer": "Potmaster",
        "manual": None,
        "location": "Greenhouse 1",
        "commissioned": "2009-06-01",
        "state": "Retired",
        "description": "Replaced by PM-2 in 2019. Kept for spare parts.",
    },
]

TEAM_MEMBERS: list[dict[str, Any]] = [
    {
        "name": "Anna de Vries",
        "when": ("01-05 09:00", "01-05 09:00"),
        "role": "Head Grower",
        "email": "anna.devries@greenhouse-nursery.example",
        "team": "Cultivation",
        "profile": f"{INTRANET}/people/anna-de-vries",
    },
    {
        "name": "Jonas Berg",
        "when": ("01-05 09:05", "02-10 08:30"),
        "role": "Grower",
        "email": "jonas.berg@greenhouse-nursery.example",
        "team": "Cultivation",
        "profile": f"{INTRANET}/people/jonas-berg",
    },
    {
        "name": "Priya Raman",
        "when": ("01-05 09:10", "01-05 09:10"),
        "role": "Crop Protection Specialist",
        "email": "priya.raman@greenhouse-nursery.example",
        "team": "Cultivation",
        "profile": f"{INTRANET}/people/priya-raman",
    },
    {
        "name": "Mateo Álvarez",
        "when": ("01-05 09:15", "01-05 09:15"),
        "role": "Technician",
        "email": "mateo.alvarez@greenhouse-nursery.example",
        "team": "Technical Services",
        "profile": f"{INTRANET}/people/mateo-alvarez",
    },
    {
        "name": "Sofie Jensen",
        "when": ("01-05 09:20", "01-26 11:00"),
        "role": "Logistics Lead",
        "email": "sofie.jensen@greenhouse-nursery.example",
        "team": "Packing & Dispatch",
        "profile": f"{INTRANET}/people/sofie-jensen",
    },
    {
        "name": "Lena Okafor",
        "when": ("02-16 08:00", "02-16 08:00"),
        "role": "Quality Coordinator",
        "email": "lena.okafor@greenhouse-nursery.example",
        "team": "Quality",
        "profile": None,
    },
]

GUIDES: list[dict[str, Any]] = [
    {
        "name": "Watering schedule for Phalaenopsis",
        "when": ("01-12 08:30", "03-02 09:40"),
        "state": "Published",
        "owner": "Anna de Vries",
        "relatedSegments": ["Growing"],
        "source": "https://extension.example.edu/orchids/phalaenopsis-watering",
        "lastReviewed": "2026-03-02",
        "tags": ["Phalaenopsis", "Irrigation"],
        "attachments": [],
        "body": """
            Phalaenopsis grow in coarse bark, not soil. The roots need air as much as
            water: **water thoroughly, then let the substrate almost dry out**. Most losses
            in our orchid houses come from watering too often, not too little.

            ## Before you water

            1. Lift two or three pots per bench. A light pot with silvery roots needs water;
               a heavy pot with green roots does not.
            2. Check the EC and pH of the nutrient tank on the climate computer.
            3. Water **before noon**, so leaves and crowns are dry by the evening.

            ## Schedule by stage

            | Stage | Pot | Interval summer | Interval winter | EC (mS/cm) |
            |---|---|---|---|---|
            | Young plants | 6 cm | 5-7 days | 7-10 days | 0.6 |
            | Vegetative | 12 cm | 7 days | 10-14 days | 0.8 |
            | Spike induction (cool phase) | 12 cm | 7-10 days | 10-14 days | 0.8 |
            | Flowering | 12 cm | 7-10 days | 10-14 days | 1.0 |

            pH of the irrigation water: **5.5-6.2**. Use rainwater or reverse-osmosis
            water; our well water is too hard for orchids.

            ## Common mistakes

            - Water standing in the **crown** (the centre of the leaves) causes crown rot.
              If it happens, tip the pot and dab the crown dry.
            - Flooding the benches for longer than 15 minutes: the bark stays wet for days.
            - Reusing the schedule of the foliage plants. Orchids need a separate program.

            The right interval also depends on the bark size of the mix; see
            [Potting soil mixes](<<Guides:Potting soil mixes>>).
        """,
    },
    {
        "name": "Potting soil mixes",
        "when": ("01-13 10:00", "02-24 15:30"),
        "state": "Published",
        "owner": "Jonas Berg",
        "relatedSegments": ["Potting", "Propagation"],
        "source": None,
        "lastReviewed": "2026-02-24",
        "tags": ["Substrate"],
        "attachments": ["substrate-delivery-checklist.pdf"],
        "body": """
            We use four standard mixes. The mix code is printed on every bale and must be
            entered in the potting machine log with the batch number.

            | Code | Used for | Composition | pH | EC (mS/cm) |
            |---|---|---|---|---|
            | PH-F | Phalaenopsis, 6 cm pots | fine pine bark 6-10 mm 70 %, sphagnum 20 %, coir chips 10 % | 5.5-6.0 | 0.4 |
            | PH-M | Phalaenopsis, 12 cm pots | pine bark 10-20 mm 80 %, coir chips 15 %, sphagnum 5 % | 5.5-6.0 | 0.4 |
            | FOL | Foliage plants (Ficus, Calathea) | white peat 60 %, coir 20 %, perlite 20 %, base fertiliser 1 kg/m³ | 5.5-6.2 | 0.8 |
            | SUC | Kalanchoe and succulents | peat 40 %, pumice 40 %, sand 20 % | 6.0-6.5 | 0.6 |

            ## Receiving a delivery

            1. Store bales under cover and off the ground.
            2. Sample and test every delivery with the attached checklist.
            3. First in, first out. Opened bales are used within **four weeks**.

            ## Substrate moisture at potting

            The substrate should feel like a wrung-out sponge: when you squeeze a handful,
            a few drops come out but no stream. Too dry and the machine cannot form a
            clean planting hole; too wet and the mix compacts around the roots.
        """,
    },
    {
        "name": "Pest scouting checklist",
        "when": ("01-15 07:45", "03-09 16:00"),
        "state": "Published",
        "owner": "Priya Raman",
        "relatedSegments": ["Growing", "Propagation"],
        "source": "https://extension.example.edu/ipm/greenhouse-scouting",
        "lastReviewed": "2026-03-09",
        "tags": ["IPM", "Phalaenopsis"],
        "attachments": ["scouting-log-template.csv"],
        "body": """
            Every greenhouse is scouted **once a week**, on Monday, by the same person where
            possible. Early finds keep biological control working and chemicals out of
            the crop.

            ## The round

            1. Start in the Propagation House and end in the oldest crop (clean to dirty).
            2. Walk each section in a W pattern and check **10 plants per bench**: the
               undersides of leaves, the growing tips, flower buds and leaf axils.
            3. Read and replace the sticky traps: one yellow trap per 200 m², plus blue
               traps near doors for thrips.
            4. Note every count in the scouting log (template attached) the same day.

            ![Yellow sticky trap with a counting grid](/api/files/<<file:sticky-trap-grid.png>>)

            Count insects per square of the grid and multiply by the number of squares;
            you do not need to count the whole trap.

            ## What to look for

            | Pest | Where | Sign | Act when | First response |
            |---|---|---|---|---|
            | Thrips | flower buds, blue traps | silvery streaks on petals | more than 10 per trap per week | *Amblyseius swirskii* sachets |
            | Fungus gnats | substrate surface, yellow traps | larvae in wet substrate | more than 20 per trap per week | *Steinernema feltiae* nematodes |
            | Mealybugs | leaf axils, under leaves | white wool, sticky leaves | any find | isolate plants, *Cryptolaemus* |
            | Spider mites | leaf undersides | fine stippling, webbing | any hot spot | *Phytoseiulus persimilis* |
            | Aphids | growing tips | honeydew, cast skins | colonies on 2 % of plants | *Aphidius colemani* |
            | Whitefly | leaf undersides | white adults fly up | more than 5 per trap per week | *Encarsia formosa* |

            Mealybugs are the one pest we never wait for: report every find to the crop
            protection specialist the same day.
        """,
    },
    {
        "name": "Hygiene rules in the greenhouse",
        "when": ("01-16 11:20", "02-16 08:30"),
        "state": "Published",
        "owner": "Lena Okafor",
        "relatedSegments": [],
        "source": None,
        "lastReviewed": "2026-02-16",
        "tags": ["Hygiene", "Safety"],
        "attachments": [],
        "body": """
            Viruses, bacteria and pests travel on hands, tools, shoes and plants. These
            rules apply to everyone, including visitors and contractors.

            ## Every time you enter

            - Step through the disinfection mat and wash your hands.
            - Wear clean work clothes; no garden clothes from home.
            - Do not bring in plants, cut flowers or plant material of your own.

            ## While you work

            - **Disinfect knives and scissors between plants** when cutting orchids. Orchid
              viruses (CymMV, ORSV) spread mainly through cutting tools.
            - Put dead leaves and discarded plants in the closed bins, never on the floor.
            - Work from young crops to old crops, never the other way round.
            - No food or drink in the growing areas.

            ## Disinfectants we use

            | Where | Product type | Contact time |
            |---|---|---|
            | Hands | alcohol hand rub | 30 seconds |
            | Cutting tools | 2 % trisodium phosphate dip or flame | 10 seconds |
            | Foot mats | quaternary ammonium, refreshed daily | walk through |
            | Benches and floors | hydrogen peroxide / peracetic acid | 15 minutes |

            ## Visitors

            1. Register at reception and read this page.
            2. Put on a visitor coat and overshoes.
            3. Visit the Propagation House first, or not at all after visiting other houses.
        """,
    },
    {
        "name": "Onboarding a new grower",
        "when": ("02-02 13:00", "03-10 10:15"),
        "state": "In Review",
        "owner": "Anna de Vries",
        "relatedSegments": [],
        "source": None,
        "lastReviewed": None,
        "tags": ["Onboarding"],
        "attachments": [],
        "body": """
            Welcome to the cultivation team! This plan covers your first four weeks.
            Your buddy is an experienced grower from your own section; ask them anything.

            ## Week 1: the nursery and its rules

            1. Safety walk with the technician: emergency exits, chemical store, rails.
            2. Read [Hygiene rules in the greenhouse](<<Guides:Hygiene rules in the greenhouse>>)
               and sign the hygiene form.
            3. Follow one batch through the whole process, from
               [Propagation](<<ProcessSegments:Propagation>>) to dispatch.

            ## Week 2: looking at plants

            - Join the Monday scouting round; use the
              [Pest scouting checklist](<<Guides:Pest scouting checklist|bare>>).
            - Learn to judge a pot by its weight and its roots.

            ## Week 3: water and climate

            - Study the [Watering schedule for Phalaenopsis](<<Guides:Watering schedule for Phalaenopsis>>).
            - Climate computer basics: reading the day graph, alarms, the irrigation program.

            ## Week 4: your own section

            You take over a bench section with your buddy as back-up, and we review the
            month together.

            | Week | Buddy time | Check-in with the head grower |
            |---|---|---|
            | 1 | full days | Friday |
            | 2 | mornings | Friday |
            | 3 | on request | Friday |
            | 4 | on request | end of month review |
        """,
    },
    {
        "name": "Spacing plan for pot plants",
        "when": ("01-20 09:30", "02-27 12:00"),
        "state": "Published",
        "owner": "Jonas Berg",
        "relatedSegments": ["Spacing", "Growing"],
        "source": None,
        "lastReviewed": "2026-02-27",
        "tags": ["Spacing"],
        "attachments": [],
        "body": """
            After potting, plants stand pot-to-pot. As they grow, the
            [spacing robot](<<Equipment:Spacing Robot SR-1>>) moves them apart so that
            leaves just touch, never overlap. Space too late and plants stretch; space too
            early and you heat and light empty bench.

            ## Densities

            | Pot | After potting (pots/m²) | 1st spacing | Final | 1st spacing after |
            |---|---|---|---|---|
            | 6 cm | 250 | 120 | - | 5 weeks |
            | 9 cm | 110 | 60 | 40 | 4 weeks |
            | 12 cm (foliage) | 60 | 35 | 25 | 3 weeks |
            | 12 cm (Phalaenopsis) | 60 | 30 | 20 | 10 weeks |

            ## Square or staggered?

            ![Pots spaced in a square grid (left) and staggered (right)](/api/files/<<file:spacing-patterns.png>>)

            A staggered pattern fits about **15 % more plants** on the same bench at the
            same distance between pots. Use it for round plants (Phalaenopsis, Kalanchoe);
            use square spacing for plants that are trained into rows.

            ## Setting up the robot

            1. Select the crop program on the robot panel; check pot size and pattern.
            2. Run the first tray and measure the distance with the spacing ruler.
            3. After the bench is done, update the bench card with the new density.

            See also the [Spacing](<<ProcessSegments:Spacing>>) process segment.
        """,
    },
    {
        "name": "Grading standards for Phalaenopsis",
        "when": ("01-22 14:10", "03-04 13:45"),
        "state": "Published",
        "owner": "Lena Okafor",
        "relatedSegments": ["Sorting", "Packing"],
        "source": None,
        "lastReviewed": "2026-03-04",
        "tags": ["Phalaenopsis", "Quality"],
        "attachments": [],
        "body": """
            The camera grading machine sorts plants into four grades. The standards below
            are what our customers buy; when in doubt, grade down.

            | Grade | Spikes | Buds and flowers | Height (cm) | Leaves |
            |---|---|---|---|---|
            | A1 | 2 or more | 14 or more | 55-65 | 5 or more, no damage |
            | A2 | 2 | 10-13 | 50-65 | 4 or more, no damage |
            | B | 1 | 8 or more | 45-60 | small marks allowed |
            | Out | - | fewer than 8 | any | spots, rot or pests |

            ## Daily checks

            1. Calibrate the machine with the three reference plants before the first run.
            2. Every hour, pull five plants from the A1 lane and grade them by hand.
            3. If more than one of the five is wrong, stop the line and call the technician.

            Graded plants go straight to packing; for how they leave the nursery, see
            [Preparing a Danish trolley for dispatch](<<Guides:Preparing a Danish trolley for dispatch>>).
        """,
    },
    {
        "name": "Preparing a Danish trolley for dispatch",
        "when": ("03-05 15:30", "03-11 09:00"),
        "state": "Draft",
        "owner": None,
        "relatedSegments": ["Packing", "Dispatch"],
        "source": None,
        "lastReviewed": None,
        "tags": ["Logistics"],
        "attachments": [],
        "body": """
            *Draft: shelf counts still to be confirmed with the packing team.*

            1. Take a clean trolley with an intact CC tag; no broken shelves.
            2. Set the shelf height for the tallest plant of the order plus 5 cm.
            3. Load the heaviest shelves at the bottom, and fill shelves completely.
            4. Attach the order label to the top shelf, facing outwards.

            | Product | Pots per shelf | Shelves | Pots per trolley |
            |---|---|---|---|
            | Phalaenopsis 12 cm, 2 spikes, sleeved | 20 | 3 | 60 |
            | Foliage 12 cm | 40 | 4 | 160 |
            | Kalanchoe 10.5 cm | 60 | 5 | 300 |
        """,
    },
    {
        "name": "Disinfecting benches between crops",
        "when": ("02-19 10:40", "03-06 08:10"),
        "state": "In Review",
        "owner": "Mateo Álvarez",
        "relatedSegments": ["Growing"],
        "source": None,
        "lastReviewed": None,
        "tags": ["Hygiene"],
        "attachments": [],
        "body": """
            Empty benches are cleaned and disinfected before the next crop goes on them.
            This follows the [Hygiene rules in the greenhouse](<<Guides:Hygiene rules in the greenhouse>>).

            1. Remove all plants, plant debris and labels.
            2. Brush or pressure-wash the bench surface and the drain channel.
            3. Apply the hydrogen peroxide / peracetic acid solution and leave it for
               **15 minutes**; do not let it dry out in that time.
            4. Rinse with clean water and flush the drain valve.
            5. Test one flood cycle and mark the bench *clean* on the bench card.

            Wear gloves and safety glasses for steps 3 and 4.
        """,
    },
]

CONTENT: dict[str, list[dict[str, Any]]] = {
    "ProcessSegments": PROCESS_SEGMENTS,
    "Equipment": EQUIPMENT,
    "Guides": GUIDES,
    "TeamMembers": TEAM_MEMBERS,
}


# ---------------------------------------------------------------------------
# Building the workspace
# ---------------------------------------------------------------------------


class Registry:
    """Ids, public ids and Fibery URLs of every authored entity, and the files' secrets."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        self.files = files
        self.ids: dict[tuple[str | None, str], tuple[str, str]] = {}
        for key, items in CONTENT.items():
            for number, item in enumerate(items, start=1):
                self.ids[(key, item["name"])] = (
                    make_id(key, item["name"]),
                    str(number),
                )

    def entity_id(self, key: str | None, name: str) -> str:
        """Return the id of the entity called ``name`` in database ``key``."""
        return self.ids[(key, name)][0]

    def url(self, key: str, name: str, bare: bool = False) -> str:
        """Return the Fibery web URL of an entity, with its slug unless ``bare``."""
        public_id = self.ids[(key, name)][1]
        page = public_id if bare else f"{slug(name)}-{public_id}"
        return f"{FIBERY_URL}/{SPACE.replace(' ', '_')}/{SCHEMA[key][0].replace(' ', '_')}/{page}"

    def secret(self, name: str) -> str:
        """Return the Fibery file secret of a demo file."""
        if name not in self.files:
            raise KeyError(f"unknown demo file {name!r}")
        return make_id("file", name)

    def expand(self, text: str) -> str:
        """Replace ``<<Db:Name>>`` and ``<<file:name>>`` placeholders in authored Markdown."""

        def one(match: re.Match[str]) -> str:
            key, name, bare = match.group(1), match.group(2), bool(match.group(3))
            return self.secret(name) if key == "file" else self.url(key, name, bare)

        return _PLACEHOLDER.sub(one, text)


# The final states of the workflows (Fibery's ``final`` flag, which the client reads): pages
# colour state badges by it.
FINAL_STATES = frozenset({"Approved", "Published", "Obsolete", "Retired"})


def _convert(value: Any, field: Field, registry: Registry) -> Any:
    """Turn an authored value into the model's shape for ``field.kind`` (see model.py)."""
    if value is None:
        return None
    kind = field.kind
    if kind is K.RICH_TEXT:
        text = registry.expand(md(value))
        return {
            "md": text,
            "html": markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS),
        }
    if kind is K.STATE:
        return {"name": value, "final": value in FINAL_STATES}
    if kind is K.SELECT:
        return {"name": value}
    if kind is K.MULTI_SELECT:
        return [{"name": name} for name in value]
    if kind is K.RELATION:
        return {"id": registry.entity_id(field.target, value)}
    if kind is K.COLLECTION:
        return [{"id": registry.entity_id(field.target, name)} for name in value]
    if kind is K.FILES:
        return [
            {
                "secret": registry.secret(n),
                "name": n,
                "contentType": registry.files[n][0],
            }
            for n in value
        ]
    return value


def build_fields(key: str) -> list[Field]:
    """Return the fields of database ``key`` as declared in ``SCHEMA``."""
    return [Field(key=camel(title), title=title, kind=kind, target=target) for title, kind, target in SCHEMA[key][2]]


def build_entity(key: str, item: dict[str, Any], fields: list[Field], registry: Registry) -> Entity:
    """Convert one authored item into an ``Entity`` with a value for every field."""
    unknown = set(item) - {"name", "when"} - {f.key for f in fields}
    if unknown:
        raise KeyError(f"{key}/{item['name']}: no such field(s) {sorted(unknown)}")
    entity_id, public_id = registry.ids[(key, item["name"])]
    created, modified = item["when"]
    return Entity(
        id=entity_id,
        public_id=public_id,
        name=item["name"],
        creation_date=stamp(created),
        modification_date=stamp(modified),
        values={f.key: _convert(item[f.key], f, registry) for f in fields},
    )


def build_workspace() -> Workspace:
    """Assemble the demo ``Workspace`` from the authored content."""
    registry = Registry(_files())
    databases = []
    for key, (title, query, _) in SCHEMA.items():
        fields = build_fields(key)
        entities = [build_entity(key, item, fields, registry) for item in CONTENT[key]]
        databases.append(
            Database(
                key=key,
                title=title,
                query=query,
                web_name=title.replace(" ", "_"),
                fields=fields,
                entities=entities,
            )
        )
    files = {
        registry.secret(name): base64.b64encode(data).decode("ascii") for name, (_, data) in registry.files.items()
    }
    return Workspace(fibery_url=FIBERY_URL, space=SPACE, databases=databases, files=files)


def dump(workspace: Workspace) -> str:
    """Serialise the workspace as stable, sorted, pretty-printed ASCII JSON."""
    return json.dumps(workspace.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Build the demo workspace and write it next to this script."""
    OUTPUT.write_text(dump(build_workspace()), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
