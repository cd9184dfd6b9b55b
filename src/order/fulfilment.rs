//! Pick, pack, ship and track: the fulfilment sub-machine, one state per package.
//!
//! A package is `Packed → Booked (carrier chosen) → Shipped (waybill) → InTransit →
//! OutForDelivery → Delivered`, with `Exception`, `RefusedAtDoor` and `ReturnedToSender` on
//! the side. Tracking updates are kept in time order however late they arrive, and a
//! package's state is derived from them, so a late "in transit" never undoes "delivered".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{LineId, PackageId, Sku};
use crate::placement::Variant;
use crate::text::Text;

/// One entry of a pick list: what to take from the shelf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickItem {
    /// The order line.
    pub line: LineId,
    /// SKU to pick.
    pub sku: Sku,
    /// Product name, to check by eye.
    pub product_name: Text,
    /// Variant, to check by eye.
    pub variant: Variant,
    /// Units to pick.
    pub quantity: u32,
}

/// One line's share of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    /// The order line.
    pub line: LineId,
    /// Units of it in this package.
    pub quantity: u32,
}

/// What the packer scanned into a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedItem {
    /// SKU read from the barcode.
    pub sku: String,
    /// Product name on the item.
    pub product_name: String,
    /// Variant on the item's label.
    #[serde(default)]
    pub variant: Variant,
    /// Units scanned.
    pub quantity: u32,
}

impl ScannedItem {
    /// What a correct scan of `quantity` units of `line` reads (SKU, name, variant).
    pub fn of(line: &crate::placement::Line, quantity: u32) -> ScannedItem {
        ScannedItem {
            sku: line.sku.to_string(),
            product_name: line.product_name.to_string(),
            variant: line.variant.clone(),
            quantity,
        }
    }
}

/// One difference between what a package should hold and what was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum PackProblem {
    /// The line does not exist on this order.
    UnknownLine {
        /// The line named.
        line: LineId,
    },
    /// More units than are left to pack for the line.
    ExceedsRemaining {
        /// The line.
        line: LineId,
        /// Units left to pack.
        remaining: u32,
        /// Units asked for.
        requested: u32,
    },
    /// An expected item was not scanned, or too few were.
    Missing {
        /// The line.
        line: LineId,
        /// SKU expected.
        sku: Sku,
        /// Units expected.
        expected: u32,
        /// Units scanned.
        scanned: u32,
    },
    /// More units were scanned than the package should hold.
    TooMany {
        /// The line.
        line: LineId,
        /// SKU.
        sku: Sku,
        /// Units expected.
        expected: u32,
        /// Units scanned.
        scanned: u32,
    },
    /// The right SKU with the wrong variant (size, colour, ...).
    WrongVariant {
        /// SKU scanned.
        sku: String,
        /// Variant scanned.
        scanned: Variant,
    },
    /// The product name on the item is not the ordered one.
    WrongProduct {
        /// SKU scanned.
        sku: String,
        /// Name expected.
        expected: String,
        /// Name scanned.
        scanned: String,
    },
    /// An item that is not in this package at all.
    Unexpected {
        /// SKU scanned.
        sku: String,
        /// Units scanned.
        quantity: u32,
    },
    /// The package would be empty.
    Empty,
}

/// Normalized kinds of carrier tracking events. New kinds will come as carriers report more:
/// hosts matching on it keep a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrackingKind {
    /// The carrier has the parcel.
    PickedUp,
    /// Moving between hubs.
    InTransit,
    /// On the last mile.
    OutForDelivery,
    /// Handed to the recipient.
    Delivered,
    /// Something went wrong (lost, damaged, address not found...).
    Exception,
    /// The recipient refused the parcel (often: cash on delivery not paid).
    RefusedAtDoor,
    /// The parcel came back to the shop.
    ReturnedToSender,
    /// Waiting for the recipient at a parcel locker or pickup station (the last mile, as out
    /// for delivery).
    AwaitingCollection,
    /// In customs.
    Customs,
    /// Sent on to another address or handed to another carrier.
    Rerouted,
    /// On its way back to the shop (not refused at the door, or not said so).
    Returning,
    /// The carrier has the booking and has yet to collect the parcel (the package keeps its
    /// state: it left the shop's hands when the waybill was recorded).
    AwaitingPickup,
}

