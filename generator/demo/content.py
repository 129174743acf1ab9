"""The demo's schema and authored entities, in the compact form ``make_demo._convert`` turns
into the model's value shapes (the guides, the longest, are in ``guides.py``)."""

from __future__ import annotations

from typing import Any

from generator.model import FieldKind

from .guides import GUIDES

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

CONTENT: dict[str, list[dict[str, Any]]] = {
    "ProcessSegments": PROCESS_SEGMENTS,
    "Equipment": EQUIPMENT,
    "Guides": GUIDES,
    "TeamMembers": TEAM_MEMBERS,
}
