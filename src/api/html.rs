//! HTML for browsers (`Accept: text/html` or `f=html`): the landing page,
//! conformance, the collection list and one collection. Plain pages with
//! links; the map is at `/map`.

use serde_json::Value;

use super::AppState;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}</style>\
</head><body><p><a href=\"/?f=html\">hotspots</a> · <a href=\"/collections?f=html\">collections</a> · \
<a href=\"/map\">map</a> · <a href=\"/api\">API (OpenAPI 3.0)</a></p><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// The landing page.
pub fn landing(base: &str, st: &AppState) -> String {
    let mut body = String::from(
        "<p>Crime hotspot layers for London as OGC API – Features: add this URL as an \
\"OGC API – Features\" connection in QGIS, or open the <a href=\"/map\">web map</a>.</p><p>URL: <code>",
    );
    body.push_str(&escape(base));
    body.push_str("</code></p><ul>");
    for c in st
        .statics
        .iter()
        .map(|c| (c.id, c.title))
        .chain(st.analyses.iter().map(|c| (c.id(), c.title())))
    {
        body.push_str(&format!(
            "<li><a href=\"/collections/{id}?f=html\">{t}</a> (<code>{id}</code>)</li>",
            id = escape(c.0),
            t = escape(c.1)
        ));
    }
    body.push_str("</ul><p><a href=\"/conformance?f=html\">Conformance</a></p>");
    page("hotspots", &body)
}

/// The conformance classes.
pub fn conformance(classes: &[&str]) -> String {
    let items: String = classes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>", escape(c)))
        .collect();
    page("Conformance", &format!("<ul>{items}</ul>"))
}

fn row(doc: &Value) -> String {
    let id = doc["id"].as_str().unwrap_or("");
    format!(
        "<tr><td><a href=\"/collections/{id}?f=html\">{title}</a></td><td><code>{id}</code></td><td>{d}</td>\
<td><a href=\"/collections/{id}/items?limit=10\">items</a></td></tr>",
        id = escape(id),
        title = escape(doc["title"].as_str().unwrap_or("")),
        d = escape(doc["description"].as_str().unwrap_or(""))
    )
}

/// The collection list.
pub fn collections(docs: &[Value]) -> String {
    let rows: String = docs.iter().map(row).collect();
    page(
        "Collections",
        &format!("<table><tr><th>title</th><th>id</th><th>description</th><th></th></tr>{rows}</table>"),
    )
}

/// One collection: its description, extent and parameters (name, type or description).
pub fn collection(doc: &Value, params: &[(String, String)]) -> String {
    let id = doc["id"].as_str().unwrap_or("");
    let rows: String = params
        .iter()
        .map(|(n, d)| format!("<tr><td><code>{}</code></td><td>{}</td></tr>", escape(n), escape(d)))
        .collect();
    page(
        doc["title"].as_str().unwrap_or(id),
        &format!(
            "<p>{}</p><p>Extent (CRS84): <code>{}</code></p><p><a href=\"/collections/{id}/items?limit=10\">First 10 features (GeoJSON)</a></p>\
<h2>Query parameters</h2><table>{rows}</table>",
            escape(doc["description"].as_str().unwrap_or("")),
            escape(&doc["extent"]["spatial"]["bbox"].to_string()),
            id = escape(id)
        ),
    )
}

/// One feature's properties (`/collections/{id}/items/{featureId}?f=html`);
/// a ward's page links to its briefing.
pub fn feature(collection: &str, id: &str, properties: &Value) -> String {
    let rows: String = properties
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!("<tr><td><code>{}</code></td><td>{}</td></tr>", escape(k), escape(&v))
                })
                .collect()
        })
        .unwrap_or_default();
    let briefing = if collection == "wards" {
        format!(
            "<p><a href=\"/wards/{id}/briefing\">The ward's briefing</a> (one page for its neighbourhood team, printable on A4)</p>",
            id = escape(id)
        )
    } else {
        String::new()
    };
    page(
        &format!("{collection} {id}"),
        &format!(
            "{briefing}<table>{rows}</table><p><a href=\"/collections/{c}/items/{i}\">This feature as GeoJSON</a> · <a href=\"/collections/{c}?f=html\">the collection</a></p>",
            c = escape(collection),
            i = escape(id)
        ),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
