//! Single sign-on with OpenID Connect (the server's `[oidc]` table).
//!
//! - `GET /login/oidc` starts the authorization code flow with PKCE: the
//!   state, the nonce and the PKCE verifier are kept in the short-lived
//!   `__Host-wp_oidc` cookie (`Secure`, `HttpOnly`, `SameSite=Lax` so that
//!   the provider's redirect back carries it, 10 minutes), and the browser
//!   is sent to the provider.
//! - `GET /login/oidc/callback` checks the state against the cookie,
//!   exchanges the code (with the PKCE verifier) and verifies the ID token:
//!   its signature by the provider's JWKS, `iss`, `aud`, `exp` and the
//!   nonce. The role comes from the token's `role_claim` through the
//!   `roles` table (else `default_role`; with none, sign-in is refused).
//!   The local user is `sso-` and 20 hex digits of the SHA-256 of the
//!   issuer and the subject: the same person always gets the same user, and
//!   no one at the provider can name an existing local account. The user is
//!   created at the first sign-in; a disabled one is refused; a changed
//!   role is set at each sign-in (which ends the user's other sessions).
//!   Then a session starts exactly as a password sign-in's does.
//! - Without `[oidc]` both answer the 404 page.
//! - A refused sign-in answers the sign-in page with a plain message,
//!   counted by reason ([`Oidc::failures`]) and logged without the code,
//!   the tokens or the client secret.

mod http;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, extract::Request};
use incidents::enums::Role;
use incidents::user::TokenHash;
use incidents::{NewUser, StoreError, UserId, Viewer};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use self::http::Http;
use super::pages;
use super::session::{self, Session};
use crate::state::AppState;

/// The cookie that carries a sign-in's state, nonce and PKCE verifier.
pub const FLOW_COOKIE: &str = "__Host-wp_oidc";
/// How long a sign-in at the provider may take.
const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long the provider's discovery document (and its keys) is reused.
const METADATA_TTL: Duration = Duration::from_secs(300);

/// What `[oidc]` says, as the pages use it.
#[derive(Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (discovery is at
    /// `/.well-known/openid-configuration` under it).
    pub issuer_url: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// The client secret (`None`: a public client).
    pub client_secret: Option<String>,
    /// The public URL of `/login/oidc/callback`.
    pub redirect_url: String,
    /// The provider's name on the sign-in button.
    pub display_name: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim read for the role (a string or a list of them).
    pub role_claim: Option<String>,
    /// Claim value → role (never `ingest`).
    pub roles: Vec<(String, Role)>,
    /// The role of someone whose claim maps to none (`None`: refused).
    pub default_role: Option<Role>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_url", &self.redirect_url)
            .field("display_name", &self.display_name)
            .field("scopes", &self.scopes)
            .field("role_claim", &self.role_claim)
            .field("roles", &self.roles)
            .field("default_role", &self.default_role)
            .finish()
    }
}

/// Single sign-on, ready: put it in the router as an
/// [`axum::Extension`] (`router.layer(Extension(oidc))`); without it the
/// single sign-on pages are the 404 page.
#[derive(Clone, Debug)]
pub struct Oidc(Arc<Inner>);

struct Inner {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: Http,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
    failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The client as discovery and the settings make it.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The ID token with every claim kept (the role claim is named by the
/// settings).
type RoleIdToken =
    IdToken<Claims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The claims of an ID token that openidconnect does not name.
#[derive(Clone, Deserialize, Serialize)]
struct Claims {
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Claims(..)")
    }
}

impl AdditionalClaims for Claims {}

/// Why a sign-in was refused (the counter's key and the log's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No flow cookie, or its state is not the callback's.
    State,
    /// The provider answered with an error instead of a code.
    ProviderRefused,
    /// The provider could not be reached or its answer was unusable.
    Provider,
    /// The ID token did not verify (signature, iss, aud, exp, nonce).
    Token,
    /// No role for this person.
    Role,
    /// The local user is disabled.
    Disabled,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::State => "state",
            Failure::ProviderRefused => "provider_refused",
            Failure::Provider => "provider",
            Failure::Token => "token",
            Failure::Role => "role",
            Failure::Disabled => "disabled",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Failure::State => StatusCode::BAD_REQUEST,
            Failure::Provider => StatusCode::BAD_GATEWAY,
            Failure::ProviderRefused | Failure::Token | Failure::Role | Failure::Disabled => {
                StatusCode::FORBIDDEN
            }
        }
    }

    fn message(self, provider: &str) -> String {
        match self {
            Failure::State => {
                "This sign-in had expired or was not started here. Please try again.".into()
            }
            Failure::ProviderRefused => format!("{provider} did not sign you in."),
            Failure::Provider => {
                format!("{provider} cannot be reached right now. Try again shortly.")
            }
            Failure::Token => format!(
                "The answer from {provider} could not be verified, so you were not signed in."
            ),
            Failure::Role => format!(
                "Your {provider} account is not allowed to use watchpost. Ask the Security Team for access."
            ),
            Failure::Disabled => {
                "This account is disabled. Ask the Security Team if you need it.".into()
            }
        }
    }
}

