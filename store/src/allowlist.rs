//! The gateway IP allowlists: which source networks may use an account without its proxy
//! password, the rules an entry must pass (width, public ranges, one owner per address), and
//! the administrator's view across accounts.

use ipnet::IpNet;

use crate::{AccountId, AllowlistEntryId, Backend, Db, Page, StoreError, found};

mod ranges;

pub use ranges::{non_public_range, overlaps};

/// Most allowlist entries one account may have.
pub const MAX_ENTRIES: i64 = 100;
/// Longest label, in characters.
pub const MAX_NOTE_CHARS: usize = 200;
/// Narrowest prefix an allowlist entry may have: a /24 of IPv4, a /48 of IPv6. Anything wider
/// would let whole providers' customers use the account (an open proxy in all but name).
pub const WIDEST_IPV4_PREFIX: u8 = 24;
/// See [`WIDEST_IPV4_PREFIX`].
pub const WIDEST_IPV6_PREFIX: u8 = 48;

/// The key of the PostgreSQL advisory lock every allowlist addition holds for its transaction
/// (`"allowlst"` in ASCII), so the overlap check and the insert of two additions never
/// interleave.
const ADD_LOCK_KEY: i64 = 0x616c_6c6f_776c_7374;

/// Why an allowlist entry was refused. The messages are safe to show the customer: a network
/// claimed by another account does not say which.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// Not an address or a CIDR.
    #[error("`{0}` is not an IP address or CIDR")]
    NotAnAddress(String),
    /// Wider than [`WIDEST_IPV4_PREFIX`] / [`WIDEST_IPV6_PREFIX`].
    #[error("{net} is too wide: allow at most a /{widest}")]
    TooWide {
        /// The network asked for.
        net: IpNet,
        /// The shortest prefix allowed for its family.
        widest: u8,
    },
    /// In a range that never reaches the gateway from the internet (see [`non_public_range`]).
    #[error("{net} is in the {range} range; only public source addresses can be allowed")]
    NotPublic {
        /// The network asked for.
        net: IpNet,
        /// The range's name, e.g. "loopback".
        range: &'static str,
    },
    /// The label is too long.
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    /// The account has [`MAX_ENTRIES`] entries.
    #[error("an account can allow at most {MAX_ENTRIES} networks")]
    Full,
    /// The account lists this network already.
    #[error("{0} is on the allowlist already")]
    Duplicate(IpNet),
    /// It overlaps a network on another account's allowlist.
    #[error("{0} overlaps a network another account has claimed")]
    Claimed(IpNet),
    /// The account does not exist.
    #[error("no such account")]
    NoAccount,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AllowlistError {
    fn from(err: sqlx::Error) -> Self {
        AllowlistError::Store(err.into())
    }
}

/// Which source ranges an entry may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceRanges {
    /// Public addresses only: the service faces the internet (the default).
    #[default]
    PublicOnly,
    /// Private, loopback and the other non-public ranges too: the operator runs the gateway
    /// inside a private network, or tests it on one machine.
    IncludingPrivate,
}

/// A network allowed to use an account's credentials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AllowlistEntry {
    /// The entry's id.
    pub id: AllowlistEntryId,
    /// Whose entry it is.
    pub account_id: AccountId,
    /// The network, host bits cleared (a bare address is a /32 or /128).
    #[sqlx(try_from = "Cidr")]
    pub cidr: IpNet,
    /// The customer's label for it.
    pub note: String,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// A `cidr` column as read: the network its text names.
pub(crate) struct Cidr(pub(crate) IpNet);

impl sqlx::Type<sqlx::Any> for Cidr {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Cidr {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        crate::decode_parsed(value).map(Cidr)
    }
}

impl From<Cidr> for IpNet {
    fn from(cidr: Cidr) -> IpNet {
        cidr.0
    }
}

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (taken as a single host) into its
/// canonical network, host bits cleared.
pub fn parse_cidr(input: &str) -> Result<IpNet, AllowlistError> {
    let input = input.trim();
    let net = match input.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => input
            .parse::<std::net::IpAddr>()
            .map(IpNet::from)
            .map_err(|_| AllowlistError::NotAnAddress(input.to_owned()))?,
    };
    Ok(net.trunc())
}

