//! The text of the emails the service sends. Plain text on purpose: it reads well in every
//! client and in the local mailbox.

use crate::ports::{EmailSecret, OutgoingEmail, SECRET_SLOT};
use domain::{Email, Order, PasskeyName, User};

/// To an address nobody has proved yet: nothing the requester chose (no name), so the service
/// cannot be made to carry someone's words to a stranger.
pub fn welcome(user: &User) -> OutgoingEmail {
    OutgoingEmail::new(
        user.email().clone(),
        "Welcome aboard",
        "Hello,\n\n\
         An account was just registered with this email address.\n\n\
         To choose its password, ask for a password-reset email for this address\n\
         (POST /password-reset) and follow it.\n\n\
         If you did not sign up, you can ignore this message.\n",
    )
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
        secret: None,
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
        secret: None,
    }
}

/// The reset email. `token=<token>` stands on a line of its own so both people and scripts
/// find it; the token is sealed in `secret` and stands in the text only once the mailer opens
/// it. No name: the address may not be proved yet.
pub fn password_reset(to: &Email, secret: EmailSecret, valid_for_minutes: i64) -> OutgoingEmail {
    OutgoingEmail {
        secret: Some(secret),
        ..OutgoingEmail::new(
            to.clone(),
            "Reset your password",
            format!(
                "Hello,\n\n\
                 Someone asked to set a new password for the account of this address. If it was\n\
                 you, send this token with your new password (POST /password-reset/confirm) within\n\
                 {valid_for_minutes} minutes:\n\n\
                 token={SECRET_SLOT}\n\n\
                 It works once. If you did not ask, ignore this message: your password stays as it is.\n"
            ),
        )
    }
}

/// The email-change token, to the new address: proof that the address is the user's. Like
/// the reset email, `token=<token>` stands on a line of its own, sealed until the mailer sends
/// it, and the text carries nothing the requester chose.
pub fn email_change_token(
    new_email: &Email,
    secret: EmailSecret,
    valid_for_minutes: i64,
) -> OutgoingEmail {
    OutgoingEmail {
        secret: Some(secret),
        ..OutgoingEmail::new(
            new_email.clone(),
            "Confirm your new email address",
            format!(
                "Hello,\n\n\
                 Someone asked to move an account to this address. If it was you, send this token\n\
                 (POST /email-change/confirm) within {valid_for_minutes} minutes:\n\n\
                 token={SECRET_SLOT}\n\n\
                 It works once. If you did not ask, ignore this message: nothing changes.\n"
            ),
        )
    }
}

/// When the user asked to move the account to another address: to the current address at
/// once, with the new one masked, so an owner whose token was stolen hears of it before the
/// change can be confirmed. Never a token.
pub fn email_change_requested(user: &User, new_email: &Email) -> OutgoingEmail {
    OutgoingEmail {
        to: user.email().clone(),
        subject: "A change of your email address was asked for".to_owned(),
        text: format!(
            "Hello {name},

             Someone signed in to your account asked to move it to {masked}.
             Nothing changes until that address confirms.

             If this was you, there is nothing more to do.

             If it was not, change your password now (or ask for a password-reset email),
             which cancels the request, and sign out everywhere.
",
            name = user.name(),
            masked = new_email.masked(),
        ),
        secret: None,
    }
}

/// After an address was changed: to the address the user had before, so an owner who did not
/// ask hears of it where they can still read mail. Never a token.
pub fn email_changed(user: &User, previous: Email) -> OutgoingEmail {
    OutgoingEmail {
        to: previous.clone(),
        subject: "Your email address was changed".to_owned(),
        text: format!(
            "Hello {name},\n\n\
             The email address of your account was just changed from {previous} to\n\
             {email}. Messages about the account go to the new address from now on.\n\n\
             If this was you, there is nothing more to do.\n\n\
             If it was not, reply to this message or contact us right away, so we can\n\
             secure your account.\n",
            name = user.name(),
            email = user.email(),
        ),
        secret: None,
    }
}

/// When a second factor was turned on: to the (proved) address, so an owner who did not do it
/// hears of it. Never the secret or a code.
pub fn two_step_sign_in_on(user: &User) -> OutgoingEmail {
    OutgoingEmail::new(
        user.email().clone(),
        "Two-step sign-in is on",
        format!(
            "Hello {name},\n\n\
             Two-step sign-in was just turned on for your account: from now on, signing in\n\
             takes your password and a code from your authenticator app (or one of your\n\
             recovery codes).\n\n\
             If this was you, keep your recovery codes somewhere safe.\n\n\
             If it was not, ask for a password-reset email right away (POST /password-reset)\n\
             and let us know.\n",
            name = user.name(),
        ),
    )
}

/// When a second factor was turned off, by the user or by an administrator's account-recovery
/// reset: every device was signed out, and an owner who did not do it hears of it.
pub fn two_step_sign_in_off(user: &User) -> OutgoingEmail {
    OutgoingEmail::new(
        user.email().clone(),
        "Two-step sign-in is off",
        format!(
            "Hello {name},\n\n\
             Two-step sign-in was just turned off for your account, and every device that\n\
             was signed in has been signed out: from now on, your password alone signs in.\n\n\
             If this was you or an administrator you asked, there is nothing more to do; you\n\
             can turn it on again at any time.\n\n\
             If it was not, ask for a password-reset email right away (POST /password-reset)\n\
             and let us know.\n",
            name = user.name(),
        ),
    )
}

/// When a passkey was added to an account: an owner who did not add it hears of it.
pub fn passkey_added(user: &User, name: &PasskeyName) -> OutgoingEmail {
    OutgoingEmail::new(
        user.email().clone(),
        "A passkey was added to your account",
        format!(
            "Hello {name},\n\n\
             A passkey named \"{passkey}\" was just added to your account: it signs in\n\
             without a password.\n\n\
             If this was you, there is nothing more to do.\n\n\
             If it was not, remove it (DELETE /users/{{id}}/passkeys/{{passkey_id}}), ask for a\n\
             password-reset email right away (POST /password-reset) and let us know.\n",
            name = user.name(),
            passkey = name,
        ),
    )
}

/// When a passkey was removed from an account, by its user or by an administrator.
pub fn passkey_removed(user: &User, name: &PasskeyName) -> OutgoingEmail {
    OutgoingEmail::new(
        user.email().clone(),
        "A passkey was removed from your account",
        format!(
            "Hello {name},\n\n\
             The passkey named \"{passkey}\" was just removed from your account; it signs in\n\
             no more.\n\n\
             If this was not you or an administrator you asked, ask for a password-reset\n\
             email right away (POST /password-reset) and let us know.\n",
            name = user.name(),
            passkey = name,
        ),
    )
}
