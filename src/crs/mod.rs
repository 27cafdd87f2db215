//! Coordinate reference systems: British National Grid (EPSG:27700, metres)
//! and WGS84 (EPSG:4326, degrees), and the transforms between them.
//!
//! Transforms use Ordnance Survey's OSTN15 grid through the `lonlat_bng`
//! crate, which is sub-metre against the OS test points. Metric work
//! (distances, grids, areas) happens in BNG metres; GeoJSON output is WGS84.
//!
//! [`ostn15::CellCache`] is the same BNG to WGS84 transform for many nearby
//! points (a boundary layer's vertices), bit for bit, with OSTN15's corner
//! shifts looked up once per 1 km cell.

pub mod ostn15;

use std::path::Path;

/// A coordinate reference system the engine understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Crs {
    /// British National Grid, EPSG:27700: easting/northing in metres.
    #[serde(rename = "EPSG:27700")]
    Bng,
    /// WGS84 geographic, EPSG:4326 (axis order lon, lat as in GeoJSON/CRS84).
    #[serde(rename = "EPSG:4326")]
    Wgs84,
}

impl Crs {
    /// The EPSG code as written in manifests and configs ("EPSG:27700").
    pub fn epsg(self) -> &'static str {
        match self {
            Crs::Bng => "EPSG:27700",
            Crs::Wgs84 => "EPSG:4326",
        }
    }

    /// Parses "EPSG:27700", "27700", "bng", "EPSG:4326", "4326", "wgs84", "CRS84".
    pub fn parse(s: &str) -> Option<Crs> {
        match s.trim().to_ascii_lowercase().as_str() {
            "epsg:27700" | "27700" | "bng" | "osgb36" | "british national grid" => Some(Crs::Bng),
            "epsg:4326" | "4326" | "wgs84" | "crs84" | "ogc:crs84" | "lonlat" => Some(Crs::Wgs84),
            _ => None,
        }
    }
}

/// Errors from CRS recognition and coordinate transforms.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("{path}: cannot read the .prj file: {source}")]
    ReadPrj { path: String, source: std::io::Error },
    #[error("{path}: unsupported CRS in the .prj (only British National Grid EPSG:27700 and WGS84 EPSG:4326 are supported): {wkt}")]
    Unsupported { path: String, wkt: String },
    #[error("{path}: no .prj file beside the shapefile, so its CRS is unknown; add one or set `crs` in the config")]
    MissingPrj { path: String },
}

/// Recognises the CRS of an ESRI `.prj` WKT string.
///
/// Accepts the ESRI and OGC spellings of British National Grid (a Transverse
/// Mercator on OSGB 1936 with the national grid's false origin) and of
/// geographic WGS84. Anything else returns `None`: we never guess.
pub fn crs_from_wkt(wkt: &str) -> Option<Crs> {
    let w = wkt.to_ascii_lowercase().replace([' ', '_'], "");
    if w.starts_with("projcs") || w.starts_with("projcrs") {
        let bng_name = w.contains("britishnationalgrid") || w.contains("osgb1936/britishnationalgrid");
        let osgb = w.contains("osgb1936") || w.contains("osgb36");
        let false_easting = w.contains("false_easting\",400000")
            || w.contains("falseeasting\",400000")
            || w.contains("400000.0")
            || w.contains(",400000]");
        if osgb && (bng_name || false_easting) {
            return Some(Crs::Bng);
        }
        return None;
    }
    if (w.starts_with("geogcs") || w.starts_with("geogcrs"))
        && (w.contains("wgs1984") || w.contains("wgs84") || w.contains("gcswgs1984"))
    {
        return Some(Crs::Wgs84);
    }
    None
}

