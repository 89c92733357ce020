//! `GET /api/v1/usage`: the Usage page's buckets, its parameters checked, and its rate limit
//! (a costly read: 10 a minute per account) with the headers, on the limiters' clock.

use std::time::Duration;

use reqwest::StatusCode;
use store::HOUR_MS;
use store::api_tokens::Scope;

use crate::common::Engine;
use crate::support::{Api, header, problem};

async fn usage_by_hour_and_day_then_the_rate_limit(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let token = api.token(ada, Scope::Read).await;
    // 2026-11-20 10:00 and 11:00 UTC.
    let ten = 1_795_168_800_000;
    for (at, down) in [(ten, 100), (ten + HOUR_MS + 5, 50)] {
        let delta = store::usage::UsageDelta {
            bytes_down: down,
            requests: 1,
            ..store::usage::UsageDelta::new(ada, at)
        };
        store::usage::record(api.store(), &[delta]).await.unwrap();
    }

    let hourly = api
        .get_json(
            "/api/v1/usage?from=2026-11-20T09:30:00Z&to=2026-11-20T12:00:00Z",
            &token,
        )
        .await;
    assert_eq!(hourly["granularity"], "hour");
    assert_eq!(hourly["time_zone"], "UTC");
    let buckets = hourly["buckets"].as_array().unwrap();
    let downs: Vec<i64> = buckets
        .iter()
        .map(|b| b["bytes_down"].as_i64().unwrap())
        .collect();
    assert_eq!(downs, [0, 100, 50]);
    assert_eq!(buckets[1]["start"], "2026-11-20T10:00:00Z");
    assert_eq!(buckets[1]["start_ms"], ten);

    // By day in Lagos (UTC+1): both hours fall on the 20th.
    let daily = api
        .get_json(
            "/api/v1/usage?granularity=day&from=2026-11-19T23:00:00Z&to=2026-11-21T23:00:00Z&tz=Africa/Lagos",
            &token,
        )
        .await;
    let days = daily["buckets"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["local"], "2026-11-20 00:00");
    assert_eq!(days[0]["bytes_down"], 150);

    for bad in [
        "granularity=week",
        "from=yesterday",
        "tz=Mars/Olympus",
        "from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z",
        "from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
    ] {
        let response = api.get(&format!("/api/v1/usage?{bad}"), &token).await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }

    // Seven calls so far (refused input counts too): the costly bucket (10 a minute) has
    // three left.
    for left in [2, 1, 0] {
        let response = api.get("/api/v1/usage", &token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("10"));
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
    }
    let refused = api.get("/api/v1/usage", &token).await;
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&refused, "x-ratelimit-limit"), Some("10"));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
    assert!(header(&refused, "x-ratelimit-reset").is_some());
    problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other reads are still fine: the costly bucket is the usage route's own.
    assert_eq!(
        api.get("/api/v1/account", &token).await.status(),
        StatusCode::OK
    );

    api.service.advance_limits(Duration::from_secs(60));
    assert_eq!(
        api.get("/api/v1/usage", &token).await.status(),
        StatusCode::OK
    );
    api.stop().await;
}
on_both_engines!(usage_by_hour_and_day_then_the_rate_limit);
