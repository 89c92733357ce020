//! Admission: the one gate every request passes once its credentials have been checked, on
//! either front. The username's targeting must parse, the plan must have quota left and a token
//! in its requests-per-second bucket, and the client connection must hold one of the account's
//! connection slots (taken here the first time, kept for the connection's later requests).

use std::sync::Arc;

use crate::account_state::ConnectionPermit;
use crate::catalog::{Account, Authenticated};
use crate::engine::Engine;
use crate::error::ProxyError;
use crate::username::Targeting;

/// A request let in.
pub(crate) struct Admitted {
    pub(crate) account: Arc<Account>,
    pub(crate) targeting: Targeting,
    /// The connection slot taken for this request's account; `None` when the client connection
    /// already held one for it.
    pub(crate) permit: Option<ConnectionPermit>,
}

/// A request turned away, and the account to book it on (`None` when nobody authenticated).
pub(crate) struct Refused {
    pub(crate) error: ProxyError,
    pub(crate) account: Option<Arc<Account>>,
}

impl Refused {
    fn of(account: Arc<Account>, error: ProxyError) -> Refused {
        Refused {
            error,
            account: Some(account),
        }
    }
}

/// Lets in (or not) a request whose authentication came out as `found`. `held` is the slot the
/// client connection holds from an earlier request, if any.
pub(crate) async fn admit(
    engine: &Engine,
    found: Result<Authenticated, ProxyError>,
    held: Option<&ConnectionPermit>,
) -> Result<Admitted, Refused> {
    let (account, targeting) = found.map_err(|error| Refused {
        error,
        account: None,
    })?;
    let targeting = match targeting {
        Ok(t) => t,
        Err(e) => return Err(Refused::of(account, e)),
    };
    // quota (and that there is a plan) first, then the rate; the connection cap last, once
    // per client connection
    let cluster = engine.cluster.get();
    if let Err(e) = account.check_quota() {
        return Err(Refused::of(account, e));
    }
    let rate = match (cluster, account.plan.as_ref()) {
        (Some(cluster), Some(plan)) => {
            cluster
                .check_rate(&account.state, plan.requests_per_second)
                .await
        }
        _ => account.state.check_rate(),
    };
    if let Err(e) = rate {
        return Err(Refused::of(account, e));
    }
    let permit = if held.map(ConnectionPermit::account_id) == Some(account.id) {
        None
    } else {
        let cap = account.connection_cap(engine.config.max_connections_per_account);
        let opened = match cluster {
            Some(cluster) => cluster.open_connection(&account.state, cap).await,
            None => account.state.open_connection(cap),
        };
        match opened {
            Ok(p) => Some(p),
            Err(e) => return Err(Refused::of(account, e)),
        }
    };
    Ok(Admitted {
        account,
        targeting,
        permit,
    })
}
