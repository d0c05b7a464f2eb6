//! The users-and-roles page (`/admin/users`) and its forms against the
//! real router and a real SQLite store: who may open it, adding a user
//! (with field errors that keep what was typed), disabling one, changing a
//! role, the two-person grant of a need-to-know role, CSRF and origin
//! checks, and escaping.
//!
//! Requests are sent as a browser would send them (form bodies, cookies,
//! `Origin`); every expected status, message and role is written here by
//! hand, and every change is checked through the store and its audit log.

mod support {
    pub mod pages;
}

use axum::http::StatusCode;
use incidents::{GrantStatus, Role, RoleGrant, Viewer};
use support::pages::{App, Browser, ORIGIN, PASSWORD, Page};
use watchpost_web as web;

/// A grant id no grant has.
const NO_SUCH_ID: &str = "0190d5a4-8f5e-7c3a-9b1e-2f4a6c8d0e1f";

impl Page {
    /// The paths the page's forms post to.
    fn actions(&self) -> Vec<String> {
        self.body
            .split("<form method=\"post\" action=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    }
}

/// The users of every test: (name, role).
const USERS: &[(&str, Role)] = &[
    ("alice", Role::Reporter),
    ("bob", Role::Reporter),
    ("rita", Role::Responder),
    ("ron", Role::Responder),
    ("fran", Role::FinanceOps),
    ("adam", Role::Admin),
    ("ada", Role::Admin),
    ("shipper", Role::Ingest),
];

async fn app() -> App {
    App::with(
        USERS,
        incidents::StoreOptions::default(),
        web::RouterOptions::default(),
    )
    .await
}

impl App {
    /// A signed-in browser for `name` and its session's CSRF token (read
    /// from the report form, which every person may open).
    async fn session(&self, name: &str) -> (Browser, String) {
        let b = self.browser(name).await;
        let form = self.get("/report", &b).await;
        assert_eq!(form.status, StatusCode::OK, "{name}");
        let csrf = form.csrf();
        (b, csrf)
    }

    async fn user(&self, name: &str) -> incidents::User {
        self.store
            .get_user_by_name(&Viewer::system(), name)
            .await
            .unwrap()
    }

    async fn users(&self) -> Vec<incidents::User> {
        self.store.list_users(&Viewer::system()).await.unwrap()
    }

    async fn grants(&self) -> Vec<RoleGrant> {
        self.store
            .list_role_grants(&Viewer::system())
            .await
            .unwrap()
    }

    /// Everything the page could change: users, grants, audit entries.
    async fn snapshot(&self) -> (Vec<incidents::User>, Vec<RoleGrant>, usize) {
        (
            self.users().await,
            self.grants().await,
            self.audit().await.len(),
        )
    }

    /// The audit log as (action, actor name, entity id).
    async fn audit(&self) -> Vec<(String, String, String)> {
        let users = self.users().await;
        let name = |id| {
            users
                .iter()
                .find(|u| u.id == id)
                .map_or_else(|| id.to_string(), |u| u.name.clone())
        };
        self.store
            .list_audit(&Viewer::system(), 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !e.action.starts_with("session."))
            .map(|e| (e.action, name(e.actor), e.entity_id))
            .collect()
    }

    /// The id of the pending grant of `role` to `user`.
    async fn grant_id(&self, user: &str, role: Role) -> String {
        let user = self.user(user).await;
        self.grants()
            .await
            .into_iter()
            .find(|g| g.user_id == user.id && g.role == role && g.status == GrantStatus::Pending)
            .unwrap_or_else(|| panic!("no pending grant of {role} for {}", user.name))
            .id
            .to_string()
    }
}

/// A form with a bad value: (fields, the field with the error, its
/// message, typed text shown again).
type FieldCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, Option<&'a str>);

/// A form post: its fields and its `Origin`.
type Attempt<'a> = (Vec<(&'a str, String)>, Option<&'a str>);

/// Every form of the page: the path it posts to and the fields it sends.
fn every_form(grant: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/admin/users".to_owned(),
            vec![("name", "mallory"), ("role", "admin"), ("password", "")],
        ),
        ("/admin/users/disable".to_owned(), vec![("user", "bob")]),
        (
            "/admin/users/role".to_owned(),
            vec![("user", "bob"), ("new_role", "admin")],
        ),
        (
            "/admin/users/grants".to_owned(),
            vec![("grant_user", "bob"), ("grant_role", "finance-ops")],
        ),
        (format!("/admin/users/grants/{grant}/approve"), vec![]),
        (format!("/admin/users/grants/{grant}/reject"), vec![]),
    ]
}

