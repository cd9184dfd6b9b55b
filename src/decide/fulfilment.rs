//! Fulfilment: pick list, packing verified against what was scanned, booking a carrier,
//! waybills (which commit the stock) and tracking, one state per package.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::after_sales;
use super::payment::void_uncollected_cod;
use super::shared::{Out, invalid, next_id, required, stock_of_package};
use crate::command::CommandKind;
use crate::decide::{Workflow, after};
use crate::effect::{Effect, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::ids::{LineId, PackageId};
use crate::order::{
    DeadlineKind, Order, OrderStatus, PackProblem, Package, PackageItem, PackageState, PickItem, ScannedItem,
    TrackingUpdate,
};
use crate::text::{Text, Trim};

// Deciding.

pub(super) fn issue_pick_list(order: &Order, out: &mut Out<'_>) -> Result<(), Error> {
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

pub(super) fn pack(
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

pub(super) fn book_shipment(
    order: &Order,
    out: &mut Out<'_>,
    status: OrderStatus,
    package: PackageId,
    carrier: &str,
    service: &str,
    reason: &str,
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
        reason: reason.into(),
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

impl Workflow {
    pub(super) fn record_waybill(
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

    pub(super) fn record_tracking(
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
    pub(super) fn tracking_polled(&self, order: &Order, out: &mut Out<'_>) {
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
pub(super) fn compare_scan(
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

pub(super) fn pick_list_issued(order: &mut Order, items: &[PickItem], now: DateTime<Utc>) {
    order.fulfilment.pick_list = items.to_vec();
    order.fulfilment.picking_started.get_or_insert(now);
}

pub(super) fn package_packed(order: &mut Order, package: PackageId, items: &[PackageItem], now: DateTime<Utc>) {
    order.fulfilment.packages.push(Package::packed(package, items.to_vec(), now));
}

pub(super) fn shipment_booked(order: &mut Order, package: PackageId, carrier: &Text, service: &Text, reason: &Text) {
    if let Some(p) = order.fulfilment.package_mut(package) {
        p.state = PackageState::Booked;
        p.carrier = Some(carrier.clone());
        p.service = Some(service.clone());
        p.selection_reason = Some(reason.clone());
    }
}

/// A case's replacement parcel that ships moves its case on too.
pub(super) fn package_shipped(order: &mut Order, package: PackageId, waybill: &Text, now: DateTime<Utc>) {
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

/// A tracking event is recorded once; a parcel back at the sender may end what cash on
/// delivery was owed.
pub(super) fn tracking_recorded(order: &mut Order, package: PackageId, update: &TrackingUpdate) {
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
