// Types for browsers.mjs (plain JavaScript: build.mjs runs it without a compile step).
export function pageBrowsers(dir?: string): string[];
export function esbuildTargets(browsers: string[]): string[];
export const SUPPORTED: { destructuring: boolean };
export function findArrayRest(code: string): string[];
export const CSS_FALLBACKS: Record<string, string>;
export function cssFindings(css: string, browsers: string[], from?: string): Promise<{ feature: string; message: string }[]>;
