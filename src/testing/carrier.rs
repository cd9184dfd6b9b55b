//! [`FakeCarrier`]: a carrier with a zone- and weight-based price table, idempotent shipment
//! creation, and scripted, signed tracking pushes; [`MultiCarrier`]: several carriers behind
//! one [`Logistics`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::gateway::{DEFAULT_TOLERANCE, SignatureProblem, SigningKey, check_message, lock, sign_message};
use crate::address::Address;
use crate::ids::PackageId;
use crate::money::{Currency, Money};
use crate::order::{TrackingKind, TrackingUpdate};
use crate::order_number::OrderNumber;
use crate::ports::logistics::{
    DynLogistics, Logistics, LogisticsError, Parcel, Quote, Shipment, ShipmentRequest, TrackingPush,
};
use crate::ports::payment::RawMessage;

/// How far a destination is from the carrier's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    /// The origin province itself.
    SameProvince,
    /// A province listed as neighbouring the origin.
    Neighbouring,
    /// Anywhere else in the origin country.
    Far,
}

/// One value per [`Zone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByZone<T> {
    /// For [`Zone::SameProvince`].
    pub same_province: T,
    /// For [`Zone::Neighbouring`].
    pub neighbouring: T,
    /// For [`Zone::Far`].
    pub far: T,
}

impl<T: Copy> ByZone<T> {
    /// The value for `zone`.
    pub fn get(&self, zone: Zone) -> T {
        match zone {
            Zone::SameProvince => self.same_province,
            Zone::Neighbouring => self.neighbouring,
            Zone::Far => self.far,
        }
    }
}

/// A service level's tariff: base price by zone (covers the first kilogram), a surcharge per
/// started kilogram beyond the first, and delivery days by zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRate {
    /// Service name (`standard`, `express`, ...).
    pub service: String,
    /// Base price in minor units, by zone.
    pub base_minor: ByZone<i64>,
    /// Surcharge in minor units per started kilogram beyond the first.
    pub per_kg_minor: i64,
    /// Estimated days to deliver, by zone.
    pub days: ByZone<u32>,
}

impl ServiceRate {
    /// `standard`: 8 / 10 / 15 (same province / neighbouring / far) + 2 per extra kg, in
    /// 1 / 2 / 4 days.
    pub fn standard() -> ServiceRate {
        ServiceRate {
            service: "standard".into(),
            base_minor: ByZone { same_province: 800, neighbouring: 1_000, far: 1_500 },
            per_kg_minor: 200,
            days: ByZone { same_province: 1, neighbouring: 2, far: 4 },
        }
    }

    /// `express`: 12 / 18 / 25 + 5 per extra kg, in 1 / 1 / 2 days.
    pub fn express() -> ServiceRate {
        ServiceRate {
            service: "express".into(),
            base_minor: ByZone { same_province: 1_200, neighbouring: 1_800, far: 2_500 },
            per_kg_minor: 500,
            days: ByZone { same_province: 1, neighbouring: 1, far: 2 },
        }
    }

    /// The price of a parcel of `weight_grams` sent to `zone`, in minor units (`None` on
    /// overflow).
    pub fn price_minor(&self, zone: Zone, weight_grams: u32) -> Option<i64> {
        let extra_kg = i64::from(weight_grams.saturating_sub(1_000).div_ceil(1_000));
        self.per_kg_minor.checked_mul(extra_kg)?.checked_add(self.base_minor.get(zone))
    }
}

/// One shipment the fake carrier created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRecord {
    /// Idempotency key it was created with.
    pub key: String,
    /// Order number on the label.
    pub order_number: OrderNumber,
    /// Which parcel of the order.
    pub package: PackageId,
    /// Service level.
    pub service: String,
    /// The waybill given (also to every retry with the same key).
    pub waybill: String,
}

/// The JSON body of a tracking push, as the fake carrier sends it. Texts borrow from the
/// pushes written or the body read (owned only when the JSON escapes something), which spares
/// a copy of each; the JSON is the same as with `String`s.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WirePush<'a> {
    #[serde(borrow)]
    push_id: Cow<'a, str>,
    #[serde(borrow)]
    carrier: Cow<'a, str>,
    #[serde(borrow)]
    events: Vec<WireEvent<'a>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    waybill: Cow<'a, str>,
    kind: TrackingKind,
    #[serde(serialize_with = "write_at", deserialize_with = "read_at")]
    at: DateTime<Utc>,
    #[serde(default, borrow)]
    event_id: Cow<'a, str>,
    #[serde(default, borrow)]
    location: Cow<'a, str>,
    #[serde(default, borrow)]
    description: Cow<'a, str>,
}

