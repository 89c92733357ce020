//! What a form post did, as the server redirects back with it and the page shows it: one
//! [`Outcome`] variant per message, shared by the server (which builds the redirect) and the
//! pages (which read it from the URL), so the two cannot drift apart.
//!
//! The wire form is a query parameter (`?notice=paid`, `?error=cidr`, `?registered=1`) whose
//! values are fixed: bookmarks and the browser tests use them. A key means something only on
//! its own page (`?error=code` is another message on `/settings` than on `/login/code`), so
//! reading one always names the page.

/// A page that shows outcomes, and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// `/login`.
    Login,
    /// `/login/code`, the second sign-in step.
    LoginCode,
    /// `/register`.
    Register,
    /// `/settings`.
    Settings,
    /// `/servers`.
    Servers,
    /// `/admin`.
    Admin,
    /// `/billing`.
    Billing,
}

impl Page {
    /// The page's path.
    pub fn path(self) -> &'static str {
        match self {
            Page::Login => "/login",
            Page::LoginCode => "/login/code",
            Page::Register => "/register",
            Page::Settings => "/settings",
            Page::Servers => "/servers",
            Page::Admin => "/admin",
            Page::Billing => "/billing",
        }
    }

    /// The query parameters the page reads, in the order it looks at them.
    fn params(self) -> &'static [Param] {
        match self {
            Page::Login => &[Param::Error, Param::Registered, Param::SignedOut],
            Page::LoginCode | Page::Register => &[Param::Error],
            Page::Admin => &[Param::Notice],
            Page::Settings | Page::Servers | Page::Billing => &[Param::Notice, Param::Error],
        }
    }

    /// What the page shows for a key of `param` it does not know.
    fn unknown(self, param: Param) -> Unknown {
        match (self, param) {
            // The sign-in pages explain any failure in the same words.
            (Page::Login, Param::Error) => Unknown::Show(Outcome::WrongCredentials),
            (Page::LoginCode, Param::Error) => Unknown::Show(Outcome::WrongSignInCode),
            (Page::Register, Param::Error) => Unknown::Show(Outcome::RegisterPasswordWeak),
            (Page::Settings, Param::Notice) => Unknown::Nothing,
            _ => Unknown::NextParam,
        }
    }
}

/// What a page does with a key it does not know.
enum Unknown {
    /// Shows this outcome instead.
    Show(Outcome),
    /// Looks at its next parameter.
    NextParam,
    /// Shows nothing.
    Nothing,
}

/// The query parameter an outcome travels in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// `notice=…`: something was done (or is under way).
    Notice,
    /// `error=…`: nothing was done, and why.
    Error,
    /// `registered=1`.
    Registered,
    /// `signed_out=1`.
    SignedOut,
}

impl Param {
    /// The parameter's name in the URL.
    pub fn name(self) -> &'static str {
        match self {
            Param::Notice => "notice",
            Param::Error => "error",
            Param::Registered => "registered",
            Param::SignedOut => "signed_out",
        }
    }

    /// Whether any value counts (`?registered=1` and `?registered=yes` alike).
    fn is_flag(self) -> bool {
        matches!(self, Param::Registered | Param::SignedOut)
    }
}

/// How an outcome reads: done, for information, or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// The change was made.
    Success,
    /// Neither: nothing to fix, nothing done yet (e.g. a payment still processing).
    Info,
    /// Nothing was changed; the message says why.
    Error,
}

