//! Kubernetes quantities (`500m`, `1.5Gi`) in the form the API server stores them.
//!
//! The API server does not keep a container's requests and limits as written: it rounds them up
//! to whole milli-units and prints them canonically, so `0.5` reads back as `500m`, `1000m` as
//! `1`, `1024Mi` as `1Gi` and `1.5Gi` as `1536Mi`. A backend that stored them as given would read
//! back something a cluster never shows, and every comparison with a live cluster would differ.

/// The decimal SI suffixes by power of 1000, from milli (`m`, the finest a resource list keeps) up.
const DECIMAL: [(i32, &str); 8] = [
    (-3, "m"),
    (0, ""),
    (3, "k"),
    (6, "M"),
    (9, "G"),
    (12, "T"),
    (15, "P"),
    (18, "E"),
];

/// The binary SI suffixes by power of 1024.
const BINARY: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// How a quantity was written, which its canonical form keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `500m`, `2`, `1G`.
    DecimalSi,
    /// `512Mi`.
    BinarySi,
    /// `1e3`.
    DecimalExponent,
}

/// `q` as the Kubernetes API server stores it in a resource list: rounded up to whole milli-units
/// and printed canonically (`0.5` → `500m`, `1000m` → `1`, `1024Mi` → `1Gi`, `1.5Gi` →
/// `1536Mi`, `0` → `0`); `None` if `q` is not a quantity Kubernetes accepts there (negative
/// quantities included) or is too large to represent here (beyond what a resource list holds).
pub fn canonical_quantity(q: &str) -> Option<String> {
    let (milli, format) = parse_milli(q)?;
    if milli == 0 {
        return Some("0".into());
    }
    // A binary quantity below 1Ki, or not a whole number of units, is printed in decimal.
    if format == Format::BinarySi && milli >= 1024 * 1000 && milli % 1000 == 0 {
        let mut units = milli / 1000;
        let mut power = 0;
        while units % 1024 == 0 && power + 1 < BINARY.len() {
            units /= 1024;
            power += 1;
        }
        return Some(format!("{units}{}", BINARY[power]));
    }
    // The largest power of 1000 that leaves a whole mantissa.
    let (mut mantissa, mut exponent) = (milli, -3);
    while mantissa % 1000 == 0 && exponent < 18 {
        mantissa /= 1000;
        exponent += 3;
    }
    Some(match format {
        Format::DecimalExponent if exponent == 0 => mantissa.to_string(),
        Format::DecimalExponent => format!("{mantissa}e{exponent}"),
        Format::DecimalSi | Format::BinarySi => {
            let suffix = DECIMAL
                .iter()
                .find(|(e, _)| *e == exponent)
                .map(|(_, s)| *s)
                .expect("the exponent is a multiple of 3 from -3 to 18");
            format!("{mantissa}{suffix}")
        }
    })
}

/// The value of `q` in milli-units, rounded up as the API server stores it (`1` is `1000`,
/// `1Gi` is `1073741824000`): what comparing two quantities needs, e.g. a request against its
/// limit. `None` if `q` is not a quantity.
pub fn quantity_milli(q: &str) -> Option<i128> {
    parse_milli(q).map(|(milli, _)| milli)
}

/// The value of `q` in milli-units, rounded up, and how it was written.
fn parse_milli(q: &str) -> Option<(i128, Format)> {
    let q = q.strip_prefix('+').unwrap_or(q);
    let end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    // The value is digits × 10^exp10 × 1024^exp1024.
    let digits: String = [whole, fraction].concat();
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let digits: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let fraction_len = i32::try_from(fraction.len()).ok()?;
    let (format, exp10, exp1024) = match suffix {
        "" => (Format::DecimalSi, 0, 0),
        "n" => (Format::DecimalSi, -9, 0),
        "u" => (Format::DecimalSi, -6, 0),
        _ if BINARY.contains(&suffix) => {
            let power = BINARY.iter().position(|s| *s == suffix)?;
            (Format::BinarySi, 0, u32::try_from(power).ok()?)
        }
        _ => match DECIMAL.iter().find(|(_, s)| *s == suffix) {
            Some((e, _)) => (Format::DecimalSi, *e, 0),
            None => {
                let exponent = suffix.strip_prefix(['e', 'E'])?;
                let digits_only = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                if digits_only.is_empty() || !digits_only.chars().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                (Format::DecimalExponent, exponent.parse::<i32>().ok()?, 0)
            }
        },
    };
    let value = digits.checked_mul(1024_i128.checked_pow(exp1024)?)?;
    // In milli-units: × 10^(exp10 - fraction_len + 3), rounded up when that divides.
    let shift = exp10 - fraction_len + 3;
    let milli = if shift >= 0 {
        value.checked_mul(10_i128.checked_pow(u32::try_from(shift).ok()?)?)?
    } else {
        match 10_i128.checked_pow(u32::try_from(-shift).ok()?) {
            Some(divisor) => value / divisor + i128::from(value % divisor != 0),
            // Smaller than any milli-unit (and not zero): one milli-unit.
            None => i128::from(value != 0),
        }
    };
    Some((milli, format))
}

#[cfg(test)]
mod tests {
    use super::canonical_quantity;

    #[test]
    fn quantities_read_back_as_the_api_server_prints_them() {
        for (written, stored) in [
            // Already canonical.
            ("100m", "100m"),
            ("1", "1"),
            ("128Mi", "128Mi"),
            ("1Gi", "1Gi"),
            ("250m", "250m"),
            ("1G", "1G"),
            // CPU: decimals become milli-units, whole units drop the `m`.
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000m", "1"),
            ("2000m", "2"),
            ("0.25", "250m"),
            ("1500m", "1500m"),
            ("+1", "1"),
            // Finer than a milli-unit rounds up.
            ("0.0001", "1m"),
            ("100u", "1m"),
            ("1500000n", "2m"),
            // Memory: binary quantities take the largest exact binary suffix.
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("2048Ki", "2Mi"),
            ("1Ki", "1Ki"),
            ("1.5Ki", "1536"),
            ("0.5Ki", "512"),
            // Decimal memory: the largest power of 1000 that divides.
            ("1000000", "1M"),
            ("128974848", "128974848"),
            ("1000M", "1G"),
            ("0.5G", "500M"),
            // Exponent notation stays exponent notation.
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1.5e3", "1500"),
            // Zero in any form.
            ("0", "0"),
            ("0m", "0"),
            ("0Gi", "0"),
        ] {
            assert_eq!(
                canonical_quantity(written).as_deref(),
                Some(stored),
                "{written}"
            );
        }
    }

    #[test]
    fn what_is_not_a_quantity_is_none() {
        for q in [
            "", "lots", "1.2.3", ".", "-1", "1x", "1Mib", "1e", "1ee3", "m", "1 Gi",
        ] {
            assert_eq!(canonical_quantity(q), None, "{q:?}");
        }
    }
}
