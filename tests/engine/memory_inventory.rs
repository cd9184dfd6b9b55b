//! `MemoryInventory`: all-or-none reservations, idempotent keys, release/commit/restock
//! arithmetic, stock that never goes negative, failures injected around it and a reservation
//! race.

use std::sync::Arc;

use orderflow::ports::{Inventory, InventoryError};
use orderflow::testing::Failing;
use orderflow::{MemoryInventory, Sku, StockItem};

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn item(s: &str, quantity: u32) -> StockItem {
    StockItem { sku: sku(s), quantity }
}

fn inventory(levels: &[(&str, u32)]) -> MemoryInventory {
    let inv = MemoryInventory::new();
    for (s, on_hand) in levels {
        inv.set_stock(&sku(s), *on_hand);
    }
    inv
}

#[tokio::test]
async fn reserve_is_all_or_none() {
    let inv = inventory(&[("TEA", 5), ("MUG", 1)]);
    let err = inv.reserve("o1/reserve", &[item("TEA", 2), item("MUG", 2), item("CUP", 1)]).await.unwrap_err();
    assert_eq!(err, InventoryError::OutOfStock { sku: sku("MUG"), requested: 2, available: 1 });
    assert_eq!(inv.stock(&sku("TEA")), (5, 0), "nothing reserved when one line is short");
    assert_eq!(inv.stock(&sku("MUG")), (1, 0));

    // Unknown SKUs have nothing available.
    let err = inv.reserve("o2/reserve", &[item("CUP", 1)]).await.unwrap_err();
    assert_eq!(err, InventoryError::OutOfStock { sku: sku("CUP"), requested: 1, available: 0 });

    inv.reserve("o3/reserve", &[item("TEA", 2), item("MUG", 1)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (5, 2));
    assert_eq!(inv.stock(&sku("MUG")), (1, 1));
    assert_eq!(inv.available(&sku("TEA")), 3);
    assert_eq!(inv.available(&sku("MUG")), 0);
}

#[tokio::test]
async fn duplicate_skus_in_one_request_are_summed() {
    let inv = inventory(&[("TEA", 3)]);
    let err = inv.reserve("o1/reserve", &[item("TEA", 2), item("TEA", 2)]).await.unwrap_err();
    assert_eq!(err, InventoryError::OutOfStock { sku: sku("TEA"), requested: 4, available: 3 });
    inv.reserve("o2/reserve", &[item("TEA", 1), item("TEA", 2)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (3, 3));
}

#[tokio::test]
async fn keys_make_every_operation_idempotent() {
    let inv = inventory(&[("TEA", 10)]);
    let items = [item("TEA", 3)];
    inv.reserve("o1/reserve", &items).await.unwrap();
    inv.reserve("o1/reserve", &items).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (10, 3), "a repeated reservation is not applied twice");

    inv.commit("o1/commit/P1", &items).await.unwrap();
    inv.commit("o1/commit/P1", &items).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (7, 0), "a repeated commit is not applied twice");

    inv.restock("o1/restock/P1", &items).await.unwrap();
    inv.restock("o1/restock/P1", &items).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (10, 0), "a repeated restock is not applied twice");

    inv.reserve("o2/reserve", &items).await.unwrap();
    inv.release("o2/release", &items).await.unwrap();
    inv.reserve("o3/reserve", &items).await.unwrap();
    inv.release("o2/release", &items).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (10, 3), "a repeated release does not release another order's units");

    // The same key may name a reservation and its release.
    inv.reserve("o4", &items).await.unwrap();
    inv.release("o4", &items).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (10, 3));
}

