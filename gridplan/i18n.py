"""Labels shown to people (map, report, rosters) in Chinese and English.

:data:`LABELS` is the one table of fixed labels: the map's and rosters' keys plain (``grids``),
the report's under ``report.`` and ``review.`` (``report.title``; :func:`labels_in` gives a
section with the prefix taken off). Every key exists in both languages (a test checks it).
Use :func:`label` for a fixed label, :func:`category_label`, :func:`role_label` and
:func:`tier_label` for domain values; unknown values fall back to the value itself, so a
category added in the config still shows.

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
    "labels_in",
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

#: The report's labels (``report.md`` and its charts), kept in :data:`LABELS` under ``report.``.
_REPORT: dict[str, dict[str, str]] = {
    "en": {
        "title": "gridplan report",
        "generated": "gridplan {version}, seed {seed}",
        "summary": "Summary",
        "quality": "Plan quality: grids",
        "units": "Ten-household units",
        "staffing": "Staffing",
        "coverage": "15-minute life circle: coverage",
        "siting": "New facility sites",
        "replan": "Re-plan: before and after",
        "sensitivity": "Sensitivity of household estimates",
        "charts": "Charts",
        "not_run": "This stage did not run. Run it with `{command}`.",
        "not_replan": "This plan is not a re-plan. After the data change, `{command}` re-plans "
        "moving as few households as possible, and this section compares before and after.",
        "params_changed": "⚠ Parameters changed from the old plan (households move that would "
        "stay with the old plan's parameters)",
        "params_same": "Parameters: the same as the old plan's.",
        "params_missing": "Not recorded in the old plan, documented defaults used: {keys}.",
        "no_charts": "Charts were skipped: matplotlib is not installed "
        "(`pip install gridplan[charts]`).",
        "communities": "Communities",
        "buildings": "Buildings",
        "residential_buildings": "Buildings with households",
        "households": "Households",
        "households_estimated": "Households estimated (no count in the data)",
        "buildings_estimated": "Buildings with estimated households",
        "population": "Residents",
        "grids": "Grids",
        "units_n": "Ten-household units",
        "figure": "Figure",
        "value": "Value",
        "hh_min": "Households per grid: smallest",
        "hh_max": "Households per grid: largest",
        "hh_mean": "Households per grid: mean",
        "hh_std": "Households per grid: standard deviation",
        "target": "Target households per grid (allowed {lo}–{hi})",
        "within_10": "Grids within ±10 % of the target",
        "within_10_allow": "… of grids whose building sizes allow it (size-forced grids: {n})",
        "within_bounds": "Grids within the allowed range",
        "below_min": "Grids below the minimum",
        "above_max": "Grids above the maximum",
        "compactness_mean": "Compactness (Polsby–Popper), mean",
        "compactness_min": "Compactness (Polsby–Popper), least compact grid",
        "faces_merged": "Faces merged (blocks too small to stand alone)",
        "flags": "Flags",
        "no_flags": "No flags.",
        "other": "Other figures",
        "unit_count": "Units",
        "unit_range": "Units within the allowed {lo}–{hi} households",
        "unit_in_range": "Units within the allowed range",
        "unit_min": "Households per unit: smallest",
        "unit_max": "Households per unit: largest",
        "unit_mean": "Households per unit: mean",
        "size_distribution": "Size distribution (households per unit: units)",
        "role": "Role",
        "filled": "Filled",
        "vacant": "Vacant",
        "vacancies": "Vacancies",
        "target_id": "Where",
        "reason": "Reason",
        "party_share": "Party members among grid heads and grid workers",
        "party_unknown": "unknown (no roster of people in the plan)",
        "solver": "Solver",
        "problem": "Problem",
        "status": "Status",
        "objective": "Objective",
        "bound": "Bound",
        "gap": "Gap",
        "tier": "Tier",
        "category": "Category",
        "covered": "Households covered",
        "share": "Share",
        "by_grid": "Coverage by grid (worst first; share of household × facility checks met)",
        "grid": "Grid",
        "all_checks": "All checks",
        "more_grids": "{n} more grids in report.json.",
        "more_vacancies": "{n} more vacancies in report.json.",
        "filled_vs_possible": "Posts filled against the most possible",
        "posts": "Posts",
        "possible": "Most possible",
        "vacant_higher_post": "Vacant: holders took a more important post",
        "vacant_same_role": "Vacant: too few for this role nearby",
        "vacant_out_of_reach": "Vacant: no one eligible",
        "possible_note": "Most possible: the maximum matching of each role's eligible people to "
        "its posts, ignoring the other roles. * Grid workers: grids with a worker; the bound "
        "is an upper one (a full-time worker's grids must also be adjacent).",
        "flows": "Households moved between grids",
        "from_grid": "From grid",
        "to_grid": "To grid",
        "site": "Site",
        "rank": "Rank",
        "newly_covered": "Households newly covered",
        "no_sites": "No new site was recommended.",
        "chart_grids": "Households per grid",
        "chart_coverage": "Households covered by category and tier",
        "min_line": "minimum",
        "max_line": "maximum",
        "target_line": "target",
        "n_grids": "grids",
        "share_axis": "share of households covered",
    },
    "zh": {
        "title": "gridplan 网格规划报告",
        "generated": "gridplan {version}，随机种子 {seed}",
        "summary": "概况",
        "quality": "网格划分质量",
        "units": "十联户",
        "staffing": "人员配备",
        "coverage": "15分钟生活圈设施覆盖",
        "siting": "新设施选址建议",
        "replan": "调整前后对比",
        "sensitivity": "户数估算的敏感性",
        "charts": "图表",
        "not_run": "该步骤未运行。运行命令：`{command}`。",
        "not_replan": "本规划不是调整规划。数据变化后运行 `{command}`，以最少的住户变动重新规划，"
        "本节将对比调整前后。",
        "params_changed": "⚠ 参数与原规划不同（按原规划参数本可不动的住户也会变动）",
        "params_same": "参数：与原规划相同。",
        "params_missing": "原规划未记录以下参数，采用默认值：{keys}。",
        "no_charts": "未生成图表：未安装 matplotlib（`pip install gridplan[charts]`）。",
        "communities": "社区数",
        "buildings": "楼栋数",
        "residential_buildings": "有住户的楼栋",
        "households": "户数",
        "households_estimated": "估算户数（数据中无户数）",
        "buildings_estimated": "户数为估算的楼栋",
        "population": "常住人口",
        "grids": "网格数",
        "units_n": "十联户数",
        "figure": "指标",
        "value": "数值",
        "hh_min": "每网格户数：最少",
        "hh_max": "每网格户数：最多",
        "hh_mean": "每网格户数：平均",
        "hh_std": "每网格户数：标准差",
        "target": "每网格目标户数（允许 {lo}–{hi}）",
        "within_10": "户数在目标 ±10% 以内的网格",
        "within_10_allow": "……其中楼栋规模允许的网格（受楼栋规模所限的网格：{n} 个）",
        "within_bounds": "户数在允许范围内的网格",
        "below_min": "低于下限的网格",
        "above_max": "高于上限的网格",
        "compactness_mean": "紧凑度（Polsby–Popper）平均",
        "compactness_min": "紧凑度（Polsby–Popper）最低",
        "faces_merged": "合并的过小地块",
        "flags": "提示",
        "no_flags": "无提示。",
        "other": "其他指标",
        "unit_count": "十联户数",
        "unit_range": "户数在允许范围（{lo}–{hi} 户）内的十联户",
        "unit_in_range": "户数在允许范围内的十联户",
        "unit_min": "每个十联户户数：最少",
        "unit_max": "每个十联户户数：最多",
        "unit_mean": "每个十联户户数：平均",
        "size_distribution": "规模分布（户数：十联户个数）",
        "role": "职务",
        "filled": "已配备",
        "vacant": "空缺",
        "vacancies": "空缺岗位",
        "target_id": "位置",
        "reason": "原因",
        "party_share": "网格长和网格员中党员比例",
        "party_unknown": "未知（规划中无人员名册）",
        "solver": "求解器",
        "problem": "问题",
        "status": "状态",
        "objective": "目标值",
        "bound": "界",
        "gap": "间隙",
        "tier": "层级",
        "category": "类别",
        "covered": "覆盖户数",
        "share": "比例",
        "by_grid": "各网格覆盖情况（最差在前；住户×设施检查中满足的比例）",
        "grid": "网格",
        "all_checks": "全部检查",
        "more_grids": "另有 {n} 个网格见 report.json。",
        "more_vacancies": "另有 {n} 个空缺岗位见 report.json。",
        "filled_vs_possible": "岗位配备数与最多可配备数",
        "posts": "岗位数",
        "possible": "最多可配备",
        "vacant_higher_post": "空缺：合适人选已任更重要职务",
        "vacant_same_role": "空缺：附近同类人选不足",
        "vacant_out_of_reach": "空缺：无符合条件人选",
        "possible_note": "最多可配备：只看本职务、不计其他职务时，符合条件人员与岗位的最大匹配数。"
        "* 网格员按有网格员的网格计，为上界（专职网格员所管网格还须相邻）。",
        "flows": "在网格间调整的住户",
        "from_grid": "原网格",
        "to_grid": "新网格",
        "site": "选址",
        "rank": "优先级",
        "newly_covered": "新增覆盖户数",
        "no_sites": "未推荐新选址。",
        "chart_grids": "各网格户数",
        "chart_coverage": "各类设施覆盖户数比例",
        "min_line": "下限",
        "max_line": "上限",
        "target_line": "目标",
        "n_grids": "网格数",
        "share_axis": "覆盖住户比例",
    },
}

#: The report's household review (:mod:`gridplan.output.report.review`), under ``review.``.
_REVIEW: dict[str, dict[str, str]] = {
    "en": {
        "title": "Households to review",
        "intro": "Check these buildings first; correct any that is wrong in an overrides file "
        "(`building_id,use,households`) and run again with `gridplan run DATASET --out DIR "
        "--overrides FILE`.",
        "uses": "Uses decided",
        "largest": "Buildings holding the most estimated households",
        "weak": "Buildings decided on weak evidence (size, shape, height or the default only): "
        "{n} in all, the largest",
        "calibration": "Calibration to the communities' households_total",
        "stale": "⚠ The households_total of {ids} looks stale: calibration had to scale the "
        "estimates beyond the documented bounds or the given counts leave them too little "
        "(see the warnings). Update the total or give the counts.",
        "overrides": "Planner corrections applied (overrides): {n}",
        "building": "Building",
        "community": "Community",
        "grid": "Grid",
        "households": "Households",
        "use": "Use",
        "source": "Source",
        "confidence": "Evidence",
        "reason": "Why",
        "count": "Buildings",
        "total": "households_total",
        "given": "Given",
        "before": "Estimated before calibration",
        "after": "After",
        "factor": "Factor",
        "status": "Status",
        "affected": "Buildings changed",
    },
    "zh": {
        "title": "需核对的户数",
        "intro": "请先核对以下建筑；有误的在更正文件（`building_id,use,households`）中改正，"
        "再运行 `gridplan run DATASET --out DIR --overrides FILE`。",
        "uses": "建筑用途判定",
        "largest": "估算户数最多的建筑",
        "weak": "仅凭弱证据（面积、形状、高度或默认）判定的建筑：共 {n} 栋，最大的",
        "calibration": "按社区总户数（households_total）校准",
        "stale": "⚠ 社区 {ids} 的总户数似已过时：校准需超出规定倍数缩放估算，或已知户数已占去"
        "大部分总数（见警告）。请更新总户数或补充各楼户数。",
        "overrides": "已采用的人工更正（overrides）：{n}",
        "building": "建筑",
        "community": "社区",
        "grid": "网格",
        "households": "户数",
        "use": "用途",
        "source": "来源",
        "confidence": "证据",
        "reason": "依据",
        "count": "建筑数",
        "total": "总户数",
        "given": "已知",
        "before": "校准前估算",
        "after": "校准后",
        "factor": "倍数",
        "status": "状态",
        "affected": "改变的建筑",
    },
}

#: The labels of a community re-draw (``communities.md``, its map), under ``communities.``.
_COMMUNITIES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Communities re-drawn",
        "summary": "{n} communities for {residents} residents (target {target}, bounds "
        "{lo}–{hi}): {share} % within the bounds, largest deviation from the target {dev} %.",
        "residents_source": "Residents: {population} from the buildings' population, "
        "{households} from households × persons per household.",
        "moves": "Moves",
        "moves_summary": "{moved} residents change community; at least {floor} had to "
        "({over} above the upper bound, {short} missing below the lower bound). "
        "{kept} of {old} old communities kept exactly.",
        "communities": "Communities",
        "community": "Community",
        "name": "Name",
        "residents": "Residents",
        "households": "Households",
        "buildings": "Buildings",
        "old": "Old community",
        "new": "New community",
        "from": "Mostly from",
        "kept": "Kept",
        "centre_status": "Service centre",
        "centre": "Centre",
        "served": "Residents within a 5-minute walk",
        "status_existing": "existing",
        "status_site": "candidate site",
        "status_none": "none inside",
        "best": "best candidate:",
        "flags": "Flags",
        "yes": "yes",
        "no": "no",
        "new_layer": "New communities",
        "old_layer": "Old communities",
    },
    "zh": {
        "title": "社区优化调整",
        "summary": "共 {n} 个社区，{residents} 人（目标 {target} 人，范围 {lo}–{hi} 人）："
        "{share}% 在范围内，与目标的最大偏差 {dev}%。",
        "residents_source": "人口：{population} 人取自楼栋人口，"
        "{households} 人按户数 × 户均人口估算。",
        "moves": "调整",
        "moves_summary": "{moved} 人改变所属社区；至少须调整 {floor} 人（超出上限 {over} 人，"
        "低于下限缺 {short} 人）。{old} 个原社区中 {kept} 个保持不变。",
        "communities": "社区",
        "community": "社区",
        "name": "名称",
        "residents": "人口",
        "households": "户数",
        "buildings": "楼栋数",
        "old": "原社区",
        "new": "新社区",
        "from": "主要来自",
        "kept": "保持不变",
        "centre_status": "党群服务中心",
        "centre": "位置",
        "served": "5分钟步行覆盖人口",
        "status_existing": "已有",
        "status_site": "候选选址",
        "status_none": "社区内无",
        "best": "最佳候选：",
        "flags": "提示",
        "yes": "是",
        "no": "否",
        "new_layer": "新社区",
        "old_layer": "原社区",
    },
}

for _section, _labels in (
    ("report", _REPORT),
    ("review", _REVIEW),
    ("communities", _COMMUNITIES),
):
    for _lang, _table in _labels.items():
        LABELS[_lang].update({f"{_section}.{k}": v for k, v in _table.items()})

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


def labels_in(section: str, lang: str = "zh") -> dict[str, str]:
    """The labels of one section of :data:`LABELS` (``"report"``) in ``lang``, keyed without
    the section's prefix."""
    prefix = f"{section}."
    table = LABELS[check_lang(lang)]
    return {k.removeprefix(prefix): v for k, v in table.items() if k.startswith(prefix)}
