//! The text of the emails the service sends. Plain text on purpose: it reads well in every
//! client and in the local mailbox.

use crate::ports::OutgoingEmail;
use domain::User;

pub fn welcome(user: &User) -> OutgoingEmail {
    OutgoingEmail {
        to: user.email().clone(),
        subject: "Welcome aboard".to_owned(),
        text: format!(
            "Hello {name},\n\n\
             Your account is ready and registered to {email}.\n\n\
             If you did not sign up, you can ignore this message.\n\n\
             Welcome, and thank you for joining us.\n",
            name = user.name(),
            email = user.email(),
        ),
    }
}
