//! Notify: delivers notifications about new and changed incidents, by email
//! over SMTP and through a generic signed webhook.
//!
//! Who is told is kept apart from how:
//!
//! - [`recipient::Recipient`]: who is told (the Security Team, finance-ops,
//!   people outside need-to-know) and [`recipient::Recipient::receives`],
//!   the one routing rule: sensitive incidents go only to the Security Team
//!   and finance-ops, never to a shared recipient.
//! - [`channel`]: how, one folder per channel ([`channel::email`],
//!   [`channel::webhook`]), each with its own `Config`, transport and
//!   errors. A [`Destination`] is one recipient on one channel.
//! - [`routing`]: a notice's configured destinations
//!   ([`destinations_for`]): each configured channel, to the recipients it
//!   reaches that receive the notice.
//! - [`config::NotifyConfig`]: the `[notify]` table, read into one config
//!   per channel, and the poll interval; [`secret::Secret`] keeps keys and
//!   passwords out of `Debug`.
//! - [`notice::Notice`]: what is told, built from an outbox message's typed
//!   payload ([`incidents::OutboxPayload`]).
//! - [`deliver::Deliverer`]: sends one notice to one destination.
//! - [`signature`]: how webhook requests are signed (HMAC-SHA256 over the
//!   delivery id, the timestamp and the raw body) and verified.
//! - [`worker`]: drains the store's outbox with leases; the store records
//!   failures and schedules retries with exponential backoff, so pending
//!   messages survive restarts.
//!
//! This crate must not depend on `web` or `server`.

pub mod channel;
pub mod config;
pub mod deliver;
pub mod notice;
pub mod recipient;
pub mod routing;
pub mod secret;
pub mod worker;

pub use channel::Destination;
pub use channel::webhook::signature;
pub use config::NotifyConfig;
pub use deliver::{Deliverer, DeliveryError};
pub use notice::{Notice, NoticeKind};
pub use recipient::Recipient;
pub use routing::{destinations, destinations_for};