impl TrackingKind {
    /// In words, for timelines and messages.
    pub fn describe(&self) -> &'static str {
        match self {
            TrackingKind::PickedUp => "picked up by the carrier",
            TrackingKind::InTransit => "in transit",
            TrackingKind::OutForDelivery => "out for delivery",
            TrackingKind::Delivered => "delivered",
            TrackingKind::Exception => "delivery problem",
            TrackingKind::RefusedAtDoor => "refused at the door",
            TrackingKind::ReturnedToSender => "returned to sender",
            TrackingKind::AwaitingCollection => "ready to collect at a parcel locker or pickup station",
            TrackingKind::Customs => "in customs",
            TrackingKind::Rerouted => "re-routed",
            TrackingKind::Returning => "on its way back to the sender",
            TrackingKind::AwaitingPickup => "waiting for the carrier to collect it",
        }
    }

    /// True for kinds after which nothing changes the package any more.
    pub fn is_final(&self) -> bool {
        matches!(self, TrackingKind::Delivered | TrackingKind::ReturnedToSender)
    }
}

/// One tracking update of a package. Kept both in its event and in the order's package, so
/// its texts are shared ([`Text`]) rather than copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingUpdate {
    /// Normalized kind.
    pub kind: TrackingKind,
    /// When it happened, by the carrier's clock.
    pub at: DateTime<Utc>,
    /// The carrier's event id, if it has one (the deduplication key; otherwise kind + time).
    #[serde(default)]
    pub event_id: Text,
    /// Where.
    #[serde(default)]
    pub location: Text,
    /// The carrier's words.
    #[serde(default)]
    pub description: Text,
}

impl TrackingUpdate {
    /// True when `other` is the same carrier event.
    pub fn same_event(&self, other: &TrackingUpdate) -> bool {
        if !self.event_id.is_empty() || !other.event_id.is_empty() {
            self.event_id == other.event_id
        } else {
            self.kind == other.kind && self.at == other.at
        }
    }
}

/// Where a package stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    /// Packed and verified, waiting for a carrier.
    Packed,
    /// A carrier was chosen and the shipment requested.
    Booked,
    /// Handed over; the waybill is recorded.
    Shipped,
    /// Moving.
    InTransit,
    /// On the last mile.
    OutForDelivery,
    /// Delivered (final).
    Delivered,
    /// The carrier reports a problem.
    Exception,
    /// Refused at the door, or otherwise on its way back to the shop.
    RefusedAtDoor,
    /// Back at the shop (final).
    ReturnedToSender,
}

impl PackageState {
    /// True once the parcel left the shop (shipped or any later state).
    pub fn has_shipped(&self) -> bool {
        match self {
            PackageState::Packed | PackageState::Booked => false,
            PackageState::Shipped
            | PackageState::InTransit
            | PackageState::OutForDelivery
            | PackageState::Delivered
            | PackageState::Exception
            | PackageState::RefusedAtDoor
            | PackageState::ReturnedToSender => true,
        }
    }

    /// True when nothing changes the package any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, PackageState::Delivered | PackageState::ReturnedToSender)
    }

    fn after(self, kind: TrackingKind) -> PackageState {
        if self.is_terminal() {
            return self;
        }
        match kind {
            TrackingKind::PickedUp | TrackingKind::InTransit | TrackingKind::Customs | TrackingKind::Rerouted => {
                PackageState::InTransit
            }
            TrackingKind::OutForDelivery | TrackingKind::AwaitingCollection => PackageState::OutForDelivery,
            TrackingKind::Delivered => PackageState::Delivered,
            TrackingKind::Exception => PackageState::Exception,
            TrackingKind::RefusedAtDoor | TrackingKind::Returning => PackageState::RefusedAtDoor,
            TrackingKind::ReturnedToSender => PackageState::ReturnedToSender,
            TrackingKind::AwaitingPickup => self,
        }
    }
}

/// A parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Number within the order.
    pub id: PackageId,
    /// What it holds.
    pub items: Vec<PackageItem>,
    /// Where it stands.
    pub state: PackageState,
    /// Carrier chosen at booking. (These texts are shared, so a copy of the order does not
    /// copy them.)
    pub carrier: Option<Text>,
    /// Service level chosen at booking.
    pub service: Option<Text>,
    /// Why that carrier (from the carrier selector).
    pub selection_reason: Option<Text>,
    /// Waybill (tracking) number, once shipped.
    pub waybill: Option<Text>,
    /// Tracking updates in time order.
    pub tracking: Vec<TrackingUpdate>,
    /// When it was packed.
    pub packed_at: DateTime<Utc>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was delivered (the carrier's time).
    pub delivered_at: Option<DateTime<Utc>>,
    /// Set for the replacement parcel of an exchange: it does not count as the order's goods.
    pub case: Option<crate::ids::CaseId>,
}

impl Package {
    /// A freshly packed parcel.
    pub fn packed(id: PackageId, items: Vec<PackageItem>, at: DateTime<Utc>) -> Package {
        Package {
            id,
            items,
            state: PackageState::Packed,
            carrier: None,
            service: None,
            selection_reason: None,
            waybill: None,
            tracking: Vec::new(),
            packed_at: at,
            shipped_at: None,
            delivered_at: None,
            case: None,
        }
    }

