//! `/developers/api`: the JSON API's reference, read from the OpenAPI document the server generates from its
//! handlers (`server/src/api/openapi.rs`), so the page and the API cannot disagree. Public, like the document.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{components::page::loaded, error::AppError};

/// The OpenAPI document as JSON, put in the request's context by the server.
#[cfg(feature = "ssr")]
#[derive(Clone, Copy, Debug)]
pub struct ApiDocument(pub &'static str);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub summary: String,
    /// Scopes the token needs.
    pub scopes: Vec<String>,
    /// (name, description)
    pub parameters: Vec<(String, String)>,
    /// (status, description)
    pub responses: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiOverview {
    /// The site's address (`BASE_URL`), for the examples.
    pub base_url: String,
    pub endpoints: Vec<Endpoint>,
}

#[server(prefix = "/api", endpoint = "api_reference")]
pub async fn api_reference() -> Result<ApiOverview, AppError> {
    let st = crate::server_ctx::state()?;
    let doc = use_context::<ApiDocument>().ok_or_else(|| AppError::Internal { request_id: "-".into() })?;
    let doc: serde_json::Value =
        serde_json::from_str(doc.0).map_err(|_| AppError::Internal { request_id: "-".into() })?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let summary = op.get("summary").or(op.get("description")).map(text).unwrap_or_default();
            let scopes = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["bearer"].as_array().into_iter().flatten().map(text))
                .collect();
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (text(&p["name"]), text(&p["description"])))
                .collect();
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| (status.clone(), text(&r["description"])))
                .collect();
            out.push(Endpoint {
                method: method.to_uppercase(),
                path: path.clone(),
                summary,
                scopes,
                parameters,
                responses,
            });
        }
    }
    Ok(ApiOverview { base_url: st.config.base_url.clone(), endpoints: out })
}

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| api_reference());
    view! {
        <section class="card wide" aria-labelledby="page-title">
            <h1 id="page-title">"API reference"</h1>
            <p class="lead">
                "Programs call the API as a person with a personal access token, made on "
                <a href="/users/settings/api-tokens">"API tokens"</a>
                ". Send it in a header; errors come as RFC 9457 problem details. The machine-readable document is "
                <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"."
            </p>
            {loaded(data, |r| view! {
                <pre class="code-block"><code>{format!("curl -H \"Authorization: Bearer pc_pat_…\" {}/api/v1/me", r.base_url)}</code></pre>
                <div class="endpoints">
                    {r.endpoints.into_iter().map(|e| view! { <EndpointItem e/> }).collect_view()}
                </div>
            })}
        </section>
    }
}

#[component]
fn EndpointItem(e: Endpoint) -> impl IntoView {
    let id = format!("{}-{}", e.method.to_lowercase(), e.path.replace(['/', '{', '}'], "-"));
    let scopes = if e.scopes.is_empty() { "none".to_string() } else { e.scopes.join(", ") };
    let heading = id.clone();
    view! {
        <article class="endpoint" aria-labelledby=heading>
            <h2 class="section-title" id=id>
                <span class="method">{e.method}</span>" "<code>{e.path}</code>
            </h2>
            <p>{e.summary}</p>
            <p class="muted">"Token scope: "{scopes}</p>
            {(!e.parameters.is_empty()).then(|| view! {
                <h3 class="subhead">"Parameters"</h3>
                <ul class="plain-list">
                    {e.parameters.into_iter().map(|(n, d)| view! { <li><code>{n}</code>" — "{d}</li> }).collect_view()}
                </ul>
            })}
            <h3 class="subhead">"Responses"</h3>
            <ul class="plain-list">
                {e.responses.into_iter().map(|(s, d)| view! { <li><strong>{s}</strong>" — "{d}</li> }).collect_view()}
            </ul>
        </article>
    }
}
