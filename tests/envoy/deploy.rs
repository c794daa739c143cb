//! The deployment files in deploy/:
//! - every Kubernetes document matches the OpenAPI schema its CRD publishes (vendored under
//!   tests/data/crds/, see the README there), read as the API server reads it: unknown fields
//!   refused unless the schema keeps them (kubectl's strict field validation), `apiVersion`,
//!   `kind` and `metadata` always allowed. The schemas' CEL rules (`x-kubernetes-validations`)
//!   are not evaluated; the ones these manifests can break are checked by hand below;
//! - the filter configuration inside each manifest passes the filter's own parser, and loads in a
//!   real Envoy through a cluster named as Istio or Envoy Gateway names it, verifying a token;
//! - the Envoy example without `runtime:` passes `envoy --mode validate`.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`); a missing one fails the test.

use std::fs;
use std::path::{Path, PathBuf};

use jwt_mint::{jwks, Alg, Key};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::{
    now, validate, wasm_builds, EnvoyBuilder, JwksStub, TempDir, Upstream, CRATE_ROOT,
};

const ISTIO: &str = "deploy/istio/wasmplugin.yaml";
const ENVOY_GATEWAY: &str = "deploy/envoy-gateway/envoyextensionpolicy.yaml";
const ENVOY_ANY_RUNTIME: &str = "deploy/envoy/any-runtime.yaml";

// ------------------------------------------------------------------------------------------
// Tests

