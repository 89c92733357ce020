//! Secrets sealed at rest: the [`Keyring`] derived from `ATLANTIC_SECRET` (and the previous
//! secrets kept during a rotation), and the text format sealed values are stored in.
//!
//! A sealed value is `v1:<key version>:<base64(nonce || ciphertext)>`: XChaCha20-Poly1305 with
//! a random 24-byte nonce (large enough that random nonces never repeat in practice), under a
//! key derived with HKDF-SHA256 from the secret, one key per sealed column. The key version is
//! eight hex digits derived from the secret with its own HKDF label, so it names the secret
//! without revealing anything about the keys. The column and row id are the associated data:
//! a value copied into another row or column does not open.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::Rng;
use sha2::Sha256;

/// The secret development falls back to when `ATLANTIC_SECRET` is unset, so a development
/// database stays readable across restarts. Public knowledge: production refuses to start
/// without a real secret.
pub const DEVELOPMENT_SECRET: &str = "atlantic-development-secret-never-use-in-production";

/// The format prefix: XChaCha20-Poly1305, HKDF-SHA256 keys, base64 without padding.
const FORMAT: &str = "v1";
/// HKDF salt: fixed, so the same secret always derives the same keys.
const SALT: &[u8] = b"atlantic-proxy/sealing";
const KEY_ID_INFO: &[u8] = b"atlantic-proxy/key-version/v1";
const NONCE_LEN: usize = 24;
/// Hex digits of a key version.
const VERSION_LEN: usize = 8;

/// A column whose values are sealed. Each has its own key and associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// `exits.url_sealed`: the upstream URL with its credentials.
    ExitUrl,
    /// `accounts.totp_secret`: the base32 TOTP secret.
    TotpSecret,
    /// `proxy_credentials.secret`: the proxy password.
    ProxySecret,
}

impl Column {
    /// Every sealed column.
    pub const ALL: [Column; 3] = [Column::ExitUrl, Column::TotpSecret, Column::ProxySecret];

    /// `table.column`, as used in errors and the associated data.
    pub fn name(self) -> &'static str {
        match self {
            Column::ExitUrl => "exits.url_sealed",
            Column::TotpSecret => "accounts.totp_secret",
            Column::ProxySecret => "proxy_credentials.secret",
        }
    }

    fn index(self) -> usize {
        match self {
            Column::ExitUrl => 0,
            Column::TotpSecret => 1,
            Column::ProxySecret => 2,
        }
    }

    /// The HKDF label of the column's key: a separate key per purpose.
    fn info(self) -> &'static [u8] {
        match self {
            Column::ExitUrl => b"atlantic-proxy/seal/v1/exits.url_sealed",
            Column::TotpSecret => b"atlantic-proxy/seal/v1/accounts.totp_secret",
            Column::ProxySecret => b"atlantic-proxy/seal/v1/proxy_credentials.secret",
        }
    }

    fn associated_data(self, row: i64) -> String {
        format!("atlantic-proxy:{}:{row}", self.name())
    }
}

/// Why a sealed value could not be opened. Never contains the value or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The column holds plaintext where a sealed value belongs.
    #[error(
        "{column} of row {row} holds a plaintext value: `atlantic migrate` (also run at every \
         start) seals it"
    )]
    Plaintext {
        /// `table.column`.
        column: &'static str,
        /// The row's id.
        row: i64,
    },
    /// Not in the `v1:<version>:<base64>` format.
    #[error("{column} of row {row} is not a sealed value this version understands")]
    Malformed {
        /// `table.column`.
        column: &'static str,
        /// The row's id.
        row: i64,
    },
    /// Sealed under a secret that is not configured.
    #[error(
        "{column} of row {row} is sealed under key version {version}, which neither \
         ATLANTIC_SECRET (key version {current}) nor ATLANTIC_SECRET_PREVIOUS derives: set the \
         secret it was sealed with as ATLANTIC_SECRET_PREVIOUS"
    )]
    UnknownKey {
        /// `table.column`.
        column: &'static str,
        /// The row's id.
        row: i64,
        /// The version the value names.
        version: String,
        /// The current key's version.
        current: String,
    },
    /// The key is known but the value does not authenticate: altered, or moved from another
    /// row or column.
    #[error(
        "{column} of row {row} does not open under key version {version}: it was altered or \
         belongs to another row"
    )]
    Rejected {
        /// `table.column`.
        column: &'static str,
        /// The row's id.
        row: i64,
        /// The key version tried.
        version: String,
    },
}

