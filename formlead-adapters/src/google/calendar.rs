//! `GoogleCalendar`: the [`CalendarPort`] over the freeBusy API, with the
//! answer cached for [`CACHE_FOR`]: leads arriving together ask about the
//! same calendar and nearly the same window, and the slots are only
//! offers (re-checked before a send). Concurrent misses share one call.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use formlead_core::ports::{BusyBlock, CalendarError, CalendarPort};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::oauth::GoogleApi;
use crate::http::Op;

/// `freebusy.query`.
const FREEBUSY: Op = Op::new("freebusy.query", 1.0);

/// How long a free/busy answer is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(30);
/// The window asked for runs this much past the one requested, so requests
/// in the next [`CACHE_FOR`] (whose windows end a little later) fit in it.
const WINDOW_PAD: chrono::Duration = chrono::Duration::minutes(10);

/// A free/busy answer and what it covers.
#[derive(Debug, Clone)]
struct Cached {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    busy: Vec<BusyBlock>,
    at: Instant,
}

#[derive(Deserialize)]
struct FreeBusy {
    #[serde(default)]
    calendars: BTreeMap<String, CalendarBusy>,
}

#[derive(Deserialize)]
struct CalendarBusy {
    #[serde(default)]
    busy: Vec<Interval>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Google Calendar free/busy of one calendar.
#[derive(Debug)]
pub struct GoogleCalendar {
    api: GoogleApi,
    calendar_id: String,
    cache: Mutex<Option<Cached>>,
}

impl GoogleCalendar {
    /// Free/busy of `calendar_id` (usually `primary`) through `api`.
    pub fn new(api: GoogleApi, calendar_id: &str) -> Self {
        Self {
            api,
            calendar_id: calendar_id.to_owned(),
            cache: Mutex::new(None),
        }
    }
}

#[async_trait]
impl CalendarPort for GoogleCalendar {
    async fn busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyBlock>, CalendarError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.at.elapsed() < CACHE_FOR
            && c.from <= from
            && c.to >= to
        {
            return Ok(c
                .busy
                .iter()
                .filter(|b| b.end > from && b.start < to)
                .cloned()
                .collect());
        }
        let busy = self.query(from, to + WINDOW_PAD).await?;
        *cache = Some(Cached {
            from,
            to: to + WINDOW_PAD,
            busy: busy.clone(),
            at: Instant::now(),
        });
        Ok(busy.into_iter().filter(|b| b.start < to).collect())
    }
}

impl GoogleCalendar {
    async fn query(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyBlock>, CalendarError> {
        let body = json!({
            "timeMin": from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "timeMax": to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "timeZone": "UTC",
            "items": [{"id": self.calendar_id}],
        });
        let answer: FreeBusy = self
            .api
            .read(FREEBUSY, |t| {
                self.api
                    .client
                    .request(Method::POST, "/freeBusy")
                    .bearer_auth(t)
                    .json(&body)
            })
            .await
            .map_err(crate::http::VendorFailure::into_port)?;
        let Some(cal) = answer.calendars.get(&self.calendar_id) else {
            return Err(CalendarError::permanent(format!(
                "Google Calendar: no answer for calendar {}",
                self.calendar_id
            )));
        };
        if let Some(e) = cal.errors.first() {
            let reason = e
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("unknown");
            let msg = format!(
                "Google Calendar: calendar {} error: {reason}",
                self.calendar_id
            );
            return Err(if reason == "backendError" {
                CalendarError::transient(msg)
            } else {
                CalendarError::permanent(msg)
            });
        }
        Ok(cal
            .busy
            .iter()
            .map(|b| BusyBlock {
                start: b.start,
                end: b.end,
            })
            .collect())
    }
}
