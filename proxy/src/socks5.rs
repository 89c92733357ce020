//! SOCKS5 protocol pieces: the server side of RFC 1928 (CONNECT with IPv4, IPv6 and domain
//! addresses) and RFC 1929 (username/password), and the client side used to chain through an
//! upstream SOCKS5 exit. Deadlines are the caller's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::destination::{Destination, Host};

/// No authentication required.
pub const METHOD_NONE: u8 = 0x00;
/// Username/password (RFC 1929).
pub const METHOD_USERPASS: u8 = 0x02;
/// No acceptable method.
pub const METHOD_REJECT: u8 = 0xff;
/// Reply: succeeded.
pub const REPLY_OK: u8 = 0x00;
/// Reply: general failure.
pub const REPLY_FAILURE: u8 = 0x01;
/// Reply: connection refused.
pub const REPLY_REFUSED: u8 = 0x05;
/// Reply: command not supported.
pub const REPLY_COMMAND_NOT_SUPPORTED: u8 = 0x07;
/// Reply: address type not supported.
pub const REPLY_ADDRESS_NOT_SUPPORTED: u8 = 0x08;

/// A SOCKS5 protocol failure.
#[derive(Debug, thiserror::Error)]
pub enum SocksError {
    /// I/O error (including the peer closing early).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Not SOCKS version 5 (or 1 for the auth sub-negotiation).
    #[error("unsupported SOCKS version {0}")]
    Version(u8),
    /// A command other than CONNECT.
    #[error("unsupported command {0}")]
    Command(u8),
    /// An unknown address type.
    #[error("unsupported address type {0}")]
    AddressType(u8),
    /// A field that does not make sense (empty domain, port 0, bad UTF-8).
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The server accepted none of our methods.
    #[error("no acceptable authentication method")]
    NoAcceptableMethod,
    /// The server refused our credentials.
    #[error("authentication refused")]
    AuthRefused,
    /// The server answered CONNECT with a failure reply.
    #[error("connect failed with reply {0}")]
    Reply(u8),
}

impl SocksError {
    /// Reply code to send back for a malformed request.
    pub fn reply_code(&self) -> u8 {
        match self {
            SocksError::Command(_) => REPLY_COMMAND_NOT_SUPPORTED,
            SocksError::AddressType(_) => REPLY_ADDRESS_NOT_SUPPORTED,
            _ => REPLY_FAILURE,
        }
    }
}

/// Reads the client greeting and returns the offered methods.
pub async fn read_greeting<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, SocksError> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(SocksError::Version(head[0]));
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut methods).await?;
    Ok(methods)
}

/// Sends the chosen method.
pub async fn write_method<S: AsyncWrite + Unpin>(s: &mut S, method: u8) -> Result<(), SocksError> {
    s.write_all(&[5, method]).await?;
    Ok(())
}

/// Reads an RFC 1929 username/password request.
pub async fn read_credentials<S: AsyncRead + Unpin>(
    s: &mut S,
) -> Result<(String, String), SocksError> {
    let version = s.read_u8().await?;
    if version != 1 {
        return Err(SocksError::Version(version));
    }
    let user = read_short_string(s).await?;
    let pass = read_short_string(s).await?;
    Ok((user, pass))
}

async fn read_short_string<S: AsyncRead + Unpin>(s: &mut S) -> Result<String, SocksError> {
    let len = s.read_u8().await?;
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await?;
    String::from_utf8(buf).map_err(|_| SocksError::Malformed("credentials are not UTF-8"))
}

/// Sends the RFC 1929 status (the caller closes after a failure).
pub async fn write_auth_status<S: AsyncWrite + Unpin>(
    s: &mut S,
    ok: bool,
) -> Result<(), SocksError> {
    s.write_all(&[1, if ok { 0 } else { 1 }]).await?;
    Ok(())
}

/// Reads a request; only CONNECT is accepted.
pub async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Result<Destination, SocksError> {
    let mut head = [0u8; 3];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(SocksError::Version(head[0]));
    }
    let dest = read_address(s).await?;
    if head[1] != 1 {
        return Err(SocksError::Command(head[1]));
    }
    Ok(dest)
}

