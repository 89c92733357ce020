//! A page rendered while another service starts in the same process. Building a service's
//! router lists the dashboard's routes (`generate_route_list_with_exclusions` in
//! `server/src/http/pages.rs`), which renders the whole app once with resource loading switched
//! off through a flag that is global to the process (leptos_server's `SuppressResourceLoad`).
//! A page of another service that creates its resources in that moment never loads them, and
//! its response body never ends: the `/billing` body that once took "over 10 s" in a full run
//! of this binary, where tests start services while others load pages.

use std::time::Duration;

use crate::common::{Engine, Service, TestDb};
use crate::support::signed_in_customer;

/// How long a page may take here before it counts as never finishing.
const PAGE_WITHIN: Duration = Duration::from_secs(5);

/// Loads `/billing`, headers and body, within [`PAGE_WITHIN`]; `false` when it did not finish.
async fn billing_page_finishes(browser: &crate::common::Browser) -> bool {
    let load = async {
        let page = browser.get("/billing").await;
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    };
    match tokio::time::timeout(PAGE_WITHIN, load).await {
        Ok(body) => {
            assert!(body.contains("id=\"plans-heading\""), "{body}");
            true
        }
        Err(_) => false,
    }
}

/// The race itself: `/billing` loaded over and over while other services start (and stop) on
/// the same database in this process. Every load must finish. Before the fix in
/// `server/src/http/pages.rs` (the route list made once per process) a load hangs within the
/// first few starts (3 runs of 3 before the fix), and the starts hang the pages of the tests
/// running beside it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_while_other_services_start() {
    const STARTS: usize = 30;
    let db = TestDb::new(Engine::Sqlite).await.unwrap();
    let service = Service::start(db.url()).await;
    let browser = signed_in_customer(db.db(), &service, "race@example.com").await;
    let url = db.url().to_owned();
    let starts = tokio::spawn(async move {
        for _ in 0..STARTS {
            let other = Service::start(&url).await;
            other.stop().await.expect("clean stop");
        }
    });
    let mut loads = 0;
    while !starts.is_finished() {
        assert!(
            billing_page_finishes(&browser).await,
            "/billing did not finish within {PAGE_WITHIN:?} (load {loads}) while other services \
             started in this process"
        );
        loads += 1;
    }
    starts.await.unwrap();
    println!("{loads} loads of /billing during {STARTS} starts");
    service.stop().await.expect("clean stop");
}
