"""Compare a parsed certificate with gold-shaped facts, key by key, as tests/gold/README.md describes.

Used by tests/test_synth.py for the round trip (generated facts → text →
kg.parser → facts) and, for the baseline, on the five gold samples, so that
synthetic and real certificates are scored by the same rules. The mapping of
the model onto the gold keys is the one of tests/test_parser_gold.py
(imported); this module adds a per-key verdict instead of an assertion.
"""

from __future__ import annotations

from typing import Any

# the gold test's own mapping of the model onto the gold keys, so that both are scored by the same rules
from test_parser_gold import _auth, _deadline, _gold_auth, _gold_deadline, norm

#: The keys compared, in gold order. ``clause_applies_to`` only where the facts have it.
KEYS = (
    "licence_number", "scope", "licence_class", "province", "issuer", "first_issued_year",
    "company", "legal_representative", "issue_date", "expiry_date", "dates_unreadable",
    "authorisations", "websites", "top_level_clauses", "child_clause_counts", "clause_applies_to",
    "clause_text_checks", "noise_absent", "deadlines", "regulations_cited", "company_name_variants",
)


def parsed_value(cert: Any, key: str, facts: dict) -> Any:
    """The parsed certificate's value for ``key``, in the gold shape (``facts`` selects clauses to look at)."""
    num = cert.licence_number
    if key in ("scope", "licence_class", "province", "issuer", "first_issued_year"):
        return getattr(num, key)
    if key == "licence_number":
        return num.printed
    if key == "company":
        return cert.company.name if cert.company else None
    if key == "legal_representative":
        return cert.legal_representative.name if cert.legal_representative else None
    if key in ("issue_date", "expiry_date"):
        v = getattr(cert, key).value
        return v.isoformat() if v else None
    if key == "dates_unreadable":
        return cert.dates_unreadable
    if key == "authorisations":
        return [_auth(a) for a in cert.authorisations]
    if key == "websites":
        return [{"name": w.name, "domains": w.domains, "server_location": w.server_location,
                 "access_provider": w.access_provider} for w in cert.websites]
    if key == "top_level_clauses":
        return [c.id for c in cert.clauses]
    if key == "child_clause_counts":
        return {c.id: sum(1 for ch in c.children if ch.number is not None) for c in cert.clauses if c.children}
    if key == "clause_applies_to":
        return {c.id: c.governs_business_type for c in cert.clauses if c.governs_business_type}
    if key == "regulations_cited":  # as the gold test: the same set, each title once
        titles = list(cert.regulations_cited)
        return sorted(set(titles)) if len(titles) == len(set(titles)) else titles
    if key == "company_name_variants":
        return [v.name for v in cert.company.variants] if cert.company else []
    if key == "deadlines":
        return {e["clause"]: sorted(set(map(_deadline, c.deadlines))) if (c := cert.clause(e["clause"])) else None
                for e in facts["deadlines"]}
    raise KeyError(key)


def compare_key(cert: Any, facts: dict, key: str) -> str | None:
    """None if ``key`` of the parsed certificate matches the facts, else a short description of the mismatch."""
    if key not in facts:
        return None
    want = facts[key]
    if key == "clause_text_checks":
        problems = []
        for check in want:
            clause = cert.clause(check["clause"])
            if clause is None:
                problems.append(f"clause {check['clause']} missing")
                continue
            text = norm(clause.text)
            problems += [f"{check['clause']} lacks {s!r}" for s in check.get("contains", []) if norm(s) not in text]
            problems += [f"{check['clause']} has {s!r}" for s in check.get("not_contains", []) if norm(s) in text]
        return "; ".join(problems) or None
    if key == "noise_absent":
        texts = [norm(c.text) for c in cert.all_clauses()]
        found = [n for n in want if any(norm(n) in t for t in texts)]
        return f"noise kept: {found}" if found else None
    got = parsed_value(cert, key, facts)
    if key == "authorisations":
        want = [_gold_auth(a) for a in want]
    elif key == "deadlines":
        want = {e["clause"]: sorted(set(map(_gold_deadline, e["deadlines"]))) for e in want}
    elif key == "clause_applies_to":
        got = {k: v for k, v in got.items() if k in want}
    elif key == "regulations_cited":
        want = sorted(set(want))
    return None if got == want else f"got {got!r}, want {want!r}"


def compare(cert: Any, facts: dict) -> dict[str, str | None]:
    """Every key: None (match) or the mismatch."""
    return {key: compare_key(cert, facts, key) for key in KEYS if key in facts}
