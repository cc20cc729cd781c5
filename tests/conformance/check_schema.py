#!/usr/bin/env python3
"""Compares the local validator's verdicts with the official schema.

Reads conformance_gen lines from stdin
(CLASS, LABEL, VERDICT, CODE, PATH, RECORD, tab-separated), validates each
record with jsonschema's Draft 7 validator (the schema declares no draft)
and an e-mail format checker, and fails on any disagreement:

- "valid" and "schema" records: the local verdict must equal the schema's,
  and when both refuse, the local (code, path) must be one the schema
  reports too;
- "rule" records break a rule Auth0 documents beside the schema: the schema
  must accept them and the local validator must refuse them.

The e-mail checker implements the format a0migrate documents (validate.h):
one '@'; a local part of 1 to 64 bytes of dot-atom characters (UTF-8
allowed, no quoted forms); a domain of at least two labels of 1 to 63
bytes of letters, digits, '-' (not at either end) or UTF-8, the last one
alphabetic (2 or more) or an "xn--" label; at most 254 bytes in all.
"""
import json
import re
import sys

import jsonschema

WIDE = "\u0080-\U0010FFFF"  # any non-ASCII character
ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~" + WIDE + "]+$")
LABEL = re.compile("^[A-Za-z0-9" + WIDE + "]"
                   "([A-Za-z0-9\\-" + WIDE + "]*[A-Za-z0-9" + WIDE + "])?$")
TLD = re.compile("^([A-Za-z" + WIDE + "]{2,}|xn--[A-Za-z0-9\\-]+)$")


def utf8_len(s):
    return len(s.encode("utf-8", "surrogatepass"))


def is_email(value):
    if not isinstance(value, str):
        return True  # formats apply to strings only
    if utf8_len(value) > 254 or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if not 1 <= utf8_len(local) <= 64:
        return False
    if not all(part and ATEXT.match(part) for part in local.split(".")):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or utf8_len(domain) > 253:
        return False
    if not all(1 <= utf8_len(l) <= 63 and LABEL.match(l) for l in labels):
        return False
    return bool(TLD.match(labels[-1]))


CODES = {
    "type": "INVALID_TYPE",
    "enum": "ENUM_MISMATCH",
    "pattern": "PATTERN",
    "format": "FORMAT",
    "required": "OBJECT_REQUIRED",
    "additionalProperties": "OBJECT_ADDITIONAL_PROPERTIES",
    "minItems": "ARRAY_LENGTH_SHORT",
    "maxItems": "ARRAY_LENGTH_LONG",
    "maxProperties": "OBJECT_PROPERTIES_MAXIMUM",
}


def join(path):
    out = ""
    for p in path:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + p
    return out


def complaints(error):
    """(code, path) pairs in the local validator's terms: required and
    additionalProperties name the property, not the object."""
    code = CODES.get(error.validator, error.validator)
    base = list(error.absolute_path)
    if error.validator == "required":
        return [(code, join(base + [p])) for p in error.validator_value
                if p not in error.instance]
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        return [(code, join(base + [k])) for k in error.instance
                if k not in known]
    return [(code, join(base))]


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("email")(is_email)
    validator = jsonschema.Draft7Validator(schema, format_checker=checker)
    total = 0
    by_class = {}
    bad = []
    for line in sys.stdin:
        cls, label, verdict, code, path, text = line.rstrip("\n").split("\t", 5)
        record = json.loads(text)
        total += 1
        by_class[cls] = by_class.get(cls, 0) + 1
        errors = list(validator.iter_errors(record))
        found = set()
        for e in errors:
            found.update(complaints(e))
        local_ok = verdict == "1"
        schema_ok = not errors
        if cls == "rule":
            agree = schema_ok and not local_ok
        elif local_ok != schema_ok:
            agree = False
        else:
            agree = local_ok or (code, path) in found
        if not agree:
            bad.append((cls, label, local_ok, code, path, schema_ok,
                        sorted(found), text))
    print("%d records (%s)" % (total, ", ".join(
        "%s %d" % kv for kv in sorted(by_class.items()))))
    for cls, label, lok, code, path, sok, found, text in bad[:20]:
        print("DISAGREE [%s: %s] local %s %s %s; schema %s %s\n  %s" % (
            cls, label, "accepts" if lok else "refuses", code, path,
            "accepts" if sok else "refuses", found, text))
    if bad:
        print("%d disagreements" % len(bad))
        return 1
    if total < 2000:
        print("too few records: %d" % total)
        return 1
    print("local validator and official schema agree on every record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
