//! What every input (syslog, tail) shares on its way into the [`Intake`]:
//! the [`LineSink`] seam (a fake in unit tests), the source-type rule, and
//! handing a batch over again and again while the intake is busy or
//! unavailable, until it is taken or shutdown comes.

use std::time::Duration;

use async_trait::async_trait;
use sources::Format;
use tokio::sync::watch;
use web::events::{Receipt, Refusal};

use super::Intake;
use super::body::Line;

/// The longest source type an input or a sender may name (the source is
/// `<input>/<peer or file>/<type>`, at most [`super::record::MAX_SOURCE_LEN`]).
pub const MAX_SOURCE_TYPE_LEN: usize = 63;

/// Whether `s` is a source type: 1 to [`MAX_SOURCE_TYPE_LEN`] ASCII
/// letters, digits and `._/-`.
pub fn valid_source_type(s: &str) -> bool {
    (1..=MAX_SOURCE_TYPE_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
}

/// The shortest wait before a refused batch is offered again.
const MIN_RETRY: Duration = Duration::from_millis(100);
/// The longest.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Where an input's lines go: the [`Intake`] (a fake in unit tests).
#[async_trait]
pub(crate) trait LineSink: Send + Sync + 'static {
    async fn submit_lines(
        &self,
        source: &str,
        format: Format,
        lines: Vec<Line>,
    ) -> Result<Receipt, Refusal>;
}

#[async_trait]
impl LineSink for Intake {
    async fn submit_lines(
        &self,
        source: &str,
        format: Format,
        lines: Vec<Line>,
    ) -> Result<Receipt, Refusal> {
        Intake::submit_lines(self, source, format, lines).await
    }
}

/// Resolves when shutdown is asked for (or can no longer be asked for).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// What became of a batch.
pub(crate) enum Delivered {
    /// The intake took it (and refused what it names line by line).
    Taken(Receipt),
    /// The intake refused it whole for good (a bad request, too large).
    Refused(String),
    /// Shutdown came while waiting to offer it again: nothing of it was
    /// acknowledged.
    Shutdown,
}

/// Offers `lines` to `sink` until it takes them, refuses them for good, or
/// shutdown comes while waiting (after `Retry-After`, kept between 100 ms
/// and 30 s). `what` names the lines in the logs ("syslog lines").
pub(crate) async fn until_taken(
    sink: &dyn LineSink,
    source: &str,
    format: Format,
    lines: &[Line],
    what: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Delivered {
    let count = lines.len();
    let mut refusals = 0u32;
    loop {
        // The intake takes the lines by value, and a refused batch must be
        // offered again whole: keep them until they are taken.
        match sink.submit_lines(source, format, lines.to_vec()).await {
            Ok(receipt) => {
                if refusals > 0 {
                    tracing::info!(%source, refusals, "the intake took {what} it had refused");
                }
                return Delivered::Taken(receipt);
            }
            Err(
                Refusal::Busy {
                    message,
                    retry_after_secs,
                }
                | Refusal::Unavailable {
                    message,
                    retry_after_secs,
                },
            ) => {
                refusals += 1;
                let wait = Duration::from_secs(retry_after_secs).clamp(MIN_RETRY, MAX_RETRY);
                if refusals == 1 {
                    tracing::warn!(%source, lines = count, reason = %message, wait_millis = wait.as_millis() as u64, "the intake cannot take {what} now; offering the same lines again");
                } else {
                    tracing::debug!(%source, lines = count, reason = %message, "the intake still cannot take {what}");
                }
                tokio::select! {
                    biased;
                    () = stopped(shutdown) => return Delivered::Shutdown,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            Err(Refusal::BadRequest(reason) | Refusal::TooLarge(reason)) => {
                return Delivered::Refused(reason);
            }
        }
    }
}
