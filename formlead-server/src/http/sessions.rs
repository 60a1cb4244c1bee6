//! Dashboard sessions: a random id in the cookie, the session (operator
//! name, CSRF token, expiry) on the server. Logging out ends it; a restart
//! (which a changed operator token needs) ends them all. Nothing in the
//! cookie is derived from the token, so a stolen cookie reveals nothing
//! about it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Sessions last twelve hours.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sessions held at most (the oldest-expiring goes first beyond it).
const MAX_SESSIONS: usize = 10_000;

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub name: String,
    pub csrf: String,
    expires: Instant,
}

/// The server's sessions, by id.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

/// 256 random bits, hex (two v4 UUIDs from the operating system's CSPRNG).
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for `name`; returns its id (the cookie value).
    pub fn start(&self, name: &str) -> String {
        let now = Instant::now();
        let id = random_token();
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                name: name.to_owned(),
                csrf: random_token(),
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    /// The live session with this id.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session (logout).
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_end_on_logout_and_expire() {
        let s = Sessions::default();
        let a = s.start("Jörg");
        let b = s.start("Ana");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "cookie-safe");
        let session = s.get(&a).unwrap();
        assert_eq!(session.name, "Jörg");
        assert_ne!(session.csrf, s.get(&b).unwrap().csrf);
        s.end(&a);
        assert!(s.get(&a).is_none(), "logged out");
        assert!(s.get(&b).is_some());
        assert!(s.get("forged").is_none());
        tokio::time::advance(SESSION_TTL + Duration::from_secs(1)).await;
        assert!(s.get(&b).is_none(), "expired");
    }
}
