//! HubSpot request and response shapes (CRM v3/v4, forms v1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A CRM object as the v3 API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct CrmObject {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
}

impl CrmObject {
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Paging {
    pub next: Option<NextPage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NextPage {
    pub after: String,
}

/// Body of `POST /crm/v3/objects/{type}` with associations.
#[derive(Debug, Clone, Serialize)]
pub struct CreateObject {
    pub properties: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<Association>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Association {
    pub to: AssociationTo,
    pub types: Vec<AssociationType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssociationTo {
    pub id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationType {
    pub association_category: &'static str,
    pub association_type_id: u32,
}

impl Association {
    /// A HubSpot-defined association to `id` (task→contact 204, note→contact 202).
    pub fn to(id: &str, type_id: u32) -> Self {
        Self {
            to: AssociationTo { id: id.to_owned() },
            types: vec![AssociationType {
                association_category: "HUBSPOT_DEFINED",
                association_type_id: type_id,
            }],
        }
    }
}

/// One page of the forms submissions API.
#[derive(Debug, Clone, Deserialize)]
pub struct FormsPage {
    #[serde(default)]
    pub results: Vec<formlead_core::domain::FormsApiSubmission>,
    #[serde(default)]
    pub paging: Option<Paging>,
}
