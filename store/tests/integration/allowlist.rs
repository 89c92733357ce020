//! The allowlist's tenant rules: an address belongs to one account (also when two accounts
//! race for it), only public ranges unless private sources are allowed, and the
//! administrator's view and removal across accounts.

use store::allowlist::{self, AllowlistError, SourceRanges};
use store::test_support::TestDb;
use store::{AccountId, AllowlistEntryId, Page, StoreError};
use tokio::task::JoinSet;

use crate::NOW;

const PUBLIC: SourceRanges = SourceRanges::PublicOnly;

on_both_engines!(an_address_belongs_to_one_account);
async fn an_address_belongs_to_one_account(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;

    let office = allowlist::add(db, ada, "203.0.113.0/24", "office", PUBLIC, NOW)
        .await
        .unwrap();
    // Inside, equal to, or containing another account's network: refused, whatever the width.
    for claimed in ["203.0.113.7", "203.0.113.0/24", "203.0.113.128/25"] {
        let err = allowlist::add(db, bob, claimed, "", PUBLIC, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AllowlistError::Claimed(_)),
            "{claimed}: {err:?}"
        );
        assert!(
            !err.to_string().contains("ada"),
            "the reason does not name the owner: {err}"
        );
    }
    let server = allowlist::add(db, bob, "198.51.100.9", "", PUBLIC, NOW)
        .await
        .unwrap();
    let err = allowlist::add(db, ada, "198.51.100.0/24", "", PUBLIC, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AllowlistError::Claimed(_)),
        "contains: {err:?}"
    );
    allowlist::add(db, bob, "2001:db8:1::/48", "", PUBLIC, NOW)
        .await
        .unwrap();
    let err = allowlist::add(db, ada, "2001:db8:1:2::5", "", PUBLIC, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::Claimed(_)), "IPv6: {err:?}");
    // An IPv4-mapped address (where private sources are allowed) is the IPv4 address.
    let private = SourceRanges::IncludingPrivate;
    let err = allowlist::add(db, bob, "::ffff:203.0.113.9", "", private, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::Claimed(_)), "mapped: {err:?}");

    // Overlaps within one account are the account's own business; neighbours are free.
    allowlist::add(db, ada, "203.0.113.7", "desk", PUBLIC, NOW)
        .await
        .unwrap();
    allowlist::add(db, bob, "203.0.112.255", "", PUBLIC, NOW)
        .await
        .unwrap();
    assert_eq!(
        allowlist::for_account(db, bob)
            .await
            .unwrap()
            .iter()
            .map(|e| e.cidr.to_string())
            .collect::<Vec<_>>(),
        ["198.51.100.9/32", "2001:db8:1::/48", "203.0.112.255/32"],
        "nothing refused was stored"
    );

    // The administrator sees every entry with its owner and settles the dispute.
    let everything = allowlist::all(db, Page::first(500)).await.unwrap();
    assert_eq!(everything.len(), 5);
    assert_eq!(allowlist::count_all(db).await.unwrap(), 5);
    let listed = everything
        .iter()
        .find(|o| o.entry.id == office.id)
        .expect("ada's office is listed");
    assert_eq!(listed.email, "ada@example.com");
    assert_eq!(listed.entry, office);
    assert!(
        everything
            .iter()
            .any(|o| o.entry.id == server.id && o.email == "bob@example.com")
    );
    let removed = allowlist::remove_any(db, office.id).await.unwrap();
    assert_eq!(removed, office);
    assert!(matches!(
        allowlist::remove_any(db, office.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        allowlist::remove_any(db, AllowlistEntryId(0)).await,
        Err(StoreError::NotFound)
    ));
    // Ada's /32 desk entry still claims one address; the rest of the /24 is free now.
    let err = allowlist::add(db, bob, "203.0.113.0/24", "", PUBLIC, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::Claimed(_)), "{err:?}");
    allowlist::add(db, bob, "203.0.113.8", "", PUBLIC, NOW)
        .await
        .unwrap();
}

on_both_engines!(only_public_sources_unless_private_ones_are_allowed);
async fn only_public_sources_unless_private_ones_are_allowed(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    for private in [
        "127.0.0.1",
        "10.1.2.0/24",
        "100.64.1.1",
        "fe80::1",
        "::ffff:1.2.3.4",
    ] {
        let err = allowlist::add(db, ada, private, "", PUBLIC, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AllowlistError::NotPublic { .. }),
            "{private}: {err:?}"
        );
    }
    assert!(allowlist::for_account(db, ada).await.unwrap().is_empty());
    let allowed = SourceRanges::IncludingPrivate;
    let local = allowlist::add(db, ada, "127.0.0.1", "tests", allowed, NOW)
        .await
        .unwrap();
    assert_eq!(local.cidr.to_string(), "127.0.0.1/32");
}

on_both_engines!(a_full_allowlist_refuses_more);
async fn a_full_allowlist_refuses_more(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    for host in 0..allowlist::MAX_ENTRIES {
        let cidr = format!("203.0.113.{host}");
        allowlist::add(db, ada, &cidr, "", PUBLIC, NOW)
            .await
            .unwrap();
    }
    let err = allowlist::add(db, ada, "198.51.100.1", "", PUBLIC, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::Full), "{err:?}");
    assert_eq!(
        allowlist::for_account(db, ada).await.unwrap().len(),
        usize::try_from(allowlist::MAX_ENTRIES).unwrap()
    );
}

/// Accounts racing for one network.
const RACERS: usize = 6;
/// Networks raced for.
const ROUNDS: u8 = 8;

on_both_engines!(racing_accounts_cannot_both_claim_an_address);
async fn racing_accounts_cannot_both_claim_an_address(t: &TestDb) {
    let db = t.db();
    let mut racers: Vec<AccountId> = Vec::new();
    for n in 0..RACERS {
        racers.push(crate::customer(db, &format!("racer{n}@example.com")).await);
    }
    for round in 0..ROUNDS {
        // At once, every racer asks for a different network of the same nest (a /24, the /25
        // inside it, the /26 inside that…): any two of them overlap.
        let mut race = JoinSet::new();
        for (n, account) in racers.iter().copied().enumerate() {
            let db = db.clone();
            let cidr = format!("198.51.{round}.0/{}", 24 + n);
            race.spawn(async move { allowlist::add(&db, account, &cidr, "", PUBLIC, NOW).await });
        }
        let mut won = 0;
        while let Some(outcome) = race.join_next().await {
            match outcome.unwrap() {
                Ok(_) => won += 1,
                Err(AllowlistError::Claimed(_)) => {}
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(
            won, 1,
            "round {round}: exactly one account gets the network"
        );
    }
    let all = allowlist::all(db, Page::first(500)).await.unwrap();
    assert_eq!(all.len(), usize::from(ROUNDS));
    for a in &all {
        for b in &all {
            assert!(
                a.entry.account_id == b.entry.account_id
                    || !allowlist::overlaps(&a.entry.cidr, &b.entry.cidr),
                "{a:?} and {b:?} overlap"
            );
        }
    }
}
