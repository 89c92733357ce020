//! Name resolution as the gateway uses it: the system's resolver by default (tokio's, which
//! runs `getaddrinfo` on the blocking pool), or one the embedding service provides.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// Future of one lookup.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Resolves a host name to the addresses the gateway may dial (each is checked by the
/// destination policy before use).
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`, with `port`.
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a>;
}

/// The resolver a gateway uses; [`Default`] is the system's.
#[derive(Clone)]
pub struct Resolver(Arc<dyn Resolve>);

impl Resolver {
    /// A gateway resolver from any [`Resolve`] implementation.
    pub fn new(resolve: impl Resolve) -> Self {
        Self(Arc::new(resolve))
    }

    pub(crate) fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        self.0.lookup(host, port)
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new(SystemResolver)
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

/// The operating system's resolver (`/etc/hosts`, then DNS), off the runtime threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}
