//! Pick, pack, ship and track: the fulfilment sub-machine, one state per package.
//!
//! A package is `Packed → Booked (carrier chosen) → Shipped (waybill) → InTransit →
//! OutForDelivery → Delivered`, with `Exception`, `RefusedAtDoor` and `ReturnedToSender` on
//! the side. Tracking updates are kept in time order however late they arrive, and a
//! package's state is derived from them, so a late "in transit" never undoes "delivered".
//!
//! This file holds the whole machine: its states first, then the commands that change them
//! (`decide`) and how its events apply (`evolve`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::carrier_choice::ChoiceReason;
use crate::command::CommandKind;
use crate::decide::shared::{Out, invalid, next_id, required, stock_of_package};
use crate::decide::{Workflow, after};
use crate::effect::{Effect, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::ids::{LineId, PackageId, Sku};
use crate::order::after_sales;
use crate::order::payment::void_uncollected_cod;
use crate::order::{DeadlineKind, Order, OrderStatus};
use crate::placement::Variant;
use crate::text::{Text, Trim};

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
    pub selection_reason: Option<ChoiceReason>,
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

// ---------------------------------------------------------------------------------------------
// Transitions: the commands of this machine (decide) and how its events apply (evolve).
//
// Fulfilment: pick list, packing verified against what was scanned, booking a carrier,
// waybills (which commit the stock) and tracking, one state per package.
// ---------------------------------------------------------------------------------------------

// Deciding.

pub(crate) fn issue_pick_list(order: &Order, out: &mut Out<'_>) -> Result<(), Error> {
    let items: Vec<PickItem> = order
        .lines
        .iter()
        .filter_map(|l| {
            let quantity = order.remaining_to_pack(l);
            (quantity > 0).then(|| PickItem {
                line: l.id,
                sku: l.sku.clone(),
                product_name: l.product_name.clone(),
                variant: l.variant.clone(),
                quantity,
            })
        })
        .collect();
    if items.is_empty() {
        return Err(invalid("lines", "every unit is already packed; nothing left to pick"));
    }
    out.emit(Change::PickListIssued { items });
    Ok(())
}

pub(crate) fn pack(
    order: &Order,
    out: &mut Out<'_>,
    items: &[PackageItem],
    scanned: &[ScannedItem],
) -> Result<(), Error> {
    let items = verify_pack(order, items, scanned)?;
    let id = PackageId(next_id(order.fulfilment.packages.iter().map(|p| p.id.0)));
    out.emit(Change::PackagePacked { package: id, items });
    Ok(())
}

pub(crate) fn book_shipment(
    order: &Order,
    out: &mut Out<'_>,
    status: OrderStatus,
    package: PackageId,
    carrier: &str,
    service: &str,
    reason: &ChoiceReason,
) -> Result<(), Error> {
    let kind = CommandKind::BookShipment;
    required("carrier", carrier)?;
    let parcel = find_package(order, package)?;
    if parcel.case.is_none() && matches!(status, OrderStatus::Delivered | OrderStatus::Completed) {
        return Err(Error::IllegalTransition { command: kind, status });
    }
    if parcel.state != PackageState::Packed {
        return Err(Error::PackageState { package, state: parcel.state, command: kind });
    }
    out.emit(Change::ShipmentBooked {
        package,
        carrier: carrier.trimmed().into(),
        service: service.trimmed().into(),
        reason: reason.clone(),
    });
    out.effect(Effect::CreateShipment {
        package,
        carrier: carrier.trimmed().to_owned(),
        service: service.trimmed().to_owned(),
        items: parcel.items.clone(),
        address: crate::address::Address::clone(&order.shipping_address),
    });
    Ok(())
}

/// The tracking service's correction of a shipped parcel's carrier: recorded on the parcel, and
/// the waybill subscribed again under the right carrier.
pub(crate) fn correct_carrier(order: &Order, out: &mut Out<'_>, waybill: &str, carrier: &str) -> Result<(), Error> {
    required("waybill", waybill)?;
    required("carrier", carrier)?;
    let parcel = order
        .fulfilment
        .package_by_waybill(waybill.trimmed())
        .ok_or_else(|| invalid("waybill", "no shipped parcel of this order has this waybill"))?;
    let carrier = carrier.trimmed();
    out.emit(Change::CarrierCorrected { package: parcel.id, carrier: carrier.into() });
    out.effect(Effect::SubscribeTracking {
        package: parcel.id,
        carrier: carrier.to_owned(),
        waybill: waybill.trimmed().to_owned(),
    });
    Ok(())
}

impl Workflow {
    pub(crate) fn record_waybill(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        package: PackageId,
        waybill: &str,
    ) -> Result<(), Error> {
        required("waybill", waybill)?;
        let parcel = find_package(order, package)?;
        let status = order.status();
        if parcel.case.is_none() && matches!(status, OrderStatus::Delivered | OrderStatus::Completed) {
            return Err(Error::IllegalTransition { command: CommandKind::RecordWaybill, status });
        }
        if parcel.state != PackageState::Booked {
            return Err(Error::PackageState { package, state: parcel.state, command: CommandKind::RecordWaybill });
        }
        let waybill = waybill.trimmed();
        if order.fulfilment.package_by_waybill(waybill).is_some() {
            return Err(invalid("waybill", "another package of this order already has this waybill"));
        }
        out.emit(Change::PackageShipped { package, waybill: waybill.into() });
        out.effect(Effect::CommitStock { package, items: stock_of_package(order, parcel) });
        // A waybill entered by hand is known to no tracking service until it is told.
        out.effect(Effect::SubscribeTracking {
            package,
            carrier: parcel.carrier.as_deref().unwrap_or_default().to_owned(),
            waybill: waybill.to_owned(),
        });
        if let Some(quiet) = self.config.poll_tracking_after {
            out.set_deadline(DeadlineKind::TrackingPoll, Some(after(out.now, quiet)));
        }
        out.notify_buyer(
            order,
            NotificationKind::Shipped {
                package,
                carrier: parcel.carrier.as_deref().unwrap_or_default().to_owned(),
                waybill: waybill.to_owned(),
            },
        );
        let last_to_ship = parcel.case.is_none()
            && order
                .lines
                .iter()
                .all(|l| order.fulfilment.shipped_quantity(l.id) + parcel.quantity_of(l.id) >= l.quantity);
        if last_to_ship {
            out.set_deadline(DeadlineKind::AutoConfirm, Some(after(out.now, self.config.auto_confirm_after_shipping)));
        }
        Ok(())
    }

    pub(crate) fn record_tracking(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        waybill: &str,
        update: &TrackingUpdate,
    ) -> Result<(), Error> {
        let Some(parcel) = order.fulfilment.package_by_waybill(waybill.trimmed()) else {
            return after_sales::return_tracking(order, out, waybill, update);
        };
        let updated = parcel.preview(update);
        out.emit(Change::TrackingRecorded { package: parcel.id, update: update.clone() });
        if updated.is_latest && order.completion.is_none() {
            out.notify_buyer(
                order,
                NotificationKind::TrackingUpdate {
                    package: parcel.id,
                    tracking: update.kind,
                    description: update.description.to_string(),
                },
            );
        }
        if updated.state == PackageState::ReturnedToSender && parcel.state != PackageState::ReturnedToSender {
            out.effect(Effect::Restock { package: parcel.id, items: stock_of_package(order, parcel) });
        }
        self.move_tracking_poll(order, out, parcel.id, updated.state);
        if order.completion.is_some() || order.cancellation.is_some() {
            return Ok(());
        }
        let others_delivered = order
            .fulfilment
            .order_packages()
            .filter(|p| p.id != parcel.id && p.state.has_shipped())
            .all(|p| p.state == PackageState::Delivered);
        let newly_delivered = parcel.case.is_none()
            && updated.state == PackageState::Delivered
            && parcel.state != PackageState::Delivered;
        let refused = matches!(updated.state, PackageState::RefusedAtDoor | PackageState::ReturnedToSender)
            && !matches!(parcel.state, PackageState::RefusedAtDoor | PackageState::ReturnedToSender);
        if refused && parcel.case.is_none() && order.deadlines.auto_confirm_at.is_some() {
            // Goods the buyer refused are not confirmed as received for them.
            out.set_deadline(DeadlineKind::AutoConfirm, None);
        }
        if newly_delivered && others_delivered && order.all_lines_shipped() {
            out.notify_buyer(order, NotificationKind::Delivered);
            let base = updated.delivered_at.unwrap_or(out.now).max(out.now);
            out.set_deadline(DeadlineKind::AutoConfirm, Some(after(base, self.config.auto_confirm_after_delivery)));
        }
        Ok(())
    }
}

impl Workflow {
    /// A tracking event moves the polling deadline on, or clears it once no parcel is in
    /// flight (`changed` is the package the event is for, now in `state`).
    fn move_tracking_poll(&self, order: &Order, out: &mut Out<'_>, changed: PackageId, state: PackageState) {
        let Some(quiet) = self.config.poll_tracking_after else { return };
        if order.deadlines.tracking_poll_at.is_none() {
            return;
        }
        let in_flight = order
            .fulfilment
            .packages
            .iter()
            .map(|p| if p.id == changed { state } else { p.state })
            .any(|s| s.has_shipped() && !s.is_terminal());
        out.set_deadline(DeadlineKind::TrackingPoll, in_flight.then(|| after(out.now, quiet)));
    }

    /// The polling deadline fired (the engine asked the carrier first): poll again later while
    /// a parcel is in flight and the order is open.
    pub(crate) fn tracking_polled(&self, order: &Order, out: &mut Out<'_>) {
        let open = order.completion.is_none() && order.cancellation.is_none();
        let next = self
            .config
            .poll_tracking_after
            .filter(|_| open && polled_packages(order).next().is_some())
            .map(|quiet| after(out.now, quiet));
        out.set_deadline(DeadlineKind::TrackingPoll, next);
    }
}

/// The packages a tracking poll asks about: shipped, not yet delivered or back at the shop.
pub(crate) fn polled_packages(order: &Order) -> impl Iterator<Item = &Package> {
    order.fulfilment.packages.iter().filter(|p| p.state.has_shipped() && !p.state.is_terminal() && p.waybill.is_some())
}

fn find_package(order: &Order, id: PackageId) -> Result<&Package, Error> {
    order.fulfilment.package(id).ok_or(Error::UnknownPackage(id))
}

/// Checks a parcel against what was scanned: every difference is reported at once.
fn verify_pack(order: &Order, items: &[PackageItem], scanned: &[ScannedItem]) -> Result<Vec<PackageItem>, Error> {
    let mut problems = Vec::new();
    let mut expected: BTreeMap<LineId, u32> = BTreeMap::new();
    for item in items {
        let Some(line) = order.line(item.line) else {
            problems.push(PackProblem::UnknownLine { line: item.line });
            continue;
        };
        let sum = expected.entry(line.id).or_insert(0);
        *sum = sum.saturating_add(item.quantity);
    }
    for (id, want) in &expected {
        let remaining = order.line(*id).map(|l| order.remaining_to_pack(l)).unwrap_or(0);
        if *want > remaining {
            problems.push(PackProblem::ExceedsRemaining { line: *id, remaining, requested: *want });
        }
    }
    compare_scan(order, expected, scanned, problems)
}

/// Compares what a parcel should hold (`expected` units per line) with what was scanned:
/// SKU, variant, product name and quantity. Every difference is reported at once.
pub(crate) fn compare_scan(
    order: &Order,
    mut expected: BTreeMap<LineId, u32>,
    scanned: &[ScannedItem],
    mut problems: Vec<PackProblem>,
) -> Result<Vec<PackageItem>, Error> {
    expected.retain(|_, q| *q > 0);
    if expected.is_empty() && problems.is_empty() {
        return Err(Error::PackMismatch { problems: vec![PackProblem::Empty] });
    }
    let mut seen: BTreeMap<LineId, u32> = BTreeMap::new();
    for scan in scanned {
        let mut same_sku =
            order.lines.iter().filter(|l| expected.contains_key(&l.id) && l.sku.as_str() == scan.sku.trimmed());
        if same_sku.clone().next().is_none() {
            problems.push(PackProblem::Unexpected { sku: scan.sku.clone(), quantity: scan.quantity });
            continue;
        }
        let Some(line) = same_sku.find(|l| l.variant == scan.variant) else {
            problems.push(PackProblem::WrongVariant { sku: scan.sku.clone(), scanned: scan.variant.clone() });
            continue;
        };
        if line.product_name != scan.product_name.trimmed() {
            problems.push(PackProblem::WrongProduct {
                sku: scan.sku.clone(),
                expected: line.product_name.to_string(),
                scanned: scan.product_name.clone(),
            });
            continue;
        }
        let sum = seen.entry(line.id).or_insert(0);
        *sum = sum.saturating_add(scan.quantity);
    }
    for (id, want) in &expected {
        let Some(line) = order.line(*id) else {
            continue;
        };
        let got = seen.get(id).copied().unwrap_or(0);
        if got < *want {
            problems.push(PackProblem::Missing { line: *id, sku: line.sku.clone(), expected: *want, scanned: got });
        } else if got > *want {
            problems.push(PackProblem::TooMany { line: *id, sku: line.sku.clone(), expected: *want, scanned: got });
        }
    }
    if problems.is_empty() {
        Ok(expected.into_iter().map(|(line, quantity)| PackageItem { line, quantity }).collect())
    } else {
        Err(Error::PackMismatch { problems })
    }
}

// Applying its events (`evolve`).

pub(crate) fn pick_list_issued(order: &mut Order, items: &[PickItem], now: DateTime<Utc>) {
    order.fulfilment.pick_list = items.to_vec();
    order.fulfilment.picking_started.get_or_insert(now);
}

pub(crate) fn package_packed(order: &mut Order, package: PackageId, items: &[PackageItem], now: DateTime<Utc>) {
    order.fulfilment.packages.push(Package::packed(package, items.to_vec(), now));
}

pub(crate) fn shipment_booked(
    order: &mut Order,
    package: PackageId,
    carrier: &Text,
    service: &Text,
    reason: &ChoiceReason,
) {
    if let Some(p) = order.fulfilment.package_mut(package) {
        p.state = PackageState::Booked;
        p.carrier = Some(carrier.clone());
        p.service = Some(service.clone());
        p.selection_reason = Some(reason.clone());
    }
}

/// A case's replacement parcel that ships moves its case on too.
pub(crate) fn package_shipped(order: &mut Order, package: PackageId, waybill: &Text, now: DateTime<Utc>) {
    let mut replacement_for = None;
    if let Some(p) = order.fulfilment.package_mut(package) {
        p.state = PackageState::Shipped;
        p.waybill = Some(waybill.clone());
        p.shipped_at = Some(now);
        replacement_for = p.case;
    }
    if let Some(case) = order.cases.iter_mut().find(|c| Some(c.id) == replacement_for) {
        case.state = crate::order::CaseState::ReplacementShipped;
    }
}

pub(crate) fn carrier_corrected(order: &mut Order, package: PackageId, carrier: &Text) {
    if let Some(p) = order.fulfilment.package_mut(package) {
        p.carrier = Some(carrier.clone());
    }
}

/// A tracking event is recorded once; a parcel back at the sender may end what cash on
/// delivery was owed.
pub(crate) fn tracking_recorded(order: &mut Order, package: PackageId, update: &TrackingUpdate) {
    if let Some(p) = order.fulfilment.package_mut(package)
        && !p.knows(update)
    {
        p.record(update.clone());
    }
    // Only a cash-on-delivery order owes anything at the door; the status is derived only then.
    if order.payment.method.is_cod() && order.status() == OrderStatus::ReturnedToSender {
        void_uncollected_cod(order);
    }
}
