//! The detector core: one causal verdict per point of a regular series.
//!
//! For point `t` only points before it shape the baseline, exactly as a daily job would
//! see them. Two tests run on every point:
//!
//! - **spike**: the value against a seasonal, robust baseline — the median of the last
//!   period's deseasonalised values, with weekly (or any period's) factors and a MAD spread
//!   from the trailing window. Medians ignore earlier spikes; a level shift becomes the new
//!   normal after half a period.
//! - **drift**: an EWMA control chart of the value against a reference level that ends one
//!   period ago and follows the reference window's own robust (Theil–Sen) trend, so steady
//!   growth is expected while a ramp or a small sustained shift accumulates.
//!
//! A series with less history than the model needs is judged by the cold-start rule.

use statrs::distribution::{ContinuousCDF, Normal};

/// Detector settings. `for_period` gives the defaults scaled to a season length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Season length in points: 7 for daily data with a weekly pattern, 1 for none.
    pub period: usize,
    /// Trailing points the baseline may use.
    pub history: usize,
    /// Fewer points of history than this and the cold-start rule judges.
    pub min_history: usize,
    /// Points in the short level (the spike baseline).
    pub level_window: usize,
    /// Robust z-score a value must reach to be a spike.
    pub spike_z: f64,
    /// EWMA smoothing and control limit (in EWMA standard deviations).
    pub ewma_lambda: f64,
    pub ewma_limit: f64,
    /// Points between the end of the drift reference and the point judged.
    pub drift_lag: usize,
    /// The spread is at least this fraction of the level (no alarms on near-constant series).
    pub relative_noise_floor: f64,
    /// In cold start, a value this many times the median so far is a candidate.
    pub cold_ratio: f64,
    /// A drift also needs the short level (a median, so no single day) this far above the
    /// reference, as a fraction.
    pub drift_min_rise: f64,
}

impl Params {
    pub fn for_period(period: usize) -> Params {
        let period = period.max(1);
        let level_window = if period == 1 { 7 } else { period };
        Params {
            period,
            history: (8 * period).max(56),
            min_history: (2 * period).max(14),
            level_window,
            spike_z: 5.0,
            ewma_lambda: 0.3,
            ewma_limit: 3.0,
            drift_lag: level_window,
            relative_noise_floor: 0.05,
            cold_ratio: 2.0,
            drift_min_rise: 0.15,
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::for_period(7)
    }
}

/// Which test raised a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Within the baseline.
    Normal,
    Spike,
    Drift,
    /// Cold start: spend where there was none, or a multiple of the little history there is.
    NewSpend,
    /// Cold start at the very beginning of the data: too little to judge yet.
    Warmup,
}

/// The verdict on one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub actual: f64,
    /// What the baseline expected; for a drift, the reference level's projection.
    pub expected: f64,
    /// How far above the baseline, in robust standard deviations.
    pub z: f64,
    /// How unlikely the value is under the baseline, in [0, 1]: −log10 of the upper-tail
    /// probability over 10, so 0.5 is a one-in-10⁵ value.
    pub severity: f64,
    pub signal: Signal,
}

impl Verdict {
    pub fn is_candidate(&self) -> bool {
        matches!(self.signal, Signal::Spike | Signal::Drift | Signal::NewSpend)
    }

    pub fn impact(&self) -> f64 {
        self.actual - self.expected
    }

    /// Impact as a percentage of expected; `None` when nothing was expected.
    pub fn impact_pct(&self) -> Option<f64> {
        (self.expected > 0.0).then(|| self.impact() / self.expected * 100.0)
    }
}

