#!/usr/bin/env python3
"""Fills fuzz/corpus/<target>/ with seed inputs for the fuzz targets (Python 3 standard library).

Sources: the conformance corpus (tests/data/conformance/corpus.json: tokens, JWKS, PEM,
provider settings), tests/fixtures/x509 (PEM keys and certificates, tokens), the Envoy configs
under envoy/ (their embedded plugin JSON), the fuzz keys' tokens (fuzz/seeds/tokens.txt) and
the hand-written seeds below. Seed files are named by content hash, so running it again adds
nothing twice and never removes what the fuzzer found. The input layouts are documented on
each target's function in fuzz/harness.rs.
"""

import base64
import hashlib
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
CONFORMANCE = ROOT / "tests" / "data" / "conformance" / "corpus.json"
TARGETS = ["token", "jwks", "x509", "discovery", "config", "claim_headers", "matchers"]

seeds = {t: set() for t in TARGETS}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    seeds[target].add(data)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def nul(*parts):
    return b"\0".join(p.encode() if isinstance(p, str) else p for p in parts)


# ---- tokens: the fuzz keys' tokens, conformance tokens, fixture tokens
tokens = []
for line in (FUZZ / "seeds" / "tokens.txt").read_text().splitlines():
    if line and not line.startswith("#"):
        tokens.append(line.strip())
own_tokens = list(tokens)

corpus = []
if CONFORMANCE.exists():
    corpus = json.loads(CONFORMANCE.read_text())
else:
    print(f"seed: {CONFORMANCE} not found, conformance seeds skipped", file=sys.stderr)
for case in corpus:
    if case.get("token"):
        tokens.append(case["token"])
fixture_tokens = ROOT / "tests" / "fixtures" / "x509" / "tokens.json"
if fixture_tokens.exists():
    tokens.extend(v for v in json.loads(fixture_tokens.read_text()).values() if isinstance(v, str))

# first byte: bits 0-2 path (/api /admin /any /opt /missing /public), bits 3-4 location
# (Authorization, ?access_token, x-token, both headers), bit 6 sign HS256, bit 7 structured.
for token in own_tokens:
    for path in range(6):
        for location in range(4):
            add("token", bytes([path | location << 3]) + token.encode())
for token in tokens[len(own_tokens):]:
    for sel in (0, 2 | 2 << 3, 3 | 1 << 3):
        add("token", bytes([sel]) + token.encode())


def structured(header, payload, sel, sig=b"", client=None):
    parts = [json.dumps(header).encode(), json.dumps(payload).encode(), sig]
    if client is not None:
        parts.append(client.encode())
    add("token", bytes([0x80 | sel]) + b"\0".join(parts))


for token in tokens:
    try:
        h, p, s = token.split(".")
        header, payload = json.loads(b64url_decode(h)), json.loads(b64url_decode(p))
        sig = b64url_decode(s)
    except Exception:
        continue
    structured(header, payload, 0, sig)
    signed = dict(header, alg="HS256", kid="fuzz-hs256")
    structured(signed, payload, 0x40 | 0, client="app-1")
    structured(signed, payload, 0x40 | 1, client="app-1")

HS = {"alg": "HS256", "kid": "fuzz-hs256"}
MAIN = {"iss": "https://issuer.fuzz", "aud": "api://fuzz", "sub": "alice", "iat": 1700000000,
        "exp": 1700003600}
structured(HS, MAIN, 0x40 | 0)
structured(HS, dict(MAIN, aud=["x", "https://api://fuzz/"], nbf=1700000050), 0x40 | 0)
structured(HS, dict(MAIN, exp=1699999940.5), 0x40 | 0)
structured(HS, dict(MAIN, scope="read admin", realm_access={"roles": ["root"]}, azp="web"),
           0x40 | 1, client="web")
structured(HS, dict(MAIN, scp=["admin"], realm_access={"roles": "admin user"}, cid="c"),
           0x40 | 1, client="c")
structured(HS, dict(MAIN, email="a\u0001b", address={"street": "x" * 5000}), 0x40 | 0)
structured({"alg": "HS256", "kid": "fuzz-hs256", "typ": "application/AT+JWT"},
           {"iss": "https://other.fuzz", "sub": "user-7", "iat": 1700000000, "exp": 1700003600,
            "scope": "a b"}, 0x40 | 2 | 2 << 3)
structured({"alg": "HS256"}, {"iss": "https://login.fuzz/t2/v2.0", "tid": "t2"},
           0x40 | 2 | 1 << 3)
structured({"alg": "HS256"}, {"iss": "https://login.fuzz/t3/v2.0", "tid": "t3"},
           0x40 | 4 | 1 << 3)
