//! The normalised charge class of a line item.

use std::fmt;

/// What kind of charge a line is, independent of the export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChargeClass {
    /// Metered consumption, including reservation- and savings-plan-covered usage.
    Usage,
    /// One-off or recurring fees that are not commitments (support, registration).
    Fee,
    Tax,
    Credit,
    Refund,
    /// Negotiated and volume discounts (EDP, private rates, bundles).
    Discount,
    /// Reservation and savings-plan purchases, recurring fees and negations.
    Commitment,
    /// A line type this version does not know; kept, never dropped.
    Other,
}

impl ChargeClass {
    pub const ALL: [ChargeClass; 8] = [
        ChargeClass::Usage,
        ChargeClass::Fee,
        ChargeClass::Tax,
        ChargeClass::Credit,
        ChargeClass::Refund,
        ChargeClass::Discount,
        ChargeClass::Commitment,
        ChargeClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChargeClass::Usage => "usage",
            ChargeClass::Fee => "fee",
            ChargeClass::Tax => "tax",
            ChargeClass::Credit => "credit",
            ChargeClass::Refund => "refund",
            ChargeClass::Discount => "discount",
            ChargeClass::Commitment => "commitment",
            ChargeClass::Other => "other",
        }
    }

    /// From a CUR (legacy or 2.0) `line_item_line_item_type`.
    pub fn from_cur_line_item_type(line_item_type: &str) -> Self {
        match line_item_type {
            "Usage" | "DiscountedUsage" | "SavingsPlanCoveredUsage" => ChargeClass::Usage,
            "Fee" => ChargeClass::Fee,
            "Tax" => ChargeClass::Tax,
            "Credit" => ChargeClass::Credit,
            "Refund" => ChargeClass::Refund,
            "RIFee" | "SavingsPlanUpfrontFee" | "SavingsPlanRecurringFee" | "SavingsPlanNegation" => {
                ChargeClass::Commitment
            }
            t if t.ends_with("Discount") => ChargeClass::Discount,
            _ => ChargeClass::Other,
        }
    }

    /// From FOCUS `ChargeCategory`; `Purchase` is a commitment when it buys one.
    pub fn from_focus_charge_category(category: &str, buys_commitment: bool) -> Self {
        match category {
            "Usage" => ChargeClass::Usage,
            "Tax" => ChargeClass::Tax,
            "Credit" => ChargeClass::Credit,
            "Adjustment" => ChargeClass::Refund,
            "Purchase" if buys_commitment => ChargeClass::Commitment,
            "Purchase" => ChargeClass::Fee,
            _ => ChargeClass::Other,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for ChargeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cur_line_types_classify() {
        let cases = [
            ("Usage", ChargeClass::Usage),
            ("DiscountedUsage", ChargeClass::Usage),
            ("SavingsPlanCoveredUsage", ChargeClass::Usage),
            ("SavingsPlanNegation", ChargeClass::Commitment),
            ("RIFee", ChargeClass::Commitment),
            ("EdpDiscount", ChargeClass::Discount),
            ("RiVolumeDiscount", ChargeClass::Discount),
            ("Tax", ChargeClass::Tax),
            ("Credit", ChargeClass::Credit),
            ("Refund", ChargeClass::Refund),
            ("Fee", ChargeClass::Fee),
            ("SomethingNew", ChargeClass::Other),
        ];
        for (text, class) in cases {
            assert_eq!(ChargeClass::from_cur_line_item_type(text), class, "{text}");
        }
    }

    #[test]
    fn names_round_trip() {
        for class in ChargeClass::ALL {
            assert_eq!(ChargeClass::parse(class.as_str()), Some(class));
        }
    }
}