/// Refuses networks wider than [`WIDEST_IPV4_PREFIX`] / [`WIDEST_IPV6_PREFIX`].
pub fn check_width(net: &IpNet) -> Result<(), AllowlistError> {
    let widest = match net {
        IpNet::V4(_) => WIDEST_IPV4_PREFIX,
        IpNet::V6(_) => WIDEST_IPV6_PREFIX,
    };
    if net.prefix_len() < widest {
        return Err(AllowlistError::TooWide { net: *net, widest });
    }
    Ok(())
}

/// Checks an entry without touching the database: the address parses, is no wider than
/// [`check_width`] allows, is public (unless `ranges` says otherwise) and the note fits.
/// Returns the canonical network.
pub fn check_entry(cidr: &str, note: &str, ranges: SourceRanges) -> Result<IpNet, AllowlistError> {
    let net = parse_cidr(cidr)?;
    check_width(&net)?;
    if ranges == SourceRanges::PublicOnly
        && let Some(range) = non_public_range(&net)
    {
        return Err(AllowlistError::NotPublic { net, range });
    }
    if note.trim().chars().count() > MAX_NOTE_CHARS {
        return Err(AllowlistError::NoteTooLong);
    }
    Ok(net)
}

/// Allows a network for the account after [`check_entry`]. An address belongs to one account:
/// a network that overlaps another account's entry is refused ([`AllowlistError::Claimed`]),
/// since the gateway could otherwise hand one customer's credential-less traffic to another.
/// Overlaps within one account are fine.
///
/// Race-free: on PostgreSQL every addition holds one advisory transaction lock; on SQLite the
/// insert comes first, so the transaction holds the single writer lock before it reads. Either
/// way two overlapping additions run one after the other and the second sees the first.
pub async fn add(
    db: &Db,
    account: AccountId,
    cidr: &str,
    note: &str,
    ranges: SourceRanges,
    now_ms: i64,
) -> Result<AllowlistEntry, AllowlistError> {
    let net = check_entry(cidr, note, ranges)?;
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        // pg_advisory_xact_lock returns `void`, which the Any driver cannot decode.
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS held",
        )
        .bind(ADD_LOCK_KEY)
        .fetch_one(&mut *tx)
        .await?;
    }
    let inserted = sqlx::query_as::<_, AllowlistEntry>(
        "INSERT INTO ip_allowlist (account_id, cidr, note, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id, account_id, cidr, note, created_at",
    )
    .bind(account)
    .bind(net.to_string())
    .bind(note.trim())
    .bind(now_ms)
    .fetch_one(&mut *tx)
    .await;
    let entry = match inserted.map_err(StoreError::from) {
        Ok(entry) => entry,
        Err(StoreError::Conflict(_)) => return Err(AllowlistError::Duplicate(net)),
        Err(StoreError::NotFound) => return Err(AllowlistError::NoAccount),
        Err(error) => return Err(error.into()),
    };
    let others =
        sqlx::query_scalar::<_, Cidr>("SELECT cidr FROM ip_allowlist WHERE account_id <> $1")
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
    for Cidr(other) in &others {
        if overlaps(other, &net) {
            tx.rollback().await?;
            return Err(AllowlistError::Claimed(net));
        }
    }
    let entries =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ip_allowlist WHERE account_id = $1")
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
    if entries > MAX_ENTRIES {
        tx.rollback().await?;
        return Err(AllowlistError::Full);
    }
    tx.commit().await?;
    Ok(entry)
}

