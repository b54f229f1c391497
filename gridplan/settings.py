"""Documented defaults for every gridplan stage, and the ``plan.toml`` loader.

Every planning function takes ``config: Config | None = None``; ``None`` means
:data:`DEFAULT`. A ``plan.toml`` overrides any subset of keys (README: ``plan.toml``); the key
names below are a contract and are never renamed.

Sources for the defaults:

- grid size 300–500 households, the common urban norm for community grids (county reports:
  Anshun's pilot, 8 800 households in 35 grids, about 250 each; Guanling, Yanhe);
- ten-household units (十联户), 5–15 households each;
- walking speed 60 m/min: GB 50180-2018 puts 300 m at 5 minutes; elderly 52 m/min (about
  3.1 km/h, the 10th percentile of measured elderly walkers, Willberg et al. 2023);
- life-circle tiers and their facility categories: GB 50180-2018;
- request deadlines (``[requests.sla]``): Gaozhou's time limits for residents' requests (simple
  questions answered at once, general ones within 1 day, major ones within 1 week) and Beijing's
  12345 hotline (接诉即办: emergencies 2 h, utilities 24 h, general 7 days, complex 15 days),
  as reported in the county and Beijing press.
- communities of 5 000 – 12 000 residents, target 10 000: GB 50180-2018's five-minute life
  circle, and Cenxi's 19 re-drawn communities of about 10 000 residents.

Example
-------
>>> from gridplan.settings import load_config
>>> cfg = load_config({"grids": {"target_households": 350}})
>>> cfg.grids.target_households, cfg.grids.max_households
(350, 500)
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gridplan._errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "BARRIER_SNAP_M",
    "BUILDING_TAG_USES",
    "BUILDING_USES",
    "DEFAULT",
    "FACILITY_CATEGORIES",
    "IGNORED_POI_KINDS",
    "LANDUSE_USES",
    "MIXED_LANDUSES",
    "NAME_WORDS",
    "OFFICE_POI_KINDS",
    "PERSON_ROLES",
    "PRECISION_M",
    "REQUEST_CATEGORIES",
    "REQUEST_CHANNELS",
    "REQUEST_HANDLING",
    "REQUEST_KINDS",
    "REQUEST_URGENCIES",
    "SLIVER_M",
    "VULNERABLE_KINDS",
    "WHOLE_BUILDING_POI_KINDS",
    "CommunitySettings",
    "Config",
    "CoverageSettings",
    "GridSettings",
    "HouseholdSettings",
    "RequestSettings",
    "RosterSettings",
    "SitingSettings",
    "StaffingSettings",
    "UnitSettings",
    "flat_parameters",
    "load_config",
    "load_config_over",
    "parameter_changes",
]

#: Facility categories known to gridplan (dataset contract). Extend with ``[coverage] categories``.
FACILITY_CATEGORIES: tuple[str, ...] = (
    "service_station",
    "kindergarten",
    "nursery",
    "elderly_daycare",
    "health_station",
    "primary_school",
    "secondary_school",
    "market",
    "supermarket",
    "convenience_store",
    "health_center",
    "culture_center",
    "sports",
    "elderly_home",
)

#: Roles a person may hold (``people.roles`` is a ``;``-list of these).
PERSON_ROLES: tuple[str, ...] = ("grid_head", "grid_worker", "unit_head", "volunteer")

#: Kinds of vulnerable household (the "yellow list").
VULNERABLE_KINDS: tuple[str, ...] = ("elderly_alone", "disabled", "low_income", "left_behind_child")

#: Metres within which a barrier's free end is carried across the boundary or another barrier
#: when faces are cut (a line clipped to a community ends on its boundary only up to rounding;
#: roads are often drawn a little short of a river bank). Half a lane width or less.
BARRIER_SNAP_M: float = 1.0

#: Faces thinner than this (twice area over perimeter, about a strip's width, metres) are
#: slivers left by a barrier running along, almost on, a community line; they are merged into
#: the neighbour they share most boundary with. No building fits in such a strip.
SLIVER_M: float = 0.5

#: Grid (metres) that community and barrier coordinates are rounded to before faces are cut:
#: lines that coincide up to rounding (a road drawn on the community line) become one line.
PRECISION_M: float = 0.001

#: ``barriers.kind`` values that make a polygon barrier open water: cut out of every community
#: before grids are drawn (no grid covers water). Lines of these kinds stay
#: barriers. ``gridplan import-osm`` writes OSM ``natural=water`` and riverbank areas as
#: ``water``.
WATER_KINDS: tuple[str, ...] = (
    "water",
    "river",
    "riverbank",
    "canal",
    "lake",
    "pond",
    "reservoir",
    "basin",
    "sea",
    "bay",
    "harbour",
    "harbor",
    "lagoon",
)

#: Water within this many metres of a building's representative point stays land (a building
#: drawn on a pier, or over a water polygon, keeps its place in a grid).
WATER_BUILDING_CLEARANCE_M: float = 5.0

#: The built-up area (the community of a dataset without a ``communities`` layer): buildings
#: grown by this many metres. 25 m is about half the street spacing inside a Chinese block
#: (小区 blocks of 40–60 m between buildings), so neighbouring buildings' areas meet.
BUILT_UP_BUILDING_BUFFER_M: float = 25.0

#: ... and the streets among the buildings by this many metres (a street and its pavements).
BUILT_UP_ROAD_BUFFER_M: float = 15.0

#: ... and the union closed morphologically by this many metres: blocks join across streets
#: and squares up to 2 × 40 m wide, while a bay or an open field wider than that stays out.
BUILT_UP_CLOSING_M: float = 40.0

#: Values of ``buildings.use``.
BUILDING_USES: tuple[str, ...] = ("residential", "mixed", "non_residential")

# -- use inference tables (gridplan.uses; the dataset contract) ----------------------------
# Each table is the documented mapping from a dataset value to evidence about a building's
# use. The name-word tables can be extended from plan.toml ([households] residential_words,
# non_residential_words, mixed_words); the tag tables are the OSM wiki's meanings.

#: OSM ``building=*`` value -> use. Values not listed (``yes``, ``block``, ``roof`` is listed,
#: anything a mapper invented) leave the use to the other evidence: never rejected. Source: the
#: OSM wiki's Key:building page (residential "accommodation" and the commercial, religious,
#: civic, transport, agricultural and technical sections).
BUILDING_TAG_USES: dict[str, str] = {
    **dict.fromkeys(
        (
            "residential",
            "apartments",
            "house",
            "detached",
            "semidetached_house",
            "semi",
            "terrace",
            "dormitory",
            "bungalow",
            "cabin",
            "farm",
            "stilt_house",
            "houseboat",
            "static_caravan",
            "住宅",
            "居住",
        ),
        "residential",
    ),
    **dict.fromkeys(("mixed", "mixed_use", "商住"), "mixed"),
    **dict.fromkeys(
        (
            "commercial",
            "retail",
            "office",
            "industrial",
            "warehouse",
            "hotel",
            "supermarket",
            "kiosk",
            "bank",
            "mall",
            "church",
            "chapel",
            "cathedral",
            "mosque",
            "temple",
            "shrine",
            "synagogue",
            "monastery",
            "religious",
            "school",
            "kindergarten",
            "university",
            "college",
            "hospital",
            "public",
            "civic",
            "government",
            "fire_station",
            "police",
            "museum",
            "train_station",
            "transportation",
            "garage",
            "garages",
            "parking",
            "carport",
            "shed",
            "roof",
            "hut",
            "service",
            "utility",
            "pavilion",
            "tower",
            "water_tower",
            "transformer_tower",
            "sports_hall",
            "sports_centre",
            "stadium",
            "grandstand",
            "toilets",
            "construction",
            "ruins",
            "bunker",
            "greenhouse",
            "glasshouse",
            "barn",
            "cowshed",
            "stable",
            "sty",
            "silo",
            "storage_tank",
            "ship",
            "bridge",
            "gatehouse",
            "商业",
            "工业",
            "办公",
            "公共",
        ),
        "non_residential",
    ),
}

#: OSM ``landuse=*`` value -> the use it suggests for a building standing in it. Source: the
#: OSM wiki's Key:landuse page; ``civil``, ``institutional`` and ``education`` are public land.
LANDUSE_USES: dict[str, str] = {
    "residential": "residential",
    **dict.fromkeys(
        (
            "commercial",
            "retail",
            "industrial",
            "civil",
            "institutional",
            "education",
            "religious",
            "military",
            "railway",
            "port",
            "garages",
            "depot",
            "construction",
            "farmyard",
            "cemetery",
        ),
        "non_residential",
    ),
}

#: Land where homes commonly sit above shops and offices (city centres, OSM draws whole mixed
#: blocks so): only weak evidence against homes. Helsinki's centre: 8 of 30 tagged apartment
#: buildings stand in ``landuse=commercial``.
MIXED_LANDUSES: frozenset[str] = frozenset({"commercial", "retail"})

#: POI ``kind`` values that take a whole building (a hotel, a school, a church, a hospital):
#: OSM amenity / tourism / leisure / shop values. Strong evidence against homes.
WHOLE_BUILDING_POI_KINDS: frozenset[str] = frozenset(
    {
        "hotel",
        "hostel",
        "motel",
        "museum",
        "gallery",
        "hospital",
        "school",
        "university",
        "college",
        "kindergarten",
        "library",
        "place_of_worship",
        "townhall",
        "courthouse",
        "police",
        "fire_station",
        "theatre",
        "cinema",
        "arts_centre",
        "concert_hall",
        "casino",
        "conference_centre",
        "exhibition_centre",
        "events_venue",
        "marketplace",
        "mall",
        "department_store",
        "sports_centre",
        "stadium",
        "sports_hall",
        "ice_rink",
        "swimming_pool",
        "prison",
        "embassy",
        "train_station",
        "bus_station",
        # tourism=attraction: the building is itself a sight (the Oriental Pearl TV tower)
        "attraction",
        "aquarium",
        "zoo",
        "theme_park",
    }
)

#: POI ``kind`` values that take a floor or two (an office, a bank branch): three or more in
#: one building make it an office building; one or two are offices or branches below homes,
#: as common in Chinese residential towers (底商) as in Helsinki's apartment blocks.
OFFICE_POI_KINDS: frozenset[str] = frozenset(
    {
        "office",
        "company",
        "government",
        "central_bank",
        "bank",
        "bureau_de_change",
        "financial",
        "insurance",
        "lawyer",
        "accountant",
        "consulting",
        "it",
        "estate_agent",
        "coworking",
        "ngo",
        "association",
        "diplomatic",
        "post_office",
        "clinic",
        "doctors",
        "dentist",
    }
)

#: Every other POI kind (shops, restaurants, cafés, pubs, hairdressers …) is a ground-floor
#: trade: no evidence against homes, but a home with one becomes ``mixed``.

#: POI kinds that carry no evidence about the building (street furniture and the like).
IGNORED_POI_KINDS: frozenset[str] = frozenset(
    {
        "bench",
        "vending_machine",
        "bicycle_parking",
        "waste_basket",
        "recycling",
        "post_box",
        "telephone",
        "drinking_water",
        "atm",
        "artwork",
        "information",
        "viewpoint",
        "clock",
        "fountain",
        "shelter",
        "bicycle_rental",
        "charging_station",
        "taxi",
        "parking_entrance",
        "motorcycle_parking",
        "toilets",
        "picnic_table",
        "playground",
        "park",
        "garden",
        "pitch",
        "yes",
    }
)

#: Words in a building's ``name`` -> (use, what the word says, strength). Strength ``strong``
#: decides against size and height; ``weak`` words (中心 "centre", 广场 "plaza", Tower) are also
#: the names of residential compounds (万科中心, 时代广场 towers), so residential words beat them.
#: Matching: Chinese words anywhere in the name; Latin words as whole words, case ignored.
#: Motivation: Lujiazui's 219 named buildings (issue 15): 上海中心大厦, 环球金融中心,
#: 上海证券交易所, 汇丰银行大楼, 香格里拉大酒店 against 仁恒滨江园, 世茂滨江花园, 陆家嘴花园.
NAME_WORDS: tuple[tuple[str, str, str, str], ...] = (
    # word, use, label, strength
    ("大厦", "non_residential", "office", "strong"),
    ("大楼", "non_residential", "office", "strong"),
    ("写字楼", "non_residential", "office", "strong"),
    ("办公", "non_residential", "office", "strong"),
    ("银行", "non_residential", "bank", "strong"),
    ("交易所", "non_residential", "exchange", "strong"),
    ("金融", "non_residential", "finance", "strong"),
    ("证券", "non_residential", "finance", "strong"),
    ("保险", "non_residential", "finance", "strong"),
    ("酒店", "non_residential", "hotel", "strong"),
    ("宾馆", "non_residential", "hotel", "strong"),
    ("饭店", "non_residential", "hotel", "strong"),
    ("旅馆", "non_residential", "hotel", "strong"),
    ("商场", "non_residential", "retail", "strong"),
    ("商厦", "non_residential", "retail", "strong"),
    ("百货", "non_residential", "retail", "strong"),
    ("购物", "non_residential", "retail", "strong"),
    ("超市", "non_residential", "retail", "strong"),
    ("市场", "non_residential", "retail", "strong"),
    ("医院", "non_residential", "hospital", "strong"),
    ("卫生", "non_residential", "health", "strong"),
    ("学校", "non_residential", "school", "strong"),
    ("学院", "non_residential", "school", "strong"),
    ("大学", "non_residential", "school", "strong"),
    ("中学", "non_residential", "school", "strong"),
    ("小学", "non_residential", "school", "strong"),
    ("幼儿园", "non_residential", "school", "strong"),
    ("教学楼", "non_residential", "school", "strong"),
    ("实验楼", "non_residential", "school", "strong"),
    ("图书馆", "non_residential", "public", "strong"),
    ("博物馆", "non_residential", "public", "strong"),
    ("美术馆", "non_residential", "public", "strong"),
    ("展览", "non_residential", "public", "strong"),
    ("会展", "non_residential", "public", "strong"),
    ("剧院", "non_residential", "public", "strong"),
    ("体育", "non_residential", "public", "strong"),
    ("派出所", "non_residential", "public", "strong"),
    ("公安", "non_residential", "public", "strong"),
    ("法院", "non_residential", "public", "strong"),
    ("政府", "non_residential", "public", "strong"),
    ("委员会", "non_residential", "public", "strong"),
    ("局", "non_residential", "public", "weak"),
    ("车站", "non_residential", "transport", "strong"),
    ("站", "non_residential", "transport", "weak"),
    ("电视塔", "non_residential", "landmark", "strong"),
    ("明珠", "non_residential", "landmark", "weak"),
    ("寺", "non_residential", "religious", "strong"),
    ("教堂", "non_residential", "religious", "strong"),
    ("厂", "non_residential", "industrial", "strong"),
    ("仓库", "non_residential", "industrial", "strong"),
    ("中心", "non_residential", "office", "weak"),
    ("广场", "non_residential", "commercial", "weak"),
    ("大道", "non_residential", "commercial", "weak"),
    ("楼", "non_residential", "office", "weak"),
    ("Tower", "non_residential", "office", "weak"),
    ("Plaza", "non_residential", "commercial", "weak"),
    ("Center", "non_residential", "office", "weak"),
    ("Centre", "non_residential", "office", "weak"),
    ("Building", "non_residential", "office", "weak"),
    ("Office", "non_residential", "office", "strong"),
    ("Offices", "non_residential", "office", "strong"),
    ("Bank", "non_residential", "bank", "strong"),
    ("Exchange", "non_residential", "exchange", "strong"),
    ("Financial", "non_residential", "finance", "strong"),
    ("Hotel", "non_residential", "hotel", "strong"),
    ("Hostel", "non_residential", "hotel", "strong"),
    ("Mall", "non_residential", "retail", "strong"),
    ("Market", "non_residential", "retail", "strong"),
    ("Hospital", "non_residential", "hospital", "strong"),
    ("School", "non_residential", "school", "strong"),
    ("University", "non_residential", "school", "strong"),
    ("College", "non_residential", "school", "strong"),
    ("Library", "non_residential", "public", "strong"),
    ("Museum", "non_residential", "public", "strong"),
    ("Theatre", "non_residential", "public", "strong"),
    ("Church", "non_residential", "religious", "strong"),
    ("Cathedral", "non_residential", "religious", "strong"),
    ("Temple", "non_residential", "religious", "strong"),
    ("Station", "non_residential", "transport", "strong"),
    ("Police", "non_residential", "public", "strong"),
    ("Trade", "non_residential", "office", "weak"),
    ("WTC", "non_residential", "office", "strong"),
    ("商住", "mixed", "shops below homes", "strong"),
    ("小区", "residential", "compound", "strong"),
    ("住宅", "residential", "housing", "strong"),
    ("公寓", "residential", "apartments", "strong"),
    ("宿舍", "residential", "dormitory", "strong"),
    ("新村", "residential", "housing estate", "strong"),
    ("家园", "residential", "housing estate", "strong"),
    ("花园", "residential", "housing estate", "strong"),
    ("公馆", "residential", "housing estate", "strong"),
    ("山庄", "residential", "housing estate", "strong"),
    ("别墅", "residential", "villas", "strong"),
    ("名苑", "residential", "housing estate", "strong"),
    ("苑", "residential", "housing estate", "weak"),
    ("园", "residential", "housing estate", "weak"),
    ("里", "residential", "lane housing", "weak"),
    ("弄", "residential", "lane housing", "weak"),
    ("村", "residential", "village", "weak"),
    ("栋", "residential", "block of a compound", "weak"),
    ("号楼", "residential", "block of a compound", "weak"),
    ("Apartments", "residential", "apartments", "strong"),
    ("Apartment", "residential", "apartments", "strong"),
    ("Residence", "residential", "apartments", "strong"),
    ("Residences", "residential", "apartments", "strong"),
    ("Residential", "residential", "apartments", "strong"),
    ("Condominium", "residential", "apartments", "strong"),
    ("Villa", "residential", "villas", "weak"),
    ("Villas", "residential", "villas", "weak"),
    ("Garden", "residential", "housing estate", "weak"),
    ("Gardens", "residential", "housing estate", "weak"),
    ("Court", "residential", "housing estate", "weak"),
    ("Dormitory", "residential", "dormitory", "strong"),
)


@dataclass(frozen=True)
class GridSettings:
    """Grid (网格) partition settings (``[grids]``)."""

    #: Households a grid should hold.
    target_households: int = 400
    #: Smallest acceptable grid.
    min_households: int = 300
    #: Largest acceptable grid.
    max_households: int = 500
    #: Road classes (OSM ``highway``) that grids never cross; every ``barriers`` line too.
    barrier_road_classes: tuple[str, ...] = ("motorway", "trunk", "primary")
    #: Wall-clock limit for the partition of one community, seconds.
    time_limit_s: float = 30.0
    #: Turn balance flags (a grid out of bounds) into an error.
    strict: bool = False


@dataclass(frozen=True)
class UnitSettings:
    """Ten-household unit (十联户) settings (``[units]``)."""

    target_households: int = 10
    min_households: int = 5
    max_households: int = 15
    #: Wall-clock limit for the units of one grid, seconds.
    time_limit_s: float = 5.0


def _default_tiers() -> dict[int, tuple[str, ...]]:
    return {
        5: (
            "service_station",
            "kindergarten",
            "elderly_daycare",
            "health_station",
            "convenience_store",
        ),
        10: ("primary_school", "market"),
        15: ("secondary_school", "health_center", "culture_center", "sports", "elderly_home"),
    }


@dataclass(frozen=True)
class CoverageSettings:
    """15-minute life-circle coverage settings (``[coverage]``)."""

    #: Standard walking speed, metres per minute (GB 50180: 300 m in 5 minutes).
    speed_m_per_min: float = 60.0
    #: Elderly walking speed, metres per minute.
    elderly_speed_m_per_min: float = 52.0
    #: Tier minutes -> facility categories checked at that tier (tiers do not nest).
    tiers: dict[int, tuple[str, ...]] = field(default_factory=_default_tiers)
    #: Road classes never walkable unless the road's ``walkable`` column says so.
    unwalkable_road_classes: tuple[str, ...] = ("motorway", "motorway_link", "trunk", "trunk_link")
    #: Farthest a building or facility may be from the walk network to join it, metres.
    max_access_m: float = 500.0
    #: Extra facility categories accepted besides :data:`FACILITY_CATEGORIES`.
    categories: tuple[str, ...] = ()
    #: Half-width of the street corridor drawn as a facility's catchment (isochrone), metres.
    catchment_buffer_m: float = 40.0


@dataclass(frozen=True)
class StaffingSettings:
    """Staffing settings (``[staffing]``)."""

    #: A grid head lives at most this far from the grid (0 when inside it), metres.
    max_head_distance_m: float = 1500.0
    #: Households one full-time grid worker covers when the roster gives no capacity.
    households_per_full_time_worker: int = 500
    #: A grid worker lives at most this far from a grid they serve, metres.
    max_worker_distance_m: float = 1500.0
    #: Vulnerable households one volunteer serves when the roster gives no capacity.
    volunteer_capacity_households: int = 10
    #: Buildings with at least this many households get a building head (楼栋长).
    building_head_min_households: int = 60
    #: Only party members may head grids.
    grid_head_party_only: bool = False
    #: Minimum share of party members among grid heads and grid workers.
    min_party_share: float = 0.0
    #: A person may hold more than one role.
    allow_multiple_roles: bool = False
    #: A unit head may also be the building head of a building of the unit.
    unit_head_may_be_building_head: bool = True
    #: Farthest a volunteer travels to a grid, metres.
    max_volunteer_distance_m: float = 3000.0
    #: Vulnerable kind -> volunteer skills that meet the need.
    skill_needs: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "elderly_alone": ("elderly_care", "medical"),
            "disabled": ("medical",),
            "low_income": ("legal",),
            "left_behind_child": ("tutoring",),
        }
    )
    #: Solver wall-clock limit per problem, seconds.
    time_limit_s: float = 20.0


@dataclass(frozen=True)
class SitingSettings:
    """New-facility siting settings (``[siting]``)."""

    #: New sites to choose per category (maximal covering).
    new_sites: int = 3
    #: When set, find the fewest sites reaching this covered share instead (set covering).
    target_share: float | None = None
    #: Solver wall-clock limit per category, seconds.
    time_limit_s: float = 10.0
    #: Without a ``sites`` layer, candidates are generated one per cell of this size, metres.
    candidate_spacing_m: float = 100.0


@dataclass(frozen=True)
class HouseholdSettings:
    """Household estimation for buildings without counts (``[households]``)."""

    #: Gross floor area per dwelling, square metres.
    dwelling_size_m2: float = 90.0
    #: Storey height used to derive floors from building height, metres.
    floor_height_m: float = 3.0
    #: Share of a ``mixed`` building's floor area that is dwellings.
    mixed_residential_share: float = 0.6
    #: Residents per household when population is missing (China 2020 census: 2.62).
    persons_per_household: float = 2.62
    #: Households above which a single building's count is treated as absurd.
    max_households_per_building: int = 3000
    #: Fewer square metres of floor area per household than this is implausible (validation).
    min_floor_area_per_household_m2: float = 10.0
    #: Floors assumed by that check when a building gives neither floors nor height.
    assumed_max_floors: int = 50
    #: Untagged footprints below this (m²) are sheds, kiosks, toilets: not residential.
    min_residential_footprint_m2: float = 30.0
    #: Untagged footprints above this (m²) are factories, malls, schools: not residential.
    max_residential_footprint_m2: float = 5000.0
    #: Name words added to :data:`NAME_WORDS` by a planner (strong evidence), e.g.
    #: ``non_residential_words = ["写字楼", "kirkko"]``.
    residential_words: tuple[str, ...] = ()
    non_residential_words: tuple[str, ...] = ()
    mixed_words: tuple[str, ...] = ()
    #: Footprints above this (m²) are large plates: weak evidence against homes. A home's
    #: plate is bounded by daylight (depth) and by the flats one stair core serves: a long
    #: Chinese slab of 100 m × 12 m is 1 200 m²; Helsinki's tagged apartment blocks reach
    #: 1 700 m², its offices have a median of 2 700 m², its public buildings 2 100 m².
    large_footprint_m2: float = 2500.0
    #: Height (m) from which a building counts as supertall: strong evidence against homes.
    #: Residential towers over 250 m are almost unknown in China (Shanghai Tower 632 m, the
    #: World Financial Center 492 m, Jin Mao 421 m are offices and hotels), while residential
    #: towers of 100–160 m exist (Lujiazui: 107 m and 153 m, tagged), so between
    #: ``tall_height_m`` and this, height is only weak evidence.
    supertall_height_m: float = 250.0
    #: Height (m) above which a building is super high-rise (GB 50352-2019: over 100 m);
    #: weak evidence against homes (most Chinese homes are under 100 m: the 2021 notice
    #: 建科〔2021〕76号 keeps new residential buildings under 80 m in most cities).
    tall_height_m: float = 100.0
    #: Plate depth (m; the diameter of the largest circle inside the footprint, which is the
    #: depth of a slab and also of a courtyard block's wing) above which a building is deep:
    #: Chinese residential slabs are 10–15 m deep and point towers rarely over 25 m, since
    #: every dwelling needs daylight (GB 50180 sunlight rules); offices, malls and factories
    #: are deep. Helsinki's tagged apartments: median 16 m; offices 30 m, retail 58 m.
    deep_plate_m: float = 28.0
    #: Plate depth (m) above which the plate is very deep: strong shape evidence.
    very_deep_plate_m: float = 45.0
    #: Plate depth (m) below which nobody lives in it (canopies, walls, kiosks; a dwelling is
    #: two rooms deep, about 6 m). Helsinki's ``building=roof``: median 6 m.
    min_plate_depth_m: float = 6.0
    #: Office POIs (:data:`OFFICE_POI_KINDS`) in one building from which it is an office
    #: building (fewer are offices or branches below homes).
    office_poi_count: int = 3
    #: Calibration factors outside ``[1 / f, f]`` (estimates scaled up or down by more than
    #: ``f``) are reported: the community's households_total looks stale, or the estimates are
    #: off. An estimate is uncertain by about ±20–30 % (dwelling sizes of 70–110 m²: the
    #: ×0.8/×1.2 sensitivity), so more than double or less than half means something changed.
    max_calibration_factor: float = 2.0
    #: Given counts holding at least this share of a community's households_total while the
    #: estimates are scaled down leave the estimated buildings too little: a stale total
    #: (issue 15: four new buildings with 240 given households silently dropped 35 of 40
    #: estimated buildings to 0).
    max_given_share: float = 0.9
    #: Buildings listed in each of the report's review lists (most estimated households; the
    #: largest decided on weak evidence).
    review_top_n: int = 15


# -- the resident request loop (gridplan.requests) -------------------------------------------

#: Kinds of resident request: 咨询 consultation, 投诉 complaint, 建议 suggestion, 求助 help,
#: 微心愿 micro-wish.
REQUEST_KINDS: tuple[str, ...] = ("consult", "complaint", "suggestion", "help", "wish")

#: How the community handles a request (Gaozhou's three classes): 反复解释类 explain again,
#: 转交办理类 hand over, 受理自办类 handle itself.
REQUEST_HANDLING: tuple[str, ...] = ("explain", "hand_over", "self")

#: Channels a request arrives by: hotline, WeChat group, mini-program, QR code, the service
#: centre, a grid worker's visit.
REQUEST_CHANNELS: tuple[str, ...] = (
    "hotline",
    "wechat",
    "mini_program",
    "qr_code",
    "service_centre",
    "visit",
)

#: Urgency levels, each with a deadline in ``[requests.sla]``: Gaozhou's simple / general /
#: major and Beijing 12345's emergency and complex.
REQUEST_URGENCIES: tuple[str, ...] = ("emergency", "simple", "general", "major", "complex")

#: Request category (Open311 ``service_code``) -> the skill a person needs to take it (``None``:
#: anyone, the request's grid workers first) and the facility categories whose absence within
#: walking distance it may point to (the report's link from requests to coverage gaps).
REQUEST_CATEGORIES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "elderly_care": ("elderly_care", ("elderly_daycare", "elderly_home")),
    "medical": ("medical", ("health_station", "health_center")),
    "legal_aid": ("legal", ()),
    "tutoring": ("tutoring", ("kindergarten", "primary_school")),
    "dispute": ("mediation", ()),
    "repair": (None, ()),
    "sanitation": (None, ()),
    "public_safety": (None, ()),
    "policy": (None, ("service_station",)),
    "micro_wish": (None, ()),
}


#: Column headers of request exports -> the ledger's column (case and surrounding spaces
#: ignored). The Chinese headers are those of community offices' and 12345 hotline work-order
#: exports (工单编号, 诉求内容, 受理时间, ...); the English ones Open311's and gridplan's own.
REQUEST_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "request_id": ("service_request_id", "工单编号", "工单号", "诉求编号", "编号"),
    "description": ("诉求内容", "诉求描述", "内容", "描述", "问题描述"),
    "service_code": ("category", "诉求类别", "诉求类型", "类别", "问题类别"),
    "channel": ("来源渠道", "渠道", "来源", "诉求来源"),
    "kind": ("诉求性质", "诉求种类", "性质"),
    "urgency": ("紧急程度", "紧急度", "缓急程度"),
    "handling": ("办理方式", "处置方式"),
    "requested_at": ("time", "受理时间", "登记时间", "反映时间", "时间"),
    "lon": ("longitude", "lng", "经度"),
    "lat": ("latitude", "纬度"),
    "x": ("横坐标", "x坐标"),
    "y": ("纵坐标", "y坐标"),
    "requester_name": ("联系人", "诉求人", "姓名", "反映人"),
    "requester_phone": ("联系电话", "电话", "手机", "手机号"),
    "building_id": ("楼栋编号", "楼栋", "建筑编号"),
    "address": ("地址", "详细地址", "诉求地址"),
    "effort_h": ("预计工时", "工时"),
}

#: Values of request exports -> gridplan's codes, per column (Chinese words offices write;
#: the codes themselves are accepted too).
REQUEST_VALUE_ALIASES: dict[str, dict[str, str]] = {
    "service_code": {
        "养老助老": "elderly_care",
        "养老服务": "elderly_care",
        "医疗健康": "medical",
        "医疗卫生": "medical",
        "法律援助": "legal_aid",
        "法律咨询": "legal_aid",
        "课业辅导": "tutoring",
        "矛盾纠纷": "dispute",
        "邻里纠纷": "dispute",
        "维修": "repair",
        "设施维修": "repair",
        "环境卫生": "sanitation",
        "安全隐患": "public_safety",
        "政策咨询": "policy",
        "微心愿": "micro_wish",
    },
    "channel": {
        "12345热线": "hotline",
        "热线": "hotline",
        "电话": "hotline",
        "微信": "wechat",
        "微信群": "wechat",
        "小程序": "mini_program",
        "扫码": "qr_code",
        "二维码": "qr_code",
        "服务中心": "service_centre",
        "窗口": "service_centre",
        "党群服务中心": "service_centre",
        "走访": "visit",
        "网格员走访": "visit",
        "入户走访": "visit",
    },
    "kind": {"咨询": "consult", "投诉": "complaint", "建议": "suggestion", "求助": "help"}
    | {"微心愿": "wish"},
    "urgency": {
        "紧急": "emergency",
        "特急": "emergency",
        "即办": "simple",
        "简单": "simple",
        "一般": "general",
        "重大": "major",
        "较大": "major",
        "复杂": "complex",
        "疑难": "complex",
    },
    "handling": {"反复解释类": "explain", "转交办理类": "hand_over", "受理自办类": "self"},
}


def _default_sla() -> dict[str, tuple[float, str]]:
    # hours and clock per urgency; "kind.urgency" keys override one kind
    return {
        "emergency": (2.0, "calendar"),  # Beijing 12345: emergencies within 2 h
        "simple": (1.0, "calendar"),  # Gaozhou: answered at once (an hour to log the answer)
        "general": (24.0, "calendar"),  # Gaozhou: within 1 day; Beijing utilities 24 h
        "major": (168.0, "calendar"),  # Gaozhou: within 1 week; Beijing general 7 days
        "complex": (360.0, "calendar"),  # Beijing 12345: complex cases 15 days
    }


@dataclass(frozen=True)
class RequestSettings:
    """The resident request loop (``[requests]`` and ``[requests.sla]``).

    These settings shape the request ledger and its dispatcher, not a plan: a plan's metadata
    does not record them.
    """

    #: Time zone of the office (local days, weeks and working hours; imported times without an
    #: offset are an error unless the import names a time zone).
    timezone: str = "Asia/Shanghai"
    #: Deadline per urgency, or per ``"kind.urgency"``: (hours, ``"calendar"`` or ``"working"``).
    #: In ``plan.toml``: ``[requests.sla] general = 24`` or ``general = {hours = 8, clock =
    #: "working"}``, and ``[requests.sla.wish] major = 336`` for one kind.
    sla: dict[str, tuple[float, str]] = field(default_factory=_default_sla)
    #: Urgency a request of each kind gets when the record gives none.
    kind_urgency: dict[str, str] = field(
        default_factory=lambda: {
            "consult": "simple",
            "complaint": "general",
            "suggestion": "major",
            "help": "general",
            "wish": "major",
        }
    )
    #: Working hours (local ``HH:MM``) and days (0 = Monday) for deadlines on the working clock.
    working_hours: tuple[str, ...] = ("08:30", "17:30")
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: Local dates (``YYYY-MM-DD``) that are not working days.
    holidays: tuple[str, ...] = ()
    #: A revisit (回访) is due this many hours after a request is resolved.
    revisit_after_h: float = 72.0
    #: Open requests whose deadline falls within this many hours are listed as due soon.
    due_soon_h: float = 24.0
    #: Farthest a person walks to a request, metres (the staffing default for grid workers).
    max_distance_m: float = 1500.0
    #: Hours one case takes when the record gives no effort (the dispatcher's slot).
    slot_hours: float = 2.0
    #: Role -> (hours per day, open cases) a person of that role gives when the roster's
    #: ``hours_per_day`` / ``max_open_cases`` are missing; the first role listed that a person
    #: holds counts (full-time grid workers are ``grid_worker_full``; ``partner_unit`` for the
    #: dataset's partner units).
    role_capacity: dict[str, tuple[float, int]] = field(
        default_factory=lambda: {
            "grid_worker_full": (8.0, 6),
            "grid_head": (4.0, 3),
            "grid_worker": (4.0, 3),
            "volunteer": (2.0, 2),
            "unit_head": (2.0, 1),
            # a partner unit (双报到单位) sends staff for its categories: a working day, a
            # handful of open cases (gridplan's default; the layer's own figures win)
            "partner_unit": (8.0, 4),
        }
    )
    #: Objective weights, in metres walked: an hour late, a request left unplaced (escalated),
    #: each case above the lightest load (balance), and the head start of the request's own
    #: grid workers.
    lateness_m_per_h: float = 100.0
    unplaced_penalty_m: float = 20000.0
    balance_m_per_case: float = 50.0
    own_grid_bonus_m: float = 300.0
    #: The flow dispatcher's guard (on by default): never worse than the office rule (greedy
    #: nearest-qualified in deadline order) on requests placed, metres walked and hours late.
    #: The weighted objective is then minimised subject to those three bounds (Lagrangian
    #: search over exact min-cost flows; bound and gap reported). An office can trust a
    #: dispatcher that never walks its people farther, never finishes later and never leaves
    #: more undone than its own rule; where the office rule is itself the shortest walk the
    #: guard keeps its lateness too (a later-but-shorter trade is the weights' to make: set
    #: false for the weighted objective alone, or ``--no-guard``).
    guard_office_rule: bool = True
    #: Dispatcher wall-clock limit, seconds.
    time_limit_s: float = 5.0
    #: Levels a request is handled at, lowest first; escalation (督办) moves it one up.
    escalation_levels: tuple[str, ...] = ("grid", "community", "sub_district", "county")
    #: Points (积分) per hour of service, and the difficulty factor per urgency (points = hours ×
    #: factor × points_per_hour). Yanhe's points supermarket scores hours and difficulty; the
    #: factors are gridplan's defaults, to be set by each community.
    points_per_hour: float = 1.0
    difficulty: dict[str, float] = field(
        default_factory=lambda: {
            "simple": 1.0,
            "general": 1.2,
            "emergency": 1.5,
            "major": 1.5,
            "complex": 2.0,
        }
    )


@dataclass(frozen=True)
class RosterSettings:
    """How ``rosters.xlsx`` is laid out for printing (``[rosters]`` in ``plan.toml``)."""

    #: One sheet of ten-household units per community (named by the community), instead of one
    #: ``units`` sheet for the whole plan: what each community office prints.
    by_community: bool = False


@dataclass(frozen=True)
class CommunitySettings:
    """Community (社区) re-drawing settings (``[communities]``), in residents.

    Sources: GB 50180-2018 (城市居住区规划设计标准) puts a five-minute life circle at
    5 000 – 12 000 residents, the scale one community party committee and one party-mass
    service centre serve; Cenxi re-drew its 11 communities of 30 000+ residents into 19 of
    about 10 000. The five-minute walk is 300 m (GB 50180-2018).
    """

    #: Residents a community should hold (Cenxi's re-drawn communities: about 10 000).
    target_residents: int = 10_000
    #: Smallest acceptable community (GB 50180-2018, five-minute life circle).
    min_residents: int = 5_000
    #: Largest acceptable community (GB 50180-2018, five-minute life circle).
    max_residents: int = 12_000
    #: Code of the sub-district: new communities are ``<subdistrict_id>-NNN``.
    subdistrict_id: str = "SD"
    #: Walk from the party-mass service centre that counts as served, metres (5 minutes).
    service_radius_m: float = 300.0
    #: Facility category of an existing service centre (社区党群服务中心 / 服务站).
    service_category: str = "service_station"
    #: An existing service centre is kept unless a candidate site inside the community serves
    #: more than this share of the community's residents more within the walk (gridplan's
    #: choice: a new centre costs a building, a small gain does not pay for it; 0 = the site
    #: must merely serve more).
    centre_keep_tolerance: float = 0.05
    #: Wall-clock limit of the partition search, seconds.
    time_limit_s: float = 60.0


@dataclass(frozen=True)
class Config:
    """All settings of one plan. Build with :func:`load_config`; ``Config()`` is the default."""

    seed: int = 0
    grids: GridSettings = field(default_factory=GridSettings)
    units: UnitSettings = field(default_factory=UnitSettings)
    coverage: CoverageSettings = field(default_factory=CoverageSettings)
    staffing: StaffingSettings = field(default_factory=StaffingSettings)
    siting: SitingSettings = field(default_factory=SitingSettings)
    households: HouseholdSettings = field(default_factory=HouseholdSettings)
    requests: RequestSettings = field(default_factory=RequestSettings)
    rosters: RosterSettings = field(default_factory=RosterSettings)
    communities: CommunitySettings = field(default_factory=CommunitySettings)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable dict (tier keys become strings) of the settings that shape
        a plan (``requests`` is left out: it shapes the request ledger only)."""
        out: dict[str, Any] = {"seed": self.seed}
        for f in fields(self):
            if f.name in ("seed", "requests"):
                continue
            section = getattr(self, f.name)
            sec: dict[str, Any] = {}
            for g in fields(section):
                value = getattr(section, g.name)
                if isinstance(value, dict):
                    value = {str(k): list(v) for k, v in value.items()}
                elif isinstance(value, tuple):
                    value = list(value)
                sec[g.name] = value
            out[f.name] = sec
        return out

    @property
    def known_categories(self) -> tuple[str, ...]:
        """Facility categories accepted in ``facilities`` and ``sites``."""
        extra = [c for c in self.coverage.categories if c not in FACILITY_CATEGORIES]
        tiered = [
            c
            for cats in self.coverage.tiers.values()
            for c in cats
            if c not in FACILITY_CATEGORIES and c not in extra
        ]
        return FACILITY_CATEGORIES + tuple(extra) + tuple(dict.fromkeys(tiered))


