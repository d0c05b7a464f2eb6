//! The security@ mailbox's store calls on both databases: a mail files a
//! third-party report, a follow-up joins it (by In-Reply-To, References or
//! the tracking id), a Message-ID seen before changes nothing, sent mail is
//! recorded, and the poller's position is kept. Only the system viewer
//! takes mail; staff read a visible report's thread.

use watchpost_incidents as incidents;

mod common;

use common::{Ctx, cast};
use incidents::*;

fn mail(id: &str, subject: &str, text: &str) -> InboundMail {
    InboundMail {
        message_id: id.into(),
        from: "researcher@example.org".into(),
        subject: subject.into(),
        in_reply_to: vec![],
        references: vec![],
        text: text.into(),
        attachments: vec![],
    }
}

fn filed(outcome: MailOutcome) -> Report {
    match outcome {
        MailOutcome::Filed(r) => r,
        other => panic!("expected a new report, got {other:?}"),
    }
}

async fn reports(ctx: &Ctx) -> usize {
    ctx.store
        .list_reports(
            &Viewer::system(),
            &ReportFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items
        .len()
}

mod cases {
    use super::*;

    pub async fn a_mail_files_a_third_party_report_once(ctx: &Ctx) {
        let sys = Viewer::system();
        let mut m = mail("a1@example.org", "XSS in /search", "Send <script>.");
        m.attachments.push(NewAttachment {
            filename: "poc.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"proof".to_vec(),
        });
        let report = filed(ctx.store.take_inbound_mail(&sys, m.clone()).await.unwrap());
        assert_eq!(report.channel, Channel::ThirdParty);
        assert_eq!(report.reporter, None);
        assert_eq!(
            report.description,
            "XSS in /search\n\nFrom: researcher@example.org\n\nSend <script>."
        );
        assert_eq!(report.attachments.len(), 1);
        assert_eq!(report.attachments[0].filename, "poc.txt");
        let detail = ctx
            .store
            .get_incident(&sys, report.incident_id)
            .await
            .unwrap();
        assert_eq!(
            detail.incident.title,
            "security_incident report: XSS in /search"
        );
        // The same Message-ID again: nothing new.
        let again = ctx.store.take_inbound_mail(&sys, m).await.unwrap();
        assert_eq!(
            again,
            MailOutcome::AlreadySeen {
                report_id: report.id
            }
        );
        assert_eq!(reports(ctx).await, 1);
        let thread = ctx.store.mail_thread(&sys, report.id).await.unwrap();
        assert_eq!(thread.len(), 1);
        assert_eq!(thread[0].message_id, "a1@example.org");
        assert_eq!(thread[0].direction, MailDirection::In);
        assert_eq!(thread[0].address, "researcher@example.org");
    }

    pub async fn follow_ups_join_by_headers_or_tracking_id(ctx: &Ctx) {
        let sys = Viewer::system();
        let report = filed(
            ctx.store
                .take_inbound_mail(&sys, mail("b1@example.org", "SQLi", "details"))
                .await
                .unwrap(),
        );
        // Our acknowledgement, recorded as sent.
        let incident = ctx
            .store
            .record_outbound_mail(
                &sys,
                OutboundMail {
                    report_id: report.id,
                    message_id: "ack1@watchpost".into(),
                    to: "researcher@example.org".into(),
                    subject: "Re: SQLi".into(),
                    in_reply_to: Some("b1@example.org".into()),
                    references: vec!["b1@example.org".into()],
                    timeline: None,
                    sent_by: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(incident, report.incident_id);
        let joined = MailOutcome::FollowUp {
            report_id: report.id,
            incident_id: report.incident_id,
        };
        // A reply to the acknowledgement (In-Reply-To).
        let mut m = mail("b2@example.org", "Re: SQLi", "more details");
        m.in_reply_to = vec!["ack1@watchpost".into()];
        assert_eq!(ctx.store.take_inbound_mail(&sys, m).await.unwrap(), joined);
        // Only References, naming the first message.
        let mut m = mail("b3@example.org", "Re: Re: SQLi", "even more");
        m.references = vec!["unknown@x".into(), "b1@example.org".into()];
        assert_eq!(ctx.store.take_inbound_mail(&sys, m).await.unwrap(), joined);
        // No headers, the tracking id in the subject.
        let subject = format!("Update [WP-{}]", report.id);
        let m = mail("b4@example.org", &subject, "fixed?");
        assert_eq!(ctx.store.take_inbound_mail(&sys, m).await.unwrap(), joined);
        // A tracking id of no mail report files a new report.
        let m = mail(
            "b5@example.org",
            "About [WP-01938c4e-7f00-7000-8000-000000000001]",
            "x",
        );
        filed(ctx.store.take_inbound_mail(&sys, m).await.unwrap());
        assert_eq!(reports(ctx).await, 2);

        let detail = ctx
            .store
            .get_incident(&sys, report.incident_id)
            .await
            .unwrap();
        let lines: Vec<&str> = detail
            .timeline
            .iter()
            .filter(|t| t.kind == "mail")
            .map(|t| t.message.as_str())
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines.contains(&"follow-up mail from researcher@example.org: Re: SQLi\n\nmore details")
        );
        let thread = ctx.store.mail_thread(&sys, report.id).await.unwrap();
        let ids: Vec<&str> = thread.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "b1@example.org",
                "ack1@watchpost",
                "b2@example.org",
                "b3@example.org",
                "b4@example.org"
            ]
        );
        assert_eq!(thread[1].direction, MailDirection::Out);
        assert_eq!(thread[1].in_reply_to.as_deref(), Some("b1@example.org"));
        assert_eq!(thread[3].references, ["unknown@x", "b1@example.org"]);
        let audit = ctx.store.list_audit(&sys, 0, 1000).await.unwrap();
        let actions: Vec<&str> = audit
            .iter()
            .filter(|e| e.action.starts_with("mail."))
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            ["mail.send", "mail.receive", "mail.receive", "mail.receive"]
        );
    }

    pub async fn a_reply_is_kept_in_the_timeline(ctx: &Ctx) {
        let sys = Viewer::system();
        let c = cast(&*ctx.store).await;
        let report = filed(
            ctx.store
                .take_inbound_mail(&sys, mail("c1@example.org", "CSRF", "d"))
                .await
                .unwrap(),
        );
        ctx.store
            .record_outbound_mail(
                &sys,
                OutboundMail {
                    report_id: report.id,
                    message_id: "reply1@watchpost".into(),
                    to: "researcher@example.org".into(),
                    subject: "Re: CSRF".into(),
                    in_reply_to: Some("c1@example.org".into()),
                    references: vec!["c1@example.org".into()],
                    timeline: Some("reply mailed to researcher@example.org: thanks".into()),
                    sent_by: Some(c.responder.user_id),
                },
            )
            .await
            .unwrap();
        let detail = ctx
            .store
            .get_incident(&sys, report.incident_id)
            .await
            .unwrap();
        let line = detail
            .timeline
            .iter()
            .find(|t| t.kind == "mail")
            .expect("a mail line");
        assert_eq!(
            line.message,
            "reply mailed to researcher@example.org: thanks"
        );
        assert_eq!(line.actor, c.responder.user_id);
        // The same Message-ID twice is refused.
        let twice = ctx
            .store
            .record_outbound_mail(
                &sys,
                OutboundMail {
                    report_id: report.id,
                    message_id: "reply1@watchpost".into(),
                    to: "researcher@example.org".into(),
                    subject: "Re: CSRF".into(),
                    in_reply_to: None,
                    references: vec![],
                    timeline: None,
                    sent_by: None,
                },
            )
            .await;
        assert!(matches!(twice, Err(StoreError::Database(_))), "{twice:?}");
    }

    pub async fn only_the_system_takes_mail_and_staff_read_threads(ctx: &Ctx) {
        let sys = Viewer::system();
        let c = cast(&*ctx.store).await;
        let report = filed(
            ctx.store
                .take_inbound_mail(&sys, mail("d1@example.org", "S", "d"))
                .await
                .unwrap(),
        );
        for v in [c.responder, c.admin, c.reporter_a] {
            assert!(matches!(
                ctx.store
                    .take_inbound_mail(&v, mail("d2@example.org", "S", "d"))
                    .await,
                Err(StoreError::Forbidden(_))
            ));
            assert!(matches!(
                ctx.store.mailbox_position(&v, "INBOX").await,
                Err(StoreError::Forbidden(_))
            ));
            assert!(matches!(
                ctx.store.set_mailbox_position(&v, "INBOX", 1, 2).await,
                Err(StoreError::Forbidden(_))
            ));
        }
        assert_eq!(
            ctx.store
                .mail_thread(&c.responder, report.id)
                .await
                .unwrap()
                .len(),
            1
        );
        // A reporter does not see the anonymous report.
        assert!(matches!(
            ctx.store.mail_thread(&c.reporter_a, report.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            ctx.store.mail_thread(&c.responder, ReportId::new()).await,
            Err(StoreError::NotFound(_))
        ));
        // Bad Message-IDs.
        for id in ["", "a\nb", &"x".repeat(999)] {
            assert!(matches!(
                ctx.store.take_inbound_mail(&sys, mail(id, "S", "d")).await,
                Err(StoreError::Invalid(_))
            ));
        }
    }

    pub async fn the_position_is_kept_per_folder(ctx: &Ctx) {
        let sys = Viewer::system();
        assert_eq!(
            ctx.store.mailbox_position(&sys, "INBOX").await.unwrap(),
            None
        );
        ctx.store
            .set_mailbox_position(&sys, "INBOX", 1_700_000_000, 5)
            .await
            .unwrap();
        ctx.store
            .set_mailbox_position(&sys, "INBOX", 1_700_000_000, 9)
            .await
            .unwrap();
        ctx.store
            .set_mailbox_position(&sys, "Other", u32::MAX, u32::MAX)
            .await
            .unwrap();
        assert_eq!(
            ctx.store.mailbox_position(&sys, "INBOX").await.unwrap(),
            Some((1_700_000_000, 9))
        );
        assert_eq!(
            ctx.store.mailbox_position(&sys, "Other").await.unwrap(),
            Some((u32::MAX, u32::MAX))
        );
    }
}

on_both_databases!(
    a_mail_files_a_third_party_report_once,
    follow_ups_join_by_headers_or_tracking_id,
    a_reply_is_kept_in_the_timeline,
    only_the_system_takes_mail_and_staff_read_threads,
    the_position_is_kept_per_folder,
);
