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

import json
from collections.abc import Mapping
from typing import Any

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
    "vacancy_reason",
]

#: Languages gridplan speaks.
LANGS: tuple[str, ...] = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        # layers and basemaps
        "communities": "社区边界",
        "communities_old": "原社区边界（调整前）",
        "water": "水域",
        "split_buildings": "跨网格楼栋",
        "grid_list": "所在网格",
        "grids": "网格",
        "units": "十联户",
        "buildings_by_grid": "楼栋（按网格着色）",
        "buildings_by_coverage": "楼栋（按设施覆盖着色）",
        "facilities": "服务设施",
        "catchments": "{tier}服务范围",
        "uncovered": "未覆盖住户（按类别选择）",
        "uncovered_tier": "{tier}生活圈缺项住户",
        "pick_category": "查看缺少某类设施的住户…",
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
        "communities_old": "Old community boundaries (before the re-draw)",
        "water": "Water",
        "split_buildings": "Buildings split over grids",
        "grid_list": "Grids",
        "grids": "Grids",
        "units": "Ten-household units",
        "buildings_by_grid": "Buildings by grid",
        "buildings_by_coverage": "Buildings by facility coverage",
        "facilities": "Facilities",
        "catchments": "{tier} catchments",
        "uncovered": "Uncovered households (pick a category)",
        "uncovered_tier": "Households missing a {tier} service",
        "pick_category": "Households missing one service…",
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
        "doc_title": "Grid governance plan: {place}",
        "place": "Place",
        "data_date": "Date of the data",
        "plan_date": "Date of the plan",
        "settings": "Settings",
        "not_recorded": "not recorded",
        "place_unknown": "the area planned",
        "n_communities": "{n} communities",
        "and_more": " and {n} more",
        "place_more": " and {more} more communities",
        "setting_grids": "{lo}–{hi} households per grid (target {target})",
        "setting_units": "{lo}–{hi} households per ten-household unit",
        "setting_run": "gridplan {version}, seed {seed}",
        "h_decided": "1. What was decided",
        "decided_grids": "Communities planned: {communities}. Their {households} households "
        "({population} residents) are divided into grids of {lo}–{hi} households each (grids: "
        "{grids}; mean {mean}, target {target}).",
        "decided_in_bounds": "Every grid is within the allowed {lo}–{hi} households; {share} of "
        "the grids are within 10 % of the target.",
        "decided_forced": "{n} grids cannot come closer to the target because of the size of "
        "their buildings.",
        "decided_barriers": "Each grid is one connected area and no grid crosses an arterial "
        "road, a river or a railway.",
        "decided_no_grids": "{households} households; no grids were drawn.",
        "decided_units": "The grids hold {units} ten-household units of {lo}–{hi} households "
        "(mean {mean}); {share} are within the allowed {min_allowed}–{max_allowed}.",
        "staff_item": "{role}: {n}",
        "decided_staff": "Staff placed: {staff}.",
        "decided_party": " Party members are {share} of the grid heads and grid workers.",
        "none": "none",
        "tier_share": "{tier} {share}",
        "decided_coverage": "Households that reach every facility of a life-circle tier on "
        "foot: {parts}.",
        "decided_sites": "{n} new facility sites are recommended, at {places} candidate places "
        "(section 6).",
        "h_attention": "2. What needs attention",
        "att_none": "Nothing needs attention.",
        "att_no_people": "No staff were placed: the data have no roster of people "
        "(people.csv). Add the roster and run again.",
        "att_vacant": "{n} posts of {role} are vacant; section 4 gives the reason for each.",
        "att_vacant_grid_head": "{n} grids have no grid head; section 4 gives the reason for each.",
        "att_vacant_grid_worker": "{n} grids have no grid worker; section 4 gives the reason "
        "for each.",
        "att_vacant_unit_head": "{n} ten-household units have no unit head; section 4 gives "
        "the reason for each.",
        "att_vacant_building_head": "{n} large buildings have no building head; section 4 gives "
        "the reason for each.",
        "att_vacant_volunteer": "{n} needs of vulnerable households have no volunteer; section "
        "4 gives the reason for each.",
        "att_below_min": "Grids holding fewer households than the allowed {lo} ({n}): {grids}.",
        "att_above_max": "Grids holding more households than the allowed {hi} ({n}): {grids}.",
        "att_coverage": "Only {share} of households reach all {n} kinds of {tier} facilities "
        "within {minutes} minutes on foot; the least reached is the {worst} ({worst_share}). "
        "Section 5 lists every facility, section 6 where new ones would help most.",
        "att_unreachable": "{n} households cannot reach any facility on the walk network "
        "(their buildings are not connected to the roads given).",
        "att_no_coverage_data": "The 15-minute life circle was not checked: the data need roads "
        "and facilities.",
        "att_estimated": "{households} households ({share}) in {buildings} buildings are "
        "estimated from floor area, not counted; section 7 lists the buildings to check first.",
        "att_stale": "The total households given for {communities} look out of date; update "
        "them or give the counts of the buildings (section 7).",
        "att_weak": "The use of {n} buildings was decided on weak evidence (size, shape or "
        "height only); section 7 lists the largest.",
        "att_sensitive": "If the estimated households are 20 % off, up to {n} grids would leave "
        "the allowed range (section 8).",
        "h_communities": "3. Communities",
        "community": "Community",
        "grids": "Grids",
        "households": "Households",
        "population": "Residents",
        "grid_range": "Households per grid",
        "units_n": "Ten-household units",
        "total": "Total",
        "split_title": "Buildings split over grids ({n})",
        "split_intro": "These buildings hold more households than one grid may, so each is "
        "split by entrance and floor: every part belongs to one grid, and its ten-household "
        "units stay inside that grid. The plan file (plan.gpkg) lists every part.",
        "split_building": "Building",
        "split_part": "Part (entrance, floors)",
        "split_grid_households": "Households in the grid",
        "split_name": "{name} ({id})",
        "part_entrance": "entrance {entrance}",
        "part_floors": "floors {floors}",
        "part_whole": "the whole building",
        "part_households": "{where}: {households}",
        "more_split": "{n} more split buildings are listed in report.json.",
        "staffing": "4. Staffing",
        "skip_no_people": "No staff were placed: the data have no roster of people "
        "(people.csv). Add the roster and run `{command}` again.",
        "skip_no_units": "No staff were placed: no ten-household units were formed, and posts "
        "are given per unit. Run `{command}`, which forms them first.",
        "skip_no_roads_facilities": "The 15-minute life circle was not checked: the data need a "
        "road network and a list of facilities (the roads and facilities layers). Add them and "
        "run `{command}`.",
        "skip_no_coverage": "No new sites were chosen: they are chosen where the 15-minute life "
        "circle has gaps, and it was not checked (the data need roads and facilities).",
        "skip_not_asked": "This part was not asked for. Run it with `{command}`.",
        "skip_batched_site": "No new sites were chosen: a plan made batch by batch leaves them "
        "out, since choosing them is one decision over the whole area. Run `{command}` on the "
        "whole city.",
        "skip_batched": "A plan made batch by batch leaves this part out. Run `{command}` on "
        "the whole city.",
        "not_run": "This part was not planned. Run it with `{command}`.",
        "role": "Post",
        "filled": "Filled",
        "vacant": "Vacant",
        "party_sentence": "Party members are {share} of the grid heads and grid workers.",
        "vacancies_title": "Vacant posts ({n}) and why",
        "vacancies_intro": "Each vacant post, where it is and what would fill it. The rosters "
        "(rosters.xlsx) list the posts filled.",
        "target_id": "Where",
        "reason": "Why, and what to do",
        "more_vacancies": "{n} more vacant posts are listed in report.json.",
        "solver_optimal": "Every assignment was solved to the best possible answer.",
        "solver_open": "{n} of {total} assignments stopped at the time limit before the best "
        "answer was proven (at most {gap} from it); the plan is usable, a longer time limit "
        "may improve it.",
        "coverage": "5. The 15-minute life circle",
        "coverage_intro": "Households that reach each kind of facility on foot within its tier "
        "(5, 10 or 15 minutes at {speed} m a minute, on the real road network).",
        "tier": "Tier",
        "category": "Facility",
        "covered": "Households reached",
        "share": "Share",
        "by_grid_title": "The {n} grids with the least coverage",
        "by_grid_intro": "Share of the facility checks met by the grid's households, overall "
        "and by tier.",
        "grid": "Grid",
        "all_checks": "All tiers",
        "siting": "6. New facility sites",
        "siting_intro": "Candidate sites ranked by the households a new facility there would "
        "newly bring within reach.",
        "no_sites": "No new site was recommended.",
        "site": "Site",
        "rank": "Rank",
        "newly_covered": "Households newly reached",
        "replan": "Re-plan: what changed",
        "replan_sentence": "{changed} grids were redrawn and {kept} kept as they were; "
        "{households} households in {buildings} buildings move to another grid.",
        "replan_changed": "Grids redrawn: {grids}.",
        "params_changed": "Settings differ from the old plan",
        "params_same": "The settings are those of the old plan.",
        "from_grid": "From grid",
        "to_grid": "To grid",
        "edits_title": "Hand edits ({n} buildings moved)",
        "edit_building": "Building",
        "edit_reason": "Reason",
        "edit_by": "By, when",
        "edit_violations": "Rules broken when moved",
        "sensitivity": "8. How sure are the household estimates",
        "sensitivity_intro": "{households} households in {buildings} buildings were estimated "
        "from floor area, at {size} m² a dwelling. If dwellings are smaller or larger than "
        "that, the grids hold more or fewer households:",
        "sensitivity_json": "The figures are in report.json.",
        "scenario": "Case",
        "scenario_plan": "This plan",
        "scenario_smaller": "Dwellings {pct} % smaller",
        "scenario_larger": "Dwellings {pct} % larger",
        "dwelling_size": "Dwelling size (m²)",
        "grids_in_bounds": "Grids within the allowed range",
        "sensitivity_ok": "Even 20 % off, every grid stays within the allowed {lo}–{hi} "
        "households: the grids need no change on this account.",
        "sensitivity_bad": "20 % off, up to {n} grids would leave the allowed {lo}–{hi} "
        "households; check the buildings of section 7 before the grids are announced.",
        "charts": "Charts",
        "footer": "Every technical figure of the plan is in report.json; the plan's layers are "
        "in plan.gpkg.",
        "no_charts": "Charts were skipped: matplotlib is not installed "
        "(`pip install gridplan[charts]`).",
        "chart_grids": "Households per grid",
        "chart_coverage": "Households reached by facility and tier",
        "min_line": "minimum",
        "max_line": "maximum",
        "target_line": "target",
        "n_grids": "grids",
        "share_axis": "share of households reached",
    },
    "zh": {
        "doc_title": "{place}网格化管理规划报告",
        "place": "地点",
        "data_date": "数据日期",
        "plan_date": "规划日期",
        "settings": "规划参数",
        "not_recorded": "未记录",
        "place_unknown": "本规划范围",
        "n_communities": "{n} 个社区",
        "and_more": "等 {n} 个",
        "place_more": "等 {total} 个社区",
        "setting_grids": "每网格 {lo}–{hi} 户（目标 {target} 户）",
        "setting_units": "每个十联户 {lo}–{hi} 户",
        "setting_run": "gridplan {version}，随机种子 {seed}",
        "h_decided": "一、规划结论",
        "decided_grids": "{communities} 个社区共 {households} 户、常住人口 {population} 人，划分为 "
        "{grids} 个网格，每个网格 {lo}–{hi} 户（平均 {mean} 户，目标 {target} 户）。",
        "decided_in_bounds": "所有网格户数均在允许的 {lo}–{hi} 户之内，{share} 的网格与目标相差不超"
        "过 "
        "10%。",
        "decided_forced": "{n} 个网格受楼栋规模所限，户数无法更接近目标。",
        "decided_barriers": "每个网格连成一片，不跨越主干道、河流和铁路。",
        "decided_no_grids": "共 {households} 户，本次未划分网格。",
        "decided_units": "网格内组成 {units} 个十联户，每个 {lo}–{hi} 户（平均 {mean} 户），{share}"
        " "
        "在允许的 {min_allowed}–{max_allowed} 户之内。",
        "staff_item": "{role} {n} 名",
        "decided_staff": "配备{staff}。",
        "decided_party": "网格长和网格员中党员占 {share}。",
        "none": "无",
        "tier_share": "{tier}生活圈 {share}",
        "decided_coverage": "步行可到达本层级全部设施的住户比例：{parts}。",
        "decided_sites": "建议新建设施 {n} 处，涉及 {places} 个候选地点（见第六部分）。",
        "h_attention": "二、需要关注的事项",
        "att_none": "无需特别关注的事项。",
        "att_no_people": "未配备人员：数据中没有人员名册。请补充人员名册后重新运行。",
        "att_vacant": "{role}有 {n} 个岗位空缺，原因见第四部分。",
        "att_vacant_grid_head": "{n} 个网格尚无网格长，原因和建议见第四部分。",
        "att_vacant_grid_worker": "{n} 个网格尚无网格员，原因和建议见第四部分。",
        "att_vacant_unit_head": "{n} 个十联户尚无联户长，原因和建议见第四部分。",
        "att_vacant_building_head": "{n} 栋大楼尚无楼栋长，原因和建议见第四部分。",
        "att_vacant_volunteer": "{n} 项困难群体帮扶需求尚无志愿者，原因和建议见第四部分。",
        "att_below_min": "{n} 个网格户数少于允许的 {lo} 户：{grids}。",
        "att_above_max": "{n} 个网格户数多于允许的 {hi} 户：{grids}。",
        "att_coverage": "只有 {share} 的住户步行 {minutes} 分钟内能到达全部 {n} 类{tier}生活圈设施"
        "，"
        "最缺的是{worst}（{worst_share}）。各类设施见第五部分，新设施选址建议见第六部分。",
        "att_unreachable": "{n} 户无法沿步行路网到达任何设施（所在楼栋与路网不连通）。",
        "att_no_coverage_data": "未检查15分钟生活圈：数据中缺少道路或设施。",
        "att_estimated": "{buildings} 栋楼的 {households} 户（占 {share}）是按建筑面积估算的，"
        "不是实际统计数；请先核对第七部分所列楼栋。",
        "att_stale": "{communities}的社区总户数似已过时，请更新总户数或补充各楼户数（见第七部分）。"
        "",
        "att_weak": "{n} 栋楼的用途仅凭面积、形状或高度判定，证据不足；最大的几栋见第七部分。",
        "att_sensitive": "若估算户数偏差 20%，最多 {n} 个网格会超出允许范围（见第八部分）。",
        "h_communities": "三、各社区网格",
        "community": "社区",
        "grids": "网格数",
        "households": "户数",
        "population": "常住人口",
        "grid_range": "每网格户数",
        "units_n": "十联户数",
        "total": "合计",
        "split_title": "跨网格楼栋（{n} 栋）",
        "split_intro": "以下楼栋的户数超过单个网格的上限，按单元和楼层拆分到多个网格："
        "每一部分只属于一个网格，十联户不跨网格。各部分的明细见规划文件（plan.gpkg）。",
        "split_building": "楼栋",
        "split_part": "部分（单元、楼层）",
        "split_grid_households": "本网格户数",
        "split_name": "{name}（{id}）",
        "part_entrance": "{entrance}单元",
        "part_floors": "{floors}层",
        "part_whole": "整栋",
        "part_households": "{where} {households} 户",
        "more_split": "另有 {n} 栋跨网格楼栋见 report.json。",
        "staffing": "四、人员配备",
        "skip_no_people": "未配备人员：数据中没有人员名册（people.csv）。请补充人员名册后重新运行 "
        "`{command}`。",
        "skip_no_units": "未配备人员：没有形成十联户，而岗位按十联户配备。"
        "请运行 `{command}`（先形成十联户）。",
        "skip_no_roads_facilities": "未检查15分钟生活圈：数据中缺少道路网或设施清单。补充后运行 "
        "`{command}`。",
        "skip_no_coverage": "未推荐新设施选址：选址针对15分钟生活圈的缺口，"
        "而生活圈未检查（数据中缺少道路或设施）。",
        "skip_not_asked": "本部分未要求规划。运行命令：`{command}`。",
        "skip_batched_site": "未推荐新设施选址：分批规划不做选址，因为选址是对整个区域的统一决策。"
        "请对整个城市运行 `{command}`。",
        "skip_batched": "分批规划不包括本部分。请对整个城市运行 `{command}`。",
        "not_run": "本部分未规划。运行命令：`{command}`。",
        "role": "职务",
        "filled": "已配备",
        "vacant": "空缺",
        "party_sentence": "网格长和网格员中党员占 {share}。",
        "vacancies_title": "空缺岗位（{n} 个）及原因",
        "vacancies_intro": "每个空缺岗位的位置、原因和补缺建议。已配备人员见人员名册（rosters.xlsx"
        "）。",
        "target_id": "位置",
        "reason": "原因及建议",
        "more_vacancies": "另有 {n} 个空缺岗位见 report.json。",
        "solver_optimal": "各项人员和选址安排均已求得最优解。",
        "solver_open": "{total} 项安排中有 {n} 项在时限内未能证明最优（与最优相差不超过 {gap}）；"
        "结果可以使用，延长求解时间可能更好。",
        "coverage": "五、15分钟生活圈设施覆盖",
        "coverage_intro": "按实际路网、每分钟步行 {speed} 米计算，在各层级时间（5、10、15 分钟）内"
        "能步行到达各类设施的住户。",
        "tier": "生活圈",
        "category": "设施",
        "covered": "可到达住户",
        "share": "比例",
        "by_grid_title": "覆盖最差的 {n} 个网格",
        "by_grid_intro": "网格内住户对各类设施检查的满足比例，总体及分层级。",
        "grid": "网格",
        "all_checks": "全部层级",
        "siting": "六、新设施选址建议",
        "siting_intro": "按新增可到达住户数排序的候选地点。",
        "no_sites": "未推荐新选址。",
        "site": "候选地点",
        "rank": "优先级",
        "newly_covered": "新增可到达住户",
        "replan": "调整前后对比",
        "replan_sentence": "本次调整重划 {changed} 个网格，保留 {kept} 个网格不变；{buildings} 栋楼"
        "的 "
        "{households} 户调整到其他网格。",
        "replan_changed": "重划的网格：{grids}。",
        "params_changed": "参数与原规划不同",
        "params_same": "参数与原规划相同。",
        "from_grid": "原网格",
        "to_grid": "新网格",
        "edits_title": "人工调整（移动 {n} 栋楼）",
        "edit_building": "楼栋",
        "edit_reason": "理由",
        "edit_by": "调整人、时间",
        "edit_violations": "移动时违反的规则",
        "sensitivity": "八、户数估算的可靠程度",
        "sensitivity_intro": "{buildings} 栋楼的 {households} 户是按建筑面积估算的（套均 {size} "
        "平方米）。若实际套均面积偏小或偏大，各网格户数变化如下：",
        "sensitivity_json": "相关数据见 report.json。",
        "scenario": "情形",
        "scenario_plan": "本规划",
        "scenario_smaller": "套均面积小 {pct}%",
        "scenario_larger": "套均面积大 {pct}%",
        "dwelling_size": "套均面积（平方米）",
        "grids_in_bounds": "在允许范围内的网格",
        "sensitivity_ok": "即使估算偏差 20%，所有网格仍在允许的 {lo}–{hi} 户之内，网格划分无需因此"
        "调整。",
        "sensitivity_bad": "若估算偏差 20%，最多 {n} 个网格会超出允许的 {lo}–{hi} 户；公布网格前请"
        "先"
        "核实第七部分所列楼栋的户数。",
        "charts": "图表",
        "footer": "各项技术指标见 report.json，规划图层见 plan.gpkg。",
        "no_charts": "未生成图表：未安装 matplotlib（`pip install gridplan[charts]`）。",
        "chart_grids": "各网格户数",
        "chart_coverage": "各类设施可到达住户比例",
        "min_line": "下限",
        "max_line": "上限",
        "target_line": "目标",
        "n_grids": "网格数",
        "share_axis": "可到达住户比例",
    },
}

