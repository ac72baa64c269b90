"""Reference facts (catalogue, regions, authorities, regulations) read from the ontology.

The SKOS vocabularies in ``ontology/vocab-*.ttl`` are the single source of
truth; this module reads them once per process into small frozen lookups, so
the parser can resolve names to codes without touching RDF on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import SKOS

ONTOLOGY_DIR = Path(__file__).resolve().parent.parent / "ontology"
LIC = "https://w3id.org/licence-kg/def#"
ELI_LEGAL_RESOURCE = URIRef("http://data.europa.eu/eli/ontology#LegalResource")


@dataclass(frozen=True)
class BusinessType:
    code: str
    name_zh: str
    name_en: str
    parent: str | None
    level: str
    alt_labels: tuple[str, ...]
    iri: str


@dataclass(frozen=True)
class Province:
    code: str  # GB/T 2260
    iso: str
    name_zh: str
    short_zh: str
    abbr: str
    name_en: str
    authority: str | None
    iri: str


@dataclass(frozen=True)
class City:
    name_zh: str
    name_en: str
    province: str
    iri: str


@dataclass(frozen=True)
class Regulation:
    title: str
    title_en: str
    order_no: str | None
    alt_titles: tuple[str, ...]
    iri: str


@dataclass(frozen=True, eq=False)
class Reference:
    business_types: dict[str, BusinessType]
    provinces: dict[str, Province]
    cities: dict[str, City]
    regulations: dict[str, Regulation]
    non_regulation_titles: frozenset[str]

    def business_type_by_name(self, name: str) -> BusinessType | None:
        """Resolve a printed business-type or service-item name to the catalogue."""
        return _names(self).get(name)

    def province_by_abbr(self, abbr: str) -> Province | None:
        return next((p for p in self.provinces.values() if p.abbr == abbr), None)

    def province_by_name(self, name: str) -> Province | None:
        """Full name (北京市), short name (北京) or licence abbreviation (京)."""
        for p in self.provinces.values():
            if name in (p.name_zh, p.short_zh, p.code, p.iso):
                return p
        return None

    def regulation_by_title(self, title: str) -> Regulation | None:
        for r in self.regulations.values():
            if title == r.title or title in r.alt_titles:
                return r
        return None


@cache
def _names(ref: Reference) -> dict[str, BusinessType]:
    out: dict[str, BusinessType] = {}
    for bt in ref.business_types.values():
        out[bt.name_zh] = bt
        for alt in bt.alt_labels:
            out[alt] = bt
    return out


def _lit(g: Graph, s: URIRef, p: URIRef, lang: str | None = None, datatype: str | None = None) -> str | None:
    for o in g.objects(s, p):
        if not isinstance(o, Literal):
            continue
        if lang is not None and o.language != lang:
            continue
        if datatype is not None and str(o.datatype) != datatype:
            continue
        return str(o)
    return None


def _local(iri: URIRef) -> str:
    return str(iri).rsplit("/", 1)[-1]


@lru_cache(maxsize=1)
def load(ontology_dir: Path = ONTOLOGY_DIR) -> Reference:
    """Read the vocabularies once; cached for the life of the process."""
    g = Graph()
    for name in ("vocab-business-types.ttl", "vocab-regions.ttl", "vocab-authorities.ttl", "vocab-regulations.ttl"):
        g.parse(ontology_dir / name, format="turtle")
    bts: dict[str, BusinessType] = {}
    for s in g.subjects(SKOS.inScheme, URIRef("https://w3id.org/licence-kg/vocab/business-types")):
        code = _lit(g, s, SKOS.notation) or _local(s)
        parent = next(iter(g.objects(s, SKOS.broader)), None)
        bts[code] = BusinessType(
            code=code,
            name_zh=_lit(g, s, SKOS.prefLabel, "zh") or code,
            name_en=_lit(g, s, SKOS.prefLabel, "en") or code,
            parent=_local(parent) if parent is not None else None,
            level=_lit(g, s, URIRef(LIC + "catalogueLevel")) or "",
            alt_labels=tuple(sorted(str(o) for o in g.objects(s, SKOS.altLabel))),
            iri=str(s),
        )
    provinces: dict[str, Province] = {}
    for s in g.subjects(RDF.type, URIRef(LIC + "Province")):
        code = _lit(g, s, SKOS.notation, datatype=LIC + "GBT2260") or _local(s)
        auth = next(iter(g.objects(s, URIRef(LIC + "communicationsAdministration"))), None)
        provinces[code] = Province(
            code=code,
            iso=_lit(g, s, SKOS.notation, datatype=LIC + "ISO3166_2") or "",
            name_zh=_lit(g, s, SKOS.prefLabel, "zh") or "",
            short_zh=_lit(g, s, SKOS.altLabel, "zh") or "",
            abbr=_lit(g, s, URIRef(LIC + "licenceAbbreviation")) or "",
            name_en=_lit(g, s, SKOS.prefLabel, "en") or "",
            authority=(_lit(g, auth, SKOS.prefLabel, "zh") if auth is not None else None),
            iri=str(s),
        )
    cities: dict[str, City] = {}
    for s in g.subjects(RDF.type, URIRef(LIC + "City")):
        name = _lit(g, s, SKOS.prefLabel, "zh") or ""
        province = next(iter(g.objects(s, SKOS.broader)))
        cities[name] = City(name, _lit(g, s, SKOS.prefLabel, "en") or "", _local(province), str(s))
    regulations: dict[str, Regulation] = {}
    for s in g.subjects(RDF.type, ELI_LEGAL_RESOURCE):
        title = _lit(g, s, SKOS.prefLabel, "zh") or ""
        regulations[title] = Regulation(
            title=title,
            title_en=_lit(g, s, SKOS.prefLabel, "en") or "",
            order_no=_lit(g, s, URIRef(LIC + "orderNumber")),
            alt_titles=tuple(sorted(str(o) for o in g.objects(s, SKOS.altLabel))),
            iri=str(s),
        )
    non_regs = frozenset(
        _lit(g, s, SKOS.prefLabel, "zh") or "" for s in g.subjects(RDF.type, URIRef(LIC + "NonRegulationTitle"))
    )
    return Reference(bts, provinces, cities, regulations, non_regs)
