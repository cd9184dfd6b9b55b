//! The inventory port: reserve at placement, release on cancellation, commit when shipped,
//! restock when goods come back. Every call is idempotent by key, and stock never goes negative.

use std::future::Future;
use std::sync::Arc;

use crate::effect::StockItem;
use crate::ids::Sku;

/// Why the inventory refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// Not enough available stock; nothing was reserved. Tell the buyer.
    #[error("out of stock: {sku} has {available} available, {requested} requested")]
    OutOfStock {
        /// Which SKU.
        sku: Sku,
        /// Units asked for.
        requested: u32,
        /// Units available.
        available: u32,
    },
    /// The inventory system is down; retry later.
    #[error("inventory unavailable: {0}")]
    Unavailable(String),
}

impl InventoryError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            InventoryError::OutOfStock { .. } => "out_of_stock",
            InventoryError::Unavailable(_) => "inventory_unavailable",
        }
    }
}

/// The shop's stock.
#[dynosaur::dynosaur(pub DynInventory = dyn(box) Inventory)]
pub trait Inventory: Send + Sync {
    /// Reserves every item or none.
    fn reserve(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send;
    /// Gives back the reservation made under `reservation_key`, for these items.
    fn release(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send;
    /// Reserved units left the warehouse.
    fn commit(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send;
    /// Units came back and can be sold again.
    fn restock(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send;
}

impl<T: Inventory + ?Sized> Inventory for Arc<T> {
    fn reserve(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send {
        (**self).reserve(key, items)
    }
    fn release(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send {
        (**self).release(key, items)
    }
    fn commit(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send {
        (**self).commit(key, items)
    }
    fn restock(&self, key: &str, items: &[StockItem]) -> impl Future<Output = Result<(), InventoryError>> + Send {
        (**self).restock(key, items)
    }
}
