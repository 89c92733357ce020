//! Attempts: the candidate routes of one request, handed out one at a time. Each attempt dials
//! its route and records its own outcome on the exit (breaker, latency, counters, last check)
//! and, when it delivers a stream, binds the request's sticky session to the route. An attempt
//! dropped before or while it dials records nothing: abandoned is not failed (a half-open
//! breaker it held frees itself after its cool-down).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{DialError, Dialed, ExitGuard, Exits, Route, dial};
use crate::account_state::AccountState;
use crate::clock;
use crate::destination::Destination;
use crate::error::ProxyError;
use crate::sessions::SessionLive;
use crate::username::Targeting;

/// Who the attempts are for.
#[derive(Debug, Clone, Copy)]
struct Request<'a> {
    targeting: &'a Targeting,
    account: &'a Arc<AccountState>,
    session_share: usize,
}

/// The routes still to try for one request, in order.
#[derive(Debug)]
pub(crate) struct Attempts<'a> {
    exits: &'a Exits,
    request: Request<'a>,
    routes: std::vec::IntoIter<Route>,
}

/// One try of one route.
#[derive(Debug)]
pub(crate) struct Attempt<'a> {
    exits: &'a Exits,
    request: Request<'a>,
    route: Route,
    /// Candidates left, this one included.
    left: usize,
}

/// What a successful attempt delivers: the stream, and what to book its usage under.
#[derive(Debug)]
pub(crate) struct Connected {
    pub(crate) dialed: Dialed,
    /// The exit's id for usage records (0 for direct egress).
    pub(crate) exit_id: i64,
    /// The country to book usage under.
    pub(crate) country: String,
    /// Counts the connection as active on its exit while alive (`None` for direct egress).
    pub(crate) exit: Option<ExitGuard>,
    /// The live side of its sticky session, if it has a pinned one.
    pub(crate) session: Option<Arc<SessionLive>>,
}

impl Exits {
    /// The attempts for a request of `account` with targeting `t`, or why there are none
    /// (no matching exit, or one sticky session too many for the account's `session_share`).
    pub(crate) fn attempts<'a>(
        &'a self,
        t: &'a Targeting,
        account: &'a Arc<AccountState>,
        session_share: usize,
        now: std::time::Instant,
    ) -> Result<Attempts<'a>, ProxyError> {
        let routes = self.candidates(t, account, session_share, now)?;
        Ok(Attempts {
            exits: self,
            request: Request {
                targeting: t,
                account,
                session_share,
            },
            routes: routes.into_iter(),
        })
    }
}

impl<'a> Attempts<'a> {
    /// Whether a route still to try is sent a checked address rather than the name.
    pub(crate) fn need_addresses(&self) -> bool {
        self.routes.as_slice().iter().any(|r| !r.forwards_names())
    }

    /// The next route that may be tried now (one whose breaker is half-open may already be
    /// probing and is skipped), or `None` when every candidate was handed out.
    pub(crate) fn next(&mut self, now: std::time::Instant) -> Option<Attempt<'a>> {
        loop {
            let left = self.routes.len();
            let route = self.routes.next()?;
            if self.exits.try_acquire(&route, now) {
                return Some(Attempt {
                    exits: self.exits,
                    request: self.request,
                    route,
                    left,
                });
            }
        }
    }
}

impl Attempt<'_> {
    /// The route tried.
    pub(crate) fn route(&self) -> &Route {
        &self.route
    }

    /// Candidates left, this one included.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// Opens a stream to `dest` (see [`dial`]) within `budget`, and records the outcome.
    pub(crate) async fn dial(
        self,
        dest: &Destination,
        direct_addrs: &[SocketAddr],
        budget: Duration,
    ) -> Result<Connected, DialError> {
        let Attempt {
            exits,
            request,
            route,
            ..
        } = self;
        let started = tokio::time::Instant::now();
        let result = dial(&route, dest, direct_addrs, budget).await;
        let mut session = None;
        match &result {
            Ok(_) => {
                exits.upstream_ok(&route, started.elapsed());
                session = exits.served(
                    &route,
                    request.targeting,
                    request.account,
                    request.session_share,
                    clock::now(),
                );
            }
            // the upstream accepted the connection: the destination is the likely culprit
            Err(DialError::Timeout { exit_reached: true }) => {}
            Err(DialError::Timeout {
                exit_reached: false,
            }) => {
                let why = format!("exit {} did not accept a connection in time", route.id());
                exits.upstream_failed(&route, clock::now(), &why);
            }
            Err(DialError::Exit(detail)) => {
                exits.upstream_failed(&route, clock::now(), detail);
            }
            // the exit did its job; what failed is the destination (or the exit's policy about
            // it), which must not count against the exit for everybody else
            Err(DialError::Destination { .. }) => exits.upstream_ok(&route, started.elapsed()),
        }
        let dialed = result?;
        Ok(Connected {
            dialed,
            exit_id: route.id(),
            country: exits.country_of(&route),
            exit: match &route {
                Route::Via(e) => Some(e.track()),
                Route::Direct => None,
            },
            session,
        })
    }
}
