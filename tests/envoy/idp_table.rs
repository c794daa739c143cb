// The identity-provider tables of the Envoy suite (tests/envoy/idp.rs): the identity providers'
// names and URLs, the fixture `Fx` (keys, certificates, the key documents each provider
// publishes), the tokens, the plugin configurations (`main_config`, `pem_config`) and every
// `Check` with its expected answer, one table per identity provider. Included (`include!`) by
// the Envoy suite and by `jwt-authn explain`'s run of the same checks
// (tools/jwt-authn/tests/idp_table.rs).
//
// The including file brings `OnceLock`, `Ordering`, `thread`, `STANDARD` and `URL_SAFE_NO_PAD`
// with base64's `Engine`, `jwt_mint::x509` (`x509`, `pem`, `pkcs1_der`, `spki_der`, `Signer`,
// `Template`), `Alg`, `Key`, `json!`, `Value`, `Digest`, `Sha256`, and `body`, `now`
// (tests/envoy/support/).

/// What a check relies on besides the core filter.
mod needs {
    pub const X5C: &str = "x5c";
    pub const X509_MAP: &str = "kid -> certificate document";
    pub const PEM: &str = "PEM in local_jwks";
}

// ------------------------------------------------------------------------------------------
// The identity providers' names, URLs and identifiers

mod okta {
    pub const ISS: &str = "https://dev-4821337.okta.com/oauth2/aus9x2k7qzLmN3pQr4d7";
    pub const JWKS_URI: &str = "https://dev-4821337.okta.com/oauth2/aus9x2k7qzLmN3pQr4d7/v1/keys";
    pub const JWKS_PATH: &str = "/oauth2/aus9x2k7qzLmN3pQr4d7/v1/keys";
    /// The org authorization server of the same org: its tokens are not for your API.
    pub const ORG_ISS: &str = "https://dev-4821337.okta.com";
    pub const OTHER_ORG_ISS: &str = "https://dev-7730112.okta.com/oauth2/aus9x2k7qzLmN3pQr4d7";
    pub const AUD: &str = "api://orders";
    pub const CID: &str = "0oa9x2k7qzLmN3pQr4d8";
    pub const UID: &str = "00u9x2k7qzLmN3pQr4d9";
}

mod adfs {
    pub const ISS: &str = "http://adfs.contoso.com/adfs/services/trust";
    pub const HTTPS_ISS: &str = "https://adfs.contoso.com/adfs/services/trust";
    pub const OTHER_FARM_ISS: &str = "http://adfs.fabrikam.com/adfs/services/trust";
    pub const JWKS_URI: &str = "https://adfs.contoso.com/adfs/discovery/keys";
    pub const JWKS_PATH: &str = "/adfs/discovery/keys";
    pub const AUD: &str = "https://orders.contoso.com/";
    pub const APPID: &str = "4a1f6b32-1c5e-4d0b-9b3a-6f1e2d3c4b5a";
    pub const UPN: &str = "alice@contoso.com";
    pub const UNIQUE_NAME: &str = "CONTOSO\\alice";
}

mod cognito {
    pub const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xk4mP9qRt";
    pub const JWKS_URI: &str =
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xk4mP9qRt/.well-known/jwks.json";
    pub const JWKS_PATH: &str = "/eu-west-1_Xk4mP9qRt/.well-known/jwks.json";
    pub const OTHER_POOL_ISS: &str =
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zq8wL2nVb";
    pub const CLIENT: &str = "5m2q8v3c0kq1n7d4h6j9s0t2ab";
    pub const OTHER_CLIENT: &str = "7r4t1y9u2i8o3p6a5s0d1f4g7h";
    pub const SUB: &str = "d2b5e8f0-6a1c-4f3e-9b7d-1c2e3f4a5b6c";
}

mod ping {
    pub const ISS: &str = "https://sso.example.com";
    pub const JWKS_URI: &str = "https://sso.example.com/pf/JWKS";
    pub const JWKS_PATH: &str = "/pf/JWKS";
    pub const OTHER_ENV_ISS: &str =
        "https://auth.pingone.eu/3f7c2a9e-5b1d-4c8e-a6f0-9d2b4e7c1a3f/as";
    pub const AUD: &str = "orders-api";
    pub const CLIENT: &str = "orders-portal";
}

mod azure {
    pub const T1: &str = "8c3f1b2e-4d5a-4e6f-9a7b-0c1d2e3f4a5b";
    pub const T2: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    pub const T3: &str = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    pub const JWKS_URI: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";
    pub const JWKS_PATH: &str = "/common/discovery/v2.0/keys";
    pub const MULTI_ISS: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    /// v1 access tokens carry the API's App ID URI as `aud`.
    pub const V1_AUD: &str = "api://orders-api";
    /// v2 access tokens carry the API's client id (a GUID) as `aud`.
    pub const CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    pub const OTHER_CLIENT: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
    pub const OID: &str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";

    pub fn v1_iss(tenant: &str) -> String {
        format!("https://sts.windows.net/{tenant}/")
    }

    pub fn v2_iss(tenant: &str) -> String {
        format!("https://login.microsoftonline.com/{tenant}/v2.0")
    }
}

mod google {
    pub const ISS: &str = "https://accounts.google.com";
    /// Google also issues ID tokens whose `iss` has no scheme.
    pub const BARE_ISS: &str = "accounts.google.com";
    pub const JWKS_URI: &str = "https://www.googleapis.com/oauth2/v3/certs";
    pub const JWKS_PATH: &str = "/oauth2/v3/certs";
    pub const CLIENT: &str =
        "407408718192-5f1gq0b3kq7v2u8hjm4lt9c6n3p0r2sd.apps.googleusercontent.com";
    pub const OTHER_CLIENT: &str =
        "993102846571-a8k2m4n6p8r0t2v4x6z8b0d2f4h6j8l0.apps.googleusercontent.com";
    pub const SUB: &str = "110169484474386276334";
}

mod firebase {
    pub const PROJECT: &str = "orders-prod-4f2a1";
    pub const ISS: &str = "https://securetoken.google.com/orders-prod-4f2a1";
    pub const OTHER_PROJECT: &str = "marketing-site-77c0e";
    pub const JWKS_URI: &str =
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
    pub const JWKS_PATH: &str = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com";
    pub const UID: &str = "Qm3xT8vK2pLr9sW4yZ1aB6cD7eF0";
}

mod keycloak {
    pub const ISS: &str = "https://sso.example.org/realms/orders";
    pub const OTHER_REALM_ISS: &str = "https://sso.example.org/realms/staff";
    pub const JWKS_URI: &str =
        "https://sso.example.org/realms/orders/protocol/openid-connect/certs";
    pub const JWKS_PATH: &str = "/realms/orders/protocol/openid-connect/certs";
    pub const AUD: &str = "orders-api";
    pub const AZP: &str = "orders-web";
}

mod legacy {
    pub const ISS: &str = "legacy-sso";
}

mod client {
    /// The authorization server's token endpoint: the `aud` of every client assertion.
    pub const TOKEN_ENDPOINT: &str = "https://as.example.com/oauth2/token";
    pub const ORDERS_BATCH: &str = "orders-batch";
    pub const BILLING_SYNC: &str = "billing-sync";
    pub const REPORTS_JOB: &str = "reports-job";
    pub const AUDIT_AGENT: &str = "audit-agent";
    pub const HEADER: &str = "x-client-assertion";
}

// ------------------------------------------------------------------------------------------
// Keys, certificates and key documents, generated once per test process

