//! A real S3-compatible server on 127.0.0.1 (moto's), buckets seeded over plain HTTP,
//! and the environment the binary needs to talk to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::http;

/// Credentials the binary signs with. Distinctive, so tests can prove they never leak.
pub const ACCESS_KEY: &str = "AKIACURWATCHTESTKEY7";
pub const SECRET_KEY: &str = "curwatch-test-secret-3f9a1c5e7b2d4068";

struct Server {
    addr: String,
    // Holding its stdin keeps the server alive; it exits when this process does.
    _stdin: Option<ChildStdin>,
    _child: Option<Child>,
}

/// `host:port` of the shared test server, started on first use. `CURWATCH_TEST_S3_ENDPOINT`
/// points the tests at a server that is already running instead.
pub fn server_addr() -> &'static str {
    static SERVER: OnceLock<Server> = OnceLock::new();
    &SERVER.get_or_init(start_server).addr
}

fn start_server() -> Server {
    if let Ok(endpoint) = std::env::var("CURWATCH_TEST_S3_ENDPOINT") {
        let addr = endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
        return Server { addr, _stdin: None, _child: None };
    }
    let script = super::repo().join("tests").join("s3_server.py");
    let python = std::env::var("CURWATCH_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let how_to_fix = "the S3 tests need moto's S3 server: run ./scripts/test, which installs it \
                      (or `python3 -m pip install 'moto[server]'`)";
    // The server logs every request: to a file, so a full pipe can never stall it.
    let log_path = std::env::temp_dir().join(format!("curwatch-test-s3-server-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("server log file");
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python} {}: {e}; {how_to_fix}", script.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("server output");
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = child.wait();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("the S3 server did not start: {log}\n{how_to_fix}");
    };
    Server { addr: format!("127.0.0.1:{port}"), _stdin: child.stdin.take(), _child: Some(child) }
}

/// A bucket of its own for one test.
pub struct Bucket {
    pub name: String,
    addr: &'static str,
}

impl Bucket {
    pub fn new(tag: &str) -> Bucket {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("cw-{tag}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let addr = server_addr();
        http::request(addr, "PUT", &format!("/{name}"), b"");
        Bucket { name, addr }
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.name)
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        http::request(self.addr, "PUT", &format!("/{}/{key}", self.name), bytes);
    }

    pub fn delete(&self, key: &str) {
        http::request(self.addr, "DELETE", &format!("/{}/{key}", self.name), b"");
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        http::request(self.addr, "GET", &format!("/{}/{key}", self.name), b"").body
    }

    /// Uploads every file under `dir` to `prefix/<relative path>`.
    pub fn put_tree(&self, prefix: &str, dir: &Path) {
        for entry in walk(dir) {
            let relative = entry.strip_prefix(dir).expect("under dir");
            let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            self.put(&format!("{prefix}/{key}"), &std::fs::read(&entry).expect("readable fixture"));
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files.sort();
    files
}

/// Points `cmd` at `endpoint` with test credentials and nothing from the user's own AWS setup.
pub fn aws_env(cmd: &mut Command, endpoint: &str) {
    for var in
        ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "CURWATCH_S3_ENDPOINT_URL"]
    {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_CONFIG_FILE", "/nonexistent/curwatch-test-aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/curwatch-test-aws-credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}
