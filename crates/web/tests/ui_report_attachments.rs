//! The report form's attachments, in process: files sent with the form
//! (`multipart/form-data`) are stored with the report; too large or too
//! many files show the form again; a body over the route's limit is the 413
//! page; nothing is stored without the form's token.
//!
//! The store here takes files of at most 1 KB (1,024 bytes), so the form's
//! body limit is 1 KB plus 256 KB for the text fields.

mod support {
    pub mod pages;
}

use axum::http::StatusCode;
use incidents::{Role, Viewer};
use support::pages::{App, Browser, Page};
use watchpost_web as web;

const BOUNDARY: &str = "----wpTestBoundary7MA4YWxkTrZu0gW";
/// The store's per-file cap in these tests.
const MAX_FILE: usize = 1024;

impl Page {}

/// A part of a multipart body: a text field, or a file.
enum Part<'a> {
    Text(&'a str, &'a str),
    /// (file name, content type, bytes); `("", "application/octet-stream",
    /// b"")` is what a browser sends for a file input with no file chosen.
    File(&'a str, &'a str, &'a [u8]),
}

/// A `multipart/form-data` body with [`BOUNDARY`], built by hand.
fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(filename, content_type, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"attachments\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn app() -> App {
    App::with(
        &[("alice", Role::Reporter), ("rita", Role::Responder)],
        incidents::StoreOptions {
            max_attachment_bytes: MAX_FILE,
            ..incidents::StoreOptions::default()
        },
        web::RouterOptions::default(),
    )
    .await
}

impl App {
    /// The report form's token for `browser`.
    async fn csrf(&self, browser: &Browser) -> String {
        let form = self.get("/report", browser).await;
        assert_eq!(form.status, StatusCode::OK);
        form.csrf()
    }

    /// Posts `parts` to /report as the form does.
    async fn post_report(&self, browser: &Browser, parts: &[Part<'_>]) -> Page {
        self.send_body(
            "POST",
            "/report",
            browser,
            Some((
                &format!("multipart/form-data; boundary={BOUNDARY}"),
                multipart(parts),
            )),
            Some("http://wp.example"),
        )
        .await
    }

    async fn reports_total(&self) -> usize {
        self.store
            .list_reports(
                &Viewer::system(),
                &incidents::ReportFilter::default(),
                &incidents::PageRequest {
                    limit: Some(500),
                    cursor: None,
                },
            )
            .await
            .unwrap()
            .items
            .len()
    }
}

fn assert_escaped_page(page: &Page) {
    let csp = page
        .headers
        .get("content-security-policy")
        .expect("a CSP header")
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        page.headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page, not a bare error"
    );
}

#[tokio::test]
async fn the_form_sends_files_and_states_the_limits() {
    let app = app().await;
    // Anonymous: sent to sign in, and nothing is filed.
    let anonymous = Browser::default();
    let page = app.get("/report", &anonymous).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login"));
    let page = app
        .post_report(&anonymous, &[Part::Text("category", "theft")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login"));

    let alice = app.browser("alice").await;
    let form = app.get("/report", &alice).await;
    assert_escaped_page(&form);
    assert!(
        form.body
            .contains("<form method=\"post\" action=\"/report\" enctype=\"multipart/form-data\""),
        "{}",
        form.body
    );
    assert!(form.body.contains("<label for=\"attachments\">"));
    assert!(
        form.body
            .contains("<input id=\"attachments\" name=\"attachments\" type=\"file\" multiple")
    );
    assert!(
        form.body
            .contains("Up to 20 files, at most 1 KB each and 1 KB in all."),
        "{}",
        form.body
    );
    assert_eq!(app.reports_total().await, 0);
}

#[tokio::test]
async fn a_report_with_two_files_is_stored_with_both() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "theft"),
                Part::Text("location", "Desk 4"),
                Part::Text("description", "Laptop gone, photos attached."),
                Part::File("notes.txt", "text/plain", b"hello world\n"),
                Part::File("desk photo.png", "image/png", b"abc"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    let id = location
        .strip_prefix("/my-reports?filed=")
        .unwrap()
        .to_owned();
    let stored = app
        .store
        .get_report(&Viewer::system(), id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.location.as_deref(), Some("Desk 4"));
    assert_eq!(stored.description, "Laptop gone, photos attached.");
    let files: Vec<(&str, &str, i64, &str)> = stored
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.as_str(),
                a.content_type.as_str(),
                a.size,
                a.sha256.as_str(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                "notes.txt",
                "text/plain",
                12,
                "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
            ),
            (
                "desk photo.png",
                "image/png",
                3,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            ),
        ]
    );
    let (_, bytes) = app
        .store
        .read_attachment(&Viewer::system(), stored.attachments[0].id)
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"hello world\n");

    // The confirmation names them, and My reports lists them.
    let mine = app.get(&location, &alice).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(
        mine.body.contains(
            "Attached: <span class=\"filename\">notes.txt</span>, <span class=\"filename\">desk photo.png</span>."
        ),
        "{}",
        mine.body
    );
    assert!(
        mine.body
            .contains("<ul class=\"files\"><li>notes.txt</li><li>desk photo.png</li></ul>")
    );
}

