//! TEMP STUB
#![allow(missing_docs)]
use crate::placement::{OrderDraft, PlaceOrderForm};
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Default)]
pub struct Limits;
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("violations")]
pub struct Violations(Vec<String>);
impl Violations {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
pub struct Validator;
impl Validator {
    pub fn new(_l: Limits) -> Self {
        Validator
    }
    pub fn validate(&self, _f: &PlaceOrderForm) -> Result<OrderDraft, Violations> {
        todo!()
    }
}
