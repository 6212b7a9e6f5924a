//! The few browser services the notebook uses: storage, downloads, the
//! clipboard, the URL, time. Each fails soft (a private window without
//! storage, a page without a clipboard) and says so to the caller.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

pub(crate) fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

pub(crate) fn document() -> Option<web_sys::Document> {
    window()?.document()
}

fn storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok().flatten()
}

pub(crate) fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Saves to localStorage; false when the browser refuses (full, private mode).
pub(crate) fn save(key: &str, value: &str) -> bool {
    storage().is_some_and(|s| s.set_item(key, value).is_ok())
}

pub(crate) fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// Milliseconds from the page's time origin.
pub(crate) fn now_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// A file name from a title: lower-case ASCII letters and digits, the rest `-`.
pub(crate) fn file_name(title: &str) -> String {
    title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Offers `content` as a file download.
pub(crate) fn download(name: &str, mime: &str, content: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(content));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .map_err(|e| format!("cannot make the file: {e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|e| format!("cannot make the file: {e:?}"))?;
    let doc = document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "not an anchor")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Some browsers read the file after `click()` returns: let it go later.
    wasm_bindgen_futures::spawn_local(async move {
        yew::platform::time::sleep(std::time::Duration::from_secs(30)).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// Draws an SVG into a canvas and downloads it as PNG (twice the size, for
/// slides). Asynchronous: the image must load first.
pub(crate) fn download_png(name: &str, svg: &str, width: u32, height: u32) -> Result<(), String> {
    let doc = document().ok_or("no document")?;
    let img: web_sys::HtmlImageElement = doc
        .create_element("img")
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "not an image")?;
    let url = format!(
        "data:image/svg+xml;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(svg))
    );
    let name = name.to_string();
    let img2 = img.clone();
    let onload = Closure::once_into_js(move || {
        let scale = 2;
        let draw = || -> Result<(), String> {
            let canvas: web_sys::HtmlCanvasElement = document()
                .ok_or("no document")?
                .create_element("canvas")
                .map_err(|e| format!("{e:?}"))?
                .dyn_into()
                .map_err(|_| "not a canvas")?;
            canvas.set_width(width * scale);
            canvas.set_height(height * scale);
            let ctx: web_sys::CanvasRenderingContext2d = canvas
                .get_context("2d")
                .map_err(|e| format!("{e:?}"))?
                .ok_or("no 2d context")?
                .dyn_into()
                .map_err(|_| "not a 2d context")?;
            ctx.draw_image_with_html_image_element_and_dw_and_dh(
                &img2,
                0.0,
                0.0,
                f64::from(width * scale),
                f64::from(height * scale),
            )
            .map_err(|e| format!("{e:?}"))?;
            let data = canvas
                .to_data_url_with_type("image/png")
                .map_err(|e| format!("{e:?}"))?;
            let a: web_sys::HtmlAnchorElement = document()
                .ok_or("no document")?
                .create_element("a")
                .map_err(|e| format!("{e:?}"))?
                .dyn_into()
                .map_err(|_| "not an anchor")?;
            a.set_href(&data);
            a.set_download(&name);
            a.click();
            Ok(())
        };
        if let Err(e) = draw() {
            web_sys::console::warn_1(&JsValue::from_str(&format!("PNG export failed: {e}")));
        }
    });
    let onerror = Closure::once_into_js(|| {
        web_sys::console::warn_1(&JsValue::from_str(
            "PNG export failed: the chart did not load as an image",
        ));
    });
    img.set_onload(Some(onload.unchecked_ref()));
    img.set_onerror(Some(onerror.unchecked_ref()));
    img.set_src(&url);
    Ok(())
}

/// Copies text to the clipboard (where the page may).
pub(crate) fn copy(text: &str) {
    if let Some(w) = window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
}

pub(crate) fn location_hash() -> String {
    window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The lab server's token: `?token=` of the page's URL, as written (still
/// URL-encoded: it goes back into URLs unchanged), kept for the tab's other
/// pages (the book's chapter links do not carry it).
pub(crate) fn token() -> Option<String> {
    let search = window()?.location().search().ok()?;
    let raw = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let session = window()?.session_storage().ok().flatten();
    match raw {
        Some(t) => {
            if let Some(s) = &session {
                let _ = s.set_item(crate::keys::TOKEN, &t);
            }
            Some(t)
        }
        None => session?.get_item(crate::keys::TOKEN).ok().flatten(),
    }
}

/// This tab's anonymous id for the class's polls: random, made on first
/// use and kept in sessionStorage (so a reload answers as the same tab,
/// and another tab as another).
pub(crate) fn tab_id() -> String {
    let session = window().and_then(|w| w.session_storage().ok().flatten());
    if let Some(id) = session
        .as_ref()
        .and_then(|s| s.get_item(crate::keys::TAB).ok().flatten())
    {
        return id;
    }
    // Two random numbers in base 36, "0." dropped: some 20 characters.
    let part = || {
        let n = js_sys::Number::from(js_sys::Math::random()).to_string_with_radix(36);
        n.map(String::from).unwrap_or_default().split_off(2)
    };
    let id = part() + &part();
    if let Some(s) = &session {
        let _ = s.set_item(crate::keys::TAB, &id);
    }
    id
}

/// A `?name=value` of the page's URL.
pub(crate) fn query(name: &str) -> Option<String> {
    let search = window()?.location().search().ok()?;
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
    params.get(name)
}

/// The page's address for others: origin and path, no query (a `?token=`
/// must not travel in a shared link) and no fragment.
pub(crate) fn share_base() -> String {
    window()
        .and_then(|w| {
            let l = w.location();
            Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))
        })
        .unwrap_or_default()
}

/// Drops what opened this page once it has been read — the `#nb=` of a
/// shared link, the `?scenario=` of a library link — so a reload shows the
/// notebook as edited since, not the link's copy. Other query parameters
/// (the token) stay. No history entry is added.
pub(crate) fn forget_opening_link() {
    let Some(w) = window() else { return };
    let l = w.location();
    let (Ok(path), Ok(search)) = (l.pathname(), l.search()) else {
        return;
    };
    let kept: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("scenario="))
        .collect();
    let url = if kept.is_empty() {
        path
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}

/// The user's colour scheme preference.
pub(crate) fn prefers_dark() -> bool {
    window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// Moves the keyboard focus to the element `selector` names once the page
/// has drawn it (the next task), and brings it into view.
pub(crate) fn focus_soon(selector: &str) {
    let selector = selector.to_string();
    wasm_bindgen_futures::spawn_local(async move {
        yew::platform::time::sleep(std::time::Duration::from_millis(0)).await;
        if let Some(el) = document()
            .and_then(|d| d.query_selector(&selector).ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            el.scroll_into_view();
            let _ = el.focus();
        }
    });
}
