//! `GoogleCalendar`: the [`CalendarPort`] over the freeBusy API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use formlead_core::ports::{BusyBlock, CalendarError, CalendarPort};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::oauth::GoogleApi;

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
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    api: GoogleApi,
    calendar_id: String,
}

impl GoogleCalendar {
    pub fn new(api: GoogleApi, calendar_id: &str) -> Self {
        Self {
            api,
            calendar_id: calendar_id.to_owned(),
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
        let body = json!({
            "timeMin": from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "timeMax": to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "timeZone": "UTC",
            "items": [{"id": self.calendar_id}],
        });
        let answer: FreeBusy = self
            .api
            .read(|t| {
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
