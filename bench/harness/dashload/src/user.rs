//! One simulated person: signs in through the form, keeps the live socket open, and loads a
//! page (or exports CSV, or saves the preferences form) every few seconds until told to stop.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{
    HeaderValue, ACCEPT_ENCODING, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, RETRY_AFTER,
};
use reqwest::{Client, StatusCode};
use tokio::net::TcpSocket;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{Frames, Rec};

pub struct Cfg {
    pub base: String,
    pub accounts: usize,
    pub password: String,
    pub think_min: f64,
    pub think_max: f64,
}

/// The six pages of the dashboard's navigation.
const PAGES: [&str; 6] = [
    "/",
    "/servers",
    "/usage",
    "/activity",
    "/settings",
    "/billing",
];
const CSV: &str = "/usage.csv?range=30d&by=day";
/// What the browser sends: the server compresses pages as it would for a real one.
const ENCODINGS: &str = "br, gzip";

/// xorshift64*: enough randomness for think times and the page mix, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct User {
    cfg: Arc<Cfg>,
    rec: Arc<Rec>,
    http: Client,
    jar: Arc<reqwest::cookie::Jar>,
    url: reqwest::Url,
}

impl User {
    /// GET `path` (a page or the CSV), the whole body read; `Ok` if 200.
    async fn get(&self, kind: &'static str, path: &'static str) {
        let t = Instant::now();
        let sent = self
            .http
            .get(format!("{}{path}", self.cfg.base))
            .header(ACCEPT_ENCODING, ENCODINGS)
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
                Ok(_) => self.rec.ok(kind, path, t.elapsed()),
                Err(e) => self.rec.error(format!("{kind}:body:{}", short(&e))),
            },
            Ok(r) => self
                .rec
                .error(format!("{kind}:{path}:status_{}", r.status().as_u16())),
            Err(e) => self.rec.error(format!("{kind}:{}", short(&e))),
        }
    }

    /// The preferences form as the browser posts it: urlencoded, with the page's Origin; the
    /// 303 back to Settings is then followed like the browser does (a page load).
    async fn save_preferences(&self) {
        let t = Instant::now();
        let sent = self
            .http
            .post(format!("{}/settings/preferences", self.cfg.base))
            .header(ORIGIN, &self.cfg.base)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("time_zone=UTC&quota_warning_percent=80")
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == StatusCode::SEE_OTHER => {
                let to = r
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if !to.contains("preferences_saved") {
                    self.rec.error(format!("form:refused:{to}"));
                    return;
                }
                let _ = r.bytes().await;
                self.rec
                    .ok("form_post", "POST /settings/preferences", t.elapsed());
                self.get("page", "/settings").await;
            }
            Ok(r) => self
                .rec
                .error(format!("form:status_{}", r.status().as_u16())),
            Err(e) => self.rec.error(format!("form:{}", short(&e))),
        }
    }

    /// GET /login, then the form post; true once signed in. A 503 (every password check busy)
    /// is tried again after its Retry-After, as a person would press the button again.
    async fn sign_in(&self, email: &str) -> bool {
        let t = Instant::now();
        for _ in 0..20 {
            match self
                .http
                .get(format!("{}/login", self.cfg.base))
                .header(ACCEPT_ENCODING, ENCODINGS)
                .send()
                .await
            {
                Ok(r) if r.status() == StatusCode::OK => {
                    let _ = r.bytes().await;
                }
                Ok(r) => {
                    self.rec
                        .error(format!("signin:login_page:status_{}", r.status().as_u16()));
                    return false;
                }
                Err(e) => {
                    self.rec.error(format!("signin:login_page:{}", short(&e)));
                    return false;
                }
            }
            let body = format!(
                "email={}&password={}",
                urlencode(email),
                urlencode(&self.cfg.password)
            );
            let sent = self
                .http
                .post(format!("{}/login", self.cfg.base))
                .header(ORIGIN, &self.cfg.base)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == StatusCode::SEE_OTHER => {
                    let to = r
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    if to != "/" {
                        self.rec.error(format!("signin:refused:{to}"));
                        return false;
                    }
                    let _ = r.bytes().await;
                    self.rec.signed_in(t.elapsed());
                    return true;
                }
                Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    let wait = r
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(1);
                    self.rec.signin_busy.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(wait.clamp(1, 10))).await;
                }
                Ok(r) => {
                    self.rec
                        .error(format!("signin:status_{}", r.status().as_u16()));
                    return false;
                }
                Err(e) => {
                    self.rec.error(format!("signin:{}", short(&e)));
                    return false;
                }
            }
        }
        self.rec.error("signin:busy_20_times".into());
        false
    }

    fn cookie(&self) -> Option<HeaderValue> {
        use reqwest::cookie::CookieStore;
        self.jar.cookies(&self.url)
    }
}

