// Only one rule: every web API the page calls must exist in every browser of the
// "browserslist" entry in package.json (the specification's list), or sit behind a guard
// (`if (X)`, `typeof X`) with a fallback. Syntax is esbuild's job (build.mjs).
import tsParser from "@typescript-eslint/parser";
import compat from "eslint-plugin-compat";

export default [
  {
    files: ["src/**/*.ts"],
    languageOptions: { parser: tsParser, ecmaVersion: "latest", sourceType: "module" },
    plugins: { compat },
    settings: {
      // Mobile Chrome versions are only listed as the newest one unless browserslist maps
      // them to the desktop versions they share an engine with.
      browserslistOpts: { mobileToDesktop: true },
    },
    rules: { "compat/compat": "error" },
  },
];
