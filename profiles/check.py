#!/usr/bin/env python3
"""Compare our UK Core definitions (profiles/uk-core) with the official UK Core files.

Development aid only: the real agreement test is a C++ test that validates the official examples
against both sets. This script compares the keys that can change a validation verdict and ignores
what we drop on purpose (narrative, definitions, comments, mappings, copyright, contacts, dates,
binding descriptions, expansion bookkeeping, our own short phrases and descriptions).

Usage: profiles/check.py [REFERENCE_DIR [OURS_DIR]]
  REFERENCE_DIR  the official UK Core JSON (default: ../shared/ukcore next to the repository)
  OURS_DIR       our definitions (default: profiles/uk-core)
Prints one line per difference and exits 1 if there is any.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_REF = HERE.parent.parent / "shared" / "ukcore"
DEFAULT_OURS = HERE / "uk-core"

PUBLISHER = "Shared care record project"
FIVE = ["Patient", "MedicationStatement", "AllergyIntolerance", "Observation", "Consent"]

# Top-level keys we allow in our files, per resource type.
COMMON_TOP = {"resourceType", "id", "url", "version", "name", "status", "publisher", "description"}
ALLOWED_TOP = {
    "StructureDefinition": COMMON_TOP | {"fhirVersion", "kind", "abstract", "context", "contextInvariant", "type",
                                         "baseDefinition", "derivation", "differential"},
    "ValueSet": COMMON_TOP | {"immutable", "compose", "expansion"},
    "CodeSystem": COMMON_TOP | {"caseSensitive", "valueSet", "hierarchyMeaning", "compositional", "versionNeeded",
                                "content", "supplements", "count", "property", "concept"},
}
# Top-level keys that must equal the official ones.
SAME_TOP = {
    "StructureDefinition": ["resourceType", "id", "url", "version", "name", "status", "fhirVersion", "kind", "abstract",
                            "type", "baseDefinition", "derivation", "contextInvariant"],
    "ValueSet": ["resourceType", "id", "url", "version", "name", "status", "immutable"],
    "CodeSystem": ["resourceType", "id", "url", "version", "name", "status", "caseSensitive", "valueSet",
                   "hierarchyMeaning", "compositional", "versionNeeded", "content", "supplements", "count"],
}
# ElementDefinition keys that matter for validation (plus mustSupport, kept as documentation).
ELEMENT_KEYS = ["path", "sliceName", "sliceIsConstraining", "slicing", "min", "max", "contentReference", "type",
                "maxLength", "condition", "constraint", "mustSupport", "isModifier", "binding"]
VALUE_PREFIXES = ("fixed", "pattern", "minValue", "maxValue")
ALLOWED_ELEMENT = {"id", "short", "isModifierReason"} | set(ELEMENT_KEYS)
UNCLOSED = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed"


class Report:
    def __init__(self):
        self.lines = []

    def diff(self, where, message):
        self.lines.append(f"{where}: {message}")


def load_dir(folder, skip=("examples",)):
    """All JSON resources under folder (recursively), as (path, resource)."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        if any(part in skip for part in path.relative_to(folder).parts[:-1]):
            continue
        with open(path, encoding="utf-8") as f:
            out.append((path, json.load(f)))
    return out


# ---------------------------------------------------------------- normalisation

def norm_type(t):
    return {k: t[k] for k in ("code", "profile", "targetProfile", "aggregation", "versioning") if k in t}


def norm_element(e):
    """The validation-relevant content of an ElementDefinition."""
    n = {}
    for k in ELEMENT_KEYS:
        if k not in e:
            continue
        v = e[k]
        if k == "slicing":
            v = {"discriminator": [{"type": d["type"], "path": d["path"]} for d in v.get("discriminator", [])],
                 **{x: v[x] for x in ("ordered", "rules") if x in v}}
        elif k == "type":
            v = [norm_type(t) for t in v]
        elif k == "binding":
            v = {x: v[x] for x in ("strength", "valueSet") if x in v}
        elif k == "constraint":
            # human may be reworded: only its presence is compared
            v = [{**{x: c[x] for x in ("key", "severity", "expression") if x in c}, "human": bool(c.get("human"))}
                 for c in v]
        n[k] = v
    for k, v in e.items():
        if k.startswith(VALUE_PREFIXES):
            n[k] = v
    return n