#[tokio::test]
async fn a_refused_reservation_can_be_retried_with_its_key() {
    let inv = inventory(&[("TEA", 1)]);
    assert!(inv.reserve("o1/reserve", &[item("TEA", 2)]).await.is_err());
    inv.set_stock(&sku("TEA"), 2);
    inv.reserve("o1/reserve", &[item("TEA", 2)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (2, 2));
}

#[tokio::test]
async fn release_commit_and_restock_arithmetic() {
    let inv = inventory(&[("TEA", 10), ("MUG", 4)]);
    inv.reserve("o1/reserve", &[item("TEA", 6), item("MUG", 4)]).await.unwrap();
    assert_eq!((inv.stock(&sku("TEA")), inv.stock(&sku("MUG"))), ((10, 6), (4, 4)));

    // Part ships: on hand and reserved both go down.
    inv.commit("o1/commit/P1", &[item("TEA", 4), item("MUG", 1)]).await.unwrap();
    assert_eq!((inv.stock(&sku("TEA")), inv.stock(&sku("MUG"))), ((6, 2), (3, 3)));

    // The rest is cancelled: reserved goes down, on hand stays.
    inv.release("o1/release", &[item("TEA", 2), item("MUG", 3)]).await.unwrap();
    assert_eq!((inv.stock(&sku("TEA")), inv.stock(&sku("MUG"))), ((6, 0), (3, 0)));

    // The shipped parcel comes back.
    inv.restock("o1/restock/P1", &[item("TEA", 4), item("MUG", 1)]).await.unwrap();
    assert_eq!((inv.stock(&sku("TEA")), inv.stock(&sku("MUG"))), ((10, 0), (4, 0)));
    assert_eq!(inv.available(&sku("TEA")), 10);

    // Restocking a SKU never seen before puts it on the shelf.
    inv.restock("o9/restock/P1", &[item("CUP", 2)]).await.unwrap();
    assert_eq!(inv.stock(&sku("CUP")), (2, 0));
}

#[tokio::test]
async fn stock_never_goes_negative() {
    let inv = inventory(&[("TEA", 2)]);
    inv.reserve("o1/reserve", &[item("TEA", 1)]).await.unwrap();
    inv.release("o1/release", &[item("TEA", 5)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (2, 0));
    inv.commit("o1/commit/P1", &[item("TEA", 7)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (0, 0));
    inv.release("o2/release", &[item("NEVER", 1)]).await.unwrap();
    inv.commit("o2/commit/P1", &[item("NEVER", 1)]).await.unwrap();
    assert_eq!(inv.stock(&sku("NEVER")), (0, 0));

    // Fewer on hand than reserved (stock counted down by hand): nothing is available.
    inv.set_stock(&sku("TEA"), 3);
    inv.reserve("o3/reserve", &[item("TEA", 3)]).await.unwrap();
    inv.set_stock(&sku("TEA"), 1);
    assert_eq!(inv.available(&sku("TEA")), 0);
    assert!(matches!(
        inv.reserve("o4/reserve", &[item("TEA", 1)]).await,
        Err(InventoryError::OutOfStock { available: 0, .. })
    ));

    // Restocking saturates instead of overflowing.
    inv.set_stock(&sku("MAX"), u32::MAX - 1);
    inv.restock("o5/restock/P1", &[item("MAX", 10)]).await.unwrap();
    assert_eq!(inv.stock(&sku("MAX")), (u32::MAX, 0));
}

#[tokio::test]
async fn injected_failures_change_nothing() {
    let inv = Arc::new(inventory(&[("TEA", 5)]));
    let failing = Failing::new(inv.clone());
    failing.switch().fail_next(2);
    assert!(matches!(failing.reserve("o1/reserve", &[item("TEA", 1)]).await, Err(InventoryError::Unavailable(_))));
    assert!(matches!(failing.restock("o1/restock/P1", &[item("TEA", 1)]).await, Err(InventoryError::Unavailable(_))));
    assert_eq!(inv.stock(&sku("TEA")), (5, 0));
    // The keys were not used up by the failed calls.
    failing.reserve("o1/reserve", &[item("TEA", 1)]).await.unwrap();
    failing.restock("o1/restock/P1", &[item("TEA", 1)]).await.unwrap();
    assert_eq!(inv.stock(&sku("TEA")), (6, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_buyers_race_for_the_last_unit() {
    let inv = Arc::new(inventory(&[("LAST", 1)]));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let inv = Arc::clone(&inv);
        tasks.push(tokio::spawn(async move { inv.reserve(&format!("o{i}/reserve"), &[item("LAST", 1)]).await }));
    }
    let mut won = 0;
    let mut out_of_stock = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(InventoryError::OutOfStock { requested: 1, available: 0, .. }) => out_of_stock += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((won, out_of_stock), (1, 49));
    assert_eq!(inv.stock(&sku("LAST")), (1, 1));
}
