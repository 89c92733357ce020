//! Where the counts of one request go: its usage cell (flushed to the sink), its account's
//! quota bytes and live totals, and the gateway's live totals, in one cheap handle the relays
//! and the HTTP front count through.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::account_state::AccountState;
use crate::error::ErrorCode;
use crate::meter::{Cell, Traffic};
use crate::sessions::SessionGuard;

/// Where the counts of one request go: its (account, exit) cell, the account's quota and live
/// totals, the gateway's live totals, and its sticky session's, if it has one (which counts
/// the connection open while the tally lives).
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    cell: Arc<Cell>,
    account: Arc<AccountState>,
    global: Arc<Traffic>,
    session: Option<Arc<SessionGuard>>,
}

impl Tally {
    pub(crate) fn new(cell: Arc<Cell>, account: Arc<AccountState>, global: Arc<Traffic>) -> Self {
        Self {
            cell,
            account,
            global,
            session: None,
        }
    }

    /// The same, for a connection of a live sticky session.
    pub(crate) fn with_session(mut self, session: Option<SessionGuard>) -> Self {
        self.session = session.map(Arc::new);
        self
    }

    /// The token the connection stops on: its session's (ended, or the account cut), or the
    /// account's.
    pub(crate) fn cut_token(&self) -> CancellationToken {
        match &self.session {
            Some(guard) => guard.live.cut_token(&self.account),
            None => self.account.cut_token(),
        }
    }

    /// Whether the connection's session was ended (it must not serve another request).
    pub(crate) fn session_ended(&self) -> bool {
        self.session.as_ref().is_some_and(|g| g.live.is_ended())
    }

    /// Bytes sent toward the destination.
    pub(crate) fn up(&self, n: u64) {
        if n > 0 {
            self.cell.add_up(n);
            if let Some(guard) = &self.session {
                guard.live.add_up(n);
            }
            self.account.add_bytes(n);
            self.account.traffic.up.fetch_add(n, Ordering::Relaxed);
            self.global.up.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Bytes delivered to the customer.
    pub(crate) fn down(&self, n: u64) {
        if n > 0 {
            self.cell.add_down(n);
            if let Some(guard) = &self.session {
                guard.live.add_down(n);
            }
            self.account.add_bytes(n);
            self.account.traffic.down.fetch_add(n, Ordering::Relaxed);
            self.global.down.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// One request.
    pub(crate) fn request(&self) {
        self.cell.add_request();
        self.account
            .traffic
            .requests
            .fetch_add(1, Ordering::Relaxed);
        self.global.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// One failed request (counted as a request too).
    pub(crate) fn error(&self, code: ErrorCode) {
        self.request();
        self.cell.add_error(code);
        self.account.traffic.errors.fetch_add(1, Ordering::Relaxed);
        self.global.errors.fetch_add(1, Ordering::Relaxed);
    }
}
