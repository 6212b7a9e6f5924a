// The notebook's parts that are not in its first load, each a WASM module
// built by `cargo xtask dist`: lab-charts (the charts' drawing), loaded when
// the first results are on screen, and lab-import (the trace importer),
// loaded on the first import. A module that fails to load is tried again the
// next time it is needed.

const modules = new Map();

export function load(url) {
  const href = new URL(url, document.baseURI).href;
  let m = modules.get(href);
  if (!m) {
    m = import(href).then(async (module) => {
      await module.default();
      return module;
    });
    modules.set(href, m);
    m.catch(() => modules.delete(href));
  }
  return m;
}

export function new_chart(m, title, y_desc, max_write, y0, y1, dark) {
  return new m.Chart(title, y_desc, max_write, y0, y1, dark);
}

const CHUNK = 1 << 22;

// Reads `source` — a File (the file input, a drop) or a string (a paste) —
// into a new lab-import Session, 4 MiB at a time (the importer keeps the TSC
// events, not the file), and finishes it; the page asks it the rest.
export async function read_trace(url, source) {
  const m = await load(url);
  const session = new m.Session();
  try {
    if (typeof source === "string") {
      const bytes = new TextEncoder().encode(source);
      for (let at = 0; at < bytes.length; at += CHUNK) {
        session.push(bytes.subarray(at, at + CHUNK));
      }
    } else {
      for (let at = 0; at < source.size; at += CHUNK) {
        session.push(new Uint8Array(await source.slice(at, at + CHUNK).arrayBuffer()));
      }
    }
    session.finish();
  } catch (e) {
    session.free();
    throw e;
  }
  return session;
}

// Jupyter, through lab-import (it reads and writes .ipynb's JSON tree, which
// the first load does not carry).
export async function ipynb_to_notebook(url, text) {
  return (await load(url)).ipynbToNotebook(text);
}

export async function notebook_to_ipynb(url, notebook, charts) {
  return (await load(url)).notebookToIpynb(notebook, charts);
}
