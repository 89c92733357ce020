//! The in-memory copy of the directory's accounts: credentials index, allowlists and plans,
//! swapped atomically on every refresh, each account tied to its run-time state (which lives
//! in [`crate::account_state`] and outlives snapshots). Authentication happens here, without
//! any call out of the process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use ipnet::IpNet;
use subtle::ConstantTimeEq;

use crate::account_state::{AccountState, AccountStates};
use crate::directory::{AccountEntry, PlanLimits};
use crate::error::{ErrorCode, ProxyError};
use crate::locks::{read, write};
use crate::username::{ProxyUsername, Targeting};

/// One account as of the current snapshot. `Debug` leaves out the password.
pub(crate) struct Account {
    pub(crate) id: i64,
    password: String,
    allowlist: Vec<IpNet>,
    pub(crate) plan: Option<PlanLimits>,
    /// `state.flushed` just before the snapshot was loaded (see [`AccountState::used_bytes`]).
    baseline: u64,
    pub(crate) state: Arc<AccountState>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("allowlist", &self.allowlist)
            .field("plan", &self.plan)
            .field("baseline", &self.baseline)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Account {
    fn allows_source(&self, ip: IpAddr) -> bool {
        self.allowlist.iter().any(|n| n.contains(&ip))
    }

    /// Concurrent connections allowed (plan cap, lowered by the gateway-wide ceiling).
    pub(crate) fn connection_cap(&self, ceiling: Option<u32>) -> u32 {
        let plan = self.plan.as_ref().map_or(0, |p| p.max_connections);
        ceiling.map_or(plan, |c| plan.min(c))
    }

    /// Sticky sessions the account may keep alive: a share of the table proportional to its
    /// connection cap.
    pub(crate) fn session_share(&self, ceiling: Option<u32>) -> usize {
        let cap = usize::try_from(self.connection_cap(ceiling)).unwrap_or(usize::MAX);
        cap.saturating_mul(crate::exits::SESSIONS_PER_CONNECTION)
            .max(1)
    }

    /// Quota check against this snapshot.
    pub(crate) fn check_quota(&self) -> Result<(), ProxyError> {
        self.state.check_quota(self.plan.as_ref(), self.baseline)
    }
}

/// Result of a successful authentication: the account, and its targeting or why the username
/// parameters are wrong (reported after the credentials were found good).
pub(crate) type Authenticated = (Arc<Account>, Result<Targeting, ProxyError>);

/// The accounts of one snapshot.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    by_name: HashMap<String, Arc<Account>>,
    /// Allowlisted networks, most specific first.
    allow: Vec<(IpNet, Arc<Account>)>,
}

impl Accounts {
    /// The start of each account's current billing period (accounts with a plan), by id.
    pub(crate) fn periods(&self) -> HashMap<i64, i64> {
        self.by_name
            .values()
            .filter_map(|a| a.plan.as_ref().map(|p| (a.id, p.period_start_ms)))
            .collect()
    }

    /// Checks credentials (`None` when the client sent none) or the source address.
    pub(crate) fn authenticate(
        &self,
        credentials: Option<(&str, &str)>,
        source: IpAddr,
    ) -> Result<Authenticated, ProxyError> {
        let credentials = credentials.filter(|(u, p)| !u.is_empty() || !p.is_empty());
        let Some((raw_user, password)) = credentials else {
            return match self.allow.iter().find(|(net, _)| net.contains(&source)) {
                Some((_, account)) => Ok((account.clone(), Ok(Targeting::default()))),
                None => Err(ProxyError::new(
                    ErrorCode::AuthRequired,
                    "send Proxy-Authorization: Basic credentials",
                )),
            };
        };
        let bad = || {
            ProxyError::new(
                ErrorCode::BadCredentials,
                "unknown user, wrong password or source address not allowed",
            )
        };
        let account = self
            .by_name
            .get(ProxyUsername::account_part(raw_user))
            .ok_or_else(bad)?;
        let password_ok: bool = password
            .as_bytes()
            .ct_eq(account.password.as_bytes())
            .into();
        if !password_ok && !account.allows_source(source) {
            return Err(bad());
        }
        let targeting = ProxyUsername::parse(raw_user)
            .map(|u| u.targeting)
            .map_err(|e| ProxyError::new(ErrorCode::BadParameters, e.to_string()));
        Ok((account.clone(), targeting))
    }

    /// Number of accounts.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

/// The current accounts.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    current: RwLock<Option<Arc<Accounts>>>,
}

impl Catalog {
    /// The accounts, or `None` before the first snapshot.
    pub(crate) fn current(&self) -> Option<Arc<Accounts>> {
        read(&self.current).clone()
    }

