//! Applying an items query: bbox, datetime, property filters, sortby,
//! offset and limit.

use std::cmp::Ordering;

use super::Table;
use crate::api::error::ApiError;
use crate::api::params::ItemsQuery;

/// The features a query selected: how many matched, and the page.
#[derive(Debug)]
pub struct Page {
    pub matched: usize,
    pub rows: Vec<u32>,
    /// Column indexes to write.
    pub columns: Vec<usize>,
}

impl Table {
    /// The columns to write for `properties=` (all when not given).
    pub fn chosen_columns(&self, properties: Option<&[String]>) -> Result<Vec<usize>, ApiError> {
        match properties {
            None => Ok((0..self.columns.len()).collect()),
            Some(names) => names
                .iter()
                .map(|n| {
                    self.column(n)
                        .ok_or_else(|| ApiError::param("properties", format!("no property `{n}` in this collection")))
                })
                .collect(),
        }
    }

    /// Applies bbox, datetime, property filters, sortby, offset and limit.
    /// `bbox` keeps the features whose geometry intersects it ([`Table::meets`]);
    /// on a large table the R-tree picks the features to test.
    pub fn query(&self, q: &ItemsQuery) -> Result<Page, ApiError> {
        let candidates = q.bbox.and_then(|b| self.shape.rows_meeting(b));
        self.query_among(q, candidates)
    }

    /// [`Table::query`] over `candidates` only (ascending rows, a superset
    /// of what the query could keep, e.g. the R-tree's rows near a tile),
    /// or over every feature when `None`.
    pub fn query_among(&self, q: &ItemsQuery, candidates: Option<Vec<u32>>) -> Result<Page, ApiError> {
        let columns = self.chosen_columns(q.properties.as_deref())?;
        let mut matchers = Vec::with_capacity(q.filters.len());
        for (name, value) in &q.filters {
            let c = self
                .column(name)
                .ok_or_else(|| ApiError::UnknownParameter(name.clone()))?;
            matchers.push(self.columns[c].matcher(value)?);
        }
        let mut sort = Vec::with_capacity(q.sortby.len());
        for (name, desc) in &q.sortby {
            let c = self
                .column(name)
                .ok_or_else(|| ApiError::param("sortby", format!("no property `{name}` in this collection")))?;
            sort.push((c, *desc));
        }
        let months = match (q.datetime, &self.months) {
            (None, _) => None,
            (Some(r), Some(m)) => Some((r, m)),
            (Some(_), None) => return Err(ApiError::param("datetime", "this collection has no time dimension")),
        };
        let filter = q.filter.as_ref().map(|f| self.compile(f)).transpose()?;
        let n = self.len();
        if candidates.is_none()
            && q.bbox.is_none()
            && months.is_none()
            && matchers.is_empty()
            && sort.is_empty()
            && filter.is_none()
        {
            let start = q.offset.min(n);
            let end = (start + q.limit).min(n);
            return Ok(Page {
                matched: n,
                rows: (start as u32..end as u32).collect(),
                columns,
            });
        }
        let keep = |i: usize| -> bool {
            let in_box = match (q.bbox, &q.bbox_region) {
                (None, _) => true,
                (Some(b), None) => self.meets(i, b),
                (Some(b), Some(region)) => self.meets_region(i, b, region),
            };
            if !in_box {
                return false;
            }
            if let Some(((from, to), m)) = months {
                if from.is_some_and(|a| m[i] < a) || to.is_some_and(|b| m[i] > b) {
                    return false;
                }
            }
            matchers.iter().all(|m| m(i)) && filter.as_ref().is_none_or(|f| f(i))
        };
        let mut rows: Vec<u32> = match candidates {
            Some(mut c) => {
                c.retain(|&i| keep(i as usize));
                c
            }
            None => (0..n).filter(|&i| keep(i)).map(|i| i as u32).collect(),
        };
        if !sort.is_empty() {
            rows.sort_by(|&a, &b| {
                for &(c, desc) in &sort {
                    let o = self.columns[c].compare(a as usize, b as usize);
                    let o = if desc { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        let matched = rows.len();
        let start = q.offset.min(matched);
        let end = (start + q.limit).min(matched);
        rows.truncate(end);
        rows.drain(..start);
        Ok(Page { matched, rows, columns })
    }
}
