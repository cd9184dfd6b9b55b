//! Idempotency keys of requests (placements and keyed commands): scoped to the actor who sent
//! them, bounded in length, and bound to the request they first came with.
//!
//! A key is recorded as two dedupe keys in the same commit as the request's events:
//! - the *scope* row, `{kind}/{actor}/{key}`: "this actor used this key";
//! - the *request* row, `{kind}={fingerprint}/{actor}/{key}`: "... for this exact request".
//!
//! A repeat finds both rows and is answered with the first outcome; the same key with another
//! request finds only the scope row and is refused ([`EngineError::IdempotencyKeyReused`], as
//! payment APIs such as Stripe do); another actor's key finds neither. The actor part is
//! length-prefixed, so no choice of ids and keys makes two actors' rows equal.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EngineError;
use crate::actor::Actor;
use crate::error::Error;
use crate::ids::OrderId;
use crate::ports::OrderRepository;

/// The longest idempotency key accepted, in bytes (as the common payment APIs allow).
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// A checked idempotency key, as the two dedupe keys it is stored as (public for hosts and
/// benchmarks that write the same rows as the engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// `[scope row, request row]`, written with the commit.
    rows: [String; 2],
}

impl RequestKey {
    /// Checks `key` (1 to [`MAX_IDEMPOTENCY_KEY_BYTES`] bytes, no control characters) and binds
    /// it to `actor`, the kind of request (`place`, or a command on one order) and the request
    /// itself (`request`, fingerprinted through its JSON form).
    ///
    /// # Errors
    /// [`Error::InvalidField`] for `idempotency_key` when the key breaks a rule.
    pub fn new(kind: &str, actor: &Actor, key: &str, request: &impl Serialize) -> Result<RequestKey, Error> {
        if key.is_empty() {
            return Err(invalid("an idempotency key must not be empty"));
        }
        if key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
            return Err(invalid(format!(
                "an idempotency key must be at most {MAX_IDEMPOTENCY_KEY_BYTES} bytes, this one has {}",
                key.len()
            )));
        }
        if key.chars().any(char::is_control) {
            return Err(invalid("an idempotency key must not contain control characters"));
        }
        let scope = actor_scope(actor);
        let fingerprint = fingerprint(request)?;
        Ok(RequestKey { rows: [format!("{kind}/{scope}/{key}"), format!("{kind}={fingerprint}/{scope}/{key}")] })
    }

    /// The dedupe keys to write with the commit.
    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    /// What the store knows of this key: `Some(order)` when this exact request was committed
    /// before (answer with that order), `None` when the key is new, and
    /// [`EngineError::IdempotencyKeyReused`] when the actor used it for another request.
    pub(crate) async fn seen(&self, store: &(impl OrderRepository + ?Sized)) -> Result<Option<OrderId>, EngineError> {
        let [scope, request] = &self.rows;
        if store.find_by_key(scope).await?.is_none() {
            return Ok(None);
        }
        match store.find_by_key(request).await? {
            Some(id) => Ok(Some(id)),
            None => Err(EngineError::IdempotencyKeyReused),
        }
    }
}

/// Who the key belongs to, length-prefixed so that no id can end inside another's.
fn actor_scope(actor: &Actor) -> String {
    let (kind, id) = match actor {
        Actor::Buyer { customer } => ("buyer", customer.to_string()),
        Actor::Staff { id, .. } => ("staff", id.to_string()),
        Actor::System => ("system", String::new()),
        Actor::PaymentProvider { provider } => ("provider", provider.to_string()),
        Actor::Carrier { carrier } => ("carrier", carrier.to_string()),
    };
    format!("{kind}:{}:{id}", id.len())
}

/// The first 128 bits of the SHA-256 of the request's JSON form, in hex. The forms and commands
/// serialise deterministically (structs in field order, maps sorted).
fn fingerprint(request: &impl Serialize) -> Result<String, Error> {
    // Plain data always serialises; were it not to, refusing beats a fingerprint shared by all.
    let mut json = Vec::with_capacity(512);
    serde_json::to_writer(&mut json, request)
        .map_err(|e| invalid(format!("the request cannot be fingerprinted: {e}")))?;
    let digest = Sha256::digest(&json);
    let mut hex = String::with_capacity(32);
    for nibble in digest.iter().take(16).flat_map(|byte| [byte >> 4, byte & 0xf]) {
        hex.extend(char::from_digit(u32::from(nibble), 16));
    }
    Ok(hex)
}

fn invalid(rule: impl Into<String>) -> Error {
    Error::InvalidField { field: "idempotency_key", rule: rule.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_bound_to_its_request() {
        let form = |note: &str| serde_json::json!({ "note": note });
        let actor = Actor::System;
        let a = RequestKey::new("place", &actor, "k", &form("a")).unwrap();
        let b = RequestKey::new("place", &actor, "k", &form("b")).unwrap();
        assert_eq!(a.rows[0], b.rows[0]);
        assert_ne!(a.rows[1], b.rows[1]);
    }

    /// The rows are stored: a key recorded by an earlier version must still be found, so their
    /// form (the first 16 bytes of SHA-256 of the request's JSON, in lower-case hex) is pinned.
    #[test]
    fn the_rows_keep_their_stored_form() {
        let key = RequestKey::new("place", &Actor::System, "k", &serde_json::json!({ "note": "a" })).unwrap();
        // `printf '{"note":"a"}' | sha256sum`
        assert_eq!(key.rows, ["place/system:0:/k", "place=5e2fb6d219df19a77870471a3c935173/system:0:/k"]);
    }
}
