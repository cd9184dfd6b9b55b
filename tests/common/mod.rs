//! The shared test shop lives in the library's test kit, so examples use it too.
#![allow(unused_imports)]

pub use orderflow::testing::shop::{SKUS, Shop, sku};

/// A memory inventory holding 100 units of every sample SKU, for engines built by hand.
#[allow(dead_code)]
pub fn stocked_inventory() -> std::sync::Arc<orderflow::MemoryInventory> {
    let inventory = std::sync::Arc::new(orderflow::MemoryInventory::new());
    for s in SKUS {
        inventory.set_stock(&sku(s), 100);
    }
    inventory
}
