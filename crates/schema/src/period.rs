//! Billing periods: calendar months, written `YYYY-MM`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BillingPeriod {
    year: i32,
    month: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a billing period (expected YYYY-MM)")]
pub struct ParsePeriodError(pub String);

impl BillingPeriod {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        (1..=12).contains(&month).then_some(BillingPeriod { year, month })
    }

    pub fn of_date(date: NaiveDate) -> Self {
        BillingPeriod { year: date.year(), month: date.month() }
    }

    pub fn of_micros(micros: i64) -> Option<Self> {
        DateTime::<Utc>::from_timestamp_micros(micros).map(|t| Self::of_date(t.date_naive()))
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid by construction")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            BillingPeriod { year: self.year + 1, month: 1 }
        } else {
            BillingPeriod { year: self.year, month: self.month + 1 }
        }
    }

    pub fn previous(self) -> Self {
        if self.month == 1 {
            BillingPeriod { year: self.year - 1, month: 12 }
        } else {
            BillingPeriod { year: self.year, month: self.month - 1 }
        }
    }

    pub fn days(self) -> u32 {
        (self.next().first_day() - self.first_day()).num_days() as u32
    }
}

impl fmt::Display for BillingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for BillingPeriod {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParsePeriodError(text.to_owned());
        let (year, month) = text.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.is_empty() || month.len() > 2 {
            return Err(err());
        }
        let year = year.parse().map_err(|_| err())?;
        let month = month.parse().map_err(|_| err())?;
        BillingPeriod::new(year, month).ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats_and_steps() {
        let p: BillingPeriod = "2024-02".parse().unwrap();
        assert_eq!(p.to_string(), "2024-02");
        assert_eq!(p.days(), 29);
        assert_eq!(p.previous().to_string(), "2024-01");
        assert_eq!("2024-12".parse::<BillingPeriod>().unwrap().next().to_string(), "2025-01");
        for bad in ["2024", "2024-13", "24-01", "2024-1x"] {
            assert!(bad.parse::<BillingPeriod>().is_err(), "{bad}");
        }
    }
}
