//! Usage counters: additive upserts in one transaction, and the read-backs.

use store::test_support::TestDb;
use store::usage::{self, UsageDelta, UsageTotals};
use store::{AccountId, ExitId, HOUR_MS, StoreError};

use crate::NOW;

/// 2^32 + a bit: values that would wrap a 32-bit column.
const BIG: i64 = (1 << 32) + 123_456_789;

on_both_engines!(recording_twice_adds_up_exactly);
async fn recording_twice_adds_up_exactly(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let delta = UsageDelta {
        country: "NG".to_owned(),
        exit_id: ExitId(7),
        bytes_up: BIG,
        bytes_down: 2 * BIG,
        requests: 3,
        errors: 1,
        error_codes: vec![("upstream_failed".to_owned(), 1)],
        ..UsageDelta::new(ada, NOW)
    };
    usage::record(db, std::slice::from_ref(&delta))
        .await
        .unwrap();
    usage::record(db, std::slice::from_ref(&delta))
        .await
        .unwrap();

    let hour = usage::hour_floor(NOW);
    let totals = usage::totals(db, ada, hour, hour + HOUR_MS).await.unwrap();
    assert_eq!(
        totals,
        UsageTotals {
            bytes_up: 2 * BIG,
            bytes_down: 4 * BIG,
            requests: 6,
            errors: 2
        }
    );
    assert_eq!(totals.bytes(), 6 * BIG);
    // Stored in one row per bucket, country lower-cased.
    let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
        "SELECT hour_start, exit_id, country, bytes_up FROM usage_hourly WHERE account_id = $1",
    )
    .bind(ada)
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(rows, vec![(hour, 7, "ng".to_owned(), 2 * BIG)]);
    assert_eq!(
        usage::errors_by_code(db, ada, hour, hour + HOUR_MS)
            .await
            .unwrap(),
        vec![("upstream_failed".to_owned(), 2)]
    );
}

on_both_engines!(series_countries_and_error_codes);
async fn series_countries_and_error_codes(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let h0 = usage::hour_floor(NOW);
    let h1 = h0 + HOUR_MS;
    let at = |account: AccountId, ms: i64, country: &str, up: i64, down: i64| UsageDelta {
        country: country.to_owned(),
        bytes_up: up,
        bytes_down: down,
        requests: 1,
        ..UsageDelta::new(account, ms)
    };
    let batch = vec![
        at(ada, h0 + 1, "ng", 10, 100),
        // Same bucket in the same batch: merged before writing.
        at(ada, h0 + 2, "ng", 5, 50),
        at(ada, h0 + 3, "gh", 1, 1),
        at(ada, h1 + 10, "", 1000, 1000),
        UsageDelta {
            errors: 3,
            error_codes: vec![("connect_timeout".to_owned(), 2), ("no_exit".to_owned(), 1)],
            ..at(ada, h1 + 20, "ng", 0, 0)
        },
        at(bob, h0, "ng", 99_999, 99_999),
    ];
    usage::record(db, &batch).await.unwrap();
    usage::record(db, &[]).await.unwrap();

    let series = usage::hourly_series(db, ada, h0, h1 + HOUR_MS)
        .await
        .unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].hour_start, h0);
    assert_eq!(
        series[0].totals,
        UsageTotals {
            bytes_up: 16,
            bytes_down: 151,
            requests: 3,
            errors: 0
        }
    );
    assert_eq!(series[1].hour_start, h1);
    assert_eq!(
        series[1].totals,
        UsageTotals {
            bytes_up: 1000,
            bytes_down: 1000,
            requests: 2,
            errors: 3
        }
    );

    // The range is half-open: [h0, h1) leaves the second hour out.
    let first_hour = usage::totals(db, ada, h0, h1).await.unwrap();
    assert_eq!(first_hour, series[0].totals);
    assert_eq!(
        usage::totals(db, ada, h1 + HOUR_MS, h1 + 2 * HOUR_MS)
            .await
            .unwrap(),
        UsageTotals::default()
    );

    let countries = usage::by_country(db, ada, h0, h1 + HOUR_MS).await.unwrap();
    let names: Vec<_> = countries
        .iter()
        .map(|c| (c.country.as_str(), c.totals.bytes()))
        .collect();
    assert_eq!(
        names,
        vec![("", 2000), ("ng", 165), ("gh", 2)],
        "most bytes first"
    );

    let codes = usage::errors_by_code(db, ada, h0, h1 + HOUR_MS)
        .await
        .unwrap();
    assert_eq!(
        codes,
        vec![("connect_timeout".to_owned(), 2), ("no_exit".to_owned(), 1)]
    );
    assert!(
        usage::errors_by_code(db, bob, h0, h1 + HOUR_MS)
            .await
            .unwrap()
            .is_empty()
    );

    // Retention removes whole hours before the cut-off.
    assert_eq!(
        usage::purge_before(db, h1).await.unwrap(),
        3,
        "ada's two h0 rows and bob's"
    );
    assert_eq!(
        usage::totals(db, ada, h0, h1).await.unwrap(),
        UsageTotals::default()
    );
    assert_eq!(
        usage::hourly_series(db, ada, h0, h1 + HOUR_MS)
            .await
            .unwrap()
            .len(),
        1
    );
}

