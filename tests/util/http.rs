//! A minimal HTTP/1.1 client and message reader over std sockets, enough to seed the S3
//! server and to relay requests in the fault proxy. Loopback only.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// A request or response head plus its body.
pub struct Message {
    /// The first line: `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The status code of a response.
    pub fn status(&self) -> u16 {
        self.start.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// Head and body as bytes, with `Connection: close` and the body's true length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start).into_bytes();
        for (name, value) in &self.headers {
            if !["connection", "content-length", "transfer-encoding", "keep-alive"]
                .contains(&name.to_ascii_lowercase().as_str())
            {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one message; `None` when the peer closed before sending anything.
/// `response_to_head` says the body is absent whatever the headers claim.
pub fn read_message(reader: &mut impl BufRead, response_to_head: bool) -> std::io::Result<Option<Message>> {
    let mut start = String::new();
    if reader.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut message = Message { start: start.trim_end().to_owned(), headers, body: Vec::new() };
    if response_to_head {
        return Ok(Some(message));
    }
    if let Some(length) = message.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body)?;
    } else if message.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        message.body = read_chunked(reader)?;
    } else if message.start.starts_with("HTTP/") {
        reader.read_to_end(&mut message.body)?;
    }
    Ok(Some(message))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Sends `request` to `addr` on a fresh connection and reads the whole response.
pub fn exchange(addr: &str, request: &Message) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(&request.to_bytes())?;
    let head = request.start.starts_with("HEAD ");
    read_message(&mut BufReader::new(stream), head)?
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no response"))
}

/// A request as an authenticated client would send it. The test S3 server does not check
/// signatures, but lets only authenticated clients overwrite objects.
pub fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Message {
    let auth = "AWS4-HMAC-SHA256 Credential=seeder/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let message = Message {
        start: format!("{method} {path} HTTP/1.1"),
        headers: vec![("Host".into(), addr.to_owned()), ("Authorization".into(), auth.into())],
        body: body.to_vec(),
    };
    let response = exchange(addr, &message).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
    assert!(
        response.status() < 300,
        "{method} {path} on {addr}: {}\n{}",
        response.start,
        String::from_utf8_lossy(&response.body)
    );
    response
}
