//! Two-factor sign-in material: TOTP secrets and codes (RFC 6238, via `totp-rs`: SHA-1, six
//! digits, 30-second steps, one step of clock skew either way, which is what every
//! authenticator app speaks), the `otpauth://` URI and its QR code as SVG, and one-time
//! recovery codes with their digests.
//!
//! Recovery codes carry about 50 random bits each, so a fast digest (SHA-256) is enough to store
//! them: unlike passwords they cannot be guessed from a dictionary.

use rand::Rng;
use rand::distr::{Distribution, Uniform};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::{Result, StoreError};

/// The issuer authenticator apps show next to the code.
pub const ISSUER: &str = "AtlanticProxy";
/// How many recovery codes an account gets when 2FA is turned on.
pub const RECOVERY_CODES: usize = 10;
/// Length of a TOTP step in seconds.
const STEP_SECS: u64 = 30;
/// The alphabet of recovery codes: lower-case letters and digits without look-alikes
/// (no 0/o, 1/l/i): 31 symbols, so ten characters carry about 49.5 bits.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new random TOTP secret (160 bits, RFC 4226's recommendation), base32 as apps expect it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(secret: &str, email: &str) -> Result<Totp> {
    let secret = Secret::try_from_base32(secret)
        .map_err(|_| StoreError::Invalid("the TOTP secret is not base32".to_owned()))?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        // A ':' separates issuer and account in the URI; emails do not normally have one.
        .with_account_name(email.replace(':', "_"))
        .build()
        .map_err(|e| StoreError::Invalid(format!("TOTP parameters: {e}")))
}

/// The `otpauth://totp/…` URI an authenticator app scans.
pub fn otpauth_uri(secret: &str, email: &str) -> Result<String> {
    totp(secret, email)?
        .to_url()
        .map_err(|e| StoreError::Invalid(format!("TOTP URI: {e}")))
}

/// Checks a six-digit code (spaces allowed) at `unix_secs`. Returns the matched time step,
/// which the caller must accept only once (see [`crate::accounts::accept_totp_step`]).
pub fn check_code(secret: &str, code: &str, unix_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret, "account").ok()?.check(&code, unix_secs)?;
    i64::try_from(step).ok()
}

/// The code for `unix_secs` (for tests and for the documentation's examples).
pub fn code_at(secret: &str, unix_secs: u64) -> Result<String> {
    Ok(totp(secret, "account")?.generate(unix_secs).to_string())
}

/// Renders `data` as a QR code in SVG (black modules on white, with the quiet zone), for
/// inlining in the page: no image request, nothing for a CSP to allow.
pub fn qr_svg(data: &str) -> Result<String> {
    let code = qrcode::QrCode::new(data.as_bytes())
        .map_err(|e| StoreError::Invalid(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// Ten new recovery codes, shown to the customer once, as `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    let symbols = Uniform::new(0, RECOVERY_ALPHABET.len()).expect("non-empty range");
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = symbols
                .sample_iter(&mut rng)
                .take(10)
                .map(|i| char::from(RECOVERY_ALPHABET[i]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// What a recovery code is compared as: lower-case, without spaces or dashes.
fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The digest stored for a recovery code (hex SHA-256 of its normalized form).
pub fn hash_recovery_code(code: &str) -> String {
    let digest = Sha256::digest(normalize_recovery_code(code).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `code` is the one behind `digest`, compared in constant time.
pub fn recovery_code_matches(code: &str, digest: &str) -> bool {
    hash_recovery_code(code)
        .as_bytes()
        .ct_eq(digest.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_verify_within_one_step_of_skew_and_not_beyond() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).expect("code");
        assert_eq!(check_code(&secret, &code, now), Some((now / 30) as i64));
        assert!(
            check_code(&secret, &code, now + 30).is_some(),
            "one step late"
        );
        assert!(
            check_code(&secret, &code, now - 30).is_some(),
            "one step early"
        );
        assert_eq!(
            check_code(&secret, &code, now + 90),
            None,
            "three steps late"
        );
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(check_code(&secret, &spaced, now).is_some());
        assert_eq!(check_code(&secret, "12345", now), None);
        assert_eq!(check_code(&secret, "abcdef", now), None);
        assert_eq!(
            check_code(&new_secret(), &code, now),
            None,
            "another secret"
        );
    }

    #[test]
    fn the_rfc_6238_sha1_vector_matches() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s → 94287082 (8 digits);
        // six digits are its last six.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).expect("code"), "287082");
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let secret = new_secret();
        let uri = otpauth_uri(&secret, "ada@example.com").expect("uri");
        assert!(
            uri.starts_with("otpauth://totp/AtlanticProxy:ada%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(qr_svg(&uri).expect("svg").starts_with("<?xml"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_match_only_themselves() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let digest = hash_recovery_code(&codes[0]);
        assert!(recovery_code_matches(&codes[0], &digest));
        assert!(recovery_code_matches(
            &codes[0].to_uppercase().replace('-', " "),
            &digest
        ));
        assert!(!recovery_code_matches(&codes[1], &digest));
        assert_eq!(codes[0].len(), 11);
    }
}
