// Bundles the console into one script and one stylesheet: `npm run bundle`, or build.rs,
// which sets ROSTER_CONSOLE_OUT to its OUT_DIR. Deterministic: no timestamps, no hashes
// in names, so the same sources give the same bytes.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const out = process.env.ROSTER_CONSOLE_OUT || "dist";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  outfile: join(out, "console.js"),
  logLevel: "warning",
});
copyFileSync("src/style.css", join(out, "console.css"));