/// Scores every point of `values`; `phase0` is the season position of the first point
/// (for daily data: days since Monday). Verdict `t` depends on `values[..=t]` only.
///
/// One pass: the local levels behind the seasonal factors are computed once (each from
/// points before any verdict that uses it); the seasonal factors, the spread (from the
/// baseline's own past prediction errors) and the drift reference are refitted once a
/// season, on points before the one judged; the level is a median of the last season.
pub fn score(values: &[f64], phase0: usize, params: &Params) -> Vec<Verdict> {
    let normal = Normal::standard();
    let period = params.period.max(1);
    let first_active = values.iter().position(|v| *v != 0.0);
    let ratios = ratios_to_local_level(values, period);
    let mut scan = Scan::new(values.len());
    let mut verdicts = Vec::with_capacity(values.len());
    for (t, &actual) in values.iter().enumerate() {
        let active = first_active.map_or(0, |first| t.saturating_sub(first));
        let verdict = if active < params.min_history {
            scan.reset();
            // New spend means a season of silence first: a quiet night is not an absence.
            let appeared = first_active.is_some_and(|f| f >= period && f <= t);
            cold_start(&values[..t], actual, appeared, params, &normal)
        } else {
            let start = t - active.min(params.history);
            scan.judge(values, &ratios, start, t, phase0, params, &normal)
        };
        verdicts.push(verdict);
    }
    verdicts
}

/// `values[i]` over the median of the season-long window around it (NaN where that
/// window is incomplete or not positive). Position `i` uses points up to `i + period/2`.
fn ratios_to_local_level(values: &[f64], period: usize) -> Vec<f64> {
    let mut ratios = vec![f64::NAN; values.len()];
    if period < 2 {
        return ratios;
    }
    let half = period / 2;
    let mut window = Vec::with_capacity(period);
    for i in half..values.len().saturating_sub(period - half - 1) {
        window.clear();
        window.extend_from_slice(&values[i - half..i - half + period]);
        let local = median(&mut window);
        if local > 0.0 {
            ratios[i] = values[i] / local;
        }
    }
    ratios
}

/// State carried along one series.
struct Scan {
    ewma: f64,
    /// Past relative prediction errors of the spike baseline, oldest first.
    errors: Vec<f64>,
    scratch: Vec<f64>,
    /// Deseasonalised history at the last refresh.
    history: Vec<f64>,
    /// The spike baseline's level at each point judged (NaN elsewhere): the median of the
    /// season before it. The drift reference is made of these.
    levels: Vec<f64>,
    /// The slow-moving parts of the baseline, refreshed once a season.
    model: Option<Model>,
}

#[derive(Debug, Clone)]
struct Model {
    refreshed_at: usize,
    factors: Vec<f64>,
    relative_spread: f64,
    /// The drift reference's trend per point: the Theil–Sen slope of season levels.
    slope: Option<f64>,
}

impl Scan {
    fn new(points: usize) -> Scan {
        Scan {
            ewma: 0.0,
            errors: Vec::new(),
            scratch: Vec::new(),
            history: Vec::new(),
            levels: vec![f64::NAN; points],
            model: None,
        }
    }

    fn reset(&mut self) {
        self.ewma = 0.0;
        self.errors.clear();
        self.model = None;
    }

    #[allow(clippy::too_many_arguments)]
    fn judge(
        &mut self,
        values: &[f64],
        ratios: &[f64],
        start: usize,
        t: usize,
        phase0: usize,
        params: &Params,
        normal: &Normal,
    ) -> Verdict {
        let period = params.period.max(1);
        let refresh_every = params.level_window.max(period);
        if self.model.as_ref().is_none_or(|m| t - m.refreshed_at >= refresh_every) {
            self.refresh(values, ratios, start, t, phase0, params);
        }
        let model = self.model.as_ref().expect("refreshed above");
        let deseasonalise = |i: usize| values[i] / model.factors[(phase0 + i) % period];
        self.scratch.clear();
        self.scratch.extend((t.saturating_sub(params.level_window).max(start)..t).map(deseasonalise));
        let level = median(&mut self.scratch);
        self.levels[t] = level;

        let actual = values[t];
        let factor = model.factors[(phase0 + t) % period];
        let seen = actual / factor;
        let spread = (model.relative_spread * level.abs()).max(1e-6);
        let z = (seen - level) / spread;
        if level > 0.0 {
            self.errors.push((seen - level) / level);
        }

        // Drift: the same value against a trend-following reference that ends `drift_lag`
        // ago; only once that reference spans two seasons.
        let ewma_sd = (params.ewma_lambda / (2.0 - params.ewma_lambda)).sqrt();
        let mut drift = None;
        if let Some(reference) = self.reference(start, t, params) {
            let reference_spread = (model.relative_spread * reference.abs()).max(1e-6);
            let z_reference = ((seen - reference) / reference_spread).clamp(-4.0, 4.0);
            self.ewma = params.ewma_lambda * z_reference + (1.0 - params.ewma_lambda) * self.ewma;
            let raised = self.ewma >= params.ewma_limit * ewma_sd
                && z_reference > 1.0
                && level >= reference * (1.0 + params.drift_min_rise);
            drift = raised.then_some(reference);
        }
        let (expected, z, signal) = match drift {
            _ if z >= params.spike_z => (level * factor, z, Signal::Spike),
            Some(reference) => (reference * factor, self.ewma / ewma_sd, Signal::Drift),
            None => (level * factor, z, Signal::Normal),
        };
        Verdict { actual, expected, z, severity: severity(z, normal), signal }
    }

