//! What each proxy error code means for the customer, and what fixes it (DESIGN.md's table).

/// A one-line hint for a proxy error code.
pub fn for_code(code: &str) -> &'static str {
    match code {
        "auth_required" => "Your client sent no credentials: set the proxy username and password.",
        "bad_credentials" => {
            "Wrong username or password, or a source IP that is not on your allowlist. Check Settings."
        }
        "bad_parameters" => {
            "The username's parameters did not parse or your plan does not allow them: see the connection builder in Settings."
        }
        "quota_exceeded" => {
            "Your plan's bandwidth is used up, or there is no active plan: renew on Billing."
        }
        "rate_limited" => {
            "Too many requests per second or connections at once for your plan: slow down or upgrade."
        }
        "destination_blocked" => {
            "Private and loopback addresses and mail ports (25, 465, 587) cannot be reached through the proxy."
        }
        "no_exit" => {
            "No healthy exit matches the country or city you asked for: try another, or none."
        }
        "upstream_failed" => {
            "Every exit tried failed to reach the destination: the site may be down; retry in a moment."
        }
        "connect_timeout" => "The destination did not answer in time: retry, or check the site.",
        _ => "See the documentation for this error code.",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_known_code_has_its_own_hint() {
        let generic = super::for_code("no_such_code");
        for code in [
            "auth_required",
            "bad_credentials",
            "quota_exceeded",
            "rate_limited",
            "no_exit",
        ] {
            assert_ne!(super::for_code(code), generic, "{code}");
        }
    }
}