struct Fx {
    okta: [Key; 2],
    adfs_primary: (Key, Cert),
    /// The secondary (rollover) token-signing certificate, published with `x5c` only.
    adfs_rollover: (Key, Cert),
    cognito: [Key; 2],
    cognito_other_pool: Key,
    ping_rsa: (Key, Cert),
    /// A decryption key PingFederate publishes next to its signing keys (`use: enc`).
    ping_enc: Key,
    ping_p256: Key,
    ping_p384: Key,
    ping_p521: Key,
    /// A P-256 key published as a certificate only (`x5c`, no `x`/`y`).
    ping_p256_cert: (Key, Cert),
    /// The key behind `x`/`y` of the JWK whose `x5c` is `ping_p256_cert`'s certificate.
    ping_rogue_ec: Key,
    /// An issuing CA's certificate, second in the ADFS signing key's `x5c` chain.
    contoso_ca: Cert,
    azure: [(Key, Cert); 2],
    /// The key behind `n`/`e` of the JWK whose `x5c` is `azure[0]`'s certificate.
    azure_rogue: Key,
    azure_mismatch_kid: String,
    google: [Key; 2],
    firebase: [(Key, Cert); 2],
    keycloak_sig: (Key, Cert),
    keycloak_enc: (Key, Cert),
    legacy: Key,
    legacy_other_install: Key,
    client_orders_batch: Key,
    client_billing: Key,
    client_reports: Key,
    client_audit: (Key, Cert),
    stranger_ec: Key,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        // RSA key generation dominates; the keys are generated in parallel.
        let mut rsa: Vec<Key> = thread::scope(|s| {
            let handles: Vec<_> = (0..19)
                .map(|i| s.spawn(move || Key::generate(Alg::RS256, &format!("rsa-{i}"))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut next = move || rsa.pop().unwrap();

        let okta = [0, 1].map(|_| {
            let k = next();
            let kid = b64url(&Sha256::digest(spki_der(&k)));
            k.with_kid(&kid)
        });
        let thumbprinted = |k: Key, cn: &str| {
            let cert = self_signed(&k, cn, 1);
            (k.with_kid(&cert.x5t()), cert)
        };
        let adfs_primary = thumbprinted(next(), "ADFS Signing - adfs.contoso.com");
        let adfs_rollover = thumbprinted(next(), "ADFS Signing - adfs.contoso.com (rollover)");
        let cognito = [0, 1].map(|_| {
            let k = next();
            // Cognito kids are standard base64 of 32 bytes: with `+`, `/` and a `=`.
            let mut raw = vec![0xfb, 0xff, 0xbf];
            raw.extend_from_slice(&Sha256::digest(spki_der(&k))[..29]);
            let kid = STANDARD.encode(raw);
            assert!(kid.contains('+') && kid.contains('/') && kid.ends_with('='));
            k.with_kid(&kid)
        });
        let cognito_other_pool = next().with_kid(cognito[0].kid());
        let ping_rsa = next().with_kid("k7f1x0qmz3");
        let ping_rsa = (
            ping_rsa.clone(),
            self_signed(&ping_rsa, "sso.example.com", 10),
        );
        let azure = [0, 1].map(|_| {
            let k = next();
            let cert = self_signed(&k, "accounts.accesscontrol.windows.net", 2);
            (k.with_kid(&cert.x5t()), cert)
        });
        let azure_rogue = next();
        let azure_mismatch_kid = b64url(&sha1(&spki_der(&azure_rogue)));
        let google = [0, 1].map(|_| {
            let k = next();
            let kid = hex::encode(sha1(&spki_der(&k)));
            k.with_kid(&kid)
        });
        let firebase = [0, 1].map(|_| {
            let k = next();
            let cert = self_signed(&k, "securetoken.system.gserviceaccount.com", 3);
            (k.with_kid(&hex::encode(sha1(&cert.der))), cert)
        });
        let with_cert = |k: Key, cn: &str| {
            let kid = b64url(&Sha256::digest(spki_der(&k)));
            let k = k.with_kid(&kid);
            let cert = self_signed(&k, cn, 4);
            (k, cert)
        };
        let keycloak_sig = with_cert(next(), "orders");
        let keycloak_enc = with_cert(next(), "orders");
        let client_billing = next().with_kid("billing-sync-2024");
        let client_reports = next().with_kid("reports-job-1");
        let ca_key = Key::generate(Alg::ES384, "ca");
        let contoso_ca = self_signed(&ca_key, "Contoso Issuing CA 01", 6);
        let ping_p256_cert = Key::generate(Alg::ES256, "p256-cert-91ab");
        let ping_p256_cert_cert = self_signed(&ping_p256_cert, "sso.example.com", 7);
        let audit = Key::generate(Alg::ES256, "audit-agent-1");
        let audit_cert = self_signed(&audit, "audit-agent", 5);
        Fx {
            okta,
            adfs_primary,
            adfs_rollover,
            cognito,
            cognito_other_pool,
            ping_rsa,
            ping_enc: Key::generate(Alg::ES256, "p256-enc-77d2"),
            ping_p256: Key::generate(Alg::ES256, "p256-2f9c"),
            ping_p384: Key::generate(Alg::ES384, "p384-7b1e"),
            ping_p521: Key::generate(Alg::ES512, "p521-d40a"),
            ping_p256_cert: (ping_p256_cert, ping_p256_cert_cert),
            ping_rogue_ec: Key::generate(Alg::ES256, "p256-mm-5e0c"),
            contoso_ca,
            azure,
            azure_rogue,
            azure_mismatch_kid,
            google,
            firebase,
            keycloak_sig,
            keycloak_enc,
            legacy: Key::generate(Alg::HS256, ""),
            legacy_other_install: Key::generate(Alg::HS256, ""),
            client_orders_batch: Key::generate(Alg::ES256, "orders-batch-2024-06"),
            client_billing,
            client_reports,
            client_audit: (audit, audit_cert),
            stranger_ec: Key::generate(Alg::ES256, "orders-batch-2024-06"),
        }
    })
}

/// A public JWK member of a key (`n`, `e`, `x`, `y`, `crv`, `k`).
fn member(key: &Key, name: &str) -> Value {
    key.public_jwk()[name].clone()
}

impl Fx {
    /// Okta: RSA keys with `alg` and `use`, the current one and the next one.
    fn okta_jwks(&self) -> String {
        let keys: Vec<Value> = self
            .okta
            .iter()
            .map(|k| json!({"kty": "RSA", "alg": "RS256", "kid": k.kid(), "use": "sig", "e": member(k, "e"), "n": member(k, "n")}))
            .collect();
        json!({"keys": keys}).to_string()
    }

    /// ADFS (`/adfs/discovery/keys`): `kid` = `x5t`, the certificate in `x5c` (followed by its
    /// issuing CA's: the key is the first certificate's); the rollover certificate is published
    /// with `x5c` only.
    fn adfs_jwks(&self) -> String {
        let (k, cert) = &self.adfs_primary;
        let (r, rcert) = &self.adfs_rollover;
        json!({"keys": [
            {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid(), "x5t": cert.x5t(),
             "e": member(k, "e"), "n": member(k, "n"), "x5c": [cert.x5c(), self.contoso_ca.x5c()]},
            {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": r.kid(), "x5t": rcert.x5t(),
             "x5c": [rcert.x5c()]}
        ]})
        .to_string()
    }

    /// Cognito (`/.well-known/jwks.json`): two RSA keys, base64 kids.
    fn cognito_jwks(&self) -> String {
        let keys: Vec<Value> = self
            .cognito
            .iter()
            .map(|k| json!({"alg": "RS256", "e": member(k, "e"), "kid": k.kid(), "kty": "RSA", "n": member(k, "n"), "use": "sig"}))
            .collect();
        json!({"keys": keys}).to_string()
    }

    /// PingFederate (`/pf/JWKS`): EC keys on three curves next to an RSA key (with its published
    /// certificate chain), none with `alg`; a decryption key (`use: enc`); an EC key given by
    /// its certificate only, and one whose `x`/`y` disagree with its `x5c` (to be skipped).
    fn ping_jwks(&self) -> String {
        let ec = |k: &Key| json!({"kty": "EC", "kid": k.kid(), "use": "sig", "x": member(k, "x"), "y": member(k, "y"), "crv": member(k, "crv")});
        let (r, r_cert) = &self.ping_rsa;
        // `n` with a leading zero byte, as Java's BigInteger.toByteArray() writes it; the
        // certificate's integer has none, and both name the same key.
        let mut n = vec![0];
        n.extend(jwk_bytes(r, "n"));
        let (c, cert) = &self.ping_p256_cert;
        let mut enc = ec(&self.ping_enc);
        enc["use"] = json!("enc");
        let mut mismatch = ec(&self.ping_rogue_ec);
        mismatch["x5c"] = json!([cert.x5c()]);
        json!({"keys": [
            ec(&self.ping_p256),
            {"kty": "RSA", "kid": r.kid(), "use": "sig", "n": b64url(&n), "e": member(r, "e"),
             "x5c": [r_cert.x5c(), self.contoso_ca.x5c()], "x5t": r_cert.x5t()},
            enc,
            ec(&self.ping_p384),
            ec(&self.ping_p521),
            {"kty": "EC", "kid": c.kid(), "use": "sig", "x5c": [cert.x5c()]},
            mismatch
        ]})
        .to_string()
    }

    /// Microsoft's common keys: no `alg`, `kid` = `x5t`, the certificate in `x5c`, and a
    /// non-standard `issuer` member. The third key's `n`/`e` belong to another key than its
    /// certificate: it must be skipped.
    fn azure_jwks(&self) -> String {
        let jwk = |k: &Key, cert: &Cert| {
            json!({"kty": "RSA", "use": "sig", "kid": k.kid(), "x5t": cert.x5t(), "n": member(k, "n"),
                   "e": member(k, "e"), "x5c": [cert.x5c()], "cloud_instance_name": "microsoftonline.com",
                   "issuer": azure::MULTI_ISS})
        };
        let (a, a_cert) = &self.azure[0];
        let (b, b_cert) = &self.azure[1];
        let mut mismatch = jwk(&self.azure_rogue, a_cert);
        mismatch["kid"] = json!(self.azure_mismatch_kid);
        json!({"keys": [jwk(a, a_cert), jwk(b, b_cert), mismatch]}).to_string()
    }

    /// Google's OAuth 2 certificates in JWKS form (`/oauth2/v3/certs`).
    fn google_jwks(&self) -> String {
        let keys: Vec<Value> = self
            .google
            .iter()
            .map(|k| json!({"n": member(k, "n"), "kid": k.kid(), "use": "sig", "e": member(k, "e"), "kty": "RSA", "alg": "RS256"}))
            .collect();
        json!({"keys": keys}).to_string()
    }

    /// Firebase's key document: not a JWKS but `{kid: PEM certificate}`.
    fn firebase_certs(&self) -> String {
        let mut doc = serde_json::Map::new();
        for (k, cert) in &self.firebase {
            doc.insert(k.kid().to_owned(), json!(cert.pem()));
        }
        serde_json::to_string_pretty(&Value::Object(doc)).unwrap() + "\n"
    }

    /// Keycloak's realm keys: the RS256 signing key and the RSA-OAEP encryption key, both with
    /// their certificate and thumbprints.
    fn keycloak_jwks(&self) -> String {
        let jwk = |(k, cert): &(Key, Cert), alg: &str, usage: &str| {
            json!({"kid": k.kid(), "kty": "RSA", "alg": alg, "use": usage, "n": member(k, "n"), "e": member(k, "e"),
                   "x5c": [cert.x5c()], "x5t": cert.x5t(), "x5t#S256": cert.x5t_s256()})
        };
        json!({"keys": [jwk(&self.keycloak_enc, "RSA-OAEP", "enc"), jwk(&self.keycloak_sig, "RS256", "sig")]})
            .to_string()
    }

    /// The legacy issuer's shared secret as a JWKS: one `oct` key, no `kid`, no `alg`.
    fn legacy_jwks(&self) -> String {
        json!({"keys": [{"kty": "oct", "k": member(&self.legacy, "k")}]}).to_string()
    }

    /// The `jwks` a client registered (RFC 7591): its own EC public key.
    fn orders_batch_jwks(&self) -> String {
        let k = &self.client_orders_batch;
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": k.kid(), "use": "sig", "x": member(k, "x"), "y": member(k, "y")}]})
            .to_string()
    }
}

// ------------------------------------------------------------------------------------------
// Tokens

/// `base` with `changes` applied (a `null` removes the member).
fn merged(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// The token with its payload replaced by `changes` applied to it; header and signature kept.
fn tampered(token: &str, changes: Value) -> String {
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    let claims = merged(claims, changes);
    format!("{h}.{}.{s}", b64url(claims.to_string().as_bytes()))
}

/// A token over header and payload JSON exactly as written (jwt-mint would re-serialize).
fn sign_text(key: &Key, header: &str, payload: &str) -> String {
    key.sign_text(header, payload)
}

/// HS256 keyed with `secret` (e.g. the text of a public key), under `header`.
fn hs256_with_secret(secret: &[u8], header: Value, claims: &Value) -> String {
    Key::hmac(Alg::HS256, "", secret).sign(&header, claims)
}

fn jti() -> String {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let h = hex::encode(Sha256::digest(format!("{}-{n}", now()).as_bytes()));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..15],
        &h[15..18],
        &h[18..30]
    )
}

impl Fx {
    fn okta_claims(&self, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"ver": 1, "jti": format!("AT.{}", &jti()[..23]), "iss": okta::ISS, "aud": okta::AUD,
                   "iat": t, "exp": t + 3600, "cid": okta::CID, "uid": okta::UID,
                   "scp": ["orders:read", "openid"], "auth_time": t - 30, "sub": "alice@example.com"}),
            changes,
        )
    }

    /// An Okta access token: header `{kid, alg}` only.
    fn okta(&self, key: usize, changes: Value) -> String {
        let k = &self.okta[key];
        k.sign(
            &json!({"kid": k.kid(), "alg": "RS256"}),
            &self.okta_claims(changes),
        )
    }

    fn adfs_claims(&self, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"aud": adfs::AUD, "iss": adfs::ISS, "iat": t, "nbf": t, "exp": t + 3600,
                   "apptype": "Confidential", "appid": adfs::APPID,
                   "authmethod": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                   "auth_time": "2024-05-01T09:12:44.117Z", "ver": "1.0", "scp": "openid",
                   "upn": adfs::UPN, "unique_name": adfs::UNIQUE_NAME,
                   "sid": "S-1-5-21-1004336348-1177238915-682003330-1108"}),
            changes,
        )
    }

    /// An ADFS access token: header `{typ, alg, x5t, kid}` with `kid` = `x5t`.
    fn adfs_with(&self, key: &Key, changes: Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": key.kid(), "kid": key.kid()});
        key.sign(&header, &self.adfs_claims(changes))
    }

    fn adfs(&self, changes: Value) -> String {
        self.adfs_with(&self.adfs_primary.0, changes)
    }

    /// A Cognito access token: no `aud`; `client_id`, `token_use: access`, `username`.
    fn cognito_access_with(&self, key: &Key, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"sub": cognito::SUB, "cognito:groups": ["buyers"], "iss": cognito::ISS,
                   "version": 2, "client_id": cognito::CLIENT, "origin_jti": jti(),
                   "event_id": jti(), "token_use": "access", "scope": "orders/read",
                   "auth_time": t - 60, "exp": t + 3600, "iat": t, "jti": jti(), "username": "alice"}),
            changes,
        );
        key.sign(&json!({"kid": key.kid(), "alg": "RS256"}), &claims)
    }

    fn cognito_access(&self, key: usize, changes: Value) -> String {
        self.cognito_access_with(&self.cognito[key], changes)
    }

    /// A Cognito ID token: `aud` = the app client, `cognito:username`, boolean
    /// `email_verified`, `token_use: id`.
    fn cognito_id(&self, key: usize, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"at_hash": "x4Rz0uV4yT7c9L1bN2kM5w", "sub": cognito::SUB, "cognito:groups": ["buyers"],
                   "email_verified": true, "iss": cognito::ISS, "cognito:username": "alice",
                   "origin_jti": jti(), "aud": cognito::CLIENT, "event_id": jti(), "token_use": "id",
                   "auth_time": t - 60, "exp": t + 3600, "iat": t, "jti": jti(), "email": "alice@example.com"}),
            changes,
        );
        let k = &self.cognito[key];
        k.sign(&json!({"kid": k.kid(), "alg": "RS256"}), &claims)
    }

    /// A PingFederate access token signed with `key` as `alg` (header `kid` given separately,
    /// `None` for none).
    fn ping_with(&self, key: &Key, kid: Option<&str>, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"scope": ["orders:read"], "client_id": ping::CLIENT, "iss": ping::ISS,
                   "aud": ping::AUD, "jti": jti(), "Username": "alice", "iat": t, "exp": t + 7200}),
            changes,
        );
        let mut header = json!({"alg": key.alg().name()});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        key.sign(&header, &claims)
    }

    fn ping(&self, key: &Key, changes: Value) -> String {
        self.ping_with(key, Some(key.kid()), changes)
    }

    /// An Azure AD v1.0 access token (`sts.windows.net` issuer, header `x5t` and `kid`).
    fn azure_v1_with(&self, key: &Key, kid: &str, tenant: &str, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"aud": azure::V1_AUD, "iss": azure::v1_iss(tenant), "iat": t, "nbf": t, "exp": t + 4500,
                   "acr": "1", "aio": "E2ZgYJjZ4Uq7z8tJ", "amr": ["pwd", "mfa"], "appid": azure::OTHER_CLIENT,
                   "appidacr": "0", "family_name": "Liddell", "given_name": "Alice",
                   "idp": format!("https://sts.windows.net/{tenant}/"), "ipaddr": "203.0.113.7",
                   "name": "Alice Liddell", "oid": azure::OID, "rh": "0.AR8AgP0.", "roles": ["Orders.Read", "Orders.Write"],
                   "scp": "user_impersonation", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
                   "tid": tenant, "unique_name": "alice@contoso.onmicrosoft.com",
                   "upn": "alice@contoso.onmicrosoft.com", "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0"}),
            changes,
        );
        key.sign(
            &json!({"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}),
            &claims,
        )
    }

    /// An Azure AD / Entra ID v2.0 access token (`login.microsoftonline.com/<tid>/v2.0`).
    fn azure_v2_with(&self, key: &Key, kid: &str, tenant: &str, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"aud": azure::CLIENT, "iss": azure::v2_iss(tenant), "iat": t, "nbf": t, "exp": t + 4500,
                   "aio": "AWQAm/8TAAAA", "azp": azure::OTHER_CLIENT, "azpacr": "0", "name": "Alice Liddell",
                   "oid": azure::OID, "preferred_username": "alice@contoso.onmicrosoft.com",
                   "rh": "0.AR8AgP0.", "roles": ["Orders.Read", "Orders.Write"], "scp": "access_as_user",
                   "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "tid": tenant,
                   "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"}),
            changes,
        );
        key.sign(&json!({"typ": "JWT", "alg": "RS256", "kid": kid}), &claims)
    }

    fn azure_v1(&self, key: usize, tenant: &str, changes: Value) -> String {
        let k = &self.azure[key].0;
        self.azure_v1_with(k, k.kid(), tenant, changes)
    }

    fn azure_v2(&self, key: usize, tenant: &str, changes: Value) -> String {
        let k = &self.azure[key].0;
        self.azure_v2_with(k, k.kid(), tenant, changes)
    }

    fn google_claims(&self, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"iss": google::ISS, "azp": google::CLIENT, "aud": google::CLIENT, "sub": google::SUB,
                   "hd": "example.com", "email": "alice@example.com", "email_verified": true,
                   "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "nonce": "0394852-3190485-2490358",
                   "name": "Alice Liddell", "picture": "https://lh3.googleusercontent.com/a/ACg8ocJ",
                   "given_name": "Alice", "family_name": "Liddell", "iat": t, "exp": t + 3600}),
            changes,
        )
    }

    /// A Google ID token: header `{alg, kid, typ}`.
    fn google(&self, key: usize, changes: Value) -> String {
        let k = &self.google[key];
        k.sign(
            &json!({"alg": "RS256", "kid": k.kid(), "typ": "JWT"}),
            &self.google_claims(changes),
        )
    }

    fn firebase_claims(&self, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"iss": firebase::ISS, "aud": firebase::PROJECT, "auth_time": t - 120,
                   "user_id": firebase::UID, "sub": firebase::UID, "iat": t, "exp": t + 3600,
                   "email": "alice@example.com", "email_verified": false,
                   "firebase": {"identities": {"email": ["alice@example.com"]}, "sign_in_provider": "password"}}),
            changes,
        )
    }

    /// A Firebase ID token: header `{alg, kid, typ}`, the kid naming a certificate.
    fn firebase(&self, key: usize, changes: Value) -> String {
        let k = &self.firebase[key].0;
        k.sign(
            &json!({"alg": "RS256", "kid": k.kid(), "typ": "JWT"}),
            &self.firebase_claims(changes),
        )
    }

    fn keycloak_claims(&self, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"exp": t + 300, "iat": t, "auth_time": t - 10, "jti": jti(), "iss": keycloak::ISS,
                   "aud": [keycloak::AUD, "account"], "sub": "f3c5a1e2-7b9d-4e8f-a0c1-2d3e4f5a6b7c",
                   "typ": "Bearer", "azp": keycloak::AZP, "sid": "0c5d3f9e-2a4b-4c6d-8e0f-1a2b3c4d5e6f",
                   "acr": "1", "allowed-origins": ["https://orders.example.org"],
                   "realm_access": {"roles": ["offline_access", "orders-admin", "uma_authorization"]},
                   "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
                   "scope": "openid email profile", "email_verified": true, "name": "Alice Liddell",
                   "preferred_username": "alice", "email": "alice@example.org"}),
            changes,
        )
    }

    /// A Keycloak access token: header `{alg, typ, kid}`, signed by `key`.
    fn keycloak_with(&self, key: &Key, changes: Value) -> String {
        key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()}),
            &self.keycloak_claims(changes),
        )
    }

    fn keycloak(&self, changes: Value) -> String {
        self.keycloak_with(&self.keycloak_sig.0, changes)
    }

    /// A legacy HS256 token: no `kid`, no `aud`, numeric custom claims.
    fn legacy_with(&self, key: &Key, changes: Value) -> String {
        let t = now();
        let claims = merged(
            json!({"iss": legacy::ISS, "sub": "alice", "user_id": 48213, "org_id": 7,
                   "perm": 0x1f, "iat": t, "exp": t + 28800}),
            changes,
        );
        key.sign(&json!({"alg": "HS256", "typ": "JWT"}), &claims)
    }

    fn legacy(&self, changes: Value) -> String {
        self.legacy_with(&self.legacy, changes)
    }

    /// An RFC 7523 client assertion: `iss` = `sub` = the client id, the token endpoint as
    /// `aud`, a `jti`, one minute of lifetime; signed by the client's own key.
    fn assertion_claims(client_id: &str, changes: Value) -> Value {
        let t = now();
        merged(
            json!({"iss": client_id, "sub": client_id, "aud": client::TOKEN_ENDPOINT,
                   "jti": jti(), "iat": t, "exp": t + 60}),
            changes,
        )
    }

    fn assertion(key: &Key, client_id: &str, changes: Value) -> String {
        key.sign(
            &json!({"alg": key.alg().name(), "kid": key.kid(), "typ": "JWT"}),
            &Fx::assertion_claims(client_id, changes),
        )
    }
}

