//! The Slack thread of an incident, on SQLite and PostgreSQL: only the
//! system viewer (the notification worker) reads or writes it, and the
//! first thread recorded stays.

use watchpost_incidents as incidents;

mod common;

use common::{Ctx, cast};
use incidents::*;

mod cases {
    use super::*;

    fn new_incident() -> NewIncident {
        NewIncident {
            title: "laptop stolen".into(),
            description: "from the car".into(),
            category: Category::Theft,
            severity: Severity::Sev3,
            sensitive: false,
            occurred_at: None,
            detected_at: None,
            reported_at: None,
        }
    }

    pub async fn threads_are_kept_for_the_system_only(ctx: &Ctx) {
        let store = ctx.store.as_ref();
        let cast = cast(store).await;
        let sys = Viewer::system();
        let incident = store
            .create_incident(&cast.responder, new_incident())
            .await
            .unwrap();
        assert_eq!(store.slack_thread(&sys, incident.id).await.unwrap(), None);

        let first = SlackThread {
            channel: "C0INCIDENTS".into(),
            ts: "1700000000.000100".into(),
        };
        store
            .set_slack_thread(&sys, incident.id, &first)
            .await
            .unwrap();
        // A second record (a retried "opened" notice) changes nothing.
        let second = SlackThread {
            channel: "C0OTHER".into(),
            ts: "1700000099.000200".into(),
        };
        store
            .set_slack_thread(&sys, incident.id, &second)
            .await
            .unwrap();
        assert_eq!(
            store.slack_thread(&sys, incident.id).await.unwrap(),
            Some(SlackThread {
                channel: "C0INCIDENTS".into(),
                ts: "1700000000.000100".into(),
            })
        );

        for person in [&cast.responder, &cast.admin, &cast.reporter_a] {
            assert!(matches!(
                store.slack_thread(person, incident.id).await,
                Err(StoreError::Forbidden(_))
            ));
            assert!(matches!(
                store.set_slack_thread(person, incident.id, &second).await,
                Err(StoreError::Forbidden(_))
            ));
        }

        let empty = SlackThread {
            channel: String::new(),
            ts: "1".into(),
        };
        assert!(matches!(
            store.set_slack_thread(&sys, incident.id, &empty).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

on_both_databases!(threads_are_kept_for_the_system_only);
