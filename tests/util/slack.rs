//! A stand-in for Slack's incoming-webhook endpoint on 127.0.0.1: records every POST and
//! answers as scripted — accepted, rate limited with `Retry-After`, 5xx, 4xx with Slack's
//! error text, or no answer at all.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http;

#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Ok,
    RateLimited {
        retry_after: u64,
    },
    Status(u16, &'static str),
    /// Keep the connection open without answering, then drop it.
    Hang(Duration),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub payload: serde_json::Value,
    pub at: Instant,
    pub accepted: bool,
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

pub struct Slack {
    /// Looks like a real webhook, secret token included.
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// The token in every test webhook URL: must never appear in any output.
pub const TOKEN: &str = "XyZsecretWebhookToken42";

impl Slack {
    pub fn start() -> Slack {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}/services/T0CURWATCH/B0TEST/{TOKEN}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(client, &shared));
            }
        });
        Slack { url, state }
    }

    /// The next replies, in order; `Ok` once the script runs out.
    pub fn script(&self, replies: &[Reply]) {
        self.state.lock().unwrap().script.extend(replies.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.received().into_iter().filter(|r| r.accepted).map(|r| r.payload).collect()
    }
}

fn serve(client: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone socket"));
    let Ok(Some(request)) = http::read_message(&mut reader, false) else { return };
    assert!(request.start.starts_with("POST /services/"), "unexpected request: {}", request.start);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let payload: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    let reply = state.lock().unwrap().script.pop_front().unwrap_or(Reply::Ok);
    state.lock().unwrap().received.push(Received { payload, at: Instant::now(), accepted: matches!(reply, Reply::Ok) });
    let (status, text, extra) = match reply {
        Reply::Ok => (200, "ok", String::new()),
        Reply::RateLimited { retry_after } => (429, "rate_limited", format!("Retry-After: {retry_after}\r\n")),
        Reply::Status(status, text) => (status, text, String::new()),
        Reply::Hang(duration) => {
            std::thread::sleep(duration);
            return;
        }
    };
    let mut client = client;
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = client.write_all(response.as_bytes());
}