def is_empty(normalised):
    return set(normalised) <= {"path"}


def norm_compose(compose, keep_display):
    n = {k: compose[k] for k in ("lockedDate", "inactive") if k in compose}
    for part in ("include", "exclude"):
        if part not in compose:
            continue
        items = []
        for inc in compose[part]:
            i = {k: inc[k] for k in ("system", "version", "valueSet") if k in inc}
            if "concept" in inc:
                i["concept"] = [{"code": c["code"], **({"display": c.get("display")} if keep_display else {})}
                                for c in inc["concept"]]
            if "filter" in inc:
                i["filter"] = [{k: f[k] for k in ("property", "op", "value")} for f in inc["filter"]]
            items.append(i)
        n[part] = items
    return n


def compose_has_display(compose):
    return any("display" in c for part in ("include", "exclude") for inc in compose.get(part, [])
               for c in inc.get("concept", []))


def norm_expansion(expansion):
    codes = set()

    def walk(contains):
        for c in contains:
            codes.add(tuple((k, c.get(k)) for k in ("system", "version", "code", "display", "inactive", "abstract")))
            walk(c.get("contains", []))

    walk(expansion.get("contains", []))
    unclosed = any(x.get("url") == UNCLOSED and x.get("valueBoolean") for x in expansion.get("extension", []))
    return {"total": expansion.get("total"), "unclosed": unclosed, "codes": codes}


def norm_concepts(concepts):
    return [{"code": c["code"], "display": c.get("display"),
             "property": [{k: v for k, v in p.items()} for p in c.get("property", [])],
             "concept": norm_concepts(c.get("concept", []))} for c in concepts]


# ---------------------------------------------------------------- comparisons

def compare_top(rep, where, ours, official):
    rt = ours["resourceType"]
    for k in SAME_TOP[rt]:
        if ours.get(k) != official.get(k):
            rep.diff(where, f"{k}: ours {ours.get(k)!r}, official {official.get(k)!r}")
    extra = set(ours) - ALLOWED_TOP[rt]
    if extra:
        rep.diff(where, f"keys we should not carry: {sorted(extra)}")
    if ours.get("publisher") != PUBLISHER:
        rep.diff(where, f"publisher is {ours.get('publisher')!r}")
    if not ours.get("description"):
        rep.diff(where, "no description")
    elif ours.get("description") == official.get("description"):
        rep.diff(where, "description copied from the official resource")


def compare_sd(rep, where, ours, official):
    ctx = lambda d: [{"type": c["type"], "expression": c["expression"]} for c in d.get("context", [])]
    if ctx(ours) != ctx(official):
        rep.diff(where, f"context: ours {ctx(ours)}, official {ctx(official)}")
    if "snapshot" in official:
        rep.diff(where, "the official resource has a snapshot: this checker only knows differentials")
    ours_els = ours.get("differential", {}).get("element", [])
    off_els = official.get("differential", {}).get("element", [])
    off_by_id = {e["id"]: e for e in off_els}
    ours_ids = [e.get("id") for e in ours_els]
    if len(set(ours_ids)) != len(ours_ids):
        rep.diff(where, "duplicate element ids")
    for e in ours_els:
        eid = e.get("id")
        ew = f"{where} {eid}"
        extra = set(e) - ALLOWED_ELEMENT - {k for k in e if k.startswith(VALUE_PREFIXES)}
        if extra:
            rep.diff(ew, f"keys we should not carry: {sorted(extra)}")
        if e.get("isModifier") and not e.get("isModifierReason"):
            rep.diff(ew, "isModifier true without isModifierReason")
        if eid not in off_by_id:
            rep.diff(ew, "element not in the official differential")
            continue
        o = off_by_id[eid]
        if e.get("short") and e.get("short") == o.get("short"):
            rep.diff(ew, "short copied from the official resource")
        a, b = norm_element(e), norm_element(o)
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                rep.diff(ew, f"{k}: ours {json.dumps(a.get(k))}, official {json.dumps(b.get(k))}")
    # Every official element with validation content must be present, in the same order.
    present = set(ours_ids)
    for o in off_els:
        if o["id"] not in present and not is_empty(norm_element(o)):
            rep.diff(f"{where} {o['id']}", f"missing element: {json.dumps(norm_element(o))}")
    expected_order = [o["id"] for o in off_els if o["id"] in present]
    if [i for i in ours_ids if i in off_by_id] != expected_order:
        rep.diff(where, "elements are not in the official order")


