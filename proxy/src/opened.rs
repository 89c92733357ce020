//! A stream opened to a destination for one customer: the stream, the exit it holds (counted as
//! active on that exit while alive), and where its counts go. Tunnels relay it to the end; the
//! forward-HTTP front keeps it as a reusable origin connection.

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::exits::{Dialed, ExitGuard};
use crate::relay::{self, Stops, TunnelEnd, TunnelEnds};
use crate::tally::Tally;

/// A stream to the destination and where its counts go.
pub(crate) struct Opened {
    pub(crate) dialed: Dialed,
    pub(crate) tally: Tally,
    /// The route's exit id (`0`: direct egress).
    pub(crate) exit_id: i64,
    pub(crate) _exit: Option<ExitGuard>,
}

impl Opened {
    /// Relays between `client` (with the bytes it already sent past its handshake) and the
    /// opened destination until the tunnel ends: both sides done, idle, stopped, or failed.
    pub(crate) async fn relay(
        self,
        client: TcpStream,
        client_early: BytesMut,
        stops: Stops<'_>,
    ) -> TunnelEnd {
        let Opened {
            dialed,
            tally,
            exit_id: _,
            _exit,
        } = self;
        let ends = TunnelEnds {
            client,
            client_early,
            upstream: dialed.stream,
            upstream_early: dialed.leftover,
        };
        relay::tunnel(ends, &tally, stops).await
    }
}