    /// Refits the seasonal factors, the spread and the drift trend on points before `t`.
    fn refresh(&mut self, values: &[f64], ratios: &[f64], start: usize, t: usize, phase0: usize, params: &Params) {
        let period = params.period.max(1);
        let factors = self.seasonal_factors(ratios, start, t, phase0, period);
        self.history.clear();
        deseasonalise_into(&mut self.history, &values[start..t], &factors, (phase0 + start) % period);
        let relative_spread = self.relative_spread(params);
        let slope = self.season_levels(start, t, params).map(|(blocks, count)| theil_sen(&blocks[..count]).max(0.0));
        self.model = Some(Model { refreshed_at: t, factors, relative_spread, slope });
    }

    /// The drift reference for `t`: the level of the season ending `drift_lag` before it,
    /// projected to `t` along the trend of earlier seasons (never downwards). `None` until
    /// two seasons are available.
    fn reference(&self, start: usize, t: usize, params: &Params) -> Option<f64> {
        let slope = self.model.as_ref()?.slope?;
        let end = t.checked_sub(params.drift_lag).filter(|end| *end >= start + params.level_window.max(1))?;
        let level = self.levels[end];
        let centre = end as f64 - params.level_window.max(1) as f64 / 2.0;
        level.is_finite().then_some(level + slope * (t as f64 - centre))
    }

    /// Levels of whole seasons ending `drift_lag` and more before `t`, newest first, with
    /// their centres; at least two.
    fn season_levels(&self, start: usize, t: usize, params: &Params) -> Option<([(f64, f64); 12], usize)> {
        let block = params.level_window.max(1);
        let mut blocks = [(0.0, 0.0); 12];
        let mut count = 0;
        let mut end = t.checked_sub(params.drift_lag)?;
        while count < blocks.len() && end >= start + block {
            let level = self.levels[end];
            if !level.is_finite() {
                break;
            }
            blocks[count] = (end as f64 - block as f64 / 2.0, level);
            count += 1;
            end -= block;
        }
        (count >= 2).then_some((blocks, count))
    }

    /// Per-season factors from the ratios whose windows lie wholly before `t`: each
    /// position's median ratio, normalised to average 1; all 1 until every position has two.
    fn seasonal_factors(&mut self, ratios: &[f64], start: usize, t: usize, phase0: usize, period: usize) -> Vec<f64> {
        let mut factors = vec![1.0; period];
        let last = (t + period / 2).checked_sub(period);
        let Some(last) = last.filter(|_| period >= 2 && t - start >= 2 * period) else { return factors };
        for (position, factor) in factors.iter_mut().enumerate() {
            self.scratch.clear();
            // The first index at this season position, then one per season.
            let first = start + (position + period - (phase0 + start) % period) % period;
            self.scratch.extend((first..=last).step_by(period).map(|i| ratios[i]).filter(|r| r.is_finite()));
            if self.scratch.len() < 2 {
                return vec![1.0; period];
            }
            *factor = median(&mut self.scratch).clamp(0.05, 20.0);
        }
        let mean = factors.iter().sum::<f64>() / period as f64;
        factors.iter_mut().for_each(|f| *f /= mean);
        factors
    }

