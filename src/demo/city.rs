//! The synthetic city: an 8 x 8 grid of irregular wards (1.5 km) in four
//! boroughs over central London's BNG coordinates, 24 months of police.uk
//! style incidents with background noise and planted hotspots (static ones
//! at schools, stations and elsewhere; an emerging one that grows month by
//! month and a new one in the final month), and the real files' dirt (blank coordinates, points outside the
//! city, a repeated crime, a school listed twice).

use std::fmt::Write as _;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use serde::{Deserialize, Serialize};

use super::DemoError;
use crate::crs;

/// South-west corner of the city, BNG metres.
pub const CITY_ORIGIN_M: [f64; 2] = [524_000.0, 174_000.0];
/// Side of the (square) city, metres.
pub const CITY_SIZE_M: f64 = 12_000.0;
const WARDS_PER_SIDE: usize = 8;
const MONTHS: u32 = 24;
/// 2023-01 as a month number.
const FIRST_MONTH: u32 = 2023 * 12;
const BACKGROUND_PER_MONTH: f64 = 1_200.0;
const CRIME_TYPES: &[(&str, f64)] = &[
    ("Burglary", 0.3),
    ("Violence and sexual offences", 0.25),
    ("Anti-social behaviour", 0.15),
    ("Vehicle crime", 0.1),
    ("Robbery", 0.05),
    ("Other theft", 0.15),
];

/// One planted hotspot: incidents drawn around a centre (Gaussian, sd `sigma_m`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlantedHotspot {
    pub id: String,
    /// "static" (same rate every month) or "emerging" (starts at `start_month`, grows).
    pub kind: String,
    pub easting_m: f64,
    pub northing_m: f64,
    pub lon: f64,
    pub lat: f64,
    pub sigma_m: f64,
    /// Incidents a month (for emerging ones: in the last month).
    pub rate_per_month: f64,
    /// First month with incidents (`YYYY-MM`).
    pub start_month: String,
    /// The school or station it is planted at, if any ("school:900001").
    pub near_poi: Option<String>,
}

/// Where the hotspots were planted (written as `ground_truth.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroundTruth {
    pub seed: u64,
    pub first_month: String,
    pub last_month: String,
    pub background_per_month: f64,
    pub hotspots: Vec<PlantedHotspot>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

const BNG_PRJ: &str = r#"PROJCS["British_National_Grid",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID["Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",400000],PARAMETER["False_Northing",-100000],PARAMETER["Central_Meridian",-2],PARAMETER["Scale_Factor",0.999601272],PARAMETER["Latitude_Of_Origin",49],UNIT["Meter",1]]"#;