impl Oidc {
    /// Checks the settings: the URLs parse, no role is `ingest`.
    pub fn new(settings: OidcSettings) -> Result<Oidc, String> {
        let issuer = IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|e| format!("oidc.issuer_url: {e}"))?;
        let redirect = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| format!("oidc.redirect_url: {e}"))?;
        if settings.client_id.trim().is_empty() {
            return Err("oidc.client_id is empty".into());
        }
        if settings.display_name.trim().is_empty() {
            return Err("oidc.display_name is empty".into());
        }
        if settings.roles.iter().any(|(_, r)| *r == Role::Ingest)
            || settings.default_role == Some(Role::Ingest)
        {
            return Err("oidc: the ingest role cannot be given by single sign-on".into());
        }
        Ok(Oidc(Arc::new(Inner {
            http: Http::new()?,
            issuer,
            redirect,
            settings,
            metadata: tokio::sync::Mutex::new(None),
            failures: Mutex::new(BTreeMap::new()),
        })))
    }

    /// The provider's name on the sign-in button.
    pub fn display_name(&self) -> &str {
        &self.0.settings.display_name
    }

    /// How many sign-ins were refused for `reason` (`state`,
    /// `provider_refused`, `provider`, `token`, `role`, `disabled`).
    pub fn failures(&self, reason: &str) -> u64 {
        self.0
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    /// The client, from the provider's discovery document (fetched at most
    /// every [`METADATA_TTL`]).
    async fn client(&self) -> Result<Client, String> {
        let mut cached = self.0.metadata.lock().await;
        let metadata = match &*cached {
            Some((metadata, at)) if at.elapsed() < METADATA_TTL => metadata.clone(),
            _ => {
                let metadata =
                    CoreProviderMetadata::discover_async(self.0.issuer.clone(), &self.0.http)
                        .await
                        .map_err(|e| format!("discovery failed: {e}"))?;
                *cached = Some((metadata.clone(), Instant::now()));
                metadata
            }
        };
        drop(cached);
        let s = &self.0.settings;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(s.client_id.clone()),
            s.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.0.redirect.clone()))
    }

    /// The role for a verified token's claims.
    fn role_for(&self, claims: &Claims) -> Option<Role> {
        let s = &self.0.settings;
        let values: Vec<&str> = match s.role_claim.as_ref().and_then(|c| claims.rest.get(c)) {
            Some(serde_json::Value::String(v)) => vec![v.as_str()],
            Some(serde_json::Value::Array(list)) => {
                list.iter().filter_map(serde_json::Value::as_str).collect()
            }
            _ => Vec::new(),
        };
        let mapped: Vec<Role> = s
            .roles
            .iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
            .collect();
        // Several values may map: the first of this order wins.
        [
            Role::Responder,
            Role::FinanceOps,
            Role::Admin,
            Role::Reporter,
        ]
        .into_iter()
        .find(|r| mapped.contains(r))
        .or(s.default_role)
    }

    /// Counts and logs a refused sign-in, and answers the sign-in page
    /// with its message.
    fn refuse(&self, headers: &HeaderMap, failure: Failure, detail: &str) -> Response {
        *self
            .0
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(failure.as_str())
            .or_default() += 1;
        tracing::warn!(reason = failure.as_str(), detail, "single sign-on refused");
        let message = failure.message(self.display_name());
        let mut response = pages::login_error(
            headers,
            failure.status(),
            Some(self.display_name()),
            &message,
        );
        append_cookie(&mut response, &session::expired_cookie(FLOW_COOKIE));
        response
    }
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// This module's page routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login/oidc", get(start))
        .route("/login/oidc/callback", get(callback))
}

