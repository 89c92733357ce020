//! The username grammar: parsing, errors, building, and that building and parsing agree.

use proptest::prelude::*;

use super::*;

fn ok(raw: &str) -> ProxyUsername {
    ProxyUsername::parse(raw).expect(raw)
}

#[test]
fn country_list_is_complete_and_sorted() {
    let all: Vec<&str> = COUNTRIES.split_ascii_whitespace().collect();
    assert_eq!(all.len(), 249);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn plain_username_has_no_targeting() {
    let u = ok("alice42");
    assert_eq!(u.user, "alice42");
    assert_eq!(u.targeting, Targeting::default());
}

#[test]
fn parameters_parse_in_any_order() {
    let a = ok("bob-country-de-city-berlin-session-abc123-ttl-30");
    let b = ok("bob-ttl-30-session-abc123-city-berlin-country-de");
    assert_eq!(a, b);
    assert_eq!(a.targeting.country.as_deref(), Some("de"));
    assert_eq!(a.targeting.city.as_deref(), Some("berlin"));
    assert_eq!(a.targeting.session.as_deref(), Some("abc123"));
    assert_eq!(a.targeting.ttl_minutes, Some(30));
    assert_eq!(
        a.to_string(),
        "bob-country-de-city-berlin-session-abc123-ttl-30"
    );
}

#[test]
fn errors_are_precise() {
    use UsernameError::*;
    let cases: &[(&str, UsernameError)] = &[
        ("", Empty),
        ("-country-de", Empty),
        ("Bob", InvalidCharacter('B')),
        ("bob-country-DE", InvalidCharacter('D')),
        ("bob-country", MissingValue("country".into())),
        ("bob-colour-red", UnknownParameter("colour".into())),
        ("bob-country-de-country-fr", Duplicate("country")),
        ("bob-country-xx", BadCountry("xx".into())),
        ("bob-country-deu", BadCountry("deu".into())),
        ("bob-city-", BadCity(String::new())),
        ("bob-session-a_b", BadSession("a_b".into())),
        (
            "bob-session-123456789012345678901234567890123",
            BadSession("123456789012345678901234567890123".into()),
        ),
        ("bob-session-s1-ttl-0", BadTtl("0".into())),
        ("bob-session-s1-ttl-1441", BadTtl("1441".into())),
        ("bob-session-s1-ttl-ten", BadTtl("ten".into())),
        ("bob-session-s1-ttl-+5", InvalidCharacter('+')),
        ("bob-ttl-5", TtlWithoutSession),
        ("bob--country-de", MissingValue(String::new())),
    ];
    for (raw, want) in cases {
        assert_eq!(ProxyUsername::parse(raw).as_ref(), Err(want), "{raw}");
    }
}

#[test]
fn error_messages_are_the_customers_ones() {
    assert_eq!(
        UsernameError::InvalidCharacter('B').to_string(),
        "username may only contain lower-case letters, digits, '_', '.' and '-' (found 'B')"
    );
    assert_eq!(
        UsernameError::BadTtl("0".into()).to_string(),
        "ttl '0' must be a number of minutes from 1 to 1440"
    );
    assert_eq!(
        UsernameError::UnknownParameter("colour".into()).to_string(),
        "unknown parameter 'colour' (expected country, city, session or ttl)"
    );
}

#[test]
fn limits_are_inclusive() {
    assert_eq!(ok("u-session-a-ttl-1").targeting.ttl_minutes, Some(1));
    assert_eq!(ok("u-session-a-ttl-1440").targeting.ttl_minutes, Some(1440));
    assert_eq!(
        ok("u-session-12345678901234567890123456789012")
            .targeting
            .session
            .map(|s| s.len()),
        Some(32)
    );
    assert_eq!(ProxyUsername::account_part("carol-country-us"), "carol");
    assert_eq!(parse_ttl("+5"), Err(UsernameError::BadTtl("+5".into())));
    assert_eq!(check_ttl(MAX_TTL_MINUTES), Ok(()));
    assert!(check_ttl(MAX_TTL_MINUTES + 1).is_err());
    assert!(check_ttl(0).is_err());
}

/// Every combination of the four parameters, with values at their limits.
fn every_targeting() -> Vec<Targeting> {
    let mut all = Vec::new();
    for bits in 0u8..16 {
        let has = |bit: u8| bits & (1 << bit) != 0;
        let targeting = Targeting {
            country: has(0).then(|| "ng".to_owned()),
            city: has(1).then(|| "port_harcourt".to_owned()),
            session: has(2).then(|| "s".repeat(MAX_SESSION_LEN)),
            ttl_minutes: has(3).then_some(MAX_TTL_MINUTES),
        };
        all.push(targeting);
    }
    all
}

#[test]
fn every_targeting_combination_builds_and_parses_back() {
    for targeting in every_targeting() {
        let ttl_alone = targeting.ttl_minutes.is_some() && targeting.session.is_none();
        let built = ProxyUsername::new("u1.x_y", targeting.clone());
        if ttl_alone {
            assert_eq!(built, Err(UsernameError::TtlWithoutSession));
            continue;
        }
        let built = built.expect("valid targeting builds");
        let wire = built.to_string();
        assert_eq!(ProxyUsername::parse(&wire).as_ref(), Ok(&built), "{wire}");
        assert_eq!(ProxyUsername::account_part(&wire), "u1.x_y");
    }
}

#[test]
fn building_refuses_what_parsing_refuses() {
    use UsernameError::*;
    let t = Targeting::default();
    assert_eq!(ProxyUsername::new("", t.clone()), Err(Empty));
    assert_eq!(
        ProxyUsername::new("a-b", t.clone()),
        Err(InvalidCharacter('-'))
    );
    assert_eq!(ProxyUsername::new("Ab", t), Err(InvalidCharacter('A')));
    let with = |set: fn(&mut Targeting)| {
        let mut t = Targeting::default();
        set(&mut t);
        t
    };
    let bad = [
        (
            with(|t| t.country = Some("uk".into())),
            BadCountry("uk".into()),
        ),
        (
            with(|t| t.city = Some("new york".into())),
            BadCity("new york".into()),
        ),
        (
            with(|t| t.session = Some("a-b".into())),
            BadSession("a-b".into()),
        ),
        (
            with(|t| {
                t.session = Some("a".into());
                t.ttl_minutes = Some(0);
            }),
            BadTtl("0".into()),
        ),
        (with(|t| t.ttl_minutes = Some(5)), TtlWithoutSession),
    ];
    for (targeting, want) in bad {
        assert_eq!(targeting.check(), Err(want.clone()));
        assert_eq!(ProxyUsername::new("u", targeting), Err(want));
    }
}

fn value(pattern: &'static str) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(pattern)
}

fn any_valid_username() -> impl Strategy<Value = ProxyUsername> {
    (
        "[a-z0-9_.]{1,20}",
        proptest::sample::select(COUNTRIES.split_ascii_whitespace().collect::<Vec<_>>()),
        any::<bool>(),
        value("[a-z0-9_]{1,64}"),
        value("[a-z0-9]{1,32}"),
        1..=MAX_TTL_MINUTES,
        any::<bool>(),
    )
        .prop_map(
            |(user, country, with_country, city, session, ttl, with_ttl)| ProxyUsername {
                user,
                targeting: Targeting {
                    country: with_country.then(|| country.to_owned()),
                    city,
                    ttl_minutes: (with_ttl && session.is_some()).then_some(ttl),
                    session,
                },
            },
        )
}

proptest! {
    #[test]
    fn built_usernames_parse_back(name in any_valid_username()) {
        let built = ProxyUsername::new(&name.user, name.targeting.clone());
        prop_assert_eq!(built.as_ref(), Ok(&name));
        prop_assert_eq!(ProxyUsername::parse(&name.to_string()), Ok(name));
    }

    #[test]
    fn whatever_parses_formats_back_to_itself(raw in "[a-z0-9_.-]{0,40}|[a-z]{1,8}(-(country|city|session|ttl)-[a-z0-9_]{0,6}){0,4}") {
        if let Ok(parsed) = ProxyUsername::parse(&raw) {
            prop_assert_eq!(parsed.targeting.check(), Ok(()));
            prop_assert_eq!(ProxyUsername::parse(&parsed.to_string()), Ok(parsed));
        }
    }
}