#[tokio::test]
async fn an_empty_file_input_is_ignored() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "security_incident"),
                Part::Text("description", "A phishing mail."),
                Part::File("", "application/octet-stream", b""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = page
        .location()
        .unwrap()
        .strip_prefix("/my-reports?filed=")
        .unwrap()
        .to_owned();
    let stored = app
        .store
        .get_report(&Viewer::system(), id.parse().unwrap())
        .await
        .unwrap();
    assert!(stored.attachments.is_empty());
    let mine = app.get(&format!("/my-reports?filed={id}"), &alice).await;
    assert!(!mine.body.contains("Attached:"));
    assert!(mine.body.contains("<td>None</td>"), "{}", mine.body);
}

#[tokio::test]
async fn a_file_over_the_limit_shows_the_form_again_and_stores_nothing() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let big = vec![b'x'; MAX_FILE + 1];
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "theft"),
                Part::Text("location", "Lobby <3"),
                Part::Text("description", "Bike stolen."),
                Part::File("small.txt", "text/plain", b"ok"),
                Part::File("big.bin", "application/octet-stream", &big),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert_escaped_page(&page);
    let message =
        "“big.bin” is larger than 1 KB. Each file may be at most 1 KB: choose the files again.";
    assert!(
        page.body
            .contains(&format!("<li><a href=\"#attachments\">{message}</a></li>")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(
        "<p class=\"error\" id=\"attachments-error\">{message}</p>"
    )));
    assert!(page.body.contains("aria-invalid=\"true\""));
    // What was typed is kept.
    assert!(page.body.contains(">Bike stolen.</textarea>"));
    assert!(
        page.body.contains("value=\"Lobby &#60;3\"") || page.body.contains("value=\"Lobby &lt;3\"")
    );
    assert!(
        page.body
            .contains("value=\"theft\" aria-describedby=\"hint-theft\" checked")
    );
    assert_eq!(app.reports_total().await, 0);
}

#[tokio::test]
async fn more_than_twenty_files_show_the_form_again() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let names: Vec<String> = (1..=21).map(|i| format!("f{i}.txt")).collect();
    let mut parts = vec![
        Part::Text("csrf", &csrf),
        Part::Text("category", "theft"),
        Part::Text("description", "Many files."),
    ];
    parts.extend(names.iter().map(|n| Part::File(n, "text/plain", b"1")));
    let page = app.post_report(&alice, &parts).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            "id=\"attachments-error\">Choose at most 20 files (you chose 21). Choose the files again.</p>"
        ),
        "{}",
        page.body
    );
    assert_eq!(app.reports_total().await, 0);

    // Twenty is fine.
    let mut parts = vec![
        Part::Text("csrf", &csrf),
        Part::Text("category", "theft"),
        Part::Text("description", "Twenty files."),
    ];
    parts.extend(
        names[..20]
            .iter()
            .map(|n| Part::File(n, "text/plain", b"1")),
    );
    let page = app.post_report(&alice, &parts).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(app.reports_total().await, 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_the_413_page_and_stores_nothing() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    // 1 KB + 256 KB is the limit; 300 KB is over it.
    let huge = vec![b'x'; 300 * 1024];
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "theft"),
                Part::Text("description", "Huge."),
                Part::File("huge.bin", "application/octet-stream", &huge),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.body);
    assert_escaped_page(&page);
    assert!(
        page.body.contains("<h1>Too large to send</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Your report was not sent: together, the files were larger than 1 KB.")
    );
    assert_eq!(app.reports_total().await, 0);
}

