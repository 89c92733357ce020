//! Change notices over Redis pub/sub: the dashboard publishes one when a credential, an
//! allowlist, a plan or an exit changes, and every gateway reloads its directory at once
//! instead of at its next periodic refresh (which stays the fallback: a notice sent while a
//! gateway was disconnected is lost, and the refresh covers it).
//!
//! On a Redis Cluster the subscription is to one seed node (a message published on any node
//! reaches subscribers on every node); when that node goes away, the next seed is tried.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::{ClusterState, Error};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Accounts, credentials, allowlists, plans or exits: reload the directory.
    Directory,
    /// A customer or an administrator ended a sticky session: every gateway closes its
    /// connections (the shared binding is already gone).
    SessionEnded {
        /// The account.
        account_id: i64,
        /// The session id.
        session: String,
    },
}

impl Change {
    fn encode(&self) -> String {
        match self {
            Change::Directory => "directory".to_owned(),
            Change::SessionEnded {
                account_id,
                session,
            } => format!("session_ended {account_id} {session}"),
        }
    }

    fn parse(s: &str) -> Option<Change> {
        if s == "directory" {
            return Some(Change::Directory);
        }
        let (account_id, session) = s.strip_prefix("session_ended ")?.split_once(' ')?;
        Some(Change::SessionEnded {
            account_id: account_id.parse().ok()?,
            session: session.to_owned(),
        })
    }
}

impl ClusterState {
    /// Tells every node that `change` happened.
    pub async fn publish(&self, change: Change) -> Result<(), Error> {
        let mut connection = self.connection();
        redis::cmd("PUBLISH")
            .arg(self.keys.changes())
            .arg(change.encode())
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
    }
}

impl ClusterState {
    /// Calls `on_change` for every notice until `stop`, subscribing again (after a pause, to
    /// the next seed node of a Redis Cluster) whenever the subscription drops; `on_change` is
    /// also called after each resubscription, since notices sent meanwhile are lost.
    pub async fn follow_changes(&self, stop: CancellationToken, on_change: impl Fn(Change) + Send) {
        let channel = self.keys.changes();
        let mut first = true;
        for url in self.subscribe_to.iter().cycle() {
            let subscribed = async {
                let mut pubsub = redis::Client::open(url.as_str())?
                    .get_async_pubsub()
                    .await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, Error>(pubsub)
            };
            let pubsub = tokio::select! {
                result = subscribed => result,
                () = stop.cancelled() => return,
            };
            match pubsub {
                Ok(mut pubsub) => {
                    if !first {
                        on_change(Change::Directory);
                    }
                    first = false;
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            message = messages.next() => message,
                            () = stop.cancelled() => return,
                        };
                        let Some(message) = message else {
                            tracing::warn!("change notices: subscription lost; resubscribing");
                            break;
                        };
                        let payload: String = message.get_payload().unwrap_or_default();
                        if let Some(change) = Change::parse(&payload) {
                            on_change(change);
                        }
                    }
                }
                Err(error) => {
                    first = false;
                    tracing::warn!(%error, "change notices: cannot subscribe; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_back_as_sent() {
        for change in [
            Change::Directory,
            Change::SessionEnded {
                account_id: 42,
                session: "shop 1".into(),
            },
        ] {
            assert_eq!(Change::parse(&change.encode()), Some(change));
        }
        assert_eq!(Change::parse("session_ended x s"), None);
        assert_eq!(Change::parse("reboot"), None);
    }
}