/// `at` as a whole second between years 0 and 9999 in chrono's RFC 3339 form
/// (`2026-11-30T09:00:00Z`), written without chrono's general formatter; `None` otherwise.
fn whole_second_rfc3339(at: &DateTime<Utc>) -> Option<[u8; 20]> {
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9_999)?;
    if at.nanosecond() != 0 {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let digits = [
        (0, year / 100),
        (2, year % 100),
        (5, at.month()),
        (8, at.day()),
        (11, at.hour()),
        (14, at.minute()),
        (17, at.second()),
    ];
    for (at, value) in digits {
        let tens = u8::try_from(value / 10).ok()?;
        let ones = u8::try_from(value % 10).ok()?;
        *out.get_mut(at)? = b'0' + tens;
        *out.get_mut(at + 1)? = b'0' + ones;
    }
    Some(out)
}

/// Writes `at` exactly as chrono does (an RFC 3339 string), taking a short cut for the whole
/// seconds that pushes carry: chrono's formatter was a fifth of writing a push.
fn write_at<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    match whole_second_rfc3339(at).as_ref().map(|text| std::str::from_utf8(text)) {
        Some(Ok(text)) => serializer.serialize_str(text),
        _ => at.serialize(serializer),
    }
}

/// `text` when it is exactly `YYYY-MM-DDTHH:MM:SSZ` naming a valid time; chrono reads all
/// such strings to the same instant.
fn parse_whole_second(text: &str) -> Option<DateTime<Utc>> {
    let bytes: &[u8; 20] = text.as_bytes().try_into().ok()?;
    let number = |from: usize, to: usize| -> Option<u32> {
        bytes.get(from..to)?.iter().try_fold(0u32, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
    if !separators.iter().all(|(at, sep)| bytes.get(*at) == Some(sep)) {
        return None;
    }
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?;
    Some(date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?.and_utc())
}

/// Reads `at` exactly as chrono does (same values, same errors), taking a short cut for the
/// whole seconds that pushes carry.
fn read_at<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    struct AtVisitor;

    impl Visitor<'_> for AtVisitor {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 formatted date and time string")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
            match parse_whole_second(text) {
                Some(at) => Ok(at),
                None => DateTime::<Utc>::deserialize(de::value::StrDeserializer::<E>::new(text)),
            }
        }
    }

    deserializer.deserialize_str(AtVisitor)
}

#[derive(Debug, Default)]
struct CarrierState {
    shipments: Vec<ShipmentRecord>,
    /// Position in `shipments` by idempotency key: a retry is found without scanning every
    /// shipment ever made (which made long runs quadratic).
    shipment_by_key: HashMap<String, usize>,
    tracking: HashMap<String, Vec<TrackingUpdate>>,
    calls: usize,
    shipment_calls: usize,
    next_waybill: u64,
    next_push: u64,
}

/// A carrier for tests that behaves like a real one.
///
/// * Quotes: one per service level (default `standard` and [`ServiceRate::express`]); the
///   price depends on the [`Zone`] of the destination province relative to the origin
///   province (default origin: Zhejiang, CN, neighbours Jiangsu, Shanghai, Anhui, Jiangxi,
///   Fujian) and on the weight; other countries and parcels above the maximum weight (default
///   30 kg) get [`LogisticsError::NoService`].
/// * `create_shipment` is idempotent by key; waybills are `"{PREFIX}{counter:08}"` (prefix
///   default: the name in upper case).
/// * Tracking pushes are scripted with [`push`](Self::push) / [`push_many`](Self::push_many)
///   and signed like the payment gateway's notifications (`X-Timestamp`, `X-Signature` =
///   hex HMAC-SHA256 of `"{timestamp}.{body}"` under the carrier's own secret).
///   Verification answers [`LogisticsError::Malformed`] for bad headers or body and
///   [`LogisticsError::InvalidSignature`] for a bad signature and for a signed timestamp
///   further than the tolerance from "now": by default the payment gateway's
///   [`DEFAULT_TOLERANCE`] of 5 minutes, changed with
///   [`with_tolerance`](Self::with_tolerance), turned off (for replaying old recordings) with
///   [`without_tolerance`](Self::without_tolerance).
/// * To make it fail, wrap it in [`Failing`](super::Failing).
pub struct FakeCarrier {
    name: String,
    key: SigningKey,
    waybill_prefix: String,
    country: String,
    province: String,
    neighbours: Vec<String>,
    currency: Currency,
    rates: Vec<ServiceRate>,
    max_weight_grams: u32,
    tolerance: Option<TimeDelta>,
    state: Mutex<CarrierState>,
}

