//! The trend detector over any series JS samples itself (`watchResources`: open file
//! descriptors, active handles, timers, external memory). The same detector as the heap's
//! ([`memwatch_core::trend`]), one instance per watched kind; nothing here touches V8.

use memwatch_core::runway::{runway_reason, RunwayConfig, RunwayJudge, RunwayQuantity};
use memwatch_core::trend::{TrendConfig, TrendDetector};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A trend report on a sampled series, in the series' own unit.
#[napi(object)]
pub struct SeriesLeak {
    /// Start and end of the episode so far, ms since the epoch.
    pub start: f64,
    pub end: f64,
    /// Rise of the trend over the episode.
    pub growth: f64,
    /// Slope of the trend, per second.
    pub rate: f64,
    /// The series now, on the trend line.
    pub current: f64,
    /// Samples in the window that decided.
    pub samples: f64,
    /// A reminder of an episode already reported.
    pub reminder: bool,
}

/// Detector settings, validated by the JS side.
#[napi(object)]
pub struct SeriesOptions {
    pub window_ms: f64,
    pub warmup_ms: f64,
    pub min_growth_percent: f64,
    pub min_growth: f64,
    pub reminder_ms: f64,
    /// The rise must be this many times the noise (default: the heap detector's).
    pub noise_factor: Option<f64>,
    /// Mann-Kendall concordance that counts as monotone, 0 to 1 (default: the heap detector's).
    pub min_concordance: Option<f64>,
    /// How far above the lookback's floors the window must end, as a share of its rise (default 0.5).
    pub new_share: Option<f64>,
}

#[napi]
pub struct SeriesWatch {
    detector: TrendDetector,
}

fn whole_ms(value: f64, name: &str) -> Result<u64> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: {name} must be a non-negative number, got {value}")));
    }
    Ok(value as u64)
}

#[napi]
impl SeriesWatch {
    #[napi(constructor)]
    pub fn new(options: SeriesOptions) -> Result<SeriesWatch> {
        let config = TrendConfig {
            min_window_ms: whole_ms(options.window_ms, "windowMs")?.max(8),
            warmup_ms: whole_ms(options.warmup_ms, "warmupMs")?,
            reminder_ms: whole_ms(options.reminder_ms, "reminderMs")?,
            min_growth_percent: {
                whole_ms(options.min_growth_percent, "minGrowthPercent")?;
                options.min_growth_percent
            },
            min_growth_abs: {
                whole_ms(options.min_growth, "minGrowth")?;
                options.min_growth
            },
            ..TrendConfig::default()
        };
        let mut config = config;
        if let Some(f) = options.noise_factor {
            if !f.is_finite() || f < 0.0 {
                return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: noiseFactor must be a non-negative number, got {f}")));
            }
            config.noise_factor = f;
        }
        if let Some(c) = options.min_concordance {
            if !(0.0..=1.0).contains(&c) {
                return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: minConcordance must be from 0 to 1, got {c}")));
            }
            config.min_concordance = c;
        }
        if let Some(n) = options.new_share {
            if !n.is_finite() || !(-1.0..=1.0).contains(&n) {
                return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: newShare must be from -1 to 1, got {n}")));
            }
            config.new_share = n;
        }
        Ok(SeriesWatch { detector: TrendDetector::new(config) })
    }

    /// Feeds one reading at `t_ms`; a report when the series is found to grow steadily.
    #[napi]
    pub fn observe(&mut self, value: f64, t_ms: f64) -> Option<SeriesLeak> {
        if !value.is_finite() || !t_ms.is_finite() {
            return None;
        }
        let r = self.detector.observe(value.max(0.0).round() as u64, t_ms)?;
        Some(SeriesLeak {
            start: r.start_ms,
            end: r.end_ms,
            growth: r.growth as f64,
            rate: r.rate,
            current: r.current,
            samples: r.gcs as f64,
            reminder: r.reminder,
        })
    }

    /// Whether a reported episode is still growing.
    #[napi(getter)]
    pub fn in_episode(&self) -> bool {
        self.detector.in_episode()
    }
}

/// A runway judge over a series JS samples itself (the process's memory, open file
/// descriptors): [`memwatch_core::runway`].
#[napi]
pub struct RunwayWatch {
    judge: RunwayJudge,
    quantity: RunwayQuantity,
}

#[napi]
impl RunwayWatch {
    /// `kind`: 'memory' (bytes) or 'fds' (a count).
    #[napi(constructor)]
    pub fn new(kind: String) -> Result<RunwayWatch> {
        let quantity = match kind.as_str() {
            "memory" => RunwayQuantity::Memory,
            "fds" => RunwayQuantity::Fds,
            "heap" => RunwayQuantity::Heap,
            other => return Err(Error::new(Status::InvalidArg, format!("memwatch-rs: no runway for {other:?}; kinds: memory, fds, heap"))),
        };
        Ok(RunwayWatch { judge: RunwayJudge::new(RunwayConfig::default()), quantity })
    }

    /// Feeds one reading against `limit`. When the series is racing towards it: `[start, end,
    /// growth, rate, limit, timeToLimit, current, base, samples]` and the reason, worded with
    /// `limit_name` (`the container's`).
    #[napi]
    pub fn observe(&mut self, value: f64, t_ms: f64, limit: f64, limit_name: String) -> Option<(Vec<f64>, String)> {
        let r = self.judge.observe(t_ms, value, limit)?;
        let reason = runway_reason(self.quantity, &limit_name, &r);
        Some((crate::monitor::runway_values(&r), reason))
    }

    #[napi(getter)]
    pub fn in_episode(&self) -> bool {
        self.judge.in_episode()
    }
}
