//! The police.uk crime categories: their CSV names and the street-crime
//! API's slugs for them.
//!
//! Source: data.police.uk `crime-categories` API and the "About" page's list
//! of street-level categories (including the two retired in 2013).

/// (CSV name, API slug) for every police.uk street-level category.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("Anti-social behaviour", "anti-social-behaviour"),
    ("Bicycle theft", "bicycle-theft"),
    ("Burglary", "burglary"),
    ("Criminal damage and arson", "criminal-damage-arson"),
    ("Drugs", "drugs"),
    ("Other crime", "other-crime"),
    ("Other theft", "other-theft"),
    ("Possession of weapons", "possession-of-weapons"),
    ("Public order", "public-order"),
    ("Robbery", "robbery"),
    ("Shoplifting", "shoplifting"),
    ("Theft from the person", "theft-from-the-person"),
    ("Vehicle crime", "vehicle-crime"),
    ("Violence and sexual offences", "violent-crime"),
    // Retired categories that still appear in files before May 2013.
    ("Public disorder and weapons", "public-disorder-weapons"),
    ("Violent crime", "violent-crime-pre-2013"),
];

/// The canonical CSV name for a CSV name or an API slug (case-insensitive).
pub fn canonical(name_or_slug: &str) -> Option<&'static str> {
    let s = name_or_slug.trim();
    CATEGORIES
        .iter()
        .find(|(name, slug)| name.eq_ignore_ascii_case(s) || slug.eq_ignore_ascii_case(s))
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_names_map_to_csv_names() {
        assert_eq!(canonical("violent-crime"), Some("Violence and sexual offences"));
        assert_eq!(canonical("burglary"), Some("Burglary"));
        assert_eq!(
            canonical("Criminal damage and arson"),
            Some("Criminal damage and arson")
        );
        assert_eq!(canonical("Burglery"), None);
    }
}
