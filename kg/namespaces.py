"""Closed Python namespaces for the licence-kg ontology.

``LIC`` is an rdflib ``DefinedNamespace`` with ``_fail = True``: using a term
that the ontology does not declare raises at import/use time instead of
silently minting a new IRI. ``tests/test_ontology.py`` checks that the term
list below equals the terms declared in ``ontology/core.ttl``.
"""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

BASE = "https://w3id.org/licence-kg/"
DEFAULT_DATA_BASE = BASE + "id/"
VOCAB = Namespace(BASE + "vocab/")
ELI_BASE = BASE + "eli/cn/"

SCHEMA = Namespace("https://schema.org/")
ROV = Namespace("http://www.w3.org/ns/regorg#")
ORG = Namespace("http://www.w3.org/ns/org#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
PROV = Namespace("http://www.w3.org/ns/prov#")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
RRMV = Namespace("http://data.europa.eu/2qy/rrmv#")
TIME = Namespace("http://www.w3.org/2006/time#")
FREQ = Namespace("http://purl.org/cld/freq/")
SH = Namespace("http://www.w3.org/ns/shacl#")


class LIC(DefinedNamespace):
    """Terms of ``ontology/core.ttl`` (prefix ``lic:``)."""

    _fail = True
    _NS = Namespace(BASE + "def#")

    # --- classes
    Licence: URIRef
    Company: URIRef
    Authorisation: URIRef
    Website: URIRef
    Clause: URIRef
    ClauseTemplate: URIRef
    Deadline: URIRef
    RecurringWindow: URIRef
    AnchorEvent: URIRef
    Modality: URIRef
    LicenceScope: URIRef
    FieldEvidence: URIRef
    SourceDocument: URIRef
    ParseActivity: URIRef
    ExtractionIssue: URIRef
    Region: URIRef
    Province: URIRef
    City: URIRef
    IssuingAuthority: URIRef
    BusinessType: URIRef
    ServiceItem: URIRef
    LicenceClassConcept: URIRef
    NonRegulationTitle: URIRef

    # --- datatypes of notations
    GBT2260: URIRef
    ISO3166_1: URIRef
    ISO3166_2: URIRef

    # --- licence
    numberForm: URIRef
    licenceClass: URIRef
    scope: URIRef
    issuingProvince: URIRef
    firstIssuedYear: URIRef
    serialNumber: URIRef
    holder: URIRef
    holderNameVariant: URIRef
    legalRepresentative: URIRef
    authorisation: URIRef
    appendixWebsite: URIRef
    clause: URIRef
    renewalApplicationDue: URIRef
    evidence: URIRef
    extractionIssue: URIRef

    # --- authorisation
    businessType: URIRef
    limitedTo: URIRef
    excludes: URIRef
    coverage: URIRef
    coverageCity: URIRef
    coverageText: URIRef
    coveragePrinted: URIRef
    coverageKind: URIRef

    # --- website
    domain: URIRef
    serverLocation: URIRef
    accessProvider: URIRef

    # --- clause
    clauseId: URIRef
    clauseNumber: URIRef
    printedLabel: URIRef
    labelRepaired: URIRef
    parentClause: URIRef
    template: URIRef
    appliesToService: URIRef
    appliesToPrinted: URIRef
    governsBusinessType: URIRef
    modality: URIRef
    deadline: URIRef
    text: URIRef
    clausePosition: URIRef
    wordingKey: URIRef

    # --- deadline
    amount: URIRef
    unit: URIRef
    relation: URIRef
    anchorEvent: URIRef
    dueDate: URIRef
    window: URIRef
    deadlineText: URIRef

    # --- provenance and evidence
    field: URIRef
    printedValue: URIRef
    sourceLine: URIRef
    endLine: URIRef
    sha256: URIRef
    fileName: URIRef
    encoding: URIRef
    byteSize: URIRef
    lineCount: URIRef
    parserVersion: URIRef
    issueCode: URIRef
    severity: URIRef
    message: URIRef

    # --- vocabulary properties
    catalogueLevel: URIRef
    licenceAbbreviation: URIRef
    communicationsAdministration: URIRef
    jurisdiction: URIRef
    regulationKind: URIRef
    enactedBy: URIRef
    orderNumber: URIRef

    # --- individuals
    CrossRegional: URIRef
    Provincial: URIRef
    Duty: URIRef
    Prohibition: URIRef
    Within: URIRef
    Before: URIRef
    After: URIRef
    WorkingDay: URIRef
    LegalRepresentativeRole: URIRef
    EventExpiry: URIRef
    EventCompanyDecision: URIRef
    EventInformationChange: URIRef
    EventLicenceGranted: URIRef
    EventAssessmentCompleted: URIRef
    EventIllegalInformationHandled: URIRef
    EventOther: URIRef

    # --- compliance: terms of ontology/compliance.ttl (findings of kg check, rule catalogue)
    Finding: URIRef
    ComplianceRule: URIRef
    rule: URIRef
    ruleId: URIRef
    ruleKind: URIRef
    restsOn: URIRef
    findingStatus: URIRef
    concernsLicence: URIRef
    concernsClause: URIRef
    evidenceNode: URIRef
    evidenceLine: URIRef
    quotedValue: URIRef
    findingSeverity: URIRef
    findingMessage: URIRef
    asOf: URIRef
    dueBy: URIRef


#: Anchor keys the parser emits (``Deadline.anchor``) and the event individuals they map to.
ANCHOR_EVENTS: dict[str, URIRef] = {
    "expiry": LIC.EventExpiry,
    "company-decision": LIC.EventCompanyDecision,
    "information-change": LIC.EventInformationChange,
    "licence-granted": LIC.EventLicenceGranted,
    "assessment-completed": LIC.EventAssessmentCompleted,
    "illegal-information-handled": LIC.EventIllegalInformationHandled,
    "other": LIC.EventOther,
}