on_both_engines!(a_failing_batch_writes_nothing);
async fn a_failing_batch_writes_nothing(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let hour = usage::hour_floor(NOW);
    let good = UsageDelta {
        bytes_up: 10,
        ..UsageDelta::new(ada, NOW)
    };

    let negative = UsageDelta {
        bytes_down: -1,
        ..UsageDelta::new(ada, NOW)
    };
    let err = usage::record(db, &[good.clone(), negative])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // An unknown account fails inside the transaction, after the good row was written: the
    // whole batch rolls back.
    let orphan = UsageDelta {
        bytes_up: 1,
        ..UsageDelta::new(AccountId(i64::MAX), NOW)
    };
    assert!(usage::record(db, &[good.clone(), orphan]).await.is_err());
    assert_eq!(
        usage::totals(db, ada, hour, hour + HOUR_MS).await.unwrap(),
        UsageTotals::default()
    );

    usage::record(db, &[good]).await.unwrap();
    assert_eq!(
        usage::totals(db, ada, hour, hour + HOUR_MS)
            .await
            .unwrap()
            .bytes_up,
        10
    );
}

on_both_engines!(sticky_sessions_are_broken_down_busiest_first);
async fn sticky_sessions_are_broken_down_busiest_first(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let traffic = |account, session: &str, bytes_down, at| UsageDelta {
        session: session.to_owned(),
        bytes_down,
        requests: 1,
        ..UsageDelta::new(account, at)
    };
    usage::record(
        db,
        &[
            traffic(ada, "alpha", 100, NOW),
            traffic(ada, "beta", 500, NOW),
            traffic(ada, "alpha", 50, NOW + HOUR_MS),
            traffic(ada, "", 1_000, NOW),
            traffic(bob, "alpha", 7, NOW),
        ],
    )
    .await
    .unwrap();
    let hour = usage::hour_floor(NOW);
    let sessions = usage::by_session(db, ada, hour, hour + 2 * HOUR_MS, 10)
        .await
        .unwrap();
    let shown: Vec<(&str, i64, i64)> = sessions
        .iter()
        .map(|s| (s.session.as_str(), s.totals.bytes_down, s.totals.requests))
        .collect();
    assert_eq!(shown, [("beta", 500, 1), ("alpha", 150, 2)]);
    // Traffic without a session is in the totals, not in the breakdown.
    assert_eq!(
        usage::totals(db, ada, hour, hour + 2 * HOUR_MS)
            .await
            .unwrap()
            .bytes_down,
        1_650
    );
    assert_eq!(
        usage::by_session(db, ada, hour, hour + 2 * HOUR_MS, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    let too_long = traffic(ada, &"x".repeat(33), 1, NOW);
    assert!(matches!(
        usage::record(db, &[too_long]).await,
        Err(StoreError::Invalid(_))
    ));
}

on_both_engines!(a_batch_sent_again_under_its_id_adds_nothing);
async fn a_batch_sent_again_under_its_id_adds_nothing(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let delta = UsageDelta {
        bytes_up: 100,
        bytes_down: 1_000,
        requests: 2,
        session: "s1".to_owned(),
        ..UsageDelta::new(ada, NOW)
    };
    let batch = [delta.clone(), delta];
    let first = usage::record_batch(db, "gw1-1", &batch, NOW).await.unwrap();
    assert_eq!(first, usage::Recorded::Written);
    // the answer to the commit was lost: the gateway sends the same batch again
    let again = usage::record_batch(db, "gw1-1", &batch, NOW).await.unwrap();
    assert_eq!(again, usage::Recorded::AlreadyWritten);
    // another batch with the same content is new traffic
    let other = usage::record_batch(db, "gw1-2", &batch, NOW).await.unwrap();
    assert_eq!(other, usage::Recorded::Written);
    let hour = usage::hour_floor(NOW);
    let totals = usage::totals(db, ada, hour, hour + HOUR_MS).await.unwrap();
    assert_eq!(
        (totals.bytes_up, totals.bytes_down, totals.requests),
        (400, 4_000, 8)
    );
    let sessions = usage::by_session(db, ada, hour, hour + HOUR_MS, 10)
        .await
        .unwrap();
    assert_eq!(sessions[0].totals.bytes_down, 4_000, "the session rows too");

    // ids are forgotten after their time, and only then
    assert_eq!(usage::prune_batch_ids(db, NOW).await.unwrap(), 0);
    assert_eq!(usage::prune_batch_ids(db, NOW + 1).await.unwrap(), 2);
    for bad in ["", "has space", &"x".repeat(81)] {
        assert!(matches!(
            usage::record_batch(db, bad, &batch, NOW).await,
            Err(StoreError::Invalid(_))
        ));
    }
}
