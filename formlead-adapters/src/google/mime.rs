//! Building the RFC 5322 message of a draft: From, To (RFC 2047 for
//! non-ASCII names), Subject, our Message-ID, threading headers, and a
//! text + HTML multipart/alternative body.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use formlead_core::ports::OutgoingMail;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;

/// `<id@host>` → `id@host`.
pub fn bare_id(message_id: &str) -> &str {
    message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
}

/// Strips CR/LF so a value can never start a new header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The message bytes.
///
/// # Errors
/// An I/O error from the builder (writing to memory; not expected).
pub fn build(
    mail: &OutgoingMail,
    from_email: &str,
    from_name: &str,
    date: DateTime<Utc>,
) -> std::io::Result<Vec<u8>> {
    let to: Address<'_> = match &mail.to_name {
        Some(name) => Address::new_address(Some(one_line(name)), mail.to.as_str().to_owned()),
        None => Address::new_address(None::<String>, mail.to.as_str().to_owned()),
    };
    let mut builder = MessageBuilder::new()
        .from(Address::new_address(
            Some(one_line(from_name)),
            from_email.to_owned(),
        ))
        .to(to)
        .subject(one_line(&mail.subject))
        .message_id(MessageId::new(bare_id(&mail.message_id).to_owned()))
        .date(Date::new(date.timestamp()))
        .text_body(mail.body_text.clone())
        .html_body(mail.body_html.clone());
    if let Some(reply) = &mail.reply_to {
        let parent = bare_id(&reply.message_id).to_owned();
        builder = builder
            .in_reply_to(MessageId::new(parent.clone()))
            .references(MessageId::new(parent));
    }
    builder.write_to_vec()
}

/// Gmail's `raw`: the message in base64url.
pub fn raw(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