#: The report's household review (:mod:`gridplan.output.report.review`), under ``review.``.
_REVIEW: dict[str, dict[str, str]] = {
    "en": {
        "title": "7. Households to check",
        "intro": "Check these buildings first; correct any that is wrong in an overrides file "
        "(`building_id,use,households`) and run again with `gridplan run DATASET --out DIR "
        "--overrides FILE`.",
        "uses": "Uses of the buildings, and how they were decided:",
        "largest": "Buildings holding the most estimated households:",
        "weak": "Buildings whose use was decided on weak evidence (size, shape or height only): "
        "{n} in all, the largest:",
        "calibration": "Estimates scaled to each community's total households:",
        "stale": "⚠ The total households given for {ids} look out of date: the estimates had to "
        "be scaled too far, or the counts given leave too little for the rest. Update the "
        "total or give the counts of the buildings.",
        "overrides": "Corrections by the planner applied: {n}.",
        "building": "Building",
        "community": "Community",
        "grid": "Grid",
        "households": "Households",
        "use": "Use",
        "source": "Decided by",
        "confidence": "Evidence",
        "count": "Buildings",
        "total": "Total given",
        "given": "Counted",
        "before": "Estimated",
        "after": "After scaling",
        "factor": "Scale",
        "status": "Assessment",
        "use_residential": "residential",
        "use_mixed": "mixed (shops below, homes above)",
        "use_non_residential": "not residential",
        "source_given": "the data",
        "source_override": "planner's correction",
        "source_inferred": "inferred",
        "confidence_high": "strong",
        "confidence_medium": "fair",
        "confidence_low": "weak",
        "status_ok": "plausible",
        "status_stale_total": "total out of date",
        "status_scaled_up": "scaled up too far",
        "status_scaled_down": "scaled down too far",
        "status_unmatched": "no estimated building",
    },
    "zh": {
        "title": "七、需核对的户数",
        "intro": "请先核对以下楼栋；有误的在更正文件（`building_id,use,households`）中改正，"
        "再运行 `gridplan run DATASET --out DIR --overrides FILE`。",
        "uses": "楼栋用途及判定方式：",
        "largest": "估算户数最多的楼栋：",
        "weak": "仅凭面积、形状或高度判定用途的楼栋：共 {n} 栋，最大的几栋：",
        "calibration": "按各社区总户数校准估算：",
        "stale": "⚠ {ids}的社区总户数似已过时：校准需超出合理倍数缩放估算，或已统计户数已占去大部分"
        "总数。请更新总户数或补充各楼户数。",
        "overrides": "已采用的人工更正：{n} 处。",
        "building": "楼栋",
        "community": "社区",
        "grid": "网格",
        "households": "户数",
        "use": "用途",
        "source": "判定方式",
        "confidence": "证据",
        "count": "楼栋数",
        "total": "社区总户数",
        "given": "已统计",
        "before": "估算",
        "after": "校准后",
        "factor": "倍数",
        "status": "评估",
        "use_residential": "住宅",
        "use_mixed": "商住混合",
        "use_non_residential": "非住宅",
        "source_given": "数据给定",
        "source_override": "人工更正",
        "source_inferred": "推断",
        "confidence_high": "充分",
        "confidence_medium": "一般",
        "confidence_low": "不足",
        "status_ok": "合理",
        "status_stale_total": "总户数过时",
        "status_scaled_up": "放大过多",
        "status_scaled_down": "缩小过多",
        "status_unmatched": "无估算楼栋",
    },
}