/// A body over the server's outer limit (1 MiB here: the largest of the
/// routes' limits) is refused before the form is read: the pages' 413
/// page, not the API's JSON, and nothing stored. The API keeps its JSON.
#[tokio::test]
async fn a_body_over_the_servers_limit_is_the_413_page_too() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "theft"),
                Part::Text("description", "Huge."),
                Part::File("huge.bin", "application/octet-stream", &huge),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_escaped_page(&page);
    assert!(
        page.body.contains("<h1>Too large to send</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Nothing was sent"));
    assert_eq!(app.reports_total().await, 0);
    let api = app
        .send_body(
            "POST",
            "/api/v1/reports",
            &alice,
            Some(("application/json", huge.clone())),
            None,
        )
        .await;
    assert_eq!(api.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        api.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        api.headers
    );
}

#[tokio::test]
async fn without_the_forms_token_or_from_another_site_nothing_is_stored() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let fields = |token: Option<&'static str>| {
        let mut parts = vec![
            Part::Text("category", "theft"),
            Part::Text("description", "No token."),
            Part::File("notes.txt", "text/plain", b"hello"),
        ];
        if let Some(t) = token {
            parts.insert(0, Part::Text("csrf", t));
        }
        multipart(&parts)
    };
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    for (what, body, origin) in [
        ("no token", fields(None), "http://wp.example"),
        (
            "a wrong token",
            fields(Some("not-the-token")),
            "http://wp.example",
        ),
    ] {
        let page = app
            .send_body(
                "POST",
                "/report",
                &alice,
                Some((&content_type, body)),
                Some(origin),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        assert!(
            page.body
                .contains("This form was sent from another site, or had expired.")
        );
    }
    // The right token from another site.
    let body = multipart(&[
        Part::Text("csrf", &csrf),
        Part::Text("category", "theft"),
        Part::Text("description", "Cross-site."),
    ]);
    let page = app
        .send_body(
            "POST",
            "/report",
            &alice,
            Some((&content_type, body)),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert_eq!(app.reports_total().await, 0);
}

#[tokio::test]
async fn a_file_name_with_markup_is_escaped_on_the_confirmation() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("category", "other"),
                Part::Text("description", "Odd file."),
                Part::File("<script>alert(1)</script>.txt", "text/plain", b"x"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let mine = app.get(page.location().unwrap(), &alice).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(!mine.body.contains("<script>"), "{}", mine.body);
    assert!(
        mine.body.contains(
            "<span class=\"filename\">&#60;script&#62;alert(1)&#60;/script&#62;.txt</span>"
        ) || mine
            .body
            .contains("<span class=\"filename\">&lt;script&gt;alert(1)&lt;/script&gt;.txt</span>"),
        "{}",
        mine.body
    );
}

#[tokio::test]
async fn files_sent_with_another_fields_error_must_be_chosen_again() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let csrf = app.csrf(&alice).await;
    let page = app
        .post_report(
            &alice,
            &[
                Part::Text("csrf", &csrf),
                Part::Text("description", "No category chosen."),
                Part::File("a<b>.txt", "text/plain", b"fine"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            "id=\"attachments-dropped\">The files you chose (“a&#60;b&#62;.txt”) were not sent: choose the files again.</p>"
        ) || page.body.contains(
            "id=\"attachments-dropped\">The files you chose (“a&lt;b&gt;.txt”) were not sent: choose the files again.</p>"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("aria-describedby=\"attachments-hint attachments-dropped\"")
    );
    assert!(page.body.contains(">No category chosen.</textarea>"));
    assert_eq!(app.reports_total().await, 0);
}
