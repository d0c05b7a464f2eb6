//! Who is told: the recipients of notices, and which notices each one may
//! receive. Independent of how a notice travels (see [`crate::channel`]).
//!
//! Routing invariant: a sensitive incident is only ever told to the
//! Security Team and finance-ops, never to a shared recipient (a shared
//! mailbox, the webhook's receivers). [`Recipient::receives`] is the one
//! place that decides this.

use crate::notice::{Notice, NoticeKind};

/// Someone a notice can be addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Recipient {
    /// The Security Team: told about every incident, sensitive or not, and
    /// about every access change.
    SecurityTeam,
    /// The Head of Finance & Operations: told about sensitive incidents
    /// only.
    FinanceOps,
    /// People outside need-to-know (an IT list, whoever reads the webhook):
    /// told about non-sensitive incidents only.
    Shared,
}

impl Recipient {
    /// Every recipient, in routing order.
    pub const ALL: [Recipient; 3] = [Self::SecurityTeam, Self::FinanceOps, Self::Shared];

    /// Whether the recipient is outside need-to-know.
    pub const fn is_shared(self) -> bool {
        matches!(self, Self::Shared)
    }

    /// Whether this recipient is told about a notice of `kind` about an
    /// incident that is (or is not) `sensitive`. Access changes and SLA
    /// breaches go to the Security Team alone; SLA escalations to the
    /// Security Team and finance-ops (the second contact), never to a
    /// shared recipient, whether the incident is sensitive or not.
    pub const fn receives(self, kind: NoticeKind, sensitive: bool) -> bool {
        match (self, kind) {
            (Self::SecurityTeam, _) => true,
            (_, NoticeKind::AccessChanged | NoticeKind::SlaBreached) => false,
            (Self::FinanceOps, NoticeKind::SlaEscalated) => true,
            (Self::Shared, NoticeKind::SlaEscalated) => false,
            (Self::FinanceOps, _) => sensitive,
            (Self::Shared, _) => !sensitive,
        }
    }

    /// [`Recipient::receives`] for `notice`.
    pub fn receives_notice(self, notice: &Notice) -> bool {
        self.receives(notice.kind, notice.sensitive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_receives_what() {
        use NoticeKind::{AccessChanged, Created, SlaBreached, SlaEscalated, Updated};
        use Recipient::{FinanceOps, SecurityTeam, Shared};
        // (recipient, kind, sensitive, receives), written out by hand.
        let table = [
            (SecurityTeam, Created, false, true),
            (SecurityTeam, Created, true, true),
            (SecurityTeam, Updated, true, true),
            (SecurityTeam, AccessChanged, true, true),
            (FinanceOps, Created, false, false),
            (FinanceOps, Created, true, true),
            (FinanceOps, Updated, true, true),
            (FinanceOps, AccessChanged, true, false),
            (Shared, Created, false, true),
            (Shared, Updated, false, true),
            (Shared, Created, true, false),
            (Shared, Updated, true, false),
            (Shared, AccessChanged, true, false),
            (Shared, AccessChanged, false, false),
            (SecurityTeam, SlaBreached, false, true),
            (SecurityTeam, SlaBreached, true, true),
            (FinanceOps, SlaBreached, false, false),
            (FinanceOps, SlaBreached, true, false),
            (Shared, SlaBreached, false, false),
            (Shared, SlaBreached, true, false),
            (SecurityTeam, SlaEscalated, false, true),
            (SecurityTeam, SlaEscalated, true, true),
            (FinanceOps, SlaEscalated, false, true),
            (FinanceOps, SlaEscalated, true, true),
            (Shared, SlaEscalated, false, false),
            (Shared, SlaEscalated, true, false),
        ];
        for (recipient, kind, sensitive, expected) in table {
            assert_eq!(
                recipient.receives(kind, sensitive),
                expected,
                "{recipient:?} {kind:?} sensitive={sensitive}"
            );
        }
        for recipient in Recipient::ALL {
            assert!(
                !(recipient.is_shared() && recipient.receives(Created, true)),
                "{recipient:?} is shared and receives sensitive notices"
            );
        }
    }
}
