// Renders /openapi.json as a list of operations grouped by tag, then every named schema with its fields.
// No framework, no network beyond this server.
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function describeSecurity(op, doc) {
  if (!op.security || op.security.length === 0) return "no credential";
  return op.security.map(s => Object.keys(s).map(k => {
    const scheme = doc.components.securitySchemes[k];
    return scheme.type === "http" ? "Authorization: Bearer" : scheme.name;
  }).join(" + ")).join(" or ");
}

const REF = "#/components/schemas/";

// A schema in a few words: its name when it is a reference, else its type.
function typeText(s) {
  if (!s || Object.keys(s).length === 0) return "any";
  if (s.$ref) return s.$ref.slice(REF.length);
  if ("const" in s) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map(v => JSON.stringify(v)).join(" | ");
  const alts = s.anyOf || s.oneOf;
  if (alts) return alts.map(typeText).join(" | ");
  if (s.type === "array") return "array of " + typeText(s.items);
  if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object" && !s.properties)
    return "object of " + typeText(s.additionalProperties);
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
  return s.format ? t + " (" + s.format + ")" : t;
}

// A schema as a link to its entry below when it is named, else as text.
function schemaRef(s) {
  if (s && s.$ref) {
    const a = el("a", s.$ref.slice(REF.length));
    a.href = "#schema-" + s.$ref.slice(REF.length);
    return a;
  }
  return el("code", typeText(s));
}

// The fields of an object schema: name, type, required, description; nested objects one level deep.
function fields(s, depth) {
  const list = el("ul", undefined, "docs-fields");
  const required = new Set(s.required || []);
  for (const [name, p] of Object.entries(s.properties || {})) {
    const li = el("li");
    li.appendChild(el("code", name));
    li.appendChild(document.createTextNode(": "));
    li.appendChild(schemaRef(p));
    if (required.has(name)) li.appendChild(el("span", " required", "docs-required"));
    if (p.description) li.appendChild(el("span", " — " + p.description));
    if (depth < 2 && p.type === "object" && p.properties) li.appendChild(fields(p, depth + 1));
    list.appendChild(li);
  }
  if (s.additionalProperties === false) list.appendChild(el("li", "no other fields", "docs-closed"));
  return list;
}

function renderSchemas(doc) {
  const section = el("section");
  section.appendChild(el("h2", "Schemas"));
  for (const [name, s] of Object.entries(doc.components.schemas)) {
    const card = el("details", undefined, "docs-schema");
    card.id = "schema-" + name;
    const summary = el("summary");
    summary.appendChild(el("code", name));
    summary.appendChild(el("span", " " + typeText(s.properties ? { type: "object" } : s)));
    card.appendChild(summary);
    if (s.description) card.appendChild(el("p", s.description));
    if (s.properties) card.appendChild(fields(s, 0));
    section.appendChild(card);
  }
  document.getElementById("docs-operations").appendChild(section);
}

function bodyLine(label, content) {
  const p = el("p", label + ": ");
  Object.entries(content || {}).forEach(([media, c], i) => {
    if (i) p.appendChild(document.createTextNode(" or "));
    p.appendChild(el("code", media + " "));
    p.appendChild(schemaRef(c.schema));
  });
  return p;
}

function render(doc) {
  const root = document.getElementById("docs-operations");
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push({ path, method, op });
    }
  }
  for (const tag of doc.tags.map(t => t.name)) {
    const ops = byTag[tag] || [];
    const section = el("section");
    const info = doc.tags.find(t => t.name === tag);
    section.appendChild(el("h2", info ? info.description : tag));
    for (const { path, method, op } of ops) {
      const card = el("details", undefined, "docs-op");
      const summary = el("summary");
      summary.appendChild(el("code", method.toUpperCase(), "docs-method docs-" + method));
      summary.appendChild(el("code", " " + path + " "));
      summary.appendChild(el("span", op.summary));
      card.appendChild(summary);
      card.appendChild(el("p", "Credential: " + describeSecurity(op, doc)));
      if (op.parameters && op.parameters.length) {
        const list = el("ul");
        for (const p of op.parameters) list.appendChild(el("li", p.name + " (" + p.in + (p.required ? ", required" : "") + ")"));
        card.appendChild(el("p", "Parameters:"));
        card.appendChild(list);
      }
      if (op.requestBody) {
        card.appendChild(bodyLine("Body" + (op.requestBody.required ? "" : " (optional)"), op.requestBody.content));
      }
      for (const [code, r] of Object.entries(op.responses)) {
        const line = r.content ? bodyLine(code, r.content) : el("p", code + ": no body");
        if (r.description) line.appendChild(el("span", " — " + r.description));
        card.appendChild(line);
      }
      section.appendChild(card);
    }
    root.appendChild(section);
  }
}

fetch("/openapi.json")
  .then(r => r.json())
  .then(doc => {
    const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    document.getElementById("docs-status").textContent = doc.info.title + " " + doc.info.version + ": " + count + " operations.";
    render(doc);
    renderSchemas(doc);
  })
  .catch(e => { document.getElementById("docs-status").textContent = "Could not load /openapi.json: " + e; });
