use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a user may do: depositors own accounts; bankers also deposit and see every account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Depositor,
    Banker,
}

impl Role {
    /// The name used in JSON, in tokens and in the `users.role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Depositor => "depositor",
            Role::Banker => "banker",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        match text {
            "depositor" => Ok(Role::Depositor),
            "banker" => Ok(Role::Banker),
            other => Err(format!(
                "unknown role `{other}`; expected depositor or banker"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