impl fmt::Debug for FakeCarrier {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCarrier")
            .field("name", &self.name)
            .field("waybill_prefix", &self.waybill_prefix)
            .field("country", &self.country)
            .field("province", &self.province)
            .field("rates", &self.rates)
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

fn same_place(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn default_description(kind: TrackingKind) -> &'static str {
    match kind {
        TrackingKind::PickedUp => "Parcel picked up",
        TrackingKind::InTransit => "In transit",
        TrackingKind::OutForDelivery => "Out for delivery",
        TrackingKind::Delivered => "Delivered",
        TrackingKind::Exception => "Delivery exception",
        TrackingKind::RefusedAtDoor => "Refused by the recipient",
        TrackingKind::ReturnedToSender => "Returned to sender",
        TrackingKind::AwaitingCollection => "Ready for collection at the parcel locker",
        TrackingKind::Customs => "Customs clearance",
        TrackingKind::Rerouted => "Forwarded",
        TrackingKind::Returning => "Returning to sender",
        TrackingKind::AwaitingPickup => "Waiting for the courier to collect the parcel",
    }
}

impl FakeCarrier {
    /// A carrier named `name` signing its pushes with `secret`, with the default tariff.
    pub fn new(name: impl Into<String>, secret: impl AsRef<[u8]>) -> FakeCarrier {
        let name = name.into();
        let prefix: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
        FakeCarrier {
            waybill_prefix: if prefix.is_empty() { "WB".into() } else { prefix },
            name,
            key: SigningKey::new(secret.as_ref()),
            country: "CN".into(),
            province: "Zhejiang".into(),
            neighbours: ["Jiangsu", "Shanghai", "Anhui", "Jiangxi", "Fujian"].map(String::from).to_vec(),
            currency: Currency::CNY,
            rates: vec![ServiceRate::standard(), ServiceRate::express()],
            max_weight_grams: 30_000,
            tolerance: Some(DEFAULT_TOLERANCE),
            state: Mutex::new(CarrierState::default()),
        }
    }

    /// Waybills start with `prefix`.
    #[must_use]
    pub fn with_waybill_prefix(mut self, prefix: impl Into<String>) -> FakeCarrier {
        self.waybill_prefix = prefix.into();
        self
    }

    /// Ships from `province` of `country` (ISO code); `neighbours` are the neighbouring
    /// provinces (compared case-insensitively).
    #[must_use]
    pub fn with_origin<I, S>(
        mut self,
        country: impl Into<String>,
        province: impl Into<String>,
        neighbours: I,
    ) -> FakeCarrier
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.country = country.into();
        self.province = province.into();
        self.neighbours = neighbours.into_iter().map(Into::into).collect();
        self
    }

    /// Prices in `currency`.
    #[must_use]
    pub fn with_currency(mut self, currency: Currency) -> FakeCarrier {
        self.currency = currency;
        self
    }

    /// Replaces the service levels and their tariffs.
    #[must_use]
    pub fn with_rates(mut self, rates: Vec<ServiceRate>) -> FakeCarrier {
        self.rates = rates;
        self
    }

    /// Refuses parcels heavier than `grams`.
    #[must_use]
    pub fn with_max_weight_grams(mut self, grams: u32) -> FakeCarrier {
        self.max_weight_grams = grams;
        self
    }

