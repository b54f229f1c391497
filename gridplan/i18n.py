"""Labels shown to people (map, report, rosters) in Chinese and English.

Every key exists in both languages (a test checks it). Use :func:`label` for a fixed label,
:func:`category_label`, :func:`role_label` and :func:`tier_label` for domain values; unknown
values fall back to the value itself, so a category added in the config still shows.

Example
-------
>>> from gridplan.i18n import label, category_label
>>> label("grids", "zh"), category_label("kindergarten", "en")
('网格', 'Kindergarten')
"""

from __future__ import annotations

__all__ = [
    "CATEGORY_LABELS",
    "LABELS",
    "LANGS",
    "ROLE_LABELS",
    "category_label",
    "check_lang",
    "label",
    "role_label",
    "tier_label",
]

#: Languages gridplan speaks.
LANGS: tuple[str, ...] = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        # layers and basemaps
        "communities": "社区边界",
        "water": "水域",
        "split_buildings": "跨网格楼栋",
        "grid_list": "所在网格",
        "grids": "网格",
        "units": "十联户",
        "buildings_by_grid": "楼栋（按网格着色）",
        "buildings_by_coverage": "楼栋（按设施覆盖着色）",
        "facilities": "服务设施",
        "catchments": "{tier}服务范围",
        "uncovered": "未覆盖住户",
        "sites": "推荐新设施选址",
        "osm": "开放街道地图",
        "tianditu": "天地图",
        "tianditu_labels": "天地图注记",
        "gaode": "高德地图",
        # pop-ups and legend
        "grid": "网格",
        "unit": "十联户",
        "community": "社区",
        "households": "户数",
        "households_unit": "户",
        "households_estimated": "户数为估算",
        "population": "常住人口",
        "n_buildings": "楼栋数",
        "n_units": "十联户数",
        "head": "负责人",
        "grid_head": "网格长",
        "workers": "网格员",
        "unit_head": "联户长",
        "members": "成员楼栋",
        "building": "楼栋",
        "entrance": "单元",
        "floors": "楼层",
        "vacant": "空缺",
        "category": "类别",
        "name": "名称",
        "tier": "生活圈层级",
        "minutes": "步行分钟",
        "households_newly_covered": "新增覆盖户数",
        "rank": "优先级",
        "missing_services": "步行范围内缺少",
        "covered_share": "设施覆盖率",
        "phone": "电话",
        "no_phone": "无",
        "search": "搜索网格编号",
        "fullscreen": "全屏",
        "exit_fullscreen": "退出全屏",
        "legend": "图例",
        "legend_grids": "网格（相邻网格颜色不同）",
        "cov_all": "所有设施均可步行到达",
        "cov_part": "部分设施可达",
        "cov_none": "无设施可达",
        "cov_unknown": "无覆盖数据",
        "more_units": "另有 {n} 个十联户",
        # roster headers
        "grid_id": "网格编号",
        "unit_id": "十联户编号",
        "community_id": "社区编号",
        "community_name": "社区名称",
        "grid_head_phone": "网格长电话",
        "workers_phones": "网格员电话",
        "unit_head_phone": "联户长电话",
        "buildings_list": "楼栋",
        "person_id": "人员编号",
        "person_name": "姓名",
        "role": "职务",
        "target_id": "负责对象",
        "party_member": "党员",
        "id_number": "身份证号",
        "distance_m": "距离（米）",
        "yes": "是",
        "no": "否",
    },
    "en": {
        "communities": "Community boundaries",
        "water": "Water",
        "split_buildings": "Buildings split over grids",
        "grid_list": "Grids",
        "grids": "Grids",
        "units": "Ten-household units",
        "buildings_by_grid": "Buildings by grid",
        "buildings_by_coverage": "Buildings by facility coverage",
        "facilities": "Facilities",
        "catchments": "{tier} catchments",
        "uncovered": "Uncovered households",
        "sites": "Recommended new sites",
        "osm": "OpenStreetMap",
        "tianditu": "Tianditu",
        "tianditu_labels": "Tianditu labels",
        "gaode": "Gaode",
        "grid": "Grid",
        "unit": "Unit",
        "community": "Community",
        "households": "Households",
        "households_unit": "hh",
        "households_estimated": "households estimated",
        "population": "Residents",
        "n_buildings": "Buildings",
        "n_units": "Units",
        "head": "Head",
        "grid_head": "Grid head",
        "workers": "Grid workers",
        "unit_head": "Unit head",
        "members": "Member buildings",
        "building": "Building",
        "entrance": "Entrance",
        "floors": "Floors",
        "vacant": "vacant",
        "category": "Category",
        "name": "Name",
        "tier": "Life-circle tier",
        "minutes": "Walking minutes",
        "households_newly_covered": "Households newly covered",
        "rank": "Rank",
        "missing_services": "Not within walking reach",
        "covered_share": "Facility coverage",
        "phone": "Phone",
        "no_phone": "none",
        "search": "Search grid code",
        "fullscreen": "Full screen",
        "exit_fullscreen": "Exit full screen",
        "legend": "Legend",
        "legend_grids": "Grids (neighbours differ in colour)",
        "cov_all": "every facility within walking reach",
        "cov_part": "some facilities within reach",
        "cov_none": "no facility within reach",
        "cov_unknown": "no coverage data",
        "more_units": "{n} more units",
        "grid_id": "Grid",
        "unit_id": "Unit",
        "community_id": "Community",
        "community_name": "Community name",
        "grid_head_phone": "Grid head phone",
        "workers_phones": "Grid worker phones",
        "unit_head_phone": "Unit head phone",
        "buildings_list": "Buildings",
        "person_id": "Person",
        "person_name": "Name",
        "role": "Role",
        "target_id": "Responsible for",
        "party_member": "Party member",
        "id_number": "ID number",
        "distance_m": "Distance (m)",
        "yes": "yes",
        "no": "no",
    },
}

CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "service_station": "社区服务站",
        "kindergarten": "幼儿园",
        "nursery": "托儿所",
        "elderly_daycare": "老年人日间照料中心",
        "health_station": "社区卫生服务站",
        "primary_school": "小学",
        "secondary_school": "初中",
        "market": "菜市场",
        "supermarket": "超市",
        "convenience_store": "便利店",
        "health_center": "社区卫生服务中心",
        "culture_center": "文化活动中心",
        "sports": "体育场地",
        "elderly_home": "养老院",
    },
    "en": {
        "service_station": "Community service station",
        "kindergarten": "Kindergarten",
        "nursery": "Nursery",
        "elderly_daycare": "Elderly day care",
        "health_station": "Health station",
        "primary_school": "Primary school",
        "secondary_school": "Secondary school",
        "market": "Fresh market",
        "supermarket": "Supermarket",
        "convenience_store": "Convenience store",
        "health_center": "Community health centre",
        "culture_center": "Culture centre",
        "sports": "Sports ground",
        "elderly_home": "Elderly care home",
    },
}

ROLE_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "grid_head": "网格长",
        "grid_worker": "网格员",
        "grid_worker_full": "专职网格员",
        "grid_worker_part": "兼职网格员",
        "unit_head": "联户长",
        "building_head": "楼栋长",
        "volunteer": "志愿者",
    },
    "en": {
        "grid_head": "Grid head",
        "grid_worker": "Grid worker",
        "grid_worker_full": "Full-time grid worker",
        "grid_worker_part": "Part-time grid worker",
        "unit_head": "Unit head",
        "building_head": "Building head",
        "volunteer": "Volunteer",
    },
}


def check_lang(lang: str) -> str:
    """Return ``lang`` when gridplan speaks it; raise ``ValueError`` naming the choices."""
    if lang not in LANGS:
        msg = f"language {lang!r} is not available; choose one of {', '.join(LANGS)}"
        raise ValueError(msg)
    return lang


def label(key: str, lang: str = "zh", **fmt: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt`` (the key itself when unknown)."""
    text = LABELS[check_lang(lang)].get(key, key)
    return text.format(**fmt) if fmt else text


def category_label(category: str, lang: str = "zh") -> str:
    """A facility category in words (the category code when not a known one)."""
    return CATEGORY_LABELS[check_lang(lang)].get(str(category), str(category))


def role_label(role: str, lang: str = "zh") -> str:
    """A staff role in words (the role code when not a known one)."""
    return ROLE_LABELS[check_lang(lang)].get(str(role), str(role))


def tier_label(tier: str, lang: str = "zh") -> str:
    """A life-circle tier such as ``"5min"`` in words: ``5分钟`` or ``5-minute``."""
    text = str(tier)
    minutes = text.removesuffix("min")
    if not minutes.isdigit():
        return text
    return f"{minutes}分钟" if check_lang(lang) == "zh" else f"{minutes}-minute"
