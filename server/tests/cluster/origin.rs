//! A loopback origin: `GET /bytes/N` answers N bytes (HTTP/1.1, keep-alive), anything else a
//! short body. Tunnels to it stay open until the client closes them.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                buf.extend_from_slice(&chunk[..n]);
                                continue;
                            }
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    let path = head.split_whitespace().nth(1).unwrap_or("/");
                    let n: usize = path
                        .rsplit('/')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|_| path.contains("/bytes/"))
                        .unwrap_or(2);
                    let mut out =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
                    out.resize(out.len() + n, b'x');
                    if socket.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}
