"""Generate the SKOS vocabularies in ``ontology/`` from ``data/reference/*.csv``.

The CSVs are the public facts as delivered; the Turtle files are what the
project reads (the ontology is the single source of truth at run time).
Run ``python tools/build_vocab.py`` after editing a CSV; a test fails when the
committed Turtle is stale.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, SKOS

ROOT = Path(__file__).resolve().parent.parent
REF = ROOT / "data" / "reference"
OUT = ROOT / "ontology"

BASE = "https://w3id.org/licence-kg/"
LIC = Namespace(BASE + "def#")
VOC = Namespace(BASE + "vocab/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
SCHEMA = Namespace("https://schema.org/")

# English titles and ELI-style paths of the regulations: public facts the CSV lacks.
REGULATION_EN = {
    "中华人民共和国电信条例": ("Telecommunications Regulations of the People's Republic of China", "ar/telecommunications-regulations"),
    "互联网信息服务管理办法": ("Measures for the Administration of Internet Information Services", "ar/internet-information-services-measures"),
    "电信服务规范": ("Telecommunications Service Specification", "dr/telecommunications-service-specification"),
    "通信网络安全防护管理办法": ("Measures for the Administration of Communication Network Security Protection", "dr/miit-order-11"),
    "电信和互联网用户个人信息保护规定": ("Provisions on Protecting the Personal Information of Telecommunications and Internet Users", "dr/miit-order-24"),
    "外商投资电信企业管理规定": ("Provisions on the Administration of Foreign-Invested Telecommunications Enterprises", "ar/foreign-invested-telecommunications-enterprises"),
    "商用密码管理条例": ("Regulations on the Administration of Commercial Cryptography", "ar/commercial-cryptography-regulations"),
    "电子签名法": ("Electronic Signature Law of the People's Republic of China", "law/electronic-signature-law"),
}
NON_REGULATION_EN = {
    "电信业务市场综合管理信息系统": "Telecommunications Business Market Integrated Management Information System",
    "特别规定事项": "Special provisions (the certificate's own section title)",
}
KIND = {
    "administrative regulation": ("行政法规", "administrative regulation"),
    "departmental rule": ("部门规章", "departmental rule"),
    "law": ("法律", "law"),
}
ISSUER_EN = {
    "国务院": "State Council",
    "工业和信息化部": "Ministry of Industry and Information Technology",
    "全国人民代表大会常务委员会": "Standing Committee of the National People's Congress",
}


def _rows(name: str) -> list[dict[str, str]]:
    with (REF / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _graph() -> Graph:
    g = Graph()
    for prefix, ns in (("lic", LIC), ("skos", SKOS), ("eli", ELI), ("schema", SCHEMA), ("dcterms", DCTERMS),
                       ("owl", OWL), ("bt", VOC["business-type/"]), ("region", VOC["region/"]),
                       ("city", VOC["city/"]), ("authority", VOC["authority/"])):
        g.bind(prefix, ns)
    return g


def _scheme(g: Graph, iri: URIRef, zh: str, en: str, comment: str) -> None:
    g.add((iri, RDF.type, SKOS.ConceptScheme))
    g.add((iri, SKOS.prefLabel, Literal(zh, lang="zh")))
    g.add((iri, SKOS.prefLabel, Literal(en, lang="en")))
    g.add((iri, RDFS.label, Literal(zh, lang="zh")))
    g.add((iri, RDFS.label, Literal(en, lang="en")))
    g.add((iri, RDFS.comment, Literal(comment, lang="en")))


def _concept(g: Graph, iri: URIRef, scheme: URIRef, zh: str, en: str) -> None:
    g.add((iri, RDF.type, SKOS.Concept))
    g.add((iri, SKOS.inScheme, scheme))
    g.add((iri, SKOS.prefLabel, Literal(zh, lang="zh")))
    g.add((iri, SKOS.prefLabel, Literal(en, lang="en")))


def business_types() -> Graph:
    g = _graph()
    scheme = VOC["business-types"]
    _scheme(g, scheme, "电信业务分类目录（增值电信业务）", "Catalogue of telecommunications services (value-added part)",
            "The value-added part (B) of the MIIT catalogue of telecommunications services, 2015 edition. "
            "B25-I and the B25-n service items are the labels certificates print; their codes are this project's.")
    level_class = {"category": "Category", "class": "LicenceClassConcept", "type": "BusinessType",
                   "subtype": "BusinessType", "network-scope": "ServiceItem", "service-item": "ServiceItem"}
    for row in _rows("telecom-services-catalogue.csv"):
        iri = VOC["business-type/" + row["code"]]
        _concept(g, iri, scheme, row["name_zh"], row["name_en"])
        g.add((iri, SKOS.notation, Literal(row["code"])))
        g.add((iri, LIC.catalogueLevel, Literal(row["level"])))
        if level_class[row["level"]] != "Category":
            g.add((iri, RDF.type, LIC[level_class[row["level"]]]))
        if row["parent"]:
            g.add((iri, SKOS.broader, VOC["business-type/" + row["parent"]]))
        else:
            g.add((iri, SKOS.topConceptOf, scheme))
        note = row["note"]
        if note:
            g.add((iri, SKOS.scopeNote, Literal(note, lang="en")))
            # Alternative spellings certificates print are recorded as altLabels.
            for alt in re.findall(r"certificates also write (\S+)", note):
                g.add((iri, SKOS.altLabel, Literal(alt, lang="zh")))
    return g


def regions() -> Graph:
    g = _graph()
    scheme = VOC["regions"]
    _scheme(g, scheme, "覆盖范围地区", "Coverage regions",
            "全国 (nationwide) as top concept, the 34 provincial-level divisions (GB/T 2260 and ISO 3166-2 notations) "
            "and the cities that coverage lines name (IDC machine rooms), each narrower than its province.")
    cn = VOC["region/CN"]
    _concept(g, cn, scheme, "全国", "Nationwide (mainland China)")
    g.add((cn, RDF.type, LIC.Region))
    g.add((cn, SKOS.notation, Literal("CN", datatype=LIC.ISO3166_1)))
    g.add((cn, SKOS.topConceptOf, scheme))
    for row in _rows("provinces.csv"):
        iri = VOC["region/" + row["gb2260"]]
        _concept(g, iri, scheme, row["name_zh"], row["name_en"])
        g.add((iri, RDF.type, LIC.Region))
        g.add((iri, RDF.type, LIC.Province))
        g.add((iri, SKOS.notation, Literal(row["gb2260"], datatype=LIC.GBT2260)))
        g.add((iri, SKOS.notation, Literal(row["iso3166_2"], datatype=LIC.ISO3166_2)))
        g.add((iri, SKOS.altLabel, Literal(row["short_zh"], lang="zh")))
        g.add((iri, LIC.licenceAbbreviation, Literal(row["abbr"], lang="zh")))
        g.add((iri, SKOS.broader, cn))
        if row["authority_zh"]:
            g.add((iri, LIC.communicationsAdministration, VOC["authority/" + row["gb2260"]]))
    for row in _rows("cities.csv"):
        iri = VOC["city/" + _slug(row["name_en"])]
        _concept(g, iri, scheme, row["name_zh"], row["name_en"])
        g.add((iri, RDF.type, LIC.City))
        g.add((iri, SKOS.broader, VOC["region/" + row["province_gb2260"]]))
    return g


def authorities() -> Graph:
    g = _graph()
    scheme = VOC["authorities"]
    _scheme(g, scheme, "发证机关", "Issuing authorities",
            "The Ministry of Industry and Information Technology (cross-regional licences) and the provincial "
            "communications administrations (provincial licences).")
    miit = VOC["authority/MIIT"]
    _concept(g, miit, scheme, "工业和信息化部", "Ministry of Industry and Information Technology")
    g.add((miit, RDF.type, LIC.IssuingAuthority))
    g.add((miit, SKOS.notation, Literal("MIIT")))
    g.add((miit, SKOS.altLabel, Literal("我部", lang="zh")))
    g.add((miit, SKOS.topConceptOf, scheme))
    g.add((miit, LIC.jurisdiction, VOC["region/CN"]))
    for row in _rows("provinces.csv"):
        if not row["authority_zh"]:
            continue
        iri = VOC["authority/" + row["gb2260"]]
        _concept(g, iri, scheme, row["authority_zh"], f"{row['name_en']} Communications Administration")
        g.add((iri, RDF.type, LIC.IssuingAuthority))
        g.add((iri, SKOS.notation, Literal(row["gb2260"])))
        g.add((iri, SKOS.broader, miit))
        g.add((iri, LIC.jurisdiction, VOC["region/" + row["gb2260"]]))
    return g


def regulations() -> Graph:
    g = _graph()
    scheme = VOC["regulations"]
    _scheme(g, scheme, "引用的法律法规", "Cited regulations",
            "Laws, administrative regulations and departmental rules that certificates cite in 《》, with ELI-style "
            "IRIs, and the look-alike titles in 《》 that are not regulations.")
    for row in _rows("regulations.csv"):
        title = row["title_zh"]
        if row["kind"] == "NOT A REGULATION":
            iri = VOC["non-regulation/" + _slug(NON_REGULATION_EN[title])]
            _concept(g, iri, scheme, title, NON_REGULATION_EN[title])
            g.add((iri, RDF.type, LIC.NonRegulationTitle))
            g.add((iri, SKOS.scopeNote, Literal(row["note"], lang="en")))
            continue
        en, path = REGULATION_EN[title]
        iri = URIRef(BASE + "eli/cn/" + path)
        _concept(g, iri, scheme, title, en)
        g.add((iri, RDF.type, ELI.LegalResource))
        g.add((iri, ELI.title, Literal(title, lang="zh")))
        g.add((iri, ELI.title, Literal(en, lang="en")))
        zh_kind, en_kind = KIND[row["kind"]]
        g.add((iri, LIC.regulationKind, Literal(zh_kind, lang="zh")))
        g.add((iri, LIC.regulationKind, Literal(en_kind, lang="en")))
        if row["issuer_zh"]:
            g.add((iri, LIC.enactedBy, Literal(row["issuer_zh"], lang="zh")))
            g.add((iri, LIC.enactedBy, Literal(ISSUER_EN[row["issuer_zh"]], lang="en")))
        if row["order_no"]:
            g.add((iri, LIC.orderNumber, Literal(row["order_no"], lang="zh")))
            g.add((iri, ELI.id_local, Literal(row["order_no"])))
        m = re.match(r"full title (\S+)", row["note"])
        if m:
            g.add((iri, SKOS.altLabel, Literal(m.group(1), lang="zh")))
        elif row["note"]:
            g.add((iri, SKOS.scopeNote, Literal(row["note"], lang="en")))
    return g


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


FILES = {
    "vocab-business-types.ttl": business_types,
    "vocab-regions.ttl": regions,
    "vocab-authorities.ttl": authorities,
    "vocab-regulations.ttl": regulations,
}

HEADER = "# Generated by tools/build_vocab.py from data/reference/*.csv: edit the CSV, then rerun.\n"


def render(name: str) -> str:
    return HEADER + FILES[name]().serialize(format="turtle")


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in FILES:
        text = render(name)
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale: " + ", ".join(stale) + " (run python tools/build_vocab.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
