//! "I didn't do this" checks on both databases: created once per alert,
//! found by the token's hash while unanswered and unexpired, answered
//! once, and only by the system viewer.

use watchpost_incidents as incidents;

mod common;

use std::collections::BTreeMap;

use common::{Ctx, user};
use incidents::*;
use time::{Duration, OffsetDateTime, macros::datetime};

fn reset_alert() -> NewAlert {
    NewAlert {
        rule_id: "okta-password-reset".into(),
        rule_title: "Okta password reset".into(),
        level: AlertLevel::Medium,
        entities: BTreeMap::from([("user".to_owned(), "alice@example.com".to_owned())]),
        evidence: vec![],
        policy: Some("password_reset".into()),
        detected_at: datetime!(2026-03-01 10:00 UTC),
        key: None,
        queue_only: false,
        group: None,
    }
}

fn new_check(alert: AlertId, token: &str, created: OffsetDateTime) -> NewUserCheck {
    NewUserCheck {
        alert,
        address: "alice@example.com".into(),
        token_hash: TokenHash::of(token),
        created_at: created,
        expires_at: created + Duration::days(7),
    }
}

mod cases {
    use super::*;

    pub async fn a_check_is_found_by_its_token_and_answered_once(ctx: &Ctx) {
        let s = ctx.store.as_ref();
        let sys = Viewer::system();
        let alert = s.ingest_alert(&sys, reset_alert()).await.unwrap().alert_id;
        let created = datetime!(2026-03-01 10:01 UTC);
        let check = s
            .create_user_check(&sys, new_check(alert, "tok-1", created))
            .await
            .unwrap();
        assert_eq!(check.alert, alert);
        assert_eq!(check.address, "alice@example.com");
        assert_eq!(check.expires_at, datetime!(2026-03-08 10:01 UTC));
        assert_eq!(check.answer, None);

        let at = datetime!(2026-03-02 09:00 UTC);
        let found = s
            .find_user_check(&sys, TokenHash::of("tok-1"), at)
            .await
            .unwrap()
            .expect("found by its token");
        assert_eq!(found, check);
        assert_eq!(
            s.find_user_check(&sys, TokenHash::of("tok-2"), at)
                .await
                .unwrap(),
            None,
            "another token finds nothing"
        );

        let answered = s
            .answer_user_check(&sys, TokenHash::of("tok-1"), CheckAnswer::NotMine, at)
            .await
            .unwrap();
        assert_eq!(answered.answer, Some(CheckAnswer::NotMine));
        assert_eq!(answered.used_at, Some(at));
        assert_eq!(
            s.find_user_check(&sys, TokenHash::of("tok-1"), at)
                .await
                .unwrap(),
            None,
            "an answered check is not found again"
        );
        let again = s
            .answer_user_check(&sys, TokenHash::of("tok-1"), CheckAnswer::Mine, at)
            .await;
        assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");

        // One check per alert.
        let second = s
            .create_user_check(&sys, new_check(alert, "tok-3", created))
            .await;
        assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    }

    pub async fn an_expired_check_is_neither_found_nor_answered(ctx: &Ctx) {
        let s = ctx.store.as_ref();
        let sys = Viewer::system();
        let alert = s.ingest_alert(&sys, reset_alert()).await.unwrap().alert_id;
        let created = datetime!(2026-03-01 10:01 UTC);
        s.create_user_check(&sys, new_check(alert, "tok-old", created))
            .await
            .unwrap();
        let last = datetime!(2026-03-08 10:00:59 UTC);
        assert!(
            s.find_user_check(&sys, TokenHash::of("tok-old"), last)
                .await
                .unwrap()
                .is_some()
        );
        let expiry = datetime!(2026-03-08 10:01 UTC);
        assert_eq!(
            s.find_user_check(&sys, TokenHash::of("tok-old"), expiry)
                .await
                .unwrap(),
            None
        );
        let answer = s
            .answer_user_check(&sys, TokenHash::of("tok-old"), CheckAnswer::Mine, expiry)
            .await;
        assert!(matches!(answer, Err(StoreError::NotFound(_))), "{answer:?}");
    }

    pub async fn only_the_system_handles_checks(ctx: &Ctx) {
        let s = ctx.store.as_ref();
        let sys = Viewer::system();
        let alert = s.ingest_alert(&sys, reset_alert()).await.unwrap().alert_id;
        let admin = user(s, "ada", Role::Admin).await;
        let admin = Viewer::new(admin.id, admin.role);
        let created = datetime!(2026-03-01 10:01 UTC);
        let made = s
            .create_user_check(&admin, new_check(alert, "tok-a", created))
            .await;
        assert!(matches!(made, Err(StoreError::Forbidden(_))), "{made:?}");
        s.create_user_check(&sys, new_check(alert, "tok-a", created))
            .await
            .unwrap();
        let at = datetime!(2026-03-02 09:00 UTC);
        let found = s.find_user_check(&admin, TokenHash::of("tok-a"), at).await;
        assert!(matches!(found, Err(StoreError::Forbidden(_))), "{found:?}");
        let answered = s
            .answer_user_check(&admin, TokenHash::of("tok-a"), CheckAnswer::Mine, at)
            .await;
        assert!(
            matches!(answered, Err(StoreError::Forbidden(_))),
            "{answered:?}"
        );
        // A check for an alert that does not exist is refused.
        let missing = s
            .create_user_check(&sys, new_check(AlertId::new(), "tok-b", created))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }
}

on_both_databases!(
    a_check_is_found_by_its_token_and_answered_once,
    an_expired_check_is_neither_found_nor_answered,
    only_the_system_handles_checks,
);