/// Reads the `.prj` beside a shapefile and recognises its CRS.
pub fn crs_of_shapefile(shp: &Path) -> Result<Crs, CrsError> {
    let prj = shp.with_extension("prj");
    let display = prj.display().to_string();
    if !prj.exists() {
        return Err(CrsError::MissingPrj { path: display });
    }
    let wkt = std::fs::read_to_string(&prj).map_err(|source| CrsError::ReadPrj {
        path: display.clone(),
        source,
    })?;
    crs_from_wkt(&wkt).ok_or(CrsError::Unsupported {
        path: display,
        wkt: wkt.trim().chars().take(200).collect(),
    })
}

/// WGS84 lon/lat (degrees) to BNG easting/northing (metres) via OSTN15.
///
/// Returns `None` outside the area OSTN15 covers (Great Britain and its
/// waters): such a point cannot be in a London ward anyway.
#[inline]
pub fn lonlat_to_bng(lon: f64, lat: f64) -> Option<(f64, f64)> {
    lonlat_bng::convert_osgb36(lon, lat).ok()
}

/// BNG easting/northing (metres) to WGS84 lon/lat (degrees) via OSTN15.
///
/// `None` outside OSTN15's coverage, and for non-finite or absurd
/// (beyond 100,000 km) input, which lonlat_bng 0.9 would overflow on.
#[inline]
pub fn bng_to_lonlat(easting_m: f64, northing_m: f64) -> Option<(f64, f64)> {
    if !(plausible_grid_m(easting_m) && plausible_grid_m(northing_m)) {
        return None;
    }
    lonlat_bng::convert_osgb36_to_ll(easting_m, northing_m).ok()
}

/// A grid coordinate lonlat_bng's integer cell arithmetic can hold.
#[inline]
fn plausible_grid_m(v: f64) -> bool {
    v.is_finite() && v.abs() < 1e8
}