    /// Replaces the accounts with a new snapshot's. An account whose rights shrank (a new
    /// password or username, an allowlist entry removed) has its running connections closed:
    /// they were let in under rights it no longer has. `baselines` are the states' `flushed`
    /// taken just before the snapshot was loaded.
    pub(crate) fn install(
        &self,
        entries: Vec<AccountEntry>,
        baselines: &HashMap<i64, u64>,
        states: &AccountStates,
    ) {
        let previous: HashMap<i64, (String, Arc<Account>)> = self
            .current()
            .map(|accounts| {
                accounts
                    .by_name
                    .iter()
                    .map(|(name, a)| (a.id, (name.clone(), a.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let ids: Vec<i64> = entries.iter().map(|e| e.account_id).collect();
        let states = states.for_snapshot(&ids);
        let mut next = Accounts::default();
        for (e, state) in entries.into_iter().zip(states) {
            if let Some((name, old)) = previous.get(&e.account_id)
                && (*name != e.username
                    || !bool::from(old.password.as_bytes().ct_eq(e.password.as_bytes()))
                    || old.allowlist.iter().any(|net| !e.allowlist.contains(net)))
            {
                state.cut_all();
            }
            if let Some(plan) = &e.plan {
                state.set_rate(plan.requests_per_second);
            }
            let account = Arc::new(Account {
                id: e.account_id,
                password: e.password,
                allowlist: e.allowlist,
                plan: e.plan,
                baseline: baselines.get(&e.account_id).copied().unwrap_or(0),
                state,
            });
            for net in &account.allowlist {
                next.allow.push((*net, account.clone()));
            }
            next.by_name.insert(e.username, account);
        }
        next.allow
            .sort_by_key(|a| std::cmp::Reverse(a.0.prefix_len()));
        *write(&self.current) = Some(Arc::new(next));
    }

    /// Closes the running connections of accounts that are over quota (or lost their plan or
    /// disappeared from the directory).
    pub(crate) fn enforce_quotas(&self, states: &AccountStates) {
        let Some(current) = self.current() else {
            return;
        };
        let mut by_id: HashMap<i64, &Arc<Account>> = HashMap::new();
        for a in current.by_name.values() {
            by_id.insert(a.id, a);
        }
        for state in states.all() {
            if state.active() == 0 {
                continue;
            }
            let allowed = by_id
                .get(&state.id)
                .is_some_and(|a| a.check_quota().is_ok());
            if !allowed {
                tracing::info!(
                    account_id = state.id,
                    "closing connections of an account over quota"
                );
                state.cut_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, name: &str, allow: &[&str]) -> AccountEntry {
        AccountEntry {
            account_id: id,
            username: name.into(),
            password: "secret".into(),
            allowlist: allow.iter().map(|s| s.parse().expect("net")).collect(),
            plan: Some(PlanLimits {
                requests_per_second: 5,
                max_connections: 3,
                bandwidth_bytes: None,
                bytes_used: 0,
                period_start_ms: 0,
            }),
        }
    }

    fn catalog() -> Arc<Accounts> {
        let c = Catalog::default();
        assert!(c.current().is_none());
        c.install(
            vec![
                entry(1, "alice", &["10.0.0.0/8"]),
                entry(2, "bob", &["10.1.0.0/16"]),
            ],
            &HashMap::new(),
            &AccountStates::default(),
        );
        c.current().expect("installed")
    }

    fn code<T>(r: Result<T, ProxyError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn password_and_parameters_are_checked() {
        let a = catalog();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let (acc, t) = a
            .authenticate(Some(("alice-country-de", "secret")), ip)
            .expect("ok");
        assert_eq!(acc.id, 1);
        assert_eq!(t.expect("targeting").country.as_deref(), Some("de"));
        assert_eq!(
            code(a.authenticate(Some(("alice", "wrong")), ip)),
            Some(ErrorCode::BadCredentials)
        );
        assert_eq!(
            code(a.authenticate(Some(("carol", "secret")), ip)),
            Some(ErrorCode::BadCredentials)
        );
        assert_eq!(
            code(a.authenticate(None, ip)),
            Some(ErrorCode::AuthRequired)
        );
        let (_, t) = a
            .authenticate(Some(("alice-planet-mars", "secret")), ip)
            .expect("creds ok");
        assert_eq!(code(t), Some(ErrorCode::BadParameters));
    }

    #[test]
    fn allowlisted_sources_need_no_password_and_the_narrowest_network_wins() {
        let a = catalog();
        let (acc, _) = a
            .authenticate(None, "10.1.2.3".parse().expect("ip"))
            .expect("allowlisted");
        assert_eq!(acc.id, 2);
        let (acc, _) = a
            .authenticate(None, "10.2.0.1".parse().expect("ip"))
            .expect("allowlisted");
        assert_eq!(acc.id, 1);
        let (acc, _) = a
            .authenticate(
                Some(("alice-session-x", "")),
                "10.9.9.9".parse().expect("ip"),
            )
            .expect("user + allowlist");
        assert_eq!(acc.id, 1);
        assert_eq!(
            code(a.authenticate(Some(("bob", "")), "10.2.0.1".parse().expect("ip"))),
            Some(ErrorCode::BadCredentials)
        );
    }
}
