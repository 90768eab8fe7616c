/* Small DOM helpers shared by the modules that draw the page. */

export const $ = (sel, root = document) => root.querySelector(sel);

/** Set text only when it changed: the once-a-second refresh then touches almost no DOM. */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export function setData(node, key, value) {
  if (node && node.dataset[key] !== value) node.dataset[key] = value;
}

/** A new element of `tag` with `className`, appended to `parent` when given. */
export function el(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

/** The screen asks for less motion: counters jump, the ticker does not scroll. */
export const reduceMotion = window.matchMedia ? window.matchMedia('(prefers-reduced-motion: reduce)') : { matches: false };
