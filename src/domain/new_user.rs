use super::{Email, FullName, InvalidInput, Password, Username};

/// A sign-up whose every field has been checked.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub password: Password,
    pub full_name: FullName,
    pub email: Email,
}

impl NewUser {
    /// Parses each field, answering the first one that is refused.
    pub fn parse(
        username: String,
        password: String,
        full_name: String,
        email: String,
    ) -> Result<NewUser, InvalidInput> {
        Ok(NewUser {
            username: Username::parse(username)?,
            password: Password::parse(password)?,
            full_name: FullName::parse(full_name)?,
            email: Email::parse(email)?,
        })
    }
}