def compare_vs(rep, where, ours, official):
    keep_display = compose_has_display(ours.get("compose", {}))
    a = norm_compose(ours.get("compose", {}), keep_display)
    b = norm_compose(official.get("compose", {}), keep_display)
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x == y:
            continue
        if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y)):
                if p != q:
                    rep.diff(where, f"compose.{k}[{i}]: ours {json.dumps(p)}, official {json.dumps(q)}")
        else:
            rep.diff(where, f"compose.{k}: ours {json.dumps(x)}, official {json.dumps(y)}")
    if ("expansion" in ours) != ("expansion" in official):
        rep.diff(where, f"expansion: ours {'has' if 'expansion' in ours else 'has none'}, "
                        f"official {'has' if 'expansion' in official else 'has none'}")
    elif "expansion" in ours:
        a, b = norm_expansion(ours["expansion"]), norm_expansion(official["expansion"])
        for k in ("total", "unclosed"):
            if a[k] != b[k]:
                rep.diff(where, f"expansion {k}: ours {a[k]}, official {b[k]}")
        for c in sorted(a["codes"] - b["codes"], key=str):
            rep.diff(where, f"expansion code only in ours: {json.dumps({k: v for k, v in c if v is not None})}")
        for c in sorted(b["codes"] - a["codes"], key=str):
            rep.diff(where, f"expansion code missing: {json.dumps({k: v for k, v in c if v is not None})}")


def compare_cs(rep, where, ours, official):
    prop = lambda d: [{k: p[k] for k in ("code", "uri", "type") if k in p} for p in d.get("property", [])]
    if prop(ours) != prop(official):
        rep.diff(where, f"property: ours {prop(ours)}, official {prop(official)}")
    if "filter" in official:
        rep.diff(where, "the official code system defines filters: this checker does not compare them")
    a, b = norm_concepts(ours.get("concept", [])), norm_concepts(official.get("concept", []))
    if a != b:
        ac = {c["code"]: c for c in a}
        bc = {c["code"]: c for c in b}
        for code in sorted(set(ac) | set(bc)):
            if ac.get(code) != bc.get(code):
                rep.diff(where, f"concept {code}: ours {json.dumps(ac.get(code))}, official {json.dumps(bc.get(code))}")
        if [c["code"] for c in a] != [c["code"] for c in b] and set(ac) == set(bc):
            rep.diff(where, "concepts are not in the official order")


# ---------------------------------------------------------------- closure

def references(res):
    """Canonical URLs a resource depends on for validation."""
    refs = set()
    rt = res["resourceType"]
    if rt == "StructureDefinition":
        refs.add(res.get("baseDefinition"))
        for e in res.get("differential", {}).get("element", []):
            for t in e.get("type", []):
                refs.update(t.get("profile", []))
                refs.update(t.get("targetProfile", []))
            if "valueSet" in e.get("binding", {}):
                refs.add(e["binding"]["valueSet"])
    elif rt == "ValueSet":
        for part in ("include", "exclude"):
            for inc in res.get("compose", {}).get(part, []):
                refs.add(inc.get("system"))
                refs.update(inc.get("valueSet", []))
    elif rt == "CodeSystem":
        refs.add(res.get("valueSet"))
        refs.add(res.get("supplements"))
    return {r.split("|")[0] for r in refs if r}


