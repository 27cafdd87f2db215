//! The catalogue of official download locations, and the police.uk force
//! names. Every URL is built from an origin and a path; a mirror base URL
//! (`--base-url`) replaces the origin of all of them, so tests and mirrors
//! serve the same paths from one host.

/// London Datastore (GLA): the statistical GIS boundary files.
pub const LONDON_DATASTORE: &str = "https://data.london.gov.uk";
/// Path of the 2011-based boundary zip (`statistical-gis-boundaries-london/ESRI/...`).
pub const BOUNDARIES_PATH: &str =
    "/download/statistical-gis-boundary-files-london/9ba8c833-6370-4b11-abdc-314aa020d5e0/statistical-gis-boundaries-london.zip";
/// data.police.uk: monthly archives and the street-crime API.
pub const POLICE_UK: &str = "https://data.police.uk";
/// DfE Get Information About Schools: the daily all-establishments CSV.
pub const GIAS: &str = "https://ea-edubase-api-prod.azurewebsites.net";
/// doogal.co.uk (Chris Bell): the London stations list as CSV.
pub const DOOGAL: &str = "https://www.doogal.co.uk";
/// Path of doogal's London stations CSV export.
pub const STATIONS_PATH: &str = "/LondonStationsCSV.ashx";

/// How many months one police.uk archive holds: the archive named for
/// month M carries M and the 35 months before it, for every force.
pub const ARCHIVE_SPAN_MONTHS: u32 = 36;

/// The police.uk force identifiers (as used in file names and the API).
pub const FORCES: &[&str] = &[
    "avon-and-somerset",
    "bedfordshire",
    "btp",
    "cambridgeshire",
    "cheshire",
    "city-of-london",
    "cleveland",
    "cumbria",
    "derbyshire",
    "devon-and-cornwall",
    "dorset",
    "durham",
    "dyfed-powys",
    "essex",
    "gloucestershire",
    "greater-manchester",
    "gwent",
    "hampshire",
    "hertfordshire",
    "humberside",
    "kent",
    "lancashire",
    "leicestershire",
    "lincolnshire",
    "merseyside",
    "metropolitan",
    "norfolk",
    "north-wales",
    "north-yorkshire",
    "northamptonshire",
    "northern-ireland",
    "northumbria",
    "nottinghamshire",
    "south-wales",
    "south-yorkshire",
    "staffordshire",
    "suffolk",
    "surrey",
    "sussex",
    "thames-valley",
    "warwickshire",
    "west-mercia",
    "west-midlands",
    "west-yorkshire",
    "wiltshire",
];

/// The folder (relative to the data root) a force's street CSVs go in:
/// `police_uk/metropolitan`, `police_uk/city_of_london`, ...
pub fn force_dir(force: &str) -> String {
    format!("police_uk/{}", force.replace('-', "_"))
}

/// Where downloads come from: the official hosts, or one mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// When set, replaces the scheme and host of every official URL
    /// (`http://127.0.0.1:8080` or `https://mirror.example/hotspots`).
    pub base_url: Option<String>,
}

impl Sources {
    /// The official hosts.
    pub fn official() -> Sources {
        Sources { base_url: None }
    }

    /// Every URL served from `base_url` instead, with the official paths.
    pub fn mirror(base_url: &str) -> Sources {
        Sources {
            base_url: Some(base_url.trim_end_matches('/').to_string()),
        }
    }

    fn url(&self, origin: &str, path: &str) -> String {
        match &self.base_url {
            Some(base) => format!("{base}{path}"),
            None => format!("{origin}{path}"),
        }
    }

    /// The London statistical GIS boundary files (zip).
    pub fn boundaries(&self) -> String {
        self.url(LONDON_DATASTORE, BOUNDARIES_PATH)
    }

    /// The police.uk archive named for `month` (`YYYY-MM`): a zip of
    /// `YYYY-MM/YYYY-MM-<force>-street.csv` for that month and the 35 before.
    pub fn police_archive(&self, month: &str) -> String {
        self.url(POLICE_UK, &format!("/data/archive/{month}.zip"))
    }

    /// The street-crime API for one polygon (`lat,lng:lat,lng:...`) and month.
    pub fn police_api(&self, poly: &str, month: &str) -> String {
        self.url(
            POLICE_UK,
            &format!("/api/crimes-street/all-crime?poly={poly}&date={month}"),
        )
    }

    /// The GIAS all-establishments CSV published on `date` (`YYYYMMDD`).
    pub fn gias(&self, date: &str) -> String {
        self.url(GIAS, &format!("/edubase/downloads/public/edubasealldata{date}.csv"))
    }

    /// The London stations list (CSV).
    pub fn stations(&self) -> String {
        self.url(DOOGAL, STATIONS_PATH)
    }
}

/// Checks force names against [`FORCES`]; the error lists the valid ones.
pub fn check_forces(forces: &[String]) -> Result<(), String> {
    for f in forces {
        if !FORCES.contains(&f.as_str()) {
            return Err(format!(
                "unknown police force {f:?}; police.uk names them: {}",
                FORCES.join(", ")
            ));
        }
    }
    Ok(())
}

/// The archives to download to cover `months` (month numbers, see
/// [`crate::month`]): the fewest archives, each named for the latest month
/// it must cover. Returned newest first with the months each one serves.
pub fn archives_for(months: &[u32]) -> Vec<(u32, Vec<u32>)> {
    let mut sorted: Vec<u32> = months.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u32, Vec<u32>)> = Vec::new();
    for &m in sorted.iter().rev() {
        match out.last_mut() {
            Some((archive, served)) if *archive - m < ARCHIVE_SPAN_MONTHS => served.push(m),
            _ => out.push((m, vec![m])),
        }
    }
    for (_, served) in &mut out {
        served.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::month;

    #[test]
    fn mirror_replaces_the_origin_only() {
        let m = Sources::mirror("http://127.0.0.1:9/");
        assert_eq!(
            m.police_archive("2024-12"),
            "http://127.0.0.1:9/data/archive/2024-12.zip"
        );
        assert_eq!(
            Sources::official().police_archive("2024-12"),
            "https://data.police.uk/data/archive/2024-12.zip"
        );
        assert!(m.boundaries().ends_with("/statistical-gis-boundaries-london.zip"));
        assert!(m.gias("20241201").ends_with("/edubasealldata20241201.csv"));
    }

    #[test]
    fn one_archive_covers_three_years() {
        let ms = |a: &str, b: &str| (month::parse(a).unwrap()..=month::parse(b).unwrap()).collect::<Vec<_>>();
        // 2022-01..2024-12 is exactly 36 months: one archive.
        let plan = archives_for(&ms("2022-01", "2024-12"));
        assert_eq!(plan.len(), 1);
        assert_eq!(month::format(plan[0].0), "2024-12");
        assert_eq!(plan[0].1.len(), 36);
        // One month more needs a second archive, named for that month.
        let plan = archives_for(&ms("2021-12", "2024-12"));
        assert_eq!(plan.len(), 2);
        assert_eq!(month::format(plan[1].0), "2021-12");
        assert_eq!(plan[1].1, vec![month::parse("2021-12").unwrap()]);
    }

    #[test]
    fn forces_are_checked_and_mapped_to_folders() {
        assert!(check_forces(&["metropolitan".into(), "city-of-london".into()]).is_ok());
        let e = check_forces(&["met".into()]).unwrap_err();
        assert!(e.contains("\"met\"") && e.contains("metropolitan"), "{e}");
        assert_eq!(force_dir("city-of-london"), "police_uk/city_of_london");
    }
}
