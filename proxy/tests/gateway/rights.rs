//! Connections live only as long as the rights they were let in under: a new proxy password or
//! an allowlist entry removed closes the account's running tunnels within seconds, as the end
//! of its plan does; other accounts' tunnels and unrelated changes leave them open.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

async fn open_tunnel(gw: &TestGateway, echo: &Echo, user: &str, pass: &str) -> TcpStream {
    let (mut s, r) = connect_tunnel(gw.http, echo.addr, Some((user, pass))).await;
    assert_eq!(r.status, 200);
    s.write_all(b"hi").await.expect("write");
    let mut b = [0u8; 2];
    s.read_exact(&mut b).await.expect("echo");
    s
}

/// Whether the tunnel was closed by the gateway within `secs`.
async fn closed(s: &mut TcpStream, secs: u64) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(secs), s.read(&mut b)).await,
        Ok(Ok(0) | Err(_))
    )
}

async fn reload(gw: &TestGateway) {
    let before = gw.dir.loads.load(std::sync::atomic::Ordering::SeqCst);
    gw.handle.refresh_now();
    let dir = gw.dir.clone();
    eventually(5, move || {
        dir.loads.load(std::sync::atomic::Ordering::SeqCst) > before
    })
    .await;
}

#[tokio::test]
async fn a_new_password_or_a_removed_allowlist_entry_closes_running_tunnels() {
    bounded(60, async {
        let echo = Echo::start().await;
        let mut alice = account(5, "alice", "s3cret", Some(unlimited()));
        alice.allowlist = vec![
            "127.0.0.0/8".parse().expect("net"),
            "192.0.2.0/24".parse().expect("net"),
        ];
        let bob = account(6, "bob", "b0bpw", Some(unlimited()));
        let gw =
            TestGateway::start(test_config(), MemDirectory::new(vec![alice, bob], vec![])).await;

        // adding an entry takes nothing away: tunnels stay
        let mut a = open_tunnel(&gw, &echo, "alice", "s3cret").await;
        let mut b = open_tunnel(&gw, &echo, "bob", "b0bpw").await;
        gw.dir.update(|s| {
            s.accounts[0]
                .allowlist
                .push("198.51.100.0/24".parse().expect("net"))
        });
        reload(&gw).await;
        assert!(!closed(&mut a, 1).await, "a wider allowlist keeps tunnels");

        // removing one closes hers, not bob's
        gw.dir.update(|s| {
            s.accounts[0]
                .allowlist
                .retain(|n| n.to_string() != "127.0.0.0/8")
        });
        reload(&gw).await;
        assert!(closed(&mut a, 3).await, "allowlist entry removed");
        assert!(!closed(&mut b, 1).await, "another account's tunnel stays");

        // a new password closes tunnels opened with the old one
        let mut a = open_tunnel(&gw, &echo, "alice", "s3cret").await;
        gw.dir.update(|s| s.accounts[0].password = "n3w".into());
        reload(&gw).await;
        assert!(closed(&mut a, 3).await, "password regenerated");
        let _a = open_tunnel(&gw, &echo, "alice", "n3w").await;

        // the end of the plan closes them too
        let mut b2 = open_tunnel(&gw, &echo, "bob", "b0bpw").await;
        gw.dir.update(|s| s.accounts[1].plan = None);
        reload(&gw).await;
        assert!(closed(&mut b2, 3).await, "plan expired");
        assert!(closed(&mut b, 3).await);
        gw.stop().await;
    })
    .await;
}
