//! Ending a sticky session across the cluster: its shared binding is deleted, so that the next
//! request with its id, on whichever gateway, picks an exit anew, and a change notice tells
//! every gateway to close the session's connections.

use crate::changes::Change;
use crate::{ClusterState, Error};

impl ClusterState {
    /// Ends `session` of `account_id` on every gateway; whether the cluster held a binding for
    /// it. The notice is sent either way: a gateway may still hold connections of a session
    /// whose binding just ran out.
    pub async fn end_session(&self, account_id: i64, session: &str) -> Result<bool, Error> {
        let mut connection = self.connection();
        let deleted: i64 = redis::cmd("DEL")
            .arg(self.keys.session(account_id, session))
            .query_async(&mut connection)
            .await?;
        self.publish(Change::SessionEnded {
            account_id,
            session: session.to_owned(),
        })
        .await?;
        Ok(deleted > 0)
    }
}
