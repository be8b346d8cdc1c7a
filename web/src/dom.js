// Small DOM helpers. Every string from the API reaches the page through textContent or an
// attribute value, never as markup: the dashboard never has the browser parse HTML it built.

// Creates an element. `props`: class, text, and attributes (true: present, false/null: absent).
// Children are nodes or strings (strings become text nodes).
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === false || value == null) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child != null) node.append(child);
  }
  return node;
}

// Sets an element's text only when it changed, so an unchanged refresh touches nothing.
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function setAttr(node, name, value) {
  if (value === false || value == null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const text = value === true ? "" : String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

const variantOf = new WeakMap();
const classesOf = new WeakMap(); // variants -> {name -> [class], all: [class]}, split once

function splitVariants(variants) {
  let split = classesOf.get(variants);
  if (!split) {
    split = { byName: new Map(), all: new Set() };
    for (const [name, classes] of Object.entries(variants)) {
      const list = classes.split(" ").filter(Boolean);
      split.byName.set(name, list);
      for (const c of list) split.all.add(c);
    }
    classesOf.set(variants, split);
  }
  return split;
}

// Gives `node` the classes of one of `variants` (an object: name -> space-separated classes),
// removing those of the others. Nothing is touched when the variant did not change.
export function setVariant(node, variants, name) {
  let chosen = variantOf.get(node);
  if (!chosen) variantOf.set(node, (chosen = new Map()));
  const before = chosen.get(variants);
  if (before === name) return;
  chosen.set(variants, name);
  const split = splitVariants(variants);
  const wanted = split.byName.get(name) ?? [];
  // A node never given a variant may hold any of them (from the page's markup).
  const held = before === undefined ? split.all : split.byName.get(before) ?? [];
  for (const c of held) if (!wanted.includes(c)) node.classList.remove(c);
  for (const c of wanted) node.classList.add(c);
}

export function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

export function setWidthPercent(node, percent) {
  const width = `${percent.toFixed(1)}%`;
  if (node.style.width !== width) node.style.width = width;
}

// Makes the children of `container` the views of `items`, in order. Views are kept in `views`
// (a Map from key to a view: an object whose `root` is its element), created by `create(item)`
// the first time a key is seen, updated by `update(view, item)` on every call, and removed when
// their key is gone. Elements stay in place when the order does not change, so a refresh of 500
// nodes moves nothing and rewrites only the texts that changed.
export function reconcile(container, views, items, keyOf, create, update) {
  const keys = new Set();
  for (const item of items) keys.add(keyOf(item));
  for (const [key, view] of views) {
    if (!keys.has(key)) {
      view.root.remove();
      views.delete(key);
    }
  }
  let cursor = container.firstChild;
  for (const item of items) {
    const key = keyOf(item);
    let view = views.get(key);
    if (!view) {
      view = create(item);
      views.set(key, view);
    }
    update(view, item);
    if (view.root === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(view.root, cursor);
  }
}
