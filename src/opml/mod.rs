//! OPML 2.0 in and out: the sources as an OPML document (`/opml`, `tidings export-opml`), and
//! an OPML document's feeds added to `feeds.toml` (`tidings import-opml`) with toml_edit, so
//! the file keeps its comments and layout and feeds already listed are skipped.
//!
//! Pure: text in, text out. The caller reads and writes the files.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
use url::Url;

use crate::config::duplicate_key;
use crate::publish::sanitize::strip_xml_forbidden;

/// One source as OPML lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub title: String,
    pub xml_url: String,
    pub html_url: Option<String>,
    /// The folders it sits in, outermost first; imported as tags.
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not a valid OPML document: {0}")]
    Invalid(String),
    #[error("feeds.toml is not valid TOML: {0}")]
    Config(String),
    #[error("feeds.toml has a \"feeds\" key that is not a list of [[feeds]] tables")]
    FeedsNotTables,
    #[error("cannot write OPML: {0}")]
    Write(String),
}

/// The sources as an OPML 2.0 document titled `title`.
pub fn export(title: &str, sources: &[Source]) -> Result<String, OpmlError> {
    let mut document = opml::OPML {
        version: "2.0".to_string(),
        head: Some(opml::Head {
            title: Some(strip_xml_forbidden(title)),
            ..opml::Head::default()
        }),
        ..opml::OPML::default()
    };
    for source in sources {
        let title = strip_xml_forbidden(&source.title);
        document.body.outlines.push(opml::Outline {
            text: title.clone(),
            title: Some(title),
            r#type: Some("rss".to_string()),
            xml_url: Some(strip_xml_forbidden(&source.xml_url)),
            html_url: source.html_url.as_deref().map(strip_xml_forbidden),
            category: (!source.tags.is_empty()).then(|| {
                strip_xml_forbidden(
                    &source
                        .tags
                        .iter()
                        .map(|tag| format!("/{tag}"))
                        .collect::<Vec<_>>()
                        .join(","),
                )
            }),
            ..opml::Outline::default()
        });
    }
    let body = document
        .to_string()
        .map_err(|error| OpmlError::Write(error.to_string()))?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}\n"
    ))
}

/// Every feed of an OPML document (outlines with an `xmlUrl`, in folders or not).
pub fn sources(text: &str) -> Result<Vec<Source>, OpmlError> {
    let document =
        opml::OPML::from_str(text).map_err(|error| OpmlError::Invalid(error.to_string()))?;
    let mut found = Vec::new();
    collect(&document.body.outlines, &mut Vec::new(), &mut found);
    Ok(found)
}

fn collect(outlines: &[opml::Outline], folders: &mut Vec<String>, found: &mut Vec<Source>) {
    for outline in outlines {
        if let Some(xml_url) = outline
            .xml_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
        {
            let title = outline
                .title
                .clone()
                .filter(|title| !title.trim().is_empty())
                .unwrap_or_else(|| outline.text.clone());
            found.push(Source {
                title: title.trim().to_string(),
                xml_url: xml_url.trim().to_string(),
                html_url: outline.html_url.clone(),
                tags: folders.clone(),
            });
        }
        if !outline.outlines.is_empty() {
            let folder = outline.text.trim().to_string();
            let named = !folder.is_empty();
            if named {
                folders.push(folder);
            }
            collect(&outline.outlines, folders, found);
            if named {
                folders.pop();
            }
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The new `feeds.toml` text.
    pub config: String,
    pub added: Vec<Source>,
    /// Already in `feeds.toml` (or twice in the OPML document).
    pub skipped: Vec<Source>,
    /// Not http(s) URLs, with why.
    pub refused: Vec<(Source, String)>,
}

/// Adds `sources` to the config text as `[[feeds]]` tables after the last one, keeping
/// everything else of the file as it was.
pub fn import(config: &str, sources: Vec<Source>) -> Result<ImportReport, OpmlError> {
    let mut document: DocumentMut = config
        .parse()
        .map_err(|error: toml_edit::TomlError| OpmlError::Config(error.to_string()))?;
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut last_position = None;
    if let Some(feeds) = document.get("feeds") {
        let feeds = feeds
            .as_array_of_tables()
            .ok_or(OpmlError::FeedsNotTables)?;
        for table in feeds {
            if let Some(url) = table.get("url").and_then(Item::as_str)
                && let Ok(url) = Url::parse(url)
            {
                known.insert(duplicate_key(&url));
            }
            last_position = table.position().or(last_position);
        }
    }
    let mut report = ImportReport::default();
    let mut new_tables = Vec::new();
    for source in sources {
        let url = match Url::parse(&source.xml_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            Ok(url) => {
                let reason = format!("{} is not an http or https URL", url.scheme());
                report.refused.push((source, reason));
                continue;
            }
            Err(error) => {
                report.refused.push((source, error.to_string()));
                continue;
            }
        };
        if !known.insert(duplicate_key(&url)) {
            report.skipped.push(source);
            continue;
        }
        let mut table = Table::new();
        table.insert("url", value(url.as_str()));
        if !source.title.is_empty() {
            table.insert("name", value(source.title.as_str()));
        }
        if !source.tags.is_empty() {
            let tags: Array = source.tags.iter().map(String::as_str).collect();
            table.insert("tags", value(tags));
        }
        new_tables.push(table);
        report.added.push(source);
    }
    // Feed names must stay unique: a title that is already a name is left out, so the feed
    // is named by its own title instead of making the config invalid.
    let mut names: std::collections::HashSet<String> = document
        .get("feeds")
        .and_then(Item::as_array_of_tables)
        .map(|feeds| {
            feeds
                .iter()
                .filter_map(|table| table.get("name").and_then(Item::as_str))
                .map(|name| name.trim().to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    for table in &mut new_tables {
        if let Some(name) = table.get("name").and_then(Item::as_str)
            && !names.insert(name.trim().to_lowercase())
        {
            table.remove("name");
        }
    }
    if !new_tables.is_empty() {
        if document.get("feeds").is_none() {
            document.insert("feeds", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        let feeds = document
            .get_mut("feeds")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or(OpmlError::FeedsNotTables)?;
        for mut table in new_tables {
            // Right after the last [[feeds]] table, not after the topics at the end.
            if let Some(position) = last_position {
                table.set_position(Some(position));
            }
            feeds.push(table);
        }
    }
    report.config = document.to_string();
    Ok(report)
}

#[cfg(test)]
mod tests;