async fn read_address<S: AsyncRead + Unpin>(s: &mut S) -> Result<Destination, SocksError> {
    let atyp = s.read_u8().await?;
    let host = match atyp {
        1 => {
            let mut ip = [0u8; 4];
            s.read_exact(&mut ip).await?;
            Host::Ip(IpAddr::V4(Ipv4Addr::from(ip)))
        }
        4 => {
            let mut ip = [0u8; 16];
            s.read_exact(&mut ip).await?;
            Host::Ip(IpAddr::V6(Ipv6Addr::from(ip)))
        }
        3 => {
            let name = read_short_string(s).await?;
            let port = s.read_u16().await?;
            return Destination::from_host(&name, port)
                .filter(|d| d.port != 0)
                .ok_or(SocksError::Malformed("bad domain name or port"));
        }
        other => return Err(SocksError::AddressType(other)),
    };
    let port = s.read_u16().await?;
    if port == 0 {
        return Err(SocksError::Malformed("port 0"));
    }
    Ok(Destination { host, port })
}

fn encode_address(out: &mut Vec<u8>, dest: &Destination) {
    match &dest.host {
        Host::Ip(IpAddr::V4(ip)) => {
            out.push(1);
            out.extend_from_slice(&ip.octets());
        }
        Host::Ip(IpAddr::V6(ip)) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        Host::Name(name) => {
            out.push(3);
            // names are at most 253 bytes (checked by Destination::from_host)
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        }
    }
    out.extend_from_slice(&dest.port.to_be_bytes());
}

/// How the server side of a handshake checks a client.
pub(crate) trait Authenticator {
    /// What a successful check yields.
    type Found;
    /// Why a username/password check failed.
    type Refusal;
    /// Checks RFC 1929 username/password credentials.
    fn password(&mut self, user: &str, pass: &str) -> Result<Self::Found, Self::Refusal>;
    /// Checks a client that offered no username/password (an allowlisted source).
    fn no_password(&mut self) -> Option<Self::Found>;
}

/// How the server side of a handshake ended.
#[derive(Debug)]
pub(crate) enum Accepted<F, R> {
    /// Authenticated, and the client asked to CONNECT to this destination.
    Connect(F, Destination),
    /// Nobody can be checked yet: every method was refused.
    NotReady,
    /// No method the client offered could authenticate it (refused, and shut down).
    NoMethod,
    /// The credentials were refused (answered, and shut down).
    Refused(R),
}

/// Server side of a handshake up to the request: the greeting, the method (username/password
/// when offered, else none for allowlisted sources), the RFC 1929 sub-negotiation, and the
/// CONNECT request. `auth` is `None` while the gateway cannot check anybody yet.
pub(crate) async fn accept<S, A>(
    s: &mut S,
    auth: Option<A>,
) -> Result<Accepted<A::Found, A::Refusal>, SocksError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Authenticator,
{
    let methods = read_greeting(s).await?;
    let Some(mut auth) = auth else {
        write_method(s, METHOD_REJECT).await?;
        return Ok(Accepted::NotReady);
    };
    let found = if methods.contains(&METHOD_USERPASS) {
        write_method(s, METHOD_USERPASS).await?;
        let (user, pass) = read_credentials(s).await?;
        match auth.password(&user, &pass) {
            Ok(found) => {
                write_auth_status(s, true).await?;
                found
            }
            Err(refusal) => {
                write_auth_status(s, false).await?;
                let _ = s.shutdown().await;
                return Ok(Accepted::Refused(refusal));
            }
        }
    } else {
        let allowed = methods
            .contains(&METHOD_NONE)
            .then(|| auth.no_password())
            .flatten();
        match allowed {
            Some(found) => {
                write_method(s, METHOD_NONE).await?;
                found
            }
            None => {
                write_method(s, METHOD_REJECT).await?;
                let _ = s.shutdown().await;
                return Ok(Accepted::NoMethod);
            }
        }
    };
    let dest = read_request(s).await?;
    Ok(Accepted::Connect(found, dest))
}

/// Sends a reply with the bound address.
pub async fn write_reply<S: AsyncWrite + Unpin>(
    s: &mut S,
    code: u8,
    bound: SocketAddr,
) -> Result<(), SocksError> {
    let mut out = vec![5, code, 0];
    let dest = Destination {
        host: Host::Ip(bound.ip()),
        port: bound.port(),
    };
    encode_address(&mut out, &dest);
    s.write_all(&out).await?;
    Ok(())
}