    /// Rejects pushes whose signed timestamp is further than `tolerance` from "now" (as
    /// [`LogisticsError::InvalidSignature`]: the port has no separate variant); negative values
    /// count as zero. The default is [`DEFAULT_TOLERANCE`],
    /// the same 5 minutes as the fake payment gateway's.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: TimeDelta) -> FakeCarrier {
        self.tolerance = Some(tolerance.max(TimeDelta::zero()));
        self
    }

    /// Accepts pushes signed at any time: only for replaying old recorded pushes in tests. A
    /// push replayed days later is then applied (its updates are still deduplicated by event
    /// id), so a real carrier adapter should always check the timestamp.
    #[must_use]
    pub fn without_tolerance(mut self) -> FakeCarrier {
        self.tolerance = None;
        self
    }

    /// The timestamp tolerance, `None` when turned off with
    /// [`without_tolerance`](Self::without_tolerance).
    pub fn tolerance(&self) -> Option<TimeDelta> {
        self.tolerance
    }

    /// The carrier's name (what quotes and shipments carry).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone of `to`, or `None` when the carrier does not serve its country.
    pub fn zone(&self, to: &Address) -> Option<Zone> {
        if !same_place(&to.country, &self.country) {
            None
        } else if same_place(&to.province, &self.province) {
            Some(Zone::SameProvince)
        } else if self.neighbours.iter().any(|n| same_place(n, &to.province)) {
            Some(Zone::Neighbouring)
        } else {
            Some(Zone::Far)
        }
    }

    // -- scripting --------------------------------------------------------------------------

    fn body_of(&self, pushes: &[TrackingPush]) -> Vec<u8> {
        let push_id = {
            let mut state = lock(&self.state);
            state.next_push += 1;
            format!("{}-PUSH{:08}", self.waybill_prefix, state.next_push)
        };
        let wire = WirePush {
            push_id: Cow::Owned(push_id),
            carrier: Cow::Borrowed(&self.name),
            events: pushes
                .iter()
                .map(|p| WireEvent {
                    waybill: Cow::Borrowed(&p.waybill),
                    kind: p.update.kind,
                    at: p.update.at,
                    event_id: Cow::Borrowed(&p.update.event_id),
                    location: Cow::Borrowed(&p.update.location),
                    description: Cow::Borrowed(&p.update.description),
                })
                .collect(),
        };
        // Room for a typical push, so the body is not grown several times while written.
        let mut body = Vec::with_capacity(128 + 192 * pushes.len());
        match serde_json::to_writer(&mut body, &wire) {
            Ok(()) => body,
            Err(_) => Vec::new(),
        }
    }

    fn record(&self, pushes: &[TrackingPush]) {
        let mut state = lock(&self.state);
        for push in pushes {
            // Looked up before inserting: the waybill is only copied the first time.
            let history = match state.tracking.get_mut(&push.waybill) {
                Some(history) => history,
                None => state.tracking.entry(push.waybill.clone()).or_default(),
            };
            if !history.iter().any(|u| u.same_event(&push.update)) {
                history.push(push.update.clone());
                history.sort_by_key(|u| u.at);
            }
        }
    }

    /// A tracking update with the default wording for `kind`.
    pub fn update(kind: TrackingKind, at: DateTime<Utc>, event_id: &str) -> TrackingUpdate {
        TrackingUpdate {
            kind,
            at,
            event_id: event_id.into(),
            location: Default::default(),
            description: default_description(kind).into(),
        }
    }

    /// The carrier reports `kind` for `waybill` at `at`: the update joins the waybill's history
    /// (see `query_tracking`) and the signed push, sent at `at`, is returned. To model a
    /// redelivery, send the same [`RawMessage`] again.
    pub fn push(&self, waybill: &str, kind: TrackingKind, at: DateTime<Utc>, event_id: &str) -> RawMessage {
        self.push_many(&[TrackingPush::new(self.name.clone(), waybill, FakeCarrier::update(kind, at, event_id))], at)
    }

    /// One signed push carrying several updates, sent at `sent_at`; they join their waybills'
    /// histories. The push is this carrier's whatever carrier the updates name.
    pub fn push_many(&self, pushes: &[TrackingPush], sent_at: DateTime<Utc>) -> RawMessage {
        self.record(pushes);
        sign_message(&self.key, false, sent_at, self.body_of(pushes))
    }

    /// Any `body`, signed at `timestamp` with the right key (nothing is recorded): for
    /// messages that are not well-formed pushes.
    pub fn sign_body(&self, body: impl Into<Vec<u8>>, timestamp: DateTime<Utc>) -> RawMessage {
        sign_message(&self.key, false, timestamp, body.into())
    }

    /// A push signed with a wrong key (nothing is recorded): verification must answer
    /// [`LogisticsError::InvalidSignature`].
    pub fn forge_push(&self, waybill: &str, kind: TrackingKind, at: DateTime<Utc>, event_id: &str) -> RawMessage {
        let pushes = [TrackingPush::new(self.name.clone(), waybill, FakeCarrier::update(kind, at, event_id))];
        sign_message(&self.key, true, at, self.body_of(&pushes))
    }

    /// `raw` with its body changed after signing (every event turned into `Delivered`, or a
    /// byte appended if the body is not a push); the headers are kept.
    pub fn tamper(&self, raw: &RawMessage) -> RawMessage {
        let body = match serde_json::from_slice::<WirePush>(&raw.body) {
            Ok(mut wire) => {
                for event in &mut wire.events {
                    event.kind = if event.kind == TrackingKind::Delivered {
                        TrackingKind::ReturnedToSender
                    } else {
                        TrackingKind::Delivered
                    };
                }
                serde_json::to_vec(&wire).unwrap_or_default()
            }
            Err(_) => {
                let mut body = raw.body.clone();
                body.push(b' ');
                body
            }
        };
        RawMessage { headers: raw.headers.clone(), body }
    }

    // -- inspection -------------------------------------------------------------------------

    /// Every shipment created, oldest first (each key once).
    pub fn shipments(&self) -> Vec<ShipmentRecord> {
        lock(&self.state).shipments.clone()
    }

    /// How many times `create_shipment` was called (retries included).
    pub fn shipment_calls(&self) -> usize {
        lock(&self.state).shipment_calls
    }

    /// How many times any [`Logistics`] method was called.
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    fn count_call(&self) {
        lock(&self.state).calls += 1;
    }
}

