//! Settings › Two-factor sign-in, Password, Sessions.

use leptos::prelude::*;

use crate::api::security::TwoFactor;

/// Two-factor sign-in: start, confirm (with the QR code), show fresh recovery codes, turn off.
#[component]
pub fn TwoFactorSection(state: TwoFactor, fresh_codes: Vec<String>) -> impl IntoView {
    let body = match state {
        TwoFactor::Off => view! {
            <p>"Off. With it on, signing in also asks for a code from an authenticator app."</p>
            <form method="post" action="/settings/two-factor/start" class="inline-form">
                <button class="button" type="submit" id="two-factor-start">"Set up two-factor sign-in"</button>
            </form>
        }
        .into_any(),
        TwoFactor::Pending { secret, uri, qr_svg } => view! {
            <p>"Scan this code with an authenticator app, or enter the key by hand."</p>
            <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=qr_svg></div>
            <p>"Key: " <code id="two-factor-secret" data-uri=uri>{secret}</code></p>
            <form method="post" action="/settings/two-factor/confirm" class="row-form">
                <label for="confirm-code">"Code from the app"</label>
                <input id="confirm-code" name="code" type="text" inputmode="numeric"
                    autocomplete="one-time-code" required maxlength="8" />
                <button class="button" type="submit">"Turn on"</button>
            </form>
            <form method="post" action="/settings/two-factor/disable" class="inline-form">
                <input type="hidden" name="code" value="" />
                <button class="button button-quiet" type="submit">"Cancel set-up"</button>
            </form>
        }
        .into_any(),
        TwoFactor::On { recovery_codes_left } => view! {
            <p id="two-factor-on">
                "On. " {format!("{recovery_codes_left} of 10 recovery codes left.")}
            </p>
            <form method="post" action="/settings/two-factor/disable" class="row-form">
                <label for="disable-code">"Code from the app, or a recovery code"</label>
                <input id="disable-code" name="code" type="text" autocomplete="one-time-code" required />
                <button class="button button-quiet" type="submit">"Turn off"</button>
            </form>
        }
        .into_any(),
    };
    let fresh = (!fresh_codes.is_empty()).then(|| {
        view! {
            <div class="notice recovery-codes" role="region" aria-labelledby="recovery-heading">
                <h3 id="recovery-heading">"Your recovery codes"</h3>
                <p>
                    "Each code signs you in once if you lose your phone. This is the only time "
                    "they are shown: print them or keep them in a password manager."
                </p>
                <ol id="recovery-codes">
                    {fresh_codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                </ol>
            </div>
        }
    });
    let fresh = fresh.map(IntoAny::into_any);
    view! {
        <section id="two-factor" class="card settings-section" aria-labelledby="two-factor-heading">
            <h2 id="two-factor-heading">"Two-factor sign-in"</h2>
            {fresh}
            {body}
        </section>
    }
    .into_any()
}

/// Password change: the current password, the new one.
#[component]
pub fn PasswordSection() -> impl IntoView {
    view! {
        <section id="password" class="card settings-section" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            <form method="post" action="/settings/password" class="auth-form">
                <input type="text" name="username" autocomplete="username" hidden />
                <label for="current-password">"Current password"</label>
                <input id="current-password" name="current_password" type="password"
                    autocomplete="current-password" required />
                <label for="new-password">"New password"</label>
                <input id="new-password" name="new_password" type="password"
                    autocomplete="new-password" minlength="10" required aria-describedby="new-password-help" />
                <p id="new-password-help" class="muted">
                    "At least 10 characters. Changing it signs out every other session."
                </p>
                <button class="button" type="submit">"Change password"</button>
            </form>
        </section>
    }
}

/// Signing out every other session.
#[component]
pub fn SessionsSection() -> impl IntoView {
    view! {
        <section id="sessions" class="card settings-section" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p class="muted">
                "Signed in on a computer you no longer use? End every session but this one."
            </p>
            <form method="post" action="/settings/sessions/revoke" class="inline-form">
                <button class="button button-quiet" type="submit" id="sign-out-others">
                    "Sign out everywhere else"
                </button>
            </form>
        </section>
    }
}
