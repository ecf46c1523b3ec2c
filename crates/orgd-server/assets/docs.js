// Renders /openapi.json as a list of operations grouped by tag. No framework, no network beyond this server.
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
      if (op.requestBody) card.appendChild(el("p", "Body: " + Object.keys(op.requestBody.content).join(" or ")));
      const codes = Object.entries(op.responses).map(([code, r]) => code + " " + (r.description || "")).join("; ");
      card.appendChild(el("p", "Responses: " + codes));
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
  })
  .catch(e => { document.getElementById("docs-status").textContent = "Could not load /openapi.json: " + e; });
