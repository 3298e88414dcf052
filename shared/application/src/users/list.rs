use crate::ports::{Page, PageError, RepositoryError, UserListQuery, UserRepository};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Email, User};
use futures::future::join;

/// What `GET /users` asks for: a page of a listing, or the user that holds an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSearch {
    Listing(UserListQuery),
    /// Compared by normalized form; active and suspended users hold their address, deleted
    /// users none.
    Email(Email),
}

command!(UserSearch => Page<User>, ListUsersError);

#[derive(Debug, thiserror::Error)]
pub enum ListUsersError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Lists users by status, newest first, one page at a time, or finds one by address.
pub struct ListUsers<R> {
    users: R,
}

impl<R: UserRepository> ListUsers<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }

    async fn search(&self, search: &UserSearch) -> Result<Page<User>, ListUsersError> {
        match search {
            UserSearch::Listing(query) => {
                self.users.list(query).await.map_err(|error| match error {
                    PageError::InvalidCursor => ListUsersError::InvalidCursor,
                    PageError::Repository(error) => ListUsersError::Repository(error),
                })
            }
            UserSearch::Email(email) => Ok(Page {
                items: self.users.find_by_email(email).await?.into_iter().collect(),
                next_cursor: None,
            }),
        }
    }
}

impl<R: UserRepository> UseCase<UserSearch> for ListUsers<R> {
    fn policy(&self) -> Policy {
        Policy::Admin
    }

    async fn run(&self, caller: &Caller, search: UserSearch) -> Result<Page<User>, ListUsersError> {
        // The caller's record beside the page: one round trip of latency.
        let (standing, page) = join(
            read_for::<R, ListUsersError>(&self.users, caller, self.policy(), None),
            self.search(&search),
        )
        .await;
        standing?;
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryUsers, user_with_email};
    use crate::ports::{Cursor, PageLimit, StatusFilter};
    use domain::{UserId, UserStatus};

    fn query(status: StatusFilter, limit: &str, cursor: Option<Cursor>) -> UserSearch {
        UserSearch::Listing(UserListQuery {
            status,
            limit: PageLimit::parse(limit).unwrap(),
            cursor,
        })
    }

    #[tokio::test]
    async fn paging_to_the_end_returns_every_matching_user_once_newest_first() {
        let users = InMemoryUsers::default();
        let mut expected: Vec<UserId> = Vec::new();
        for n in 0..7 {
            let mut user = user_with_email(&format!("u{n}@example.com"));
            if n == 3 {
                user.delete().unwrap();
            } else {
                expected.push(user.id());
            }
            users.add(user);
        }
        let admin = users.admin_caller();
        expected.push(admin.user_id().unwrap());
        expected.reverse();
        let list = ListUsers::new(users.clone());

        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = list
                .execute(&admin, query(StatusFilter::NotDeleted, "2", cursor))
                .await
                .unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.iter().map(|user| user.id()));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn a_status_filter_returns_only_that_status() {
        let users = InMemoryUsers::default();
        let mut suspended = user_with_email("s@example.com");
        suspended.suspend().unwrap();
        let suspended = users.add(suspended);
        users.add(user_with_email("a@example.com"));

        let page = ListUsers::new(users.clone())
            .execute(
                &users.admin_caller(),
                query(StatusFilter::Only(UserStatus::Suspended), "20", None),
            )
            .await
            .unwrap();
        assert_eq!(page.items, vec![suspended]);
        assert_eq!(page.next_cursor, None);
    }

    #[tokio::test]
    async fn a_foreign_cursor_is_invalid() {
        let users = InMemoryUsers::default();
        let list = ListUsers::new(users.clone());
        let result = list
            .execute(
                &users.admin_caller(),
                query(StatusFilter::NotDeleted, "20", Some(Cursor::new("garbage"))),
            )
            .await;
        assert!(matches!(result, Err(ListUsersError::InvalidCursor)));
    }

    #[tokio::test]
    async fn an_address_finds_its_active_or_suspended_holder_in_any_case_and_no_deleted_one() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let mut suspended = user_with_email("grace@example.com");
        suspended.suspend().unwrap();
        let suspended = users.add(suspended);
        let mut deleted = user_with_email("gone@example.com");
        deleted.delete().unwrap();
        users.add(deleted);
        let list = ListUsers::new(users.clone());
        let admin = users.admin_caller();
        let find = |address: &str| {
            let search = UserSearch::Email(Email::parse(address).unwrap());
            let (list, admin) = (&list, &admin);
            async move { list.execute(admin, search).await.unwrap() }
        };
        assert_eq!(find("ADA@Example.com").await.items, vec![ada]);
        assert_eq!(find("grace@example.com").await.items, vec![suspended]);
        let none = find("gone@example.com").await;
        assert_eq!((none.items, none.next_cursor), (vec![], None));

        let user = users.add(user_with_email("u@example.com"));
        let own = list
            .execute(
                &users.sign_in(&user),
                UserSearch::Email(Email::parse("ada@example.com").unwrap()),
            )
            .await;
        assert!(matches!(own, Err(ListUsersError::Denied(_))));
    }
}