impl Logistics for FakeCarrier {
    async fn quote(&self, parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        self.count_call();
        let zone = self
            .zone(to)
            .ok_or_else(|| LogisticsError::NoService(format!("{} ships only within {}", self.name, self.country)))?;
        if parcel.weight_grams > self.max_weight_grams {
            return Err(LogisticsError::NoService(format!(
                "{} takes parcels up to {} g",
                self.name, self.max_weight_grams
            )));
        }
        self.rates
            .iter()
            .map(|rate| {
                let minor = rate
                    .price_minor(zone, parcel.weight_grams)
                    .ok_or_else(|| LogisticsError::Rejected("price overflows".into()))?;
                Ok(Quote {
                    carrier: self.name.clone(),
                    service: rate.service.clone(),
                    cost: Money::new(minor, self.currency),
                    estimated_days: rate.days.get(zone),
                })
            })
            .collect()
    }

    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        self.count_call();
        let mut state = lock(&self.state);
        state.shipment_calls += 1;
        if let Some(done) = state.shipment_by_key.get(&request.key).and_then(|i| state.shipments.get(*i)) {
            return Ok(Shipment { carrier: self.name.clone(), waybill: done.waybill.clone() });
        }
        if request.carrier != self.name {
            return Err(LogisticsError::Rejected(format!("this is {}, not {}", self.name, request.carrier)));
        }
        if !self.rates.iter().any(|r| r.service == request.service) {
            return Err(LogisticsError::Rejected(format!("{} has no service {:?}", self.name, request.service)));
        }
        if self.zone(&request.address).is_none() {
            return Err(LogisticsError::NoService(format!("{} ships only within {}", self.name, self.country)));
        }
        state.next_waybill += 1;
        let waybill = format!("{}{:08}", self.waybill_prefix, state.next_waybill);
        let at = state.shipments.len();
        state.shipment_by_key.insert(request.key.clone(), at);
        state.shipments.push(ShipmentRecord {
            key: request.key.clone(),
            order_number: request.order_number,
            package: request.package,
            service: request.service.clone(),
            waybill: waybill.clone(),
        });
        state.tracking.entry(waybill.clone()).or_default();
        Ok(Shipment { carrier: self.name.clone(), waybill })
    }

    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        self.count_call();
        check_message(&self.key, raw, now, self.tolerance).map_err(|p| match p {
            SignatureProblem::Malformed(why) => LogisticsError::Malformed(why.to_owned()),
            SignatureProblem::Stale | SignatureProblem::Invalid => LogisticsError::InvalidSignature,
        })?;
        let wire: WirePush = serde_json::from_slice(&raw.body).map_err(|e| {
            LogisticsError::Malformed(format!(
                "body is not a tracking push ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        if wire.carrier != self.name {
            return Err(LogisticsError::Malformed("push names another carrier".into()));
        }
        if wire.events.is_empty() {
            return Err(LogisticsError::Malformed("push carries no events".into()));
        }
        Ok(wire
            .events
            .into_iter()
            .map(|e| {
                let update = TrackingUpdate {
                    kind: e.kind,
                    at: e.at,
                    event_id: e.event_id.as_ref().into(),
                    location: e.location.as_ref().into(),
                    description: e.description.as_ref().into(),
                };
                TrackingPush::new(self.name.clone(), e.waybill.into_owned(), update)
            })
            .collect())
    }

    async fn query_tracking(&self, _carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        self.count_call();
        lock(&self.state)
            .tracking
            .get(waybill)
            .cloned()
            .ok_or_else(|| LogisticsError::Rejected(format!("{} knows no such waybill", self.name)))
    }
}

/// Several carriers behind one [`Logistics`], like an aggregator: quotes from all of them,
/// shipments dispatched by `request.carrier`, pushes and queries tried on each.
#[derive(Default)]
pub struct MultiCarrier {
    carriers: Vec<(String, Arc<DynLogistics<'static>>)>,
}

impl fmt::Debug for MultiCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiCarrier").field("carriers", &self.names()).finish()
    }
}

