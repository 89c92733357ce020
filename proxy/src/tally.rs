//! Where the counts of one request go: its usage cell (flushed to the sink), its account's
//! quota bytes and live totals, and the gateway's live totals, in one cheap handle the relays
//! and the HTTP front count through.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::account_state::AccountState;
use crate::error::ErrorCode;
use crate::meter::{Cell, Traffic};

/// Where the counts of one request go: its (account, exit) cell, the account's quota and live
/// totals, and the gateway's live totals.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    cell: Arc<Cell>,
    account: Arc<AccountState>,
    global: Arc<Traffic>,
}

impl Tally {
    pub(crate) fn new(cell: Arc<Cell>, account: Arc<AccountState>, global: Arc<Traffic>) -> Self {
        Self {
            cell,
            account,
            global,
        }
    }

    /// Bytes sent toward the destination.
    pub(crate) fn up(&self, n: u64) {
        if n > 0 {
            self.cell.add_up(n);
            self.account.add_bytes(n);
            self.account.traffic.up.fetch_add(n, Ordering::Relaxed);
            self.global.up.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Bytes delivered to the customer.
    pub(crate) fn down(&self, n: u64) {
        if n > 0 {
            self.cell.add_down(n);
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
