"""Validated pydantic models of one parsed certificate.

These models are the contract between the parser and everything downstream
(RDF mapping, compliance rules, reports). Their JSON form is what
``kg parse --format json`` prints; its keys are documented in
``docs/json-format.md`` and must stay stable.

Every extracted value carries the 1-based line of the *original* decoded text
it came from (``line``), so that an analyst can always go back to the scan.
A value the parser could not read is ``None`` together with an
:class:`ExtractionIssue`; it is never guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PARSER_VERSION = "1.0.0"

Severity = Literal["error", "warning", "info"]
Scope = Literal["cross-regional", "provincial"]
LicenceClass = Literal["B1", "B2"]
NumberForm = Literal["B1", "B2", "ICP"]
Unit = Literal["day", "working_day"]
Relation = Literal["within", "before", "after"]
Modality = Literal["duty", "prohibition"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SourceDocument(_Model):
    """The file a certificate was read from: what provenance points back to."""

    file: str = Field(description="File name (no directory) as given to the parser")
    path: str | None = Field(default=None, description="Path as given, when parsed from a file")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    encoding: str = Field(description="Detected encoding: utf-8, utf-8-sig, gb18030, utf-16")
    size_bytes: int = Field(ge=0)
    line_count: int = Field(ge=0)


class ExtractionIssue(_Model):
    """A damaged or doubtful spot, reported instead of silently guessed or dropped."""

    code: str = Field(description="Stable kebab-case code, e.g. date-unreadable")
    message: str
    line: int | None = Field(default=None, ge=1)
    severity: Severity = "warning"


class LicenceNumber(_Model):
    """The licence number as printed and the facts its form encodes."""

    printed: str = Field(description="As printed, after normalisation, e.g. 京B2-20240286")
    form: NumberForm
    licence_class: LicenceClass
    province_abbr: str | None = Field(default=None, description="One-character abbreviation, e.g. 京")
    province: str | None = Field(default=None, description="GB/T 2260 code of the issuing province")
    first_issued_year: int | None = None
    serial: str
    scope: Scope
    issuer: str = Field(description="Issuing authority, derived from the number (no certificate prints it)")
    issuer_code: str = Field(description="MIIT, or the GB/T 2260 code of the provincial administration")
    line: int = Field(ge=1)


class NameVariant(_Model):
    name: str
    line: int = Field(ge=1)


class Company(_Model):
    name: str
    line: int = Field(ge=1)
    variants: list[NameVariant] = Field(
        default_factory=list,
        description="Other spellings of the holder found in the same certificate (a discrepancy)",
    )


class Person(_Model):
    name: str
    line: int = Field(ge=1)


class DateValue(_Model):
    """A printed date: ``value`` is None when the scan is unreadable."""

    value: dt.date | None = None
    printed: str | None = None
    line: int | None = Field(default=None, ge=1)


class CoverageEntry(_Model):
    """One printed place of a coverage line, resolved to a region code."""

    printed: str = Field(description="The place as printed, e.g. 广州 or 全国")
    region: str = Field(description="CN for 全国, else the GB/T 2260 province code")
    city: str | None = Field(default=None, description="The city, when a city was printed")


class Authorisation(_Model):
    """One business type the licence authorises, with its qualifiers and coverage."""

    business_type: str = Field(description="Catalogue code, e.g. B25")
    business_type_printed: str
    limited_to: list[str] = Field(default_factory=list, description="仅限…: catalogue codes")
    excludes: list[str] = Field(default_factory=list, description="不含…: catalogue codes")
    coverage_text: str | None = Field(default=None, description="Coverage as printed, None if not printed")
    coverage: list[CoverageEntry] = Field(default_factory=list)
    coverage_kind: Literal["regions", "machine-room locations"] = "regions"
    coverage_printed: bool = Field(description="False: not printed, derived from the issuer's province")
    line: int = Field(ge=1)
    coverage_line: int | None = Field(default=None, ge=1)


class Website(_Model):
    name: str | None = None
    domains: list[str] = Field(default_factory=list)
    server_location: str | None = None
    access_provider: str | None = None
    line: int = Field(ge=1)


class Deadline(_Model):
    """A time limit set by a clause.

    Either a period (``amount`` + ``unit``, counted ``within`` / ``before`` /
    ``after`` an ``anchor``) or a recurring window (``recurrence`` + ``window``).
    """

    amount: int | None = Field(default=None, ge=0)
    unit: Unit | None = None
    relation: Relation | None = None
    anchor: str | None = Field(
        default=None,
        description="Anchor event key (kg.namespaces.ANCHOR_EVENTS): expiry, company-decision, "
        "information-change, licence-granted, assessment-completed, illegal-information-handled, other",
    )
    recurrence: Literal["annual"] | None = None
    window: Literal["Q1", "Q2", "Q3", "Q4"] | None = None
    text: str = Field(description="The phrase the deadline was read from")
    line: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _period_or_window(self) -> Deadline:
        has_period = self.amount is not None and self.unit is not None
        has_window = self.recurrence is not None and self.window is not None
        if has_period == has_window:
            raise ValueError("a deadline is either a period (amount+unit) or a recurring window")
        return self


class Citation(_Model):
    """A regulation cited in 《》."""

    title: str
    order_no: str | None = Field(default=None, description="e.g. 工业和信息化部令第11号")
    article: str | None = Field(default=None, description="e.g. 第十五条")
    line: int | None = Field(default=None, ge=1)


class Clause(_Model):
    """One numbered provision of 特别规定事项 (or an unnumbered paragraph under one)."""

    id: str = Field(description="Dotted id: 15 or 15.13; unnumbered paragraphs get 15.11a")
    number: int | None = Field(description="Position among its siblings; None if unnumbered")
    label: str | None = Field(description="Label as printed (possibly OCR-garbled), e.g. 要十五、")
    label_repaired: bool = Field(default=False, description="The printed label was garbled and repaired")
    text: str = Field(description="Clause text without its label, rejoined across lines and pages")
    applies_to_printed: str | None = Field(default=None, description="The printed (适用于…) service")
    applies_to: list[str] = Field(default_factory=list, description="Catalogue codes of (适用于…)")
    governs_business_type: str | None = Field(
        default=None, description="For 你公司在经营X业务时… blocks: the catalogue code of X"
    )
    modality: list[Modality] = Field(default_factory=list)
    deadlines: list[Deadline] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    line: int = Field(ge=1, description="First line of the clause")
    end_line: int = Field(ge=1, description="Last line of the clause")
    children: list[Clause] = Field(default_factory=list)

    def walk(self) -> list[Clause]:
        """This clause and all its descendants, in document order."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


class Certificate(_Model):
    """One parsed licence certificate."""

    parser_version: str = PARSER_VERSION
    source: SourceDocument
    licence_number: LicenceNumber
    company: Company | None = None
    legal_representative: Person | None = None
    issue_date: DateValue = Field(default_factory=DateValue)
    expiry_date: DateValue = Field(default_factory=DateValue)
    authorisations: list[Authorisation] = Field(default_factory=list)
    websites: list[Website] = Field(default_factory=list)
    preamble: str | None = Field(default=None, description="The 《特别规定事项》是… paragraph")
    clauses: list[Clause] = Field(default_factory=list)
    regulations_cited: list[str] = Field(
        default_factory=list, description="Distinct regulation titles cited anywhere, in order of first citation"
    )
    issues: list[ExtractionIssue] = Field(default_factory=list)

    @property
    def dates_unreadable(self) -> bool:
        return self.issue_date.value is None or self.expiry_date.value is None

    def all_clauses(self) -> list[Clause]:
        """Every clause of the tree, in document order."""
        out: list[Clause] = []
        for clause in self.clauses:
            out.extend(clause.walk())
        return out

    def clause(self, clause_id: str) -> Clause | None:
        return next((c for c in self.all_clauses() if c.id == clause_id), None)
