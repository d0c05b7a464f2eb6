//! What every handler shares: the store, and the API's own description.

use std::sync::Arc;

use incidents::Store;

/// The first admin's one-time link to set a password for the pages
/// (`/setup?token=...`, a page of [`crate::ui`]), printed by the server at its first start. The
/// server keeps it; the pages only ask.
pub trait AdminSetup: Send + Sync {
    /// The user the link is for, when `token` is the link's and it is
    /// unused and unexpired.
    fn user_for(&self, token: &str) -> Option<incidents::UserId>;
    /// The link was used: it never works again.
    fn used(&self);
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The incident store (visibility is enforced inside it).
    pub store: Arc<dyn Store>,
    /// Where `POST /api/v1/events` puts events; `None` answers 503 (the
    /// server runs no live detection).
    pub events: Option<crate::events::SharedSink>,
    /// The first admin's one-time password link (`/setup`), while it is
    /// unused; `None` answers its page with 404.
    pub setup: Option<std::sync::Arc<dyn AdminSetup>>,
    /// The server's public address (`public_url`), for links that leave
    /// the server; `None` when not configured.
    pub public_url: Option<crate::PublicUrl>,
    /// The SLA targets and business hours (`[sla]`) that the incidents'
    /// `sla` objects, the overdue filter and the SLA chart are computed
    /// with.
    pub sla: Arc<incidents::SlaPolicy>,
    /// The public side (`[security_txt]`, `[disclosure]`: security.txt,
    /// the report form, advisories and their feeds); `None` answers its
    /// routes with 404.
    pub disclosure: Option<Arc<crate::disclosure::Disclosure>>,
}

impl AppState {
    /// State over `store` that takes no events.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            events: None,
            setup: None,
            public_url: None,
            sla: Arc::new(incidents::SlaPolicy::default()),
            disclosure: None,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The OpenAPI document ([`crate::openapi::document`]), built once with the
/// router and handed to the handler that serves it, so that handlers do not
/// depend on the route table the document is made from.
#[derive(Debug, Clone)]
pub struct ApiDocument(pub Arc<serde_json::Value>);
