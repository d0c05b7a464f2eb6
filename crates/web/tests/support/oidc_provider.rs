//! A test OpenID Connect provider on 127.0.0.1: discovery, an
//! `/authorize` that approves at once (or refuses, when told), a `/token`
//! that checks the code, the redirect URI and the PKCE verifier and
//! answers an RS256-signed ID token, and `/jwks`. What the next ID token
//! says is set through [`Provider::behave`], so a test can ask for a wrong
//! audience, a wrong nonce or a broken signature.
//!
//! The signing key is a fixed test-only RSA key (`fixtures/oidc_test_rsa.pem`,
//! made with `openssl genrsa 2048`): it signs nothing but these tests'
//! tokens.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, CsrfToken, IdToken, IdTokenClaims, JsonWebKeyId, PkceCodeChallenge,
    PkceCodeVerifier, PrivateSigningKey,
};
use serde::{Deserialize, Serialize};

/// The test-only signing key.
pub const TEST_KEY_PEM: &str = include_str!("../fixtures/oidc_test_rsa.pem");

/// What the next ID tokens say.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The `sub` claim.
    pub subject: String,
    /// The `groups` claim (`None`: absent).
    pub groups: Option<serde_json::Value>,
    /// An `aud` other than the client id.
    pub audience: Option<String>,
    /// A nonce other than the one asked for.
    pub nonce: Option<String>,
    /// Break the signature.
    pub tamper_signature: bool,
    /// `/authorize` answers with this error instead of a code.
    pub refuse: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            subject: "248289761001".into(),
            groups: None,
            audience: None,
            nonce: None,
            tamper_signature: false,
            refuse: None,
        }
    }
}

struct Grant {
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    issuer: String,
    client_id: String,
    redirect_uri: Mutex<String>,
    key: CoreRsaPrivateSigningKey,
    behaviour: Mutex<Behaviour>,
    grants: Mutex<HashMap<String, Grant>>,
    /// The `Authorization` headers `/token` got.
    token_auth: Mutex<Vec<String>>,
}

/// A running test provider.
#[derive(Clone)]
pub struct Provider(Arc<Inner>);

impl Provider {
    /// Starts a provider for `client_id` on 127.0.0.1 (any free port).
    pub async fn start(client_id: &str, redirect_uri: &str) -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = CoreRsaPrivateSigningKey::from_pem(
            TEST_KEY_PEM,
            Some(JsonWebKeyId::new("test-key-1".into())),
        )
        .unwrap();
        let provider = Provider(Arc::new(Inner {
            issuer,
            client_id: client_id.to_owned(),
            redirect_uri: Mutex::new(redirect_uri.to_owned()),
            key,
            behaviour: Mutex::new(Behaviour::default()),
            grants: Mutex::new(HashMap::new()),
            token_auth: Mutex::new(Vec::new()),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        provider
    }

    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// Sets what the next ID tokens say.
    pub fn behave(&self, behaviour: Behaviour) {
        *self.0.behaviour.lock().unwrap() = behaviour;
    }

    /// Sets the redirect URI the client must use.
    pub fn set_redirect_uri(&self, uri: &str) {
        *self.0.redirect_uri.lock().unwrap() = uri.to_owned();
    }

    /// The `Authorization` headers `/token` got.
    pub fn token_auth(&self) -> Vec<String> {
        self.0.token_auth.lock().unwrap().clone()
    }
}

async fn discovery(State(p): State<Provider>) -> Response {
    let issuer = &p.0.issuer;
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

async fn jwks(State(p): State<Provider>) -> Response {
    Json(CoreJsonWebKeySet::new(vec![p.0.key.as_verification_key()])).into_response()
}

async fn authorize(
    State(p): State<Provider>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let expected_redirect = p.0.redirect_uri.lock().unwrap().clone();
    let ok = q.get("response_type").map(String::as_str) == Some("code")
        && q.get("client_id") == Some(&p.0.client_id)
        && q.get("redirect_uri") == Some(&expected_redirect)
        && q.get("code_challenge_method").map(String::as_str) == Some("S256")
        && q.get("scope")
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let (Some(state), Some(challenge), true) = (q.get("state"), q.get("code_challenge"), ok) else {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    };
    let mut back = openidconnect::url::Url::parse(&expected_redirect).unwrap();
    let refuse = p.0.behaviour.lock().unwrap().refuse.clone();
    match refuse {
        Some(error) => {
            back.query_pairs_mut()
                .append_pair("error", &error)
                .append_pair("state", state);
        }
        None => {
            let code = CsrfToken::new_random().secret().clone();
            p.0.grants.lock().unwrap().insert(
                code.clone(),
                Grant {
                    nonce: q.get("nonce").cloned(),
                    challenge: challenge.clone(),
                    redirect_uri: expected_redirect.clone(),
                },
            );
            back.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", state);
        }
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back.to_string())],
    )
        .into_response()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<serde_json::Value>,
}
impl AdditionalClaims for Extra {}

async fn token(
    State(p): State<Provider>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        p.0.token_auth
            .lock()
            .unwrap()
            .push(auth.to_str().unwrap_or("").to_owned());
    }
    let refused = |what: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant", "error_description": what})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return refused("grant_type");
    }
    let Some(grant) = form
        .get("code")
        .and_then(|c| p.0.grants.lock().unwrap().remove(c))
    else {
        return refused("unknown code");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return refused("redirect_uri");
    }
    let Some(verifier) = form.get("code_verifier") else {
        return refused("no code_verifier");
    };
    let computed =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    if computed.as_str() != grant.challenge {
        return refused("PKCE");
    }
    let behaviour = p.0.behaviour.lock().unwrap().clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": p.0.issuer,
        "aud": [behaviour.audience.clone().unwrap_or_else(|| p.0.client_id.clone())],
        "exp": now + 300,
        "iat": now,
        "sub": behaviour.subject,
        "email": "pat@example.test",
    });
    if let Some(nonce) = behaviour.nonce.clone().or(grant.nonce) {
        claims["nonce"] = nonce.into();
    }
    if let Some(groups) = behaviour.groups.clone() {
        claims["groups"] = groups;
    }
    let claims: IdTokenClaims<Extra, CoreGenderClaim> = serde_json::from_value(claims).unwrap();
    let id_token = IdToken::<
        Extra,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &p.0.key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .unwrap();
    let mut id_token = id_token.to_string();
    if behaviour.tamper_signature {
        // Change one character in the middle of the signature.
        let at = id_token.rfind('.').unwrap() + 10;
        let c = id_token.as_bytes()[at];
        let replacement = if c == b'A' { "B" } else { "A" };
        id_token.replace_range(at..at + 1, replacement);
    }
    Json(serde_json::json!({
        "access_token": CsrfToken::new_random().secret(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