// ------------------------------------------------------------------------------------------
// Configuration

fn remote(uri: &str, cluster: &str) -> Value {
    json!({"http_uri": {"uri": uri, "cluster": cluster, "timeout": "5s"}, "cache_duration": "600s"})
}

fn ctoh(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(h, c)| json!({"header_name": h, "claim_name": c}))
            .collect(),
    )
}

/// The JWKS stubs' clusters: (cluster, JWKS path, document, response headers as the
/// identity provider sends them).
type KeyDocument = (
    &'static str,
    &'static str,
    String,
    &'static [(&'static str, &'static str)],
);

fn key_documents(fx: &Fx) -> Vec<KeyDocument> {
    const GOOGLE: &[(&str, &str)] = &[
        (
            "cache-control",
            "public, max-age=22733, must-revalidate, no-transform",
        ),
        ("content-type", "application/json; charset=UTF-8"),
    ];
    vec![
        (
            "okta_jwks",
            okta::JWKS_PATH,
            fx.okta_jwks(),
            &[("cache-control", "max-age=3806713, must-revalidate")],
        ),
        (
            "adfs_jwks",
            adfs::JWKS_PATH,
            fx.adfs_jwks(),
            &[("cache-control", "no-cache"), ("pragma", "no-cache")],
        ),
        ("cognito_jwks", cognito::JWKS_PATH, fx.cognito_jwks(), &[]),
        (
            "ping_jwks",
            ping::JWKS_PATH,
            fx.ping_jwks(),
            &[("cache-control", "no-store, no-cache")],
        ),
        (
            "azure_jwks",
            azure::JWKS_PATH,
            fx.azure_jwks(),
            &[("cache-control", "max-age=86400, private")],
        ),
        ("google_jwks", google::JWKS_PATH, fx.google_jwks(), GOOGLE),
        (
            "firebase_jwks",
            firebase::JWKS_PATH,
            fx.firebase_certs(),
            GOOGLE,
        ),
        (
            "keycloak_jwks",
            keycloak::JWKS_PATH,
            fx.keycloak_jwks(),
            &[("cache-control", "no-cache")],
        ),
    ]
}

