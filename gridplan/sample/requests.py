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

__all__ = ["generate_requests"]

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
    out["request_id"] = [f"R{i + 1:05d}" for i in range(len(out))]  # numbered in time order
    return out.reset_index(drop=True)


_HOURS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 14, 10, 6, 8, 12, 12, 10, 8, 8, 8, 6, 4, 2, 1], dtype=float
)
_HOURS = _HOURS / _HOURS.sum()