/// `GET /login/oidc`: to the provider.
async fn start(oidc: Option<Extension<Oidc>>, request: Request) -> Response {
    let Some(Extension(oidc)) = oidc else {
        return pages::not_found_page();
    };
    let headers = request.headers();
    let client = match oidc.client().await {
        Ok(client) => client,
        Err(detail) => return oidc.refuse(headers, Failure::Provider, &detail),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut authorize = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &oidc.0.settings.scopes {
        if scope != "openid" {
            authorize = authorize.add_scope(Scope::new(scope.clone()));
        }
    }
    let (url, state, nonce) = authorize.url();
    let flow = format!(
        "{}.{}.{}",
        state.secret(),
        nonce.secret(),
        verifier.secret()
    );
    let mut response = pages::see_other(url.as_str());
    append_cookie(
        &mut response,
        &format!(
            "{FLOW_COOKIE}={flow}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
            FLOW_TTL.as_secs()
        ),
    );
    response
}

/// What the provider sends back.
#[derive(Debug, Default)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl Callback {
    /// The first `code`, `state` and `error` of a query string.
    fn parse(query: &str) -> Callback {
        let mut callback = Callback::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*key {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        callback
    }
}

/// The flow cookie's parts: state, nonce, PKCE verifier.
fn flow_cookie(headers: &HeaderMap) -> Option<(String, String, String)> {
    let value = session::cookie(headers, FLOW_COOKIE)?;
    let mut parts = value.split('.');
    let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
    let fine = |s: &str| {
        !s.is_empty()
            && s.len() <= 256
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (parts.next().is_none() && fine(state) && fine(nonce) && fine(verifier))
        .then(|| (state.to_owned(), nonce.to_owned(), verifier.to_owned()))
}

/// A provider's error code, when it is a plain word (else not logged).
fn plain(code: &str) -> &str {
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        code
    } else {
        "(unreadable)"
    }
}

/// The local user name of a provider's subject.
pub fn user_name(issuer: &str, subject: &str) -> String {
    let digest = TokenHash::of(&format!("{issuer}\n{subject}")).0;
    format!("sso-{}", &hex::encode(digest)[..20])
}

/// `GET /login/oidc/callback`: verify, find or create the user, sign in.
async fn callback(
    State(state): State<AppState>,
    oidc: Option<Extension<Oidc>>,
    old: Option<Extension<Session>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(Extension(oidc)) = oidc else {
        return pages::not_found_page();
    };
    let query = Callback::parse(query.as_deref().unwrap_or(""));
    let Some((expected_state, nonce, verifier)) = flow_cookie(&headers) else {
        return oidc.refuse(&headers, Failure::State, "no sign-in in progress");
    };
    if let Some(error) = &query.error {
        return oidc.refuse(&headers, Failure::ProviderRefused, plain(error));
    }
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| session::same_secret(s, &expected_state));
    if !state_matches {
        return oidc.refuse(&headers, Failure::State, "state mismatch");
    }
    let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 4096) else {
        return oidc.refuse(&headers, Failure::ProviderRefused, "no code");
    };
    let client = match oidc.client().await {
        Ok(client) => client,
        Err(detail) => return oidc.refuse(&headers, Failure::Provider, &detail),
    };
    let request = match client.exchange_code(AuthorizationCode::new(code)) {
        Ok(request) => request,
        Err(_) => {
            return oidc.refuse(&headers, Failure::Provider, "no token endpoint");
        }
    };
    let token = match request
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&oidc.0.http)
        .await
    {
        Ok(token) => token,
        Err(error) => {
            let detail = match &error {
                openidconnect::RequestTokenError::ServerResponse(e) => {
                    format!("token endpoint refused: {}", e.error().as_ref())
                }
                openidconnect::RequestTokenError::Request(e) => format!("token request: {e}"),
                openidconnect::RequestTokenError::Parse(..) => "unreadable token answer".into(),
                openidconnect::RequestTokenError::Other(e) => format!("token request: {e}"),
            };
            return oidc.refuse(&headers, Failure::Provider, &detail);
        }
    };
    let Some(id_token) = token.id_token() else {
        return oidc.refuse(&headers, Failure::Token, "no ID token");
    };
    let Ok(id_token) = RoleIdToken::from_str(&id_token.to_string()) else {
        return oidc.refuse(&headers, Failure::Token, "unreadable ID token");
    };
    // (The verifier is not `Send`: it is gone before the next await.)
    let verified = {
        let verifier = client.id_token_verifier();
        id_token
            .claims(&verifier, &Nonce::new(nonce))
            .map(|claims| {
                (
                    oidc.role_for(claims.additional_claims()),
                    user_name(claims.issuer().as_str(), claims.subject().as_str()),
                )
            })
            .map_err(|error| error.to_string())
    };
    let (role, name) = match verified {
        Ok(verified) => verified,
        Err(detail) => return oidc.refuse(&headers, Failure::Token, &detail),
    };
    let Some(role) = role else {
        return oidc.refuse(&headers, Failure::Role, "no role for the claim");
    };
    let user = match local_user(&state, &name, role).await {
        Ok(Some(user)) => user,
        Ok(None) => return oidc.refuse(&headers, Failure::Disabled, &name),
        Err(error) => {
            tracing::error!(%error, "cannot find or create a single sign-on user");
            return pages::unavailable();
        }
    };
    tracing::info!(user = %name, role = role.as_str(), "signed in with single sign-on");
    let mut response = pages::start_session(&state, old.map(|Extension(s)| s), user).await;
    append_cookie(&mut response, &session::expired_cookie(FLOW_COOKIE));
    response
}