structured({"alg": "HS256", "crit": ["b64"]}, MAIN, 0x40 | 3)
structured({"alg": "none"}, MAIN, 0)
structured({"alg": "EdDSA", "kid": "fuzz-eddsa"}, MAIN, 0, b"\0" * 63)

# ---- JWKS and PEM
x509_dir = ROOT / "tests" / "fixtures" / "x509"
pems = {p.name: p.read_text() for p in sorted(x509_dir.glob("*.pem"))}
jwks_texts = [(FUZZ / "keys" / "jwks.json").read_text(), (ROOT / "envoy" / "demo-jwks.json").read_text()]
for case in corpus:
    for key in ("jwks", "pem"):
        if case.get(key):
            jwks_texts.append(case[key])
jwks_texts.extend(pems.values())
jwks_texts.append("\n".join(pems[n] for n in pems if n.endswith(".pub.pem")))
certs = {n: t for n, t in pems.items() if n.endswith(".cert.pem")}
jwks_texts.append(json.dumps({n.split(".")[0]: t for n, t in certs.items()}))


def pem_der(text):
    body = re.search(r"-----BEGIN [^-]+-----(.*?)-----END", text, re.S)
    return base64.b64decode("".join(body.group(1).split())) if body else None


x5c_keys = []
for name, text in certs.items():
    der = pem_der(text)
    kty = "RSA" if name.startswith("rsa") else "OKP" if name.startswith("ed") else "EC"
    x5c_keys.append({"kty": kty, "kid": name, "x5c": [base64.b64encode(der).decode()]})
jwks_texts.append(json.dumps({"keys": x5c_keys}))
jwks_texts += [
    '{"keys": []}',
    '{"keys": [{"kty": "oct", "k": "c2VjcmV0"},]}',
    '{"keys": [{"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}, 5, null, {"kty": "RSA"}]}',
    '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}',
    '{"kid1": "-----BEGIN CERTIFICATE-----\\nMA==\\n-----END CERTIFICATE-----"}',
]
for text in jwks_texts:
    add("jwks", text)

# ---- DER for x509: 0 certificate, 1 SPKI, 2 PKCS#1, 3-5 the same by PEM label, 6-7 PEM text
for name, text in pems.items():
    der = pem_der(text)
    if der is None:
        continue
    kind = 0 if ".cert." in name else 2 if ".pkcs1." in name else 1
    add("x509", bytes([kind]) + der)
    add("x509", bytes([kind + 3]) + der)
    add("x509", bytes([6]) + text.encode())

# ---- discovery documents and response headers
doc = {"issuer": "https://idp.fuzz", "jwks_uri": "https://idp.fuzz/oauth2/v1/keys?x=1",
       "authorization_endpoint": "https://idp.fuzz/authorize",
       "id_token_signing_alg_values_supported": ["RS256"]}
add("discovery", nul(json.dumps(doc), "cache-control: public, max-age=3600, must-revalidate"))
add("discovery", nul(json.dumps(dict(doc, jwks_uri="http://idp.fuzz:8080")), "Cache-Control: no-store"))
add("discovery", nul(json.dumps(dict(doc, jwks_uri="https://user@idp/keys")),
                     "expires: Thu, 01 Dec 2033 16:00:00 GMT", "date: Wed, 30 Nov 2033 16:00:00 GMT"))
add("discovery", nul('{"issuer": 5}', "cache-control: s-maxage=\"99999999999999999999\"",
                     "meta:v2 3 1700000000000 1700000600000 0 0 0 0 1 0"))
add("discovery", nul("https://idp.fuzz/.well-known/openid-configuration",
                     "expires: Sunday, 06-Nov-94 08:49:37 GMT", "expires: Sun Nov  6 08:49:37 1994"))

# ---- configurations: the Envoy files' plugin JSON, conformance providers, hand-written
configs = []
for path in sorted((ROOT / "envoy").rglob("*.yaml")):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.search(r"value:\s*\|", line):
            indent = len(line) - len(line.lstrip())
            block = []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                block.append(nxt)
            text = "\n".join(block).strip()
            if text.startswith("{"):
                configs.append(text)
for path in sorted((ROOT / "envoy").rglob("*.json")):
    text = path.read_text()
    if '"providers"' in text:
        configs.append(text)
