//! A TCP relay between a gateway and Redis that a test can cut, or slow down, to play a Redis
//! outage without touching the Redis other tests use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The relay; `cut` drops every connection and refuses new ones until `restore`.
#[derive(Clone)]
pub struct Relay {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    cut: Arc<std::sync::Mutex<CancellationToken>>,
}

impl Relay {
    /// Relays to the Redis at `url` (`redis://host:port`).
    pub async fn start(url: &str) -> Relay {
        let target: SocketAddr = url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .parse()
            .expect("a redis://host:port URL");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let relay = Relay {
            addr: listener.local_addr().expect("addr"),
            down: Arc::default(),
            delay_ms: Arc::default(),
            cut: Arc::default(),
        };
        let me = relay.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if me.down.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let token = me.cut.lock().expect("lock").clone();
                tokio::spawn(me.clone().pipe(client, target, token));
            }
        });
        relay
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        let mut token = self.cut.lock().expect("lock");
        token.cancel();
        *token = CancellationToken::new();
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Holds every reply back by `delay`.
    pub fn slow_down(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    async fn pipe(self, mut client: TcpStream, target: SocketAddr, cut: CancellationToken) {
        let Ok(mut server) = TcpStream::connect(target).await else {
            return;
        };
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let up = tokio::io::copy(&mut client_read, &mut server_write);
        let delay = self.delay_ms.clone();
        let down = async {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = server_read.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                let ms = delay.load(Ordering::SeqCst);
                if ms > 0 {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                client_write.write_all(&buf[..n]).await?;
            }
        };
        tokio::select! {
            _ = up => {}
            _ = down => {}
            () = cut.cancelled() => {}
        }
    }
}
