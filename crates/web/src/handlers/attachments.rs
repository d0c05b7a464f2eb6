//! Report attachments: upload one, download one. An attachment is exactly
//! as visible as its report, and whoever sees a report may add to it (the
//! store decides); anything else is 404.
//!
//! An upload is the raw file as the body (up to the store's attachment cap,
//! see [`crate::routes::BodyLimit::Attachment`]), its `Content-Type` header
//! as the file's type and its name in the `filename` query parameter. The
//! body is streamed chunk by chunk into a file staged by the store
//! ([`incidents::Store::stage_attachment`]), never collected in memory; an
//! upload past the file limit or the uploader's or the store's quota is
//! 413 as soon as the chunk that passes it arrives.
//!
//! The bytes are someone's upload, so a download is built to never be
//! rendered by a browser: `Content-Disposition: attachment`,
//! `X-Content-Type-Options: nosniff`, a sandboxing `Content-Security-Policy`,
//! and `Cache-Control: private, no-store` (attachments may be sensitive).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use incidents::{AttachmentId, ReportId};
use serde::Deserialize;

use super::parse_id;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::types::AttachmentResponse;

/// The longest accepted file name, in characters.
const MAX_FILENAME_CHARS: usize = 255;

/// The longest accepted content type, in characters.
const MAX_CONTENT_TYPE_CHARS: usize = 255;

/// Query of `POST /api/v1/reports/{id}/attachments`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (display only, never a path).
    filename: Option<String>,
}

/// `POST /api/v1/reports/{id}/attachments`: streams the body into a staged
/// file of the report and answers 201 with its metadata.
pub async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(report_id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let report_id: ReportId = parse_id(&report_id)?;
    let filename = check_filename(query.filename)?;
    let content_type = uploaded_type(&headers)?;
    let viewer = caller.viewer();
    // A report the caller cannot see is 404 before a byte is stored.
    state.store.get_report(&viewer, report_id).await?;
    let mut staged = state.store.stage_attachment(&viewer).await?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        if let Ok(chunk) = frame.into_data() {
            staged.write(&chunk).await?;
        }
    }
    if staged.size() == 0 {
        return Err(ApiError::Unprocessable(
            "body: empty; send the file's bytes as the request body".to_owned(),
        ));
    }
    let attachment = state
        .store
        .add_staged_attachment(&viewer, report_id, filename, content_type, staged)
        .await?;
    let response = AttachmentResponse::from(attachment);
    let location = HeaderValue::from_str(&response.url).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(response)))
}

/// A body that failed while streaming: over the route's size limit is 413,
/// anything else (the client went away, bad chunking) 400.
fn body_error(error: axum::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge;
        }
        cause = e.source();
    }
    ApiError::BadRequest("could not read the request body".to_owned())
}

/// The `filename` parameter: present, not blank, at most 255 characters, no
/// control characters (it ends up in headers and on screens).
pub(crate) fn check_filename(raw: Option<String>) -> Result<String, ApiError> {
    let invalid = |why: &str| Err(ApiError::Unprocessable(format!("filename: {why}")));
    let Some(name) = raw else {
        return invalid("required: name the file in the `filename` query parameter");
    };
    if name.trim().is_empty() {
        return invalid("must not be empty");
    }
    let chars = name.chars().count();
    if chars > MAX_FILENAME_CHARS {
        return invalid(&format!(
            "at most {MAX_FILENAME_CHARS} characters (got {chars})"
        ));
    }
    if name.chars().any(char::is_control) {
        return invalid("must not contain control characters");
    }
    Ok(name)
}

/// The upload's `Content-Type` as given (trimmed), or
/// `application/octet-stream` when there is none.
pub(crate) fn uploaded_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(FALLBACK_CONTENT_TYPE.to_owned());
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unprocessable("content-type: must be printable ASCII".to_owned()))?
        .trim();
    if text.is_empty() {
        return Ok(FALLBACK_CONTENT_TYPE.to_owned());
    }
    if text.len() > MAX_CONTENT_TYPE_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "content-type: at most {MAX_CONTENT_TYPE_CHARS} characters"
        )));
    }
    Ok(text.to_owned())
}