/// Removes one of the account's entries; `NotFound` if it has no entry with that id.
pub async fn remove(db: &Db, account: AccountId, id: AllowlistEntryId) -> crate::Result<()> {
    let done = sqlx::query("DELETE FROM ip_allowlist WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// The account's allowlist, oldest first: source addresses that may use the proxy without
/// the password. Empty means only the username and password authenticate.
pub async fn for_account(db: &Db, account: AccountId) -> crate::Result<Vec<AllowlistEntry>> {
    Ok(sqlx::query_as::<_, AllowlistEntry>(
        "SELECT id, account_id, cidr, note, created_at FROM ip_allowlist WHERE account_id = $1 \
         ORDER BY id",
    )
    .bind(account)
    .fetch_all(db.pool())
    .await?)
}

/// An entry with its owner's sign-in email, for the administrator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct OwnedEntry {
    /// The entry.
    #[sqlx(flatten)]
    pub entry: AllowlistEntry,
    /// The owning account's email.
    pub email: String,
}

/// Every account's entries, ordered by network text then id so overlapping entries of a
/// dispute tend to sit together, for the administrator.
pub async fn all(db: &Db, page: Page) -> crate::Result<Vec<OwnedEntry>> {
    Ok(sqlx::query_as::<_, OwnedEntry>(
        "SELECT l.id, l.account_id, l.cidr, l.note, l.created_at, a.email \
           FROM ip_allowlist l JOIN accounts a ON a.id = l.account_id \
          ORDER BY l.cidr, l.id LIMIT $1 OFFSET $2",
    )
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(db.pool())
    .await?)
}

/// How many entries all accounts have together.
pub async fn count_all(db: &Db) -> crate::Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ip_allowlist")
            .fetch_one(db.pool())
            .await?,
    )
}

/// Removes any account's entry (an administrator settling a dispute) and returns it;
/// `NotFound` if there is no entry with that id.
pub async fn remove_any(db: &Db, id: AllowlistEntryId) -> crate::Result<AllowlistEntry> {
    sqlx::query_as::<_, AllowlistEntry>(
        "DELETE FROM ip_allowlist WHERE id = $1 RETURNING id, account_id, cidr, note, created_at",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test network")
    }

    #[test]
    fn cidrs_are_canonical_networks() {
        assert_eq!(
            parse_cidr("10.1.2.3/8").expect("v4").to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            parse_cidr(" 192.0.2.7 ").expect("host").to_string(),
            "192.0.2.7/32"
        );
        assert_eq!(
            parse_cidr("2001:db8::1/32").expect("v6").to_string(),
            "2001:db8::/32"
        );
        assert_eq!(parse_cidr("::1").expect("v6 host").to_string(), "::1/128");
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0/8", "1.2.3.4/-1"] {
            assert!(parse_cidr(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn non_public_ranges_are_refused_unless_private_sources_are_allowed() {
        for (input, range) in [
            ("127.0.0.1", "loopback"),
            ("10.20.30.0/24", "private"),
            ("172.31.255.1", "private"),
            ("192.168.1.0/24", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.0/24", "carrier-grade NAT"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd12:3456:789a::/48", "unique local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:203.0.113.7", "IPv4-mapped"),
        ] {
            match check_entry(input, "", SourceRanges::PublicOnly) {
                Err(AllowlistError::NotPublic { range: got, .. }) => {
                    assert_eq!(got, range, "{input}");
                }
                other => panic!("{input}: {other:?}"),
            }
            let allowed = check_entry(input, "", SourceRanges::IncludingPrivate);
            assert!(allowed.is_ok(), "{input} with private sources: {allowed:?}");
        }
        for public in [
            "203.0.113.7",
            "198.51.100.0/24",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2001:db8::/48",
            "2a00:1450:4001::1",
        ] {
            let checked = check_entry(public, "", SourceRanges::PublicOnly);
            assert!(checked.is_ok(), "{public}: {checked:?}");
        }
    }

    #[test]
    fn refusals_name_the_problem_without_naming_an_owner() {
        let claimed = AllowlistError::Claimed(net("203.0.113.7/32")).to_string();
        assert_eq!(
            claimed,
            "203.0.113.7/32 overlaps a network another account has claimed"
        );
        let wide = check_entry("10.0.0.0/8", "", SourceRanges::IncludingPrivate)
            .expect_err("too wide")
            .to_string();
        assert!(wide.contains("/24"), "{wide}");
        let note = check_entry("203.0.113.7", &"x".repeat(201), SourceRanges::PublicOnly);
        assert!(matches!(note, Err(AllowlistError::NoteTooLong)));
    }
}