#: The request loop's labels (:mod:`gridplan.requests`: report, map pop-ups), under ``requests.``.
_REQUESTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Residents' requests",
        "layer": "Open requests",
        "layer_by_grid": "Open requests by grid",
        "generated": "As of",
        "received": "Received",
        "response_rate": "Response rate",
        "resolution_rate": "Resolution rate",
        "satisfaction_rate": "Satisfaction rate",
        "median_hours_to_close": "Median hours to close",
        "overdue": "Overdue",
        "by_grid": "By grid",
        "by_category": "By category",
        "rollups": "Received / resolved / closed by period",
        "period.week": "Weekly",
        "period.month": "Monthly",
        "period.quarter": "Quarterly",
        "coverage_gaps": "Requests and coverage gaps",
        "coverage_gaps_intro": "Requests from buildings without the related facility within "
        "walking distance (requests in the gap / all requests of the category).",
        "grid": "Grid",
        "category": "Category",
        "status": "Status",
        "due": "Due",
        "assignee": "Assigned to",
        "requester": "Requester",
        "status.received": "Received",
        "status.classified": "Classified",
        "status.dispatched": "Dispatched",
        "status.accepted": "Accepted",
        "status.in_progress": "In progress",
        "status.returned": "Returned",
        "status.escalated": "Escalated",
        "category.elderly_care": "Elderly care",
        "category.medical": "Medical",
        "category.legal_aid": "Legal aid",
        "category.tutoring": "Tutoring",
        "category.dispute": "Dispute",
        "category.repair": "Repair",
        "category.sanitation": "Sanitation",
        "category.public_safety": "Public safety",
        "category.policy": "Policy question",
        "category.micro_wish": "Micro-wish",
        "by_partner": "Partner units (双报到单位)",
        "partner": "Partner unit",
        "section": "9. Residents' requests",
        "section_intro": "Ledger {ledger}, as of {at} (its last entry): {received} requests "
        "received; response rate {response}, resolution rate {resolution}, satisfaction rate "
        '{satisfaction}; {overdue} overdue. The map\'s layer "Open requests" shows the '
        "{open} still open at their buildings, overdue ones in red (requesters masked).",
        "none_handled": "No request in this ledger has been accepted yet: a month imported "
        "and not yet dispatched (`gridplan requests dispatch`), so every rate is 0 and the "
        "overdue count is every request past its deadline.",
        "in_gap": "In a coverage gap",
        "gap_cell": "{in_gap} of {requests} ({facilities})",
        "overdue_list": "Overdue requests ({n})",
        "open_by_grid": "Open requests in grid {grid}: {n}",
    },
    "zh": {
        "title": "群众诉求办理情况",
        "layer": "待办诉求",
        "layer_by_grid": "各网格待办诉求数",
        "generated": "统计截至",
        "received": "受理数",
        "response_rate": "响应率",
        "resolution_rate": "解决率",
        "satisfaction_rate": "满意率",
        "median_hours_to_close": "办结用时中位数（小时）",
        "overdue": "超期",
        "by_grid": "按网格",
        "by_category": "按类别",
        "rollups": "按周期受理 / 解决 / 办结数",
        "period.week": "周汇总",
        "period.month": "月研判",
        "period.quarter": "季通报",
        "coverage_gaps": "诉求与设施覆盖缺口",
        "coverage_gaps_intro": "来自步行范围内缺少相关设施的楼栋的诉求"
        "（缺口内诉求数 / 该类诉求总数）。",
        "grid": "网格",
        "category": "类别",
        "status": "状态",
        "due": "办理时限",
        "assignee": "承办人",
        "requester": "诉求人",
        "status.received": "已受理",
        "status.classified": "已分类",
        "status.dispatched": "已派单",
        "status.accepted": "已接单",
        "status.in_progress": "办理中",
        "status.returned": "已退单",
        "status.escalated": "已上报督办",
        "category.elderly_care": "养老助老",
        "category.medical": "医疗健康",
        "category.legal_aid": "法律援助",
        "category.tutoring": "课业辅导",
        "category.dispute": "矛盾纠纷",
        "category.repair": "维修",
        "category.sanitation": "环境卫生",
        "category.public_safety": "安全隐患",
        "category.policy": "政策咨询",
        "category.micro_wish": "微心愿",
        "by_partner": "双报到单位承办",
        "partner": "双报到单位",
        "section": "九、群众诉求办理",
        "section_intro": "诉求台账 {ledger}，截至 {at}（台账最后一条记录）：共受理 {received} 件；"
        "响应率 {response}，解决率 {resolution}，满意率 {satisfaction}；超期 {overdue} 件。"
        "地图“待办诉求”图层按所在楼栋显示尚未办结的 {open} 件，超期为红色（诉求人信息已脱敏）。",
        "none_handled": "台账中尚无已接单的诉求：本月诉求已导入、尚未派单"
        "（`gridplan requests dispatch`），故各项比率为 0，超期数即已过办理时限的全部诉求。",
        "in_gap": "位于设施覆盖缺口",
        "gap_cell": "{requests} 件中 {in_gap} 件（{facilities}）",
        "overdue_list": "超期诉求（{n} 件）",
        "open_by_grid": "网格 {grid} 待办诉求：{n} 件",
    },
}

