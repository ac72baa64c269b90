"""Map a parsed :class:`~kg.models.Certificate` to RDF under the licence-kg ontology.

Design choices an analyst relies on:

* one named graph per certificate, whose IRI depends only on the licence
  number, so re-ingesting a certificate replaces its graph;
* flat, readable, deterministic IRIs (``…/id/clause/B1-20195402_15.13``):
  re-mapping the same certificate gives the identical graph, there are no
  blank nodes, and serialisers do not degrade on per-licence IRI paths;
* clause wordings are stored once per position, as templates keyed by the
  clause id and the normalised text, in a shared graph: "which licences
  carry this wording as clause 12" is one lookup, the same wording at any
  position shares its ``lic:wordingKey``, and a national register does not
  repeat the same paragraph 10^5 times;
* due dates that follow from the expiry date are materialised as
  ``xsd:date`` here, because not every SPARQL engine can add durations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rdflib.namespace import DCTERMS as _DCTERMS
from rdflib.namespace import RDF as _RDF
from rdflib.namespace import RDFS as _RDFS
from rdflib.namespace import SKOS as _SKOS

from kg import namespaces as ns
from kg import reference
from kg.models import Certificate, Clause, Deadline
from kg.namespaces import ANCHOR_EVENTS, DEFAULT_DATA_BASE, VOCAB
from kg.rdfterms import Triple, boolean, date, duration, integer, plain, to_nquads, zh
from kg.text import canonical_wording


class _Cached:
    """A namespace whose terms are looked up once, then read as plain attributes.

    rdflib's namespace ``__getattr__`` costs microseconds per access; the mapping
    touches terms ~10^3 times per certificate. The first access still goes through
    the closed namespace, so a mistyped term raises as before.
    """

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> str:
        value = getattr(self._namespace, name)
        setattr(self, name, value)
        return value


LIC = _Cached(ns.LIC)
SCHEMA, ROV, ORG, FOAF, PROV, ELI = (_Cached(x) for x in (ns.SCHEMA, ns.ROV, ns.ORG, ns.FOAF, ns.PROV, ns.ELI))
RRMV, TIME, FREQ = (_Cached(x) for x in (ns.RRMV, ns.TIME, ns.FREQ))
RDF, RDFS, SKOS, DCTERMS = (_Cached(x) for x in (_RDF, _RDFS, _SKOS, _DCTERMS))

TEMPLATES_GRAPH = "graph/templates"
COMPANIES_GRAPH = "graph/companies"
_BT = str(VOCAB["business-type/"])


def _bt(code: str) -> str:
    """IRI of a catalogue concept (plain string concatenation: this runs ~10^2 times per certificate)."""
    return _BT + code

_RELATIONS = {"within": ns.LIC.Within, "before": ns.LIC.Before, "after": ns.LIC.After}


@dataclass
class MappedCertificate:
    """The RDF of one certificate: its own graph, plus triples about shared nodes.

    Clause templates and companies (holders, access providers) are shared across
    certificates: they go to one shared graph each instead of being repeated in
    every licence graph, so a union-graph query sees each such triple once and a
    national register does not store the same wording or name 10^5 times.
    """

    key: str
    graph: str
    triples: list[Triple]
    templates_graph: str
    template_triples: list[Triple] = field(default_factory=list)
    companies_graph: str = ""
    company_triples: list[Triple] = field(default_factory=list)

    def nquads(self) -> str:
        return to_nquads(self.triples, self.graph)

    def template_nquads(self) -> str:
        return to_nquads(self.template_triples, self.templates_graph)

    def company_nquads(self) -> str:
        return to_nquads(self.company_triples, self.companies_graph)

    @property
    def all_triples(self) -> list[Triple]:
        """Everything this certificate says, shared nodes included (for validation)."""
        return self.triples + self.template_triples + self.company_triples

    def shared(self, skip: set[str] | None = None) -> list[tuple[str, dict[str, str]]]:
        """(graph, {node IRI: its N-Quads}) for the shared graphs: written once per node.

        Nodes in ``skip`` are left out, and the nodes returned are added to it:
        a shared node's triples depend only on its IRI, so a caller that has
        handed a node over once need not serialise it again.
        """
        out = []
        for graph, triples in ((self.templates_graph, self.template_triples),
                               (self.companies_graph, self.company_triples)):
            by_node: dict[str, list[Triple]] = {}
            for triple in triples:
                if skip is None or triple[0] not in skip:
                    by_node.setdefault(triple[0], []).append(triple)
            if skip is not None:
                skip.update(by_node)
            out.append((graph, {node: to_nquads(ts, graph) for node, ts in by_node.items()}))
        return out


def licence_key(cert: Certificate) -> str:
    """Readable ASCII key of a licence: B1-20195402, BJ-B2-20240286, BJ-ICP-020001."""
    num = cert.licence_number
    prefix = ""
    if num.province:
        province = reference.load().provinces.get(num.province)
        prefix = (province.iso.split("-")[-1] if province else num.province) + "-"
    if num.form == "ICP":
        return f"{prefix}ICP-{num.serial}"
    year = f"{num.first_issued_year}" if num.first_issued_year else ""
    return f"{prefix}{num.form}-{year}{num.serial}"


@lru_cache(maxsize=8192)
def wording_key(text: str) -> str:
    """Key of a clause wording: a hash of its canonical form."""
    return hashlib.sha1(canonical_wording(text).encode("utf-8")).hexdigest()[:20]


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def licence_graph_iri(key: str, base: str = DEFAULT_DATA_BASE) -> str:
    return f"{base}graph/{key}"


class _Minter:
    def __init__(self, base: str, key: str) -> None:
        self.base = base
        self.key = key

    def __call__(self, kind: str, local: str | None = None) -> str:
        suffix = self.key if local is None else f"{self.key}_{local}"
        return f"{self.base}{kind}/{suffix}"


def map_certificate(cert: Certificate, base: str = DEFAULT_DATA_BASE) -> MappedCertificate:
    """Pure function: the same certificate always yields the same triples."""
    ref = reference.load()
    key = licence_key(cert)
    iri = _Minter(base, key)
    lic = iri("licence")
    t: list[Triple] = []
    add = t.append
    num = cert.licence_number

    # --- the licence and what its number encodes
    add((lic, RDF.type, LIC.Licence))
    add((lic, SCHEMA.identifier, plain(num.printed)))
    add((lic, RDFS.label, zh(num.printed)))
    add((lic, LIC.numberForm, plain(num.form)))
    add((lic, LIC.licenceClass, _bt(num.licence_class)))
    add((lic, LIC.scope, LIC.CrossRegional if num.scope == "cross-regional" else LIC.Provincial))
    add((lic, LIC.serialNumber, plain(num.serial)))
    if num.first_issued_year is not None:
        add((lic, LIC.firstIssuedYear, integer(num.first_issued_year)))
    if num.province:
        add((lic, LIC.issuingProvince, VOCAB["region/" + num.province]))
    add((lic, SCHEMA.issuedBy, VOCAB["authority/" + num.issuer_code]))
    _evidence(t, iri, lic, "licence_number", num.printed, num.line)

    # --- provenance
    src = cert.source
    doc = f"{base}document/{src.sha256}"
    activity = f"{base}parse/{src.sha256}"
    add((lic, PROV.wasDerivedFrom, doc))
    add((lic, PROV.wasGeneratedBy, activity))
    add((doc, RDF.type, LIC.SourceDocument))
    add((doc, LIC.sha256, plain(src.sha256)))
    add((doc, LIC.fileName, plain(src.file)))
    add((doc, LIC.encoding, plain(src.encoding)))
    add((doc, LIC.byteSize, integer(src.size_bytes)))
    add((doc, LIC.lineCount, integer(src.line_count)))
    add((activity, RDF.type, LIC.ParseActivity))
    add((activity, PROV.used, doc))
    add((activity, LIC.parserVersion, plain(cert.parser_version)))

    # --- holder and legal representative
    companies: list[Triple] = []
    company = None
    if cert.company is not None:
        company = f"{base}company/{_hash(cert.company.name)}"
        add((lic, LIC.holder, company))
        companies.append((company, RDF.type, LIC.Company))
        companies.append((company, ROV.legalName, zh(cert.company.name)))
        companies.append((company, RDFS.label, zh(cert.company.name)))
        _evidence(t, iri, lic, "company", cert.company.name, cert.company.line)
        for i, variant in enumerate(cert.company.variants, 1):
            add((lic, LIC.holderNameVariant, zh(variant.name)))
            _evidence(t, iri, lic, f"company_variant_{i}", variant.name, variant.line)
    if cert.legal_representative is not None:
        rep = cert.legal_representative
        person = f"{base}person/{_hash((cert.company.name if cert.company else key) + '|' + rep.name)}"
        add((lic, LIC.legalRepresentative, person))
        add((person, RDF.type, FOAF.Person))
        add((person, FOAF.name, zh(rep.name)))
        _evidence(t, iri, lic, "legal_representative", rep.name, rep.line)
        if company is not None:
            membership = iri("membership", "legal-representative")
            add((membership, RDF.type, ORG.Membership))
            add((membership, ORG.member, person))
            add((membership, ORG.organization, company))
            add((membership, ORG.role, LIC.LegalRepresentativeRole))

    # --- validity
    for field_name, value, prop in (
        ("issue_date", cert.issue_date, SCHEMA.validFrom),
        ("expiry_date", cert.expiry_date, SCHEMA.validUntil),
    ):
        if value.value is not None:
            add((lic, prop, date(value.value)))
        if value.printed is not None:
            _evidence(t, iri, lic, field_name, value.printed, value.line)

    # --- authorisations
    regions: set[str] = set()
    for auth in cert.authorisations:
        a = iri("authorisation", auth.business_type)
        add((lic, LIC.authorisation, a))
        add((a, RDF.type, LIC.Authorisation))
        add((a, LIC.businessType, _bt(auth.business_type)))
        for code in auth.limited_to:
            add((a, LIC.limitedTo, _bt(code)))
        for code in auth.excludes:
            add((a, LIC.excludes, _bt(code)))
        for entry in auth.coverage:
            region = VOCAB["region/" + entry.region]
            regions.add(region)
            add((a, LIC.coverage, region))
            if entry.city and entry.city in ref.cities:
                add((a, LIC.coverageCity, ref.cities[entry.city].iri))
        if auth.coverage_text:
            add((a, LIC.coverageText, zh(auth.coverage_text)))
        add((a, LIC.coveragePrinted, boolean(auth.coverage_printed)))
        add((a, LIC.coverageKind, plain(auth.coverage_kind)))
        add((a, LIC.sourceLine, integer(auth.line)))
    for region in sorted(regions):
        add((lic, SCHEMA.validIn, region))

    # --- appendix websites
    for i, site in enumerate(cert.websites, 1):
        w = iri("website", str(i))
        add((lic, LIC.appendixWebsite, w))
        add((w, RDF.type, LIC.Website))
        if site.name:
            add((w, SCHEMA.name, zh(site.name)))
        for d in site.domains:
            add((w, LIC.domain, plain(d)))
        if site.server_location:
            add((w, LIC.serverLocation, zh(site.server_location)))
        if site.access_provider:
            provider = f"{base}company/{_hash(site.access_provider)}"
            add((w, LIC.accessProvider, provider))
            companies.append((provider, RDF.type, LIC.Company))
            companies.append((provider, ROV.legalName, zh(site.access_provider)))
            companies.append((provider, RDFS.label, zh(site.access_provider)))
        add((w, LIC.sourceLine, integer(site.line)))

    # --- regulations cited anywhere on the certificate
    for title in cert.regulations_cited:
        add((lic, ELI.cites, _regulation(t, ref, base, title)))

    # --- clause tree
    templates: list[Triple] = []
    renewal_due: list[dt.date] = []
    for top in cert.clauses:
        _map_clause(t, templates, ref, iri, base, lic, top, None, cert, renewal_due)
    if renewal_due:
        add((lic, LIC.renewalApplicationDue, date(min(renewal_due))))

    # --- extraction issues
    for i, issue in enumerate(cert.issues, 1):
        node = iri("issue", str(i))
        add((lic, LIC.extractionIssue, node))
        add((node, RDF.type, LIC.ExtractionIssue))
        add((node, LIC.issueCode, plain(issue.code)))
        add((node, LIC.severity, plain(issue.severity)))
        add((node, LIC.message, plain(issue.message)))
        if issue.line is not None:
            add((node, LIC.sourceLine, integer(issue.line)))
        # its document is the licence's (prov:wasDerivedFrom above), as for clauses, authorisations and evidence

    return MappedCertificate(
        key=key,
        graph=licence_graph_iri(key, base),
        triples=t,
        templates_graph=base + TEMPLATES_GRAPH,
        template_triples=templates,
        companies_graph=base + COMPANIES_GRAPH,
        company_triples=sorted(set(companies)),
    )


def _evidence(t: list[Triple], iri: _Minter, lic: str, field_name: str, printed: str, line: int | None) -> None:
    node = iri("evidence", field_name.replace("_", "-"))
    t.append((lic, LIC.evidence, node))
    t.append((node, RDF.type, LIC.FieldEvidence))
    t.append((node, LIC.field, plain(field_name)))
    t.append((node, LIC.printedValue, zh(printed)))
    if line is not None:
        t.append((node, LIC.sourceLine, integer(line)))


def _regulation(t: list[Triple], ref: reference.Reference, base: str, title: str) -> str:
    known = ref.regulation_by_title(title)
    if known is not None:
        return known.iri
    # A title the vocabulary does not know yet: mint a stable IRI in the certificate graph
    # so the citation is queryable; the vocabulary can adopt it later.
    node = f"{base}regulation/{_hash(title)}"
    t.append((node, RDF.type, ELI.LegalResource))
    t.append((node, ELI.title, zh(title)))
    t.append((node, SKOS.prefLabel, zh(title)))
    return node


def _map_clause(
    t: list[Triple],
    templates: list[Triple],
    ref: reference.Reference,
    iri: _Minter,
    base: str,
    lic: str,
    clause: Clause,
    parent: str | None,
    cert: Certificate,
    renewal_due: list[dt.date],
) -> None:
    add = t.append
    c = iri("clause", clause.id)
    add((lic, LIC.clause, c))
    add((c, RDF.type, LIC.Clause))
    add((c, LIC.clauseId, plain(clause.id)))
    # Compact model: the position is in the id and a well-printed label follows from it, so the
    # printed label is kept only where OCR garbled it (a register holds ~50 clauses per licence).
    if clause.label_repaired:
        add((c, LIC.labelRepaired, boolean(True)))
        if clause.label is not None:
            add((c, LIC.printedLabel, zh(clause.label)))
    if parent is not None:
        add((c, LIC.parentClause, parent))
    key = wording_key(clause.text)
    # A template is a wording at a position: "how many licences print this wording as clause 12" is then a
    # count over one property (lic:template), not a join with every clause's id (12x faster at 10^4).
    tpl = f"{base}template/{clause.id}/{key}"
    add((c, LIC.template, tpl))
    templates.append((tpl, RDF.type, LIC.ClauseTemplate))
    templates.append((tpl, LIC.clausePosition, plain(clause.id)))
    templates.append((tpl, LIC.wordingKey, plain(key)))
    templates.append((tpl, LIC.text, zh(canonical_wording(clause.text))))
    # modality is read off the canonical wording (kg.clauses), so it is the template's, stored once with it
    for m in clause.modality:
        templates.append((tpl, LIC.modality, LIC.Duty if m == "duty" else LIC.Prohibition))
    if clause.applies_to_printed:
        add((c, LIC.appliesToPrinted, zh(clause.applies_to_printed)))
    for code in clause.applies_to:
        add((c, LIC.appliesToService, _bt(code)))
    if clause.governs_business_type:
        add((c, LIC.governsBusinessType, _bt(clause.governs_business_type)))
    for citation in clause.citations:
        add((c, ELI.cites, _regulation(t, ref, base, citation.title)))
    for i, deadline in enumerate(clause.deadlines, 1):
        d = iri("deadline", f"{clause.id}_{i}")
        add((c, LIC.deadline, d))
        _map_deadline(t, d, deadline, cert, renewal_due)
    add((c, LIC.sourceLine, integer(clause.line)))
    if clause.end_line != clause.line:  # compact: 87 % of clauses are printed on one line; absent means that
        add((c, LIC.endLine, integer(clause.end_line)))
    for child in clause.children:
        _map_clause(t, templates, ref, iri, base, lic, child, c, cert, renewal_due)


def _map_deadline(t: list[Triple], d: str, deadline: Deadline, cert: Certificate, renewal_due: list[dt.date]) -> None:
    add = t.append
    add((d, LIC.deadlineText, zh(deadline.text)))
    if deadline.line is not None:
        add((d, LIC.sourceLine, integer(deadline.line)))
    if deadline.recurrence is not None:
        add((d, RDF.type, LIC.RecurringWindow))
        add((d, DCTERMS.accrualPeriodicity, getattr(FREQ, deadline.recurrence)))
        add((d, LIC.window, plain(deadline.window or "")))
        return
    add((d, RDF.type, LIC.Deadline))
    assert deadline.amount is not None and deadline.unit is not None  # guaranteed by the model validator
    add((d, LIC.amount, integer(deadline.amount)))
    if deadline.unit == "day":
        add((d, LIC.unit, TIME.unitDay))
        add((d, RRMV.hasDuration, duration(f"P{deadline.amount}D")))
    else:
        add((d, LIC.unit, LIC.WorkingDay))
    if deadline.relation:
        add((d, LIC.relation, _RELATIONS[deadline.relation]))
    anchor = ANCHOR_EVENTS.get(deadline.anchor or "other", LIC.EventOther)
    add((d, LIC.anchorEvent, anchor))
    expiry = cert.expiry_date.value
    if deadline.anchor == "expiry" and expiry is not None and deadline.unit == "day":
        sign = -1 if deadline.relation == "before" else 1
        due = expiry + dt.timedelta(days=sign * deadline.amount)
        add((d, LIC.dueDate, date(due)))
        if deadline.relation == "before":
            renewal_due.append(due)
