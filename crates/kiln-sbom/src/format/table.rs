//! A human table: NAME, VERSION, TYPE, sorted as the catalog is.

use crate::package::Catalog;

/// Renders the table (with a header line), columns padded to their widest cell.
pub fn write(catalog: &Catalog) -> String {
    let mut rows: Vec<[String; 3]> = vec![["NAME".into(), "VERSION".into(), "TYPE".into()]];
    for p in &catalog.packages {
        rows.push([
            p.name.clone(),
            p.version.clone(),
            p.kind.purl_type().to_string(),
        ]);
    }
    let w0 = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{:w0$}  {:w1$}  {}\n", r[0], r[1], r[2]));
    }
    out
}
