//! Paystack's webhook signature: `x-paystack-signature` is the lower-case hex HMAC-SHA512 of
//! the raw request body, keyed with the secret key. Checked before the body is parsed.

use hmac::{Hmac, Mac};
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

/// The signature Paystack sends for `body` (the test double signs with this too).
pub fn sign(secret_key: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha512::new_from_slice(secret_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `header` is the signature of `body`, compared in constant time.
pub fn verify(secret_key: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(header) = header else {
        return false;
    };
    let Some(claimed) = decode_hex(header.trim()) else {
        return false;
    };
    let mut mac =
        HmacSha512::new_from_slice(secret_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&claimed).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_hmac_sha512() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn only_the_exact_body_and_key_pass() {
        let body = br#"{"event":"charge.success","data":{"reference":"r1"}}"#;
        let good = sign("sk_test_x", body);
        assert!(verify("sk_test_x", body, Some(&good)));
        assert!(
            verify("sk_test_x", body, Some(&good.to_uppercase())),
            "hex case"
        );
        assert!(!verify("sk_test_y", body, Some(&good)), "another key");
        assert!(!verify(
            "sk_test_x",
            b"{\"event\":\"charge.success\"}",
            Some(&good)
        ));
        assert!(!verify("sk_test_x", body, None), "missing");
        assert!(!verify("sk_test_x", body, Some("")), "empty");
        assert!(
            !verify("sk_test_x", body, Some(&good[..good.len() - 2])),
            "truncated"
        );
        assert!(!verify("sk_test_x", body, Some("zz")), "not hex");
    }
}
