//! orderflow: an embeddable order-workflow engine.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod address;
pub mod ids;
pub mod money;
pub mod order_number;
pub mod placement;
pub mod validation;

pub use ids::{CaseId, CustomerId, LineId, OrderId, PackageId, RefundId, Sku, StaffId};
pub use money::{Currency, Money, MoneyError};
