//! The London-wide work every ward's briefing shares, done once: the
//! period and the months the dataset covers, the selected rows per ward and
//! borough, the Gi* cells (with FDR), the POI-risk ranking and the emerging
//! hot spot categories. `hotspots briefing --all` builds one [`Context`]
//! for 649 pages; the server keeps one for its life.

use std::collections::BTreeSet;

use super::text::IncidentText;
use super::BriefingError;
use crate::analysis::emerging::{self, Emerging, EmergingRequest};
use crate::analysis::fdr::Correction;
use crate::analysis::grid::GridKind;
use crate::analysis::harm::HarmTable;
use crate::analysis::hotspot::{self, HotspotRequest, Hotspots, WeightKind};
use crate::analysis::poi_risk::{self, PoiRisk, PoiRiskRequest};
use crate::analysis::select::Selection;
use crate::analysis::units::{AreaUnits, UnitKind};
use crate::dataset::Dataset;

/// What a briefing covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Months in the period: the latest `months` months in the dataset (1..=12).
    pub months: u32,
    /// police.uk crime types (names or slugs); empty: every crime type but
    /// anti-social behaviour ([`crate::analysis::select`]).
    pub crime_types: Vec<String>,
    pub harm: Option<HarmTable>,
    /// Gi* and emerging cell size, metres (BNG).
    pub cell_m: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            months: 12,
            crime_types: Vec::new(),
            harm: None,
            cell_m: 250.0,
        }
    }
}

/// Gi* and emerging hot spots: the distance band, metres (three 250 m cells).
pub const BAND_M: f64 = 750.0;
/// Months shown in the monthly chart (and analysed for emerging hot spots).
pub const CHART_MONTHS: u32 = 36;
/// Significance (and FDR) level throughout.
pub const ALPHA: f64 = 0.05;

/// A month range, inclusive (month numbers, [`crate::month`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: u32,
    pub to: u32,
}

impl Range {
    pub fn contains(&self, m: u32) -> bool {
        m >= self.from && m <= self.to
    }

    /// `2024-01 to 2024-12`.
    pub fn label(&self) -> String {
        if self.from == self.to {
            crate::month::format(self.from)
        } else {
            format!(
                "{} to {}",
                crate::month::format(self.from),
                crate::month::format(self.to)
            )
        }
    }

    fn selection(&self, base: &Selection) -> Selection {
        Selection {
            from: Some(crate::month::format(self.from)),
            to: Some(crate::month::format(self.to)),
            ..base.clone()
        }
    }
}

/// The shared work (see the module docs).
pub struct Context {
    pub options: Options,
    pub selection: Selection,
    pub text: IncidentText,
    pub wards: AreaUnits,
    pub boroughs: AreaUnits,
    /// Each ward's borough (index into `boroughs`, `u32::MAX` when unknown).
    pub ward_borough: Vec<u32>,
    /// The current period, and the two it is compared with when the
    /// dataset covers them.
    pub period: Range,
    pub previous: Option<Range>,
    pub year_earlier: Option<Range>,
    /// The chart's months (up to [`CHART_MONTHS`], within the dataset).
    pub chart: Range,
    /// Months with at least one selected incident anywhere.
    pub covered: BTreeSet<u32>,
    /// Selected rows (every month) of each ward and borough, and the count in
    /// the period London-wide.
    pub by_ward: Vec<Vec<u32>>,
    pub by_borough: Vec<Vec<u32>>,
    pub london_period: u64,
    pub london_area_km2: f64,
    /// Gi* on `cell_m` square cells over the period, or why not.
    pub hotspots: Result<Hotspots, String>,
    /// POI risk over the period, or why not.
    pub poi: Result<PoiRisk, String>,
    /// Emerging hot spots over the chart's months, or why not.
    pub emerging: Result<Emerging, String>,
    /// The surge-team plan for the month after the data (`hotspots surge`'s
    /// defaults on the briefing's selection), or why not.
    pub surge: Result<crate::analysis::surge::SurgePlan, String>,
    /// The violence pledge by borough over the period (issue 24's
    /// counterfactual, [`crate::analysis::pledge`]), or why not.
    pub pledge: Result<crate::analysis::pledge::Pledge, String>,
    /// The dataset's first and last covered month, its build time.
    pub first_month: u32,
    pub built_at: String,
    pub sources: Vec<String>,
}

