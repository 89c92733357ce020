//! One-time recovery codes for two-factor sign-in: made when 2FA is turned on, shown once,
//! stored only as digests (see `store::accounts::enable_totp`).
//!
//! A code carries about 50 random bits, so a fast digest (SHA-256) is enough to store it:
//! unlike a password it cannot be guessed from a dictionary.

use rand::distr::{Distribution, Uniform};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many recovery codes an account gets when 2FA is turned on.
pub const COUNT: usize = 10;
/// The alphabet of recovery codes: lower-case letters and digits without look-alikes
/// (no 0/o, 1/l/i): 31 symbols, so ten characters carry about 49.5 bits.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// [`COUNT`] new recovery codes, shown to the customer once, as `xxxxx-xxxxx`.
pub fn generate() -> Vec<String> {
    let symbols = Uniform::new(0, ALPHABET.len()).expect("non-empty range");
    let mut rng = rand::rng();
    (0..COUNT)
        .map(|_| {
            let chars: String = symbols
                .sample_iter(&mut rng)
                .take(10)
                .map(|i| char::from(ALPHABET[i]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What a recovery code is compared as: lower-case, without spaces or dashes.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The digest stored for a recovery code (hex SHA-256 of its normalized form).
pub fn digest(code: &str) -> String {
    let digest = Sha256::digest(normalize(code).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `code` is the one behind `digest`, compared in constant time.
pub fn matches(code: &str, stored: &str) -> bool {
    digest(code).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_match_only_themselves() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), COUNT);
        let stored = digest(&codes[0]);
        assert!(matches(&codes[0], &stored));
        assert!(matches(&codes[0].to_uppercase().replace('-', " "), &stored));
        assert!(!matches(&codes[1], &stored));
        assert_eq!(codes[0].len(), 11);
    }
}
