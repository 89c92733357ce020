//! The proxy username grammar `USER[-country-CC][-city-NAME][-session-ID][-ttl-MINUTES]`
//! (docs/design.md): lower-case ASCII, parameters in any order, each at most once. Parsed by the
//! gateway, built by the dashboard's connection builder; both check values with the same
//! functions ([`check_session`], …), so what one builds the other accepts.

use std::fmt;

/// Longest sticky-session id.
pub const MAX_SESSION_LEN: usize = 32;
/// Longest city name.
pub const MAX_CITY_LEN: usize = 64;
/// Longest sticky-session lifetime in minutes (a day); the shortest is 1.
pub const MAX_TTL_MINUTES: u32 = 1440;

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

/// A parsed proxy username; its `Display` is the username on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUsername {
    /// The account's generated username.
    pub user: String,
    /// The parameters.
    pub targeting: Targeting,
}

/// Why a username does not parse; the message is shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernameError {
    /// Nothing before the first `-`.
    Empty,
    /// A character outside lower-case ASCII letters, digits, `_`, `.` and `-`.
    InvalidCharacter(char),
    /// `-key` without `-value`.
    MissingValue(String),
    /// A key other than country, city, session, ttl.
    UnknownParameter(String),
    /// The same key twice.
    Duplicate(&'static str),
    /// Not an ISO 3166-1 alpha-2 code.
    BadCountry(String),
    /// City outside `[a-z0-9_]{1,64}`.
    BadCity(String),
    /// Session outside `[a-z0-9]{1,32}`.
    BadSession(String),
    /// TTL not an integer in 1..=1440.
    BadTtl(String),
    /// `-ttl-` without `-session-`.
    TtlWithoutSession,
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernameError::Empty => f.write_str("empty username"),
            UsernameError::InvalidCharacter(c) => write!(
                f,
                "username may only contain lower-case letters, digits, '_', '.' and '-' (found \
                 {c:?})"
            ),
            UsernameError::MissingValue(key) => write!(f, "parameter '{key}' has no value"),
            UsernameError::UnknownParameter(key) => write!(
                f,
                "unknown parameter '{key}' (expected country, city, session or ttl)"
            ),
            UsernameError::Duplicate(key) => write!(f, "parameter '{key}' given twice"),
            UsernameError::BadCountry(v) => {
                write!(f, "country '{v}' is not an ISO 3166-1 alpha-2 code")
            }
            UsernameError::BadCity(v) => write!(f, "city '{v}' must be 1-64 of a-z, 0-9 and '_'"),
            UsernameError::BadSession(v) => write!(f, "session '{v}' must be 1-32 of a-z and 0-9"),
            UsernameError::BadTtl(v) => {
                write!(f, "ttl '{v}' must be a number of minutes from 1 to 1440")
            }
            UsernameError::TtlWithoutSession => f.write_str("ttl needs a session"),
        }
    }
}

impl std::error::Error for UsernameError {}

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
                "country" => set(&mut t.country, "country", value, check_country)?,
                "city" => set(&mut t.city, "city", value, check_city)?,
                "session" => set(&mut t.session, "session", value, check_session)?,
                "ttl" => {
                    once(&t.ttl_minutes, "ttl")?;
                    t.ttl_minutes = Some(parse_ttl(value)?);
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

    /// Builds a username from its parts, checked as [`ProxyUsername::parse`] checks them, so
    /// its `to_string()` parses back to the same value.
    pub fn new(user: &str, targeting: Targeting) -> Result<ProxyUsername, UsernameError> {
        if user.is_empty() {
            return Err(UsernameError::Empty);
        }
        // `-` separates parameters, so it cannot be part of the account.
        if let Some(c) = user.chars().find(|c| *c == '-' || !is_username_char(*c)) {
            return Err(UsernameError::InvalidCharacter(c));
        }
        targeting.check()?;
        Ok(ProxyUsername {
            user: user.to_owned(),
            targeting,
        })
    }

    /// The account username: everything before the first `-`.
    pub fn account_part(raw: &str) -> &str {
        raw.split('-').next().unwrap_or_default()
    }
}

impl Targeting {
    /// Whether every parameter is one the grammar accepts.
    pub fn check(&self) -> Result<(), UsernameError> {
        if let Some(c) = &self.country {
            check_country(c)?;
        }
        if let Some(c) = &self.city {
            check_city(c)?;
        }
        if let Some(s) = &self.session {
            check_session(s)?;
        }
        if let Some(m) = self.ttl_minutes {
            check_ttl(m)?;
            if self.session.is_none() {
                return Err(UsernameError::TtlWithoutSession);
            }
        }
        Ok(())
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

/// A `-country-` value: an assigned ISO 3166-1 alpha-2 code, lower-case.
pub fn check_country(value: &str) -> Result<(), UsernameError> {
    if is_country(value) {
        Ok(())
    } else {
        Err(UsernameError::BadCountry(value.to_owned()))
    }
}

/// A `-city-` value: 1–64 of `[a-z0-9_]`.
pub fn check_city(value: &str) -> Result<(), UsernameError> {
    if is_token(value, MAX_CITY_LEN, b"_") {
        Ok(())
    } else {
        Err(UsernameError::BadCity(value.to_owned()))
    }
}

/// A `-session-` value: 1–32 of `[a-z0-9]`.
pub fn check_session(value: &str) -> Result<(), UsernameError> {
    if is_token(value, MAX_SESSION_LEN, b"") {
        Ok(())
    } else {
        Err(UsernameError::BadSession(value.to_owned()))
    }
}

/// A `-ttl-` value: minutes as plain decimal digits, 1–1440.
pub fn parse_ttl(value: &str) -> Result<u32, UsernameError> {
    value
        .parse::<u32>()
        .ok()
        // `u32::from_str` takes a leading `+`; the grammar does not.
        .filter(|m| check_ttl(*m).is_ok() && !value.starts_with('+'))
        .ok_or_else(|| UsernameError::BadTtl(value.to_owned()))
}

/// A sticky-session lifetime in minutes: 1–1440.
pub fn check_ttl(minutes: u32) -> Result<(), UsernameError> {
    if (1..=MAX_TTL_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(UsernameError::BadTtl(minutes.to_string()))
    }
}

/// Fills a text parameter's slot from its first and only occurrence.
fn set(
    slot: &mut Option<String>,
    key: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), UsernameError>,
) -> Result<(), UsernameError> {
    once(slot, key)?;
    check(value)?;
    *slot = Some(value.to_owned());
    Ok(())
}

fn once<T>(slot: &Option<T>, key: &'static str) -> Result<(), UsernameError> {
    if slot.is_some() {
        Err(UsernameError::Duplicate(key))
    } else {
        Ok(())
    }
}

/// 1 to `max_len` of lower-case letters, digits and the bytes in `extra`.
fn is_token(value: &str, max_len: usize, extra: &[u8]) -> bool {
    (1..=max_len).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
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
mod tests;