/// The pledge's default basket (violence) by borough, evaluated over the
/// briefing's period against the 24 months before it: as `hotspots pledge
/// --from PERIOD_START --to PERIOD_END --by borough` gives it.
fn pledge_by_borough(ds: &Dataset, period: Range) -> Result<crate::analysis::pledge::Pledge, String> {
    use crate::analysis::pledge;
    let given: std::collections::BTreeMap<String, Vec<String>> = [
        ("from", crate::month::format(period.from)),
        ("to", crate::month::format(period.to)),
        ("by", "borough".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect();
    let values = crate::analysis::params::Values::new(pledge::PLEDGE.spec, given).map_err(|e| e.to_string())?;
    let req = pledge::PledgeRequest::from_values(&values).map_err(|e| e.to_string())?;
    pledge::pledge(ds, &req).map_err(|e| e.to_string())
}

/// The ward and borough codes of a dataset's `wards` frame.
fn ward_boroughs(ds: &Dataset, boroughs: &AreaUnits) -> Vec<u32> {
    let codes: Vec<Option<String>> = ds
        .wards
        .column(crate::dataset::schema::areas::BOROUGH_CODE)
        .ok()
        .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.map(str::to_string)).collect()))
        .unwrap_or_default();
    let index: rustc_hash::FxHashMap<&str, u32> = boroughs
        .codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    (0..ds.wards.height())
        .map(|i| {
            codes
                .get(i)
                .and_then(|c| c.as_deref())
                .and_then(|c| index.get(c).copied())
                .unwrap_or(u32::MAX)
        })
        .collect()
}

