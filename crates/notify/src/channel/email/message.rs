//! A notice as a plain-text email: subject and body. User text (titles,
//! change descriptions) is put on one line, so it cannot add headers or
//! fake lines.

use crate::notice::{Notice, NoticeKind};

/// The subject.
pub fn subject(notice: &Notice) -> String {
    let what = match notice.kind {
        NoticeKind::Created => "new incident",
        NoticeKind::Updated => "incident updated",
        NoticeKind::SlaBreached => "SLA breached",
        NoticeKind::SlaEscalated => "SLA escalated",
        NoticeKind::AccessChanged => {
            return format!(
                "[watchpost] access change [sensitive]: {}",
                one_line(&notice.title)
            );
        }
    };
    let sensitive = if notice.sensitive { " [sensitive]" } else { "" };
    format!(
        "[watchpost] {} {what}{sensitive}: {}",
        notice.severity,
        one_line(&notice.title)
    )
}

/// The plain-text body.
pub fn text_body(notice: &Notice) -> String {
    if notice.kind == NoticeKind::AccessChanged {
        return format!(
            "Access to sensitive incidents changed\n\
             Change:   {change}\n\
             At:       {at}\n",
            change = one_line(&notice.change),
            at = notice.at,
        );
    }
    format!(
        "Incident {id}\n\
         Title:    {title}\n\
         Severity: {severity}\n\
         Category: {category}\n\
         Status:   {status}\n\
         Change:   {change}\n\
         At:       {at}\n",
        id = notice.incident_id,
        title = one_line(&notice.title),
        severity = notice.severity,
        category = notice.category,
        status = notice.status,
        change = one_line(&notice.change),
        at = notice.at,
    )
}

/// Collapses line breaks so user text cannot inject headers or fake lines.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_cannot_break_lines() {
        let notice = Notice {
            kind: NoticeKind::Created,
            incident_id: "i1".into(),
            title: "a\r\nBcc: x@evil".into(),
            category: "theft".into(),
            severity: "SEV2".into(),
            status: "triage".into(),
            sensitive: false,
            change: "opened".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            subject(&notice),
            "[watchpost] SEV2 new incident: a  Bcc: x@evil"
        );
        assert_eq!(text_body(&notice).lines().count(), 7);
    }

    #[test]
    fn sla_notices_say_which_step() {
        let mut notice = Notice {
            kind: NoticeKind::SlaBreached,
            incident_id: "i1".into(),
            title: "phishing report: odd mail".into(),
            category: "phishing".into(),
            severity: "SEV1".into(),
            status: "triage".into(),
            sensitive: false,
            change: "SLA breached: the acknowledge clock (15m) was due 2026-01-01T00:15:00Z".into(),
            at: "2026-01-01T00:16:00Z".into(),
        };
        assert_eq!(
            subject(&notice),
            "[watchpost] SEV1 SLA breached: phishing report: odd mail"
        );
        assert_eq!(
            text_body(&notice),
            "Incident i1\n\
             Title:    phishing report: odd mail\n\
             Severity: SEV1\n\
             Category: phishing\n\
             Status:   triage\n\
             Change:   SLA breached: the acknowledge clock (15m) was due 2026-01-01T00:15:00Z\n\
             At:       2026-01-01T00:16:00Z\n"
        );
        notice.kind = NoticeKind::SlaEscalated;
        notice.sensitive = true;
        assert_eq!(
            subject(&notice),
            "[watchpost] SEV1 SLA escalated [sensitive]: phishing report: odd mail"
        );
    }

    #[test]
    fn access_changes_are_marked_sensitive() {
        let notice = Notice {
            kind: NoticeKind::AccessChanged,
            incident_id: String::new(),
            title: "sock is now responder (was reporter)".into(),
            category: String::new(),
            severity: String::new(),
            status: String::new(),
            sensitive: true,
            change: "sock is now responder (was reporter)".into(),
            at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            subject(&notice),
            "[watchpost] access change [sensitive]: sock is now responder (was reporter)"
        );
        assert_eq!(
            text_body(&notice),
            "Access to sensitive incidents changed\n\
             Change:   sock is now responder (was reporter)\n\
             At:       2026-01-01T00:00:00Z\n"
        );
    }
}
