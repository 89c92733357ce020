//! Writes and costly reads are throttled: past the budget, `429` with `Retry-After`.

use crate::common::{Browser, Engine, Service, TestDb, customer};

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn write_routes_and_the_csv_export_are_throttled(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "ada@example.com", "Starter").await;
    let ada = Browser::new(&service);
    ada.sign_in_customer("ada@example.com").await;

    // A write route: 30 a minute for a signed-in account.
    let form = [("time_zone", "UTC"), ("quota_warning_percent", "80")];
    for n in 0..30 {
        let response = ada.post("/settings/preferences", &form).await;
        assert_ne!(response.status(), 429, "write {n}");
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(30),
            "write {n}"
        );
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(29 - n));
    }
    let refused = ada.post("/settings/preferences", &form).await;
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some_and(|s| (1..=60).contains(&s)));

    // The CSV export: 10 a minute.
    for n in 0..10 {
        let response = ada.get("/usage.csv?range=24h&by=hour").await;
        assert_eq!(response.status(), 200, "export {n}");
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(10));
    }
    let refused = ada.get("/usage.csv?range=24h&by=hour").await;
    assert_eq!(refused.status(), 429);
    assert!(header(&refused, "retry-after").is_some());
    // Pages are not writes.
    assert_eq!(ada.get("/settings").await.status(), 200);
    service.stop().await.expect("clean stop");
}
on_both_engines!(write_routes_and_the_csv_export_are_throttled);