impl MultiCarrier {
    /// No carriers yet.
    pub fn new() -> MultiCarrier {
        MultiCarrier::default()
    }

    /// Adds `carrier` under `name` (the name shipment requests use).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, carrier: impl Logistics + 'static) -> MultiCarrier {
        self.carriers.push((name.into(), DynLogistics::new_arc(carrier)));
        self
    }

    /// Adds a fake carrier under its own name (keep a clone of the `Arc` to script it).
    #[must_use]
    pub fn with_fake(self, carrier: Arc<FakeCarrier>) -> MultiCarrier {
        let name = carrier.name().to_owned();
        self.with(name, carrier)
    }

    /// The carriers' names, in the order they were added.
    pub fn names(&self) -> Vec<&str> {
        self.carriers.iter().map(|(n, _)| n.as_str()).collect()
    }
}

impl Logistics for MultiCarrier {
    /// Every carrier's quotes. Carriers that cannot take the parcel are skipped; carriers that
    /// fail otherwise are skipped too unless nobody quoted, in which case the first such error
    /// is returned.
    async fn quote(&self, parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        let mut quotes = Vec::new();
        let mut failure = None;
        let mut no_service = None;
        for (_, carrier) in &self.carriers {
            match carrier.quote(parcel, to).await {
                Ok(q) => quotes.extend(q),
                Err(e @ LogisticsError::NoService(_)) => {
                    no_service.get_or_insert(e);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if !quotes.is_empty() {
            return Ok(quotes);
        }
        match (failure, no_service) {
            (Some(e), _) | (None, Some(e)) => Err(e),
            (None, None) => Err(LogisticsError::NoService("no carrier configured".into())),
        }
    }

    /// Subscribes with the carrier of that name (none: nothing to do).
    async fn subscribe_tracking(&self, carrier: &str, waybill: &str) -> Result<(), LogisticsError> {
        match self.carriers.iter().find(|(name, _)| name == carrier) {
            Some((_, named)) => named.subscribe_tracking(carrier, waybill).await,
            None => Ok(()),
        }
    }

    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        let carrier = self
            .carriers
            .iter()
            .find(|(name, _)| *name == request.carrier)
            .map(|(_, c)| c)
            .ok_or_else(|| LogisticsError::Rejected(format!("no carrier named {:?}", request.carrier)))?;
        carrier.create_shipment(request).await
    }

    /// The first carrier whose signature verifies parses the push. A malformed message is
    /// answered at once; if no carrier verifies it, `InvalidSignature` (or `Unavailable` if a
    /// carrier could not be asked).
    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        let mut unavailable = None;
        for (_, carrier) in &self.carriers {
            match carrier.verify_tracking_push(raw, now).await {
                Ok(pushes) => return Ok(pushes),
                Err(LogisticsError::InvalidSignature) => {}
                Err(e @ LogisticsError::Unavailable(_)) => {
                    unavailable.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(unavailable.unwrap_or(LogisticsError::InvalidSignature))
    }

    /// The carrier of that name answers; for a carrier it does not have, the first carrier
    /// that knows the waybill.
    async fn query_tracking(&self, carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        if let Some((_, named)) = self.carriers.iter().find(|(name, _)| name == carrier) {
            return named.query_tracking(carrier, waybill).await;
        }
        let mut last = None;
        let mut unavailable = None;
        for (_, each) in &self.carriers {
            match each.query_tracking(carrier, waybill).await {
                Ok(updates) => return Ok(updates),
                Err(e @ LogisticsError::Unavailable(_)) => {
                    unavailable.get_or_insert(e);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(unavailable.or(last).unwrap_or_else(|| LogisticsError::Rejected("no carrier knows this waybill".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize, Deserialize)]
    struct Ours {
        #[serde(serialize_with = "write_at", deserialize_with = "read_at")]
        at: DateTime<Utc>,
    }

    #[derive(Serialize, Deserialize)]
    struct Chronos {
        at: DateTime<Utc>,
    }

    /// Same JSON as chrono writes, and read back as chrono reads it.
    fn same_as_chrono(at: DateTime<Utc>) {
        let ours = serde_json::to_string(&Ours { at }).unwrap_or_else(|e| panic!("{e}"));
        let chronos = serde_json::to_string(&Chronos { at }).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ours, chronos);
        let read = serde_json::from_str::<Ours>(&ours).map(|o| o.at).map_err(|e| e.to_string());
        assert_eq!(read, Ok(at));
    }

    /// The same value or the same error as chrono, for any text.
    fn reads_as_chrono(text: &str) {
        let json = serde_json::to_string(&text).unwrap_or_else(|e| panic!("{e}"));
        let ours = serde_json::from_str::<Ours>(&format!("{{\"at\":{json}}}")).map(|o| o.at).map_err(|e| e.to_string());
        let chronos =
            serde_json::from_str::<Chronos>(&format!("{{\"at\":{json}}}")).map(|o| o.at).map_err(|e| e.to_string());
        assert_eq!(ours, chronos, "{text:?}");
    }

    #[test]
    fn edge_times_are_written_and_read_as_chrono_does() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_000_000_000))
            .map(|t| t.and_utc());
        let samples = [
            DateTime::from_timestamp(0, 0),
            DateTime::from_timestamp(1_780_000_000, 0),
            DateTime::from_timestamp(1_780_000_000, 5_000_000),
            DateTime::from_timestamp(-62_167_219_200, 0), // 0000-01-01
            DateTime::from_timestamp(-62_167_219_201, 0), // year -1
            DateTime::from_timestamp(253_402_300_799, 0), // 9999-12-31T23:59:59
            DateTime::from_timestamp(253_402_300_800, 0), // year 10000
            Some(DateTime::<Utc>::MIN_UTC),
            Some(DateTime::<Utc>::MAX_UTC),
            leap,
        ];
        for at in samples.into_iter().flatten() {
            same_as_chrono(at);
        }
        for text in [
            "2026-11-30T09:00:00Z",
            "2026-11-30t09:00:00z",
            "2026-11-30 09:00:00Z",
            "2026-02-30T09:00:00Z",
            "2026-11-30T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2026-11-30T09:00:00+00:00",
            "2026-11-30T09:00:0xZ",
            "+2026-11-30T09:00:00Z",
            "0000-01-01T00:00:00Z",
            "",
            "not a time",
        ] {
            reads_as_chrono(text);
        }
        let not_a_string = serde_json::from_str::<Ours>(r#"{"at":5}"#).map(|o| o.at).map_err(|e| e.to_string());
        let chronos = serde_json::from_str::<Chronos>(r#"{"at":5}"#).map(|o| o.at).map_err(|e| e.to_string());
        assert_eq!(not_a_string, chronos);
    }

    proptest! {
        #[test]
        fn any_time_is_written_and_read_as_chrono_does(
            secs in -62_167_219_200i64..253_402_300_800,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ) {
            if let Some(at) = DateTime::from_timestamp(secs, nanos) {
                same_as_chrono(at);
            }
        }

        #[test]
        fn any_near_miss_reads_as_chrono_does(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}[Zz]?",
        ) {
            reads_as_chrono(&text);
        }
    }
}