    /// The spread of the baseline's past prediction errors, relative to the level, over the
    /// recent window (robust: past anomalies do not widen it); before there are enough, the
    /// spread of the history itself. At least `relative_noise_floor`.
    fn relative_spread(&mut self, params: &Params) -> f64 {
        let window = 8 * params.level_window.max(7);
        let recent = &self.errors[self.errors.len().saturating_sub(window)..];
        let spread = if recent.len() >= 2 * params.level_window.max(7) {
            robust_spread_with(recent, &mut self.scratch)
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.history);
            let level = median(&mut self.scratch);
            if level > 0.0 { robust_spread_with(&self.history, &mut self.scratch) / level } else { 0.0 }
        };
        if self.errors.len() > 4 * window {
            self.errors.drain(..self.errors.len() - window);
        }
        spread.max(params.relative_noise_floor)
    }
}

/// Appends `values` divided by their season's factor; `phase` is the first value's position.
fn deseasonalise_into(out: &mut Vec<f64>, values: &[f64], factors: &[f64], mut phase: usize) {
    out.clear();
    out.reserve(values.len());
    for v in values {
        out.push(v / factors[phase]);
        phase += 1;
        if phase == factors.len() {
            phase = 0;
        }
    }
}

/// The rule for short histories. `appeared` says the series began after the data did
/// (spend where there was none is news); at the very start of the data, nothing is.
fn cold_start(history: &[f64], actual: f64, appeared: bool, params: &Params, normal: &Normal) -> Verdict {
    let active: Vec<f64> = history.iter().copied().skip_while(|v| *v == 0.0).collect();
    let expected = if active.is_empty() { 0.0 } else { median(&mut active.clone()) };
    // Judge against the highest point of the last season, so a busy hour of the day or a
    // busy weekday is not news; wait for a seventh of a season (three days, or a day of hours).
    let needed = (params.period / 7).max(3);
    let recent_high = active[active.len().saturating_sub(params.level_window)..].iter().copied().fold(0.0, f64::max);
    let candidate = if active.is_empty() {
        appeared && actual > 0.0
    } else {
        active.len() >= needed && actual > recent_high * params.cold_ratio && actual > 0.0
    };
    let warming = !appeared && active.len() < needed;
    let z = if expected > 0.0 {
        (actual - expected) / (expected * 0.25)
    } else if actual > 0.0 {
        10.0
    } else {
        0.0
    };
    let signal = match (candidate, warming) {
        (true, _) => Signal::NewSpend,
        (false, true) => Signal::Warmup,
        (false, false) => Signal::Normal,
    };
    Verdict { actual, expected, z, severity: severity(z, normal), signal }
}

/// The Theil–Sen slope: the median of pairwise slopes.
/// Uses the latest 12 points at most (66 slopes, on the stack).
fn theil_sen(points: &[(f64, f64)]) -> f64 {
    let points = &points[..points.len().min(12)];
    let mut slopes = [0.0; 66];
    let mut count = 0;
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if (a.0 - b.0).abs() > f64::EPSILON {
                slopes[count] = (a.1 - b.1) / (a.0 - b.0);
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { median(&mut slopes[..count]) }
}

/// 1.4826 × the median absolute deviation (the standard deviation for normal data), using
/// `scratch` as working space.
fn robust_spread_with(values: &[f64], scratch: &mut Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    scratch.clear();
    scratch.extend_from_slice(values);
    let centre = median(scratch);
    scratch.clear();
    scratch.extend(values.iter().map(|v| (v - centre).abs()));
    1.4826 * median(scratch)
}

/// The median, reordering `values` (selection, not a full sort).
pub fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let mid = n / 2;
    if n == 7 {
        return median_of_7(values);
    }
    if n <= 32 {
        // Windows of a season or so: insertion sort beats selection at this size.
        for i in 1..n {
            let mut j = i;
            while j > 0 && values[j - 1] > values[j] {
                values.swap(j - 1, j);
                j -= 1;
            }
        }
        return if n % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 };
    }
    // Larger windows: selection, not a full sort.
    let (below, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 { upper } else { (below.iter().copied().fold(f64::NEG_INFINITY, f64::max) + upper) / 2.0 }
}