/// Writes the raw files under `root` and returns the ground truth.
pub fn write_city(root: &Path, seed: u64) -> Result<GroundTruth, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for sub in ["boundaries", "police_uk", "schools", "stations"] {
        let p = root.join(sub);
        std::fs::create_dir_all(&p).map_err(io(&p))?;
    }
    // Grid vertices, interior ones jittered so wards are irregular.
    let n = WARDS_PER_SIDE;
    let step = CITY_SIZE_M / n as f64;
    let mut vertex = vec![vec![[0.0f64; 2]; n + 1]; n + 1];
    for (i, row) in vertex.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let interior = i > 0 && i < n && j > 0 && j < n;
            let (dx, dy) = if interior {
                (rng.gen_range(-200.0..200.0), rng.gen_range(-200.0..200.0))
            } else {
                (0.0, 0.0)
            };
            *v = [
                CITY_ORIGIN_M[0] + i as f64 * step + dx,
                CITY_ORIGIN_M[1] + j as f64 * step + dy,
            ];
        }
    }
    write_boundaries(root, &vertex)?;

    let uniform_point = |rng: &mut ChaCha8Rng| {
        [
            CITY_ORIGIN_M[0] + rng.gen_range(300.0..CITY_SIZE_M - 300.0),
            CITY_ORIGIN_M[1] + rng.gen_range(300.0..CITY_SIZE_M - 300.0),
        ]
    };
    let schools: Vec<[f64; 2]> = (0..48).map(|_| uniform_point(&mut rng)).collect();
    let stations: Vec<[f64; 2]> = (0..16).map(|_| uniform_point(&mut rng)).collect();
    write_schools(root, &schools)?;
    write_stations(root, &stations)?;

    // Planted hotspots.
    let month_name = |k: u32| crate::month::format(FIRST_MONTH + k);
    let mut hotspots = Vec::new();
    let mut plant = |id: &str, kind: &str, at: [f64; 2], rate: f64, start: u32, near: Option<String>| {
        let (lon, lat) = crs::bng_to_lonlat(at[0], at[1]).expect("the demo city is in London");
        hotspots.push(PlantedHotspot {
            id: id.into(),
            kind: kind.into(),
            easting_m: at[0],
            northing_m: at[1],
            lon,
            lat,
            sigma_m: 100.0,
            rate_per_month: rate,
            start_month: month_name(start),
            near_poi: near,
        });
    };
    for (k, at) in schools.iter().take(3).enumerate() {
        plant(
            &format!("school-{}", k + 1),
            "static",
            *at,
            25.0,
            0,
            Some(format!("school:{}", 900_001 + k)),
        );
    }
    for (k, at) in stations.iter().take(2).enumerate() {
        plant(
            &format!("station-{}", k + 1),
            "static",
            *at,
            25.0,
            0,
            Some(format!("station:{}", station_id(k))),
        );
    }
    plant("street-1", "static", uniform_point(&mut rng), 30.0, 0, None);
    // Intensifying: from a quarter of its final rate in month 0 up to 60.
    plant("emerging-1", "emerging", uniform_point(&mut rng), 60.0, 0, None);
    // New: appears in the final month only.
    plant(
        "emerging-2",
        "emerging",
        uniform_point(&mut rng),
        40.0,
        MONTHS - 1,
        None,
    );

    // Incidents, month by month.
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    let mut crime_no: u64 = 0;
    for k in 0..MONTHS {
        let month = month_name(k);
        let mut points: Vec<[f64; 2]> = Vec::new();
        let background = Poisson::new(BACKGROUND_PER_MONTH).expect("valid rate").sample(&mut rng) as usize;
        points.extend((0..background).map(|_| {
            [
                CITY_ORIGIN_M[0] + rng.gen_range(0.0..CITY_SIZE_M),
                CITY_ORIGIN_M[1] + rng.gen_range(0.0..CITY_SIZE_M),
            ]
        }));
        for h in &hotspots {
            let start = crate::month::parse(&h.start_month).expect("formatted above") - FIRST_MONTH;
            if k < start {
                continue;
            }
            let rate = if h.kind == "emerging" && MONTHS - 1 > start {
                h.rate_per_month * (0.25 + 0.75 * (k - start) as f64 / (MONTHS - 1 - start) as f64)
            } else {
                h.rate_per_month
            };
            let count = Poisson::new(rate).expect("positive rate").sample(&mut rng) as usize;
            for _ in 0..count {
                points.push([
                    h.easting_m + h.sigma_m * normal.sample(&mut rng),
                    h.northing_m + h.sigma_m * normal.sample(&mut rng),
                ]);
            }
        }
        let path = root.join("police_uk").join(format!("{month}-demo-street.csv"));
        let mut csv = String::from("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n");
        let mut repeat: Option<String> = None;
        for p in &points {
            // police.uk snaps locations to anonymous map points: a 25 m lattice here.
            // Kept 25 m inside the city edge, so the only points outside are the planted ones.
            let inside = |v: f64, o: f64| v.clamp(o + 25.0, o + CITY_SIZE_M - 25.0);
            let snapped = [
                (inside(p[0], CITY_ORIGIN_M[0]) / 25.0).round() * 25.0,
                (inside(p[1], CITY_ORIGIN_M[1]) / 25.0).round() * 25.0,
            ];
            let (lon, lat) = crs::bng_to_lonlat(snapped[0], snapped[1]).expect("in London");
            let crime_type = pick_crime_type(&mut rng);
            crime_no += 1;
            let id = if crime_type == "Anti-social behaviour" {
                String::new()
            } else {
                crime_id(seed, crime_no)
            };
            let street = format!(
                "On or near Demo Street {}",
                (snapped[0] as i64 / 100 + snapped[1] as i64 / 100) % 500
            );
            let row = format!("{id},{month},Demo Police,Demo Police,{lon:.6},{lat:.6},{street},E0100{:04},Demo {:03}A,{crime_type},Under investigation,\n", crime_no % 9000, crime_no % 500);
            if k == 5 && repeat.is_none() && !id.is_empty() {
                repeat = Some(row.clone());
            }
            csv.push_str(&row);
        }
        // Dirt: unlocated rows, points beyond the city, a repeated crime.
        for _ in 0..(points.len() / 100) {
            crime_no += 1;
            let _ = writeln!(
                csv,
                "{},{month},Demo Police,Demo Police,,,No Location,,,Burglary,Under investigation,",
                crime_id(seed, crime_no)
            );
        }
        for far in [
            [CITY_ORIGIN_M[0] - 20_000.0, CITY_ORIGIN_M[1]],
            [CITY_ORIGIN_M[0] + 40_000.0, CITY_ORIGIN_M[1] + 30_000.0],
        ] {
            crime_no += 1;
            let (lon, lat) = crs::bng_to_lonlat(far[0], far[1]).expect("in England");
            let _ = writeln!(csv, "{},{month},Demo Police,Demo Police,{lon:.6},{lat:.6},On or near Far Lane,,,Burglary,Under investigation,", crime_id(seed, crime_no));
        }
        if let Some(r) = repeat {
            csv.push_str(&r);
        }
        std::fs::write(&path, csv).map_err(io(&path))?;
    }
    let truth = GroundTruth {
        seed,
        first_month: month_name(0),
        last_month: month_name(MONTHS - 1),
        background_per_month: BACKGROUND_PER_MONTH,
        hotspots,
    };
    let path = root.join("ground_truth.json");
    std::fs::write(&path, serde_json::to_string_pretty(&truth).unwrap_or_default()).map_err(io(&path))?;
    Ok(truth)
}