/// One secret's derived keys.
struct Key {
    version: String,
    keys: [[u8; 32]; 3],
}

impl Key {
    fn derive(secret: &str) -> Key {
        let hkdf = Hkdf::<Sha256>::new(Some(SALT), secret.as_bytes());
        let mut id = [0u8; VERSION_LEN / 2];
        hkdf.expand(KEY_ID_INFO, &mut id)
            .expect("HKDF-SHA256 expands to 4 bytes");
        let mut keys = [[0u8; 32]; 3];
        for column in Column::ALL {
            hkdf.expand(column.info(), &mut keys[column.index()])
                .expect("HKDF-SHA256 expands to 32 bytes");
        }
        Key {
            version: id.iter().map(|b| format!("{b:02x}")).collect(),
            keys,
        }
    }

    fn cipher(&self, column: Column) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.keys[column.index()].into())
    }
}

/// The keys that seal and open secrets at rest: the current secret's, which seals, and the
/// previous secrets', which only open. Cloning is cheap. `Debug` shows key versions only.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

struct Inner {
    current: Key,
    previous: Vec<Key>,
    development: bool,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.inner.previous.iter().map(|k| &*k.version).collect();
        f.debug_struct("Keyring")
            .field("version", &self.version())
            .field("previous", &previous)
            .field("development", &self.inner.development)
            .finish()
    }
}

impl Keyring {
    /// Keys derived from `current` (seals and opens) and each of `previous` (only opens).
    /// Checking the secrets' strength is the configuration's job.
    pub fn new(current: &str, previous: &[&str]) -> Keyring {
        Keyring {
            inner: Arc::new(Inner {
                current: Key::derive(current),
                previous: previous.iter().map(|s| Key::derive(s)).collect(),
                development: current == DEVELOPMENT_SECRET,
            }),
        }
    }

    /// The keyring of [`DEVELOPMENT_SECRET`], for development and tests.
    pub fn development() -> Keyring {
        Keyring::new(DEVELOPMENT_SECRET, &[])
    }

    /// Whether the current secret is the public development one.
    pub fn is_development(&self) -> bool {
        self.inner.development
    }

    /// The current key's version: what new values are sealed under.
    pub fn version(&self) -> &str {
        &self.inner.current.version
    }

    /// Seals `plaintext` for `column` of row `row` under the current key.
    pub fn seal(&self, column: Column, row: i64, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce);
        let aad = column.associated_data(row);
        let ciphertext = self
            .inner
            .current
            .cipher(column)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!(
            "{FORMAT}:{}:{}",
            self.version(),
            STANDARD_NO_PAD.encode(blob)
        )
    }

    /// Opens a value [`Keyring::seal`] sealed for the same column and row, with whichever
    /// configured key its version names.
    pub fn open(&self, column: Column, row: i64, sealed: &str) -> Result<String, SealError> {
        let name = column.name();
        let Some((version, blob)) = parse(sealed) else {
            return Err(if is_sealed(sealed) {
                SealError::Malformed { column: name, row }
            } else {
                SealError::Plaintext { column: name, row }
            });
        };
        let inner = &self.inner;
        let Some(key) = std::iter::once(&inner.current)
            .chain(&inner.previous)
            .find(|k| k.version == version)
        else {
            return Err(SealError::UnknownKey {
                column: name,
                row,
                version: version.to_owned(),
                current: self.version().to_owned(),
            });
        };
        let malformed = SealError::Malformed { column: name, row };
        let blob = STANDARD_NO_PAD
            .decode(blob)
            .map_err(|_| malformed.clone())?;
        if blob.len() < NONCE_LEN {
            return Err(malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = column.associated_data(row);
        let rejected = || SealError::Rejected {
            column: name,
            row,
            version: version.to_owned(),
        };
        let plaintext = key
            .cipher(column)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| rejected())?;
        String::from_utf8(plaintext).map_err(|_| rejected())
    }

    /// Whether a sealed value is sealed under a key other than the current one (what
    /// `atlantic secrets rotate` re-seals).
    pub fn is_stale(&self, sealed: &str) -> bool {
        parse(sealed).is_some_and(|(version, _)| version != self.version())
    }
}

