//! The HTTP probes of a `FleetRlmClient` (spec §7): `fetch` with a timeout, the credential
//! in a header (never the URL), and the plug-in's `http::decode_*` turning the status and
//! body into a typed value or a typed error. A rejection is an `Error` named
//! `RunwatchHttpError` carrying the error's fields (`kind`, `status`, `message`, …).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use super::super::dispatch::to_js;
use super::super::errors::{js_error, thrown_message};
use super::options::AuthMode;
use crate::protocol::fleet_rlm::http::HttpError;

/// Why an HTTP call failed before it had a response to decode.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum Failure {
    /// No response: the server is unreachable, or CORS refused it.
    Network { message: String },
    /// No response within `timeoutMs`.
    Timeout { message: String, timeout_ms: u32 },
    /// The `auth` function threw, rejected or gave no token.
    Credential { message: String },
}

/// What the probes need of their client.
#[derive(Clone)]
pub(crate) struct Http {
    pub base: String,
    pub auth: AuthMode,
    pub timeout_ms: u32,
}

impl Http {
    /// Calls `method path` (with a JSON `body`) and decodes the answer with `decode`.
    pub(crate) fn call<T: Serialize + 'static>(
        &self,
        method: &'static str,
        path: &'static str,
        authenticated: bool,
        body: Option<String>,
        decode: fn(u16, &str) -> Result<T, HttpError>,
    ) -> Promise {
        let http = self.clone();
        future_to_promise(async move {
            let headers = http.headers(authenticated).await.map_err(|message| rejection(&Failure::Credential { message }))?;
            let (status, text) = http.fetch(method, path, &headers, body).await?;
            match decode(status, &text) {
                Ok(value) => to_js(&value).map_err(|reason| rejection(&Failure::Network { message: format!("the response could not be converted: {reason}") })),
                Err(error) => Err(http_error(&error)),
            }
        })
    }

    /// The auth headers of one call: `Authorization: Bearer` with a token fetched now, or
    /// the debug identity headers.
    async fn headers(&self, authenticated: bool) -> Result<Vec<(&'static str, String)>, String> {
        let mut headers = vec![("Accept", "application/json".to_owned())];
        if !authenticated {
            return Ok(headers);
        }
        match &self.auth {
            AuthMode::Anonymous => {}
            AuthMode::Debug(identity) => {
                headers.push(("X-Debug-Tenant-Id", identity.tenant_id.clone()));
                headers.push(("X-Debug-User-Id", identity.user_id.clone()));
            }
            AuthMode::Token(source) => {
                let token = token(source).await?;
                if token.trim().is_empty() {
                    return Err("the auth callback gave an empty access token".into());
                }
                headers.push(("Authorization", format!("Bearer {token}")));
            }
        }
        Ok(headers)
    }

    async fn fetch(&self, method: &str, path: &str, headers: &[(&str, String)], body: Option<String>) -> Result<(u16, String), JsValue> {
        let network = |e: &JsValue| rejection(&Failure::Network { message: format!("{method} {path}: {}", thrown_message(e)) });
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        let h = web_sys::Headers::new().map_err(|e| network(&e))?;
        for (name, value) in headers {
            h.set(name, value).map_err(|_| network(&JsValue::from_str("a header value is not valid")))?;
        }
        if let Some(body) = &body {
            h.set("Content-Type", "application/json").map_err(|e| network(&e))?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&h);
        let controller = web_sys::AbortController::new().map_err(|e| network(&e))?;
        init.set_signal(Some(&controller.signal()));
        let url = format!("{}{path}", self.base);
        let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(|e| network(&e))?;
        let fetch: Function = js_sys::Reflect::get(&js_sys::global(), &"fetch".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| network(&JsValue::from_str("fetch is not available")))?;
        let timed_out = Rc::new(Cell::new(false));
        let timer = {
            let timed_out = timed_out.clone();
            gloo_timers::callback::Timeout::new(self.timeout_ms, move || {
                timed_out.set(true);
                controller.abort();
            })
        };
        let result = async {
            let promise: Promise = fetch.call1(&js_sys::global(), &request)?.dyn_into()?;
            let response: web_sys::Response = JsFuture::from(promise).await?.dyn_into()?;
            let text = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
            Ok::<_, JsValue>((response.status(), text))
        }
        .await;
        drop(timer);
        result.map_err(|e| {
            if timed_out.get() {
                let timeout_ms = self.timeout_ms;
                rejection(&Failure::Timeout { message: format!("{method} {path}: no answer within {timeout_ms} ms"), timeout_ms })
            } else {
                network(&e)
            }
        })
    }
}

/// The token of one call: `auth` itself, or what its function returns (or resolves to).
async fn token(source: &JsValue) -> Result<String, String> {
    let value = match source.dyn_ref::<Function>() {
        Some(f) => f.call0(&JsValue::UNDEFINED).map_err(|e| format!("the auth callback failed: {}", thrown_message(&e)))?,
        None => source.clone(),
    };
    if let Some(text) = value.as_string() {
        return Ok(text);
    }
    let value = JsFuture::from(Promise::resolve(&value)).await.map_err(|e| format!("the auth callback failed: {}", thrown_message(&e)))?;
    value.as_string().ok_or_else(|| "the auth callback did not produce a string".into())
}

/// A decoded error as what the promise rejects with.
fn http_error(error: &HttpError) -> JsValue {
    with_fields(&error.to_string(), error)
}

fn rejection(failure: &Failure) -> JsValue {
    let message = match failure {
        Failure::Network { message } | Failure::Timeout { message, .. } | Failure::Credential { message } => message.clone(),
    };
    with_fields(&message, failure)
}

/// An `Error` named `RunwatchHttpError` with every field of `fields`.
fn with_fields<T: Serialize>(message: &str, fields: &T) -> JsValue {
    let error = js_error("RunwatchHttpError", "", message);
    let _ = js_sys::Reflect::delete_property(error.unchecked_ref::<js_sys::Object>(), &"code".into());
    if let Ok(fields) = to_js(fields) {
        let _: js_sys::Object = js_sys::Object::assign(error.unchecked_ref(), fields.unchecked_ref());
    }
    error
}
