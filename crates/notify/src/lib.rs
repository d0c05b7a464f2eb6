//! Notify: delivers notifications (email over SMTP, signed webhooks).
