//! The columns every store indexes an order by, computed in one place from its snapshot.

use chrono::{DateTime, Utc};

use crate::order::{DeadlineKind, Order};
use crate::ports::queries::QueryColumns;
use crate::ports::store::OrderSummary;

/// What the memory, SQLite and PostgreSQL stores look orders up and list them by: the listing
/// summary (number, customer, status, placement time, total), the earliest deadline, the
/// `(carrier, waybill)` pairs and the staff query columns. Computed once per commit by [`IndexColumns::of`], so every store
/// indexes the same things the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexColumns<'a> {
    /// Id, number, customer, status, placement time and total.
    pub summary: OrderSummary,
    /// The earliest deadline set, if any.
    pub deadline: Option<(DateTime<Utc>, DeadlineKind)>,
    /// The order's `(carrier, waybill)` pairs, each once, in the order the order lists them.
    pub waybills: Vec<(&'a str, &'a str)>,
    /// What staff queries filter on besides the summary.
    pub query: QueryColumns,
}

impl<'a> IndexColumns<'a> {
    /// The index columns of `order`.
    pub fn of(order: &'a Order) -> IndexColumns<'a> {
        let mut waybills: Vec<(&str, &str)> = Vec::new();
        for pair in order.carrier_waybills() {
            if !waybills.contains(&pair) {
                waybills.push(pair);
            }
        }
        IndexColumns {
            summary: OrderSummary::of(order),
            deadline: order.next_deadline(),
            waybills,
            query: QueryColumns::of(order),
        }
    }

    /// The waybill pairs, owned (for a store that keeps them past the commit).
    pub fn owned_waybills(&self) -> Vec<(String, String)> {
        self.waybills.iter().map(|&(carrier, waybill)| (carrier.to_owned(), waybill.to_owned())).collect()
    }
}
