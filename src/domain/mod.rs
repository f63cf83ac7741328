//! Input parsed once into types that cannot hold an invalid value. Handlers turn request bodies
//! into these at the edge; everything behind them trusts the type.

mod details;
mod email;
mod full_name;
mod idempotency_key;
mod ids;
mod money;
mod new_user;
mod password;
mod role;
mod username;

pub use details::{parse_details, Description, Metadata, Reference};
pub use email::Email;
pub use full_name::FullName;
pub use idempotency_key::{fingerprint, IdempotencyKey};
pub use ids::{Instant, Page, PendingTimeout, ResourceId, StatementPage};
pub use money::{Amount, CurrencyCode};
pub use new_user::NewUser;
pub use password::Password;
pub use role::Role;
pub use username::Username;

/// Why an input value was refused: one sentence for a person, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);
