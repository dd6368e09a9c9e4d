"""The demo's seed tables: the 江海红湾 organizations, pairings, names, themes and activities."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import ActivityKind, OrgKind, PairingForm, RoleKind, UnitKind
from bot.core.inbound import Channel

SEED = "gongjian-demo-江海红湾"
HISTORY_MONTHS = 12
COMMITTEE = "HW-DGW"
ALLIANCE = "HW-LM"


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """One demo organization: code, name, kind, place in the alliance and its org-life habits."""

    code: str
    name: str
    kind: OrgKind
    unit: UnitKind | None
    size: int
    policy: str = "keep"
    at: str = "09:00"
    venue: str = "党员活动室"


ORGS: tuple[OrgSpec, ...] = (
    OrgSpec(COMMITTEE, "江海区镇党工委", OrgKind.COMMITTEE, None, 3, venue="区镇党群服务中心"),
    # X: the president units (会长单位), in rotation order.
    OrgSpec(
        "HW-JG1",
        "区镇机关第一党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        6,
        policy="next_workday",
        venue="区镇党群服务中心三楼会议室",
    ),
    OrgSpec(
        "HW-HGZB",
        "江海重工装备有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        at="14:30",
        venue="公司党建活动室",
    ),
    OrgSpec(
        "HW-HWCB",
        "红湾船舶制造有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        6,
        venue="船坞党员先锋站",
    ),
    OrgSpec(
        "HW-JHGW",
        "江海港务集团党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        at="15:00",
        venue="港务大楼二楼会议室",
    ),
    OrgSpec(
        "HW-YJGD", "沿江供电所党支部", OrgKind.BRANCH, UnitKind.PRESIDENT, 5, venue="供电所红色驿站"
    ),
    OrgSpec(
        "HW-SCJG",
        "区镇市场监管分局党支部",
        OrgKind.BRANCH,
        UnitKind.PRESIDENT,
        5,
        policy="next_workday",
        venue="分局会议室",
    ),
    # Y: the member units (会员单位).
    OrgSpec(
        "HW-HGPT",
        "海工配套产业园党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        venue="产业园党群服务站",
    ),
    OrgSpec(
        "HW-YJWL",
        "沿江物流有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="16:00",
        venue="调度中心会议室",
    ),
    OrgSpec(
        "HW-XCKJ",
        "江海新材料科技有限公司党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        4,
        venue="研发楼党员之家",
    ),
    OrgSpec(
        "HW-XWLH",
        "江海小微企业联合党支部",
        OrgKind.JOINT_BRANCH,
        UnitKind.MEMBER,
        3,
        venue="产业园党群服务站",
    ),
    OrgSpec(
        "HW-HWSQ",
        "红湾社区党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        4,
        policy="next_workday",
        at="19:00",
        venue="社区党群服务中心",
    ),
    OrgSpec(
        "HW-NSYH",
        "农商银行江海支行党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="17:30",
        venue="支行三楼会议室",
    ),
    OrgSpec(
        "HW-ZYXX",
        "江海职业技术学校党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        at="15:30",
        venue="学校图书馆报告厅",
    ),
    OrgSpec(
        "HW-AQJD",
        "区镇安全生产监督站党支部",
        OrgKind.BRANCH,
        UnitKind.MEMBER,
        3,
        venue="监督站会议室",
    ),
)


@dataclass(frozen=True, slots=True)
class DemoPairing:
    """One demo pairing: its form, lead first then the partners, and the months it visits."""

    code: str
    name: str
    form: PairingForm
    orgs: tuple[str, ...]
    goals: str
    visit_months: tuple[int, ...]


PAIRINGS: tuple[DemoPairing, ...] = (
    DemoPairing(
        "HW-JD1",
        "机关第一党支部—江海重工“政企联建”（一对一）",
        PairingForm.ONE_TO_ONE,
        ("HW-JG1", "HW-HGZB"),
        "共过组织生活；惠企政策上门解读；安全生产互查互学。",
        (2, 5, 8, 10),
    ),
    DemoPairing(
        "HW-JD2",
        "农商银行—园区企业“银企共建”（一对多）",
        PairingForm.ONE_TO_MANY,
        ("HW-NSYH", "HW-XCKJ", "HW-HGPT", "HW-XWLH"),
        "搭建小微企业融资服务平台；送“贷”上门；党员结对帮扶。",
        (4, 9),
    ),
    DemoPairing(
        "HW-JD3",
        "港务、物流、供电—红湾社区共建（多对一）",
        PairingForm.MANY_TO_ONE,
        ("HW-JHGW", "HW-YJWL", "HW-YJGD", "HW-HWSQ"),
        "“百企联百村”助力社区治理；志愿服务进社区；共建红色步道。",
        (7, 12),
    ),
)

# (organization code, index in its member list): a few probationary and mobile members.
PROBATIONARY = frozenset({("HW-HGZB", 4), ("HW-HWCB", 5), ("HW-XCKJ", 3), ("HW-HWSQ", 3)})
MOBILE = frozenset({("HW-YJWL", 2), ("HW-HWCB", 4)})

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏"
    "吕丁沈姚卢姜崔钟谭陆汪范金石贾夏顾毛邵钱严戴孔汤"
)
# Given names, dealt out so that few people share one.
_GIVEN = (
    "建国 志强 海燕 丽华 晓明 伟 芳 静 敏 磊 洋 勇 军 杰 娟 涛 超 "
    "秀英 霞 刚 文斌 辉 鹏 红霞 玉兰 婷 宇航 浩然 欣怡 俊杰 雪梅 "
    "春生 国栋 海涛 晓燕 立新 卫东 红梅 振华 德明 美玲 佳琪 思远 志刚 "
    "建华 桂芳 金龙 亚楠 子涵 一鸣 晨曦 锦程 江涛 海波 凤英 永刚 小红 "
    "文静 明轩 雨萱"
)
GIVEN_NAMES = tuple(_GIVEN.split())

ORG_LIFE_THEMES = {
    1: "谋划全年工作 制定年度学习计划",
    2: "新春走访慰问老党员、困难党员",
    3: "学雷锋志愿服务月",
    4: "清明祭英烈 传承红色基因",
    5: "劳动创造幸福——致敬一线工匠",
    6: "安全生产月：党员身边无事故",
    7: "庆祝建党节 重温入党誓词",
    8: "走访慰问退役军人党员",
    9: "铭记历史 缅怀先烈",
    10: "我和我的祖国——国庆主题学习",
    11: "党员冬训动员 学习新思想",
    12: "召开组织生活会 开展民主评议党员",
}

OWN_ACTIVITIES: tuple[tuple[ActivityKind, str, str], ...] = (
    (
        ActivityKind.STUDY,
        "“三会一课”集中学习",
        "集中学习《中国共产党章程》相关章节，党员逐一交流学习体会。",
    ),
    (
        ActivityKind.LECTURE,
        "书记讲党课：安全生产与党员先锋作用",
        "支部书记结合岗位实际讲授专题党课，围绕安全生产“党员身边无事故”展开讨论。",
    ),
    (
        ActivityKind.VOLUNTEER,
        "沿江“红色步道”环境整治志愿服务",
        "组织党员志愿者清理沿江步道垃圾、修缮党建标识牌。",
    ),
    (
        ActivityKind.RED_CULTURE,
        "赴苏中七战七捷纪念馆开展红色教育",
        "参观纪念馆，重温入党誓词，开展现场教学。",
    ),
    (
        ActivityKind.OPINION,
        "党群意见征询会",
        "走访职工群众、召开意见征询会，收集意见建议并逐条建立整改台账。",
    ),
    (ActivityKind.VOLUNTEER, "“百企联百村”助农志愿服务", "党员志愿者帮助结对村采收、销售农产品。"),
    (
        ActivityKind.STUDY,
        "党员技能大赛暨“党员先锋岗”评比",
        "开展岗位技能比武，评选季度“党员先锋岗”。",
    ),
)

LEAVE_REASONS = ("出差", "病假", "外出培训", "值班", "家中有事", "陪护家人")
MOBILE_LEAVE_REASON = "在外务工（流动党员），已线上参加学习"
CHANNELS = (Channel.WECOM, Channel.WECOM, Channel.WECHAT, Channel.TELEGRAM)
ROLE_RANK = (
    RoleKind.SECRETARY,
    RoleKind.DEPUTY,
    RoleKind.COMMITTEE,
    RoleKind.LIAISON,
    RoleKind.MEMBER,
)

ALLIANCE_NAME = "“江海红湾”海工党建联盟"
# December's theme day goes to the community branch, as a secretary would arrange it.
DECEMBER_HOST = "HW-HWSQ"
DECEMBER_REASON = "年终走访慰问活动在红湾社区举办，由社区党支部轮值"
THEME_DAY_TITLE = "联盟主题党日：{theme}"
THEME_DAY_SUMMARY = "{host}轮值牵头，联盟成员单位党员共同参加“{theme}”主题党日活动。"
JOINT_MEETING_TITLE = "党建联盟{year}年第{number}季度联席会议"
JOINT_MEETING_SUMMARY = "各会长单位党组织负责人交流季度工作，协商联盟活动清单和重点项目推进。"
VISIT_TITLE = "走亲串门：{host}"
VISIT_SUMMARY = "结对双方党员互访交流，互学支部班子建设经验，协调解决共建事项。"
