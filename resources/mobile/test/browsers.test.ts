// The page held to the specification's browsers without running them: the browserslist
// entry, the esbuild target made from it, the API lint and the CSS check, each shown to
// refuse what those browsers lack.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { CSS_FALLBACKS, cssFindings, esbuildTargets, findArrayRest, pageBrowsers } from "../browsers.mjs";

// dist-test/ sits in the page's folder.
const pageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

test("package.json lists exactly the specification's browsers (§11.1)", () => {
  const pkg = JSON.parse(readFileSync(join(pageDir, "package.json"), "utf8")) as { browserslist: string[] };
  assert.deepEqual(pkg.browserslist, ["Chrome >= 90", "Edge >= 90", "Firefox >= 88", "Safari >= 14.1", "ChromeAndroid >= 90", "iOS >= 14.3"]);
  const browsers = pageBrowsers(pageDir);
  for (const oldest of ["chrome 90", "edge 90", "firefox 88", "safari 14.1", "and_chr 90", "ios_saf 14.0-14.4"]) {
    assert.ok(browsers.includes(oldest), `${oldest} in ${browsers.join(", ")}`);
  }
  assert.ok(!browsers.includes("chrome 89") && !browsers.includes("safari 14") && !browsers.includes("firefox 87"));
});

test("esbuild's target is the oldest release of each engine", () => {
  assert.deepEqual(esbuildTargets(pageBrowsers(pageDir)), ["chrome90", "edge90", "firefox88", "ios14.0", "safari14.1"]);
  assert.deepEqual(esbuildTargets(["and_chr 95", "chrome 91", "ios_saf 15.2-15.3"]), ["chrome91", "ios15.2"]);
  assert.throws(() => esbuildTargets(["samsung 14.0"]), /no esbuild engine/);
  assert.throws(() => esbuildTargets(["op_mini all"]), /no esbuild engine/);
});

test("a bundle with an array rest pattern is found (iOS 14.3–14.4 gets it wrong)", () => {
  assert.deepEqual(findArrayRest("var x=[1,2];let [a,...r]=x;"), ["1:20"]);
  assert.deepEqual(findArrayRest("function f([a,...r]){return r}"), ["1:15"]);
  assert.deepEqual(findArrayRest("let [a,b]=[1,2];let {c,...d}={};f(...[a,b]);"), []);
  assert.throws(() => findArrayRest("let [a,"), /does not parse/);
});

async function lint(code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: pageDir });
  const [result] = await eslint.lintText(code, { filePath: join(pageDir, "src", "probe.ts") });
  assert.ok(result);
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

test("the API lint refuses what the listed browsers lack, unless guarded", async () => {
  const refused = await lint(
    [
      "export const copy = structuredClone({ a: 1 });",
      "export const lock = navigator.wakeLock.request('screen');",
      "export const last = [1, 2].at(-1);",
      "export const id = crypto.randomUUID();",
    ].join("\n"),
  );
  assert.equal(refused.length, 4, refused.join("\n"));
  assert.ok(refused.every((m) => m.startsWith("compat/compat: ")));
  assert.match(refused[1] ?? "", /navigator\.wakeLock\(\) is not supported in .*Safari 14\.1/);
  const guarded = await lint(
    [
      "const t: number = 1;",
      "if (navigator.wakeLock) void navigator.wakeLock.request('screen');",
      "export const pc = typeof RTCPeerConnection === 'undefined' ? null : new RTCPeerConnection();",
      "export const bytes = new TextEncoder().encode(String(t));",
    ].join("\n"),
  );
  assert.deepEqual(guarded, []);
});

test("the CSS check finds what the listed browsers lack; page.css has a fallback for each", async () => {
  const browsers = pageBrowsers(pageDir);
  const probe = await cssFindings("a{inset:0}b{backdrop-filter:blur(2px)}", browsers);
  const features = probe.map((f) => f.feature);
  assert.deepEqual(features.sort(), ["css-backdrop-filter", "css-logical-props"]);
  assert.ok(features.every((f) => !(f in CSS_FALLBACKS)));
  const page = await cssFindings(readFileSync(join(pageDir, "src", "page.css"), "utf8"), browsers);
  assert.ok(page.some((f) => f.feature === "flexbox-gap"));
  assert.deepEqual(page.filter((f) => !(f.feature in CSS_FALLBACKS)), []);
});
