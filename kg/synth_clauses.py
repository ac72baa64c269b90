"""What a synthetic certificate prints (kg.synth): the plan, and the wording of 特别规定事项.

Every sentence here is copied from the five sample transcriptions in
``data/certificates`` (full-width punctuation, as on the printed page), so that
synthetic certificates exercise the parser on the real wording, including the
variants found between samples: clause 七 with/without 开展用户信息保护工作,
two wordings of 八, 有关法律法规 vs 国家法律法规 in 十, and the newer 十一/十二
of sample 004. Types without a sample block (B12, B21, B23, B24, B26) get a
block made of the items every sample block shares, led by one type-specific
item modelled on the sample items (documented in docs/synth.md as synthetic).

The module only knows wording and structure; layout and OCR damage live in
kg.synth_text, facts in kg.synth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

NUMERALS = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


def cn_numeral(n: int) -> str:
    """1..99 as printed on certificates: 十, 十四, 二十二."""
    if n <= 10:
        return NUMERALS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else NUMERALS[tens]) + "十" + (NUMERALS[ones] if ones else "")


NUMS = [cn_numeral(n) if n else "" for n in range(100)]
#: OCR damage of labels, as in sample 000: junk before the numeral (工七、 要十五、), look-alike numerals
#: (人、 基士四、), a bad opening bracket (《二) 第二十二)).
TOP_JUNK = "工要基下作上丁"
TOP_SUBST = {"八": "人", "十": "士", "六": "大", "七": "匕"}
CHILD_OPEN = ("《", "〈", "第", "{", "C")

PREAMBLE = ("根据《中华人民共和国电信条例》及国家有关规定，经审查，准许你公司按照本经营许可证（正文和附件）载明的"
            "内容经营增值电信业务，特颁发{cross}增值电信业务经营许可证。")
SPECIAL_PREAMBLE = ("《特别规定事项》是经营许可证重要组成部分，{company}应当按照经营许可证载明的许可事项开展经营活动，"
                    "并遵守下列规定事项：")

C1 = ("你公司应当按照《中华人民共和国电信条例》、《互联网信息服务管理办法》等法律法规要求，严格执行电信网码号资源、"
      "业务资费、市场管理、服务质量、电信设备管理、设施建设和运行、安全生产及网络与信息安全等行业管理规定，"
      "履行维护国家安全和利益的义务，配合电信主管部门依法开展监督检查工作。")
C2 = ("你公司应当按照许可的业务种类和业务覆盖范围，依法开展业务经营活动，不得经营或变相经营未经许可的其他电信业务，"
      "不得超越许可的业务覆盖范围开展经营活动。你公司应当在公司主要经营场所、网站主页、业务宣传手册等显著位置"
      "标明经营许可证编号。")
C3 = ("你公司在未取得国内通信设施服务业务经营许可时，不得投资建设电信传输网络设施。你公司需使用电信传输网等网络"
      "基础设施时，应当使用已取得基础电信业务经营许可的经营者提供的网络设施，不得从无基础电信业务经营许可者处购买、"
      "租用电信传输网网络资源设施。")
C4 = ("你公司应当按照电信主管部门要求，规范各类电信资源的使用管理，不得向未经许可擅自开展电信业务的经营者提供电信"
      "资源，不得将你公司购买或租用的带宽等网络接入资源向互联网接入服务业务经营者转售或转租。你公司应当采取切实的"
      "技术手段和监控措施加强用户管理，禁止用户利用你公司的电信资源违规经营电信业务。")
C5 = ("你公司应当按照《电信服务规范》等相关电信服务管理要求向用户提供服务，建立健全服务管理制度，配备用户投诉受理"
      "人员，妥善化解服务纠纷，维护用户合法权益。")
C6 = ("你公司应当按照《通信网络安全防护管理办法》（工业和信息化部令第11号）的有关要求，开展所属网络和系统定级备案、"
      "符合性评测和风险评估等工作，及时向通信主管部门报备，按照有关政策和通信网络安全防护系列标准要求落实网络安全"
      "防护措施，保障网络和系统安全。")
C7 = ("你公司应当按照国家用户信息保护有关法律法规和《电信和互联网用户个人信息保护规定》（工业和信息化部令第24号）"
      "要求，{protect}落实企业网络与信息安全主体责任，完善管理制度和技术手段，规范用户信息和网络数据采集、传输、存储、"
      "使用和销毁等行为，加强数据访问权限管理，防止用户信息和数据泄露。")
C8 = ("你公司应当按照电信主管部门要求，在发生大规模用户个人信息泄露事件、影响众多用户的服务中断事件等重大网络安全"
      "事件时，{act}控制影响范围，消除事件危害，并第一时间向电信主管部门报告，根据电信主管部门要求采取应急处置措施。")
C8_ACT = ("立即采取应急措施，", "应当按照相关规定及预案立即进行应急处置，")
C9 = ("你公司应当配合国家有关部门依法开展监督检查工作，按照法律法规要求或有关标准，做好用户日志留存、违法信息监测等"
      "工作，对发现的违法信息立即进行处置，保存有关记录，并在处置后的10个工作日内向电信主管部门上报。")
C10 = "你公司应按照{law}法律法规要求，为有关部门提供技术接口和解密等技术支持和协助。"
C11_OLD = ("你公司或者经你公司授权经营电信业务的子公司，遇有合并或者分立、有限责任公司股东变化、业务经营权转移等涉及"
           "经营主体需要变更的情形，应当自公司作出决定之日起30日内向我部提出申请，经批准后方可实施。涉及新增外方股东"
           "或原有外方股东发生变更的情形，应当按照《外商投资电信企业管理规定》的有关规定执行。")
C11_NEW = ("你公司或者经你公司授权经营电信业务的子公司，遇有因合并或者分立、股东变化等导致经营主体需要变更的情形，"
           "或者业务范围需要变化的，应当自公司作出决定之日起30日内向原发证机关提出申请，经批准后方可实施。涉及新增"
           "外方股东或原有外方股东股权发生变更的情形，应当按照《外商投资电信企业管理规定》的有关规定执行。")
C12_OLD = ("你公司遇有业务覆盖范围内负责当地业务经营、客户服务等事务的机构信息发生变化的情形，应当在变更后30日内向"
           "原发证机关报送有关信息。你公司经营许可证有效期届满需要继续经营的，应当提前90日向原发证机关提出续办申请。")
C12_NEW = ("你公司遇有工商登记的住所、注册资本、股东股权发生变更，或业务覆盖范围内负责当地业务经营、客户服务等事务的"
           "机构信息发生变化的情形，应当在变更之日起30日内在《电信业务市场综合管理信息系统》中更新相关信息。你公司"
           "经营许可证有效期届满需要继续经营的，应当提前90日向原发证机关提出延续经营许可证的申请；不再继续经营的，"
           "应当提前90日向原发证机关报告，并做好善后工作。")
C13 = ("你公司如已持有省（自治区、直辖市）通信管理局颁发的电信业务经营许可证，且所载明的业务种类和相应的业务覆盖"
       "范围包含在跨地区电信业务经营许可证的范围内，应当在取得我部颁发的许可证后30日内，向相关省（自治区、直辖市）"
       "通信管理局办理许可证的注销或变更手续。")
C14 = "你公司应当在每年第一季度参加电信主管部门组织的经营许可证年报。"

#: Deadlines of the common clauses, in the gold JSON shape (identical for both editions).
COMMON_DEADLINES: list[dict] = [
    {"clause": "9", "deadlines": [{"amount": 10, "unit": "working_day"}]},
    {"clause": "11", "deadlines": [{"amount": 30, "unit": "day"}]},
    {"clause": "12", "deadlines": [{"amount": 30, "unit": "day"}, {"amount": 90, "unit": "day", "before": "expiry"}]},
    {"clause": "13", "deadlines": [{"amount": 30, "unit": "day"}]},
    {"clause": "14", "deadlines": [{"recurrence": "annual", "window": "Q1"}]},
]

# Items shared by the sample blocks (the "security items").
I_USERS = "你公司应当按照法律法规要求或相关标准，对用户的基本信息进行备案登记和更新。"
I_ONSHORE = ("你公司应当将网络控制、业务、数据处理等有关设施放置在中华人民共和国境内许可的业务覆盖范围内，不得向其它企业、"
             "组织或个人开放网络控制系统的使用、管理权限，不得委托他人对网络控制系统代为管理。")
I_STAFF = ("你公司应当按照电信主管部门要求，配备相应数量的专职网络与信息安全管理{staff}，成立相应的网络与信息安全管理"
           "机构，并将相关信息向业务开展地电信主管部门报备，建立健全网络与信息安全保障制度，制定应急处置预案，做好网络"
           "与信息安全管理技术手段规范使用、日常管理及运行维护。")
I_TECH = ("你公司应当按照电信主管部门要求或有关标准，具备网络与信息安全管理技术保障措施，并实现与网络和业务发展同步"
          "规划、同步建设、同步运行，确保网络与信息安全管理技术手段对运营网络和业务的全覆盖。")
I_TECH_SYS = ("你公司应当按照电信主管部门要求或有关标准，具备网络与信息安全管理技术保障措施，并完成与电信主管部门有关系统"
              "的对接。你公司应确保网络与信息安全管理技术手段与网络和业务发展同步规划、同步建设、同步运行，实现对运营"
              "网络和业务的全覆盖，并在业务开通、{event}、网络接入资源发生变化时，提前向发证机关报备，且同步填报或更新"
              "相关数据。")
I_NEWTECH = ("你公司应当按照电信主管部门要求或有关标准，建立互联网新技术新业务安全评估制度，在新技术、业务或应用上线"
             "（含合作推广、试点、商用等）时，在基础资源配置、技术实现方式、业务功能或用户规模等方面发生较大变化时，"
             "开展网络信息安全评估，积极防范网络信息安全风险，并在安全评估完成30日内向电信主管部门提交书面评估报告。")
I_MALWARE = ("你公司应当按照电信主管部门要求，针对木马僵尸网络、移动恶意程序、网站仿冒等公共网络安全威胁，采取中断仿冒"
             "网站或恶意程序传播、控制服务器的接入服务等处置措施。")
I_MGMT = ("你公司应按照电信管理机构的规定，建立相应的业务管理系统，并按要求实现同电信管理机构相应系统对接，定期报送"
          "有关业务管理信息。开通业务前，应当按照有关管理规定及通信行业技术标准，建设相应技术手段，通过相关技术评测。"
          "开通业务后，应及时填报或更新相关系统数据。网络接入资源进行扩容或者机房发生变更时，应当提前向发证机关申请"
          "开展相关的技术评测。")

B25_ITEMS = [
    ("你公司应当按本经营许可证中载明的信息服务项目开展业务。你公司拟从事法律、行政法规和国务院文件规定的“互联网+”"
     "融合服务项目，或者按照《互联网信息服务管理办法》等相关法规要求应当前置审批或专项审批的项目，应当依法办理相关"
     "服务项目审批手续，经有关主管部门审核同意后，向我部办理经营许可证增项手续。"),
    "未经批准，你公司不得开展固定网电话信息服务业务。",
    "你公司制作、复制、发布、传播《互联网信息服务管理办法》第十五条所列内容，不得提供虚假信息诱导、欺骗用户。",
    ("你公司发布信息服务业务广告时，应当公布你公司名称和经营许可证编号，且不得含有悖于社会良好风尚、损害人民群众"
     "尤其是青少年身心健康的内容。"),
    ("你公司向用户收费应当做到准确、合理，不得向用户收取信息服务项目中明码标价外的任何其他费用。你公司若委托当地"
     "电信运营企业代收信息服务费，应当与其签订协议，明确双方权利、义务和违约责任，并采取措施避免引发收费纠纷。"),
    I_STAFF,
    I_TECH[:-1] + "；提供面向公众发布的公共信息应使用技术手段和人工检查相结合的方式，进行违法信息监测和处置。",
    I_NEWTECH,
    I_MALWARE,
    "（适用于信息发布平台及递送服务）你公司提供信息发布平台和递送服务时，充分保障用户权益，不得强行推送、定制服务。",
    ("（适用于信息发布平台及递送服务）你公司提供应用软件发布平台服务时，应当按照电信主管部门有关标准或要求建设应用"
     "软件网络与信息安全管理技术手段，落实对应用软件（含更新版本）的上架前检测和日常巡检措施，明示应用软件获取的"
     "用户终端权限及用途，留存历史版本、开发者等应用软件基本信息，对违法违规应用软件及时依法处理，建立黑名单管理"
     "制度和用户投诉举报机制，督促应用开发者落实安全责任。"),
    ("（适用于信息搜索查询服务）你公司提供信息搜索查询服务时，应当按照电信主管部门要求或有关标准，具备网络信息安全"
     "技术保障措施，不得向用户推送或推荐违法信息。"),
    ("（适用于信息社区平台服务）你公司提供信息社区平台服务时，对公众帐号和开放平台发布者做好资质审核备案，对违反"
     "国家相关法律法规或协议约定的，视情节采取警示、限制发布、暂停更新直至关闭账号等措施。你公司应依照有关法律"
     "规定，配合电信主管部门建立应急处置机制。"),
    ("（适用于信息即时交互服务）你公司提供信息即时交互服务时，对公众帐号和开放平台发布者做好资质审核备案，同时按照"
     "电信主管部门有关技术标准或要求，建立完善的应急处置机制和技术手段，制定重大突发情况下的应急处置预案。你公司"
     "不得通过公用通信网和互联网提供公共电话业务。"),
]
#: The unlabelled short-message paragraph of sample 000 (follows the app-store item).
B25_SMS = ("你公司提供发送短信业务时，应当严格规范经营行为，规范端口短信息服务，健全内部管控机制，建立防范垃圾短信技术"
           "手段，不发送垃圾短信，不为发送垃圾短信提供便利。")

B22_ITEMS = [
    ("未经许可，你公司不得利用国内多方通信服务平台，经营或变相经营固定电信业务、IP 电话业务等其他电信业务，不得为"
     " VoIP 网关提供语音落地服务。"),
    "你公司经营国内多方通信服务业务时，应当在许可的业务覆盖范围内开展经营活动，不得跨境提供国内多方通信服务业务。",
    "你公司业务开展过程中，应当按照电信主管部门要求或有关标准，传送真实平台号码。",
    I_STAFF, I_TECH, I_NEWTECH, I_USERS,
]
B11_ITEMS = [
    ("你公司不得为非法经营电信业务者和未办理备案手续的互联网信息服务提供者提供设备托管、存储空间及网络其他资源出租"
     "等服务。"),
    I_USERS, I_ONSHORE, I_MGMT, I_STAFF, I_TECH_SYS.format(event="业务机房新建或改/扩建", staff=""), I_NEWTECH,
    I_MALWARE,
    "你公司提供互联网资源协作服务时，应当将网络节点服务设施放置在获得互联网数据中心业务经营许可的机房内。",
]
B13_ITEMS = [
    ("你公司在提供国内互联网虚拟专用网业务过程中，应当严格按照《商用密码管理条例》、《电子签名法》等国家有关法律"
     "法规要求，选用经国家密码管理机构认可商用密码产品，并采取切实有效和技术管理措施，保证在提供国内互联网虚拟专用网"
     "业务过程中数据和业务的安全。"),
    ("未经许可，你公司不得利用国内互联网虚拟专用网系统，经营或变相经营固定通信业务、IP 电话业务等其他电信业务，"
     "不得为 VoIP 网关提供语音落地服务，不得为用户提供公共互联网访问或代理访问服务。"),
    ("你公司经营国内互联网虚拟专用网业务时，应当在许可的业务覆盖范围内开展经营活动，不得跨境提供国内互联网虚拟专用网"
     "业务。"),
    I_USERS, I_ONSHORE, I_STAFF, I_TECH, I_NEWTECH,
]
B14_ITEMS = [
    ("你公司应当在许可的业务覆盖范围内，通过国家批准的经营性互联网络进行国际联网、经营互联网接入服务业务。你公司"
     "不得自行建立或者使用其他信道进行国际联网、经营互联网接入服务业务。"),
    ("你公司在为网站提供互联网接入服务时，应当严格执行“网站先备案后接入”的原则，认真做好代为备案、网站备案信息记录"
     "更新工作，不得为未备案网站提供互联网接入服务。你公司应当建立备案管理“专人专岗”负责制、建立业务管理系统、建立"
     "业务管理系统支撑下的网站备案信息数据库。"),
    "你公司不得为非法经营电信业务者和未办理备案手续的互联网信息服务提供者提供互联网接入服务业务。",
    I_USERS, I_ONSHORE, I_MGMT, I_STAFF, I_TECH_SYS.format(event="业务节点调整", staff=""), I_NEWTECH, I_MALWARE,
]
#: Synthetic first items for types without a sample block, modelled on the sample items above.
GENERIC_FIRST = {
    "B12": "你公司不得为非法经营电信业务者和未办理备案手续的互联网信息服务提供者提供内容分发网络服务。",
    "B21": ("未经许可，你公司不得利用在线数据处理与交易处理平台，经营或变相经营其他电信业务。你公司应当在许可的业务覆盖"
            "范围内开展经营活动。"),
    "B23": ("未经许可，你公司不得利用存储转发平台，经营或变相经营固定电信业务、IP 电话业务等其他电信业务，不得为 VoIP "
            "网关提供语音落地服务。"),
    "B24": "你公司业务开展过程中，应当按照电信主管部门要求或有关标准，传送真实主叫号码。",
    "B26": "你公司应当在许可的业务覆盖范围内开展经营活动，不得为非法经营电信业务者提供编码和规程转换服务。",
}


@dataclass
class AuthPrint:
    """How one authorisation is printed in the business-type table."""

    name: str
    qualifier: str = ""
    exclusions: str = ""
    note: bool = False
    coverage: list[str] | None = None  # printed coverage lines (a wrapped list gives several), None: not printed


@dataclass
class SitePrint:
    name: str
    domains: list[str]
    server_location: str
    access_provider: str


@dataclass
class Plan:
    """Everything printed on one certificate, before layout and damage."""

    number: str
    cross: bool
    company: str
    representative: str
    issue: date
    expiry: date
    unreadable: bool
    auths: list[AuthPrint]
    sites: list[SitePrint]
    paras: list[Para]
    appendix_service: str = "信息服务业务(仅限互联网信息服务)"


@dataclass(frozen=True)
class Para:
    """One paragraph of 特别规定事项: its label parts, body, and the clause id it belongs to."""

    kind: str  # "pre" (preamble), "top" (一、…), "child" ((一)…), "free" (unlabelled, e.g. the SMS paragraph)
    number: int  # 0 for pre/free
    body: str
    cid: str | None  # "7", "15.4"; None for the preamble; the SMS paragraph carries its host's id


def _block_items(code: str, rng: random.Random, excludes: list[str]) -> list[tuple[str, bool]]:
    """Items (text, numbered) of the block governing business type ``code``."""
    staff = rng.choice(("人员", "技术人员"))
    base = code.split("-")[0]
    if base == "B25":
        items = [(t.format(staff=staff), True) for t in B25_ITEMS]
        if "B25-2" in excludes and rng.random() < 0.5:  # sample 000 drops the search item, 004 keeps it
            del items[11]
        if rng.random() < 0.2:
            items.insert(11, (B25_SMS, False))
        return items
    table = {"B22": B22_ITEMS, "B11": B11_ITEMS, "B13": B13_ITEMS, "B14": B14_ITEMS}.get(base)
    if table is not None:
        return [(t.format(staff=staff), True) for t in table]
    items = [GENERIC_FIRST[base], I_USERS, I_ONSHORE, I_STAFF.format(staff=staff), I_TECH, I_NEWTECH]
    if base == "B12" or rng.random() < 0.5:
        items.append(I_MALWARE)
    return [(t, True) for t in items]


def build_clauses(rng: random.Random, preamble_company: str, blocks: list[tuple[str, str, list[str]]],
                  new_edition: bool) -> tuple[list[Para], dict[str, int], dict[str, str]]:
    """The paragraphs of 特别规定事项 for one certificate.

    ``blocks`` is one (code, printed type name, excludes) per authorisation, in
    table order: each gets a governing clause 十五、十六、… as in sample 003.
    Returns the paragraphs, child_clause_counts and clause_applies_to facts.
    """
    paras = [Para("pre", 0, SPECIAL_PREAMBLE.format(company=preamble_company), None)]
    common = [
        C1, C2, C3, C4, C5, C6,
        C7.format(protect="" if rng.random() < 0.2 else "开展用户信息保护工作，"),
        C8.format(act=C8_ACT[rng.random() < 0.2]),
        C9,
        C10.format(law=rng.choice(("有关", "国家"))),
        C11_NEW if new_edition else C11_OLD,
        C12_NEW if new_edition else C12_OLD,
        C13, C14,
    ]
    for n, body in enumerate(common, 1):
        paras.append(Para("top", n, body, str(n)))
    counts: dict[str, int] = {}
    applies: dict[str, str] = {}
    for k, (code, name, excludes) in enumerate(blocks):
        n = 15 + k
        cid = str(n)
        paras.append(Para("top", n, f"你公司在经营{name}时应当遵守下列规定：", cid))
        child = 0
        for text, numbered in _block_items(code, rng, excludes):
            if numbered:
                child += 1
                paras.append(Para("child", child, text, f"{cid}.{child}"))
            else:
                paras.append(Para("free", 0, text, f"{cid}.{child}"))
        counts[cid] = child
        applies[cid] = code
    return paras, counts, applies


def clause_label(rng: random.Random, para: Para, half: int, damage: float) -> tuple[str, str | None]:
    """The printed label of ``para`` (一、 or (一) / （一）) and, if garbled (p = damage), the garbled form."""
    if para.kind == "top":
        num = NUMS[para.number]
        if rng.random() < damage:
            subst = [ch for ch in num if ch in TOP_SUBST]
            if subst and rng.random() < 0.5:
                ch = rng.choice(subst)
                num = num.replace(ch, TOP_SUBST[ch], 1)
                if rng.random() < 0.4:
                    num = rng.choice(TOP_JUNK) + num
            else:
                num = rng.choice(TOP_JUNK) + num
            return num + "、", num
        return num + "、", None
    if para.kind == "child":
        num = NUMS[para.number]
        o, c = ("(", ")") if half else ("（", "）")
        sp = " " if rng.random() < 0.3 else ""
        if rng.random() < damage:
            if rng.random() < 0.2 and "八" in num:
                lab = o + num.replace("八", "人") + c
            else:
                opener = rng.choice(CHILD_OPEN)
                lab = opener + ("二" if opener == "第" and rng.random() < 0.5 else "") + num + c
            return lab + sp, lab
        return o + num + c + sp, None
    return "", None


def lost_labels(rng: random.Random, paras: list[Para], damage: float) -> tuple[set[int], set[int]]:
    """Items whose label is lost entirely (p = damage/4), and the labels that must then stay intact.

    Only where the number can be recovered from the sequence, as in sample 000 (作你公司提供应用软件…): an
    item (n), n ≥ 2, between an intact (n-1) and an intact (n+1), an unlabelled paragraph allowed in between.
    """
    lost: set[int] = set()
    intact: set[int] = set()
    for k in range(1, len(paras) - 1):
        para, prev = paras[k], paras[k - 1]
        if para.kind != "child" or prev.kind != "child" or prev.number != para.number - 1 or k - 1 in lost:
            continue
        nxt = k + 1 if paras[k + 1].kind != "free" else k + 2
        if nxt < len(paras) and paras[nxt].kind == "child" and paras[nxt].number == para.number + 1 \
                and rng.random() < damage / 4:
            lost.add(k)
            intact |= {k - 1, nxt}
    return lost, intact