/// A pending grant (finance-ops for alice, asked for by rita) to aim the
/// decision forms at.
async fn pending_grant(app: &App) -> String {
    let rita = app.user("rita").await;
    let alice = app.user("alice").await;
    app.store
        .request_role(
            &Viewer::new(rita.id, Role::Responder),
            alice.id,
            Role::FinanceOps,
        )
        .await
        .unwrap();
    app.grant_id("alice", Role::FinanceOps).await
}

#[tokio::test]
async fn anonymous_requests_go_to_sign_in_and_posts_change_nothing() {
    let app = app().await;
    let grant = pending_grant(&app).await;
    let anon = Browser::default();
    for path in ["/admin/users", "/admin/users/disable?user=bob"] {
        let page = app.get(path, &anon).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
        assert_eq!(page.csp(), Some(web::ui::CSP), "{path}");
    }
    let before = app.snapshot().await;
    for (path, fields) in every_form(&grant) {
        let page = app
            .send("POST", &path, &anon, Some(&fields), Some(ORIGIN))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn each_role_gets_what_its_api_routes_allow() {
    let app = app().await;
    let grant = pending_grant(&app).await;
    // (user, role, GET /admin/users, GET the disable confirmation, the
    // navigation's link to the page)
    let table = [
        (
            "alice",
            Role::Reporter,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "rita",
            Role::Responder,
            StatusCode::OK,
            StatusCode::NOT_FOUND,
            Some("Role requests"),
        ),
        (
            "fran",
            Role::FinanceOps,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "adam",
            Role::Admin,
            StatusCode::OK,
            StatusCode::OK,
            Some("Users"),
        ),
    ];
    for (name, role, page_status, confirm_status, link) in table {
        assert_eq!(app.user(name).await.role, role);
        let b = app.browser(name).await;
        let home = app.get("/my-reports", &b).await;
        let links = home.body.matches("<a href=\"/admin/users\"").count();
        assert_eq!(links, usize::from(link.is_some()), "{name}: {}", home.body);
        if let Some(label) = link {
            assert!(
                home.body
                    .contains(&format!("<a href=\"/admin/users\">{label}</a>")),
                "{name}"
            );
        }
        let page = app.get("/admin/users", &b).await;
        assert_eq!(page.status, page_status, "{name}");
        assert_eq!(page.csp(), Some(web::ui::CSP), "{name}");
        if page_status == StatusCode::NOT_FOUND {
            assert!(page.body.contains("There is no such page"), "{name}");
            assert!(!page.body.contains("bob"), "{name}");
        }
        let confirm = app.get("/admin/users/disable?user=bob", &b).await;
        assert_eq!(confirm.status, confirm_status, "{name}");
    }

    // An admin sees the users and the add form, and may reject but not
    // approve (only a responder approves).
    let adam = app.browser("adam").await;
    let page = app.get("/admin/users", &adam).await;
    assert!(page.body.contains("<h2 id=\"users-title\">Users</h2>"));
    assert!(page.body.contains("<h2 id=\"add-title\">Add a user</h2>"));
    let mut actions = page.actions();
    actions.sort();
    actions.dedup();
    assert_eq!(
        actions,
        [
            "/admin/users".to_owned(),
            "/admin/users/grants".to_owned(),
            format!("/admin/users/grants/{grant}/reject"),
            "/admin/users/role".to_owned(),
        ]
    );
    assert!(page.body.contains("href=\"/admin/users/disable?user=bob\""));
    // Not for themselves.
    assert!(
        !page
            .body
            .contains("href=\"/admin/users/disable?user=adam\"")
    );
    // "Users" in the navigation, marked as the page shown.
    assert!(
        page.body
            .contains("<a href=\"/admin/users\" aria-current=\"page\">Users</a>")
    );

    // A responder sees the requests only (no user list, no add form), and
    // may approve one another responder asked for.
    let ron = app.browser("ron").await;
    let page = app.get("/admin/users", &ron).await;
    assert!(!page.body.contains("id=\"users-title\""));
    assert!(!page.body.contains("id=\"add-title\""));
    assert!(page.body.contains("Need-to-know roles"));
    let mut actions = page.actions();
    actions.sort();
    assert_eq!(
        actions,
        [
            "/admin/users/grants".to_owned(),
            format!("/admin/users/grants/{grant}/approve"),
            format!("/admin/users/grants/{grant}/reject"),
        ]
    );

    // An ingest account never signs in, so the page sends it to sign in.
    let mut shipper = Browser::default();
    let page = app.sign_in(&mut shipper, "shipper", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let page = app.get("/admin/users", &shipper).await;
    assert_eq!(page.location(), Some("/login"));
}

#[tokio::test]
async fn a_post_by_a_role_that_may_not_changes_nothing() {
    let app = app().await;
    let grant = pending_grant(&app).await;
    // (who, the forms refused to them: by path prefix)
    let refused: [(&str, &[&str]); 4] = [
        (
            "alice",
            &[
                "/admin/users",
                "/admin/users/disable",
                "/admin/users/role",
                "/admin/users/grants",
                "approve",
                "reject",
            ],
        ),
        (
            "fran",
            &[
                "/admin/users",
                "/admin/users/disable",
                "/admin/users/role",
                "/admin/users/grants",
                "approve",
                "reject",
            ],
        ),
        (
            "ron",
            &["/admin/users", "/admin/users/disable", "/admin/users/role"],
        ),
        ("adam", &["approve"]),
    ];
    for (name, forms) in refused {
        let (b, csrf) = app.session(name).await;
        for (path, fields) in every_form(&grant) {
            let kind = if path.ends_with("/approve") {
                "approve"
            } else if path.ends_with("/reject") {
                "reject"
            } else {
                path.as_str()
            };
            if !forms.contains(&kind) {
                continue;
            }
            let before = app.snapshot().await;
            let page = app.post(&path, &b, &csrf, &fields).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{name} {path}");
            assert!(page.body.contains("Nothing was changed."), "{name} {path}");
            assert_eq!(app.snapshot().await, before, "{name} {path}");
        }
    }
}

#[tokio::test]
async fn an_admin_adds_a_user_who_can_then_sign_in() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/admin/users", &adam).await.csrf();
    let page = app
        .post(
            "/admin/users",
            &adam,
            &csrf,
            &[
                ("name", "carol"),
                ("role", "reporter"),
                ("password", "a very long passphrase"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/admin/users?done=added&user=carol"));
    let carol = app.user("carol").await;
    assert_eq!(carol.role, Role::Reporter);
    assert!(!carol.disabled);
    let shown = app.get("/admin/users?done=added&user=carol", &adam).await;
    assert!(
        shown
            .body
            .contains("<p class=\"notice\" role=\"status\">carol was added as reporter.</p>")
    );
    assert!(
        shown
            .body
            .contains("<span class=\"user-name\">carol</span>")
    );
    // The same audit entries as the API's (and the password's).
    let audit = app.audit().await;
    let id = carol.id.to_string();
    assert!(audit.contains(&("user.create".to_owned(), "adam".to_owned(), id.clone())));
    assert!(audit.contains(&("user.password".to_owned(), "adam".to_owned(), id)));
    // Carol signs in with that password.
    let mut b = Browser::default();
    let page = app.sign_in(&mut b, "carol", "a very long passphrase").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    // Without a password, as an admin: no password, so no sign-in.
    let page = app
        .post(
            "/admin/users",
            &adam,
            &csrf,
            &[
                ("name", "dora@example.org"),
                ("role", "admin"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(
        page.location(),
        Some("/admin/users?done=added&user=dora%40example.org")
    );
    assert_eq!(app.user("dora@example.org").await.role, Role::Admin);
    let mut b = Browser::default();
    let page = app.sign_in(&mut b, "dora@example.org", "").await;
    assert_ne!(page.status, StatusCode::SEE_OTHER);
    // A done message about someone who does not exist says nothing.
    let shown = app.get("/admin/users?done=added&user=nobody", &adam).await;
    assert!(!shown.body.contains("class=\"notice\""));
}

#[tokio::test]
async fn adding_a_user_refuses_bad_values_and_keeps_what_was_typed() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/admin/users", &adam).await.csrf();
    // (fields, field with the error, its message, typed text shown again)
    let cases: &[FieldCase<'_>] = &[
        (
            &[("name", "  "), ("role", "reporter"), ("password", "")],
            "name",
            "Enter the user&#39;s name.",
            None,
        ),
        (
            &[("name", "alice"), ("role", "admin"), ("password", "")],
            "name",
            "A user named &#34;alice&#34; already exists.",
            Some("value=\"alice\""),
        ),
        (
            &[
                ("name", "dave smith"),
                ("role", "reporter"),
                ("password", ""),
            ],
            "name",
            "Name must be 1 to 64 characters of letters, digits, &#39;.&#39;, &#39;_&#39;, &#39;@&#39; or &#39;-&#39;.",
            Some("value=\"dave smith\""),
        ),
        (
            &[
                ("name", "dave"),
                ("role", "admin"),
                ("password", "too short"),
            ],
            "password",
            "Choose another password: a password needs at least 12 characters.",
            Some("value=\"dave\""),
        ),
        (
            &[("name", "dave"), ("role", "responder"), ("password", "")],
            "role",
            "Choose a role: reporter or admin.",
            Some("value=\"dave\""),
        ),
    ];
    for (fields, field, message, kept) in cases {
        let before = app.snapshot().await;
        let page = app.post("/admin/users", &adam, &csrf, fields).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}\n{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("<li><a href=\"#{field}\">{message}</a></li>")),
            "{fields:?}: the summary links to #{field}\n{}",
            page.body
        );
        assert!(
            page.body.contains(&format!(
                "<p class=\"error\" id=\"{field}-error\">{message}</p>"
            )),
            "{fields:?}"
        );
        if let Some(kept) = kept {
            assert!(page.body.contains(kept), "{fields:?} keeps {kept}");
        }
        // A password is never sent back.
        assert!(!page.body.contains("too short"));
        assert_eq!(app.snapshot().await, before, "{fields:?}");
    }
    // The role chosen is kept too.
    let page = app
        .post(
            "/admin/users",
            &adam,
            &csrf,
            &[("name", "dave"), ("role", "admin"), ("password", "short")],
        )
        .await;
    assert!(
        page.body
            .contains("<option value=\"admin\" selected>admin</option>")
    );
    // Two errors at once are both summarised.
    let page = app
        .post(
            "/admin/users",
            &adam,
            &csrf,
            &[("name", ""), ("role", "admin"), ("password", "short")],
        )
        .await;
    assert!(page.body.contains("<a href=\"#name\">"));
    assert!(page.body.contains("<a href=\"#password\">"));
}

#[tokio::test]
async fn an_admin_disables_a_user_after_confirming() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let bob = app.browser("bob").await;
    let confirm = app.get("/admin/users/disable?user=bob", &adam).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("<h1>Disable bob?</h1>"));
    assert_eq!(confirm.actions(), ["/admin/users/disable"]);
    assert!(
        confirm
            .body
            .contains("<input type=\"hidden\" name=\"user\" value=\"bob\">")
    );
    let page = app
        .post(
            "/admin/users/disable",
            &adam,
            &confirm.csrf(),
            &[("user", "bob")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/admin/users?done=disabled&user=bob"));
    assert!(app.user("bob").await.disabled);
    let audit = app.audit().await;
    assert!(audit.contains(&(
        "user.disable".to_owned(),
        "adam".to_owned(),
        app.user("bob").await.id.to_string()
    )));
    // Bob's session ended.
    assert_eq!(app.get("/report", &bob).await.location(), Some("/login"));
    // The list says so in words.
    let page = app.get("/admin/users?done=disabled&user=bob", &adam).await;
    assert!(page.body.contains("bob was disabled"));
    let row = &page.body[page
        .body
        .find("<span class=\"user-name\">bob</span>")
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Disabled"), "{row}");
    assert!(!row.contains("/admin/users/disable"), "{row}");

    // Not yourself: the confirmation says why, and a post is refused.
    let confirm = app.get("/admin/users/disable?user=adam", &adam).await;
    assert!(confirm.body.contains("You cannot disable yourself."));
    assert!(confirm.actions().is_empty());
    let csrf = app.get("/admin/users", &adam).await.csrf();
    let before = app.snapshot().await;
    let page = app
        .post("/admin/users/disable", &adam, &csrf, &[("user", "adam")])
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body
            .contains("<li><a href=\"#users\">You cannot disable yourself.</a></li>")
    );
    assert_eq!(app.snapshot().await, before);
    // No such user: the 404 page.
    let page = app.get("/admin/users/disable?user=nobody", &adam).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = app
        .post("/admin/users/disable", &adam, &csrf, &[("user", "nobody")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn an_admin_changes_a_role_but_not_to_a_need_to_know_one() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/admin/users", &adam).await.csrf();
    let page = app
        .post(
            "/admin/users/role",
            &adam,
            &csrf,
            &[("user", "alice"), ("new_role", "admin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/admin/users?done=role&user=alice"));
    assert_eq!(app.user("alice").await.role, Role::Admin);
    assert!(app.audit().await.contains(&(
        "user.role_change".to_owned(),
        "adam".to_owned(),
        app.user("alice").await.id.to_string()
    )));
    let page = app.get("/admin/users?done=role&user=alice", &adam).await;
    assert!(page.body.contains("alice is now admin."));
    // The form of alice's row now offers reporter only.
    let row = &page.body[page
        .body
        .find("<span class=\"user-name\">alice</span>")
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<option value=\"reporter\">reporter</option>"),
        "{row}"
    );
    assert!(!row.contains("<option value=\"admin\">"), "{row}");

    // A need-to-know role is refused by the store, said next to the row.
    let before = app.snapshot().await;
    let page = app
        .post(
            "/admin/users/role",
            &adam,
            &csrf,
            &[("user", "bob"), ("new_role", "finance-ops")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let message = "The finance-ops role needs a responder&#39;s approval: ask for it under &#34;Need-to-know roles&#34;.";
    assert!(
        page.body
            .contains(&format!("<li><a href=\"#role-of-bob\">{message}</a></li>")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(
        "<p class=\"error\" id=\"role-of-bob-error\">{message}</p>"
    )));
    assert_eq!(app.snapshot().await, before);
    // A role that does not exist.
    let page = app
        .post(
            "/admin/users/role",
            &adam,
            &csrf,
            &[("user", "bob"), ("new_role", "root")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Choose one of the roles offered."));
    assert_eq!(app.snapshot().await, before);
}

/// The two-person rule through the pages. The route table lets only a
/// responder approve (`POST /api/v1/role-grants/{id}/approve`), and the
/// store refuses the one who asked: so an admin asks and a responder
/// approves; a responder who asks cannot approve their own request, and a
/// second responder does.
#[tokio::test]
async fn a_need_to_know_role_takes_two_people() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let rita = app.browser("rita").await;
    let ron = app.browser("ron").await;
    let adam_csrf = app.get("/admin/users", &adam).await.csrf();
    let rita_csrf = app.get("/admin/users", &rita).await.csrf();
    let ron_csrf = app.get("/admin/users", &ron).await.csrf();

    // Adam (admin) asks for bob to become finance-ops.
    let page = app
        .post(
            "/admin/users/grants",
            &adam,
            &adam_csrf,
            &[("grant_user", "bob"), ("grant_role", "finance-ops")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        Some("/admin/users?done=requested&user=bob")
    );
    let adams = app.grant_id("bob", Role::FinanceOps).await;
    let page = app.get("/admin/users?done=requested&user=bob", &adam).await;
    assert!(
        page.body
            .contains("The request for bob waits for a responder&#39;s approval.")
    );
    let pending = &page.body[page.body.find("id=\"pending-grants\"").unwrap()..];
    assert!(
        pending.contains(
            "<th scope=\"row\">bob</th>\n      <td>finance-ops</td>\n      <td>adam</td>"
        ),
        "{pending}"
    );
    // Adam may not approve at all (no button; a post is refused).
    assert!(!page.body.contains("/approve"));
    let page = app
        .post(
            &format!("/admin/users/grants/{adams}/approve"),
            &adam,
            &adam_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.user("bob").await.role, Role::Reporter);
    // Asking twice: refused, said next to the field, what was typed kept.
    let page = app
        .post(
            "/admin/users/grants",
            &adam,
            &adam_csrf,
            &[("grant_user", "bob"), ("grant_role", "finance-ops")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains(
        "<p class=\"error\" id=\"grant-user-error\">A request to make bob finance-ops is already pending.</p>"
    ));
    assert!(page.body.contains("id=\"grant-user\" name=\"grant_user\" type=\"text\" maxlength=\"200\" autocomplete=\"off\" spellcheck=\"false\" value=\"bob\""));
    // No such user, and no role chosen.
    let page = app
        .post(
            "/admin/users/grants",
            &adam,
            &adam_csrf,
            &[("grant_user", "nobody"), ("grant_role", "admin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("<a href=\"#grant-user\">There is no user called nobody.</a>")
    );
    assert!(page.body.contains(
        "<a href=\"#grant-role\">Choose the role to ask for: responder or finance-ops.</a>"
    ));

    // Rita (responder) asks for alice to become a responder; her own
    // approval is refused by the store, in words, and nothing changes.
    let page = app
        .post(
            "/admin/users/grants",
            &rita,
            &rita_csrf,
            &[("grant_user", "alice"), ("grant_role", "responder")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let ritas = app.grant_id("alice", Role::Responder).await;
    let page = app.get("/admin/users", &rita).await;
    assert!(
        !page
            .body
            .contains(&format!("/admin/users/grants/{ritas}/approve"))
    );
    assert!(
        page.body
            .contains("You asked for it: another responder approves.")
    );
    // ... but she may approve adam's.
    assert!(
        page.body
            .contains(&format!("/admin/users/grants/{adams}/approve"))
    );
    let before = app.snapshot().await;
    let page = app
        .post(
            &format!("/admin/users/grants/{ritas}/approve"),
            &rita,
            &rita_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let message = "You cannot approve this request. A second person approves: not the one who asked, nor the user.";
    assert!(
        page.body.contains(&format!(
            "<p class=\"error\" id=\"grants-error\">{message}</p>"
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("<li><a href=\"#pending\">{message}</a></li>"))
    );
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.user("alice").await.role, Role::Reporter);

    // Ron approves rita's request: alice is a responder.
    let alice = app.browser("alice").await;
    let page = app
        .post(
            &format!("/admin/users/grants/{ritas}/approve"),
            &ron,
            &ron_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        Some("/admin/users?done=approved&user=alice")
    );
    assert_eq!(app.user("alice").await.role, Role::Responder);
    // Her old session ended with the old role.
    assert_eq!(app.get("/report", &alice).await.location(), Some("/login"));
    let page = app.get("/admin/users?done=approved&user=alice", &ron).await;
    assert!(page.body.contains("alice is now responder."));
    let decided = &page.body[page.body.find("id=\"decided-grants\"").unwrap()..];
    assert!(
        decided.contains("<th scope=\"row\">alice</th>\n      <td>responder</td>\n      <td>Approved</td>\n      <td>rita</td>\n      <td>ron</td>"),
        "{decided}"
    );
    // And rita approves adam's: bob is finance-ops.
    let page = app
        .post(
            &format!("/admin/users/grants/{adams}/approve"),
            &rita,
            &rita_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(app.user("bob").await.role, Role::FinanceOps);
    // Deciding twice: refused in words.
    let page = app
        .post(
            &format!("/admin/users/grants/{adams}/approve"),
            &ron,
            &ron_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body
            .contains("This request cannot be approved: the grant is already approved.")
    );
    // The audit log holds both, by their approvers.
    let audit = app.audit().await;
    let alice_id = app.user("alice").await.id.to_string();
    let bob_id = app.user("bob").await.id.to_string();
    for entry in [
        ("user.role_request", "rita", &alice_id),
        ("user.role_grant", "ron", &alice_id),
        ("user.role_request", "adam", &bob_id),
        ("user.role_grant", "rita", &bob_id),
    ] {
        assert!(
            audit.contains(&(entry.0.to_owned(), entry.1.to_owned(), entry.2.clone())),
            "{entry:?} in {audit:?}"
        );
    }

    // Adam asks again, for fran's role to go to ada; adam rejects it.
    let page = app
        .post(
            "/admin/users/grants",
            &adam,
            &adam_csrf,
            &[("grant_user", "ada"), ("grant_role", "finance-ops")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let adas = app.grant_id("ada", Role::FinanceOps).await;
    let page = app
        .post(
            &format!("/admin/users/grants/{adas}/reject"),
            &adam,
            &adam_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/admin/users?done=rejected&user=ada"));
    assert_eq!(app.user("ada").await.role, Role::Admin);
    let grant = app
        .grants()
        .await
        .into_iter()
        .find(|g| g.id.to_string() == adas)
        .unwrap();
    assert_eq!(grant.status, GrantStatus::Rejected);
    // An unknown grant: the 404 page.
    let page = app
        .post(
            &format!("/admin/users/grants/{NO_SUCH_ID}/reject"),
            &adam,
            &adam_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn forms_without_the_token_or_from_another_site_change_nothing() {
    let app = app().await;
    let grant = pending_grant(&app).await;
    let adam = app.browser("adam").await;
    let ron = app.browser("ron").await;
    let adam_csrf = app.get("/admin/users", &adam).await.csrf();
    let ron_csrf = app.get("/admin/users", &ron).await.csrf();
    let wrong = "0".repeat(64);
    for (path, fields) in every_form(&grant) {
        // Approving is a responder's; the rest an admin's.
        let (b, csrf) = if path.ends_with("/approve") {
            (&ron, &ron_csrf)
        } else {
            (&adam, &adam_csrf)
        };
        let with = |token: &str| {
            let mut all = vec![("csrf", token.to_owned())];
            all.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
            all
        };
        let attempts: Vec<Attempt<'_>> = vec![
            (with(""), Some(ORIGIN)),
            (
                fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
                Some(ORIGIN),
            ),
            (with(&wrong), Some(ORIGIN)),
            (with(csrf), Some("http://evil.example")),
        ];
        for (n, (form, origin)) in attempts.into_iter().enumerate() {
            let before = app.snapshot().await;
            let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = app.send("POST", &path, b, Some(&fields), origin).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} attempt {n}");
            assert_eq!(app.snapshot().await, before, "{path} attempt {n}");
        }
    }
    // With the token, from this site, the same forms work (the approval
    // last but one, so the reject finds the grant decided).
    let page = app
        .post(
            "/admin/users/role",
            &adam,
            &adam_csrf,
            &[("user", "bob"), ("new_role", "admin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = app
        .post(
            &format!("/admin/users/grants/{grant}/approve"),
            &ron,
            &ron_csrf,
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn text_typed_in_the_forms_is_escaped() {
    let app = app().await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/admin/users", &adam).await.csrf();
    let payload = "<script>alert(1)</script>";
    let page = app
        .post(
            "/admin/users",
            &adam,
            &csrf,
            &[("name", payload), ("role", "reporter"), ("password", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!page.body.contains(payload));
    assert!(
        page.body
            .contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\"")
    );
    let page = app
        .post(
            "/admin/users/grants",
            &adam,
            &csrf,
            &[("grant_user", payload), ("grant_role", "responder")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!page.body.contains(payload));
    assert!(
        page.body
            .contains("There is no user called &#60;script&#62;alert(1)&#60;/script&#62;.")
    );
    // A done message naming the payload says nothing.
    let page = app
        .get(
            "/admin/users?done=added&user=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            &adam,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(payload));
    assert!(!page.body.contains("class=\"notice\""));
    let page = app
        .get("/admin/users/disable?user=%3Cscript%3E", &adam)
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("<script>"));
    assert_eq!(app.users().await.len(), USERS.len());
}
