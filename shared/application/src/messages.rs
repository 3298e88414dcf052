//! The text of the emails the service sends. Plain text on purpose: it reads well in every
//! client and in the local mailbox.

use crate::ports::OutgoingEmail;
use domain::{Order, User};

pub fn welcome(user: &User) -> OutgoingEmail {
    OutgoingEmail {
        to: user.email().clone(),
        subject: "Welcome aboard".to_owned(),
        text: format!(
            "Hello {name},\n\n\
             Your account is ready and registered to {email}.\n\n\
             To choose your password, ask for a password-reset email for this address\n\
             (POST /password-reset with {{\"email\": \"{email}\"}}) and follow it.\n\n\
             If you did not sign up, you can ignore this message.\n\n\
             Welcome, and thank you for joining us.\n",
            name = user.name(),
            email = user.email(),
        ),
    }
}

/// After a password was set through a reset token: says so, and what to do if it was not
/// the owner. Never the password, never a token.
pub fn password_changed(user: &User) -> OutgoingEmail {
    OutgoingEmail {
        to: user.email().clone(),
        subject: "Your password was changed".to_owned(),
        text: format!(
            "Hello {name},\n\n\
             The password of your account ({email}) was just changed, and every device that\n\
             was signed in has been signed out.\n\n\
             If this was you, there is nothing more to do.\n\n\
             If it was not, ask for a password-reset email for this address right away\n\
             (POST /password-reset), choose a new password, and let us know.\n",
            name = user.name(),
            email = user.email(),
        ),
    }
}

pub fn order_confirmation(user: &User, order: &Order) -> OutgoingEmail {
    let lines: String = order
        .lines()
        .iter()
        .map(|line| {
            format!(
                "  {quantity} x {sku} at {price} = {total}\n",
                quantity = line.quantity().get(),
                sku = line.sku(),
                price = line.unit_price(),
                total = line.line_total(),
            )
        })
        .collect();
    OutgoingEmail {
        to: user.email().clone(),
        subject: format!("Your order {} is confirmed", order.id()),
        text: format!(
            "Hello {name},\n\n\
             Thank you for your order {id}, placed on {placed}.\n\n\
             {lines}\n\
             Total: {total}\n",
            name = user.name(),
            id = order.id(),
            placed = order.created_at(),
            total = order.total(),
        ),
    }
}

/// The reset email. `token=<token>` stands on a line of its own so both people and scripts
/// find it; the token itself is the only secret here.
pub fn password_reset(user: &User, token: &str, valid_for_minutes: i64) -> OutgoingEmail {
    OutgoingEmail {
        to: user.email().clone(),
        subject: "Reset your password".to_owned(),
        text: format!(
            "Hello {name},\n\n\
             Someone asked to set a new password for this account. If it was you, send this\n\
             token with your new password (POST /password-reset/confirm) within {valid_for_minutes} minutes:\n\n\
             token={token}\n\n\
             It works once. If you did not ask, ignore this message: your password stays as it is.\n",
            name = user.name(),
        ),
    }
}
