//! Report attachments: download one. An attachment is exactly as visible as
//! its report (the store decides); anything else is 404.
//!
//! The bytes are someone's upload, so the answer is built to never be
//! rendered by a browser: `Content-Disposition: attachment`,
//! `X-Content-Type-Options: nosniff`, a sandboxing `Content-Security-Policy`,
//! and `Cache-Control: private, no-store` (attachments may be sensitive).

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use incidents::{AttachmentId, ReportId};

use super::parse_id;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

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
