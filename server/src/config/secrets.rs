//! `ATLANTIC_SECRET` and `ATLANTIC_SECRET_PREVIOUS`: the key material that seals secrets at
//! rest, resolved into the store's [`Keyring`].

use store::Keyring;
use store::sealing::DEVELOPMENT_SECRET;

use super::{ConfigError, Env, Environment, Secret, environment, err};

/// Shortest secret accepted, in bytes.
const MIN_SECRET_LEN: usize = 32;

/// `ATLANTIC_SECRET` and the keyring derived from it and `ATLANTIC_SECRET_PREVIOUS` (a
/// comma-separated list of older secrets, kept while `atlantic secrets rotate` re-seals).
/// Development without `ATLANTIC_SECRET` uses [`DEVELOPMENT_SECRET`]; production requires a
/// real one.
pub(super) fn sealing_keys(env: Env, production: bool) -> Result<(Secret, Keyring), ConfigError> {
    let secret = match env("ATLANTIC_SECRET") {
        Some(s) if s.len() < MIN_SECRET_LEN => {
            return Err(err(
                "ATLANTIC_SECRET",
                format!(
                    "is {} bytes; it needs at least {MIN_SECRET_LEN} random bytes (openssl rand \
                     -hex 32)",
                    s.len()
                ),
            ));
        }
        Some(s) if production && s == DEVELOPMENT_SECRET => {
            return Err(err(
                "ATLANTIC_SECRET",
                "is the public development secret, which production refuses",
            ));
        }
        Some(s) => s,
        None if production => {
            return Err(err(
                "ATLANTIC_SECRET",
                "is required in production (32+ random bytes)",
            ));
        }
        None => DEVELOPMENT_SECRET.to_owned(),
    };
    let previous: Vec<String> = env("ATLANTIC_SECRET_PREVIOUS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(n) = previous.iter().position(|s| s.len() < MIN_SECRET_LEN) {
        return Err(err(
            "ATLANTIC_SECRET_PREVIOUS",
            format!(
                "entry {} is {} bytes; every secret has at least {MIN_SECRET_LEN}",
                n + 1,
                previous[n].len()
            ),
        ));
    }
    let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
    let keyring = Keyring::new(&secret, &previous);
    Ok((Secret::new(secret), keyring))
}

/// The keyring alone, for the commands other than `serve` (which read no other setting).
pub fn keyring(env: Env) -> Result<Keyring, ConfigError> {
    let production = environment(env)? == Environment::Production;
    Ok(sealing_keys(env, production)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{PRODUCTION, production_without, resolve};

    #[test]
    fn development_seals_with_the_public_development_secret() {
        let c = resolve(&[]).expect("defaults");
        assert!(c.keyring.is_development());
        assert_eq!(c.secret.expose(), DEVELOPMENT_SECRET);
        let again = resolve(&[]).expect("defaults");
        assert_eq!(
            c.keyring.version(),
            again.keyring.version(),
            "stable across starts"
        );
        let e = resolve(&[("ATLANTIC_SECRET", "short")]).expect_err("short in development");
        assert_eq!(e.var, "ATLANTIC_SECRET");
    }

    #[test]
    fn production_refuses_the_development_secret_and_short_previous_secrets() {
        let mut dev = production_without("ATLANTIC_SECRET");
        dev.push(("ATLANTIC_SECRET", DEVELOPMENT_SECRET));
        let e = resolve(&dev).expect_err("the public secret");
        assert_eq!(e.var, "ATLANTIC_SECRET");
        assert!(!e.to_string().contains(DEVELOPMENT_SECRET), "{e}");

        let old = "an-older-secret-of-thirty-two-bytes-at-least";
        let mut rotating = PRODUCTION.to_vec();
        rotating.push(("ATLANTIC_SECRET_PREVIOUS", old));
        let c = resolve(&rotating).expect("a previous secret");
        let current = Keyring::new(PRODUCTION[1].1, &[]);
        assert_eq!(c.keyring.version(), current.version());
        let sealed = Keyring::new(old, &[]).seal(store::Column::ProxySecret, 1, "pw");
        assert_eq!(
            c.keyring
                .open(store::Column::ProxySecret, 1, &sealed)
                .expect("the previous secret opens"),
            "pw"
        );

        let mut short = PRODUCTION.to_vec();
        short.push((
            "ATLANTIC_SECRET_PREVIOUS",
            "an-older-secret-of-thirty-two-bytes, tiny",
        ));
        let e = resolve(&short).expect_err("a short previous secret");
        assert_eq!(e.var, "ATLANTIC_SECRET_PREVIOUS");
        assert!(e.to_string().contains("entry 2"), "{e}");
        assert!(!e.to_string().contains("tiny"), "{e}");
    }
}