DEFAULT = Config()

_SECTIONS = {
    "grids": GridSettings,
    "units": UnitSettings,
    "coverage": CoverageSettings,
    "staffing": StaffingSettings,
    "siting": SitingSettings,
    "households": HouseholdSettings,
    "rosters": RosterSettings,
    "communities": CommunitySettings,
}


def _coerce(section: str, name: str, default: Any, value: Any) -> Any:
    where = f"[{section}] {name}"
    if name == "tiers":
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of minutes -> list of categories")
        tiers: dict[int, tuple[str, ...]] = {}
        for k, v in value.items():
            try:
                minutes = int(k)
            except (TypeError, ValueError):
                msg = f"{where}: tier key {k!r} is not a whole number of minutes"
                raise ConfigError(msg) from None
            if minutes <= 0 or not isinstance(v, list | tuple):
                msg = f"{where}: tier {k!r} needs positive minutes and a list of categories"
                raise ConfigError(msg)
            tiers[minutes] = tuple(str(c) for c in v)
        return dict(sorted(tiers.items()))
    if name == "skill_needs":
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of vulnerable kind -> list of skills")
        return {str(k): tuple(str(s) for s in v) for k, v in value.items()}
    if value is None and name == "target_share":
        return None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(str(v) for v in value)
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return value
    if isinstance(default, float) or (default is None and name == "target_share"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    return value


def _check(cfg: Config) -> None:
    problems = []
    for sec in (cfg.grids, cfg.units):
        name = "grids" if sec is cfg.grids else "units"
        if not 0 < sec.min_households <= sec.target_households <= sec.max_households:
            problems.append(
                f"[{name}] needs 0 < min_households <= target_households <= max_households, got "
                f"{sec.min_households}, {sec.target_households}, {sec.max_households}"
            )
    if cfg.coverage.speed_m_per_min <= 0 or cfg.coverage.elderly_speed_m_per_min <= 0:
        problems.append("[coverage] walking speeds must be positive")
    if cfg.siting.new_sites < 0:
        problems.append("[siting] new_sites must be 0 or more")
    ts = cfg.siting.target_share
    if ts is not None and not 0 < ts <= 1:
        problems.append(f"[siting] target_share must be in (0, 1], got {ts}")
    if not 0 <= cfg.staffing.min_party_share <= 1:
        problems.append("[staffing] min_party_share must be between 0 and 1")
    cs = cfg.communities
    if not 0 < cs.min_residents <= cs.target_residents <= cs.max_residents:
        problems.append(
            "[communities] needs 0 < min_residents <= target_residents <= max_residents, got "
            f"{cs.min_residents}, {cs.target_residents}, {cs.max_residents}"
        )
    if cs.service_radius_m <= 0:
        problems.append("[communities] service_radius_m must be positive")
    if not 0 <= cs.centre_keep_tolerance <= 1:
        problems.append("[communities] centre_keep_tolerance must be between 0 and 1")
    if cfg.households.dwelling_size_m2 <= 0 or cfg.households.floor_height_m <= 0:
        problems.append("[households] dwelling_size_m2 and floor_height_m must be positive")
    if cfg.households.max_calibration_factor <= 1:
        problems.append("[households] max_calibration_factor must be above 1")
    if not 0 < cfg.households.max_given_share <= 1:
        problems.append("[households] max_given_share must be in (0, 1]")
    if problems:
        raise ConfigError("plan.toml: " + "; ".join(problems))


def load_config(source: str | Path | dict[str, Any] | None = None, **overrides: Any) -> Config:
    """Build a :class:`Config` from a ``plan.toml`` path or an equivalent dict.

    Parameters
    ----------
    source
        Path to a TOML file, a dict with the same structure, or ``None`` for the defaults.
    **overrides
        Section tables (``grids={...}``) or ``seed=...`` applied on top of ``source``.

    Returns
    -------
    Config
        The settings, every missing key at its default.

    Raises
    ------
    ConfigError
        An unknown section or key, a value of the wrong type, or inconsistent bounds.
    """
    data = _merge(_read_source(source), overrides)

    cfg = DEFAULT
    unknown = [k for k in data if k not in ("seed", "requests") and k not in _SECTIONS]
    if unknown:
        known = ", ".join(["seed", *_SECTIONS, "requests"])
        raise ConfigError(f"plan.toml: unknown key(s) {', '.join(unknown)}; known: {known}")
    if "seed" in data:
        seed = data["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"plan.toml: seed must be a whole number, got {seed!r}")
        cfg = replace(cfg, seed=seed)
    for name, cls in _SECTIONS.items():
        table = data.get(name)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"plan.toml: [{name}] must be a table")
        current = getattr(cfg, name)
        valid = {f.name for f in fields(cls)}
        bad = sorted(set(table) - valid)
        if bad:
            raise ConfigError(
                f"plan.toml: unknown key(s) in [{name}]: {', '.join(bad)}; "
                f"known: {', '.join(sorted(valid))}"
            )
        changes = {k: _coerce(name, k, getattr(current, k), v) for k, v in table.items()}
        cfg = replace(cfg, **{name: replace(current, **changes)})
    if "requests" in data:
        cfg = replace(cfg, requests=_request_settings(data["requests"]))
    _check(cfg)
    return cfg


def _request_settings(table: Any) -> RequestSettings:
    """``[requests]`` (with ``[requests.sla]``) read and checked."""
    if not isinstance(table, dict):
        raise ConfigError("plan.toml: [requests] must be a table")
    valid = {f.name for f in fields(RequestSettings)}
    bad = sorted(set(table) - valid)
    if bad:
        raise ConfigError(
            f"plan.toml: unknown key(s) in [requests]: {', '.join(bad)}; "
            f"known: {', '.join(sorted(valid))}"
        )
    base = RequestSettings()
    changes: dict[str, Any] = {}
    for key, value in table.items():
        where = f"[requests] {key}"
        if key == "sla":
            changes[key] = {**base.sla, **_sla_table(value)}
        elif key == "kind_urgency":
            if not isinstance(value, dict):
                raise ConfigError(f"{where} must be a table of kind -> urgency")
            changes[key] = {**base.kind_urgency, **{str(k): str(v) for k, v in value.items()}}
        elif key in ("difficulty", "role_capacity"):
            if not isinstance(value, dict):
                raise ConfigError(f"{where} must be a table")
            try:
                if key == "difficulty":
                    new: dict[str, Any] = {str(k): float(v) for k, v in value.items()}
                else:
                    new = {str(k): (float(v[0]), int(v[1])) for k, v in value.items()}
            except (TypeError, ValueError, IndexError):
                msg = f"{where}: give numbers (role_capacity: [hours_per_day, open_cases])"
                raise ConfigError(msg) from None
            changes[key] = {**getattr(base, key), **new}
        elif key == "working_days":
            if not isinstance(value, list) or not all(
                isinstance(v, int) and 0 <= v <= 6 for v in value
            ):
                raise ConfigError(f"{where} must be a list of weekday numbers 0 (Monday) to 6")
            changes[key] = tuple(value)
        else:
            changes[key] = _coerce("requests", key, getattr(base, key), value)
    out = replace(base, **changes)
    problems = []
    for urgency in out.kind_urgency.values():
        if urgency not in REQUEST_URGENCIES:
            problems.append(f"kind_urgency names {urgency!r}, not one of the urgency levels")
    missing = [u for u in REQUEST_URGENCIES if u not in out.sla]
    if missing:
        problems.append(f"sla gives no deadline for {', '.join(missing)}")
    if len(out.working_hours) != 2:
        problems.append('working_hours must be [start, end], e.g. ["08:30", "17:30"]')
    if out.max_distance_m <= 0 or out.slot_hours <= 0 or out.time_limit_s <= 0:
        problems.append("max_distance_m, slot_hours and time_limit_s must be positive")
    if problems:
        raise ConfigError("plan.toml: [requests] " + "; ".join(problems))
    return out


def _sla_table(value: Any) -> dict[str, tuple[float, str]]:
    """``[requests.sla]``: urgency -> hours or ``{hours, clock}``; a nested table per kind."""
    if not isinstance(value, dict):
        raise ConfigError("plan.toml: [requests.sla] must be a table of urgency -> hours")
    out: dict[str, tuple[float, str]] = {}

    def one(key: str, v: Any) -> tuple[float, str]:
        where = f"[requests.sla] {key}"
        hours, clock = (
            (v.get("hours"), v.get("clock", "calendar")) if isinstance(v, dict) else (v, "calendar")
        )
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours < 0:
            raise ConfigError(f"plan.toml: {where} needs hours, a number 0 or more, got {hours!r}")
        if clock not in ("calendar", "working"):
            raise ConfigError(
                f"plan.toml: {where} clock must be calendar or working, got {clock!r}"
            )
        return float(hours), str(clock)

    for key, v in value.items():
        if key in REQUEST_KINDS and isinstance(v, dict) and "hours" not in v:
            for urgency, w in v.items():
                if urgency not in REQUEST_URGENCIES:
                    msg = (
                        f"plan.toml: [requests.sla.{key}] {urgency}: unknown urgency; "
                        f"use one of {', '.join(REQUEST_URGENCIES)}"
                    )
                    raise ConfigError(msg)
                out[f"{key}.{urgency}"] = one(f"{key}.{urgency}", w)
        elif key in REQUEST_URGENCIES:
            out[key] = one(key, v)
        else:
            msg = (
                f"plan.toml: [requests.sla] {key}: not an urgency ({', '.join(REQUEST_URGENCIES)}) "
                f"nor a kind ({', '.join(REQUEST_KINDS)})"
            )
            raise ConfigError(msg)
    return out


def _read_source(source: str | Path | dict[str, Any] | None) -> dict[str, Any]:
    """The raw tables of a ``plan.toml`` path or dict (``{}`` for ``None``)."""
    if source is None:
        return {}
    if isinstance(source, dict):
        return dict(source)
    path = Path(source)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _merge(data: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``top`` on top of it, key by key inside each section table."""
    out = dict(data)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def flat_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"seed": 0, "grids": {"target_households": 400}}`` → ``{"seed": 0,
    "grids.target_households": 400}``: the parameters of :meth:`Config.to_dict` (as recorded in
    a plan's metadata) one key per setting."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in _SECTIONS and isinstance(value, dict):
            for name, v in value.items():
                out[f"{key}.{name}"] = v
        else:
            out[str(key)] = value
    return out


def _usable(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """The keys of recorded ``params`` that :func:`load_config` accepts, as a source dict; the
    known keys it lacks (or holds with a value of the wrong type); and its unknown keys."""
    base: dict[str, Any] = {}
    missing: list[str] = []
    unknown: list[str] = []
    seed = params.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        base["seed"] = seed
    else:
        missing.append("seed")
    for name, cls in _SECTIONS.items():
        if name == "communities" and name not in params:
            continue  # plans before [communities] existed: it does not shape grids
        table = params.get(name)
        table = table if isinstance(table, dict) else {}
        current = getattr(DEFAULT, name)
        for f in fields(cls):
            if f.name not in table:
                missing.append(f"{name}.{f.name}")
                continue
            try:
                _coerce(name, f.name, getattr(current, f.name), table[f.name])
            except (ConfigError, TypeError, ValueError):
                missing.append(f"{name}.{f.name}")
                continue
            base.setdefault(name, {})[f.name] = table[f.name]
        valid = {f.name for f in fields(cls)}
        unknown += [f"{name}.{k}" for k in sorted(set(table) - valid)]
    unknown += sorted(str(k) for k in params if k != "seed" and k not in _SECTIONS)
    return base, missing, unknown


def load_config_over(
    defaults: Mapping[str, Any],
    source: str | Path | dict[str, Any] | None = None,
    **overrides: Any,
) -> Config:
    """Like :func:`load_config`, but a key that ``source`` and ``overrides`` leave out takes its
    value from ``defaults`` (the ``parameters`` of a plan's metadata, :meth:`Config.to_dict`)
    instead of the documented default.

    A re-plan uses this so that it plans with the settings of the plan it re-plans: an explicit
    ``plan.toml`` still wins, key by key. Keys ``defaults`` lacks (a plan written by an older
    gridplan, or values of the wrong type) fall back to the documented defaults, and keys it
    holds that this gridplan does not know are ignored; both with a warning.

    Raises
    ------
    ConfigError
        As :func:`load_config`, for ``source`` and ``overrides``, or bounds that are
        inconsistent once merged.
    """
    base, missing, unknown = _usable(defaults)
    given = flat_parameters(_merge(_read_source(source), overrides))
    fallback = [k for k in missing if k not in given]
    if fallback:
        known = [
            k
            for k in flat_parameters(DEFAULT.to_dict())
            if "communities" in defaults or not k.startswith("communities.")
        ]
        if len(fallback) == len(known):
            logger.warning(
                "the old plan records no parameters: the re-plan uses the documented defaults"
            )
        else:
            logger.warning(
                "the old plan does not record %s: the re-plan uses the documented default%s (%s)",
                ", ".join(fallback),
                "s" if len(fallback) > 1 else "",
                ", ".join(f"{k}={_value(k, DEFAULT.to_dict())!r}" for k in fallback),
            )
    if unknown:
        logger.warning(
            "the old plan records parameters this gridplan does not know, ignored: %s",
            ", ".join(unknown),
        )
    data = _merge(_merge(base, _read_source(source)), overrides)
    return load_config(data)


def _value(key: str, params: Mapping[str, Any]) -> Any:
    return flat_parameters(params).get(key)


def _normal(value: Any) -> Any:
    """A parameter value as JSON would give it back (tuples → lists, dict keys → text)."""
    return json.loads(json.dumps(value, default=str))


def parameter_changes(
    old: Mapping[str, Any], config: Config
) -> tuple[list[dict[str, Any]], list[str]]:
    """What ``config`` changes from the recorded parameters ``old`` (a plan's metadata).

    Returns
    -------
    changed
        ``{"key": "grids.target_households", "old": 300, "new": 400}`` per setting whose value
        differs, in :meth:`Config.to_dict` order.
    missing
        Settings ``old`` does not record (their old value is unknown).
    """
    old_flat = flat_parameters(old)
    changed: list[dict[str, Any]] = []
    missing: list[str] = []
    for key, new in flat_parameters(config.to_dict()).items():
        if key not in old_flat:
            missing.append(key)
            continue
        was, now = _normal(old_flat[key]), _normal(new)
        if was != now:
            changed.append({"key": key, "old": was, "new": now})
    return changed, missing
