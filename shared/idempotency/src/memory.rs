//! The store's contract in memory; records never expire here (the adapter test covers that).
#![allow(clippy::unwrap_used)] // a poisoned lock is a failed test

use crate::{IdempotencyClaim, IdempotencyStore, StoredResponse};
use application::ports::RepositoryError;
use domain::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
enum Record {
    Running(String),
    Done(String, StoredResponse),
}

#[derive(Clone, Default)]
pub struct InMemoryIdempotencyStore(Arc<Mutex<HashMap<String, Record>>>);

impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        hash: &str,
        _: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        let mut records = self.0.lock().unwrap();
        Ok(match records.get(key) {
            None => {
                records.insert(key.to_owned(), Record::Running(hash.to_owned()));
                IdempotencyClaim::Acquired
            }
            Some(Record::Running(held) | Record::Done(held, _)) if held != hash => {
                IdempotencyClaim::Mismatch
            }
            Some(Record::Running(_)) => IdempotencyClaim::InProgress,
            Some(Record::Done(_, response)) => IdempotencyClaim::Replay(response.clone()),
        })
    }

    async fn complete(
        &self,
        key: &str,
        hash: &str,
        response: &StoredResponse,
        _: Timestamp,
    ) -> Result<(), RepositoryError> {
        self.0.lock().unwrap().insert(
            key.to_owned(),
            Record::Done(hash.to_owned(), response.clone()),
        );
        Ok(())
    }

    async fn release(&self, key: &str, _: &str) -> Result<(), RepositoryError> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}
