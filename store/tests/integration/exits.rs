//! Upstream exits.

use store::exits::{self, ExitKind, Health, HealthCheck, NewExit};
use store::test_support::TestDb;
use store::{ExitId, StoreError};

use crate::NOW;

on_both_engines!(exits_are_added_listed_checked_and_removed);
async fn exits_are_added_listed_checked_and_removed(t: &TestDb) {
    let db = t.db();
    let lagos = exits::add(
        db,
        &NewExit {
            city: Some("Lagos"),
            pool: Some("Residential"),
            weight: Some(5),
            ..NewExit::new("http://user:pa55@Proxy.Example.com:8080", "NG")
        },
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(lagos.kind, ExitKind::Http);
    assert_eq!(lagos.url, "http://user:pa55@proxy.example.com:8080");
    assert_eq!(
        lagos.display_url(),
        "http://user:***@proxy.example.com:8080"
    );
    assert!(
        !format!("{lagos:?}").contains("pa55"),
        "Debug hides the password"
    );
    // customers see the name: by default it is the country and id, never the address
    assert_eq!(
        (lagos.name.clone(), lagos.country.as_str()),
        (format!("NG #{}", lagos.id.get()), "ng")
    );
    assert!(!lagos.forward_names, "checked addresses by default");
    assert_eq!(
        (lagos.city.as_deref(), lagos.pool.as_str(), lagos.weight),
        (Some("Lagos"), "residential", 5)
    );
    assert!(lagos.enabled);
    assert_eq!(
        (lagos.health, lagos.success_count, lagos.failure_count),
        (Health::Unknown, 0, 0)
    );

    let accra = exits::add(
        db,
        &NewExit {
            name: Some("accra-1"),
            ..NewExit::new("socks5://10.0.0.1:1080", "gh")
        },
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        (accra.kind, accra.pool.as_str(), accra.weight, accra.city),
        (ExitKind::Socks5, "default", 1, None)
    );
    assert_eq!(accra.name, "accra-1");
    let forwarding = exits::add(
        db,
        &NewExit {
            forward_names: true,
            ..NewExit::new("socks5://10.0.0.2:1080", "gh")
        },
        NOW,
    )
    .await
    .unwrap();
    assert!(forwarding.forward_names);
    exits::remove(db, forwarding.id).await.unwrap();
    let err = exits::add(
        db,
        &NewExit {
            name: Some("fast one at 10.0.0.3:1080"),
            ..NewExit::new("socks5://10.0.0.3:1080", "gh")
        },
        NOW,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(_)),
        "a name giving the address away: {err:?}"
    );

    let err = exits::add(
        db,
        &NewExit::new("http://user:pa55@proxy.example.com:8080/", "ng"),
        NOW,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if !m.contains("pa55")),
        "same canonical URL: {err:?}"
    );

    for (url, country, pool) in [
        ("junk", "ng", None),
        ("https://proxy.example.com:443", "ng", None),
        ("http://proxy.example.com", "ng", None),
        ("socks5://:1080", "ng", None),
        ("http://proxy.example.com:8080/path", "ng", None),
        ("http://proxy.example.com:8080", "nga", None),
        ("http://proxy.example.com:8080", "1x", None),
        ("http://proxy.example.com:8080", "ng", Some("bad pool!")),
    ] {
        let new = NewExit {
            pool,
            ..NewExit::new(url, country)
        };
        let err = exits::add(db, &new, NOW).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{url} {country} {pool:?}: {err:?}"
        );
    }
    let err = exits::add(
        db,
        &NewExit {
            weight: Some(-1),
            ..NewExit::new("http://h:1", "ng")
        },
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));

    let listed = exits::list(db).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![accra.id, lagos.id],
        "by pool, country"
    );
    assert_eq!(
        exits::by_id(db, lagos.id).await.unwrap(),
        Some(lagos.clone())
    );

    exits::set_enabled(db, lagos.id, false, NOW + 1)
        .await
        .unwrap();
    let disabled = exits::by_id(db, lagos.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.updated_at, NOW + 1);

    exits::record_health(
        db,
        lagos.id,
        &HealthCheck::Failed {
            error: "connect timed out",
        },
        NOW + 2,
    )
    .await
    .unwrap();
    let checked = exits::by_id(db, lagos.id).await.unwrap().unwrap();
    assert_eq!(checked.health, Health::Unhealthy);
    assert_eq!((checked.failure_count, checked.success_count), (1, 0));
    assert_eq!(
        (checked.last_error.as_deref(), checked.last_check_at),
        (Some("connect timed out"), Some(NOW + 2))
    );
    exits::record_health(
        db,
        lagos.id,
        &HealthCheck::Passed { latency_ms: 42 },
        NOW + 3,
    )
    .await
    .unwrap();
    exits::record_health(
        db,
        lagos.id,
        &HealthCheck::Passed { latency_ms: 40 },
        NOW + 4,
    )
    .await
    .unwrap();
    let checked = exits::by_id(db, lagos.id).await.unwrap().unwrap();
    assert_eq!(checked.health, Health::Healthy);
    assert_eq!((checked.failure_count, checked.success_count), (1, 2));
    assert_eq!(
        (
            checked.last_latency_ms,
            checked.last_error,
            checked.last_check_at
        ),
        (Some(40), None, Some(NOW + 4))
    );

    exits::remove(db, lagos.id).await.unwrap();
    assert_eq!(exits::by_id(db, lagos.id).await.unwrap(), None);
    let missing = ExitId(9_999);
    for result in [
        exits::remove(db, lagos.id).await,
        exits::remove(db, missing).await,
        exits::set_enabled(db, missing, true, NOW).await,
        exits::record_health(db, missing, &HealthCheck::Passed { latency_ms: 1 }, NOW).await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }
    assert_eq!(exits::list(db).await.unwrap().len(), 1);
}
