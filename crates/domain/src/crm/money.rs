//! Deal amounts as exact decimals. CRMs send amounts as strings (`"12000.50"`), JSON
//! numbers (`12000.0`, `1.2E4`) or garbage; we keep four decimal places in an integer,
//! so sums never drift, and refuse what no sales team sells (over a trillion).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fraction digits kept.
const SCALE: u32 = 4;
const ONE: i64 = 10_i64.pow(SCALE);
/// The largest magnitude accepted, in whole currency units.
pub const MAX_UNITS: i64 = 1_000_000_000_000;

/// An exact decimal amount of money (currency kept beside it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount {
    /// Ten-thousandths of a currency unit.
    scaled: i64,
}

/// Why a value is not an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("not a number")]
    NotANumber,
    #[error("larger than {MAX_UNITS}")]
    TooLarge,
}

impl Amount {
    pub const ZERO: Amount = Amount { scaled: 0 };

    /// From ten-thousandths of a unit.
    pub fn from_scaled(scaled: i64) -> Result<Self, AmountError> {
        if scaled.unsigned_abs() > (MAX_UNITS as u64) * (ONE as u64) {
            return Err(AmountError::TooLarge);
        }
        Ok(Self { scaled })
    }

    pub fn scaled(self) -> i64 {
        self.scaled
    }

    /// Sum, saturating (a sum of capped amounts over a whole org still fits in i64).
    pub fn saturating_add(self, other: Amount) -> Amount {
        Amount {
            scaled: self.scaled.saturating_add(other.scaled),
        }
    }

    /// The value as a float, for display and scoring only.
    pub fn to_f64(self) -> f64 {
        self.scaled as f64 / ONE as f64
    }

    /// From a JSON value: a number or a numeric string; `null` and `""` are `None`.
    pub fn from_json(value: &serde_json::Value) -> Result<Option<Self>, AmountError> {
        match value {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
            serde_json::Value::String(s) => s.parse().map(Some),
            serde_json::Value::Number(n) => n.to_string().parse().map(Some),
            _ => Err(AmountError::NotANumber),
        }
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Accepts `-12000`, `12000.5`, `1.2E4`, `+3`; rounds half away from zero past four
    /// decimals. Thousands separators, currency signs, NaN and infinities are refused.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => {
                let exp: i32 = rest[i + 1..].parse().map_err(|_| AmountError::NotANumber)?;
                (&rest[..i], exp)
            }
            None => (rest, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AmountError::NotANumber);
        }
        // All digits, and where the decimal point falls among them once the exponent
        // has moved it (negative: before the first digit).
        let all = format!("{int_part}{frac_part}");
        let digits = all.trim_start_matches('0');
        let point = int_part.len() as i64 + i64::from(exponent) - (all.len() - digits.len()) as i64;
        if digits.is_empty() {
            return Ok(Amount::ZERO);
        }
        if point > 13 {
            return Err(AmountError::TooLarge);
        }
        // Keep the digits down to SCALE places after the point; round on the next one.
        let keep = point + i64::from(SCALE);
        let mut scaled: i128 = 0;
        if keep >= 0 {
            let keep = keep as usize;
            for i in 0..keep {
                let d = digits.as_bytes().get(i).map_or(0, |b| b - b'0');
                scaled = scaled * 10 + i128::from(d);
            }
            if digits.as_bytes().get(keep).is_some_and(|b| *b >= b'5') {
                scaled += 1;
            }
        }
        let scaled = if negative { -scaled } else { scaled };
        let scaled = i64::try_from(scaled).map_err(|_| AmountError::TooLarge)?;
        Amount::from_scaled(scaled)
    }
}

impl fmt::Display for Amount {
    /// At least two decimals, more only when present: `12000.00`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.scaled < 0 { "-" } else { "" };
        let abs = self.scaled.unsigned_abs();
        let whole = abs / ONE as u64;
        let mut frac = format!("{:04}", abs % ONE as u64);
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}{whole}.{frac}")
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amt(s: &str) -> String {
        s.parse::<Amount>()
            .map(|a| a.to_string())
            .unwrap_or_else(|e| format!("{e:?}"))
    }

    #[test]
    fn parses_what_crms_send() {
        assert_eq!(amt("12000"), "12000.00");
        assert_eq!(amt("12000.5"), "12000.50");
        assert_eq!(amt("12000.0"), "12000.00");
        assert_eq!(amt("1.2E4"), "12000.00");
        assert_eq!(amt("1.25e-2"), "0.0125");
        assert_eq!(amt("0.00005"), "0.0001");
        assert_eq!(amt("0.00004"), "0.00");
        assert_eq!(amt("-99.999"), "-99.999");
        assert_eq!(amt("+3"), "3.00");
        assert_eq!(amt(".5"), "0.50");
        assert_eq!(amt("007"), "7.00");
        assert_eq!(amt("0"), "0.00");
        assert_eq!(amt("1000000000000"), "1000000000000.00");
    }

    #[test]
    fn refuses_garbage_and_absurd_values() {
        for bad in [
            "", "-", ".", "abc", "1,000", "$5", "NaN", "inf", "1e", "1.2.3", "--1",
        ] {
            assert_eq!(bad.parse::<Amount>(), Err(AmountError::NotANumber), "{bad}");
        }
        for big in ["1000000000001", "1e13", "99999999999999999999999", "-1e300"] {
            assert_eq!(big.parse::<Amount>(), Err(AmountError::TooLarge), "{big}");
        }
        assert_eq!(amt("1e-300"), "0.00");
    }

    #[test]
    fn json_numbers_and_strings() {
        let j = |v: serde_json::Value| Amount::from_json(&v).map(|a| a.map(|a| a.to_string()));
        assert_eq!(j(serde_json::json!(12000.5)), Ok(Some("12000.50".into())));
        assert_eq!(j(serde_json::json!("42")), Ok(Some("42.00".into())));
        assert_eq!(j(serde_json::json!(null)), Ok(None));
        assert_eq!(j(serde_json::json!("")), Ok(None));
        assert_eq!(j(serde_json::json!(true)), Err(AmountError::NotANumber));
    }

    proptest! {
        #[test]
        fn display_parses_back(scaled in -(MAX_UNITS * ONE)..=(MAX_UNITS * ONE)) {
            let a = Amount::from_scaled(scaled).expect("in range");
            prop_assert_eq!(a.to_string().parse::<Amount>(), Ok(a));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Amount>();
        }
    }
}
