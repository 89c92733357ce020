//! The Content-Security-Policy nonce: fresh on every response, on every inline script.

use crate::common::{self, Engine, Service, TestDb};

async fn pages_carry_a_fresh_csp_nonce_on_every_inline_script(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = service.get("/login").await;
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in script-src")
            .to_owned();
        let html = page.text().await.unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "the page has scripts");
        for script in scripts {
            let tag = &script[..script.find('>').expect("tag end")];
            if !tag.contains("src=") {
                assert!(
                    tag.contains(&format!("nonce=\"{nonce}\"")),
                    "inline script without the nonce: <script{tag}>"
                );
            }
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce per response");
    let api = common::client()
        .post(format!("{}/api/security", service.base))
        .send()
        .await
        .unwrap();
    assert!(
        api.headers().contains_key("content-security-policy"),
        "on every response"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(pages_carry_a_fresh_csp_nonce_on_every_inline_script);