#[test]
fn manifests_match_their_crd_schemas() {
    let crds = Crds::load();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in kube_manifests() {
        for (i, doc) in documents(&file).iter().enumerate() {
            let what = format!("{} document {} ({})", file.display(), i + 1, doc["kind"]);
            match crds.check(doc) {
                Ok(()) => checked += 1,
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(
        checked, 5,
        "ServiceEntry, DestinationRule, WasmPlugin, EnvoyPatchPolicy, EnvoyExtensionPolicy"
    );
}

/// The schema check is not a formality: what the API server would refuse, it refuses.
#[test]
fn crd_schemas_refuse_broken_manifests() {
    let crds = Crds::load();
    let plugin = doc_of_kind(ISTIO, "WasmPlugin");
    let policy = doc_of_kind(ENVOY_GATEWAY, "EnvoyExtensionPolicy");
    let patch = doc_of_kind(ENVOY_GATEWAY, "EnvoyPatchPolicy");
    let broken: Vec<(&str, Value)> = vec![
        (
            "unknown spec field",
            with(&plugin, "/spec/failStrategyy", json!("FAIL_CLOSE")),
        ),
        (
            "phase not in the enum",
            with(&plugin, "/spec/phase", json!("AUTHENTICATION")),
        ),
        (
            "sha256 not 64 hex digits",
            with(&plugin, "/spec/sha256", json!("sha256:00")),
        ),
        ("url missing", without(&plugin, "/spec/url")),
        (
            "pluginConfig not an object",
            with(&plugin, "/spec/pluginConfig", json!("{}")),
        ),
        (
            "unknown wasm field",
            with(&policy, "/spec/wasm/0/rootId", json!("jwt_authn")),
        ),
        (
            "code type not in the enum",
            with(&policy, "/spec/wasm/0/code/type", json!("OCI")),
        ),
        (
            "failOpen not a boolean",
            with(&policy, "/spec/wasm/0/failOpen", json!("false")),
        ),
        (
            "image url missing",
            without(&policy, "/spec/wasm/0/code/image/url"),
        ),
        (
            "patch op not in the enum",
            with(&patch, "/spec/jsonPatches/0/operation/op", json!("create")),
        ),
        ("unknown kind", with(&plugin, "/kind", json!("WasmPlugins"))),
    ];
    for (what, doc) in broken {
        assert!(crds.check(&doc).is_err(), "{what}: accepted:\n{doc:#}");
    }
}

/// What the issue asks of the manifests, and the CEL rules of their CRDs that these documents
/// could break (the schema check above does not evaluate CEL).
#[test]
fn manifests_say_what_a_fail_closed_deployment_needs() {
    let plugin = doc_of_kind(ISTIO, "WasmPlugin")["spec"].clone();
    let url = plugin["url"].as_str().unwrap();
    assert!(url.starts_with("oci://"), "{url}");
    assert_eq!(plugin["phase"], "AUTHN");
    assert_eq!(plugin["failStrategy"], "FAIL_CLOSE");
    assert_eq!(plugin["pluginName"], "jwt_authn");
    assert!(is_hex64(&plugin["sha256"]), "{}", plugin["sha256"]);
    // CEL: only one of targetRefs or selector can be set.
    let selectors = ["selector", "targetRef", "targetRefs"];
    assert!(
        selectors
            .iter()
            .filter(|k| plugin.get(**k).is_some())
            .count()
            <= 1
    );

    let policy = doc_of_kind(ENVOY_GATEWAY, "EnvoyExtensionPolicy")["spec"].clone();
    let wasm = &policy["wasm"][0];
    assert_eq!(wasm["code"]["type"], "Image");
    assert_eq!(wasm["rootID"], "jwt_authn");
    assert_eq!(wasm["failOpen"], false);
    assert!(is_hex64(&wasm["code"]["image"]["sha256"]));
    // CEL: if type is Image, image (and no http) is set.
    assert!(wasm["code"].get("image").is_some() && wasm["code"].get("http").is_none());
    // CEL: targetRefs only, each in gateway.networking.k8s.io and of an allowed kind.
    assert!(policy.get("targetRef").is_none());
    for r in policy["targetRefs"].as_array().unwrap() {
        assert_eq!(r["group"], "gateway.networking.k8s.io");
        assert!(["Gateway", "HTTPRoute", "GRPCRoute"].contains(&r["kind"].as_str().unwrap()));
    }
    let patch = doc_of_kind(ENVOY_GATEWAY, "EnvoyPatchPolicy")["spec"].clone();
    assert_eq!(patch["targetRef"]["group"], "gateway.networking.k8s.io");
    assert_eq!(patch["targetRef"]["kind"], "Gateway");

    // Both remote JWKS clusters are the ones made next to them.
    let cluster = |config: &Value| {
        config["providers"]["idp"]["remote_jwks"]["http_uri"]["cluster"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let entry = doc_of_kind(ISTIO, "ServiceEntry")["spec"].clone();
    assert_eq!(
        cluster(&plugin["pluginConfig"]),
        format!(
            "outbound|{}||{}",
            entry["ports"][0]["number"],
            entry["hosts"][0].as_str().unwrap()
        )
    );
    assert_eq!(
        cluster(&wasm["config"]),
        patch["jsonPatches"][0]["name"].as_str().unwrap()
    );
    assert_eq!(
        patch["jsonPatches"][0]["operation"]["value"]["name"],
        patch["jsonPatches"][0]["name"]
    );
}

#[test]
fn plugin_configs_pass_the_filters_parser() {
    for (what, config) in plugin_configs() {
        if let Err(e) = jwt_authn_wasm::authn::model::Config::parse(&config.to_string()) {
            panic!("{what}: the filter refuses its configuration: {e}\n{config:#}");
        }
    }
}

/// Each manifest's configuration in Envoy, with its JWKS cluster under the name the manifest
/// gives it (`outbound|443||idp.example.com` as Istio names a ServiceEntry's cluster; the
/// EnvoyPatchPolicy's `idp_jwks`), pointed at a stub serving the keys: a token of the
/// configured issuer and audience passes with its claim header, another audience gets 403, none
/// gets 401.
#[test]
fn plugin_configs_verify_tokens_in_envoy() {
    let key = Key::from_seed(Alg::RS256, "deploy-rs256", 1);
    let stub = JwksStub::start(200, jwks(&[&key]).to_string());
    let upstream = Upstream::start();
    for (what, config) in plugin_configs() {
        let provider = &config["providers"]["idp"];
        let cluster = provider["remote_jwks"]["http_uri"]["cluster"]
            .as_str()
            .unwrap();
        let proxy = EnvoyBuilder::new(&upstream)
            .plugin(&config)
            .jwks_cluster(cluster, stub.port())
            .start();
        let t = now();
        let claims = json!({
            "iss": provider["issuer"], "aud": provider["audiences"][0], "sub": "alice",
            "iat": t, "exp": t + 600,
        });
        let r = proxy.bearer("/orders", &key.token(&claims));
        assert_eq!(r.status, 200, "{what}: {r}\n{}", proxy.log());
        assert_eq!(
            r.upstream_header("x-jwt-sub").as_deref(),
            Some("alice"),
            "{what}: {r}"
        );
        let mut other = claims.clone();
        other["aud"] = json!("another-api");
        let r = proxy.bearer("/orders", &key.token(&other));
        assert_eq!(r.status, 403, "{what}: {r}");
        assert_eq!(proxy.get("/orders", &[]).status, 401, "{what}");
        assert_eq!(proxy.get("/healthz", &[]).status, 200, "{what}");
        assert!(
            proxy.vm_trouble().is_empty(),
            "{what}: {:?}",
            proxy.vm_trouble()
        );
    }
}

/// Envoy accepts a `vm_config` without `runtime` (it takes the first runtime it was built
/// with), so this example loads in an Envoy built with any runtime. It names the portable
/// build; it is validated with each build `make build`/`make dist` left beside the filter under
/// test (the same file, only the module path changed), so every build loads this way in V8.
#[test]
fn envoy_example_without_runtime_validates() {
    let path = Path::new(CRATE_ROOT).join(ENVOY_ANY_RUNTIME);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("runtime:")),
        "{ENVOY_ANY_RUNTIME} names a runtime"
    );
    const NAMED: &str = "filename: dist/jwt_authn.portable.wasm";
    assert_eq!(
        text.matches(NAMED).count(),
        1,
        "{ENVOY_ANY_RUNTIME}: `{NAMED}`"
    );
    let tmp = TempDir::new("jwt-authn-deploy");
    for build in wasm_builds().unwrap_or_else(|e| panic!("{e}")) {
        let copy = tmp.path().join("any-runtime.yaml");
        fs::write(
            &copy,
            text.replace(NAMED, &format!("filename: {}", build.display())),
        )
        .unwrap();
        if let Err(e) = validate(&copy) {
            panic!(
                "envoy --mode validate refused it with {}:\n{e}",
                build.display()
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Manifests

fn kube_manifests() -> Vec<PathBuf> {
    [ISTIO, ENVOY_GATEWAY]
        .iter()
        .map(|p| Path::new(CRATE_ROOT).join(p))
        .collect()
}

/// The YAML documents of a file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn doc_of_kind(file: &str, kind: &str) -> Value {
    let docs = documents(&Path::new(CRATE_ROOT).join(file));
    let mut of_kind = docs.into_iter().filter(|d| d["kind"] == kind);
    let doc = of_kind
        .next()
        .unwrap_or_else(|| panic!("{file}: no {kind}"));
    assert!(of_kind.next().is_none(), "{file}: more than one {kind}");
    doc
}

/// The filter configuration of each deployment: (where, JSON).
fn plugin_configs() -> Vec<(String, Value)> {
    let envoy = documents(&Path::new(CRATE_ROOT).join(ENVOY_ANY_RUNTIME));
    let listeners = envoy[0]["static_resources"]["listeners"]
        .as_array()
        .unwrap();
    let wasm = listeners
        .iter()
        .flat_map(|l| l["filter_chains"].as_array().unwrap())
        .flat_map(|c| c["filters"].as_array().unwrap())
        .flat_map(|f| f["typed_config"]["http_filters"].as_array().unwrap())
        .find(|f| f["name"] == "envoy.filters.http.wasm")
        .unwrap();
    let value = wasm["typed_config"]["config"]["configuration"]["value"]
        .as_str()
        .unwrap();
    vec![
        (
            format!("{ISTIO} pluginConfig"),
            doc_of_kind(ISTIO, "WasmPlugin")["spec"]["pluginConfig"].clone(),
        ),
        (
            format!("{ENVOY_GATEWAY} config"),
            doc_of_kind(ENVOY_GATEWAY, "EnvoyExtensionPolicy")["spec"]["wasm"][0]["config"].clone(),
        ),
        (
            format!("{ENVOY_ANY_RUNTIME} configuration"),
            serde_json::from_str(value).unwrap(),
        ),
    ]
}

fn is_hex64(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `doc` with the member at a JSON pointer set (the parent must exist).
fn with(doc: &Value, pointer: &str, value: Value) -> Value {
    let mut doc = doc.clone();
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let parent = doc.pointer_mut(parent).unwrap();
    match parent {
        Value::Object(m) => {
            m.insert(name.to_owned(), value);
        }
        Value::Array(a) => a[name.parse::<usize>().unwrap()] = value,
        _ => panic!("{pointer}: parent is not a container"),
    }
    doc
}

fn without(doc: &Value, pointer: &str) -> Value {
    let mut doc = doc.clone();
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    doc.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove(name))
        .unwrap_or_else(|| panic!("{pointer}: nothing to remove"));
    doc
}

// ------------------------------------------------------------------------------------------
// CRD schemas

/// The vendored CRDs: (group, kind, version) -> the version's schema, read as Kubernetes does.
struct Crds {
    schemas: boon::Schemas,
    index: Vec<(String, String, String, boon::SchemaIndex)>,
}

impl Crds {
    fn load() -> Crds {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        // A CRD's structural schema is OpenAPI 3.0's subset, whose keywords are JSON Schema
        // draft 4's (boolean exclusiveMinimum and all).
        compiler.set_default_draft(boon::Draft::V4);
        let mut index = Vec::new();
        let root = Path::new(CRATE_ROOT).join("tests/data/crds");
        for dir in fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for file in fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_none_or(|e| e != "yaml") {
                    continue;
                }
                for crd in documents(&file) {
                    assert_eq!(
                        crd["kind"],
                        "CustomResourceDefinition",
                        "{}",
                        file.display()
                    );
                    let group = crd["spec"]["group"].as_str().unwrap().to_owned();
                    let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_owned();
                    for version in crd["spec"]["versions"].as_array().unwrap() {
                        let name = version["name"].as_str().unwrap().to_owned();
                        let schema = kube_schema(&version["schema"]["openAPIV3Schema"]);
                        let loc = format!("urn:crd:{group}:{name}:{kind}");
                        compiler.add_resource(&loc, schema).unwrap();
                        let idx = compiler
                            .compile(&loc, &mut schemas)
                            .unwrap_or_else(|e| panic!("{loc}: {e}"));
                        index.push((group.clone(), name, kind.clone(), idx));
                    }
                }
            }
        }
        Crds { schemas, index }
    }

    /// Validates a document against the schema of its apiVersion and kind.
    fn check(&self, doc: &Value) -> Result<(), String> {
        let api = doc["apiVersion"].as_str().ok_or("no apiVersion")?;
        let (group, version) = api.split_once('/').ok_or("apiVersion without group")?;
        let kind = doc["kind"].as_str().ok_or("no kind")?;
        let (.., idx) = self
            .index
            .iter()
            .find(|(g, v, k, _)| g == group && v == version && k == kind)
            .ok_or_else(|| format!("no vendored CRD for {api} {kind}"))?;
        self.schemas
            .validate(doc, *idx)
            .map_err(|e| format!("{e:#}"))
    }
}

/// A CRD version's OpenAPI schema as JSON Schema with the API server's reading:
/// - an object schema with `properties` and no `additionalProperties` refuses other members,
///   as strict field validation does, unless `x-kubernetes-preserve-unknown-fields` keeps them;
/// - `nullable: true` also admits null;
/// - `format` is dropped (Kubernetes checks only a few formats, none that these manifests use,
///   and its `int32`/`byte` are not JSON Schema formats);
/// - at the root, `apiVersion`, `kind` and `metadata` are always allowed.
fn kube_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    strict(&mut schema);
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, sub) in [
            ("apiVersion", json!({"type": "string"})),
            ("kind", json!({"type": "string"})),
            ("metadata", json!({"type": "object"})),
        ] {
            props.entry(name).or_insert(sub);
        }
    }
    schema
}

fn strict(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    obj.remove("format");
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(Value::String(t)) = obj.get("type").cloned() {
            obj.insert("type".into(), json!([t, "null"]));
        }
    }
    let keeps_unknown = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if obj.contains_key("properties") && !obj.contains_key("additionalProperties") && !keeps_unknown
    {
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.values_mut().for_each(strict);
    }
    for key in ["additionalProperties", "items", "not"] {
        if let Some(sub) = obj.get_mut(key) {
            strict(sub);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = obj.get_mut(key) {
            subs.iter_mut().for_each(strict);
        }
    }
}
