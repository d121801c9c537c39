//! Exact proportional splits: largest-remainder rounding in money units, so the parts
//! always add up to the whole — no cent created or lost, no floating point.

/// Splits `amount` across `weights` in proportion; weights ≤ 0 get nothing.
/// Returns `None` when no weight is positive (nothing to split by).
/// Ties in the remainder go to the earlier weight, so results are deterministic.
pub fn split_proportionally(amount: i128, weights: &[i128]) -> Option<Vec<i128>> {
    let total: i128 = weights.iter().map(|w| (*w).max(0)).sum();
    if total == 0 {
        return None;
    }
    let magnitude = amount.abs();
    let mut parts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let weight = (*weight).max(0);
        parts.push(magnitude * weight / total);
        remainders.push((magnitude * weight % total, index));
    }
    let leftover = magnitude - parts.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(leftover as usize) {
        parts[index] += 1;
    }
    if amount < 0 {
        parts.iter_mut().for_each(|p| *p = -*p);
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_always_sum_to_the_whole() {
        let cases: &[(i128, &[i128])] = &[
            (100, &[1, 1, 1]),
            (-100, &[1, 1, 1]),
            (1, &[5, 5]),
            (999_999_999_999, &[3, 7, 11, 13]),
            (-145_810_073_077, &[4_860_335_769, 1, 0, 2_000_000_000]),
            (7, &[0, 3, -2]),
        ];
        for (amount, weights) in cases {
            let parts = split_proportionally(*amount, weights).unwrap();
            assert_eq!(parts.iter().sum::<i128>(), *amount, "{amount} over {weights:?}");
            for (part, weight) in parts.iter().zip(*weights) {
                if *weight <= 0 {
                    assert_eq!(*part, 0);
                }
            }
        }
    }

    #[test]
    fn shares_follow_the_weights() {
        assert_eq!(split_proportionally(100, &[1, 1, 1]).unwrap(), vec![34, 33, 33]);
        assert_eq!(split_proportionally(-100, &[3, 1]).unwrap(), vec![-75, -25]);
        assert_eq!(split_proportionally(10, &[0, 0]), None);
    }
}
