//! Choosing a carrier for a parcel among the carriers' quotes, usually by cost and distance to
//! the destination (stage 5). A policy says *why* it chose; the reason is recorded in the
//! `shipment_booked` event. The engine uses [`Cheapest`] unless the host sets another
//! ([`crate::engine::Engine::with_carrier_selector`]).

use crate::address::Address;
use crate::ports::{Parcel, Quote};

/// The selector's choice and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The chosen quote.
    pub quote: Quote,
    /// Why, in words (recorded in the `shipment_booked` event).
    pub reason: String,
}

/// Chooses a carrier among quotes, saying why.
pub trait CarrierSelector: Send + Sync {
    /// The choice, or `None` when no quote is acceptable.
    fn select(&self, quotes: &[Quote], parcel: &Parcel, to: &Address) -> Option<Selection>;
}

fn describe(q: &Quote) -> String {
    format!("{} {} at {} in {} day(s)", q.carrier, q.service, q.cost, q.estimated_days)
}

/// The cheapest quote; ties go to the faster one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cheapest;

impl CarrierSelector for Cheapest {
    fn select(&self, quotes: &[Quote], _: &Parcel, _: &Address) -> Option<Selection> {
        let best = quotes.iter().min_by_key(|q| (q.cost.minor, q.estimated_days))?;
        Some(Selection {
            quote: best.clone(),
            reason: format!("cheapest of {} quote(s): {}", quotes.len(), describe(best)),
        })
    }
}

/// The fastest quote; ties go to the cheaper one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fastest;

impl CarrierSelector for Fastest {
    fn select(&self, quotes: &[Quote], _: &Parcel, _: &Address) -> Option<Selection> {
        let best = quotes.iter().min_by_key(|q| (q.estimated_days, q.cost.minor))?;
        Some(Selection {
            quote: best.clone(),
            reason: format!("fastest of {} quote(s): {}", quotes.len(), describe(best)),
        })
    }
}

/// One rule of [`RuleBased`]: when the destination and weight match, prefer a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierRule {
    /// Destination provinces/states this rule covers (empty: any).
    pub provinces: Vec<String>,
    /// Parcels at least this heavy (grams).
    pub min_weight_grams: u32,
    /// Parcels at most this heavy (grams); `u32::MAX` for no limit.
    pub max_weight_grams: u32,
    /// The carrier to use.
    pub carrier: String,
    /// Why, in words.
    pub because: String,
}

/// Rules first (destination region, weight), then a fallback policy.
pub struct RuleBased {
    /// Rules, tried in order.
    pub rules: Vec<CarrierRule>,
    /// Used when no rule matches or the preferred carrier did not quote.
    pub fallback: Box<dyn CarrierSelector>,
}

impl std::fmt::Debug for RuleBased {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleBased").field("rules", &self.rules).finish_non_exhaustive()
    }
}

impl CarrierSelector for RuleBased {
    fn select(&self, quotes: &[Quote], parcel: &Parcel, to: &Address) -> Option<Selection> {
        for rule in &self.rules {
            let region =
                rule.provinces.is_empty() || rule.provinces.iter().any(|p| p.eq_ignore_ascii_case(&to.province));
            let weight = (rule.min_weight_grams..=rule.max_weight_grams).contains(&parcel.weight_grams);
            if !(region && weight) {
                continue;
            }
            let offers: Vec<Quote> = quotes.iter().filter(|q| q.carrier == rule.carrier).cloned().collect();
            if let Some(choice) = Cheapest.select(&offers, parcel, to) {
                return Some(Selection {
                    reason: format!("rule: {} ({})", rule.because, describe(&choice.quote)),
                    quote: choice.quote,
                });
            }
        }
        let choice = self.fallback.select(quotes, parcel, to)?;
        Some(Selection { reason: format!("no rule matched; {}", choice.reason), quote: choice.quote })
    }
}
