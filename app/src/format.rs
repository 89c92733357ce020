//! Formatting numbers for people: byte sizes, money in minor units, counts.

/// Decimal byte sizes, the way bandwidth is sold: 5 000 000 000 → "5 GB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else if value >= 100.0 || value.fract() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An amount in the currency's subunit (kobo, pesewas, cents) with its symbol:
/// (500_000, "NGN") → "₦5,000"; fractions are shown only when present.
pub fn money(minor: i64, currency: &str) -> String {
    let symbol = match currency {
        "NGN" => "₦",
        "GHS" => "GH₵",
        "KES" => "KSh ",
        "ZAR" => "R",
        "USD" => "$",
        _ => "",
    };
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let (whole, cents) = (abs / 100, abs % 100);
    let whole = group_thousands(whole);
    let body = if cents == 0 {
        whole
    } else {
        format!("{whole}.{cents:02}")
    };
    if symbol.is_empty() {
        format!("{sign}{body} {currency}")
    } else {
        format!("{sign}{symbol}{body}")
    }
}

/// A count with thousands separators: 1000000 → "1,000,000".
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands(n.unsigned_abs()))
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The UTC calendar date (year, month, day) of epoch milliseconds (Howard Hinnant's
/// days-to-civil algorithm; no time-zone database needed).
pub fn civil_date(ms: i64) -> (i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `2026-11-22` from epoch milliseconds (UTC).
pub fn utc_date(ms: i64) -> String {
    let (year, month, day) = civil_date(ms);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_decimal_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1 KB");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(5_000_000_000), "5 GB");
        assert_eq!(bytes(250_000_000_000), "250 GB");
        assert_eq!(bytes(2_500_000_000_000), "2.5 TB");
        assert_eq!(bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn money_shows_symbol_and_fractions_only_when_present() {
        assert_eq!(money(500_000, "NGN"), "₦5,000");
        assert_eq!(money(120_000_000, "NGN"), "₦1,200,000");
        assert_eq!(money(1_050, "USD"), "$10.50");
        assert_eq!(money(7, "USD"), "$0.07");
        assert_eq!(money(-250, "ZAR"), "-R2.50");
        assert_eq!(money(100, "XOF"), "1 XOF");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(-12_345), "-12,345");
    }
}
