//! The database stops for 30 s while customers send traffic: the gateway keeps serving the
//! accounts it knows, `/ready` says 503 and the dashboard a clear 503 page at once, and within
//! 5 s of the database's return everything answers again, with no restart; the usage metered
//! meanwhile is written then, every byte once.

use std::time::{Duration, Instant};

use crate::common::{Browser, Service};
use crate::private_postgres::PrivatePostgres;
use crate::traffic::{Route, Traffic, echo_origin};
use crate::{prepare_customer, stored_bytes};

const EMAIL: &str = "outage@example.com";
const OUTAGE: Duration = Duration::from_secs(30);
/// The goal: everything answers again this soon after the database is back.
const RECOVERY: Duration = Duration::from_secs(5);

/// Status of `path` and how long it took to answer.
async fn timed(browser: &Browser, path: &str) -> (u16, Duration, String) {
    let started = Instant::now();
    let response = browser.get(path).await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (status, started.elapsed(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stops_for_30_s_during_traffic_and_nothing_is_lost() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let (db, user, pass) = prepare_customer(&pg.url(), EMAIL).await;
    let service = Service::start(&pg.url()).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer(EMAIL).await;
    assert_eq!(timed(&browser, "/").await.0, 200);
    let route = Route {
        http_proxy: service.http_proxy,
        socks_proxy: service.socks_proxy,
        origin: echo_origin().await,
        user,
        pass,
    };
    let traffic = Traffic::start(&route, 4, 8 * 1024, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(traffic.bytes() > 0, "traffic flows before the outage");

    let pg = std::sync::Arc::new(pg);
    let stopping = pg.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    let went_down = Instant::now();
    let before_outage = traffic.bytes();
    let failures_before = traffic.failures();

    // Throughout the outage: not ready, the dashboard and the API say 503 at once, and the
    // gateway serves on.
    let mut ready_down = false;
    let mut pages_checked = 0;
    while went_down.elapsed() < OUTAGE {
        let (ready, _, _) = timed(&browser, "/ready").await;
        ready_down |= ready == 503;
        if went_down.elapsed() > Duration::from_secs(3) {
            assert_eq!(ready, 503, "/ready while the database is away");
            let (status, took, body) = timed(&browser, "/usage").await;
            assert_eq!(
                status, 503,
                "the dashboard while the database is away: {body}"
            );
            assert!(
                body.contains("briefly unavailable"),
                "a clear page, not a bare error: {body}"
            );
            assert!(
                took < Duration::from_secs(1),
                "answered at once, took {took:?}"
            );
            let api = browser.get("/api/v1/account").await;
            assert_eq!(api.status().as_u16(), 503);
            assert_eq!(api.headers()["content-type"], "application/problem+json");
            pages_checked += 1;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        ready_down && pages_checked >= 20,
        "checked through the outage: {pages_checked} rounds"
    );
    let during = traffic.bytes() - before_outage;
    assert!(
        during > 10 * 1024 * 1024,
        "the gateway served on through the outage: {during} bytes"
    );
    assert_eq!(
        traffic.failures(),
        failures_before,
        "no tunnel failed while the database was away"
    );

    // The database comes back: everything answers again within 5 s, with no restart.
    let starting = pg.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    let came_back = Instant::now();
    loop {
        let (ready, _, _) = timed(&browser, "/ready").await;
        let (page, _, _) = timed(&browser, "/usage").await;
        if ready == 200 && page == 200 {
            break;
        }
        assert!(
            came_back.elapsed() < RECOVERY,
            "not recovered {RECOVERY:?} after the database came back (ready {ready}, page {page})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_in = came_back.elapsed();
    eprintln!("recovered {recovered_in:?} after the database came back");

    // Every byte counted by the clients is stored, once.
    let counted = traffic.stop().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = stored_bytes(&db, EMAIL).await;
        if stored == (counted, counted) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {stored:?}, the clients counted {counted} each way"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // and stays so: nothing is written twice later
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_bytes(&db, EMAIL).await, (counted, counted));
    service.stop().await.expect("clean stop");
}
