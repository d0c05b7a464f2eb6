//! The text of a Slack message about a notice. Anything that came from
//! input is escaped as Slack documents (`&`, `<` and `>`), so it can never
//! become a link, a mention or formatting Slack interprets.

use crate::notice::{Notice, NoticeKind};

/// `text` with Slack's three control characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The message about `notice`: its title (a link to the incident when
/// `public_url` is set), then what happened.
pub fn text(notice: &Notice, public_url: Option<&str>) -> String {
    let title = escape(&notice.title);
    let title = match public_url {
        // The link text must not hold the `|` that ends the URL part; the
        // URL is the server's own address and a UUID.
        Some(base) => format!(
            "<{}/incidents/{}|{}>",
            base.trim_end_matches('/'),
            escape(&notice.incident_id),
            title.replace('|', "\u{2758}")
        ),
        None => title,
    };
    match notice.kind {
        NoticeKind::Created => format!(
            "New incident: {title}\n{} · {} · {}",
            escape(&notice.category),
            escape(&notice.severity),
            escape(&notice.status)
        ),
        NoticeKind::Updated
        | NoticeKind::AccessChanged
        | NoticeKind::SlaBreached
        | NoticeKind::SlaEscalated => {
            format!("{title}: {}", escape(&notice.change))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(kind: NoticeKind, title: &str, change: &str) -> Notice {
        Notice {
            kind,
            incident_id: "0193a4b2-7c1d-7e00-8000-000000000001".into(),
            title: title.into(),
            category: "theft".into(),
            severity: "SEV3".into(),
            status: "triage".into(),
            sensitive: false,
            change: change.into(),
            at: "2026-11-30T12:00:00Z".into(),
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape("<!channel> a&b <https://x|y>"),
            "&lt;!channel&gt; a&amp;b &lt;https://x|y&gt;"
        );
    }

    #[test]
    fn texts() {
        let created = notice(NoticeKind::Created, "laptop <b>gone</b> & more", "opened");
        assert_eq!(
            text(&created, Some("https://wp.example/")),
            "New incident: <https://wp.example/incidents/0193a4b2-7c1d-7e00-8000-000000000001|laptop &lt;b&gt;gone&lt;/b&gt; &amp; more>\ntheft · SEV3 · triage"
        );
        assert_eq!(
            text(&created, None),
            "New incident: laptop &lt;b&gt;gone&lt;/b&gt; &amp; more\ntheft · SEV3 · triage"
        );
        let updated = notice(NoticeKind::Updated, "a|b", "status triage -> investigating");
        assert_eq!(
            text(&updated, Some("https://wp.example")),
            "<https://wp.example/incidents/0193a4b2-7c1d-7e00-8000-000000000001|a\u{2758}b>: status triage -&gt; investigating"
        );
    }
}
