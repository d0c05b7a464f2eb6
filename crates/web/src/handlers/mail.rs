//! Replies by mail to reports that came from the security@ mailbox.

use axum::Extension;
use axum::extract::Path;
use axum::http::StatusCode;
use incidents::ReportId;

use super::parse_id;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::mail_reply::{ReplyError, SharedReplies};
use crate::types::{MailReplyRequest, MailReplyResponse};

/// `POST /api/v1/reports/{id}/reply`. Without a configured mailbox (no
/// [`SharedReplies`] extension) no report is a mail report: 404.
pub async fn reply_by_mail(
    replies: Option<Extension<SharedReplies>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<MailReplyRequest>,
) -> Result<(StatusCode, Json<MailReplyResponse>), ApiError> {
    let id: ReportId = parse_id(&id)?;
    let Some(Extension(replies)) = replies else {
        return Err(ApiError::NotFound);
    };
    if request.text.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "text: must not be empty".to_owned(),
        ));
    }
    if request.text.chars().count() > 20_000 {
        return Err(ApiError::Unprocessable(
            "text: at most 20000 characters".to_owned(),
        ));
    }
    match replies.reply(&caller.viewer(), id, &request.text).await {
        Ok(sent) => Ok((
            StatusCode::CREATED,
            Json(MailReplyResponse {
                message_id: sent.message_id,
                to: sent.to,
                subject: sent.subject,
            }),
        )),
        Err(ReplyError::NotMail) => Err(ApiError::NotFound),
        Err(ReplyError::Store(error)) => Err(error.into()),
        Err(ReplyError::Send(cause)) => {
            tracing::warn!(report = %id, error = %cause, "a reply by mail could not be sent");
            Err(ApiError::Unavailable {
                message: "the reply could not be sent; try again later".to_owned(),
                retry_after_secs: 60,
            })
        }
    }
}
