"""Name tables of the sample generator (fake names assembled from common characters).

Street, compound, community, river, shop and person names, phone prefixes and volunteer
skills used by :mod:`gridplan.sample`; private.
"""

from __future__ import annotations

import numpy as np

SURNAMES = tuple(
    dict.fromkeys(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
        "程苏魏吕丁任沈姚卢韦覃莫蒙龙石谭廖贺陆"
    )
)
GIVEN = tuple(
    dict.fromkeys(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍建国志海燕红梅文斌晓东春德凤金花"
        "珍莉琳鹏飞辉俊峰宇浩欣怡涵轩婷佳琪远成林云秀荣昌福寿庆永忠"
    )
)
ARTERIAL_NAMES = (
    "中华路",
    "黄果树大街",
    "塔山路",
    "虹山路",
    "人民路",
    "建设路",
    "解放路",
    "新华路",
    "文化路",
    "西秀路",
    "南华路",
    "青年路",
    "朝阳路",
    "迎宾大道",
    "龙泉路",
    "富民路",
    "兴业路",
    "金钟路",
    "华西路",
    "太平路",
    "府前路",
    "若飞路",
    "儒林路",
    "钟鼓楼路",
    "胜利路",
    "民主路",
    "和平路",
    "东风路",
    "健康路",
    "育才路",
)
NAME_CHARS = "安康平顺兴福和乐景文宁泰瑞祥丰荣华锦翠秀青云桂枫松竹梅兰菊荷"
COMMUNITY_NAMES = (
    "东关社区",
    "西街社区",
    "南门社区",
    "北关社区",
    "塔山社区",
    "虹山社区",
    "新华社区",
    "和平社区",
    "中华社区",
    "文化社区",
    "建设社区",
    "光明社区",
    "龙泉社区",
    "滨河社区",
    "桥东社区",
    "花园社区",
    "民族社区",
    "义昌社区",
    "华西社区",
    "钟鼓社区",
    "若飞社区",
    "儒林社区",
    "太平社区",
    "富民社区",
)
PLACE_A = "东西南北新老上下大小中前后"
PLACE_B = "关街门桥河山城坪塘湾坡寨井园"
COMPOUND_A = "金银阳光锦绣华府翠湖山水幸福康乐盛世名都滨江龙城东方新天地"
COMPOUND_SUFFIX = ("小区", "花园", "苑", "家园", "雅居", "新村", "公馆", "名城")
STORE_BRANDS = ("美宜佳", "红旗连锁", "见福便利店", "易捷便利店", "百佳惠", "邻里便利店")
SUPERMARKETS = ("合力超市", "北京华联", "永辉超市", "星力超市", "生鲜超市")
RIVERS = ("清水江", "南明河", "都柳江", "三岔河", "北盘江", "赤水河", "舞阳河", "乌江")
PHONE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "187",
    "188",
    "189",
)
PHONE_WEIGHTS = np.array([3.0] * 10 + [1.0] * 9)
SKILLS = ("elderly_care", "medical", "legal", "tutoring", "mediation")