#: Why a post is vacant (``vacancies.reason_code``; :func:`vacancy_reason` fills the
#: parameters), and the words those reasons use, under ``vacancy.``.
_VACANCY: dict[str, dict[str, str]] = {
    "en": {
        "no_members": "no member building is listed for this unit",
        "no_resident": "no one on the roster lives in {buildings}; recruit a resident here",
        "wrong_entrance": "the roster's residents of the building ({people}) live in other "
        "entrances or floors; recruit one here",
        "higher_post": "{person} could take it but holds a more important post ({posts}); "
        "recruit another resident",
        "residents_busy": "the residents on the roster ({people}) already hold or signed up "
        "for other posts; recruit another resident",
        "building_no_resident": "no one on the roster lives in this building ({households} "
        "households); recruit a building head",
        "building_reserved": "the building's residents on the roster ({people}) signed up only "
        "for other posts; recruit a resident who will head it",
        "party_share": "to keep party members at {share} % or more of grid heads and workers, "
        "{n} non-members ({people}) were left out; recruit a party member nearby",
        "no_eligible": "no one on the roster has this role; add such people to the roster",
        "out_of_reach": "no one eligible within {limit} m; the nearest, {person}, is "
        "{distance} m away; recruit nearer",
        "unreachable": "no one eligible can reach it on the walk network; recruit nearby",
        "all_taken": "all {n} eligible people within {limit} m ({people}) are needed "
        "elsewhere; recruit another nearby",
        "all_higher": "all {n} eligible people within {limit} m ({people}) hold a more "
        "important post; recruit another nearby",
        "volunteer_no_skill": "{missing} of {needed} {kind} households have no volunteer: "
        "the roster has no volunteer skilled in {skills}",
        "volunteer_out_of_reach": "{missing} of {needed} {kind} households have no volunteer: "
        "none skilled in {skills} within {limit} m (the nearest, {person}, is {distance} m "
        "away)",
        "volunteer_full": "{missing} of {needed} {kind} households have no volunteer: the {n} "
        "volunteers skilled in {skills} within {limit} m are fully used",
        "unknown": "see the reason column of the vacancies layer",
        "post": "{role} of {target}",
        "none": "none",
        "kind_elderly_alone": "elderly living alone",
        "kind_disabled": "disabled",
        "kind_low_income": "low-income",
        "kind_left_behind_child": "left-behind children",
        "skill_elderly_care": "elderly care",
        "skill_medical": "medical care",
        "skill_legal": "legal aid",
        "skill_tutoring": "tutoring",
        "skill_mediation": "mediation",
    },
    "zh": {
        "no_members": "该十联户未列出成员楼栋",
        "no_resident": "名册中无人住在 {buildings}，请在此招募一名居民",
        "wrong_entrance": "名册中该楼的居民（{people}）住在其他单元或楼层，请在本单元招募一名",
        "higher_post": "{person} 可以担任，但已任更重要的职务（{posts}），请另招募一名居民",
        "residents_busy": "名册中的居民（{people}）已任或只报名了其他职务，请另招募一名居民",
        "building_no_resident": "名册中无人住在该楼（{households} 户），请招募一名楼栋长",
        "building_reserved": "名册中该楼的居民（{people}）只报名了其他职务，请招募愿任楼栋长的居民",
        "party_share": "为使党员在网格长和网格员中不低于 {share}%，{n} 名非党员（{people}）未被安排"
        "，"
        "请在附近招募党员",
        "no_eligible": "名册中无人报名此职务，请补充人员",
        "out_of_reach": "{limit} 米内无合适人选，最近的 {person} 在 {distance} 米外，请在附近招募",
        "unreachable": "步行路网上无合适人选可以到达，请在附近招募",
        "all_taken": "{limit} 米内的 {n} 名合适人选（{people}）均另有安排，请在附近再招募一名",
        "all_higher": "{limit} 米内的 {n} 名合适人选（{people}）均已任更重要的职务，请在附近再招募"
        "一名",
        "volunteer_no_skill": "{needed} 户{kind}中有 {missing} 户无志愿者：名册中没有擅长{skills}的"
        "志愿者",
        "volunteer_out_of_reach": "{needed} 户{kind}中有 {missing} 户无志愿者：{limit} 米内没有擅长"
        "{skills}的志愿者（最近的 {person} 在 {distance} 米外）",
        "volunteer_full": "{needed} 户{kind}中有 {missing} 户无志愿者：{limit} 米内擅长{skills}的 "
        "{n} "
        "名志愿者已满负荷",
        "unknown": "原因见规划文件中的空缺岗位表",
        "post": "{target} 的{role}",
        "none": "无",
        "kind_elderly_alone": "独居老人",
        "kind_disabled": "残疾人",
        "kind_low_income": "低保",
        "kind_left_behind_child": "留守儿童",
        "skill_elderly_care": "养老护理",
        "skill_medical": "医疗",
        "skill_legal": "法律",
        "skill_tutoring": "课业辅导",
        "skill_mediation": "矛盾调解",
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
        "({behind} behind an arterial, river or railway from the rest of their old community, "
        "{over} above the upper bound, {short} missing below the lower bound). "
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
        "existing_served": "Existing station (residents served)",
        "site_served": "Best candidate site (residents served)",
        "status_existing": "existing",
        "status_site": "candidate site",
        "status_none": "none inside",
        "best": "best candidate:",
        "network_point": "point on the walk network at",
        "flags": "Flags",
        "flag_out_of_bounds": "{community}: {residents} residents, outside {lo}–{hi}",
        "flag_more": "{n} note(s) of the engine, in full in communities.json",
        "yes": "yes",
        "no": "no",
        "new_layer": "New communities",
        "old_layer": "Old communities",
        "moved_layer": "Buildings that change community",
        "centre_layer": "Service centres",
        "building": "Building",
        "residents_before": "Residents before",
        "residents_after": "Residents now (same id)",
        "barrier_layer": "Barriers (arterial roads, rivers, railways)",
        "barrier": "Barrier",
    },
    "zh": {
        "title": "社区优化调整",
        "summary": "共 {n} 个社区，{residents} 人（目标 {target} 人，范围 {lo}–{hi} 人）："
        "{share}% 在范围内，与目标的最大偏差 {dev}%。",
        "residents_source": "人口：{population} 人取自楼栋人口，"
        "{households} 人按户数 × 户均人口估算。",
        "moves": "调整",
        "moves_summary": "{moved} 人改变所属社区；至少须调整 {floor} 人（与原社区主体隔着主干道、"
        "河流或铁路 {behind} 人，超出上限 {over} 人，"
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
        "existing_served": "已有服务站（覆盖人口）",
        "site_served": "最佳候选选址（覆盖人口）",
        "status_existing": "已有",
        "status_site": "候选选址",
        "status_none": "社区内无",
        "best": "最佳候选：",
        "network_point": "步行路网上的点，位于",
        "flags": "提示",
        "flag_out_of_bounds": "社区 {community}：{residents} 人，不在 {lo}–{hi} 人范围内",
        "flag_more": (
            "引擎说明 {n} 条（小面合并、分隔线、拆分楼栋等），原文（英文）见 communities.json"
        ),
        "yes": "是",
        "no": "否",
        "new_layer": "新社区",
        "old_layer": "原社区",
        "moved_layer": "调整社区的楼栋",
        "centre_layer": "党群服务中心",
        "building": "楼栋",
        "residents_before": "调整前人口",
        "residents_after": "调整后人口（同编号）",
        "barrier_layer": "分隔线（主干道、河流、铁路）",
        "barrier": "分隔线",
    },
}

