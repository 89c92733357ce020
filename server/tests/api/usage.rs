//! `GET /api/v1/usage`: the Usage page's buckets, its parameters checked, and its rate limit
//! (a costly read: 10 a minute per account) with the headers, on the limiters' clock; and
//! `/usage/countries` and `/usage/sessions`: per-account breakdowns with the same checks.

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

/// Records `bytes_down` for `account` at `at`, through an exit of `country` under `session`.
async fn traffic(
    api: &Api,
    account: store::AccountId,
    at: i64,
    country: &str,
    session: &str,
    down: i64,
) {
    let delta = store::usage::UsageDelta {
        country: country.to_owned(),
        session: session.to_owned(),
        bytes_down: down,
        requests: 1,
        ..store::usage::UsageDelta::new(account, at)
    };
    store::usage::record(api.store(), &[delta]).await.unwrap();
}

async fn usage_by_country_and_by_session_per_account(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let bob = api.customer("bob@example.com").await;
    let ada_token = api.token(ada, Scope::Read).await;
    let bob_token = api.token(bob, Scope::Read).await;
    // 2026-11-20 10:00 UTC.
    let ten = 1_795_168_800_000;
    traffic(&api, ada, ten, "de", "a1", 100).await;
    traffic(&api, ada, ten + HOUR_MS, "fr", "a2", 300).await;
    traffic(&api, ada, ten + HOUR_MS, "de", "", 50).await;
    traffic(&api, bob, ten, "us", "b1", 7000).await;
    // Outside the window asked for.
    traffic(&api, ada, ten - 5 * HOUR_MS, "it", "old", 9).await;
    let window = "from=2026-11-20T09:30:00Z&to=2026-11-20T12:00:00Z";

    let countries = api
        .get_json(&format!("/api/v1/usage/countries?{window}"), &ada_token)
        .await;
    assert_eq!(countries["time_zone"], "UTC");
    assert_eq!(countries["from_ms"], ten - HOUR_MS);
    assert_eq!(countries["to_ms"], ten + 2 * HOUR_MS);
    let rows: Vec<(String, i64)> = countries["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["country"].as_str().unwrap().to_owned(),
                c["bytes_down"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("fr".to_owned(), 300), ("de".to_owned(), 150)]);

    let sessions = api
        .get_json(
            &format!("/api/v1/usage/sessions?{window}&tz=Africa/Lagos"),
            &ada_token,
        )
        .await;
    assert_eq!(sessions["time_zone"], "Africa/Lagos");
    let rows: Vec<(&str, i64)> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["session"].as_str().unwrap(),
                s["bytes_down"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("a2", 300), ("a1", 100)]);
    let top = api
        .get_json(
            &format!("/api/v1/usage/sessions?{window}&limit=1"),
            &ada_token,
        )
        .await;
    assert_eq!(top["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(top["sessions"][0]["session"], "a2");

    // Bob sees his rows only, never Ada's.
    let bobs = api
        .get_json(&format!("/api/v1/usage/countries?{window}"), &bob_token)
        .await;
    assert_eq!(bobs["countries"].as_array().unwrap().len(), 1);
    assert_eq!(bobs["countries"][0]["country"], "us");
    assert_eq!(bobs["countries"][0]["bytes_down"], 7000);
    let bobs = api
        .get_json(&format!("/api/v1/usage/sessions?{window}"), &bob_token)
        .await;
    let names: Vec<&str> = bobs["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b1"]);

    // The window and zone are checked as /usage checks them (a fresh minute for the costly
    // bucket first: ten calls a minute).
    for route in ["countries", "sessions"] {
        api.service.advance_limits(Duration::from_secs(60));
        for bad in [
            "from=yesterday",
            "to=2026-13-01T00:00:00Z",
            "tz=Mars/Olympus",
            "from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z",
            "from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
        ] {
            let response = api
                .get(&format!("/api/v1/usage/{route}?{bad}"), &ada_token)
                .await;
            problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        }
    }
    for bad in ["limit=0", "limit=101"] {
        let response = api
            .get(&format!("/api/v1/usage/sessions?{bad}"), &ada_token)
            .await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
    // Without a window: the last 24 hours, in whole hours, nothing in them.
    let recent = api.get_json("/api/v1/usage/countries", &ada_token).await;
    let span = recent["to_ms"].as_i64().unwrap() - recent["from_ms"].as_i64().unwrap();
    assert!([24 * HOUR_MS, 25 * HOUR_MS].contains(&span), "{span}");
    assert_eq!(recent["countries"].as_array().unwrap().len(), 0);
    api.stop().await;
}
on_both_engines!(usage_by_country_and_by_session_per_account);
