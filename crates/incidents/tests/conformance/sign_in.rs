//! Conformance cases for signing in to the web pages: local passwords
//! (`set_password`, `password_login`) and browser sessions
//! (`create_session`, `session`, `delete_session`), on both databases.
//! Session times are fixed (from [`T0`]) and passed in, as the web layer
//! passes its clock; expected values are written out here.

use super::common::{self, Ctx, cast, user};
use super::incidents::{self, *};
use super::{all_audit, raw_count, sys};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// When the test sessions start: 2030-01-01T00:00:00Z, which is
/// 1_893_456_000_000_000 unix microseconds.
const T0: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

/// Argon2id PHC strings as the web layer would store them (made once with
/// the `argon2` crate's defaults; the store never checks them).
const HASH_1: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$b25lb25lb25lb25l$0M2hQ8xXh9bUrWl7+7m3W3d9kDj4b6Qm3Zl0yW1z8tE";
const HASH_2: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dHdvdHdvdHdvdHdv$V1o9c2nK3fH6pQ2rT8uY5wX0zA4bC7dE1gH9jK2lM6s";
const HASH_3: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dGhyZWV0aHJlZXRo$Pq7Rs3Tu9Vw1Xy5Za2Bc8De4Fg0Hi6Jk3Lm9No1Pq5r";

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

/// A session of `user` whose id is `id`, started at `T0 + start` and
/// lasting `ttl`.
fn new_session(user: UserId, id: &str, csrf: &str, start: Duration, ttl: Duration) -> NewSession {
    NewSession {
        user,
        id_hash: TokenHash::of(id),
        csrf: csrf.into(),
        created_at: T0 + start,
        expires_at: T0 + start + ttl,
    }
}

/// The CSRF token of session `id` at `T0 + at` with an idle limit, if the
/// session is alive.
async fn csrf_at(
    s: &dyn Store,
    id: &str,
    at: Duration,
    idle: std::time::Duration,
) -> Option<String> {
    s.session(TokenHash::of(id), T0 + at, idle)
        .await
        .unwrap()
        .map(|(_, _, csrf)| csrf)
}

/// Stored rows of session `id` (0 or 1).
async fn stored(ctx: &Ctx, id: &str) -> i64 {
    raw_count(
        ctx,
        &format!(
            "SELECT COUNT(*) FROM sessions WHERE id_hash = '{}'",
            TokenHash::of(id).to_hex()
        ),
    )
    .await
}

/// The stored `last_seen` of session `id`, in unix microseconds.
async fn last_seen(ctx: &Ctx, id: &str) -> i64 {
    raw_count(
        ctx,
        &format!(
            "SELECT last_seen FROM sessions WHERE id_hash = '{}'",
            TokenHash::of(id).to_hex()
        ),
    )
    .await
}

mod cases {
    use super::*;

