//! The seeded users' sessions and access tokens, made exactly as a login makes them.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{TokenMaker, TokenPurpose};
use crate::domain::{Role, Username};

/// A session row per user, and the access token that names it.
pub struct SeededSession {
    pub username: String,
    pub id: Uuid,
    pub refresh_token_id: Uuid,
    pub access_token: String,
    pub expires_at: OffsetDateTime,
}

/// Access tokens exactly as a login makes them (same maker, same claims), with the seed's TTL.
/// Each names a session row, inserted with the users, as a login's would.
pub fn issue(tokens: &TokenMaker, usernames: &[String]) -> anyhow::Result<Vec<SeededSession>> {
    usernames
        .iter()
        .map(|name| {
            let username = Username::parse(name.clone())?;
            let session_id = Uuid::new_v4();
            let access = tokens
                .issue(TokenPurpose::Access, &username, Role::Depositor, session_id)
                .map_err(|error| anyhow::anyhow!("issuing an access token: {error}"))?;
            Ok(SeededSession {
                username: name.clone(),
                id: session_id,
                // No refresh token is handed out: the session exists so the access token names a
                // real one (logout blocks it like any other).
                refresh_token_id: Uuid::new_v4(),
                access_token: access.token,
                expires_at: access.payload.expires_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::configuration::Settings;

    #[test]
    fn seeded_tokens_are_access_tokens_the_service_accepts() {
        let settings = Settings::load_with(None, &HashMap::new()).unwrap();
        let mut token_settings = settings.token.clone();
        token_settings.access_ttl = Duration::from_secs(7200);
        let maker = TokenMaker::new(&token_settings).unwrap();
        let names = vec!["seed_ab_1".to_owned(), "seed_ab_2".to_owned()];
        let sessions = issue(&maker, &names).unwrap();
        // The service verifies with its own maker (its configured TTL does not matter).
        let service = TokenMaker::new(&settings.token).unwrap();
        for (name, session) in names.iter().zip(&sessions) {
            let payload = service
                .verify(TokenPurpose::Access, &session.access_token)
                .unwrap();
            assert_eq!(payload.username.as_str(), name);
            assert_eq!(payload.session_id, session.id);
            assert_eq!(payload.role, Role::Depositor);
            assert_eq!(
                payload.expires_at - payload.issued_at,
                time::Duration::hours(2)
            );
        }
    }
}