for _section, _labels in (
    ("report", _REPORT),
    ("review", _REVIEW),
    ("requests", _REQUESTS),
    ("vacancy", _VACANCY),
    ("communities", _COMMUNITIES),
):
    for _lang, _table in _labels.items():
        LABELS[_lang].update({f"{_section}.{k}": v for k, v in _table.items()})

#: The printed notice boards (:mod:`gridplan.output.boards`), under ``print.``.
_PRINT: dict[str, dict[str, str]] = {
    "zh": {
        "board_title": "网格公示牌",
        "atlas_title": "网格公示牌图册",
        "grid_name": "{community}第{n}网格",
        "households": "{n}户",
        "population": "{n}人",
        "buildings": "{n}栋楼",
        "units": "{n}个十联户",
        "grid_head": "网格长",
        "workers": "网格员",
        "duty_phone": "值班电话",
        "reach": "步行可达的服务设施",
        "colon": "：",
        "none_within": "无",
        "missing": "缺少：",
        "and_more": "等{n}处",
        "no_coverage": "无设施覆盖数据",
        "units_title": "十联户及联户长（{n}个）",
        "no_units": "本网格尚未划分十联户",
        "unit_no": "编号",
        "unit_households": "户数",
        "unit_head": "联户长",
        "unit_phone": "电话",
        "grid_boundary": "本网格边界",
        "unit_legend": "十联户（数字为编号）",
        "facility_legend": "服务设施",
        "head_home": "网格长住址",
        "privacy": "电话号码已隐去中间四位（个人信息保护）",
        "privacy_duty": "请拨打值班电话联系网格",
        "footer": "gridplan {version} · 规划日期 {date}",
        "page": "第 {n} 页",
        "cover_figures": "{grids}个网格 · {households}户 · {units}个十联户",
        "index_title": "网格索引",
        "index_code": "网格编号",
        "index_name": "名称",
        "index_households": "户数",
        "index_page": "页码",
    },
    "en": {
        "board_title": "Grid notice board",
        "atlas_title": "Grid notice boards",
        "grid_name": "{community} grid {n}",
        "households": "{n} households",
        "population": "{n} residents",
        "buildings": "{n} buildings",
        "units": "{n} ten-household units",
        "grid_head": "Grid head",
        "workers": "Grid workers",
        "duty_phone": "Duty phone",
        "reach": "Services within walking reach",
        "colon": ": ",
        "none_within": "none",
        "missing": "Missing: ",
        "and_more": " ({n} in all)",
        "no_coverage": "no coverage data",
        "units_title": "Ten-household units and their heads ({n})",
        "no_units": "No ten-household units yet",
        "unit_no": "No.",
        "unit_households": "Households",
        "unit_head": "Unit head",
        "unit_phone": "Phone",
        "grid_boundary": "This grid",
        "unit_legend": "Ten-household units (numbered)",
        "facility_legend": "Services",
        "head_home": "Grid head's home",
        "privacy": "Phone numbers partly hidden (personal data)",
        "privacy_duty": "Call the duty phone to reach the grid",
        "footer": "gridplan {version} · planned {date}",
        "page": "page {n}",
        "cover_figures": "{grids} grids · {households} households · {units} units",
        "index_title": "Grid index",
        "index_code": "Grid",
        "index_name": "Name",
        "index_households": "Households",
        "index_page": "Page",
    },
}
for _lang, _table in _PRINT.items():
    LABELS[_lang].update({f"print.{k}": v for k, v in _table.items()})

