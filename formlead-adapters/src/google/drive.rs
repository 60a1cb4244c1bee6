//! `DriveAssets`: the [`AssetPort`] over Drive `files.list` in one folder,
//! with a safely quoted query.

use async_trait::async_trait;
use formlead_core::ports::{Asset, AssetError, AssetPort};
use reqwest::Method;
use serde::Deserialize;

use super::oauth::GoogleApi;
use crate::http::Op;

/// `files.list`.
const FILES_LIST: Op = Op::new("files.list", 1.0);

#[derive(Deserialize)]
struct FileList {
    #[serde(default)]
    files: Vec<File>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    id: String,
    name: String,
    #[serde(default)]
    web_view_link: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Quotes a string for a Drive query: `'…'` with `\` and `'` escaped.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The `q` for a folder and search terms (up to 5 terms, OR-ed).
pub fn query(folder_id: &str, terms: &[String]) -> String {
    let mut q = format!("{} in parents and trashed = false", quote(folder_id));
    let terms: Vec<String> = terms
        .iter()
        .take(5)
        .map(|t| format!("fullText contains {}", quote(t)))
        .collect();
    if !terms.is_empty() {
        q.push_str(&format!(" and ({})", terms.join(" or ")));
    }
    q
}

/// Sales assets in a Google Drive folder.
#[derive(Debug, Clone)]
pub struct DriveAssets {
    api: GoogleApi,
    folder_id: String,
}

impl DriveAssets {
    /// Assets from the Drive folder `folder_id` through `api`.
    pub fn new(api: GoogleApi, folder_id: &str) -> Self {
        Self {
            api,
            folder_id: folder_id.to_owned(),
        }
    }
}

#[async_trait]
impl AssetPort for DriveAssets {
    async fn search(&self, terms: &[String], limit: usize) -> Result<Vec<Asset>, AssetError> {
        let q = query(&self.folder_id, terms);
        let page_size = limit.clamp(1, 100).to_string();
        let list: FileList = self
            .api
            .read(FILES_LIST, |t| {
                self.api
                    .client
                    .request(Method::GET, "/files")
                    .bearer_auth(t)
                    .query(&[
                        ("q", q.as_str()),
                        (
                            "fields",
                            "nextPageToken,files(id,name,mimeType,webViewLink,description)",
                        ),
                        ("pageSize", page_size.as_str()),
                        ("supportsAllDrives", "true"),
                        ("includeItemsFromAllDrives", "true"),
                    ])
            })
            .await
            .map_err(crate::http::VendorFailure::into_port)?;
        Ok(list
            .files
            .into_iter()
            .filter_map(|f| {
                Some(Asset {
                    url: f.web_view_link?,
                    tags: vec![],
                    description: f.description.unwrap_or_default(),
                    title: f.name,
                    id: f.id,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_quoted() {
        assert_eq!(quote("it's a \\ test"), "'it\\'s a \\\\ test'");
        let q = query("fold'er", &["pricing".into(), "o'brien".into()]);
        assert_eq!(
            q,
            "'fold\\'er' in parents and trashed = false and (fullText contains 'pricing' or fullText contains 'o\\'brien')"
        );
        assert_eq!(query("f", &[]), "'f' in parents and trashed = false");
    }
}
