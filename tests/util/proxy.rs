//! A relay on 127.0.0.1 between curwatch and the S3 server that records every request
//! and injects the failures real buckets produce: throttling, 5xx, denied access,
//! vanished objects and connections that drop mid-body.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::http::{self, Message};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer with this status and S3 error code instead of relaying.
    Status(u16, &'static str),
    /// Relay the response but drop the connection halfway through its body.
    Truncate,
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, percent-decoded.
    pub target: String,
    /// Whether a fault was injected instead of (or into) the response.
    pub faulted: bool,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.target.contains("list-type=2")
    }

    pub fn is_manifest_read(&self) -> bool {
        self.method == "GET" && self.path().ends_with("-Manifest.json")
    }

    pub fn is_data_download(&self) -> bool {
        let path = self.path();
        self.method == "GET"
            && !path.contains("cost_and_usage_data_status")
            && [".parquet", ".csv.gz", ".csv"].iter().any(|ext| path.ends_with(ext))
    }
}

struct Rule {
    matches: String,
    remaining: usize,
    fault: Fault,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    rules: Vec<Rule>,
}

pub struct Proxy {
    pub endpoint: String,
    shared: Arc<Mutex<Shared>>,
}

impl Proxy {
    pub fn start(upstream: &'static str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = Arc::clone(&state);
                std::thread::spawn(move || serve(client, upstream, &state));
            }
        });
        Proxy { endpoint, shared }
    }

    /// The next `times` requests whose path and query contain `matches` get `fault`.
    pub fn inject(&self, matches: &str, times: usize, fault: Fault) {
        self.shared.lock().unwrap().rules.push(Rule { matches: matches.to_owned(), remaining: times, fault });
    }

    /// Forgets what was seen so far.
    pub fn reset(&self) {
        self.shared.lock().unwrap().seen.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    pub fn count(&self, which: fn(&Seen) -> bool) -> usize {
        self.seen().iter().filter(|s| which(s)).count()
    }

    /// Faults still waiting to be injected.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().unwrap().rules.iter().map(|r| r.remaining).sum()
    }
}

fn serve(client: TcpStream, upstream: &str, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone socket"));
    let Ok(Some(request)) = http::read_message(&mut reader, false) else { return };
    let mut parts = request.start.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = percent_decode(parts.next().unwrap_or_default());
    let fault = {
        let mut shared = shared.lock().unwrap();
        let fault = shared.rules.iter_mut().find(|r| r.remaining > 0 && target.contains(&r.matches)).map(|rule| {
            rule.remaining -= 1;
            rule.fault
        });
        shared.seen.push(Seen { method: method.clone(), target, faulted: fault.is_some() });
        fault
    };
    let mut client = client;
    let bytes = match fault {
        Some(Fault::Status(status, code)) => error_response(status, code).to_bytes(),
        relay => {
            let Ok(response) = http::exchange(upstream, &request) else { return };
            let mut bytes = response.to_bytes();
            if matches!(relay, Some(Fault::Truncate)) {
                bytes.truncate(bytes.len() - response.body.len() / 2);
            }
            bytes
        }
    };
    let _ = client.write_all(&bytes);
    let _ = client.flush();
    let _ = client.shutdown(std::net::Shutdown::Both);
}

fn error_response(status: u16, code: &str) -> Message {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message><RequestId>test-request</RequestId></Error>"
    );
    Message {
        start: format!("HTTP/1.1 {status} {code}"),
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: body.into_bytes(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
