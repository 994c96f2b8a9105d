// The page's browsers: the "browserslist" entry in package.json (the specification's list)
// turned into esbuild's target, and the checks for what esbuild cannot do for them.
// build.mjs uses it; `node browsers.mjs --check-css` (in `npm test`) checks the page's CSS.
import browserslist from "browserslist";
import doiuse from "doiuse";
import { Linter } from "eslint";
import postcss from "postcss";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The browsers of package.json's "browserslist", one "name version" per release. */
export function pageBrowsers(dir = here) {
  // Mobile Chrome is otherwise listed as its newest release only; mapped to the desktop
  // releases it shares an engine with, "ChromeAndroid >= 90" means Chrome 90 and later.
  return browserslist(undefined, { path: dir, mobileToDesktop: true });
}

// browserslist's names to esbuild's engines. A name missing here fails the build rather
// than be left out of the target.
const ENGINE = { chrome: "chrome", and_chr: "chrome", edge: "edge", firefox: "firefox", safari: "safari", ios_saf: "ios" };

const older = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  }
  return false;
};

/** esbuild's target: the oldest release of each engine, e.g. ["chrome90", "ios14.0"]. */
export function esbuildTargets(browsers) {
  const oldest = new Map();
  for (const entry of browsers) {
    const [name, version = ""] = entry.split(" ");
    const engine = ENGINE[name];
    if (engine === undefined) throw new Error(`browserslist names "${entry}", which has no esbuild engine in browsers.mjs`);
    const first = version.split("-")[0]; // "14.0-14.4": a range of releases, from its first
    if (!/^\d+(\.\d+)*$/.test(first)) throw new Error(`browserslist names "${entry}", whose version esbuild cannot take`);
    if (!oldest.has(engine) || older(first, oldest.get(engine))) oldest.set(engine, first);
  }
  return [...oldest].map(([engine, version]) => `${engine}${version}`).sort();
}

// esbuild refuses to build destructuring for Safari before 14.1 and iOS before 14.5 (it
// cannot lower it): WebKit there gets one pattern wrong, an array rest element
// (`[a, ...rest] = x` leaves `rest` a non-array; Safari 9–13.1, 14.0 unverified). The build
// keeps destructuring for those targets, and findArrayRest() refuses a bundle that has that
// pattern, so iOS 14.3 and 14.4 run the same script as every other browser.
export const SUPPORTED = { destructuring: true };

/** Where `code` (a script) has an array rest element: "line:column" each. */
export function findArrayRest(code) {
  const messages = new Linter().verify(code, {
    languageOptions: { ecmaVersion: "latest", sourceType: "script" },
    rules: { "no-restricted-syntax": ["error", "ArrayPattern > RestElement"] },
  });
  const broken = messages.find((m) => m.fatal);
  if (broken) throw new Error(`the bundle does not parse: ${broken.message}`);
  return messages.map((m) => `${m.line}:${m.column}`);
}

// CSS features some listed browser lacks, each with what the page does about it. A feature
// found and not listed here fails `npm test`.
export const CSS_FALLBACKS = {
  "css-overflow": "only `overflow: hidden` is used, which every listed browser has (partial support is about other values)",
  "css-overscroll-behavior": "ignored where missing: the page never scrolls (overflow hidden), so nothing bounces anyway",
  "viewport-unit-variants": "`height: 100vh` comes first; browsers without `dvh` keep it",
  "flexbox-gap": "iOS 14.0–14.4: fallbacks.ts finds no flex gap and marks <html class=no-flex-gap>; page.css spaces with margins there",
};

/** The CSS features of `css` that some browser in `browsers` lacks: [{feature, message}]. */
export async function cssFindings(css, browsers, from = "page.css") {
  const found = [];
  await postcss([doiuse({ browsers, onFeatureUsage: (u) => found.push({ feature: u.feature, message: u.message }) })]).process(css, { from });
  return found;
}

async function checkCss() {
  const file = join(here, "src/page.css");
  const found = await cssFindings(readFileSync(file, "utf8"), pageBrowsers(), file);
  const unhandled = found.filter((f) => !(f.feature in CSS_FALLBACKS));
  for (const f of found) console.log(`${f.feature in CSS_FALLBACKS ? "handled" : "MISSING"}: ${f.message}`);
  if (unhandled.length > 0) {
    console.error(`${unhandled.length} CSS feature(s) lack a fallback for the page's browsers: add one and list it in CSS_FALLBACKS (browsers.mjs)`);
    process.exit(1);
  }
  console.log(`page.css: ${found.length} feature use(s) some listed browser lacks, all handled`);
}

if (process.argv.includes("--check-css")) await checkCss();
