//! The files served from the binary (the stylesheet and the vendored
//! htmx), the Content-Security-Policy that lets htmx run without inline or
//! evaluated script, and the queue page's weight (UI.md: under 100 KB with
//! its stylesheet and script).
//!
//! Against the real router and a real SQLite store; expected values are
//! written here by hand.

mod support {
    pub mod pages;
}

use axum::http::StatusCode;
use incidents::{Category, NewIncident, Role, Severity, Viewer};
use support::pages::{App, Browser, Page};
use watchpost_web as web;

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn text(&self) -> &str {
        &self.body
    }
}

async fn app() -> App {
    App::with(
        &[("rita", Role::Responder)],
        incidents::StoreOptions::default(),
        web::RouterOptions::default(),
    )
    .await
}

impl App {
    /// A browser rita signed in with.
    async fn responder(&self) -> Browser {
        self.browser("rita").await
    }
}

/// The first characters of the vendored htmx 2.0.11 `dist/htmx.min.js`.
const HTMX_START: &str = "var htmx=function(){\"use strict\";";

#[tokio::test]
async fn htmx_is_served_from_the_binary_as_javascript_to_anyone() {
    let app = app().await;
    // Anonymous: the sign-in page loads it too, so it is not behind a
    // session (like the stylesheet).
    let js = app.get("/static/htmx.min.js", &Browser::default()).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(js.header("cache-control"), "public, max-age=3600");
    assert_eq!(js.header("x-content-type-options"), "nosniff");
    assert!(js.text().starts_with(HTMX_START), "{:?}", &js.text()[..80]);
    // The vendored file, unchanged: the size npm reports for 2.0.11.
    assert_eq!(js.body.len(), 52_182);
    // And it is a 2.x build (htmx 4 changed attribute inheritance).
    assert!(js.text().contains("version:\"2.0.11\""));

    let css = app.get("/static/app.css", &Browser::default()).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
}

#[tokio::test]
async fn pages_allow_scripts_only_from_this_server_and_load_htmx_without_inline_script() {
    let app = app().await;
    let rita = app.responder().await;
    for (path, browser) in [
        ("/login", Browser::default()),
        ("/incidents", rita.clone()),
        ("/alerts", rita.clone()),
    ] {
        let page = app.get(path, &browser).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let csp = page.header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("connect-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-"), "{path}: {csp}");
        assert!(!csp.contains("script-src 'self' "), "{path}: {csp}");
        let html = page.text();
        assert!(
            html.contains("<script src=\"/static/htmx.min.js\" defer></script>"),
            "{path}"
        );
        // The only script element is that one: no inline script.
        assert_eq!(html.matches("<script").count(), 1, "{path}");
        assert!(
            html.contains(
                "<meta name=\"htmx-config\" content='{\"includeIndicatorStyles\":false,\"allowEval\":false,\"allowScriptTags\":false,"
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_queue_filter_swaps_the_main_content_and_is_still_a_plain_get_form() {
    let app = app().await;
    let rita = app.responder().await;
    let page = app.get("/incidents", &rita).await;
    let html = page.text();
    // The plain form is still there for a browser without JavaScript.
    assert!(html.contains(
        "<form method=\"get\" action=\"/incidents\" hx-get=\"/incidents\" hx-target=\"#main\" hx-select=\"#main\" hx-swap=\"outerHTML\" hx-push-url=\"true\" class=\"filters\""
    ));
    assert!(html.contains("<main id=\"main\" tabindex=\"-1\">"));
    assert!(html.contains("<button type=\"submit\" id=\"filter\">Filter</button>"));
}

#[tokio::test]
async fn the_queue_with_fifty_rows_its_stylesheet_and_htmx_weigh_under_100_kb() {
    let app = app().await;
    let rita = app.responder().await;
    let severities = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];
    // 51 incidents: a full page of 50 rows and a "Next page" link.
    for n in 0..51 {
        app.store
            .create_incident(
                &Viewer::system(),
                NewIncident {
                    title: format!("Suspicious sign-in to the VPN from a new country, case {n:02}"),
                    description: "Seen in the VPN logs.".to_owned(),
                    category: Category::SecurityIncident,
                    severity: severities[n % 4],
                    sensitive: false,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: None,
                },
            )
            .await
            .unwrap();
    }
    let page = app.get("/incidents", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert_eq!(html.matches("<tr>").count(), 51, "a header row and 50 rows");
    assert!(html.contains(
        "<nav class=\"pager\" aria-label=\"Pages\" hx-boost=\"true\" hx-target=\"#main\" hx-select=\"#main\" hx-swap=\"outerHTML\">"
    ));
    assert!(html.contains(">Next page</a>"));
    assert!(html.contains("51 incidents."));
    let css = app
        .get("/static/app.css", &Browser::default())
        .await
        .body
        .len();
    let js = app
        .get("/static/htmx.min.js", &Browser::default())
        .await
        .body
        .len();
    let total = page.body.len() + css + js;
    println!(
        "page weight: /incidents (50 rows) {} bytes + app.css {css} bytes + htmx.min.js {js} bytes = {total} bytes",
        page.body.len()
    );
    assert!(total < 100_000, "{total} bytes");
}