/// True when a lon/lat pair is a possible coordinate at all (finite, in range).
#[inline]
pub fn valid_lonlat(lon: f64, lat: f64) -> bool {
    lon.is_finite() && lat.is_finite() && (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordnance Survey's published OSTN15 test points (developer pack,
    /// OSTN15_OSGM15_TestInput_ETRStoOSGB.csv / TestOutput_ETRStoOSGB.csv):
    /// (point, ETRS89 lat, ETRS89 lon, OSGB36 easting, OSGB36 northing).
    /// ETRS89 and WGS84 agree to well under a metre for this purpose.
    pub(super) const OS_TEST_POINTS: &[(&str, f64, f64, f64, f64)] = &[
        ("TP01", 49.92226394, -6.29977752, 91492.146, 11318.804),
        ("TP02", 49.96006138, -5.2030461, 170370.718, 11572.405),
        ("TP03", 50.43885826, -4.108645636, 250359.811, 62016.569),
        ("TP04", 50.57563665, -1.297822772, 449816.371, 75335.861),
        ("TP05", 50.93127938, -1.450514337, 438710.92, 114792.25),
        ("TP06", 51.4007822, -3.551283492, 292184.87, 168003.465),
        ("TP07", 51.37447026, 1.444547304, 639821.835, 169565.858),
        ("TP08", 51.42754743, -2.544076183, 362269.991, 169978.69),
        ("TP09", 51.48936565, -0.119925572, 530624.974, 178388.464),
        ("TP10", 51.85890896, -4.30852477, 241124.584, 220332.641),
        ("TP11", 51.89436637, 0.89724327, 599445.59, 225722.826),
        ("TP12", 52.25529382, -2.154586144, 389544.19, 261912.153),
        ("TP13", 52.25160951, -0.91248957, 474335.969, 262047.755),
        ("TP14", 52.75136687, 0.401535471, 562180.547, 319784.995),
        ("TP15", 52.96219109, -1.197476559, 454002.834, 340834.943),
        ("TP16", 53.3448028, -2.640493208, 357455.843, 383290.436),
        ("TP17", 53.41628516, -4.289180698, 247958.971, 393492.909),
        ("TP18", 53.41630925, -4.289177929, 247959.241, 393495.583),
        ("TP19", 53.77911026, -3.040454907, 331534.564, 431920.794),
        ("TP20", 53.8002152, -1.663791682, 422242.186, 433818.701),
        ("TP21", 54.08666318, -4.634521682, 227778.33, 468847.388),
        ("TP22", 54.11685144, -0.077731332, 525745.67, 470703.214),
        ("TP23", 54.32919541, -4.388491181, 244780.636, 495254.887),
        ("TP24", 54.8954234, -2.938277411, 339921.145, 556034.761),
        ("TP25", 54.97912274, -1.616576852, 424639.355, 565012.703),
        ("TP26", 55.85399953, -4.296490163, 256340.925, 664697.269),
        ("TP27", 55.92478266, -3.294792193, 319188.434, 670947.534),
        ("TP28", 57.00606696, -5.828366919, 167634.202, 797067.144),
        ("TP29", 57.13902519, -2.048560307, 397160.491, 805349.736),
        ("TP30", 57.48625001, -4.219263986, 267056.768, 846176.972),
        ("TP31", 57.81351838, -8.578544561, 9587.909, 899448.996),
        ("TP32", 58.21262247, -7.592555606, 71713.132, 938516.404),
        ("TP33", 58.51560361, -6.260914555, 151968.652, 966483.78),
        ("TP34", 58.58120461, -3.726310221, 299721.891, 967202.992),
        ("TP35", 59.03743871, -3.214540011, 330398.323, 1017347.016),
        ("TP36", 59.09335035, -4.417576746, 261596.778, 1025447.602),
        ("TP37", 59.09671617, -5.827993398, 180862.461, 1029604.114),
        ("TP38", 59.53470794, -1.625169661, 421300.525, 1072147.239),
        ("TP39", 59.85409914, -1.274869104, 440725.073, 1107878.448),
        ("TP40", 60.13308092, -2.073828228, 395999.668, 1138728.951),
    ];

    #[test]
    fn lonlat_to_bng_matches_os_test_points_to_a_decimetre() {
        for &(id, lat, lon, e, n) in OS_TEST_POINTS {
            let (ge, gn) = lonlat_to_bng(lon, lat).expect(id);
            assert!(
                (ge - e).abs() < 0.1 && (gn - n).abs() < 0.1,
                "{id}: got ({ge}, {gn}), OS says ({e}, {n})"
            );
        }
    }

    #[test]
    fn bng_to_lonlat_round_trips_to_a_centimetre() {
        for &(id, _, _, e, n) in OS_TEST_POINTS {
            let (lon, lat) = bng_to_lonlat(e, n).expect(id);
            let (e2, n2) = lonlat_to_bng(lon, lat).expect(id);
            assert!(
                (e2 - e).abs() < 0.01 && (n2 - n).abs() < 0.01,
                "{id}: ({e2}, {n2}) vs ({e}, {n})"
            );
        }
    }

    #[test]
    fn outside_great_britain_is_none() {
        assert!(lonlat_to_bng(2.35, 48.85).is_none(), "Paris is outside OSTN15");
        for (e, n) in [
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (1e12, 180_000.0),
            (530_000.0, -1e300),
        ] {
            assert!(bng_to_lonlat(e, n).is_none(), "({e}, {n})");
        }
    }

    #[test]
    fn recognises_london_datastore_prj() {
        let wkt = r#"PROJCS["British_National_Grid",GEOGCS["GCS_OSGB_1936",DATUM["D_OSGB_1936",SPHEROID["Airy_1830",6377563.396,299.3249646]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",400000.0],PARAMETER["False_Northing",-100000.0],PARAMETER["Central_Meridian",-2.0],PARAMETER["Scale_Factor",0.9996012717],PARAMETER["Latitude_Of_Origin",49.0],UNIT["Meter",1.0]]"#;
        assert_eq!(crs_from_wkt(wkt), Some(Crs::Bng));
        let wgs = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(crs_from_wkt(wgs), Some(Crs::Wgs84));
        let utm = r#"PROJCS["WGS_1984_UTM_Zone_30N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0]]"#;
        assert_eq!(crs_from_wkt(utm), None);
    }
}
