//! Production's refusals of development conveniences that are dangerous with real customers:
//! private destinations without an explicit acknowledgement (Paystack test keys, secret and
//! public, are refused where the keys are read, in [`super::Config::resolve`]).

use super::{ConfigError, Env, err, flag};

/// What `ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK` must say for production to let the gateway
/// reach private networks: customers could then reach the operator's own network.
pub const PRIVATE_DESTINATIONS_ACK: &str = "i-understand-customers-can-reach-my-network";

/// `ATLANTIC_ALLOW_PRIVATE_DESTINATIONS`, which production accepts only next to
/// `ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK` set to [`PRIVATE_DESTINATIONS_ACK`].
pub(super) fn private_destinations(env: Env, production: bool) -> Result<bool, ConfigError> {
    let allow_private_destinations = flag(env, "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS")?;
    if production && allow_private_destinations {
        match env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK") {
            Some(ack) if ack.trim() == PRIVATE_DESTINATIONS_ACK => {}
            Some(_) => {
                return Err(err(
                    "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK",
                    format!("must be exactly {PRIVATE_DESTINATIONS_ACK}"),
                ));
            }
            None => {
                return Err(err(
                    "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS",
                    format!(
                        "lets customers reach loopback and private networks, which \
                         production refuses unless \
                         ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK={PRIVATE_DESTINATIONS_ACK}"
                    ),
                ));
            }
        }
    }
    Ok(allow_private_destinations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{PRODUCTION, production_without, resolve};

    #[test]
    fn production_refuses_paystack_test_keys_unless_test_mode_is_set() {
        let mut test_key = production_without("PAYSTACK_SECRET_KEY");
        test_key.push(("PAYSTACK_SECRET_KEY", "sk_test_abc"));
        let e = resolve(&test_key).expect_err("a test key in production");
        assert_eq!(e.var, "PAYSTACK_SECRET_KEY");
        assert!(
            e.to_string().contains("ATLANTIC_PAYSTACK_TEST_MODE=1"),
            "{e}"
        );
        assert!(!e.to_string().contains("sk_test_abc"), "{e}");
        // the public key too: a live secret beside a test public key is a broken checkout
        let mut test_public = production_without("PAYSTACK_PUBLIC_KEY");
        test_public.push(("PAYSTACK_PUBLIC_KEY", "pk_test_abc"));
        let e = resolve(&test_public).expect_err("a test public key in production");
        assert_eq!(e.var, "PAYSTACK_PUBLIC_KEY");

        test_key.push(("ATLANTIC_PAYSTACK_TEST_MODE", "1"));
        let c = resolve(&test_key).expect("test mode acknowledged");
        assert_eq!(c.paystack_secret_key.expose(), "sk_test_abc");
        test_public.push(("ATLANTIC_PAYSTACK_TEST_MODE", "1"));
        let c = resolve(&test_public).expect("test mode acknowledged");
        assert_eq!(c.paystack_public_key.as_deref(), Some("pk_test_abc"));

        let mut bad = PRODUCTION.to_vec();
        bad.push(("ATLANTIC_PAYSTACK_TEST_MODE", "perhaps"));
        assert_eq!(
            resolve(&bad).expect_err("bad flag").var,
            "ATLANTIC_PAYSTACK_TEST_MODE"
        );
        // Development is unchanged: test keys are the norm there.
        let c = resolve(&[("PAYSTACK_SECRET_KEY", "sk_test_abc")]).expect("development");
        assert_eq!(c.paystack_secret_key.expose(), "sk_test_abc");
    }

    #[test]
    fn production_refuses_private_destinations_without_the_acknowledgement() {
        let mut private = PRODUCTION.to_vec();
        private.push(("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1"));
        let e = resolve(&private).expect_err("no acknowledgement");
        assert_eq!(e.var, "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS");
        assert!(e.to_string().contains(PRIVATE_DESTINATIONS_ACK), "{e}");

        let mut wrong = private.clone();
        wrong.push(("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK", "yes"));
        let e = resolve(&wrong).expect_err("a vague acknowledgement");
        assert_eq!(e.var, "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK");

        private.push((
            "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK",
            PRIVATE_DESTINATIONS_ACK,
        ));
        assert!(
            resolve(&private)
                .expect("acknowledged")
                .allow_private_destinations
        );
        // Off needs no acknowledgement, and development is unchanged.
        let mut off = PRODUCTION.to_vec();
        off.push(("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "0"));
        assert!(!resolve(&off).expect("off").allow_private_destinations);
        let c = resolve(&[("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1")]).expect("development");
        assert!(c.allow_private_destinations);
    }
}
