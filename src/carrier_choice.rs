//! Choosing a carrier for a parcel among the carriers' quotes, usually by cost and distance to
//! the destination (stage 5). A policy says *why* it chose, as a typed [`ChoiceReason`] (no
//! English sentence: each catalogue of [`crate::locale`] words it); the reason is recorded in
//! the `shipment_booked` event. The engine uses [`Cheapest`] unless the host sets another
//! ([`crate::engine::Engine::with_carrier_selector`]).

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::money::Money;
use crate::ports::{Parcel, Quote};

/// The selector's choice and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The chosen quote.
    pub quote: Quote,
    /// Why (recorded in the `shipment_booked` event).
    pub reason: ChoiceReason,
}

/// Why a carrier was chosen for a parcel: a kind with its figures, worded by each catalogue
/// of [`crate::locale`] (the carrier and service are the booking's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChoiceReason {
    /// The cheapest of the quotes ([`Cheapest`]).
    Cheapest {
        /// How many quotes there were.
        quotes: usize,
        /// The chosen quote's price.
        cost: Money,
        /// The chosen quote's estimated days to deliver.
        days: u32,
    },
    /// The fastest of the quotes ([`Fastest`]).
    Fastest {
        /// How many quotes there were.
        quotes: usize,
        /// The chosen quote's price.
        cost: Money,
        /// The chosen quote's estimated days to deliver.
        days: u32,
    },
    /// A host's rule chose the carrier ([`RuleBased`]).
    Rule {
        /// The rule's own words ([`CarrierRule::because`]), as the host wrote them.
        because: String,
        /// The chosen quote's price.
        cost: Money,
        /// The chosen quote's estimated days to deliver.
        days: u32,
    },
    /// No rule applied, so the fallback policy chose ([`RuleBased`]).
    NoRuleMatched {
        /// Why the fallback chose.
        fallback: Box<ChoiceReason>,
    },
    /// Someone's own words: a host booking by hand, a host's own selector, or text an older
    /// build recorded that is none of the kinds above.
    Stated {
        /// The words, as written.
        text: String,
    },
}

impl ChoiceReason {
    /// A reason in someone's own words.
    pub fn stated(text: impl Into<String>) -> ChoiceReason {
        ChoiceReason::Stated { text: text.into() }
    }

    /// The words a person wrote into the reason (a rule's, or stated ones), if any: what a
    /// command's validation bounds.
    pub fn written_words(&self) -> Option<&str> {
        match self {
            ChoiceReason::Rule { because, .. } => Some(because),
            ChoiceReason::Stated { text } => Some(text),
            ChoiceReason::NoRuleMatched { fallback } => fallback.written_words(),
            ChoiceReason::Cheapest { .. } | ChoiceReason::Fastest { .. } => None,
        }
    }
}

/// Chooses a carrier among quotes, saying why.
pub trait CarrierSelector: Send + Sync {
    /// The choice, or `None` when no quote is acceptable.
    fn select(&self, quotes: &[Quote], parcel: &Parcel, to: &Address) -> Option<Selection>;
}

/// The cheapest quote; ties go to the faster one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cheapest;

impl CarrierSelector for Cheapest {
    fn select(&self, quotes: &[Quote], _: &Parcel, _: &Address) -> Option<Selection> {
        let best = quotes.iter().min_by_key(|q| (q.cost.minor, q.estimated_days))?;
        Some(Selection {
            quote: best.clone(),
            reason: ChoiceReason::Cheapest { quotes: quotes.len(), cost: best.cost, days: best.estimated_days },
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
            reason: ChoiceReason::Fastest { quotes: quotes.len(), cost: best.cost, days: best.estimated_days },
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
    /// Why, in the host's words (kept as written in [`ChoiceReason::Rule`]).
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
                let (cost, days) = (choice.quote.cost, choice.quote.estimated_days);
                return Some(Selection {
                    reason: ChoiceReason::Rule { because: rule.because.clone(), cost, days },
                    quote: choice.quote,
                });
            }
        }
        let choice = self.fallback.select(quotes, parcel, to)?;
        Some(Selection {
            reason: ChoiceReason::NoRuleMatched { fallback: Box::new(choice.reason) },
            quote: choice.quote,
        })
    }
}