impl Context {
    /// Does the shared work for `options` on `ds` (the three analyses run
    /// in parallel).
    pub fn build(ds: &Dataset, options: Options) -> Result<Context, BriefingError> {
        if !(1..=12).contains(&options.months) {
            return Err(BriefingError::Param {
                name: "months".into(),
                message: format!(
                    "must be 1 to 12 (the period is compared with the same months a year earlier), got {}",
                    options.months
                ),
            });
        }
        if !(options.cell_m.is_finite() && options.cell_m > 0.0) {
            return Err(BriefingError::Param {
                name: "cell".into(),
                message: format!("must be a positive number of metres, got {}", options.cell_m),
            });
        }
        let selection = Selection {
            crime_types: options.crime_types.clone(),
            ..Selection::default()
        };
        selection.types()?;
        let wards = AreaUnits::from_dataset(ds, "ward")?;
        let boroughs = AreaUnits::from_dataset(ds, "borough").unwrap_or(AreaUnits {
            level: "borough".into(),
            codes: Vec::new(),
            names: Vec::new(),
            polygons_bng: Vec::new(),
            polygons_wgs84: Vec::new(),
            centres: Vec::new(),
            area_km2: Vec::new(),
        });
        let ward_borough = ward_boroughs(ds, &boroughs);
        let rows = selection.rows(ds)?;
        let c = &ds.columns;
        let covered: BTreeSet<u32> = rows.iter().map(|&r| c.month[r as usize]).collect();
        let (Some(&first), Some(&last)) = (covered.first(), covered.last()) else {
            return Err(BriefingError::Data(format!(
                "no incidents in the dataset match the selection ({selection}): there is nothing to brief on"
            )));
        };
        let n = options.months;
        let period = Range {
            from: last + 1 - n,
            to: last,
        };
        let all_covered = |r: &Range| r.from >= first && (r.from..=r.to).all(|m| covered.contains(&m));
        let previous = Some(Range {
            from: period.from.wrapping_sub(n),
            to: period.from.wrapping_sub(1),
        })
        .filter(|r| period.from >= n && all_covered(r));
        let year_earlier = Some(Range {
            from: period.from.wrapping_sub(12),
            to: period.to.wrapping_sub(12),
        })
        .filter(|r| period.from >= 12 && all_covered(r));
        let chart = Range {
            from: (last + 1).saturating_sub(CHART_MONTHS).max(first),
            to: last,
        };
        let mut by_ward = vec![Vec::new(); wards.codes.len()];
        let mut by_borough = vec![Vec::new(); boroughs.codes.len()];
        let mut london_period = 0;
        for &r in &rows {
            let i = r as usize;
            if let Some(v) = by_ward.get_mut(c.ward[i] as usize) {
                v.push(r);
            }
            if let Some(v) = by_borough.get_mut(c.borough[i] as usize) {
                v.push(r);
            }
            london_period += u64::from(period.contains(c.month[i]));
        }
        let london_area_km2 = wards.area_km2.iter().filter(|a| a.is_finite()).sum();
        let period_selection = period.selection(&selection);
        let chart_selection = chart.selection(&selection);
        let has_pois = ds.schools.height() + ds.stations.height() > 0;
        let ((hotspots, poi), (emerging, text)) = rayon::join(
            || {
                rayon::join(
                    || {
                        hotspot::gi_star(
                            ds,
                            &HotspotRequest {
                                selection: period_selection.clone(),
                                grid: UnitKind::Square,
                                cell_m: Some(options.cell_m),
                                band_m: Some(BAND_M),
                                weights: WeightKind::Binary,
                                alpha: ALPHA,
                                correction: Correction::Fdr,
                                ..HotspotRequest::default()
                            },
                        )
                        .map_err(|e| e.to_string())
                    },
                    || {
                        if !has_pois {
                            return Err("the dataset has no schools or stations".to_string());
                        }
                        let req = PoiRiskRequest {
                            selection: period_selection.clone(),
                            alpha: ALPHA,
                            ..PoiRiskRequest::default()
                        };
                        let mask = poi_risk::study_mask(ds, req.mask_cell_m);
                        poi_risk::poi_risk_with_mask(ds, &req, &mask).map_err(|e| e.to_string())
                    },
                )
            },
            || {
                rayon::join(
                    || {
                        if chart.to <= chart.from {
                            return Err("the dataset covers a single month".to_string());
                        }
                        emerging::emerging(
                            ds,
                            &EmergingRequest {
                                selection: chart_selection.clone(),
                                grid: GridKind::Square,
                                cell_m: options.cell_m,
                                band_m: BAND_M,
                                time_step: 1,
                                alpha: ALPHA,
                            },
                        )
                        .map_err(|e| e.to_string())
                    },
                    || IncidentText::load(&ds.dir),
                )
            },
        );
        let pledge = pledge_by_borough(ds, period);
        let surge = crate::analysis::surge::surge(
            ds,
            &crate::analysis::surge::SurgeRequest {
                selection: selection.clone(),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string());
        let mut sources: Vec<String> = ds
            .manifest
            .sources
            .iter()
            .map(|s| format!("{} (incidents)", s.name))
            .collect();
        sources.extend(
            ds.manifest
                .boundaries_and_pois
                .iter()
                .map(|l| format!("{} ({})", l.layer, l.path)),
        );
        Ok(Context {
            text: text?,
            options,
            selection,
            wards,
            boroughs,
            ward_borough,
            period,
            previous,
            year_earlier,
            chart,
            covered,
            by_ward,
            by_borough,
            london_period,
            london_area_km2,
            hotspots,
            poi,
            emerging,
            surge,
            pledge,
            first_month: first,
            built_at: ds.manifest.built_at.clone(),
            sources,
        })
    }

    /// The position of a ward code in `wards`.
    pub fn ward(&self, code: &str) -> Result<usize, BriefingError> {
        self.wards
            .codes
            .iter()
            .position(|c| c == code)
            .ok_or_else(|| BriefingError::UnknownWard(code.to_string()))
    }

    /// The wards of a borough (positions in `wards`), by name.
    pub fn borough_wards(&self, borough_code: &str) -> Result<Vec<usize>, BriefingError> {
        let b = self
            .boroughs
            .codes
            .iter()
            .position(|c| c == borough_code)
            .ok_or_else(|| BriefingError::UnknownBorough(borough_code.to_string()))?;
        let mut w: Vec<usize> = (0..self.wards.codes.len())
            .filter(|&i| self.ward_borough[i] == b as u32)
            .collect();
        w.sort_by(|a, b| self.wards.names[*a].cmp(&self.wards.names[*b]));
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_months() {
        let r = Range {
            from: 2024 * 12,
            to: 2024 * 12 + 11,
        };
        assert_eq!(r.label(), "2024-01 to 2024-12");
        assert!(r.contains(2024 * 12 + 5) && !r.contains(2025 * 12));
        let s = r.selection(&Selection::default());
        assert_eq!((s.from.as_deref(), s.to.as_deref()), (Some("2024-01"), Some("2024-12")));
    }
}
