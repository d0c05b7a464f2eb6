//! The HTTP client of single sign-on: openidconnect's [`AsyncHttpClient`]
//! over the workspace's reqwest (no redirects followed, a time limit, and
//! errors that never carry a URL: a token request's body holds the client
//! secret and the code, and is never logged).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// How long one request to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider.
const MAX_BODY: usize = 1024 * 1024;

/// A request to the provider that failed (no URL, no body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(String);

/// reqwest, without redirects.
#[derive(Debug, Clone)]
pub(crate) struct Http(reqwest::Client);

impl Http {
    pub(crate) fn new() -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Http)
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError(format!("bad request: {}", e.without_url())))?;
            let mut response = self
                .0
                .execute(request)
                .await
                .map_err(|e| HttpError(format!("provider unreachable: {}", e.without_url())))?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| HttpError(format!("cannot read the answer: {}", e.without_url())))?
            {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(HttpError("the answer is too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            builder
                .body(body)
                .map_err(|e| HttpError(format!("bad answer: {e}")))
        })
    }
}
