//! The proxy username grammar `USER[-country-CC][-city-NAME][-session-ID][-ttl-MINUTES]`
//! (DESIGN.md): lower-case ASCII, parameters in any order, each at most once.

use std::fmt;

/// What a username asks for beyond the account itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 code, lower-case.
    pub country: Option<String>,
    /// City name, lower-case `[a-z0-9_]` (`_` standing for a space).
    pub city: Option<String>,
    /// Sticky-session id, 1–32 of `[a-z0-9]`.
    pub session: Option<String>,
    /// Sticky-session lifetime in minutes, 1–1440 (only with a session).
    pub ttl_minutes: Option<u32>,
}

/// A parsed proxy username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUsername {
    /// The account's generated username.
    pub user: String,
    /// The parameters.
    pub targeting: Targeting,
}

/// Why a username does not parse; the message is shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Nothing before the first `-`.
    #[error("empty username")]
    Empty,
    /// A character outside lower-case ASCII letters, digits, `_`, `.` and `-`.
    #[error("username may only contain lower-case letters, digits, '_', '.' and '-' (found {0:?})")]
    InvalidCharacter(char),
    /// `-key` without `-value`.
    #[error("parameter '{0}' has no value")]
    MissingValue(String),
    /// A key other than country, city, session, ttl.
    #[error("unknown parameter '{0}' (expected country, city, session or ttl)")]
    UnknownParameter(String),
    /// The same key twice.
    #[error("parameter '{0}' given twice")]
    Duplicate(&'static str),
    /// Not an ISO 3166-1 alpha-2 code.
    #[error("country '{0}' is not an ISO 3166-1 alpha-2 code")]
    BadCountry(String),
    /// City outside `[a-z0-9_]{1,64}`.
    #[error("city '{0}' must be 1-64 of a-z, 0-9 and '_'")]
    BadCity(String),
    /// Session outside `[a-z0-9]{1,32}`.
    #[error("session '{0}' must be 1-32 of a-z and 0-9")]
    BadSession(String),
    /// TTL not an integer in 1..=1440.
    #[error("ttl '{0}' must be a number of minutes from 1 to 1440")]
    BadTtl(String),
    /// `-ttl-` without `-session-`.
    #[error("ttl needs a session")]
    TtlWithoutSession,
}

impl ProxyUsername {
    /// Parses a full username. The account part is returned even when a parameter is wrong, by
    /// [`ProxyUsername::account_part`], so credentials can be checked first.
    pub fn parse(raw: &str) -> Result<ProxyUsername, UsernameError> {
        if let Some(c) = raw.chars().find(|c| !is_username_char(*c)) {
            return Err(UsernameError::InvalidCharacter(c));
        }
        let mut parts = raw.split('-');
        let user = parts.next().unwrap_or_default();
        if user.is_empty() {
            return Err(UsernameError::Empty);
        }
        let mut t = Targeting::default();
        while let Some(key) = parts.next() {
            let value = parts
                .next()
                .ok_or_else(|| UsernameError::MissingValue(key.to_owned()))?;
            match key {
                "country" => {
                    once(&t.country, "country")?;
                    if !is_country(value) {
                        return Err(UsernameError::BadCountry(value.to_owned()));
                    }
                    t.country = Some(value.to_owned());
                }
                "city" => {
                    once(&t.city, "city")?;
                    let ok = (1..=64).contains(&value.len())
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if !ok {
                        return Err(UsernameError::BadCity(value.to_owned()));
                    }
                    t.city = Some(value.to_owned());
                }
                "session" => {
                    once(&t.session, "session")?;
                    let ok = (1..=32).contains(&value.len())
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                    if !ok {
                        return Err(UsernameError::BadSession(value.to_owned()));
                    }
                    t.session = Some(value.to_owned());
                }
                "ttl" => {
                    once(&t.ttl_minutes, "ttl")?;
                    let minutes = value
                        .parse::<u32>()
                        .ok()
                        .filter(|m| (1..=1440).contains(m) && !value.starts_with('+'))
                        .ok_or_else(|| UsernameError::BadTtl(value.to_owned()))?;
                    t.ttl_minutes = Some(minutes);
                }
                "" => return Err(UsernameError::MissingValue(String::new())),
                other => return Err(UsernameError::UnknownParameter(other.to_owned())),
            }
        }
        if t.ttl_minutes.is_some() && t.session.is_none() {
            return Err(UsernameError::TtlWithoutSession);
        }
        Ok(ProxyUsername {
            user: user.to_owned(),
            targeting: t,
        })
    }

    /// The account username: everything before the first `-`.
    pub fn account_part(raw: &str) -> &str {
        raw.split('-').next().unwrap_or_default()
    }
}

impl fmt::Display for ProxyUsername {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user)?;
        let t = &self.targeting;
        if let Some(c) = &t.country {
            write!(f, "-country-{c}")?;
        }
        if let Some(c) = &t.city {
            write!(f, "-city-{c}")?;
        }
        if let Some(s) = &t.session {
            write!(f, "-session-{s}")?;
        }
        if let Some(m) = t.ttl_minutes {
            write!(f, "-ttl-{m}")?;
        }
        Ok(())
    }
}

fn once<T>(slot: &Option<T>, key: &'static str) -> Result<(), UsernameError> {
    if slot.is_some() {
        Err(UsernameError::Duplicate(key))
    } else {
        Ok(())
    }
}

fn is_username_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// ISO 3166-1 alpha-2 officially assigned codes (249), lower-case.
const COUNTRIES: &str = "ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj \
bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj \
dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt \
gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky \
kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx \
my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs \
ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn \
to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code (lower-case).
pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split_ascii_whitespace().any(|c| c == code)
}

#[cfg(test)]
mod tests {
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
            ("bob-ttl-5", TtlWithoutSession),
            ("bob--country-de", MissingValue(String::new())),
        ];
        for (raw, want) in cases {
            assert_eq!(ProxyUsername::parse(raw).as_ref(), Err(want), "{raw}");
        }
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
    }
}
