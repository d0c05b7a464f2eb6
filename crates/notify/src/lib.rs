//! Notify: delivers notifications about new and changed incidents, by email
//! over SMTP and through a generic signed webhook.
//!
//! - [`config::NotifyConfig`]: destinations (Security Team, finance-ops,
//!   shared mailbox, webhook) and the poll interval.
//! - [`notice::destinations`]: the one routing decision. Sensitive incidents
//!   go only to the Security Team and finance-ops, never to a shared
//!   destination.
//! - [`deliver::Deliverer`]: sends one notice to one destination.
//! - [`signature`]: how webhook requests are signed (HMAC-SHA256 over the
//!   timestamp and the raw body) and verified.
//! - [`worker`]: drains the store's outbox with leases; the store records
//!   failures and schedules retries with exponential backoff, so pending
//!   messages survive restarts.
//!
//! This crate must not depend on `web` or `server`.

pub mod config;
pub mod deliver;
pub mod notice;
pub mod signature;
pub mod worker;

pub use config::NotifyConfig;
pub use deliver::{Deliverer, DeliveryError};
pub use notice::{Destination, Notice, NoticeKind, destinations, destinations_for};