#: The edit page's labels (``gridplan edit``), kept in :data:`LABELS` under ``edit.``; the
#: ``v_*`` keys word one violation (``grid``, ``households``, ``min``, ``max``, ``ids``).
_EDIT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "网格调整",
        "help": "点击楼栋选择，Shift+点击追加；框选：按住Shift拖动；套索：点“套索”后圈画楼栋；"
        "点击网格空白处查看网格。",
        "lasso": "套索",
        "selected": "已选楼栋",
        "households": "户数",
        "move_to": "移至网格",
        "move": "移动",
        "not_neighbour": "（不相邻）",
        "clear": "清除选择",
        "grid": "网格",
        "lock": "锁定",
        "unlock": "解锁",
        "locked": "已锁定",
        "reoptimise": "优化其余网格",
        "reoptimised": "其余网格已重新优化（锁定网格保持不变）；之后的移动不再自动优化",
        "undo": "撤销",
        "redo": "重做",
        "save": "保存为新方案",
        "save_to": "保存到",
        "overwrite": "覆盖已有文件夹",
        "saved": "已保存到 {out}",
        "by": "调整人",
        "checks": "涉及网格检查",
        "bounds": "户数范围",
        "contiguity": "连片",
        "barrier": "不跨障碍",
        "compactness": "紧凑度",
        "units_affected": "受影响十联户",
        "staffing": "网格长",
        "head_outside": "{head} 不再住在本网格",
        "violations": "违规",
        "none": "无",
        "ok": "✓",
        "bad": "✗",
        "accept_title": "此次移动违反硬性规则",
        "accept_reason": "仍要接受的理由（记入调整日志）",
        "accept": "仍然接受",
        "cancel": "取消",
        "restored": "已恢复上次未保存的 {n} 项调整",
        "edits": "调整记录",
        "busy": "计算中…",
        "hard_rule": "此移动违反硬性规则：{violations}。如确需保留，请选择“仍然接受”并填写理由。",
        "v_over": "网格 {grid} 有 {households} 户，超过上限 {max} 户",
        "v_under": "网格 {grid} 只有 {households} 户，低于下限 {min} 户",
        "v_empty": "网格 {grid} 已无楼栋，将被撤销",
        "v_pieces": "网格 {grid} 不再连片（分成多块）",
        "v_outside": "网格 {grid} 的楼栋 {ids} 与网格不相连",
        "v_barrier": "网格 {grid} 跨越主干道、河流或铁路",
        "v_not_neighbour": "楼栋 {ids} 移入了不相邻的网格 {grid}",
        "v_stray": "楼栋 {ids} 与网格 {grid} 不相连，将自成一个新网格",
        "v_head": "网格 {grid} 的网格长 {ids} 不住在本网格",
    },
    "en": {
        "title": "Grid edits",
        "help": "Click a building to select it, shift-click to add; box: hold Shift and drag; "
        "lasso: press Lasso, then draw around buildings; click a grid's open ground to see "
        "the grid.",
        "lasso": "Lasso",
        "selected": "Selected buildings",
        "households": "Households",
        "move_to": "Move to grid",
        "move": "Move",
        "not_neighbour": " (not neighbouring)",
        "clear": "Clear selection",
        "grid": "Grid",
        "lock": "Lock",
        "unlock": "Unlock",
        "locked": "locked",
        "reoptimise": "Re-optimise the rest",
        "reoptimised": "The rest was re-optimised (locked grids kept); later moves are not",
        "undo": "Undo",
        "redo": "Redo",
        "save": "Save as a new plan",
        "save_to": "Save to",
        "overwrite": "Replace an existing folder",
        "saved": "Saved to {out}",
        "by": "Edited by",
        "checks": "Grids touched",
        "bounds": "Bounds",
        "contiguity": "Contiguous",
        "barrier": "No barrier crossed",
        "compactness": "Compactness",
        "units_affected": "Units affected",
        "staffing": "Grid head",
        "head_outside": "{head} no longer lives in the grid",
        "violations": "Violations",
        "none": "none",
        "ok": "✓",
        "bad": "✗",
        "accept_title": "This move breaks a hard rule",
        "accept_reason": "Reason to accept it anyway (goes into the edit log)",
        "accept": "Accept anyway",
        "cancel": "Cancel",
        "restored": "Restored {n} unsaved edit(s) of the last session",
        "edits": "Edit log",
        "busy": "Working…",
        "hard_rule": "This move breaks a hard rule: {violations}. To keep it, choose "
        '"accept anyway" and give a reason.',
        "v_over": "grid {grid} holds {households} households, above the maximum of {max}",
        "v_under": "grid {grid} holds {households} households, below the minimum of {min}",
        "v_empty": "grid {grid} holds no building any more and is retired",
        "v_pieces": "grid {grid} is no longer contiguous (several pieces)",
        "v_outside": "buildings {ids} of grid {grid} do not touch the grid",
        "v_barrier": "grid {grid} crosses an arterial road, river or railway",
        "v_not_neighbour": "buildings {ids} moved into grid {grid}, which did not border theirs",
        "v_stray": "buildings {ids} do not join grid {grid} and become a grid of their own",
        "v_head": "the grid head {ids} of grid {grid} does not live in the grid",
    },
}

