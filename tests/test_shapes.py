"""The SHACL shapes accept a well-formed licence graph and catch broken ones with readable messages.

Licence graphs are built by hand with the closed ``LIC`` namespace and the IRI
scheme of the mapping (flat IRIs under https://w3id.org/licence-kg/id/), so
these tests do not depend on the parser or the mapping.
"""

from __future__ import annotations

import datetime as dt

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from kg.namespaces import DEFAULT_DATA_BASE, ELI, FOAF, FREQ, LIC, ORG, PROV, ROV, RRMV, SCHEMA, TIME, VOCAB
from kg.shapes import check, validate

ID = DEFAULT_DATA_BASE
SHA = "ab" * 32
# a plain Namespace: rdflib's XSD warns when pytest probes module attributes
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")


def bt(code: str) -> URIRef:
    return VOCAB["business-type/" + code]


def region(code: str) -> URIRef:
    return VOCAB["region/" + code]


def zh(text: str) -> Literal:
    return Literal(text, lang="zh")


def integer(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


def day(value: str) -> Literal:
    return Literal(value, datatype=XSD.date)


class LicenceBuilder:
    """A small but complete licence graph, one node kind at a time."""

    def __init__(self, key: str = "B1-20195402", number: str = "B1-20195402", cls: str = "B1",
                 province: str | None = None) -> None:
        self.g = Graph()
        self.key = key
        self.lic = URIRef(f"{ID}licence/{key}")
        g, lic = self.g, self.lic
        g.add((lic, RDF.type, LIC.Licence))
        g.add((lic, SCHEMA.identifier, Literal(number)))
        g.add((lic, LIC.numberForm, Literal("ICP" if "ICP" in number else cls)))
        g.add((lic, LIC.licenceClass, bt(cls)))
        g.add((lic, LIC.serialNumber, Literal(number[-4:])))
        if province is None:
            g.add((lic, LIC.scope, LIC.CrossRegional))
            g.add((lic, SCHEMA.issuedBy, VOCAB["authority/MIIT"]))
        else:
            g.add((lic, LIC.scope, LIC.Provincial))
            g.add((lic, LIC.issuingProvince, region(province)))
            g.add((lic, SCHEMA.issuedBy, VOCAB["authority/" + province]))
        g.add((lic, LIC.firstIssuedYear, integer(2019)))
        g.add((lic, SCHEMA.validFrom, day("2024-09-10")))
        g.add((lic, SCHEMA.validUntil, day("2029-07-25")))
        g.add((lic, LIC.renewalApplicationDue, day("2029-04-26")))
        # provenance
        doc, act = URIRef(f"{ID}document/{SHA}"), URIRef(f"{ID}parse/{SHA}")
        g.add((lic, PROV.wasDerivedFrom, doc))
        g.add((lic, PROV.wasGeneratedBy, act))
        g.add((doc, RDF.type, LIC.SourceDocument))
        g.add((doc, LIC.sha256, Literal(SHA)))
        g.add((doc, LIC.fileName, Literal("003_536d42bffd6cec79.txt")))
        g.add((doc, LIC.encoding, Literal("utf-8")))
        g.add((doc, LIC.byteSize, integer(21000)))
        g.add((doc, LIC.lineCount, integer(200)))
        g.add((act, RDF.type, LIC.ParseActivity))
        g.add((act, PROV.used, doc))
        g.add((act, LIC.parserVersion, Literal("1.0.0")))
        # evidence of the expiry date
        ev = self.node("evidence", "expiry-date")
        g.add((lic, LIC.evidence, ev))
        g.add((ev, RDF.type, LIC.FieldEvidence))
        g.add((ev, LIC.field, Literal("expiry_date")))
        g.add((ev, LIC.printedValue, zh("2029年 07月 25日")))
        g.add((ev, LIC.sourceLine, integer(32)))
        g.add((lic, ELI.cites, URIRef("https://w3id.org/licence-kg/eli/cn/ar/telecommunications-regulations")))

    def node(self, kind: str, local: str) -> URIRef:
        return URIRef(f"{ID}{kind}/{self.key}_{local}")

    def holder(self, name: str = "北京掌全通信息科技有限公司", person: str | None = "蔡盛权") -> URIRef:
        g = self.g
        company = URIRef(f"{ID}company/{abs(hash(name)):x}")
        g.add((self.lic, LIC.holder, company))
        g.add((company, RDF.type, LIC.Company))
        g.add((company, ROV.legalName, zh(name)))
        if person:
            p = URIRef(f"{ID}person/{abs(hash(person)):x}")
            g.add((self.lic, LIC.legalRepresentative, p))
            g.add((p, RDF.type, FOAF.Person))
            g.add((p, FOAF.name, zh(person)))
            m = self.node("membership", "legal-representative")
            g.add((m, RDF.type, ORG.Membership))
            g.add((m, ORG.member, p))
            g.add((m, ORG.organization, company))
            g.add((m, ORG.role, LIC.LegalRepresentativeRole))
        return company

    def authorise(self, code: str, *regions: str, cities: tuple[str, ...] = (), limited_to: tuple[str, ...] = (),
                  excludes: tuple[str, ...] = ()) -> URIRef:
        g = self.g
        a = self.node("authorisation", code)
        g.add((self.lic, LIC.authorisation, a))
        g.add((a, RDF.type, LIC.Authorisation))
        g.add((a, LIC.businessType, bt(code)))
        for r in regions:
            g.add((a, LIC.coverage, region(r)))
            g.add((self.lic, SCHEMA.validIn, region(r)))
        for c in cities:
            g.add((a, LIC.coverageCity, VOCAB["city/" + c]))
        for x in limited_to:
            g.add((a, LIC.limitedTo, bt(x)))
        for x in excludes:
            g.add((a, LIC.excludes, bt(x)))
        g.add((a, LIC.coverageText, zh("全国")))
        g.add((a, LIC.coveragePrinted, Literal(True)))
        g.add((a, LIC.coverageKind, Literal("machine-room locations" if cities else "regions")))
        g.add((a, LIC.sourceLine, integer(12)))
        return a

    def clause(self, clause_id: str, parent: URIRef | None = None, line: int = 40,
               owner: URIRef | None = None) -> URIRef:
        g = self.g
        c = self.node("clause", clause_id)
        g.add((owner or self.lic, LIC.clause, c))
        g.add((c, RDF.type, LIC.Clause))
        g.add((c, LIC.clauseId, Literal(clause_id)))
        last = clause_id.split(".")[-1]
        if last.isdigit():
            g.add((c, LIC.clauseNumber, integer(int(last))))
        g.add((c, LIC.printedLabel, zh("十二、")))
        g.add((c, LIC.labelRepaired, Literal(False)))
        if parent is not None:
            g.add((c, LIC.parentClause, parent))
        tpl = URIRef(f"{ID}template/{clause_id}/{'0123456789abcdef0123'}")
        g.add((c, LIC.template, tpl))
        g.add((tpl, RDF.type, LIC.ClauseTemplate))
        g.add((tpl, LIC.clausePosition, Literal(clause_id)))
        g.add((tpl, LIC.wordingKey, Literal("0123456789abcdef0123")))
        g.add((tpl, LIC.text, zh("你公司经营许可证有效期届满需要继续经营的，应当提前90日向原发证机关提出续办申请。")))
        g.add((tpl, LIC.modality, LIC.Duty))
        g.add((c, LIC.sourceLine, integer(line)))
        g.add((c, LIC.endLine, integer(line + 1)))
        return c

    def deadline(self, clause: URIRef, local: str, amount: int = 90, unit: URIRef = TIME.unitDay,
                 relation: URIRef = LIC.Before, anchor: URIRef = LIC.EventExpiry,
                 due: str | None = "2029-04-26") -> URIRef:
        g = self.g
        d = self.node("deadline", local)
        g.add((clause, LIC.deadline, d))
        g.add((d, RDF.type, LIC.Deadline))
        g.add((d, LIC.amount, integer(amount)))
        g.add((d, LIC.unit, unit))
        if unit == TIME.unitDay:
            g.add((d, RRMV.hasDuration, Literal(f"P{amount}D", datatype=XSD.duration)))
        g.add((d, LIC.relation, relation))
        g.add((d, LIC.anchorEvent, anchor))
        if due:
            g.add((d, LIC.dueDate, day(due)))
        g.add((d, LIC.deadlineText, zh(f"应当提前{amount}日")))
        g.add((d, LIC.sourceLine, integer(41)))
        return d

    def annual_report(self, clause: URIRef) -> URIRef:
        g = self.g
        w = self.node("deadline", "14_1")
        g.add((clause, LIC.deadline, w))
        g.add((w, RDF.type, LIC.RecurringWindow))
        g.add((w, DCTERMS.accrualPeriodicity, FREQ.annual))
        g.add((w, LIC.window, Literal("Q1")))
        g.add((w, LIC.deadlineText, zh("每年第一季度")))
        return w


def valid_licence() -> LicenceBuilder:
    b = LicenceBuilder()
    b.holder()
    b.authorise("B11", "11", "44", cities=("beijing", "guangzhou"))
    b.authorise("B13", "CN")
    c12 = b.clause("12")
    b.deadline(c12, "12_1")
    b.deadline(c12, "12_2", amount=30, relation=LIC.Within, anchor=LIC.EventInformationChange, due=None)
    c9 = b.clause("9", line=30)
    b.deadline(c9, "9_1", amount=10, unit=TIME.unitDay, relation=LIC.Within,
               anchor=LIC.EventIllegalInformationHandled, due=None)
    b.annual_report(b.clause("14", line=50))
    c15 = b.clause("15", line=60)
    b.g.add((c15, LIC.governsBusinessType, bt("B11")))
    b.clause("15.13", parent=c15, line=80)
    b.clause("15.11a", parent=c15, line=75)
    return b


def valid_provincial() -> LicenceBuilder:
    b = LicenceBuilder(key="BJ-B2-20240286", number="京B2-20240286", cls="B2", province="11")
    b.holder("北京某某科技有限公司", person=None)
    b.authorise("B25", "11", limited_to=("B25-I",), excludes=("B25-2",))
    return b


def messages_of(graph: Graph) -> list[str]:
    conforms, messages = validate(graph)
    assert not conforms, "expected a violation"
    return messages


def violations(graph: Graph) -> list[str]:
    return [m for m in validate(graph)[1] if m.startswith("Violation")]


# --- valid graphs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [valid_licence, valid_provincial], ids=["cross-regional", "provincial"])
def test_valid_licence_conforms(build):
    conforms, messages = validate(build().g)
    assert conforms, messages
    assert messages == []


def test_accepts_mapping_triples_and_datasets():
    from rdflib import Dataset

    from kg.rdfterms import Lit

    b = valid_licence()
    ds = Dataset()
    ds.graph(URIRef(f"{ID}graph/{b.key}")).__iadd__(b.g)
    assert validate(ds)[0]
    triples = [(str(s), str(p), str(o) if isinstance(o, URIRef) else Lit(str(o), str(o.datatype) if o.datatype
               else None, o.language)) for s, p, o in b.g]
    assert validate(triples)[0]


def test_xsd_string_typed_literals_pass():
    # Some stores return plain strings typed xsd:string: enumerations must still pass.
    b = valid_licence()
    b.g.set((b.lic, LIC.numberForm, Literal("B1", datatype=XSD.string)))
    assert validate(b.g)[0]


# --- the five required failures ----------------------------------------------------------------------------


def test_issue_date_after_expiry():
    b = valid_licence()
    b.g.set((b.lic, SCHEMA.validFrom, day("2030-01-01")))
    msgs = messages_of(b.g)
    assert any("schema:validFrom" in m and "not after the expiry date" in m for m in msgs), msgs


def test_b1_licence_authorising_b25():
    b = valid_licence()
    b.authorise("B25", "CN")
    msgs = messages_of(b.g)
    assert any("class B1 authorises B25 (信息服务业务)" in m for m in msgs), msgs


def test_provincial_licence_covering_another_province():
    b = valid_provincial()
    b.authorise("B21", "44")  # Guangdong on a Beijing licence
    msgs = messages_of(b.g)
    assert any("issued in 北京市 covers 广东省" in m for m in msgs), msgs


def test_provincial_licence_covering_nationwide():
    b = valid_provincial()
    b.authorise("B21", "CN")
    msgs = messages_of(b.g)
    assert any("covers 全国, which is not within 北京市" in m for m in msgs), msgs


def test_provincial_coverage_city_in_province_is_fine_and_elsewhere_is_not():
    b = valid_provincial()
    b.authorise("B21", "11", cities=("beijing",))
    assert validate(b.g)[0]
    b.authorise("B22", "11", cities=("guangzhou",))
    msgs = messages_of(b.g)
    assert any("covers 广州" in m for m in msgs), msgs
    assert any("Coverage city vocab:city/guangzhou lies in none" in m for m in msgs), msgs


def test_clause_without_licence():
    b = valid_licence()
    orphan = b.node("clause", "16")
    for t in list(b.g.triples((b.lic, LIC.clause, None))):
        if t[2] == b.node("clause", "9"):
            b.g.remove(t)
    msgs = messages_of(b.g)
    assert any("clause/B1-20195402_9 ^lic:clause — A clause belongs to exactly one licence" in m for m in msgs), msgs
    assert orphan not in set(b.g.subjects())


def test_clause_of_two_licences():
    b = valid_licence()
    other = URIRef(f"{ID}licence/B2-20210247")
    b.g.add((other, LIC.clause, b.node("clause", "12")))
    msgs = messages_of(b.g)
    assert any("^lic:clause" in m and "exactly one licence" in m for m in msgs), msgs


def test_licence_with_two_holders():
    b = valid_licence()
    b.holder("另一家公司有限公司", person=None)
    msgs = messages_of(b.g)
    assert any("lic:holder — A licence has exactly one holder" in m for m in msgs), msgs


def test_licence_without_holder():
    b = valid_licence()
    b.g.remove((b.lic, LIC.holder, None))
    assert any("exactly one holder" in m for m in messages_of(b.g))


# --- more of what the shapes check -------------------------------------------------------------------------


def test_missing_identifier_and_issuer():
    b = valid_licence()
    b.g.remove((b.lic, SCHEMA.identifier, None))
    b.g.remove((b.lic, SCHEMA.issuedBy, None))
    msgs = " ".join(messages_of(b.g))
    assert "exactly one licence number" in msgs and "exactly one issuing authority" in msgs


def test_dates_must_be_xsd_date():
    b = valid_licence()
    b.g.set((b.lic, SCHEMA.validUntil, Literal("2029年07月25日")))
    assert any("schema:validUntil" in m and "xsd:date" in m for m in messages_of(b.g))


def test_bad_clause_ids_and_parents():
    b = valid_licence()
    c15 = b.node("clause", "15")
    b.clause("15.x", parent=c15, line=90)
    b.clause("16.2", parent=c15, line=91)
    b.clause("17.1", line=92)
    msgs = messages_of(b.g)
    text = " ".join(msgs)
    assert "clause/B1-20195402_15.x lic:clauseId — A clause has exactly one id of the form" in text
    assert "Clause 16.2: its id does not extend its parent's id 15" in text
    assert "Clause 17.1: an item (dotted id) without a parent clause" in text


def test_clause_template_is_the_wording_at_the_clauses_position():
    b = valid_licence()
    c = b.clause("17", line=92)
    other = b.clause("12", line=93)  # its template is the wording at position 12
    b.g.set((c, LIC.template, b.g.value(other, LIC.template)))
    assert "Clause 17: its wording is the template of clause 12" in " ".join(messages_of(b.g))
    b = valid_licence()
    b.clause("17", line=92)
    b.g.remove((URIRef(f"{ID}template/17/0123456789abcdef0123"), LIC.clausePosition, None))
    assert any("lic:clausePosition" in m and "exactly one position" in m for m in messages_of(b.g))


def test_modality_is_the_wordings():
    """Modality lives on the template (one wording, one modality), not repeated on every clause printing it."""
    b = valid_licence()
    c = b.clause("17", line=92)
    tpl = b.g.value(c, LIC.template)
    assert (tpl, LIC.modality, LIC.Duty) in b.g
    assert validate(b.g)[0]
    b.g.add((tpl, LIC.modality, LIC.EventExpiry))
    assert any("clause wording's modality is lic:Duty and/or lic:Prohibition" in m for m in messages_of(b.g))


def test_a_clause_on_one_line_has_no_end_line():
    b = valid_licence()
    c = b.clause("17", line=92)
    b.g.remove((c, LIC.endLine, None))
    assert validate(b.g)[0]
    b.g.add((c, LIC.endLine, integer(91)))  # before its first line
    assert any("not after its end line" in m for m in messages_of(b.g))


def test_deadline_amount_positive_and_duration_consistent():
    b = valid_licence()
    c = b.node("clause", "9")
    d = b.deadline(c, "9_2", amount=0, relation=LIC.Within, anchor=LIC.EventOther, due=None)
    b.g.add((b.node("deadline", "12_1"), RRMV.hasDuration, Literal("P60D", datatype=XSD.duration)))
    wd = b.deadline(c, "9_3", amount=10, unit=LIC.WorkingDay, relation=LIC.Within, anchor=LIC.EventOther, due="2030-01-01")
    b.g.add((wd, RRMV.hasDuration, Literal("P10D", datatype=XSD.duration)))
    msgs = messages_of(b.g)
    text = " ".join(msgs)
    assert f"{d.removeprefix(ID)} lic:amount — A deadline has exactly one amount, a positive integer" in text
    assert "a period in working days cannot be an xsd:duration" in text
    assert "A due date is materialised only for calendar-day deadlines anchored on the licence expiry" in text
    assert "at most one rrmv:hasDuration" in text  # P90D and P60D on the same deadline


def test_deadline_enumerations():
    b = valid_licence()
    d = b.node("deadline", "12_1")
    b.g.set((d, LIC.unit, TIME.unitWeek))
    b.g.set((d, LIC.anchorEvent, LIC.Duty))
    msgs = " ".join(messages_of(b.g))
    assert "exactly one unit: time:unitDay or lic:WorkingDay" in msgs
    assert "exactly one anchor event" in msgs


def test_recurring_window_quarter():
    b = valid_licence()
    b.g.set((b.node("deadline", "14_1"), LIC.window, Literal("Q5")))
    assert any("quarter Q1–Q4" in m for m in messages_of(b.g))


def test_renewal_due_after_expiry():
    b = valid_licence()
    b.g.set((b.lic, LIC.renewalApplicationDue, day("2030-01-01")))
    assert any("renewal application due date" in m for m in messages_of(b.g))


def test_scope_and_issuer_must_agree():
    b = valid_provincial()
    b.g.set((b.lic, SCHEMA.issuedBy, VOCAB["authority/44"]))
    msgs = messages_of(b.g)
    assert any("jurisdiction is not its issuing province" in m for m in msgs), msgs
    c = valid_licence()
    c.g.set((c.lic, SCHEMA.issuedBy, VOCAB["authority/11"]))
    assert any("cross-regional licence is not issued by MIIT" in m for m in messages_of(c.g))


def test_number_form_must_match_class():
    b = valid_licence()
    b.g.set((b.lic, LIC.numberForm, Literal("ICP")))
    assert any("Number form ICP does not match licence class" in m for m in messages_of(b.g))


def test_qualifiers_must_be_narrower_than_business_type():
    b = valid_provincial()
    b.authorise("B21", "11", excludes=("B25-2",))
    assert any("不含 (excludes) B25-2 is not a service under the authorised business type B21" in m
               for m in messages_of(b.g))


def test_citing_a_non_regulation_title():
    b = valid_licence()
    b.g.add((b.lic, ELI.cites, VOCAB["non-regulation/special-provisions-the-certificate-s-own-section-title"]))
    assert any("eli:cites" in m and "never look-alike titles" in m for m in messages_of(b.g))


def test_extraction_issue_and_source_document():
    b = valid_licence()
    issue = b.node("issue", "1")
    b.g.add((b.lic, LIC.extractionIssue, issue))
    b.g.add((issue, RDF.type, LIC.ExtractionIssue))
    b.g.add((issue, LIC.issueCode, Literal("Date Unreadable")))
    b.g.add((issue, LIC.severity, Literal("fatal")))
    b.g.add((issue, LIC.message, Literal("the expiry date is unreadable")))
    b.g.add((issue, LIC.sourceLine, integer(500)))  # the document has 200 lines
    b.g.set((URIRef(f"{ID}document/{SHA}"), LIC.sha256, Literal("XYZ")))
    text = " ".join(messages_of(b.g))
    assert "kebab-case code" in text
    assert '"error", "warning" or "info"' in text
    assert "64 lower-case hex digits" in text
    assert "source line (500) lies beyond the end of the source document (200 lines)" in text


def test_warnings_do_not_fail():
    b = valid_licence()
    a = b.node("authorisation", "B13")
    b.g.remove((a, LIC.coverage, None))
    b.g.set((b.node("clause", "12"), LIC.clauseNumber, integer(7)))
    conforms, msgs = validate(b.g)
    assert conforms, msgs
    assert any(m.startswith("Warning:") and "has no coverage" in m for m in msgs), msgs
    assert any(m.startswith("Warning:") and "Clause 12 has number 7" in m for m in msgs), msgs


def test_chinese_messages():
    b = valid_licence()
    b.holder("另一家公司有限公司", person=None)
    results = check(b.g, lang="zh")
    assert any(r.message == "许可证必须有且仅有一个持证公司。" for r in results)


def test_every_shape_has_english_and_chinese_messages():
    from rdflib.namespace import SH

    from kg.shapes import shapes_graph

    g = shapes_graph()
    constraints = set(g.subjects(RDF.type, SH.PropertyShape)) | set(g.subjects(RDF.type, SH.SPARQLConstraint))
    assert len(constraints) > 60
    for s in constraints:
        langs = {m.language for m in g.objects(s, SH.message)}
        assert {"en", "zh"} <= langs, s
        # kg.shapes tells filled-in (untagged) messages apart by the Chinese full stop
        for m in g.objects(s, SH.message):
            assert str(m).endswith("。") == (m.language == "zh"), m


def test_validation_is_fast_enough():
    import time

    b = valid_licence()
    validate(b.g)  # warm-up: parsing shapes and vocabularies, SPARQL parser
    start = time.perf_counter()
    validate(b.g)
    assert time.perf_counter() - start < 2.0


def test_dates_helper_roundtrip():
    # guard the fixture itself: expiry minus 90 days is the renewal date used above
    assert dt.date(2029, 7, 25) - dt.timedelta(days=90) == dt.date(2029, 4, 26)


# --- the mapping's output conforms (hand-built certificates; the five real ones are tested with the parser) --


def _certificate(number: str, form: str, cls: str, province: str | None, authorisations: list, *,
                 websites: tuple = (), issue: dt.date | None = None, expiry: dt.date | None = None):
    from kg.models import (
        Certificate,
        Citation,
        Clause,
        Company,
        DateValue,
        Deadline,
        ExtractionIssue,
        LicenceNumber,
        NameVariant,
        Person,
        SourceDocument,
    )

    c9 = Clause(id="9", number=9, label="九、", text="……处置后的10个工作日内向电信主管部门上报。", modality=["duty"],
                deadlines=[Deadline(amount=10, unit="working_day", relation="within",
                                    anchor="illegal-information-handled", text="处置后的10个工作日内", line=55)],
                citations=[Citation(title="通信网络安全防护管理办法", order_no="工业和信息化部令第11号", line=55)],
                line=55, end_line=56)
    c12 = Clause(id="12", number=12, label="十二、", text="……应当提前90日向原发证机关提出续办申请。", modality=["duty"],
                 deadlines=[Deadline(amount=30, unit="day", relation="within", anchor="information-change",
                                     text="变更后30日内", line=60),
                            Deadline(amount=90, unit="day", relation="before", anchor="expiry", text="应当提前90日",
                                     line=61)],
                 line=60, end_line=61)
    c14 = Clause(id="14", number=14, label="十四、", text="你公司应当在每年第一季度参加经营许可证年报。", modality=["duty"],
                 deadlines=[Deadline(recurrence="annual", window="Q1", text="每年第一季度", line=64)],
                 line=64, end_line=64)
    c15 = Clause(id="15", number=15, label="十五、", text="你公司在经营某业务时应当遵守下列规定：",
                 governs_business_type=authorisations[0].business_type, line=66, end_line=66, children=[
                     Clause(id="15.1", number=1, label="（一）", text="你公司不得……", modality=["prohibition"],
                            line=67, end_line=68),
                     Clause(id="15.1a", number=None, label=None, text="补充段落。", line=69, end_line=69),
                     Clause(id="15.2", number=2, label="（二）", text="（适用于信息搜索查询服务）……",
                            applies_to_printed="信息搜索查询服务", applies_to=["B25-2"], label_repaired=True,
                            line=70, end_line=70),
                 ])
    issues = [ExtractionIssue(code="label-repaired", message="garbled label", line=70, severity="warning")]
    if expiry is None:
        issues.append(ExtractionIssue(code="date-unreadable", message="expiry unreadable", line=22, severity="error"))
    return Certificate(
        source=SourceDocument(file="x.txt", sha256="a" * 64, encoding="utf-8", size_bytes=9000, line_count=150),
        licence_number=LicenceNumber(
            printed=number, form=form, licence_class=cls, province_abbr="京" if province else None,
            province=province, first_issued_year=2019 if form != "ICP" else None, serial=number[-4:],
            scope="provincial" if province else "cross-regional",
            issuer="北京市通信管理局" if province else "工业和信息化部", issuer_code=province or "MIIT", line=3),
        company=Company(name="北京掌全通信息科技有限公司", line=7,
                        variants=[NameVariant(name="北京掌全通信信息科技有限公司", line=40)]),
        legal_representative=Person(name="蔡盛权", line=9),
        issue_date=DateValue(value=issue, printed="2024年 09月 10日" if issue else None, line=20),
        expiry_date=DateValue(value=expiry, printed="2029年 07月 25日" if expiry else "20■■年", line=22),
        authorisations=authorisations, websites=list(websites), clauses=[c9, c12, c14, c15],
        regulations_cited=["中华人民共和国电信条例", "通信网络安全防护管理办法", "某未收录的管理办法"],
        issues=issues,
    )


def mapped_examples():
    from kg.models import Authorisation, CoverageEntry, Website

    cross = _certificate("B1-20195402", "B1", "B1", None, [
        Authorisation(business_type="B11", business_type_printed="互联网数据中心业务", coverage_text="机房所在地为北京、广州",
                      coverage=[CoverageEntry(printed="北京", region="11", city="北京"),
                                CoverageEntry(printed="广州", region="44", city="广州")],
                      coverage_kind="machine-room locations", coverage_printed=True, line=12, coverage_line=13),
        Authorisation(business_type="B13", business_type_printed="国内互联网虚拟专用网业务", coverage_text="全国",
                      coverage=[CoverageEntry(printed="全国", region="CN")], coverage_printed=True, line=14),
    ], issue=dt.date(2024, 9, 10), expiry=dt.date(2029, 7, 25))
    icp = _certificate("京ICP证020001号", "ICP", "B2", "11", [
        Authorisation(business_type="B25", business_type_printed="信息服务业务", limited_to=["B25-I"],
                      excludes=["B25-2", "B25-4"], coverage=[CoverageEntry(printed="北京", region="11")],
                      coverage_printed=False, line=12),
    ], websites=(Website(name="空中信使", domains=["www.kongzhong.com", "www.kong.net"], server_location="北京",
                         access_provider="北京华夏雅库网络科技有限公司", line=90),))
    return {"cross-regional": cross, "icp-dates-unreadable": icp}


@pytest.mark.parametrize("name", ["cross-regional", "icp-dates-unreadable"])
def test_mapping_output_conforms(name):
    from kg.mapping import map_certificate

    mapped = map_certificate(mapped_examples()[name])
    conforms, messages = validate(mapped.all_triples)
    assert conforms, messages
    assert messages == []


def test_mapping_output_with_a_wrong_coverage_is_caught():
    from kg.mapping import map_certificate
    from kg.models import CoverageEntry

    cert = mapped_examples()["icp-dates-unreadable"]
    cert.authorisations[0].coverage.append(CoverageEntry(printed="上海", region="31"))
    conforms, messages = validate(map_certificate(cert).triples)
    assert not conforms
    assert any("issued in 北京市 covers 上海市" in m for m in messages), messages
