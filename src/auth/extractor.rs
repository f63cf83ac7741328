//! `Authorization: Bearer <access token>` → the authenticated user, for any handler:
//!
//! ```ignore
//! async fn me(user: AuthenticatedUser) -> Result<HttpResponse, ApiError> { ... }
//! async fn deposit(Banker(user): Banker) -> Result<HttpResponse, ApiError> { ... }
//! ```
//!
//! Access tokens are checked by key, expiry and the process's set of logged-out sessions
//! (`auth::revocation`), without a database round trip.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use uuid::Uuid;

use super::token::TokenPurpose;
use crate::domain::{Role, Username};
use crate::error::ApiError;
use crate::startup::AppState;

/// The caller, as its access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub username: Username,
    pub role: Role,
    pub session_id: Uuid,
}

impl AuthenticatedUser {
    pub fn is_banker(&self) -> bool {
        self.role == Role::Banker
    }

    /// 403 unless the caller is a banker.
    pub fn require_banker(&self) -> Result<(), ApiError> {
        if self.is_banker() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only a banker may do this".to_owned()))
        }
    }

    /// 403 unless the caller is `owner` or a banker.
    pub fn require_owner_or_banker(&self, owner: &str) -> Result<(), ApiError> {
        if self.is_banker() || self.username.as_str() == owner {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the owner or a banker may do this".to_owned(),
            ))
        }
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthenticatedUser, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

/// An authenticated banker; anyone else gets 403 `forbidden` (401 without a valid token).
#[derive(Debug, Clone)]
pub struct Banker(pub AuthenticatedUser);

impl FromRequest for Banker {
    type Error = ApiError;
    type Future = Ready<Result<Banker, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request).and_then(|user| {
            user.require_banker()?;
            Ok(Banker(user))
        }))
    }
}

fn authenticate(request: &HttpRequest) -> Result<AuthenticatedUser, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState is not registered")))?;
    let token = bearer_token(request)?;
    let payload = state.tokens.verify(TokenPurpose::Access, token)?;
    if state
        .revoked
        .is_revoked(payload.session_id, payload.issued_at)
    {
        return Err(ApiError::Unauthenticated(
            "the session has ended (logged out)".to_owned(),
        ));
    }
    Ok(AuthenticatedUser {
        username: payload.username,
        role: payload.role,
        session_id: payload.session_id,
    })
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization header".to_owned()))?;
    let malformed = || {
        ApiError::Unauthenticated("the Authorization header must be `Bearer <token>`".to_owned())
    };
    let (scheme, token) = header
        .to_str()
        .map_err(|_| malformed())?
        .split_once(' ')
        .ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use actix_web::{test, web, App, HttpResponse};
    use uuid::Uuid;

    use super::{AuthenticatedUser, Banker};
    use crate::auth::TokenPurpose;
    use crate::configuration::Settings;
    use crate::domain::{Role, Username};
    use crate::startup::AppState;

    async fn whoami(user: AuthenticatedUser) -> HttpResponse {
        HttpResponse::Ok().body(format!("{} {}", user.username, user.role))
    }

    async fn bankers_only(Banker(user): Banker) -> HttpResponse {
        HttpResponse::Ok().body(user.username.to_string())
    }

    /// A state whose pool never connects: the extractor does not touch the database.
    async fn state() -> web::Data<AppState> {
        let mut settings = Settings::load_with(None, &HashMap::new()).unwrap();
        settings.auth.bcrypt_cost = 4;
        let pool = crate::db::build_pool(&settings.database).unwrap();
        let clock = crate::auth::Clock::system();
        web::Data::new(
            AppState::build(Arc::new(settings), pool, clock)
                .await
                .unwrap(),
        )
    }

    fn token(state: &AppState, role: Role) -> String {
        let username = Username::parse("alice".to_owned()).unwrap();
        state
            .tokens
            .issue(TokenPurpose::Access, &username, role, Uuid::new_v4())
            .unwrap()
            .token
    }

    #[actix_web::test]
    async fn a_remembered_token_of_a_logged_out_session_is_refused() {
        let state = state().await;
        let session_id = Uuid::new_v4();
        let username = Username::parse("alice".to_owned()).unwrap();
        let token = state
            .tokens
            .issue(TokenPurpose::Access, &username, Role::Depositor, session_id)
            .unwrap()
            .token;
        let app = test::init_service(
            App::new()
                .app_data(state.clone())
                .route("/whoami", web::get().to(whoami)),
        )
        .await;
        let whoami = || {
            let request = test::TestRequest::get()
                .uri("/whoami")
                .insert_header(("authorization", format!("Bearer {token}")));
            test::call_service(&app, request.to_request())
        };
        let answer = whoami().await;
        assert_eq!(answer.status(), 200);
        assert_eq!(test::read_body(answer).await, "alice depositor");
        // Verified once, so remembered; the logout must still win on the next request.
        assert_eq!(whoami().await.status(), 200);
        state.revoked.revoke(session_id);
        assert_eq!(whoami().await.status(), 401);
    }

    #[actix_web::test]
    async fn banker_routes_refuse_a_depositor_with_403_and_a_stranger_with_401() {
        let state = state().await;
        let depositor = token(&state, Role::Depositor);
        let banker = token(&state, Role::Banker);
        let app = test::init_service(
            App::new()
                .app_data(state.clone())
                .route("/whoami", web::get().to(whoami))
                .route("/bank", web::get().to(bankers_only)),
        )
        .await;
        let status = |path: &'static str, authorization: Option<String>| {
            let mut request = test::TestRequest::get().uri(path);
            if let Some(value) = authorization {
                request = request.insert_header(("authorization", value));
            }
            test::call_service(&app, request.to_request())
        };
        assert_eq!(
            status("/whoami", Some(format!("bearer {depositor}")))
                .await
                .status(),
            200
        );
        assert_eq!(
            status("/bank", Some(format!("Bearer {depositor}")))
                .await
                .status(),
            403
        );
        assert_eq!(
            status("/bank", Some(format!("Bearer {banker}")))
                .await
                .status(),
            200
        );
        assert_eq!(status("/bank", None).await.status(), 401);
    }
}