def example_references(example):
    """Extension URLs and code systems used in an example instance."""
    refs = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("extension", "modifierExtension") and isinstance(v, list):
                    refs.update(e["url"] for e in v if isinstance(e, dict) and "url" in e)
                elif k == "system" and isinstance(v, str):
                    refs.add(v)
                elif k == "meta" and isinstance(v, dict):
                    refs.update(v.get("profile", []))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(example)
    return refs


# ---------------------------------------------------------------- main

def main(argv):
    ref = Path(argv[1]) if len(argv) > 1 else DEFAULT_REF
    ours_dir = Path(argv[2]) if len(argv) > 2 else DEFAULT_OURS
    if not ref.is_dir() or not ours_dir.is_dir():
        print(f"usage: {argv[0]} [REFERENCE_DIR [OURS_DIR]] (missing {ref if not ref.is_dir() else ours_dir})",
              file=sys.stderr)
        return 2
    rep = Report()

    official = {}
    for path, res in load_dir(ref):
        if "url" in res and res.get("resourceType") in ALLOWED_TOP:
            official[res["url"]] = res

    ours = {}
    for path in sorted(ours_dir.glob("*.json")):
        where = path.name
        text = path.read_text(encoding="utf-8")
        try:
            res = json.loads(text)
        except ValueError as err:
            rep.diff(where, f"not JSON: {err}")
            continue
        if not text.endswith("}\n") or not text.startswith("{\n  \""):
            rep.diff(where, "not 2-space indented JSON with a trailing newline")
        rt = res.get("resourceType")
        if rt not in ALLOWED_TOP:
            rep.diff(where, f"unexpected resourceType {rt!r}")
            continue
        if path.name != f"{rt}-{res.get('id')}.json":
            rep.diff(where, f"file name should be {rt}-{res.get('id')}.json")
        if res.get("url") in ours:
            rep.diff(where, f"second definition of {res.get('url')}")
        ours[res.get("url")] = res
        off = official.get(res.get("url"))
        if off is None:
            rep.diff(where, f"no official resource with url {res.get('url')}")
            continue
        compare_top(rep, where, res, off)
        {"StructureDefinition": compare_sd, "ValueSet": compare_vs, "CodeSystem": compare_cs}[rt](rep, where, res, off)

    # The closure: every UK Core definition our definitions (or the official examples of the five
    # resource types) depend on must be ours too. HL7 definitions are the server's business.
    wanted = {f"https://fhir.hl7.org.uk/StructureDefinition/UKCore-{t}" for t in FIVE}
    for url in sorted(wanted - set(ours)):
        rep.diff("closure", f"missing profile {url}")
    seen, todo = set(), list(ours.values())
    while todo:
        res = todo.pop()
        for url in references(res):
            if url in seen:
                continue
            seen.add(url)
            if url in official and url not in ours:
                rep.diff("closure", f"{res['url']} needs {url}, which is official but not ours")
            if url in ours:
                todo.append(ours[url])
    examples = ref / "examples"
    if examples.is_dir():
        for path in sorted(examples.glob("*.json")):
            ex = json.loads(path.read_text(encoding="utf-8"))
            if ex.get("resourceType") not in FIVE:
                continue
            for url in sorted(example_references(ex)):
                if url in official and url not in ours:
                    rep.diff("closure", f"example {path.name} uses {url}, which is official but not ours")

    for line in rep.lines:
        print(line)
    counts = {}
    for res in ours.values():
        counts[res["resourceType"]] = counts.get(res["resourceType"], 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    print(f"checked {len(ours)} definitions ({summary}) against {ref}: {len(rep.lines)} differences")
    return 1 if rep.lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
