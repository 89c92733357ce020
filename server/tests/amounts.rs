//! Properties of amounts in the currency's subunit (kobo, pesewas, cents), over arbitrary
//! values: what the Billing page shows reads back as exactly the amount, and amounts travel
//! to and from Paystack as exact integers, never through floating point.

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

use app::format::{count, money};
use proptest::prelude::*;
use serde_json::json;
use server::paystack::{ChargeRequest, InitializeRequest, Transaction};

/// Currencies Paystack settles in, and one without a symbol of ours.
const CURRENCIES: [&str; 6] = ["NGN", "GHS", "KES", "ZAR", "USD", "XOF"];

/// Reads what [`money`] shows back into subunits: sign, symbol or code, `,` groups of three,
/// and two decimals when present. `None` for anything malformed.
fn parse_money(text: &str, currency: &str) -> Option<i128> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let symbol = match currency {
        "NGN" => "₦",
        "GHS" => "GH₵",
        "KES" => "KSh ",
        "ZAR" => "R",
        "USD" => "$",
        _ => "",
    };
    let body = if symbol.is_empty() {
        rest.strip_suffix(&format!(" {currency}"))?
    } else {
        rest.strip_prefix(symbol)?
    };
    let (whole, cents) = match body.split_once('.') {
        Some((whole, cents)) if cents.len() == 2 && cents != "00" => {
            (whole, cents.parse::<i128>().ok()?)
        }
        Some(_) => return None,
        None => (body, 0),
    };
    let groups: Vec<&str> = whole.split(',').collect();
    let well_grouped = groups.iter().enumerate().all(|(i, g)| {
        !g.is_empty()
            && g.len() <= 3
            && (i == 0 || g.len() == 3)
            && g.bytes().all(|b| b.is_ascii_digit())
    });
    if !well_grouped || (groups[0].starts_with('0') && whole != "0") {
        return None;
    }
    let value = groups.concat().parse::<i128>().ok()? * 100 + cents;
    Some(if negative { -value } else { value })
}

proptest! {
    #[test]
    fn money_reads_back_as_exactly_the_amount(
        minor in any::<i64>(),
        currency in prop::sample::select(CURRENCIES.to_vec()),
    ) {
        let shown = money(minor, currency);
        prop_assert_eq!(parse_money(&shown, currency), Some(i128::from(minor)), "{}", shown);
    }

    #[test]
    fn whole_amounts_show_no_decimals_and_others_exactly_two(
        major in 0..1_000_000_000_000i64,
        cents in 0..100i64,
    ) {
        let shown = money(major * 100 + cents, "NGN");
        match shown.split_once('.') {
            None => prop_assert_eq!(cents, 0, "{}", shown),
            Some((_, fraction)) => {
                prop_assert_eq!(fraction.len(), 2, "{}", shown);
                prop_assert_eq!(fraction.parse::<i64>().unwrap(), cents);
            }
        }
    }

    #[test]
    fn counts_read_back_without_their_separators(n in any::<i64>()) {
        let shown = count(n);
        prop_assert_eq!(shown.replace(',', "").parse::<i128>().unwrap(), i128::from(n));
    }

    #[test]
    fn amounts_travel_to_paystack_as_exact_integers(amount in 1..=i64::MAX) {
        let initialize = InitializeRequest {
            email: "a@example.com".to_owned(),
            amount,
            currency: "NGN".to_owned(),
            reference: "atl_1_x".to_owned(),
            callback_url: "http://x/".to_owned(),
            metadata: json!({}),
        };
        let sent = serde_json::to_value(&initialize).unwrap();
        prop_assert!(sent["amount"].is_i64(), "an integer, never a float");
        prop_assert_eq!(sent["amount"].as_i64(), Some(amount));
        let charge = ChargeRequest {
            email: "a@example.com".to_owned(),
            amount,
            authorization_code: "AUTH_x".to_owned(),
            reference: "atl_1_y".to_owned(),
            currency: "NGN".to_owned(),
            metadata: "{}".to_owned(),
        };
        let text = serde_json::to_string(&charge).unwrap();
        let expected = format!("\"amount\":{amount},");
        prop_assert!(text.contains(&expected), "{}", text);
    }

    #[test]
    fn amounts_from_paystack_are_read_exactly(amount in any::<i64>()) {
        let answer = json!({
            "id": 1, "status": "success", "reference": "atl_1_x", "amount": amount,
            "currency": "NGN",
        });
        let transaction: Transaction = serde_json::from_value(answer).unwrap();
        prop_assert_eq!(transaction.amount, amount);
    }
}

#[test]
fn the_reader_itself_refuses_malformed_text() {
    assert_eq!(parse_money("₦5,000", "NGN"), Some(500_000));
    assert_eq!(parse_money("-R2.50", "ZAR"), Some(-250));
    for bad in ["₦5000,", "₦5,00", "₦05", "₦5.5", "₦5.00", "5 NGN", "$5"] {
        assert_eq!(parse_money(bad, "NGN"), None, "{bad}");
    }
}