/// Client side: negotiates (with credentials when given) and asks the server to CONNECT.
pub async fn client_connect<S>(
    s: &mut S,
    dest: &Destination,
    credentials: Option<(&str, &str)>,
) -> Result<(), SocksError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let method = if credentials.is_some() {
        METHOD_USERPASS
    } else {
        METHOD_NONE
    };
    s.write_all(&[5, 1, method]).await?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).await?;
    if choice[0] != 5 {
        return Err(SocksError::Version(choice[0]));
    }
    if choice[1] != method {
        return Err(SocksError::NoAcceptableMethod);
    }
    if let Some((user, pass)) = credentials {
        let mut msg = vec![1];
        for field in [user, pass] {
            let len = u8::try_from(field.len())
                .map_err(|_| SocksError::Malformed("credential longer than 255 bytes"))?;
            msg.push(len);
            msg.extend_from_slice(field.as_bytes());
        }
        s.write_all(&msg).await?;
        let mut status = [0u8; 2];
        s.read_exact(&mut status).await?;
        if status[1] != 0 {
            return Err(SocksError::AuthRefused);
        }
    }
    let mut req = vec![5, 1, 0];
    encode_address(&mut req, dest);
    s.write_all(&req).await?;
    let mut head = [0u8; 3];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(SocksError::Version(head[0]));
    }
    // read (and ignore) the bound address even on failure, so the stream stays in sync
    read_address(s).await.ok();
    if head[1] != REPLY_OK {
        return Err(SocksError::Reply(head[1]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn server_and_client_agree() {
        let (mut c, mut s) = tokio::io::duplex(4096);
        let dest = Destination::from_host("example.com", 443).expect("dest");
        let want = dest.clone();
        let server = tokio::spawn(async move {
            let methods = read_greeting(&mut s).await?;
            assert_eq!(methods, vec![METHOD_USERPASS]);
            write_method(&mut s, METHOD_USERPASS).await?;
            let creds = read_credentials(&mut s).await?;
            assert_eq!(creds, ("u-country-de".to_owned(), "pw".to_owned()));
            write_auth_status(&mut s, true).await?;
            let got = read_request(&mut s).await?;
            write_reply(&mut s, REPLY_OK, "127.0.0.1:9".parse().expect("addr")).await?;
            Ok::<_, SocksError>(got)
        });
        client_connect(&mut c, &dest, Some(("u-country-de", "pw")))
            .await
            .expect("client");
        assert_eq!(server.await.expect("join").expect("server"), want);
    }

    #[tokio::test]
    async fn requests_decode_every_address_type() {
        for (bytes, want) in [
            (vec![5u8, 1, 0, 1, 10, 0, 0, 1, 0, 80], "10.0.0.1:80"),
            (
                vec![
                    5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187,
                ],
                "[::1]:443",
            ),
            (
                vec![5, 1, 0, 3, 5, b'a', b'.', b'c', b'o', b'm', 0, 80],
                "a.com:80",
            ),
        ] {
            let got = read_request(&mut bytes.as_slice()).await.expect("parse");
            assert_eq!(got.to_string(), want);
        }
        assert!(matches!(
            read_request(&mut [5u8, 2, 0, 1, 1, 1, 1, 1, 0, 80].as_slice()).await,
            Err(SocksError::Command(2))
        ));
        assert!(matches!(
            read_request(&mut [5u8, 1, 0, 9].as_slice()).await,
            Err(SocksError::AddressType(9))
        ));
        assert!(matches!(
            read_request(&mut [4u8, 1, 0].as_slice()).await,
            Err(SocksError::Version(4))
        ));
        assert!(matches!(
            read_request(&mut [5u8, 1, 0, 1, 1, 1, 1, 1, 0, 0].as_slice()).await,
            Err(SocksError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn client_reports_refusals() {
        let (mut c, mut s) = tokio::io::duplex(4096);
        let dest = Destination::from_host("10.0.0.1", 80).expect("dest");
        tokio::spawn(async move {
            let _ = read_greeting(&mut s).await;
            let _ = write_method(&mut s, METHOD_NONE).await;
            let _ = read_request(&mut s).await;
            let _ = write_reply(&mut s, REPLY_REFUSED, "0.0.0.0:0".parse().expect("addr")).await;
        });
        assert!(matches!(
            client_connect(&mut c, &dest, None).await,
            Err(SocksError::Reply(5))
        ));
    }
}
