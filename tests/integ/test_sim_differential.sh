#!/usr/bin/env bash
# Differential test of a0sim's import validator against Auth0's official
# bulk-import JSON schema, judged by Debian's python3-jsonschema: a few
# thousand generated user records, most of them invalid in exactly one way
# that the schema can express, go through real import jobs; a0sim's
# verdict for each record (failed with an entry in /errors, or inserted)
# must equal the schema's. Rules the schema cannot express (duplicates in
# the file, existing users) are checked at the end with their codes.
# Skips when ../shared or python3-jsonschema is absent.
set -euo pipefail
# shellcheck source=../lib.sh
source "${A0_SRC:-$(dirname "$0")/../..}/tests/lib.sh"

SCHEMA=${A0_SHARED:-$A0_SRC/../shared}/specs/auth0-bulk-import-user.schema.json
if [ ! -f "$SCHEMA" ] || ! python3 -c 'import jsonschema' 2>/dev/null; then
    echo "skipped: needs $SCHEMA and python3-jsonschema"
    a0_finish
    exit 0
fi

a0_start_sim diff --import-rate 0
TOK=$(curl -s "$DIFF_URL/oauth/token" -d grant_type=client_credentials \
    -d client_id=diff-client -d client_secret=diff-secret \
    --data-urlencode audience=https://diff.sim.local/api/v2/ | jq -r .access_token)
CONN=$(curl -s "$DIFF_URL/api/v2/connections" -H "Authorization: Bearer $TOK" | jq -r '.[0].id')

python3 - "$SCHEMA" "$DIFF_URL" "$TOK" "$CONN" "$A0_TMP" >"$A0_TMP/report.txt" <<'PY'
import copy, json, random, subprocess, sys, time
import jsonschema

schema_path, base, token, conn, tmp = sys.argv[1:6]
schema = json.load(open(schema_path))
validator = jsonschema.Draft7Validator(
    schema, format_checker=jsonschema.FormatChecker())
rng = random.Random(20240601)
B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

def rstr(chars, n):
    return "".join(rng.choice(chars) for _ in range(n))

def bcrypt():
    return "$2%s$10$%s" % (rng.choice("ab"), rstr(B64, 53))

# Valid custom hashes, each within the per-algorithm rules a0sim adds.
def custom_hash():
    alg = rng.choice(["md5", "sha1", "sha256", "sha512", "md4", "bcrypt",
                      "pbkdf2", "hmac", "scrypt", "argon2", "ldap"])
    if alg == "bcrypt":
        return {"algorithm": alg, "hash": {"value": bcrypt(), "encoding": "utf8"}}
    if alg == "pbkdf2":
        return {"algorithm": alg, "hash": {"value": "$pbkdf2-sha512$i=1000,l=64$%s$%s"
                % (rstr(B64[2:], 11), rstr(B64[2:], 86)), "encoding": "utf8"}}
    if alg == "argon2":
        return {"algorithm": alg, "hash": {"value": "$argon2id$v=19$m=65536,t=3,p=4$%s$%s"
                % (rstr(B64[2:], 22), rstr(B64[2:], 43))}}
    if alg == "ldap":
        return {"algorithm": alg, "hash": {"value": "{SSHA}" + rstr(B64[2:], 32)}}
    h = {"algorithm": alg, "hash": {"value": rstr("0123456789abcdef", 64),
                                    "encoding": rng.choice(["hex", "base64"])}}
    if alg == "hmac":
        h["hash"]["digest"] = rng.choice(["sha256", "sha1", "md5", "whirlpool"])
        h["hash"]["key"] = {"value": rstr(B32, 12), "encoding": "utf8"}
    if alg == "scrypt":
        h["keylen"] = rng.choice([32, 64, 32.0])
        h["cost"] = 16384
    if rng.random() < 0.5 and alg not in ("hmac",):
        h["salt"] = {"value": rstr(B32, 8),
                     "position": rng.choice(["prefix", "suffix"])}
    if rng.random() < 0.3:
        h["password"] = {"encoding": rng.choice(["utf8", "latin1", "utf16le"])}
    return h

def factors():
    out = []
    for _ in range(rng.randint(1, 10)):
        k = rng.choice(["totp", "phone", "email", "empty"])
        if k == "totp":
            out.append({"totp": {"secret": rstr(B32, 16)}})
        elif k == "phone":
            out.append({"phone": {"value": "+1" + rstr("0123456789", 10)}})
        elif k == "email":
            out.append({"email": {"value": "mfa%d@example.org" % rng.randint(0, 99)}})
        else:
            out.append({})
    return out

counter = [0]
def valid_user():
    counter[0] += 1
    n = counter[0]
    u = {"email": rng.choice(["u%d@example.test", "first.last+%d@mail.example.org",
                              "U%d@Sub.Example.COM"]) % n,
         "given_name": "g%d" % n}
    if rng.random() < 0.5: u["email_verified"] = rng.random() < 0.5
    if rng.random() < 0.3: u["phone_number"] = "+44%09d" % n
    if rng.random() < 0.2: u["phone_verified"] = True
    if rng.random() < 0.4: u["user_id"] = "id-%d" % n
    if rng.random() < 0.3: u["username"] = "un%d" % n
    if rng.random() < 0.3: u["family_name"] = rng.choice(["Smith", "Müller", "O'Hara"])
    if rng.random() < 0.3: u["name"] = "Name %d" % n
    if rng.random() < 0.3: u["nickname"] = "nick"
    if rng.random() < 0.2: u["picture"] = "https://example.test/p/%d.png" % n
    if rng.random() < 0.1: u["blocked"] = rng.random() < 0.5
    r = rng.random()
    if r < 0.25: u["password_hash"] = bcrypt()
    elif r < 0.5: u["custom_password_hash"] = custom_hash()
    if rng.random() < 0.3: u["app_metadata"] = {"plan": "pro", "roles": ["a", "b"], "n": n}
    if rng.random() < 0.3: u["user_metadata"] = {"prefs": {"theme": "dark"}, "list": [1, {"k": "v"}]}
    if rng.random() < 0.25: u["mfa_factors"] = factors()
    return u

def with_hash(u):
    u.pop("password_hash", None)
    u["custom_password_hash"] = custom_hash()
    return u

def with_factors(u, fs):
    u["mfa_factors"] = fs
    return u

# Each mutation breaks exactly one rule the schema states.
def m_drop_email(u):
    del u["email"]; return u
def m_key(k, v):
    def f(u):
        u[k] = v; return u
    return f
def m_hash(path, v):
    def f(u):
        h = with_hash(u)["custom_password_hash"]
        h.setdefault("hash", {})
        h.setdefault("salt", {"value": "s"})
        h.setdefault("hash", {}).setdefault("key", {"value": "k"})
        obj = h
        for p in path[:-1]:
            obj = obj.setdefault(p, {})
        if v is DELETE:
            obj.pop(path[-1], None)
        else:
            obj[path[-1]] = v
        return u
    return f
DELETE = object()
def m_factor(item):
    def f(u):
        fs = factors()
        fs[rng.randrange(len(fs))] = item
        return with_factors(u, fs)
    return f

mutations = [
    m_drop_email, m_key("email", 12345), m_key("email", "plainaddress"),
    m_key("email", None),
    m_key("identities", []), m_key("created_at", "2020-01-01"),
    m_key("logins_count", 3), m_key("foo", "bar"), m_key("multifactor", ["guardian"]),
    m_key("email_verified", "true"), m_key("phone_verified", 1),
    m_key("blocked", "no"), m_key("user_id", 123), m_key("username", True),
    m_key("given_name", 5), m_key("family_name", []), m_key("name", {}),
    m_key("nickname", 1.5), m_key("picture", False), m_key("phone_number", 15551234567),
    m_key("password_hash", 42), m_key("app_metadata", "x"), m_key("app_metadata", []),
    m_key("user_metadata", ["x"]), m_key("user_metadata", 7),
    m_key("custom_password_hash", "md5:abc"), m_key("mfa_factors", {"totp": {}}),
    m_key("mfa_factors", []), lambda u: with_factors(u, [{"totp": {"secret": "ABC"}}] * 11),
    m_hash(["algorithm"], DELETE), m_hash(["hash"], DELETE),
    m_hash(["algorithm"], "rot13"), m_hash(["algorithm"], "SHA256"),
    m_hash(["hash"], "abc"), m_hash(["hash", "encoding"], "base32"),
    m_hash(["hash", "digest"], "sha3"), m_hash(["hash", "key", "value"], DELETE),
    m_hash(["hash", "key", "encoding"], "ascii"), m_hash(["salt", "value"], DELETE),
    m_hash(["salt", "position"], "middle"), m_hash(["salt", "encoding"], "utf16"),
    m_hash(["password", "encoding"], "ebcdic"), m_hash(["keylen"], "32"),
    m_hash(["cost"], 1.5), m_hash(["blockSize"], "8"), m_hash(["parallelization"], []),
    m_hash(["iterations"], 1000), m_hash(["hash", "value"], 99),
    m_hash(["salt"], "pepper"), m_hash(["password"], "utf8"),
    m_factor("totp"), m_factor({"totp": {"secret": "JBSWY3DPEHPK3PN", "x": 1}}),
    m_factor({"totp": {"secret": "jbswy3dpehpk3pnp"}}),
    m_factor({"totp": {"secret": "JBSWY3DPEHPK3PNP===="}}), m_factor({"totp": {}}),
    m_factor({"totp": {"secret": 7}}),
    m_factor({"phone": {"value": "12125550001"}}),
    m_factor({"phone": {"value": "+1234567890123456"}}), m_factor({"phone": {}}),
    m_factor({"email": {"value": "nope"}}), m_factor({"email": {"value": "a@b.test", "y": 2}}),
    m_factor({"totp": {"secret": "JBSWY3DPEHPK3PNP"}, "phone": {"value": "+1555"}}),
    m_factor({"voice": {"value": "+15550001"}}), m_factor([]),
]

records = []
for i in range(2400):
    u = valid_user()
    if rng.random() < 0.6:
        u = rng.choice(mutations)(u)
        if "email" not in u or not isinstance(u.get("email"), str):
            u["given_name"] = "g-marker-%d" % i
    records.append(u)

def redact(u):
    u = copy.deepcopy(u)
    if not isinstance(u, dict):
        return u
    if "password_hash" in u: u["password_hash"] = "*****"
    c = u.get("custom_password_hash")
    if isinstance(c, dict):
        h = c.get("hash")
        if isinstance(h, dict):
            if "value" in h: h["value"] = "*****"
            k = h.get("key")
            if isinstance(k, dict) and "value" in k: k["value"] = "*****"
        s = c.get("salt")
        if isinstance(s, dict) and "value" in s: s["value"] = "*****"
    fs = u.get("mfa_factors")
    if isinstance(fs, list):
        for f in fs:
            t = f.get("totp") if isinstance(f, dict) else None
            if isinstance(t, dict) and "secret" in t: t["secret"] = "*****"
    return u

def key(u):
    return json.dumps(u, sort_keys=True)

def call(args):
    out = subprocess.run(["curl", "-s"] + args, capture_output=True, check=True)
    return out.stdout

sim_fail = set()
unmatched = 0
for start in range(0, len(records), 800):
    chunk = records[start:start + 800]
    path = "%s/chunk%d.json" % (tmp, start)
    json.dump(chunk, open(path, "w"))
    job = json.loads(call([base + "/api/v2/jobs/users-imports",
        "-H", "Authorization: Bearer " + token, "-F", "users=@%s;type=application/json" % path,
        "-F", "connection_id=" + conn, "-F", "send_completion_email=false"]))
    for _ in range(400):
        st = json.loads(call([base + "/api/v2/jobs/" + job["id"], "-H", "Authorization: Bearer " + token]))
        if st["status"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    errs = call([base + "/api/v2/jobs/%s/errors" % job["id"], "-H", "Authorization: Bearer " + token])
    errs = json.loads(errs) if errs else []
    index = {}
    for i, u in enumerate(chunk):
        index.setdefault(key(redact(u)), []).append(start + i)
    for e in errs:
        hit = index.get(key(e["user"]))
        if not hit:
            unmatched += 1
            continue
        sim_fail.add(hit.pop(0))
    print("job %s: %s, summary %s" % (job["id"], st["status"], json.dumps(st.get("summary"))))

disagree = []
schema_invalid = 0
for i, u in enumerate(records):
    bad = not validator.is_valid(u)
    schema_invalid += bad
    if bad != (i in sim_fail):
        msgs = [e.message for e in validator.iter_errors(u)][:2]
        disagree.append("record %d: schema %s, a0sim %s: %s %s" % (
            i, "invalid" if bad else "valid", "invalid" if i in sim_fail else "valid",
            json.dumps(redact(u))[:300], msgs))
print("records %d" % len(records))
print("schema_invalid %d" % schema_invalid)
print("sim_invalid %d" % len(sim_fail))
print("unmatched_error_entries %d" % unmatched)
print("disagreements %d" % len(disagree))
for d in disagree[:25]:
    print(d)
PY
cat "$A0_TMP/report.txt"
val() { sed -n "s/^$1 //p" "$A0_TMP/report.txt"; }
check "at least 2000 records" 1 "$(( $(val records) >= 2000 ? 1 : 0 ))"
check "many invalid records" 1 "$(( $(val schema_invalid) >= 1000 ? 1 : 0 ))"
check "every /errors entry matched its record" 0 "$(val unmatched_error_entries)"
check "a0sim and the schema agree on every record" 0 "$(val disagreements)"
check "same number invalid" "$(val schema_invalid)" "$(val sim_invalid)"

# --- rules outside the schema ---------------------------------------------------------
AUTH=(-H "Authorization: Bearer $TOK")
cat >"$A0_TMP/rules.json" <<'JSON'
[{"email":"r1@example.test","username":"rone","user_id":"r1","phone_number":"+15550000001"},
 {"email":"r2@example.test","username":"RONE"},
 {"email":"r3@example.test","user_id":"r1"},
 {"email":"R1@example.test"},
 {"email":"r5@example.test","password_hash":"$2b$10$KIB5sWJ3SgFc3pbn7iIibOXSPpDaH6HKqsGE.u/npam9hRAxxytSO",
  "custom_password_hash":{"algorithm":"md5","hash":{"value":"abcd","encoding":"hex"}}},
 {"email":"r6@example.test","app_metadata":{"email_verified":true}},
 {"email":"r7@example.test","user_metadata":{"a":{"b$c":1}}},
 {"email":"r8@example.test","custom_password_hash":{"algorithm":"hmac","hash":{"value":"ab","encoding":"hex"}}},
 {"email":"r9@example.test","custom_password_hash":{"algorithm":"bcrypt","hash":{"value":"x","encoding":"hex"}}},
 {"email":"x5@","given_name":"stricter than the schema's format"}]
JSON
J=$(curl -s "$DIFF_URL/api/v2/jobs/users-imports" "${AUTH[@]}" -F "users=@$A0_TMP/rules.json" \
    -F "connection_id=$CONN" | jq -r .id)
a0_wait_for "curl -s $DIFF_URL/api/v2/jobs/$J -H 'Authorization: Bearer $TOK' | grep -q completed" 10
curl -s "$DIFF_URL/api/v2/jobs/$J/errors" "${AUTH[@]}" >"$A0_TMP/rules.out"
r() { jq -r "$1" "$A0_TMP/rules.out"; }
check "rules: failures" 9 "$(r length)"
check "username repeated in file" "DUPLICATED_USER|A user with this username was already provided." "$(r '.[0].errors[0] | "\(.code)|\(.message)"')"
check "user_id repeated in file" "A user with this user_id was already provided." "$(r '.[1].errors[0].message')"
check "e-mail repeated in file, other case" "A user with this email was already provided." "$(r '.[2].errors[0].message')"
check "exclusive hashes" "NOT_PASSED|custom_password_hash" "$(r '.[3].errors[0] | "\(.code)|\(.path)"')"
check "reserved app_metadata key" "NOT_PASSED|app_metadata.email_verified" "$(r '.[4].errors[0] | "\(.code)|\(.path)"')"
check "\$ in nested metadata key" "NOT_PASSED|user_metadata.a.b\$c" "$(r '.[5].errors[0] | "\(.code)|\(.path)"')"
check "hmac needs digest and key" "NOT_PASSED|custom_password_hash.hash" "$(r '.[6].errors[0] | "\(.code)|\(.path)"')"
check "bcrypt hash must be utf8" "NOT_PASSED|custom_password_hash.hash.encoding" "$(r '.[7].errors[0] | "\(.code)|\(.path)"')"
check "e-mail format stricter than the schema" "FORMAT|email" "$(r '.[8].errors[0] | "\(.code)|\(.path)"')"
cat >"$A0_TMP/existing.json" <<'JSON'
[{"email":"new1@example.test","phone_number":"+15550000001"},
 {"email":"new2@example.test","username":"rone"},
 {"email":"r1@example.test"}]
JSON
J=$(curl -s "$DIFF_URL/api/v2/jobs/users-imports" "${AUTH[@]}" -F "users=@$A0_TMP/existing.json" \
    -F "connection_id=$CONN" | jq -r .id)
a0_wait_for "curl -s $DIFF_URL/api/v2/jobs/$J -H 'Authorization: Bearer $TOK' | grep -q completed" 10
curl -s "$DIFF_URL/api/v2/jobs/$J/errors" "${AUTH[@]}" >"$A0_TMP/rules.out"
check "existing phone, username, e-mail" "DUPLICATED_USER DUPLICATED_USER DUPLICATED_USER" "$(r '[.[].errors[0].code] | join(" ")')"
J=$(curl -s "$DIFF_URL/api/v2/jobs/users-imports" "${AUTH[@]}" -F "users=@$A0_TMP/existing.json" \
    -F "connection_id=$CONN" -F upsert=true | jq -r .id)
a0_wait_for "curl -s $DIFF_URL/api/v2/jobs/$J -H 'Authorization: Bearer $TOK' | grep -q completed" 10
check "upsert: e-mail match updates, other matches conflict" '{"failed":2,"updated":1,"inserted":0,"total":3}' \
    "$(curl -s "$DIFF_URL/api/v2/jobs/$J" "${AUTH[@]}" | jq -c .summary)"
curl -s "$DIFF_URL/api/v2/jobs/$J/errors" "${AUTH[@]}" >"$A0_TMP/rules.out"
check "upsert conflict codes" "CONFLICT CONFLICT_USERNAME" "$(r '[.[].errors[0].code] | join(" ")')"

a0_finish
