// Builds the page into dist/ (index.html + hashed app-*.js and page-*.css), or with
// --tests the unit tests into dist-test/ for node's built-in test runner.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { brotliCompressSync, gzipSync, constants as z } from "node:zlib";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { esbuildTargets, findArrayRest, pageBrowsers, SUPPORTED } from "./browsers.mjs";

const here = dirname(fileURLToPath(import.meta.url));

// The shared protocol files (resources/protocol) explain themselves in "description" and
// "why" fields; the page needs their facts, not the prose, so the prose stays out of the
// bundle. Only these files: messages.schema.json has a property named "description".
const PROSE = new Set(["description", "why"]);
const factsWithoutProse = {
  name: "facts-without-prose",
  setup(b) {
    b.onLoad({ filter: /[\\/]protocol[\\/](handshake|timers|scan-confirmation)\.json$/ }, (args) => ({
      contents: JSON.stringify(JSON.parse(readFileSync(args.path, "utf8")), (k, v) => (PROSE.has(k) ? undefined : v)),
      loader: "json",
    }));
  },
};
// From package.json's "browserslist" (the specification's browsers), oldest of each engine.
const targets = esbuildTargets(pageBrowsers());

async function buildPage() {
  const out = join(here, "dist");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await build({
    entryPoints: [join(here, "src/main.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: targets,
    supported: SUPPORTED,
    write: false,
    legalComments: "none",
    metafile: true,
    plugins: [factsWithoutProse],
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const js = result.outputFiles[0].contents;
  const arrayRest = findArrayRest(new TextDecoder().decode(js));
  if (arrayRest.length > 0) {
    throw new Error(`the bundle has array rest patterns, which iOS 14.3–14.4 gets wrong (browsers.mjs), at ${arrayRest.join(", ")}`);
  }
  const css = (await build({ entryPoints: [join(here, "src/page.css")], bundle: true, minify: true, write: false, target: targets })).outputFiles[0].contents;
  const hash = (data) => createHash("sha256").update(data).digest("hex").slice(0, 10);
  const jsName = `app-${hash(js)}.js`;
  const cssName = `page-${hash(css)}.css`;
  for (const [name, data] of [[jsName, js], [cssName, css]]) {
    writeFileSync(join(out, name), data);
    // Precompressed copies: the page server sends them to clients that accept them.
    writeFileSync(join(out, `${name}.gz`), gzipSync(data, { level: 9 }));
    writeFileSync(join(out, `${name}.br`), brotliCompressSync(data, { params: { [z.BROTLI_PARAM_QUALITY]: 11 } }));
  }
  const html = readFileSync(join(here, "src/index.html"), "utf8").replace("__JS__", jsName).replace("__CSS__", cssName);
  writeFileSync(join(out, "index.html"), html);
  const sizes = readdirSync(out).map((f) => `${f} ${readFileSync(join(out, f)).length} B`);
  console.log(`built ${out} for ${targets.join(", ")}: ${sizes.join(", ")}`);
}

async function buildTests() {
  const out = join(here, "dist-test");
  rmSync(out, { recursive: true, force: true });
  const entries = readdirSync(join(here, "test")).filter((f) => f.endsWith(".test.ts")).map((f) => join(here, "test", f));
  await build({
    entryPoints: entries,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outdir: out,
    outExtension: { ".js": ".mjs" },
    // The build's own tools (test/browsers.test.ts) load from node_modules at run time.
    external: ["browserslist", "doiuse", "eslint", "postcss"],
    logLevel: "warning",
  });
}

if (process.argv.includes("--tests")) await buildTests();
else await buildPage();