for case in corpus:
    provider = case.get("native_provider")
    if isinstance(provider, dict):
        configs.append(json.dumps({"providers": {"p": provider},
                                   "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]}))
configs.append(json.dumps({
    "providers": {
        "okta": {"issuer": "https://example.okta.com", "audiences": ["api://default"],
                 "remote_jwks": {"http_uri": {"uri": "https://example.okta.com/v1/keys", "cluster": "okta",
                                              "timeout": "2s"}, "cache_duration": {"seconds": 300},
                                 "async_fetch": {"failed_refetch_duration": "1.5s"}},
                 "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
                 "from_headers": [{"name": "x-jwt", "value_prefix": "Token "}], "from_params": ["jwt"]},
        "azure": {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0", "allowedTenants": ["*"],
                  "localJwks": {"inlineString": ""}, "forwardPayloadHeader": "x-payload",
                  "padForwardPayloadHeader": True, "clockSkewSeconds": 30, "maxLifetime": "86400s"}},
    "requirement_map": {"either": {"requires_any": {"requirements": [
        {"provider_name": "okta"}, {"provider_and_audiences": {"provider_name": "azure", "audiences": ["a"]}},
        {"requires_all": {"requirements": [{"allow_missing": {}}]}}]}}},
    "rules": [
        {"match": {"safe_regex": {"regex": "/v[0-9]+/.*"}, "headers": [{"name": "x-a", "presentMatch": False}]},
         "requirement_name": "either",
         "authorization": {"scopes": ["read"], "claims": [{"claim": "roles", "one_of": ["a", 1]},
                                                          {"claim": "x.y", "absent": True}],
                           "client_id_header": {"header": "x-client-id", "claims": ["azp"]}}},
        {"match": {"path": "/x", "case_sensitive": False, "route_name": {"prefix": "r-"}},
         "requires": {"allow_missing_or_failed": {}}},
        {"match": {"prefix": "/"}, "requires": {}}],
    "bypass_cors_preflight": True, "token_cache_size": 0}))
for text in configs:
    add("config", text)

# ---- claims and claim paths
payloads = []
for token in tokens:
    try:
        payloads.append(json.loads(b64url_decode(token.split(".")[1])))
    except Exception:
        pass
payloads.append({"a.b": 1, "a": {"b": 2, "c": {"d": [1, "x", None, True, {"e": 1.5}]}},
                 "scope": "read  write", "scp": ["admin"], "azp": "web", "n": -3, "f": 1e300,
                 "ctl": "line\nbreak", "empty": "", "nul": None})
for payload in payloads:
    if isinstance(payload, dict):
        paths = list(payload)[:6] + ["a.b", "a.c.d", "realm_access.roles", "address.country", "web"]
        add("claim_headers", nul(json.dumps(payload), *paths))

# ---- matchers: part 0 the match, part 1 :path, then headers (`@route: name` the route name)
matches = [
    ({"prefix": "/api", "case_sensitive": False}, "/API/v1?x=1", []),
    ({"path": "/exact"}, "/exact#frag", []),
    ({"safe_regex": {"regex": "/(a|ab)"}}, "/ab", []),
    ({"safe_regex": {"regex": "/v[0-9]+/.*"}}, "/v12/items", []),
    ({"prefix": "/", "headers": [{"name": "x-env", "string_match": {"prefix": "Prod", "ignore_case": True}}]},
     "/", ["x-env: production", "X-Env: eu"]),
    ({"prefix": "/", "headers": [{"name": "x-a", "exact_match": "1", "invert_match": True}]}, "/", ["x-a: 2"]),
    ({"prefix": "/", "headers": [{"name": "x-a", "present_match": False}]}, "/", []),
    ({"prefix": "/", "headers": [{"name": "x-a", "safe_regex_match": {"regex": "a|ab"}}]}, "/", ["x-a: ab"]),
    ({"prefix": "/", "headers": [{"name": "x-a", "contains_match": "b,c"}]}, "/", ["x-a: ab", "x-a: cd"]),
    ({"prefix": "/", "query_parameters": [{"name": "debug", "present_match": True},
                                          {"name": "q", "string_match": {"suffix": "z"}}]},
     "/s?debug&q=xyz&q=a", []),
    ({"prefix": "/", "route_name": "r1"}, "/", ["@route: r1"]),
    ({"prefix": "/", "routeName": {"safeRegex": {"regex": "r[0-9]"}}}, "/", ["@route: r12"]),
    ({"prefix": "", "headers": [{"name": ":method", "suffixMatch": "ST"}]}, "/", [":method: POST"]),
]
for text in configs:
    try:
        for rule in json.loads(text).get("rules", []):
            matches.append((rule.get("match"), "/api/v1?access_token=x", ["x-env: prod"]))
    except Exception:
        pass
for match, path, headers in matches:
    add("matchers", nul(json.dumps(match), path, *headers))

total = 0
for target, items in seeds.items():
    out = FUZZ / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    for data in items:
        (out / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)
    total += len(items)
    print(f"seed: {target}: {len(items)} seeds in fuzz/corpus/{target}")
