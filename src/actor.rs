//! Who acts on an order, and what each of them may do.
//!
//! Permission is decided in the pure core from one table ([`crate::transitions::PERMISSIONS`]),
//! so the rules are the same whichever adapter or HTTP layer the command came through, and the
//! acting party is recorded in every event.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{CustomerId, StaffId};
use crate::text::Text;

/// A staff role. A staff member may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reviews new orders: approve, hold, reject.
    Reviewer,
    /// Picks, packs and ships.
    Warehouse,
    /// Talks to buyers: holds, cancellations, refunds, after-sales, follow-ups.
    CustomerService,
    /// May do every staff step.
    Admin,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 4] = [Role::Reviewer, Role::Warehouse, Role::CustomerService, Role::Admin];
}

/// The party behind a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A buyer, acting only on their own orders.
    Buyer {
        /// The buyer's id.
        customer: CustomerId,
    },
    /// A staff member with roles.
    Staff {
        /// The staff member's id.
        id: StaffId,
        /// The roles they hold.
        roles: Vec<Role>,
    },
    /// The engine itself: timers, automatic review, reconciliation.
    System,
    /// A payment provider, through a verified notification.
    PaymentProvider {
        /// Provider name (shared: the actor is recorded in every event it causes).
        provider: Text,
    },
    /// A carrier, through a verified tracking push.
    Carrier {
        /// Carrier name (shared, as the provider's).
        carrier: Text,
    },
}

impl Actor {
    /// A buyer.
    pub fn buyer(customer: CustomerId) -> Actor {
        Actor::Buyer { customer }
    }

    /// A staff member with the given roles.
    pub fn staff(id: StaffId, roles: impl IntoIterator<Item = Role>) -> Actor {
        Actor::Staff { id, roles: roles.into_iter().collect() }
    }

    /// The kind of actor, for logs and permission tables.
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Buyer { .. } => ActorKind::Buyer,
            Actor::Staff { .. } => ActorKind::Staff,
            Actor::System => ActorKind::System,
            Actor::PaymentProvider { .. } => ActorKind::PaymentProvider,
            Actor::Carrier { .. } => ActorKind::Carrier,
        }
    }

    /// True when the actor is staff holding `role` (admins hold every role).
    pub fn has_role(&self, role: Role) -> bool {
        match self {
            Actor::Staff { roles, .. } => roles.iter().any(|r| *r == role || *r == Role::Admin),
            _ => false,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Buyer { customer } => write!(f, "buyer {customer}"),
            Actor::Staff { id, .. } => write!(f, "staff {id}"),
            Actor::System => f.write_str("system"),
            Actor::PaymentProvider { provider } => write!(f, "payment provider {provider}"),
            Actor::Carrier { carrier } => write!(f, "carrier {carrier}"),
        }
    }
}

/// The kind of an [`Actor`], without its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A buyer.
    Buyer,
    /// A staff member.
    Staff,
    /// The engine.
    System,
    /// A payment provider.
    PaymentProvider,
    /// A carrier.
    Carrier,
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActorKind::Buyer => "buyer",
            ActorKind::Staff => "staff",
            ActorKind::System => "system",
            ActorKind::PaymentProvider => "payment provider",
            ActorKind::Carrier => "carrier",
        })
    }
}

/// Who may issue a command: one row of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// The buyer who owns the order.
    pub owner: bool,
    /// Staff holding any of these roles (admins always pass).
    pub roles: &'static [Role],
    /// The engine (timers, reconciliation).
    pub system: bool,
    /// A verified payment provider.
    pub payment_provider: bool,
    /// A verified carrier.
    pub carrier: bool,
}

impl Allowed {
    /// Nobody.
    pub const NOBODY: Allowed =
        Allowed { owner: false, roles: &[], system: false, payment_provider: false, carrier: false };

    // Builders for the permission table, so each row reads as the parties it names:
    // `Allowed::staff(&[Role::Reviewer]).and_system()`.

    /// The buyer who owns the order.
    pub(crate) const OWNER: Allowed = Allowed { owner: true, ..Allowed::NOBODY };

    /// The engine (timers, reconciliation).
    pub(crate) const SYSTEM: Allowed = Allowed { system: true, ..Allowed::NOBODY };

    /// A verified carrier.
    pub(crate) const CARRIER: Allowed = Allowed { carrier: true, ..Allowed::NOBODY };

    /// Staff holding any of `roles`.
    pub(crate) const fn staff(roles: &'static [Role]) -> Allowed {
        Allowed { roles, ..Allowed::NOBODY }
    }

    /// These parties, and staff holding any of `roles`.
    pub(crate) const fn and_staff(self, roles: &'static [Role]) -> Allowed {
        Allowed { roles, ..self }
    }

    /// These parties, and the engine.
    pub(crate) const fn and_system(self) -> Allowed {
        Allowed { system: true, ..self }
    }

    /// These parties, and a verified payment provider.
    pub(crate) const fn and_payment_provider(self) -> Allowed {
        Allowed { payment_provider: true, ..self }
    }

    /// These parties, and a verified carrier.
    pub(crate) const fn and_carrier(self) -> Allowed {
        Allowed { carrier: true, ..self }
    }

    /// Whether `actor` passes this row for an order owned by `owner`.
    pub fn permits(&self, actor: &Actor, owner: &CustomerId) -> bool {
        match actor {
            Actor::Buyer { customer } => self.owner && customer == owner,
            Actor::Staff { .. } => self.roles.iter().any(|r| actor.has_role(*r)),
            Actor::System => self.system,
            Actor::PaymentProvider { .. } => self.payment_provider,
            Actor::Carrier { .. } => self.carrier,
        }
    }

    /// Human-readable list of who may act, for docs and error messages.
    pub fn describe(&self) -> String {
        let mut who: Vec<String> = Vec::new();
        if self.owner {
            who.push("the buyer who owns the order".into());
        }
        if !self.roles.is_empty() {
            let roles: Vec<String> = self.roles.iter().map(|r| format!("{r:?}")).collect();
            who.push(format!("staff ({})", roles.join(", ")));
        }
        if self.system {
            who.push("system".into());
        }
        if self.payment_provider {
            who.push("payment provider".into());
        }
        if self.carrier {
            who.push("carrier".into());
        }
        if who.is_empty() { "nobody".into() } else { who.join(", ") }
    }
}
