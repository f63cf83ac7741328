//! Authentication: bcrypt password hashes, PASETO v4.local tokens, the failed-login limiter and
//! the `Authorization: Bearer` extractor every protected route uses.

pub mod clock;
pub mod extractor;
pub mod limiter;
pub mod password;
pub mod revocation;
pub mod token;

pub use clock::Clock;
pub use extractor::{AuthenticatedUser, Banker};
pub use limiter::{AddressLimiter, LoginAttempt, LoginLimiter, LoginLimits, LoginRefused};
pub use password::PasswordHasher;
pub use revocation::RevokedSessions;
pub use token::{IssuedToken, TokenError, TokenMaker, TokenPayload, TokenPurpose};
