"""The demo's guides: rich text in Markdown, with ``<<Database:Entity name>>`` and
``<<file:name>>`` placeholders that ``make_demo`` expands."""

from __future__ import annotations

from typing import Any

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