/// The user called `name` with `role` (created, or its role updated);
/// `None` when it is disabled.
async fn local_user(
    state: &AppState,
    name: &str,
    role: Role,
) -> Result<Option<UserId>, StoreError> {
    // The provider vouches for the person, as the server host does for
    // users it creates: the system acts here, not a request's viewer.
    let system = Viewer::system();
    match state.store.get_user_by_name(&system, name).await {
        Ok(user) if user.disabled => Ok(None),
        Ok(user) if user.role == role => Ok(Some(user.id)),
        Ok(user) => {
            tracing::info!(user = %name, from = user.role.as_str(), to = role.as_str(), "single sign-on changed a role");
            Ok(Some(
                state.store.set_user_role(&system, user.id, role).await?.id,
            ))
        }
        Err(StoreError::NotFound(_)) => {
            let user = state
                .store
                .create_user(
                    &system,
                    NewUser {
                        name: name.to_owned(),
                        role,
                    },
                )
                .await?;
            Ok(Some(user.id))
        }
        Err(error) => Err(error),
    }
}

/// Puts the provider's name in each page request when `[oidc]` is
/// configured, for the sign-in page's button ([`pages::SsoOffer`]).
pub(crate) async fn offer(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let name = request
        .extensions()
        .get::<Oidc>()
        .map(|o| o.display_name().to_owned());
    if let Some(name) = name {
        request.extensions_mut().insert(pages::SsoOffer(name));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_stable_and_valid() {
        let a = user_name("https://idp.example", "248289761001");
        assert_eq!(a.len(), 24);
        assert!(a.starts_with("sso-"));
        assert_eq!(a, user_name("https://idp.example", "248289761001"));
        assert_ne!(a, user_name("https://other.example", "248289761001"));
    }

    #[test]
    fn the_flow_cookie_needs_three_plain_parts() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "__Host-wp_oidc=a1.b_2.c-3".parse().unwrap());
        assert_eq!(
            flow_cookie(&h),
            Some(("a1".into(), "b_2".into(), "c-3".into()))
        );
        for bad in ["a.b", "a.b.c.d", "a..c", "a.b.<c>"] {
            let mut h = HeaderMap::new();
            h.insert("cookie", format!("__Host-wp_oidc={bad}").parse().unwrap());
            assert_eq!(flow_cookie(&h), None, "{bad}");
        }
    }
}