    pub async fn passwords_sign_in_only_enabled_people(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let alice = c.reporter_a.user_id;
        // No one has a password to begin with.
        assert_eq!(s.password_login("alice").await.unwrap(), None);

        s.set_password(&sys(), alice, Some(HASH_1.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("alice").await.unwrap(),
            Some((alice, HASH_1.to_owned()))
        );
        // The stored column holds exactly the hash given.
        let pool = ctx.raw().await;
        let (h,): (String,) =
            sqlx::query_as("SELECT password_hash FROM users WHERE name = 'alice'")
                .fetch_one(&pool)
                .await
                .unwrap();
        pool.close().await;
        assert_eq!(h, HASH_1);
        // A new hash replaces it; clearing leaves none.
        s.set_password(&c.reporter_a, alice, Some(HASH_2.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("alice").await.unwrap(),
            Some((alice, HASH_2.to_owned()))
        );
        s.set_password(&c.reporter_a, alice, None).await.unwrap();
        assert_eq!(s.password_login("alice").await.unwrap(), None);

        // A disabled user signs in with nothing, until enabled again.
        let bob = c.reporter_b.user_id;
        s.set_password(&sys(), bob, Some(HASH_3.into()))
            .await
            .unwrap();
        s.set_user_disabled(&c.admin, bob, true).await.unwrap();
        assert_eq!(s.password_login("bob").await.unwrap(), None);
        s.set_user_disabled(&c.admin, bob, false).await.unwrap();
        assert_eq!(
            s.password_login("bob").await.unwrap(),
            Some((bob, HASH_3.to_owned()))
        );

        // An ingest account never signs in to pages, even with a password.
        let shipper = user(s, "shipper", Role::Ingest).await;
        s.set_password(&sys(), shipper.id, Some(HASH_1.into()))
            .await
            .unwrap();
        assert_eq!(s.password_login("shipper").await.unwrap(), None);

        // Unknown and malformed names.
        for name in ["nobody", "", "Bob", "bob ", "bad name!"] {
            assert_eq!(s.password_login(name).await.unwrap(), None, "{name:?}");
        }

        // A hash that is not a PHC string is refused, and the error does
        // not quote it; the stored hash is unchanged.
        for bad in ["hunter2", "", "$argon2id$with space"] {
            match s.set_password(&sys(), bob, Some(bad.into())).await {
                Err(StoreError::Invalid(m)) => assert!(bad.is_empty() || !m.contains(bad), "{m}"),
                other => panic!("{bad:?}: expected Invalid, got {other:?}"),
            }
        }
        assert_eq!(
            s.password_login("bob").await.unwrap(),
            Some((bob, HASH_3.to_owned()))
        );

        // The hash is in no user as read or shown.
        let b = s.get_user(&c.admin, bob).await.unwrap();
        for shown in [
            format!("{b:?}"),
            serde_json::to_string(&b).unwrap(),
            format!("{:?}", s.list_users(&c.admin).await.unwrap()),
        ] {
            assert!(!shown.contains("argon2"), "{shown}");
            assert!(!shown.contains("dGhyZWV0aHJlZXRo"), "{shown}");
        }
    }

    pub async fn who_may_set_a_password(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let alice = c.reporter_a.user_id;
        let sam = c.responder.user_id;
        let shipper = user(s, "shipper", Role::Ingest).await;
        let ingest = Viewer::new(shipper.id, Role::Ingest);

        // The system viewer, an admin, and the user themselves.
        s.set_password(&sys(), alice, Some(HASH_1.into()))
            .await
            .unwrap();
        s.set_password(&c.admin, alice, Some(HASH_2.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("alice").await.unwrap(),
            Some((alice, HASH_2.to_owned()))
        );
        s.set_password(&c.reporter_a, alice, Some(HASH_3.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("alice").await.unwrap(),
            Some((alice, HASH_3.to_owned()))
        );

        // Another reporter cannot see alice: not found. A responder sees
        // her but may not: forbidden. Finance-ops sees only themselves.
        assert!(matches!(
            s.set_password(&c.reporter_b, alice, Some(HASH_1.into()))
                .await,
            Err(StoreError::NotFound("user"))
        ));
        assert!(matches!(
            s.set_password(&c.reporter_b, alice, None).await,
            Err(StoreError::NotFound("user"))
        ));
        assert!(matches!(
            s.set_password(&c.responder, alice, Some(HASH_1.into()))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.set_password(&c.finance, alice, Some(HASH_1.into())).await,
            Err(StoreError::NotFound("user"))
        ));
        // An ingest token changes nothing, not even its own.
        for target in [alice, shipper.id] {
            assert!(matches!(
                s.set_password(&ingest, target, Some(HASH_1.into())).await,
                Err(StoreError::Forbidden(_))
            ));
        }
        // Unknown users are not found, even for an admin.
        assert!(matches!(
            s.set_password(&c.admin, UserId::new(), Some(HASH_1.into()))
                .await,
            Err(StoreError::NotFound("user"))
        ));
        // None of the refusals changed alice's hash.
        assert_eq!(
            s.password_login("alice").await.unwrap(),
            Some((alice, HASH_3.to_owned()))
        );

        // A responder's password: set by the responder or on the server
        // host, never by an admin (who could then sign in as them), though
        // an admin may clear it.
        assert!(matches!(
            s.set_password(&c.admin, sam, Some(HASH_1.into())).await,
            Err(StoreError::Forbidden(_))
        ));
        assert_eq!(s.password_login("sam").await.unwrap(), None);
        s.set_password(&c.responder, sam, Some(HASH_1.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("sam").await.unwrap(),
            Some((sam, HASH_1.to_owned()))
        );
        s.set_password(&c.admin, sam, None).await.unwrap();
        assert_eq!(s.password_login("sam").await.unwrap(), None);
        s.set_password(&sys(), sam, Some(HASH_2.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("sam").await.unwrap(),
            Some((sam, HASH_2.to_owned()))
        );
        // The same for finance-ops.
        assert!(matches!(
            s.set_password(&c.admin, c.finance.user_id, Some(HASH_1.into()))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        s.set_password(&c.finance, c.finance.user_id, Some(HASH_3.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("fran").await.unwrap(),
            Some((c.finance.user_id, HASH_3.to_owned()))
        );
        // An admin sets another admin's, as with tokens.
        let other = user(s, "otto", Role::Admin).await;
        s.set_password(&c.admin, other.id, Some(HASH_1.into()))
            .await
            .unwrap();
        assert_eq!(
            s.password_login("otto").await.unwrap(),
            Some((other.id, HASH_1.to_owned()))
        );
    }

    pub async fn sessions_resolve_expire_and_idle(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let alice = c.reporter_a.user_id;
        let m = Duration::minutes;
        let sec = Duration::seconds;

        // A session resolves to its user, their viewer and its CSRF token.
        s.create_session(new_session(
            alice,
            "sid-one",
            "csrf-one",
            sec(0),
            Duration::hours(8),
        ))
        .await
        .unwrap();
        let (u, v, csrf) = s
            .session(TokenHash::of("sid-one"), T0 + sec(1), secs(1800))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.id, alice);
        assert_eq!(v, c.reporter_a);
        assert_eq!(csrf, "csrf-one");
        // Only the hash of the id is stored, never the id.
        let pool = ctx.raw().await;
        let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id_hash, user_id, csrf, created_at, expires_at, last_seen FROM sessions",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        assert_eq!(
            rows,
            [(
                TokenHash::of("sid-one").to_hex(),
                alice.to_string(),
                "csrf-one".to_owned(),
                1_893_456_000_000_000,
                1_893_484_800_000_000,
                1_893_456_000_000_000,
            )]
        );
        // Unknown ids resolve to nobody.
        assert!(
            s.session(TokenHash::of("sid-unknown"), T0, secs(1800))
                .await
                .unwrap()
                .is_none()
        );

        // Expiry: alive a second before expires_at, gone a second after
        // (however recently used), and the row is deleted.
        s.create_session(new_session(
            alice,
            "sid-short",
            "csrf-short",
            sec(0),
            Duration::hours(1),
        ))
        .await
        .unwrap();
        assert_eq!(
            csrf_at(s, "sid-short", m(59) + sec(59), secs(7200))
                .await
                .as_deref(),
            Some("csrf-short")
        );
        assert_eq!(
            csrf_at(s, "sid-short", m(60) + sec(1), secs(7200)).await,
            None
        );
        assert_eq!(stored(ctx, "sid-short").await, 0);
        // Deleted, so not alive again at an earlier time either.
        assert_eq!(csrf_at(s, "sid-short", m(30), secs(7200)).await, None);

        // Idle: alive when idle for exactly the limit (which moves
        // last_seen), and gone when idle for longer; the row is deleted.
        s.create_session(new_session(
            alice,
            "sid-idle",
            "csrf-idle",
            sec(0),
            Duration::hours(8),
        ))
        .await
        .unwrap();
        assert_eq!(
            csrf_at(s, "sid-idle", m(10), secs(600)).await.as_deref(),
            Some("csrf-idle")
        );
        assert_eq!(last_seen(ctx, "sid-idle").await, 1_893_456_600_000_000);
        // 20 minutes after the start, but 10 since last seen: alive.
        assert_eq!(
            csrf_at(s, "sid-idle", m(20), secs(600)).await.as_deref(),
            Some("csrf-idle")
        );
        assert_eq!(last_seen(ctx, "sid-idle").await, 1_893_457_200_000_000);
        assert_eq!(
            csrf_at(s, "sid-idle", m(30) + sec(1), secs(600)).await,
            None
        );
        assert_eq!(stored(ctx, "sid-idle").await, 0);
        assert_eq!(csrf_at(s, "sid-idle", m(21), secs(600)).await, None);

        // last_seen stays when at most 60 s old: seen at +30 s, the session
        // is idle 70 s at +70 s, longer than 45 s. (If +30 s had moved it,
        // it would be idle 40 s and alive.)
        s.create_session(new_session(
            alice,
            "sid-still",
            "csrf-still",
            sec(0),
            Duration::hours(8),
        ))
        .await
        .unwrap();
        assert_eq!(
            csrf_at(s, "sid-still", sec(30), secs(45)).await.as_deref(),
            Some("csrf-still")
        );
        assert_eq!(last_seen(ctx, "sid-still").await, 1_893_456_000_000_000);
        assert_eq!(csrf_at(s, "sid-still", sec(70), secs(45)).await, None);
        assert_eq!(stored(ctx, "sid-still").await, 0);

        // ...and moves when more than 60 s old: seen at +61 s, the session
        // is idle 100 s at +161 s, within 120 s. (Had +61 s not moved it,
        // it would be idle 161 s and gone.)
        s.create_session(new_session(
            alice,
            "sid-moves",
            "csrf-moves",
            sec(0),
            Duration::hours(8),
        ))
        .await
        .unwrap();
        assert_eq!(
            csrf_at(s, "sid-moves", sec(61), secs(120)).await.as_deref(),
            Some("csrf-moves")
        );
        assert_eq!(last_seen(ctx, "sid-moves").await, 1_893_456_061_000_000);
        assert_eq!(
            csrf_at(s, "sid-moves", sec(161), secs(120))
                .await
                .as_deref(),
            Some("csrf-moves")
        );
        assert_eq!(last_seen(ctx, "sid-moves").await, 1_893_456_161_000_000);
        // A request 60 s after that (not more) leaves it.
        assert_eq!(
            csrf_at(s, "sid-moves", sec(221), secs(120))
                .await
                .as_deref(),
            Some("csrf-moves")
        );
        assert_eq!(last_seen(ctx, "sid-moves").await, 1_893_456_161_000_000);

        // Sign-out ends one session; an unknown one is fine.
        s.delete_session(TokenHash::of("sid-one")).await.unwrap();
        assert_eq!(csrf_at(s, "sid-one", sec(2), secs(1800)).await, None);
        assert_eq!(stored(ctx, "sid-one").await, 0);
        s.delete_session(TokenHash::of("sid-one")).await.unwrap();
        s.delete_session(TokenHash::of("sid-never")).await.unwrap();
        assert_eq!(
            csrf_at(s, "sid-moves", sec(222), secs(120))
                .await
                .as_deref(),
            Some("csrf-moves")
        );

        // Refused: unknown, disabled and ingest users; bad times and
        // tokens; an id already in use. None of them stores a row.
        let before = raw_count(ctx, "SELECT COUNT(*) FROM sessions").await;
        assert_eq!(before, 1);
        assert!(matches!(
            s.create_session(new_session(UserId::new(), "sid-x1", "c", sec(0), m(5)))
                .await,
            Err(StoreError::NotFound("user"))
        ));
        s.set_user_disabled(&c.admin, c.reporter_b.user_id, true)
            .await
            .unwrap();
        assert!(matches!(
            s.create_session(new_session(
                c.reporter_b.user_id,
                "sid-x2",
                "c",
                sec(0),
                m(5)
            ))
            .await,
            Err(StoreError::Forbidden(_))
        ));
        let shipper = user(s, "shipper", Role::Ingest).await;
        assert!(matches!(
            s.create_session(new_session(shipper.id, "sid-x3", "c", sec(0), m(5)))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        for ttl in [sec(0), sec(-1)] {
            assert!(matches!(
                s.create_session(new_session(alice, "sid-x4", "c", sec(0), ttl))
                    .await,
                Err(StoreError::Invalid(_))
            ));
        }
        for csrf in [String::new(), "c".repeat(257)] {
            assert!(matches!(
                s.create_session(new_session(alice, "sid-x5", &csrf, sec(0), m(5)))
                    .await,
                Err(StoreError::Invalid(_))
            ));
        }
        assert!(matches!(
            s.create_session(new_session(alice, "sid-moves", "other", sec(0), m(5)))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM sessions").await, 1);
        assert_eq!(
            csrf_at(s, "sid-moves", sec(223), secs(120))
                .await
                .as_deref(),
            Some("csrf-moves")
        );

        // A new session clears the user's sessions that had expired when
        // it starts, and no others.
        s.create_session(new_session(alice, "sid-old", "csrf-old", sec(0), m(1)))
            .await
            .unwrap();
        s.create_session(new_session(alice, "sid-new", "csrf-new", m(2), m(5)))
            .await
            .unwrap();
        assert_eq!(stored(ctx, "sid-old").await, 0);
        assert_eq!(stored(ctx, "sid-moves").await, 1);
        assert_eq!(stored(ctx, "sid-new").await, 1);
    }

    pub async fn password_role_and_disable_end_sessions(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let alice = c.reporter_a.user_id;
        let bob = c.reporter_b.user_id;
        let day = Duration::days(1);
        let start = |u, id: &str| new_session(u, id, "csrf", Duration::ZERO, day);
        let alive = |id: &'static str| async move {
            csrf_at(s, id, Duration::seconds(5), secs(3600))
                .await
                .is_some()
        };
        let alice_rows = format!("SELECT COUNT(*) FROM sessions WHERE user_id = '{alice}'");

        // A password change ends every session of the user, and only theirs.
        for id in ["a1", "a2"] {
            s.create_session(start(alice, id)).await.unwrap();
        }
        s.create_session(start(bob, "b1")).await.unwrap();
        assert!(alive("a1").await && alive("a2").await && alive("b1").await);
        s.set_password(&c.reporter_a, alice, Some(HASH_1.into()))
            .await
            .unwrap();
        assert!(!alive("a1").await);
        assert!(!alive("a2").await);
        assert_eq!(raw_count(ctx, &alice_rows).await, 0);
        assert!(alive("b1").await);
        // So does clearing it.
        s.create_session(start(alice, "a3")).await.unwrap();
        s.set_password(&c.admin, alice, None).await.unwrap();
        assert!(!alive("a3").await);

        // Disabling ends them (deleted, not hidden: enabling again brings
        // none back); enabling ends none.
        s.create_session(start(alice, "a4")).await.unwrap();
        s.set_user_disabled(&c.admin, alice, true).await.unwrap();
        assert_eq!(raw_count(ctx, &alice_rows).await, 0);
        s.set_user_disabled(&c.admin, alice, false).await.unwrap();
        assert!(!alive("a4").await);
        s.create_session(start(alice, "a5")).await.unwrap();
        s.set_user_disabled(&c.admin, alice, false).await.unwrap();
        assert!(alive("a5").await);

        // A role change ends them; setting the same role again is no
        // change and ends none.
        s.set_user_role(&c.admin, alice, Role::Admin).await.unwrap();
        assert!(!alive("a5").await);
        assert_eq!(raw_count(ctx, &alice_rows).await, 0);
        s.create_session(start(alice, "a6")).await.unwrap();
        let (u, v, _) = s
            .session(TokenHash::of("a6"), T0, secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((u.role, v.role), (Role::Admin, Role::Admin));
        s.set_user_role(&c.admin, alice, Role::Admin).await.unwrap();
        assert!(alive("a6").await);

        // So does a role given by an approved grant.
        let grant = s
            .request_role(&c.admin, bob, Role::Responder)
            .await
            .unwrap();
        assert!(alive("b1").await);
        s.approve_role(&c.responder, grant.id, TokenHash::of("wp_granted"))
            .await
            .unwrap();
        assert!(!alive("b1").await);
        assert!(alive("a6").await);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM sessions").await, 1);
    }

    pub async fn sign_in_is_audited_without_secrets(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let alice = c.reporter_a.user_id;
        s.set_password(&sys(), alice, Some(HASH_1.into()))
            .await
            .unwrap();
        s.create_session(new_session(
            alice,
            "sid-audited",
            "csrf-audited-9f8e7d",
            Duration::ZERO,
            Duration::hours(8),
        ))
        .await
        .unwrap();
        s.set_password(&c.reporter_a, alice, Some(HASH_2.into()))
            .await
            .unwrap();
        s.set_password(&c.admin, alice, None).await.unwrap();
        // Resolving, moving last_seen and signing out are not audited.
        s.create_session(new_session(
            alice,
            "sid-quiet",
            "csrf-quiet",
            Duration::ZERO,
            Duration::hours(8),
        ))
        .await
        .unwrap();
        let quiet = all_audit(s, &sys()).await.len();
        assert!(
            s.session(
                TokenHash::of("sid-quiet"),
                T0 + Duration::minutes(5),
                secs(3600)
            )
            .await
            .unwrap()
            .is_some()
        );
        s.delete_session(TokenHash::of("sid-quiet")).await.unwrap();
        assert_eq!(all_audit(s, &sys()).await.len(), quiet);

        let entries = all_audit(s, &sys()).await;
        let ours: Vec<_> = entries
            .iter()
            .filter(|e| e.action == "user.password" || e.action.starts_with("session."))
            .collect();
        let summary: Vec<(&str, &str, UserId)> = ours
            .iter()
            .map(|e| (e.action.as_str(), e.entity.as_str(), e.actor))
            .collect();
        assert_eq!(
            summary,
            [
                ("user.password", "user", UserId::SYSTEM),
                ("session.create", "session", alice),
                ("user.password", "user", alice),
                ("user.password", "user", c.admin.user_id),
                ("session.create", "session", alice),
            ]
        );
        for e in &ours {
            assert_eq!(e.entity_id, alice.to_string(), "{}", e.action);
            assert_eq!(e.incident_id, None);
        }
        // What each entry says: whether there is a password, how many
        // sessions ended; for a session, whose and when.
        assert_eq!(ours[0].before["has_password"], false);
        assert_eq!(
            ours[0].after,
            serde_json::json!({ "has_password": true, "sessions_ended": 0 })
        );
        assert_eq!(ours[0].before["user"]["name"], "alice");
        assert_eq!(
            ours[1].after,
            serde_json::json!({
                "user_id": alice,
                "name": "alice",
                "created_at": "2030-01-01T00:00:00Z",
                "expires_at": "2030-01-01T08:00:00Z",
            })
        );
        assert_eq!(ours[1].before, serde_json::Value::Null);
        assert_eq!(
            ours[2].after,
            serde_json::json!({ "has_password": true, "sessions_ended": 1 })
        );
        assert_eq!(ours[3].before["has_password"], true);
        assert_eq!(
            ours[3].after,
            serde_json::json!({ "has_password": false, "sessions_ended": 0 })
        );
        // No entry anywhere holds a hash, a session id or its hash, or a
        // CSRF token.
        for e in &entries {
            let text = format!("{} {}", e.before, e.after);
            for secret in [
                "argon2",
                "b25lb25lb25lb25l",
                "dHdvdHdvdHdvdHdv",
                "sid-audited",
                "sid-quiet",
                "csrf-audited",
                "csrf-quiet",
                &TokenHash::of("sid-audited").to_hex()[..16],
                &TokenHash::of("sid-quiet").to_hex()[..16],
            ] {
                assert!(
                    !text.contains(secret),
                    "{}: {secret} in the audit",
                    e.action
                );
            }
        }
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }
}

crate::on_both_databases!(
    passwords_sign_in_only_enabled_people,
    who_may_set_a_password,
    sessions_resolve_expire_and_idle,
    password_role_and_disable_end_sessions,
    sign_in_is_audited_without_secrets,
);

/// A database made by the migrations before passwords (0001 to 0006), with
/// a user in it, opened by the store: the user is kept, has no password,
/// and may be given one and sign in.
mod existing_data {
    use std::path::Path;

    use sqlx::any::AnyPoolOptions;
    use sqlx::migrate::Migrator;
    use sqlx::{AnyPool, Executor};

    use super::*;

    const OLGA: &str = "01900000-0000-7000-8000-0000000000a1";

    async fn migrate_to_0006(url: &str, kind: &str) {
        sqlx::any::install_default_drivers();
        let pool: AnyPool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        let dir = format!("{}/migrations/{kind}", env!("CARGO_MANIFEST_DIR"));
        let migrator = Migrator::new(Path::new(&dir)).await.unwrap();
        migrator.run_to(6, &pool).await.unwrap();
        pool.execute(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (id, name, role, disabled, created_at) VALUES ('{OLGA}', 'olga', 'reporter', 0, 1700000000000000)"
        )))
        .await
        .unwrap();
        pool.close().await;
    }

    async fn case(store: &dyn Store) {
        let olga: UserId = OLGA.parse().unwrap();
        let u = store.get_user_by_name(&sys(), "olga").await.unwrap();
        assert_eq!(u.id, olga);
        assert_eq!(u.created_at, datetime!(2023-11-14 22:13:20 UTC));
        assert_eq!(store.password_login("olga").await.unwrap(), None);
        store
            .set_password(&sys(), olga, Some(HASH_1.into()))
            .await
            .unwrap();
        assert_eq!(
            store.password_login("olga").await.unwrap(),
            Some((olga, HASH_1.to_owned()))
        );
        store
            .create_session(new_session(
                olga,
                "sid-olga",
                "csrf-olga",
                Duration::ZERO,
                Duration::hours(1),
            ))
            .await
            .unwrap();
        assert_eq!(
            csrf_at(store, "sid-olga", Duration::seconds(1), secs(60))
                .await
                .as_deref(),
            Some("csrf-olga")
        );
        assert!(store.verify_audit(&sys()).await.unwrap().is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watchpost.db");
        migrate_to_0006(&format!("sqlite://{}?mode=rwc", path.display()), "sqlite").await;
        let store = incidents::open(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        case(&*store).await;
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        // A new database on the server the other PostgreSQL cases use.
        let admin = std::env::var("WATCHPOST_TEST_PG_URL")
            .expect("WATCHPOST_TEST_PG_URL: run `eval \"$(scripts/services start)\"` first");
        sqlx::any::install_default_drivers();
        let server: AnyPool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
            .unwrap();
        let db = format!("wp_test_{}", uuid::Uuid::now_v7().simple());
        server
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{db}");
        migrate_to_0006(&url, "postgres").await;
        let dir = tempfile::tempdir().unwrap();
        let store = incidents::open_with(
            &url,
            StoreOptions {
                data_dir: Some(dir.path().to_owned()),
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
        case(&*store).await;
        store.close().await;
        drop(store);
        server
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .await
            .unwrap();
        server.close().await;
    }
}
