//! [`MemoryInventory`]: an [`Inventory`] kept in memory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Mutex;

use super::lock;
use crate::effect::StockItem;
use crate::ids::Sku;
use crate::ports::inventory::{Inventory, InventoryError};

/// An [`Inventory`] kept in memory: per SKU, units on hand and units reserved.
///
/// `available = on_hand - reserved`. Reservations are all-or-nothing, every operation is
/// applied at most once per key (a repeated key succeeds without changing anything), and no
/// count ever goes below zero. An unknown SKU has nothing on hand.
///
/// ```
/// use orderflow::{MemoryInventory, Sku};
///
/// let inventory = MemoryInventory::new();
/// let tea = Sku::new("TEA-01").unwrap();
/// inventory.set_stock(&tea, 5);
/// assert_eq!(inventory.stock(&tea), (5, 0));
/// assert_eq!(inventory.available(&tea), 5);
/// ```
#[derive(Default)]
pub struct MemoryInventory {
    inner: Mutex<InventoryInner>,
}

impl fmt::Debug for MemoryInventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("MemoryInventory").field("skus", &inner.levels.len()).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct InventoryInner {
    levels: HashMap<Sku, Level>,
    reserved_keys: HashSet<String>,
    released_keys: HashSet<String>,
    committed_keys: HashSet<String>,
    restocked_keys: HashSet<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Level {
    on_hand: u32,
    reserved: u32,
}

impl Level {
    fn available(&self) -> u32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// The quantity wanted per SKU, in order of first appearance, duplicates summed, zeros dropped.
fn wanted(items: &[StockItem]) -> Vec<(&Sku, u32)> {
    let mut out: Vec<(&Sku, u32)> = Vec::with_capacity(items.len());
    let mut at: HashMap<&Sku, usize> = HashMap::with_capacity(items.len());
    for item in items.iter().filter(|i| i.quantity > 0) {
        match at.get(&item.sku).and_then(|&i| out.get_mut(i)) {
            Some((_, quantity)) => *quantity = quantity.saturating_add(item.quantity),
            None => {
                at.insert(&item.sku, out.len());
                out.push((&item.sku, item.quantity));
            }
        }
    }
    out
}

impl MemoryInventory {
    /// An inventory with nothing in stock.
    pub fn new() -> MemoryInventory {
        MemoryInventory::default()
    }

    /// Sets the units on hand of `sku` (reservations are kept).
    pub fn set_stock(&self, sku: &Sku, on_hand: u32) {
        lock(&self.inner).levels.entry(sku.clone()).or_default().on_hand = on_hand;
    }

    /// `(on_hand, reserved)` of `sku`; `(0, 0)` for an unknown SKU.
    pub fn stock(&self, sku: &Sku) -> (u32, u32) {
        lock(&self.inner).levels.get(sku).map_or((0, 0), |l| (l.on_hand, l.reserved))
    }

    /// Units of `sku` that can still be reserved: on hand minus reserved.
    pub fn available(&self, sku: &Sku) -> u32 {
        lock(&self.inner).levels.get(sku).map_or(0, Level::available)
    }
}

impl InventoryInner {
    fn reserve(&mut self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        if self.reserved_keys.contains(key) {
            return Ok(());
        }
        let wanted = wanted(items);
        for (sku, requested) in &wanted {
            let available = self.levels.get(*sku).map_or(0, Level::available);
            if *requested > available {
                return Err(InventoryError::OutOfStock { sku: (*sku).clone(), requested: *requested, available });
            }
        }
        for (sku, quantity) in wanted {
            let level = self.levels.entry(sku.clone()).or_default();
            level.reserved = level.reserved.saturating_add(quantity);
        }
        self.reserved_keys.insert(key.to_owned());
        Ok(())
    }

    fn release(&mut self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        if !self.released_keys.insert(key.to_owned()) {
            return Ok(());
        }
        for (sku, quantity) in wanted(items) {
            if let Some(level) = self.levels.get_mut(sku) {
                level.reserved = level.reserved.saturating_sub(quantity);
            }
        }
        Ok(())
    }

    fn commit(&mut self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        if !self.committed_keys.insert(key.to_owned()) {
            return Ok(());
        }
        for (sku, quantity) in wanted(items) {
            if let Some(level) = self.levels.get_mut(sku) {
                level.on_hand = level.on_hand.saturating_sub(quantity);
                level.reserved = level.reserved.saturating_sub(quantity);
            }
        }
        Ok(())
    }

    fn restock(&mut self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        if !self.restocked_keys.insert(key.to_owned()) {
            return Ok(());
        }
        for (sku, quantity) in wanted(items) {
            let level = self.levels.entry(sku.clone()).or_default();
            level.on_hand = level.on_hand.saturating_add(quantity);
        }
        Ok(())
    }
}

impl Inventory for MemoryInventory {
    /// Reserves every item or none; the first SKU short of stock is reported. A key already
    /// reserved succeeds without reserving again.
    async fn reserve(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        lock(&self.inner).reserve(key, items)
    }

    /// Lowers the reserved units (never below zero), once per key.
    async fn release(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        lock(&self.inner).release(key, items)
    }

    /// Lowers both on-hand and reserved units (never below zero), once per key.
    async fn commit(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        lock(&self.inner).commit(key, items)
    }

    /// Raises the on-hand units, once per key.
    async fn restock(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        lock(&self.inner).restock(key, items)
    }
}