#: Split, merge, re-optimise as one step, coverage (``gridplan edit``).
_EDIT["zh"].update(
    {
        "merge": "合并",
        "merge_with": "与相邻网格合并",
        "split": "选中楼栋拆为新网格",
        "merged_into": "已并入 {keep}",
        "merged_reason": "网格 {gone} 并入 {keep}",
        "split_reason": "从网格 {grid} 拆出新网格 {new}",
        "reoptimised_reason": "重新优化其余网格",
        "kind_move": "移动",
        "kind_merge": "合并",
        "kind_split": "拆分",
        "kind_reoptimise": "重新优化",
        "heads_merged": "网格长：{heads}（合并后只需一名）",
        "coverage": "生活圈覆盖（户数比例）",
        "coverage_same": "不变",
        "coverage_changed": "有变化",
        "reoptimise_none": "其余网格已无可改进之处",
    }
)
_EDIT["en"].update(
    {
        "merge": "Merge",
        "merge_with": "Merge with a neighbour",
        "split": "Split the selection off as a new grid",
        "merged_into": "merged into {keep}",
        "merged_reason": "grid {gone} merged into {keep}",
        "split_reason": "new grid {new} split off grid {grid}",
        "reoptimised_reason": "the rest re-optimised",
        "kind_move": "move",
        "kind_merge": "merge",
        "kind_split": "split",
        "kind_reoptimise": "re-optimise",
        "heads_merged": "grid heads: {heads} (the merged grid needs one)",
        "coverage": "Life-circle coverage (share of households)",
        "coverage_same": "unchanged",
        "coverage_changed": "changed",
        "reoptimise_none": "nothing in the rest could be improved",
    }
)

