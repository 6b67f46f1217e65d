//! Paged lists: every list route answers `{"items": [...], "next_cursor": "…" | null}`, takes `limit` (1 to
//! [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent) and `cursor` (the `next_cursor` of the previous page, opaque), and
//! the filters it names; any other query parameter, a cursor not made by this list, or a limit out of range is a 422
//! naming the parameter. Pages follow a stable order (ids, names, or definition order for tasks), and a cursor names
//! the last item of its page, so items added or removed meanwhile shift nothing.

use crate::error::ApiError;
use crate::routes::{In, Param, schema};
use crate::views::Page;
use axum::Json;
use axum::http::Uri;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit`.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// `?limit=`: the page size.
pub(crate) const LIMIT: Param =
    Param { name: "limit", location: In::Query, required: false, description: "The page size", schema: limit_schema };

/// `?cursor=`: where the page starts.
pub(crate) const CURSOR: Param = Param {
    name: "cursor",
    location: In::Query,
    required: false,
    description: "The `next_cursor` of the previous page, as it was given",
    schema: schema::<String>,
};

/// The parameters of a list without filters.
pub(crate) const LIST: &[Param] = &[LIMIT, CURSOR];

fn limit_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})
}

/// A list request: its page size, where it resumes, and its filters.
#[derive(Debug)]
pub(crate) struct ListQuery {
    /// The page size.
    pub(crate) limit: u32,
    /// The key of the last item of the previous page, as the list's cursor said.
    after: Option<String>,
    /// The filters given, by name.
    filters: BTreeMap<String, String>,
    /// Which list this is (a cursor of another list is refused).
    list: &'static str,
}

impl ListQuery {
    /// Reads `limit`, `cursor` and the filters this list accepts (the query parameters of `params` besides those
    /// two: the route table's, so the document lists exactly what is read) from the request's query.
    pub(crate) fn parse(uri: &Uri, list: &'static str, params: &[Param]) -> Result<Self, ApiError> {
        let filters: Vec<&str> = params
            .iter()
            .filter(|param| param.location == In::Query && ![LIMIT.name, CURSOR.name].contains(&param.name))
            .map(|param| param.name)
            .collect();
        let mut query = Self { limit: DEFAULT_LIMIT, after: None, filters: BTreeMap::new(), list };
        let pairs: Vec<(String, String)> = uri
            .query()
            .map(|query| url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => query.limit = parse_limit(&value)?,
                "cursor" => query.after = Some(decode_cursor(list, &value)?),
                known if filters.contains(&known) => {
                    query.filters.insert(name, value);
                }
                _ => {
                    let accepted: Vec<String> =
                        ["limit", "cursor"].iter().chain(&filters).map(|name| format!("`{name}`")).collect();
                    return Err(ApiError::invalid(
                        &name,
                        format!("unknown query parameter `{name}`; this list takes {}", accepted.join(", ")),
                    ));
                }
            }
        }
        Ok(query)
    }

    /// The cursor's key read as a `K`; a key that does not read is a bad cursor.
    pub(crate) fn after<K: FromStr>(&self) -> Result<Option<K>, ApiError> {
        self.after.as_deref().map(|key| key.parse().map_err(|_| bad_cursor())).transpose()
    }

    /// A text filter, if given.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.filters.get(name).cloned()
    }

    /// A filter naming one value of an enum by its snake_case name; another value is a 422 naming the filter.
    pub(crate) fn status<T: DeserializeOwned>(&self, name: &str, allowed: &[&str]) -> Result<Option<T>, ApiError> {
        let Some(value) = self.filters.get(name) else { return Ok(None) };
        serde_json::from_value(Value::String(value.clone())).map(Some).map_err(|_| {
            let allowed: Vec<String> = allowed.iter().map(|one| format!("`{one}`")).collect();
            ApiError::invalid(name, format!("`{value}` is not one of {}", allowed.join(", ")))
        })
    }

    /// The answer: the items, and the cursor of the next page (the key of the last item) when `more` follow.
    pub(crate) fn answer<V: Serialize>(&self, items: Vec<V>, last_key: Option<String>, more: bool) -> Json<Page<V>> {
        let next_cursor = last_key.filter(|_| more).map(|key| encode_cursor(self.list, &key));
        Json(Page { items, next_cursor })
    }

    /// A page of a list held in memory, in the order of `key` (each key unique; the list is sorted here, so that the
    /// order does not depend on a database's collation): the items after the cursor's key, at most `limit` of them,
    /// as [`ListQuery::answer`] answers them.
    pub(crate) fn page_of<T, K, V: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> K,
        view: impl Fn(&T) -> V,
    ) -> Result<Json<Page<V>>, ApiError>
    where
        K: Ord + FromStr + ToString,
    {
        let after: Option<K> = self.after()?;
        let mut keyed: Vec<(K, T)> = items.into_iter().map(|item| (key(&item), item)).collect();
        keyed.sort_by(|(a, _), (b, _)| a.cmp(b));
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        for (item_key, item) in keyed {
            if after.as_ref().is_some_and(|after| item_key <= *after) {
                continue;
            }
            if page.len() == self.limit as usize {
                more = true;
                break;
            }
            page.push(view(&item));
            last = Some(item_key.to_string());
        }
        Ok(self.answer(page, last, more))
    }
}

fn parse_limit(value: &str) -> Result<u32, ApiError> {
    match value.parse::<u32>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::invalid("limit", format!("`{value}` is not a whole number from 1 to {MAX_LIMIT}"))),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::invalid("cursor", "not a cursor of this list: pass the `next_cursor` of its previous page as it is")
}

/// `list:key`, base64url: opaque to clients, and tied to its list.
fn encode_cursor(list: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}:{key}"))
}

fn decode_cursor(list: &str, cursor: &str) -> Result<String, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let key = text.strip_prefix(list).and_then(|rest| rest.strip_prefix(':')).ok_or_else(bad_cursor)?;
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Result<ListQuery, ApiError> {
        const STAGE: Param = Param { name: "stage", ..CURSOR };
        ListQuery::parse(&format!("/x?{text}").parse().expect("URI"), "things", &[LIMIT, CURSOR, STAGE])
    }

    #[test]
    fn bad_parameters_are_named() {
        let other_list = encode_cursor("others", "3");
        let cases = [
            ("", None),
            ("limit=1", None),
            ("limit=1000&stage=x", None),
            ("limit=0", Some("limit")),
            ("limit=1001", Some("limit")),
            ("limit=-1", Some("limit")),
            ("limit=ten", Some("limit")),
            ("cursor=%%%", Some("cursor")),
            ("cursor=abc", Some("cursor")),
            ("sort=name", Some("sort")),
            ("Stage=active", Some("Stage")),
        ];
        for (text, parameter) in cases {
            let result = query(text);
            let named = result.err().map(|error| error.details[0].path.clone());
            assert_eq!(named.as_deref(), parameter, "{text}");
        }
        let foreign = query(&format!("cursor={other_list}")).err().map(|error| error.details[0].path.clone());
        assert_eq!(foreign.as_deref(), Some("cursor"));
    }

    #[test]
    fn pages_in_memory_cover_every_item_once() {
        let items: Vec<u32> = (1..=7).collect();
        for limit in 1..=8 {
            let mut seen: Vec<u64> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let text = match &cursor {
                    Some(cursor) => format!("limit={limit}&cursor={cursor}"),
                    None => format!("limit={limit}"),
                };
                let page =
                    query(&text).expect("query").page_of(items.clone(), |n| *n, |n| u64::from(*n)).expect("page");
                assert!(page.0.items.len() <= limit as usize);
                seen.extend(&page.0.items);
                match page.0.next_cursor.as_deref() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            assert_eq!(seen, (1..=7).collect::<Vec<u64>>(), "limit {limit}");
        }
    }
}