/// Whether `value` is in the sealed format (any key version). Plaintext secrets never are:
/// proxy passwords are alphanumeric, TOTP secrets base32, and exit URLs live in another column.
pub fn is_sealed(value: &str) -> bool {
    value
        .strip_prefix(FORMAT)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// `(version, base64)` of a well-formed sealed value.
fn parse(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix(FORMAT)?.strip_prefix(':')?;
    let (version, blob) = rest.split_once(':')?;
    let hex = version.len() == VERSION_LEN && version.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then_some((version, blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_never_show_the_plaintext() {
        let keys = Keyring::new("a-secret-of-at-least-thirty-two-bytes", &[]);
        let sealed = keys.seal(Column::ProxySecret, 7, "hunter2hunter2");
        assert!(!sealed.contains("hunter2"), "{sealed}");
        assert!(
            sealed.starts_with(&format!("v1:{}:", keys.version())),
            "{sealed}"
        );
        assert!(is_sealed(&sealed));
        assert_ne!(
            sealed,
            keys.seal(Column::ProxySecret, 7, "hunter2hunter2"),
            "fresh nonce"
        );
        assert_eq!(
            keys.open(Column::ProxySecret, 7, &sealed).expect("opens"),
            "hunter2hunter2"
        );
    }

    #[test]
    fn a_value_opens_only_for_its_own_row_and_column() {
        let keys = Keyring::development();
        let sealed = keys.seal(Column::TotpSecret, 1, "JBSWY3DPEHPK3PXP");
        assert!(matches!(
            keys.open(Column::TotpSecret, 2, &sealed),
            Err(SealError::Rejected { row: 2, .. })
        ));
        assert!(matches!(
            keys.open(Column::ProxySecret, 1, &sealed),
            Err(SealError::Rejected { .. })
        ));
    }

    #[test]
    fn key_versions_name_the_secret_and_previous_secrets_still_open() {
        let old = Keyring::new("the-old-secret-the-old-secret-the-old", &[]);
        let new = Keyring::new("the-new-secret-the-new-secret-the-new", &[]);
        assert_ne!(old.version(), new.version());
        assert_eq!(
            old.version(),
            Keyring::new("the-old-secret-the-old-secret-the-old", &[]).version()
        );
        let sealed = old.seal(Column::ExitUrl, 3, "socks5://u:p@h:1");
        let err = new
            .open(Column::ExitUrl, 3, &sealed)
            .expect_err("unknown key");
        assert!(matches!(err, SealError::UnknownKey { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(old.version()) && text.contains("ATLANTIC_SECRET_PREVIOUS"));
        let both = Keyring::new(
            "the-new-secret-the-new-secret-the-new",
            &["the-old-secret-the-old-secret-the-old"],
        );
        assert_eq!(
            both.open(Column::ExitUrl, 3, &sealed).expect("opens"),
            "socks5://u:p@h:1"
        );
        assert!(both.is_stale(&sealed));
        assert!(!both.is_stale(&both.seal(Column::ExitUrl, 3, "x")));
        let shown = format!("{both:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn plaintext_and_junk_are_told_apart() {
        let keys = Keyring::development();
        for (value, plaintext) in [
            ("Ab3dEf6hIj9kLm2nOp5qRs8t", true),
            ("JBSWY3DPEHPK3PXP", true),
            ("v1:zz:abc", false),
            ("v1:0011aabb:!!!", false),
            ("v1:0011aabb:", false),
        ] {
            let err = keys.open(Column::ProxySecret, 1, value).expect_err(value);
            assert_eq!(
                matches!(err, SealError::Plaintext { .. }),
                plaintext,
                "{value}: {err}"
            );
            assert!(!err.to_string().contains(value), "{err}");
        }
    }
}