fn rule(prefix: &str, requires: Value) -> Value {
    json!({"match": {"prefix": prefix}, "requires": requires})
}

fn provider(name: &str) -> Value {
    json!({"provider_name": name})
}

fn any_of(names: &[&str]) -> Value {
    let reqs: Vec<Value> = names.iter().map(|n| provider(n)).collect();
    json!({"requires_any": {"requirements": reqs}})
}

fn authz(prefix: &str, requires: Value, authorization: Value) -> Value {
    json!({"match": {"prefix": prefix}, "requires": requires, "authorization": authorization})
}

/// The plugin configuration of the main Envoy: every identity provider, one route prefix each.
fn main_config(fx: &Fx) -> Value {
    let azure_headers = ctoh(&[
        ("x-azure-oid", "oid"),
        ("x-azure-tid", "tid"),
        ("x-azure-roles", "roles"),
    ]);
    let google_headers = ctoh(&[
        ("x-google-sub", "sub"),
        ("x-google-email", "email"),
        ("x-google-email-verified", "email_verified"),
    ]);
    json!({
        "providers": {
            "okta": {
                "issuer": okta::ISS, "audiences": [okta::AUD],
                "remote_jwks": remote(okta::JWKS_URI, "okta_jwks"),
                "claim_to_headers": ctoh(&[("x-okta-uid", "uid"), ("x-okta-scp", "scp"), ("x-okta-cid", "cid")])
            },
            "adfs": {
                "issuer": adfs::ISS, "audiences": [adfs::AUD],
                "remote_jwks": remote(adfs::JWKS_URI, "adfs_jwks"),
                "claim_to_headers": ctoh(&[("x-adfs-upn", "upn"), ("x-adfs-user", "unique_name"), ("x-adfs-appid", "appid")])
            },
            "cognito_access": {
                "issuer": cognito::ISS,
                "remote_jwks": remote(cognito::JWKS_URI, "cognito_jwks"),
                "claim_to_headers": ctoh(&[("x-cognito-client", "client_id"), ("x-cognito-user", "username")])
            },
            "cognito_id": {
                "issuer": cognito::ISS, "audiences": [cognito::CLIENT],
                "remote_jwks": remote(cognito::JWKS_URI, "cognito_jwks"),
                "claim_to_headers": ctoh(&[("x-cognito-user", "cognito:username"), ("x-cognito-email-verified", "email_verified")])
            },
            "ping": {
                "issuer": ping::ISS, "audiences": [ping::AUD],
                "remote_jwks": remote(ping::JWKS_URI, "ping_jwks"),
                "claim_to_headers": ctoh(&[("x-ping-user", "Username"), ("x-ping-client", "client_id")])
            },
            "azure_v1": {
                "issuer": azure::v1_iss(azure::T1), "audiences": [azure::V1_AUD],
                "remote_jwks": remote(azure::JWKS_URI, "azure_jwks"),
                "claim_to_headers": azure_headers
            },
            "azure_v2": {
                "issuer": azure::v2_iss(azure::T1), "audiences": [azure::CLIENT],
                "remote_jwks": remote(azure::JWKS_URI, "azure_jwks"),
                "claim_to_headers": azure_headers
            },
            "azure_multi": {
                "issuer": azure::MULTI_ISS, "allowed_tenants": [azure::T1, azure::T2],
                "audiences": [azure::CLIENT],
                "remote_jwks": remote(azure::JWKS_URI, "azure_jwks"),
                "claim_to_headers": azure_headers
            },
            "azure_v1_multi": {
                "issuer": "https://sts.windows.net/{tenantid}/", "allowed_tenants": [azure::T1, azure::T2],
                "audiences": [azure::V1_AUD],
                "remote_jwks": remote(azure::JWKS_URI, "azure_jwks"),
                "claim_to_headers": azure_headers
            },
            "azure_any": {
                "issuer": azure::MULTI_ISS, "allowed_tenants": ["*"],
                "audiences": [azure::CLIENT],
                "remote_jwks": remote(azure::JWKS_URI, "azure_jwks"),
                "claim_to_headers": azure_headers
            },
            "google": {
                "issuer": google::ISS, "audiences": [google::CLIENT],
                "remote_jwks": remote(google::JWKS_URI, "google_jwks"),
                "claim_to_headers": google_headers
            },
            "google_bare_iss": {
                "issuer": google::BARE_ISS, "audiences": [google::CLIENT],
                "remote_jwks": remote(google::JWKS_URI, "google_jwks"),
                "claim_to_headers": google_headers
            },
            "firebase": {
                "issuer": firebase::ISS, "audiences": [firebase::PROJECT],
                "remote_jwks": remote(firebase::JWKS_URI, "firebase_jwks"),
                "claim_to_headers": ctoh(&[("x-firebase-uid", "user_id"), ("x-firebase-provider", "firebase.sign_in_provider")])
            },
            "keycloak": {
                "issuer": keycloak::ISS, "audiences": [keycloak::AUD],
                "remote_jwks": remote(keycloak::JWKS_URI, "keycloak_jwks"),
                "claim_to_headers": ctoh(&[("x-kc-roles", "realm_access.roles"), ("x-kc-user", "preferred_username"), ("x-kc-azp", "azp")])
            },
            "legacy": {
                "issuer": legacy::ISS,
                "local_jwks": {"inline_string": fx.legacy_jwks()},
                "require_expiration": true,
                "claim_to_headers": ctoh(&[("x-legacy-user-id", "user_id"), ("x-legacy-org", "org_id")])
            },
            "client_orders_batch": {
                "issuer": client::ORDERS_BATCH, "subjects": {"exact": client::ORDERS_BATCH},
                "audiences": [client::TOKEN_ENDPOINT],
                "require_expiration": true, "max_lifetime": "300s",
                "from_headers": [{"name": client::HEADER}],
                "local_jwks": {"inline_string": fx.orders_batch_jwks()},
                "claim_to_headers": ctoh(&[("x-client-id", "sub"), ("x-assertion-jti", "jti")])
            }
        },
        "rules": [
            rule("/okta/", provider("okta")),
            authz("/okta-scoped/", provider("okta"), json!({"scopes": ["orders:read"]})),
            rule("/adfs/", provider("adfs")),
            authz("/cognito/access/", provider("cognito_access"), json!({"claims": [
                {"claim": "token_use", "equals": "access"},
                {"claim": "client_id", "one_of": [cognito::CLIENT]}
            ]})),
            authz("/cognito/bound/", provider("cognito_access"),
                  json!({"client_id_header": {"header": "x-api-client", "claims": ["client_id"]}})),
            rule("/cognito/raw/", provider("cognito_access")),
            rule("/cognito/id/", provider("cognito_id")),
            rule("/ping/", provider("ping")),
            rule("/azure/", any_of(&["azure_v1", "azure_v2"])),
            rule("/azure-mt/", provider("azure_multi")),
            rule("/azure-any/", provider("azure_any")),
            rule("/azure-v1-mt/", provider("azure_v1_multi")),
            rule("/google/", any_of(&["google", "google_bare_iss"])),
            rule("/firebase/", provider("firebase")),
            rule("/keycloak/", provider("keycloak")),
            authz("/keycloak-admin/", provider("keycloak"),
                  json!({"claims": [{"claim": "realm_access.roles", "contains_any": ["orders-admin"]}]})),
            rule("/legacy/", provider("legacy")),
            rule("/client/", provider("client_orders_batch"))
        ]
    })
}

