"""A month of residents' requests for a sample dataset (the request loop's test data).

Locations are drawn in proportion to households, with vulnerable households weighing more
(an elderly resident living alone asks for help more often); categories, kinds, channels and
urgency follow a plausible community mix; times fall in office hours more than at night. Each
record is what an office exports: id, time with offset, category, description, channel, kind,
urgency, building_id, requester name and phone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["generate_partner_units", "generate_requests"]

#: category -> (weight, kind weights over consult/complaint/suggestion/help/wish, text)
_MIX: dict[str, tuple[float, tuple[float, ...], str]] = {
    "elderly_care": (0.16, (0.1, 0.0, 0.0, 0.7, 0.2), "独居老人需要上门照护"),
    "medical": (0.08, (0.2, 0.0, 0.0, 0.8, 0.0), "需要上门量血压、送药"),
    "legal_aid": (0.06, (0.7, 0.1, 0.0, 0.2, 0.0), "咨询赡养、继承等法律问题"),
    "tutoring": (0.06, (0.0, 0.0, 0.0, 0.3, 0.7), "留守儿童课业辅导"),
    "dispute": (0.08, (0.0, 0.6, 0.0, 0.4, 0.0), "邻里噪音纠纷需要调解"),
    "repair": (0.20, (0.0, 0.3, 0.0, 0.7, 0.0), "楼道灯坏了、下水道堵塞"),
    "sanitation": (0.14, (0.0, 0.7, 0.2, 0.1, 0.0), "垃圾清运不及时"),
    "public_safety": (0.06, (0.0, 0.5, 0.2, 0.3, 0.0), "电动车楼道充电隐患"),
    "policy": (0.12, (0.9, 0.0, 0.1, 0.0, 0.0), "咨询医保、社保认证办理"),
    "micro_wish": (0.04, (0.0, 0.0, 0.0, 0.0, 1.0), "微心愿：想要一台收音机"),
}
_KINDS = ("consult", "complaint", "suggestion", "help", "wish")
_CHANNELS = ("hotline", "wechat", "mini_program", "qr_code", "service_centre", "visit")
_CHANNEL_P = np.array([0.25, 0.30, 0.10, 0.05, 0.15, 0.15])
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def generate_requests(
    layers: dict[str, Any],
    *,
    seed: int = 0,
    month: str = "2024-05",
    per_1000_households: float = 30.0,
    prefix: str = "",
) -> pd.DataFrame:
    """A month of requests for the sample's residential buildings.

    Parameters
    ----------
    layers
        The sample's layers (``buildings`` with households; ``vulnerable``).
    seed
        Random seed (the same layers and seed give the same requests).
    month
        ``YYYY-MM``: the month the requests fall in (times in China Standard Time, +08:00).
    per_1000_households
        Requests a month per 1 000 households (a county community office logs some tens).
    prefix
        Put before each id (a province's community, ``C001-``, so ids stay unique when its
        communities are written one by one).

    Returns
    -------
    pandas.DataFrame
        request_id, requested_at, service_code, description, channel, kind, urgency,
        building_id, requester_name, requester_phone.
    """
    rng = np.random.default_rng(seed + 18)
    b = layers["buildings"]
    hh = pd.to_numeric(b["households"], errors="coerce").fillna(0.0).to_numpy(float)
    if "use" in b:
        hh = np.where(b["use"].astype(str) == "non_residential", 0.0, hh)
    weight = hh.copy()
    vul = layers.get("vulnerable")
    if vul is not None and len(vul):
        extra = pd.to_numeric(vul["households"], errors="coerce").groupby(vul["building_id"]).sum()
        weight += 4.0 * b["building_id"].map(extra).fillna(0.0).to_numpy(float)
    if weight.sum() <= 0:
        return pd.DataFrame()
    n = max(1, round(hh.sum() / 1000.0 * per_1000_households))
    start = pd.Timestamp(f"{month}-01T00:00:00+08:00")
    days = (start + pd.offsets.MonthBegin(1) - start).days
    cats = list(_MIX)
    cat_p = np.array([_MIX[c][0] for c in cats])
    rows = []
    for i in range(n):
        cat = cats[int(rng.choice(len(cats), p=cat_p / cat_p.sum()))]
        kp = np.array(_MIX[cat][1])
        kind = _KINDS[int(rng.choice(5, p=kp / kp.sum()))]
        hour = int(rng.choice(24, p=_HOURS))
        at = start + pd.Timedelta(
            days=int(rng.integers(days)), hours=hour, minutes=int(rng.integers(60))
        )
        u = rng.random()
        urgency = "emergency" if u < 0.04 else ("complex" if u > 0.97 else "")
        bi = int(rng.choice(len(b), p=weight / weight.sum()))
        name = _SURNAMES[int(rng.integers(len(_SURNAMES)))] + _GIVEN[int(rng.integers(len(_GIVEN)))]
        rows.append(
            {
                "request_id": f"R{i + 1:05d}",
                "requested_at": at.isoformat(),
                "service_code": cat,
                "description": _MIX[cat][2],
                "channel": _CHANNELS[int(rng.choice(6, p=_CHANNEL_P))],
                "kind": kind,
                "urgency": urgency,
                "building_id": str(b["building_id"].iloc[bi]),
                "requester_name": name,
                "requester_phone": "1"
                + str(int(rng.choice([3, 5, 8])))
                + "".join(str(int(d)) for d in rng.integers(0, 10, 9)),
            }
        )
    out = pd.DataFrame(rows).sort_values(["requested_at", "request_id"], kind="stable")
    out["request_id"] = [f"{prefix}R{i + 1:05d}" for i in range(len(out))]  # in time order
    return out.reset_index(drop=True)


_HOURS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 14, 10, 6, 8, 12, 12, 10, 8, 8, 8, 6, 4, 2, 1], dtype=float
)
_HOURS = _HOURS / _HOURS.sum()


#: Partner units (双报到单位) of a sample: one property company per community, and per three
#: communities a hospital's community medical team, a law firm and a school. Each: name
#: (``{c}``: the community's name without 社区), request categories taken, hours per day,
#: open cases.
_PER_COMMUNITY = (("{c}物业服务中心", "repair;sanitation", 8.0, 6),)
_PER_THREE = (
    ("{c}卫生院家庭医生团队", "medical;elderly_care", 8.0, 6),
    ("{f}律师事务所", "legal_aid;dispute", 4.0, 3),
    ("{c}小学党支部", "tutoring", 2.0, 4),
)
_FIRMS = ("明德", "和信", "安康", "正源", "立言")


def generate_partner_units(
    layers: dict[str, Any], *, seed: int = 0, prefix: str = "", first: int = 0
) -> pd.DataFrame:
    """The sample's partner units (双报到单位): units that report to the community and take
    requests of their categories (a property company repairs, a clinic's family doctors
    visit, a law firm gives legal aid and mediates, a school tutors).

    Each sits in a non-residential building of its community (any building when the community
    has none), drawn with ``seed``; the contact phone is made up like the requesters'.
    ``prefix`` goes before each id and ``first`` is the position of the layers' first
    community among all (a province written community by community).

    Returns
    -------
    pandas.DataFrame
        partner_id, name, categories (``;``-list of request categories), building_id,
        hours_per_day, max_open_cases, contact_phone.
    """
    rng = np.random.default_rng(seed + 19)
    b = layers["buildings"]
    comm = b["community_id"].astype(str) if "community_id" in b else pd.Series("C01", index=b.index)
    use = b["use"].astype(str) if "use" in b else pd.Series("", index=b.index)
    names: dict[str, str] = {}
    c_layer = layers.get("communities")
    if c_layer is not None and "name" in c_layer:
        names = dict(
            zip(c_layer["community_id"].astype(str), c_layer["name"].astype(str), strict=True)
        )
    rows: list[dict[str, Any]] = []
    for ci, cid in enumerate(sorted(comm.unique())):
        specs = list(_PER_COMMUNITY) + (list(_PER_THREE) if (first + ci) % 3 == 0 else [])
        mine = b[(comm == cid).to_numpy()]
        pool = mine[(use[mine.index] == "non_residential").to_numpy()]
        pool = pool if len(pool) else mine
        ids = sorted(pool["building_id"].astype(str))
        place = names.get(cid, cid).removesuffix("社区")
        for stem, cats, hours, cases in specs:
            firm = _FIRMS[int(rng.integers(len(_FIRMS)))]
            rows.append(
                {
                    "partner_id": f"{prefix}PU{len(rows) + 1:03d}",
                    "name": stem.format(c=place, f=firm),
                    "categories": cats,
                    "building_id": ids[int(rng.integers(len(ids)))],
                    "hours_per_day": hours,
                    "max_open_cases": cases,
                    "contact_phone": "0851" + "".join(str(int(d)) for d in rng.integers(0, 10, 8)),
                }
            )
    return pd.DataFrame(rows)
