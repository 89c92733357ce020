//! What each proxy error code means for the customer, and what fixes it: the hints live with
//! the codes in `wire`; this turns a stored code string into one.

use wire::ErrorCode;

/// Shown for a code this build does not know (recorded by another version, say).
const UNKNOWN: &str = "See the documentation for this error code.";

/// A one-line hint for a proxy error code.
pub fn for_code(code: &str) -> &'static str {
    ErrorCode::from_wire(code).map_or(UNKNOWN, ErrorCode::hint)
}

#[cfg(test)]
mod tests {
    use wire::ErrorCode;

    #[test]
    fn every_code_has_its_own_hint() {
        let unknown = super::for_code("no_such_code");
        for code in ErrorCode::ALL {
            let hint = super::for_code(code.as_str());
            assert_eq!(hint, code.hint(), "{code}");
            assert_ne!(hint, unknown, "{code}");
        }
    }
}