    /// Units of `line` in this package.
    pub fn quantity_of(&self, line: LineId) -> u32 {
        self.items.iter().filter(|i| i.line == line).map(|i| i.quantity).sum()
    }

    /// True when this update was already recorded.
    pub fn knows(&self, update: &TrackingUpdate) -> bool {
        self.tracking.iter().any(|t| t.same_event(update))
    }

    /// Records a tracking update in time order and re-derives the state from the shipped
    /// state through every update, so arrival order does not matter. A parcel already in a
    /// final state (delivered, returned) keeps it: a late, older scan joins the history only.
    pub fn record(&mut self, update: TrackingUpdate) {
        let at = self.tracking.partition_point(|t| t.at <= update.at);
        self.tracking.insert(at, update);
        if self.state.is_terminal() {
            return;
        }
        (self.state, self.delivered_at) = replay(self.tracking.iter());
    }

    /// What [`Package::record`] would make of `update`, without copying the package to find
    /// out: the state and delivery time it would reach, and whether `update` would be the
    /// latest update.
    pub(crate) fn preview(&self, update: &TrackingUpdate) -> Preview {
        let at = self.tracking.partition_point(|t| t.at <= update.at);
        let (before, after) = self.tracking.split_at(at);
        let is_latest = after.last().unwrap_or(update).same_event(update);
        let (state, delivered_at) = if self.state.is_terminal() {
            (self.state, self.delivered_at)
        } else {
            replay(before.iter().chain(std::iter::once(update)).chain(after))
        };
        Preview { state, delivered_at, is_latest }
    }

    /// The latest update by carrier time.
    pub fn latest(&self) -> Option<&TrackingUpdate> {
        self.tracking.last()
    }
}

/// A package's state and delivery time after `updates` (in time order), starting from shipped.
fn replay<'a>(updates: impl Iterator<Item = &'a TrackingUpdate>) -> (PackageState, Option<DateTime<Utc>>) {
    let mut state = PackageState::Shipped;
    let mut delivered_at = None;
    for t in updates {
        state = state.after(t.kind);
        if state == PackageState::Delivered && delivered_at.is_none() {
            delivered_at = Some(t.at);
        }
    }
    (state, delivered_at)
}

/// What recording one more tracking update would do to a package ([`Package::preview`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preview {
    /// The state it would reach.
    pub(crate) state: PackageState,
    /// When it would count as delivered.
    pub(crate) delivered_at: Option<DateTime<Utc>>,
    /// True when the update would be the latest by carrier time.
    pub(crate) is_latest: bool,
}

/// The fulfilment sub-machine of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfilment {
    /// The latest pick list issued (empty before picking starts).
    pub pick_list: Vec<PickItem>,
    /// When picking started.
    pub picking_started: Option<DateTime<Utc>>,
    /// Packages, in the order they were packed.
    pub packages: Vec<Package>,
}

impl Fulfilment {
    /// The order's own parcels (replacement parcels of exchanges left out).
    pub fn order_packages(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.case.is_none())
    }

    /// Units of `line` packed into any of the order's parcels.
    pub fn packed_quantity(&self, line: LineId) -> u32 {
        self.order_packages().map(|p| p.quantity_of(line)).sum()
    }

    /// Units of `line` in packages that have shipped.
    pub fn shipped_quantity(&self, line: LineId) -> u32 {
        self.order_packages().filter(|p| p.state.has_shipped()).map(|p| p.quantity_of(line)).sum()
    }

    /// Units of `line` in delivered packages.
    pub fn delivered_quantity(&self, line: LineId) -> u32 {
        self.order_packages().filter(|p| p.state == PackageState::Delivered).map(|p| p.quantity_of(line)).sum()
    }

    /// The package with this id.
    pub fn package(&self, id: PackageId) -> Option<&Package> {
        self.packages.iter().find(|p| p.id == id)
    }

    /// The package with this id, to change it.
    pub fn package_mut(&mut self, id: PackageId) -> Option<&mut Package> {
        self.packages.iter_mut().find(|p| p.id == id)
    }

    /// The package carrying this waybill.
    pub fn package_by_waybill(&self, waybill: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.waybill.as_deref() == Some(waybill))
    }

    /// True when any package has left the shop.
    pub fn any_shipped(&self) -> bool {
        self.order_packages().any(|p| p.state.has_shipped())
    }

    /// True when any package is booked with a carrier or further.
    pub fn any_booked(&self) -> bool {
        self.order_packages().any(|p| p.state != PackageState::Packed)
    }
}
