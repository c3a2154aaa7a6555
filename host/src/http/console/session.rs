//! The console's sign-in sessions, in this process's memory: a random id in
//! an HttpOnly, SameSite=Strict cookie names one; the session holds who
//! signed in, the token the console acts with (never sent back to the
//! browser), a CSRF token for its forms, and when it ends.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::super::Caller;
use crate::auth::Secret;

/// How long a session lives after its sign-in.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Most sessions kept at once; beyond, the oldest ends.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in console user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who signed in.
    pub(crate) caller: Caller,
    /// How the pages name them: the organization's name, or "operator".
    pub(crate) label: String,
    /// The token they signed in with: the console calls the API with it.
    pub(crate) token: Secret,
    /// The token every form of the session carries.
    pub(crate) csrf: String,
    ends: Instant,
}

/// The sessions of this process.
#[derive(Debug, Default)]
pub(crate) struct ConsoleSessions {
    /// By the SHA-256 of the cookie's id, so that this map never holds a
    /// usable cookie.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl ConsoleSessions {
    /// Starts a session; the cookie's value.
    pub(crate) fn start(&self, caller: Caller, label: String, token: Secret) -> String {
        let id = random_hex();
        let session = Session { caller, label, token, csrf: random_hex(), ends: Instant::now() + LIFETIME };
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        sessions.retain(|_, s| s.ends > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.ends).map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(key(&id), session);
        id
    }

    /// The live session the cookie names.
    pub(crate) fn find(&self, id: &str) -> Option<Session> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.get(&key(id)).filter(|s| s.ends > Instant::now()).cloned()
    }

    /// Ends the session the cookie names.
    pub(crate) fn end(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(&key(id));
    }
}

/// Compares a form's CSRF token with the session's in constant time.
pub(crate) fn csrf_matches(session: &Session, given: &str) -> bool {
    let (a, b) = (Sha256::digest(session.csrf.as_bytes()), Sha256::digest(given.as_bytes()));
    a == b
}
