// Fallbacks for what some of the page's browsers (package.json "browserslist") lack, set
// up before the first screen. browsers.mjs lists each CSS feature and its fallback; the
// APIs are checked by eslint-plugin-compat (eslint.config.mjs) and guarded where they are used.

/** Flex `gap` came with Safari 14.1 and iOS 14.5; iOS 14.3–14.4 ignores it. Measured, as
 * `CSS.supports("gap", …)` answers for grid and is true there too. */
export function flexGapMissing(doc: Document = document): boolean {
  const probe = doc.createElement("div");
  probe.style.cssText = "display:flex;flex-direction:column;row-gap:1px;position:absolute;visibility:hidden";
  probe.append(doc.createElement("div"), doc.createElement("div"));
  doc.body.append(probe);
  const missing = probe.scrollHeight !== 1;
  probe.remove();
  return missing;
}

/** Marks <html> for page.css: `no-flex-gap` spaces the items with margins instead. */
export function applyFallbacks(doc: Document = document): void {
  doc.documentElement.classList.toggle("no-flex-gap", flexGapMissing(doc));
}