/// The type sent when the stored one is not a plain `type/subtype`.
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// `GET /api/v1/reports/{id}/attachments/{attachment_id}`: the file's bytes.
pub async fn get_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((report_id, attachment_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let report_id: ReportId = parse_id(&report_id)?;
    let attachment_id: AttachmentId = parse_id(&attachment_id)?;
    let (attachment, bytes) = state
        .store
        .read_attachment(&caller.viewer(), attachment_id)
        .await?;
    // The path names the report: an attachment of another report is not
    // found here, even when the caller may see it elsewhere.
    if attachment.report_id != report_id {
        return Err(ApiError::NotFound);
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, content_type(&attachment.content_type));
    headers.insert(
        CONTENT_DISPOSITION,
        content_disposition(&attachment.filename),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok((headers, bytes))
}

/// The stored MIME type when it is a plain `type/subtype` (parameters
/// dropped), otherwise `application/octet-stream`.
fn content_type(stored: &str) -> HeaderValue {
    let essence = stored.split(';').next().unwrap_or_default().trim();
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if is_token(kind) && is_token(sub) => {
            HeaderValue::from_str(&essence.to_ascii_lowercase())
                .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CONTENT_TYPE))
        }
        _ => HeaderValue::from_static(FALLBACK_CONTENT_TYPE),
    }
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`
/// (RFC 6266). The fallback replaces anything but safe printable ASCII with
/// `_`, so quotes, backslashes and line breaks in a name cannot break out of
/// the header; path separators are replaced too.
fn content_disposition(filename: &str) -> HeaderValue {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | '%' | ';')) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_plain_or_octet_stream() {
        for (stored, sent) in [
            ("image/png", "image/png"),
            ("Text/Plain; charset=utf-8", "text/plain"),
            ("application/vnd.ms-excel", "application/vnd.ms-excel"),
            ("", FALLBACK_CONTENT_TYPE),
            ("png", FALLBACK_CONTENT_TYPE),
            ("text/html\r\nSet-Cookie: a=b", FALLBACK_CONTENT_TYPE),
            ("a/b/c", FALLBACK_CONTENT_TYPE),
            ("image/ png", FALLBACK_CONTENT_TYPE),
        ] {
            assert_eq!(content_type(stored), sent, "{stored:?}");
        }
    }

    #[test]
    fn upload_file_names_are_checked() {
        let long = "n".repeat(MAX_FILENAME_CHARS);
        for (raw, ok) in [
            (Some("photo.jpg"), true),
            (Some("café ünïcode.pdf"), true),
            (Some("../../etc/passwd"), true),
            (Some(long.as_str()), true),
            (None, false),
            (Some(""), false),
            (Some("   "), false),
            (Some("a\nb.txt"), false),
            (Some("tab\there"), false),
            (Some("nul\0.txt"), false),
            (Some("del\u{7f}.txt"), false),
        ] {
            let got = check_filename(raw.map(str::to_owned));
            assert_eq!(got.is_ok(), ok, "{raw:?}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
                assert!(e.to_string().starts_with("filename: "), "{e}");
            }
        }
        let too_long = format!("{long}x");
        assert!(check_filename(Some(too_long)).is_err());
        // Counted in characters, not bytes.
        assert!(check_filename(Some("é".repeat(MAX_FILENAME_CHARS))).is_ok());
    }

    #[test]
    fn upload_types_default_to_octet_stream() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(v));
            uploaded_type(&h)
        };
        assert_eq!(
            uploaded_type(&HeaderMap::new()).unwrap(),
            FALLBACK_CONTENT_TYPE
        );
        assert_eq!(with("").unwrap(), FALLBACK_CONTENT_TYPE);
        assert_eq!(with(" image/png ").unwrap(), "image/png");
        assert_eq!(
            with("text/plain; charset=utf-8").unwrap(),
            "text/plain; charset=utf-8"
        );
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_bytes(b"text/\xe9").unwrap());
        assert!(uploaded_type(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&format!("a/{}", "b".repeat(MAX_CONTENT_TYPE_CHARS))).unwrap(),
        );
        assert!(uploaded_type(&h).is_err());
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        for (name, fallback, encoded) in [
            ("photo.jpg", "photo.jpg", "photo.jpg"),
            ("my photo.jpg", "my photo.jpg", "my%20photo.jpg"),
            ("a\"b\\c.txt", "a_b_c.txt", "a%22b%5Cc.txt"),
            (
                "x\r\nSet-Cookie: y",
                "x__Set-Cookie: y",
                "x%0D%0ASet-Cookie%3A%20y",
            ),
            (
                "../../etc/passwd",
                ".._.._etc_passwd",
                "..%2F..%2Fetc%2Fpasswd",
            ),
            ("café.pdf", "caf_.pdf", "caf%C3%A9.pdf"),
        ] {
            let value = content_disposition(name);
            let text = value.to_str().unwrap();
            assert_eq!(
                text,
                format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"),
                "{name:?}"
            );
        }
    }
}