/// `main_config` without what native `jwt_authn` cannot express: rules with `authorization`,
/// and the multi-tenant providers (`{tenantid}` + `allowed_tenants`) with their rules.
fn native_config(fx: &Fx) -> Value {
    let mut c = main_config(fx);
    let extension_providers = ["azure_multi", "azure_any", "azure_v1_multi"];
    for p in extension_providers {
        c["providers"].as_object_mut().unwrap().remove(p);
    }
    c["rules"].as_array_mut().unwrap().retain(|r| {
        r.get("authorization").is_none()
            && !extension_providers
                .iter()
                .any(|p| r["requires"]["provider_name"] == *p)
    });
    c["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
    c
}

/// PEM public keys in `local_jwks.inline_string`: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY`
/// (PKCS#1), `CERTIFICATE`, and all three in one text.
fn pem_config(fx: &Fx) -> Value {
    let billing = pem("PUBLIC KEY", &spki_der(&fx.client_billing));
    let reports = pem("RSA PUBLIC KEY", &pkcs1_der(&fx.client_reports));
    let audit = fx.client_audit.1.pem();
    let client = |id: &str, pem_text: &str| {
        json!({
            "issuer": id, "subjects": {"exact": id}, "audiences": [client::TOKEN_ENDPOINT],
            "require_expiration": true, "max_lifetime": "300s",
            "from_headers": [{"name": client::HEADER}],
            "local_jwks": {"inline_string": pem_text},
            "claim_to_headers": ctoh(&[("x-client-id", "sub")])
        })
    };
    let bundle = format!("{billing}{reports}{audit}");
    json!({
        "providers": {
            "billing": client(client::BILLING_SYNC, &billing),
            "reports": client(client::REPORTS_JOB, &reports),
            "audit": client(client::AUDIT_AGENT, &audit),
            "bundle": {
                "audiences": [client::TOKEN_ENDPOINT], "require_expiration": true,
                "from_headers": [{"name": client::HEADER}],
                "local_jwks": {"inline_string": bundle},
                "claim_to_headers": ctoh(&[("x-client-id", "sub")])
            }
        },
        "rules": [
            rule("/pem/billing", provider("billing")),
            rule("/pem/reports", provider("reports")),
            rule("/pem/audit", provider("audit")),
            rule("/pem/bundle", provider("bundle"))
        ]
    })
}

// ------------------------------------------------------------------------------------------
// Checks

#[derive(Clone)]
enum Expect {
    /// 200 from the echo upstream, with these request headers as it saw them (`None`:
    /// absent). Native runs only look at the status.
    Pass(Vec<(&'static str, Option<String>)>),
    /// A local reply with this status and body.
    Fail(u16, &'static str),
}

enum Native {
    /// Native `jwt_authn` gives the same verdict.
    Same,
    /// Not run through native: it cannot express this (the reason).
    Skip(&'static str),
    /// Native legitimately answers this instead (the reason).
    Differs(Expect, &'static str),
}

struct Check {
    what: String,
    path: String,
    headers: Vec<(String, String)>,
    expect: Expect,
    native: Native,
    needs: Option<&'static str>,
}

impl Check {
    fn new(what: impl Into<String>, path: &str, token: &str, expect: Expect) -> Check {
        Check {
            what: what.into(),
            path: path.to_owned(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            expect,
            native: Native::Same,
            needs: None,
        }
    }

    /// The token in `header` (no prefix) instead of `Authorization: Bearer`.
    fn in_header(mut self, header: &str) -> Check {
        let token = self.headers[0].1.trim_start_matches("Bearer ").to_owned();
        self.headers[0] = (header.to_owned(), token);
        self
    }

    fn with_header(mut self, name: &str, value: &str) -> Check {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn native(mut self, native: Native) -> Check {
        self.native = native;
        self
    }

    fn needs(mut self, what: &'static str) -> Check {
        self.needs = Some(what);
        self
    }

    fn wasm_only(self, why: &'static str) -> Check {
        self.native(Native::Skip(why))
    }
}

fn pass(
    what: impl Into<String>,
    path: &str,
    token: &str,
    headers: &[(&'static str, &str)],
) -> Check {
    let headers = headers
        .iter()
        .map(|(n, v)| (*n, Some((*v).to_owned())))
        .collect();
    Check::new(what, path, token, Expect::Pass(headers))
}

fn fail(
    what: impl Into<String>,
    path: &str,
    token: &str,
    status: u16,
    body: &'static str,
) -> Check {
    Check::new(what, path, token, Expect::Fail(status, body))
}

const AUTHZ: &str = "the `authorization` extension";
const TENANTS: &str = "multi-tenant issuers (`{tenantid}`, `allowed_tenants`)";

/// Every check of the main Envoy, one table per identity provider.
fn main_checks(fx: &Fx) -> Vec<Check> {
    [
        okta_checks(fx),
        adfs_checks(fx),
        cognito_checks(fx),
        ping_checks(fx),
        azure_checks(fx),
        azure_tenants_checks(fx),
        google_checks(fx),
        firebase_checks(fx),
        keycloak_checks(fx),
        legacy_checks(fx),
        client_checks(fx),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The time claims of a token that expired an hour ago.
fn expired_times() -> Value {
    let t = now();
    json!({"iat": t - 7200, "nbf": t - 7200, "exp": t - 3600})
}

/// Okta: custom authorization server; `scp` is an array.
fn okta_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    vec![
        pass(
            "okta: access token",
            "/okta/orders",
            &fx.okta(0, json!({})),
            &[
                ("x-okta-uid", okta::UID),
                ("x-okta-scp", "orders:read,openid"),
                ("x-okta-cid", okta::CID),
            ],
        ),
        pass(
            "okta: token under the next key of the JWKS",
            "/okta/orders",
            &fx.okta(1, json!({})),
            &[("x-okta-uid", okta::UID)],
        ),
        fail(
            "okta: expired",
            "/okta/orders",
            &fx.okta(0, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "okta: another org",
            "/okta/orders",
            &fx.okta(0, json!({"iss": okta::OTHER_ORG_ISS})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "okta: the org authorization server of the same org",
            "/okta/orders",
            &fx.okta(0, json!({"iss": okta::ORG_ISS})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "okta: another API's audience",
            "/okta/orders",
            &fx.okta(0, json!({"aud": "api://billing"})),
            403,
            AUDIENCE,
        ),
        fail(
            "okta: tampered uid",
            "/okta/orders",
            &tampered(
                &fx.okta(0, json!({})),
                json!({"uid": "00uADMIN0000000000x1"}),
            ),
            401,
            VERIFICATION,
        ),
        pass(
            "okta: scp array grants the rule's scope",
            "/okta-scoped/orders",
            &fx.okta(0, json!({})),
            &[],
        )
        .wasm_only(AUTHZ),
        fail(
            "okta: scp array without the rule's scope",
            "/okta-scoped/orders",
            &fx.okta(0, json!({"scp": ["openid", "profile"]})),
            403,
            SCOPE,
        )
        .wasm_only(AUTHZ),
    ]
}

/// ADFS: an http:// issuer, x5t + kid headers, auth_time as a string, a backslash in
/// unique_name.
fn adfs_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    let p = &fx.adfs_primary.0;
    let rogue = &fx.azure_rogue;
    let rogue_cert = self_signed(rogue, "adfs.contoso.com", 8);
    vec![
        pass(
        "adfs: access token",
        "/adfs/orders",
        &fx.adfs(json!({})),
        &[
            ("x-adfs-upn", adfs::UPN),
            ("x-adfs-user", adfs::UNIQUE_NAME),
            ("x-adfs-appid", adfs::APPID),
        ],
    ),

        pass(
            "adfs: token under the rollover certificate (JWK with x5c only)",
            "/adfs/orders",
            &fx.adfs_with(&fx.adfs_rollover.0, json!({})),
            &[("x-adfs-upn", adfs::UPN)],
        )
        .needs(needs::X5C)
        .native(Native::Differs(
            Expect::Fail(401, KID_ALG),
            "native ignores x5c: a JWK without n/e is skipped",
        )),
        fail(
        "adfs: expired",
        "/adfs/orders",
        &fx.adfs(expired.clone()),
        401,
        EXPIRED,
    ),
        fail(
        "adfs: https:// instead of ADFS's http:// issuer",
        "/adfs/orders",
        &fx.adfs(json!({"iss": adfs::HTTPS_ISS})),
        401,
        UNKNOWN_ISSUER,
    ),
        fail(
        "adfs: another farm",
        "/adfs/orders",
        &fx.adfs(json!({"iss": adfs::OTHER_FARM_ISS})),
        401,
        UNKNOWN_ISSUER,
    ),
        fail(
        "adfs: another relying party",
        "/adfs/orders",
        &fx.adfs(json!({"aud": "https://hr.contoso.com/"})),
        403,
        AUDIENCE,
    ),
        fail(
        "adfs: tampered upn",
        "/adfs/orders",
        &tampered(&fx.adfs(json!({})), json!({"upn": "admin@contoso.com"})),
        401,
        VERIFICATION,
    ),
        pass(
        "adfs: AD FS 2012 R2 header, x5t without kid (keys tried in turn)",
        "/adfs/orders",
        &p.sign(
            &json!({"typ": "JWT", "alg": "RS256", "x5t": p.kid()}),
            &fx.adfs_claims(json!({})),
        ),
        &[("x-adfs-upn", adfs::UPN)],
    ),
        // Keys named by the token itself are never used: only the provider's keys verify.
        fail("adfs: the attacker's certificate in the token header's x5c", "/adfs/orders",
                &rogue.sign(&json!({"typ": "JWT", "alg": "RS256", "x5t": p.kid(), "kid": p.kid(), "x5c": [rogue_cert.x5c()]}), &fx.adfs_claims(json!({}))),
                401, VERIFICATION),
        fail(
        "adfs: the attacker's key in the token header's jwk",
        "/adfs/orders",
        &rogue.sign(
            &json!({"typ": "JWT", "alg": "RS256", "kid": p.kid(), "jwk": rogue.public_jwk()}),
            &fx.adfs_claims(json!({})),
        ),
        401,
        VERIFICATION,
    ),
        fail("adfs: jku naming the attacker's key set", "/adfs/orders",
                &rogue.sign(&json!({"typ": "JWT", "alg": "RS256", "kid": "attacker-1", "jku": "https://evil.example/keys"}), &fx.adfs_claims(json!({}))),
                401, KID_ALG),
    ]
}

/// Cognito: access tokens have no `aud` (client_id instead), ID tokens have it.
fn cognito_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    vec![
        pass(
            "cognito: access token",
            "/cognito/access/orders",
            &fx.cognito_access(0, json!({})),
            &[
                ("x-cognito-client", cognito::CLIENT),
                ("x-cognito-user", "alice"),
            ],
        )
        .wasm_only(AUTHZ),
        pass(
            "cognito: access token under the second key",
            "/cognito/raw/orders",
            &fx.cognito_access(1, json!({})),
            &[("x-cognito-client", cognito::CLIENT)],
        ),
        pass(
            "cognito: ID token",
            "/cognito/id/me",
            &fx.cognito_id(0, json!({})),
            &[
                ("x-cognito-user", "alice"),
                ("x-cognito-email-verified", "true"),
            ],
        ),
        pass(
            "cognito: ID token under the second key",
            "/cognito/id/me",
            &fx.cognito_id(1, json!({})),
            &[("x-cognito-user", "alice")],
        ),
        fail(
            "cognito: access token where the audience is checked (it has none)",
            "/cognito/id/me",
            &fx.cognito_access(0, json!({})),
            403,
            AUDIENCE,
        ),
        fail(
            "cognito: ID token where an access token is required",
            "/cognito/access/orders",
            &fx.cognito_id(0, json!({})),
            403,
            CLAIMS,
        )
        .wasm_only(AUTHZ),
        fail(
            "cognito: access token of another app client",
            "/cognito/access/orders",
            &fx.cognito_access(0, json!({"client_id": cognito::OTHER_CLIENT})),
            403,
            CLAIMS,
        )
        .wasm_only(AUTHZ),
        pass(
            "cognito: without a client check, another app client's token passes",
            "/cognito/raw/orders",
            &fx.cognito_access(0, json!({"client_id": cognito::OTHER_CLIENT})),
            &[("x-cognito-client", cognito::OTHER_CLIENT)],
        ),
        fail(
            "cognito: ID token of another app client",
            "/cognito/id/me",
            &fx.cognito_id(0, json!({"aud": cognito::OTHER_CLIENT})),
            403,
            AUDIENCE,
        ),
        fail(
            "cognito: another user pool",
            "/cognito/raw/orders",
            &fx.cognito_access_with(
                &fx.cognito_other_pool,
                json!({"iss": cognito::OTHER_POOL_ISS}),
            ),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "cognito: another user pool's key under this pool's issuer and kid",
            "/cognito/raw/orders",
            &fx.cognito_access_with(&fx.cognito_other_pool, json!({})),
            401,
            VERIFICATION,
        ),
        fail(
            "cognito: expired",
            "/cognito/raw/orders",
            &fx.cognito_access(0, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "cognito: tampered groups",
            "/cognito/id/me",
            &tampered(
                &fx.cognito_id(0, json!({})),
                json!({"cognito:groups": ["admins"]}),
            ),
            401,
            VERIFICATION,
        ),
        pass(
            "cognito: client_id bound to the API key's client",
            "/cognito/bound/orders",
            &fx.cognito_access(0, json!({})),
            &[],
        )
        .with_header("x-api-client", cognito::CLIENT)
        .wasm_only(AUTHZ),
        fail(
            "cognito: client_id of another API key",
            "/cognito/bound/orders",
            &fx.cognito_access(0, json!({})),
            403,
            CLIENT,
        )
        .with_header("x-api-client", cognito::OTHER_CLIENT)
        .wasm_only(AUTHZ),
    ]
}

/// PingFederate: EC P-256/P-384/P-521 and RSA keys without `alg`, picked by kid and type.
fn ping_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    let ping_headers: &[(&'static str, &str)] =
        &[("x-ping-user", "alice"), ("x-ping-client", ping::CLIENT)];
    vec![
        pass(
            "ping: RS256 under the RSA key without alg",
            "/ping/orders",
            &fx.ping(&fx.ping_rsa.0, json!({})),
            ping_headers,
        ),
        pass(
            "ping: PS256 under the same RSA key",
            "/ping/orders",
            &fx.ping(&fx.ping_rsa.0.with_alg(Alg::PS256).unwrap(), json!({})),
            ping_headers,
        ),
        pass(
            "ping: ES256 under the P-256 key",
            "/ping/orders",
            &fx.ping(&fx.ping_p256, json!({})),
            ping_headers,
        ),
        pass(
            "ping: ES384 under the P-384 key",
            "/ping/orders",
            &fx.ping(&fx.ping_p384, json!({})),
            ping_headers,
        ),
        pass(
            "ping: ES512 under the P-521 key",
            "/ping/orders",
            &fx.ping(&fx.ping_p521, json!({})),
            ping_headers,
        ),
        pass(
            "ping: ES384 without kid (keys tried by type)",
            "/ping/orders",
            &fx.ping_with(&fx.ping_p384, None, json!({})),
            ping_headers,
        ),
        pass(
            "ping: ES256 under the EC key given by its certificate only",
            "/ping/orders",
            &fx.ping(&fx.ping_p256_cert.0, json!({})),
            ping_headers,
        )
        .needs(needs::X5C)
        .native(Native::Differs(
            Expect::Fail(401, KID_ALG),
            "native ignores x5c: an EC JWK without x/y is skipped",
        )),
        fail(
            "ping: token under the EC JWK whose x/y disagree with its x5c",
            "/ping/orders",
            &fx.ping(&fx.ping_rogue_ec, json!({})),
            401,
            KID_ALG,
        )
        .needs(needs::X5C)
        .native(Native::Differs(
            Expect::Pass(vec![]),
            "native ignores x5c and trusts x/y",
        )),
        fail(
            "ping: signed with the decryption key (use: enc, no alg)",
            "/ping/orders",
            &fx.ping(&fx.ping_enc, json!({})),
            401,
            body::KID_ALG,
        )
        .native(Native::Differs(
            Expect::Pass(vec![]),
            "native never looks at `use`: a JWK without `alg` verifies whatever its use",
        )),
        fail(
            "ping: ES256 naming the P-384 key's kid",
            "/ping/orders",
            &fx.ping_with(&fx.ping_p256, Some(fx.ping_p384.kid()), json!({})),
            401,
            VERIFICATION,
        ),
        fail(
            "ping: expired",
            "/ping/orders",
            &fx.ping(&fx.ping_p256, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "ping: another environment",
            "/ping/orders",
            &fx.ping(&fx.ping_p256, json!({"iss": ping::OTHER_ENV_ISS})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "ping: another API's audience",
            "/ping/orders",
            &fx.ping(&fx.ping_p521, json!({"aud": "billing-api"})),
            403,
            AUDIENCE,
        ),
        fail(
            "ping: tampered Username",
            "/ping/orders",
            &tampered(
                &fx.ping(&fx.ping_p384, json!({})),
                json!({"Username": "admin"}),
            ),
            401,
            VERIFICATION,
        ),
    ]
}

/// The headers an Azure token of `tenant` gives the upstream.
fn az(tenant: &str) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("x-azure-oid", Some(azure::OID.to_owned())),
        ("x-azure-tid", Some(tenant.to_owned())),
        ("x-azure-roles", Some("Orders.Read,Orders.Write".to_owned())),
    ]
}

/// Azure AD / Entra ID: v1 and v2 tokens of one tenant on one route, one shared JWKS.
fn azure_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    vec![
        Check::new(
            "azure: v1 token (sts.windows.net, x5t header)",
            "/azure/orders",
            &fx.azure_v1(0, azure::T1, json!({})),
            Expect::Pass(az(azure::T1)),
        ),
        Check::new(
            "azure: v2 token (login.microsoftonline.com/<tid>/v2.0)",
            "/azure/orders",
            &fx.azure_v2(1, azure::T1, json!({})),
            Expect::Pass(az(azure::T1)),
        ),
        fail(
            "azure: expired v2 token",
            "/azure/orders",
            &fx.azure_v2(0, azure::T1, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "azure: v2 token of another tenant, signed with the shared keys",
            "/azure/orders",
            &fx.azure_v2(0, azure::T2, json!({})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "azure: v1 token of another tenant",
            "/azure/orders",
            &fx.azure_v1(1, azure::T2, json!({})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "azure: v2 token for another app",
            "/azure/orders",
            &fx.azure_v2(0, azure::T1, json!({"aud": azure::OTHER_CLIENT})),
            403,
            AUDIENCE,
        ),
        fail(
            "azure: v1 token carrying the v2 audience",
            "/azure/orders",
            &fx.azure_v1(0, azure::T1, json!({"aud": azure::OTHER_CLIENT})),
            403,
            AUDIENCE,
        ),
        fail(
            "azure: tampered roles",
            "/azure/orders",
            &tampered(
                &fx.azure_v2(1, azure::T1, json!({})),
                json!({"roles": ["Orders.Admin"]}),
            ),
            401,
            VERIFICATION,
        ),
        fail(
            "azure: token under the JWK whose n/e disagree with its x5c (n/e's key)",
            "/azure/orders",
            &fx.azure_v2_with(
                &fx.azure_rogue,
                &fx.azure_mismatch_kid,
                azure::T1,
                json!({}),
            ),
            401,
            KID_ALG,
        )
        .needs(needs::X5C)
        .native(Native::Differs(
            Expect::Pass(vec![]),
            "native ignores x5c and trusts n/e",
        )),
        fail(
            "azure: token under the JWK whose n/e disagree with its x5c (x5c's key)",
            "/azure/orders",
            &fx.azure_v2_with(&fx.azure[0].0, &fx.azure_mismatch_kid, azure::T1, json!({})),
            401,
            KID_ALG,
        )
        .needs(needs::X5C)
        .native(Native::Differs(
            Expect::Fail(401, VERIFICATION),
            "native ignores x5c: n/e do not verify it",
        )),
        Check::new(
            "azure: the other keys still work after the skipped one",
            "/azure/orders",
            &fx.azure_v1(1, azure::T1, json!({})),
            Expect::Pass(az(azure::T1)),
        ),
    ]
}

/// Azure multi-tenant: `{tenantid}` with listed tenants, then with any tenant.
fn azure_tenants_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    let two_segments = format!("{}/{}", azure::T3, azure::T1);
    vec![
        Check::new(
            "azure-mt: listed tenant 1",
            "/azure-mt/orders",
            &fx.azure_v2(0, azure::T1, json!({})),
            Expect::Pass(az(azure::T1)),
        )
        .wasm_only(TENANTS),
        Check::new(
            "azure-mt: listed tenant 2",
            "/azure-mt/orders",
            &fx.azure_v2(1, azure::T2, json!({})),
            Expect::Pass(az(azure::T2)),
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: unlisted tenant",
            "/azure-mt/orders",
            &fx.azure_v2(0, azure::T3, json!({})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: tid differs from the issuer's tenant",
            "/azure-mt/orders",
            &fx.azure_v2(0, azure::T1, json!({"tid": azure::T2})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: no tid",
            "/azure-mt/orders",
            &fx.azure_v2(0, azure::T1, json!({"tid": null})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: v1 issuer of a listed tenant",
            "/azure-mt/orders",
            &fx.azure_v1(0, azure::T1, json!({"aud": azure::CLIENT})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: expired, listed tenant",
            "/azure-mt/orders",
            &fx.azure_v2(1, azure::T2, expired.clone()),
            401,
            EXPIRED,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-mt: listed tenant, another app",
            "/azure-mt/orders",
            &fx.azure_v2(1, azure::T2, json!({"aud": azure::OTHER_CLIENT})),
            403,
            AUDIENCE,
        )
        .wasm_only(TENANTS),
        Check::new(
            "azure-any: any tenant",
            "/azure-any/orders",
            &fx.azure_v2(0, azure::T3, json!({})),
            Expect::Pass(az(azure::T3)),
        )
        .wasm_only(TENANTS),
        fail(
            "azure-any: a tenant spanning two path segments",
            "/azure-any/orders",
            &fx.azure_v2(
                0,
                azure::T3,
                json!({"iss": azure::v2_iss(&two_segments), "tid": two_segments}),
            ),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-any: tid differs from the issuer's tenant",
            "/azure-any/orders",
            &fx.azure_v2(0, azure::T3, json!({"tid": azure::T1})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-any: tampered tenant",
            "/azure-any/orders",
            &tampered(
                &fx.azure_v2(0, azure::T3, json!({})),
                json!({"iss": azure::v2_iss(azure::T2), "tid": azure::T2}),
            ),
            401,
            VERIFICATION,
        )
        .wasm_only(TENANTS),
        Check::new(
            "azure-v1-mt: v1 token of listed tenant 2",
            "/azure-v1-mt/orders",
            &fx.azure_v1(0, azure::T2, json!({})),
            Expect::Pass(az(azure::T2)),
        )
        .wasm_only(TENANTS),
        fail(
            "azure-v1-mt: unlisted tenant",
            "/azure-v1-mt/orders",
            &fx.azure_v1(1, azure::T3, json!({})),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
        fail(
            "azure-v1-mt: issuer without its trailing slash",
            "/azure-v1-mt/orders",
            &fx.azure_v1(
                0,
                azure::T1,
                json!({"iss": format!("https://sts.windows.net/{}", azure::T1)}),
            ),
            401,
            UNKNOWN_ISSUER,
        )
        .wasm_only(TENANTS),
    ]
}

/// Google ID tokens: both issuer spellings, the OAuth client id as `aud`.
fn google_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    let g: &[(&'static str, &str)] = &[
        ("x-google-sub", google::SUB),
        ("x-google-email", "alice@example.com"),
        ("x-google-email-verified", "true"),
    ];
    vec![
        pass(
            "google: ID token",
            "/google/me",
            &fx.google(0, json!({})),
            g,
        ),
        pass(
            "google: ID token with iss without https://",
            "/google/me",
            &fx.google(1, json!({"iss": google::BARE_ISS})),
            g,
        ),
        fail(
            "google: expired",
            "/google/me",
            &fx.google(0, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "google: another OAuth client's ID token",
            "/google/me",
            &fx.google(
                1,
                json!({"aud": google::OTHER_CLIENT, "azp": google::OTHER_CLIENT}),
            ),
            403,
            AUDIENCE,
        ),
        fail(
            "google: tampered email",
            "/google/me",
            &tampered(
                &fx.google(0, json!({})),
                json!({"email": "ceo@example.com"}),
            ),
            401,
            VERIFICATION,
        ),
        fail(
            "google: a Firebase token is not a Google ID token",
            "/google/me",
            &fx.firebase(0, json!({})),
            401,
            UNKNOWN_ISSUER,
        ),
    ]
}

/// Firebase: the key document maps kids to PEM certificates.
fn firebase_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    let other_iss = format!("https://securetoken.google.com/{}", firebase::OTHER_PROJECT);
    let (k0, cert0) = &fx.firebase[0];
    vec![
        pass(
            "firebase: ID token",
            "/firebase/me",
            &fx.firebase(0, json!({})),
            &[
                ("x-firebase-uid", firebase::UID),
                ("x-firebase-provider", "password"),
            ],
        )
        .needs(needs::X509_MAP),
        pass(
            "firebase: ID token under the second certificate",
            "/firebase/me",
            &fx.firebase(1, json!({})),
            &[("x-firebase-uid", firebase::UID)],
        )
        .needs(needs::X509_MAP),
        fail(
            "firebase: expired",
            "/firebase/me",
            &fx.firebase(0, expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "firebase: another project",
            "/firebase/me",
            &fx.firebase(0, json!({"iss": other_iss, "aud": firebase::OTHER_PROJECT})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "firebase: another project's audience",
            "/firebase/me",
            &fx.firebase(1, json!({"aud": firebase::OTHER_PROJECT})),
            403,
            AUDIENCE,
        ),
        fail(
            "firebase: tampered uid",
            "/firebase/me",
            &tampered(
                &fx.firebase(0, json!({})),
                json!({"user_id": "admin", "sub": "admin"}),
            ),
            401,
            VERIFICATION,
        )
        .needs(needs::X509_MAP),
        fail(
            "firebase: HS256 keyed with the certificate's PEM text",
            "/firebase/me",
            &hs256_with_secret(
                cert0.pem().as_bytes(),
                json!({"alg": "HS256", "kid": k0.kid(), "typ": "JWT"}),
                &fx.firebase_claims(json!({})),
            ),
            401,
            VERIFICATION,
        )
        .needs(needs::X509_MAP),
    ]
}

/// Keycloak: `aud` array, nested realm roles, and an encryption key in the realm's JWKS.
fn keycloak_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let expired = expired_times();
    vec![
        pass(
            "keycloak: access token",
            "/keycloak/orders",
            &fx.keycloak(json!({})),
            &[
                (
                    "x-kc-roles",
                    "offline_access,orders-admin,uma_authorization",
                ),
                ("x-kc-user", "alice"),
                ("x-kc-azp", keycloak::AZP),
            ],
        ),
        fail(
            "keycloak: expired",
            "/keycloak/orders",
            &fx.keycloak(expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "keycloak: another realm",
            "/keycloak/orders",
            &fx.keycloak(json!({"iss": keycloak::OTHER_REALM_ISS})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "keycloak: only the account audience",
            "/keycloak/orders",
            &fx.keycloak(json!({"aud": ["account"]})),
            403,
            AUDIENCE,
        ),
        fail(
            "keycloak: tampered realm roles",
            "/keycloak/orders",
            &tampered(
                &fx.keycloak(json!({"realm_access": {"roles": ["default"]}})),
                json!({"realm_access": {"roles": ["orders-admin"]}}),
            ),
            401,
            VERIFICATION,
        ),
        // The filter skips the `use: enc` key, so its kid is unknown (one refetch, then refused);
        // native keeps it but its alg RSA-OAEP does not match RS256. Same answer.
        fail(
            "keycloak: signed with the realm's encryption key (use: enc)",
            "/keycloak/orders",
            &fx.keycloak_with(&fx.keycloak_enc.0, json!({})),
            401,
            KID_ALG,
        ),
        pass(
            "keycloak: signing key still works",
            "/keycloak/orders",
            &fx.keycloak(json!({})),
            &[("x-kc-user", "alice")],
        ),
        pass(
            "keycloak: realm role required and held",
            "/keycloak-admin/orders",
            &fx.keycloak(json!({})),
            &[],
        )
        .wasm_only(AUTHZ),
        fail(
            "keycloak: realm role required, not held",
            "/keycloak-admin/orders",
            &fx.keycloak(json!({"realm_access": {"roles": ["offline_access"]}})),
            403,
            CLAIMS,
        )
        .wasm_only(AUTHZ),
    ]
}

/// Legacy in-house HS256: no kid, no aud, numeric claims.
fn legacy_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let t = now();
    let expired = expired_times();
    let raw = format!(
        r#"{{"iss":"legacy-sso","sub":"alice","profile":"https:\/\/intranet.example\/u\/alice","user_id":48213,"org_id":7,"iat":{t},"exp":{}}}"#,
        t + 3600
    );
    vec![
        pass(
            "legacy: HS256 token",
            "/legacy/orders",
            &fx.legacy(json!({})),
            &[("x-legacy-user-id", "48213"), ("x-legacy-org", "7")],
        ),
        fail(
            "legacy: expired",
            "/legacy/orders",
            &fx.legacy(expired.clone()),
            401,
            EXPIRED,
        ),
        fail(
            "legacy: another installation's secret",
            "/legacy/orders",
            &fx.legacy_with(&fx.legacy_other_install, json!({})),
            401,
            VERIFICATION,
        ),
        fail(
            "legacy: tampered user_id",
            "/legacy/orders",
            &tampered(&fx.legacy(json!({})), json!({"user_id": 1})),
            401,
            VERIFICATION,
        ),
        fail(
            "legacy: another issuer",
            "/legacy/orders",
            &fx.legacy(json!({"iss": "other-sso"})),
            401,
            UNKNOWN_ISSUER,
        ),
        fail(
            "legacy: no exp",
            "/legacy/orders",
            &fx.legacy(json!({"exp": null})),
            401,
            VERIFICATION,
        ),
        // Older JSON encoders (PHP's json_encode by default) escape `/` as `\/`.
        pass(
            "legacy: JSON with escaped slashes",
            "/legacy/orders",
            &sign_text(&fx.legacy, r#"{"typ":"JWT","alg":"HS256"}"#, &raw),
            &[("x-legacy-user-id", "48213")],
        ),
        // Python services often write time.time() as it is.
        pass(
            "legacy: exp and iat with a fraction",
            "/legacy/orders",
            &sign_text(
                &fx.legacy,
                r#"{"typ":"JWT","alg":"HS256"}"#,
                &format!(
                    r#"{{"iss":"legacy-sso","sub":"alice","user_id":48213,"iat":{t}.25,"exp":{}.75}}"#,
                    t + 3600
                ),
            ),
            &[("x-legacy-user-id", "48213")],
        ),
    ]
}

/// RFC 7523 client assertion in its own header, the client's registered EC key.
fn client_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let t = now();
    let k = &fx.client_orders_batch;
    let batch = |changes: Value| Fx::assertion(k, client::ORDERS_BATCH, changes);
    let h = client::HEADER;
    vec![
        pass(
            "client assertion: valid",
            "/client/token-exchange",
            &batch(json!({"jti": "4d1c1e6a-7b0e-4b8f-9a55-0f1d2c3b4a59"})),
            &[
                ("x-client-id", client::ORDERS_BATCH),
                ("x-assertion-jti", "4d1c1e6a-7b0e-4b8f-9a55-0f1d2c3b4a59"),
            ],
        )
        .in_header(h),
        fail(
            "client assertion: expired",
            "/client/token-exchange",
            &batch(json!({"iat": t - 600, "exp": t - 540})),
            401,
            EXPIRED,
        )
        .in_header(h),
        fail(
            "client assertion: lifetime over max_lifetime",
            "/client/token-exchange",
            &batch(json!({"exp": t + 3600})),
            401,
            VERIFICATION,
        )
        .in_header(h),
        fail(
            "client assertion: no exp",
            "/client/token-exchange",
            &batch(json!({"exp": null})),
            401,
            VERIFICATION,
        )
        .in_header(h),
        fail(
            "client assertion: sub is another client",
            "/client/token-exchange",
            &batch(json!({"sub": client::BILLING_SYNC})),
            401,
            VERIFICATION,
        )
        .in_header(h),
        fail(
            "client assertion: another key under the client's kid",
            "/client/token-exchange",
            &Fx::assertion(&fx.stranger_ec, client::ORDERS_BATCH, json!({})),
            401,
            VERIFICATION,
        )
        .in_header(h),
        fail(
            "client assertion: for another authorization server",
            "/client/token-exchange",
            &batch(json!({"aud": "https://as.partner.example/token"})),
            403,
            AUDIENCE,
        )
        .in_header(h),
        fail(
            "client assertion: another client",
            "/client/token-exchange",
            &Fx::assertion(k, client::BILLING_SYNC, json!({})),
            401,
            UNKNOWN_ISSUER,
        )
        .in_header(h),
        fail(
            "client assertion: sent as a bearer token",
            "/client/token-exchange",
            &batch(json!({})),
            401,
            MISSING,
        ),
    ]
}

fn pem_checks(fx: &Fx) -> Vec<Check> {
    use body::*;
    let t = now();
    let h = client::HEADER;
    let mut c = Vec::new();
    let clients: [(&str, &str, &Key, String); 3] = [
        (
            "billing (PUBLIC KEY, RSA)",
            client::BILLING_SYNC,
            &fx.client_billing,
            pem("PUBLIC KEY", &spki_der(&fx.client_billing)),
        ),
        (
            "reports (RSA PUBLIC KEY)",
            client::REPORTS_JOB,
            &fx.client_reports,
            pem("RSA PUBLIC KEY", &pkcs1_der(&fx.client_reports)),
        ),
        (
            "audit (CERTIFICATE, EC P-256)",
            client::AUDIT_AGENT,
            &fx.client_audit.0,
            fx.client_audit.1.pem(),
        ),
    ];
    for (name, id, key, pem_text) in &clients {
        let path = format!("/pem/{}", name.split(' ').next().unwrap());
        c.push(
            pass(
                format!("{name}: valid assertion"),
                &path,
                &Fx::assertion(key, id, json!({})),
                &[("x-client-id", *id)],
            )
            .in_header(h),
        );
        c.push(
            fail(
                format!("{name}: expired"),
                &path,
                &Fx::assertion(key, id, json!({"iat": t - 600, "exp": t - 540})),
                401,
                EXPIRED,
            )
            .in_header(h),
        );
        let other = if key.alg() == Alg::ES256 {
            fx.stranger_ec.clone()
        } else {
            fx.azure_rogue.with_kid(key.kid())
        };
        c.push(
            fail(
                format!("{name}: signed by another key"),
                &path,
                &Fx::assertion(&other, id, json!({})),
                401,
                VERIFICATION,
            )
            .in_header(h),
        );
        c.push(
            fail(
                format!("{name}: tampered jti"),
                &path,
                &tampered(
                    &Fx::assertion(key, id, json!({})),
                    json!({"jti": "replayed"}),
                ),
                401,
                VERIFICATION,
            )
            .in_header(h),
        );
        for (how, secret) in [
            ("the PEM text", pem_text.as_str()),
            (
                "the PEM text without its final newline",
                pem_text.trim_end(),
            ),
        ] {
            c.push(
                fail(
                    format!("{name}: HS256 keyed with {how}"),
                    &path,
                    &hs256_with_secret(
                        secret.as_bytes(),
                        json!({"alg": "HS256", "typ": "JWT"}),
                        &Fx::assertion_claims(id, json!({})),
                    ),
                    401,
                    VERIFICATION,
                )
                .in_header(h),
            );
        }
        c.push(
            pass(
                format!("{name}: valid assertion, key found in a bundle of PEM blocks"),
                "/pem/bundle",
                &Fx::assertion(key, id, json!({})),
                &[("x-client-id", *id)],
            )
            .in_header(h),
        );
    }
    for c in &mut c {
        c.needs = Some(needs::PEM);
        c.native = Native::Skip("native local_jwks takes no PEM");
    }
    c
}

// ------------------------------------------------------------------------------------------
// Certificates as the fixtures use them (the encodings are in `jwt_mint::x509`)

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

struct Cert {
    der: Vec<u8>,
}

impl Cert {
    /// For a JWK's `x5c`: standard base64, not base64url (RFC 7517 §4.7).
    fn x5c(&self) -> String {
        STANDARD.encode(&self.der)
    }

    /// SHA-1 thumbprint, base64url (`x5t`).
    fn x5t(&self) -> String {
        b64url(&sha1(&self.der))
    }

    /// SHA-256 thumbprint, base64url (`x5t#S256`).
    fn x5t_s256(&self) -> String {
        b64url(&Sha256::digest(&self.der))
    }

    /// PEM with Google's layout: 64-column lines, a final newline.
    fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }
}

fn jwk_bytes(key: &Key, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(key.public_jwk()[name].as_str().unwrap())
        .unwrap()
}

/// A private JWK member (`d`).
fn member_private(key: &Key, name: &str) -> String {
    key.private_jwk()[name].as_str().unwrap().to_owned()
}

/// A self-signed certificate for `key` (subject = issuer = `CN=<cn>`; no extensions, so v1),
/// signed by the key itself (RSA keys as RS256), valid 2024-2049. Its serial is 64 bits from the
/// key, so two certificates never share one, with `serial` mixed into the last byte.
fn self_signed(key: &Key, cn: &str, serial: u64) -> Cert {
    let spki = spki_der(key);
    let mut serial_bytes = Sha256::digest(&spki)[..8].to_vec();
    serial_bytes[0] &= 0x7f;
    serial_bytes[7] ^= serial as u8;
    // DER's minimal INTEGER: no leading zero byte unless the next one has its top bit set.
    while serial_bytes.len() > 1 && serial_bytes[0] == 0 && serial_bytes[1] & 0x80 == 0 {
        serial_bytes.remove(0);
    }
    let template = Template {
        serial: serial_bytes,
        ..Template::new(&format!("CN={cn}"))
    };
    Cert {
        der: x509::certificate(&spki, &template, Signer::Key(key)),
    }
}

/// SHA-1 (FIPS 180-4), only for `x5t` thumbprints: the crate has no SHA-1 and needs none.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, v) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}