fn short(e: &reqwest::Error) -> String {
    let mut kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
    .to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if std::error::Error::source(s).is_none() {
            kind = format!("{kind}({s})");
        }
        src = std::error::Error::source(s);
    }
    kind
}

pub async fn run(
    i: usize,
    ip: IpAddr,
    cfg: Arc<Cfg>,
    rec: Arc<Rec>,
    frames: Frames,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let built = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip)
        // The server closes a kept-alive connection idle for 10 s: let go of it before.
        .pool_idle_timeout(Duration::from_secs(8))
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build();
    let (http, url) = match (built, reqwest::Url::parse(&cfg.base)) {
        (Ok(h), Ok(u)) => (h, u),
        _ => {
            rec.error("client:build".into());
            rec.signins_done.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let user = User {
        cfg: cfg.clone(),
        rec: rec.clone(),
        http,
        jar,
        url,
    };
    let email = format!("load{}@example.com", i % cfg.accounts);
    let signed_in = {
        let _permit = gate.acquire().await;
        user.sign_in(&email).await
    };
    rec.signins_done.fetch_add(1, Ordering::Relaxed);
    if !signed_in {
        return;
    }
    // The redirect after signing in: Statistics, whose script opens the live socket.
    user.get("page", "/").await;
    let Some(cookie) = user.cookie() else {
        rec.error("signin:no_cookie".into());
        return;
    };
    let live = tokio::spawn(live(
        ip,
        cfg.clone(),
        cookie,
        rec.clone(),
        frames,
        stop.clone(),
    ));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    loop {
        let think = cfg.think_min + (cfg.think_max - cfg.think_min) * rng.unit();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs_f64(think)) => {}
            _ = stop.changed() => break,
        }
        match rng.next() % 8 {
            k @ 0..=5 => user.get("page", PAGES[k as usize]).await,
            6 => user.get("csv", CSV).await,
            _ => user.save_preferences().await,
        }
    }
    let _ = live.await;
}

/// Holds `/ws/live` open and notes when each frame arrives; a socket that ends early is an
/// error and is opened again a second later, as the page does.
async fn live(
    ip: IpAddr,
    cfg: Arc<Cfg>,
    cookie: HeaderValue,
    rec: Arc<Rec>,
    frames: Frames,
    mut stop: watch::Receiver<bool>,
) {
    let ws_url = format!("{}/ws/live", cfg.base.replacen("http://", "ws://", 1));
    let Some(server) = cfg
        .base
        .strip_prefix("http://")
        .and_then(|h| h.parse::<SocketAddr>().ok())
    else {
        rec.error("live:bad_base".into());
        return;
    };
    loop {
        if *stop.borrow() {
            return;
        }
        match open(ip, server, &ws_url, &cfg.base, &cookie).await {
            Ok(mut ws) => loop {
                tokio::select! {
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                            frames.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Instant::now());
                        }
                        Some(Ok(Message::Close(c))) => {
                            rec.error(format!("live:closed:{}", c.map_or(String::new(), |c| c.reason.to_string())));
                            break;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            rec.error(format!("live:error:{e}"));
                            break;
                        }
                        None => {
                            rec.error("live:ended".into());
                            break;
                        }
                    },
                    _ = stop.changed() => {
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                        return;
                    }
                }
            },
            Err(e) => rec.error(format!("live:open:{e}")),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn open(
    ip: IpAddr,
    server: SocketAddr,
    url: &str,
    origin: &str,
    cookie: &HeaderValue,
) -> Result<Ws, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    req.headers_mut().insert(
        ORIGIN,
        HeaderValue::from_str(origin).map_err(|e| e.to_string())?,
    );
    req.headers_mut().insert(COOKIE, cookie.clone());
    let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    sock.bind(SocketAddr::new(ip, 0))
        .map_err(|e| format!("bind:{e}"))?;
    let stream = tokio::time::timeout(Duration::from_secs(10), sock.connect(server))
        .await
        .map_err(|_| "connect_timeout".to_string())?
        .map_err(|e| format!("connect:{e}"))?;
    let _ = stream.set_nodelay(true);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, stream),
    )
    .await
    .map_err(|_| "handshake_timeout".to_string())?
    .map_err(|e| format!("handshake:{e}"))?;
    Ok(ws)
}