/// A week's median, the commonest case by far: a 16-comparator sorting network, branch-free.
fn median_of_7(v: &mut [f64]) -> f64 {
    const NETWORK: [(usize, usize); 16] = [
        (0, 6),
        (2, 3),
        (4, 5),
        (0, 2),
        (1, 4),
        (3, 6),
        (0, 1),
        (2, 5),
        (3, 4),
        (1, 2),
        (4, 6),
        (2, 3),
        (4, 5),
        (1, 2),
        (3, 4),
        (5, 6),
    ];
    for (a, b) in NETWORK {
        let (low, high) = (v[a].min(v[b]), v[a].max(v[b]));
        v[a] = low;
        v[b] = high;
    }
    v[3]
}

fn severity(z: f64, normal: &Normal) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    let tail = normal.sf(z).max(1e-300);
    (-tail.log10() / 10.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weekly pattern (weekends at 55%) with ±8% deterministic wobble.
    fn weekly(days: usize, level: f64) -> Vec<f64> {
        (0..days)
            .map(|d| {
                let weekend = d % 7 >= 5;
                let wobble = 1.0 + 0.08 * ((d * 37 % 17) as f64 / 8.0 - 1.0);
                level * if weekend { 0.55 } else { 1.0 } * wobble
            })
            .collect()
    }

    fn flagged(verdicts: &[Verdict]) -> Vec<usize> {
        verdicts.iter().enumerate().filter(|(_, v)| v.is_candidate()).map(|(i, _)| i).collect()
    }

    #[test]
    fn medians_of_every_small_size_are_exact() {
        let mut state = 7u64;
        for n in 1..40 {
            for _ in 0..50 {
                let values: Vec<f64> = (0..n)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (state >> 40) as f64
                    })
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let expected = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
                assert_eq!(median(&mut values.clone()), expected, "{values:?}");
            }
        }
    }

    #[test]
    fn weekly_seasonality_alone_raises_nothing() {
        assert_eq!(flagged(&score(&weekly(200, 100.0), 0, &Params::default())), Vec::<usize>::new());
    }

    #[test]
    fn a_spike_is_flagged_on_its_day_with_its_excess() {
        let mut values = weekly(80, 100.0);
        values[60] *= 4.0;
        let verdicts = score(&values, 0, &Params::default());
        assert_eq!(flagged(&verdicts), vec![60]);
        let v = verdicts[60];
        assert_eq!(v.signal, Signal::Spike);
        assert!((v.expected - values[60] / 4.0).abs() < 12.0, "{v:?}");
        assert!(v.severity > 0.5, "{v:?}");
    }

    #[test]
    fn steady_growth_is_expected_but_a_ramp_is_drift() {
        let growth: Vec<f64> =
            weekly(300, 100.0).iter().enumerate().map(|(d, v)| v * 1.004f64.powi(d as i32)).collect();
        assert_eq!(flagged(&score(&growth, 0, &Params::default())), Vec::<usize>::new(), "12%/month is growth");

        let ramp: Vec<f64> = weekly(120, 100.0)
            .iter()
            .enumerate()
            .map(|(d, v)| v * (1.0 + 0.06 * (d.saturating_sub(70) as f64).min(15.0)))
            .collect();
        let flags = flagged(&score(&ramp, 0, &Params::default()));
        assert!(flags.first().is_some_and(|&d| (71..=78).contains(&d)), "{flags:?}");
    }

    #[test]
    fn verdicts_never_depend_on_later_points() {
        let mut values = weekly(120, 50.0);
        values[90] *= 3.0;
        let full = score(&values, 3, &Params::default());
        for cut in [30, 60, 91, 100] {
            assert_eq!(score(&values[..cut], 3, &Params::default())[..], full[..cut]);
        }
    }

    #[test]
    fn cold_start_judges_new_spend_and_waits_at_the_start_of_data() {
        let mut values = vec![0.0; 30];
        values.extend(weekly(10, 80.0));
        let verdicts = score(&values, 0, &Params::default());
        assert_eq!(verdicts[30].signal, Signal::NewSpend, "spend where there was none");
        assert!(verdicts[31..].iter().all(|v| !v.is_candidate()), "then it is the new normal");

        let from_start = score(&weekly(10, 80.0), 0, &Params::default());
        assert!(from_start[..3].iter().all(|v| v.signal == Signal::Warmup));
        let mut jump = weekly(10, 80.0);
        jump[6] = 600.0;
        assert_eq!(score(&jump, 0, &Params::default())[6].signal, Signal::NewSpend, "judged, not skipped");
    }
}