fn station_id(k: usize) -> String {
    format!("demo-station-{}", k + 1)
}

fn crime_id(seed: u64, n: u64) -> String {
    // 64 hex characters like police.uk's ids, unique per (seed, n).
    let digest = crate::ingest::sources::sha256_hex(format!("{seed}:{n}").as_bytes());
    digest
}

fn pick_crime_type(rng: &mut ChaCha8Rng) -> &'static str {
    let mut u: f64 = rng.gen();
    for (t, w) in CRIME_TYPES {
        if u < *w {
            return t;
        }
        u -= w;
    }
    CRIME_TYPES[0].0
}

/// Clockwise ring (ESRI outer-ring order) through grid vertices, closed.
fn ring(points: Vec<[f64; 2]>) -> Vec<shapefile::Point> {
    let mut pts: Vec<shapefile::Point> = points.iter().map(|p| shapefile::Point::new(p[0], p[1])).collect();
    pts.push(pts[0]);
    pts
}

fn write_boundaries(root: &Path, v: &[Vec<[f64; 2]>]) -> Result<(), DemoError> {
    use shapefile::dbase::{FieldValue, Record, TableWriterBuilder};
    let n = WARDS_PER_SIDE;
    let shp_err = |path: &Path, e: shapefile::Error| DemoError::Shapefile {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let borough_of = |i: usize, j: usize| (j / (n / 2)) * 2 + i / (n / 2);
    let borough_names = ["South West", "South East", "North West", "North East"];
    let field = |s: &str| s.try_into().expect("short field name");

    let ward_path = root.join("boundaries/Demo_Ward.shp");
    let table = TableWriterBuilder::new()
        .add_character_field(field("NAME"), 40)
        .add_character_field(field("GSS_CODE"), 9)
        .add_character_field(field("LB_GSS_CD"), 9)
        .add_character_field(field("BOROUGH"), 22);
    let mut w = shapefile::Writer::from_path(&ward_path, table).map_err(|e| shp_err(&ward_path, e))?;
    let mut k = 0;
    for j in 0..n {
        for i in 0..n {
            k += 1;
            // Clockwise: up the west side, across the north, down the east.
            let poly = shapefile::Polygon::new(shapefile::PolygonRing::Outer(ring(vec![
                v[i][j],
                v[i][j + 1],
                v[i + 1][j + 1],
                v[i + 1][j],
            ])));
            let b = borough_of(i, j);
            let mut rec = Record::default();
            rec.insert(
                "NAME".into(),
                FieldValue::Character(Some(format!("{} {}", borough_names[b], k))),
            );
            rec.insert("GSS_CODE".into(), FieldValue::Character(Some(format!("E0590{k:04}"))));
            rec.insert(
                "LB_GSS_CD".into(),
                FieldValue::Character(Some(format!("E0990{:04}", b + 1))),
            );
            rec.insert(
                "BOROUGH".into(),
                FieldValue::Character(Some(borough_names[b].to_string())),
            );
            w.write_shape_and_record(&poly, &rec)
                .map_err(|e| shp_err(&ward_path, e))?;
        }
    }
    drop(w);
    std::fs::write(ward_path.with_extension("prj"), BNG_PRJ).map_err(io(&ward_path))?;

    let borough_path = root.join("boundaries/Demo_Borough.shp");
    let table = TableWriterBuilder::new()
        .add_character_field(field("NAME"), 22)
        .add_character_field(field("GSS_CODE"), 9);
    let mut w = shapefile::Writer::from_path(&borough_path, table).map_err(|e| shp_err(&borough_path, e))?;
    let h = n / 2;
    for (b, borough_name) in borough_names.iter().enumerate() {
        let (i0, j0) = ((b % 2) * h, (b / 2) * h);
        let mut pts = Vec::new();
        pts.extend((0..h).map(|t| v[i0][j0 + t])); // west side, going north
        pts.extend((0..h).map(|t| v[i0 + t][j0 + h])); // north side, going east
        pts.extend((0..h).map(|t| v[i0 + h][j0 + h - t])); // east side, going south
        pts.extend((0..h).map(|t| v[i0 + h - t][j0])); // south side, going west
        let poly = shapefile::Polygon::new(shapefile::PolygonRing::Outer(ring(pts)));
        let mut rec = Record::default();
        rec.insert("NAME".into(), FieldValue::Character(Some(borough_name.to_string())));
        rec.insert(
            "GSS_CODE".into(),
            FieldValue::Character(Some(format!("E0990{:04}", b + 1))),
        );
        w.write_shape_and_record(&poly, &rec)
            .map_err(|e| shp_err(&borough_path, e))?;
    }
    drop(w);
    std::fs::write(borough_path.with_extension("prj"), BNG_PRJ).map_err(io(&borough_path))?;
    Ok(())
}

fn write_schools(root: &Path, schools: &[[f64; 2]]) -> Result<(), DemoError> {
    let mut csv = String::from("OBJECTID,longitude,latitude,URN,SCHOOL_NAM,TYPE,PHASE,STATUS,EASTING,NORTHING\n");
    for (k, p) in schools.iter().enumerate() {
        let (lon, lat) = crs::bng_to_lonlat(p[0], p[1]).expect("in London");
        let phase = if k % 3 == 0 { "Secondary" } else { "Primary" };
        let _ = writeln!(
            csv,
            "{},{lon:.6},{lat:.6},{},Demo School {},Community School,{phase},Open,{:.0},{:.0}",
            k + 1,
            900_001 + k,
            k + 1,
            p[0],
            p[1]
        );
    }
    // An all-through school listed twice, as in the London Schools Atlas.
    let (lon, lat) = crs::bng_to_lonlat(schools[0][0], schools[0][1]).expect("in London");
    let _ = writeln!(
        csv,
        "{},{lon:.6},{lat:.6},900001,Demo School 1,Community School,Primary,Open,{:.0},{:.0}",
        schools.len() + 1,
        schools[0][0],
        schools[0][1]
    );
    let path = root.join("schools/demo_schools.csv");
    std::fs::write(&path, csv).map_err(io(&path))
}

fn write_stations(root: &Path, stations: &[[f64; 2]]) -> Result<(), DemoError> {
    let mut csv = String::from("Station,OS X,OS Y,Latitude,Longitude,Zone,Postcode\n");
    for (k, p) in stations.iter().enumerate() {
        let (lon, lat) = crs::bng_to_lonlat(p[0], p[1]).expect("in London");
        let _ = writeln!(
            csv,
            "Demo Station {},{:.0},{:.0},{lat},{lon},\"{}\",",
            k + 1,
            p[0],
            p[1],
            1 + k % 3
        );
    }
    let path = root.join("stations/demo_stations.csv");
    std::fs::write(&path, csv).map_err(io(&path))
}