for _lang, _table in _EDIT.items():
    LABELS[_lang].update({f"edit.{k}": v for k, v in _table.items()})

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


def _words(values: object, lang: str, prefix: str = "") -> str:
    """A list of ids or of coded words as one phrase (``、`` in Chinese, ``, `` in English)."""
    items = values if isinstance(values, list | tuple) else [values]
    table = LABELS[lang]
    shown = [table.get(f"{prefix}{v}", str(v)) if prefix else str(v) for v in items]
    if not shown:
        return table["vacancy.none"]
    return ("、" if lang == "zh" else ", ").join(shown)


def vacancy_reason(code: str, params: str | Mapping[str, Any] | None, lang: str = "zh") -> str:
    """Why a post is vacant, in ``lang``: the sentence of ``code`` (a ``reason_code`` of the
    ``vacancies`` layer) filled with its parameters (``reason_params``, JSON text or a mapping).

    Example
    -------
    >>> vacancy_reason("out_of_reach", {"limit": 1500, "person": "P7", "distance": 2100}, "en")
    'no one eligible within 1,500 m; the nearest, P7, is 2,100 m away; recruit nearer'
    """
    table = LABELS[check_lang(lang)]
    template = table.get(f"vacancy.{code}") if code else None
    if template is None:
        return table["vacancy.unknown"]
    raw = json.loads(params) if isinstance(params, str) and params else (params or {})
    fmt: dict[str, str] = {}
    for key, value in dict(raw).items():
        if key == "posts":
            fmt[key] = _words(
                [
                    table["vacancy.post"].format(role=role_label(r, lang), target=t)
                    for r, t in value
                ],
                lang,
            )
        elif key == "kind":
            fmt[key] = _words(value, lang, "vacancy.kind_")
        elif key == "skills":
            fmt[key] = ("或" if lang == "zh" else " or ").join(
                table.get(f"vacancy.skill_{v}", str(v)) for v in value
            )
        elif isinstance(value, list):
            fmt[key] = _words(value, lang)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fmt[key] = f"{value:,}"
        else:
            fmt[key] = str(value)
    try:
        return template.format(**fmt)
    except KeyError:  # a parameter this code needs is missing: say where the reason is
        return table["vacancy.unknown"]


def labels_in(section: str, lang: str = "zh") -> dict[str, str]:
    """The labels of one section of :data:`LABELS` (``"report"``) in ``lang``, keyed without
    the section's prefix."""
    prefix = f"{section}."
    table = LABELS[check_lang(lang)]
    return {k.removeprefix(prefix): v for k, v in table.items() if k.startswith(prefix)}
