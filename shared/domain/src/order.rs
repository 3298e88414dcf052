use crate::{Currency, Money, MoneyArithmeticError, OrderId, Timestamp, UserId};
use std::fmt;

/// A stock-keeping unit: 1 to 64 of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'")]
pub struct SkuError;

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, SkuError> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(SkuError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many of one item: 1 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number from 1 to {max}", max = Quantity::MAX)]
pub struct QuantityError;

impl Quantity {
    pub const MAX: u32 = 1000;

    pub fn new(value: i64) -> Result<Self, QuantityError> {
        u32::try_from(value)
            .ok()
            .filter(|value| (1..=Self::MAX).contains(value))
            .map(Self)
            .ok_or(QuantityError)
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

/// One line of an order as asked for: what, how many, at what unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    sku: Sku,
    quantity: Quantity,
    unit_price: Money,
    line_total: Money,
}

impl OrderLine {
    pub fn sku(&self) -> &Sku {
        &self.sku
    }
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
    pub fn line_total(&self) -> Money {
        self.line_total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Placed,
}

impl OrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Placed => "placed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        (raw == "placed").then_some(Self::Placed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order has 1 to {max} items", max = Order::MAX_ITEMS)]
    ItemCount,
    #[error("all items of an order must be priced in one currency")]
    MixedCurrencies,
    #[error("the order total is too large")]
    TotalOverflow,
}

/// A placed order. Its totals are computed here, exactly, and never stored apart from the
/// lines they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    id: OrderId,
    user_id: UserId,
    status: OrderStatus,
    lines: Vec<OrderLine>,
    total: Money,
    created_at: Timestamp,
}

impl Order {
    pub const MAX_ITEMS: usize = 100;

    pub fn place(
        id: OrderId,
        user_id: UserId,
        requested: Vec<LineRequest>,
        now: Timestamp,
    ) -> Result<Self, OrderError> {
        Self::build(id, user_id, OrderStatus::Placed, requested, now)
    }

    /// An order as stored; the same rules hold, so a corrupt record cannot come back as an order.
    pub fn restore(
        id: OrderId,
        user_id: UserId,
        status: OrderStatus,
        lines: Vec<LineRequest>,
        created_at: Timestamp,
    ) -> Result<Self, OrderError> {
        Self::build(id, user_id, status, lines, created_at)
    }

    fn build(
        id: OrderId,
        user_id: UserId,
        status: OrderStatus,
        requested: Vec<LineRequest>,
        created_at: Timestamp,
    ) -> Result<Self, OrderError> {
        if !(1..=Self::MAX_ITEMS).contains(&requested.len()) {
            return Err(OrderError::ItemCount);
        }
        let currency = requested[0].unit_price.currency();
        let mut total = Money::zero(currency);
        let mut lines = Vec::with_capacity(requested.len());
        for LineRequest {
            sku,
            quantity,
            unit_price,
        } in requested
        {
            let line_total = unit_price.checked_mul(quantity.get()).map_err(arithmetic)?;
            total = total.checked_add(&line_total).map_err(arithmetic)?;
            lines.push(OrderLine {
                sku,
                quantity,
                unit_price,
                line_total,
            });
        }
        Ok(Self {
            id,
            user_id,
            status,
            lines,
            total,
            created_at,
        })
    }

    pub fn id(&self) -> OrderId {
        self.id
    }
    pub fn user_id(&self) -> UserId {
        self.user_id
    }
    pub fn status(&self) -> OrderStatus {
        self.status
    }
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    pub fn total(&self) -> Money {
        self.total
    }
    pub fn currency(&self) -> Currency {
        self.total.currency()
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}

fn arithmetic(error: MoneyArithmeticError) -> OrderError {
    match error {
        MoneyArithmeticError::CurrencyMismatch => OrderError::MixedCurrencies,
        MoneyArithmeticError::Overflow => OrderError::TotalOverflow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, quantity: i64, amount: &str, currency: &str) -> LineRequest {
        LineRequest {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: Money::parse(amount, Currency::parse(currency).unwrap()).unwrap(),
        }
    }

    fn place(lines: Vec<LineRequest>) -> Result<Order, OrderError> {
        Order::place(
            OrderId::generate(),
            UserId::generate(),
            lines,
            Timestamp::now(),
        )
    }

    #[test]
    fn line_totals_and_the_total_are_exact() {
        let order = place(vec![
            line("BOOK-1", 2, "12.50", "EUR"),
            line("pen_2", 3, "0.10", "EUR"),
        ])
        .unwrap();
        let totals: Vec<String> = order
            .lines()
            .iter()
            .map(|l| l.line_total().amount())
            .collect();
        assert_eq!(totals, ["25.00", "0.30"]);
        assert_eq!(order.total().amount(), "25.30");
        assert_eq!(order.status(), OrderStatus::Placed);
    }

    #[test]
    fn an_order_has_one_to_a_hundred_items() {
        assert_eq!(place(vec![]), Err(OrderError::ItemCount));
        assert!(place((0..100).map(|_| line("A", 1, "1", "JPY")).collect()).is_ok());
        assert_eq!(
            place((0..101).map(|_| line("A", 1, "1", "JPY")).collect()),
            Err(OrderError::ItemCount)
        );
    }

    #[test]
    fn one_currency_per_order() {
        let mixed = vec![line("A", 1, "1.00", "EUR"), line("B", 1, "1.00", "USD")];
        assert_eq!(place(mixed), Err(OrderError::MixedCurrencies));
    }

    #[test]
    fn a_total_that_overflows_is_refused() {
        let huge = "92233720368547758.07";
        assert_eq!(
            place(vec![line("A", 2, huge, "EUR")]),
            Err(OrderError::TotalOverflow)
        );
        assert_eq!(
            place(vec![line("A", 1, huge, "EUR"), line("B", 1, "0.01", "EUR")]),
            Err(OrderError::TotalOverflow)
        );
    }

    proptest::proptest! {
        #[test]
        fn a_sku_is_accepted_exactly_when_it_matches_the_pattern(raw in "\\PC{0,70}|[A-Za-z0-9_-]{0,70}") {
            let valid = (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            proptest::prop_assert_eq!(Sku::parse(&raw).is_ok(), valid);
        }

        #[test]
        fn a_quantity_is_accepted_exactly_from_1_to_1000(value in proptest::prelude::any::<i64>(), small in -5i64..1010) {
            for value in [value, small] {
                proptest::prop_assert_eq!(Quantity::new(value).is_ok(), (1..=1000).contains(&value));
            }
        }
    }

    #[test]
    fn skus_and_quantities_keep_their_bounds() {
        assert!(Sku::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "with space", "ünï", "a/b", &"a".repeat(65)] {
            assert_eq!(Sku::parse(bad), Err(SkuError), "{bad:?}");
        }
        assert!(Quantity::new(1).is_ok() && Quantity::new(1000).is_ok());
        for bad in [0, -1, 1001, i64::MAX] {
            assert_eq!(Quantity::new(bad), Err(QuantityError));
        }
    }
}
