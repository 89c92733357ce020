//! TOTP codes (RFC 6238, via `totp-rs`): SHA-1, six digits, 30-second steps, one step of clock
//! skew either way, which is what every authenticator app speaks. New secrets, checking a
//! code, and enrolment: the `otpauth://` URI and its QR code as SVG. The store keeps only the
//! secret (sealed) and the last accepted step (see `store::accounts::accept_totp_step`).

use rand::Rng;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The issuer authenticator apps show next to the code.
pub const ISSUER: &str = "AtlanticProxy";
/// Length of a TOTP step in seconds.
const STEP_SECS: u64 = 30;

/// Why a TOTP value could not be made (a malformed secret, a URI too long for a QR code).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TotpError(String);

/// A new random TOTP secret (160 bits, RFC 4226's recommendation), base32 as apps expect it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(secret: &str, email: &str) -> Result<Totp, TotpError> {
    let secret = Secret::try_from_base32(secret)
        .map_err(|_| TotpError("the TOTP secret is not base32".to_owned()))?;
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
        .map_err(|e| TotpError(format!("TOTP parameters: {e}")))
}

/// The `otpauth://totp/…` URI an authenticator app scans.
pub fn otpauth_uri(secret: &str, email: &str) -> Result<String, TotpError> {
    totp(secret, email)?
        .to_url()
        .map_err(|e| TotpError(format!("TOTP URI: {e}")))
}

/// What Settings shows while enrolment waits for its first code: the `otpauth://` URI and
/// that URI as a QR code in SVG.
pub fn enrolment(secret: &str, email: &str) -> Result<(String, String), TotpError> {
    let uri = otpauth_uri(secret, email)?;
    let svg = qr_svg(&uri)?;
    Ok((uri, svg))
}

/// Checks a six-digit code (spaces allowed) at `unix_secs`. Returns the matched time step,
/// which the caller must accept only once (see `store::accounts::accept_totp_step`).
pub fn check_code(secret: &str, code: &str, unix_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret, "account").ok()?.check(&code, unix_secs)?;
    i64::try_from(step).ok()
}

/// The code for `unix_secs` (for tests and for the documentation's examples).
pub fn code_at(secret: &str, unix_secs: u64) -> Result<String, TotpError> {
    Ok(totp(secret, "account")?.generate(unix_secs).to_string())
}

/// Epoch milliseconds as the whole seconds TOTP counts in.
pub fn unix_secs(now_ms: i64) -> u64 {
    u64::try_from(now_ms / 1000).unwrap_or(0)
}

/// Renders `data` as a QR code in SVG (black modules on white, with the quiet zone), for
/// inlining in the page: no image request, nothing for a CSP to allow.
pub fn qr_svg(data: &str) -> Result<String, TotpError> {
    let code =
        qrcode::QrCode::new(data.as_bytes()).map_err(|e| TotpError(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
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
        let (enrol_uri, svg) = enrolment(&secret, "ada@example.com").expect("enrolment");
        assert_eq!(enrol_uri, uri);
        assert!(svg.starts_with("<?xml"));
    }

    #[test]
    fn whole_seconds_never_go_negative() {
        assert_eq!(unix_secs(1_800_000_000_999), 1_800_000_000);
        assert_eq!(unix_secs(-5_000), 0);
    }
}
