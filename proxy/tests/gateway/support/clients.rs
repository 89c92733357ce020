//! Small raw clients (HTTP, CONNECT, SOCKS5), curl, and polling helpers for the tests.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Every byte received on the connection.
    pub received: usize,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error_code(&self) -> Option<&str> {
        self.header("x-atlantic-error")
    }
}

/// Reads one response (Content-Length framed, or until close) from `s`.
pub async fn read_response(s: &mut TcpStream) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = res.parse(&buf) {
            let status = res.code.unwrap_or(0);
            let headers: Vec<(String, String)> = res
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok());
            let mut body = buf[n..].to_vec();
            match len {
                Some(len) => {
                    while body.len() < len {
                        let k = s.read(&mut chunk).await.expect("read body");
                        assert!(k > 0, "closed mid-body");
                        body.extend_from_slice(&chunk[..k]);
                    }
                }
                // interim responses and `200 Connection established` (bare, or naming the exit)
                // have no body
                None if (100..200).contains(&status)
                    || headers
                        .iter()
                        .all(|(k, _)| k.eq_ignore_ascii_case("x-atlantic-exit")) => {}
                None => {
                    let _ = s.read_to_end(&mut body).await;
                }
            }
            let received = n + body.len();
            return RawResponse {
                status,
                headers,
                body,
                received,
            };
        }
        let k = s.read(&mut chunk).await.expect("read head");
        assert!(
            k > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..k]);
    }
}

/// Sends `request` on a new connection and reads one response.
pub async fn raw_request(addr: SocketAddr, request: &str) -> RawResponse {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    read_response(&mut s).await
}

/// A GET through the HTTP proxy at `proxy` (Connection: close).
pub async fn proxied_get(proxy: SocketAddr, url: &str, auth: Option<(&str, &str)>) -> RawResponse {
    let auth = auth
        .map(|(u, p)| format!("Proxy-Authorization: {}\r\n", basic(u, p)))
        .unwrap_or_default();
    raw_request(
        proxy,
        &format!("GET {url} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
    )
    .await
}

/// Opens a CONNECT tunnel to `target` (an address, or any authority such as `name:443`);
/// returns the stream and the proxy's answer.
pub async fn connect_tunnel(
    proxy: SocketAddr,
    target: impl std::fmt::Display,
    auth: Option<(&str, &str)>,
) -> (TcpStream, RawResponse) {
    let auth = auth
        .map(|(u, p)| format!("Proxy-Authorization: {}\r\n", basic(u, p)))
        .unwrap_or_default();
    let mut s = TcpStream::connect(proxy).await.expect("connect");
    s.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n").as_bytes())
        .await
        .expect("write");
    let r = read_response(&mut s).await;
    (s, r)
}

/// SOCKS5 handshake with username/password; returns the stream, the auth status and the reply
/// code (None when the server closed before replying).
pub async fn socks_connect(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
) -> (TcpStream, u8, Option<u8>) {
    let mut s = TcpStream::connect(proxy).await.expect("connect");
    s.write_all(&[5, 1, 2]).await.expect("greeting");
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await.expect("method");
    assert_eq!(choice, [5, 2]);
    let mut msg = vec![1, user.len() as u8];
    msg.extend_from_slice(user.as_bytes());
    msg.push(pass.len() as u8);
    msg.extend_from_slice(pass.as_bytes());
    s.write_all(&msg).await.expect("auth");
    let mut status = [0u8; 2];
    s.read_exact(&mut status).await.expect("auth status");
    if status[1] != 0 {
        return (s, status[1], None);
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            req.push(3);
            req.push(host.len() as u8);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.expect("request");
    let mut head = [0u8; 4];
    if s.read_exact(&mut head).await.is_err() {
        return (s, 0, None);
    }
    let skip = match head[3] {
        1 => 6,
        4 => 18,
        _ => {
            let mut l = [0u8; 1];
            s.read_exact(&mut l).await.expect("len");
            usize::from(l[0]) + 2
        }
    };
    let mut rest = vec![0u8; skip];
    s.read_exact(&mut rest).await.expect("bound addr");
    (s, 0, Some(head[1]))
}

/// Runs curl with the given arguments (bounded); returns (exit status, stdout).
pub async fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = tokio::time::timeout(
        Duration::from_secs(15),
        tokio::process::Command::new("curl")
            .args(["-s", "--max-time", "10"])
            .args(args)
            .output(),
    )
    .await
    .expect("curl finished")
    .expect("curl runs");
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// Waits until `f` holds (polling), or panics after `secs`.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