/// Declares [`Outcome`] from one table: each variant with its page, parameter, key, tone and
/// message, so the wire form and the words cannot be listed apart.
macro_rules! outcomes {
    ($($(#[$doc:meta])* $variant:ident => ($page:ident, $param:ident, $key:literal, $tone:ident, $message:expr),)*) => {
        /// Everything a form post can come back with.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Outcome {
            $($(#[$doc])* $variant,)*
        }

        impl Outcome {
            /// Every outcome, for reading keys back.
            pub const ALL: &[Outcome] = &[$(Outcome::$variant,)*];

            fn spec(self) -> Spec {
                match self {
                    $(Outcome::$variant => Spec {
                        page: Page::$page,
                        param: Param::$param,
                        key: $key,
                        tone: Tone::$tone,
                        message: $message,
                    },)*
                }
            }
        }
    };
}

outcomes! {
    // `/login`
    /// The account was created (or the email had one already: the page does not say).
    Registered => (Login, Registered, "1", Success,
        "Your account is ready if this email was new. Sign in to continue."),
    /// The session ended.
    SignedOut => (Login, SignedOut, "1", Info,
        "You are signed out."),
    /// The second step came too late, or the account changed meanwhile.
    SignInExpired => (Login, Error, "expired", Error,
        "That sign-in took too long. Start again."),
    /// The email is longer than any account's.
    SignInEmailTooLong => (Login, Error, "email", Error,
        "That email address is too long (at most 254 characters)."),
    /// Too many wrong second-step codes: the password is needed again.
    TooManyWrongCodes => (Login, Error, "attempts", Error,
        "Too many wrong codes. Start again with your password."),
    /// The email or password is wrong.
    WrongCredentials => (Login, Error, "credentials", Error,
        "Email or password is incorrect."),
    // `/login/code`
    /// A wrong authenticator or recovery code.
    WrongSignInCode => (LoginCode, Error, "code", Error,
        "That code is not right. Enter the current code from your app, or a recovery code."),
    // `/register`
    /// Not an email address, or too long for one.
    RegisterEmailInvalid => (Register, Error, "email", Error,
        "Enter a valid email address (at most 254 characters)."),
    /// The password is too short.
    RegisterPasswordShort => (Register, Error, "short", Error,
        "Use at least 10 characters."),
    /// The password is too easy to guess.
    RegisterPasswordWeak => (Register, Error, "weak", Error,
        "That password is too easy to guess. Try a longer phrase of unrelated words."),
    // `/settings`
    /// The password was changed.
    PasswordChanged => (Settings, Notice, "password_changed", Success,
        "Password changed. Every other session was signed out."),
    /// Every other session was signed out.
    SessionsRevoked => (Settings, Notice, "sessions_revoked", Success,
        "Every other session is signed out."),
    /// Two-factor set-up started: scan the QR code.
    TwoFactorScan => (Settings, Notice, "scan", Success,
        "Scan the QR code with your authenticator app, then enter the code it shows."),
    /// Two-factor sign-in is on.
    TwoFactorOn => (Settings, Notice, "two_factor_on", Success,
        "Two-factor sign-in is on. Store your recovery codes somewhere safe."),
    /// Two-factor sign-in is off.
    TwoFactorOff => (Settings, Notice, "two_factor_off", Success,
        "Two-factor sign-in is off."),
    /// An allowlist entry was added.
    AllowlistAdded => (Settings, Notice, "allowlist_added", Success,
        "Added. The gateway accepts connections from it within seconds."),
    /// One of the account's allowlist entries was removed.
    AllowlistRemoved => (Settings, Notice, "allowlist_removed", Success,
        "Removed from the allowlist."),
    /// Time zone and quota warning were saved.
    PreferencesSaved => (Settings, Notice, "preferences_saved", Success,
        "Saved. Times and charts now use your time zone."),
    /// The current password (asked again) is wrong.
    CurrentPasswordWrong => (Settings, Error, "current_password", Error,
        "Your current password is not correct."),
    /// The new password is too short.
    NewPasswordShort => (Settings, Error, "short", Error,
        "The new password needs at least 10 characters."),
    /// The new password is too easy to guess.
    NewPasswordWeak => (Settings, Error, "weak", Error,
        "The new password is too easy to guess. Try a longer phrase of unrelated words."),
    /// Two-factor sign-in is on already.
    TwoFactorAlreadyOn => (Settings, Error, "already_on", Error,
        "Two-factor sign-in is on already."),
    /// A code was sent for a two-factor set-up that was never started.
    TwoFactorNotStarted => (Settings, Error, "not_started", Error,
        "Start the set-up first."),
    /// A wrong two-factor code.
    WrongCode => (Settings, Error, "code", Error,
        "That code is not right. Codes change every 30 seconds: enter the current one."),
    /// Not an IP address or network.
    NotAnAddress => (Settings, Error, "cidr", Error,
        "Enter an IP address (203.0.113.7) or a network (203.0.113.0/24)."),
    /// The network is wider than an allowlist entry may be.
    NetworkTooWide => (Settings, Error, "too_wide", Error,
        "That network is too wide: at most a /24 for IPv4 or a /48 for IPv6."),
    /// The network is on the allowlist already.
    AlreadyAllowed => (Settings, Error, "duplicate", Error,
        "That network is on the allowlist already."),
    /// The network overlaps another account's allowlist.
    ClaimedByAnother => (Settings, Error, "claimed", Error,
        "That network overlaps one on another account's allowlist, and an address can \
                 belong to one account only. If it is yours, contact support."),
    /// Not a public address.
    NotPublic => (Settings, Error, "not_public", Error,
        "Only public addresses can be allowed: loopback, private (10/8, 172.16/12, \
                 192.168/16, fc00::/7), link-local, shared (100.64/10), multicast and IPv4-mapped \
                 addresses never reach the gateway as your source address."),
    /// The allowlist has no room left.
    AllowlistFull => (Settings, Error, "full", Error,
        "The allowlist is full (100 networks). Remove one first."),
    /// The allowlist label is too long.
    NoteTooLong => (Settings, Error, "note", Error,
        "Keep the label under 100 characters."),
    /// Not a time zone from the list.
    UnknownTimeZone => (Settings, Error, "time_zone", Error,
        "Choose a time zone from the list."),
    /// The quota warning is not a whole number from 0 to 100.
    QuotaPercentInvalid => (Settings, Error, "quota_percent", Error,
        "The quota warning is a whole number from 0 to 100."),
    // `/admin`
    /// An administrator removed an allowlist entry.
    AdminAllowlistRemoved => (Admin, Notice, "allowlist_removed", Success,
        "Removed. The gateway stops accepting that network within seconds."),
    // `/servers`
    /// An exit was added.
    ExitAdded => (Servers, Notice, "exit_added", Success,
        "Exit added. The gateway checks it now and uses it within seconds."),
    /// An exit was removed.
    ExitRemoved => (Servers, Notice, "exit_removed", Success,
        "Exit removed."),
    /// An exit was enabled.
    ExitEnabled => (Servers, Notice, "exit.enabled", Success,
        "Exit enabled."),
    /// An exit was disabled.
    ExitDisabled => (Servers, Notice, "exit.disabled", Success,
        "Exit disabled."),
    /// An exit was probed just now.
    ExitTested => (Servers, Notice, "exit_tested", Success,
        "Checked just now: see its health below."),
    /// The exit's URL or country is not valid.
    ExitInvalid => (Servers, Error, "exit_invalid", Error,
        "Check the URL (http://[user:pass@]host:port or socks5://…) and the two-letter country."),
    /// An exit with that URL exists.
    ExitDuplicate => (Servers, Error, "exit_duplicate", Error,
        "An exit with that URL exists already."),
    // `/billing`
    /// The payment went through and the plan is active.
    Paid => (Billing, Notice, "paid", Success,
        "Payment received: your plan is active. The proxy applies its limits within seconds."),
    /// Paystack is still processing the payment.
    PaymentProcessing => (Billing, Notice, "processing", Info,
        "Paystack is still processing the payment. This page updates once it is confirmed."),
    /// Back from Paystack's checkout, but Paystack could not be asked whether it was paid.
    PaymentUnconfirmed => (Billing, Notice, "unconfirmed", Info,
        "We could not reach Paystack to confirm your payment yet. If you paid, your plan starts by itself as soon as Paystack confirms it, usually within minutes; you will not be charged twice."),
    /// Automatic renewal was turned on.
    AutoRenewOn => (Billing, Notice, "auto_renew_on", Success,
        "Automatic renewal is on: your saved card is charged a day before the period ends."),
    /// Automatic renewal was turned off.
    AutoRenewOff => (Billing, Notice, "auto_renew_off", Success,
        "Automatic renewal is off: your plan ends with its period unless you renew it here."),
    /// The payment renewed a plan already switched from, and is refunded.
    Refunded => (Billing, Notice, "refunded", Info,
        "That payment renewed a plan you had already switched from, so it was refunded to your card."),
    /// A renewal is being charged; checkout waits.
    Renewing => (Billing, Error, "renewing", Error,
        "Your plan is being renewed with your saved card right now. Nothing new was charged; try again in a minute."),
    /// The card was declined.
    Declined => (Billing, Error, "declined", Error,
        "The payment was declined. Nothing was charged; try again or use another card."),
    /// The customer left Paystack's checkout.
    CheckoutCancelled => (Billing, Error, "cancelled", Info,
        "Checkout cancelled. Nothing was charged."),
    /// Paystack's transaction does not match the order.
    Mismatch => (Billing, Error, "mismatch", Error,
        "The payment did not match the order and was not applied. Contact support with the reference below."),
    /// Paystack cannot be reached.
    PaystackUnavailable => (Billing, Error, "paystack_unavailable", Error,
        "Paystack is not reachable right now, so checkout is paused. Nothing was charged; try again in a minute."),
    /// Paystack refused to start the checkout.
    CheckoutRefused => (Billing, Error, "refused", Error,
        "Paystack refused to start the checkout. Try again or contact support."),
    /// The plan is not for sale.
    PlanNotForSale => (Billing, Error, "plan", Error,
        "That plan cannot be bought."),
    /// The payment reference is not ours.
    UnknownReference => (Billing, Error, "reference", Error,
        "That payment is unknown here."),
    /// There is no current plan to renew.
    NoPlan => (Billing, Error, "no_plan", Error,
        "There is no current plan to renew automatically."),
    /// The automatic renewal switch sent something other than on or off.
    AutoRenewInvalid => (Billing, Error, "auto_renew", Error,
        "That renewal setting is not understood."),
}

/// One outcome's page, wire form, tone and message.
struct Spec {
    page: Page,
    param: Param,
    key: &'static str,
    tone: Tone,
    message: &'static str,
}

impl Outcome {
    /// The page that shows it.
    pub fn page(self) -> Page {
        self.spec().page
    }

    /// The query parameter it travels in.
    pub fn param(self) -> Param {
        self.spec().param
    }

    /// Its value in the URL (unique on its page and parameter).
    pub fn as_key(self) -> &'static str {
        self.spec().key
    }

    /// Whether it reports a change, information, or a refusal.
    pub fn tone(self) -> Tone {
        self.spec().tone
    }

    /// What the page says.
    pub fn message(self) -> &'static str {
        self.spec().message
    }

    /// The outcome `key` stands for in `param` on `page`, if any.
    pub fn from_key(page: Page, param: Param, key: &str) -> Option<Outcome> {
        Outcome::ALL.iter().copied().find(|o| {
            let spec = o.spec();
            spec.page == page && spec.param == param && (param.is_flag() || spec.key == key)
        })
    }

    /// What `page` shows for its URL's query, read through `get` (a parameter's value by
    /// name): the first parameter present decides, in the page's order.
    pub fn from_query(page: Page, get: impl Fn(&str) -> Option<String>) -> Option<Outcome> {
        for &param in page.params() {
            let Some(key) = get(param.name()) else {
                continue;
            };
            if let Some(outcome) = Outcome::from_key(page, param, &key) {
                return Some(outcome);
            }
            match page.unknown(param) {
                Unknown::Show(outcome) => return Some(outcome),
                Unknown::Nothing => return None,
                Unknown::NextParam => {}
            }
        }
        None
    }

    /// Where the browser goes to see it: its page with its parameter, e.g.
    /// `/settings?error=cidr`.
    pub fn location(self) -> String {
        let spec = self.spec();
        format!("{}?{}={}", spec.page.path(), spec.param.name(), spec.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn every_outcome_reads_back_from_its_own_key() {
        for &outcome in Outcome::ALL {
            assert_eq!(
                Outcome::from_key(outcome.page(), outcome.param(), outcome.as_key()),
                Some(outcome),
                "{outcome:?}"
            );
            let pairs = [(outcome.param().name(), outcome.as_key())];
            assert_eq!(
                Outcome::from_query(outcome.page(), query(&pairs)),
                Some(outcome),
                "{outcome:?}"
            );
            assert!(!outcome.message().is_empty());
        }
    }

    #[test]
    fn the_wire_keys_stay_as_bookmarked() {
        assert_eq!(Outcome::Paid.location(), "/billing?notice=paid");
        assert_eq!(Outcome::NotAnAddress.location(), "/settings?error=cidr");
        assert_eq!(Outcome::Registered.location(), "/login?registered=1");
        assert_eq!(Outcome::SignedOut.location(), "/login?signed_out=1");
        assert_eq!(
            Outcome::ExitDisabled.location(),
            "/servers?notice=exit.disabled"
        );
        assert_eq!(
            Outcome::WrongSignInCode.location(),
            "/login/code?error=code"
        );
        assert_eq!(
            Outcome::CheckoutCancelled.location(),
            "/billing?error=cancelled"
        );
        assert_eq!(
            Outcome::PaymentUnconfirmed.location(),
            "/billing?notice=unconfirmed"
        );
        assert_eq!(Outcome::ALL.len(), 57);
    }

    #[test]
    fn unknown_keys_show_what_each_page_showed() {
        let shown = |page, pairs: &[(&str, &str)]| Outcome::from_query(page, query(pairs));
        assert_eq!(shown(Page::Settings, &[("notice", "<script>")]), None);
        assert_eq!(shown(Page::Settings, &[("error", "nope")]), None);
        assert_eq!(
            shown(Page::Settings, &[("notice", "nope"), ("error", "cidr")]),
            None
        );
        assert_eq!(
            shown(Page::Billing, &[("notice", "nope"), ("error", "declined")]),
            Some(Outcome::Declined)
        );
        assert_eq!(shown(Page::Admin, &[("notice", "exit_added")]), None);
        assert_eq!(
            shown(Page::Login, &[("error", "nope")]),
            Some(Outcome::WrongCredentials)
        );
        assert_eq!(
            shown(Page::Login, &[("error", "email"), ("registered", "1")]),
            Some(Outcome::SignInEmailTooLong)
        );
        assert_eq!(
            shown(Page::Login, &[("registered", "yes")]),
            Some(Outcome::Registered)
        );
        assert_eq!(
            shown(Page::LoginCode, &[("error", "x")]),
            Some(Outcome::WrongSignInCode)
        );
        assert_eq!(
            shown(Page::Register, &[("error", "x")]),
            Some(Outcome::RegisterPasswordWeak)
        );
        assert_eq!(shown(Page::Servers, &[]), None);
    }

    #[test]
    fn a_key_means_something_on_its_own_page_only() {
        assert_eq!(
            Outcome::from_key(Page::Settings, Param::Notice, "allowlist_removed"),
            Some(Outcome::AllowlistRemoved)
        );
        assert_eq!(
            Outcome::from_key(Page::Admin, Param::Notice, "allowlist_removed"),
            Some(Outcome::AdminAllowlistRemoved)
        );
        assert_eq!(
            Outcome::from_key(Page::Billing, Param::Notice, "cidr"),
            None
        );
        for page in [
            Page::Login,
            Page::LoginCode,
            Page::Register,
            Page::Settings,
            Page::Servers,
            Page::Admin,
            Page::Billing,
        ] {
            let mut keys: Vec<(&str, &str)> = Outcome::ALL
                .iter()
                .filter(|o| o.page() == page)
                .map(|o| (o.param().name(), o.as_key()))
                .collect();
            let all = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), all, "{page:?}: one key, one outcome");
        }
    }
}
